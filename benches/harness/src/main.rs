//! `tessera-bench`: load tests against Tessera with honest latency.
//!
//! `tessera-bench run SCENARIO.toml --out DIR [--set key=value]...` sends the scenario's
//! load and writes `DIR/summary.json`, `report.md`, `timeline.csv` and plots;
//! `tessera-bench compare BASELINE.json RUN.json [--max-regression 10%]` exits 1 when the
//! run regressed. See docs/load-testing.md.

mod charts;
mod compare;
mod expect;
mod hdr_log;
mod http;
mod ingest;
mod mix;
mod plot;
mod postgres;
mod recorder;
mod report;
mod runner;
mod scenario;
mod target;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::scenario::{ParamSpec, Scenario};

#[derive(Parser, Debug)]
#[command(
    name = "tessera-bench",
    about = "Open-loop load tests against Tessera, with honest latency"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs a scenario and writes its report.
    Run {
        scenario: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Overrides a scenario field: `phases.0.qps=300`, `targets.0.url=http://h:8099`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// No progress bar (it is also off when stderr is not a terminal).
        #[arg(long)]
        quiet: bool,
    },
    /// Compares two summaries; exits 1 when RUN regressed from BASELINE.
    Compare {
        baseline: PathBuf,
        run: PathBuf,
        /// Relative regression allowed in p50, p99 and achieved QPS (`10%` or `0.1`).
        #[arg(long, default_value = "10%", value_parser = compare::parse_fraction)]
        max_regression: f64,
        /// Latency changes smaller than this (ms) never count as regressions.
        #[arg(long, default_value_t = 1.0)]
        min_delta_ms: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            out,
            overrides,
            quiet,
        } => match run(&scenario, &out, &overrides, quiet) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("tessera-bench: {error:#}");
                ExitCode::from(2)
            }
        },
        Command::Compare {
            baseline,
            run,
            max_regression,
            min_delta_ms,
        } => {
            let read = |path: &Path| -> anyhow::Result<serde_json::Value> {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))
            };
            let (base, current) = match (read(&baseline), read(&run)) {
                (Ok(base), Ok(current)) => (base, current),
                (Err(error), _) | (_, Err(error)) => {
                    eprintln!("tessera-bench: {error:#}");
                    return ExitCode::from(2);
                }
            };
            let verdict = compare::compare(
                &base,
                &current,
                compare::Thresholds {
                    max_regression,
                    min_delta_ms,
                },
            );
            print!("{}", verdict.report);
            if verdict.regressions.is_empty() {
                println!("no regression beyond {:.1}%", max_regression * 100.0);
                ExitCode::SUCCESS
            } else {
                for regression in &verdict.regressions {
                    println!("REGRESSION {regression}");
                }
                ExitCode::from(1)
            }
        }
    }
}

