//! Sorted dictionaries on disk: id → value and value → id range at read time (built by
//! [`crate::dictionary_builder`]).
//!
//! On disk, fixed-width values are stored back to back (little-endian, ascending in the
//! total order of [`crate::value`]); variable-width values as `cardinality + 1` u32
//! offsets followed by the bytes, ascending lexicographically.

use std::cmp::Ordering;
use std::ops::{Bound, Range};

use tantivy::directory::OwnedBytes;
use tessera_config::DataType;

use crate::bitpack::{BitPacker, BitUnpacker, bits_for_cardinality, packed_len};
use crate::format::{read_u32, read_u64};
use crate::value::{PhysicalType, Value, value_from_bytes, value_from_i32, value_from_i64};

/// A value a query compares against dictionary entries, widened so that a literal of
/// another numeric type still compares correctly (`int_col < 2.5`).
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Int(i64),
    /// A FLOAT value, kept as f32 so FLOAT dictionaries compare it bit-exactly
    /// (widening a NaN to f64 may change its payload and thus its total order).
    Float32(f32),
    Float(f64),
    Bytes(Vec<u8>),
}

impl Probe {
    /// The probe for a typed value; `None` for NULL and arrays.
    pub fn from_value(value: &Value) -> Option<Probe> {
        Some(match value {
            Value::Int(v) => Probe::Int(i64::from(*v)),
            Value::Long(v) | Value::Timestamp(v) => Probe::Int(*v),
            Value::Boolean(v) => Probe::Int(i64::from(*v)),
            Value::Float(v) => Probe::Float32(*v),
            Value::Double(v) => Probe::Float(*v),
            Value::String(v) | Value::Json(v) => Probe::Bytes(v.as_bytes().to_vec()),
            Value::Bytes(v) => Probe::Bytes(v.clone()),
            Value::Null | Value::Array(_) => return None,
        })
    }
}

/// Compare an integer entry with a probe.
fn cmp_int(entry: i64, probe: &Probe) -> Ordering {
    match probe {
        Probe::Int(p) => entry.cmp(p),
        Probe::Float32(p) => cmp_int(entry, &Probe::Float(f64::from(*p))),
        Probe::Float(p) => {
            if p.is_nan() {
                Ordering::Less
            } else {
                (entry as f64).partial_cmp(p).unwrap_or(Ordering::Less)
            }
        }
        Probe::Bytes(_) => Ordering::Less,
    }
}

fn cmp_float(entry: f64, probe: &Probe) -> Ordering {
    match probe {
        Probe::Int(p) => entry.total_cmp(&(*p as f64)),
        Probe::Float32(p) => entry.total_cmp(&f64::from(*p)),
        Probe::Float(p) => entry.total_cmp(p),
        Probe::Bytes(_) => Ordering::Less,
    }
}

/// Header of an integer dictionary: `min i64 | bits u8 | 7 zero bytes`.
const INTEGER_HEADER_LEN: usize = 16;
/// `bits` value meaning the entries are stored as plain i64s (the span needs > 32 bits).
const PLAIN_I64: u8 = 64;

/// Frame-of-reference encoding of ascending integers: `value - min` bit-packed with the
/// bits the span needs, or plain i64s when the span needs more than 32 bits.
pub(crate) fn encode_integers(values: impl Iterator<Item = i64> + Clone, count: usize) -> Vec<u8> {
    let min = values.clone().next().unwrap_or(0);
    let max = values.clone().last().unwrap_or(0);
    let span = (max as u64).wrapping_sub(min as u64);
    let bits = if span > u64::from(u32::MAX) {
        PLAIN_I64
    } else {
        bits_for_cardinality(span + 1)
    };
    let mut encoded = Vec::with_capacity(INTEGER_HEADER_LEN + packed_len(count, bits.min(32)));
    encoded.extend_from_slice(&min.to_le_bytes());
    encoded.push(bits);
    encoded.extend_from_slice(&[0u8; 7]);
    if bits == PLAIN_I64 {
        for value in values {
            encoded.extend_from_slice(&value.to_le_bytes());
        }
    } else {
        let mut packer = BitPacker::new(bits, count);
        for value in values {
            packer.push((value as u64).wrapping_sub(min as u64) as u32);
        }
        encoded.extend_from_slice(&packer.finish());
    }
    encoded
}

/// The u64 key of a fixed-width value, as used by
/// [`crate::dictionary_builder::DictionaryBuilder::id_of_bits`].
#[inline]
pub fn i32_bits(value: i32) -> u64 {
    i64::from(value) as u64
}
#[inline]
pub fn i64_bits(value: i64) -> u64 {
    value as u64
}
#[inline]
pub fn f32_bits(value: f32) -> u64 {
    u64::from(value.to_bits())
}
#[inline]
pub fn f64_bits(value: f64) -> u64 {
    value.to_bits()
}

