//! `backorder-svc [serve]` and `backorder-svc create-operator-key`.

use backorder_svc::api::Context;
use backorder_svc::clock::{ManualClock, SharedClock, SystemClock};
use backorder_svc::config::{Cli, ClockKind, Command, ServeArgs};
use backorder_svc::{bootstrap, server, store};
use clap::Parser;
use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(&cli.database_url, args).await,
        Command::CreateOperatorKey { label } => {
            let store = store::connect(&cli.database_url).await?;
            let clock: SharedClock = Arc::new(SystemClock);
            let secret = bootstrap::create_operator_key(&store, &clock, &label).await?;
            println!("{secret}");
            Ok(())
        }
    }
}

async fn serve(database_url: &str, args: ServeArgs) -> anyhow::Result<()> {
    let clock: SharedClock = match args.clock {
        ClockKind::System => Arc::new(SystemClock),
        ClockKind::Manual => Arc::new(ManualClock::new(
            args.clock_start.unwrap_or_else(chrono::Utc::now),
        )),
    };
    let store = store::connect(database_url).await?;
    let first = bootstrap::first_start(&store, &clock).await?;
    if first.catalog_loaded {
        tracing::info!("loaded the default TLD catalog and price list");
    }
    if let Some(secret) = first.operator_secret {
        // Shown once: the database keeps only its hash.
        println!("Operator API key (shown once, keep it safe): {secret}");
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, database = %redact(database_url), clock = ?args.clock, "serving gRPC");
    server::run(
        listener,
        Context { store, clock },
        server::shutdown_signal(),
    )
    .await
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
