//! The simulated drop day, end to end: `cargo run --release -p integration-tests --bin
//! drop-day -- [--scenario smoke] [--database-url URL] [--seed N] [--out DIR]`.
//!
//! Starts the registry simulator and the backorder service in this process, runs the day
//! (see `integration_tests::drop_day`), prints the report, and writes `report.json` and
//! `drop-window.png` to the output folder. Exit status: 0 when every check held, 1 on an
//! error or when the ledger check failed, 2 when another end-to-end check failed, 130 when
//! interrupted.
//!
//! Ctrl-C (SIGINT) or SIGTERM stops the run where it is and prints a partial report of what
//! happened so far (marked INTERRUPTED, also in report.json); a second one skips that report.
//! Either way the services are stopped and the run's temporary database (the SQLite folder,
//! or the fresh PostgreSQL database) is removed before the process exits.

use clap::Parser;
use integration_tests::drop_day::{DropDay, DropDayConfig};
use integration_tests::harness::{Database, HarnessOptions, SCENARIO_CATCHER_REGISTRARS};
use integration_tests::{chart, pg, report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;

/// The longest wait for a partial report after an interruption, and for stopping the
/// services: an interrupted run ends even if the services hang.
const REPORT_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(
    name = "drop-day",
    about = "Run a simulated drop day through both services"
)]
struct Args {
    /// A shipped scenario (smoke, com-day, cctld-mix) or a scenario file.
    #[arg(long, default_value = "smoke")]
    scenario: String,
    /// PostgreSQL server to run on (a fresh database is created on it and dropped after the
    /// run), or `sqlite://PATH`. Default: SQLite in a temporary folder.
    #[arg(long)]
    database_url: Option<String>,
    /// Keep the fresh PostgreSQL database after the run (its URL is printed).
    #[arg(long)]
    keep_database: bool,
    /// Seeds the simulator and the orders and bids. Default: the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Where report.json and drop-window.png go.
    #[arg(long, default_value = "drop-day-out")]
    out: PathBuf,
    /// Run without the catcher's --catcher-registrar flags.
    #[arg(long)]
    no_catcher: bool,
    /// Fail when this build of the service has no catcher flag yet.
    #[arg(long, conflicts_with = "no_catcher")]
    require_catcher: bool,
    /// More `backorder-svc serve` flags (repeatable), e.g. --serve-arg=--drop-list-interval=5.
    #[arg(long = "serve-arg", allow_hyphen_values = true)]
    serve_args: Vec<String>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal, as the service does: a piped or redirected log gets
        // plain text, not escape codes.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .init();
    let args = Args::parse();
    let interrupts = listen_for_interrupts();
    match run(args, interrupts).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("drop-day: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Counts SIGINT and SIGTERM from now on (the default action, ending the process at once,
/// would leave the temporary database behind). A third one exits at once.
fn listen_for_interrupts() -> watch::Receiver<u32> {
    let (tx, rx) = watch::channel(0u32);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let got = tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                Some(()) = async {
                    match term.as_mut() {
                        Some(t) => t.recv().await,
                        None => std::future::pending().await,
                    }
                } => true,
            };
            #[cfg(not(unix))]
            let got = tokio::signal::ctrl_c().await.is_ok();
            if !got {
                return;
            }
            let count = *tx.borrow() + 1;
            match count {
                1 => eprintln!(
                    "\ndrop-day: interrupted: stopping, then a partial report (again to skip it)"
                ),
                2 => eprintln!("\ndrop-day: interrupted again: no report; cleaning up"),
                _ => {
                    eprintln!("\ndrop-day: exiting now (temporary files may stay behind)");
                    std::process::exit(130);
                }
            }
            tx.send_replace(count);
        }
    });
    rx
}

