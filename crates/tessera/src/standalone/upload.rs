//! Adding a batch-built segment file to a standalone table (checked as every role
//! checks uploads: `tessera_controller::upload`).

use std::sync::Arc;

use axum::http::StatusCode;
use tessera_ingest::realtime::ServedSegment;
use tessera_segment::ImmutableSegment;
use tessera_storage::{DeepStore, file_len_and_crc32};

use tessera_api::http::ApiError;
use tessera_controller::upload::{check_segment_file, uploaded_file_record};

use super::state::{ServerState, TableRuntime};

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

/// A new temporary file beside `table`'s segments, for an upload to be written into
/// (the body streams there; no copy of the whole file is held in memory).
pub fn upload_file(
    state: &ServerState,
    table: &TableRuntime,
) -> Result<tempfile::NamedTempFile, ApiError> {
    let dir = tessera_ingest::realtime::segments_dir(&state.data_dir, &table.record.name);
    std::fs::create_dir_all(&dir).map_err(internal)?;
    tempfile::Builder::new()
        .suffix(".upload")
        .tempfile_in(&dir)
        .map_err(internal)
}

/// Check, store and serve one uploaded segment file, written to `temporary` (from
/// [`upload_file`]); returns its name.
pub fn add_segment(
    state: &ServerState,
    table: &TableRuntime,
    temporary: tempfile::NamedTempFile,
) -> Result<String, ApiError> {
    let table_name = &table.record.name;
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
        .block_on(state.deep_store.put_file_new(&location, temporary.path()))
        .map_err(|e| ApiError::from_status(e.status(), format!("deep store: {e}")))?;
    if !created {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("segment `{name}` already exists in the deep store of table `{table_name}`"),
        ));
    }
    let (size_bytes, crc32) = file_len_and_crc32(temporary.path()).map_err(internal)?;
    let record = uploaded_file_record(table_name, &metadata, location, size_bytes, crc32);
    state.catalog.add_segment(&record).map_err(|e| match e {
        tessera_meta::Error::Conflict(_) => ApiError::new(
            StatusCode::CONFLICT,
            format!("segment `{name}` already exists"),
        ),
        other => ApiError::from_status(other.status(), format!("catalog: {other}")),
    })?;
    let segment = match &state.cold {
        // Cold: the segment is served from the deep store, as after a restart.
        Some(_)
            if table
                .tiering
                .is_cold(&record, tessera_ingest::realtime::now_ms()) =>
        {
            state
                .load_sealed(&record, &table.tiering)
                .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")))?
        }
        _ => {
            let path = state.segment_path(table_name, &name);
            temporary.persist(&path).map_err(internal)?;
            ImmutableSegment::open(&path).map_err(internal)?
        }
    };
    table.segments.add(ServedSegment::Sealed(Arc::new(segment)));
    Ok(name)
}
