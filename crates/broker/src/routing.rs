//! The broker's routing view: per table its query schema, the segments a query reads
//! (sealed ones, and the consuming ones of a REALTIME table) and, per segment, the live
//! servers that serve it — built from the broker's mirrors of the
//! catalog, the `serving/` records and the node registrations, and rebuilt only when one
//! of those mirrors moved, so a query pays for no JSON parsing of the catalog.

use std::collections::BTreeMap;
use std::sync::Arc;

use tessera_coordination::{MirrorSnapshot, NodeInfo, NodeRole};
use tessera_meta::{SegmentRecord, SegmentState, TableRecord};
use tessera_query::Table;
use tessera_query::filter::{Bounds, stat};
use tessera_query::planner::TableSchema;

use tessera_api::catalog_tables::table_schema;
use tessera_api::keys;

/// One table as the broker routes it.
#[derive(Debug, Clone)]
pub struct TableRoute {
    pub record: TableRecord,
    /// The segments a query reads, in name order: sealed (DONE) ones, and for a
    /// REALTIME table its consuming ones.
    pub segments: Vec<String>,
    /// Segment → live servers serving it.
    pub replicas: BTreeMap<String, Vec<String>>,
    /// Rows and bytes of the sealed segments (the PostgreSQL catalog shows them).
    pub rows: u64,
    pub bytes: u64,
    /// Sealed segment → its rows and its columns' bounds from the catalog, for pruning
    /// before the scatter (consuming segments have none: they are never pruned).
    pub stats: BTreeMap<String, SegmentStats>,
}

/// What the catalog says about a sealed segment's values.
#[derive(Debug, Clone, Default)]
pub struct SegmentStats {
    pub num_docs: u64,
    pub bounds: BTreeMap<String, Bounds>,
}

impl SegmentStats {
    /// From a DONE record: its column ranges typed by the table's schema; records
    /// written before column ranges existed give their time range.
    fn of(record: &SegmentRecord, schema: &TableSchema) -> SegmentStats {
        let mut bounds = BTreeMap::new();
        for column in &schema.columns {
            let ty = column.ty.element;
            let range = record.column_ranges.get(&column.name);
            let (min, max) = match range {
                Some(range) => (stat(&range.min, ty), stat(&range.max, ty)),
                None if schema.time_column.as_deref() == Some(column.name.as_str()) => (
                    record.min_time.and_then(|t| stat(&t.into(), ty)),
                    record.max_time.and_then(|t| stat(&t.into(), ty)),
                ),
                None => (None, None),
            };
            if let (Some(min), Some(max)) = (min, max) {
                let single_value = column.ty.single_value;
                bounds.insert(
                    column.name.clone(),
                    Bounds {
                        min,
                        max,
                        single_value,
                    },
                );
            }
        }
        SegmentStats {
            num_docs: record.num_docs,
            bounds,
        }
    }
}

/// Everything a query needs to be planned and routed, at one set of mirror revisions.
#[derive(Default)]
pub struct RoutingView {
    /// The revisions of the tables, schemas, segments, serving, nodes, consumers and
    /// consuming mirrors.
    pub revisions: [i64; 7],
    /// Schemas of the live tables, for the planner (no segments).
    pub schemas: Vec<Table>,
    pub tables: BTreeMap<String, TableRoute>,
    /// Live server → Flight address.
    pub servers: BTreeMap<String, String>,
}

/// The mirrors a view is built from.
pub struct Snapshots {
    pub tables: Arc<MirrorSnapshot>,
    pub schemas: Arc<MirrorSnapshot>,
    pub segments: Arc<MirrorSnapshot>,
    pub serving: Arc<MirrorSnapshot>,
    pub nodes: Arc<MirrorSnapshot>,
    pub consumers: Arc<MirrorSnapshot>,
    pub consuming: Arc<MirrorSnapshot>,
}

impl Snapshots {
    pub fn revisions(&self) -> [i64; 7] {
        [
            self.tables.revision,
            self.schemas.revision,
            self.segments.revision,
            self.serving.revision,
            self.nodes.revision,
            self.consumers.revision,
            self.consuming.revision,
        ]
    }
}

