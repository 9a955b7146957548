//! Money movements under concurrency, over gRPC on 127.0.0.1 (PostgreSQL from DATABASE_URL or
//! the testkit's other sources; SQLite in a temporary file for comparison):
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p backorder-svc --bench ledger
//! ```
//!
//! Per backend, in one run: deposits alone and deposits mixed with withdrawals, on one account
//! and across many accounts, each from `LEDGER_BENCH_TASKS` concurrent clients (default 16)
//! making `LEDGER_BENCH_CALLS` calls in all (default 2000). Prints each rate, the errors (there
//! must be none) and the ratio mixed / deposits alone (goal: at least 0.8), then checks the
//! ledger. docs/ledger.md has the figures.

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::{SharedClock, SystemClock};
use backorder_svc::testkit::{TestServer, with_key};
use pb::account_service_client::AccountServiceClient;
use pb::operator_service_client::OperatorServiceClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn usd(amount: &str) -> Option<pb::Money> {
    Some(pb::Money {
        currency_code: "USD".into(),
        amount: amount.into(),
    })
}

async fn open_account(app: &TestServer, name: &str) -> String {
    AccountServiceClient::new(app.channel.clone())
        .create_account(with_key(
            &app.operator_key,
            pb::CreateAccountRequest {
                display_name: name.into(),
                currency_code: "USD".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn deposit(app: &TestServer, account: &str, amount: &str, id: &str) -> Result<(), String> {
    AccountServiceClient::new(app.channel.clone())
        .create_deposit(with_key(
            &app.operator_key,
            pb::CreateDepositRequest {
                account_id: account.into(),
                amount: usd(amount),
                request_id: id.into(),
                memo: String::new(),
            },
        ))
        .await
        .map(|_| ())
        .map_err(|s| format!("{:?} {}", s.code(), s.message()))
}

async fn withdraw(app: &TestServer, account: &str, amount: &str, id: &str) -> Result<(), String> {
    AccountServiceClient::new(app.channel.clone())
        .create_withdrawal(with_key(
            &app.operator_key,
            pb::CreateWithdrawalRequest {
                account_id: account.into(),
                amount: usd(amount),
                request_id: id.into(),
                memo: String::new(),
            },
        ))
        .await
        .map(|_| ())
        .map_err(|s| format!("{:?} {}", s.code(), s.message()))
}

#[derive(Clone, Copy, PartialEq)]
enum Mix {
    DepositsAlone,
    Mixed,
}

/// Runs `calls` movements from `tasks` clients over `accounts` (call i goes to account
/// i % accounts); returns calls per second. Panics on any error.
async fn run(
    app: &Arc<TestServer>,
    label: &str,
    accounts: &[String],
    mix: Mix,
    tasks: usize,
    calls: usize,
) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let accounts = Arc::new(accounts.to_vec());
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (app, next, accounts) = (app.clone(), next.clone(), accounts.clone());
        let label = label.to_string();
        handles.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= calls {
                    break errors;
                }
                let account = &accounts[i % accounts.len()];
                let id = format!("{label}-{i}");
                let result = if mix == Mix::Mixed && (i / accounts.len()) % 2 == 1 {
                    withdraw(&app, account, "0.50", &id).await
                } else {
                    deposit(&app, account, "1.00", &id).await
                };
                if let Err(e) = result {
                    errors.push(format!("{id}: {e}"));
                }
            }
        }));
    }
    let mut errors = Vec::new();
    for handle in handles {
        errors.extend(handle.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    let rate = calls as f64 / seconds;
    println!(
        "  {label:<34} {calls:>6} calls in {seconds:>6.2} s = {rate:>7.0} req/s, {} errors",
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{label}: {} errors, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    rate
}

async fn bench(name: &str, url: &str, tasks: usize, calls: usize) {
    let clock: SharedClock = Arc::new(SystemClock);
    let app = Arc::new(backorder_svc::testkit::serve(url, clock, None).await);
    println!("{name}: {tasks} concurrent clients, {calls} calls per scenario");
    let one = vec![open_account(&app, "one").await];
    let mut many = Vec::new();
    for i in 0..64 {
        many.push(open_account(&app, &format!("many-{i}")).await);
    }
    // Seed every account so that no withdrawal can be short, and warm up the book account.
    for (i, account) in one.iter().chain(&many).enumerate() {
        deposit(&app, account, "100000.00", &format!("seed-{i}"))
            .await
            .unwrap();
    }
    for (scope, accounts) in [("one account", &one), ("64 accounts", &many)] {
        let alone = run(
            &app,
            &format!("deposits alone, {scope}"),
            accounts,
            Mix::DepositsAlone,
            tasks,
            calls,
        )
        .await;
        let mixed = run(
            &app,
            &format!("mixed, {scope}"),
            accounts,
            Mix::Mixed,
            tasks,
            calls,
        )
        .await;
        let ratio = mixed / alone;
        println!("  ratio mixed / deposits alone, {scope}: {ratio:.2} (goal >= 0.80)");
    }
    let report = OperatorServiceClient::new(app.channel.clone())
        .check_ledger(with_key(&app.operator_key, pb::CheckLedgerRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(report.ok, "{:?}", report.invariants);
    println!("  CheckLedger: ok");
}

fn main() {
    let tasks = env_number("LEDGER_BENCH_TASKS", 16);
    let calls = env_number("LEDGER_BENCH_CALLS", 2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match backorder_svc::testkit::postgres().await {
            Some(db) => bench("postgres", &db.url, tasks, calls).await,
            None => println!("postgres: skipped (no DATABASE_URL or local PostgreSQL)"),
        }
        if std::env::var("LEDGER_BENCH_SQLITE").is_ok_and(|v| v == "1") {
            let db = backorder_svc::testkit::sqlite();
            bench("sqlite", &db.url, tasks, calls).await;
        }
    });
}
