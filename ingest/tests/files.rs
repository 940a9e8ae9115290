//! End-to-end reads of real files written in the test: Parquet (through ArrowWriter), CSV
//! and JSON lines, checked value by value in the produced batches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, StructArray, TimestampMicrosecondArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType as ArrowType, Field};
use parquet::arrow::ArrowWriter;
use serde_json::json;
use tempfile::TempDir;
use tessera_config::Schema;
use tessera_ingest::{
    BatchSource, Error, ReadOptions, RejectReport, open_file, open_files, split_files,
};
use tessera_segment::{ColumnBatch, ColumnData, ColumnValues, VarBytes};
use tessera_status::Status;

const JAN_2_2024_MS: i64 = 1_704_153_600_000;

fn schema(value: serde_json::Value) -> Schema {
    Schema::from_value(&value).expect("valid schema").value
}

fn write_parquet(dir: &TempDir, name: &str, columns: Vec<(&str, ArrayRef)>) -> PathBuf {
    let batch = RecordBatch::try_from_iter(columns).expect("record batch");
    let path = dir.path().join(name);
    let file = std::fs::File::create(&path).expect("create");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    path
}

fn write_text(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn drain(source: &mut dyn BatchSource, schema: &Schema) -> (Vec<ColumnBatch>, RejectReport) {
    let mut report = RejectReport::default();
    let mut batches = Vec::new();
    while let Some(batch) = source.next_batch(&mut report).expect("read") {
        batch.validate(schema).expect("batch fits the schema");
        assert!(batch.num_rows > 0, "sources never return empty batches");
        batches.push(batch);
    }
    (batches, report)
}

fn read_all(
    path: &Path,
    schema: &Schema,
    options: &ReadOptions,
) -> (Vec<ColumnBatch>, RejectReport) {
    let mut source = open_file(path, schema, options).expect("open");
    drain(source.as_mut(), schema)
}

fn read_one(path: &Path, schema: &Schema) -> (ColumnBatch, RejectReport) {
    let (mut batches, report) = read_all(path, schema, &ReadOptions::default());
    assert_eq!(batches.len(), 1);
    (batches.remove(0), report)
}

fn bytes(values: &[&[u8]]) -> ColumnData {
    let mut out = VarBytes::default();
    for value in values {
        out.push(value).expect("small");
    }
    ColumnData::Bytes(out)
}

fn strings(values: &[&str]) -> ColumnData {
    bytes(
        &values
            .iter()
            .map(|value| value.as_bytes())
            .collect::<Vec<_>>(),
    )
}

fn column(data: ColumnData, nulls: Option<Vec<bool>>) -> ColumnValues {
    ColumnValues { nulls, data }
}

fn string_lists(rows: &[Option<Vec<&str>>]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        match row {
            Some(items) => {
                for item in items {
                    builder.values().append_value(item);
                }
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    Arc::new(builder.finish())
}

#[test]
fn test_parquet_types_nulls_and_missing_columns() {
    let dir = TempDir::new().expect("tempdir");
    let path = write_parquet(
        &dir,
        "all.parquet",
        vec![
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(1), None, Some(-3)])) as ArrayRef,
            ),
            (
                "l",
                Arc::new(Int64Array::from(vec![Some(i64::MAX), Some(0), None])),
            ),
            (
                "d",
                Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN), None])),
            ),
            (
                "price",
                Arc::new(
                    Decimal128Array::from(vec![Some(123_456), Some(-1), Some(9_999_999_999_999)])
                        .with_precision_and_scale(15, 2)
                        .expect("decimal"),
                ),
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![Some(19_724), Some(0), None])),
            ),
            (
                "ts_ms",
                Arc::new(TimestampMillisecondArray::from(vec![1, 2, 3]).with_timezone("UTC")),
            ),
            (
                "ts_us",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![1_999, -1, 0]).with_timezone("+02:00"),
                ),
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a"), None, Some("ccc")])),
            ),
            (
                "raw",
                Arc::new(BinaryArray::from(vec![
                    Some(&b"\x00\xff"[..]),
                    Some(b""),
                    None,
                ])),
            ),
            (
                "tags",
                string_lists(&[Some(vec!["x", "y"]), None, Some(vec![])]),
            ),
            ("extra", Arc::new(Int32Array::from(vec![7, 8, 9]))),
        ],
    );
    let schema = schema(json!({
        "schemaName": "t",
        "dimensionFieldSpecs": [
            {"name": "i", "dataType": "INT"},
            {"name": "l", "dataType": "LONG"},
            {"name": "name", "dataType": "STRING"},
            {"name": "raw", "dataType": "BYTES"},
            {"name": "tags", "dataType": "STRING", "singleValueField": false},
            {"name": "missing", "dataType": "STRING"},
            {"name": "missing_nn", "dataType": "INT", "notNull": true, "defaultNullValue": 42},
            {"name": "day", "dataType": "TIMESTAMP"}
        ],
        "metricFieldSpecs": [
            {"name": "d", "dataType": "DOUBLE"},
            {"name": "price", "dataType": "DOUBLE"}
        ],
        "dateTimeFieldSpecs": [
            {"name": "ts_ms", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"},
            {"name": "ts_us", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}
        ]
    }));
    let (batch, report) = read_one(&path, &schema);
    assert!(report.is_empty(), "{}", report.summary());
    assert_eq!(batch.num_rows, 3);
    let columns = &batch.columns;
    assert_eq!(
        columns[0],
        column(
            ColumnData::I32(vec![1, 0, -3]),
            Some(vec![false, true, false])
        )
    );
    assert_eq!(
        columns[1],
        column(
            ColumnData::I64(vec![i64::MAX, 0, 0]),
            Some(vec![false, false, true])
        )
    );
    assert_eq!(
        columns[2],
        column(strings(&["a", "", "ccc"]), Some(vec![false, true, false]))
    );
    assert_eq!(
        columns[3],
        column(
            bytes(&[b"\x00\xff", b"", b""]),
            Some(vec![false, false, true])
        )
    );
    assert_eq!(
        columns[4],
        column(
            ColumnData::Multi {
                offsets: vec![0, 2, 2, 2],
                values: Box::new(strings(&["x", "y"])),
            },
            Some(vec![false, true, false])
        )
    );
    assert_eq!(
        columns[5],
        column(strings(&["", "", ""]), Some(vec![true, true, true]))
    );
    assert_eq!(columns[6], column(ColumnData::I32(vec![42, 42, 42]), None));
    assert_eq!(
        columns[7],
        column(
            ColumnData::I64(vec![JAN_2_2024_MS, 0, 0]),
            Some(vec![false, false, true])
        )
    );
    let ColumnData::F64(doubles) = &columns[8].data else {
        panic!("DOUBLE is F64")
    };
    assert_eq!(doubles[0], 1.5);
    assert!(doubles[1].is_nan());
    assert_eq!(columns[8].nulls, Some(vec![false, false, true]));
    assert_eq!(
        columns[9],
        column(
            ColumnData::F64(vec![1234.56, -0.01, 99_999_999_999.99]),
            None
        )
    );
    assert_eq!(columns[10], column(ColumnData::I64(vec![1, 2, 3]), None));
    assert_eq!(columns[11], column(ColumnData::I64(vec![1, -1, 0]), None));
}

