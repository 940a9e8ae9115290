//! Accumulates one column's values during a build and writes its sections at the end.
//!
//! Dictionary columns keep provisional ids ([`IdVec`]) and the distinct values;
//! raw columns compress their values into chunks as they arrive (in input order) and
//! are reordered window by window when the segment is sorted (see [`crate::raw_reorder`]).

use roaring::RoaringBitmap;
use tantivy::directory::OwnedBytes;
use tessera_config::{ColumnIndexConfig, DataType, FieldSpec};

use crate::batch::{ColumnData, ColumnValues};
use crate::bitpack::{BitPacker, bits_for_cardinality};
use crate::bloom::{BloomBuilder, canonical_bytes};
use crate::dictionary::{Dictionary, f32_bits, f64_bits, i32_bits, i64_bits};
use crate::dictionary_builder::DictionaryBuilder;
use crate::format::{SectionKind, SegmentFileWriter};
use crate::hll::{HyperLogLog, hash_bytes};
use crate::id_vec::IdVec;
use crate::inverted::{Postings, encode_bitmap, encode_sorted, write_inverted};
use crate::metadata::{ColumnMetadata, Encoding};
use crate::raw_forward::{
    ChunkBuffer, ChunkUse, CompressedChunk, TEMPORARY_CHUNK_ROWS, chunk_rows_for,
    chunk_section_parts, push_input_chunk,
};
use crate::raw_reorder::{RawSink, keep_in_order, reorder_chunks, replay_chunks};
use crate::text_index::TextIndexBuilder;
use crate::value::PhysicalType;
use crate::{Error, Result, range_index};

/// Where output doc `doc` comes from in input order, when the segment is sorted.
#[derive(Clone, Copy)]
pub struct RowOrder<'a> {
    /// `permutation[output_doc] = input_row`; `None` when rows keep input order.
    pub permutation: Option<&'a [u32]>,
    /// `inverse[input_row] = output_doc`.
    pub inverse: Option<&'a [u32]>,
}

impl RowOrder<'_> {
    #[inline]
    pub fn input_row(&self, doc: u32) -> u32 {
        self.permutation.map_or(doc, |p| p[doc as usize])
    }

    pub fn output_bitmap(&self, input_rows: &RoaringBitmap) -> RoaringBitmap {
        match self.inverse {
            None => input_rows.clone(),
            Some(inverse) => input_rows.iter().map(|row| inverse[row as usize]).collect(),
        }
    }
}

enum Storage {
    Dictionary {
        dictionary: DictionaryBuilder,
        ids: IdVec,
        /// Multi-value: cumulative element count after each row.
        mv_ends: Option<Vec<u32>>,
        /// Filled by [`ColumnBuilder::seal_dictionary`].
        sealed: Option<(Vec<u8>, Vec<u32>)>,
    },
    Raw {
        /// Rows per chunk the segment stores (chunks compressed as rows arrive hold
        /// [`TEMPORARY_CHUNK_ROWS`] when they are temporary).
        chunk_rows: u32,
        buffer: ChunkBuffer,
        chunks: Vec<CompressedChunk>,
        /// Uncompressed bytes of `chunks`.
        held_bytes: u64,
        hll: HyperLogLog,
        min: Option<Vec<u8>>,
        max: Option<Vec<u8>>,
    },
}

pub struct ColumnBuilder {
    field: FieldSpec,
    /// Raw chunks compressed as rows arrive are temporary when the rows will be
    /// reordered (fast LZ4), kept otherwise.
    input_chunk_use: ChunkUse,
    config: ColumnIndexConfig,
    physical: PhysicalType,
    rows: u32,
    nulls: RoaringBitmap,
    storage: Storage,
}

