//! BackorderService: placing, reading, listing, cancelling, prepaying and changing orders.

use super::catalog::class_from_pb;
use super::convert::{self, money, page_offset, page_size, timestamp};
use super::error::{ApiError, ApiResult};
use super::{Context, account_in_scope, request_id};
use crate::domain::account::Caller;
use crate::domain::catalog::BackorderClass;
use crate::domain::lifecycle::{FailureReason, Schedule, Status};
use crate::domain::name::DomainName;
use crate::lifecycle::placement::{self, OrderRequest, PlacementError};
use crate::lifecycle::premium::RegistryPremiumCheck;
use crate::store::IdempotencyKey;
use crate::store::auctions::AssignedDomain;
use crate::store::orders::{Backorder, BackorderFilter, Contacts, OrderBy, OrderError, Placement};
use backorder_proto::backorder::v1 as pb;
use pb::backorder_service_server::BackorderService;
use std::sync::Arc;
use tonic::{Request, Response, Status as GrpcStatus};

/// Names one `ConvertIdn` call converts.
const MAX_CONVERSIONS: usize = 1000;
/// Entries of `ListBackorders.statuses` (each status once is enough).
const MAX_STATUS_ENTRIES: usize = 20;

#[derive(Debug, Clone)]
pub struct BackorderApi {
    ctx: Context,
    premium: Option<Arc<RegistryPremiumCheck>>,
}

impl BackorderApi {
    pub fn new(ctx: Context, premium: Option<Arc<RegistryPremiumCheck>>) -> Self {
        Self { ctx, premium }
    }

    /// The order if the caller may see it; another account's order looks absent.
    async fn visible_order(&self, caller: &Caller, id_text: &str) -> ApiResult<Backorder> {
        let id = order_id(id_text)?;
        let order = self.ctx.store.get_backorder(id).await?;
        match (order, caller) {
            (Some(order), Caller::Operator { .. }) => Ok(order),
            (Some(order), Caller::Account { account_id, .. }) if order.account == *account_id => {
                Ok(order)
            }
            _ => Err(ApiError::NotFound(format!("backorder {id} not found"))),
        }
    }
}

fn domain_pb(domain: &AssignedDomain) -> pb::Domain {
    pb::Domain {
        domain: domain.domain.clone(),
        domain_unicode: domain.domain_unicode.clone(),
        account_id: domain.account.to_string(),
        backorder_id: domain.order_id.to_string(),
        auth_code: domain.auth_code.clone(),
        assign_time: Some(timestamp(domain.assigned_at)),
        registrar: domain.registrar.clone(),
    }
}

impl BackorderApi {
    /// A create retried with a request id already used: the first answer, whatever the
    /// validation would say now (finalization may have passed since). The same id with
    /// another domain or class is a conflict.
    async fn retried_create(
        &self,
        key: &IdempotencyKey,
        domain: &str,
        class: BackorderClass,
    ) -> ApiResult<Option<pb::CreateBackorderResponse>> {
        let Some((order, open)) = self
            .ctx
            .store
            .backorder_for_request(key)
            .await
            .map_err(ApiError::from)?
        else {
            return Ok(None);
        };
        let same_domain = DomainName::parse(domain).is_ok_and(|name| name.ascii() == order.domain);
        if !same_domain || order.class != class {
            return Err(ApiError::AlreadyExists {
                field: "request_id".into(),
                rule: format!(
                    "{:?} was already used for a different request",
                    key.request_id
                ),
            });
        }
        Ok(Some(pb::CreateBackorderResponse {
            backorder: Some(backorder_pb(&order)),
            open_orders_for_domain: i32::try_from(open).unwrap_or(i32::MAX),
            existing: true,
        }))
    }
}

fn order_id(text: &str) -> ApiResult<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::invalid("backorder_id", "must be a backorder id such as \"10700\"")
        })
}

pub fn status_pb(status: Status) -> pb::BackorderStatus {
    match status {
        Status::Requested => pb::BackorderStatus::Requested,
        Status::Active => pb::BackorderStatus::Active,
        Status::Processing => pb::BackorderStatus::Processing,
        Status::Successful => pb::BackorderStatus::Successful,
        Status::AuctionPending => pb::BackorderStatus::AuctionPending,
        Status::AuctionWon => pb::BackorderStatus::AuctionWon,
        Status::AuctionLost => pb::BackorderStatus::AuctionLost,
        Status::Failed => pb::BackorderStatus::Failed,
        Status::Cancelled => pb::BackorderStatus::Cancelled,
    }
}

