//! The standalone server's state: the catalog, the deep store, and every live table
//! with the segments that serve it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use tessera_config::{Schema, TableConfig, TableType};
use tessera_ingest::realtime::{
    IngestMetrics, RealtimeContext, RealtimeTable, SegmentSet, ServedSegment,
};
use tessera_meta::{Catalog, SegmentRecord, SegmentState, TableRecord};
use tessera_query::planner::TableSchema;
use tessera_segment::{ImmutableSegment, SegmentReader};
use tessera_server::lakehouse_tier::LakehouseTier;
use tessera_storage::cold::ColdStore;
use tessera_storage::{DeepStore, file_crc32};
use tracing::{error, info, warn};

use tessera_api::server_metrics::ServerMetrics;

/// A live table.
pub struct TableRuntime {
    pub record: TableRecord,
    /// Which sealed segments a server with a cold-segment cache reads cold.
    pub tiering: Tiering,
    pub schema_json: String,
    pub config: TableConfig,
    pub query_schema: TableSchema,
    pub segments: Arc<SegmentSet>,
    pub realtime: Option<RealtimeTable>,
    /// The table's history in an Iceberg table, below the time boundary.
    pub lakehouse: Option<Arc<LakehouseTier>>,
}

/// Pinot's `tierConfigs` read as warm and cold segments (see
/// `tessera_config::table::tiers`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tiering {
    /// Segments whose end is older than this are cold; `None`: every sealed segment.
    pub cold_after: Option<std::time::Duration>,
    /// Whether the time column holds epoch milliseconds (TIMESTAMP, or a LONG in
    /// `MILLISECONDS:EPOCH`); otherwise a segment's age counts from its creation.
    pub time_in_ms: bool,
}

impl Tiering {
    pub fn of(schema: &Schema, config: &TableConfig) -> Tiering {
        let time_in_ms = config
            .time_column
            .as_deref()
            .and_then(|name| schema.field(name))
            .is_some_and(|field| {
                field.data_type == tessera_config::DataType::Timestamp
                    || field
                        .format
                        .as_deref()
                        .is_some_and(|f| f.contains("MILLISECONDS:EPOCH"))
            });
        Tiering {
            cold_after: tessera_config::table::tiers::cold_tier_age(&config.raw)
                .ok()
                .flatten(),
            time_in_ms,
        }
    }

    /// Whether the segment of `record` is read cold, now.
    pub fn is_cold(&self, record: &SegmentRecord, now_ms: i64) -> bool {
        let Some(after) = self.cold_after else {
            return true;
        };
        let end = match record.max_time {
            Some(max) if self.time_in_ms => max,
            _ => record.created_ms,
        };
        now_ms.saturating_sub(end) >= after.as_millis() as i64
    }
}

/// What a table holds right now: rows, segments and bytes (consuming segments count
/// their memory).
#[derive(Debug, Clone, Copy, Default)]
pub struct TableSize {
    pub rows: u64,
    pub segments: usize,
    pub bytes: u64,
}

impl TableRuntime {
    pub fn size(&self) -> TableSize {
        let mut size = TableSize::default();
        for served in self.segments.list() {
            size.segments += 1;
            match served {
                ServedSegment::Consuming(segment) => {
                    size.rows += u64::from(segment.num_rows());
                    size.bytes += segment.memory_bytes() as u64;
                }
                ServedSegment::Sealed(segment) => {
                    size.rows += u64::from(segment.num_docs());
                    size.bytes += segment.file_len();
                }
            }
        }
        size
    }

    pub fn type_name(&self) -> &'static str {
        match self.config.table_type {
            TableType::Offline => "OFFLINE",
            TableType::Realtime => "REALTIME",
        }
    }
}

pub struct ServerState {
    pub catalog: Catalog,
    pub deep_store: DeepStore,
    /// Set when sealed segments are served cold (`--cache-size`).
    pub cold: Option<Arc<ColdStore>>,
    pub data_dir: PathBuf,
    pub runtime: tokio::runtime::Handle,
    pub tables: RwLock<BTreeMap<String, Arc<TableRuntime>>>,
    pub metrics: Arc<ServerMetrics>,
}

impl ServerState {
    pub fn realtime_context(&self) -> RealtimeContext {
        RealtimeContext {
            catalog: self.catalog.clone(),
            deep_store: self.deep_store.clone(),
            runtime: self.runtime.clone(),
            data_dir: self.data_dir.clone(),
            clock: tessera_ingest::realtime::Clock::system(),
        }
    }

