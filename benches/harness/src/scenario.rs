//! A scenario file (TOML): where to send load, which queries, at what rates, for how long.
//! Every table denies unknown keys, so a typo is an error that names the key and its line.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// Seeds the query mix and every parameter draw: the same seed sends the same requests.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub mode: Mode,
    /// Closed loop: requests outstanding at once (each worker waits for its answer).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Open loop: requests outstanding at once before the schedule has to wait (the wait
    /// shows as schedule lag and in the latency, never hidden).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// A request that has no answer after this long counts as a `client_timeout` error.
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Worker threads of the harness's runtime (1: the harness uses one core).
    #[serde(default = "default_threads")]
    pub threads: usize,
    pub targets: Vec<TargetSpec>,
    pub queries: Vec<QuerySpec>,
    pub phases: Vec<PhaseSpec>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
    #[serde(default)]
    pub slo: Slo,
    /// Rows written while the queries run, with freshness markers.
    pub ingest: Option<IngestSpec>,
}

/// Ingest during the run: generated rows at a rate, through push or Kafka, and marker rows
/// whose arrival in query answers measures freshness end to end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSpec {
    pub table: String,
    /// `http://host:port`: rows are POSTed to `/ingest/{table}` as JSON lines.
    pub push: Option<String>,
    /// `user:password` for the push endpoint.
    pub basic_auth: Option<String>,
    /// Bootstrap servers: rows are produced to `topic`, one JSON message each.
    pub kafka: Option<String>,
    pub topic: Option<String>,
    pub rows_per_s: f64,
    /// Rows per push request (or per produce tick).
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Column → how its values are drawn (the kinds of `[params]`, without `column`).
    pub columns: BTreeMap<String, ParamSpec>,
    /// A string column: each marker row holds a value no other row has.
    pub marker_column: String,
    #[serde(default = "default_marker_interval", deserialize_with = "duration")]
    pub marker_interval: Duration,
    /// How often the marker query asks which markers are visible.
    #[serde(default = "default_poll_interval", deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// A marker not seen this long after its write counts as lost.
    #[serde(default = "default_marker_timeout", deserialize_with = "duration")]
    pub marker_timeout: Duration,
}

fn default_batch_rows() -> usize {
    500
}
fn default_marker_interval() -> Duration {
    Duration::from_millis(200)
}
fn default_poll_interval() -> Duration {
    Duration::from_millis(10)
}
fn default_marker_timeout() -> Duration {
    Duration::from_secs(30)
}

