//! Bit-packed unsigned integers (dictionary ids, up to 32 bits each).
//!
//! Layout: value `i` occupies bits `[i * bits, (i + 1) * bits)` of a little-endian bit
//! stream. The encoded buffer ends with 8 zero bytes of padding so a reader can always
//! load one unaligned `u64` at the byte holding a value's first bit.

/// Bits needed to store ids `0..cardinality` (0 when there is at most one id).
pub fn bits_for_cardinality(cardinality: u64) -> u8 {
    if cardinality <= 1 {
        0
    } else {
        (64 - (cardinality - 1).leading_zeros()) as u8
    }
}

/// Size in bytes of `count` packed values of `bits` bits, padding included.
pub fn packed_len(count: usize, bits: u8) -> usize {
    (count * usize::from(bits)).div_ceil(8) + 8
}

/// Packs values into a bit stream. Values must fit in `bits` bits.
pub struct BitPacker {
    bits: u8,
    buffer: Vec<u8>,
    accumulator: u64,
    filled: u32,
}

impl BitPacker {
    pub fn new(bits: u8, expected_count: usize) -> BitPacker {
        debug_assert!(bits <= 32);
        BitPacker {
            bits,
            buffer: Vec::with_capacity(packed_len(expected_count, bits)),
            accumulator: 0,
            filled: 0,
        }
    }

    #[inline]
    pub fn push(&mut self, value: u32) {
        if self.bits == 0 {
            return;
        }
        debug_assert!(u64::from(value) < (1u64 << self.bits));
        self.accumulator |= u64::from(value) << self.filled;
        self.filled += u32::from(self.bits);
        if self.filled >= 32 {
            self.buffer
                .extend_from_slice(&(self.accumulator as u32).to_le_bytes());
            self.accumulator >>= 32;
            self.filled -= 32;
        }
    }

    /// Flush the tail and append the 8 padding bytes.
    pub fn finish(mut self) -> Vec<u8> {
        while self.filled > 0 {
            self.buffer.push(self.accumulator as u8);
            self.accumulator >>= 8;
            self.filled = self.filled.saturating_sub(8);
        }
        self.buffer.extend_from_slice(&[0u8; 8]);
        self.buffer
    }
}

/// Unpack `out.len()` (a multiple of 8) values of `B` bits starting at `first_byte`:
/// eight values fill exactly `B` bytes, so every load offset and shift inside a group of
/// eight is known at compile time (for `B` ≤ 8 one u64 load holds the whole group, and
/// the compiler vectorizes the loop).
#[inline]
fn unpack_eights<const B: usize>(data: &[u8], first_byte: usize, out: &mut [u32]) {
    let mask = (1u64 << B) - 1;
    // The bytes loaded for one group: up to the 8-byte load of its last value. The
    // caller checked that `data` holds them for every group.
    let window = 7 * B / 8 + 8;
    for (g, group) in out.chunks_exact_mut(8).enumerate() {
        let start = first_byte + g * B;
        let Some(bytes) = data.get(start..start + window) else {
            return;
        };
        if B <= 8 {
            let word = load_u64(bytes, 0);
            for (j, slot) in group.iter_mut().enumerate() {
                *slot = ((word >> (j * B)) & mask) as u32;
            }
        } else {
            for (j, slot) in group.iter_mut().enumerate() {
                let bit = j * B;
                *slot = ((load_u64(bytes, bit / 8) >> (bit % 8)) & mask) as u32;
            }
        }
    }
}

#[inline(always)]
fn load_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Whether `docs` ascend with no doc repeated, as every reader of docs takes them
/// (checked in debug builds: a check per read cost a sixth of TPC-H Q1 in release).
pub fn distinct_ascending(docs: &[u32]) -> bool {
    docs.windows(2)
        .fold(0u32, |bad, pair| bad | u32::from(pair[0] >= pair[1]))
        == 0
}

/// Docs spread over at most this many rows each decode their whole span
/// ([`BitUnpacker::extend_from_docs`]).
const DENSE_SPAN_PER_DOC: usize = 4;

/// Read access to a packed buffer that has been length-checked with [`packed_len`].
#[derive(Clone, Copy)]
pub struct BitUnpacker<'a> {
    data: &'a [u8],
    bits: u8,
    mask: u64,
}

