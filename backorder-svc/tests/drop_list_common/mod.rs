//! Shared by the drop-list tests: a store per backend, list loading, and the reference
//! filter — the query semantics written plainly over a Vec, to compare the database with.

#![allow(dead_code)]

use backorder_svc::domain::drop_list::query::random_rank;
use backorder_svc::domain::drop_list::query::shuffle_key;
use backorder_svc::domain::drop_list::{
    Catenation, DropQuery, Filter, FinalizationPoint, KeywordMatch, OrderBy,
};
use backorder_svc::drop_list::source::{LineParse, SourceLine};
use backorder_svc::drop_list::{ImportReport, Scope, import_lines};
use backorder_svc::store::{DropListEntry, SharedStore};
use chrono::{DateTime, Duration, Utc};

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A database with the shipped catalog (zones and finalization leads).
pub async fn seeded(url: &str) -> SharedStore {
    let store = backorder_svc::store::connect(url).await.unwrap();
    let (tlds, prices) =
        backorder_svc::catalog::parse(backorder_svc::catalog::DEFAULT_CATALOG).unwrap();
    store.seed_catalog_once(&tlds, &prices).await.unwrap();
    store
}

pub fn line(n: u64, domain: &str, drop_time: DateTime<Utc>) -> SourceLine {
    SourceLine {
        line: n,
        content: format!("{domain};{drop_time}"),
        parse: LineParse::Entry {
            domain: domain.to_string(),
            drop_time,
            window_end: None,
        },
    }
}

pub async fn import(
    store: &SharedStore,
    at: DateTime<Utc>,
    rows: &[(&str, DateTime<Utc>)],
    scope: Scope,
) -> ImportReport {
    let lines = rows
        .iter()
        .enumerate()
        .map(|(i, (d, t))| line(i as u64 + 1, d, *t))
        .collect();
    import_lines(store, at, lines, scope, &mut |_| {})
        .await
        .unwrap()
}

/// The query's rows in the query's order, computed the plain way.
pub fn reference(all: &[DropListEntry], query: &DropQuery, at: DateTime<Utc>) -> Vec<String> {
    let day = |t: DateTime<Utc>| t.date_naive();
    let mut rows: Vec<&DropListEntry> = all
        .iter()
        .filter(|e| e.removed_at.is_none() && e.drop_time > at)
        .filter(|e| {
            let label = &query.label;
            let hits: Vec<bool> = label
                .keywords
                .iter()
                .map(|k| match label.keyword_match {
                    KeywordMatch::Any => e.label.contains(k.as_str()),
                    KeywordMatch::Begin => e.label.starts_with(k.as_str()),
                    KeywordMatch::End => e.label.ends_with(k.as_str()),
                })
                .collect();
            hits.is_empty()
                || match label.catenation {
                    Catenation::And => hits.iter().all(|h| *h),
                    Catenation::Or => hits.iter().any(|h| *h),
                }
        })
        .filter(|e| query.label.zones.is_empty() || query.label.zones.contains(&e.zone))
        .filter(|e| {
            query.label.filters.iter().all(|f| match f {
                Filter::NoHyphens => !e.label.contains('-'),
                Filter::NoNumbers => !e.label.chars().any(|c| c.is_ascii_digit()),
                Filter::NoIdns => e.label.is_ascii(),
            })
        })
        .filter(|e| {
            query.deletion_days.is_empty() || query.deletion_days.contains(&day(e.drop_time))
        })
        .filter(|e| {
            query.finalization_points.is_empty()
                || query.finalization_points.iter().any(|p| match p {
                    FinalizationPoint::Day(d) => day(e.finalization_at) == *d,
                    FinalizationPoint::At(t) => e.finalization_at == *t,
                })
        })
        .filter(|e| query.min_finalization.is_none_or(|m| e.finalization_at > m))
        .filter(|e| query.max_finalization.is_none_or(|m| e.finalization_at < m))
        .filter(|e| {
            query.lengths.is_empty() || query.lengths.contains(&(e.label.chars().count() as i32))
        })
        .filter(|e| query.scores.is_empty() || query.scores.contains(&e.features.score))
        .filter(|e| query.regexp.as_ref().is_none_or(|r| r.is_match(&e.label)))
        .collect();
    rows.sort_by(|a, b| {
        let name = a.domain.cmp(&b.domain);
        match query.order {
            OrderBy::Name => name,
            OrderBy::NameDesc => b.domain.cmp(&a.domain),
            OrderBy::DeletionDay => a.drop_time.cmp(&b.drop_time).then(name),
            OrderBy::DeletionDayDesc => b.drop_time.cmp(&a.drop_time).then(name),
            OrderBy::FinalizationDate => a.finalization_at.cmp(&b.finalization_at).then(name),
            OrderBy::FinalizationDateDesc => b.finalization_at.cmp(&a.finalization_at).then(name),
            OrderBy::Score => a.features.score.cmp(&b.features.score).then(name),
            OrderBy::ScoreDesc => b.features.score.cmp(&a.features.score).then(name),
            OrderBy::Random(seed) => random_rank(seed, shuffle_key(&a.domain))
                .cmp(&random_rank(seed, shuffle_key(&b.domain)))
                .then(name),
        }
    });
    rows.into_iter().map(|e| e.domain.clone()).collect()
}

/// Every stored row, read back one by one (not through the query code under test).
pub async fn stored(store: &SharedStore, domains: &[String]) -> Vec<DropListEntry> {
    let mut rows = Vec::new();
    for domain in domains {
        if let Some(row) = store.drop_entry(domain).await.unwrap() {
            rows.push(row);
        }
    }
    rows
}

pub fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

/// One instantiation per backend; each test gets a fresh database.
#[macro_export]
macro_rules! drop_list_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = backorder_svc::testkit::sqlite();
                    let store = $crate::drop_list_common::seeded(&db.url).await;
                    super::$test(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = backorder_svc::testkit::postgres().await else { return };
                    let store = $crate::drop_list_common::seeded(&db.url).await;
                    super::$test(store).await;
                }
            )*
        }
    };
}
