//! The group keys of an aggregation partial.
//!
//! Keys whose values are all fixed-width — integers, timestamps, booleans, doubles: what
//! almost every high-cardinality GROUP BY names — are held *flat*: one 64-bit lane per
//! key column and a lane of NULL flags, every group's lanes side by side in one vector.
//! A million two-column groups are then one allocation of 24 MB, compared and hashed as
//! words, instead of a million vectors of scalars. Any other key (strings, bytes) is
//! held as rows of scalars.
//!
//! Both forms order keys as [`compare_group_keys`] does (column by column, NULL last)
//! and group them as [`Scalar`]'s equality does (-0.0 equals 0.0, NaNs are one group).

use std::cmp::Ordering;
use std::hash::{BuildHasher, Hasher};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::state_bytes::row_bytes;
use crate::types::{
    Scalar, SqlType, from_ordered_u64, from_total_order_key, ordered_u64, total_order_key,
};
use crate::vector::{Data, Vector};

/// One group's key values, one per GROUP BY expression.
pub type GroupKey = Vec<Scalar>;

/// Order of group keys for sorted merges: column by column, NULL last.
pub fn compare_group_keys(a: &[Scalar], b: &[Scalar]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.sql_cmp(y),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.len().cmp(&b.len())
}

/// How one key column's values sit in a 64-bit lane. Lanes are *order-preserving*: two
/// values compare as their lanes do as unsigned integers, so keys without NULLs compare
/// as slices of words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// INT, LONG, TIMESTAMP: the `i64` with its sign bit flipped.
    Long,
    /// BOOLEAN: 0 or 1.
    Bool,
    /// FLOAT, DOUBLE: IEEE total order as an unsigned integer, of the value with -0.0
    /// made 0.0 and every NaN one NaN.
    Double,
}

impl Lane {
    pub fn of(ty: SqlType) -> Option<Lane> {
        match ty {
            SqlType::Int | SqlType::Long | SqlType::Timestamp => Some(Lane::Long),
            SqlType::Boolean => Some(Lane::Bool),
            SqlType::Float | SqlType::Double => Some(Lane::Double),
            _ => None,
        }
    }

    /// The lane of a non-null value; `None` when the value is not of this lane's kind.
    fn encode(self, value: &Scalar) -> Option<u64> {
        match (self, value) {
            (Lane::Long, Scalar::Long(v)) => Some(ordered_u64(*v)),
            (Lane::Bool, Scalar::Bool(v)) => Some(u64::from(*v)),
            (Lane::Double, Scalar::Double(v)) => Some(double_lane(*v)),
            _ => None,
        }
    }

    fn decode(self, lane: u64) -> Scalar {
        match self {
            Lane::Long => Scalar::Long(from_ordered_u64(lane)),
            Lane::Bool => Scalar::Bool(lane != 0),
            Lane::Double => Scalar::Double(double_of_lane(lane)),
        }
    }
}

/// A double's lane: unsigned order is `total_cmp` order, and doubles equal by grouping's
/// equality (-0.0 and 0.0; NaNs) have one lane.
fn double_lane(value: f64) -> u64 {
    let value = if value.is_nan() {
        f64::NAN
    } else if value == 0.0 {
        0.0
    } else {
        value
    };
    ordered_u64(total_order_key(value))
}

fn double_of_lane(lane: u64) -> f64 {
    from_total_order_key(from_ordered_u64(lane))
}

/// Flat keys: per group, one lane per key column, then a lane whose bit `i` is set when
/// column `i` is NULL (its lane is then 0).
#[derive(Debug, Clone, PartialEq)]
pub struct FlatKeys {
    lanes: Vec<Lane>,
    data: Vec<u64>,
}

impl FlatKeys {
    pub fn new(lanes: Vec<Lane>) -> FlatKeys {
        FlatKeys {
            lanes,
            data: Vec::new(),
        }
    }

    /// Whether `other` holds keys of the same columns' kinds (so words compare).
    pub fn same_layout(&self, other: &FlatKeys) -> bool {
        self.lanes == other.lanes
    }

