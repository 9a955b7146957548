//! Logins with passwords for the command API: names (`user`, `user!role`), checking a login
//! and its password (with a per-login slowdown after repeated failures), and the operator's
//! management of an account's logins. See docs/logins.md.

use super::AuthError;
use super::passwords::{
    HashError, hash_password_blocking, password_rule_violation, verify_password_blocking,
};
use crate::domain::account::{Access, AccountId, AccountState, Caller, Credential};
use crate::domain::quote;
use crate::store::logins::{LoginSummary, LoginUpsert, NewLogin, Slowdown};
use crate::store::{SharedStore, StoreError};
use chrono::{DateTime, Utc};
use std::fmt;

/// Login names and role names: lower-cased on the way in (logins are case-insensitive).
pub const MIN_LOGIN_CHARS: usize = 3;
pub const MAX_LOGIN_CHARS: usize = 64;
pub const MAX_ROLE_CHARS: usize = 64;

/// After 3 failures in a row a login is refused, without its password being checked, for
/// 1 s, then 2, 4, ... per further failure, at most 60 s. A success clears it.
pub const SLOWDOWN: Slowdown = Slowdown {
    after_failures: 3,
    first_block: chrono::Duration::seconds(1),
    max_block: chrono::Duration::seconds(60),
};

/// A login as the command API names it: `user` (the account's main login) or `user!role`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginName {
    pub login: String,
    pub role: Option<String>,
}

impl LoginName {
    /// `user` or `user!role`, any case.
    pub fn parse(text: &str) -> Result<Self, LoginError> {
        match text.split_once('!') {
            Some((login, role)) => Self::new(login, Some(role)),
            None => Self::new(text, None),
        }
    }

    /// A login name and an optional role, validated and lower-cased.
    pub fn new(login: &str, role: Option<&str>) -> Result<Self, LoginError> {
        let login = login.to_ascii_lowercase();
        if let Some(rule) = name_rule_violation(&login, MIN_LOGIN_CHARS, MAX_LOGIN_CHARS) {
            return Err(LoginError::invalid("login", rule));
        }
        let role = match role {
            None => None,
            Some(role) => {
                let role = role.to_ascii_lowercase();
                if let Some(rule) = name_rule_violation(&role, 1, MAX_ROLE_CHARS) {
                    return Err(LoginError::invalid("role", rule));
                }
                Some(role)
            }
        };
        Ok(Self { login, role })
    }
}

impl fmt::Display for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.role {
            Some(role) => write!(f, "{}!{role}", self.login),
            None => f.write_str(&self.login),
        }
    }
}

/// Why a (lower-cased) login or role name is refused.
fn name_rule_violation(name: &str, min: usize, max: usize) -> Option<String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let chars = name.chars().count();
    let ok = (min..=max).contains(&chars) && first_ok && name.chars().all(allowed);
    (!ok).then(|| {
        format!(
            "must be {min} to {max} characters of a-z, 0-9, `.`, `_` and `-`, starting with a \
             letter or digit; got {}",
            quote(name)
        )
    })
}

/// What went wrong managing logins (operator calls and the CLI).
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("{field}: {rule}")]
    Invalid { field: &'static str, rule: String },
    #[error("account_id: account {0} not found")]
    AccountNotFound(AccountId),
    #[error("account_id: account {0} is closed")]
    AccountClosed(AccountId),
    #[error(
        "login: `{login}` belongs to account {owner}; a login name and its roles stay with one account"
    )]
    Taken { login: String, owner: AccountId },
    #[error("login: account {account_id} has no login `{login}`")]
    NotFound {
        account_id: AccountId,
        login: String,
    },
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LoginError {
    fn invalid(field: &'static str, rule: String) -> Self {
        Self::Invalid { field, rule }
    }
}

/// A login after `set_login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSet {
    pub login: LoginSummary,
    /// False when an existing login's password (and access) was replaced.
    pub created: bool,
}

