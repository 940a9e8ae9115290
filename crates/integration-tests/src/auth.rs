//! Credentials for the auth tests: users and a token hashed by the real
//! `tessera hash-secret`, as the `[auth]` TOML a node config carries.

use std::process::Command;

/// `tessera hash-secret ARGS` with `stdin` as the secret; its stdout.
pub fn hash_secret(args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(crate::tessera_binary())
        .arg("hash-secret")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tessera hash-secret runs");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write the secret");
    }
    let output = child.wait_with_output().expect("hash-secret output");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// An HTTP Basic `Authorization` value.
pub fn basic(user: &str, password: &str) -> String {
    // base64 by hand: the test crate has no base64 dependency.
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let bytes = input.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// Users `admin` (password `admin-pw`, admin) and `reader` (`reader-pw`, read), and a
/// read token `grafana`.
pub struct TestCredentials {
    /// The `[auth]` tables of a node config.
    pub auth_toml: String,
    /// The `grafana` token in clear.
    pub token: String,
}

pub fn test_credentials() -> TestCredentials {
    let admin_hash = hash_secret(&["--iterations", "1000"], "admin-pw\n");
    let reader_hash = hash_secret(&["--iterations", "1000"], "reader-pw\n");
    assert!(
        admin_hash.starts_with("pbkdf2-sha256$1000$"),
        "{admin_hash}"
    );
    let generated = hash_secret(&["--token", "--generate"], "");
    let token = generated
        .lines()
        .find_map(|l| l.strip_prefix("token = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a generated token")
        .to_string();
    let token_hash = generated
        .lines()
        .find_map(|l| l.strip_prefix("token_hash = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("its hash");
    assert_eq!(hash_secret(&["--token"], &format!("{token}\n")), token_hash);
    let auth_toml = format!(
        r#"
[[auth.users]]
name = "admin"
password_hash = "{admin_hash}"
role = "admin"

[[auth.users]]
name = "reader"
password_hash = "{reader_hash}"
role = "read"

[[auth.tokens]]
name = "grafana"
token_hash = "{token_hash}"
role = "read"
"#
    );
    TestCredentials { auth_toml, token }
}
