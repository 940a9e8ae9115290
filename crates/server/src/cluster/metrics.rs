//! `/metrics` of the cluster roles (Prometheus text): what each role does for the
//! cluster, beside the query and connection counters brokers share with standalone.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::prometheus::Families;

/// Add `amount` to a counter.
pub fn count(counter: &AtomicU64, amount: u64) {
    counter.fetch_add(amount, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

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

/// A controller's leadership and assignment counters.
#[derive(Debug, Default)]
pub struct ControllerMetrics {
    /// Times this controller became the leader.
    pub leader_changes: AtomicU64,
    /// Assignment keys written (replicas added, moved or removed).
    pub assignment_writes: AtomicU64,
    pub assignment_rounds: AtomicU64,
    /// Segments moved to the trash by retention.
    pub segments_trashed: AtomicU64,
}

impl ControllerMetrics {
    pub fn render(&self, f: &mut Families, leads: bool) {
        for (name, kind, help, value) in [
            (
                "tessera_controller_is_leader",
                "gauge",
                "1 while this controller leads",
                u64::from(leads),
            ),
            (
                "tessera_controller_leader_changes_total",
                "counter",
                "Times this controller became the leader",
                read(&self.leader_changes),
            ),
            (
                "tessera_controller_assignment_writes_total",
                "counter",
                "Segment assignment entries written (moves)",
                read(&self.assignment_writes),
            ),
            (
                "tessera_controller_assignment_rounds_total",
                "counter",
                "Assignment rounds run as leader",
                read(&self.assignment_rounds),
            ),
            (
                "tessera_controller_segments_trashed_total",
                "counter",
                "Segments past their table's retention moved to the trash",
                read(&self.segments_trashed),
            ),
        ] {
            f.family(name, kind, help);
            f.sample(name, &[], value);
        }
    }
}

/// A server's serving counters.
#[derive(Debug, Default)]
pub struct ServerRoleMetrics {
    pub leaf_requests: AtomicU64,
    pub leaf_errors: AtomicU64,
    pub segment_loads: AtomicU64,
    pub segment_load_failures: AtomicU64,
    /// Table → segments served now.
    pub served: Mutex<BTreeMap<String, usize>>,
}

impl ServerRoleMetrics {
    pub fn render(&self, f: &mut Families) {
        for (name, help, value) in [
            (
                "tessera_server_leaf_requests_total",
                "Leaf requests answered over Flight",
                read(&self.leaf_requests),
            ),
            (
                "tessera_server_leaf_errors_total",
                "Leaf requests answered with an error",
                read(&self.leaf_errors),
            ),
            (
                "tessera_server_segment_loads_total",
                "Assigned segments loaded (from the local copy or the deep store)",
                read(&self.segment_loads),
            ),
            (
                "tessera_server_segment_load_failures_total",
                "Assigned segments that failed to load (retried)",
                read(&self.segment_load_failures),
            ),
        ] {
            f.family(name, "counter", help);
            f.sample(name, &[], value);
        }
        f.family(
            "tessera_server_segments_served",
            "gauge",
            "Segments served now, per table",
        );
        let served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        for (table, count) in served.iter() {
            f.sample("tessera_server_segments_served", &[("table", table)], count);
        }
    }
}
