//! Aggregate states, one column of state per aggregate with one slot per group, so the
//! update loops run over plain vectors. Every state merges with another of its kind:
//! segments combine into a server result, servers into the broker's.

use std::cmp::Ordering;

use rustc_hash::FxHashSet;
use tessera_segment::hll::{HyperLogLog, hash_bytes, mix64};

use crate::distinct_set::DistinctSet;
use crate::error::QueryResult;
use crate::eval::{f64s, i64s};
use crate::plan::{AggCall, AggFunc};
use crate::state_bytes::{SET_SLOT_OVERHEAD, scalar_bytes};
use crate::tdigest::TDigest;
use crate::types::{Scalar, SqlType, ordered_u64};
use crate::value_lists::{VALUE_BYTES, ValueLists};
use crate::vector::{Data, Vector};

#[derive(Debug, Clone)]
pub enum AccState {
    Count(Vec<i64>),
    SumLong {
        sums: Vec<i128>,
        counts: Vec<i64>,
    },
    SumDouble {
        sums: Vec<f64>,
        counts: Vec<i64>,
    },
    Avg {
        sums: Vec<f64>,
        counts: Vec<i64>,
    },
    MinMaxLong {
        values: Vec<i64>,
        seen: Vec<bool>,
        max: bool,
    },
    MinMaxDouble {
        values: Vec<f64>,
        seen: Vec<bool>,
        max: bool,
    },
    MinMaxScalar {
        values: Vec<Scalar>,
        max: bool,
    },
    Range {
        mins: Vec<f64>,
        maxs: Vec<f64>,
        seen: Vec<bool>,
    },
    Distinct(Vec<FxHashSet<Scalar>>),
    /// Exact distinct integers (INT, LONG, TIMESTAMP) as sets of [`ordered_u64`] words:
    /// small sets inline or sorted, large ones 64-bit roaring bitmaps.
    DistinctInt(Vec<DistinctSet>),
    Hll(Vec<HyperLogLog>),
    Percentile {
        values: ValueLists,
        p: f64,
        rank: PercentileRank,
    },
    TDigest {
        digests: Vec<TDigest>,
        p: f64,
    },
}

impl AccState {
    /// An empty state for a call.
    pub fn new(call: &AggCall) -> AccState {
        let arg_ty = call.arg.as_ref().map_or(SqlType::Long, |a| a.ty());
        match call.func {
            AggFunc::Count => AccState::Count(Vec::new()),
            AggFunc::CountDistinct if arg_ty.is_i64_backed() => AccState::DistinctInt(Vec::new()),
            AggFunc::CountDistinct => AccState::Distinct(Vec::new()),
            AggFunc::DistinctCountHll => AccState::Hll(Vec::new()),
            AggFunc::Sum if call.ty == SqlType::Long => AccState::SumLong {
                sums: Vec::new(),
                counts: Vec::new(),
            },
            AggFunc::Sum => AccState::SumDouble {
                sums: Vec::new(),
                counts: Vec::new(),
            },
            AggFunc::Avg => AccState::Avg {
                sums: Vec::new(),
                counts: Vec::new(),
            },
            AggFunc::Min | AggFunc::Max => {
                let max = call.func == AggFunc::Max;
                if arg_ty.is_i64_backed() {
                    AccState::MinMaxLong {
                        values: Vec::new(),
                        seen: Vec::new(),
                        max,
                    }
                } else if arg_ty.is_floating() {
                    AccState::MinMaxDouble {
                        values: Vec::new(),
                        seen: Vec::new(),
                        max,
                    }
                } else {
                    AccState::MinMaxScalar {
                        values: Vec::new(),
                        max,
                    }
                }
            }
            AggFunc::MinMaxRange => AccState::Range {
                mins: Vec::new(),
                maxs: Vec::new(),
                seen: Vec::new(),
            },
            AggFunc::Percentile(p) => AccState::Percentile {
                values: ValueLists::default(),
                p,
                rank: PercentileRank::Nearest,
            },
            AggFunc::PercentileCont(p) => AccState::Percentile {
                values: ValueLists::default(),
                p,
                rank: PercentileRank::Interpolated,
            },
            AggFunc::PercentileDisc(p) => AccState::Percentile {
                values: ValueLists::default(),
                p,
                rank: PercentileRank::CumulativeShare,
            },
            AggFunc::PercentileTDigest(p) => AccState::TDigest {
                digests: Vec::new(),
                p,
            },
        }
    }

    /// The first of groups `0..n` whose exact integer sum does not fit the LONG the
    /// SUM returns.
    pub fn long_sum_overflow(&self, n: usize) -> Option<usize> {
        match self {
            AccState::SumLong { sums, counts } => sums
                .iter()
                .zip(counts)
                .take(n)
                .position(|(sum, count)| *count > 0 && i64::try_from(*sum).is_err()),
            _ => None,
        }
    }

