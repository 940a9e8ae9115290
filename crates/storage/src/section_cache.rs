//! [`SectionCache`]: pieces of deep-store objects (segment sections and footers) kept on
//! local disk, bounded in bytes, surviving restarts.
//!
//! **Layout.** One file per piece: `{dir}/{object}.d/{offset}-{len}-{crc:08x}` for a
//! section, `.../footer-{offset}-{len}-{crc:08x}` for a footer. A piece is written to
//! `*.tmp`, then renamed, so a file under its final name is complete; its name carries
//! its CRC, so a restart rebuilds the index from a directory listing and checks each
//! piece on its first read (a torn or damaged file is deleted and fetched again).
//!
//! **Eviction: S3-FIFO** (Yang et al., SOSP 2023). New pieces enter a small FIFO (a
//! tenth of the capacity); one that is read again before it leaves moves to the main
//! FIFO, the rest leave (their keys are remembered in a ghost FIFO, and a piece that
//! comes back while remembered goes straight to main). Main gives each piece a second
//! chance per read (up to 3). A full scan reads each piece once: it passes through the
//! small FIFO and leaves the hot set in main alone, where plain LRU would flush it.
//! Footers are never evicted (they are the segment's metadata; a few KiB each) but count
//! toward the bound.
//!
//! **Eviction and readers.** Pieces are handed out as read-only memory maps; evicting a
//! piece unlinks its file, and a mapping still held keeps its bytes valid until dropped.
//! Each object has a generation, bumped when one of its pieces leaves, so a segment
//! holding maps reopens and releases them ([`SectionCache::generation`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tessera_segment::OwnedBytes;
use tessera_segment::format::SectionEntry;

use crate::{Error, Result};

/// A piece of an object: a byte range, a section or the footer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PieceKey {
    pub object: String,
    pub offset: u64,
    pub len: u64,
    pub footer: bool,
}

#[derive(Debug)]
struct Entry {
    crc: u32,
    freq: u8,
    in_main: bool,
    /// Checked against its CRC since this process started (pieces found on disk at
    /// startup are checked on their first read).
    verified: bool,
}

#[derive(Default)]
struct State {
    entries: HashMap<PieceKey, Entry>,
    small: VecDeque<PieceKey>,
    main: VecDeque<PieceKey>,
    ghost: VecDeque<PieceKey>,
    ghost_set: HashSet<PieceKey>,
    small_bytes: u64,
    used: u64,
    /// The footer piece of each object.
    footers: HashMap<String, PieceKey>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheMetrics {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub bytes_hit: AtomicU64,
    pub inserted_bytes: AtomicU64,
    pub evictions: AtomicU64,
    pub evicted_bytes: AtomicU64,
    /// Pieces found damaged (on disk after a restart) and dropped.
    pub damaged: AtomicU64,
}

/// A byte-bounded disk cache of object pieces.
pub struct SectionCache {
    dir: PathBuf,
    capacity: u64,
    state: Mutex<State>,
    generations: Mutex<HashMap<String, Arc<AtomicU64>>>,
    metrics: CacheMetrics,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

impl PieceKey {
    /// The piece of `object` that holds `section`.
    pub fn section(object: &str, section: &SectionEntry) -> PieceKey {
        PieceKey {
            object: object.to_string(),
            offset: section.offset,
            len: section.length,
            footer: false,
        }
    }

    fn file_name(&self, crc: u32) -> String {
        let kind = if self.footer { "footer-" } else { "" };
        format!("{kind}{}-{}-{crc:08x}", self.offset, self.len)
    }

