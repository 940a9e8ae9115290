//! The HTTP client of the query targets and the push sink: pooled keep-alive
//! connections with TCP_NODELAY, an optional Basic `Authorization` header, and one
//! exchange that sends a request and collects its answer, its failures named by kind.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderValue;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Debug)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    authorization: Option<HeaderValue>,
}

impl HttpClient {
    /// `basic_auth` is `user:password`.
    pub fn new(basic_auth: Option<&str>) -> anyhow::Result<HttpClient> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let authorization = basic_auth
            .map(|credentials| format!("Basic {}", base64(credentials.as_bytes())).parse())
            .transpose()?;
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            authorization,
        })
    }

    /// `builder` with `body` and the client's `Authorization` header.
    pub fn request(
        &self,
        builder: hyper::http::request::Builder,
        body: Bytes,
    ) -> Result<hyper::Request<Full<Bytes>>, hyper::http::Error> {
        let mut request = builder.body(Full::new(body))?;
        if let Some(authorization) = &self.authorization {
            request
                .headers_mut()
                .insert("authorization", authorization.clone());
        }
        Ok(request)
    }

    /// Sends `request` and collects the answer: its status and body, or the kind of the
    /// failure (`connect`, `transport`) and what it said.
    pub async fn exchange(
        &self,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<(u16, Bytes), (&'static str, String)> {
        let response = self.client.request(request).await.map_err(|e| {
            let kind = if e.is_connect() {
                "connect"
            } else {
                "transport"
            };
            (kind, format!("{e:?}"))
        })?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ("transport", e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }
}

/// Standard base64 with padding (for a Basic auth header).
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"admin:secret"), "YWRtaW46c2VjcmV0");
    }
}
