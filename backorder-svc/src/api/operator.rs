//! OperatorService: the clock (moved by hand only in manual mode), the audit log, the
//! ledger check and the catcher's results.

use super::Context;
use super::convert::{
    from_timestamp, money, next_token, page_offset, page_size, page_token_id, timestamp,
};
use super::error::ApiError;
use crate::config::ClockKind;
use crate::domain::account::Access;
use crate::domain::money::{Currency, Money};
use crate::ledger::LedgerAccountKind;
use crate::lifecycle::scheduler::PassReport;
use crate::store::catching::{CatchOutcome, CatchRecord};
use crate::store::{AuditFilter, PageRequest};
use crate::usecases::UseCases;
use crate::usecases::logins::SetLogin;
use crate::usecases::operator::{ClockView, LedgerCheck};
use backorder_proto::backorder::v1 as pb;
use pb::operator_service_server::OperatorService;
use std::collections::BTreeMap;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct OperatorApi {
    ctx: Context,
}

impl OperatorApi {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn uc(&self) -> &UseCases {
        &self.ctx.uc
    }
}

fn clock_pb(clock: ClockView) -> pb::Clock {
    let mode = match clock.mode {
        ClockKind::Registry => pb::ClockMode::Registry,
        ClockKind::Manual => pb::ClockMode::Manual,
        ClockKind::System => pb::ClockMode::System,
    };
    pb::Clock {
        now: Some(timestamp(clock.now)),
        mode: mode as i32,
    }
}

fn pass_pb(report: PassReport) -> pb::RunSchedulerResponse {
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    pb::RunSchedulerResponse {
        holds_placed: count(report.holds_placed),
        low_balance_events: count(report.low_balance_warnings),
        finalized: count(report.finalized),
        unfunded: count(report.unfunded),
        restored: count(report.slept),
        other_transitions: 0,
        auctions_closed: count(report.auctions_closed),
        auctions_paid: count(report.auctions_paid),
        payment_defaults: count(report.payment_defaults),
        daily_deals_expired: count(report.daily_deals_expired),
        orders_of_decided_drops: count(report.orders_of_decided_drops),
    }
}

fn status_pb(status: Option<&str>) -> i32 {
    let value = match status {
        Some("REQUESTED") => pb::BackorderStatus::Requested,
        Some("ACTIVE") => pb::BackorderStatus::Active,
        Some("PROCESSING") => pb::BackorderStatus::Processing,
        Some("SUCCESSFUL") => pb::BackorderStatus::Successful,
        Some("AUCTION_PENDING") => pb::BackorderStatus::AuctionPending,
        Some("AUCTION_WON") => pb::BackorderStatus::AuctionWon,
        Some("AUCTION_LOST") => pb::BackorderStatus::AuctionLost,
        Some("FAILED") => pb::BackorderStatus::Failed,
        Some("CANCELLED") => pb::BackorderStatus::Cancelled,
        _ => pb::BackorderStatus::Unspecified,
    };
    value as i32
}

/// The invariants, the trial balance and per-currency totals of a checked snapshot.
fn ledger_report(check: &LedgerCheck) -> pb::CheckLedgerResponse {
    let (snapshot, results) = (&check.snapshot, &check.results);
    let mut totals: BTreeMap<(String, LedgerAccountKind), i64> = BTreeMap::new();
    let mut trial_balance = Vec::with_capacity(snapshot.accounts.len());
    for account in &snapshot.accounts {
        let c = account.counters;
        *totals
            .entry((account.currency.clone(), account.kind))
            .or_default() += c.balance();
        let amount = |minor: i64| match Currency::parse(&account.currency) {
            Ok(currency) => Money::new(currency, minor).amount_string(),
            Err(_) => minor.to_string(),
        };
        trial_balance.push(pb::TrialBalanceLine {
            ledger_account: account.name.clone(),
            currency_code: account.currency.clone(),
            debits_pending: amount(c.debits_pending),
            debits_posted: amount(c.debits_posted),
            credits_pending: amount(c.credits_pending),
            credits_posted: amount(c.credits_posted),
        });
    }
    let sums = |kind: LedgerAccountKind| -> Vec<pb::Money> {
        totals
            .iter()
            .filter(|((_, k), _)| *k == kind)
            .filter_map(|((currency, _), minor)| {
                Currency::parse(currency)
                    .ok()
                    .map(|c| money(Money::new(c, *minor)))
            })
            .collect()
    };
    pb::CheckLedgerResponse {
        ok: check.ok(),
        invariants: results
            .iter()
            .map(|r| pb::InvariantResult {
                invariant: r.name.to_string(),
                holds: r.holds(),
                violations: r.violations.clone(),
            })
            .collect(),
        trial_balance,
        client_balances: sums(LedgerAccountKind::Client),
        revenue: sums(LedgerAccountKind::Revenue),
        auction_proceeds: sums(LedgerAccountKind::AuctionProceeds),
    }
}

