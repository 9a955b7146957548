//! A simulated drop day, end to end, seeded: resellers with deposits (some short), orders
//! drawn from the drop list (both classes where the catalog offers them, duplicates across
//! and within accounts, auction and FCFS TLDs, a few retried with the same request id, a few
//! cancelled or prepaid), the drop window in 1 s ticks (coarser outside it), then, once
//! auctions exist, seeded proxy bids, the close, payment and settlement. The invariants of
//! [`crate::checks`] are checked after every phase; [`DropDay::report`] sums it all up.
//!
//! The phases are separate calls so a test can check or poke between them:
//! `start` -> `place_orders` -> `run_drop_window` -> `run_auctions` -> `report` -> `stop`.

use crate::checks::{Phase, PhaseCheck, Snapshot};
use crate::clients::describe;
use crate::harness::{Harness, HarnessOptions, Reseller, status_name};
use crate::money;
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::time::{from_pb, next_hour_of_day};
use backorder_proto::backorder::v1 as pb;
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use tonic::Code;

/// Auctions open at the next 20:00 UTC after the catch (spec) and last 3 days.
pub const AUCTION_HOUR: u32 = 20;

#[derive(Debug, Clone)]
pub struct ResellerPlan {
    pub name: String,
    /// The deposit, as a share (percent) of the prices of the orders this reseller placed:
    /// 300 covers its orders three times (and auction payments), 35 leaves most of them
    /// `UNFUNDED`. Sized to the orders, not a fixed amount, so a scenario with a thousand
    /// orders is funded as `smoke`'s forty are (fixed deposits sized for `smoke` left 78 % of
    /// `cctld-mix`'s orders `UNFUNDED`).
    pub coverage_percent: u32,
    /// How often this reseller is drawn for an order (relative).
    pub weight: u32,
}

/// A reseller's deposit: `coverage_percent` of `order_cents` (the prices of its orders),
/// rounded up to a multiple of 5.00, as people deposit round amounts.
pub fn deposit_for(order_cents: i64, coverage_percent: u32) -> i64 {
    const ROUND: i64 = 500;
    let raw = order_cents
        .max(0)
        .saturating_mul(i64::from(coverage_percent))
        .saturating_add(99)
        / 100;
    raw.saturating_add(ROUND - 1) / ROUND * ROUND
}

/// Clock ticks from `from` to `to` in `step`s (what `RunUntil` runs): the unit of progress,
/// since a tick costs about the same wall time whatever its length in virtual time.
pub fn ticks(from: DateTime<Utc>, to: DateTime<Utc>, step: Duration) -> u64 {
    let span = (to - from).num_milliseconds();
    let step = step.num_milliseconds().max(1);
    if span <= 0 {
        return 0;
    }
    u64::try_from((span + step - 1) / step).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone)]
pub struct DropDayConfig {
    pub harness: HarnessOptions,
    /// Seeds the orders, bids and retries (the simulator has its own seed in `harness`).
    pub seed: u64,
    pub resellers: Vec<ResellerPlan>,
    /// Share of the listed names that get at least one order.
    pub ordered_share: f64,
    /// Show progress bars on the terminal.
    pub progress: bool,
}

impl DropDayConfig {
    pub fn new(harness: HarnessOptions, seed: u64) -> DropDayConfig {
        let plan = |name: &str, coverage_percent: u32, weight: u32| ResellerPlan {
            name: name.into(),
            coverage_percent,
            weight,
        };
        DropDayConfig {
            harness,
            seed,
            // Deposits as a share of each reseller's orders (see `ResellerPlan`): acme and
            // bolt also pay auctions; dune and echo run short and see LOW_BALANCE and
            // UNFUNDED orders.
            resellers: vec![
                plan("acme", 300, 3),
                plan("bolt", 200, 2),
                plan("cedar", 100, 2),
                plan("dune", 35, 2),
                plan("echo", 10, 1),
            ],
            ordered_share: 0.75,
            progress: false,
        }
    }
}

/// What the day did besides what the services report.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Activity {
    pub placed: u32,
    pub refused: Vec<String>,
    pub retried_same_request_id: u32,
    pub cancelled: u32,
    pub prepaid: u32,
    pub prepay_refused: u32,
    pub bids: u32,
    pub bids_refused: Vec<String>,
    pub payments: u32,
    pub payment_top_ups: u32,
    pub payments_refused: Vec<String>,
    /// Each reseller's deposit and the prices of the orders it placed (cents).
    pub deposits: Vec<(String, i64, i64)>,
    /// Wall seconds per phase.
    pub phase_seconds: Vec<(String, f64)>,
}

