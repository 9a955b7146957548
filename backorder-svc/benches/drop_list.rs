//! Drop-list benchmark: import 1,000,000 generated rows, then keyword queries (ANY, BEGIN,
//! END, each with a zone and a length filter, LIMIT 100) through the store, beside the same
//! query as a plain sequential LIKE scan in the same run. Both backends; PostgreSQL from
//! DATABASE_URL (or the testkit's other sources).
//!
//! `cargo bench -p backorder-svc --bench drop_list` (`DROP_LIST_BENCH_ROWS` to change the size).

use backorder_svc::domain::drop_list::{DropQuery, Keyword, KeywordMatch, LabelFilter};
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

fn query(keyword: &str, how: KeywordMatch) -> DropQuery {
    DropQuery {
        label: LabelFilter {
            keywords: vec![Keyword::parse("keywords", keyword).unwrap()],
            keyword_match: how,
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

const SCAN_WHERE: &str = "WHERE removed_at IS NULL AND drop_time > $1 AND label LIKE $2 \
     AND zone = 'com' AND length IN (6, 7, 8, 9, 10, 11, 12, 13, 14)";

/// The same query (page and total) as a plain sequential scan: SQLite is told NOT INDEXED,
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

    async fn run(&mut self, like: &str) -> usize {
        let at = now().timestamp_micros();
        match self {
            Scan::Sqlite(conn) => {
                let count = format!("SELECT COUNT(*) FROM drop_list NOT INDEXED {SCAN_WHERE}");
                let page = format!(
                    "SELECT domain FROM drop_list NOT INDEXED {SCAN_WHERE} ORDER BY domain LIMIT 100"
                );
                let _: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(count))
                    .bind(at)
                    .bind(like)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(page))
                    .bind(at)
                    .bind(like)
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap()
                    .len()
            }
            Scan::Postgres(conn) => {
                let count = format!("SELECT COUNT(*) FROM drop_list {SCAN_WHERE}");
                let page = format!(
                    "SELECT domain FROM drop_list {SCAN_WHERE} ORDER BY domain COLLATE \"C\" LIMIT 100"
                );
                let _: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(count))
                    .bind(at)
                    .bind(like)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(page))
                    .bind(at)
                    .bind(like)
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap()
                    .len()
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
        "{name}: imported {rows} rows in {seconds:.1} s ({:.0} rows/s)",
        rows as f64 / seconds
    );
    if let Scan::Postgres(conn) = &mut Scan::open(url).await {
        sqlx::query("ANALYZE drop_list")
            .execute(conn)
            .await
            .unwrap();
    }
    let mut scan = Scan::open(url).await;
    println!(
        "{name}: {:<6} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "match", "p50 ms", "p99 ms", "scan p50", "scan p99", "ratio"
    );
    for how in [KeywordMatch::Any, KeywordMatch::Begin, KeywordMatch::End] {
        let mut indexed = Vec::new();
        let mut scanned = Vec::new();
        for i in 0..QUERIES_PER_MODE {
            let keyword = KEYWORDS[i % KEYWORDS.len()];
            let q = query(keyword, how);
            let t = Instant::now();
            let page = store.query_drop_list(&q, 0, 100, now()).await.unwrap();
            indexed.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let n = scan.run(&pattern(keyword, how)).await;
            scanned.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(n, page.entries.len(), "{keyword} {how:?}");
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
            "{name}: {:<6} {p50:>10.2} {p99:>10.2} {s50:>10.2} {s99:>10.2} {:>7.1}x",
            how.as_str(),
            s50 / p50
        );
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
