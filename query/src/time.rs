//! Time helpers: TIMESTAMP literals, DATE_TRUNC / EXTRACT on epoch milliseconds, Pinot's
//! time-unit strings and Java `SimpleDateFormat` patterns, and the way Pinot prints a
//! TIMESTAMP (`2024-01-01 00:00:00.0`). Everything is UTC.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// A DATE_TRUNC / EXTRACT unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl TimeUnit {
    pub fn parse(name: &str) -> Option<TimeUnit> {
        Some(match name.to_ascii_lowercase().as_str() {
            "millisecond" | "milliseconds" | "ms" => TimeUnit::Millisecond,
            "second" | "seconds" | "s" => TimeUnit::Second,
            "minute" | "minutes" | "m" => TimeUnit::Minute,
            "hour" | "hours" | "h" => TimeUnit::Hour,
            "day" | "days" | "d" => TimeUnit::Day,
            "week" | "weeks" => TimeUnit::Week,
            "month" | "months" => TimeUnit::Month,
            "quarter" | "quarters" => TimeUnit::Quarter,
            "year" | "years" => TimeUnit::Year,
            _ => return None,
        })
    }

    /// Fixed length in milliseconds (units up to a week).
    pub fn fixed_millis(self) -> Option<i64> {
        Some(match self {
            TimeUnit::Millisecond => 1,
            TimeUnit::Second => 1_000,
            TimeUnit::Minute => 60_000,
            TimeUnit::Hour => 3_600_000,
            TimeUnit::Day => 86_400_000,
            TimeUnit::Week => 7 * 86_400_000,
            _ => return None,
        })
    }
}

fn to_datetime(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

fn from_date(year: i32, month: u32, day: u32) -> Option<i64> {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|datetime| datetime.and_utc().timestamp_millis())
}

/// Truncate epoch milliseconds to the start of the unit (weeks start on Monday, as in
/// DuckDB, PostgreSQL and ISO 8601). `None` when out of chrono's range.
pub fn truncate(ms: i64, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Week => {
            let day = ms.div_euclid(86_400_000);
            // 1970-01-01 was a Thursday: Monday-based weekday = (day + 3) mod 7.
            let monday = day - (day + 3).rem_euclid(7);
            monday.checked_mul(86_400_000)
        }
        TimeUnit::Month | TimeUnit::Quarter | TimeUnit::Year => {
            let datetime = to_datetime(ms)?;
            let month = match unit {
                TimeUnit::Month => datetime.month(),
                TimeUnit::Quarter => (datetime.month() - 1) / 3 * 3 + 1,
                _ => 1,
            };
            from_date(datetime.year(), month, 1)
        }
        fixed => {
            let step = fixed.fixed_millis()?;
            ms.div_euclid(step).checked_mul(step)
        }
    }
}

/// An EXTRACT field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    DayOfWeek,
    IsoDayOfWeek,
    DayOfYear,
    Hour,
    Minute,
    Second,
    Millisecond,
    Epoch,
}

impl Field {
    pub fn parse(name: &str) -> Option<Field> {
        Some(match name.to_ascii_lowercase().as_str() {
            "year" | "years" => Field::Year,
            "quarter" => Field::Quarter,
            "month" | "months" => Field::Month,
            "week" | "weeks" => Field::Week,
            "day" | "days" | "dayofmonth" => Field::Day,
            "dow" | "dayofweek" => Field::DayOfWeek,
            "isodow" => Field::IsoDayOfWeek,
            "doy" | "dayofyear" => Field::DayOfYear,
            "hour" | "hours" => Field::Hour,
            "minute" | "minutes" => Field::Minute,
            "second" | "seconds" => Field::Second,
            "millisecond" | "milliseconds" => Field::Millisecond,
            "epoch" => Field::Epoch,
            _ => return None,
        })
    }
}

/// EXTRACT as an integer (`Epoch` is handled by the caller: seconds as a double).
pub fn extract(ms: i64, field: Field) -> Option<i64> {
    let datetime = to_datetime(ms)?;
    Some(match field {
        Field::Year => i64::from(datetime.year()),
        Field::Quarter => i64::from((datetime.month() - 1) / 3 + 1),
        Field::Month => i64::from(datetime.month()),
        Field::Week => i64::from(datetime.iso_week().week()),
        Field::Day => i64::from(datetime.day()),
        Field::DayOfWeek => i64::from(datetime.weekday().num_days_from_sunday()),
        Field::IsoDayOfWeek => i64::from(datetime.weekday().number_from_monday()),
        Field::DayOfYear => i64::from(datetime.ordinal()),
        Field::Hour => i64::from(datetime.hour()),
        Field::Minute => i64::from(datetime.minute()),
        Field::Second => i64::from(datetime.second()),
        Field::Millisecond => {
            i64::from(datetime.second() * 1000 + datetime.timestamp_subsec_millis())
        }
        Field::Epoch => ms.div_euclid(1000),
    })
}

