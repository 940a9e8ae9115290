//! Consuming (mutable) segments: the in-memory tier that makes a row queryable the
//! moment it is appended (DESIGN §2).
//!
//! A [`MutableSegment`] holds append-only columns — unsorted dictionaries whose ids
//! never change, dictionary-id or raw forward values, null bitmaps, inverted indexes
//! updated per row, text indexes built in chunks — behind one `RwLock`. Appends take
//! the write lock for a whole batch, so a reader never sees part of one. A query reads
//! through a [`ConsumingSnapshot`]: the row count and statistics captured at one
//! instant; rows below that count never change (columns only grow), so the snapshot
//! stays consistent while the writer goes on appending, and every read clips indexes
//! to the snapshot's rows.
//!
//! Invariant: every column holds exactly `rows` cells after each append.

mod column;
mod dictionary;
mod snapshot;
mod text;

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tessera_config::{Schema, TableConfig};
use tessera_segment::batch::check_value_type;
use tessera_segment::{ColumnBatch, ColumnMetadata, Value};

use crate::error::{Error, Result};
use column::MutableColumn;
use dictionary::as_i64;
pub use snapshot::ConsumingSnapshot;

/// Where a consuming segment sits in its table's stream.
#[derive(Debug, Clone)]
pub struct SegmentIdentity {
    pub name: String,
    pub table: String,
    pub partition: u32,
    /// Stream offset (or write-ahead-log position) of the segment's first row.
    pub start_offset: u64,
    pub created_ms: i64,
}

pub(crate) struct State {
    pub(crate) columns: Vec<MutableColumn>,
    pub(crate) rows: u32,
    /// Offset just past the last appended row.
    pub(crate) end_offset: u64,
    pub(crate) min_time: Option<i64>,
    pub(crate) max_time: Option<i64>,
}

/// A consuming segment.
pub struct MutableSegment {
    identity: SegmentIdentity,
    schema: Schema,
    time_column: Option<String>,
    time_index: Option<usize>,
    state: RwLock<State>,
}

impl std::fmt::Debug for MutableSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MutableSegment")
            .field("name", &self.identity.name)
            .field("rows", &self.num_rows())
            .finish_non_exhaustive()
    }
}

impl MutableSegment {
    pub fn new(identity: SegmentIdentity, schema: &Schema, table: &TableConfig) -> MutableSegment {
        let columns = schema
            .fields
            .iter()
            .map(|field| MutableColumn::new(field, table.column_index_config(&field.name)))
            .collect();
        let time_column = table.time_column.clone();
        let time_index = time_column
            .as_ref()
            .and_then(|name| schema.fields.iter().position(|field| &field.name == name));
        MutableSegment {
            state: RwLock::new(State {
                columns,
                rows: 0,
                end_offset: identity.start_offset,
                min_time: None,
                max_time: None,
            }),
            identity,
            schema: schema.clone(),
            time_column,
            time_index,
        }
    }

    pub fn identity(&self) -> &SegmentIdentity {
        &self.identity
    }

    pub fn name(&self) -> &str {
        &self.identity.name
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn num_rows(&self) -> u32 {
        self.read().rows
    }

    /// Offset just past the last appended row.
    pub fn end_offset(&self) -> u64 {
        self.read().end_offset
    }

    /// Append coerced rows (one value per schema field, schema order) that end the
    /// stream at `end_offset`; readers see all of them or none. A row whose values do
    /// not fit the schema is an error and nothing of the batch is appended.
    pub fn append_rows(&self, rows: &[Vec<Value>], end_offset: u64) -> Result<()> {
        for row in rows {
            if row.len() != self.schema.fields.len() {
                return Err(Error::Invalid(format!(
                    "row has {} values but the schema has {} columns",
                    row.len(),
                    self.schema.fields.len()
                )));
            }
            for (field, value) in self.schema.fields.iter().zip(row) {
                check_value_type(field, value).map_err(|source| Error::Segment {
                    context: format!("append to consuming segment=`{}`", self.identity.name),
                    source,
                })?;
            }
        }
        let mut state = self.write();
        if state.rows == 0 {
            for (index, column) in state.columns.iter_mut().enumerate() {
                column.choose_storage(rows, index);
            }
        }
        let first = u64::from(state.rows);
        if first + rows.len() as u64 > u64::from(u32::MAX) {
            return Err(Error::Invalid(format!(
                "consuming segment would pass 4G rows segment=`{}`",
                self.identity.name
            )));
        }
        for (offset, row) in rows.iter().enumerate() {
            let doc = (first + offset as u64) as u32;
            for (column, value) in state.columns.iter_mut().zip(row) {
                column.append(doc, value)?;
            }
            if let Some(time) = self.time_index.and_then(|index| as_i64(&row[index])) {
                state.min_time = Some(state.min_time.map_or(time, |t| t.min(time)));
                state.max_time = Some(state.max_time.map_or(time, |t| t.max(time)));
            }
        }
        state.rows += rows.len() as u32;
        state.end_offset = state.end_offset.max(end_offset);
        Ok(())
    }

    /// Approximate heap bytes held by the segment's columns and indexes.
    pub fn memory_bytes(&self) -> usize {
        self.read()
            .columns
            .iter()
            .map(MutableColumn::memory_bytes)
            .sum()
    }

    /// A consistent read view of the rows appended so far.
    pub fn snapshot(self: &Arc<Self>) -> Arc<ConsumingSnapshot> {
        Arc::new(ConsumingSnapshot::capture(self.clone()))
    }

    /// Every row, in columnar form, in batches of at most `batch_rows` rows: the input
    /// of the segment builder at seal time.
    pub fn to_batches(&self, batch_rows: usize) -> Result<Vec<ColumnBatch>> {
        let state = self.read();
        let total = state.rows as usize;
        let mut batches = Vec::new();
        let mut start = 0usize;
        while start < total {
            let end = (start + batch_rows.max(1)).min(total);
            let mut batch = ColumnBatch::new_for(&self.schema);
            for (values, column) in batch.columns.iter_mut().zip(&state.columns) {
                for doc in start..end {
                    let doc = doc as u32;
                    let value = if column.nulls.contains(doc) {
                        Value::Null
                    } else {
                        column.value(doc)
                    };
                    values.push(&value).map_err(|source| Error::Segment {
                        context: format!("seal segment=`{}`", self.identity.name),
                        source,
                    })?;
                }
            }
            batch.num_rows = end - start;
            batches.push(batch);
            start = end;
        }
        Ok(batches)
    }

    pub(crate) fn time_column(&self) -> Option<&String> {
        self.time_column.as_ref()
    }

    pub(crate) fn column_metadata(&self, state: &State) -> Vec<ColumnMetadata> {
        snapshot::column_metadata(state)
    }
}

#[cfg(test)]
mod tests;
