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
    #[arg(long, required_unless_present = "url", conflicts_with = "url")]
    segments: Option<PathBuf>,
    /// Send the query to a server's HTTP API (`http://127.0.0.1:8099`).
    #[arg(long)]
    url: Option<String>,
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
    let Some(segments) = &args.segments else {
        return run_remote(&args);
    };
    // Query blocks allocate and free 128 KiB vectors again and again: keep them in the
    // heap so they cost no page faults.
    tessera_segment::builder::allocator::keep_freed_memory_for_reuse();
    let tables = load_tables(segments)?;
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
        Format::Csv => write_csv(&TextTable::from_result(&outcome.result), &mut out),
        Format::Table => write_table(&TextTable::from_result(&outcome.result), &mut out),
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

/// A result as text cells (`None` for NULL): what the table and CSV printers show.
struct TextTable {
    names: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

fn json_cell(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl TextTable {
    fn from_result(result: &ResultTable) -> TextTable {
        TextTable {
            names: result.columns.iter().map(|c| c.name.clone()).collect(),
            rows: result
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .zip(&result.columns)
                        .map(|(cell, column)| json_cell(&cell_json(cell, column.ty.element)))
                        .collect()
                })
                .collect(),
        }
    }

    /// From a Pinot broker response's `resultTable`.
    fn from_response(table: &serde_json::Value) -> TextTable {
        let names = table["dataSchema"]["columnNames"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .map(|n| n.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let rows = table["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        row.as_array()
                            .map(|cells| cells.iter().map(json_cell).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        TextTable { names, rows }
    }
}

/// `tessera query --url`: the server runs the query; this prints its answer.
fn run_remote(args: &QueryArgs) -> anyhow::Result<()> {
    let url = args
        .url
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/');
    let mut request = serde_json::json!({ "sql": args.sql });
    if let Some(options) = &args.query_options {
        request["queryOptions"] = serde_json::Value::String(options.clone());
    }
    let reply = crate::http_client::send(
        "POST",
        &format!("{url}/query/sql"),
        "application/json",
        request.to_string().into_bytes(),
    )?;
    if reply.status != 200 {
        bail!(
            "the query failed (HTTP {}): {}",
            reply.status,
            reply.error_message()
        );
    }
    let response = reply.json()?;
    if let Some(exception) = response["exceptions"].as_array().and_then(|e| e.first()) {
        bail!(
            "the query failed: {}",
            exception["message"].as_str().unwrap_or_default()
        );
    }
    let mut out = String::new();
    match args.format {
        Format::Json => {
            out = reply.body;
            out.push('\n');
        }
        Format::Csv => write_csv(
            &TextTable::from_response(&response["resultTable"]),
            &mut out,
        ),
        Format::Table => write_table(
            &TextTable::from_response(&response["resultTable"]),
            &mut out,
        ),
    }
    print!("{out}");
    Ok(())
}

fn write_csv(table: &TextTable, out: &mut String) {
    let quote = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let header: Vec<String> = table.names.iter().map(|name| quote(name)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in &table.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|cell| cell.as_deref().map(quote).unwrap_or_default())
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
}

fn write_table(table: &TextTable, out: &mut String) {
    let cells: Vec<Vec<&str>> = table
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| cell.as_deref().unwrap_or("NULL"))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = table
        .names
        .iter()
        .map(|name| name.chars().count())
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
    line(table.names.iter().map(String::as_str).collect(), out);
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    out.push('\n');
    for row in &cells {
        line(row.clone(), out);
    }
    out.push_str(&format!("({} rows)\n", table.rows.len()));
}
