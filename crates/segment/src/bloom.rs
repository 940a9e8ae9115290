//! Bloom filter over a column's distinct values, for pruning whole segments on
//! equality and IN predicates.
//!
//! Layout: `num_bits u64 | num_hashes u32 | bit words (u64 LE) ...`. A value is hashed
//! from its canonical bytes (see [`canonical_bytes`]) with 64-bit FNV-1a followed by the
//! splitmix64 finalizer; probe `i` sets bit `(h1 + i * h2) mod num_bits` where
//! `h1 = mix(h)` and `h2 = mix(h ^ 0x9e3779b97f4a7c15) | 1`.

use crate::format::{ByteCursor, read_u64};
use crate::value::Value;

/// Target false-positive rate.
const FALSE_POSITIVE_RATE: f64 = 0.01;

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Canonical bytes of a value for hashing: integers (INT, LONG, TIMESTAMP, BOOLEAN) as
/// i64 LE; floats as f64 LE with -0.0 folded into 0.0 and every NaN into one; strings,
/// JSON and bytes as themselves. `None` for NULL and arrays.
pub fn canonical_bytes(value: &Value) -> Option<Vec<u8>> {
    let float = |v: f64| {
        let v = if v == 0.0 {
            0.0
        } else if v.is_nan() {
            f64::NAN
        } else {
            v
        };
        v.to_le_bytes().to_vec()
    };
    Some(match value {
        Value::Int(v) => i64::from(*v).to_le_bytes().to_vec(),
        Value::Long(v) | Value::Timestamp(v) => v.to_le_bytes().to_vec(),
        Value::Boolean(v) => i64::from(*v).to_le_bytes().to_vec(),
        Value::Float(v) => float(f64::from(*v)),
        Value::Double(v) => float(*v),
        Value::String(v) | Value::Json(v) => v.as_bytes().to_vec(),
        Value::Bytes(v) => v.clone(),
        Value::Null | Value::Array(_) => return None,
    })
}

fn probes(bytes: &[u8], num_bits: u64, num_hashes: u32) -> impl Iterator<Item = u64> {
    let hash = fnv1a(bytes);
    let h1 = mix(hash);
    let h2 = mix(hash ^ 0x9e37_79b9_7f4a_7c15) | 1;
    (0..u64::from(num_hashes)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % num_bits)
}

/// Build a filter for `distinct_count` values.
pub struct BloomBuilder {
    num_bits: u64,
    num_hashes: u32,
    words: Vec<u64>,
}

impl BloomBuilder {
    pub fn new(distinct_count: u64) -> BloomBuilder {
        let n = distinct_count.max(1) as f64;
        let ln2 = std::f64::consts::LN_2;
        let bits = (-(n * FALSE_POSITIVE_RATE.ln()) / (ln2 * ln2)).ceil() as u64;
        let num_bits = bits.max(64).div_ceil(64) * 64;
        let num_hashes = ((num_bits as f64 / n) * ln2).round().clamp(1.0, 16.0) as u32;
        BloomBuilder {
            num_bits,
            num_hashes,
            words: vec![0; (num_bits / 64) as usize],
        }
    }

    pub fn insert(&mut self, canonical: &[u8]) {
        for bit in probes(canonical, self.num_bits, self.num_hashes) {
            self.words[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.words.len() * 8);
        out.extend_from_slice(&self.num_bits.to_le_bytes());
        out.extend_from_slice(&self.num_hashes.to_le_bytes());
        for word in self.words {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out
    }
}

/// A filter read in place.
#[derive(Clone)]
pub struct BloomFilter {
    num_bits: u64,
    num_hashes: u32,
    words: tantivy::directory::OwnedBytes,
}

impl BloomFilter {
    pub fn open(data: tantivy::directory::OwnedBytes) -> Result<BloomFilter, String> {
        let mut cursor = ByteCursor::new(data.as_slice());
        let num_bits = cursor.u64().ok_or("bloom filter header is truncated")?;
        let num_hashes = cursor.u32().ok_or("bloom filter header is truncated")?;
        if num_bits == 0
            || num_bits % 64 != 0
            || !(1..=16).contains(&num_hashes)
            || Some(cursor.remaining() as u64) != num_bits.checked_div(8)
        {
            return Err("bloom filter header does not match its size".into());
        }
        Ok(BloomFilter {
            num_bits,
            num_hashes,
            words: data.slice(12..data.len()),
        })
    }

    /// False means the value is certainly absent from the column.
    pub fn might_contain(&self, value: &Value) -> bool {
        let Some(canonical) = canonical_bytes(value) else {
            return true;
        };
        let words = self.words.as_slice();
        probes(&canonical, self.num_bits, self.num_hashes).all(|bit| {
            let word = read_u64(words, (bit / 64) as usize * 8);
            word & (1 << (bit % 64)) != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_bloom_has_no_false_negatives_and_few_false_positives() {
        let mut builder = BloomBuilder::new(1000);
        for i in 0..1000i64 {
            builder.insert(&canonical_bytes(&Value::Long(i)).expect("scalar"));
        }
        let filter = BloomFilter::open(tantivy::directory::OwnedBytes::new(builder.finish()))
            .expect("valid");
        assert!((0..1000).all(|i| filter.might_contain(&Value::Long(i))));
        // An INT probe matches a LONG entry of the same value.
        assert!(filter.might_contain(&Value::Int(7)));
        let false_positives = (1000..11000)
            .filter(|i| filter.might_contain(&Value::Long(*i)))
            .count();
        assert!(false_positives < 300, "false positives: {false_positives}");
    }
}
