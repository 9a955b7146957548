// The drop list's SQL, shared by both backends: `include!`d into `sqlite.rs` and
// `postgres.rs` right after `sql.rs`. It lives in a child module so that its imports never
// clash with `sql.rs`; `use super::*` reaches the backend's `Db`, `BACKEND`, `SqlStore`, the
// transaction helpers and `insert_event`. Format with
// `rustfmt --edition 2024 backorder-svc/src/store/drop_list_sql.rs`.

mod drop_list_sql {
    use super::*;
    use crate::domain::drop_list::query::{SHUFFLE_PRIME, shuffle_params};
    use crate::domain::drop_list::{
        Catenation, DropQuery, Filter, FinalizationPoint, Keyword, KeywordMatch, LabelFeatures,
        LabelFilter, OrderBy,
    };
    use crate::store::drop_list::{
        BatchOutcome, DropAlert, DropListEntry, DropListStore, DropPage,
    };
    use crate::store::drop_list_bulk::{DropListBulk, fts_match};
    use futures::TryStreamExt;
    use std::collections::HashSet;
    use tokio::sync::mpsc;

    /// Rows per statement when a list of domains is bound (well under SQLite's 32,766 and
    /// PostgreSQL's 65,535 parameters per statement).
    const CHUNK: usize = 1000;
    /// The largest code point: `kw <= label < kw + MAX_CHAR` selects labels starting with kw
    /// under binary (code point) order.
    const MAX_CHAR: char = '\u{10FFFF}';
    const DAY_MICROS: i64 = 86_400_000_000;

    const COLUMNS: &str = "domain, domain_unicode, label, zone, drop_time, finalization_at, \
         drop_window_end, length, digits, hyphens, non_ascii, idn, score, removed_at";

    fn entry_from_row(row: &DbRow) -> StoreResult<DropListEntry> {
        Ok(DropListEntry {
            domain: row.try_get("domain")?,
            domain_unicode: row.try_get("domain_unicode")?,
            label: row.try_get("label")?,
            zone: row.try_get("zone")?,
            drop_time: from_micros(row.try_get("drop_time")?),
            finalization_at: from_micros(row.try_get("finalization_at")?),
            window_end: row
                .try_get::<Option<i64>, _>("drop_window_end")?
                .map(from_micros),
            features: LabelFeatures {
                length: row.try_get("length")?,
                digits: row.try_get("digits")?,
                hyphens: row.try_get("hyphens")?,
                non_ascii: row.try_get("non_ascii")?,
                idn: row.try_get("idn")?,
                score: row.try_get("score")?,
            },
            removed_at: row
                .try_get::<Option<i64>, _>("removed_at")?
                .map(from_micros),
        })
    }

