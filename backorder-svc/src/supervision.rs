//! Supervised background work: the scheduler, the catcher, the drop-list feed and the
//! registry clock follower each run as a named part. A step that fails is logged with its
//! cause and retried later; a step that panics is caught and counted like a failure; a
//! loop that dies is started again after a pause. Each part's state (running, last success,
//! last error, failures in a row, restarts) is shown by `OperatorService/GetServiceStatus`,
//! and its `grpc.health.v1` entry (`backorder.<part>`) turns `NOT_SERVING` after
//! `FAILURES_BEFORE_NOT_SERVING` failures in a row, `SERVING` again at the next success.
//! Times are the injected clock's, like everything the operator sees.

use crate::clock::SharedClock;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Failures in a row after which a part's health entry says `NOT_SERVING`.
pub const FAILURES_BEFORE_NOT_SERVING: u32 = 3;
/// Pause before a loop that ended is started again (real time: it guards against a loop
/// that dies at once, whatever the service's clock does).
const RESTART_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The background parts, in the order the status call lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Scheduler,
    Catcher,
    DropListFeed,
    RegistryClock,
}

impl Part {
    pub const ALL: [Part; 4] = [
        Part::Scheduler,
        Part::Catcher,
        Part::DropListFeed,
        Part::RegistryClock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Scheduler => "scheduler",
            Part::Catcher => "catcher",
            Part::DropListFeed => "drop_list_feed",
            Part::RegistryClock => "registry_clock",
        }
    }

    /// The part's name in `grpc.health.v1`.
    pub fn health_name(self) -> String {
        format!("backorder.{}", self.as_str())
    }
}

/// What the status call shows of one part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartStatus {
    /// Started in this configuration (a catcher without accreditations is not).
    pub enabled: bool,
    /// Its loop is alive right now.
    pub running: bool,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub failures_in_row: u32,
    /// Loops started again after they ended or panicked.
    pub restarts: u32,
    /// What the part says about itself (the catcher: drops pending, unresolved, sessions).
    pub detail: String,
}

impl PartStatus {
    pub fn is_healthy(&self) -> bool {
        !self.enabled || (self.running && self.failures_in_row < FAILURES_BEFORE_NOT_SERVING)
    }
}

/// Shared by every part and by the status call.
#[derive(Debug)]
pub struct Supervision {
    clock: SharedClock,
    parts: Mutex<BTreeMap<Part, PartStatus>>,
    health: Option<HealthReporter>,
}

pub type SharedSupervision = Arc<Supervision>;

