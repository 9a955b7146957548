//! Drop-list queries against the reference filter (tests/drop_list_common): each parameter
//! alone on a fixed list, then random lists and random combined queries (proptest), on both
//! backends. `DROP_LIST_PROPTEST_CASES` sets the number of random cases (default 128).

mod drop_list_common;

use backorder_svc::domain::drop_list::{
    Catenation, DropQuery, Filter, FinalizationPoint, Keyword, KeywordMatch, LabelRegex, OrderBy,
};
use backorder_svc::drop_list::Scope;
use backorder_svc::store::SharedStore;
use chrono::{DateTime, Duration, Utc};
use drop_list_common::{hours, import, now, reference, seeded, stored};
use proptest::prelude::*;

const ZONES: [&str; 4] = ["com", "net", "co.uk", "org"];

/// Runs the query through the store, page by page when asked, and checks it against the
/// reference: the page, TOTAL, and the paging arithmetic.
async fn check(store: &SharedStore, all: &[String], query: &DropQuery, first: u64, limit: u32) {
    let rows = stored(store, all).await;
    check_rows(store, &rows, query, first, limit).await;
}

/// `check` over rows already read back.
async fn check_rows(
    store: &SharedStore,
    rows: &[backorder_svc::store::DropListEntry],
    query: &DropQuery,
    first: u64,
    limit: u32,
) {
    let expected = reference(rows, query, now());
    let page = store
        .query_drop_list(query, first, limit, now())
        .await
        .unwrap();
    let got: Vec<String> = page.entries.iter().map(|e| e.domain.clone()).collect();
    let want: Vec<String> = expected
        .iter()
        .skip(first as usize)
        .take(limit as usize)
        .cloned()
        .collect();
    assert_eq!(got, want, "query {query:?} first {first} limit {limit}");
    assert_eq!(page.total as usize, expected.len(), "total of {query:?}");
}

fn kw(text: &str) -> Keyword {
    Keyword::parse("keywords", text).unwrap()
}

fn at(hours_from_now: i64) -> DateTime<Utc> {
    now() + Duration::hours(hours_from_now)
}

/// A fixed list with something for every parameter to select and something to leave out.
async fn fixed_list(store: &SharedStore) -> Vec<String> {
    let names = [
        ("car.com", 3),
        ("carpark.com", 5),
        ("bestcar.net", 7),
        ("blue-car.com", 26),
        ("car4you.org", 30),
        ("bücher.com", 31),
        ("shop.co.uk", 50),
        ("parkcar.co.uk", 52),
        ("garden.net", 75),
        ("zz9.com", 76),
        ("old.com", -2),
    ];
    let rows: Vec<(&str, DateTime<Utc>)> = names.iter().map(|(d, h)| (*d, at(*h))).collect();
    import(store, now() - hours(3), &rows, Scope::Partial).await;
    store
        .mark_drop_removed(&["carpark.com".to_string()], now())
        .await
        .unwrap();
    let mut domains: Vec<String> = stored(
        store,
        &names
            .iter()
            .map(|(d, _)| {
                backorder_svc::domain::drop_list::DropName::parse(d)
                    .unwrap()
                    .domain
            })
            .collect::<Vec<_>>(),
    )
    .await
    .into_iter()
    .map(|e| e.domain)
    .collect();
    domains.sort();
    domains
}

