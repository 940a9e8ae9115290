//! [`FencedMetaStore`]: every write of a leader checked against its term.
//!
//! A controller that won an election holds the leader key at a version (its term). A
//! paused process or one whose lease expired may still believe it leads; fencing makes
//! that harmless: each of its transactions also requires the leader key to be at the
//! term's version, so once another node has taken the key, every write of the deposed
//! leader fails as a whole with [`Error::Fenced`] — it can never interleave with the new
//! leader's writes.

use std::sync::Arc;

use crate::store::{Condition, MetaStore, Transaction, Versioned};
use crate::{Error, Result};

/// A [`MetaStore`] whose commits hold only while `leader_key` is at `term`.
#[derive(Clone)]
pub struct FencedMetaStore {
    inner: Arc<dyn MetaStore>,
    leader_key: String,
    term: u64,
}

impl std::fmt::Debug for FencedMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FencedMetaStore")
            .field("leader_key", &self.leader_key)
            .field("term", &self.term)
            .finish_non_exhaustive()
    }
}

impl FencedMetaStore {
    /// Fence `inner` with the leadership recorded in `leader_key` at version `term`.
    pub fn new(inner: Arc<dyn MetaStore>, leader_key: impl Into<String>, term: u64) -> Self {
        FencedMetaStore {
            inner,
            leader_key: leader_key.into(),
            term,
        }
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    /// Whether the leader key still holds this term (a read: another node may take it
    /// the next instant; only the fence on each write is a guarantee).
    pub fn still_leads(&self) -> Result<bool> {
        Ok(self
            .inner
            .get(&self.leader_key)?
            .is_some_and(|leader| leader.version == self.term))
    }
}

impl MetaStore for FencedMetaStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>> {
        self.inner.get(key)
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>> {
        self.inner.list(prefix)
    }

    fn commit(&self, mut transaction: Transaction) -> Result<()> {
        transaction
            .conditions
            .push(Condition::Version(self.leader_key.clone(), self.term));
        match self.inner.commit(transaction) {
            Err(Error::Conflict(message)) if !self.still_leads()? => Err(Error::Fenced(format!(
                "leadership term {} is over; the write was refused ({message}): key=`{}`",
                self.term, self.leader_key
            ))),
            outcome => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileMetaStore;

    #[test]
    fn test_deposed_leader_cannot_write() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            context: "tempdir".into(),
            source,
        })?;
        let store: Arc<dyn MetaStore> = Arc::new(FileMetaStore::open(dir.path())?);
        store.commit(Transaction::new().put("leader", "a"))?;
        let term_a = store.get("leader")?.map_or(0, |v| v.version);
        let leader_a = FencedMetaStore::new(store.clone(), "leader", term_a);
        leader_a.commit(Transaction::new().put("tables/t", "by a"))?;
        // b takes over (a's lease expired while it was paused).
        store.commit(Transaction::new().put("leader", "b"))?;
        let term_b = store.get("leader")?.map_or(0, |v| v.version);
        let leader_b = FencedMetaStore::new(store.clone(), "leader", term_b);
        let refused = leader_a.commit(Transaction::new().put("tables/t", "late write by a"));
        assert!(matches!(refused, Err(Error::Fenced(_))), "{refused:?}");
        assert!(!leader_a.still_leads()?);
        leader_b.commit(Transaction::new().put("tables/t", "by b"))?;
        assert_eq!(
            store.get("tables/t")?.map(|v| v.value).as_deref(),
            Some("by b")
        );
        // A conflict of the leader's own conditions stays a conflict.
        let own = leader_b.commit(
            Transaction::new()
                .when(Condition::Absent("tables/t".into()))
                .put("tables/t", "again"),
        );
        assert!(matches!(own, Err(Error::Conflict(_))), "{own:?}");
        Ok(())
    }
}
