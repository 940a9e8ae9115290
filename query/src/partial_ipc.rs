//! The wire format of [`Partial`] results between servers and brokers: one Arrow IPC
//! stream holding one record batch, versioned in the schema metadata.
//!
//! Metadata: `tessera.partial.version` = `2`, `tessera.partial.kind` = `aggregation` |
//! `selection`, `tessera.stats` = the [`ExecStats`] as JSON. Columns, one row per group
//! (aggregation) or per selected row (selection):
//!
//! - aggregation: `key{i}` per GROUP BY key, typed by the key's type; then per aggregate
//!   `agg{j}.*` state columns — COUNT `count` (Int64); SUM of integers `sum` (16-byte
//!   little-endian i128) + `count`; SUM/AVG of doubles `sum` (Float64) + `count`;
//!   MIN/MAX `value` (the argument's type, NULL = no value yet); MINMAXRANGE `min`,
//!   `max` (Float64); exact distinct `values` (List of the argument's type), or for
//!   integer arguments `bitmaps` (Binary, of the values with the sign bit flipped: tag
//!   byte 1 and the ascending words, 8 little-endian bytes each, for small sets; tag
//!   byte 2 and a portable 64-bit roaring treemap for large ones); HLL
//!   `registers` (Binary, 4,096 bytes); PERCENTILE `values` (List<Float64>);
//!   PERCENTILETDIGEST `means`, `weights` (List<Float64>).
//! - selection: `sort{i}` per ORDER BY key, then `value{i}` per output column
//!   (multi-value cells as Lists).
//!
//! Decoding needs the plan the partial was computed for (the broker has it): the plan
//! gives the kinds and types; the stream is checked against it.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, FixedSizeBinaryBuilder, Float64Builder, Int64Builder,
    StringBuilder,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, Float64Array, Int64Array,
    ListArray, RecordBatch, StringArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Schema};
use tessera_segment::hll::HyperLogLog;

use crate::aggregate::AccState;
use crate::distinct_set::DistinctSet;
use crate::error::{QueryError, QueryResult};
use crate::group_keys::GroupKeys;
use crate::leaf::{AggPartial, ExecStats, Partial, PartialRows, SelectedRow};
use crate::plan::{PlanKind, QueryPlan};
use crate::tdigest::TDigest;
use crate::types::{Scalar, SqlType};
use crate::value_lists::ValueLists;

pub const VERSION: &str = "2";
const VERSION_KEY: &str = "tessera.partial.version";
const KIND_KEY: &str = "tessera.partial.kind";
const STATS_KEY: &str = "tessera.stats";
/// "true" when an aggregation partial's groups are in ascending key order (optional:
/// absent reads as unsorted, so version 1 readers and writers without it still agree).
const SORTED_KEY: &str = "tessera.partial.sorted";

fn bad(message: impl std::fmt::Display) -> QueryError {
    QueryError::execution(format!("bad partial result: {message}"))
}

/// Arrow type of a scalar column of `ty`.
fn arrow_type(ty: SqlType) -> DataType {
    match ty {
        SqlType::Boolean => DataType::Boolean,
        SqlType::Int | SqlType::Long | SqlType::Timestamp => DataType::Int64,
        SqlType::Float | SqlType::Double => DataType::Float64,
        SqlType::String | SqlType::Json => DataType::Utf8,
        SqlType::Bytes => DataType::Binary,
        SqlType::Null => DataType::Null,
    }
}

/// Scalars of one type as an Arrow array (NULL cells allowed).
fn scalars_to_array(ty: SqlType, values: &[Scalar]) -> ArrayRef {
    match arrow_type(ty) {
        DataType::Boolean => {
            let mut b = BooleanBuilder::with_capacity(values.len());
            values.iter().for_each(|v| match v {
                Scalar::Bool(x) => b.append_value(*x),
                _ => b.append_null(),
            });
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::with_capacity(values.len());
            values.iter().for_each(|v| b.append_option(v.as_i64()));
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(values.len());
            values.iter().for_each(|v| b.append_option(v.as_f64()));
            Arc::new(b.finish())
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            values.iter().for_each(|v| b.append_option(v.as_str()));
            Arc::new(b.finish())
        }
        DataType::Binary => {
            let mut b = BinaryBuilder::new();
            values.iter().for_each(|v| match v {
                Scalar::Bytes(x) => b.append_value(x),
                _ => b.append_null(),
            });
            Arc::new(b.finish())
        }
        _ => Arc::new(arrow_array::NullArray::new(values.len())),
    }
}

