// The store's SQL, shared by both backends: `include!`d into `sqlite.rs` and `postgres.rs`,
// each of which defines `Db`, `BACKEND`, `SqlStore { pool }`, `begin_write` and
// `begin_snapshot`. Format with `rustfmt --edition 2024 backorder-svc/src/store/sql.rs`
// (cargo fmt does not reach included files).

use super::{
    AccountChanges, AccountCreation, ApiKeyRecord, AuditEntry, AuditFilter, IdempotencyKey,
    KeyRole, LedgerError, NewAccount, NewApiKey, PageRequest, Price, PriceFilter, PriceKey, Store,
    TransferFilter,
};
use crate::clock::{from_micros, to_micros};
use crate::domain::account::{Account, AccountId, AccountState, PriceTier};
use crate::domain::catalog::{BackorderClass, Tld, TldName};
use crate::domain::event::{Event, EventType, NewEvent};
use crate::domain::ledger::snapshot::{JournalEntry, LedgerAccountRow, LedgerSnapshot, OrderHolds};
use crate::domain::ledger::{
    BalanceView, Counters, HoldState, LedgerAccountKind, Movement, MovementRequest, Transfer,
    TransferKind, client_ledger_name, counter_effects,
};
use crate::domain::money::{Currency, MAX_AMOUNT_MINOR, MAX_COUNTER_MINOR, Money};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};

type Tx = sqlx::Transaction<'static, Db>;
type DbRow = <Db as sqlx::Database>::Row;

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

fn currency_of(text: &str) -> StoreResult<Currency> {
    Currency::parse(text).map_err(|e| corrupt(format!("currency {text:?}: {e}")))
}

// ----- accounts -------------------------------------------------------------------------

macro_rules! account_columns {
    () => {
        "id, display_name, currency, price_tier, state, created_at"
    };
}

fn account_from_row(row: &DbRow) -> StoreResult<Account> {
    let state: String = row.try_get("state")?;
    let tier: String = row.try_get("price_tier")?;
    Ok(Account {
        id: AccountId(row.try_get("id")?),
        display_name: row.try_get("display_name")?,
        currency: currency_of(&row.try_get::<String, _>("currency")?)?,
        price_tier: PriceTier::parse(&tier).ok_or_else(|| corrupt(format!("tier {tier:?}")))?,
        state: AccountState::from_db(&state).ok_or_else(|| corrupt(format!("state {state:?}")))?,
        created_at: from_micros(row.try_get("created_at")?),
    })
}

/// Locks the drop's list row for the rest of the transaction (a no-op on SQLite, whose
/// writers are serialized by `BEGIN IMMEDIATE`). See `DROP_LOCK`: the catcher writing a
/// create ahead, whoever records the drop's result, and a daily deal's placement take it.
async fn lock_drop(tx: &mut Tx, domain: &str) -> StoreResult<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT domain FROM drop_list WHERE domain = $1{DROP_LOCK}"
    )))
    .bind(domain)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(())
}

async fn fetch_account(tx: &mut Tx, id: i64) -> StoreResult<Option<Account>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(account_from_row).transpose()
}

async fn insert_audit(
    tx: &mut Tx,
    at: DateTime<Utc>,
    actor: &str,
    account_id: Option<i64>,
    transfer_id: Option<i64>,
    message: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, account_id, transfer_id, message) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(to_micros(at))
    .bind(actor)
    .bind(account_id)
    .bind(transfer_id)
    .bind(message)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A remembered outcome of an idempotent call.
struct Remembered {
    operation: String,
    fingerprint: String,
    outcome: String,
    result_ref: String,
    error_code: String,
    error_message: String,
}

async fn find_idempotency(
    tx: &mut Tx,
    scope: &str,
    request_id: &str,
) -> StoreResult<Option<Remembered>> {
    let row = sqlx::query(
        "SELECT operation, fingerprint, outcome, result_ref, error_code, error_message \
         FROM idempotency_keys WHERE scope = $1 AND request_id = $2",
    )
    .bind(scope)
    .bind(request_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| {
        Ok(Remembered {
            operation: row.try_get("operation")?,
            fingerprint: row.try_get("fingerprint")?,
            outcome: row.try_get("outcome")?,
            result_ref: row.try_get("result_ref")?,
            error_code: row.try_get("error_code")?,
            error_message: row.try_get("error_message")?,
        })
    })
    .transpose()
}

