//! [`ColdStore`]: sealed segments served straight from the deep store, through a
//! [`SectionCache`] on local disk.
//!
//! - **Open** ([`ColdStore::open_segment`]): one GET of the object's last
//!   [`FOOTER_PROBE`] bytes (a suffix range, which also tells the object's size), a
//!   second only when the metadata is longer than that; the footer is kept in the cache,
//!   so a restart opens the segment with no GET at all.
//! - **Fetch** ([`ColdStore::prefetch`]): the sections a query needs, across all its
//!   segments at once. Sections of one object closer than [`COALESCE_GAP`] share one
//!   range GET; a range longer than [`MAX_GET`] is split into parallel GETs; up to
//!   [`CONCURRENCY`] GETs run at once. Each section is checked against the CRC its
//!   segment's metadata holds as it arrives; a mismatch is fetched again once, then is an
//!   error naming the segment and the section. Concurrent requests for one section share
//!   one GET.
//! - **Read**: a segment reads a section from the cache; one that is not there (the
//!   plan missed it) is fetched on the spot, blocking its CPU thread for a round trip.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{self, StreamExt};
use tessera_segment::footer::{FOOTER_PROBE, FooterRead, read_footer};
use tessera_segment::format::SectionEntry;
use tessera_segment::{ImmutableSegment, OwnedBytes, SectionSource};
use tessera_status::Status;
use tokio::sync::oneshot;

use crate::section_cache::{PieceKey, SectionCache};
use crate::{DeepStore, Error, Result};

/// Sections of one object closer than this share a GET (the bytes between them are
/// read and dropped): 128 KiB, a fraction of one round trip's worth of transfer.
pub const COALESCE_GAP: u64 = 128 * 1024;
/// ... and only while the bytes read and dropped stay under a tenth of the bytes
/// wanted in that GET, so coalescing never reads more than 1.1× what a query needs.
pub const WASTE_RATIO_INVERSE: u64 = 10;
/// A GET longer than this is split into parallel GETs of at most this size.
pub const MAX_GET: u64 = 16 * 1024 * 1024;
/// GETs in flight at once for one prefetch.
pub const CONCURRENCY: usize = 64;

/// What one prefetch did (reported in the query response).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchStats {
    /// GETs issued.
    pub requests: u64,
    /// Bytes those GETs returned.
    pub bytes_fetched: u64,
    /// Bytes of needed sections found in the cache.
    pub bytes_from_cache: u64,
}