/// Resolves at the next interruption.
async fn interrupted(rx: &mut watch::Receiver<u32>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn run(args: Args, mut interrupts: watch::Receiver<u32>) -> anyhow::Result<ExitCode> {
    let scenario_seed = registry_sim::Scenario::load(&args.scenario)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .seed;
    let seed = args.seed.unwrap_or(scenario_seed);
    let (database, fresh) = match &args.database_url {
        None => (Database::TempSqlite, None),
        Some(url) if url.starts_with("sqlite:") => (Database::Url(url.clone()), None),
        Some(server) => {
            let fresh = pg::FreshDatabase::create(server, "drop_day").await?;
            (Database::Url(fresh.url.clone()), Some(fresh))
        }
    };
    let harness = HarnessOptions {
        scenario: args.scenario.clone(),
        seed: Some(seed),
        database,
        catcher_registrars: if args.no_catcher {
            Vec::new()
        } else {
            SCENARIO_CATCHER_REGISTRARS
                .iter()
                .map(|s| s.to_string())
                .collect()
        },
        require_catcher: args.require_catcher,
        extra_serve_args: args.serve_args.clone(),
        ..HarnessOptions::default()
    };
    let mut config = DropDayConfig::new(harness, seed);
    config.progress = !args.quiet;
    let outcome = run_day(config, &mut interrupts).await;
    if let Some(fresh) = fresh {
        if args.keep_database {
            eprintln!("kept the database: {}", fresh.url);
        } else if let Err(error) = fresh.drop_database().await {
            eprintln!("drop-day: could not drop the run's database: {error:#}");
        }
    }
    let report = outcome?;
    let Some(report) = report else {
        return Ok(ExitCode::from(130));
    };
    std::fs::create_dir_all(&args.out)?;
    let json = args.out.join("report.json");
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)?;
    let png = args.out.join("drop-window.png");
    chart::drop_window_png(
        &png,
        &format!(
            "{} drop window (seed {}){}",
            report.scenario,
            report.simulator_seed,
            if report.interrupted.is_some() {
                ", interrupted"
            } else {
                ""
            }
        ),
        &report.per_minute,
    )?;
    print!("{}", report::render(&report));
    println!("written: {} and {}", json.display(), png.display());
    Ok(if report.interrupted.is_some() {
        ExitCode::from(130)
    } else if !report.ledger_ok {
        ExitCode::from(1)
    } else if !report.ok {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The day's phases, stopped at an interruption; the report (partial after one, none after
/// two); the services stopped on every path.
async fn run_day(
    config: DropDayConfig,
    interrupts: &mut watch::Receiver<u32>,
) -> anyhow::Result<Option<report::Report>> {
    let mut day = tokio::select! {
        day = DropDay::start(config) => day?,
        () = interrupted(interrupts) => {
            // Dropping the half-started harness stops its servers and removes its folder.
            return Ok(None);
        }
    };
    let phases = tokio::select! {
        result = async {
            day.place_orders().await?;
            day.run_drop_window().await?;
            day.run_auctions().await
        } => result.map(|()| None),
        () = interrupted(interrupts) => Ok(Some(())),
    };
    let result = match phases {
        Err(error) => Err(error),
        Ok(None) => day.report().await.map(Some),
        Ok(Some(())) => {
            let phase = day.phase.clone();
            let partial = tokio::select! {
                report = tokio::time::timeout(REPORT_TIMEOUT, day.report()) => match report {
                    Ok(report) => report.map(Some),
                    Err(_) => {
                        eprintln!("drop-day: no partial report within {REPORT_TIMEOUT:?}");
                        Ok(None)
                    }
                },
                () = interrupted(interrupts) => Ok(None),
            };
            partial.map(|report| {
                report.map(|mut report| {
                    report.interrupted = Some(phase);
                    report
                })
            })
        }
    };
    match tokio::time::timeout(STOP_TIMEOUT, day.stop()).await {
        Ok(stopped) => stopped?,
        Err(_) => eprintln!("drop-day: the services did not stop within {STOP_TIMEOUT:?}"),
    }
    result
}
