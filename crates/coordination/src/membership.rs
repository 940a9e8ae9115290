//! Node membership: every node registers `nodes/{node_id}` under a lease, with its role,
//! addresses and tags. A node killed with `kill -9` stops refreshing its lease and
//! disappears within the TTL; a node that stops cleanly revokes the lease and disappears
//! at once.
//!
//! Two live nodes never share an id: registration is a transaction that creates the key
//! only if it is absent. A restarted node finds its previous incarnation's key until
//! that lease expires, so it waits up to one TTL for it to go before giving up with
//! [`Error::NodeIdTaken`]. When etcd is away longer than the TTL, the keeper re-registers
//! the node (under a new lease) as soon as etcd is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::lease::{self, grant, keep_alive, revoke_quietly};
use crate::{Error, EtcdSession, Result};

/// Where node registrations live.
pub const NODES_PREFIX: &str = "nodes/";

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    Controller,
    Broker,
    Server,
}

/// A node's registration: who it is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub node_id: String,
    pub role: NodeRole,
    /// Server tags (`realtime`, `historical`) that assignment matches.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `host:port` of the HTTP API, when the node serves one.
    #[serde(default)]
    pub http_address: Option<String>,
    /// `host:port` of the Arrow Flight endpoint (servers).
    #[serde(default)]
    pub flight_address: Option<String>,
    /// `host:port` of the PostgreSQL wire (brokers).
    #[serde(default)]
    pub pg_address: Option<String>,
    /// Distinguishes this process from an earlier one with the same id.
    pub incarnation: String,
}

impl NodeInfo {
    /// A registration for a node starting now (its incarnation: process id and clock).
    pub fn new(node_id: impl Into<String>, role: NodeRole) -> NodeInfo {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        NodeInfo {
            node_id: node_id.into(),
            role,
            tags: Vec::new(),
            http_address: None,
            flight_address: None,
            pg_address: None,
            incarnation: format!("{}-{nanos}", std::process::id()),
        }
    }
}

/// Every node registered now, in id order.
pub fn live_nodes(session: &EtcdSession) -> Result<Vec<NodeInfo>> {
    use tessera_meta::MetaStore;
    let store = crate::EtcdMetaStore::new(session.clone());
    let listed = store
        .list(NODES_PREFIX)
        .map_err(|error| Error::Unavailable {
            operation: "list nodes".into(),
            message: error.to_string(),
        })?;
    listed
        .iter()
        .map(|(key, stored)| {
            serde_json::from_str(&stored.value).map_err(|error| Error::Corrupt {
                key: key.clone(),
                message: error.to_string(),
            })
        })
        .collect()
}

/// A node's live registration; dropping it revokes the lease (a clean leave).
pub struct Registration {
    session: EtcdSession,
    node_id: String,
    status: Arc<RegistrationStatus>,
    keeper: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct RegistrationStatus {
    lease: AtomicU64,
    registered: AtomicBool,
    registrations: AtomicU64,
}

impl Registration {
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Whether the node's key is held by a lease this process keeps alive (false while
    /// etcd is away longer than the TTL, until the node re-registers).
    pub fn is_registered(&self) -> bool {
        self.status.registered.load(Ordering::Acquire)
    }

    /// How many times the node registered (1, plus one per re-registration after a
    /// lost lease). When it grows, keys written with [`Registration::put_leased`] are
    /// gone with the old lease and must be written again.
    pub fn registrations(&self) -> u64 {
        self.status.registrations.load(Ordering::Acquire)
    }

    /// Write `key` under the node's lease: it disappears with the node (what a server
    /// serves, for instance).
    pub fn put_leased(&self, key: &str, value: &str) -> Result<()> {
        let lease = self.status.lease.load(Ordering::Acquire) as i64;
        let full_key = self.session.full_key(key);
        let value = value.to_string();
        self.session
            .call("put a leased key", move |mut client| async move {
                client
                    .put(full_key, value, Some(PutOptions::new().with_lease(lease)))
                    .await
            })?;
        Ok(())
    }

