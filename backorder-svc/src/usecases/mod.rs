//! The use cases: what the service does, once, for every adapter (the gRPC API in `api/`,
//! the command API in `cmdapi/`). A use case takes typed, already-parsed input and the
//! `Caller`, applies the authorization rules both adapters share (an account caller names
//! only its own account; another account's object looks absent; operator-only calls;
//! read-only logins change nothing), calls the rules and the store, reads the clock, and
//! returns domain or store values. Errors are one `UseCaseError`, mapped by each adapter.
//!
//! Layering: adapters -> `usecases` -> `lifecycle`/`ledger`/`catcher` rules -> `store` ->
//! `domain`. Nothing here knows a wire format.

pub mod accounts;
pub mod auctions;
pub mod catalog;
pub mod drop_list;
pub mod error;
pub mod events;
pub mod idn;
pub mod logins;
pub mod operator;
pub mod orders;
pub mod test_accounts;

use crate::auth::AuthError;
use crate::clock::SharedClock;
use crate::config::{ClockKind, EnvironmentKind};
use crate::domain::account::{AccountId, Caller};
use crate::lifecycle::premium::RegistryPremiumCheck;
use crate::store::{IdempotencyKey, SharedStore};
use crate::supervision::SharedSupervision;
use std::sync::Arc;

pub use error::{UseCaseError, UseCaseResult};

/// Default and maximum page sizes of every list.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Everything the use cases need: storage, time, and the optional outside parts.
#[derive(Clone, Debug)]
pub struct UseCases {
    store: SharedStore,
    clock: SharedClock,
    /// Asks the registry which names are premium, to refuse orders for them.
    premium: Option<Arc<RegistryPremiumCheck>>,
    /// The registry's pending-delete feed, for drop-list imports from the registry.
    registry_url: Option<String>,
    /// The background parts, for the service status.
    supervision: Option<SharedSupervision>,
    /// The configured clock (`serve --clock`); None: told from the clock itself.
    clock_kind: Option<ClockKind>,
    /// Live or the test environment (only the test environment opens test accounts).
    environment: EnvironmentKind,
}

impl UseCases {
    pub fn new(
        store: SharedStore,
        clock: SharedClock,
        premium: Option<Arc<RegistryPremiumCheck>>,
    ) -> Self {
        Self {
            store,
            clock,
            premium,
            registry_url: None,
            supervision: None,
            clock_kind: None,
            environment: EnvironmentKind::Live,
        }
    }

    /// Which environment these use cases serve (live by default).
    pub fn with_environment(mut self, environment: EnvironmentKind) -> Self {
        self.environment = environment;
        self
    }

    /// Drop-list imports from the registry read this feed (`serve --registry-url`).
    pub fn with_registry_url(mut self, url: Option<String>) -> Self {
        self.registry_url = url;
        self
    }

    /// The service status shows these background parts.
    pub fn with_supervision(mut self, supervision: Option<SharedSupervision>) -> Self {
        self.supervision = supervision;
        self
    }

    /// The clock mode the operator is told (a registry clock is a manual clock underneath).
    pub fn with_clock_kind(mut self, kind: Option<ClockKind>) -> Self {
        self.clock_kind = kind;
        self
    }

    /// The caller behind an `authorization` value (`Bearer <api key>`).
    pub async fn authenticate_api_key(&self, header: Option<&str>) -> Result<Caller, AuthError> {
        crate::auth::authenticate(&self.store, header).await
    }
}

/// Changes need a caller that may write: a read-only login only reads.
pub fn require_write(caller: &Caller) -> UseCaseResult<()> {
    if caller.may_write() {
        Ok(())
    } else {
        Err(UseCaseError::PermissionDenied(
            "this login is read-only; it may not change anything".into(),
        ))
    }
}

/// Operator-only calls.
pub fn require_operator(caller: &Caller) -> UseCaseResult<()> {
    if caller.is_operator() {
        Ok(())
    } else {
        Err(UseCaseError::PermissionDenied(
            "this call needs an operator key; account keys may not use it".into(),
        ))
    }
}

