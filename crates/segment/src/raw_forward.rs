//! Raw forward index: values in compressed chunks of a fixed number of rows
//! ([`crate::for_chunk`] for numbers that bit-pack, else the column's codec: LZ4, zstd or
//! none).
//!
//! Layout: `chunk_count u32 | chunk_offsets u64 × (chunk_count + 1) | uncompressed_lengths
//! u32 × chunk_count | compressed chunks`, offsets relative to the start of the
//! compressed chunks. A decompressed chunk of a fixed-width column is its values back to
//! back (little-endian); of a variable-width column, `rows + 1` u32 offsets then bytes.
//!
//! Each stored chunk says what it is by its first four bytes: `TFOR` (frame of
//! reference), `TLZ4` then an LZ4 block, `TRAW` then the bytes as they are, or a zstd
//! frame (its own magic, `28 B5 2F FD`). Format versions 1 and 2 wrote only the first
//! and the last.

use tantivy::directory::OwnedBytes;

use tessera_config::RawCompression;

use crate::for_chunk;
use crate::format::{ByteCursor, read_u32, read_u64};
use crate::value::PhysicalType;
use crate::{Error, Result};

/// zstd level of the chunks a segment keeps: fast to write, a good ratio on numbers and text.
pub const FINAL_CHUNK_LEVEL: i32 = 3;

/// The first bytes of a stored LZ4 chunk; an LZ4 block follows.
const LZ4_TAG: &[u8; 4] = b"TLZ4";
/// The first bytes of a stored uncompressed chunk; the bytes follow.
const PLAIN_TAG: &[u8; 4] = b"TRAW";
/// The first bytes of every zstd frame.
const ZSTD_MAGIC: &[u8; 4] = &[0x28, 0xB5, 0x2F, 0xFD];

/// What a compressed chunk is for, which decides its codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkUse {
    /// Written into the segment: frame-of-reference, else the column's codec.
    Kept(RawCompression),
    /// Held in memory only until the rows are reordered: frame-of-reference or LZ4,
    /// several times faster to write and read back than zstd (or held plain, see
    /// [`push_input_chunk`]).
    Temporary,
}

/// Uncompressed bytes of a column's temporary chunks held plain; the rest are LZ4.
/// Equal to the reorder's window ([`crate::raw_reorder::WINDOW_BYTES`]): the reorder
/// would hold that much uncompressed at once anyway, so compressing it saves no peak
/// memory.
pub const TEMPORARY_PLAIN_BYTES: u64 = crate::raw_reorder::WINDOW_BYTES;

/// Rows per temporary chunk (compressed as rows arrive, until they are reordered): large,
/// so that per-chunk work is small against the values.
pub const TEMPORARY_CHUNK_ROWS: u32 = 4096;

/// Rows per chunk: larger for fixed-width values, smaller for strings.
pub fn chunk_rows_for(physical: PhysicalType) -> u32 {
    match physical {
        // Strings: small enough that a point lookup decompresses little, large enough
        // for zstd to find the repeats.
        PhysicalType::Bytes => 256,
        _ => 4096,
    }
}

/// Encodes one chunk's values.
#[derive(Default)]
pub struct ChunkBuffer {
    pub rows: u32,
    /// Fixed: the values. Bytes: the concatenated value bytes.
    pub data: Vec<u8>,
    /// Bytes only: end offset of each value in `data`.
    pub ends: Vec<u32>,
}

impl ChunkBuffer {
    /// Append one value of a `physical` column (its bytes, or its fixed-width bytes).
    pub fn push(&mut self, physical: PhysicalType, bytes: &[u8]) {
        if physical == PhysicalType::Bytes {
            self.push_bytes(bytes);
        } else {
            self.push_fixed(bytes);
        }
    }

