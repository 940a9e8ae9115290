//! Value coercion shared by every source: how an input value (JSON, CSV text, or a
//! Parquet cell) becomes a value of the schema column's type, or a [`Reject`] with a
//! short stable reason. Realtime JSON ingestion reuses [`FieldCoercer`] unchanged, so a
//! row means the same thing whether it arrives in a file or over HTTP.
//!
//! The rules: numbers convert when no information is lost (an integral float into INT,
//! never a wrapped overflow); text is parsed (trimmed for numbers); TIMESTAMP is epoch
//! milliseconds UTC (numbers in the unit of the field's Pinot `format`, ISO-8601 or the
//! format's `SIMPLE_DATE_FORMAT` pattern for text); BYTES text is hex; a multi-value
//! column takes an array or a single scalar; NULL becomes the field's replacement value
//! when the field is `notNull`.

mod timestamp;

use serde_json::Value as Json;
use tessera_config::schema::DefaultValue;
use tessera_config::{DataType, FieldSpec};
use tessera_segment::Value;

pub use timestamp::{TimestampInput, parse_iso_millis};

/// The reject reasons: short, stable strings that reports group by.
pub mod reason {
    pub const NOT_AN_INTEGER: &str = "not an integer";
    pub const OUT_OF_RANGE_INT: &str = "out of range for INT";
    pub const OUT_OF_RANGE_LONG: &str = "out of range for LONG";
    pub const OUT_OF_RANGE_FLOAT: &str = "out of range for FLOAT";
    pub const OUT_OF_RANGE_TIMESTAMP: &str = "out of range for TIMESTAMP";
    pub const NOT_A_NUMBER: &str = "not a number";
    pub const NOT_A_BOOLEAN: &str = "not a boolean";
    pub const INVALID_TIMESTAMP: &str = "invalid timestamp";
    pub const INVALID_HEX: &str = "invalid hex";
    pub const INVALID_JSON: &str = "invalid json";
    pub const NOT_UTF8: &str = "not utf-8";
    pub const ARRAY_FOR_SINGLE_VALUE: &str = "array for single-value column";
    pub const OBJECT_FOR_SCALAR: &str = "object for non-JSON column";
    pub const NULL_ELEMENT: &str = "null element in multi-value";
    pub const NESTED_ARRAY: &str = "nested array in multi-value";
    pub const INVALID_JSON_LINE: &str = "invalid json line";
    pub const WRONG_FIELD_COUNT: &str = "wrong number of fields";
}

/// Why a value could not be coerced; the string is one of [`reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject(pub &'static str);

pub type Coerced<T> = std::result::Result<T, Reject>;

/// Pinot's default multi-value delimiter in CSV cells.
pub const MULTI_VALUE_DELIMITER: char = ';';

/// Coerces inputs for one schema field. Build once per field, reuse for every row.
#[derive(Debug, Clone)]
pub struct FieldCoercer {
    name: String,
    data_type: DataType,
    single_value: bool,
    timestamp: TimestampInput,
    null_value: Value,
}

