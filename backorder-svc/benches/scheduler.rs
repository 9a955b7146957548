//! Scheduler benchmark: one `run_pass` placing holds for N orders that all entered the lock
//! window (default 100,000), beside the same writes done by set-based SQL in one transaction
//! (hold transfers, ledger counters per account, orders ACTIVE, audit rows, events), on a
//! second database set up identically in the same run. Both backends; PostgreSQL from
//! DATABASE_URL (or the testkit's other sources), SQLite in a temporary file.
//!
//! `cargo bench -p backorder-svc --bench scheduler` (`SCHEDULER_BENCH_ORDERS` to change N).
//! Results and a reading of them: docs/scheduler-benchmark.md.

mod common;

use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::ledger::invariants;
use backorder_svc::lifecycle::scheduler::run_pass;
use backorder_svc::store::SharedStore;
use common::{Raw, now, set_based, set_up};
use std::sync::Arc;
use std::time::Instant;

/// What both variants must have written the same.
async fn footprint(raw: &mut Raw) -> [i64; 6] {
    [
        raw.number(
            "SELECT COUNT(*) FROM backorders WHERE status = 'ACTIVE' AND hold_id IS NOT NULL",
        )
        .await,
        raw.number("SELECT COUNT(*) FROM transfers WHERE kind = 'hold'")
            .await,
        raw.number(
            "SELECT CAST(COALESCE(SUM(debits_pending), 0) AS BIGINT) FROM ledger_accounts WHERE kind = 'client'",
        )
        .await,
        raw.number(
            "SELECT CAST(COALESCE(SUM(credits_pending), 0) AS BIGINT) FROM ledger_accounts WHERE kind = 'revenue'",
        )
        .await,
        raw.number("SELECT COUNT(*) FROM audit_log").await,
        raw.number("SELECT COUNT(*) FROM events").await,
    ]
}

async fn assert_invariants(store: &SharedStore) {
    let snapshot = store.ledger_snapshot().await.unwrap();
    for result in invariants::check(&snapshot) {
        assert!(result.holds(), "{}: {:?}", result.name, result.violations);
    }
}

async fn bench(name: &str, urls: [&str; 2], orders: usize) {
    let started = Instant::now();
    let (store, mut pass_raw) = set_up(urls[0], orders, 1).await;
    let (set_store, mut set_raw) = set_up(urls[1], orders, 1).await;
    println!(
        "{name}: set up {orders} orders twice in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let clock: SharedClock = Arc::new(ManualClock::new(now()));
    let started = Instant::now();
    let report = run_pass(&store, &clock).await.unwrap();
    let pass = started.elapsed().as_secs_f64();
    assert_eq!(report.holds_placed as usize, orders, "{report:?}");

    let started = Instant::now();
    let held = set_based(&mut set_raw).await;
    let set = started.elapsed().as_secs_f64();
    assert_eq!(held as usize, orders);

    let (a, b) = (
        footprint(&mut pass_raw).await,
        footprint(&mut set_raw).await,
    );
    assert_eq!(a, b, "the set-based writes match the pass's");
    assert_invariants(&store).await;
    assert_invariants(&set_store).await;

    println!(
        "{name}: scheduler pass  {pass:>8.2} s  {:>9.0} orders/s",
        orders as f64 / pass
    );
    println!(
        "{name}: set-based SQL   {set:>8.2} s  {:>9.0} orders/s",
        orders as f64 / set
    );
    println!("{name}: ratio pass / set-based {:.1}x", pass / set);
}

fn main() {
    let orders: usize = std::env::var("SCHEDULER_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        match (
            backorder_svc::testkit::postgres().await,
            backorder_svc::testkit::postgres().await,
        ) {
            (Some(a), Some(b)) => bench("postgres", [&a.url, &b.url], orders).await,
            _ => println!("postgres: skipped (no DATABASE_URL or local PostgreSQL)"),
        }
        let (a, b) = (
            backorder_svc::testkit::sqlite(),
            backorder_svc::testkit::sqlite(),
        );
        bench("sqlite", [&a.url, &b.url], orders).await;
    });
}
