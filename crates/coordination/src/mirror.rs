//! [`PrefixMirror`]: a local copy of every key under a prefix, kept current by an etcd
//! watch — how brokers follow the catalog and the node registrations without polling.
//!
//! The mirror reads the prefix in full at a revision, then watches from the next
//! revision. When the watch breaks (etcd away, a network cut) it resumes from the last
//! revision it applied, so no change is missed or applied twice; when etcd has compacted
//! that revision away, it reads the prefix in full again. While etcd is away the mirror
//! keeps serving what it last knew.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, WatchOptions};
use tessera_meta::Versioned;
use tokio::sync::watch;
use tracing::{debug, info};

use crate::{Error, EtcdSession, Result};

/// The mirrored keys (relative to the session's namespace) at a revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirrorSnapshot {
    pub revision: i64,
    pub entries: BTreeMap<String, Versioned>,
}

struct Shared {
    snapshot: RwLock<Arc<MirrorSnapshot>>,
    full_reads: AtomicU64,
    revision: watch::Sender<i64>,
}

impl Shared {
    fn publish(&self, snapshot: MirrorSnapshot) {
        let revision = snapshot.revision;
        *self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(snapshot);
        self.revision.send_replace(revision);
    }

    fn current(&self) -> Arc<MirrorSnapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A watched copy of one key prefix. Dropping it stops the watch.
pub struct PrefixMirror {
    session: EtcdSession,
    shared: Arc<Shared>,
    follower: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PrefixMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixMirror")
            .field("revision", &self.revision())
            .finish_non_exhaustive()
    }
}

impl PrefixMirror {
    /// Read `prefix` in full (an error if etcd does not answer) and follow it.
    pub fn start(session: &EtcdSession, prefix: &str) -> Result<PrefixMirror> {
        let full_prefix = session.full_key(prefix);
        let namespace = session.namespace().to_string();
        let read = read_in_full(
            session.client(),
            full_prefix.clone(),
            namespace.clone(),
            session.request_timeout(),
        );
        let snapshot = match session.wait(read) {
            Some(Ok(snapshot)) => snapshot,
            Some(Err(error)) => return Err(Error::from_etcd("read the prefix", error)),
            None => {
                return Err(Error::Unavailable {
                    operation: "read the prefix".into(),
                    message: "the etcd client runtime stopped".into(),
                });
            }
        };
        let (revision, _) = watch::channel(snapshot.revision);
        let shared = Arc::new(Shared {
            snapshot: RwLock::new(Arc::new(snapshot)),
            full_reads: AtomicU64::new(1),
            revision,
        });
        let follower = session.runtime().spawn(follow(
            session.client(),
            full_prefix,
            namespace,
            shared.clone(),
            session.request_timeout(),
        ));
        Ok(PrefixMirror {
            session: session.clone(),
            shared,
            follower,
        })
    }

    /// The mirrored keys now.
    pub fn snapshot(&self) -> Arc<MirrorSnapshot> {
        self.shared.current()
    }

    /// The etcd revision the mirror reflects.
    pub fn revision(&self) -> i64 {
        *self.shared.revision.borrow()
    }

    /// How many times the prefix was read in full (1 at start, one more per compaction
    /// that outran the watch).
    pub fn full_reads(&self) -> u64 {
        self.shared.full_reads.load(Ordering::Acquire)
    }

    /// A receiver that changes whenever the mirror applies a change (its value is the
    /// revision), for code that reacts to the catalog.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.shared.revision.subscribe()
    }

    /// Block until the mirror reflects `revision` (or later); false after `timeout`.
    pub fn wait_for_revision(&self, revision: i64, timeout: Duration) -> bool {
        let mut receiver = self.subscribe();
        self.session
            .wait(async move {
                tokio::time::timeout(timeout, receiver.wait_for(|seen| *seen >= revision))
                    .await
                    .is_ok()
            })
            .unwrap_or(false)
    }
}

