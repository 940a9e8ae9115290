//! Leaf execution: one query on one segment → a [`Partial`] that merges with others.
//! Filter through the indexes, then aggregate (dictionary-id group keys where possible)
//! or select (top-K by the ORDER BY keys, projecting only the rows that survive).

use std::cmp::Ordering;
use std::rc::Rc;
use std::time::Instant;

use rustc_hash::FxHashMap;
use tessera_config::DataType;
use tessera_segment::SegmentReader;

use crate::aggregate::{AccState, BlockCounts};
use crate::distinct_set::DistinctSet;
use crate::docset::{BLOCK, DocSet};
use crate::error::{QueryError, QueryResult};
use crate::eval::{Columns, eval, eval_shared};
use crate::expr::Expr;
use crate::factored::FactoredAggs;
use crate::filter;
use crate::group_keys::GroupKeys;
use crate::plan::{AggFunc, AggregationPlan, Filter, PlanKind, QueryPlan, SelectionPlan, SortKey};
use crate::segment_scan::{
    BlockColumns, SegmentContext, columns_read_once, eval_on_dictionary, small_dictionary,
};
use crate::sorted_codes;
use crate::state_bytes::{Charged, GROUP_SLOT_BYTES, SET_SLOT_OVERHEAD, row_bytes, scalar_bytes};
use crate::trim;
use crate::types::{Scalar, SqlType, ordered_u64};
use crate::vector::Vector;

/// Execution counters, summed over segments and servers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecStats {
    pub num_segments_queried: u64,
    pub num_segments_processed: u64,
    pub num_segments_matched: u64,
    pub num_docs_scanned: u64,
    pub num_entries_scanned_in_filter: u64,
    pub num_entries_scanned_post_filter: u64,
    pub total_docs: u64,
    /// Cold segments: GETs issued to the deep store for this query's sections.
    pub num_deep_store_requests: u64,
    /// Cold segments: bytes those GETs returned.
    pub num_bytes_read_from_deep_store: u64,
    /// Cold segments: bytes of needed sections found in the local cache.
    pub num_bytes_read_from_cache: u64,
}

impl ExecStats {
    pub fn add(&mut self, other: &ExecStats) {
        self.num_segments_queried += other.num_segments_queried;
        self.num_segments_processed += other.num_segments_processed;
        self.num_segments_matched += other.num_segments_matched;
        self.num_docs_scanned += other.num_docs_scanned;
        self.num_entries_scanned_in_filter += other.num_entries_scanned_in_filter;
        self.num_entries_scanned_post_filter += other.num_entries_scanned_post_filter;
        self.total_docs += other.total_docs;
        self.num_deep_store_requests += other.num_deep_store_requests;
        self.num_bytes_read_from_deep_store += other.num_bytes_read_from_deep_store;
        self.num_bytes_read_from_cache += other.num_bytes_read_from_cache;
    }
}

/// Groups with their aggregate states.
#[derive(Debug, Clone, Default)]
pub struct AggPartial {
    pub keys: GroupKeys,
    pub states: Vec<AccState>,
    /// The keys are strictly ascending by [`compare_group_keys`]: partials like this
    /// merge by walking both key lists, without hashing.
    ///
    /// [`compare_group_keys`]: crate::group_keys::compare_group_keys
    pub sorted: bool,
}

impl AggPartial {
    /// Put the groups in key order, and mark the partial sorted when the keys are then
    /// strictly ascending (dictionary codes usually are; derived keys may not be).
    pub fn sort_keys(&mut self) {
        if self.keys.ascending() {
            self.sorted = true;
            return;
        }
        let order = self.keys.sorted_order();
        self.reorder(&order);
        self.sorted = self.keys.ascending();
    }

    /// Keep only `groups` (distinct group numbers): group `i` becomes group `groups[i]`
    /// of before.
    pub fn retain_groups(&mut self, groups: &[usize]) {
        if groups.len() == self.keys.len() && groups.iter().enumerate().all(|(i, g)| i == *g) {
            return;
        }
        self.keys.retain(groups);
        for state in &mut self.states {
            state.reorder(groups);
        }
    }

    /// Group `i` becomes group `order[i]` of before (`order` is a permutation).
    pub fn reorder(&mut self, order: &[usize]) {
        self.retain_groups(order);
    }
}

/// A selected row: its ORDER BY keys and its output values.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedRow {
    pub sort: Vec<Scalar>,
    pub values: Vec<Scalar>,
}

impl SelectedRow {
    /// Estimated bytes the row holds (for `maxStateBytes`).
    pub fn bytes(&self) -> usize {
        row_bytes(&self.sort) + row_bytes(&self.values)
    }
}

#[derive(Debug, Clone)]
pub enum PartialRows {
    Aggregation(AggPartial),
    Selection(Vec<SelectedRow>),
}

/// A mergeable result of some segments.
#[derive(Debug, Clone)]
pub struct Partial {
    pub rows: PartialRows,
    pub stats: ExecStats,
    /// The bytes of state this partial holds against the query's `maxStateBytes`
    /// (released by the merge that folds it in; 0 for a partial from another node,
    /// which that node accounted).
    pub held_bytes: usize,
}

impl Partial {
    pub fn empty(plan: &QueryPlan) -> Partial {
        Partial {
            rows: match &plan.kind {
                PlanKind::Aggregation(aggregation) => PartialRows::Aggregation(AggPartial {
                    keys: GroupKeys::for_types(&aggregation.key_types()),
                    states: aggregation.aggs.iter().map(AccState::new).collect(),
                    sorted: true,
                }),
                PlanKind::Selection(_) => PartialRows::Selection(Vec::new()),
            },
            stats: ExecStats::default(),
            held_bytes: 0,
        }
    }
}

/// What a segment the filter prunes adds to a query's statistics: it was queried and
/// holds its docs, and nothing of it was processed.
pub fn pruned_segment_stats(segment: &dyn SegmentReader) -> ExecStats {
    ExecStats {
        num_segments_queried: 1,
        total_docs: u64::from(segment.num_docs()),
        ..ExecStats::default()
    }
}

/// Whether `segment` may hold a match of the plan's filter, by the checks that read no
/// data (column statistics, bloom filters): `false` prunes it.
pub fn segment_may_match(plan: &QueryPlan, segment: &dyn SegmentReader) -> bool {
    match &plan.filter {
        Some(filter) if plan.options.use_indexes => {
            let context = SegmentContext::new(segment, true, None, plan.options.cancel.clone());
            filter::may_match(&context, filter)
        }
        _ => true,
    }
}

/// Run the plan on one segment.
pub fn execute_segment(
    plan: &QueryPlan,
    segment: &dyn SegmentReader,
    deadline: Option<(Instant, u64)>,
) -> QueryResult<Partial> {
    if !segment_may_match(plan, segment) {
        let mut partial = Partial::empty(plan);
        partial.stats = pruned_segment_stats(segment);
        return Ok(partial);
    }
    execute_unpruned_segment(plan, segment, deadline)
}

