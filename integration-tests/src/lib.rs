//! Both services end to end, in one process: the registry simulator on a manual clock and the
//! backorder service wired exactly as `backorder-svc serve` wires it (`app::serve`), following
//! the simulator's clock. Everything is set up and read back through the public gRPC APIs.
//!
//! - [`harness`]: start both services for a scenario and a seed, on SQLite or PostgreSQL;
//!   accounts, deposits, TLD leads, orders; drive the clock; read orders, balances, the
//!   ledger check, events, domains, auctions and the simulator's race log.
//! - [`checks`]: the end-to-end invariants (ledger, charging, one holder per caught domain) as
//!   functions over a [`checks::Snapshot`], shared by the tests and the drop-day runner.
//! - [`child_service`]: the real `backorder-svc` binary as a child process, killed with
//!   SIGKILL and restarted on the same database (the kill -9 test, `tests/kill_nine.rs`).
//! - [`drop_day`]: the simulated drop day (seeded accounts and orders, the drop window,
//!   auctions and payment) and its [`report`] and [`chart`].

pub mod chart;
pub mod checks;
pub mod child_service;
pub mod clients;
pub mod drop_day;
pub mod harness;
pub mod money;
pub mod pg;
pub mod progress;
pub mod report;
pub mod service;
pub mod sim;
pub mod time;
