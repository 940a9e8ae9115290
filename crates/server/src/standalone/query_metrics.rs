//! Query counters for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct QueryMetrics {
    pub succeeded: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
    pub micros_total: AtomicU64,
}

impl QueryMetrics {
    pub fn record(&self, outcome: &AtomicU64, micros: u64) {
        outcome.fetch_add(1, Ordering::Relaxed);
        self.micros_total.fetch_add(micros, Ordering::Relaxed);
    }
}