impl Supervision {
    /// `health`: the reporter behind the server's health service (none in unit tests).
    pub fn new(clock: SharedClock, health: Option<HealthReporter>) -> SharedSupervision {
        let parts = Part::ALL
            .into_iter()
            .map(|p| (p, PartStatus::default()))
            .collect();
        Arc::new(Self {
            clock,
            parts: Mutex::new(parts),
            health,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Part, PartStatus>> {
        // A panic elsewhere never leaves the map half-written: every update is one statement.
        self.parts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every part's state, in `Part::ALL` order.
    pub fn snapshot(&self) -> Vec<(Part, PartStatus)> {
        self.lock().iter().map(|(p, s)| (*p, s.clone())).collect()
    }

    pub fn status(&self, part: Part) -> PartStatus {
        self.lock().get(&part).cloned().unwrap_or_default()
    }

    async fn publish(&self, part: Part) {
        let healthy = self.status(part).is_healthy();
        if let Some(health) = &self.health {
            let status = if healthy {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            health.set_service_status(part.health_name(), status).await;
        }
    }

    fn update(&self, part: Part, change: impl FnOnce(&mut PartStatus)) {
        change(self.lock().entry(part).or_default());
    }

    /// A part that runs inside another's loop (the scheduler and the catcher on the
    /// registry's ticks) is shown as enabled and running.
    pub fn mark_enabled(&self, part: Part) {
        self.update(part, |s| {
            s.enabled = true;
            s.running = true;
        });
    }

    pub fn set_detail(&self, part: Part, detail: String) {
        self.update(part, |s| s.detail = detail);
    }

    pub async fn succeeded(&self, part: Part) {
        let now = self.clock.now();
        let was_failing = self.status(part).failures_in_row > 0;
        self.update(part, |s| {
            s.last_success_at = Some(now);
            s.failures_in_row = 0;
        });
        if was_failing {
            tracing::info!(part = part.as_str(), "working again");
        }
        self.publish(part).await;
    }

    pub async fn failed(&self, part: Part, error: String) {
        let now = self.clock.now();
        self.update(part, |s| {
            s.last_error = Some(error);
            s.last_error_at = Some(now);
            s.failures_in_row = s.failures_in_row.saturating_add(1);
        });
        self.publish(part).await;
    }

    /// Runs one step of `part`, catching a panic: `Some` with its value when it succeeded,
    /// `None` when it failed or panicked (logged with its cause and recorded).
    pub async fn step<T, E: std::fmt::Display>(
        &self,
        part: Part,
        step: impl Future<Output = Result<T, E>>,
    ) -> Option<T> {
        match AssertUnwindSafe(step).catch_unwind().await {
            Ok(Ok(value)) => {
                self.succeeded(part).await;
                Some(value)
            }
            Ok(Err(error)) => {
                let error = error.to_string();
                tracing::error!(part = part.as_str(), %error, "step failed; retrying later");
                self.failed(part, error).await;
                None
            }
            Err(panic) => {
                let error = format!("panicked: {}", panic_message(panic.as_ref()));
                tracing::error!(part = part.as_str(), %error, "step panicked; retrying later");
                self.failed(part, error).await;
                None
            }
        }
    }

    /// Spawns `part`'s loop (`make` builds it anew each time) and starts it again whenever
    /// it ends or panics, until `stopped` says stop.
    pub fn spawn<F, Fut>(
        self: &Arc<Self>,
        part: Part,
        mut make: F,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let this = self.clone();
        this.update(part, |s| s.enabled = true);
        tokio::spawn(async move {
            loop {
                this.update(part, |s| s.running = true);
                this.publish(part).await;
                let run = tokio::spawn(make());
                let ended = tokio::select! {
                    ended = run => ended,
                    _ = stopped.wait_for(|stop| *stop) => return,
                };
                this.update(part, |s| s.running = false);
                if *stopped.borrow() {
                    return;
                }
                let error = match ended {
                    Ok(()) => "its loop ended".to_string(),
                    Err(join) if join.is_panic() => {
                        format!("panicked: {}", panic_message(join.into_panic().as_ref()))
                    }
                    Err(join) => join.to_string(),
                };
                tracing::error!(part = part.as_str(), %error, "background loop stopped; starting it again");
                this.failed(part, error).await;
                this.update(part, |s| s.restarts = s.restarts.saturating_add(1));
                tokio::select! {
                    _ = tokio::time::sleep(RESTART_PAUSE) => {}
                    _ = stopped.wait_for(|stop| *stop) => return,
                }
            }
        })
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn supervision() -> SharedSupervision {
        let start = "2026-03-02T19:00:00Z".parse().unwrap();
        Supervision::new(Arc::new(ManualClock::new(start)), None)
    }

    #[tokio::test]
    async fn failures_in_a_row_make_a_part_unhealthy_until_it_succeeds() {
        let s = supervision();
        s.update(Part::Scheduler, |p| {
            p.enabled = true;
            p.running = true;
        });
        for _ in 0..FAILURES_BEFORE_NOT_SERVING {
            assert!(s.status(Part::Scheduler).is_healthy());
            let out: Option<()> = s.step(Part::Scheduler, async { Err("db down") }).await;
            assert_eq!(out, None);
        }
        let status = s.status(Part::Scheduler);
        assert!(!status.is_healthy());
        assert_eq!(status.last_error.as_deref(), Some("db down"));
        assert_eq!(
            s.step(Part::Scheduler, async { Ok::<_, String>(7) }).await,
            Some(7)
        );
        assert!(s.status(Part::Scheduler).is_healthy());
        assert!(s.status(Part::Scheduler).last_success_at.is_some());
    }

    #[tokio::test]
    async fn a_panicking_step_is_caught_and_recorded() {
        let s = supervision();
        let out: Option<()> = s
            .step(Part::Catcher, async {
                if true {
                    panic!("out of range");
                }
                Ok::<_, String>(())
            })
            .await;
        assert_eq!(out, None);
        let status = s.status(Part::Catcher);
        assert_eq!(status.failures_in_row, 1);
        assert!(status.last_error.unwrap().contains("out of range"));
    }

    #[tokio::test]
    async fn a_loop_that_panics_is_started_again() {
        let s = supervision();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = runs.clone();
        let handle = s.spawn(
            Part::DropListFeed,
            move || {
                let counter = counter.clone();
                async move {
                    if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        panic!("first run dies");
                    }
                    std::future::pending::<()>().await;
                }
            },
            stopped,
        );
        for _ in 0..50 {
            if runs.load(std::sync::atomic::Ordering::SeqCst) >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        let status = s.status(Part::DropListFeed);
        assert_eq!(status.restarts, 1);
        assert!(status.running);
        assert!(status.last_error.unwrap().contains("first run dies"));
        stop.send(true).unwrap();
        handle.await.unwrap();
    }
}
