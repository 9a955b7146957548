//! The one error of the use-case layer, transport-free: each adapter maps it once (gRPC to
//! status codes in `api/error.rs`, the command API to its response codes). The errors of the
//! layers below (store, ledger, orders, placement, auctions) become one of these here.
//! Messages are one English line; an `Invalid` names its field and rule.

use crate::domain::auction::BidError;
use crate::domain::money::{MAX_AMOUNT_MINOR, MAX_COUNTER_MINOR, MoneyError};
use crate::domain::truncate;
use crate::ledger::LedgerError;
use crate::lifecycle::placement::PlacementError;
use crate::store::StoreError;
use crate::store::auctions::AuctionError;
use crate::store::orders::OrderError;

/// Longest field name and rule (bytes) of an `Invalid` or `AlreadyExists`, and of a whole
/// message once an adapter renders it. Clients built on the gRPC C core refuse trailers over
/// 16 KiB; an error message is one short line.
pub const MAX_FIELD_BYTES: usize = 64;
pub const MAX_RULE_BYTES: usize = 180;
pub const MAX_MESSAGE_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UseCaseError {
    /// Bad input: gRPC INVALID_ARGUMENT.
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },
    /// No such object: NOT_FOUND.
    #[error("{0}")]
    NotFound(String),
    /// An object of another account. Adapters answer as for an absent one (same message):
    /// its existence is not the caller's to learn.
    #[error("{0}")]
    NotYours(String),
    /// A request id reused for another request, or a duplicate: ALREADY_EXISTS.
    #[error("{field}: {rule}")]
    AlreadyExists { field: String, rule: String },
    /// The object's status forbids the action: FAILED_PRECONDITION.
    #[error("{0}")]
    WrongStatus(String),
    /// Not enough available funds: FAILED_PRECONDITION.
    #[error("{0}")]
    FundsShort(String),
    /// Any other precondition (finalization passed, suspended or closed account, manual
    /// clock needed...): FAILED_PRECONDITION.
    #[error("{0}")]
    Refused(String),
    /// The caller may not do this (another account named, operator-only, read-only login).
    #[error("{0}")]
    PermissionDenied(String),
    /// A dependency is out of reach or the database is busy: retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of ours (logged).
    #[error("{0}")]
    Internal(String),
}

pub type UseCaseResult<T> = Result<T, UseCaseError>;

impl UseCaseError {
    /// A bad argument. The field name and the rule are cut to `MAX_FIELD_BYTES` and
    /// `MAX_RULE_BYTES`, so whatever value a rule quotes, the message stays short (rules
    /// quote values with `domain::quote`: 64 characters and the length).
    pub fn invalid(field: &str, rule: impl Into<String>) -> Self {
        Self::Invalid {
            field: truncate(field, MAX_FIELD_BYTES),
            rule: truncate(&rule.into(), MAX_RULE_BYTES),
        }
    }

    pub fn money(field: &str, error: MoneyError) -> Self {
        Self::invalid(field, error.to_string())
    }

    /// A request id used before for a different request.
    pub fn request_id_reused(rule: impl Into<String>) -> Self {
        Self::AlreadyExists {
            field: "request_id".into(),
            rule: truncate(&rule.into(), MAX_RULE_BYTES),
        }
    }

    /// The message an adapter sends, cut to `MAX_MESSAGE_BYTES`.
    pub fn message(&self) -> String {
        truncate(&self.to_string(), MAX_MESSAGE_BYTES)
    }
}

impl From<StoreError> for UseCaseError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                tracing::warn!(%error, "database unavailable");
                Self::Unavailable("the database is unavailable; retry later".into())
            }
            // Still contended after the store's own retries: the same request may be retried.
            _ if error.is_transient() => {
                tracing::warn!(%error, "transaction contended after retries");
                Self::Unavailable(
                    "the database is busy (lock contention); retry later with the same request_id"
                        .into(),
                )
            }
            _ if error.is_out_of_range() => {
                tracing::warn!(%error, "number out of the database's range");
                Self::invalid(
                    "amount",
                    format!(
                        "is out of range: amounts are at most {MAX_AMOUNT_MINOR} minor units and \
                         no account's counters may pass {MAX_COUNTER_MINOR}"
                    ),
                )
            }
            _ => {
                tracing::error!(%error, "storage failure");
                Self::Internal("internal storage error (logged)".into())
            }
        }
    }
}