impl Drop for PrefixMirror {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

const PAGE: i64 = 500;

async fn read_in_full(
    mut client: Client,
    full_prefix: String,
    namespace: String,
    timeout: Duration,
) -> Result<MirrorSnapshot, etcd_client::Error> {
    let read = async {
        let mut snapshot = MirrorSnapshot::default();
        let end = crate::etcd_store::prefix_end(full_prefix.as_bytes());
        let mut start = full_prefix.clone().into_bytes();
        loop {
            let options = GetOptions::new()
                .with_range(end.clone())
                .with_limit(PAGE)
                .with_revision(snapshot.revision);
            let response = client.get(start.clone(), Some(options)).await?;
            if snapshot.revision == 0 {
                snapshot.revision = response.header().map_or(0, |header| header.revision());
            }
            for kv in response.kvs() {
                apply_put(&mut snapshot, &namespace, kv);
            }
            match response.kvs().last() {
                Some(last) if response.more() => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => return Ok(snapshot),
            }
        }
    };
    tokio::time::timeout(timeout * 4, read)
        .await
        .map_err(|_| etcd_client::Error::Internal("full read timed out".into()))?
}

fn apply_put(snapshot: &mut MirrorSnapshot, namespace: &str, kv: &etcd_client::KeyValue) {
    let Some(key) = kv
        .key()
        .strip_prefix(namespace.as_bytes())
        .and_then(|key| std::str::from_utf8(key).ok())
    else {
        return;
    };
    let value = String::from_utf8_lossy(kv.value()).into_owned();
    snapshot.entries.insert(
        key.to_string(),
        Versioned {
            value,
            version: kv.mod_revision().max(0) as u64,
        },
    );
}

/// Why following stopped.
enum Break {
    /// The next revision was compacted away: read in full.
    Compacted,
    /// The watch failed or ended: resume from the last revision.
    Disconnected,
}

async fn follow(
    client: Client,
    full_prefix: String,
    namespace: String,
    shared: Arc<Shared>,
    timeout: Duration,
) {
    loop {
        match watch_from(client.clone(), &full_prefix, &namespace, &shared).await {
            Break::Disconnected => tokio::time::sleep(Duration::from_millis(300)).await,
            Break::Compacted => loop {
                let read = read_in_full(
                    client.clone(),
                    full_prefix.clone(),
                    namespace.clone(),
                    timeout,
                );
                match read.await {
                    Ok(snapshot) => {
                        info!(prefix = %full_prefix, revision = snapshot.revision, "the watch was compacted away; read the prefix in full");
                        shared.full_reads.fetch_add(1, Ordering::AcqRel);
                        shared.publish(snapshot);
                        break;
                    }
                    Err(error) => {
                        debug!(%error, "full read failed; retrying");
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
            },
        }
    }
}

async fn watch_from(
    mut client: Client,
    full_prefix: &str,
    namespace: &str,
    shared: &Shared,
) -> Break {
    let start = shared.current().revision + 1;
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(start)
        .with_progress_notify();
    let mut stream = match client.watch(full_prefix, Some(options)).await {
        Ok(stream) => stream,
        Err(error) => {
            debug!(%error, "watch could not start");
            return Break::Disconnected;
        }
    };
    loop {
        let response = match stream.message().await {
            Ok(Some(response)) => response,
            Ok(None) | Err(_) => return Break::Disconnected,
        };
        if response.compact_revision() > 0 {
            return Break::Compacted;
        }
        if response.canceled() {
            return Break::Disconnected;
        }
        // The creation answer carries the store's current revision before the events
        // since our start revision are delivered: it says nothing about our progress.
        if response.created() && response.events().is_empty() {
            continue;
        }
        let mut snapshot = (*shared.current()).clone();
        let before = snapshot.revision;
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            match event.event_type() {
                EventType::Put => apply_put(&mut snapshot, namespace, kv),
                EventType::Delete => {
                    if let Some(key) = kv
                        .key()
                        .strip_prefix(namespace.as_bytes())
                        .and_then(|key| std::str::from_utf8(key).ok())
                    {
                        snapshot.entries.remove(key);
                    }
                }
            }
            snapshot.revision = snapshot.revision.max(kv.mod_revision());
        }
        let header_revision = response.header().map_or(0, |header| header.revision());
        snapshot.revision = snapshot.revision.max(header_revision);
        if snapshot.revision != before || !response.events().is_empty() {
            shared.publish(snapshot);
        }
    }
}
