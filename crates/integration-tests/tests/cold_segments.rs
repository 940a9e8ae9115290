//! Cold segments: a standalone serving sealed segments straight from the S3 server
//! (moto) through a bounded disk cache, against a standalone serving the same data from
//! local files. A proxy of our own sits between Tessera and moto to add a delay to every
//! request and to take the store away.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tessera_integration_tests::proxy::SlowProxy;
use tessera_integration_tests::server::{Moto, Server};
use tessera_integration_tests::{files_under, segment_files_under};

static SERIAL: Mutex<()> = Mutex::new(());

/// Rows per segment: lineitem SF 0.01 (60,175 rows) makes 21 segments.
const SEGMENT_ROWS: &str = "3000";
const SEGMENTS: u64 = 21;

fn dataset(name: &str) -> String {
    std::fs::read_to_string(tessera_integration_tests::lineitem_dataset_dir().join(name))
        .expect("dataset file")
}

fn public_queries() -> Vec<(String, String)> {
    let dir = tessera_integration_tests::lineitem_dataset_dir().join("queries");
    let mut queries: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("queries dir")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .map(|path| {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            (
                name.unwrap_or_default(),
                tessera_integration_tests::read(&path),
            )
        })
        .collect();
    queries.sort();
    queries
}

fn load_lineitem(server: &Server) {
    server.create_table(&dataset("schema.json"), &dataset("table.json"));
    let parquet = tessera_integration_tests::lineitem_file("0.01", "parquet");
    let url = format!("http://{}", server.address);
    let output = tessera_integration_tests::tessera(&[
        "ingest",
        "--url",
        &url,
        "--table",
        "lineitem",
        "--segment-rows",
        SEGMENT_ROWS,
        &parquet.display().to_string(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The whole response of a query.
fn answer(server: &Server, sql: &str) -> Json {
    let response = server.post("/query/sql", &serde_json::json!({ "sql": sql }).to_string());
    assert_eq!(response.status, 200, "{sql}: {}", response.body);
    let json = response.json();
    assert_eq!(json["exceptions"], serde_json::json!([]), "{sql}: {json}");
    json
}

/// Rows equal, floats to 1e-9 relative (segments may merge in another order).
fn assert_same_rows(sql: &str, ours: &Json, theirs: &Json) {
    let (a, b) = (&ours["resultTable"]["rows"], &theirs["resultTable"]["rows"]);
    let (Some(a), Some(b)) = (a.as_array(), b.as_array()) else {
        panic!("{sql}: no rows: {ours} / {theirs}");
    };
    assert_eq!(a.len(), b.len(), "{sql}");
    for (row_a, row_b) in a.iter().zip(b) {
        let (Some(row_a), Some(row_b)) = (row_a.as_array(), row_b.as_array()) else {
            panic!("{sql}: a row is not an array");
        };
        assert_eq!(row_a.len(), row_b.len(), "{sql}");
        for (x, y) in row_a.iter().zip(row_b) {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if x != y => {
                    assert!(
                        (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                        "{sql}: {x} vs {y}"
                    );
                }
                _ => assert_eq!(x, y, "{sql}"),
            }
        }
    }
}

fn stat(json: &Json, name: &str) -> u64 {
    json[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no `{name}` in {json}"))
}

/// (bytes of every section of `columns`, bytes of the files) over the local segments,
/// from `tessera segment inspect`.
fn section_bytes(files: &[PathBuf], columns: &[&str]) -> (u64, u64) {
    let (mut needed, mut total) = (0, 0);
    for file in files {
        let output = tessera_integration_tests::tessera(&[
            "segment",
            "inspect",
            &file.display().to_string(),
        ]);
        assert!(output.status.success());
        let report: Json = serde_json::from_slice(&output.stdout).expect("inspect JSON");
        total += report["bytes"].as_u64().unwrap_or(0);
        for section in report["sections"].as_array().into_iter().flatten() {
            if columns.iter().any(|c| section["column"] == *c) {
                needed += section["length"].as_u64().unwrap_or(0);
            }
        }
    }
    (needed, total)
}

struct Pair {
    _moto: Moto,
    proxy: SlowProxy,
    cold: Server,
    local: Server,
    _dirs: tempfile::TempDir,
}

/// A cold standalone (S3 through the proxy, a 64 MiB cache) and a local one, both
/// loaded with the same lineitem segments.
fn start_pair() -> Pair {
    start_pair_with_cache("64M")
}

fn start_pair_with_cache(cache_size: &str) -> Pair {
    let moto = Moto::start("cold");
    let proxy = SlowProxy::start(moto.endpoint.trim_start_matches("http://"));
    let dirs = tempfile::tempdir().expect("tempdir");
    let mut env = moto.env();
    for (key, value) in &mut env {
        if *key == "AWS_ENDPOINT" {
            *value = format!("http://{}", proxy.address);
        }
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cold = Server::start_with_args(
        &dirs.path().join("cold"),
        Some("s3://cold/segments"),
        &env,
        &["--cache-size", cache_size],
    );
    let local = Server::start(&dirs.path().join("local"), None, &[]);
    load_lineitem(&cold);
    load_lineitem(&local);
    Pair {
        _moto: moto,
        proxy,
        cold,
        local,
        _dirs: dirs,
    }
}

#[test]
fn test_cold_segments_answer_exactly_fetch_what_they_need_and_survive_restarts() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Pair {
        _moto,
        proxy,
        mut cold,
        local,
        _dirs,
    } = start_pair();
    // No local copy: the cold server's disk holds only its cache.
    assert!(segment_files_under(&cold.data_dir.join("segments")).is_empty());
    let count = answer(&cold, "SELECT COUNT(*) FROM lineitem");
    assert_eq!(count["resultTable"]["rows"][0][0], 60_175);
    assert_eq!(stat(&count, "numSegmentsQueried"), SEGMENTS);
    // Opening a cold segment: at most two GETs (one here: the footer fits the probe).
    let footer_gets = cold.metric("tessera_cold_footer_gets_total") as u64;
    assert!(
        (SEGMENTS..=2 * SEGMENTS).contains(&footer_gets),
        "{footer_gets} footer GETs for {SEGMENTS} segments"
    );

    // q06 cold: it fetches the sections of the four columns it names, not the table.
    let q06 = dataset("queries/q06.sql");
    let first = answer(&cold, &q06);
    assert_same_rows(&q06, &first, &answer(&local, &q06));
    let local_files = segment_files_under(&local.data_dir.join("segments"));
    assert_eq!(local_files.len() as u64, SEGMENTS);
    let (needed, total) = section_bytes(
        &local_files,
        &["l_shipdate", "l_discount", "l_quantity", "l_extendedprice"],
    );
    let fetched = stat(&first, "numBytesReadFromDeepStore");
    let requests = stat(&first, "numDeepStoreRequests");
    eprintln!(
        "q06 cold: {requests} GETs, {fetched} bytes fetched; the four columns' sections hold {needed} bytes, the segments {total}"
    );
    assert!(fetched > 0 && requests > 0);
    assert!(
        fetched as f64 <= 1.2 * needed as f64,
        "fetched {fetched} bytes for sections of {needed}"
    );
    assert!(fetched * 4 < total, "fetched {fetched} of {total} bytes");
    // EXPLAIN names the sections a query fetches, and how much of them is cached.
    let explain = answer(&cold, &format!("EXPLAIN PLAN FOR {q06}"));
    let fetch = explain["resultTable"]["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row[0].as_str())
        .find(|line| line.starts_with("FETCH_FROM_DEEP_STORE"))
        .unwrap_or_else(|| panic!("no fetch line in {explain}"))
        .to_string();
    assert!(
        fetch.contains(&format!("segments:{SEGMENTS}"))
            && fetch.contains("l_extendedprice.forward")
            && fetch.contains("l_shipdate.sorted")
            && !fetch.contains("l_comment"),
        "{fetch}"
    );
    let figure = |name: &str| -> u64 {
        fetch
            .split(&format!("{name}:"))
            .nth(1)
            .and_then(|rest| rest.split([',', ')']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {fetch}"))
    };
    assert_eq!(figure("bytes"), figure("cached"), "{fetch}");
    // Warm: nothing fetched, everything from the cache.
    let again = answer(&cold, &q06);
    assert_eq!(stat(&again, "numDeepStoreRequests"), 0);
    assert!(stat(&again, "numBytesReadFromCache") > 0);

    // Every public query, and a point lookup of a key that exists (its segment's bloom
    // filter is read before its rows): exact against the local server, and the prefetch
    // plans every section the engine reads (no section fetched one by one).
    let point = (
        "point".to_string(),
        "SELECT * FROM lineitem WHERE l_orderkey = 1".to_string(),
    );
    for (name, sql) in public_queries().into_iter().chain([point]) {
        let ours = answer(&cold, &sql);
        assert_same_rows(&name, &ours, &answer(&local, &sql));
    }
    assert_eq!(cold.metric("tessera_cold_unplanned_fetches_total"), 0.0);

    // The store goes away: cached sections still answer; others fail, naming the store.
    proxy.set_down(true);
    let cached = answer(&cold, &q06);
    assert_same_rows(&q06, &cached, &answer(&local, &q06));
    let uncached = "SELECT MAX(l_receiptdate), SUM(l_tax) FROM lineitem";
    let response = cold.post(
        "/query/sql",
        &serde_json::json!({ "sql": uncached }).to_string(),
    );
    assert_eq!(response.status, 503, "{}", response.body);
    assert!(
        response.header("retry-after").is_some(),
        "503 without Retry-After"
    );
    let error = response.json();
    assert_eq!(error["exceptions"][0]["errorCode"], 427, "{error}");
    let message = error["exceptions"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("s3://cold/segments") && message.contains("deep store"),
        "{message}"
    );
    // ... and recover when it returns.
    proxy.set_down(false);
    assert_same_rows(
        uncached,
        &answer(&cold, uncached),
        &answer(&local, uncached),
    );

    // A restart keeps the cache: footers and sections are not fetched again.
    cold.restart();
    assert_eq!(cold.metric("tessera_cold_footer_gets_total"), 0.0);
    let restarted = answer(&cold, &q06);
    assert_eq!(stat(&restarted, "numDeepStoreRequests"), 0);
    assert_same_rows(&q06, &restarted, &answer(&local, &q06));

    // Damage the cache while the server is down: a flipped byte, a truncated piece and
    // a torn write. The restarted server drops them (by CRC and length) and answers
    // exactly, fetching what it dropped again.
    cold.kill();
    let pieces: Vec<PathBuf> = files_under(&cold.data_dir.join("cache"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with("footer-"))
        })
        .collect();
    assert!(pieces.len() > 10, "{} cached pieces", pieces.len());
    let mut flipped = std::fs::read(&pieces[0]).expect("piece");
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x10;
    std::fs::write(&pieces[0], flipped).expect("write");
    let truncated = std::fs::read(&pieces[1]).expect("piece");
    std::fs::write(&pieces[1], &truncated[..truncated.len() / 2]).expect("write");
    std::fs::write(pieces[2].with_extension("tmp"), b"torn").expect("write");
    cold.restart();
    for (name, sql) in public_queries() {
        assert_same_rows(&name, &answer(&cold, &sql), &answer(&local, &sql));
    }
    assert!(cold.metric("tessera_cache_damaged_total") >= 1.0);
    assert!(!pieces[2].with_extension("tmp").exists());
}

/// With every request to the store held for a fixed delay, a cold query over 21
/// segments costs a few round trips, not one per segment or per section; and a kill -9
/// while a fetch is held in flight leaves a cache that answers exactly after restart.
#[test]
fn test_a_cold_query_pays_a_bounded_number_of_round_trips() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Pair {
        _moto,
        proxy,
        mut cold,
        local,
        _dirs,
    } = start_pair();
    let q06 = dataset("queries/q06.sql");
    let delay = Duration::from_millis(400);
    proxy.set_delay(delay);
    let before = proxy.requests();
    let started = Instant::now();
    let first = answer(&cold, &q06);
    let cold_time = started.elapsed();
    let requests = proxy.requests() - before;
    let started = Instant::now();
    let warm = answer(&cold, &q06);
    let warm_time = started.elapsed();
    assert_eq!(stat(&warm, "numDeepStoreRequests"), 0);
    assert_same_rows(&q06, &first, &answer(&local, &q06));
    eprintln!(
        "q06 over {SEGMENTS} segments, {delay:?} per request: cold {cold_time:?} ({requests} requests), warm {warm_time:?}"
    );
    // One request per segment at least (each needs its own sections), in one wave: were
    // they sequential, the query would take SEGMENTS × delay.
    assert!(requests >= SEGMENTS, "{requests} requests");
    assert!(
        cold_time < warm_time + delay * 4,
        "cold {cold_time:?} vs warm {warm_time:?}: more than 4 round trips of {delay:?}"
    );

    // kill -9 while a GET is held in flight.
    proxy.set_delay(Duration::from_secs(30));
    let address = cold.address.clone();
    let query = std::thread::spawn(move || {
        let body =
            serde_json::json!({ "sql": "SELECT SUM(l_tax), MAX(l_commitdate) FROM lineitem" });
        tessera_integration_tests::server::http(
            "POST",
            &address,
            "/query/sql",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    });
    tessera_integration_tests::wait_until("a GET is held", Duration::from_secs(30), || {
        proxy.held() > 0
    });
    cold.kill();
    let _ = query.join();
    proxy.set_delay(Duration::ZERO);
    cold.restart();
    for (name, sql) in public_queries() {
        assert_same_rows(&name, &answer(&cold, &sql), &answer(&local, &sql));
    }
    let sql = "SELECT SUM(l_tax), MAX(l_commitdate) FROM lineitem";
    assert_same_rows(sql, &answer(&cold, sql), &answer(&local, sql));
    assert_eq!(cold.metric("tessera_cache_damaged_total"), 0.0);
}

/// A scan of more than the cache holds leaves the hot set of a repeating query in
/// place; a crash in the middle of an eviction, or of a piece's write, leaves a cache
/// that answers exactly after restart.
#[test]
fn test_a_scan_keeps_the_hot_set_and_crashes_in_the_cache_leave_it_good() {
    use std::os::unix::process::ExitStatusExt;
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // The 21 segments hold 5.5 MB; q06 reads 0.8 MB of them.
    let Pair {
        _moto,
        proxy: _proxy,
        mut cold,
        local,
        _dirs,
    } = start_pair_with_cache("1500K");
    let q06 = dataset("queries/q06.sql");
    for _ in 0..3 {
        answer(&cold, &q06);
    }
    let hot = answer(&cold, &q06);
    assert_eq!(stat(&hot, "numDeepStoreRequests"), 0);
    let scan = "SELECT COUNT(DISTINCT l_comment), SUM(l_partkey), SUM(l_suppkey), SUM(l_orderkey), MAX(l_commitdate), MAX(l_receiptdate) FROM lineitem";
    let scanned = answer(&cold, scan);
    assert_same_rows(scan, &scanned, &answer(&local, scan));
    assert!(
        stat(&scanned, "numBytesReadFromDeepStore") > 1_500_000,
        "the scan is larger than the cache: {scanned}"
    );
    assert!(cold.metric("tessera_cache_evictions_total") > 0.0);
    // The dashboard query after the scan: every section still cached.
    let after = answer(&cold, &q06);
    assert_eq!(
        stat(&after, "numDeepStoreRequests"),
        0,
        "the scan evicted the hot set: {after}"
    );
    assert_eq!(
        stat(&after, "numBytesReadFromCache"),
        stat(&hot, "numBytesReadFromCache")
    );
    assert!(cold.metric("tessera_cache_bytes") <= 1_500.0 * 1024.0);

    // Crash mid-eviction, then mid-write of a piece: named steps, not sleeps.
    for step in ["cache.evict", "cache.insert"] {
        cold.set_env("TESSERA_FAULTS", Some(&format!("{step}=abort")));
        cold.restart();
        let body = serde_json::json!({ "sql": scan }).to_string();
        let _ = tessera_integration_tests::server::http(
            "POST",
            &cold.address,
            "/query/sql",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let status = cold.wait_for_exit(Duration::from_secs(60));
        assert_eq!(status.signal(), Some(6), "the crash at {step}: {status}");
        cold.set_env("TESSERA_FAULTS", None);
        cold.restart();
        for sql in [q06.as_str(), scan] {
            assert_same_rows(sql, &answer(&cold, sql), &answer(&local, sql));
        }
        assert!(cold.metric("tessera_cache_bytes") <= 1_500.0 * 1024.0);
    }
}
