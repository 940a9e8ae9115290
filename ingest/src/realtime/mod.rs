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

#[cfg(test)]
mod assign_tests;
pub mod clock;
mod generator;
mod kafka;
pub mod metrics;
mod partition;
mod sealer;
pub mod served;
pub mod settings;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use tessera_config::{Schema, TableConfig};
use tessera_meta::Catalog;
use tessera_segment::Value;
use tessera_storage::DeepStore;

use crate::error::{Error, Result};
use crate::row_decoder::{JsonRowDecoder, RowReject};
pub use clock::Clock;
pub use metrics::{IngestMetrics, PartitionStatus, SealStall};
pub use served::{SegmentSet, ServedSegment};
pub use settings::{KafkaSettings, OffsetReset, StreamSettings, StreamType};

/// What realtime tables share with the rest of the server.
#[derive(Debug, Clone)]
pub struct RealtimeContext {
    pub catalog: Catalog,
    pub deep_store: DeepStore,
    /// Runs deep-store IO for the sealer threads.
    pub runtime: tokio::runtime::Handle,
    /// Logs under `wal/`, built segments under `segments/`.
    pub data_dir: PathBuf,
    /// What the table's partitions read the time from (segment creation, flush by age).
    pub clock: Clock,
}

pub use tessera_segment::now_ms;

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
    /// Consumption paused (`pauseConsumption`); partitions found later start paused.
    pub(crate) paused: AtomicBool,
    /// The table is stopping or draining: find no more partitions.
    closing: AtomicBool,
}

