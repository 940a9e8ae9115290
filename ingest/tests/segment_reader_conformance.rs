//! One conformance suite for every `SegmentReader`: a sealed segment (built by
//! `SegmentBuilder`, read from its file) and consuming segments (in memory, appended
//! in one batch and in small chunks) answer each `SegmentReader` and `ColumnReader`
//! call for the same rows alike — checked against the rows themselves: values, nulls,
//! dictionaries and their lookups, id ranges, inverted bitmaps, numeric reads,
//! multi-value ids, text search, range lookups, and the error for an unknown column.

#[path = "../../query/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

use tessera_config::{Schema, TableConfig};
use tessera_ingest::consuming::{MutableSegment, SegmentIdentity};
use tessera_segment::{ColumnReader, IdSet, SegmentReader, Value};
use tessera_status::Status;

const COLUMNS: [&str; 12] = [
    "id", "s", "c", "i", "b", "m", "x", "flag", "n", "r", "f", "ts",
];

/// The first 1,500 rows of the common table: its first sealed segment's.
fn rows() -> &'static [Vec<Value>] {
    &common::table().1[..1500]
}

fn sealed() -> Arc<dyn SegmentReader> {
    common::table().0.segments[0].clone()
}

/// A consuming segment of the same rows, appended `chunk` rows at a time.
fn consuming(chunk: usize) -> Arc<dyn SegmentReader> {
    let schema = Schema::from_json(common::SCHEMA).expect("schema").value;
    let table = TableConfig::from_json(common::TABLE, &schema)
        .expect("table")
        .value;
    let identity = SegmentIdentity {
        name: format!("t__0__{chunk}"),
        table: "t".into(),
        partition: 0,
        start_offset: 0,
        created_ms: 0,
    };
    let segment = Arc::new(MutableSegment::new(identity, &schema, &table));
    for (index, part) in rows().chunks(chunk).enumerate() {
        segment
            .append_rows(part, (index * chunk + part.len()) as u64)
            .expect("append");
    }
    segment.snapshot()
}

fn readers() -> Vec<(&'static str, Arc<dyn SegmentReader>)> {
    vec![
        ("sealed", sealed()),
        ("consuming, one batch", consuming(rows().len())),
        ("consuming, 97-row appends", consuming(97)),
    ]
}

/// Column `name`'s value of each doc of `reader`, from the rows (a sealed segment
/// orders its docs by its sorted column: doc → row through `id`, the row's index).
fn expected(reader: &dyn SegmentReader, name: &str) -> Vec<Value> {
    let index = COLUMNS
        .iter()
        .position(|c| *c == name)
        .expect("a column of the common table");
    let mut ids = Vec::new();
    reader
        .column("id")
        .expect("column id")
        .read_i64(&all_docs(), &mut ids)
        .expect("ids");
    ids.iter()
        .map(|id| rows()[*id as usize][index].clone())
        .collect()
}

/// A numeric read with its NULL docs blanked (they read as any value).
fn non_null<T: Copy>(read: &[T], want: &[Value]) -> Vec<Option<T>> {
    read.iter()
        .zip(want)
        .map(|(v, w)| (!w.is_null()).then_some(*v))
        .collect()
}

/// The first doc where two readings differ, for a short failure message.
fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(doc) = (0..got.len()).find(|i| got[*i] != want[*i]) {
        panic!(
            "{what}: doc {doc} reads {:?}, the row holds {:?}",
            got[doc], want[doc]
        );
    }
}

fn all_docs() -> Vec<u32> {
    (0..rows().len() as u32).collect()
}

fn docs_where(values: &[Value], keep: impl Fn(&Value) -> bool) -> BTreeSet<u32> {
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| keep(v))
        .map(|(doc, _)| doc as u32)
        .collect()
}

fn set(bitmap: &roaring::RoaringBitmap) -> BTreeSet<u32> {
    bitmap.iter().collect()
}

/// An integer-typed value as `read_i64` reads it.
fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Int(v) => Some(i64::from(*v)),
        Value::Long(v) | Value::Timestamp(v) => Some(*v),
        Value::Boolean(v) => Some(i64::from(*v)),
        _ => None,
    }
}

