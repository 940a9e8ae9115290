//! The `.tseg` container: header, CRC-checked sections, JSON metadata, trailer.
//!
//! ```text
//! offset 0   magic "TSEGMENT" (8 bytes) | format_version u32 LE | flags u32 LE (must be 0)
//! offset 16  section 0 | section 1 | ... (contiguous, no padding)
//!            metadata: UTF-8 JSON (SegmentMetadata, including the section table)
//! end - 40   trailer: metadata_offset u64 | metadata_len u64 | metadata_crc32 u32 |
//!            format_version u32 | file_len u64 | magic "TSEGEND\0" (8 bytes)
//! ```
//! Every byte is covered by a check: header and trailer fields are compared against
//! each other and the file length, every section and the metadata carry a CRC-32
//! (IEEE), and the sections must tile `[16, metadata_offset)` exactly.
//! See `docs/segment-format.md`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

pub const MAGIC: &[u8; 8] = b"TSEGMENT";
pub const TRAILER_MAGIC: &[u8; 8] = b"TSEGEND\0";
pub const HEADER_LEN: u64 = 16;
pub const TRAILER_LEN: u64 = 40;
/// The version this build writes.
pub const FORMAT_VERSION: u32 = 3;
/// The oldest version this build reads.
pub const OLDEST_SUPPORTED_VERSION: u32 = 1;

/// What a section holds; the names appear in the metadata's section table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    Dictionary,
    Forward,
    Nulls,
    Inverted,
    Sorted,
    Range,
    Bloom,
    Text,
}

impl SectionKind {
    /// Every kind, in the order a column's sections are written.
    pub const ALL: [SectionKind; 8] = [
        SectionKind::Dictionary,
        SectionKind::Forward,
        SectionKind::Nulls,
        SectionKind::Inverted,
        SectionKind::Sorted,
        SectionKind::Range,
        SectionKind::Bloom,
        SectionKind::Text,
    ];
    /// The index kinds a column declares in its `indexes` list.
    pub const INDEXES: [SectionKind; 5] = [
        SectionKind::Inverted,
        SectionKind::Sorted,
        SectionKind::Range,
        SectionKind::Bloom,
        SectionKind::Text,
    ];

    /// Whether the section counts as forward data (column `bytes`) rather than an index.
    pub fn is_column_data(self) -> bool {
        matches!(self, SectionKind::Dictionary | SectionKind::Forward)
    }

    pub fn index_name(self) -> Option<&'static str> {
        match self {
            SectionKind::Inverted => Some("inverted"),
            SectionKind::Sorted => Some("sorted"),
            SectionKind::Range => Some("range"),
            SectionKind::Bloom => Some("bloom"),
            SectionKind::Text => Some("text"),
            SectionKind::Nulls => Some("nulls"),
            SectionKind::Dictionary | SectionKind::Forward => None,
        }
    }
}

/// One entry of the section table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SectionEntry {
    pub column: String,
    pub kind: SectionKind,
    pub offset: u64,
    pub length: u64,
    pub crc32: u32,
}

/// Where a segment's bytes go: a file, or a stream that takes them as they are written
/// (an upload). The format only appends, so either works.
enum Destination {
    File(std::fs::File),
    Stream(Box<dyn Write + Send>),
}

impl Write for Destination {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Destination::File(file) => file.write(bytes),
            Destination::Stream(stream) => stream.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Destination::File(file) => file.flush(),
            Destination::Stream(stream) => stream.flush(),
        }
    }
}

/// Writes sections one after another to a file or stream, recording their table.
pub struct SegmentFileWriter {
    /// The file, or what errors call the stream.
    path: PathBuf,
    out: std::io::BufWriter<Destination>,
    position: u64,
    sections: Vec<SectionEntry>,
}

