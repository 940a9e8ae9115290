//! Turns a run's measurements into `summary.json` (the contract `compare` reads),
//! `report.md`, and `timeline.csv` (one line per second).

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value as Json, json};

use crate::ingest::IngestReport;
use crate::recorder::{KindStats, Second, StepStats};
use crate::scenario::{Mode, Scenario, Step};

/// Schedule lag (p99) above which the harness says it fell behind: the scheduler thread
/// wakes within tens of microseconds of each intended time, so more than this is the
/// client waiting (for a slot, or for its own CPU).
pub const BEHIND_SCHEDULE_P99_MS: f64 = 5.0;

/// Microseconds as milliseconds (exact to the microsecond).
pub fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

pub fn percentiles(h: &Histogram<u64>) -> Json {
    if h.is_empty() {
        return Json::Null;
    }
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": round3(h.mean() / 1000.0),
    })
}

/// How many requests took at least 10, 100 and 1000 ms: a stall's reach in requests.
fn over(h: &Histogram<u64>) -> Json {
    let count = |ms: u64| {
        h.iter_recorded()
            .filter(|v| h.lowest_equivalent(v.value_iterated_to()) >= ms * 1000)
            .map(|v| v.count_at_value())
            .sum::<u64>()
    };
    json!({"10": count(10), "100": count(100), "1000": count(1000)})
}

/// What the run measured, with what it was asked to do.
#[derive(Debug)]
pub struct Run<'a> {
    pub scenario: &'a Scenario,
    pub steps: &'a [Step],
    pub stats: &'a [StepStats],
    pub seconds: &'a [Second],
    pub kind_names: Vec<String>,
    pub kind_weights: Vec<f64>,
    pub targets: Vec<String>,
    pub started_at_unix_ms: i64,
    pub elapsed: Duration,
    pub ingest: Option<&'a IngestReport>,
}

/// The freshness of the markers written between two offsets of the run.
fn freshness(ingest: &IngestReport, from: Duration, to: Duration) -> Json {
    let mut h = crate::recorder::histogram();
    for marker in &ingest.markers {
        if let (true, Some(freshness)) = (
            marker.written >= from && marker.written < to,
            marker.freshness,
        ) {
            h.saturating_record((freshness.as_micros() as u64).max(1));
        }
    }
    percentiles(&h)
}

