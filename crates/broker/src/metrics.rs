//! The broker's own `/metrics` families: routing and scatter counters, beside the
//! query and connection counters it shares with standalone.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use tessera_api::prometheus::Families;
use tessera_api::prometheus::load as read;

/// A broker's routing and scatter counters.
#[derive(Debug, Default)]
pub struct BrokerMetrics {
    pub queries_scattered: AtomicU64,
    /// Leaf calls sent (a query's fan-out, summed).
    pub leaf_calls: AtomicU64,
    pub leaf_failures: AtomicU64,
    /// Servers whose segments were re-routed to another replica.
    pub retries: AtomicU64,
    pub partial_results: AtomicU64,
    pub partials_wire_bytes: AtomicU64,
    /// Segments left out before the scatter by their catalog bounds.
    pub segments_pruned: AtomicU64,
    /// Segment → replica entries in the routing view at the last query.
    pub routing_entries: AtomicU64,
}

impl BrokerMetrics {
    /// Append the broker's families; `servers` is each server's (in flight, latency
    /// EWMA in seconds).
    pub fn render(&self, f: &mut Families, servers: &BTreeMap<String, (usize, f64)>) {
        for (name, kind, help, value) in [
            (
                "tessera_broker_queries_scattered_total",
                "counter",
                "Queries scattered to servers",
                read(&self.queries_scattered),
            ),
            (
                "tessera_broker_leaf_calls_total",
                "counter",
                "Leaf calls sent to servers (the fan-out, summed over queries)",
                read(&self.leaf_calls),
            ),
            (
                "tessera_broker_leaf_failures_total",
                "counter",
                "Leaf calls that failed (their segments were retried elsewhere or reported unavailable)",
                read(&self.leaf_failures),
            ),
            (
                "tessera_broker_retries_total",
                "counter",
                "Servers whose segments were re-routed to another replica",
                read(&self.retries),
            ),
            (
                "tessera_broker_partial_results_total",
                "counter",
                "Answers flagged partialResult (segments no replica answered)",
                read(&self.partial_results),
            ),
            (
                "tessera_broker_partials_wire_bytes_total",
                "counter",
                "Arrow bytes of partial results received from servers",
                read(&self.partials_wire_bytes),
            ),
            (
                "tessera_broker_segments_pruned_total",
                "counter",
                "Segments the broker pruned by their catalog min/max before scattering",
                read(&self.segments_pruned),
            ),
            (
                "tessera_broker_routing_entries",
                "gauge",
                "Segment-to-replica entries in the routing view at the last query",
                read(&self.routing_entries),
            ),
        ] {
            f.family(name, kind, help);
            f.sample(name, &[], value);
        }
        f.family(
            "tessera_broker_server_in_flight",
            "gauge",
            "Leaf calls in flight per server",
        );
        for (server, (in_flight, _)) in servers {
            f.sample(
                "tessera_broker_server_in_flight",
                &[("server", server)],
                in_flight,
            );
        }
        f.family(
            "tessera_broker_server_latency_ewma_seconds",
            "gauge",
            "Recent leaf-call latency per server (exponentially weighted; failures count as 10 s)",
        );
        for (server, (_, latency)) in servers {
            f.sample(
                "tessera_broker_server_latency_ewma_seconds",
                &[("server", server)],
                latency,
            );
        }
    }
}
