//! [`ConsumingSnapshot`]: a consuming segment as the query engine reads it — the
//! [`SegmentReader`] of the rows visible at the instant the snapshot was taken.

use std::collections::HashMap;
use std::ops::{Bound, Range};
use std::sync::Arc;

use roaring::RoaringBitmap;
use tessera_segment::metadata::Encoding;
use tessera_segment::range_index::RangeMatch;
use tessera_segment::{
    ColumnMetadata, ColumnReader, Error as SegmentError, IdSet, SegmentMetadata, SegmentReader,
    Value,
};

use super::MutableSegment;
use super::State;
use super::column::{Forward, MutableColumn};
use super::text::TextChunks;

type SegmentResult<T> = tessera_segment::Result<T>;

/// The rows of a consuming segment visible at one instant.
pub struct ConsumingSnapshot {
    metadata: SegmentMetadata,
    columns: Vec<SnapshotColumn>,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for ConsumingSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumingSnapshot")
            .field("name", &self.metadata.name)
            .field("rows", &self.metadata.row_count)
            .finish_non_exhaustive()
    }
}

struct SnapshotColumn {
    segment: Arc<MutableSegment>,
    index: usize,
    metadata: ColumnMetadata,
    visible: u32,
    cardinality: Option<u32>,
    has_nulls: bool,
}

pub(crate) fn column_metadata(state: &State) -> Vec<ColumnMetadata> {
    state
        .columns
        .iter()
        .map(|column| {
            let null_count = column.nulls.len();
            let cardinality = column.dictionary.as_ref().map(|d| d.len());
            let json = |value: &Option<Value>| {
                value
                    .as_ref()
                    .map_or(serde_json::Value::Null, Value::to_json)
            };
            ColumnMetadata {
                name: column.field.name.clone(),
                data_type: column.field.data_type,
                single_value: column.field.single_value,
                encoding: if cardinality.is_some() {
                    Encoding::Dictionary
                } else {
                    Encoding::Raw
                },
                cardinality: cardinality.map_or(u64::from(state.rows) - null_count, u64::from),
                cardinality_is_estimate: cardinality.is_none(),
                bits_per_id: 32,
                min: json(&column.min),
                max: json(&column.max),
                null_count,
                total_elements: column.total_elements,
                max_elements: column.max_elements,
                is_sorted: false,
                chunk_rows: 0,
                compression: None,
                indexes: column.index_names(),
                bytes: column.memory_bytes() as u64,
                index_bytes: 0,
            }
        })
        .collect()
}

impl ConsumingSnapshot {
    pub(crate) fn capture(segment: Arc<MutableSegment>) -> ConsumingSnapshot {
        let state = segment.read();
        let identity = segment.identity();
        let columns_metadata = segment.column_metadata(&state);
        let metadata = SegmentMetadata {
            name: identity.name.clone(),
            table_name: identity.table.clone(),
            format_version: 0,
            row_count: state.rows,
            creation_time_ms: identity.created_ms,
            time_column: segment.time_column().cloned(),
            min_time: state.min_time,
            max_time: state.max_time,
            sorted_column: None,
            stream_partition: Some(identity.partition),
            start_offset: Some(identity.start_offset),
            end_offset: None,
            columns: columns_metadata.clone(),
            sections: Vec::new(),
        };
        let columns: Vec<SnapshotColumn> = columns_metadata
            .into_iter()
            .zip(&state.columns)
            .enumerate()
            .map(|(index, (metadata, column))| SnapshotColumn {
                segment: segment.clone(),
                index,
                has_nulls: metadata.null_count > 0,
                metadata,
                visible: state.rows,
                cardinality: column.dictionary.as_ref().map(|d| d.len()),
            })
            .collect();
        drop(state);
        let by_name = columns
            .iter()
            .enumerate()
            .map(|(index, column)| (column.metadata.name.clone(), index))
            .collect();
        ConsumingSnapshot {
            metadata,
            columns,
            by_name,
        }
    }
}

