//! `tessera-bench compare BASELINE RUN`: phase by phase, whether RUN is slower than
//! BASELINE beyond a threshold (for CI or a nightly job: the exit status says).

use std::fmt::Write as _;

use serde_json::Value as Json;

#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Relative: 0.10 flags a p50 or p99 10 % higher, or an achieved rate 10 % lower.
    pub max_regression: f64,
    /// Latency changes smaller than this never count (a 0.2 ms p99 moving to 0.3 ms is
    /// noise, not a 50 % regression).
    pub min_delta_ms: f64,
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub report: String,
    pub regressions: Vec<String>,
    pub compared: usize,
}

/// Parses a percentage (`10%`) or a fraction (`0.1`).
pub fn parse_fraction(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(number) => (number, 100.0),
        None => (text.trim(), 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|v| v / scale)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("`{text}` is not a percentage (10%) or a fraction (0.1)"))
}

fn phases(summary: &Json) -> Vec<&Json> {
    summary["phases"]
        .as_array()
        .map(|p| p.iter().collect())
        .unwrap_or_default()
}

pub fn compare(baseline: &Json, run: &Json, limits: Thresholds) -> Verdict {
    let mut verdict = Verdict::default();
    let _ = writeln!(
        verdict.report,
        "{:<24} {:<14} {:>12} {:>12} {:>9}  verdict",
        "phase", "metric", "baseline", "run", "change"
    );
    for phase in phases(run) {
        let name = phase["name"].as_str().unwrap_or("?");
        let Some(base) = phases(baseline)
            .into_iter()
            .find(|b| b["name"] == phase["name"])
        else {
            let _ = writeln!(verdict.report, "{name:<24} (not in the baseline)");
            continue;
        };
        verdict.compared += 1;
        for quantile in ["p50", "p99"] {
            let (Some(before), Some(after)) = (
                base["latency_ms"][quantile].as_f64(),
                phase["latency_ms"][quantile].as_f64(),
            ) else {
                continue;
            };
            let change = relative(before, after);
            let worse = change > limits.max_regression && after - before > limits.min_delta_ms;
            verdict.line(
                name,
                &format!("latency {quantile} ms"),
                before,
                after,
                change,
                worse,
            );
        }
        if let (Some(before), Some(after)) = (
            base["achieved_qps"].as_f64(),
            phase["achieved_qps"].as_f64(),
        ) {
            let change = relative(before, after);
            verdict.line(
                name,
                "achieved qps",
                before,
                after,
                change,
                -change > limits.max_regression,
            );
        }
        let rate = |p: &Json| {
            p["errors"].as_f64().unwrap_or(0.0) / p["requests"].as_f64().unwrap_or(0.0).max(1.0)
        };
        let (before, after) = (rate(base), rate(phase));
        // Errors: one percentage point more of the requests failing is a regression.
        verdict.line(
            name,
            "error rate",
            before,
            after,
            after - before,
            after - before > 0.01,
        );
    }
    if verdict.compared == 0 {
        verdict
            .regressions
            .push("no phase of the run is in the baseline: nothing was compared".into());
    }
    verdict
}

fn relative(before: f64, after: f64) -> f64 {
    if before > 0.0 {
        (after - before) / before
    } else if after > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

impl Verdict {
    fn line(
        &mut self,
        phase: &str,
        metric: &str,
        before: f64,
        after: f64,
        change: f64,
        worse: bool,
    ) {
        let _ = writeln!(
            self.report,
            "{phase:<24} {metric:<14} {before:>12.3} {after:>12.3} {:>8.1}%  {}",
            change * 100.0,
            if worse { "REGRESSION" } else { "ok" }
        );
        if worse {
            self.regressions.push(format!(
                "{phase}: {metric} {before:.3} → {after:.3} ({:+.1}%)",
                change * 100.0
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(p50: f64, p99: f64, qps: f64, errors: u64) -> Json {
        json!({"phases": [{"name": "steady", "latency_ms": {"p50": p50, "p99": p99},
            "achieved_qps": qps, "requests": 1000, "errors": errors}]})
    }

    const LIMITS: Thresholds = Thresholds {
        max_regression: 0.10,
        min_delta_ms: 1.0,
    };

    #[test]
    fn flags_each_kind_of_regression() {
        let base = summary(10.0, 20.0, 200.0, 0);
        assert!(
            compare(&base, &summary(10.5, 21.0, 199.0, 0), LIMITS)
                .regressions
                .is_empty()
        );
        let slower = compare(&base, &summary(12.0, 24.0, 200.0, 0), LIMITS);
        assert_eq!(slower.regressions.len(), 2, "{:?}", slower.regressions);
        assert_eq!(
            compare(&base, &summary(10.0, 20.0, 150.0, 0), LIMITS)
                .regressions
                .len(),
            1
        );
        assert_eq!(
            compare(&base, &summary(10.0, 20.0, 200.0, 50), LIMITS)
                .regressions
                .len(),
            1
        );
    }

    #[test]
    fn tiny_latencies_need_an_absolute_change() {
        let base = summary(0.2, 0.3, 200.0, 0);
        assert!(
            compare(&base, &summary(0.3, 0.5, 200.0, 0), LIMITS)
                .regressions
                .is_empty()
        );
    }

    #[test]
    fn nothing_in_common_is_not_a_pass() {
        let base = summary(1.0, 1.0, 1.0, 0);
        let other = json!({"phases": [{"name": "other"}]});
        assert_eq!(compare(&base, &other, LIMITS).regressions.len(), 1);
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("10%"), Ok(0.1));
        assert_eq!(parse_fraction("0.25"), Ok(0.25));
        assert!(parse_fraction("ten").is_err());
    }
}
