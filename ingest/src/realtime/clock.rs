//! The time a realtime table reads: when a consuming segment was created (its name and
//! catalog record), when it has been open long enough to seal
//! (`realtime.segment.flush.threshold.time`), when a partition caught up. The wall
//! clock in a server; in tests a clock moved by hand, so a seal by age happens at a
//! step the test names rather than after a sleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// A cheap handle on a clock; clones read the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock.
    manual: Option<Arc<AtomicI64>>,
}

/// When the process first read the monotonic clock: the origin of
/// [`Clock::monotonic`] for the system clock.
fn process_origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

impl Clock {
    /// The system clock: wall time for timestamps, a monotonic clock for ages.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock standing at `start_ms` (milliseconds since the Unix epoch) until
    /// [`Clock::advance`] moves it; its wall and monotonic readings move together.
    pub fn manual(start_ms: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start_ms))),
        }
    }

    /// Move a manual clock forward; no effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(now) = &self.manual {
            let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            now.fetch_add(millis, Ordering::SeqCst);
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(now) => now.load(Ordering::SeqCst),
            None => tessera_segment::now_ms(),
        }
    }

    /// A reading that never goes back (for ages and deadlines): since the process's
    /// origin for the system clock, the manual time for a manual one.
    pub fn monotonic(&self) -> Duration {
        match &self.manual {
            Some(now) => {
                Duration::from_millis(u64::try_from(now.load(Ordering::SeqCst)).unwrap_or(0))
            }
            None => process_origin().elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_manual_clock_moves_only_when_advanced_and_its_clones_follow() {
        let clock = Clock::manual(1_000);
        let clone = clock.clone();
        let before = clock.monotonic();
        assert_eq!(clock.now_ms(), 1_000);
        clone.advance(Duration::from_secs(3_600));
        assert_eq!(clock.now_ms(), 3_601_000);
        assert_eq!(clock.monotonic() - before, Duration::from_secs(3_600));
    }

    #[test]
    fn test_the_system_clock_reads_the_wall_and_never_goes_back() {
        let clock = Clock::system();
        let first = clock.monotonic();
        assert!(clock.now_ms() > 1_700_000_000_000);
        clock.advance(Duration::from_secs(3_600));
        assert!(clock.monotonic() >= first);
        assert!(clock.monotonic() < first + Duration::from_secs(3_600));
    }
}
