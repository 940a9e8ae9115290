//! Auth in a cluster (`[auth]` in every node config, as standalone's): brokers and
//! controllers refuse requests without valid credentials on every route but /health,
//! split read from admin, pass the caller's credentials on when they forward an admin
//! call to the leader; the PostgreSQL wire on brokers asks for a password; servers'
//! HTTP routes are closed too.

use std::process::Command;

use tessera_integration_tests::auth::{basic, test_credentials};
use tessera_integration_tests::cluster::LocalCluster;
use tessera_integration_tests::kafka::EVENTS_SCHEMA;
use tessera_integration_tests::server::http;

fn status(url: &str, method: &str, path: &str, auth: Option<&str>, body: &str) -> u16 {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(value) = auth {
        headers.push(("Authorization", value));
    }
    http(
        method,
        url.trim_start_matches("http://"),
        path,
        &headers,
        body.as_bytes(),
    )
    .expect("the node answers")
    .status
}

#[test]
fn test_cluster_roles_enforce_auth() {
    let credentials = test_credentials();
    let dir = tempfile::tempdir().expect("tempdir");
    let auth_toml = dir.path().join("auth.toml");
    std::fs::write(&auth_toml, &credentials.auth_toml).expect("write the auth tables");
    let bearer = format!("Bearer {}", credentials.token);
    let cluster = LocalCluster::up_with(
        3,
        &[
            ("AUTH_TOML", &auth_toml.display().to_string()),
            ("AUTH_HEADER", &bearer),
        ],
    );
    let admin = basic("admin", "admin-pw");
    let reader = basic("reader", "reader-pw");
    let broker = &cluster.broker_urls()[0];
    let controller = &cluster.controller_urls()[0];
    let query = r#"{"sql": "SELECT COUNT(*) FROM events"}"#;

    for url in [broker, controller] {
        assert_eq!(status(url, "GET", "/health", None, ""), 200, "{url}");
        for (method, path) in [("GET", "/cluster"), ("GET", "/metrics"), ("GET", "/tables")] {
            for refused in [
                None,
                Some(basic("admin", "wrong").as_str()),
                Some("Bearer nope"),
            ] {
                assert_eq!(
                    status(url, method, path, refused, ""),
                    401,
                    "{url}{path} {refused:?}"
                );
            }
            for allowed in [&admin, &reader, &bearer] {
                assert_eq!(
                    status(url, method, path, Some(allowed), ""),
                    200,
                    "{url}{path}"
                );
            }
        }
        // Admin calls: read-only credentials are refused (on a broker before it forwards).
        for read_only in [&reader, &bearer] {
            assert_eq!(
                status(url, "POST", "/schemas", Some(read_only), EVENTS_SCHEMA),
                403
            );
        }
    }
    // The controller asks realtime servers for their consumption with the caller's
    // credentials: they answer.
    let view = http(
        "GET",
        controller.trim_start_matches("http://"),
        "/cluster",
        &[("Authorization", bearer.as_str())],
        b"",
    )
    .expect("the controller answers")
    .json();
    assert_eq!(
        view["consumingUnavailable"],
        serde_json::json!([]),
        "{view}"
    );
    // Forwarded by the broker with the caller's credentials, checked by the leader too.
    assert_eq!(status(broker, "POST", "/schemas", None, EVENTS_SCHEMA), 401);
    assert_eq!(
        status(broker, "POST", "/schemas", Some(&admin), EVENTS_SCHEMA),
        200
    );
    assert_eq!(
        status(broker, "GET", "/schemas/events", Some(&bearer), ""),
        200
    );
    assert_eq!(status(broker, "POST", "/query/sql", None, query), 401);
    assert_ne!(
        status(broker, "POST", "/query/sql", Some(&reader), query),
        401
    );

    // A server's HTTP routes are closed too.
    let server_http = std::fs::read_to_string(cluster.dir().join("config/server-hist-1.toml"))
        .expect("the server's config")
        .lines()
        .find_map(|line| {
            line.strip_prefix("http = \"")
                .and_then(|l| l.strip_suffix('"'))
        })
        .map(|address| format!("http://{address}"))
        .expect("the server's HTTP address");
    assert_eq!(status(&server_http, "GET", "/health", None, ""), 200);
    assert_eq!(status(&server_http, "GET", "/metrics", None, ""), 401);
    assert_eq!(
        status(&server_http, "GET", "/metrics", Some(&bearer), ""),
        200
    );

    // The PostgreSQL wire on a broker asks for a password.
    let pg = cluster
        .var("BROKER_PG")
        .split(',')
        .next()
        .expect("a PG address")
        .to_string();
    let (host, port) = pg.split_once(':').expect("host:port");
    let psql = |user: &str, password: &str| {
        Command::new("psql")
            .args([
                "-X", "-w", "-h", host, "-p", port, "-U", user, "-d", "default",
            ])
            .args(["-A", "-t", "-c", "SELECT version()"])
            .env("PGPASSWORD", password)
            .output()
            .expect("psql runs")
    };
    let good = psql("reader", "reader-pw");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = psql("reader", "wrong");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("password") || stderr.contains("authentication"),
        "{stderr}"
    );
}
