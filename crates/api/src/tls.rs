//! TLS on the HTTP API and the PostgreSQL wire (rustls): the node config's `[tls]` and
//! the acceptor both listeners share (the HTTP side is [`crate::http_listener`]).
//!
//! ```toml
//! [tls]
//! cert_file = "/etc/tessera/server.pem"   # the certificate chain, PEM, leaf first
//! key_file = "/etc/tessera/server.key"    # its private key, PEM (PKCS#8, PKCS#1 or SEC1)
//! allow_plaintext = false                 # true: the same ports also take plain clients
//! ```
//!
//! Certificates are read at start: replace the files and restart the node to rotate them.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Also take clients that do not ask for TLS (HTTP without it; PostgreSQL clients
    /// with `sslmode=disable`). Off: they are refused, saying why.
    #[serde(default)]
    pub allow_plaintext: bool,
}

/// TLS as a listener serves it: the acceptor, and whether clients that do not ask for
/// TLS are served too (HTTP and the PostgreSQL wire alike).
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub allow_plaintext: bool,
}

impl Tls {
    pub fn from_config(config: &TlsConfig) -> anyhow::Result<Tls> {
        Ok(Tls {
            acceptor: acceptor(config)?,
            allow_plaintext: config.allow_plaintext,
        })
    }
}

/// The acceptor for `config`: its certificate chain and key, TLS 1.2 and 1.3.
fn acceptor(config: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&config.cert_file)
        .with_context(|| format!("read TLS certificates `{}`", config.cert_file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parse TLS certificates `{}`", config.cert_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "no certificate in `{}` (PEM, leaf first)",
            config.cert_file.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .with_context(|| format!("read the TLS key `{}`", config.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS key does not match the certificate")?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}
