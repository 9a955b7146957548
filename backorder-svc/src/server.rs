//! The gRPC server: every service, reflection (v1 and v1alpha, since common grpcurl builds
//! speak only v1alpha) and health, with graceful shutdown. `run` takes a bound listener so
//! tests can serve on port 0.

use crate::api::{
    AccountApi, AuctionApi, BackorderApi, CatalogApi, Context, DropListApi, EventApi, OperatorApi,
};
use crate::usecases::UseCases;
use backorder_proto::backorder::v1 as pb;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::server::{HealthReporter, HealthService};

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

pub async fn run(
    listener: TcpListener,
    uc: UseCases,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with(listener, uc, Options::default(), shutdown).await
}

/// What the server needs beyond the use cases (which carry the registry feed, the premium
/// check, the background parts and the clock mode).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The reporter behind `grpc.health.v1`, shared with the background parts (a fresh one
    /// when none is given).
    pub health: Option<HealthReporter>,
}

pub async fn run_with(
    listener: TcpListener,
    uc: UseCases,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let ctx = Context::new(uc);
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let health_reporter = options.health.clone().unwrap_or_default();
    let health_service = tonic_health::pb::health_server::HealthServer::new(
        HealthService::from_health_reporter(health_reporter.clone()),
    );
    health_reporter
        .set_serving::<pb::account_service_server::AccountServiceServer<AccountApi>>()
        .await;
    health_reporter
        .set_serving::<pb::catalog_service_server::CatalogServiceServer<CatalogApi>>()
        .await;
    health_reporter
        .set_serving::<pb::operator_service_server::OperatorServiceServer<OperatorApi>>()
        .await;
    health_reporter
        .set_serving::<pb::drop_list_service_server::DropListServiceServer<DropListApi>>()
        .await;
    health_reporter
        .set_serving::<pb::backorder_service_server::BackorderServiceServer<BackorderApi>>()
        .await;
    health_reporter
        .set_serving::<pb::event_service_server::EventServiceServer<EventApi>>()
        .await;
    health_reporter
        .set_serving::<pb::auction_service_server::AuctionServiceServer<AuctionApi>>()
        .await;

    tonic::transport::Server::builder()
        .trace_fn(|request| {
            tracing::info_span!(
                "grpc",
                request_id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed),
                method = %request.uri().path(),
                // Recorded once the call is authenticated (`api::Context::caller`).
                caller = tracing::field::Empty,
            )
        })
        .layer(tower::layer::layer_fn(|inner| CallLog { inner }))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(pb::account_service_server::AccountServiceServer::new(
            AccountApi::new(ctx.clone()),
        ))
        .add_service(pb::catalog_service_server::CatalogServiceServer::new(
            CatalogApi::new(ctx.clone()),
        ))
        .add_service(pb::drop_list_service_server::DropListServiceServer::new(
            DropListApi::new(ctx.clone()),
        ))
        .add_service(pb::backorder_service_server::BackorderServiceServer::new(
            BackorderApi::new(ctx.clone()),
        ))
        .add_service(pb::auction_service_server::AuctionServiceServer::new(
            AuctionApi::new(ctx.clone()),
        ))
        .add_service(pb::event_service_server::EventServiceServer::new(
            EventApi::new(ctx.clone()),
        ))
        .add_service(pb::operator_service_server::OperatorServiceServer::new(
            OperatorApi::new(ctx),
        ))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// Logs one line per call when its answer starts: inside the call's span (request id,
/// method, caller), with the gRPC status and the time taken. A unary call's status is the
/// one in its answer; a stream's final status travels in its trailers, after this line
/// (`Ok` here means the stream started).
#[derive(Debug, Clone)]
struct CallLog<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for CallLog<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = std::time::Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            let elapsed = started.elapsed();
            match &answer {
                Ok(response) => match response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(tonic::Code::from_i32)
                {
                    Some(code @ (tonic::Code::Internal | tonic::Code::Unknown)) => {
                        tracing::error!(status = ?code, ?elapsed, "call answered");
                    }
                    Some(code) => tracing::info!(status = ?code, ?elapsed, "call answered"),
                    // OK, or a stream whose status follows in its trailers.
                    None => tracing::info!(status = "Ok", ?elapsed, "call answered"),
                },
                Err(_) => tracing::error!(?elapsed, "call failed in transport"),
            }
            answer
        })
    }
}

/// The services this binary serves: reflection lists exactly these (the descriptor set also
/// describes the registry simulator's services, which are not served here).
pub const SERVED: &[&str] = &[
    "backorder.v1.AccountService",
    "backorder.v1.AuctionService",
    "backorder.v1.BackorderService",
    "backorder.v1.CatalogService",
    "backorder.v1.DropListService",
    "backorder.v1.EventService",
    "backorder.v1.OperatorService",
    "grpc.health.v1.Health",
];

fn reflection() -> tonic_reflection::server::Builder<'static> {
    SERVED.iter().fold(
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(backorder_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc error details (BadRequest, ...): grpcurl decodes them by reflection.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET),
        |builder, name| builder.with_service_name(*name),
    )
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: finishing calls in flight");
}
