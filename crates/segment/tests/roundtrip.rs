//! Property tests: random schemas and rows → build → read back every value exactly,
//! and every index agrees with a full scan.

mod common;

use std::ops::Bound;

use proptest::prelude::*;
use roaring::RoaringBitmap;
use tessera_segment::file_source::FileSectionSource;
use tessera_segment::{ColumnReader, IdSet, SegmentReader, Value};

use common::{build, order, same, schema, table};

const TYPES: [&str; 9] = [
    "INT",
    "LONG",
    "FLOAT",
    "DOUBLE",
    "BOOLEAN",
    "TIMESTAMP",
    "STRING",
    "BYTES",
    "JSON",
];
const WORDS: [&str; 8] = [
    "alpha", "beta", "gamma", "special", "requests", "quick", "fox", "zeta",
];

#[derive(Debug, Clone)]
struct ColumnSpec {
    data_type: &'static str,
    single_value: bool,
    raw: bool,
    inverted: bool,
    range: bool,
    bloom: bool,
    text: bool,
}

fn column_spec() -> impl Strategy<Value = ColumnSpec> {
    (0..TYPES.len(), any::<bool>(), any::<[bool; 5]>()).prop_map(|(t, multi, flags)| {
        let data_type = TYPES[t];
        let single_value = !multi || flags[4];
        let raw = single_value && flags[0] && data_type != "BOOLEAN";
        let numeric = matches!(data_type, "INT" | "LONG" | "FLOAT" | "DOUBLE" | "TIMESTAMP");
        let text = single_value && matches!(data_type, "STRING") && flags[3];
        ColumnSpec {
            data_type,
            single_value,
            raw,
            inverted: !raw && flags[1],
            range: single_value && flags[2] && (numeric || (data_type == "STRING" && !raw)),
            bloom: single_value && flags[3],
            text,
        }
    })
}

fn scalar(data_type: &'static str) -> BoxedStrategy<Value> {
    match data_type {
        "INT" => prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -3i32..3]
            .prop_map(Value::Int)
            .boxed(),
        "LONG" => prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), -3i64..3]
            .prop_map(Value::Long)
            .boxed(),
        "FLOAT" => prop_oneof![
            any::<u32>().prop_map(f32::from_bits),
            Just(f32::NAN),
            Just(-0.0f32),
            Just(0.0f32),
            Just(f32::INFINITY),
            -2.0f32..2.0
        ]
        .prop_map(Value::Float)
        .boxed(),
        "DOUBLE" => prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            Just(f64::NAN),
            Just(-0.0),
            Just(f64::NEG_INFINITY),
            Just(f64::MAX),
            -2.0f64..2.0
        ]
        .prop_map(Value::Double)
        .boxed(),
        "BOOLEAN" => any::<bool>().prop_map(Value::Boolean).boxed(),
        "TIMESTAMP" => prop_oneof![any::<i64>(), 1_600_000_000_000i64..1_700_000_000_000]
            .prop_map(Value::Timestamp)
            .boxed(),
        "STRING" => prop_oneof![
            proptest::collection::vec(0..WORDS.len(), 0..6).prop_map(|ids| ids
                .iter()
                .map(|i| WORDS[*i])
                .collect::<Vec<_>>()
                .join(" ")),
            "\\PC{0,12}",
            Just(String::new()),
            (1usize..6000).prop_map(|n| "ü".repeat(n)),
        ]
        .prop_map(Value::String)
        .boxed(),
        "BYTES" => proptest::collection::vec(any::<u8>(), 0..24)
            .prop_map(Value::Bytes)
            .boxed(),
        _ => (any::<i32>(), "[a-z]{0,5}")
            .prop_map(|(n, s)| Value::Json(format!("{{\"n\":{n},\"s\":\"{s}\"}}")))
            .boxed(),
    }
}

fn cell(spec: &ColumnSpec) -> BoxedStrategy<Value> {
    let value = if spec.single_value {
        scalar(spec.data_type)
    } else {
        proptest::collection::vec(scalar(spec.data_type), 0..4)
            .prop_map(Value::Array)
            .boxed()
    };
    prop_oneof![1 => Just(Value::Null), 6 => value].boxed()
}

fn case() -> impl Strategy<Value = (Vec<ColumnSpec>, Option<usize>, Vec<Vec<Value>>)> {
    (
        proptest::collection::vec(column_spec(), 1..6),
        any::<Option<usize>>(),
        0usize..260,
    )
        .prop_flat_map(|(specs, sort, rows)| {
            let sort = sort
                .map(|s| s % specs.len())
                .filter(|s| specs[*s].single_value && !specs[*s].raw);
            let row = specs.iter().map(cell).collect::<Vec<_>>();
            (
                Just(specs),
                Just(sort),
                proptest::collection::vec(row, rows),
            )
        })
}

