//! Tools to measure rolecall: generated data sets ([`generate`]) for the
//! benchmarks in `benches/` and for `rolecall bench generate`.

pub mod generate;