impl TableShared {
    fn new(
        context: RealtimeContext,
        schema: &Schema,
        config: &TableConfig,
        segments: Arc<SegmentSet>,
    ) -> Result<Arc<TableShared>> {
        let settings = StreamSettings::from_configs(&config.stream_configs)?;
        // Paused before a restart (or on the server that consumed it before): paused
        // from the first message.
        let paused = settings.stream_type != StreamType::Push
            && context
                .catalog
                .is_paused(&config.table_name)
                .map_err(|e| Error::Unavailable(format!("catalog: {e}")))?;
        Ok(Arc::new(TableShared {
            name: config.table_name.clone(),
            schema: schema.clone(),
            config: config.clone(),
            decoder: JsonRowDecoder::new(schema, config)?,
            settings,
            segments,
            metrics: Arc::new(IngestMetrics::default()),
            context,
            stopped: AtomicBool::new(false),
            paused: AtomicBool::new(paused),
            closing: AtomicBool::new(false),
        }))
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// The local copy of a sealed segment.
    pub(crate) fn segment_path(&self, segment: &str) -> PathBuf {
        segment_file(&self.context.data_dir, &self.name, segment)
    }

    /// Count, log and (when enabled) dead-letter rejected rows; `position` names what
    /// a reject's `line` is (a body's line, a partition's offset).
    pub(crate) fn record_rejects(&self, rejects: &[RowReject], position: &str) {
        for reject in rejects {
            self.metrics.reject(reject.reason);
        }
        if self.settings.dead_letter && !rejects.is_empty() {
            self.write_dead_letters(rejects);
        }
        if let Some(first) = rejects.first() {
            tracing::warn!(table = %self.name, rejected = rejects.len(), position, at = first.line, reason = first.reason, detail = %first.detail, "rows rejected");
        }
    }

    /// Append rejected rows to the table's dead-letter file (best effort: a failure is
    /// logged, ingestion goes on).
    fn write_dead_letters(&self, rejects: &[RowReject]) {
        use std::io::Write;
        let dir = self.context.data_dir.join("deadletter");
        let path = dir.join(format!("{}.jsonl", self.name));
        let mut text = String::new();
        for reject in rejects {
            let line = serde_json::json!({
                "table": self.name,
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
            tracing::warn!(table = %self.name, path = %path.display(), %error, "dead-letter file not written");
        }
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
    /// Stop (`true`) or restart (`false`) consuming the stream.
    Pause(bool),
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

impl Partition {
    /// The slot of a partition this process does not consume.
    fn vacant() -> Partition {
        Partition {
            commands: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
        }
    }

    fn is_running(&self) -> bool {
        self.commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }
}

type Partitions = Arc<RwLock<Vec<Partition>>>;

/// A running realtime table.
pub struct RealtimeTable {
    shared: Arc<TableShared>,
    /// Indexed by stream partition; Kafka tables grow it when the topic does.
    partitions: Partitions,
    next_partition: AtomicUsize,
    discovery: Mutex<Option<JoinHandle<()>>>,
    /// Partitions being released (sealing their last rows before another process
    /// takes them; see [`RealtimeTable::assign`]).
    releasing: Arc<Mutex<std::collections::BTreeSet<u32>>>,
}

impl std::fmt::Debug for RealtimeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeTable")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

const REJECTS_REPORTED: usize = 10;

fn thread_error(source: std::io::Error) -> Error {
    Error::Local {
        what: "starting a partition thread".into(),
        source,
    }
}

/// Open (recover) a partition and start its writer and sealer threads.
fn spawn_partition(
    shared: &Arc<TableShared>,
    partition: u32,
    initial_offset: u64,
) -> Result<Partition> {
    let (seal_sender, seal_receiver) = mpsc::channel();
    let writer =
        partition::PartitionWriter::open(shared.clone(), partition, seal_sender, initial_offset)?;
    let (command_sender, command_receiver) = mpsc::channel();
    let sealer_shared = shared.clone();
    let name = &shared.name;
    let sealer = std::thread::Builder::new()
        .name(format!("seal-{name}-{partition}"))
        .spawn(move || sealer::run_sealer(sealer_shared, seal_receiver))
        .map_err(thread_error)?;
    let writer = std::thread::Builder::new()
        .name(format!("ingest-{name}-{partition}"))
        .spawn(move || writer.run(command_receiver))
        .map_err(thread_error)?;
    Ok(Partition {
        commands: Mutex::new(Some(command_sender)),
        threads: Mutex::new(vec![writer, sealer]),
    })
}

/// The catalog's segment records of the table.
fn catalog_segments(shared: &TableShared) -> Result<Vec<tessera_meta::SegmentRecord>> {
    shared
        .context
        .catalog
        .segments(&shared.name)
        .map_err(|e| Error::Unavailable(format!("catalog: {e}")))
}

/// Start partitions `have..want` of a Kafka table (new ones at the offset
/// `auto.offset.reset` picks); stops at the first that cannot start.
fn add_kafka_partitions(
    shared: &Arc<TableShared>,
    settings: &settings::KafkaSettings,
    partitions: &Partitions,
    want: u32,
) -> Result<()> {
    let have = partitions
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len() as u32;
    for partition in have..want {
        let started = start_kafka_partition(shared, settings, partition)?;
        tracing::info!(table = %shared.name, partition, "kafka partition added");
        partitions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(started);
    }
    Ok(())
}

/// Start consuming a Kafka partition: after its last committed offset when the catalog
/// knows it, else where `auto.offset.reset` points.
fn start_kafka_partition(
    shared: &Arc<TableShared>,
    settings: &settings::KafkaSettings,
    partition: u32,
) -> Result<Partition> {
    let known = catalog_segments(shared)?
        .iter()
        .any(|s| s.partition == partition);
    let initial = if known {
        0
    } else {
        kafka::initial_offset(settings, &shared.name, partition)?
    };
    spawn_partition(shared, partition, initial)
}

/// How many partitions a table's stream has now: the Kafka topic's (asked of the
/// broker), or the configured count of a generator or push stream.
pub fn stream_partition_count(config: &TableConfig) -> Result<u32> {
    let settings = StreamSettings::from_configs(&config.stream_configs)?;
    match &settings.kafka {
        Some(kafka_settings) => kafka::partition_count(kafka_settings, &config.table_name),
        None => Ok(settings.partitions),
    }
}

/// Kafka: check the topic for new partitions every `discovery_interval`.
fn run_discovery(
    shared: Arc<TableShared>,
    settings: settings::KafkaSettings,
    partitions: Partitions,
) {
    let mut last = std::time::Instant::now();
    while !shared.is_stopped() && !shared.closing.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        if last.elapsed() < settings.discovery_interval {
            continue;
        }
        last = std::time::Instant::now();
        let added = kafka::partition_count(&settings, &shared.name)
            .and_then(|count| add_kafka_partitions(&shared, &settings, &partitions, count));
        if let Err(error) = added {
            tracing::warn!(table = %shared.name, %error, "kafka partition discovery failed; retrying");
        }
    }
}

impl RealtimeTable {
    /// Start (or recover) a realtime table: its sealed segments are expected in
    /// `segments` already; this adds the consuming ones and starts the threads.
    pub fn start(
        context: RealtimeContext,
        schema: &Schema,
        config: &TableConfig,
        segments: Arc<SegmentSet>,
    ) -> Result<RealtimeTable> {
        let shared = TableShared::new(context, schema, config, segments)?;
        let partitions: Partitions = Arc::new(RwLock::new(Vec::new()));
        let mut discovery = None;
        if let Some(kafka_settings) = shared.settings.kafka.clone() {
            // Partitions the catalog knows restart even while the broker is away; a new
            // table must reach the topic (a wrong name or address is an error now).
            let known = catalog_segments(&shared)?
                .iter()
                .map(|s| s.partition + 1)
                .max()
                .unwrap_or(0);
            let count = match kafka::partition_count(&kafka_settings, &shared.name) {
                Ok(count) => count.max(known),
                Err(error) if known > 0 => {
                    tracing::warn!(table = %shared.name, %error, "kafka unreachable at start; resuming the known partitions");
                    known
                }
                Err(error) => return Err(error),
            };
            for partition in 0..known.min(count) {
                let started = spawn_partition(&shared, partition, 0)?;
                partitions
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(started);
            }
            add_kafka_partitions(&shared, &kafka_settings, &partitions, count)?;
            let (watcher, list) = (shared.clone(), partitions.clone());
            discovery = Some(
                std::thread::Builder::new()
                    .name(format!("discover-{}", shared.name))
                    .spawn(move || run_discovery(watcher, kafka_settings, list))
                    .map_err(thread_error)?,
            );
        } else {
            for partition in 0..shared.settings.partitions {
                let started = spawn_partition(&shared, partition, 0)?;
                partitions
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(started);
            }
        }
        Ok(RealtimeTable {
            shared,
            partitions,
            next_partition: AtomicUsize::new(0),
            discovery: Mutex::new(discovery),
            releasing: Arc::default(),
        })
    }

    /// Start a table that consumes only the `assigned` partitions of its stream (a
    /// cluster's realtime server: the controller spreads a table's partitions over
    /// servers, and assigns the partitions a topic gains, so there is no discovery
    /// here). `assign` changes the set later.
    pub fn start_assigned(
        context: RealtimeContext,
        schema: &Schema,
        config: &TableConfig,
        segments: Arc<SegmentSet>,
        assigned: &std::collections::BTreeSet<u32>,
    ) -> Result<RealtimeTable> {
        let table = RealtimeTable {
            shared: TableShared::new(context, schema, config, segments)?,
            partitions: Arc::default(),
            next_partition: AtomicUsize::new(0),
            discovery: Mutex::new(None),
            releasing: Arc::default(),
        };
        table.assign(assigned)?;
        Ok(table)
    }

    /// Consume exactly the `assigned` partitions: start the new ones (after their last
    /// committed offset) and release the others. Releasing seals the partition's
    /// consuming rows and commits them (in the background, as long as the deep store
    /// needs), then drops the partition's consuming segment: the process that takes the
    /// partition over starts where this commit ended, so no row is consumed twice. A
    /// partition still being released is started again by a later call only.
    /// Stops at the first partition that cannot start (the others stay as they were).
    pub fn assign(&self, assigned: &std::collections::BTreeSet<u32>) -> Result<()> {
        let mut partitions = self
            .partitions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (index, slot) in partitions.iter().enumerate() {
            let partition = index as u32;
            if assigned.contains(&partition) || !slot.is_running() {
                continue;
            }
            let sender = slot
                .commands
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            let threads = std::mem::take(
                &mut *slot
                    .threads
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if let Some(sender) = sender {
                let _ = sender.send(Command::SealAndStop);
            }
            self.release_in_background(partition, threads)?;
        }
        let releasing = self
            .releasing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for &partition in assigned {
            let index = partition as usize;
            if partitions.get(index).is_some_and(Partition::is_running)
                || releasing.contains(&partition)
            {
                continue;
            }
            let started = match &self.shared.settings.kafka {
                Some(settings) => start_kafka_partition(&self.shared, settings, partition)?,
                None => spawn_partition(&self.shared, partition, 0)?,
            };
            tracing::info!(table = %self.shared.name, partition, "consuming the partition");
            while partitions.len() <= index {
                partitions.push(Partition::vacant());
            }
            partitions[index] = started;
        }
        Ok(())
    }

    /// Wait for a released partition's writer and sealer, then drop what is left of it
    /// (its empty consuming segment and its status).
    fn release_in_background(&self, partition: u32, threads: Vec<JoinHandle<()>>) -> Result<()> {
        self.releasing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(partition);
        let (shared, releasing) = (self.shared.clone(), self.releasing.clone());
        std::thread::Builder::new()
            .name(format!("release-{}-{partition}", shared.name))
            .spawn(move || {
                for thread in threads {
                    let _ = thread.join();
                }
                for segment in shared.segments.list() {
                    if let ServedSegment::Consuming(consuming) = &segment
                        && consuming.identity().partition == partition
                    {
                        shared.segments.remove(segment.name());
                    }
                }
                shared.metrics.remove_partition_status(partition);
                releasing
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&partition);
                tracing::info!(table = %shared.name, partition, "released the partition");
            })
            .map_err(thread_error)?;
        Ok(())
    }

    /// The partitions this process consumes now, those being released included.
    pub fn consumed_partitions(&self) -> std::collections::BTreeSet<u32> {
        let mut consumed: std::collections::BTreeSet<u32> = self
            .partitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_running())
            .map(|(index, _)| index as u32)
            .collect();
        consumed.extend(
            self.releasing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter(),
        );
        consumed
    }

    fn partition_count(&self) -> usize {
        self.partitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Stop (`true`) or restart (`false`) consuming a kafka or generator stream. As
    /// Pinot does, pausing also commits what the partitions consumed, so a restart
    /// while paused serves every consumed row without reading the stream. Whoever
    /// records the pause in the catalog (`Catalog::set_paused`) makes it outlast a
    /// restart.
    pub fn set_paused(&self, paused: bool) -> Result<()> {
        if self.shared.settings.stream_type == StreamType::Push {
            return Err(Error::Invalid(format!(
                "table `{}` takes pushes; there is no stream to pause",
                self.shared.name
            )));
        }
        self.shared.paused.store(paused, Ordering::SeqCst);
        for partition in 0..self.partition_count() {
            if let Some(sender) = self.sender(partition) {
                let _ = sender.send(Command::Pause(paused));
            }
        }
        Ok(())
    }

    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Ordering::SeqCst)
    }

    /// Each partition's consumption status.
    pub fn partition_status(&self) -> std::collections::BTreeMap<u32, PartitionStatus> {
        self.shared.metrics.partition_status()
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
        self.partitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(partition)?
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
        self.push_to(body, idempotency_key, None)
    }

    /// [`RealtimeTable::push`] into `partition` when given (a cluster's broker chose it
    /// and sent the request to the server consuming it).
    pub fn push_to(
        &self,
        body: Vec<u8>,
        idempotency_key: Option<String>,
        partition: Option<usize>,
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
        self.shared.record_rejects(&decoded.rejects, "line");
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
        let partition = partition.unwrap_or_else(|| {
            tessera_config::stream::push_partition(
                idempotency_key.as_deref(),
                self.partition_count(),
                self.next_partition.fetch_add(1, Ordering::Relaxed),
            )
        });
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

    /// Start sealing every non-empty consuming segment now.
    pub fn force_commit(&self) {
        for partition in 0..self.partition_count() {
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
        let discovery = self
            .discovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let partitions = self
            .partitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for partition in partitions.iter() {
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
        drop(partitions);
        if let Some(discovery) = discovery {
            let _ = discovery.join();
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
        self.shared.closing.store(true, Ordering::SeqCst);
        let partitions = self
            .partitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for partition in partitions.iter() {
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
