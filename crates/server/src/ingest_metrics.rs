//! The `/metrics` families of realtime ingestion, per table: what standalone and a
//! cluster's realtime servers both report (rows ingested, filtered, rejected; pushes;
//! seals and their failures, stalls and steps; pending seal bytes).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tessera_api::prometheus::{Families, histogram, load};
use tessera_ingest::realtime::IngestMetrics;

/// Render the ingest families of `tables` (table name, its counters).
pub fn render(f: &mut Families, tables: &[(String, Arc<IngestMetrics>)]) {
    type Counter = fn(&IngestMetrics) -> &AtomicU64;
    let counters: [(&str, &str, &str, Counter); 10] = [
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
            "Failed seal attempts (retried, unless retrying cannot cure them)",
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
            "tessera_pending_seal_bytes",
            "gauge",
            "Bytes of full consuming segments waiting to be committed",
            |m| &m.pending_seal_bytes,
        ),
    ];
    for (name, kind, help, counter) in counters {
        f.family(name, kind, help);
        for (table, metrics) in tables {
            f.sample(name, &[("table", table)], load(counter(metrics)));
        }
    }
    f.family(
        "tessera_seal_stalled_partitions",
        "gauge",
        "Partitions whose sealing stopped on a failure retrying cannot cure (see GET /tables/{t}/status)",
    );
    for (table, metrics) in tables {
        f.sample(
            "tessera_seal_stalled_partitions",
            &[("table", table)],
            metrics.seal_stalls().len() as u64,
        );
    }
    f.family(
        "tessera_rows_rejected_total",
        "counter",
        "Rows skipped at ingestion, by reason",
    );
    for (table, metrics) in tables {
        for (reason, count) in metrics.rejected() {
            f.sample(
                "tessera_rows_rejected_total",
                &[("table", table), ("reason", reason)],
                count,
            );
        }
    }
    rows_by_partition(f, tables);
    seal_steps(f, tables);
}

fn rows_by_partition(f: &mut Families, tables: &[(String, Arc<IngestMetrics>)]) {
    f.family(
        "tessera_partition_rows_ingested_total",
        "counter",
        "Rows appended to consuming segments, by stream partition",
    );
    for (table, metrics) in tables {
        for (partition, rows) in metrics.ingested_by_partition() {
            f.sample(
                "tessera_partition_rows_ingested_total",
                &[("table", table), ("partition", &partition.to_string())],
                rows,
            );
        }
    }
}

fn seal_steps(f: &mut Families, tables: &[(String, Arc<IngestMetrics>)]) {
    f.family(
        "tessera_seal_duration_seconds",
        "histogram",
        "Successful seals of consuming segments (build, upload, commit)",
    );
    for (table, metrics) in tables {
        histogram(
            f,
            "tessera_seal_duration_seconds",
            &[("table", table)],
            &metrics.seal_seconds,
        );
    }
    f.family(
        "tessera_seal_step_duration_seconds",
        "histogram",
        "Seal steps: build the segment file, upload it to the deep store, commit it to the catalog",
    );
    for (table, metrics) in tables {
        for (step, h) in [
            ("build", &metrics.build_seconds),
            ("upload", &metrics.upload_seconds),
            ("commit", &metrics.commit_seconds),
        ] {
            histogram(
                f,
                "tessera_seal_step_duration_seconds",
                &[("table", table), ("step", step)],
                h,
            );
        }
    }
}
