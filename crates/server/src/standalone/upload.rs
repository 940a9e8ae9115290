//! Adding a batch-built segment file to a table.

use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use tessera_ingest::realtime::ServedSegment;
use tessera_meta::{SegmentRecord, SegmentState};
use tessera_query::planner::TableSchema;
use tessera_segment::{ImmutableSegment, SegmentMetadata, SegmentReader};
use tessera_storage::{DeepStore, file_crc32};

use super::http::ApiError;
use super::state::{ServerState, TableRuntime};

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
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
    SegmentRecord {
        name: metadata.name.clone(),
        table: table_name.to_string(),
        state: SegmentState::Done,
        partition: 0,
        sequence: 0,
        start_offset: 0,
        end_offset: None,
        location: Some(location),
        size_bytes: bytes.len() as u64,
        crc32: Some(file_crc32(bytes)),
        num_docs: u64::from(metadata.row_count),
        min_time: metadata.min_time,
        max_time: metadata.max_time,
        created_ms: metadata.creation_time_ms,
        idempotency_keys: Default::default(),
        column_ranges: tessera_ingest::segment_stats::column_ranges(metadata),
    }
}

/// Check, store and serve one uploaded segment file; returns its name.
pub fn add_segment(
    state: &ServerState,
    table: &TableRuntime,
    bytes: &[u8],
) -> Result<String, ApiError> {
    let table_name = &table.record.name;
    let dir = tessera_ingest::realtime::segments_dir(&state.data_dir, table_name);
    std::fs::create_dir_all(&dir).map_err(internal)?;
    let temporary = tempfile::Builder::new()
        .suffix(".upload")
        .tempfile_in(&dir)
        .map_err(internal)?;
    std::fs::write(temporary.path(), bytes).map_err(internal)?;
    let metadata = check_segment_file(temporary.path(), table_name, &table.query_schema)?;
    let name = metadata.name.clone();
    if table.segments.list().iter().any(|s| s.name() == name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("segment `{name}` already exists in table `{table_name}`"),
        ));
    }
    let location = DeepStore::segment_location(table_name, &name);
    let created = state
        .runtime
        .block_on(state.deep_store.put_new(&location, bytes.to_vec().into()))
        .map_err(internal)?;
    if !created {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("segment `{name}` already exists in the deep store of table `{table_name}`"),
        ));
    }
    let record = uploaded_segment_record(table_name, &metadata, location, bytes);
    state.catalog.add_segment(&record).map_err(|e| match e {
        tessera_meta::Error::Conflict(_) => ApiError::new(
            StatusCode::CONFLICT,
            format!("segment `{name}` already exists"),
        ),
        other => internal(other),
    })?;
    let path = state.segment_path(table_name, &name);
    temporary.persist(&path).map_err(internal)?;
    let segment = ImmutableSegment::open(&path).map_err(internal)?;
    table.segments.add(ServedSegment::Sealed(Arc::new(segment)));
    Ok(name)
}
