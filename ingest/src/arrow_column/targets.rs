//! Per-type conversion rules for Arrow values, one target per schema type: which Arrow
//! value families a target accepts (checked once per file, before reading) and how each
//! value converts. The rules match [`crate::coerce`] for JSON and CSV inputs.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate};

use crate::coerce::{
    Coerced, Reject, TimestampInput, bool_from_f64, check_json_text, decode_hex, float_from_f64,
    float_text, int_from_f64, int_from_i64, long_from_f64, parse_bool, parse_double, parse_float,
    parse_int, parse_long, reason,
};

pub(super) const MILLIS_PER_DAY: i64 = 86_400_000;

/// The families Arrow value types fall into for conversion purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Integer,
    Float,
    Decimal,
    Boolean,
    Text,
    Binary,
    /// Date32: days since the epoch.
    Days,
    /// Date64 and Timestamp: an instant, converted to epoch milliseconds first.
    Instant,
}

/// Used for families a target does not accept; never reached because
/// [`FixedTarget::accepts`] is checked before converting.
const UNSUPPORTED: Reject = Reject("unsupported input type");

/// A schema type as a conversion target. Fixed-width targets (INT, BOOLEAN, LONG,
/// TIMESTAMP, FLOAT, DOUBLE) return the value and use no buffer; bytes targets (STRING,
/// JSON, BYTES) append the value to the buffer and return `()`; on a reject they may leave
/// partial bytes behind (the caller truncates).
pub(super) trait Target {
    type Out: Copy + Default;
    type Buf;
    /// The reason for an integer input beyond 64 bits (an unsigned 64-bit value).
    const OUT_OF_RANGE: &'static str;
    /// Utf8 input is stored unchanged, so a column without NULLs can be copied whole.
    const COPIES_UTF8: bool = false;
    fn accepts(&self, family: Family) -> bool;
    fn integer(&self, _value: i64, _buf: &mut Self::Buf) -> Coerced<Self::Out> {
        Err(UNSUPPORTED)
    }
    fn float(&self, _value: f64, _buf: &mut Self::Buf) -> Coerced<Self::Out> {
        Err(UNSUPPORTED)
    }
    fn decimal(&self, _value: i128, _scale: i8, _buf: &mut Self::Buf) -> Coerced<Self::Out> {
        Err(UNSUPPORTED)
    }
    fn boolean(&self, _value: bool, _buf: &mut Self::Buf) -> Coerced<Self::Out> {
        Err(UNSUPPORTED)
    }
    fn text(&self, _value: &str, _buf: &mut Self::Buf) -> Coerced<Self::Out> {
        Err(UNSUPPORTED)
    }
    fn binary(&self, _value: &[u8], _buf: &mut Self::Buf) -> Coerced<Self::Out> {
        Err(UNSUPPORTED)
    }
    fn days(&self, _value: i32, _buf: &mut Self::Buf) -> Coerced<Self::Out> {
        Err(UNSUPPORTED)
    }
    fn millis(&self, _value: i64, _buf: &mut Self::Buf) -> Coerced<Self::Out> {
        Err(UNSUPPORTED)
    }
}

pub(super) struct IntTarget;

impl Target for IntTarget {
    type Out = i32;
    type Buf = ();
    const OUT_OF_RANGE: &'static str = reason::OUT_OF_RANGE_INT;
    fn accepts(&self, family: Family) -> bool {
        use Family::*;
        matches!(family, Integer | Float | Decimal | Text | Days)
    }
    fn integer(&self, value: i64, _: &mut ()) -> Coerced<i32> {
        int_from_i64(value)
    }
    fn float(&self, value: f64, _: &mut ()) -> Coerced<i32> {
        int_from_f64(value)
    }
    fn decimal(&self, value: i128, scale: i8, _: &mut ()) -> Coerced<i32> {
        match decimal_to_i64(value, scale) {
            Ok(integer) => int_from_i64(integer),
            Err(Reject(reason::OUT_OF_RANGE_LONG)) => Err(Reject(reason::OUT_OF_RANGE_INT)),
            Err(reject) => Err(reject),
        }
    }
    fn text(&self, value: &str, _: &mut ()) -> Coerced<i32> {
        parse_int(value)
    }
    fn days(&self, value: i32, _: &mut ()) -> Coerced<i32> {
        Ok(value)
    }
}

/// BOOLEAN, stored as 0 or 1.
pub(super) struct BoolTarget;

