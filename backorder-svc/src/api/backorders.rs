//! BackorderService: placing, reading, listing, cancelling, prepaying and changing orders.

use super::catalog::class_from_pb;
use super::convert::{self, money, page_offset, page_size, timestamp};
use super::error::{ApiError, ApiResult};
use super::{Context, account_id};
use crate::domain::catalog::BackorderClass;
use crate::domain::lifecycle::{FailureReason, Schedule, Status};
use crate::store::auctions::AssignedDomain;
use crate::store::orders::{Backorder, Contacts, OrderBy};
use crate::usecases::orders::{ListOrders, PlaceOrder, UpdateOrder};
use crate::usecases::{UseCases, optional_request_id};
use backorder_proto::backorder::v1 as pb;
use pb::backorder_service_server::BackorderService;
use tonic::{Request, Response, Status as GrpcStatus};

/// Names one `ConvertIdn` call converts.
const MAX_CONVERSIONS: usize = 1000;
/// Entries of `ListBackorders.statuses` (each status once is enough).
const MAX_STATUS_ENTRIES: usize = 20;

#[derive(Debug, Clone)]
pub struct BackorderApi {
    ctx: Context,
}

impl BackorderApi {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn uc(&self) -> &UseCases {
        &self.ctx.uc
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

#[tonic::async_trait]
impl BackorderService for BackorderApi {
    async fn create_backorder(
        &self,
        request: Request<pb::CreateBackorderRequest>,
    ) -> Result<Response<pb::CreateBackorderResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let order = PlaceOrder {
            account: account_id("account_id", &req.account_id)?,
            class: class_from_pb("class", req.class)?,
            domain: req.domain,
            contacts: contacts_in(req.contacts),
            auth_code_wish: req.auth_code_wish.trim().to_string(),
            extensions: req.extensions.into_iter().collect(),
            client_reference: req.client_reference.trim().to_string(),
            request_id: convert::optional_text(&req.request_id),
            allow_duplicate: req.allow_duplicate.unwrap_or(true),
        };
        let placed = self.uc().place_order(&caller, order).await?;
        Ok(Response::new(pb::CreateBackorderResponse {
            backorder: Some(backorder_pb(&placed.order)),
            open_orders_for_domain: i32::try_from(placed.open_for_domain).unwrap_or(i32::MAX),
            existing: placed.existing,
        }))
    }

    async fn get_backorder(
        &self,
        request: Request<pb::GetBackorderRequest>,
    ) -> Result<Response<pb::Backorder>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let id = order_id(&request.get_ref().backorder_id)?;
        let order = self.uc().get_order(&caller, id).await?;
        Ok(Response::new(backorder_pb(&order)))
    }

    async fn list_backorders(
        &self,
        request: Request<pb::ListBackordersRequest>,
    ) -> Result<Response<pb::ListBackordersResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let account = account_id("account_id", &req.account_id)?;
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
            .uc()
            .list_orders(
                &caller,
                ListOrders {
                    account,
                    statuses,
                    class,
                    domain_pattern: req.domain_pattern,
                    order_by,
                    descending,
                    offset,
                    limit,
                },
            )
            .await?;
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
        let id = order_id(&request.get_ref().backorder_id)?;
        let cancelled = self.uc().cancel_order(&caller, id).await?;
        Ok(Response::new(backorder_pb(&cancelled)))
    }

    async fn pay_backorder(
        &self,
        request: Request<pb::PayBackorderRequest>,
    ) -> Result<Response<pb::Backorder>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let id = order_id(&request.get_ref().backorder_id)?;
        let request_id = optional_request_id(&request.get_ref().request_id)?;
        let paid = self.uc().pay_order(&caller, id, request_id).await?;
        Ok(Response::new(backorder_pb(&paid)))
    }

    async fn update_backorder(
        &self,
        request: Request<pb::UpdateBackorderRequest>,
    ) -> Result<Response<pb::Backorder>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let update = UpdateOrder {
            id: order_id(&req.backorder_id)?,
            contacts: req.contacts.map(|c| contacts_in(Some(c))),
            auth_code_wish: req.auth_code_wish.map(|a| a.trim().to_string()),
        };
        let updated = self.uc().update_order(&caller, update).await?;
        Ok(Response::new(backorder_pb(&updated)))
    }

    async fn list_domains(
        &self,
        request: Request<pb::ListDomainsRequest>,
    ) -> Result<Response<pb::ListDomainsResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let message = request.get_ref();
        let account = account_id("account_id", &message.account_id)?;
        let limit = page_size(message.page_size)?;
        let offset = page_offset(&message.page_token)?;
        let (domains, total) = self
            .uc()
            .list_domains(&caller, account, offset, limit)
            .await?;
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
        let domain = self
            .uc()
            .get_domain(&caller, &request.get_ref().domain)
            .await?;
        Ok(Response::new(domain_pb(&domain)))
    }

    async fn convert_idn(
        &self,
        request: Request<pb::ConvertIdnRequest>,
    ) -> Result<Response<pb::ConvertIdnResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        super::convert::at_most("domains", request.get_ref().domains.len(), MAX_CONVERSIONS)?;
        let conversions = self
            .uc()
            .convert_idn(&caller, &request.get_ref().domains)?
            .into_iter()
            .map(|c| pb::convert_idn_response::Conversion {
                ace: c.ace,
                idn: c.idn,
            })
            .collect();
        Ok(Response::new(pb::ConvertIdnResponse { conversions }))
    }
}