fn each_parameter() -> Vec<(&'static str, DropQuery)> {
    let q = DropQuery::default;
    let with_label = |f: &dyn Fn(&mut DropQuery)| {
        let mut query = q();
        f(&mut query);
        query
    };
    let day = |h: i64| at(h).date_naive();
    vec![
        (
            "keywords ANY",
            with_label(&|q| q.label.keywords = vec![kw("car")]),
        ),
        (
            "keywords BEGIN",
            with_label(&|q| {
                q.label.keywords = vec![kw("car")];
                q.label.keyword_match = KeywordMatch::Begin;
            }),
        ),
        (
            "keywords END",
            with_label(&|q| {
                q.label.keywords = vec![kw("car")];
                q.label.keyword_match = KeywordMatch::End;
            }),
        ),
        (
            "keywords AND",
            with_label(&|q| q.label.keywords = vec![kw("car"), kw("park")]),
        ),
        (
            "keywords OR",
            with_label(&|q| {
                q.label.keywords = vec![kw("garden"), kw("shop")];
                q.label.catenation = Catenation::Or;
            }),
        ),
        (
            "zones",
            with_label(&|q| q.label.zones = vec!["co.uk".into(), "net".into()]),
        ),
        (
            "deletion days",
            with_label(&|q| q.deletion_days = vec![day(26), day(75)]),
        ),
        (
            "finalization day",
            with_label(&|q| q.finalization_points = vec![FinalizationPoint::Day(day(50))]),
        ),
        (
            "finalization instant",
            with_label(&|q| {
                q.finalization_points = vec![FinalizationPoint::At(at(7) - Duration::hours(2))]
            }),
        ),
        (
            "min finalization",
            with_label(&|q| q.min_finalization = Some(at(30) - Duration::hours(2))),
        ),
        (
            "max finalization",
            with_label(&|q| q.max_finalization = Some(at(26) - Duration::hours(2))),
        ),
        ("lengths", with_label(&|q| q.lengths = vec![3, 6])),
        ("scores", with_label(&|q| q.scores = vec![10, 4])),
        (
            "no hyphens",
            with_label(&|q| q.label.filters = vec![Filter::NoHyphens]),
        ),
        (
            "no numbers",
            with_label(&|q| q.label.filters = vec![Filter::NoNumbers]),
        ),
        (
            "no IDNs",
            with_label(&|q| q.label.filters = vec![Filter::NoIdns]),
        ),
        (
            "regexp",
            with_label(&|q| q.regexp = Some(LabelRegex::new("^[a-c].*r$").unwrap())),
        ),
    ]
}

async fn each_parameter_alone_matches_the_reference(store: SharedStore) {
    let all = fixed_list(&store).await;
    let listed = reference(&stored(&store, &all).await, &DropQuery::default(), now()).len();
    // carpark.com is removed and old.com has dropped: neither is searchable.
    assert_eq!(listed, all.len() - 2);
    for (name, query) in each_parameter() {
        let expected = reference(&stored(&store, &all).await, &query, now()).len();
        assert!(
            expected > 0 && expected < listed,
            "{name}: the fixed list should let this parameter select some rows ({expected})"
        );
        check(&store, &all, &query, 0, 1000).await;
    }
    let orders = [
        OrderBy::Name,
        OrderBy::NameDesc,
        OrderBy::DeletionDay,
        OrderBy::DeletionDayDesc,
        OrderBy::FinalizationDate,
        OrderBy::FinalizationDateDesc,
        OrderBy::Score,
        OrderBy::ScoreDesc,
        OrderBy::Random(1),
        OrderBy::Random(2),
    ];
    for order in orders {
        let query = DropQuery {
            order,
            ..Default::default()
        };
        check(&store, &all, &query, 0, 1000).await;
        // Pages of three concatenate to the whole order: stable paging, RANDOM included.
        for first in (0..listed as u64).step_by(3) {
            check(&store, &all, &query, first, 3).await;
        }
    }
    let combined = DropQuery {
        order: OrderBy::ScoreDesc,
        lengths: vec![3, 7, 8],
        regexp: Some(LabelRegex::new("car").unwrap()),
        ..each_parameter()[0].1.clone()
    };
    check(&store, &all, &combined, 1, 2).await;
}

// ----- random lists and queries -----------------------------------------------------------

#[derive(Debug, Clone)]
struct Row {
    label: String,
    zone: usize,
    drop_hours: i64,
    half_hour: bool,
    removed: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::collection::vec(
            prop::sample::select(vec!['a', 'b', 'c', '1', '-', 'ü']),
            1..7,
        ),
        0..ZONES.len(),
        -6i64..80,
        any::<bool>(),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(chars, zone, drop_hours, half_hour, removed)| Row {
            label: chars.into_iter().collect(),
            zone,
            drop_hours,
            half_hour,
            removed,
        })
}

