//! Persistence of the command API's logins (`account_logins`) and sessions
//! (`command_sessions`). The rules (names, passwords, hashing, the slowdown policy, session
//! lifetimes) live in `crate::auth`; this only stores what it is given.

use super::StoreResult;
use crate::domain::account::{Access, AccountId, AccountState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

impl Access {
    /// The stored form (`account_logins.access`, `command_sessions.access`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::ReadOnly => "read_only",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        match text {
            "full" => Some(Self::Full),
            "read_only" => Some(Self::ReadOnly),
            _ => None,
        }
    }
}

/// A login as stored, without its password hash (for listings and answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSummary {
    pub id: i64,
    /// Lower-cased login name.
    pub login: String,
    /// `None` for the account's main login.
    pub role: Option<String>,
    pub account_id: AccountId,
    pub access: Access,
    pub failures: u32,
    pub blocked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LoginSummary {
    /// `login` or `login!role`: how the caller names it and how it is shown.
    pub fn display_name(&self) -> String {
        match &self.role {
            Some(role) => format!("{}!{role}", self.login),
            None => self.login.clone(),
        }
    }
}

/// A login with what authenticating needs: its hash and its account's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    pub summary: LoginSummary,
    /// The argon2id PHC string.
    pub password_hash: String,
    pub account_state: AccountState,
}

/// A login to create or replace (its password already hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin {
    pub account_id: AccountId,
    /// Already validated and lower-cased.
    pub login: String,
    pub role: Option<String>,
    pub access: Access,
    pub password_hash: String,
}

/// What setting a login did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginUpsert {
    Created(LoginSummary),
    /// The login existed: its password and access were replaced, its failures cleared and its
    /// sessions ended.
    Replaced(LoginSummary),
    AccountNotFound,
    AccountClosed,
    /// The login name (with some role or none) belongs to another account.
    Taken {
        owner: AccountId,
    },
}

/// When repeated failures block a login: from the `after_failures`-th failure in a row on,
/// for `first_block`, doubled per further failure, at most `max_block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slowdown {
    pub after_failures: u32,
    pub first_block: chrono::Duration,
    pub max_block: chrono::Duration,
}

impl Slowdown {
    /// How long the login is blocked after `failures` failures in a row.
    pub fn block_for(&self, failures: u32) -> Option<chrono::Duration> {
        let doublings = failures.checked_sub(self.after_failures)?;
        let factor = 1i32.checked_shl(doublings.min(30)).unwrap_or(i32::MAX);
        Some(
            self.first_block
                .checked_mul(factor)
                .unwrap_or(self.max_block)
                .min(self.max_block),
        )
    }
}

/// A login's failure state after recording one more failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: u32,
    pub blocked_until: Option<DateTime<Utc>>,
}

/// A session to store: only the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommandSession {
    /// Hex SHA-256 of the secret.
    pub id_hash: String,
    pub login_id: i64,
    /// `user` or `user!role`.
    pub login: String,
    pub account_id: AccountId,
    pub access: Access,
    pub idle_timeout_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSession {
    pub id_hash: String,
    pub login_id: i64,
    pub login: String,
    pub account_id: AccountId,
    /// The account's state now (sessions of closed accounts are refused).
    pub account_state: AccountState,
    pub access: Access,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub idle_timeout_secs: u32,
}

#[async_trait]
pub trait LoginStore {
    /// Creates the login or replaces its password and access (clearing its failures and
    /// ending its sessions), with an audit row, in one transaction.
    async fn upsert_login(
        &self,
        login: NewLogin,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<LoginUpsert>;
    /// Deletes the account's login (its sessions end with it). False when the account has no
    /// such login.
    async fn delete_login(
        &self,
        account_id: AccountId,
        login: &str,
        role: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The login `login` (`role` None) or `login!role`; names as stored (lower case).
    async fn find_login(&self, login: &str, role: Option<&str>)
    -> StoreResult<Option<LoginRecord>>;
    /// An account's logins, by name then role (main login first).
    async fn list_logins(&self, account_id: AccountId) -> StoreResult<Vec<LoginSummary>>;
    /// Counts one more failure in a row and blocks the login as `slowdown` says.
    async fn record_login_failure(
        &self,
        login_id: i64,
        slowdown: Slowdown,
        now: DateTime<Utc>,
    ) -> StoreResult<LoginFailures>;
    /// A successful login: failures back to zero, no block.
    async fn reset_login_failures(&self, login_id: i64, now: DateTime<Utc>) -> StoreResult<()>;

    async fn create_command_session(
        &self,
        session: NewCommandSession,
        now: DateTime<Utc>,
    ) -> StoreResult<CommandSession>;
    /// The session with this secret hash, expired or not (with its account's state).
    async fn find_command_session(&self, id_hash: &str) -> StoreResult<Option<CommandSession>>;
    /// A use of the session: its expiry moves to `now + 1.1 * idle_timeout` (never backwards).
    /// None (and nothing changed) when it is unknown or expired at `now`.
    async fn touch_command_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    async fn delete_command_session(&self, id_hash: &str) -> StoreResult<bool>;
    /// Deletes every session expired at `now`; returns how many.
    async fn delete_expired_command_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}
