//! The catalog's records, stored as JSON values of the [`crate::MetaStore`].

use serde::{Deserialize, Serialize};

/// A table: its Pinot-format config (kept as the user sent it) and lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableRecord {
    /// Raw name (`events`), without Pinot's `_REALTIME` / `_OFFLINE` suffix.
    pub name: String,
    /// `REALTIME` or `OFFLINE`.
    pub table_type: String,
    pub schema_name: String,
    /// The table config JSON as posted.
    pub config: serde_json::Value,
    pub created_ms: i64,
    /// Set when the table was dropped: its segments are in the deep store's trash, and
    /// `restore` brings them back (no purge job removes them yet).
    #[serde(default)]
    pub deleted_ms: Option<i64>,
}

/// Where a segment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SegmentState {
    /// In memory on a server, fed by a stream partition from `start_offset`.
    Consuming,
    /// Sealed, uploaded and committed: served from the deep store.
    Done,
}

/// One segment of a table. Realtime segments of a partition form a chain with
/// contiguous offset ranges `[start_offset, end_offset)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentRecord {
    pub name: String,
    pub table: String,
    pub state: SegmentState,
    /// Stream partition (realtime) — batch segments use 0.
    pub partition: u32,
    /// Position in the partition's chain.
    pub sequence: u32,
    pub start_offset: u64,
    /// Set when the segment is DONE.
    pub end_offset: Option<u64>,
    /// Deep-store path of the `.tseg` (DONE).
    pub location: Option<String>,
    pub size_bytes: u64,
    /// CRC-32 of the whole `.tseg` file, checked after every download.
    pub crc32: Option<u32>,
    pub num_docs: u64,
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    pub created_ms: i64,
    /// `Idempotency-Key` → rows of the push requests whose rows this segment holds, so
    /// a retried request is recognised after its rows were committed.
    /// Cleared once the keys' window has passed since the commit
    /// (`tessera.idempotency.window`, [`crate::Catalog::expire_idempotency_keys`]).
    #[serde(default)]
    pub idempotency_keys: std::collections::BTreeMap<String, u64>,
    /// When the segment was committed DONE (realtime segments; absent in records
    /// written before it was kept, which count from `created_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_ms: Option<i64>,
    /// Column → its smallest and largest non-null value in the segment (DONE segments;
    /// numbers and short strings), so brokers prune segments before they scatter.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub column_ranges: std::collections::BTreeMap<String, ColumnRange>,
}

/// A segment removed by retention: out of routing, its file in the deep store's trash
/// (`_trash/{trashed_ms}/{location}`) until the trash retention ends; restorable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashedSegment {
    pub record: SegmentRecord,
    pub trashed_ms: i64,
}

/// A column's smallest and largest non-null value in one segment, as JSON (as the
/// segment's own metadata writes them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnRange {
    pub min: serde_json::Value,
    pub max: serde_json::Value,
}

impl SegmentRecord {
    /// A partition's consuming segment starting at `start_offset`: no rows, no file yet.
    pub fn consuming(
        table: impl Into<String>,
        name: impl Into<String>,
        partition: u32,
        sequence: u32,
        start_offset: u64,
        created_ms: i64,
    ) -> SegmentRecord {
        SegmentRecord {
            name: name.into(),
            table: table.into(),
            state: SegmentState::Consuming,
            partition,
            sequence,
            start_offset,
            end_offset: None,
            location: None,
            size_bytes: 0,
            crc32: None,
            num_docs: 0,
            min_time: None,
            max_time: None,
            created_ms,
            idempotency_keys: Default::default(),
            committed_ms: None,
            column_ranges: Default::default(),
        }
    }
}
