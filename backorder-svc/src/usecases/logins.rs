//! Logins of the command API: the operator sets and deletes them; callers authenticate with
//! a login and password or a session (`auth/` holds the hashing, slowdown and session rules).

use super::{UseCaseError, UseCaseResult, UseCases, account_in_scope, require_operator};
use crate::auth::{self, AuthError, LoginError, LoginSet};
use crate::domain::account::{Access, AccountId, Caller};
use crate::store::logins::LoginSummary;

/// A login to create or whose password (and access) to replace.
#[derive(Clone, PartialEq, Eq)]
pub struct SetLogin {
    pub account: Option<AccountId>,
    pub login: String,
    /// None: the account's main login; Some: the role login `login!role`.
    pub role: Option<String>,
    pub access: Access,
    pub password: String,
}

impl std::fmt::Debug for SetLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetLogin")
            .field("account", &self.account)
            .field("login", &self.login)
            .field("role", &self.role)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl UseCases {
    /// Operator: creates a login or replaces its password (its sessions end).
    pub async fn set_login(&self, caller: &Caller, set: SetLogin) -> UseCaseResult<LoginSet> {
        require_operator(caller)?;
        let account = account_in_scope(caller, set.account)?;
        Ok(auth::set_login(
            &self.store,
            account,
            &set.login,
            set.role.as_deref(),
            set.access,
            &set.password,
            &caller.actor(),
            self.clock.now(),
        )
        .await?)
    }

    /// Operator: deletes a login (its sessions end).
    pub async fn delete_login(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        login: &str,
        role: Option<&str>,
    ) -> UseCaseResult<()> {
        require_operator(caller)?;
        let account = account_in_scope(caller, account)?;
        Ok(auth::delete_login(
            &self.store,
            account,
            login,
            role,
            &caller.actor(),
            self.clock.now(),
        )
        .await?)
    }

    /// Operator: an account's logins (never their hashes).
    pub async fn list_logins(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
    ) -> UseCaseResult<Vec<LoginSummary>> {
        require_operator(caller)?;
        let account = account_in_scope(caller, account)?;
        Ok(auth::list_logins(&self.store, account).await?)
    }

    /// The caller behind a login (`user` or `user!role`) and its password.
    pub async fn login_caller(&self, login: &str, password: &str) -> Result<Caller, AuthError> {
        auth::authenticate_login(&self.store, login, password, self.clock.now()).await
    }

    /// The caller behind a session secret; each use moves the session's expiry.
    pub async fn session_caller(&self, secret: &str) -> Result<Caller, AuthError> {
        auth::session_caller(&self.store, secret, self.clock.now()).await
    }

    /// A new session for a login caller; its secret, shown this once.
    pub async fn start_session(
        &self,
        caller: &Caller,
        idle_timeout_secs: Option<u32>,
    ) -> UseCaseResult<String> {
        auth::start_session(&self.store, caller, idle_timeout_secs, self.clock.now())
            .await
            .map_err(|error| match error {
                AuthError::NotALogin => UseCaseError::PermissionDenied(error.to_string()),
                AuthError::Store(store) => store.into(),
                other => UseCaseError::PermissionDenied(other.to_string()),
            })
    }

    /// Ends a session; NotFound when there was none.
    pub async fn end_session(&self, secret: &str) -> UseCaseResult<()> {
        auth::end_session(&self.store, secret)
            .await
            .map_err(|error| match error {
                AuthError::Store(store) => store.into(),
                other => UseCaseError::NotFound(other.to_string()),
            })
    }
}

impl From<LoginError> for UseCaseError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Invalid { field, rule } => UseCaseError::invalid(field, rule),
            LoginError::AccountNotFound(_) | LoginError::NotFound { .. } => {
                UseCaseError::NotFound(error.to_string())
            }
            LoginError::AccountClosed(_) => UseCaseError::Refused(error.to_string()),
            LoginError::Taken { .. } => UseCaseError::AlreadyExists {
                field: "login".into(),
                rule: error
                    .to_string()
                    .strip_prefix("login: ")
                    .unwrap_or_default()
                    .to_string(),
            },
            LoginError::Hash(hash) => {
                tracing::error!(error = %hash, "password hashing failed");
                UseCaseError::Internal("password hashing failed (logged)".into())
            }
            LoginError::Store(store) => store.into(),
        }
    }
}