impl IngestSpec {
    fn check(&self) -> anyhow::Result<()> {
        if self.push.is_some() == self.kafka.is_some() {
            bail!("[ingest] needs exactly one of `push` and `kafka`");
        }
        if self.kafka.is_some() && self.topic.is_none() {
            bail!("[ingest] with `kafka` needs a `topic`");
        }
        if !(self.rows_per_s.is_finite() && (0.001..=100_000_000.0).contains(&self.rows_per_s)) {
            bail!("[ingest] rows_per_s must be in [0.001, 100000000]");
        }
        if self.batch_rows == 0 || self.batch_rows > 1_000_000 {
            bail!("[ingest] batch_rows must be in 1..=1000000");
        }
        if self.marker_interval.is_zero() || self.poll_interval.is_zero() {
            bail!("[ingest] marker_interval and poll_interval must be above 0");
        }
        for (name, spec) in &self.columns {
            if matches!(spec, ParamSpec::Column { .. }) {
                bail!(
                    "[ingest.columns.{name}]: kind `column` reads a query; ingest columns cannot"
                );
            }
            spec.check(name)?;
        }
        if !self
            .marker_column
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            bail!(
                "[ingest] marker_column `{}` is not a plain column name",
                self.marker_column
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Requests leave on a fixed schedule whatever the answers do; latency counts from the
    /// intended send time.
    #[default]
    Open,
    /// `concurrency` workers each send, wait for the answer, then send again; latency
    /// counts from the actual send (what most harnesses report).
    Closed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// `http://host:port` (queries go to `/query/sql`) or a full URL.
    pub url: Option<String>,
    /// `postgres://user[:password]@host:port/database`.
    pub postgres: Option<String>,
    /// `user:password` sent as HTTP Basic auth.
    pub basic_auth: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    pub name: String,
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// SQL with `{param}` placeholders (`{{` and `}}` for braces).
    pub sql: Option<String>,
    /// Instead of SQL: a path fetched with GET on HTTP targets (`/health`).
    pub get: Option<String>,
    /// Pinot query options sent with the SQL over HTTP (`timeoutMs=500`).
    pub query_options: Option<String>,
    /// Answers are checked to have exactly this many rows (an error `wrong_rows` otherwise).
    pub expect_rows: Option<u64>,
    /// A JSON file (relative to the scenario) holding the rows every answer must equal, in
    /// order (`[["AIR", 858104], ...]`; numbers to 1e-9 relative); `wrong_result` otherwise.
    /// HTTP targets only.
    pub expect_result: Option<std::path::PathBuf>,
}

/// How a `{name}` placeholder draws its value.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ParamSpec {
    /// 0, 1, 2, … (or from `start`): unique ids.
    Sequence {
        #[serde(default)]
        start: i64,
    },
    /// An integer uniform in `min..=max`.
    Uniform { min: i64, max: i64 },
    /// One of `values`, uniformly.
    Choice { values: Vec<toml::Value> },
    /// One of `values` (or of the integers `1..=n`), the k-th with weight 1/k^exponent.
    Zipf {
        values: Option<Vec<toml::Value>>,
        n: Option<u64>,
        #[serde(default = "default_exponent")]
        exponent: f64,
    },
    /// The current time in epoch milliseconds minus one of `minus` (drawn uniformly), for
    /// dashboard filters such as `ts > {since}`: Grafana sends its time range as literals.
    Now { minus: Vec<String> },
    /// The first column of a query's answer, read from the first target before the run
    /// (`SELECT DISTINCT country FROM events`), then drawn uniformly or by zipf.
    Column {
        sql: String,
        #[serde(default)]
        zipf: Option<f64>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PhaseSpec {
    Steady {
        name: Option<String>,
        qps: f64,
        #[serde(deserialize_with = "duration")]
        duration: Duration,
    },
    /// The same as steady, named for long runs.
    Soak {
        name: Option<String>,
        qps: f64,
        #[serde(deserialize_with = "duration")]
        duration: Duration,
    },
    /// `steps` steps from `from` to `to` QPS (both included), each `step_duration` long;
    /// each step is reported as its own phase, `NAME@QPS`.
    Ramp {
        name: Option<String>,
        from: f64,
        to: f64,
        steps: u32,
        #[serde(deserialize_with = "duration")]
        step_duration: Duration,
    },
    /// `qps` for `duration`, except `spike_qps` from `spike_at` for `spike_duration`.
    Spike {
        name: Option<String>,
        qps: f64,
        spike_qps: f64,
        #[serde(deserialize_with = "duration")]
        duration: Duration,
        #[serde(deserialize_with = "duration")]
        spike_at: Duration,
        #[serde(deserialize_with = "duration")]
        spike_duration: Duration,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The latency target a ramp's knee is found against.
    pub p99_ms: Option<f64>,
}

/// How long the steps run, end to end.
pub fn total_duration(steps: &[Step]) -> Duration {
    steps.iter().map(|s| s.duration).sum()
}

/// One stretch of constant offered rate: what the runner schedules and the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    /// The phase the step came from (a ramp's steps share it).
    pub phase: String,
    pub kind: &'static str,
    pub qps: f64,
    pub duration: Duration,
}

/// Most requests outstanding at once (and closed-loop workers).
const MAX_IN_FLIGHT: usize = 1 << 20;
/// Most values a zipf parameter of `n` draws from (each is kept in memory).
const MAX_ZIPF_N: u64 = 10_000_000;

fn default_seed() -> u64 {
    1
}
fn default_concurrency() -> usize {
    8
}
fn default_max_in_flight() -> usize {
    1024
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_threads() -> usize {
    1
}
fn default_weight() -> f64 {
    1.0
}
fn default_exponent() -> f64 {
    1.0
}

fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// `500ms`, `60s`, `2m`, `1h`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (write 500ms, 60s, 2m or 1h)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("`{text}` has no unit of ms, s, m or h")),
    };
    if !(0.0..=366.0 * 86400.0).contains(&seconds) {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl Scenario {
    /// Parses a scenario, applies `key=value` overrides (dotted paths, array indexes as
    /// numbers: `phases.0.qps=300`), and checks what the types cannot.
    pub fn parse(text: &str, overrides: &[String]) -> anyhow::Result<Scenario> {
        // Deserializing from the text first keeps line numbers in the errors.
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        if !overrides.is_empty() {
            let mut table: toml::Table = toml::from_str(text)?;
            for assignment in overrides {
                apply_override(&mut table, assignment)?;
            }
            scenario = Scenario::deserialize(toml::Value::Table(table))
                .map_err(|e| anyhow::anyhow!("after --set: {e}"))?;
        }
        scenario.check()?;
        Ok(scenario)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.targets.is_empty() {
            bail!("the scenario has no [[targets]]");
        }
        for (i, target) in self.targets.iter().enumerate() {
            if target.url.is_some() == target.postgres.is_some() {
                bail!("targets[{i}] needs exactly one of `url` and `postgres`");
            }
        }
        if self.queries.is_empty() {
            bail!("the scenario has no [[queries]]");
        }
        for query in &self.queries {
            if query.sql.is_some() == query.get.is_some() {
                bail!(
                    "query `{}` needs exactly one of `sql` and `get`",
                    query.name
                );
            }
            if !(query.weight.is_finite() && query.weight > 0.0) {
                bail!(
                    "query `{}` has weight {}: it must be > 0",
                    query.name,
                    query.weight
                );
            }
            if query.expect_result.is_some()
                && (query.get.is_some() || self.targets.iter().any(|t| t.postgres.is_some()))
            {
                bail!(
                    "query `{}`: expect_result checks SQL answers over HTTP targets only",
                    query.name
                );
            }
            if query.get.is_some() && self.targets.iter().any(|t| t.postgres.is_some()) {
                bail!(
                    "query `{}` is a GET, which a postgres target cannot send",
                    query.name
                );
            }
        }
        if self.phases.is_empty() {
            bail!("the scenario has no [[phases]]");
        }
        if self.concurrency == 0 || self.max_in_flight == 0 || self.threads == 0 {
            bail!("concurrency, max_in_flight and threads must be at least 1");
        }
        if self.max_in_flight > MAX_IN_FLIGHT
            || self.concurrency > MAX_IN_FLIGHT
            || self.threads > 256
        {
            bail!(
                "max_in_flight and concurrency may be at most {MAX_IN_FLIGHT}, threads at most 256"
            );
        }
        for (name, spec) in &self.params {
            spec.check(name)?;
        }
        if let Some(ingest) = &self.ingest {
            ingest.check()?;
        }
        let steps = self.steps()?;
        if steps.is_empty() {
            bail!("the phases hold no time to send in");
        }
        for step in steps {
            if !(step.qps.is_finite() && (0.001..=10_000_000.0).contains(&step.qps)) {
                bail!(
                    "phase `{}` has qps {}: it must be in [0.001, 10000000]",
                    step.name,
                    step.qps
                );
            }
            if step.duration.is_zero() {
                bail!("phase `{}` has no duration", step.name);
            }
        }
        Ok(())
    }

    /// The phases as steps of constant rate, in order.
    pub fn steps(&self) -> anyhow::Result<Vec<Step>> {
        let mut steps = Vec::new();
        for (i, phase) in self.phases.iter().enumerate() {
            let fallback = |kind: &str| format!("{kind}{}", i + 1);
            match phase {
                PhaseSpec::Steady {
                    name,
                    qps,
                    duration,
                }
                | PhaseSpec::Soak {
                    name,
                    qps,
                    duration,
                } => {
                    let kind = if matches!(phase, PhaseSpec::Steady { .. }) {
                        "steady"
                    } else {
                        "soak"
                    };
                    let name = name.clone().unwrap_or_else(|| fallback(kind));
                    steps.push(Step {
                        name: name.clone(),
                        phase: name,
                        kind,
                        qps: *qps,
                        duration: *duration,
                    });
                }
                PhaseSpec::Ramp {
                    name,
                    from,
                    to,
                    steps: count,
                    step_duration,
                } => {
                    if *count == 0 {
                        bail!("ramp phase {} has 0 steps", i + 1);
                    }
                    let name = name.clone().unwrap_or_else(|| fallback("ramp"));
                    for k in 0..*count {
                        let fraction = if *count == 1 {
                            1.0
                        } else {
                            f64::from(k) / f64::from(count - 1)
                        };
                        // Whole rates stay whole; fine ramps keep three decimals.
                        let qps = ((from + (to - from) * fraction) * 1000.0).round() / 1000.0;
                        steps.push(Step {
                            name: format!("{name}@{qps}"),
                            phase: name.clone(),
                            kind: "ramp",
                            qps,
                            duration: *step_duration,
                        });
                    }
                }
                PhaseSpec::Spike {
                    name,
                    qps,
                    spike_qps,
                    duration,
                    spike_at,
                    spike_duration,
                } => {
                    let name = name.clone().unwrap_or_else(|| fallback("spike"));
                    if *spike_at + *spike_duration > *duration {
                        bail!(
                            "spike phase `{name}`: spike_at + spike_duration passes its duration"
                        );
                    }
                    let parts = [
                        ("before", *qps, *spike_at),
                        ("spike", *spike_qps, *spike_duration),
                        ("after", *qps, *duration - *spike_at - *spike_duration),
                    ];
                    for (part, qps, length) in parts {
                        if !length.is_zero() {
                            steps.push(Step {
                                name: format!("{name}/{part}"),
                                phase: name.clone(),
                                kind: "spike",
                                qps,
                                duration: length,
                            });
                        }
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for step in &steps {
            if !seen.insert(step.name.clone()) {
                bail!("two phases are named `{}`", step.name);
            }
        }
        Ok(steps)
    }
}

impl ParamSpec {
    fn check(&self, name: &str) -> anyhow::Result<()> {
        match self {
            ParamSpec::Uniform { min, max } if min > max => {
                bail!("param `{name}`: min {min} is above max {max}")
            }
            ParamSpec::Choice { values } if values.is_empty() => {
                bail!("param `{name}` has no values")
            }
            ParamSpec::Now { minus } => {
                if minus.is_empty() {
                    bail!("param `{name}` has no `minus` durations");
                }
                for text in minus {
                    parse_duration(text).map_err(|e| anyhow::anyhow!("param `{name}`: {e}"))?;
                }
                Ok(())
            }
            ParamSpec::Zipf {
                values,
                n,
                exponent,
                ..
            } => {
                if values.is_some() == n.is_some() {
                    bail!("zipf param `{name}` needs exactly one of `values` and `n`");
                }
                if values.as_ref().is_some_and(Vec::is_empty) || *n == Some(0) {
                    bail!("zipf param `{name}` has nothing to draw");
                }
                if n.is_some_and(|n| n > MAX_ZIPF_N) {
                    bail!("zipf param `{name}`: n may be at most {MAX_ZIPF_N}");
                }
                if !(exponent.is_finite() && *exponent >= 0.0) {
                    bail!("zipf param `{name}`: exponent must be >= 0");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn apply_override(table: &mut toml::Table, assignment: &str) -> anyhow::Result<()> {
    let (path, raw) = assignment
        .split_once('=')
        .with_context(|| format!("--set `{assignment}` is not KEY=VALUE"))?;
    // A TOML value if it parses as one (300, true, "x", [1, 2]); a bare string otherwise.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let keys: Vec<&str> = path.trim().split('.').collect();
    if keys.len() == 1 {
        table.insert(keys[0].to_string(), value);
        return Ok(());
    }
    let mut current: &mut toml::Value = table
        .get_mut(keys[0])
        .with_context(|| format!("--set `{path}`: the scenario has no `{}`", keys[0]))?;
    for (depth, key) in keys.iter().enumerate().skip(1) {
        let last = depth == keys.len() - 1;
        current = match current {
            toml::Value::Table(inner) => {
                if last {
                    inner.insert((*key).to_string(), value);
                    return Ok(());
                }
                inner
                    .get_mut(*key)
                    .with_context(|| format!("--set `{path}`: no `{key}` there"))?
            }
            toml::Value::Array(items) => {
                let index: usize = key
                    .parse()
                    .with_context(|| format!("--set `{path}`: `{key}` is not an index"))?;
                let len = items.len();
                let item = items
                    .get_mut(index)
                    .with_context(|| format!("--set `{path}`: index {index} of {len}"))?;
                if last {
                    *item = value;
                    return Ok(());
                }
                item
            }
            _ => bail!("--set `{path}`: `{key}` is inside a value that is not a table"),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name = "t"
[[targets]]
url = "http://127.0.0.1:1"
[[queries]]
name = "q"
sql = "SELECT 1"
[[phases]]
kind = "steady"
qps = 100
duration = "2s"
[[phases]]
kind = "ramp"
name = "up"
from = 100
to = 300
steps = 3
step_duration = "1s"
"#;

    #[test]
    fn steps_expand_ramps() {
        let scenario = Scenario::parse(BASE, &[]).expect("parses");
        let steps = scenario.steps().expect("steps");
        let names: Vec<_> = steps.iter().map(|s| (s.name.as_str(), s.qps)).collect();
        assert_eq!(
            names,
            [
                ("steady1", 100.0),
                ("up@100", 100.0),
                ("up@200", 200.0),
                ("up@300", 300.0)
            ]
        );
    }

    #[test]
    fn a_typo_names_the_key_and_line() {
        let text = BASE.replace("qps = 100\n", "qsp = 100\n");
        let error = Scenario::parse(&text, &[]).expect_err("typo").to_string();
        assert!(error.contains("qsp"), "{error}");
        assert!(error.contains("line"), "{error}");
    }

    #[test]
    fn overrides_reach_into_arrays() {
        let scenario = Scenario::parse(
            BASE,
            &[
                "phases.0.qps=250".into(),
                "targets.0.url=http://h:2".into(),
                "seed=9".into(),
            ],
        )
        .expect("parses");
        assert_eq!(scenario.steps().expect("steps")[0].qps, 250.0);
        assert_eq!(scenario.targets[0].url.as_deref(), Some("http://h:2"));
        assert_eq!(scenario.seed, 9);
        let error = Scenario::parse(BASE, &["phases.7.qps=1".into()]).expect_err("index");
        assert!(error.to_string().contains("index 7 of 2"), "{error}");
    }

    #[test]
    fn the_shipped_scenarios_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).expect("benches/scenarios") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).expect("read");
                let scenario = Scenario::parse(&text, &[])
                    .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                assert!(!scenario.steps().expect("steps").is_empty());
                // Every placeholder names a parameter (column parameters get a stand-in).
                let stand_in: BTreeMap<String, Vec<crate::mix::Value>> = scenario
                    .params
                    .keys()
                    .map(|k| (k.clone(), vec![crate::mix::Value::Text("x".into())]))
                    .collect();
                let mut mix =
                    crate::mix::Mix::new(&scenario.queries, &scenario.params, &stand_in, 1)
                        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                let _ = mix.next();
                count += 1;
            }
        }
        assert!(count >= 4, "{count} scenarios");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
