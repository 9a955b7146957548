//! The gRPC contract of the backorder platform, generated from `proto/**/*.proto`.
//!
//! `backorder.v1` is the backorder service's public API; `registry.v1` is the registry
//! simulator's (and any real registry adapter's) API. [`FILE_DESCRIPTOR_SET`] feeds gRPC
//! server reflection so `grpcurl` can list and call every method without local .proto files.

#![allow(clippy::all, missing_docs)]

pub mod backorder {
    pub mod v1 {
        tonic::include_proto!("backorder.v1");
    }
}

pub mod registry {
    pub mod v1 {
        tonic::include_proto!("registry.v1");
    }
}

/// Encoded `FileDescriptorSet` of every .proto file, for reflection services.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
