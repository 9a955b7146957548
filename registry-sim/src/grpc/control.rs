//! `registry.v1.SimControl`: scenarios, seeds, virtual time, the tick barrier, statistics.

use super::convert::{
    clock_mode, drop_record, from_duration, from_timestamp, sim_error, timestamp,
};
use crate::api::{self, sim_control_server::SimControl};
use crate::scenario::Scenario;
use crate::sim::Sim;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

/// Keeps one statistics answer well under gRPC's default 4 MiB message limit.
const MAX_RACES_PAGE: usize = 10_000;

pub struct ControlService {
    sim: Arc<Sim>,
}

impl ControlService {
    pub fn new(sim: Arc<Sim>) -> Self {
        ControlService { sim }
    }

    fn clock(&self) -> api::ClockState {
        api::ClockState {
            now: Some(timestamp(self.sim.now())),
            mode: clock_mode(self.sim.clock_mode()) as i32,
            factor: self.sim.clock_factor(),
        }
    }

    fn status(&self) -> api::SimStatus {
        let (scenario, seed, domains, pending, dropped) = self.sim.with_world(|w| {
            (
                w.scenario().name.clone(),
                w.seed(),
                w.domain_count() as i64,
                w.feed().len() as i64,
                w.counters().drops,
            )
        });
        api::SimStatus {
            scenario,
            seed,
            clock: Some(self.clock()),
            domains,
            pending_delete: pending,
            dropped,
        }
    }
}

fn seed(value: u64) -> Option<u64> {
    (value != 0).then_some(value)
}

#[tonic::async_trait]
impl SimControl for ControlService {
    async fn load_scenario(
        &self,
        request: Request<api::LoadScenarioRequest>,
    ) -> Result<Response<api::SimStatus>, Status> {
        let r = request.into_inner();
        let scenario = match (r.scenario_toml.is_empty(), r.shipped.is_empty()) {
            (false, true) => Scenario::parse(&r.scenario_toml, "<scenario_toml>"),
            (true, false) => {
                if !crate::scenario::SHIPPED
                    .iter()
                    .any(|(name, _)| *name == r.shipped)
                {
                    return Err(Status::invalid_argument(format!(
                        "shipped: no shipped scenario `{}`",
                        r.shipped
                    )));
                }
                Scenario::load(&r.shipped)
            }
            _ => {
                return Err(Status::invalid_argument(
                    "give exactly one of scenario_toml and shipped",
                ));
            }
        }
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        tracing::info!(scenario = %scenario.name, "loading scenario");
        self.sim.load(scenario, seed(r.seed));
        Ok(Response::new(self.status()))
    }

    async fn reset(
        &self,
        request: Request<api::ResetRequest>,
    ) -> Result<Response<api::SimStatus>, Status> {
        self.sim.reset(seed(request.into_inner().seed));
        Ok(Response::new(self.status()))
    }

    async fn get_status(
        &self,
        _request: Request<api::GetStatusRequest>,
    ) -> Result<Response<api::SimStatus>, Status> {
        Ok(Response::new(self.status()))
    }

    async fn get_clock(
        &self,
        _request: Request<api::GetClockRequest>,
    ) -> Result<Response<api::ClockState>, Status> {
        Ok(Response::new(self.clock()))
    }

    async fn advance_clock(
        &self,
        request: Request<api::AdvanceClockRequest>,
    ) -> Result<Response<api::ClockState>, Status> {
        let by = from_duration("by", request.into_inner().by)?
            .ok_or_else(|| Status::invalid_argument("by: required"))?;
        self.sim.advance_by(by).await.map_err(sim_error)?;
        Ok(Response::new(self.clock()))
    }

    async fn run_until(
        &self,
        request: Request<api::RunUntilRequest>,
    ) -> Result<Response<api::ClockState>, Status> {
        let r = request.into_inner();
        let until = from_timestamp("until", r.until)?;
        let step = from_duration("step", r.step)?.unwrap_or_else(|| chrono::Duration::seconds(1));
        self.sim.run_until(until, step).await.map_err(sim_error)?;
        Ok(Response::new(self.clock()))
    }

    type WatchClockStream = Pin<Box<dyn Stream<Item = Result<api::ClockTick, Status>> + Send>>;

    async fn watch_clock(
        &self,
        request: Request<api::WatchClockRequest>,
    ) -> Result<Response<Self::WatchClockStream>, Status> {
        let participant = request.into_inner().participant;
        let ticks = self.sim.subscribe_ticks(&participant);
        let stream = ReceiverStream::new(ticks).map(|t| {
            Ok(api::ClockTick {
                participant_id: t.participant_id,
                tick: t.tick,
                now: Some(timestamp(t.now)),
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn ack_tick(
        &self,
        request: Request<api::AckTickRequest>,
    ) -> Result<Response<api::AckTickResponse>, Status> {
        let r = request.into_inner();
        self.sim
            .ack_tick(&r.participant_id, r.tick)
            .map_err(sim_error)?;
        Ok(Response::new(api::AckTickResponse {}))
    }

    async fn get_statistics(
        &self,
        request: Request<api::GetStatisticsRequest>,
    ) -> Result<Response<api::Statistics>, Status> {
        let r = request.into_inner();
        let tlds: Vec<String> = r
            .tlds
            .into_iter()
            .map(|t| t.trim_start_matches('.').to_ascii_lowercase())
            .collect();
        let size = match r.page_size {
            0 => MAX_RACES_PAGE,
            n if n < 0 => return Err(Status::invalid_argument("page_size: must not be negative")),
            n => (n as usize).min(MAX_RACES_PAGE),
        };
        let offset: usize = if r.page_token.is_empty() {
            0
        } else {
            r.page_token
                .strip_prefix("r")
                .and_then(|o| o.parse().ok())
                .ok_or_else(|| {
                    Status::invalid_argument("page_token: not a token this call issued")
                })?
        };
        let statistics = self.sim.with_world(|w| {
            let counters = w.counters();
            let selected = w.races(&tlds);
            let mut catchers: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for race in &selected {
                if let Some(win) = &race.winner {
                    catchers.entry(win.catcher.clone()).or_default().0 += 1;
                }
                for (catcher, a) in &race.catchers {
                    catchers.entry(catcher.clone()).or_default().1 += i64::from(a.attempts);
                }
            }
            let races: Vec<api::DropRecord> = selected
                .iter()
                .skip(offset)
                .take(size)
                .map(|race| drop_record(race, race.domain.rsplit('.').next().unwrap_or_default()))
                .collect();
            let next = offset + races.len();
            api::Statistics {
                drops: selected.len() as i64,
                creates: counters.creates,
                rejected_creates: counters.rejected_creates,
                races,
                catchers: catchers
                    .into_iter()
                    .map(|(catcher, (wins, attempts))| api::CatcherSummary {
                        catcher,
                        wins,
                        attempts,
                    })
                    .collect(),
                next_page_token: if next < selected.len() {
                    format!("r{next}")
                } else {
                    String::new()
                },
            }
        });
        Ok(Response::new(statistics))
    }
}