impl FieldCoercer {
    /// Fails when the field's dateTime `format` cannot be applied (an unknown unit, an
    /// unsupported pattern letter or time zone); the message names the problem.
    pub fn new(field: &FieldSpec) -> Result<FieldCoercer, String> {
        let timestamp = if field.data_type == DataType::Timestamp {
            TimestampInput::from_format(field.format.as_deref())
                .map_err(|message| format!("{message} column=`{}`", field.name))?
        } else {
            TimestampInput::default()
        };
        Ok(FieldCoercer {
            name: field.name.clone(),
            data_type: field.data_type,
            single_value: field.single_value,
            timestamp,
            null_value: null_value_of(field),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    pub fn single_value(&self) -> bool {
        self.single_value
    }

    /// What a NULL input stores: `Value::Null`, or the replacement for a `notNull` field.
    pub fn null_value(&self) -> &Value {
        &self.null_value
    }

    /// How numeric and text inputs become epoch milliseconds (TIMESTAMP fields).
    pub fn timestamp_input(&self) -> &TimestampInput {
        &self.timestamp
    }

    /// A JSON input; `None` is a missing key. NULL and missing become [`Self::null_value`].
    pub fn coerce_json(&self, input: Option<&Json>) -> Coerced<Value> {
        match input {
            None | Some(Json::Null) => Ok(self.null_value.clone()),
            Some(Json::Array(items)) if !self.single_value => {
                let mut elements = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Json::Null => return Err(Reject(reason::NULL_ELEMENT)),
                        Json::Array(_) if self.data_type != DataType::Json => {
                            return Err(Reject(reason::NESTED_ARRAY));
                        }
                        item => elements.push(self.scalar_from_json(item)?),
                    }
                }
                Ok(Value::Array(elements))
            }
            Some(Json::Array(_)) if self.data_type != DataType::Json => {
                Err(Reject(reason::ARRAY_FOR_SINGLE_VALUE))
            }
            Some(scalar) if !self.single_value => {
                Ok(Value::Array(vec![self.scalar_from_json(scalar)?]))
            }
            Some(scalar) => self.scalar_from_json(scalar),
        }
    }

    /// A CSV cell: empty is NULL; multi-value cells are split on `;`.
    pub fn coerce_text(&self, cell: &str) -> Coerced<Value> {
        if cell.is_empty() {
            return Ok(self.null_value.clone());
        }
        if self.single_value {
            return self.scalar_from_text(cell);
        }
        cell.split(MULTI_VALUE_DELIMITER)
            .map(|element| self.scalar_from_text(element))
            .collect::<Coerced<Vec<Value>>>()
            .map(Value::Array)
    }

    fn scalar_from_json(&self, input: &Json) -> Coerced<Value> {
        if let Json::String(text) = input {
            return self.scalar_from_text(text);
        }
        if self.data_type == DataType::Json {
            return Ok(Value::Json(input.to_string()));
        }
        if let Json::Object(_) = input {
            return Err(Reject(reason::OBJECT_FOR_SCALAR));
        }
        match self.data_type {
            DataType::Int => integer_from_json(input)
                .and_then(int_from_i64)
                .map(Value::Int),
            DataType::Long => integer_from_json(input).map(Value::Long),
            DataType::Float => float_from_json(input)
                .and_then(float_from_f64)
                .map(Value::Float),
            DataType::Double => float_from_json(input).map(Value::Double),
            DataType::Boolean => match input {
                Json::Bool(flag) => Ok(Value::Boolean(*flag)),
                Json::Number(number) => {
                    bool_from_f64(number.as_f64().unwrap_or(f64::NAN)).map(Value::Boolean)
                }
                _ => Err(Reject(reason::NOT_A_BOOLEAN)),
            },
            DataType::Timestamp => match input {
                Json::Number(number) => timestamp_from_json_number(&self.timestamp, number),
                _ => Err(Reject(reason::INVALID_TIMESTAMP)),
            }
            .map(Value::Timestamp),
            DataType::String => Ok(Value::String(input.to_string())),
            DataType::Bytes => Err(Reject(reason::INVALID_HEX)),
            DataType::Json => Ok(Value::Json(input.to_string())),
        }
    }

    /// Text from CSV or a JSON string, converted to this field's type.
    fn scalar_from_text(&self, text: &str) -> Coerced<Value> {
        match self.data_type {
            DataType::Int => parse_int(text).map(Value::Int),
            DataType::Long => parse_long(text).map(Value::Long),
            DataType::Float => parse_float(text).map(Value::Float),
            DataType::Double => parse_double(text).map(Value::Double),
            DataType::Boolean => parse_bool(text).map(Value::Boolean),
            DataType::Timestamp => self.timestamp.parse(text).map(Value::Timestamp),
            DataType::String => Ok(Value::String(text.to_string())),
            DataType::Bytes => {
                let mut bytes = Vec::with_capacity(text.len() / 2);
                decode_hex(text, &mut bytes)?;
                Ok(Value::Bytes(bytes))
            }
            DataType::Json => {
                check_json_text(text)?;
                Ok(Value::Json(text.to_string()))
            }
        }
    }
}

/// The value a NULL input stores for `field`: NULL, or for a `notNull` field its
/// [`FieldSpec::null_replacement`] (a one-element array for a multi-value field).
pub fn null_value_of(field: &FieldSpec) -> Value {
    if !field.not_null {
        return Value::Null;
    }
    let scalar = match field.null_replacement() {
        DefaultValue::Int(value) => Value::Int(value),
        DefaultValue::Long(value) => Value::Long(value),
        DefaultValue::Float(value) => Value::Float(value),
        DefaultValue::Double(value) => Value::Double(value),
        DefaultValue::Boolean(value) => Value::Boolean(value),
        DefaultValue::Timestamp(value) => Value::Timestamp(value),
        DefaultValue::String(text) if field.data_type == DataType::Json => Value::Json(text),
        DefaultValue::String(text) => Value::String(text),
        DefaultValue::Bytes(bytes) => Value::Bytes(bytes),
    };
    if field.single_value {
        scalar
    } else {
        Value::Array(vec![scalar])
    }
}

fn integer_from_json(input: &Json) -> Coerced<i64> {
    match input {
        Json::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Ok(integer)
            } else if number.is_u64() {
                Err(Reject(reason::OUT_OF_RANGE_LONG))
            } else {
                long_from_f64(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        _ => Err(Reject(reason::NOT_AN_INTEGER)),
    }
}

fn float_from_json(input: &Json) -> Coerced<f64> {
    match input {
        Json::Number(number) => number.as_f64().ok_or(Reject(reason::NOT_A_NUMBER)),
        _ => Err(Reject(reason::NOT_A_NUMBER)),
    }
}

fn timestamp_from_json_number(input: &TimestampInput, number: &serde_json::Number) -> Coerced<i64> {
    match number.as_i64() {
        Some(integer) => input.from_i64(integer),
        None if number.is_u64() => Err(Reject(reason::OUT_OF_RANGE_TIMESTAMP)),
        None => input.from_f64(number.as_f64().unwrap_or(f64::NAN)),
    }
}

/// INT from a 64-bit integer; overflow is a reject, never a wrap.
pub fn int_from_i64(value: i64) -> Coerced<i32> {
    i32::try_from(value).map_err(|_| Reject(reason::OUT_OF_RANGE_INT))
}

/// LONG from a float: only integral values in range (`3.0` → 3, `3.5` is rejected).
pub fn long_from_f64(value: f64) -> Coerced<i64> {
    // 2^63 is exactly representable; every f64 below it converts without wrapping.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if value.fract() != 0.0 || value.is_nan() {
        return Err(Reject(reason::NOT_AN_INTEGER));
    }
    if !(-LIMIT..LIMIT).contains(&value) {
        return Err(Reject(reason::OUT_OF_RANGE_LONG));
    }
    Ok(value as i64)
}

/// INT from a float: only integral values in range.
pub fn int_from_f64(value: f64) -> Coerced<i32> {
    if value.fract() != 0.0 || value.is_nan() {
        return Err(Reject(reason::NOT_AN_INTEGER));
    }
    if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&value) {
        return Err(Reject(reason::OUT_OF_RANGE_INT));
    }
    Ok(value as i32)
}

