//! Each command of spec/hexonet-api.md: parameters to one use case's input, its result to
//! properties.

use super::errors::use_case_reply;
use super::params::{Params, parse_datetime};
use super::reply::{Code, NO_DATE, Reply, date};
use super::request::Credentials;
use crate::domain::account::Caller;
use crate::domain::catalog::BackorderClass;
use crate::domain::drop_list::filter::parse_zone;
use crate::domain::drop_list::{
    Catenation, DropQuery, Filter, FinalizationPoint, Keyword, KeywordMatch, LabelFilter,
    LabelRegex, OrderBy as DropOrderBy, Paging,
};
use crate::domain::lifecycle::{Schedule, Status};
use crate::domain::name::DomainName;
use crate::domain::quote;
use crate::store::orders::{Backorder, Contacts, OrderBy};
use crate::usecases::auctions::{AuctionState, BidderStatus};
use crate::usecases::orders::{ListOrders, PlaceOrder, UpdateOrder};
use crate::usecases::{UseCases, optional_request_id};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Default and largest `LIMIT` of `QueryDomainApplicationList`.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// The commands, by their name in upper case.
pub async fn run(
    use_cases: &UseCases,
    caller: &Caller,
    credentials: &Credentials,
    command: &str,
    params: &BTreeMap<String, String>,
) -> Reply {
    let result = match command.to_ascii_uppercase().as_str() {
        "ADDDOMAINAPPLICATION" => add(use_cases, caller, params).await,
        "STATUSDOMAINAPPLICATION" => status(use_cases, caller, params).await,
        "DELETEDOMAINAPPLICATION" => delete(use_cases, caller, params).await,
        "PAYDOMAINAPPLICATION" => pay(use_cases, caller, params).await,
        "MODIFYDOMAINAPPLICATION" => modify(use_cases, caller, params).await,
        "QUERYDOMAINAPPLICATIONLIST" => list(use_cases, caller, params).await,
        "QUERYDOMAINPENDINGDELETELIST" => pending_delete(use_cases, caller, params).await,
        "STATUSACCOUNT" | "QUERYACCOUNTBALANCE" => account(use_cases, caller).await,
        "CONVERTIDN" => convert_idn(use_cases, caller, params),
        "CHECKAUTHENTICATION" => Ok(Reply::success()),
        "STARTSESSION" => return start_session(use_cases, caller, params, false).await,
        "ENDSESSION" | "STOPSESSION" => end_session(use_cases, credentials).await,
        _ => Err(Reply::error(
            Code::InvalidCommand,
            format!("{} is not a command of this API", quote(command)),
        )),
    };
    result.unwrap_or_else(|reply| reply)
}

type Answer = Result<Reply, Reply>;

fn application_id(params: &Params<'_>) -> Result<i64, Reply> {
    let text = params.required("APPLICATION")?;
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Reply::error(
                Code::InvalidSyntax,
                format!(
                    "APPLICATION: must be an application id such as 10700, got {}",
                    quote(text)
                ),
            )
        })
}

/// `BACKORDER`, `LITEBACKORDER`, or the answer's own form `COM_BACKORDER`.
fn class(text: &str) -> Result<BackorderClass, Reply> {
    let upper = text.to_ascii_uppercase();
    let bare = upper.rsplit('_').next().unwrap_or_default();
    BackorderClass::from_db(bare).ok_or_else(|| {
        Reply::error(
            Code::InvalidSyntax,
            format!(
                "CLASS: must be BACKORDER or LITEBACKORDER, got {}",
                quote(text)
            ),
        )
    })
}

/// `OWNERCONTACT0` as a handle, or its flattened fields (`OWNERCONTACT0FIRSTNAME`, ...)
/// kept as one `KEY=value; ...` line.
fn contact(params: &BTreeMap<String, String>, role: &str) -> Result<Option<String>, Reply> {
    let key = format!("{role}CONTACT0");
    let mut parts = Vec::new();
    let mut handle = None;
    for (name, value) in params.range(key.clone()..) {
        let Some(rest) = name.strip_prefix(&key) else {
            break;
        };
        if value.is_empty() {
            continue;
        }
        if rest.is_empty() {
            handle = Some(value.clone());
        } else if rest.chars().all(|c| c.is_ascii_alphabetic()) {
            parts.push(format!("{rest}={value}"));
        }
    }
    let text = match (handle, parts.is_empty()) {
        (Some(handle), true) => handle,
        (Some(_), false) => {
            return Err(Reply::error(
                Code::InvalidSyntax,
                format!("{key}: give a contact handle or its fields, not both"),
            ));
        }
        (None, false) => parts.join("; "),
        (None, true) => return Ok(None),
    };
    if text.chars().count() > 255 {
        return Err(Reply::error(
            Code::InvalidSyntax,
            format!("{key}: at most 255 characters"),
        ));
    }
    Ok(Some(text))
}