/// Order key of a raw value's bytes (fixed-width, little-endian) for min/max and ranges.
pub fn raw_order_key(physical: PhysicalType, bytes: &[u8]) -> u64 {
    let mut array = [0u8; 8];
    array[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
    let bits = u64::from_le_bytes(array);
    match physical {
        PhysicalType::I32 => range_index::order_key_i64(i64::from(bits as u32 as i32)),
        PhysicalType::I64 => range_index::order_key_i64(bits as i64),
        PhysicalType::F32 => range_index::order_key_f64(f64::from(f32::from_bits(bits as u32))),
        PhysicalType::F64 => range_index::order_key_f64(f64::from_bits(bits)),
        PhysicalType::Bytes => 0,
    }
}

impl ColumnBuilder {
    /// `rows_will_be_sorted`: the table has a sort column, so raw chunks written as rows
    /// arrive are rewritten in sorted order at the end.
    pub fn new(
        field: &FieldSpec,
        config: ColumnIndexConfig,
        rows_will_be_sorted: bool,
    ) -> Result<ColumnBuilder> {
        let physical = PhysicalType::of(field.data_type);
        if !config.dictionary && !field.single_value {
            return Err(Error::Unsupported(format!(
                "raw encoding of multi-value columns is not supported column=`{}`",
                field.name
            )));
        }
        if !config.dictionary && (config.inverted || config.sorted) {
            return Err(Error::Unsupported(format!(
                "inverted and sorted indexes need a dictionary column=`{}`",
                field.name
            )));
        }
        if config.range && physical == PhysicalType::Bytes && !config.dictionary {
            return Err(Error::Unsupported(format!(
                "range index on a raw string or bytes column is not supported; keep it dictionary-encoded column=`{}`",
                field.name
            )));
        }
        if config.text && !matches!(field.data_type, DataType::String | DataType::Json) {
            return Err(Error::Unsupported(format!(
                "text index needs a STRING or JSON column column=`{}`",
                field.name
            )));
        }
        let storage = if config.dictionary {
            Storage::Dictionary {
                dictionary: DictionaryBuilder::new(physical),
                ids: IdVec::default(),
                mv_ends: (!field.single_value).then(Vec::new),
                sealed: None,
            }
        } else {
            Storage::Raw {
                chunk_rows: chunk_rows_for(physical),
                buffer: ChunkBuffer::default(),
                chunks: Vec::new(),
                held_bytes: 0,
                hll: HyperLogLog::default(),
                min: None,
                max: None,
            }
        };
        Ok(ColumnBuilder {
            input_chunk_use: if rows_will_be_sorted {
                ChunkUse::Temporary
            } else {
                ChunkUse::Kept(config.compression)
            },
            field: field.clone(),
            config,
            physical,
            rows: 0,
            nulls: RoaringBitmap::new(),
            storage,
        })
    }

    pub fn name(&self) -> &str {
        &self.field.name
    }

    pub fn is_multi_value(&self) -> bool {
        !self.field.single_value
    }

    /// Rough bytes of the transient memory writing this column takes, to write cheap
    /// columns first: each written column frees its accumulated state before the
    /// expensive ones (large inverted indexes, text) need room.
    pub fn write_cost(&self) -> u64 {
        let rows = u64::from(self.rows);
        let text = if self.config.text { rows * 64 } else { 0 };
        match &self.storage {
            Storage::Dictionary {
                dictionary, sealed, ..
            } => {
                let cardinality = sealed
                    .as_ref()
                    .map_or(dictionary.len(), |(_, remap)| remap.len())
                    as u64;
                let postings = if self.config.inverted || self.config.range || self.config.sorted {
                    rows * 6 + cardinality * 32
                } else {
                    0
                };
                rows * 4 + postings + text
            }
            Storage::Raw { chunks, .. } => {
                let compressed: u64 = chunks.iter().map(|c| c.bytes.len() as u64).sum();
                compressed * 2 + text
            }
        }
    }

    /// Append one batch's values of this column (`values` already validated).
    pub fn add(&mut self, values: &ColumnValues, num_rows: usize) -> Result<()> {
        let first_row = self.rows;
        let is_null = |row: usize| values.nulls.as_ref().is_some_and(|flags| flags[row]);
        if let Some(flags) = &values.nulls {
            for (row, null) in flags.iter().enumerate() {
                if *null {
                    self.nulls.insert(first_row + row as u32);
                }
            }
        }
        match &mut self.storage {
            Storage::Dictionary {
                dictionary,
                ids,
                mv_ends,
                ..
            } => match (&values.data, mv_ends) {
                (
                    ColumnData::Multi {
                        offsets,
                        values: elements,
                    },
                    Some(ends),
                ) => {
                    let mut total = ends.last().copied().unwrap_or(0);
                    for row in 0..num_rows {
                        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                        for element in start..end {
                            ids.push(dictionary_id(dictionary, elements, element));
                        }
                        total = total.checked_add((end - start) as u32).ok_or_else(|| {
                            Error::InvalidInput(format!(
                                "column holds more than 4G multi-value elements; split the input column=`{}`",
                                self.field.name
                            ))
                        })?;
                        ends.push(total);
                    }
                }
                (data, None) => {
                    let nulls = values.nulls.as_deref();
                    match data {
                        ColumnData::I32(v) => {
                            push_ids(v[..num_rows].iter().copied(), nulls, ids, |x| {
                                dictionary.id_of_integer(i64::from(x))
                            });
                        }
                        ColumnData::I64(v) => {
                            push_ids(v[..num_rows].iter().copied(), nulls, ids, |x| {
                                dictionary.id_of_integer(x)
                            });
                        }
                        // Floats by bit pattern: -0.0 and 0.0 are distinct entries.
                        ColumnData::F32(v) => {
                            push_ids(
                                v[..num_rows].iter().map(|x| f32_bits(*x)),
                                nulls,
                                ids,
                                |x| dictionary.id_of_bits(x),
                            );
                        }
                        ColumnData::F64(v) => {
                            push_ids(
                                v[..num_rows].iter().map(|x| f64_bits(*x)),
                                nulls,
                                ids,
                                |x| dictionary.id_of_bits(x),
                            );
                        }
                        ColumnData::Bytes(v) => {
                            push_ids((0..num_rows).map(|row| v.get(row)), nulls, ids, |x| {
                                dictionary.id_of_bytes(x)
                            });
                        }
                        ColumnData::Multi { .. } => {
                            return Err(Error::InvalidInput(format!(
                                "batch column shape does not match column=`{}`",
                                self.field.name
                            )));
                        }
                    }
                }
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "batch column shape does not match column=`{}`",
                        self.field.name
                    )));
                }
            },
            Storage::Raw {
                chunk_rows,
                buffer,
                chunks,
                held_bytes,
                hll,
                min,
                max,
            } => {
                let physical = self.physical;
                let chunk_use = self.input_chunk_use;
                let input_chunk_rows = match chunk_use {
                    ChunkUse::Temporary => TEMPORARY_CHUNK_ROWS,
                    ChunkUse::Kept(_) => *chunk_rows,
                };
                let mut push = |null: bool, value_bytes: &[u8]| -> Result<()> {
                    // A NULL string is stored empty; a NULL number keeps its placeholder.
                    let stored = if null && physical == PhysicalType::Bytes {
                        &[]
                    } else {
                        value_bytes
                    };
                    buffer.push(physical, stored);
                    if !null {
                        hll.insert_hash(hash_bytes(&canonical_raw(physical, value_bytes)));
                        update_min_max(physical, min, max, value_bytes);
                    }
                    if buffer.rows == input_chunk_rows {
                        push_input_chunk(chunks, buffer, physical, chunk_use, held_bytes)?;
                        buffer.clear();
                    }
                    Ok(())
                };
                match &values.data {
                    ColumnData::I32(v) => {
                        for (row, value) in v.iter().enumerate().take(num_rows) {
                            push(is_null(row), &value.to_le_bytes())?;
                        }
                    }
                    ColumnData::I64(v) => {
                        for (row, value) in v.iter().enumerate().take(num_rows) {
                            push(is_null(row), &value.to_le_bytes())?;
                        }
                    }
                    ColumnData::F32(v) => {
                        for (row, value) in v.iter().enumerate().take(num_rows) {
                            push(is_null(row), &value.to_le_bytes())?;
                        }
                    }
                    ColumnData::F64(v) => {
                        for (row, value) in v.iter().enumerate().take(num_rows) {
                            push(is_null(row), &value.to_le_bytes())?;
                        }
                    }
                    ColumnData::Bytes(v) => {
                        for row in 0..num_rows {
                            push(is_null(row), v.get(row))?;
                        }
                    }
                    ColumnData::Multi { .. } => {
                        return Err(Error::InvalidInput(format!(
                            "multi-value data for a raw column column=`{}`",
                            self.field.name
                        )));
                    }
                }
            }
        }
        if let Storage::Dictionary {
            dictionary,
            mv_ends,
            ..
        } = &self.storage
        {
            let too_many_elements = mv_ends
                .as_ref()
                .and_then(|ends| ends.last())
                .is_some_and(|total| *total > u32::MAX - (1 << 24));
            if dictionary.value_bytes() > u32::MAX as usize || too_many_elements {
                return Err(Error::InvalidInput(format!(
                    "column holds more than 4 GiB of distinct values or 4G multi-value elements; split the input into smaller segments column=`{}`",
                    self.field.name
                )));
            }
        }
        self.rows += num_rows as u32;
        Ok(())
    }

    /// Sort a dictionary column's values; afterwards [`Self::final_id_of_input_row`] works.
    pub fn seal_dictionary(&mut self) {
        if let Storage::Dictionary {
            dictionary, sealed, ..
        } = &mut self.storage
            && sealed.is_none()
        {
            let taken = std::mem::replace(dictionary, DictionaryBuilder::new(self.physical));
            *sealed = Some(taken.finish());
        }
    }

    /// Cardinality of a sealed dictionary column.
    pub fn sealed_cardinality(&self) -> Option<usize> {
        match &self.storage {
            Storage::Dictionary {
                sealed: Some((_, remap)),
                ..
            } => Some(remap.len()),
            _ => None,
        }
    }

    /// The final dictionary id of each single-value input row in order, `None` for a
    /// NULL, to `visit`; false (and nothing visited) unless the column is a sealed
    /// single-value dictionary column.
    pub fn for_each_final_id(&self, mut visit: impl FnMut(Option<u32>)) -> bool {
        let Storage::Dictionary {
            ids,
            sealed: Some((_, remap)),
            mv_ends: None,
            ..
        } = &self.storage
        else {
            return false;
        };
        let mut nulls = self.nulls.iter().peekable();
        let mut row = 0u32;
        ids.for_each(|id| {
            if nulls.next_if_eq(&row).is_some() {
                visit(None);
            } else {
                visit(remap.get(id as usize).copied());
            }
            row += 1;
        });
        true
    }

    /// Write every section of the column and return its metadata.
    pub fn write(
        mut self,
        writer: &mut SegmentFileWriter,
        order: RowOrder<'_>,
    ) -> Result<ColumnMetadata> {
        self.seal_dictionary();
        let output_nulls = order.output_bitmap(&self.nulls);
        let mut metadata = ColumnMetadata {
            name: self.field.name.clone(),
            data_type: self.field.data_type,
            single_value: self.field.single_value,
            encoding: if self.config.dictionary {
                Encoding::Dictionary
            } else {
                Encoding::Raw
            },
            cardinality: 0,
            cardinality_is_estimate: false,
            bits_per_id: 0,
            min: serde_json::Value::Null,
            max: serde_json::Value::Null,
            null_count: self.nulls.len(),
            total_elements: 0,
            max_elements: 0,
            is_sorted: false,
            chunk_rows: 0,
            compression: None,
            indexes: Vec::new(),
            bytes: 0,
            index_bytes: 0,
        };
        let storage = std::mem::replace(
            &mut self.storage,
            Storage::Raw {
                chunk_rows: 0,
                buffer: ChunkBuffer::default(),
                chunks: Vec::new(),
                held_bytes: 0,
                hll: HyperLogLog::default(),
                min: None,
                max: None,
            },
        );
        match storage {
            Storage::Dictionary {
                ids,
                mv_ends,
                sealed: Some((encoded, remap)),
                ..
            } => self.write_dictionary_column(
                writer,
                order,
                &output_nulls,
                ids,
                mv_ends,
                encoded,
                remap,
                &mut metadata,
            )?,
            Storage::Dictionary { sealed: None, .. } => {
                return Err(Error::InvalidInput("dictionary was not sealed".into()));
            }
            Storage::Raw {
                chunk_rows,
                buffer,
                mut chunks,
                mut held_bytes,
                hll,
                min,
                max,
            } => {
                if buffer.rows > 0 {
                    push_input_chunk(
                        &mut chunks,
                        &buffer,
                        self.physical,
                        self.input_chunk_use,
                        &mut held_bytes,
                    )?;
                }
                drop(buffer);
                metadata.cardinality = hll.estimate();
                metadata.cardinality_is_estimate = true;
                metadata.chunk_rows = chunk_rows;
                metadata.compression = Some(self.config.compression.name().to_string());
                metadata.min = self.raw_json(min.as_deref());
                metadata.max = self.raw_json(max.as_deref());
                self.write_raw_column(
                    writer,
                    order,
                    &output_nulls,
                    chunks,
                    chunk_rows,
                    metadata.cardinality,
                    &mut metadata,
                )?;
            }
        }
        if !output_nulls.is_empty() {
            metadata.index_bytes += writer.write_section(
                &self.field.name,
                SectionKind::Nulls,
                &encode_bitmap(&output_nulls),
            )?;
        }
        Ok(metadata)
    }

    fn raw_json(&self, bytes: Option<&[u8]>) -> serde_json::Value {
        bytes.map_or(serde_json::Value::Null, |b| {
            raw_to_value(self.field.data_type, b).to_json()
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the pieces of a dictionary column"
    )]
    fn write_dictionary_column(
        &self,
        writer: &mut SegmentFileWriter,
        order: RowOrder<'_>,
        output_nulls: &RoaringBitmap,
        ids: IdVec,
        mv_ends: Option<Vec<u32>>,
        encoded: Vec<u8>,
        remap: Vec<u32>,
        metadata: &mut ColumnMetadata,
    ) -> Result<()> {
        let name = &self.field.name;
        let cardinality = remap.len();
        let bits = bits_for_cardinality(cardinality as u64);
        let dictionary =
            Dictionary::open(self.field.data_type, cardinality, OwnedBytes::new(encoded))
                .map_err(Error::InvalidInput)?;
        metadata.cardinality = cardinality as u64;
        metadata.bits_per_id = bits;
        if cardinality > 0 {
            metadata.min = dictionary.value(0).to_json();
            metadata.max = dictionary.value(cardinality as u32 - 1).to_json();
        }
        metadata.bytes +=
            writer.write_section(name, SectionKind::Dictionary, dictionary_bytes(&dictionary))?;
        let rows = self.rows;
        // NULL rows hold placeholder id 0, which has no entry when every row is NULL.
        let final_id = |input_element: usize| {
            remap
                .get(ids.get(input_element) as usize)
                .copied()
                .unwrap_or(0)
        };
        // (id, doc) pairs in ascending doc order, for postings.
        let postings = match &mv_ends {
            None => {
                let null_flags: Option<Vec<bool>> = (!output_nulls.is_empty()).then(|| {
                    let mut flags = vec![false; rows as usize];
                    for doc in output_nulls {
                        flags[doc as usize] = true;
                    }
                    flags
                });
                let is_null = |doc: usize| null_flags.as_ref().is_some_and(|flags| flags[doc]);
                // Gathering `ids[permutation[doc]]` reads at random; scattering
                // `out[inverse[row]] = ids[row]` writes at random instead, which the CPU
                // overlaps far better.
                let final_of = |id: u32| remap.get(id as usize).copied().unwrap_or(0);
                let mut output_ids: Vec<u32> = match order.inverse {
                    None => {
                        let mut output = Vec::with_capacity(rows as usize);
                        ids.for_each(|id| output.push(final_of(id)));
                        output
                    }
                    Some(inverse) => {
                        let mut output = vec![0u32; rows as usize];
                        let mut row = 0;
                        ids.for_each(|id| {
                            output[inverse[row] as usize] = final_of(id);
                            row += 1;
                        });
                        output
                    }
                };
                for doc in output_nulls {
                    output_ids[doc as usize] = 0;
                }
                let mut packer = BitPacker::new(bits, rows as usize);
                let mut sorted = true;
                let mut previous = 0u32;
                for (doc, id) in output_ids.iter().enumerate() {
                    if !is_null(doc) {
                        sorted &= *id >= previous;
                        previous = *id;
                    }
                    packer.push(*id);
                }
                metadata.is_sorted = sorted && null_flags.is_none();
                metadata.bytes +=
                    writer.write_section(name, SectionKind::Forward, &packer.finish())?;
                if self.config.text {
                    let mut text = TextIndexBuilder::new()?;
                    for (doc, id) in output_ids.iter().enumerate() {
                        if !is_null(doc) {
                            add_text(&mut text, doc as u32, dictionary.bytes_at(*id))?;
                        }
                    }
                    metadata.index_bytes += writer.write_section_parts(
                        name,
                        SectionKind::Text,
                        &text.finish(rows)?.parts(),
                    )?;
                    metadata.indexes.push("text".into());
                }
                let needs_postings =
                    self.config.inverted || self.config.range || self.config.sorted;
                needs_postings
                    .then(|| Postings::from_ids(cardinality, &output_ids, null_flags.as_deref()))
            }
            Some(ends) => {
                let start_of = |row: u32| {
                    if row == 0 {
                        0
                    } else {
                        ends[row as usize - 1] as usize
                    }
                };
                let end_of = |row: u32| ends[row as usize] as usize;
                let total = ends.last().copied().unwrap_or(0);
                let mut forward = Vec::with_capacity(4 * (rows as usize + 1));
                let mut packer = BitPacker::new(bits, total as usize);
                let mut running = 0u32;
                forward.extend_from_slice(&running.to_le_bytes());
                for doc in 0..rows {
                    let input = order.input_row(doc);
                    let (start, end) = (start_of(input), end_of(input));
                    metadata.max_elements = metadata.max_elements.max((end - start) as u32);
                    for element in start..end {
                        packer.push(final_id(element));
                    }
                    running += (end - start) as u32;
                    forward.extend_from_slice(&running.to_le_bytes());
                }
                metadata.total_elements = u64::from(total);
                forward.extend_from_slice(&packer.finish());
                metadata.bytes += writer.write_section(name, SectionKind::Forward, &forward)?;
                if self.config.text {
                    // One tantivy document per doc: the elements joined by newlines.
                    let mut text = TextIndexBuilder::new()?;
                    let mut joined = String::new();
                    for doc in 0..rows {
                        let input = order.input_row(doc);
                        joined.clear();
                        for element in start_of(input)..end_of(input) {
                            joined.push_str(&String::from_utf8_lossy(
                                dictionary.bytes_at(final_id(element)),
                            ));
                            joined.push('\n');
                        }
                        text.add(doc, &joined)?;
                    }
                    metadata.index_bytes += writer.write_section_parts(
                        name,
                        SectionKind::Text,
                        &text.finish(rows)?.parts(),
                    )?;
                    metadata.indexes.push("text".into());
                }
                (self.config.inverted || self.config.range).then(|| {
                    Postings::build(
                        cardinality,
                        (0..rows).flat_map(|doc| {
                            let input = order.input_row(doc);
                            (start_of(input)..end_of(input))
                                .map(move |element| (final_id(element), doc))
                        }),
                    )
                })
            }
        };
        if let Some(postings) = &postings {
            if self.config.sorted {
                let ranges: Vec<(u32, u32)> = (0..cardinality as u32)
                    .map(|id| {
                        let docs = postings.docs_of(id);
                        match (docs.first(), docs.last()) {
                            (Some(first), Some(last)) => (*first, last + 1),
                            _ => (0, 0),
                        }
                    })
                    .collect();
                metadata.index_bytes +=
                    writer.write_section(name, SectionKind::Sorted, &encode_sorted(&ranges))?;
                metadata.indexes.push("sorted".into());
            }
            if self.config.inverted {
                let mut stream = writer.section_stream(name, SectionKind::Inverted);
                write_inverted(postings, &mut stream)?;
                metadata.index_bytes += stream.finish();
                metadata.indexes.push("inverted".into());
            }
            if self.config.range {
                let encoded = range_index::build_from_postings(postings, rows as usize);
                metadata.index_bytes += writer.write_section(name, SectionKind::Range, &encoded)?;
                metadata.indexes.push("range".into());
            }
        }
        if self.config.bloom {
            let mut bloom = BloomBuilder::new(cardinality as u64);
            for id in 0..cardinality as u32 {
                if let Some(canonical) = canonical_bytes(&dictionary.value(id)) {
                    bloom.insert(&canonical);
                }
            }
            metadata.index_bytes +=
                writer.write_section(name, SectionKind::Bloom, &bloom.finish())?;
            metadata.indexes.push("bloom".into());
        }
        Ok(())
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the pieces of a raw column"
    )]
    fn write_raw_column(
        &self,
        writer: &mut SegmentFileWriter,
        order: RowOrder<'_>,
        output_nulls: &RoaringBitmap,
        chunks: Vec<CompressedChunk>,
        chunk_rows: u32,
        cardinality_estimate: u64,
        metadata: &mut ColumnMetadata,
    ) -> Result<()> {
        let name = &self.field.name;
        // The text index is fed in a second pass over the output chunks, after the
        // input chunks and the reorder window are freed: tantivy's arena is the largest
        // allocation of a build and should not coexist with them.
        let mut sink = RawSink {
            physical: self.physical,
            nulls: output_nulls,
            bloom: self
                .config
                .bloom
                .then(|| BloomBuilder::new(cardinality_estimate)),
            range_keys: self.config.range.then(Vec::new),
            sorted: true,
            previous: None,
        };
        let chunks = match order.inverse {
            Some(inverse) => reorder_chunks(
                chunks,
                self.physical,
                self.config.compression,
                chunk_rows,
                self.rows,
                inverse,
                &mut sink,
            )?,
            None => {
                if sink.needs_values() {
                    replay_chunks(&chunks, self.physical, |doc, bytes| sink.visit(doc, bytes))?;
                }
                keep_in_order(chunks, self.physical, self.config.compression, chunk_rows)?
            }
        };
        metadata.is_sorted = sink.sorted && sink.previous.is_some() && output_nulls.is_empty();
        let (table, chunk_bytes) = chunk_section_parts(&chunks);
        let mut parts = vec![table.as_slice()];
        parts.extend(chunk_bytes);
        metadata.bytes += writer.write_section_parts(name, SectionKind::Forward, &parts)?;
        drop(parts);
        let text = if self.config.text {
            let mut text = TextIndexBuilder::new()?;
            replay_chunks(&chunks, self.physical, |doc, bytes| {
                if output_nulls.contains(doc) {
                    Ok(())
                } else {
                    add_text(&mut text, doc, bytes)
                }
            })?;
            Some(text)
        } else {
            None
        };
        drop(chunks);
        if let Some(keys) = sink.range_keys.take() {
            let encoded = range_index::build_from_keys(keys, self.rows as usize);
            metadata.index_bytes += writer.write_section(name, SectionKind::Range, &encoded)?;
            metadata.indexes.push("range".into());
        }
        if let Some(bloom) = sink.bloom.take() {
            metadata.index_bytes +=
                writer.write_section(name, SectionKind::Bloom, &bloom.finish())?;
            metadata.indexes.push("bloom".into());
        }
        if let Some(text) = text {
            metadata.index_bytes += writer.write_section_parts(
                name,
                SectionKind::Text,
                &text.finish(self.rows)?.parts(),
            )?;
            metadata.indexes.push("text".into());
        }
        Ok(())
    }
}