    pub fn push_fixed(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.rows += 1;
    }

    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.ends.push(self.data.len() as u32);
        self.rows += 1;
    }

    pub fn uncompressed(&self, physical: PhysicalType) -> Vec<u8> {
        if physical != PhysicalType::Bytes {
            return self.data.clone();
        }
        let mut out = Vec::with_capacity(4 * (self.ends.len() + 1) + self.data.len());
        out.extend_from_slice(&0u32.to_le_bytes());
        for end in &self.ends {
            out.extend_from_slice(&end.to_le_bytes());
        }
        out.extend_from_slice(&self.data);
        out
    }

    /// Bytes of [`ChunkBuffer::uncompressed`].
    pub fn uncompressed_len(&self, physical: PhysicalType) -> u64 {
        match physical {
            PhysicalType::Bytes => (4 * (self.ends.len() + 1) + self.data.len()) as u64,
            _ => self.data.len() as u64,
        }
    }

    pub fn clear(&mut self) {
        self.rows = 0;
        self.data.clear();
        self.ends.clear();
    }
}

/// How a compressed chunk's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkCodec {
    /// What segments store: a frame-of-reference chunk ([`for_chunk`]), a tagged LZ4
    /// block or plain bytes, or a zstd frame (see the module docs).
    Stored,
    /// An LZ4 block (temporary chunks only; never written to a segment).
    Lz4,
    /// The uncompressed bytes (temporary chunks only; never written to a segment).
    Plain,
}

/// One compressed chunk.
pub struct CompressedChunk {
    pub rows: u32,
    pub uncompressed_len: u32,
    pub codec: ChunkCodec,
    pub bytes: Vec<u8>,
}

impl CompressedChunk {
    /// The chunk's values, decompressed and checked against the recorded length.
    pub fn decompress(&self, physical: PhysicalType) -> Result<Vec<u8>, String> {
        match self.codec {
            ChunkCodec::Stored => decompress(physical, &self.bytes, self.uncompressed_len),
            ChunkCodec::Lz4 => lz4_decompress(&self.bytes, self.uncompressed_len, "temporary"),
            ChunkCodec::Plain => {
                check_plain_len(&self.bytes, self.uncompressed_len)?;
                Ok(self.bytes.clone())
            }
        }
    }

    /// [`CompressedChunk::decompress`], taking the bytes of a plain chunk instead of
    /// copying them.
    pub fn into_decompressed(self, physical: PhysicalType) -> Result<Vec<u8>, String> {
        match self.codec {
            ChunkCodec::Plain => {
                check_plain_len(&self.bytes, self.uncompressed_len)?;
                Ok(self.bytes)
            }
            _ => self.decompress(physical),
        }
    }
}

fn check_plain_len(bytes: &[u8], uncompressed_len: u32) -> Result<(), String> {
    if bytes.len() != uncompressed_len as usize {
        return Err("temporary chunk has the wrong length".into());
    }
    Ok(())
}

pub fn compress_chunk(
    buffer: &ChunkBuffer,
    physical: PhysicalType,
    chunk_use: ChunkUse,
) -> Result<CompressedChunk> {
    let joined;
    let raw: &[u8] = if physical == PhysicalType::Bytes {
        joined = buffer.uncompressed(physical);
        &joined
    } else {
        &buffer.data
    };
    let uncompressed_len = chunk_len(raw)?;
    let chunk = |codec, bytes| CompressedChunk {
        rows: buffer.rows,
        uncompressed_len,
        codec,
        bytes,
    };
    if let Some(bytes) = for_chunk::encode(physical, raw) {
        return Ok(chunk(ChunkCodec::Stored, bytes));
    }
    let stored = match chunk_use {
        ChunkUse::Temporary => return Ok(chunk(ChunkCodec::Lz4, lz4_compress(raw, &[])?)),
        ChunkUse::Kept(RawCompression::Lz4) => lz4_compress(raw, LZ4_TAG)?,
        ChunkUse::Kept(RawCompression::Zstandard) => zstd_compress(raw)?,
        ChunkUse::Kept(RawCompression::PassThrough) => [PLAIN_TAG.as_slice(), raw].concat(),
    };
    Ok(chunk(ChunkCodec::Stored, stored))
}

