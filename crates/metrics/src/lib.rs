//! Metric primitives shared by the ingest path and every role's `/metrics`: a
//! dependency-free crate, so the broker reports latencies without linking the
//! ingest path (and its Kafka client).

pub mod histogram;

pub use histogram::Histogram;
