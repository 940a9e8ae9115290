//! Conversion of every supported Arrow layout, checked value by value.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    Float64Array, Int64Array, LargeStringArray, StringArray, StringViewArray, StructArray,
    TimestampMicrosecondArray, TimestampNanosecondArray, UInt64Array,
};
use serde_json::json;
use tessera_config::Schema;
use tessera_segment::{ColumnData, VarBytes};

use super::*;

fn plan(spec: serde_json::Value) -> FieldPlan {
    let schema = Schema::from_value(&json!({"schemaName": "t", "dimensionFieldSpecs": [spec]}))
        .expect("schema")
        .value;
    FieldPlan::new(&FieldCoercer::new(&schema.fields[0]).expect("coercer"))
}

fn plan_of(data_type: &str) -> FieldPlan {
    plan(json!({"name": "c", "dataType": data_type}))
}

fn convert(array: ArrayRef, plan: &FieldPlan) -> Converted {
    convert_column(array.as_ref(), plan).expect("supported")
}

fn strings(values: &[&str]) -> ColumnData {
    let mut bytes = VarBytes::default();
    for value in values {
        bytes.push(value.as_bytes()).expect("small");
    }
    ColumnData::Bytes(bytes)
}

fn reasons(converted: &Converted) -> Vec<(usize, &'static str)> {
    converted
        .rejects
        .iter()
        .map(|reject| (reject.index, reject.reason))
        .collect()
}

#[test]
fn test_integers_into_int_check_range() {
    let array: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3_000_000_000)]));
    let converted = convert(array, &plan_of("INT"));
    assert_eq!(converted.data, ColumnData::I32(vec![1, 0, 0]));
    assert_eq!(converted.nulls, Some(vec![false, true, false]));
    assert_eq!(reasons(&converted), vec![(2, reason::OUT_OF_RANGE_INT)]);
    assert_eq!(converted.rejects[0].value, "3000000000");

    let unsigned: ArrayRef = Arc::new(UInt64Array::from(vec![5, u64::MAX]));
    let converted = convert(unsigned, &plan_of("LONG"));
    assert_eq!(converted.data, ColumnData::I64(vec![5, 0]));
    assert_eq!(reasons(&converted), vec![(1, reason::OUT_OF_RANGE_LONG)]);
}

#[test]
fn test_floats_into_long_must_be_integral() {
    let array: ArrayRef = Arc::new(Float64Array::from(vec![3.0, 3.5, f64::NAN]));
    let converted = convert(array, &plan_of("LONG"));
    assert_eq!(converted.data, ColumnData::I64(vec![3, 0, 0]));
    assert_eq!(
        reasons(&converted),
        vec![(1, reason::NOT_AN_INTEGER), (2, reason::NOT_AN_INTEGER)]
    );
}

#[test]
fn test_decimals_into_double_and_string() {
    let decimals = Decimal128Array::from(vec![Some(1234), Some(-5), None])
        .with_precision_and_scale(15, 2)
        .expect("valid");
    let array: ArrayRef = Arc::new(decimals);
    let converted = convert(array.clone(), &plan_of("DOUBLE"));
    assert_eq!(converted.data, ColumnData::F64(vec![12.34, -0.05, 0.0]));
    assert_eq!(converted.nulls, Some(vec![false, false, true]));
    let converted = convert(array, &plan_of("STRING"));
    assert_eq!(converted.data, strings(&["12.34", "-0.05", ""]));
}

#[test]
fn test_temporal_types_into_timestamp() {
    let micros: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from(vec![1_500, -1, 1_704_164_645_123_456])
            .with_timezone("+02:00"),
    );
    let converted = convert(micros, &plan_of("TIMESTAMP"));
    assert_eq!(
        converted.data,
        ColumnData::I64(vec![1, -1, 1_704_164_645_123])
    );
    let nanos: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![-1_000_001]));
    assert_eq!(
        convert(nanos, &plan_of("TIMESTAMP")).data,
        ColumnData::I64(vec![-2])
    );
    let dates: ArrayRef = Arc::new(Date32Array::from(vec![19_724, -1]));
    let converted = convert(dates.clone(), &plan_of("TIMESTAMP"));
    assert_eq!(
        converted.data,
        ColumnData::I64(vec![1_704_153_600_000, -86_400_000])
    );
    assert_eq!(
        convert(dates.clone(), &plan_of("INT")).data,
        ColumnData::I32(vec![19_724, -1])
    );
    assert_eq!(
        convert(dates, &plan_of("STRING")).data,
        strings(&["2024-01-02", "1969-12-31"])
    );
}

