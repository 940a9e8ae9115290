//! Where requests go: a Tessera HTTP endpoint (`/query/sql`, Pinot's broker response) or a
//! PostgreSQL-wire endpoint (the simple query protocol). Each answer becomes an
//! [`Outcome`]: an error kind when it failed, whether it was partial, how many rows.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::mix::{Payload, Value};
use crate::postgres::PgPool;
use crate::scenario::TargetSpec;

/// What one request came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// `None` when the request succeeded; otherwise a short kind (`connect`, `http_503`,
    /// `error_250`, `sqlstate_57014`, `client_timeout`, `wrong_rows`).
    pub error: Option<String>,
    /// The server answered only part of the data (`partialResult`).
    pub partial: bool,
    pub rows: Option<u64>,
    /// The server's `minConsumingFreshnessTimeMs` when it reported one (epoch ms).
    pub freshness_ms: Option<i64>,
    /// The first error message of its kind, kept for the report.
    pub message: Option<String>,
    /// The answer's rows, when the request asked for them (to check a result).
    pub values: Option<Vec<serde_json::Value>>,
}

impl Outcome {
    pub fn failed(kind: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome {
            error: Some(kind.into()),
            message: Some(message.into()),
            ..Outcome::default()
        }
    }
}

#[derive(Debug)]
pub enum Target {
    Http(Box<HttpTarget>),
    Postgres(PgPool),
}

impl Target {
    pub fn new(spec: &TargetSpec) -> anyhow::Result<Target> {
        match (&spec.url, &spec.postgres) {
            (Some(url), None) => Ok(Target::Http(Box::new(HttpTarget::new(
                url,
                spec.basic_auth.as_deref(),
            )?))),
            (None, Some(dsn)) => Ok(Target::Postgres(PgPool::new(dsn)?)),
            _ => anyhow::bail!("a target needs exactly one of `url` and `postgres`"),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Target::Http(http) => http.base.clone(),
            Target::Postgres(pg) => pg.describe(),
        }
    }

