//! The scheduler: each pass, driven only by the injected clock, places holds for orders in
//! the lock window (earliest finalization first, then earliest order), warns once per order
//! when funds are short, moves orders at finalization, and sends orders whose domain was
//! restored back to sleep; then closes ended auctions, collects auction payments, defaults
//! winners past their deadline, and fails daily deals whose window closed uncaught. Each
//! step is one transaction in the store; several replicas may run passes at once (the
//! store re-checks each order under a skip-locked row lock).

use crate::clock::SharedClock;
use crate::domain::lifecycle::{Schedule, Status, Step, daily_deal_window_close, next_step};
use crate::store::SharedStore;
use crate::store::auctions::AuctionStep;
use crate::store::catching::{Allocated, CatchOutcome, CatchReport};
use crate::store::orders::{OrderError, StepOutcome};
use crate::supervision::{Part, SharedSupervision};
use std::time::Duration;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    pub holds_placed: u32,
    pub low_balance_warnings: u32,
    pub funds_short: u32,
    pub finalized: u32,
    pub unfunded: u32,
    pub slept: u32,
    pub skipped: u32,
    /// Auctions that ended (a winner owes the price, or a free win settled at once).
    pub auctions_closed: u32,
    /// Auctions paid from the winner's balance and settled.
    pub auctions_paid: u32,
    /// Winners that did not pay in time (result recomputed without them).
    pub payment_defaults: u32,
    /// Auctions whose step failed (logged; retried next pass).
    pub auction_errors: u32,
    /// Drops wanted only by daily deals and not caught when the daily-deal window closed:
    /// their orders failed NOT_CAUGHT.
    pub daily_deals_expired: u32,
}

/// The audit actor of scheduler steps.
pub const ACTOR: &str = "scheduler:lifecycle";

pub async fn run_pass(store: &SharedStore, clock: &SharedClock) -> Result<PassReport, OrderError> {
    let now = clock.now();
    let mut due: Vec<_> = store
        .open_backorders()
        .await?
        .into_iter()
        .filter_map(|order| next_step(order.status, order.schedule, now).map(|step| (order, step)))
        .collect();
    // Funds go to the orders whose finalization comes first, then to the earliest orders.
    due.sort_by_key(|(order, _)| {
        let finalization = match order.schedule {
            Schedule::Listed(times) => Some(times.finalization_at),
            _ => None,
        };
        (finalization, order.created_at, order.id)
    });
    let mut report = PassReport::default();
    for (order, step) in due {
        match store.apply_step(order.id, step, ACTOR, now).await? {
            StepOutcome::Moved(Status::Active) => report.holds_placed += 1,
            StepOutcome::Moved(Status::Processing) => report.finalized += 1,
            StepOutcome::Moved(Status::Failed) => report.unfunded += 1,
            StepOutcome::Moved(_) => report.slept += 1,
            StepOutcome::FundsShort { warned } => {
                report.funds_short += 1;
                report.low_balance_warnings += u32::from(warned);
            }
            StepOutcome::Skipped => report.skipped += 1,
        }
        debug_assert!(matches!(
            step,
            Step::PlaceHold | Step::Finalize | Step::Unfunded | Step::Sleep
        ));
    }
    advance_auctions(store, now, &mut report).await?;
    report.daily_deals_expired = expire_daily_deals(store, now).await?;
    Ok(report)
}

/// Daily deals of a drop not caught by the close of their window fail NOT_CAUGHT (spec:
/// "if not, FAILED(NOT_CAUGHT) when the window closes"), recorded as the drop's result so a
/// catcher still trying stops and its late result is refused as already recorded.
async fn expire_daily_deals(
    store: &SharedStore,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u32, OrderError> {
    let mut expired = 0;
    for target in store.catch_targets(now).await? {
        if !target.daily_deals_only || now < daily_deal_window_close(target.drop_time) {
            continue;
        }
        let report = CatchReport {
            domain: target.domain,
            drop_time: target.drop_time,
            outcome: CatchOutcome::NotCaught,
            attempts: 0,
            first_attempt_at: None,
            release_seen_at: None,
        };
        if let Allocated::Failed { .. } = store.record_catch(report, ACTOR, now).await? {
            expired += 1;
        }
    }
    Ok(expired)
}

/// Closes ended auctions, collects what winners owe, and defaults winners past their
/// deadline. One auction's failure is logged and retried next pass; it never stops the rest.
async fn advance_auctions(
    store: &SharedStore,
    now: chrono::DateTime<chrono::Utc>,
    report: &mut PassReport,
) -> Result<(), OrderError> {
    for id in store.auctions_due(now).await? {
        match store.advance_auction(id, ACTOR, now).await {
            Ok(AuctionStep::Closed { settled }) => {
                report.auctions_closed += 1;
                report.auctions_paid += u32::from(settled);
            }
            Ok(AuctionStep::Paid) => report.auctions_paid += 1,
            Ok(AuctionStep::Defaulted { settled }) => {
                report.payment_defaults += 1;
                report.auctions_paid += u32::from(settled);
            }
            Ok(AuctionStep::Nothing) => {}
            Err(error) => {
                report.auction_errors += 1;
                tracing::error!(auction = id, %error, "auction step failed; retrying next pass");
            }
        }
    }
    Ok(())
}

/// Runs a pass every `interval` until `shutdown` resolves (system-clock mode). A pass that
/// fails or panics is recorded in `supervision` and the next one runs on time.
pub async fn run_every(
    store: SharedStore,
    clock: SharedClock,
    interval: Duration,
    supervision: SharedSupervision,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => run_supervised_pass(&store, &clock, &supervision).await,
        }
    }
}

/// One pass under supervision, with a log line when it did something.
pub async fn run_supervised_pass(
    store: &SharedStore,
    clock: &SharedClock,
    supervision: &SharedSupervision,
) {
    let pass = supervision
        .step(Part::Scheduler, run_pass(store, clock))
        .await;
    if let Some(report) = pass
        && report != PassReport::default()
    {
        tracing::info!(?report, "scheduler pass");
    }
}
