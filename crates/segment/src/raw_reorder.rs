//! Putting a raw column's chunks into output order when the segment is sorted.
//!
//! Raw values were compressed in input order as they arrived. To write them in sorted
//! order without holding the whole column uncompressed, output docs are produced window
//! by window: for each window of output positions, every input chunk is decompressed
//! and the values that land in the window are copied out; the window is then compressed
//! into output chunks. A window holds about [`WINDOW_BYTES`] of values, so memory stays
//! at the compressed column plus one window, and a column smaller than a window is
//! reordered in a single pass.

use roaring::RoaringBitmap;

use crate::bloom::BloomBuilder;
use crate::column_builder::{canonical_raw, raw_order_key};
use crate::raw_forward::{
    ChunkBuffer, ChunkCodec, ChunkUse, CompressedChunk, DecodedChunk, compress_chunk,
};
use crate::value::PhysicalType;
use crate::{Error, Result};
use tessera_config::RawCompression;

/// Uncompressed bytes of one reorder window.
const WINDOW_BYTES: u64 = 64 << 20;

/// Consumers of a raw column's values in output order: the indexes built in the same
/// pass as the reorder, and whether the values come out sorted.
pub struct RawSink<'a> {
    pub physical: PhysicalType,
    pub nulls: &'a RoaringBitmap,
    pub bloom: Option<BloomBuilder>,
    pub range_keys: Option<Vec<(u64, u32)>>,
    pub sorted: bool,
    pub previous: Option<u64>,
}

impl RawSink<'_> {
    pub fn needs_values(&self) -> bool {
        self.bloom.is_some() || self.range_keys.is_some()
    }

    /// Take the value of output doc `doc` (fixed-width little-endian, or the bytes).
    pub fn visit(&mut self, doc: u32, bytes: &[u8]) -> Result<()> {
        if self.nulls.contains(doc) {
            return Ok(());
        }
        let key = match self.physical {
            PhysicalType::Bytes => None,
            physical => Some(raw_order_key(physical, bytes)),
        };
        if let (Some(key), true) = (key, self.sorted) {
            if self.previous.is_some_and(|previous| key < previous) {
                self.sorted = false;
            }
            self.previous = Some(key);
        }
        if let Some(bloom) = &mut self.bloom {
            bloom.insert(&canonical_raw(self.physical, bytes));
        }
        if let (Some(keys), Some(key)) = (&mut self.range_keys, key) {
            keys.push((key, doc));
        }
        Ok(())
    }
}

fn decode(chunk: &CompressedChunk, physical: PhysicalType) -> Result<DecodedChunk> {
    let data = chunk.decompress(physical).map_err(Error::InvalidInput)?;
    DecodedChunk::new(physical, chunk.rows, data).map_err(Error::InvalidInput)
}

fn value_of(chunk: &DecodedChunk, physical: PhysicalType, row: usize) -> &[u8] {
    if physical == PhysicalType::Bytes {
        chunk.bytes(row)
    } else {
        chunk.fixed(row)
    }
}

/// Decompress chunks already in output order and hand each doc's value to `visit`.
pub fn replay_chunks(
    chunks: &[CompressedChunk],
    physical: PhysicalType,
    mut visit: impl FnMut(u32, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut doc = 0u32;
    for chunk in chunks {
        let decoded = decode(chunk, physical)?;
        for row in 0..decoded.rows() as usize {
            visit(doc, value_of(&decoded, physical, row))?;
            doc += 1;
        }
    }
    Ok(())
}

/// Chunks already in output order as a segment stores them, `chunk_rows` rows each:
/// returned as they are when they already are, else re-chunked and compressed to keep
/// (input that arrived sorted still holds its temporary chunks).
pub fn keep_in_order(
    chunks: Vec<CompressedChunk>,
    physical: PhysicalType,
    codec: RawCompression,
    chunk_rows: u32,
) -> Result<Vec<CompressedChunk>> {
    let last = chunks.len().saturating_sub(1);
    let stored = chunks.iter().enumerate().all(|(index, chunk)| {
        chunk.codec == ChunkCodec::Stored && (chunk.rows == chunk_rows || index == last)
    });
    if stored {
        return Ok(chunks);
    }
    let mut output = Vec::new();
    let mut buffer = ChunkBuffer::default();
    for chunk in chunks {
        let decoded = decode(&chunk, physical)?;
        drop(chunk);
        for row in 0..decoded.rows() as usize {
            buffer.push(physical, value_of(&decoded, physical, row));
            if buffer.rows == chunk_rows {
                output.push(compress_chunk(&buffer, physical, ChunkUse::Kept(codec))?);
                buffer.clear();
            }
        }
    }
    if buffer.rows > 0 {
        output.push(compress_chunk(&buffer, physical, ChunkUse::Kept(codec))?);
    }
    Ok(output)
}

/// Rewrite chunks so that output doc `d` holds input row `r` where `inverse[r] == d`,
/// in chunks of `chunk_rows` rows (the input chunks may hold another number each).
pub fn reorder_chunks(
    chunks: Vec<CompressedChunk>,
    physical: PhysicalType,
    codec: RawCompression,
    chunk_rows: u32,
    rows: u32,
    inverse: &[u32],
    sink: &mut RawSink<'_>,
) -> Result<Vec<CompressedChunk>> {
    let total_bytes: u64 = chunks.iter().map(|c| u64::from(c.uncompressed_len)).sum();
    let bytes_per_row = (total_bytes / u64::from(rows.max(1))).max(1);
    let window_rows = (WINDOW_BYTES / bytes_per_row)
        .max(u64::from(chunk_rows))
        .div_ceil(u64::from(chunk_rows))
        * u64::from(chunk_rows);
    let window_rows = window_rows.min(u64::from(rows.max(1))) as u32;
    let mut output = Vec::with_capacity(chunks.len());
    let mut buffer = ChunkBuffer::default();
    let mut window_start = 0u32;
    while window_start < rows {
        let window_end = window_start.saturating_add(window_rows).min(rows);
        let window_len = (window_end - window_start) as usize;
        // Spans into `arena`, one per output position of the window.
        let mut spans = vec![(0u32, 0u32); window_len];
        // The window's values, sized up front: growing by doubling copied each window
        // about twice over.
        let mut arena: Vec<u8> =
            Vec::with_capacity((window_len as u64 * bytes_per_row * 9 / 8) as usize);
        let mut first_row = 0usize;
        for chunk in &chunks {
            let decoded = decode(chunk, physical)?;
            for row in 0..decoded.rows() as usize {
                let position = inverse[first_row + row];
                if position < window_start || position >= window_end {
                    continue;
                }
                let bytes = value_of(&decoded, physical, row);
                let start = arena.len() as u32;
                arena.extend_from_slice(bytes);
                spans[(position - window_start) as usize] = (start, bytes.len() as u32);
            }
            first_row += decoded.rows() as usize;
        }
        for (offset, (start, len)) in spans.iter().enumerate() {
            let bytes = &arena[*start as usize..(*start + *len) as usize];
            let doc = window_start + offset as u32;
            buffer.push(physical, bytes);
            if sink.needs_values() {
                sink.visit(doc, bytes)?;
            }
            if buffer.rows == chunk_rows {
                output.push(compress_chunk(&buffer, physical, ChunkUse::Kept(codec))?);
                buffer.clear();
            }
        }
        window_start = window_end;
    }
    if buffer.rows > 0 {
        output.push(compress_chunk(&buffer, physical, ChunkUse::Kept(codec))?);
    }
    Ok(output)
}
