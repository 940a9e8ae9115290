//! TLS on the HTTP API and the PostgreSQL wire, with the clients users have: curl with
//! `--cacert` and psql with `sslmode=verify-full`, against certificates made here by
//! openssl (a test CA and a server certificate for localhost and 127.0.0.1). A plain
//! client to a TLS-only port is refused saying why; certificates rotate on restart.

use std::path::Path;
use std::process::Command;

use tessera_integration_tests::server::Server;
use tessera_integration_tests::tls::{certificates, curl, tls_table};
use tessera_integration_tests::{fixture, printed};

fn node_config(dir: &Path, name: &str, allow_plaintext: bool) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, tls_table(dir, name, allow_plaintext)).expect("node config");
    path.display().to_string()
}

/// psql with a connection string: (ok, stdout + stderr).
fn psql(server: &Server, options: &str, sql: &str) -> (bool, String) {
    let (_, port) = server.pg_address.split_once(':').expect("host:port");
    let output = Command::new("psql")
        .arg(format!(
            "host=localhost port={port} user=tessera dbname=default {options}"
        ))
        .args(["-X", "-A", "-t", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs (Debian package postgresql-client)");
    printed(&output)
}

#[test]
fn test_https_and_pg_tls_verify_refuse_plaintext_and_rotate_on_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path();
    certificates(certs, "first");
    certificates(certs, "second");
    let first = node_config(certs, "first", false);
    let mut server = Server::start_with_args(&certs.join("data"), None, &[], &["--config", &first]);
    let port = server
        .address
        .rsplit_once(':')
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    let https = |path: &str| format!("https://localhost:{port}{path}");
    let first_ca = certs.join("first-ca.pem").display().to_string();
    let second_ca = certs.join("second-ca.pem").display().to_string();

    // HTTPS, verified against the test CA: health and a query.
    let (ok, body) = curl(&["--cacert", &first_ca, &https("/health")]);
    assert!(ok && body.trim() == "OK", "{body}");
    // A table made, loaded and queried over HTTPS.
    let post = |path: &str, content_type: &str, file: &str| {
        let data = format!("@{}", fixture(file).display());
        let header = format!("Content-Type: {content_type}");
        let (ok, body) = curl(&[
            "--cacert",
            &first_ca,
            "-H",
            &header,
            "--data-binary",
            &data,
            &https(path),
        ]);
        assert!(ok && !body.contains("\"error"), "POST {path}: {body}");
    };
    post("/schemas", "application/json", "alltypes_schema.json");
    post("/tables", "application/json", "alltypes_table.json");
    post(
        "/ingest/alltypes",
        "application/x-ndjson",
        "alltypes_rows.jsonl",
    );
    let (ok, body) = curl(&[
        "--cacert",
        &first_ca,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"sql": "SELECT COUNT(*) FROM alltypes"}"#,
        &https("/query/sql"),
    ]);
    assert!(ok && body.contains("[[2]]"), "{body}");
    // Unverified (no CA): curl refuses the certificate.
    let (ok, body) = curl(&[&https("/health")]);
    assert!(!ok, "an unknown CA must fail verification: {body}");
    // Plain HTTP to the TLS-only port: a 400 that says to use https://.
    let (ok, body) = curl(&[
        "-w",
        " %{http_code}",
        &format!("http://127.0.0.1:{port}/health"),
    ]);
    assert!(
        ok && body.contains("use https://") && body.ends_with(" 400"),
        "{body}"
    );

    // The PostgreSQL wire: verify-full against the CA; plaintext refused by name.
    let sslroot = format!("sslmode=verify-full sslrootcert={first_ca}");
    let (ok, out) = psql(&server, &sslroot, "SELECT COUNT(*) FROM alltypes");
    assert!(ok && out.trim() == "2", "{out}");
    let (ok, out) = psql(&server, "sslmode=disable", "SELECT 1");
    assert!(!ok && out.contains("requires TLS"), "{out}");

    // Rotation: new files, a restart, and only the new CA verifies.
    std::fs::copy(certs.join("second.pem"), certs.join("first.pem")).expect("rotate cert");
    std::fs::copy(certs.join("second.key"), certs.join("first.key")).expect("rotate key");
    server.restart();
    let (ok, body) = curl(&["--cacert", &second_ca, &https("/health")]);
    assert!(ok && body.trim() == "OK", "{body}");
    let (ok, _) = curl(&["--cacert", &first_ca, &https("/health")]);
    assert!(!ok, "the old CA no longer verifies the rotated certificate");
    let (ok, out) = psql(
        &server,
        &format!("sslmode=verify-full sslrootcert={second_ca}"),
        "SELECT 7",
    );
    assert!(ok && out.trim() == "7", "{out}");
    drop(server);

    // allow_plaintext: the same ports take both.
    let mixed = node_config(certs, "second", true);
    let server = Server::start_with_args(&certs.join("data2"), None, &[], &["--config", &mixed]);
    let port = server
        .address
        .rsplit_once(':')
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    let (ok, body) = curl(&[&format!("http://127.0.0.1:{port}/health")]);
    assert!(ok && body.trim() == "OK", "{body}");
    let (ok, body) = curl(&[
        "--cacert",
        &second_ca,
        &format!("https://localhost:{port}/health"),
    ]);
    assert!(ok && body.trim() == "OK", "{body}");
    let (ok, out) = psql(&server, "sslmode=disable", "SELECT 3");
    assert!(ok && out.trim() == "3", "{out}");
    let (ok, out) = psql(
        &server,
        &format!("sslmode=verify-full sslrootcert={second_ca}"),
        "SELECT 4",
    );
    assert!(ok && out.trim() == "4", "{out}");
}