impl SegmentReader for ConsumingSnapshot {
    fn name(&self) -> &str {
        &self.metadata.name
    }

    fn num_docs(&self) -> u32 {
        self.metadata.row_count
    }

    fn metadata(&self) -> &SegmentMetadata {
        &self.metadata
    }

    fn column(&self, name: &str) -> SegmentResult<&dyn ColumnReader> {
        self.by_name
            .get(name)
            .map(|index| &self.columns[*index] as &dyn ColumnReader)
            .ok_or_else(|| SegmentError::NoSuchColumn(name.to_string()))
    }
}

fn clip(bitmap: &RoaringBitmap, visible: u32) -> RoaringBitmap {
    let mut clipped = bitmap.clone();
    clipped.remove_range(visible..);
    clipped
}

fn out_of_range(doc: u32) -> SegmentError {
    SegmentError::InvalidInput(format!("doc id out of range doc=`{doc}`"))
}

impl SnapshotColumn {
    /// Run `read` on this column under the segment's read lock.
    fn with<T>(&self, read: impl FnOnce(&MutableColumn) -> T) -> T {
        let state = self.segment.read();
        read(&state.columns[self.index])
    }

    /// Push `read(column, doc)` for each doc, `null` for NULL docs, under one lock.
    fn read_each<T: Clone>(
        &self,
        docs: &[u32],
        out: &mut Vec<T>,
        null: T,
        read: impl Fn(&MutableColumn, u32) -> T,
    ) -> SegmentResult<()> {
        self.check(docs)?;
        self.with(|column| {
            out.reserve(docs.len());
            for doc in docs {
                out.push(if self.has_nulls && column.nulls.contains(*doc) {
                    null.clone()
                } else {
                    read(column, *doc)
                });
            }
        });
        Ok(())
    }

    /// Run `search` on the column's text chunks under the segment's read lock
    /// (`Ok(None)`: the column has no text index).
    fn with_text(
        &self,
        search: impl FnOnce(
            &mut TextChunks,
            u32,
            &dyn Fn(u32) -> Option<String>,
        ) -> crate::Result<Option<RoaringBitmap>>,
    ) -> SegmentResult<Option<RoaringBitmap>> {
        self.with(|column| {
            let Some(text) = &column.text else {
                return Ok(None);
            };
            let mut chunks = text
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            search(&mut chunks, self.visible, &Self::text_of(column)).map_err(ingest_to_segment)
        })
    }

    fn check(&self, docs: &[u32]) -> SegmentResult<()> {
        match docs.last() {
            Some(last) if *last >= self.visible => Err(out_of_range(*last)),
            _ => Ok(()),
        }
    }

    fn text_of(column: &MutableColumn) -> impl Fn(u32) -> Option<String> + '_ {
        move |doc| match column.nulls.contains(doc) {
            true => None,
            false => match column.value(doc) {
                Value::String(text) | Value::Json(text) => Some(text),
                _ => None,
            },
        }
    }
}

fn ingest_to_segment(error: crate::Error) -> SegmentError {
    SegmentError::InvalidInput(error.to_string())
}

impl ColumnReader for SnapshotColumn {
    fn metadata(&self) -> &ColumnMetadata {
        &self.metadata
    }

    fn cardinality(&self) -> Option<u32> {
        self.cardinality
    }

    fn dictionary_value(&self, id: u32) -> Value {
        self.with(|column| {
            column
                .dictionary
                .as_ref()
                .map_or(Value::Null, |dictionary| dictionary.value(id))
        })
    }

    fn lookup(&self, value: &Value) -> Option<u32> {
        let visible = self.cardinality?;
        self.with(|column| {
            column
                .dictionary
                .as_ref()
                .and_then(|dictionary| dictionary.lookup(value, column.field.data_type, visible))
        })
    }

