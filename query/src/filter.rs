//! Index-aware evaluation of the WHERE clause on one segment. Leaves a dictionary or an
//! index can answer become doc sets without reading the forward index (sorted ranges,
//! inverted bitmaps, the range index, the text index, null bitmaps); AND narrows the
//! candidates before the remaining leaves scan only what is left.
//!
//! Also: whole-segment pruning from column min/max and bloom filters.

use std::fmt::Write;
use std::ops::Bound;

use roaring::RoaringBitmap;
use tessera_segment::format::SectionKind;
use tessera_segment::{ColumnReader, IdSet, Value};

use crate::docset::{DocSet, Matches};
use crate::error::QueryResult;
use crate::eval::eval;
use crate::expr::{ArithOp, CmpOp, Expr, Func, match_literals};
use crate::plan::Filter;
use crate::segment_scan::{BlockColumns, SegmentContext, filter_dictionary, truth_on_dictionary};
use crate::types::{Scalar, SqlType, total_order_key};

/// Inverted-index lookups beyond this many dictionary ids scan the ids instead.
const MAX_BITMAP_UNION: usize = 2048;

/// The docs of `candidates` for which `filter` is TRUE.
pub fn evaluate(
    context: &mut SegmentContext<'_>,
    filter: &Filter,
    candidates: DocSet,
) -> QueryResult<DocSet> {
    if candidates.is_empty() {
        return Ok(candidates);
    }
    match filter {
        Filter::And(children) => {
            // Comparisons of one dictionary column (`x >= a AND x <= b`, BETWEEN) become
            // one id range, answered once; then index-answerable children first: they
            // are cheap and shrink the scans.
            let (ranges, rest) = if context.use_indexes {
                merge_id_ranges(context, children)?
            } else {
                (Vec::new(), children.iter().collect())
            };
            // Comparisons of one raw DOUBLE column become one pass over its values.
            let (double_ranges, rest) = merge_double_ranges(context, rest);
            let mut steps: Vec<(u8, AndStep<'_>)> = ranges
                .into_iter()
                .map(|(rank, column, ids)| (rank, AndStep::Ids(column, ids)))
                .chain(
                    double_ranges
                        .into_iter()
                        .map(|(column, range)| (9, AndStep::DoubleRange(column, range))),
                )
                .chain(
                    rest.into_iter()
                        .map(|child| (cost_rank(context, child), AndStep::Child(child))),
                )
                .collect();
            steps.sort_by_key(|(rank, _)| *rank);
            let mut current = candidates;
            for (_, step) in steps {
                current = match step {
                    AndStep::Child(child) => evaluate(context, child, current)?,
                    AndStep::Ids(column, ids) => {
                        context.check_deadline()?;
                        docs_for_ids(context, column, ids, false, &current)?.and(&current)
                    }
                    AndStep::DoubleRange(column, range) => {
                        scan_f64_range(context, column, &current, range)?
                    }
                };
                if current.is_empty() {
                    break;
                }
            }
            Ok(current)
        }
        Filter::Or(children) => {
            // `x < a OR x > b` (NOT BETWEEN) on one dictionary column: the docs outside
            // one id range, from one scan of the ids.
            if context.use_indexes
                && let Some((column, gap)) = complement_of_id_range(context, children)
            {
                context.check_deadline()?;
                return docs_for_ids(context, column, Ids::Range(gap), true, &candidates);
            }
            let mut union = DocSet::empty();
            for child in children {
                let matched = evaluate(context, child, candidates.clone())?;
                union = union.or(&matched);
                if union.len() == candidates.len() {
                    break;
                }
            }
            Ok(union)
        }
        Filter::Leaf(expr) => {
            context.check_deadline()?;
            if context.use_indexes
                && let Some(matched) = index_leaf(context, expr, &candidates)?
            {
                return Ok(matched.and(&candidates));
            }
            scan_leaf(context, expr, &candidates)
        }
    }
}

/// One step of an AND: a child filter, or the merged id range of comparisons on one
/// dictionary column.
enum AndStep<'f> {
    Child(&'f Filter),
    Ids(&'f str, Ids),
    DoubleRange(&'f str, F64Range),
}

/// Split an AND's children into the value ranges of raw single-value DOUBLE/FLOAT
/// columns compared more than once (`x >= a AND x <= b`, BETWEEN), each scanned once
/// instead of once per comparison, and the other children. A column with a range index
/// (when indexes are used) keeps its comparisons: the index answers each.
pub fn merge_double_ranges<'f>(
    context: &SegmentContext<'_>,
    children: Vec<&'f Filter>,
) -> (Vec<(&'f str, F64Range)>, Vec<&'f Filter>) {
    let mut found: Vec<(&'f str, F64Range, usize)> = Vec::new();
    let scanned_raw = |column: &str| {
        context.segment.column(column).is_ok_and(|reader| {
            reader.cardinality().is_none()
                && reader.metadata().single_value
                && !(context.use_indexes && reader.metadata().indexes.iter().any(|i| i == "range"))
        })
    };
    fn leaf_range(child: &Filter) -> Option<(&str, F64Range)> {
        match child {
            Filter::Leaf(expr) => double_comparison(expr)
                .and_then(|(column, op, literal)| Some((column, F64Range::of(op, literal)?))),
            _ => None,
        }
    }
    for child in &children {
        if let Some((column, range)) = leaf_range(child)
            && scanned_raw(column)
        {
            match found.iter_mut().find(|(name, _, _)| *name == column) {
                Some((_, merged, count)) => {
                    *merged = merged.intersect(range);
                    *count += 1;
                }
                None => found.push((column, range, 1)),
            }
        }
    }
    found.retain(|(_, _, count)| *count >= 2);
    let rest = children
        .into_iter()
        .filter(|child| {
            !leaf_range(child)
                .is_some_and(|(column, _)| found.iter().any(|(name, _, _)| *name == column))
        })
        .collect();
    (
        found
            .into_iter()
            .map(|(column, range, _)| (column, range))
            .collect(),
        rest,
    )
}

/// The doubles `x op literal` selects, compared as `cmp_cells` compares a double with a
/// double (`total_cmp`) or with a long (exactly).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct F64Range {
    low: Bound<f64>,
    high: Bound<f64>,
}

impl F64Range {
    /// `None` for `<>` and for a long literal a double cannot hold exactly, or zero (a
    /// long 0 equals -0.0, which `total_cmp` orders below 0.0): those keep the exact
    /// comparison.
    fn of(op: CmpOp, literal: &Scalar) -> Option<F64Range> {
        let v = match literal {
            Scalar::Double(v) => *v,
            Scalar::Long(v) if *v != 0 && v.unsigned_abs() <= 1 << 53 => *v as f64,
            _ => return None,
        };
        let (low, high) = match op {
            CmpOp::Eq => (Bound::Included(v), Bound::Included(v)),
            CmpOp::Lt => (Bound::Unbounded, Bound::Excluded(v)),
            CmpOp::LtEq => (Bound::Unbounded, Bound::Included(v)),
            CmpOp::Gt => (Bound::Excluded(v), Bound::Unbounded),
            CmpOp::GtEq => (Bound::Included(v), Bound::Unbounded),
            CmpOp::NotEq => return None,
        };
        Some(F64Range { low, high })
    }

    /// Values in both ranges.
    fn intersect(self, other: F64Range) -> F64Range {
        use std::cmp::Ordering::{Greater, Less};
        let value = |b: &Bound<f64>| match b {
            Bound::Included(v) | Bound::Excluded(v) => Some(*v),
            Bound::Unbounded => None,
        };
        // The tighter of two bounds; `toward` is the ordering that makes a bound tighter.
        let tighter = |a: Bound<f64>, b: Bound<f64>, toward| match (value(&a), value(&b)) {
            (None, _) => b,
            (_, None) => a,
            (Some(x), Some(y)) => match x.total_cmp(&y) {
                o if o == toward => a,
                std::cmp::Ordering::Equal if matches!(a, Bound::Excluded(_)) => a,
                std::cmp::Ordering::Equal => b,
                _ => b,
            },
        };
        F64Range {
            low: tighter(self.low, other.low, Greater),
            high: tighter(self.high, other.high, Less),
        }
    }

    /// Whether some value in `[low, high]` may lie in the range.
    fn overlaps(&self, low: f64, high: f64) -> bool {
        self.under_high(low) && self.over_low(high)
    }

    #[inline]
    #[cfg(test)]
    fn contains(&self, v: f64) -> bool {
        self.over_low(v) && self.under_high(v)
    }

    /// The range as bounds on [`total_order_key`]s (`None`: empty): what a scan loop
    /// tests, two integer comparisons without a branch on the bound kinds.
    fn key_bounds(&self) -> Option<KeyRange> {
        let low = match self.low {
            Bound::Unbounded => i64::MIN,
            Bound::Included(l) => total_order_key(l),
            Bound::Excluded(l) => total_order_key(l).checked_add(1)?,
        };
        let high = match self.high {
            Bound::Unbounded => i64::MAX,
            Bound::Included(h) => total_order_key(h),
            Bound::Excluded(h) => total_order_key(h).checked_sub(1)?,
        };
        Some(KeyRange { low, high })
    }

    /// `v` passes the lower bound.
    #[inline]
    fn over_low(&self, v: f64) -> bool {
        match self.low {
            Bound::Unbounded => true,
            Bound::Included(l) => v.total_cmp(&l).is_ge(),
            Bound::Excluded(l) => v.total_cmp(&l).is_gt(),
        }
    }

    /// `v` passes the upper bound.
    #[inline]
    fn under_high(&self, v: f64) -> bool {
        match self.high {
            Bound::Unbounded => true,
            Bound::Included(h) => v.total_cmp(&h).is_le(),
            Bound::Excluded(h) => v.total_cmp(&h).is_lt(),
        }
    }
}

/// An [`F64Range`] as included bounds on [`total_order_key`]s.
#[derive(Debug, Clone, Copy)]
struct KeyRange {
    low: i64,
    high: i64,
}

impl KeyRange {
    /// The range holds `v` (as [`F64Range::contains`] says).
    #[inline]
    fn holds(self, v: f64) -> bool {
        let key = total_order_key(v);
        (self.low <= key) & (key <= self.high)
    }
}

/// The single-value dictionary columns that two or more comparisons (other than `<>`)
/// of an AND's children name, in first-seen order: their comparisons merge into one id
/// range.
pub fn range_merge_columns<'f>(
    context: &SegmentContext<'_>,
    children: &'f [Filter],
) -> Vec<&'f str> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for child in children {
        if let Filter::Leaf(expr) = child
            && let Some(ColumnLeaf::Compare { column, op, .. }) = classify(expr)
            && op != CmpOp::NotEq
        {
            match counts.iter_mut().find(|(name, _)| *name == column) {
                Some((_, count)) => *count += 1,
                None => counts.push((column, 1)),
            }
        }
    }
    counts
        .into_iter()
        .filter(|(column, count)| {
            *count >= 2
                && context.segment.column(column).is_ok_and(|reader| {
                    reader.cardinality().is_some() && reader.metadata().single_value
                })
        })
        .map(|(column, _)| column)
        .collect()
}