impl Target for BoolTarget {
    type Out = i32;
    type Buf = ();
    const OUT_OF_RANGE: &'static str = reason::NOT_A_BOOLEAN;
    fn accepts(&self, family: Family) -> bool {
        use Family::*;
        matches!(family, Integer | Float | Boolean | Text)
    }
    fn integer(&self, value: i64, _: &mut ()) -> Coerced<i32> {
        match value {
            0 | 1 => Ok(value as i32),
            _ => Err(Reject(reason::NOT_A_BOOLEAN)),
        }
    }
    fn float(&self, value: f64, _: &mut ()) -> Coerced<i32> {
        bool_from_f64(value).map(i32::from)
    }
    fn boolean(&self, value: bool, _: &mut ()) -> Coerced<i32> {
        Ok(i32::from(value))
    }
    fn text(&self, value: &str, _: &mut ()) -> Coerced<i32> {
        parse_bool(value).map(i32::from)
    }
}

/// LONG: numbers as given; dates as days, instants as epoch milliseconds.
pub(super) struct LongTarget;

impl Target for LongTarget {
    type Out = i64;
    type Buf = ();
    const OUT_OF_RANGE: &'static str = reason::OUT_OF_RANGE_LONG;
    fn accepts(&self, family: Family) -> bool {
        use Family::*;
        matches!(family, Integer | Float | Decimal | Text | Days | Instant)
    }
    fn integer(&self, value: i64, _: &mut ()) -> Coerced<i64> {
        Ok(value)
    }
    fn float(&self, value: f64, _: &mut ()) -> Coerced<i64> {
        long_from_f64(value)
    }
    fn decimal(&self, value: i128, scale: i8, _: &mut ()) -> Coerced<i64> {
        decimal_to_i64(value, scale)
    }
    fn text(&self, value: &str, _: &mut ()) -> Coerced<i64> {
        parse_long(value)
    }
    fn days(&self, value: i32, _: &mut ()) -> Coerced<i64> {
        Ok(i64::from(value))
    }
    fn millis(&self, value: i64, _: &mut ()) -> Coerced<i64> {
        Ok(value)
    }
}

/// TIMESTAMP: epoch milliseconds; plain numbers are in the field format's unit.
pub(super) struct TimestampTarget<'a>(pub(super) &'a TimestampInput);

impl Target for TimestampTarget<'_> {
    type Out = i64;
    type Buf = ();
    const OUT_OF_RANGE: &'static str = reason::OUT_OF_RANGE_TIMESTAMP;
    fn accepts(&self, family: Family) -> bool {
        use Family::*;
        matches!(family, Integer | Float | Decimal | Text | Days | Instant)
    }
    fn integer(&self, value: i64, _: &mut ()) -> Coerced<i64> {
        self.0.from_i64(value)
    }
    fn float(&self, value: f64, _: &mut ()) -> Coerced<i64> {
        self.0.from_f64(value)
    }
    fn decimal(&self, value: i128, scale: i8, _: &mut ()) -> Coerced<i64> {
        let integer =
            decimal_to_i64(value, scale).map_err(|_| Reject(reason::INVALID_TIMESTAMP))?;
        self.0.from_i64(integer)
    }
    fn text(&self, value: &str, _: &mut ()) -> Coerced<i64> {
        self.0.parse(value)
    }
    fn days(&self, value: i32, _: &mut ()) -> Coerced<i64> {
        Ok(i64::from(value) * MILLIS_PER_DAY)
    }
    fn millis(&self, value: i64, _: &mut ()) -> Coerced<i64> {
        Ok(value)
    }
}

pub(super) struct FloatTarget;

impl Target for FloatTarget {
    type Out = f32;
    type Buf = ();
    const OUT_OF_RANGE: &'static str = reason::OUT_OF_RANGE_FLOAT;
    fn accepts(&self, family: Family) -> bool {
        use Family::*;
        matches!(family, Integer | Float | Decimal | Text)
    }
    fn integer(&self, value: i64, _: &mut ()) -> Coerced<f32> {
        Ok(value as f32)
    }
    fn float(&self, value: f64, _: &mut ()) -> Coerced<f32> {
        float_from_f64(value)
    }
    fn decimal(&self, value: i128, scale: i8, _: &mut ()) -> Coerced<f32> {
        float_from_f64(decimal_to_f64(value, scale))
    }
    fn text(&self, value: &str, _: &mut ()) -> Coerced<f32> {
        parse_float(value)
    }
}

pub(super) struct DoubleTarget;

impl Target for DoubleTarget {
    type Out = f64;
    type Buf = ();
    const OUT_OF_RANGE: &'static str = reason::NOT_A_NUMBER;
    fn accepts(&self, family: Family) -> bool {
        use Family::*;
        matches!(family, Integer | Float | Decimal | Text)
    }
    fn integer(&self, value: i64, _: &mut ()) -> Coerced<f64> {
        Ok(value as f64)
    }
    fn float(&self, value: f64, _: &mut ()) -> Coerced<f64> {
        Ok(value)
    }
    fn decimal(&self, value: i128, scale: i8, _: &mut ()) -> Coerced<f64> {
        Ok(decimal_to_f64(value, scale))
    }
    fn text(&self, value: &str, _: &mut ()) -> Coerced<f64> {
        parse_double(value)
    }
}

