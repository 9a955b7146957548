//! kill -9 in CI: the real `backorder-svc` binary as a child process, against the registry
//! simulator in-process (`smoke`, manual clock, the service following it with `--clock
//! registry` and catching with the scenario's registrars), on SQLite and on PostgreSQL.
//!
//! It is killed with SIGKILL while clients place orders, at random ticks of the drop window
//! (between ticks and in the middle of one), at the very ticks of exact `.uk` releases a few
//! milliseconds into the tick (between our winning `Create` and the commit of its result),
//! and once while auctions run; each time it is started again on the same database with the
//! same flags. Clients retry every call with the same request id until it succeeds. At the
//! end, through public APIs only: every ledger invariant and each account's trial balance;
//! each deposit booked once; every name the registry's race log gives to our accreditations
//! `CAUGHT` with the same registrar and held by exactly one order; no order left
//! non-terminal past its deadlines; no hold without an open order.
//!
//! `KILL_NINE_KILLS` (default 20) kills per backend, `KILL_NINE_SEED` replays a plan (the
//! seed is printed), `KILL_NINE_KEEP=1` keeps the service logs of a passing run too (a
//! failing run always keeps them), `KILL_NINE_BIN` runs another binary. See the
//! integration-tests README.

use backorder_proto::backorder::v1 as pb;
use backorder_proto::registry::v1 as registry;
use chrono::{DateTime, Duration, Utc};
use integration_tests::checks::{Phase, Snapshot};
use integration_tests::child_service::{self, ChildOptions, ChildService};
use integration_tests::clients::{Api, RetryPolicy, describe, retry};
use integration_tests::harness::{
    Attached, Database, Harness, Leads, OURS, Reseller, SCENARIO_CATCHER_REGISTRARS, failure_name,
    status_name,
};
use integration_tests::money;
use integration_tests::sim::SimServer;
use integration_tests::time::{duration_pb, from_pb, to_pb};
use pb::BackorderStatus as S;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tonic::Code;

/// Kills per backend unless `KILL_NINE_KILLS` says otherwise.
const DEFAULT_KILLS: u32 = 20;
/// `--catch-grace`: a drop not seen available 5 min after its window is NOT_DROPPED.
const CATCH_GRACE: Duration = Duration::minutes(5);
/// The simulator drops a participant that does not acknowledge a tick within this long (a
/// killed one is dropped as soon as its stream closes).
const ACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a (re)started service may take to serve and follow the registry clock.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);
/// Kills aimed at a release land this many milliseconds (at most) into the release tick.
const AIM_MS: u64 = 30;

/// One backend at a time: the aimed kills depend on timing, and the output stays readable.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_on_sqlite() {
    let _one = ONE_AT_A_TIME.lock().await;
    kill_nine("sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_on_postgres() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(db) = backorder_svc::testkit::postgres().await else {
        return;
    };
    kill_nine("postgres", Some(db.url.clone())).await;
    drop(db);
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
    )
}

async fn kill_nine(backend: &str, postgres_url: Option<String>) {
    let seed = env_u64("KILL_NINE_SEED").unwrap_or_else(rand::random);
    let kills = u32::try_from(env_u64("KILL_NINE_KILLS").unwrap_or(DEFAULT_KILLS.into()))
        .expect("KILL_NINE_KILLS fits in 32 bits")
        .max(1);
    eprintln!(
        "kill -9 on {backend}: seed {seed} (KILL_NINE_SEED={seed} replays the plan), {kills} kills"
    );
    let dir = tempfile::Builder::new()
        .prefix(&format!("kill-nine-{backend}-"))
        .tempdir()
        .expect("a temporary folder");
    let database_url = postgres_url
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("backorder.db").display()));
    let wall = Instant::now();
    let outcome = run(backend, &database_url, dir.path(), seed, kills).await;
    let keep = std::env::var("KILL_NINE_KEEP").is_ok_and(|v| v == "1" || v == "true");
    match outcome {
        Ok(result) if result.violations.is_empty() => {
            eprintln!(
                "{} ({:.0} s wall)",
                result.summary,
                wall.elapsed().as_secs_f64()
            );
            if keep {
                eprintln!(
                    "kill -9 on {backend}: logs kept in {}",
                    dir.keep().display()
                );
            }
        }
        Ok(result) => {
            let logs = dir.keep();
            let shown = 60;
            panic!(
                "kill -9 on {backend} (seed {seed}): {} violations{}:\n  {}\n{}\n\
                 service logs (one file per run) kept in {}\n{}",
                result.violations.len(),
                if result.violations.len() > shown {
                    format!(", the first {shown}")
                } else {
                    String::new()
                },
                result
                    .violations
                    .iter()
                    .take(shown)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n  "),
                result.summary,
                logs.display(),
                result.kill_log.join("\n"),
            );
        }
        Err(error) => {
            let logs = dir.keep();
            panic!(
                "kill -9 on {backend} (seed {seed}) could not run to its checks: {error:#}\n\
                 service logs (one file per run) kept in {}",
                logs.display()
            );
        }
    }
}

/// What a run found.
struct Outcome {
    violations: Vec<String>,
    summary: String,
    /// One line per kill.
    kill_log: Vec<String>,
}

/// An order the plan places.
#[derive(Debug, Clone)]
struct PlannedOrder {
    reseller: usize,
    domain: String,
    zone: String,
    request_id: String,
    then: Then,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Nothing,
    Cancel,
    Prepay,
}

/// A deposit a client booked (and saw answered).
#[derive(Debug, Clone)]
struct Deposit {
    account_id: String,
    request_id: String,
    cents: i64,
}

#[derive(Debug, Clone)]
enum KillKind {
    /// In the tick of these exact releases, this long after the advance over it began.
    Aimed { domains: Vec<String>, delay_ms: u64 },
    /// In the middle of the advance over the tick.
    MidTick { delay_ms: u64 },
    /// Just before the tick, the service idle.
    BeforeTick,
}

#[derive(Debug, Clone)]
struct PlannedKill {
    at: DateTime<Utc>,
    kind: KillKind,
    /// Ticks the registry moves on while the service is down.
    dead_ticks: u32,
}

/// A kill that happened.
#[derive(Debug, Clone)]
struct KillRecord {
    phase: &'static str,
    /// The run that was killed.
    run: u32,
    at: Option<DateTime<Utc>>,
    kind: KillKind,
    /// Ticks the registry moved on while the service was down.
    dead_ticks: u32,
    /// Where an aimed kill landed.
    landed: Option<Landed>,
    /// Wall seconds from the kill until the next run served and followed the clock.
    back_after: f64,
}