fn contacts(params: &BTreeMap<String, String>) -> Result<Option<Contacts>, Reply> {
    let [owner, admin, tech, billing] = [
        contact(params, "OWNER")?,
        contact(params, "ADMIN")?,
        contact(params, "TECH")?,
        contact(params, "BILLING")?,
    ];
    if owner.is_none() && admin.is_none() && tech.is_none() && billing.is_none() {
        return Ok(None);
    }
    Ok(Some(Contacts {
        owner: owner.unwrap_or_default(),
        admin: admin.unwrap_or_default(),
        tech: tech.unwrap_or_default(),
        billing: billing.unwrap_or_default(),
    }))
}

async fn add(uc: &UseCases, caller: &Caller, all: &BTreeMap<String, String>) -> Answer {
    let params = Params::new(all);
    let lite = params.flag("X-BACKORDER-LITE")?.unwrap_or(false);
    // `X-BACKORDER-LITE=1` makes any order lite; otherwise CLASS says which.
    let class = match (params.optional("CLASS"), lite) {
        (Some(text), true) => class(text).map(|_| BackorderClass::LiteBackorder)?,
        (None, true) => BackorderClass::LiteBackorder,
        (Some(text), false) => class(text)?,
        (None, false) => return Err(Reply::error(Code::MissingAttribute, "CLASS")),
    };
    let domain = params.required("DOMAIN")?;
    DomainName::parse(domain).map_err(|error| {
        Reply::error(
            Code::InvalidSyntax,
            format!("DOMAIN: {} is not a domain name: {error}", quote(domain)),
        )
    })?;
    let extensions = all
        .iter()
        .filter(|(key, value)| {
            key.starts_with("X-") && *key != "X-BACKORDER-LITE" && !value.is_empty()
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    // HEXONET's protocol has no idempotency key; `REQUESTID` (our addition) lets a client
    // retry a lost reply without placing and holding twice, as gRPC's `request_id` does.
    let request_id = optional_request_id(params.optional("REQUESTID").unwrap_or_default())
        .map_err(use_case_reply)?;
    let placed = uc
        .place_order(
            caller,
            PlaceOrder {
                account: None,
                domain: domain.to_string(),
                class,
                contacts: contacts(all)?.unwrap_or_default(),
                auth_code_wish: params.optional("AUTH").unwrap_or_default().to_string(),
                extensions,
                client_reference: String::new(),
                request_id,
                allow_duplicate: params.flag("NEW")?.unwrap_or(true),
            },
        )
        .await
        .map_err(use_case_reply)?;
    let mut reply = Reply::success();
    order_properties(&mut reply, &placed.order, caller);
    Ok(reply)
}

async fn status(uc: &UseCases, caller: &Caller, all: &BTreeMap<String, String>) -> Answer {
    let id = application_id(&Params::new(all))?;
    let order = uc.get_order(caller, id).await.map_err(use_case_reply)?;
    let mut reply = Reply::success();
    order_properties(&mut reply, &order, caller);
    let times = match order.schedule {
        Schedule::Listed(times) => Some(times),
        _ => None,
    };
    reply.set(
        "FINALIZATIONDATE",
        times.map_or(NO_DATE.to_string(), |t| date(t.finalization_at)),
    );
    reply.set(
        "DROPDATE",
        times.map_or(NO_DATE.to_string(), |t| date(t.drop_time)),
    );
    if let Some(auction_id) = order.auction_id {
        let auction = uc
            .get_auction(caller, auction_id, Some(order.id))
            .await
            .map_err(use_case_reply)?;
        let state = match auction.state {
            AuctionState::Scheduled => "SCHEDULED",
            AuctionState::Open => "OPEN",
            AuctionState::AwaitingPayment => "AWAITING-PAYMENT",
            AuctionState::Settled => "SETTLED",
        };
        reply.set("AUCTION-STATUS", state);
        reply.set("AUCTION-STARTDATE", date(auction.start_time));
        reply.set("AUCTION-ENDDATE", date(auction.end_time));
        reply.set("AUCTION-CURRENCY", auction.current_price.currency.code());
        reply.set("AUCTION-MINIMUMBID", auction.opening_bid.amount_string());
        if let Some(next) = auction.minimum_next_bid {
            reply.set("AUCTION-MINIMUMNEXTBID", next.amount_string());
        }
        reply.set("AUCTION-BESTBID", auction.current_price.amount_string());
        reply.set("AUCTION-NUMBEROFBIDS", auction.number_of_bids.to_string());
        reply.set(
            "AUCTION-NUMBEROFBIDDERS",
            auction.number_of_bidders.to_string(),
        );
        if let Some(status) = auction.bidder_status {
            let status = match status {
                BidderStatus::Leading => "LEADING",
                BidderStatus::Outbid => "OUTBID",
                BidderStatus::NoBid => "NOBID",
                BidderStatus::Won => "WON",
                BidderStatus::Lost => "LOST",
            };
            reply.set("AUCTION-BIDDERSTATUS", status);
        }
        reply.set("AUCTION-PRICE", auction.current_price.amount_string());
    }
    Ok(reply)
}

async fn delete(uc: &UseCases, caller: &Caller, all: &BTreeMap<String, String>) -> Answer {
    let id = application_id(&Params::new(all))?;
    let order = uc.cancel_order(caller, id).await.map_err(use_case_reply)?;
    let mut reply = Reply::success();
    reply.set("DOMAIN", &order.domain);
    reply.set("APPLICATION", order.id.to_string());
    reply.set("STATUS", status_name(order.status));
    Ok(reply)
}

async fn pay(uc: &UseCases, caller: &Caller, all: &BTreeMap<String, String>) -> Answer {
    let id = application_id(&Params::new(all))?;
    let order = uc
        .pay_order(caller, id, None)
        .await
        .map_err(use_case_reply)?;
    let mut reply = Reply::success();
    order_properties(&mut reply, &order, caller);
    Ok(reply)
}

async fn modify(uc: &UseCases, caller: &Caller, all: &BTreeMap<String, String>) -> Answer {
    let params = Params::new(all);
    let id = application_id(&params)?;
    let order = uc
        .update_order(
            caller,
            UpdateOrder {
                id,
                contacts: contacts(all)?,
                auth_code_wish: params.optional("AUTH").map(str::to_string),
            },
        )
        .await
        .map_err(use_case_reply)?;
    let mut reply = Reply::success();
    order_properties(&mut reply, &order, caller);
    Ok(reply)
}

async fn list(uc: &UseCases, caller: &Caller, all: &BTreeMap<String, String>) -> Answer {
    let params = Params::new(all);
    let first = params.int("FIRST", 0, i64::from(i32::MAX))?.unwrap_or(0);
    let limit = params.int("LIMIT", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let (order_by, descending) = match params
        .optional("ORDERBY")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("CREATEDDATE") => (OrderBy::CreateTime, false),
        Some("CREATEDDATEDESC") => (OrderBy::CreateTime, true),
        Some("FINALIZATIONDATE") => (OrderBy::FinalizationTime, false),
        Some("FINALIZATIONDATEDESC") => (OrderBy::FinalizationTime, true),
        Some("DOMAIN") => (OrderBy::Domain, false),
        Some("DOMAINDESC") => (OrderBy::Domain, true),
        Some(other) => {
            return Err(Reply::error(
                Code::InvalidSyntax,
                format!(
                    "ORDERBY: must be CREATEDDATE, FINALIZATIONDATE or DOMAIN (DESC after any), \
                     got {}",
                    quote(other)
                ),
            ));
        }
    };
    let statuses = params
        .list("STATUS")?
        .into_iter()
        .map(|text| {
            status_from_name(text).ok_or_else(|| {
                Reply::error(
                    Code::InvalidSyntax,
                    format!("STATUS: {} is not an application status", quote(text)),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let class = params.optional("CLASS").map(class).transpose()?;
    // `%` is HEXONET's wildcard; `*` and `?` ours.
    let pattern = params
        .optional("DOMAIN")
        .unwrap_or_default()
        .replace('%', "*");
    let (orders, total) = uc
        .list_orders(
            caller,
            ListOrders {
                account: None,
                statuses,
                class,
                domain_pattern: pattern,
                order_by,
                descending,
                offset: u32::try_from(first).unwrap_or(u32::MAX),
                limit: u32::try_from(limit).unwrap_or(1),
            },
        )
        .await
        .map_err(use_case_reply)?;
    let mut reply = Reply::success();
    for column in [
        "APPLICATION",
        "CLASS",
        "DOMAIN",
        "DOMAINUMLAUT",
        "STATUS",
        "CREATEDDATE",
        "UPDATEDDATE",
        "FINALIZATIONDATE",
    ] {
        reply.push("COLUMN", column);
    }
    page_properties(&mut reply, first, limit, orders.len(), total);
    for order in &orders {
        reply.push("APPLICATION", order.id.to_string());
        reply.push("CLASS", class_name(order));
        reply.push("DOMAIN", &order.domain);
        reply.push("DOMAINUMLAUT", &order.domain_unicode);
        reply.push("STATUS", status_name(order.status));
        reply.push("CREATEDDATE", date(order.created_at));
        reply.push("UPDATEDDATE", date(order.updated_at));
        reply.push("FINALIZATIONDATE", finalization(order));
    }
    Ok(reply)
}

/// `FIRST`, `LAST`, `COUNT`, `LIMIT`, `TOTAL` of one page (`LAST = FIRST + COUNT - 1`).
fn page_properties(reply: &mut Reply, first: i64, limit: i64, count: usize, total: i64) {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    reply.set("FIRST", first.to_string());
    reply.set("LAST", (first + count - 1).to_string());
    reply.set("COUNT", count.to_string());
    reply.set("LIMIT", limit.to_string());
    reply.set("TOTAL", total.to_string());
}

async fn pending_delete(uc: &UseCases, caller: &Caller, all: &BTreeMap<String, String>) -> Answer {
    let params = Params::new(all);
    let query = drop_query(&params)?;
    let first = params.int("FIRST", 0, i64::from(i32::MAX))?.unwrap_or(0);
    let limit = params.int("LIMIT", 1, 1000)?.unwrap_or(0);
    let paging = Paging::parse(first, limit).map_err(|e| {
        Reply::error(
            Code::InvalidSyntax,
            format!("{}: {}", e.field.to_uppercase(), e.rule),
        )
    })?;
    let page = uc
        .query_drop_list(caller, &query, paging)
        .await
        .map_err(use_case_reply)?;
    let mut reply = Reply::success();
    for column in [
        "DOMAIN",
        "FINALIZATIONDATE",
        "DELETIONDATE",
        "SCORE",
        "SUBCLASS",
    ] {
        reply.push("COLUMN", column);
    }
    page_properties(
        &mut reply,
        first,
        i64::from(paging.limit),
        page.entries.len(),
        i64::try_from(page.total).unwrap_or(i64::MAX),
    );
    for entry in &page.entries {
        reply.push("DOMAIN", &entry.domain);
        reply.push("FINALIZATIONDATE", date(entry.finalization_at));
        reply.push("DELETIONDATE", date(entry.drop_time));
        reply.push("SCORE", entry.features.score.to_string());
        reply.push("SUBCLASS", entry.zone.to_ascii_uppercase());
    }
    Ok(reply)
}

fn syntax(field: &str, rule: impl std::fmt::Display) -> Reply {
    Reply::error(Code::InvalidSyntax, format!("{field}: {rule}"))
}

/// The pending-delete filters of spec/pending-delete.md, by their HEXONET names.
fn drop_query(params: &Params<'_>) -> Result<DropQuery, Reply> {
    let field_error =
        |e: crate::domain::drop_list::FieldError| syntax(&e.field.to_ascii_uppercase(), e.rule);
    let keywords = params
        .list("KEYWORD")?
        .iter()
        .enumerate()
        .map(|(i, k)| Keyword::parse(&format!("KEYWORD{i}"), k))
        .collect::<Result<Vec<_>, _>>()
        .map_err(field_error)?;
    let catenation = match params
        .optional("KEYWORDCATENATION")
        .map(str::to_ascii_uppercase)
    {
        None => Catenation::And,
        Some(text) => Catenation::parse(&text)
            .ok_or_else(|| syntax("KEYWORDCATENATION", "must be AND or OR"))?,
    };
    let keyword_match = match params.optional("KEYWORDMATCH").map(str::to_ascii_uppercase) {
        None => KeywordMatch::Any,
        Some(text) => KeywordMatch::parse(&text)
            .ok_or_else(|| syntax("KEYWORDMATCH", "must be BEGIN, END or ANY"))?,
    };
    let zones = params
        .list("ZONE")?
        .iter()
        .enumerate()
        .map(|(i, z)| parse_zone(&format!("ZONE{i}"), z))
        .collect::<Result<Vec<_>, _>>()
        .map_err(field_error)?;
    let filters = params
        .list("FILTER")?
        .iter()
        .map(|f| {
            Filter::parse(&f.to_ascii_uppercase())
                .ok_or_else(|| syntax("FILTER", "must be NOHYPHENS, NONUMBERS or NOIDNS"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let label = LabelFilter {
        keywords,
        catenation,
        keyword_match,
        zones,
        filters,
    };
    let deletion_days = params
        .list("DELETIONDAY")?
        .iter()
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| syntax("DELETIONDAY", format!("{} is not YYYY-MM-DD", quote(d))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let finalization_points = params
        .list("FINALIZATIONDATE")?
        .iter()
        .map(|d| match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(day) => Ok(FinalizationPoint::Day(day)),
            Err(_) => parse_datetime(d)
                .map(FinalizationPoint::At)
                .ok_or_else(|| super::params::date_error("FINALIZATIONDATE", d)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let numbers = |key: &str| -> Result<Vec<i32>, Reply> {
        params
            .list(key)?
            .iter()
            .map(|n| {
                n.parse::<i32>()
                    .map_err(|_| syntax(key, format!("{} is not a whole number", quote(n))))
            })
            .collect()
    };
    let order = match params
        .optional("ORDERBY")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("NAME") => DropOrderBy::Name,
        Some("NAMEDESC") => DropOrderBy::NameDesc,
        Some("DELETIONDAY") => DropOrderBy::DeletionDay,
        Some("DELETIONDAYDESC") => DropOrderBy::DeletionDayDesc,
        Some("FINALIZATIONDATE") => DropOrderBy::FinalizationDate,
        Some("FINALIZATIONDATEDESC") => DropOrderBy::FinalizationDateDesc,
        Some("SCORE") => DropOrderBy::Score,
        Some("SCOREDESC") => DropOrderBy::ScoreDesc,
        Some("RANDOM") => DropOrderBy::Random(params.int("SEED", 0, i64::MAX)?.unwrap_or(0)),
        Some(other) => {
            return Err(syntax(
                "ORDERBY",
                format!(
                    "must be NAME, DELETIONDAY, FINALIZATIONDATE, SCORE (DESC after any) or \
                     RANDOM, got {}",
                    quote(other)
                ),
            ));
        }
    };
    let query = DropQuery {
        label,
        deletion_days,
        finalization_points,
        min_finalization: params.datetime("MINFINALIZATIONDATE")?,
        max_finalization: params.datetime("MAXFINALIZATIONDATE")?,
        lengths: numbers("LENGTH")?,
        scores: numbers("SCORE")?,
        regexp: params
            .optional("REGEXP")
            .map(LabelRegex::new)
            .transpose()
            .map_err(|e| syntax("REGEXP", e.rule))?,
        order,
    };
    query.validate().map_err(field_error)?;
    Ok(query)
}

async fn account(uc: &UseCases, caller: &Caller) -> Answer {
    let balance = uc.balance(caller, None).await.map_err(use_case_reply)?.view;
    let mut reply = Reply::success();
    reply.set("ACCOUNT", balance.account.to_string());
    reply.set("CURRENCY", balance.balance.currency.code());
    reply.set("AMOUNT", balance.balance.amount_string());
    reply.set("BALANCE", balance.balance.amount_string());
    reply.set("RESERVED", balance.reserved.amount_string());
    reply.set("AVAILABLE", balance.available.amount_string());
    reply.set("CREDITLIMIT", "0.00");
    Ok(reply)
}

fn convert_idn(uc: &UseCases, caller: &Caller, all: &BTreeMap<String, String>) -> Answer {
    let params = Params::new(all);
    let domains: Vec<String> = params
        .list("DOMAIN")?
        .into_iter()
        .map(str::to_string)
        .collect();
    if domains.is_empty() {
        return Err(Reply::error(Code::MissingAttribute, "DOMAIN0"));
    }
    let converted = uc.convert_idn(caller, &domains).map_err(use_case_reply)?;
    let mut reply = Reply::success();
    for conversion in converted {
        reply.push("ACE", conversion.ace);
        reply.push("IDN", conversion.idn);
    }
    Ok(reply)
}

/// `StartSession` (and CentralNic Reseller's `persistent=1` login, which answers `SESSIONID`
/// too).
pub async fn start_session(
    uc: &UseCases,
    caller: &Caller,
    all: &BTreeMap<String, String>,
    centralnic: bool,
) -> Reply {
    let answer = async {
        let timeout = Params::new(all).int("TIMEOUT", 60, 86_400)?;
        let secret = uc
            .start_session(caller, timeout.and_then(|t| u32::try_from(t).ok()))
            .await
            .map_err(use_case_reply)?;
        let mut reply = Reply::success();
        reply.set("SESSION", &secret);
        if centralnic {
            reply.set("SESSIONID", &secret);
        }
        Ok::<_, Reply>(reply)
    };
    answer.await.unwrap_or_else(|reply| reply)
}

async fn end_session(uc: &UseCases, credentials: &Credentials) -> Answer {
    let Some(session) = &credentials.session else {
        return Err(Reply::error(Code::MissingAttribute, "s_session"));
    };
    uc.end_session(session).await.map_err(use_case_reply)?;
    Ok(Reply::success())
}

/// HEXONET spells statuses with hyphens (`AUCTION-PENDING`).
fn status_name(status: Status) -> String {
    status.as_str().replace('_', "-")
}

fn status_from_name(text: &str) -> Option<Status> {
    let wanted = text.trim().to_ascii_uppercase().replace('_', "-");
    Status::ALL
        .into_iter()
        .find(|status| status_name(*status) == wanted)
}

/// `COM_BACKORDER`, `CO.UK_LITEBACKORDER`.
fn class_name(order: &Backorder) -> String {
    format!(
        "{}_{}",
        order.tld.to_ascii_uppercase(),
        order.class.as_str()
    )
}

fn finalization(order: &Backorder) -> String {
    match order.schedule {
        Schedule::Listed(times) => date(times.finalization_at),
        _ => NO_DATE.to_string(),
    }
}

/// The order's properties as `AddDomainApplication` answers them.
fn order_properties(reply: &mut Reply, order: &Backorder, caller: &Caller) {
    reply.set("APPLICATION", order.id.to_string());
    reply.set("CLASS", class_name(order));
    reply.set("DOMAIN", &order.domain);
    reply.set("DOMAINUMLAUT", &order.domain_unicode);
    reply.set("STATUS", status_name(order.status));
    if let Some(reason) = order.failure_reason {
        reply.set("STATUSREASON", reason.as_str());
    }
    reply.set("PRICE", order.price.amount_string());
    reply.set("CURRENCY", order.price.currency.code());
    reply.set("CREATEDDATE", date(order.created_at));
    reply.set("UPDATEDDATE", date(order.updated_at));
    for (name, value) in [
        ("OWNERCONTACT0", &order.contacts.owner),
        ("ADMINCONTACT0", &order.contacts.admin),
        ("TECHCONTACT0", &order.contacts.tech),
        ("BILLINGCONTACT0", &order.contacts.billing),
    ] {
        if !value.is_empty() {
            reply.set(name, value);
        }
    }
    if !order.auth_code_wish.is_empty() {
        reply.set("AUTH", &order.auth_code_wish);
    }
    for (key, value) in &order.extensions {
        reply.set(key, value);
    }
    reply.set("USER", user(caller));
}

fn user(caller: &Caller) -> String {
    if let Some(user) = caller.login_user() {
        return user.to_string();
    }
    match caller {
        Caller::Account { account_id, .. } => account_id.to_string(),
        Caller::Operator { .. } | Caller::Shell => "operator".to_string(),
    }
}