/// Parquet stores a decimal as INT32 (precision ≤ 9), INT64 (≤ 18) or fixed-length bytes;
/// the reader narrows the first two to Decimal32 / Decimal64. Every width reads as the same
/// double and the same text.
#[test]
fn test_parquet_decimals_of_every_storage_width() {
    let dir = TempDir::new().expect("tempdir");
    let decimal = |precision: u8| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(vec![Some(1_234), Some(-5), None, Some(99_999_999)])
                .with_precision_and_scale(precision, 2)
                .expect("decimal"),
        )
    };
    let path = write_parquet(
        &dir,
        "decimals.parquet",
        vec![
            ("d9", decimal(9)),
            ("d18", decimal(18)),
            ("d38", decimal(38)),
            ("t9", decimal(9)),
            ("t18", decimal(18)),
            ("t38", decimal(38)),
        ],
    );
    let schema = schema(json!({
        "schemaName": "t",
        "dimensionFieldSpecs": [
            {"name": "t9", "dataType": "STRING"},
            {"name": "t18", "dataType": "STRING"},
            {"name": "t38", "dataType": "STRING"}
        ],
        "metricFieldSpecs": [
            {"name": "d9", "dataType": "DOUBLE"},
            {"name": "d18", "dataType": "DOUBLE"},
            {"name": "d38", "dataType": "DOUBLE"}
        ]
    }));
    let (batch, report) = read_one(&path, &schema);
    assert!(report.is_empty(), "{}", report.summary());
    let nulls = Some(vec![false, false, true, false]);
    for text in &batch.columns[..3] {
        assert_eq!(
            *text,
            column(strings(&["12.34", "-0.05", "", "999999.99"]), nulls.clone())
        );
    }
    for double in &batch.columns[3..] {
        assert_eq!(
            *double,
            column(
                ColumnData::F64(vec![12.34, -0.05, 0.0, 999_999.99]),
                nulls.clone()
            )
        );
    }
}