/// The account a call is about: an account caller may only name its own account (or name
/// none); the operator must name one.
pub fn account_in_scope(caller: &Caller, requested: Option<AccountId>) -> UseCaseResult<AccountId> {
    match (caller, requested) {
        (Caller::Account { account_id, .. }, None) => Ok(*account_id),
        (Caller::Account { account_id, .. }, Some(id)) if id == *account_id => Ok(id),
        (Caller::Account { .. }, Some(_)) => Err(UseCaseError::PermissionDenied(
            "account_id: an account key may only name its own account".into(),
        )),
        (Caller::Operator { .. } | Caller::Shell, Some(id)) => Ok(id),
        (Caller::Operator { .. } | Caller::Shell, None) => Err(UseCaseError::invalid(
            "account_id",
            "is required when the operator calls",
        )),
    }
}

/// The accounts a listing covers: an account caller its own; the operator the named one, or
/// all when it names none.
pub fn listing_scope(
    caller: &Caller,
    requested: Option<AccountId>,
) -> UseCaseResult<Option<AccountId>> {
    match (caller, requested) {
        (Caller::Operator { .. } | Caller::Shell, None) => Ok(None),
        _ => account_in_scope(caller, requested).map(Some),
    }
}

/// The caller's own account, or None for the operator (who sees all).
pub fn own_account(caller: &Caller) -> Option<AccountId> {
    match caller {
        Caller::Account { account_id, .. } => Some(*account_id),
        Caller::Operator { .. } | Caller::Shell => None,
    }
}

/// A request id that must be given: money-moving calls (without it a retry could move money
/// twice). At most 128 characters.
pub fn required_request_id(value: Option<&str>) -> UseCaseResult<String> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(UseCaseError::invalid(
            "request_id",
            "is required on calls that move money (any unique string, reused only for retries)",
        ));
    }
    checked_request_id(value)
}

/// A request id that may be left empty (None); when given, at most 128 characters.
pub fn optional_request_id(value: &str) -> UseCaseResult<Option<String>> {
    match value.trim() {
        "" => Ok(None),
        value => checked_request_id(value).map(Some),
    }
}

fn checked_request_id(value: &str) -> UseCaseResult<String> {
    if value.len() > 128 {
        return Err(UseCaseError::invalid(
            "request_id",
            "must be at most 128 characters",
        ));
    }
    Ok(value.to_string())
}

/// The idempotency key of a call: the caller's namespace and its request id, when given.
pub fn idempotency(caller: &Caller, request_id: Option<String>) -> Option<IdempotencyKey> {
    request_id.map(|request_id| IdempotencyKey {
        scope: caller.idempotency_scope(),
        request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::{Access, Credential};

    fn read_only(account: i64) -> Caller {
        Caller::Account {
            account_id: AccountId(account),
            credential: Credential::Login("user!viewer".into()),
            access: Access::ReadOnly,
        }
    }

    #[test]
    fn read_only_callers_may_not_write() {
        assert!(matches!(
            require_write(&read_only(7)),
            Err(UseCaseError::PermissionDenied(_))
        ));
        assert!(require_write(&Caller::account_key(1, AccountId(7))).is_ok());
        assert!(require_write(&Caller::Operator { key_id: 1 }).is_ok());
    }

    #[test]
    fn an_account_caller_names_only_its_own_account() {
        let caller = Caller::account_key(1, AccountId(7));
        assert_eq!(account_in_scope(&caller, None), Ok(AccountId(7)));
        assert_eq!(
            account_in_scope(&caller, Some(AccountId(7))),
            Ok(AccountId(7))
        );
        assert!(matches!(
            account_in_scope(&caller, Some(AccountId(8))),
            Err(UseCaseError::PermissionDenied(_))
        ));
        let operator = Caller::Operator { key_id: 1 };
        assert!(matches!(
            account_in_scope(&operator, None),
            Err(UseCaseError::Invalid { .. })
        ));
        assert_eq!(listing_scope(&operator, None), Ok(None));
        assert!(matches!(
            require_operator(&caller),
            Err(UseCaseError::PermissionDenied(_))
        ));
    }
}
