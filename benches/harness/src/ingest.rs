//! Ingest while the queries run, and freshness measured end to end: generated rows go out
//! at a fixed rate (push: JSON lines POSTed to `/ingest/{table}`; Kafka: one JSON message
//! per row), and every `marker_interval` one marker row with a unique value in
//! `marker_column`. A single poller asks the first target which outstanding markers a
//! query sees; a marker's freshness is the time from the start of its write to the answer
//! that first shows it (an upper bound, by at most one poll interval plus a query).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};

use crate::http::HttpClient;
use crate::mix::{Draw, Rng, Value};
use crate::recorder::ErrorCounts;
use crate::scenario::IngestSpec;
use crate::target::Target;

/// Acknowledged rows are counted in buckets of this many milliseconds.
const BUCKET_MS: u64 = 10;

#[derive(Debug, Clone)]
pub struct Marker {
    /// When its write began, from the run's start.
    pub written: Duration,
    /// From the write to the first answer that showed it; `None`: never seen (lost).
    pub freshness: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct IngestReport {
    pub sink: String,
    pub table: String,
    pub target_rows_per_s: f64,
    pub rows_sent: u64,
    pub rows_acknowledged: u64,
    /// Error kind → (count, first message).
    pub errors: ErrorCounts,
    /// Rows acknowledged per `BUCKET_MS` since the run's start.
    pub acknowledged: Vec<u64>,
    pub markers: Vec<Marker>,
    /// Batches that left late because earlier ones had not been answered.
    pub batches_late: u64,
    /// Marker queries that failed (error kind → count, first message).
    pub marker_query_failures: ErrorCounts,
}

impl IngestReport {
    /// Rows acknowledged per second between two offsets of the run.
    pub fn rows_per_s(&self, from: Duration, to: Duration) -> f64 {
        let first = (from.as_millis() as u64 / BUCKET_MS) as usize;
        let last = (to.as_millis() as u64 / BUCKET_MS) as usize;
        let rows: u64 = self.acknowledged.iter().take(last).skip(first).sum();
        let seconds = (to - from).as_secs_f64();
        if seconds > 0.0 {
            rows as f64 / seconds
        } else {
            0.0
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    errors: ErrorCounts,
    marker_query_failures: ErrorCounts,
    acknowledged: Vec<u64>,
    markers: Vec<Marker>,
}

#[derive(Debug)]
struct State {
    start: Instant,
    shared: Mutex<Shared>,
    /// Marker value → when its write began; removed when seen or lost.
    outstanding: Mutex<Vec<(String, Instant)>>,
    sent: AtomicU64,
    /// Set when the writer has written its last row (the poller stops after that, once
    /// nothing is outstanding).
    written_all: std::sync::atomic::AtomicBool,
    /// A write or marker query unanswered this long has failed (`scenario.timeout`).
    timeout: Duration,
}

impl State {
    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut shared)
    }

    fn acknowledged(&self, rows: u64) {
        let bucket = (self.start.elapsed().as_millis() as u64 / BUCKET_MS) as usize;
        self.with(|shared| {
            if shared.acknowledged.len() <= bucket {
                shared.acknowledged.resize(bucket + 1, 0);
            }
            shared.acknowledged[bucket] += rows;
        });
    }

    /// Markers (value, write start) no answer showed: lost.
    fn lost(&self, markers: &[(String, Instant)]) {
        self.with(|shared| {
            shared
                .markers
                .extend(markers.iter().map(|(_, written)| Marker {
                    written: written.duration_since(self.start),
                    freshness: None,
                }))
        });
    }

