//! TIMESTAMP inputs: epoch numbers in the unit the field's Pinot `format` names, ISO-8601
//! text, and Java `SimpleDateFormat` patterns. Every result is epoch milliseconds UTC.

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{Datelike, NaiveDate, NaiveTime};

use super::{Coerced, Reject, reason};

const NANOS_PER_MILLI: i128 = 1_000_000;
const MILLIS_PER_DAY: i64 = 86_400_000;
/// `NaiveDate::from_ymd(1970, 1, 1).num_days_from_ce()`.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// How one TIMESTAMP column reads its inputs, from the field's Pinot `format`.
#[derive(Debug, Clone)]
pub struct TimestampInput {
    /// Nanoseconds per input unit for numeric inputs (`1:SECONDS:EPOCH` → 10⁹).
    nanos_per_unit: i128,
    /// The `SIMPLE_DATE_FORMAT` pattern, tried on text before the ISO forms.
    pattern: Option<DatePattern>,
}

impl Default for TimestampInput {
    /// Epoch milliseconds and ISO-8601 text: a TIMESTAMP column without a format.
    fn default() -> Self {
        TimestampInput {
            nanos_per_unit: NANOS_PER_MILLI,
            pattern: None,
        }
    }
}

impl TimestampInput {
    /// Reads a Pinot dateTime format: `1:SECONDS:EPOCH`, `EPOCH|SECONDS|1`,
    /// `1:MILLISECONDS:TIMESTAMP`, `TIMESTAMP`, `1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd`,
    /// `SIMPLE_DATE_FORMAT|yyyy-MM-dd HH:mm:ss`. The error says what is not supported.
    pub fn from_format(format: Option<&str>) -> Result<TimestampInput, String> {
        let Some(format) = format.map(str::trim).filter(|format| !format.is_empty()) else {
            return Ok(TimestampInput::default());
        };
        let (size, unit, kind, pattern, zone) = if format.contains('|') {
            let mut parts = format.split('|');
            let kind = parts.next().unwrap_or_default();
            if kind.eq_ignore_ascii_case("EPOCH") {
                let unit = parts.next().unwrap_or("MILLISECONDS");
                let size = parts.next().unwrap_or("1");
                (size, unit, kind, None, None)
            } else {
                let pattern = parts.next();
                (
                    "1",
                    "MILLISECONDS",
                    kind,
                    pattern,
                    parts.next().filter(|zone| !zone.is_empty()),
                )
            }
        } else {
            let mut parts = format.splitn(4, ':');
            let size = parts.next().unwrap_or_default();
            let unit = parts.next().unwrap_or("MILLISECONDS");
            let kind = parts.next().unwrap_or("EPOCH");
            (size, unit, kind, parts.next(), None)
        };
        let unit_nanos = unit_nanos(unit)
            .ok_or_else(|| format!("unknown time unit `{unit}` in dateTime format `{format}`"))?;
        let size: i128 = size
            .trim()
            .parse()
            .ok()
            .filter(|size| *size > 0)
            .ok_or_else(|| format!("bad unit size `{size}` in dateTime format `{format}`"))?;
        let kind = kind.trim().to_ascii_uppercase();
        match kind.as_str() {
            "EPOCH" => Ok(TimestampInput {
                nanos_per_unit: size * unit_nanos,
                pattern: None,
            }),
            "TIMESTAMP" => Ok(TimestampInput::default()),
            "SIMPLE_DATE_FORMAT" => {
                if let Some(zone) = zone {
                    let zone = zone.trim();
                    if !["UTC", "GMT", "Z", "Etc/UTC"].contains(&zone) {
                        return Err(format!(
                            "time zone `{zone}` in dateTime format `{format}` is not supported; \
                             only UTC is"
                        ));
                    }
                }
                let java = pattern
                    .filter(|pattern| !pattern.is_empty())
                    .ok_or_else(|| {
                        format!("SIMPLE_DATE_FORMAT needs a pattern in dateTime format `{format}`")
                    })?;
                Ok(TimestampInput {
                    nanos_per_unit: NANOS_PER_MILLI,
                    pattern: Some(DatePattern::from_java(java)?),
                })
            }
            _ => Err(format!("unsupported dateTime format `{format}`")),
        }
    }

    /// Converts a number in the format's unit to epoch milliseconds, rounding toward −∞.
    pub fn from_i64(&self, value: i64) -> Coerced<i64> {
        if self.nanos_per_unit == NANOS_PER_MILLI {
            return Ok(value);
        }
        let millis = (i128::from(value) * self.nanos_per_unit).div_euclid(NANOS_PER_MILLI);
        i64::try_from(millis).map_err(|_| Reject(reason::OUT_OF_RANGE_TIMESTAMP))
    }

    /// A float input must be integral (`1.7e12` is fine, `1.5` is not).
    pub fn from_f64(&self, value: f64) -> Coerced<i64> {
        let integer = super::long_from_f64(value).map_err(|_| Reject(reason::INVALID_TIMESTAMP))?;
        self.from_i64(integer)
    }

