//! One environment of the service (live, or the test environment): its store and clock, and
//! the supervised parts that work on them — the drop-list feed, the catcher, the scheduler
//! (or the registry clock it follows) — behind one set of use cases. `app::serve` starts live
//! and the test environment with this same function, so the test environment races its
//! registry simulator exactly as live races its registry.

use crate::catcher::{self, Catcher};
use crate::clock::{ManualClock, SharedClock, SystemClock};
use crate::config::{ClockKind, Settings};
use crate::supervision::{Part, SharedSupervision, Supervision};
use crate::usecases::UseCases;
use crate::{bootstrap, drop_list, lifecycle, store};
use std::sync::Arc;
use tokio::sync::watch;

/// A started environment.
pub struct Environment {
    pub uc: UseCases,
    /// The operator key of a database opened for the first time (shown once).
    pub operator_secret: Option<String>,
    catcher: Option<Arc<Catcher>>,
    label: &'static str,
}

/// What the caller of `start` wants to hear about.
#[derive(Debug, Default)]
pub struct Hooks {
    /// The reporter behind the gRPC health service (live only: one health service a port).
    pub health: Option<tonic_health::server::HealthReporter>,
    /// Told once the environment follows the registry clock (`--clock registry`).
    pub joined_registry_clock: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Opens the environment's database (bootstrapping a new one), and starts its parts; they run
/// until `stopped` turns true.
pub async fn start(
    settings: Settings,
    hooks: Hooks,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<Environment> {
    let kind = settings.environment;
    let label = kind.as_str();
    let registry = settings.registry.clone();
    let manual = match settings.clock {
        ClockKind::System => None,
        ClockKind::Manual => Some(Arc::new(ManualClock::new(
            settings.clock_start.unwrap_or_else(chrono::Utc::now),
        ))),
        ClockKind::Registry => {
            let url = &registry
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("{label}: the registry clock needs a registry"))?
                .url;
            let start = lifecycle::registry_clock::registry_now(url).await?;
            Some(Arc::new(ManualClock::new(start)))
        }
    };
    let clock: SharedClock = match &manual {
        Some(manual) => manual.clone(),
        None => Arc::new(SystemClock),
    };
    let store = store::connect(&settings.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("the {label} environment's database: {e}"))?;
    store.set_auction_settings(&settings.auction_rules).await?;
    let first = bootstrap::first_start(&store, &clock).await?;
    if first.catalog_loaded {
        tracing::info!(
            environment = label,
            "loaded the default TLD catalog and price list"
        );
    }
    // Every background part runs supervised: a failing step is retried, a dead loop started
    // again, and health (`backorder.<part>`) and `GetServiceStatus` say how each is doing.
    let supervision = Supervision::new(clock.clone(), hooks.health);
    let mut premium = None;
    let mut catcher = None;
    if let Some(registry) = &registry {
        spawn_drop_list_feed(
            &supervision,
            store.clone(),
            clock.clone(),
            registry,
            stopped.clone(),
        );
        catcher = open_catcher(store.clone(), clock.clone(), registry, label)?;
        if let Some(login) = &registry.login {
            premium = Some(Arc::new(lifecycle::premium::RegistryPremiumCheck::new(
                registry.url.clone(),
                login,
            )?));
        }
    }
    match (settings.clock, &manual, &registry) {
        (ClockKind::Registry, Some(manual), Some(registry)) => {
            // The scheduler and the catcher step on the registry's ticks, inside the follower.
            spawn_registry_clock(
                &supervision,
                store.clone(),
                manual.clone(),
                catcher.clone(),
                registry.url.clone(),
                hooks.joined_registry_clock,
                stopped.clone(),
            );
        }
        (clock_kind, _, _) => {
            if let (Some(catcher), Some(registry)) = (&catcher, &registry) {
                spawn_catcher(
                    &supervision,
                    catcher.clone(),
                    clock.clone(),
                    registry.catcher_interval_ms,
                    stopped.clone(),
                );
            }
            if clock_kind == ClockKind::System {
                spawn_scheduler(
                    &supervision,
                    store.clone(),
                    clock.clone(),
                    settings.scheduler_interval,
                    stopped,
                );
            }
        }
    }
    let uc = UseCases::new(store, clock, premium)
        .with_registry_url(registry.map(|r| r.url))
        .with_supervision(Some(supervision))
        .with_clock_kind(Some(settings.clock))
        .with_environment(kind);
    Ok(Environment {
        uc,
        operator_secret: first.operator_secret,
        catcher,
        label,
    })
}

impl Environment {
    /// Ends the catcher's registry sessions, so they do not count against the registry's
    /// limit until it times them out. Bounded: a registry out of reach must not hold up the
    /// exit (it times them out anyway).
    pub async fn close(self) {
        if let Some(catcher) = self.catcher
            && tokio::time::timeout(std::time::Duration::from_secs(5), catcher.close())
                .await
                .is_err()
        {
            tracing::warn!(
                environment = self.label,
                "registry sessions not all logged out within 5 s; leaving them to time out"
            );
        }
    }
}

/// The catcher over the configured accreditations, or None without any.
fn open_catcher(
    store: store::SharedStore,
    clock: SharedClock,
    registry: &crate::config::RegistrySettings,
    label: &'static str,
) -> anyhow::Result<Option<Arc<Catcher>>> {
    if registry.catcher_registrars.is_empty() {
        return Ok(None);
    }
    let sessions = Arc::new(
        catcher::SimRegistry::new(&registry.url, &registry.catcher_registrars, clock)?
            .keeping_sessions_in(store.clone()),
    );
    // Sessions open in the background (a registry that is down must not hold up the start);
    // whatever fails is retried when a step needs the session.
    let opening = sessions.clone();
    tokio::spawn(async move {
        if let Err(error) = opening.login_all().await {
            tracing::warn!(environment = label, %error, "catcher sessions not opened yet; retrying on use");
        }
    });
    tracing::info!(
        environment = label,
        accreditations = registry.catcher_registrars.len(),
        grace_secs = registry.catch_grace.num_seconds(),
        "catcher on"
    );
    Ok(Some(Arc::new(Catcher::new(
        store,
        sessions,
        registry.catch_grace,
    ))))
}

/// A future that ends once `stopped` turns true.
pub fn until_stopped(stopped: &watch::Receiver<bool>) -> impl Future<Output = ()> + use<> {
    let mut stopped = stopped.clone();
    async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    }
}