fn add_text(text: &mut TextIndexBuilder, doc: u32, bytes: &[u8]) -> Result<()> {
    text.add_bytes(doc, bytes)
}

/// Serialized bytes of an opened dictionary (for writing it as a section).
fn dictionary_bytes(dictionary: &Dictionary) -> &[u8] {
    dictionary.raw_bytes()
}

/// Push the provisional id of each row's value key (0 for a NULL). Inputs often repeat
/// a value on consecutive rows (pre-sorted data, the lines of one order): the dictionary
/// lookup is skipped then. One instance per value type, so the loop holds no dispatch.
#[inline]
fn push_ids<K: PartialEq + Copy>(
    keys: impl Iterator<Item = K>,
    nulls: Option<&[bool]>,
    ids: &mut IdVec,
    mut id_of: impl FnMut(K) -> u32,
) {
    let mut previous: Option<(K, u32)> = None;
    let batch: Vec<u32> = keys
        .enumerate()
        .map(|(row, key)| {
            if nulls.is_some_and(|flags| flags[row]) {
                return 0;
            }
            match previous {
                Some((value, id)) if value == key => id,
                _ => {
                    let id = id_of(key);
                    previous = Some((key, id));
                    id
                }
            }
        })
        .collect();
    ids.extend_from_slice(&batch);
}

