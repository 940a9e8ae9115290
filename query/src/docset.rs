//! [`DocSet`]: the docs of one segment that passed (part of) the filter — a contiguous
//! range (sorted-column and whole-segment matches) or a roaring bitmap.

use std::ops::Range;

use roaring::RoaringBitmap;

use crate::error::QueryResult;

/// Docs read per block by scans and aggregations. Blocks never straddle a multiple of
/// `BLOCK`, and `BLOCK` is a multiple of every raw chunk size (4,096 fixed-width rows,
/// 256 strings), so a scan decompresses each raw chunk once.
pub const BLOCK: usize = 16_384;

#[derive(Debug, Clone, PartialEq)]
pub enum DocSet {
    Range(Range<u32>),
    Bitmap(RoaringBitmap),
}

impl DocSet {
    pub fn all(num_docs: u32) -> DocSet {
        DocSet::Range(0..num_docs)
    }

    pub fn empty() -> DocSet {
        DocSet::Range(0..0)
    }

    pub fn len(&self) -> u64 {
        match self {
            DocSet::Range(range) => u64::from(range.end.saturating_sub(range.start)),
            DocSet::Bitmap(bitmap) => bitmap.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_bitmap(&self) -> RoaringBitmap {
        match self {
            DocSet::Range(range) => {
                let mut bitmap = RoaringBitmap::new();
                if range.start < range.end {
                    bitmap.insert_range(range.clone());
                }
                bitmap
            }
            DocSet::Bitmap(bitmap) => bitmap.clone(),
        }
    }

    pub fn and(&self, other: &DocSet) -> DocSet {
        match (self, other) {
            (DocSet::Range(a), DocSet::Range(b)) => {
                let start = a.start.max(b.start);
                let end = a.end.min(b.end).max(start);
                DocSet::Range(start..end)
            }
            (DocSet::Range(range), DocSet::Bitmap(bitmap))
            | (DocSet::Bitmap(bitmap), DocSet::Range(range)) => {
                let mut out = bitmap.clone();
                if range.start > 0 {
                    out.remove_range(0..range.start);
                }
                out.remove_range(range.end..);
                DocSet::Bitmap(out)
            }
            (DocSet::Bitmap(a), DocSet::Bitmap(b)) => DocSet::Bitmap(a & b),
        }
    }

    pub fn or(&self, other: &DocSet) -> DocSet {
        match (self, other) {
            (DocSet::Range(a), DocSet::Range(b))
                if a.start <= b.end && b.start <= a.end || a.is_empty() || b.is_empty() =>
            {
                if a.is_empty() {
                    return DocSet::Range(b.clone());
                }
                if b.is_empty() {
                    return DocSet::Range(a.clone());
                }
                DocSet::Range(a.start.min(b.start)..a.end.max(b.end))
            }
            _ => DocSet::Bitmap(self.to_bitmap() | other.to_bitmap()),
        }
    }

    /// `self` minus `other`.
    pub fn minus(&self, other: &RoaringBitmap) -> DocSet {
        if other.is_empty() {
            return self.clone();
        }
        DocSet::Bitmap(self.to_bitmap() - other)
    }

    /// Visit the docs in ascending blocks of at most [`BLOCK`].
    pub fn for_each_block(
        &self,
        mut visit: impl FnMut(&[u32]) -> QueryResult<bool>,
    ) -> QueryResult<()> {
        let mut block = Vec::with_capacity(BLOCK);
        match self {
            DocSet::Range(range) => {
                let mut start = range.start;
                while start < range.end {
                    let aligned = (start / BLOCK as u32 + 1).saturating_mul(BLOCK as u32);
                    let end = range.end.min(aligned);
                    block.clear();
                    block.extend(start..end);
                    if !visit(&block)? {
                        return Ok(());
                    }
                    start = end;
                }
            }
            DocSet::Bitmap(bitmap) => {
                // Window by window: a full window is its range (no doc taken out of
                // the bitmap one by one); others take roaring's `next_many`, checked
                // against the window's count. (roaring 0.12's `next_many` skips a
                // container that is one full run, whose length overflows a u16; a
                // window is shorter than a container, and a miscount falls back to the
                // iterator.)
                let (Some(min), Some(max)) = (bitmap.min(), bitmap.max()) else {
                    return Ok(());
                };
                let window_len = BLOCK as u64;
                for window in u64::from(min) / window_len..=u64::from(max) / window_len {
                    let start = window * window_len;
                    let end = (start + window_len).min(u64::from(u32::MAX) + 1);
                    let range = start as u32..=(end - 1) as u32;
                    let count = bitmap.range_cardinality(range.clone());
                    if count == 0 {
                        continue;
                    }
                    block.clear();
                    if count == end - start {
                        block.extend(range);
                    } else {
                        // Many docs per call; the count read above checks the call.
                        block.resize(count as usize, 0);
                        let mut docs = bitmap.range(range.clone());
                        let mut filled = 0;
                        while filled < block.len() {
                            let taken = docs.next_many(&mut block[filled..]).len();
                            if taken == 0 {
                                break;
                            }
                            filled += taken;
                        }
                        if filled != block.len() || docs.next().is_some() {
                            block.clear();
                            bitmap.range(range).for_each(|doc| block.push(doc));
                        }
                    }
                    if !visit(&block)? {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}

/// The docs a scan keeps, collected block by block in ascending order: a list when the
/// candidates are few, else one bit per doc of the segment. Setting a bit costs less
/// than writing the doc into a list and turning the list into a bitmap afterwards.
pub enum Matches {
    Docs(Vec<u32>),
    Bits(Vec<u8>),
}

impl Matches {
    /// A collector for a scan of `candidates` in a segment of `num_docs` docs.
    pub fn new(candidates: &DocSet, num_docs: u32) -> Matches {
        if candidates.len().saturating_mul(32) >= u64::from(num_docs) {
            Matches::Bits(vec![0; num_docs.div_ceil(8) as usize])
        } else {
            Matches::Docs(Vec::new())
        }
    }

    /// Keep `docs[i]` for each `i` that `keep` passes, without a branch per doc (a
    /// filter's branch mispredicts on every other row near 50 % selectivity).
    #[inline]
    pub fn keep_where(&mut self, docs: &[u32], keep: impl Fn(usize) -> bool) {
        self.keep_by(docs, |start, lanes| {
            for (k, lane) in lanes.iter_mut().enumerate() {
                *lane = u8::from(keep(start + k));
            }
        });
    }

    /// Keep `docs[i]` for each `values[i]` that `test` passes (`values` has a value per
    /// doc). The tests run over slices of `values`, with no index checks, so they
    /// compile to vector compares.
    #[inline]
    pub fn keep_values<T: Copy>(&mut self, docs: &[u32], values: &[T], test: impl Fn(T) -> bool) {
        let Some(values) = values.get(..docs.len()) else {
            debug_assert!(false, "fewer values than docs");
            return;
        };
        self.keep_by(docs, |start, lanes| {
            let end = start + lanes.len();
            for (lane, value) in lanes.iter_mut().zip(&values[start..end]) {
                *lane = u8::from(test(*value));
            }
        });
    }

    /// Keep the docs whose flags `fill(start, lanes)` sets: it writes 1 or 0 for docs
    /// `start..start + lanes.len()`, 64 at a time (fewer at the ends).
    #[inline]
    fn keep_by(&mut self, docs: &[u32], mut fill: impl FnMut(usize, &mut [u8])) {
        let mut lanes = [0u8; 64];
        match self {
            Matches::Docs(matched) => {
                // Every doc is written; the end advances past the kept ones.
                let start = matched.len();
                matched.resize(start + docs.len(), 0);
                let out = &mut matched[start..];
                let mut end = 0;
                for (chunk, chunk_docs) in docs.chunks(64).enumerate() {
                    let lanes = &mut lanes[..chunk_docs.len()];
                    fill(chunk * 64, lanes);
                    for (doc, lane) in chunk_docs.iter().zip(lanes.iter()) {
                        if let Some(slot) = out.get_mut(end) {
                            *slot = *doc;
                        }
                        end += usize::from(*lane);
                    }
                }
                matched.truncate(start + end);
            }
            Matches::Bits(bits) => {
                let set = |bits: &mut Vec<u8>, doc: u32, lane: u8| {
                    if let Some(byte) = bits.get_mut((doc / 8) as usize) {
                        *byte |= lane << (doc % 8);
                    }
                };
                let (Some(&first), Some(&last)) = (docs.first(), docs.last()) else {
                    return;
                };
                if (last - first) as usize + 1 != docs.len() {
                    for (chunk, chunk_docs) in docs.chunks(64).enumerate() {
                        let lanes = &mut lanes[..chunk_docs.len()];
                        fill(chunk * 64, lanes);
                        for (doc, lane) in chunk_docs.iter().zip(lanes.iter()) {
                            set(bits, *doc, *lane);
                        }
                    }
                    return;
                }
                // Consecutive docs (a whole range, the common case): the docs before
                // the first byte boundary one by one, then 64 flags packed into a word
                // and stored at once, not one read-modify-write of a byte per doc.
                let head = ((8 - first as usize % 8) % 8).min(docs.len());
                let mut i = 0;
                while i < docs.len() {
                    let len = if i == 0 && head > 0 {
                        head
                    } else {
                        (docs.len() - i).min(64)
                    };
                    let chunk = &mut lanes[..len];
                    fill(i, chunk);
                    let start = (first as usize + i) / 8;
                    if len == 64
                        && let Some(bytes) = bits.get_mut(start..start + 8)
                    {
                        let word = pack_bits(&lanes);
                        for (byte, new) in bytes.iter_mut().zip(word.to_le_bytes()) {
                            *byte |= new;
                        }
                    } else {
                        for (k, lane) in chunk.iter().enumerate() {
                            set(bits, first + (i + k) as u32, *lane);
                        }
                    }
                    i += len;
                }
            }
        }
    }

    /// Keep `doc` (ascending after the docs kept before it).
    pub fn push(&mut self, doc: u32) {
        match self {
            Matches::Docs(matched) => matched.push(doc),
            Matches::Bits(bits) => {
                if let Some(byte) = bits.get_mut((doc / 8) as usize) {
                    *byte |= 1 << (doc % 8);
                }
            }
        }
    }

    pub fn into_bitmap(self) -> RoaringBitmap {
        match self {
            Matches::Docs(docs) => bitmap_from_ascending(docs),
            Matches::Bits(bits) => RoaringBitmap::from_lsb0_bytes(0, &bits),
        }
    }
}

/// Bit `k` of the word is byte `k` of `lanes` (each byte 0 or 1). Eight bytes read as a
/// little-endian word hold their flags at bits 0, 8, ..., 56; multiplying by
/// `0x0102040810204080` moves flag `k` to bit `56 + k` (every other product lands at a
/// distinct bit below 56 or above 63, so nothing carries into the top byte).
#[inline]
fn pack_bits(lanes: &[u8; 64]) -> u64 {
    let mut word = 0u64;
    for (k, eight) in lanes.chunks_exact(8).enumerate() {
        let mut flags = [0u8; 8];
        flags.copy_from_slice(eight);
        let flags = u64::from_le_bytes(flags);
        word |= (flags.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    word
}

/// A bitmap of docs collected in ascending order (one pass, no per-doc container lookup).
/// Dense docs (one in 16 or more of their span) set bits in a plain bit vector that
/// becomes the bitmap's containers whole, which costs a fraction of inserting each.
pub fn bitmap_from_ascending(docs: Vec<u32>) -> RoaringBitmap {
    if let (Some(first), Some(last)) = (docs.first(), docs.last())
        && docs.len() >= 1024
        && first <= last
        && (docs.len() as u64) * 16 > u64::from(last - first)
        && let Some(bitmap) = dense_bitmap(&docs, *first & !7, *last)
    {
        return bitmap;
    }
    match RoaringBitmap::from_sorted_iter(docs.iter().copied()) {
        Ok(bitmap) => bitmap,
        Err(_) => docs.into_iter().collect(),
    }
}

/// `docs` as bits from `base` (a multiple of 8) to `last`; `None` when some doc lies
/// outside (the docs were not ascending after all).
fn dense_bitmap(docs: &[u32], base: u32, last: u32) -> Option<RoaringBitmap> {
    let mut bytes = vec![0u8; ((last - base) / 8 + 1) as usize];
    for doc in docs {
        let offset = doc.checked_sub(base)?;
        *bytes.get_mut((offset / 8) as usize)? |= 1 << (offset % 8);
    }
    Some(RoaringBitmap::from_lsb0_bytes(base, &bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_bits_are_the_flags_in_order() {
        let mut seed = 11u64;
        for _ in 0..200 {
            let mut lanes = [0u8; 64];
            let mut expected = 0u64;
            for (bit, lane) in lanes.iter_mut().enumerate() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *lane = (seed >> 63) as u8;
                expected |= u64::from(*lane) << bit;
            }
            assert_eq!(pack_bits(&lanes), expected);
        }
        assert_eq!(pack_bits(&[1; 64]), u64::MAX);
        assert_eq!(pack_bits(&[0; 64]), 0);
    }

    #[test]
    fn matches_as_a_list_or_as_bits_make_the_same_bitmap() {
        let num_docs = 100_000u32;
        let keep = |doc: u32| doc.is_multiple_of(3) || doc % 1000 < 10;
        for candidates in [
            DocSet::all(num_docs),
            DocSet::Range(3..num_docs - 5),
            DocSet::Bitmap((0..num_docs).step_by(7).collect()),
            DocSet::Bitmap((50..90).collect()),
            DocSet::Bitmap((13..40_000).collect()),
            DocSet::Range(5..70),
            DocSet::Range(9..12),
        ] {
            let expected: RoaringBitmap =
                candidates.to_bitmap().iter().filter(|d| keep(*d)).collect();
            for mut matches in [
                Matches::new(&candidates, num_docs),
                Matches::Docs(Vec::new()),
                Matches::Bits(vec![0; num_docs.div_ceil(8) as usize]),
            ] {
                candidates
                    .for_each_block(|docs| {
                        matches.keep_where(docs, |i| keep(docs[i]));
                        Ok(true)
                    })
                    .expect("visits");
                assert_eq!(matches.into_bitmap(), expected);
            }
            for mut matches in [
                Matches::Docs(Vec::new()),
                Matches::Bits(vec![0; num_docs.div_ceil(8) as usize]),
            ] {
                candidates
                    .for_each_block(|docs| {
                        // Each doc's value is the doc itself, with more values than docs.
                        let mut values = docs.to_vec();
                        values.push(3);
                        matches.keep_values(docs, &values, keep);
                        Ok(true)
                    })
                    .expect("visits");
                assert_eq!(matches.into_bitmap(), expected, "kept by values");
            }
            let mut pushed = Matches::new(&candidates, num_docs);
            for doc in candidates.to_bitmap().iter().filter(|d| keep(*d)) {
                pushed.push(doc);
            }
            assert_eq!(pushed.into_bitmap(), expected, "pushed one by one");
        }
        assert!(matches!(
            Matches::new(&DocSet::all(num_docs), num_docs),
            Matches::Bits(_)
        ));
        assert!(matches!(
            Matches::new(&DocSet::Bitmap((50..90).collect()), num_docs),
            Matches::Docs(_)
        ));
    }

    #[test]
    fn bitmap_blocks_are_the_docs_split_at_window_bounds() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let dense: RoaringBitmap = (0..200_000u32).filter(|_| random() % 10 != 0).collect();
        let sparse: RoaringBitmap = (0..300)
            .map(|_| (random() % 4_000_000_000) as u32)
            .collect();
        let edge: RoaringBitmap = [0, 16_383, 16_384, u32::MAX - 1, u32::MAX]
            .into_iter()
            .collect();
        // Ranges (run containers), as zone maps and sorted columns make them.
        let mut ranges = RoaringBitmap::new();
        for start in (0..1_000_000u32).step_by(12_288) {
            ranges.insert_range(start..start + 4_096);
        }
        let mut halves = RoaringBitmap::new();
        halves.insert_range(5..70_000);
        halves.insert_range(100_000..100_001);
        // Whole containers as one run each (what roaring's `next_many` skipped).
        let mut full = RoaringBitmap::new();
        full.insert_range(0..200_000);
        full.remove_range(70_000..74_096);
        for bitmap in [
            dense,
            sparse,
            edge,
            ranges,
            halves,
            full,
            RoaringBitmap::new(),
        ] {
            let mut blocks: Vec<Vec<u32>> = Vec::new();
            DocSet::Bitmap(bitmap.clone())
                .for_each_block(|docs| {
                    blocks.push(docs.to_vec());
                    Ok(true)
                })
                .expect("visits");
            let windows: Vec<u32> = blocks.iter().map(|b| b[0] / BLOCK as u32).collect();
            for (block, window) in blocks.iter().zip(&windows) {
                assert!(block.iter().all(|doc| doc / BLOCK as u32 == *window));
            }
            assert!(
                windows.windows(2).all(|w| w[0] < w[1]),
                "one block per window"
            );
            let flat: Vec<u32> = blocks.concat();
            assert_eq!(flat, bitmap.iter().collect::<Vec<_>>());
        }
        // A visitor that stops is not called again.
        let mut calls = 0;
        DocSet::Bitmap((0..100_000).collect())
            .for_each_block(|_| {
                calls += 1;
                Ok(false)
            })
            .expect("visits");
        assert_eq!(calls, 1);
    }

    #[test]
    fn ascending_docs_and_others_make_the_same_bitmap() {
        let expected = RoaringBitmap::from_iter([1u32, 7, 70_000, 200_000]);
        assert_eq!(bitmap_from_ascending(vec![1, 7, 70_000, 200_000]), expected);
        assert_eq!(
            bitmap_from_ascending(vec![70_000, 1, 200_000, 7, 7]),
            expected
        );
        assert!(bitmap_from_ascending(Vec::new()).is_empty());
    }

    #[test]
    fn dense_docs_make_the_same_bitmap() {
        for (start, step, count) in [
            (0u32, 1u32, 5_000u32),
            (13, 3, 70_000),
            (65_531, 2, 40_000),
            (7, 16, 2_000),
        ] {
            let docs: Vec<u32> = (0..count).map(|i| start + i * step).collect();
            let expected: RoaringBitmap = docs.iter().copied().collect();
            assert_eq!(bitmap_from_ascending(docs.clone()), expected);
            // Out of order (not what callers promise): still the same set.
            let mut shuffled = docs.clone();
            shuffled.swap(0, (count / 2) as usize);
            shuffled.push(start + step);
            assert_eq!(bitmap_from_ascending(shuffled), expected);
        }
    }

    #[test]
    fn set_algebra() {
        let a = DocSet::Range(0..10);
        let b = DocSet::Bitmap(RoaringBitmap::from_iter([3u32, 5, 12]));
        assert_eq!(a.and(&b).to_bitmap(), RoaringBitmap::from_iter([3u32, 5]));
        assert_eq!(a.or(&b).len(), 11);
        assert_eq!(DocSet::Range(5..8).and(&DocSet::Range(9..12)).len(), 0);
        assert_eq!(
            DocSet::Range(0..3).or(&DocSet::Range(3..5)),
            DocSet::Range(0..5)
        );
        let mut blocks = Vec::new();
        DocSet::Range(100..40_000)
            .for_each_block(|block| {
                blocks.push((block[0], block.len()));
                Ok(true)
            })
            .expect("visits");
        assert_eq!(
            blocks,
            vec![(100, 16_284), (16_384, 16_384), (32_768, 7_232)]
        );
        let mut blocks = Vec::new();
        DocSet::Bitmap(RoaringBitmap::from_iter([1u32, 16_383, 16_384, 50_000]))
            .for_each_block(|block| {
                blocks.push(block.to_vec());
                Ok(true)
            })
            .expect("visits");
        assert_eq!(blocks, vec![vec![1, 16_383], vec![16_384], vec![50_000]]);
    }
}