    /// Whether each group's state is a few machine words (a count, a sum, a bound), so
    /// sizing the state for groups that get no row costs only memory in proportion.
    pub fn fixed_width(&self) -> bool {
        matches!(
            self,
            AccState::Count(_)
                | AccState::SumLong { .. }
                | AccState::SumDouble { .. }
                | AccState::Avg { .. }
                | AccState::MinMaxLong { .. }
                | AccState::MinMaxDouble { .. }
                | AccState::Range { .. }
        )
    }

    pub fn groups(&self) -> usize {
        match self {
            AccState::Count(v) => v.len(),
            AccState::SumLong { sums, .. } => sums.len(),
            AccState::SumDouble { sums, .. } | AccState::Avg { sums, .. } => sums.len(),
            AccState::MinMaxLong { values, .. } => values.len(),
            AccState::MinMaxDouble { values, .. } => values.len(),
            AccState::MinMaxScalar { values, .. } => values.len(),
            AccState::Range { mins, .. } => mins.len(),
            AccState::Distinct(v) => v.len(),
            AccState::DistinctInt(v) => v.len(),
            AccState::Hll(v) => v.len(),
            AccState::Percentile { values, .. } => values.groups(),
            AccState::TDigest { digests, .. } => digests.len(),
        }
    }

    /// Group `i` becomes group `order[i]` of before (`order` is a permutation).
    pub fn reorder(&mut self, order: &[usize]) {
        fn apply<T>(values: &mut Vec<T>, order: &[usize], filler: impl Fn() -> T) {
            let mut old = std::mem::take(values);
            *values = order
                .iter()
                .map(|i| std::mem::replace(&mut old[*i], filler()))
                .collect();
        }
        match self {
            AccState::Count(v) => apply(v, order, || 0),
            AccState::SumLong { sums, counts } => {
                apply(sums, order, || 0);
                apply(counts, order, || 0);
            }
            AccState::SumDouble { sums, counts } | AccState::Avg { sums, counts } => {
                apply(sums, order, || 0.0);
                apply(counts, order, || 0);
            }
            AccState::MinMaxLong { values, seen, .. } => {
                apply(values, order, || 0);
                apply(seen, order, || false);
            }
            AccState::MinMaxDouble { values, seen, .. } => {
                apply(values, order, || 0.0);
                apply(seen, order, || false);
            }
            AccState::MinMaxScalar { values, .. } => apply(values, order, || Scalar::Null),
            AccState::Range { mins, maxs, seen } => {
                apply(mins, order, || 0.0);
                apply(maxs, order, || 0.0);
                apply(seen, order, || false);
            }
            AccState::Distinct(v) => apply(v, order, FxHashSet::default),
            AccState::DistinctInt(v) => apply(v, order, DistinctSet::default),
            AccState::Hll(v) => apply(v, order, HyperLogLog::default),
            AccState::Percentile { values, .. } => values.reorder(order),
            AccState::TDigest { digests, .. } => apply(digests, order, TDigest::default),
        }
    }

    /// Offer `value` as group `g`'s MIN or MAX (a no-op for other states).
    pub fn offer_extreme(&mut self, g: usize, value: &Scalar) {
        match self {
            AccState::MinMaxLong { values, seen, max } => {
                if let Some(v) = value.as_i64()
                    && (!seen[g] || improves(v.cmp(&values[g]), *max))
                {
                    values[g] = v;
                    seen[g] = true;
                }
            }
            AccState::MinMaxDouble { values, seen, max } => {
                if let Some(v) = value.as_f64()
                    && (!seen[g] || improves(v.total_cmp(&values[g]), *max))
                {
                    values[g] = v;
                    seen[g] = true;
                }
            }
            AccState::MinMaxScalar { values, max } => {
                let current = &mut values[g];
                if !value.is_null() && (current.is_null() || improves(value.sql_cmp(current), *max))
                {
                    *current = value.clone();
                }
            }
            _ => {}
        }
    }

    /// Make room for `n` groups.
    pub fn resize(&mut self, n: usize) {
        if n <= self.groups() {
            return;
        }
        match self {
            AccState::Count(v) => v.resize(n, 0),
            AccState::SumLong { sums, counts } => {
                sums.resize(n, 0);
                counts.resize(n, 0);
            }
            AccState::SumDouble { sums, counts } | AccState::Avg { sums, counts } => {
                sums.resize(n, 0.0);
                counts.resize(n, 0);
            }
            AccState::MinMaxLong { values, seen, .. } => {
                values.resize(n, 0);
                seen.resize(n, false);
            }
            AccState::MinMaxDouble { values, seen, .. } => {
                values.resize(n, 0.0);
                seen.resize(n, false);
            }
            AccState::MinMaxScalar { values, .. } => values.resize(n, Scalar::Null),
            AccState::Range { mins, maxs, seen } => {
                mins.resize(n, 0.0);
                maxs.resize(n, 0.0);
                seen.resize(n, false);
            }
            AccState::Distinct(v) => v.resize_with(n, FxHashSet::default),
            AccState::DistinctInt(v) => v.resize_with(n, DistinctSet::default),
            AccState::Hll(v) => v.resize_with(n, HyperLogLog::default),
            AccState::Percentile { values, .. } => values.resize(n),
            AccState::TDigest { digests, .. } => digests.resize_with(n, TDigest::default),
        }
    }

