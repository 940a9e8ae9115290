//! [`EtcdSession`]: one node's connection to etcd, the small runtime that drives it, and
//! the namespace every key of one Tessera cluster lives under.
//!
//! The catalog ([`tessera_meta::MetaStore`]) is a blocking interface, called from
//! request handlers, sealer threads and start-up code alike. The session therefore owns
//! a one-worker tokio runtime of its own: blocking calls spawn their request there and
//! wait on a channel, which works from any thread (a plain thread or inside another
//! runtime's `spawn_blocking`), and the background work — lease keep-alives, watches —
//! runs there too, independent of the node's request runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use serde::Deserialize;

use crate::{Error, Result};

/// How a node reaches etcd (the `[etcd]` table of the node config).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdConfig {
    /// Client URLs of the etcd members (`http://10.0.0.1:2379`, or `host:port`).
    pub endpoints: Vec<String>,
    /// The cluster's name: every key lives under `/tessera/{cluster}/`, so several
    /// clusters (or test runs) can share one etcd.
    #[serde(default = "default_cluster")]
    pub cluster: String,
    /// How long one etcd request may take before it counts as unavailable. Lower
    /// detects an outage sooner; higher rides out a slow etcd.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
}

fn default_cluster() -> String {
    "default".to_string()
}

fn default_request_timeout_ms() -> u64 {
    5_000
}

impl EtcdConfig {
    pub fn new(endpoints: Vec<String>, cluster: impl Into<String>) -> EtcdConfig {
        EtcdConfig {
            endpoints,
            cluster: cluster.into(),
            request_timeout_ms: default_request_timeout_ms(),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.endpoints.is_empty() {
            return Err(Error::Config(
                "no etcd endpoints: set `endpoints = [\"http://HOST:2379\"]`".into(),
            ));
        }
        for endpoint in &self.endpoints {
            let address = endpoint
                .strip_prefix("http://")
                .unwrap_or(endpoint)
                .trim_end_matches('/');
            if endpoint.starts_with("https://") {
                return Err(Error::Config(format!(
                    "TLS to etcd is not supported yet: endpoint=`{endpoint}`"
                )));
            }
            let port_ok = address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok || address.contains('/') {
                return Err(Error::Config(format!(
                    "an etcd endpoint is `http://HOST:PORT` or `HOST:PORT`: endpoint=`{endpoint}`"
                )));
            }
        }
        let cluster_ok = !self.cluster.is_empty()
            && self
                .cluster
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !cluster_ok {
            return Err(Error::Config(format!(
                "a cluster name is letters, digits, `-` and `_`: cluster=`{}`",
                self.cluster
            )));
        }
        Ok(())
    }
}

/// A live connection to etcd, shared by a node's catalog, membership, election and
/// mirrors. Cheap to clone.
#[derive(Clone)]
pub struct EtcdSession {
    inner: Arc<Inner>,
}

struct Inner {
    /// `Option` only so `Drop` can take it: a runtime dropped inside another runtime's
    /// context panics, `shutdown_background` does not.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    client: Client,
    namespace: String,
    request_timeout: Duration,
    endpoints: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for EtcdSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdSession")
            .field("endpoints", &self.inner.endpoints)
            .field("namespace", &self.inner.namespace)
            .finish()
    }
}

impl EtcdSession {
    /// Connect and check that etcd answers: a wrong address is an error here, at start,
    /// naming the endpoints — not a hang at the first catalog read.
    pub fn connect(config: &EtcdConfig) -> Result<EtcdSession> {
        config.validate()?;
        let request_timeout = Duration::from_millis(config.request_timeout_ms.max(1));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("etcd-client")
            .enable_all()
            .build()
            .map_err(|error| Error::Config(format!("start the etcd client runtime: {error}")))?;
        let options = ConnectOptions::new()
            .with_connect_timeout(request_timeout)
            .with_timeout(request_timeout)
            // HTTP/2 pings find a dead or half-open connection in seconds, also when idle.
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(3))
            .with_keep_alive_while_idle(true);
        let endpoints = config.endpoints.clone();
        let joined = endpoints.join(",");
        let connect = async move {
            let mut client = Client::connect(endpoints, Some(options)).await?;
            client.status().await?;
            Ok::<_, etcd_client::Error>(client)
        };
        let client = match runtime
            .block_on(async { tokio::time::timeout(request_timeout, connect).await })
        {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                return Err(match Error::from_etcd("connect", error) {
                    Error::Unavailable { message, .. } => Error::Unavailable {
                        operation: format!("connect to endpoints=`{joined}`"),
                        message,
                    },
                    other => other,
                });
            }
            Err(_) => {
                return Err(Error::Unavailable {
                    operation: format!("connect to endpoints=`{joined}`"),
                    message: format!("no answer within {request_timeout:?}"),
                });
            }
        };
        Ok(EtcdSession {
            inner: Arc::new(Inner {
                handle: runtime.handle().clone(),
                runtime: Some(runtime),
                client,
                namespace: format!("/tessera/{}/", config.cluster),
                request_timeout,
                endpoints: joined,
            }),
        })
    }

    /// The prefix of every key of this cluster (`/tessera/{cluster}/`).
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The etcd key of a cluster key (`tables/events` → `/tessera/c/tables/events`).
    pub(crate) fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.namespace)
    }

    /// The cluster key of an etcd key, `None` for a key outside the namespace.
    pub(crate) fn cluster_key<'a>(&self, full_key: &'a [u8]) -> Option<&'a str> {
        full_key
            .strip_prefix(self.inner.namespace.as_bytes())
            .and_then(|key| std::str::from_utf8(key).ok())
    }

    pub(crate) fn client(&self) -> Client {
        self.inner.client.clone()
    }

    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.inner.handle
    }

    /// Run one etcd request to completion from blocking code, bounded by the request
    /// timeout.
    pub(crate) fn call<T, F>(&self, operation: &str, request: impl FnOnce(Client) -> F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        let timeout = self.inner.request_timeout;
        let future = request(self.client());
        let outcome = self.wait(async move { tokio::time::timeout(timeout, future).await });
        match outcome {
            Some(Ok(Ok(value))) => Ok(value),
            Some(Ok(Err(error))) => Err(Error::from_etcd(operation, error)),
            Some(Err(_elapsed)) => Err(Error::Unavailable {
                operation: operation.to_string(),
                message: format!("no answer within {timeout:?}"),
            }),
            None => Err(Error::Unavailable {
                operation: operation.to_string(),
                message: "the etcd client runtime stopped".into(),
            }),
        }
    }

    /// Run `future` on the session's runtime and block until it ends (`None` if the
    /// runtime shut down first).
    pub(crate) fn wait<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.runtime().spawn(async move {
            let _ = sender.send(future.await);
        });
        receiver.recv().ok()
    }
}
