//! Range index: the column's docs ordered by value and cut into buckets, each with its
//! key range and a bitmap of its docs. A range predicate takes whole buckets that lie
//! inside it and re-checks only the docs of the (at most two) buckets on its edges.
//!
//! Keys are order-preserving u64s: the dictionary id for dictionary columns, the value
//! mapped by [`order_key_i64`] / [`order_key_f64`] for raw numeric columns.
//! Layout: `bucket_count u32 | (min_key u64, max_key u64) × bucket_count |
//! offsets u64 × (bucket_count + 1) | bitmaps`.

use std::ops::Bound;

use roaring::RoaringBitmap;
use tantivy::directory::OwnedBytes;

use crate::format::{ByteCursor, read_u64};
use crate::inverted::{Postings, decode_bitmap, serialize_sorted_docs};

/// Docs per bucket: small enough that edge buckets are cheap to re-check.
fn bucket_target(rows: usize) -> usize {
    (rows / 128).max(1024)
}

/// Order-preserving key of a signed integer.
pub fn order_key_i64(value: i64) -> u64 {
    (value as u64) ^ (1 << 63)
}

/// Order-preserving key of a float in IEEE total order.
pub fn order_key_f64(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Buckets as (min key, max key, ascending docs).
fn encode(buckets: Vec<(u64, u64, Vec<u32>)>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(buckets.len() as u32).to_le_bytes());
    for (min, max, _) in &buckets {
        out.extend_from_slice(&min.to_le_bytes());
        out.extend_from_slice(&max.to_le_bytes());
    }
    let encoded: Vec<Vec<u8>> = buckets
        .iter()
        .map(|(_, _, docs)| {
            let mut bytes = Vec::new();
            serialize_sorted_docs(docs, &mut bytes);
            bytes
        })
        .collect();
    let mut offset = 0u64;
    out.extend_from_slice(&offset.to_le_bytes());
    for bitmap in &encoded {
        offset += bitmap.len() as u64;
        out.extend_from_slice(&offset.to_le_bytes());
    }
    for bitmap in encoded {
        out.extend_from_slice(&bitmap);
    }
    out
}

/// Range index of a dictionary column, from its postings (keys are dictionary ids).
pub fn build_from_postings(postings: &Postings, rows: usize) -> Vec<u8> {
    let target = bucket_target(rows);
    let mut buckets = Vec::new();
    let mut current: Option<(u64, u64, Vec<u32>)> = None;
    let close = |bucket: Option<(u64, u64, Vec<u32>)>, buckets: &mut Vec<(u64, u64, Vec<u32>)>| {
        if let Some((min, max, mut docs)) = bucket {
            docs.sort_unstable();
            buckets.push((min, max, docs));
        }
    };
    for id in 0..postings.cardinality() as u32 {
        let docs = postings.docs_of(id);
        if docs.is_empty() {
            continue;
        }
        let bucket = current.get_or_insert_with(|| (u64::from(id), u64::from(id), Vec::new()));
        bucket.1 = u64::from(id);
        bucket.2.extend_from_slice(docs);
        if bucket.2.len() >= target {
            close(current.take(), &mut buckets);
        }
    }
    close(current, &mut buckets);
    encode(buckets)
}

/// Range index of a raw column from `(key, doc)` pairs of its non-null docs.
pub fn build_from_keys(mut pairs: Vec<(u64, u32)>, rows: usize) -> Vec<u8> {
    pairs.sort_unstable();
    let target = bucket_target(rows);
    let mut buckets = Vec::new();
    let mut start = 0;
    while start < pairs.len() {
        let mut end = (start + target).min(pairs.len());
        while end < pairs.len() && pairs[end].0 == pairs[end - 1].0 {
            end += 1;
        }
        let slice = &pairs[start..end];
        let mut docs: Vec<u32> = slice.iter().map(|(_, doc)| *doc).collect();
        docs.sort_unstable();
        buckets.push((slice[0].0, slice[slice.len() - 1].0, docs));
        start = end;
    }
    encode(buckets)
}

/// The docs a range lookup found: `matching` certainly satisfy the range;
/// `candidates` might and must be re-checked against the forward index.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RangeMatch {
    pub matching: RoaringBitmap,
    pub candidates: RoaringBitmap,
}

