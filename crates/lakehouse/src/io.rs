//! Files of an Iceberg table, by the absolute URIs its metadata names: `s3://bucket/key`
//! (also `s3a://`, `s3n://`), `gs://`, `az://`, `file:///path` or a bare absolute path.
//! Each bucket is reached through a [`DeepStore`] opened once (S3 settings from the
//! standard `AWS_*` environment, as the deep store's).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tessera_storage::DeepStore;
use tessera_storage::cold::block_on;

use crate::error::{Error, Result};

/// Reads and writes a table's files; cheap to clone.
#[derive(Clone)]
pub struct FileIo {
    runtime: tokio::runtime::Handle,
    stores: Arc<Mutex<HashMap<String, DeepStore>>>,
}

impl std::fmt::Debug for FileIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileIo").finish_non_exhaustive()
    }
}

/// A URI split into the root a store opens (`s3://bucket`, `/`) and the key under it.
fn split(uri: &str) -> Result<(String, String)> {
    for (scheme, canonical) in [
        ("s3://", "s3://"),
        ("s3a://", "s3://"),
        ("s3n://", "s3://"),
        ("gs://", "gs://"),
        ("az://", "az://"),
    ] {
        if let Some(rest) = uri.strip_prefix(scheme) {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            return Ok((format!("{canonical}{bucket}"), key.to_string()));
        }
    }
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    if let Some(key) = path.strip_prefix('/') {
        return Ok(("/".to_string(), key.to_string()));
    }
    Err(Error::NotFound {
        location: uri.to_string(),
        message: "not a location this server reads (s3://, gs://, az://, file:// or an \
                  absolute path)"
            .into(),
    })
}

/// Parent "directory" of a URI (everything before the last `/`).
pub fn parent(uri: &str) -> &str {
    uri.rsplit_once('/').map_or(uri, |(parent, _)| parent)
}

impl FileIo {
    /// Files reached through `runtime` (the server's I/O runtime); the calls block the
    /// calling thread, which must not be one of the runtime's workers.
    pub fn new(runtime: tokio::runtime::Handle) -> FileIo {
        FileIo {
            runtime,
            stores: Arc::default(),
        }
    }

    fn store(&self, uri: &str, operation: &'static str) -> Result<(DeepStore, String)> {
        let (root, key) = split(uri)?;
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = stores.get(&root) {
            return Ok((store.clone(), key));
        }
        let store = DeepStore::open(&root).map_err(|source| Error::Io {
            operation,
            file: uri.to_string(),
            source: Box::new(source),
        })?;
        stores.insert(root, store.clone());
        Ok((store, key))
    }

    /// The whole file.
    pub fn read(&self, uri: &str) -> Result<Bytes> {
        let (store, key) = self.store(uri, "read")?;
        block_on(&self.runtime, async move { store.get(&key).await }).map_err(|source| Error::Io {
            operation: "read",
            file: uri.to_string(),
            source: Box::new(source),
        })
    }

    /// Copy the file to a local path (written whole, then renamed into place).
    pub fn download(&self, uri: &str, destination: &Path) -> Result<()> {
        let (store, key) = self.store(uri, "download")?;
        let destination = destination.to_path_buf();
        block_on(&self.runtime, async move {
            store.download(&key, &destination, None).await
        })
        .map_err(|source| Error::Io {
            operation: "download",
            file: uri.to_string(),
            source: Box::new(source),
        })
    }

    /// Every file under a directory URI, as absolute URIs in the directory's spelling.
    pub fn list(&self, directory: &str) -> Result<Vec<String>> {
        let directory = directory.trim_end_matches('/');
        let (store, key) = self.store(directory, "list")?;
        let prefix = format!("{key}/");
        let listed = block_on(&self.runtime, {
            let prefix = prefix.clone();
            async move { store.list(&prefix).await }
        })
        .map_err(|source| Error::Io {
            operation: "list",
            file: directory.to_string(),
            source: Box::new(source),
        })?;
        Ok(listed
            .into_iter()
            .filter_map(|location| {
                location
                    .strip_prefix(&prefix)
                    .map(|name| format!("{directory}/{name}"))
            })
            .collect())
    }

    /// Write a file that must not exist yet: `Ok(false)` when it does (another writer
    /// committed that name first).
    pub fn write_new(&self, uri: &str, bytes: Bytes) -> Result<bool> {
        let (store, key) = self.store(uri, "write")?;
        block_on(
            &self.runtime,
            async move { store.put_new(&key, bytes).await },
        )
        .map_err(|source| Error::Io {
            operation: "write",
            file: uri.to_string(),
            source: Box::new(source),
        })
    }

    /// Write (or replace) a file.
    pub fn write(&self, uri: &str, bytes: Bytes) -> Result<()> {
        let (store, key) = self.store(uri, "write")?;
        block_on(&self.runtime, async move { store.put(&key, bytes).await }).map_err(|source| {
            Error::Io {
                operation: "write",
                file: uri.to_string(),
                source: Box::new(source),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_split_into_a_store_root_and_a_key() {
        assert_eq!(
            split("s3://bucket/wh/t/metadata/v1.metadata.json").ok(),
            Some((
                "s3://bucket".into(),
                "wh/t/metadata/v1.metadata.json".into()
            ))
        );
        assert_eq!(
            split("s3a://bucket/k").ok(),
            Some(("s3://bucket".into(), "k".into()))
        );
        assert_eq!(
            split("file:///tmp/wh/x.parquet").ok(),
            Some(("/".into(), "tmp/wh/x.parquet".into()))
        );
        assert_eq!(split("/tmp/a").ok(), Some(("/".into(), "tmp/a".into())));
        assert!(split("hdfs://nn/x").is_err());
        assert!(split("relative/x").is_err());
        assert_eq!(parent("s3://b/t/metadata/x.json"), "s3://b/t/metadata");
    }

    #[test]
    fn local_files_read_list_and_refuse_a_second_create() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let io = FileIo::new(runtime.handle().clone());
        let dir = tempfile::tempdir().expect("tempdir");
        let base = format!("file://{}", dir.path().display());
        let file = format!("{base}/metadata/v1.metadata.json");
        assert!(
            io.write_new(&file, Bytes::from_static(b"{}"))
                .expect("create")
        );
        assert!(
            !io.write_new(&file, Bytes::from_static(b"[]"))
                .expect("exists")
        );
        assert_eq!(io.read(&file).expect("read").as_ref(), b"{}");
        assert_eq!(
            io.list(&format!("{base}/metadata")).expect("list"),
            vec![file.clone()]
        );
        let missing = io.read(&format!("{base}/nope")).expect_err("missing");
        assert!(missing.to_string().contains("nope"), "{missing}");
        assert_eq!(missing.status(), tessera_status::Status::NotFound);
    }
}
