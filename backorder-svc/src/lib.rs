//! The backorder service: accounts and the ledger, the TLD catalog, API keys, orders and
//! their scheduler, the drop list, the catcher, allocation and private auctions, behind a
//! gRPC API.
//!
//! Dependencies point one way: `api` -> `ledger`/`store` -> `domain`. `domain` holds pure
//! rules; `store` persists them (SQLite or PostgreSQL); `api` parses, authorizes and maps.

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
pub mod ledger;
pub mod lifecycle;
pub mod server;
pub mod store;
pub mod supervision;
pub mod test_environment;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod usecases;