/// Whether `expr` is a comparison of `column` that [`range_merge_columns`] merges.
pub fn is_range_merge_leaf(expr: &Expr, column: &str) -> bool {
    range_merge_comparison(expr, column).is_some()
}

/// The operator and literal of `expr` when it is a comparison of `column` that
/// [`range_merge_columns`] merges.
fn range_merge_comparison<'e>(expr: &'e Expr, column: &str) -> Option<(CmpOp, &'e Scalar)> {
    match classify(expr)? {
        ColumnLeaf::Compare {
            column: c,
            op,
            value,
        } if c == column && op != CmpOp::NotEq => Some((op, value)),
        _ => None,
    }
}

/// When every child of an OR compares one single-value dictionary column (not `<>`) and
/// together they select the ids outside one range (`x < a OR x > b`, `x <= a OR x >= b`,
/// NOT BETWEEN), that column and the range left out.
pub fn complement_of_id_range<'f>(
    context: &SegmentContext<'_>,
    children: &'f [Filter],
) -> Option<(&'f str, std::ops::Range<u32>)> {
    let Some(Filter::Leaf(first)) = children.first() else {
        return None;
    };
    let Some(ColumnLeaf::Compare { column, .. }) = classify(first) else {
        return None;
    };
    let reader = context.segment.column(column).ok()?;
    let cardinality = reader.cardinality()?;
    if children.len() < 2 || !reader.metadata().single_value {
        return None;
    }
    let mut ranges = Vec::with_capacity(children.len());
    for child in children {
        let Filter::Leaf(expr) = child else {
            return None;
        };
        let (op, value) = range_merge_comparison(expr, column)?;
        let ids = match probe(reader, op, value) {
            Probe::Value(op, v) => ids_for(reader, op, &v).0,
            Probe::Nothing => Ids::Range(0..0),
            Probe::AllNonNull | Probe::Unprobeable => return None,
        };
        let Ids::Range(ids) = ids else {
            return None;
        };
        if !ids.is_empty() {
            ranges.push(ids);
        }
    }
    ranges.sort_by_key(|r| r.start);
    // The union as disjoint ranges; it must be a head [0, a) and/or a tail [b, card).
    let mut union: Vec<std::ops::Range<u32>> = Vec::new();
    for range in ranges {
        match union.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => union.push(range),
        }
    }
    let gap = match union.as_slice() {
        [] => 0..cardinality,
        [only] if only.start == 0 => only.end..cardinality,
        [only] if only.end >= cardinality => 0..only.start,
        [head, tail] if head.start == 0 && tail.end >= cardinality => head.end..tail.start,
        _ => return None,
    };
    Some((column, gap))
}