    /// Fold rows into their groups. `arg` is `None` for COUNT(*); `keep` masks rows out
    /// (an aggregate FILTER). NULL arguments are skipped. Returns the estimated bytes
    /// the state grew by beyond its fixed per-group slots (new distinct values,
    /// percentile values), for [`crate::state_bytes`].
    pub fn update(
        &mut self,
        groups: &[u32],
        arg: Option<&Vector>,
        keep: Option<&[bool]>,
        block_counts: &mut BlockCounts,
    ) -> QueryResult<usize> {
        let mut grown = 0usize;
        let live = |i: usize| -> bool {
            keep.is_none_or(|k| k[i]) && arg.is_none_or(|a| !a.is_null(i) && a.ty != SqlType::Null)
        };
        match self {
            AccState::Count(counts) => {
                if arg.is_none() && keep.is_none() {
                    block_counts.add_to(counts, groups);
                } else {
                    for (i, g) in groups.iter().enumerate() {
                        if live(i) {
                            counts[*g as usize] += 1;
                        }
                    }
                }
            }
            AccState::SumLong { sums, counts } => {
                let Some(arg) = arg else { return Ok(0) };
                let values = i64s(arg);
                for (i, g) in groups.iter().enumerate() {
                    if live(i) {
                        sums[*g as usize] += i128::from(values[i]);
                        counts[*g as usize] += 1;
                    }
                }
            }
            AccState::SumDouble { sums, counts } | AccState::Avg { sums, counts } => {
                let Some(arg) = arg else { return Ok(0) };
                let values = f64s(arg);
                if arg.nulls.is_none() && keep.is_none() {
                    sum_groups(sums, groups, &values);
                    block_counts.add_to(counts, groups);
                } else {
                    for (i, g) in groups.iter().enumerate() {
                        if live(i) {
                            sums[*g as usize] += values[i];
                            counts[*g as usize] += 1;
                        }
                    }
                }
            }
            AccState::MinMaxLong { values, seen, max } => {
                let Some(arg) = arg else { return Ok(0) };
                let input = i64s(arg);
                for (i, g) in groups.iter().enumerate() {
                    if live(i) {
                        let g = *g as usize;
                        let v = input[i];
                        if !seen[g] || improves(v.cmp(&values[g]), *max) {
                            values[g] = v;
                            seen[g] = true;
                        }
                    }
                }
            }
            AccState::MinMaxDouble { values, seen, max } => {
                let Some(arg) = arg else { return Ok(0) };
                let input = f64s(arg);
                for (i, g) in groups.iter().enumerate() {
                    if live(i) {
                        let g = *g as usize;
                        let v = input[i];
                        if !seen[g] || improves(v.total_cmp(&values[g]), *max) {
                            values[g] = v;
                            seen[g] = true;
                        }
                    }
                }
            }
            AccState::MinMaxScalar { values, max } => {
                let Some(arg) = arg else { return Ok(0) };
                for (i, g) in groups.iter().enumerate() {
                    if live(i) {
                        let v = arg.scalar(i);
                        let current = &mut values[*g as usize];
                        let replace = current.is_null() || improves(v.sql_cmp(current), *max);
                        if replace {
                            *current = v;
                        }
                    }
                }
            }
            AccState::Range { mins, maxs, seen } => {
                let Some(arg) = arg else { return Ok(0) };
                let input = f64s(arg);
                for (i, g) in groups.iter().enumerate() {
                    if live(i) {
                        let g = *g as usize;
                        let v = input[i];
                        if !seen[g] {
                            mins[g] = v;
                            maxs[g] = v;
                            seen[g] = true;
                        } else {
                            mins[g] = mins[g].min(v);
                            maxs[g] = maxs[g].max(v);
                        }
                    }
                }
            }
            AccState::Distinct(sets) => {
                let Some(arg) = arg else { return Ok(0) };
                for (i, g) in groups.iter().enumerate() {
                    if live(i) {
                        let value = arg.scalar(i);
                        let bytes = scalar_bytes(&value) + SET_SLOT_OVERHEAD;
                        if sets[*g as usize].insert(value) {
                            grown += bytes;
                        }
                    }
                }
            }
            AccState::DistinctInt(sets) => {
                let Some(arg) = arg else { return Ok(0) };
                let values = i64s(arg);
                for (i, g) in groups.iter().enumerate() {
                    if live(i) && sets[*g as usize].insert(ordered_u64(values[i])) {
                        grown += sets[*g as usize].value_bytes();
                    }
                }
            }
            AccState::Hll(sketches) => {
                let Some(arg) = arg else { return Ok(0) };
                for (i, g) in groups.iter().enumerate() {
                    if live(i) {
                        sketches[*g as usize].insert_hash(hash_cell(arg, i));
                    }
                }
            }
            AccState::Percentile { values, .. } => {
                let Some(arg) = arg else { return Ok(0) };
                let input = f64s(arg);
                if arg.nulls.is_none() && keep.is_none() && arg.ty != SqlType::Null {
                    values.extend(groups, &input);
                    grown += groups.len() * VALUE_BYTES;
                } else {
                    for (i, g) in groups.iter().enumerate() {
                        if live(i) {
                            values.push(*g, input[i]);
                            grown += VALUE_BYTES;
                        }
                    }
                }
            }
            AccState::TDigest { digests, .. } => {
                let Some(arg) = arg else { return Ok(0) };
                let input = f64s(arg);
                for (i, g) in groups.iter().enumerate() {
                    if live(i) {
                        digests[*g as usize].add(input[i]);
                    }
                }
            }
        }
        Ok(grown)
    }
}