impl From<LedgerError> for UseCaseError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::AccountNotFound(id) => Self::NotFound(format!("account {id} not found")),
            LedgerError::HoldNotFound(id) => Self::NotFound(format!("hold {id} not found")),
            LedgerError::CurrencyMismatch { .. } | LedgerError::CaptureExceedsHold { .. } => {
                Self::invalid("amount", strip_field(&error.to_string(), "amount"))
            }
            LedgerError::IdempotencyConflict(_) => {
                Self::request_id_reused(strip_field(&error.to_string(), "request_id"))
            }
            LedgerError::AmountTooLarge { .. } => {
                Self::invalid("amount", strip_field(&error.to_string(), "amount"))
            }
            LedgerError::InsufficientFunds { .. } => Self::FundsShort(error.to_string()),
            LedgerError::HoldAlreadyResolved(_) => Self::WrongStatus(error.to_string()),
            LedgerError::CounterLimit { .. } | LedgerError::AccountClosed(_) => {
                Self::Refused(error.to_string())
            }
            LedgerError::Store(store) => store.into(),
        }
    }
}

impl From<PlacementError> for UseCaseError {
    fn from(error: PlacementError) -> Self {
        match error {
            PlacementError::Invalid { field, rule } => Self::invalid(field, rule),
            PlacementError::Refused(message) => Self::Refused(message),
            PlacementError::Store(store) => store.into(),
        }
    }
}

impl From<OrderError> for UseCaseError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound(id) => Self::NotFound(format!("backorder {id} not found")),
            OrderError::IdempotencyConflict(_) => {
                Self::request_id_reused(strip_field(&error.to_string(), "request_id"))
            }
            OrderError::NotOpen { .. } => Self::WrongStatus(error.to_string()),
            OrderError::FinalizationPassed { .. } | OrderError::DailyDealClosed { .. } => {
                Self::Refused(error.to_string())
            }
            OrderError::NotAllowed { .. } => Self::Internal(error.to_string()),
            OrderError::Ledger(ledger) => ledger.into(),
            OrderError::Store(store) => store.into(),
        }
    }
}

impl From<AuctionError> for UseCaseError {
    fn from(error: AuctionError) -> Self {
        match error {
            AuctionError::NotFound(_) | AuctionError::NotASeat { .. } => {
                Self::NotFound(error.to_string())
            }
            AuctionError::CurrencyMismatch { .. } => Self::invalid(
                "maximum.currency_code",
                strip_field(&error.to_string(), "maximum"),
            ),
            AuctionError::Bid(bid) => bid.into(),
            AuctionError::SeatDefaulted(_) | AuctionError::NotAwaitingPayment { .. } => {
                Self::WrongStatus(error.to_string())
            }
            AuctionError::PaymentCurrency { .. } => Self::Refused(error.to_string()),
            AuctionError::IdempotencyConflict(_) => {
                Self::request_id_reused(strip_field(&error.to_string(), "request_id"))
            }
            AuctionError::Ledger(ledger) => ledger.into(),
            AuctionError::Order(order) => order.into(),
            AuctionError::Store(store) => store.into(),
        }
    }
}

/// Bids too low are bad input; bids at the wrong time (or from no seat) are a precondition.
impl From<BidError> for UseCaseError {
    fn from(error: BidError) -> Self {
        match error {
            BidError::BelowMinimum { .. } | BidError::NotAboveOwnMaximum { .. } => {
                Self::invalid("maximum", error.to_string())
            }
            BidError::NotOpen { .. } | BidError::Ended { .. } => {
                Self::WrongStatus(error.to_string())
            }
            BidError::NotASeat { .. } => Self::Refused(error.to_string()),
        }
    }
}

/// "amount: rule" -> "rule", so the field is named once in the final message.
fn strip_field(message: &str, field: &str) -> String {
    message
        .strip_prefix(field)
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(message)
        .to_string()
}
