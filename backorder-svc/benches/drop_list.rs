//! Drop-list benchmark: import 1,000,000 generated rows (statistics refreshed by the import),
//! then keyword queries (ANY, BEGIN, END, AND and OR of two, a rare keyword, a keyword too
//! short for a trigram index; each with a zone and a length filter, LIMIT 100, page and
//! TOTAL) through the store, beside the same query as a plain sequential LIKE scan in the
//! same run; every answer is checked against the scan's. Both backends; PostgreSQL from
//! DATABASE_URL (or the testkit's other sources).
//!
//! `cargo bench -p backorder-svc --bench drop_list` (`DROP_LIST_BENCH_ROWS` to change the
//! size, `DROP_LIST_BENCH_EXPLAIN=1` to print the plans of the hot queries).

use backorder_svc::domain::drop_list::{Catenation, DropQuery, Keyword, KeywordMatch, LabelFilter};
use backorder_svc::drop_list::source::{LineParse, SourceLine};
use backorder_svc::drop_list::{Scope, import_lines};
use backorder_svc::store::SharedStore;
use chrono::{DateTime, Duration, Utc};
use std::time::Instant;

const WORDS: &[&str] = &[
    "car", "shop", "blue", "garden", "home", "cloud", "data", "smart", "green", "travel", "pet",
    "food", "music", "book", "photo", "game", "sport", "media", "net", "web", "tech", "health",
    "auto", "star", "city", "hotel", "art", "gold", "fresh", "fast", "best", "my", "the", "pro",
    "link", "market", "house", "solar", "zen", "wave",
];
const KEYWORDS: &[&str] = &[
    "car", "shop", "blue", "garden", "cloud", "travel", "photo", "solar",
];
const ZONES: &[(&str, u64)] = &[("com", 70), ("net", 15), ("org", 10), ("co.uk", 5)];
const QUERIES_PER_MODE: usize = 24;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// splitmix64: a fixed, seedable stream so every run imports the same list.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn generate(rows: usize) -> Vec<SourceLine> {
    let mut rng = Rng(42);
    (0..rows)
        .map(|i| {
            let mut label = String::new();
            let words = 1 + rng.below(3);
            for w in 0..words {
                if w > 0 && rng.below(8) == 0 {
                    label.push('-');
                }
                label.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
            }
            // A unique suffix keeps a million names distinct; it also gives them digits, as
            // real lists have plenty of.
            label.push_str(&format!("{i:x}"));
            let mut pick = rng.below(100);
            let zone = ZONES
                .iter()
                .find(|(_, share)| {
                    let hit = pick < *share;
                    pick = pick.saturating_sub(*share);
                    hit
                })
                .map_or("com", |(z, _)| z);
            let drop_time = now() + Duration::seconds(3600 + rng.below(5 * 86_400) as i64);
            let domain = format!("{label}.{zone}");
            SourceLine {
                line: i as u64 + 1,
                content: String::new(),
                parse: LineParse::Entry {
                    domain,
                    drop_time,
                    window_end: None,
                },
            }
        })
        .collect()
}

/// One benchmarked query shape: keywords, how they match and combine.
#[derive(Clone, Copy)]
struct Mode {
    name: &'static str,
    how: KeywordMatch,
    or: bool,
    /// Keywords per query (taken in turn from `keywords`).
    per_query: usize,
    keywords: fn(usize) -> String,
}

fn word(i: usize) -> String {
    KEYWORDS[i % KEYWORDS.len()].to_string()
}

/// A generator word followed by one hex digit: about 0.1 % of the names hold one (a word that
/// ends a label's words, then a suffix starting with that digit), closer to what a real
/// keyword selects than the vocabulary's own words (2-7 %).
fn rare(i: usize) -> String {
    format!("{}{:x}", KEYWORDS[i % KEYWORDS.len()], 7 + i % 5)
}

/// The first two letters of a word: too short for a trigram index (the fallback).
fn short(i: usize) -> String {
    KEYWORDS[i % KEYWORDS.len()][..2].to_string()
}

const MODES: &[Mode] = &[
    Mode {
        name: "ANY",
        how: KeywordMatch::Any,
        or: false,
        per_query: 1,
        keywords: word,
    },
    Mode {
        name: "BEGIN",
        how: KeywordMatch::Begin,
        or: false,
        per_query: 1,
        keywords: word,
    },
    Mode {
        name: "END",
        how: KeywordMatch::End,
        or: false,
        per_query: 1,
        keywords: word,
    },
    Mode {
        name: "ANY AND",
        how: KeywordMatch::Any,
        or: false,
        per_query: 2,
        keywords: word,
    },
    Mode {
        name: "ANY OR",
        how: KeywordMatch::Any,
        or: true,
        per_query: 2,
        keywords: word,
    },
    Mode {
        name: "ANY rare",
        how: KeywordMatch::Any,
        or: false,
        per_query: 1,
        keywords: rare,
    },
    Mode {
        name: "ANY <3",
        how: KeywordMatch::Any,
        or: false,
        per_query: 1,
        keywords: short,
    },
];

