//! Inverted index (one roaring bitmap of docs per dictionary id) and the sorted-column
//! index (one doc range per dictionary id).
//!
//! Inverted layout: `offsets u64 × (cardinality + 1)` relative to the first bitmap, then
//! the bitmaps in roaring's portable serialization. Sorted layout: `(start u32, end u32)`
//! per dictionary id, a half-open doc range (empty when `start == end`).

use std::ops::Range;

use roaring::RoaringBitmap;
use tantivy::directory::OwnedBytes;

use crate::format::{ByteCursor, read_u32, read_u64};

/// Docs per dictionary id, grouped by id: the docs of id `i` are
/// `docs[starts[i]..starts[i + 1]]`, ascending.
pub struct Postings {
    pub starts: Vec<u32>,
    pub docs: Vec<u32>,
}

impl Postings {
    /// Postings of single-value ids in doc order (`ids[doc]`), skipping NULL docs.
    pub fn from_ids(cardinality: usize, ids: &[u32], nulls: Option<&[bool]>) -> Postings {
        let pairs = ids
            .iter()
            .enumerate()
            .filter(|(doc, _)| nulls.is_none_or(|flags| !flags[*doc]))
            .map(|(doc, id)| (*id, doc as u32));
        Postings::build(cardinality, pairs)
    }

    /// Counting sort of `(id, doc)` pairs given in ascending doc order.
    pub fn build(cardinality: usize, pairs: impl Iterator<Item = (u32, u32)> + Clone) -> Postings {
        let mut starts = vec![0u32; cardinality + 1];
        for (id, _) in pairs.clone() {
            starts[id as usize + 1] += 1;
        }
        for i in 0..cardinality {
            starts[i + 1] += starts[i];
        }
        let mut cursor = starts.clone();
        let mut docs = vec![0u32; starts[cardinality] as usize];
        for (id, doc) in pairs {
            let slot = &mut cursor[id as usize];
            docs[*slot as usize] = doc;
            *slot += 1;
        }
        Postings { starts, docs }
    }

    pub fn docs_of(&self, id: u32) -> &[u32] {
        &self.docs[self.starts[id as usize] as usize..self.starts[id as usize + 1] as usize]
    }

    pub fn cardinality(&self) -> usize {
        self.starts.len() - 1
    }
}

pub fn encode_bitmap(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut out = Vec::with_capacity(bitmap.serialized_size());
    // Writing into a Vec cannot fail.
    let _ = bitmap.serialize_into(&mut out);
    out
}

pub fn decode_bitmap(bytes: &[u8]) -> Result<RoaringBitmap, String> {
    RoaringBitmap::deserialize_from(bytes)
        .map_err(|error| format!("bitmap does not decode: {error}"))
}

/// Cookie of a portable roaring bitmap without run containers (RoaringFormatSpec).
const SERIAL_COOKIE_NO_RUNCONTAINER: u32 = 12346;
/// Largest array container; more values become a 8 KiB bitmap container.
const ARRAY_CONTAINER_MAX: usize = 4096;

/// Ascending docs with repeats removed (a multi-value cell may repeat a value);
/// borrowed when there are none.
fn without_repeats(docs: &[u32]) -> std::borrow::Cow<'_, [u32]> {
    if docs.windows(2).all(|w| w[0] < w[1]) {
        std::borrow::Cow::Borrowed(docs)
    } else {
        let mut unique = docs.to_vec();
        unique.dedup();
        std::borrow::Cow::Owned(unique)
    }
}

/// Roaring containers of ascending, repeat-free docs: (high 16 bits, index range).
fn containers(docs: &[u32]) -> impl Iterator<Item = (u16, std::ops::Range<usize>)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        let key = *docs.get(start)? >> 16;
        let end = start + docs[start..].partition_point(|doc| doc >> 16 == key);
        let range = start..end;
        start = end;
        Some((key as u16, range))
    })
}

/// Bytes of one container's values: an array of u16 or an 8 KiB bitmap.
fn container_len(count: usize) -> usize {
    if count <= ARRAY_CONTAINER_MAX {
        count * 2
    } else {
        8192
    }
}