/// Parse a date or timestamp literal: `2024-01-31`, `2024-01-31 12:00:00[.123]`,
/// `2024-01-31T12:00:00[.123][Z|+02:00]` (RFC 3339, as Grafana sends).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(datetime) = DateTime::parse_from_rfc3339(text) {
        return Some(datetime.timestamp_millis());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(datetime) = NaiveDateTime::parse_from_str(text, format) {
            return Some(datetime.and_utc().timestamp_millis());
        }
    }
    if let Some(stripped) = text.strip_suffix('Z').or_else(|| text.strip_suffix(" UTC")) {
        return parse_timestamp(stripped);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|datetime| datetime.and_utc().timestamp_millis())
}

/// Pinot's TIMESTAMP text: `2024-01-01 00:00:00.0`, milliseconds without trailing zeros.
pub fn format_pinot(ms: i64) -> String {
    let Some(datetime) = to_datetime(ms) else {
        return ms.to_string();
    };
    let millis = datetime.timestamp_subsec_millis();
    let mut fraction = format!("{millis:03}");
    while fraction.len() > 1 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{}.{fraction}", datetime.format("%Y-%m-%d %H:%M:%S"))
}

/// A Java time unit name as Pinot's DATETRUNC/DATETIMECONVERT write them.
pub fn java_unit_millis(name: &str) -> Option<i64> {
    Some(match name.to_ascii_uppercase().as_str() {
        "NANOSECONDS" => return None,
        "MICROSECONDS" => return None,
        "MILLISECONDS" => 1,
        "SECONDS" => 1_000,
        "MINUTES" => 60_000,
        "HOURS" => 3_600_000,
        "DAYS" => 86_400_000,
        _ => return None,
    })
}

/// Translate a Java `SimpleDateFormat` pattern (`yyyy-MM-dd HH:mm:ss.SSS`) to chrono's.
pub fn java_pattern_to_chrono(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                let literal = chars[j];
                if literal == '%' {
                    out.push_str("%%");
                } else {
                    out.push(literal);
                }
                j += 1;
            }
            i = j + 1;
            continue;
        }
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let piece = match (c, run) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', _) => "%3f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('Z' | 'X', _) => "%z",
            ('D', _) => "%j",
            (other, _) if other.is_ascii_alphabetic() => {
                return Err(format!(
                    "unsupported letter `{other}` in date pattern `{pattern}`"
                ));
            }
            (other, _) => {
                for _ in 0..run {
                    if other == '%' {
                        out.push_str("%%");
                    } else {
                        out.push(other);
                    }
                }
                i += run;
                continue;
            }
        };
        out.push_str(piece);
        i += run;
    }
    Ok(out)
}

/// Format epoch milliseconds with a chrono pattern.
pub fn format_with(ms: i64, chrono_pattern: &str) -> Option<String> {
    use std::fmt::Write;
    let datetime = to_datetime(ms)?;
    let mut out = String::new();
    write!(out, "{}", datetime.format(chrono_pattern)).ok()?;
    Some(out)
}

/// Parse text with a chrono pattern (date-only patterns read midnight UTC).
pub fn parse_with(text: &str, chrono_pattern: &str) -> Option<i64> {
    if let Ok(datetime) = DateTime::parse_from_str(text, chrono_pattern) {
        return Some(datetime.timestamp_millis());
    }
    if let Ok(datetime) = NaiveDateTime::parse_from_str(text, chrono_pattern) {
        return Some(datetime.and_utc().timestamp_millis());
    }
    NaiveDate::parse_from_str(text, chrono_pattern)
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|datetime| datetime.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_pinot_format() {
        let ms = parse_timestamp("2024-01-01").expect("date");
        assert_eq!(ms, 1_704_067_200_000);
        assert_eq!(format_pinot(ms), "2024-01-01 00:00:00.0");
        assert_eq!(format_pinot(ms + 120), "2024-01-01 00:00:00.12");
        assert_eq!(parse_timestamp("2024-01-01T00:00:00Z"), Some(ms));
        assert_eq!(parse_timestamp("2024-01-01 00:00:00.5"), Some(ms + 500));
    }

    #[test]
    fn truncation() {
        let ms = parse_timestamp("2024-05-17 13:45:12.345").expect("ts");
        let day = |text| parse_timestamp(text).expect("ts");
        assert_eq!(truncate(ms, TimeUnit::Month), Some(day("2024-05-01")));
        assert_eq!(truncate(ms, TimeUnit::Quarter), Some(day("2024-04-01")));
        assert_eq!(truncate(ms, TimeUnit::Year), Some(day("2024-01-01")));
        assert_eq!(truncate(ms, TimeUnit::Week), Some(day("2024-05-13")));
        assert_eq!(
            truncate(ms, TimeUnit::Hour),
            Some(day("2024-05-17 13:00:00"))
        );
        assert_eq!(truncate(-1, TimeUnit::Day), Some(-86_400_000));
        assert_eq!(extract(ms, Field::DayOfWeek), Some(5));
    }

    #[test]
    fn java_patterns() {
        assert_eq!(
            java_pattern_to_chrono("yyyy-MM-dd'T'HH:mm:ss.SSS").as_deref(),
            Ok("%Y-%m-%dT%H:%M:%S.%3f")
        );
        assert!(java_pattern_to_chrono("yyyy-QQ").is_err());
    }
}
