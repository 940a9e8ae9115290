//! [`Catalog`]: typed access to tables, schemas and segments over a [`MetaStore`].

use std::sync::Arc;

use crate::model::{SegmentRecord, SegmentState, TableRecord, TrashedSegment};
use crate::store::{Condition, MetaStore, Transaction, Versioned};
use crate::{Error, Result};

const SCHEMAS: &str = "schemas/";
const TABLES: &str = "tables/";
const SEGMENTS: &str = "segments/";
const TRASH: &str = "trash/";
/// `paused/{table}`: the operator paused the REALTIME table's consumption.
pub const PAUSED: &str = "paused/";

/// The key that records a table's consumption as paused.
pub fn paused_key(table: &str) -> String {
    format!("{PAUSED}{table}")
}

/// The catalog of one deployment.
#[derive(Clone)]
pub struct Catalog {
    store: Arc<dyn MetaStore>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

fn segment_key(table: &str, segment: &str) -> String {
    format!("{SEGMENTS}{table}/{segment}")
}

fn trash_key(table: &str, segment: &str) -> String {
    format!("{TRASH}{table}/{segment}")
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, stored: &Versioned) -> Result<T> {
    serde_json::from_str(&stored.value).map_err(|error| Error::Corrupt {
        key: key.to_string(),
        message: error.to_string(),
    })
}

fn encode<T: serde::Serialize>(key: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|error| Error::Corrupt {
        key: key.to_string(),
        message: error.to_string(),
    })
}

impl Catalog {
    pub fn new(store: Arc<dyn MetaStore>) -> Catalog {
        Catalog { store }
    }

    // --- schemas (the Pinot JSON as posted)

    /// Create or replace a schema.
    pub fn put_schema(&self, name: &str, json: &str) -> Result<()> {
        self.store
            .commit(Transaction::new().put(format!("{SCHEMAS}{name}"), json))
    }