/// Append the portable roaring serialization of ascending docs (repeats skipped)
/// without building a `RoaringBitmap`: the hot path of inverted-index builds.
pub fn serialize_sorted_docs(docs: &[u32], out: &mut Vec<u8>) {
    let docs = without_repeats(docs);
    let containers: Vec<(u16, std::ops::Range<usize>)> = containers(&docs).collect();
    let base = out.len();
    out.extend_from_slice(&SERIAL_COOKIE_NO_RUNCONTAINER.to_le_bytes());
    out.extend_from_slice(&(containers.len() as u32).to_le_bytes());
    for (key, range) in &containers {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&((range.len() - 1) as u16).to_le_bytes());
    }
    let mut offset = 8 + containers.len() * 8;
    for (_, range) in &containers {
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        offset += container_len(range.len());
    }
    for (_, range) in &containers {
        let values = &docs[range.clone()];
        if values.len() <= ARRAY_CONTAINER_MAX {
            for doc in values {
                out.extend_from_slice(&(*doc as u16).to_le_bytes());
            }
        } else {
            let mut words = [0u64; 1024];
            for doc in values {
                let low = (*doc & 0xffff) as usize;
                words[low / 64] |= 1 << (low % 64);
            }
            for word in words {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
    }
    debug_assert_eq!(out.len() - base, offset);
}

/// Length of [`serialize_sorted_docs`]'s output for ascending docs (repeats skipped).
pub fn serialized_docs_len(docs: &[u32]) -> usize {
    let docs = without_repeats(docs);
    8 + containers(&docs)
        .map(|(_, range)| 8 + container_len(range.len()))
        .sum::<usize>()
}

/// Write the inverted index section piece by piece: the offset table (from computed
/// lengths), then each id's bitmap, without holding the whole section in memory.
pub fn write_inverted(
    postings: &Postings,
    stream: &mut crate::format::SectionStream<'_>,
) -> crate::Result<()> {
    let cardinality = postings.cardinality();
    let mut buffer = Vec::with_capacity(1 << 16);
    let mut offset = 0u64;
    buffer.extend_from_slice(&offset.to_le_bytes());
    for id in 0..cardinality {
        offset += serialized_docs_len(postings.docs_of(id as u32)) as u64;
        buffer.extend_from_slice(&offset.to_le_bytes());
        if buffer.len() >= 1 << 16 {
            stream.write(&buffer)?;
            buffer.clear();
        }
    }
    for id in 0..cardinality {
        serialize_sorted_docs(postings.docs_of(id as u32), &mut buffer);
        if buffer.len() >= 1 << 16 {
            stream.write(&buffer)?;
            buffer.clear();
        }
    }
    stream.write(&buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn test_serialized_docs_decode_as_roaring(mut docs in proptest::collection::vec(0u32..300_000, 0..9000), dense in any::<bool>()) {
            if dense {
                docs.extend(70_000..76_000);
            }
            docs.sort_unstable();
            let mut bytes = Vec::new();
            serialize_sorted_docs(&docs, &mut bytes);
            prop_assert_eq!(bytes.len(), serialized_docs_len(&docs));
            let decoded = decode_bitmap(&bytes).expect("valid roaring");
            let expected: RoaringBitmap = docs.iter().copied().collect();
            prop_assert_eq!(decoded, expected);
        }
    }
}

#[derive(Clone)]
pub struct InvertedIndex {
    cardinality: usize,
    offsets: OwnedBytes,
    bitmaps: OwnedBytes,
}

impl InvertedIndex {
    pub fn open(cardinality: usize, data: OwnedBytes) -> Result<InvertedIndex, String> {
        let offsets_len = cardinality
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .ok_or("inverted index cardinality is too large")?;
        let mut cursor = ByteCursor::new(data.as_slice());
        let offsets = cursor
            .take(offsets_len)
            .ok_or("inverted index offsets are truncated")?;
        let bitmaps_len = cursor.remaining() as u64;
        let mut previous = 0u64;
        for id in 0..=cardinality {
            let offset = read_u64(offsets, id * 8);
            if offset < previous || offset > bitmaps_len || (id == 0 && offset != 0) {
                return Err("inverted index offsets are inconsistent".into());
            }
            previous = offset;
        }
        if previous != bitmaps_len {
            return Err("inverted index offsets do not cover the bitmaps".into());
        }
        Ok(InvertedIndex {
            cardinality,
            offsets: data.slice(0..offsets_len),
            bitmaps: data.slice(offsets_len..data.len()),
        })
    }

    /// Docs holding dictionary id `id`.
    pub fn bitmap(&self, id: u32) -> Result<RoaringBitmap, String> {
        if id as usize >= self.cardinality {
            return Ok(RoaringBitmap::new());
        }
        let offsets = self.offsets.as_slice();
        let start = read_u64(offsets, id as usize * 8) as usize;
        let end = read_u64(offsets, id as usize * 8 + 8) as usize;
        decode_bitmap(&self.bitmaps.as_slice()[start..end])
    }
}

pub fn encode_sorted(ranges: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ranges.len() * 8);
    for (start, end) in ranges {
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&end.to_le_bytes());
    }
    out
}

#[derive(Clone)]
pub struct SortedIndex {
    data: OwnedBytes,
}

impl SortedIndex {
    pub fn open(
        cardinality: usize,
        row_count: u32,
        data: OwnedBytes,
    ) -> Result<SortedIndex, String> {
        if Some(data.len()) != cardinality.checked_mul(8) {
            return Err("sorted index has the wrong size".into());
        }
        let bytes = data.as_slice();
        let mut previous_end = 0u32;
        for id in 0..cardinality {
            let start = read_u32(bytes, id * 8);
            let end = read_u32(bytes, id * 8 + 4);
            if start > end || end > row_count || (start < end && start < previous_end) {
                return Err("sorted index ranges are inconsistent".into());
            }
            if start < end {
                previous_end = end;
            }
        }
        Ok(SortedIndex { data })
    }

    /// Docs holding dictionary id `id`, as a half-open range.
    pub fn range(&self, id: u32) -> Range<u32> {
        let bytes = self.data.as_slice();
        let index = id as usize * 8;
        if index + 8 > bytes.len() {
            return 0..0;
        }
        read_u32(bytes, index)..read_u32(bytes, index + 4)
    }

    /// Docs holding any id in `ids` (ids are sorted, so this is one range).
    pub fn range_of_ids(&self, ids: Range<u32>) -> Range<u32> {
        let mut start = u32::MAX;
        let mut end = 0;
        for id in ids {
            let range = self.range(id);
            if !range.is_empty() {
                start = start.min(range.start);
                end = end.max(range.end);
            }
        }
        if start >= end { 0..0 } else { start..end }
    }
}
