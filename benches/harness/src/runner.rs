//! Sends the load. Open loop: each step's requests have intended send times at a fixed
//! interval, fixed before the run, and leave at those times whatever the answers do (a
//! stalled server faces the requests it would have faced, as wrk2 does). Closed loop:
//! workers send, wait for the answer and send again, paced to the target rate but never
//! catching up, so a stall delays the schedule and shows as one slow request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::mix::{Mix, Payload};
use crate::recorder::Recorder;
use crate::scenario::{Mode, Step};
use crate::target::{Outcome, Target};

#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub mode: Mode,
    pub concurrency: usize,
    pub max_in_flight: usize,
    pub timeout: Duration,
    pub targets: Vec<Arc<Target>>,
    pub mix: Mix,
    /// Per query kind, the rows every answer must equal (`expect_result`).
    pub expected: Vec<Option<Arc<Vec<serde_json::Value>>>>,
}

/// The parts of a template a request task needs.
#[derive(Debug, Clone)]
struct Check {
    query_options: Option<String>,
    expect_rows: Option<u64>,
    expected: Option<Arc<Vec<serde_json::Value>>>,
}

async fn send_one(target: &Target, payload: &Payload, check: &Check, timeout: Duration) -> Outcome {
    let want_rows = check.expected.is_some();
    let answer = tokio::time::timeout(
        timeout,
        target.send(payload, check.query_options.as_deref(), want_rows),
    )
    .await;
    let mut outcome = match answer {
        Ok(outcome) => outcome,
        Err(_) => Outcome::failed("client_timeout", format!("no answer within {timeout:?}")),
    };
    if let (None, Some(expected)) = (&outcome.error, check.expect_rows)
        && outcome.rows != Some(expected)
    {
        outcome.error = Some("wrong_rows".into());
        outcome.message = Some(match outcome.rows {
            Some(rows) => format!("{rows} rows where {expected} were expected"),
            None => format!("no result table where {expected} rows were expected"),
        });
    }
    if let (None, Some(expected)) = (&outcome.error, &check.expected) {
        let got = outcome.values.take().unwrap_or_default();
        if let Some(difference) = crate::expect::difference(expected, &got) {
            outcome.error = Some("wrong_result".into());
            outcome.message = Some(difference);
        }
    }
    outcome
}

/// Per query kind, what its answers are checked for.
fn checks(plan: &Plan) -> Vec<Check> {
    plan.mix
        .templates
        .iter()
        .zip(&plan.expected)
        .map(|(t, expected)| Check {
            query_options: t.query_options.clone(),
            expect_rows: t.expect_rows,
            expected: expected.clone(),
        })
        .collect()
}

pub async fn run(plan: Plan, recorder: Arc<Recorder>) {
    match plan.mode {
        Mode::Open => open_loop(plan, recorder).await,
        Mode::Closed => closed_loop(plan, recorder).await,
    }
}

/// One request the scheduler thread released at its intended time.
#[derive(Debug)]
struct Job {
    step: usize,
    kind: usize,
    payload: Payload,
    intended: Instant,
}

async fn open_loop(plan: Plan, recorder: Arc<Recorder>) {
    let slots = Arc::new(Semaphore::new(plan.max_in_flight));
    let checks = checks(&plan);
    // The schedule is kept by a thread of its own that sleeps with the OS's timer (tens of
    // microseconds late at most) instead of the runtime's millisecond timer wheel, whose
    // lateness would count in every latency measured from the intended time.
    // Bounded: while every slot is busy the scheduler waits here instead of building
    // payloads without end (the latency still counts from each intended time).
    let (jobs, mut released) =
        tokio::sync::mpsc::channel::<Job>(plan.max_in_flight.saturating_mul(4).max(64));
    let steps = plan.steps.clone();
    let start = recorder.start;
    let end = start + crate::scenario::total_duration(&steps);
    let mut mix = plan.mix;
    let scheduler = std::thread::Builder::new()
        .name("tessera-bench-schedule".into())
        .spawn(move || {
            let mut step_start = start;
            for (step_index, step) in steps.iter().enumerate() {
                let count = (step.qps * step.duration.as_secs_f64()).round() as u64;
                let interval = 1.0 / step.qps;
                for i in 0..count {
                    let intended = step_start + Duration::from_secs_f64(interval * i as f64);
                    let now = Instant::now();
                    if intended > now {
                        std::thread::sleep(intended - now);
                    }
                    let (kind, payload) = mix.next();
                    let job = Job {
                        step: step_index,
                        kind,
                        payload,
                        intended,
                    };
                    if jobs.blocking_send(job).is_err() {
                        return;
                    }
                }
                step_start += step.duration;
            }
        });
    if scheduler.is_err() {
        return;
    }
    let mut sent_total = 0usize;
    while let Some(job) = released.recv().await {
        let (permit, waited) = match slots.clone().try_acquire_owned() {
            Ok(permit) => (permit, false),
            Err(_) => match slots.clone().acquire_owned().await {
                Ok(permit) => (permit, true),
                Err(_) => return,
            },
        };
        let sent = Instant::now();
        recorder.sent(job.step, job.intended, sent, waited);
        let target = plan.targets[sent_total % plan.targets.len()].clone();
        sent_total += 1;
        let check = checks[job.kind].clone();
        let recorder = recorder.clone();
        let timeout = plan.timeout;
        tokio::spawn(async move {
            let outcome = send_one(&target, &job.payload, &check, timeout).await;
            recorder.done(
                job.step,
                job.kind,
                job.intended,
                sent,
                Instant::now(),
                &outcome,
            );
            drop(permit);
        });
    }
    if end > Instant::now() {
        tokio::time::sleep_until(end.into()).await;
    }
    // Every request answered (or timed out): all the slots are free again.
    let _ = slots.acquire_many(plan.max_in_flight as u32).await;
}

async fn closed_loop(plan: Plan, recorder: Arc<Recorder>) {
    let checks = Arc::new(checks(&plan));
    let mix = Arc::new(std::sync::Mutex::new(plan.mix));
    let mut step_start = recorder.start;
    for (step_index, step) in plan.steps.iter().enumerate() {
        recorder.step_started(step_index, step_start);
        let step_end = step_start + step.duration;
        // Each worker keeps its share of the rate.
        let interval = Duration::from_secs_f64(plan.concurrency as f64 / step.qps);
        let mut workers = Vec::new();
        for worker in 0..plan.concurrency {
            let target = plan.targets[worker % plan.targets.len()].clone();
            let recorder = recorder.clone();
            let mix = mix.clone();
            let checks = checks.clone();
            let timeout = plan.timeout;
            let first = step_start + interval.mul_f64(worker as f64 / plan.concurrency as f64);
            workers.push(tokio::spawn(async move {
                let mut next = first;
                while next < step_end {
                    if next > Instant::now() {
                        tokio::time::sleep_until(next.into()).await;
                    }
                    let Ok((kind, payload)) = mix.lock().map(|mut m| m.next()) else {
                        return;
                    };
                    let sent = Instant::now();
                    recorder.sent(step_index, sent, sent, false);
                    let outcome = send_one(&target, &payload, &checks[kind], timeout).await;
                    let done = Instant::now();
                    // Closed loop: the clock starts at the actual send.
                    recorder.done(step_index, kind, sent, sent, done, &outcome);
                    // The next send is one interval after this one, or now if that passed:
                    // time lost to a slow answer is never made up.
                    next = (next + interval).max(done);
                }
            }));
        }
        for worker in workers {
            let _ = worker.await;
        }
        step_start = step_end.max(Instant::now());
    }
}
