//! [`DeepStore`]: segment files on object storage.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};

use crate::metrics::{Operation, StoreMetrics};
use crate::{Error, Result};

const TRASH: &str = "_trash";

/// A deep store rooted at a URI.
#[derive(Clone)]
pub struct DeepStore {
    uri: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    metrics: Arc<StoreMetrics>,
    /// Deterministic tests: asked before every operation (`put LOCATION`, ...); true
    /// fails it (see [`DeepStore::with_faults`]).
    faults: Option<FaultCue>,
    /// The directory of a local store (objects are files under it).
    local_root: Option<PathBuf>,
}

/// Whether to fail an operation, given its description.
pub type FaultCue = Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl std::fmt::Debug for DeepStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepStore").field("uri", &self.uri).finish()
    }
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

fn object_error(operation: String) -> impl FnOnce(object_store::Error) -> Error {
    move |source| Error::ObjectStore { operation, source }
}

/// Object-store retries inside one call: few and quick, because the sealer retries a
/// failed upload itself, with its own backoff and metrics, for as long as it takes.
fn quick_retries() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(10),
        ..RetryConfig::default()
    }
}

/// A Google Cloud Storage (`google`) or Azure Blob Storage client from the standard
/// environment (`GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, ...).
fn cloud_store(google: bool, bucket: &str) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    if google {
        #[cfg(feature = "gcp")]
        return object_store::gcp::GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(bucket)
            .with_retry(quick_retries())
            .build()
            .map(|store| Arc::new(store) as Arc<dyn ObjectStore>)
            .map_err(|error| error.to_string());
        #[cfg(not(feature = "gcp"))]
        return Err(format!(
            "this build has no Google Cloud Storage client (bucket `{bucket}`); rebuild with `--features gcp`"
        ));
    }
    #[cfg(feature = "azure")]
    return object_store::azure::MicrosoftAzureBuilder::from_env()
        .with_container_name(bucket)
        .with_retry(quick_retries())
        .build()
        .map(|store| Arc::new(store) as Arc<dyn ObjectStore>)
        .map_err(|error| error.to_string());
    #[cfg(not(feature = "azure"))]
    return Err(format!(
        "this build has no Azure Blob Storage client (container `{bucket}`); rebuild with `--features azure`"
    ));
}

/// CRC-32 of a whole file (the checksum the catalog keeps per segment).
pub fn file_crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// The length and [`file_crc32`] of a file taken piece by piece as it passes (an upload
/// streamed to disk is checksummed on its way, not read back).
#[derive(Default)]
pub struct FileChecksum {
    hasher: crc32fast::Hasher,
    len: u64,
}

impl FileChecksum {
    pub fn update(&mut self, piece: &[u8]) {
        self.hasher.update(piece);
        self.len += piece.len() as u64;
    }

    /// The length and the CRC of every piece so far, in order.
    pub fn finish(self) -> (u64, u32) {
        (self.len, self.hasher.finalize())
    }
}

