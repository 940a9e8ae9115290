//! Sums and averages factored over dictionary ids.
//!
//! `SUM(price * (1 - discount) * (1 + tax))` with `discount` and `tax` dictionary
//! columns of a few entries is a product of a *raw* factor (`price`, read per row) and
//! *dictionary* factors (each a function of one small dictionary column). Summing the raw
//! factor per (group, discount id, tax id) and multiplying each sum by the factors'
//! values once per entry at the end of the segment gives the same sum without reading a
//! value out of either dictionary or doing any arithmetic per row. Aggregates without a
//! raw factor (`AVG(quantity)`) only count rows per (group, id).
//!
//! Aggregates with the same raw factor share one table keyed by all their dictionary
//! columns, so q01's four sums over `l_extendedprice` are one scatter-add per row.
//! Results equal per-row evaluation up to floating-point summation order.

use std::rc::Rc;

use crate::aggregate::AccState;
use crate::error::QueryResult;
use crate::eval::{eval_shared, f64s, i64s};
use crate::expr::{ArithOp, Expr};
use crate::plan::AggCall;
use crate::segment_scan::{BlockColumns, SegmentContext, eval_on_dictionary, small_dictionary};
use crate::types::SqlType;
use crate::vector::Vector;

/// Dictionary factors over columns larger than this are read per row instead.
const MAX_FACTOR_CARDINALITY: u32 = 1024;
/// Id combinations one table keys on (per group).
const MAX_TABLE_COMBINATIONS: u64 = 4096;
/// Slots of one table over all groups: 65,536 × `LANES` cells of 16 bytes is 4 MiB, and
/// past that the scattered adds leave the cache (and the table its memory budget).
const MAX_TABLE_SLOTS: u64 = 1 << 16;

/// Rows are spread over this many copies of each slot (row `i` into copy `i % LANES`),
/// so consecutive rows of one slot do not wait on each other's store.
const LANES: usize = 4;

/// The factored aggregates of one segment.
pub struct FactoredAggs {
    tables: Vec<Table>,
    /// Per aggregate: the table that serves it.
    table_of: Vec<Option<usize>>,
    /// Per factor column: name, ids of the current block.
    block_ids: Vec<(String, Vec<u32>)>,
    slots: Vec<u32>,
}

struct Table {
    /// The raw factor, evaluated per row; `None` when the table only counts.
    raw: Option<Expr>,
    raw_text: Option<String>,
    columns: Vec<FactorColumn>,
    /// Id combinations per group: the product of the columns' radixes.
    combinations: usize,
    cells: Cells,
    aggs: Vec<FactoredAgg>,
    /// Whether the current block goes through this table (its raw factor has no NULL).
    active: bool,
}

struct FactorColumn {
    name: String,
    /// Ids plus one for NULL when the column has NULLs.
    radix: u32,
}

struct FactoredAgg {
    index: usize,
    /// Whether the aggregate multiplies the table's raw sums (else its counts).
    uses_raw: bool,
    /// Each dictionary factor: the column it reads, its value per id (the last id is
    /// NULL's).
    factors: Vec<(String, FactorValues)>,
}

enum FactorValues {
    Double(Vec<Option<f64>>),
    Long(Vec<Option<i64>>),
}

/// One aggregate's argument split into factors.
struct Split<'e> {
    raw: Vec<&'e Expr>,
    /// (column, factor expression, its values per dictionary id).
    dictionary: Vec<(String, u32, FactorValues)>,
}

/// The factors of a product computed in floating point (integer products are kept whole:
/// splitting them would change where they overflow).
fn product_factors<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match expr {
        Expr::Arith {
            op: ArithOp::Mul,
            left,
            right,
            ty,
        } if ty.is_floating() => {
            product_factors(left, out);
            product_factors(right, out);
        }
        _ => out.push(expr),
    }
}