fn query() -> impl Strategy<Value = DropQuery> {
    let keywords = proptest::collection::vec(
        // Short keywords are only checked on the row; 3+ characters go through the trigram
        // indexes (SQLite FTS5, PostgreSQL pg_trgm), so both paths meet the reference.
        prop::sample::select(vec![
            "a", "b", "ab", "ba", "c1", "1", "ü", "-", "bc", "abc", "cab", "a-b", "üa1", "bcab",
            "1-ü", "aaa",
        ]),
        0..3,
    );
    let label = (
        keywords,
        any::<bool>(),
        0..3usize,
        prop::sample::subsequence(ZONES.to_vec(), 0..=2),
        prop::sample::subsequence(
            vec![Filter::NoHyphens, Filter::NoNumbers, Filter::NoIdns],
            0..=2,
        ),
    );
    let times = (
        proptest::collection::vec(-1i64..4, 0..2),
        proptest::collection::vec((any::<bool>(), -8i64..80), 0..2),
        proptest::option::of(-8i64..80),
        proptest::option::of(-8i64..80),
    );
    let numbers = (
        proptest::collection::vec(1i32..8, 0..3),
        proptest::collection::vec(1i32..=10, 0..3),
        proptest::option::of(prop::sample::select(vec![
            "^a",
            "b$",
            "a.b",
            "[0-9]",
            "ü",
            "^.{3}$",
            "^(ab|c)+$",
            // Required literals of 3+ characters narrow through the trigram indexes.
            "cab.*b$",
            "a-b",
            "^ü?abc",
        ])),
        0..10usize,
        any::<i64>(),
    );
    (label, times, numbers).prop_map(|(label, times, numbers)| {
        let (keywords, or, how, zones, filters) = label;
        let (days, points, min, max) = times;
        let (lengths, scores, regexp, order, seed) = numbers;
        let (min, max) = match (min, max) {
            (Some(a), Some(b)) if a >= b => (Some(a), None),
            other => other,
        };
        DropQuery {
            label: backorder_svc::domain::drop_list::LabelFilter {
                keywords: keywords.into_iter().map(kw).collect(),
                catenation: if or { Catenation::Or } else { Catenation::And },
                keyword_match: [KeywordMatch::Any, KeywordMatch::Begin, KeywordMatch::End][how],
                zones: zones.into_iter().map(str::to_string).collect(),
                filters,
            },
            deletion_days: days
                .into_iter()
                .map(|d| (now() + Duration::days(d)).date_naive())
                .collect(),
            finalization_points: points
                .into_iter()
                .map(|(whole_day, h)| {
                    if whole_day {
                        FinalizationPoint::Day(at(h).date_naive())
                    } else {
                        FinalizationPoint::At(at(h))
                    }
                })
                .collect(),
            min_finalization: min.map(at),
            max_finalization: max.map(at),
            lengths,
            scores,
            regexp: regexp.map(|p| LabelRegex::new(p).unwrap()),
            order: [
                OrderBy::Name,
                OrderBy::NameDesc,
                OrderBy::DeletionDay,
                OrderBy::DeletionDayDesc,
                OrderBy::FinalizationDate,
                OrderBy::FinalizationDateDesc,
                OrderBy::Score,
                OrderBy::ScoreDesc,
                OrderBy::Random(seed),
                OrderBy::Random(seed / 2),
            ][order],
        }
    })
}

/// Empties the list between cases (cheaper than a new database per case).
async fn clear(url: &str) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query("DELETE FROM drop_list")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query("DELETE FROM drop_list")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

async fn load(store: &SharedStore, rows: &[Row]) -> Vec<String> {
    let domains: Vec<(String, DateTime<Utc>)> = rows
        .iter()
        .map(|r| {
            let minutes = if r.half_hour { 30 } else { 0 };
            (
                format!("{}.{}", r.label, ZONES[r.zone]),
                at(r.drop_hours) + Duration::minutes(minutes),
            )
        })
        .collect();
    let pairs: Vec<(&str, DateTime<Utc>)> = domains.iter().map(|(d, t)| (d.as_str(), *t)).collect();
    // Imported ten hours back, so rows that have dropped by `now` are stored too.
    import(store, now() - hours(10), &pairs, Scope::Partial).await;
    let removed: Vec<String> = rows
        .iter()
        .zip(&domains)
        .filter(|(r, _)| r.removed)
        .filter_map(|(_, (d, _))| backorder_svc::domain::drop_list::DropName::parse(d).ok())
        .map(|n| n.domain)
        .collect();
    store
        .mark_drop_removed(&removed, now() - hours(10))
        .await
        .unwrap();
    // A label generated twice is one row.
    let mut all: Vec<String> = domains
        .iter()
        .filter_map(|(d, _)| backorder_svc::domain::drop_list::DropName::parse(d).ok())
        .map(|n| n.domain)
        .collect();
    all.sort();
    all.dedup();
    all
}

