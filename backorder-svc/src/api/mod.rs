//! The gRPC API, an adapter over the use cases: authenticate, parse the protobuf request into
//! the use case's typed input (field-named INVALID_ARGUMENT from parsing), call one use case,
//! map its answer to protobuf and its error to a status (`error.rs`). No business rule, no
//! store, no clock here.

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

use crate::domain::account::{AccountId, Caller};
use crate::usecases::UseCases;
use error::{ApiError, ApiResult};
use tonic::Request;

pub use accounts::AccountApi;
pub use auctions::AuctionApi;
pub use backorders::BackorderApi;
pub use catalog::CatalogApi;
pub use drop_list::DropListApi;
pub use events::EventApi;
pub use operator::OperatorApi;

/// What every service needs: the use cases.
#[derive(Debug, Clone)]
pub struct Context {
    pub uc: UseCases,
}

impl Context {
    pub fn new(uc: UseCases) -> Self {
        Self { uc }
    }

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
        let caller = self.uc.authenticate_api_key(header).await?;
        // The call's log line names who made it (`server::CallLog`).
        tracing::Span::current().record("caller", caller.actor().as_str());
        Ok(caller)
    }

    /// Authenticates and requires the operator role before anything is parsed (the use
    /// cases check it again).
    pub async fn operator<T>(&self, request: &Request<T>) -> ApiResult<Caller> {
        let caller = self.caller(request).await?;
        crate::usecases::require_operator(&caller)?;
        Ok(caller)
    }
}

/// An account named in a request (`"42"` or `"accounts/42"`); empty: none named.
pub fn account_id(field: &str, text: &str) -> ApiResult<Option<AccountId>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    AccountId::parse(text).map(Some).ok_or_else(|| {
        ApiError::invalid(
            field,
            "must be an account id such as \"42\" or \"accounts/42\"",
        )
    })
}
