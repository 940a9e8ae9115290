//! Ingestion counters of one table, read by the server's `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tessera_metrics::Histogram;

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
    /// Bytes of sealed-but-uncommitted segments now.
    pub pending_seal_bytes: AtomicU64,
    /// Whole successful seals, and their steps: building the segment file, uploading
    /// it, committing it.
    pub seal_seconds: Histogram,
    pub build_seconds: Histogram,
    pub upload_seconds: Histogram,
    pub commit_seconds: Histogram,
    rows_rejected: Mutex<BTreeMap<&'static str, u64>>,
    rows_by_partition: Mutex<BTreeMap<u32, u64>>,
    partitions: Mutex<BTreeMap<u32, PartitionStatus>>,
    seal_stalls: Mutex<BTreeMap<u32, SealStall>>,
}

/// A partition whose sealer met a failure retrying cannot cure (a segment that does
/// not build): it stopped sealing, and says why, until the table restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealStall {
    pub segment: String,
    pub error: String,
    pub since_ms: i64,
}

impl SealStall {
    /// The stall of `partition` as `GET /tables/{t}/status` and `GET /consuming` show it.
    pub fn to_json(&self, partition: u32) -> serde_json::Value {
        serde_json::json!({
            "partition": partition,
            "segment": self.segment,
            "error": self.error,
            "sinceMs": self.since_ms,
        })
    }
}

/// Where a stream partition's consumption stands (Kafka; push and generator
/// partitions report their next offset and no upstream).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionStatus {
    /// The next offset to consume (the consuming segment's end).
    pub next_offset: u64,
    /// The upstream log-end offset, when known.
    pub log_end_offset: Option<u64>,
    /// Timestamp of the last consumed message.
    pub last_message_ms: Option<i64>,
    /// When the partition was last seen with nothing left to consume.
    pub caught_up_ms: Option<i64>,
    pub paused: bool,
}

impl PartitionStatus {
    /// Messages produced but not consumed yet.
    pub fn lag_offsets(&self) -> u64 {
        self.log_end_offset
            .map_or(0, |end| end.saturating_sub(self.next_offset))
    }

    /// How far behind the freshest consumed data is: 0 when caught up, else the time
    /// since the partition was last caught up.
    pub fn lag_millis(&self, now_ms: i64) -> i64 {
        if self.lag_offsets() == 0 {
            return 0;
        }
        self.caught_up_ms
            .or(self.last_message_ms)
            .map_or(0, |t| (now_ms - t).max(0))
    }
}

impl IngestMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// `rows` appended to a consuming segment of `partition`.
    pub fn ingested(&self, partition: u32, rows: u64) {
        IngestMetrics::add(&self.rows_ingested, rows);
        *self
            .rows_by_partition
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(partition)
            .or_default() += rows;
    }

    pub fn set_partition_status(&self, partition: u32, status: PartitionStatus) {
        self.partitions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(partition, status);
    }

    /// Every partition's consumption status.
    /// Forget a partition this process no longer consumes.
    pub fn remove_partition_status(&self, partition: u32) {
        self.partitions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&partition);
    }

    /// Record that `partition`'s sealer stopped on a failure retrying cannot cure.
    pub fn seal_stalled(&self, partition: u32, stall: SealStall) {
        self.seal_stalls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(partition, stall);
    }

    /// The partitions whose sealer stopped, and why.
    pub fn seal_stalls(&self) -> BTreeMap<u32, SealStall> {
        self.seal_stalls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn partition_status(&self) -> BTreeMap<u32, PartitionStatus> {
        self.partitions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Rows ingested per stream partition.
    pub fn ingested_by_partition(&self) -> BTreeMap<u32, u64> {
        self.rows_by_partition
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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