    /// Parses text: the format's pattern if it has one, else an integer in the format's
    /// unit, else ISO-8601 / RFC 3339 (UTC when no offset is given).
    pub fn parse(&self, text: &str) -> Coerced<i64> {
        let text = text.trim();
        if let Some(pattern) = &self.pattern
            && let Some(millis) = pattern.parse(text)
        {
            return Ok(millis);
        }
        if let Ok(number) = text.parse::<i64>() {
            return self.from_i64(number);
        }
        parse_iso_millis(text).ok_or(Reject(reason::INVALID_TIMESTAMP))
    }
}

fn unit_nanos(unit: &str) -> Option<i128> {
    let nanos = match unit.trim().to_ascii_uppercase().as_str() {
        "NANOSECONDS" => 1,
        "MICROSECONDS" => 1_000,
        "MILLISECONDS" => 1_000_000,
        "SECONDS" => 1_000_000_000,
        "MINUTES" => 60_000_000_000,
        "HOURS" => 3_600_000_000_000,
        "DAYS" => 86_400_000_000_000,
        _ => return None,
    };
    Some(nanos)
}

/// Parses `YYYY-MM-DD[(T| )HH:MM[:SS[.fff…]]][Z|±HH[:MM]]`. Without an offset the time
/// is UTC. Hand-written because it is on the CSV hot path for date columns.
pub fn parse_iso_millis(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let mut millis = i64::from(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE) * MILLIS_PER_DAY;
    let rest = &bytes[10..];
    if rest.is_empty() {
        return Some(millis);
    }
    if !matches!(rest[0], b'T' | b't' | b' ') || rest.len() < 6 || rest[3] != b':' {
        return None;
    }
    let hour = digits(&rest[1..3])?;
    let minute = digits(&rest[4..6])?;
    let mut rest = &rest[6..];
    let mut second = 0;
    let mut nanos = 0;
    if rest.first() == Some(&b':') {
        second = digits(rest.get(1..3)?)?;
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let fraction_len = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if fraction_len == 0 || fraction_len > 9 {
                return None;
            }
            let fraction = digits(&rest[1..1 + fraction_len])?;
            nanos = fraction * 10u32.pow(u32::try_from(9 - fraction_len).ok()?);
            rest = &rest[1 + fraction_len..];
        }
    }
    // Validates the ranges (hour < 24, minute < 60, second < 60).
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    millis += i64::from((hour * 60 + minute) * 60 + second) * 1000 + i64::from(nanos / 1_000_000);
    let offset_seconds = parse_offset(rest)?;
    Some(millis - i64::from(offset_seconds) * 1000)
}

/// `""`, `Z`, `±HH`, `±HHMM`, `±HH:MM` → seconds east of UTC.
fn parse_offset(bytes: &[u8]) -> Option<i32> {
    match bytes {
        [] | [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0')),
    )
}

/// A Java `SimpleDateFormat` pattern translated to chrono items.
#[derive(Debug, Clone)]
struct DatePattern {
    items: Vec<Item<'static>>,
}

impl DatePattern {
    fn from_java(java: &str) -> Result<DatePattern, String> {
        let chrono_format = translate_java_pattern(java)?;
        let items = StrftimeItems::new(&chrono_format)
            .parse_to_owned()
            .map_err(|_| format!("cannot use date pattern `{java}`"))?;
        Ok(DatePattern { items })
    }

    /// Missing time fields default to zero, a missing offset to UTC.
    fn parse(&self, text: &str) -> Option<i64> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, self.items.iter()).ok()?;
        if parsed.hour_div_12().is_none() && parsed.hour_mod_12().is_none() {
            parsed.set_hour(0).ok()?;
        }
        if parsed.minute().is_none() {
            parsed.set_minute(0).ok()?;
        }
        if parsed.second().is_none() {
            parsed.set_second(0).ok()?;
        }
        let offset_seconds = parsed.offset().unwrap_or(0);
        let date_time = parsed
            .to_naive_date()
            .ok()?
            .and_time(parsed.to_naive_time().ok()?);
        Some(date_time.and_utc().timestamp_millis() - i64::from(offset_seconds) * 1000)
    }
}

/// Translates the common `SimpleDateFormat` letters (y M d H h m s S a E D X Z, quoted
/// literals) to a chrono format string.
fn translate_java_pattern(java: &str) -> Result<String, String> {
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::new();
    let mut index = 0;
    while index < chars.len() {
        let letter = chars[index];
        if letter == '\'' {
            // 'literal' text; '' is a single quote.
            if chars.get(index + 1) == Some(&'\'') {
                out.push('\'');
                index += 2;
                continue;
            }
            index += 1;
            while index < chars.len() && chars[index] != '\'' {
                push_literal(&mut out, chars[index]);
                index += 1;
            }
            index += 1;
            continue;
        }
        if !letter.is_ascii_alphabetic() {
            push_literal(&mut out, letter);
            index += 1;
            continue;
        }
        let run = chars[index..].iter().take_while(|c| **c == letter).count();
        let spec = match (letter, run) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', 1..=3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('X' | 'Z' | 'x', _) => "%#z",
            _ => {
                return Err(format!(
                    "date pattern letter `{letter}` ({run} times) is not supported in `{java}`"
                ));
            }
        };
        out.push_str(spec);
        index += run;
    }
    Ok(out)
}

