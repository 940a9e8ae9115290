//! Reading one segment for a query: the per-segment context (cached null bitmaps, the
//! deadline, scan counters) and [`BlockColumns`], which reads the columns an expression
//! needs for one block of docs.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use roaring::RoaringBitmap;
use tessera_segment::{ColumnReader, SegmentReader};

use crate::cancel::Cancel;
use crate::error::{QueryError, QueryResult};
use crate::eval::Columns;
use crate::types::{Scalar, SqlType};
use crate::vector::{Data, Vector};

/// Counters a segment reports (Pinot's response stats).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanStats {
    pub num_docs_scanned: u64,
    pub num_entries_scanned_in_filter: u64,
    pub num_entries_scanned_post_filter: u64,
}

pub struct SegmentContext<'a> {
    pub segment: &'a dyn SegmentReader,
    pub stats: ScanStats,
    pub use_indexes: bool,
    deadline: Option<(Instant, u64)>,
    cancel: Cancel,
    nulls: HashMap<String, Option<Arc<RoaringBitmap>>>,
    text: HashMap<(String, String), Arc<RoaringBitmap>>,
}

impl<'a> SegmentContext<'a> {
    pub fn new(
        segment: &'a dyn SegmentReader,
        use_indexes: bool,
        deadline: Option<(Instant, u64)>,
        cancel: Cancel,
    ) -> SegmentContext<'a> {
        SegmentContext {
            segment,
            stats: ScanStats::default(),
            use_indexes,
            deadline,
            cancel,
            nulls: HashMap::new(),
            text: HashMap::new(),
        }
    }

    pub fn column(&self, name: &str) -> QueryResult<&'a dyn ColumnReader> {
        Ok(self.segment.column(name)?)
    }

    /// Fails once the query's `timeoutMs` has passed, or the query was cancelled.
    pub fn check_deadline(&self) -> QueryResult<()> {
        if self.cancel.is_cancelled() {
            return Err(QueryError::cancelled());
        }
        match self.deadline {
            Some((deadline, timeout_ms)) if Instant::now() >= deadline => {
                Err(QueryError::timeout(timeout_ms))
            }
            _ => Ok(()),
        }
    }

    /// The column's null bitmap (`None` when it has no NULLs).
    pub fn nulls(&mut self, name: &str) -> QueryResult<Option<Arc<RoaringBitmap>>> {
        if let Some(cached) = self.nulls.get(name) {
            return Ok(cached.clone());
        }
        let column = self.column(name)?;
        let bitmap = if column.metadata().null_count == 0 {
            None
        } else {
            column.null_bitmap()?.map(Arc::new)
        };
        self.nulls.insert(name.to_string(), bitmap.clone());
        Ok(bitmap)
    }

    /// Append the dictionary ids of `docs` to `ids`, NULL docs reading as the column's
    /// cardinality (the id after the last entry): the id group codes and factored sums
    /// give NULL.
    pub fn dict_ids_null_last(
        &mut self,
        name: &str,
        docs: &[u32],
        ids: &mut Vec<u32>,
    ) -> QueryResult<()> {
        let column = self.column(name)?;
        let start = ids.len();
        column.read_dict_ids(docs, ids)?;
        if let Some(nulls) = self.nulls(name)? {
            let null_id = column.cardinality().unwrap_or(0);
            for (id, doc) in ids[start..].iter_mut().zip(docs) {
                if nulls.contains(*doc) {
                    *id = null_id;
                }
            }
        }
        Ok(())
    }

    pub fn text_search(&mut self, column: &str, query: &str) -> QueryResult<Arc<RoaringBitmap>> {
        let key = (column.to_string(), query.to_string());
        if let Some(hit) = self.text.get(&key) {
            return Ok(hit.clone());
        }
        let reader = self.column(column)?;
        let bitmap = reader
            .text_search(query)
            .map_err(|e| QueryError::invalid(format!("TEXT_MATCH({column}, '{query}'): {e}")))?
            .ok_or_else(|| {
                QueryError::invalid(format!(
                    "TEXT_MATCH needs a text index on `{column}`; add it to fieldConfigList with indexTypes [\"TEXT\"]"
                ))
            })?;
        let bitmap = Arc::new(bitmap);
        self.text.insert(key, bitmap.clone());
        Ok(bitmap)
    }

    /// Read one column's values for ascending docs.
    pub fn read(&mut self, name: &str, docs: &[u32]) -> QueryResult<Vector> {
        let column = self.column(name)?;
        let nulls = self.nulls(name)?;
        read_column(column, docs, nulls.as_deref())
    }
}

