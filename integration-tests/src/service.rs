//! The backorder service in-process, wired exactly as `backorder-svc serve` wires it
//! (`app::serve`), on 127.0.0.1 port 0, following the simulator's clock.
//!
//! The serve flags are parsed by the service's own CLI parser (`Cli::try_parse_from`), so
//! flags added later keep their defaults. The catcher's `--catcher-registrar` is asked for
//! when wanted; a build whose CLI does not know it yet runs without a catcher (reported as
//! such) unless the catcher is required.

use backorder_svc::app::{self, Hooks};
use backorder_svc::bootstrap;
use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::config::{Cli, Command, ServeArgs};
use chrono::{DateTime, Utc};
use clap::Parser;
use clap::error::ErrorKind;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The flag the catcher adds to `serve` (one per registrar accreditation).
pub const CATCHER_FLAG: &str = "--catcher-registrar";

#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub database_url: String,
    pub registry_url: String,
    /// `ID:PASSWORD[:SESSIONS[:CPS]]` per accreditation, passed as `--catcher-registrar`.
    pub catcher_registrars: Vec<String>,
    /// Fail when this build has no catcher flag instead of running without a catcher.
    pub require_catcher: bool,
    /// More `serve` flags, verbatim.
    pub extra_args: Vec<String>,
}

/// The parsed serve flags, and whether the catcher flags were among them.
#[derive(Debug, Clone)]
pub struct ParsedServe {
    pub args: ServeArgs,
    pub catcher: bool,
    /// Why the catcher is off, when it was asked for.
    pub catcher_note: Option<String>,
}

/// `backorder-svc serve --listen 127.0.0.1:0 --clock registry --registry-url URL
/// [--catcher-registrar R]... [extra]...`, parsed by the service's CLI.
pub fn serve_args(options: &ServiceOptions) -> anyhow::Result<ParsedServe> {
    let base = |with_catcher: bool| {
        let mut argv: Vec<String> = [
            "backorder-svc",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--clock",
            "registry",
            "--registry-url",
            &options.registry_url,
            // Tests run side by side: no fixed ports, no second database.
            "--http-listen",
            "127.0.0.1:0",
            "--test-database-url",
            "off",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if with_catcher {
            for registrar in &options.catcher_registrars {
                argv.push(CATCHER_FLAG.to_string());
                argv.push(registrar.clone());
            }
        }
        argv.extend(options.extra_args.iter().cloned());
        argv
    };
    let parse = |argv: Vec<String>| -> Result<ServeArgs, clap::Error> {
        let cli = Cli::try_parse_from(argv)?;
        match cli.command {
            Some(Command::Serve(args)) => Ok(args),
            _ => unreachable!("the argument list starts with `serve`"),
        }
    };
    let wants_catcher = !options.catcher_registrars.is_empty();
    match parse(base(wants_catcher)) {
        Ok(args) => Ok(ParsedServe {
            args,
            catcher: wants_catcher,
            catcher_note: None,
        }),
        Err(error)
            if wants_catcher
                && !options.require_catcher
                && error.kind() == ErrorKind::UnknownArgument
                && error.to_string().contains(CATCHER_FLAG) =>
        {
            let args = parse(base(false)).map_err(|e| anyhow::anyhow!("serve flags: {e}"))?;
            Ok(ParsedServe {
                args,
                catcher: false,
                catcher_note: Some(format!(
                    "this backorder-svc has no {CATCHER_FLAG} flag yet: running without a catcher"
                )),
            })
        }
        Err(error) => Err(anyhow::anyhow!("serve flags: {error}")),
    }
}

/// The operator key of the database: a new database's bootstrap key, or (for a database
/// that was started before) a new operator key, as `backorder-svc create-operator-key` does.
pub async fn operator_key(database_url: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
    let store = backorder_svc::store::connect(database_url).await?;
    let clock: SharedClock = Arc::new(ManualClock::new(now));
    let first = bootstrap::first_start(&store, &clock).await?;
    match first.operator_secret {
        Some(secret) => Ok(secret),
        None => bootstrap::create_operator_key(&store, &clock, "e2e-harness").await,
    }
}

pub struct ServiceServer {
    pub url: String,
    pub channel: Channel,
    pub parsed: ParsedServe,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl ServiceServer {
    /// Starts `app::serve` and returns once the service follows the registry clock (from
    /// then on every advance of the simulator waits for its scheduler pass).
    pub async fn start(options: &ServiceOptions) -> anyhow::Result<ServiceServer> {
        let parsed = serve_args(options)?;
        let listener = tokio::net::TcpListener::bind(parsed.args.listen).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (joined, has_joined) = oneshot::channel();
        let hooks = Hooks {
            joined_registry_clock: Some(joined),
            ..Hooks::default()
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let database_url = options.database_url.clone();
        let args = parsed.args.clone();
        let mut task = tokio::spawn(async move {
            app::serve(&database_url, args, listener, hooks, async {
                let _ = stopped.await;
            })
            .await
        });
        tokio::select! {
            joined = has_joined => joined.map_err(|_| anyhow::anyhow!(
                "the service stopped following the registry clock before its first tick"
            ))?,
            ended = &mut task => {
                ended??;
                anyhow::bail!("the service stopped before it joined the registry clock");
            }
            _ = tokio::time::sleep(Duration::from_secs(60)) => {
                anyhow::bail!("the service did not join the registry clock within 60 s");
            }
        }
        let channel = Channel::from_shared(url.clone())?.connect().await?;
        Ok(ServiceServer {
            url,
            channel,
            parsed,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Graceful shutdown: calls in flight finish, the clock follower and the feed stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .map_err(|_| anyhow::anyhow!("the service did not stop within 30 s"))???;
        }
        Ok(())
    }
}

impl Drop for ServiceServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
