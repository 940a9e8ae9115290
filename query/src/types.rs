//! The engine's types: [`SqlType`] (a column's or expression's logical type, named as
//! Pinot names it in `columnDataTypes`) and [`Scalar`] (one value: literals, group keys,
//! result cells).

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use tessera_config::DataType;
use tessera_segment::Value;

/// Logical type of a column or expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    /// Epoch milliseconds, UTC.
    Timestamp,
    String,
    Json,
    Bytes,
    /// The type of a bare NULL literal.
    Null,
}

impl SqlType {
    pub fn of(data_type: DataType) -> SqlType {
        match data_type {
            DataType::Int => SqlType::Int,
            DataType::Long => SqlType::Long,
            DataType::Float => SqlType::Float,
            DataType::Double => SqlType::Double,
            DataType::Boolean => SqlType::Boolean,
            DataType::Timestamp => SqlType::Timestamp,
            DataType::String => SqlType::String,
            DataType::Bytes => SqlType::Bytes,
            DataType::Json => SqlType::Json,
        }
    }

    /// Pinot's name for the type in `columnDataTypes`.
    pub fn pinot_name(self) -> &'static str {
        match self {
            SqlType::Boolean => "BOOLEAN",
            SqlType::Int => "INT",
            SqlType::Long => "LONG",
            SqlType::Float => "FLOAT",
            SqlType::Double => "DOUBLE",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::String => "STRING",
            SqlType::Json => "JSON",
            SqlType::Bytes => "BYTES",
            SqlType::Null => "UNKNOWN",
        }
    }

    /// Integer types held as i64 (INT, LONG, TIMESTAMP).
    pub fn is_integer(self) -> bool {
        matches!(self, SqlType::Int | SqlType::Long)
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            SqlType::Int | SqlType::Long | SqlType::Float | SqlType::Double
        )
    }

    pub fn is_floating(self) -> bool {
        matches!(self, SqlType::Float | SqlType::Double)
    }

    pub fn is_text(self) -> bool {
        matches!(self, SqlType::String | SqlType::Json)
    }

    /// Values held in the engine as i64.
    pub fn is_i64_backed(self) -> bool {
        matches!(self, SqlType::Int | SqlType::Long | SqlType::Timestamp)
    }
}

/// A column's full type: a multi-value column holds arrays of `element`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnType {
    pub element: SqlType,
    pub single_value: bool,
}

impl ColumnType {
    pub fn pinot_name(self) -> String {
        if self.single_value {
            self.element.pinot_name().to_string()
        } else {
            format!("{}_ARRAY", self.element.pinot_name())
        }
    }
}

/// One value. Integers, timestamps and booleans' siblings share representations with
/// their [`SqlType`] deciding how they print.
#[derive(Debug, Clone)]
pub enum Scalar {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<Scalar>),
}

impl Scalar {
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// From a segment value (multi-value cells become arrays).
    pub fn from_value(value: Value) -> Scalar {
        match value {
            Value::Null => Scalar::Null,
            Value::Int(v) => Scalar::Long(i64::from(v)),
            Value::Long(v) | Value::Timestamp(v) => Scalar::Long(v),
            Value::Float(v) => Scalar::Double(f64::from(v)),
            Value::Double(v) => Scalar::Double(v),
            Value::Boolean(v) => Scalar::Bool(v),
            Value::String(v) | Value::Json(v) => Scalar::Str(v),
            Value::Bytes(v) => Scalar::Bytes(v),
            Value::Array(items) => {
                Scalar::Array(items.into_iter().map(Scalar::from_value).collect())
            }
        }
    }

    /// As a segment value of a column's type (for dictionary and index probes).
    pub fn to_value(&self, ty: SqlType) -> Option<Value> {
        Some(match (self, ty) {
            (Scalar::Null, _) => Value::Null,
            (Scalar::Long(v), SqlType::Int) => Value::Int(i32::try_from(*v).ok()?),
            (Scalar::Long(v), SqlType::Long) => Value::Long(*v),
            (Scalar::Long(v), SqlType::Timestamp) => Value::Timestamp(*v),
            (Scalar::Double(v), SqlType::Float) => {
                let narrowed = *v as f32;
                if f64::from(narrowed) != *v && !v.is_nan() {
                    return None;
                }
                Value::Float(narrowed)
            }
            (Scalar::Long(v), SqlType::Float) => {
                let narrowed = *v as f32;
                if narrowed as i64 != *v {
                    return None;
                }
                Value::Float(narrowed)
            }
            (Scalar::Double(v), SqlType::Double) => Value::Double(*v),
            (Scalar::Long(v), SqlType::Double) => {
                let widened = *v as f64;
                if widened as i64 != *v {
                    return None;
                }
                Value::Double(widened)
            }
            (Scalar::Bool(v), SqlType::Boolean) => Value::Boolean(*v),
            (Scalar::Str(v), SqlType::String) => Value::String(v.clone()),
            (Scalar::Str(v), SqlType::Json) => Value::Json(v.clone()),
            (Scalar::Bytes(v), SqlType::Bytes) => Value::Bytes(v.clone()),
            _ => return None,
        })
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Long(v) => Some(*v as f64),
            Scalar::Double(v) => Some(*v),
            Scalar::Bool(v) => Some(f64::from(u8::from(*v))),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Long(v) => Some(*v),
            Scalar::Bool(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(v) => Some(v),
            _ => None,
        }
    }

