//! The scheduler: each pass, driven only by the injected clock, places holds for orders in
//! the lock window (earliest finalization first, then earliest order), warns once per order
//! when funds are short, moves orders at finalization (a REQUESTED order placed before it
//! gets one last try of the hold first, so a pass after an outage decides as if it had run
//! in time), and sends orders whose domain was restored back to sleep; then closes ended
//! auctions, collects auction payments, defaults winners past their deadline, and fails
//! daily deals whose window closed uncaught. Each step is one transaction in the store;
//! several replicas may run passes at once (the store re-checks each order under a
//! skip-locked row lock).

use crate::clock::SharedClock;
use crate::domain::lifecycle::{Schedule, Status, daily_deal_window_close, next_step};
use crate::store::SharedStore;
use crate::store::auctions::AuctionStep;
use crate::store::catching::{Allocated, CatchOutcome, CatchReport};
use crate::store::orders::{Backorder, OrderError, StepOutcome};
use crate::supervision::{Part, SharedSupervision};
use std::collections::BTreeMap;
use std::time::Duration;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Holds placed, catch-ups included.
    pub holds_placed: u32,
    pub low_balance_warnings: u32,
    pub funds_short: u32,
    /// Orders moved to PROCESSING, catch-ups included.
    pub finalized: u32,
    pub unfunded: u32,
    pub slept: u32,
    pub skipped: u32,
    /// REQUESTED orders past finalization whose last try of the hold succeeded: held and
    /// finalized in one step (counted in `holds_placed` and `finalized` too). Non-zero after
    /// an outage that spanned lock windows.
    pub caught_up: u32,
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
    /// Orders still PROCESSING although their drop was decided (daily deals accepted before
    /// placement checked for that): failed with the drop's outcome, holds released.
    pub orders_of_decided_drops: u32,
}

/// The audit actor of scheduler steps.
pub const ACTOR: &str = "scheduler:lifecycle";

/// Open orders read per page by a scheduler pass.
const OPEN_PAGE: u32 = 500;

/// One pass at the clock's time. It decides as if passes had run all along: an order whose
/// lock window opened and closed while no pass ran (the service was down) gets the last try
/// of its hold before finalization is applied (`Step::CatchUp`). Funds go to the orders whose
/// finalization comes first, then to the earliest orders, catch-ups included.
pub async fn run_pass(store: &SharedStore, clock: &SharedClock) -> Result<PassReport, OrderError> {
    let now = clock.now();
    // The open orders are read a page at a time and only the due steps are kept (an id, a
    // step and the sort key each): a pass over many open orders that wait (unscheduled, or
    // far from their drop) holds one page, not all of them, so its memory does not grow
    // with the order book.
    let mut due = Vec::new();
    let mut out_of_range: BTreeMap<String, u32> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.open_backorders_page(after, OPEN_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        count_out_of_range(&page, &mut out_of_range);
        due.extend(page.into_iter().filter_map(|order| {
            let step = next_step(order.status, order.schedule, order.created_at, now)?;
            let finalization = match order.schedule {
                Schedule::Listed(times) => Some(times.finalization_at),
                _ => None,
            };
            Some(((finalization, order.created_at, order.id), step))
        }));
    }
    report_out_of_range(&out_of_range);
    due.sort_by_key(|(key, _)| *key);
    let mut report = PassReport::default();
    for ((_, _, id), step) in due {
        match store.apply_step(id, step, ACTOR, now).await? {
            StepOutcome::Moved(Status::Active) => report.holds_placed += 1,
            StepOutcome::Moved(Status::Processing) => report.finalized += 1,
            StepOutcome::Moved(Status::Failed) => report.unfunded += 1,
            StepOutcome::Moved(_) => report.slept += 1,
            StepOutcome::HeldAndFinalized => {
                report.holds_placed += 1;
                report.finalized += 1;
                report.caught_up += 1;
            }
            StepOutcome::FundsShort { warned } => {
                report.funds_short += 1;
                report.low_balance_warnings += u32::from(warned);
            }
            StepOutcome::Skipped => report.skipped += 1,
        }
    }
    advance_auctions(store, now, &mut report).await?;
    report.daily_deals_expired = expire_daily_deals(store, now).await?;
    report.orders_of_decided_drops = store.fail_orders_of_decided_drops(ACTOR, now).await?;
    Ok(report)
}

/// Open orders whose times cannot be computed (their TLD's stored leads, or their drop time,
/// are out of range) wait like unscheduled ones; each pass says so once, by TLD, so an
/// operator corrects the catalog.
fn count_out_of_range(open: &[Backorder], by_tld: &mut BTreeMap<String, u32>) {
    for order in open {
        if order.schedule == Schedule::OutOfRange {
            *by_tld.entry(order.tld.as_str().to_string()).or_default() += 1;
        }
    }
}

fn report_out_of_range(by_tld: &BTreeMap<String, u32>) {
    if !by_tld.is_empty() {
        tracing::error!(
            orders_by_tld = ?by_tld,
            "open orders whose times cannot be computed (TLD leads outside 0 to 365 days, or a \
             drop time outside years 0000 to 9999): they wait as unscheduled until the TLD \
             (CatalogService/UpsertTld) or the drop list is corrected"
        );
    }
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
        if !target.daily_deals_only {
            continue;
        }
        match daily_deal_window_close(target.drop_time) {
            Some(close) if now >= close => {}
            Some(_) => continue,
            None => {
                tracing::error!(
                    domain = %target.domain,
                    drop_time = %target.drop_time,
                    "drop time out of range: its daily-deal window never closes"
                );
                continue;
            }
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
