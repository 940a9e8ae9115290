//! The value a column stores in place of NULL, and how Pinot's `defaultNullValue` is read.
//!
//! Pinot writes `defaultNullValue` loosely — `-1`, `"-1"`, `"2020-01-01 00:00:00"`,
//! `"deadbeef"` for BYTES — and converts it through the column's type. Coercion here
//! follows the same rules so a config Pinot accepts is accepted here with the same value.

use serde_json::Value;

use super::{DataType, FieldRole};
use crate::json_reader::json_kind;

/// A typed default value: what a NULL input becomes in a `notNull` column.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Boolean(bool),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// Also used for JSON columns, holding the JSON text.
    String(String),
    Bytes(Vec<u8>),
}

/// Pinot's built-in default for a column without `defaultNullValue`. Metrics default to
/// zero so sums stay meaningful; other numeric columns to the type's minimum, which sorts
/// NULLs first and is unlikely to collide with real data.
pub(crate) fn pinot_default(data_type: DataType, role: FieldRole) -> DefaultValue {
    let is_metric = role == FieldRole::Metric;
    match data_type {
        DataType::Int if is_metric => DefaultValue::Int(0),
        DataType::Long if is_metric => DefaultValue::Long(0),
        DataType::Float if is_metric => DefaultValue::Float(0.0),
        DataType::Double if is_metric => DefaultValue::Double(0.0),
        DataType::Int => DefaultValue::Int(i32::MIN),
        DataType::Long => DefaultValue::Long(i64::MIN),
        DataType::Float => DefaultValue::Float(f32::NEG_INFINITY),
        DataType::Double => DefaultValue::Double(f64::NEG_INFINITY),
        DataType::Boolean => DefaultValue::Boolean(false),
        DataType::Timestamp => DefaultValue::Timestamp(0),
        DataType::String | DataType::Json => DefaultValue::String("null".to_string()),
        DataType::Bytes => DefaultValue::Bytes(Vec::new()),
    }
}

/// Converts a configured `defaultNullValue` to `data_type`; the error explains why not.
pub(crate) fn coerce(value: &Value, data_type: DataType) -> Result<DefaultValue, String> {
    let cannot = |expected: &str| {
        format!(
            "defaultNullValue must be {expected} for a {data_type} column, found {}",
            describe(value)
        )
    };
    match data_type {
        DataType::Int => integer_of(value)
            .and_then(|number| i32::try_from(number).ok())
            .map(DefaultValue::Int)
            .ok_or_else(|| cannot("a 32-bit integer")),
        DataType::Long => integer_of(value)
            .map(DefaultValue::Long)
            .ok_or_else(|| cannot("a 64-bit integer")),
        DataType::Float => float_of(value)
            .filter(|number| number.is_infinite() || (*number as f32).is_finite())
            .map(|number| DefaultValue::Float(number as f32))
            .ok_or_else(|| cannot("a number in FLOAT range")),
        DataType::Double => float_of(value)
            .map(DefaultValue::Double)
            .ok_or_else(|| cannot("a number")),
        DataType::Boolean => boolean_of(value)
            .map(DefaultValue::Boolean)
            .ok_or_else(|| cannot("true, false, 1 or 0")),
        DataType::Timestamp => timestamp_of(value)
            .map(DefaultValue::Timestamp)
            .ok_or_else(|| cannot("epoch milliseconds or a `yyyy-MM-dd HH:mm:ss` timestamp")),
        DataType::String => match value {
            Value::String(text) => Ok(DefaultValue::String(text.clone())),
            Value::Number(_) | Value::Bool(_) => Ok(DefaultValue::String(value.to_string())),
            Value::Null | Value::Array(_) | Value::Object(_) => Err(cannot("a string")),
        },
        DataType::Json => match value {
            Value::String(text) => Ok(DefaultValue::String(text.clone())),
            other => Ok(DefaultValue::String(other.to_string())),
        },
        DataType::Bytes => match value {
            Value::String(text) => crate::hex::decode_hex(text)
                .map(DefaultValue::Bytes)
                .ok_or_else(|| cannot("a hex string")),
            _ => Err(cannot("a hex string")),
        },
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => format!("`{value}`"),
        other => json_kind(other).to_string(),
    }
}