pub fn reason_pb(reason: Option<FailureReason>) -> pb::FailureReason {
    match reason {
        None => pb::FailureReason::Unspecified,
        Some(FailureReason::Unfunded) => pb::FailureReason::Unfunded,
        Some(FailureReason::NotCaught) => pb::FailureReason::NotCaught,
        Some(FailureReason::LostToPriority) => pb::FailureReason::LostToPriority,
        Some(FailureReason::PaymentDefault) => pb::FailureReason::PaymentDefault,
        Some(FailureReason::DomainNotDropped) => pb::FailureReason::DomainNotDropped,
    }
}

fn class_pb(class: BackorderClass) -> pb::BackorderClass {
    match class {
        BackorderClass::Backorder => pb::BackorderClass::Backorder,
        BackorderClass::LiteBackorder => pb::BackorderClass::Litebackorder,
    }
}

fn contacts_pb(contacts: &Contacts) -> pb::Contacts {
    pb::Contacts {
        owner: contacts.owner.clone(),
        admin: contacts.admin.clone(),
        tech: contacts.tech.clone(),
        billing: contacts.billing.clone(),
    }
}

fn contacts_in(contacts: Option<pb::Contacts>) -> Contacts {
    let c = contacts.unwrap_or_default();
    Contacts {
        owner: c.owner.trim().to_string(),
        admin: c.admin.trim().to_string(),
        tech: c.tech.trim().to_string(),
        billing: c.billing.trim().to_string(),
    }
}

