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
}
