// The catcher's SQL, shared by both backends: `include!`d into `sqlite.rs` and `postgres.rs`
// after `allocation_sql.rs`. A child module, like `drop_list_sql.rs`, so its imports never
// clash with the files before it; `use super::*` reaches `Tx`, `SqlStore`, `allocate_drop`
// and `RecordedCatch`. Format with `rustfmt --edition 2024 backorder-svc/src/store/catching_sql.rs`.

mod catching_sql {
    use super::*;
    use crate::store::catching::{
        Allocated, CatchFilter, CatchOutcome, CatchRecord, CatchReport, CatchStore, CatchTarget,
    };

    fn record_from_row(row: &DbRow) -> StoreResult<CatchRecord> {
        let outcome: String = row.try_get("outcome")?;
        let registrar: Option<String> = row.try_get("registrar")?;
        let auth_code: Option<String> = row.try_get("auth_code")?;
        let registered_at: Option<i64> = row.try_get("created_at_registry")?;
        let outcome = match (outcome.as_str(), registrar, auth_code) {
            ("CAUGHT", Some(registrar), Some(auth_code)) => CatchOutcome::Caught {
                registrar,
                auth_code,
                registered_at: registered_at
                    .map(from_micros)
                    .ok_or_else(|| corrupt("a CAUGHT catch without its registry time"))?,
            },
            ("NOT_CAUGHT", _, _) => CatchOutcome::NotCaught,
            ("NOT_DROPPED", _, _) => CatchOutcome::NotDropped,
            (other, _, _) => return Err(corrupt(format!("catch outcome {other:?}"))),
        };
        let attempts: i64 = row.try_get::<i32, _>("attempts")?.into();
        Ok(CatchRecord {
            id: row.try_get("id")?,
            report: CatchReport {
                domain: row.try_get("domain")?,
                drop_time: from_micros(row.try_get("drop_time")?),
                outcome,
                attempts: u32::try_from(attempts)
                    .map_err(|_| corrupt(format!("catch attempts {attempts}")))?,
                first_attempt_at: row
                    .try_get::<Option<i64>, _>("first_attempt_at")?
                    .map(from_micros),
                release_seen_at: row
                    .try_get::<Option<i64>, _>("release_seen_at")?
                    .map(from_micros),
            },
            decided_at: from_micros(row.try_get("decided_at")?),
        })
    }

    #[async_trait]
    impl CatchStore for SqlStore {
        async fn catch_targets(&self, _now: DateTime<Utc>) -> StoreResult<Vec<CatchTarget>> {
            // Every valid order of every drop without a result, earliest order first within a
            // domain: the first row of a domain names its catalog entry and extensions.
            let rows = sqlx::query(
                "SELECT b.domain, b.tld, b.extensions, b.post_drop, dl.drop_time, dl.drop_window_end \
                 FROM backorders b JOIN drop_list dl ON dl.domain = b.domain \
                 WHERE b.status = 'PROCESSING' AND dl.removed_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM catches c \
                     WHERE c.domain = b.domain AND c.drop_time = dl.drop_time) \
                 ORDER BY dl.drop_time, b.domain, b.created_at, b.id",
            )
            .fetch_all(&self.pool)
            .await?;
            let mut targets: Vec<CatchTarget> = Vec::new();
            for row in &rows {
                let domain: String = row.try_get("domain")?;
                let post_drop: bool = row.try_get("post_drop")?;
                if let Some(last) = targets.last_mut()
                    && last.domain == domain
                {
                    last.daily_deals_only &= post_drop;
                    continue;
                }
                targets.push(CatchTarget {
                    domain,
                    tld: row.try_get("tld")?,
                    drop_time: from_micros(row.try_get("drop_time")?),
                    window_end: row
                        .try_get::<Option<i64>, _>("drop_window_end")?
                        .map(from_micros),
                    extensions: extensions_of(&row.try_get::<String, _>("extensions")?),
                    daily_deals_only: post_drop,
                });
            }
            Ok(targets)
        }

        async fn record_catch(
            &self,
            report: CatchReport,
            actor: &str,
            now: DateTime<Utc>,
        ) -> Result<Allocated, OrderError> {
            let (registrar, auth_code, registered_at) = match &report.outcome {
                CatchOutcome::Caught {
                    registrar,
                    auth_code,
                    registered_at,
                } => (
                    Some(registrar.as_str()),
                    Some(auth_code.as_str()),
                    Some(to_micros(*registered_at)),
                ),
                CatchOutcome::NotCaught | CatchOutcome::NotDropped => (None, None, None),
            };
            let mut tx = self.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO catches (domain, drop_time, outcome, registrar, auth_code, attempts, \
                 first_attempt_at, release_seen_at, created_at_registry, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (domain, drop_time) DO NOTHING RETURNING id",
            )
            .bind(&report.domain)
            .bind(to_micros(report.drop_time))
            .bind(report.outcome.as_str())
            .bind(registrar)
            .bind(auth_code)
            .bind(i32::try_from(report.attempts).unwrap_or(i32::MAX))
            .bind(report.first_attempt_at.map(to_micros))
            .bind(report.release_seen_at.map(to_micros))
            .bind(registered_at)
            .bind(to_micros(now))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = inserted else {
                return Ok(Allocated::AlreadyRecorded);
            };
            let recorded = RecordedCatch {
                id: row.try_get("id")?,
                domain: report.domain,
                outcome: report.outcome,
            };
            tracing::debug!(
                catch = recorded.id,
                domain = %recorded.domain,
                outcome = recorded.outcome.as_str(),
                "catch row written; allocating"
            );
            let allocated = allocate_drop(&mut tx, &recorded, actor, now).await?;
            tx.commit().await?;
            Ok(allocated)
        }

        async fn list_catches(&self, filter: CatchFilter) -> StoreResult<(Vec<CatchRecord>, i64)> {
            fn conditions(query: &mut QueryBuilder<Db>, filter: &CatchFilter) {
                query.push(" WHERE 1 = 1");
                if let Some(domain) = &filter.domain {
                    query.push(" AND domain = ").push_bind(domain.clone());
                }
                if let Some(since) = filter.decided_since {
                    query
                        .push(" AND decided_at >= ")
                        .push_bind(to_micros(since));
                }
            }
            let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) AS n FROM catches");
            conditions(&mut count, &filter);
            let total: i64 = count.build().fetch_one(&self.pool).await?.try_get("n")?;
            let mut query = QueryBuilder::<Db>::new("SELECT * FROM catches");
            conditions(&mut query, &filter);
            query.push(" ORDER BY decided_at DESC, id DESC LIMIT ");
            // No limit asked for: a page of 100, not the single row `limit_of(0)` would give.
            query.push_bind(limit_of(if filter.limit == 0 { 100 } else { filter.limit }));
            query.push(" OFFSET ").push_bind(i64::from(filter.offset));
            let rows = query.build().fetch_all(&self.pool).await?;
            Ok((
                rows.iter()
                    .map(record_from_row)
                    .collect::<StoreResult<_>>()?,
                total,
            ))
        }
    }
}
