//! Bulk set-up shared by the benchmarks: funded accounts through the store API, listed
//! domains with orders through set-based SQL, and the set-based hold placement (the
//! scheduler benchmark's baseline, and a fast way to bring orders to ACTIVE elsewhere).
#![allow(dead_code)]

use backorder_svc::clock::to_micros;
use backorder_svc::domain::account::{AccountId, PriceTier};
use backorder_svc::domain::money::{Currency, Money};
use backorder_svc::ledger::{Movement, MovementRequest};
use backorder_svc::lifecycle::scheduler::ACTOR;
use backorder_svc::store::{AccountCreation, NewAccount, SharedStore};
use chrono::{DateTime, Duration, Utc};
use sqlx::Connection;

pub const ACCOUNTS: i64 = 100;
pub const PRICE_CENTS: i64 = 3000;

pub fn t0() -> DateTime<Utc> {
    "2026-03-01T00:00:00Z".parse().unwrap()
}

/// The pass runs here: every order's lock window is open, finalization 1 h to 51 h ahead.
pub fn now() -> DateTime<Utc> {
    "2026-03-02T12:00:00Z".parse().unwrap()
}

pub fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

/// A plain connection for the bulk setup and the set-based variant.
pub enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    pub async fn open(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Raw::Sqlite(sqlx::SqliteConnection::connect(url).await.unwrap())
        } else {
            Raw::Postgres(sqlx::PgConnection::connect(url).await.unwrap())
        }
    }

    pub async fn exec(&mut self, sql: &str) -> u64 {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(c) => sqlx::query(sql).execute(c).await.unwrap().rows_affected(),
            Raw::Postgres(c) => sqlx::query(sql).execute(c).await.unwrap().rows_affected(),
        }
    }

    pub async fn number(&mut self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(c).await.unwrap(),
            Raw::Postgres(c) => sqlx::query_scalar(sql).fetch_one(c).await.unwrap(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Raw::Postgres(_))
    }
}

/// `n` rows numbered 0..n, as a CTE both backends understand (BIGINT so that products of
/// microsecond times never overflow PostgreSQL's integer).
pub fn numbers(n: usize) -> String {
    format!(
        "WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < {})",
        n - 1
    )
}

/// A database with the catalog, ACCOUNTS funded accounts (store API), and `domains` listed
/// domains with `per_domain` REQUESTED orders each (bulk SQL; one domain's orders come from
/// different accounts).
pub async fn set_up(url: &str, domains: usize, per_domain: usize) -> (SharedStore, Raw) {
    let orders = domains * per_domain;
    let store = backorder_svc::store::connect(url).await.unwrap();
    let (tlds, prices) =
        backorder_svc::catalog::parse(backorder_svc::catalog::DEFAULT_CATALOG).unwrap();
    store.seed_catalog_once(&tlds, &prices).await.unwrap();
    let per_account = (orders as i64 + ACCOUNTS - 1) / ACCOUNTS;
    let mut ids = Vec::new();
    for i in 0..ACCOUNTS {
        let created = store
            .create_account(
                NewAccount {
                    display_name: format!("bench {i}"),
                    currency: usd(),
                    price_tier: PriceTier::default_tier(),
                },
                None,
                "bench",
                t0(),
            )
            .await
            .unwrap();
        let AccountCreation::Created(account) = created else {
            panic!("{created:?}")
        };
        store
            .execute_movement(
                MovementRequest {
                    scope: "operator".into(),
                    request_id: format!("deposit-{i}"),
                    movement: Movement::Deposit {
                        account: account.id,
                        amount: Money::new(usd(), per_account * PRICE_CENTS),
                    },
                    memo: String::new(),
                    actor: "bench".into(),
                },
                t0(),
            )
            .await
            .unwrap();
        ids.push(account.id);
    }
    let first = ids[0].0;
    assert!(
        ids.iter().zip(first..).all(|(id, n)| *id == AccountId(n)),
        "account ids are consecutive"
    );
    let mut raw = Raw::open(url).await;
    let t0 = to_micros(t0());
    // Drops from NOW+3h to NOW+53h: lock window open (it opens 74 h before the drop).
    let first_drop = to_micros(now() + Duration::hours(3));
    let span = 50 * 3600;
    let listed = raw
        .exec(&format!(
            "{} INSERT INTO drop_list (domain, domain_unicode, label, label_rev, zone, drop_time, \
             finalization_at, length, digits, hyphens, non_ascii, idn, score, shuffle, first_seen_at, \
             updated_at) \
             SELECT 'bench' || i || '.com', 'bench' || i || '.com', 'bench' || i, '', 'com', \
             {first_drop} + (i % {span}) * 1000000, {first_drop} + (i % {span}) * 1000000 - 7200000000, \
             length('bench' || i), 0, 0, 0, FALSE, 5, i, {t0}, {t0} FROM n",
            numbers(domains)
        ))
        .await;
    assert_eq!(listed as usize, domains);
    let placed = raw
        .exec(&format!(
            "{} INSERT INTO backorders (account_id, domain, domain_unicode, tld, class, status, price, \
             currency, created_at, updated_at) \
             SELECT {first} + (i % {ACCOUNTS}), 'bench' || (i / {per_domain}) || '.com', \
             'bench' || (i / {per_domain}) || '.com', 'com', \
             'BACKORDER', 'REQUESTED', {PRICE_CENTS}, 'USD', {t0} + i, {t0} + i FROM n",
            numbers(orders)
        ))
        .await;
    assert_eq!(placed as usize, orders);
    raw.exec("ANALYZE").await;
    (store, raw)
}