#[derive(Clone)]
pub struct RangeIndex {
    keys: Vec<(u64, u64)>,
    offsets: Vec<u64>,
    bitmaps: OwnedBytes,
}

impl RangeIndex {
    pub fn open(data: OwnedBytes) -> Result<RangeIndex, String> {
        let mut cursor = ByteCursor::new(data.as_slice());
        let truncated = || "range index header is truncated".to_string();
        let count = cursor.u32().ok_or_else(truncated)? as usize;
        let key_bytes = cursor
            .take(count.checked_mul(16).ok_or_else(truncated)?)
            .ok_or_else(truncated)?;
        let offset_bytes = cursor.take((count + 1) * 8).ok_or_else(truncated)?;
        let keys: Vec<(u64, u64)> = (0..count)
            .map(|i| (read_u64(key_bytes, i * 16), read_u64(key_bytes, i * 16 + 8)))
            .collect();
        let offsets: Vec<u64> = (0..=count).map(|i| read_u64(offset_bytes, i * 8)).collect();
        let bitmaps_len = cursor.remaining() as u64;
        if offsets.first() != Some(&0)
            || offsets.windows(2).any(|w| w[0] > w[1])
            || offsets.last() != Some(&bitmaps_len)
            || keys.iter().any(|(min, max)| min > max)
            || keys.windows(2).any(|w| w[0].1 > w[1].0)
        {
            return Err("range index buckets are inconsistent".into());
        }
        let start = data.len() - cursor.remaining();
        Ok(RangeIndex {
            keys,
            offsets,
            bitmaps: data.slice(start..data.len()),
        })
    }

    fn bitmap(&self, bucket: usize) -> Result<RoaringBitmap, String> {
        let start = self.offsets[bucket] as usize;
        let end = self.offsets[bucket + 1] as usize;
        decode_bitmap(&self.bitmaps.as_slice()[start..end])
    }

    /// Docs whose key lies within the bounds.
    pub fn lookup(&self, low: Bound<u64>, high: Bound<u64>) -> Result<RangeMatch, String> {
        let above_low = |key: u64| match low {
            Bound::Included(l) => key >= l,
            Bound::Excluded(l) => key > l,
            Bound::Unbounded => true,
        };
        let below_high = |key: u64| match high {
            Bound::Included(h) => key <= h,
            Bound::Excluded(h) => key < h,
            Bound::Unbounded => true,
        };
        let mut result = RangeMatch::default();
        for (bucket, (min, max)) in self.keys.iter().enumerate() {
            let disjoint = !below_high(*min) || !above_low(*max);
            if disjoint {
                continue;
            }
            let bitmap = self.bitmap(bucket)?;
            if above_low(*min) && below_high(*max) {
                result.matching |= bitmap;
            } else {
                result.candidates |= bitmap;
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_order_keys_preserve_order() {
        let ints = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        assert!(
            ints.windows(2)
                .all(|w| order_key_i64(w[0]) < order_key_i64(w[1]))
        );
        let floats = [
            f64::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
            f64::NAN,
        ];
        assert!(
            floats
                .windows(2)
                .all(|w| order_key_f64(w[0]) < order_key_f64(w[1]))
        );
    }

    #[test]
    fn test_lookup_agrees_with_scan() {
        let values: Vec<i64> = (0..10_000).map(|i| (i * 7919) % 1000).collect();
        let pairs = values
            .iter()
            .enumerate()
            .map(|(doc, v)| (order_key_i64(*v), doc as u32))
            .collect();
        let index =
            RangeIndex::open(OwnedBytes::new(build_from_keys(pairs, values.len()))).expect("open");
        let found = index
            .lookup(
                Bound::Included(order_key_i64(100)),
                Bound::Excluded(order_key_i64(250)),
            )
            .expect("lookup");
        let mut answer = found.matching.clone();
        for doc in &found.candidates {
            if (100..250).contains(&values[doc as usize]) {
                answer.insert(doc);
            }
        }
        let expected: RoaringBitmap = values
            .iter()
            .enumerate()
            .filter(|(_, v)| (100..250).contains(*v))
            .map(|(doc, _)| doc as u32)
            .collect();
        assert_eq!(answer, expected);
        assert!(found.candidates.len() < 3000);
    }
}