impl Mode {
    fn keywords_of(&self, query: usize) -> Vec<String> {
        (0..self.per_query)
            .map(|k| (self.keywords)(query * self.per_query + k + query / KEYWORDS.len()))
            .collect()
    }
}

fn query(keywords: &[String], mode: &Mode) -> DropQuery {
    DropQuery {
        label: LabelFilter {
            keywords: keywords
                .iter()
                .map(|k| Keyword::parse("keywords", k).unwrap())
                .collect(),
            keyword_match: mode.how,
            catenation: if mode.or {
                Catenation::Or
            } else {
                Catenation::And
            },
            zones: vec!["com".into()],
            ..Default::default()
        },
        lengths: (6..=14).collect(),
        ..Default::default()
    }
}

fn pattern(keyword: &str, how: KeywordMatch) -> String {
    match how {
        KeywordMatch::Any => format!("%{keyword}%"),
        KeywordMatch::Begin => format!("{keyword}%"),
        KeywordMatch::End => format!("%{keyword}"),
    }
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

/// The scan's WHERE: the store's conditions written plainly, `label LIKE` for every keyword
/// (parameters from $2).
fn scan_where(keywords: usize, or: bool) -> String {
    let likes: Vec<String> = (0..keywords)
        .map(|i| format!("label LIKE ${}", i + 2))
        .collect();
    format!(
        "WHERE removed_at IS NULL AND drop_time > $1 AND ({}) AND zone = 'com' \
         AND length IN (6, 7, 8, 9, 10, 11, 12, 13, 14)",
        likes.join(if or { " OR " } else { " AND " })
    )
}

/// The same query (page and total, two statements) as a plain sequential scan: SQLite is
/// told NOT INDEXED (the trigram index is a separate table the scan does not name),
/// PostgreSQL has index and bitmap scans switched off on its connection.
enum Scan {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Scan {
    async fn open(url: &str) -> Self {
        use sqlx::Connection;
        if url.starts_with("sqlite:") {
            Scan::Sqlite(sqlx::SqliteConnection::connect(url).await.unwrap())
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("SET enable_indexscan = off")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("SET enable_bitmapscan = off")
                .execute(&mut conn)
                .await
                .unwrap();
            Scan::Postgres(conn)
        }
    }

    /// The page's domains and the total.
    async fn run(&mut self, likes: &[String], or: bool) -> (Vec<String>, i64) {
        let at = now().timestamp_micros();
        let filter = scan_where(likes.len(), or);
        macro_rules! run {
            ($conn:expr, $from:expr, $order:expr) => {{
                let count = format!("SELECT COUNT(*) FROM {} {filter}", $from);
                let page = format!(
                    "SELECT domain FROM {} {filter} ORDER BY {} LIMIT 100",
                    $from, $order
                );
                let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(count)).bind(at);
                for like in likes {
                    q = q.bind(like.as_str());
                }
                let (total,) = q.fetch_one(&mut *$conn).await.unwrap();
                let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(page)).bind(at);
                for like in likes {
                    q = q.bind(like.as_str());
                }
                let rows = q.fetch_all(&mut *$conn).await.unwrap();
                (rows.into_iter().map(|(d,)| d).collect(), total)
            }};
        }
        match self {
            Scan::Sqlite(conn) => run!(conn, "drop_list NOT INDEXED", "domain"),
            Scan::Postgres(conn) => run!(conn, "drop_list", "domain COLLATE \"C\""),
        }
    }
}