    fn failed(&self, kind: &str, message: String, count: u64) {
        self.with(|shared| shared.errors.add(kind, || message, count));
    }
}

enum Sink {
    Push {
        client: Box<HttpClient>,
        url: hyper::Uri,
    },
    Kafka {
        producer: ThreadedProducer<Deliveries>,
        topic: String,
    },
}

/// Counts each message the broker acknowledged (or refused), from the producer's thread.
struct Deliveries {
    state: Arc<State>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.state.acknowledged(1),
            Err((e, _)) => self.state.failed("produce", e.to_string(), 1),
        }
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Push { url, .. } => write!(f, "push {url}"),
            Sink::Kafka { topic, .. } => write!(f, "kafka topic {topic}"),
        }
    }
}

#[derive(serde::Deserialize)]
struct PushAnswer {
    #[serde(default, rename = "rowsIngested")]
    rows_ingested: u64,
    #[serde(default, rename = "rowsRejected")]
    rows_rejected: u64,
}

impl Sink {
    fn new(spec: &IngestSpec, state: &Arc<State>) -> anyhow::Result<Sink> {
        if let Some(base) = &spec.push {
            let url = format!("{}/ingest/{}", base.trim_end_matches('/'), spec.table)
                .parse()
                .with_context(|| format!("[ingest] push `{base}`"))?;
            return Ok(Sink::Push {
                client: Box::new(HttpClient::new(spec.basic_auth.as_deref())?),
                url,
            });
        }
        let brokers = spec.kafka.as_deref().context("[ingest] names no sink")?;
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .set("queue.buffering.max.messages", "1000000")
            .create_with_context(Deliveries {
                state: state.clone(),
            })
            .with_context(|| format!("[ingest] kafka producer for {brokers}"))?;
        Ok(Sink::Kafka {
            producer,
            topic: spec.topic.clone().unwrap_or_default(),
        })
    }

    /// Writes rows (JSON objects, one per line); counts what was acknowledged.
    async fn write(&self, rows: Vec<String>, state: &State) {
        let count = rows.len() as u64;
        state.sent.fetch_add(count, Ordering::Relaxed);
        match self {
            Sink::Push { client, url } => {
                let mut body = rows.join("\n");
                body.push('\n');
                let builder = hyper::Request::post(url.clone())
                    .header("content-type", "application/x-ndjson");
                let request = match client.request(builder, Bytes::from(body)) {
                    Ok(request) => request,
                    Err(e) => return state.failed("bad_request", e.to_string(), count),
                };
                let (status, body) =
                    match tokio::time::timeout(state.timeout, client.exchange(request)).await {
                        Err(_) => {
                            let message = format!("no answer within {:?}", state.timeout);
                            return state.failed("client_timeout", message, count);
                        }
                        Ok(Err((kind, message))) => return state.failed(kind, message, count),
                        Ok(Ok(answer)) => answer,
                    };
                match serde_json::from_slice::<PushAnswer>(&body) {
                    Ok(answer) if status == 200 => {
                        state.acknowledged(answer.rows_ingested);
                        if answer.rows_rejected > 0 {
                            state.failed(
                                "rejected",
                                String::from_utf8_lossy(&body).into_owned(),
                                answer.rows_rejected,
                            );
                        }
                        // Filtered rows, a duplicate request: sent, not in the table.
                        let unaccounted = count
                            .saturating_sub(answer.rows_ingested)
                            .saturating_sub(answer.rows_rejected);
                        if unaccounted > 0 {
                            state.failed(
                                "not_ingested",
                                String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
                                unaccounted,
                            );
                        }
                    }
                    _ => state.failed(
                        &format!("http_{status}"),
                        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
                        count,
                    ),
                }
            }
            Sink::Kafka { producer, topic } => {
                // Acknowledgements arrive through `Deliveries`.
                for row in &rows {
                    if let Err((e, _)) =
                        producer.send(BaseRecord::<(), [u8]>::to(topic).payload(row.as_bytes()))
                    {
                        state.failed("produce", e.to_string(), 1);
                    }
                }
            }
        }
    }
}

/// Builds rows from the column generators.
#[derive(Debug)]
struct Rows {
    columns: Vec<(String, Draw)>,
    rng: Rng,
}

