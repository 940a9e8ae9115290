//! The worst queries we know, over HTTP and the PostgreSQL wire, against one
//! `tessera standalone`: each is answered or refused with an error naming its limit,
//! and after each the server still answers `/health` and a probe query exactly. Each
//! of the deep ones once aborted the process (a stack overflow, or a 24 TB
//! allocation), so a crash here is a regression of the first rank.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tessera_integration_tests::server::{Server, http};
use tessera_integration_tests::{fixture, printed, read};

/// The tests of this file run one at a time: the probe's latency is measured, and
/// the other test's load would be what it measures.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `POST /query/sql` with a raw body: (status, body).
fn post_query(server: &Server, body: &[u8]) -> (u16, String) {
    let response = http(
        "POST",
        &server.address,
        "/query/sql",
        &[("Content-Type", "application/json")],
        body,
    )
    .unwrap_or_else(|e| panic!("the server answers a hostile query: {e}"));
    (response.status, response.body)
}

fn sql_body(sql: &str) -> Vec<u8> {
    serde_json::json!({ "sql": sql }).to_string().into_bytes()
}

/// psql running the SQL in a file (arguments cap at 128 KiB): (ok, stdout + stderr).
fn psql_file(server: &Server, dir: &Path, sql: &str) -> (bool, String) {
    let path = dir.join("query.sql");
    let mut file = std::fs::File::create(&path).expect("sql file");
    file.write_all(sql.as_bytes()).expect("write sql");
    let (host, port) = server.pg_address.split_once(':').expect("host:port");
    let output = Command::new("psql")
        .args([
            "-X", "-h", host, "-p", port, "-U", "tessera", "-d", "default",
        ])
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            "VERBOSITY=verbose",
            "-A",
            "-t",
            "-f",
        ])
        .arg(&path)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs (Debian package postgresql-client)");
    printed(&output)
}

/// The server is up and exact: `/health`, and COUNT(*) of the two pushed rows, fast.
fn probe(server: &Server, after: &str) {
    let started = Instant::now();
    let health = server.get("/health");
    assert_eq!(health.status, 200, "health after {after}");
    let rows = server.query("SELECT COUNT(*) FROM alltypes");
    assert_eq!(rows[0][0], 2, "the probe after {after}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the probe after {after} took {:?}",
        started.elapsed()
    );
}

/// While `work` runs, probe `/health` and the COUNT(*) every 20 ms from another
/// thread; returns the slowest probe (each probe is both requests).
fn probing_throughout(server: &Server, work: impl FnOnce()) -> Duration {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let prober = scope.spawn(|| {
            let mut slowest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let health = http("GET", &server.address, "/health", &[], b"")
                    .expect("/health answers while hostile queries run");
                assert_eq!(health.status, 200, "health during the hostile queries");
                let count = http(
                    "POST",
                    &server.address,
                    "/query/sql",
                    &[("Content-Type", "application/json")],
                    &sql_body("SELECT COUNT(*) FROM alltypes"),
                )
                .expect("the probe query answers while hostile queries run");
                assert_eq!(count.status, 200, "probe during the hostile queries");
                assert_eq!(
                    count.json()["resultTable"]["rows"][0][0],
                    2,
                    "the probe's count"
                );
                slowest = slowest.max(started.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
            slowest
        });
        // Stop the prober even when the work panics (the scope waits for it).
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let stopper = StopOnDrop(&stop);
        work();
        drop(stopper);
        prober.join().expect("the prober does not panic")
    })
}

