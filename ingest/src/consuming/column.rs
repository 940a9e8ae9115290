//! One column of a consuming segment: forward values, dictionary, null bitmap,
//! inverted index and statistics, all append-only.

use std::cmp::Ordering;
use std::sync::Mutex;

use roaring::RoaringBitmap;
use tessera_config::{ColumnIndexConfig, DataType, FieldSpec};
use tessera_segment::{ColumnData, PhysicalType, Value};

use super::dictionary::{MutableDictionary, as_f64, as_i64, compare};
use super::text::TextChunks;
use crate::error::{Error, Result};

/// Forward storage: dictionary ids, or raw values for `noDictionaryColumns`.
#[derive(Debug)]
pub(crate) enum Forward {
    Ids(Vec<u32>),
    /// `ends[row]` is one past the row's last element in `ids`.
    MultiIds {
        ends: Vec<u32>,
        ids: Vec<u32>,
    },
    Raw(ColumnData),
}

#[derive(Debug)]
pub(crate) struct MutableColumn {
    pub(crate) field: FieldSpec,
    pub(crate) dictionary: Option<MutableDictionary>,
    pub(crate) forward: Forward,
    pub(crate) nulls: RoaringBitmap,
    /// Docs per dictionary id (`invertedIndexColumns`).
    pub(crate) inverted: Option<Vec<RoaringBitmap>>,
    /// Text index, built in chunks (see [`TextChunks`]).
    pub(crate) text: Option<Mutex<TextChunks>>,
    pub(crate) min: Option<Value>,
    pub(crate) max: Option<Value>,
    pub(crate) total_elements: u64,
    pub(crate) max_elements: u32,
}

impl MutableColumn {
    pub(crate) fn new(field: &FieldSpec, config: ColumnIndexConfig) -> MutableColumn {
        // Multi-value columns are always dictionary-encoded in a consuming segment.
        let dictionary = config.dictionary || !field.single_value;
        let forward = if !field.single_value {
            Forward::MultiIds {
                ends: Vec::new(),
                ids: Vec::new(),
            }
        } else if dictionary {
            Forward::Ids(Vec::new())
        } else {
            Forward::Raw(ColumnData::new_scalar(PhysicalType::of(field.data_type)))
        };
        let texty = matches!(field.data_type, DataType::String | DataType::Json);
        MutableColumn {
            field: field.clone(),
            dictionary: dictionary.then(|| MutableDictionary::new(field.data_type)),
            forward,
            nulls: RoaringBitmap::new(),
            inverted: (dictionary && config.inverted).then(Vec::new),
            text: (config.text && texty && field.single_value)
                .then(|| Mutex::new(TextChunks::default())),
            min: None,
            max: None,
            total_elements: 0,
            max_elements: 0,
        }
    }

    /// A fixed-width column whose first batch is mostly distinct values (ids,
    /// timestamps, measurements) is stored raw: a dictionary would cost a hash probe and
    /// ~30 bytes per row for nothing. Decided once, before the segment's first row is
    /// visible. Strings keep their dictionary (GROUP BY and COUNT(DISTINCT) on ids beat
    /// hashing strings), as do columns with an inverted index and multi-value columns.
    pub(crate) fn choose_storage(&mut self, first_batch: &[Vec<Value>], index: usize) {
        const MIN_SAMPLE: usize = 1000;
        if first_batch.len() < MIN_SAMPLE
            || self.inverted.is_some()
            || !self.field.single_value
            || self.dictionary.is_none()
            || matches!(
                self.field.data_type,
                DataType::String | DataType::Json | DataType::Bytes
            )
        {
            return;
        }
        let mut probe = MutableDictionary::new(self.field.data_type);
        for row in first_batch {
            if !row[index].is_null() {
                probe.id_of(&row[index]);
            }
        }
        if probe.len() as usize * 2 > first_batch.len() {
            self.dictionary = None;
            self.forward = Forward::Raw(ColumnData::new_scalar(PhysicalType::of(
                self.field.data_type,
            )));
        }
    }