impl Rows {
    fn new(spec: &IngestSpec, seed: u64) -> anyhow::Result<Rows> {
        let columns = spec
            .columns
            .iter()
            .filter(|(name, _)| **name != spec.marker_column)
            .map(|(name, column)| Ok((name.clone(), Draw::new(name, column, None)?)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Rows {
            columns,
            rng: Rng::new(seed ^ 0x001A_6E57),
        })
    }

    fn row(&mut self, marker: Option<(&str, &str)>) -> String {
        let mut out = String::from("{");
        let mut first = true;
        let mut field = |out: &mut String, name: &str, value: &Value| {
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push_str(&serde_json::Value::from(name).to_string());
            out.push_str(": ");
            match value {
                Value::Number(n) => out.push_str(n),
                Value::Text(t) => out.push_str(&serde_json::Value::from(t.as_str()).to_string()),
            }
        };
        for (name, draw) in &self.columns {
            let value = draw.sample(&mut self.rng);
            field(&mut out, name, &value);
        }
        if let Some((column, value)) = marker {
            field(&mut out, column, &Value::Text(value.to_string()));
        }
        out.push('}');
        out
    }
}

/// Ingests for `duration` from `start`, then waits for the outstanding markers (up to
/// their timeout).
pub async fn run(
    spec: IngestSpec,
    seed: u64,
    start: Instant,
    duration: Duration,
    timeout: Duration,
    probe: Arc<Target>,
) -> anyhow::Result<IngestReport> {
    let state = Arc::new(State {
        start,
        shared: Mutex::new(Shared::default()),
        outstanding: Mutex::new(Vec::new()),
        sent: AtomicU64::new(0),
        written_all: std::sync::atomic::AtomicBool::new(false),
        timeout,
    });
    let sink = Arc::new(Sink::new(&spec, &state)?);
    let mut rows = Rows::new(&spec, seed)?;
    let end = start + duration;
    let run_id = crate::unix_ms();
    let poller = tokio::spawn(poll_markers(spec.clone(), state.clone(), probe, end));
    let slots = Arc::new(tokio::sync::Semaphore::new(64));
    let batch_interval = spec.batch_rows as f64 / spec.rows_per_s;
    let mut batches_late = 0;
    let mut batch = 0u64;
    let mut next_marker = start;
    let mut marker_seq = 0u64;
    loop {
        let due = start + Duration::from_secs_f64(batch_interval * batch as f64);
        let wake = due.min(next_marker);
        if wake >= end {
            break;
        }
        if wake > Instant::now() {
            tokio::time::sleep_until(wake.into()).await;
        }
        if next_marker <= wake {
            let value = format!("tb-{run_id}-{marker_seq}");
            marker_seq += 1;
            next_marker += spec.marker_interval;
            let row = rows.row(Some((&spec.marker_column, &value)));
            if let Ok(mut outstanding) = state.outstanding.lock() {
                outstanding.push((value, Instant::now()));
            }
            let (sink, state) = (sink.clone(), state.clone());
            tokio::spawn(async move { sink.write(vec![row], &state).await });
            continue;
        }
        let lines: Vec<String> = (0..spec.batch_rows).map(|_| rows.row(None)).collect();
        batch += 1;
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                batches_late += 1;
                match slots.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => break,
                }
            }
        };
        let (sink, state) = (sink.clone(), state.clone());
        tokio::spawn(async move {
            sink.write(lines, &state).await;
            drop(permit);
        });
    }
    let _ = slots.acquire_many(64).await;
    state.written_all.store(true, Ordering::Relaxed);
    if matches!(&*sink, Sink::Kafka { .. }) {
        // Waits (off the runtime, so the marker poller keeps polling) for the broker's
        // acknowledgements of what is still queued.
        let (sink, state) = (sink.clone(), state.clone());
        let _ = tokio::task::spawn_blocking(move || {
            if let Sink::Kafka { producer, .. } = &*sink {
                let _ = rdkafka::producer::Producer::flush(producer, Duration::from_secs(30));
                let unacknowledged = rdkafka::producer::Producer::in_flight_count(producer);
                if unacknowledged > 0 {
                    state.failed(
                        "produce",
                        format!("{unacknowledged} messages unacknowledged 30 s after the last"),
                        unacknowledged as u64,
                    );
                }
            }
        })
        .await;
    }
    let _ = poller.await;
    // Whatever the poller never saw is lost.
    let left: Vec<(String, Instant)> = state
        .outstanding
        .lock()
        .map(|mut o| o.drain(..).collect())
        .unwrap_or_default();
    state.lost(&left);
    let shared = std::mem::take(&mut *state.shared.lock().unwrap_or_else(|p| p.into_inner()));
    let mut markers = shared.markers;
    markers.sort_by_key(|m| m.written);
    Ok(IngestReport {
        sink: match (&spec.push, &spec.kafka) {
            (Some(_), _) => "push".into(),
            _ => "kafka".into(),
        },
        table: spec.table.clone(),
        target_rows_per_s: spec.rows_per_s,
        rows_sent: state.sent.load(Ordering::Relaxed),
        rows_acknowledged: shared.acknowledged.iter().sum(),
        errors: shared.errors,
        acknowledged: shared.acknowledged,
        markers,
        batches_late,
        marker_query_failures: shared.marker_query_failures,
    })
}