fn integer_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

fn float_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        // Rust accepts Java's spellings too: "Infinity", "-Infinity", "NaN".
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

fn boolean_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(text) if text.eq_ignore_ascii_case("true") || text == "1" => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") || text == "0" => Some(false),
        _ => None,
    }
}

fn timestamp_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.parse().ok().or_else(|| parse_timestamp_text(text)),
        _ => None,
    }
}

/// Parses `yyyy-MM-dd`, `yyyy-MM-dd HH:mm[:ss[.fff]]` (space or `T`, optional `Z`) as UTC
/// epoch milliseconds — the forms Pinot's `Timestamp.valueOf` and ISO-8601 users write.
pub(crate) fn parse_timestamp_text(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date_text, time_text) = match text.find([' ', 'T']) {
        Some(split) => (&text[..split], Some(&text[split + 1..])),
        None => (text, None),
    };
    let mut date_parts = date_text.split('-');
    let year: i64 = parse_digits(date_parts.next()?, 4)?;
    let month: i64 = parse_digits(date_parts.next()?, 2)?;
    let day: i64 = parse_digits(date_parts.next()?, 2)?;
    if date_parts.next().is_some() || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let millis_of_day = match time_text {
        Some(time_text) => parse_time_of_day_millis(time_text)?,
        None => 0,
    };
    Some(days_from_civil(year, month, day) * 86_400_000 + millis_of_day)
}

fn parse_time_of_day_millis(text: &str) -> Option<i64> {
    let (clock_text, fraction_text) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let mut clock_parts = clock_text.split(':');
    let hour: i64 = parse_digits(clock_parts.next()?, 2)?;
    let minute: i64 = parse_digits(clock_parts.next()?, 2)?;
    let second: i64 = match clock_parts.next() {
        Some(second_text) => parse_digits(second_text, 2)?,
        None => 0,
    };
    if clock_parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let millis = match fraction_text {
        Some(fraction)
            if (1..=9).contains(&fraction.len())
                && fraction.bytes().all(|byte| byte.is_ascii_digit()) =>
        {
            let digits: String = fraction.chars().chain("00".chars()).take(3).collect();
            parse_digits(&digits, 3)?
        }
        Some(_) => return None,
        None => 0,
    };
    Some(((hour * 60 + minute) * 60 + second) * 1000 + millis)
}