fn cases() -> u32 {
    std::env::var("DROP_LIST_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

fn random_queries_match_the_reference(url: String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(seeded(&url));
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        rows in proptest::collection::vec(row(), 0..40),
        queries in proptest::collection::vec((query(), 0u64..8, 1u32..12), 1..6),
    )| {
        runtime.block_on(async {
            clear(&url).await;
            let all = load(&store, &rows).await;
            for (query, first, limit) in &queries {
                check(&store, &all, query, *first, *limit).await;
            }
        });
    });
}

#[test]
fn sqlite_random_queries_match_the_reference() {
    let db = backorder_svc::testkit::sqlite();
    random_queries_match_the_reference(db.url.clone());
}

#[test]
fn postgres_random_queries_match_the_reference() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(backorder_svc::testkit::postgres()) else {
        return;
    };
    drop(runtime);
    random_queries_match_the_reference(db.url.clone());
}

// ----- the keyword indexes against the plain filter ------------------------------------

/// Labels made of a few syllables and a counter, so that trigrams repeat across many names
/// (the index has something to narrow) and some names hold a keyword in two places.
fn index_list() -> Vec<(String, DateTime<Utc>)> {
    const PARTS: [&str; 8] = ["car", "shop", "ca", "rs", "blue", "bü", "-", "9x"];
    let mut seed: u64 = 7;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    (0..600)
        .map(|i| {
            let mut label = String::new();
            for _ in 0..1 + next(3) {
                label.push_str(PARTS[next(PARTS.len() as u64) as usize]);
            }
            // A label may not start or end with a hyphen, nor hold `--` in positions 3-4.
            while label.contains("--") {
                label = label.replace("--", "-");
            }
            let label = format!("x{}{i}", label.trim_matches('-'));
            let zone = ZONES[next(ZONES.len() as u64) as usize];
            (format!("{label}.{zone}"), at(next(90) as i64 - 5))
        })
        .collect()
}

/// Every keyword mode and catenation, with keywords of 1 to 6 characters (those under 3
/// cannot use a trigram index and fall back to checking every searchable row), alone and
/// with other filters, paged: the store's answer (through the indexes) is the plain filter's.
async fn keyword_indexes_answer_what_a_scan_answers(store: SharedStore) {
    let list = index_list();
    let rows: Vec<(&str, DateTime<Utc>)> = list.iter().map(|(d, t)| (d.as_str(), *t)).collect();
    import(&store, now() - hours(6), &rows, Scope::Partial).await;
    let mut all: Vec<String> = list
        .iter()
        .map(|(d, _)| {
            backorder_svc::domain::drop_list::DropName::parse(d)
                .unwrap()
                .domain
        })
        .collect();
    all.sort();
    // Some rows removed (restored), so the index holds names the search must not return.
    let removed: Vec<String> = all.iter().step_by(7).cloned().collect();
    store.mark_drop_removed(&removed, now()).await.unwrap();
    let rows = stored(&store, &all).await;
    let keyword_sets: &[&[&str]] = &[
        &["car"],
        &["shop"],
        &["ca"],
        &["c"],
        &["rs"],
        &["carshop"],
        &["bü"],
        &["büca"],
        &["-c"],
        &["x9x"],
        &["car", "shop"],
        &["car", "ca"],
        &["ca", "rs"],
        &["blue", "bü", "car"],
        &["zzz"],
    ];
    let mut checked = 0;
    for keywords in keyword_sets {
        for how in [KeywordMatch::Any, KeywordMatch::Begin, KeywordMatch::End] {
            for catenation in [Catenation::And, Catenation::Or] {
                let mut query = DropQuery::default();
                query.label.keywords = keywords.iter().map(|k| kw(k)).collect();
                query.label.keyword_match = how;
                query.label.catenation = catenation;
                check_rows(&store, &rows, &query, 0, 1000).await;
                check_rows(&store, &rows, &query, 2, 5).await;
                query.label.zones = vec!["com".into(), "co.uk".into()];
                query.lengths = (5..=9).collect();
                query.order = OrderBy::ScoreDesc;
                check_rows(&store, &rows, &query, 0, 1000).await;
                query.label.filters = vec![Filter::NoIdns];
                query.regexp = Some(LabelRegex::new("[0-9]$").unwrap());
                check_rows(&store, &rows, &query, 1, 7).await;
                checked += 1;
            }
        }
    }
    assert_eq!(checked, keyword_sets.len() * 6);
    // The list has matches for the common keywords (the comparison is not all empty).
    let mut car = DropQuery::default();
    car.label.keywords = vec![kw("car")];
    let page = store.query_drop_list(&car, 0, 10, now()).await.unwrap();
    assert!(page.total > 50, "{}", page.total);
}

