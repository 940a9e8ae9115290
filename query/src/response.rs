//! The Pinot broker response: what `POST /query/sql` returns and `tessera query --format
//! json` prints. TIMESTAMP cells print as Pinot prints them (`2024-01-01 00:00:00.0`),
//! BYTES as hex, SQL NULL as JSON null, non-finite doubles as strings.

use serde_json::{Map, Value as Json, json};

use crate::engine::QueryOutcome;
use crate::error::QueryError;
use crate::merge::ResultTable;
use crate::time::format_pinot;
use crate::types::{Scalar, SqlType};

/// A cell as JSON, by its column type.
pub fn cell_json(value: &Scalar, ty: SqlType) -> Json {
    match value {
        Scalar::Null => Json::Null,
        Scalar::Bool(v) => Json::Bool(*v),
        Scalar::Long(v) if ty == SqlType::Timestamp => Json::String(format_pinot(*v)),
        Scalar::Long(v) if ty.is_floating() => float_json(*v as f64),
        Scalar::Long(v) => Json::from(*v),
        Scalar::Double(v) => float_json(*v),
        Scalar::Str(v) => Json::String(v.clone()),
        Scalar::Bytes(v) => Json::String(tessera_segment::value::hex(v)),
        Scalar::Array(items) => Json::Array(items.iter().map(|i| cell_json(i, ty)).collect()),
    }
}

fn float_json(v: f64) -> Json {
    match serde_json::Number::from_f64(v) {
        Some(n) => Json::Number(n),
        None if v.is_nan() => Json::String("NaN".into()),
        None if v > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

pub fn result_table_json(result: &ResultTable) -> Json {
    let names: Vec<Json> = result
        .columns
        .iter()
        .map(|c| Json::String(c.name.clone()))
        .collect();
    let types: Vec<Json> = result
        .columns
        .iter()
        .map(|c| Json::String(c.ty.pinot_name()))
        .collect();
    let rows: Vec<Json> = result
        .rows
        .iter()
        .map(|row| {
            Json::Array(
                row.iter()
                    .zip(&result.columns)
                    .map(|(v, c)| cell_json(v, c.ty.element))
                    .collect(),
            )
        })
        .collect();
    json!({
        "dataSchema": {"columnNames": names, "columnDataTypes": types},
        "rows": rows,
    })
}

/// A successful response.
pub fn success(outcome: &QueryOutcome) -> Json {
    let stats = &outcome.stats;
    let mut out = Map::new();
    out.insert("resultTable".into(), result_table_json(&outcome.result));
    out.insert("exceptions".into(), Json::Array(Vec::new()));
    out.insert("numServersQueried".into(), json!(1));
    out.insert("numServersResponded".into(), json!(1));
    out.insert(
        "numSegmentsQueried".into(),
        json!(stats.num_segments_queried),
    );
    out.insert(
        "numSegmentsProcessed".into(),
        json!(stats.num_segments_processed),
    );
    out.insert(
        "numSegmentsMatched".into(),
        json!(stats.num_segments_matched),
    );
    out.insert("numDocsScanned".into(), json!(stats.num_docs_scanned));
    out.insert(
        "numEntriesScannedInFilter".into(),
        json!(stats.num_entries_scanned_in_filter),
    );
    out.insert(
        "numEntriesScannedPostFilter".into(),
        json!(stats.num_entries_scanned_post_filter),
    );
    out.insert("totalDocs".into(), json!(stats.total_docs));
    out.insert(
        "numDeepStoreRequests".into(),
        json!(stats.num_deep_store_requests),
    );
    out.insert(
        "numBytesReadFromDeepStore".into(),
        json!(stats.num_bytes_read_from_deep_store),
    );
    out.insert(
        "numBytesReadFromCache".into(),
        json!(stats.num_bytes_read_from_cache),
    );
    out.insert("numGroupsLimitReached".into(), json!(false));
    out.insert(
        "timeUsedMs".into(),
        json!(outcome.time_used.as_millis() as u64),
    );
    Json::Object(out)
}

/// A failed query: Pinot puts the error in `exceptions` with its code.
pub fn failure(error: &QueryError, time_used_ms: u64) -> Json {
    json!({
        "resultTable": null,
        "exceptions": [{"errorCode": error.code.code(), "message": error.message}],
        "numServersQueried": 0,
        "numServersResponded": 0,
        "numSegmentsQueried": 0,
        "numSegmentsProcessed": 0,
        "numSegmentsMatched": 0,
        "numDocsScanned": 0,
        "numEntriesScannedInFilter": 0,
        "numEntriesScannedPostFilter": 0,
        "totalDocs": 0,
        "timeUsedMs": time_used_ms,
    })
}
