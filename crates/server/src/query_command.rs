//! `tessera query --segments DIR [--format table|json|csv] "SQL"`: run SQL over the
//! segment files in a directory, in this process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use tessera_query::merge::ResultTable;
use tessera_query::response::{cell_json, success};
use tessera_query::{QueryOptions, Table};
use tessera_segment::{ImmutableSegment, SegmentReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text columns.
    Table,
    /// The Pinot broker response JSON.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Run over every `.tseg` file in this directory (the SQL table name is the
    /// segment's table name).
    #[arg(long)]
    segments: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Pinot query options, e.g. `timeoutMs=500;numGroupsLimit=1000`.
    #[arg(long)]
    query_options: Option<String>,
    /// Benchmarking: after one warm-up run, run the query this many more times with the
    /// segments open and print `{"runsMs": [...], "medianMs": ...}` to stderr.
    #[arg(long)]
    timing_runs: Option<usize>,
    /// The SQL statement (`SET k = v;` prefixes and `EXPLAIN PLAN FOR` allowed). It may
    /// start with a `--` comment.
    #[arg(allow_hyphen_values = true)]
    sql: String,
}

pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    // Query blocks allocate and free 128 KiB vectors again and again: keep them in the
    // heap so they cost no page faults.
    tessera_segment::builder::allocator::keep_freed_memory_for_reuse();
    let tables = load_tables(&args.segments)?;
    let mut options = QueryOptions::default();
    if let Some(text) = &args.query_options {
        options.apply_pinot_string(text)?;
    }
    let outcome = tessera_query::run(&args.sql, options.clone(), &tables)?;
    if let Some(runs) = args.timing_runs {
        let mut times: Vec<f64> = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = std::time::Instant::now();
            tessera_query::run(&args.sql, options.clone(), &tables)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        eprintln!(
            "{}",
            serde_json::json!({"runsMs": times, "medianMs": median})
        );
    }
    let mut out = String::new();
    match args.format {
        Format::Json => {
            out = serde_json::to_string(&success(&outcome))?;
            out.push('\n');
        }
        Format::Csv => write_csv(&outcome.result, &mut out),
        Format::Table => write_table(&outcome.result, &mut out),
    }
    print!("{out}");
    Ok(())
}

/// Open every segment in `dir`, grouped into tables.
pub fn load_tables(dir: &Path) -> anyhow::Result<Vec<Table>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read segment directory `{}`", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "tseg"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no .tseg segment files in `{}`", dir.display());
    }
    let mut by_table: BTreeMap<String, Vec<Arc<dyn SegmentReader>>> = BTreeMap::new();
    for file in files {
        let segment = ImmutableSegment::open(&file)
            .with_context(|| format!("cannot open segment `{}`", file.display()))?;
        by_table
            .entry(segment.metadata().table_name.clone())
            .or_default()
            .push(Arc::new(segment));
    }
    by_table
        .into_values()
        .map(|segments| Table::from_segments(segments).map_err(anyhow::Error::from))
        .collect()
}

fn cell_text(result: &ResultTable, column: usize, row: &[tessera_query::types::Scalar]) -> String {
    match cell_json(&row[column], result.columns[column].ty.element) {
        serde_json::Value::Null => "NULL".to_string(),
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

fn write_csv(result: &ResultTable, out: &mut String) {
    let quote = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let header: Vec<String> = result.columns.iter().map(|c| quote(&c.name)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in &result.rows {
        let cells: Vec<String> = (0..result.columns.len())
            .map(|i| {
                if row[i].is_null() {
                    String::new()
                } else {
                    quote(&cell_text(result, i, row))
                }
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
}

fn write_table(result: &ResultTable, out: &mut String) {
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| {
            (0..result.columns.len())
                .map(|i| cell_text(result, i, row))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = result
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .collect();
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |values: Vec<&str>, out: &mut String| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}", w = *w))
            .collect();
        out.push_str(padded.join(" | ").trim_end());
        out.push('\n');
    };
    line(
        result.columns.iter().map(|c| c.name.as_str()).collect(),
        out,
    );
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    out.push('\n');
    for row in &cells {
        line(row.iter().map(String::as_str).collect(), out);
    }
    out.push_str(&format!("({} rows)\n", result.rows.len()));
}
