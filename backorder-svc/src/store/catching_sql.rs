// The catcher's SQL, shared by both backends: `include!`d into `sqlite.rs` and `postgres.rs`
// after `allocation_sql.rs`. A child module, like `drop_list_sql.rs`, so its imports never
// clash with the files before it; `use super::*` reaches `Tx`, `SqlStore`, `allocate_drop`
// and `RecordedCatch`. Format with `rustfmt --edition 2024 backorder-svc/src/store/catching_sql.rs`.

mod catching_sql {
    use super::*;
    use crate::store::catching::{
        Allocated, AttemptAnswer, AttemptHistory, AttemptIntent, CatchFilter, CatchOutcome,
        CatchRecord, CatchReport, CatchStore, CatchTarget, HeldSession,
    };

    async fn drop_is_recorded(tx: &mut Tx, domain: &str, drop_time: i64) -> StoreResult<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM catches WHERE domain = $1 AND drop_time = $2")
                .bind(domain)
                .bind(drop_time)
                .fetch_optional(&mut **tx)
                .await?
                .is_some(),
        )
    }

    async fn unanswered_attempts(tx: &mut Tx, domain: &str, drop_time: i64) -> StoreResult<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) AS n FROM catch_attempts \
             WHERE domain = $1 AND drop_time = $2 AND (answer IS NULL OR answer = 'WON')",
        )
        .bind(domain)
        .bind(drop_time)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?)
    }

    fn count_of(row: &DbRow, column: &str) -> StoreResult<u32> {
        let n: i64 = row.try_get(column)?;
        u32::try_from(n).map_err(|_| corrupt(format!("{column} {n}")))
    }

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
            // The attempts written ahead come along, so a restarted catcher resumes each drop
            // where it stopped (and asks the registry first where an answer is missing).
            let rows = sqlx::query(
                "SELECT b.domain, b.tld, b.extensions, b.post_drop, dl.drop_time, dl.drop_window_end, \
                 (SELECT COUNT(*) FROM catch_attempts a WHERE a.domain = b.domain \
                     AND a.drop_time = dl.drop_time \
                     AND (a.answer IS NULL OR a.answer <> 'NOT_SENT')) AS sent, \
                 (SELECT MIN(a.sent_at) FROM catch_attempts a WHERE a.domain = b.domain \
                     AND a.drop_time = dl.drop_time \
                     AND (a.answer IS NULL OR a.answer <> 'NOT_SENT')) AS first_sent_at, \
                 (SELECT COUNT(*) FROM catch_attempts a WHERE a.domain = b.domain \
                     AND a.drop_time = dl.drop_time \
                     AND (a.answer IS NULL OR a.answer = 'WON')) AS unanswered \
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
                    attempts: AttemptHistory {
                        sent: count_of(row, "sent")?,
                        first_sent_at: row
                            .try_get::<Option<i64>, _>("first_sent_at")?
                            .map(from_micros),
                        unanswered: count_of(row, "unanswered")?,
                    },
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
            lock_drop(&mut tx, &report.domain).await?;
            let drop_time = to_micros(report.drop_time);
            // A create without an answer may have won, and a won one whose result is not
            // recorded did: only the catcher, after asking the registry (which also gives the
            // auth code), may decide such a drop otherwise than CAUGHT.
            let unanswered = unanswered_attempts(&mut tx, &report.domain, drop_time).await?;
            if unanswered > 0 && !matches!(report.outcome, CatchOutcome::Caught { .. }) {
                if drop_is_recorded(&mut tx, &report.domain, drop_time).await? {
                    return Ok(Allocated::AlreadyRecorded);
                }
                return Ok(Allocated::Unresolved {
                    unanswered: u32::try_from(unanswered).unwrap_or(u32::MAX),
                });
            }
            let inserted = sqlx::query(
                "INSERT INTO catches (domain, drop_time, outcome, registrar, auth_code, attempts, \
                 first_attempt_at, release_seen_at, created_at_registry, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (domain, drop_time) DO NOTHING RETURNING id",
            )
            .bind(&report.domain)
            .bind(drop_time)
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
            // The result answers every create still open (the winning one included).
            sqlx::query(
                "UPDATE catch_attempts SET answer = 'RECONCILED', answered_at = $3 \
                 WHERE domain = $1 AND drop_time = $2 AND answer IS NULL",
            )
            .bind(&report.domain)
            .bind(drop_time)
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?;
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

        async fn write_attempts_ahead(
            &self,
            intents: &[AttemptIntent],
            now: DateTime<Utc>,
        ) -> StoreResult<Vec<Option<i64>>> {
            if intents.is_empty() {
                return Ok(Vec::new());
            }
            let mut tx = self.begin_write().await?;
            let mut ids = Vec::with_capacity(intents.len());
            for intent in intents {
                lock_drop(&mut tx, &intent.domain).await?;
                let drop_time = to_micros(intent.drop_time);
                if drop_is_recorded(&mut tx, &intent.domain, drop_time).await? {
                    ids.push(None);
                    continue;
                }
                let row = sqlx::query(
                    "INSERT INTO catch_attempts (domain, drop_time, registrar, sent_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(&intent.domain)
                .bind(drop_time)
                .bind(&intent.registrar)
                .bind(to_micros(now))
                .fetch_one(&mut *tx)
                .await?;
                ids.push(Some(row.try_get("id")?));
            }
            tx.commit().await?;
            Ok(ids)
        }

        async fn answer_attempts(
            &self,
            answers: &[(i64, AttemptAnswer)],
            now: DateTime<Utc>,
        ) -> StoreResult<()> {
            if answers.is_empty() {
                return Ok(());
            }
            let mut tx = self.begin_write().await?;
            for (id, answer) in answers {
                // Only an open attempt takes an answer: a result recorded meanwhile settled it.
                sqlx::query(
                    "UPDATE catch_attempts SET answer = $2, answered_at = $3 \
                     WHERE id = $1 AND answer IS NULL",
                )
                .bind(id)
                .bind(answer.as_str())
                .bind(to_micros(now))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn reconcile_attempts(
            &self,
            domain: &str,
            drop_time: DateTime<Utc>,
            now: DateTime<Utc>,
        ) -> StoreResult<u32> {
            let settled = sqlx::query(
                "UPDATE catch_attempts SET answer = 'RECONCILED', answered_at = $3 \
                 WHERE domain = $1 AND drop_time = $2 AND (answer IS NULL OR answer = 'WON')",
            )
            .bind(domain)
            .bind(to_micros(drop_time))
            .bind(to_micros(now))
            .execute(&self.pool)
            .await?
            .rows_affected();
            Ok(u32::try_from(settled).unwrap_or(u32::MAX))
        }

        async fn fail_orders_of_decided_drops(
            &self,
            actor: &str,
            now: DateTime<Utc>,
        ) -> Result<u32, OrderError> {
            let rows = sqlx::query(
                "SELECT b.id, b.domain, c.outcome FROM backorders b \
                 JOIN drop_list dl ON dl.domain = b.domain \
                 JOIN catches c ON c.domain = b.domain AND c.drop_time = dl.drop_time \
                 WHERE b.status = 'PROCESSING' ORDER BY b.id",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from)?;
            let mut failed = 0;
            for row in &rows {
                let id: i64 = row.try_get("id").map_err(StoreError::from)?;
                let domain: String = row.try_get("domain").map_err(StoreError::from)?;
                let outcome: String = row.try_get("outcome").map_err(StoreError::from)?;
                let reason = match outcome.as_str() {
                    "CAUGHT" => FailureReason::LostToPriority,
                    "NOT_DROPPED" => FailureReason::DomainNotDropped,
                    _ => FailureReason::NotCaught,
                };
                let mut tx = self.begin_write().await.map_err(StoreError::from)?;
                lock_drop(&mut tx, &domain).await?;
                // Still PROCESSING under the lock: another pass may have failed it meanwhile.
                let order = lock_valid_orders(&mut tx, &domain)
                    .await?
                    .into_iter()
                    .find(|o| o.id == id);
                let Some(order) = order else {
                    continue;
                };
                let message =
                    format!("its drop was decided ({outcome}) before the order became valid");
                fail_order(&mut tx, &order, reason, actor, now, &message).await?;
                tx.commit().await.map_err(StoreError::from)?;
                tracing::warn!(order = id, %domain, %outcome, "order of a decided drop failed");
                failed += 1;
            }
            Ok(failed)
        }

        async fn unresolved_drops(&self) -> StoreResult<i64> {
            Ok(sqlx::query(
                "SELECT COUNT(*) AS n FROM (SELECT DISTINCT a.domain, a.drop_time \
                 FROM catch_attempts a WHERE (a.answer IS NULL OR a.answer = 'WON') \
                 AND NOT EXISTS (SELECT 1 FROM catches c \
                     WHERE c.domain = a.domain AND c.drop_time = a.drop_time)) open_drops",
            )
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
        }

        async fn held_sessions(&self) -> StoreResult<Vec<HeldSession>> {
            let rows = sqlx::query(
                "SELECT registrar, slot, token FROM registry_sessions ORDER BY registrar, slot",
            )
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let slot: i32 = row.try_get("slot")?;
                    Ok(HeldSession {
                        registrar: row.try_get("registrar")?,
                        slot: u32::try_from(slot)
                            .map_err(|_| corrupt(format!("session slot {slot}")))?,
                        token: row.try_get("token")?,
                    })
                })
                .collect()
        }

        async fn hold_session(
            &self,
            registrar: &str,
            slot: u32,
            token: Option<&str>,
            now: DateTime<Utc>,
        ) -> StoreResult<()> {
            let slot = i32::try_from(slot).map_err(|_| corrupt(format!("session slot {slot}")))?;
            let query = match token {
                Some(token) => sqlx::query(
                    "INSERT INTO registry_sessions (registrar, slot, token, opened_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (registrar, slot) \
                     DO UPDATE SET token = excluded.token, opened_at = excluded.opened_at",
                )
                .bind(registrar)
                .bind(slot)
                .bind(token)
                .bind(to_micros(now)),
                None => {
                    sqlx::query("DELETE FROM registry_sessions WHERE registrar = $1 AND slot = $2")
                        .bind(registrar)
                        .bind(slot)
                }
            };
            query.execute(&self.pool).await?;
            Ok(())
        }
    }
}
