//! Persistence of the catcher's work: which drops to go for, and each drop's result, recorded
//! once in the same transaction that allocates the domain (or fails its orders).

use super::StoreResult;
use super::orders::OrderError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A drop the catcher should go for: its domain has at least one valid order and no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchTarget {
    /// A-label.
    pub domain: String,
    /// The catalog entry of its orders ("com", "co.uk").
    pub tld: String,
    /// The drop list's time: the exact release, or the start of the release window.
    pub drop_time: DateTime<Utc>,
    /// The end of the published release window; `None` when the list gives an exact time.
    pub window_end: Option<DateTime<Utc>>,
    /// Registry extension fields for the create, from the earliest valid order.
    pub extensions: BTreeMap<String, String>,
    /// Only lite post-drop orders ("daily deals") want it: the release may already be past.
    pub daily_deals_only: bool,
    /// The creates written ahead for this drop so far (a restarted catcher resumes from them).
    pub attempts: AttemptHistory,
}

/// What `catch_attempts` holds for one drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptHistory {
    /// Creates that were sent, or may have been (our limiter's `NOT_SENT` excluded).
    pub sent: u32,
    pub first_sent_at: Option<DateTime<Utc>>,
    /// Creates without a recorded answer (one of them may have won), or answered `WON` while
    /// the drop's result is not recorded (a crash between the two commits). The drop is
    /// decided only after the registry has been asked who holds the name.
    pub unanswered: u32,
}

/// The answer recorded for a written-ahead create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptAnswer {
    Won,
    Exists,
    RateLimited,
    Refused,
    /// Our own limiter stopped it: nothing left for the registry.
    NotSent,
    /// The answer was lost; the registry's Info (or the drop's result) settled it.
    Reconciled,
}

impl AttemptAnswer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Won => "WON",
            Self::Exists => "EXISTS",
            Self::RateLimited => "RATE_LIMITED",
            Self::Refused => "REFUSED",
            Self::NotSent => "NOT_SENT",
            Self::Reconciled => "RECONCILED",
        }
    }
}

/// A create about to leave for the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptIntent {
    pub domain: String,
    pub drop_time: DateTime<Utc>,
    pub registrar: String,
}

/// A registry session the catcher holds (`registry_sessions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSession {
    pub registrar: String,
    pub slot: u32,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatchOutcome {
    /// Our create won: the platform's registrar holds the name.
    Caught {
        registrar: String,
        auth_code: String,
        registered_at: DateTime<Utc>,
    },
    /// A rival (or the former registrant) got it.
    NotCaught,
    /// The name never became available within the grace after its drop time.
    NotDropped,
}

impl CatchOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Caught { .. } => "CAUGHT",
            Self::NotCaught => "NOT_CAUGHT",
            Self::NotDropped => "NOT_DROPPED",
        }
    }
}

/// What the catcher reports when it stops going for a drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchReport {
    pub domain: String,
    /// The target's `drop_time` (with the domain, identifies the drop).
    pub drop_time: DateTime<Utc>,
    pub outcome: CatchOutcome,
    /// Creates sent (refused ones included).
    pub attempts: u32,
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// The first moment the registry answered that the name was available, if ever.
    pub release_seen_at: Option<DateTime<Utc>>,
}

/// A recorded drop result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchRecord {
    pub id: i64,
    pub report: CatchReport,
    pub decided_at: DateTime<Utc>,
}

/// What recording a result did to the domain's orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocated {
    /// The result of this drop was recorded before (a retry): nothing changed.
    AlreadyRecorded,
    /// One order got the domain (SUCCESSFUL); the others failed LOST_TO_PRIORITY.
    Assigned {
        order_id: i64,
        lost_to_priority: u32,
    },
    /// Several valid regular orders: a private auction with a seat each.
    Auction {
        auction_id: i64,
        seats: u32,
        lost_to_priority: u32,
    },
    /// Not caught or not dropped: every valid order failed, its hold released.
    Failed { orders: u32 },
    /// Caught, but no valid order was left (all cancelled or moved meanwhile): the
    /// platform's registrar keeps the name.
    Unallocated,
    /// Not recorded: creates of this drop still wait for an answer (one may have won), so
    /// only `CAUGHT` may be recorded until the catcher has asked the registry.
    Unresolved { unanswered: u32 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatchFilter {
    pub domain: Option<String>,
    pub decided_since: Option<DateTime<Utc>>,
    pub offset: u32,
    pub limit: u32,
}

#[async_trait]
pub trait CatchStore {
    /// Drops to go for at `now`: domains with a valid order (PROCESSING) and no result yet.
    async fn catch_targets(&self, now: DateTime<Utc>) -> StoreResult<Vec<CatchTarget>>;
    /// Records a drop's result and allocates the domain (or fails its valid orders), all in
    /// one transaction with the ledger movements, audit rows and events.
    async fn record_catch(
        &self,
        report: CatchReport,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Allocated, OrderError>;
    /// Recorded results, newest decision first.
    async fn list_catches(&self, filter: CatchFilter) -> StoreResult<(Vec<CatchRecord>, i64)>;
    /// Writes the creates of one step ahead, in one transaction, before any is sent. `None`
    /// for a drop whose result is already recorded (by another replica or the scheduler):
    /// that create must not go out.
    async fn write_attempts_ahead(
        &self,
        intents: &[AttemptIntent],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<i64>>>;
    /// Records the registry's answers to written-ahead creates.
    async fn answer_attempts(
        &self,
        answers: &[(i64, AttemptAnswer)],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Settles every unanswered (or won, unrecorded) create of a drop once the registry said
    /// who holds the name.
    async fn reconcile_attempts(
        &self,
        domain: &str,
        drop_time: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u32>;
    /// Fails every order still `PROCESSING` although its drop is decided (only a daily deal
    /// accepted before placement checked for that could be one): NOT_CAUGHT when a rival took
    /// the name, LOST_TO_PRIORITY when another order got it, DOMAIN_NOT_DROPPED when it did
    /// not drop. Its hold is released. Returns how many.
    async fn fail_orders_of_decided_drops(
        &self,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<u32, OrderError>;
    /// Undecided drops with unanswered (or won, unrecorded) creates, for status reports.
    async fn unresolved_drops(&self) -> StoreResult<i64>;
    /// The registry sessions held when the catcher last ran.
    async fn held_sessions(&self) -> StoreResult<Vec<HeldSession>>;
    /// Remembers (`Some`) or forgets (`None`) the session in a registrar's slot.
    async fn hold_session(
        &self,
        registrar: &str,
        slot: u32,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}