/// A column's values for `docs` as a vector.
pub fn read_column(
    column: &dyn ColumnReader,
    docs: &[u32],
    null_bitmap: Option<&RoaringBitmap>,
) -> QueryResult<Vector> {
    let metadata = column.metadata();
    let ty = SqlType::of(metadata.data_type);
    let nulls = null_bitmap.map(|bitmap| docs.iter().map(|d| bitmap.contains(*d)).collect());
    if !metadata.single_value {
        let mut values = Vec::with_capacity(docs.len());
        column.read_values(docs, &mut values)?;
        let cells = values
            .into_iter()
            .map(|v| match Scalar::from_value(v) {
                Scalar::Array(items) => items,
                _ => Vec::new(),
            })
            .collect();
        let mut vector = Vector::new(ty, Data::Array(cells), nulls);
        vector.multi_value = true;
        return Ok(vector);
    }
    let data = match ty {
        SqlType::Int | SqlType::Long | SqlType::Timestamp => {
            let mut out = Vec::with_capacity(docs.len());
            column.read_i64(docs, &mut out)?;
            Data::Long(out)
        }
        SqlType::Boolean => {
            let mut out = Vec::with_capacity(docs.len());
            column.read_i64(docs, &mut out)?;
            Data::Bool(out.into_iter().map(|v| v != 0).collect())
        }
        SqlType::Float | SqlType::Double => {
            let mut out = Vec::with_capacity(docs.len());
            column.read_f64(docs, &mut out)?;
            Data::Double(out)
        }
        SqlType::String | SqlType::Json | SqlType::Bytes | SqlType::Null => {
            let mut values = Vec::with_capacity(docs.len());
            column.read_values(docs, &mut values)?;
            if ty == SqlType::Bytes {
                Data::Bytes(
                    values
                        .into_iter()
                        .map(|v| match v {
                            tessera_segment::Value::Bytes(b) => b,
                            _ => Vec::new(),
                        })
                        .collect(),
                )
            } else {
                Data::Str(
                    values
                        .into_iter()
                        .map(|v| match v {
                            tessera_segment::Value::String(s) | tessera_segment::Value::Json(s) => {
                                s
                            }
                            _ => String::new(),
                        })
                        .collect(),
                )
            }
        }
    };
    Ok(Vector::new(ty, data, nulls))
}

/// The columns of one block of docs, read on first use.
pub struct BlockColumns<'c, 'a> {
    pub context: &'c mut SegmentContext<'a>,
    pub docs: &'c [u32],
    cache: HashMap<String, Rc<Vector>>,
    /// Columns read once per block need no cached copy.
    read_once: Option<&'c HashSet<String>>,
    reads: usize,
}

impl<'c, 'a> BlockColumns<'c, 'a> {
    pub fn new(context: &'c mut SegmentContext<'a>, docs: &'c [u32]) -> BlockColumns<'c, 'a> {
        BlockColumns {
            context,
            docs,
            cache: HashMap::new(),
            read_once: None,
            reads: 0,
        }
    }

    /// As [`BlockColumns::new`], for expressions that reference the columns in
    /// `read_once` exactly once: those are handed over without keeping a copy.
    pub fn with_read_once(
        context: &'c mut SegmentContext<'a>,
        docs: &'c [u32],
        read_once: &'c HashSet<String>,
    ) -> BlockColumns<'c, 'a> {
        BlockColumns {
            read_once: Some(read_once),
            ..BlockColumns::new(context, docs)
        }
    }

