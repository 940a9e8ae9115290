//! Deep-store operation counters for `/metrics`: every object-store call counted by
//! operation, failures by operation.

use std::sync::atomic::{AtomicU64, Ordering};

/// The object-store operations a deep store issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Put,
    Get,
    List,
    Delete,
    Rename,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::Put,
        Operation::Get,
        Operation::List,
        Operation::Delete,
        Operation::Rename,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Put => "put",
            Operation::Get => "get",
            Operation::List => "list",
            Operation::Delete => "delete",
            Operation::Rename => "rename",
        }
    }
}

#[derive(Debug, Default)]
pub struct StoreMetrics {
    calls: [AtomicU64; 5],
    errors: [AtomicU64; 5],
}

impl StoreMetrics {
    pub fn record(&self, operation: Operation, ok: bool) {
        self.calls[operation as usize].fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors[operation as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(calls, errors)` of one operation so far.
    pub fn totals(&self, operation: Operation) -> (u64, u64) {
        (
            self.calls[operation as usize].load(Ordering::Relaxed),
            self.errors[operation as usize].load(Ordering::Relaxed),
        )
    }
}
