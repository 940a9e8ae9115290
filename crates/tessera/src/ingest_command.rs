//! `tessera ingest --url URL --table T FILE...`: build segments from Parquet, CSV or
//! JSON-lines files with the table's schema and config (fetched from the server), and
//! upload them into the table — an OFFLINE table, or history of a REALTIME one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use tessera_config::{Schema, TableConfig};
use tessera_ingest::{InputPart, ReadOptions, RejectReport, split_files};
use tessera_segment::{BuildOptions, ColumnBatch, SegmentBuilder};

use crate::http_client::{Reply, body_pipe, send, send_stream};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The server (`http://127.0.0.1:8099`).
    #[arg(long)]
    url: String,
    /// The table to load into.
    #[arg(long)]
    table: String,
    /// Rows per segment.
    #[arg(long, default_value_t = 2_000_000)]
    segment_rows: u32,
    /// Segments built at once (default: one per core); memory holds one segment per job.
    #[arg(long)]
    jobs: Option<usize>,
    /// Input files; the format follows the extension (.parquet, .csv, .json/.jsonl).
    #[arg(required = true, num_args = 1..)]
    files: Vec<PathBuf>,
}

fn get_json(url: &str) -> anyhow::Result<serde_json::Value> {
    let reply = send("GET", url, "application/json", Vec::new())?;
    if reply.status != 200 {
        bail!(
            "GET {url} failed (HTTP {}): {}",
            reply.status,
            reply.error_message()
        );
    }
    reply.json()
}

pub fn run(args: IngestArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let url = args.url.trim_end_matches('/');
    let table_name = &args.table;
    let schema_json = get_json(&format!("{url}/tables/{table_name}/schema"))?;
    let schema = Schema::from_json(&schema_json.to_string())?.value;
    let config_json = get_json(&format!("{url}/tables/{table_name}"))?;
    let (_, config_value) = config_json
        .as_object()
        .and_then(|o| o.iter().next())
        .context("the server returned no table config")?;
    let config = TableConfig::from_json(&config_value.to_string(), &schema)?.value;
    let existing = get_json(&format!("{url}/segments/{table_name}"))?;
    let sequence = existing
        .as_array()
        .and_then(|a| a.first())
        .and_then(|o| o.as_object())
        .and_then(|o| o.values().next())
        .and_then(|names| names.as_array())
        .map_or(0, |names| names.len() as u32);
    // Batches no larger than a segment, so `--segment-rows` holds for small values too.
    let options = ReadOptions {
        batch_rows: ReadOptions::default()
            .batch_rows
            .min(args.segment_rows.max(1) as usize),
        ..ReadOptions::default()
    };
    let parts = split_files(&args.files, &schema, &options).context("cannot open the input")?;
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let load = Load {
        url,
        table_name,
        schema: &schema,
        config: &config,
        segment_rows: args.segment_rows,
        next_sequence: AtomicU32::new(sequence),
        // Two loads of one file at once would otherwise name their segments alike (same
        // table, time range and sequence) and the second upload would be refused.
        run: run_id(),
        failed: AtomicBool::new(false),
    };
    // `jobs` readers decode the input's parts ahead of the workers, at most `jobs`
    // batches ahead (decoding under a lock the workers shared left a core idle whenever
    // two workers were filling at once). Every worker pulls batches into a segment of
    // its own and builds it when full: the cores share the accumulation (dictionaries,
    // raw chunks) and the build (sort, indexes, text); memory holds one segment per
    // worker. A segment is uploaded as it is built (no file: the bytes go from the
    // build to the socket), and its upload handed to one collector that waits for the
    // server's answers, so that no worker waits on the server's commit before filling
    // the next.
    let jobs = jobs.max(1);
    let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<anyhow::Result<ColumnBatch>>(jobs);
    // Shared by the workers; dropped with the last of them, which stops the readers.
    let batch_rx = Arc::new(Mutex::new(batch_rx));
    let next_part = AtomicUsize::new(0);
    let (report, uploaded, outcomes) = std::thread::scope(|scope| {
        let load = &load;
        let (parts, next_part) = (&parts, &next_part);
        let readers: Vec<_> = (0..jobs)
            .map(|_| {
                let batch_tx = batch_tx.clone();
                scope.spawn(move || load.reader(parts, next_part, &batch_tx))
            })
            .collect();
        drop(batch_tx);
        let (upload_tx, upload_rx) = std::sync::mpsc::sync_channel::<Upload<'_>>(jobs);
        let collector = scope.spawn(move || load.noting_failure(load.collect_uploads(upload_rx)));
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                let (batch_rx, upload_tx) = (Arc::clone(&batch_rx), upload_tx.clone());
                scope.spawn(move || {
                    load.noting_failure(load.fill_and_build(scope, &batch_rx, &upload_tx))
                })
            })
            .collect();
        drop((batch_rx, upload_tx));
        let outcomes: Vec<anyhow::Result<()>> = workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a load worker panicked")))
            })
            .collect();
        let uploaded = collector
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the upload collector panicked")));
        // Rejects in input order: each part's, in part order.
        let mut by_part: Vec<(usize, RejectReport)> = readers
            .into_iter()
            .flat_map(|reader| reader.join().unwrap_or_default())
            .collect();
        by_part.sort_by_key(|(part, _)| *part);
        let mut report = RejectReport::default();
        for (_, part_report) in by_part {
            report.merge(part_report);
        }
        (report, uploaded, outcomes)
    });
    // The uploads' failure first: a worker whose upload could not be handed over failed
    // because of it.
    let (total_rows, segments) = uploaded?;
    for outcome in outcomes {
        outcome?;
    }
    if !report.is_empty() {
        eprintln!("{}", report.summary());
    }
    println!(
        "ingested rows={total_rows} segments={segments} rejected={} seconds={:.2} jobs={jobs}",
        report.rejected_rows,
        started.elapsed().as_secs_f64()
    );
    if total_rows == 0 && report.rejected_rows > 0 {
        bail!("every input row was rejected");
    }
    Ok(())
}

