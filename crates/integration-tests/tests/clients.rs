//! System tests of the client surfaces (issue: client surfaces): the real clients users
//! already have — the `pinotdb` DB-API and SQLAlchemy dialect — against `tessera
//! standalone` holding every data type (`alltypes`, pushed) and TPC-H `lineitem`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use tessera_integration_tests::server::{Server, http};

/// These tests start servers that each want the machine: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn client_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = loaded_server(dir.path());
    let (host, port) = server.address.split_once(':').expect("host:port");
    let out = run_client("pinotdb_check.py", &[host, port]);
    assert!(out.contains("pinotdb: all checks passed"), "{out}");
}

#[test]
fn test_pinot_http_extras_metadata_get_query_and_status_header() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = loaded_server(dir.path());
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