    /// Words per group.
    pub fn stride(&self) -> usize {
        self.lanes.len() + 1
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.stride()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn reserve(&mut self, groups: usize) {
        self.data.reserve(groups * self.stride());
    }

    /// Group `group`'s words.
    pub fn key(&self, group: usize) -> &[u64] {
        let stride = self.stride();
        &self.data[group * stride..(group + 1) * stride]
    }

    /// Append a group's words (as [`FlatKeys::key`] gives them).
    pub fn push_words(&mut self, words: &[u64]) {
        debug_assert_eq!(words.len(), self.stride());
        self.data.extend_from_slice(words);
    }

    /// Whether every key column is an integer (INT, LONG, TIMESTAMP).
    pub fn all_integers(&self) -> bool {
        self.lanes.iter().all(|lane| *lane == Lane::Long)
    }

    /// Append groups given column by column: `columns[i][g]` is group `g`'s value of
    /// integer key column `i`, NULL where `nulls[i][g]`. Every column has the same length
    /// and is of a [`Lane::Long`] column (see [`FlatKeys::all_integers`]).
    pub fn extend_integer_columns(&mut self, columns: &[Vec<i64>], nulls: &[Vec<bool>]) {
        let groups = columns.first().map_or(0, Vec::len);
        self.reserve(groups);
        for group in 0..groups {
            let mut mask = 0u64;
            for (i, (values, nulls)) in columns.iter().zip(nulls).enumerate() {
                if nulls[group] {
                    mask |= 1 << i;
                    self.data.push(0);
                } else {
                    self.data.push(ordered_u64(values[group]));
                }
            }
            self.data.push(mask);
        }
    }

    /// Append `key`; false (and nothing appended) when a value is not of its column's
    /// lane kind or the key has the wrong number of values.
    pub fn push_scalars(&mut self, key: &[Scalar]) -> bool {
        if key.len() != self.lanes.len() {
            return false;
        }
        let start = self.data.len();
        let mut nulls = 0u64;
        for (i, (lane, value)) in self.lanes.iter().zip(key).enumerate() {
            if value.is_null() {
                nulls |= 1 << i;
                self.data.push(0);
            } else if let Some(word) = lane.encode(value) {
                self.data.push(word);
            } else {
                self.data.truncate(start);
                return false;
            }
        }
        self.data.push(nulls);
        true
    }

    fn value(&self, group: usize, column: usize) -> Scalar {
        let key = self.key(group);
        if key[self.lanes.len()] & (1 << column) != 0 {
            Scalar::Null
        } else {
            self.lanes[column].decode(key[column])
        }
    }

    fn row(&self, group: usize) -> GroupKey {
        (0..self.lanes.len())
            .map(|column| self.value(group, column))
            .collect()
    }

    /// For each pair of [`crate::absorb::sorted_pairs`], its group's words: from `a`
    /// where the pair has a group there, else from `b` (of the same layout). Gathered
    /// chunk by chunk in parallel.
    pub fn gather_pairs(a: &FlatKeys, b: &FlatKeys, pairs: &[(u32, u32)]) -> FlatKeys {
        use crate::absorb::CHUNK;
        use rayon::prelude::*;
        let stride = a.stride();
        let mut data = vec![0u64; pairs.len() * stride];
        data.par_chunks_mut(CHUNK * stride)
            .zip(pairs.par_chunks(CHUNK))
            .for_each(|(out, pairs)| {
                for (slot, &(ga, gb)) in out.chunks_exact_mut(stride).zip(pairs) {
                    let words = if ga == crate::absorb::ABSENT {
                        b.key(gb as usize)
                    } else {
                        a.key(ga as usize)
                    };
                    slot.copy_from_slice(words);
                }
            });
        FlatKeys {
            lanes: a.lanes.clone(),
            data,
        }
    }

    /// Two groups' words in key order.
    #[inline]
    pub fn compare_words(&self, a: &[u64], b: &[u64]) -> Ordering {
        let width = self.lanes.len();
        let (a_nulls, b_nulls) = (a[width], b[width]);
        if a_nulls | b_nulls == 0 {
            return a[..width].cmp(&b[..width]);
        }
        for i in 0..width {
            let ordering = match (a_nulls & (1 << i) != 0, b_nulls & (1 << i) != 0) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => a[i].cmp(&b[i]),
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }

    fn vector(&self, column: usize, ty: SqlType) -> Vector {
        let n = self.len();
        let stride = self.stride();
        let words = || self.data.iter().skip(column).step_by(stride);
        let nulls: Vec<bool> = self
            .data
            .iter()
            .skip(self.lanes.len())
            .step_by(stride)
            .map(|mask| mask & (1 << column) != 0)
            .collect();
        let data = match self.lanes[column] {
            Lane::Long => Data::Long(words().map(|w| from_ordered_u64(*w)).collect()),
            Lane::Bool => Data::Bool(words().map(|w| *w != 0).collect()),
            Lane::Double => Data::Double(words().map(|w| double_of_lane(*w)).collect()),
        };
        debug_assert_eq!(nulls.len(), n);
        Vector {
            ty,
            multi_value: false,
            data,
            nulls: nulls.contains(&true).then_some(nulls),
        }
    }
}

/// The keys of a partial's groups, group `i` at index `i`.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupKeys {
    Rows(Vec<GroupKey>),
    Flat(FlatKeys),
}

impl Default for GroupKeys {
    fn default() -> GroupKeys {
        GroupKeys::Rows(Vec::new())
    }
}

impl GroupKeys {
    /// No groups yet, keyed by values of `types`: flat when every type fits a lane.
    pub fn for_types(types: &[SqlType]) -> GroupKeys {
        match types
            .iter()
            .map(|ty| Lane::of(*ty))
            .collect::<Option<Vec<_>>>()
        {
            Some(lanes) if lanes.len() <= 64 => GroupKeys::Flat(FlatKeys::new(lanes)),
            _ => GroupKeys::Rows(Vec::new()),
        }
    }

