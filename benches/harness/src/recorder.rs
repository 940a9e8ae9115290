//! Everything a run measures, kept in HDR histograms: per step and query kind, the latency
//! from the intended send time (open loop) and the service time from the actual send; per
//! step, how late the schedule sent; per second, a timeline for the plots.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::target::Outcome;

/// Latencies are kept in microseconds up to an hour, three significant digits.
const MAX_MICROS: u64 = 3_600_000_000;

pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that the constructor accepts.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

fn small_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).unwrap_or_else(|_| unreachable!("valid bounds"))
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

/// Failures by kind: how many, and the first message of each kind.
#[derive(Debug, Default)]
pub struct ErrorCounts(BTreeMap<String, (u64, String)>);

impl ErrorCounts {
    /// `count` more failures of `kind`; `message` is kept when the kind is new.
    pub fn add(&mut self, kind: &str, message: impl FnOnce() -> String, count: u64) {
        match self.0.get_mut(kind) {
            Some(entry) => entry.0 += count,
            None => {
                self.0.insert(kind.to_string(), (count, message()));
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().map(|(n, _)| n).sum()
    }

    pub fn merge(&mut self, other: &ErrorCounts) {
        for (kind, (count, message)) in &other.0 {
            self.add(kind, || message.clone(), *count);
        }
    }

    /// `{kind: {"count": n, "example": first message}}`, as the summary writes it.
    pub fn to_json(&self) -> serde_json::Value {
        self.0
            .iter()
            .map(|(kind, (count, example))| {
                (
                    kind.clone(),
                    serde_json::json!({"count": count, "example": example}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

#[derive(Debug)]
pub struct KindStats {
    /// From the intended send time to the answer (what a user waiting on a schedule sees).
    pub latency: Histogram<u64>,
    /// From the actual send to the answer.
    pub service: Histogram<u64>,
    pub requests: u64,
    pub errors: ErrorCounts,
    pub partial: u64,
}

impl KindStats {
    fn new() -> KindStats {
        KindStats {
            latency: histogram(),
            service: histogram(),
            requests: 0,
            errors: ErrorCounts::default(),
            partial: 0,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.total()
    }

    pub fn merge(&mut self, other: &KindStats) {
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        self.requests += other.requests;
        self.partial += other.partial;
        self.errors.merge(&other.errors);
    }
}

#[derive(Debug)]
pub struct StepStats {
    pub kinds: Vec<KindStats>,
    /// How late each request left against its intended time (open loop).
    pub schedule_lag: Histogram<u64>,
    /// Requests that had to wait for a free slot (`max_in_flight` outstanding).
    pub waited_for_slot: u64,
    pub sent: u64,
    /// When the step's last answer came, from the run's start.
    pub last_done: Duration,
    /// Now minus the server's reported freshness, per answer that had one.
    pub reported_freshness: Histogram<u64>,
    /// When each answer came, in ms from the run's start.
    pub answered_at_ms: Vec<u32>,
    /// When the step really began, from the run's start, when that differs from its plan
    /// (a closed-loop step starts when the last worker of the one before returns).
    pub started: Option<Duration>,
}

/// One second of the run, by the time answers came.
#[derive(Debug)]
pub struct Second {
    pub sent: u64,
    pub done: u64,
    pub errors: u64,
    pub latency: Histogram<u32>,
}

#[derive(Debug)]
struct Inner {
    steps: Vec<StepStats>,
    seconds: Vec<Second>,
}

#[derive(Debug)]
pub struct Recorder {
    pub start: Instant,
    inner: Mutex<Inner>,
}

/// A moment's view for the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    pub sent: u64,
    pub done: u64,
    pub errors: u64,
    /// p99 of the answers of the last two whole seconds, in ms.
    pub recent_p99_ms: f64,
    pub recent_qps: f64,
}

impl Recorder {
    pub fn new(steps: usize, kinds: usize) -> Recorder {
        Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                steps: (0..steps)
                    .map(|_| StepStats {
                        kinds: (0..kinds).map(|_| KindStats::new()).collect(),
                        schedule_lag: histogram(),
                        waited_for_slot: 0,
                        sent: 0,
                        last_done: Duration::ZERO,
                        reported_freshness: histogram(),
                        answered_at_ms: Vec::new(),
                        started: None,
                    })
                    .collect(),
                seconds: Vec::new(),
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut inner)
    }

    fn second(inner: &mut Inner, offset: Duration) -> &mut Second {
        let index = offset.as_secs() as usize;
        while inner.seconds.len() <= index {
            inner.seconds.push(Second {
                sent: 0,
                done: 0,
                errors: 0,
                latency: small_histogram(),
            });
        }
        &mut inner.seconds[index]
    }

    /// Step `step` began at `at`.
    pub fn step_started(&self, step: usize, at: Instant) {
        let offset = at.saturating_duration_since(self.start);
        self.with(|inner| {
            if let Some(stats) = inner.steps.get_mut(step) {
                stats.started = Some(offset);
            }
        });
    }

    /// A request left at `sent`, meant for `intended`.
    pub fn sent(&self, step: usize, intended: Instant, sent: Instant, waited_for_slot: bool) {
        let offset = sent.saturating_duration_since(self.start);
        self.with(|inner| {
            // After `finish` there is nothing left to record into.
            let Some(stats) = inner.steps.get_mut(step) else {
                return;
            };
            stats.sent += 1;
            stats.waited_for_slot += u64::from(waited_for_slot);
            stats
                .schedule_lag
                .saturating_record(micros(sent.saturating_duration_since(intended)));
            Self::second(inner, offset).sent += 1;
        });
    }

    /// A request's answer (or failure) came at `done`.
    pub fn done(
        &self,
        step: usize,
        kind: usize,
        intended: Instant,
        sent: Instant,
        done: Instant,
        outcome: &Outcome,
    ) {
        let offset = done.saturating_duration_since(self.start);
        let latency = micros(done.saturating_duration_since(intended));
        let now_ms = crate::unix_ms();
        self.with(|inner| {
            let Some(stats) = inner.steps.get_mut(step) else {
                return;
            };
            stats.last_done = stats.last_done.max(offset);
            stats
                .answered_at_ms
                .push(u32::try_from(offset.as_millis()).unwrap_or(u32::MAX));
            if let Some(freshness) = outcome.freshness_ms {
                let behind = (now_ms - freshness).max(0) as u64;
                stats
                    .reported_freshness
                    .saturating_record((behind * 1000).clamp(1, MAX_MICROS));
            }
            let Some(cell) = stats.kinds.get_mut(kind) else {
                return;
            };
            cell.requests += 1;
            cell.latency.saturating_record(latency);
            cell.service
                .saturating_record(micros(done.saturating_duration_since(sent)));
            cell.partial += u64::from(outcome.partial);
            if let Some(error) = &outcome.error {
                cell.errors
                    .add(error, || outcome.message.clone().unwrap_or_default(), 1);
            }
            let second = Self::second(inner, offset);
            second.done += 1;
            second.errors += u64::from(outcome.error.is_some());
            second.latency.saturating_record(latency);
        });
    }

    pub fn progress(&self) -> Progress {
        let elapsed = self.start.elapsed().as_secs() as usize;
        self.with(|inner| {
            let mut progress = Progress::default();
            for step in &inner.steps {
                progress.sent += step.sent;
                for kind in &step.kinds {
                    progress.done += kind.requests;
                    progress.errors += kind.error_count();
                }
            }
            let mut recent = small_histogram();
            let mut count = 0;
            for index in elapsed.saturating_sub(2)..elapsed {
                if let Some(second) = inner.seconds.get(index) {
                    let _ = recent.add(&second.latency);
                    count += second.done;
                }
            }
            progress.recent_p99_ms = recent.value_at_quantile(0.99) as f64 / 1000.0;
            progress.recent_qps = count as f64 / 2.0;
            progress
        })
    }

    /// Takes the measurements out once the run is over (a request task or the progress
    /// ticker may still hold a clone of the recorder for a moment; it records nothing more).
    pub fn finish(&self) -> (Vec<StepStats>, Vec<Second>) {
        self.with(|inner| {
            (
                std::mem::take(&mut inner.steps),
                std::mem::take(&mut inner.seconds),
            )
        })
    }
}