/// The trigram index follows every change of the list: rows deleted and imported again,
/// names restored and listed again, a page past the end still has its TOTAL.
async fn keyword_index_follows_changes(store: SharedStore) {
    let t = at(10);
    import(
        &store,
        now() - hours(1),
        &[("carshop.com", t), ("bluecar.net", t)],
        Scope::Partial,
    )
    .await;
    let mut query = DropQuery::default();
    query.label.keywords = vec![kw("car")];
    let names = |page: backorder_svc::store::drop_list::DropPage| -> Vec<String> {
        page.entries.into_iter().map(|e| e.domain).collect()
    };
    let page = store.query_drop_list(&query, 0, 10, now()).await.unwrap();
    assert_eq!(names(page), ["bluecar.net", "carshop.com"]);
    // Past the end: no row carries the count, TOTAL is still right.
    let page = store.query_drop_list(&query, 5, 10, now()).await.unwrap();
    assert_eq!((page.entries.len(), page.total), (0, 2));
    store
        .mark_drop_removed(&["carshop.com".to_string()], now())
        .await
        .unwrap();
    let page = store.query_drop_list(&query, 0, 10, now()).await.unwrap();
    assert_eq!(names(page), ["bluecar.net"]);
    // A full import of .com restores nothing else and lists carshop.com again.
    let report = import(
        &store,
        now(),
        &[("carshop.com", t), ("redcar.com", t)],
        Scope::FullForZonesSeen,
    )
    .await;
    assert_eq!((report.inserted, report.removed), (2, 0), "{report:?}");
    let page = store.query_drop_list(&query, 0, 10, now()).await.unwrap();
    assert_eq!(names(page), ["bluecar.net", "carshop.com", "redcar.com"]);
    store.refresh_drop_list_statistics().await.unwrap();
    let page = store.query_drop_list(&query, 0, 2, now()).await.unwrap();
    assert_eq!((page.entries.len(), page.total), (2, 3));
}

drop_list_suite!(
    each_parameter_alone_matches_the_reference,
    keyword_indexes_answer_what_a_scan_answers,
    keyword_index_follows_changes,
);

/// Migration 0008 rebuilds SQLite's drop_list with a stable `id` and indexes the labels that
/// are already there: rows written before it are kept and found by keyword.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_0008_keeps_and_indexes_existing_rows() {
    let db = backorder_svc::testkit::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for file in std::fs::read_dir(&source).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().into_string().unwrap();
        if name.as_str() < "0008" {
            std::fs::copy(file.path(), dir.path().join(&name)).unwrap();
        }
    }
    let pool = sqlx::SqlitePool::connect(&format!("{}?mode=rwc", db.url))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let drop = (now() + hours(5)).timestamp_micros();
    for (domain, label, removed) in [
        ("bluecar.com", "bluecar", None),
        ("carshop.net", "carshop", None),
        ("gone-car.com", "gone-car", Some(0i64)),
        ("shop.org", "shop", None),
    ] {
        sqlx::query(
            "INSERT INTO drop_list (domain, domain_unicode, label, label_rev, zone, drop_time, \
             finalization_at, length, digits, hyphens, non_ascii, idn, score, shuffle, \
             first_seen_at, updated_at, removed_at) VALUES ($1, $1, $2, $2, $3, $4, $4, \
             length($2), 0, 0, 0, FALSE, 5, 1, 0, 0, $5)",
        )
        .bind(domain)
        .bind(label)
        .bind(domain.split_once('.').unwrap().1)
        .bind(drop)
        .bind(removed)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    let store = seeded(&db.url).await;
    let mut query = DropQuery::default();
    query.label.keywords = vec![kw("car")];
    let page = store.query_drop_list(&query, 0, 10, now()).await.unwrap();
    let names: Vec<String> = page.entries.into_iter().map(|e| e.domain).collect();
    assert_eq!(names, ["bluecar.com", "carshop.net"]);
    assert_eq!(page.total, 2);
    // New rows after the migration are indexed by the trigger.
    import(
        &store,
        now(),
        &[("redcar.com", now() + hours(3))],
        Scope::Partial,
    )
    .await;
    let page = store.query_drop_list(&query, 0, 10, now()).await.unwrap();
    assert_eq!(page.total, 3);
}