/// FLOAT from a double: NaN and infinities are kept; a finite value beyond FLOAT's range
/// is rejected rather than turned into infinity.
pub fn float_from_f64(value: f64) -> Coerced<f32> {
    let narrowed = value as f32;
    if narrowed.is_infinite() && value.is_finite() {
        return Err(Reject(reason::OUT_OF_RANGE_FLOAT));
    }
    Ok(narrowed)
}

/// BOOLEAN from a number: only 0 and 1.
pub fn bool_from_f64(value: f64) -> Coerced<bool> {
    if value == 0.0 {
        Ok(false)
    } else if value == 1.0 {
        Ok(true)
    } else {
        Err(Reject(reason::NOT_A_BOOLEAN))
    }
}

/// LONG from text: an integer, or an integral decimal (`"3.0"`), surrounding spaces ignored.
pub fn parse_long(text: &str) -> Coerced<i64> {
    let text = text.trim();
    if let Ok(integer) = text.parse::<i64>() {
        return Ok(integer);
    }
    match text.parse::<f64>() {
        Ok(float) if float.is_finite() => long_from_f64(float),
        _ => Err(Reject(reason::NOT_AN_INTEGER)),
    }
}

/// INT from text, as [`parse_long`] with INT's range.
pub fn parse_int(text: &str) -> Coerced<i32> {
    match parse_long(text) {
        Ok(integer) => int_from_i64(integer),
        Err(Reject(reason::OUT_OF_RANGE_LONG)) => Err(Reject(reason::OUT_OF_RANGE_INT)),
        Err(reject) => Err(reject),
    }
}

