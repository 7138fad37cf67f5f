//! rolecall: role assignment for SCIM-synced groups, and the authorization
//! decisions that follow from it.
//!
//! The pure core — [`model`], [`snapshot`], [`engine`] — does no I/O and knows
//! nothing of tokio, sqlx, tonic or axum. The adapters around it — [`store`],
//! [`grpc`], [`sync`], [`http`], [`scim`], [`admin`], [`cli`] — live at the edge.

pub mod admin;
pub mod bench;
pub mod cli;
pub mod datafile;
pub mod engine;
pub mod grpc;
pub mod http;
pub mod model;
pub mod pb;
pub mod refresh;
pub mod scim;
pub mod secret;
pub mod snapshot;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod time;
