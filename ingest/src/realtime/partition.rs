//! One stream partition of a realtime table: its writer thread, which appends rows to
//! the consuming segment, keeps the write-ahead log (push), rotates segments at the
//! flush threshold without pausing, and hands full segments to the sealer.
//!
//! Recovery (on start): the catalog names the partition's CONSUMING segment and its
//! start offset; log files below it belong to committed segments and are deleted; the
//! files from it on are replayed, in order, into fresh consuming segments — all but
//! the last were already full and go straight to the sealer.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use tessera_meta::{SegmentRecord, SegmentState};
use tessera_segment::Value;
use tracing::{error, info, warn};

use super::generator::Generator;
use super::kafka::PartitionConsumer;
use super::metrics::{IngestMetrics, PartitionStatus};
use super::sealer::SealJob;
use super::served::ServedSegment;
use super::settings::StreamType;
use super::{Command, PushAck, PushRequest, TableShared, segment_name};
use crate::consuming::{MutableSegment, SegmentIdentity};
use crate::error::{Error, Result};
use crate::row_decoder::{RowReject, reject_reason};
use crate::wal::{WalHeader, WalRecord, WalWriter, list_wal_files, read_wal};

/// Requests folded into one log write and fsync.
const MAX_GROUP: usize = 256;
/// Generator: rows are produced in ticks of this length.
const GENERATOR_TICK: Duration = Duration::from_millis(100);
/// Kafka: most messages taken per poll, and the longest wait for the first.
const KAFKA_MAX_MESSAGES: usize = 10_000;
const KAFKA_POLL_WAIT: Duration = Duration::from_millis(100);

pub(crate) struct PartitionWriter {
    shared: Arc<TableShared>,
    partition: u32,
    active: Arc<MutableSegment>,
    active_sequence: u32,
    /// The clock's monotonic reading when the active segment opened.
    active_since: Duration,
    active_keys: BTreeMap<String, u64>,
    wal: Option<WalWriter>,
    next_offset: u64,
    /// Every `Idempotency-Key` applied in this partition within the table's window.
    keys: HashMap<String, AppliedKey>,
    sealer: Sender<SealJob>,
    generator: Option<Generator>,
    /// The partition's Kafka consumer (kafka streams), opened by the writer thread.
    kafka: Option<PartitionConsumer>,
    paused: bool,
    status: PartitionStatus,
}

/// An applied request's `Idempotency-Key`: its row count, and when it was applied (or,
/// for keys read back from a committed segment, when that segment committed).
#[derive(Debug, Clone, Copy)]
struct AppliedKey {
    rows: u64,
    applied_ms: i64,
}

/// Whether a key applied at `applied_ms` is still remembered at `now_ms`.
fn within_window(applied_ms: i64, now_ms: i64, window_ms: i64) -> bool {
    now_ms.saturating_sub(applied_ms) < window_ms
}

fn wal_dir(shared: &TableShared, partition: u32) -> PathBuf {
    super::wal_dir(&shared.context.data_dir, &shared.name).join(partition.to_string())
}

pub(crate) fn consuming_record(identity: &SegmentIdentity, sequence: u32) -> SegmentRecord {
    SegmentRecord::consuming(
        identity.table.clone(),
        identity.name.clone(),
        identity.partition,
        sequence,
        identity.start_offset,
        identity.created_ms,
    )
}

fn catalog_error(source: tessera_meta::Error) -> Error {
    Error::Unavailable(format!("catalog: {source}"))
}

