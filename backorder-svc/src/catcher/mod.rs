//! The catcher: races rivals for dropping names that have valid orders. Each step loads the
//! drops to go for from the store, advances a pure per-drop plan (`plan`) against a
//! `Registry` (the simulator's is `SimRegistry`: sessions, limits and extension names stay
//! inside it), and records every decided drop in the transaction that allocates it.
//! Time is the injected clock's: on the registry's clock a step runs on every tick, before
//! the tick is acknowledged, so our creates land at that virtual instant (docs/catcher.md).

pub mod accreditation;
pub mod limiter;
pub mod plan;
pub mod registry;
pub mod runner;
pub mod sim_registry;

pub use accreditation::Accreditation;
pub use registry::{Availability, Capacity, CreateResult, Holder, Registry, RegistryError};
pub use runner::{ACTOR, Catcher, StepReport};
pub use sim_registry::SimRegistry;