    /// Delete a key written with [`Registration::put_leased`].
    pub fn delete_leased(&self, key: &str) -> Result<()> {
        let full_key = self.session.full_key(key);
        self.session
            .call("delete a leased key", move |mut client| async move {
                client.delete(full_key, None).await
            })?;
        Ok(())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.keeper.abort();
        let lease = self.status.lease.load(Ordering::Acquire) as i64;
        let timeout = self.session.request_timeout();
        let _ = self
            .session
            .wait(revoke_quietly(self.session.client(), lease, timeout));
    }
}

/// Register `info` under a lease of `ttl` and keep it registered until the
/// [`Registration`] is dropped.
pub fn register(session: &EtcdSession, info: &NodeInfo, ttl: Duration) -> Result<Registration> {
    let value = serde_json::to_string(info).map_err(|error| Error::Corrupt {
        key: info.node_id.clone(),
        message: error.to_string(),
    })?;
    let key = session.full_key(&format!("{NODES_PREFIX}{}", info.node_id));
    let status = Arc::new(RegistrationStatus::default());
    let wait_for_previous = Duration::from_secs(lease::ttl_seconds(ttl) as u64 + 2);
    let first = session
        .wait(register_once(
            session.client(),
            key.clone(),
            value.clone(),
            ttl,
            wait_for_previous,
            session.request_timeout(),
        ))
        .ok_or_else(|| Error::Unavailable {
            operation: "register".into(),
            message: "the etcd client runtime stopped".into(),
        })?;
    let lease = match first {
        Ok(lease) => lease,
        Err(RegisterError::Taken(holder)) => {
            return Err(Error::NodeIdTaken {
                node_id: info.node_id.clone(),
                holder,
            });
        }
        Err(RegisterError::Etcd(error)) => return Err(Error::from_etcd("register", error)),
    };
    status.lease.store(lease as u64, Ordering::Release);
    status.registered.store(true, Ordering::Release);
    status.registrations.store(1, Ordering::Release);
    info!(node = %info.node_id, role = ?info.role, "registered in etcd");
    let keeper = session.runtime().spawn(keep_registered(
        session.client(),
        key,
        value,
        ttl,
        lease,
        status.clone(),
        session.request_timeout(),
    ));
    Ok(Registration {
        session: session.clone(),
        node_id: info.node_id.clone(),
        status,
        keeper,
    })
}

enum RegisterError {
    /// Another incarnation holds the key (its value).
    Taken(String),
    Etcd(etcd_client::Error),
}

impl From<etcd_client::Error> for RegisterError {
    fn from(error: etcd_client::Error) -> Self {
        RegisterError::Etcd(error)
    }
}

/// Create the node key under a new lease, waiting up to `wait_for_previous` for a key
/// left by another incarnation to expire. Returns the lease.
async fn register_once(
    mut client: Client,
    key: String,
    value: String,
    ttl: Duration,
    wait_for_previous: Duration,
    request_timeout: Duration,
) -> Result<i64, RegisterError> {
    let deadline = tokio::time::Instant::now() + wait_for_previous;
    let incarnation = serde_json::from_str::<NodeInfo>(&value)
        .map(|info| info.incarnation)
        .unwrap_or_default();
    loop {
        let lease = grant(&mut client, ttl).await?;
        let create = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                value.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else([TxnOp::get(key.clone(), None)]);
        let response = client.txn(create).await?;
        if response.succeeded() {
            return Ok(lease);
        }
        revoke_quietly(client.clone(), lease, request_timeout).await;
        let holder = held_by(&response);
        // Our own key, from before a lost lease: replace it under the new lease.
        if let Some((mod_revision, held_value)) = &holder
            && serde_json::from_str::<NodeInfo>(held_value)
                .is_ok_and(|held| held.incarnation == incarnation)
        {
            let lease = grant(&mut client, ttl).await?;
            let replace = Txn::new()
                .when([Compare::mod_revision(
                    key.clone(),
                    CompareOp::Equal,
                    *mod_revision,
                )])
                .and_then([TxnOp::put(
                    key.clone(),
                    value.clone(),
                    Some(PutOptions::new().with_lease(lease)),
                )]);
            if client.txn(replace).await?.succeeded() {
                return Ok(lease);
            }
            revoke_quietly(client.clone(), lease, request_timeout).await;
            continue;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RegisterError::Taken(
                holder.map(|(_, value)| value).unwrap_or_default(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The holder's `(mod_revision, value)` from the `or_else` read of a failed create.
fn held_by(response: &etcd_client::TxnResponse) -> Option<(i64, String)> {
    response.op_responses().into_iter().find_map(|op| match op {
        etcd_client::TxnOpResponse::Get(get) => get.kvs().first().map(|kv| {
            (
                kv.mod_revision(),
                String::from_utf8_lossy(kv.value()).into_owned(),
            )
        }),
        _ => None,
    })
}

/// Keep the registration alive; after a lost lease, register again (retrying while etcd
/// is away) and keep that one.
async fn keep_registered(
    client: Client,
    key: String,
    value: String,
    ttl: Duration,
    mut lease: i64,
    status: Arc<RegistrationStatus>,
    request_timeout: Duration,
) {
    loop {
        let (expired_sender, _expired) = watch::channel(false);
        keep_alive(client.clone(), lease, ttl, expired_sender).await;
        status.registered.store(false, Ordering::Release);
        revoke_quietly(client.clone(), lease, request_timeout).await;
        loop {
            let attempt = register_once(
                client.clone(),
                key.clone(),
                value.clone(),
                ttl,
                Duration::from_secs(lease::ttl_seconds(ttl) as u64 + 2),
                request_timeout,
            );
            match tokio::time::timeout(request_timeout * 4, attempt).await {
                Ok(Ok(new_lease)) => {
                    lease = new_lease;
                    status.lease.store(lease as u64, Ordering::Release);
                    status.registered.store(true, Ordering::Release);
                    status.registrations.fetch_add(1, Ordering::AcqRel);
                    info!(key = %key, "registered again after a lost lease");
                    break;
                }
                Ok(Err(RegisterError::Taken(holder))) => {
                    warn!(key = %key, holder = %holder, "another node took this node's id; retrying");
                }
                Ok(Err(RegisterError::Etcd(error))) => {
                    warn!(key = %key, %error, "cannot register again yet; retrying");
                }
                Err(_) => warn!(key = %key, "registering again timed out; retrying"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