/// The plans of the store's hot queries at this size (EXPLAIN QUERY PLAN on SQLite, EXPLAIN
/// ANALYZE on PostgreSQL), written the way the store writes them, for docs/drop-list.md.
async fn explain(url: &str) {
    use sqlx::Connection;
    let at = now().timestamp_micros();
    let filters = "AND zone IN ('com') AND length IN (6, 7, 8, 9, 10, 11, 12, 13, 14) \
                   ORDER BY domain";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let queries = [
            (
                "ANY car",
                format!(
                    "SELECT domain, COUNT(*) OVER () FROM drop_list WHERE removed_at IS NULL \
                     AND drop_time > {at} AND (label LIKE '%car%') AND id IN (SELECT rowid \
                     FROM drop_list_fts WHERE drop_list_fts MATCH '(\"car\")') {filters} \
                     LIMIT 100"
                ),
            ),
            (
                "BEGIN car",
                format!(
                    "SELECT domain, COUNT(*) OVER () FROM drop_list WHERE removed_at IS NULL \
                     AND drop_time > {at} AND ((label >= 'car' AND label < 'car\u{10FFFF}')) \
                     {filters} LIMIT 100"
                ),
            ),
            (
                "ANY ca (no trigram)",
                format!(
                    "SELECT domain, COUNT(*) OVER () FROM drop_list WHERE removed_at IS NULL \
                     AND drop_time > {at} AND (label LIKE '%ca%') {filters} LIMIT 100"
                ),
            ),
        ];
        for (name, sql) in queries {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            println!("sqlite plan, {name}:");
            for (_, _, _, detail) in rows {
                println!("    {detail}");
            }
        }
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let filters = filters.replace("ORDER BY domain", "ORDER BY domain COLLATE \"C\"");
        for (name, condition) in [
            ("ANY car", "label LIKE '%car%'"),
            ("BEGIN car", "label LIKE 'car%'"),
            ("ANY ca (no trigram)", "label LIKE '%ca%'"),
        ] {
            let sql = format!(
                "EXPLAIN (ANALYZE, COSTS OFF) SELECT domain, COUNT(*) OVER () FROM drop_list \
                 WHERE removed_at IS NULL AND drop_time > {at} AND ({condition}) {filters} \
                 LIMIT 100"
            );
            let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            println!("postgres plan, {name}:");
            for (line,) in rows {
                println!("    {line}");
            }
        }
    }
}

async fn bench(name: &str, url: &str, rows: usize) {
    let store: SharedStore = backorder_svc::store::connect(url).await.unwrap();
    let (tlds, prices) =
        backorder_svc::catalog::parse(backorder_svc::catalog::DEFAULT_CATALOG).unwrap();
    store.seed_catalog_once(&tlds, &prices).await.unwrap();
    let lines = generate(rows);
    let started = Instant::now();
    let report = import_lines(&store, now(), lines, Scope::Partial, &mut |_| {})
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(report.inserted as usize, rows, "{report:?}");
    println!(
        "{name}: imported {rows} rows in {seconds:.1} s ({:.0} rows/s, statistics included)",
        rows as f64 / seconds
    );
    let mut scan = Scan::open(url).await;
    println!(
        "{name}: {:<9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "match", "p50 ms", "p99 ms", "scan p50", "scan p99", "ratio", "total"
    );
    for mode in MODES {
        let mut indexed = Vec::new();
        let mut scanned = Vec::new();
        let mut totals = 0u64;
        for i in 0..QUERIES_PER_MODE {
            let keywords = mode.keywords_of(i);
            let q = query(&keywords, mode);
            let t = Instant::now();
            let page = store.query_drop_list(&q, 0, 100, now()).await.unwrap();
            indexed.push(t.elapsed().as_secs_f64() * 1000.0);
            let likes: Vec<String> = keywords.iter().map(|k| pattern(k, mode.how)).collect();
            let t = Instant::now();
            let (domains, total) = scan.run(&likes, mode.or).await;
            scanned.push(t.elapsed().as_secs_f64() * 1000.0);
            // The indexed query must answer exactly what the scan answers.
            let got: Vec<String> = page.entries.iter().map(|e| e.domain.clone()).collect();
            assert_eq!(got, domains, "{} {keywords:?}", mode.name);
            assert_eq!(page.total as i64, total, "{} {keywords:?}", mode.name);
            totals += page.total;
        }
        let (p50, p99) = (
            percentile(&mut indexed, 0.5),
            percentile(&mut indexed, 0.99),
        );
        let (s50, s99) = (
            percentile(&mut scanned, 0.5),
            percentile(&mut scanned, 0.99),
        );
        println!(
            "{name}: {:<9} {p50:>9.2} {p99:>9.2} {s50:>9.2} {s99:>9.2} {:>7.1}x {:>8}",
            mode.name,
            s50 / p50,
            totals / QUERIES_PER_MODE as u64
        );
    }
    if std::env::var("DROP_LIST_BENCH_EXPLAIN").is_ok_and(|v| v == "1") {
        explain(url).await;
    }
}
fn main() {
    let rows: usize = std::env::var("DROP_LIST_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sqlite = backorder_svc::testkit::sqlite();
        bench("sqlite", &sqlite.url, rows).await;
        match backorder_svc::testkit::postgres().await {
            Some(db) => bench("postgres", &db.url, rows).await,
            None => println!("postgres: skipped (no DATABASE_URL or local PostgreSQL)"),
        }
    });
}
