//! The order lifecycle as a service: placing orders (validated against the catalog, prices,
//! the drop list and the account), and the scheduler that moves orders through the lock
//! window and finalization. Status changes themselves are carried out by the store, one
//! transaction each.

pub mod placement;
pub mod premium;
pub mod registry_clock;
pub mod scheduler;