#[test]
fn test_epoch_numbers_use_the_field_format() {
    let schema = Schema::from_value(&json!({
        "schemaName": "t",
        "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP",
            "format": "1:SECONDS:EPOCH", "granularity": "1:SECONDS"}]
    }))
    .expect("schema")
    .value;
    let plan = FieldPlan::new(&FieldCoercer::new(&schema.fields[0]).expect("coercer"));
    let array: ArrayRef = Arc::new(Int64Array::from(vec![2, i64::MAX]));
    let converted = convert(array, &plan);
    assert_eq!(converted.data, ColumnData::I64(vec![2_000, 0]));
    assert_eq!(
        reasons(&converted),
        vec![(1, reason::OUT_OF_RANGE_TIMESTAMP)]
    );
}

#[test]
fn test_string_layouts_and_parsing() {
    let large: ArrayRef = Arc::new(LargeStringArray::from(vec!["a", "bc"]));
    assert_eq!(
        convert(large, &plan_of("STRING")).data,
        strings(&["a", "bc"])
    );
    let view: ArrayRef = Arc::new(StringViewArray::from(vec![
        "a long string beyond twelve",
        "x",
    ]));
    assert_eq!(
        convert(view, &plan_of("STRING")).data,
        strings(&["a long string beyond twelve", "x"])
    );
    let sliced: ArrayRef = Arc::new(StringArray::from(vec!["skip", "7", "x"]).slice(1, 2));
    let converted = convert(sliced, &plan_of("INT"));
    assert_eq!(converted.data, ColumnData::I32(vec![7, 0]));
    assert_eq!(reasons(&converted), vec![(1, reason::NOT_AN_INTEGER)]);
    let with_null: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
    let converted = convert(with_null, &plan_of("STRING"));
    assert_eq!(converted.data, strings(&["a", ""]));
    assert_eq!(converted.nulls, Some(vec![false, true]));
}

#[test]
fn test_dictionary_strings() {
    let dictionary: DictionaryArray<Int32Type> = vec![Some("b"), None, Some("a"), Some("b")]
        .into_iter()
        .collect();
    let array: ArrayRef = Arc::new(dictionary);
    let converted = convert(array, &plan_of("STRING"));
    assert_eq!(converted.data, strings(&["b", "", "a", "b"]));
    assert_eq!(converted.nulls, Some(vec![false, true, false, false]));

    let numbers: DictionaryArray<Int32Type> = vec!["1", "x", "1"].into_iter().collect();
    let converted = convert(Arc::new(numbers), &plan_of("INT"));
    assert_eq!(converted.data, ColumnData::I32(vec![1, 0, 1]));
    assert_eq!(reasons(&converted), vec![(1, reason::NOT_AN_INTEGER)]);
}

#[test]
fn test_binary_into_bytes_string_and_json() {
    let binary: ArrayRef = Arc::new(BinaryArray::from(vec![&b"\xff\x00"[..], b"{}"]));
    let mut raw = VarBytes::default();
    raw.push(b"\xff\x00").expect("small");
    raw.push(b"{}").expect("small");
    assert_eq!(
        convert(binary.clone(), &plan_of("BYTES")).data,
        ColumnData::Bytes(raw)
    );
    let converted = convert(binary.clone(), &plan_of("STRING"));
    assert_eq!(reasons(&converted), vec![(0, reason::NOT_UTF8)]);
    assert_eq!(converted.rejects[0].value, "ff00");
    let converted = convert(binary, &plan_of("JSON"));
    assert_eq!(reasons(&converted), vec![(0, reason::NOT_UTF8)]);
    assert_eq!(converted.data, strings(&["", "{}"]));
    let hex: ArrayRef = Arc::new(StringArray::from(vec!["0aff", "xyz"]));
    let converted = convert(hex, &plan_of("BYTES"));
    assert_eq!(reasons(&converted), vec![(1, reason::INVALID_HEX)]);
}

#[test]
fn test_booleans() {
    let booleans: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]));
    let converted = convert(booleans.clone(), &plan_of("BOOLEAN"));
    assert_eq!(converted.data, ColumnData::I32(vec![1, 0, 0]));
    assert_eq!(converted.nulls, Some(vec![false, false, true]));
    assert_eq!(
        convert(booleans, &plan_of("STRING")).data,
        strings(&["true", "false", ""])
    );
    let numbers: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
    let converted = convert(numbers, &plan_of("BOOLEAN"));
    assert_eq!(reasons(&converted), vec![(1, reason::NOT_A_BOOLEAN)]);
}

