// PROVISIONAL (replaced by the catcher branch's version at merge).
use super::catching::{CatchFilter, CatchRecord, CatchReport, CatchStore, CatchTarget};

#[async_trait]
impl CatchStore for SqlStore {
    async fn catch_targets(&self, _now: DateTime<Utc>) -> StoreResult<Vec<CatchTarget>> {
        Ok(Vec::new())
    }

    async fn record_catch(
        &self,
        report: CatchReport,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Allocated, OrderError> {
        let mut tx = self.begin_write().await?;
        let (registrar, auth_code, registered) = match &report.outcome {
            CatchOutcome::Caught {
                registrar,
                auth_code,
                registered_at,
            } => (
                Some(registrar.clone()),
                Some(auth_code.clone()),
                Some(to_micros(*registered_at)),
            ),
            _ => (None, None, None),
        };
        let row = sqlx::query(
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
        .bind(i64::from(report.attempts))
        .bind(report.first_attempt_at.map(to_micros))
        .bind(report.release_seen_at.map(to_micros))
        .bind(registered)
        .bind(to_micros(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Allocated::AlreadyRecorded);
        };
        let catch = RecordedCatch {
            id: row.try_get("id")?,
            domain: report.domain.clone(),
            outcome: report.outcome.clone(),
        };
        let allocated = allocate_drop(&mut tx, &catch, actor, now).await?;
        tx.commit().await?;
        Ok(allocated)
    }

    async fn list_catches(&self, _filter: CatchFilter) -> StoreResult<(Vec<CatchRecord>, i64)> {
        Ok((Vec::new(), 0))
    }
}
