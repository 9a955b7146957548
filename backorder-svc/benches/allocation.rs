//! Allocation and settlement benchmark, both backends (PostgreSQL from DATABASE_URL or the
//! testkit's other sources, SQLite in a temporary file):
//! - allocation: N caught domains (default 80,000), one valid order each, each result
//!   recorded through `record_catch` (catch row, capture, SUCCESSFUL, assigned domain, audit
//!   rows and events in one transaction per domain);
//! - auctions: M domains (default 10,000) with two valid orders each: recording the catches
//!   opens M auctions, one bid per auction, then settlement: each auction closed at its end,
//!   the winner's payment collected from its balance, the fee captured, the loser released,
//!   the domain assigned (one transaction per auction, as the scheduler does it).
//!
//! `cargo bench -p backorder-svc --bench allocation` (`ALLOCATION_BENCH_DOMAINS`,
//! `ALLOCATION_BENCH_AUCTIONS` to change N and M). The set-up (orders brought to PROCESSING
//! with their holds by set-based SQL) is not timed. Results: docs/allocation-benchmark.md.

mod common;

use backorder_svc::domain::money::Money;
use backorder_svc::ledger::{Movement, MovementRequest, invariants};
use backorder_svc::store::auctions::{AuctionPhase, AuctionStep};
use backorder_svc::store::catching::{Allocated, CatchOutcome, CatchReport};
use backorder_svc::store::{PageRequest, SharedStore};
use chrono::{DateTime, Duration, Utc};
use common::{Raw, now, set_based, set_up, usd};
use std::time::Instant;

/// PROCESSING orders on `domains` domains (`per_domain` each), holds placed; returns each
/// domain with its drop time.
async fn processing(
    url: &str,
    domains: usize,
    per_domain: usize,
) -> (SharedStore, Vec<(String, DateTime<Utc>)>) {
    let (store, mut raw) = set_up(url, domains, per_domain).await;
    let held = set_based(&mut raw).await;
    assert_eq!(held as usize, domains * per_domain);
    raw.exec("UPDATE backorders SET status = 'PROCESSING'")
        .await;
    let listed = drops(&mut raw).await;
    assert_eq!(listed.len(), domains);
    (store, listed)
}

async fn drops(raw: &mut Raw) -> Vec<(String, DateTime<Utc>)> {
    let sql = "SELECT domain, drop_time FROM drop_list ORDER BY domain";
    let rows: Vec<(String, i64)> = match raw {
        Raw::Sqlite(c) => sqlx::query_as(sql).fetch_all(c).await.unwrap(),
        Raw::Postgres(c) => sqlx::query_as(sql).fetch_all(c).await.unwrap(),
    };
    rows.into_iter()
        .map(|(domain, micros)| (domain, backorder_svc::clock::from_micros(micros)))
        .collect()
}

fn caught(domain: &str, drop_time: DateTime<Utc>) -> CatchReport {
    CatchReport {
        domain: domain.to_string(),
        drop_time,
        outcome: CatchOutcome::Caught {
            registrar: "ours-1".into(),
            auth_code: format!("auth-{domain}"),
            registered_at: drop_time,
        },
        attempts: 1,
        first_attempt_at: Some(drop_time),
        release_seen_at: Some(drop_time),
    }
}

async fn assert_invariants(store: &SharedStore) {
    let snapshot = store.ledger_snapshot().await.unwrap();
    for result in invariants::check(&snapshot) {
        assert!(result.holds(), "{}: {:?}", result.name, result.violations);
    }
}

fn rate(name: &str, what: &str, count: usize, seconds: f64) {
    println!(
        "{name}: {what:<34} {count:>7} in {seconds:>8.2} s  {:>8.0}/s",
        count as f64 / seconds
    );
}

async fn allocation(name: &str, url: &str, domains: usize) {
    let (store, listed) = processing(url, domains, 1).await;
    let at = now() + Duration::days(3);
    let started = Instant::now();
    for (domain, drop_time) in &listed {
        let allocated = store
            .record_catch(caught(domain, *drop_time), "bench", at)
            .await
            .unwrap();
        assert!(
            matches!(allocated, Allocated::Assigned { .. }),
            "{allocated:?}"
        );
    }
    rate(
        name,
        "allocate caught domains",
        domains,
        started.elapsed().as_secs_f64(),
    );
    let (assigned, total) = store.list_domains(None, 0, 1).await.unwrap();
    assert_eq!((assigned.len(), total as usize), (1, domains));
    assert_invariants(&store).await;
}

