//! What the realtime tests share: a catalog holding one REALTIME table, and the
//! surroundings of one on a manual clock.

#![allow(dead_code)]

use tessera_meta::{Catalog, TableRecord};

/// Record schema `name` and a REALTIME table `name` with `table_json` in `catalog`.
pub fn create_realtime_table(catalog: &Catalog, name: &str, schema_json: &str, table_json: &str) {
    catalog
        .put_schema(name, schema_json)
        .expect("schema record");
    catalog
        .create_table(&TableRecord {
            name: name.into(),
            table_type: "REALTIME".into(),
            schema_name: name.into(),
            config: serde_json::from_str(table_json).expect("table json"),
            created_ms: 0,
            deleted_ms: None,
        })
        .expect("table record");
}

/// 2026-01-01T00:00:00Z: where the manual-clock tests start.
pub const START_MS: i64 = 1_767_225_600_000;

/// JSON lines of rows `first..first + n` of an `(id, ts)` table, `ts` from `START_MS`.
pub fn rows(first: u64, n: u64) -> Vec<u8> {
    (first..first + n)
        .map(|id| format!("{{\"id\": {id}, \"ts\": {}}}\n", START_MS as u64 + id))
        .collect::<String>()
        .into_bytes()
}

/// A REALTIME table's surroundings on a manual clock, in a temporary directory: a file
/// catalog holding the table, a local deep store, a runtime for uploads.
pub struct ManualClockTable {
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
    pub catalog: Catalog,
    pub clock: tessera_ingest::realtime::Clock,
    pub context: tessera_ingest::realtime::RealtimeContext,
    pub schema: tessera_config::Schema,
    pub config: tessera_config::TableConfig,
}

impl ManualClockTable {
    /// Table `name` (schema and table config as JSON), the clock at `start_ms`.
    pub fn new(name: &str, schema_json: &str, table_json: &str, start_ms: i64) -> ManualClockTable {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let schema = tessera_config::Schema::from_json(schema_json)
            .expect("schema")
            .value;
        let config = tessera_config::TableConfig::from_json(table_json, &schema)
            .expect("table")
            .value;
        let catalog = Catalog::new(std::sync::Arc::new(
            tessera_meta::FileMetaStore::open(&dir.path().join("meta")).expect("meta"),
        ));
        create_realtime_table(&catalog, name, schema_json, table_json);
        let clock = tessera_ingest::realtime::Clock::manual(start_ms);
        let context = tessera_ingest::realtime::RealtimeContext {
            catalog: catalog.clone(),
            deep_store: tessera_storage::DeepStore::open(
                &dir.path().join("deep").display().to_string(),
            )
            .expect("deep store"),
            runtime: runtime.handle().clone(),
            data_dir: dir.path().join("data"),
            clock: clock.clone(),
        };
        ManualClockTable {
            dir,
            runtime,
            catalog,
            clock,
            context,
            schema,
            config,
        }
    }

    /// Start the table (again) over these surroundings.
    pub fn start(&self) -> tessera_ingest::realtime::RealtimeTable {
        tessera_ingest::realtime::RealtimeTable::start(
            self.context.clone(),
            &self.schema,
            &self.config,
            std::sync::Arc::new(tessera_ingest::realtime::SegmentSet::default()),
        )
        .expect("start")
    }
}