impl PartitionWriter {
    /// Recover partition `partition` from the catalog and its log; returns the writer
    /// and the seal jobs of replayed full segments (in chain order).
    /// A partition the catalog has never seen starts at `initial_offset` (Kafka: the
    /// log's first or next offset per `auto.offset.reset`; push and generator: 0).
    pub(crate) fn open(
        shared: Arc<TableShared>,
        partition: u32,
        sealer: Sender<SealJob>,
        initial_offset: u64,
    ) -> Result<PartitionWriter> {
        let records: Vec<SegmentRecord> = shared
            .context
            .catalog
            .segments(&shared.name)
            .map_err(catalog_error)?
            .into_iter()
            .filter(|record| record.partition == partition)
            .collect();
        // Keys whose window has passed are not read back (the sealer clears them from
        // the catalog).
        let now_ms = shared.context.clock.now_ms();
        let window_ms = shared.settings.idempotency_window_ms();
        let mut keys: HashMap<String, AppliedKey> = HashMap::new();
        for record in &records {
            let applied_ms = record.committed_ms.unwrap_or(record.created_ms);
            if !within_window(applied_ms, now_ms, window_ms) {
                continue;
            }
            keys.extend(record.idempotency_keys.iter().map(|(k, rows)| {
                (
                    k.clone(),
                    AppliedKey {
                        rows: *rows,
                        applied_ms,
                    },
                )
            }));
        }
        let consuming = match records.iter().find(|r| r.state == SegmentState::Consuming) {
            Some(record) => record.clone(),
            None => {
                let (start, sequence) = records
                    .iter()
                    .filter_map(|r| r.end_offset.map(|end| (end, r.sequence + 1)))
                    .max()
                    .unwrap_or((initial_offset, 0));
                let created_ms = shared.context.clock.now_ms();
                let identity = SegmentIdentity {
                    name: segment_name(&shared.name, partition, sequence, created_ms),
                    table: shared.name.clone(),
                    partition,
                    start_offset: start,
                    created_ms,
                };
                let record = consuming_record(&identity, sequence);
                shared
                    .context
                    .catalog
                    .add_segment(&record)
                    .map_err(catalog_error)?;
                record
            }
        };
        let dir = wal_dir(&shared, partition);
        let uses_wal = shared.settings.stream_type == StreamType::Push;
        let mut files = Vec::new();
        if uses_wal {
            for (start, path) in list_wal_files(&dir)? {
                if start < consuming.start_offset {
                    // Its segment was committed; the log was kept only by a crash.
                    let _ = std::fs::remove_file(&path);
                } else {
                    files.push((start, path));
                }
            }
        }
        if let Some((first, _)) = files.first()
            && *first != consuming.start_offset
        {
            return Err(Error::Invalid(format!(
                "write-ahead log of table=`{}` partition={partition} starts at offset {first}, but the catalog's consuming segment starts at {}",
                shared.name, consuming.start_offset
            )));
        }
        let new_segment = |identity: SegmentIdentity| {
            Arc::new(MutableSegment::new(
                identity,
                &shared.schema,
                &shared.config,
            ))
        };
        let mut writer = PartitionWriter {
            active: new_segment(SegmentIdentity {
                name: consuming.name.clone(),
                table: shared.name.clone(),
                partition,
                start_offset: consuming.start_offset,
                created_ms: consuming.created_ms,
            }),
            active_sequence: consuming.sequence,
            active_since: shared.context.clock.monotonic(),
            active_keys: BTreeMap::new(),
            wal: None,
            next_offset: consuming.start_offset,
            keys,
            sealer,
            generator: (shared.settings.stream_type == StreamType::Generator).then(|| {
                Generator::new(
                    &shared.schema,
                    shared.config.time_column.as_deref(),
                    partition,
                )
            }),
            kafka: None,
            paused: shared.paused.load(std::sync::atomic::Ordering::SeqCst),
            status: PartitionStatus {
                next_offset: consuming.start_offset,
                ..PartitionStatus::default()
            },
            partition,
            shared: shared.clone(),
        };
        if files.is_empty() {
            if uses_wal {
                writer.wal = Some(WalWriter::create(
                    &dir,
                    WalHeader {
                        start_offset: consuming.start_offset,
                        created_ms: consuming.created_ms,
                    },
                )?);
            }
            shared
                .segments
                .add(ServedSegment::Consuming(writer.active.clone()));
            return Ok(writer);
        }
        let file_count = files.len();
        let mut previous_path: Option<PathBuf> = None;
        for (index, (start, path)) in files.into_iter().enumerate() {
            let contents = read_wal(&path)?;
            if index > 0 {
                // A segment rotated before the crash: same name as then (from its header).
                let sequence = writer.active_sequence + 1;
                let identity = SegmentIdentity {
                    name: segment_name(
                        &shared.name,
                        partition,
                        sequence,
                        contents.header.created_ms,
                    ),
                    table: shared.name.clone(),
                    partition,
                    start_offset: start,
                    created_ms: contents.header.created_ms,
                };
                let full = std::mem::replace(&mut writer.active, new_segment(identity.clone()));
                let full_sequence = std::mem::replace(&mut writer.active_sequence, sequence);
                writer.send_seal(full, full_sequence, previous_path.take(), &identity);
            }
            shared
                .segments
                .add(ServedSegment::Consuming(writer.active.clone()));
            for record in &contents.records {
                writer.replay(record)?;
            }
            info!(table = %shared.name, partition, file = %path.display(), records = contents.records.len(), "replayed write-ahead log");
            if index + 1 == file_count {
                writer.wal = Some(WalWriter::reopen(&path, contents.valid_bytes)?);
            }
            previous_path = Some(path);
        }
        Ok(writer)
    }