    pub fn schema(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .get(&format!("{SCHEMAS}{name}"))?
            .map(|stored| stored.value))
    }

    pub fn schema_names(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .list(SCHEMAS)?
            .into_iter()
            .map(|(key, _)| key[SCHEMAS.len()..].to_string())
            .collect())
    }

    // --- tables

    /// Create a table; fails when a live table of that name exists. A dropped table of
    /// the same name is replaced (its trash stays in the deep store until purged).
    pub fn create_table(&self, record: &TableRecord) -> Result<()> {
        let key = format!("{TABLES}{}", record.name);
        let mut transaction = Transaction::new();
        match self.store.get(&key)? {
            Some(stored) => {
                let existing: TableRecord = decode(&key, &stored)?;
                if existing.deleted_ms.is_none() {
                    return Err(Error::AlreadyExists(format!(
                        "table `{}` already exists",
                        record.name
                    )));
                }
                transaction = transaction
                    .when(Condition::Version(key.clone(), stored.version))
                    .delete_prefix(format!("{SEGMENTS}{}/", record.name))
                    .delete_prefix(format!("{TRASH}{}/", record.name));
            }
            None => transaction = transaction.when(Condition::Absent(key.clone())),
        }
        let value = encode(&key, record)?;
        self.store.commit(transaction.put(key, value))
    }

    pub fn table(&self, name: &str) -> Result<Option<TableRecord>> {
        let key = format!("{TABLES}{name}");
        self.store
            .get(&key)?
            .map(|stored| decode(&key, &stored))
            .transpose()
    }

    /// Every table, dropped ones included (check `deleted_ms`).
    pub fn tables(&self) -> Result<Vec<TableRecord>> {
        self.store
            .list(TABLES)?
            .iter()
            .map(|(key, stored)| decode(key, stored))
            .collect()
    }

    /// Mark a table dropped (`deleted_ms`) or restored (`None`).
    pub fn set_table_deleted(&self, name: &str, deleted_ms: Option<i64>) -> Result<TableRecord> {
        let key = format!("{TABLES}{name}");
        let stored = self
            .store
            .get(&key)?
            .ok_or_else(|| Error::NotFound(format!("table `{name}` does not exist")))?;
        let mut record: TableRecord = decode(&key, &stored)?;
        record.deleted_ms = deleted_ms;
        self.put_if_unchanged(key, stored.version, &record)?;
        Ok(record)
    }

    /// Remove a dropped table and its segments from the catalog for good (after its
    /// trash retention); refused for a live table.
    pub fn purge_table(&self, name: &str) -> Result<()> {
        let key = format!("{TABLES}{name}");
        let stored = self
            .store
            .get(&key)?
            .ok_or_else(|| Error::NotFound(format!("table `{name}` does not exist")))?;
        let record: TableRecord = decode(&key, &stored)?;
        if record.deleted_ms.is_none() {
            return Err(Error::Conflict(format!(
                "table `{name}` is live; drop it first"
            )));
        }
        self.store.commit(
            Transaction::new()
                .when(Condition::Version(key.clone(), stored.version))
                .delete(key)
                .delete_prefix(format!("{SEGMENTS}{name}/"))
                .delete_prefix(format!("{TRASH}{name}/"))
                .delete(paused_key(name)),
        )
    }

    // --- consumption

    /// Whether the table's consumption is paused (`pauseConsumption`): its consumers
    /// start paused after a restart, or on another server.
    pub fn is_paused(&self, table: &str) -> Result<bool> {
        Ok(self.store.get(&paused_key(table))?.is_some())
    }

    /// Record the table's consumption as paused, or not (standalone; a cluster's
    /// controller writes the same key in its fenced transactions).
    pub fn set_paused(&self, table: &str, paused: bool) -> Result<()> {
        let key = paused_key(table);
        let transaction = if paused {
            Transaction::new().put(key, "true".to_string())
        } else {
            Transaction::new().delete(key)
        };
        self.store.commit(transaction)
    }

    /// Rewrite the record at `key`, read at `version` a moment ago, if no one wrote it
    /// since (a conflict otherwise).
    fn put_if_unchanged<T: serde::Serialize>(
        &self,
        key: String,
        version: u64,
        record: &T,
    ) -> Result<()> {
        let value = encode(&key, record)?;
        self.store.commit(
            Transaction::new()
                .when(Condition::Version(key.clone(), version))
                .put(key, value),
        )
    }

    // --- segments

    /// Segments of a table in key order.
    pub fn segments(&self, table: &str) -> Result<Vec<SegmentRecord>> {
        self.store
            .list(&format!("{SEGMENTS}{table}/"))?
            .iter()
            .map(|(key, stored)| decode(key, stored))
            .collect()
    }

    /// Add a new segment (a partition's first consuming segment, or an uploaded batch
    /// segment); fails if one of that name exists.
    pub fn add_segment(&self, record: &SegmentRecord) -> Result<()> {
        let key = segment_key(&record.table, &record.name);
        let value = encode(&key, record)?;
        self.store.commit(
            Transaction::new()
                .when(Condition::Absent(key.clone()))
                .put(key, value),
        )
    }

    /// The segment commit (DESIGN §3): in one atomic write, `done` (which must be
    /// CONSUMING in the catalog now) becomes DONE with its end offset and location, and
    /// `next` — the partition's next consuming segment — is recorded.
    pub fn commit_segment(&self, done: &SegmentRecord, next: Option<&SegmentRecord>) -> Result<()> {
        let key = segment_key(&done.table, &done.name);
        let stored = self.store.get(&key)?.ok_or_else(|| {
            Error::NotFound(format!("segment `{}` is not in the catalog", done.name))
        })?;
        let current: SegmentRecord = decode(&key, &stored)?;
        if current.state != SegmentState::Consuming {
            return Err(Error::Conflict(format!(
                "segment `{}` is already {:?}",
                done.name, current.state
            )));
        }
        let mut transaction = Transaction::new()
            .when(Condition::Version(key.clone(), stored.version))
            .put(key.clone(), encode(&key, done)?);
        if let Some(next) = next {
            let next_key = segment_key(&next.table, &next.name);
            let value = encode(&next_key, next)?;
            transaction = transaction
                .when(Condition::Absent(next_key.clone()))
                .put(next_key, value);
        }
        self.store.commit(transaction)
    }

    /// Clear the idempotency keys of `table`'s DONE segments of `partition` committed
    /// before `before_ms` (their window has passed: a retry of those requests is new
    /// again); returns how many records were cleared. Each record is rewritten only if
    /// it did not change meanwhile.
    pub fn expire_idempotency_keys(
        &self,
        table: &str,
        partition: u32,
        before_ms: i64,
    ) -> Result<usize> {
        let mut cleared = 0;
        for (key, stored) in self.store.list(&format!("{SEGMENTS}{table}/"))? {
            let mut record: SegmentRecord = decode(&key, &stored)?;
            let committed = record.committed_ms.unwrap_or(record.created_ms);
            if record.partition != partition
                || record.state != SegmentState::Done
                || record.idempotency_keys.is_empty()
                || committed >= before_ms
            {
                continue;
            }
            record.idempotency_keys.clear();
            self.put_if_unchanged(key, stored.version, &record)?;
            cleared += 1;
        }
        Ok(cleared)
    }

    // --- retention's trash

    /// Take a DONE segment out of the table (out of routing) into the trash, in one
    /// atomic write; fails if the segment changed or is not DONE.
    pub fn trash_segment(
        &self,
        table: &str,
        segment: &str,
        trashed_ms: i64,
    ) -> Result<TrashedSegment> {
        let key = segment_key(table, segment);
        let stored = self.store.get(&key)?.ok_or_else(|| {
            Error::NotFound(format!("segment `{segment}` is not in table `{table}`"))
        })?;
        let record: SegmentRecord = decode(&key, &stored)?;
        if record.state != SegmentState::Done {
            return Err(Error::Conflict(format!(
                "segment `{segment}` is {:?}; only sealed segments expire",
                record.state
            )));
        }
        let trashed = TrashedSegment { record, trashed_ms };
        let trash = trash_key(table, segment);
        let value = encode(&trash, &trashed)?;
        self.store.commit(
            Transaction::new()
                .when(Condition::Version(key.clone(), stored.version))
                .delete(key)
                .put(trash, value),
        )?;
        Ok(trashed)
    }

    /// The trashed segments of a table in name order.
    pub fn trashed_segments(&self, table: &str) -> Result<Vec<TrashedSegment>> {
        self.store
            .list(&format!("{TRASH}{table}/"))?
            .iter()
            .map(|(key, stored)| decode(key, stored))
            .collect()
    }

    /// Put a trashed segment back into its table (its file must be back in place);
    /// fails if a segment of that name exists again.
    pub fn restore_segment(&self, table: &str, segment: &str) -> Result<SegmentRecord> {
        let trash = trash_key(table, segment);
        let stored = self.store.get(&trash)?.ok_or_else(|| {
            Error::NotFound(format!(
                "segment `{segment}` of table `{table}` is not in the trash"
            ))
        })?;
        let trashed: TrashedSegment = decode(&trash, &stored)?;
        let key = segment_key(table, segment);
        let value = encode(&key, &trashed.record)?;
        self.store.commit(
            Transaction::new()
                .when(Condition::Version(trash.clone(), stored.version))
                .when(Condition::Absent(key.clone()))
                .delete(trash)
                .put(key, value),
        )?;
        Ok(trashed.record)
    }

    /// Forget a trashed segment for good (after the trash retention).
    pub fn purge_trashed_segment(&self, table: &str, segment: &str) -> Result<()> {
        self.store
            .commit(Transaction::new().delete(trash_key(table, segment)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileMetaStore;

    fn consuming(name: &str, partition: u32, sequence: u32, start: u64) -> SegmentRecord {
        SegmentRecord::consuming("events", name, partition, sequence, start, 0)
    }

    #[test]
    fn test_commit_segment_chains_offsets_atomically() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            context: "tempdir".into(),
            source,
        })?;
        let catalog = Catalog::new(Arc::new(FileMetaStore::open(dir.path())?));
        catalog.add_segment(&consuming("events__0__0", 0, 0, 0))?;
        let mut done = consuming("events__0__0", 0, 0, 0);
        done.state = SegmentState::Done;
        done.end_offset = Some(10);
        let next = consuming("events__0__1", 0, 1, 10);
        catalog.commit_segment(&done, Some(&next))?;
        // A second commit of the same segment is refused and changes nothing.
        let again = catalog.commit_segment(&done, Some(&consuming("events__0__9", 0, 9, 10)));
        assert!(matches!(again, Err(Error::Conflict(_))));
        let segments = catalog.segments("events")?;
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0].end_offset, Some(10));
        assert_eq!(segments[1].start_offset, 10);
        assert_eq!(segments[1].state, SegmentState::Consuming);
        Ok(())
    }

    #[test]
    fn test_drop_and_recreate_table() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            context: "tempdir".into(),
            source,
        })?;
        let catalog = Catalog::new(Arc::new(FileMetaStore::open(dir.path())?));
        let record = TableRecord {
            name: "events".into(),
            table_type: "REALTIME".into(),
            schema_name: "events".into(),
            config: serde_json::json!({}),
            created_ms: 1,
            deleted_ms: None,
        };
        catalog.create_table(&record)?;
        assert!(matches!(
            catalog.create_table(&record),
            Err(Error::AlreadyExists(_))
        ));
        catalog.set_table_deleted("events", Some(5))?;
        assert_eq!(catalog.table("events")?.and_then(|t| t.deleted_ms), Some(5));
        catalog.set_table_deleted("events", None)?;
        assert_eq!(catalog.table("events")?.and_then(|t| t.deleted_ms), None);
        assert!(
            matches!(catalog.purge_table("events"), Err(Error::Conflict(_))),
            "live tables stay"
        );
        catalog.set_table_deleted("events", Some(9))?;
        catalog.purge_table("events")?;
        assert_eq!(catalog.table("events")?, None);
        Ok(())
    }

    #[test]
    fn test_trash_and_restore_a_sealed_segment() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            context: "tempdir".into(),
            source,
        })?;
        let catalog = Catalog::new(Arc::new(FileMetaStore::open(dir.path())?));
        catalog.add_segment(&consuming("events__0__0", 0, 0, 0))?;
        assert!(
            matches!(
                catalog.trash_segment("events", "events__0__0", 7),
                Err(Error::Conflict(_))
            ),
            "a consuming segment does not expire"
        );
        let mut done = consuming("events__0__0", 0, 0, 0);
        done.state = SegmentState::Done;
        done.end_offset = Some(10);
        catalog.commit_segment(&done, Some(&consuming("events__0__1", 0, 1, 10)))?;
        let trashed = catalog.trash_segment("events", "events__0__0", 7)?;
        assert_eq!((trashed.trashed_ms, &trashed.record), (7, &done));
        assert_eq!(catalog.segments("events")?.len(), 1, "out of the table");
        assert_eq!(catalog.trashed_segments("events")?, vec![trashed]);
        assert!(matches!(
            catalog.trash_segment("events", "events__0__0", 8),
            Err(Error::NotFound(_))
        ));
        assert_eq!(catalog.restore_segment("events", "events__0__0")?, done);
        assert_eq!(catalog.segments("events")?.len(), 2);
        assert!(catalog.trashed_segments("events")?.is_empty());
        assert!(matches!(
            catalog.restore_segment("events", "events__0__0"),
            Err(Error::NotFound(_))
        ));
        catalog.trash_segment("events", "events__0__0", 9)?;
        catalog.purge_trashed_segment("events", "events__0__0")?;
        assert!(catalog.trashed_segments("events")?.is_empty());
        Ok(())
    }
}
