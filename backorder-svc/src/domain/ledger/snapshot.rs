//! The whole ledger as one consistent read: what the invariants are checked on.

use super::{Counters, LedgerAccountKind, TransferKind};

/// One ledger account row with its stored counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAccountRow {
    pub id: i64,
    pub name: String,
    pub kind: LedgerAccountKind,
    pub currency: String,
    pub counters: Counters,
}

/// One journal entry, reduced to what the checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub id: i64,
    pub kind: TransferKind,
    pub debit_account_id: i64,
    pub credit_account_id: i64,
    pub amount: i64,
    pub currency: String,
    pub pending_id: Option<i64>,
}

/// An order and how many pending holds it has (invariant 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderHolds {
    pub backorder_id: i64,
    pub status: String,
    pub pending_holds: i64,
    /// The order's drop (its domain's current drop-list time) has a recorded result.
    pub drop_decided: bool,
}

/// Everything the checks read, taken in one consistent read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    pub accounts: Vec<LedgerAccountRow>,
    pub journal: Vec<JournalEntry>,
    pub orders: Vec<OrderHolds>,
}