fn split<'e>(context: &SegmentContext<'_>, call: &'e AggCall) -> QueryResult<Option<Split<'e>>> {
    let Some(arg) = &call.arg else {
        return Ok(None);
    };
    // The state the aggregate keeps decides: an exact integer sum, or a double sum.
    let long_sum = match AccState::new(call) {
        AccState::SumLong { .. } => true,
        AccState::SumDouble { .. } | AccState::Avg { .. } => false,
        _ => return Ok(None),
    };
    if call.filter.is_some() {
        return Ok(None);
    }
    let mut factors = Vec::new();
    product_factors(arg, &mut factors);
    let mut out = Split {
        raw: Vec::new(),
        dictionary: Vec::new(),
    };
    for factor in factors {
        let mut referenced = Vec::new();
        factor.columns(&mut referenced);
        let dictionary = match referenced.as_slice() {
            [name] => small_dictionary(context, name)?
                .filter(|(_, cardinality)| *cardinality <= MAX_FACTOR_CARDINALITY),
            _ => None,
        };
        let Some((reader, cardinality)) = dictionary else {
            out.raw.push(factor);
            continue;
        };
        // A factor that fails on some dictionary entry (overflow) may never meet a row
        // with that entry: leave the aggregate to per-row evaluation.
        let Ok(values) = eval_on_dictionary(reader, cardinality, factor) else {
            return Ok(None);
        };
        let values = if long_sum {
            let longs = i64s(&values);
            FactorValues::Long(
                (0..values.len())
                    .map(|i| (!values.is_null(i)).then_some(longs[i]))
                    .collect(),
            )
        } else {
            let doubles = f64s(&values);
            FactorValues::Double(
                (0..values.len())
                    .map(|i| (!values.is_null(i)).then_some(doubles[i]))
                    .collect(),
            )
        };
        out.dictionary
            .push((reader.metadata().name.clone(), cardinality, values));
    }
    if long_sum && (!out.raw.is_empty() || out.dictionary.len() != 1) {
        // An exact integer sum that needs more than counts.
        return Ok(None);
    }
    Ok(Some(out))
}

/// The raw factors multiplied back together (in floating point, as the original was).
fn raw_product(raw: &[&Expr]) -> Option<Expr> {
    let mut factors = raw.iter();
    let first = (*factors.next()?).clone();
    Some(factors.fold(first, |product, factor| Expr::Arith {
        op: ArithOp::Mul,
        left: Box::new(product),
        right: Box::new((*factor).clone()),
        ty: SqlType::Double,
    }))
}