    /// SQL ordering of two non-null values; numbers compare across int/float, floats by
    /// IEEE total order (NaN last). Values of unrelated kinds order by kind.
    pub fn sql_cmp(&self, other: &Scalar) -> Ordering {
        match (self, other) {
            (Scalar::Null, Scalar::Null) => Ordering::Equal,
            (Scalar::Null, _) => Ordering::Greater,
            (_, Scalar::Null) => Ordering::Less,
            (Scalar::Long(a), Scalar::Long(b)) => a.cmp(b),
            (Scalar::Double(a), Scalar::Double(b)) => a.total_cmp(b),
            (Scalar::Long(a), Scalar::Double(b)) => cmp_i64_f64(*a, *b),
            (Scalar::Double(a), Scalar::Long(b)) => cmp_i64_f64(*b, *a).reverse(),
            (Scalar::Bool(a), Scalar::Bool(b)) => a.cmp(b),
            (Scalar::Str(a), Scalar::Str(b)) => a.cmp(b),
            (Scalar::Bytes(a), Scalar::Bytes(b)) => a.cmp(b),
            (Scalar::Array(a), Scalar::Array(b)) => {
                for (x, y) in a.iter().zip(b) {
                    let ordering = x.sql_cmp(y);
                    if ordering != Ordering::Equal {
                        return ordering;
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.kind_rank().cmp(&other.kind_rank()),
        }
    }

    fn kind_rank(&self) -> u8 {
        match self {
            Scalar::Bool(_) => 0,
            Scalar::Long(_) | Scalar::Double(_) => 1,
            Scalar::Str(_) => 2,
            Scalar::Bytes(_) => 3,
            Scalar::Array(_) => 4,
            Scalar::Null => 5,
        }
    }
}

/// An integer as an unsigned word of the same order (its sign bit flipped).
#[inline]
pub fn ordered_u64(value: i64) -> u64 {
    (value as u64) ^ (1 << 63)
}

/// The integer of an [`ordered_u64`] word.
#[inline]
pub fn from_ordered_u64(word: u64) -> i64 {
    (word ^ (1 << 63)) as i64
}

/// The integer whose order is `f64::total_cmp`'s (the same transform the standard
/// library applies): sign-magnitude bits turned into two's complement.
#[inline]
pub fn total_order_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The double of a [`total_order_key`] (the transform is its own inverse on the bits).
#[inline]
pub fn from_total_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ (((key >> 63) as u64) >> 1) as i64) as u64)
}

/// Compare an integer with a float exactly (no rounding of large integers).
pub fn cmp_i64_f64(a: i64, b: f64) -> Ordering {
    if b.is_nan() {
        return Ordering::Less;
    }
    if b >= 9.223_372_036_854_776e18 {
        return Ordering::Less;
    }
    if b < -9.223_372_036_854_776e18 {
        return Ordering::Greater;
    }
    let truncated = b.trunc() as i64;
    match a.cmp(&truncated) {
        Ordering::Equal => {
            let fraction = b - b.trunc();
            if fraction > 0.0 {
                Ordering::Less
            } else if fraction < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        other => other,
    }
}

/// Equality and hashing for grouping: NULLs group together, -0.0 equals 0.0, all NaNs
/// are one group, and an integral double equals the same integer.
impl PartialEq for Scalar {
    fn eq(&self, other: &Scalar) -> bool {
        match (self, other) {
            (Scalar::Null, Scalar::Null) => true,
            (Scalar::Double(a), Scalar::Double(b)) => (a.is_nan() && b.is_nan()) || a == b,
            _ => !self.is_null() && !other.is_null() && self.sql_cmp(other) == Ordering::Equal,
        }
    }
}

impl Eq for Scalar {}

impl Hash for Scalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Scalar::Null => state.write_u8(0),
            Scalar::Bool(v) => {
                state.write_u8(1);
                v.hash(state);
            }
            Scalar::Long(v) => {
                state.write_u8(2);
                v.hash(state);
            }
            Scalar::Double(v) => {
                if v.fract() == 0.0 && v.abs() < 9.0e18 {
                    state.write_u8(2);
                    (*v as i64).hash(state);
                } else if v.is_nan() {
                    state.write_u8(3);
                } else {
                    state.write_u8(4);
                    v.to_bits().hash(state);
                }
            }
            Scalar::Str(v) => {
                state.write_u8(5);
                v.hash(state);
            }
            Scalar::Bytes(v) => {
                state.write_u8(6);
                v.hash(state);
            }
            Scalar::Array(items) => {
                state.write_u8(7);
                items.hash(state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_numeric_comparison_is_exact() {
        assert_eq!(cmp_i64_f64(3, 3.5), Ordering::Less);
        assert_eq!(cmp_i64_f64(4, 3.5), Ordering::Greater);
        assert_eq!(cmp_i64_f64(-3, -3.5), Ordering::Greater);
        assert_eq!(cmp_i64_f64(i64::MAX, 9.3e18), Ordering::Less);
        assert_eq!(cmp_i64_f64(5, 5.0), Ordering::Equal);
        assert_eq!(Scalar::Long(5), Scalar::Double(5.0));
        assert_eq!(Scalar::Double(-0.0), Scalar::Double(0.0));
    }
}
