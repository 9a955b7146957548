//! The service as `backorder-svc serve` runs it: storage, clock, the drop-list feed, the
//! scheduler (or the registry clock it follows), the catcher and the gRPC server, wired
//! together. A library function, so the end-to-end harness runs exactly the production wiring
//! in-process.

use crate::api::Context;
use crate::clock::{ManualClock, SharedClock, SystemClock};
use crate::config::{ClockKind, ServeArgs};
use crate::{bootstrap, catcher, drop_list, lifecycle, server, store};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What an embedding caller wants to hear about.
#[derive(Debug, Default)]
pub struct Hooks {
    /// Print a new database's operator key on stdout (the binary does; tests create their own).
    pub print_operator_key: bool,
    /// Told once the service follows the registry clock (`--clock registry`): from then on
    /// every advance of the simulator waits for this service.
    pub joined_registry_clock: Option<tokio::sync::oneshot::Sender<()>>,
}

pub async fn serve(
    database_url: &str,
    args: ServeArgs,
    listener: TcpListener,
    mut hooks: Hooks,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if !args.catcher_registrars.is_empty() && args.registry_url.is_none() {
        anyhow::bail!("--catcher-registrar needs --registry-url (the registry to catch at)");
    }
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
    let auction_rules = args.auction_rules()?;
    let store = store::connect(database_url).await?;
    store.set_auction_settings(&auction_rules).await?;
    let first = bootstrap::first_start(&store, &clock).await?;
    if first.catalog_loaded {
        tracing::info!("loaded the default TLD catalog and price list");
    }
    if let Some(secret) = first.operator_secret {
        // Shown once: the database keeps only its hash.
        if hooks.print_operator_key {
            println!("Operator API key (shown once, keep it safe): {secret}");
        }
    }
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
    let catcher = match (&args.registry_url, args.catcher_registrars.is_empty()) {
        (Some(url), false) => {
            let registry = Arc::new(catcher::SimRegistry::new(
                url,
                &args.catcher_registrars,
                clock.clone(),
            )?);
            // Sessions open in the background (a registry that is down must not hold up the
            // start); whatever fails is retried when a step needs the session.
            let opening = registry.clone();
            tokio::spawn(async move {
                if let Err(error) = opening.login_all().await {
                    tracing::warn!(%error, "catcher sessions not opened yet; retrying on use");
                }
            });
            tracing::info!(
                accreditations = args.catcher_registrars.len(),
                grace_secs = args.catch_grace.num_seconds(),
                "catcher on"
            );
            Some(Arc::new(catcher::Catcher::new(
                store.clone(),
                registry,
                args.catch_grace,
            )))
        }
        _ => None,
    };
    if let (Some(catcher), false) = (&catcher, args.clock == ClockKind::Registry) {
        let interval = std::time::Duration::from_millis(args.catcher_interval_ms);
        let mut stopped = stop_feed.subscribe();
        tokio::spawn(catcher::runner::run_every(
            catcher.clone(),
            clock.clone(),
            interval,
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
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
        let joined = hooks.joined_registry_clock.take();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) =
                lifecycle::registry_clock::follow(url, store, manual, catcher, joined, shutdown)
                    .await
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
        shutdown.await;
        let _ = stop_feed.send(true);
    })
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
