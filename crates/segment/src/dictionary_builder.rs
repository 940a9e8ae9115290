//! Accumulating a column's distinct values during a build: provisional ids handed out in
//! arrival order, then sorted into the final dictionary and a provisional → final remap.
//!
//! Integer columns whose values lie in a span not much wider than their distinct count
//! (ids, keys, small codes) are indexed by value directly (`slots[value - base]`): one
//! array read per row instead of a hash probe, which on a 200,000-value key column is a
//! cache miss either way but half as many, and the final sort comes free (the slots are
//! in value order). A column whose span outgrows that bound moves to a hash map, and back
//! when its distinct values fill the span again.

use rustc_hash::FxHashMap;

use crate::dictionary::{compare_fixed_bits, encode_integers};
use crate::value::PhysicalType;

/// Slots a direct table may always use (256 KiB), however few its distinct values.
const DENSE_MIN_SLOTS: u64 = 1 << 16;
/// Slots per distinct value a direct table may use beyond [`DENSE_MIN_SLOTS`]: at four
/// bytes a slot, about what a hash map spends per entry.
const DENSE_SLOTS_PER_VALUE: u64 = 8;

fn dense_limit(distinct: u64) -> u64 {
    DENSE_MIN_SLOTS.max(DENSE_SLOTS_PER_VALUE * distinct)
}

/// Accumulates distinct values and hands out provisional ids in arrival order.
pub enum DictionaryBuilder {
    /// INT and LONG (and the types stored as them).
    Integers(IntegerIds),
    /// FLOAT and DOUBLE, keyed by their bit pattern widened to u64.
    Floats {
        physical: PhysicalType,
        ids: FxHashMap<u64, u32>,
        recent: RecentIds,
    },
    Bytes {
        ids: FxHashMap<Box<[u8]>, u32>,
        total_bytes: usize,
    },
}

impl DictionaryBuilder {
    pub fn new(physical: PhysicalType) -> DictionaryBuilder {
        match physical {
            PhysicalType::Bytes => DictionaryBuilder::Bytes {
                ids: FxHashMap::default(),
                total_bytes: 0,
            },
            PhysicalType::I32 | PhysicalType::I64 => {
                DictionaryBuilder::Integers(IntegerIds::default())
            }
            floats => DictionaryBuilder::Floats {
                physical: floats,
                ids: FxHashMap::default(),
                recent: RecentIds::default(),
            },
        }
    }

