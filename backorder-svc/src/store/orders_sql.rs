// Backorder SQL shared by both backends: `include!`d after `sql.rs` into `sqlite.rs` and
// `postgres.rs` (see `sql.rs` for the technique). Each backend defines `ORDER_LOCK` and
// `ORDER_LOCK_SKIP`: the row-lock clauses that keep concurrent writers off one order.

use super::orders::{
    Backorder, BackorderFilter, Contacts, NewBackorder, OrderBy, OrderError, OrderStore, Placement,
    StepOutcome,
};
use crate::domain::lifecycle::{self, FailureReason, Leads, MAX_LEAD_SECS, Schedule, Status, Step};

macro_rules! order_select {
    () => {
        "SELECT b.*, dl.drop_time AS dl_drop_time, dl.removed_at AS dl_removed_at, \
         COALESCE(t.finalization_lead_secs, 7200) AS fin_lead, \
         COALESCE(t.lock_lead_secs, 259200) AS lock_lead, \
         (SELECT s.auction_id FROM auction_seats s WHERE s.order_id = b.id) AS seat_auction_id \
         FROM backorders b \
         LEFT JOIN drop_list dl ON dl.domain = b.domain \
         LEFT JOIN tlds t ON t.name = b.tld"
    };
}

/// The schedule of an order's domain from its drop-list row and its TLD's stored leads.
/// Leads outside `0..=MAX_LEAD` (rows older than the catalog's bound) and drop times outside
/// years 0000-9999 give `OutOfRange`: never a panic, never a wrong time.
fn schedule_of(
    drop_time: Option<i64>,
    removed_at: Option<i64>,
    finalization_lead_secs: i64,
    lock_lead_secs: i64,
) -> Schedule {
    match (drop_time, removed_at) {
        (None, _) => Schedule::Unscheduled,
        (Some(_), Some(_)) => Schedule::Restored,
        (Some(drop), None) => {
            let drop = DateTime::from_timestamp_micros(drop).filter(|t| lifecycle::in_range(*t));
            match drop {
                Some(drop) => Schedule::listed(
                    drop,
                    Leads::from_secs(finalization_lead_secs, lock_lead_secs),
                ),
                None => Schedule::OutOfRange,
            }
        }
    }
}