    /// Columns read so far (for the entries-scanned counters).
    pub fn columns_read(&self) -> usize {
        self.reads
    }
}

/// The columns referenced exactly once by all of `exprs` together.
pub fn columns_read_once<'e>(
    exprs: impl IntoIterator<Item = &'e crate::expr::Expr>,
) -> HashSet<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for expr in exprs {
        expr.visit_columns(&mut |name| *counts.entry(name.to_string()).or_default() += 1);
    }
    counts
        .into_iter()
        .filter(|(_, count)| *count == 1)
        .map(|(name, _)| name)
        .collect()
}

impl Columns for BlockColumns<'_, '_> {
    fn len(&self) -> usize {
        self.docs.len()
    }

    fn column(&mut self, name: &str) -> QueryResult<Vector> {
        Ok(Rc::unwrap_or_clone(self.column_shared(name)?))
    }

    fn column_shared(&mut self, name: &str) -> QueryResult<Rc<Vector>> {
        if let Some(v) = self.cache.get(name) {
            return Ok(v.clone());
        }
        let v = Rc::new(self.context.read(name, self.docs)?);
        self.reads += 1;
        if !self.read_once.is_some_and(|once| once.contains(name)) {
            self.cache.insert(name.to_string(), v.clone());
        }
        Ok(v)
    }

    fn slot(&mut self, index: usize) -> QueryResult<Vector> {
        Err(QueryError::execution(format!(
            "aggregate slot {index} read before aggregation"
        )))
    }

    fn text_match(&mut self, column: &str, query: &str) -> QueryResult<Vec<bool>> {
        let bitmap = self.context.text_search(column, query)?;
        Ok(self.docs.iter().map(|d| bitmap.contains(*d)).collect())
    }
}

/// Dictionaries above this size are not evaluated entry by entry.
pub const MAX_DICTIONARY_EVAL: u32 = 1 << 20;

/// A dictionary column whose every entry an expression can be evaluated on once instead
/// of per row: single-value, dictionary-encoded, not too large.
pub fn small_dictionary<'a>(
    context: &SegmentContext<'a>,
    name: &str,
) -> QueryResult<Option<(&'a dyn ColumnReader, u32)>> {
    filter_dictionary(context, name, 0)
}

/// A filter evaluates a larger dictionary entry by entry too, when it has no more
/// entries than the rows the filter would otherwise test, up to this many (64 MiB of
/// LONG entries).
pub const MAX_FILTER_DICTIONARY_EVAL: u32 = 1 << 23;

/// [`small_dictionary`] for a filter that would otherwise test `rows` rows: also a
/// dictionary of up to [`MAX_FILTER_DICTIONARY_EVAL`] entries, no more than `rows`.
pub fn filter_dictionary<'a>(
    context: &SegmentContext<'a>,
    name: &str,
    rows: u64,
) -> QueryResult<Option<(&'a dyn ColumnReader, u32)>> {
    let reader = context.column(name)?;
    Ok(match reader.cardinality() {
        Some(cardinality)
            if reader.metadata().single_value
                && (cardinality <= MAX_DICTIONARY_EVAL
                    || (cardinality <= MAX_FILTER_DICTIONARY_EVAL
                        && u64::from(cardinality) <= rows)) =>
        {
            Some((reader, cardinality))
        }
        _ => None,
    })
}

/// Evaluate an expression over one column's dictionary: row `id` is entry `id`, and one
/// extra last row is NULL (what NULL docs evaluate to).
pub fn eval_on_dictionary(
    reader: &dyn ColumnReader,
    cardinality: u32,
    expr: &crate::expr::Expr,
) -> QueryResult<Vector> {
    eval_on_entries(reader, 0..cardinality, true, expr)
}

