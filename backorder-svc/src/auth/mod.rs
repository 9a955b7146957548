//! Who is calling. gRPC callers send API keys (`keys`); the HEXONET-compatible command API
//! authenticates with a login and password per account (`logins`, hashed by `passwords`) or
//! with a session started from one (`sessions`). See docs/logins.md.

pub mod cli;
pub mod keys;
pub mod logins;
pub mod passwords;
pub mod sessions;

use crate::store::StoreError;

pub use keys::{GeneratedKey, authenticate, generate, hash};
pub use logins::{
    LoginError, LoginName, LoginSet, authenticate_login, delete_login, list_logins, set_login,
};
pub use sessions::{end_session, purge_expired_sessions, session_caller, start_session};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authorization: missing; send `authorization: Bearer <api key>`")]
    Missing,
    #[error("authorization: must be `Bearer <api key>`")]
    Malformed,
    #[error("authorization: unknown API key")]
    Unknown,
    #[error("authorization: the API key was revoked")]
    Revoked,
    /// A login was refused: unknown login, wrong password, a login blocked after repeated
    /// failures, or a closed account all look the same to the caller (the reason is logged).
    #[error("authentication failed: wrong login or password")]
    LoginFailed,
    /// The session is unknown, ended or expired (the command API: `530 Authentication
    /// failed; SESSION NOT FOUND`).
    #[error("authentication failed: session not found")]
    SessionNotFound,
    /// Sessions are started by a login (with its password), not by an API key or the operator.
    #[error("sessions are started with a login and password, not with an API key")]
    NotALogin,
    #[error(transparent)]
    Store(#[from] StoreError),
}