fn array_to_scalars(array: &dyn Array) -> QueryResult<Vec<Scalar>> {
    let n = array.len();
    let any = array.as_any();
    let out = if let Some(a) = any.downcast_ref::<Int64Array>() {
        (0..n)
            .map(|i| {
                if a.is_null(i) {
                    Scalar::Null
                } else {
                    Scalar::Long(a.value(i))
                }
            })
            .collect()
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        (0..n)
            .map(|i| {
                if a.is_null(i) {
                    Scalar::Null
                } else {
                    Scalar::Double(a.value(i))
                }
            })
            .collect()
    } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
        (0..n)
            .map(|i| {
                if a.is_null(i) {
                    Scalar::Null
                } else {
                    Scalar::Bool(a.value(i))
                }
            })
            .collect()
    } else if let Some(a) = any.downcast_ref::<StringArray>() {
        (0..n)
            .map(|i| {
                if a.is_null(i) {
                    Scalar::Null
                } else {
                    Scalar::Str(a.value(i).to_string())
                }
            })
            .collect()
    } else if let Some(a) = any.downcast_ref::<BinaryArray>() {
        (0..n)
            .map(|i| {
                if a.is_null(i) {
                    Scalar::Null
                } else {
                    Scalar::Bytes(a.value(i).to_vec())
                }
            })
            .collect()
    } else if let Some(a) = any.downcast_ref::<ListArray>() {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if a.is_null(i) {
                out.push(Scalar::Null);
            } else {
                out.push(Scalar::Array(array_to_scalars(a.value(i).as_ref())?));
            }
        }
        out
    } else if array.data_type() == &DataType::Null {
        vec![Scalar::Null; n]
    } else {
        return Err(bad(format!("unexpected column type {}", array.data_type())));
    };
    Ok(out)
}

/// Lists of scalars (`None` = NULL list) as a ListArray of `ty`.
fn list_array(ty: SqlType, lists: &[Option<Vec<Scalar>>]) -> QueryResult<ArrayRef> {
    let flat: Vec<Scalar> = lists.iter().flatten().flatten().cloned().collect();
    let values = scalars_to_array(ty, &flat);
    let lengths = lists.iter().map(|l| l.as_ref().map_or(0, Vec::len));
    let offsets = OffsetBuffer::from_lengths(lengths);
    let nulls = lists.iter().any(Option::is_none).then(|| {
        arrow_buffer::NullBuffer::from(lists.iter().map(Option::is_some).collect::<Vec<_>>())
    });
    let field = Arc::new(Field::new("item", arrow_type(ty), true));
    ListArray::try_new(field, offsets, values, nulls)
        .map(|a| Arc::new(a) as ArrayRef)
        .map_err(bad)
}

fn list_scalars(array: &dyn Array) -> QueryResult<Vec<Vec<Scalar>>> {
    array_to_scalars(array)?
        .into_iter()
        .map(|cell| match cell {
            Scalar::Array(items) => Ok(items),
            Scalar::Null => Ok(Vec::new()),
            _ => Err(bad("expected a list column")),
        })
        .collect()
}

