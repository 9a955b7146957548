// Private auctions and assigned domains, shared by both backends: `include!`d after
// `allocation_sql.rs`. The bidding rules are `domain::auction`'s; this file stores seats and
// accepted bids, and closes, collects, defaults and settles auctions, each in one transaction
// with its ledger movements, audit rows and events. `AUCTION_LOCK` (per backend) keeps
// concurrent writers off one auction.

use super::auctions::{
    AssignedDomain, AuctionError, AuctionPhase, AuctionRecord, AuctionStep, AuctionStore,
    BidRecord, PaymentSource, SeatRecord,
};
use crate::domain::auction::{self, Bid, IncrementTable, Rules, Seat, Window, Winner};
use crate::domain::ledger::Payer;

/// The winner's time to pay (spec: 7 days), from the close or from the recompute after a
/// default.
const PAYMENT_WINDOW: chrono::Duration = chrono::Duration::days(7);
const SETTINGS_KEY: &str = "auction_settings";

/// The settings as kept in `meta`: `currency;opening;increments;length_secs;soft_close_secs;start_hour`.
fn settings_text(rules: &Rules) -> String {
    format!(
        "{};{};{};{};{};{}",
        rules.currency.code(),
        rules.opening_bid,
        rules.increments,
        rules.length.num_seconds(),
        rules.soft_close.num_seconds(),
        rules.start_hour_utc
    )
}

fn settings_of(text: &str) -> StoreResult<Rules> {
    let bad = || corrupt(format!("auction settings {text:?}"));
    let parts: Vec<&str> = text.split(';').collect();
    let [
        currency,
        opening,
        increments,
        length,
        soft_close,
        start_hour,
    ] = parts[..]
    else {
        return Err(bad());
    };
    let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
    Ok(Rules {
        currency: currency_of(currency)?,
        opening_bid: number(opening)?,
        increments: increments.parse().map_err(|_| bad())?,
        length: stored_duration(number(length)?).ok_or_else(bad)?,
        soft_close: stored_duration(number(soft_close)?).ok_or_else(bad)?,
        start_hour_utc: u32::try_from(number(start_hour)?).map_err(|_| bad())?,
    })
}

/// An auction duration as stored (seconds): 0 to 365 days, so that moving an end or a
/// deadline by it can never leave chrono's range (a corrupt row is an error, not a panic).
fn stored_duration(secs: i64) -> Option<chrono::Duration> {
    (0..=crate::domain::lifecycle::MAX_LEAD_SECS)
        .contains(&secs)
        .then(|| chrono::Duration::seconds(secs))
}

async fn auction_settings(tx: &mut Tx) -> StoreResult<Rules> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(SETTINGS_KEY)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(row) => settings_of(&row.try_get::<String, _>("value")?),
        None => Ok(Rules::default()),
    }
}

fn auction_event(
    account: AccountId,
    kind: EventType,
    auction: i64,
    order: i64,
    domain: &str,
    now: DateTime<Utc>,
    message: String,
) -> NewEvent {
    let mut event = NewEvent::new(account, kind, now, message);
    event.auction_id = Some(auction);
    event.backorder_id = Some(order);
    event.domain = Some(domain.to_string());
    event
}