impl FetchStats {
    pub fn add(&mut self, other: FetchStats) {
        self.requests += other.requests;
        self.bytes_fetched += other.bytes_fetched;
        self.bytes_from_cache += other.bytes_from_cache;
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct ColdMetrics {
    pub gets: AtomicU64,
    pub get_errors: AtomicU64,
    pub bytes_fetched: AtomicU64,
    pub get_micros: AtomicU64,
    pub footer_gets: AtomicU64,
    pub crc_retries: AtomicU64,
    /// Sections read that no prefetch had fetched.
    pub unplanned_fetches: AtomicU64,
}

/// What one coalesced GET brought: its counters and the pieces it cached.
type GroupFetched = (FetchStats, Vec<(PieceKey, OwnedBytes)>);

type Waiter = Shared<BoxFuture<'static, std::result::Result<(), Arc<str>>>>;

/// Cold segments of one deep store.
pub struct ColdStore {
    store: DeepStore,
    cache: Arc<SectionCache>,
    runtime: tokio::runtime::Handle,
    inflight: Mutex<HashMap<PieceKey, Waiter>>,
    pins: Arc<PinMap>,
    metrics: ColdMetrics,
}

/// One section to fetch, and whom to tell.
struct Wanted {
    key: PieceKey,
    entry: SectionEntry,
    done: oneshot::Sender<std::result::Result<(), Arc<str>>>,
}

impl ColdStore {
    pub fn new(
        store: DeepStore,
        cache: Arc<SectionCache>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<ColdStore> {
        Arc::new(ColdStore {
            store,
            cache,
            runtime,
            inflight: Mutex::default(),
            pins: Arc::default(),
            metrics: ColdMetrics::default(),
        })
    }

    pub fn cache(&self) -> &SectionCache {
        &self.cache
    }

    pub fn metrics(&self) -> &ColdMetrics {
        &self.metrics
    }

    async fn timed_get(&self, location: &str, range: Range<u64>) -> Result<bytes::Bytes> {
        let started = Instant::now();
        let result = self.store.get_range(location, range).await;
        self.record_get(started, &result);
        result
    }

    fn record_get<T>(&self, started: Instant, result: &Result<T>) {
        self.metrics.gets.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .get_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        if result.is_err() {
            self.metrics.get_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Open the segment at `location` from its footer: at most two GETs, none when the
    /// footer is cached. No section is fetched.
    pub async fn open_segment(self: &Arc<Self>, location: &str) -> Result<ImmutableSegment> {
        let label = Path::new(location);
        let (metadata, file_len) = match self.cached_footer(location) {
            Some((bytes, file_len)) => match read_footer(label, file_len, bytes.as_slice()) {
                Ok(FooterRead::Complete(metadata)) => (metadata, file_len),
                // A cached footer is checked by the metadata CRC; anything else was
                // damaged in the cache: read it again.
                _ => self.fetch_footer(location).await?,
            },
            None => self.fetch_footer(location).await?,
        };
        let source = Arc::new(ColdSource {
            store: self.clone(),
            location: location.to_string(),
            generation: self.cache.generation(location),
        });
        ImmutableSegment::open_lazy(label, file_len, *metadata, source)
            .map_err(segment_error(location))
    }

    fn cached_footer(&self, location: &str) -> Option<(OwnedBytes, u64)> {
        let key = self.cache.footer_of(location)?;
        let bytes = self.cache.get(&key)?;
        Some((bytes, key.offset + key.len))
    }

    async fn fetch_footer(
        &self,
        location: &str,
    ) -> Result<(Box<tessera_segment::SegmentMetadata>, u64)> {
        let label = Path::new(location);
        let segment_error = segment_error(location);
        let started = Instant::now();
        let result = self.store.get_tail(location, FOOTER_PROBE).await;
        self.record_get(started, &result);
        self.metrics.footer_gets.fetch_add(1, Ordering::Relaxed);
        let (mut tail, mut start, file_len) = result?;
        self.metrics
            .bytes_fetched
            .fetch_add(tail.len() as u64, Ordering::Relaxed);
        let mut read = read_footer(label, file_len, &tail).map_err(segment_error)?;
        if let FooterRead::NeedsFrom(offset) = read {
            self.metrics.footer_gets.fetch_add(1, Ordering::Relaxed);
            tail = self.timed_get(location, offset..file_len).await?;
            self.metrics
                .bytes_fetched
                .fetch_add(tail.len() as u64, Ordering::Relaxed);
            start = offset;
            read = read_footer(label, file_len, &tail).map_err(segment_error)?;
        }
        let FooterRead::Complete(metadata) = read else {
            return Err(segment_error(tessera_segment::Error::Corrupt {
                path: label.to_path_buf(),
                message: "the trailer points at metadata it then disowns".into(),
            }));
        };
        // Keep only the metadata and trailer (the probe may have read section bytes too).
        let metadata_start = metadata
            .sections
            .last()
            .map_or(tessera_segment::format::HEADER_LEN, |s| s.offset + s.length);
        let keep = &tail[(metadata_start.max(start) - start) as usize..];
        let key = PieceKey {
            object: location.to_string(),
            offset: file_len - keep.len() as u64,
            len: keep.len() as u64,
            footer: true,
        };
        if let Err(error) = self.cache.insert(&key, keep, crc32fast::hash(keep)) {
            tracing::warn!(%error, location, "could not cache a segment footer");
        }
        Ok((metadata, file_len))
    }

    /// Fetch every section in `wanted` (per object location) that the cache lacks; count
    /// a read of every one it holds. What it fetched stays held while the [`Pinned`]
    /// lives: keep it until the query has run.
    pub async fn prefetch(
        &self,
        wanted: &[(String, Vec<SectionEntry>)],
    ) -> Result<(FetchStats, Pinned)> {
        let mut stats = FetchStats::default();
        let missing = self.take_cached(wanted, &mut stats);
        let (fetched, pinned) = self.fetch_missing(&missing).await?;
        stats.add(fetched);
        Ok((stats, pinned))
    }

    /// [`prefetch`](Self::prefetch) from a thread that may block: a query whose
    /// sections are all cached (the common case) never leaves this thread.
    pub fn prefetch_blocking(
        self: &Arc<Self>,
        wanted: &[(String, Vec<SectionEntry>)],
    ) -> Result<(FetchStats, Option<Pinned>)> {
        let mut stats = FetchStats::default();
        let missing = self.take_cached(wanted, &mut stats);
        if missing.is_empty() {
            return Ok((stats, None));
        }
        let store = self.clone();
        let (fetched, pinned) =
            block_on(
                &self.runtime,
                async move { store.fetch_missing(&missing).await },
            )?;
        stats.add(fetched);
        Ok((stats, Some(pinned)))
    }

    /// Count a read of every wanted section the cache holds (its bytes in `stats`);
    /// the others, per location.
    fn take_cached(
        &self,
        wanted: &[(String, Vec<SectionEntry>)],
        stats: &mut FetchStats,
    ) -> Vec<(String, Vec<SectionEntry>)> {
        let mut missing = Vec::new();
        for (location, entries) in wanted {
            let absent: Vec<SectionEntry> = entries
                .iter()
                .filter(|entry| {
                    let key = PieceKey::section(location, entry);
                    let cached = self.cache.touch(&key);
                    if cached {
                        stats.bytes_from_cache += entry.length;
                    }
                    !cached
                })
                .cloned()
                .collect();
            if !absent.is_empty() {
                missing.push((location.clone(), absent));
            }
        }
        missing
    }

    /// Fetch sections the cache lacked.
    async fn fetch_missing(
        &self,
        wanted: &[(String, Vec<SectionEntry>)],
    ) -> Result<(FetchStats, Pinned)> {
        let mut stats = FetchStats::default();
        let mut pinned = Pinned {
            pins: self.pins.clone(),
            keys: Vec::new(),
        };
        let mut waits: Vec<(String, SectionEntry, Waiter)> = Vec::new();
        let mut mine: Vec<(String, Vec<Wanted>)> = Vec::new();
        for (location, entries) in wanted {
            let mut own = Vec::new();
            for entry in entries {
                let key = PieceKey::section(location, entry);
                self.cache.record_miss();
                let mut inflight = self
                    .inflight
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(waiter) = inflight.get(&key) {
                    waits.push((location.clone(), entry.clone(), waiter.clone()));
                    continue;
                }
                let (done, receiver) = oneshot::channel();
                let waiter: Waiter = receiver
                    .map(|result| {
                        result.unwrap_or_else(|_| Err(Arc::from("the fetch was dropped")))
                    })
                    .boxed()
                    .shared();
                inflight.insert(key.clone(), waiter);
                own.push(Wanted {
                    key,
                    entry: entry.clone(),
                    done,
                });
            }
            if !own.is_empty() {
                own.sort_by_key(|wanted| wanted.entry.offset);
                mine.push((location.clone(), own));
            }
        }
        // Group each object's sections into GETs.
        let mut groups: Vec<(String, Vec<Wanted>)> = Vec::new();
        for (location, own) in mine {
            let mut current: Vec<Wanted> = Vec::new();
            let (mut useful, mut wasted) = (0u64, 0u64);
            for wanted in own {
                let gap = current.last().map(|last: &Wanted| {
                    wanted
                        .entry
                        .offset
                        .saturating_sub(last.entry.offset + last.entry.length)
                });
                let close = gap.is_some_and(|gap| {
                    gap <= COALESCE_GAP
                        && (wasted + gap) * WASTE_RATIO_INVERSE <= useful + wanted.entry.length
                });
                if close {
                    wasted += gap.unwrap_or(0);
                } else {
                    (useful, wasted) = (0, 0);
                }
                useful += wanted.entry.length;
                if !close && !current.is_empty() {
                    groups.push((location.clone(), std::mem::take(&mut current)));
                }
                current.push(wanted);
            }
            if !current.is_empty() {
                groups.push((location, current));
            }
        }
        let results: Vec<Result<GroupFetched>> = stream::iter(groups)
            .map(|(location, group)| async move { self.fetch_group(&location, group).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut first_error = None;
        for result in results {
            match result {
                Ok((fetched, pieces)) => {
                    for (key, bytes) in pieces {
                        pinned.hold(&key, bytes);
                    }
                    stats.add(fetched);
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        for (location, entry, waiter) in waits {
            if let Err(message) = waiter.await {
                first_error.get_or_insert(Error::Fetch {
                    message: format!(
                        "{message} (awaited by another query) location=`{location}` column=`{}` section=`{:?}`",
                        entry.column, entry.kind
                    ),
                    status: Status::Unavailable,
                });
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok((stats, pinned)),
        }
    }

    /// One coalesced range of one object: GET it (split when long), check and cache
    /// each section, and tell its waiters.
    async fn fetch_group(&self, location: &str, group: Vec<Wanted>) -> Result<GroupFetched> {
        let start = group.first().map_or(0, |w| w.entry.offset);
        let end = group
            .iter()
            .map(|w| w.entry.offset + w.entry.length)
            .max()
            .unwrap_or(start);
        let mut stats = FetchStats::default();
        let fetched = self.get_split(location, start..end, &mut stats).await;
        let mut first_error = None;
        let mut pieces = Vec::new();
        for wanted in group {
            let outcome = match &fetched {
                Ok(bytes) => {
                    let from = (wanted.entry.offset - start) as usize;
                    let piece = &bytes[from..from + wanted.entry.length as usize];
                    if crc32fast::hash(piece) == wanted.entry.crc32 {
                        self.store_piece(&wanted, piece)
                    } else {
                        // Damaged in transit (or the object changed): once more, alone.
                        self.metrics.crc_retries.fetch_add(1, Ordering::Relaxed);
                        let range = wanted.entry.offset..wanted.entry.offset + wanted.entry.length;
                        match self.get_split(location, range, &mut stats).await {
                            Ok(again) if crc32fast::hash(&again) == wanted.entry.crc32 => {
                                self.store_piece(&wanted, &again)
                            }
                            Ok(_) => Err(Error::Fetch {
                                message: format!(
                                    "a section fetched twice from the deep store does not match its checksum store=`{}` location=`{location}` column=`{}` section=`{:?}`",
                                    self.store.uri(),
                                    wanted.entry.column,
                                    wanted.entry.kind
                                ),
                                status: Status::Corrupt,
                            }),
                            Err(error) => Err(error),
                        }
                    }
                }
                Err(error) => Err(Error::Fetch {
                    message: format!(
                        "the deep store could not be read store=`{}` location=`{location}` column=`{}` section=`{:?}`: {error}",
                        self.store.uri(),
                        wanted.entry.column,
                        wanted.entry.kind
                    ),
                    status: Status::Unavailable,
                }),
            };
            self.inflight
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&wanted.key);
            let outcome = outcome.map(|bytes| pieces.push((wanted.key.clone(), bytes)));
            let message = outcome.as_ref().err().map(|e| Arc::from(e.to_string()));
            let _ = wanted.done.send(match message {
                Some(message) => Err(message),
                None => Ok(()),
            });
            if let Err(error) = outcome {
                first_error.get_or_insert(error);
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok((stats, pieces)),
        }
    }

    fn store_piece(&self, wanted: &Wanted, piece: &[u8]) -> Result<OwnedBytes> {
        self.cache.insert(&wanted.key, piece, wanted.entry.crc32)
    }

    /// GET `range`, in parallel parts of at most [`MAX_GET`] bytes.
    async fn get_split(
        &self,
        location: &str,
        range: Range<u64>,
        stats: &mut FetchStats,
    ) -> Result<bytes::Bytes> {
        let parts: Vec<Range<u64>> = (range.start..range.end)
            .step_by(MAX_GET as usize)
            .map(|start| start..(start + MAX_GET).min(range.end))
            .collect();
        stats.requests += parts.len() as u64;
        let fetched: Vec<Result<bytes::Bytes>> = stream::iter(parts)
            .map(|part| self.timed_get(location, part))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut joined = bytes::BytesMut::with_capacity((range.end - range.start) as usize);
        for part in fetched {
            joined.extend_from_slice(&part?);
        }
        let bytes = joined.freeze();
        stats.bytes_fetched += bytes.len() as u64;
        self.metrics
            .bytes_fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
    }

    /// A section a segment reads that is not cached: fetch it now (from a CPU thread;
    /// the fetch runs on the runtime and this thread waits for it).
    fn fetch_now(self: &Arc<Self>, location: &str, entry: &SectionEntry) -> Result<OwnedBytes> {
        self.metrics
            .unplanned_fetches
            .fetch_add(1, Ordering::Relaxed);
        let wanted = vec![(location.to_string(), vec![entry.clone()])];
        let store = self.clone();
        let (_, pinned) = block_on(&self.runtime, async move { store.prefetch(&wanted).await })?;
        let key = PieceKey::section(location, entry);
        let bytes = self.pinned(&key).or_else(|| self.cache.get(&key));
        drop(pinned);
        bytes.ok_or_else(|| Error::Fetch {
            message: format!(
                "a section fetched from the deep store left the cache before it was read location=`{location}` column=`{}` section=`{:?}`",
                entry.column, entry.kind
            ),
            status: Status::Unavailable,
        })
    }

    /// The bytes of a piece a running query fetched and holds.
    fn pinned(&self, key: &PieceKey) -> Option<OwnedBytes> {
        lock(&self.pins).get(key).map(|(bytes, _)| bytes.clone())
    }
}

type PinMap = Mutex<HashMap<PieceKey, (OwnedBytes, usize)>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The pieces one prefetch fetched, held (mapped) until the query that asked for them
/// ends: a query that needs more than the cache holds does not lose its own sections
/// to its own later fetches.
pub struct Pinned {
    pins: Arc<PinMap>,
    keys: Vec<PieceKey>,
}

impl Pinned {
    fn hold(&mut self, key: &PieceKey, bytes: OwnedBytes) {
        let mut pins = lock(&self.pins);
        pins.entry(key.clone()).or_insert((bytes, 0)).1 += 1;
        self.keys.push(key.clone());
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let mut pins = lock(&self.pins);
        for key in &self.keys {
            if let Some((_, count)) = pins.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    pins.remove(key);
                }
            }
        }
    }
}

/// A segment error of the object at `location`.
fn segment_error(location: &str) -> impl Fn(tessera_segment::Error) -> Error + Copy + '_ {
    move |source| Error::Segment {
        location: location.to_string(),
        source,
    }
}

/// Run `future` on `runtime` and wait for it from this thread, which may be a CPU
/// thread, a blocking-pool thread or a runtime worker (where `Handle::block_on` would
/// panic).
pub fn block_on<T, F>(runtime: &tokio::runtime::Handle, future: F) -> Result<T>
where
    F: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().unwrap_or_else(|_| {
        Err(Error::Fetch {
            message: "the server is shutting down".into(),
            status: Status::Unavailable,
        })
    })
}

/// The [`SectionSource`] of one cold segment.
struct ColdSource {
    store: Arc<ColdStore>,
    location: String,
    generation: Arc<AtomicU64>,
}

impl SectionSource for ColdSource {
    fn read(&self, section: &SectionEntry) -> tessera_segment::Result<OwnedBytes> {
        let key = PieceKey::section(&self.location, section);
        if let Some(bytes) = self
            .store
            .pinned(&key)
            .or_else(|| self.store.cache.get(&key))
        {
            return Ok(bytes);
        }
        self.store
            .fetch_now(&self.location, section)
            .map_err(|error| tessera_segment::Error::Fetch {
                status: error.status(),
                message: error.to_string(),
            })
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}
