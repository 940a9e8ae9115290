//! Pinot's consuming-segments report (`GET /tables/{t}/consumingSegmentsInfo`): per
//! consuming segment, its partition's position, the upstream log end, and the lag in
//! offsets and milliseconds — as one process (standalone, or one realtime server of a
//! cluster, whose controller merges its servers' reports) sees its segments.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use tessera_ingest::consuming::MutableSegment;
use tessera_ingest::realtime::{PartitionStatus, SegmentSet, ServedSegment};

/// Consuming segment name → `[the report of server]`.
pub fn consuming_segments(
    segments: &SegmentSet,
    status: &BTreeMap<u32, PartitionStatus>,
    server: &str,
    now_ms: i64,
) -> serde_json::Map<String, Json> {
    // The newest consuming segment of each partition: where consumption stands (an
    // older one still listed is being sealed).
    let mut newest: BTreeMap<u32, Arc<MutableSegment>> = BTreeMap::new();
    for served in segments.list() {
        if let ServedSegment::Consuming(segment) = served {
            let partition = segment.identity().partition;
            let newer = newest
                .get(&partition)
                .is_none_or(|s| s.identity().start_offset <= segment.identity().start_offset);
            if newer {
                newest.insert(partition, segment);
            }
        }
    }
    let mut report = serde_json::Map::new();
    for (partition, segment) in newest {
        let key = partition.to_string();
        let current = status.get(&partition).copied().unwrap_or_default();
        let position = segment.end_offset();
        let log_end = current.log_end_offset;
        let lag = log_end.map(|end| end.saturating_sub(position));
        report.insert(
            segment.name().to_string(),
            json!([{
                "serverName": server,
                "consumerState": if current.paused { "NOT_CONSUMING" } else { "CONSUMING" },
                "lastConsumedTimestamp": current.last_message_ms.unwrap_or(-1),
                "partitionToOffsetMap": {key.clone(): position.to_string()},
                "partitionOffsetInfo": {
                    "currentOffsetsMap": {key.clone(): position.to_string()},
                    "latestUpstreamOffsetMap": {key.clone(): log_end.map(|e| e.to_string())},
                    "recordsLagMap": {key.clone(): lag.map(|l| l.to_string())},
                    "availabilityLagMsMap": {key: current.lag_millis(now_ms).to_string()},
                },
            }]),
        );
    }
    report
}