pub(crate) fn compare_fixed_bits(physical: PhysicalType, a: u64, b: u64) -> Ordering {
    match physical {
        PhysicalType::I32 | PhysicalType::I64 => (a as i64).cmp(&(b as i64)),
        PhysicalType::F32 => f32::from_bits(a as u32).total_cmp(&f32::from_bits(b as u32)),
        PhysicalType::F64 => f64::from_bits(a).total_cmp(&f64::from_bits(b)),
        PhysicalType::Bytes => a.cmp(&b),
    }
}

/// A sorted dictionary read in place from the segment file.
#[derive(Clone)]
pub struct Dictionary {
    data_type: DataType,
    physical: PhysicalType,
    cardinality: usize,
    /// Fixed: the values. Bytes: offsets then value bytes.
    data: OwnedBytes,
    values_start: usize,
    /// Integer dictionaries: frame of reference and bits per packed entry.
    integer_min: i64,
    integer_bits: u8,
}

impl Dictionary {
    /// Validate the layout (lengths, monotonic offsets); `Err` holds a message for a
    /// corruption error.
    pub fn open(
        data_type: DataType,
        cardinality: usize,
        data: OwnedBytes,
    ) -> Result<Dictionary, String> {
        let physical = PhysicalType::of(data_type);
        let bytes = data.as_slice();
        let (mut integer_min, mut integer_bits) = (0i64, 0u8);
        let values_start = match physical.fixed_width() {
            Some(_) if matches!(physical, PhysicalType::I32 | PhysicalType::I64) => {
                if bytes.len() < INTEGER_HEADER_LEN || bytes[9..16].iter().any(|b| *b != 0) {
                    return Err("integer dictionary header is truncated or damaged".into());
                }
                integer_min = read_u64(bytes, 0) as i64;
                integer_bits = bytes[8];
                let expected = match integer_bits {
                    PLAIN_I64 => cardinality.checked_mul(8),
                    bits @ 0..=32 => Some(packed_len(cardinality, bits)),
                    _ => None,
                };
                if expected != Some(bytes.len() - INTEGER_HEADER_LEN) {
                    return Err("integer dictionary has the wrong size".into());
                }
                INTEGER_HEADER_LEN
            }
            Some(width) => {
                if Some(bytes.len()) != cardinality.checked_mul(width) {
                    return Err(format!(
                        "dictionary is {} bytes but {cardinality} values need {}",
                        bytes.len(),
                        cardinality.saturating_mul(width)
                    ));
                }
                0
            }
            None => {
                let offsets_len = cardinality
                    .checked_add(1)
                    .and_then(|n| n.checked_mul(4))
                    .filter(|len| *len <= bytes.len())
                    .ok_or("dictionary offsets run past the section")?;
                let value_bytes = bytes.len() - offsets_len;
                let mut previous = 0u32;
                for index in 0..=cardinality {
                    let offset = read_u32(bytes, index * 4);
                    if offset < previous
                        || offset as usize > value_bytes
                        || (index == 0 && offset != 0)
                    {
                        return Err("dictionary offsets are not monotonic".into());
                    }
                    previous = offset;
                }
                if previous as usize != value_bytes {
                    return Err("dictionary offsets do not cover the value bytes".into());
                }
                if matches!(data_type, DataType::String | DataType::Json)
                    && std::str::from_utf8(&bytes[offsets_len..]).is_err()
                {
                    return Err("string dictionary holds invalid UTF-8".into());
                }
                offsets_len
            }
        };
        Ok(Dictionary {
            data_type,
            physical,
            cardinality,
            data,
            values_start,
            integer_min,
            integer_bits,
        })
    }

    pub fn len(&self) -> usize {
        self.cardinality
    }

    pub fn is_empty(&self) -> bool {
        self.cardinality == 0
    }

    /// The encoded dictionary, as stored in its section.
    pub fn raw_bytes(&self) -> &[u8] {
        self.data.as_slice()
    }

    pub fn physical_type(&self) -> PhysicalType {
        self.physical
    }

    /// The bytes of a fixed-width entry; zeros for an id past the end, so that a
    /// crafted file (whose checksums pass) can give a wrong value but never a panic.
    #[inline]
    fn fixed(&self, id: u32, width: usize) -> &[u8] {
        const ZEROS: [u8; 8] = [0; 8];
        let start = id as usize * width;
        self.data
            .as_slice()
            .get(start..start + width)
            .unwrap_or(&ZEROS[..width])
    }