/// Independent accumulators per group: consecutive rows of the same group add into
/// different slots, so the adds do not wait on each other (a chain of dependent adds
/// through one memory slot costs a store-forwarding round trip per row).
const LANES: usize = 4;

/// Group counts up to this use lane accumulators; beyond it rows rarely repeat a group
/// back to back, and the lane copies would not stay in cache.
const LANE_GROUPS: usize = 1024;

/// Group counts up to this use lane accumulators on the stack, more of them: with few
/// groups the same group comes back often.
const SMALL_GROUPS: usize = 16;
const SMALL_LANES: usize = 8;

/// `sums[groups[i]] += values[i]` for every row (every group number `< sums.len()`).
pub fn sum_groups(sums: &mut [f64], groups: &[u32], values: &[f64]) {
    if sums.len() == 1 {
        let mut lanes = [0.0f64; 8];
        let mut chunks = values.chunks_exact(8);
        for chunk in &mut chunks {
            for (lane, v) in lanes.iter_mut().zip(chunk) {
                *lane += v;
            }
        }
        let tail: f64 = chunks.remainder().iter().sum();
        sums[0] += lanes.iter().sum::<f64>() + tail;
        return;
    }
    if sums.len() > LANE_GROUPS || groups.len() < 4 * sums.len() {
        for (g, v) in groups.iter().zip(values) {
            sums[*g as usize] += v;
        }
        return;
    }
    if sums.len() <= SMALL_GROUPS {
        // A fixed array: group numbers are masked into it, so no bounds checks.
        let mut lanes = [0.0f64; SMALL_GROUPS * SMALL_LANES];
        let mut g_chunks = groups.chunks_exact(SMALL_LANES);
        let mut v_chunks = values.chunks_exact(SMALL_LANES);
        for (g, v) in (&mut g_chunks).zip(&mut v_chunks) {
            for lane in 0..SMALL_LANES {
                lanes[(g[lane] as usize % SMALL_GROUPS) * SMALL_LANES + lane] += v[lane];
            }
        }
        for (g, v) in g_chunks.remainder().iter().zip(v_chunks.remainder()) {
            lanes[(*g as usize % SMALL_GROUPS) * SMALL_LANES] += v;
        }
        for (sum, lane) in sums.iter_mut().zip(lanes.chunks_exact(SMALL_LANES)) {
            *sum += lane.iter().sum::<f64>();
        }
        return;
    }
    let mut lanes = vec![0.0f64; sums.len() * LANES];
    let mut g_chunks = groups.chunks_exact(LANES);
    let mut v_chunks = values.chunks_exact(LANES);
    for (g, v) in (&mut g_chunks).zip(&mut v_chunks) {
        for lane in 0..LANES {
            lanes[g[lane] as usize * LANES + lane] += v[lane];
        }
    }
    for (g, v) in g_chunks.remainder().iter().zip(v_chunks.remainder()) {
        lanes[*g as usize * LANES] += v;
    }
    for (sum, lane) in sums.iter_mut().zip(lanes.chunks_exact(LANES)) {
        *sum += lane.iter().sum::<f64>();
    }
}

/// Rows per group of one block, counted once and added to every aggregate that counts
/// all rows (COUNT(*), and SUM/AVG over an argument without NULLs).
#[derive(Default)]
pub struct BlockCounts {
    counts: Option<Vec<i64>>,
}

impl BlockCounts {
    /// Forget the previous block.
    pub fn clear(&mut self) {
        self.counts = None;
    }

    /// `counts[g] += rows of group g in this block`.
    pub fn add_to(&mut self, counts: &mut [i64], groups: &[u32]) {
        if counts.len() > groups.len() / 4 {
            // Many groups for few rows: adding a whole histogram costs more than counting.
            count_groups(counts, groups);
            return;
        }
        let block = self.counts.get_or_insert_with(|| {
            let mut block = vec![0i64; counts.len()];
            count_groups(&mut block, groups);
            block
        });
        if block.len() != counts.len() {
            count_groups(counts, groups);
            return;
        }
        for (count, add) in counts.iter_mut().zip(block.iter()) {
            *count += add;
        }
    }
}

