//! Persistence of the pending-delete list and keyword alerts (table `drop_list`,
//! `drop_alerts`). The SQL is in `drop_list_sql.rs`, compiled for both backends.

use super::{PageRequest, StoreResult};
use crate::domain::account::AccountId;
use crate::domain::drop_list::{DropName, DropQuery, LabelFacts, LabelFeatures, LabelFilter};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// One row of the list as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropListEntry {
    pub domain: String,
    pub domain_unicode: String,
    pub label: String,
    pub zone: String,
    pub drop_time: DateTime<Utc>,
    pub finalization_at: DateTime<Utc>,
    /// The end of the published release window; None for an exact time (or a source that
    /// does not say).
    pub window_end: Option<DateTime<Utc>>,
    pub features: LabelFeatures,
    /// Set when the domain left the registry's list before its drop (restored).
    pub removed_at: Option<DateTime<Utc>>,
}

impl DropListEntry {
    /// A listed (not removed) entry for a validated name.
    pub fn listed(
        name: DropName,
        drop_time: DateTime<Utc>,
        finalization_at: DateTime<Utc>,
    ) -> Self {
        Self {
            domain: name.domain,
            domain_unicode: name.domain_unicode,
            label: name.label,
            zone: name.zone,
            drop_time,
            finalization_at,
            window_end: None,
            features: name.features,
            removed_at: None,
        }
    }

    pub fn facts(&self) -> LabelFacts<'_> {
        LabelFacts {
            label: &self.label,
            zone: &self.zone,
            digits: self.features.digits,
            hyphens: self.features.hyphens,
            idn: self.features.idn,
        }
    }
}

/// What one upserted batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchOutcome {
    /// New on the list: new rows, and restored rows that are scheduled again.
    pub inserted: u64,
    /// Drop time (or finalization time) changed.
    pub updated: u64,
    pub unchanged: u64,
    /// ALERT_MATCH events written (one per account and domain, ever).
    pub alert_events: u64,
}

/// A page of a query: the rows and how many rows match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropPage {
    pub entries: Vec<DropListEntry>,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropAlert {
    pub id: i64,
    pub account: AccountId,
    pub filter: LabelFilter,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait DropListStore: Send + Sync + std::fmt::Debug {
    /// Upserts a batch in one transaction (domains are distinct within a batch) and writes
    /// one ALERT_MATCH event per (account, domain) for names that became listed and match an
    /// alert. Rows whose drop time, finalization time and window end did not change are not
    /// written.
    async fn upsert_drop_batch(
        &self,
        batch: &[DropListEntry],
        now: DateTime<Utc>,
    ) -> StoreResult<BatchOutcome>;

    /// Marks listed names as restored (removed_at = now); rows whose drop time has passed
    /// are left alone: they dropped. Returns how many rows changed.
    async fn mark_drop_removed(&self, domains: &[String], now: DateTime<Utc>) -> StoreResult<u64>;

    /// Refreshes the planner's statistics of the list after a bulk change (PostgreSQL
    /// `ANALYZE` and the trigram index's pending list merged; SQLite `ANALYZE`), so no query
    /// plan waits for autovacuum or runs on the statistics of an empty table.
    async fn refresh_drop_list_statistics(&self) -> StoreResult<()>;

    /// The searchable names (domain, zone): listed and dropping after `now`.
    async fn listed_drop_domains(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, String)>>;

    /// One row, searchable or not (the order scheduler reads drop times through this).
    async fn drop_entry(&self, domain: &str) -> StoreResult<Option<DropListEntry>>;

    /// One page of the searchable rows that match, with the total.
    async fn query_drop_list(
        &self,
        query: &DropQuery,
        first: u64,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<DropPage>;

    /// Every searchable row that matches, in the query's order, through a channel: a
    /// background task streams them so that a large export never sits in memory.
    fn export_drop_list(
        &self,
        query: DropQuery,
        now: DateTime<Utc>,
    ) -> mpsc::Receiver<StoreResult<DropListEntry>>;

    async fn create_drop_alert(
        &self,
        account: AccountId,
        filter: &LabelFilter,
        now: DateTime<Utc>,
    ) -> StoreResult<DropAlert>;

    /// One account's alerts or (None) everyone's, oldest first.
    async fn list_drop_alerts(
        &self,
        account: Option<AccountId>,
        page: PageRequest<i64>,
    ) -> StoreResult<Vec<DropAlert>>;

    /// Deletes an alert of the account (or any alert when None). False when there is none.
    async fn delete_drop_alert(&self, account: Option<AccountId>, id: i64) -> StoreResult<bool>;
}