    /// The one group of an aggregation without GROUP BY.
    pub fn single() -> GroupKeys {
        GroupKeys::Rows(vec![Vec::new()])
    }

    pub fn len(&self) -> usize {
        match self {
            GroupKeys::Rows(rows) => rows.len(),
            GroupKeys::Flat(flat) => flat.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of values of a key that has other than `n` (`None`: every key has `n`).
    pub fn any_key_not_of_width(&self, n: usize) -> Option<usize> {
        match self {
            GroupKeys::Rows(rows) => rows.iter().map(Vec::len).find(|len| *len != n),
            GroupKeys::Flat(flat) => (flat.lanes.len() != n).then_some(flat.lanes.len()),
        }
    }

    /// Group `group`'s value of key column `column`.
    pub fn value(&self, group: usize, column: usize) -> Scalar {
        match self {
            GroupKeys::Rows(rows) => rows[group].get(column).cloned().unwrap_or(Scalar::Null),
            GroupKeys::Flat(flat) => flat.value(group, column),
        }
    }

    /// Group `group`'s key values.
    pub fn row(&self, group: usize) -> GroupKey {
        match self {
            GroupKeys::Rows(rows) => rows[group].clone(),
            GroupKeys::Flat(flat) => flat.row(group),
        }
    }

    /// Append a key. Flat keys that cannot hold it become rows.
    pub fn push(&mut self, key: GroupKey) {
        if let GroupKeys::Flat(flat) = self {
            if flat.push_scalars(&key) {
                return;
            }
            self.make_rows();
        }
        if let GroupKeys::Rows(rows) = self {
            rows.push(key);
        }
    }

    pub fn reserve(&mut self, groups: usize) {
        match self {
            GroupKeys::Rows(rows) => rows.reserve(groups),
            GroupKeys::Flat(flat) => flat.reserve(groups),
        }
    }

    /// Append a key by reference (flat keys copy its values into their lanes).
    pub fn push_slice(&mut self, key: &[Scalar]) {
        if let GroupKeys::Flat(flat) = self
            && flat.push_scalars(key)
        {
            return;
        }
        self.push(key.to_vec());
    }

    /// Hold the keys as rows of scalars.
    pub fn make_rows(&mut self) {
        if let GroupKeys::Flat(flat) = self {
            let rows = (0..flat.len()).map(|group| flat.row(group)).collect();
            *self = GroupKeys::Rows(rows);
        }
    }

    /// Give `self` and `other` one form, so their keys compare and move between them:
    /// rows become flat like the other's keys when every value fits; otherwise both
    /// become rows. Returns whether `self` changed form.
    pub fn unify(&mut self, other: &mut GroupKeys) -> bool {
        match (&*self, &*other) {
            (GroupKeys::Flat(a), GroupKeys::Flat(b)) if a.same_layout(b) => false,
            (GroupKeys::Rows(_), GroupKeys::Rows(_)) => false,
            (GroupKeys::Flat(a), GroupKeys::Rows(rows)) => {
                if let Some(flat) = flatten(&a.lanes, rows) {
                    *other = GroupKeys::Flat(flat);
                    false
                } else {
                    self.make_rows();
                    true
                }
            }
            (GroupKeys::Rows(rows), GroupKeys::Flat(b)) => {
                if let Some(flat) = flatten(&b.lanes, rows) {
                    *self = GroupKeys::Flat(flat);
                } else {
                    other.make_rows();
                    self.make_rows();
                }
                true
            }
            (GroupKeys::Flat(_), GroupKeys::Flat(_)) => {
                self.make_rows();
                other.make_rows();
                true
            }
        }
    }

    /// Group `a` of `self` against group `b` of `other`, in key order.
    pub fn compare(&self, a: usize, other: &GroupKeys, b: usize) -> Ordering {
        match (self, other) {
            (GroupKeys::Flat(x), GroupKeys::Flat(y)) if x.same_layout(y) => {
                x.compare_words(x.key(a), y.key(b))
            }
            (GroupKeys::Rows(x), GroupKeys::Rows(y)) => compare_group_keys(&x[a], &y[b]),
            _ => compare_group_keys(&self.row(a), &other.row(b)),
        }
    }

    /// Whether the keys are strictly ascending (what a sorted partial promises).
    pub fn ascending(&self) -> bool {
        match self {
            GroupKeys::Rows(rows) => rows
                .windows(2)
                .all(|w| compare_group_keys(&w[0], &w[1]) == Ordering::Less),
            GroupKeys::Flat(flat) => (1..flat.len())
                .all(|g| flat.compare_words(flat.key(g - 1), flat.key(g)) == Ordering::Less),
        }
    }

    /// Group numbers in key order.
    pub fn sorted_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        match self {
            GroupKeys::Rows(rows) => {
                order.sort_by(|a, b| compare_group_keys(&rows[*a], &rows[*b]));
            }
            GroupKeys::Flat(flat) => {
                order.sort_by(|a, b| flat.compare_words(flat.key(*a), flat.key(*b)));
            }
        }
        order
    }

    /// Keep only `groups`: group `i` becomes group `groups[i]` of before.
    pub fn retain(&mut self, groups: &[usize]) {
        match self {
            GroupKeys::Rows(rows) => {
                let mut old = std::mem::take(rows);
                *rows = groups
                    .iter()
                    .map(|i| std::mem::take(&mut old[*i]))
                    .collect();
            }
            GroupKeys::Flat(flat) => {
                let mut data = Vec::with_capacity(groups.len() * flat.stride());
                for group in groups {
                    data.extend_from_slice(flat.key(*group));
                }
                flat.data = data;
            }
        }
    }

    /// Move group `group` of `from` (of the same form) to the end of `self`; returns
    /// its new group number.
    pub fn push_from(&mut self, from: &mut GroupKeys, group: usize) -> usize {
        match (&mut *self, from) {
            (GroupKeys::Flat(to), GroupKeys::Flat(from)) => to.push_words(from.key(group)),
            (GroupKeys::Rows(to), GroupKeys::Rows(from)) => {
                to.push(std::mem::take(&mut from[group]));
            }
            (to, from) => to.push(from.row(group)),
        }
        self.len() - 1
    }

    /// Key column `column` of every group, as a vector of `ty`.
    pub fn vector(&self, column: usize, ty: SqlType) -> Vector {
        match self {
            GroupKeys::Flat(flat) if column < flat.lanes.len() => flat.vector(column, ty),
            _ => {
                let values: Vec<Scalar> = (0..self.len())
                    .map(|group| self.value(group, column))
                    .collect();
                Vector::from_scalars(ty, false, &values)
            }
        }
    }

    /// Key column `column` of every group, as scalars.
    pub fn column(&self, column: usize) -> Vec<Scalar> {
        (0..self.len())
            .map(|group| self.value(group, column))
            .collect()
    }

    /// Estimated bytes held by the keys of groups `from..` (for `maxStateBytes`).
    pub fn bytes_from(&self, from: usize) -> usize {
        match self {
            GroupKeys::Rows(rows) => rows
                .get(from..)
                .map_or(0, |r| r.iter().map(|k| row_bytes(k)).sum()),
            GroupKeys::Flat(flat) => flat.len().saturating_sub(from) * flat.stride() * 8,
        }
    }
}

/// Rows as flat keys of `lanes`, when every value fits.
fn flatten(lanes: &[Lane], rows: &[GroupKey]) -> Option<FlatKeys> {
    let mut flat = FlatKeys::new(lanes.to_vec());
    flat.reserve(rows.len());
    for row in rows {
        if !flat.push_scalars(row) {
            return None;
        }
    }
    Some(flat)
}

/// Flat key → group number, over the keys of one [`FlatKeys`] (which the caller passes
/// with every call: the index holds group numbers, not keys).
#[derive(Debug, Default)]
pub struct FlatIndex {
    table: HashTable<u32>,
}

fn hash_words(words: &[u64]) -> u64 {
    let mut hasher = FxBuildHasher.build_hasher();
    for word in words {
        hasher.write_u64(*word);
    }
    hasher.finish()
}

impl FlatIndex {
    pub fn reserve(&mut self, additional: usize, keys: &FlatKeys) {
        self.table
            .reserve(additional, |g| hash_words(keys.key(*g as usize)));
    }