impl Run<'_> {
    pub fn summary(&self) -> Json {
        let total_weight: f64 = self.kind_weights.iter().sum();
        let mut phases = Vec::new();
        let mut warnings = Vec::new();
        let mut planned_start = Duration::ZERO;
        for (step, stats) in self.steps.iter().zip(self.stats) {
            let step_start = stats.started.unwrap_or(planned_start);
            planned_start = step_start + step.duration;
            let duration = step.duration.as_secs_f64();
            let all = KindStats::merged(&stats.kinds);
            // The rate the server kept: the step's answers that came by its end plus its
            // median latency, over its duration. A server slower than the offered rate
            // answers fewer by then; one straggler (a slow answer, a timeout) does not
            // stretch the whole step.
            let p50 = Duration::from_micros(all.latency.value_at_quantile(0.5));
            let cutoff = (step_start + step.duration + p50).as_millis();
            let answered = stats
                .answered_at_ms
                .iter()
                .filter(|&&at| u128::from(at) <= cutoff)
                .count();
            let share = if all.requests > 0 {
                answered as f64 / all.requests as f64
            } else {
                0.0
            };
            let span = stats.last_done.saturating_sub(step_start).as_secs_f64();
            let mut queries = serde_json::Map::new();
            for (k, kind) in stats.kinds.iter().enumerate() {
                if kind.requests == 0 {
                    continue;
                }
                queries.insert(
                    self.kind_names[k].clone(),
                    json!({
                        "target_qps": round3(step.qps * self.kind_weights[k] / total_weight),
                        "achieved_qps": round3(kind.requests as f64 * share / duration),
                        "requests": kind.requests,
                        "errors": kind.error_count(),
                        "partial_results": kind.partial,
                        "latency_ms": percentiles(&kind.latency),
                    }),
                );
            }
            let achieved = answered as f64 / duration;
            let lag_p99 = ms(stats.schedule_lag.value_at_quantile(0.99));
            let behind = self.scenario.mode == Mode::Open && lag_p99 > BEHIND_SCHEDULE_P99_MS;
            if behind {
                // Waiting for a slot means answers came slower than requests left; lag
                // without it means the harness's own CPU could not keep the schedule.
                let why = if stats.waited_for_slot * 100 >= stats.sent.max(1) {
                    format!(
                        "{} requests waited for one of max_in_flight = {} slots: the server answers slower than the schedule sends (raise max_in_flight to keep the schedule)",
                        stats.waited_for_slot, self.scenario.max_in_flight
                    )
                } else {
                    "the harness itself could not send on time (its CPU): use more threads or another machine".to_string()
                };
                warnings.push(format!(
                    "phase `{}`: the harness fell behind its schedule (schedule lag p99 {lag_p99} ms; {why}); its latencies include the delay",
                    step.name
                ));
            }
            let errors = all.error_count();
            if (achieved - step.qps).abs() > 0.02 * step.qps {
                let why = if behind {
                    "the harness fell behind".to_string()
                } else if all.requests < stats.sent {
                    format!("{} requests never answered", stats.sent - all.requests)
                } else if span > duration + p50.as_secs_f64() {
                    format!(
                        "answers kept coming {:.2} s after the phase ended: the server is slower than the offered rate",
                        span - duration
                    )
                } else {
                    "the mode paces the workers, and answers took longer than their interval"
                        .to_string()
                };
                warnings.push(format!(
                    "phase `{}`: achieved {:.1} QPS against a target of {} ({why})",
                    step.name, achieved, step.qps
                ));
            }
            let mut ingest_fields = serde_json::Map::new();
            if let Some(ingest) = self.ingest {
                let end = step_start + step.duration;
                ingest_fields.insert(
                    "ingest_rows_per_s".into(),
                    round3(ingest.rows_per_s(step_start, end)).into(),
                );
                ingest_fields.insert("freshness_ms".into(), freshness(ingest, step_start, end));
            }
            phases.push(json!({
                "name": step.name,
                "phase": step.phase,
                "kind": step.kind,
                "target_qps": step.qps,
                "duration_s": duration,
                "achieved_qps": round3(achieved),
                "requests": all.requests,
                "errors": errors,
                "error_kinds": all.errors.to_json(),
                "partial_results": all.partial,
                "schedule_lag_ms": percentiles(&stats.schedule_lag),
                "waited_for_slot": stats.waited_for_slot,
                "behind_schedule": behind,
                "latency_ms": percentiles(&all.latency),
                "latency_over_ms": over(&all.latency),
                "service_ms": percentiles(&all.service),
                "reported_freshness_ms": percentiles(&stats.reported_freshness),
                "queries": queries,
            }));
            if let Some(Json::Object(phase)) = phases.last_mut() {
                phase.extend(ingest_fields);
            }
        }
        let knees = self.knees(&phases, &mut warnings);
        let ingest = self.ingest.map(|ingest| {
            let lost = ingest.markers.iter().filter(|m| m.freshness.is_none()).count();
            if lost > 0 {
                warnings.push(format!("{lost} freshness markers were never seen in a query answer"));
            }
            if ingest.batches_late > 0 {
                warnings.push(format!(
                    "ingest: {} batches left late (64 were unanswered): the sink is slower than {} rows/s",
                    ingest.batches_late, ingest.target_rows_per_s
                ));
            }
            json!({
                "sink": ingest.sink,
                "table": ingest.table,
                "target_rows_per_s": ingest.target_rows_per_s,
                "ingest_rows_per_s": round3(ingest.rows_per_s(Duration::ZERO, crate::scenario::total_duration(self.steps))),
                "rows_sent": ingest.rows_sent,
                "rows_acknowledged": ingest.rows_acknowledged,
                "errors": ingest.errors.total(),
                "error_kinds": ingest.errors.to_json(),
                "batches_late": ingest.batches_late,
                "marker_query_failures": ingest.marker_query_failures.to_json(),
                "markers_written": ingest.markers.len(),
                "markers_seen": ingest.markers.len() - lost,
                "markers_lost": lost,
                "freshness_ms": freshness(ingest, Duration::ZERO, Duration::MAX),
            })
        });
        json!({
            "scenario": self.scenario.name,
            "mode": match self.scenario.mode { Mode::Open => "open", Mode::Closed => "closed" },
            "seed": self.scenario.seed,
            "targets": self.targets,
            "started_at_unix_ms": self.started_at_unix_ms,
            "elapsed_s": round3(self.elapsed.as_secs_f64()),
            "slo_p99_ms": self.scenario.slo.p99_ms,
            "phases": phases,
            "knees": knees,
            "ingest": ingest,
            "warnings": warnings,
        })
    }

    /// Per ramp: the highest step before the first that misses the latency target, loses
    /// more than 2 % of its rate, or fails more than 1 % of its requests.
    fn knees(&self, phases: &[Json], warnings: &mut Vec<String>) -> Json {
        let mut knees = Vec::new();
        let mut ramps: Vec<&str> = Vec::new();
        for step in self.steps.iter().filter(|s| s.kind == "ramp") {
            if !ramps.contains(&step.phase.as_str()) {
                ramps.push(&step.phase);
            }
        }
        for ramp in ramps {
            let Some(slo) = self.scenario.slo.p99_ms else {
                warnings.push(format!("ramp `{ramp}`: no slo.p99_ms, so no knee"));
                continue;
            };
            let mut knee: Option<&Json> = None;
            let mut first_miss: Option<&Json> = None;
            for phase in phases.iter().filter(|p| p["phase"] == ramp) {
                let p99 = phase["latency_ms"]["p99"].as_f64().unwrap_or(f64::INFINITY);
                let target = phase["target_qps"].as_f64().unwrap_or(0.0);
                let achieved = phase["achieved_qps"].as_f64().unwrap_or(0.0);
                let requests = phase["requests"].as_f64().unwrap_or(0.0).max(1.0);
                let errors = phase["errors"].as_f64().unwrap_or(0.0);
                if p99 <= slo && achieved >= 0.98 * target && errors / requests <= 0.01 {
                    knee = Some(phase);
                } else {
                    first_miss = Some(phase);
                    break;
                }
            }
            knees.push(json!({
                "phase": ramp,
                "slo_p99_ms": slo,
                "qps": knee.map(|k| k["target_qps"].clone()),
                "p99_ms": knee.map(|k| k["latency_ms"]["p99"].clone()),
                "first_miss_qps": first_miss.map(|m| m["target_qps"].clone()),
                "first_miss_p99_ms": first_miss.map(|m| m["latency_ms"]["p99"].clone()),
            }));
        }
        Json::Array(knees)
    }

    pub fn timeline_csv(&self) -> String {
        let mut out = String::from("second,target_qps,sent,answered,errors,p50_ms,p99_ms,max_ms\n");
        for (i, second) in self.seconds.iter().enumerate() {
            let target = self.target_at(Duration::from_secs(i as u64) + Duration::from_millis(500));
            let (p50, p99, max) = if second.latency.is_empty() {
                (0.0, 0.0, 0.0)
            } else {
                (
                    ms(second.latency.value_at_quantile(0.5)),
                    ms(second.latency.value_at_quantile(0.99)),
                    ms(second.latency.max()),
                )
            };
            let _ = writeln!(
                out,
                "{i},{},{},{},{},{p50},{p99},{max}",
                target.unwrap_or(0.0),
                second.sent,
                second.done,
                second.errors
            );
        }
        out
    }

    /// The offered rate at an offset into the run (open loop; `None` past the last step).
    pub fn target_at(&self, offset: Duration) -> Option<f64> {
        let mut planned = Duration::ZERO;
        for (step, stats) in self.steps.iter().zip(self.stats) {
            let begin = stats.started.unwrap_or(planned);
            planned = begin + step.duration;
            if offset >= begin && offset < planned {
                return Some(step.qps);
            }
        }
        None
    }
}