fn extensions_text(extensions: &std::collections::BTreeMap<String, String>) -> String {
    extensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A daily deal is sold only for a drop without a result and without a valid regular order
/// (the catcher or the allocation already decided, or will decide, that name). Checked under
/// the drop's row lock (`DROP_LOCK`), which the catcher's result also takes, so a deal never
/// slips in beside a result being recorded.
async fn ensure_daily_deal_open(tx: &mut Tx, domain: &str) -> Result<(), OrderError> {
    lock_drop(tx, domain).await?;
    let closed_when = [
        (
            "SELECT 1 FROM catches c JOIN drop_list dl \
             ON dl.domain = c.domain AND dl.drop_time = c.drop_time WHERE c.domain = $1",
            "has dropped and its result is recorded (caught, taken by another or not dropped)",
        ),
        (
            "SELECT 1 FROM backorders WHERE domain = $1 AND status = 'PROCESSING' AND NOT post_drop",
            "is already wanted by a valid backorder",
        ),
    ];
    for (query, why) in closed_when {
        let found = sqlx::query(query)
            .bind(domain)
            .fetch_optional(&mut **tx)
            .await
            .map_err(StoreError::from)?;
        if found.is_some() {
            return Err(OrderError::DailyDealClosed {
                domain: domain.to_string(),
                why,
            });
        }
    }
    Ok(())
}

fn extensions_of(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn order_from_row(row: &DbRow) -> StoreResult<Backorder> {
    let class: String = row.try_get("class")?;
    let status: String = row.try_get("status")?;
    let reason: Option<String> = row.try_get("failure_reason")?;
    let currency = currency_of(&row.try_get::<String, _>("currency")?)?;
    Ok(Backorder {
        id: row.try_get("id")?,
        account: AccountId(row.try_get("account_id")?),
        domain: row.try_get("domain")?,
        domain_unicode: row.try_get("domain_unicode")?,
        tld: row.try_get("tld")?,
        class: BackorderClass::from_db(&class)
            .ok_or_else(|| corrupt(format!("class {class:?}")))?,
        status: Status::from_db(&status).ok_or_else(|| corrupt(format!("status {status:?}")))?,
        failure_reason: reason
            .map(|r| FailureReason::from_db(&r).ok_or_else(|| corrupt(format!("reason {r:?}"))))
            .transpose()?,
        price: Money::new(currency, row.try_get("price")?),
        hold_id: row.try_get("hold_id")?,
        auction_id: row.try_get("seat_auction_id")?,
        post_drop: row.try_get("post_drop")?,
        contacts: Contacts {
            owner: row.try_get("owner_contact")?,
            admin: row.try_get("admin_contact")?,
            tech: row.try_get("tech_contact")?,
            billing: row.try_get("billing_contact")?,
        },
        auth_code_wish: row.try_get("auth_code_wish")?,
        extensions: extensions_of(&row.try_get::<String, _>("extensions")?),
        client_reference: row.try_get("client_reference")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
        schedule: schedule_of(
            row.try_get("dl_drop_time")?,
            row.try_get("dl_removed_at")?,
            row.try_get("fin_lead")?,
            row.try_get("lock_lead")?,
        ),
    })
}

/// Reads one order inside a transaction, locked against other writers (`skip`: give up
/// instead of waiting when another transaction holds it).
async fn lock_order(tx: &mut Tx, id: i64, skip: bool) -> StoreResult<Option<Backorder>> {
    let lock = if skip { ORDER_LOCK_SKIP } else { ORDER_LOCK };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{} WHERE b.id = $1{lock}",
        order_select!()
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(order_from_row).transpose()
}

async fn fetch_order(tx: &mut Tx, id: i64) -> StoreResult<Backorder> {
    let row = sqlx::query(concat!(order_select!(), " WHERE b.id = $1"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    order_from_row(&row)
}

async fn count_open_in(tx: &mut Tx, account: AccountId, domain: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM backorders WHERE account_id = $1 AND domain = $2 \
         AND status IN ('REQUESTED', 'ACTIVE')",
    )
    .bind(account.0)
    .bind(domain)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("n")?)
}

/// One status change: checked against the lifecycle table, written with its audit row and
/// its event, inside the caller's transaction (which also holds the money movement).
#[allow(clippy::too_many_arguments)]
async fn change_status(
    tx: &mut Tx,
    order: &Backorder,
    to: Status,
    reason: Option<FailureReason>,
    hold_id: Option<i64>,
    transfer_id: Option<i64>,
    actor: &str,
    now: DateTime<Utc>,
    message: &str,
) -> Result<(), OrderError> {
    if !lifecycle::is_allowed(Some(order.status), to, reason) {
        return Err(OrderError::NotAllowed {
            from: order.status.as_str(),
            to: to.as_str(),
        });
    }
    let updated = sqlx::query(
        "UPDATE backorders SET status = $2, failure_reason = $3, hold_id = $4, updated_at = $5 \
         WHERE id = $1 AND status = $6",
    )
    .bind(order.id)
    .bind(to.as_str())
    .bind(reason.map(FailureReason::as_str))
    .bind(hold_id)
    .bind(to_micros(now))
    .bind(order.status.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated != 1 {
        return Err(corrupt(format!("order {} changed under its lock", order.id)).into());
    }
    record_change(
        tx,
        order,
        Some(order.status),
        to,
        reason,
        transfer_id,
        actor,
        now,
        message,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn record_change(
    tx: &mut Tx,
    order: &Backorder,
    from: Option<Status>,
    to: Status,
    reason: Option<FailureReason>,
    transfer_id: Option<i64>,
    actor: &str,
    now: DateTime<Utc>,
    message: &str,
) -> Result<(), OrderError> {
    let old = from.map(Status::as_str);
    sqlx::query(
        "INSERT INTO audit_log (at, actor, account_id, backorder_id, domain, old_status, new_status, \
         transfer_id, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(to_micros(now))
    .bind(actor)
    .bind(order.account.0)
    .bind(order.id)
    .bind(&order.domain)
    .bind(old)
    .bind(to.as_str())
    .bind(transfer_id)
    .bind(message)
    .execute(&mut **tx)
    .await?;
    let mut event = NewEvent::new(order.account, EventType::StatusChanged, now, message);
    event.backorder_id = Some(order.id);
    event.domain = Some(order.domain.clone());
    event.old_status = old.map(str::to_string);
    event.new_status = Some(to.as_str().to_string());
    event.failure_reason = reason.map(|r| r.as_str().to_string());
    insert_event(tx, &event).await?;
    Ok(())
}

/// Holds the order's price in its account. `Ok(None)`: funds are short (nothing written).
async fn hold_price(
    tx: &mut Tx,
    order: &Backorder,
    holds_placed: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, OrderError> {
    let request = MovementRequest {
        scope: "scheduler".into(),
        request_id: format!("order:{}:hold:{}", order.id, holds_placed + 1),
        movement: Movement::Hold {
            account: order.account,
            amount: order.price,
            backorder_id: Some(order.id),
        },
        memo: format!("backorder {} {}", order.id, order.domain),
        actor: actor.to_string(),
    };
    match apply_movement(tx, &request, now).await {
        Ok(transfer_id) => {
            sqlx::query("UPDATE backorders SET holds_placed = holds_placed + 1 WHERE id = $1")
                .bind(order.id)
                .execute(&mut **tx)
                .await?;
            Ok(Some(transfer_id))
        }
        Err(LedgerError::InsufficientFunds { .. } | LedgerError::AccountClosed(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

async fn release_hold(
    tx: &mut Tx,
    order: &Backorder,
    actor: &str,
    now: DateTime<Utc>,
    why: &str,
) -> Result<Option<i64>, OrderError> {
    let Some(hold_id) = order.hold_id else {
        return Ok(None);
    };
    let request = MovementRequest {
        scope: "scheduler".into(),
        request_id: format!("order:{}:release:{hold_id}", order.id),
        movement: Movement::Release { hold_id },
        memo: format!("backorder {} {}: {why}", order.id, order.domain),
        actor: actor.to_string(),
    };
    Ok(Some(apply_movement(tx, &request, now).await?))
}

async fn holds_placed(tx: &mut Tx, id: i64) -> StoreResult<i64> {
    let row = sqlx::query("SELECT holds_placed FROM backorders WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(i64::from(row.try_get::<i32, _>("holds_placed")?))
}

fn low_balance_event(order: &Backorder, available: Option<Money>, now: DateTime<Utc>) -> NewEvent {
    let mut event = NewEvent::new(
        order.account,
        EventType::LowBalance,
        now,
        format!(
            "funds short for backorder {} ({}): {} needed{}",
            order.id,
            order.domain,
            order.price,
            available
                .map(|a| format!(", {a} available"))
                .unwrap_or_default()
        ),
    );
    event.backorder_id = Some(order.id);
    event.domain = Some(order.domain.clone());
    event.amount = Some(order.price);
    event.dedupe_key = Some(format!("low_balance:{}", order.id));
    event
}

#[async_trait]
impl OrderStore for SqlStore {
    async fn create_backorder(
        &self,
        new: NewBackorder,
        idempotency: Option<IdempotencyKey>,
        allow_duplicate: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Placement, OrderError> {
        let fingerprint = new.fingerprint();
        for _ in 0..RACE_RETRIES {
            let mut tx = self.begin_write().await?;
            let seen = match &idempotency {
                Some(key) => find_idempotency(&mut tx, &key.scope, &key.request_id).await?,
                None => None,
            };
            if let Some(seen) = seen {
                if seen.operation != "create_backorder" || seen.fingerprint != fingerprint {
                    let id = idempotency.map(|k| k.request_id).unwrap_or_default();
                    return Err(OrderError::IdempotencyConflict(id));
                }
                let id: i64 = seen
                    .result_ref
                    .parse()
                    .map_err(|_| corrupt("idempotency result"))?;
                let order = fetch_order(&mut tx, id).await?;
                let open_for_domain =
                    count_open_in(&mut tx, new.account, new.domain.ascii()).await?;
                return Ok(Placement::Existing {
                    order,
                    open_for_domain,
                });
            }
            if !allow_duplicate {
                let existing = sqlx::query(
                    "SELECT id FROM backorders WHERE account_id = $1 AND domain = $2 AND class = $3 \
                     AND status IN ('REQUESTED', 'ACTIVE') ORDER BY id LIMIT 1",
                )
                .bind(new.account.0)
                .bind(new.domain.ascii())
                .bind(new.class.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = existing {
                    let order = fetch_order(&mut tx, row.try_get("id")?).await?;
                    let open_for_domain =
                        count_open_in(&mut tx, new.account, new.domain.ascii()).await?;
                    return Ok(Placement::Existing {
                        order,
                        open_for_domain,
                    });
                }
            }
            if new.post_drop {
                ensure_daily_deal_open(&mut tx, new.domain.ascii()).await?;
            }
            let id: i64 = sqlx::query(
                "INSERT INTO backorders (account_id, domain, domain_unicode, tld, class, status, price, \
                 currency, post_drop, owner_contact, admin_contact, tech_contact, billing_contact, \
                 auth_code_wish, extensions, client_reference, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'REQUESTED', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
                 RETURNING id",
            )
            .bind(new.account.0)
            .bind(new.domain.ascii())
            .bind(new.domain.unicode())
            .bind(&new.tld)
            .bind(new.class.as_str())
            .bind(new.price.minor)
            .bind(new.price.currency.code())
            .bind(new.post_drop)
            .bind(&new.contacts.owner)
            .bind(&new.contacts.admin)
            .bind(&new.contacts.tech)
            .bind(&new.contacts.billing)
            .bind(&new.auth_code_wish)
            .bind(extensions_text(&new.extensions))
            .bind(&new.client_reference)
            .bind(to_micros(now))
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            let mut order = fetch_order(&mut tx, id).await?;
            let placed = format!("placed {} for {}", order.class.as_str(), order.domain);
            record_change(
                &mut tx,
                &order,
                None,
                Status::Requested,
                None,
                None,
                actor,
                now,
                &placed,
            )
            .await?;
            if new.post_drop {
                // Daily deals hold their price at placement; without the money there is no order.
                let Some(hold) = hold_price(&mut tx, &order, 0, actor, now).await? else {
                    return Err(self.funds_short(&mut tx, &order).await?);
                };
                change_status(
                    &mut tx,
                    &order,
                    Status::Active,
                    None,
                    Some(hold),
                    Some(hold),
                    actor,
                    now,
                    "daily deal: price held at placement",
                )
                .await?;
                order = fetch_order(&mut tx, id).await?;
            }
            if let Some(key) = &idempotency {
                match remember(
                    &mut tx,
                    &key.scope,
                    &key.request_id,
                    "create_backorder",
                    &fingerprint,
                    Ok(&id.to_string()),
                    now,
                )
                .await
                {
                    Ok(()) => {}
                    Err(e) if is_unique_violation(&e) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let open_for_domain = count_open_in(&mut tx, new.account, new.domain.ascii()).await?;
            tx.commit().await?;
            return Ok(Placement::Created {
                order,
                open_for_domain,
            });
        }
        Err(corrupt("idempotency race did not settle").into())
    }

    async fn backorder_for_request(
        &self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<(Backorder, i64)>> {
        let mut tx = self.begin_snapshot().await?;
        let Some(seen) = find_idempotency(&mut tx, &key.scope, &key.request_id).await? else {
            return Ok(None);
        };
        if seen.operation != "create_backorder" {
            return Ok(None);
        }
        let id: i64 = seen
            .result_ref
            .parse()
            .map_err(|_| corrupt("idempotency result"))?;
        let order = fetch_order(&mut tx, id).await?;
        let open = count_open_in(&mut tx, order.account, &order.domain).await?;
        tx.commit().await?;
        Ok(Some((order, open)))
    }

    async fn get_backorder(&self, id: i64) -> StoreResult<Option<Backorder>> {
        let row = sqlx::query(concat!(order_select!(), " WHERE b.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    async fn list_backorders(&self, filter: BackorderFilter) -> StoreResult<(Vec<Backorder>, i64)> {
        fn conditions(query: &mut QueryBuilder<Db>, filter: &BackorderFilter) {
            query.push(" WHERE 1 = 1");
            if let Some(account) = filter.account {
                query.push(" AND b.account_id = ").push_bind(account.0);
            }
            if !filter.statuses.is_empty() {
                query.push(" AND b.status IN (");
                let mut list = query.separated(", ");
                for status in &filter.statuses {
                    list.push_bind(status.as_str());
                }
                query.push(")");
            }
            if let Some(class) = filter.class {
                query.push(" AND b.class = ").push_bind(class.as_str());
            }
            if let Some(pattern) = &filter.domain_like {
                query.push(" AND b.domain LIKE ").push_bind(pattern.clone());
            }
        }
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) AS n FROM backorders b");
        conditions(&mut count, &filter);
        let total: i64 = count.build().fetch_one(&self.pool).await?.try_get("n")?;
        let mut query = QueryBuilder::<Db>::new(order_select!());
        conditions(&mut query, &filter);
        let direction = if filter.descending { "DESC" } else { "ASC" };
        // Unscheduled orders have no finalization time, nor have orders whose TLD's stored
        // leads are out of bounds (their times cannot be computed, see `schedule_of`; the
        // bound also keeps the subtraction below from overflowing): they sort last either way.
        let leads_ok = format!(
            "COALESCE(t.finalization_lead_secs, 7200) BETWEEN 0 AND {MAX_LEAD_SECS} \
             AND COALESCE(t.lock_lead_secs, 259200) BETWEEN 0 AND {MAX_LEAD_SECS}"
        );
        let order_by = match filter.order_by {
            OrderBy::CreateTime => format!(" ORDER BY b.id {direction}"),
            OrderBy::FinalizationTime => format!(
                " ORDER BY CASE WHEN dl.drop_time IS NOT NULL AND {leads_ok} THEN 0 ELSE 1 END, \
                 CASE WHEN {leads_ok} THEN \
                 dl.drop_time - COALESCE(t.finalization_lead_secs, 7200) * 1000000 END {direction}, b.id"
            ),
            OrderBy::Domain => format!(" ORDER BY b.domain {direction}, b.id"),
        };
        query.push(order_by);
        query.push(" LIMIT ").push_bind(limit_of(filter.limit));
        query.push(" OFFSET ").push_bind(i64::from(filter.offset));
        let rows = query.build().fetch_all(&self.pool).await?;
        Ok((
            rows.iter()
                .map(order_from_row)
                .collect::<StoreResult<_>>()?,
            total,
        ))
    }

    async fn count_valid_orders(&self, domain: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM backorders WHERE domain = $1 AND status = 'PROCESSING' \
             AND NOT post_drop",
        )
        .bind(domain)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn domain_schedule(&self, domain: &str, tld: &str) -> StoreResult<Schedule> {
        let row = sqlx::query(
            "SELECT dl.drop_time, dl.removed_at, \
             (SELECT finalization_lead_secs FROM tlds WHERE name = $2) AS fin_lead, \
             (SELECT lock_lead_secs FROM tlds WHERE name = $2) AS lock_lead \
             FROM drop_list dl WHERE dl.domain = $1",
        )
        .bind(domain)
        .bind(tld)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Schedule::Unscheduled);
        };
        Ok(schedule_of(
            row.try_get("drop_time")?,
            row.try_get("removed_at")?,
            row.try_get::<Option<i64>, _>("fin_lead")?.unwrap_or(7200),
            row.try_get::<Option<i64>, _>("lock_lead")?
                .unwrap_or(259_200),
        ))
    }

    async fn cancel_backorder(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Backorder, OrderError> {
        let mut tx = self.begin_write().await?;
        let order = lock_order(&mut tx, id, false)
            .await?
            .ok_or(OrderError::NotFound(id))?;
        if order.status == Status::Cancelled {
            // A retried cancel: the order is already what the caller asked for.
            return Ok(order);
        }
        if !order.status.is_open() {
            return Err(OrderError::NotOpen {
                id,
                status: order.status.as_str(),
                action: "cancel",
            });
        }
        if let Schedule::Listed(times) = order.schedule
            && now >= times.finalization_at
        {
            return Err(OrderError::FinalizationPassed {
                id,
                at: times.finalization_at,
                action: "cancelled",
            });
        }
        let released = release_hold(&mut tx, &order, actor, now, "cancelled").await?;
        change_status(
            &mut tx,
            &order,
            Status::Cancelled,
            None,
            None,
            released,
            actor,
            now,
            "cancelled by the client",
        )
        .await?;
        let order = fetch_order(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    async fn pay_backorder(
        &self,
        id: i64,
        idempotency: Option<IdempotencyKey>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Backorder, OrderError> {
        let fingerprint = format!("pay_backorder|{id}");
        let mut tx = self.begin_write().await?;
        if let Some(key) = &idempotency
            && let Some(seen) = find_idempotency(&mut tx, &key.scope, &key.request_id).await?
        {
            if seen.operation != "pay_backorder" || seen.fingerprint != fingerprint {
                return Err(OrderError::IdempotencyConflict(key.request_id.clone()));
            }
            if seen.outcome != "ok" {
                let (needed, available) = seen
                    .error_message
                    .split_once('|')
                    .ok_or_else(|| corrupt("remembered prepay refusal"))?;
                return Err(OrderError::Ledger(LedgerError::InsufficientFunds {
                    needed: needed.to_string(),
                    available: available.to_string(),
                }));
            }
            return Ok(fetch_order(&mut tx, id).await?);
        }
        let paid = self.pay_in(&mut tx, id, actor, now).await;
        if let Some(key) = &idempotency {
            let outcome = match &paid {
                Ok(_) => Ok(id.to_string()),
                Err(OrderError::Ledger(error @ LedgerError::InsufficientFunds { .. })) => {
                    Err((error.code(), remembered_failure(error).unwrap_or_default()))
                }
                // Other refusals (not found, not open, finalization passed) are not
                // remembered: they depend on nothing a retry could change.
                Err(_) => return paid,
            };
            let outcome = match &outcome {
                Ok(id) => Ok(id.as_str()),
                Err((code, detail)) => Err((*code, detail.as_str())),
            };
            remember(
                &mut tx,
                &key.scope,
                &key.request_id,
                "pay_backorder",
                &fingerprint,
                outcome,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        paid
    }

    async fn update_backorder(
        &self,
        id: i64,
        contacts: Option<Contacts>,
        auth_code_wish: Option<String>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Backorder, OrderError> {
        let mut tx = self.begin_write().await?;
        let order = lock_order(&mut tx, id, false)
            .await?
            .ok_or(OrderError::NotFound(id))?;
        if !order.status.is_open() {
            return Err(OrderError::NotOpen {
                id,
                status: order.status.as_str(),
                action: "a change",
            });
        }
        let contacts = contacts.unwrap_or_else(|| order.contacts.clone());
        let auth = auth_code_wish.unwrap_or_else(|| order.auth_code_wish.clone());
        sqlx::query(
            "UPDATE backorders SET owner_contact = $2, admin_contact = $3, tech_contact = $4, \
             billing_contact = $5, auth_code_wish = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(&contacts.owner)
        .bind(&contacts.admin)
        .bind(&contacts.tech)
        .bind(&contacts.billing)
        .bind(&auth)
        .bind(to_micros(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_log (at, actor, account_id, backorder_id, domain, message) \
             VALUES ($1, $2, $3, $4, $5, 'contacts or auth code wish changed')",
        )
        .bind(to_micros(now))
        .bind(actor)
        .bind(order.account.0)
        .bind(id)
        .bind(&order.domain)
        .execute(&mut *tx)
        .await?;
        let order = fetch_order(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    async fn open_backorders(&self) -> StoreResult<Vec<Backorder>> {
        let rows = sqlx::query(concat!(
            order_select!(),
            " WHERE b.status IN ('REQUESTED', 'ACTIVE') ORDER BY b.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    async fn open_backorders_page(&self, after: i64, limit: u32) -> StoreResult<Vec<Backorder>> {
        let rows = sqlx::query(concat!(
            order_select!(),
            " WHERE b.status IN ('REQUESTED', 'ACTIVE') AND b.id > $1 ORDER BY b.id LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    async fn apply_step(
        &self,
        id: i64,
        step: Step,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<StepOutcome, OrderError> {
        let mut tx = self.begin_write().await?;
        if step.moves_money() {
            // Money steps take the account's balance row first, waiting for it: a replica
            // that skipped a locked order must not fund a later order of the same account
            // before the earlier one is settled. With it the currency's revenue row (the other
            // side of every hold, capture and release), both in the global ledger lock order.
            // Locks are always taken ledger rows, then order (skip-locked, never waiting), so
            // this cannot deadlock.
            let row = sqlx::query(
                "SELECT l.id, l.currency FROM ledger_accounts l \
                 JOIN backorders b ON b.account_id = l.client_account_id WHERE b.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                let client: i64 = row.try_get("id")?;
                let currency = currency_of(&row.try_get::<String, _>("currency")?)?;
                let revenue =
                    book_ledger_account(&mut tx, LedgerAccountKind::Revenue, currency).await?;
                lock_ledger_rows(&mut tx, &[client, revenue.id]).await?;
            }
        }
        let Some(order) = lock_order(&mut tx, id, true).await? else {
            return Ok(StepOutcome::Skipped);
        };
        // Re-decide under the lock: another replica may have handled the order already.
        if lifecycle::next_step(order.status, order.schedule, order.created_at, now) != Some(step) {
            return Ok(StepOutcome::Skipped);
        }
        let outcome = match step {
            Step::PlaceHold => {
                let placed = holds_placed(&mut tx, id).await?;
                match hold_price(&mut tx, &order, placed, actor, now).await? {
                    Some(hold) => {
                        change_status(
                            &mut tx,
                            &order,
                            Status::Active,
                            None,
                            Some(hold),
                            Some(hold),
                            actor,
                            now,
                            "lock window: price held",
                        )
                        .await?;
                        StepOutcome::Moved(Status::Active)
                    }
                    None => {
                        let available = self.balance_in(&mut tx, order.account).await?;
                        let warned =
                            insert_event(&mut tx, &low_balance_event(&order, available, now))
                                .await?
                                .is_some();
                        StepOutcome::FundsShort { warned }
                    }
                }
            }
            Step::CatchUp => self.catch_up(&mut tx, &order, actor, now).await?,
            Step::Finalize => {
                change_status(
                    &mut tx,
                    &order,
                    Status::Processing,
                    None,
                    order.hold_id,
                    None,
                    actor,
                    now,
                    "finalization: valid order, catch under way",
                )
                .await?;
                StepOutcome::Moved(Status::Processing)
            }
            Step::Unfunded => {
                change_status(
                    &mut tx,
                    &order,
                    Status::Failed,
                    Some(FailureReason::Unfunded),
                    None,
                    None,
                    actor,
                    now,
                    "finalization passed before the order was placed (the drop list had \
                     another time, or none, then): no hold",
                )
                .await?;
                StepOutcome::Moved(Status::Failed)
            }
            Step::Sleep => {
                let released = release_hold(&mut tx, &order, actor, now, "domain restored").await?;
                change_status(
                    &mut tx,
                    &order,
                    Status::Requested,
                    None,
                    None,
                    released,
                    actor,
                    now,
                    "domain restored by its registrant: hold released, order sleeps",
                )
                .await?;
                StepOutcome::Moved(Status::Requested)
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }
}

impl SqlStore {
    /// The pass that applies finalization to a REQUESTED order placed before it tries the
    /// hold one last time, with the funds available now, as a pass in the lock window would
    /// have (`Step::CatchUp`): held, the order is finalized in the same transaction (two
    /// audited changes, two events: ACTIVE, then PROCESSING); short, it is FAILED(UNFUNDED)
    /// with the amounts in the message and no LOW_BALANCE (the window is over, nothing can
    /// be done about it any more).
    async fn catch_up(
        &self,
        tx: &mut Tx,
        order: &Backorder,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<StepOutcome, OrderError> {
        let placed = holds_placed(tx, order.id).await?;
        let Some(hold) = hold_price(tx, order, placed, actor, now).await? else {
            let available = self.balance_in(tx, order.account).await?;
            let message = format!(
                "finalization passed without funds held: {} needed{}",
                order.price,
                available
                    .map(|a| format!(", {a} available"))
                    .unwrap_or_default()
            );
            change_status(
                tx,
                order,
                Status::Failed,
                Some(FailureReason::Unfunded),
                None,
                None,
                actor,
                now,
                &message,
            )
            .await?;
            return Ok(StepOutcome::Moved(Status::Failed));
        };
        change_status(
            tx,
            order,
            Status::Active,
            None,
            Some(hold),
            Some(hold),
            actor,
            now,
            "finalization: price held at the last try (no pass held it in the lock window)",
        )
        .await?;
        let held = fetch_order(tx, order.id).await?;
        change_status(
            tx,
            &held,
            Status::Processing,
            None,
            Some(hold),
            None,
            actor,
            now,
            "finalization: valid order, catch under way",
        )
        .await?;
        Ok(StepOutcome::HeldAndFinalized)
    }

    /// Prepay inside the caller's transaction: nothing is written when it is refused.
    async fn pay_in(
        &self,
        tx: &mut Tx,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Backorder, OrderError> {
        let order = lock_order(tx, id, false)
            .await?
            .ok_or(OrderError::NotFound(id))?;
        match order.status {
            // Already paid: a retry gets the same answer.
            Status::Active => return Ok(order),
            Status::Requested => {}
            other => {
                return Err(OrderError::NotOpen {
                    id,
                    status: other.as_str(),
                    action: "prepay",
                });
            }
        }
        if let Schedule::Listed(times) = order.schedule
            && now >= times.finalization_at
        {
            return Err(OrderError::FinalizationPassed {
                id,
                at: times.finalization_at,
                action: "prepaid",
            });
        }
        let placed = holds_placed(tx, id).await?;
        let Some(hold) = hold_price(tx, &order, placed, actor, now).await? else {
            return Err(self.funds_short(tx, &order).await?);
        };
        change_status(
            tx,
            &order,
            Status::Active,
            None,
            Some(hold),
            Some(hold),
            actor,
            now,
            "prepaid: price held",
        )
        .await?;
        Ok(fetch_order(tx, id).await?)
    }

    /// The refusal for an order whose price the account cannot hold now.
    async fn funds_short(&self, tx: &mut Tx, order: &Backorder) -> StoreResult<OrderError> {
        let available = self.balance_in(tx, order.account).await?;
        Ok(OrderError::Ledger(LedgerError::InsufficientFunds {
            needed: order.price.to_string(),
            available: available.map(|a| a.to_string()).unwrap_or_default(),
        }))
    }

    async fn balance_in(&self, tx: &mut Tx, account: AccountId) -> StoreResult<Option<Money>> {
        let row = sqlx::query(
            "SELECT currency, debits_pending, debits_posted, credits_pending, credits_posted \
             FROM ledger_accounts WHERE client_account_id = $1",
        )
        .bind(account.0)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(|row| {
            let currency = currency_of(&row.try_get::<String, _>("currency")?)?;
            Ok(Money::new(currency, counters_from_row(&row)?.available()))
        })
        .transpose()
    }
}
