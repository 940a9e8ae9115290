//! The sealer of one partition: builds each full consuming segment into a `.tseg`,
//! uploads it to the deep store, commits it in the catalog (DONE + the successor
//! CONSUMING, one atomic write), swaps it into the serving set, and trims the log.
//! Jobs run in chain order; a failing step is retried with backoff (capped at 10 s)
//! while the writer keeps consuming — up to the table's pending-bytes bound, after
//! which pushes get 503. A failure retrying cannot cure (a segment that does not
//! build) is not retried: the partition's sealing stops and says why — the table's
//! status, the `tessera_seal_stalled_partitions` gauge, an error in the log — until the
//! table restarts; its rows stay queryable from the consuming segment and its log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use tessera_meta::{SegmentRecord, SegmentState};
use tessera_segment::{BuildOptions, ImmutableSegment, SegmentBuilder, SegmentReader};
use tessera_storage::{DeepStore, file_crc32};
use tracing::{error, info, warn};

use super::TableShared;
use super::metrics::{IngestMetrics, SealStall};
use super::served::ServedSegment;
use crate::consuming::MutableSegment;
use crate::error::{Error, Result};
use crate::fault::{self, Step};

const BUILD_BATCH_ROWS: usize = 65_536;
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A full consuming segment waiting to be sealed.
pub(crate) struct SealJob {
    pub(crate) segment: Arc<MutableSegment>,
    pub(crate) sequence: u32,
    pub(crate) end_offset: u64,
    pub(crate) keys: BTreeMap<String, u64>,
    /// The log file holding the segment's rows (push tables), deleted after commit.
    pub(crate) wal_path: Option<PathBuf>,
    pub(crate) memory_bytes: u64,
    /// The partition's next consuming segment, recorded by the same commit.
    pub(crate) next: SegmentRecord,
}

