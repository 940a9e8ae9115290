//! The [`BatchSource`] trait and how a file is opened: by extension, one source per file,
//! several files chained in order. Also the pieces CSV and JSON lines share: a row-wise
//! batch builder and reject handling.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera_config::Schema;
use tessera_segment::{ColumnBatch, Value};

use crate::coerce::FieldCoercer;
use crate::csv_source::CsvSource;
use crate::error::{Error, Result};
use crate::json_source::JsonLinesSource;
use crate::parquet_source::{ParquetFile, ParquetSource};
use crate::reject::{RejectReport, RejectedValue};

/// Rows per batch when not told otherwise: large enough to amortize per-batch work,
/// small enough (tens of MB for wide rows) to keep memory flat.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Rows per batch (at most; a batch is smaller at the end of a file or when rows are
    /// rejected). Values below 1 are treated as 1.
    pub batch_rows: usize,
    /// Fail with [`Error::Rejected`] on the first value that cannot be coerced, instead
    /// of skipping its row and recording it in the [`RejectReport`].
    pub strict: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_rows: DEFAULT_BATCH_ROWS,
            strict: false,
        }
    }
}

impl ReadOptions {
    pub(crate) fn rows_per_batch(&self) -> usize {
        self.batch_rows.max(1)
    }
}

/// A stream of coerced batches, one per call, in input order.
pub trait BatchSource: Send {
    /// Next batch of coerced rows (never empty); `None` at end of input. A row with a bad
    /// value is skipped and recorded in `report` (or, with `strict`, `Err(Error::Rejected)`).
    fn next_batch(&mut self, report: &mut RejectReport) -> Result<Option<ColumnBatch>>;

    /// Bytes of the input consumed so far and the total, for a progress bar. The first
    /// number is an estimate for Parquet (rows read × average row size).
    fn progress(&self) -> (u64, u64);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileFormat {
    Parquet,
    Csv,
    JsonLines,
}

fn format_of(path: &Path) -> Option<FileFormat> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "parquet" | "pq" => Some(FileFormat::Parquet),
        "csv" => Some(FileFormat::Csv),
        "json" | "jsonl" | "ndjson" => Some(FileFormat::JsonLines),
        _ => None,
    }
}

/// Opens one file by its extension: `.parquet`/`.pq` → Parquet, `.csv` → CSV with a
/// header row, `.json`/`.jsonl`/`.ndjson` → JSON lines. Reads only what it must to check
/// the file against the schema (Parquet footer, CSV header).
pub fn open_file(
    path: &Path,
    schema: &Schema,
    options: &ReadOptions,
) -> Result<Box<dyn BatchSource>> {
    let format = format_of(path).ok_or_else(|| Error::UnknownFormat {
        path: path.to_path_buf(),
    })?;
    Ok(match format {
        FileFormat::Parquet => Box::new(ParquetSource::open(path, schema, options)?),
        FileFormat::Csv => Box::new(CsvSource::open(path, schema, options)?),
        FileFormat::JsonLines => Box::new(JsonLinesSource::open(path, schema, options)?),
    })
}

/// Chains several files into one source, rows in file order. Every file's format and
/// size is checked up front; each file is opened when the previous one is finished.
pub fn open_files(
    paths: &[PathBuf],
    schema: &Schema,
    options: &ReadOptions,
) -> Result<Box<dyn BatchSource>> {
    let mut sizes = Vec::with_capacity(paths.len());
    for path in paths {
        if format_of(path).is_none() {
            return Err(Error::UnknownFormat { path: path.clone() });
        }
        let metadata = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        sizes.push(metadata.len());
    }
    let current = match paths.first() {
        Some(path) => Some(open_file(path, schema, options)?),
        None => None,
    };
    Ok(Box::new(ChainedSource {
        paths: paths.to_vec(),
        sizes,
        schema: schema.clone(),
        options: options.clone(),
        current_index: 0,
        current,
    }))
}

/// A piece of the input that decodes apart from the others, so that several readers can
/// share one load: a CSV or JSON-lines file, or about [`PART_ROWS`] rows of whole row
/// groups of a Parquet file.
pub struct InputPart {
    kind: PartKind,
}

enum PartKind {
    File {
        path: PathBuf,
        schema: Schema,
        options: ReadOptions,
    },
    RowGroups {
        file: Arc<ParquetFile>,
        row_groups: Vec<usize>,
        first_row: u64,
    },
}

/// Rows a Parquet part holds at least (whole row groups; a file's last part may hold
/// fewer): enough to amortize opening a reader, few enough to keep several readers busy.
pub const PART_ROWS: u64 = 100_000;

impl InputPart {
    /// A reader of the part's rows.
    pub fn open(&self) -> Result<Box<dyn BatchSource>> {
        match &self.kind {
            PartKind::File {
                path,
                schema,
                options,
            } => open_file(path, schema, options),
            PartKind::RowGroups {
                file,
                row_groups,
                first_row,
            } => Ok(Box::new(
                file.source(Some((row_groups.clone(), *first_row)))?,
            )),
        }
    }
}