/// Compress `buffer` into the next of an input column's `chunks`, which hold `held`
/// uncompressed bytes (counting the new chunk's in). A temporary chunk is held plain
/// while the column fits [`TEMPORARY_PLAIN_BYTES`]; the chunk that takes it past turns
/// the plain chunks held into LZ4, so that a column the reorder will take window by
/// window is held compressed, as before it was plain.
pub fn push_input_chunk(
    chunks: &mut Vec<CompressedChunk>,
    buffer: &ChunkBuffer,
    physical: PhysicalType,
    chunk_use: ChunkUse,
    held: &mut u64,
) -> Result<()> {
    let adding = buffer.uncompressed_len(physical);
    let was_within = *held <= TEMPORARY_PLAIN_BYTES;
    *held += adding;
    let chunk = match chunk_use {
        ChunkUse::Temporary if *held <= TEMPORARY_PLAIN_BYTES => {
            let bytes = buffer.uncompressed(physical);
            CompressedChunk {
                rows: buffer.rows,
                uncompressed_len: chunk_len(&bytes)?,
                codec: ChunkCodec::Plain,
                bytes,
            }
        }
        ChunkUse::Temporary if was_within => {
            for chunk in chunks
                .iter_mut()
                .filter(|chunk| chunk.codec == ChunkCodec::Plain)
            {
                chunk.bytes = lz4_compress(&chunk.bytes, &[])?;
                chunk.codec = ChunkCodec::Lz4;
            }
            compress_chunk(buffer, physical, chunk_use)?
        }
        _ => compress_chunk(buffer, physical, chunk_use)?,
    };
    chunks.push(chunk);
    Ok(())
}

fn chunk_len(raw: &[u8]) -> Result<u32> {
    u32::try_from(raw.len())
        .map_err(|_| Error::InvalidInput("a raw chunk exceeds 4 GiB; values are too large".into()))
}

/// `tag` then an LZ4 block of `raw`, sized to fit (lz4_flex's own `compress` keeps the
/// worst-case capacity, which a build holding thousands of chunks pays for in resident
/// memory).
fn lz4_compress(raw: &[u8], tag: &[u8]) -> Result<Vec<u8>> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        scratch.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
        let written = lz4_flex::block::compress_into(raw, &mut scratch)
            .map_err(|error| Error::InvalidInput(format!("LZ4 compression failed: {error}")))?;
        let mut out = Vec::with_capacity(tag.len() + written);
        out.extend_from_slice(tag);
        out.extend_from_slice(&scratch[..written]);
        Ok(out)
    })
}

/// A zstd frame of `raw` at [`FINAL_CHUNK_LEVEL`], sized to fit. One compression context
/// and one worst-case output buffer per thread: creating a context per chunk cost as
/// much as compressing a small chunk.
fn zstd_compress(raw: &[u8]) -> Result<Vec<u8>> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<(zstd::bulk::Compressor<'static>, Vec<u8>)>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR
        .with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some((zstd::bulk::Compressor::new(FINAL_CHUNK_LEVEL)?, Vec::new()));
            }
            let Some((compressor, scratch)) = slot.as_mut() else {
                return Err(std::io::Error::other("no zstd compressor"));
            };
            scratch.clear();
            scratch.reserve(zstd::zstd_safe::compress_bound(raw.len()));
            compressor.compress_to_buffer(raw, scratch)?;
            Ok(scratch.as_slice().to_vec())
        })
        .map_err(|source| Error::Io {
            path: "<zstd>".into(),
            source,
        })
}

/// An LZ4 block (of a `kind` chunk, as errors name it) that must decompress to exactly
/// `len` bytes.
fn lz4_decompress(block: &[u8], len: u32, kind: &str) -> Result<Vec<u8>, String> {
    let out = lz4_flex::block::decompress(block, len as usize)
        .map_err(|error| format!("{kind} chunk does not decompress: {error}"))?;
    if out.len() != len as usize {
        return Err(format!("{kind} chunk decompressed to the wrong length"));
    }
    Ok(out)
}