pub struct DropDay {
    pub harness: Harness,
    pub config: DropDayConfig,
    pub resellers: Vec<Reseller>,
    pub activity: Activity,
    pub checks: Vec<PhaseCheck>,
    /// The published release window of the day's drops.
    pub window: (DateTime<Utc>, DateTime<Utc>),
    /// `None` until auctions were asked for; `Some(false)` when they answered UNIMPLEMENTED.
    pub auctions_live: Option<bool>,
    /// The phase running now (for a report of an interrupted run).
    pub phase: String,
    pay_rounds: u32,
    rng: ChaCha8Rng,
    wall: std::time::Instant,
}

impl DropDay {
    /// Starts both services, opens the resellers' accounts and books their deposits.
    pub async fn start(config: DropDayConfig) -> anyhow::Result<DropDay> {
        let wall = std::time::Instant::now();
        let harness = Harness::start(config.harness.clone()).await?;
        let window = drop_window(&harness)?;
        let mut day = DropDay {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            harness,
            resellers: Vec::new(),
            activity: Activity::default(),
            checks: Vec::new(),
            window,
            auctions_live: None,
            phase: "start".into(),
            pay_rounds: 0,
            config,
            wall,
        };
        // Deposits follow once the orders are placed (`fund`): they are sized to them.
        for plan in day.config.resellers.clone() {
            let reseller = day.harness.create_reseller(&plan.name).await?;
            day.resellers.push(reseller);
        }
        day.lap("start: services, drop list, leads, accounts");
        day.check("setup", Phase::Running).await?;
        Ok(day)
    }

    fn lap(&mut self, phase: &str) {
        let spent: f64 = self.activity.phase_seconds.iter().map(|(_, s)| s).sum();
        let now = self.wall.elapsed().as_secs_f64();
        self.activity
            .phase_seconds
            .push((phase.to_string(), now - spent));
    }

    /// Reads everything back and records the phase's checks.
    pub async fn check(&mut self, phase: &str, kind: Phase) -> anyhow::Result<PhaseCheck> {
        let snapshot = Snapshot::take(&self.harness).await?;
        let check = snapshot.check(phase, kind);
        self.checks.push(check.clone());
        Ok(check)
    }

    fn pick_reseller(&mut self) -> usize {
        let total: u32 = self.config.resellers.iter().map(|p| p.weight.max(1)).sum();
        let mut draw = self.rng.random_range(0..total);
        for (i, plan) in self.config.resellers.iter().enumerate() {
            let w = plan.weight.max(1);
            if draw < w {
                return i;
            }
            draw -= w;
        }
        0
    }

    /// Each reseller's deposit, sized to the orders it placed (`ResellerPlan`), booked
    /// before any order is prepaid or held.
    async fn fund(&mut self, placed: &[(usize, pb::Backorder)]) -> anyhow::Result<()> {
        for (i, plan) in self.config.resellers.clone().iter().enumerate() {
            let ordered: i64 = placed
                .iter()
                .filter(|(who, _)| *who == i)
                .map(|(_, order)| money::cents_or_zero(order.price.as_ref()).unwrap_or(0))
                .sum();
            let amount = deposit_for(ordered, plan.coverage_percent);
            if amount > 0 {
                self.harness
                    .deposit(
                        &self.resellers[i].id,
                        amount,
                        &format!("deposit-{}", plan.name),
                    )
                    .await?;
            }
            self.activity
                .deposits
                .push((plan.name.clone(), amount, ordered));
        }
        Ok(())
    }

