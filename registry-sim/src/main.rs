//! `registry-sim serve --scenario FILE|NAME --seed N --clock manual|system|accelerated:F`

use anyhow::Context;
use clap::{Parser, Subcommand};
use registry_sim::sim::SimOptions;
use registry_sim::{ClockMode, Scenario, Sim};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "registry-sim",
    version,
    about = "A domain registry simulator for drop day"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulator over gRPC.
    Serve {
        /// Scenario file, or a shipped scenario's name (smoke, com-day, cctld-mix).
        #[arg(long, env = "REGISTRY_SIM_SCENARIO", default_value = "smoke")]
        scenario: String,
        /// Seed (default: the scenario's).
        #[arg(long, env = "REGISTRY_SIM_SEED")]
        seed: Option<u64>,
        /// manual, system or accelerated:FACTOR.
        #[arg(long, env = "REGISTRY_SIM_CLOCK", default_value = "manual")]
        clock: ClockMode,
        /// Address (host:port) to serve gRPC on; port 0 picks a free port.
        #[arg(long, env = "REGISTRY_SIM_LISTEN", default_value = "127.0.0.1:50052")]
        listen: SocketAddr,
        /// Seconds an advance waits for a participant's tick acknowledgement.
        #[arg(long, env = "REGISTRY_SIM_ACK_TIMEOUT", default_value_t = 30)]
        ack_timeout: u64,
    },
    /// Validate a scenario file and print a summary.
    Check {
        /// Scenario file, or a shipped scenario's name (smoke, com-day, cctld-mix).
        #[arg(long)]
        scenario: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("registry-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Check { scenario } => {
            let s = Scenario::load(&scenario)?;
            let names: usize = s.tlds.iter().map(|t| t.names).sum();
            println!(
                "{}: ok ({} TLDs, {names} names, {} registrars, {} rivals, seed {})",
                s.name,
                s.tlds.len(),
                s.registrars.len(),
                s.rivals.len(),
                s.seed
            );
            Ok(())
        }
        Command::Serve {
            scenario,
            seed,
            clock,
            listen,
            ack_timeout,
        } => {
            let scenario = Scenario::load(&scenario)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("binding {listen}"))?;
                tracing::info!(scenario = %scenario.name, %clock, "starting");
                let options = SimOptions {
                    clock,
                    seed,
                    ack_timeout: std::time::Duration::from_secs(ack_timeout),
                };
                let sim = Sim::new(scenario, options);
                registry_sim::run(listener, sim, shutdown_signal()).await
            })
        }
    }
}

/// Resolves on SIGINT or SIGTERM, so in-flight calls finish before the process exits.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