fn configs(specs: &[ColumnSpec], sort: Option<usize>) -> (String, String) {
    let fields: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                r#"{{"name":"c{i}","dataType":"{}","singleValueField":{}}}"#,
                s.data_type, s.single_value
            )
        })
        .collect();
    let schema = format!(
        r#"{{"schemaName":"t","dimensionFieldSpecs":[{}]}}"#,
        fields.join(",")
    );
    let names = |pick: &dyn Fn(&ColumnSpec) -> bool| -> String {
        specs
            .iter()
            .enumerate()
            .filter(|(_, s)| pick(s))
            .map(|(i, _)| format!("\"c{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let sorted = sort.map_or(String::new(), |s| format!("\"c{s}\""));
    let text: Vec<String> = specs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.text)
        .map(|(i, _)| format!(r#"{{"name":"c{i}","indexTypes":["TEXT"]}}"#))
        .collect();
    let table = format!(
        r#"{{"tableName":"t","tableType":"OFFLINE","segmentsConfig":{{}},"tableIndexConfig":{{"sortedColumn":[{sorted}],"invertedIndexColumns":[{}],"rangeIndexColumns":[{}],"bloomFilterColumns":[{}],"noDictionaryColumns":[{}]}},"fieldConfigList":[{}]}}"#,
        names(&|s| s.inverted),
        names(&|s| s.range),
        names(&|s| s.bloom),
        names(&|s| s.raw),
        text.join(",")
    );
    (schema, table)
}

fn scan(expected: &[Vec<Value>], column: usize, keep: impl Fn(&Value) -> bool) -> RoaringBitmap {
    expected
        .iter()
        .enumerate()
        .filter(|(_, row)| keep(&row[column]))
        .map(|(doc, _)| doc as u32)
        .collect()
}

fn check_indexes(
    reader: &dyn ColumnReader,
    expected: &[Vec<Value>],
    column: usize,
) -> Result<(), TestCaseError> {
    let all_docs: Vec<u32> = (0..expected.len() as u32).collect();
    // Nulls.
    let nulls = reader.null_bitmap().expect("nulls").unwrap_or_default();
    prop_assert_eq!(nulls, scan(expected, column, Value::is_null));
    // Inverted index and sorted ranges agree with a scan, for every dictionary id.
    if let Some(cardinality) = reader.cardinality() {
        for id in 0..cardinality {
            let value = reader.dictionary_value(id);
            let matching = scan(expected, column, |v| match v {
                Value::Array(items) => items.iter().any(|item| same(item, &value)),
                other => same(other, &value),
            });
            prop_assert!(!matching.is_empty(), "dictionary entry with no doc");
            if let Some(bitmap) = reader.inverted_bitmap(id).expect("inverted") {
                prop_assert_eq!(&bitmap, &matching);
            }
            if let Some(range) = reader.sorted_doc_range(id..id + 1) {
                let docs: RoaringBitmap = range.collect();
                prop_assert_eq!(&docs, &matching);
            }
            prop_assert_eq!(reader.lookup(&value), Some(id));
            if reader.metadata().single_value {
                let mut ids = Vec::new();
                reader.read_dict_ids(&all_docs, &mut ids).expect("ids");
                for doc in &matching {
                    prop_assert_eq!(ids[doc as usize], id);
                }
            }
        }
    }
    // Range index: matching ∪ (candidates re-checked) equals a scan.
    let present: Vec<&Value> = expected
        .iter()
        .map(|row| &row[column])
        .filter(|v| !v.is_null())
        .collect();
    if let (Some(low), Some(high)) = (present.first(), present.last()) {
        let (low, high) = if order(low, high).is_le() {
            (*low, *high)
        } else {
            (*high, *low)
        };
        if let Some(found) = reader
            .range_lookup(Bound::Included(low), Bound::Excluded(high))
            .expect("range")
        {
            let in_range =
                |v: &Value| !v.is_null() && order(v, low).is_ge() && order(v, high).is_lt();
            let expected_docs = scan(expected, column, in_range);
            let mut answer = found.matching.clone();
            for doc in &found.candidates {
                if in_range(&expected[doc as usize][column]) {
                    answer.insert(doc);
                }
            }
            prop_assert!(found.matching.is_subset(&expected_docs));
            prop_assert_eq!(answer, expected_docs);
        }
        if let IdSet::Range(ids) = reader.ids_in_range(Bound::Included(low), Bound::Included(high))
            && reader.cardinality().is_some()
            && reader.metadata().single_value
        {
            {
                let count = scan(expected, column, |v| {
                    !v.is_null() && order(v, low).is_ge() && order(v, high).is_le()
                });
                let mut dict_ids = Vec::new();
                reader.read_dict_ids(&all_docs, &mut dict_ids).expect("ids");
                let by_ids: RoaringBitmap = all_docs
                    .iter()
                    .filter(|doc| {
                        !expected[**doc as usize][column].is_null()
                            && ids.contains(&dict_ids[**doc as usize])
                    })
                    .copied()
                    .collect();
                prop_assert_eq!(by_ids, count);
            }
        }
    }
    // Bloom filter: no false negatives.
    for value in &present {
        if let Some(might) = reader.bloom_might_contain(value) {
            prop_assert!(might, "bloom filter missed a present value");
        }
    }
    // Text index: a word search finds exactly the docs whose text has that token.
    for word in WORDS {
        if let Some(found) = reader.text_search(word).expect("text search") {
            let expected_docs = scan(expected, column, |v| match v {
                Value::String(s) => s
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|t| t.to_lowercase() == word),
                _ => false,
            });
            prop_assert_eq!(found, expected_docs);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn test_random_segments_read_back_exactly((specs, sort, rows) in case()) {
        let (schema_json, table_json) = configs(&specs, sort);
        let schema = schema(&schema_json);
        let table = table(&table_json, &schema);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.tseg");
        let segment = build(&schema, &table, &rows, &path);
        // Expected doc order: stable sort by the sort column, NULLs last.
        let mut expected = rows.clone();
        if let Some(s) = sort {
            expected.sort_by(|a, b| order(&a[s], &b[s]));
        }
        prop_assert_eq!(segment.num_docs() as usize, expected.len());
        let all_docs: Vec<u32> = (0..expected.len() as u32).collect();
        // The same file opened from its footer, its sections read on first use, answers
        // every read below the same way.
        let (lazy, _) = FileSectionSource::open(&path).expect("lazy open");
        for (column, segment) in specs.iter().enumerate().flat_map(|(c, _)| [(c, &segment), (c, &lazy)]) {
            let reader = segment.column(&format!("c{column}")).expect("column");
            let mut values = Vec::new();
            reader.read_values(&all_docs, &mut values).expect("read");
            for (doc, value) in values.iter().enumerate() {
                prop_assert!(same(value, &expected[doc][column]), "doc {} column c{}: read {:?} expected {:?}", doc, column, value, expected[doc][column]);
            }
            check_indexes(reader, &expected, column)?;
            // Typed bulk reads (every doc, a contiguous run from the middle, every other
            // doc) agree with the values.
            if reader.metadata().single_value {
                let run = all_docs[all_docs.len() / 3..].to_vec();
                for docs in [all_docs.clone(), run, all_docs.iter().copied().step_by(2).collect::<Vec<u32>>()] {
                    let mut longs = Vec::new();
                    let mut doubles = Vec::new();
                    let typed_i64 = reader.read_i64(&docs, &mut longs).is_ok();
                    let typed_f64 = reader.read_f64(&docs, &mut doubles).is_ok();
                    for (i, doc) in docs.iter().enumerate() {
                        let (long, double) = match &expected[*doc as usize][column] {
                            Value::Int(v) => (Some(i64::from(*v)), Some(f64::from(*v))),
                            Value::Long(v) | Value::Timestamp(v) => (Some(*v), Some(*v as f64)),
                            Value::Boolean(v) => (Some(i64::from(*v)), None),
                            Value::Float(v) => (None, Some(f64::from(*v))),
                            Value::Double(v) => (None, Some(*v)),
                            _ => (None, None),
                        };
                        if let (true, Some(long)) = (typed_i64, long) {
                            prop_assert_eq!(longs[i], long, "read_i64 doc {} column c{}", doc, column);
                        }
                        if let (true, Some(double)) = (typed_f64, double) {
                            prop_assert_eq!(doubles[i].to_bits(), double.to_bits(), "read_f64 doc {} column c{}", doc, column);
                        }
                    }
                }
            }
        }
    }
}

/// Rows that arrive already in sort order keep input order, so the raw chunks compressed
/// as they arrived (temporary, LZ4) are the ones written: they must be recompressed as the
/// segment stores them. Several chunks of each raw column, strings and doubles that do not
/// bit-pack.
#[test]
fn test_presorted_input_writes_raw_chunks_readers_decode() {
    let specs = [("LONG", false), ("STRING", true), ("DOUBLE", true)]
        .map(|(data_type, raw)| ColumnSpec {
            data_type,
            single_value: true,
            raw,
            inverted: false,
            range: false,
            bloom: false,
            text: false,
        })
        .to_vec();
    let (schema_json, table_json) = configs(&specs, Some(0));
    let schema = schema(&schema_json);
    let table = table(&table_json, &schema);
    let rows: Vec<Vec<Value>> = (0..9_000i64)
        .map(|i| {
            vec![
                Value::Long(i / 3),
                Value::String(format!(
                    "{} {} #{i}",
                    WORDS[i as usize % 8],
                    WORDS[(i * 5) as usize % 8]
                )),
                Value::Double((i as f64).sqrt() * std::f64::consts::PI),
            ]
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let segment = build(&schema, &table, &rows, &dir.path().join("t.tseg"));
    let docs: Vec<u32> = (0..rows.len() as u32).collect();
    for (column, _) in specs.iter().enumerate() {
        let mut values = Vec::new();
        segment
            .column(&format!("c{column}"))
            .expect("column")
            .read_values(&docs, &mut values)
            .expect("read");
        for (doc, value) in values.iter().enumerate() {
            assert!(
                same(value, &rows[doc][column]),
                "doc {doc} column c{column}: {value:?}"
            );
        }
    }
}
