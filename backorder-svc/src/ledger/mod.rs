//! The ledger's checks (spec/ledger.md): the six invariants over a snapshot of the whole
//! ledger (`invariants`). The values and the pure rules (transfer kinds, counter effects,
//! movements, request fingerprints) are in `domain::ledger`; the store applies movements and
//! reports refusals as `LedgerError`. Both are re-exported here, so `crate::ledger::X` names
//! the whole ledger.

pub mod invariants;

pub use crate::domain::ledger::*;
pub use crate::store::LedgerError;