#[inline]
fn dictionary_id(dictionary: &mut DictionaryBuilder, data: &ColumnData, index: usize) -> u32 {
    match data {
        ColumnData::I32(v) => dictionary.id_of_bits(i32_bits(v[index])),
        ColumnData::I64(v) => dictionary.id_of_bits(i64_bits(v[index])),
        ColumnData::F32(v) => dictionary.id_of_bits(f32_bits(v[index])),
        ColumnData::F64(v) => dictionary.id_of_bits(f64_bits(v[index])),
        ColumnData::Bytes(v) => dictionary.id_of_bytes(v.get(index)),
        ColumnData::Multi { .. } => 0,
    }
}

/// Canonical hashing bytes of a raw value, matching [`crate::bloom::canonical_bytes`];
/// fixed-width values stay on the stack.
pub enum CanonicalBytes<'a> {
    Inline([u8; 8]),
    Borrowed(&'a [u8]),
}

impl std::ops::Deref for CanonicalBytes<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            CanonicalBytes::Inline(array) => array,
            CanonicalBytes::Borrowed(bytes) => bytes,
        }
    }
}

pub fn canonical_raw(physical: PhysicalType, bytes: &[u8]) -> CanonicalBytes<'_> {
    let mut array = [0u8; 8];
    let width = bytes.len().min(8);
    array[..width].copy_from_slice(&bytes[..width]);
    let float = |v: f64| {
        let v = if v == 0.0 {
            0.0
        } else if v.is_nan() {
            f64::NAN
        } else {
            v
        };
        CanonicalBytes::Inline(v.to_le_bytes())
    };
    match physical {
        PhysicalType::I32 => CanonicalBytes::Inline(
            i64::from(i32::from_le_bytes([array[0], array[1], array[2], array[3]])).to_le_bytes(),
        ),
        PhysicalType::I64 => CanonicalBytes::Inline(array),
        PhysicalType::F32 => float(f64::from(f32::from_le_bytes([
            array[0], array[1], array[2], array[3],
        ]))),
        PhysicalType::F64 => float(f64::from_le_bytes(array)),
        PhysicalType::Bytes => CanonicalBytes::Borrowed(bytes),
    }
}