    /// Seeded orders for the listed names, placed now (at the scenario's start).
    pub async fn place_orders(&mut self) -> anyhow::Result<()> {
        self.phase = "placing orders".into();
        let entries = self.harness.imported.entries.clone();
        let mut tlds: BTreeMap<String, Option<pb::Tld>> = BTreeMap::new();
        let mut placed: Vec<(usize, pb::Backorder)> = Vec::new();
        let mut serial = 0u32;
        let progress = Progress::new(
            self.config.progress,
            "1/4 orders",
            "names",
            u64::try_from(entries.len()).unwrap_or(u64::MAX),
        );
        for (seen, entry) in entries.iter().enumerate() {
            progress.update(
                u64::try_from(seen).unwrap_or(u64::MAX),
                &format!(
                    "{} orders placed, {} refused",
                    self.activity.placed,
                    self.activity.refused.len()
                ),
            );
            if !self.rng.random_bool(self.config.ordered_share) {
                continue;
            }
            if !tlds.contains_key(&entry.zone) {
                let tld = self.harness.tld(&entry.zone).await.ok();
                tlds.insert(entry.zone.clone(), tld);
            }
            let tld = tlds.get(&entry.zone).cloned().flatten();
            let lite_offered = tld.as_ref().is_none_or(|t| {
                t.classes.is_empty()
                    || t.classes
                        .contains(&(pb::BackorderClass::Litebackorder as i32))
            });
            let extensions = tld
                .as_ref()
                .map(|t| extensions_for(&t.required_extensions))
                .unwrap_or_default();
            // 1 to 3 orders a name; resellers drawn with replacement, so one account may
            // hold two seats for one name.
            let count = match self.rng.random_range(0..10) {
                0..5 => 1,
                5..8 => 2,
                _ => 3,
            };
            for _ in 0..count {
                let who = self.pick_reseller();
                let class = if lite_offered && self.rng.random_bool(0.2) {
                    pb::BackorderClass::Litebackorder
                } else {
                    pb::BackorderClass::Backorder
                };
                serial += 1;
                let request = pb::CreateBackorderRequest {
                    domain: entry.domain.clone(),
                    class: class as i32,
                    extensions: extensions.clone(),
                    client_reference: format!("drop-day-{serial}"),
                    request_id: format!("order-{}-{serial}", self.config.seed),
                    allow_duplicate: Some(true),
                    ..Default::default()
                };
                let mut api = self.resellers[who].api.backorders.clone();
                match api.create_backorder(request.clone()).await {
                    Ok(response) => {
                        let response = response.into_inner();
                        let order = response
                            .backorder
                            .ok_or_else(|| anyhow::anyhow!("CreateBackorder without its order"))?;
                        self.activity.placed += 1;
                        // A client retrying after a lost answer: same request id, same order.
                        if self.rng.random_bool(0.1) {
                            let again = api.create_backorder(request).await?.into_inner();
                            self.activity.retried_same_request_id += 1;
                            let same = again.backorder.as_ref().map(|b| b.id.as_str());
                            anyhow::ensure!(
                                again.existing && same == Some(order.id.as_str()),
                                "a retry of CreateBackorder with the same request id gave {:?} (existing {}) instead of order {}",
                                same,
                                again.existing,
                                order.id
                            );
                        }
                        placed.push((who, order));
                    }
                    Err(status) => self.activity.refused.push(format!(
                        "{} ({}): {}",
                        entry.domain,
                        self.resellers[who].name,
                        describe(&status)
                    )),
                }
            }
        }
        progress.update(
            u64::try_from(entries.len()).unwrap_or(u64::MAX),
            &format!(
                "{} orders placed, {} refused",
                self.activity.placed,
                self.activity.refused.len()
            ),
        );
        self.fund(&placed).await?;
        // A few cancelled and a few prepaid, still before any lock window.
        for (who, order) in &placed {
            let roll = self.rng.random_range(0..100);
            let mut api = self.resellers[*who].api.backorders.clone();
            if roll < 10 {
                api.cancel_backorder(pb::CancelBackorderRequest {
                    backorder_id: order.id.clone(),
                    request_id: format!("cancel-{}", order.id),
                })
                .await?;
                self.activity.cancelled += 1;
            } else if roll < 20 {
                match api
                    .pay_backorder(pb::PayBackorderRequest {
                        backorder_id: order.id.clone(),
                        request_id: format!("prepay-{}", order.id),
                    })
                    .await
                {
                    Ok(_) => self.activity.prepaid += 1,
                    Err(status) if status.code() == Code::FailedPrecondition => {
                        self.activity.prepay_refused += 1;
                    }
                    Err(status) => return Err(status.into()),
                }
            }
        }
        progress.finish();
        self.lap("orders");
        self.check("orders placed", Phase::Running).await?;
        Ok(())
    }

    /// Progress of a phase of `length` clock ticks.
    fn bar(&self, phase: &str, length: u64) -> Progress {
        Progress::new(self.config.progress, phase, "ticks", length)
    }

