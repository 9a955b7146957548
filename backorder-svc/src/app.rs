//! The service as `backorder-svc serve` runs it: storage, clock, the drop-list feed, the
//! scheduler (or the registry clock it follows), the catcher and the gRPC server, wired
//! together. A library function, so the end-to-end harness runs exactly the production wiring
//! in-process.

use crate::clock::{ManualClock, SharedClock, SystemClock};
use crate::config::{ClockKind, ServeArgs};
use crate::supervision::{Part, Supervision};
use crate::usecases::UseCases;
use crate::{bootstrap, catcher, cmdapi, drop_list, lifecycle, server, store, test_environment};
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
    // Every background part runs supervised: a failing step is retried, a dead loop started
    // again, and health (`backorder.<part>`) and `GetServiceStatus` say how each is doing.
    let health = tonic_health::server::HealthReporter::new();
    let supervision = Supervision::new(clock.clone(), Some(health.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |stopped: &tokio::sync::watch::Receiver<bool>| {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    if let Some(url) = args.registry_url.clone() {
        let interval = std::time::Duration::from_secs(args.drop_list_interval.saturating_mul(60));
        let (store, clock, supervision_, stopped_) = (
            store.clone(),
            clock.clone(),
            supervision.clone(),
            stopped.clone(),
        );
        supervision.spawn(
            Part::DropListFeed,
            move || {
                drop_list::feed::run_schedule(
                    store.clone(),
                    clock.clone(),
                    url.clone(),
                    interval,
                    supervision_.clone(),
                    stopped_.clone(),
                )
            },
            stopped.clone(),
        );
    }
    let catcher = match (&args.registry_url, args.catcher_registrars.is_empty()) {
        (Some(url), false) => {
            let registry = Arc::new(
                catcher::SimRegistry::new(url, &args.catcher_registrars, clock.clone())?
                    .keeping_sessions_in(store.clone()),
            );
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
        let (catcher, clock, supervision_, stopped_) = (
            catcher.clone(),
            clock.clone(),
            supervision.clone(),
            stopped.clone(),
        );
        supervision.spawn(
            Part::Catcher,
            move || {
                catcher::runner::run_every(
                    catcher.clone(),
                    clock.clone(),
                    interval,
                    supervision_.clone(),
                    until_stopped(&stopped_),
                )
            },
            stopped.clone(),
        );
    }
    if args.clock == ClockKind::System {
        spawn_scheduler(
            &supervision,
            store.clone(),
            clock.clone(),
            args.scheduler_interval,
            stopped.clone(),
        );
    }
    if let (ClockKind::Registry, Some(manual), Some(url)) =
        (args.clock, manual.clone(), args.registry_url.clone())
    {
        // The scheduler and the catcher step on the registry's ticks, inside the follower.
        supervision.mark_enabled(Part::Scheduler);
        if catcher.is_some() {
            supervision.mark_enabled(Part::Catcher);
        }
        let (store, catcher, supervision_, stopped_) = (
            store.clone(),
            catcher.clone(),
            supervision.clone(),
            stopped.clone(),
        );
        // Told once, on the first stint's first acknowledged tick.
        let joined = Arc::new(std::sync::Mutex::new(hooks.joined_registry_clock.take()));
        supervision.spawn(
            Part::RegistryClock,
            move || {
                let joined = joined.lock().unwrap_or_else(|e| e.into_inner()).take();
                lifecycle::registry_clock::follow(
                    url.clone(),
                    store.clone(),
                    manual.clone(),
                    catcher.clone(),
                    joined,
                    supervision_.clone(),
                    until_stopped(&stopped_),
                )
            },
            stopped.clone(),
        );
    }
    let premium = match (&args.registry_url, &args.registry_login) {
        (Some(url), Some(login)) => Some(Arc::new(lifecycle::premium::RegistryPremiumCheck::new(
            url.clone(),
            login,
        )?)),
        (None, Some(_)) => anyhow::bail!("--registry-login needs --registry-url"),
        _ => None,
    };
    let test = test_environment::start(
        &args,
        database_url,
        hooks.print_operator_key,
        stopped.clone(),
    )
    .await?;
    let http = match args.http_address()? {
        Some(address) => Some(bind("--http-listen", address).await?),
        None => None,
    };
    let test_grpc = match (&test, args.test_address()?) {
        (Some(_), Some(address)) => Some(bind("--test-listen", address).await?),
        _ => None,
    };
    let uc = UseCases::new(store, clock, premium)
        .with_registry_url(args.registry_url)
        .with_supervision(Some(supervision))
        .with_clock_kind(Some(args.clock));
    if let Some(listener) = http {
        let api = cmdapi::CommandApi::new(uc.clone(), test.as_ref().map(|t| t.uc.clone()));
        tracing::info!(
            address = %listener.local_addr()?,
            test_environment = test.is_some(),
            "serving the command API (/api/call.cgi, /ote/api/call.cgi)"
        );
        let until = until_stopped(&stopped);
        tokio::spawn(async move {
            let served = axum::serve(listener, cmdapi::router(Arc::new(api)))
                .with_graceful_shutdown(until)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the command API stopped");
            }
        });
    }
    if let (Some(test), Some(listener)) = (&test, test_grpc) {
        tracing::info!(address = %listener.local_addr()?, "serving the test environment's gRPC API");
        let served = server::run_with(
            listener,
            test.uc.clone(),
            server::Options::default(),
            until_stopped(&stopped),
        );
        tokio::spawn(async move {
            if let Err(error) = served.await {
                tracing::error!(%error, "the test environment's gRPC API stopped");
            }
        });
    }
    let options = server::Options {
        health: Some(health),
    };
    let served = server::run_with(listener, uc, options, async move {
        shutdown.await;
        let _ = stop.send(true);
    })
    .await;
    // Graceful shutdown: the loops are told to stop; end the registry sessions so they do
    // not count against the registry's limit until it times them out.
    // Bounded: a registry out of reach must not hold up the exit (it times them out anyway).
    if let Some(catcher) = catcher
        && tokio::time::timeout(std::time::Duration::from_secs(5), catcher.close())
            .await
            .is_err()
    {
        tracing::warn!("registry sessions not all logged out within 5 s; leaving them to time out");
    }
    served
}

/// The scheduler on the system clock: a pass every `interval_secs`, supervised, until stopped.
pub fn spawn_scheduler(
    supervision: &crate::supervision::SharedSupervision,
    store: store::SharedStore,
    clock: SharedClock,
    interval_secs: u64,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let interval = std::time::Duration::from_secs(interval_secs);
    let (supervision_, stopped_) = (supervision.clone(), stopped.clone());
    supervision.spawn(
        Part::Scheduler,
        move || {
            let mut stopped = stopped_.clone();
            lifecycle::scheduler::run_every(
                store.clone(),
                clock.clone(),
                interval,
                supervision_.clone(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            )
        },
        stopped,
    );
}

async fn bind(flag: &str, address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("{flag} {address}: {e}"))
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
