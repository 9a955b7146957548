//! Wire types of `DropListService` to and from drop-list domain values, validating on the way
//! in: every error names the request field and the rule.

use super::convert::{at_most, from_timestamp, timestamp};
use super::error::{ApiError, ApiResult};
use crate::domain::drop_list::filter::parse_zone;
use crate::domain::drop_list::filter::{MAX_KEYWORDS, MAX_ZONES};
use crate::domain::drop_list::{
    Catenation, DropQuery, FieldError, Filter, FinalizationPoint, Keyword, KeywordMatch,
    LabelFilter, LabelRegex, OrderBy,
};
use crate::drop_list::ImportReport;
use crate::store::DropListEntry;
use crate::store::drop_list::DropAlert;
use backorder_proto::backorder::v1 as pb;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Entries of `filters` (three kinds; repeats are harmless up to this bound).
pub const MAX_FILTERS: usize = 10;
/// Entries of `deletion_days` and of `finalization_dates`.
pub const MAX_DAYS: usize = 100;
/// Entries of `lengths` (1..20) and of `scores` (1..10): each value once.
pub const MAX_LENGTH_ENTRIES: usize = 20;
pub const MAX_SCORE_ENTRIES: usize = 10;

/// A domain-layer field error, with the request path in front of the field name.
pub fn field_error(prefix: &str, error: FieldError) -> ApiError {
    ApiError::invalid(&format!("{prefix}{}", error.field), error.rule)
}

fn catenation(field: &str, value: i32) -> ApiResult<Catenation> {
    match pb::KeywordCatenation::try_from(value) {
        Ok(pb::KeywordCatenation::Unspecified | pb::KeywordCatenation::And) => Ok(Catenation::And),
        Ok(pb::KeywordCatenation::Or) => Ok(Catenation::Or),
        Err(_) => Err(ApiError::invalid(field, format!("unknown value {value}"))),
    }
}

fn keyword_match(field: &str, value: i32) -> ApiResult<KeywordMatch> {
    match pb::KeywordMatch::try_from(value) {
        Ok(pb::KeywordMatch::Unspecified | pb::KeywordMatch::Any) => Ok(KeywordMatch::Any),
        Ok(pb::KeywordMatch::Begin) => Ok(KeywordMatch::Begin),
        Ok(pb::KeywordMatch::End) => Ok(KeywordMatch::End),
        Err(_) => Err(ApiError::invalid(field, format!("unknown value {value}"))),
    }
}

fn filter(field: &str, value: i32) -> ApiResult<Filter> {
    match pb::DropListFilter::try_from(value) {
        Ok(pb::DropListFilter::NoHyphens) => Ok(Filter::NoHyphens),
        Ok(pb::DropListFilter::NoNumbers) => Ok(Filter::NoNumbers),
        Ok(pb::DropListFilter::NoIdns) => Ok(Filter::NoIdns),
        _ => Err(ApiError::invalid(
            field,
            "must be NO_HYPHENS, NO_NUMBERS or NO_IDNS",
        )),
    }
}

fn order_by(value: i32, seed: i64) -> ApiResult<OrderBy> {
    use pb::DropListOrderBy as O;
    Ok(match O::try_from(value) {
        Ok(O::Unspecified | O::Name) => OrderBy::Name,
        Ok(O::NameDesc) => OrderBy::NameDesc,
        Ok(O::DeletionDay) => OrderBy::DeletionDay,
        Ok(O::DeletionDayDesc) => OrderBy::DeletionDayDesc,
        Ok(O::FinalizationDate) => OrderBy::FinalizationDate,
        Ok(O::FinalizationDateDesc) => OrderBy::FinalizationDateDesc,
        Ok(O::Score) => OrderBy::Score,
        Ok(O::ScoreDesc) => OrderBy::ScoreDesc,
        Ok(O::Random) => OrderBy::Random(seed),
        Err(_) => {
            return Err(ApiError::invalid(
                "query.order_by",
                format!("unknown value {value}"),
            ));
        }
    })
}

fn label_filter(
    prefix: &str,
    keywords: &[String],
    catenation_value: i32,
    match_value: i32,
    zones: &[String],
    filters: &[i32],
) -> ApiResult<LabelFilter> {
    at_most(&format!("{prefix}keywords"), keywords.len(), MAX_KEYWORDS)?;
    at_most(&format!("{prefix}zones"), zones.len(), MAX_ZONES)?;
    at_most(&format!("{prefix}filters"), filters.len(), MAX_FILTERS)?;
    let label = LabelFilter {
        keywords: keywords
            .iter()
            .enumerate()
            .map(|(i, k)| Keyword::parse(&format!("{prefix}keywords[{i}]"), k))
            .collect::<Result<_, _>>()
            .map_err(|e| field_error("", e))?,
        catenation: catenation(&format!("{prefix}keyword_catenation"), catenation_value)?,
        keyword_match: keyword_match(&format!("{prefix}keyword_match"), match_value)?,
        zones: zones
            .iter()
            .enumerate()
            .map(|(i, z)| parse_zone(&format!("{prefix}zones[{i}]"), z))
            .collect::<Result<_, _>>()
            .map_err(|e| field_error("", e))?,
        filters: filters
            .iter()
            .enumerate()
            .map(|(i, f)| filter(&format!("{prefix}filters[{i}]"), *f))
            .collect::<ApiResult<_>>()?,
    };
    label.validate(prefix).map_err(|e| field_error("", e))?;
    Ok(label)
}

fn day(field: &str, text: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            field,
            format!("{} is not a date YYYY-MM-DD", crate::domain::quote(text)),
        )
    })
}

