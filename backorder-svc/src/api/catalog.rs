//! CatalogService: TLDs and prices. Anyone with a key reads; the operator writes.

use super::Context;
use super::convert::{self, money, money_in, next_token, page_size, page_token_id};
use super::error::{ApiError, ApiResult};
use crate::domain::account::PriceTier;
use crate::domain::catalog::{BackorderClass, Tld, TldName};
use crate::domain::lifecycle::MAX_LEAD_SECS;
use crate::store::{PageRequest, Price, PriceFilter, PriceKey};
use backorder_proto::backorder::v1 as pb;
use pb::catalog_service_server::CatalogService;
use std::time::Duration;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct CatalogApi {
    ctx: Context,
}

impl CatalogApi {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}

fn class_pb(class: BackorderClass) -> pb::BackorderClass {
    match class {
        BackorderClass::Backorder => pb::BackorderClass::Backorder,
        BackorderClass::LiteBackorder => pb::BackorderClass::Litebackorder,
    }
}

pub fn class_from_pb(field: &str, value: i32) -> ApiResult<BackorderClass> {
    match pb::BackorderClass::try_from(value) {
        Ok(pb::BackorderClass::Backorder) => Ok(BackorderClass::Backorder),
        Ok(pb::BackorderClass::Litebackorder) => Ok(BackorderClass::LiteBackorder),
        _ => Err(ApiError::invalid(
            field,
            "must be BACKORDER_CLASS_BACKORDER or BACKORDER_CLASS_LITEBACKORDER",
        )),
    }
}

