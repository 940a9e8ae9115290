//! The Prometheus text format, as every role's `GET /metrics` writes it: the page
//! builder and the families both wirings report (queries and connections by protocol).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::header;
use axum::response::IntoResponse;
use tessera_metrics::Histogram;

use super::server_metrics::{Protocol, QueryStatus, ServerMetrics};

/// A Prometheus text page being written.
#[derive(Default)]
pub struct Families {
    out: String,
}

impl Families {
    pub fn new() -> Families {
        Families::default()
    }

    /// The page as an HTTP response.
    pub fn into_response(self) -> axum::response::Response {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            self.out,
        )
            .into_response()
    }

    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
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

pub fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

pub fn histogram(f: &mut Families, name: &str, labels: &[(&str, &str)], h: &Histogram) {
    let snapshot = h.snapshot();
    let bucket = format!("{name}_bucket");
    for (bound, count) in &snapshot.cumulative {
        let le = if bound.is_infinite() {
            "+Inf".to_string()
        } else {
            bound.to_string()
        };
        let mut with_le = labels.to_vec();
        with_le.push(("le", &le));
        f.sample(&bucket, &with_le, count);
    }
    f.sample(&format!("{name}_sum"), labels, snapshot.sum_seconds);
    f.sample(&format!("{name}_count"), labels, snapshot.count);
}

/// Queries and client connections by protocol, and the local segment cache.
pub fn queries_and_connections(f: &mut Families, metrics: &ServerMetrics) {
    f.family(
        "tessera_queries_total",
        "counter",
        "Queries by protocol (http, pg) and outcome",
    );
    for protocol in Protocol::ALL {
        for status in QueryStatus::ALL {
            f.sample(
                "tessera_queries_total",
                &[("protocol", protocol.name()), ("status", status.name())],
                metrics.queries(protocol, status),
            );
        }
    }
    f.family(
        "tessera_query_duration_seconds",
        "histogram",
        "Query latency by protocol: from receipt to the merged result (before it is sent)",
    );
    for protocol in Protocol::ALL {
        histogram(
            f,
            "tessera_query_duration_seconds",
            &[("protocol", protocol.name())],
            metrics.latency(protocol),
        );
    }
    f.family(
        "tessera_connections_open",
        "gauge",
        "Client connections open now, by protocol",
    );
    for protocol in Protocol::ALL {
        f.sample(
            "tessera_connections_open",
            &[("protocol", protocol.name())],
            metrics.connections(protocol).0,
        );
    }
    f.family(
        "tessera_connections_total",
        "counter",
        "Client connections accepted, by protocol",
    );
    for protocol in Protocol::ALL {
        f.sample(
            "tessera_connections_total",
            &[("protocol", protocol.name())],
            metrics.connections(protocol).1,
        );
    }
    f.family(
        "tessera_segment_cache_requests_total",
        "counter",
        "Sealed segments opened from the local copy (hit) or downloaded from the deep store (miss)",
    );
    f.sample(
        "tessera_segment_cache_requests_total",
        &[("result", "hit")],
        load(&metrics.segment_cache_hits),
    );
    f.sample(
        "tessera_segment_cache_requests_total",
        &[("result", "miss")],
        load(&metrics.segment_cache_misses),
    );
}

/// Add `amount` to a counter.
pub fn count(counter: &AtomicU64, amount: u64) {
    counter.fetch_add(amount, Ordering::Relaxed);
}
