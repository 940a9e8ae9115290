//! The server role (DESIGN §8): it loads the sealed segments the controller assigns it
//! from the deep store (checksum verified, cached on local disk), consumes the stream
//! partitions assigned to it into consuming segments (sealing and committing them),
//! takes pushes for the push partitions it owns, reports what it serves under its etcd
//! lease, and answers brokers' leaf requests over Arrow Flight. It parses no client
//! SQL protocol. Standalone serves the same consuming-segment and push answers through
//! [`consuming_info`] and [`push`], and the same ingest metrics through
//! [`ingest_metrics`].

pub mod cold_metrics;
pub mod cold_queries;
mod consumed_tables;
pub mod consuming_info;
pub mod ingest_metrics;
pub mod lakehouse_export;
pub mod lakehouse_tier;
mod metrics;
pub mod push;
mod role;
pub mod time_bound;

pub use role::run;
