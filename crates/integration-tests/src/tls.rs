//! Test certificates made by openssl, and the `[tls]` table that serves them.

use std::path::Path;
use std::process::Command;

/// A CA (`{name}-ca.pem`) and a server certificate it signed (`{name}.pem`, `.key`).
pub fn certificates(dir: &Path, name: &str) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (Debian package openssl)");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let (ca_key, ca, key, csr, cert) = (
        format!("{name}-ca.key"),
        format!("{name}-ca.pem"),
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    let curve = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &curve,
        &[
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            "/CN=Tessera test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &curve,
        &["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("extensions file");
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// A node config's `[tls]` table serving `{name}.pem` and `{name}.key` in `dir`.
pub fn tls_table(dir: &Path, name: &str, allow_plaintext: bool) -> String {
    format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nallow_plaintext = {allow_plaintext}\n",
        dir.join(format!("{name}.pem")).display(),
        dir.join(format!("{name}.key")).display()
    )
}

/// curl with `args`, quiet but showing errors, 20 s at most: (ok, body + error text).
pub fn curl(args: &[&str]) -> (bool, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs");
    crate::printed(&output)
}