fn spawn_drop_list_feed(
    supervision: &SharedSupervision,
    store: store::SharedStore,
    clock: SharedClock,
    registry: &crate::config::RegistrySettings,
    stopped: watch::Receiver<bool>,
) {
    let url = registry.url.clone();
    let interval = std::time::Duration::from_secs(registry.drop_list_interval.saturating_mul(60));
    let (supervision_, stopped_) = (supervision.clone(), stopped.clone());
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
        stopped,
    );
}

fn spawn_catcher(
    supervision: &SharedSupervision,
    catcher: Arc<Catcher>,
    clock: SharedClock,
    interval_ms: u64,
    stopped: watch::Receiver<bool>,
) {
    let interval = std::time::Duration::from_millis(interval_ms);
    let (supervision_, stopped_) = (supervision.clone(), stopped.clone());
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
        stopped,
    );
}

fn spawn_registry_clock(
    supervision: &SharedSupervision,
    store: store::SharedStore,
    manual: Arc<ManualClock>,
    catcher: Option<Arc<Catcher>>,
    url: String,
    joined: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: watch::Receiver<bool>,
) {
    supervision.mark_enabled(Part::Scheduler);
    if catcher.is_some() {
        supervision.mark_enabled(Part::Catcher);
    }
    let (supervision_, stopped_) = (supervision.clone(), stopped.clone());
    // Told once, on the first stint's first acknowledged tick.
    let joined = Arc::new(std::sync::Mutex::new(joined));
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
        stopped,
    );
}

/// The scheduler on the system clock: a pass every `interval_secs`, supervised, until stopped.
fn spawn_scheduler(
    supervision: &SharedSupervision,
    store: store::SharedStore,
    clock: SharedClock,
    interval_secs: u64,
    stopped: watch::Receiver<bool>,
) {
    let interval = std::time::Duration::from_secs(interval_secs);
    let (supervision_, stopped_) = (supervision.clone(), stopped.clone());
    supervision.spawn(
        Part::Scheduler,
        move || {
            lifecycle::scheduler::run_every(
                store.clone(),
                clock.clone(),
                interval,
                supervision_.clone(),
                until_stopped(&stopped_),
            )
        },
        stopped,
    );
}