/// `counts[groups[i]] += 1` for every row.
pub fn count_groups(counts: &mut [i64], groups: &[u32]) {
    if counts.len() == 1 {
        counts[0] += groups.len() as i64;
        return;
    }
    if counts.len() > LANE_GROUPS || groups.len() < 4 * counts.len() {
        for g in groups {
            counts[*g as usize] += 1;
        }
        return;
    }
    let mut lanes = vec![0i64; counts.len() * LANES];
    let mut chunks = groups.chunks_exact(LANES);
    for g in &mut chunks {
        for lane in 0..LANES {
            lanes[g[lane] as usize * LANES + lane] += 1;
        }
    }
    for g in chunks.remainder() {
        lanes[*g as usize * LANES] += 1;
    }
    for (count, lane) in counts.iter_mut().zip(lanes.chunks_exact(LANES)) {
        *count += lane.iter().sum::<i64>();
    }
}

impl AccState {
    /// Fold every group of `other` into this state: group `from` of `other` goes into
    /// group `mapping[from]` (which must exist).
    /// Returns the estimated bytes this state grew by beyond its per-group slots, as
    /// [`AccState::update`] does.
    pub fn merge_from(&mut self, other: &AccState, mapping: &[usize]) -> usize {
        let mut grown = 0usize;
        match (self, other) {
            (AccState::Count(a), AccState::Count(b)) => {
                for (from, &into) in mapping.iter().enumerate() {
                    a[into] += b[from];
                }
            }
            (
                AccState::SumLong { sums, counts },
                AccState::SumLong {
                    sums: s2,
                    counts: c2,
                },
            ) => {
                for (from, &into) in mapping.iter().enumerate() {
                    sums[into] += s2[from];
                    counts[into] += c2[from];
                }
            }
            (
                AccState::SumDouble { sums, counts },
                AccState::SumDouble {
                    sums: s2,
                    counts: c2,
                },
            )
            | (
                AccState::Avg { sums, counts },
                AccState::Avg {
                    sums: s2,
                    counts: c2,
                },
            ) => {
                for (from, &into) in mapping.iter().enumerate() {
                    sums[into] += s2[from];
                    counts[into] += c2[from];
                }
            }
            (
                AccState::MinMaxLong { values, seen, max },
                AccState::MinMaxLong {
                    values: v2,
                    seen: s2,
                    ..
                },
            ) => {
                for (from, &into) in mapping.iter().enumerate() {
                    if s2[from] && (!seen[into] || improves(v2[from].cmp(&values[into]), *max)) {
                        values[into] = v2[from];
                        seen[into] = true;
                    }
                }
            }
            (
                AccState::MinMaxDouble { values, seen, max },
                AccState::MinMaxDouble {
                    values: v2,
                    seen: s2,
                    ..
                },
            ) => {
                for (from, &into) in mapping.iter().enumerate() {
                    if !s2[from] {
                        continue;
                    }
                    if !seen[into] || improves(v2[from].total_cmp(&values[into]), *max) {
                        values[into] = v2[from];
                        seen[into] = true;
                    }
                }
            }
            (AccState::MinMaxScalar { values, max }, AccState::MinMaxScalar { values: v2, .. }) => {
                for (from, &into) in mapping.iter().enumerate() {
                    let candidate = &v2[from];
                    if !candidate.is_null() {
                        let current = &values[into];
                        let replace =
                            current.is_null() || improves(candidate.sql_cmp(current), *max);
                        if replace {
                            values[into] = candidate.clone();
                        }
                    }
                }
            }
            (
                AccState::Range { mins, maxs, seen },
                AccState::Range {
                    mins: m2,
                    maxs: x2,
                    seen: s2,
                },
            ) => {
                for (from, &into) in mapping.iter().enumerate() {
                    if !s2[from] {
                        continue;
                    }
                    if seen[into] {
                        mins[into] = mins[into].min(m2[from]);
                        maxs[into] = maxs[into].max(x2[from]);
                    } else {
                        mins[into] = m2[from];
                        maxs[into] = x2[from];
                        seen[into] = true;
                    }
                }
            }
            (AccState::Distinct(a), AccState::Distinct(b)) => {
                for (from, &into) in mapping.iter().enumerate() {
                    for value in &b[from] {
                        if !a[into].contains(value) {
                            grown += scalar_bytes(value) + SET_SLOT_OVERHEAD;
                            a[into].insert(value.clone());
                        }
                    }
                }
            }
            (AccState::DistinctInt(a), AccState::DistinctInt(b)) => {
                for (from, &into) in mapping.iter().enumerate() {
                    let added = a[into].union_with(&b[from]) as usize;
                    grown += added * a[into].value_bytes();
                }
            }
            (AccState::Hll(a), AccState::Hll(b)) => {
                for (from, &into) in mapping.iter().enumerate() {
                    a[into].merge(&b[from]);
                }
            }
            (AccState::Percentile { values, .. }, AccState::Percentile { values: v2, .. }) => {
                grown += values.merge_from(v2, mapping);
            }
            (AccState::TDigest { digests, .. }, AccState::TDigest { digests: d2, .. }) => {
                for (from, &into) in mapping.iter().enumerate() {
                    digests[into].merge(&d2[from]);
                }
            }
            _ => {}
        }
        grown
    }