fn update_min_max(
    physical: PhysicalType,
    min: &mut Option<Vec<u8>>,
    max: &mut Option<Vec<u8>>,
    bytes: &[u8],
) {
    let less = |a: &[u8], b: &[u8]| match physical {
        PhysicalType::Bytes => a < b,
        _ => raw_order_key(physical, a) < raw_order_key(physical, b),
    };
    if min.as_deref().is_none_or(|current| less(bytes, current)) {
        let slot = min.get_or_insert_with(Vec::new);
        slot.clear();
        slot.extend_from_slice(bytes);
    }
    if max.as_deref().is_none_or(|current| less(current, bytes)) {
        let slot = max.get_or_insert_with(Vec::new);
        slot.clear();
        slot.extend_from_slice(bytes);
    }
}

/// Typed value from a raw value's bytes.
pub fn raw_to_value(data_type: DataType, bytes: &[u8]) -> crate::Value {
    use crate::value::{value_from_bytes, value_from_i32, value_from_i64};
    let mut array = [0u8; 8];
    let width = bytes.len().min(8);
    array[..width].copy_from_slice(&bytes[..width]);
    match PhysicalType::of(data_type) {
        PhysicalType::I32 => value_from_i32(
            data_type,
            i32::from_le_bytes([array[0], array[1], array[2], array[3]]),
        ),
        PhysicalType::I64 => value_from_i64(data_type, i64::from_le_bytes(array)),
        PhysicalType::F32 => {
            crate::Value::Float(f32::from_le_bytes([array[0], array[1], array[2], array[3]]))
        }
        PhysicalType::F64 => crate::Value::Double(f64::from_le_bytes(array)),
        PhysicalType::Bytes => value_from_bytes(data_type, bytes),
    }
}
