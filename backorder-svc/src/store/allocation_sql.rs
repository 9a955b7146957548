// Allocation of a drop's result, shared by both backends: `include!`d after `orders_sql.rs`.
// `record_catch` (catching_sql.rs) calls `allocate_drop` inside its transaction, right after
// writing the catch row, so a result and what it does to the orders commit together.

use super::catching::{Allocated, CatchOutcome};

/// The catch row just written, as allocation needs it.
#[derive(Debug, Clone)]
struct RecordedCatch {
    id: i64,
    domain: String,
    outcome: CatchOutcome,
}

// TEMPORARY (replaced by the allocation transaction before this lands): records nothing.
async fn allocate_drop(
    _tx: &mut Tx,
    _catch: &RecordedCatch,
    _actor: &str,
    _now: DateTime<Utc>,
) -> Result<Allocated, OrderError> {
    Ok(Allocated::Unallocated)
}