    /// The index names a reader reports, as the sealed segment names them.
    pub(crate) fn index_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.inverted.is_some() {
            names.push("inverted".to_string());
        }
        if self.text.is_some() {
            names.push("text".to_string());
        }
        names
    }

    /// Append the cell of doc `doc` (the next doc). `value` is coerced to the field.
    pub(crate) fn append(&mut self, doc: u32, value: &Value) -> Result<()> {
        if value.is_null() {
            self.nulls.insert(doc);
        }
        match &mut self.forward {
            Forward::Ids(ids) => {
                let id = match (&mut self.dictionary, value) {
                    (Some(dictionary), scalar) if !scalar.is_null() => {
                        let id = dictionary.id_of(scalar);
                        if let Some(inverted) = &mut self.inverted {
                            if inverted.len() <= id as usize {
                                inverted.resize_with(id as usize + 1, RoaringBitmap::new);
                            }
                            inverted[id as usize].insert(doc);
                        }
                        id
                    }
                    _ => 0,
                };
                ids.push(id);
            }
            Forward::MultiIds { ends, ids } => {
                let items: &[Value] = match value {
                    Value::Array(items) => items,
                    Value::Null => &[],
                    scalar => std::slice::from_ref(scalar),
                };
                if let Some(dictionary) = &mut self.dictionary {
                    for item in items {
                        let id = dictionary.id_of(item);
                        ids.push(id);
                        if let Some(inverted) = &mut self.inverted {
                            if inverted.len() <= id as usize {
                                inverted.resize_with(id as usize + 1, RoaringBitmap::new);
                            }
                            inverted[id as usize].insert(doc);
                        }
                    }
                }
                let end = u32::try_from(ids.len()).map_err(|_| {
                    Error::Invalid(format!(
                        "consuming segment holds more than 4G elements column=`{}`",
                        self.field.name
                    ))
                })?;
                ends.push(end);
                self.total_elements += items.len() as u64;
                self.max_elements = self.max_elements.max(items.len() as u32);
            }
            Forward::Raw(data) => data.push_value(value).map_err(|error| {
                Error::Invalid(format!("column=`{}`: {error}", self.field.name))
            })?,
        }
        match value {
            Value::Null => {}
            Value::Array(items) => items.iter().for_each(|item| self.update_min_max(item)),
            scalar => self.update_min_max(scalar),
        }
        Ok(())
    }

    fn update_min_max(&mut self, value: &Value) {
        if self
            .min
            .as_ref()
            .is_none_or(|min| compare(value, min) == Some(Ordering::Less))
        {
            self.min = Some(value.clone());
        }
        if self
            .max
            .as_ref()
            .is_none_or(|max| compare(value, max) == Some(Ordering::Greater))
        {
            self.max = Some(value.clone());
        }
    }

    /// The value of single-value doc `doc` (no null check).
    pub(crate) fn value(&self, doc: u32) -> Value {
        match &self.forward {
            Forward::Ids(ids) => match &self.dictionary {
                Some(dictionary) => dictionary.value(ids[doc as usize]),
                None => Value::Null,
            },
            Forward::MultiIds { ends, ids } => {
                let (start, end) = self.mv_range(ends, doc);
                let dictionary = self.dictionary.as_ref();
                Value::Array(
                    ids[start..end]
                        .iter()
                        .filter_map(|id| dictionary.map(|d| d.value(*id)))
                        .collect(),
                )
            }
            Forward::Raw(data) => raw_value(self.field.data_type, data, doc as usize),
        }
    }

    pub(crate) fn mv_range(&self, ends: &[u32], doc: u32) -> (usize, usize) {
        let end = ends[doc as usize] as usize;
        let start = if doc == 0 {
            0
        } else {
            ends[doc as usize - 1] as usize
        };
        (start, end)
    }

    pub(crate) fn long(&self, doc: u32) -> i64 {
        match (&self.forward, &self.dictionary) {
            (Forward::Ids(ids), Some(dictionary)) => dictionary.long(ids[doc as usize]),
            (Forward::Raw(ColumnData::I32(values)), _) => i64::from(values[doc as usize]),
            (Forward::Raw(ColumnData::I64(values)), _) => values[doc as usize],
            _ => as_i64(&self.value(doc)).unwrap_or(0),
        }
    }

    pub(crate) fn double(&self, doc: u32) -> f64 {
        match (&self.forward, &self.dictionary) {
            (Forward::Ids(ids), Some(dictionary)) => dictionary.double(ids[doc as usize]),
            (Forward::Raw(ColumnData::I32(values)), _) => f64::from(values[doc as usize]),
            (Forward::Raw(ColumnData::I64(values)), _) => values[doc as usize] as f64,
            (Forward::Raw(ColumnData::F32(values)), _) => f64::from(values[doc as usize]),
            (Forward::Raw(ColumnData::F64(values)), _) => values[doc as usize],
            _ => as_f64(&self.value(doc)).unwrap_or(0.0),
        }
    }

    /// Heap bytes held by the column, approximately.
    pub(crate) fn memory_bytes(&self) -> usize {
        let forward = match &self.forward {
            Forward::Ids(ids) => ids.capacity() * 4,
            Forward::MultiIds { ends, ids } => (ends.capacity() + ids.capacity()) * 4,
            Forward::Raw(data) => data_bytes(data),
        };
        // Estimated in O(1) (queries snapshot this): a roaring array container holds a
        // posting in 2 bytes, plus a bitmap's own overhead.
        let postings = match &self.forward {
            Forward::Ids(ids) | Forward::MultiIds { ids, .. } => ids.len(),
            Forward::Raw(_) => 0,
        };
        let inverted = self
            .inverted
            .as_ref()
            .map_or(0, |bitmaps| 2 * postings + 64 * bitmaps.len());
        forward
            + inverted
            + self.nulls.serialized_size()
            + self
                .dictionary
                .as_ref()
                .map_or(0, MutableDictionary::memory_bytes)
            + self.text.as_ref().map_or(0, |text| {
                text.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .memory_bytes()
            })
    }
}

