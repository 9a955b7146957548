//! Compiles the .proto files with protox (pure Rust: these machines have no `protoc`) and
//! keeps the encoded descriptor set so the services can serve gRPC reflection.

use prost::Message;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "backorder/v1/common.proto",
    "backorder/v1/accounts.proto",
    "backorder/v1/catalog.proto",
    "backorder/v1/backorders.proto",
    "backorder/v1/droplist.proto",
    "backorder/v1/auctions.proto",
    "backorder/v1/events.proto",
    "backorder/v1/operator.proto",
    "registry/v1/registry.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("descriptor.bin"), descriptors.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