/// Split an AND's children into the id ranges of single-value dictionary columns compared
/// more than once (each with the cost rank of its first comparison) and the other children.
#[expect(
    clippy::type_complexity,
    reason = "a private split, named by its one caller"
)]
fn merge_id_ranges<'f>(
    context: &mut SegmentContext<'_>,
    children: &'f [Filter],
) -> QueryResult<(Vec<(u8, &'f str, Ids)>, Vec<&'f Filter>)> {
    let mut ranges = Vec::new();
    let mut merged_columns: Vec<&str> = Vec::new();
    for column in range_merge_columns(context, children) {
        let reader = context.column(column)?;
        let mut range = 0..u32::MAX;
        let mut rank = u8::MAX;
        let mut mergeable = true;
        for child in children {
            let Filter::Leaf(expr) = child else { continue };
            let Some((op, value)) = range_merge_comparison(expr, column) else {
                continue;
            };
            let ids = match probe(reader, op, value) {
                Probe::Value(op, v) => ids_for(reader, op, &v).0,
                Probe::Nothing => Ids::Range(0..0),
                Probe::AllNonNull | Probe::Unprobeable => {
                    mergeable = false;
                    break;
                }
            };
            let Ids::Range(ids) = ids else {
                mergeable = false;
                break;
            };
            range = range.start.max(ids.start)..range.end.min(ids.end);
            rank = rank.min(cost_rank(context, child));
        }
        if mergeable {
            let range = if range.start < range.end { range } else { 0..0 };
            ranges.push((rank, column, Ids::Range(range)));
            merged_columns.push(column);
        }
    }
    let rest = children
        .iter()
        .filter(|child| match child {
            Filter::Leaf(expr) => !merged_columns
                .iter()
                .any(|column| is_range_merge_leaf(expr, column)),
            _ => true,
        })
        .collect();
    Ok((ranges, rest))
}

/// Cheapest first: sorted ranges, then bitmaps from indexes, then per-entry dictionary
/// work, then scans of the forward index (which shrink with every earlier child).
fn cost_rank(context: &SegmentContext<'_>, filter: &Filter) -> u8 {
    match filter {
        Filter::Leaf(_) if !context.use_indexes => 9,
        Filter::Leaf(expr) => match describe_leaf(context, expr).0 {
            Access::Sorted => 0,
            Access::NullBitmap => 1,
            Access::Inverted | Access::TextIndex => 2,
            Access::RangeIndex => 3,
            Access::DictionaryEval => 4,
            Access::DictionaryScan => 5,
            Access::TextCandidates => 8,
            Access::Scan => 9,
        },
        Filter::And(children) | Filter::Or(children) => children
            .iter()
            .map(|c| cost_rank(context, c))
            .max()
            .unwrap_or(9),
    }
}

/// Evaluate a leaf by reading its columns for every candidate doc.
fn scan_leaf(
    context: &mut SegmentContext<'_>,
    expr: &Expr,
    candidates: &DocSet,
) -> QueryResult<DocSet> {
    if let Some(matched) = scan_raw_strings(context, expr, candidates)? {
        return Ok(matched);
    }
    if let Some(matched) = scan_double_comparison(context, expr, candidates)? {
        return Ok(matched);
    }
    if let Some(matched) = scan_column_comparison(context, expr, candidates)? {
        return Ok(matched);
    }
    if let Some(matched) = scan_f64_expression(context, expr, candidates)? {
        return Ok(matched);
    }
    let mut matched = Matches::new(candidates, context.segment.num_docs());
    let mut entries = 0u64;
    candidates.for_each_block(|docs| {
        let mut columns = BlockColumns::new(context, docs);
        let result = eval(expr, &mut columns)?;
        entries += (docs.len() * columns.columns_read().max(1)) as u64;
        let keep = result.true_rows();
        matched.keep_where(docs, |i| keep.get(i).copied().unwrap_or(false));
        context.check_deadline()?;
        Ok(true)
    })?;
    context.stats.num_entries_scanned_in_filter += entries;
    Ok(DocSet::Bitmap(matched.into_bitmap()))
}

/// `col [NOT] LIKE p` and `[NOT] REGEXP_LIKE(col, r)` over a raw-encoded string column:
/// the stored bytes of each doc are matched where they lie in the decompressed chunk, with
/// no string made per row (the generic scan reads every value into a vector first).
/// `None` when the leaf is not of that shape, or the segment's column is not raw.
fn scan_raw_strings(
    context: &mut SegmentContext<'_>,
    expr: &Expr,
    candidates: &DocSet,
) -> QueryResult<Option<DocSet>> {
    type BytesTest<'e> = Box<dyn Fn(&[u8]) -> bool + 'e>;
    let (inner, negated, test): (_, _, BytesTest<'_>) = match expr {
        Expr::Like {
            expr,
            pattern,
            negated,
        } => (
            &**expr,
            *negated,
            Box::new(|bytes| pattern.matches_bytes(bytes)),
        ),
        Expr::RegexpLike {
            expr,
            regex,
            negated,
        } => (
            &**expr,
            *negated,
            Box::new(|bytes| regex.is_match(&String::from_utf8_lossy(bytes))),
        ),
        _ => return Ok(None),
    };
    // A literal every match contains: only values holding it are tested (found by one
    // search over each chunk). NOT LIKE visits every value.
    let required = match negated {
        false => match_literals(expr)
            .iter()
            .max_by_key(|literal| literal.len()),
        true => None,
    };
    let Expr::Column {
        name,
        ty: SqlType::String,
        single_value: true,
    } = inner
    else {
        return Ok(None);
    };
    let column = context.column(name)?;
    let nulls = context.nulls(name)?;
    let mut matched = Matches::new(candidates, context.segment.num_docs());
    let mut entries = 0u64;
    let mut raw = true;
    candidates.for_each_block(|docs| {
        let mut visit = |doc, bytes: &[u8]| {
            // NULL matches neither LIKE nor NOT LIKE.
            if nulls.as_ref().is_some_and(|n| n.contains(doc)) {
                return;
            }
            if test(bytes) != negated {
                matched.push(doc);
            }
        };
        raw = match &required {
            Some(literal) => column.visit_raw_containing(docs, literal.as_bytes(), &mut visit)?,
            None => column.visit_raw(docs, &mut visit)?,
        };
        entries += docs.len() as u64;
        context.check_deadline()?;
        Ok(raw)
    })?;
    if !raw {
        return Ok(None);
    }
    context.stats.num_entries_scanned_in_filter += entries;
    Ok(Some(DocSet::Bitmap(matched.into_bitmap())))
}

/// `col op literal` (either side) on a single-value DOUBLE or FLOAT column: each block's
/// values read as f64 into one reused buffer and compared in place, the way the generic
/// scan compares doubles (`total_cmp`), without building a vector per block and a second
/// one of booleans. `None` when the leaf is not of that shape.
fn scan_double_comparison(
    context: &mut SegmentContext<'_>,
    expr: &Expr,
    candidates: &DocSet,
) -> QueryResult<Option<DocSet>> {
    let Some((name, op, literal)) = double_comparison(expr) else {
        return Ok(None);
    };
    if let Some(range) = F64Range::of(op, literal) {
        return scan_f64_range(context, name, candidates, range).map(Some);
    }
    // `<>`, and longs a double cannot hold: ordered against the literal as `cmp_cells`
    // orders them.
    let matched = match literal {
        Scalar::Double(v) => scan_f64(context, name, candidates, |value| {
            op.holds(value.total_cmp(v))
        })?,
        Scalar::Long(v) => scan_f64(context, name, candidates, |value| {
            op.holds(crate::types::cmp_i64_f64(*v, value).reverse())
        })?,
        _ => return Ok(None),
    };
    Ok(Some(matched))
}

/// `a op b` for two single-value columns of one row, both integer-backed (INT, LONG,
/// TIMESTAMP) or both floating (DOUBLE, FLOAT): each block's values of both read into
/// two reused buffers and compared pairwise as `cmp_cells` compares them. A row with a
/// NULL on either side does not match. `None` for other shapes.
fn scan_column_comparison(
    context: &mut SegmentContext<'_>,
    expr: &Expr,
    candidates: &DocSet,
) -> QueryResult<Option<DocSet>> {
    let Expr::Compare { op, left, right } = expr else {
        return Ok(None);
    };
    let (
        Expr::Column {
            name: a,
            ty: a_ty,
            single_value: true,
        },
        Expr::Column {
            name: b,
            ty: b_ty,
            single_value: true,
        },
    ) = (&**left, &**right)
    else {
        return Ok(None);
    };
    let floating = |ty: &SqlType| matches!(ty, SqlType::Double | SqlType::Float);
    let integers = a_ty.is_i64_backed() && b_ty.is_i64_backed();
    let doubles = floating(a_ty) && floating(b_ty);
    if !(integers || doubles) {
        return Ok(None);
    }
    let op = *op;
    let (left, right) = (context.column(a)?, context.column(b)?);
    let nulls = null_bitmaps(context, [a.as_str(), b.as_str()])?;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let (mut fx, mut fy): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    scan_blocks(context, candidates, 2, |docs, matched| {
        if integers {
            xs.clear();
            ys.clear();
            left.read_i64(docs, &mut xs)?;
            right.read_i64(docs, &mut ys)?;
            push_non_null_matching(matched, docs, &nulls, |i| op.holds(xs[i].cmp(&ys[i])));
        } else {
            fx.clear();
            fy.clear();
            left.read_f64(docs, &mut fx)?;
            right.read_f64(docs, &mut fy)?;
            push_non_null_matching(matched, docs, &nulls, |i| op.holds(fx[i].total_cmp(&fy[i])));
        }
        Ok(())
    })
    .map(Some)
}

/// `expression op literal` (either side) where the expression is DOUBLE arithmetic (`+`,
/// `-`, `*`, negation, ABS, FLOOR, CEIL) over numeric single-value columns and numeric
/// literals: each block's columns read as f64 into reused buffers and the expression
/// computed over whole blocks, as the generic evaluation computes it (the same f64
/// operations in the same order), then compared as a value range. A NULL in any column
/// makes the row's expression NULL: it does not match. `None` for other shapes.
fn scan_f64_expression(
    context: &mut SegmentContext<'_>,
    expr: &Expr,
    candidates: &DocSet,
) -> QueryResult<Option<DocSet>> {
    let Some((computed, op, literal)) = expr.literal_comparison() else {
        return Ok(None);
    };
    if !matches!(
        computed,
        Expr::Arith { .. } | Expr::Negate(_) | Expr::Call { .. }
    ) {
        return Ok(None);
    }
    let mut names: Vec<String> = Vec::new();
    let (Some(program), Some(range)) = (
        F64Expr::compile(computed, &mut names),
        F64Range::of(op, literal),
    ) else {
        return Ok(None);
    };
    let readers = names
        .iter()
        .map(|name| context.column(name))
        .collect::<QueryResult<Vec<_>>>()?;
    let nulls = null_bitmaps(context, names.iter().map(String::as_str))?;
    let Some(keys) = range.key_bounds() else {
        return Ok(Some(DocSet::empty()));
    };
    let mut inputs: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    scan_blocks(context, candidates, names.len(), |docs, matched| {
        for (reader, values) in readers.iter().zip(inputs.iter_mut()) {
            values.clear();
            reader.read_f64(docs, values)?;
        }
        let values = program.run(&inputs, docs.len());
        keep_non_null_values(matched, docs, &nulls, &values, |v| keys.holds(v));
        Ok(())
    })
    .map(Some)
}

/// DOUBLE arithmetic over numeric columns, compiled for [`scan_f64_expression`].
enum F64Expr {
    /// The i-th column read.
    Input(usize),
    Constant(f64),
    Negate(Box<F64Expr>),
    Unary(Func, Box<F64Expr>),
    Binary(ArithOp, Box<F64Expr>, Box<F64Expr>),
}

impl F64Expr {
    /// `None` unless every node computes in f64 exactly as the generic evaluation does:
    /// DOUBLE-typed `+ - *` (no division, whose zero divisor makes NULL), negation, and
    /// ABS/FLOOR/CEIL of a DOUBLE, over numeric columns and literals.
    fn compile(expr: &Expr, names: &mut Vec<String>) -> Option<F64Expr> {
        Some(match expr {
            Expr::Column {
                name,
                ty: SqlType::Double | SqlType::Float | SqlType::Int | SqlType::Long,
                single_value: true,
            } => F64Expr::Input(match names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    names.push(name.clone());
                    names.len() - 1
                }
            }),
            Expr::Literal {
                value: Scalar::Double(v),
                ..
            } => F64Expr::Constant(*v),
            Expr::Literal {
                value: Scalar::Long(v),
                ..
            } => F64Expr::Constant(*v as f64),
            Expr::Arith {
                op: op @ (ArithOp::Add | ArithOp::Sub | ArithOp::Mul),
                left,
                right,
                ty: SqlType::Double,
            } => F64Expr::Binary(
                *op,
                Box::new(F64Expr::compile(left, names)?),
                Box::new(F64Expr::compile(right, names)?),
            ),
            Expr::Negate(inner) if inner.ty() == SqlType::Double => {
                F64Expr::Negate(Box::new(F64Expr::compile(inner, names)?))
            }
            Expr::Call {
                func: func @ (Func::Abs | Func::Floor | Func::Ceil),
                args,
                ty: SqlType::Double,
            } if args.len() == 1 => {
                F64Expr::Unary(func.clone(), Box::new(F64Expr::compile(&args[0], names)?))
            }
            _ => return None,
        })
    }

    /// The expression's value for each of `n` rows, from the columns' values.
    fn run(&self, inputs: &[Vec<f64>], n: usize) -> Vec<f64> {
        match self.operand(inputs) {
            Operand::Values(values) => values,
            Operand::Column(column) => column.to_vec(),
            Operand::Constant(c) => vec![c; n],
        }
    }

    /// The expression as an operand: a column read is borrowed and a literal stays a
    /// scalar, so `price * (1 - discount)` allocates one vector and copies no column.
    fn operand<'i>(&self, inputs: &'i [Vec<f64>]) -> Operand<'i> {
        match self {
            F64Expr::Input(i) => Operand::Column(&inputs[*i]),
            F64Expr::Constant(c) => Operand::Constant(*c),
            F64Expr::Negate(inner) => inner.operand(inputs).map(|x| -x),
            F64Expr::Unary(func, inner) => {
                let inner = inner.operand(inputs);
                match func {
                    Func::Abs => inner.map(f64::abs),
                    Func::Floor => inner.map(f64::floor),
                    _ => inner.map(f64::ceil),
                }
            }
            // One monomorphic loop per operator (a function pointer would stop the
            // compiler vectorizing it).
            F64Expr::Binary(op, left, right) => {
                let (left, right) = (left.operand(inputs), right.operand(inputs));
                match op {
                    ArithOp::Add => Operand::combine(left, right, |x, y| x + y),
                    ArithOp::Sub => Operand::combine(left, right, |x, y| x - y),
                    _ => Operand::combine(left, right, |x, y| x * y),
                }
            }
        }
    }
}