/// Decompress a stored chunk (see the module docs for the kinds), checking the recorded
/// length.
pub fn decompress(
    physical: PhysicalType,
    bytes: &[u8],
    uncompressed_len: u32,
) -> Result<Vec<u8>, String> {
    if for_chunk::is_for_chunk(bytes) {
        let width = physical
            .fixed_width()
            .ok_or("frame-of-reference chunk in a variable-width column")?;
        if !(uncompressed_len as usize).is_multiple_of(width) {
            return Err("raw chunk length is not a whole number of values".into());
        }
        return for_chunk::decode(physical, bytes, uncompressed_len as usize / width);
    }
    if let Some(block) = bytes.strip_prefix(LZ4_TAG) {
        return lz4_decompress(block, uncompressed_len, "raw");
    }
    if let Some(plain) = bytes.strip_prefix(PLAIN_TAG) {
        if plain.len() != uncompressed_len as usize {
            return Err("raw chunk has the wrong length".into());
        }
        return Ok(plain.to_vec());
    }
    if !bytes.starts_with(ZSTD_MAGIC) {
        return Err("raw chunk is of no known kind".into());
    }
    thread_local! {
        // One decompression context per thread: creating one per chunk costs as much
        // as decompressing a small chunk.
        static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let out = DECOMPRESSOR
        .with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new()?);
            }
            match slot.as_mut() {
                Some(decompressor) => decompressor.decompress(bytes, uncompressed_len as usize),
                None => Err(std::io::Error::other("no zstd decompressor")),
            }
        })
        .map_err(|error| format!("raw chunk does not decompress: {error}"))?;
    if out.len() != uncompressed_len as usize {
        return Err("raw chunk decompressed to the wrong length".into());
    }
    Ok(out)
}

/// The forward-index section as parts: the chunk table, then each compressed chunk.
pub fn chunk_section_parts(chunks: &[CompressedChunk]) -> (Vec<u8>, Vec<&[u8]>) {
    debug_assert!(chunks.iter().all(|chunk| chunk.codec == ChunkCodec::Stored));
    let mut table = Vec::with_capacity(4 + 12 * (chunks.len() + 1));
    table.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    let mut offset = 0u64;
    table.extend_from_slice(&offset.to_le_bytes());
    for chunk in chunks {
        offset += chunk.bytes.len() as u64;
        table.extend_from_slice(&offset.to_le_bytes());
    }
    for chunk in chunks {
        table.extend_from_slice(&chunk.uncompressed_len.to_le_bytes());
    }
    (
        table,
        chunks.iter().map(|chunk| chunk.bytes.as_slice()).collect(),
    )
}

/// A decompressed chunk, with accessors that never read out of bounds.
pub struct DecodedChunk {
    physical: PhysicalType,
    rows: u32,
    data: Vec<u8>,
}

impl DecodedChunk {
    /// Validate the decompressed layout for `rows` rows.
    pub fn new(physical: PhysicalType, rows: u32, data: Vec<u8>) -> Result<DecodedChunk, String> {
        match physical.fixed_width() {
            Some(width) => {
                if data.len() != rows as usize * width {
                    return Err("raw chunk has the wrong size for its rows".into());
                }
            }
            None => {
                let offsets_len = (rows as usize + 1) * 4;
                if data.len() < offsets_len {
                    return Err("raw chunk offsets are truncated".into());
                }
                // One pass without an early exit, which the compiler vectorizes: this
                // check runs for every chunk a scan reads.
                let (mut previous, mut ascending) = (0u32, true);
                for bytes in data[..offsets_len].chunks_exact(4) {
                    let offset = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    ascending &= offset >= previous;
                    previous = offset;
                }
                if !ascending || read_u32(&data, 0) != 0 {
                    return Err("raw chunk offsets are not monotonic".into());
                }
                if previous as usize != data.len() - offsets_len {
                    return Err("raw chunk offsets do not cover its bytes".into());
                }
            }
        }
        Ok(DecodedChunk {
            physical,
            rows,
            data,
        })
    }

    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// All fixed-width values of the chunk, back to back.
    pub fn fixed_all(&self) -> &[u8] {
        &self.data
    }

