//! Retention (`segmentsConfig.retentionTimeUnit`/`retentionTimeValue`): which sealed
//! segments a table no longer keeps, and which trashed ones are gone for good.

/// The segments, given as (name, newest row's time in epoch milliseconds), whose newest
/// row is older than `now_ms - retention_ms`. A segment without a known time (no time
/// column, or one whose format is not epoch-based) never expires.
pub fn expired<'a>(
    segments: impl IntoIterator<Item = (&'a str, Option<i64>)>,
    retention_ms: i64,
    now_ms: i64,
) -> Vec<&'a str> {
    let cutoff = now_ms.saturating_sub(retention_ms);
    segments
        .into_iter()
        .filter(|(_, end_ms)| end_ms.is_some_and(|end| end < cutoff))
        .map(|(name, _)| name)
        .collect()
}

/// Whether something trashed at `trashed_ms` has outlived the trash retention.
pub fn purgeable(trashed_ms: i64, trash_retention_ms: i64, now_ms: i64) -> bool {
    now_ms.saturating_sub(trashed_ms) >= trash_retention_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_only_segments_wholly_older_than_the_retention_expire() {
        let day = 86_400_000;
        let now = 100 * day;
        let segments = [
            ("old", Some(now - 31 * day)),
            ("edge", Some(now - 30 * day)),
            ("young", Some(now - day)),
            ("unknown", None),
        ];
        assert_eq!(expired(segments, 30 * day, now), ["old"]);
        assert!(expired(segments, i64::MAX, now).is_empty());
        assert!(purgeable(now - 7 * day, 7 * day, now));
        assert!(!purgeable(now - 7 * day + 1, 7 * day, now));
    }
}