    /// Entry as an i64 (I32 and I64 dictionaries). `id` must be `< len()`.
    #[inline]
    pub fn i64_at(&self, id: u32) -> i64 {
        match self.physical {
            PhysicalType::I32 | PhysicalType::I64 => {
                if id as usize >= self.cardinality {
                    return 0;
                }
                let values = &self.data.as_slice()[self.values_start..];
                if self.integer_bits == PLAIN_I64 {
                    read_u64(values, id as usize * 8) as i64
                } else {
                    let offset = BitUnpacker::new(values, self.integer_bits).get(id as usize);
                    (self.integer_min as u64).wrapping_add(u64::from(offset)) as i64
                }
            }
            PhysicalType::F32 => self.f64_at(id) as i64,
            PhysicalType::F64 => self.f64_at(id) as i64,
            PhysicalType::Bytes => 0,
        }
    }

    /// Entries `ids` of an integer dictionary into `out`, unpacked in bulk (ids past the
    /// end read 0, as in [`Dictionary::i64_at`]).
    pub fn i64s_in(&self, ids: std::ops::Range<u32>, out: &mut Vec<i64>) {
        let in_range = ids.start.min(self.cardinality as u32)..ids.end.min(self.cardinality as u32);
        let outside = ids.len() - in_range.len();
        match self.physical {
            PhysicalType::I32 | PhysicalType::I64 => {
                let values = &self.data.as_slice()[self.values_start..];
                if self.integer_bits == PLAIN_I64 {
                    out.extend(in_range.map(|id| read_u64(values, id as usize * 8) as i64));
                } else {
                    let unpacker = BitUnpacker::new(values, self.integer_bits);
                    let mut offsets = [0u32; 1024];
                    let mut at = in_range.start as usize;
                    while at < in_range.end as usize {
                        let n = offsets.len().min(in_range.end as usize - at);
                        unpacker.get_range(at, &mut offsets[..n]);
                        out.extend(offsets[..n].iter().map(|offset| {
                            (self.integer_min as u64).wrapping_add(u64::from(*offset)) as i64
                        }));
                        at += n;
                    }
                }
            }
            _ => out.extend(in_range.map(|id| self.i64_at(id))),
        }
        out.extend(std::iter::repeat_n(0, outside));
    }

    /// Entry as an f64 (any numeric dictionary).
    #[inline]
    pub fn f64_at(&self, id: u32) -> f64 {
        match self.physical {
            PhysicalType::F32 => f64::from(f32::from_bits(read_u32(self.fixed(id, 4), 0))),
            PhysicalType::F64 => f64::from_bits(crate::format::read_u64(self.fixed(id, 8), 0)),
            PhysicalType::I32 | PhysicalType::I64 => self.i64_at(id) as f64,
            PhysicalType::Bytes => f64::NAN,
        }
    }

    /// Entry bytes (Bytes dictionaries); empty for fixed-width ones.
    #[inline]
    pub fn bytes_at(&self, id: u32) -> &[u8] {
        if self.physical != PhysicalType::Bytes {
            return &[];
        }
        if id as usize >= self.cardinality {
            return &[];
        }
        let bytes = self.data.as_slice();
        let index = id as usize * 4;
        let start = read_u32(bytes, index) as usize;
        let end = read_u32(bytes, index + 4) as usize;
        &bytes[self.values_start + start..self.values_start + end]
    }

    /// The typed value of an entry.
    pub fn value(&self, id: u32) -> Value {
        match self.physical {
            PhysicalType::I32 => value_from_i32(self.data_type, self.i64_at(id) as i32),
            PhysicalType::I64 => value_from_i64(self.data_type, self.i64_at(id)),
            PhysicalType::F32 => Value::Float(f32::from_bits(read_u32(self.fixed(id, 4), 0))),
            PhysicalType::F64 => Value::Double(self.f64_at(id)),
            PhysicalType::Bytes => value_from_bytes(self.data_type, self.bytes_at(id)),
        }
    }

    fn compare(&self, id: u32, probe: &Probe) -> Ordering {
        match self.physical {
            PhysicalType::I32 | PhysicalType::I64 => cmp_int(self.i64_at(id), probe),
            PhysicalType::F32 => {
                let entry = f32::from_bits(read_u32(self.fixed(id, 4), 0));
                match probe {
                    Probe::Float32(p) => entry.total_cmp(p),
                    other => cmp_float(f64::from(entry), other),
                }
            }
            PhysicalType::F64 => cmp_float(self.f64_at(id), probe),
            PhysicalType::Bytes => match probe {
                Probe::Bytes(p) => self.bytes_at(id).cmp(p.as_slice()),
                _ => Ordering::Greater,
            },
        }
    }

    /// First id whose entry is `>= probe` (`len()` if none).
    pub fn lower_bound(&self, probe: &Probe) -> u32 {
        self.partition_point(|id| self.compare(id, probe) == Ordering::Less)
    }

