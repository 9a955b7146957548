//! The one place where errors become gRPC statuses: the adapter's own (parsing,
//! authentication) as `ApiError`, the use cases' `UseCaseError` mapped once into it. Messages
//! are one English line naming the field and the rule; field violations also go into the
//! standard `BadRequest` details.

use crate::auth::AuthError;
use crate::domain::money::MoneyError;
use crate::domain::truncate;
use crate::usecases::UseCaseError;
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

/// Longest field name, rule and whole status message (bytes): the use cases' limits.
pub use crate::usecases::error::{MAX_FIELD_BYTES, MAX_MESSAGE_BYTES, MAX_RULE_BYTES};

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

/// The use cases' errors as gRPC sees them. An object of another account answers exactly as
/// an absent one (NOT_FOUND, same message); the three kinds of refused precondition are all
/// FAILED_PRECONDITION.
impl From<UseCaseError> for ApiError {
    fn from(error: UseCaseError) -> Self {
        match error {
            UseCaseError::Invalid { field, rule } => Self::invalid(&field, rule),
            UseCaseError::NotFound(message) | UseCaseError::NotYours(message) => {
                Self::NotFound(message)
            }
            UseCaseError::AlreadyExists { field, rule } => Self::AlreadyExists { field, rule },
            UseCaseError::WrongStatus(message)
            | UseCaseError::FundsShort(message)
            | UseCaseError::Refused(message) => Self::FailedPrecondition(message),
            UseCaseError::PermissionDenied(message) => Self::PermissionDenied(message),
            UseCaseError::Unavailable(message) => Self::Unavailable(message),
            UseCaseError::Internal(message) => Self::Internal(message),
        }
    }
}

impl From<UseCaseError> for Status {
    fn from(error: UseCaseError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Store(store) => UseCaseError::from(store).into(),
            other => Self::Unauthenticated(other.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