#[test]
fn test_parquet_rejects_have_file_row_numbers() {
    let dir = TempDir::new().expect("tempdir");
    let values: Vec<i64> = vec![1, 5_000_000_000, 3, 4, -5_000_000_000, 6, 7];
    let path = write_parquet(
        &dir,
        "rejects.pq",
        vec![
            ("n", Arc::new(Int64Array::from(values)) as ArrayRef),
            (
                "s",
                Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e", "f", "g"])),
            ),
        ],
    );
    let schema = schema(json!({"schemaName": "t", "dimensionFieldSpecs": [
        {"name": "s", "dataType": "STRING"}, {"name": "n", "dataType": "INT"}
    ]}));
    let options = ReadOptions {
        batch_rows: 3,
        strict: false,
    };
    let (batches, report) = read_all(&path, &schema, &options);
    let rows: Vec<usize> = batches.iter().map(|batch| batch.num_rows).collect();
    assert_eq!(rows, vec![2, 2, 1]);
    assert_eq!(batches[0].columns[0].data, strings(&["a", "c"]));
    assert_eq!(batches[0].columns[1].data, ColumnData::I32(vec![1, 3]));
    assert_eq!(batches[1].columns[0].data, strings(&["d", "f"]));
    assert_eq!(report.rejected_rows, 2);
    assert_eq!(report.by_reason["out of range for INT"], 2);
    let sample = &report.samples[1];
    assert_eq!((sample.row, sample.column.as_str()), (5, "n"));
    assert_eq!(sample.value, "-5000000000");

    let strict = ReadOptions {
        batch_rows: 3,
        strict: true,
    };
    let mut source = open_file(&path, &schema, &strict).expect("open");
    let error = source
        .next_batch(&mut RejectReport::default())
        .expect_err("strict");
    let Error::Rejected { rejected } = &error else {
        panic!("expected a rejected value, got {error}")
    };
    assert_eq!((rejected.row, rejected.column.as_str()), (2, "n"));
    assert!(error.to_string().contains("row=2"), "{error}");
    assert_eq!(error.status(), Status::InvalidInput);
}