impl KindStats {
    fn merged(kinds: &[KindStats]) -> KindStats {
        let mut all = KindStats {
            latency: crate::recorder::histogram(),
            service: crate::recorder::histogram(),
            requests: 0,
            errors: Default::default(),
            partial: 0,
        };
        for kind in kinds {
            all.merge(kind);
        }
        all
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// `report.md`: the summary as tables a person reads.
pub fn markdown(summary: &Json) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# tessera-bench: {} ({} loop)\n",
        summary["scenario"].as_str().unwrap_or("?"),
        summary["mode"].as_str().unwrap_or("?")
    );
    let _ = writeln!(out, "Targets: {}\n", summary["targets"]);
    out.push_str("| phase | target QPS | achieved QPS | requests | errors | partial | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | lag p99 ms |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for phase in summary["phases"].as_array().into_iter().flatten() {
        let latency = &phase["latency_ms"];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            phase["name"].as_str().unwrap_or("?"),
            phase["target_qps"],
            phase["achieved_qps"],
            phase["requests"],
            phase["errors"],
            phase["partial_results"],
            latency["p50"],
            latency["p90"],
            latency["p99"],
            latency["p999"],
            latency["max"],
            phase["schedule_lag_ms"]["p99"],
        );
    }
    for phase in summary["phases"].as_array().into_iter().flatten() {
        if let Some(kinds) = phase["error_kinds"].as_object().filter(|k| !k.is_empty()) {
            let _ = writeln!(
                out,
                "\nErrors in `{}`:",
                phase["name"].as_str().unwrap_or("?")
            );
            for (kind, detail) in kinds {
                let _ = writeln!(out, "- {kind} × {}: {}", detail["count"], detail["example"]);
            }
        }
    }
    for knee in summary["knees"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "\nKnee of `{}` (p99 ≤ {} ms): {} QPS (p99 {} ms); first miss at {} QPS (p99 {} ms).",
            knee["phase"].as_str().unwrap_or("?"),
            knee["slo_p99_ms"],
            knee["qps"],
            knee["p99_ms"],
            knee["first_miss_qps"],
            knee["first_miss_p99_ms"]
        );
    }
    let ingest = &summary["ingest"];
    if ingest.is_object() {
        let _ = writeln!(
            out,
            "\nIngest through {} into `{}`: {} rows/s acknowledged (target {}), {} rows, {} errors; freshness of {} markers (lost {}): p50 {} ms, p99 {} ms, max {} ms.",
            ingest["sink"].as_str().unwrap_or("?"),
            ingest["table"].as_str().unwrap_or("?"),
            ingest["ingest_rows_per_s"],
            ingest["target_rows_per_s"],
            ingest["rows_acknowledged"],
            ingest["errors"],
            ingest["markers_seen"],
            ingest["markers_lost"],
            ingest["freshness_ms"]["p50"],
            ingest["freshness_ms"]["p99"],
            ingest["freshness_ms"]["max"],
        );
    }
    let warnings = summary["warnings"].as_array().cloned().unwrap_or_default();
    if !warnings.is_empty() {
        out.push_str("\n## Warnings\n\n");
        for warning in warnings {
            let _ = writeln!(out, "- {}", warning.as_str().unwrap_or("?"));
        }
    }
    out.push_str("\nPlots: latency.svg/png (percentiles per second), qps.svg/png (target, sent, answered per second), ramp.svg/png (QPS → p99, when the scenario ramps).\n");
    out
}
