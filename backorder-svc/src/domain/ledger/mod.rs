//! The ledger's pure values and rules (spec/ledger.md): transfer kinds, what each does to the
//! four counters, movements as callers ask for them, which requests are the same request, and
//! the snapshot the invariants are checked on. The store applies a movement in one database
//! transaction; everything here is pure so it can be checked in isolation and reused to
//! replay the journal. The invariant checks are in `crate::ledger`.

mod movement;
pub mod snapshot;

pub use movement::{Movement, MovementRequest, Party, Payer};

use crate::domain::account::AccountId;
use crate::domain::money::{Currency, Money};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferKind {
    Deposit,
    Withdrawal,
    Adjustment,
    Hold,
    Capture,
    Release,
    AuctionPayment,
}

impl TransferKind {
    pub const ALL: [Self; 7] = [
        Self::Deposit,
        Self::Withdrawal,
        Self::Adjustment,
        Self::Hold,
        Self::Capture,
        Self::Release,
        Self::AuctionPayment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Withdrawal => "withdrawal",
            Self::Adjustment => "adjustment",
            Self::Hold => "hold",
            Self::Capture => "capture",
            Self::Release => "release",
            Self::AuctionPayment => "auction_payment",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// The operator's book accounts, one of each per currency, and client accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LedgerAccountKind {
    Client,
    Cash,
    Revenue,
    AuctionProceeds,
}

impl LedgerAccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Cash => "cash",
            Self::Revenue => "revenue",
            Self::AuctionProceeds => "auction_proceeds",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        [
            Self::Client,
            Self::Cash,
            Self::Revenue,
            Self::AuctionProceeds,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    /// Name of a book account: "cash:USD".
    pub fn book_name(self, currency: Currency) -> String {
        format!("{}:{}", self.as_str(), currency.code())
    }
}

/// Name of a client's ledger account: "client:42".
pub fn client_ledger_name(account: AccountId) -> String {
    format!("client:{account}")
}

/// A hold's state, derived from whether a capture or release points at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    Pending,
    Posted,
    Voided,
}

/// A journal entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: i64,
    pub kind: TransferKind,
    pub debit_account: String,
    pub credit_account: String,
    pub amount: Money,
    pub pending_id: Option<i64>,
    /// Holds only.
    pub hold_state: Option<HoldState>,
    pub backorder_id: Option<i64>,
    pub request_id: Option<String>,
    pub memo: String,
    pub created_at: DateTime<Utc>,
}

/// The four counters of one ledger account, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

impl Counters {
    pub fn balance(&self) -> i64 {
        self.credits_posted - self.debits_posted
    }

    pub fn available(&self) -> i64 {
        self.balance() - self.debits_pending
    }
}

/// What one journal entry does to the counters of its two accounts. `hold_amount` is the
/// amount of the hold a capture or release resolves.
pub fn counter_effects(kind: TransferKind, amount: i64, hold_amount: i64) -> (Counters, Counters) {
    match kind {
        TransferKind::Hold => (
            Counters {
                debits_pending: amount,
                ..Counters::default()
            },
            Counters {
                credits_pending: amount,
                ..Counters::default()
            },
        ),
        // Posting a hold in full or in part: the whole pending amount goes, `amount` posts,
        // and the rest is released with it.
        TransferKind::Capture => (
            Counters {
                debits_pending: -hold_amount,
                debits_posted: amount,
                ..Counters::default()
            },
            Counters {
                credits_pending: -hold_amount,
                credits_posted: amount,
                ..Counters::default()
            },
        ),
        TransferKind::Release => (
            Counters {
                debits_pending: -hold_amount,
                ..Counters::default()
            },
            Counters {
                credits_pending: -hold_amount,
                ..Counters::default()
            },
        ),
        TransferKind::Deposit
        | TransferKind::Withdrawal
        | TransferKind::Adjustment
        | TransferKind::AuctionPayment => (
            Counters {
                debits_posted: amount,
                ..Counters::default()
            },
            Counters {
                credits_posted: amount,
                ..Counters::default()
            },
        ),
    }
}

/// A client's balance view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceView {
    pub account: AccountId,
    pub balance: Money,
    pub reserved: Money,
    pub available: Money,
}

impl BalanceView {
    pub fn from_counters(account: AccountId, currency: Currency, counters: Counters) -> Self {
        Self {
            account,
            balance: Money::new(currency, counters.balance()),
            reserved: Money::new(currency, counters.debits_pending),
            available: Money::new(currency, counters.available()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_in_part_releases_the_rest() {
        let (debit, credit) = counter_effects(TransferKind::Capture, 700, 1000);
        assert_eq!(debit.debits_pending, -1000);
        assert_eq!(debit.debits_posted, 700);
        assert_eq!(credit.credits_pending, -1000);
        assert_eq!(credit.credits_posted, 700);
    }

    #[test]
    fn every_kind_moves_as_much_debit_as_credit() {
        for kind in TransferKind::ALL {
            let (debit, credit) = counter_effects(kind, 300, 500);
            assert_eq!(debit.debits_pending, credit.credits_pending, "{kind:?}");
            assert_eq!(debit.debits_posted, credit.credits_posted, "{kind:?}");
            assert_eq!(debit.credits_posted + debit.credits_pending, 0);
            assert_eq!(credit.debits_posted + credit.debits_pending, 0);
        }
    }
}
