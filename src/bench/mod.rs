//! Tools to measure rolecall: generated data sets ([`generate`]) for the
//! benchmarks in `benches/` and for `rolecall bench generate`, a gRPC load
//! generator ([`load`]) for `rolecall bench load`, and an `Authorizer` that
//! does no work ([`ceiling`]) for `rolecall bench ceiling-server`.

pub mod ceiling;
pub mod generate;
pub mod load;
