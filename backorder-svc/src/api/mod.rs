//! The gRPC API: parse, authorize, call the layer below, map errors. No business rule lives
//! here.

mod accounts;
mod auctions;
mod backorders;
mod catalog;
mod convert;
mod drop_list;
mod drop_list_convert;
pub mod error;
mod events;
mod operator;

use crate::clock::SharedClock;
use crate::domain::account::{AccountId, Caller};
use crate::store::SharedStore;
use error::{ApiError, ApiResult};
use tonic::Request;

pub use accounts::AccountApi;
pub use auctions::AuctionApi;
pub use backorders::BackorderApi;
pub use catalog::CatalogApi;
pub use drop_list::DropListApi;
pub use events::EventApi;
pub use operator::OperatorApi;

/// What every service needs: storage and time.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: SharedStore,
    pub clock: SharedClock,
}

impl Context {
    /// Authenticates the call from its `authorization` metadata.
    pub async fn caller<T>(&self, request: &Request<T>) -> ApiResult<Caller> {
        let header = request
            .metadata()
            .get("authorization")
            .map(|value| {
                value.to_str().map_err(|_| {
                    ApiError::Unauthenticated(
                        "authorization: must be ASCII `Bearer <api key>`".into(),
                    )
                })
            })
            .transpose()?;
        let caller = crate::auth::authenticate(&self.store, header).await?;
        // The call's log line names who made it (`server::CallLog`).
        tracing::Span::current().record("caller", caller.actor().as_str());
        Ok(caller)
    }

    /// Authenticates and requires the operator role.
    pub async fn operator<T>(&self, request: &Request<T>) -> ApiResult<Caller> {
        let caller = self.caller(request).await?;
        if !caller.is_operator() {
            return Err(ApiError::PermissionDenied(
                "this call needs an operator key; account keys may not use it".into(),
            ));
        }
        Ok(caller)
    }
}

/// The account a call is about: an account key may only name its own account (or leave it
/// empty); the operator must name one.
pub fn account_in_scope(caller: &Caller, requested: &str) -> ApiResult<AccountId> {
    let requested = requested.trim();
    let parsed = if requested.is_empty() {
        None
    } else {
        Some(AccountId::parse(requested).ok_or_else(|| {
            ApiError::invalid(
                "account_id",
                "must be an account id such as \"42\" or \"accounts/42\"",
            )
        })?)
    };
    match (caller, parsed) {
        (Caller::Account { account_id, .. }, None) => Ok(*account_id),
        (Caller::Account { account_id, .. }, Some(id)) if id == *account_id => Ok(id),
        (Caller::Account { .. }, Some(_)) => Err(ApiError::PermissionDenied(
            "account_id: an account key may only name its own account".into(),
        )),
        (Caller::Operator { .. }, Some(id)) => Ok(id),
        (Caller::Operator { .. }, None) => Err(ApiError::invalid(
            "account_id",
            "is required when the operator calls",
        )),
    }
}

/// A request id is required on money-moving calls: without it a retry could move money twice.
pub fn request_id(value: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(
            "request_id",
            "is required on calls that move money (any unique string, reused only for retries)",
        ));
    }
    if value.len() > 128 {
        return Err(ApiError::invalid(
            "request_id",
            "must be at most 128 characters",
        ));
    }
    Ok(value.to_string())
}
