//! Two scheduler replicas racing on one database: `run_pass` from two tasks, each with its
//! own `SharedStore` (its own pool), several times at the same `now`. Every order must move
//! exactly once per step, the ledger invariants must hold, the two reports must add up to
//! what one scheduler does on an identical second database, and LOW_BALANCE must be sent
//! once per short order. PostgreSQL (row locks with SKIP LOCKED) and SQLite (two stores on
//! one file, serialized by BEGIN IMMEDIATE).
//!
//! The setup goes through the store API only (accounts, deposits, validated placement,
//! prepay, the drop list, restores), and a plain model of one pass (`expected`) says what
//! the single scheduler must have done, so the comparison cannot pass by both being wrong.

use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::domain::account::{Account, PriceTier};
use backorder_svc::domain::catalog::BackorderClass;
use backorder_svc::domain::drop_list::DropName;
use backorder_svc::domain::event::EventType;
use backorder_svc::domain::money::{Currency, Money};
use backorder_svc::ledger::invariants;
use backorder_svc::ledger::{Movement, MovementRequest, TransferKind};
use backorder_svc::lifecycle::placement::{self, OrderRequest};
use backorder_svc::lifecycle::scheduler::{PassReport, run_pass};
use backorder_svc::store::orders::Placement;
use backorder_svc::store::{
    AccountCreation, AuditFilter, DropListEntry, NewAccount, PageRequest, SharedStore,
    TransferFilter,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Orders are placed, prepaid and the list loaded at T0; the race runs at NOW.
fn t0() -> DateTime<Utc> {
    "2026-12-01T00:00:00Z".parse().unwrap()
}
fn now() -> DateTime<Utc> {
    "2026-12-08T00:00:00Z".parse().unwrap()
}

/// The default catalog's leads for com, net and org.
const FINALIZATION_LEAD_H: i64 = 2;
const LOCK_LEAD_H: i64 = 72;

const ORDERS: usize = 320;
const DOMAINS: usize = 280;
const ROUNDS: usize = 3;
const REGULAR_CENTS: i64 = 3000;
const LITE_CENTS: i64 = 1500;

/// Where a domain stands at NOW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    /// Lock window open, finalization ahead.
    InWindow,
    /// Finalization has passed.
    PastFinalization,
    /// Listed, but the lock window opens after NOW.
    Later,
    /// Not on the drop list.
    Unscheduled,
    /// Was listed, then restored by its registrant.
    Restored,
}

#[derive(Debug, Clone)]
struct PlannedOrder {
    domain: String,
    account: usize,
    class: BackorderClass,
    price: i64,
    prepaid: bool,
}

#[derive(Debug, Clone)]
struct Plan {
    deposits: Vec<i64>,
    orders: Vec<PlannedOrder>,
    /// Per domain: category and drop time (None when unscheduled).
    domains: BTreeMap<String, (Category, Option<DateTime<Utc>>)>,
}

fn category_of(domain_index: usize) -> Category {
    match domain_index % 10 {
        0..=5 => Category::InWindow,
        6 => Category::PastFinalization,
        7 => Category::Later,
        8 => Category::Unscheduled,
        _ => Category::Restored,
    }
}

fn drop_time_of(category: Category, domain_index: usize) -> Option<DateTime<Utc>> {
    let step = Duration::minutes(13 * domain_index as i64);
    let hours = Duration::hours;
    match category {
        // Drops between NOW+3h and NOW+64h: finalization ahead, lock window open.
        Category::InWindow | Category::Restored => Some(now() + hours(3) + step),
        // Drops between NOW-8h and NOW-3h20m: finalization before NOW.
        Category::PastFinalization => {
            Some(now() - hours(8) + Duration::minutes(domain_index as i64 % 600))
        }
        // The lock window opens 74 h before the drop.
        Category::Later => Some(now() + hours(80) + step),
        Category::Unscheduled => None,
    }
}