    /// The group of `words` in `keys`, added to `keys` (and the index) when new.
    pub fn find_or_insert(&mut self, keys: &mut FlatKeys, words: &[u64]) -> usize {
        let hash = hash_words(words);
        if let Some(group) = self.table.find(hash, |g| keys.key(*g as usize) == words) {
            return *group as usize;
        }
        let group = keys.len();
        keys.push_words(words);
        self.table
            .insert_unique(hash, group as u32, |g| hash_words(keys.key(*g as usize)));
        group
    }

    /// Index group `group` of `keys`, which is not yet indexed.
    pub fn insert_existing(&mut self, keys: &FlatKeys, group: usize) {
        let hash = hash_words(keys.key(group));
        self.table
            .insert_unique(hash, group as u32, |g| hash_words(keys.key(*g as usize)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(rows: &[GroupKey]) -> GroupKeys {
        let mut keys = GroupKeys::for_types(&[SqlType::Long, SqlType::Double]);
        for row in rows {
            keys.push(row.clone());
        }
        keys
    }

    fn values() -> Vec<GroupKey> {
        let longs = [
            Scalar::Null,
            Scalar::Long(i64::MIN),
            Scalar::Long(-1),
            Scalar::Long(0),
            Scalar::Long(7),
        ];
        let doubles = [
            Scalar::Null,
            Scalar::Double(f64::NEG_INFINITY),
            Scalar::Double(-0.0),
            Scalar::Double(0.0),
            Scalar::Double(2.5),
            Scalar::Double(f64::NAN),
        ];
        let mut rows = Vec::new();
        for a in &longs {
            for b in &doubles {
                rows.push(vec![a.clone(), b.clone()]);
            }
        }
        rows
    }

    /// Flat keys compare, group and read back as rows of scalars do.
    #[test]
    fn flat_keys_order_and_group_as_scalar_rows() {
        let rows = values();
        let keys = flat(&rows);
        assert!(matches!(keys, GroupKeys::Flat(_)));
        assert_eq!(keys.len(), rows.len());
        for (a, row_a) in rows.iter().enumerate() {
            let back = keys.row(a);
            assert_eq!(&back, row_a, "row {a} reads back");
            for (b, row_b) in rows.iter().enumerate() {
                let expected = compare_group_keys(row_a, row_b);
                let same_group = row_a == row_b;
                let got = keys.compare(a, &keys, b);
                if same_group {
                    // -0.0 and 0.0 are one group: their lanes are equal.
                    assert_eq!(got, Ordering::Equal, "{row_a:?} {row_b:?}");
                } else {
                    assert_eq!(got, expected, "{row_a:?} {row_b:?}");
                }
            }
        }
        let mut index = FlatIndex::default();
        let GroupKeys::Flat(mut merged) = GroupKeys::for_types(&[SqlType::Long, SqlType::Double])
        else {
            panic!("flat");
        };
        let GroupKeys::Flat(source) = &keys else {
            panic!("flat")
        };
        let groups: Vec<usize> = (0..source.len())
            .map(|g| index.find_or_insert(&mut merged, source.key(g)))
            .collect();
        for (a, row_a) in rows.iter().enumerate() {
            for (b, row_b) in rows.iter().enumerate() {
                assert_eq!(
                    groups[a] == groups[b],
                    row_a == row_b,
                    "{row_a:?} {row_b:?}"
                );
            }
        }
    }

    #[test]
    fn rows_that_do_not_fit_turn_flat_keys_into_rows() {
        let mut keys = flat(&values());
        let n = keys.len();
        keys.push(vec![Scalar::Str("x".into()), Scalar::Null]);
        assert!(matches!(keys, GroupKeys::Rows(_)));
        assert_eq!(keys.len(), n + 1);
        assert_eq!(keys.row(0), values()[0]);
        let mut rows = GroupKeys::Rows(values());
        let mut other = flat(&values()[..3]);
        assert!(rows.unify(&mut other));
        assert!(matches!(
            (&rows, &other),
            (GroupKeys::Flat(_), GroupKeys::Flat(_))
        ));
        assert_eq!(rows.vector(0, SqlType::Long).scalar(7), values()[7][0]);
    }

    #[test]
    fn retain_and_vectors_keep_values_and_nulls() {
        let rows = values();
        let mut keys = flat(&rows);
        keys.retain(&[5, 0, 12]);
        assert_eq!(keys.row(0), rows[5]);
        assert_eq!(keys.row(1), rows[0]);
        assert_eq!(keys.row(2), rows[12]);
        let vector = keys.vector(1, SqlType::Double);
        for group in 0..3 {
            assert_eq!(vector.scalar(group), keys.value(group, 1));
        }
        assert_eq!(keys.bytes_from(1), 2 * 3 * 8);
    }
}
