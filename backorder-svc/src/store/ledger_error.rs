//! Why the store refused a money movement.

use super::StoreError;
use crate::domain::account::AccountId;

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
    Store(#[from] StoreError),
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
