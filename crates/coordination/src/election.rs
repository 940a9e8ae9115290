//! Controller leader election, with fencing.
//!
//! Candidates race to create `controller/leader` under their own lease; the winner's
//! term is the key's `mod_revision`. Standbys watch the key and race again when it is
//! deleted (the leader resigned, or its lease expired after a crash). etcd's own
//! election API is not used: its campaign does not give up when its lease expires.
//!
//! A leader may not know it was deposed (a paused process, a lost lease): every catalog
//! write it makes goes through [`Leadership::fenced`], which makes the write conditional
//! on the leader key still being at its term, so a deposed leader can never write.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use serde::{Deserialize, Serialize};
use tessera_meta::{FencedMetaStore, MetaStore};
use tokio::sync::watch;
use tracing::{debug, info};

use crate::lease::{grant, keep_alive, revoke_quietly};
use crate::{Error, EtcdSession, Result};

/// The key the controller leader holds.
pub const LEADER_KEY: &str = "controller/leader";

/// The value of the leader key: who leads, and where its HTTP API is (brokers forward
/// admin calls there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderRecord {
    pub node_id: String,
    #[serde(default)]
    pub http_address: Option<String>,
}

/// The current leader and its term, if any.
pub fn current_leader(session: &EtcdSession) -> Result<Option<(LeaderRecord, u64)>> {
    let store = crate::EtcdMetaStore::new(session.clone());
    let stored = store.get(LEADER_KEY).map_err(|error| Error::Unavailable {
        operation: "read the leader".into(),
        message: error.to_string(),
    })?;
    stored
        .map(|stored| {
            serde_json::from_str(&stored.value)
                .map(|record| (record, stored.version))
                .map_err(|error| Error::Corrupt {
                    key: LEADER_KEY.into(),
                    message: error.to_string(),
                })
        })
        .transpose()
}

/// One controller's candidacy.
#[derive(Debug, Clone)]
pub struct Candidate {
    session: EtcdSession,
    record: LeaderRecord,
    ttl: Duration,
}

impl Candidate {
    /// A candidate whose leadership lasts `ttl` past its last lease refresh (the time a
    /// standby waits after the leader dies).
    pub fn new(session: EtcdSession, record: LeaderRecord, ttl: Duration) -> Candidate {
        Candidate {
            session,
            record,
            ttl,
        }
    }

    /// Block until this candidate leads, or until `give_up_after` passes
    /// ([`Error::NotElected`]). etcd outages are waited out, not returned.
    pub fn campaign(&self, give_up_after: Option<Duration>) -> Result<Leadership> {
        let value = serde_json::to_string(&self.record).map_err(|error| Error::Corrupt {
            key: LEADER_KEY.into(),
            message: error.to_string(),
        })?;
        let key = self.session.full_key(LEADER_KEY);
        let campaign = race_until_elected(
            self.session.client(),
            key,
            value,
            self.ttl,
            self.session.request_timeout(),
        );
        let outcome = match give_up_after {
            Some(limit) => self
                .session
                .wait(async move { tokio::time::timeout(limit, campaign).await.ok() }),
            None => self.session.wait(async move { Some(campaign.await) }),
        };
        let Some(Some((term, lease))) = outcome else {
            return Err(Error::NotElected(give_up_after.unwrap_or_default()));
        };
        info!(node = %self.record.node_id, term, "elected controller leader");
        let (lost_sender, lost) = watch::channel(false);
        let keeper = self.session.runtime().spawn(keep_alive(
            self.session.client(),
            lease,
            self.ttl,
            lost_sender,
        ));
        Ok(Leadership {
            session: self.session.clone(),
            node_id: self.record.node_id.clone(),
            term,
            lease,
            lost,
            keeper,
        })
    }
}