impl<'a> BitUnpacker<'a> {
    /// `data` must be at least `packed_len(count, bits)` bytes: the caller checks this
    /// once when the segment is opened, so `get` never reads out of bounds for `index < count`.
    pub fn new(data: &'a [u8], bits: u8) -> BitUnpacker<'a> {
        let mask = if bits == 0 { 0 } else { (1u64 << bits) - 1 };
        BitUnpacker { data, bits, mask }
    }

    #[inline]
    pub fn get(&self, index: usize) -> u32 {
        if self.bits == 0 {
            return 0;
        }
        let bit = index * usize::from(self.bits);
        let byte = bit / 8;
        let word = match self.data.get(byte..byte + 8) {
            Some(slice) => {
                let mut array = [0u8; 8];
                array.copy_from_slice(slice);
                u64::from_le_bytes(array)
            }
            // Unreachable for a length-checked buffer; returning 0 keeps a bad caller
            // from panicking, and the open-time check makes it impossible for files.
            None => 0,
        };
        ((word >> (bit % 8)) & self.mask) as u32
    }

    /// Decode `out.len()` consecutive values starting at `start`.
    pub fn get_range(&self, start: usize, out: &mut [u32]) {
        let bits = usize::from(self.bits);
        let end_bit = (start + out.len()) * bits;
        // The last load reads 8 bytes from the byte of the last value's first bit.
        let needed = if out.is_empty() {
            0
        } else {
            (end_bit.saturating_sub(1)) / 8 + 8
        };
        if bits == 0 || needed > self.data.len() {
            for (offset, slot) in out.iter_mut().enumerate() {
                *slot = self.get(start + offset);
            }
            return;
        }
        let data = &self.data[..needed];
        let mut i = 0;
        // From a value index that is a multiple of 8 on, groups of eight values start on
        // a byte boundary.
        while i < out.len() && !(start + i).is_multiple_of(8) {
            out[i] = self.get(start + i);
            i += 1;
        }
        let first_byte = (start + i) * bits / 8;
        let whole = (out.len() - i) / 8 * 8;
        let groups = &mut out[i..i + whole];
        macro_rules! by_width {
            ($($b:literal)*) => {
                match bits {
                    $($b => {
                        unpack_eights::<$b>(data, first_byte, groups);
                        i += whole;
                    })*
                    _ => {}
                }
            };
        }
        by_width!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
        // One running bit position, one bounds check per value, no multiply.
        let mut bit = (start + i) * bits;
        for slot in out[i..].iter_mut() {
            let byte = bit / 8;
            let mut word = [0u8; 8];
            word.copy_from_slice(&data[byte..byte + 8]);
            *slot = ((u64::from_le_bytes(word) >> (bit % 8)) & self.mask) as u32;
            bit += bits;
        }
    }

    /// Append the values at `docs` (ascending, none repeated): a contiguous run decodes
    /// in one pass; docs that cover at least a quarter of their span decode the whole
    /// span and keep theirs (a sequential unpack beats a shifted load per doc); sparser
    /// docs are read one by one.
    pub fn extend_from_docs(&self, docs: &[u32], out: &mut Vec<u32>) {
        let (Some(first), Some(last)) = (docs.first(), docs.last()) else {
            return;
        };
        let span = (last - first) as usize + 1;
        let start = out.len();
        // Repeated docs could fill a span as distinct ones do (`5, 5, 7`): callers pass
        // every doc once (a multi-value GROUP BY reads its values in layers).
        debug_assert!(distinct_ascending(docs), "docs repeat or descend");
        if span <= docs.len().saturating_mul(DENSE_SPAN_PER_DOC) {
            out.resize(start + span, 0);
            self.get_range(*first as usize, &mut out[start..]);
            if span > docs.len() {
                // In place: doc `i` sits at `doc - first >= i` (docs ascend), so every
                // read is at or after the slot written.
                let decoded = &mut out[start..];
                for (i, doc) in docs.iter().enumerate() {
                    let at = (doc - first) as usize;
                    if let Some(value) = decoded.get(at).copied() {
                        decoded[i] = value;
                    }
                }
                out.truncate(start + docs.len());
            }
        } else {
            out.extend(docs.iter().map(|doc| self.get(*doc as usize)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_bits_for_cardinality() {
        assert_eq!(bits_for_cardinality(0), 0);
        assert_eq!(bits_for_cardinality(1), 0);
        assert_eq!(bits_for_cardinality(2), 1);
        assert_eq!(bits_for_cardinality(7), 3);
        assert_eq!(bits_for_cardinality(8), 3);
        assert_eq!(bits_for_cardinality(9), 4);
        assert_eq!(bits_for_cardinality(1 << 32), 32);
    }

    proptest! {
        #[test]
        fn test_pack_roundtrip(bits in 0u8..=32, seed in proptest::collection::vec(any::<u32>(), 0..300)) {
            let mask = if bits == 0 { 0 } else { ((1u64 << bits) - 1) as u32 };
            let values: Vec<u32> = seed.iter().map(|v| v & mask).collect();
            let mut packer = BitPacker::new(bits, values.len());
            for v in &values { packer.push(*v); }
            let packed = packer.finish();
            prop_assert_eq!(packed.len(), packed_len(values.len(), bits));
            let unpacker = BitUnpacker::new(&packed, bits);
            for (i, v) in values.iter().enumerate() {
                prop_assert_eq!(unpacker.get(i), *v);
            }
            if !values.is_empty() {
                let start = values.len() / 3;
                let mut range = vec![0u32; values.len() - start];
                unpacker.get_range(start, &mut range);
                prop_assert_eq!(&range[..], &values[start..]);
                let docs: Vec<u32> = (start as u32..values.len() as u32).collect();
                let mut extended = vec![7u32];
                unpacker.extend_from_docs(&docs, &mut extended);
                prop_assert_eq!(&extended[1..], &values[start..]);
                // Docs with gaps: dense (every other, a span decoded whole) and sparse
                // (every ninth, read one by one).
                for step in [2usize, 3, 9] {
                    let docs: Vec<u32> = (start..values.len()).step_by(step).map(|d| d as u32).collect();
                    let mut extended = vec![7u32];
                    unpacker.extend_from_docs(&docs, &mut extended);
                    let expected: Vec<u32> = docs.iter().map(|d| values[*d as usize]).collect();
                    prop_assert_eq!(&extended[1..], &expected[..]);
                }
            }
        }
    }
}
