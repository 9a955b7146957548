//! The PostgreSQL backend, for production and several replicas on one database.
//! The shared SQL is in `sql.rs`; see `sqlite.rs` for why both compile the same text.

use super::{Backend, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Order rows are locked for the length of their transaction; a scheduler skips rows
/// another replica holds instead of waiting, so no order is handled twice.
const ORDER_LOCK: &str = " FOR UPDATE OF b";
const ACCOUNT_LOCK: &str = " FOR UPDATE OF l";
const ORDER_LOCK_SKIP: &str = " FOR UPDATE OF b SKIP LOCKED";
const AUCTION_LOCK: &str = " FOR UPDATE";
/// A drop's list row: taken by the catcher writing a create ahead and by whoever records the
/// drop's result, so a result never slips in beside a create that is about to leave.
const DROP_LOCK: &str = " FOR UPDATE";

type Db = sqlx::Postgres;
const BACKEND: Backend = Backend::Postgres;

#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: sqlx::Pool<Db>,
}

impl SqlStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("{url:?}: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Read committed: the guarded counter updates in `sql.rs` re-check funds under the row
    /// lock, so concurrent writers cannot overspend.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        self.pool.begin().await
    }

    /// The invariant checks read many tables: one snapshot for all of them.
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
    }

    /// Event ids come from a sequence, and sequences hand out ids before commit: without this
    /// lock a stream reader could pass a cursor whose lower neighbour commits later. The lock
    /// is held to the end of the transaction, so event ids become visible in order.
    async fn lock_event_sequence(
        tx: &mut sqlx::Transaction<'static, Db>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock(7001)")
            .execute(&mut **tx)
            .await?;
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