/// Creates the account's login `login` (or `login!role`) or replaces its password and access.
/// Replacing clears its failures and ends its sessions.
#[allow(clippy::too_many_arguments)]
pub async fn set_login(
    store: &SharedStore,
    account_id: AccountId,
    login: &str,
    role: Option<&str>,
    access: Access,
    password: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<LoginSet, LoginError> {
    let name = LoginName::new(login, role)?;
    if let Some(rule) = password_rule_violation(password) {
        return Err(LoginError::invalid("password", rule));
    }
    let password_hash = hash_password_blocking(password).await?;
    let new = NewLogin {
        account_id,
        login: name.login.clone(),
        role: name.role.clone(),
        access,
        password_hash,
    };
    match store.upsert_login(new, actor, now).await? {
        LoginUpsert::Created(login) => Ok(LoginSet {
            login,
            created: true,
        }),
        LoginUpsert::Replaced(login) => Ok(LoginSet {
            login,
            created: false,
        }),
        LoginUpsert::AccountNotFound => Err(LoginError::AccountNotFound(account_id)),
        LoginUpsert::AccountClosed => Err(LoginError::AccountClosed(account_id)),
        LoginUpsert::Taken { owner } => Err(LoginError::Taken {
            login: name.login,
            owner,
        }),
    }
}

/// Deletes the account's login (its sessions end with it).
pub async fn delete_login(
    store: &SharedStore,
    account_id: AccountId,
    login: &str,
    role: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), LoginError> {
    let name = LoginName::new(login, role)?;
    let deleted = store
        .delete_login(account_id, &name.login, name.role.as_deref(), actor, now)
        .await?;
    if deleted {
        Ok(())
    } else {
        Err(LoginError::NotFound {
            account_id,
            login: name.to_string(),
        })
    }
}

/// An account's logins (never their hashes).
pub async fn list_logins(
    store: &SharedStore,
    account_id: AccountId,
) -> Result<Vec<LoginSummary>, LoginError> {
    Ok(store.list_logins(account_id).await?)
}

/// Checks a login (`user` or `user!role`, any case) and its password at `now`.
///
/// Every refusal is the same `AuthError::LoginFailed` (the reason is logged, the password
/// never), and each takes one password verification: an unknown or blocked login is checked
/// against a dummy hash, so the time taken does not tell which logins exist. From the third
/// failure in a row the login is refused until its `blocked_until` without its password being
/// checked (`SLOWDOWN`); a success clears the count.
pub async fn authenticate_login(
    store: &SharedStore,
    login_text: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Caller, AuthError> {
    let refuse = |login: &str, reason: &str| {
        tracing::warn!(login = %quote(login), reason, "command API login refused");
        Err(AuthError::LoginFailed)
    };
    let Ok(name) = LoginName::parse(login_text) else {
        verify_password_blocking(password, None).await;
        return refuse(login_text, "malformed login name");
    };
    let shown = name.to_string();
    // No stored password is longer: no need to hash an arbitrarily long input.
    let password = if password.chars().count() <= super::passwords::MAX_PASSWORD_CHARS {
        password
    } else {
        ""
    };
    let Some(record) = store.find_login(&name.login, name.role.as_deref()).await? else {
        verify_password_blocking(password, None).await;
        return refuse(&shown, "unknown login");
    };
    let login = &record.summary;
    if let Some(until) = login.blocked_until.filter(|until| *until > now) {
        verify_password_blocking(password, None).await;
        tracing::warn!(
            login = %shown,
            failures = login.failures,
            blocked_until = %until.to_rfc3339(),
            "command API login refused: blocked after repeated failures"
        );
        return Err(AuthError::LoginFailed);
    }
    if !verify_password_blocking(password, Some(&record.password_hash)).await {
        let failures = store.record_login_failure(login.id, SLOWDOWN, now).await?;
        tracing::warn!(
            login = %shown,
            failures = failures.failures,
            blocked_until = failures.blocked_until.map(|t| t.to_rfc3339()),
            "command API login refused: wrong password"
        );
        return Err(AuthError::LoginFailed);
    }
    if record.account_state == AccountState::Closed {
        return refuse(&shown, "the account is closed");
    }
    if login.failures > 0 || login.blocked_until.is_some() {
        store.reset_login_failures(login.id, now).await?;
    }
    Ok(Caller::Account {
        account_id: login.account_id,
        credential: Credential::Login(shown),
        access: login.access,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names() {
        let name = LoginName::parse("John.Doe!RO").unwrap();
        assert_eq!(name.login, "john.doe");
        assert_eq!(name.role.as_deref(), Some("ro"));
        assert_eq!(name.to_string(), "john.doe!ro");
        assert_eq!(LoginName::parse("abc").unwrap().role, None);
        assert!(LoginName::parse(&"a".repeat(64)).is_ok());
        for (bad, field) in [
            ("ab", "login"),
            (&"a".repeat(65) as &str, "login"),
            ("-abc", "login"),
            (".abc", "login"),
            ("ab c", "login"),
            ("jöhn", "login"),
            ("", "login"),
            ("john!", "role"),
            ("john!-x", "role"),
            ("john!a!b", "role"),
            ("john!r o", "role"),
        ] {
            match LoginName::parse(bad) {
                Err(LoginError::Invalid { field: f, rule }) => {
                    assert_eq!(f, field, "{bad:?}");
                    assert!(rule.contains("a-z, 0-9"), "{rule}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_slowdown_doubles_up_to_a_minute() {
        let secs = |n| SLOWDOWN.block_for(n).map(|d| d.num_seconds());
        assert_eq!((secs(1), secs(2)), (None, None));
        assert_eq!((secs(3), secs(4), secs(5)), (Some(1), Some(2), Some(4)));
        assert_eq!((secs(8), secs(9), secs(10)), (Some(32), Some(60), Some(60)));
        assert_eq!(secs(u32::MAX), Some(60));
    }
}
