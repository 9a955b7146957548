//! Command API sessions (`StartSession` / `EndSession`): a login that proved its password
//! gets a random secret to send instead (`s_session`). Only the secret's SHA-256 is stored;
//! a session expires when idle for its timeout (every use moves the expiry), ends with
//! `EndSession`, with its login, or when the login's password is replaced.

use super::AuthError;
use super::logins::LoginName;
use crate::domain::account::{AccountState, Caller, Credential};
use crate::store::logins::NewCommandSession;
use crate::store::{SharedStore, StoreError};
use chrono::{DateTime, Utc};
use rand::RngCore;

/// Idle timeout when the client names none (`TIMEOUT` of `StartSession`), and the range a
/// named one is clamped to, in seconds.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u32 = 600;
pub const MIN_IDLE_TIMEOUT_SECS: u32 = 60;
pub const MAX_IDLE_TIMEOUT_SECS: u32 = 86_400;

/// The idle timeout for a requested one (`None`: the default), clamped to 60 s .. 1 day.
pub fn idle_timeout(requested: Option<u32>) -> u32 {
    requested
        .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS)
        .clamp(MIN_IDLE_TIMEOUT_SECS, MAX_IDLE_TIMEOUT_SECS)
}

/// What is stored for a session secret.
pub fn session_hash(secret: &str) -> String {
    super::keys::hash(secret)
}

/// Starts a session for a caller that authenticated with a login (`authenticate_login`) and
/// returns its secret (64 hex characters, 256 random bits), shown this once.
pub async fn start_session(
    store: &SharedStore,
    caller: &Caller,
    idle_timeout_secs: Option<u32>,
    now: DateTime<Utc>,
) -> Result<String, AuthError> {
    let Caller::Account {
        account_id,
        credential: Credential::Login(login),
        ..
    } = caller
    else {
        return Err(AuthError::NotALogin);
    };
    let name = LoginName::parse(login).map_err(|_| AuthError::LoginFailed)?;
    // The login as it is now: deleted or moved since it was checked means no session.
    let record = store
        .find_login(&name.login, name.role.as_deref())
        .await?
        .filter(|r| r.summary.account_id == *account_id)
        .filter(|r| r.account_state != AccountState::Closed)
        .ok_or(AuthError::LoginFailed)?;
    // Expired sessions go as new ones come (an indexed delete): the table holds no more than
    // the sessions started within the longest idle timeout and still in use.
    purge_expired_sessions(store, now).await?;
    let mut bytes = [0u8; 32];
    // The thread RNG is a CSPRNG seeded from the operating system.
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    store
        .create_command_session(
            NewCommandSession {
                id_hash: session_hash(&secret),
                login_id: record.summary.id,
                login: name.to_string(),
                account_id: *account_id,
                access: record.summary.access,
                idle_timeout_secs: idle_timeout(idle_timeout_secs),
            },
            now,
        )
        .await?;
    Ok(secret)
}

/// The caller a session secret stands for at `now`, and a use of the session (its expiry
/// moves to at least `now + idle timeout`, at most a tenth of the timeout later). `SessionNotFound` for an unknown, ended or expired session
/// (an expired one is deleted then) and for one whose account was closed.
pub async fn session_caller(
    store: &SharedStore,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Caller, AuthError> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::SessionNotFound);
    }
    let id_hash = session_hash(secret);
    let session = store
        .find_command_session(&id_hash)
        .await?
        .ok_or(AuthError::SessionNotFound)?;
    if session.expires_at <= now || session.account_state == AccountState::Closed {
        store.delete_command_session(&id_hash).await?;
        return Err(AuthError::SessionNotFound);
    }
    // A use promises `now + idle timeout`. When the stored expiry already keeps that promise
    // nothing is written; otherwise the touch writes a tenth of the timeout more, so a
    // session in steady use is written at most once per tenth of its timeout, not per call
    // (on SQLite a write per call made every read a serialized write).
    let promised = now + chrono::Duration::seconds(i64::from(session.idle_timeout_secs));
    if session.expires_at < promised {
        store
            .touch_command_session(&id_hash, now)
            .await?
            .ok_or(AuthError::SessionNotFound)?;
    }
    Ok(Caller::Account {
        account_id: session.account_id,
        credential: Credential::Login(session.login),
        access: session.access,
    })
}

/// Ends a session (`EndSession`). `SessionNotFound` when there was none.
pub async fn end_session(store: &SharedStore, secret: &str) -> Result<(), AuthError> {
    if store.delete_command_session(&session_hash(secret)).await? {
        Ok(())
    } else {
        Err(AuthError::SessionNotFound)
    }
}

/// Deletes the sessions expired at `now` (expired ones are refused anyway; this keeps the
/// table small). For the service to call periodically; returns how many went.
pub async fn purge_expired_sessions(
    store: &SharedStore,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    store.delete_expired_command_sessions(now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_timeouts_are_clamped() {
        assert_eq!(idle_timeout(None), 600);
        assert_eq!(idle_timeout(Some(0)), 60);
        assert_eq!(idle_timeout(Some(3600)), 3600);
        assert_eq!(idle_timeout(Some(u32::MAX)), 86_400);
    }
}