/// Run the plan on a segment that [`segment_may_match`] kept.
pub fn execute_unpruned_segment(
    plan: &QueryPlan,
    segment: &dyn SegmentReader,
    deadline: Option<(Instant, u64)>,
) -> QueryResult<Partial> {
    let mut context = SegmentContext::new(
        segment,
        plan.options.use_indexes,
        deadline,
        plan.options.cancel.clone(),
    );
    let mut partial = Partial::empty(plan);
    partial.stats = pruned_segment_stats(segment);
    partial.stats.num_segments_processed = 1;
    let all = DocSet::all(segment.num_docs());
    let docs = match &plan.filter {
        None => all,
        Some(filter) => filter::evaluate(&mut context, filter, all)?,
    };
    partial.stats.num_segments_matched = u64::from(!docs.is_empty());
    partial.rows = match &plan.kind {
        PlanKind::Aggregation(aggregation) => {
            let (mut groups, held) = aggregate(&mut context, plan, aggregation, &docs)?;
            if let Some(keep) = trim::groups_to_keep(plan) {
                trim::trim_groups(&mut groups, &aggregation.order_by, keep);
            }
            partial.held_bytes = held;
            PartialRows::Aggregation(groups)
        }
        PlanKind::Selection(selection) => {
            let rows = select(&mut context, selection, &docs)?;
            let mut held = Charged::new(&plan.options);
            held.add(rows.iter().map(SelectedRow::bytes).sum())?;
            partial.held_bytes = held.bytes();
            PartialRows::Selection(rows)
        }
    };
    partial.stats.num_docs_scanned = context.stats.num_docs_scanned;
    partial.stats.num_entries_scanned_in_filter = context.stats.num_entries_scanned_in_filter;
    partial.stats.num_entries_scanned_post_filter = context.stats.num_entries_scanned_post_filter;
    Ok(partial)
}

/// The boolean expression of a filter (for aggregate FILTER clauses).
pub fn filter_expr(filter: &Filter) -> Expr {
    match filter {
        Filter::And(items) => Expr::And(items.iter().map(filter_expr).collect()),
        Filter::Or(items) => Expr::Or(items.iter().map(filter_expr).collect()),
        Filter::Leaf(expr) => expr.clone(),
    }
}

/// Maps a block's rows to group numbers.
enum Grouper {
    /// No GROUP BY: one group.
    Single,
    /// Dictionary-encoded key columns: a mixed-radix code of their ids, array-indexed
    /// when the key space is small, hashed otherwise.
    Dictionary {
        columns: Vec<DictKey>,
        dense: Option<Vec<u32>>,
        hashed: FxHashMap<u64, u32>,
        codes: Vec<u64>,
        /// Per-block buffers: each row's code, one key column's ids.
        code: Vec<u64>,
        ids: Vec<u32>,
    },
    /// Dictionary-encoded keys whose key space is not much larger than the rows: the
    /// code is the group number, so states are sized for the whole key space and no
    /// table maps codes; `seen` marks the codes that got a row (the groups kept).
    Direct {
        columns: Vec<DictKey>,
        space: usize,
        seen: Vec<u64>,
        found: usize,
        code: Vec<u64>,
        ids: Vec<u32>,
    },
    /// Dictionary-encoded keys whose key space is too large for an array: every row's
    /// code was sorted up front ([`sorted_codes`]), and each block takes its rows'
    /// groups in turn. `codes` ascend: group `g` is the `g`-th smallest code.
    /// `counts`: when `COUNT(*)` is the only aggregate, each group's rows, counted by the
    /// sort itself; no row's group is kept (`groups` is empty) and no block is read.
    Sorted {
        columns: Vec<DictKey>,
        codes: Vec<u64>,
        groups: Vec<u32>,
        next: usize,
        counts: Option<Vec<i64>>,
    },
    /// Anything else: hash the evaluated key values.
    Values {
        map: FxHashMap<Vec<Scalar>, u32>,
        keys: Vec<Vec<Scalar>>,
    },
}

struct DictKey {
    name: String,
    cardinality: u32,
    /// A key computed from the column (`DATE_TRUNC('month', ts)`), evaluated once per
    /// dictionary entry: entry id (NULL = `cardinality`) → key code, and the key value of
    /// each code. `None` when the key is the column itself (code = id, NULL = cardinality).
    derived: Option<(Vec<u32>, Vec<Scalar>)>,
    /// Radix of this key in the code: cardinality, plus one for NULL.
    radix: u64,
}

/// Hashed (non-dictionary) group keys are sorted for the merge up to this many groups.
const SORTED_VALUE_KEYS: usize = 4096;

/// Key spaces up to this size use a plain array from code to group.
const DENSE_KEY_SPACE: u64 = 1 << 20;

/// Key spaces up to this size, and at most [`DIRECT_SPACE_PER_ROW`] times the rows, use
/// the code as the group number ([`Grouper::Direct`]): 4M groups of a SUM are 64 MiB.
const DIRECT_KEY_SPACE: u64 = 1 << 22;
const DIRECT_SPACE_PER_ROW: u64 = 4;
/// Below this, the array from code to group keeps the states as small as the groups.
const DENSE_DIRECT_MIN: u64 = 1 << 16;

impl Grouper {
    fn new(context: &SegmentContext<'_>, keys: &[Expr]) -> QueryResult<Grouper> {
        if keys.is_empty() {
            return Ok(Grouper::Single);
        }
        if keys.iter().any(Expr::multi_value) {
            // Rows repeat once per value of the multi-value key: hashed by value.
            return Ok(Grouper::values());
        }
        let mut columns = Vec::new();
        let mut space: u64 = 1;
        for key in keys {
            let mut referenced = Vec::new();
            key.columns(&mut referenced);
            let [name] = referenced.as_slice() else {
                return Ok(Grouper::values());
            };
            // A column key is its dictionary id, whatever the dictionary's size; a key
            // computed from a column is evaluated once per entry, so only over small ones.
            let dictionary = if matches!(key, Expr::Column { .. }) {
                let reader = context.column(name)?;
                reader
                    .cardinality()
                    .filter(|_| reader.metadata().single_value)
                    .map(|cardinality| (reader, cardinality))
            } else {
                small_dictionary(context, name)?
            };
            let Some((reader, cardinality)) = dictionary else {
                return Ok(Grouper::values());
            };
            if !matches!(key, Expr::Column { .. }) && !context.use_indexes {
                // Plain-scan mode (useIndexes=false) evaluates derived keys per row.
                return Ok(Grouper::values());
            }
            let (derived, radix) = if matches!(key, Expr::Column { .. }) {
                let radix = u64::from(cardinality) + u64::from(reader.metadata().null_count > 0);
                (None, radix)
            } else {
                let values = eval_on_dictionary(reader, cardinality, key)?;
                let mut codes: FxHashMap<Scalar, u32> = FxHashMap::default();
                let mut distinct = Vec::new();
                let map: Vec<u32> = (0..values.len())
                    .map(|row| {
                        let value = values.scalar(row);
                        *codes.entry(value.clone()).or_insert_with(|| {
                            distinct.push(value);
                            distinct.len() as u32 - 1
                        })
                    })
                    .collect();
                let radix = distinct.len() as u64;
                (Some((map, distinct)), radix)
            };
            let Some(next) = space.checked_mul(radix.max(1)) else {
                return Ok(Grouper::values());
            };
            space = next;
            columns.push(DictKey {
                name: name.clone(),
                cardinality,
                derived,
                radix: radix.max(1),
            });
        }
        // The table from code to group is chosen for the rows to group (`for_rows`).
        Ok(Grouper::Dictionary {
            columns,
            dense: None,
            hashed: FxHashMap::default(),
            codes: Vec::new(),
            code: Vec::new(),
            ids: Vec::new(),
        })
    }