    /// The fixed-width bytes of row `row` (little-endian value).
    #[inline]
    pub fn fixed(&self, row: usize) -> &[u8] {
        let width = self.physical.fixed_width().unwrap_or(0);
        &self.data[row * width..(row + 1) * width]
    }

    /// The chunk's decoded bytes: values (fixed) or offsets then values (bytes).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Where `row`'s value lies in [`DecodedChunk::data`].
    #[inline]
    pub fn value_range(&self, row: usize) -> std::ops::Range<usize> {
        match self.physical.fixed_width() {
            Some(width) => row * width..(row + 1) * width,
            None => {
                let offsets_len = (self.rows as usize + 1) * 4;
                let start = read_u32(&self.data, row * 4) as usize;
                let end = read_u32(&self.data, row * 4 + 4) as usize;
                offsets_len + start..offsets_len + end
            }
        }
    }

    #[inline]
    pub fn bytes(&self, row: usize) -> &[u8] {
        let offsets_len = (self.rows as usize + 1) * 4;
        let start = read_u32(&self.data, row * 4) as usize;
        let end = read_u32(&self.data, row * 4 + 4) as usize;
        &self.data[offsets_len + start..offsets_len + end]
    }

    /// Mark in `found` (one flag per row) the rows of a variable-width chunk whose bytes
    /// contain `finder`'s needle. The chunk's value bytes are searched at once and each
    /// hit mapped to its row, instead of a search per value: most values are passed
    /// over by the SIMD search without a call of their own.
    pub fn rows_containing(&self, finder: &memchr::memmem::Finder<'_>, found: &mut Vec<bool>) {
        let rows = self.rows as usize;
        found.clear();
        found.resize(rows, false);
        let needle_len = finder.needle().len();
        if needle_len == 0 || self.physical.fixed_width().is_some() {
            found.fill(needle_len == 0);
            return;
        }
        let offsets_len = (rows + 1) * 4;
        let values = &self.data[offsets_len..];
        let end_of = |row: usize| read_u32(&self.data, row * 4 + 4) as usize;
        let (mut position, mut row) = (0usize, 0usize);
        while let Some(hit) = finder.find(&values[position..]) {
            let at = position + hit;
            while row < rows && end_of(row) <= at {
                row += 1;
            }
            if row == rows {
                break;
            }
            let end = end_of(row);
            if at + needle_len <= end {
                found[row] = true;
                position = end;
                row += 1;
            } else {
                // The hit runs into the next value: not a hit of either.
                position = at + 1;
            }
        }
    }
}

/// The raw forward index of one column, read in place.
#[derive(Clone)]
pub struct RawForward {
    physical: PhysicalType,
    row_count: u32,
    chunk_rows: u32,
    chunk_offsets: Vec<u64>,
    uncompressed_lens: Vec<u32>,
    chunks: OwnedBytes,
}

impl RawForward {
    pub fn open(
        physical: PhysicalType,
        row_count: u32,
        chunk_rows: u32,
        data: OwnedBytes,
    ) -> Result<RawForward, String> {
        if chunk_rows == 0 {
            return Err("raw column has zero rows per chunk".into());
        }
        let mut cursor = ByteCursor::new(data.as_slice());
        let truncated = || "raw forward index header is truncated".to_string();
        let chunk_count = cursor.u32().ok_or_else(truncated)? as usize;
        if chunk_count != row_count.div_ceil(chunk_rows) as usize {
            return Err("raw forward index has the wrong number of chunks".into());
        }
        let offsets = cursor.take((chunk_count + 1) * 8).ok_or_else(truncated)?;
        let lens = cursor.take(chunk_count * 4).ok_or_else(truncated)?;
        let chunk_offsets: Vec<u64> = (0..=chunk_count)
            .map(|i| read_u64(offsets, i * 8))
            .collect();
        let uncompressed_lens: Vec<u32> = (0..chunk_count).map(|i| read_u32(lens, i * 4)).collect();
        let chunks_start = data.len() - cursor.remaining();
        let chunks_len = cursor.remaining() as u64;
        if chunk_offsets.first() != Some(&0)
            || chunk_offsets.windows(2).any(|w| w[0] > w[1])
            || chunk_offsets.last() != Some(&chunks_len)
        {
            return Err("raw forward index chunk offsets are inconsistent".into());
        }
        Ok(RawForward {
            physical,
            row_count,
            chunk_rows,
            chunk_offsets,
            uncompressed_lens,
            chunks: data.slice(chunks_start..data.len()),
        })
    }