    fn replay(&mut self, record: &WalRecord) -> Result<()> {
        let decoded = self.shared.decoder.decode_lines(&record.body);
        if decoded.rows.len() as u64 != u64::from(record.rows) {
            warn!(table = %self.shared.name, logged = record.rows, decoded = decoded.rows.len(), "a logged request decodes to a different row count now");
        }
        if record.start_offset != self.next_offset {
            return Err(Error::Invalid(format!(
                "write-ahead log record at offset {} does not follow offset {} table=`{}`",
                record.start_offset, self.next_offset, self.shared.name
            )));
        }
        let rows = decoded.rows.len() as u64;
        self.next_offset += rows;
        self.active.append_rows(&decoded.rows, self.next_offset)?;
        if let Some(key) = &record.idempotency_key {
            self.remember_key(key, rows);
        }
        Ok(())
    }

    /// The writer loop; returns when the table stops.
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
        if let Some(settings) = &self.shared.settings.kafka {
            match PartitionConsumer::open(
                settings,
                &self.shared.name,
                self.partition,
                self.next_offset,
            ) {
                Ok(consumer) => {
                    info!(table = %self.shared.name, partition = self.partition, offset = self.next_offset, "consuming kafka partition");
                    self.kafka = Some(consumer);
                }
                Err(error) => {
                    error!(table = %self.shared.name, partition = self.partition, %error, "cannot create the kafka consumer; the partition does not consume until restart");
                }
            }
        }
        self.publish_status();
        loop {
            let wait = self.wait_time();
            match commands.recv_timeout(wait) {
                Ok(Command::Push(first)) => {
                    let mut group = vec![first];
                    let mut after = None;
                    while group.len() < MAX_GROUP {
                        match commands.try_recv() {
                            Ok(Command::Push(next)) => group.push(next),
                            Ok(other) => {
                                after = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if let Err(error) = self.apply_pushes(group) {
                        error!(table = %self.shared.name, partition = self.partition, %error, "write-ahead log failed; the partition stops taking pushes until restart");
                        return;
                    }
                    match after {
                        Some(Command::ForceCommit(reply)) => {
                            self.rotate_if_not_empty();
                            let _ = reply.send(());
                        }
                        Some(Command::Pause(paused)) => self.pause(paused),
                        Some(Command::SealAndStop) => {
                            self.rotate_if_not_empty();
                            return;
                        }
                        Some(Command::Stop) => return,
                        _ => {}
                    }
                }
                Ok(Command::ForceCommit(reply)) => {
                    self.rotate_if_not_empty();
                    let _ = reply.send(());
                }
                Ok(Command::Pause(paused)) => self.pause(paused),
                Ok(Command::SealAndStop) => {
                    self.rotate_if_not_empty();
                    return;
                }
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.generator.is_some() && !self.paused {
                self.generate();
            }
            if self.kafka.is_some() {
                if self.paused || self.backpressure() {
                    // Paused, the lag keeps growing: keep reporting it.
                    self.refresh_log_end();
                } else {
                    self.consume();
                }
            }
            if self.threshold_reached() {
                self.rotate_if_not_empty();
            }
        }
    }

    fn wait_time(&self) -> Duration {
        let until_flush = self
            .shared
            .settings
            .flush_time
            .saturating_sub(self.active_age())
            .max(Duration::from_millis(10));
        if self.kafka.is_some() {
            // Kafka waits in its poll; paused, the loop idles on commands.
            return if self.paused {
                KAFKA_POLL_WAIT
            } else {
                Duration::ZERO
            };
        }
        match &self.generator {
            Some(generator) if generator.behind(self.shared.settings.generator_rate) => {
                Duration::ZERO
            }
            Some(_) => until_flush.min(GENERATOR_TICK),
            None => until_flush.min(Duration::from_secs(1)),
        }
    }

    /// How long the active segment has been open, by the table's clock.
    fn active_age(&self) -> Duration {
        self.shared
            .context
            .clock
            .monotonic()
            .saturating_sub(self.active_since)
    }

    fn threshold_reached(&self) -> bool {
        let settings = &self.shared.settings;
        let rows = self.active.num_rows();
        if rows == 0 {
            return false;
        }
        rows >= settings.flush_rows
            || self.active_age() >= settings.flush_time
            || settings
                .flush_bytes
                .is_some_and(|limit| self.active.memory_bytes() as u64 >= limit)
    }

    fn apply_pushes(&mut self, group: Vec<PushRequest>) -> Result<()> {
        let mut accepted: Vec<(PushRequest, u64)> = Vec::with_capacity(group.len());
        // Retries of a request of this same group: answered once the group is durable.
        let mut deferred: Vec<PushRequest> = Vec::new();
        let mut in_group: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut failure: Option<Error> = None;
        for request in group {
            if failure.is_some() {
                let _ = request.reply.send(Err(Error::Unavailable(
                    "write-ahead log failed; retry".into(),
                )));
                continue;
            }
            if let Some(key) = &request.idempotency_key {
                if let Some(rows) = self.keys.get(key).map(|k| k.rows) {
                    IngestMetrics::add(&self.shared.metrics.duplicate_requests, 1);
                    let _ = request.reply.send(Ok(PushAck {
                        rows,
                        duplicate: true,
                        partition: self.partition,
                    }));
                    continue;
                }
                if in_group.contains(key) {
                    deferred.push(request);
                    continue;
                }
            }
            let start = self.next_offset;
            let Some(wal) = self.wal.as_mut() else {
                let _ = request.reply.send(Err(Error::Invalid(
                    "this table does not take pushes".into(),
                )));
                continue;
            };
            let record = WalRecord {
                start_offset: start,
                rows: request.rows.len() as u32,
                idempotency_key: request.idempotency_key.clone(),
                body: request.body.clone(),
            };
            if let Err(error) = wal.append(&record) {
                // A partly written record may be in the file: nothing more may follow it.
                let _ = request
                    .reply
                    .send(Err(Error::Unavailable(format!("write-ahead log: {error}"))));
                failure = Some(error);
                continue;
            }
            if let Some(key) = &request.idempotency_key {
                in_group.insert(key.clone());
            }
            self.next_offset += request.rows.len() as u64;
            accepted.push((request, start));
        }
        if failure.is_none()
            && !accepted.is_empty()
            && let Some(wal) = self.wal.as_mut()
            && let Err(error) = wal.sync()
        {
            failure = Some(error);
        }
        if let Some(error) = failure {
            let message = error.to_string();
            for (request, _) in accepted {
                let _ = request.reply.send(Err(Error::Unavailable(format!(
                    "write-ahead log: {message}"
                ))));
            }
            for request in deferred {
                let _ = request.reply.send(Err(Error::Unavailable(format!(
                    "write-ahead log: {message}"
                ))));
            }
            return Err(error);
        }
        for (request, start) in accepted {
            let rows = request.rows.len() as u64;
            let result = self.active.append_rows(&request.rows, start + rows);
            if let Some(key) = &request.idempotency_key {
                self.remember_key(key, rows);
            }
            self.shared.metrics.ingested(self.partition, rows);
            let _ = request.reply.send(result.map(|()| PushAck {
                rows,
                duplicate: false,
                partition: self.partition,
            }));
        }
        for request in deferred {
            let rows = request
                .idempotency_key
                .as_ref()
                .and_then(|key| self.keys.get(key))
                .map_or(0, |k| k.rows);
            IngestMetrics::add(&self.shared.metrics.duplicate_requests, 1);
            let _ = request.reply.send(Ok(PushAck {
                rows,
                duplicate: true,
                partition: self.partition,
            }));
        }
        Ok(())
    }

    /// Remember that the request with `key` applied `rows` rows, now, in the active
    /// segment (whose commit records it in the catalog).
    fn remember_key(&mut self, key: &str, rows: u64) {
        let applied_ms = self.shared.context.clock.now_ms();
        self.keys
            .insert(key.to_string(), AppliedKey { rows, applied_ms });
        self.active_keys.insert(key.to_string(), rows);
    }

    /// Pause (committing what was consumed, as Pinot does) or resume.
    fn pause(&mut self, paused: bool) {
        self.paused = paused;
        info!(table = %self.shared.name, partition = self.partition, paused, "consumption paused or resumed");
        self.publish_status();
        if paused {
            self.rotate_if_not_empty();
        }
    }

    fn publish_status(&mut self) {
        self.status.next_offset = self.next_offset;
        self.status.paused = self.paused;
        self.shared
            .metrics
            .set_partition_status(self.partition, self.status);
    }

    /// Kafka: stop reading while too many bytes of full segments wait for the deep
    /// store (`tessera.backpressure.pending.bytes`); the stream keeps them meanwhile.
    fn backpressure(&self) -> bool {
        let pending = self
            .shared
            .metrics
            .pending_seal_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        let over = pending > self.shared.settings.max_pending_seal_bytes;
        if over {
            IngestMetrics::add(&self.shared.metrics.backpressure_rejections, 1);
            std::thread::sleep(KAFKA_POLL_WAIT);
        }
        over
    }

    fn refresh_log_end(&mut self) {
        if let Some(kafka) = self.kafka.as_mut() {
            self.status.log_end_offset = kafka.high_watermark();
            self.publish_status();
        }
    }

    /// Poll the partition's Kafka consumer once and append what came: good rows to the
    /// consuming segment; rejects counted, logged and (optionally) dead-lettered. Every
    /// message advances the position, kept or not.
    fn consume(&mut self) {
        let Some(kafka) = self.kafka.as_mut() else {
            return;
        };
        let messages = kafka.poll(KAFKA_MAX_MESSAGES, KAFKA_POLL_WAIT);
        self.status.log_end_offset = kafka.high_watermark();
        let mut rows = Vec::with_capacity(messages.len());
        let mut rejects = Vec::new();
        let mut filtered = 0u64;
        let mut end = self.next_offset;
        for message in messages {
            if message.offset < end {
                // Delivered again (a broker repeat): already in this partition's chain.
                continue;
            }
            end = message.offset + 1;
            if message.timestamp_ms.is_some() {
                self.status.last_message_ms = message.timestamp_ms;
            }
            let Some(payload) = message.payload else {
                rejects.push(RowReject {
                    line: message.offset,
                    reason: reject_reason::INVALID_JSON,
                    detail: "the message has no value".into(),
                    sample: String::new(),
                });
                continue;
            };
            match self.shared.decoder.decode_row(&payload) {
                Ok(Some(row)) => rows.push(row),
                Ok(None) => filtered += 1,
                Err(mut reject) => {
                    reject.line = message.offset;
                    rejects.push(reject);
                }
            }
        }
        if end > self.next_offset {
            self.shared.record_rejects(&rejects, "offset");
            IngestMetrics::add(&self.shared.metrics.rows_filtered, filtered);
            let count = rows.len() as u64;
            match self.active.append_rows(&rows, end) {
                Ok(()) => self.shared.metrics.ingested(self.partition, count),
                Err(error) => {
                    // Counted as rejects; the segment still ends at `end`, so the
                    // partition's chain of offsets stays contiguous.
                    error!(table = %self.shared.name, partition = self.partition, %error, "consumed rows were not appended; counted as rejected");
                    for _ in 0..count {
                        self.shared.metrics.reject(reject_reason::APPEND_FAILED);
                    }
                    if let Err(error) = self.active.append_rows(&[], end) {
                        error!(table = %self.shared.name, %error, "the consuming segment's end offset did not advance");
                    }
                }
            }
            self.next_offset = end;
        }
        if self
            .status
            .log_end_offset
            .is_some_and(|log_end| log_end <= self.next_offset)
        {
            self.status.caught_up_ms = Some(self.shared.context.clock.now_ms());
        }
        self.publish_status();
    }

    fn generate(&mut self) {
        let Some(generator) = self.generator.as_mut() else {
            return;
        };
        let due = generator.rows_due(self.shared.settings.generator_rate);
        if due == 0 {
            return;
        }
        let rows: Vec<Vec<Value>> = (0..due)
            .map(|i| generator.row(self.next_offset + i))
            .collect();
        self.next_offset += due;
        match self.active.append_rows(&rows, self.next_offset) {
            Ok(()) => self.shared.metrics.ingested(self.partition, due),
            Err(error) => {
                error!(table = %self.shared.name, %error, "generated rows were not appended")
            }
        }
    }

    fn rotate_if_not_empty(&mut self) {
        if self.active.num_rows() == 0 {
            return;
        }
        let created_ms = self.shared.context.clock.now_ms();
        // Forget the keys whose window has passed (a segment's worth of pushes apart:
        // the map stays within the window's keys plus one segment's).
        let window_ms = self.shared.settings.idempotency_window_ms();
        self.keys
            .retain(|_, key| within_window(key.applied_ms, created_ms, window_ms));
        let sequence = self.active_sequence + 1;
        let identity = SegmentIdentity {
            name: segment_name(&self.shared.name, self.partition, sequence, created_ms),
            table: self.shared.name.clone(),
            partition: self.partition,
            start_offset: self.next_offset,
            created_ms,
        };
        let new_wal = match &self.wal {
            Some(_) => match WalWriter::create(
                &wal_dir(&self.shared, self.partition),
                WalHeader {
                    start_offset: self.next_offset,
                    created_ms,
                },
            ) {
                Ok(wal) => Some(wal),
                Err(error) => {
                    // Keep appending to the current segment; try again at the next batch.
                    error!(table = %self.shared.name, %error, "cannot start the next write-ahead log file");
                    return;
                }
            },
            None => None,
        };
        let old_wal = std::mem::replace(&mut self.wal, new_wal).map(|wal| wal.path().to_path_buf());
        let next = Arc::new(MutableSegment::new(
            identity.clone(),
            &self.shared.schema,
            &self.shared.config,
        ));
        self.shared
            .segments
            .add(ServedSegment::Consuming(next.clone()));
        let full = std::mem::replace(&mut self.active, next);
        let full_sequence = std::mem::replace(&mut self.active_sequence, sequence);
        self.active_since = self.shared.context.clock.monotonic();
        self.send_seal(full, full_sequence, old_wal, &identity);
    }

    /// Queue a full segment for sealing; `next` is the segment that continues the
    /// partition from its end offset (recorded CONSUMING by the same commit).
    fn send_seal(
        &mut self,
        segment: Arc<MutableSegment>,
        sequence: u32,
        wal_path: Option<PathBuf>,
        next: &SegmentIdentity,
    ) {
        let bytes = segment.memory_bytes() as u64;
        IngestMetrics::add(&self.shared.metrics.pending_seal_bytes, bytes);
        let job = SealJob {
            end_offset: segment.end_offset(),
            segment,
            sequence,
            keys: std::mem::take(&mut self.active_keys),
            wal_path,
            memory_bytes: bytes,
            next: consuming_record(next, sequence + 1),
        };
        if self.sealer.send(job).is_err() {
            warn!(table = %self.shared.name, "the sealer has stopped; the segment stays in memory");
        }
    }
}
