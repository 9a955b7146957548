//! The smoke drop day end to end, on SQLite and on PostgreSQL, asserting through the public
//! APIs after every phase: CheckLedger's invariants hold; no order that did not get its
//! domain was charged (balance arithmetic per account, captures only for SUCCESSFUL and
//! AUCTION_WON orders); each domain the race log says our catcher won is held by at most one
//! order, exactly one once domain assignment is live (`ListDomains` answers).

use integration_tests::checks::PhaseCheck;
use integration_tests::drop_day::{DropDay, DropDayConfig};
use integration_tests::harness::{Database, HarnessOptions};

fn assert_clean(check: &PhaseCheck) {
    assert!(
        check.violations.is_empty(),
        "after phase {:?} at {}:\n  {}",
        check.phase,
        check.virtual_time,
        check.violations.join("\n  ")
    );
}

async fn smoke_day(database: Database) {
    let wall = std::time::Instant::now();
    let config = DropDayConfig::new(
        HarnessOptions {
            database,
            ..HarnessOptions::default()
        },
        42,
    );
    let mut day = DropDay::start(config).await.expect("both services start");
    assert_clean(day.checks.last().expect("the setup check"));

    day.place_orders().await.expect("orders placed");
    assert_clean(day.checks.last().expect("the orders check"));
    assert!(day.activity.placed >= 10, "the smoke list gets orders");

    day.run_drop_window().await.expect("the drop window runs");
    assert_clean(day.checks.last().expect("the drop-window check"));

    day.run_auctions()
        .await
        .expect("auctions run (or are skipped)");
    for check in &day.checks {
        assert_clean(check);
    }
    let report = day.report().await.expect("the report");
    assert_clean(report.checks.last().expect("the report's check"));
    assert!(
        report.ledger.ok && report.ledger.balanced,
        "{:?}",
        report.ledger
    );
    // Every order has left REQUESTED/ACTIVE: finalization passed for the whole list.
    for status in ["REQUESTED", "ACTIVE"] {
        assert!(
            !report.orders_by_status.contains_key(status),
            "orders still {status} after the drop window: {:?}",
            report.orders_by_status
        );
    }
    if report.catcher {
        let wanted: u32 = report.races.per_tld.iter().map(|t| t.wanted).sum();
        let attempts: u32 = report.races.per_tld.iter().map(|t| t.our_attempts).sum();
        assert!(
            wanted == 0 || attempts > 0,
            "with a catcher, ours races for the {wanted} drops with valid orders"
        );
        // The catch decides every valid order (caught: allocated; lost: FAILED), long
        // before 20:00.
        assert!(
            !report.orders_by_status.contains_key("PROCESSING"),
            "with a catcher every valid order is decided after the window: {:?}",
            report.orders_by_status
        );
    } else {
        eprintln!("note: {}", report.notes.join("; "));
    }
    day.stop().await.expect("graceful stop");
    eprintln!(
        "smoke drop day on {}: {:.1} s wall, {:?}",
        report.database,
        wall.elapsed().as_secs_f64(),
        report.orders_by_status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_drop_day_on_sqlite() {
    smoke_day(Database::TempSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_drop_day_on_postgres() {
    let Some(db) = backorder_svc::testkit::postgres().await else {
        return;
    };
    smoke_day(Database::Url(db.url.clone())).await;
    drop(db);
}