impl RoutingView {
    pub fn build(snapshots: &Snapshots) -> RoutingView {
        let servers: BTreeMap<String, String> = snapshots
            .nodes
            .entries
            .values()
            .filter_map(|stored| serde_json::from_str::<NodeInfo>(&stored.value).ok())
            .filter(|node| node.role == NodeRole::Server)
            .filter_map(|node| node.flight_address.map(|address| (node.node_id, address)))
            .collect();
        let serving = keys::serving(&snapshots.serving);
        let consumers = keys::consumers(&snapshots.consumers);
        let consuming_now = keys::consuming(&snapshots.consuming);
        let mut schemas = Vec::new();
        let mut tables = BTreeMap::new();
        for stored in snapshots.tables.entries.values() {
            let Ok(record) = serde_json::from_str::<TableRecord>(&stored.value) else {
                continue;
            };
            if record.deleted_ms.is_some() {
                continue;
            }
            let Ok(schema) = table_schema(&record, &snapshots.schemas) else {
                continue;
            };
            schemas.push(Table {
                schema: schema.clone(),
                segments: Vec::new(),
            });
            let prefix = format!("segments/{}/", record.name);
            let realtime = record.table_type == "REALTIME";
            let (mut queried, mut consuming, mut rows, mut bytes) = (Vec::new(), Vec::new(), 0, 0);
            let mut stats = BTreeMap::new();
            for (key, stored) in snapshots
                .segments
                .entries
                .range(prefix.clone()..)
                .take_while(|(key, _)| key.starts_with(&prefix))
            {
                let Ok(segment) = serde_json::from_str::<SegmentRecord>(&stored.value) else {
                    continue;
                };
                let name = key[prefix.len()..].to_string();
                match segment.state {
                    SegmentState::Done => {
                        rows += segment.num_docs;
                        bytes += segment.size_bytes;
                        stats.insert(name.clone(), SegmentStats::of(&segment, &schema));
                        queried.push(name);
                    }
                    SegmentState::Consuming if realtime => {
                        consuming.push((name.clone(), segment.partition));
                        queried.push(name);
                    }
                    SegmentState::Consuming => {}
                }
            }
            let mut replicas: BTreeMap<String, Vec<String>> = serving
                .get(&record.name)
                .map(|segments| {
                    segments
                        .iter()
                        .map(|(segment, on)| {
                            let live: Vec<String> = on
                                .iter()
                                .filter(|server| servers.contains_key(*server))
                                .cloned()
                                .collect();
                            (segment.clone(), live)
                        })
                        .collect()
                })
                .unwrap_or_default();
            // Newer consuming segments a server holds than the catalog lists (rotated
            // into before the commit that records them) are answered by that server along
            // with the partition's listed one (`server_role::newer_consuming`).
            // A consuming segment the catalog lists before its server published it is
            // asked of the server consuming its partition now, else of the one assigned
            // to (it answers it, empty if it has no row yet).
            let table_consuming = consuming_now.get(&record.name);
            let table_consumers = consumers.get(&record.name);
            for (name, partition) in consuming {
                let on = replicas.entry(name).or_default();
                if !on.is_empty() {
                    continue;
                }
                let now = table_consuming
                    .and_then(|partitions| partitions.get(&partition))
                    .and_then(|nodes| nodes.iter().find(|n| servers.contains_key(*n)));
                let assigned = table_consumers
                    .and_then(|partitions| partitions.get(&partition))
                    .filter(|server| servers.contains_key(*server));
                if let Some(consumer) = now.or(assigned) {
                    on.push(consumer.clone());
                }
            }
            tables.insert(
                record.name.clone(),
                TableRoute {
                    record,
                    segments: queried,
                    replicas,
                    rows,
                    bytes,
                    stats,
                },
            );
        }
        RoutingView {
            revisions: snapshots.revisions(),
            schemas,
            tables,
            servers,
        }
    }

