//! The segment commit protocol under faults, deterministically (SlateDB's way): a push
//! table seals its rows through a catalog and a deep store that fail on cue. Run after
//! run, the n-th call to either store fails — before it reaches the store, or after it
//! applied (a lost reply) — and from then on every call fails, as if the process died
//! at that step; then the table restarts over the real stores. For every n until the
//! protocol runs out of calls, every acknowledged row is queryable exactly once, and
//! the catalog's chain of segments is contiguous. The faults are counted calls, not
//! timings: each run fails the same step.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

use tessera_config::{Schema, TableConfig};
use tessera_ingest::realtime::{Clock, RealtimeContext, RealtimeTable, SegmentSet, ServedSegment};
use tessera_meta::faults::{Cue, Fault, FaultyMetaStore};
use tessera_meta::{Catalog, FileMetaStore, MetaStore, SegmentState};
use tessera_query::planner::TableSchema;
use tessera_query::{QueryOptions, Table};
use tessera_segment::ImmutableSegment;
use tessera_storage::DeepStore;

const SCHEMA: &str = r#"{"schemaName": "p",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;
const TABLE: &str = r#"{"tableName": "p", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {"streamConfigs": {"streamType": "push", "stream.push.partitions": "1",
    "realtime.segment.flush.threshold.rows": "100"}}}"#;

/// One run's script: calls to both stores counted in one sequence; call `fail_at`
/// fails (`mode`), and every later one fails before reaching its store.
struct Script {
    log: std::sync::Mutex<Vec<String>>,
    calls: AtomicUsize,
    fail_at: usize,
    mode: Fault,
    fired: AtomicBool,
}

