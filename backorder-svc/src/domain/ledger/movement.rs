//! Money movements as callers ask for them, before the store turns them into journal entries.

use super::{LedgerAccountKind, TransferKind};
use crate::domain::account::AccountId;
use crate::domain::money::Money;

/// Who pays an auction price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payer {
    /// From the winner's balance.
    Client(AccountId),
    /// Paid outside the platform and confirmed by the operator.
    Outside,
}

/// One requested money movement. Amounts are validated positive at the edge, except the
/// signed adjustment, which is validated non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Movement {
    Deposit {
        account: AccountId,
        amount: Money,
    },
    Withdrawal {
        account: AccountId,
        amount: Money,
    },
    /// Positive credits the client, negative debits it.
    Adjustment {
        account: AccountId,
        amount: Money,
    },
    Hold {
        account: AccountId,
        amount: Money,
        backorder_id: Option<i64>,
    },
    /// Post a hold; `amount` None captures it in full.
    Capture {
        hold_id: i64,
        amount: Option<Money>,
    },
    Release {
        hold_id: i64,
    },
    AuctionPayment {
        payer: Payer,
        amount: Money,
        backorder_id: Option<i64>,
    },
}

/// One side of a journal entry before it is resolved to a ledger account row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Client(AccountId),
    /// A book account in the movement's currency.
    Book(LedgerAccountKind),
}

impl Movement {
    pub fn kind(&self) -> TransferKind {
        match self {
            Self::Deposit { .. } => TransferKind::Deposit,
            Self::Withdrawal { .. } => TransferKind::Withdrawal,
            Self::Adjustment { .. } => TransferKind::Adjustment,
            Self::Hold { .. } => TransferKind::Hold,
            Self::Capture { .. } => TransferKind::Capture,
            Self::Release { .. } => TransferKind::Release,
            Self::AuctionPayment { .. } => TransferKind::AuctionPayment,
        }
    }

    /// Debit party, credit party and the (non-negative) amount, for movements that do not
    /// resolve a hold. Captures and releases take all three from their hold.
    pub fn parties(&self) -> Option<(Party, Party, Money)> {
        use LedgerAccountKind::{AuctionProceeds, Cash, Revenue};
        Some(match *self {
            Self::Deposit { account, amount } => {
                (Party::Book(Cash), Party::Client(account), amount)
            }
            Self::Withdrawal { account, amount } => {
                (Party::Client(account), Party::Book(Cash), amount)
            }
            Self::Adjustment { account, amount } if amount.minor >= 0 => {
                (Party::Book(Cash), Party::Client(account), amount)
            }
            Self::Adjustment { account, amount } => (
                Party::Client(account),
                Party::Book(Cash),
                Money::new(amount.currency, -amount.minor),
            ),
            Self::Hold {
                account, amount, ..
            } => (Party::Client(account), Party::Book(Revenue), amount),
            Self::AuctionPayment { payer, amount, .. } => {
                let from = match payer {
                    Payer::Client(account) => Party::Client(account),
                    Payer::Outside => Party::Book(Cash),
                };
                (from, Party::Book(AuctionProceeds), amount)
            }
            Self::Capture { .. } | Self::Release { .. } => return None,
        })
    }

    pub fn backorder_id(&self) -> Option<i64> {
        match self {
            Self::Hold { backorder_id, .. } | Self::AuctionPayment { backorder_id, .. } => {
                *backorder_id
            }
            _ => None,
        }
    }

    /// A canonical text of the request, stored with its id: the same id with a different
    /// fingerprint is a different request.
    pub fn fingerprint(&self, memo: &str) -> String {
        let money = |m: &Money| format!("{}:{}", m.currency.code(), m.minor);
        let body = match self {
            Self::Deposit { account, amount } => format!("deposit|{account}|{}", money(amount)),
            Self::Withdrawal { account, amount } => {
                format!("withdrawal|{account}|{}", money(amount))
            }
            Self::Adjustment { account, amount } => {
                format!("adjustment|{account}|{}", money(amount))
            }
            Self::Hold {
                account,
                amount,
                backorder_id,
            } => format!("hold|{account}|{}|{backorder_id:?}", money(amount)),
            Self::Capture { hold_id, amount } => {
                format!("capture|{hold_id}|{:?}", amount.as_ref().map(money))
            }
            Self::Release { hold_id } => format!("release|{hold_id}"),
            Self::AuctionPayment {
                payer,
                amount,
                backorder_id,
            } => format!(
                "auction_payment|{payer:?}|{}|{backorder_id:?}",
                money(amount)
            ),
        };
        format!("{body}|memo={memo}")
    }
}

/// A movement with its idempotency key and provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovementRequest {
    /// The caller's namespace for request ids ("operator", "account:42", "scheduler").
    pub scope: String,
    /// Chosen by the caller, or derived by the scheduler from order id and step.
    pub request_id: String,
    pub movement: Movement,
    pub memo: String,
    /// Audit actor: which key or job asked for it.
    pub actor: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    #[test]
    fn negative_adjustments_debit_the_client() {
        let usd = Currency::parse("USD").unwrap();
        let movement = Movement::Adjustment {
            account: AccountId(1),
            amount: Money::new(usd, -250),
        };
        let (debit, credit, amount) = movement.parties().unwrap();
        assert_eq!(debit, Party::Client(AccountId(1)));
        assert_eq!(credit, Party::Book(LedgerAccountKind::Cash));
        assert_eq!(amount.minor, 250);
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let usd = Currency::parse("USD").unwrap();
        let a = Movement::Deposit {
            account: AccountId(1),
            amount: Money::new(usd, 100),
        };
        let b = Movement::Deposit {
            account: AccountId(1),
            amount: Money::new(usd, 101),
        };
        assert_ne!(a.fingerprint(""), b.fingerprint(""));
        assert_ne!(a.fingerprint("x"), a.fingerprint("y"));
        assert_eq!(a.fingerprint("x"), a.clone().fingerprint("x"));
    }
}