    pub fn table(&self, name: &str) -> Option<Arc<TableRuntime>> {
        let tables = self
            .tables
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let name = tessera_api::strip_type_suffix(name);
        tables.get(name).cloned().or_else(|| {
            tables
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, table)| table.clone())
        })
    }

    pub fn table_list(&self) -> Vec<Arc<TableRuntime>> {
        self.tables
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The local copy of a sealed segment.
    pub fn segment_path(&self, table: &str, segment: &str) -> PathBuf {
        tessera_ingest::realtime::segment_file(&self.data_dir, table, segment)
    }

    /// Open (and, when missing or corrupt, download) the sealed segment of `record`.
    /// Blocking: runs deep-store IO on the runtime.
    /// With a cold-segment cache, the segment opens from its footer in the deep store
    /// instead, and a local copy left from before is removed.
    pub fn load_sealed(
        &self,
        record: &SegmentRecord,
        tiering: &Tiering,
    ) -> anyhow::Result<ImmutableSegment> {
        let path = self.segment_path(&record.table, &record.name);
        if let Some(cold) = &self.cold
            && tiering.is_cold(record, tessera_ingest::realtime::now_ms())
        {
            return tessera_server::cold_queries::open(cold, &self.runtime, record, &path);
        }
        if local_copy_is_good(&path, record.crc32) {
            IngestMetrics::add(&self.metrics.segment_cache_hits, 1);
            return ImmutableSegment::open(&path)
                .with_context(|| format!("open `{}`", path.display()));
        }
        let location = record
            .location
            .as_deref()
            .with_context(|| format!("segment `{}` has no deep-store location", record.name))?;
        IngestMetrics::add(&self.metrics.segment_cache_misses, 1);
        info!(segment = %record.name, location, "downloading segment from the deep store");
        self.runtime
            .block_on(self.deep_store.download(location, &path, record.crc32))
            .with_context(|| format!("download segment `{}`", record.name))?;
        ImmutableSegment::open(&path).with_context(|| format!("open `{}`", path.display()))
    }

    /// Bring a catalog table to life: load its sealed segments and start its streams.
    pub fn start_table(&self, record: TableRecord) -> anyhow::Result<Arc<TableRuntime>> {
        let schema_json = self.catalog.schema(&record.schema_name)?.with_context(|| {
            format!(
                "schema `{}` of table `{}` is missing",
                record.schema_name, record.name
            )
        })?;
        let schema = Schema::from_json(&schema_json)?.value;
        let config = TableConfig::from_json(&record.config.to_string(), &schema)?.value;
        let segments = Arc::new(SegmentSet::default());
        let tiering = Tiering::of(&schema, &config);
        for segment in self.catalog.segments(&record.name)? {
            if segment.state != SegmentState::Done {
                continue;
            }
            let sealed = self.load_sealed(&segment, &tiering)?;
            segments.add(ServedSegment::Sealed(Arc::new(sealed)));
        }
        let realtime = match config.table_type {
            TableType::Realtime => Some(RealtimeTable::start(
                self.realtime_context(),
                &schema,
                &config,
                segments.clone(),
            )?),
            TableType::Offline => None,
        };
        let query_schema =
            TableSchema::from_config(&record.name, &schema, config.time_column.as_deref());
        let lakehouse = LakehouseTier::of(&schema, &config, self.runtime.clone(), &self.data_dir)?;
        if let Some(tier) = &lakehouse {
            // The first snapshot is looked up now, off this thread; a query that comes
            // first looks it up itself.
            let first = tier.clone();
            std::thread::spawn(move || first.refresh());
            if let Some(interval) = tier.export_interval() {
                self.exporter(&record.name, tier.clone(), segments.clone())
                    .spawn(interval);
            }
        }
        let runtime = Arc::new(TableRuntime {
            record,
            tiering,
            schema_json,
            config,
            query_schema,
            segments,
            realtime,
            lakehouse,
        });
        self.tables
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(runtime.record.name.clone(), runtime.clone());
        Ok(runtime)
    }

    /// Start every live table of the catalog. A table that cannot start is logged
    /// and left out (the others serve); its catalog entry is kept for the operator.
    pub fn start_all(&self) -> anyhow::Result<()> {
        for record in self.catalog.tables()? {
            if record.deleted_ms.is_some() {
                continue;
            }
            let name = record.name.clone();
            if let Err(error) = self.start_table(record) {
                error!(table = %name, error = format!("{error:#}"), "table could not start; it is not served");
                eprintln!("tessera: table `{name}` could not start: {error:#}");
            }
        }
        Ok(())
    }

    /// The exporter of a table's lakehouse tier.
    pub fn exporter(
        &self,
        table: &str,
        tier: Arc<LakehouseTier>,
        segments: Arc<SegmentSet>,
    ) -> super::lakehouse::Exporter {
        super::lakehouse::Exporter {
            table: table.to_string(),
            tier,
            segments,
            catalog: self.catalog.clone(),
            deep_store: self.deep_store.clone(),
            runtime: self.runtime.clone(),
            data_dir: self.data_dir.clone(),
        }
    }

    /// Remove a table from serving (its threads stopped).
    pub fn unload_table(&self, name: &str) -> Option<Arc<TableRuntime>> {
        let removed = self
            .tables
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
        if let Some(table) = &removed
            && let Some(realtime) = &table.realtime
        {
            realtime.stop();
        }
        removed
    }
}