fn data_bytes(data: &ColumnData) -> usize {
    match data {
        ColumnData::I32(v) => v.capacity() * 4,
        ColumnData::I64(v) => v.capacity() * 8,
        ColumnData::F32(v) => v.capacity() * 4,
        ColumnData::F64(v) => v.capacity() * 8,
        ColumnData::Bytes(v) => v.data.capacity() + v.offsets.capacity() * 4,
        ColumnData::Multi { offsets, values } => offsets.capacity() * 4 + data_bytes(values),
    }
}

/// The typed value of row `row` of raw single-value data.
pub(crate) fn raw_value(data_type: DataType, data: &ColumnData, row: usize) -> Value {
    match (data_type, data) {
        (DataType::Boolean, ColumnData::I32(v)) => Value::Boolean(v[row] != 0),
        (_, ColumnData::I32(v)) => Value::Int(v[row]),
        (DataType::Timestamp, ColumnData::I64(v)) => Value::Timestamp(v[row]),
        (_, ColumnData::I64(v)) => Value::Long(v[row]),
        (_, ColumnData::F32(v)) => Value::Float(v[row]),
        (_, ColumnData::F64(v)) => Value::Double(v[row]),
        (DataType::Bytes, ColumnData::Bytes(v)) => Value::Bytes(v.get(row).to_vec()),
        (DataType::Json, ColumnData::Bytes(v)) => {
            Value::Json(String::from_utf8_lossy(v.get(row)).into_owned())
        }
        (_, ColumnData::Bytes(v)) => {
            Value::String(String::from_utf8_lossy(v.get(row)).into_owned())
        }
        (_, ColumnData::Multi { .. }) => Value::Null,
    }
}