/// One `tessera ingest` run, shared by its workers.
struct Load<'a> {
    url: &'a str,
    table_name: &'a str,
    schema: &'a Schema,
    config: &'a TableConfig,
    segment_rows: u32,
    next_sequence: AtomicU32,
    run: String,
    /// Set by the first worker or upload that fails, so the others stop.
    failed: AtomicBool,
}

/// A segment built and sent; its upload thread ends with the server's answer.
struct Upload<'scope> {
    reply: ScopedJoinHandle<'scope, anyhow::Result<Reply>>,
    name: String,
    rows: u64,
    bytes: u64,
}

impl Load<'_> {
    /// Decode parts of the input into batches for the workers, taking the next part
    /// until none is left, a worker fails or every worker is gone; the rejects of each
    /// part read that had any.
    fn reader(
        &self,
        parts: &[InputPart],
        next_part: &AtomicUsize,
        batches: &SyncSender<anyhow::Result<ColumnBatch>>,
    ) -> Vec<(usize, RejectReport)> {
        let mut reports = Vec::new();
        while !self.failed.load(Ordering::Relaxed) {
            let index = next_part.fetch_add(1, Ordering::Relaxed);
            let Some(part) = parts.get(index) else { break };
            let mut report = RejectReport::default();
            let sent = Self::read_part(part, &mut report, batches);
            if !report.is_empty() {
                reports.push((index, report));
            }
            if !sent {
                break;
            }
        }
        reports
    }

    /// Send `part`'s batches; whether reading may go on (false after an error, or when
    /// the workers are gone).
    fn read_part(
        part: &InputPart,
        report: &mut RejectReport,
        batches: &SyncSender<anyhow::Result<ColumnBatch>>,
    ) -> bool {
        let mut source = match part.open() {
            Ok(source) => source,
            Err(error) => {
                let _ = batches.send(Err(
                    anyhow::Error::new(error).context("cannot open the input")
                ));
                return false;
            }
        };
        loop {
            let batch = match source.next_batch(report) {
                Ok(Some(batch)) => Ok(batch),
                Ok(None) => return true,
                Err(error) => Err(anyhow::Error::new(error).context("reading the input failed")),
            };
            let failed = batch.is_err();
            if batches.send(batch).is_err() || failed {
                return false;
            }
        }
    }

    /// `outcome`, marking the load failed when it is an error (so that the readers,
    /// the other workers and the collector stop).
    fn noting_failure<T>(&self, outcome: anyhow::Result<T>) -> anyhow::Result<T> {
        if outcome.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        outcome
    }

    /// Fill segments from the readers' batches and build each when full, sending it as
    /// it is built and handing its upload to the collector.
    fn fill_and_build<'scope>(
        &'scope self,
        scope: &'scope Scope<'scope, '_>,
        batches: &Mutex<Receiver<anyhow::Result<ColumnBatch>>>,
        uploads: &SyncSender<Upload<'scope>>,
    ) -> anyhow::Result<()> {
        let hand_over = |upload: Upload<'scope>| {
            uploads
                .send(upload)
                .map_err(|_| anyhow::anyhow!("the upload of an earlier segment failed"))
        };
        let mut builder: Option<SegmentBuilder> = None;
        while !self.failed.load(Ordering::Relaxed) {
            let batch = batches
                .lock()
                .map_err(|_| anyhow::anyhow!("a load worker panicked"))?
                .recv();
            // The readers are done when their ends of the channel are gone.
            let Ok(batch) = batch else { break };
            let batch = batch?;
            let current = match &mut builder {
                Some(current) => current,
                None => builder.insert(SegmentBuilder::new(self.schema, self.config)?),
            };
            current.add_batch(&batch)?;
            if current.num_rows() >= self.segment_rows
                && let Some(full) = builder.take()
            {
                hand_over(self.build_and_send(scope, full)?)?;
            }
        }
        if let Some(last) = builder.take()
            && last.num_rows() > 0
            && !self.failed.load(Ordering::Relaxed)
        {
            hand_over(self.build_and_send(scope, last)?)?;
        }
        Ok(())
    }

    /// Build `builder`'s segment into an upload that sends its bytes as they are
    /// written.
    fn build_and_send<'scope>(
        &'scope self,
        scope: &'scope Scope<'scope, '_>,
        builder: SegmentBuilder,
    ) -> anyhow::Result<Upload<'scope>> {
        let sequence = self.next_sequence.fetch_add(1, Ordering::Relaxed);
        let rows = u64::from(builder.num_rows());
        let (writer, body) = body_pipe();
        let url = format!("{}/segments?tableName={}", self.url, self.table_name);
        let reply = scope.spawn(move || send_stream(&url, "application/octet-stream", body));
        let built = builder.finish_into(
            Box::new(writer.clone()),
            &format!("<upload of segment {sequence}>"),
            &BuildOptions {
                sequence,
                name_postfix: Some(self.run.clone()),
                ..BuildOptions::default()
            },
        );
        let (bytes, metadata) = match built {
            Ok(built) => built,
            Err(error) => {
                // The request must not end as if the body were whole.
                writer.abort(std::io::Error::other("the segment build failed"));
                drop(writer);
                let stopped = matches!(&error, tessera_segment::Error::Io { source, .. }
                    if source.kind() == std::io::ErrorKind::BrokenPipe);
                let upload = reply
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("an upload panicked")));
                // A build cut short by its upload stopping failed for the upload's reason.
                return Err(
                    match upload.and_then(|reply| check_upload(&reply, "a segment")) {
                        Err(upload_error) if stopped => upload_error,
                        _ => error.into(),
                    },
                );
            }
        };
        Ok(Upload {
            reply,
            name: metadata.name,
            rows,
            bytes,
        })
    }

    /// Wait for each upload's answer, in the order they were handed over; (rows,
    /// segments) uploaded, or the first upload's failure.
    fn collect_uploads(&self, uploads: Receiver<Upload<'_>>) -> anyhow::Result<(u64, u32)> {
        let (mut rows, mut segments) = (0u64, 0u32);
        for upload in uploads {
            upload
                .reply
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("an upload panicked")))
                .and_then(|reply| check_upload(&reply, &format!("`{}`", upload.name)))?;
            eprintln!(
                "uploaded {} rows={} bytes={}",
                upload.name, upload.rows, upload.bytes
            );
            rows += upload.rows;
            segments += 1;
        }
        Ok((rows, segments))
    }
}

/// An error unless the server took the upload of `what`.
fn check_upload(reply: &Reply, what: &str) -> anyhow::Result<()> {
    if reply.status != 200 {
        bail!(
            "upload of {what} failed (HTTP {}): {}",
            reply.status,
            reply.error_message()
        );
    }
    Ok(())
}

/// Eight hex digits that tell this run's segments from another's: the clock's
/// nanoseconds mixed with the process id.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mixed = (nanos ^ (u64::from(std::process::id()) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:08x}", mixed >> 32)
}
