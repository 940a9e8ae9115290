//! [`FileMetaStore`]: the whole catalog in one JSON file, rewritten atomically on every
//! commit (temporary file, fsync, rename, fsync of the directory). The catalog of a
//! standalone server is small (tables and segments, not rows), so a rewrite per commit
//! is cheap, and a crash at any instant leaves either the old or the new file.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::store::{Condition, MetaStore, Op, Transaction, Versioned};
use crate::{Error, Result};

const FILE_NAME: &str = "catalog.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    format_version: u32,
    /// The last version handed out; every write takes the next one (etcd's revision).
    revision: u64,
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    value: String,
    version: u64,
}

/// A [`MetaStore`] in one file under a directory.
pub struct FileMetaStore {
    path: PathBuf,
    contents: Mutex<Contents>,
}

impl std::fmt::Debug for FileMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileMetaStore")
            .field("path", &self.path)
            .finish()
    }
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

impl FileMetaStore {
    /// Open (or create) the catalog in `dir`.
    pub fn open(dir: &Path) -> Result<FileMetaStore> {
        fs::create_dir_all(dir).map_err(io_error(format!("create dir=`{}`", dir.display())))?;
        let path = dir.join(FILE_NAME);
        // A temporary file left by a crash before its rename is not the catalog.
        let _ = fs::remove_file(path.with_extension("json.tmp"));
        let contents = match fs::read(&path) {
            Ok(bytes) => {
                let contents: Contents =
                    serde_json::from_slice(&bytes).map_err(|error| Error::Corrupt {
                        key: path.display().to_string(),
                        message: error.to_string(),
                    })?;
                if contents.format_version != FORMAT_VERSION {
                    return Err(Error::Corrupt {
                        key: path.display().to_string(),
                        message: format!(
                            "format version {} is not supported (this build reads {FORMAT_VERSION})",
                            contents.format_version
                        ),
                    });
                }
                contents
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Contents {
                format_version: FORMAT_VERSION,
                ..Contents::default()
            },
            Err(error) => return Err(io_error(format!("read `{}`", path.display()))(error)),
        };
        Ok(FileMetaStore {
            path,
            contents: Mutex::new(contents),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Contents> {
        // A panic while holding the lock cannot leave a half-applied transaction: changes
        // are made on a copy and swapped in only after the file is durable.
        self.contents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn persist(&self, contents: &Contents) -> Result<()> {
        let bytes = serde_json::to_vec(contents).map_err(|error| Error::Corrupt {
            key: self.path.display().to_string(),
            message: error.to_string(),
        })?;
        let temporary = self.path.with_extension("json.tmp");
        let context = || format!("write `{}`", temporary.display());
        let mut file = File::create(&temporary).map_err(io_error(context()))?;
        file.write_all(&bytes).map_err(io_error(context()))?;
        file.sync_all().map_err(io_error(context()))?;
        drop(file);
        fs::rename(&temporary, &self.path)
            .map_err(io_error(format!("rename to `{}`", self.path.display())))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error(format!("sync dir=`{}`", dir.display())))?;
        }
        Ok(())
    }
}

impl MetaStore for FileMetaStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>> {
        Ok(self.lock().entries.get(key).map(|entry| Versioned {
            value: entry.value.clone(),
            version: entry.version,
        }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>> {
        let contents = self.lock();
        Ok(contents
            .entries
            .range(prefix.to_string()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, entry)| {
                (
                    key.clone(),
                    Versioned {
                        value: entry.value.clone(),
                        version: entry.version,
                    },
                )
            })
            .collect())
    }

    fn commit(&self, transaction: Transaction) -> Result<()> {
        transaction.validate()?;
        let mut contents = self.lock();
        for condition in &transaction.conditions {
            let holds = match condition {
                Condition::Absent(key) => !contents.entries.contains_key(key),
                Condition::Version(key, version) => contents
                    .entries
                    .get(key)
                    .is_some_and(|entry| entry.version == *version),
            };
            if !holds {
                return Err(Error::Conflict(format!(
                    "condition {condition:?} does not hold"
                )));
            }
        }
        let mut entries = contents.entries.clone();
        let revision = contents.revision + 1;
        for op in transaction.ops {
            match op {
                Op::Put(key, value) => {
                    entries.insert(
                        key,
                        Entry {
                            value,
                            version: revision,
                        },
                    );
                }
                Op::Delete(key) => {
                    entries.remove(&key);
                }
                Op::DeletePrefix(prefix) => entries.retain(|key, _| !key.starts_with(&prefix)),
            }
        }
        let next = Contents {
            format_version: FORMAT_VERSION,
            revision,
            entries,
        };
        self.persist(&next)?;
        *contents = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_conformance() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_error("tempdir".into()))?;
        crate::conformance::check_meta_store(std::sync::Arc::new(FileMetaStore::open(dir.path())?))
    }

    #[test]
    fn test_commit_is_durable_and_conditional() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_error("tempdir".into()))?;
        let store = FileMetaStore::open(dir.path())?;
        store.commit(
            Transaction::new()
                .when(Condition::Absent("a".into()))
                .put("a", "1")
                .put("b/x", "2"),
        )?;
        let version = store.get("a")?.map(|v| v.version).unwrap_or_default();
        assert!(version > 0);
        let stale = store.commit(
            Transaction::new()
                .when(Condition::Version("a".into(), version + 7))
                .put("a", "3")
                .put("c", "4"),
        );
        assert!(matches!(stale, Err(Error::Conflict(_))));
        assert_eq!(store.get("c")?, None, "a failed transaction writes nothing");
        drop(store);
        let reopened = FileMetaStore::open(dir.path())?;
        assert_eq!(reopened.get("a")?.map(|v| v.value), Some("1".to_string()));
        let listed = reopened.list("b/")?;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, "b/x");
        reopened.commit(Transaction::new().delete("a"))?;
        assert_eq!(FileMetaStore::open(dir.path())?.get("a")?, None);
        Ok(())
    }
}
