//! The catcher's step: load the drops to go for, advance every drop's plan once at `now`
//! (one batched Check for all that poll, creates spread over the accreditations' free
//! room, Info where an answer is missing), and record each decided drop
//! (`CatchStore::record_catch`, which allocates the domain in the same transaction).
//!
//! Write ahead, then reconcile: the creates of a step are committed to `catch_attempts`
//! before any leaves, and their answers after. Plans live in memory between steps and are
//! rebuilt from the store after a restart; a create without a recorded answer makes the
//! plan ask the registry who holds the name before it decides anything.

use super::plan::{self, Action, Plan};
use super::registry::{CreateResult, Registry, RegistryError};
use crate::clock::SharedClock;
use crate::store::SharedStore;
use crate::store::StoreError;
use crate::store::catching::{Allocated, AttemptAnswer, AttemptIntent, CatchOutcome};
use crate::supervision::{Part, SharedSupervision};
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
    /// Info questions asked (drops with unanswered creates, or a name in use).
    pub asked: u32,
    /// Drops waiting for the registry to say who holds the name after a create's answer
    /// was lost (nothing is decided for them until it does).
    pub unresolved: u32,
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
                unresolved: self.unresolved,
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
        let mut to_ask = Vec::new();
        for key in &keys {
            let Some(plan) = plans.get_mut(key) else {
                continue;
            };
            match plan.begin_step(now) {
                Action::Create => direct.push(key.clone()),
                Action::Check => to_check.push(key.clone()),
                Action::Info => to_ask.push(key.clone()),
                Action::Wait => {}
            }
        }
        // Exact releases first: they are due at this very instant.
        self.create_all(plans, turn, &direct, now, &mut report)
            .await;
        let (available, in_use) = self.check_all(plans, &to_check, now, &mut report).await;
        to_ask.extend(in_use);
        self.ask_all(plans, &to_ask, now, &mut report).await;
        self.create_all(plans, turn, &available, now, &mut report)
            .await;

        for key in &keys {
            let Some(result) = plans.get(key).and_then(Plan::report) else {
                continue;
            };
            match self.store.record_catch(result.clone(), ACTOR, now).await {
                Ok(Allocated::Unresolved { unanswered }) => {
                    // The store holds creates of this drop without an answer (their answers
                    // were not saved): ask the registry again before deciding.
                    tracing::warn!(domain = %result.domain, unanswered, "drop has creates without a recorded answer; asking the registry first");
                    if let Some(plan) = plans.get_mut(key) {
                        plan.reopen(unanswered);
                    }
                }
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
        report.unresolved = u32::try_from(plans.values().filter(|p| p.unanswered() > 0).count())
            .unwrap_or(u32::MAX);
        Ok(report)
    }

    /// Asks the registry who holds each name (Info). Unanswered creates are settled in the
    /// store before the plan hears the answer: if that write fails the question is asked
    /// again next step. A failed Info decides nothing for a drop with unanswered creates.
    async fn ask_all(
        &self,
        plans: &mut HashMap<Key, Plan>,
        keys: &[Key],
        now: DateTime<Utc>,
        report: &mut StepReport,
    ) {
        for key in keys {
            let Some(plan) = plans.get_mut(key) else {
                continue;
            };
            let holder = match self.registry.holder(&key.0).await {
                Ok(holder) => holder,
                Err(error) => {
                    report.errors += 1;
                    tracing::warn!(domain = %key.0, %error, unanswered = plan.unanswered(), "cannot ask the registry who holds the name; retrying next step");
                    plan.registry_unreachable(now);
                    continue;
                }
            };
            report.asked += 1;
            if plan.unanswered() > 0 {
                if let Err(error) = self.store.reconcile_attempts(&key.0, key.1, now).await {
                    report.errors += 1;
                    tracing::error!(domain = %key.0, %error, "could not settle unanswered creates; asking again next step");
                    continue;
                }
                tracing::info!(domain = %key.0, ?holder, unanswered = plan.unanswered(), "creates without an answer reconciled with the registry");
            }
            plan.held(&holder, now);
        }
    }

    /// One batched Check for the polling plans; returns the ones that should create now and
    /// the ones in use (to ask who holds them).
    async fn check_all(
        &self,
        plans: &mut HashMap<Key, Plan>,
        keys: &[Key],
        now: DateTime<Utc>,
        report: &mut StepReport,
    ) -> (Vec<Key>, Vec<Key>) {
        if keys.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let names: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let answers = match self.registry.check(&names).await {
            Ok(answers) => answers,
            Err(error) => {
                report.errors += 1;
                tracing::warn!(%error, names = names.len(), "catcher check failed; retrying next step");
                for key in keys {
                    if let Some(plan) = plans.get_mut(key) {
                        plan.registry_unreachable(now);
                    }
                }
                return (Vec::new(), Vec::new());
            }
        };
        report.checked += u32::try_from(names.len()).unwrap_or(u32::MAX);
        let answers: HashMap<String, _> = answers.into_iter().collect();
        let (mut create, mut in_use) = (Vec::new(), Vec::new());
        for key in keys {
            let (Some(plan), Some(availability)) = (plans.get_mut(key), answers.get(&key.0)) else {
                continue;
            };
            match plan.checked(availability, now) {
                Action::Create => create.push(key.clone()),
                Action::Info => in_use.push(key.clone()),
                Action::Wait | Action::Check => {}
            }
        }
        (create, in_use)
    }

    /// Sends one create per plan, as far as the accreditations have room; the rest wait.
    /// The creates are written ahead in one transaction before the first leaves (nothing is
    /// sent if that fails), and their answers are recorded after the last.
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
        let mut sends: Vec<(Key, String)> = Vec::new();
        for (key, registrar) in keys.iter().zip(plan::assign(keys.len(), &capacity, turn)) {
            match registrar {
                Some(registrar) => sends.push((key.clone(), registrar)),
                None => tracing::debug!(domain = %key.0, "no create left this second; next step"),
            }
        }
        let intents: Vec<AttemptIntent> = sends
            .iter()
            .map(|(key, registrar)| AttemptIntent {
                domain: key.0.clone(),
                drop_time: key.1,
                registrar: registrar.clone(),
            })
            .collect();
        let ids = match self.store.write_attempts_ahead(&intents, now).await {
            Ok(ids) => ids,
            Err(error) => {
                report.errors += 1;
                tracing::error!(%error, creates = intents.len(), "could not write creates ahead; none sent, retrying next step");
                return;
            }
        };
        let mut answers = Vec::with_capacity(sends.len());
        for ((key, registrar), id) in sends.iter().zip(ids) {
            let (Some(plan), Some(id)) = (plans.get_mut(key), id) else {
                // Recorded meanwhile (the scheduler, another replica): nothing to send.
                tracing::info!(domain = %key.0, "drop already decided elsewhere; create not sent");
                continue;
            };
            match self
                .registry
                .create(&key.0, &plan.target.extensions, registrar)
                .await
            {
                Ok(result) => {
                    report.creates += 1;
                    if let CreateResult::Refused { code, message } = &result {
                        tracing::error!(domain = %key.0, code, %message, "the registry refuses to register it");
                    }
                    answers.push((id, answer_of(&result)));
                    plan.created(&result, now);
                }
                // Stopped on our side before anything left: nothing to reconcile.
                Err(
                    error @ (RegistryError::NoCapacity(_)
                    | RegistryError::Login { .. }
                    | RegistryError::UnknownRegistrar(_)),
                ) => {
                    if !matches!(error, RegistryError::NoCapacity(_)) {
                        report.errors += 1;
                        tracing::warn!(domain = %key.0, %error, "create not sent; retrying next step");
                    }
                    answers.push((id, AttemptAnswer::NotSent));
                }
                Err(error) => {
                    // The create may have reached the registry and won: the plan asks who
                    // holds the name before it does anything else.
                    report.errors += 1;
                    tracing::warn!(domain = %key.0, %error, "create answer lost; asking the registry who holds the name");
                    plan.sent_unanswered(now);
                }
            }
        }
        if let Err(error) = self.store.answer_attempts(&answers, now).await {
            // The attempts stay open in the store: the drop's result is refused until the
            // registry has been asked again (`Allocated::Unresolved`).
            report.errors += 1;
            tracing::error!(%error, "could not record create answers; the registry will be asked");
        }
    }
}

