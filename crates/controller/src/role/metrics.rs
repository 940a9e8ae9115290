//! The controller's own `/metrics` families: leadership, assignment and retention.

use std::sync::atomic::AtomicU64;

use tessera_api::prometheus::Families;
use tessera_api::prometheus::load as read;

/// A controller's leadership and assignment counters.
#[derive(Debug, Default)]
pub struct ControllerMetrics {
    /// Times this controller became the leader.
    pub leader_changes: AtomicU64,
    /// Assignment keys written (replicas added, moved or removed).
    pub assignment_writes: AtomicU64,
    pub assignment_rounds: AtomicU64,
    /// Segments moved to the trash by retention.
    pub segments_trashed: AtomicU64,
}

impl ControllerMetrics {
    pub fn render(&self, f: &mut Families, leads: bool) {
        for (name, kind, help, value) in [
            (
                "tessera_controller_is_leader",
                "gauge",
                "1 while this controller leads",
                u64::from(leads),
            ),
            (
                "tessera_controller_leader_changes_total",
                "counter",
                "Times this controller became the leader",
                read(&self.leader_changes),
            ),
            (
                "tessera_controller_assignment_writes_total",
                "counter",
                "Segment assignment entries written (moves)",
                read(&self.assignment_writes),
            ),
            (
                "tessera_controller_assignment_rounds_total",
                "counter",
                "Assignment rounds run as leader",
                read(&self.assignment_rounds),
            ),
            (
                "tessera_controller_segments_trashed_total",
                "counter",
                "Segments past their table's retention moved to the trash",
                read(&self.segments_trashed),
            ),
        ] {
            f.family(name, kind, help);
            f.sample(name, &[], value);
        }
    }
}
