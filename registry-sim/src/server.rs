//! Serves the simulator on a listener until `shutdown` resolves: the three `registry.v1`
//! services plus server reflection (v1 and v1alpha, since common grpcurl builds speak only
//! v1alpha) and the standard health service. Taking the listener makes tests bind port 0.

use crate::api::{
    pending_delete_feed_server::PendingDeleteFeedServer, registrar_server::RegistrarServer,
    sim_control_server::SimControlServer,
};
use crate::grpc::{ControlService, FeedService, RegistrarService};
use crate::sim::Sim;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

/// Services this server actually serves; the shared descriptor set also holds
/// `backorder.v1`, which must not show up in `grpcurl list` here.
const SERVED: &[&str] = &[
    "registry.v1.Registrar",
    "registry.v1.PendingDeleteFeed",
    "registry.v1.SimControl",
    "grpc.health.v1.Health",
];

fn reflection() -> tonic_reflection::server::Builder<'static> {
    SERVED.iter().fold(
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(backorder_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
        |builder, name| builder.with_service_name(*name),
    )
}

pub async fn run(
    listener: TcpListener,
    sim: Arc<Sim>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<RegistrarServer<RegistrarService>>()
        .await;
    health_reporter
        .set_serving::<PendingDeleteFeedServer<FeedService>>()
        .await;
    health_reporter
        .set_serving::<SimControlServer<ControlService>>()
        .await;
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    // The running clocks need a driver; it stops with the server.
    let (stop_driver, driver_stop) = tokio::sync::watch::channel(false);
    let driver = tokio::spawn(Arc::clone(&sim).drive(driver_stop));

    tracing::info!(addr = %listener.local_addr()?, "registry-sim listening");
    // Ticks and acks are tiny messages in lock-step: Nagle's algorithm would add ~40 ms each.
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(error = %e, "cannot set TCP_NODELAY");
            }
        })
    });
    let served = tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(RegistrarServer::new(RegistrarService::new(Arc::clone(
            &sim,
        ))))
        .add_service(PendingDeleteFeedServer::new(FeedService::new(Arc::clone(
            &sim,
        ))))
        .add_service(SimControlServer::new(ControlService::new(Arc::clone(&sim))))
        .serve_with_incoming_shutdown(incoming, {
            let sim = Arc::clone(&sim);
            async move {
                shutdown.await;
                // Streams would otherwise hold the graceful shutdown open forever.
                sim.close_streams();
            }
        })
        .await;
    let _ = stop_driver.send(true);
    let _ = driver.await;
    served?;
    tracing::info!("registry-sim stopped");
    Ok(())
}