/// Everything the phases share.
struct World {
    harness: Harness,
    child: ChildService,
    resellers: Vec<Reseller>,
    deposits: Vec<Deposit>,
    kills: Vec<KillRecord>,
    /// Calls that failed in transit and were sent again.
    retried: u32,
    rng: ChaCha8Rng,
}

fn policy() -> RetryPolicy {
    RetryPolicy::default()
}

async fn run(
    backend: &str,
    database_url: &str,
    dir: &std::path::Path,
    seed: u64,
    kills: u32,
) -> anyhow::Result<Outcome> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sim = SimServer::start_with_ack_timeout("smoke", None, ACK_TIMEOUT).await?;
    let binary = child_service::service_binary()?;
    let mut child = ChildService::new(
        binary,
        ChildOptions {
            database_url: database_url.to_string(),
            registry_url: sim.url.clone(),
            catcher_registrars: SCENARIO_CATCHER_REGISTRARS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            extra_args: vec![
                "--catch-grace".into(),
                format!("{}m", CATCH_GRACE.num_minutes()),
            ],
            log_dir: dir.join("logs"),
            rust_log: std::env::var("KILL_NINE_RUST_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        },
    )?;
    eprintln!(
        "kill -9 on {backend}: {} {}",
        child.binary.display(),
        child.args().join(" ")
    );
    child.start()?;
    let key = child
        .operator_key(READY_TIMEOUT)
        .await
        .map_err(|e| e.context("first start"))?;
    let channel = child.channel()?;
    let operator = Api::new(channel.clone(), &key)?;
    wait_ready(&mut child, &sim, &operator).await?;
    let harness = Harness::attach(
        sim,
        Attached {
            channel,
            operator_key: key,
            database: Database::Url(database_url.to_string()),
            catcher: true,
            notes: Vec::new(),
            leads: Some(Leads::SHORT),
        },
    )
    .await?;
    let mut world = World {
        harness,
        child,
        resellers: Vec::new(),
        deposits: Vec::new(),
        kills: Vec::new(),
        retried: 0,
        rng: ChaCha8Rng::seed_from_u64(rng.random()),
    };
    let plan = plan_orders(&world, &mut rng)?;
    let (setup_kills, aimed_budget, tail_kills) = split_kills(kills);
    open_accounts(&mut world).await?;
    let placed = place_orders(&mut world, &plan, setup_kills).await?;
    let schedule_seed = world.rng.random();
    let schedule = kill_schedule(
        &world,
        &placed,
        kills - setup_kills - tail_kills,
        aimed_budget,
        schedule_seed,
    )?;
    let window_end = drop_window(&mut world, &schedule).await?;
    settle(&mut world, window_end, tail_kills).await?;
    anyhow::ensure!(
        world.kills.len() == usize::try_from(kills).unwrap_or(usize::MAX),
        "{} kills happened of the {kills} planned",
        world.kills.len()
    );
    check(backend, &mut world, &placed).await
}

/// Kills during order placement, at most this many aimed, and during auctions.
fn split_kills(kills: u32) -> (u32, u32, u32) {
    let setup = if kills >= 10 { 2 } else { 0 };
    let tail = if kills >= 10 { 1 } else { 0 };
    let rest = kills - setup - tail;
    // At least a quarter of the window's kills at random ticks; the others aimed.
    let aimed = rest - rest.div_ceil(4);
    (setup, aimed, tail)
}

/// Waits until the service serves (`GetClock` answers) and follows the simulator's clock.
async fn wait_ready(
    child: &mut ChildService,
    sim: &SimServer,
    operator: &Api,
) -> anyhow::Result<()> {
    child
        .wait_until(READY_TIMEOUT, || {
            let mut clock = operator.operator.clone();
            async move {
                sim.clock_participants() >= 1
                    && tokio::time::timeout(
                        std::time::Duration::from_secs(1),
                        clock.get_clock(pb::GetClockRequest {}),
                    )
                    .await
                    .is_ok_and(|answer| answer.is_ok())
            }
        })
        .await
}

impl World {
    /// SIGKILL, then (once the simulator saw it go) `dead_ticks` ticks without the service,
    /// then a new run on the same database, ready.
    async fn kill_and_restart(
        &mut self,
        phase: &'static str,
        at: Option<DateTime<Utc>>,
        kind: KillKind,
        dead_ticks: u32,
        mid_tick: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    ) -> anyhow::Result<()> {
        let run = self.child.current().map_or(0, |r| r.number);
        self.child.kill()?;
        let killed = Instant::now();
        if let Some(advance) = mid_tick {
            advance.await??;
        }
        self.wait_gone().await?;
        if dead_ticks > 0 {
            let now = self.harness.now().await?;
            self.harness
                .run_until(
                    now + Duration::seconds(dead_ticks.into()),
                    Duration::seconds(1),
                )
                .await?;
        }
        self.child.start()?;
        let operator = self.harness.operator.clone();
        wait_ready(&mut self.child, &self.harness.sim, &operator).await?;
        self.kills.push(KillRecord {
            phase,
            run,
            at,
            kind,
            dead_ticks,
            landed: None,
            back_after: killed.elapsed().as_secs_f64(),
        });
        Ok(())
    }

    /// Waits until the simulator no longer counts the killed service as a clock participant
    /// (it drops it when its stream closes), so that the next run's joining can be seen.
    async fn wait_gone(&self) -> anyhow::Result<()> {
        let gone = Instant::now();
        while self.harness.sim.clock_participants() > 0 {
            anyhow::ensure!(
                gone.elapsed() < std::time::Duration::from_secs(10),
                "the simulator still counts the killed service as a clock participant after 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// The advance over the next tick, `at`, started in the background.
    fn advance_over(&self, at: DateTime<Utc>) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let mut control = self.harness.sim.control();
        tokio::spawn(async move {
            control
                .run_until(registry::RunUntilRequest {
                    until: Some(to_pb(at)),
                    step: Some(duration_pb(Duration::seconds(1))),
                })
                .await?;
            Ok(())
        })
    }
}

/// The orders: most `.com` names once (two of them twice from two accounts: auctions), every
/// `.uk` name (exact release times) once and four of them twice (FCFS: the earlier wins), a
/// few cancelled and a few prepaid.
fn plan_orders(world: &World, rng: &mut ChaCha8Rng) -> anyhow::Result<Vec<PlannedOrder>> {
    let horizon = world.harness.start + Duration::days(1);
    let entries: Vec<&pb::DropListEntry> = world
        .harness
        .imported
        .entries
        .iter()
        .filter(|e| from_pb(e.drop_time.as_ref()).is_some_and(|t| t <= horizon))
        .collect();
    let com: Vec<&pb::DropListEntry> = entries
        .iter()
        .copied()
        .filter(|e| e.zone == "com")
        .collect();
    let uk: Vec<&pb::DropListEntry> = entries
        .iter()
        .copied()
        .filter(|e| e.zone == "uk" || e.zone.ends_with(".uk"))
        .collect();
    anyhow::ensure!(
        com.len() >= 4 && uk.len() >= 4,
        "the smoke list has {} .com and {} .uk names within a day",
        com.len(),
        uk.len()
    );
    let mut orders = Vec::new();
    let mut serial = 0u32;
    let mut order = |reseller: usize, entry: &pb::DropListEntry, orders: &mut Vec<PlannedOrder>| {
        serial += 1;
        orders.push(PlannedOrder {
            reseller,
            domain: entry.domain.clone(),
            zone: entry.zone.clone(),
            request_id: format!("order-{serial}"),
            then: Then::Nothing,
        });
    };
    let mut com_twice: Vec<usize> = (0..com.len()).collect();
    com_twice.shuffle(rng);
    com_twice.truncate(2);
    for (i, entry) in com.iter().enumerate() {
        if com_twice.contains(&i) {
            let first = rng.random_range(0..RESELLERS.len());
            order(first, entry, &mut orders);
            order((first + 1) % RESELLERS.len(), entry, &mut orders);
        } else if rng.random_bool(0.85) {
            order(rng.random_range(0..RESELLERS.len()), entry, &mut orders);
        }
    }
    let mut uk_twice: Vec<usize> = (0..uk.len()).collect();
    uk_twice.shuffle(rng);
    uk_twice.truncate(4);
    for (i, entry) in uk.iter().enumerate() {
        let first = rng.random_range(0..RESELLERS.len());
        order(first, entry, &mut orders);
        if uk_twice.contains(&i) {
            order((first + 2) % RESELLERS.len(), entry, &mut orders);
        }
    }
    // Cancel three orders and prepay three others, on names ordered once (a cancelled name
    // is simply not raced for).
    let mut per_domain: BTreeMap<&str, u32> = BTreeMap::new();
    for o in &orders {
        *per_domain.entry(o.domain.as_str()).or_default() += 1;
    }
    let mut single: Vec<usize> = (0..orders.len())
        .filter(|&i| per_domain[orders[i].domain.as_str()] == 1)
        .collect();
    single.shuffle(rng);
    let marks: Vec<(usize, Then)> = single
        .iter()
        .take(6)
        .enumerate()
        .map(|(k, &i)| (i, if k < 3 { Then::Cancel } else { Then::Prepay }))
        .collect();
    for (i, then) in marks {
        orders[i].then = then;
    }
    Ok(orders)
}

const RESELLERS: [&str; 4] = ["acme", "bolt", "cedar", "dune"];

/// Four accounts with plenty of money (two deposits each, with request ids).
async fn open_accounts(world: &mut World) -> anyhow::Result<()> {
    for name in RESELLERS {
        let (reseller, failed) = retry(policy(), &format!("account {name}"), || {
            world.harness.create_reseller(name)
        })
        .await?;
        world.retried += failed;
        for (n, cents) in [(1, 300_000), (2, 200_000)] {
            let request_id = format!("deposit-{name}-{n}");
            let (_, failed) = retry(policy(), &request_id, || {
                world.harness.deposit(&reseller.id, cents, &request_id)
            })
            .await?;
            world.retried += failed;
            world.deposits.push(Deposit {
                account_id: reseller.id.clone(),
                request_id,
                cents,
            });
        }
        world.resellers.push(reseller);
    }
    Ok(())
}

/// What placement produced: each planned order and the order the service created.
struct Placed {
    orders: Vec<(PlannedOrder, pb::Backorder)>,
    refused: Vec<String>,
}

/// Places the orders (then the cancels and prepays) from a client task that retries every
/// call, while the service is killed `kills` times around seeded points of the sequence.
async fn place_orders(
    world: &mut World,
    plan: &[PlannedOrder],
    kills: u32,
) -> anyhow::Result<Placed> {
    // Extension fields per zone, read while the service is up.
    let mut extensions = BTreeMap::new();
    for zone in plan.iter().map(|o| o.zone.clone()).collect::<BTreeSet<_>>() {
        if let Ok((tld, _)) = retry(policy(), &format!("GetTld {zone}"), || {
            world.harness.tld(&zone)
        })
        .await
        {
            extensions.insert(
                zone,
                integration_tests::drop_day::extensions_for(&tld.required_extensions),
            );
        }
    }
    let progress = Arc::new(AtomicUsize::new(0));
    let apis: Vec<Api> = world.resellers.iter().map(|r| r.api.clone()).collect();
    let task = tokio::spawn({
        let plan = plan.to_vec();
        let progress = Arc::clone(&progress);
        async move {
            let mut placed = Vec::new();
            let mut refused = Vec::new();
            let mut retried = 0u32;
            for (i, order) in plan.iter().enumerate() {
                progress.store(i, Ordering::SeqCst);
                let request = pb::CreateBackorderRequest {
                    domain: order.domain.clone(),
                    class: pb::BackorderClass::Backorder as i32,
                    extensions: extensions.get(&order.zone).cloned().unwrap_or_default(),
                    client_reference: order.request_id.clone(),
                    request_id: order.request_id.clone(),
                    allow_duplicate: Some(true),
                    ..Default::default()
                };
                let api = apis[order.reseller].backorders.clone();
                match retry(policy(), &order.request_id, || {
                    let mut api = api.clone();
                    let request = request.clone();
                    async move { api.create_backorder(request).await }
                })
                .await
                {
                    Ok((response, failed)) => {
                        retried += failed;
                        let backorder = response.into_inner().backorder.ok_or_else(|| {
                            anyhow::anyhow!("CreateBackorder answered without its order")
                        })?;
                        placed.push((order.clone(), backorder));
                    }
                    Err(error) => match error.downcast_ref::<tonic::Status>() {
                        Some(status)
                            if status.code() == Code::InvalidArgument
                                || status.code() == Code::FailedPrecondition =>
                        {
                            refused.push(format!(
                                "{} ({}): {}",
                                order.domain,
                                order.request_id,
                                describe(status)
                            ));
                        }
                        _ => return Err(error),
                    },
                }
            }
            for (i, (order, backorder)) in placed.iter().enumerate() {
                progress.store(plan.len() + i, Ordering::SeqCst);
                let api = apis[order.reseller].backorders.clone();
                let id = backorder.id.clone();
                match order.then {
                    Then::Nothing => {}
                    Then::Cancel => {
                        let (_, failed) = retry(policy(), &format!("cancel {id}"), || {
                            let mut api = api.clone();
                            let request = pb::CancelBackorderRequest {
                                backorder_id: id.clone(),
                                request_id: format!("cancel-{id}"),
                            };
                            async move { api.cancel_backorder(request).await }
                        })
                        .await?;
                        retried += failed;
                    }
                    Then::Prepay => {
                        let (_, failed) = retry(policy(), &format!("prepay {id}"), || {
                            let mut api = api.clone();
                            let request = pb::PayBackorderRequest {
                                backorder_id: id.clone(),
                                request_id: format!("prepay-{id}"),
                            };
                            async move { api.pay_backorder(request).await }
                        })
                        .await?;
                        retried += failed;
                    }
                }
            }
            progress.store(usize::MAX, Ordering::SeqCst);
            anyhow::Ok((placed, refused, retried))
        }
    });
    // Kill around seeded points of the sequence (order placements, then cancels and prepays).
    let steps = plan.len() + plan.len() / 2;
    let mut points: Vec<usize> = (0..kills)
        .map(|_| world.rng.random_range(1..steps.max(2)))
        .collect();
    points.sort_unstable();
    for point in points {
        while progress.load(Ordering::SeqCst) < point {
            if task.is_finished() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let delay = world.rng.random_range(0..15);
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        // Down for a moment: the clients meet connection refused and retry.
        let down = world.rng.random_range(50..300);
        let run = world.child.current().map_or(0, |r| r.number);
        world.child.kill()?;
        let killed = Instant::now();
        tokio::time::sleep(std::time::Duration::from_millis(down)).await;
        world.wait_gone().await?;
        world.child.start()?;
        let operator = world.harness.operator.clone();
        wait_ready(&mut world.child, &world.harness.sim, &operator).await?;
        world.kills.push(KillRecord {
            phase: "placing orders",
            run,
            at: None,
            kind: KillKind::MidTick { delay_ms: delay },
            dead_ticks: 0,
            landed: None,
            back_after: killed.elapsed().as_secs_f64(),
        });
    }
    let (orders, refused, retried) = task.await??;
    world.retried += retried;
    Ok(Placed { orders, refused })
}

/// Aimed kills at the exact releases of names with a valid order (one per release second,
/// up to `aimed`), the rest at random ticks of the drop window, each with 0-3 dead ticks.
fn kill_schedule(
    world: &World,
    placed: &Placed,
    window_kills: u32,
    aimed: u32,
    seed: u64,
) -> anyhow::Result<Vec<PlannedKill>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let exact: BTreeSet<&str> = world
        .harness
        .registry_list
        .iter()
        .filter(|e| {
            e.precision == registry::DropTimePrecision::Exact as i32
                || (e.drop_window_end.is_none() && e.tld == "uk")
        })
        .map(|e| e.domain.as_str())
        .collect();
    let mut releases: BTreeMap<DateTime<Utc>, Vec<String>> = BTreeMap::new();
    for (order, backorder) in &placed.orders {
        if order.then == Then::Cancel || !exact.contains(order.domain.as_str()) {
            continue;
        }
        if let Some(at) = from_pb(backorder.drop_time.as_ref()) {
            let names = releases.entry(at).or_default();
            if !names.contains(&order.domain) {
                names.push(order.domain.clone());
            }
        }
    }
    let mut instants: Vec<DateTime<Utc>> = releases.keys().copied().collect();
    instants.shuffle(&mut rng);
    instants.truncate(usize::try_from(aimed).unwrap_or(usize::MAX));
    let aimed_count = u32::try_from(instants.len()).unwrap_or(0);
    let mut kills: Vec<PlannedKill> = instants
        .iter()
        .map(|at| PlannedKill {
            at: *at,
            kind: KillKind::Aimed {
                domains: releases[at].clone(),
                // Drawn at the kill, around what the earlier ones taught (`Aim`).
                delay_ms: 0,
            },
            // At least one: the next run starts after the release tick, so a win at the
            // release instant was the killed run's create.
            dead_ticks: rng.random_range(1..=2),
        })
        .collect();
    let (first, last) = window(&world.harness)?;
    let from = first - Leads::SHORT.finalization - Leads::SHORT.lock;
    let until = last + CATCH_GRACE;
    let span = (until - from).num_seconds().max(1);
    let mut taken: BTreeSet<DateTime<Utc>> = instants.iter().copied().collect();
    let mut random = 0;
    let mut tries = 0;
    while random < window_kills - aimed_count {
        tries += 1;
        anyhow::ensure!(
            tries < 100_000,
            "no room for {} kills 4 s apart in the drop window: lower KILL_NINE_KILLS",
            window_kills
        );
        let at = from + Duration::seconds(rng.random_range(1..=span));
        if taken.iter().any(|t| (*t - at).num_seconds().abs() <= 3) {
            continue;
        }
        taken.insert(at);
        kills.push(PlannedKill {
            at,
            kind: if rng.random_bool(0.5) {
                KillKind::MidTick {
                    delay_ms: rng.random_range(0..=40),
                }
            } else {
                KillKind::BeforeTick
            },
            dead_ticks: rng.random_range(0..=3),
        });
        random += 1;
    }
    kills.sort_by_key(|k| k.at);
    // The registry must not move past the next kill while the service is down.
    for i in 1..kills.len() {
        let room = (kills[i].at - kills[i - 1].at).num_seconds() - 1;
        let room = u32::try_from(room.max(0)).unwrap_or(0);
        kills[i - 1].dead_ticks = kills[i - 1].dead_ticks.min(room);
    }
    Ok(kills)
}

/// The first release and the last window end of the day's drops.
fn window(harness: &Harness) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let horizon = harness.start + Duration::days(1);
    let mut first = None::<DateTime<Utc>>;
    let mut last = None::<DateTime<Utc>>;
    for entry in &harness.registry_list {
        let Some(at) = from_pb(entry.drop_time.as_ref()).filter(|t| *t <= horizon) else {
            continue;
        };
        let end = from_pb(entry.drop_window_end.as_ref())
            .unwrap_or(at)
            .max(at);
        first = Some(first.map_or(at, |f| f.min(at)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    first
        .zip(last)
        .ok_or_else(|| anyhow::anyhow!("the simulator lists no drop within a day"))
}

/// Deposits with fresh request ids (and a read now and then) from a client that retries,
/// until told to stop.
fn trickle(
    operator: Api,
    accounts: Vec<String>,
    seed: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<anyhow::Result<(Vec<Deposit>, u32)>> {
    tokio::spawn(async move {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut booked = Vec::new();
        let mut retried = 0;
        let mut n = 0u32;
        while !*stop.borrow() {
            n += 1;
            let account_id = accounts[rng.random_range(0..accounts.len())].clone();
            let cents = rng.random_range(100..1000);
            let request_id = format!("trickle-{n}");
            let accounts_api = operator.accounts.clone();
            let (_, failed) = retry(policy(), &request_id, || {
                let mut api = accounts_api.clone();
                let request = pb::CreateDepositRequest {
                    account_id: account_id.clone(),
                    amount: Some(money::usd(cents)),
                    request_id: request_id.clone(),
                    memo: "kill -9 trickle".into(),
                };
                async move { api.create_deposit(request).await }
            })
            .await?;
            retried += failed;
            booked.push(Deposit {
                account_id: account_id.clone(),
                request_id,
                cents,
            });
            let backorders = operator.backorders.clone();
            let (_, failed) = retry(policy(), "list orders", || {
                let mut api = backorders.clone();
                let request = pb::ListBackordersRequest {
                    account_id: account_id.clone(),
                    page_size: 50,
                    ..Default::default()
                };
                async move { api.list_backorders(request).await }
            })
            .await?;
            retried += failed;
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(150)) => {}
            }
        }
        Ok((booked, retried))
    })
}

/// Where an aimed kill landed, read back once the next run serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Landed {
    /// Our create did not reach the registry at the release instant.
    Early,
    /// Our winning create went out and the killed run did not commit its result.
    InGap,
    /// The killed run committed the result at the release instant.
    Late,
}

/// The delay of aimed kills, learnt from where the previous ones landed (a release tick takes
/// a few milliseconds in a debug build, longer on a busy machine or on PostgreSQL): an early
/// kill moves it later, a late one earlier; each kill draws around it.
#[derive(Debug, Clone, Copy)]
struct Aim {
    estimate_ms: f64,
}

impl Default for Aim {
    fn default() -> Self {
        Aim { estimate_ms: 8.0 }
    }
}

impl Aim {
    fn next(&self, rng: &mut ChaCha8Rng) -> u64 {
        let drawn = self.estimate_ms * rng.random_range(0.5..1.5);
        drawn.round().clamp(0.0, AIM_MS as f64) as u64
    }

    fn learn(&mut self, landed: Landed) {
        let max = AIM_MS as f64;
        self.estimate_ms = match landed {
            Landed::Early => (self.estimate_ms * 1.5)
                .max(self.estimate_ms + 2.0)
                .min(max),
            Landed::Late => (self.estimate_ms * 0.6).max(0.5),
            Landed::InGap => self.estimate_ms,
        };
    }
}

/// Where a kill aimed at the release of `domains` at `at` landed: the registry's race log
/// (did our create win at that instant?) and our catch results (decided at that instant?).
async fn aimed_landing(
    world: &World,
    domains: &[String],
    at: DateTime<Utc>,
) -> anyhow::Result<Landed> {
    let races = world.harness.race_log().await?;
    let (catches, _) = retry(policy(), "ListCatches", || {
        list_catches(&world.harness.operator)
    })
    .await?;
    let mut landed = Landed::Early;
    for domain in domains {
        let won_then = races.races.iter().any(|r| {
            &r.domain == domain && r.winner == OURS && from_pb(r.win_time.as_ref()) == Some(at)
        });
        if !won_then {
            continue;
        }
        let committed_then = catches
            .iter()
            .any(|c| &c.domain == domain && from_pb(c.decide_time.as_ref()) == Some(at));
        landed = if committed_then {
            Landed::Late
        } else {
            Landed::InGap
        };
        if landed == Landed::InGap {
            break;
        }
    }
    Ok(landed)
}

/// 10 s ticks to shortly before the first lock window, then 1 s ticks through the releases
/// and the catch grace, killing as scheduled, while a client books deposits. Returns the
/// virtual time reached (past every drop's deadline).
async fn drop_window(world: &mut World, schedule: &[PlannedKill]) -> anyhow::Result<DateTime<Utc>> {
    let (first, last) = window(&world.harness)?;
    let lock = first - Leads::SHORT.finalization - Leads::SHORT.lock;
    let end = last + CATCH_GRACE + Duration::seconds(30);
    let second = Duration::seconds(1);
    world
        .harness
        .run_until(lock - Duration::seconds(20), Duration::seconds(10))
        .await?;
    let mut aim = Aim::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let traffic = trickle(
        world.harness.operator.clone(),
        world.resellers.iter().map(|r| r.id.clone()).collect(),
        world.rng.random(),
        stopped,
    );
    for kill in schedule {
        let now = world.harness.now().await?;
        anyhow::ensure!(
            kill.at > now,
            "kill planned at {} but the clock is at {now}",
            kill.at
        );
        world.harness.run_until(kill.at - second, second).await?;
        match &kill.kind {
            KillKind::BeforeTick => {
                world
                    .kill_and_restart(
                        "drop window",
                        Some(kill.at),
                        kill.kind.clone(),
                        kill.dead_ticks,
                        None,
                    )
                    .await?;
            }
            KillKind::MidTick { delay_ms } => {
                let advance = world.advance_over(kill.at);
                tokio::time::sleep(std::time::Duration::from_millis(*delay_ms)).await;
                world
                    .kill_and_restart(
                        "drop window",
                        Some(kill.at),
                        kill.kind.clone(),
                        kill.dead_ticks,
                        Some(advance),
                    )
                    .await?;
            }
            KillKind::Aimed { domains, .. } => {
                let delay_ms = aim.next(&mut world.rng);
                let advance = world.advance_over(kill.at);
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                let kind = KillKind::Aimed {
                    domains: domains.clone(),
                    delay_ms,
                };
                world
                    .kill_and_restart(
                        "drop window",
                        Some(kill.at),
                        kind,
                        kill.dead_ticks,
                        Some(advance),
                    )
                    .await?;
                let landed = aimed_landing(world, domains, kill.at).await?;
                aim.learn(landed);
                if let Some(record) = world.kills.last_mut() {
                    record.landed = Some(landed);
                }
            }
        }
    }
    world.harness.run_until(end, second).await?;
    let _ = stop.send(true);
    let (booked, retried) = traffic.await??;
    world.deposits.extend(booked);
    world.retried += retried;
    Ok(end)
}

/// To the auctions' start (the next 20:00), a bid on each auction, then hourly ticks to a
/// few hours past every close (payment is taken from the winner's balance at the close),
/// with `kills` kills at random hours in the middle of a tick.
async fn settle(world: &mut World, window_end: DateTime<Utc>, kills: u32) -> anyhow::Result<()> {
    let start = integration_tests::time::next_hour_of_day(window_end, 20) + Duration::minutes(1);
    world.harness.run_until(start, Duration::minutes(1)).await?;
    let (seats, failed) = retry(policy(), "list auctions", || {
        world.harness.auctions(&world.resellers)
    })
    .await?;
    world.retried += failed;
    let seats = seats.unwrap_or_default();
    let mut bid_on = BTreeSet::new();
    let mut end = start;
    for (account, auction) in &seats {
        end = end.max(from_pb(auction.end_time.as_ref()).unwrap_or(start));
        if !bid_on.insert(auction.id.clone()) {
            continue;
        }
        let Some(reseller) = world.resellers.iter().find(|r| &r.id == account) else {
            continue;
        };
        let maximum = 1000 + 500 * world.rng.random_range(1..10);
        let api = reseller.api.auctions.clone();
        let request_id = format!("bid-{}-{}", auction.id, auction.backorder_id);
        let (_, failed) = retry(policy(), &request_id, || {
            let mut api = api.clone();
            let request = pb::PlaceBidRequest {
                auction_id: auction.id.clone(),
                backorder_id: auction.backorder_id.clone(),
                maximum: Some(money::usd(maximum)),
                request_id: request_id.clone(),
            };
            async move { api.place_bid(request).await }
        })
        .await?;
        world.retried += failed;
    }
    let until = end + Duration::hours(3);
    let hour = Duration::hours(1);
    let hours = (until - start).num_hours().max(2);
    // With auctions, the first kill lands in the tick that closes them (and takes payment).
    let close = ((end - start).num_minutes() + 59) / 60;
    let mut at: Vec<i64> = (0..kills)
        .map(|k| {
            if k == 0 && !seats.is_empty() {
                close.max(1)
            } else {
                world.rng.random_range(1..hours)
            }
        })
        .collect();
    at.sort_unstable();
    at.dedup();
    for h in at {
        let tick = start + hour * i32::try_from(h).unwrap_or(1);
        world.harness.run_until(tick - hour, hour).await?;
        let delay_ms = world.rng.random_range(0..=20);
        let advance = {
            let mut control = world.harness.sim.control();
            tokio::spawn(async move {
                control
                    .run_until(registry::RunUntilRequest {
                        until: Some(to_pb(tick)),
                        step: Some(duration_pb(Duration::hours(1))),
                    })
                    .await?;
                anyhow::Ok(())
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        world
            .kill_and_restart(
                "auctions",
                Some(tick),
                KillKind::MidTick { delay_ms },
                0,
                Some(advance),
            )
            .await?;
    }
    world.harness.run_until(until, hour).await?;
    Ok(())
}

/// Every check, and the summary line.
async fn check(backend: &str, world: &mut World, placed: &Placed) -> anyhow::Result<Outcome> {
    let harness = &world.harness;
    let (snapshot, _) = retry(policy(), "snapshot", || Snapshot::take(harness)).await?;
    let (catches, _) = retry(policy(), "ListCatches", || list_catches(&harness.operator)).await?;
    let mut violations = Vec::new();
    let orders_of = |domain: &str| -> String {
        let list: Vec<String> = snapshot
            .orders
            .iter()
            .filter(|o| o.domain == domain)
            .map(|o| {
                let mut s = format!("{} {}", o.id, status_name(o.status));
                if o.status == S::Failed as i32 {
                    s.push_str(&format!("({})", failure_name(o.failure_reason)));
                }
                s
            })
            .collect();
        if list.is_empty() {
            "no orders".into()
        } else {
            format!("orders {}", list.join(", "))
        }
    };

    // 3. Every name the race log gives to our accreditations is CAUGHT, same registrar.
    let won: BTreeMap<&str, &registry::DropRecord> = snapshot
        .race_log
        .races
        .iter()
        .filter(|r| r.winner == OURS)
        .map(|r| (r.domain.as_str(), r))
        .collect();
    let mut recorded: BTreeMap<&str, Vec<&pb::Catch>> = BTreeMap::new();
    for c in &catches {
        recorded.entry(c.domain.as_str()).or_default().push(c);
    }
    let caught = |c: &pb::Catch| c.outcome == pb::CatchOutcome::Caught as i32;
    let mut lost = Vec::new();
    for (domain, race) in &won {
        let ours = recorded.get(domain).cloned().unwrap_or_default();
        let registry_says = format!(
            "the registry's race log gives it to `{OURS}` (registrar {}, created {})",
            race.winner_registrar,
            from_pb(race.win_time.as_ref())
                .map_or("?".into(), |t| t.format("%H:%M:%S%.3f").to_string())
        );
        match ours.iter().find(|c| caught(c)) {
            Some(c) if c.registrar == race.winner_registrar => {}
            Some(c) => violations.push(format!(
                "{domain}: {registry_says}; we recorded CAUGHT by registrar {}",
                c.registrar
            )),
            None => {
                lost.push(domain.to_string());
                violations.push(format!(
                    "LOST {domain}: {registry_says}; we recorded {}; {}",
                    describe_catches(&ours),
                    orders_of(domain)
                ));
            }
        }
    }
    // ... and nothing is CAUGHT that the registry did not give us; one result per drop.
    for (domain, list) in &recorded {
        if list.len() > 1 {
            let mut drops: Vec<_> = list
                .iter()
                .map(|c| c.drop_time.map(|t| t.seconds))
                .collect();
            drops.sort();
            drops.dedup();
            if drops.len() < list.len() {
                violations.push(format!(
                    "{domain}: {} catch results for one drop",
                    list.len()
                ));
            }
        }
        if let Some(c) = list.iter().find(|c| caught(c)) {
            match won.get(domain) {
                Some(_) => {}
                None => violations.push(format!(
                    "{domain}: we recorded CAUGHT (registrar {}) but the race log says the winner is {:?}",
                    c.registrar,
                    snapshot
                        .race_log
                        .races
                        .iter()
                        .find(|r| r.domain == *domain)
                        .map(|r| r.winner.clone())
                )),
            }
        }
    }
    // Assigned to exactly one order, with the registrar that caught it.
    if let Some(domains) = &snapshot.domains {
        for (domain, race) in &won {
            let listed: Vec<&pb::Domain> = domains.iter().filter(|d| d.domain == *domain).collect();
            match listed.as_slice() {
                [one] if one.registrar == race.winner_registrar => {}
                [one] => violations.push(format!(
                    "{domain}: ListDomains says registrar {} but the registry's race log says {}",
                    one.registrar, race.winner_registrar
                )),
                _ if lost.iter().any(|l| l == domain) => {}
                more => violations.push(format!(
                    "{domain}: won by `{OURS}`, listed {} times by ListDomains; {}",
                    more.len(),
                    orders_of(domain)
                )),
            }
        }
    }

    // 1 and 3: CheckLedger, each account's trial balance, holders and allocation.
    violations.extend(snapshot.violations(Phase::Settled));

    // 2. Each deposit request id booked exactly once, for its amount.
    let mut booked: BTreeMap<(&str, &str), Vec<&pb::Transfer>> = BTreeMap::new();
    for view in &snapshot.accounts {
        for t in &view.transfers {
            if t.kind == pb::TransferKind::Deposit as i32 {
                booked
                    .entry((view.account.id.as_str(), t.request_id.as_str()))
                    .or_default()
                    .push(t);
            }
        }
    }
    let mut expected = BTreeSet::new();
    for d in &world.deposits {
        expected.insert((d.account_id.as_str(), d.request_id.as_str()));
        match booked.get(&(d.account_id.as_str(), d.request_id.as_str())) {
            Some(list) if list.len() == 1 => {
                let amount = money::cents_or_zero(list[0].amount.as_ref()).unwrap_or(-1);
                if amount != d.cents {
                    violations.push(format!(
                        "deposit {} of account {}: booked {} instead of {}",
                        d.request_id,
                        d.account_id,
                        money::format(amount),
                        money::format(d.cents)
                    ));
                }
            }
            Some(list) => violations.push(format!(
                "deposit {} of account {} booked {} times",
                d.request_id,
                d.account_id,
                list.len()
            )),
            None => violations.push(format!(
                "deposit {} of account {} was answered but is not booked",
                d.request_id, d.account_id
            )),
        }
    }
    for ((account, request_id), list) in &booked {
        if !expected.contains(&(*account, *request_id)) {
            violations.push(format!(
                "account {account}: {} deposit(s) with request id {request_id:?} that no client made",
                list.len()
            ));
        }
    }

    // 4. No order non-terminal past its deadlines (every deadline is days behind us). An
    // order whose name was restored sleeps without a drop time: it may stay REQUESTED.
    let now = snapshot.at;
    let mut stuck: BTreeMap<&str, Vec<&pb::Backorder>> = BTreeMap::new();
    let mut dormant = 0;
    for o in &snapshot.orders {
        let open = [S::Requested, S::Active, S::Processing, S::AuctionPending]
            .iter()
            .any(|s| *s as i32 == o.status);
        if !open {
            continue;
        }
        if o.status == S::Requested as i32 && o.drop_time.is_none() {
            dormant += 1;
            continue;
        }
        stuck.entry(o.domain.as_str()).or_default().push(o);
    }
    for (domain, orders) in &stuck {
        let drop_time = orders
            .first()
            .and_then(|o| from_pb(o.drop_time.as_ref()))
            .map_or("none".into(), |t| t.format("%H:%M:%S").to_string());
        violations.push(format!(
            "STUCK {domain} (drop {drop_time}): {} at {}; we recorded {}; {}",
            orders
                .iter()
                .map(|o| format!(
                    "order {} {} (account {})",
                    o.id,
                    status_name(o.status),
                    o.account_id
                ))
                .collect::<Vec<_>>()
                .join(", "),
            now.format("%Y-%m-%d %H:%M"),
            describe_catches(recorded.get(domain).map_or(&[][..], Vec::as_slice)),
            registry_about(&snapshot.race_log, domain),
        ));
    }
    let stuck_orders: usize = stuck.values().map(Vec::len).sum();

    // 5. Nothing held without a reason: a pending hold belongs to an open order; an account
    // without open orders reserves nothing.
    let holding = |id: &str| {
        snapshot.orders.iter().any(|o| {
            o.id == id
                && [S::Active, S::Processing, S::AuctionPending]
                    .iter()
                    .any(|s| *s as i32 == o.status)
        })
    };
    for view in &snapshot.accounts {
        for t in &view.transfers {
            if t.kind == pb::TransferKind::Hold as i32
                && t.hold_state == pb::HoldState::Pending as i32
                && !holding(&t.backorder_id)
            {
                let status = snapshot
                    .orders
                    .iter()
                    .find(|o| o.id == t.backorder_id)
                    .map_or("unknown".into(), |o| status_name(o.status));
                violations.push(format!(
                    "account {}: hold {} of {} is pending for order {} ({status}), which holds nothing",
                    view.account.id,
                    t.id,
                    money::format(money::cents_or_zero(t.amount.as_ref()).unwrap_or(0)),
                    t.backorder_id
                ));
            }
        }
        let open_orders = snapshot.orders.iter().any(|o| {
            o.account_id == view.account.id
                && [S::Active, S::Processing, S::AuctionPending]
                    .iter()
                    .any(|s| *s as i32 == o.status)
        });
        let reserved = money::cents_or_zero(view.balance.reserved.as_ref()).unwrap_or(0);
        if reserved != 0 && !open_orders {
            violations.push(format!(
                "account {} reserves {} without an open order",
                view.account.id,
                money::format(reserved)
            ));
        }
    }

    // The summary.
    let tld_of = |d: &str| d.rsplit('.').next().unwrap_or("").to_string();
    let mut won_per_tld: BTreeMap<String, u32> = BTreeMap::new();
    for domain in won.keys() {
        *won_per_tld.entry(tld_of(domain)).or_default() += 1;
    }
    let mut caught_per_tld: BTreeMap<String, u32> = BTreeMap::new();
    for c in catches
        .iter()
        .filter(|c| c.outcome == pb::CatchOutcome::Caught as i32)
    {
        *caught_per_tld.entry(tld_of(&c.domain)).or_default() += 1;
    }
    let per = |m: &BTreeMap<String, u32>| {
        m.iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let aimed: Vec<&KillRecord> = world
        .kills
        .iter()
        .filter(|k| matches!(k.kind, KillKind::Aimed { .. }))
        .collect();
    // An aimed kill hit the gap when our winning create arrived at the release instant (the
    // next run started at least a tick later, so the killed run sent it) and the killed run
    // did not commit its result (it would have decided it at that very instant).
    let in_gap = aimed
        .iter()
        .filter(|k| k.landed == Some(Landed::InGap))
        .count();
    // Coverage: a run whose aimed kills all missed did not test the crash between a winning
    // create and its commit (e.g. the restarted catcher had no registry session).
    if aimed.len() >= 3 && in_gap == 0 {
        let count = |l: Landed| aimed.iter().filter(|k| k.landed == Some(l)).count();
        violations.insert(
            0,
            format!(
                "COVERAGE: none of the {} aimed kills landed between our winning create and \
                 its commit ({} before our create reached the registry, {} after the commit): \
                 the write-ahead path went untested",
                aimed.len(),
                count(Landed::Early),
                count(Landed::Late)
            ),
        );
    }
    let setup = world
        .kills
        .iter()
        .filter(|k| k.phase == "placing orders")
        .count();
    let tail = world.kills.iter().filter(|k| k.phase == "auctions").count();
    let random = world.kills.len() - setup - tail - aimed.len();
    let back: f64 = world.kills.iter().map(|k| k.back_after).fold(0.0, f64::max);
    let summary = format!(
        "kill -9 summary [{backend}]: {} kills ({} while placing orders, {} aimed at exact releases \
         of which {in_gap} landed between our winning create and its commit, {random} at random \
         drop-window ticks, {tail} during auctions; back within {back:.1} s at most); names won \
         by us per the registry {} ({}), recorded CAUGHT {} ({}), lost {}; stuck orders {}; \
         {} orders placed ({} refused), {} deposits, {} calls retried after a failure; \
         {} runs of backorder-svc",
        world.kills.len(),
        setup,
        aimed.len(),
        won.len(),
        per(&won_per_tld),
        caught_per_tld.values().sum::<u32>(),
        per(&caught_per_tld),
        lost.len(),
        stuck_orders,
        placed.orders.len(),
        placed.refused.len(),
        world.deposits.len(),
        world.retried,
        world.child.runs.len(),
    );
    // A hint for the reader of a failure: the catcher locked out of the registry.
    let refusals: Vec<(u32, String)> = world
        .child
        .runs
        .iter()
        .filter_map(|run| {
            let log = std::fs::read_to_string(&run.log).ok()?;
            let line = log.lines().find(|l| l.contains("refused the login"))?;
            let at = line.find("registry refused").unwrap_or(0);
            Some((run.number, line[at..].to_string()))
        })
        .collect();
    let statuses = integration_tests::drop_day::status_counts(&snapshot.orders);
    let mut summary = format!("{summary}\n  orders by status: {statuses:?}");
    if dormant > 0 {
        summary.push_str(&format!(
            " ({dormant} REQUESTED without a drop time: restored names)"
        ));
    }
    if let Some((first, line)) = refusals.first() {
        summary.push_str(&format!(
            "\n  registry logins refused in {} of {} runs of backorder-svc (from run {first}: {line})",
            refusals.len(),
            world.child.runs.len()
        ));
    }
    if !placed.refused.is_empty() {
        summary.push_str(&format!(
            "\n  refused orders: {}",
            placed.refused.join("; ")
        ));
    }
    let kill_log = world
        .kills
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                "  kill {:>2}: run {:>2}, {}{} {}, {} ticks without it, back after {:.2} s",
                i + 1,
                k.run,
                k.phase,
                k.at.map_or(String::new(), |t| format!(
                    " at {}",
                    t.format("%m-%d %H:%M:%S")
                )),
                match &k.kind {
                    KillKind::Aimed { domains, delay_ms } => format!(
                        "aimed at {} +{delay_ms} ms ({})",
                        domains.join(", "),
                        match k.landed {
                            Some(Landed::Early) => "before our create went out",
                            Some(Landed::InGap) => "between our winning create and its commit",
                            Some(Landed::Late) => "after the commit",
                            None => "?",
                        }
                    ),
                    KillKind::MidTick { delay_ms } => format!("+{delay_ms} ms into a call or tick"),
                    KillKind::BeforeTick => "between ticks".into(),
                },
                k.dead_ticks,
                k.back_after
            )
        })
        .collect();
    Ok(Outcome {
        violations,
        summary,
        kill_log,
    })
}

/// Our catch results for one name, for a message.
fn describe_catches(catches: &[&pb::Catch]) -> String {
    if catches.is_empty() {
        return "no catch result".into();
    }
    catches
        .iter()
        .map(|c| {
            format!(
                "{}{} ({} attempts, decided {})",
                pb::CatchOutcome::try_from(c.outcome).map_or("?", |o| o
                    .as_str_name()
                    .trim_start_matches("CATCH_OUTCOME_")),
                if c.registrar.is_empty() {
                    String::new()
                } else {
                    format!(" by {}", c.registrar)
                },
                c.attempts,
                from_pb(c.decide_time.as_ref())
                    .map_or("?".into(), |t| t.format("%H:%M:%S").to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// What the registry's race log says about one name, for a message.
fn registry_about(race_log: &registry::Statistics, domain: &str) -> String {
    let Some(race) = race_log.races.iter().find(|r| r.domain == domain) else {
        return "the registry's race log has no release of it".into();
    };
    let released = from_pb(race.release_time.as_ref())
        .map_or("?".into(), |t| t.format("%H:%M:%S%.3f").to_string());
    let ours: i32 = race
        .attempts
        .iter()
        .filter(|a| a.catcher == OURS)
        .map(|a| a.attempts)
        .sum();
    if race.winner.is_empty() {
        format!(
            "the registry released it at {released}; nobody registered it; {ours} creates from us"
        )
    } else {
        format!(
            "the registry released it at {released} and `{}` ({}) registered it; {ours} creates from us",
            race.winner, race.winner_registrar
        )
    }
}

async fn list_catches(operator: &Api) -> anyhow::Result<Vec<pb::Catch>> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = operator
            .operator
            .clone()
            .list_catches(pb::ListCatchesRequest {
                domain: String::new(),
                page_size: 1000,
                page_token: token,
            })
            .await?
            .into_inner();
        all.extend(page.catches);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        token = page.next_page_token;
    }
}
