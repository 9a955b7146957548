//! Persistence of backorders: placing, reading, listing, and every status change as one
//! transaction with its money movement, audit row and event. The rules (which transitions
//! exist, what the scheduler does when) live in `domain::lifecycle`; this layer refuses
//! anything that table does not allow.

use super::LedgerError;
use super::{IdempotencyKey, StoreError, StoreResult};
use crate::domain::account::AccountId;
use crate::domain::catalog::BackorderClass;
use crate::domain::lifecycle::{FailureReason, Schedule, Status, Step};
use crate::domain::money::Money;
use crate::domain::name::DomainName;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    pub owner: String,
    pub admin: String,
    pub tech: String,
    pub billing: String,
}

/// An order as stored, with its domain's schedule from the drop list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backorder {
    pub id: i64,
    pub account: AccountId,
    pub domain: String,
    pub domain_unicode: String,
    pub tld: String,
    pub class: BackorderClass,
    pub status: Status,
    pub failure_reason: Option<FailureReason>,
    pub price: Money,
    pub hold_id: Option<i64>,
    /// The auction this order holds a seat in.
    pub auction_id: Option<i64>,
    pub post_drop: bool,
    pub contacts: Contacts,
    pub auth_code_wish: String,
    pub extensions: BTreeMap<String, String>,
    pub client_reference: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub schedule: Schedule,
}

/// A validated order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackorder {
    pub account: AccountId,
    pub domain: DomainName,
    /// The catalog entry it is placed under ("com", "co.uk", or "co" for a third level).
    pub tld: String,
    pub class: BackorderClass,
    pub price: Money,
    pub contacts: Contacts,
    pub auth_code_wish: String,
    pub extensions: BTreeMap<String, String>,
    pub client_reference: String,
    /// A lite post-drop order: its price is held at placement.
    pub post_drop: bool,
}

impl NewBackorder {
    /// What makes two create requests the same request (for idempotency).
    pub fn fingerprint(&self) -> String {
        format!(
            "create_backorder|{}|{}|{}|{}|{:?}|{}|{:?}|{}|{}",
            self.account,
            self.domain.ascii(),
            self.class.as_str(),
            self.price.minor,
            self.contacts,
            self.auth_code_wish,
            self.extensions,
            self.client_reference,
            self.post_drop
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A new order, and the caller's open orders for the domain (this one included).
    Created {
        order: Backorder,
        open_for_domain: i64,
    },
    /// An existing order returned: a retry with the same request id, or a duplicate refused
    /// by `allow_duplicate = false`.
    Existing {
        order: Backorder,
        open_for_domain: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    CreateTime,
    FinalizationTime,
    Domain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackorderFilter {
    pub account: Option<AccountId>,
    pub statuses: Vec<Status>,
    pub class: Option<BackorderClass>,
    /// SQL LIKE pattern on the A-label (already translated from `*` / `?`).
    pub domain_like: Option<String>,
    pub order_by: OrderBy,
    pub descending: bool,
    pub offset: u32,
    pub limit: u32,
}

/// What one scheduler step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The order moved to this status.
    Moved(Status),
    /// A catch-up after finalization: the price was held and the order finalized, each
    /// change audited, in one transaction (REQUESTED, ACTIVE, PROCESSING).
    HeldAndFinalized,
    /// Funds were short: the order stays REQUESTED; `warned` is true the first time.
    FundsShort { warned: bool },
    /// Another scheduler handled it, or it changed in the meantime: nothing done.
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("backorder {0} not found")]
    NotFound(i64),
    #[error("backorder {id} is {status}; {action} needs REQUESTED or ACTIVE")]
    NotOpen {
        id: i64,
        status: &'static str,
        action: &'static str,
    },
    #[error("backorder {id}: finalization passed at {at}; it can no longer be {action}")]
    FinalizationPassed {
        id: i64,
        at: DateTime<Utc>,
        action: &'static str,
    },
    #[error("request_id: {0:?} was already used for a different request")]
    IdempotencyConflict(String),
    /// A daily deal for a drop that is decided, or that a valid order already wants.
    #[error("domain: {domain} {why}; no daily deal is sold for it")]
    DailyDealClosed { domain: String, why: &'static str },
    #[error("transition {from} -> {to} is not in the lifecycle table")]
    NotAllowed {
        from: &'static str,
        to: &'static str,
    },
    #[error(transparent)]
    Ledger(LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LedgerError> for OrderError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Store(store) => Self::Store(store),
            other => Self::Ledger(other),
        }
    }
}

impl From<sqlx::Error> for OrderError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}

#[async_trait]
pub trait OrderStore {
    /// Places an order (and, for a post-drop lite order, holds its price) in one transaction.
    async fn create_backorder(
        &self,
        new: NewBackorder,
        idempotency: Option<IdempotencyKey>,
        allow_duplicate: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Placement, OrderError>;
    /// The order a create request id already placed, with the caller's open orders for its
    /// domain: a retry is answered from it before the request is validated again (it may no
    /// longer pass, e.g. after finalization). `None` when the id is unused or names another
    /// kind of request.
    async fn backorder_for_request(
        &self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<(Backorder, i64)>>;
    async fn get_backorder(&self, id: i64) -> StoreResult<Option<Backorder>>;
    async fn list_backorders(&self, filter: BackorderFilter) -> StoreResult<(Vec<Backorder>, i64)>;
    /// Orders for a domain held before its finalization and now PROCESSING: the valid
    /// orders that close it to daily deals (other daily deals do not).
    async fn count_valid_orders(&self, domain: &str) -> StoreResult<i64>;
    /// The domain's schedule as the drop list has it.
    async fn domain_schedule(&self, domain: &str, tld: &str) -> StoreResult<Schedule>;
    async fn cancel_backorder(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Backorder, OrderError>;
    /// Prepays an order. With a request id the outcome is remembered: a retry gets the first
    /// answer, a refusal for funds included (spec/ledger.md, "Idempotency").
    async fn pay_backorder(
        &self,
        id: i64,
        idempotency: Option<IdempotencyKey>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Backorder, OrderError>;
    async fn update_backorder(
        &self,
        id: i64,
        contacts: Option<Contacts>,
        auth_code_wish: Option<String>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Backorder, OrderError>;
    /// Every REQUESTED or ACTIVE order with its schedule: the scheduler's work list.
    async fn open_backorders(&self) -> StoreResult<Vec<Backorder>>;
    /// A page of them: ids above `after`, at most `limit`, by id. The scheduler reads its
    /// work list page by page, so a pass holds one page in memory however many orders are
    /// open.
    async fn open_backorders_page(&self, after: i64, limit: u32) -> StoreResult<Vec<Backorder>>;
    /// Carries out one scheduler step for one order, if it is still due (re-checked under
    /// the order's lock, so racing schedulers never handle an order twice).
    async fn apply_step(
        &self,
        id: i64,
        step: Step,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<StepOutcome, OrderError>;
}
