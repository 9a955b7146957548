//! Pure rules: no I/O, no clock reads. Values here are validated at the edge and cannot hold
//! bad data, so the layers below never check them again.

pub mod account;
pub mod allocation;
pub mod auction;
pub mod catalog;
pub mod drop_list;
pub mod event;
pub mod lifecycle;
pub mod money;
pub mod name;