impl SegmentFileWriter {
    pub fn create(path: &Path) -> Result<SegmentFileWriter> {
        let file = std::fs::File::create(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        SegmentFileWriter::start(path.to_path_buf(), Destination::File(file))
    }

    /// A writer into `stream` (errors name it `label`); [`SegmentFileWriter::finish`]
    /// flushes it.
    pub fn to_stream(label: &str, stream: Box<dyn Write + Send>) -> Result<SegmentFileWriter> {
        SegmentFileWriter::start(PathBuf::from(label), Destination::Stream(stream))
    }

    fn start(path: PathBuf, destination: Destination) -> Result<SegmentFileWriter> {
        let mut writer = SegmentFileWriter {
            path,
            out: std::io::BufWriter::with_capacity(1 << 20, destination),
            position: 0,
            sections: Vec::new(),
        };
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        writer.write_raw(&header)?;
        Ok(writer)
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    /// Append one section; returns its length.
    pub fn write_section(&mut self, column: &str, kind: SectionKind, bytes: &[u8]) -> Result<u64> {
        self.write_section_parts(column, kind, &[bytes])
    }

    /// Append one section given as consecutive parts (no joined copy is made);
    /// returns its length.
    pub fn write_section_parts(
        &mut self,
        column: &str,
        kind: SectionKind,
        parts: &[&[u8]],
    ) -> Result<u64> {
        let mut stream = self.section_stream(column, kind);
        for part in parts {
            stream.write(part)?;
        }
        Ok(stream.finish())
    }

    /// Start a section written piece by piece (for sections too large to build in
    /// memory first); finish it with [`SectionStream::finish`].
    pub fn section_stream(&mut self, column: &str, kind: SectionKind) -> SectionStream<'_> {
        SectionStream {
            offset: self.position,
            column: column.to_string(),
            kind,
            hasher: crc32fast::Hasher::new(),
            writer: self,
        }
    }

    pub fn sections(&self) -> &[SectionEntry] {
        &self.sections
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// Write the metadata and trailer, flush, and fsync a file. Returns the length.
    pub fn finish(mut self, metadata_json: &[u8]) -> Result<u64> {
        let metadata_offset = self.position;
        self.write_raw(metadata_json)?;
        let file_len = self.position + TRAILER_LEN;
        let mut trailer = Vec::with_capacity(TRAILER_LEN as usize);
        trailer.extend_from_slice(&metadata_offset.to_le_bytes());
        trailer.extend_from_slice(&(metadata_json.len() as u64).to_le_bytes());
        trailer.extend_from_slice(&crc32fast::hash(metadata_json).to_le_bytes());
        trailer.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        trailer.extend_from_slice(&file_len.to_le_bytes());
        trailer.extend_from_slice(TRAILER_MAGIC);
        self.write_raw(&trailer)?;
        let path = self.path.clone();
        let destination = self.out.into_inner().map_err(|error| Error::Io {
            path: path.clone(),
            source: error.into_error(),
        })?;
        match destination {
            Destination::File(file) => file.sync_all(),
            Destination::Stream(mut stream) => stream.flush(),
        }
        .map_err(|source| Error::Io { path, source })?;
        Ok(file_len)
    }
}

/// A section being written piece by piece.
pub struct SectionStream<'a> {
    writer: &'a mut SegmentFileWriter,
    column: String,
    kind: SectionKind,
    offset: u64,
    hasher: crc32fast::Hasher,
}

impl SectionStream<'_> {
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.writer.write_raw(bytes)
    }

    /// Record the section in the table; returns its length.
    pub fn finish(self) -> u64 {
        let length = self.writer.position - self.offset;
        self.writer.sections.push(SectionEntry {
            column: self.column,
            kind: self.kind,
            offset: self.offset,
            length,
            crc32: self.hasher.finalize(),
        });
        length
    }
}

/// Where the metadata lies, read from a verified header and trailer.
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    pub format_version: u32,
    pub metadata_offset: u64,
    pub metadata_len: u64,
}

/// Check header and trailer against each other and the file length, and the metadata CRC.
pub fn read_envelope(path: &Path, data: &[u8]) -> Result<Envelope> {
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let file_len = data.len() as u64;
    if file_len < HEADER_LEN + TRAILER_LEN {
        return Err(corrupt(format!(
            "file is {file_len} bytes, shorter than an empty segment; it is truncated or not a segment"
        )));
    }
    if &data[0..8] != MAGIC {
        return Err(corrupt(
            "bad magic at the start; not a Tessera segment file".into(),
        ));
    }
    let version = read_u32(data, 8);
    check_version(path, version)?;
    if read_u32(data, 12) != 0 {
        return Err(corrupt("header flags are not zero".into()));
    }
    let trailer = read_trailer(path, file_len, &data[(file_len - TRAILER_LEN) as usize..])?;
    if trailer.envelope.format_version != version {
        return Err(corrupt(format!(
            "header says format version {version} but trailer says {}",
            trailer.envelope.format_version
        )));
    }
    let envelope = trailer.envelope;
    let metadata = &data[envelope.metadata_offset as usize
        ..(envelope.metadata_offset + envelope.metadata_len) as usize];
    if crc32fast::hash(metadata) != trailer.metadata_crc {
        return Err(corrupt("metadata checksum mismatch".into()));
    }
    Ok(envelope)
}