/// A value of [`F64Expr::operand`]: computed values, a column's values as read, or one
/// value for every row.
enum Operand<'i> {
    Values(Vec<f64>),
    Column(&'i [f64]),
    Constant(f64),
}

impl Operand<'_> {
    fn map(self, f: impl Fn(f64) -> f64) -> Self {
        match self {
            Operand::Values(mut values) => {
                values.iter_mut().for_each(|x| *x = f(*x));
                Operand::Values(values)
            }
            Operand::Column(column) => Operand::Values(column.iter().map(|x| f(*x)).collect()),
            Operand::Constant(c) => Operand::Constant(f(c)),
        }
    }

    /// `f(left, right)` row by row, the operands in that order (a computed vector is
    /// reused for the result).
    fn combine(left: Self, right: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        use Operand::{Column, Constant, Values};
        match (left, right) {
            (Constant(a), Constant(b)) => Constant(f(a, b)),
            (Values(mut a), Constant(b)) => {
                a.iter_mut().for_each(|x| *x = f(*x, b));
                Values(a)
            }
            (Constant(a), Values(mut b)) => {
                b.iter_mut().for_each(|y| *y = f(a, *y));
                Values(b)
            }
            (Values(mut a), Values(b)) => {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x = f(*x, *y));
                Values(a)
            }
            (Values(mut a), Column(b)) => {
                a.iter_mut().zip(b).for_each(|(x, y)| *x = f(*x, *y));
                Values(a)
            }
            (Column(a), Values(mut b)) => {
                b.iter_mut().zip(a).for_each(|(y, x)| *y = f(*x, *y));
                Values(b)
            }
            (Column(a), Column(b)) => Values(a.iter().zip(b).map(|(x, y)| f(*x, *y)).collect()),
            (Column(a), Constant(b)) => Values(a.iter().map(|x| f(*x, b)).collect()),
            (Constant(a), Column(b)) => Values(b.iter().map(|y| f(a, *y)).collect()),
        }
    }
}

/// Scan `candidates` block by block: `keep_block` appends each block's matching docs
/// (ascending); `columns` values are counted as scanned per doc, and the deadline is
/// checked after every block. The matches as a doc set.
fn scan_blocks(
    context: &mut SegmentContext<'_>,
    candidates: &DocSet,
    columns: usize,
    mut keep_block: impl FnMut(&[u32], &mut Matches) -> QueryResult<()>,
) -> QueryResult<DocSet> {
    let mut matched = Matches::new(candidates, context.segment.num_docs());
    let mut entries = 0u64;
    candidates.for_each_block(|docs| {
        keep_block(docs, &mut matched)?;
        entries += (docs.len() * columns.max(1)) as u64;
        context.check_deadline()?;
        Ok(true)
    })?;
    context.stats.num_entries_scanned_in_filter += entries;
    Ok(DocSet::Bitmap(matched.into_bitmap()))
}

/// The NULL bitmaps of the columns `names` (those that have NULLs).
fn null_bitmaps<'n>(
    context: &mut SegmentContext<'_>,
    names: impl IntoIterator<Item = &'n str>,
) -> QueryResult<Vec<std::sync::Arc<RoaringBitmap>>> {
    let mut bitmaps = Vec::new();
    for name in names {
        if let Some(nulls) = context.nulls(name)? {
            bitmaps.push(nulls);
        }
    }
    Ok(bitmaps)
}

/// [`Matches::keep_where`] for docs whose value is NULL in none of `nulls`' columns (a
/// NULL operand makes a comparison unknown: no match).
fn push_non_null_matching(
    matched: &mut Matches,
    docs: &[u32],
    nulls: &[std::sync::Arc<RoaringBitmap>],
    keep: impl Fn(usize) -> bool,
) {
    if nulls.is_empty() {
        matched.keep_where(docs, keep);
    } else {
        matched.keep_where(docs, |i| {
            keep(i) && !nulls.iter().any(|n| n.contains(docs[i]))
        });
    }
}

/// [`Matches::keep_values`] for docs whose value is NULL in none of `nulls`' columns.
fn keep_non_null_values<T: Copy>(
    matched: &mut Matches,
    docs: &[u32],
    nulls: &[std::sync::Arc<RoaringBitmap>],
    values: &[T],
    test: impl Fn(T) -> bool,
) {
    if nulls.is_empty() {
        matched.keep_values(docs, values, test);
    } else {
        push_non_null_matching(matched, docs, nulls, |i| test(values[i]));
    }
}

/// The column, operator (column on the left) and literal of `col op literal` (either
/// side) on a single-value DOUBLE or FLOAT column.
pub fn double_comparison(expr: &Expr) -> Option<(&str, CmpOp, &Scalar)> {
    match expr.literal_comparison()? {
        (
            Expr::Column {
                name,
                ty: SqlType::Double | SqlType::Float,
                single_value: true,
            },
            op,
            literal,
        ) => Some((name, op, literal)),
        _ => None,
    }
}

/// The candidates whose value of the double column `name` lies in `range`: chunks whose
/// value bounds (a zone map from their headers) miss the range are skipped unread.
fn scan_f64_range(
    context: &mut SegmentContext<'_>,
    name: &str,
    candidates: &DocSet,
    range: F64Range,
) -> QueryResult<DocSet> {
    let column = context.column(name)?;
    if context.use_indexes
        && let Some((chunk_rows, bounds)) = column.chunk_f64_bounds()
        && bounds
            .iter()
            .any(|b| b.is_some_and(|(low, high)| !range.overlaps(low, high)))
    {
        let num_docs = context.segment.num_docs();
        let mut kept = RoaringBitmap::new();
        for (index, bound) in bounds.iter().enumerate() {
            if bound.is_none_or(|(low, high)| range.overlaps(low, high)) {
                let start = (index as u32).saturating_mul(chunk_rows);
                let end = start.saturating_add(chunk_rows).min(num_docs);
                kept.insert_range(start..end);
            }
        }
        let narrowed = candidates.and(&DocSet::Bitmap(kept));
        return scan_f64_keys(context, name, &narrowed, range);
    }
    scan_f64_keys(context, name, candidates, range)
}

/// [`scan_f64`] of `range.contains`, as two integer comparisons per value.
fn scan_f64_keys(
    context: &mut SegmentContext<'_>,
    name: &str,
    candidates: &DocSet,
    range: F64Range,
) -> QueryResult<DocSet> {
    let Some(keys) = range.key_bounds() else {
        return Ok(DocSet::empty());
    };
    scan_f64(context, name, candidates, |v| keys.holds(v))
}

/// The candidates whose (non-NULL) value of the double column `name` passes `keep`,
/// read block by block into one reused buffer.
fn scan_f64(
    context: &mut SegmentContext<'_>,
    name: &str,
    candidates: &DocSet,
    keep: impl Fn(f64) -> bool,
) -> QueryResult<DocSet> {
    let column = context.column(name)?;
    let nulls = null_bitmaps(context, [name])?;
    let mut values: Vec<f64> = Vec::with_capacity(crate::docset::BLOCK);
    scan_blocks(context, candidates, 1, |docs, matched| {
        values.clear();
        column.read_f64(docs, &mut values)?;
        keep_non_null_values(matched, docs, &nulls, &values, &keep);
        Ok(())
    })
}

/// How a leaf is answered (for EXPLAIN and for ordering AND children).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Sorted,
    Inverted,
    DictionaryScan,
    RangeIndex,
    TextIndex,
    NullBitmap,
    /// The predicate evaluated once per dictionary entry.
    DictionaryEval,
    /// A raw text-indexed column's LIKE or REGEXP_LIKE: the values of the docs the text
    /// index names as candidates are tested (a full scan when they cover most chunks).
    TextCandidates,
    Scan,
}

impl Access {
    pub fn name(self) -> &'static str {
        match self {
            Access::Sorted => "SORTED_INDEX",
            Access::Inverted => "INVERTED_INDEX",
            Access::DictionaryScan => "DICTIONARY_ID_SCAN",
            Access::RangeIndex => "RANGE_INDEX",
            Access::TextIndex => "TEXT_INDEX",
            Access::NullBitmap => "NULL_BITMAP",
            Access::DictionaryEval => "DICTIONARY_EVAL",
            Access::TextCandidates => "TEXT_INDEX_CANDIDATES",
            Access::Scan => "FULL_SCAN",
        }
    }
}

/// A leaf on one column that the column's dictionary/indexes can answer.
enum ColumnLeaf<'e> {
    Compare {
        column: &'e str,
        op: CmpOp,
        value: &'e Scalar,
    },
    In {
        column: &'e str,
        values: &'e [Scalar],
        negated: bool,
    },
    Like {
        column: &'e str,
        expr: &'e Expr,
        negated: bool,
    },
    IsNull {
        column: &'e str,
        negated: bool,
    },
    Text {
        column: &'e str,
        query: &'e str,
    },
}

/// A `LIKE '%word%'`, `LIKE 'word%'` or `LIKE '%word'` whose word the text index can
/// look up (alphanumeric; a prefix or suffix within the indexed edge runs): the text
/// index answers it exactly (but for segments built before the edge runs).
fn text_like(like: &Expr) -> bool {
    use tessera_segment::text_index::{is_edge_word, is_index_word};
    match like {
        Expr::Like { pattern, .. } => {
            pattern.contains.as_deref().is_some_and(is_index_word)
                || pattern.prefix.as_deref().is_some_and(is_edge_word)
                || pattern.suffix.as_deref().is_some_and(is_edge_word)
        }
        _ => false,
    }
}