/// A numeric value as `read_f64` reads it.
fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Int(v) => Some(f64::from(*v)),
        Value::Long(v) => Some(*v as f64),
        Value::Float(v) => Some(f64::from(*v)),
        Value::Double(v) => Some(*v),
        _ => None,
    }
}

/// The order of two values of one column (strings by bytes, numbers by value).
fn order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => match (as_i64(a), as_i64(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => as_f64(a)
                .unwrap_or(f64::NAN)
                .total_cmp(&as_f64(b).unwrap_or(f64::NAN)),
        },
    }
}

/// Whether a (non-NULL) value lies in `[low, high]`.
fn within(value: &Value, low: &Value, high: &Value) -> bool {
    !value.is_null() && order(value, low).is_ge() && order(value, high).is_le()
}

#[test]
fn test_an_unknown_column_is_the_same_error_from_every_reader() {
    for (what, reader) in readers() {
        let error = match reader.column("nope") {
            Ok(_) => panic!("{what}: an unknown column was found"),
            Err(error) => error,
        };
        assert_eq!(error.status(), Status::NotFound, "{what}: {error}");
        assert!(
            matches!(&error, tessera_segment::Error::NoSuchColumn(name) if name == "nope"),
            "{what}: {error:?}"
        );
    }
}

#[test]
fn test_every_reader_reads_back_the_rows() {
    let docs = all_docs();
    for (what, reader) in readers() {
        assert_eq!(reader.num_docs(), rows().len() as u32, "{what}");
        for name in COLUMNS {
            let column = reader.column(name).expect("a known column");
            let want = expected(reader.as_ref(), name);
            let mut values = Vec::new();
            column.read_values(&docs, &mut values).expect("read_values");
            assert_same(&values, &want, &format!("{what}: read_values of {name}"));
            // The null bitmap, when there is one, holds exactly the NULL docs.
            if let Some(nulls) = column.null_bitmap().expect("null_bitmap") {
                assert_eq!(
                    set(&nulls),
                    docs_where(&want, Value::is_null),
                    "{what}: nulls of {name}"
                );
            } else {
                assert!(
                    want.iter().all(|v| !v.is_null()),
                    "{what}: {name} has NULLs"
                );
            }
            // Numeric single-value reads (a NULL doc reads as any value: the null
            // bitmap says which docs are NULL).
            let single = column.metadata().single_value;
            if single && want.iter().any(|v| as_i64(v).is_some()) {
                let mut longs = Vec::new();
                column.read_i64(&docs, &mut longs).expect("read_i64");
                let wanted: Vec<Option<i64>> = want.iter().map(as_i64).collect();
                assert_same(
                    &non_null(&longs, &want),
                    &wanted,
                    &format!("{what}: read_i64 of {name}"),
                );
            }
            if single && want.iter().any(|v| as_f64(v).is_some()) {
                let mut doubles = Vec::new();
                column.read_f64(&docs, &mut doubles).expect("read_f64");
                let wanted: Vec<Option<f64>> = want.iter().map(as_f64).collect();
                assert_same(
                    &non_null(&doubles, &want),
                    &wanted,
                    &format!("{what}: read_f64 of {name}"),
                );
            }
            check_dictionary(what, name, column, &want);
        }
    }
}