fn duration_pb(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

/// A TLD lead: whole seconds from 0 to `MAX_LEAD` (365 days). Longer leads are typos, and
/// a lead of thousands of years would push a domain's times out of range.
fn duration_in(
    field: &str,
    value: Option<&prost_types::Duration>,
    default: Duration,
) -> ApiResult<Duration> {
    match value {
        None => Ok(default),
        Some(d) if d.seconds < 0 || d.nanos != 0 => Err(ApiError::invalid(
            field,
            "must be a non-negative whole number of seconds",
        )),
        Some(d) if d.seconds > MAX_LEAD_SECS => Err(ApiError::invalid(
            field,
            format!(
                "must be at most 365 days ({MAX_LEAD_SECS}s); {}s was given",
                d.seconds
            ),
        )),
        Some(d) => Ok(Duration::from_secs(d.seconds.unsigned_abs())),
    }
}

fn tld_pb(tld: &Tld) -> pb::Tld {
    pb::Tld {
        name: tld.name.as_str().to_string(),
        first_come_first_served: tld.first_come_first_served,
        third_level_allowed: tld.third_level_allowed,
        required_extensions: tld.required_extensions.clone(),
        classes: tld.classes.iter().map(|c| class_pb(*c) as i32).collect(),
        finalization_lead: Some(duration_pb(tld.finalization_lead)),
        lock_lead: Some(duration_pb(tld.lock_lead)),
        daily_deals: tld.daily_deals,
    }
}

fn tld_name(field: &str, text: &str) -> ApiResult<TldName> {
    TldName::parse(text).ok_or_else(|| {
        ApiError::invalid(
            field,
            "must be a public suffix in A-label form such as \"com\" or \"co.uk\"",
        )
    })
}

/// Entries of `Tld.required_extensions` and of `Tld.classes`.
const MAX_REQUIRED_EXTENSIONS: usize = 20;
const MAX_CLASS_ENTRIES: usize = 4;
/// Longest required extension name.
const MAX_EXTENSION_NAME: usize = 64;

fn tld_in(value: &pb::Tld) -> ApiResult<Tld> {
    convert::at_most("tld.classes", value.classes.len(), MAX_CLASS_ENTRIES)?;
    convert::at_most(
        "tld.required_extensions",
        value.required_extensions.len(),
        MAX_REQUIRED_EXTENSIONS,
    )?;
    let mut classes = Vec::new();
    for (i, class) in value.classes.iter().enumerate() {
        let class = class_from_pb(&format!("tld.classes[{i}]"), *class)?;
        if !classes.contains(&class) {
            classes.push(class);
        }
    }
    if classes.is_empty() {
        classes = BackorderClass::ALL.to_vec();
    }
    let mut extensions = Vec::new();
    for (i, ext) in value.required_extensions.iter().enumerate() {
        let ext = ext.trim().to_ascii_uppercase();
        if !ext.starts_with("X-") || ext.len() < 3 || ext.len() > MAX_EXTENSION_NAME {
            return Err(ApiError::invalid(
                &format!("tld.required_extensions[{i}]"),
                "must be an extension field name of at most 64 characters starting with \"X-\" (a trailing '*' matches a prefix)",
            ));
        }
        extensions.push(ext);
    }
    Ok(Tld {
        name: TldName::validate(&value.name).map_err(|rule| ApiError::invalid("tld.name", rule))?,
        first_come_first_served: value.first_come_first_served,
        third_level_allowed: value.third_level_allowed,
        required_extensions: extensions,
        classes,
        finalization_lead: duration_in(
            "tld.finalization_lead",
            value.finalization_lead.as_ref(),
            Tld::DEFAULT_FINALIZATION_LEAD,
        )?,
        lock_lead: duration_in(
            "tld.lock_lead",
            value.lock_lead.as_ref(),
            Tld::DEFAULT_LOCK_LEAD,
        )?,
        daily_deals: value.daily_deals,
    })
}

fn price_pb(price: &Price) -> pb::Price {
    pb::Price {
        price_tier: price.key.tier.as_str().to_string(),
        tld: price.key.tld.as_str().to_string(),
        class: class_pb(price.key.class) as i32,
        amount: Some(money(price.amount)),
    }
}

/// The documented rule of a new tier name (`PriceTier::validate`); lookups and deletions
/// take any name a price may have been stored under.
pub fn new_tier(field: &str, text: &str) -> ApiResult<PriceTier> {
    PriceTier::validate(text).ok_or_else(|| {
        ApiError::invalid(field, format!("{} {TIER_RULE}", crate::domain::quote(text)))
    })
}

pub const TIER_RULE: &str =
    "must be a lower-case letter and up to 31 more of a-z, 0-9, '_' and '-' (like \"gold-2\")";

fn tier_in(field: &str, text: &str) -> ApiResult<PriceTier> {
    PriceTier::parse(text.trim()).ok_or_else(|| {
        ApiError::invalid(field, "must be 1 to 32 characters of a-z, 0-9, '_' and '-'")
    })
}

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn list_tlds(
        &self,
        request: Request<pb::ListTldsRequest>,
    ) -> Result<Response<pb::ListTldsResponse>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let limit = page_size(req.page_size)?;
        let after = convert::optional_text(&req.page_token);
        let (tlds, total) = self
            .ctx
            .uc
            .list_tlds(&caller, PageRequest { after, limit })
            .await?;
        Ok(Response::new(pb::ListTldsResponse {
            next_page_token: next_token(&tlds, limit, |t| t.name.as_str().to_string()),
            tlds: tlds.iter().map(tld_pb).collect(),
            total_size: total,
        }))
    }

    async fn get_tld(
        &self,
        request: Request<pb::GetTldRequest>,
    ) -> Result<Response<pb::Tld>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let name = tld_name("name", &request.get_ref().name)?;
        let tld = self.ctx.uc.get_tld(&caller, &name).await?;
        Ok(Response::new(tld_pb(&tld)))
    }

    async fn upsert_tld(
        &self,
        request: Request<pb::UpsertTldRequest>,
    ) -> Result<Response<pb::Tld>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let value = request
            .into_inner()
            .tld
            .ok_or_else(|| ApiError::invalid("tld", "is required"))?;
        let tld = tld_in(&value)?;
        self.ctx.uc.upsert_tld(&caller, &tld).await?;
        Ok(Response::new(tld_pb(&tld)))
    }

    async fn delete_tld(
        &self,
        request: Request<pb::DeleteTldRequest>,
    ) -> Result<Response<pb::DeleteTldResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let name = tld_name("name", &request.get_ref().name)?;
        self.ctx.uc.delete_tld(&caller, &name).await?;
        Ok(Response::new(pb::DeleteTldResponse {}))
    }

    async fn list_prices(
        &self,
        request: Request<pb::ListPricesRequest>,
    ) -> Result<Response<pb::ListPricesResponse>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let filter = PriceFilter {
            tier: convert::optional_text(&req.price_tier),
            tld: convert::optional_text(&req.tld).map(|t| t.to_ascii_lowercase()),
            currency: convert::optional_text(&req.currency_code),
        };
        let limit = page_size(req.page_size)?;
        let offset = page_token_id(&req.page_token)?.map(|o| u32::try_from(o).unwrap_or(u32::MAX));
        let prices = self
            .ctx
            .uc
            .list_prices(
                &caller,
                filter,
                PageRequest {
                    after: offset,
                    limit,
                },
            )
            .await?;
        let next = if prices.len() == limit as usize {
            (offset.unwrap_or(0) + limit).to_string()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListPricesResponse {
            prices: prices.iter().map(price_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn set_price(
        &self,
        request: Request<pb::SetPriceRequest>,
    ) -> Result<Response<pb::Price>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let value = request
            .into_inner()
            .price
            .ok_or_else(|| ApiError::invalid("price", "is required"))?;
        let amount = money_in("price.amount", value.amount.as_ref(), true)?;
        let tld = tld_name("price.tld", &value.tld)?;
        let price = Price {
            key: PriceKey {
                tier: new_tier("price.price_tier", &value.price_tier)?,
                tld,
                class: class_from_pb("price.class", value.class)?,
                currency: amount.currency,
            },
            amount,
        };
        self.ctx.uc.set_price(&caller, &price).await?;
        Ok(Response::new(price_pb(&price)))
    }

    async fn delete_price(
        &self,
        request: Request<pb::DeletePriceRequest>,
    ) -> Result<Response<pb::DeletePriceResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let key = PriceKey {
            tier: tier_in("price_tier", &req.price_tier)?,
            tld: tld_name("tld", &req.tld)?,
            class: class_from_pb("class", req.class)?,
            currency: convert::currency("currency_code", &req.currency_code)?,
        };
        self.ctx.uc.delete_price(&caller, &key).await?;
        Ok(Response::new(pb::DeletePriceResponse {}))
    }
}
