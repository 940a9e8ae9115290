//! The transactional key-value interface the catalog is stored in.

use crate::Result;

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
}

/// Durable, transactional key-value storage (etcd's model): the catalog's only
/// dependency on where it lives.
pub trait MetaStore: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Versioned>>;
    /// Every key starting with `prefix`, in key order.
    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>>;
    /// Apply `transaction` atomically and durably; [`crate::Error::Conflict`] when a
    /// condition fails (then nothing is written).
    fn commit(&self, transaction: Transaction) -> Result<()>;
}
