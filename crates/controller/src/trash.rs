//! Retention, as both wirings run it (standalone's janitor, the cluster leader's):
//! sealed segments older than the table's `retentionTimeUnit`/`retentionTimeValue`
//! leave the catalog — so routing — for its trash (one atomic catalog write), then
//! their files move into the deep store's trash; they stay restorable for the trash
//! retention (as dropped tables do), then are deleted for good. The decisions are
//! `crate::retention`'s.

use crate::retention::{expired, purgeable};
use anyhow::Context;
use serde_json::{Value as Json, json};
use tessera_config::{Schema, TableConfig};
use tessera_meta::{Catalog, SegmentRecord, SegmentState, TableRecord, TrashedSegment};
use tessera_storage::DeepStore;
use tracing::info;

/// The catalog and deep store retention works on. Blocking: call it off the async
/// runtime's workers.
pub struct Retention<'a> {
    pub catalog: &'a Catalog,
    pub deep_store: &'a DeepStore,
    pub runtime: &'a tokio::runtime::Handle,
}

impl Retention<'_> {
    /// Trash the sealed segments of `record` whose newest row is older than the
    /// table's retention; returns their names. Tables without a retention, or whose time
    /// column is not epoch-based, keep everything.
    pub fn trash_expired(
        &self,
        record: &TableRecord,
        schema: &Schema,
        config: &TableConfig,
        now_ms: i64,
    ) -> anyhow::Result<Vec<String>> {
        let Some(retention_ms) = config.retention_millis() else {
            return Ok(Vec::new());
        };
        let Some(time) = config.time_column.as_deref().and_then(|c| schema.field(c)) else {
            return Ok(Vec::new());
        };
        let segments = self.catalog.segments(&record.name)?;
        let ends = segments
            .iter()
            .filter(|segment| segment.state == SegmentState::Done)
            .map(|segment| {
                let end = segment.max_time.and_then(|raw| time.epoch_millis(raw));
                (segment.name.as_str(), end)
            });
        let names: Vec<String> = expired(ends, retention_ms, now_ms)
            .into_iter()
            .map(str::to_string)
            .collect();
        self.trash_segments(&record.name, &names, now_ms, "past the table's retention")?;
        Ok(names)
    }

    /// Trash the named sealed segments of `table` (restorable for the trash retention);
    /// `why` is logged with each.
    pub fn trash_segments(
        &self,
        table: &str,
        names: &[String],
        now_ms: i64,
        why: &str,
    ) -> anyhow::Result<()> {
        for name in names {
            // Catalog first (out of routing at once); a crash before the file moves
            // leaves it in place, which restore and purge both handle.
            let moved = self.catalog.trash_segment(table, name, now_ms)?;
            if let Some(location) = &moved.record.location {
                self.runtime
                    .block_on(self.deep_store.trash_file(location, now_ms))
                    .with_context(|| format!("move segment `{name}` to the trash"))?;
            }
            info!(table, segment = %name, why, "segment trashed");
        }
        Ok(())
    }

    /// Delete for good the segments of `table` trashed more than `trash_retention_ms`
    /// ago; returns how many.
    pub fn purge_trash(
        &self,
        table: &str,
        trash_retention_ms: i64,
        now_ms: i64,
    ) -> anyhow::Result<usize> {
        let mut purged = 0;
        for trashed in self.catalog.trashed_segments(table)? {
            if !purgeable(trashed.trashed_ms, trash_retention_ms, now_ms) {
                continue;
            }
            if let Some(location) = &trashed.record.location {
                self.runtime
                    .block_on(
                        self.deep_store
                            .delete_trashed_file(location, trashed.trashed_ms),
                    )
                    .with_context(|| format!("delete trashed segment `{}`", trashed.record.name))?;
            }
            self.catalog
                .purge_trashed_segment(table, &trashed.record.name)?;
            purged += 1;
        }
        Ok(purged)
    }

    /// Delete for good what outlived the trash retention (DESIGN §3: nothing is
    /// deleted by one mistake, but nothing is kept forever either): live tables'
    /// segments trashed more than `trash_retention_ms` ago, and tables dropped that long
    /// ago, whole (their files, their trashed segments, their catalog entries). Returns
    /// how many tables were purged.
    pub fn purge(&self, trash_retention_ms: i64, now_ms: i64) -> anyhow::Result<usize> {
        let mut purged = 0;
        for record in self.catalog.tables()? {
            let Some(dropped_ms) = record.deleted_ms else {
                self.purge_trash(&record.name, trash_retention_ms, now_ms)?;
                continue;
            };
            if !purgeable(dropped_ms, trash_retention_ms, now_ms) {
                continue;
            }
            self.purge_trash(&record.name, 0, now_ms)?;
            let files = self
                .runtime
                .block_on(self.deep_store.purge_trash(&record.name, dropped_ms))?;
            self.catalog.purge_table(&record.name)?;
            info!(table = %record.name, files, "purged a dropped table after its trash retention");
            purged += 1;
        }
        Ok(purged)
    }

    /// Drop a table: marked deleted in the catalog first (out of routing; a cluster's
    /// servers unload it and its consumers stop), then its files moved to the deep
    /// store's trash (a failure there leaves it dropped, and restore moves back what
    /// moved). Returns the time it was dropped.
    pub fn drop_table(&self, table: &str, now_ms: i64) -> anyhow::Result<i64> {
        self.catalog.set_table_deleted(table, Some(now_ms))?;
        self.runtime
            .block_on(self.deep_store.trash_table(table, now_ms))
            .with_context(|| format!("move table `{table}` to the trash"))?;
        info!(table, "table dropped into the trash");
        Ok(now_ms)
    }

    /// Bring a dropped table back: its files, then its catalog entry. `None` when it
    /// is not dropped; an error names a table that does not exist.
    pub fn restore_table(&self, table: &str) -> anyhow::Result<Option<TableRecord>> {
        let record = self
            .catalog
            .table(table)?
            .with_context(|| format!("table `{table}` does not exist"))?;
        let Some(dropped_ms) = record.deleted_ms else {
            return Ok(None);
        };
        self.runtime
            .block_on(self.deep_store.restore_table(table, dropped_ms))
            .with_context(|| format!("bring table `{table}` back from the trash"))?;
        let record = self.catalog.set_table_deleted(table, None)?;
        info!(table, "table restored from the trash");
        Ok(Some(record))
    }

    /// Bring a trashed segment back: its file, then its catalog record (so routing).
    /// `None` when it is not in the trash. Unless the table's retention was raised, the
    /// next retention pass trashes it again.
    pub fn restore(&self, table: &str, segment: &str) -> anyhow::Result<Option<SegmentRecord>> {
        let Some(trashed) = self
            .catalog
            .trashed_segments(table)?
            .into_iter()
            .find(|trashed| trashed.record.name == segment)
        else {
            return Ok(None);
        };
        if let Some(location) = &trashed.record.location {
            self.runtime
                .block_on(self.deep_store.restore_file(location, trashed.trashed_ms))
                .with_context(|| format!("bring segment `{segment}` back from the trash"))?;
        }
        let record = self.catalog.restore_segment(table, segment)?;
        info!(table, segment, "segment restored from the trash");
        Ok(Some(record))
    }
}

/// `GET /tables/{t}/trash`: the segments retention trashed, restorable until purged.
pub fn trash_listing(table: &str, trashed: &[TrashedSegment]) -> Json {
    let segments: Vec<Json> = trashed
        .iter()
        .map(|trashed| {
            json!({
                "segmentName": trashed.record.name,
                "trashedMs": trashed.trashed_ms,
                "totalDocs": trashed.record.num_docs,
                "sizeBytes": trashed.record.size_bytes,
                "minTime": trashed.record.min_time,
                "maxTime": trashed.record.max_time,
            })
        })
        .collect();
    json!({"tableName": table, "segments": segments})
}