/// Six accounts: three rich, two that can fund only part of their orders, and one with
/// nothing beyond its prepaid orders. A few domains carry two orders.
fn plan() -> Plan {
    let mut domains = BTreeMap::new();
    let zones = ["com", "net", "org"];
    let names: Vec<String> = (0..DOMAINS)
        .map(|d| format!("race{d:03}-lane{}.{}", d % 7, zones[d % zones.len()]))
        .collect();
    for (d, name) in names.iter().enumerate() {
        let category = category_of(d);
        let drop = drop_time_of(category, d);
        if let Some(drop) = drop {
            // The categories agree with the catalog's leads.
            let finalization = drop - Duration::hours(FINALIZATION_LEAD_H);
            let lock_from = finalization - Duration::hours(LOCK_LEAD_H);
            let at_now = match (now() >= finalization, now() >= lock_from) {
                (true, _) => Category::PastFinalization,
                (false, true) => Category::InWindow,
                (false, false) => Category::Later,
            };
            let listed_as = match category {
                Category::Restored => Category::InWindow,
                other => other,
            };
            assert_eq!(listed_as, at_now, "{name}");
        }
        domains.insert(name.clone(), (category, drop));
    }
    let mut orders = Vec::new();
    for i in 0..ORDERS {
        // 13 is prime to DOMAINS: every domain gets an order, the first 40 get two.
        let d = (i * 13) % DOMAINS;
        let domain = names[d].clone();
        let account = i % 6;
        let class = if i % 3 == 2 {
            BackorderClass::LiteBackorder
        } else {
            BackorderClass::Backorder
        };
        let price = if class == BackorderClass::Backorder {
            REGULAR_CENTS
        } else {
            LITE_CENTS
        };
        let prepaid = match domains[&domain].0 {
            Category::PastFinalization => i % 4 == 2,
            Category::Restored => true,
            Category::InWindow => i % 11 == 0,
            _ => false,
        };
        orders.push(PlannedOrder {
            domain,
            account,
            class,
            price,
            prepaid,
        });
    }
    let mut deposits = vec![0; 6];
    for order in orders.iter().filter(|o| o.prepaid) {
        deposits[order.account] += order.price;
    }
    for (account, extra) in [
        (0, 10_000_000),
        (1, 10_000_000),
        (2, 10_000_000),
        // About a third of what its window orders need; the 15.00 makes room for a lite
        // order after a regular one was refused.
        (3, 10 * REGULAR_CENTS + LITE_CENTS),
        // Part of what its orders past finalization need: their catch-ups come first (the
        // earliest finalization), so some are held and finalized, the rest UNFUNDED, and its
        // window orders are short.
        (4, 2 * REGULAR_CENTS + LITE_CENTS),
        (5, 0),
    ] {
        deposits[account] += extra;
    }
    Plan {
        deposits,
        orders,
        domains,
    }
}

/// What one scheduler pass at NOW must do, order by order (indexes into `plan.orders`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Expected {
    report: PassReport,
    /// Final (status, failure reason) per order.
    status: Vec<(&'static str, Option<&'static str>)>,
    /// Orders left REQUESTED in the window for lack of funds.
    short: BTreeSet<usize>,
    /// REQUESTED orders past finalization whose last try of the hold succeeded: held and
    /// finalized by the pass (REQUESTED, ACTIVE, PROCESSING).
    caught_up: BTreeSet<usize>,
}