impl FactoredAggs {
    /// Decide which aggregates go through tables on this segment. `group_space` bounds
    /// the number of groups (`None`: unbounded, nothing is factored).
    pub fn plan(
        context: &SegmentContext<'_>,
        aggs: &[AggCall],
        group_space: Option<u64>,
    ) -> QueryResult<FactoredAggs> {
        let mut factored = FactoredAggs {
            tables: Vec::new(),
            table_of: vec![None; aggs.len()],
            block_ids: Vec::new(),
            slots: Vec::new(),
        };
        let Some(group_space) = group_space.filter(|_| context.use_indexes) else {
            return Ok(factored);
        };
        let mut splits = Vec::new();
        for (index, call) in aggs.iter().enumerate() {
            if let Some(split) = split(context, call)? {
                splits.push((index, split));
            }
        }
        // Tables with a raw factor first: aggregates that only count ride on any table;
        // aggregates without dictionary factors last, and only onto a table that sums
        // their raw factor anyway (`SUM(price)` beside `SUM(price * (1 - discount))`).
        splits.sort_by_key(|(_, split)| (split.dictionary.is_empty(), split.raw.is_empty()));
        for (index, split) in splits {
            let joins_only = split.dictionary.is_empty();
            let raw = raw_product(&split.raw);
            let raw_text = raw.as_ref().map(|r| format!("{r:?}"));
            let mut columns: Vec<(String, u32)> = Vec::new();
            for (name, cardinality, _) in &split.dictionary {
                if !columns.iter().any(|(n, _)| n == name) {
                    columns.push((name.clone(), *cardinality));
                }
            }
            let fits = |table: &Table| -> QueryResult<bool> {
                if raw_text.is_some() && table.raw_text != raw_text {
                    return Ok(false);
                }
                let mut combinations = table.combinations as u64;
                for (name, cardinality) in &columns {
                    if !table.columns.iter().any(|c| c.name == *name) {
                        combinations *= u64::from(radix(context, name, *cardinality)?);
                    }
                }
                Ok(combinations <= MAX_TABLE_COMBINATIONS
                    && combinations * group_space <= MAX_TABLE_SLOTS)
            };
            let mut chosen = None;
            for (t, table) in factored.tables.iter().enumerate() {
                if fits(table)? {
                    chosen = Some(t);
                    break;
                }
            }
            let t = match chosen {
                Some(t) => t,
                None if joins_only => continue,
                None => {
                    let table = Table {
                        raw,
                        raw_text: raw_text.clone(),
                        columns: Vec::new(),
                        combinations: 1,
                        cells: Cells::default(),
                        aggs: Vec::new(),
                        active: false,
                    };
                    if !fits(&table)? {
                        continue;
                    }
                    factored.tables.push(table);
                    factored.tables.len() - 1
                }
            };
            let table = &mut factored.tables[t];
            for (name, cardinality) in columns {
                if !table.columns.iter().any(|c| c.name == name) {
                    let radix = radix(context, &name, cardinality)?;
                    table.combinations *= radix as usize;
                    table.columns.push(FactorColumn { name, radix });
                }
            }
            table.aggs.push(FactoredAgg {
                index,
                uses_raw: !split.raw.is_empty(),
                factors: split
                    .dictionary
                    .into_iter()
                    .map(|(name, _, values)| (name, values))
                    .collect(),
            });
            factored.table_of[index] = Some(t);
        }
        for table in &factored.tables {
            for column in &table.columns {
                if !factored.block_ids.iter().any(|(n, _)| *n == column.name) {
                    factored.block_ids.push((column.name.clone(), Vec::new()));
                }
            }
        }
        Ok(factored)
    }

    /// Whether aggregate `index` went through a table in the current block.
    pub fn serves(&self, index: usize) -> bool {
        self.table_of[index].is_some_and(|t| self.tables[t].active)
    }

    /// Dictionary columns read per block (for the entries-scanned counter).
    pub fn columns_read(&self) -> usize {
        self.block_ids.len()
    }