/// DOUBLE from text; accepts `NaN`, `Infinity`, `-Infinity`, `inf` in any case.
pub fn parse_double(text: &str) -> Coerced<f64> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| Reject(reason::NOT_A_NUMBER))
}

/// FLOAT from text, parsed directly as `f32` (no double rounding).
pub fn parse_float(text: &str) -> Coerced<f32> {
    let text = text.trim();
    let value = text
        .parse::<f32>()
        .map_err(|_| Reject(reason::NOT_A_NUMBER))?;
    if value.is_infinite() && !text.to_ascii_lowercase().contains("inf") {
        return Err(Reject(reason::OUT_OF_RANGE_FLOAT));
    }
    Ok(value)
}

/// BOOLEAN from text: `true`/`false`/`yes`/`no` in any case, `1`/`0`.
pub fn parse_bool(text: &str) -> Coerced<bool> {
    let text = text.trim();
    if ["true", "yes", "1"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
    {
        Ok(true)
    } else if ["false", "no", "0"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
    {
        Ok(false)
    } else {
        Err(Reject(reason::NOT_A_BOOLEAN))
    }
}

/// Appends the bytes of Pinot's hex text (`"0x"` prefix optional) to `out`; on a reject
/// `out` is left as it was.
pub fn decode_hex(text: &str, out: &mut Vec<u8>) -> Coerced<()> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text)
        .as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(Reject(reason::INVALID_HEX));
    }
    let start = out.len();
    for pair in digits.chunks_exact(2) {
        match (hex_digit(pair[0]), hex_digit(pair[1])) {
            (Some(high), Some(low)) => out.push(high << 4 | low),
            _ => {
                out.truncate(start);
                return Err(Reject(reason::INVALID_HEX));
            }
        }
    }
    Ok(())
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// A JSON column's text must be one JSON document.
pub fn check_json_text(text: &str) -> Coerced<()> {
    serde_json::from_str::<Json>(text)
        .map(|_| ())
        .map_err(|_| Reject(reason::INVALID_JSON))
}