/// The SQL fuzzer's corpus (`query/tests/fuzz-corpus/`: inputs that once broke the
/// engine), its table `t` and columns renamed to `alltypes`'.
fn fuzz_corpus() -> Vec<(&'static str, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../query/tests/fuzz-corpus");
    let renames = [
        ("t", "alltypes"),
        ("id", "i"),
        ("n", "l"),
        ("r", "d"),
        ("m", "tags"),
    ];
    let mut corpus = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the fuzz corpus") {
        let path = entry.expect("a corpus entry").path();
        if path.extension().is_none_or(|e| e != "sql") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a corpus query");
        let mut words: Vec<String> = Vec::new();
        for word in text.split_inclusive(|c: char| !(c.is_alphanumeric() || c == '_')) {
            let (name, rest) = word.split_at(
                word.find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(word.len()),
            );
            let renamed = renames
                .iter()
                .find(|(from, _)| *from == name)
                .map_or(name, |(_, to)| to);
            words.push(format!("{renamed}{rest}"));
        }
        let what = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("corpus");
        corpus.push((&*what.to_string().leak(), words.concat()));
    }
    assert!(corpus.len() >= 10, "the corpus at {}", dir.display());
    corpus
}

fn or_chain(terms: usize) -> String {
    let ors: Vec<String> = (0..terms).map(|i| format!("id = {i}")).collect();
    format!("SELECT COUNT(*) FROM alltypes WHERE {}", ors.join(" OR "))
}

#[test]
fn test_hostile_queries_are_refused_by_name_and_the_server_answers_on() {
    let _alone = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(
        &read(&fixture("alltypes_schema.json")),
        &read(&fixture("alltypes_table.json")),
    );
    let pushed = http(
        "POST",
        &server.address,
        "/ingest/alltypes",
        &[("Content-Type", "application/x-ndjson")],
        read(&fixture("alltypes_rows.jsonl")).as_bytes(),
    )
    .expect("push reaches the server");
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    probe(&server, "the load");

    let depth = "max expression depth";
    let size = "max query size";
    let unions = |n: usize| vec!["SELECT 1"; n].join(" UNION ALL ");
    // (what, SQL, a fragment the refusal names; None: answered).
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("a 999-term OR", or_chain(999), None),
        ("a 1001-term OR", or_chain(1001), Some(depth)),
        ("a 60,000-term OR", or_chain(60_000), Some(depth)),
        (
            "a 300,000-term sum",
            format!("SELECT {}1 FROM alltypes", "1+".repeat(300_000)),
            Some(depth),
        ),
        (
            "a cast chain",
            format!("SELECT id{} FROM alltypes", "::BIGINT".repeat(5_000)),
            Some(depth),
        ),
        ("2,000 UNION ALLs", unions(2_000), Some(depth)),
        (
            "a 2 MiB text",
            format!(
                "SELECT COUNT(*) FROM alltypes WHERE id IN ({})",
                "1,".repeat(1 << 20) + "1"
            ),
            Some(size),
        ),
        (
            "parentheses 10,000 deep",
            format!(
                "SELECT {}1{} FROM alltypes",
                "(".repeat(10_000),
                ")".repeat(10_000)
            ),
            Some("recursion limit"),
        ),
        (
            "overflowing arithmetic",
            "SELECT 9223372036854775807 + id FROM alltypes".to_string(),
            None,
        ),
    ];
    let mut cases = cases;
    cases.extend(
        fuzz_corpus()
            .into_iter()
            .map(|(name, sql)| (name, sql, None)),
    );
    let slowest = probing_throughout(&server, || run_cases(&server, dir.path(), &cases));
    eprintln!("the slowest probe during the hostile queries: {slowest:?}");
    assert!(
        slowest < Duration::from_millis(100),
        "a probe took {slowest:?} while hostile queries ran"
    );
}