    /// The final value of group `g`.
    /// The finished values of groups `0..n` as one vector of `ty` (what
    /// [`AccState::finish`] gives per group, without a scalar per group for counts,
    /// sums, averages and bounds).
    pub fn finish_vector(&mut self, ty: SqlType, n: usize) -> Vector {
        let nulls_where = |empty: &dyn Fn(usize) -> bool| {
            let nulls: Vec<bool> = (0..n).map(empty).collect();
            nulls.contains(&true).then_some(nulls)
        };
        let data = match (&*self, ty) {
            (AccState::Count(counts), SqlType::Long) if counts.len() >= n => {
                Some((Data::Long(counts[..n].to_vec()), None))
            }
            (AccState::SumDouble { sums, counts }, SqlType::Double)
                if sums.len() >= n && counts.len() >= n =>
            {
                Some((
                    Data::Double(sums[..n].to_vec()),
                    nulls_where(&|g| counts[g] == 0),
                ))
            }
            (AccState::Avg { sums, counts }, SqlType::Double)
                if sums.len() >= n && counts.len() >= n =>
            {
                Some((
                    Data::Double((0..n).map(|g| sums[g] / counts[g].max(1) as f64).collect()),
                    nulls_where(&|g| counts[g] == 0),
                ))
            }
            (AccState::MinMaxLong { values, seen, .. }, SqlType::Long)
                if values.len() >= n && seen.len() >= n =>
            {
                Some((Data::Long(values[..n].to_vec()), nulls_where(&|g| !seen[g])))
            }
            (AccState::MinMaxDouble { values, seen, .. }, SqlType::Double)
                if values.len() >= n && seen.len() >= n =>
            {
                Some((
                    Data::Double(values[..n].to_vec()),
                    nulls_where(&|g| !seen[g]),
                ))
            }
            _ => None,
        };
        match data {
            Some((data, nulls)) => Vector {
                ty,
                multi_value: false,
                data,
                nulls,
            },
            None => {
                let column: Vec<Scalar> = (0..n).map(|g| self.finish(g)).collect();
                Vector::from_scalars(ty, false, &column)
            }
        }
    }

    pub fn finish(&mut self, g: usize) -> Scalar {
        match self {
            AccState::Count(v) => Scalar::Long(v[g]),
            AccState::SumLong { sums, counts } => {
                if counts[g] == 0 {
                    Scalar::Null
                } else {
                    match i64::try_from(sums[g]) {
                        Ok(v) => Scalar::Long(v),
                        Err(_) => Scalar::Double(sums[g] as f64),
                    }
                }
            }
            AccState::SumDouble { sums, counts } => {
                if counts[g] == 0 {
                    Scalar::Null
                } else {
                    Scalar::Double(sums[g])
                }
            }
            AccState::Avg { sums, counts } => {
                if counts[g] == 0 {
                    Scalar::Null
                } else {
                    Scalar::Double(sums[g] / counts[g] as f64)
                }
            }
            AccState::MinMaxLong { values, seen, .. } => {
                if seen[g] {
                    Scalar::Long(values[g])
                } else {
                    Scalar::Null
                }
            }
            AccState::MinMaxDouble { values, seen, .. } => {
                if seen[g] {
                    Scalar::Double(values[g])
                } else {
                    Scalar::Null
                }
            }
            AccState::MinMaxScalar { values, .. } => values[g].clone(),
            AccState::Range { mins, maxs, seen } => {
                if seen[g] {
                    Scalar::Double(maxs[g] - mins[g])
                } else {
                    Scalar::Null
                }
            }
            AccState::Distinct(sets) => Scalar::Long(sets[g].len() as i64),
            AccState::DistinctInt(sets) => Scalar::Long(sets[g].len() as i64),
            AccState::Hll(sketches) => Scalar::Long(sketches[g].estimate() as i64),
            AccState::Percentile { values, p, rank } => {
                let values = values.group_mut(g);
                if values.is_empty() {
                    return Scalar::Null;
                }
                // The one or two ranks the answer needs are selected, not sorted for:
                // linear, where a sort of millions of values is not.
                let n = values.len();
                Scalar::Double(match rank {
                    PercentileRank::Nearest => nth_smallest(values, percentile_index(n, *p)),
                    PercentileRank::Interpolated => selected_interpolated_percentile(values, *p),
                    PercentileRank::CumulativeShare => {
                        nth_smallest(values, cumulative_share_index(n, *p))
                    }
                })
            }
            AccState::TDigest { digests, p } => {
                digests[g].quantile(*p).map_or(Scalar::Null, Scalar::Double)
            }
        }
    }
}

/// Whether a candidate that compares `ordering` to the current MIN/MAX replaces it.
fn improves(ordering: Ordering, max: bool) -> bool {
    if max {
        ordering == Ordering::Greater
    } else {
        ordering == Ordering::Less
    }
}

/// `PERCENTILE(x, p)` on the sorted values: index `floor(p/100 · (n-1))`. (Not
/// DuckDB's `quantile_disc`, which is [`cumulative_share_index`].)
pub fn percentile_index(n: usize, p: f64) -> usize {
    let position = (p / 100.0) * (n - 1) as f64;
    (position.floor() as usize).min(n - 1)
}

