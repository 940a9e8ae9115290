//! Cancelling a query that is running: a flag every segment scan checks with its
//! deadline (between row blocks), set by whoever stands for the client — a guard the
//! HTTP handler holds (dropped when the client disconnects), the PostgreSQL wire's
//! cancel request, a broker dropping its Flight call to a server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A query's cancel flag; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Ask the query to stop: its scans return [`crate::QueryError::cancelled`] at their
    /// next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels the query when dropped before [`CancelOnDrop::disarm`]:
    /// held by the future that waits for the query, so a client that goes away (and
    /// takes the future with it) stops the work it asked for.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop {
            cancel: Some(self.clone()),
        }
    }
}

/// Two options are equal whatever their flags: a flag is how a query is stopped, not
/// what it asks.
impl PartialEq for Cancel {
    fn eq(&self, _other: &Cancel) -> bool {
        true
    }
}

/// See [`Cancel::on_drop`].
#[derive(Debug)]
pub struct CancelOnDrop {
    cancel: Option<Cancel>,
}

impl CancelOnDrop {
    /// The query finished: dropping the guard no longer cancels it.
    pub fn disarm(mut self) {
        self.cancel = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_dropped_guard_cancels_and_a_disarmed_one_does_not() {
        let cancel = Cancel::new();
        cancel.on_drop().disarm();
        assert!(!cancel.is_cancelled());
        let clone = cancel.clone();
        drop(cancel.on_drop());
        assert!(clone.is_cancelled());
    }
}