/// Race for the leader key until won; returns `(term, lease)`.
async fn race_until_elected(
    mut client: Client,
    key: String,
    value: String,
    ttl: Duration,
    request_timeout: Duration,
) -> (u64, i64) {
    loop {
        match try_once(&mut client, &key, &value, ttl, request_timeout).await {
            Ok(Attempt::Won { term, lease }) => return (term, lease),
            Ok(Attempt::Held { mod_revision }) => {
                wait_for_delete(&mut client, &key, mod_revision).await;
            }
            Err(error) => {
                debug!(%error, "campaign attempt failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

enum Attempt {
    Won { term: u64, lease: i64 },
    Held { mod_revision: i64 },
}

async fn try_once(
    client: &mut Client,
    key: &str,
    value: &str,
    ttl: Duration,
    request_timeout: Duration,
) -> Result<Attempt, etcd_client::Error> {
    let lease = grant(client, ttl).await?;
    let create = Txn::new()
        .when([Compare::create_revision(key, CompareOp::Equal, 0)])
        .and_then([TxnOp::put(
            key,
            value,
            Some(PutOptions::new().with_lease(lease)),
        )])
        .or_else([TxnOp::get(key, None)]);
    let response = match tokio::time::timeout(request_timeout, client.txn(create)).await {
        Ok(response) => response?,
        Err(_) => {
            revoke_quietly(client.clone(), lease, request_timeout).await;
            return Err(etcd_client::Error::Internal(
                "campaign transaction timed out".into(),
            ));
        }
    };
    if response.succeeded() {
        let term = response.header().map_or(0, |header| header.revision());
        return Ok(Attempt::Won {
            term: term.max(0) as u64,
            lease,
        });
    }
    let held = response.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => get
            .kvs()
            .first()
            .map(|kv| (kv.mod_revision(), kv.value().to_vec())),
        _ => None,
    });
    // Deleted between our compare and read: race again at once.
    let Some((mod_revision, holder)) = held else {
        revoke_quietly(client.clone(), lease, request_timeout).await;
        return Ok(Attempt::Held { mod_revision: 0 });
    };
    // Our own key from a term we already gave up (our lease was judged lost while etcd
    // was away, and etcd kept it on its return): node ids are unique among live nodes,
    // so it is ours to take back, under the new lease and so a new term.
    if holder == value.as_bytes() {
        let reclaim = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, mod_revision)])
            .and_then([TxnOp::put(
                key,
                value,
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let response = client.txn(reclaim).await?;
        if response.succeeded() {
            let term = response.header().map_or(0, |header| header.revision());
            return Ok(Attempt::Won {
                term: term.max(0) as u64,
                lease,
            });
        }
    }
    revoke_quietly(client.clone(), lease, request_timeout).await;
    Ok(Attempt::Held { mod_revision })
}

/// Return when the leader key written at `mod_revision` is deleted (or when the watch
/// fails, so the caller re-checks).
async fn wait_for_delete(client: &mut Client, key: &str, mod_revision: i64) {
    if mod_revision == 0 {
        return;
    }
    let options = WatchOptions::new().with_start_revision(mod_revision + 1);
    let Ok(mut stream) = client.watch(key, Some(options)).await else {
        tokio::time::sleep(Duration::from_millis(500)).await;
        return;
    };
    loop {
        match stream.message().await {
            Ok(Some(response)) => {
                if response.canceled()
                    || response
                        .events()
                        .iter()
                        .any(|event| event.event_type() == EventType::Delete)
                {
                    return;
                }
            }
            Ok(None) | Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return;
            }
        }
    }
}

/// This node leads, for term [`Leadership::term`], until [`Leadership::is_lost`].
/// Dropping it resigns (the lease is revoked, so a standby takes over at once).
pub struct Leadership {
    session: EtcdSession,
    node_id: String,
    term: u64,
    lease: i64,
    lost: watch::Receiver<bool>,
    keeper: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("node_id", &self.node_id)
            .field("term", &self.term)
            .finish_non_exhaustive()
    }
}

impl Leadership {
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Whether this node must stop acting as leader (its lease was not confirmed for a
    /// whole TTL). Writes are fenced regardless.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Block until the leadership is lost or `timeout` passes; true when lost.
    pub fn wait_lost(&self, timeout: Duration) -> bool {
        let mut lost = self.lost.clone();
        self.session
            .wait(async move {
                tokio::time::timeout(timeout, lost.wait_for(|lost| *lost))
                    .await
                    .is_ok()
            })
            .unwrap_or(true)
    }

    /// `store` with every write fenced by this term.
    pub fn fenced(&self, store: Arc<dyn MetaStore>) -> FencedMetaStore {
        FencedMetaStore::new(store, LEADER_KEY, self.term)
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.keeper.abort();
        let timeout = self.session.request_timeout();
        let _ = self
            .session
            .wait(revoke_quietly(self.session.client(), self.lease, timeout));
    }
}