/// Evaluate an expression over dictionary entries `ids`, and over NULL as one extra last
/// row when `null_row`.
fn eval_on_entries(
    reader: &dyn ColumnReader,
    ids: Range<u32>,
    null_row: bool,
    expr: &crate::expr::Expr,
) -> QueryResult<Vector> {
    let mut input = DictionaryColumns {
        name: &reader.metadata().name,
        vector: Rc::new(dictionary_vector(reader, ids, null_row)),
    };
    crate::eval::eval(expr, &mut input)
}

/// Entries `ids` of a dictionary as one vector, and one extra last row, NULL, when
/// `null_row`. Integer and timestamp entries decode in bulk; a dictionary of a million
/// entries is evaluated in about the time of a block scan of as many rows.
fn dictionary_vector(reader: &dyn ColumnReader, ids: Range<u32>, null_row: bool) -> Vector {
    let ty = SqlType::of(reader.metadata().data_type);
    let entries = ids.len();
    let mut nulls = vec![false; entries + usize::from(null_row)];
    if null_row {
        nulls[entries] = true;
    }
    match ty {
        SqlType::Int | SqlType::Long | SqlType::Timestamp => {
            let mut values = Vec::with_capacity(nulls.len());
            reader.dictionary_i64_range(ids, &mut values);
            values.extend(null_row.then_some(0));
            Vector::new(ty, Data::Long(values), Some(nulls))
        }
        SqlType::Float | SqlType::Double => {
            let mut values: Vec<f64> = ids
                .map(|id| {
                    Scalar::from_value(reader.dictionary_value(id))
                        .as_f64()
                        .unwrap_or(0.0)
                })
                .collect();
            values.extend(null_row.then_some(0.0));
            Vector::new(ty, Data::Double(values), Some(nulls))
        }
        _ => {
            let mut values: Vec<Scalar> = ids
                .map(|id| Scalar::from_value(reader.dictionary_value(id)))
                .collect();
            values.extend(null_row.then_some(Scalar::Null));
            Vector::from_scalars(ty, false, &values)
        }
    }
}

/// Entries a filter evaluates at once, between two checks of the query's deadline and
/// cancellation: as many as the rows of a scan's block.
const DICTIONARY_EVAL_CHUNK: u32 = crate::docset::BLOCK as u32;

/// Whether a predicate holds on each dictionary entry (then one last value: whether it
/// holds on NULL), evaluated a chunk of entries at a time so that a cancelled or late
/// query stops within one chunk.
pub fn truth_on_dictionary(
    context: &SegmentContext<'_>,
    reader: &dyn ColumnReader,
    cardinality: u32,
    expr: &crate::expr::Expr,
) -> QueryResult<Vec<bool>> {
    let mut truth = Vec::with_capacity(cardinality as usize + 1);
    let mut start = 0u32;
    loop {
        context.check_deadline()?;
        let end = cardinality.min(start.saturating_add(DICTIONARY_EVAL_CHUNK));
        let last = end == cardinality;
        truth.extend(eval_on_entries(reader, start..end, last, expr)?.true_rows());
        if last {
            return Ok(truth);
        }
        start = end;
    }
}

struct DictionaryColumns<'n> {
    name: &'n str,
    vector: Rc<Vector>,
}

impl Columns for DictionaryColumns<'_> {
    fn len(&self) -> usize {
        self.vector.len()
    }

    fn column(&mut self, name: &str) -> QueryResult<Vector> {
        self.column_shared(name).map(|v| (*v).clone())
    }

    fn column_shared(&mut self, name: &str) -> QueryResult<Rc<Vector>> {
        if name == self.name {
            // Shared, not copied: a dictionary of a million entries is 8 MB.
            Ok(self.vector.clone())
        } else {
            Err(QueryError::execution(format!(
                "column `{name}` read while evaluating over `{}`",
                self.name
            )))
        }
    }

    fn slot(&mut self, index: usize) -> QueryResult<Vector> {
        Err(QueryError::execution(format!(
            "slot {index} read over a dictionary"
        )))
    }

    fn text_match(&mut self, column: &str, _query: &str) -> QueryResult<Vec<bool>> {
        Err(QueryError::execution(format!(
            "TEXT_MATCH on `{column}` over a dictionary"
        )))
    }
}
