//! What every role's process shares, whichever wiring runs it (`tessera standalone`,
//! or a cluster's controllers, brokers and servers): the HTTP error body and helpers,
//! `[auth]`, `[tls]`, the Prometheus page builder and the query metrics, and
//! for the cluster wiring the node config, how a role process starts, the etcd key
//! layout and the reading of catalog tables. No role's own logic lives here, and
//! nothing here links the ingest path (a broker depends on this crate).

pub mod auth;
pub mod catalog_tables;
pub mod http;
pub mod http_listener;
pub mod keys;
pub mod node_config;
pub mod prometheus;
pub mod role_start;
pub mod server_metrics;
pub mod table_status;
pub mod tls;

/// Pinot's `events_REALTIME` / `events_OFFLINE` name the table `events`.
pub fn strip_type_suffix(name: &str) -> &str {
    name.strip_suffix("_REALTIME")
        .or_else(|| name.strip_suffix("_OFFLINE"))
        .unwrap_or(name)
}