#[allow(clippy::too_many_arguments)]
async fn remember(
    tx: &mut Tx,
    scope: &str,
    request_id: &str,
    operation: &str,
    fingerprint: &str,
    outcome: Result<&str, (&str, &str)>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (kind, result_ref, code, message) = match outcome {
        Ok(result_ref) => ("ok", result_ref, "", ""),
        Err((code, message)) => ("error", "", code, message),
    };
    sqlx::query(
        "INSERT INTO idempotency_keys \
         (scope, request_id, operation, fingerprint, outcome, result_ref, error_code, error_message, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(scope)
    .bind(request_id)
    .bind(operation)
    .bind(fingerprint)
    .bind(kind)
    .bind(result_ref)
    .bind(code)
    .bind(message)
    .bind(to_micros(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How many times a transaction that lost a race on an idempotency key is retried: the
/// retry finds the winner's remembered outcome.
const RACE_RETRIES: usize = 3;

/// How many times a money movement is run again after a transient failure (deadlock,
/// serialization failure, SQLite BUSY) before the caller gets `UNAVAILABLE`. A failed attempt
/// rolled back entirely, and each attempt starts with the idempotency check, so a retry can
/// never book twice.
const TRANSIENT_RETRIES: u32 = 4;

/// Exponential backoff with full jitter: 0..(5 ms * 2^attempt).
async fn transient_backoff(attempt: u32) {
    let ceiling_us = 5_000u64 << attempt.min(6);
    let wait = rand::random::<u64>() % ceiling_us;
    tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
}

// ----- events -----------------------------------------------------------------------------

/// Appends an event inside the transaction of the change it reports. An event with a dedupe
/// key that was already recorded is skipped (None).
async fn insert_event(tx: &mut Tx, event: &NewEvent) -> StoreResult<Option<i64>> {
    SqlStore::lock_event_sequence(tx).await?;
    let row = sqlx::query(
        "INSERT INTO events (account_id, type, at, backorder_id, domain, auction_id, old_status, \
         new_status, failure_reason, message, amount, currency, alert_id, dedupe_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(event.account.0)
    .bind(event.kind.as_str())
    .bind(to_micros(event.at))
    .bind(event.backorder_id)
    .bind(&event.domain)
    .bind(event.auction_id)
    .bind(&event.old_status)
    .bind(&event.new_status)
    .bind(&event.failure_reason)
    .bind(&event.message)
    .bind(event.amount.map(|m| m.minor))
    .bind(event.amount.map(|m| m.currency.code().to_string()))
    .bind(event.alert_id)
    .bind(&event.dedupe_key)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| row.try_get("id"))
        .transpose()
        .map_err(StoreError::from)
}

fn event_from_row(row: &DbRow) -> StoreResult<Event> {
    let kind: String = row.try_get("type")?;
    let amount: Option<i64> = row.try_get("amount")?;
    let currency: Option<String> = row.try_get("currency")?;
    let amount = match (amount, currency) {
        (Some(minor), Some(code)) => Some(Money::new(currency_of(&code)?, minor)),
        _ => None,
    };
    Ok(Event {
        id: row.try_get("id")?,
        event: NewEvent {
            account: AccountId(row.try_get("account_id")?),
            kind: EventType::from_db(&kind)
                .ok_or_else(|| corrupt(format!("event type {kind:?}")))?,
            at: from_micros(row.try_get("at")?),
            backorder_id: row.try_get("backorder_id")?,
            domain: row.try_get("domain")?,
            auction_id: row.try_get("auction_id")?,
            old_status: row.try_get("old_status")?,
            new_status: row.try_get("new_status")?,
            failure_reason: row.try_get("failure_reason")?,
            message: row.try_get("message")?,
            amount,
            alert_id: row.try_get("alert_id")?,
            dedupe_key: row.try_get("dedupe_key")?,
        },
    })
}

// ----- ledger ---------------------------------------------------------------------------

macro_rules! transfer_select {
    () => {
        "SELECT t.id, t.kind, da.name AS debit_name, ca.name AS credit_name, \
     t.amount, t.currency, t.pending_id, t.backorder_id, t.request_id, t.memo, t.created_at, \
     (SELECT r.kind FROM transfers r WHERE r.pending_id = t.id) AS resolution \
     FROM transfers t \
     JOIN ledger_accounts da ON da.id = t.debit_account_id \
     JOIN ledger_accounts ca ON ca.id = t.credit_account_id"
    };
}

fn transfer_from_row(row: &DbRow) -> StoreResult<Transfer> {
    let kind_text: String = row.try_get("kind")?;
    let kind =
        TransferKind::from_db(&kind_text).ok_or_else(|| corrupt(format!("kind {kind_text:?}")))?;
    let resolution: Option<String> = row.try_get("resolution")?;
    let hold_state = (kind == TransferKind::Hold).then_some(match resolution.as_deref() {
        Some("capture") => HoldState::Posted,
        Some(_) => HoldState::Voided,
        None => HoldState::Pending,
    });
    Ok(Transfer {
        id: row.try_get("id")?,
        kind,
        debit_account: row.try_get("debit_name")?,
        credit_account: row.try_get("credit_name")?,
        amount: Money::new(
            currency_of(&row.try_get::<String, _>("currency")?)?,
            row.try_get("amount")?,
        ),
        pending_id: row.try_get("pending_id")?,
        hold_state,
        backorder_id: row.try_get("backorder_id")?,
        request_id: row.try_get("request_id")?,
        memo: row.try_get("memo")?,
        created_at: from_micros(row.try_get("created_at")?),
    })
}

async fn fetch_transfer(tx: &mut Tx, id: i64) -> StoreResult<Option<Transfer>> {
    let row = sqlx::query(concat!(transfer_select!(), " WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(transfer_from_row).transpose()
}

/// A ledger account resolved for a movement.
struct LedgerAccount {
    id: i64,
    kind: LedgerAccountKind,
    currency: Currency,
    /// Client accounts only.
    client: Option<(AccountId, AccountState)>,
}

async fn client_ledger_account(
    tx: &mut Tx,
    account: AccountId,
) -> Result<LedgerAccount, LedgerError> {
    let row = sqlx::query(
        "SELECT l.id, l.currency, a.state FROM ledger_accounts l \
         JOIN accounts a ON a.id = l.client_account_id WHERE l.client_account_id = $1",
    )
    .bind(account.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::from)?;
    let row = row.ok_or(LedgerError::AccountNotFound(account))?;
    let state: String = row.try_get("state").map_err(StoreError::from)?;
    Ok(LedgerAccount {
        id: row.try_get("id").map_err(StoreError::from)?,
        kind: LedgerAccountKind::Client,
        currency: currency_of(
            &row.try_get::<String, _>("currency")
                .map_err(StoreError::from)?,
        )?,
        client: Some((
            account,
            AccountState::from_db(&state).ok_or_else(|| corrupt(format!("state {state:?}")))?,
        )),
    })
}

async fn find_book_account(tx: &mut Tx, name: &str) -> StoreResult<Option<DbRow>> {
    Ok(
        sqlx::query("SELECT id FROM ledger_accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// The operator's book account of a kind and currency, created on first use.
async fn book_ledger_account(
    tx: &mut Tx,
    kind: LedgerAccountKind,
    currency: Currency,
) -> StoreResult<LedgerAccount> {
    let name = kind.book_name(currency);
    // Look first: an insert that conflicts still writes (and on PostgreSQL burns an id).
    let id: i64 = match find_book_account(tx, &name).await? {
        Some(row) => row.try_get("id")?,
        None => {
            sqlx::query(
                "INSERT INTO ledger_accounts (name, kind, currency) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(&name)
            .bind(kind.as_str())
            .bind(currency.code())
            .execute(&mut **tx)
            .await?;
            find_book_account(tx, &name)
                .await?
                .ok_or_else(|| corrupt(format!("book account {name} missing")))?
                .try_get("id")?
        }
    };
    Ok(LedgerAccount {
        id,
        kind,
        currency,
        client: None,
    })
}

async fn resolve_party(
    tx: &mut Tx,
    party: crate::domain::ledger::Party,
    currency: Currency,
) -> Result<LedgerAccount, LedgerError> {
    use crate::domain::ledger::Party;
    let account = match party {
        Party::Client(id) => client_ledger_account(tx, id).await?,
        Party::Book(kind) => book_ledger_account(tx, kind, currency).await?,
    };
    if account.currency != currency {
        return Err(LedgerError::CurrencyMismatch {
            expected: account.currency.code().to_string(),
            got: currency.code().to_string(),
        });
    }
    Ok(account)
}

async fn counters_of(tx: &mut Tx, ledger_id: i64) -> StoreResult<Counters> {
    let row = sqlx::query(
        "SELECT debits_pending, debits_posted, credits_pending, credits_posted \
         FROM ledger_accounts WHERE id = $1",
    )
    .bind(ledger_id)
    .fetch_one(&mut **tx)
    .await?;
    counters_from_row(&row)
}

fn counters_from_row(row: &DbRow) -> StoreResult<Counters> {
    Ok(Counters {
        debits_pending: row.try_get("debits_pending")?,
        debits_posted: row.try_get("debits_posted")?,
        credits_pending: row.try_get("credits_pending")?,
        credits_posted: row.try_get("credits_posted")?,
    })
}

/// Locks ledger account rows for the rest of the transaction in the one global order (by id,
/// ascending) that every money movement follows, whatever its direction: two transactions can
/// then never wait for each other's ledger rows in a cycle (docs/ledger.md, "Lock order and
/// retries"). A transaction that moves money more than once locks all its rows up front, so
/// its later movements take no new ledger locks. SQLite serializes writers with `BEGIN
/// IMMEDIATE` and needs no row locks.
async fn lock_ledger_rows(tx: &mut Tx, ids: &[i64]) -> StoreResult<()> {
    if BACKEND == Backend::Sqlite || ids.is_empty() {
        return Ok(());
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    // One row at a time: the order in which the rows are taken is then explicit.
    for id in ids {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT l.id FROM ledger_accounts l WHERE l.id = $1{ACCOUNT_LOCK}"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The ledger rows of the given holds (client and book account of each), for a transaction
/// that is about to capture or release several of them.
async fn hold_ledger_rows(tx: &mut Tx, hold_ids: &[i64]) -> StoreResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(hold_ids.len() * 2);
    for hold in hold_ids {
        let row =
            sqlx::query("SELECT debit_account_id, credit_account_id FROM transfers WHERE id = $1")
                .bind(hold)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some(row) = row {
            ids.push(row.try_get("debit_account_id")?);
            ids.push(row.try_get("credit_account_id")?);
        }
    }
    Ok(ids)
}

/// Adds `delta` to an account's counters. No counter may pass `MAX_COUNTER_MINOR` (checked
/// in the same guarded update, so no sum can ever overflow in the database). For a client
/// account whose debits grow, the update only happens if the funds are there (checked under the row lock, so concurrent
/// writers cannot both spend the same money); the table's CHECK is the last line of defence.
async fn apply_counters(
    tx: &mut Tx,
    account: &LedgerAccount,
    delta: Counters,
) -> Result<(), LedgerError> {
    let guarded = account.kind == LedgerAccountKind::Client;
    let sql = if guarded {
        "UPDATE ledger_accounts SET debits_pending = debits_pending + $2, \
         debits_posted = debits_posted + $3, credits_pending = credits_pending + $4, \
         credits_posted = credits_posted + $5 \
         WHERE id = $1 AND debits_pending + $2 + debits_posted + $3 <= credits_posted + $5 \
         AND debits_pending + $2 <= $6 AND debits_posted + $3 <= $6 \
         AND credits_pending + $4 <= $6 AND credits_posted + $5 <= $6 \
         RETURNING id"
    } else {
        "UPDATE ledger_accounts SET debits_pending = debits_pending + $2, \
         debits_posted = debits_posted + $3, credits_pending = credits_pending + $4, \
         credits_posted = credits_posted + $5 WHERE id = $1 \
         AND debits_pending + $2 <= $6 AND debits_posted + $3 <= $6 \
         AND credits_pending + $4 <= $6 AND credits_posted + $5 <= $6 \
         RETURNING id"
    };
    let updated = sqlx::query(sql)
        .bind(account.id)
        .bind(delta.debits_pending)
        .bind(delta.debits_posted)
        .bind(delta.credits_pending)
        .bind(delta.credits_posted)
        .bind(MAX_COUNTER_MINOR)
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::from)?;
    if updated.is_some() {
        return Ok(());
    }
    let counters = counters_of(tx, account.id).await?;
    let past_limit = [
        (counters.debits_pending, delta.debits_pending),
        (counters.debits_posted, delta.debits_posted),
        (counters.credits_pending, delta.credits_pending),
        (counters.credits_posted, delta.credits_posted),
    ]
    .iter()
    .any(|(value, delta)| value.saturating_add(*delta) > MAX_COUNTER_MINOR);
    if past_limit {
        let name: String = sqlx::query("SELECT name FROM ledger_accounts WHERE id = $1")
            .bind(account.id)
            .fetch_one(&mut **tx)
            .await
            .map_err(StoreError::from)?
            .try_get("name")
            .map_err(StoreError::from)?;
        let moved = [
            delta.debits_pending,
            delta.debits_posted,
            delta.credits_pending,
            delta.credits_posted,
        ]
        .into_iter()
        .map(i64::abs)
        .max()
        .unwrap_or_default();
        return Err(LedgerError::CounterLimit {
            account: name,
            amount: Money::new(account.currency, moved).to_string(),
            limit: Money::new(account.currency, MAX_COUNTER_MINOR).to_string(),
        });
    }
    Err(LedgerError::InsufficientFunds {
        needed: Money::new(account.currency, delta.debits_pending + delta.debits_posted)
            .to_string(),
        available: Money::new(account.currency, counters.available()).to_string(),
    })
}

struct HoldRow {
    debit_account_id: i64,
    credit_account_id: i64,
    amount: i64,
    currency: Currency,
    backorder_id: Option<i64>,
}

async fn fetch_hold(tx: &mut Tx, hold_id: i64) -> Result<HoldRow, LedgerError> {
    let row = sqlx::query(
        "SELECT debit_account_id, credit_account_id, amount, currency, backorder_id, \
         (SELECT COUNT(*) FROM transfers r WHERE r.pending_id = t.id) AS resolutions \
         FROM transfers t WHERE id = $1 AND kind = 'hold'",
    )
    .bind(hold_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::from)?
    .ok_or(LedgerError::HoldNotFound(hold_id))?;
    let resolutions: i64 = row.try_get("resolutions").map_err(StoreError::from)?;
    if resolutions > 0 {
        return Err(LedgerError::HoldAlreadyResolved(hold_id));
    }
    Ok(HoldRow {
        debit_account_id: row.try_get("debit_account_id").map_err(StoreError::from)?,
        credit_account_id: row.try_get("credit_account_id").map_err(StoreError::from)?,
        amount: row.try_get("amount").map_err(StoreError::from)?,
        currency: currency_of(
            &row.try_get::<String, _>("currency")
                .map_err(StoreError::from)?,
        )?,
        backorder_id: row.try_get("backorder_id").map_err(StoreError::from)?,
    })
}

async fn ledger_account_by_id(tx: &mut Tx, id: i64) -> StoreResult<LedgerAccount> {
    let row = sqlx::query(
        "SELECT id, kind, currency, client_account_id FROM ledger_accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let kind: String = row.try_get("kind")?;
    let client: Option<i64> = row.try_get("client_account_id")?;
    Ok(LedgerAccount {
        id,
        kind: LedgerAccountKind::from_db(&kind)
            .ok_or_else(|| corrupt(format!("ledger kind {kind:?}")))?,
        currency: currency_of(&row.try_get::<String, _>("currency")?)?,
        client: client.map(|c| (AccountId(c), AccountState::Active)),
    })
}

/// Everything one movement writes, inside the caller's transaction. Returns the transfer id.
async fn apply_movement(
    tx: &mut Tx,
    request: &MovementRequest,
    now: DateTime<Utc>,
) -> Result<i64, LedgerError> {
    let movement = &request.movement;
    let kind = movement.kind();
    let (debit, credit, amount, pending_id, backorder_id, hold_amount) = match *movement {
        Movement::Capture { hold_id, .. } | Movement::Release { hold_id } => {
            let hold = fetch_hold(tx, hold_id).await?;
            let amount = match *movement {
                Movement::Capture {
                    amount: Some(part), ..
                } => {
                    if part.currency != hold.currency {
                        return Err(LedgerError::CurrencyMismatch {
                            expected: hold.currency.code().to_string(),
                            got: part.currency.code().to_string(),
                        });
                    }
                    if part.minor > hold.amount {
                        return Err(LedgerError::CaptureExceedsHold {
                            capture: part.to_string(),
                            hold: Money::new(hold.currency, hold.amount).to_string(),
                        });
                    }
                    part.minor
                }
                Movement::Capture { amount: None, .. } => hold.amount,
                _ => 0,
            };
            let debit = ledger_account_by_id(tx, hold.debit_account_id).await?;
            let credit = ledger_account_by_id(tx, hold.credit_account_id).await?;
            (
                debit,
                credit,
                Money::new(hold.currency, amount),
                Some(hold_id),
                hold.backorder_id,
                hold.amount,
            )
        }
        _ => {
            let (debit_party, credit_party, amount) = movement
                .parties()
                .ok_or_else(|| corrupt("a movement without parties"))?;
            let debit = resolve_party(tx, debit_party, amount.currency).await?;
            let credit = resolve_party(tx, credit_party, amount.currency).await?;
            // Money may still leave a closed account (paying out what is left), never enter it
            // or be newly held in it.
            for side in [&credit, &debit] {
                if let Some((id, AccountState::Closed)) = side.client
                    && (matches!(kind, TransferKind::Deposit | TransferKind::Hold)
                        || (kind == TransferKind::Adjustment && side.id == credit.id))
                {
                    return Err(LedgerError::AccountClosed(id));
                }
            }
            (debit, credit, amount, None, movement.backorder_id(), 0)
        }
    };
    // Amounts from the API are bounded when parsed; this keeps any other path honest.
    if amount.minor > MAX_AMOUNT_MINOR {
        return Err(LedgerError::AmountTooLarge {
            amount: amount.to_string(),
            max: Money::new(amount.currency, MAX_AMOUNT_MINOR).to_string(),
        });
    }
    // Both rows in the global order before either counter changes: a deposit (cash ->
    // client) and a withdrawal (client -> cash) lock the same two rows in the same order.
    lock_ledger_rows(tx, &[debit.id, credit.id]).await?;
    let (debit_delta, credit_delta) = counter_effects(kind, amount.minor, hold_amount);
    apply_counters(tx, &debit, debit_delta).await?;
    apply_counters(tx, &credit, credit_delta).await?;
    let inserted = sqlx::query(
        "INSERT INTO transfers (kind, debit_account_id, credit_account_id, amount, currency, \
         pending_id, backorder_id, request_id, memo, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(debit.id)
    .bind(credit.id)
    .bind(amount.minor)
    .bind(amount.currency.code())
    .bind(pending_id)
    .bind(backorder_id)
    .bind(&request.request_id)
    .bind(&request.memo)
    .bind(to_micros(now))
    .fetch_one(&mut **tx)
    .await;
    let transfer_id: i64 = match inserted {
        Ok(row) => row.try_get("id").map_err(StoreError::from)?,
        // Another transaction resolved the same hold first.
        Err(e) if pending_id.is_some() && is_unique_violation(&e) => {
            return Err(LedgerError::HoldAlreadyResolved(
                pending_id.unwrap_or_default(),
            ));
        }
        Err(e) => return Err(StoreError::from(e).into()),
    };
    let client = debit.client.or(credit.client).map(|(id, _)| id.0);
    let memo = if request.memo.is_empty() {
        String::new()
    } else {
        format!(": {}", request.memo)
    };
    insert_audit(
        tx,
        now,
        &request.actor,
        client,
        Some(transfer_id),
        &format!("{} {amount}{memo}", kind.as_str()),
    )
    .await?;
    Ok(transfer_id)
}

/// The answer remembered for a request id, replayed as the first call's result.
async fn replay(
    tx: &mut Tx,
    remembered: Remembered,
    request: &MovementRequest,
) -> Result<Transfer, LedgerError> {
    let fingerprint = request.movement.fingerprint(&request.memo);
    if remembered.operation != "movement" || remembered.fingerprint != fingerprint {
        return Err(LedgerError::IdempotencyConflict(request.request_id.clone()));
    }
    if remembered.outcome == "ok" {
        let id: i64 = remembered
            .result_ref
            .parse()
            .map_err(|_| corrupt("idempotency result"))?;
        return Ok(fetch_transfer(tx, id)
            .await?
            .ok_or_else(|| corrupt("remembered transfer missing"))?);
    }
    match remembered.error_code.as_str() {
        "insufficient_funds" => {
            let (needed, available) = remembered
                .error_message
                .split_once('|')
                .ok_or_else(|| corrupt("remembered failure"))?;
            Err(LedgerError::InsufficientFunds {
                needed: needed.to_string(),
                available: available.to_string(),
            })
        }
        other => Err(corrupt(format!("remembered failure code {other:?}")).into()),
    }
}

fn remembered_failure(error: &LedgerError) -> Option<String> {
    match error {
        LedgerError::InsufficientFunds { needed, available } => {
            Some(format!("{needed}|{available}"))
        }
        _ => None,
    }
}

// ----- API keys ---------------------------------------------------------------------------

macro_rules! key_columns {
    () => {
        "id, role, account_id, label, prefix, created_at, revoked_at"
    };
}

fn key_from_row(row: &DbRow) -> StoreResult<ApiKeyRecord> {
    let role: String = row.try_get("role")?;
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        role: match role.as_str() {
            "account" => KeyRole::Account,
            "operator" => KeyRole::Operator,
            other => return Err(corrupt(format!("key role {other:?}"))),
        },
        account_id: row.try_get::<Option<i64>, _>("account_id")?.map(AccountId),
        label: row.try_get("label")?,
        prefix: row.try_get("prefix")?,
        created_at: from_micros(row.try_get("created_at")?),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(from_micros),
    })
}

async fn insert_key(tx: &mut Tx, key: &NewApiKey, now: DateTime<Utc>) -> StoreResult<ApiKeyRecord> {
    let row = sqlx::query(concat!(
        "INSERT INTO api_keys (role, account_id, label, prefix, secret_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        key_columns!()
    ))
    .bind(key.role.as_str())
    .bind(key.account_id.map(|a| a.0))
    .bind(&key.label)
    .bind(&key.prefix)
    .bind(&key.secret_hash)
    .bind(to_micros(now))
    .fetch_one(&mut **tx)
    .await?;
    key_from_row(&row)
}

// ----- catalog ----------------------------------------------------------------------------

fn tld_from_row(row: &DbRow) -> StoreResult<Tld> {
    let name: String = row.try_get("name")?;
    let classes: String = row.try_get("classes")?;
    let extensions: String = row.try_get("required_extensions")?;
    let secs = |column: &str| -> StoreResult<std::time::Duration> {
        let value: i64 = row.try_get(column)?;
        u64::try_from(value)
            .map(std::time::Duration::from_secs)
            .map_err(|_| corrupt(column))
    };
    Ok(Tld {
        name: TldName::parse(&name).ok_or_else(|| corrupt(format!("tld {name:?}")))?,
        first_come_first_served: row.try_get("first_come_first_served")?,
        third_level_allowed: row.try_get("third_level_allowed")?,
        required_extensions: extensions
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        classes: classes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|c| BackorderClass::from_db(c).ok_or_else(|| corrupt(format!("class {c:?}"))))
            .collect::<StoreResult<_>>()?,
        finalization_lead: secs("finalization_lead_secs")?,
        lock_lead: secs("lock_lead_secs")?,
        daily_deals: row.try_get("daily_deals")?,
    })
}

async fn upsert_tld_in(tx: &mut Tx, tld: &Tld) -> StoreResult<()> {
    let classes: Vec<&str> = tld.classes.iter().map(|c| c.as_str()).collect();
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO tlds (name, first_come_first_served, third_level_allowed, required_extensions, \
         classes, finalization_lead_secs, lock_lead_secs, daily_deals) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (name) DO UPDATE SET first_come_first_served = excluded.first_come_first_served, \
         third_level_allowed = excluded.third_level_allowed, required_extensions = excluded.required_extensions, \
         classes = excluded.classes, finalization_lead_secs = excluded.finalization_lead_secs, \
         lock_lead_secs = excluded.lock_lead_secs, daily_deals = excluded.daily_deals",
    )
    .bind(tld.name.as_str())
    .bind(tld.first_come_first_served)
    .bind(tld.third_level_allowed)
    .bind(tld.required_extensions.join(","))
    .bind(classes.join(","))
    .bind(secs(tld.finalization_lead))
    .bind(secs(tld.lock_lead))
    .bind(tld.daily_deals)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn price_from_row(row: &DbRow) -> StoreResult<Price> {
    let tier: String = row.try_get("price_tier")?;
    let tld: String = row.try_get("tld")?;
    let class: String = row.try_get("class")?;
    let currency = currency_of(&row.try_get::<String, _>("currency")?)?;
    Ok(Price {
        key: PriceKey {
            tier: PriceTier::parse(&tier).ok_or_else(|| corrupt(format!("tier {tier:?}")))?,
            tld: TldName::parse(&tld).ok_or_else(|| corrupt(format!("tld {tld:?}")))?,
            class: BackorderClass::from_db(&class)
                .ok_or_else(|| corrupt(format!("class {class:?}")))?,
            currency,
        },
        amount: Money::new(currency, row.try_get("amount")?),
    })
}

async fn set_price_in(tx: &mut Tx, price: &Price) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO prices (price_tier, tld, class, currency, amount) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (price_tier, tld, class, currency) DO UPDATE SET amount = excluded.amount",
    )
    .bind(price.key.tier.as_str())
    .bind(price.key.tld.as_str())
    .bind(price.key.class.as_str())
    .bind(price.key.currency.code())
    .bind(price.amount.minor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn limit_of(page_limit: u32) -> i64 {
    i64::from(page_limit.max(1))
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        BACKEND
    }

    async fn create_account(
        &self,
        new: NewAccount,
        idempotency: Option<IdempotencyKey>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<AccountCreation> {
        let fingerprint = format!(
            "create_account|{}|{}|{}",
            new.display_name,
            new.currency.code(),
            new.price_tier.as_str()
        );
        for _ in 0..RACE_RETRIES {
            let mut tx = self.begin_write().await?;
            let seen = match &idempotency {
                Some(key) => find_idempotency(&mut tx, &key.scope, &key.request_id).await?,
                None => None,
            };
            if let Some(seen) = seen {
                if seen.operation != "create_account" || seen.fingerprint != fingerprint {
                    return Ok(AccountCreation::Conflict);
                }
                let id: i64 = seen
                    .result_ref
                    .parse()
                    .map_err(|_| corrupt("idempotency result"))?;
                let account = fetch_account(&mut tx, id)
                    .await?
                    .ok_or_else(|| corrupt("remembered account missing"))?;
                return Ok(AccountCreation::Replayed(account));
            }
            let row = sqlx::query(concat!(
                "INSERT INTO accounts (display_name, currency, price_tier, state, created_at) \
                 VALUES ($1, $2, $3, 'active', $4) RETURNING ",
                account_columns!()
            ))
            .bind(&new.display_name)
            .bind(new.currency.code())
            .bind(new.price_tier.as_str())
            .bind(to_micros(now))
            .fetch_one(&mut *tx)
            .await?;
            let account = account_from_row(&row)?;
            sqlx::query(
                "INSERT INTO ledger_accounts (name, kind, currency, client_account_id) \
                 VALUES ($1, 'client', $2, $3)",
            )
            .bind(client_ledger_name(account.id))
            .bind(account.currency.code())
            .bind(account.id.0)
            .execute(&mut *tx)
            .await?;
            insert_audit(
                &mut tx,
                now,
                actor,
                Some(account.id.0),
                None,
                &format!(
                    "account opened in {} at tier {}",
                    account.currency,
                    account.price_tier.as_str()
                ),
            )
            .await?;
            if let Some(key) = &idempotency {
                let id = account.id.to_string();
                match remember(
                    &mut tx,
                    &key.scope,
                    &key.request_id,
                    "create_account",
                    &fingerprint,
                    Ok(&id),
                    now,
                )
                .await
                {
                    Ok(()) => {}
                    Err(e) if is_unique_violation(&e) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            tx.commit().await?;
            return Ok(AccountCreation::Created(account));
        }
        Err(corrupt("idempotency race did not settle"))
    }

    async fn get_account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn list_accounts(&self, page: PageRequest<i64>) -> StoreResult<(Vec<Account>, i64)> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(limit_of(page.limit))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM accounts")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok((
            rows.iter()
                .map(account_from_row)
                .collect::<StoreResult<_>>()?,
            total,
        ))
    }

    async fn update_account(
        &self,
        id: AccountId,
        changes: AccountChanges,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let mut tx = self.begin_write().await?;
        let Some(before) = fetch_account(&mut tx, id.0).await? else {
            return Ok(None);
        };
        let display_name = changes.display_name.unwrap_or(before.display_name.clone());
        let tier = changes.price_tier.unwrap_or(before.price_tier.clone());
        let state = changes.state.unwrap_or(before.state);
        sqlx::query(
            "UPDATE accounts SET display_name = $2, price_tier = $3, state = $4 WHERE id = $1",
        )
        .bind(id.0)
        .bind(&display_name)
        .bind(tier.as_str())
        .bind(state.as_str())
        .execute(&mut *tx)
        .await?;
        let message = format!(
            "account updated: name {:?} -> {:?}, tier {} -> {}, state {} -> {}",
            before.display_name,
            display_name,
            before.price_tier.as_str(),
            tier.as_str(),
            before.state.as_str(),
            state.as_str()
        );
        insert_audit(&mut tx, now, actor, Some(id.0), None, &message).await?;
        let after = fetch_account(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn execute_movement(
        &self,
        request: MovementRequest,
        now: DateTime<Utc>,
    ) -> Result<Transfer, LedgerError> {
        let mut attempt = 0;
        loop {
            match self.execute_movement_once(&request, now).await {
                Err(LedgerError::Store(error))
                    if error.is_transient() && attempt < TRANSIENT_RETRIES =>
                {
                    attempt += 1;
                    tracing::debug!(%error, attempt, "movement contended; retrying");
                    transient_backoff(attempt).await;
                }
                outcome => return outcome,
            }
        }
    }

    async fn balance(&self, account: AccountId) -> StoreResult<Option<BalanceView>> {
        let row = sqlx::query(
            "SELECT currency, debits_pending, debits_posted, credits_pending, credits_posted \
             FROM ledger_accounts WHERE client_account_id = $1",
        )
        .bind(account.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let currency = currency_of(&row.try_get::<String, _>("currency")?)?;
        Ok(Some(BalanceView::from_counters(
            account,
            currency,
            counters_from_row(&row)?,
        )))
    }

    async fn list_transfers(
        &self,
        account: AccountId,
        filter: TransferFilter,
        page: PageRequest<i64>,
    ) -> StoreResult<Vec<Transfer>> {
        let mut query = QueryBuilder::<Db>::new(transfer_select!());
        query.push(" WHERE (da.client_account_id = ");
        query.push_bind(account.0);
        query.push(" OR ca.client_account_id = ");
        query.push_bind(account.0);
        query.push(")");
        if let Some(after) = page.after {
            query.push(" AND t.id < ");
            query.push_bind(after);
        }
        if let Some(backorder) = filter.backorder_id {
            query.push(" AND t.backorder_id = ");
            query.push_bind(backorder);
        }
        if !filter.kinds.is_empty() {
            query.push(" AND t.kind IN (");
            let mut kinds = query.separated(", ");
            for kind in &filter.kinds {
                kinds.push_bind(kind.as_str());
            }
            query.push(")");
        }
        query.push(" ORDER BY t.id DESC LIMIT ");
        query.push_bind(limit_of(page.limit));
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(transfer_from_row).collect()
    }

    async fn get_transfer(&self, id: i64) -> StoreResult<Option<Transfer>> {
        let row = sqlx::query(concat!(transfer_select!(), " WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(transfer_from_row).transpose()
    }

    async fn ledger_snapshot(&self) -> StoreResult<LedgerSnapshot> {
        let mut tx = self.begin_snapshot().await?;
        let accounts = sqlx::query(
            "SELECT id, name, kind, currency, debits_pending, debits_posted, credits_pending, \
             credits_posted FROM ledger_accounts ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(LedgerAccountRow {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                kind: LedgerAccountKind::from_db(&kind)
                    .ok_or_else(|| corrupt(format!("ledger kind {kind:?}")))?,
                currency: row.try_get("currency")?,
                counters: counters_from_row(row)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let journal = sqlx::query(
            "SELECT id, kind, debit_account_id, credit_account_id, amount, currency, pending_id \
             FROM transfers ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(JournalEntry {
                id: row.try_get("id")?,
                kind: TransferKind::from_db(&kind)
                    .ok_or_else(|| corrupt(format!("kind {kind:?}")))?,
                debit_account_id: row.try_get("debit_account_id")?,
                credit_account_id: row.try_get("credit_account_id")?,
                amount: row.try_get("amount")?,
                currency: row.try_get("currency")?,
                pending_id: row.try_get("pending_id")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let orders = sqlx::query(
            "SELECT b.id, b.status, (SELECT COUNT(*) FROM transfers h WHERE h.kind = 'hold' \
             AND h.backorder_id = b.id AND NOT EXISTS \
             (SELECT 1 FROM transfers r WHERE r.pending_id = h.id)) AS pending, \
             EXISTS (SELECT 1 FROM catches c JOIN drop_list dl \
                 ON dl.domain = c.domain AND dl.drop_time = c.drop_time \
                 WHERE c.domain = b.domain) AS decided \
             FROM backorders b ORDER BY b.id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            Ok(OrderHolds {
                backorder_id: row.try_get("id")?,
                status: row.try_get("status")?,
                pending_holds: row.try_get("pending")?,
                drop_decided: row.try_get("decided")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await?;

        Ok(LedgerSnapshot {
            accounts,
            journal,
            orders,
        })
    }

    async fn insert_api_key(
        &self,
        key: NewApiKey,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKeyRecord> {
        let mut tx = self.begin_write().await?;
        let record = insert_key(&mut tx, &key, now).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn insert_first_operator_key(
        &self,
        key: NewApiKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        let mut tx = self.begin_write().await?;
        // The meta row makes "first start" a single decision even with several replicas
        // starting at once: only the one that inserts it creates the bootstrap key.
        let claimed = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('bootstrap_operator_key', $1) ON CONFLICT (key) DO NOTHING",
        )
        .bind(to_micros(now).to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Ok(None);
        }
        let record = insert_key(&mut tx, &key, now).await?;
        tx.commit().await?;
        Ok(Some(record))
    }

    async fn find_api_key_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE secret_hash = $1"
        ))
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn get_api_key(&self, id: i64) -> StoreResult<Option<ApiKeyRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_api_keys(
        &self,
        account: Option<AccountId>,
        page: PageRequest<i64>,
    ) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id > $1 AND ($2 = 0 OR account_id = $2) ORDER BY id LIMIT $3"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(account.map_or(0, |a| a.0))
        .bind(limit_of(page.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_api_key(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let record = row.as_ref().map(key_from_row).transpose()?;
        if record.is_some() {
            insert_audit(
                &mut tx,
                now,
                actor,
                None,
                None,
                &format!("api key {id} revoked"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    async fn seed_catalog_once(&self, tlds: &[Tld], prices: &[Price]) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query("INSERT INTO meta (key, value) VALUES ('catalog_seeded', '1') ON CONFLICT (key) DO NOTHING")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if claimed == 0 {
            return Ok(false);
        }
        for tld in tlds {
            upsert_tld_in(&mut tx, tld).await?;
        }
        for price in prices {
            set_price_in(&mut tx, price).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn list_tlds(&self, page: PageRequest<String>) -> StoreResult<(Vec<Tld>, i64)> {
        let rows = sqlx::query("SELECT * FROM tlds WHERE name > $1 ORDER BY name LIMIT $2")
            .bind(page.after.unwrap_or_default())
            .bind(limit_of(page.limit))
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tlds")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok((
            rows.iter().map(tld_from_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    async fn get_tld(&self, name: &TldName) -> StoreResult<Option<Tld>> {
        let row = sqlx::query("SELECT * FROM tlds WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(tld_from_row).transpose()
    }

    async fn upsert_tld(&self, tld: &Tld, actor: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        upsert_tld_in(&mut tx, tld).await?;
        insert_audit(
            &mut tx,
            now,
            actor,
            None,
            None,
            &format!("catalog: tld {} set to {tld:?}", tld.name.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_tld(
        &self,
        name: &TldName,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM tlds WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted > 0 {
            insert_audit(
                &mut tx,
                now,
                actor,
                None,
                None,
                &format!("catalog: tld {} removed", name.as_str()),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn list_prices(
        &self,
        filter: PriceFilter,
        page: PageRequest<u32>,
    ) -> StoreResult<Vec<Price>> {
        let rows = sqlx::query(
            "SELECT price_tier, tld, class, currency, amount FROM prices \
             WHERE ($1 = '' OR price_tier = $1) AND ($2 = '' OR tld = $2) AND ($3 = '' OR currency = $3) \
             ORDER BY price_tier, tld, class, currency LIMIT $4 OFFSET $5",
        )
        .bind(filter.tier.unwrap_or_default())
        .bind(filter.tld.unwrap_or_default())
        .bind(filter.currency.unwrap_or_default())
        .bind(limit_of(page.limit))
        .bind(i64::from(page.after.unwrap_or(0)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(price_from_row).collect()
    }

    async fn get_price(&self, key: &PriceKey) -> StoreResult<Option<Price>> {
        let row = sqlx::query(
            "SELECT price_tier, tld, class, currency, amount FROM prices \
             WHERE price_tier = $1 AND tld = $2 AND class = $3 AND currency = $4",
        )
        .bind(key.tier.as_str())
        .bind(key.tld.as_str())
        .bind(key.class.as_str())
        .bind(key.currency.code())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(price_from_row).transpose()
    }

    async fn set_price(&self, price: &Price, actor: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        set_price_in(&mut tx, price).await?;
        let message = format!(
            "price: tier {} {} {} set to {}",
            price.key.tier.as_str(),
            price.key.tld.as_str(),
            price.key.class.as_str(),
            price.amount
        );
        insert_audit(&mut tx, now, actor, None, None, &message).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_price(
        &self,
        key: &PriceKey,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM prices WHERE price_tier = $1 AND tld = $2 AND class = $3 AND currency = $4")
            .bind(key.tier.as_str())
            .bind(key.tld.as_str())
            .bind(key.class.as_str())
            .bind(key.currency.code())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted > 0 {
            let message = format!(
                "price: tier {} {} {} {} withdrawn",
                key.tier.as_str(),
                key.tld.as_str(),
                key.class.as_str(),
                key.currency
            );
            insert_audit(&mut tx, now, actor, None, None, &message).await?;
        }
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn list_audit(
        &self,
        filter: AuditFilter,
        page: PageRequest<i64>,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, account_id, backorder_id, domain, old_status, new_status, transfer_id, message \
             FROM audit_log WHERE id > $1 AND ($2 = 0 OR backorder_id = $2) AND ($3 = '' OR domain = $3) \
             ORDER BY id LIMIT $4",
        )
        .bind(page.after.unwrap_or(0))
        .bind(filter.backorder_id.unwrap_or(0))
        .bind(filter.domain.unwrap_or_default())
        .bind(limit_of(page.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: from_micros(row.try_get("at")?),
                    actor: row.try_get("actor")?,
                    account_id: row.try_get("account_id")?,
                    backorder_id: row.try_get("backorder_id")?,
                    domain: row.try_get("domain")?,
                    old_status: row.try_get("old_status")?,
                    new_status: row.try_get("new_status")?,
                    transfer_id: row.try_get("transfer_id")?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }

    async fn append_event(&self, event: &NewEvent) -> StoreResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let id = insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn list_events(
        &self,
        account: Option<AccountId>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT * FROM events WHERE id > $1 AND ($2 = 0 OR account_id = $2) ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(account.map_or(0, |a| a.0))
        .bind(limit_of(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}

impl SqlStore {
    /// One attempt at a movement, in one transaction (see `execute_movement`).
    async fn execute_movement_once(
        &self,
        request: &MovementRequest,
        now: DateTime<Utc>,
    ) -> Result<Transfer, LedgerError> {
        let fingerprint = request.movement.fingerprint(&request.memo);
        for _ in 0..RACE_RETRIES {
            let mut tx = self.begin_write().await.map_err(StoreError::from)?;
            if let Some(seen) =
                find_idempotency(&mut tx, &request.scope, &request.request_id).await?
            {
                return replay(&mut tx, seen, request).await;
            }
            match apply_movement(&mut tx, request, now).await {
                Ok(transfer_id) => {
                    let id = transfer_id.to_string();
                    match remember(
                        &mut tx,
                        &request.scope,
                        &request.request_id,
                        "movement",
                        &fingerprint,
                        Ok(&id),
                        now,
                    )
                    .await
                    {
                        Ok(()) => {}
                        Err(e) if is_unique_violation(&e) => continue,
                        Err(e) => return Err(StoreError::from(e).into()),
                    }
                    let transfer = fetch_transfer(&mut tx, transfer_id)
                        .await?
                        .ok_or_else(|| corrupt("new transfer missing"))?;
                    tx.commit().await.map_err(StoreError::from)?;
                    return Ok(transfer);
                }
                Err(error) => {
                    let Some(detail) = remembered_failure(&error) else {
                        return Err(error);
                    };
                    // Nothing was written before the funds check failed except, at most, a
                    // book account created on first use: keeping it is harmless.
                    match remember(
                        &mut tx,
                        &request.scope,
                        &request.request_id,
                        "movement",
                        &fingerprint,
                        Err((error.code(), &detail)),
                        now,
                    )
                    .await
                    {
                        Ok(()) => {}
                        Err(e) if is_unique_violation(&e) => continue,
                        Err(e) => return Err(StoreError::from(e).into()),
                    }
                    tx.commit().await.map_err(StoreError::from)?;
                    return Err(error);
                }
            }
        }
        Err(corrupt("idempotency race did not settle").into())
    }
}