/// Which value of the sorted ones an exact percentile answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PercentileRank {
    /// `PERCENTILE(x, p)`: index `floor(p/100 · (n-1))`.
    Nearest,
    /// `PERCENTILE_CONT`: between the neighbours of position `p/100 · (n-1)`.
    Interpolated,
    /// `PERCENTILE_DISC`: the first value whose cumulative share reaches `p/100`,
    /// index `ceil(p/100 · n) - 1`.
    CumulativeShare,
}

/// `PERCENTILE_DISC`'s index among `n` sorted values (PostgreSQL, DuckDB).
pub fn cumulative_share_index(n: usize, p: f64) -> usize {
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    rank.saturating_sub(1).min(n - 1)
}

/// The value at index `n` of `values` sorted by `total_cmp` (`values` non-empty, `n` in
/// range), found by selection; `values` is left partitioned around it.
fn nth_smallest(values: &mut [f64], n: usize) -> f64 {
    let (_, nth, _) = values.select_nth_unstable_by(n, f64::total_cmp);
    *nth
}

/// [`interpolated_percentile`] of `values` as if sorted, from the two neighbouring ranks
/// found by selection.
fn selected_interpolated_percentile(values: &mut [f64], p: f64) -> f64 {
    let position = (p / 100.0) * (values.len() - 1) as f64;
    let below_index = (position.floor() as usize).min(values.len() - 1);
    let (_, below, rest) = values.select_nth_unstable_by(below_index, f64::total_cmp);
    let below = *below;
    // The next rank is the smallest of what lies above (itself when there is none).
    let above = rest.iter().copied().min_by(f64::total_cmp).unwrap_or(below);
    let weight = position - below_index as f64;
    below + (above - below) * weight
}

/// `PERCENTILE_CONT` on sorted, non-empty values: position `p/100 · (n-1)`, linear
/// between its two neighbours (DuckDB's `quantile_cont`, PostgreSQL's
/// `percentile_cont`).
pub fn interpolated_percentile(sorted: &[f64], p: f64) -> f64 {
    let position = (p / 100.0) * (sorted.len() - 1) as f64;
    let below = (position.floor() as usize).min(sorted.len() - 1);
    let above = (below + 1).min(sorted.len() - 1);
    let weight = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * weight
}

