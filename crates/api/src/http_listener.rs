//! A node's HTTP listener: every connection counted for `/metrics`
//! (`tessera_connections_open{protocol="http"}`), and with `[tls]` HTTPS. TLS
//! handshakes run on tasks of their own, so a slow client never holds up the next; a
//! client that speaks plain HTTP to a TLS-only port is answered in plain HTTP with a 400
//! that says to use `https://`, not a broken connection.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use crate::server_metrics::{ConnectionGuard, Protocol, ServerMetrics};
use crate::tls::Tls;

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

pub struct HttpListener {
    accepting: Accepting,
    local: SocketAddr,
}

enum Accepting {
    /// Plain HTTP: accepted on the serving loop itself.
    Plain {
        listener: TcpListener,
        metrics: Arc<ServerMetrics>,
    },
    /// HTTPS: connections that finished their handshake, from the accepting task.
    Tls(mpsc::Receiver<(HttpStream, SocketAddr)>),
}

impl HttpListener {
    /// Serve `listener`, over TLS when `https` is given.
    pub fn new(
        listener: TcpListener,
        https: Option<Tls>,
        metrics: Arc<ServerMetrics>,
    ) -> io::Result<HttpListener> {
        let local = listener.local_addr()?;
        let accepting = match https {
            None => Accepting::Plain { listener, metrics },
            Some(https) => Accepting::Tls(accept_tls(listener, https, metrics)),
        };
        Ok(HttpListener { accepting, local })
    }
}

/// Answers leave as soon as they are written. With Nagle's algorithm on, an answer written
/// in two pieces waits with its second for the client's ACK of the first, which a
/// keep-alive client may delay by up to 40 ms.
pub fn no_delay(socket: &TcpStream) {
    if let Err(error) = socket.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
}

/// Accept TCP connections and hand each one's handshake to a task of its own.
fn accept_tls(
    listener: TcpListener,
    https: Tls,
    metrics: Arc<ServerMetrics>,
) -> mpsc::Receiver<(HttpStream, SocketAddr)> {
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
            no_delay(&socket);
            let (sender, https, metrics) = (sender.clone(), https.clone(), metrics.clone());
            tokio::spawn(async move {
                let guard = metrics.connection(Protocol::Http);
                let opened = tokio::time::timeout(HANDSHAKE_TIMEOUT, open(socket, &https)).await;
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
    ready
}

/// Handshake, or (plain client) serve plaintext when allowed, else answer the 400.
async fn open(socket: TcpStream, https: &Tls) -> io::Result<Option<MaybeTls>> {
    let mut first = [0u8; 1];
    let peeked = socket.peek(&mut first).await?;
    if peeked == 1 && first[0] == TLS_HANDSHAKE {
        let stream = https.acceptor.accept(socket).await?;
        return Ok(Some(MaybeTls::Tls(Box::new(stream))));
    }
    if https.allow_plaintext {
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

impl axum::serve::Listener for HttpListener {
    type Io = HttpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (HttpStream, SocketAddr) {
        match &mut self.accepting {
            Accepting::Plain { listener, metrics } => loop {
                match TcpListener::accept(listener).await {
                    Ok((socket, address)) => {
                        no_delay(&socket);
                        let stream = HttpStream {
                            stream: MaybeTls::Plain(socket),
                            _guard: metrics.connection(Protocol::Http),
                        };
                        return (stream, address);
                    }
                    Err(error) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        tracing::warn!(%error, "HTTP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            },
            Accepting::Tls(ready) => match ready.recv().await {
                Some(accepted) => accepted,
                // The accepting task ended (its listener failed for good): accept no more.
                None => std::future::pending().await,
            },
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

/// A connection of the HTTP listener, counted as open until dropped.
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

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            MaybeTls::Plain(stream) => stream.is_write_vectored(),
            MaybeTls::Tls(stream) => stream.is_write_vectored(),
        }
    }
}