    /// Runs the clock from `from` to `until` in `step`s, on `bar`, whose position was `done`
    /// ticks at `from`.
    async fn run(
        &self,
        bar: &Progress,
        done: u64,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        step: Duration,
    ) -> anyhow::Result<()> {
        self.harness
            .run_until_with(until, step, |now| {
                bar.update(
                    done + ticks(from, now, step),
                    &format!(
                        "virtual time {} ({} ticks)",
                        now.format("%Y-%m-%d %H:%M:%S"),
                        if step >= Duration::hours(1) {
                            format!("{} h", step.num_hours())
                        } else if step >= Duration::minutes(1) {
                            format!("{} min", step.num_minutes())
                        } else {
                            format!("{} s", step.num_seconds())
                        }
                    ),
                );
            })
            .await
    }

    /// From the start to the next 20:00: 10 s ticks up to shortly before the first
    /// finalization, 1 s ticks through the release window and two minutes after it, then
    /// 1 min ticks.
    pub async fn run_drop_window(&mut self) -> anyhow::Result<()> {
        let now = self.harness.now().await?;
        let (first, last) = self.window;
        let leads = self
            .config
            .harness
            .leads
            .unwrap_or(crate::harness::Leads::SHORT);
        let fine_from = (first - leads.finalization - Duration::seconds(30)).max(now);
        let fine_until = last + Duration::minutes(2);
        let auction_start = next_hour_of_day(last, AUCTION_HOUR) + Duration::minutes(1);
        self.phase = "drop window".into();
        let plan = [
            (fine_from, Duration::seconds(10)),
            (fine_until, Duration::seconds(1)),
            (auction_start, Duration::minutes(1)),
        ];
        let mut total = 0;
        let mut at = now;
        for (until, step) in plan {
            total += ticks(at, until, step);
            at = at.max(until);
        }
        let bar = self.bar("2/4 drop window", total);
        let mut done = 0;
        let mut at = now;
        for (i, (until, step)) in plan.into_iter().enumerate() {
            self.run(&bar, done, at, until, step).await?;
            done += ticks(at, until, step);
            at = at.max(until);
            if i == 1 {
                self.lap("drop window (1 s ticks)");
            }
        }
        bar.finish();
        self.lap("to the auctions' start");
        self.check("drop window", Phase::Running).await?;
        Ok(())
    }

    /// The seats' view of every auction; `None` while auctions answer UNIMPLEMENTED.
    async fn auctions(&mut self) -> anyhow::Result<Option<Vec<(usize, pb::Auction)>>> {
        let seen = self.harness.auctions(&self.resellers).await?;
        self.auctions_live = Some(seen.is_some());
        Ok(seen.map(|list| {
            list.into_iter()
                .filter_map(|(account, auction)| {
                    self.resellers
                        .iter()
                        .position(|r| r.id == account)
                        .map(|i| (i, auction))
                })
                .collect()
        }))
    }

    /// One round of seeded proxy bids: each seat that does not lead bids with probability
    /// `share`, a maximum from the minimum next bid up to 40 increments above it.
    async fn bid_round(&mut self, orders: &[pb::Backorder], share: f64) -> anyhow::Result<()> {
        let Some(seats) = self.auctions().await? else {
            return Ok(());
        };
        for (who, auction) in seats {
            if auction.state != pb::AuctionState::Open as i32 {
                continue;
            }
            let mine: Vec<&pb::Backorder> = orders
                .iter()
                .filter(|o| o.auction_id == auction.id && o.account_id == self.resellers[who].id)
                .collect();
            for order in mine {
                if !self.rng.random_bool(share) {
                    continue;
                }
                let mut api = self.resellers[who].api.auctions.clone();
                let view = api
                    .get_auction(pb::GetAuctionRequest {
                        auction_id: auction.id.clone(),
                        backorder_id: order.id.clone(),
                    })
                    .await?
                    .into_inner();
                if view.bidder_status == pb::BidderStatus::Leading as i32 {
                    continue;
                }
                let minimum = money::cents_or_zero(view.minimum_next_bid.as_ref())?.max(1000);
                let maximum = minimum + 500 * self.rng.random_range(0..=40);
                let request_id = format!("bid-{}-{}-{}", auction.id, order.id, self.activity.bids);
                match api
                    .place_bid(pb::PlaceBidRequest {
                        auction_id: auction.id.clone(),
                        backorder_id: order.id.clone(),
                        maximum: Some(money::usd(maximum)),
                        request_id,
                    })
                    .await
                {
                    Ok(_) => self.activity.bids += 1,
                    Err(status) => self.activity.bids_refused.push(format!(
                        "auction {} seat {}: {}",
                        auction.id,
                        order.id,
                        describe(&status)
                    )),
                }
            }
        }
        Ok(())
    }