    pub fn chunk_rows(&self) -> u32 {
        self.chunk_rows
    }

    pub fn row_count(&self) -> u32 {
        self.row_count
    }

    pub fn chunk_count(&self) -> usize {
        self.uncompressed_lens.len()
    }

    /// The stored bytes of chunk `index` (see the module docs for the kinds).
    fn chunk_bytes(&self, index: usize) -> &[u8] {
        let start = self.chunk_offsets[index] as usize;
        let end = self.chunk_offsets[index + 1] as usize;
        &self.chunks.as_slice()[start..end]
    }

    /// Rows in chunk `index` (the last chunk may be short).
    fn rows_in_chunk(&self, index: usize) -> u32 {
        self.chunk_rows
            .min(self.row_count - index as u32 * self.chunk_rows)
    }

    /// The values of some rows of chunk `index` (ascending row numbers within the
    /// chunk), back to back, when the chunk can serve them without decoding the rest (a
    /// frame-of-reference chunk); `None` means decode the whole chunk.
    pub fn chunk_rows_subset(
        &self,
        index: usize,
        rows: impl ExactSizeIterator<Item = usize>,
    ) -> Result<Option<Vec<u8>>, String> {
        let bytes = self.chunk_bytes(index);
        let Some(width) = self.physical.fixed_width() else {
            return Ok(None);
        };
        let chunk_rows = self.rows_in_chunk(index);
        // Decoding everything is cheaper once a good part of the chunk is wanted.
        if !for_chunk::is_for_chunk(bytes) || rows.len() * 8 > chunk_rows as usize {
            return Ok(None);
        }
        if self.uncompressed_lens[index] as usize != chunk_rows as usize * width {
            return Err("raw chunk has the wrong size for its rows".into());
        }
        let mut out = Vec::with_capacity(rows.len() * width);
        for_chunk::decode_rows(self.physical, bytes, chunk_rows as usize, rows, &mut out)?;
        Ok(Some(out))
    }

    /// Append rows `first..end` of chunk `index` to `out` as f64 when the chunk is
    /// frame-of-reference encoded (`Ok(false)`: it is not; decode it whole instead).
    pub fn chunk_f64_range(
        &self,
        index: usize,
        first: usize,
        end: usize,
        out: &mut Vec<f64>,
    ) -> Result<bool, String> {
        let bytes = self.chunk_bytes(index);
        if !for_chunk::is_for_chunk(bytes) {
            return Ok(false);
        }
        let rows = self.rows_in_chunk(index) as usize;
        for_chunk::decode_f64_range(self.physical, bytes, rows, first, end, out)?;
        Ok(true)
    }

    /// Bounds of each chunk's values (see [`for_chunk::f64_bounds`]): `None` for a chunk
    /// that is not a DOUBLE frame-of-reference chunk (nothing is known without reading it).
    pub fn chunk_f64_bounds(&self) -> Vec<Option<(f64, f64)>> {
        (0..self.chunk_count())
            .map(|index| {
                for_chunk::f64_bounds(
                    self.physical,
                    self.chunk_bytes(index),
                    self.rows_in_chunk(index) as usize,
                )
            })
            .collect()
    }

