//! One clock for both services: the backorder service follows the registry simulator's
//! clock-watch stream. On every tick it sets its manual clock to the tick's virtual time, runs
//! a scheduler pass and then a catcher step (if a catcher runs), and acknowledges the tick,
//! so the simulator moves on only after this service has acted at that instant: our creates
//! arrive at the tick's virtual time.

use super::scheduler;
use crate::catcher::{Catcher, runner};
use crate::clock::{ManualClock, SharedClock};
use crate::store::SharedStore;
use backorder_proto::registry::v1 as registry;
use chrono::{DateTime, Utc};
use registry::sim_control_client::SimControlClient;
use std::sync::Arc;
use tonic::transport::Channel;

/// The participant name the simulator shows in its logs.
pub const PARTICIPANT: &str = "backorder-svc";

async fn connect(url: &str) -> anyhow::Result<SimControlClient<Channel>> {
    let channel = Channel::from_shared(url.to_string())?.connect().await?;
    Ok(SimControlClient::new(channel))
}

fn time_of(ts: Option<&prost_types::Timestamp>) -> anyhow::Result<DateTime<Utc>> {
    let ts = ts.ok_or_else(|| anyhow::anyhow!("the registry sent a tick without a time"))?;
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0))
        .ok_or_else(|| anyhow::anyhow!("the registry sent an invalid time"))
}

/// The registry's current virtual time: where the manual clock starts.
pub async fn registry_now(url: &str) -> anyhow::Result<DateTime<Utc>> {
    let mut control = connect(url).await?;
    let clock = control
        .get_clock(registry::GetClockRequest {})
        .await?
        .into_inner();
    time_of(clock.now.as_ref())
}

/// Follows the clock until the stream ends or `shutdown` resolves. `joined` is told once the
/// first tick is acknowledged: from then on every advance of the simulator waits for us.
/// `catcher` steps on every tick, right after the scheduler pass.
pub async fn follow(
    url: String,
    store: SharedStore,
    manual: Arc<ManualClock>,
    catcher: Option<Arc<Catcher>>,
    mut joined: Option<tokio::sync::oneshot::Sender<()>>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut control = connect(&url).await?;
    let mut ticks = control
        .watch_clock(registry::WatchClockRequest {
            participant: PARTICIPANT.to_string(),
        })
        .await?
        .into_inner();
    let clock: SharedClock = manual.clone();
    tokio::pin!(shutdown);
    loop {
        let tick = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            tick = ticks.message() => tick?,
        };
        let Some(tick) = tick else {
            tracing::info!("the registry closed its clock stream");
            return Ok(());
        };
        let now = time_of(tick.now.as_ref())?;
        // A tick never goes back; if it did, the registry was reset: keep our time.
        if let Err(error) = manual.set(now) {
            tracing::warn!(%error, "registry tick is behind our clock; not moving it");
        }
        match scheduler::run_pass(&store, &clock).await {
            Ok(report) if report != scheduler::PassReport::default() => {
                tracing::info!(?report, tick = tick.tick, "scheduler pass at registry tick");
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "scheduler pass failed at a registry tick"),
        }
        if let Some(catcher) = &catcher {
            runner::log_step(catcher.step(clock.now()).await);
        }
        control
            .ack_tick(registry::AckTickRequest {
                participant_id: tick.participant_id.clone(),
                tick: tick.tick,
            })
            .await?;
        if let Some(joined) = joined.take() {
            let _ = joined.send(());
        }
    }
}
