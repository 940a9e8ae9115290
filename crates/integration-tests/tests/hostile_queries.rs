//! The worst queries we know, over HTTP and the PostgreSQL wire, against one
//! `tessera standalone`: each is answered or refused with an error naming its limit,
//! and after each the server still answers `/health` and a probe query exactly. Each
//! of the deep ones once aborted the process (a stack overflow, or a 24 TB
//! allocation), so a crash here is a regression of the first rank.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tessera_integration_tests::server::{Server, http};
use tessera_integration_tests::{fixture, printed, read};

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

fn or_chain(terms: usize) -> String {
    let ors: Vec<String> = (0..terms).map(|i| format!("id = {i}")).collect();
    format!("SELECT COUNT(*) FROM alltypes WHERE {}", ors.join(" OR "))
}

#[test]
fn test_hostile_queries_are_refused_by_name_and_the_server_answers_on() {
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
    for (what, sql, refusal) in &cases {
        let (status, body) = post_query(&server, &sql_body(sql));
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
        probe(&server, &format!("HTTP, {what}"));
        let (ok, out) = psql_file(&server, dir.path(), sql);
        if let Some(fragment) = refusal {
            assert!(
                !ok && out.contains(fragment),
                "PG, {what}: {}",
                &out[..out.len().min(400)]
            );
        }
        probe(&server, &format!("PG, {what}"));
    }

    // The catalog interpreter's joins and series: bounded by catalogMaxRows.
    let (ok, out) = psql_file(
        &server,
        dir.path(),
        "SELECT count(*) FROM generate_series(1,1000000) a, generate_series(1,1000000) b",
    );
    assert!(!ok && out.contains("catalogMaxRows"), "{out}");
    probe(&server, "the million-by-million catalog join");

    // Bodies that are not a query: JSON nested past serde's limit, and no JSON.
    let nested = format!(
        "{{\"sql\": {}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (status, _) = post_query(&server, nested.as_bytes());
    assert_eq!(status, 400, "JSON nested 100,000 deep");
    let (status, _) = post_query(&server, &[0xff, 0xfe, 0x00, 0x7b]);
    assert_eq!(status, 400, "bytes that are not JSON");
    probe(&server, "the malformed bodies");
}
