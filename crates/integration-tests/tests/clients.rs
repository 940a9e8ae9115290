//! System tests of the client surfaces (issue: client surfaces): the real clients users
//! already have — the `pinotdb` DB-API and SQLAlchemy dialect — against `tessera
//! standalone` holding every data type (`alltypes`, pushed) and TPC-H `lineitem`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use tessera_integration_tests::server::{Server, http};
use tessera_integration_tests::{fixture, read};

/// These tests start servers that each want the machine: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn client_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(name)
}

/// A loaded server for one test, holding the machine (tests run one at a time).
struct Loaded {
    server: Server,
    _dir: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

fn loaded() -> Loaded {
    let serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = loaded_server(dir.path());
    Loaded {
        server,
        _dir: dir,
        _serial: serial,
    }
}

/// A server with `alltypes` (two pushed rows, every data type) and `lineitem` (SF 0.01).
fn loaded_server(dir: &Path) -> Server {
    let server = Server::start(&dir.join("data"), None, &[]);
    server.create_table(
        &read(&fixture("alltypes_schema.json")),
        &read(&fixture("alltypes_table.json")),
    );
    let rows = read(&fixture("alltypes_rows.jsonl"));
    let pushed = http(
        "POST",
        &server.address,
        "/ingest/alltypes",
        &[("Content-Type", "application/x-ndjson")],
        rows.as_bytes(),
    )
    .expect("push reaches the server");
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    assert_eq!(pushed.json()["rowsIngested"], 2, "{}", pushed.body);
    let dataset = tessera_integration_tests::lineitem_dataset_dir();
    server.create_table(
        &read(&dataset.join("schema.json")),
        &read(&dataset.join("table.json")),
    );
    let parquet = tessera_integration_tests::lineitem_file("0.01", "parquet");
    let url = format!("http://{}", server.address);
    let output = tessera_integration_tests::tessera(&[
        "ingest",
        "--url",
        &url,
        "--table",
        "lineitem",
        &parquet.display().to_string(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server
}

/// Run a client script from `clients/` with the test venv's Python; it asserts itself.
fn run_client(script: &str, args: &[&str]) -> String {
    let output = Command::new(tessera_integration_tests::python())
        .arg(client_script(script))
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn test_pinotdb_cursor_and_sqlalchemy_dialect_work_unchanged() {
    let loaded = loaded();
    let server = &loaded.server;
    let (host, port) = server.address.split_once(':').expect("host:port");
    let out = run_client("pinotdb_check.py", &[host, port]);
    assert!(out.contains("pinotdb: all checks passed"), "{out}");
}

#[test]
fn test_pinot_http_extras_metadata_get_query_and_status_header() {
    let loaded = loaded();
    let server = &loaded.server;
    let metadata = server.get("/tables/lineitem/metadata");
    assert_eq!(metadata.status, 200, "{}", metadata.body);
    let metadata = metadata.json();
    assert_eq!(metadata["numRows"], 60175, "{metadata}");
    assert_eq!(metadata["numSegments"], 1, "{metadata}");
    assert!(
        metadata["diskSizeInBytes"].as_u64().unwrap_or(0) > 100_000,
        "{metadata}"
    );
    assert_eq!(server.get("/tables/nope/metadata").status, 404);

    let get = server.get("/query/sql?sql=SELECT%20COUNT(*)%20FROM%20alltypes");
    assert_eq!(get.status, 200, "{}", get.body);
    assert_eq!(get.json()["resultTable"]["rows"][0][0], 2, "{}", get.body);

    // Tessera's default is an HTTP error status; `false` asks for Pinot's 200 + exceptions.
    let bad = serde_json::json!({"sql": "SELECT nope FROM alltypes"}).to_string();
    for (header, want) in [(None, 400), (Some("true"), 400), (Some("false"), 200)] {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(value) = header {
            headers.push(("Pinot-Use-Http-Status-For-Errors", value));
        }
        let response = http(
            "POST",
            &server.address,
            "/query/sql",
            &headers,
            bad.as_bytes(),
        )
        .expect("query reaches the server");
        assert_eq!(response.status, want, "{header:?}: {}", response.body);
        let exceptions = &response.json()["exceptions"];
        assert_eq!(exceptions[0]["errorCode"], 700, "{}", response.body);
        assert!(
            exceptions[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("unknown column `nope`")),
            "{}",
            response.body
        );
    }
}

/// `psql -X -c SQL` against the server's PG port: (exit success, stdout, stderr).
fn psql(server: &Server, args: &[&str]) -> (bool, String, String) {
    let (host, port) = server.pg_address.split_once(':').expect("host:port");
    let output = Command::new("psql")
        .args([
            "-X", "-h", host, "-p", port, "-U", "tessera", "-d", "default",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"])
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs (Debian package postgresql-client)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Rows of `psql -A -t` output (unaligned, `|`-separated).
fn psql_rows(server: &Server, sql: &str) -> Vec<Vec<String>> {
    let (ok, out, err) = psql(server, &["-A", "-t", "-c", sql]);
    assert!(ok, "{sql}: {err}");
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// DuckDB's rows for `sql` over the same lineitem file, as psql prints them.
fn duckdb_text_rows(sql: &str) -> Vec<Vec<String>> {
    let parquet = tessera_integration_tests::lineitem_file("0.01", "parquet");
    let sql = sql.replace(
        "FROM lineitem",
        &format!("FROM read_parquet('{}')", parquet.display()),
    );
    tessera_integration_tests::duckdb_rows(&sql)
        .iter()
        .map(|row| {
            row.as_array()
                .map(|cells| {
                    cells
                        .iter()
                        .map(|c| match c {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn test_psql_queries_list_tables_and_describe_lineitem() {
    let loaded = loaded();
    let server = &loaded.server;

    // Aggregates, group-bys and selections: the same rows as DuckDB on the same file.
    for sql in [
        "SELECT COUNT(*), SUM(l_quantity), MIN(l_orderkey), MAX(l_discount) FROM lineitem",
        "SELECT l_returnflag, l_linestatus, COUNT(*), SUM(l_quantity) FROM lineitem \
         GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus",
        "SELECT l_orderkey, l_linenumber, l_quantity, l_shipmode FROM lineitem \
         WHERE l_orderkey < 10 ORDER BY l_orderkey, l_linenumber",
    ] {
        let ours = psql_rows(server, sql);
        let theirs = duckdb_text_rows(sql);
        assert_eq!(ours.len(), theirs.len(), "{sql}: {ours:?} vs {theirs:?}");
        for (a, b) in ours.iter().zip(&theirs) {
            for (x, y) in a.iter().zip(b) {
                let same = match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6 * y.abs().max(1.0),
                    _ => x == y,
                };
                assert!(same, "{sql}: {a:?} vs DuckDB {b:?}");
            }
        }
    }
    // Timestamps print as PostgreSQL prints them.
    let shipped = psql_rows(
        server,
        "SELECT l_shipdate FROM lineitem WHERE l_orderkey = 1 AND l_linenumber = 1",
    );
    assert_eq!(shipped, vec![vec!["1996-03-13 00:00:00".to_string()]]);

    // \dt lists the tables in schema public; \d shows lineitem's columns and types.
    let (ok, out, err) = psql(server, &["-c", "\\dt"]);
    assert!(ok, "{err}");
    assert!(out.contains("public | lineitem | table"), "{out}");
    assert!(out.contains("public | alltypes | table"), "{out}");
    let (ok, out, err) = psql(server, &["-c", "\\d lineitem"]);
    assert!(ok, "{err}");
    assert!(out.contains("Table \"public.lineitem\""), "{out}");
    for (column, ty) in [
        ("l_orderkey", "bigint"),
        ("l_linenumber", "integer"),
        ("l_quantity", "double precision"),
        ("l_returnflag", "text"),
        ("l_shipdate", "timestamp without time zone"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(column) && l.contains(ty)),
            "{column} {ty}: {out}"
        );
    }
    let (ok, out, err) = psql(server, &["-c", "\\d alltypes"]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.contains(" tags ") && l.contains("text[]")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.contains(" j ") && l.contains("json")),
        "{out}"
    );

    // The catalog query that once aborted the process: a clear error naming the limit,
    // and the server answers on.
    let (ok, _, err) = psql(
        server,
        &[
            "-c",
            "SELECT count(*) FROM generate_series(1,1000000) a, generate_series(1,1000000) b",
        ],
    );
    assert!(!ok, "the cross join is refused");
    assert!(
        err.contains("54000") && err.contains("catalogMaxRows"),
        "{err}"
    );
    assert_eq!(
        psql_rows(server, "SELECT COUNT(*) FROM generate_series(1, 1000) AS x"),
        vec![vec!["1000".to_string()]]
    );

    // Server functions and session settings.
    assert_eq!(
        psql_rows(server, "SHOW server_version"),
        vec![vec!["15.0".to_string()]]
    );
    let version = psql_rows(server, "SELECT version()");
    assert!(version[0][0].contains("Tessera"), "{version:?}");
    let (ok, out, err) = psql(
        server,
        &[
            "-A",
            "-t",
            "-c",
            "SET timeoutMs = 20000; SHOW timeoutMs; SELECT COUNT(*) FROM alltypes",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec!["SET", "20000", "2"],
        "{out}"
    );

    // A bad query: nonzero exit, our message, PostgreSQL's SQLSTATE.
    let (ok, _, err) = psql(server, &["-c", "SELECT l_shipmod FROM lineitem"]);
    assert!(!ok);
    assert!(err.contains("42703"), "{err}");
    assert!(err.contains("unknown column `l_shipmod`"), "{err}");
    assert!(err.contains("did you mean `l_shipmode`"), "{err}");
}

#[test]
fn test_grafana_postgres_data_source_queries_over_psycopg() {
    let loaded = loaded();
    let server = &loaded.server;
    let (host, port) = server.pg_address.split_once(':').expect("host:port");
    let parquet = tessera_integration_tests::lineitem_file("0.01", "parquet");
    let out = run_client(
        "grafana_check.py",
        &[host, port, &parquet.display().to_string()],
    );
    assert!(out.contains("grafana: all checks passed"), "{out}");
}

#[test]
fn test_psycopg_types_and_prometheus_metrics() {
    let loaded = loaded();
    let server = &loaded.server;
    let (host, port) = server.pg_address.split_once(':').expect("host:port");
    let out = run_client("pg_types_check.py", &[host, port]);
    assert!(out.contains("pg types: all checks passed"), "{out}");
    // One failing PG query and one HTTP query for the counters.
    let (ok, _, _) = psql(server, &["-c", "SELECT nope FROM alltypes"]);
    assert!(!ok);
    assert_eq!(server.query("SELECT COUNT(*) FROM lineitem")[0][0], 60175);
    let out = run_client("metrics_check.py", &[&format!("http://{}", server.address)]);
    assert!(out.contains("metrics: all checks passed"), "{out}");
}