fn hash_cell(v: &Vector, i: usize) -> u64 {
    match &v.data {
        Data::Long(values) => mix64(values[i] as u64),
        Data::Double(values) => {
            let x = values[i];
            if x.fract() == 0.0 && x.abs() < 9.0e18 {
                mix64(x as i64 as u64)
            } else {
                mix64(x.to_bits())
            }
        }
        Data::Str(values) => hash_bytes(values[i].as_bytes()),
        Data::Bytes(values) => hash_bytes(&values[i]),
        Data::Bool(values) => mix64(u64::from(values[i])),
        Data::Array(_) => hash_bytes(format!("{:?}", v.scalar(i)).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole vector of finished values equals finishing each group, NULLs (groups
    /// with no value) included, for every state `finish_vector` builds directly.
    #[test]
    fn test_finished_vectors_equal_finished_groups() {
        let states = [
            (AccState::Count(vec![3, 0, 7]), SqlType::Long),
            (
                AccState::SumDouble {
                    sums: vec![1.5, 0.0, -2.0],
                    counts: vec![2, 0, 1],
                },
                SqlType::Double,
            ),
            (
                AccState::Avg {
                    sums: vec![3.0, 0.0, -2.0],
                    counts: vec![2, 0, 1],
                },
                SqlType::Double,
            ),
            (
                AccState::MinMaxLong {
                    values: vec![4, 0, -9],
                    seen: vec![true, false, true],
                    max: true,
                },
                SqlType::Long,
            ),
            (
                AccState::MinMaxDouble {
                    values: vec![4.5, 0.0, f64::NAN],
                    seen: vec![true, false, true],
                    max: false,
                },
                SqlType::Double,
            ),
            (
                AccState::SumLong {
                    sums: vec![i128::from(i64::MAX), 0, -5],
                    counts: vec![1, 0, 1],
                },
                SqlType::Long,
            ),
        ];
        for (mut state, ty) in states {
            let vector = state.finish_vector(ty, 3);
            for g in 0..3 {
                let (got, expected) = (vector.scalar(g), state.finish(g));
                assert!(
                    got == expected && got.is_null() == expected.is_null(),
                    "{state:?} group {g}: {got:?} vs {expected:?}"
                );
            }
        }
    }

    /// Selected ranks answer as the sorted values do, for every rank rule, duplicates,
    /// -0.0 and NaN included.
    #[test]
    fn test_selected_percentiles_equal_sorted_ones() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / 1024.0 - 2000.0
        };
        for n in [1usize, 2, 3, 10, 101, 1000] {
            let mut values: Vec<f64> = (0..n).map(|_| next().round() / 4.0).collect();
            if n > 3 {
                values[1] = -0.0;
                values[2] = 0.0;
                values[3] = f64::NAN;
            }
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for p in [0.0, 1.0, 25.0, 50.0, 73.3, 99.9, 100.0] {
                let expect_cont = interpolated_percentile(&sorted, p);
                let got_cont = selected_interpolated_percentile(&mut values.clone(), p);
                assert!(
                    expect_cont.to_bits() == got_cont.to_bits()
                        || (expect_cont.is_nan() && got_cont.is_nan()),
                    "n={n} p={p}: {expect_cont} vs {got_cont}"
                );
                for index in [percentile_index(n, p), cumulative_share_index(n, p)] {
                    let got = nth_smallest(&mut values.clone(), index);
                    assert_eq!(got.to_bits(), sorted[index].to_bits(), "n={n} p={p}");
                }
            }
        }
    }

    #[test]
    fn percentile_index_is_the_floor_of_the_position() {
        assert_eq!(percentile_index(1, 50.0), 0);
        assert_eq!(percentile_index(4, 50.0), 1);
        assert_eq!(percentile_index(5, 50.0), 2);
        assert_eq!(percentile_index(5, 100.0), 4);
        assert_eq!(percentile_index(5, 0.0), 0);
    }

    #[test]
    fn cumulative_share_index_matches_duckdb_quantile_disc() {
        // (n, fraction, DuckDB's answer over range(n)).
        for (n, q, duckdb) in [
            (4, 0.1, 0),
            (4, 0.5, 1),
            (4, 0.9, 3),
            (5, 0.9, 4),
            (10, 0.99, 9),
            (357, 0.9, 321),
            (357, 0.99, 353),
            (7, 0.0, 0),
            (7, 1.0, 6),
        ] {
            assert_eq!(cumulative_share_index(n, q * 100.0), duckdb, "n={n} q={q}");
        }
    }

    #[test]
    fn interpolated_percentile_matches_duckdb_quantile_cont() {
        let values = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(interpolated_percentile(&values, 50.0), 1.5);
        assert_eq!(interpolated_percentile(&values, 90.0), 2.7);
        assert_eq!(interpolated_percentile(&values, 0.0), 0.0);
        assert_eq!(interpolated_percentile(&values, 100.0), 3.0);
        assert_eq!(interpolated_percentile(&[5.0], 30.0), 5.0);
    }

    #[test]
    fn lane_sums_and_counts_equal_plain_loops() {
        for groups_count in [1usize, 3, 100, 2000] {
            let rows = 10_007;
            let groups: Vec<u32> = (0..rows)
                .map(|i| ((i * 7919) % groups_count) as u32)
                .collect();
            let values: Vec<f64> = (0..rows).map(|i| (i % 97) as f64 * 0.25).collect();
            let mut sums = vec![1.0; groups_count];
            let mut counts = vec![2i64; groups_count];
            sum_groups(&mut sums, &groups, &values);
            count_groups(&mut counts, &groups);
            let mut block = BlockCounts::default();
            let mut shared = vec![0i64; groups_count];
            block.add_to(&mut shared, &groups);
            let mut expected_sums = vec![1.0; groups_count];
            let mut expected_counts = vec![2i64; groups_count];
            for (g, v) in groups.iter().zip(&values) {
                expected_sums[*g as usize] += v;
                expected_counts[*g as usize] += 1;
            }
            // Quarters sum exactly in any order.
            assert_eq!(sums, expected_sums, "{groups_count} groups");
            assert_eq!(counts, expected_counts, "{groups_count} groups");
            let shared_expected: Vec<i64> = expected_counts.iter().map(|c| c - 2).collect();
            assert_eq!(shared, shared_expected, "{groups_count} groups");
        }
    }

    #[test]
    fn reorder_moves_every_state_kind() {
        let call = |func: AggFunc, ty: SqlType| AggCall {
            func,
            arg: Some(crate::expr::Expr::Column {
                name: "x".into(),
                ty,
                single_value: true,
            }),
            filter: None,
            ty,
            text: String::new(),
        };
        let values = Vector::new(SqlType::Long, Data::Long(vec![10, 20, 30]), None);
        for func in [
            AggFunc::Sum,
            AggFunc::Min,
            AggFunc::CountDistinct,
            AggFunc::Percentile(50.0),
        ] {
            let mut state = AccState::new(&call(func, SqlType::Long));
            state.resize(3);
            state
                .update(&[0, 1, 2], Some(&values), None, &mut BlockCounts::default())
                .expect("updates");
            state.reorder(&[2, 0, 1]);
            let finished: Vec<Scalar> = (0..3).map(|g| state.finish(g)).collect();
            let expected: Vec<Scalar> = match func {
                AggFunc::CountDistinct => vec![Scalar::Long(1); 3],
                AggFunc::Percentile(_) => vec![
                    Scalar::Double(30.0),
                    Scalar::Double(10.0),
                    Scalar::Double(20.0),
                ],
                _ => vec![Scalar::Long(30), Scalar::Long(10), Scalar::Long(20)],
            };
            assert_eq!(finished, expected, "{func:?}");
        }
    }
}
