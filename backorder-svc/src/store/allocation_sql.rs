// Allocation of a drop's result, shared by both backends: `include!`d after `orders_sql.rs`.
// `record_catch` (catching_sql.rs) calls `allocate_drop` inside its transaction, right after
// writing the catch row, so a result and what it does to the orders commit together.

use super::catching::{Allocated, CatchOutcome};
use crate::domain::allocation::{self, Candidate};

/// The catch row just written, as allocation needs it.
#[derive(Debug, Clone)]
struct RecordedCatch {
    id: i64,
    domain: String,
    outcome: CatchOutcome,
}

/// The valid orders of a domain (PROCESSING: held before finalization, or daily deals held
/// at placement), locked for this transaction, earliest first.
async fn lock_valid_orders(tx: &mut Tx, domain: &str) -> StoreResult<Vec<Backorder>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{} WHERE b.domain = $1 AND b.status = 'PROCESSING' ORDER BY b.created_at, b.id{ORDER_LOCK}",
        order_select!()
    )))
    .bind(domain)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(order_from_row).collect()
}

async fn auctions_allowed(tx: &mut Tx, tld: &str) -> StoreResult<bool> {
    let row = sqlx::query("SELECT first_come_first_served FROM tlds WHERE name = $1")
        .bind(tld)
        .fetch_optional(&mut **tx)
        .await?;
    // A TLD missing from the catalog cannot have orders; FCFS is the safe reading.
    Ok(match row {
        Some(row) => !row.try_get::<bool, _>("first_come_first_served")?,
        None => false,
    })
}

/// Posts an order's whole hold: the fee is charged.
async fn capture_hold(
    tx: &mut Tx,
    order: &Backorder,
    actor: &str,
    now: DateTime<Utc>,
    why: &str,
) -> Result<i64, OrderError> {
    let hold_id = order
        .hold_id
        .ok_or_else(|| corrupt(format!("order {} has no hold to capture", order.id)))?;
    let request = MovementRequest {
        scope: "scheduler".into(),
        request_id: format!("order:{}:capture:{hold_id}", order.id),
        movement: Movement::Capture {
            hold_id,
            amount: None,
        },
        memo: format!("backorder {} {}: {why}", order.id, order.domain),
        actor: actor.to_string(),
    };
    Ok(apply_movement(tx, &request, now).await?)
}

/// Fails an order that will not get the domain: its hold released, nothing charged.
async fn fail_order(
    tx: &mut Tx,
    order: &Backorder,
    reason: FailureReason,
    actor: &str,
    now: DateTime<Utc>,
    message: &str,
) -> Result<(), OrderError> {
    let released = release_hold(tx, order, actor, now, message).await?;
    change_status(
        tx,
        order,
        Status::Failed,
        Some(reason),
        None,
        released,
        actor,
        now,
        message,
    )
    .await
}

/// Gives a caught domain to the order that won it, with the registry's auth code.
async fn assign_domain(
    tx: &mut Tx,
    order: &Backorder,
    catch_id: i64,
    now: DateTime<Utc>,
) -> Result<(), OrderError> {
    let row = sqlx::query("SELECT registrar, auth_code FROM catches WHERE id = $1")
        .bind(catch_id)
        .fetch_one(&mut **tx)
        .await?;
    let registrar: Option<String> = row.try_get("registrar")?;
    let auth_code: Option<String> = row.try_get("auth_code")?;
    let (Some(registrar), Some(auth_code)) = (registrar, auth_code) else {
        return Err(corrupt(format!("catch {catch_id} assigned but not caught")).into());
    };
    sqlx::query(
        "INSERT INTO assigned_domains (domain, domain_unicode, account_id, order_id, catch_id, \
         registrar, auth_code, assigned_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&order.domain)
    .bind(&order.domain_unicode)
    .bind(order.account.0)
    .bind(order.id)
    .bind(catch_id)
    .bind(&registrar)
    .bind(&auth_code)
    .bind(to_micros(now))
    .execute(&mut **tx)
    .await?;
    let mut event = NewEvent::new(
        order.account,
        EventType::DomainAssigned,
        now,
        format!(
            "{} is yours (backorder {}): read its auth code with GetDomain",
            order.domain_unicode, order.id
        ),
    );
    event.backorder_id = Some(order.id);
    event.domain = Some(order.domain.clone());
    insert_event(tx, &event).await?;
    Ok(())
}

async fn allocate_drop(
    tx: &mut Tx,
    catch: &RecordedCatch,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Allocated, OrderError> {
    let orders = lock_valid_orders(tx, &catch.domain).await?;
    // Every capture and release below is on these orders' holds: their ledger rows are taken
    // now, in the global order, so the movements take no further ledger locks.
    let holds: Vec<i64> = orders.iter().filter_map(|order| order.hold_id).collect();
    let rows = hold_ledger_rows(tx, &holds).await?;
    lock_ledger_rows(tx, &rows).await?;
    let failure = match catch.outcome {
        CatchOutcome::Caught { .. } => None,
        CatchOutcome::NotCaught => Some((
            FailureReason::NotCaught,
            "the domain was registered by someone else",
        )),
        CatchOutcome::NotDropped => Some((
            FailureReason::DomainNotDropped,
            "the domain never became available",
        )),
    };
    if let Some((reason, message)) = failure {
        for order in &orders {
            fail_order(tx, order, reason, actor, now, message).await?;
        }
        return Ok(Allocated::Failed {
            orders: u32::try_from(orders.len()).unwrap_or(u32::MAX),
        });
    }
    let Some(first) = orders.first() else {
        return Ok(Allocated::Unallocated);
    };
    let candidates: Vec<Candidate> = orders
        .iter()
        .map(|order| Candidate {
            order_id: order.id,
            account: order.account,
            class: order.class,
            created_at: order.created_at,
        })
        .collect();
    let decision = allocation::allocate(&candidates, auctions_allowed(tx, &first.tld).await?);
    let by_id = |id: i64| {
        orders
            .iter()
            .find(|order| order.id == id)
            .ok_or_else(|| corrupt(format!("allocation named unknown order {id}")))
    };
    let lost = u32::try_from(decision.lost_to_priority.len()).unwrap_or(u32::MAX);
    for &id in &decision.lost_to_priority {
        let message = "another order has priority for this domain";
        fail_order(
            tx,
            by_id(id)?,
            FailureReason::LostToPriority,
            actor,
            now,
            message,
        )
        .await?;
    }
    if let Some(id) = decision.winner {
        let order = by_id(id)?;
        let captured = capture_hold(tx, order, actor, now, "caught: fee charged").await?;
        change_status(
            tx,
            order,
            Status::Successful,
            None,
            None,
            Some(captured),
            actor,
            now,
            "caught and given to this order: fee charged",
        )
        .await?;
        assign_domain(tx, order, catch.id, now).await?;
        return Ok(Allocated::Assigned {
            order_id: id,
            lost_to_priority: lost,
        });
    }
    if decision.seats.is_empty() {
        return Ok(Allocated::Unallocated);
    }
    let seats = decision
        .seats
        .iter()
        .map(|&id| by_id(id).cloned())
        .collect::<StoreResult<Vec<_>>>()?;
    let auction_id = open_auction(tx, catch.id, &seats, actor, now).await?;
    Ok(Allocated::Auction {
        auction_id,
        seats: u32::try_from(seats.len()).unwrap_or(u32::MAX),
        lost_to_priority: lost,
    })
}