/// Asks, every poll interval, which outstanding markers a query sees; stops once the
/// ingest has ended and no marker is outstanding.
async fn poll_markers(spec: IngestSpec, state: Arc<State>, probe: Arc<Target>, end: Instant) {
    loop {
        tokio::time::sleep(spec.poll_interval).await;
        let now = Instant::now();
        let pending: Vec<(String, Instant)> = match state.outstanding.lock() {
            Ok(mut outstanding) => {
                // Markers past their timeout are lost.
                let (lost, kept): (Vec<_>, Vec<_>) = outstanding
                    .drain(..)
                    .partition(|(_, written)| now.duration_since(*written) > spec.marker_timeout);
                *outstanding = kept.clone();
                state.lost(&lost);
                kept
            }
            Err(_) => return,
        };
        if pending.is_empty() {
            if state.written_all.load(Ordering::Relaxed) || now >= end + state.timeout {
                return;
            }
            continue;
        }
        let list: Vec<String> = pending
            .iter()
            .take(500)
            .map(|(v, _)| format!("'{v}'"))
            .collect();
        let sql = format!(
            "SELECT {column} FROM {table} WHERE {column} IN ({}) LIMIT 1000",
            list.join(", "),
            column = spec.marker_column,
            table = spec.table
        );
        let failed = |kind: &str, message: String| {
            state.with(|shared| shared.marker_query_failures.add(kind, || message, 1))
        };
        let seen = match tokio::time::timeout(state.timeout, probe.column_values(&sql)).await {
            Ok(Ok(values)) => values,
            Ok(Err(e)) => {
                failed("error", format!("{e:#}"));
                continue;
            }
            Err(_) => {
                failed(
                    "client_timeout",
                    format!("no answer within {:?}", state.timeout),
                );
                continue;
            }
        };
        let answered = Instant::now();
        let seen: Vec<String> = seen
            .into_iter()
            .filter_map(|v| match v {
                Value::Text(t) => Some(t),
                Value::Number(_) => None,
            })
            .collect();
        if let Ok(mut outstanding) = state.outstanding.lock() {
            let mut found = Vec::new();
            outstanding.retain(|(value, written)| {
                if seen.contains(value) {
                    found.push(Marker {
                        written: written.duration_since(state.start),
                        freshness: Some(answered.duration_since(*written)),
                    });
                    false
                } else {
                    true
                }
            });
            state.with(|shared| shared.markers.extend(found));
        }
    }
}