/// Each (what, SQL, refusal) over HTTP then PG, probing after each.
fn run_cases(server: &Server, dir: &Path, cases: &[(&str, String, Option<&str>)]) {
    for (what, sql, refusal) in cases {
        let (status, body) = post_query(server, &sql_body(sql));
        match refusal {
            Some(fragment) => {
                assert!(
                    (400..500).contains(&status) && body.contains(fragment),
                    "HTTP, {what}: {status} {}",
                    &body[..body.len().min(400)]
                );
            }
            None => assert!(status < 500, "HTTP, {what}: {status} {body}"),
        }
        probe(server, &format!("HTTP, {what}"));
        let (ok, out) = psql_file(server, dir, sql);
        if let Some(fragment) = refusal {
            assert!(
                !ok && out.contains(fragment),
                "PG, {what}: {}",
                &out[..out.len().min(400)]
            );
        }
        probe(server, &format!("PG, {what}"));
    }

    // The catalog interpreter's joins and series: bounded by catalogMaxRows.
    let (ok, out) = psql_file(
        server,
        dir,
        "SELECT count(*) FROM generate_series(1,1000000) a, generate_series(1,1000000) b",
    );
    assert!(!ok && out.contains("catalogMaxRows"), "{out}");
    probe(server, "the million-by-million catalog join");

    // Bodies that are not a query: JSON nested past serde's limit, and no JSON.
    let nested = format!(
        "{{\"sql\": {}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (status, _) = post_query(server, nested.as_bytes());
    assert_eq!(status, 400, "JSON nested 100,000 deep");
    let (status, _) = post_query(server, &[0xff, 0xfe, 0x00, 0x7b]);
    assert_eq!(status, 400, "bytes that are not JSON");
    probe(server, "the malformed bodies");
}

/// Rows of `many`: ids 0..n, as NDJSON.
fn many_rows(n: usize) -> String {
    (0..n)
        .map(|id| {
            format!(
                "{{\"id\": {id}, \"ts\": {}}}\n",
                1_700_000_000_000u64 + id as u64
            )
        })
        .collect()
}

/// One query's intermediate state is bounded by `maxStateBytes` over both protocols:
/// an exact COUNT(DISTINCT) of 200,000 distinct 600-byte strings (130 MB of set)
/// is refused by name under a 4 MB limit, and the server's peak memory grows far less
/// than the set it would have built; under the default limit it is answered exactly.
#[test]
fn test_query_state_is_bounded_by_max_state_bytes() {
    let _alone = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(
        r#"{"schemaName": "many", "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}],
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP",
              "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#,
        r#"{"tableName": "many", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
            "tableIndexConfig": {"streamConfigs": {"streamType": "push"}}}"#,
    );
    let rows = 200_000;
    let pushed = http(
        "POST",
        &server.address,
        "/ingest/many",
        &[("Content-Type", "application/x-ndjson")],
        many_rows(rows).as_bytes(),
    )
    .expect("push reaches the server");
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    let distinct = format!(
        "SELECT COUNT(DISTINCT CONCAT(CAST(id AS VARCHAR), '{}')) FROM many",
        "x".repeat(600)
    );
    let limited = format!("SET maxStateBytes = 4000000; {distinct}");

    let before = server.peak_memory_bytes();
    let (status, body) = post_query(&server, &sql_body(&limited));
    assert!(
        (400..500).contains(&status) && body.contains("maxStateBytes=4000000"),
        "HTTP: {status} {body}"
    );
    let (ok, out) = psql_file(&server, dir.path(), &limited);
    assert!(
        !ok && out.contains("maxStateBytes=4000000") && out.contains("54000"),
        "PG: {out}"
    );
    let limited_growth = server.peak_memory_bytes().saturating_sub(before);

    let before = server.peak_memory_bytes();
    let answered = server.query(&distinct);
    assert_eq!(answered[0][0], rows, "the exact distinct count");
    let unlimited_growth = server.peak_memory_bytes().saturating_sub(before);
    eprintln!(
        "peak memory growth: {} MiB under maxStateBytes=4000000, then {} MiB under the default",
        limited_growth >> 20,
        unlimited_growth >> 20
    );
    // The measure can tell: the answered query's set grew the peak by far more.
    assert!(
        unlimited_growth > 2 * limited_growth,
        "the answered query grew the peak by {} MiB, the refused ones by {} MiB",
        unlimited_growth >> 20,
        limited_growth >> 20
    );
    assert!(
        limited_growth < 64 << 20,
        "the refused queries grew the peak by {} MiB",
        limited_growth >> 20
    );
}
