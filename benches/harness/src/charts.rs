//! The run's plots: latency percentiles per second, target against sent and answered
//! requests per second, and each ramp's QPS → p99 curve with its knee.

use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;

use crate::plot::{BLUE_, Chart, GREEN_, GREY, ORANGE, RED_, Series, write};
use crate::report::{Run, ms};

/// Writes every plot into `dir`; the file names written.
pub fn write_all(run: &Run<'_>, summary: &Json, dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let seconds: Vec<(f64, &crate::recorder::Second)> = run
        .seconds
        .iter()
        .enumerate()
        .map(|(i, s)| (i as f64 + 0.5, s))
        .collect();
    let answered = |f: &dyn Fn(&crate::recorder::Second) -> f64| -> Vec<(f64, f64)> {
        seconds
            .iter()
            .filter(|(_, s)| !s.latency.is_empty())
            .map(|(x, s)| (*x, f(s)))
            .collect()
    };
    let latency = Chart {
        title: format!(
            "{}: latency per second ({} loop)",
            run.scenario.name,
            summary["mode"].as_str().unwrap_or("?")
        ),
        x_label: "seconds into the run".into(),
        y_label: "latency (ms)".into(),
        series: vec![
            Series {
                name: "p50".into(),
                points: answered(&|s| ms(s.latency.value_at_quantile(0.5))),
                color: BLUE_,
                dots: false,
            },
            Series {
                name: "p99".into(),
                points: answered(&|s| ms(s.latency.value_at_quantile(0.99))),
                color: ORANGE,
                dots: false,
            },
            Series {
                name: "max".into(),
                points: answered(&|s| ms(s.latency.max())),
                color: RED_,
                dots: false,
            },
        ],
        reference: run
            .scenario
            .slo
            .p99_ms
            .map(|p99| (p99, format!("target p99 {p99} ms"))),
        marker: None,
    };
    files.extend(write(&latency, dir, "latency")?);
    let qps = Chart {
        title: format!("{}: requests per second", run.scenario.name),
        x_label: "seconds into the run".into(),
        y_label: "requests / s".into(),
        series: vec![
            Series {
                name: "target".into(),
                points: seconds
                    .iter()
                    .filter_map(|(x, _)| {
                        run.target_at(Duration::from_secs_f64(*x)).map(|t| (*x, t))
                    })
                    .collect(),
                color: GREY,
                dots: false,
            },
            Series {
                name: "sent".into(),
                points: seconds.iter().map(|(x, s)| (*x, s.sent as f64)).collect(),
                color: BLUE_,
                dots: false,
            },
            Series {
                name: "answered".into(),
                points: seconds.iter().map(|(x, s)| (*x, s.done as f64)).collect(),
                color: GREEN_,
                dots: false,
            },
        ],
        reference: None,
        marker: None,
    };
    files.extend(write(&qps, dir, "qps")?);
    if let Some(ingest) = run.ingest {
        let points: Vec<(f64, f64)> = ingest
            .markers
            .iter()
            .filter_map(|m| Some((m.written.as_secs_f64(), m.freshness?.as_secs_f64() * 1000.0)))
            .collect();
        let chart = Chart {
            title: format!(
                "{}: freshness through {} (marker written → seen)",
                run.scenario.name, ingest.sink
            ),
            x_label: "seconds into the run".into(),
            y_label: "freshness (ms)".into(),
            series: vec![Series {
                name: "marker".into(),
                points,
                color: GREEN_,
                dots: true,
            }],
            reference: None,
            marker: None,
        };
        files.extend(write(&chart, dir, "freshness")?);
    }
    for knee in summary["knees"].as_array().into_iter().flatten() {
        let ramp = knee["phase"].as_str().unwrap_or("ramp");
        let points: Vec<(f64, f64)> = summary["phases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["phase"] == ramp)
            .filter_map(|p| Some((p["target_qps"].as_f64()?, p["latency_ms"]["p99"].as_f64()?)))
            .collect();
        let slo = knee["slo_p99_ms"].as_f64();
        // Past the knee p99 grows by orders of magnitude; drawn to scale, the steps that
        // meet the target would lie flat on the axis. Points above 5× the target are drawn
        // at 5× the target, and the title says so.
        let cap = slo.map(|s| s * 5.0).unwrap_or(f64::INFINITY);
        let clipped = points.iter().any(|p| p.1 > cap);
        let points: Vec<(f64, f64)> = points.into_iter().map(|(q, p)| (q, p.min(cap))).collect();
        let chart = Chart {
            title: if clipped {
                format!(
                    "{}: ramp `{ramp}`, offered QPS → p99 (above {cap} ms drawn at {cap})",
                    run.scenario.name
                )
            } else {
                format!("{}: ramp `{ramp}`, offered QPS → p99", run.scenario.name)
            },
            x_label: "offered QPS".into(),
            y_label: "p99 latency (ms)".into(),
            series: vec![Series {
                name: "p99".into(),
                points,
                color: ORANGE,
                dots: true,
            }],
            reference: slo.map(|s| (s, format!("target p99 {s} ms"))),
            marker: match (knee["qps"].as_f64(), knee["p99_ms"].as_f64()) {
                (Some(q), Some(p)) => Some(((q, p), format!("knee: {q} QPS"))),
                _ => None,
            },
        };
        let stem = format!(
            "ramp-{}",
            ramp.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        files.extend(write(&chart, dir, &stem)?);
    }
    Ok(files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect())
}
