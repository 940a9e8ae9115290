//! `tessera quickstart`: the demo table fills from the generator, seals into the deep
//! store, and answers queries across both tiers.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_integration_tests::server::{free_port, http};

#[test]
fn test_quickstart_serves_fresh_and_sealed_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(tessera_integration_tests::tessera_binary())
        .args(["quickstart", "--data-dir"])
        .arg(dir.path())
        .args(["--http", &address])
        .args(["--pg", &format!("127.0.0.1:{}", free_port())])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("quickstart starts");
    let query = |sql: &str| -> serde_json::Value {
        let body = serde_json::json!({ "sql": sql }).to_string();
        let response = http("POST", &address, "/query/sql", &[], body.as_bytes()).expect("query");
        assert_eq!(response.status, 200, "{sql}: {}", response.body);
        response.json()["resultTable"]["rows"].clone()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let sealed = loop {
        assert!(Instant::now() < deadline, "no sealed segment within 90 s");
        if let Ok(response) = http("GET", &address, "/segments/events/metadata", &[], b"")
            && response.status == 200
        {
            let sealed = response.json().as_object().map_or(0, |segments| {
                segments.values().filter(|s| s["state"] == "ONLINE").count()
            });
            if sealed > 0 {
                break sealed;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(sealed >= 1);
    let first = query("SELECT COUNT(*) FROM events")[0][0]
        .as_u64()
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1500));
    let second = query("SELECT COUNT(*) FROM events")[0][0]
        .as_u64()
        .unwrap_or(0);
    assert!(
        second > first && first > 0,
        "fresh rows keep arriving: {first} then {second}"
    );
    let countries = query(
        "SELECT country, COUNT(*) FROM events GROUP BY country ORDER BY COUNT(*) DESC LIMIT 3",
    );
    assert_eq!(countries[0][0], "US", "{countries:?}");
    let text =
        query("SELECT COUNT(*) FROM events WHERE TEXT_MATCH(message, 'checkout AND payment')");
    assert!(text[0][0].as_u64().unwrap_or(0) > 0, "{text:?}");
    let tags = query("SELECT COUNT(*) FROM events WHERE tags = 'cart'");
    assert!(tags[0][0].as_u64().unwrap_or(0) > 0, "{tags:?}");
    let _ = child.kill();
    let output = child.wait_with_output().expect("quickstart output");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("tessera query --url"), "{printed}");
}

/// deploy/grafana: the dashboards are valid and every panel query runs against the
/// quickstart table (SQL over the PG wire, PromQL metric names against /metrics).
#[test]
fn test_shipped_grafana_dashboards_run_against_the_quickstart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = format!("127.0.0.1:{}", free_port());
    let pg_address = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(tessera_integration_tests::tessera_binary())
        .args(["quickstart", "--data-dir"])
        .arg(dir.path())
        .args(["--http", &address, "--pg", &pg_address])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("quickstart starts");
    // Rows for every panel: wait until the generator has run for a few seconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "quickstart has no rows after 60 s"
        );
        let body = serde_json::json!({ "sql": "SELECT COUNT(*) FROM events" }).to_string();
        if let Ok(response) = http("POST", &address, "/query/sql", &[], body.as_bytes())
            && response.status == 200
            && response.json()["resultTable"]["rows"][0][0]
                .as_u64()
                .unwrap_or(0)
                > 3000
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (pg_host, pg_port) = pg_address.split_once(':').expect("host:port");
    let output = Command::new(tessera_integration_tests::python())
        .arg(root.join("crates/integration-tests/clients/dashboards_check.py"))
        .args([pg_host, pg_port, &format!("http://{address}")])
        .arg(root.join("deploy/grafana/dashboards"))
        .arg(root.join("deploy/grafana/provisioning"))
        .output()
        .expect("python runs");
    let _ = child.kill();
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("dashboards: all"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