impl DeepStore {
    /// Open the deep store at `uri`: a local directory (a path or `file://` URL), or
    /// `s3://bucket[/prefix]` configured from the standard `AWS_*` environment
    /// (`AWS_ENDPOINT` for S3-compatible servers, `AWS_ALLOW_HTTP=true` for plain http).
    pub fn open(uri: &str) -> Result<DeepStore> {
        let invalid = |message: String| Error::InvalidUri {
            uri: uri.to_string(),
            message,
        };
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("the bucket name is missing".into()));
            }
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(quick_retries())
                .build()
                .map_err(|error| invalid(error.to_string()))?;
            return Ok(DeepStore {
                uri: uri.to_string(),
                store: Arc::new(store),
                prefix: ObjectPath::from(prefix.trim_matches('/')),
                metrics: Arc::default(),
                faults: None,
                local_root: None,
            });
        }
        if let Some(rest) = uri
            .strip_prefix("gs://")
            .or_else(|| uri.strip_prefix("az://"))
        {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("the bucket (container) name is missing".into()));
            }
            let store = cloud_store(uri.starts_with("gs://"), bucket).map_err(invalid)?;
            return Ok(DeepStore {
                uri: uri.to_string(),
                store,
                prefix: ObjectPath::from(prefix.trim_matches('/')),
                metrics: Arc::default(),
                faults: None,
                local_root: None,
            });
        }
        if let Some((scheme, _)) = uri.split_once("://")
            && scheme != "file"
        {
            return Err(invalid(format!(
                "scheme `{scheme}` is not supported; use a local directory, s3://, gs:// or az://"
            )));
        }
        let dir = uri.strip_prefix("file://").unwrap_or(uri);
        std::fs::create_dir_all(dir).map_err(io(format!("create deep store dir=`{dir}`")))?;
        let store =
            LocalFileSystem::new_with_prefix(dir).map_err(|error| invalid(error.to_string()))?;
        Ok(DeepStore {
            uri: uri.to_string(),
            store: Arc::new(store),
            prefix: ObjectPath::default(),
            metrics: Arc::default(),
            faults: None,
            local_root: Some(PathBuf::from(dir)),
        })
    }

    /// This store, failing every operation `cue` says to (with a retryable error, as a
    /// network failure): for tests that fail each step of a protocol on cue.
    pub fn with_faults(mut self, cue: FaultCue) -> DeepStore {
        self.faults = Some(cue);
        self
    }

    /// An injected failure for `operation`, when the cue says so.
    fn fault(&self, operation: &str, location: &str) -> Result<()> {
        let call = format!("{operation} {location}");
        match &self.faults {
            Some(cue) if cue(&call) => Err(Error::ObjectStore {
                operation: format!("{call} (injected fault)"),
                source: object_store::Error::Generic {
                    store: "faults",
                    source: "injected fault".into(),
                },
            }),
            _ => Ok(()),
        }
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Operation and error counts of this store (shared by its clones).
    pub fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    fn tally<T, E>(
        &self,
        operation: Operation,
        result: std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.metrics.record(operation, result.is_ok());
        result
    }

    fn path(&self, relative: &str) -> ObjectPath {
        let mut path = self.prefix.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.clone().join(part);
        }
        path
    }

    /// The location (relative to the store root) of a segment file.
    pub fn segment_location(table: &str, segment: &str) -> String {
        format!("{table}/{segment}.tseg")
    }

    /// Upload bytes to `location` (atomic: readers see all of it or nothing),
    /// replacing what is there (a sealer retrying its own upload).
    pub async fn put(&self, location: &str, bytes: bytes::Bytes) -> Result<()> {
        self.fault("put", location)?;
        let result = self
            .store
            .put(&self.path(location), PutPayload::from(bytes))
            .await;
        self.tally(Operation::Put, result)
            .map_err(object_error(format!("put `{location}`")))?;
        Ok(())
    }

    /// Upload bytes to `location` only if nothing is there: `Ok(false)` when something
    /// is (two uploads of one name cannot overwrite each other).
    pub async fn put_new(&self, location: &str, bytes: bytes::Bytes) -> Result<bool> {
        self.fault("put", location)?;
        let options = PutOptions::from(PutMode::Create);
        let result = self
            .store
            .put_opts(&self.path(location), PutPayload::from(bytes), options)
            .await;
        self.metrics.record(
            Operation::Put,
            !matches!(&result, Err(e) if !matches!(e, object_store::Error::AlreadyExists { .. })),
        );
        match result {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(source) => Err(Error::ObjectStore {
                operation: format!("put `{location}`"),
                source,
            }),
        }
    }

    /// [`DeepStore::put_new`] of a file. A local store copies the file in the kernel
    /// (`std::fs::copy`: no buffer of the whole file in this process) to a staging name
    /// and links it into place, which fails when the object exists: its own copy, so a
    /// damaged served file can still be fetched again whole. Other stores put the file's
    /// bytes.
    pub async fn put_file_new(&self, location: &str, file: &Path) -> Result<bool> {
        let Some(root) = &self.local_root else {
            let bytes = std::fs::read(file).map_err(io(format!("read `{}`", file.display())))?;
            return self.put_new(location, bytes.into()).await;
        };
        self.fault("put", location)?;
        let target = root.join(self.path(location).as_ref());
        static STAGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let staged = STAGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let staging = target.with_extension(format!("staging-{}-{staged}", std::process::id()));
        let copied = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::copy(file, &staging))
            .and_then(|_| std::fs::hard_link(&staging, &target));
        let _ = std::fs::remove_file(&staging);
        match copied {
            Ok(()) => {
                self.metrics.record(Operation::Put, true);
                Ok(true)
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                self.metrics.record(Operation::Put, true);
                Ok(false)
            }
            Err(error) => {
                self.metrics.record(Operation::Put, false);
                Err(Error::Io {
                    context: format!("put `{location}` from `{}`", file.display()),
                    source: error,
                })
            }
        }
    }

    /// Download `location` into `destination`, checked against `expected_crc`; the file
    /// appears at `destination` only when it matches.
    pub async fn download(
        &self,
        location: &str,
        destination: &Path,
        expected_crc: Option<u32>,
    ) -> Result<()> {
        self.fault("get", location)?;
        let result = match self.store.get(&self.path(location)).await {
            Ok(got) => got.bytes().await,
            Err(error) => Err(error),
        };
        let bytes = self
            .tally(Operation::Get, result)
            .map_err(object_error(format!("get `{location}`")))?;
        let actual = file_crc32(&bytes);
        if let Some(expected) = expected_crc
            && expected != actual
        {
            return Err(Error::Checksum {
                location: location.to_string(),
                expected,
                actual,
            });
        }
        if let Some(parent) = destination.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io(format!("create dir=`{}`", parent.display())))?;
        }
        let temporary = destination.with_extension("download");
        tokio::fs::write(&temporary, &bytes)
            .await
            .map_err(io(format!("write `{}`", temporary.display())))?;
        tokio::fs::rename(&temporary, destination)
            .await
            .map_err(io(format!("rename to `{}`", destination.display())))?;
        Ok(())
    }

    /// The whole of `location`: one GET.
    pub async fn get(&self, location: &str) -> Result<bytes::Bytes> {
        self.fault("get", location)?;
        let result = match self.store.get(&self.path(location)).await {
            Ok(got) => got.bytes().await,
            Err(error) => Err(error),
        };
        self.tally(Operation::Get, result)
            .map_err(object_error(format!("get `{location}`")))
    }

    /// The last `len` bytes of `location` (all of it when shorter), with the offset they
    /// start at and the object's size: one GET, the footer read of a cold segment.
    pub async fn get_tail(&self, location: &str, len: u64) -> Result<(bytes::Bytes, u64, u64)> {
        self.fault("get", location)?;
        let options = GetOptions {
            range: Some(GetRange::Suffix(len)),
            ..GetOptions::default()
        };
        let result = match self.store.get_opts(&self.path(location), options).await {
            Ok(got) => {
                let (start, size) = (got.range.start, got.meta.size);
                got.bytes().await.map(|bytes| (bytes, start, size))
            }
            Err(error) => Err(error),
        };
        self.tally(Operation::Get, result)
            .map_err(object_error(format!("get `{location}` (last {len} bytes)")))
    }

    /// Bytes `range` of `location`: one range GET.
    pub async fn get_range(&self, location: &str, range: Range<u64>) -> Result<bytes::Bytes> {
        self.fault("get", location)?;
        let result = self
            .store
            .get_range(&self.path(location), range.clone())
            .await;
        let bytes = self
            .tally(Operation::Get, result)
            .map_err(object_error(format!(
                "get `{location}` bytes {}..{}",
                range.start, range.end
            )))?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(Error::ObjectStore {
                operation: format!("get `{location}` bytes {}..{}", range.start, range.end),
                source: object_store::Error::Generic {
                    store: "range",
                    source: format!("the store answered {} bytes", bytes.len()).into(),
                },
            });
        }
        Ok(bytes)
    }

    /// Every location under `prefix` (relative to the store root).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.fault("list", prefix)?;
        let root = self.prefix.as_ref().len();
        let result: std::result::Result<Vec<_>, _> = self
            .store
            .list(Some(&self.path(prefix)))
            .try_collect()
            .await;
        let listed = self
            .tally(Operation::List, result)
            .map_err(object_error(format!("list `{prefix}`")))?;
        Ok(listed
            .into_iter()
            .map(|meta| {
                let full = meta.location.as_ref();
                full[root..].trim_start_matches('/').to_string()
            })
            .collect())
    }

    /// Move every file of `table` under the trash prefix stamped `dropped_ms`.
    pub async fn trash_table(&self, table: &str, dropped_ms: i64) -> Result<()> {
        for location in self.list(&format!("{table}/")).await? {
            let target = format!("{TRASH}/{dropped_ms}/{location}");
            self.rename(&location, &target).await?;
        }
        Ok(())
    }

    /// Bring back what [`DeepStore::trash_table`] moved.
    pub async fn restore_table(&self, table: &str, dropped_ms: i64) -> Result<()> {
        let trash = format!("{TRASH}/{dropped_ms}/");
        for location in self.list(&format!("{trash}{table}/")).await? {
            let target = location[trash.len()..].to_string();
            self.rename(&location, &target).await?;
        }
        Ok(())
    }

    /// Delete for good what [`DeepStore::trash_table`] moved (after the retention).
    pub async fn purge_trash(&self, table: &str, dropped_ms: i64) -> Result<usize> {
        let locations = self.list(&format!("{TRASH}/{dropped_ms}/{table}/")).await?;
        for location in &locations {
            let result = self.store.delete(&self.path(location)).await;
            self.tally(Operation::Delete, result)
                .map_err(object_error(format!("delete `{location}`")))?;
        }
        Ok(locations.len())
    }

    /// Where [`DeepStore::trash_file`] puts `location` trashed at `trashed_ms`.
    pub fn trashed_location(location: &str, trashed_ms: i64) -> String {
        format!("{TRASH}/{trashed_ms}/{location}")
    }

    /// Move one file (a segment retention removed) into the trash stamped
    /// `trashed_ms`. Idempotent: a file already moved is fine.
    pub async fn trash_file(&self, location: &str, trashed_ms: i64) -> Result<()> {
        let target = Self::trashed_location(location, trashed_ms);
        self.move_once(location, &target).await
    }

    /// Bring back what [`DeepStore::trash_file`] moved. Idempotent.
    pub async fn restore_file(&self, location: &str, trashed_ms: i64) -> Result<()> {
        let trashed = Self::trashed_location(location, trashed_ms);
        self.move_once(&trashed, location).await
    }

    /// Delete for good a file [`DeepStore::trash_file`] moved (or was to move: a crash
    /// between the catalog and the move leaves it in place). Missing files are fine.
    pub async fn delete_trashed_file(&self, location: &str, trashed_ms: i64) -> Result<()> {
        self.fault("delete", location)?;
        for path in [
            Self::trashed_location(location, trashed_ms),
            location.to_string(),
        ] {
            let result = self.store.delete(&self.path(&path)).await;
            match self.tally(Operation::Delete, result) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(Error::ObjectStore {
                        operation: format!("delete `{path}`"),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Rename `from` to `to`, fine when `from` is gone and `to` is there already.
    async fn move_once(&self, from: &str, to: &str) -> Result<()> {
        match self.rename(from, to).await {
            Ok(()) => Ok(()),
            Err(error) => {
                let result = self.store.head(&self.path(to)).await;
                match self.tally(Operation::Get, result) {
                    Ok(_) => Ok(()),
                    Err(_) => Err(error),
                }
            }
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.fault("rename", from)?;
        let result = self.store.rename(&self.path(from), &self.path(to)).await;
        self.tally(Operation::Rename, result)
            .map_err(object_error(format!("move `{from}` to `{to}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_a_local_store_copies_a_file_put_once() -> Result<()> {
        let root = tempfile::tempdir().map_err(io("tempdir".into()))?;
        let store = DeepStore::open(&root.path().join("deep").display().to_string())?;
        let file = root.path().join("upload.tseg");
        std::fs::write(&file, b"segment bytes").map_err(io("write".into()))?;
        let bytes = bytes::Bytes::from_static(b"segment bytes");
        let location = DeepStore::segment_location("events", "events__0__0");
        assert!(store.put_file_new(&location, &file).await?);
        let mut checksum = FileChecksum::default();
        for piece in bytes.chunks(5) {
            checksum.update(piece);
        }
        assert_eq!(checksum.finish(), (bytes.len() as u64, file_crc32(&bytes)));
        assert!(
            !store.put_file_new(&location, &file).await?,
            "a second upload of a name is refused"
        );
        let stored = root
            .path()
            .join("deep")
            .join(store.path(&location).as_ref());
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(&stored).map_err(io("stat".into()))?;
        assert_eq!(
            metadata.nlink(),
            1,
            "a copy of its own, not a link to the file"
        );
        assert_eq!(
            std::fs::read(&stored).map_err(io("read".into()))?,
            bytes.to_vec()
        );
        assert_eq!(store.list("events/").await?, vec![location.clone()]);
        // The served file goes away (a cold segment): the stored one stays.
        std::fs::remove_file(&file).map_err(io("remove".into()))?;
        let cached = root.path().join("cached.tseg");
        store
            .download(&location, &cached, Some(file_crc32(&bytes)))
            .await?;
        // Injected faults still fail the put.
        let failing = store.with_faults(Arc::new(|call: &str| call.starts_with("put")));
        let other = DeepStore::segment_location("events", "events__0__1");
        assert!(failing.put_file_new(&other, &cached).await.is_err());
        Ok(())
    }

    #[tokio::test]
    async fn test_local_put_download_trash_restore() -> Result<()> {
        let root = tempfile::tempdir().map_err(io("tempdir".into()))?;
        let store = DeepStore::open(&root.path().join("deep").display().to_string())?;
        let bytes = bytes::Bytes::from_static(b"segment bytes");
        let location = DeepStore::segment_location("events", "events__0__0");
        store.put(&location, bytes.clone()).await?;
        assert!(
            !store.put_new(&location, bytes.clone()).await?,
            "a second upload of a name is refused"
        );
        let cached = root.path().join("cache/events__0__0.tseg");
        store
            .download(&location, &cached, Some(file_crc32(&bytes)))
            .await?;
        assert_eq!(
            std::fs::read(&cached).map_err(io("read".into()))?,
            bytes.to_vec()
        );
        let wrong = store
            .download(&location, &root.path().join("x.tseg"), Some(1))
            .await;
        assert!(matches!(wrong, Err(Error::Checksum { .. })));
        assert!(!root.path().join("x.tseg").exists());
        store.trash_table("events", 42).await?;
        assert!(store.list("events/").await?.is_empty());
        store.restore_table("events", 42).await?;
        assert_eq!(store.list("events/").await?, vec![location.clone()]);
        store.trash_table("events", 43).await?;
        assert_eq!(store.purge_trash("events", 43).await?, 1);
        assert!(
            store.list("").await?.is_empty(),
            "nothing is left after the purge"
        );
        Ok(())
    }

    #[tokio::test]
    async fn test_one_file_to_the_trash_and_back() -> Result<()> {
        let root = tempfile::tempdir().map_err(io("tempdir".into()))?;
        let store = DeepStore::open(&root.path().join("deep").display().to_string())?;
        let location = DeepStore::segment_location("events", "events__0__0");
        let other = DeepStore::segment_location("events", "events__0__1");
        store
            .put(&location, bytes::Bytes::from_static(b"a"))
            .await?;
        store.put(&other, bytes::Bytes::from_static(b"b")).await?;
        store.trash_file(&location, 7).await?;
        store.trash_file(&location, 7).await?;
        assert_eq!(store.list("events/").await?, vec![other.clone()]);
        assert_eq!(
            store.list("_trash/").await?,
            vec![DeepStore::trashed_location(&location, 7)]
        );
        assert!(
            store.trash_file("events/missing.tseg", 7).await.is_err(),
            "a file that is nowhere is an error"
        );
        store.restore_file(&location, 7).await?;
        store.restore_file(&location, 7).await?;
        assert_eq!(store.list("events/").await?.len(), 2);
        store.trash_file(&location, 8).await?;
        store.delete_trashed_file(&location, 8).await?;
        store.delete_trashed_file(&location, 8).await?;
        assert_eq!(store.list("").await?, vec![other]);
        Ok(())
    }
}