#[test]
fn test_parquet_uncoercible_column_is_a_schema_error() {
    let dir = TempDir::new().expect("tempdir");
    let nested: ArrayRef = Arc::new(StructArray::from(vec![(
        Arc::new(Field::new("a", ArrowType::Int64, false)),
        Arc::new(Int64Array::from(vec![1])) as ArrayRef,
    )]));
    let path = write_parquet(&dir, "nested.parquet", vec![("n", nested)]);
    let schema = schema(
        json!({"schemaName": "t", "dimensionFieldSpecs": [{"name": "n", "dataType": "LONG"}]}),
    );
    let error = open_file(&path, &schema, &ReadOptions::default())
        .err()
        .expect("schema error");
    let message = error.to_string();
    assert!(matches!(error, Error::Schema { .. }), "{message}");
    assert!(
        message.contains("column=`n`") && message.contains("Struct"),
        "{message}"
    );
    assert!(
        message.contains("schema_type=`LONG`") && message.contains("nested.parquet"),
        "{message}"
    );
}

#[test]
fn test_parquet_with_no_schema_column_still_counts_rows() {
    let dir = TempDir::new().expect("tempdir");
    let path = write_parquet(
        &dir,
        "other.parquet",
        vec![("x", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef)],
    );
    let schema = schema(
        json!({"schemaName": "t", "dimensionFieldSpecs": [{"name": "y", "dataType": "INT"}]}),
    );
    let (batch, _) = read_one(&path, &schema);
    assert_eq!(batch.num_rows, 2);
    assert_eq!(batch.columns[0].nulls, Some(vec![true, true]));
}