/// Parses exactly `width` ASCII digits.
fn parse_digits(text: &str, width: usize) -> Option<i64> {
    if text.len() != width || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let is_leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if is_leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn test_pinot_defaults_depend_on_role() {
        assert_eq!(
            pinot_default(DataType::Int, FieldRole::Dimension),
            DefaultValue::Int(i32::MIN)
        );
        assert_eq!(
            pinot_default(DataType::Long, FieldRole::DateTime),
            DefaultValue::Long(i64::MIN)
        );
        assert_eq!(
            pinot_default(DataType::Double, FieldRole::Dimension),
            DefaultValue::Double(f64::NEG_INFINITY)
        );
        assert_eq!(
            pinot_default(DataType::Double, FieldRole::Metric),
            DefaultValue::Double(0.0)
        );
        assert_eq!(
            pinot_default(DataType::Int, FieldRole::Metric),
            DefaultValue::Int(0)
        );
        assert_eq!(
            pinot_default(DataType::String, FieldRole::Dimension),
            DefaultValue::String("null".to_string())
        );
        assert_eq!(
            pinot_default(DataType::Json, FieldRole::Dimension),
            DefaultValue::String("null".to_string())
        );
        assert_eq!(
            pinot_default(DataType::Boolean, FieldRole::Dimension),
            DefaultValue::Boolean(false)
        );
        assert_eq!(
            pinot_default(DataType::Timestamp, FieldRole::DateTime),
            DefaultValue::Timestamp(0)
        );
        assert_eq!(
            pinot_default(DataType::Bytes, FieldRole::Metric),
            DefaultValue::Bytes(vec![])
        );
    }

    #[test]
    fn test_coerce_accepts_numbers_and_numeric_strings() {
        assert_eq!(coerce(&json!(-1), DataType::Int), Ok(DefaultValue::Int(-1)));
        assert_eq!(
            coerce(&json!("-1"), DataType::Int),
            Ok(DefaultValue::Int(-1))
        );
        assert_eq!(
            coerce(&json!("7"), DataType::Long),
            Ok(DefaultValue::Long(7))
        );
        assert_eq!(
            coerce(&json!(1.5), DataType::Float),
            Ok(DefaultValue::Float(1.5))
        );
        assert_eq!(
            coerce(&json!("2.5"), DataType::Double),
            Ok(DefaultValue::Double(2.5))
        );
        assert_eq!(
            coerce(&json!("-Infinity"), DataType::Double),
            Ok(DefaultValue::Double(f64::NEG_INFINITY))
        );
        assert_eq!(
            coerce(&json!(3), DataType::String),
            Ok(DefaultValue::String("3".into()))
        );
    }

    #[test]
    fn test_coerce_rejects_out_of_range_and_wrong_kinds() {
        let error = coerce(&json!(3_000_000_000_i64), DataType::Int).expect_err("too big");
        assert!(error.contains("32-bit integer"), "{error}");
        assert!(coerce(&json!(1.5), DataType::Int).is_err());
        assert!(coerce(&json!("abc"), DataType::Long).is_err());
        assert!(coerce(&json!(1e300), DataType::Float).is_err());
        assert!(coerce(&json!([1]), DataType::String).is_err());
        assert!(coerce(&json!("xyz"), DataType::Bytes).is_err());
        assert!(coerce(&json!(2), DataType::Boolean).is_err());
    }

    #[test]
    fn test_coerce_booleans_bytes_and_json() {
        assert_eq!(
            coerce(&json!("TRUE"), DataType::Boolean),
            Ok(DefaultValue::Boolean(true))
        );
        assert_eq!(
            coerce(&json!(0), DataType::Boolean),
            Ok(DefaultValue::Boolean(false))
        );
        assert_eq!(
            coerce(&json!("DEADbeef"), DataType::Bytes),
            Ok(DefaultValue::Bytes(vec![0xde, 0xad, 0xbe, 0xef]))
        );
        assert_eq!(
            coerce(&json!(""), DataType::Bytes),
            Ok(DefaultValue::Bytes(vec![]))
        );
        assert_eq!(
            coerce(&json!({"a": 1}), DataType::Json),
            Ok(DefaultValue::String("{\"a\":1}".into()))
        );
    }

    #[test]
    fn test_coerce_timestamps_from_millis_and_text() {
        assert_eq!(
            coerce(&json!(0), DataType::Timestamp),
            Ok(DefaultValue::Timestamp(0))
        );
        assert_eq!(
            coerce(&json!("2020-01-01 00:00:00"), DataType::Timestamp),
            Ok(DefaultValue::Timestamp(1_577_836_800_000))
        );
        assert_eq!(parse_timestamp_text("1970-01-01"), Some(0));
        assert_eq!(
            parse_timestamp_text("2000-02-29T12:30:15.5Z"),
            Some(951_827_415_500)
        );
        assert_eq!(parse_timestamp_text("1969-12-31 23:59:59.999"), Some(-1));
        assert_eq!(parse_timestamp_text("2001-02-29"), None);
        assert_eq!(parse_timestamp_text("2020-13-01"), None);
        assert_eq!(parse_timestamp_text("2020-01-01 24:00:00"), None);
        assert_eq!(parse_timestamp_text("yesterday"), None);
    }
}
