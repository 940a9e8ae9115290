//! Standalone's lakehouse exports: on `POST /tables/{t}/lakehouse/export` and every
//! `exportInterval`. With `dropExported`, the exported segments wholly below the boundary
//! then leave the table (to the trash, restorable): their rows are read from Iceberg.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tessera_ingest::realtime::{SegmentSet, now_ms, segment_file};
use tessera_meta::Catalog;
use tessera_server::lakehouse_tier::LakehouseTier;
use tessera_storage::DeepStore;
use tracing::warn;

use super::state::sealed_segments;

/// What a table's exports need: its tier and segments, and where dropped segments go.
pub struct Exporter {
    pub table: String,
    pub tier: Arc<LakehouseTier>,
    pub segments: Arc<SegmentSet>,
    pub catalog: Catalog,
    pub deep_store: DeepStore,
    pub runtime: tokio::runtime::Handle,
    pub data_dir: PathBuf,
}

impl Exporter {
    /// Export the sealed segments Iceberg lacks; then drop what `dropExported` lets go.
    /// Blocking.
    pub fn run(&self) -> anyhow::Result<Json> {
        let summary = self.tier.export(&sealed_segments(&self.segments))?;
        let mut report = summary.to_json();
        let droppable = self
            .tier
            .droppable(&self.segments.readers())
            .map_err(|error| anyhow::anyhow!(error.message))?;
        if !droppable.is_empty() {
            let retention = tessera_controller::trash::Retention {
                catalog: &self.catalog,
                deep_store: &self.deep_store,
                runtime: &self.runtime,
            };
            retention.trash_segments(
                &self.table,
                &droppable,
                now_ms(),
                "exported to the lakehouse, below its time boundary",
            )?;
            for name in &droppable {
                self.segments.remove(name);
                let _ = std::fs::remove_file(segment_file(&self.data_dir, &self.table, name));
            }
        }
        report["droppedSegments"] = json!(droppable);
        Ok(report)
    }

    /// Run every `interval` until the tier is gone (the table unloaded). A failed export
    /// is logged and tried again at the next turn.
    pub fn spawn(self, interval: Duration) {
        let tier: Weak<LakehouseTier> = Arc::downgrade(&self.tier);
        let Exporter {
            table,
            segments,
            catalog,
            deep_store,
            runtime,
            data_dir,
            ..
        } = self;
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(interval);
                let Some(tier) = tier.upgrade() else {
                    return;
                };
                let exporter = Exporter {
                    table: table.clone(),
                    tier,
                    segments: segments.clone(),
                    catalog: catalog.clone(),
                    deep_store: deep_store.clone(),
                    runtime: runtime.clone(),
                    data_dir: data_dir.clone(),
                };
                if let Err(error) = exporter.run() {
                    warn!(table = %table, error = format!("{error:#}"), "lakehouse export failed; trying again later");
                }
            }
        });
    }
}