    /// First id whose entry is `> probe` (`len()` if none).
    pub fn upper_bound(&self, probe: &Probe) -> u32 {
        self.partition_point(|id| self.compare(id, probe) != Ordering::Greater)
    }

    fn partition_point(&self, mut is_before: impl FnMut(u32) -> bool) -> u32 {
        let (mut low, mut high) = (0u32, self.cardinality as u32);
        while low < high {
            let middle = low + (high - low) / 2;
            if is_before(middle) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// The id of an entry equal to `probe`.
    pub fn find(&self, probe: &Probe) -> Option<u32> {
        let id = self.lower_bound(probe);
        (id < self.cardinality as u32 && self.compare(id, probe) == Ordering::Equal).then_some(id)
    }

    /// Ids of the entries within the bounds; empty when none.
    pub fn id_range(&self, low: Bound<&Probe>, high: Bound<&Probe>) -> Range<u32> {
        let start = match low {
            Bound::Included(p) => self.lower_bound(p),
            Bound::Excluded(p) => self.upper_bound(p),
            Bound::Unbounded => 0,
        };
        let end = match high {
            Bound::Included(p) => self.upper_bound(p),
            Bound::Excluded(p) => self.lower_bound(p),
            Bound::Unbounded => self.cardinality as u32,
        };
        start..end.max(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dictionary_builder::DictionaryBuilder;

    fn owned(bytes: Vec<u8>) -> OwnedBytes {
        OwnedBytes::new(bytes)
    }

    #[test]
    fn test_string_dictionary_sorted_and_searchable() {
        let mut builder = DictionaryBuilder::new(PhysicalType::Bytes);
        let words = ["pear", "apple", "", "zebra", "apple", "mango"];
        let provisional: Vec<u32> = words
            .iter()
            .map(|w| builder.id_of_bytes(w.as_bytes()))
            .collect();
        let (encoded, remap) = builder.finish();
        let dictionary = Dictionary::open(DataType::String, 5, owned(encoded)).expect("valid");
        let final_ids: Vec<u32> = provisional.iter().map(|p| remap[*p as usize]).collect();
        assert_eq!(final_ids, vec![3, 1, 0, 4, 1, 2]);
        assert_eq!(dictionary.value(2), Value::String("mango".into()));
        let probe = |s: &str| Probe::Bytes(s.as_bytes().to_vec());
        assert_eq!(dictionary.find(&probe("zebra")), Some(4));
        assert_eq!(dictionary.find(&probe("kiwi")), None);
        assert_eq!(
            dictionary.id_range(
                Bound::Included(&probe("b")),
                Bound::Excluded(&probe("pear"))
            ),
            2..3
        );
    }

    #[test]
    fn test_int_dictionary_compares_with_float_probe() {
        let mut builder = DictionaryBuilder::new(PhysicalType::I32);
        for v in [5, -3, 2, 9] {
            builder.id_of_bits(i32_bits(v));
        }
        let (encoded, _) = builder.finish();
        let dictionary = Dictionary::open(DataType::Int, 4, owned(encoded)).expect("valid");
        assert_eq!(dictionary.i64_at(0), -3);
        assert_eq!(dictionary.lower_bound(&Probe::Float(2.5)), 2);
        assert_eq!(dictionary.upper_bound(&Probe::Int(5)), 3);
    }

    #[test]
    fn test_integer_entries_in_bulk_equal_one_by_one() {
        // Packed offsets (a narrow span) and plain words (a span past 2^63).
        for values in [
            (0..3000i64).map(|v| v * 7 - 500).collect::<Vec<_>>(),
            vec![i64::MIN, -1, 0, 5, i64::MAX],
        ] {
            let mut builder = DictionaryBuilder::new(PhysicalType::I64);
            for v in &values {
                builder.id_of_bits(i64_bits(*v));
            }
            let (encoded, _) = builder.finish();
            let n = values.len() as u32;
            let dictionary =
                Dictionary::open(DataType::Long, n as usize, owned(encoded)).expect("valid");
            for range in [0..n, 3..n.min(1500), n - 1..n + 2, 0..0] {
                let mut bulk = Vec::new();
                dictionary.i64s_in(range.clone(), &mut bulk);
                let one_by_one: Vec<i64> = range.map(|id| dictionary.i64_at(id)).collect();
                assert_eq!(bulk, one_by_one);
            }
        }
    }

    #[test]
    fn test_corrupt_offsets_rejected() {
        let mut encoded = Vec::new();
        for offset in [0u32, 5, 3] {
            encoded.extend_from_slice(&offset.to_le_bytes());
        }
        encoded.extend_from_slice(b"abc");
        assert!(Dictionary::open(DataType::String, 2, owned(encoded)).is_err());
    }
}
