//! `GET /metrics` in the Prometheus text format.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use tessera_ingest::realtime::ServedSegment;

use super::state::ServerState;

struct Families {
    out: String,
}

impl Families {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
        }
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

pub async fn metrics(State(state): State<Arc<ServerState>>) -> impl IntoResponse {
    let mut f = Families { out: String::new() };
    let tables = state.table_list();
    type Counter = fn(&tessera_ingest::realtime::IngestMetrics) -> &AtomicU64;
    let counters: [(&str, &str, &str, Counter); 12] = [
        (
            "tessera_rows_filtered_total",
            "counter",
            "Rows skipped by the table's filterConfig",
            |m| &m.rows_filtered,
        ),
        (
            "tessera_rows_ingested_total",
            "counter",
            "Rows appended to consuming segments",
            |m| &m.rows_ingested,
        ),
        (
            "tessera_push_requests_total",
            "counter",
            "Push requests received",
            |m| &m.requests,
        ),
        (
            "tessera_push_duplicate_requests_total",
            "counter",
            "Push requests whose Idempotency-Key was already applied",
            |m| &m.duplicate_requests,
        ),
        (
            "tessera_push_backpressure_total",
            "counter",
            "Push requests refused with 503 because sealed segments wait for the deep store",
            |m| &m.backpressure_rejections,
        ),
        (
            "tessera_segments_sealed_total",
            "counter",
            "Consuming segments sealed, uploaded and committed",
            |m| &m.segments_sealed,
        ),
        (
            "tessera_seal_failures_total",
            "counter",
            "Failed seal attempts (retried)",
            |m| &m.seal_failures,
        ),
        (
            "tessera_deep_store_upload_failures_total",
            "counter",
            "Failed segment uploads (retried)",
            |m| &m.upload_failures,
        ),
        (
            "tessera_commit_failures_total",
            "counter",
            "Failed segment commits (retried)",
            |m| &m.commit_failures,
        ),
        (
            "tessera_seal_duration_milliseconds_total",
            "counter",
            "Time spent sealing (build, upload, commit)",
            |m| &m.seal_millis_total,
        ),
        (
            "tessera_deep_store_upload_milliseconds_total",
            "counter",
            "Time spent uploading sealed segments",
            |m| &m.upload_millis_total,
        ),
        (
            "tessera_pending_seal_bytes",
            "gauge",
            "Bytes of full consuming segments waiting to be committed",
            |m| &m.pending_seal_bytes,
        ),
    ];
    for (name, kind, help, counter) in counters {
        f.family(name, kind, help);
        for table in &tables {
            if let Some(realtime) = &table.realtime {
                f.sample(
                    name,
                    &[("table", &table.record.name)],
                    load(counter(realtime.metrics())),
                );
            }
        }
    }
    f.family(
        "tessera_rows_rejected_total",
        "counter",
        "Rows skipped at ingestion, by reason",
    );
    for table in &tables {
        if let Some(realtime) = &table.realtime {
            for (reason, count) in realtime.metrics().rejected() {
                f.sample(
                    "tessera_rows_rejected_total",
                    &[("table", &table.record.name), ("reason", reason)],
                    count,
                );
            }
        }
    }
    f.family("tessera_segments", "gauge", "Serving segments by state");
    f.family(
        "tessera_segment_bytes",
        "gauge",
        "Bytes of serving segments by state (memory for consuming, file size for sealed)",
    );
    f.family(
        "tessera_segment_rows",
        "gauge",
        "Rows of serving segments by state",
    );
    for table in &tables {
        let (mut consuming, mut consuming_bytes, mut consuming_rows) = (0u64, 0u64, 0u64);
        let (mut sealed, mut sealed_bytes, mut sealed_rows) = (0u64, 0u64, 0u64);
        for segment in table.segments.list() {
            match segment {
                ServedSegment::Consuming(segment) => {
                    consuming += 1;
                    consuming_bytes += segment.memory_bytes() as u64;
                    consuming_rows += u64::from(segment.num_rows());
                }
                ServedSegment::Sealed(segment) => {
                    sealed += 1;
                    sealed_bytes += segment.file_len();
                    sealed_rows +=
                        u64::from(tessera_segment::SegmentReader::num_docs(segment.as_ref()));
                }
            }
        }
        let name = table.record.name.as_str();
        for (state_name, count, bytes, rows) in [
            ("consuming", consuming, consuming_bytes, consuming_rows),
            ("sealed", sealed, sealed_bytes, sealed_rows),
        ] {
            f.sample(
                "tessera_segments",
                &[("table", name), ("state", state_name)],
                count,
            );
            f.sample(
                "tessera_segment_bytes",
                &[("table", name), ("state", state_name)],
                bytes,
            );
            f.sample(
                "tessera_segment_rows",
                &[("table", name), ("state", state_name)],
                rows,
            );
        }
    }
    f.family("tessera_queries_total", "counter", "Queries by outcome");
    for (status, counter) in [
        ("ok", &state.queries.succeeded),
        ("client_error", &state.queries.client_errors),
        ("server_error", &state.queries.server_errors),
    ] {
        f.sample(
            "tessera_queries_total",
            &[("status", status)],
            load(counter),
        );
    }
    f.family(
        "tessera_query_duration_microseconds_total",
        "counter",
        "Time spent answering queries",
    );
    f.sample(
        "tessera_query_duration_microseconds_total",
        &[],
        load(&state.queries.micros_total),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], f.out)
}
