//! Where requests go: a Tessera HTTP endpoint (`/query/sql`, Pinot's broker response) or a
//! PostgreSQL-wire endpoint (the simple query protocol). Each answer becomes an
//! [`Outcome`]: an error kind when it failed, whether it was partial, how many rows.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde::Deserialize;

use crate::http::HttpClient;
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
    client: HttpClient,
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
        Ok(HttpTarget {
            base,
            query_url,
            client: HttpClient::new(basic_auth)?,
        })
    }

    fn request(
        &self,
        payload: &Payload,
        query_options: Option<&str>,
    ) -> Result<hyper::Request<Full<Bytes>>, hyper::http::Error> {
        match payload {
            Payload::Sql(sql) => {
                let mut body = serde_json::json!({ "sql": sql });
                if let Some(options) = query_options {
                    body["queryOptions"] = options.into();
                }
                let builder = hyper::Request::post(self.query_url.clone())
                    .header("content-type", "application/json");
                self.client.request(builder, Bytes::from(body.to_string()))
            }
            Payload::Get(path) => self.client.request(
                hyper::Request::get(format!("{}{path}", self.base)),
                Bytes::new(),
            ),
        }
    }

    async fn fetch(
        &self,
        payload: &Payload,
        query_options: Option<&str>,
    ) -> Result<(u16, Bytes), Outcome> {
        let request = self
            .request(payload, query_options)
            .map_err(|e| Outcome::failed("bad_request", e.to_string()))?;
        self.client
            .exchange(request)
            .await
            .map_err(|(kind, message)| Outcome::failed(kind, message))
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