    /// Auctions, once they exist: bids at the open and a day later, the close (3 days),
    /// payment by the winners (topping up a short balance once), settlement.
    pub async fn run_auctions(&mut self) -> anyhow::Result<()> {
        let Some(first) = self.auctions().await? else {
            self.lap("auctions (not implemented yet)");
            return Ok(());
        };
        if first.is_empty() {
            self.lap("auctions (none opened)");
            return Ok(());
        }
        self.phase = "auctions".into();
        let now = self.harness.now().await?;
        let orders = self.harness.backorders().await?;
        self.bid_round(&orders, 0.75).await?;
        let end = first
            .iter()
            .filter_map(|(_, a)| from_pb(a.end_time.as_ref()))
            .max()
            .unwrap_or(now + Duration::days(3));
        let step = Duration::minutes(15);
        let bar = self.bar("3/4 auctions", ticks(now, end + Duration::minutes(1), step));
        self.run(&bar, 0, now, now + Duration::days(1), step)
            .await?;
        self.bid_round(&orders, 0.5).await?;
        self.check("bids", Phase::Running).await?;
        // Soft close may have moved ends: read them again.
        let end = self
            .auctions()
            .await?
            .unwrap_or_default()
            .iter()
            .filter_map(|(_, a)| from_pb(a.end_time.as_ref()))
            .max()
            .unwrap_or(end);
        self.run(&bar, 0, now, end + Duration::minutes(1), step)
            .await?;
        bar.finish();
        self.lap("auctions to close");
        self.check("auction close", Phase::Running).await?;
        self.pay().await?;
        // Settle: defaults (7 days) recompute winners, who may pay in turn.
        self.phase = "payment and settlement".into();
        let base = self.harness.now().await?;
        let deadline = base + Duration::days(8);
        let bar = self.bar("4/4 settlement", ticks(base, deadline, Duration::hours(1)));
        loop {
            let seats = self.auctions().await?.unwrap_or_default();
            let open = seats
                .iter()
                .any(|(_, a)| a.state != pb::AuctionState::Settled as i32);
            let now = self.harness.now().await?;
            if !open || now >= deadline {
                break;
            }
            self.run(
                &bar,
                0,
                base,
                (now + Duration::hours(12)).min(deadline),
                Duration::hours(1),
            )
            .await?;
            self.pay().await?;
        }
        bar.finish();
        self.lap("payment and settlement");
        self.check("settlement", Phase::Settled).await?;
        Ok(())
    }

    /// Winners pay from their balance; a short winner gets one top-up deposit and pays again
    /// (a fresh request id: a refusal for funds stays the answer of its id).
    async fn pay(&mut self) -> anyhow::Result<()> {
        let Some(seats) = self.auctions().await? else {
            return Ok(());
        };
        self.pay_rounds += 1;
        let round = self.pay_rounds;
        for (who, auction) in seats {
            if auction.state != pb::AuctionState::AwaitingPayment as i32
                || auction.bidder_status != pb::BidderStatus::Won as i32
            {
                continue;
            }
            let mut api = self.resellers[who].api.auctions.clone();
            let pay = |attempt: u32| pb::PayAuctionRequest {
                auction_id: auction.id.clone(),
                request_id: format!(
                    "pay-{}-{}-{round}-{attempt}",
                    auction.id, auction.backorder_id
                ),
            };
            match api.pay_auction(pay(1)).await {
                Ok(_) => self.activity.payments += 1,
                Err(status) if status.code() == Code::FailedPrecondition => {
                    let price = money::cents_or_zero(auction.current_price.as_ref())?;
                    let balance = self.harness.balance(&self.resellers[who].id).await?;
                    let available = money::cents_or_zero(balance.available.as_ref())?;
                    if price > available {
                        self.harness
                            .deposit(
                                &self.resellers[who].id,
                                price - available,
                                &format!("top-up-{}-{round}", auction.id),
                            )
                            .await?;
                        self.activity.payment_top_ups += 1;
                    }
                    match api.pay_auction(pay(2)).await {
                        Ok(_) => self.activity.payments += 1,
                        Err(status) => self.activity.payments_refused.push(format!(
                            "auction {}: {}",
                            auction.id,
                            describe(&status)
                        )),
                    }
                }
                Err(status) => self.activity.payments_refused.push(format!(
                    "auction {}: {}",
                    auction.id,
                    describe(&status)
                )),
            }
        }
        Ok(())
    }