impl<'e> ColumnLeaf<'e> {
    /// The column the leaf compares.
    fn column(&self) -> &'e str {
        match self {
            ColumnLeaf::Compare { column, .. }
            | ColumnLeaf::In { column, .. }
            | ColumnLeaf::Like { column, .. }
            | ColumnLeaf::IsNull { column, .. }
            | ColumnLeaf::Text { column, .. } => column,
        }
    }
}

fn classify(expr: &Expr) -> Option<ColumnLeaf<'_>> {
    match expr {
        Expr::Compare { op, left, right } => match (left.as_ref(), right.as_ref()) {
            (Expr::Column { name, .. }, Expr::Literal { value, .. }) if !value.is_null() => {
                Some(ColumnLeaf::Compare {
                    column: name,
                    op: *op,
                    value,
                })
            }
            (Expr::Literal { value, .. }, Expr::Column { name, .. }) if !value.is_null() => {
                Some(ColumnLeaf::Compare {
                    column: name,
                    op: op.flip(),
                    value,
                })
            }
            _ => None,
        },
        Expr::InList {
            expr: inner,
            list,
            negated,
        } => match inner.as_ref() {
            // A NULL in a NOT IN list makes every row unknown: leave that to the scan.
            Expr::Column { name, .. } if !(*negated && list.iter().any(Scalar::is_null)) => {
                Some(ColumnLeaf::In {
                    column: name,
                    values: list,
                    negated: *negated,
                })
            }
            _ => None,
        },
        Expr::Like {
            expr: inner,
            negated,
            ..
        }
        | Expr::RegexpLike {
            expr: inner,
            negated,
            ..
        } => match inner.as_ref() {
            Expr::Column { name, .. } => Some(ColumnLeaf::Like {
                column: name,
                expr,
                negated: *negated,
            }),
            _ => None,
        },
        Expr::IsNull {
            expr: inner,
            negated,
        } => match inner.as_ref() {
            Expr::Column { name, .. } => Some(ColumnLeaf::IsNull {
                column: name,
                negated: *negated,
            }),
            _ => None,
        },
        Expr::TextMatch { column, query } => Some(ColumnLeaf::Text { column, query }),
        _ => None,
    }
}

/// How this segment would answer a leaf, and a note for EXPLAIN.
pub fn describe_leaf(context: &SegmentContext<'_>, expr: &Expr) -> (Access, String) {
    let Some(leaf) = classify(expr) else {
        let rows = u64::from(context.segment.num_docs());
        if context.use_indexes
            && matches!(single_dictionary_column(context, expr, rows), Ok(Some(_)))
        {
            return (Access::DictionaryEval, String::new());
        }
        return (Access::Scan, String::new());
    };
    let column_name = leaf.column();
    let Ok(column) = context.segment.column(column_name) else {
        return (Access::Scan, String::new());
    };
    let indexes = &column.metadata().indexes;
    let has = |name: &str| indexes.iter().any(|i| i == name);
    let access = match leaf {
        ColumnLeaf::Text { .. } => Access::TextIndex,
        ColumnLeaf::Like { expr, .. }
            if column.cardinality().is_none() && has("text") && text_like(expr) =>
        {
            Access::TextIndex
        }
        ColumnLeaf::Like {
            expr,
            negated: false,
            ..
        } if column.cardinality().is_none() && has("text") && !candidate_words(expr).is_empty() => {
            Access::TextCandidates
        }
        ColumnLeaf::IsNull { .. } => Access::NullBitmap,
        // Dictionary columns answer from dictionary ids: sorted ranges, inverted
        // bitmaps, or a scan of the ids (their range index serves raw columns only).
        _ if column.cardinality().is_some() => {
            if has("sorted") && column.metadata().single_value {
                Access::Sorted
            } else if has("inverted") {
                Access::Inverted
            } else {
                Access::DictionaryScan
            }
        }
        ColumnLeaf::Compare {
            op: CmpOp::Lt | CmpOp::LtEq | CmpOp::Gt | CmpOp::GtEq | CmpOp::Eq,
            ..
        } if has("range") => Access::RangeIndex,
        _ => Access::Scan,
    };
    let mut note = String::new();
    let _ = write!(note, "{column_name}");
    (access, note)
}

/// Docs of a raw, text-indexed column that may match a LIKE or REGEXP_LIKE leaf: those
/// whose leading and trailing runs fit the literals a LIKE's matches start and end with
/// ([`edge_candidates`]), and those
/// with a token containing each alphanumeric run (of 3+ characters; the longest four)
/// of the literals every match holds. Such a run of the value lies inside one of its
/// tokens, which the text index finds by its term dictionary ([`ColumnReader::
/// text_contains`]). `None` when it cannot say (no such run, no text index), or when
/// the words' document frequencies, taken as independent, expect candidates in more
/// than half of the segment's `chunks` (then reading the postings would be wasted: the
/// scan reads every chunk anyway).
fn text_index_candidates(
    reader: &dyn ColumnReader,
    expr: &Expr,
    num_docs: u32,
    chunks: u32,
) -> QueryResult<Option<RoaringBitmap>> {
    let edges = edge_candidates(reader, expr)?;
    // Edges that leave about a doc a chunk already bound the values read: the words'
    // postings (unions over every term containing each word) would cost more.
    if edges.as_ref().is_some_and(|e| e.len() <= u64::from(chunks)) {
        return Ok(edges);
    }
    let words = word_candidates(reader, expr, num_docs, chunks)?;
    Ok(match (edges, words) {
        (Some(edges), Some(words)) => Some(edges & words),
        (edges, words) => edges.or(words),
    })
}

/// Docs of a raw, text-indexed column that may match a LIKE whose matches all start
/// (or end) with a literal: the value's leading run starts with the literal's leading
/// alphanumeric run (its trailing run ends with the literal's trailing run), which the
/// index's leading and trailing runs answer by a range of their term tables. `None`
/// when the pattern has no such run or the index cannot answer.
fn edge_candidates(reader: &dyn ColumnReader, expr: &Expr) -> QueryResult<Option<RoaringBitmap>> {
    use tessera_segment::text_index::{leading_run, trailing_run};
    let Expr::Like { pattern, .. } = expr else {
        return Ok(None);
    };
    let mut found: Option<RoaringBitmap> = None;
    if let Some(start) = &pattern.starts {
        let run = leading_run(start);
        if !run.is_empty() {
            found = reader.text_starts_with(run)?;
        }
    }
    if let Some(last) = &pattern.ends {
        let run = trailing_run(last);
        if !run.is_empty()
            && let Some(docs) = reader.text_ends_with(run)?
        {
            found = Some(match found {
                Some(starting) => starting & docs,
                None => docs,
            });
        }
    }
    Ok(found)
}

/// The docs [`text_index_candidates`] takes from the words of the pattern's literals.
fn word_candidates(
    reader: &dyn ColumnReader,
    expr: &Expr,
    num_docs: u32,
    chunks: u32,
) -> QueryResult<Option<RoaringBitmap>> {
    let words = candidate_words(expr);
    let mut expected = f64::from(num_docs);
    for word in &words {
        let Some(at_most) = reader.text_contains_at_most(word)? else {
            return Ok(None);
        };
        expected *= (at_most as f64 / f64::from(num_docs.max(1))).min(1.0);
    }
    if expected > f64::from(chunks) / 2.0 {
        return Ok(None);
    }
    let mut candidates: Option<RoaringBitmap> = None;
    for word in &words {
        let Some(docs) = reader.text_contains(word)? else {
            return Ok(None);
        };
        candidates = Some(match candidates {
            None => docs,
            Some(found) => found & docs,
        });
    }
    Ok(candidates)
}

/// A LIKE or REGEXP_LIKE leaf on raw, text-indexed `column`: the values of the text
/// index's candidates (within `candidates`) are tested, when they leave at least half of
/// the column's chunks unread. `None` (scan instead) otherwise.
fn scan_text_index_candidates(
    context: &mut SegmentContext<'_>,
    column: &str,
    like: &Expr,
    candidates: &DocSet,
) -> QueryResult<Option<DocSet>> {
    let reader = context.column(column)?;
    let chunk_rows = reader.metadata().chunk_rows.max(1);
    let num_docs = context.segment.num_docs();
    let chunks = num_docs.div_ceil(chunk_rows);
    let Some(found) = text_index_candidates(reader, like, num_docs, chunks)? else {
        return Ok(None);
    };
    let narrowed = candidates.and(&DocSet::Bitmap(found));
    let mut touched = 0u32;
    let mut last = None;
    narrowed.for_each_block(|docs| {
        for doc in docs {
            let chunk = doc / chunk_rows;
            if last != Some(chunk) {
                touched += 1;
                last = Some(chunk);
            }
        }
        Ok(touched * 2 <= chunks)
    })?;
    if touched * 2 > chunks {
        return Ok(None);
    }
    scan_raw_strings(context, like, &narrowed)
}

