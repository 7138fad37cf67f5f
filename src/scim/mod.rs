//! The SCIM 2.0 service provider at `/scim/v2`: the edge IdPs push users and
//! groups through. The bearer token selects the directory.
//!
//! Pure parts: [`schema`] (attribute definitions and discovery documents),
//! [`filter`], [`path`], [`project`], [`patch`], [`resource`]. The HTTP part:
//! [`routes`] (axum handlers), [`auth`], [`error`], [`sync_log`].

pub mod auth;
pub mod error;
pub mod filter;
pub mod patch;
pub mod path;
pub mod project;
pub mod resource;
pub mod routes;
pub mod schema;
pub mod sync_log;
