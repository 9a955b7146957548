//! The SQLite backend: the embedded default, created and migrated on first start.
//!
//! Both backends compile the same SQL (`sql.rs`) against their own sqlx driver types. The SQL
//! is written in the common dialect of both (`$n` parameters, `RETURNING`, `ON CONFLICT`,
//! integer microsecond times); what truly differs (connecting, how a write transaction
//! begins, isolation for consistent reads) lives here. Native drivers instead of `sqlx::Any`
//! keep each database's own types, errors and tuning.

use super::{Backend, StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// SQLite has no row locks: `BEGIN IMMEDIATE` already serializes every writer.
const ORDER_LOCK: &str = "";
const ACCOUNT_LOCK: &str = "";
const ORDER_LOCK_SKIP: &str = "";
const AUCTION_LOCK: &str = "";
const DROP_LOCK: &str = "";

type Db = sqlx::Sqlite;
const BACKEND: Backend = Backend::Sqlite;

#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: sqlx::Pool<Db>,
}

impl SqlStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("{url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        // An in-memory database exists once per connection: keep exactly one.
        let connections = if url.contains(":memory:") { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Write transactions take the write lock up front: a deferred transaction that reads
    /// and then writes could fail with SQLITE_BUSY when another writer got in between.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// A read transaction sees one snapshot of the database (WAL mode).
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        self.pool.begin().await
    }

    /// SQLite writers are serialized by `BEGIN IMMEDIATE`: event ids commit in order already.
    async fn lock_event_sequence(
        _tx: &mut sqlx::Transaction<'static, Db>,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

include!("sql.rs");
include!("drop_list_sql.rs");
include!("orders_sql.rs");
include!("allocation_sql.rs");
include!("auctions_sql.rs");
include!("catching_sql.rs");
include!("logins_sql.rs");