/// The runs [`text_index_candidates`] asks the text index for, longest first.
fn candidate_words(expr: &Expr) -> Vec<String> {
    let mut words: Vec<String> = match_literals(expr)
        .iter()
        .flat_map(|literal| {
            literal
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| word.chars().count() >= 3)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    words.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    words.dedup();
    words.truncate(4);
    words
}

/// Matching ids of a dictionary column.
enum Ids {
    Range(std::ops::Range<u32>),
    List(Vec<u32>),
    /// `wanted[id]` for every id of the dictionary (an expression evaluated per entry),
    /// and how many are wanted.
    Table {
        wanted: Vec<bool>,
        count: usize,
    },
}

impl Ids {
    fn count(&self) -> usize {
        match self {
            Ids::Range(r) => r.len(),
            Ids::List(l) => l.len(),
            Ids::Table { count, .. } => *count,
        }
    }

    /// A table as the list of its ids; ranges and lists as they are.
    fn listed(self) -> Ids {
        match self {
            Ids::Table { wanted, .. } => Ids::List(
                (0u32..)
                    .zip(&wanted)
                    .filter(|(_, w)| **w)
                    .map(|(id, _)| id)
                    .collect(),
            ),
            other => other,
        }
    }
}

fn id_set(set: IdSet) -> Ids {
    match set {
        IdSet::Range(range) => Ids::Range(range),
        IdSet::Ids(ids) => Ids::List(ids),
    }
}

/// Convert a literal to the column's value type for dictionary probes, adjusting
/// comparisons of integer columns with fractional literals (`x < 2.5` is `x <= 2`).
/// `None`: no value of the column can satisfy (or the probe cannot be expressed).
enum Probe {
    Value(CmpOp, Value),
    Nothing,
    AllNonNull,
    Unprobeable,
}

fn probe(column: &dyn ColumnReader, op: CmpOp, value: &Scalar) -> Probe {
    let ty = SqlType::of(column.metadata().data_type);
    if let Some(v) = value.to_value(ty) {
        return Probe::Value(op, v);
    }
    if let (true, Scalar::Double(x)) = (ty.is_i64_backed(), value) {
        if x.is_nan() {
            return Probe::Unprobeable;
        }
        let (floor, ceil) = (x.floor(), x.ceil());
        if floor < -9.0e18 || ceil > 9.0e18 {
            return Probe::Unprobeable;
        }
        let as_value = |n: f64| Scalar::Long(n as i64).to_value(ty);
        let adjusted = match op {
            CmpOp::Eq => return Probe::Nothing,
            CmpOp::NotEq => return Probe::AllNonNull,
            CmpOp::Lt | CmpOp::LtEq => as_value(floor).map(|v| (CmpOp::LtEq, v)),
            CmpOp::Gt | CmpOp::GtEq => as_value(ceil).map(|v| (CmpOp::GtEq, v)),
        };
        return match adjusted {
            Some((op, v)) => Probe::Value(op, v),
            None => Probe::Unprobeable,
        };
    }
    Probe::Unprobeable
}

fn ids_for(column: &dyn ColumnReader, op: CmpOp, value: &Value) -> (Ids, bool) {
    let none = || Ids::Range(0..0);
    match op {
        CmpOp::Eq | CmpOp::NotEq => {
            let ids = column
                .lookup(value)
                .map_or_else(none, |id| Ids::Range(id..id + 1));
            (ids, op == CmpOp::NotEq)
        }
        CmpOp::Lt => (
            id_set(column.ids_in_range(Bound::Unbounded, Bound::Excluded(value))),
            false,
        ),
        CmpOp::LtEq => (
            id_set(column.ids_in_range(Bound::Unbounded, Bound::Included(value))),
            false,
        ),
        CmpOp::Gt => (
            id_set(column.ids_in_range(Bound::Excluded(value), Bound::Unbounded)),
            false,
        ),
        CmpOp::GtEq => (
            id_set(column.ids_in_range(Bound::Included(value), Bound::Unbounded)),
            false,
        ),
    }
}

/// Answer a leaf from dictionaries and indexes; `None` when it needs a scan.
fn index_leaf(
    context: &mut SegmentContext<'_>,
    expr: &Expr,
    candidates: &DocSet,
) -> QueryResult<Option<DocSet>> {
    let Some(leaf) = classify(expr) else {
        return dictionary_leaf(context, expr, candidates);
    };
    let num_docs = context.segment.num_docs();
    match leaf {
        ColumnLeaf::Text { column, query } => {
            let bitmap = context.text_search(column, query)?;
            Ok(Some(DocSet::Bitmap((*bitmap).clone())))
        }
        ColumnLeaf::IsNull { column, negated } => {
            let nulls = context.nulls(column)?;
            let null_docs = nulls.map(|b| (*b).clone()).unwrap_or_default();
            Ok(Some(if negated {
                candidates.minus(&null_docs)
            } else {
                DocSet::Bitmap(null_docs)
            }))
        }
        ColumnLeaf::Compare { column, op, value } => {
            let reader = context.column(column)?;
            if reader.cardinality().is_some() {
                let (ids, complement) = match probe(reader, op, value) {
                    Probe::Value(op, v) => ids_for(reader, op, &v),
                    Probe::Nothing => (Ids::Range(0..0), false),
                    Probe::AllNonNull => (Ids::Range(0..0), true),
                    Probe::Unprobeable => return Ok(None),
                };
                return docs_for_ids(context, column, ids, complement, candidates).map(Some);
            }
            // Raw column: the range index gives sure matches plus candidates to check.
            if op == CmpOp::NotEq {
                return Ok(None);
            }
            let ty = SqlType::of(reader.metadata().data_type);
            let Probe::Value(op, v) = probe(reader, op, value) else {
                return Ok(None);
            };
            let _ = ty;
            let (low, high) = match op {
                CmpOp::Eq => (Bound::Included(&v), Bound::Included(&v)),
                CmpOp::Lt => (Bound::Unbounded, Bound::Excluded(&v)),
                CmpOp::LtEq => (Bound::Unbounded, Bound::Included(&v)),
                CmpOp::Gt => (Bound::Excluded(&v), Bound::Unbounded),
                CmpOp::GtEq => (Bound::Included(&v), Bound::Unbounded),
                CmpOp::NotEq => return Ok(None),
            };
            let Some(range_match) = reader.range_lookup(low, high)? else {
                return Ok(None);
            };
            let sure = DocSet::Bitmap(range_match.matching).and(candidates);
            let to_check = DocSet::Bitmap(range_match.candidates).and(candidates);
            let checked = scan_leaf(context, expr, &to_check)?;
            Ok(Some(sure.or(&checked)))
        }
        ColumnLeaf::In {
            column,
            values,
            negated,
        } => {
            let reader = context.column(column)?;
            if reader.cardinality().is_none() {
                return Ok(None);
            }
            let mut ids = Vec::new();
            for value in values.iter().filter(|v| !v.is_null()) {
                if let Probe::Value(CmpOp::Eq, v) = probe(reader, CmpOp::Eq, value)
                    && let Some(id) = reader.lookup(&v)
                {
                    ids.push(id);
                }
            }
            ids.sort_unstable();
            ids.dedup();
            docs_for_ids(context, column, Ids::List(ids), negated, candidates).map(Some)
        }
        ColumnLeaf::Like {
            column,
            expr: like,
            negated,
        } => {
            let reader = context.column(column)?;
            let Some(cardinality) = reader.cardinality() else {
                // Raw column: `LIKE '%word%'` from the text index's case-preserving
                // tokens, `LIKE 'word%'` and `LIKE '%word'` from its leading and
                // trailing runs (exact for alphanumeric words).
                let matched = match like {
                    Expr::Like { pattern, .. } => {
                        if let Some(needle) = &pattern.contains {
                            reader.text_contains(needle)?
                        } else if let Some(prefix) = &pattern.prefix {
                            reader.text_starts_with(prefix)?
                        } else if let Some(suffix) = &pattern.suffix {
                            reader.text_ends_with(suffix)?
                        } else {
                            None
                        }
                    }
                    _ => None,
                };
                let Some(matched) = matched else {
                    // Other shapes: the values of the text index's candidates.
                    return match negated {
                        false => scan_text_index_candidates(context, column, like, candidates),
                        true => Ok(None),
                    };
                };
                let matched = DocSet::Bitmap(matched);
                if !negated {
                    return Ok(Some(matched));
                }
                let nulls = context.nulls(column)?;
                let mut out = candidates.minus(&matched.to_bitmap());
                if let Some(nulls) = nulls {
                    out = out.minus(&nulls);
                }
                return Ok(Some(out));
            };
            // Evaluate the pattern once per dictionary entry.
            let test = |text: &str| match like {
                Expr::Like { pattern, .. } => pattern.matches(text),
                Expr::RegexpLike { regex, .. } => regex.is_match(text),
                _ => false,
            };
            let mut ids = Vec::new();
            for id in 0..cardinality {
                if let Value::String(text) | Value::Json(text) = reader.dictionary_value(id)
                    && test(&text)
                {
                    ids.push(id);
                }
            }
            context.stats.num_entries_scanned_in_filter += u64::from(cardinality);
            docs_for_ids(context, column, Ids::List(ids), negated, candidates).map(Some)
        }
    }
    .map(|set| set.map(|s| s.and(&DocSet::all(num_docs))))
}

/// A predicate over one small dictionary column (`YEAR(ts) = 1995`, `n * 2 > 3`):
/// evaluate it once per dictionary entry, then select the docs of the entries that pass.
fn dictionary_leaf(
    context: &mut SegmentContext<'_>,
    expr: &Expr,
    candidates: &DocSet,
) -> QueryResult<Option<DocSet>> {
    let Some((column, reader, cardinality)) =
        single_dictionary_column(context, expr, candidates.len())?
    else {
        return Ok(None);
    };
    let mut wanted = truth_on_dictionary(context, reader, cardinality, expr)?;
    // The last row is what NULL docs evaluate to.
    let null_passes = wanted.pop().unwrap_or(false);
    let count = wanted.iter().filter(|w| **w).count();
    context.stats.num_entries_scanned_in_filter += u64::from(cardinality);
    let ids = Ids::Table { wanted, count };
    let mut matched = docs_for_ids(context, &column, ids, false, candidates)?;
    if null_passes && let Some(nulls) = context.nulls(&column)? {
        // The predicate is TRUE on NULL (`COALESCE(x, 0) = 0`): NULL docs pass too.
        matched = matched.or(&DocSet::Bitmap((*nulls).clone()));
    }
    Ok(Some(matched))
}

/// The one dictionary column `expr` reads, when evaluating `expr` once per entry costs
/// no more than testing `rows` rows.
fn single_dictionary_column<'a>(
    context: &SegmentContext<'a>,
    expr: &Expr,
    rows: u64,
) -> QueryResult<Option<(String, &'a dyn ColumnReader, u32)>> {
    if matches!(expr, Expr::TextMatch { .. }) {
        return Ok(None);
    }
    let mut referenced = Vec::new();
    expr.columns(&mut referenced);
    let [column] = referenced.as_slice() else {
        return Ok(None);
    };
    Ok(filter_dictionary(context, column, rows)?
        .map(|(reader, cardinality)| (column.clone(), reader, cardinality)))
}