fn push_literal(out: &mut String, literal: char) {
    if literal == '%' {
        out.push_str("%%");
    } else {
        out.push(literal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_2_2024: i64 = 1_704_153_600_000;

    #[test]
    fn test_iso_forms() {
        let base = JAN_2_2024 + (3 * 3600 + 4 * 60 + 5) * 1000;
        assert_eq!(parse_iso_millis("2024-01-02"), Some(JAN_2_2024));
        assert_eq!(parse_iso_millis("2024-01-02T03:04:05Z"), Some(base));
        assert_eq!(parse_iso_millis("2024-01-02 03:04:05"), Some(base));
        assert_eq!(parse_iso_millis("2024-01-02T03:04:05"), Some(base));
        assert_eq!(parse_iso_millis("2024-01-02T03:04"), Some(base - 5000));
        assert_eq!(
            parse_iso_millis("2024-01-02T03:04:05.123+02:00"),
            Some(base + 123 - 2 * 3_600_000)
        );
        assert_eq!(
            parse_iso_millis("2024-01-02T03:04:05.5-0130"),
            Some(base + 500 + 5_400_000)
        );
        assert_eq!(parse_iso_millis("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse_iso_millis("2023-02-29"), None);
        assert_eq!(parse_iso_millis("2024-01-02T25:00:00"), None);
        assert_eq!(parse_iso_millis("2024-01-02X"), None);
        assert_eq!(parse_iso_millis("yesterday"), None);
    }

    #[test]
    fn test_epoch_units() {
        let seconds = TimestampInput::from_format(Some("1:SECONDS:EPOCH")).expect("format");
        assert_eq!(seconds.from_i64(1_704_153_600), Ok(JAN_2_2024));
        assert_eq!(seconds.parse("1704153600"), Ok(JAN_2_2024));
        let days = TimestampInput::from_format(Some("1:DAYS:EPOCH")).expect("format");
        assert_eq!(days.from_i64(19_724), Ok(JAN_2_2024));
        let micros = TimestampInput::from_format(Some("EPOCH|MICROSECONDS|1")).expect("format");
        assert_eq!(micros.from_i64(-1), Ok(-1));
        assert_eq!(micros.from_i64(1_999), Ok(1));
        let millis = TimestampInput::from_format(Some("1:MILLISECONDS:TIMESTAMP")).expect("format");
        assert_eq!(millis.from_i64(42), Ok(42));
        assert_eq!(millis.parse("2024-01-02"), Ok(JAN_2_2024));
        assert_eq!(
            seconds.from_i64(i64::MAX),
            Err(Reject(reason::OUT_OF_RANGE_TIMESTAMP))
        );
    }

    #[test]
    fn test_simple_date_format_patterns() {
        let date = TimestampInput::from_format(Some("1:DAYS:SIMPLE_DATE_FORMAT:yyyyMMdd"))
            .expect("format");
        assert_eq!(date.parse("20240102"), Ok(JAN_2_2024));
        let with_time =
            TimestampInput::from_format(Some("SIMPLE_DATE_FORMAT|dd/MM/yyyy HH:mm:ss.SSS"))
                .expect("format");
        assert_eq!(
            with_time.parse("02/01/2024 00:00:01.250"),
            Ok(JAN_2_2024 + 1250)
        );
        let iso = TimestampInput::from_format(Some("SIMPLE_DATE_FORMAT|yyyy-MM-dd'T'HH:mmX"))
            .expect("format");
        assert_eq!(iso.parse("2024-01-02T01:00Z"), Ok(JAN_2_2024 + 3_600_000));
        assert_eq!(iso.parse("2024-01-02T01:00+01:00"), Ok(JAN_2_2024));
        // Falls back to ISO text when the pattern does not match.
        assert_eq!(date.parse("2024-01-02"), Ok(JAN_2_2024));
        assert_eq!(
            date.parse("nonsense"),
            Err(Reject(reason::INVALID_TIMESTAMP))
        );
    }

    #[test]
    fn test_bad_formats_are_errors() {
        assert!(TimestampInput::from_format(Some("1:FORTNIGHTS:EPOCH")).is_err());
        assert!(TimestampInput::from_format(Some("SIMPLE_DATE_FORMAT|yyyy-MM-dd QQ")).is_err());
        assert!(
            TimestampInput::from_format(Some("SIMPLE_DATE_FORMAT|yyyy|America/New_York")).is_err()
        );
        assert!(TimestampInput::from_format(None).is_ok());
    }
}
