//! The backorder service: accounts and the ledger, the TLD catalog, API keys, orders and
//! their scheduler, the drop list, the catcher, allocation and private auctions, behind a
//! gRPC API.
//!
//! Dependencies point one way: adapters (`api`, the gRPC API) -> `usecases` -> the rules of
//! `lifecycle`/`ledger`/`catcher`/`drop_list` -> `store` -> `domain`. `domain` holds pure
//! values and rules; `store` persists them (SQLite or PostgreSQL); `usecases` does what the
//! service does, for every adapter; `api` authenticates, parses, calls one use case, maps.

pub mod api;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod catalog;
pub mod catcher;
pub mod clock;
pub mod cmdapi;
pub mod config;
pub mod domain;
pub mod drop_list;
pub mod environment;
pub mod ledger;
pub mod lifecycle;
pub mod server;
pub mod store;
pub mod supervision;
pub mod test_environment;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod usecases;