    /// Accumulate one block whose rows belong to `groups` (of `n_groups` so far).
    pub fn update(
        &mut self,
        columns: &mut BlockColumns<'_, '_>,
        groups: &[u32],
        n_groups: usize,
    ) -> QueryResult<()> {
        if self.tables.is_empty() {
            return Ok(());
        }
        for (name, ids) in &mut self.block_ids {
            ids.clear();
            columns
                .context
                .dict_ids_null_last(name, columns.docs, ids)?;
        }
        for table in &mut self.tables {
            let raw: Option<Rc<Vector>> = match &table.raw {
                Some(expr) => Some(eval_shared(expr, columns)?),
                None => None,
            };
            table.active = raw.as_ref().is_none_or(|r| {
                r.ty != SqlType::Null && r.nulls.as_ref().is_none_or(|n| !n.contains(&true))
            });
            if !table.active {
                continue;
            }
            let combinations = table.combinations;
            self.slots.clear();
            self.slots
                .extend(groups.iter().map(|g| *g * combinations as u32));
            let mut stride = combinations as u32;
            for column in &table.columns {
                stride /= column.radix;
                let Some((_, ids)) = self.block_ids.iter().find(|(n, _)| *n == column.name) else {
                    continue;
                };
                for (slot, id) in self.slots.iter_mut().zip(ids) {
                    *slot += id * stride;
                }
            }
            let slots = &self.slots;
            let size = n_groups * combinations * LANES;
            match raw {
                Some(raw) => {
                    table.cells.sums.resize(size, [0.0; 2]);
                    let cells: &mut [[f64; 2]] = &mut table.cells.sums;
                    let values = f64s(&raw);
                    let mut add = |lane: usize, slot: u32, value: f64| {
                        if let Some(cell) = cells.get_mut(slot as usize * LANES + lane) {
                            cell[0] += value;
                            cell[1] += 1.0;
                        }
                    };
                    let slot_chunks = slots.chunks_exact(LANES);
                    let value_chunks = values.chunks_exact(LANES);
                    for (lane, (slot, value)) in slot_chunks
                        .remainder()
                        .iter()
                        .zip(value_chunks.remainder())
                        .enumerate()
                    {
                        add(lane, *slot, *value);
                    }
                    for (slots, values) in slot_chunks.zip(value_chunks) {
                        for (lane, (slot, value)) in slots.iter().zip(values).enumerate() {
                            add(lane, *slot, *value);
                        }
                    }
                }
                None => {
                    table.cells.counts.resize(size, 0);
                    let counts: &mut [u32] = &mut table.cells.counts;
                    let mut add = |lane: usize, slot: u32| {
                        if let Some(count) = counts.get_mut(slot as usize * LANES + lane) {
                            *count += 1;
                        }
                    };
                    let slot_chunks = slots.chunks_exact(LANES);
                    for (lane, slot) in slot_chunks.remainder().iter().enumerate() {
                        add(lane, *slot);
                    }
                    for slots in slot_chunks {
                        for (lane, slot) in slots.iter().enumerate() {
                            add(lane, *slot);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Add the tables into the aggregates' states (sized to every group).
    pub fn fold_into(self, states: &mut [AccState]) {
        for table in self.tables {
            let groups = table.cells.slots() / table.combinations.max(1);
            for agg in &table.aggs {
                let state = &mut states[agg.index];
                state.resize(groups);
                // Where each factor's id sits in a combination code.
                let positions: Vec<(u32, u32)> = agg
                    .factors
                    .iter()
                    .map(|(name, _)| {
                        let mut stride = table.combinations as u32;
                        for column in &table.columns {
                            stride /= column.radix;
                            if column.name == *name {
                                return (stride, column.radix);
                            }
                        }
                        (1, 1)
                    })
                    .collect();
                for group in 0..groups {
                    for combination in 0..table.combinations {
                        let (raw_sum, count) =
                            table.cells.total(group * table.combinations + combination);
                        if count == 0 {
                            continue;
                        }
                        let raw_sum = raw_sum.filter(|_| agg.uses_raw);
                        let ids = positions
                            .iter()
                            .map(|(stride, radix)| (combination as u32 / stride) % radix);
                        add_slot(state, group, agg, ids, raw_sum, count);
                    }
                }
            }
        }
    }
}

/// Add one (group, id combination) slot to an aggregate's state.
fn add_slot(
    state: &mut AccState,
    group: usize,
    agg: &FactoredAgg,
    ids: impl Iterator<Item = u32>,
    raw_sum: Option<f64>,
    count: u64,
) {
    let mut double = 1.0;
    let mut long: i64 = 1;
    for ((_, values), id) in agg.factors.iter().zip(ids) {
        match values {
            FactorValues::Double(values) => match values.get(id as usize).copied().flatten() {
                Some(v) => double *= v,
                None => return,
            },
            FactorValues::Long(values) => match values.get(id as usize).copied().flatten() {
                Some(v) => long = v,
                None => return,
            },
        }
    }
    let total = match raw_sum {
        Some(sum) => sum * double,
        None => count as f64 * double,
    };
    match state {
        AccState::SumDouble { sums, counts } | AccState::Avg { sums, counts } => {
            sums[group] += total;
            counts[group] += count as i64;
        }
        AccState::SumLong { sums, counts } => {
            sums[group] += i128::from(long) * i128::from(count);
            counts[group] += count as i64;
        }
        _ => {}
    }
}

/// A table's accumulators, `LANES` per slot: raw sums with their row counts (as f64, one
/// cache line per row), or row counts alone.
#[derive(Default)]
struct Cells {
    sums: Vec<[f64; 2]>,
    counts: Vec<u32>,
}

impl Cells {
    fn slots(&self) -> usize {
        self.sums.len().max(self.counts.len()) / LANES
    }

    /// A slot's raw sum (when the table sums) and row count, over its lanes.
    fn total(&self, slot: usize) -> (Option<f64>, u64) {
        let lanes = slot * LANES..(slot + 1) * LANES;
        match self.sums.get(lanes.clone()) {
            Some(cells) if !cells.is_empty() => {
                let sum = cells.iter().map(|c| c[0]).sum();
                let count = cells.iter().map(|c| c[1]).sum::<f64>();
                (Some(sum), count as u64)
            }
            _ => {
                let count = self
                    .counts
                    .get(lanes)
                    .map_or(0, |c| c.iter().map(|n| u64::from(*n)).sum());
                (None, count)
            }
        }
    }
}

fn radix(context: &SegmentContext<'_>, name: &str, cardinality: u32) -> QueryResult<u32> {
    let nulls = context.column(name)?.metadata().null_count > 0;
    Ok(cardinality + u32::from(nulls))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, ty: SqlType) -> Expr {
        Expr::Column {
            name: name.into(),
            ty,
            single_value: true,
        }
    }

    fn mul(left: Expr, right: Expr, ty: SqlType) -> Expr {
        Expr::Arith {
            op: ArithOp::Mul,
            left: Box::new(left),
            right: Box::new(right),
            ty,
        }
    }

    #[test]
    fn floating_products_split_and_integer_products_stay_whole() {
        let price = column("price", SqlType::Double);
        let discount = column("discount", SqlType::Double);
        let tax = column("tax", SqlType::Double);
        let product = mul(mul(price, discount, SqlType::Double), tax, SqlType::Double);
        let mut factors = Vec::new();
        product_factors(&product, &mut factors);
        assert_eq!(factors.len(), 3);

        // `a * b` in LONG may overflow where the factors alone do not: one factor.
        let integer = mul(
            column("a", SqlType::Long),
            column("b", SqlType::Long),
            SqlType::Long,
        );
        let mut factors = Vec::new();
        product_factors(&integer, &mut factors);
        assert_eq!(factors.len(), 1);
    }

    #[test]
    fn raw_factors_multiply_back_in_order() {
        assert!(raw_product(&[]).is_none());
        let a = column("a", SqlType::Double);
        let b = column("b", SqlType::Long);
        let product = raw_product(&[&a, &b]).expect("two factors");
        let expected = mul(a.clone(), b, SqlType::Double);
        assert_eq!(format!("{product:?}"), format!("{expected:?}"));
        assert_eq!(
            format!("{:?}", raw_product(&[&a])),
            format!("{:?}", Some(a))
        );
    }

    #[test]
    fn slot_totals_add_their_lanes() {
        let mut cells = Cells {
            sums: vec![[1.0, 1.0], [2.0, 1.0], [0.5, 1.0], [0.0, 0.0]],
            counts: Vec::new(),
        };
        cells.sums.extend([[0.0, 0.0]; LANES]);
        assert_eq!(cells.slots(), 2);
        assert_eq!(cells.total(0), (Some(3.5), 3));
        assert_eq!(cells.total(1), (Some(0.0), 0));
        let counts = Cells {
            sums: Vec::new(),
            counts: vec![1, 2, 3, 4],
        };
        assert_eq!(counts.total(0), (None, 10));
        assert_eq!(counts.total(5), (None, 0));
    }
}
