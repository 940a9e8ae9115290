//! TLS at a cluster's front door: brokers with `[tls]` serve HTTPS and the PostgreSQL
//! wire's TLS to curl `--cacert` and psql `sslmode=verify-full`, refuse plaintext
//! clients saying why, and still forward admin calls to the leader over the cluster's
//! own (plaintext) network; a controller or server given `[tls]` refuses to start.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_integration_tests::cluster::LocalCluster;
use tessera_integration_tests::printed;
use tessera_integration_tests::tls::{certificates, curl, tls_table};

#[test]
fn test_brokers_serve_tls_and_other_roles_refuse_it() {
    let certs = tempfile::tempdir().expect("tempdir");
    certificates(certs.path(), "broker");
    let tls_toml = certs.path().join("tls.toml");
    std::fs::write(&tls_toml, tls_table(certs.path(), "broker", false)).expect("tls table");
    let ca = certs.path().join("broker-ca.pem").display().to_string();
    let cluster = LocalCluster::up_with(
        3,
        &[
            ("BROKER_TLS_TOML", &tls_toml.display().to_string()),
            ("BROKER_CA", &ca),
        ],
    );
    let broker = cluster.broker_urls()[0].clone();
    let port = broker.rsplit(':').next().expect("a port").to_string();
    assert!(broker.starts_with("https://"), "{broker}");
    let https = format!("https://localhost:{port}");

    // HTTPS, verified against the test CA, by name and by address.
    let (ok, body) = curl(&["--cacert", &ca, &format!("{https}/health")]);
    assert!(ok && body.contains("OK"), "{body}");
    let (ok, body) = curl(&["--cacert", &ca, &format!("{broker}/health")]);
    assert!(ok && body.contains("OK"), "{body}");
    // A query, and an admin call the broker forwards to the leader in plaintext.
    let (ok, body) = curl(&[
        "--cacert",
        &ca,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"sql": "SELECT COUNT(*) FROM nope"}"#,
        &format!("{https}/query/sql"),
    ]);
    assert!(ok && body.contains("nope"), "{body}");
    let (ok, body) = curl(&["--cacert", &ca, &format!("{https}/tables")]);
    assert!(ok && body.contains("tables"), "{body}");
    // Unverified or plaintext clients are refused.
    let (ok, _) = curl(&[&format!("{https}/health")]);
    assert!(!ok, "curl without the CA trusts the test certificate");
    let (_, body) = curl(&[&format!("http://127.0.0.1:{port}/health")]);
    assert!(body.contains("HTTPS"), "plaintext HTTP: {body}");

    // The PostgreSQL wire: verify-full against the CA; plaintext refused.
    let pg = cluster
        .var("BROKER_PG")
        .split(',')
        .next()
        .expect("a broker")
        .to_string();
    let pg_port = pg.rsplit(':').next().expect("a port");
    let psql = |options: &str| {
        let output = Command::new("psql")
            .arg(format!(
                "host=localhost port={pg_port} user=tessera dbname=default {options}"
            ))
            .args(["-X", "-A", "-t", "-c", "SELECT 41 + 1"])
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("psql runs (Debian package postgresql-client)");
        printed(&output)
    };
    let (ok, out) = psql(&format!("sslmode=verify-full sslrootcert={ca}"));
    assert!(ok && out.trim() == "42", "{out}");
    let (ok, out) = psql("sslmode=disable");
    assert!(!ok, "plaintext PG was let in: {out}");

    // A controller given [tls] refuses to start, saying why.
    let config = cluster.dir().join("config").join("controller-1.toml");
    let with_tls = cluster.dir().join("config").join("controller-tls.toml");
    let text = std::fs::read_to_string(&config).expect("controller config");
    std::fs::write(
        &with_tls,
        text.replace("id = \"controller-1\"", "id = \"controller-tls\"")
            + &tls_table(certs.path(), "broker", false),
    )
    .expect("config with tls");
    let mut child = Command::new(tessera_integration_tests::tessera_binary())
        .args(["controller", "--config"])
        .arg(&with_tls)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tessera controller starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a controller with [tls] kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("[tls] is for brokers"), "{stderr}");
}
