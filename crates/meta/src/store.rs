//! The transactional key-value interface the catalog is stored in.

use crate::{Error, Result};

/// The most operations (and, separately, conditions) one transaction may hold: etcd's
/// default `--max-txn-ops`, enforced by every store so the catalog behaves the same on
/// each.
pub const MAX_TRANSACTION_OPS: usize = 128;

/// A stored value and its version (bumped on every write of the key; never 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: String,
    pub version: u64,
}

/// A precondition of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The key does not exist.
    Absent(String),
    /// The key exists with exactly this version.
    Version(String, u64),
}

/// A write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put(String, String),
    Delete(String),
    /// Delete every key starting with the prefix: one operation however many keys match
    /// (etcd caps a transaction at 128 operations by default, and a table can have
    /// thousands of segments).
    DeletePrefix(String),
}

/// Writes applied together iff every condition holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    pub conditions: Vec<Condition>,
    pub ops: Vec<Op>,
}

impl Transaction {
    pub fn new() -> Transaction {
        Transaction::default()
    }

    pub fn when(mut self, condition: Condition) -> Transaction {
        self.conditions.push(condition);
        self
    }

    pub fn put(mut self, key: impl Into<String>, value: impl Into<String>) -> Transaction {
        self.ops.push(Op::Put(key.into(), value.into()));
        self
    }

    pub fn delete(mut self, key: impl Into<String>) -> Transaction {
        self.ops.push(Op::Delete(key.into()));
        self
    }

    pub fn delete_prefix(mut self, prefix: impl Into<String>) -> Transaction {
        self.ops.push(Op::DeletePrefix(prefix.into()));
        self
    }

    /// What every store refuses before looking at its data (etcd's rules): more than
    /// [`MAX_TRANSACTION_OPS`] operations or conditions, a key put twice, a key both put
    /// and deleted. Overlapping deletes are fine.
    pub fn validate(&self) -> Result<()> {
        if self.ops.len() > MAX_TRANSACTION_OPS || self.conditions.len() > MAX_TRANSACTION_OPS {
            return Err(Error::InvalidTransaction(format!(
                "a transaction holds at most {MAX_TRANSACTION_OPS} operations and conditions: \
                 operations={} conditions={}",
                self.ops.len(),
                self.conditions.len()
            )));
        }
        let mut put_keys = std::collections::BTreeSet::new();
        for op in &self.ops {
            if let Op::Put(key, _) = op
                && !put_keys.insert(key.as_str())
            {
                return Err(Error::InvalidTransaction(format!(
                    "a transaction puts a key twice: key=`{key}`"
                )));
            }
        }
        for op in &self.ops {
            let deleted = |key: &str| match op {
                Op::Delete(deleted) => deleted == key,
                Op::DeletePrefix(prefix) => key.starts_with(prefix.as_str()),
                Op::Put(..) => false,
            };
            if let Some(key) = put_keys.iter().find(|key| deleted(key)) {
                return Err(Error::InvalidTransaction(format!(
                    "a transaction both puts and deletes a key: key=`{key}`"
                )));
            }
        }
        Ok(())
    }
}

/// Durable, transactional key-value storage (etcd's model): the catalog's only
/// dependency on where it lives. Every implementation passes
/// [`crate::conformance::check_meta_store`].
///
/// Versions are store-wide revisions (etcd's `mod_revision`): a write gives each key it
/// puts a version greater than every version handed out before, so a version is never 0
/// and never repeats, also across a delete and re-create of the key.
pub trait MetaStore: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Versioned>>;
    /// Every key starting with `prefix`, in key order.
    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>>;
    /// Apply `transaction` atomically and durably; [`crate::Error::Conflict`] when a
    /// condition fails (then nothing is written).
    fn commit(&self, transaction: Transaction) -> Result<()>;
}