/// The input files as parts, in input order. Parquet files are opened and checked
/// against the schema here (footers only); other files when their part is opened.
pub fn split_files(
    paths: &[PathBuf],
    schema: &Schema,
    options: &ReadOptions,
) -> Result<Vec<InputPart>> {
    let mut parts = Vec::new();
    for path in paths {
        let format = format_of(path).ok_or_else(|| Error::UnknownFormat { path: path.clone() })?;
        if format != FileFormat::Parquet {
            parts.push(InputPart {
                kind: PartKind::File {
                    path: path.clone(),
                    schema: schema.clone(),
                    options: options.clone(),
                },
            });
            continue;
        }
        let file = Arc::new(ParquetFile::open(path, schema, options)?);
        let group_rows = file.row_group_rows();
        let (mut groups, mut part_rows, mut first_row) = (Vec::new(), 0u64, 0u64);
        for (group, rows) in group_rows.iter().enumerate() {
            groups.push(group);
            part_rows += rows;
            if part_rows >= PART_ROWS || group + 1 == group_rows.len() {
                parts.push(InputPart {
                    kind: PartKind::RowGroups {
                        file: Arc::clone(&file),
                        row_groups: std::mem::take(&mut groups),
                        first_row,
                    },
                });
                first_row += part_rows;
                part_rows = 0;
            }
        }
    }
    Ok(parts)
}

struct ChainedSource {
    paths: Vec<PathBuf>,
    sizes: Vec<u64>,
    schema: Schema,
    options: ReadOptions,
    current_index: usize,
    current: Option<Box<dyn BatchSource>>,
}

impl BatchSource for ChainedSource {
    fn next_batch(&mut self, report: &mut RejectReport) -> Result<Option<ColumnBatch>> {
        loop {
            let Some(current) = &mut self.current else {
                return Ok(None);
            };
            if let Some(batch) = current.next_batch(report)? {
                return Ok(Some(batch));
            }
            self.current = None;
            self.current_index += 1;
            if let Some(path) = self.paths.get(self.current_index) {
                self.current = Some(open_file(path, &self.schema, &self.options)?);
            }
        }
    }

    fn progress(&self) -> (u64, u64) {
        let total = self.sizes.iter().sum();
        let finished: u64 = self.sizes.iter().take(self.current_index).sum();
        let in_current = self
            .current
            .as_ref()
            .map_or(0, |source| source.progress().0);
        (finished + in_current, total)
    }
}

/// One coercer per schema field; a field whose format cannot be applied is a schema error.
pub(crate) fn field_coercers(schema: &Schema, path: &Path) -> Result<Vec<FieldCoercer>> {
    schema
        .fields
        .iter()
        .map(|field| {
            FieldCoercer::new(field).map_err(|message| Error::Schema {
                path: path.to_path_buf(),
                message,
            })
        })
        .collect()
}

/// Records a rejected row, or in strict mode turns it into the error.
pub(crate) fn handle_reject(
    strict: bool,
    report: &mut RejectReport,
    rejected: RejectedValue,
) -> Result<()> {
    if strict {
        return Err(Error::Rejected {
            rejected: Box::new(rejected),
        });
    }
    report.record(rejected);
    Ok(())
}

/// Builds a batch a row at a time from coerced values (CSV, JSON lines).
pub(crate) struct RowBatchBuilder {
    batch: ColumnBatch,
}

impl RowBatchBuilder {
    pub(crate) fn new(schema: &Schema) -> RowBatchBuilder {
        RowBatchBuilder {
            batch: ColumnBatch::new_for(schema),
        }
    }

    pub(crate) fn num_rows(&self) -> usize {
        self.batch.num_rows
    }

    /// `row` holds one value per schema field, each produced by that field's coercer.
    pub(crate) fn push_row(&mut self, row: &[Value], path: &Path) -> Result<()> {
        for (value, column) in row.iter().zip(&mut self.batch.columns) {
            column.push(value).map_err(|source| Error::Batch {
                path: path.to_path_buf(),
                source,
            })?;
        }
        self.batch.num_rows += 1;
        Ok(())
    }

    /// The batch, or `None` when no row was pushed.
    pub(crate) fn finish(self) -> Option<ColumnBatch> {
        (self.batch.num_rows > 0).then_some(self.batch)
    }
}

/// Warns once about input columns the schema does not have.
pub(crate) fn warn_ignored_columns(path: &Path, ignored: &[String]) {
    if !ignored.is_empty() {
        tracing::warn!(
            path = %path.display(),
            columns = %ignored.join(", "),
            "input columns not in the schema are ignored"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_format_by_extension() {
        assert_eq!(
            format_of(Path::new("a/b.PARQUET")),
            Some(FileFormat::Parquet)
        );
        assert_eq!(format_of(Path::new("b.pq")), Some(FileFormat::Parquet));
        assert_eq!(format_of(Path::new("b.csv")), Some(FileFormat::Csv));
        assert_eq!(
            format_of(Path::new("b.ndjson")),
            Some(FileFormat::JsonLines)
        );
        assert_eq!(format_of(Path::new("b.jsonl")), Some(FileFormat::JsonLines));
        assert_eq!(format_of(Path::new("b.txt")), None);
        assert_eq!(format_of(Path::new("noext")), None);
    }

    #[test]
    fn test_unknown_format_lists_supported_extensions() {
        let schema = Schema::from_json(r#"{"schemaName": "t"}"#)
            .expect("schema")
            .value;
        let error = open_file(Path::new("x.xlsx"), &schema, &ReadOptions::default())
            .err()
            .expect("unknown format");
        let message = error.to_string();
        assert!(
            message.contains(".parquet") && message.contains(".jsonl"),
            "{message}"
        );
        assert!(matches!(error, Error::UnknownFormat { .. }));
    }
}