fn check_version(path: &Path, version: u32) -> Result<()> {
    if !(OLDEST_SUPPORTED_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            oldest: OLDEST_SUPPORTED_VERSION,
            newest: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// A trailer checked against the file length: where the metadata lies and its CRC.
#[derive(Debug, Clone, Copy)]
pub struct Trailer {
    pub envelope: Envelope,
    pub metadata_crc: u32,
}

/// Parse and check the 40-byte trailer of a file of `file_len` bytes: its magic, its
/// recorded length, a supported version, and a metadata location that ends where the
/// trailer starts. The header is not consulted (a reader of a remote file never
/// fetches it; the trailer repeats its version).
pub fn read_trailer(path: &Path, file_len: u64, trailer: &[u8]) -> Result<Trailer> {
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    if file_len < HEADER_LEN + TRAILER_LEN || trailer.len() as u64 != TRAILER_LEN {
        return Err(corrupt(format!(
            "file is {file_len} bytes, shorter than an empty segment; it is truncated or not a segment"
        )));
    }
    if &trailer[32..40] != TRAILER_MAGIC {
        return Err(corrupt(
            "bad trailer magic; the file is truncated or damaged".into(),
        ));
    }
    let metadata_offset = read_u64(trailer, 0);
    let metadata_len = read_u64(trailer, 8);
    let metadata_crc = read_u32(trailer, 16);
    let version = read_u32(trailer, 20);
    let recorded_len = read_u64(trailer, 24);
    if recorded_len != file_len {
        return Err(corrupt(format!(
            "file is {file_len} bytes but its trailer says {recorded_len}; it is truncated or damaged"
        )));
    }
    check_version(path, version)?;
    if metadata_offset < HEADER_LEN
        || metadata_offset.checked_add(metadata_len) != Some(file_len - TRAILER_LEN)
    {
        return Err(corrupt(
            "metadata location in the trailer is inconsistent".into(),
        ));
    }
    Ok(Trailer {
        envelope: Envelope {
            format_version: version,
            metadata_offset,
            metadata_len,
        },
        metadata_crc,
    })
}

/// Check that the sections tile `[HEADER_LEN, metadata_offset)` with no gap, and (given
/// the file's bytes) that each one's CRC matches.
pub fn verify_sections(
    path: &Path,
    data: &[u8],
    envelope: &Envelope,
    sections: &[SectionEntry],
) -> Result<()> {
    verify_tiling(path, envelope, sections)?;
    for section in sections {
        let bytes = &data[section.offset as usize..(section.offset + section.length) as usize];
        if crc32fast::hash(bytes) != section.crc32 {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                message: format!(
                    "section checksum mismatch column=`{}` section=`{:?}`",
                    section.column, section.kind
                ),
            });
        }
    }
    Ok(())
}

/// Check that the sections tile `[HEADER_LEN, metadata_offset)` with no gap (no bytes
/// read: what a remote open can check before fetching any section).
pub fn verify_tiling(path: &Path, envelope: &Envelope, sections: &[SectionEntry]) -> Result<()> {
    let mut expected_offset = HEADER_LEN;
    for section in sections {
        let corrupt = |message: String| Error::Corrupt {
            path: path.to_path_buf(),
            message: format!(
                "{message} column=`{}` section=`{:?}`",
                section.column, section.kind
            ),
        };
        if section.offset != expected_offset {
            return Err(corrupt(format!(
                "section starts at {} but the previous one ends at {expected_offset}",
                section.offset
            )));
        }
        expected_offset = section
            .offset
            .checked_add(section.length)
            .filter(|end| *end <= envelope.metadata_offset)
            .ok_or_else(|| corrupt("section runs past the metadata".into()))?;
    }
    if expected_offset != envelope.metadata_offset {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            message: format!(
                "sections end at {expected_offset} but the metadata starts at {}",
                envelope.metadata_offset
            ),
        });
    }
    Ok(())
}

pub fn read_u32(data: &[u8], offset: usize) -> u32 {
    let mut array = [0u8; 4];
    array.copy_from_slice(&data[offset..offset + 4]);
    u32::from_le_bytes(array)
}

pub fn read_u64(data: &[u8], offset: usize) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&data[offset..offset + 8]);
    u64::from_le_bytes(array)
}

/// A bounds-checked cursor over a section's bytes, for decoders that must not panic.
pub struct ByteCursor<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> ByteCursor<'a> {
    pub fn new(data: &'a [u8]) -> ByteCursor<'a> {
        ByteCursor { data, position: 0 }
    }

    pub fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(len)?;
        let slice = self.data.get(self.position..end)?;
        self.position = end;
        Some(slice)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| read_u32(b, 0))
    }

    pub fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| read_u64(b, 0))
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.data[self.position..];
        self.position = self.data.len();
        rest
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.position
    }
}
