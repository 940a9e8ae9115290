//! Realtime tables: partitions that append rows to consuming segments, and the seal +
//! commit that turns full consuming segments into sealed ones on the deep store
//! without pausing consumption (DESIGN §3).
//!
//! - [`RealtimeTable`] owns a table's partitions; `push` decodes a body, routes it to a
//!   partition and waits until the rows are durable (write-ahead log) and queryable;
//! - each partition has a writer thread ([`partition`]) and a sealer thread
//!   ([`sealer`]); [`served::SegmentSet`] is what queries read.
//!
//! Offsets: a push table's offsets count rows (a request of n rows at offset o covers
//! `[o, o + n)`), so a segment's `[start, end)` is its rows' position in the partition.

mod generator;
pub mod metrics;
mod partition;
mod sealer;
pub mod served;
pub mod settings;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tessera_config::{Schema, TableConfig};
use tessera_meta::Catalog;
use tessera_segment::Value;
use tessera_storage::DeepStore;

use crate::error::{Error, Result};
use crate::row_decoder::{JsonRowDecoder, RowReject};
pub use metrics::IngestMetrics;
pub use served::{SegmentSet, ServedSegment};
pub use settings::{StreamSettings, StreamType};

/// What realtime tables share with the rest of the server.
#[derive(Debug, Clone)]
pub struct RealtimeContext {
    pub catalog: Catalog,
    pub deep_store: DeepStore,
    /// Runs deep-store IO for the sealer threads.
    pub runtime: tokio::runtime::Handle,
    /// Logs under `wal/`, built segments under `segments/`.
    pub data_dir: PathBuf,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where the local copies of a table's sealed segments live under the data directory.
pub fn segments_dir(data_dir: &Path, table: &str) -> PathBuf {
    data_dir.join("segments").join(table)
}

/// The local copy of one sealed segment.
pub fn segment_file(data_dir: &Path, table: &str, segment: &str) -> PathBuf {
    segments_dir(data_dir, table).join(format!("{segment}.tseg"))
}

/// Where a push table's write-ahead logs live (one subdirectory per partition).
pub fn wal_dir(data_dir: &Path, table: &str) -> PathBuf {
    data_dir.join("wal").join(table)
}

/// `{table}__{partition}__{sequence}__{yyyyMMddTHHmmZ}` (DESIGN §2).
pub fn segment_name(table: &str, partition: u32, sequence: u32, created_ms: i64) -> String {
    let stamp = chrono::DateTime::from_timestamp_millis(created_ms)
        .map(|t| t.format("%Y%m%dT%H%MZ").to_string())
        .unwrap_or_else(|| "19700101T0000Z".into());
    format!("{table}__{partition}__{sequence}__{stamp}")
}

pub(crate) struct TableShared {
    pub(crate) name: String,
    pub(crate) schema: Schema,
    pub(crate) config: TableConfig,
    pub(crate) settings: StreamSettings,
    pub(crate) decoder: JsonRowDecoder,
    pub(crate) segments: Arc<SegmentSet>,
    pub(crate) metrics: Arc<IngestMetrics>,
    pub(crate) context: RealtimeContext,
    stopped: AtomicBool,
}

impl TableShared {
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// The local copy of a sealed segment.
    pub(crate) fn segment_path(&self, segment: &str) -> PathBuf {
        segment_file(&self.context.data_dir, &self.name, segment)
    }
}

pub(crate) struct PushRequest {
    pub(crate) rows: Vec<Vec<Value>>,
    pub(crate) body: Vec<u8>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) reply: Sender<Result<PushAck>>,
}

pub(crate) enum Command {
    Push(PushRequest),
    /// Seal the consuming segments now (`forceCommit`).
    ForceCommit(Sender<()>),
    /// Seal what is in memory and stop consuming (table drop); the sealer drains.
    SealAndStop,
    Stop,
}

/// A push applied (or recognised as already applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAck {
    pub rows: u64,
    /// The request's `Idempotency-Key` was applied before; nothing was added.
    pub duplicate: bool,
    pub partition: u32,
}

/// The answer to a push request.
#[derive(Debug)]
pub struct PushOutcome {
    pub ack: Option<PushAck>,
    pub rows_rejected: u64,
    /// Rows skipped by the table's `filterConfig`.
    pub rows_filtered: u64,
    /// The first rejects, for the response.
    pub rejects: Vec<RowReject>,
}