    /// Decompress chunk `index`.
    pub fn chunk(&self, index: usize) -> Result<DecodedChunk, String> {
        let data = decompress(
            self.physical,
            self.chunk_bytes(index),
            self.uncompressed_lens[index],
        )?;
        DecodedChunk::new(self.physical, self.rows_in_chunk(index), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings_chunk() -> ChunkBuffer {
        let mut buffer = ChunkBuffer::default();
        for i in 0..256 {
            buffer.push_bytes(format!("carefully regular deposits {i} haggle").as_bytes());
        }
        buffer
    }

    #[test]
    fn test_each_codec_stores_a_tagged_chunk_that_decompresses_to_the_values() {
        let buffer = strings_chunk();
        let raw = buffer.uncompressed(PhysicalType::Bytes);
        for (codec, starts) in [
            (RawCompression::Lz4, LZ4_TAG.as_slice()),
            (RawCompression::Zstandard, ZSTD_MAGIC.as_slice()),
            (RawCompression::PassThrough, PLAIN_TAG.as_slice()),
        ] {
            let chunk = compress_chunk(&buffer, PhysicalType::Bytes, ChunkUse::Kept(codec))
                .expect("compresses");
            assert_eq!(chunk.codec, ChunkCodec::Stored);
            assert!(chunk.bytes.starts_with(starts), "{codec:?}");
            assert_eq!(
                decompress(PhysicalType::Bytes, &chunk.bytes, chunk.uncompressed_len),
                Ok(raw.clone()),
                "{codec:?}"
            );
            if codec != RawCompression::PassThrough {
                assert!(chunk.bytes.len() < raw.len() / 2, "{codec:?} compresses");
            }
        }
    }

    #[test]
    fn test_numbers_that_bit_pack_are_frame_of_reference_whatever_the_codec() {
        let mut buffer = ChunkBuffer::default();
        for i in 0..4096i64 {
            buffer.push_fixed(&(1_000 + i % 100).to_le_bytes());
        }
        for codec in [RawCompression::Lz4, RawCompression::PassThrough] {
            let chunk = compress_chunk(&buffer, PhysicalType::I64, ChunkUse::Kept(codec))
                .expect("compresses");
            assert!(for_chunk::is_for_chunk(&chunk.bytes), "{codec:?}");
        }
    }

    #[test]
    fn test_rows_containing_maps_hits_to_rows_and_skips_hits_across_values() {
        let values = ["abc", "", "xab", "cab", "ab", "zzzab", "a", "bc"];
        let mut buffer = ChunkBuffer::default();
        for value in values {
            buffer.push_bytes(value.as_bytes());
        }
        let chunk = DecodedChunk::new(
            PhysicalType::Bytes,
            values.len() as u32,
            buffer.uncompressed(PhysicalType::Bytes),
        )
        .expect("chunk");
        let mut found = Vec::new();
        for needle in ["ab", "abc", "ca", "bcx", "b", ""] {
            chunk.rows_containing(&memchr::memmem::Finder::new(needle), &mut found);
            let expected: Vec<bool> = values.iter().map(|v| v.contains(needle)).collect();
            assert_eq!(found, expected, "needle {needle:?}");
        }
    }

    #[test]
    fn test_damaged_chunks_of_every_codec_are_errors() {
        let buffer = strings_chunk();
        for codec in [
            RawCompression::Lz4,
            RawCompression::Zstandard,
            RawCompression::PassThrough,
        ] {
            let chunk = compress_chunk(&buffer, PhysicalType::Bytes, ChunkUse::Kept(codec))
                .expect("compresses");
            let len = chunk.uncompressed_len;
            // A wrong recorded length, a truncated chunk and a bare tag.
            assert!(decompress(PhysicalType::Bytes, &chunk.bytes, len + 1).is_err());
            let cut = &chunk.bytes[..chunk.bytes.len() - 7];
            assert!(
                decompress(PhysicalType::Bytes, cut, len).is_err(),
                "{codec:?}"
            );
            assert!(decompress(PhysicalType::Bytes, &chunk.bytes[..4], len).is_err());
        }
        assert_eq!(
            decompress(PhysicalType::Bytes, b"XXXXnot a chunk", 3),
            Err("raw chunk is of no known kind".to_string())
        );
    }
}
