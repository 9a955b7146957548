//! The ledger's rules (spec/ledger.md): what each kind of transfer does to the four counters,
//! which requests are the same request, and the invariants. The store applies a movement in
//! one database transaction; everything here is pure so it can be checked in isolation and
//! reused to replay the journal.

pub mod invariants;
mod movement;

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

/// Why a money movement was refused. Only `InsufficientFunds` is remembered under the
/// request id (spec/ledger.md: a retry must not change the outcome); the others change nothing
/// and may be retried once corrected.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("account {0} does not exist")]
    AccountNotFound(AccountId),
    #[error("account {0} is closed")]
    AccountClosed(AccountId),
    #[error("amount: must be in the account's currency {expected}, got {got}")]
    CurrencyMismatch { expected: String, got: String },
    #[error("funds short: {needed} needed, {available} available")]
    InsufficientFunds { needed: String, available: String },
    #[error("amount: must be at most {max}, got {amount}")]
    AmountTooLarge { amount: String, max: String },
    /// The movement would take a counter of `account` past `MAX_COUNTER_MINOR`.
    #[error(
        "amount: {amount} would take the counters of ledger account {account} past their limit \
         of {limit} (docs/ledger.md, \"Amount bounds\")"
    )]
    CounterLimit {
        account: String,
        amount: String,
        limit: String,
    },
    #[error("hold {0} does not exist")]
    HoldNotFound(i64),
    #[error("hold {0} is already resolved (captured or released)")]
    HoldAlreadyResolved(i64),
    #[error("amount: the capture ({capture}) exceeds the hold ({hold})")]
    CaptureExceedsHold { capture: String, hold: String },
    #[error("request_id: {0:?} was already used for a different request")]
    IdempotencyConflict(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl LedgerError {
    /// The stable code stored with a remembered failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AccountNotFound(_) => "account_not_found",
            Self::AccountClosed(_) => "account_closed",
            Self::CurrencyMismatch { .. } => "currency_mismatch",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::AmountTooLarge { .. } => "amount_too_large",
            Self::CounterLimit { .. } => "counter_limit",
            Self::HoldNotFound(_) => "hold_not_found",
            Self::HoldAlreadyResolved(_) => "hold_already_resolved",
            Self::CaptureExceedsHold { .. } => "capture_exceeds_hold",
            Self::IdempotencyConflict(_) => "idempotency_conflict",
            Self::Store(_) => "storage",
        }
    }

    /// Whether the outcome is final for its request id.
    pub fn is_remembered(&self) -> bool {
        matches!(self, Self::InsufficientFunds { .. })
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
