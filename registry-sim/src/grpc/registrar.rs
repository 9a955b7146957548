//! `registry.v1.Registrar`: the EPP-shaped registrar interface.

use super::convert::{duration, precision, result, timestamp};
use crate::api::{self, registrar_server::Registrar};
use crate::lifecycle::State;
use crate::scenario::Policy;
use crate::sim::Sim;
use crate::world::CreateRequest;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct RegistrarService {
    sim: Arc<Sim>,
}

impl RegistrarService {
    pub fn new(sim: Arc<Sim>) -> Self {
        RegistrarService { sim }
    }
}

fn state(s: State) -> api::DomainState {
    match s {
        State::Registered => api::DomainState::Registered,
        State::AutoRenewGrace => api::DomainState::AutoRenewGrace,
        State::Redemption => api::DomainState::RedemptionPeriod,
        State::PendingDelete => api::DomainState::PendingDelete,
        State::Available => api::DomainState::Available,
    }
}

#[tonic::async_trait]
impl Registrar for RegistrarService {
    async fn login(
        &self,
        request: Request<api::LoginRequest>,
    ) -> Result<Response<api::LoginResponse>, Status> {
        let r = request.into_inner();
        let answer = self
            .sim
            .with_world(|w| w.login(&r.registrar_id, &r.password));
        let response = match answer {
            Ok(session_id) => api::LoginResponse {
                result: result(&crate::epp::Outcome::ok()),
                session_id,
            },
            Err(outcome) => api::LoginResponse {
                result: result(&outcome),
                session_id: String::new(),
            },
        };
        tracing::debug!(registrar = %r.registrar_id, ok = !response.session_id.is_empty(), "login");
        Ok(Response::new(response))
    }

    async fn logout(
        &self,
        request: Request<api::LogoutRequest>,
    ) -> Result<Response<api::LogoutResponse>, Status> {
        let r = request.into_inner();
        let outcome = self.sim.with_world(|w| w.logout(&r.session_id));
        Ok(Response::new(api::LogoutResponse {
            result: result(&outcome),
        }))
    }

    async fn check(
        &self,
        request: Request<api::CheckRequest>,
    ) -> Result<Response<api::CheckResponse>, Status> {
        let r = request.into_inner();
        let response = match self.sim.with_world(|w| w.check(&r.session_id, &r.domains)) {
            Ok(answers) => api::CheckResponse {
                result: result(&crate::epp::Outcome::ok()),
                results: answers
                    .into_iter()
                    .map(|a| api::CheckResult {
                        result: result(&a.outcome),
                        domain: a.domain,
                        available: a.available,
                        reason: a.reason,
                        premium: a.premium,
                    })
                    .collect(),
            },
            Err(outcome) => api::CheckResponse {
                result: result(&outcome),
                results: Vec::new(),
            },
        };
        Ok(Response::new(response))
    }

    async fn create(
        &self,
        request: Request<api::CreateRequest>,
    ) -> Result<Response<api::CreateResponse>, Status> {
        let r = request.into_inner();
        let create = CreateRequest {
            period_years: u32::try_from(r.period_years).unwrap_or(u32::MAX),
            auth_code: Some(r.auth_code).filter(|c| !c.is_empty()),
            extensions: r.extensions.into_iter().collect(),
        };
        let answer = self
            .sim
            .with_world(|w| w.create(&r.session_id, &r.domain, &create));
        tracing::debug!(domain = %answer.domain, code = answer.outcome.code as i32, "create");
        let (create_time, expire_time, auth_code) = match &answer.registered {
            Some((created, expires, code)) => (
                Some(timestamp(*created)),
                Some(timestamp(*expires)),
                code.clone(),
            ),
            None => (None, None, String::new()),
        };
        Ok(Response::new(api::CreateResponse {
            result: result(&answer.outcome),
            domain: answer.domain,
            create_time,
            expire_time,
            auth_code,
            server_time: Some(timestamp(answer.server_time)),
        }))
    }

    async fn info(
        &self,
        request: Request<api::InfoRequest>,
    ) -> Result<Response<api::InfoResponse>, Status> {
        let r = request.into_inner();
        let answer = self.sim.with_world(|w| w.info(&r.session_id, &r.domain));
        let mut response = api::InfoResponse {
            result: result(&answer.outcome),
            domain: r.domain,
            ..Default::default()
        };
        if let Some(d) = answer.domain {
            response.domain = d.name.to_string();
            response.state = state(d.state) as i32;
            response.statuses = d
                .state
                .epp_statuses()
                .into_iter()
                .map(String::from)
                .collect();
            response.rgp_status = answer.rgp_status;
            response.sponsoring_registrar = d.sponsor;
            response.create_time = Some(timestamp(d.created));
            response.expire_time = Some(timestamp(d.expires));
            // Only as precise as the public list: info must not leak an unpublished moment.
            response.drop_time = d
                .drop
                .filter(|_| d.state.listed())
                .map(|p| timestamp(p.reveal.drop_time));
            response.auth_code = answer.auth_code;
            response.premium = d.premium;
        }
        Ok(Response::new(response))
    }

    async fn restore(
        &self,
        request: Request<api::RestoreRequest>,
    ) -> Result<Response<api::RestoreResponse>, Status> {
        let r = request.into_inner();
        let outcome = self
            .sim
            .with_world(|w| w.restore_request(&r.session_id, &r.domain));
        Ok(Response::new(api::RestoreResponse {
            result: result(&outcome),
        }))
    }

    async fn list_tlds(
        &self,
        _request: Request<api::ListTldsRequest>,
    ) -> Result<Response<api::ListTldsResponse>, Status> {
        let scenario = self.sim.with_world(|w| Arc::clone(w.scenario()));
        let tlds = scenario
            .tlds
            .iter()
            .map(|t| {
                let probe = t.schedule.slot_start(scenario.start.date_naive());
                api::Tld {
                    name: t.name.clone(),
                    zones: t.zones(),
                    third_level: !t.third_level_zones.is_empty(),
                    policy: match t.policy {
                        Policy::Fcfs => api::AllocationPolicy::Fcfs,
                        Policy::Auction => api::AllocationPolicy::Auction,
                    } as i32,
                    required_extensions: t.required_extensions.clone(),
                    schedule: t.schedule.kind().to_string(),
                    precision: precision(
                        t.schedule
                            .reveal(scenario.start.date_naive(), probe)
                            .precision,
                    ) as i32,
                    auto_renew_grace: Some(duration(t.auto_renew_grace)),
                    redemption_period: Some(duration(t.redemption)),
                    pending_delete_period: Some(duration(t.pending_delete)),
                    create_interval: Some(duration(t.create_interval)),
                    premium_labels: t.premium_labels.iter().cloned().collect(),
                    premium_max_length: t.premium_max_length as i32,
                }
            })
            .collect();
        Ok(Response::new(api::ListTldsResponse { tlds }))
    }
}