pub(crate) fn run_sealer(shared: Arc<TableShared>, jobs: Receiver<SealJob>) {
    for job in jobs {
        let mut backoff = Duration::from_millis(200);
        loop {
            if shared.is_stopped() {
                return;
            }
            let started = Instant::now();
            match seal(&shared, &job) {
                Ok(()) => {
                    expire_keys(&shared, job.segment.identity().partition);
                    let millis = started.elapsed().as_millis() as u64;
                    IngestMetrics::add(&shared.metrics.segments_sealed, 1);
                    shared.metrics.seal_seconds.observe(started.elapsed());
                    info!(table = %shared.name, segment = %job.segment.name(), rows = job.segment.num_rows(), millis, "segment sealed and committed");
                    break;
                }
                Err(error) if !error.is_retryable() => {
                    IngestMetrics::add(&shared.metrics.seal_failures, 1);
                    let partition = job.segment.identity().partition;
                    error!(table = %shared.name, partition, segment = %job.segment.name(), %error, "seal failed and retrying cannot cure it: this partition stops sealing until the table restarts");
                    shared.metrics.seal_stalled(
                        partition,
                        SealStall {
                            segment: job.segment.name().to_string(),
                            error: format!("{error:#}"),
                            since_ms: shared.context.clock.now_ms(),
                        },
                    );
                    // Keep the queue open (the writer goes on consuming up to the
                    // pending-bytes bound), and wait for the table to stop.
                    while !shared.is_stopped() {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    return;
                }
                Err(error) => {
                    IngestMetrics::add(&shared.metrics.seal_failures, 1);
                    warn!(table = %shared.name, segment = %job.segment.name(), %error, retry_in_ms = backoff.as_millis() as u64, "seal failed; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        shared
            .metrics
            .pending_seal_bytes
            .fetch_sub(job.memory_bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Clear, in the catalog, the idempotency keys of `partition`'s segments committed
/// longer than the table's window ago. A failure is logged and tried again at the next
/// commit.
fn expire_keys(shared: &TableShared, partition: u32) {
    let before_ms = shared
        .context
        .clock
        .now_ms()
        .saturating_sub(shared.settings.idempotency_window_ms());
    match shared
        .context
        .catalog
        .expire_idempotency_keys(&shared.name, partition, before_ms)
    {
        Ok(0) => {}
        Ok(cleared) => {
            info!(table = %shared.name, partition, segments = cleared, "idempotency keys past their window cleared")
        }
        Err(error) => {
            warn!(table = %shared.name, partition, %error, "cannot clear expired idempotency keys; trying at the next commit")
        }
    }
}

fn segment_error(context: String) -> impl FnOnce(tessera_segment::Error) -> Error {
    move |source| Error::Segment { context, source }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Local {
        what: format!("segment file `{}`", path.display()),
        source,
    }
}

/// Build the segment file (unless a previous attempt did) and open it.
fn build(shared: &TableShared, job: &SealJob, path: &Path) -> Result<ImmutableSegment> {
    let name = job.segment.name().to_string();
    fault::at(Step::SealBuild)?;
    if let Ok(existing) = ImmutableSegment::open(path)
        && existing.num_docs() == job.segment.num_rows()
    {
        return Ok(existing);
    }
    let mut builder = SegmentBuilder::new(&shared.schema, &shared.config)
        .map_err(segment_error(format!("seal segment=`{name}`")))?;
    for batch in job.segment.to_batches(BUILD_BATCH_ROWS)? {
        builder
            .add_batch(&batch)
            .map_err(segment_error(format!("seal segment=`{name}`")))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    }
    let temporary = path.with_extension("building");
    let identity = job.segment.identity();
    let options = BuildOptions {
        segment_name: Some(name.clone()),
        name_postfix: None,
        sequence: job.sequence,
        creation_time_ms: identity.created_ms,
        stream_partition: Some(identity.partition),
        start_offset: Some(identity.start_offset),
        end_offset: Some(job.end_offset),
    };
    builder
        .finish(&temporary, &options)
        .map_err(segment_error(format!("seal segment=`{name}`")))?;
    std::fs::rename(&temporary, path).map_err(io_error(path))?;
    ImmutableSegment::open(path).map_err(segment_error(format!("open sealed segment=`{name}`")))
}

fn seal(shared: &TableShared, job: &SealJob) -> Result<()> {
    let name = job.segment.name().to_string();
    let path = shared.segment_path(&name);
    let build_started = Instant::now();
    let sealed = build(shared, job, &path)?;
    shared
        .metrics
        .build_seconds
        .observe(build_started.elapsed());
    let bytes = std::fs::read(&path).map_err(io_error(&path))?;
    let crc32 = file_crc32(&bytes);
    let size_bytes = bytes.len() as u64;
    let location = DeepStore::segment_location(&shared.name, &name);
    fault::at(Step::SealUpload)?;
    let upload_started = Instant::now();
    let uploaded = shared
        .context
        .runtime
        .block_on(shared.context.deep_store.put(&location, bytes.into()));
    if let Err(error) = uploaded {
        IngestMetrics::add(&shared.metrics.upload_failures, 1);
        return Err(Error::Unavailable(format!(
            "upload segment=`{name}`: {error}"
        )));
    }
    shared
        .metrics
        .upload_seconds
        .observe(upload_started.elapsed());
    let metadata = sealed.metadata();
    let identity = job.segment.identity();
    let record = SegmentRecord {
        name: name.clone(),
        table: shared.name.clone(),
        state: SegmentState::Done,
        partition: identity.partition,
        sequence: job.sequence,
        start_offset: identity.start_offset,
        end_offset: Some(job.end_offset),
        location: Some(location),
        size_bytes,
        crc32: Some(crc32),
        num_docs: u64::from(metadata.row_count),
        min_time: metadata.min_time,
        max_time: metadata.max_time,
        created_ms: identity.created_ms,
        idempotency_keys: job.keys.clone(),
        committed_ms: Some(shared.context.clock.now_ms()),
        column_ranges: crate::segment_stats::column_ranges(metadata),
    };
    fault::at(Step::SealCommit)?;
    let commit_started = Instant::now();
    let committed = shared
        .context
        .catalog
        .commit_segment(&record, Some(&job.next));
    shared
        .metrics
        .commit_seconds
        .observe(commit_started.elapsed());
    if let Err(error) = committed {
        let already_done = shared
            .context
            .catalog
            .segments(&shared.name)
            .ok()
            .and_then(|segments| segments.into_iter().find(|s| s.name == name))
            .is_some_and(|s| s.state == SegmentState::Done && s.end_offset == Some(job.end_offset));
        if !already_done {
            IngestMetrics::add(&shared.metrics.commit_failures, 1);
            return Err(Error::Unavailable(format!(
                "commit segment=`{name}`: {error}"
            )));
        }
    }
    shared
        .segments
        .replace(&name, ServedSegment::Sealed(Arc::new(sealed)));
    if let Some(wal) = &job.wal_path {
        let _ = std::fs::remove_file(wal);
    }
    Ok(())
}
