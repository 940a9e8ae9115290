//! Adding a batch-built segment file to a standalone table (checked as every role
//! checks uploads: `tessera_controller::upload`).

use std::sync::Arc;

use axum::http::StatusCode;
use tessera_api::http::MAX_BODY_BYTES;
use tessera_ingest::realtime::ServedSegment;
use tessera_segment::ImmutableSegment;
use tessera_storage::{DeepStore, FileChecksum};

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

/// Write an upload's `body` into `temporary` as it arrives, a megabyte per write, and
/// checksum it on the way; its length and CRC. At most [`MAX_BODY_BYTES`].
pub async fn receive(
    body: axum::body::Body,
    temporary: &tempfile::NamedTempFile,
) -> Result<(u64, u32), ApiError> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let file = temporary.reopen().map_err(internal)?;
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
    let mut checksum = FileChecksum::default();
    let mut stream = body.into_data_stream();
    let mut received = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("reading the upload: {e}"))
        })?;
        received += chunk.len();
        if received > MAX_BODY_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a segment upload is limited to {MAX_BODY_BYTES} bytes"),
            ));
        }
        checksum.update(&chunk);
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    Ok(checksum.finish())
}

/// Check, store and serve one uploaded segment file, written to `temporary` by
/// [`receive`] (`checksum`: its length and CRC); returns its name.
pub fn add_segment(
    state: &ServerState,
    table: &TableRuntime,
    temporary: tempfile::NamedTempFile,
    (size_bytes, crc32): (u64, u32),
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
