//! The test environment (HEXONET's OT&E, `s_entity=1234`): a second, separate instance of the
//! service's state — its own database, accounts, logins, API keys, orders and money — with its
//! own clock and scheduler, reached by the command API (`/ote/api/call.cgi` or
//! `s_entity=1234`) and by its own gRPC listener. Nothing is shared with live but the code.

use crate::clock::{ManualClock, SharedClock, SystemClock};
use crate::config::{ClockKind, ServeArgs};
use crate::supervision::Supervision;
use crate::usecases::UseCases;
use crate::{bootstrap, store};
use sqlx::Connection;
use std::sync::Arc;

/// A started test environment: its use cases (for the command API and its gRPC listener).
pub struct TestEnvironment {
    pub uc: UseCases,
    pub url: String,
}

/// Opens (and on PostgreSQL, when placed automatically, creates) the test environment's
/// database, bootstraps it, and starts its scheduler. None when it is `off`.
pub async fn start(
    args: &ServeArgs,
    live_url: &str,
    print_operator_key: bool,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<TestEnvironment>> {
    let Some(url) = args.test_database(live_url)? else {
        return Ok(None);
    };
    if args.test_database_url.trim() == "auto" && url.starts_with("postgres") {
        create_postgres_database(live_url, &url).await?;
    }
    let store = store::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("the test environment's database: {e}"))?;
    // Its own clock: a manual one moved by its own OperatorService (moving the test
    // environment's time must never move live's), or the system clock.
    let clock: SharedClock = match args.clock {
        ClockKind::System => Arc::new(SystemClock),
        ClockKind::Manual | ClockKind::Registry => Arc::new(ManualClock::new(
            args.clock_start.unwrap_or_else(chrono::Utc::now),
        )),
    };
    store.set_auction_settings(&args.auction_rules()?).await?;
    let first = bootstrap::first_start(&store, &clock).await?;
    if let Some(secret) = first.operator_secret
        && print_operator_key
    {
        println!("Test environment operator API key (shown once, keep it safe): {secret}");
    }
    let supervision = Supervision::new(clock.clone(), None);
    if args.clock == ClockKind::System {
        crate::app::spawn_scheduler(
            &supervision,
            store.clone(),
            clock.clone(),
            args.scheduler_interval,
            stopped,
        );
    }
    let kind = match args.clock {
        ClockKind::System => ClockKind::System,
        _ => ClockKind::Manual,
    };
    let uc = UseCases::new(store, clock, None)
        .with_supervision(Some(supervision))
        .with_clock_kind(Some(kind));
    tracing::info!(database = %crate::app::redact(&url), "test environment on");
    Ok(Some(TestEnvironment { uc, url }))
}

/// `CREATE DATABASE` for the automatically placed test database, on the live server.
async fn create_postgres_database(live_url: &str, url: &str) -> anyhow::Result<()> {
    let name = url
        .split('?')
        .next()
        .and_then(|base| base.rsplit('/').next())
        .unwrap_or_default();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        anyhow::bail!(
            "the test environment's database name `{name}` needs only letters, digits and `_`; \
             name one with --test-database-url"
        );
    }
    let mut admin = sqlx::PgConnection::connect(live_url).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await;
        // A second replica may have created it a moment ago.
        if let Err(error) = created
            && !error.to_string().contains("already exists")
        {
            return Err(error.into());
        }
    }
    Ok(())
}
