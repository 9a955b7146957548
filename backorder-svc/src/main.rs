//! `backorder-svc [serve]`, `backorder-svc create-operator-key` and
//! `backorder-svc import-drop-list`.

use backorder_svc::api::Context;
use backorder_svc::clock::{ManualClock, SharedClock, SystemClock};
use backorder_svc::config::{
    Cli, ClockKind, Command, DropListFormat, ImportDropListArgs, ServeArgs,
};
use backorder_svc::{bootstrap, catalog, drop_list, lifecycle, server, store};
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
        Command::ImportDropList(args) => import_drop_list(&cli.database_url, args).await,
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
    let manual = match args.clock {
        ClockKind::System => None,
        ClockKind::Manual => Some(Arc::new(ManualClock::new(
            args.clock_start.unwrap_or_else(chrono::Utc::now),
        ))),
        ClockKind::Registry => {
            let url = args.registry_url.as_deref().ok_or_else(|| {
                anyhow::anyhow!("--clock registry needs --registry-url (the simulator to follow)")
            })?;
            let start = lifecycle::registry_clock::registry_now(url).await?;
            Some(Arc::new(ManualClock::new(start)))
        }
    };
    let clock: SharedClock = match &manual {
        Some(manual) => manual.clone(),
        None => Arc::new(SystemClock),
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
    let (stop_feed, feed_stopped) = tokio::sync::watch::channel(false);
    if let Some(url) = args.registry_url.clone() {
        let interval = std::time::Duration::from_secs(args.drop_list_interval * 60);
        tokio::spawn(drop_list::feed::run_schedule(
            store.clone(),
            clock.clone(),
            url,
            interval,
            feed_stopped,
        ));
    }
    if args.clock == ClockKind::System {
        let interval = std::time::Duration::from_secs(args.scheduler_interval);
        let mut stopped = stop_feed.subscribe();
        tokio::spawn(lifecycle::scheduler::run_every(
            store.clone(),
            clock.clone(),
            interval,
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ));
    }
    if let (ClockKind::Registry, Some(manual), Some(url)) =
        (args.clock, manual.clone(), args.registry_url.clone())
    {
        let mut stopped = stop_feed.subscribe();
        let store = store.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) =
                lifecycle::registry_clock::follow(url, store, manual, None, shutdown).await
            {
                tracing::error!(%error, "lost the registry clock; time stands still until restart");
            }
        });
    }
    let premium = match (&args.registry_url, &args.registry_login) {
        (Some(url), Some(login)) => Some(Arc::new(lifecycle::premium::RegistryPremiumCheck::new(
            url.clone(),
            login,
        )?)),
        (None, Some(_)) => anyhow::bail!("--registry-login needs --registry-url"),
        _ => None,
    };
    let options = server::Options {
        registry_url: args.registry_url,
        premium,
    };
    server::run_with(listener, Context { store, clock }, options, async move {
        server::shutdown_signal().await;
        let _ = stop_feed.send(true);
    })
    .await
}

/// `import-drop-list FILE`: the catalog must exist for the zones' finalization leads.
async fn import_drop_list(database_url: &str, args: ImportDropListArgs) -> anyhow::Result<()> {
    let store = store::connect(database_url).await?;
    let (tlds, prices) = catalog::parse(catalog::DEFAULT_CATALOG)?;
    store.seed_catalog_once(&tlds, &prices).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let format = args.format.map(|f| match f {
        DropListFormat::HexonetZip => drop_list::FileFormat::HexonetZip,
        DropListFormat::Csv => drop_list::FileFormat::Csv,
    });
    let report = drop_list::cli::import_file(&store, &clock, &args.file, format, args.full).await?;
    print!("{}", drop_list::cli::summary(&report));
    Ok(())
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
