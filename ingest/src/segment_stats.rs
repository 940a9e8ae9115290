//! What a sealed segment's catalog record says about its values, for brokers' pruning.

use std::collections::BTreeMap;

use tessera_meta::ColumnRange;
use tessera_segment::SegmentMetadata;

/// Strings longer than this keep no range in the catalog (a record stays small; long
/// text values seldom prune).
const MAX_RANGE_STRING_BYTES: usize = 64;

/// Each column's smallest and largest non-null value: numbers, and strings up to
/// 64 bytes. Columns without a non-null value, and other types, have no range.
pub fn column_ranges(metadata: &SegmentMetadata) -> BTreeMap<String, ColumnRange> {
    let recordable = |value: &serde_json::Value| match value {
        serde_json::Value::Number(_) => true,
        serde_json::Value::String(text) => text.len() <= MAX_RANGE_STRING_BYTES,
        _ => false,
    };
    metadata
        .columns
        .iter()
        .filter(|column| recordable(&column.min) && recordable(&column.max))
        .map(|column| {
            let range = ColumnRange {
                min: column.min.clone(),
                max: column.max.clone(),
            };
            (column.name.clone(), range)
        })
        .collect()
}
