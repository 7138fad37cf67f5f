//! Keeping sidecars current: the `SnapshotSync` service the store serves
//! ([`server`]), the sidecar's side of it ([`follower`]), the wire form of
//! states and deltas ([`convert`]), the replica a delta is applied to
//! ([`replica`]) and the sidecar's cache file ([`cache`]).

pub mod cache;
pub mod convert;
pub mod follower;
pub mod replica;
pub mod server;
