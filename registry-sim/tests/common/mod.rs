//! Starts the simulator in-process on 127.0.0.1 port 0 and connects typed clients.

#![allow(dead_code)]

use registry_sim::api::pending_delete_feed_client::PendingDeleteFeedClient;
use registry_sim::api::registrar_client::RegistrarClient;
use registry_sim::api::sim_control_client::SimControlClient;
use registry_sim::sim::SimOptions;
use registry_sim::{Scenario, Sim};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub struct TestSim {
    pub addr: SocketAddr,
    pub sim: Arc<Sim>,
    pub channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestSim {
    pub async fn start(scenario: &str, options: SimOptions) -> TestSim {
        let scenario = Scenario::load(scenario).expect("scenario");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sim = Sim::new(scenario, options);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(registry_sim::run(listener, Arc::clone(&sim), async {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        TestSim {
            addr,
            sim,
            channel,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn registrar(&self) -> RegistrarClient<Channel> {
        RegistrarClient::new(self.channel.clone())
    }

    pub fn feed(&self) -> PendingDeleteFeedClient<Channel> {
        PendingDeleteFeedClient::new(self.channel.clone())
    }

    pub fn control(&self) -> SimControlClient<Channel> {
        SimControlClient::new(self.channel.clone())
    }

    /// Stops the server gracefully and checks it ended cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            drop(self.channel);
            tokio::time::timeout(std::time::Duration::from_secs(10), server)
                .await
                .expect("graceful shutdown in time")
                .expect("join")
                .expect("server result");
        }
    }
}
