//! Helpers shared by the segment crate's integration tests.
#![allow(dead_code)]

use std::path::Path;

use tessera_config::{Schema, TableConfig};
use tessera_segment::{BuildOptions, ColumnBatch, ImmutableSegment, SegmentBuilder, Value};

pub fn schema(json: &str) -> Schema {
    Schema::from_json(json).expect("valid schema").value
}

pub fn table(json: &str, schema: &Schema) -> TableConfig {
    TableConfig::from_json(json, schema)
        .expect("valid table config")
        .value
}

pub fn build(
    schema: &Schema,
    table: &TableConfig,
    rows: &[Vec<Value>],
    path: &Path,
) -> ImmutableSegment {
    let mut builder = SegmentBuilder::new(schema, table).expect("builder");
    for chunk in rows.chunks(97) {
        let batch = ColumnBatch::from_rows(schema, chunk).expect("batch");
        builder.add_batch(&batch).expect("add batch");
    }
    let options = BuildOptions {
        creation_time_ms: 1_700_000_000_000,
        ..BuildOptions::default()
    };
    builder.finish(path, &options).expect("finish");
    ImmutableSegment::open(path).expect("open")
}

/// Value equality with floats compared bit for bit (NaN equals NaN, -0.0 differs from 0.0).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

/// The total order of dictionaries and the sort: numbers by value (floats in IEEE
/// total order), strings and bytes by bytes; NULL last.
pub fn order(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Long(x), Value::Long(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        (Value::Double(x), Value::Double(y)) => x.total_cmp(y),
        (Value::String(x), Value::String(y)) | (Value::Json(x), Value::Json(y)) => {
            x.as_bytes().cmp(y.as_bytes())
        }
        (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}
