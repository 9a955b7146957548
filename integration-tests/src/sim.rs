//! The registry simulator in-process: a shipped scenario (or a file) with a seed, on the
//! manual clock, served on 127.0.0.1 port 0 by `registry_sim::run`.
//!
//! [`SimServer::clock_participants`] tells a test whether the backorder service follows the
//! clock (a service in another process joins when it starts and leaves when it dies).

use backorder_proto::registry::v1 as registry;
use registry::pending_delete_feed_client::PendingDeleteFeedClient;
use registry::sim_control_client::SimControlClient;
use registry_sim::sim::SimOptions;
use registry_sim::{ClockMode, Scenario, Sim};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub struct SimServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub scenario: String,
    pub seed: u64,
    pub channel: Channel,
    sim: Arc<Sim>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl SimServer {
    /// `scenario` is a shipped name (`smoke`, `com-day`, `cctld-mix`) or a TOML path.
    pub async fn start(scenario: &str, seed: Option<u64>) -> anyhow::Result<SimServer> {
        Self::start_with_ack_timeout(scenario, seed, SimOptions::default().ack_timeout).await
    }

    /// Like [`SimServer::start`], with how long an advance waits for a participant that does
    /// not acknowledge a tick before dropping it (`registry-sim serve --ack-timeout`).
    pub async fn start_with_ack_timeout(
        scenario: &str,
        seed: Option<u64>,
        ack_timeout: std::time::Duration,
    ) -> anyhow::Result<SimServer> {
        let loaded = Scenario::load(scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
        let seed = seed.unwrap_or(loaded.seed);
        let sim = Sim::new(
            loaded,
            SimOptions {
                clock: ClockMode::Manual,
                seed: Some(seed),
                ack_timeout,
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(registry_sim::run(listener, Arc::clone(&sim), async {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(url.clone())?.connect().await?;
        Ok(SimServer {
            url,
            scenario: scenario.to_string(),
            seed,
            channel,
            sim,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn control(&self) -> SimControlClient<Channel> {
        SimControlClient::new(self.channel.clone())
    }

    pub fn feed(&self) -> PendingDeleteFeedClient<Channel> {
        PendingDeleteFeedClient::new(self.channel.clone())
    }

    /// Clock-watch participants still connected (every advance waits for each of them).
    pub fn clock_participants(&self) -> usize {
        self.sim.clock_participants()
    }

    /// Stops the server gracefully (open clock and feed streams are ended).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(std::time::Duration::from_secs(10), task)
                .await
                .map_err(|_| anyhow::anyhow!("the simulator did not stop within 10 s"))???;
        }
        Ok(())
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