    /// Whether the target answers at all: `/health` over HTTP, a connection over PG.
    pub async fn probe(&self) -> Result<(), String> {
        let answer = match self {
            Target::Http(http) => {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    http.send(&Payload::Get("/health".into()), None, false),
                )
                .await
            }
            Target::Postgres(pg) => {
                tokio::time::timeout(Duration::from_secs(5), pg.query("SELECT 1")).await
            }
        };
        match answer {
            Ok(outcome) => match outcome.error {
                None => Ok(()),
                Some(kind) => Err(format!("{kind}: {}", outcome.message.unwrap_or_default())),
            },
            Err(_) => Err("no answer within 5 s".into()),
        }
    }

    /// Sends one request; `want_rows` keeps the answer's rows (HTTP) for a result check.
    pub async fn send(
        &self,
        payload: &Payload,
        query_options: Option<&str>,
        want_rows: bool,
    ) -> Outcome {
        match self {
            Target::Http(http) => http.send(payload, query_options, want_rows).await,
            Target::Postgres(pg) => match payload {
                Payload::Sql(sql) => pg.query(sql).await,
                Payload::Get(_) => Outcome::failed("unsupported", "a GET over the PostgreSQL wire"),
            },
        }
    }

    /// The first column of every row of `sql` (for parameters drawn from real values).
    pub async fn column_values(&self, sql: &str) -> anyhow::Result<Vec<Value>> {
        match self {
            Target::Http(http) => http.column_values(sql).await,
            Target::Postgres(pg) => {
                let (outcome, values) = pg.query_values(sql).await;
                match outcome.error {
                    None => Ok(values),
                    Some(kind) => anyhow::bail!("{kind}: {}", outcome.message.unwrap_or_default()),
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct HttpTarget {
    base: String,
    query_url: hyper::Uri,
    authorization: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

#[derive(Deserialize)]
struct BrokerResponse {
    #[serde(default)]
    exceptions: Vec<Exception>,
    #[serde(default, rename = "partialResult")]
    partial: bool,
    #[serde(default, rename = "minConsumingFreshnessTimeMs")]
    freshness: Option<i64>,
    #[serde(default, rename = "resultTable")]
    result_table: Option<CountedRows>,
}

#[derive(Deserialize)]
struct Exception {
    #[serde(default, rename = "errorCode")]
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct CountedRows {
    rows: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ValueRows {
    #[serde(rename = "resultTable")]
    result_table: Option<ValueTable>,
}

#[derive(Deserialize)]
struct ValueTable {
    rows: Vec<Vec<serde_json::Value>>,
}

impl HttpTarget {
    fn new(url: &str, basic_auth: Option<&str>) -> anyhow::Result<HttpTarget> {
        let parsed: hyper::Uri = url
            .trim_end_matches('/')
            .parse()
            .map_err(|e| anyhow::anyhow!("target url `{url}`: {e}"))?;
        if parsed.scheme_str() != Some("http") {
            anyhow::bail!("target url `{url}`: only http:// is supported");
        }
        let Some(authority) = parsed.authority() else {
            anyhow::bail!("target url `{url}` names no host");
        };
        // GETs (`/health`, `get = ...`) go to the server's root; SQL to the URL's path,
        // or to /query/sql when it has none.
        let base = format!("http://{authority}");
        let query_url = if parsed.path().len() > 1 {
            parsed
        } else {
            format!("{base}/query/sql").parse()?
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        let authorization =
            basic_auth.map(|credentials| format!("Basic {}", base64(credentials.as_bytes())));
        Ok(HttpTarget {
            base,
            query_url,
            authorization,
            client,
        })
    }

    fn request(
        &self,
        payload: &Payload,
        query_options: Option<&str>,
    ) -> anyhow::Result<hyper::Request<Full<Bytes>>> {
        let builder = match payload {
            Payload::Sql(sql) => {
                let mut body = serde_json::json!({ "sql": sql });
                if let Some(options) = query_options {
                    body["queryOptions"] = options.into();
                }
                hyper::Request::post(self.query_url.clone())
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body.to_string())))
            }
            Payload::Get(path) => {
                hyper::Request::get(format!("{}{path}", self.base)).body(Full::new(Bytes::new()))
            }
        };
        let mut request = builder?;
        if let Some(authorization) = &self.authorization {
            request
                .headers_mut()
                .insert("authorization", authorization.parse()?);
        }
        Ok(request)
    }

    async fn fetch(
        &self,
        payload: &Payload,
        query_options: Option<&str>,
    ) -> Result<(u16, Bytes), Outcome> {
        let request = self
            .request(payload, query_options)
            .map_err(|e| Outcome::failed("bad_request", e.to_string()))?;
        let response = self.client.request(request).await.map_err(|e| {
            let kind = if e.is_connect() {
                "connect"
            } else {
                "transport"
            };
            Outcome::failed(kind, format!("{e:?}"))
        })?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Outcome::failed("transport", e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }

    async fn send(
        &self,
        payload: &Payload,
        query_options: Option<&str>,
        want_rows: bool,
    ) -> Outcome {
        let (status, body) = match self.fetch(payload, query_options).await {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        if matches!(payload, Payload::Get(_)) {
            return if status == 200 {
                Outcome::default()
            } else {
                Outcome::failed(format!("http_{status}"), String::from_utf8_lossy(&body))
            };
        }
        match serde_json::from_slice::<BrokerResponse>(&body) {
            Ok(response) => {
                if let Some(first) = response.exceptions.first() {
                    return Outcome {
                        error: Some(format!("error_{}", first.code)),
                        message: Some(first.message.clone()),
                        partial: response.partial,
                        ..Outcome::default()
                    };
                }
                if status != 200 {
                    return Outcome::failed(
                        format!("http_{status}"),
                        String::from_utf8_lossy(&body),
                    );
                }
                let values = if want_rows {
                    serde_json::from_slice::<ValueRows>(&body)
                        .ok()
                        .and_then(|r| r.result_table)
                        .map(|t| t.rows.into_iter().map(serde_json::Value::Array).collect())
                } else {
                    None
                };
                Outcome {
                    error: None,
                    partial: response.partial,
                    rows: response.result_table.map(|t| t.rows.len() as u64),
                    freshness_ms: response.freshness.filter(|&f| f > 0),
                    message: None,
                    values,
                }
            }
            Err(e) => Outcome::failed(
                format!("http_{status}"),
                format!(
                    "not a broker response ({e}): {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
            ),
        }
    }

    async fn column_values(&self, sql: &str) -> anyhow::Result<Vec<Value>> {
        let payload = Payload::Sql(sql.to_string());
        let (status, body) = self.fetch(&payload, None).await.map_err(|o| {
            anyhow::anyhow!(
                "{}: {}",
                o.error.unwrap_or_default(),
                o.message.unwrap_or_default()
            )
        })?;
        let parsed: ValueRows = serde_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("HTTP {status}, not a broker response: {e}"))?;
        let Some(table) = parsed.result_table else {
            anyhow::bail!("HTTP {status}: {}", String::from_utf8_lossy(&body));
        };
        Ok(table
            .rows
            .iter()
            .filter_map(|row| row.first())
            .filter(|v| !v.is_null())
            .map(Value::from_json)
            .collect())
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