pub fn backorder_pb(order: &Backorder) -> pb::Backorder {
    let times = match order.schedule {
        Schedule::Listed(times) => Some(times),
        _ => None,
    };
    pb::Backorder {
        id: order.id.to_string(),
        account_id: order.account.to_string(),
        domain: order.domain.clone(),
        domain_unicode: order.domain_unicode.clone(),
        tld: order.tld.clone(),
        class: class_pb(order.class) as i32,
        status: status_pb(order.status) as i32,
        failure_reason: reason_pb(order.failure_reason) as i32,
        price: Some(money(order.price)),
        contacts: Some(contacts_pb(&order.contacts)),
        auth_code_wish: order.auth_code_wish.clone(),
        extensions: order.extensions.clone().into_iter().collect(),
        client_reference: order.client_reference.clone(),
        drop_time: times.map(|t| timestamp(t.drop_time)),
        finalization_time: times.map(|t| timestamp(t.finalization_at)),
        lock_time: times.map(|t| timestamp(t.lock_from)),
        create_time: Some(timestamp(order.created_at)),
        update_time: Some(timestamp(order.updated_at)),
        auction_id: order
            .auction_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

impl From<PlacementError> for ApiError {
    fn from(error: PlacementError) -> Self {
        match error {
            PlacementError::Invalid { field, rule } => ApiError::invalid(field, rule),
            PlacementError::Refused(message) => ApiError::FailedPrecondition(message),
            PlacementError::Store(store) => store.into(),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound(id) => ApiError::NotFound(format!("backorder {id} not found")),
            OrderError::IdempotencyConflict(_) => ApiError::AlreadyExists {
                field: "request_id".into(),
                rule: error
                    .to_string()
                    .trim_start_matches("request_id: ")
                    .to_string(),
            },
            OrderError::NotOpen { .. }
            | OrderError::FinalizationPassed { .. }
            | OrderError::DailyDealClosed { .. } => ApiError::FailedPrecondition(error.to_string()),
            OrderError::NotAllowed { .. } => ApiError::Internal(error.to_string()),
            OrderError::Ledger(ledger) => ledger.into(),
            OrderError::Store(store) => store.into(),
        }
    }
}

/// `*` any run, `?` one character, everything else literal: a LIKE pattern.
fn like_pattern(pattern: &str) -> ApiResult<Option<String>> {
    let pattern = pattern.trim().to_lowercase();
    if pattern.is_empty() {
        return Ok(None);
    }
    if pattern.len() > 253 || pattern.contains(['%', '_', '\\']) {
        return Err(ApiError::invalid(
            "domain_pattern",
            "must be a domain pattern with '*' and '?' wildcards (no '%', '_' or '\\')",
        ));
    }
    Ok(Some(pattern.replace('*', "%").replace('?', "_")))
}

#[tonic::async_trait]
impl BackorderService for BackorderApi {
    async fn create_backorder(
        &self,
        request: Request<pb::CreateBackorderRequest>,
    ) -> Result<Response<pb::CreateBackorderResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let account_id = account_in_scope(&caller, &req.account_id)?;
        let account = self
            .ctx
            .store
            .get_account(account_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("account {account_id} not found")))?;
        let class = class_from_pb("class", req.class)?;
        let idempotency =
            convert::optional_text(&req.request_id).map(|request_id| IdempotencyKey {
                scope: caller.idempotency_scope(),
                request_id,
            });
        if let Some(key) = &idempotency
            && let Some(answer) = self.retried_create(key, &req.domain, class).await?
        {
            return Ok(Response::new(answer));
        }
        let now = self.ctx.clock.now();
        let new = placement::validate(
            &self.ctx.store,
            &account,
            OrderRequest {
                domain: req.domain.clone(),
                class: Some(class),
                contacts: contacts_in(req.contacts),
                auth_code_wish: req.auth_code_wish.trim().to_string(),
                extensions: req.extensions.into_iter().collect(),
                client_reference: req.client_reference.trim().to_string(),
            },
            now,
        )
        .await
        .map_err(ApiError::from)?;
        if let Some(premium) = &self.premium {
            let is_premium = premium
                .is_premium(&new.domain, now)
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            if is_premium {
                return Err(ApiError::invalid(
                    "domain",
                    format!(
                        "{} is a registry premium name and cannot be backordered",
                        new.domain
                    ),
                )
                .into());
            }
        }
        let placed = self
            .ctx
            .store
            .create_backorder(
                new,
                idempotency,
                req.allow_duplicate.unwrap_or(true),
                &caller.actor(),
                now,
            )
            .await
            .map_err(ApiError::from)?;
        let (order, open, existing) = match placed {
            Placement::Created {
                order,
                open_for_domain,
            } => (order, open_for_domain, false),
            Placement::Existing {
                order,
                open_for_domain,
            } => (order, open_for_domain, true),
        };
        Ok(Response::new(pb::CreateBackorderResponse {
            backorder: Some(backorder_pb(&order)),
            open_orders_for_domain: i32::try_from(open).unwrap_or(i32::MAX),
            existing,
        }))
    }

    async fn get_backorder(
        &self,
        request: Request<pb::GetBackorderRequest>,
    ) -> Result<Response<pb::Backorder>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let order = self
            .visible_order(&caller, &request.get_ref().backorder_id)
            .await?;
        Ok(Response::new(backorder_pb(&order)))
    }

    async fn list_backorders(
        &self,
        request: Request<pb::ListBackordersRequest>,
    ) -> Result<Response<pb::ListBackordersResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let account = match (&caller, req.account_id.trim()) {
            (Caller::Operator { .. }, "") => None,
            _ => Some(account_in_scope(&caller, &req.account_id)?),
        };
        super::convert::at_most("statuses", req.statuses.len(), MAX_STATUS_ENTRIES)?;
        let mut statuses = Vec::new();
        for value in &req.statuses {
            let status = pb::BackorderStatus::try_from(*value)
                .ok()
                .and_then(|s| Status::ALL.into_iter().find(|x| status_pb(*x) == s))
                .ok_or_else(|| {
                    ApiError::invalid("statuses", format!("{value} is not a backorder status"))
                })?;
            statuses.push(status);
        }
        let class = match pb::BackorderClass::try_from(req.class) {
            Ok(pb::BackorderClass::Unspecified) => None,
            _ => Some(class_from_pb("class", req.class)?),
        };
        let (order_by, descending) = match pb::BackorderOrderBy::try_from(req.order_by) {
            Ok(pb::BackorderOrderBy::Unspecified | pb::BackorderOrderBy::CreateTime) => {
                (OrderBy::CreateTime, false)
            }
            Ok(pb::BackorderOrderBy::CreateTimeDesc) => (OrderBy::CreateTime, true),
            Ok(pb::BackorderOrderBy::FinalizationTime) => (OrderBy::FinalizationTime, false),
            Ok(pb::BackorderOrderBy::FinalizationTimeDesc) => (OrderBy::FinalizationTime, true),
            Ok(pb::BackorderOrderBy::Domain) => (OrderBy::Domain, false),
            Ok(pb::BackorderOrderBy::DomainDesc) => (OrderBy::Domain, true),
            Err(_) => return Err(ApiError::invalid("order_by", "is not a known order").into()),
        };
        let limit = page_size(req.page_size)?;
        let offset = page_offset(&req.page_token)?;
        let (orders, total) = self
            .ctx
            .store
            .list_backorders(BackorderFilter {
                account,
                statuses,
                class,
                domain_like: like_pattern(&req.domain_pattern)?,
                order_by,
                descending,
                offset,
                limit,
            })
            .await
            .map_err(ApiError::from)?;
        let next = offset + limit;
        Ok(Response::new(pb::ListBackordersResponse {
            next_page_token: if i64::from(next) < total {
                next.to_string()
            } else {
                String::new()
            },
            backorders: orders.iter().map(backorder_pb).collect(),
            total_size: total,
        }))
    }

    async fn cancel_backorder(
        &self,
        request: Request<pb::CancelBackorderRequest>,
    ) -> Result<Response<pb::Backorder>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let order = self
            .visible_order(&caller, &request.get_ref().backorder_id)
            .await?;
        let cancelled = self
            .ctx
            .store
            .cancel_backorder(order.id, &caller.actor(), self.ctx.clock.now())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(backorder_pb(&cancelled)))
    }

    async fn pay_backorder(
        &self,
        request: Request<pb::PayBackorderRequest>,
    ) -> Result<Response<pb::Backorder>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let order = self
            .visible_order(&caller, &request.get_ref().backorder_id)
            .await?;
        let idempotency = convert::optional_text(&request.get_ref().request_id)
            .map(|id| request_id(&id))
            .transpose()?
            .map(|request_id| IdempotencyKey {
                scope: caller.idempotency_scope(),
                request_id,
            });
        let paid = self
            .ctx
            .store
            .pay_backorder(order.id, idempotency, &caller.actor(), self.ctx.clock.now())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(backorder_pb(&paid)))
    }

    async fn update_backorder(
        &self,
        request: Request<pb::UpdateBackorderRequest>,
    ) -> Result<Response<pb::Backorder>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let order = self.visible_order(&caller, &req.backorder_id).await?;
        let contacts = req.contacts.map(|c| contacts_in(Some(c)));
        let auth = req.auth_code_wish.map(|a| a.trim().to_string());
        for text in contacts
            .iter()
            .flat_map(|c| [&c.owner, &c.admin, &c.tech, &c.billing])
            .chain(auth.as_ref())
        {
            if text.chars().count() > 255 || text.contains(['\n', '\r']) {
                return Err(ApiError::invalid(
                    "contacts",
                    "each field must be one line of at most 255 characters",
                )
                .into());
            }
        }
        let updated = self
            .ctx
            .store
            .update_backorder(
                order.id,
                contacts,
                auth,
                &caller.actor(),
                self.ctx.clock.now(),
            )
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(backorder_pb(&updated)))
    }

    async fn list_domains(
        &self,
        request: Request<pb::ListDomainsRequest>,
    ) -> Result<Response<pb::ListDomainsResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let message = request.get_ref();
        let account = match (&caller, message.account_id.trim()) {
            (Caller::Operator { .. }, "") => None,
            _ => Some(account_in_scope(&caller, &message.account_id)?),
        };
        let limit = page_size(message.page_size)?;
        let offset = page_offset(&message.page_token)?;
        let (domains, total) = self
            .ctx
            .store
            .list_domains(account, offset, limit)
            .await
            .map_err(ApiError::from)?;
        let seen = i64::from(offset) + i64::try_from(domains.len()).unwrap_or(i64::MAX);
        Ok(Response::new(pb::ListDomainsResponse {
            domains: domains.iter().map(domain_pb).collect(),
            next_page_token: if seen < total {
                seen.to_string()
            } else {
                String::new()
            },
        }))
    }

    async fn get_domain(
        &self,
        request: Request<pb::GetDomainRequest>,
    ) -> Result<Response<pb::Domain>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let name = DomainName::parse(&request.get_ref().domain)
            .map_err(|e| ApiError::invalid("domain", e.to_string()))?;
        let assigned = self
            .ctx
            .store
            .get_domain(name.ascii())
            .await
            .map_err(ApiError::from)?;
        match (assigned, &caller) {
            (Some(domain), Caller::Operator { .. }) => Ok(Response::new(domain_pb(&domain))),
            (Some(domain), Caller::Account { account_id, .. }) if domain.account == *account_id => {
                Ok(Response::new(domain_pb(&domain)))
            }
            // Another account's domain looks absent.
            _ => Err(ApiError::NotFound(format!(
                "domain {} is not assigned to this account",
                name.ascii()
            ))
            .into()),
        }
    }

    async fn convert_idn(
        &self,
        request: Request<pb::ConvertIdnRequest>,
    ) -> Result<Response<pb::ConvertIdnResponse>, GrpcStatus> {
        self.ctx.caller(&request).await?;
        super::convert::at_most("domains", request.get_ref().domains.len(), MAX_CONVERSIONS)?;
        let mut conversions = Vec::new();
        for (i, domain) in request.get_ref().domains.iter().enumerate() {
            let name = DomainName::parse(domain).map_err(|e| {
                ApiError::invalid(
                    &format!("domains[{i}]"),
                    format!("{}: {e}", crate::domain::quote(domain)),
                )
            })?;
            conversions.push(pb::convert_idn_response::Conversion {
                ace: name.ascii().to_string(),
                idn: name.unicode().to_string(),
            });
        }
        Ok(Response::new(pb::ConvertIdnResponse { conversions }))
    }
}