fn run(path: &Path, out: &Path, overrides: &[String], quiet: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let scenario = Scenario::parse(&text, overrides)
        .with_context(|| format!("scenario {}", path.display()))?;
    let steps = scenario.steps()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let runtime = if scenario.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(scenario.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let targets: Vec<Arc<target::Target>> = scenario
            .targets
            .iter()
            .map(|spec| target::Target::new(spec).map(Arc::new))
            .collect::<anyhow::Result<_>>()?;
        let mut warnings = Vec::new();
        for target in &targets {
            if let Err(reason) = target.probe().await {
                let warning = format!("target {} is unreachable: {reason}", target.describe());
                eprintln!("tessera-bench: {warning}; running anyway, its requests count as errors");
                warnings.push(warning);
            }
        }
        let mut column_values = BTreeMap::new();
        for (name, spec) in &scenario.params {
            if let ParamSpec::Column { sql, .. } = spec {
                let values = tokio::time::timeout(scenario.timeout, targets[0].column_values(sql))
                    .await
                    .map_err(|_| anyhow::anyhow!("no answer within {:?}", scenario.timeout))
                    .and_then(|answer| answer)
                    .with_context(|| format!("param `{name}`: reading its values with `{sql}`"))?;
                column_values.insert(name.clone(), values);
            }
        }
        let mix = mix::Mix::new(
            &scenario.queries,
            &scenario.params,
            &column_values,
            scenario.seed,
        )?;
        let kind_names: Vec<String> = mix.templates.iter().map(|t| t.name.clone()).collect();
        let base = path.parent().unwrap_or(Path::new("."));
        let expected = scenario
            .queries
            .iter()
            .map(|q| {
                q.expect_result
                    .as_ref()
                    .map(|file| expect::load(&base.join(file)).map(Arc::new))
                    .transpose()
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let plan = runner::Plan {
            steps: steps.clone(),
            mode: scenario.mode,
            concurrency: scenario.concurrency,
            max_in_flight: scenario.max_in_flight,
            timeout: scenario.timeout,
            targets: targets.clone(),
            mix,
            expected,
        };
        let started_at_unix_ms = unix_ms();
        let recorder = Arc::new(recorder::Recorder::new(steps.len(), kind_names.len()));
        let started = Instant::now();
        let progress = (!quiet).then(|| progress_bar(&steps));
        let ticker = progress.clone().map(|bar| {
            let recorder = recorder.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let now = recorder.progress();
                    bar.set_position(recorder.start.elapsed().as_millis() as u64);
                    bar.set_message(format!(
                        "{:>8.0} QPS  p99 {:>8.2} ms  sent {}  answered {}  errors {}",
                        now.recent_qps, now.recent_p99_ms, now.sent, now.done, now.errors
                    ));
                }
            })
        });
        let ingest = scenario.ingest.clone().map(|spec| {
            tokio::spawn(ingest::run(
                spec,
                scenario.seed,
                recorder.start,
                scenario::total_duration(&steps),
                scenario.timeout,
                targets[0].clone(),
            ))
        });
        runner::run(plan, recorder.clone()).await;
        let ingest = match ingest {
            None => None,
            Some(handle) => match handle.await {
                Ok(Ok(report)) => Some(report),
                Ok(Err(error)) => {
                    warnings.push(format!("ingest did not run: {error:#}"));
                    None
                }
                Err(error) => {
                    warnings.push(format!("ingest stopped: {error}"));
                    None
                }
            },
        };
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        let elapsed = started.elapsed();
        let (stats, seconds) = recorder.finish();
        let report = report::Run {
            scenario: &scenario,
            steps: &steps,
            stats: &stats,
            seconds: &seconds,
            kind_names,
            kind_weights: scenario.queries.iter().map(|q| q.weight).collect(),
            targets: targets.iter().map(|t| t.describe()).collect(),
            started_at_unix_ms,
            elapsed,
            ingest: ingest.as_ref(),
        };
        let mut summary = report.summary();
        match charts::write_all(&report, &summary, out) {
            Ok(files) => summary["plots"] = files.into(),
            Err(error) => warnings.push(format!("plots not written: {error:#}")),
        }
        if let Some(list) = summary["warnings"].as_array_mut() {
            list.extend(warnings.into_iter().map(Into::into));
        }
        write(
            out,
            "summary.json",
            &serde_json::to_string_pretty(&summary)?,
        )?;
        write(out, "timeline.csv", &report.timeline_csv())?;
        let log = hdr_log::interval_log(
            started_at_unix_ms,
            seconds
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64, 1.0, &s.latency)),
        )?;
        write(out, "latency.hlog", &log)?;
        let markdown = report::markdown(&summary);
        write(out, "report.md", &markdown)?;
        print!("{markdown}");
        Ok(())
    })
}

fn write(dir: &Path, name: &str, contents: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
}

fn progress_bar(steps: &[scenario::Step]) -> indicatif::ProgressBar {
    let total = scenario::total_duration(steps);
    let bar = indicatif::ProgressBar::new(total.as_millis() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}