    fn values() -> Grouper {
        Grouper::Values {
            map: FxHashMap::default(),
            keys: Vec::new(),
        }
    }

    /// An upper bound of the number of groups, when the keys are dictionary codes.
    fn key_space(&self) -> Option<u64> {
        match self {
            Grouper::Single => Some(1),
            Grouper::Dictionary { columns, .. }
            | Grouper::Direct { columns, .. }
            | Grouper::Sorted { columns, .. } => columns
                .iter()
                .try_fold(1u64, |space, c| space.checked_mul(c.radix)),
            Grouper::Values { .. } => None,
        }
    }

    fn groups(&self) -> usize {
        match self {
            Grouper::Single => 1,
            Grouper::Dictionary { codes, .. } | Grouper::Sorted { codes, .. } => codes.len(),
            Grouper::Direct { space, .. } => *space,
            Grouper::Values { keys, .. } => keys.len(),
        }
    }

    /// Each group's rows, when the sort counted them (`COUNT(*)` alone); the grouper
    /// keeps its groups' codes for the keys.
    fn take_counts(&mut self) -> Option<Vec<i64>> {
        match self {
            Grouper::Sorted { counts, .. } => counts.take(),
            _ => None,
        }
    }

    /// Groups that got a row so far (what `numGroupsLimit` counts).
    fn groups_found(&self) -> usize {
        match self {
            Grouper::Direct { found, .. } => *found,
            other => other.groups(),
        }
    }

    /// How a dictionary grouper groups `docs`: by code directly when the key space is
    /// not much larger than the rows (and every state is fixed-width); through an array
    /// from code to group when the space is small enough; by sorting every row's code
    /// when codes and row positions fit a word; else through a hash map of codes.
    /// `count_only`: every aggregate is `COUNT(*)`, so sorted codes need only be counted.
    fn for_rows(
        self,
        context: &mut SegmentContext<'_>,
        docs: &DocSet,
        fixed_width_states: bool,
        count_only: bool,
    ) -> QueryResult<Grouper> {
        let space = self.key_space();
        let rows = docs.len();
        match (self, space) {
            (Grouper::Dictionary { columns, .. }, Some(space))
                if fixed_width_states
                    && space > DENSE_DIRECT_MIN
                    && space <= DIRECT_KEY_SPACE
                    && space <= rows.saturating_mul(DIRECT_SPACE_PER_ROW) =>
            {
                Ok(Grouper::Direct {
                    columns,
                    space: space as usize,
                    seen: vec![0; (space as usize).div_ceil(64)],
                    found: 0,
                    code: Vec::new(),
                    ids: Vec::new(),
                })
            }
            (
                Grouper::Dictionary {
                    columns,
                    hashed,
                    codes,
                    code,
                    ids,
                    ..
                },
                Some(space),
            ) if space <= DENSE_KEY_SPACE => Ok(Grouper::Dictionary {
                columns,
                dense: Some(vec![u32::MAX; space as usize]),
                hashed,
                codes,
                code,
                ids,
            }),
            (
                Grouper::Dictionary {
                    columns,
                    hashed,
                    codes,
                    mut code,
                    mut ids,
                    ..
                },
                Some(space),
            ) => {
                let mut all = Vec::with_capacity(usize::try_from(docs.len()).unwrap_or(0));
                docs.for_each_block(|block| {
                    block_codes(context, &columns, block, &mut code, &mut ids)?;
                    all.extend_from_slice(&code);
                    context.check_deadline()?;
                    Ok(true)
                })?;
                if count_only && let Some(counts) = sorted_codes::count_by_sorting(&mut all, space)
                {
                    return Ok(Grouper::Sorted {
                        columns,
                        codes: all,
                        groups: Vec::new(),
                        next: 0,
                        counts: Some(counts),
                    });
                }
                Ok(match sorted_codes::group_by_sorting(&mut all, space) {
                    Some((codes, groups)) => Grouper::Sorted {
                        columns,
                        codes,
                        groups,
                        next: 0,
                        counts: None,
                    },
                    None => Grouper::Dictionary {
                        columns,
                        dense: None,
                        hashed,
                        codes,
                        code,
                        ids,
                    },
                })
            }
            (grouper, _) => Ok(grouper),
        }
    }

    /// Group numbers of a block's rows. `expanded`: the multi-value key's index and its
    /// value in each row (the block already repeats each doc once per value).
    fn assign(
        &mut self,
        keys: &[Expr],
        columns: &mut BlockColumns<'_, '_>,
        expanded: Option<(usize, &[Scalar])>,
        out: &mut Vec<u32>,
    ) -> QueryResult<()> {
        out.clear();
        let n = columns.len();
        match self {
            Grouper::Single => out.resize(n, 0),
            Grouper::Dictionary {
                columns: dict_keys,
                dense,
                hashed,
                codes,
                code,
                ids,
            } => {
                block_codes(columns.context, dict_keys, columns.docs, code, ids)?;
                match dense {
                    Some(table) => {
                        // Known codes in one branch-free pass; new ones (rare after the
                        // first block) in a second.
                        out.extend(
                            code.iter()
                                .map(|c| table.get(*c as usize).copied().unwrap_or(u32::MAX)),
                        );
                        if out.contains(&u32::MAX) {
                            for (group, c) in out.iter_mut().zip(code.iter()) {
                                if *group != u32::MAX {
                                    continue;
                                }
                                let Some(slot) = table.get_mut(*c as usize) else {
                                    return Err(QueryError::execution(format!(
                                        "group code {c} outside its key space"
                                    )));
                                };
                                if *slot == u32::MAX {
                                    *slot = codes.len() as u32;
                                    codes.push(*c);
                                }
                                *group = *slot;
                            }
                        }
                    }
                    None => {
                        for c in code.iter() {
                            let slot = hashed.entry(*c).or_insert(u32::MAX);
                            if *slot == u32::MAX {
                                *slot = codes.len() as u32;
                                codes.push(*c);
                            }
                            out.push(*slot);
                        }
                    }
                }
            }
            Grouper::Direct {
                columns: dict_keys,
                space,
                seen,
                found,
                code,
                ids,
            } => {
                block_codes(columns.context, dict_keys, columns.docs, code, ids)?;
                for c in code.iter() {
                    if *c >= *space as u64 {
                        return Err(QueryError::execution(format!(
                            "group code {c} outside its key space"
                        )));
                    }
                    let (word, bit) = ((*c / 64) as usize, 1u64 << (*c % 64));
                    if seen[word] & bit == 0 {
                        seen[word] |= bit;
                        *found += 1;
                    }
                    out.push(*c as u32);
                }
            }
            Grouper::Sorted { groups, next, .. } => {
                let rows = groups.get(*next..*next + n).ok_or_else(|| {
                    QueryError::execution("more rows than were grouped by sorting")
                })?;
                out.extend_from_slice(rows);
                *next += n;
            }
            Grouper::Values {
                map,
                keys: group_keys,
            } => {
                let vectors: Vec<Option<Vector>> = keys
                    .iter()
                    .enumerate()
                    .map(|(index, k)| match expanded {
                        Some((mv, _)) if mv == index => Ok(None),
                        _ => eval(k, columns).map(Some),
                    })
                    .collect::<QueryResult<_>>()?;
                for row in 0..n {
                    let key: Vec<Scalar> = vectors
                        .iter()
                        .map(|v| match (v, expanded) {
                            (Some(v), _) => v.scalar(row),
                            (None, Some((_, values))) => {
                                values.get(row).cloned().unwrap_or(Scalar::Null)
                            }
                            (None, None) => Scalar::Null,
                        })
                        .collect();
                    let next = group_keys.len() as u32;
                    let group = *map.entry(key.clone()).or_insert_with(|| {
                        group_keys.push(key);
                        next
                    });
                    out.push(group);
                }
            }
        }
        Ok(())
    }

