//! The running simulator: one world behind a lock, the clock mode, the tick barrier and the
//! change notifications the feed streams wait on. Everything the gRPC layer does goes
//! through here.

use crate::clock::{ClockMode, VirtualClock};
use crate::scenario::{Scenario, ScenarioError};
use crate::ticks::{Tick, TickHub};
use crate::world::World;
use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the clock is in {0} mode; only a manual clock can be moved")]
    NotManual(ClockMode),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
}

/// Options a simulator starts with.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub clock: ClockMode,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// How long an advance waits for a silent participant before dropping it.
    pub ack_timeout: std::time::Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            clock: ClockMode::Manual,
            seed: None,
            ack_timeout: std::time::Duration::from_secs(30),
        }
    }
}

struct State {
    world: World,
    clock: VirtualClock,
    /// Bumped on every load or reset, so feed streams notice that history was rewritten.
    epoch: u64,
}

/// Where the feed's change log stands: (epoch, last sequence).
pub type FeedMark = (u64, i64);

pub struct Sim {
    state: Mutex<State>,
    hub: TickHub,
    /// Serializes advances: two concurrent advances would interleave their ticks.
    advance: tokio::sync::Mutex<()>,
    feed_mark: watch::Sender<FeedMark>,
    /// Set at shutdown: open streams end so that a graceful shutdown can complete.
    closing: watch::Sender<bool>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").finish_non_exhaustive()
    }
}

impl Sim {
    pub fn new(scenario: Scenario, options: SimOptions) -> Arc<Sim> {
        let seed = options.seed.unwrap_or(scenario.seed);
        let mut clock = VirtualClock::new(options.clock);
        let start = clock.start_for(scenario.start);
        let world = World::new(Arc::new(scenario), seed, Some(start));
        clock.anchor(start);
        let mark = (0, world.feed().sequence());
        Arc::new(Sim {
            state: Mutex::new(State {
                world,
                clock,
                epoch: 0,
            }),
            hub: TickHub::new(options.ack_timeout),
            advance: tokio::sync::Mutex::new(()),
            feed_mark: watch::channel(mark).0,
            closing: watch::channel(false).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the world at the current time (catching up a running clock first) and
    /// publishes any feed change.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut state = self.lock();
        if let Some(now) = state.clock.now() {
            state.world.advance_to(now);
        }
        let result = f(&mut state.world);
        let mark = (state.epoch, state.world.feed().sequence());
        drop(state);
        self.feed_mark
            .send_if_modified(|m| std::mem::replace(m, mark) != mark);
        result
    }

    pub fn clock_mode(&self) -> ClockMode {
        self.lock().clock.mode()
    }

    pub fn clock_factor(&self) -> f64 {
        self.lock().clock.factor()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.with_world(|w| w.now())
    }

    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    pub fn feed_marks(&self) -> watch::Receiver<FeedMark> {
        self.feed_mark.subscribe()
    }

    /// Replaces the scenario (and seed) and starts over.
    pub fn load(&self, scenario: Scenario, seed: Option<u64>) {
        let seed = seed.unwrap_or(scenario.seed);
        self.rebuild(Arc::new(scenario), seed);
    }

    /// Starts the loaded scenario over with a seed (`None`: the scenario's own).
    pub fn reset(&self, seed: Option<u64>) {
        let scenario = Arc::clone(self.lock().world.scenario());
        let seed = seed.unwrap_or(scenario.seed);
        self.rebuild(scenario, seed);
    }

    fn rebuild(&self, scenario: Arc<Scenario>, seed: u64) {
        let mut state = self.lock();
        let start = state.clock.start_for(scenario.start);
        state.world = World::new(scenario, seed, Some(start));
        state.clock.anchor(start);
        state.epoch += 1;
        let mark = (state.epoch, state.world.feed().sequence());
        drop(state);
        self.feed_mark.send_replace(mark);
    }

    /// Ends every open stream (tick watchers and feed watchers).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
        self.hub.close_all();
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Clock-watch participants still connected: a test sees a participant (the backorder
    /// service) join, and leave when its process dies.
    pub fn clock_participants(&self) -> usize {
        self.hub.connected()
    }

    pub fn subscribe_ticks(&self, participant: &str) -> mpsc::Receiver<Tick> {
        let now = self.now();
        self.hub.subscribe(participant, now)
    }

    pub fn ack_tick(&self, participant_id: &str, tick: i64) -> Result<(), SimError> {
        self.hub
            .ack(participant_id, tick)
            .map_err(SimError::InvalidArgument)
    }

    /// Manual clock: moves time forward by `by` in one step, then waits until every
    /// participant has acted on the new instant.
    pub async fn advance_by(&self, by: Duration) -> Result<DateTime<Utc>, SimError> {
        if by < Duration::zero() {
            return Err(SimError::InvalidArgument(
                "by: must not be negative; virtual time never rewinds".into(),
            ));
        }
        let _one_at_a_time = self.advance.lock().await;
        let target = self.manual_now()? + by;
        self.step_to(target).await;
        Ok(target)
    }

    /// Manual clock: moves time forward in `step`s until `until`, each step a tick.
    pub async fn run_until(
        &self,
        until: DateTime<Utc>,
        step: Duration,
    ) -> Result<DateTime<Utc>, SimError> {
        if step <= Duration::zero() {
            return Err(SimError::InvalidArgument(
                "step: must be longer than zero".into(),
            ));
        }
        let _one_at_a_time = self.advance.lock().await;
        let mut now = self.manual_now()?;
        while now < until {
            now = (now + step).min(until);
            self.step_to(now).await;
        }
        Ok(now)
    }

    fn manual_now(&self) -> Result<DateTime<Utc>, SimError> {
        let state = self.lock();
        match state.clock.mode() {
            ClockMode::Manual => Ok(state.world.now()),
            other => Err(SimError::NotManual(other)),
        }
    }

    async fn step_to(&self, target: DateTime<Utc>) {
        self.with_world(|w| w.advance_to(target));
        let tick = self.hub.broadcast(target);
        self.hub.wait_for(tick).await;
    }

    /// For the running clocks: keeps the world in step with time even when nobody calls, and
    /// ticks watchers once per virtual second (without waiting: real time does not wait).
    pub async fn drive(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        if self.clock_mode() == ClockMode::Manual {
            return;
        }
        let mut last_second = self.now().timestamp();
        let mut interval = tokio::time::interval(std::time::Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.changed() => return,
            }
            let now = self.now();
            if now.timestamp() != last_second {
                last_second = now.timestamp();
                self.hub.broadcast(now);
            }
        }
    }
}
