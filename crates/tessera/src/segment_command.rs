//! `tessera segment build` and `tessera segment inspect`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use tessera_config::{Schema, TableConfig};
use tessera_ingest::{ReadOptions, RejectReport, open_files};
use tessera_segment::{BuildOptions, ImmutableSegment, SegmentBuilder, SegmentReader};

#[derive(Debug, Subcommand)]
pub enum SegmentCommand {
    /// Build one segment file from Parquet, CSV (header row) or JSON-lines files.
    Build {
        /// Pinot-format schema (JSON).
        #[arg(long)]
        schema: PathBuf,
        /// Pinot-format table config (JSON): indexes, sort column, time column.
        /// Without it every column is dictionary-encoded and unindexed.
        #[arg(long)]
        table_config: Option<PathBuf>,
        /// Input files; the format follows the extension (.parquet, .csv, .json/.jsonl).
        #[arg(long, required = true, num_args = 1..)]
        input: Vec<PathBuf>,
        /// The segment file to write.
        #[arg(long)]
        out: PathBuf,
        /// Fail on the first value that cannot be coerced instead of skipping its row.
        #[arg(long)]
        strict: bool,
        /// Rows per input batch.
        #[arg(long, default_value_t = tessera_ingest::DEFAULT_BATCH_ROWS)]
        batch_rows: usize,
        /// The segment's sequence number, the last part of its name
        /// (`{table}_{minTime}_{maxTime}_{sequence}`): segments of one table covering the
        /// same time range need different ones.
        #[arg(long, default_value_t = 0)]
        sequence: u32,
    },
    /// Print a segment's metadata and per-column statistics as JSON.
    Inspect {
        /// The segment file.
        file: PathBuf,
    },
}

pub fn run(command: SegmentCommand) -> anyhow::Result<()> {
    match command {
        SegmentCommand::Build {
            schema,
            table_config,
            input,
            out,
            strict,
            batch_rows,
            sequence,
        } => build(
            &schema,
            table_config.as_deref(),
            &input,
            &out,
            ReadOptions { batch_rows, strict },
            sequence,
        ),
        SegmentCommand::Inspect { file } => inspect(&file),
    }
}

fn read_configs(
    schema_path: &Path,
    table_path: Option<&Path>,
) -> anyhow::Result<(Schema, TableConfig)> {
    let text = std::fs::read_to_string(schema_path)
        .with_context(|| format!("cannot read schema path=`{}`", schema_path.display()))?;
    let schema = Schema::from_json(&text)
        .with_context(|| format!("invalid schema path=`{}`", schema_path.display()))?;
    for warning in &schema.warnings {
        eprintln!("warning: {warning} (schema)");
    }
    let schema = schema.value;
    let table = match table_path {
        None => TableConfig::default_for(&schema),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read table config path=`{}`", path.display()))?;
            let parsed = TableConfig::from_json(&text, &schema)
                .with_context(|| format!("invalid table config path=`{}`", path.display()))?;
            for warning in &parsed.warnings {
                eprintln!("warning: {warning} (table config)");
            }
            parsed.value
        }
    };
    Ok((schema, table))
}

fn progress_bar(total_bytes: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total_bytes);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} {msg}",
    )
    .ok()?;
    bar.set_style(style);
    Some(bar)
}

fn build(
    schema_path: &Path,
    table_path: Option<&Path>,
    inputs: &[PathBuf],
    out: &Path,
    options: ReadOptions,
    sequence: u32,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (schema, table) = read_configs(schema_path, table_path)?;
    let mut source = open_files(inputs, &schema, &options).context("cannot open the input")?;
    let mut builder = SegmentBuilder::new(&schema, &table)
        .context("cannot build a segment with this table config")?;
    let mut report = RejectReport::default();
    let bar = progress_bar(source.progress().1);
    let (mut reading, mut adding) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    loop {
        let read_started = Instant::now();
        let Some(batch) = source
            .next_batch(&mut report)
            .context("reading the input failed")?
        else {
            break;
        };
        let add_started = Instant::now();
        reading += add_started - read_started;
        builder
            .add_batch(&batch)
            .context("adding rows to the segment failed")?;
        adding += add_started.elapsed();
        if let Some(bar) = &bar {
            bar.set_position(source.progress().0);
            bar.set_message(format!("{} rows", builder.num_rows()));
        }
    }
    if let Some(bar) = &bar {
        bar.set_message("writing segment");
    }
    tracing::debug!(
        reading_ms = reading.as_millis() as u64,
        adding_ms = adding.as_millis() as u64,
        "input consumed"
    );
    // The reader's buffers are not needed while the segment is written.
    drop(source);
    let rows = builder.num_rows();
    let summary = builder
        .finish(
            out,
            &BuildOptions {
                sequence,
                ..BuildOptions::default()
            },
        )
        .with_context(|| format!("writing the segment failed path=`{}`", out.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if !report.is_empty() {
        eprintln!("{}", report.summary());
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "built {} rows={} rejected={} seconds={:.2} rows_per_sec={:.0} bytes={}",
        summary.metadata.name,
        rows,
        report.rejected_rows,
        seconds,
        f64::from(rows) / seconds.max(1e-9),
        summary.bytes
    );
    if rows == 0 && report.rejected_rows > 0 {
        bail!("every input row was rejected");
    }
    Ok(())
}

fn inspect(file: &Path) -> anyhow::Result<()> {
    let segment = ImmutableSegment::open(file).context("cannot open the segment")?;
    let metadata = segment.metadata();
    let columns: Vec<serde_json::Value> = metadata
        .columns
        .iter()
        .map(|column| {
            json!({
                "name": column.name,
                "dataType": column.data_type.pinot_name(),
                "singleValue": column.single_value,
                "encoding": column.encoding,
                "compression": column.compression,
                "cardinality": column.cardinality,
                "min": column.min,
                "max": column.max,
                "nullCount": column.null_count,
                "indexes": column.indexes,
                "bytes": column.bytes,
                "indexBytes": column.index_bytes,
            })
        })
        .collect();
    let report = json!({
        "name": segment.name(),
        "rowCount": metadata.row_count,
        "formatVersion": metadata.format_version,
        "bytes": segment.file_len(),
        "timeColumn": metadata.time_column,
        "minTime": metadata.min_time,
        "maxTime": metadata.max_time,
        "columns": columns,
        "sections": metadata.sections,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
