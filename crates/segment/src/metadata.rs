//! Segment and column metadata, stored as JSON inside the segment file.

use serde::{Deserialize, Serialize};
use tessera_config::DataType;

use crate::format::SectionEntry;

/// How a column's forward index stores values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Encoding {
    /// Sorted dictionary + bit-packed dictionary ids.
    Dictionary,
    /// Raw values in compressed chunks.
    Raw,
}

/// Per-column facts a query planner and `segment inspect` need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMetadata {
    pub name: String,
    pub data_type: DataType,
    pub single_value: bool,
    pub encoding: Encoding,
    /// Distinct non-null values: exact for dictionary columns, a HyperLogLog estimate
    /// for raw columns (`cardinalityIsEstimate`).
    pub cardinality: u64,
    pub cardinality_is_estimate: bool,
    /// Bits per dictionary id in the forward index (dictionary columns).
    pub bits_per_id: u8,
    /// Smallest and largest non-null value (JSON as in [`crate::Value::to_json`]); null
    /// when the column has no non-null value.
    pub min: serde_json::Value,
    pub max: serde_json::Value,
    pub null_count: u64,
    /// Multi-value columns: total elements and the most elements in one cell.
    pub total_elements: u64,
    pub max_elements: u32,
    /// Rows are in ascending order of this column (the table's sort column).
    pub is_sorted: bool,
    /// Rows per compressed chunk (raw columns).
    pub chunk_rows: u32,
    /// Raw columns of format version 3 on: the codec of chunks that do not bit-pack
    /// (`LZ4`, `ZSTANDARD`, `PASS_THROUGH`). Older files compressed them with zstd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Index names present: "sorted", "inverted", "range", "bloom", "text".
    pub indexes: Vec<String>,
    /// Forward index + dictionary bytes.
    pub bytes: u64,
    /// Bytes of every other section of the column (indexes, null bitmap).
    pub index_bytes: u64,
}

/// Segment-wide metadata; the `sections` table locates every section of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentMetadata {
    pub name: String,
    pub table_name: String,
    pub format_version: u32,
    pub row_count: u32,
    pub creation_time_ms: i64,
    pub time_column: Option<String>,
    /// Raw values of the time column (TIMESTAMP: epoch milliseconds).
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    pub sorted_column: Option<String>,
    /// Realtime segments: the stream partition and the offset range `[start, end)`.
    pub stream_partition: Option<u32>,
    pub start_offset: Option<u64>,
    pub end_offset: Option<u64>,
    pub columns: Vec<ColumnMetadata>,
    pub sections: Vec<SectionEntry>,
}

impl ColumnMetadata {
    /// A column known by its statistics alone, with no section behind it: how pruning
    /// sees a file that is not a segment (an Iceberg data file, by its manifest entry).
    pub fn from_statistics(
        name: &str,
        data_type: DataType,
        single_value: bool,
        (min, max): (serde_json::Value, serde_json::Value),
        null_count: u64,
    ) -> ColumnMetadata {
        ColumnMetadata {
            name: name.to_string(),
            data_type,
            single_value,
            encoding: Encoding::Raw,
            cardinality: 0,
            cardinality_is_estimate: true,
            bits_per_id: 0,
            min,
            max,
            null_count,
            total_elements: 0,
            max_elements: 0,
            is_sorted: false,
            chunk_rows: 0,
            compression: None,
            indexes: Vec::new(),
            bytes: 0,
            index_bytes: 0,
        }
    }
}

impl SegmentMetadata {
    pub fn column(&self, name: &str) -> Option<&ColumnMetadata> {
        self.columns.iter().find(|column| column.name == name)
    }
}
