//! A registry simulator for drop day: the RGP lifecycle (RFC 3915), pluggable drop schedules,
//! an EPP-shaped registrar interface with limits, rival drop-catchers, and virtual time, served
//! over gRPC (`registry.v1`). See `registry-sim/README.md`.
//!
//! Layers, pointing one way: pure parts (`names`, `schedule`, `rivals`, `race`, `limits`,
//! `feed`, `events`, `scenario`) <- `world` (the registry at a virtual instant, no I/O, no clock)
//! <- `sim` (clock modes, tick barrier, locking) <- `grpc` and `server` (the wire).

pub use backorder_proto::registry::v1 as api;

pub mod clock;
pub mod duration;
pub mod epp;
pub mod events;
pub mod feed;
pub mod grpc;
pub mod lifecycle;
pub mod limits;
pub mod names;
pub mod population;
pub mod race;
pub mod rivals;
pub mod rng;
pub mod scenario;
pub mod schedule;
pub mod server;
pub mod sim;
pub mod ticks;
pub mod world;

pub use clock::ClockMode;
pub use scenario::Scenario;
pub use server::run;
pub use sim::Sim;
