//! The REALTIME tables a cluster server consumes: the controller names one realtime
//! server per stream partition (`consumers/{table}/{partition}`); that server runs the
//! partitions with the same `RealtimeTable` as standalone, limited to its partitions —
//! consuming segments queryable at once, sealed and committed through the etcd catalog
//! (the commit's compare-and-set keeps it exactly once across a takeover) — and serves
//! its consuming and not yet handed-off sealed segments. A partition moved away is
//! released: its rows sealed and committed before another server starts it. A sealed
//! segment is handed off when a historical server serves it: then this server drops
//! its copy, so each segment is served by one holder per query.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_coordination::MirrorSnapshot;
use tessera_ingest::realtime::{RealtimeContext, RealtimeTable, SegmentSet, ServedSegment};
use tessera_meta::TableRecord;
use tessera_query::planner::TableSchema;
use tessera_segment::SegmentReader;
use tracing::{info, warn};

use tessera_api::catalog_tables::{parse_table, schema_json};
use tessera_api::keys::partition_and_sequence;

/// One consumed table.
pub struct ConsumedTable {
    pub schema: TableSchema,
    pub table: RealtimeTable,
    pub segments: Arc<SegmentSet>,
    /// Sealed segments this server dropped after a historical server took them.
    handed_off: Mutex<BTreeSet<String>>,
    /// Sealed segments a historical server serves, and since when this server knows.
    taken_since: Mutex<BTreeMap<String, Instant>>,
    /// Sealed segments this server has seen committed in its catalog mirror: one that
    /// leaves the catalog later (retention trashed it) is dropped here too.
    seen_in_catalog: Mutex<BTreeSet<String>>,
}

/// How long a sealed segment is still answered here after a historical server serves
/// it (no longer published meanwhile): brokers' views of who serves what arrive a
/// little after this server's, and a broker that still routes the segment here must
/// find it (either copy answers exactly; the broker asks one of them per query).
const HANDOFF_GRACE: Duration = Duration::from_secs(2);

impl ConsumedTable {
    /// Whether `segment`, which this server does not hold, can only be a consuming
    /// segment with no row yet: one of its partitions at or past the sequence it
    /// consumes now (brokers learn of a consuming segment from the catalog; here it
    /// exists before its catalog record, and holds rows once it has any). An older one
    /// — sealed by an earlier consumer, or handed off from here — is not answerable
    /// here, and saying so makes the broker ask elsewhere or flag the answer partial.
    pub fn is_empty_consuming(&self, segment: &str) -> bool {
        if self
            .handed_off
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(segment)
        {
            return false;
        }
        let Some((partition, sequence)) = partition_and_sequence(segment) else {
            return false;
        };
        self.segments.list().iter().any(|held| {
            matches!(held, ServedSegment::Consuming(_))
                && partition_and_sequence(held.name())
                    .is_some_and(|(p, s)| p == partition && sequence >= s)
        })
    }

    /// The consuming segments with rows, by name, as snapshots of now.
    pub fn consuming_readers(&self) -> Vec<(String, Arc<dyn SegmentReader>)> {
        self.segments
            .list()
            .into_iter()
            .filter_map(|segment| match segment {
                ServedSegment::Consuming(consuming) => {
                    let snapshot = consuming.snapshot();
                    (snapshot.num_docs() > 0).then(|| {
                        (
                            consuming.name().to_string(),
                            snapshot as Arc<dyn SegmentReader>,
                        )
                    })
                }
                ServedSegment::Sealed(_) => None,
            })
            .collect()
    }

    /// The served segments by name: consuming ones as a snapshot of now, leaving out
    /// those with no row yet (as standalone's `SegmentSet::readers` does: the engine
    /// does not take empty consuming snapshots; the caller answers them as empty).
    pub fn readers(&self) -> BTreeMap<String, Arc<dyn SegmentReader>> {
        self.segments
            .list()
            .into_iter()
            .filter_map(|segment| {
                let name = segment.name().to_string();
                let reader: Arc<dyn SegmentReader> = match segment {
                    ServedSegment::Consuming(consuming) => {
                        let snapshot = consuming.snapshot();
                        if snapshot.num_docs() == 0 {
                            return None;
                        }
                        snapshot
                    }
                    ServedSegment::Sealed(sealed) => sealed,
                };
                Some((name, reader))
            })
            .collect()
    }

