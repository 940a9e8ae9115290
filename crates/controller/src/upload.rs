//! Checks every role applies to an uploaded segment file, and its catalog record.

use std::path::Path;

use axum::http::StatusCode;
use tessera_meta::{SegmentRecord, SegmentState};
use tessera_query::planner::TableSchema;
use tessera_segment::{ImmutableSegment, SegmentMetadata, SegmentReader};
use tessera_storage::file_crc32;

use tessera_api::http::ApiError;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// Check that the file at `path` is a valid segment of `table_name` with every column of
/// its schema, typed as the schema says; returns the segment's metadata.
pub fn check_segment_file(
    path: &Path,
    table_name: &str,
    schema: &TableSchema,
) -> Result<SegmentMetadata, ApiError> {
    let segment = ImmutableSegment::open(path)
        .map_err(|e| bad(format!("the uploaded file is not a valid segment: {e}")))?;
    let metadata = segment.metadata().clone();
    if metadata.table_name != table_name {
        return Err(bad(format!(
            "the segment belongs to table `{}`, not `{table_name}`",
            metadata.table_name
        )));
    }
    for column in &schema.columns {
        let Some(found) = metadata.column(&column.name) else {
            return Err(bad(format!(
                "the segment has no column `{}` of the table's schema",
                column.name
            )));
        };
        if tessera_query::types::SqlType::of(found.data_type) != column.ty.element
            || found.single_value != column.ty.single_value
        {
            return Err(bad(format!(
                "column `{}` of the segment does not have the table's type",
                column.name
            )));
        }
    }
    Ok(metadata)
}

/// The catalog record of an uploaded (batch-built) segment stored at `location`.
pub fn uploaded_segment_record(
    table_name: &str,
    metadata: &SegmentMetadata,
    location: String,
    bytes: &[u8],
) -> SegmentRecord {
    uploaded_file_record(
        table_name,
        metadata,
        location,
        bytes.len() as u64,
        file_crc32(bytes),
    )
}

/// [`uploaded_segment_record`] of a file of `size_bytes` bytes with checksum `crc32`.
pub fn uploaded_file_record(
    table_name: &str,
    metadata: &SegmentMetadata,
    location: String,
    size_bytes: u64,
    crc32: u32,
) -> SegmentRecord {
    SegmentRecord {
        name: metadata.name.clone(),
        table: table_name.to_string(),
        state: SegmentState::Done,
        partition: 0,
        sequence: 0,
        start_offset: 0,
        end_offset: None,
        location: Some(location),
        size_bytes,
        crc32: Some(crc32),
        num_docs: u64::from(metadata.row_count),
        min_time: metadata.min_time,
        max_time: metadata.max_time,
        created_ms: metadata.creation_time_ms,
        idempotency_keys: Default::default(),
        committed_ms: None,
        column_ranges: tessera_ingest::segment_stats::column_ranges(metadata),
    }
}