    /// Parse a file name written by [`PieceKey::file_name`].
    fn parse(object: &str, name: &str) -> Option<(PieceKey, u32)> {
        let (footer, rest) = match name.strip_prefix("footer-") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let mut parts = rest.split('-');
        let offset = parts.next()?.parse().ok()?;
        let len = parts.next()?.parse().ok()?;
        let crc = u32::from_str_radix(parts.next()?, 16).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some((
            PieceKey {
                object: object.to_string(),
                offset,
                len,
                footer,
            },
            crc,
        ))
    }
}

impl SectionCache {
    /// Open (or create) the cache at `dir`, bounded to `capacity` bytes: pieces already
    /// there are indexed (oldest first) and checked on first read; leftovers of
    /// interrupted writes are deleted.
    pub fn open(dir: &Path, capacity: u64) -> Result<SectionCache> {
        std::fs::create_dir_all(dir)
            .map_err(io(format!("create cache dir=`{}`", dir.display())))?;
        let mut found = Vec::new();
        scan(dir, dir, &mut found)?;
        found.sort_by_key(|(_, _, modified)| *modified);
        let cache = SectionCache {
            dir: dir.to_path_buf(),
            capacity,
            state: Mutex::new(State::default()),
            generations: Mutex::default(),
            metrics: CacheMetrics::default(),
        };
        {
            let mut state = cache.lock();
            for ((key, crc), _, _) in found {
                state.used += key.len;
                if key.footer {
                    state.footers.insert(key.object.clone(), key.clone());
                } else {
                    state.main.push_back(key.clone());
                }
                state.entries.insert(
                    key,
                    Entry {
                        crc,
                        freq: 0,
                        in_main: true,
                        verified: false,
                    },
                );
            }
            cache.evict_to_fit(&mut state, 0);
        }
        Ok(cache)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bytes held (pieces indexed, footers included).
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    pub fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// The generation of `object`: it changes when a piece of it is evicted.
    pub fn generation(&self, object: &str) -> Arc<AtomicU64> {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        generations.entry(object.to_string()).or_default().clone()
    }

    fn path_of(&self, key: &PieceKey, crc: u32) -> PathBuf {
        self.dir
            .join(format!("{}.d", key.object))
            .join(key.file_name(crc))
    }

    /// The footer piece of `object`, when cached.
    pub fn footer_of(&self, object: &str) -> Option<PieceKey> {
        self.lock().footers.get(object).cloned()
    }

    /// Whether the piece is cached, without counting a read.
    pub fn contains(&self, key: &PieceKey) -> bool {
        self.lock().entries.contains_key(key)
    }

    /// Count a read of a cached piece for the eviction policy (a query that needs it).
    /// `false` when it is not cached.
    pub fn touch(&self, key: &PieceKey) -> bool {
        let mut state = self.lock();
        match state.entries.get_mut(key) {
            Some(entry) => {
                entry.freq = (entry.freq + 1).min(3);
                self.metrics.hits.fetch_add(1, Ordering::Relaxed);
                self.metrics.bytes_hit.fetch_add(key.len, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The piece's bytes, mapped from disk; `None` when it is not cached, or was found
    /// damaged (then it is dropped). Does not count as a read for eviction: callers
    /// [`touch`](Self::touch) once per query.
    pub fn get(&self, key: &PieceKey) -> Option<OwnedBytes> {
        let (crc, verified) = {
            let state = self.lock();
            let entry = state.entries.get(key)?;
            (entry.crc, entry.verified)
        };
        let path = self.path_of(key, crc);
        let mapped = map_file(&path)
            .ok()
            .filter(|bytes| bytes.len() as u64 == key.len);
        let good = match &mapped {
            Some(bytes) => verified || crc32fast::hash(bytes.as_slice()) == crc,
            None => false,
        };
        if !good {
            self.metrics.damaged.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(path = %path.display(), "a cached piece is damaged or missing; dropping it");
            self.remove(key);
            return None;
        }
        if !verified {
            let mut state = self.lock();
            if let Some(entry) = state.entries.get_mut(key) {
                entry.verified = true;
            }
        }
        mapped
    }

    /// Store a piece whose bytes were checked against `crc`, evicting others to fit,
    /// and return its mapped bytes. A piece larger than the whole cache is not kept (its
    /// bytes are returned from memory).
    pub fn insert(&self, key: &PieceKey, bytes: &[u8], crc: u32) -> Result<OwnedBytes> {
        if let Some(bytes) = self.get(key) {
            return Ok(bytes);
        }
        if !key.footer && key.len > self.capacity {
            return Ok(OwnedBytes::new(bytes.to_vec()));
        }
        let path = self.path_of(key, crc);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io(format!("create dir=`{}`", parent.display())))?;
        }
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, bytes)
            .map_err(io(format!("write `{}`", temporary.display())))?;
        abort_at("cache.insert");
        std::fs::rename(&temporary, &path)
            .map_err(io(format!("rename to `{}`", path.display())))?;
        let mapped = map_file(&path).map_err(io(format!("map `{}`", path.display())))?;
        self.metrics
            .inserted_bytes
            .fetch_add(key.len, Ordering::Relaxed);
        let mut state = self.lock();
        if !state.entries.contains_key(key) {
            self.evict_to_fit(&mut state, key.len);
            let remembered = state.ghost_set.remove(key);
            if remembered {
                state.ghost.retain(|ghost| ghost != key);
            }
            let in_main = key.footer || remembered;
            if key.footer {
                state.footers.insert(key.object.clone(), key.clone());
            } else {
                if in_main {
                    state.main.push_back(key.clone());
                } else {
                    state.small.push_back(key.clone());
                    state.small_bytes += key.len;
                }
            }
            state.used += key.len;
            state.entries.insert(
                key.clone(),
                Entry {
                    crc,
                    freq: 0,
                    in_main,
                    verified: true,
                },
            );
        }
        Ok(mapped)
    }

    /// Record a miss (a piece a query needed that was not cached).
    pub fn record_miss(&self) {
        self.metrics.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Drop a piece (found damaged).
    fn remove(&self, key: &PieceKey) {
        let mut state = self.lock();
        if let Some(entry) = state.entries.remove(key) {
            state.used -= key.len;
            if key.footer {
                state.footers.remove(&key.object);
            } else if entry.in_main {
                state.main.retain(|k| k != key);
            } else {
                state.small.retain(|k| k != key);
                state.small_bytes -= key.len;
            }
            let _ = std::fs::remove_file(self.path_of(key, entry.crc));
            self.generation(&key.object).fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Evict until `incoming` more bytes fit (or nothing evictable is left).
    fn evict_to_fit(&self, state: &mut State, incoming: u64) {
        while state.used + incoming > self.capacity {
            let from_small = state.small_bytes > self.capacity / 10 || state.main.is_empty();
            let key = if from_small {
                match state.small.pop_front() {
                    Some(key) => {
                        state.small_bytes -= key.len;
                        let promoted = state.entries.get_mut(&key).is_some_and(|entry| {
                            if entry.freq > 0 {
                                entry.freq = 0;
                                entry.in_main = true;
                                true
                            } else {
                                false
                            }
                        });
                        if promoted {
                            state.main.push_back(key);
                            continue;
                        }
                        state.ghost_set.insert(key.clone());
                        state.ghost.push_back(key.clone());
                        while state.ghost.len() > state.entries.len().max(64) {
                            if let Some(old) = state.ghost.pop_front() {
                                state.ghost_set.remove(&old);
                            }
                        }
                        key
                    }
                    None => break,
                }
            } else {
                match state.main.pop_front() {
                    Some(key) => {
                        let second_chance = state.entries.get_mut(&key).is_some_and(|entry| {
                            if entry.freq > 0 {
                                entry.freq -= 1;
                                true
                            } else {
                                false
                            }
                        });
                        if second_chance {
                            state.main.push_back(key);
                            continue;
                        }
                        key
                    }
                    None => break,
                }
            };
            if let Some(entry) = state.entries.remove(&key) {
                state.used -= key.len;
                let _ = std::fs::remove_file(self.path_of(&key, entry.crc));
                abort_at("cache.evict");
                self.metrics.evictions.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .evicted_bytes
                    .fetch_add(key.len, Ordering::Relaxed);
                self.generation(&key.object).fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Crash tests' named steps (`TESSERA_FAULTS`, as the sealer's): `cache.insert=abort`
/// ends the process after a piece's temporary file is written and before its rename;
/// `cache.evict=abort` after an evicted piece's file is removed and before the index
/// forgets it. Unset (production), a check is one load.
fn abort_at(step: &str) {
    static FAULTS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let faults = FAULTS.get_or_init(|| std::env::var("TESSERA_FAULTS").unwrap_or_default());
    if faults.is_empty() {
        return;
    }
    let armed = faults
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .any(|(name, action)| name.trim() == step && action.trim() == "abort");
    if armed {
        eprintln!("TESSERA_FAULTS: aborting at {step}");
        std::process::abort();
    }
}

/// Map a cached file read-only.
fn map_file(path: &Path) -> std::io::Result<OwnedBytes> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(OwnedBytes::empty());
    }
    // SAFETY: cache files are written under a temporary name and renamed into place,
    // never written again; eviction unlinks them, which leaves existing maps valid.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }?;
    Ok(OwnedBytes::new(map))
}

/// Every piece under `dir` with its modification time; `*.tmp` leftovers and files
/// that are not pieces are deleted.
type Found = ((PieceKey, u32), PathBuf, std::time::SystemTime);

fn scan(root: &Path, dir: &Path, found: &mut Vec<Found>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(io(format!("list cache dir=`{}`", dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            scan(root, &path, found)?;
            continue;
        }
        let parsed = path
            .parent()
            .and_then(|parent| parent.strip_prefix(root).ok())
            .and_then(|relative| relative.to_str())
            .and_then(|relative| relative.strip_suffix(".d"))
            .zip(path.file_name().and_then(|name| name.to_str()))
            .and_then(|(object, name)| PieceKey::parse(object, name));
        let size = entry.metadata().map(|m| m.len()).ok();
        match parsed {
            Some((key, crc)) if size == Some(key.len) => {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                found.push(((key, crc), path, modified));
            }
            _ => {
                tracing::info!(path = %path.display(), "removing a partial or foreign file from the cache");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(object: &str, offset: u64, len: u64) -> PieceKey {
        PieceKey {
            object: object.into(),
            offset,
            len,
            footer: false,
        }
    }

    fn put(cache: &SectionCache, key: &PieceKey) {
        let bytes = vec![(key.offset % 251) as u8; key.len as usize];
        cache
            .insert(key, &bytes, crc32fast::hash(&bytes))
            .expect("insert");
    }

    #[test]
    fn a_scan_does_not_flush_the_hot_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SectionCache::open(dir.path(), 100_000).expect("open");
        // A hot set of 40 KB, read by every query.
        let hot: Vec<PieceKey> = (0..4)
            .map(|i| key("t/hot.tseg", i * 10_000, 10_000))
            .collect();
        for _ in 0..3 {
            for k in &hot {
                if !cache.touch(k) {
                    put(&cache, k);
                }
            }
        }
        // A scan of 1 MB, each piece read once.
        for i in 0..100 {
            let k = key("t/cold.tseg", i * 10_000, 10_000);
            if !cache.touch(&k) {
                put(&cache, &k);
            }
        }
        assert!(cache.used() <= 100_000);
        for k in &hot {
            assert!(cache.contains(k), "the scan evicted a hot piece {k:?}");
        }
        assert!(cache.metrics().evictions.load(Ordering::Relaxed) > 80);
        assert!(cache.generation("t/cold.tseg").load(Ordering::Relaxed) > 0);
        assert_eq!(cache.generation("t/hot.tseg").load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_restart_keeps_good_pieces_and_drops_damaged_and_torn_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = key("t/s.tseg", 16, 1000);
        let damaged = key("t/s.tseg", 1016, 1000);
        {
            let cache = SectionCache::open(dir.path(), 1 << 20).expect("open");
            put(&cache, &good);
            put(&cache, &damaged);
        }
        // Damage one piece in place, and leave a torn write behind.
        let piece_dir = dir.path().join("t/s.tseg.d");
        let bytes = vec![(1016 % 251) as u8; 1000];
        let damaged_path = piece_dir.join(damaged.file_name(crc32fast::hash(&bytes)));
        let mut on_disk = std::fs::read(&damaged_path).expect("read");
        on_disk[500] ^= 0x40;
        std::fs::write(&damaged_path, on_disk).expect("write");
        std::fs::write(piece_dir.join("2016-1000-00000000.tmp"), b"torn").expect("write");

        let cache = SectionCache::open(dir.path(), 1 << 20).expect("reopen");
        assert!(!piece_dir.join("2016-1000-00000000.tmp").exists());
        let read = cache.get(&good).expect("the good piece survives");
        assert_eq!(read.as_slice(), &[16u8; 1000][..]);
        assert!(
            cache.get(&damaged).is_none(),
            "a damaged piece is never served"
        );
        assert!(!cache.contains(&damaged));
        assert_eq!(cache.used(), 1000);
    }

    #[test]
    fn footers_stay_and_oversized_pieces_pass_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SectionCache::open(dir.path(), 10_000).expect("open");
        let footer = PieceKey {
            footer: true,
            ..key("t/a.tseg", 0, 500)
        };
        put(&cache, &footer);
        for i in 0..50 {
            put(&cache, &key("t/b.tseg", i * 1000, 1000));
        }
        assert!(cache.contains(&footer));
        assert!(cache.used() <= 10_000);
        let huge = key("t/c.tseg", 0, 20_000);
        put(&cache, &huge);
        assert!(!cache.contains(&huge));
    }
}
