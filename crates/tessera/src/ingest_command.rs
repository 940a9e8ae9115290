//! `tessera ingest --url URL --table T FILE...`: build segments from Parquet, CSV or
//! JSON-lines files with the table's schema and config (fetched from the server), and
//! upload them into the table — an OFFLINE table, or history of a REALTIME one.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use tessera_config::{Schema, TableConfig};
use tessera_ingest::{ReadOptions, RejectReport, open_files};
use tessera_segment::{BuildOptions, SegmentBuilder};

use crate::http_client::send;

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
    let mut sequence = existing
        .as_array()
        .and_then(|a| a.first())
        .and_then(|o| o.as_object())
        .and_then(|o| o.values().next())
        .and_then(|names| names.as_array())
        .map_or(0, |names| names.len() as u32);
    let options = ReadOptions::default();
    let mut source = open_files(&args.files, &schema, &options).context("cannot open the input")?;
    let mut report = RejectReport::default();
    let dir = tempfile::tempdir().context("temporary directory")?;
    let (mut total_rows, mut segments) = (0u64, 0u32);
    let mut builder: Option<SegmentBuilder> = None;
    // Two loads of one file at once would otherwise name their segments alike (same
    // table, time range and sequence) and the second upload would be refused.
    let run = run_id();
    let flush = |builder: SegmentBuilder, sequence: u32| -> anyhow::Result<u64> {
        let rows = u64::from(builder.num_rows());
        let path = dir.path().join(format!("segment-{sequence}.tseg"));
        let summary = builder.finish(
            &path,
            &BuildOptions {
                sequence,
                name_postfix: Some(run.clone()),
                ..BuildOptions::default()
            },
        )?;
        let bytes = std::fs::read(&path)?;
        let reply = send(
            "POST",
            &format!("{url}/segments?tableName={table_name}"),
            "application/octet-stream",
            bytes,
        )?;
        if reply.status != 200 {
            bail!(
                "upload of `{}` failed (HTTP {}): {}",
                summary.metadata.name,
                reply.status,
                reply.error_message()
            );
        }
        eprintln!(
            "uploaded {} rows={rows} bytes={}",
            summary.metadata.name, summary.bytes
        );
        std::fs::remove_file(&path)?;
        Ok(rows)
    };
    while let Some(batch) = source
        .next_batch(&mut report)
        .context("reading the input failed")?
    {
        let current = match &mut builder {
            Some(current) => current,
            None => builder.insert(SegmentBuilder::new(&schema, &config)?),
        };
        current.add_batch(&batch)?;
        if current.num_rows() >= args.segment_rows
            && let Some(full) = builder.take()
        {
            total_rows += flush(full, sequence)?;
            sequence += 1;
            segments += 1;
        }
    }
    if let Some(last) = builder.take()
        && last.num_rows() > 0
    {
        total_rows += flush(last, sequence)?;
        segments += 1;
    }
    if !report.is_empty() {
        eprintln!("{}", report.summary());
    }
    println!(
        "ingested rows={total_rows} segments={segments} rejected={} seconds={:.2}",
        report.rejected_rows,
        started.elapsed().as_secs_f64()
    );
    if total_rows == 0 && report.rejected_rows > 0 {
        bail!("every input row was rejected");
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