fn finalization_point(field: &str, text: &str) -> ApiResult<FinalizationPoint> {
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(FinalizationPoint::Day(day));
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Ok(FinalizationPoint::At(at.and_utc()));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| FinalizationPoint::At(at.with_timezone(&Utc)))
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!(
                    "{} is not YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC) or RFC 3339",
                    crate::domain::quote(text)
                ),
            )
        })
}

/// The typed query; a missing query means "everything".
pub fn query_in(query: Option<&pb::DropListQuery>) -> ApiResult<DropQuery> {
    let default = pb::DropListQuery::default();
    let q = query.unwrap_or(&default);
    at_most("query.deletion_days", q.deletion_days.len(), MAX_DAYS)?;
    at_most(
        "query.finalization_dates",
        q.finalization_dates.len(),
        MAX_DAYS,
    )?;
    at_most("query.lengths", q.lengths.len(), MAX_LENGTH_ENTRIES)?;
    at_most("query.scores", q.scores.len(), MAX_SCORE_ENTRIES)?;
    let query = DropQuery {
        label: label_filter(
            "query.",
            &q.keywords,
            q.keyword_catenation,
            q.keyword_match,
            &q.zones,
            &q.filters,
        )?,
        deletion_days: q
            .deletion_days
            .iter()
            .enumerate()
            .map(|(i, d)| day(&format!("query.deletion_days[{i}]"), d))
            .collect::<ApiResult<_>>()?,
        finalization_points: q
            .finalization_dates
            .iter()
            .enumerate()
            .map(|(i, d)| finalization_point(&format!("query.finalization_dates[{i}]"), d))
            .collect::<ApiResult<_>>()?,
        min_finalization: q
            .min_finalization_time
            .as_ref()
            .map(|t| from_timestamp("query.min_finalization_time", t))
            .transpose()?,
        max_finalization: q
            .max_finalization_time
            .as_ref()
            .map(|t| from_timestamp("query.max_finalization_time", t))
            .transpose()?,
        lengths: q.lengths.clone(),
        scores: q.scores.clone(),
        regexp: (!q.regexp.is_empty())
            .then(|| LabelRegex::new(&q.regexp))
            .transpose()
            .map_err(|e| field_error("query.", e))?,
        order: order_by(q.order_by, q.random_seed)?,
    };
    query.validate().map_err(|e| field_error("query.", e))?;
    Ok(query)
}

pub fn entry_out(entry: &DropListEntry) -> pb::DropListEntry {
    let f = entry.features;
    pb::DropListEntry {
        domain: entry.domain.clone(),
        domain_unicode: entry.domain_unicode.clone(),
        label: entry.label.clone(),
        zone: entry.zone.clone(),
        drop_time: Some(timestamp(entry.drop_time)),
        finalization_time: Some(timestamp(entry.finalization_at)),
        length: f.length,
        digits: f.digits,
        hyphens: f.hyphens,
        non_ascii: f.non_ascii,
        idn: f.idn,
        score: f.score,
    }
}

/// The HEXONET line shape: `domain;YYYY-MM-DD HH:MM:SS` (A-label, UTC).
pub fn csv_line(entry: &DropListEntry) -> String {
    format!(
        "{};{}\n",
        entry.domain,
        entry.drop_time.format("%Y-%m-%d %H:%M:%S")
    )
}

pub fn alert_filter_in(alert: &pb::Alert) -> ApiResult<LabelFilter> {
    let filter = label_filter(
        "alert.",
        &alert.keywords,
        alert.keyword_catenation,
        alert.keyword_match,
        &alert.zones,
        &alert.filters,
    )?;
    if filter.keywords.is_empty() {
        return Err(ApiError::invalid(
            "alert.keywords",
            "at least one keyword is required",
        ));
    }
    Ok(filter)
}

pub fn alert_out(alert: &DropAlert) -> pb::Alert {
    let f = &alert.filter;
    pb::Alert {
        id: alert.id.to_string(),
        account_id: alert.account.0.to_string(),
        keywords: f.keywords.iter().map(|k| k.as_str().to_string()).collect(),
        keyword_match: match f.keyword_match {
            KeywordMatch::Any => pb::KeywordMatch::Any,
            KeywordMatch::Begin => pb::KeywordMatch::Begin,
            KeywordMatch::End => pb::KeywordMatch::End,
        } as i32,
        keyword_catenation: match f.catenation {
            Catenation::And => pb::KeywordCatenation::And,
            Catenation::Or => pb::KeywordCatenation::Or,
        } as i32,
        zones: f.zones.clone(),
        filters: f
            .filters
            .iter()
            .map(|x| match x {
                Filter::NoHyphens => pb::DropListFilter::NoHyphens as i32,
                Filter::NoNumbers => pb::DropListFilter::NoNumbers as i32,
                Filter::NoIdns => pb::DropListFilter::NoIdns as i32,
            })
            .collect(),
        create_time: Some(timestamp(alert.created_at)),
    }
}

/// An alert id: "7" or "alerts/7".
pub fn alert_id(text: &str) -> ApiResult<i64> {
    let text = text.trim();
    text.strip_prefix("alerts/")
        .unwrap_or(text)
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("alert_id", "must be an alert id such as \"7\""))
}

pub fn progress_out(report: &ImportReport, done: bool) -> pb::ImportProgress {
    let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    pb::ImportProgress {
        processed: to_i64(report.processed),
        total: to_i64(report.total),
        inserted: to_i64(report.inserted),
        updated: to_i64(report.updated),
        unchanged: to_i64(report.unchanged),
        removed: to_i64(report.removed),
        bad_lines: to_i64(report.bad_lines),
        errors: if done {
            report
                .errors
                .iter()
                .map(|e| pb::ImportLineError {
                    line: to_i64(e.line),
                    reason: e.reason.clone(),
                    content: e.content.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
        done,
    }
}