    /// Whether ascending codes are ascending keys: every key is a column (not derived)
    /// whose dictionary ids ascend with its values, so a code, the ids in key order
    /// with NULL (the largest id) last, orders groups as their keys do.
    fn codes_in_key_order(&self, context: &SegmentContext<'_>) -> bool {
        let columns = match self {
            Grouper::Single => return true,
            Grouper::Values { .. } => return false,
            Grouper::Dictionary { columns, .. }
            | Grouper::Direct { columns, .. }
            | Grouper::Sorted { columns, .. } => columns,
        };
        columns.iter().all(|key| {
            key.derived.is_none()
                && context
                    .column(&key.name)
                    .is_ok_and(|reader| reader.dictionary_ordered())
        })
    }

    /// The group keys, and for dictionary keys the order they come in: ascending codes
    /// (group `i` of the result is group `order[i]` of the states). Keys are built in
    /// that order so they sit in memory in the order merges walk them.
    fn into_keys(
        self,
        context: &SegmentContext<'_>,
        types: &[SqlType],
    ) -> QueryResult<(GroupKeys, Option<Vec<usize>>)> {
        Ok(match self {
            Grouper::Single => (GroupKeys::single(), None),
            Grouper::Values { keys, .. } => (GroupKeys::Rows(keys), None),
            Grouper::Dictionary { columns, codes, .. } => {
                // (code, group) pairs sorted in place: contiguous, unlike sorting group
                // numbers by a code looked up elsewhere on every comparison.
                let mut by_code: Vec<(u64, u32)> = codes
                    .iter()
                    .enumerate()
                    .map(|(group, code)| (*code, group as u32))
                    .collect();
                by_code.sort_unstable();
                let order: Vec<usize> = by_code.iter().map(|(_, g)| *g as usize).collect();
                let keys =
                    keys_of_codes(context, &columns, by_code.iter().map(|(c, _)| *c), types)?;
                (keys, Some(order))
            }
            Grouper::Direct { columns, seen, .. } => {
                // The codes that got a row, ascending: the groups kept, in key order.
                let mut kept = Vec::new();
                for (index, word) in seen.iter().enumerate() {
                    let mut word = *word;
                    while word != 0 {
                        kept.push(index * 64 + word.trailing_zeros() as usize);
                        word &= word - 1;
                    }
                }
                let keys = keys_of_codes(context, &columns, kept.iter().map(|c| *c as u64), types)?;
                (keys, Some(kept))
            }
            Grouper::Sorted { columns, codes, .. } => (
                keys_of_codes(context, &columns, codes.iter().copied(), types)?,
                None,
            ),
        })
    }
}

/// Each row's mixed-radix code of its dictionary key columns' ids, into `code`.
fn block_codes(
    context: &mut SegmentContext<'_>,
    dict_keys: &[DictKey],
    docs: &[u32],
    code: &mut Vec<u64>,
    ids: &mut Vec<u32>,
) -> QueryResult<()> {
    code.clear();
    code.resize(docs.len(), 0);
    for key in dict_keys {
        ids.clear();
        context.dict_ids_null_last(&key.name, docs, ids)?;
        match &key.derived {
            None => {
                for (c, id) in code.iter_mut().zip(ids.iter()) {
                    *c = *c * key.radix + u64::from(*id);
                }
            }
            Some((map, _)) => {
                for (c, id) in code.iter_mut().zip(ids.iter()) {
                    let mapped = map.get(*id as usize).copied().unwrap_or(0);
                    *c = *c * key.radix + u64::from(mapped);
                }
            }
        }
    }
    Ok(())
}

/// The group keys of dictionary codes, in the order given.
fn keys_of_codes(
    context: &SegmentContext<'_>,
    columns: &[DictKey],
    codes: impl ExactSizeIterator<Item = u64>,
    types: &[SqlType],
) -> QueryResult<GroupKeys> {
    let readers = columns
        .iter()
        .map(|k| context.column(&k.name))
        .collect::<QueryResult<Vec<_>>>()?;
    // Each code's dictionary ids, column by column (NULL: the column's cardinality).
    let mut column_ids = vec![Vec::with_capacity(codes.len()); columns.len()];
    for mut code in codes {
        for (i, column) in columns.iter().enumerate().rev() {
            column_ids[i].push((code % column.radix) as u32);
            code /= column.radix;
        }
    }
    let groups = column_ids.first().map_or(0, Vec::len);
    let mut keys = GroupKeys::for_types(types);
    if let GroupKeys::Flat(flat) = &mut keys
        && flat.all_integers()
        && columns.iter().all(|c| c.derived.is_none())
    {
        // Integer columns: each column's ids decoded in bulk, then laid out flat.
        let mut values = Vec::with_capacity(columns.len());
        let mut nulls = Vec::with_capacity(columns.len());
        for ((column, reader), ids) in columns.iter().zip(&readers).zip(&column_ids) {
            let mut column_values = Vec::with_capacity(ids.len());
            reader.dictionary_i64s(ids, &mut column_values);
            values.push(column_values);
            nulls.push(ids.iter().map(|id| *id >= column.cardinality).collect());
        }
        flat.extend_integer_columns(&values, &nulls);
        return Ok(keys);
    }
    keys.reserve(groups);
    let mut key = Vec::with_capacity(columns.len());
    for group in 0..groups {
        key.clear();
        for ((column, reader), ids) in columns.iter().zip(&readers).zip(&column_ids) {
            let id = ids[group];
            key.push(match &column.derived {
                Some((_, values)) => values.get(id as usize).cloned().unwrap_or(Scalar::Null),
                None if id < column.cardinality => Scalar::from_value(reader.dictionary_value(id)),
                None => Scalar::Null,
            });
        }
        keys.push_slice(&key);
    }
    Ok(keys)
}

/// `MIN(col)` / `MAX(col)` (and `COUNT(*)`) over every doc of the segment, with no group
/// key and no FILTER clause: the ends of each column's sorted dictionary, read without
/// touching the forward index. `None` when some aggregate is not of that shape or its
/// column has no dictionary.
fn min_max_from_dictionaries(
    context: &mut SegmentContext<'_>,
    aggregation: &AggregationPlan,
    docs: u64,
) -> QueryResult<Option<Vec<AccState>>> {
    let mut ends = Vec::with_capacity(aggregation.aggs.len());
    for call in &aggregation.aggs {
        if call.filter.is_some() {
            return Ok(None);
        }
        let end = match (&call.func, &call.arg) {
            (AggFunc::Count, None) => None,
            (
                AggFunc::Min | AggFunc::Max,
                Some(Expr::Column {
                    name,
                    ty,
                    single_value: true,
                }),
            ) => {
                let reader = context.column(name)?;
                let Some(cardinality) = reader.cardinality() else {
                    return Ok(None);
                };
                // Only a sorted dictionary has its ends at its first and last ids (a
                // consuming segment's is in arrival order: its id sets are lists).
                if cardinality > 0 {
                    let first = reader.dictionary_value(0);
                    let one = std::ops::Bound::Included(&first);
                    if !matches!(
                        reader.ids_in_range(one, one),
                        tessera_segment::IdSet::Range(_)
                    ) {
                        return Ok(None);
                    }
                }
                // No non-null value: the state stays empty (NULL).
                let value = match (cardinality, call.func == AggFunc::Max) {
                    (0, _) => Scalar::Null,
                    (c, true) => Scalar::from_value(reader.dictionary_value(c - 1)),
                    (_, false) => Scalar::from_value(reader.dictionary_value(0)),
                };
                Some(Vector::from_scalars(*ty, false, &[value]))
            }
            _ => return Ok(None),
        };
        ends.push(end);
    }
    let mut block_counts = BlockCounts::default();
    let mut states = Vec::with_capacity(ends.len());
    for (call, end) in aggregation.aggs.iter().zip(ends) {
        let mut state = AccState::new(call);
        state.resize(1);
        match (&mut state, end) {
            (AccState::Count(counts), None) => counts[0] = docs as i64,
            (state, Some(value)) => {
                state.update(&[0], Some(&value), None, &mut block_counts)?;
            }
            _ => return Ok(None),
        }
        states.push(state);
    }
    Ok(Some(states))
}

