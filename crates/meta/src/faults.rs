//! [`FaultyMetaStore`]: a [`MetaStore`] that fails on cue, for deterministic tests of
//! the protocols built on the catalog (the segment commit, assignment, handoff): each
//! call asks a cue what to do, so a test can fail the n-th call — before it reaches
//! the store, or after it applied (the caller sees an error for a write that
//! happened: a lost reply) — and then every later call (the process is dead).

use std::sync::Arc;

use crate::store::{MetaStore, Transaction, Versioned};
use crate::{Error, Result};

/// What a call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Reach the store as usual.
    Pass,
    /// Fail without reaching the store.
    Before,
    /// Apply, then fail as if the reply was lost.
    After,
}

/// Asked once per call with its description (`get KEY`, `list PREFIX`, `commit`).
pub type Cue = Arc<dyn Fn(&str) -> Fault + Send + Sync>;

pub struct FaultyMetaStore {
    inner: Arc<dyn MetaStore>,
    cue: Cue,
}

impl FaultyMetaStore {
    pub fn new(inner: Arc<dyn MetaStore>, cue: Cue) -> FaultyMetaStore {
        FaultyMetaStore { inner, cue }
    }

    fn injected(call: &str) -> Error {
        Error::Unavailable(format!("injected fault: {call}"))
    }

    fn run<T>(&self, call: String, apply: impl FnOnce() -> Result<T>) -> Result<T> {
        match (self.cue)(&call) {
            Fault::Pass => apply(),
            Fault::Before => Err(Self::injected(&call)),
            Fault::After => {
                apply()?;
                Err(Self::injected(&call))
            }
        }
    }
}

impl MetaStore for FaultyMetaStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>> {
        self.run(format!("get {key}"), || self.inner.get(key))
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>> {
        self.run(format!("list {prefix}"), || self.inner.list(prefix))
    }

    fn commit(&self, transaction: Transaction) -> Result<()> {
        self.run("commit".to_string(), || self.inner.commit(transaction))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::FileMetaStore;

    #[test]
    fn test_faults_come_on_cue() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            context: "tempdir".into(),
            source,
        })?;
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let cue: Cue = Arc::new(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
            1 => Fault::Before,
            2 => Fault::After,
            _ => Fault::Pass,
        });
        let inner: Arc<dyn MetaStore> = Arc::new(FileMetaStore::open(dir.path())?);
        let store = FaultyMetaStore::new(inner.clone(), cue);
        store.commit(Transaction::new().put("a", "1"))?;
        assert!(matches!(
            store.commit(Transaction::new().put("b", "1")),
            Err(Error::Unavailable(_))
        ));
        assert!(inner.get("b")?.is_none(), "failed before: not applied");
        assert!(matches!(
            store.commit(Transaction::new().put("c", "1")),
            Err(Error::Unavailable(_))
        ));
        assert!(inner.get("c")?.is_some(), "failed after: applied");
        assert_eq!(store.list("")?.len(), 2);
        Ok(())
    }
}
