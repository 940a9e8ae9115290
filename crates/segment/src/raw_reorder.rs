//! Putting a raw column's chunks into output order when the segment is sorted.
//!
//! Raw values were compressed in input order as they arrived. To write them in sorted
//! order without holding the whole column uncompressed, output docs are produced window
//! by window: for each window of output positions, every input chunk is decompressed
//! and the values that land in the window are copied out; the window is then compressed
//! into output chunks. A window holds about [`WINDOW_BYTES`] of values, so memory stays
//! at the compressed column plus one window. A column no larger than a window is
//! decompressed whole instead (its first [`WINDOW_BYTES`] were held uncompressed, see
//! [`crate::raw_forward::TEMPORARY_PLAIN_BYTES`]) and each output doc's value copied
//! from where it lies, with no window in between.

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
pub const WINDOW_BYTES: u64 = 64 << 20;

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

/// Output chunks of a raw column as a segment keeps them, filled value by value in
/// output order: `chunk_rows` values each, compressed with the column's codec.
struct KeptChunks {
    physical: PhysicalType,
    codec: RawCompression,
    chunk_rows: u32,
    buffer: ChunkBuffer,
    chunks: Vec<CompressedChunk>,
}

impl KeptChunks {
    fn new(physical: PhysicalType, codec: RawCompression, chunk_rows: u32) -> KeptChunks {
        KeptChunks {
            physical,
            codec,
            chunk_rows,
            buffer: ChunkBuffer::default(),
            chunks: Vec::new(),
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        self.buffer.push(self.physical, bytes);
        if self.buffer.rows == self.chunk_rows {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let chunk = compress_chunk(&self.buffer, self.physical, ChunkUse::Kept(self.codec))?;
        self.chunks.push(chunk);
        self.buffer.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<CompressedChunk>> {
        if self.buffer.rows > 0 {
            self.flush()?;
        }
        Ok(self.chunks)
    }
}

fn decode(chunk: &CompressedChunk, physical: PhysicalType) -> Result<DecodedChunk> {
    let data = chunk.decompress(physical).map_err(Error::InvalidInput)?;
    DecodedChunk::new(physical, chunk.rows, data).map_err(Error::InvalidInput)
}

/// [`decode`] of a chunk no longer needed: a plain chunk's bytes are taken, not copied.
fn decode_owned(chunk: CompressedChunk, physical: PhysicalType) -> Result<DecodedChunk> {
    let rows = chunk.rows;
    let data = chunk
        .into_decompressed(physical)
        .map_err(Error::InvalidInput)?;
    DecodedChunk::new(physical, rows, data).map_err(Error::InvalidInput)
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
    let mut output = KeptChunks::new(physical, codec, chunk_rows);
    for chunk in chunks {
        let decoded = decode_owned(chunk, physical)?;
        for row in 0..decoded.rows() as usize {
            output.push(value_of(&decoded, physical, row))?;
        }
    }
    output.finish()
}

/// Values ahead of the copy whose bytes are fetched early: the copy reads the values at
/// random, and each read would otherwise wait on memory.
const PREFETCH_DISTANCE: usize = 16;

/// Ask the CPU to bring the cache line at `address` in, without waiting for it.
#[inline]
#[allow(unsafe_code)]
fn prefetch(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults, whatever the address (it is
    // dropped for an invalid one), and reads nothing into the program. SSE is part of
    // x86_64. Justified by `load_bench.py`: the reorder copy of lineitem's l_comment
    // waited on memory for most of its time.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// [`reorder_chunks`] of a column held whole: every chunk decompressed (a plain one
/// taken as it is), then each output doc's value copied from its input chunk and row.
fn reorder_whole(
    chunks: Vec<CompressedChunk>,
    physical: PhysicalType,
    codec: RawCompression,
    (chunk_rows, rows): (u32, u32),
    inverse: &[u32],
    sink: &mut RawSink<'_>,
) -> Result<Vec<CompressedChunk>> {
    let bad_order =
        || Error::InvalidInput("raw column reorder is not a permutation of its rows".into());
    if inverse.len() != rows as usize {
        return Err(bad_order());
    }
    let decoded = chunks
        .into_iter()
        .map(|chunk| decode_owned(chunk, physical))
        .collect::<Result<Vec<_>>>()?;
    // Where each output doc's value lies: (input chunk, start, end) in the chunk's
    // data, found reading the input in order, so that the copy below reads each value
    // with one access at random; `u32::MAX` until found.
    let mut sources = vec![(u32::MAX, 0u32, 0u32); rows as usize];
    let mut input_row = 0usize;
    for (index, chunk) in decoded.iter().enumerate() {
        for row in 0..chunk.rows() as usize {
            let doc = *inverse.get(input_row).ok_or_else(bad_order)?;
            let range = chunk.value_range(row);
            *sources.get_mut(doc as usize).ok_or_else(bad_order)? =
                (index as u32, range.start as u32, range.end as u32);
            input_row += 1;
        }
    }
    if input_row != rows as usize {
        return Err(bad_order());
    }
    let mut output = KeptChunks::new(physical, codec, chunk_rows);
    for (doc, (index, start, end)) in sources.iter().copied().enumerate() {
        if let Some((ahead, ahead_start, _)) = sources.get(doc + PREFETCH_DISTANCE)
            && let Some(chunk) = decoded.get(*ahead as usize)
        {
            prefetch(chunk.data().as_ptr().wrapping_add(*ahead_start as usize));
        }
        let bytes = decoded
            .get(index as usize)
            .and_then(|chunk| chunk.data().get(start as usize..end as usize))
            .ok_or_else(bad_order)?;
        output.push(bytes)?;
        if sink.needs_values() {
            sink.visit(doc as u32, bytes)?;
        }
    }
    output.finish()
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
    reorder_in_windows(
        chunks,
        physical,
        codec,
        (chunk_rows, rows),
        inverse,
        sink,
        WINDOW_BYTES,
    )
}

/// [`reorder_chunks`] with windows of `window_bytes`.
fn reorder_in_windows(
    chunks: Vec<CompressedChunk>,
    physical: PhysicalType,
    codec: RawCompression,
    (chunk_rows, rows): (u32, u32),
    inverse: &[u32],
    sink: &mut RawSink<'_>,
    window_bytes: u64,
) -> Result<Vec<CompressedChunk>> {
    let total_bytes: u64 = chunks.iter().map(|c| u64::from(c.uncompressed_len)).sum();
    if total_bytes <= window_bytes {
        return reorder_whole(chunks, physical, codec, (chunk_rows, rows), inverse, sink);
    }
    let bytes_per_row = (total_bytes / u64::from(rows.max(1))).max(1);
    let window_rows = (window_bytes / bytes_per_row)
        .max(u64::from(chunk_rows))
        .div_ceil(u64::from(chunk_rows))
        * u64::from(chunk_rows);
    let window_rows = window_rows.min(u64::from(rows.max(1))) as u32;
    let mut output = KeptChunks::new(physical, codec, chunk_rows);
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
            output.push(bytes)?;
            if sink.needs_values() {
                sink.visit(doc, bytes)?;
            }
        }
        window_start = window_end;
    }
    output.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw_forward::{ChunkCodec, ChunkUse, push_input_chunk};

    /// Input chunks of `values` as a build holds them: temporary chunks of `per_chunk`
    /// rows, for a column that held `held` bytes before them.
    fn held_chunks(
        values: &[Vec<u8>],
        physical: PhysicalType,
        per_chunk: usize,
        mut held: u64,
    ) -> Vec<CompressedChunk> {
        let mut chunks = Vec::new();
        for piece in values.chunks(per_chunk) {
            let mut buffer = ChunkBuffer::default();
            for value in piece {
                buffer.push(physical, value);
            }
            push_input_chunk(
                &mut chunks,
                &buffer,
                physical,
                ChunkUse::Temporary,
                &mut held,
            )
            .expect("chunk");
        }
        chunks
    }

    fn values_of(chunks: &[CompressedChunk], physical: PhysicalType) -> Vec<Vec<u8>> {
        let mut values = Vec::new();
        replay_chunks(chunks, physical, |_, bytes| {
            values.push(bytes.to_vec());
            Ok(())
        })
        .expect("replays");
        values
    }

    #[test]
    fn test_whole_and_windowed_reorders_write_the_same_values_in_output_order() {
        let rows = 1000u32;
        // A permutation that scatters: doc of input row r.
        let inverse: Vec<u32> = (0..rows).map(|r| (r * 7919) % rows).collect();
        for physical in [PhysicalType::Bytes, PhysicalType::F64] {
            let values: Vec<Vec<u8>> = (0..rows)
                .map(|r| match physical {
                    PhysicalType::Bytes => {
                        format!("value {r} {}", "x".repeat((r % 13) as usize)).into_bytes()
                    }
                    _ => (f64::from(r) * 1.5).to_le_bytes().to_vec(),
                })
                .collect();
            let mut expected = vec![Vec::new(); rows as usize];
            for (row, doc) in inverse.iter().enumerate() {
                expected[*doc as usize] = values[row].clone();
            }
            // A column within the plain budget is held plain; one that goes past it
            // (1,500 bytes left) is held compressed (LZ4, or frame-of-reference for
            // numbers), its first chunks compressed when the budget runs out.
            let budget = crate::raw_forward::TEMPORARY_PLAIN_BYTES;
            let plain = |chunks: &[CompressedChunk]| {
                chunks
                    .iter()
                    .filter(|c| c.codec == ChunkCodec::Plain)
                    .count()
            };
            let small = held_chunks(&values, physical, 64, 0);
            assert_eq!(plain(&small), small.len());
            let past = held_chunks(&values, physical, 64, budget - 1500);
            assert_eq!(plain(&past), 0);
            for (held, window_bytes) in [0, budget - 1500]
                .into_iter()
                .flat_map(|held| [u64::MAX, 1, 2_000].map(|window| (held, window)))
            {
                let nulls = RoaringBitmap::new();
                let mut sink = RawSink {
                    physical,
                    nulls: &nulls,
                    bloom: None,
                    range_keys: None,
                    sorted: true,
                    previous: None,
                };
                let output = reorder_in_windows(
                    held_chunks(&values, physical, 64, held),
                    physical,
                    RawCompression::Lz4,
                    (100, rows),
                    &inverse,
                    &mut sink,
                    window_bytes,
                )
                .expect("reorders");
                assert!(output.iter().all(|c| c.codec == ChunkCodec::Stored));
                assert_eq!(
                    values_of(&output, physical),
                    expected,
                    "held {held}, window {window_bytes}"
                );
            }
        }
    }

    #[test]
    fn test_an_order_that_is_not_a_permutation_is_an_error() {
        let values: Vec<Vec<u8>> = (0..10u32).map(|r| r.to_le_bytes().to_vec()).collect();
        let nulls = RoaringBitmap::new();
        let mut sink = RawSink {
            physical: PhysicalType::I32,
            nulls: &nulls,
            bloom: None,
            range_keys: None,
            sorted: true,
            previous: None,
        };
        for inverse in [
            vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 10],
            vec![0, 0, 2, 3, 4, 5, 6, 7, 8, 9],
            vec![0; 9],
        ] {
            let chunks = held_chunks(&values, PhysicalType::I32, 4, 0);
            let outcome = reorder_chunks(
                chunks,
                PhysicalType::I32,
                RawCompression::Lz4,
                4,
                10,
                &inverse,
                &mut sink,
            );
            assert!(outcome.is_err(), "{inverse:?}");
        }
    }
}
