//! The server role's own `/metrics` families: leaf requests, segment loads and the
//! segments served per table.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use tessera_api::prometheus::Families;
use tessera_api::prometheus::load as read;

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
