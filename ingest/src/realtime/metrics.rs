//! Ingestion counters of one table, read by the server's `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one realtime table. Plain atomics: the hot path adds, `/metrics` reads.
#[derive(Debug, Default)]
pub struct IngestMetrics {
    pub rows_ingested: AtomicU64,
    /// Rows skipped by the table's `filterConfig`.
    pub rows_filtered: AtomicU64,
    pub requests: AtomicU64,
    pub duplicate_requests: AtomicU64,
    pub backpressure_rejections: AtomicU64,
    pub segments_sealed: AtomicU64,
    pub seal_failures: AtomicU64,
    pub upload_failures: AtomicU64,
    pub commit_failures: AtomicU64,
    /// Sum of seal (build + upload + commit) times, milliseconds.
    pub seal_millis_total: AtomicU64,
    pub upload_millis_total: AtomicU64,
    /// Bytes of sealed-but-uncommitted segments now.
    pub pending_seal_bytes: AtomicU64,
    rows_rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl IngestMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn reject(&self, reason: &'static str) {
        *self
            .rows_rejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
    }

    pub fn rejected(&self) -> BTreeMap<&'static str, u64> {
        self.rows_rejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