    pub fn len(&self) -> usize {
        match self {
            DictionaryBuilder::Integers(integers) => integers.len as usize,
            DictionaryBuilder::Floats { ids, .. } => ids.len(),
            DictionaryBuilder::Bytes { ids, .. } => ids.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of a fixed-width value given as its u64 key ([`crate::dictionary::i64_bits`]
    /// and its siblings).
    #[inline]
    pub fn id_of_bits(&mut self, bits: u64) -> u32 {
        match self {
            DictionaryBuilder::Integers(integers) => integers.id_of(bits as i64),
            DictionaryBuilder::Floats { ids, recent, .. } => {
                if let Some(id) = recent.get(bits) {
                    return id;
                }
                let next = ids.len() as u32;
                let id = *ids.entry(bits).or_insert(next);
                recent.put(bits, id);
                id
            }
            DictionaryBuilder::Bytes { .. } => 0,
        }
    }

    /// The id of an integer value (INT widened to i64).
    #[inline]
    pub fn id_of_integer(&mut self, value: i64) -> u32 {
        match self {
            DictionaryBuilder::Integers(integers) => integers.id_of(value),
            _ => 0,
        }
    }

    #[inline]
    pub fn id_of_bytes(&mut self, value: &[u8]) -> u32 {
        match self {
            DictionaryBuilder::Bytes { ids, total_bytes } => {
                if let Some(id) = ids.get(value) {
                    return *id;
                }
                let next = ids.len() as u32;
                *total_bytes += value.len();
                ids.insert(value.into(), next);
                next
            }
            _ => 0,
        }
    }

    /// Bytes the distinct values take (variable-width dictionaries).
    pub fn value_bytes(&self) -> usize {
        match self {
            DictionaryBuilder::Bytes { total_bytes, .. } => *total_bytes,
            _ => 0,
        }
    }

    /// Sort the values; returns the encoded dictionary and `remap[provisional] = final id`.
    /// The caller keeps [`Self::value_bytes`] under 4 GiB (offsets are u32).
    pub fn finish(self) -> (Vec<u8>, Vec<u32>) {
        match self {
            DictionaryBuilder::Integers(integers) => integers.finish(),
            DictionaryBuilder::Floats { physical, ids, .. } => {
                let mut entries: Vec<(u64, u32)> = ids.into_iter().collect();
                entries.sort_unstable_by(|a, b| compare_fixed_bits(physical, a.0, b.0));
                let remap = remap_of(entries.iter().map(|(_, provisional)| *provisional));
                let width = physical.fixed_width().unwrap_or(8);
                let mut encoded = Vec::with_capacity(entries.len() * width);
                for (bits, _) in &entries {
                    encoded.extend_from_slice(&bits.to_le_bytes()[..width]);
                }
                (encoded, remap)
            }
            DictionaryBuilder::Bytes { ids, total_bytes } => {
                let mut entries: Vec<(Box<[u8]>, u32)> = ids.into_iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                let mut encoded = Vec::with_capacity(4 * (entries.len() + 1) + total_bytes);
                let mut offset = 0u32;
                encoded.extend_from_slice(&offset.to_le_bytes());
                for (value, _) in &entries {
                    offset += value.len() as u32;
                    encoded.extend_from_slice(&offset.to_le_bytes());
                }
                for (value, _) in &entries {
                    encoded.extend_from_slice(value);
                }
                let remap = remap_of(entries.iter().map(|(_, provisional)| *provisional));
                (encoded, remap)
            }
        }
    }
}

/// Slots of [`RecentIds`].
const RECENT_SLOTS: usize = 256;

/// A direct-mapped cache of keys looked up before, in front of a hash map: a column of
/// few distinct values (prices, rates, quantities) finds each in one probe of a small
/// array, without hashing into the map.
pub struct RecentIds {
    /// `(key, id + 1)`; an id of 0 marks an empty slot.
    slots: Box<[(u64, u32); RECENT_SLOTS]>,
}

impl Default for RecentIds {
    fn default() -> Self {
        RecentIds {
            slots: Box::new([(0, 0); RECENT_SLOTS]),
        }
    }
}

impl RecentIds {
    #[inline]
    fn slot(key: u64) -> usize {
        // Fibonacci hashing: the top bits of the product mix every bit of the key.
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u32> {
        let (cached, id) = self.slots[Self::slot(key)];
        (id != 0 && cached == key).then(|| id - 1)
    }

    #[inline]
    fn put(&mut self, key: u64, id: u32) {
        self.slots[Self::slot(key)] = (key, id + 1);
    }
}

/// `remap[provisional] = final id`, from the provisional ids in final order.
fn remap_of(provisional_in_order: impl ExactSizeIterator<Item = u32>) -> Vec<u32> {
    let mut remap = vec![0u32; provisional_in_order.len()];
    for (final_id, provisional) in provisional_in_order.enumerate() {
        remap[provisional as usize] = final_id as u32;
    }
    remap
}

/// Provisional ids of an integer column's values.
#[derive(Default, Clone)]
pub struct IntegerIds {
    len: u32,
    index: IntegerIndex,
}

#[derive(Clone)]
enum IntegerIndex {
    /// `slots[value - base]` is the value's provisional id plus one; 0 where absent.
    Dense { base: i64, slots: Vec<u32> },
    Hashed {
        ids: FxHashMap<i64, u32>,
        min: i64,
        max: i64,
        /// Distinct count at which to check again whether the values fit a direct table.
        recheck_at: u32,
    },
}

impl Default for IntegerIndex {
    fn default() -> Self {
        IntegerIndex::Dense {
            base: 0,
            slots: Vec::new(),
        }
    }
}

impl IntegerIds {
    #[inline]
    pub fn id_of(&mut self, value: i64) -> u32 {
        match &mut self.index {
            IntegerIndex::Dense { base, slots } => {
                let offset = (value as u64).wrapping_sub(*base as u64);
                if offset < slots.len() as u64 {
                    let slot = &mut slots[offset as usize];
                    if *slot == 0 {
                        self.len += 1;
                        *slot = self.len;
                    }
                    return *slot - 1;
                }
                self.insert_outside(value)
            }
            IntegerIndex::Hashed { ids, min, max, .. } => {
                if let Some(id) = ids.get(&value) {
                    return *id;
                }
                let id = self.len;
                ids.insert(value, id);
                *min = (*min).min(value);
                *max = (*max).max(value);
                self.len += 1;
                self.maybe_densify();
                id
            }
        }
    }

    /// A value outside the direct table: widen the table (at least doubling it, within
    /// the bound the distinct count allows) or move to a hash map.
    #[cold]
    fn insert_outside(&mut self, value: i64) -> u32 {
        let IntegerIndex::Dense { base, slots } = &mut self.index else {
            return self.id_of(value);
        };
        let (low, high) = if slots.is_empty() {
            (value, value)
        } else {
            let last = *base as i128 + slots.len() as i128 - 1;
            (
                (*base).min(value),
                i64::try_from(last.max(i128::from(value))).unwrap_or(i64::MAX),
            )
        };
        let span = (high as i128 - low as i128 + 1) as u128;
        let limit = dense_limit(u64::from(self.len) + 1);
        if span > u128::from(limit) {
            self.move_to_hash_map();
            return self.id_of(value);
        }
        // Room to grow in the direction the values went, so that ascending or
        // descending input widens the table O(log n) times.
        let wanted = (span as u64)
            .max(2 * slots.len() as u64)
            .min(limit)
            .max(span as u64);
        let extra = wanted - span as u64;
        let new_base = if value < *base && !slots.is_empty() {
            (low as i128 - extra as i128).max(i128::from(i64::MIN)) as i64
        } else {
            low
        };
        // Never past i64::MAX: offsets are taken modulo 2^64, so slots beyond it would
        // hold the smallest values, out of order.
        let room = (i128::from(i64::MAX) - i128::from(new_base) + 1) as u128;
        let wanted = u128::from(wanted).min(room) as u64;
        let mut widened = vec![0u32; wanted as usize];
        if !slots.is_empty() {
            let shift = (*base as i128 - new_base as i128) as usize;
            widened[shift..shift + slots.len()].copy_from_slice(slots);
        }
        *base = new_base;
        *slots = widened;
        self.id_of(value)
    }

    fn move_to_hash_map(&mut self) {
        let IntegerIndex::Dense { base, slots } = std::mem::take(&mut self.index) else {
            return;
        };
        let mut ids = FxHashMap::default();
        ids.reserve(self.len as usize);
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for (offset, slot) in slots.iter().enumerate() {
            if *slot != 0 {
                let value = base.wrapping_add(offset as i64);
                ids.insert(value, *slot - 1);
                min = min.min(value);
                max = max.max(value);
            }
        }
        self.index = IntegerIndex::Hashed {
            ids,
            min,
            max,
            recheck_at: self.len.saturating_mul(2).max(1024),
        };
    }

    /// Back to a direct table when the distinct values have come to fill their span
    /// (with room to spare, so that a column on the bound does not flip back and forth).
    fn maybe_densify(&mut self) {
        let IntegerIndex::Hashed {
            ids,
            min,
            max,
            recheck_at,
        } = &mut self.index
        else {
            return;
        };
        if self.len < *recheck_at {
            return;
        }
        *recheck_at = self.len.saturating_mul(2);
        let span = (*max as i128 - *min as i128 + 1) as u128;
        if span > u128::from(dense_limit(u64::from(self.len)) / 2) {
            return;
        }
        let mut slots = vec![0u32; span as usize];
        for (value, id) in ids.iter() {
            slots[(*value as i128 - *min as i128) as usize] = id + 1;
        }
        self.index = IntegerIndex::Dense { base: *min, slots };
    }

    fn finish(self) -> (Vec<u8>, Vec<u32>) {
        let (values, provisional): (Vec<i64>, Vec<u32>) = match self.index {
            IntegerIndex::Dense { base, slots } => slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| **slot != 0)
                .map(|(offset, slot)| (base.wrapping_add(offset as i64), slot - 1))
                .unzip(),
            IntegerIndex::Hashed { ids, .. } => {
                let mut entries: Vec<(i64, u32)> = ids.into_iter().collect();
                entries.sort_unstable();
                entries.into_iter().unzip()
            }
        };
        let encoded = encode_integers(values.iter().copied(), values.len());
        (encoded, remap_of(provisional.into_iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dictionary::Dictionary;
    use tantivy::directory::OwnedBytes;
    use tessera_config::DataType;

    /// Provisional ids, then the dictionary's values read back by final id.
    fn build(values: &[i64]) -> (Vec<u32>, Vec<i64>, IntegerIds) {
        let mut builder = DictionaryBuilder::new(PhysicalType::I64);
        let provisional: Vec<u32> = values.iter().map(|v| builder.id_of_integer(*v)).collect();
        let DictionaryBuilder::Integers(ids) = builder else {
            unreachable!("an I64 builder holds integers")
        };
        let state = ids.clone();
        let (encoded, remap) = ids.finish();
        let dictionary = Dictionary::open(DataType::Long, remap.len(), OwnedBytes::new(encoded))
            .expect("valid dictionary");
        let entries: Vec<i64> = (0..remap.len() as u32)
            .map(|id| dictionary.i64_at(id))
            .collect();
        assert!(
            entries.windows(2).all(|pair| pair[0] < pair[1]),
            "the dictionary is sorted: {entries:?}"
        );
        let final_values = provisional
            .iter()
            .map(|p| dictionary.i64_at(remap[*p as usize]))
            .collect();
        (provisional, final_values, state)
    }

    fn check(values: &[i64]) -> IntegerIds {
        let (provisional, final_values, state) = build(values);
        assert_eq!(final_values, values, "every value maps back to itself");
        let mut first_seen = std::collections::HashMap::new();
        for (value, id) in values.iter().zip(&provisional) {
            assert_eq!(
                *first_seen.entry(*value).or_insert(*id),
                *id,
                "one id per value"
            );
        }
        assert_eq!(state.len as usize, first_seen.len());
        state
    }

    #[test]
    fn ascending_descending_and_mixed_keys_stay_direct() {
        let ascending: Vec<i64> = (0..200_000).map(|i| 1 + i / 4 * 4).collect();
        assert!(matches!(
            check(&ascending).index,
            IntegerIndex::Dense { .. }
        ));
        let descending: Vec<i64> = ascending.iter().rev().copied().collect();
        assert!(matches!(
            check(&descending).index,
            IntegerIndex::Dense { .. }
        ));
        let scattered: Vec<i64> = (0..100_000i64)
            .map(|i| (i * 7_919) % 50_000 - 25_000)
            .collect();
        assert!(matches!(
            check(&scattered).index,
            IntegerIndex::Dense { .. }
        ));
    }

    #[test]
    fn sparse_values_move_to_a_hash_map_and_back() {
        let mut values = vec![i64::MIN, i64::MAX, 0, -1, 1, i64::MIN, 5];
        let state = check(&values);
        assert!(matches!(state.index, IntegerIndex::Hashed { .. }));
        // Timestamps a day apart never fit a direct table.
        let days: Vec<i64> = (0..3_000)
            .map(|d| 694_310_400_000 + d * 86_400_000)
            .collect();
        assert!(matches!(check(&days).index, IntegerIndex::Hashed { .. }));
        // A key column whose first values happen to be far apart fills its span later.
        values = vec![1, 400_000];
        values.extend((0..400_000).map(|i| (i * 7_919) % 400_000 + 1));
        assert!(matches!(check(&values).index, IntegerIndex::Dense { .. }));
    }

    #[test]
    fn float_ids_stay_one_per_bit_pattern_through_the_cache() {
        use crate::dictionary::f64_bits;
        let mut builder = DictionaryBuilder::new(PhysicalType::F64);
        // More distinct values than cache slots, so slots are overwritten; -0.0 and 0.0
        // (equal as numbers) are distinct entries.
        let values: Vec<f64> = (0..5_000)
            .map(|i| match i % 7 {
                0 => -0.0,
                1 => 0.0,
                _ => f64::from(i % 700) / 100.0,
            })
            .collect();
        let ids: Vec<u32> = values
            .iter()
            .map(|v| builder.id_of_bits(f64_bits(*v)))
            .collect();
        let mut first_seen = std::collections::HashMap::new();
        for (value, id) in values.iter().zip(&ids) {
            assert_eq!(*first_seen.entry(value.to_bits()).or_insert(*id), *id);
        }
        assert_eq!(builder.len(), first_seen.len());
        let (_, remap) = builder.finish();
        assert_eq!(remap.len(), first_seen.len());
    }

    #[test]
    fn a_direct_table_near_the_largest_value_never_wraps_to_the_smallest() {
        // Ascending values just below i64::MAX leave room above them; i64::MIN must not
        // land in that room (offsets wrap) and come out of the dictionary after MAX.
        let mut values: Vec<i64> = (0..20).map(|i| i64::MAX - 40 + 2 * i).collect();
        values.extend([i64::MAX, i64::MIN, i64::MIN + 1]);
        check(&values);
        let mut descending: Vec<i64> = (0..20).map(|i| i64::MIN + 40 - 2 * i).collect();
        descending.extend([i64::MIN, i64::MAX]);
        check(&descending);
    }

    #[test]
    fn i32_values_round_trip() {
        let mut builder = DictionaryBuilder::new(PhysicalType::I32);
        for v in [5, -3, 2, 9, i32::MIN, i32::MAX, 2] {
            builder.id_of_bits(crate::dictionary::i32_bits(v));
        }
        let (encoded, remap) = builder.finish();
        let dictionary =
            Dictionary::open(DataType::Int, remap.len(), OwnedBytes::new(encoded)).expect("valid");
        let read: Vec<i64> = (0..remap.len() as u32)
            .map(|id| dictionary.i64_at(id))
            .collect();
        assert_eq!(
            read,
            vec![i64::from(i32::MIN), -3, 2, 5, 9, i64::from(i32::MAX)]
        );
    }
}
