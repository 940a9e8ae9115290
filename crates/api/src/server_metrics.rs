//! The server's own counters for `/metrics`: queries by protocol and outcome with a
//! latency histogram, open and accepted connections per protocol, and the local
//! segment cache (sealed segments found on local disk vs downloaded).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tessera_metrics::Histogram;
use tessera_query::QueryError;

/// Where a query or connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Pg,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::Http, Protocol::Pg];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Pg => "pg",
        }
    }
}

/// How a query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    Ok,
    ClientError,
    ServerError,
}

impl QueryStatus {
    pub const ALL: [QueryStatus; 3] = [
        QueryStatus::Ok,
        QueryStatus::ClientError,
        QueryStatus::ServerError,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QueryStatus::Ok => "ok",
            QueryStatus::ClientError => "client_error",
            QueryStatus::ServerError => "server_error",
        }
    }

    pub fn of(error: &QueryError) -> QueryStatus {
        if error.is_client_error() {
            QueryStatus::ClientError
        } else {
            QueryStatus::ServerError
        }
    }
}

#[derive(Debug, Default)]
pub struct ServerMetrics {
    queries: [[AtomicU64; 3]; 2],
    latency: [Histogram; 2],
    connections_open: [AtomicI64; 2],
    connections_total: [AtomicU64; 2],
    pub segment_cache_hits: AtomicU64,
    pub segment_cache_misses: AtomicU64,
}

impl ServerMetrics {
    pub fn query(&self, protocol: Protocol, status: QueryStatus, elapsed: Duration) {
        self.queries[protocol as usize][status as usize].fetch_add(1, Ordering::Relaxed);
        self.latency[protocol as usize].observe(elapsed);
    }

    pub fn queries(&self, protocol: Protocol, status: QueryStatus) -> u64 {
        self.queries[protocol as usize][status as usize].load(Ordering::Relaxed)
    }

    pub fn latency(&self, protocol: Protocol) -> &Histogram {
        &self.latency[protocol as usize]
    }

    /// A connection opened; the guard closes it in the gauge when dropped.
    pub fn connection(self: &std::sync::Arc<Self>, protocol: Protocol) -> ConnectionGuard {
        self.connections_open[protocol as usize].fetch_add(1, Ordering::Relaxed);
        self.connections_total[protocol as usize].fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            metrics: self.clone(),
            protocol,
        }
    }

    pub fn connections(&self, protocol: Protocol) -> (i64, u64) {
        (
            self.connections_open[protocol as usize].load(Ordering::Relaxed),
            self.connections_total[protocol as usize].load(Ordering::Relaxed),
        )
    }
}

/// Counts one open connection until dropped.
#[derive(Debug)]
pub struct ConnectionGuard {
    metrics: std::sync::Arc<ServerMetrics>,
    protocol: Protocol,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.connections_open[self.protocol as usize].fetch_sub(1, Ordering::Relaxed);
    }
}
