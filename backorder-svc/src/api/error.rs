//! The one place where errors of the layers below become gRPC statuses. Messages are one
//! English line naming the field and the rule; field violations also go into the standard
//! `BadRequest` details.

use crate::auth::AuthError;
use crate::domain::money::{MAX_AMOUNT_MINOR, MAX_COUNTER_MINOR, MoneyError};
use crate::domain::truncate;
use crate::ledger::LedgerError;
use crate::store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {rule}")]
    InvalidArgument { field: String, rule: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{field}: {rule}")]
    AlreadyExists { field: String, rule: String },
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A bad argument. The field name and the rule are cut to `MAX_FIELD_BYTES` and
    /// `MAX_RULE_BYTES`, so whatever value a rule quotes, the message and its `BadRequest`
    /// details stay short (rules quote values with `domain::quote`: 64 characters and the
    /// length).
    pub fn invalid(field: &str, rule: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: truncate(field, MAX_FIELD_BYTES),
            rule: truncate(&rule.into(), MAX_RULE_BYTES),
        }
    }

    pub fn money(field: &str, error: MoneyError) -> Self {
        Self::invalid(field, error.to_string())
    }
}

/// Longest field name, rule and whole status message (bytes). gRPC clients built on the C
/// core refuse trailers over 16 KiB; an error message is one short line.
pub const MAX_FIELD_BYTES: usize = 64;
pub const MAX_RULE_BYTES: usize = 180;
pub const MAX_MESSAGE_BYTES: usize = 256;

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let message = truncate(&error.to_string(), MAX_MESSAGE_BYTES);
        match error {
            ApiError::InvalidArgument { field, rule } => Status::with_error_details(
                Code::InvalidArgument,
                message,
                ErrorDetails::with_bad_request_violation(field, rule),
            ),
            ApiError::AlreadyExists { field, rule } => Status::with_error_details(
                Code::AlreadyExists,
                message,
                ErrorDetails::with_bad_request_violation(
                    truncate(&field, MAX_FIELD_BYTES),
                    truncate(&rule, MAX_RULE_BYTES),
                ),
            ),
            ApiError::NotFound(_) => Status::not_found(message),
            ApiError::FailedPrecondition(_) => Status::failed_precondition(message),
            ApiError::PermissionDenied(_) => Status::permission_denied(message),
            ApiError::Unauthenticated(_) => Status::unauthenticated(message),
            ApiError::Unimplemented(_) => Status::unimplemented(message),
            ApiError::Unavailable(_) => Status::unavailable(message),
            ApiError::Internal(_) => Status::internal(message),
        }
    }
}

impl From<StoreError> for ApiError {
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

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::AccountNotFound(id) => Self::NotFound(format!("account {id} not found")),
            LedgerError::HoldNotFound(id) => Self::NotFound(format!("hold {id} not found")),
            LedgerError::CurrencyMismatch { .. } | LedgerError::CaptureExceedsHold { .. } => {
                Self::invalid("amount", strip_field(&error.to_string(), "amount"))
            }
            LedgerError::IdempotencyConflict(_) => Self::AlreadyExists {
                field: "request_id".into(),
                rule: strip_field(&error.to_string(), "request_id"),
            },
            LedgerError::AmountTooLarge { .. } => {
                Self::invalid("amount", strip_field(&error.to_string(), "amount"))
            }
            LedgerError::InsufficientFunds { .. }
            | LedgerError::CounterLimit { .. }
            | LedgerError::AccountClosed(_)
            | LedgerError::HoldAlreadyResolved(_) => Self::FailedPrecondition(error.to_string()),
            LedgerError::Store(store) => store.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Store(store) => store.into(),
            other => Self::Unauthenticated(other.to_string()),
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

pub type ApiResult<T> = Result<T, ApiError>;