/// Docs whose value (any element, for multi-value columns) has one of `ids`; with
/// `complement`, the non-null docs with none of them.
fn docs_for_ids(
    context: &mut SegmentContext<'_>,
    column: &str,
    ids: Ids,
    complement: bool,
    candidates: &DocSet,
) -> QueryResult<DocSet> {
    let reader = context.column(column)?;
    let single_value = reader.metadata().single_value;
    // Only the scan below reads a table of wanted ids directly.
    let sorted = single_value && reader.sorted_doc_range(0..0).is_some();
    let inverted = reader.metadata().indexes.iter().any(|i| i == "inverted");
    let ids = if sorted || (ids.count() <= MAX_BITMAP_UNION && inverted) {
        ids.listed()
    } else {
        ids
    };
    let matched = if ids.count() == 0 {
        DocSet::empty()
    } else if let (true, Some(range)) = (
        single_value,
        match &ids {
            Ids::Range(r) => reader.sorted_doc_range(r.clone()),
            Ids::List(_) | Ids::Table { .. } => None,
        },
    ) {
        DocSet::Range(range)
    } else if sorted && let Ids::List(list) = &ids {
        let mut set = DocSet::empty();
        for id in list {
            if let Some(range) = reader.sorted_doc_range(*id..*id + 1) {
                set = set.or(&DocSet::Range(range));
            }
        }
        set
    } else if ids.count() <= MAX_BITMAP_UNION && inverted {
        let mut union = RoaringBitmap::new();
        let mut visit = |id: u32| -> QueryResult<()> {
            if let Some(bitmap) = reader.inverted_bitmap(id)? {
                union |= bitmap;
            }
            Ok(())
        };
        match &ids {
            Ids::Range(range) => range.clone().try_for_each(&mut visit)?,
            Ids::List(list) => list.iter().try_for_each(|id| visit(*id))?,
            // Listed above.
            Ids::Table { .. } => {}
        }
        DocSet::Bitmap(union)
    } else {
        // Scan the dictionary ids of the candidates: a range by two comparisons (one,
        // wrapping), a list through a table of the wanted ids.
        let cardinality = reader.cardinality().unwrap_or(0) as usize;
        // (first id, id count) of a range; the table of wanted ids of a list.
        let (range_start, range_len, wanted) = match ids {
            Ids::Range(range) => (range.start, range.len() as u32, None),
            Ids::List(list) => {
                let mut wanted = vec![false; cardinality];
                list.iter().for_each(|id| wanted[*id as usize] = true);
                (0, 0, Some(wanted))
            }
            Ids::Table { wanted, .. } => (0, 0, Some(wanted)),
        };
        let is_wanted = |id: u32| match &wanted {
            None => id.wrapping_sub(range_start) < range_len,
            Some(wanted) => wanted.get(id as usize).copied().unwrap_or(false),
        };
        let nulls = context.nulls(column)?;
        // Matches arrive in ascending order: collected as a list or as bits and turned
        // into a bitmap once (inserting one by one costs a container lookup per doc).
        let mut matched_docs = Matches::new(candidates, context.segment.num_docs());
        let mut scratch = Vec::with_capacity(crate::docset::BLOCK);
        let mut entries = 0u64;
        let mut failure = None;
        candidates.for_each_block(|docs| {
            entries += docs.len() as u64;
            if single_value {
                scratch.clear();
                reader.read_dict_ids(docs, &mut scratch)?;
                // One loop per kind of test, each free of the other's branch.
                match &wanted {
                    None => matched_docs.keep_values(docs, &scratch, |id| {
                        id.wrapping_sub(range_start) < range_len
                    }),
                    Some(wanted) => matched_docs.keep_values(docs, &scratch, |id| {
                        wanted.get(id as usize).copied().unwrap_or(false)
                    }),
                }
            } else {
                for doc in docs {
                    scratch.clear();
                    reader.read_mv_dict_ids(*doc, &mut scratch)?;
                    if scratch.iter().any(|id| is_wanted(*id)) {
                        matched_docs.push(*doc);
                    }
                }
            }
            if let Err(e) = context.check_deadline() {
                failure = Some(e);
                return Ok(false);
            }
            Ok(true)
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        context.stats.num_entries_scanned_in_filter += entries;
        let mut matched = matched_docs.into_bitmap();
        if let Some(nulls) = &nulls {
            matched -= nulls.as_ref();
        }
        DocSet::Bitmap(matched)
    };
    if !complement {
        return Ok(matched);
    }
    let nulls = context.nulls(column)?;
    let mut out = candidates.minus(&matched.to_bitmap());
    if let Some(nulls) = nulls {
        out = out.minus(&nulls);
    }
    Ok(out)
}

/// Whether a segment can hold a match, from column statistics and bloom filters alone.
/// Only top-level AND leaves are checked (a false answer anywhere else proves nothing).
pub fn may_match(context: &SegmentContext<'_>, filter: &Filter) -> bool {
    match filter {
        Filter::And(children) => children.iter().all(|c| may_match(context, c)),
        Filter::Or(children) => children.iter().any(|c| may_match(context, c)),
        Filter::Leaf(expr) => leaf_may_match(context, expr),
    }
}

fn leaf_may_match(context: &SegmentContext<'_>, expr: &Expr) -> bool {
    if !leaf_may_match_by_statistics(context.segment.metadata(), expr) {
        return false;
    }
    // The bloom filter, for equality only, and only where the column has one (a segment
    // opened from its footer fetches the filter, never a data section).
    let leaf = classify(expr);
    let (column, values): (&str, Vec<&Scalar>) = match &leaf {
        Some(ColumnLeaf::Compare {
            column,
            op: CmpOp::Eq,
            value,
        }) => (column, vec![*value]),
        Some(ColumnLeaf::In {
            column,
            values,
            negated: false,
        }) => (column, values.iter().collect()),
        _ => return true,
    };
    let has_bloom = column_metadata(context.segment.metadata(), column)
        .is_some_and(|metadata| metadata.indexes.iter().any(|index| index == "bloom"));
    if !has_bloom {
        return true;
    }
    let Ok(reader) = context.segment.column(column) else {
        return true;
    };
    let ty = SqlType::of(reader.metadata().data_type);
    values.iter().any(|value| {
        value
            .to_value(ty)
            .is_none_or(|v| reader.bloom_might_contain(&v) != Some(false))
    })
}

fn column_metadata<'m>(
    metadata: &'m tessera_segment::SegmentMetadata,
    name: &str,
) -> Option<&'m tessera_segment::ColumnMetadata> {
    metadata.columns.iter().find(|column| column.name == name)
}

/// Whether a segment can hold a match, from its metadata's column statistics alone (no
/// section read): top-level AND leaves; a false answer anywhere else proves nothing.
pub fn may_match_by_statistics(
    metadata: &tessera_segment::SegmentMetadata,
    filter: &Filter,
) -> bool {
    match filter {
        Filter::And(children) => children
            .iter()
            .all(|c| may_match_by_statistics(metadata, c)),
        Filter::Or(children) => children
            .iter()
            .any(|c| may_match_by_statistics(metadata, c)),
        Filter::Leaf(expr) => leaf_may_match_by_statistics(metadata, expr),
    }
}

fn leaf_may_match_by_statistics(segment: &tessera_segment::SegmentMetadata, expr: &Expr) -> bool {
    let Some(ColumnLeaf::Compare { column, op, value }) = classify(expr) else {
        if let Some(ColumnLeaf::In {
            column,
            values,
            negated: false,
        }) = classify(expr)
        {
            return values.iter().any(|v| {
                leaf_may_match_by_statistics(
                    segment,
                    &Expr::Compare {
                        op: CmpOp::Eq,
                        left: Box::new(Expr::Column {
                            name: column.to_string(),
                            ty: SqlType::Null,
                            single_value: true,
                        }),
                        right: Box::new(Expr::literal(v.clone(), SqlType::Null)),
                    },
                )
            });
        }
        return true;
    };
    let Some(metadata) = column_metadata(segment, column) else {
        return true;
    };
    if metadata.null_count >= u64::from(segment.row_count) {
        // Every value is NULL: no comparison is TRUE.
        return false;
    }
    let ty = SqlType::of(metadata.data_type);
    let (Some(min), Some(max)) = (stat(&metadata.min, ty), stat(&metadata.max, ty)) else {
        return true;
    };
    let bounds = Bounds {
        min,
        max,
        single_value: metadata.single_value,
    };
    bounds.may_hold(op, value)
}