    /// Replica entries (segment × live server) of every table.
    pub fn entries(&self) -> usize {
        self.tables
            .values()
            .flat_map(|table| table.replicas.values())
            .map(Vec::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_meta::Versioned;

    fn snapshot(revision: i64, entries: &[(String, String)]) -> Arc<MirrorSnapshot> {
        Arc::new(MirrorSnapshot {
            revision,
            entries: entries
                .iter()
                .map(|(key, value)| {
                    (
                        key.clone(),
                        Versioned {
                            value: value.clone(),
                            version: 1,
                        },
                    )
                })
                .collect(),
        })
    }

    fn segment(name: &str, state: SegmentState) -> String {
        let mut record = SegmentRecord::consuming("t", name, 0, 0, 0, 0);
        record.state = state;
        record.size_bytes = 10;
        record.num_docs = 5;
        serde_json::to_string(&record).unwrap_or_default()
    }

    fn table(name: &str, deleted_ms: Option<i64>) -> String {
        serde_json::to_string(&TableRecord {
            name: name.into(),
            table_type: "OFFLINE".into(),
            schema_name: name.into(),
            config: serde_json::json!({"tableName": name, "tableType": "OFFLINE"}),
            created_ms: 0,
            deleted_ms,
        })
        .unwrap_or_default()
    }

    fn server(id: &str) -> String {
        let mut info = NodeInfo::new(id, NodeRole::Server);
        info.flight_address = Some(format!("{id}:1"));
        serde_json::to_string(&info).unwrap_or_default()
    }

    #[test]
    fn test_view_routes_sealed_segments_to_live_servers_of_live_tables() {
        let schema = |name: &str| {
            format!(
                r#"{{"schemaName": "{name}", "dimensionFieldSpecs": [{{"name": "a", "dataType": "LONG"}}]}}"#
            )
        };
        let snapshots = Snapshots {
            tables: snapshot(
                1,
                &[
                    ("tables/t".into(), table("t", None)),
                    ("tables/gone".into(), table("gone", Some(9))),
                ],
            ),
            schemas: snapshot(
                2,
                &[
                    ("schemas/t".into(), schema("t")),
                    ("schemas/gone".into(), schema("gone")),
                ],
            ),
            segments: snapshot(
                3,
                &[
                    ("segments/t/s1".into(), segment("s1", SegmentState::Done)),
                    ("segments/t/s2".into(), segment("s2", SegmentState::Done)),
                    (
                        "segments/t/s3".into(),
                        segment("s3", SegmentState::Consuming),
                    ),
                ],
            ),
            serving: snapshot(
                4,
                &[
                    ("serving/a/t".into(), r#"["s1","s2"]"#.into()),
                    ("serving/dead/t".into(), r#"["s1"]"#.into()),
                    ("serving/b/t".into(), r#"["s2"]"#.into()),
                ],
            ),
            nodes: snapshot(
                5,
                &[
                    ("nodes/a".into(), server("a")),
                    ("nodes/b".into(), server("b")),
                ],
            ),
            consumers: snapshot(6, &[]),
            consuming: snapshot(7, &[]),
        };
        let view = RoutingView::build(&snapshots);
        assert_eq!(view.revisions, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            view.schemas.len(),
            1,
            "dropped tables are not planned against"
        );
        let route = &view.tables["t"];
        assert_eq!(
            route.segments,
            ["s1", "s2"],
            "an OFFLINE table's consuming records are not read"
        );
        assert_eq!(
            route.replicas["s1"],
            ["a"],
            "a server without a registration is dead"
        );
        assert_eq!(route.replicas["s2"], ["a", "b"]);
        assert_eq!((route.rows, route.bytes), (10, 20));
        assert_eq!(view.entries(), 3);
        assert_eq!(view.servers.len(), 2);
    }

    #[test]
    fn test_consuming_segments_go_to_the_server_consuming_their_partition() {
        let record = |name: &str, partition: u32| {
            let record = SegmentRecord::consuming("r", name, partition, 0, 0, 0);
            serde_json::to_string(&record).unwrap_or_default()
        };
        let realtime = serde_json::to_string(&TableRecord {
            name: "r".into(),
            table_type: "REALTIME".into(),
            schema_name: "r".into(),
            config: serde_json::json!({"tableName": "r", "tableType": "REALTIME"}),
            created_ms: 0,
            deleted_ms: None,
        })
        .unwrap_or_default();
        let snapshots = Snapshots {
            tables: snapshot(1, &[("tables/r".into(), realtime)]),
            schemas: snapshot(
                2,
                &[(
                    "schemas/r".into(),
                    r#"{"schemaName": "r", "dimensionFieldSpecs": [{"name": "a", "dataType": "LONG"}]}"#
                        .into(),
                )],
            ),
            segments: snapshot(
                3,
                &[
                    ("segments/r/r1".into(), record("r1", 1)),
                    ("segments/r/r2".into(), record("r2", 2)),
                    ("segments/r/r3".into(), record("r3", 3)),
                ],
            ),
            serving: snapshot(4, &[]),
            nodes: snapshot(
                5,
                &[
                    ("nodes/a".into(), server("a")),
                    ("nodes/b".into(), server("b")),
                ],
            ),
            consumers: snapshot(
                6,
                &[
                    ("consumers/r/1".into(), "a".into()),
                    ("consumers/r/2".into(), "a".into()),
                    ("consumers/r/3".into(), "dead".into()),
                ],
            ),
            consuming: snapshot(7, &[("consuming/b/r".into(), "[1]".into())]),
        };
        let view = RoutingView::build(&snapshots);
        let route = &view.tables["r"];
        assert_eq!(route.segments, ["r1", "r2", "r3"]);
        assert_eq!(
            route.replicas["r1"],
            ["b"],
            "the server consuming the partition now (still releasing it) answers"
        );
        assert_eq!(route.replicas["r2"], ["a"], "else the one assigned to");
        assert!(
            route.replicas.get("r3").is_none_or(Vec::is_empty),
            "a dead consumer answers nothing"
        );
    }
}