    /// Names compare by code point on both backends (PostgreSQL's default collation would
    /// sort by locale rules and ignore hyphens).
    fn name_order() -> &'static str {
        match BACKEND {
            Backend::Postgres => "domain COLLATE \"C\"",
            Backend::Sqlite => "domain",
        }
    }

    fn order_clause(order: OrderBy) -> String {
        let name = name_order();
        match order {
            OrderBy::Name => format!("{name} ASC"),
            OrderBy::NameDesc => format!("{name} DESC"),
            OrderBy::DeletionDay => format!("drop_time ASC, {name} ASC"),
            OrderBy::DeletionDayDesc => format!("drop_time DESC, {name} ASC"),
            OrderBy::FinalizationDate => format!("finalization_at ASC, {name} ASC"),
            OrderBy::FinalizationDateDesc => format!("finalization_at DESC, {name} ASC"),
            OrderBy::Score => format!("score ASC, {name} ASC"),
            OrderBy::ScoreDesc => format!("score DESC, {name} ASC"),
            OrderBy::Random(seed) => {
                // The same permutation as `domain::drop_list::query::random_rank`; a, b and
                // shuffle are below 2^31, so the product fits an i64 on both backends.
                let (a, b) = shuffle_params(seed);
                format!("((shuffle * {a} + {b}) % {SHUFFLE_PRIME}) ASC, {name} ASC")
            }
        }
    }

    fn push_keyword(qb: &mut QueryBuilder<Db>, keyword: &Keyword, how: KeywordMatch) {
        let kw = keyword.as_str();
        match (BACKEND, how) {
            (_, KeywordMatch::Any) => {
                qb.push("label LIKE ").push_bind(format!("%{kw}%"));
            }
            (Backend::Sqlite, KeywordMatch::Begin) => {
                qb.push("(label >= ")
                    .push_bind(kw.to_string())
                    .push(" AND label < ")
                    .push_bind(format!("{kw}{MAX_CHAR}"))
                    .push(")");
            }
            (Backend::Sqlite, KeywordMatch::End) => {
                let rev: String = kw.chars().rev().collect();
                qb.push("(label_rev >= ")
                    .push_bind(rev.clone())
                    .push(" AND label_rev < ")
                    .push_bind(format!("{rev}{MAX_CHAR}"))
                    .push(")");
            }
            // Keywords hold no LIKE wildcards (see `Keyword`), so no escaping is needed.
            (Backend::Postgres, KeywordMatch::Begin) => {
                qb.push("label LIKE ").push_bind(format!("{kw}%"));
            }
            (Backend::Postgres, KeywordMatch::End) => {
                qb.push("label LIKE ").push_bind(format!("%{kw}"));
            }
        }
    }

    fn push_list<T>(qb: &mut QueryBuilder<Db>, column: &str, values: &[T])
    where
        T: Clone + for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db>,
    {
        qb.push(" AND ").push(column).push(" IN (");
        let mut list = qb.separated(", ");
        for value in values {
            list.push_bind(value.clone());
        }
        list.push_unseparated(")");
    }

    /// The WHERE clause: searchable rows (listed, dropping after now) that match the query;
    /// everything but the regular expression.
    fn push_where(qb: &mut QueryBuilder<Db>, query: &DropQuery, now: i64) {
        qb.push(" WHERE removed_at IS NULL AND drop_time > ")
            .push_bind(now);
        let label = &query.label;
        if !label.keywords.is_empty() {
            let joiner = match label.catenation {
                Catenation::And => " AND ",
                Catenation::Or => " OR ",
            };
            qb.push(" AND (");
            for (i, keyword) in label.keywords.iter().enumerate() {
                if i > 0 {
                    qb.push(joiner);
                }
                push_keyword(qb, keyword, label.keyword_match);
            }
            qb.push(")");
        }
        push_index_narrowing(qb, query);
        if !label.zones.is_empty() {
            push_list(qb, "zone", &label.zones);
        }
        for filter in &label.filters {
            qb.push(match filter {
                Filter::NoHyphens => " AND hyphens = 0",
                Filter::NoNumbers => " AND digits = 0",
                Filter::NoIdns => " AND NOT idn",
            });
        }
        if !query.deletion_days.is_empty() {
            qb.push(" AND (");
            for (i, day) in query.deletion_days.iter().enumerate() {
                let start = day_start(*day);
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push("(drop_time >= ")
                    .push_bind(start)
                    .push(" AND drop_time < ")
                    .push_bind(start + DAY_MICROS)
                    .push(")");
            }
            qb.push(")");
        }
        if !query.finalization_points.is_empty() {
            qb.push(" AND (");
            for (i, point) in query.finalization_points.iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                match point {
                    FinalizationPoint::Day(day) => {
                        let start = day_start(*day);
                        qb.push("(finalization_at >= ")
                            .push_bind(start)
                            .push(" AND finalization_at < ")
                            .push_bind(start + DAY_MICROS)
                            .push(")");
                    }
                    FinalizationPoint::At(at) => {
                        qb.push("finalization_at = ").push_bind(to_micros(*at));
                    }
                }
            }
            qb.push(")");
        }
        if let Some(min) = query.min_finalization {
            qb.push(" AND finalization_at > ").push_bind(to_micros(min));
        }
        if let Some(max) = query.max_finalization {
            qb.push(" AND finalization_at < ").push_bind(to_micros(max));
        }
        if !query.lengths.is_empty() {
            push_list(qb, "length", &query.lengths);
        }
        if !query.scores.is_empty() {
            push_list(qb, "score", &query.scores);
        }
    }

    /// Conditions that only let an index narrow the rows; the exact conditions (keywords
    /// in `push_keyword`, the regular expression in Rust) are applied as well, so the result
    /// is the same as a scan's.
    ///
    /// SQLite: ANY keywords and the regular expression's required literals of 3+ characters
    /// become an FTS5 query on the trigram index (migration 0008); BEGIN and END keywords are
    /// index ranges already. PostgreSQL: the planner uses its trigram index for the keywords'
    /// LIKE conditions itself; the required literals are added as LIKE conditions for it.
    fn push_index_narrowing(qb: &mut QueryBuilder<Db>, query: &DropQuery) {
        let label = &query.label;
        let literals: Vec<String> = query
            .regexp
            .as_ref()
            .map(|regex| regex.required_literals())
            .unwrap_or_default()
            .into_iter()
            .filter(|literal| literal.chars().count() >= 3)
            .collect();
        match BACKEND {
            Backend::Sqlite => {
                let mut parts = Vec::new();
                if label.keyword_match == KeywordMatch::Any {
                    let keywords = label.keywords.iter().map(Keyword::as_str);
                    if let Some(fts) = fts_match(keywords, label.catenation == Catenation::Or) {
                        parts.push(format!("({fts})"));
                    }
                }
                if let Some(fts) = fts_match(literals.iter().map(String::as_str), false) {
                    parts.push(fts);
                }
                if !parts.is_empty() {
                    qb.push(
                        " AND id IN (SELECT rowid FROM drop_list_fts WHERE drop_list_fts MATCH ",
                    )
                    .push_bind(parts.join(" AND "))
                    .push(")");
                }
            }
            // Literals hold only letters, digits and hyphens: no LIKE wildcards.
            Backend::Postgres => {
                for literal in literals {
                    qb.push(" AND label LIKE ")
                        .push_bind(format!("%{literal}%"));
                }
            }
        }
    }

    fn day_start(day: chrono::NaiveDate) -> i64 {
        to_micros(day.and_time(chrono::NaiveTime::MIN).and_utc())
    }

    /// Queries of the list are run as unnamed (not cached) statements, `persistent(false)`:
    /// PostgreSQL then plans each one with its values. A cached statement switches to a
    /// generic plan after five runs, and a generic plan cannot tell `LIKE '%ca%'` (no
    /// trigram: a scan is right) from `LIKE '%car7%'` (a few hundred rows through the
    /// trigram index): at 1,000,000 rows such plans took 0.8 s where the planned query takes
    /// 0.2 s. SQLite prepares a statement in microseconds.
    fn select(query: &DropQuery, now: i64) -> QueryBuilder<Db> {
        let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM drop_list"));
        push_where(&mut qb, query, now);
        qb.push(" ORDER BY ").push(order_clause(query.order));
        qb
    }

    fn filter_to_db(filter: &LabelFilter) -> (String, String, String) {
        let keywords: Vec<&str> = filter.keywords.iter().map(Keyword::as_str).collect();
        let filters: Vec<&str> = filter.filters.iter().map(|f| f.as_str()).collect();
        (
            keywords.join(","),
            filter.zones.join(","),
            filters.join(","),
        )
    }

    fn alert_from_row(row: &DbRow) -> StoreResult<DropAlert> {
        let split = |text: String| -> Vec<String> {
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let how: String = row.try_get("keyword_match")?;
        let catenation: String = row.try_get("keyword_catenation")?;
        let keywords = split(row.try_get("keywords")?)
            .into_iter()
            .map(|k| Keyword::parse("keywords", &k).map_err(corrupt))
            .collect::<StoreResult<Vec<_>>>()?;
        let filters = split(row.try_get("filters")?)
            .into_iter()
            .map(|f| Filter::parse(&f).ok_or_else(|| corrupt(format!("alert filter {f:?}"))))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(DropAlert {
            id: row.try_get("id")?,
            account: AccountId(row.try_get("account_id")?),
            filter: LabelFilter {
                keywords,
                catenation: Catenation::parse(&catenation)
                    .ok_or_else(|| corrupt(format!("alert catenation {catenation:?}")))?,
                keyword_match: KeywordMatch::parse(&how)
                    .ok_or_else(|| corrupt(format!("alert match {how:?}")))?,
                zones: split(row.try_get("zones")?),
                filters,
            },
            created_at: from_micros(row.try_get("created_at")?),
        })
    }

    async fn all_alerts(tx: &mut Tx) -> StoreResult<Vec<DropAlert>> {
        let rows = sqlx::query("SELECT * FROM drop_alerts ORDER BY id")
            .fetch_all(&mut **tx)
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// One ALERT_MATCH per (account, domain), ever: the dedupe key makes a re-import, or a
    /// second alert of the same account, a no-op.
    async fn emit_alerts(
        tx: &mut Tx,
        listed: &[&DropListEntry],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let alerts = all_alerts(tx).await?;
        let mut written = 0;
        for entry in listed {
            let mut told = HashSet::new();
            for alert in alerts.iter().filter(|a| a.filter.matches(entry.facts())) {
                if !told.insert(alert.account) {
                    continue;
                }
                let mut event = NewEvent::new(
                    alert.account,
                    EventType::AlertMatch,
                    now,
                    format!(
                        "{} matches alert {} (drops {})",
                        entry.domain_unicode,
                        alert.id,
                        entry.drop_time.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                );
                event.domain = Some(entry.domain.clone());
                event.alert_id = Some(alert.id);
                event.dedupe_key = Some(format!("alert:{}:{}", alert.account.0, entry.domain));
                if insert_event(tx, &event).await?.is_some() {
                    written += 1;
                }
            }
        }
        Ok(written)
    }

    #[async_trait]
    impl DropListStore for SqlStore {
        async fn upsert_drop_batch(
            &self,
            batch: &[DropListEntry],
            now: DateTime<Utc>,
        ) -> StoreResult<BatchOutcome> {
            let mut outcome = BatchOutcome::default();
            let mut tx = self.begin_write().await?;
            let saved = tx.enter().await?;
            let domains: Vec<&str> = batch.iter().map(|e| e.domain.as_str()).collect();
            let stored = tx.stored(&domains).await?;
            let mut writes = Vec::with_capacity(batch.len());
            let mut listed = Vec::new();
            for entry in batch {
                match stored.get(&entry.domain) {
                    None => {
                        outcome.inserted += 1;
                        listed.push(entry);
                    }
                    Some(old) if old.removed => {
                        outcome.inserted += 1;
                        listed.push(entry);
                    }
                    Some(old)
                        if old.drop_time == to_micros(entry.drop_time)
                            && old.finalization_at == to_micros(entry.finalization_at)
                            && old.window_end == entry.window_end.map(to_micros) =>
                    {
                        outcome.unchanged += 1;
                        continue;
                    }
                    Some(_) => outcome.updated += 1,
                }
                writes.push(entry);
            }
            if !writes.is_empty() {
                tx.write(&writes, to_micros(now)).await?;
            }
            // Names whose drop is already past are kept for the audit trail only.
            listed.retain(|entry| entry.drop_time > now);
            if !listed.is_empty() {
                outcome.alert_events += emit_alerts(&mut tx, &listed, now).await?;
            }
            tx.leave(saved).await?;
            tx.commit().await?;
            Ok(outcome)
        }

        async fn mark_drop_removed(
            &self,
            domains: &[String],
            now: DateTime<Utc>,
        ) -> StoreResult<u64> {
            let mut changed = 0;
            let mut tx = self.begin_write().await?;
            for chunk in domains.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new("UPDATE drop_list SET removed_at = ");
                qb.push_bind(to_micros(now))
                    .push(", updated_at = ")
                    .push_bind(to_micros(now))
                    .push(" WHERE removed_at IS NULL AND drop_time > ")
                    .push_bind(to_micros(now))
                    .push(" AND domain IN (");
                let mut list = qb.separated(", ");
                for domain in chunk {
                    list.push_bind(domain.clone());
                }
                list.push_unseparated(")");
                changed += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok(changed)
        }

        async fn refresh_drop_list_statistics(&self) -> StoreResult<()> {
            match BACKEND {
                Backend::Postgres => {
                    sqlx::query("ANALYZE drop_list").execute(&self.pool).await?;
                    // New index entries wait in the GIN pending list (up to 4 MB by
                    // default) until autovacuum merges them, and every keyword query reads
                    // that list in full: merge it now.
                    sqlx::query("SELECT gin_clean_pending_list('drop_list_label_trgm'::regclass)")
                        .execute(&self.pool)
                        .await?;
                }
                // SQLite keeps no statistics by itself; with them (STAT4 histograms) the
                // planner knows that `drop_time > now` selects nearly every row and that the
                // trigram index is narrow. ANALYZE writes its tables: a write transaction.
                Backend::Sqlite => {
                    let mut tx = self.begin_write().await?;
                    sqlx::query("ANALYZE drop_list").execute(&mut *tx).await?;
                    tx.commit().await?;
                }
            }
            Ok(())
        }

        async fn listed_drop_domains(
            &self,
            now: DateTime<Utc>,
        ) -> StoreResult<Vec<(String, String)>> {
            let rows = sqlx::query(
                "SELECT domain, zone FROM drop_list WHERE removed_at IS NULL AND drop_time > $1",
            )
            .bind(to_micros(now))
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("domain")?, row.try_get("zone")?)))
                .collect()
        }

        async fn drop_entry(&self, domain: &str) -> StoreResult<Option<DropListEntry>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM drop_list WHERE domain = $1"
            )))
            .bind(domain.trim().trim_end_matches('.').to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(entry_from_row).transpose()
        }

        async fn query_drop_list(
            &self,
            query: &DropQuery,
            first: u64,
            limit: u32,
            now: DateTime<Utc>,
        ) -> StoreResult<DropPage> {
            let now = to_micros(now);
            // One snapshot for the page and the total, so TOTAL agrees with the rows.
            let mut tx = self.begin_snapshot().await?;
            let page = if let Some(regex) = &query.regexp {
                // The regular expression runs in Rust over the rows the SQL part selects,
                // in order: one engine with the same semantics on both backends.
                let mut qb = select(query, now);
                let mut rows = qb.build().persistent(false).fetch(&mut *tx);
                let mut entries = Vec::new();
                let mut total: u64 = 0;
                let end = first.saturating_add(u64::from(limit));
                while let Some(row) = rows.try_next().await? {
                    let label: String = row.try_get("label")?;
                    if !regex.is_match(&label) {
                        continue;
                    }
                    if total >= first && total < end {
                        entries.push(entry_from_row(&row)?);
                    }
                    total += 1;
                }
                drop(rows);
                DropPage { entries, total }
            } else {
                // The page and TOTAL in one pass: the window counts every matching row
                // before LIMIT applies. Only a page past the end (no row to carry the
                // count) needs a second query.
                let mut qb = QueryBuilder::new(format!(
                    "SELECT {COLUMNS}, COUNT(*) OVER () AS total_rows FROM drop_list"
                ));
                push_where(&mut qb, query, now);
                qb.push(" ORDER BY ").push(order_clause(query.order));
                qb.push(" LIMIT ")
                    .push_bind(i64::from(limit))
                    .push(" OFFSET ")
                    .push_bind(i64::try_from(first).unwrap_or(i64::MAX));
                let rows = qb.build().persistent(false).fetch_all(&mut *tx).await?;
                let total: i64 = match rows.first() {
                    Some(row) => row.try_get("total_rows")?,
                    None if first == 0 && limit > 0 => 0,
                    None => {
                        let mut count =
                            QueryBuilder::<Db>::new("SELECT COUNT(*) AS n FROM drop_list");
                        push_where(&mut count, query, now);
                        count
                            .build()
                            .persistent(false)
                            .fetch_one(&mut *tx)
                            .await?
                            .try_get("n")?
                    }
                };
                DropPage {
                    entries: rows
                        .iter()
                        .map(entry_from_row)
                        .collect::<StoreResult<_>>()?,
                    total: u64::try_from(total).unwrap_or(0),
                }
            };
            tx.commit().await?;
            Ok(page)
        }

        fn export_drop_list(
            &self,
            query: DropQuery,
            now: DateTime<Utc>,
        ) -> mpsc::Receiver<StoreResult<DropListEntry>> {
            let (sender, receiver) = mpsc::channel(256);
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let mut qb = select(&query, to_micros(now));
                let mut rows = qb.build().persistent(false).fetch(&pool);
                loop {
                    let next = match rows.try_next().await {
                        Ok(Some(row)) => entry_from_row(&row),
                        Ok(None) => break,
                        Err(error) => Err(error.into()),
                    };
                    let failed = next.is_err();
                    if let (Ok(entry), Some(regex)) = (&next, &query.regexp)
                        && !regex.is_match(&entry.label)
                    {
                        continue;
                    }
                    // A closed receiver means the client went away: stop reading.
                    if sender.send(next).await.is_err() || failed {
                        break;
                    }
                }
            });
            receiver
        }

        async fn create_drop_alert(
            &self,
            account: AccountId,
            filter: &LabelFilter,
            now: DateTime<Utc>,
        ) -> StoreResult<DropAlert> {
            let (keywords, zones, filters) = filter_to_db(filter);
            let mut tx = self.begin_write().await?;
            let row = sqlx::query(
                "INSERT INTO drop_alerts (account_id, keywords, keyword_match, keyword_catenation, \
                 zones, filters, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
            )
            .bind(account.0)
            .bind(keywords)
            .bind(filter.keyword_match.as_str())
            .bind(filter.catenation.as_str())
            .bind(zones)
            .bind(filters)
            .bind(to_micros(now))
            .fetch_one(&mut *tx)
            .await?;
            let alert = alert_from_row(&row)?;
            tx.commit().await?;
            Ok(alert)
        }

        async fn list_drop_alerts(
            &self,
            account: Option<AccountId>,
            page: PageRequest<i64>,
        ) -> StoreResult<Vec<DropAlert>> {
            let rows = sqlx::query(
                "SELECT * FROM drop_alerts WHERE id > $1 AND ($2 = 0 OR account_id = $2) \
                 ORDER BY id LIMIT $3",
            )
            .bind(page.after.unwrap_or(0))
            .bind(account.map_or(0, |a| a.0))
            .bind(limit_of(page.limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(alert_from_row).collect()
        }

        async fn delete_drop_alert(
            &self,
            account: Option<AccountId>,
            id: i64,
        ) -> StoreResult<bool> {
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(
                "DELETE FROM drop_alerts WHERE id = $1 AND ($2 = 0 OR account_id = $2)",
            )
            .bind(id)
            .bind(account.map_or(0, |a| a.0))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(done > 0)
        }
    }
}