async fn auctions(name: &str, url: &str, count: usize) {
    let (store, listed) = processing(url, count, 2).await;
    fund_auction_payments(&store, count).await;
    let caught_at = now() + Duration::days(3);
    let started = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for (domain, drop_time) in &listed {
        match store
            .record_catch(caught(domain, *drop_time), "bench", caught_at)
            .await
            .unwrap()
        {
            Allocated::Auction {
                auction_id,
                seats: 2,
                ..
            } => ids.push(auction_id),
            other => panic!("two valid orders open an auction: {other:?}"),
        }
    }
    rate(
        name,
        "open auctions (allocation)",
        count,
        started.elapsed().as_secs_f64(),
    );

    let first = store.get_auction(ids[0]).await.unwrap().unwrap();
    let bid_at = first.start_time + Duration::hours(1);
    let started = Instant::now();
    for &id in &ids {
        let auction = store.get_auction(id).await.unwrap().unwrap();
        let seat = auction.seats[1].seat.order_id;
        store
            .place_bid(id, seat, Money::new(usd(), 2500), None, "bench", bid_at)
            .await
            .unwrap();
    }
    rate(
        name,
        "bids (one per auction)",
        count,
        started.elapsed().as_secs_f64(),
    );

    let end = ids_end(&store, &ids).await;
    let started = Instant::now();
    let due = store.auctions_due(end).await.unwrap();
    assert_eq!(due.len(), count);
    for id in due {
        let step = store.advance_auction(id, "bench", end).await.unwrap();
        assert_eq!(step, AuctionStep::Closed { settled: true });
    }
    rate(
        name,
        "settle auctions (close + pay)",
        count,
        started.elapsed().as_secs_f64(),
    );
    let settled = store.get_auction(ids[count - 1]).await.unwrap().unwrap();
    assert_eq!(settled.phase, AuctionPhase::Settled);
    assert_invariants(&store).await;
}

/// Deposits enough in every account for the auction prices (the set-up funded the fees only).
async fn fund_auction_payments(store: &SharedStore, auctions: usize) {
    let (accounts, _) = store
        .list_accounts(PageRequest {
            after: None,
            limit: 1000,
        })
        .await
        .unwrap();
    let per_account = 2500 * (auctions as i64 / accounts.len() as i64 + 1);
    for account in accounts {
        store
            .execute_movement(
                MovementRequest {
                    scope: "operator".into(),
                    request_id: format!("auction-funds-{}", account.id),
                    movement: Movement::Deposit {
                        account: account.id,
                        amount: Money::new(usd(), per_account),
                    },
                    memo: String::new(),
                    actor: "bench".into(),
                },
                now(),
            )
            .await
            .unwrap();
    }
}

/// The latest end of the auctions (they all end by then).
async fn ids_end(store: &SharedStore, ids: &[i64]) -> DateTime<Utc> {
    let last = store
        .get_auction(*ids.last().unwrap())
        .await
        .unwrap()
        .unwrap();
    let first = store.get_auction(ids[0]).await.unwrap().unwrap();
    last.end_time.max(first.end_time)
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let domains = count("ALLOCATION_BENCH_DOMAINS", 80_000);
    let auction_count = count("ALLOCATION_BENCH_AUCTIONS", 10_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        match (
            backorder_svc::testkit::postgres().await,
            backorder_svc::testkit::postgres().await,
        ) {
            (Some(a), Some(b)) => {
                allocation("postgres", &a.url, domains).await;
                auctions("postgres", &b.url, auction_count).await;
            }
            _ => println!("postgres: skipped (no DATABASE_URL or local PostgreSQL)"),
        }
        let (a, b) = (
            backorder_svc::testkit::sqlite(),
            backorder_svc::testkit::sqlite(),
        );
        allocation("sqlite", &a.url, domains).await;
        auctions("sqlite", &b.url, auction_count).await;
    });
}