/// Dictionary columns: ids read back to the values, lookups find them, ranges select
/// them, inverted bitmaps hold their docs.
fn check_dictionary(what: &str, name: &str, column: &dyn ColumnReader, want: &[Value]) {
    let Some(cardinality) = column.cardinality() else {
        return;
    };
    let single = column.metadata().single_value;
    let docs = all_docs();
    let mut distinct: Vec<Value> = Vec::new();
    for value in want {
        let items = match value {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        for item in items {
            if !distinct.contains(&item) {
                distinct.push(item);
            }
        }
    }
    if single {
        let mut ids = Vec::new();
        column
            .read_dict_ids(&docs, &mut ids)
            .expect("read_dict_ids");
        for (doc, id) in ids.iter().enumerate() {
            if !want[doc].is_null() {
                assert_eq!(
                    column.dictionary_value(*id),
                    want[doc],
                    "{what}: {name} doc {doc}"
                );
            }
        }
    } else {
        let mut ids = Vec::new();
        for (doc, value) in want.iter().enumerate() {
            ids.clear();
            column
                .read_mv_dict_ids(doc as u32, &mut ids)
                .expect("read_mv_dict_ids");
            let values: Vec<Value> = ids.iter().map(|id| column.dictionary_value(*id)).collect();
            let wanted = match value {
                Value::Array(items) => items.clone(),
                _ => Vec::new(),
            };
            assert_eq!(values, wanted, "{what}: {name} doc {doc}");
        }
    }
    assert!(
        cardinality as usize >= distinct.len(),
        "{what}: cardinality of {name}"
    );
    for value in &distinct {
        let id = column
            .lookup(value)
            .unwrap_or_else(|| panic!("{what}: lookup of {value:?} in {name}"));
        assert_eq!(&column.dictionary_value(id), value, "{what}: {name}");
        if let Some(bitmap) = column.inverted_bitmap(id).expect("inverted_bitmap") {
            let holding = docs_where(want, |v| match v {
                Value::Array(items) => items.contains(value),
                other => other == value,
            });
            assert_eq!(
                set(&bitmap),
                holding,
                "{what}: inverted bitmap of {name} = {value:?}"
            );
        }
    }
    let absent = match distinct.first() {
        Some(Value::String(_)) => Value::String("no such value \u{1}".into()),
        Some(Value::Boolean(_)) | None => return,
        Some(_) => Value::Long(1 << 50),
    };
    assert_eq!(
        column.lookup(&absent),
        None,
        "{what}: lookup of an absent value in {name}"
    );
    // A range over the middle of the sorted values selects exactly those ids.
    let mut sorted = distinct.clone();
    sorted.sort_by(order);
    if sorted.len() >= 3 {
        let (low, high) = (&sorted[sorted.len() / 4], &sorted[sorted.len() * 3 / 4]);
        let ids: BTreeSet<u32> =
            match column.ids_in_range(Bound::Included(low), Bound::Included(high)) {
                IdSet::Range(range) => range.collect(),
                IdSet::Ids(ids) => ids.into_iter().collect(),
            };
        let wanted: BTreeSet<u32> = distinct
            .iter()
            .filter(|v| within(v, low, high))
            .map(|v| column.lookup(v).expect("a present value"))
            .collect();
        assert_eq!(ids, wanted, "{what}: ids of {name} in [{low:?}, {high:?}]");
    }
}

#[test]
fn test_range_and_text_lookups_agree_with_the_rows() {
    for (what, reader) in readers() {
        // Range lookups: whatever a reader's range index answers contains every match.
        for (name, low, high) in [
            ("n", Value::Long(-5), Value::Long(10)),
            ("r", Value::Double(-10.0), Value::Double(20.5)),
        ] {
            let column = reader.column(name).expect("column");
            let want = expected(reader.as_ref(), name);
            let matching = docs_where(&want, |v| within(v, &low, &high));
            if let Some(found) = column
                .range_lookup(Bound::Included(&low), Bound::Included(&high))
                .expect("range_lookup")
            {
                let sure = set(&found.matching);
                let maybe: BTreeSet<u32> = sure.union(&set(&found.candidates)).copied().collect();
                assert!(sure.is_subset(&matching), "{what}: {name} matching");
                assert!(matching.is_subset(&maybe), "{what}: {name} candidates");
            }
        }
        // Text: an exact `contains` answer equals the rows that contain the word.
        let column = reader.column("x").expect("column x");
        let want = expected(reader.as_ref(), "x");
        for needle in ["beta", "alpha", "Zeta"] {
            if let Some(found) = column.text_contains(needle).expect("text_contains") {
                let holding = docs_where(
                    &want,
                    |v| matches!(v, Value::String(s) if s.contains(needle)),
                );
                assert_eq!(set(&found), holding, "{what}: x contains {needle}");
            }
            // And an exact `starts_with` answer, the rows that start with it.
            if let Some(found) = column.text_starts_with(needle).expect("text_starts_with") {
                let starting = docs_where(
                    &want,
                    |v| matches!(v, Value::String(s) if s.starts_with(needle)),
                );
                assert_eq!(set(&found), starting, "{what}: x starts with {needle}");
            }
            if let Some(found) = column.text_ends_with(needle).expect("text_ends_with") {
                let ending = docs_where(
                    &want,
                    |v| matches!(v, Value::String(s) if s.ends_with(needle)),
                );
                assert_eq!(set(&found), ending, "{what}: x ends with {needle}");
            }
        }
    }
}
