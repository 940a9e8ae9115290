//! `GET /metrics` of `tessera standalone` in the Prometheus text format.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse;
use tessera_ingest::realtime::ServedSegment;
use tessera_storage::Operation;

use tessera_api::prometheus::{Families, queries_and_connections};

use super::state::ServerState;

pub async fn metrics(State(state): State<Arc<ServerState>>) -> impl IntoResponse {
    let mut f = Families::new();
    let tables = state.table_list();
    let ingest: Vec<_> = tables
        .iter()
        .filter_map(|t| {
            Some((
                t.record.name.clone(),
                t.realtime.as_ref()?.metrics().clone(),
            ))
        })
        .collect();
    tessera_server::ingest_metrics::render(&mut f, &ingest);
    // (table, state, segments, bytes, rows); each family's samples stay together, as
    // the exposition format requires.
    let mut by_state: Vec<(String, &str, u64, u64, u64)> = Vec::new();
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
        let name = table.record.name.clone();
        by_state.push((
            name.clone(),
            "consuming",
            consuming,
            consuming_bytes,
            consuming_rows,
        ));
        by_state.push((name, "sealed", sealed, sealed_bytes, sealed_rows));
    }
    type Pick = fn(&(String, &str, u64, u64, u64)) -> u64;
    let families: [(&str, &str, Pick); 3] = [
        ("tessera_segments", "Serving segments by state", |r| r.2),
        (
            "tessera_segment_bytes",
            "Bytes of serving segments by state (memory for consuming, file size for sealed)",
            |r| r.3,
        ),
        (
            "tessera_segment_rows",
            "Rows of serving segments by state",
            |r| r.4,
        ),
    ];
    for (family, help, pick) in families {
        f.family(family, "gauge", help);
        for row in &by_state {
            f.sample(family, &[("table", &row.0), ("state", row.1)], pick(row));
        }
    }
    per_partition(&mut f, &tables);
    queries_and_connections(&mut f, &state.metrics);
    deep_store(&mut f, &state);
    if let Some(cold) = &state.cold {
        tessera_server::cold_metrics::render(&mut f, cold);
    }
    lakehouse(&mut f, &tables);
    f.into_response()
}

/// Rows per stream partition and each partition's consuming position. Push and
/// generator streams have no upstream backlog (a row is consumed when acknowledged), so
/// their lag is 0 by construction; Kafka streams report the distance to the log end.
fn per_partition(f: &mut Families, tables: &[Arc<super::state::TableRuntime>]) {
    // One series per (table, partition): during a seal a partition has two consuming
    // segments (the full one and its successor); the successor is the position.
    let mut consuming: BTreeMap<(String, u32), u64> = BTreeMap::new();
    for table in tables {
        for segment in table.segments.list() {
            if let ServedSegment::Consuming(segment) = segment {
                let key = (table.record.name.clone(), segment.identity().partition);
                let end = segment.end_offset();
                let entry = consuming.entry(key).or_insert(end);
                *entry = (*entry).max(end);
            }
        }
    }
    let now = tessera_ingest::realtime::now_ms();
    let mut lag: BTreeMap<(String, u32), (u64, i64)> = BTreeMap::new();
    for table in tables {
        if let Some(realtime) = &table.realtime {
            for (partition, status) in realtime.partition_status() {
                lag.insert(
                    (table.record.name.clone(), partition),
                    (status.lag_offsets(), status.lag_millis(now)),
                );
            }
        }
    }
    type Pick = fn(u64, (u64, i64)) -> f64;
    let families: [(&str, &str, Pick); 3] = [
        (
            "tessera_consuming_offset",
            "Next stream offset of the partition's consuming segment",
            |offset, _| offset as f64,
        ),
        (
            "tessera_consuming_lag_offsets",
            "Messages in the stream not consumed yet (0 for push and generator streams)",
            |_, lag| lag.0 as f64,
        ),
        (
            "tessera_consuming_lag_seconds",
            "How long the partition has been behind the stream (0 when caught up, and for push and generator streams)",
            |_, lag| lag.1 as f64 / 1000.0,
        ),
    ];
    for (name, help, pick) in families {
        f.family(name, "gauge", help);
        for ((table, partition), end_offset) in &consuming {
            let partition_lag = lag
                .get(&(table.clone(), *partition))
                .copied()
                .unwrap_or((0, 0));
            f.sample(
                name,
                &[("table", table), ("partition", &partition.to_string())],
                pick(*end_offset, partition_lag),
            );
        }
    }
}

fn deep_store(f: &mut Families, state: &ServerState) {
    for (family, help, errors) in [
        (
            "tessera_deep_store_operations_total",
            "Deep-store (object store) calls by operation",
            false,
        ),
        (
            "tessera_deep_store_errors_total",
            "Failed deep-store calls by operation",
            true,
        ),
    ] {
        f.family(family, "counter", help);
        for operation in Operation::ALL {
            let (calls, failed) = state.deep_store.metrics().totals(operation);
            f.sample(
                family,
                &[("operation", operation.name())],
                if errors { failed } else { calls },
            );
        }
    }
}

/// Each lakehouse tier's counters, by table.
fn lakehouse(f: &mut Families, tables: &[Arc<super::state::TableRuntime>]) {
    let tiers: Vec<_> = tables
        .iter()
        .filter_map(|t| Some((t.record.name.as_str(), t.lakehouse.as_ref()?.metrics())))
        .collect();
    let Some((_, first)) = tiers.first() else {
        return;
    };
    for (index, (family, help, _)) in first.iter().enumerate() {
        f.family(family, "counter", help);
        for (table, metrics) in &tiers {
            f.sample(family, &[("table", table)], metrics[index].2);
        }
    }
}
