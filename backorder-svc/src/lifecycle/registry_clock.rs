//! One clock for both services: the backorder service follows the registry simulator's
//! clock-watch stream. On every tick it sets its manual clock to the tick's virtual time, runs
//! a scheduler pass and then a catcher step (if a catcher runs), and acknowledges the tick,
//! so the simulator moves on only after this service has acted at that instant: our creates
//! arrive at the tick's virtual time. A dropped stream is joined again (see `follow`).

use super::scheduler;
use crate::catcher::Catcher;
use crate::clock::{ManualClock, SharedClock};
use crate::store::SharedStore;
use crate::supervision::{Part, SharedSupervision};
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

/// Longest pause between attempts to re-join the registry's clock.
const REJOIN_PAUSE_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Follows the registry's clock until `shutdown` resolves. When the stream drops (a pause
/// longer than the simulator's ack timeout, a simulator restart, the network) it joins
/// again, 100 ms after the first failure and doubling to 5 s, and catches up: the first tick
/// carries the registry's time, and the scheduler pass at that tick handles everything that
/// came due meanwhile. `joined` is told once the first tick is acknowledged: from then on
/// every advance of the simulator waits for us. `catcher` steps on every tick, right after
/// the scheduler pass. Every failure is recorded in `supervision` (part `registry_clock`).
pub async fn follow(
    url: String,
    store: SharedStore,
    manual: Arc<ManualClock>,
    catcher: Option<Arc<Catcher>>,
    mut joined: Option<tokio::sync::oneshot::Sender<()>>,
    supervision: SharedSupervision,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        let stint = follow_stream(
            &url,
            &store,
            &manual,
            catcher.as_deref(),
            &mut joined,
            &supervision,
        );
        let ended = tokio::select! {
            _ = &mut shutdown => return,
            ended = stint => ended,
        };
        let error = match ended {
            Ok(acked) if acked > 0 => {
                pause = std::time::Duration::from_millis(100);
                "the registry closed its clock stream".to_string()
            }
            Ok(_) => "the registry closed its clock stream before the first tick".to_string(),
            Err(error) => format!("{error:#}"),
        };
        tracing::warn!(%error, retry_in = ?pause, "lost the registry clock; joining again");
        supervision.failed(Part::RegistryClock, error).await;
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(REJOIN_PAUSE_MAX);
    }
}

/// One subscription to the clock stream; returns the ticks acknowledged when the stream
/// ends (an error when it breaks).
async fn follow_stream(
    url: &str,
    store: &SharedStore,
    manual: &Arc<ManualClock>,
    catcher: Option<&Catcher>,
    joined: &mut Option<tokio::sync::oneshot::Sender<()>>,
    supervision: &SharedSupervision,
) -> anyhow::Result<u64> {
    let mut control = connect(url).await?;
    let mut ticks = control
        .watch_clock(registry::WatchClockRequest {
            participant: PARTICIPANT.to_string(),
        })
        .await?
        .into_inner();
    let clock: SharedClock = manual.clone();
    let mut acked = 0u64;
    let mut behind_reported = false;
    while let Some(tick) = ticks.message().await? {
        let now = time_of(tick.now.as_ref())?;
        // Our clock never goes back (every recorded time would lie) nor past year 9999; a
        // registry that is behind (it restarted its scenario) is waited for, and said so once.
        match manual.set(now) {
            Ok(_) => behind_reported = false,
            Err(error) if !behind_reported => {
                behind_reported = true;
                tracing::warn!(%error, "not following this registry tick; our time stands until the registry's is usable again");
                supervision.set_detail(
                    Part::RegistryClock,
                    format!("not following the registry's tick at {now}: {error}"),
                );
            }
            Err(_) => {}
        }
        scheduler::run_supervised_pass(store, &clock, supervision).await;
        if let Some(catcher) = catcher {
            catcher.supervised_step(clock.now(), supervision).await;
        }
        control
            .ack_tick(registry::AckTickRequest {
                participant_id: tick.participant_id.clone(),
                tick: tick.tick,
            })
            .await?;
        acked += 1;
        if !behind_reported {
            supervision.set_detail(
                Part::RegistryClock,
                format!("following {url}: tick {} at {now}", tick.tick),
            );
        }
        supervision.succeeded(Part::RegistryClock).await;
        if let Some(joined) = joined.take() {
            let _ = joined.send(());
        }
    }
    Ok(acked)
}