fn f64_lists(array: &dyn Array) -> QueryResult<Vec<Vec<f64>>> {
    Ok(list_scalars(array)?
        .into_iter()
        .map(|items| {
            items
                .iter()
                .map(|s| s.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect())
}

struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Columns {
    fn push(&mut self, name: String, array: ArrayRef) {
        self.fields
            .push(Field::new(name, array.data_type().clone(), true));
        self.arrays.push(array);
    }
}

fn i64_array(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(values.collect::<Int64Array>())
}

fn f64_array(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(values.collect::<Float64Array>())
}

/// Encode a partial result of `plan` as an Arrow IPC stream.
pub fn encode(plan: &QueryPlan, partial: &Partial) -> QueryResult<Vec<u8>> {
    let batch = to_record_batch(plan, partial)?;
    let mut out = Vec::new();
    let mut writer =
        arrow_ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).map_err(bad)?;
    writer.write(&batch).map_err(bad)?;
    writer.finish().map_err(bad)?;
    drop(writer);
    Ok(out)
}

/// A partial result of `plan` as one record batch whose schema carries the format's
/// metadata (what [`encode`] writes, for transports that ship batches themselves, such
/// as Arrow Flight).
pub fn to_record_batch(plan: &QueryPlan, partial: &Partial) -> QueryResult<RecordBatch> {
    let mut columns = Columns {
        fields: Vec::new(),
        arrays: Vec::new(),
    };
    let kind = match (&plan.kind, &partial.rows) {
        (PlanKind::Aggregation(aggregation), PartialRows::Aggregation(part)) => {
            for (i, key) in aggregation.keys.iter().enumerate() {
                let values = part.keys.column(i);
                columns.push(format!("key{i}"), scalars_to_array(key.ty(), &values));
            }
            for (j, (state, call)) in part.states.iter().zip(&aggregation.aggs).enumerate() {
                let arg_ty = call.arg.as_ref().map_or(SqlType::Long, |a| a.ty());
                encode_state(&mut columns, j, state, arg_ty)?;
            }
            "aggregation"
        }
        (PlanKind::Selection(selection), PartialRows::Selection(rows)) => {
            for (i, key) in selection.order_by.iter().enumerate() {
                let values: Vec<Scalar> = rows.iter().map(|r| r.sort[i].clone()).collect();
                columns.push(format!("sort{i}"), scalars_to_array(key.expr.ty(), &values));
            }
            for (i, expr) in selection.exprs.iter().enumerate() {
                let values: Vec<Scalar> = rows.iter().map(|r| r.values[i].clone()).collect();
                let array = if expr.multi_value() {
                    let lists: Vec<Option<Vec<Scalar>>> = values
                        .into_iter()
                        .map(|v| match v {
                            Scalar::Array(items) => Some(items),
                            _ => None,
                        })
                        .collect();
                    list_array(expr.ty(), &lists)?
                } else {
                    scalars_to_array(expr.ty(), &values)
                };
                columns.push(format!("value{i}"), array);
            }
            "selection"
        }
        _ => return Err(bad("partial result does not match the plan")),
    };
    let stats = &partial.stats;
    let stats_json = serde_json::json!([
        stats.num_segments_queried,
        stats.num_segments_processed,
        stats.num_segments_matched,
        stats.num_docs_scanned,
        stats.num_entries_scanned_in_filter,
        stats.num_entries_scanned_post_filter,
        stats.total_docs,
        stats.num_deep_store_requests,
        stats.num_bytes_read_from_deep_store,
        stats.num_bytes_read_from_cache,
    ]);
    let mut metadata = HashMap::from([
        (VERSION_KEY.to_string(), VERSION.to_string()),
        (KIND_KEY.to_string(), kind.to_string()),
        (STATS_KEY.to_string(), stats_json.to_string()),
    ]);
    if let PartialRows::Aggregation(part) = &partial.rows {
        metadata.insert(SORTED_KEY.to_string(), part.sorted.to_string());
    }
    let schema = Arc::new(Schema::new_with_metadata(columns.fields, metadata));
    let rows = match &partial.rows {
        PartialRows::Aggregation(part) => part.keys.len(),
        PartialRows::Selection(rows) => rows.len(),
    };
    RecordBatch::try_new_with_options(
        schema,
        columns.arrays,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(bad)
}

fn encode_state(
    columns: &mut Columns,
    j: usize,
    state: &AccState,
    arg_ty: SqlType,
) -> QueryResult<()> {
    let name = |suffix: &str| format!("agg{j}.{suffix}");
    match state {
        AccState::Count(counts) => {
            columns.push(name("count"), i64_array(counts.iter().map(|c| Some(*c))))
        }
        AccState::SumLong { sums, counts } => {
            let mut b = FixedSizeBinaryBuilder::with_capacity(sums.len(), 16);
            for sum in sums {
                b.append_value(sum.to_le_bytes()).map_err(bad)?;
            }
            columns.push(name("sum"), Arc::new(b.finish()));
            columns.push(name("count"), i64_array(counts.iter().map(|c| Some(*c))));
        }
        AccState::SumDouble { sums, counts } | AccState::Avg { sums, counts } => {
            columns.push(name("sum"), f64_array(sums.iter().map(|s| Some(*s))));
            columns.push(name("count"), i64_array(counts.iter().map(|c| Some(*c))));
        }
        AccState::MinMaxLong { values, seen, .. } => columns.push(
            name("value"),
            i64_array(values.iter().zip(seen).map(|(v, s)| s.then_some(*v))),
        ),
        AccState::MinMaxDouble { values, seen, .. } => columns.push(
            name("value"),
            f64_array(values.iter().zip(seen).map(|(v, s)| s.then_some(*v))),
        ),
        AccState::MinMaxScalar { values, .. } => {
            columns.push(name("value"), scalars_to_array(arg_ty, values))
        }
        AccState::Range { mins, maxs, seen } => {
            columns.push(
                name("min"),
                f64_array(mins.iter().zip(seen).map(|(v, s)| s.then_some(*v))),
            );
            columns.push(
                name("max"),
                f64_array(maxs.iter().zip(seen).map(|(v, s)| s.then_some(*v))),
            );
        }
        AccState::Distinct(sets) => {
            let lists: Vec<Option<Vec<Scalar>>> = sets
                .iter()
                .map(|set| Some(set.iter().cloned().collect()))
                .collect();
            columns.push(name("values"), list_array(arg_ty, &lists)?);
        }
        AccState::DistinctInt(sets) => {
            let mut b = BinaryBuilder::new();
            let mut bytes = Vec::new();
            for set in sets {
                bytes.clear();
                set.serialize_into(&mut bytes).map_err(bad)?;
                b.append_value(&bytes);
            }
            columns.push(name("bitmaps"), Arc::new(b.finish()));
        }
        AccState::Hll(sketches) => {
            let mut b = BinaryBuilder::new();
            for sketch in sketches {
                b.append_value(sketch.registers());
            }
            columns.push(name("registers"), Arc::new(b.finish()));
        }
        AccState::Percentile { values, .. } => {
            let lists: Vec<Option<Vec<Scalar>>> = values
                .to_lists()
                .iter()
                .map(|v| Some(v.iter().map(|x| Scalar::Double(*x)).collect()))
                .collect();
            columns.push(name("values"), list_array(SqlType::Double, &lists)?);
        }
        AccState::TDigest { digests, .. } => {
            let mut means = Vec::new();
            let mut weights = Vec::new();
            for digest in digests {
                let mut digest = digest.clone();
                let centroids = digest.centroids();
                means.push(Some(
                    centroids.iter().map(|c| Scalar::Double(c.0)).collect(),
                ));
                weights.push(Some(
                    centroids.iter().map(|c| Scalar::Double(c.1)).collect(),
                ));
            }
            columns.push(name("means"), list_array(SqlType::Double, &means)?);
            columns.push(name("weights"), list_array(SqlType::Double, &weights)?);
        }
    }
    Ok(())
}

/// Decode a partial result of `plan` from an Arrow IPC stream.
pub fn decode(plan: &QueryPlan, bytes: &[u8]) -> QueryResult<Partial> {
    let reader = arrow_ipc::reader::StreamReader::try_new(bytes, None).map_err(bad)?;
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(bad)?;
    let [batch] = batches.as_slice() else {
        return Err(bad(format!(
            "expected one record batch, got {}",
            batches.len()
        )));
    };
    from_record_batch(plan, batch)
}

/// Decode a partial result of `plan` from the one record batch [`to_record_batch`] made
/// (its schema's metadata included).
pub fn from_record_batch(plan: &QueryPlan, batch: &RecordBatch) -> QueryResult<Partial> {
    let schema = batch.schema();
    let metadata = schema.metadata();
    match metadata.get(VERSION_KEY).map(String::as_str) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(bad(format!(
                "version {other} is not supported (this build reads version {VERSION})"
            )));
        }
        None => return Err(bad("no version")),
    }
    let stats: Vec<u64> = metadata
        .get(STATS_KEY)
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| bad("no stats"))?;
    // Seven counters, or ten with the cold-segment ones (older servers send seven).
    let (q, p, m, d, f, pf, t, cold) = match stats.as_slice() {
        [q, p, m, d, f, pf, t] => (q, p, m, d, f, pf, t, [0, 0, 0]),
        [q, p, m, d, f, pf, t, r, b, c] => (q, p, m, d, f, pf, t, [*r, *b, *c]),
        _ => return Err(bad("stats have the wrong length")),
    };
    let stats = ExecStats {
        num_segments_queried: *q,
        num_segments_processed: *p,
        num_segments_matched: *m,
        num_docs_scanned: *d,
        num_entries_scanned_in_filter: *f,
        num_entries_scanned_post_filter: *pf,
        total_docs: *t,
        num_deep_store_requests: cold[0],
        num_bytes_read_from_deep_store: cold[1],
        num_bytes_read_from_cache: cold[2],
    };
    let column = |name: String| -> QueryResult<&ArrayRef> {
        batch
            .column_by_name(&name)
            .ok_or_else(|| bad(format!("missing column `{name}`")))
    };
    let rows = batch.num_rows();
    let kind = metadata.get(KIND_KEY).map(String::as_str);
    let partial_rows = match (&plan.kind, kind) {
        (PlanKind::Aggregation(aggregation), Some("aggregation")) => {
            let mut key_rows = vec![Vec::with_capacity(aggregation.keys.len()); rows];
            for i in 0..aggregation.keys.len() {
                for (row, value) in array_to_scalars(column(format!("key{i}"))?.as_ref())?
                    .into_iter()
                    .enumerate()
                {
                    key_rows[row].push(value);
                }
            }
            let mut keys = GroupKeys::for_types(&aggregation.key_types());
            keys.reserve(rows);
            for key in key_rows {
                keys.push(key);
            }
            let mut states = Vec::new();
            for (j, call) in aggregation.aggs.iter().enumerate() {
                let mut state = AccState::new(call);
                decode_state(&mut state, j, rows, &column)?;
                states.push(state);
            }
            // A sorted partial merges by walking its keys, so the claim is checked
            // rather than trusted: keys out of order are merged by hashing.
            let sorted =
                metadata.get(SORTED_KEY).map(String::as_str) == Some("true") && keys.ascending();
            PartialRows::Aggregation(AggPartial {
                keys,
                states,
                sorted,
            })
        }
        (PlanKind::Selection(selection), Some("selection")) => {
            let mut out = vec![
                SelectedRow {
                    sort: Vec::new(),
                    values: Vec::new()
                };
                rows
            ];
            for i in 0..selection.order_by.len() {
                for (row, value) in array_to_scalars(column(format!("sort{i}"))?.as_ref())?
                    .into_iter()
                    .enumerate()
                {
                    out[row].sort.push(value);
                }
            }
            for i in 0..selection.exprs.len() {
                for (row, value) in array_to_scalars(column(format!("value{i}"))?.as_ref())?
                    .into_iter()
                    .enumerate()
                {
                    out[row].values.push(value);
                }
            }
            PartialRows::Selection(out)
        }
        (_, kind) => return Err(bad(format!("kind {kind:?} does not match the plan"))),
    };
    Ok(Partial {
        rows: partial_rows,
        stats,
        // Charged on the node that built it, not here.
        held_bytes: 0,
    })
}

