//! The catcher's step: load the drops to go for, advance every drop's plan once at `now`
//! (one batched Check for all that poll, creates spread over the accreditations' free
//! room), and record each decided drop (`CatchStore::record_catch`, which allocates the
//! domain in the same transaction). Plans live in memory between steps; a result that
//! could not be recorded is retried at the next step.

use super::plan::{self, Action, Plan};
use super::registry::{CreateResult, Registry, RegistryError};
use crate::clock::SharedClock;
use crate::store::SharedStore;
use crate::store::StoreError;
use crate::store::catching::CatchOutcome;
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The audit actor of recorded catches.
pub const ACTOR: &str = "catcher";

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Drops with a plan under way after the step.
    pub pending: u32,
    pub checked: u32,
    pub creates: u32,
    pub caught: u32,
    pub not_caught: u32,
    pub not_dropped: u32,
    /// Failed registry calls and results not recorded (retried next step).
    pub errors: u32,
}

impl StepReport {
    /// Anything worth a log line.
    pub fn is_quiet(&self) -> bool {
        *self
            == Self {
                pending: self.pending,
                checked: self.checked,
                ..Self::default()
            }
    }
}

type Key = (String, DateTime<Utc>);

#[derive(Debug)]
pub struct Catcher {
    store: SharedStore,
    registry: Arc<dyn Registry>,
    grace: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    plans: HashMap<Key, Plan>,
    /// The accreditation whose turn it is on a tie (see `plan::assign`).
    turn: usize,
}

impl Catcher {
    /// `grace`: how long after the window's end (or the exact time) a name that never
    /// became available is given before it is NOT_DROPPED.
    pub fn new(store: SharedStore, registry: Arc<dyn Registry>, grace: Duration) -> Self {
        Self {
            store,
            registry,
            grace,
            state: Mutex::new(State::default()),
        }
    }

    /// Advances every drop at `now` and records the decided ones. Registry failures are
    /// logged and retried at the next step; only a failure to read the targets is an error.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<StepReport, StoreError> {
        let mut state = self.state.lock().await;
        let State { plans, turn } = &mut *state;
        let targets = self.store.catch_targets(now).await?;
        let wanted: HashSet<Key> = targets
            .iter()
            .map(|t| (t.domain.clone(), t.drop_time))
            .collect();
        // A drop that is no longer a target (restored, or recorded by another replica) is
        // dropped unless it was decided here: that result is still ours to record.
        plans.retain(|key, plan| plan.is_decided() || wanted.contains(key));
        for target in targets {
            plans
                .entry((target.domain.clone(), target.drop_time))
                .or_insert_with(|| Plan::new(target, self.grace));
        }
        let mut report = StepReport::default();
        // Stable order: earliest drop first, so the first creates go to the earliest drops.
        let mut keys: Vec<Key> = plans.keys().cloned().collect();
        keys.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));

        let mut direct = Vec::new();
        let mut to_check = Vec::new();
        for key in &keys {
            let plan = plans.get_mut(key).expect("key from the map");
            match plan.begin_step(now) {
                Action::Create => direct.push(key.clone()),
                Action::Check => to_check.push(key.clone()),
                Action::Wait => {}
            }
        }
        // Exact releases first: they are due at this very instant.
        self.create_all(plans, turn, &direct, now, &mut report)
            .await;
        let available = self.check_all(plans, &to_check, now, &mut report).await;
        self.create_all(plans, turn, &available, now, &mut report)
            .await;

        for key in &keys {
            let Some(result) = plans.get(key).and_then(Plan::report) else {
                continue;
            };
            match self.store.record_catch(result.clone(), ACTOR, now).await {
                Ok(allocated) => {
                    match &result.outcome {
                        CatchOutcome::Caught { .. } => report.caught += 1,
                        CatchOutcome::NotCaught => report.not_caught += 1,
                        CatchOutcome::NotDropped => report.not_dropped += 1,
                    }
                    tracing::info!(
                        domain = %result.domain,
                        outcome = result.outcome.as_str(),
                        attempts = result.attempts,
                        ?allocated,
                        "catch recorded"
                    );
                    plans.remove(key);
                }
                Err(error) => {
                    report.errors += 1;
                    tracing::error!(domain = %result.domain, %error, "catch result not recorded; retrying next step");
                }
            }
        }
        report.pending = u32::try_from(plans.len()).unwrap_or(u32::MAX);
        Ok(report)
    }

    /// One batched Check for the polling plans; returns the ones that should create now.
    async fn check_all(
        &self,
        plans: &mut HashMap<Key, Plan>,
        keys: &[Key],
        now: DateTime<Utc>,
        report: &mut StepReport,
    ) -> Vec<Key> {
        if keys.is_empty() {
            return Vec::new();
        }
        let names: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let answers = match self.registry.check(&names).await {
            Ok(answers) => answers,
            Err(error) => {
                report.errors += 1;
                tracing::warn!(%error, names = names.len(), "catcher check failed; retrying next step");
                return Vec::new();
            }
        };
        report.checked += u32::try_from(names.len()).unwrap_or(u32::MAX);
        let answers: HashMap<String, _> = answers.into_iter().collect();
        let mut create = Vec::new();
        for key in keys {
            let (Some(plan), Some(availability)) = (plans.get_mut(key), answers.get(&key.0)) else {
                continue;
            };
            if plan.checked(availability, now) == Action::Create {
                create.push(key.clone());
            }
        }
        create
    }

    /// Sends one create per plan, as far as the accreditations have room; the rest wait.
    async fn create_all(
        &self,
        plans: &mut HashMap<Key, Plan>,
        turn: &mut usize,
        keys: &[Key],
        now: DateTime<Utc>,
        report: &mut StepReport,
    ) {
        if keys.is_empty() {
            return;
        }
        let capacity = self.registry.capacity().await;
        let assigned = plan::assign(keys.len(), &capacity, turn);
        for (key, registrar) in keys.iter().zip(assigned) {
            let Some(plan) = plans.get_mut(key) else {
                continue;
            };
            let Some(registrar) = registrar else {
                tracing::debug!(domain = %key.0, "no create left this second; next step");
                continue;
            };
            match self
                .registry
                .create(&key.0, &plan.target.extensions, &registrar)
                .await
            {
                Ok(result) => {
                    report.creates += 1;
                    if let CreateResult::Refused { code, message } = &result {
                        tracing::error!(domain = %key.0, code, %message, "the registry refuses to register it");
                    }
                    plan.created(&result, now);
                }
                Err(RegistryError::NoCapacity(_)) => {}
                Err(error) => {
                    report.errors += 1;
                    tracing::warn!(domain = %key.0, %error, "catcher create failed; retrying next step");
                }
            }
        }
    }
}

/// Runs a step every `interval` on `clock` until `shutdown` resolves (system and manual
/// clocks; on the registry's clock `lifecycle::registry_clock::follow` steps it per tick).
pub async fn run_every(
    catcher: Arc<Catcher>,
    clock: SharedClock,
    interval: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => log_step(catcher.step(clock.now()).await),
        }
    }
}

/// One log line for a step that did something.
pub fn log_step(result: Result<StepReport, StoreError>) {
    match result {
        Ok(report) if report.is_quiet() => {}
        Ok(report) => tracing::info!(?report, "catcher step"),
        Err(error) => tracing::error!(%error, "catcher step failed; retrying next step"),
    }
}
