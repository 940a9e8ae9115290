//! The write-ahead log of pushed rows: what makes an acknowledged push durable.
//!
//! One file per consuming segment, `{dir}/{start_offset:020}.wal`, so trimming after a
//! segment commit is deleting its file. Layout (little-endian):
//! - header: magic `TWAL`, format version u32, start offset u64, created ms i64;
//! - records: `payload_len u32 | crc32(payload) u32 | payload`, payload =
//!   `start_offset u64 | rows u32 | key_len u16 | key | body` (the request's JSON lines).
//!
//! A request is one record, written and fsynced before it is acknowledged, so after a
//! crash it is there whole or — a torn tail, detected by length or CRC and cut off on
//! open — not at all.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"TWAL";
const FORMAT_VERSION: u32 = 1;
const HEADER_BYTES: usize = 24;
const EXTENSION: &str = "wal";

/// One acknowledged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Stream offset of the request's first row.
    pub start_offset: u64,
    pub rows: u32,
    pub idempotency_key: Option<String>,
    /// The JSON lines as received (decoding them again yields the same rows).
    pub body: Vec<u8>,
}

/// The header of a log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalHeader {
    pub start_offset: u64,
    pub created_ms: i64,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Local {
        what: format!("write-ahead log file `{}`", path.display()),
        source,
    }
}

/// The log file of the segment starting at `start_offset`.
pub fn wal_path(dir: &Path, start_offset: u64) -> PathBuf {
    dir.join(format!("{start_offset:020}.{EXTENSION}"))
}

/// Log files in `dir`, by start offset.
pub fn list_wal_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_error(dir)(error)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_error(dir))?.path();
        let start = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == EXTENSION))
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(start) = start {
            files.push((start, path));
        }
    }
    files.sort();
    Ok(files)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Appends records to one log file.
#[derive(Debug)]
pub struct WalWriter {
    path: PathBuf,
    file: BufWriter<File>,
    bytes: u64,
}

