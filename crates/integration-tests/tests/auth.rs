//! Auth on (node config `[auth]`): every HTTP route but /health refuses requests
//! without valid credentials — the test walks the route list the binary itself prints
//! (`tessera routes`), so a new route cannot slip through — roles split read from
//! admin, and the PostgreSQL wire asks for a password.

use std::process::Command;

use tessera_integration_tests::auth::{basic, test_credentials};
use tessera_integration_tests::server::{Server, http};

struct Secured {
    server: Server,
    token: String,
    _dir: tempfile::TempDir,
}

fn secured_server() -> Secured {
    let dir = tempfile::tempdir().expect("tempdir");
    let credentials = test_credentials();
    let config = dir.path().join("node.toml");
    std::fs::write(&config, &credentials.auth_toml).expect("write node config");
    let server = Server::start_with_args(
        &dir.path().join("data"),
        None,
        &[],
        &["--config", &config.display().to_string()],
    );
    Secured {
        server,
        token: credentials.token,
        _dir: dir,
    }
}

fn request(server: &Server, method: &str, path: &str, auth: Option<&str>) -> u16 {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(value) = auth {
        headers.push(("Authorization", value));
    }
    http(method, &server.address, path, &headers, b"")
        .expect("request reaches the server")
        .status
}

#[test]
fn test_every_route_but_health_requires_credentials_and_roles_split() {
    let secured = secured_server();
    let server = &secured.server;
    let listed = tessera_integration_tests::tessera(&["routes"]);
    let routes = String::from_utf8_lossy(&listed.stdout).to_string();
    let routes: Vec<(String, String, String)> = routes
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((
                parts.next()?.to_string(),
                parts.next()?.to_string(),
                parts.next()?.to_string(),
            ))
        })
        .collect();
    assert!(routes.len() >= 19, "{routes:?}");
    let admin = basic("admin", "admin-pw");
    let reader = basic("reader", "reader-pw");
    let bearer = format!("Bearer {}", secured.token);
    let mut walked = 0;
    for (method, path, role) in &routes {
        // Path parameters name a table that does not exist: admin calls stay harmless.
        let path = path
            .replace("{name}", "no_such_table")
            .replace("{*file}", "app.js");
        if role == "public" {
            assert_eq!(request(server, method, &path, None), 200, "{method} {path}");
            continue;
        }
        for refused in [
            None,
            Some(basic("admin", "wrong").as_str()),
            Some(basic("nobody", "admin-pw").as_str()),
            Some("Bearer not-a-token"),
            Some("Digest realm=x"),
        ] {
            assert_eq!(
                request(server, method, &path, refused),
                401,
                "{method} {path} with {refused:?}"
            );
        }
        let as_admin = request(server, method, &path, Some(&admin));
        assert!(
            as_admin != 401 && as_admin != 403,
            "{method} {path}: admin got {as_admin}"
        );
        for read_only in [&reader, &bearer] {
            let status = request(server, method, &path, Some(read_only));
            if role == "admin" {
                assert_eq!(status, 403, "{method} {path}: read-only got {status}");
            } else {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path}: read got {status}"
                );
            }
        }
        walked += 1;
    }
    assert!(walked >= 18, "{walked}");

    // The CLI clients take credentials from the environment.
    let url = format!("http://{}", server.address);
    let denied = tessera_integration_tests::tessera(&["query", "--url", &url, "SELECT 1 FROM x"]);
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("credentials"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
}

#[test]
fn test_postgres_wire_asks_for_a_password_when_auth_is_on() {
    let secured = secured_server();
    let (host, port) = secured
        .server
        .pg_address
        .split_once(':')
        .expect("host:port");
    let psql = |user: &str, password: Option<&str>| {
        let mut command = Command::new("psql");
        command
            .args([
                "-X", "-w", "-h", host, "-p", port, "-U", user, "-d", "default",
            ])
            .args(["-A", "-t", "-c", "SELECT version()"]);
        match password {
            Some(p) => command.env("PGPASSWORD", p),
            None => command.env_remove("PGPASSWORD"),
        };
        command.output().expect("psql runs")
    };
    for (user, password) in [
        ("admin", "admin-pw"),
        ("reader", "reader-pw"),
        ("grafana", secured.token.as_str()),
    ] {
        let output = psql(user, Some(password));
        assert!(
            output.status.success(),
            "{user}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("Tessera"));
    }
    for (user, password) in [
        ("admin", Some("wrong")),
        ("reader", None),
        ("nobody", Some("admin-pw")),
    ] {
        let output = psql(user, password);
        assert!(!output.status.success(), "{user} {password:?} got in");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("password") || stderr.contains("authentication"),
            "{user}: {stderr}"
        );
    }
}

#[test]
fn test_plain_text_secrets_in_the_node_config_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "[[auth.users]]\nname = \"admin\"\npassword_hash = \"hunter2\"\nrole = \"admin\"\n",
    )
    .expect("write node config");
    let output = Command::new(tessera_integration_tests::tessera_binary())
        .args([
            "standalone",
            "--http",
            "127.0.0.1:0",
            "--pg",
            "off",
            "--config",
        ])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .expect("tessera runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("auth.users[0] (`admin`).password_hash") && stderr.contains("plain-text"),
        "{stderr}"
    );
}