/// Everything one pass writes when it places a hold, for all due orders at once: the hold
/// transfers (with the same request ids and memos), their ledger audit rows, the counters of
/// each client account and of revenue, the orders ACTIVE with their hold, the status audit
/// rows and STATUS_CHANGED events, and one LOW_BALANCE event per order the funds do not
/// reach. Funds go in the pass's priority (finalization, then creation, then id) through a
/// running sum per account; unlike the pass, a cheaper later order is not tried after a
/// refused one (no account here is short). Returns the holds placed.
pub async fn set_based(raw: &mut Raw) -> u64 {
    let now = to_micros(now());
    let ms = "1000000";
    raw.exec("BEGIN").await;
    if raw.is_postgres() {
        raw.exec("SELECT pg_advisory_xact_lock(7001)").await;
    }
    raw.exec(
        "INSERT INTO ledger_accounts (name, kind, currency) VALUES ('revenue:USD', 'revenue', 'USD') \
         ON CONFLICT (name) DO NOTHING",
    )
    .await;
    let before = raw
        .number("SELECT COALESCE(MAX(id), 0) FROM transfers")
        .await;
    let due = format!(
        "FROM backorders b JOIN drop_list dl ON dl.domain = b.domain AND dl.removed_at IS NULL \
         LEFT JOIN tlds t ON t.name = b.tld \
         WHERE b.status = 'REQUESTED' \
         AND {now} >= dl.drop_time - (COALESCE(t.finalization_lead_secs, 7200) + COALESCE(t.lock_lead_secs, 259200)) * {ms} \
         AND {now} < dl.drop_time - COALESCE(t.finalization_lead_secs, 7200) * {ms}"
    );
    let held = raw
        .exec(&format!(
            "INSERT INTO transfers (kind, debit_account_id, credit_account_id, amount, currency, \
             backorder_id, request_id, memo, created_at) \
             SELECT 'hold', l.id, r.id, d.price, d.currency, d.id, \
             'order:' || d.id || ':hold:' || (d.holds_placed + 1), 'backorder ' || d.id || ' ' || d.domain, {now} \
             FROM (SELECT b.id, b.account_id, b.price, b.currency, b.domain, b.holds_placed, \
                   SUM(b.price) OVER (PARTITION BY b.account_id ORDER BY \
                   dl.drop_time - COALESCE(t.finalization_lead_secs, 7200) * {ms}, b.created_at, b.id) AS running \
                   {due}) d \
             JOIN accounts a ON a.id = d.account_id AND a.state <> 'closed' \
             JOIN ledger_accounts l ON l.client_account_id = d.account_id \
             JOIN ledger_accounts r ON r.name = 'revenue:' || d.currency \
             WHERE d.running <= l.credits_posted - l.debits_posted - l.debits_pending \
             ORDER BY d.id"
        ))
        .await;
    raw.exec(&format!(
        "INSERT INTO audit_log (at, actor, account_id, transfer_id, message) \
         SELECT {now}, '{ACTOR}', l.client_account_id, h.id, 'hold ' || (h.amount / 100) || '.' || \
         CASE WHEN h.amount % 100 < 10 THEN '0' ELSE '' END || (h.amount % 100) || ' ' || h.currency || ': ' || h.memo \
         FROM transfers h JOIN ledger_accounts l ON l.id = h.debit_account_id WHERE h.id > {before} ORDER BY h.id"
    ))
    .await;
    raw.exec(&format!(
        "UPDATE ledger_accounts SET debits_pending = debits_pending + s.total \
         FROM (SELECT debit_account_id AS id, SUM(amount) AS total FROM transfers WHERE id > {before} \
         GROUP BY debit_account_id) s WHERE ledger_accounts.id = s.id"
    ))
    .await;
    raw.exec(&format!(
        "UPDATE ledger_accounts SET credits_pending = credits_pending + s.total \
         FROM (SELECT credit_account_id AS id, SUM(amount) AS total FROM transfers WHERE id > {before} \
         GROUP BY credit_account_id) s WHERE ledger_accounts.id = s.id"
    ))
    .await;
    let activated = raw
        .exec(&format!(
            "UPDATE backorders SET status = 'ACTIVE', hold_id = h.id, holds_placed = holds_placed + 1, \
             updated_at = {now} FROM transfers h WHERE h.id > {before} AND h.backorder_id = backorders.id"
        ))
        .await;
    assert_eq!(activated, held);
    raw.exec(&format!(
        "INSERT INTO audit_log (at, actor, account_id, backorder_id, domain, old_status, new_status, \
         transfer_id, message) \
         SELECT {now}, '{ACTOR}', b.account_id, b.id, b.domain, 'REQUESTED', 'ACTIVE', h.id, \
         'lock window: price held' \
         FROM transfers h JOIN backorders b ON b.id = h.backorder_id WHERE h.id > {before} ORDER BY h.id"
    ))
    .await;
    raw.exec(&format!(
        "INSERT INTO events (account_id, type, at, backorder_id, domain, old_status, new_status, message) \
         SELECT b.account_id, 'STATUS_CHANGED', {now}, b.id, b.domain, 'REQUESTED', 'ACTIVE', \
         'lock window: price held' \
         FROM transfers h JOIN backorders b ON b.id = h.backorder_id WHERE h.id > {before} ORDER BY h.id"
    ))
    .await;
    raw.exec(&format!(
        "INSERT INTO events (account_id, type, at, backorder_id, domain, message, amount, currency, dedupe_key) \
         SELECT b.account_id, 'LOW_BALANCE', {now}, b.id, b.domain, \
         'funds short for backorder ' || b.id || ' (' || b.domain || ')', b.price, b.currency, \
         'low_balance:' || b.id {due} ORDER BY b.id \
         ON CONFLICT (dedupe_key) DO NOTHING"
    ))
    .await;
    raw.exec("COMMIT").await;
    held
}