impl WalWriter {
    /// Create the log of a new segment (durably: the file and its directory entry).
    pub fn create(dir: &Path, header: WalHeader) -> Result<WalWriter> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let path = wal_path(dir, header.start_offset);
        let mut file = File::create(&path).map_err(io_error(&path))?;
        let mut bytes = Vec::with_capacity(HEADER_BYTES);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&header.start_offset.to_le_bytes());
        bytes.extend_from_slice(&header.created_ms.to_le_bytes());
        file.write_all(&bytes).map_err(io_error(&path))?;
        file.sync_all().map_err(io_error(&path))?;
        sync_dir(dir)?;
        Ok(WalWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            path,
            bytes: HEADER_BYTES as u64,
        })
    }

    /// Continue an existing log of `valid_bytes` good bytes (see [`read_wal`]).
    pub fn reopen(path: &Path, valid_bytes: u64) -> Result<WalWriter> {
        let mut file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_error(path))?;
        file.set_len(valid_bytes).map_err(io_error(path))?;
        file.seek(SeekFrom::End(0)).map_err(io_error(path))?;
        file.sync_all().map_err(io_error(path))?;
        Ok(WalWriter {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(1 << 20, file),
            bytes: valid_bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file (after the pending writes).
    pub fn len(&self) -> u64 {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes <= HEADER_BYTES as u64
    }

    /// Buffer a record; it is durable after the next [`WalWriter::sync`].
    pub fn append(&mut self, record: &WalRecord) -> Result<()> {
        let key = record.idempotency_key.as_deref().unwrap_or("").as_bytes();
        let key_len = u16::try_from(key.len())
            .map_err(|_| Error::Invalid("Idempotency-Key is longer than 65535 bytes".into()))?;
        let payload_len = 8 + 4 + 2 + key.len() + record.body.len();
        let payload_len = u32::try_from(payload_len)
            .map_err(|_| Error::Invalid("a request body over 4 GiB cannot be logged".into()))?;
        let mut hasher = crc32fast::Hasher::new();
        let mut head = Vec::with_capacity(14 + key.len());
        head.extend_from_slice(&record.start_offset.to_le_bytes());
        head.extend_from_slice(&record.rows.to_le_bytes());
        head.extend_from_slice(&key_len.to_le_bytes());
        head.extend_from_slice(key);
        hasher.update(&head);
        hasher.update(&record.body);
        let path = self.path.clone();
        self.file
            .write_all(&payload_len.to_le_bytes())
            .map_err(io_error(&path))?;
        self.file
            .write_all(&hasher.finalize().to_le_bytes())
            .map_err(io_error(&path))?;
        self.file.write_all(&head).map_err(io_error(&path))?;
        self.file.write_all(&record.body).map_err(io_error(&path))?;
        self.bytes += 8 + u64::from(payload_len);
        Ok(())
    }

    /// Make every appended record durable (one fsync for all of them: group commit).
    pub fn sync(&mut self) -> Result<()> {
        let path = self.path.clone();
        self.file.flush().map_err(io_error(&path))?;
        self.file.get_ref().sync_data().map_err(io_error(&path))
    }
}

/// What a log file holds.
#[derive(Debug)]
pub struct WalContents {
    pub header: WalHeader,
    pub records: Vec<WalRecord>,
    /// Bytes up to the end of the last whole record; anything after is a torn write.
    pub valid_bytes: u64,
}

/// Read a log file up to its first torn or corrupt record.
pub fn read_wal(path: &Path) -> Result<WalContents> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(io_error(path))?;
    let corrupt = |message: &str| Error::Invalid(format!("{message} path=`{}`", path.display()));
    if bytes.len() < HEADER_BYTES || &bytes[..4] != MAGIC {
        return Err(corrupt("not a write-ahead log file"));
    }
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let u64_at = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    if u32_at(4) != FORMAT_VERSION {
        return Err(corrupt("unsupported write-ahead log version"));
    }
    let header = WalHeader {
        start_offset: u64_at(8),
        created_ms: u64_at(16) as i64,
    };
    let mut records = Vec::new();
    let mut at = HEADER_BYTES;
    while at + 8 <= bytes.len() {
        let payload_len = u32_at(at) as usize;
        let crc = u32_at(at + 4);
        let start = at + 8;
        let Some(end) = start
            .checked_add(payload_len)
            .filter(|end| *end <= bytes.len())
        else {
            break;
        };
        let payload = &bytes[start..end];
        if payload_len < 14 || crc32fast::hash(payload) != crc {
            break;
        }
        let key_len = u16::from_le_bytes([payload[12], payload[13]]) as usize;
        if 14 + key_len > payload.len() {
            break;
        }
        let key = String::from_utf8_lossy(&payload[14..14 + key_len]).into_owned();
        records.push(WalRecord {
            start_offset: u64_at(start),
            rows: u32_at(start + 8),
            idempotency_key: (!key.is_empty()).then_some(key),
            body: payload[14 + key_len..].to_vec(),
        });
        at = end;
    }
    Ok(WalContents {
        header,
        records,
        valid_bytes: at as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(start: u64, key: Option<&str>) -> WalRecord {
        WalRecord {
            start_offset: start,
            rows: 2,
            idempotency_key: key.map(str::to_string),
            body: format!("{{\"id\": {start}}}\n{{\"id\": {}}}\n", start + 1).into_bytes(),
        }
    }

    #[test]
    fn test_torn_tail_is_cut_and_writing_resumes() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
        let header = WalHeader {
            start_offset: 10,
            created_ms: 77,
        };
        let mut writer = WalWriter::create(dir.path(), header)?;
        writer.append(&record(10, Some("k1")))?;
        writer.append(&record(12, None))?;
        writer.sync()?;
        let path = writer.path().to_path_buf();
        let good_len = writer.len();
        drop(writer);
        // A crash in the middle of the third record.
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        file.write_all(&[40, 0, 0, 0, 1, 2, 3])
            .map_err(io_error(&path))?;
        drop(file);
        let contents = read_wal(&path)?;
        assert_eq!(contents.header, header);
        assert_eq!(
            contents.records,
            vec![record(10, Some("k1")), record(12, None)]
        );
        assert_eq!(contents.valid_bytes, good_len);
        let mut writer = WalWriter::reopen(&path, contents.valid_bytes)?;
        writer.append(&record(14, Some("k3")))?;
        writer.sync()?;
        assert_eq!(read_wal(&path)?.records.len(), 3);
        // A flipped byte inside a record ends the log there.
        let mut bytes = fs::read(&path).map_err(io_error(&path))?;
        let flip = HEADER_BYTES + 20;
        bytes[flip] ^= 0xff;
        fs::write(&path, &bytes).map_err(io_error(&path))?;
        assert_eq!(read_wal(&path)?.records.len(), 0);
        assert_eq!(list_wal_files(dir.path())?, vec![(10, path)]);
        Ok(())
    }
}
