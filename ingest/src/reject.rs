//! Values that could not be coerced to the schema. A row with any such value is skipped
//! as a whole (never half-stored) and counted here, so a build over a large file reports
//! what went wrong without stopping at the first bad cell.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How many rejected values a report keeps verbatim.
pub const MAX_SAMPLES: usize = 10;
/// Longest input value text kept in a [`RejectedValue`], in characters.
pub const MAX_VALUE_CHARS: usize = 64;

/// One value that was rejected, and so the row it was in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedValue {
    pub file: String,
    /// 1-based data row number within the file: CSV rows not counting the header, the
    /// line number for JSON lines, the row index for Parquet.
    pub row: u64,
    /// The schema column, or `*` when the whole row is unreadable.
    pub column: String,
    /// The input value as text, truncated to [`MAX_VALUE_CHARS`] characters.
    pub value: String,
    /// A short stable reason such as `not an integer` (see [`crate::coerce::reason`]).
    pub reason: String,
}

impl RejectedValue {
    pub fn new(file: &str, row: u64, column: &str, value: &str, reason: &str) -> RejectedValue {
        RejectedValue {
            file: file.to_string(),
            row,
            column: column.to_string(),
            value: truncate_value(value),
            reason: reason.to_string(),
        }
    }
}

/// Keeps the first [`MAX_VALUE_CHARS`] characters of `value`.
pub fn truncate_value(value: &str) -> String {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => value[..cut].to_string(),
        None => value.to_string(),
    }
}

/// What was rejected while reading: counts by reason and the first few values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectReport {
    pub rejected_rows: u64,
    /// The first [`MAX_SAMPLES`] rejected values, in input order.
    pub samples: Vec<RejectedValue>,
    pub by_reason: BTreeMap<String, u64>,
}

impl RejectReport {
    /// Counts one rejected row.
    pub fn record(&mut self, rejected: RejectedValue) {
        self.rejected_rows += 1;
        *self.by_reason.entry(rejected.reason.clone()).or_insert(0) += 1;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(rejected);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rejected_rows == 0
    }

    /// Add the rejects of `later`, input that came after this report's.
    pub fn merge(&mut self, later: RejectReport) {
        self.rejected_rows += later.rejected_rows;
        for (reason, count) in later.by_reason {
            *self.by_reason.entry(reason).or_insert(0) += count;
        }
        let room = MAX_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(later.samples.into_iter().take(room));
    }

    /// Human-readable text for the end of a build: the counts by reason, then the samples.
    pub fn summary(&self) -> String {
        if self.rejected_rows == 0 {
            return "no rows rejected".to_string();
        }
        let row_word = if self.rejected_rows == 1 {
            "row"
        } else {
            "rows"
        };
        let mut text = format!("{} {row_word} rejected", self.rejected_rows);
        for (reason, count) in &self.by_reason {
            let _ = write!(text, "\n  {reason}: {count}");
        }
        text.push_str("\nfirst rejected values:");
        for sample in &self.samples {
            let _ = write!(
                text,
                "\n  {} row {} column `{}`: {} value=`{}`",
                sample.file, sample.row, sample.column, sample.reason, sample.value
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_record_counts_reasons_and_keeps_first_samples() {
        let mut report = RejectReport::default();
        for row in 1..=12 {
            let reason = if row % 3 == 0 {
                "invalid hex"
            } else {
                "not an integer"
            };
            report.record(RejectedValue::new("a.csv", row, "x", "zz", reason));
        }
        assert_eq!(report.rejected_rows, 12);
        assert_eq!(report.samples.len(), MAX_SAMPLES);
        assert_eq!(report.samples[0].row, 1);
        assert_eq!(report.by_reason["invalid hex"], 4);
        assert_eq!(report.by_reason["not an integer"], 8);
        let summary = report.summary();
        assert!(summary.starts_with("12 rows rejected"), "{summary}");
        assert!(
            summary.contains("a.csv row 1 column `x`: not an integer value=`zz`"),
            "{summary}"
        );
    }

    #[test]
    fn test_values_are_truncated_on_char_boundaries() {
        let long = "é".repeat(100);
        let rejected = RejectedValue::new("f", 1, "c", &long, "r");
        assert_eq!(rejected.value.chars().count(), MAX_VALUE_CHARS);
        assert_eq!(truncate_value("short"), "short");
    }

    #[test]
    fn test_empty_report_summary() {
        assert_eq!(RejectReport::default().summary(), "no rows rejected");
    }
}
