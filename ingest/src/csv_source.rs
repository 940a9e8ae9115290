//! CSV files with a header row. Cells are matched to schema columns by header name
//! (surrounding spaces ignored); the file is streamed record by record.

use std::fs::File;
use std::path::{Path, PathBuf};

use tessera_config::Schema;
use tessera_segment::{ColumnBatch, Value};

use crate::coerce::{FieldCoercer, Reject, reason};
use crate::error::{Error, Result};
use crate::reject::{RejectReport, RejectedValue};
use crate::source::{
    BatchSource, ReadOptions, RowBatchBuilder, field_coercers, handle_reject, warn_ignored_columns,
};

pub(crate) struct CsvSource {
    path: PathBuf,
    file_label: String,
    schema: Schema,
    options: ReadOptions,
    reader: csv::Reader<File>,
    coercers: Vec<FieldCoercer>,
    /// Per schema field, its position in the header; `None` when the file lacks it.
    header_position: Vec<Option<usize>>,
    header_len: usize,
    record: csv::ByteRecord,
    /// Data rows read so far (the header not counted).
    rows_read: u64,
    total_bytes: u64,
    finished: bool,
    row_values: Vec<Value>,
}

impl CsvSource {
    pub(crate) fn open(path: &Path, schema: &Schema, options: &ReadOptions) -> Result<CsvSource> {
        let io_error = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let total_bytes = file.metadata().map_err(io_error)?.len();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(file);
        let headers: Vec<String> = reader
            .byte_headers()
            .map_err(|source| Error::Csv {
                path: path.to_path_buf(),
                source,
            })?
            .iter()
            .map(|name| String::from_utf8_lossy(name).trim().to_string())
            .collect();
        let header_position = schema
            .fields
            .iter()
            .map(|field| headers.iter().position(|name| *name == field.name))
            .collect();
        let ignored: Vec<String> = headers
            .iter()
            .filter(|name| schema.field(name).is_none())
            .cloned()
            .collect();
        warn_ignored_columns(path, &ignored);
        Ok(CsvSource {
            path: path.to_path_buf(),
            file_label: path.display().to_string(),
            schema: schema.clone(),
            options: options.clone(),
            reader,
            coercers: field_coercers(schema, path)?,
            header_position,
            header_len: headers.len(),
            record: csv::ByteRecord::new(),
            rows_read: 0,
            total_bytes,
            finished: false,
            row_values: vec![Value::Null; schema.fields.len()],
        })
    }

    /// Coerces the current record into `row_values`; the first bad cell rejects the row.
    fn coerce_record(&mut self) -> Option<RejectedValue> {
        let row = self.rows_read;
        if self.record.len() != self.header_len {
            let text = self
                .record
                .iter()
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(",");
            return Some(RejectedValue::new(
                &self.file_label,
                row,
                "*",
                &text,
                reason::WRONG_FIELD_COUNT,
            ));
        }
        for ((coercer, position), slot) in self
            .coercers
            .iter()
            .zip(&self.header_position)
            .zip(&mut self.row_values)
        {
            let Some(cell) = position.and_then(|position| self.record.get(position)) else {
                *slot = coercer.null_value().clone();
                continue;
            };
            let coerced = match std::str::from_utf8(cell) {
                Ok(text) => coercer.coerce_text(text),
                Err(_) => Err(Reject(reason::NOT_UTF8)),
            };
            match coerced {
                Ok(value) => *slot = value,
                Err(Reject(why)) => {
                    return Some(RejectedValue::new(
                        &self.file_label,
                        row,
                        coercer.name(),
                        &String::from_utf8_lossy(cell),
                        why,
                    ));
                }
            }
        }
        None
    }
}

impl BatchSource for CsvSource {
    fn next_batch(&mut self, report: &mut RejectReport) -> Result<Option<ColumnBatch>> {
        let mut builder = RowBatchBuilder::new(&self.schema);
        while !self.finished && builder.num_rows() < self.options.rows_per_batch() {
            let has_record = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|source| Error::Csv {
                    path: self.path.clone(),
                    source,
                })?;
            if !has_record {
                self.finished = true;
                break;
            }
            self.rows_read += 1;
            match self.coerce_record() {
                Some(rejected) => handle_reject(self.options.strict, report, rejected)?,
                None => builder.push_row(&self.row_values, &self.path)?,
            }
        }
        Ok(builder.finish())
    }

    fn progress(&self) -> (u64, u64) {
        (self.reader.position().byte(), self.total_bytes)
    }
}
