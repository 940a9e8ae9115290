//! JSON lines: one JSON object per line, keys matched to column names exactly. Blank lines
//! are skipped; a line that is not a JSON object (or is longer than [`MAX_LINE_BYTES`]) is
//! rejected as a whole and reading goes on.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use tessera_config::Schema;
use tessera_segment::{ColumnBatch, Value};

use crate::coerce::{FieldCoercer, Reject, reason};
use crate::error::{Error, Result};
use crate::reject::{RejectReport, RejectedValue, truncate_value};
use crate::source::{BatchSource, ReadOptions, RowBatchBuilder, field_coercers, handle_reject};

/// Longest line read; a longer one is rejected without being held in memory.
pub const MAX_LINE_BYTES: usize = 10 * 1024 * 1024;

pub(crate) struct JsonLinesSource {
    path: PathBuf,
    file_label: String,
    schema: Schema,
    options: ReadOptions,
    reader: BufReader<File>,
    coercers: Vec<FieldCoercer>,
    field_names: HashSet<String>,
    /// Keys not in the schema that were already warned about.
    ignored_keys: BTreeSet<String>,
    line: Vec<u8>,
    line_number: u64,
    bytes_read: u64,
    total_bytes: u64,
    finished: bool,
    row_values: Vec<Value>,
}

enum Line {
    End,
    Complete,
    TooLong,
}

impl JsonLinesSource {
    pub(crate) fn open(
        path: &Path,
        schema: &Schema,
        options: &ReadOptions,
    ) -> Result<JsonLinesSource> {
        let io_error = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let total_bytes = file.metadata().map_err(io_error)?.len();
        Ok(JsonLinesSource {
            path: path.to_path_buf(),
            file_label: path.display().to_string(),
            schema: schema.clone(),
            options: options.clone(),
            reader: BufReader::with_capacity(256 * 1024, file),
            coercers: field_coercers(schema, path)?,
            field_names: schema
                .fields
                .iter()
                .map(|field| field.name.clone())
                .collect(),
            ignored_keys: BTreeSet::new(),
            line: Vec::new(),
            line_number: 0,
            bytes_read: 0,
            total_bytes,
            finished: false,
            row_values: vec![Value::Null; schema.fields.len()],
        })
    }

    /// Reads the next line into `self.line` (without its line ending), keeping at most
    /// [`MAX_LINE_BYTES`]: a longer line is consumed and reported as too long.
    fn read_line(&mut self) -> std::io::Result<Line> {
        self.line.clear();
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, found_newline) = match available.iter().position(|byte| *byte == b'\n') {
                Some(end) => (&available[..end], true),
                None => (available, false),
            };
            if !too_long && self.line.len() + chunk.len() <= MAX_LINE_BYTES {
                self.line.extend_from_slice(chunk);
            } else {
                too_long = true;
                self.line.clear();
            }
            let consumed = chunk.len() + usize::from(found_newline);
            self.reader.consume(consumed);
            self.bytes_read += consumed as u64;
            if found_newline {
                break;
            }
        }
        if !saw_any {
            return Ok(Line::End);
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        Ok(if too_long {
            Line::TooLong
        } else {
            Line::Complete
        })
    }

    fn reject_line(&self, text: &str) -> RejectedValue {
        RejectedValue::new(
            &self.file_label,
            self.line_number,
            "*",
            text,
            reason::INVALID_JSON_LINE,
        )
    }

    /// Coerces the object on the current line into `row_values`.
    fn coerce_object(&mut self, object: &Map<String, Json>) -> Option<RejectedValue> {
        for ((coercer, field), slot) in self
            .coercers
            .iter()
            .zip(&self.schema.fields)
            .zip(&mut self.row_values)
        {
            let input = object.get(&field.name);
            match coercer.coerce_json(input) {
                Ok(value) => *slot = value,
                Err(Reject(why)) => {
                    let text = match input {
                        Some(Json::String(text)) => text.clone(),
                        Some(other) => truncate_value(&other.to_string()),
                        None => String::new(),
                    };
                    return Some(RejectedValue::new(
                        &self.file_label,
                        self.line_number,
                        coercer.name(),
                        &text,
                        why,
                    ));
                }
            }
        }
        None
    }

    fn warn_new_ignored_keys(&mut self, object: &Map<String, Json>) {
        let new_keys: Vec<String> = object
            .keys()
            .filter(|key| !self.field_names.contains(*key) && !self.ignored_keys.contains(*key))
            .cloned()
            .collect();
        if !new_keys.is_empty() {
            crate::source::warn_ignored_columns(&self.path, &new_keys);
            self.ignored_keys.extend(new_keys);
        }
    }

    /// Reads one line; returns a rejected row, or pushes the row into `builder`.
    fn read_row(&mut self, builder: &mut RowBatchBuilder) -> Result<Option<RejectedValue>> {
        let line = self.read_line().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        match line {
            Line::End => {
                self.finished = true;
                return Ok(None);
            }
            Line::TooLong => {
                self.line_number += 1;
                let text = format!("line longer than {MAX_LINE_BYTES} bytes");
                return Ok(Some(self.reject_line(&text)));
            }
            Line::Complete => self.line_number += 1,
        }
        if self.line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let object = match serde_json::from_slice::<Json>(&self.line) {
            Ok(Json::Object(object)) => object,
            _ => {
                let text =
                    String::from_utf8_lossy(&self.line[..self.line.len().min(256)]).into_owned();
                return Ok(Some(self.reject_line(&text)));
            }
        };
        self.warn_new_ignored_keys(&object);
        if let Some(rejected) = self.coerce_object(&object) {
            return Ok(Some(rejected));
        }
        builder.push_row(&self.row_values, &self.path)?;
        Ok(None)
    }
}

impl BatchSource for JsonLinesSource {
    fn next_batch(&mut self, report: &mut RejectReport) -> Result<Option<ColumnBatch>> {
        let mut builder = RowBatchBuilder::new(&self.schema);
        while !self.finished && builder.num_rows() < self.options.rows_per_batch() {
            if let Some(rejected) = self.read_row(&mut builder)? {
                handle_reject(self.options.strict, report, rejected)?;
            }
        }
        Ok(builder.finish())
    }

    fn progress(&self) -> (u64, u64) {
        (self.bytes_read, self.total_bytes)
    }
}
