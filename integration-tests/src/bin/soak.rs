//! Soak test: the real `backorder-svc` binary on a temporary SQLite database, a steady mixed
//! gRPC load on loopback (accounts, deposits, withdrawals, orders, queries, list calls) for N
//! minutes, and the service's resident memory (`VmRSS` of the child from `/proc`) once a minute.
//! At the end: whether the last five minutes are flat within 10 % (exit code 1 when not).
//!
//! ```text
//! cargo run -p integration-tests --bin soak -- [--minutes 10] [--rate 200] [--workers 8]
//! ```
//! `SOAK_MINUTES`, `SOAK_RATE` set the same; `SOAK_BIN` names another service binary (default:
//! `target/<profile>/backorder-svc`, built when missing or stale).

use anyhow::Context as _;
use backorder_proto::backorder::v1 as pb;
use clap::Parser;
use integration_tests::child_service::{OPERATOR_KEY_LINE, service_binary};
use integration_tests::clients::Api;
use rand::{Rng, SeedableRng};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

#[derive(Debug, Parser)]
#[command(about = "Mixed gRPC load on a local backorder-svc; prints its RSS every minute")]
struct Args {
    /// How long the load runs.
    #[arg(long, env = "SOAK_MINUTES", default_value_t = 10)]
    minutes: u64,
    /// Target calls per second (all workers together).
    #[arg(long, env = "SOAK_RATE", default_value_t = 200)]
    rate: u64,
    /// Concurrent client tasks.
    #[arg(long, default_value_t = 8)]
    workers: u64,
    /// Accounts created before the load (more are created during it).
    #[arg(long, default_value_t = 20)]
    accounts: usize,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    errors: AtomicU64,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn money(amount: &str) -> Option<pb::Money> {
    Some(pb::Money {
        currency_code: "USD".into(),
        amount: amount.into(),
    })
}

async fn wait_for_key(log: &std::path::Path, timeout: Duration) -> anyhow::Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(OPERATOR_KEY_LINE))
            && let Some((_, key)) = line.split_once(OPERATOR_KEY_LINE)
        {
            return Ok(key.trim().to_string());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no operator key in {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One call of the mix; errors are counted, never fatal (the memory figure is the point).
async fn one_call(
    api: &mut Api,
    accounts: &tokio::sync::RwLock<Vec<String>>,
    rng: &mut rand_chacha::ChaCha8Rng,
    serial: u64,
) -> Result<(), tonic::Status> {
    let account = {
        let list = accounts.read().await;
        list[rng.random_range(0..list.len())].clone()
    };
    match rng.random_range(0..100u32) {
        0..=1 => {
            let created = api
                .accounts
                .create_account(pb::CreateAccountRequest {
                    display_name: format!("soak {serial}"),
                    currency_code: "USD".into(),
                    request_id: format!("soak-account-{serial}"),
                    ..Default::default()
                })
                .await?
                .into_inner();
            accounts.write().await.push(created.id);
        }
        2..=16 => {
            api.accounts
                .create_deposit(pb::CreateDepositRequest {
                    account_id: account,
                    amount: money("50.00"),
                    request_id: format!("soak-deposit-{serial}"),
                    memo: "soak".into(),
                })
                .await?;
        }
        17..=21 => {
            // May be refused for lack of funds: that is part of the mix.
            let _ = api
                .accounts
                .create_withdrawal(pb::CreateWithdrawalRequest {
                    account_id: account,
                    amount: money("1.00"),
                    request_id: format!("soak-withdrawal-{serial}"),
                    memo: "soak".into(),
                })
                .await;
        }
        22..=36 => {
            let _ = api
                .backorders
                .create_backorder(pb::CreateBackorderRequest {
                    domain: format!("soak-{serial}.com"),
                    class: pb::BackorderClass::Backorder as i32,
                    request_id: format!("soak-order-{serial}"),
                    account_id: account,
                    ..Default::default()
                })
                .await;
        }
        37..=51 => {
            api.accounts
                .get_balance(pb::GetBalanceRequest {
                    account_id: account,
                })
                .await?;
        }
        52..=61 => {
            api.accounts
                .get_account(pb::GetAccountRequest {
                    account_id: account,
                })
                .await?;
        }
        62..=71 => {
            api.backorders
                .list_backorders(pb::ListBackordersRequest {
                    account_id: account,
                    page_size: 20,
                    ..Default::default()
                })
                .await?;
        }
        72..=79 => {
            api.accounts
                .list_accounts(pb::ListAccountsRequest {
                    page_size: 20,
                    ..Default::default()
                })
                .await?;
        }
        80..=87 => {
            api.drop_list
                .query_drop_list(pb::QueryDropListRequest {
                    query: Some(pb::DropListQuery {
                        keywords: vec!["soak".into()],
                        ..Default::default()
                    }),
                    limit: 20,
                    ..Default::default()
                })
                .await?;
        }
        88..=93 => {
            api.catalog
                .list_tlds(pb::ListTldsRequest {
                    page_size: 50,
                    ..Default::default()
                })
                .await?;
        }
        _ => {
            api.events
                .list_events(pb::ListEventsRequest {
                    page_size: 20,
                    ..Default::default()
                })
                .await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.minutes > 0 && args.rate > 0 && args.workers > 0);
    let binary = match std::env::var_os("SOAK_BIN") {
        Some(path) => std::path::PathBuf::from(path),
        None => service_binary()?,
    };
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("soak.db");
    let log = dir.path().join("service.log");
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let out = std::fs::File::create(&log)?;
    let mut child = Command::new(&binary)
        .args([
            "--database-url",
            &format!("sqlite://{}", db.display()),
            "serve",
            "--listen",
            &listen.to_string(),
            "--http-listen",
            "127.0.0.1:0",
            "--test-database-url",
            "off",
        ])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id();
    let result = run(&args, pid, &log, listen).await;
    let _ = child.kill();
    let _ = child.wait();
    if result.is_err() {
        eprintln!(
            "service log ends:\n{}",
            integration_tests::child_service::tail(&log, 20)
        );
    }
    let flat = result?;
    // The temporary folder goes before the exit code is set (exit skips destructors).
    drop(dir);
    if !flat {
        std::process::exit(1);
    }
    Ok(())
}

async fn run(
    args: &Args,
    pid: u32,
    log: &std::path::Path,
    listen: std::net::SocketAddr,
) -> anyhow::Result<bool> {
    let key = wait_for_key(log, Duration::from_secs(60)).await?;
    let channel = Channel::from_shared(format!("http://{listen}"))?
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy();
    let mut api = Api::new(channel.clone(), &key)?;
    let mut accounts = Vec::new();
    for i in 0..args.accounts {
        let created = loop {
            match api
                .accounts
                .create_account(pb::CreateAccountRequest {
                    display_name: format!("soak seed {i}"),
                    currency_code: "USD".into(),
                    ..Default::default()
                })
                .await
            {
                Ok(created) => break created.into_inner(),
                Err(status) if status.code() == tonic::Code::Unavailable => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(status) => anyhow::bail!("create account: {status}"),
            }
        };
        accounts.push(created.id);
    }
    let accounts = Arc::new(tokio::sync::RwLock::new(accounts));
    let counters = Arc::new(Counters::default());
    let serial = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(args.minutes * 60);
    let per_worker = Duration::from_secs_f64(args.workers as f64 / args.rate as f64);
    println!(
        "soak: pid {pid}, {} minutes, target {} calls/s, {} workers; RSS at start {} KiB",
        args.minutes,
        args.rate,
        args.workers,
        rss_kib(pid).unwrap_or(0)
    );
    let mut workers = Vec::new();
    for w in 0..args.workers {
        let (mut api, accounts, counters, serial) = (
            api.clone(),
            accounts.clone(),
            counters.clone(),
            serial.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(w);
            let mut tick = tokio::time::interval(per_worker);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while Instant::now() < end {
                tick.tick().await;
                let n = serial.fetch_add(1, Ordering::Relaxed);
                counters.calls.fetch_add(1, Ordering::Relaxed);
                if one_call(&mut api, &accounts, &mut rng, n).await.is_err() {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut samples = Vec::new();
    let mut last_calls = 0;
    for minute in 1..=args.minutes {
        tokio::time::sleep_until((started + Duration::from_secs(minute * 60)).into()).await;
        let rss = rss_kib(pid).context("the service is gone")?;
        let calls = counters.calls.load(Ordering::Relaxed);
        println!(
            "minute {minute:>3}: RSS {:>7.1} MiB   calls {:>7} ({:.0}/s)   errors {}",
            rss as f64 / 1024.0,
            calls,
            (calls - last_calls) as f64 / 60.0,
            counters.errors.load(Ordering::Relaxed)
        );
        last_calls = calls;
        samples.push(rss);
    }
    for worker in workers {
        worker.await?;
    }
    let window = &samples[samples.len().saturating_sub(5)..];
    let (min, max) = (
        window.iter().copied().min().unwrap_or(0),
        window.iter().copied().max().unwrap_or(0),
    );
    let flat = min > 0 && (max as f64) <= (min as f64) * 1.10;
    println!(
        "last {} minutes: RSS {:.1} to {:.1} MiB ({:+.1} %): {}",
        window.len(),
        min as f64 / 1024.0,
        max as f64 / 1024.0,
        (max as f64 / min.max(1) as f64 - 1.0) * 100.0,
        if flat {
            "flat within 10 %"
        } else {
            "NOT flat within 10 %"
        }
    );
    Ok(flat)
}