fn csv_schema() -> Schema {
    schema(json!({
        "schemaName": "t",
        "dimensionFieldSpecs": [
            {"name": "id", "dataType": "INT"},
            {"name": "name", "dataType": "STRING"},
            {"name": "tags", "dataType": "LONG", "singleValueField": false},
            {"name": "flag", "dataType": "BOOLEAN", "notNull": true},
            {"name": "absent", "dataType": "DOUBLE"},
            {"name": "raw", "dataType": "BYTES"}
        ],
        "dateTimeFieldSpecs": [
            {"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}
        ]
    }))
}

#[test]
fn test_csv_values_nulls_and_rejects() {
    let dir = TempDir::new().expect("tempdir");
    let path = write_text(
        &dir,
        "data.csv",
        "id,name,tags,flag,ignored,ts,raw\n\
         1,\"Smith, J\",1;2;3,yes,zzz,2024-01-02,0xBEEF\n\
         2,,,,zzz,,\n\
         x,bad,1,true,zzz,0,\n\
         4,four,7,0,zzz,1704153600000,g1\n\
         5,five,1;q,1,zzz,0,\n\
         6,six,,false,zzz,2024-01-02T00:00:01Z,abc\n\
         7,too,few\n",
    );
    let schema = csv_schema();
    let (batch, report) = read_one(&path, &schema);
    assert_eq!(batch.num_rows, 2);
    let columns = &batch.columns;
    assert_eq!(columns[0], column(ColumnData::I32(vec![1, 2]), None));
    assert_eq!(
        columns[1],
        column(strings(&["Smith, J", ""]), Some(vec![false, true]))
    );
    assert_eq!(
        columns[2],
        column(
            ColumnData::Multi {
                offsets: vec![0, 3, 3],
                values: Box::new(ColumnData::I64(vec![1, 2, 3])),
            },
            Some(vec![false, true])
        )
    );
    assert_eq!(columns[3], column(ColumnData::I32(vec![1, 0]), None));
    assert_eq!(columns[4].nulls, Some(vec![true, true]));
    assert_eq!(
        columns[5],
        column(bytes(&[b"\xbe\xef", b""]), Some(vec![false, true]))
    );
    assert_eq!(
        columns[6],
        column(
            ColumnData::I64(vec![JAN_2_2024_MS, 0]),
            Some(vec![false, true])
        )
    );

    let rejected: Vec<(u64, &str, &str)> = report
        .samples
        .iter()
        .map(|sample| (sample.row, sample.column.as_str(), sample.reason.as_str()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (3, "id", "not an integer"),
            (4, "raw", "invalid hex"),
            (5, "tags", "not an integer"),
            (6, "raw", "invalid hex"),
            (7, "*", "wrong number of fields"),
        ]
    );
    assert_eq!(report.rejected_rows, 5);
    assert!(
        report
            .summary()
            .contains("data.csv row 3 column `id`: not an integer value=`x`")
    );
}

#[test]
fn test_csv_strict_mode_fails_on_first_bad_value() {
    let dir = TempDir::new().expect("tempdir");
    let path = write_text(&dir, "strict.csv", "id\n1\n2\nthree\n4\n");
    let schema = schema(
        json!({"schemaName": "t", "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}]}),
    );
    let options = ReadOptions {
        strict: true,
        ..ReadOptions::default()
    };
    let mut source = open_file(&path, &schema, &options).expect("open");
    let error = source
        .next_batch(&mut RejectReport::default())
        .expect_err("strict");
    let Error::Rejected { rejected } = error else {
        panic!("expected a rejected value")
    };
    assert_eq!((rejected.row, rejected.value.as_str()), (3, "three"));
}

fn json_schema() -> Schema {
    schema(json!({
        "schemaName": "t",
        "dimensionFieldSpecs": [
            {"name": "id", "dataType": "LONG"},
            {"name": "name", "dataType": "STRING"},
            {"name": "tags", "dataType": "STRING", "singleValueField": false},
            {"name": "doc", "dataType": "JSON"},
            {"name": "score", "dataType": "FLOAT", "notNull": true, "defaultNullValue": -1}
        ],
        "dateTimeFieldSpecs": [
            {"name": "ts", "dataType": "TIMESTAMP", "format": "1:SECONDS:EPOCH", "granularity": "1:SECONDS"}
        ]
    }))
}

#[test]
fn test_json_lines_values_and_rejects() {
    let dir = TempDir::new().expect("tempdir");
    let path = write_text(
        &dir,
        "rows.jsonl",
        concat!(
            "{\"id\": 1, \"name\": \"a\", \"tags\": [\"x\", \"y\"], \"doc\": {\"k\": [1, 2]}, \"score\": 2.5, \"ts\": 10, \"other\": 1}\n",
            "\n",
            "{\"id\": \"2\", \"name\": 3.5, \"tags\": \"solo\", \"doc\": \"[true]\", \"ts\": \"2024-01-02\"}\r\n",
            "not json\n",
            "[1, 2]\n",
            "{\"id\": 1.5}\n",
            "{\"name\": [\"a\"]}\n",
            "{\"tags\": [\"a\", null]}\n",
            "{\"doc\": \"{bad\"}\n",
            "{}\n",
        ),
    );
    let schema = json_schema();
    let (batch, report) = read_one(&path, &schema);
    assert_eq!(batch.num_rows, 3);
    let columns = &batch.columns;
    assert_eq!(
        columns[0],
        column(
            ColumnData::I64(vec![1, 2, 0]),
            Some(vec![false, false, true])
        )
    );
    assert_eq!(
        columns[1],
        column(strings(&["a", "3.5", ""]), Some(vec![false, false, true]))
    );
    assert_eq!(
        columns[2],
        column(
            ColumnData::Multi {
                offsets: vec![0, 2, 3, 3],
                values: Box::new(strings(&["x", "y", "solo"])),
            },
            Some(vec![false, false, true])
        )
    );
    assert_eq!(
        columns[3],
        column(
            strings(&["{\"k\":[1,2]}", "[true]", ""]),
            Some(vec![false, false, true])
        )
    );
    assert_eq!(
        columns[4],
        column(ColumnData::F32(vec![2.5, -1.0, -1.0]), None)
    );
    assert_eq!(
        columns[5],
        column(
            ColumnData::I64(vec![10_000, JAN_2_2024_MS, 0]),
            Some(vec![false, false, true])
        )
    );

    let rejected: Vec<(u64, &str, &str)> = report
        .samples
        .iter()
        .map(|sample| (sample.row, sample.column.as_str(), sample.reason.as_str()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (4, "*", "invalid json line"),
            (5, "*", "invalid json line"),
            (6, "id", "not an integer"),
            (7, "name", "array for single-value column"),
            (8, "tags", "null element in multi-value"),
            (9, "doc", "invalid json"),
        ]
    );
    assert_eq!(report.samples[0].value, "not json");
}

#[test]
fn test_json_line_longer_than_limit_is_rejected_and_reading_continues() {
    let dir = TempDir::new().expect("tempdir");
    let huge = format!(
        "{{\"name\": \"{}\"}}\n",
        "x".repeat(tessera_ingest::MAX_LINE_BYTES)
    );
    let path = write_text(&dir, "huge.ndjson", &format!("{huge}{{\"id\": 5}}\n"));
    let schema = json_schema();
    let (batch, report) = read_one(&path, &schema);
    assert_eq!(batch.columns[0].data, ColumnData::I64(vec![5]));
    assert_eq!(report.samples[0].row, 1);
    assert_eq!(report.samples[0].reason, "invalid json line");
}

#[test]
fn test_batching_splits_every_format_into_batch_rows() {
    let dir = TempDir::new().expect("tempdir");
    let ids: Vec<i64> = (1..=10).collect();
    let parquet = write_parquet(
        &dir,
        "ten.parquet",
        vec![("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef)],
    );
    let csv_text: String = std::iter::once("id\n".to_string())
        .chain(ids.iter().map(|id| format!("{id}\n")))
        .collect();
    let csv = write_text(&dir, "ten.csv", &csv_text);
    let json_text: String = ids.iter().map(|id| format!("{{\"id\": {id}}}\n")).collect();
    let json = write_text(&dir, "ten.json", &json_text);
    let schema = schema(
        json!({"schemaName": "t", "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}]}),
    );
    let options = ReadOptions {
        batch_rows: 3,
        strict: false,
    };
    for path in [parquet, csv, json] {
        let (batches, _) = read_all(&path, &schema, &options);
        let sizes: Vec<usize> = batches.iter().map(|batch| batch.num_rows).collect();
        assert_eq!(sizes, vec![3, 3, 3, 1], "{}", path.display());
        let all: Vec<i64> = batches
            .iter()
            .flat_map(|batch| match &batch.columns[0].data {
                ColumnData::I64(values) => values.clone(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(all, ids, "{}", path.display());
    }
}

#[test]
fn test_open_files_chains_in_order_and_reports_progress() {
    let dir = TempDir::new().expect("tempdir");
    let parquet = write_parquet(
        &dir,
        "a.parquet",
        vec![("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)],
    );
    let csv = write_text(&dir, "b.csv", "id\n3\nbad\n4\n");
    let json = write_text(&dir, "c.jsonl", "{\"id\": 5}\n");
    let schema = schema(
        json!({"schemaName": "t", "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}]}),
    );
    let paths = vec![parquet.clone(), csv.clone(), json.clone()];
    let mut source = open_files(&paths, &schema, &ReadOptions::default()).expect("open");
    let total: u64 = paths
        .iter()
        .map(|path| std::fs::metadata(path).expect("metadata").len())
        .sum();
    assert_eq!(source.progress(), (0, total));
    let (batches, report) = drain(source.as_mut(), &schema);
    let ids: Vec<ColumnData> = batches
        .into_iter()
        .map(|batch| batch.columns[0].data.clone())
        .collect();
    assert_eq!(
        ids,
        vec![
            ColumnData::I64(vec![1, 2]),
            ColumnData::I64(vec![3, 4]),
            ColumnData::I64(vec![5]),
        ]
    );
    assert_eq!(report.rejected_rows, 1);
    assert_eq!(report.samples[0].row, 2);
    assert!(report.samples[0].file.ends_with("b.csv"));
    assert_eq!(source.progress(), (total, total));
}

#[test]
fn test_open_errors() {
    let dir = TempDir::new().expect("tempdir");
    let schema = schema(
        json!({"schemaName": "t", "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}]}),
    );
    let unknown = write_text(&dir, "notes.txt", "id\n1\n");
    let error = open_file(&unknown, &schema, &ReadOptions::default())
        .err()
        .expect("unknown");
    assert!(matches!(error, Error::UnknownFormat { .. }));
    let missing = dir.path().join("missing.csv");
    let error = open_files(&[missing], &schema, &ReadOptions::default())
        .err()
        .expect("missing");
    assert_eq!(error.status(), Status::NotFound);
    let corrupt = write_text(&dir, "corrupt.parquet", "not a parquet file");
    let error = open_file(&corrupt, &schema, &ReadOptions::default())
        .err()
        .expect("corrupt");
    assert!(matches!(error, Error::Parquet { .. }), "{error}");
}

#[test]
fn test_split_files_reads_row_group_parts_that_together_are_the_file() {
    let dir = TempDir::new().expect("tempdir");
    // 300,000 rows in row groups of 40,000: parts of three groups (120,000 rows, the
    // first that reach PART_ROWS), the last of two. Two values overflow INT.
    let rows = 300_000i64;
    let values: Vec<i64> = (0..rows)
        .map(|row| match row {
            49_999 | 250_000 => 5_000_000_000,
            _ => row,
        })
        .collect();
    let batch =
        RecordBatch::try_from_iter(vec![("n", Arc::new(Int64Array::from(values)) as ArrayRef)])
            .expect("record batch");
    let path = dir.path().join("groups.parquet");
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(40_000))
        .build();
    let file = std::fs::File::create(&path).expect("create");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    let csv = write_text(&dir, "more.csv", "n\n7\nseven\n");
    let schema = schema(
        json!({"schemaName": "t", "dimensionFieldSpecs": [{"name": "n", "dataType": "INT"}]}),
    );
    let parts = split_files(&[path, csv], &schema, &ReadOptions::default()).expect("split");
    assert_eq!(parts.len(), 4, "three Parquet parts and the CSV file");
    // Parts read out of order, as concurrent readers may: each part's rows and rejects
    // are its own, numbered by the file's rows.
    let mut read: Vec<(Vec<i32>, RejectReport)> = Vec::new();
    for part in parts.iter().rev() {
        let mut source = part.open().expect("open part");
        let (batches, report) = drain(source.as_mut(), &schema);
        let mut ids = Vec::new();
        for batch in batches {
            let ColumnData::I32(values) = &batch.columns[0].data else {
                panic!("INT column reads as i32");
            };
            ids.extend_from_slice(values);
        }
        read.push((ids, report));
    }
    read.reverse();
    let lens: Vec<usize> = read.iter().map(|(ids, _)| ids.len()).collect();
    assert_eq!(lens, vec![119_999, 120_000, 59_999, 1]);
    let parquet_ids: Vec<i32> = read[..3].iter().flat_map(|(ids, _)| ids.clone()).collect();
    let expected: Vec<i32> = (0..rows as i32)
        .filter(|row| *row != 49_999 && *row != 250_000)
        .collect();
    assert_eq!(parquet_ids, expected);
    let mut report = RejectReport::default();
    for (_, part_report) in read {
        report.merge(part_report);
    }
    assert_eq!(report.rejected_rows, 3);
    let rejected: Vec<(u64, bool)> = report
        .samples
        .iter()
        .map(|sample| (sample.row, sample.file.ends_with("more.csv")))
        .collect();
    assert_eq!(rejected, vec![(50_000, false), (250_001, false), (2, true)]);
}