#[test]
fn test_unsupported_types() {
    let booleans: ArrayRef = Arc::new(BooleanArray::from(vec![true]));
    assert_eq!(
        convert_column(booleans.as_ref(), &plan_of("LONG")).err(),
        Some(ConvertError::Unsupported)
    );
    let nested: ArrayRef = Arc::new(StructArray::from(vec![(
        Arc::new(arrow_schema::Field::new("a", ArrowType::Int64, false)),
        Arc::new(Int64Array::from(vec![1])) as ArrayRef,
    )]));
    assert_eq!(
        convert_column(nested.as_ref(), &plan_of("LONG")).err(),
        Some(ConvertError::Unsupported)
    );
    let list = string_lists(&[Some(vec![Some("a")])]);
    assert_eq!(
        convert_column(list.as_ref(), &plan_of("STRING")).err(),
        Some(ConvertError::Unsupported)
    );
    let dates: ArrayRef = Arc::new(Date32Array::from(vec![1]));
    assert_eq!(
        convert_column(dates.as_ref(), &plan_of("BYTES")).err(),
        Some(ConvertError::Unsupported)
    );
}

fn string_lists(rows: &[Option<Vec<Option<&str>>>]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        match row {
            Some(items) => {
                for item in items {
                    builder.values().append_option(*item);
                }
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    Arc::new(builder.finish())
}

#[test]
fn test_lists_into_multi_value() {
    let lists = string_lists(&[
        Some(vec![Some("a"), Some("b")]),
        None,
        Some(vec![]),
        Some(vec![Some("c"), None]),
        Some(vec![Some("d")]),
    ]);
    let converted = convert(
        lists,
        &plan(json!({"name": "c", "dataType": "STRING", "singleValueField": false})),
    );
    assert_eq!(
        converted.data,
        ColumnData::Multi {
            offsets: vec![0, 2, 2, 2, 4, 5],
            values: Box::new(strings(&["a", "b", "c", "", "d"])),
        }
    );
    assert_eq!(
        converted.nulls,
        Some(vec![false, true, false, false, false])
    );
    assert_eq!(reasons(&converted), vec![(3, reason::NULL_ELEMENT)]);
}

#[test]
fn test_not_null_fill_for_scalars_and_lists() {
    let array: ArrayRef = Arc::new(Int64Array::from(vec![None, Some(4)]));
    let converted = convert(
        array,
        &plan(json!({"name": "c", "dataType": "LONG", "notNull": true, "defaultNullValue": 9})),
    );
    assert_eq!(converted.data, ColumnData::I64(vec![9, 4]));
    assert_eq!(converted.nulls, None);

    let lists = string_lists(&[None, Some(vec![Some("x")])]);
    let converted = convert(
        lists,
        &plan(
            json!({"name": "c", "dataType": "STRING", "singleValueField": false, "notNull": true}),
        ),
    );
    assert_eq!(
        converted.data,
        ColumnData::Multi {
            offsets: vec![0, 1, 2],
            values: Box::new(strings(&["null", "x"])),
        }
    );
    assert_eq!(converted.nulls, None);
}

#[test]
fn test_scalars_into_multi_value_and_missing_columns() {
    let multi_plan = plan(json!({"name": "c", "dataType": "INT", "singleValueField": false}));
    let array: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(2)]));
    let converted = convert(array, &multi_plan);
    assert_eq!(
        converted.data,
        ColumnData::Multi {
            offsets: vec![0, 1, 1, 2],
            values: Box::new(ColumnData::I32(vec![1, 2])),
        }
    );
    assert_eq!(converted.nulls, Some(vec![false, true, false]));

    let missing = null_column(2, &plan_of("DOUBLE")).expect("null column");
    assert_eq!(missing.data, ColumnData::F64(vec![0.0, 0.0]));
    assert_eq!(missing.nulls, Some(vec![true, true]));
    let missing_multi = null_column(2, &multi_plan).expect("null column");
    assert_eq!(missing_multi.nulls, Some(vec![true, true]));
    assert_eq!(missing_multi.data.len(), 2);
}

#[test]
fn test_empty_arrays_check_types_without_data() {
    for data_type in [
        ArrowType::Int64,
        ArrowType::Utf8,
        ArrowType::Decimal128(15, 2),
    ] {
        let empty = arrow_array::new_empty_array(&data_type);
        assert!(
            convert_column(empty.as_ref(), &plan_of("DOUBLE")).is_ok(),
            "{data_type}"
        );
    }
}
