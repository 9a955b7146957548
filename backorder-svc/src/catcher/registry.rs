//! What the catcher needs from a registry, whatever speaks to it: a batched availability
//! check and a create on a chosen accreditation. Logins, sessions and rate limits stay
//! inside each implementation; the simulator's is `SimRegistry`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What the registry says about a name right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// Released and free: the first valid create wins it.
    Available,
    /// Still pending delete (or in redemption): not released yet.
    PendingDelete,
    /// In use: someone registered it (a rival, or the former registrant kept it).
    Registered,
    /// The registry will not register it to us: premium, reserved, not served, bad syntax.
    NotAllowed(String),
}

/// How one create ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateResult {
    /// Ours: the registry registered the name to `registrar`.
    Won {
        registrar: String,
        auth_code: String,
        /// The create time the registry recorded.
        registered_at: DateTime<Utc>,
    },
    /// EPP 2302: the name exists (not released yet, or already taken).
    Exists,
    /// EPP 2502: a session or rate limit (or the exists penalty) refused it.
    RateLimited,
    /// Refused for another reason (policy 2306, syntax 2005, ...): retrying will not help.
    Refused { code: i32, message: String },
}

/// Who holds a name, from the registry's Info: what decides a drop whose create answers
/// were lost (a crash, a dropped reply), and what any NOT_CAUGHT is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Nobody: the name is available, still pending delete (or in redemption), or unknown.
    Nobody,
    /// Registered by one of our accreditations (whoever's process sent the create).
    Ours {
        registrar: String,
        auth_code: String,
        registered_at: DateTime<Utc>,
    },
    /// Registered by someone else.
    Other { registrar: String },
}

/// Creates an accreditation may send now without passing its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub registrar: String,
    pub free: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry unreachable: {0}")]
    Unreachable(String),
    #[error("registry refused the login of {registrar}: {message}")]
    Login { registrar: String, message: String },
    #[error("registry answered {code}: {message}")]
    Answer { code: i32, message: String },
    #[error("no accreditation {0:?} is configured")]
    UnknownRegistrar(String),
    /// Our own limiter: every session of the accreditation used its creates for this second.
    /// Nothing was sent.
    #[error("{0}: no session has a create left this second")]
    NoCapacity(String),
}

#[async_trait]
pub trait Registry: Send + Sync + std::fmt::Debug {
    /// Free creates per accreditation at the injected clock's now, in configuration order.
    async fn capacity(&self) -> Vec<Capacity>;
    /// Availability of each name (A-labels), in one batched exchange where possible.
    async fn check(&self, names: &[String]) -> Result<Vec<(String, Availability)>, RegistryError>;
    /// Sends one create on `registrar`'s least busy session. `extensions` are the order's
    /// HEXONET-style fields (`X-UK-CONTACT-TYPE`); the implementation maps them to the
    /// registry's own names.
    async fn create(
        &self,
        name: &str,
        extensions: &BTreeMap<String, String>,
        registrar: &str,
    ) -> Result<CreateResult, RegistryError>;
    /// Who holds `name` now (with the auth code when it is one of ours).
    async fn holder(&self, name: &str) -> Result<Holder, RegistryError>;
    /// Ends every open session (graceful shutdown), so none is left counting against the
    /// registry's session limit.
    async fn logout_all(&self);
    /// A line for the status call: sessions open, logins waiting, the last failure.
    async fn describe(&self) -> String;
}
