//! What the roles' client-facing surfaces share, whichever wiring serves them
//! (`tessera standalone`, or a cluster's brokers and controllers): the HTTP error body
//! and helpers, `[auth]`, the PostgreSQL wire over [`query_service::QueryService`],
//! the Prometheus page builder and the query metrics, the upload checks.

pub mod auth;
pub mod consuming_info;
pub mod http;
pub mod new_table;
pub mod pg;
pub mod prometheus;
pub mod push;
pub mod query_service;
pub mod server_metrics;
pub mod upload;

/// Pinot's `events_REALTIME` / `events_OFFLINE` name the table `events`.
pub fn strip_type_suffix(name: &str) -> &str {
    name.strip_suffix("_REALTIME")
        .or_else(|| name.strip_suffix("_OFFLINE"))
        .unwrap_or(name)
}
