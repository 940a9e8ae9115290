//! TLS on the HTTP API and the PostgreSQL wire (rustls): the node config's `[tls]`,
//! the acceptor both listeners share, and an HTTP listener that completes handshakes
//! off its accept loop. A client that speaks plain HTTP to a TLS-only port is answered
//! in plain HTTP with a 400 that says to use `https://`, not a broken connection.
//!
//! ```toml
//! [tls]
//! cert_file = "/etc/tessera/server.pem"   # the certificate chain, PEM, leaf first
//! key_file = "/etc/tessera/server.key"    # its private key, PEM (PKCS#8, PKCS#1 or SEC1)
//! allow_plaintext = false                 # true: the same ports also take plain clients
//! ```
//!
//! Certificates are read at start: replace the files and restart the node to rotate them.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::server_metrics::{ConnectionGuard, Protocol, ServerMetrics};

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

/// The acceptor for `config`: its certificate chain and key, TLS 1.2 and 1.3.
pub fn acceptor(config: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
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

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

/// The HTTP listener with TLS: TCP accepts and handshakes run on tasks of their own
/// (a slow client never holds up the next), and connections are counted for
/// `/metrics` as the plain listener counts them.
pub struct TlsListener {
    ready: mpsc::Receiver<(HttpStream, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        allow_plaintext: bool,
        metrics: Arc<ServerMetrics>,
    ) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (socket, address) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "HTTPS accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (sender, acceptor, metrics) =
                    (sender.clone(), acceptor.clone(), metrics.clone());
                tokio::spawn(async move {
                    let guard = metrics.connection(Protocol::Http);
                    let opened = tokio::time::timeout(
                        HANDSHAKE_TIMEOUT,
                        open(socket, &acceptor, allow_plaintext),
                    )
                    .await;
                    match opened {
                        Ok(Ok(Some(stream))) => {
                            let _ = sender
                                .send((
                                    HttpStream {
                                        stream,
                                        _guard: guard,
                                    },
                                    address,
                                ))
                                .await;
                        }
                        Ok(Ok(None)) => {}
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %address, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%address, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

/// Handshake, or (plain client) serve plaintext when allowed, else answer the 400.
async fn open(
    socket: TcpStream,
    acceptor: &TlsAcceptor,
    allow_plaintext: bool,
) -> io::Result<Option<MaybeTls>> {
    let mut first = [0u8; 1];
    let peeked = socket.peek(&mut first).await?;
    if peeked == 1 && first[0] == TLS_HANDSHAKE {
        return Ok(Some(MaybeTls::Tls(Box::new(
            acceptor.accept(socket).await?,
        ))));
    }
    if allow_plaintext {
        return Ok(Some(MaybeTls::Plain(socket)));
    }
    let mut socket = socket;
    let body = "this port speaks HTTPS (TLS): use https://\n";
    let refusal = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(refusal.as_bytes()).await;
    let _ = socket.shutdown().await;
    Ok(None)
}

impl axum::serve::Listener for TlsListener {
    type Io = HttpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (HttpStream, SocketAddr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task ended (its listener failed for good): accept no more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

enum MaybeTls {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A connection of the TLS listener, counted as open until dropped.
pub struct HttpStream {
    stream: MaybeTls,
    _guard: ConnectionGuard,
}

impl AsyncRead for HttpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.stream {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            MaybeTls::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for HttpStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            MaybeTls::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_flush(cx),
            MaybeTls::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            MaybeTls::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}
