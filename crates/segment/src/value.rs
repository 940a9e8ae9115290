//! Typed values: the row-at-a-time view of a column value, used by readers' slow paths,
//! tests and row-oriented decoders. Bulk paths use [`crate::batch`] and the typed
//! reader methods instead.

use tessera_config::DataType;

/// One value of a column. `Array` holds the elements of a multi-value cell; its
/// elements are never `Null` (a multi-value cell is either NULL as a whole or an array).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Boolean(bool),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
    String(String),
    Bytes(Vec<u8>),
    Json(String),
    Array(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as JSON the way `segment inspect` and the HTTP API show it:
    /// TIMESTAMP as epoch milliseconds, BYTES as lowercase hex, NaN/infinity as strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Int(v) => J::from(*v),
            Value::Long(v) | Value::Timestamp(v) => J::from(*v),
            Value::Float(v) => float_to_json(f64::from(*v)),
            Value::Double(v) => float_to_json(*v),
            Value::Boolean(v) => J::Bool(*v),
            Value::String(v) | Value::Json(v) => J::String(v.clone()),
            Value::Bytes(v) => J::String(hex(v)),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
        }
    }
}

fn float_to_json(value: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(value) {
        Some(number) => serde_json::Value::Number(number),
        None => serde_json::Value::String(value.to_string()),
    }
}

/// Lowercase hex, the way Pinot renders BYTES.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// How a column's values are laid out in memory and on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PhysicalType {
    /// INT, BOOLEAN (0 = false, 1 = true)
    I32,
    /// LONG, TIMESTAMP (epoch milliseconds)
    I64,
    /// FLOAT
    F32,
    /// DOUBLE
    F64,
    /// STRING, JSON (always valid UTF-8), BYTES
    Bytes,
}

impl PhysicalType {
    pub fn of(data_type: DataType) -> PhysicalType {
        match data_type {
            DataType::Int | DataType::Boolean => PhysicalType::I32,
            DataType::Long | DataType::Timestamp => PhysicalType::I64,
            DataType::Float => PhysicalType::F32,
            DataType::Double => PhysicalType::F64,
            DataType::String | DataType::Json | DataType::Bytes => PhysicalType::Bytes,
        }
    }

    /// Width in bytes of a fixed-width value; `None` for variable-width bytes.
    pub fn fixed_width(self) -> Option<usize> {
        match self {
            PhysicalType::I32 | PhysicalType::F32 => Some(4),
            PhysicalType::I64 | PhysicalType::F64 => Some(8),
            PhysicalType::Bytes => None,
        }
    }
}

/// Total order used by dictionaries and range indexes: numbers by value with
/// `-0.0 < +0.0` and NaN greater than every other float (IEEE 754 totalOrder for
/// positive NaN), byte strings lexicographically (UTF-8 order equals code point order).
pub fn total_cmp_f64(a: f64, b: f64) -> std::cmp::Ordering {
    a.total_cmp(&b)
}

/// Build a typed value from its physical representation.
pub fn value_from_i32(data_type: DataType, raw: i32) -> Value {
    match data_type {
        DataType::Boolean => Value::Boolean(raw != 0),
        _ => Value::Int(raw),
    }
}

pub fn value_from_i64(data_type: DataType, raw: i64) -> Value {
    match data_type {
        DataType::Timestamp => Value::Timestamp(raw),
        _ => Value::Long(raw),
    }
}

pub fn value_from_bytes(data_type: DataType, raw: &[u8]) -> Value {
    match data_type {
        DataType::Bytes => Value::Bytes(raw.to_vec()),
        DataType::Json => Value::Json(String::from_utf8_lossy(raw).into_owned()),
        _ => Value::String(String::from_utf8_lossy(raw).into_owned()),
    }
}
