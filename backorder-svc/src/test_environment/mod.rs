//! The test environment (HEXONET's OT&E, `s_entity=1234`): a second, separate instance of the
//! service's state — its own database, accounts, logins, API keys, orders and money — with its
//! own clock and scheduler, and its own registry simulator when one is configured, reached by
//! the command API (`/ote/api/call.cgi` or `s_entity=1234`) and by its own gRPC listener.
//! Nothing is shared with live but the code.

use crate::config::Settings;
use crate::environment::{self, Environment};
use sqlx::Connection;

pub mod cli;

/// Opens (and on PostgreSQL, when placed automatically, creates) the test environment's
/// database, and starts it like live.
pub async fn start(
    settings: Settings,
    database_setting: &str,
    live_url: &str,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Environment> {
    ensure_database(database_setting, live_url, &settings.database_url).await?;
    let url = crate::app::redact(&settings.database_url);
    let registry = settings.registry.as_ref().map(|r| r.url.clone());
    let started = environment::start(settings, environment::Hooks::default(), stopped).await?;
    tracing::info!(database = %url, registry = ?registry, "test environment on");
    Ok(started)
}

/// Creates the automatically placed (`auto`) PostgreSQL test database on the live server when
/// it is missing; SQLite files are created on connecting, and a database named with
/// --test-database-url is the operator's to create.
pub async fn ensure_database(setting: &str, live_url: &str, url: &str) -> anyhow::Result<()> {
    if setting.trim() != "auto" || !url.starts_with("postgres") {
        return Ok(());
    }
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
        // A second replica may have created it a moment ago (42P04: duplicate_database).
        let duplicate = |error: &sqlx::Error| {
            error
                .as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "42P04")
        };
        if let Err(error) = created
            && !duplicate(&error)
        {
            return Err(error.into());
        }
    }
    Ok(())
}