impl Script {
    fn next(&self, what: &str) -> Fault {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(format!("{call}: {what}"));
        if self.fired.load(Ordering::SeqCst) {
            return Fault::Before;
        }
        if call == self.fail_at {
            self.fired.store(true, Ordering::SeqCst);
            return self.mode;
        }
        Fault::Pass
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn rows(first: u64, n: u64) -> Vec<u8> {
    (first..first + n)
        .map(|id| format!("{{\"id\": {id}, \"ts\": {}}}\n", 1_700_000_000_000u64 + id))
        .collect::<String>()
        .into_bytes()
}

/// Rows the catalog's DONE segments hold, and whether their offsets chain from 0.
fn committed(catalog: &Catalog) -> (u64, bool) {
    let mut done: Vec<_> = catalog
        .segments("p")
        .expect("segments")
        .into_iter()
        .filter(|s| s.state == SegmentState::Done)
        .collect();
    done.sort_by_key(|s| s.start_offset);
    let mut next = 0;
    let mut chained = true;
    for segment in &done {
        chained &= segment.start_offset == next;
        next = segment.end_offset.unwrap_or(next);
    }
    (done.iter().map(|s| s.num_docs).sum(), chained)
}

/// COUNT(*), COUNT(DISTINCT id) and SUM(id) (0 for no row) over what `segments` serves.
fn answer(schema: &Schema, segments: &SegmentSet) -> (i64, i64, i64) {
    let table = Table {
        schema: TableSchema::from_config("p", schema, Some("ts")),
        segments: segments.readers(),
    };
    let outcome = tessera_query::run(
        "SELECT COUNT(*), COUNT(DISTINCT id), SUM(id) FROM p",
        QueryOptions::default(),
        &[table],
    )
    .expect("the query runs");
    let row = &outcome.result.rows[0];
    let number = |i: usize| row[i].as_f64().map_or(0, |v| v as i64);
    (number(0), number(1), number(2))
}

/// One run: fail call `fail_at` with `mode`, restart, check. Whether the fault fired.
fn run(fail_at: usize, mode: Fault) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let schema = Schema::from_json(SCHEMA).expect("schema").value;
    let config = TableConfig::from_json(TABLE, &schema).expect("table").value;
    let file_store: Arc<dyn MetaStore> =
        Arc::new(FileMetaStore::open(&dir.path().join("meta")).expect("meta store"));
    let plain = Catalog::new(file_store.clone());
    common::create_realtime_table(&plain, "p", SCHEMA, TABLE);
    let deep_uri = dir.path().join("deep").display().to_string();
    let script = Arc::new(Script {
        log: Default::default(),
        calls: AtomicUsize::new(0),
        fail_at,
        mode,
        fired: AtomicBool::new(false),
    });
    let meta_cue: Cue = {
        let script = script.clone();
        Arc::new(move |what| script.next(what))
    };
    let store_cue = {
        let script = script.clone();
        Arc::new(move |what: &str| script.next(what) != Fault::Pass)
    };
    let faulty = RealtimeContext {
        catalog: Catalog::new(Arc::new(FaultyMetaStore::new(file_store.clone(), meta_cue))),
        deep_store: DeepStore::open(&deep_uri)
            .expect("deep store")
            .with_faults(store_cue),
        runtime: runtime.handle().clone(),
        data_dir: dir.path().join("data"),
        clock: Clock::system(),
    };
    // Until the fault: 250 rows acknowledged in 5 pushes (two 100-row seals on the
    // way), then the rest sealed by a force commit.
    let mut acknowledged = BTreeSet::new();
    let segments = Arc::new(SegmentSet::default());
    if let Ok(table) = RealtimeTable::start(faulty, &schema, &config, segments.clone()) {
        for batch in 0..5 {
            if let Ok(outcome) = table.push(rows(batch * 50, 50), None)
                && outcome.ack.is_some()
            {
                acknowledged.extend(batch * 50..batch * 50 + 50);
            }
        }
        table.force_commit();
        wait_until("the fault, or every row committed", || {
            script.fired.load(Ordering::SeqCst) || committed(&plain).0 == acknowledged.len() as u64
        });
        table.stop();
    }
    let fired = script.fired.load(Ordering::SeqCst);

    // The restart, over the real stores: the write-ahead log replays what the catalog
    // does not hold, and everything seals.
    let context = RealtimeContext {
        catalog: plain.clone(),
        deep_store: DeepStore::open(&deep_uri).expect("deep store"),
        runtime: runtime.handle().clone(),
        data_dir: dir.path().join("data"),
        clock: Clock::system(),
    };
    // As a server starts a table: the committed segments from the deep store first.
    let segments = Arc::new(SegmentSet::default());
    for record in plain.segments("p").expect("segments") {
        if record.state != SegmentState::Done {
            continue;
        }
        let path = dir
            .path()
            .join("loaded")
            .join(format!("{}.tseg", record.name));
        let location = record.location.as_deref().expect("a location");
        runtime
            .block_on(context.deep_store.download(location, &path, record.crc32))
            .expect("the committed segment downloads");
        let sealed = ImmutableSegment::open(&path).expect("the committed segment opens");
        segments.add(ServedSegment::Sealed(Arc::new(sealed)));
    }
    let table = RealtimeTable::start(context, &schema, &config, segments.clone())
        .unwrap_or_else(|e| panic!("restart after call {fail_at} failed ({mode:?}): {e}"));
    let expected = acknowledged.len() as i64;
    let sum: i64 = acknowledged.iter().map(|&id| id as i64).sum();
    let seen = answer(&schema, &segments);
    assert!(
        seen.0 >= expected && seen.0 == seen.1,
        "call {fail_at} failed ({mode:?}): every acknowledged row once after the restart: {seen:?} for {expected}; calls: {:?}",
        script.log.lock().map(|l| l.clone()).unwrap_or_default()
    );
    table.force_commit();
    wait_until("every row committed after the restart", || {
        committed(&plain).0 == seen.0 as u64
    });
    let (rows_committed, chained) = committed(&plain);
    assert!(
        chained,
        "call {fail_at} failed ({mode:?}): the segment chain has a gap or an overlap"
    );
    let after = answer(&schema, &segments);
    assert_eq!(
        after, seen,
        "call {fail_at} failed ({mode:?}): sealing changed the answer"
    );
    // Rows beyond the acknowledged ones can only be a push whose reply the fault ate.
    if seen.0 == expected {
        assert_eq!(seen.2, sum, "call {fail_at} failed ({mode:?})");
    }
    assert_eq!(rows_committed, seen.0 as u64);
    table.stop();
    fired
}

#[test]
fn test_every_step_of_the_commit_can_fail_and_no_row_is_lost_or_doubled() {
    for mode in [Fault::Before, Fault::After] {
        let mut steps = 0;
        while run(steps, mode) {
            steps += 1;
            assert!(steps < 200, "the protocol keeps making calls");
        }
        assert!(
            steps >= 6,
            "the protocol made {steps} calls: too few to be the commit"
        );
        eprintln!("{mode:?}: failed each of {steps} calls in turn");
    }
}