#[tonic::async_trait]
impl OperatorService for OperatorApi {
    async fn get_clock(
        &self,
        request: Request<pb::GetClockRequest>,
    ) -> Result<Response<pb::Clock>, Status> {
        let caller = self.ctx.operator(&request).await?;
        Ok(Response::new(clock_pb(self.uc().get_clock(&caller)?)))
    }

    async fn set_clock(
        &self,
        request: Request<pb::SetClockRequest>,
    ) -> Result<Response<pb::Clock>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let to = request
            .get_ref()
            .time
            .as_ref()
            .ok_or_else(|| ApiError::invalid("time", "is required"))
            .and_then(|t| from_timestamp("time", t))?;
        Ok(Response::new(clock_pb(
            self.uc().set_clock(&caller, to).await?,
        )))
    }

    async fn advance_clock(
        &self,
        request: Request<pb::AdvanceClockRequest>,
    ) -> Result<Response<pb::Clock>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let by = request
            .get_ref()
            .by
            .ok_or_else(|| ApiError::invalid("by", "is required"))?;
        if by.seconds < 0 || by.nanos < 0 {
            return Err(ApiError::invalid(
                "by",
                "must not be negative: the clock never moves backwards",
            )
            .into());
        }
        let by = chrono::Duration::try_seconds(by.seconds)
            .and_then(|s| s.checked_add(&chrono::Duration::nanoseconds(i64::from(by.nanos))))
            .ok_or_else(|| {
                ApiError::invalid(
                    "by",
                    "too long: the clock cannot go past 9999-12-31T23:59:59Z",
                )
            })?;
        let run_scheduler = request.get_ref().run_scheduler.unwrap_or(true);
        let clock = self.uc().advance_clock(&caller, by, run_scheduler).await?;
        Ok(Response::new(clock_pb(clock)))
    }

    async fn run_scheduler(
        &self,
        request: Request<pb::RunSchedulerRequest>,
    ) -> Result<Response<pb::RunSchedulerResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        Ok(Response::new(pass_pb(
            self.uc().run_scheduler(&caller).await?,
        )))
    }

    async fn list_audit_log(
        &self,
        request: Request<pb::ListAuditLogRequest>,
    ) -> Result<Response<pb::ListAuditLogResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let backorder_id = match req.backorder_id.trim() {
            "" => None,
            text => Some(text.parse::<i64>().map_err(|_| {
                ApiError::invalid("backorder_id", "must be a backorder id such as \"10700\"")
            })?),
        };
        let domain = super::convert::optional_text(&req.domain).map(|d| d.to_ascii_lowercase());
        let limit = page_size(req.page_size)?;
        let page = PageRequest {
            after: page_token_id(&req.page_token)?,
            limit,
        };
        let entries = self
            .uc()
            .list_audit_log(
                &caller,
                AuditFilter {
                    backorder_id,
                    domain,
                },
                page,
            )
            .await?;
        Ok(Response::new(pb::ListAuditLogResponse {
            next_page_token: next_token(&entries, limit, |e| e.id),
            entries: entries
                .iter()
                .map(|e| pb::AuditEntry {
                    id: e.id.to_string(),
                    time: Some(timestamp(e.at)),
                    actor: e.actor.clone(),
                    backorder_id: e.backorder_id.map(|b| b.to_string()).unwrap_or_default(),
                    domain: e.domain.clone().unwrap_or_default(),
                    old_status: status_pb(e.old_status.as_deref()),
                    new_status: status_pb(e.new_status.as_deref()),
                    message: e.message.clone(),
                    account_id: e.account_id.map(|a| a.to_string()).unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn check_ledger(
        &self,
        request: Request<pb::CheckLedgerRequest>,
    ) -> Result<Response<pb::CheckLedgerResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let check = self.uc().check_ledger(&caller).await?;
        Ok(Response::new(ledger_report(&check)))
    }

    async fn get_service_status(
        &self,
        request: Request<pb::GetServiceStatusRequest>,
    ) -> Result<Response<pb::ServiceStatus>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let status = self.uc().service_status(&caller).await?;
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(pb::ServiceStatus {
            now: Some(timestamp(status.now)),
            parts: status
                .parts
                .into_iter()
                .map(|(part, status)| pb::BackgroundPart {
                    name: part.as_str().to_string(),
                    enabled: status.enabled,
                    running: status.running,
                    serving: status.is_healthy(),
                    last_success_at: status.last_success_at.map(timestamp),
                    last_error: status.last_error.clone().unwrap_or_default(),
                    last_error_at: status.last_error_at.map(timestamp),
                    failures_in_row: count(status.failures_in_row),
                    restarts: count(status.restarts),
                    detail: status.detail,
                })
                .collect(),
            unresolved_drops: status.unresolved_drops,
        }))
    }

    async fn list_catches(
        &self,
        request: Request<pb::ListCatchesRequest>,
    ) -> Result<Response<pb::ListCatchesResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let limit = page_size(req.page_size)?;
        let offset = page_offset(&req.page_token)?;
        let domain = super::convert::optional_text(&req.domain);
        let (catches, total) = self
            .uc()
            .list_catches(&caller, domain.as_deref(), offset, limit)
            .await?;
        let seen = i64::from(offset) + i64::try_from(catches.len()).unwrap_or(i64::MAX);
        Ok(Response::new(pb::ListCatchesResponse {
            catches: catches.iter().map(catch_pb).collect(),
            next_page_token: if seen < total {
                seen.to_string()
            } else {
                String::new()
            },
            total_size: total,
        }))
    }

    async fn set_account_login(
        &self,
        request: Request<pb::SetAccountLoginRequest>,
    ) -> Result<Response<pb::AccountLogin>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let set = self
            .uc()
            .set_login(
                &caller,
                SetLogin {
                    account: super::account_id("account_id", &req.account_id)?,
                    login: req.login,
                    role: optional_role(&req.role).map(str::to_string),
                    access: if req.read_only {
                        Access::ReadOnly
                    } else {
                        Access::Full
                    },
                    password: req.password,
                },
            )
            .await?;
        Ok(Response::new(pb::AccountLogin {
            login: set.login.display_name(),
            account_id: set.login.account_id.to_string(),
            access: match set.login.access {
                Access::Full => pb::LoginAccess::Full,
                Access::ReadOnly => pb::LoginAccess::ReadOnly,
            } as i32,
            created: set.created,
        }))
    }

    async fn delete_account_login(
        &self,
        request: Request<pb::DeleteAccountLoginRequest>,
    ) -> Result<Response<pb::DeleteAccountLoginResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        self.uc()
            .delete_login(
                &caller,
                super::account_id("account_id", &req.account_id)?,
                &req.login,
                optional_role(&req.role),
            )
            .await?;
        Ok(Response::new(pb::DeleteAccountLoginResponse {}))
    }
}