/// How a create's answer is written down.
fn answer_of(result: &CreateResult) -> AttemptAnswer {
    match result {
        CreateResult::Won { .. } => AttemptAnswer::Won,
        CreateResult::Exists => AttemptAnswer::Exists,
        CreateResult::RateLimited => AttemptAnswer::RateLimited,
        CreateResult::Refused { .. } => AttemptAnswer::Refused,
    }
}

/// Runs a step every `interval` on `clock` until `shutdown` resolves (system and manual
/// clocks; on the registry's clock `lifecycle::registry_clock::follow` steps it per tick).
pub async fn run_every(
    catcher: Arc<Catcher>,
    clock: SharedClock,
    interval: std::time::Duration,
    supervision: SharedSupervision,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => catcher.supervised_step(clock.now(), &supervision).await,
        }
    }
}

impl Catcher {
    /// One step under supervision: a failing or panicking step is recorded and the next
    /// runs as usual; the step's figures and the registry's sessions go into the part's
    /// detail for the status call. Registry failures inside a successful step count too:
    /// a catcher that cannot reach the registry is not working.
    pub async fn supervised_step(&self, now: DateTime<Utc>, supervision: &SharedSupervision) {
        let step = async {
            let report = self.step(now).await.map_err(|e| e.to_string())?;
            if !report.is_quiet() {
                tracing::info!(?report, "catcher step");
            }
            let sessions = self.registry.describe().await;
            supervision.set_detail(
                Part::Catcher,
                format!(
                    "{} drops under way, {} waiting for the registry to say who holds the name; {sessions}",
                    report.pending, report.unresolved
                ),
            );
            if report.errors > 0 {
                return Err(format!(
                    "{} registry or store calls failed in the last step",
                    report.errors
                ));
            }
            Ok(())
        };
        supervision.step(Part::Catcher, step).await;
    }

    /// Ends the registry sessions (graceful shutdown).
    pub async fn close(&self) {
        self.registry.logout_all().await;
    }
}