fn expected(plan: &Plan) -> Expected {
    let fin = |drop: DateTime<Utc>| drop - Duration::hours(FINALIZATION_LEAD_H);
    let mut available = plan.deposits.clone();
    let mut status = Vec::new();
    // (finalization or None for a restored domain, creation index, step)
    let mut due = Vec::new();
    for (i, order) in plan.orders.iter().enumerate() {
        if order.prepaid {
            available[order.account] -= order.price;
        }
        status.push(if order.prepaid {
            ("ACTIVE", None)
        } else {
            ("REQUESTED", None)
        });
        let (category, drop) = plan.domains[&order.domain];
        match (category, order.prepaid) {
            (Category::Restored, true) => due.push((None, i)),
            (Category::InWindow, false) | (Category::PastFinalization, _) => {
                due.push((drop.map(fin), i));
            }
            _ => {}
        }
    }
    due.sort();
    let mut report = PassReport::default();
    let mut short = BTreeSet::new();
    let mut caught_up = BTreeSet::new();
    for (_, i) in due {
        let order = &plan.orders[i];
        let (category, _) = plan.domains[&order.domain];
        match (category, order.prepaid) {
            (Category::Restored, _) => {
                available[order.account] += order.price;
                status[i] = ("REQUESTED", None);
                report.slept += 1;
            }
            (Category::PastFinalization, true) => {
                status[i] = ("PROCESSING", None);
                report.finalized += 1;
            }
            // Placed before finalization, no pass in its window: the hold is tried first,
            // with the same funds and in the same order as the holds in the window.
            (Category::PastFinalization, false) if available[order.account] >= order.price => {
                available[order.account] -= order.price;
                status[i] = ("PROCESSING", None);
                report.holds_placed += 1;
                report.finalized += 1;
                report.caught_up += 1;
                caught_up.insert(i);
            }
            (Category::PastFinalization, false) => {
                status[i] = ("FAILED", Some("UNFUNDED"));
                report.unfunded += 1;
            }
            _ if available[order.account] >= order.price => {
                available[order.account] -= order.price;
                status[i] = ("ACTIVE", None);
                report.holds_placed += 1;
            }
            _ => {
                short.insert(i);
                report.funds_short += 1;
                report.low_balance_warnings += 1;
            }
        }
    }
    Expected {
        report,
        status,
        short,
        caught_up,
    }
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

/// Builds the plan in a fresh database through the store API. Returns the order ids, in
/// plan order.
async fn set_up(store: &SharedStore, plan: &Plan) -> Vec<i64> {
    let (tlds, prices) =
        backorder_svc::catalog::parse(backorder_svc::catalog::DEFAULT_CATALOG).unwrap();
    store.seed_catalog_once(&tlds, &prices).await.unwrap();
    let mut accounts: Vec<Account> = Vec::new();
    for (i, deposit) in plan.deposits.iter().enumerate() {
        let created = store
            .create_account(
                NewAccount {
                    display_name: format!("reseller {i}"),
                    currency: usd(),
                    price_tier: PriceTier::default_tier(),
                },
                None,
                "test",
                t0(),
            )
            .await
            .unwrap();
        let AccountCreation::Created(account) = created else {
            panic!("{created:?}")
        };
        if *deposit > 0 {
            store
                .execute_movement(
                    MovementRequest {
                        scope: "operator".into(),
                        request_id: format!("deposit-{i}"),
                        movement: Movement::Deposit {
                            account: account.id,
                            amount: Money::new(usd(), *deposit),
                        },
                        memo: "race setup".into(),
                        actor: "test".into(),
                    },
                    t0(),
                )
                .await
                .unwrap();
        }
        accounts.push(account);
    }
    let mut ids = Vec::new();
    for (i, order) in plan.orders.iter().enumerate() {
        let placed_at = t0() + Duration::seconds(i as i64);
        let new = placement::validate(
            store,
            &accounts[order.account],
            OrderRequest {
                domain: order.domain.clone(),
                class: Some(order.class),
                ..Default::default()
            },
            placed_at,
        )
        .await
        .unwrap();
        assert_eq!(new.price.minor, order.price, "{}", order.domain);
        let placement = store
            .create_backorder(new, None, true, "test", placed_at)
            .await
            .unwrap();
        let Placement::Created { order, .. } = placement else {
            panic!("{placement:?}")
        };
        ids.push(order.id);
    }
    let listed_at = t0() + Duration::hours(1);
    let entries: Vec<DropListEntry> = plan
        .domains
        .iter()
        .filter_map(|(domain, (_, drop))| {
            let drop = (*drop)?;
            Some(DropListEntry::listed(
                DropName::parse(domain).unwrap(),
                drop,
                drop - Duration::hours(FINALIZATION_LEAD_H),
            ))
        })
        .collect();
    let outcome = store.upsert_drop_batch(&entries, listed_at).await.unwrap();
    assert_eq!(outcome.inserted as usize, entries.len());
    let paid_at = t0() + Duration::hours(2);
    for (i, order) in plan.orders.iter().enumerate() {
        if order.prepaid {
            let paid = store
                .pay_backorder(ids[i], None, "test", paid_at)
                .await
                .unwrap();
            assert_eq!(paid.status.as_str(), "ACTIVE");
        }
    }
    let restored: Vec<String> = plan
        .domains
        .iter()
        .filter(|(_, (category, _))| *category == Category::Restored)
        .map(|(domain, _)| domain.clone())
        .collect();
    let removed = store
        .mark_drop_removed(&restored, t0() + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(removed as usize, restored.len());
    assert_invariants(store).await;
    ids
}

async fn assert_invariants(store: &SharedStore) {
    let snapshot = store.ledger_snapshot().await.unwrap();
    for result in invariants::check(&snapshot) {
        assert!(result.holds(), "{}: {:?}", result.name, result.violations);
    }
}

fn add(a: PassReport, b: PassReport) -> PassReport {
    PassReport {
        holds_placed: a.holds_placed + b.holds_placed,
        low_balance_warnings: a.low_balance_warnings + b.low_balance_warnings,
        funds_short: a.funds_short + b.funds_short,
        finalized: a.finalized + b.finalized,
        unfunded: a.unfunded + b.unfunded,
        slept: a.slept + b.slept,
        skipped: a.skipped + b.skipped,
        caught_up: a.caught_up + b.caught_up,
        auctions_closed: a.auctions_closed + b.auctions_closed,
        auctions_paid: a.auctions_paid + b.auctions_paid,
        payment_defaults: a.payment_defaults + b.payment_defaults,
        auction_errors: a.auction_errors + b.auction_errors,
        daily_deals_expired: a.daily_deals_expired + b.daily_deals_expired,
        orders_of_decided_drops: a.orders_of_decided_drops + b.orders_of_decided_drops,
    }
}

/// The moves of a report: what changed in the database (retries and skips left out).
fn moves(r: PassReport) -> (u32, u32, u32, u32, u32) {
    (
        r.holds_placed,
        r.finalized,
        r.unfunded,
        r.slept,
        r.low_balance_warnings,
    )
}

/// What the database holds after the passes, per order in plan order.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: Vec<(String, Option<String>)>,
    /// (old, new) status of every audit row of the order, in order.
    transitions: Vec<Vec<(Option<String>, String)>>,
    /// Hold transfers ever placed for the order.
    holds: Vec<usize>,
    /// LOW_BALANCE events per order.
    low_balance: Vec<usize>,
    /// STATUS_CHANGED events per order.
    status_events: Vec<usize>,
    /// (balance, reserved) per account.
    balances: Vec<(i64, i64)>,
}

async fn outcome(store: &SharedStore, ids: &[i64]) -> Outcome {
    let index: BTreeMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut status = Vec::new();
    let mut accounts = BTreeSet::new();
    for id in ids {
        let order = store.get_backorder(*id).await.unwrap().unwrap();
        accounts.insert(order.account);
        status.push((
            order.status.as_str().to_string(),
            order.failure_reason.map(|r| r.as_str().to_string()),
        ));
    }
    let mut transitions = vec![Vec::new(); ids.len()];
    let mut after = None;
    loop {
        let page = store
            .list_audit(AuditFilter::default(), PageRequest { after, limit: 500 })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for entry in &page {
            if let (Some(order), Some(new)) = (entry.backorder_id, &entry.new_status) {
                transitions[index[&order]].push((entry.old_status.clone(), new.clone()));
            }
        }
    }
    let mut holds = vec![0; ids.len()];
    let mut balances = Vec::new();
    for account in &accounts {
        let mut after = None;
        loop {
            let page = store
                .list_transfers(
                    *account,
                    TransferFilter {
                        kinds: vec![TransferKind::Hold],
                        backorder_id: None,
                    },
                    PageRequest { after, limit: 500 },
                )
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for transfer in &page {
                holds[index[&transfer.backorder_id.unwrap()]] += 1;
            }
        }
        let view = store.balance(*account).await.unwrap().unwrap();
        balances.push((view.balance.minor, view.reserved.minor));
    }
    let mut low_balance = vec![0; ids.len()];
    let mut status_events = vec![0; ids.len()];
    let mut cursor = 0;
    loop {
        let page = store.list_events(None, cursor, 500).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = last.id;
        for event in &page {
            let Some(order) = event.event.backorder_id else {
                continue;
            };
            match event.event.kind {
                EventType::LowBalance => low_balance[index[&order]] += 1,
                EventType::StatusChanged => status_events[index[&order]] += 1,
                _ => {}
            }
        }
    }
    Outcome {
        status,
        transitions,
        holds,
        low_balance,
        status_events,
        balances,
    }
}

/// The transitions each order must show after the passes.
fn expected_transitions(plan: &Plan, expected: &Expected) -> Vec<Vec<(Option<String>, String)>> {
    let step = |from: &str, to: &str| (Some(from.to_string()), to.to_string());
    plan.orders
        .iter()
        .enumerate()
        .map(|(i, order)| {
            let mut list = vec![(None, "REQUESTED".to_string())];
            if order.prepaid {
                list.push(step("REQUESTED", "ACTIVE"));
            }
            if expected.caught_up.contains(&i) {
                list.push(step("REQUESTED", "ACTIVE"));
            }
            let before = if order.prepaid || expected.caught_up.contains(&i) {
                "ACTIVE"
            } else {
                "REQUESTED"
            };
            let after = expected.status[i].0;
            if after != before {
                list.push(step(before, after));
            }
            list
        })
        .collect()
}

/// Runs one pass per store at once, released together.
async fn race(stores: [&SharedStore; 2], clock: &SharedClock) -> [PassReport; 2] {
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let tasks: Vec<_> = stores
        .into_iter()
        .map(|store| {
            let (store, clock, start) = (store.clone(), clock.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                run_pass(&store, &clock).await.unwrap()
            })
        })
        .collect();
    let mut reports = [PassReport::default(); 2];
    for (report, task) in reports.iter_mut().zip(tasks) {
        *report = task.await.unwrap();
    }
    reports
}

