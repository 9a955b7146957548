//! Conversions between the wire types of `backorder.v1` and domain values, validating on
//! the way in.

use super::error::{ApiError, ApiResult};
use crate::domain::money::{Currency, Money};
use backorder_proto::backorder::v1 as pb;
use chrono::{DateTime, Utc};

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn from_timestamp(field: &str, ts: &prost_types::Timestamp) -> ApiResult<DateTime<Utc>> {
    u32::try_from(ts.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(ts.seconds, nanos))
        .ok_or_else(|| ApiError::invalid(field, "must be a valid timestamp"))
}

pub fn money(value: Money) -> pb::Money {
    pb::Money {
        currency_code: value.currency.code().to_string(),
        amount: value.amount_string(),
    }
}

pub fn currency(field: &str, code: &str) -> ApiResult<Currency> {
    if code.is_empty() {
        return Err(ApiError::invalid(
            field,
            "is required (ISO 4217 code such as \"USD\")",
        ));
    }
    Currency::parse(code).map_err(|e| ApiError::money(field, e))
}

/// Parses a required Money field; `positive` refuses zero and negative amounts.
pub fn money_in(field: &str, value: Option<&pb::Money>, positive: bool) -> ApiResult<Money> {
    let value = value.ok_or_else(|| ApiError::invalid(field, "is required"))?;
    let currency = currency(&format!("{field}.currency_code"), &value.currency_code)?;
    let parse = if positive {
        Money::parse_positive
    } else {
        Money::parse
    };
    parse(currency, &value.amount).map_err(|e| ApiError::money(&format!("{field}.amount"), e))
}

/// Default and maximum page sizes of every list call.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;

pub fn page_size(size: i32) -> ApiResult<u32> {
    match size {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(ApiError::invalid("page_size", "must not be negative")),
        n => Ok(u32::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE)),
    }
}

/// Page tokens are the last key of the previous page; opaque to clients.
pub fn page_token_id(token: &str) -> ApiResult<Option<i64>> {
    if token.is_empty() {
        return Ok(None);
    }
    token
        .parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .map(Some)
        .ok_or_else(|| ApiError::invalid("page_token", "is not a token this service issued"))
}

/// Offset paging: the token is the number of items already returned.
pub fn page_offset(token: &str) -> ApiResult<u32> {
    let offset = page_token_id(token)?.unwrap_or(0);
    u32::try_from(offset).map_err(|_| ApiError::invalid("page_token", "is out of range"))
}

/// The next page token: the last key when the page was full, else empty (no more pages).
pub fn next_token<T, K: ToString>(items: &[T], limit: u32, key: impl Fn(&T) -> K) -> String {
    if items.len() == limit as usize {
        items
            .last()
            .map(|last| key(last).to_string())
            .unwrap_or_default()
    } else {
        String::new()
    }
}

pub fn optional_text(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Repeated fields are bounded: a request with more entries than `max` is refused as bad
/// input naming the field and the limit (10,000 filters once became one SQL expression too
/// large for SQLite, an `INTERNAL`).
pub fn at_most(field: &str, len: usize, max: usize) -> ApiResult<()> {
    if len > max {
        return Err(ApiError::invalid(
            field,
            format!("at most {max} entries, got {len}"),
        ));
    }
    Ok(())
}