    /// Drop the sealed segments that left the catalog after this server saw them there
    /// (retention moved them to the trash); brokers route only catalog segments.
    fn drop_trashed(&self, table: &str, catalog: &MirrorSnapshot) {
        let mut seen = self
            .seen_in_catalog
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for segment in self.segments.list() {
            if !matches!(segment, ServedSegment::Sealed(_)) {
                continue;
            }
            let name = segment.name();
            if catalog
                .entries
                .contains_key(&format!("segments/{table}/{name}"))
            {
                seen.insert(name.to_string());
            } else if seen.remove(name) && self.segments.remove(name) {
                info!(
                    table,
                    segment = name,
                    "the segment left the catalog (retention); dropped"
                );
            }
        }
    }

    /// How fresh the consuming segments are: every row produced before this instant is
    /// in them (the largest lag of the table's partitions).
    pub fn freshness_ms(&self) -> i64 {
        let now = tessera_ingest::realtime::now_ms();
        self.table
            .partition_status()
            .values()
            .map(|status| now - status.lag_millis(now))
            .min()
            .unwrap_or(now)
    }
}

/// The tables this server consumes, by name.
#[derive(Default)]
pub struct ConsumedTables {
    tables: Mutex<BTreeMap<String, Arc<ConsumedTable>>>,
}

impl ConsumedTables {
    /// Pause or resume each consumed table as `paused/` says.
    pub fn follow_pauses(&self, paused: &BTreeSet<String>) {
        let tables = self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, consumed) in tables.iter() {
            let wanted = paused.contains(name);
            if consumed.table.is_paused() != wanted {
                match consumed.table.set_paused(wanted) {
                    Ok(()) => {
                        info!(table = %name, paused = wanted, "consumption paused or resumed")
                    }
                    Err(error) => warn!(table = %name, %error, "cannot pause or resume the table"),
                }
            }
        }
    }

    /// Each consumed table's ingest counters, for `/metrics`.
    pub fn ingest_metrics(&self) -> Vec<(String, Arc<tessera_ingest::realtime::IngestMetrics>)> {
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(name, consumed)| (name.clone(), consumed.table.metrics().clone()))
            .collect()
    }

    /// Table → partition → where its consumption stands, for `GET /consuming`.
    pub fn status(&self) -> serde_json::Value {
        let now = tessera_ingest::realtime::now_ms();
        let tables = self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = serde_json::Map::new();
        for (name, consumed) in tables.iter() {
            let stalls = consumed.table.metrics().seal_stalls();
            let partitions: serde_json::Map<String, serde_json::Value> = consumed
                .table
                .partition_status()
                .into_iter()
                .map(|(partition, status)| {
                    // A seal that cannot succeed stopped this partition's sealing.
                    let stall = stalls.get(&partition).map(|stall| stall.to_json(partition));
                    let value = serde_json::json!({
                        "nextOffset": status.next_offset,
                        "logEndOffset": status.log_end_offset,
                        "lagOffsets": status.lag_offsets(),
                        "lagMs": status.lag_millis(now),
                        "paused": status.paused,
                        "sealStall": stall,
                    });
                    (partition.to_string(), value)
                })
                .collect();
            out.insert(name.clone(), serde_json::Value::Object(partitions));
        }
        serde_json::Value::Object(out)
    }

    pub fn get(&self, name: &str) -> Option<Arc<ConsumedTable>> {
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Consume the partitions assigned to this server (table → partitions), release
    /// the others, stop the tables dropped from the catalog, and hand off sealed
    /// segments another server serves. Returns what this server serves (table → segment
    /// names) and consumes (table → partitions, those being released included).
    pub fn reconcile(
        &self,
        mine: &BTreeMap<String, BTreeSet<u32>>,
        tables: &MirrorSnapshot,
        schemas: &MirrorSnapshot,
        segments: &MirrorSnapshot,
        serving_elsewhere: &BTreeMap<String, BTreeSet<String>>,
        context: &RealtimeContext,
    ) -> Consumption {
        let mut running = self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dropped: Vec<String> = running
            .keys()
            .filter(|name| {
                tables
                    .entries
                    .get(&format!("tables/{name}"))
                    .and_then(|stored| serde_json::from_str::<TableRecord>(&stored.value).ok())
                    .is_none_or(|record| record.deleted_ms.is_some())
            })
            .cloned()
            .collect();
        for name in dropped {
            if let Some(consumed) = running.remove(&name) {
                info!(table = %name, "the table is gone; no longer consuming it");
                consumed.table.stop();
            }
        }
        let none = BTreeSet::new();
        for (name, consumed) in running.iter() {
            let partitions = mine.get(name).unwrap_or(&none);
            if let Err(error) = consumed.table.assign(partitions) {
                warn!(table = %name, error = format!("{error:#}"), "cannot consume every assigned partition yet; retrying");
            }
        }
        for (name, partitions) in mine {
            if running.contains_key(name) || partitions.is_empty() {
                continue;
            }
            match start(name, tables, schemas, context, partitions) {
                Ok(consumed) => {
                    info!(table = %name, ?partitions, "consuming the table");
                    running.insert(name.clone(), Arc::new(consumed));
                }
                Err(error) => {
                    warn!(table = %name, error = format!("{error:#}"), "cannot consume the table yet; retrying");
                }
            }
        }
        let mut consumption = Consumption::default();
        for (name, consumed) in running.iter() {
            consumed.drop_trashed(name, segments);
            let elsewhere = serving_elsewhere.get(name);
            let mut taken_since = consumed
                .taken_since
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for segment in consumed.segments.list() {
                let taken = matches!(segment, ServedSegment::Sealed(_))
                    && elsewhere.is_some_and(|others| others.contains(segment.name()));
                if !taken {
                    continue;
                }
                let since = *taken_since
                    .entry(segment.name().to_string())
                    .or_insert_with(Instant::now);
                if since.elapsed() < HANDOFF_GRACE {
                    continue;
                }
                taken_since.remove(segment.name());
                if consumed.segments.remove(segment.name()) {
                    consumed
                        .handed_off
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(segment.name().to_string());
                    info!(table = %name, segment = %segment.name(), "handed off to a historical server");
                }
            }
            // Segments in their grace period are answered but no longer published.
            let names: BTreeSet<String> = consumed
                .segments
                .list()
                .iter()
                .map(|segment| segment.name().to_string())
                .filter(|name| !taken_since.contains_key(name))
                .collect();
            consumption.served.insert(name.clone(), names);
            consumption
                .partitions
                .insert(name.clone(), consumed.table.consumed_partitions());
        }
        // A table none of whose partitions is consumed here any more, and all of whose
        // segments went to historical servers, is done with.
        running.retain(|name, consumed| {
            let idle = consumption
                .partitions
                .get(name)
                .is_some_and(BTreeSet::is_empty)
                && consumed.segments.list().is_empty();
            if idle {
                info!(table = %name, "no partition of the table is consumed here any more");
                consumed.table.stop();
                consumption.served.remove(name);
                consumption.partitions.remove(name);
            }
            !idle
        });
        consumption
    }
}

