//! The service as `backorder-svc serve` runs it: the live environment and the test
//! environment (each its storage, clock, drop-list feed, scheduler or registry clock, and
//! catcher: `environment.rs`), the gRPC servers and the command API, wired together. A
//! library function, so the end-to-end harness runs exactly the production wiring in-process.

use crate::config::ServeArgs;
use crate::environment::{self, until_stopped};
use crate::{cmdapi, server, test_environment};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What an embedding caller wants to hear about.
#[derive(Debug, Default)]
pub struct Hooks {
    /// Print a new database's operator key on stdout (the binary does; tests create their own).
    pub print_operator_key: bool,
    /// Told once the service follows the registry clock (`--clock registry`): from then on
    /// every advance of the simulator waits for this service.
    pub joined_registry_clock: Option<tokio::sync::oneshot::Sender<()>>,
}

pub async fn serve(
    database_url: &str,
    args: ServeArgs,
    listener: TcpListener,
    hooks: Hooks,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Every flag is checked before anything starts.
    let live_settings = args.live_settings(database_url)?;
    let test_settings = args.test_settings(database_url)?;
    let http = match args.http_address()? {
        Some(address) => Some(bind("--http-listen", address).await?),
        None => None,
    };
    let test_grpc = match (&test_settings, args.test_address()?) {
        (Some(_), Some(address)) => Some(bind("--test-listen", address).await?),
        _ => None,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let health = tonic_health::server::HealthReporter::new();
    let live = environment::start(
        live_settings,
        environment::Hooks {
            health: Some(health.clone()),
            joined_registry_clock: hooks.joined_registry_clock,
        },
        stopped.clone(),
    )
    .await?;
    if let Some(secret) = &live.operator_secret
        && hooks.print_operator_key
    {
        // Shown once: the database keeps only its hash.
        println!("Operator API key (shown once, keep it safe): {secret}");
    }
    tracing::info!(address = %listener.local_addr()?, database = %redact(database_url), clock = ?args.clock, "serving gRPC");
    let test = match test_settings {
        Some(settings) => Some(
            test_environment::start(
                settings,
                &args.test_database_url,
                database_url,
                stopped.clone(),
            )
            .await?,
        ),
        None => None,
    };
    if let Some(secret) = test.as_ref().and_then(|t| t.operator_secret.as_ref())
        && hooks.print_operator_key
    {
        println!("Test environment operator API key (shown once, keep it safe): {secret}");
    }
    if let Some(listener) = http {
        let api = cmdapi::CommandApi::new(live.uc.clone(), test.as_ref().map(|t| t.uc.clone()));
        tracing::info!(
            address = %listener.local_addr()?,
            test_environment = test.is_some(),
            "serving the command API (/api/call.cgi, /ote/api/call.cgi)"
        );
        let until = until_stopped(&stopped);
        tokio::spawn(async move {
            let served = axum::serve(listener, cmdapi::router(Arc::new(api)))
                .with_graceful_shutdown(until)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the command API stopped");
            }
        });
    }
    if let (Some(test), Some(listener)) = (&test, test_grpc) {
        tracing::info!(address = %listener.local_addr()?, "serving the test environment's gRPC API");
        let served = server::run_with(
            listener,
            test.uc.clone(),
            server::Options::default(),
            until_stopped(&stopped),
        );
        tokio::spawn(async move {
            if let Err(error) = served.await {
                tracing::error!(%error, "the test environment's gRPC API stopped");
            }
        });
    }
    let options = server::Options {
        health: Some(health),
    };
    let served = server::run_with(listener, live.uc.clone(), options, async move {
        shutdown.await;
        let _ = stop.send(true);
    })
    .await;
    // Graceful shutdown: the loops are told to stop; the registry sessions end.
    live.close().await;
    if let Some(test) = test {
        test.close().await;
    }
    served
}

async fn bind(flag: &str, address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("{flag} {address}: {e}"))
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
