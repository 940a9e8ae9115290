//! The HTTP client of the CLI commands that talk to a server (`query --url`,
//! `ingest --url`).

use anyhow::Context;

/// A response: status and body text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("the server answered with non-JSON: {}", self.body))
    }

    /// The server's error message (`error` of a controller error, the first exception
    /// of a query), or the body.
    pub fn error_message(&self) -> String {
        let parsed: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        parsed["error"]
            .as_str()
            .or_else(|| parsed["exceptions"][0]["message"].as_str())
            .map_or_else(|| self.body.clone(), str::to_string)
    }
}

/// Credentials for a server with auth on: `TESSERA_TOKEN` (bearer), or
/// `TESSERA_USER` and `TESSERA_PASSWORD` (Basic).
fn authorization() -> Option<String> {
    use base64::Engine;
    if let Ok(token) = std::env::var("TESSERA_TOKEN") {
        return Some(format!("Bearer {token}"));
    }
    let user = std::env::var("TESSERA_USER").ok()?;
    let password = std::env::var("TESSERA_PASSWORD").unwrap_or_default();
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    ))
}

/// One request; blocking (it runs its own small runtime).
pub fn send(method: &str, url: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<Reply> {
    send_body(method, url, content_type, || Ok(body.into()))
}

/// Bytes in flight between a [`BodyWriter`] and its request: four pieces of a megabyte.
const BODY_PIECES: usize = 4;
const PIECE_BYTES: usize = 1 << 20;

/// The writing end of a streamed request body (see [`body_pipe`]): each write becomes
/// pieces of at most a megabyte, handed to the request as it sends; a write blocks
/// while [`BODY_PIECES`] pieces wait. Writes fail once the request has stopped.
#[derive(Clone)]
pub struct BodyWriter {
    pieces: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
}

impl BodyWriter {
    /// End the body with `error` instead of its end: the request is aborted, so the
    /// server never takes what was sent for a whole body.
    pub fn abort(&self, error: std::io::Error) {
        let _ = self.pieces.blocking_send(Err(error));
    }
}

impl std::io::Write for BodyWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let piece = &bytes[..bytes.len().min(PIECE_BYTES)];
        self.pieces.blocking_send(Ok(piece.to_vec())).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped")
        })?;
        Ok(piece.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reading end of a streamed request body: what [`send_stream`] sends.
pub struct BodyReader {
    pieces: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

/// A request body written as it is sent: the body ends when every [`BodyWriter`] is
/// dropped.
pub fn body_pipe() -> (BodyWriter, BodyReader) {
    let (sender, receiver) = tokio::sync::mpsc::channel(BODY_PIECES);
    (
        BodyWriter { pieces: sender },
        BodyReader { pieces: receiver },
    )
}

/// One POST whose body is written through the pipe's [`BodyWriter`] meanwhile
/// (chunked); blocking until the server answers.
pub fn send_stream(url: &str, content_type: &str, body: BodyReader) -> anyhow::Result<Reply> {
    send_body("POST", url, content_type, move || {
        let pieces = futures::stream::unfold(body.pieces, |mut pieces| async move {
            pieces.recv().await.map(|piece| (piece, pieces))
        });
        Ok(reqwest::Body::wrap_stream(pieces))
    })
}

/// One request whose body `body` makes inside the request's runtime.
fn send_body(
    method: &str,
    url: &str,
    content_type: &str,
    body: impl FnOnce() -> anyhow::Result<reqwest::Body>,
) -> anyhow::Result<Reply> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the HTTP client runtime")?;
    runtime.block_on(async {
        let body = body()?;
        let client = reqwest::Client::new();
        let method = reqwest::Method::from_bytes(method.as_bytes()).context("HTTP method")?;
        let mut request = client
            .request(method, url)
            .header(reqwest::header::CONTENT_TYPE, content_type);
        if let Some(value) = authorization() {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach `{url}`"))?;
        let status = response.status().as_u16();
        let body = response.text().await.context("read the response")?;
        Ok(Reply { status, body })
    })
}