/// The sections a segment reads to evaluate `filter`, chosen from its metadata alone as
/// [`describe_leaf`] chooses an access path: what a segment opened from its footer
/// fetches before the query runs. `use_indexes = false` scans every filter column. A
/// section this misses is fetched when first read, one round trip later.
pub fn filter_sections(
    filter: &Filter,
    segment: &tessera_segment::SegmentMetadata,
    use_indexes: bool,
    out: &mut Vec<(String, SectionKind)>,
) {
    match filter {
        Filter::And(children) | Filter::Or(children) => children
            .iter()
            .for_each(|child| filter_sections(child, segment, use_indexes, out)),
        Filter::Leaf(expr) => leaf_sections(expr, segment, use_indexes, out),
    }
}

fn leaf_sections(
    expr: &Expr,
    segment: &tessera_segment::SegmentMetadata,
    use_indexes: bool,
    out: &mut Vec<(String, SectionKind)>,
) {
    let scan = |out: &mut Vec<(String, SectionKind)>| {
        let mut columns = Vec::new();
        expr.columns(&mut columns);
        out.extend(columns.into_iter().map(|c| (c, SectionKind::Forward)));
    };
    let leaf = match classify(expr) {
        Some(leaf) if use_indexes => leaf,
        _ => return scan(out),
    };
    let name = leaf.column();
    let Some(metadata) = column_metadata(segment, name) else {
        return scan(out);
    };
    let has = |index: &str| metadata.indexes.iter().any(|i| i == index);
    let mut add = |kind| out.push((name.to_string(), kind));
    let dictionary = metadata.encoding == tessera_segment::metadata::Encoding::Dictionary;
    // Pruning asks an equality's bloom filter first (after the statistics).
    let equality = matches!(
        leaf,
        ColumnLeaf::Compare { op: CmpOp::Eq, .. } | ColumnLeaf::In { negated: false, .. }
    );
    if equality && has("bloom") {
        add(SectionKind::Bloom);
    }
    match leaf {
        ColumnLeaf::Text { .. } => add(SectionKind::Text),
        ColumnLeaf::Like { expr, .. } if !dictionary && has("text") && text_like(expr) => {
            add(SectionKind::Text)
        }
        // The null bitmap opens with the column.
        ColumnLeaf::IsNull { .. } => {}
        _ if dictionary => {
            if has("sorted") && metadata.single_value {
                // The sorted index opens with the column.
            } else if has("inverted") {
                add(SectionKind::Inverted);
                // A few ids read their bitmaps; a wide range or a negation scans the ids.
                let few = matches!(
                    leaf,
                    ColumnLeaf::Compare { op: CmpOp::Eq, .. }
                        | ColumnLeaf::In { negated: false, .. }
                );
                if !few {
                    add(SectionKind::Forward);
                }
            } else {
                add(SectionKind::Forward);
            }
        }
        ColumnLeaf::Compare {
            op: CmpOp::Lt | CmpOp::LtEq | CmpOp::Gt | CmpOp::GtEq | CmpOp::Eq,
            ..
        } if has("range") => {
            add(SectionKind::Range);
            add(SectionKind::Forward);
        }
        _ => add(SectionKind::Forward),
    }
}

/// A column's smallest and largest non-null value in a segment, known without the
/// segment (a broker reads them from the catalog).
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub min: Scalar,
    pub max: Scalar,
    pub single_value: bool,
}

impl Bounds {
    /// Whether a value within these bounds can satisfy `column op value`.
    fn may_hold(&self, op: CmpOp, value: &Scalar) -> bool {
        use std::cmp::Ordering::*;
        let vs_min = value.sql_cmp(&self.min);
        let vs_max = value.sql_cmp(&self.max);
        match op {
            CmpOp::Eq => vs_min != Less && vs_max != Greater,
            // An empty multi-value cell has no element equal to anything.
            CmpOp::NotEq => !(self.single_value && vs_min == Equal && vs_max == Equal),
            CmpOp::Lt => vs_min == Greater,
            CmpOp::LtEq => vs_min != Less,
            CmpOp::Gt => vs_max == Less,
            CmpOp::GtEq => vs_max != Greater,
        }
    }
}

/// Whether a segment whose columns lie within `bounds` (None: unknown) can hold a
/// match: the broker's pruning, from comparisons and IN lists on columns; every other
/// leaf may match.
pub fn bounds_may_match(filter: &Filter, bounds: &dyn Fn(&str) -> Option<Bounds>) -> bool {
    match filter {
        Filter::And(children) => children.iter().all(|c| bounds_may_match(c, bounds)),
        Filter::Or(children) => children.iter().any(|c| bounds_may_match(c, bounds)),
        Filter::Leaf(expr) => match classify(expr) {
            Some(ColumnLeaf::Compare { column, op, value }) => {
                bounds(column).is_none_or(|b| b.may_hold(op, value))
            }
            Some(ColumnLeaf::In {
                column,
                values,
                negated: false,
            }) => bounds(column).is_none_or(|b| values.iter().any(|v| b.may_hold(CmpOp::Eq, v))),
            _ => true,
        },
    }
}

/// A min/max statistic of a column of type `ty` as a scalar (numbers and strings;
/// others unknown).
pub fn stat(json: &serde_json::Value, ty: SqlType) -> Option<Scalar> {
    match json {
        serde_json::Value::Number(n) if ty.is_i64_backed() => n.as_i64().map(Scalar::Long),
        serde_json::Value::Number(n) if ty.is_floating() => n.as_f64().map(Scalar::Double),
        serde_json::Value::String(s) if ty.is_text() => Some(Scalar::Str(s.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(op: CmpOp, v: Scalar) -> F64Range {
        F64Range::of(op, &v).unwrap_or_else(|| panic!("{op:?} {v:?} has a range"))
    }

    /// A range agrees with the comparison it stands for, on values around its bounds,
    /// as `cmp_cells` orders a double against a double or a long.
    #[test]
    fn test_f64_range_agrees_with_the_comparison() {
        let values = [
            -1e300,
            -3.0,
            -2.5,
            -0.0,
            0.0,
            1.0,
            2.0,
            2.5,
            2.5000001,
            3.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let ops = [CmpOp::Eq, CmpOp::Lt, CmpOp::LtEq, CmpOp::Gt, CmpOp::GtEq];
        for literal in [
            Scalar::Double(2.5),
            Scalar::Double(-0.0),
            Scalar::Long(2),
            Scalar::Long(-3),
        ] {
            for op in ops {
                let r = range(op, literal.clone());
                for v in values {
                    let expected = match &literal {
                        Scalar::Double(l) => op.holds(v.total_cmp(l)),
                        Scalar::Long(l) => op.holds(crate::types::cmp_i64_f64(*l, v).reverse()),
                        _ => unreachable!(),
                    };
                    assert_eq!(r.contains(v), expected, "{v} {op:?} {literal:?}");
                    let keyed = r.key_bounds().is_some_and(|keys| keys.holds(v));
                    assert_eq!(keyed, expected, "keys: {v} {op:?} {literal:?}");
                }
            }
        }
        // What keeps the exact comparison.
        assert!(F64Range::of(CmpOp::NotEq, &Scalar::Double(1.0)).is_none());
        assert!(F64Range::of(CmpOp::Eq, &Scalar::Long(0)).is_none());
        assert!(F64Range::of(CmpOp::Eq, &Scalar::Long((1 << 53) + 1)).is_none());
    }

    /// A range overlaps a chunk's bounds exactly when some value between them is in it.
    #[test]
    fn test_f64_range_overlaps_bounds() {
        let grid: Vec<f64> = (0..=40).map(|i| f64::from(i) * 0.25).collect();
        let ranges = [
            range(CmpOp::Eq, Scalar::Double(2.5)),
            range(CmpOp::Lt, Scalar::Double(2.5)),
            range(CmpOp::LtEq, Scalar::Double(2.5)),
            range(CmpOp::Gt, Scalar::Double(2.5)),
            range(CmpOp::GtEq, Scalar::Double(2.5)),
            range(CmpOp::GtEq, Scalar::Long(1)).intersect(range(CmpOp::Lt, Scalar::Long(3))),
        ];
        for r in ranges {
            for (i, low) in grid.iter().enumerate() {
                for high in &grid[i..] {
                    let some = grid.iter().any(|v| v >= low && v <= high && r.contains(*v));
                    assert_eq!(r.overlaps(*low, *high), some, "{r:?} [{low}, {high}]");
                }
            }
        }
    }

    /// The intersection of two ranges holds what both hold (BETWEEN, and bounds that
    /// meet at one value with one side open).
    #[test]
    fn test_f64_range_intersection() {
        let cases = [
            (
                range(CmpOp::GtEq, Scalar::Long(1000)),
                range(CmpOp::LtEq, Scalar::Long(1100)),
            ),
            (
                range(CmpOp::Gt, Scalar::Double(2.0)),
                range(CmpOp::GtEq, Scalar::Double(2.0)),
            ),
            (
                range(CmpOp::Lt, Scalar::Double(5.0)),
                range(CmpOp::LtEq, Scalar::Double(5.0)),
            ),
            (
                range(CmpOp::Gt, Scalar::Double(5.0)),
                range(CmpOp::Lt, Scalar::Double(1.0)),
            ),
            (
                range(CmpOp::Eq, Scalar::Double(3.0)),
                range(CmpOp::GtEq, Scalar::Double(3.0)),
            ),
        ];
        let values = [
            0.0, 1.0, 2.0, 2.5, 3.0, 5.0, 999.0, 1000.0, 1050.0, 1100.0, 1100.5,
        ];
        for (a, b) in cases {
            for both in [a.intersect(b), b.intersect(a)] {
                for v in values {
                    assert_eq!(
                        both.contains(v),
                        a.contains(v) && b.contains(v),
                        "{v} in {a:?} ∩ {b:?}"
                    );
                }
            }
        }
    }
}
