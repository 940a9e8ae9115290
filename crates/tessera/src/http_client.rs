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

/// One POST of the file at `path`, read as it is sent (no copy of the whole file in
/// memory); blocking.
pub fn send_file(url: &str, content_type: &str, path: &std::path::Path) -> anyhow::Result<Reply> {
    use tokio::io::AsyncReadExt;
    /// Bytes read from the file per piece of the body.
    const PIECE_BYTES: usize = 1 << 20;
    let file = std::fs::File::open(path).with_context(|| format!("open `{}`", path.display()))?;
    send_body("POST", url, content_type, move || {
        let file = tokio::fs::File::from_std(file);
        let pieces = futures::stream::try_unfold(file, |mut file| async move {
            let mut piece = Vec::with_capacity(PIECE_BYTES);
            while piece.len() < PIECE_BYTES {
                if file.read_buf(&mut piece).await? == 0 {
                    break;
                }
            }
            Ok::<_, std::io::Error>((!piece.is_empty()).then_some((piece, file)))
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