/// A float as JSON renders it (`1.5`, `3.0`); NaN and infinities as `NaN`, `inf`, `-inf`.
pub fn float_text(value: f64) -> String {
    match serde_json::Number::from_f64(value) {
        Some(number) => number.to_string(),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tessera_config::Schema;

    use super::*;

    fn coercer(spec: serde_json::Value) -> FieldCoercer {
        let schema = Schema::from_value(&json!({"schemaName": "t", "dimensionFieldSpecs": [spec]}))
            .expect("schema")
            .value;
        FieldCoercer::new(&schema.fields[0]).expect("coercer")
    }

    fn coercer_of(data_type: &str) -> FieldCoercer {
        coercer(json!({"name": "c", "dataType": data_type}))
    }

    fn reject(reason: &'static str) -> Coerced<Value> {
        Err(Reject(reason))
    }

    #[test]
    fn test_integers_from_json_and_text() {
        let int = coercer_of("INT");
        assert_eq!(int.coerce_json(Some(&json!(7))), Ok(Value::Int(7)));
        assert_eq!(int.coerce_json(Some(&json!(3.0))), Ok(Value::Int(3)));
        assert_eq!(
            int.coerce_json(Some(&json!(3.5))),
            reject(reason::NOT_AN_INTEGER)
        );
        assert_eq!(
            int.coerce_json(Some(&json!(3_000_000_000_i64))),
            reject(reason::OUT_OF_RANGE_INT)
        );
        assert_eq!(
            int.coerce_json(Some(&json!(true))),
            reject(reason::NOT_AN_INTEGER)
        );
        assert_eq!(int.coerce_json(Some(&json!(" 42 "))), Ok(Value::Int(42)));
        assert_eq!(int.coerce_text("3.0"), Ok(Value::Int(3)));
        assert_eq!(int.coerce_text("abc"), reject(reason::NOT_AN_INTEGER));
        assert_eq!(
            int.coerce_text("2147483648"),
            reject(reason::OUT_OF_RANGE_INT)
        );
        let long = coercer_of("LONG");
        assert_eq!(
            long.coerce_json(Some(&json!(u64::MAX))),
            reject(reason::OUT_OF_RANGE_LONG)
        );
        assert_eq!(
            long.coerce_text("-9223372036854775808"),
            Ok(Value::Long(i64::MIN))
        );
        assert_eq!(
            long.coerce_text("99999999999999999999"),
            reject(reason::OUT_OF_RANGE_LONG)
        );
        assert_eq!(
            long.coerce_json(Some(&json!({"a": 1}))),
            reject(reason::OBJECT_FOR_SCALAR)
        );
    }

    #[test]
    fn test_floats_keep_nan_and_infinity() {
        let double = coercer_of("DOUBLE");
        assert_eq!(double.coerce_text("1.25"), Ok(Value::Double(1.25)));
        assert_eq!(
            double.coerce_text("-Infinity"),
            Ok(Value::Double(f64::NEG_INFINITY))
        );
        assert_eq!(double.coerce_text("inf"), Ok(Value::Double(f64::INFINITY)));
        assert!(matches!(double.coerce_text("NaN"), Ok(Value::Double(v)) if v.is_nan()));
        assert_eq!(double.coerce_json(Some(&json!(2))), Ok(Value::Double(2.0)));
        assert_eq!(double.coerce_text("x"), reject(reason::NOT_A_NUMBER));
        let float = coercer_of("FLOAT");
        assert_eq!(float.coerce_text("0.1"), Ok(Value::Float(0.1)));
        assert_eq!(
            float.coerce_text("1e50"),
            reject(reason::OUT_OF_RANGE_FLOAT)
        );
        assert_eq!(
            float.coerce_json(Some(&json!(1e300))),
            reject(reason::OUT_OF_RANGE_FLOAT)
        );
        assert_eq!(
            float.coerce_text("Infinity"),
            Ok(Value::Float(f32::INFINITY))
        );
    }

    #[test]
    fn test_booleans() {
        let boolean = coercer_of("BOOLEAN");
        for (input, expected) in [("TRUE", true), ("no", false), ("1", true), ("Yes", true)] {
            assert_eq!(
                boolean.coerce_text(input),
                Ok(Value::Boolean(expected)),
                "{input}"
            );
        }
        assert_eq!(
            boolean.coerce_json(Some(&json!(0))),
            Ok(Value::Boolean(false))
        );
        assert_eq!(
            boolean.coerce_json(Some(&json!(2))),
            reject(reason::NOT_A_BOOLEAN)
        );
        assert_eq!(boolean.coerce_text("maybe"), reject(reason::NOT_A_BOOLEAN));
    }

    #[test]
    fn test_timestamps_follow_the_format() {
        let plain = coercer_of("TIMESTAMP");
        assert_eq!(
            plain.coerce_json(Some(&json!(1_000))),
            Ok(Value::Timestamp(1_000))
        );
        assert_eq!(
            plain.coerce_json(Some(&json!("2024-01-02T03:04:05Z"))),
            Ok(Value::Timestamp(1_704_164_645_000))
        );
        assert_eq!(plain.coerce_text("12"), Ok(Value::Timestamp(12)));
        assert_eq!(plain.coerce_text("soon"), reject(reason::INVALID_TIMESTAMP));
        let seconds = coercer(json!({"name": "c", "dataType": "TIMESTAMP"}));
        assert_eq!(
            seconds.coerce_json(Some(&json!(1.5))),
            reject(reason::INVALID_TIMESTAMP)
        );
        let schema = Schema::from_value(&json!({
            "schemaName": "t",
            "dateTimeFieldSpecs": [
                {"name": "s", "dataType": "TIMESTAMP", "format": "1:SECONDS:EPOCH", "granularity": "1:SECONDS"},
                {"name": "l", "dataType": "LONG", "format": "1:SECONDS:EPOCH", "granularity": "1:SECONDS"}
            ]
        }))
        .expect("schema")
        .value;
        let in_seconds = FieldCoercer::new(&schema.fields[0]).expect("coercer");
        assert_eq!(
            in_seconds.coerce_json(Some(&json!(2))),
            Ok(Value::Timestamp(2_000))
        );
        assert_eq!(in_seconds.coerce_text("3"), Ok(Value::Timestamp(3_000)));
        let long_seconds = FieldCoercer::new(&schema.fields[1]).expect("coercer");
        assert_eq!(
            long_seconds.coerce_json(Some(&json!(2))),
            Ok(Value::Long(2))
        );
    }

    #[test]
    fn test_strings_bytes_and_json() {
        let string = coercer_of("STRING");
        assert_eq!(
            string.coerce_json(Some(&json!(1.5))),
            Ok(Value::String("1.5".into()))
        );
        assert_eq!(
            string.coerce_json(Some(&json!(true))),
            Ok(Value::String("true".into()))
        );
        assert_eq!(
            string.coerce_json(Some(&json!([1]))),
            reject(reason::ARRAY_FOR_SINGLE_VALUE)
        );
        assert_eq!(
            string.coerce_json(Some(&json!({}))),
            reject(reason::OBJECT_FOR_SCALAR)
        );
        assert_eq!(string.coerce_text(" a "), Ok(Value::String(" a ".into())));
        let bytes = coercer_of("BYTES");
        assert_eq!(
            bytes.coerce_text("0xDEad"),
            Ok(Value::Bytes(vec![0xde, 0xad]))
        );
        assert_eq!(bytes.coerce_text("abc"), reject(reason::INVALID_HEX));
        assert_eq!(bytes.coerce_text("zz"), reject(reason::INVALID_HEX));
        let json_column = coercer_of("JSON");
        assert_eq!(
            json_column.coerce_json(Some(&json!({"a": [1, 2]}))),
            Ok(Value::Json("{\"a\":[1,2]}".into()))
        );
        assert_eq!(
            json_column.coerce_json(Some(&json!([1]))),
            Ok(Value::Json("[1]".into()))
        );
        assert_eq!(
            json_column.coerce_json(Some(&json!(3))),
            Ok(Value::Json("3".into()))
        );
        assert_eq!(
            json_column.coerce_json(Some(&json!("{\"b\": 1}"))),
            Ok(Value::Json("{\"b\": 1}".into()))
        );
        assert_eq!(
            json_column.coerce_json(Some(&json!("abc"))),
            reject(reason::INVALID_JSON)
        );
    }

    #[test]
    fn test_nulls_and_not_null_replacement() {
        let nullable = coercer_of("INT");
        assert_eq!(nullable.coerce_json(None), Ok(Value::Null));
        assert_eq!(nullable.coerce_json(Some(&json!(null))), Ok(Value::Null));
        assert_eq!(nullable.coerce_text(""), Ok(Value::Null));
        let replaced = coercer(
            json!({"name": "c", "dataType": "INT", "notNull": true, "defaultNullValue": 5}),
        );
        assert_eq!(replaced.coerce_json(None), Ok(Value::Int(5)));
        assert_eq!(replaced.coerce_text(""), Ok(Value::Int(5)));
        let pinot_default = coercer(json!({"name": "c", "dataType": "STRING", "notNull": true}));
        assert_eq!(
            pinot_default.coerce_text(""),
            Ok(Value::String("null".into()))
        );
    }

    #[test]
    fn test_multi_values() {
        let tags = coercer(json!({"name": "c", "dataType": "INT", "singleValueField": false}));
        assert_eq!(
            tags.coerce_json(Some(&json!([1, "2"]))),
            Ok(Value::Array(vec![Value::Int(1), Value::Int(2)]))
        );
        assert_eq!(
            tags.coerce_json(Some(&json!(3))),
            Ok(Value::Array(vec![Value::Int(3)]))
        );
        assert_eq!(
            tags.coerce_json(Some(&json!([1, null]))),
            reject(reason::NULL_ELEMENT)
        );
        assert_eq!(
            tags.coerce_json(Some(&json!([[1]]))),
            reject(reason::NESTED_ARRAY)
        );
        assert_eq!(tags.coerce_json(Some(&json!([]))), Ok(Value::Array(vec![])));
        assert_eq!(
            tags.coerce_text("1;2;3"),
            Ok(Value::Array(vec![
                Value::Int(1),
                Value::Int(2),
                Value::Int(3)
            ]))
        );
        assert_eq!(tags.coerce_text("1;x"), reject(reason::NOT_AN_INTEGER));
        let not_null = coercer(
            json!({"name": "c", "dataType": "LONG", "singleValueField": false, "notNull": true}),
        );
        assert_eq!(
            not_null.coerce_text(""),
            Ok(Value::Array(vec![Value::Long(i64::MIN)]))
        );
    }
}
