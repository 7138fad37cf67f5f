//! Compiles `proto/rolecall/v1/*.proto` with a vendored protoc, so a fresh
//! machine needs no system protobuf compiler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = [
        "proto/rolecall/v1/authorizer.proto",
        "proto/rolecall/v1/sync.proto",
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("rolecall_descriptor.bin"))
        .compile_protos(&protos, &["proto"])?;
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    Ok(())
}