/// STRING: text as is, other values rendered (dates as `2024-01-02`, instants as RFC 3339).
pub(super) struct StringTarget;

impl Target for StringTarget {
    type Out = ();
    type Buf = Vec<u8>;
    const OUT_OF_RANGE: &'static str = reason::OUT_OF_RANGE_LONG;
    const COPIES_UTF8: bool = true;
    fn accepts(&self, _family: Family) -> bool {
        true
    }
    fn integer(&self, value: i64, out: &mut Vec<u8>) -> Coerced<()> {
        push_display(out, value);
        Ok(())
    }
    fn float(&self, value: f64, out: &mut Vec<u8>) -> Coerced<()> {
        out.extend_from_slice(float_text(value).as_bytes());
        Ok(())
    }
    fn decimal(&self, value: i128, scale: i8, out: &mut Vec<u8>) -> Coerced<()> {
        out.extend_from_slice(decimal_text(value, scale).as_bytes());
        Ok(())
    }
    fn boolean(&self, value: bool, out: &mut Vec<u8>) -> Coerced<()> {
        push_display(out, value);
        Ok(())
    }
    fn text(&self, value: &str, out: &mut Vec<u8>) -> Coerced<()> {
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }
    fn binary(&self, value: &[u8], out: &mut Vec<u8>) -> Coerced<()> {
        std::str::from_utf8(value).map_err(|_| Reject(reason::NOT_UTF8))?;
        out.extend_from_slice(value);
        Ok(())
    }
    fn days(&self, value: i32, out: &mut Vec<u8>) -> Coerced<()> {
        out.extend_from_slice(days_text(value).as_bytes());
        Ok(())
    }
    fn millis(&self, value: i64, out: &mut Vec<u8>) -> Coerced<()> {
        let instant =
            DateTime::from_timestamp_millis(value).ok_or(Reject(reason::OUT_OF_RANGE_TIMESTAMP))?;
        push_display(out, instant.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
        Ok(())
    }
}

/// JSON: text must be a JSON document; numbers and booleans become their JSON text.
pub(super) struct JsonTarget;

impl Target for JsonTarget {
    type Out = ();
    type Buf = Vec<u8>;
    const OUT_OF_RANGE: &'static str = reason::OUT_OF_RANGE_LONG;
    fn accepts(&self, family: Family) -> bool {
        use Family::*;
        matches!(family, Integer | Float | Decimal | Boolean | Text | Binary)
    }
    fn integer(&self, value: i64, out: &mut Vec<u8>) -> Coerced<()> {
        StringTarget.integer(value, out)
    }
    fn float(&self, value: f64, out: &mut Vec<u8>) -> Coerced<()> {
        if !value.is_finite() {
            return Err(Reject(reason::INVALID_JSON));
        }
        StringTarget.float(value, out)
    }
    fn decimal(&self, value: i128, scale: i8, out: &mut Vec<u8>) -> Coerced<()> {
        StringTarget.decimal(value, scale, out)
    }
    fn boolean(&self, value: bool, out: &mut Vec<u8>) -> Coerced<()> {
        StringTarget.boolean(value, out)
    }
    fn text(&self, value: &str, out: &mut Vec<u8>) -> Coerced<()> {
        check_json_text(value)?;
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }
    fn binary(&self, value: &[u8], out: &mut Vec<u8>) -> Coerced<()> {
        let text = std::str::from_utf8(value).map_err(|_| Reject(reason::NOT_UTF8))?;
        self.text(text, out)
    }
}

/// BYTES: binary as is, text as Pinot's hex.
pub(super) struct RawBytesTarget;

impl Target for RawBytesTarget {
    type Out = ();
    type Buf = Vec<u8>;
    const OUT_OF_RANGE: &'static str = reason::OUT_OF_RANGE_LONG;
    fn accepts(&self, family: Family) -> bool {
        matches!(family, Family::Text | Family::Binary)
    }
    fn text(&self, value: &str, out: &mut Vec<u8>) -> Coerced<()> {
        decode_hex(value, out)
    }
    fn binary(&self, value: &[u8], out: &mut Vec<u8>) -> Coerced<()> {
        out.extend_from_slice(value);
        Ok(())
    }
}

fn push_display(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    struct Bytes<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for Bytes<'_> {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            self.0.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }
    let _ = write!(Bytes(out), "{value}");
}

fn pow10(exponent: u32) -> Option<i128> {
    10i128.checked_pow(exponent)
}

/// The decimal `value × 10^-scale` as the nearest double: one correctly rounded division
/// of exactly representable operands, so `12.34` (Decimal(15,2) 1234) is the double `12.34`.
#[inline]
pub(super) fn decimal_to_f64(value: i128, scale: i8) -> f64 {
    /// 10^0 ..= 10^22, every one exactly representable.
    const EXACT_POWERS: [f64; 23] = {
        let mut powers = [1.0f64; 23];
        let mut i = 1;
        while i < 23 {
            powers[i] = powers[i - 1] * 10.0;
            i += 1;
        }
        powers
    };
    let exponent = scale.unsigned_abs() as usize;
    let factor = match EXACT_POWERS.get(exponent) {
        Some(factor) => *factor,
        None => 10f64.powi(exponent as i32),
    };
    // i64 → f64 is one instruction, i128 → f64 a library call; both round the same.
    let value = match i64::try_from(value) {
        Ok(narrow) => narrow as f64,
        Err(_) => value as f64,
    };
    if scale >= 0 {
        value / factor
    } else {
        value * factor
    }
}

/// An integral decimal as an integer; a fractional part is a reject.
pub(super) fn decimal_to_i64(value: i128, scale: i8) -> Coerced<i64> {
    let out_of_range = Reject(reason::OUT_OF_RANGE_LONG);
    let integer = if scale >= 0 {
        let Some(divisor) = pow10(scale.unsigned_abs().into()) else {
            return if value == 0 {
                Ok(0)
            } else {
                Err(Reject(reason::NOT_AN_INTEGER))
            };
        };
        if value % divisor != 0 {
            return Err(Reject(reason::NOT_AN_INTEGER));
        }
        value / divisor
    } else {
        pow10(scale.unsigned_abs().into())
            .and_then(|factor| value.checked_mul(factor))
            .ok_or(out_of_range)?
    };
    i64::try_from(integer).map_err(|_| out_of_range)
}

/// Decimal text with exactly `scale` fraction digits (`1234`, scale 2 → `12.34`).
pub(super) fn decimal_text(value: i128, scale: i8) -> String {
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    if scale <= 0 {
        let zeros = "0".repeat(scale.unsigned_abs().into());
        return if value == 0 {
            "0".to_string()
        } else {
            format!("{sign}{digits}{zeros}")
        };
    }
    let scale = usize::from(scale.unsigned_abs());
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

pub(super) fn days_text(days: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(days.saturating_add(719_163)).map_or_else(
        || days.to_string(),
        |date| date.format("%Y-%m-%d").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_decimals() {
        assert_eq!(decimal_to_f64(1234, 2), 12.34);
        assert_eq!(decimal_to_f64(-5, 1), -0.5);
        assert_eq!(decimal_to_f64(7, -2), 700.0);
        assert_eq!(decimal_to_f64(9_999_999_999_999, 2), 99_999_999_999.99);
        assert_eq!(decimal_to_f64(i128::MAX, 0), i128::MAX as f64);
        assert_eq!(decimal_to_f64(1, 30), 1.0 / 10f64.powi(30));
        assert_eq!(decimal_to_i64(1200, 2), Ok(12));
        assert_eq!(decimal_to_i64(1234, 2), Err(Reject(reason::NOT_AN_INTEGER)));
        assert_eq!(decimal_to_i64(3, -3), Ok(3000));
        assert_eq!(
            decimal_to_i64(i128::MAX, 0),
            Err(Reject(reason::OUT_OF_RANGE_LONG))
        );
        assert_eq!(decimal_text(1234, 2), "12.34");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(0, 2), "0.00");
        assert_eq!(decimal_text(7, -2), "700");
        assert_eq!(decimal_text(7, 0), "7");
    }

    #[test]
    fn test_rendering() {
        assert_eq!(days_text(0), "1970-01-01");
        assert_eq!(days_text(19_724), "2024-01-02");
        let mut out = Vec::new();
        StringTarget
            .millis(1_704_164_645_123, &mut out)
            .expect("in range");
        assert_eq!(out, b"2024-01-02T03:04:05.123Z");
        let mut out = Vec::new();
        assert_eq!(
            JsonTarget.float(f64::NAN, &mut out),
            Err(Reject(reason::INVALID_JSON))
        );
        assert_eq!(
            BoolTarget.integer(2, &mut ()),
            Err(Reject(reason::NOT_A_BOOLEAN))
        );
        assert_eq!(
            IntTarget.decimal(500_000_000_000, 2, &mut ()),
            Err(Reject(reason::OUT_OF_RANGE_INT))
        );
    }
}
