//! The registry simulator. Its own issue fills this crate; the contract is `registry.v1`.

pub use backorder_proto::registry::v1 as api;
