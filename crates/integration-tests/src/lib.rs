//! Shared harness for Tessera's system tests: where the test data and the Python
//! oracle live, and how to run the real `tessera` binary.
//!
//! These tests need what `deploy/test.sh` installs (the lineitem data, a Python venv
//! with DuckDB). They are not default workspace members, so a plain `cargo test` runs
//! the unit tests alone; `cargo test --workspace` runs these too, and they fail — never
//! skip — when their environment is missing.

pub mod auth;
pub mod browser;
pub mod cluster;
pub mod etcd;
pub mod kafka;
pub mod proxy;
pub mod server;
pub mod tls;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The directory `deploy/gen-lineitem.sh` fills (`$TESSERA_TEST_DATA`).
pub fn test_data_dir() -> PathBuf {
    let dir = std::env::var_os("TESSERA_TEST_DATA")
        .map(PathBuf::from)
        .expect("TESSERA_TEST_DATA is not set: run the tests through deploy/test.sh");
    assert!(
        dir.is_dir(),
        "TESSERA_TEST_DATA=`{}` is not a directory",
        dir.display()
    );
    dir
}

/// A lineitem file at a scale factor, e.g. `lineitem_file("0.01", "parquet")`.
pub fn lineitem_file(scale_factor: &str, extension: &str) -> PathBuf {
    let path = test_data_dir()
        .join("lineitem")
        .join(format!("sf{scale_factor}"))
        .join(format!("lineitem.{extension}"));
    assert!(
        path.is_file(),
        "missing test data `{}`: run deploy/gen-lineitem.sh",
        path.display()
    );
    path
}

/// `../shared/datasets/lineitem` beside the checkout.
pub fn lineitem_dataset_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/lineitem");
    assert!(
        dir.is_dir(),
        "missing shared dataset definitions `{}`",
        dir.display()
    );
    dir
}

/// Every file below `dir`, sorted (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The segment files (`*.tseg`) below `dir`.
pub fn segment_files_under(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "tseg"))
        .collect()
}

/// The Python with DuckDB (`$TESSERA_PYTHON`).
pub fn python() -> PathBuf {
    std::env::var_os("TESSERA_PYTHON")
        .map(PathBuf::from)
        .expect("TESSERA_PYTHON is not set: run the tests through deploy/test.sh")
}

/// Run a DuckDB query in the test venv and return its rows as JSON arrays.
pub fn duckdb_rows(sql: &str) -> Vec<serde_json::Value> {
    let script = "import duckdb, json, sys\n\
        rows = duckdb.sql(sys.argv[1]).fetchall()\n\
        print(json.dumps([list(r) for r in rows], default=str))";
    let output = Command::new(python())
        .args(["-c", script, sql])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("duckdb printed JSON");
    parsed.as_array().cloned().unwrap_or_default()
}

/// The `tessera` binary built with this test (debug profile by default).
pub fn tessera_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let binary = target.join("debug").join("tessera");
    assert!(
        binary.is_file(),
        "build the binary first: cargo build -p tessera (looked at `{}`)",
        binary.display()
    );
    binary
}

pub fn tessera(args: &[&str]) -> Output {
    Command::new(tessera_binary())
        .args(args)
        .output()
        .expect("tessera runs")
}

/// A file of `crates/integration-tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A text file's contents; a missing file fails the test naming it.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether a client command succeeded, and everything it printed (stdout, then stderr).
pub fn printed(output: &Output) -> (bool, String) {
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Wait until `done` holds, polling every 50 ms; the time it took. Fails the test
/// naming `what` when `limit` passes first.
pub fn wait_until(
    what: &str,
    limit: std::time::Duration,
    mut done: impl FnMut() -> bool,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    started.elapsed()
}