/// Opens a private auction with a seat for each order (already locked, PROCESSING): each
/// moves to AUCTION_PENDING keeping its fee hold, and is invited.
async fn open_auction(
    tx: &mut Tx,
    catch_id: i64,
    orders: &[Backorder],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<i64, OrderError> {
    let rules = auction_settings(tx).await?;
    let currency = rules.currency;
    let domain = &orders[0].domain;
    let Window { start, end } = Window::after_catch(now, &rules);
    let id: i64 = sqlx::query(
        "INSERT INTO auctions (domain, catch_id, currency, opening_bid, increments, soft_close_secs, \
         start_time, end_time, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'OPEN', $9) RETURNING id",
    )
    .bind(domain)
    .bind(catch_id)
    .bind(currency.code())
    .bind(rules.opening_bid)
    .bind(rules.increments.to_string())
    .bind(rules.soft_close.num_seconds())
    .bind(to_micros(start))
    .bind(to_micros(end))
    .bind(to_micros(now))
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    let opening = Money::new(currency, rules.opening_bid);
    for order in orders {
        sqlx::query(
            "INSERT INTO auction_seats (order_id, auction_id, account_id, ordered_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(order.id)
        .bind(id)
        .bind(order.account.0)
        .bind(to_micros(order.created_at))
        .execute(&mut **tx)
        .await?;
        let message = format!("{} valid orders: private auction {id} opened", orders.len());
        change_status(
            tx,
            order,
            Status::AuctionPending,
            None,
            order.hold_id,
            None,
            actor,
            now,
            &message,
        )
        .await?;
        insert_event(
            tx,
            &auction_event(
                order.account,
                EventType::AuctionInvitation,
                id,
                order.id,
                domain,
                now,
                format!(
                    "auction {id} for {}: {} seats, bidding from {start} to {end}, opening bid {opening}",
                    order.domain_unicode,
                    orders.len()
                ),
            ),
        )
        .await?;
    }
    Ok(id)
}

async fn load_auction(tx: &mut Tx, id: i64, lock: bool) -> StoreResult<Option<AuctionRecord>> {
    let lock = if lock { AUCTION_LOCK } else { "" };
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM auctions WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(None);
    };
    let seats = sqlx::query(
        "SELECT order_id, account_id, ordered_at, defaulted FROM auction_seats \
         WHERE auction_id = $1 ORDER BY ordered_at, order_id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|row| {
        Ok(SeatRecord {
            seat: Seat {
                order_id: row.try_get("order_id")?,
                account: AccountId(row.try_get("account_id")?),
                created_at: from_micros(row.try_get("ordered_at")?),
            },
            defaulted: row.try_get("defaulted")?,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let bids = sqlx::query(
        "SELECT id, order_id, maximum, placed_at, removed FROM auction_bids \
         WHERE auction_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|row| {
        Ok(BidRecord {
            id: row.try_get("id")?,
            bid: Bid {
                seat: row.try_get("order_id")?,
                maximum: row.try_get("maximum")?,
                placed_at: from_micros(row.try_get("placed_at")?),
            },
            removed: row.try_get("removed")?,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let phase: String = row.try_get("state")?;
    let increments: String = row.try_get("increments")?;
    let start_time = from_micros(row.try_get("start_time")?);
    let end_time = from_micros(row.try_get("end_time")?);
    let currency = currency_of(&row.try_get::<String, _>("currency")?)?;
    Ok(Some(AuctionRecord {
        id,
        domain: row.try_get("domain")?,
        currency,
        rules: Rules {
            currency,
            opening_bid: row.try_get("opening_bid")?,
            increments: increments
                .parse::<IncrementTable>()
                .map_err(|_| corrupt(format!("increments {increments:?}")))?,
            length: end_time - start_time,
            soft_close: stored_duration(row.try_get("soft_close_secs")?)
                .ok_or_else(|| corrupt(format!("auction {id}: soft close")))?,
            start_hour_utc: Rules::default().start_hour_utc,
        },
        start_time,
        end_time,
        phase: AuctionPhase::from_db(&phase).ok_or_else(|| corrupt(format!("state {phase:?}")))?,
        winner_order_id: row.try_get("winner_order_id")?,
        price: row.try_get("price")?,
        payment_deadline: row
            .try_get::<Option<i64>, _>("payment_deadline")?
            .map(from_micros),
        seats,
        bids,
    }))
}

async fn auction_audit(
    tx: &mut Tx,
    auction: &AuctionRecord,
    order: Option<i64>,
    account: Option<AccountId>,
    actor: &str,
    now: DateTime<Utc>,
    message: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, account_id, backorder_id, domain, message) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(to_micros(now))
    .bind(actor)
    .bind(account.map(|a| a.0))
    .bind(order)
    .bind(&auction.domain)
    .bind(format!("auction {}: {message}", auction.id))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets the result the proxy rules give from the live seats and bids: the winner owes the
/// price within the payment window. With nobody left, the auction settles without a winner.
async fn decide_result(
    tx: &mut Tx,
    auction: &AuctionRecord,
    actor: &str,
    now: DateTime<Utc>,
    decided_at: DateTime<Utc>,
) -> Result<Option<(i64, i64)>, AuctionError> {
    let result = auction::result(&auction.rules, &auction.live_seats(), &auction.live_bids());
    let Some(Winner {
        seat: winner,
        price,
    }) = result
    else {
        sqlx::query("UPDATE auctions SET state = 'SETTLED', winner_order_id = NULL WHERE id = $1")
            .bind(auction.id)
            .execute(&mut **tx)
            .await?;
        auction_audit(
            tx,
            auction,
            None,
            None,
            actor,
            now,
            "no seat left: the platform keeps the domain",
        )
        .await?;
        return Ok(None);
    };
    let deadline = decided_at + PAYMENT_WINDOW;
    sqlx::query(
        "UPDATE auctions SET state = 'AWAITING_PAYMENT', winner_order_id = $2, price = $3, \
         payment_deadline = $4 WHERE id = $1",
    )
    .bind(auction.id)
    .bind(winner)
    .bind(price)
    .bind(to_micros(deadline))
    .execute(&mut **tx)
    .await?;
    let owed = Money::new(auction.currency, price);
    let seat = auction
        .seat(winner)
        .ok_or_else(|| corrupt(format!("winner {winner} is not a seat")))?;
    let account = seat.seat.account;
    auction_audit(
        tx,
        auction,
        Some(winner),
        Some(account),
        actor,
        now,
        &format!("won by backorder {winner} at {owed}, payable by {deadline}"),
    )
    .await?;
    insert_event(
        tx,
        &auction_event(
            account,
            EventType::AuctionWon,
            auction.id,
            winner,
            &auction.domain,
            now,
            format!(
                "you won auction {} for {} at {owed}; pay by {deadline}",
                auction.id, auction.domain
            ),
        ),
    )
    .await?;
    Ok(Some((winner, price)))
}

/// Settles a paid auction: the winner's order AUCTION_WON with its fee captured and the
/// domain assigned; every other seat still pending AUCTION_LOST with its hold released.
async fn settle(
    tx: &mut Tx,
    auction: &AuctionRecord,
    winner: i64,
    payment: Option<i64>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), AuctionError> {
    // The seats' holds are captured or released below: their ledger rows first, in the
    // global order (already held when `collect` took them with the payment's).
    let rows = seat_ledger_rows(tx, auction).await?;
    lock_ledger_rows(tx, &rows).await?;
    for seat in &auction.seats {
        let Some(order) = lock_order(tx, seat.seat.order_id, false).await? else {
            return Err(corrupt(format!("seat {} has no order", seat.seat.order_id)).into());
        };
        if order.status != Status::AuctionPending {
            continue;
        }
        if order.id == winner {
            let captured =
                capture_hold(tx, &order, actor, now, "auction won and paid: fee charged").await?;
            change_status(
                tx,
                &order,
                Status::AuctionWon,
                None,
                None,
                Some(captured),
                actor,
                now,
                "auction won and paid: fee charged",
            )
            .await?;
            let catch_id: i64 = sqlx::query("SELECT catch_id FROM auctions WHERE id = $1")
                .bind(auction.id)
                .fetch_one(&mut **tx)
                .await?
                .try_get("catch_id")?;
            assign_domain(tx, &order, catch_id, now).await?;
        } else {
            let released = release_hold(tx, &order, actor, now, "auction lost").await?;
            change_status(
                tx,
                &order,
                Status::AuctionLost,
                None,
                None,
                released,
                actor,
                now,
                "another seat won the auction",
            )
            .await?;
            insert_event(
                tx,
                &auction_event(
                    order.account,
                    EventType::AuctionLost,
                    auction.id,
                    order.id,
                    &auction.domain,
                    now,
                    format!(
                        "auction {} for {} went to another seat",
                        auction.id, auction.domain
                    ),
                ),
            )
            .await?;
        }
    }
    sqlx::query("UPDATE auctions SET state = 'SETTLED', payment_transfer_id = $2 WHERE id = $1")
        .bind(auction.id)
        .bind(payment)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The ledger rows of the holds of an auction's seats (client and revenue rows).
async fn seat_ledger_rows(tx: &mut Tx, auction: &AuctionRecord) -> StoreResult<Vec<i64>> {
    let mut holds = Vec::with_capacity(auction.seats.len());
    for seat in &auction.seats {
        let hold: Option<Option<i64>> = sqlx::query("SELECT hold_id FROM backorders WHERE id = $1")
            .bind(seat.seat.order_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|row| row.try_get("hold_id"))
            .transpose()?;
        holds.extend(hold.flatten());
    }
    hold_ledger_rows(tx, &holds).await
}

/// Collects the price owed: from the winner's balance (`Balance`: only in the auction's
/// currency; `Ok(false)` when funds are short) or as confirmed paid outside. A free win
/// settles without a transfer.
async fn collect(
    tx: &mut Tx,
    auction: &AuctionRecord,
    winner: i64,
    price: i64,
    source: &PaymentSource,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool, AuctionError> {
    let seat = auction
        .seat(winner)
        .ok_or_else(|| corrupt(format!("winner {winner} is not a seat")))?;
    let account = seat.seat.account;
    let mut payment = None;
    if price > 0 {
        let payer = match source {
            PaymentSource::Balance => {
                let currency = fetch_account(tx, account.0)
                    .await?
                    .ok_or_else(|| corrupt(format!("account {account} missing")))?
                    .currency;
                if currency != auction.currency {
                    return Err(AuctionError::PaymentCurrency {
                        id: auction.id,
                        account: currency.code().to_string(),
                        auction: auction.currency.code().to_string(),
                    });
                }
                Payer::Client(account)
            }
            PaymentSource::Outside { .. } => Payer::Outside,
        };
        let memo = match source {
            PaymentSource::Balance => format!("auction {} for {}", auction.id, auction.domain),
            PaymentSource::Outside { memo } => {
                format!(
                    "auction {} for {}, paid outside: {memo}",
                    auction.id, auction.domain
                )
            }
        };
        let request = MovementRequest {
            scope: "auctions".into(),
            request_id: format!("auction:{}:payment:{winner}", auction.id),
            movement: Movement::AuctionPayment {
                payer,
                amount: Money::new(auction.currency, price),
                backorder_id: Some(winner),
            },
            memo,
            actor: actor.to_string(),
        };
        // The payment's rows and every seat's hold rows, in the global order, before the
        // first of this transaction's movements.
        let mut rows = seat_ledger_rows(tx, auction).await?;
        rows.push(match payer {
            Payer::Client(account) => client_ledger_account(tx, account).await?.id,
            Payer::Outside => {
                book_ledger_account(tx, LedgerAccountKind::Cash, auction.currency)
                    .await?
                    .id
            }
        });
        rows.push(
            book_ledger_account(tx, LedgerAccountKind::AuctionProceeds, auction.currency)
                .await?
                .id,
        );
        lock_ledger_rows(tx, &rows).await?;
        match apply_movement(tx, &request, now).await {
            Ok(transfer) => payment = Some(transfer),
            Err(LedgerError::InsufficientFunds { .. } | LedgerError::AccountClosed(_)) => {
                return Ok(false);
            }
            Err(other) => return Err(other.into()),
        }
    }
    settle(tx, auction, winner, payment, actor, now).await?;
    Ok(true)
}

/// The scheduler's collection: from the winner's balance when it holds the auction's
/// currency; a winner paying in another currency waits for the operator (not an error).
async fn collect_from_balance(
    tx: &mut Tx,
    auction: &AuctionRecord,
    winner: i64,
    price: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool, AuctionError> {
    match collect(
        tx,
        auction,
        winner,
        price,
        &PaymentSource::Balance,
        actor,
        now,
    )
    .await
    {
        Err(AuctionError::PaymentCurrency { .. }) => Ok(false),
        other => other,
    }
}

/// The winner did not pay in time: its order fails, its account's bids are removed, and the
/// result is recomputed from what is left with a fresh deadline.
async fn default_winner(
    tx: &mut Tx,
    auction: &AuctionRecord,
    winner: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<(i64, i64)>, AuctionError> {
    let order = lock_order(tx, winner, false)
        .await?
        .ok_or_else(|| corrupt(format!("winner {winner} has no order")))?;
    fail_order(
        tx,
        &order,
        FailureReason::PaymentDefault,
        actor,
        now,
        "auction won but not paid in time",
    )
    .await?;
    sqlx::query("UPDATE auction_seats SET defaulted = TRUE WHERE order_id = $1")
        .bind(winner)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE auction_bids SET removed = TRUE WHERE auction_id = $1 AND order_id IN \
         (SELECT order_id FROM auction_seats WHERE auction_id = $1 AND account_id = $2)",
    )
    .bind(auction.id)
    .bind(order.account.0)
    .execute(&mut **tx)
    .await?;
    auction_audit(
        tx,
        auction,
        Some(winner),
        Some(order.account),
        actor,
        now,
        "payment default: the defaulter's bids removed, result recomputed",
    )
    .await?;
    let remaining = load_auction(tx, auction.id, false)
        .await?
        .ok_or(AuctionError::NotFound(auction.id))?;
    decide_result(tx, &remaining, actor, now, now).await
}

fn domain_from_row(row: &DbRow) -> StoreResult<AssignedDomain> {
    Ok(AssignedDomain {
        id: row.try_get("id")?,
        domain: row.try_get("domain")?,
        domain_unicode: row.try_get("domain_unicode")?,
        account: AccountId(row.try_get("account_id")?),
        order_id: row.try_get("order_id")?,
        registrar: row.try_get("registrar")?,
        auth_code: row.try_get("auth_code")?,
        assigned_at: from_micros(row.try_get("assigned_at")?),
    })
}

#[async_trait]
impl AuctionStore for SqlStore {
    async fn set_auction_settings(&self, rules: &Rules) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(SETTINGS_KEY)
        .bind(settings_text(rules))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_auction(&self, id: i64) -> StoreResult<Option<AuctionRecord>> {
        let mut tx = self.begin_snapshot().await?;
        let auction = load_auction(&mut tx, id, false).await?;
        tx.commit().await?;
        Ok(auction)
    }

    async fn list_auctions(
        &self,
        account: Option<AccountId>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AuctionRecord>, i64)> {
        let mut tx = self.begin_snapshot().await?;
        let filter =
            "($1 IS NULL OR id IN (SELECT auction_id FROM auction_seats WHERE account_id = $1))";
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM auctions WHERE {filter}"
        )))
        .bind(account.map(|a| a.0))
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        let ids: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM auctions WHERE {filter} ORDER BY id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(account.map(|a| a.0))
        .bind(limit_of(limit))
        .bind(i64::from(offset))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut auctions = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(auction) = load_auction(&mut tx, id, false).await? {
                auctions.push(auction);
            }
        }
        tx.commit().await?;
        Ok((auctions, total))
    }

    async fn place_bid(
        &self,
        auction_id: i64,
        order_id: i64,
        maximum: Money,
        idempotency: Option<IdempotencyKey>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AuctionRecord, AuctionError> {
        let fingerprint = format!("place_bid|{auction_id}|{order_id}|{maximum}");
        let mut tx = self.begin_write().await?;
        let auction = load_auction(&mut tx, auction_id, true)
            .await?
            .ok_or(AuctionError::NotFound(auction_id))?;
        if let Some(key) = &idempotency
            && let Some(seen) = find_idempotency(&mut tx, &key.scope, &key.request_id).await?
        {
            if seen.operation != "place_bid" || seen.fingerprint != fingerprint {
                return Err(AuctionError::IdempotencyConflict(key.request_id.clone()));
            }
            // A retry: the bid was taken the first time.
            return Ok(auction);
        }
        let seat = auction.seat(order_id).ok_or(AuctionError::NotASeat {
            auction: auction_id,
            order: order_id,
        })?;
        if seat.defaulted {
            return Err(AuctionError::SeatDefaulted(order_id));
        }
        if maximum.currency != auction.currency {
            return Err(AuctionError::CurrencyMismatch {
                expected: auction.currency.code().to_string(),
                given: maximum.currency.code().to_string(),
            });
        }
        let account = seat.seat.account;
        let end = if auction.phase == AuctionPhase::Open {
            auction.end_time
        } else {
            // Closed already: the engine refuses a bid at or after the end.
            auction.end_time.min(now)
        };
        let window = Window {
            start: auction.start_time,
            end,
        };
        let accepted = auction::place_bid(
            &auction.rules,
            &auction.live_seats(),
            &auction.live_bids(),
            window,
            order_id,
            maximum.minor,
            now,
        )?;
        let bid_id: i64 = sqlx::query(
            "INSERT INTO auction_bids (auction_id, order_id, maximum, placed_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(auction_id)
        .bind(order_id)
        .bind(maximum.minor)
        .bind(to_micros(now))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        auction_audit(
            &mut tx,
            &auction,
            Some(order_id),
            Some(account),
            actor,
            now,
            &format!("bid {bid_id}: maximum {maximum}"),
        )
        .await?;
        if let Some(outbid) = accepted.outbid
            && let Some(loser) = auction.seat(outbid)
        {
            let price = Money::new(auction.currency, accepted.standing.price);
            insert_event(
                &mut tx,
                &auction_event(
                    loser.seat.account,
                    EventType::AuctionOutbid,
                    auction_id,
                    outbid,
                    &auction.domain,
                    now,
                    format!(
                        "outbid in auction {auction_id} for {}: the price is now {price}",
                        auction.domain
                    ),
                ),
            )
            .await?;
        }
        if accepted.extended {
            sqlx::query("UPDATE auctions SET end_time = $2 WHERE id = $1")
                .bind(auction_id)
                .bind(to_micros(accepted.window.end))
                .execute(&mut *tx)
                .await?;
            for seat in auction.seats.iter().filter(|s| !s.defaulted) {
                insert_event(
                    &mut tx,
                    &auction_event(
                        seat.seat.account,
                        EventType::AuctionExtended,
                        auction_id,
                        seat.seat.order_id,
                        &auction.domain,
                        now,
                        format!(
                            "auction {auction_id} for {}: a late bid moved the end to {}",
                            auction.domain, accepted.window.end
                        ),
                    ),
                )
                .await?;
            }
        }
        if let Some(key) = &idempotency {
            remember(
                &mut tx,
                &key.scope,
                &key.request_id,
                "place_bid",
                &fingerprint,
                Ok(&bid_id.to_string()),
                now,
            )
            .await?;
        }
        let auction = load_auction(&mut tx, auction_id, false)
            .await?
            .ok_or(AuctionError::NotFound(auction_id))?;
        tx.commit().await?;
        Ok(auction)
    }

    async fn pay_auction(
        &self,
        auction_id: i64,
        source: PaymentSource,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AuctionRecord, AuctionError> {
        let mut tx = self.begin_write().await?;
        let auction = load_auction(&mut tx, auction_id, true)
            .await?
            .ok_or(AuctionError::NotFound(auction_id))?;
        match (auction.phase, auction.winner_order_id, auction.price) {
            // Paid already: a retry gets the settled auction.
            (AuctionPhase::Settled, Some(_), _) => return Ok(auction),
            (AuctionPhase::AwaitingPayment, Some(winner), Some(price)) => {
                if !collect(&mut tx, &auction, winner, price, &source, actor, now).await? {
                    let account = auction
                        .seat(winner)
                        .ok_or_else(|| corrupt(format!("winner {winner} is not a seat")))?
                        .seat
                        .account;
                    let available = self.balance_in(&mut tx, account).await?;
                    return Err(AuctionError::Ledger(LedgerError::InsufficientFunds {
                        needed: Money::new(auction.currency, price).to_string(),
                        available: available.map(|a| a.to_string()).unwrap_or_default(),
                    }));
                }
            }
            (phase, _, _) => {
                return Err(AuctionError::NotAwaitingPayment {
                    id: auction_id,
                    phase: phase.as_str(),
                    action: "payment",
                });
            }
        }
        let auction = load_auction(&mut tx, auction_id, false)
            .await?
            .ok_or(AuctionError::NotFound(auction_id))?;
        tx.commit().await?;
        Ok(auction)
    }

    async fn auctions_due(&self, now: DateTime<Utc>) -> StoreResult<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT id FROM auctions WHERE (state = 'OPEN' AND end_time <= $1) \
             OR state = 'AWAITING_PAYMENT' ORDER BY id",
        )
        .bind(to_micros(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    async fn advance_auction(
        &self,
        auction_id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AuctionStep, AuctionError> {
        let mut tx = self.begin_write().await?;
        let auction = load_auction(&mut tx, auction_id, true)
            .await?
            .ok_or(AuctionError::NotFound(auction_id))?;
        let step = match (auction.phase, auction.winner_order_id, auction.price) {
            (AuctionPhase::Open, _, _) if now >= auction.end_time => {
                for seat in auction.seats.iter().filter(|s| !s.defaulted) {
                    insert_event(
                        &mut tx,
                        &auction_event(
                            seat.seat.account,
                            EventType::AuctionClosed,
                            auction_id,
                            seat.seat.order_id,
                            &auction.domain,
                            now,
                            format!("auction {auction_id} for {} closed", auction.domain),
                        ),
                    )
                    .await?;
                }
                let settled = match decide_result(&mut tx, &auction, actor, now, auction.end_time)
                    .await?
                {
                    Some((winner, price)) => {
                        collect_from_balance(&mut tx, &auction, winner, price, actor, now).await?
                    }
                    None => true,
                };
                AuctionStep::Closed { settled }
            }
            (AuctionPhase::AwaitingPayment, Some(winner), Some(price)) => {
                let deadline = auction.payment_deadline.unwrap_or(auction.end_time);
                let paid =
                    collect_from_balance(&mut tx, &auction, winner, price, actor, now).await?;
                if paid {
                    AuctionStep::Paid
                } else if now >= deadline {
                    let settled = match default_winner(&mut tx, &auction, winner, actor, now)
                        .await?
                    {
                        Some((next, next_price)) => {
                            let remaining = load_auction(&mut tx, auction_id, false)
                                .await?
                                .ok_or(AuctionError::NotFound(auction_id))?;
                            collect_from_balance(&mut tx, &remaining, next, next_price, actor, now)
                                .await?
                        }
                        None => true,
                    };
                    AuctionStep::Defaulted { settled }
                } else {
                    // Nothing changed: do not keep an empty write.
                    return Ok(AuctionStep::Nothing);
                }
            }
            _ => return Ok(AuctionStep::Nothing),
        };
        tx.commit().await?;
        Ok(step)
    }

    async fn collect_auction_payments(
        &self,
        account: AccountId,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<u32, AuctionError> {
        let ids: Vec<i64> = sqlx::query(
            "SELECT a.id FROM auctions a JOIN auction_seats s ON s.order_id = a.winner_order_id \
             WHERE a.state = 'AWAITING_PAYMENT' AND s.account_id = $1 ORDER BY a.id",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut paid = 0;
        for id in ids {
            match self
                .pay_auction(id, PaymentSource::Balance, actor, now)
                .await
            {
                Ok(auction) if auction.phase == AuctionPhase::Settled => paid += 1,
                Ok(_)
                | Err(AuctionError::Ledger(LedgerError::InsufficientFunds { .. }))
                | Err(AuctionError::PaymentCurrency { .. })
                | Err(AuctionError::NotAwaitingPayment { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(paid)
    }

    async fn list_domains(
        &self,
        account: Option<AccountId>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AssignedDomain>, i64)> {
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM assigned_domains WHERE ($1 IS NULL OR account_id = $1)",
        )
        .bind(account.map(|a| a.0))
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let rows = sqlx::query(
            "SELECT * FROM assigned_domains WHERE ($1 IS NULL OR account_id = $1) \
             ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(account.map(|a| a.0))
        .bind(limit_of(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?;
        Ok((
            rows.iter()
                .map(domain_from_row)
                .collect::<StoreResult<_>>()?,
            total,
        ))
    }

    async fn get_domain(&self, domain: &str) -> StoreResult<Option<AssignedDomain>> {
        let row = sqlx::query(
            "SELECT * FROM assigned_domains WHERE domain = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(domain)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(domain_from_row).transpose()
    }
}
