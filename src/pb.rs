//! Generated protobuf and gRPC code of `proto/rolecall/v1`.

#![allow(clippy::all, clippy::pedantic)]

/// `rolecall.v1`.
pub mod v1 {
    tonic::include_proto!("rolecall.v1");
}

/// The encoded file descriptor set, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("rolecall_descriptor");