    fn ids_in_range(&self, low: Bound<&Value>, high: Bound<&Value>) -> IdSet {
        let Some(visible) = self.cardinality else {
            return IdSet::Ids(Vec::new());
        };
        IdSet::Ids(self.with(|column| {
            column
                .dictionary
                .as_ref()
                .map(|dictionary| dictionary.ids_in_range(low, high, visible))
                .unwrap_or_default()
        }))
    }

    fn null_bitmap(&self) -> SegmentResult<Option<RoaringBitmap>> {
        if !self.has_nulls {
            return Ok(None);
        }
        Ok(Some(self.with(|column| clip(&column.nulls, self.visible))))
    }

    fn inverted_bitmap(&self, id: u32) -> SegmentResult<Option<RoaringBitmap>> {
        Ok(self.with(|column| {
            column.inverted.as_ref().map(|inverted| {
                inverted
                    .get(id as usize)
                    .map(|bitmap| clip(bitmap, self.visible))
                    .unwrap_or_default()
            })
        }))
    }

    fn sorted_doc_range(&self, _ids: Range<u32>) -> Option<Range<u32>> {
        None
    }

    fn range_lookup(
        &self,
        _low: Bound<&Value>,
        _high: Bound<&Value>,
    ) -> SegmentResult<Option<RangeMatch>> {
        Ok(None)
    }

    fn bloom_might_contain(&self, _value: &Value) -> Option<bool> {
        None
    }

    fn text_search(&self, query: &str) -> SegmentResult<Option<RoaringBitmap>> {
        self.with_text(|chunks, visible, text_of| chunks.search(query, visible, text_of).map(Some))
    }

    fn text_contains(&self, needle: &str) -> SegmentResult<Option<RoaringBitmap>> {
        self.with_text(|chunks, visible, text_of| chunks.contains(needle, visible, text_of))
    }

    fn text_starts_with(&self, prefix: &str) -> SegmentResult<Option<RoaringBitmap>> {
        self.with_text(|chunks, visible, text_of| chunks.starts_with(prefix, visible, text_of))
    }

    fn text_ends_with(&self, suffix: &str) -> SegmentResult<Option<RoaringBitmap>> {
        self.with_text(|chunks, visible, text_of| chunks.ends_with(suffix, visible, text_of))
    }

    fn read_dict_ids(&self, docs: &[u32], out: &mut Vec<u32>) -> SegmentResult<()> {
        self.check(docs)?;
        self.with(|column| match &column.forward {
            Forward::Ids(ids) => {
                out.extend(docs.iter().map(|doc| ids[*doc as usize]));
                Ok(())
            }
            _ => Err(SegmentError::InvalidInput(format!(
                "column has no single-value dictionary ids column=`{}`",
                self.metadata.name
            ))),
        })
    }

    fn read_mv_dict_ids(&self, doc: u32, out: &mut Vec<u32>) -> SegmentResult<()> {
        self.check(&[doc])?;
        self.with(|column| match &column.forward {
            Forward::MultiIds { ends, ids } => {
                let (start, end) = column.mv_range(ends, doc);
                out.extend_from_slice(&ids[start..end]);
                Ok(())
            }
            _ => Err(SegmentError::InvalidInput(format!(
                "column is not multi-value column=`{}`",
                self.metadata.name
            ))),
        })
    }

    fn read_values(&self, docs: &[u32], out: &mut Vec<Value>) -> SegmentResult<()> {
        self.read_each(docs, out, Value::Null, MutableColumn::value)
    }

    fn read_f64(&self, docs: &[u32], out: &mut Vec<f64>) -> SegmentResult<()> {
        self.read_each(docs, out, 0.0, MutableColumn::double)
    }

    fn read_i64(&self, docs: &[u32], out: &mut Vec<i64>) -> SegmentResult<()> {
        self.read_each(docs, out, 0, MutableColumn::long)
    }
}