/// The segment's groups, and the bytes of state they hold (charged to the query's
/// `maxStateBytes` as they grew).
fn aggregate(
    context: &mut SegmentContext<'_>,
    plan: &QueryPlan,
    aggregation: &AggregationPlan,
    docs: &DocSet,
) -> QueryResult<(AggPartial, usize)> {
    let per_group = GROUP_SLOT_BYTES * aggregation.aggs.len().max(1);
    let mut held = Charged::new(&plan.options);
    let mut charged_groups = 0usize;
    let mut states: Vec<AccState> = aggregation.aggs.iter().map(AccState::new).collect();
    let count_only = aggregation
        .aggs
        .iter()
        .all(|a| matches!(a.func, AggFunc::Count) && a.arg.is_none() && a.filter.is_none());
    if aggregation.keys.is_empty() && count_only {
        // COUNT(*) alone: the filter already counted the docs.
        for state in &mut states {
            state.resize(1);
            if let AccState::Count(counts) = state {
                counts[0] = docs.len() as i64;
            }
        }
        context.stats.num_docs_scanned = docs.len();
        return Ok((
            AggPartial {
                keys: GroupKeys::single(),
                states,
                sorted: true,
            },
            0,
        ));
    }
    if aggregation.keys.is_empty()
        && context.use_indexes
        && docs.len() == u64::from(context.segment.num_docs())
        && let Some(states) = min_max_from_dictionaries(context, aggregation, docs.len())?
    {
        context.stats.num_docs_scanned = docs.len();
        return Ok((
            AggPartial {
                keys: GroupKeys::single(),
                states,
                sorted: true,
            },
            0,
        ));
    }
    let fixed_width_states = states.iter().all(AccState::fixed_width);
    let grouper = Grouper::new(context, &aggregation.keys)?;
    let mut factored = FactoredAggs::plan(context, &aggregation.aggs, grouper.key_space())?;
    let count_rows_only = count_only
        && !aggregation.keys.iter().any(Expr::multi_value)
        && (0..aggregation.aggs.len()).all(|index| !factored.serves(index));
    let mut grouper = grouper.for_rows(context, docs, fixed_width_states, count_rows_only)?;
    let filters: Vec<Option<Expr>> = aggregation
        .aggs
        .iter()
        .map(|a| a.filter.as_ref().map(filter_expr))
        .collect();
    // COUNT(DISTINCT col) over a dictionary column collects dictionary ids, turned into
    // values once at the end (ids differ between segments; values merge).
    let mut distinct_ids: Vec<Option<(String, DistinctIds)>> = Vec::new();
    for call in &aggregation.aggs {
        let by_id = match (&call.func, &call.arg) {
            (
                AggFunc::CountDistinct,
                Some(Expr::Column {
                    name,
                    single_value: true,
                    ..
                }),
            ) if context.use_indexes && context.column(name)?.cardinality().is_some() => {
                let cardinality = context.column(name)?.cardinality().unwrap_or(0);
                Some((
                    name.clone(),
                    DistinctIds::new(aggregation.keys.is_empty(), cardinality, docs.len()),
                ))
            }
            _ => None,
        };
        distinct_ids.push(by_id);
    }
    // MIN/MAX of a column whose dictionary ids ascend with its values keep the extreme
    // id per group, decoded once at the end.
    let mut extreme_ids: Vec<Option<(String, ExtremeIds)>> = Vec::new();
    for call in &aggregation.aggs {
        let by_id = match (&call.func, &call.arg) {
            (
                AggFunc::Min | AggFunc::Max,
                Some(Expr::Column {
                    name,
                    single_value: true,
                    ..
                }),
            ) if context.use_indexes && call.filter.is_none() => {
                let reader = context.column(name)?;
                match reader.cardinality() {
                    Some(cardinality)
                        if reader.dictionary_ordered()
                            && matches!(
                                reader.metadata().data_type,
                                DataType::Int
                                    | DataType::Long
                                    | DataType::Timestamp
                                    | DataType::String
                            ) =>
                    {
                        let max = call.func == AggFunc::Max;
                        Some((name.clone(), ExtremeIds::new(max, cardinality)))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        extreme_ids.push(by_id);
    }
    let mut groups = Vec::with_capacity(BLOCK);
    let mut block_counts = BlockCounts::default();
    let mut ids = Vec::with_capacity(BLOCK);
    let mut scanned = 0u64;
    let mut entries = 0u64;
    let limit = plan.options.num_groups_limit;
    // Every expression the aggregation evaluates per block.
    let mut evaluated: Vec<&Expr> = aggregation.keys.iter().collect();
    evaluated.extend(aggregation.aggs.iter().filter_map(|a| a.arg.as_ref()));
    evaluated.extend(filters.iter().flatten());
    let read_once = columns_read_once(evaluated);
    // Aggregates over the same argument (SUM(x) and AVG(x)) evaluate it once per block.
    let mut unique_args: Vec<&Expr> = Vec::new();
    let mut unique_text: Vec<String> = Vec::new();
    let arg_slots: Vec<Option<usize>> = aggregation
        .aggs
        .iter()
        .map(|call| {
            let arg = call.arg.as_ref()?;
            // Debug prints the whole tree (Display elides CASE branches).
            let text = format!("{arg:?}");
            Some(match unique_text.iter().position(|t| *t == text) {
                Some(slot) => slot,
                None => {
                    unique_text.push(text);
                    unique_args.push(arg);
                    unique_args.len() - 1
                }
            })
        })
        .collect();
    // GROUP BY a multi-value column: each block's docs repeat once per value they hold
    // (a NULL or empty cell once, in the NULL group), and every aggregate reads the
    // repeated docs.
    let multi_value_key = match aggregation.keys.iter().position(Expr::multi_value) {
        Some(index) => match &aggregation.keys[index] {
            Expr::Column { name, .. } => Some((index, name.as_str())),
            _ => {
                return Err(QueryError::execution(
                    "a multi-value group key that is not a column",
                ));
            }
        },
        None => None,
    };
    let mut layers = ValueLayers::default();
    if let Some(counts) = grouper.take_counts() {
        // COUNT(*) alone over sorted codes: the sort counted every group's rows.
        let n_groups = counts.len();
        if n_groups > limit {
            return Err(QueryError::too_many_groups(limit));
        }
        held.add(n_groups * per_group)?;
        for state in &mut states {
            *state = AccState::Count(counts.clone());
        }
        scanned = docs.len();
        entries = docs.len() * aggregation.keys.len() as u64;
    } else {
        docs.for_each_block(|original| {
            let layer_count = match multi_value_key {
                Some((_, name)) => layers.expand(context, name, original)?,
                None => 1,
            };
            for layer in 0..layer_count {
                let block: &[u32] = match multi_value_key {
                    Some(_) => &layers.docs[layer],
                    None => original,
                };
                let mut columns = BlockColumns::with_read_once(context, block, &read_once);
                let expanded =
                    multi_value_key.map(|(index, _)| (index, layers.values[layer].as_slice()));
                grouper.assign(&aggregation.keys, &mut columns, expanded, &mut groups)?;
                let n_groups = grouper.groups();
                if grouper.groups_found() > limit {
                    return Err(QueryError::too_many_groups(limit));
                }
                factored.update(&mut columns, &groups, n_groups)?;
                let mut grown = (n_groups - charged_groups.min(n_groups)) * per_group;
                charged_groups = charged_groups.max(n_groups);
                let mut args: Vec<Option<Rc<Vector>>> = vec![None; unique_args.len()];
                block_counts.clear();
                for (index, ((((state, arg_slot), filter), by_id), extreme)) in states
                    .iter_mut()
                    .zip(&arg_slots)
                    .zip(&filters)
                    .zip(&mut distinct_ids)
                    .zip(&mut extreme_ids)
                    .enumerate()
                {
                    if factored.serves(index) {
                        state.resize(n_groups);
                        continue;
                    }
                    let keep = filter
                        .as_ref()
                        .map(|f| eval(f, &mut columns).map(|v| v.true_rows()))
                        .transpose()?;
                    if let Some((name, sets)) = by_id {
                        let nulls = read_block_ids(columns.context, name, block, &mut ids)?;
                        grown += sets.insert(&groups, &ids, |row| {
                            let null = nulls.as_ref().is_some_and(|n| n.contains(block[row]));
                            !null && keep.as_ref().is_none_or(|k| k[row])
                        });
                        continue;
                    }
                    if let Some((name, extremes)) = extreme {
                        match read_block_ids(columns.context, name, block, &mut ids)? {
                            Some(nulls) => extremes
                                .update(n_groups, &groups, &ids, |row| !nulls.contains(block[row])),
                            None => extremes.update_all(n_groups, &groups, &ids),
                        }
                        continue;
                    }
                    state.resize(n_groups);
                    let arg = match arg_slot {
                        Some(slot) => {
                            if args[*slot].is_none() {
                                args[*slot] = Some(eval_shared(unique_args[*slot], &mut columns)?);
                            }
                            args[*slot].clone()
                        }
                        None => None,
                    };
                    grown += state.update(
                        &groups,
                        arg.as_deref(),
                        keep.as_deref(),
                        &mut block_counts,
                    )?;
                }
                held.add(grown)?;
                if layer == 0 {
                    scanned += original.len() as u64;
                }
                entries +=
                    (block.len() * (columns.columns_read() + factored.columns_read())) as u64;
                columns.context.check_deadline()?;
            }
            Ok(true)
        })?;
    }
    factored.fold_into(&mut states);
    for (state, extreme) in states.iter_mut().zip(&extreme_ids) {
        state.resize(grouper.groups());
        if let Some((name, extremes)) = extreme {
            let reader = context.column(name)?;
            for (group, id) in extremes.ids() {
                state.offer_extreme(group, &Scalar::from_value(reader.dictionary_value(id)));
            }
        }
    }
    for (state, by_id) in states.iter_mut().zip(distinct_ids) {
        state.resize(grouper.groups());
        let Some((name, mut sets)) = by_id else {
            continue;
        };
        held.release(sets.finish(grouper.groups()));
        let reader = context.column(&name)?;
        let mut grown = 0usize;
        match &mut *state {
            AccState::Distinct(values) => {
                for (group, set) in values.iter_mut().enumerate() {
                    sets.for_each_id(group, |id| {
                        let value = Scalar::from_value(reader.dictionary_value(id));
                        grown += scalar_bytes(&value) + SET_SLOT_OVERHEAD;
                        set.insert(value);
                    });
                    held.add(std::mem::take(&mut grown))?;
                }
            }
            AccState::DistinctInt(values) => {
                let (mut ids, mut decoded, mut keys) = (Vec::new(), Vec::new(), Vec::new());
                for (group, set) in values.iter_mut().enumerate() {
                    ids.clear();
                    sets.for_each_id(group, |id| ids.push(id));
                    if ids.is_empty() {
                        continue;
                    }
                    decoded.clear();
                    reader.dictionary_i64s(&ids, &mut decoded);
                    keys.clear();
                    keys.extend(decoded.iter().map(|v| ordered_u64(*v)));
                    // Ids ascend with values in a sorted dictionary; a consuming
                    // segment's dictionary is in arrival order.
                    if keys.windows(2).any(|w| w[0] >= w[1]) {
                        keys.sort_unstable();
                        keys.dedup();
                    }
                    let added = if set.is_empty() {
                        *set = DistinctSet::from_sorted(&keys);
                        keys.len()
                    } else {
                        set.union_with(&DistinctSet::from_sorted(&keys)) as usize
                    };
                    grown += added * set.value_bytes();
                }
            }
            _ => {}
        }
        held.add(grown)?;
    }
    context.stats.num_docs_scanned = scanned;
    context.stats.num_entries_scanned_post_filter += entries;
    // Sorted partials merge by walking their keys instead of hashing them. Dictionary
    // codes sort as integers, and for plain columns that is key order.
    let values_grouper = matches!(grouper, Grouper::Values { .. });
    let codes_in_key_order = grouper.codes_in_key_order(context);
    let (keys, code_order) = grouper.into_keys(context, &aggregation.key_types())?;
    if let Some(order) = &code_order {
        for state in &mut states {
            state.reorder(order);
        }
    }
    held.add(keys.bytes_from(0))?;
    let mut partial = AggPartial {
        keys,
        states,
        sorted: false,
    };
    if values_grouper && partial.keys.len() > SORTED_VALUE_KEYS {
        // Sorting many hashed keys by value costs more than hashing them in the merge.
        return Ok((partial, held.bytes()));
    }
    match &partial.keys {
        // Integer keys of ordered dictionaries, taken in code order: ascending already.
        GroupKeys::Flat(flat) if codes_in_key_order && flat.all_integers() => {
            debug_assert!(partial.keys.ascending());
            partial.sorted = true;
        }
        _ => partial.sort_keys(),
    }
    Ok((partial, held.bytes()))
}

/// A block of a GROUP BY on a multi-value column, in layers: layer `k` holds the docs
/// with a `k`-th value, and that value. Each doc joins the group of each of its values
/// (a NULL or empty cell once, in layer 0 with a NULL value), and every layer's docs
/// ascend with none repeated, as column readers take them (one block of docs repeated
/// once per value would not be: `5, 5, 7` spans as many rows as a contiguous run).
#[derive(Default)]
struct ValueLayers {
    docs: Vec<Vec<u32>>,
    values: Vec<Vec<Scalar>>,
}

impl ValueLayers {
    /// Lay out `block`'s values of column `name`; returns the number of layers.
    fn expand(
        &mut self,
        context: &mut SegmentContext<'_>,
        name: &str,
        block: &[u32],
    ) -> QueryResult<usize> {
        for (docs, values) in self.docs.iter_mut().zip(&mut self.values) {
            docs.clear();
            values.clear();
        }
        let mut used = 0;
        let cells = context.read(name, block)?;
        for (row, doc) in block.iter().enumerate() {
            let items = match cells.scalar(row) {
                Scalar::Array(items) if !items.is_empty() => items,
                _ => vec![Scalar::Null],
            };
            for (layer, item) in items.into_iter().enumerate() {
                if layer == self.docs.len() {
                    self.docs.push(Vec::new());
                    self.values.push(Vec::new());
                }
                self.docs[layer].push(*doc);
                self.values[layer].push(item);
                used = used.max(layer + 1);
            }
        }
        Ok(used)
    }
}

/// The dictionary ids of column `name` for the docs of `block` into `ids`; returns the
/// column's null bitmap.
fn read_block_ids(
    context: &mut SegmentContext<'_>,
    name: &str,
    block: &[u32],
    ids: &mut Vec<u32>,
) -> QueryResult<Option<std::sync::Arc<roaring::RoaringBitmap>>> {
    ids.clear();
    context.column(name)?.read_dict_ids(block, ids)?;
    context.nulls(name)
}

/// The extreme dictionary id of MIN(col) or MAX(col) per group, for a column whose ids
/// ascend with its values: a comparison of ids per row, no value decoded until the end.
struct ExtremeIds {
    /// Per group: 0 when no row was seen, else the id's key, which grows toward the
    /// extreme (`id + 1` for MAX, `cardinality - id` for MIN), so both take a maximum.
    keys: Vec<u32>,
    max: bool,
    cardinality: u32,
}

impl ExtremeIds {
    fn new(max: bool, cardinality: u32) -> ExtremeIds {
        ExtremeIds {
            keys: Vec::new(),
            max,
            cardinality,
        }
    }

    fn key(&self, id: u32) -> u32 {
        if self.max {
            id.saturating_add(1)
        } else {
            self.cardinality.saturating_sub(id)
        }
    }

    /// Every row counts (no NULLs, no filter).
    fn update_all(&mut self, n_groups: usize, groups: &[u32], ids: &[u32]) {
        if n_groups != 1 {
            return self.update(n_groups, groups, ids, |_| true);
        }
        self.keys.resize(self.keys.len().max(1), 0);
        // One group: a reduction the compiler vectorises.
        let extreme = if self.max {
            ids.iter().copied().max()
        } else {
            ids.iter().copied().min()
        };
        if let Some(id) = extreme {
            self.keys[0] = self.keys[0].max(self.key(id));
        }
    }

    fn update(
        &mut self,
        n_groups: usize,
        groups: &[u32],
        ids: &[u32],
        keep: impl Fn(usize) -> bool,
    ) {
        if self.keys.len() < n_groups {
            self.keys.resize(n_groups, 0);
        }
        for (row, (id, group)) in ids.iter().zip(groups).enumerate() {
            if keep(row) {
                let key = self.key(*id);
                let slot = &mut self.keys[*group as usize];
                *slot = (*slot).max(key);
            }
        }
    }

    /// (group, extreme id) of every group that saw a row.
    fn ids(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, key)| **key > 0)
            .map(|(group, key)| {
                let id = if self.max {
                    key - 1
                } else {
                    self.cardinality - key
                };
                (group, id)
            })
    }
}

/// The dictionary ids COUNT(DISTINCT col) has seen, per group: a plain bitset when
/// there is one group and the dictionary is not huge (a bit set per row, no container
/// lookups); with groups, every kept row's (group, id) pair, sorted and deduplicated
/// once the segment is read. A pair seen lately is not pushed again: a direct-mapped
/// table of recent pairs (at most 1 MiB) catches the repeats of a query whose pairs are
/// few (each (group, id) on hundreds of rows), which would otherwise all be sorted; when
/// most pairs are distinct it costs a probe per row. A set per group cost a container
/// lookup and an insert per row, and most groups of a large GROUP BY hold few ids.
enum DistinctIds {
    Dense(Vec<u64>),
    Pairs {
        /// `group << id_bits | id`; after [`DistinctIds::finish`], ascending and distinct.
        pairs: Vec<u64>,
        id_bits: u32,
        /// After `finish`: group `g`'s pairs are `pairs[starts[g]..starts[g + 1]]`.
        starts: Vec<usize>,
        /// Pairs pushed lately, by a hash of the pair ([`NO_PAIR`] where none); sized at
        /// the first insert, `1 << recent_bits` slots.
        recent: Vec<u64>,
        recent_bits: u32,
    },
}

/// Most slots of the table of recent pairs (1 MiB): a table that holds the pairs of a
/// query that has few catches their repeats (at sf10 a segment holds 10^5 suppliers, and
/// 16K slots missed most of their repeats); a segment of fewer rows gets a slot a row.
const RECENT_PAIRS_BITS: u32 = 17;

/// An empty slot of the table of recent pairs (a pair equal to it is always pushed).
const NO_PAIR: u64 = u64::MAX;

/// Dictionaries up to this many ids use a bitset (2 MiB).
const DENSE_DISTINCT_IDS: u32 = 1 << 24;

/// Bytes charged for a (group, id) pair held until the segment is read.
const DISTINCT_PAIR_BYTES: usize = std::mem::size_of::<u64>();

impl DistinctIds {
    /// Ids of a column of `cardinality` entries, from `rows` rows.
    fn new(single_group: bool, cardinality: u32, rows: u64) -> DistinctIds {
        if single_group && cardinality <= DENSE_DISTINCT_IDS {
            DistinctIds::Dense(vec![0; (cardinality as usize).div_ceil(64)])
        } else {
            DistinctIds::Pairs {
                pairs: Vec::new(),
                id_bits: 32 - cardinality.saturating_sub(1).leading_zeros(),
                starts: Vec::new(),
                recent: Vec::new(),
                recent_bits: sorted_codes::bits_below(rows).clamp(6, RECENT_PAIRS_BITS),
            }
        }
    }

    /// Record `ids[row]` in group `groups[row]` for the rows `keep` accepts; returns
    /// the bytes the sets grew by (the dense bitset is sized up front, at most 2 MiB).
    fn insert(&mut self, groups: &[u32], ids: &[u32], keep: impl Fn(usize) -> bool) -> usize {
        match self {
            DistinctIds::Dense(bits) => {
                for (row, id) in ids.iter().enumerate() {
                    let word = (*id / 64) as usize;
                    if word < bits.len() && keep(row) {
                        bits[word] |= 1 << (id % 64);
                    }
                }
                0
            }
            DistinctIds::Pairs {
                pairs,
                id_bits,
                recent,
                recent_bits,
                ..
            } => {
                let before = pairs.len();
                if recent.is_empty() {
                    recent.resize(1 << *recent_bits, NO_PAIR);
                }
                let shift = 64 - *recent_bits;
                for (row, (id, group)) in ids.iter().zip(groups).enumerate() {
                    let pair = ((*group as u64) << *id_bits) | *id as u64;
                    let slot = (pair.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize;
                    // Runs of one group and id (sorted or clustered columns), and pairs
                    // still in the table, push once.
                    if keep(row) && (pair == NO_PAIR || recent.get(slot) != Some(&pair)) {
                        if let Some(seen) = recent.get_mut(slot) {
                            *seen = pair;
                        }
                        pairs.push(pair);
                    }
                }
                (pairs.len() - before) * DISTINCT_PAIR_BYTES
            }
        }
    }

    /// Once every row is in: sort and deduplicate the pairs. Returns the bytes charged
    /// while they were held, now released.
    fn finish(&mut self, n_groups: usize) -> usize {
        let DistinctIds::Pairs {
            pairs,
            id_bits,
            starts,
            recent,
            ..
        } = self
        else {
            return 0;
        };
        *recent = Vec::new();
        let held = pairs.len() * DISTINCT_PAIR_BYTES;
        let group_bits = usize::BITS - n_groups.saturating_sub(1).leading_zeros();
        crate::sorted_codes::sort_words(pairs, *id_bits + group_bits);
        pairs.dedup();
        starts.clear();
        starts.resize(n_groups + 1, 0);
        for pair in pairs.iter() {
            starts[(pair >> *id_bits) as usize + 1] += 1;
        }
        for g in 0..n_groups {
            starts[g + 1] += starts[g];
        }
        held
    }

    /// Visit the ids of `group` in ascending order.
    fn for_each_id(&self, group: usize, mut visit: impl FnMut(u32)) {
        match self {
            DistinctIds::Dense(bits) if group == 0 => {
                for (word_index, word) in bits.iter().enumerate() {
                    let mut word = *word;
                    while word != 0 {
                        visit(word_index as u32 * 64 + word.trailing_zeros());
                        word &= word - 1;
                    }
                }
            }
            DistinctIds::Dense(_) => {}
            DistinctIds::Pairs {
                pairs,
                id_bits,
                starts,
                ..
            } => {
                if let (Some(&from), Some(&to)) = (starts.get(group), starts.get(group + 1)) {
                    let id_mask = (1u64 << *id_bits) - 1;
                    for pair in &pairs[from..to] {
                        visit((pair & id_mask) as u32);
                    }
                }
            }
        }
    }
}

/// Order two rows by ORDER BY keys (NULL placement per key).
pub fn compare_sort_keys(a: &[Scalar], b: &[Scalar], order_by: &[SortKey]) -> Ordering {
    for ((x, y), key) in a.iter().zip(b).zip(order_by) {
        let ordering = order_by_key(key, x.is_null(), y.is_null(), || x.sql_cmp(y));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Two values in the order of one ORDER BY key: NULLs first or last as the key says,
/// others by `compare` (their ascending order), reversed when descending.
pub fn order_by_key(
    key: &SortKey,
    a_null: bool,
    b_null: bool,
    compare: impl FnOnce() -> Ordering,
) -> Ordering {
    match (a_null, b_null) {
        (true, true) => Ordering::Equal,
        (true, false) if key.nulls_first => Ordering::Less,
        (true, false) => Ordering::Greater,
        (false, true) if key.nulls_first => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) if key.descending => compare().reverse(),
        (false, false) => compare(),
    }
}

fn select(
    context: &mut SegmentContext<'_>,
    selection: &SelectionPlan,
    docs: &DocSet,
) -> QueryResult<Vec<SelectedRow>> {
    let wanted = selection.offset.saturating_add(selection.limit);
    if wanted == 0 {
        return Ok(Vec::new());
    }
    let mut scanned = 0u64;
    let mut entries = 0u64;
    // (sort keys, doc) of the rows kept so far.
    let mut kept: Vec<(Vec<Scalar>, u32)> = Vec::new();
    let order_by = &selection.order_by;
    docs.for_each_block(|block| {
        if order_by.is_empty() {
            let take = (wanted - kept.len()).min(block.len());
            kept.extend(block[..take].iter().map(|d| (Vec::new(), *d)));
            scanned += take as u64;
            return Ok(kept.len() < wanted);
        }
        let mut columns = BlockColumns::new(context, block);
        let vectors: Vec<Vector> = order_by
            .iter()
            .map(|k| eval(&k.expr, &mut columns))
            .collect::<QueryResult<_>>()?;
        entries += (block.len() * columns.columns_read()) as u64;
        scanned += block.len() as u64;
        for (row, doc) in block.iter().enumerate() {
            kept.push((vectors.iter().map(|v| v.scalar(row)).collect(), *doc));
        }
        if kept.len() > wanted.saturating_mul(2).max(BLOCK) {
            kept.sort_by(|a, b| compare_sort_keys(&a.0, &b.0, order_by).then(a.1.cmp(&b.1)));
            kept.truncate(wanted);
        }
        columns.context.check_deadline()?;
        Ok(true)
    })?;
    kept.sort_by(|a, b| compare_sort_keys(&a.0, &b.0, order_by).then(a.1.cmp(&b.1)));
    kept.truncate(wanted);
    // Project the surviving docs, reading them in doc order.
    let mut by_doc: Vec<(u32, usize)> =
        kept.iter().enumerate().map(|(i, (_, d))| (*d, i)).collect();
    by_doc.sort_unstable();
    let mut values: Vec<Vec<Scalar>> = vec![Vec::new(); kept.len()];
    // Cut where a doc crosses into the next BLOCK window, so raw chunks decode once.
    let windows = by_doc.chunk_by(|a, b| a.0 / BLOCK as u32 == b.0 / BLOCK as u32);
    for chunk in windows {
        let block: Vec<u32> = chunk.iter().map(|(d, _)| *d).collect();
        let mut columns = BlockColumns::new(context, &block);
        let vectors: Vec<Vector> = selection
            .exprs
            .iter()
            .map(|e| eval(e, &mut columns))
            .collect::<QueryResult<_>>()?;
        entries += (block.len() * columns.columns_read()) as u64;
        for (row, (_, index)) in chunk.iter().enumerate() {
            values[*index] = vectors.iter().map(|v| v.scalar(row)).collect();
        }
    }
    context.stats.num_docs_scanned = scanned;
    context.stats.num_entries_scanned_post_filter += entries;
    Ok(kept
        .into_iter()
        .zip(values)
        .map(|((sort, _), values)| SelectedRow { sort, values })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of recent pairs only skips repeats: with a table far smaller than the
    /// pairs (slots shared by many) and pairs repeated in and out of order, every
    /// group's ids come back exactly, ascending and once each.
    #[test]
    fn test_distinct_pairs_are_exact_whatever_the_recent_table_catches() {
        let mut expected: Vec<std::collections::BTreeSet<u32>> = vec![Default::default(); 7];
        let mut ids = DistinctIds::new(false, 1000, 10);
        let mut seed = 5u64;
        for _ in 0..40 {
            let (mut groups, mut block) = (Vec::new(), Vec::new());
            for _ in 0..300 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let (group, id) = ((seed >> 40) as u32 % 7, (seed >> 20) as u32 % 1000);
                groups.push(group);
                block.push(id);
                expected[group as usize].insert(id);
            }
            // Runs of one pair, and rows the filter drops (never counted).
            groups.extend([3, 3, 3]);
            block.extend([17, 17, 17]);
            expected[3].insert(17);
            groups.push(4);
            block.push(1010);
            let kept = block.len() - 1;
            ids.insert(&groups, &block, |row| row < kept);
        }
        ids.finish(7);
        for (group, expected) in expected.iter().enumerate() {
            let mut got = Vec::new();
            ids.for_each_id(group, |id| got.push(id));
            assert_eq!(
                got,
                expected.iter().copied().collect::<Vec<_>>(),
                "group {group}"
            );
        }
    }
}