/// Why a push was refused.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Too many bytes wait to be sealed; retry after the given seconds.
    #[error(
        "table `{table}` is applying backpressure: {pending_bytes} bytes of sealed segments wait for the deep store; retry later"
    )]
    Backpressure {
        table: String,
        pending_bytes: u64,
        retry_after_secs: u64,
    },
    #[error("table `{0}` does not take pushes (streamType is not push)")]
    NotPush(String),
    #[error("table `{0}` is stopping")]
    Stopped(String),
    #[error("push failed: {0}")]
    Failed(#[from] Error),
}

struct Partition {
    commands: Mutex<Option<Sender<Command>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A running realtime table.
pub struct RealtimeTable {
    shared: Arc<TableShared>,
    partitions: Vec<Partition>,
    next_partition: AtomicUsize,
}

impl std::fmt::Debug for RealtimeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeTable")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

const REJECTS_REPORTED: usize = 10;

impl RealtimeTable {
    /// Start (or recover) a realtime table: its sealed segments are expected in
    /// `segments` already; this adds the consuming ones and starts the threads.
    pub fn start(
        context: RealtimeContext,
        schema: &Schema,
        config: &TableConfig,
        segments: Arc<SegmentSet>,
    ) -> Result<RealtimeTable> {
        let settings = StreamSettings::from_configs(&config.stream_configs)?;
        if settings.stream_type == StreamType::Kafka {
            return Err(Error::Invalid(
                "streamType kafka is not available in this build yet; use push or generator".into(),
            ));
        }
        let shared = Arc::new(TableShared {
            name: config.table_name.clone(),
            schema: schema.clone(),
            config: config.clone(),
            decoder: JsonRowDecoder::new(schema, config)?,
            settings,
            segments,
            metrics: Arc::new(IngestMetrics::default()),
            context,
            stopped: AtomicBool::new(false),
        });
        let mut partitions = Vec::new();
        for partition in 0..shared.settings.partitions {
            let (seal_sender, seal_receiver) = mpsc::channel();
            let writer = partition::PartitionWriter::open(shared.clone(), partition, seal_sender)?;
            let (command_sender, command_receiver) = mpsc::channel();
            let sealer_shared = shared.clone();
            let name = &shared.name;
            let sealer = std::thread::Builder::new()
                .name(format!("seal-{name}-{partition}"))
                .spawn(move || sealer::run_sealer(sealer_shared, seal_receiver))
                .map_err(|source| Error::Io {
                    path: PathBuf::from("<thread>"),
                    source,
                })?;
            let writer = std::thread::Builder::new()
                .name(format!("ingest-{name}-{partition}"))
                .spawn(move || writer.run(command_receiver))
                .map_err(|source| Error::Io {
                    path: PathBuf::from("<thread>"),
                    source,
                })?;
            partitions.push(Partition {
                commands: Mutex::new(Some(command_sender)),
                threads: Mutex::new(vec![writer, sealer]),
            });
        }
        Ok(RealtimeTable {
            shared,
            partitions,
            next_partition: AtomicUsize::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn settings(&self) -> &StreamSettings {
        &self.shared.settings
    }

    pub fn metrics(&self) -> &Arc<IngestMetrics> {
        &self.shared.metrics
    }

    pub fn segments(&self) -> &Arc<SegmentSet> {
        &self.shared.segments
    }

    fn sender(&self, partition: usize) -> Option<Sender<Command>> {
        self.partitions[partition]
            .commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Decode JSON lines and append the good rows; returns when they are durable and
    /// queryable. Blocking: call it off the async runtime.
    pub fn push(
        &self,
        body: Vec<u8>,
        idempotency_key: Option<String>,
    ) -> Result<PushOutcome, PushError> {
        let table = self.shared.name.clone();
        if self.shared.settings.stream_type != StreamType::Push {
            return Err(PushError::NotPush(table));
        }
        if self.shared.is_stopped() {
            return Err(PushError::Stopped(table));
        }
        let pending_bytes = self
            .shared
            .metrics
            .pending_seal_bytes
            .load(Ordering::Relaxed);
        if pending_bytes > self.shared.settings.max_pending_seal_bytes {
            IngestMetrics::add(&self.shared.metrics.backpressure_rejections, 1);
            tracing::warn!(table = %table, pending_bytes, "backpressure: push refused until the deep store catches up");
            return Err(PushError::Backpressure {
                table,
                pending_bytes,
                retry_after_secs: 5,
            });
        }
        IngestMetrics::add(&self.shared.metrics.requests, 1);
        let decoded = self.shared.decoder.decode_lines(&body);
        for reject in &decoded.rejects {
            self.shared.metrics.reject(reject.reason);
        }
        if self.shared.settings.dead_letter && !decoded.rejects.is_empty() {
            self.write_dead_letters(&decoded.rejects);
        }
        if let Some(first) = decoded.rejects.first() {
            tracing::warn!(table = %table, rejected = decoded.rejects.len(), line = first.line, reason = first.reason, detail = %first.detail, "rows rejected");
        }
        let rows_rejected = decoded.rejects.len() as u64;
        IngestMetrics::add(&self.shared.metrics.rows_filtered, decoded.filtered);
        let mut rejects = decoded.rejects;
        rejects.truncate(REJECTS_REPORTED);
        if decoded.rows.is_empty() && idempotency_key.is_none() {
            return Ok(PushOutcome {
                ack: None,
                rows_rejected,
                rows_filtered: decoded.filtered,
                rejects,
            });
        }
        let partitions = self.partitions.len();
        let partition = match &idempotency_key {
            // Retries of a request land where the first attempt did.
            Some(key) => (crc32fast::hash(key.as_bytes()) as usize) % partitions,
            None => self.next_partition.fetch_add(1, Ordering::Relaxed) % partitions,
        };
        let Some(sender) = self.sender(partition) else {
            return Err(PushError::Stopped(table));
        };
        let (reply, answer) = mpsc::channel();
        let request = PushRequest {
            rows: decoded.rows,
            body,
            idempotency_key,
            reply,
        };
        sender
            .send(Command::Push(request))
            .map_err(|_| PushError::Stopped(table.clone()))?;
        let ack = answer.recv().map_err(|_| PushError::Stopped(table))??;
        Ok(PushOutcome {
            ack: Some(ack),
            rows_rejected,
            rows_filtered: decoded.filtered,
            rejects,
        })
    }

    /// Append rejected rows to the table's dead-letter file (best effort: a failure is
    /// logged, the push goes on).
    fn write_dead_letters(&self, rejects: &[RowReject]) {
        use std::io::Write;
        let dir = self.shared.context.data_dir.join("deadletter");
        let path = dir.join(format!("{}.jsonl", self.shared.name));
        let mut text = String::new();
        for reject in rejects {
            let line = serde_json::json!({
                "table": self.shared.name,
                "timeMs": now_ms(),
                "line": reject.line,
                "reason": reject.reason,
                "detail": reject.detail,
                "row": reject.sample,
            });
            text.push_str(&line.to_string());
            text.push('\n');
        }
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut file| file.write_all(text.as_bytes()))
        });
        if let Err(error) = written {
            tracing::warn!(table = %self.shared.name, path = %path.display(), %error, "dead-letter file not written");
        }
    }

    /// Start sealing every non-empty consuming segment now.
    pub fn force_commit(&self) {
        for partition in 0..self.partitions.len() {
            if let Some(sender) = self.sender(partition) {
                let (reply, done) = mpsc::channel();
                if sender.send(Command::ForceCommit(reply)).is_ok() {
                    let _ = done.recv();
                }
            }
        }
    }

    /// Stop taking rows, seal everything in memory, and wait until every seal is
    /// committed (table drop). Waits as long as the deep store needs.
    pub fn drain(&self) {
        self.close_with(|| Command::SealAndStop);
        // The writer exits after queueing its last seal; the sealer, once its queue is
        // empty and the writer gone.
        self.join_threads();
        self.shared.stopped.store(true, Ordering::SeqCst);
    }

    fn join_threads(&self) {
        for partition in &self.partitions {
            let threads = std::mem::take(
                &mut *partition
                    .threads
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            for thread in threads {
                let _ = thread.join();
            }
        }
    }

    /// Stop the partitions' threads (rows already acknowledged stay in the log).
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.close_with(|| Command::Stop);
        self.join_threads();
    }

    /// Send each partition's writer its last command; later pushes find no sender.
    fn close_with(&self, last: impl Fn() -> Command) {
        for partition in &self.partitions {
            let sender = partition
                .commands
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(sender) = sender {
                let _ = sender.send(last());
            }
        }
    }
}
