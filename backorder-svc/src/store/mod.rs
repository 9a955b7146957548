//! Persistence: one interface, two sqlx backends. SQLite is the embedded default (zero
//! setup); PostgreSQL serves production and several replicas. Both backends compile the same
//! SQL from `sql.rs` (see the backend modules for why), with migrations per backend.

pub mod auctions;
pub mod catching;
pub mod drop_list;
mod drop_list_bulk;
mod ledger_error;
pub mod logins;
pub mod orders;
mod postgres;
mod sqlite;

use crate::domain::account::{Account, AccountId, AccountState, PriceTier};
use crate::domain::catalog::{BackorderClass, Tld, TldName};
use crate::domain::event::{Event, NewEvent};
use crate::domain::ledger::snapshot::LedgerSnapshot;
use crate::domain::ledger::{BalanceView, MovementRequest, Transfer, TransferKind};
use crate::domain::money::{Currency, Money};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
pub use drop_list::{DropListEntry, DropListStore};
pub use ledger_error::LedgerError;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database URL: {0}")]
    BadUrl(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A failure that says nothing about the request and goes away when the transaction is
    /// run again: a PostgreSQL serialization failure (SQLSTATE 40001) or deadlock (40P01), or
    /// SQLite's BUSY/LOCKED. Retried inside the service, then answered `UNAVAILABLE`.
    pub fn is_transient(&self) -> bool {
        let Self::Database(error) = self else {
            return false;
        };
        let Some(db) = error.as_database_error() else {
            return false;
        };
        let code = db.code();
        let code = code.as_deref().unwrap_or("");
        // SQLite reports extended result codes: the primary code is the low byte.
        let sqlite_busy = || code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6));
        match db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            Some(_) => matches!(code, "40001" | "40P01"),
            None => sqlite_busy(),
        }
    }

    /// A number out of the database's range: PostgreSQL's SQLSTATE 22003 or SQLite's
    /// "integer overflow". The amount bounds keep these from happening; should one still
    /// happen it is the request's amount, never an internal error.
    pub fn is_out_of_range(&self) -> bool {
        let Self::Database(error) = self else {
            return false;
        };
        error.as_database_error().is_some_and(|db| {
            db.code().as_deref() == Some("22003") || db.message().contains("integer overflow")
        })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A new client account as the operator asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub display_name: String,
    pub currency: Currency,
    pub price_tier: PriceTier,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountChanges {
    pub display_name: Option<String>,
    pub price_tier: Option<PriceTier>,
    pub state: Option<AccountState>,
}

/// An idempotency key for a call that is not a money movement (e.g. opening an account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub scope: String,
    pub request_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    Account,
    Operator,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Operator => "operator",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub role: KeyRole,
    pub account_id: Option<AccountId>,
    pub label: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub role: KeyRole,
    pub account_id: Option<AccountId>,
    pub label: String,
    pub prefix: String,
    pub secret_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceKey {
    pub tier: PriceTier,
    pub tld: TldName,
    pub class: BackorderClass,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub key: PriceKey,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PriceFilter {
    pub tier: Option<String>,
    pub tld: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransferFilter {
    pub kinds: Vec<TransferKind>,
    pub backorder_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub account_id: Option<i64>,
    pub backorder_id: Option<i64>,
    pub domain: Option<String>,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub transfer_id: Option<i64>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub backorder_id: Option<i64>,
    pub domain: Option<String>,
}

/// Keyset paging: rows after `after` (an id or key), at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<K> {
    pub after: Option<K>,
    pub limit: u32,
}

/// What opening an account returned, and whether it was a replay of an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCreation {
    Created(Account),
    Replayed(Account),
    /// The request id was used before for a different request.
    Conflict,
}

#[async_trait]
pub trait Store:
    DropListStore
    + orders::OrderStore
    + auctions::AuctionStore
    + catching::CatchStore
    + logins::LoginStore
    + Send
    + Sync
    + std::fmt::Debug
{
    fn backend(&self) -> Backend;

    // Accounts.
    async fn create_account(
        &self,
        new: NewAccount,
        idempotency: Option<IdempotencyKey>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<AccountCreation>;
    async fn get_account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn list_accounts(&self, page: PageRequest<i64>) -> StoreResult<(Vec<Account>, i64)>;
    async fn update_account(
        &self,
        id: AccountId,
        changes: AccountChanges,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>>;

    // Ledger.
    /// Applies one movement with its idempotency record and audit row in one transaction.
    async fn execute_movement(
        &self,
        request: MovementRequest,
        now: DateTime<Utc>,
    ) -> Result<Transfer, LedgerError>;
    async fn balance(&self, account: AccountId) -> StoreResult<Option<BalanceView>>;
    /// The client's transfers, newest first.
    async fn list_transfers(
        &self,
        account: AccountId,
        filter: TransferFilter,
        page: PageRequest<i64>,
    ) -> StoreResult<Vec<Transfer>>;
    async fn get_transfer(&self, id: i64) -> StoreResult<Option<Transfer>>;
    /// The whole ledger in one consistent read, for the invariant checks.
    async fn ledger_snapshot(&self) -> StoreResult<LedgerSnapshot>;

    // API keys.
    async fn insert_api_key(&self, key: NewApiKey, now: DateTime<Utc>)
    -> StoreResult<ApiKeyRecord>;
    /// Inserts the key only if no operator key exists yet (first start). None otherwise.
    async fn insert_first_operator_key(
        &self,
        key: NewApiKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyRecord>>;
    async fn find_api_key_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    async fn get_api_key(&self, id: i64) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(
        &self,
        account: Option<AccountId>,
        page: PageRequest<i64>,
    ) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn revoke_api_key(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyRecord>>;

    // Catalog and prices.
    /// Loads the shipped catalog once, on the first start of a database.
    async fn seed_catalog_once(&self, tlds: &[Tld], prices: &[Price]) -> StoreResult<bool>;
    async fn list_tlds(&self, page: PageRequest<String>) -> StoreResult<(Vec<Tld>, i64)>;
    async fn get_tld(&self, name: &TldName) -> StoreResult<Option<Tld>>;
    async fn upsert_tld(&self, tld: &Tld, actor: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_tld(
        &self,
        name: &TldName,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn list_prices(
        &self,
        filter: PriceFilter,
        page: PageRequest<u32>,
    ) -> StoreResult<Vec<Price>>;
    async fn get_price(&self, key: &PriceKey) -> StoreResult<Option<Price>>;
    async fn set_price(&self, price: &Price, actor: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_price(
        &self,
        key: &PriceKey,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    // Events.
    /// Appends one event on its own (changes append theirs inside their own transaction).
    async fn append_event(&self, event: &NewEvent) -> StoreResult<Option<i64>>;
    /// Events after the cursor `after`, oldest first; one account's or (None) everyone's.
    async fn list_events(
        &self,
        account: Option<AccountId>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    // Audit log.
    async fn list_audit(
        &self,
        filter: AuditFilter,
        page: PageRequest<i64>,
    ) -> StoreResult<Vec<AuditEntry>>;
}

pub type SharedStore = Arc<dyn Store>;

/// Opens (creating if needed) and migrates the database named by `url`:
/// `sqlite://path` / `sqlite::memory:` or `postgres://...`.
pub async fn connect(url: &str) -> StoreResult<SharedStore> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqlStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::SqlStore::connect(url).await?))
    } else {
        Err(StoreError::BadUrl(format!(
            "{url:?}: expected sqlite://PATH or postgres://..."
        )))
    }
}