fn decode_state<'b>(
    state: &mut AccState,
    j: usize,
    rows: usize,
    column: &dyn Fn(String) -> QueryResult<&'b ArrayRef>,
) -> QueryResult<()> {
    let get = |suffix: &str| column(format!("agg{j}.{suffix}"));
    let i64s = |suffix: &str| -> QueryResult<Vec<Option<i64>>> {
        let array = get(suffix)?;
        let a = array
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| bad(format!("agg{j}.{suffix} is not Int64")))?;
        Ok((0..a.len())
            .map(|i| (!a.is_null(i)).then(|| a.value(i)))
            .collect())
    };
    let f64s = |suffix: &str| -> QueryResult<Vec<Option<f64>>> {
        let array = get(suffix)?;
        let a = array
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| bad(format!("agg{j}.{suffix} is not Float64")))?;
        Ok((0..a.len())
            .map(|i| (!a.is_null(i)).then(|| a.value(i)))
            .collect())
    };
    state.resize(rows);
    match state {
        AccState::Count(counts) => {
            *counts = i64s("count")?.into_iter().map(|c| c.unwrap_or(0)).collect();
        }
        AccState::SumLong { sums, counts } => {
            let array = get("sum")?;
            let a = array
                .as_any()
                .downcast_ref::<FixedSizeBinaryArray>()
                .ok_or_else(|| bad("SUM state is not FixedSizeBinary(16)"))?;
            *sums = (0..a.len())
                .map(|i| {
                    <[u8; 16]>::try_from(a.value(i))
                        .map(i128::from_le_bytes)
                        .map_err(|_| bad("SUM state is not 16 bytes"))
                })
                .collect::<QueryResult<_>>()?;
            *counts = i64s("count")?.into_iter().map(|c| c.unwrap_or(0)).collect();
        }
        AccState::SumDouble { sums, counts } | AccState::Avg { sums, counts } => {
            *sums = f64s("sum")?.into_iter().map(|s| s.unwrap_or(0.0)).collect();
            *counts = i64s("count")?.into_iter().map(|c| c.unwrap_or(0)).collect();
        }
        AccState::MinMaxLong { values, seen, .. } => {
            let decoded = i64s("value")?;
            *seen = decoded.iter().map(Option::is_some).collect();
            *values = decoded.into_iter().map(|v| v.unwrap_or(0)).collect();
        }
        AccState::MinMaxDouble { values, seen, .. } => {
            let decoded = f64s("value")?;
            *seen = decoded.iter().map(Option::is_some).collect();
            *values = decoded.into_iter().map(|v| v.unwrap_or(0.0)).collect();
        }
        AccState::MinMaxScalar { values, .. } => {
            *values = array_to_scalars(get("value")?.as_ref())?;
        }
        AccState::Range { mins, maxs, seen } => {
            let (lo, hi) = (f64s("min")?, f64s("max")?);
            *seen = lo.iter().map(Option::is_some).collect();
            *mins = lo.into_iter().map(|v| v.unwrap_or(0.0)).collect();
            *maxs = hi.into_iter().map(|v| v.unwrap_or(0.0)).collect();
        }
        AccState::Distinct(sets) => {
            *sets = list_scalars(get("values")?.as_ref())?
                .into_iter()
                .map(|items| items.into_iter().collect())
                .collect();
        }
        AccState::DistinctInt(sets) => {
            let array = get("bitmaps")?;
            let a = array
                .as_any()
                .downcast_ref::<BinaryArray>()
                .ok_or_else(|| bad("distinct bitmap state is not Binary"))?;
            *sets = (0..a.len())
                .map(|i| DistinctSet::deserialize(a.value(i)).map_err(bad))
                .collect::<QueryResult<_>>()?;
        }
        AccState::Hll(sketches) => {
            let array = get("registers")?;
            let a = array
                .as_any()
                .downcast_ref::<BinaryArray>()
                .ok_or_else(|| bad("HLL state is not Binary"))?;
            *sketches = (0..a.len())
                .map(|i| {
                    HyperLogLog::from_registers(a.value(i).to_vec())
                        .ok_or_else(|| bad("HLL state has the wrong size"))
                })
                .collect::<QueryResult<_>>()?;
        }
        AccState::Percentile { values, .. } => {
            *values = ValueLists::from_lists(f64_lists(get("values")?.as_ref())?);
        }
        AccState::TDigest { digests, .. } => {
            let means = f64_lists(get("means")?.as_ref())?;
            let weights = f64_lists(get("weights")?.as_ref())?;
            *digests = means
                .into_iter()
                .zip(weights)
                .map(|(m, w)| TDigest::from_centroids(m.into_iter().zip(w).collect()))
                .collect();
        }
    }
    if state.groups() != rows {
        return Err(bad(format!(
            "agg{j} has {} groups, expected {rows}",
            state.groups()
        )));
    }
    Ok(())
}