/// What a server's consumed tables amount to after a reconcile.
#[derive(Debug, Default)]
pub struct Consumption {
    /// Table → names of the segments served (consuming, and sealed not handed off).
    pub served: BTreeMap<String, BTreeSet<String>>,
    /// Table → stream partitions consumed (or being released).
    pub partitions: BTreeMap<String, BTreeSet<u32>>,
}

fn start(
    name: &str,
    tables: &MirrorSnapshot,
    schemas: &MirrorSnapshot,
    context: &RealtimeContext,
    partitions: &BTreeSet<u32>,
) -> anyhow::Result<ConsumedTable> {
    let record: TableRecord = tables
        .entries
        .get(&format!("tables/{name}"))
        .map(|stored| serde_json::from_str(&stored.value))
        .transpose()?
        .with_context(|| format!("table `{name}` is not in the catalog"))?;
    let (schema, config, query_schema) = parse_table(&record, schema_json(&record, schemas)?)?;
    let segments = Arc::new(SegmentSet::default());
    let table = RealtimeTable::start_assigned(
        context.clone(),
        &schema,
        &config,
        segments.clone(),
        partitions,
    )?;
    Ok(ConsumedTable {
        schema: query_schema,
        table,
        segments,
        handed_off: Mutex::new(BTreeSet::new()),
        taken_since: Mutex::new(BTreeMap::new()),
        seen_in_catalog: Mutex::new(BTreeSet::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_realtime_segment_names_parse() {
        assert_eq!(
            partition_and_sequence("events__3__12__20261203T1449Z"),
            Some((3, 12))
        );
        assert_eq!(
            partition_and_sequence("my__table__0__7__20261203T1449Z"),
            Some((0, 7))
        );
        assert_eq!(partition_and_sequence("lineitem_1_2_0"), None);
    }
}