/// `race_url`: the database two replicas share; `single_url`: an identical database for
/// one scheduler. `split_work`: both replicas must have moved orders (PostgreSQL).
async fn two_schedulers_move_each_order_once(race_url: &str, single_url: &str, split_work: bool) {
    let plan = plan();
    let expected = expected(&plan);
    // The scenario exercises every kind of step and both outcomes of a hold.
    let e = expected.report;
    assert!(
        e.holds_placed > 100
            && e.funds_short >= 20
            && e.finalized > 0
            && e.unfunded > 0
            && e.caught_up > 0
            && e.slept > 0,
        "{e:?}"
    );
    let clock: SharedClock = Arc::new(ManualClock::new(now()));

    let single = backorder_svc::store::connect(single_url).await.unwrap();
    let single_ids = set_up(&single, &plan).await;
    let mut single_reports = Vec::new();
    for _ in 0..ROUNDS {
        single_reports.push(run_pass(&single, &clock).await.unwrap());
        assert_invariants(&single).await;
    }
    assert_eq!(single_reports[0], expected.report, "one scheduler, pass 1");
    for later in &single_reports[1..] {
        let retry = PassReport {
            funds_short: expected.report.funds_short,
            ..Default::default()
        };
        assert_eq!(*later, retry, "one scheduler, a later pass only retries");
    }
    let single_outcome = outcome(&single, &single_ids).await;

    // Two replicas: separate stores, separate pools, one database.
    let replica_a = backorder_svc::store::connect(race_url).await.unwrap();
    let replica_b = backorder_svc::store::connect(race_url).await.unwrap();
    let race_ids = set_up(&replica_a, &plan).await;
    for (round, one) in single_reports.iter().enumerate() {
        let [a, b] = race([&replica_a, &replica_b], &clock).await;
        let sum = add(a, b);
        eprintln!("round {round}: replica A {a:?}, replica B {b:?}");
        if round == 0 {
            // The passes overlapped: a replica found orders in its work list that the other
            // had moved meanwhile (one after the other, neither would skip anything).
            assert!(sum.skipped > 0, "{a:?} {b:?}");
            // With row locks the replicas share the work; SQLite's single writer lets the
            // replica that got ahead stay ahead.
            if split_work {
                assert!(
                    moves(a) != (0, 0, 0, 0, 0) && moves(b) != (0, 0, 0, 0, 0),
                    "{a:?} {b:?}"
                );
            }
        }
        assert_eq!(
            moves(sum),
            moves(*one),
            "round {round}: the replicas' reports ({a:?} + {b:?}) add up to one scheduler's \
             ({one:?})"
        );
        // A short order is retried by one replica or both; never by none.
        let short = expected.report.funds_short;
        assert!(
            (short..=2 * short).contains(&sum.funds_short),
            "round {round}: {a:?} + {b:?}"
        );
        assert_invariants(&replica_a).await;
    }
    let race_outcome = outcome(&replica_b, &race_ids).await;

    // Both databases against the model, then against each other.
    let want_transitions = expected_transitions(&plan, &expected);
    for (name, got) in [("single", &single_outcome), ("race", &race_outcome)] {
        for (i, order) in plan.orders.iter().enumerate() {
            let (status, reason) = expected.status[i];
            assert_eq!(
                (got.status[i].0.as_str(), got.status[i].1.as_deref()),
                (status, reason),
                "{name}: order {i} {order:?}"
            );
            assert_eq!(
                got.transitions[i], want_transitions[i],
                "{name}: order {i}: exactly one audit row per transition"
            );
            assert_eq!(
                got.status_events[i],
                want_transitions[i].len(),
                "{name}: order {i}: one STATUS_CHANGED event per transition"
            );
            let held = order.prepaid || status == "ACTIVE" || expected.caught_up.contains(&i);
            assert_eq!(
                got.holds[i],
                usize::from(held),
                "{name}: order {i}: no order is held twice"
            );
            assert_eq!(
                got.low_balance[i],
                usize::from(expected.short.contains(&i)),
                "{name}: order {i}: one LOW_BALANCE per short order, none otherwise"
            );
        }
    }
    assert_eq!(race_outcome, single_outcome);
    assert_invariants(&replica_b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replicas_race() {
    let Some(race_db) = backorder_svc::testkit::postgres().await else {
        return;
    };
    let Some(single_db) = backorder_svc::testkit::postgres().await else {
        return;
    };
    two_schedulers_move_each_order_once(&race_db.url, &single_db.url, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_stores_on_one_file_race() {
    let race_db = backorder_svc::testkit::sqlite();
    let single_db = backorder_svc::testkit::sqlite();
    two_schedulers_move_each_order_once(&race_db.url, &single_db.url, false).await;
}