/// An empty role is the account's main login.
fn optional_role(role: &str) -> Option<&str> {
    (!role.is_empty()).then_some(role)
}

fn catch_pb(record: &CatchRecord) -> pb::Catch {
    let report = &record.report;
    let (outcome, registrar, registered) = match &report.outcome {
        CatchOutcome::Caught {
            registrar,
            registered_at,
            ..
        } => (
            pb::CatchOutcome::Caught,
            registrar.clone(),
            Some(*registered_at),
        ),
        CatchOutcome::NotCaught => (pb::CatchOutcome::NotCaught, String::new(), None),
        CatchOutcome::NotDropped => (pb::CatchOutcome::NotDropped, String::new(), None),
    };
    let released = report.release_seen_at.unwrap_or(report.drop_time);
    pb::Catch {
        domain: report.domain.clone(),
        drop_time: Some(timestamp(report.drop_time)),
        outcome: outcome as i32,
        registrar,
        attempts: i32::try_from(report.attempts).unwrap_or(i32::MAX),
        first_attempt_time: report.first_attempt_at.map(timestamp),
        release_seen_time: report.release_seen_at.map(timestamp),
        registered_time: registered.map(timestamp),
        release_to_create: registered
            .and_then(|at| prost_types::Duration::try_from((at - released).to_std().ok()?).ok()),
        decide_time: Some(timestamp(record.decided_at)),
    }
}