impl ServerState {
    pub fn retention(&self) -> tessera_controller::trash::Retention<'_> {
        tessera_controller::trash::Retention {
            catalog: &self.catalog,
            deep_store: &self.deep_store,
            runtime: &self.runtime,
        }
    }

    /// Trash every live table's segments past its retention, and stop serving them.
    pub fn enforce_retention(&self, now_ms: i64) -> anyhow::Result<usize> {
        let mut trashed = 0;
        for table in self.table_list() {
            let schema = Schema::from_json(&table.schema_json)?.value;
            for name in
                self.retention()
                    .trash_expired(&table.record, &schema, &table.config, now_ms)?
            {
                table.segments.remove(&name);
                let _ = std::fs::remove_file(self.segment_path(&table.record.name, &name));
                trashed += 1;
            }
        }
        Ok(trashed)
    }

    /// Delete for good what outlived the trash retention (see
    /// [`tessera_controller::trash::Retention::purge`]).
    pub fn purge_expired_trash(
        &self,
        retention: std::time::Duration,
        now_ms: i64,
    ) -> anyhow::Result<usize> {
        self.retention().purge(retention.as_millis() as i64, now_ms)
    }
}

/// The sealed segments a table serves now.
pub fn sealed_segments(segments: &SegmentSet) -> Vec<Arc<ImmutableSegment>> {
    segments
        .list()
        .into_iter()
        .filter_map(|segment| match segment {
            ServedSegment::Sealed(sealed) => Some(sealed),
            ServedSegment::Consuming(_) => None,
        })
        .collect()
}

fn local_copy_is_good(path: &Path, crc32: Option<u32>) -> bool {
    match std::fs::read(path) {
        Ok(bytes) => match crc32 {
            Some(expected) if file_crc32(&bytes) != expected => {
                warn!(path = %path.display(), "local segment copy is corrupt; downloading it again");
                false
            }
            _ => true,
        },
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(max_time: Option<i64>, created_ms: i64) -> SegmentRecord {
        SegmentRecord {
            name: "s".into(),
            table: "t".into(),
            state: SegmentState::Done,
            partition: 0,
            sequence: 0,
            start_offset: 0,
            end_offset: None,
            location: None,
            size_bytes: 0,
            crc32: None,
            num_docs: 0,
            min_time: None,
            max_time,
            created_ms,
            idempotency_keys: Default::default(),
            committed_ms: None,
            column_ranges: Default::default(),
        }
    }

    #[test]
    fn tiers_make_old_segments_cold_and_young_ones_warm() {
        let day = 86_400_000i64;
        let now = 1_000 * day;
        let every = Tiering::default();
        assert!(every.is_cold(&record(Some(now), now), now));
        let tiered = Tiering {
            cold_after: Some(std::time::Duration::from_secs(30 * 86_400)),
            time_in_ms: true,
        };
        assert!(tiered.is_cold(&record(Some(now - 31 * day), now), now));
        assert!(!tiered.is_cold(&record(Some(now - 29 * day), now), now));
        // A time column not in milliseconds: the segment's age counts from its creation.
        let by_creation = Tiering {
            time_in_ms: false,
            ..tiered
        };
        assert!(!by_creation.is_cold(&record(Some(12), now - day), now));
        assert!(by_creation.is_cold(&record(Some(12), now - 40 * day), now));
    }
}