    /// Everything read back, summed up.
    pub async fn report(&mut self) -> anyhow::Result<Report> {
        if self.auctions_live.is_none() {
            self.auctions().await?;
        }
        let snapshot = Snapshot::take(&self.harness).await?;
        let events = self.harness.events().await?;
        let auctions = match self.harness.auctions(&self.resellers).await? {
            Some(seats) => {
                let mut public = Vec::new();
                let mut ids: Vec<String> = seats.iter().map(|(_, a)| a.id.clone()).collect();
                ids.sort();
                ids.dedup();
                for id in ids {
                    if let Some(auction) = self.harness.auction(&id).await? {
                        public.push(auction);
                    }
                }
                Some((seats, public))
            }
            None => None,
        };
        report::build(report::Inputs {
            day: self,
            snapshot: &snapshot,
            events: &events,
            auctions: auctions.as_ref(),
            wall_seconds: self.wall.elapsed().as_secs_f64(),
        })
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.harness.stop().await
    }

    /// Every phase's checks held.
    pub fn all_checks_hold(&self) -> bool {
        self.checks.iter().all(|c| c.violations.is_empty())
    }

    pub fn ledger_held(&self) -> bool {
        self.checks.iter().all(|c| c.ledger_ok)
    }
}

/// The release window of the first drop day: the published times of the names listed at
/// the start that drop within a day of it.
fn drop_window(harness: &Harness) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let horizon = harness.start + Duration::days(1);
    let mut first: Option<DateTime<Utc>> = None;
    let mut last: Option<DateTime<Utc>> = None;
    for entry in &harness.registry_list {
        let Some(from) = from_pb(entry.drop_time.as_ref()) else {
            continue;
        };
        if from > horizon {
            continue;
        }
        let to = from_pb(entry.drop_window_end.as_ref())
            .unwrap_or(from)
            .max(from);
        first = Some(first.map_or(from, |f| f.min(from)));
        last = Some(last.map_or(to, |l| l.max(to)));
    }
    match (first, last) {
        (Some(first), Some(last)) => Ok((first, last)),
        _ => anyhow::bail!("the simulator lists no drop within a day of its start"),
    }
}

/// Values for a TLD's required extension fields: `X-UK-*` (a prefix) gets
/// `X-UK-CONTACT-TYPE=IND`, an exact name gets `1`.
pub fn extensions_for(required: &[String]) -> std::collections::HashMap<String, String> {
    required
        .iter()
        .map(|field| match field.strip_suffix('*') {
            Some(prefix) => (format!("{prefix}CONTACT-TYPE"), "IND".to_string()),
            None => (field.clone(), "1".to_string()),
        })
        .collect()
}

/// Orders per final status, `FAILED` split by reason: `FAILED(UNFUNDED)`.
pub fn status_counts(orders: &[pb::Backorder]) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for order in orders {
        let mut name = status_name(order.status);
        if order.status == pb::BackorderStatus::Failed as i32 {
            name = format!(
                "{name}({})",
                crate::harness::failure_name(order.failure_reason)
            );
        }
        *counts.entry(name).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deposits follow the orders: the same plan funds a 40-order day and a 1,000-order day
    /// alike (the old fixed amounts left most of a large day's orders UNFUNDED).
    #[test]
    fn deposits_are_sized_to_the_orders() {
        assert_eq!(deposit_for(0, 300), 0);
        assert_eq!(deposit_for(3_000, 100), 3_000);
        assert_eq!(deposit_for(3_100, 100), 3_500, "rounded up to 5.00");
        assert_eq!(deposit_for(1_000 * 3_000, 300), 9_000_000);
        assert_eq!(deposit_for(100 * 3_000, 35), 105_000);
        assert!(
            deposit_for(100 * 3_000, 35) < 100 * 3_000,
            "short plans stay short"
        );
        assert!(deposit_for(i64::MAX, 300) > 0, "no overflow");
        assert_eq!(deposit_for(-5, 300), 0);
    }

    #[test]
    fn ticks_count_what_run_until_runs() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let from = t("2026-03-02T03:55:00Z");
        assert_eq!(
            ticks(from, t("2026-03-02T03:56:00Z"), Duration::seconds(1)),
            60
        );
        assert_eq!(
            ticks(from, t("2026-03-02T03:55:05Z"), Duration::seconds(10)),
            1
        );
        assert_eq!(ticks(from, from, Duration::seconds(1)), 0);
        assert_eq!(
            ticks(from, t("2026-03-01T00:00:00Z"), Duration::seconds(1)),
            0
        );
    }
}
