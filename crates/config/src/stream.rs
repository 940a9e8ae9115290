//! What a stream's configs decide outside the consumer, for every role that reads
//! them: whether a table takes pushes, which partition a push goes to, and the
//! durations and sizes written in stream and node configs.

use std::collections::BTreeMap;
use std::time::Duration;

/// Whether stream configs name a push stream (`streamType` push).
pub fn is_push_stream(configs: &BTreeMap<String, String>) -> bool {
    configs.get("streamType").map(String::as_str) == Some("push")
}

/// The partition a push goes to: a keyed request's is fixed by its key (a retry lands
/// where the first attempt did), others take turns.
pub fn push_partition(idempotency_key: Option<&str>, partitions: usize, turn: usize) -> usize {
    let partitions = partitions.max(1);
    match idempotency_key {
        Some(key) => (crc32fast::hash(key.as_bytes()) as usize) % partitions,
        None => turn % partitions,
    }
}

/// `6h`, `10m`, `30s`, `500ms`, `2d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let millis = match unit.trim().to_ascii_lowercase().as_str() {
        "ms" => number,
        "s" | "" => number.checked_mul(1000)?,
        "m" => number.checked_mul(60_000)?,
        "h" => number.checked_mul(3_600_000)?,
        "d" => number.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(millis))
}

/// `100M`, `1.5G`, `200MB`, `4096`.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_uppercase().trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_keyed_push_always_lands_on_one_partition_and_unkeyed_ones_take_turns() {
        let first = push_partition(Some("batch-7"), 4, 0);
        assert_eq!(push_partition(Some("batch-7"), 4, 3), first);
        assert!(first < 4);
        let turns: Vec<usize> = (0..5).map(|turn| push_partition(None, 4, turn)).collect();
        assert_eq!(turns, vec![0, 1, 2, 3, 0]);
        assert_eq!(push_partition(None, 0, 9), 0, "no partitions reads as one");
    }

    #[test]
    fn test_durations_and_sizes_parse_with_their_units() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("ten"), None);
        assert_eq!(parse_bytes("200M"), Some(200 << 20));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("3X"), None);
    }
}
