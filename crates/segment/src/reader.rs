//! Reading segments: the [`SegmentReader`] / [`ColumnReader`] traits the query engine
//! consumes, and [`ImmutableSegment`], their implementation over a memory-mapped
//! `.tseg` file.
//!
//! Opening a file checks everything before any value is served: header, trailer,
//! metadata checksum, that the sections tile the file, every section's CRC, and the
//! internal layout of each section (lengths, offsets). After `open` succeeds, reads
//! touch the mmap in place; nothing is copied but what a caller asks for.

use std::collections::HashMap;
use std::ops::{Bound, Range};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use roaring::RoaringBitmap;
use tantivy::directory::OwnedBytes;

use crate::bitpack::{BitUnpacker, packed_len};
use crate::bloom::BloomFilter;
use crate::column_builder::raw_to_value;
use crate::dictionary::{Dictionary, Probe};
use crate::format::{SectionEntry, SectionKind, read_envelope, read_u32, verify_sections};
use crate::inverted::{InvertedIndex, SortedIndex, decode_bitmap};
use crate::metadata::{ColumnMetadata, Encoding, SegmentMetadata};
use crate::range_index::{RangeIndex, RangeMatch, order_key_f64, order_key_i64};
use crate::raw_forward::{DecodedChunk, RawForward};
use crate::text_index::TextIndex;
use crate::value::{PhysicalType, Value};
use crate::{Error, Result};

/// A zone map of a raw column: rows per chunk, and each chunk's (smallest value, a bound
/// on its largest) when its header tells them.
pub type ChunkBounds = (u32, Vec<Option<(f64, f64)>>);

/// A segment as the query engine sees it: sealed files and consuming (in-memory)
/// segments both implement this.
pub trait SegmentReader: Send + Sync {
    fn name(&self) -> &str;
    /// Docs visible to this reader (a consuming segment shows a consistent prefix).
    fn num_docs(&self) -> u32;
    /// Segment metadata: time range, stream offsets, per-column statistics.
    fn metadata(&self) -> &SegmentMetadata;
    fn column(&self, name: &str) -> Result<&dyn ColumnReader>;
}

/// Dictionary ids selected by a value range: a contiguous range for sorted
/// dictionaries, an explicit list for unsorted (consuming) ones.
#[derive(Debug, Clone, PartialEq)]
pub enum IdSet {
    Range(Range<u32>),
    Ids(Vec<u32>),
}

/// One column of a segment. Doc-id slices passed in must be ascending and `< num_docs`.
pub trait ColumnReader: Send + Sync {
    fn metadata(&self) -> &ColumnMetadata;

    // --- dictionary (None / empty for raw columns)
    /// Dictionary size, `None` for raw columns.
    fn cardinality(&self) -> Option<u32>;
    fn dictionary_value(&self, id: u32) -> Value;
    /// Integer entries of `ids` (INT, LONG, TIMESTAMP dictionaries) into `out`, in bulk;
    /// an id outside the dictionary (or a non-integer entry) reads 0.
    fn dictionary_i64s(&self, ids: &[u32], out: &mut Vec<i64>) {
        out.extend(ids.iter().map(|id| match self.dictionary_value(*id) {
            Value::Int(v) => i64::from(v),
            Value::Long(v) | Value::Timestamp(v) => v,
            _ => 0,
        }));
    }
    /// Integer entries `ids.start..ids.end` into `out`, as [`Self::dictionary_i64s`].
    fn dictionary_i64_range(&self, ids: std::ops::Range<u32>, out: &mut Vec<i64>) {
        let ids: Vec<u32> = ids.collect();
        self.dictionary_i64s(&ids, out);
    }
    /// Whether dictionary ids ascend with the values (a sealed segment's sorted
    /// dictionary; a consuming segment's ids are in arrival order).
    fn dictionary_ordered(&self) -> bool {
        false
    }
    /// Id of the entry equal to the value.
    fn lookup(&self, value: &Value) -> Option<u32>;
    /// Ids of entries within the bounds.
    fn ids_in_range(&self, low: Bound<&Value>, high: Bound<&Value>) -> IdSet;

    // --- indexes (Ok(None) when the column has no such index)
    fn null_bitmap(&self) -> Result<Option<RoaringBitmap>>;
    /// Docs holding dictionary id `id`, from the inverted index.
    fn inverted_bitmap(&self, id: u32) -> Result<Option<RoaringBitmap>>;
    /// Docs holding any id in `ids`, from the sorted-column index.
    fn sorted_doc_range(&self, ids: Range<u32>) -> Option<Range<u32>>;
    /// Docs within a value range, from the range index.
    fn range_lookup(&self, low: Bound<&Value>, high: Bound<&Value>) -> Result<Option<RangeMatch>>;
    /// `Some(false)` when the bloom filter proves the value absent.
    fn bloom_might_contain(&self, value: &Value) -> Option<bool>;
    /// Docs matching a `TEXT_MATCH` query string, from the text index.
    fn text_search(&self, query: &str) -> Result<Option<RoaringBitmap>>;
    /// Docs whose value contains `needle` (case-sensitive), from the text index; exact.
    /// `Ok(None)` when the index cannot answer (no text index, or the needle has a
    /// non-alphanumeric character).
    fn text_contains(&self, needle: &str) -> Result<Option<RoaringBitmap>>;
    /// An upper bound of how many docs [`ColumnReader::text_contains`] would name, read
    /// without reading postings; `Ok(None)` when the index cannot say.
    fn text_contains_at_most(&self, _needle: &str) -> Result<Option<u64>> {
        Ok(None)
    }
    /// Docs whose value starts with `prefix` (case-sensitive), from the text index;
    /// exact. `Ok(None)` when the index cannot answer (no text index, an index built
    /// before leading runs were indexed, or a prefix that is not alphanumeric).
    fn text_starts_with(&self, _prefix: &str) -> Result<Option<RoaringBitmap>> {
        Ok(None)
    }
    /// Docs whose value ends with `suffix`, as [`ColumnReader::text_starts_with`].
    fn text_ends_with(&self, _suffix: &str) -> Result<Option<RoaringBitmap>> {
        Ok(None)
    }

    // --- forward reads (each appends to `out`)
    /// Dictionary ids of single-value docs (NULL docs read as id 0; check the null bitmap).
    fn read_dict_ids(&self, docs: &[u32], out: &mut Vec<u32>) -> Result<()>;
    /// Dictionary ids of one multi-value doc.
    fn read_mv_dict_ids(&self, doc: u32, out: &mut Vec<u32>) -> Result<()>;
    /// Values of docs (NULL → `Value::Null`, multi-value → `Value::Array`). The generic path.
    fn read_values(&self, docs: &[u32], out: &mut Vec<Value>) -> Result<()>;
    /// Numeric single-value docs as f64. A NULL doc reads as some value (0, or the
    /// value a dictionary's first id stands for): check the null bitmap.
    fn read_f64(&self, docs: &[u32], out: &mut Vec<f64>) -> Result<()>;
    /// Integer single-value docs (INT, LONG, TIMESTAMP, BOOLEAN) as i64. A NULL doc reads
    /// as some value (0, or the value a dictionary's first id stands for): check the
    /// null bitmap.
    fn read_i64(&self, docs: &[u32], out: &mut Vec<i64>) -> Result<()>;
    /// Visit the stored bytes of single-value raw-encoded docs (ascending), each chunk
    /// decompressed once and nothing allocated per value; `Ok(false)`, having visited
    /// nothing, when the column is not raw-encoded (read its values instead). A NULL doc
    /// visits some placeholder: check the null bitmap.
    fn visit_raw(&self, _docs: &[u32], _visit: &mut dyn FnMut(u32, &[u8])) -> Result<bool> {
        Ok(false)
    }
    /// [`ColumnReader::visit_raw`] for only the docs whose stored bytes contain
    /// `needle` (a literal every match of a LIKE or REGEXP must hold). A segment's
    /// chunks are searched whole, so most values are passed over without a call.
    fn visit_raw_containing(
        &self,
        docs: &[u32],
        needle: &[u8],
        visit: &mut dyn FnMut(u32, &[u8]),
    ) -> Result<bool> {
        let finder = memchr::memmem::Finder::new(needle);
        self.visit_raw(docs, &mut |doc, bytes| {
            if finder.find(bytes).is_some() {
                visit(doc, bytes);
            }
        })
    }
    /// Per-chunk value bounds of a raw DOUBLE column (a zone map): rows per chunk, and
    /// each chunk's (smallest value, an upper bound) when its header tells them. `None`
    /// when the column keeps no such chunks.
    fn chunk_f64_bounds(&self) -> Option<ChunkBounds> {
        None
    }
}

enum Forward {
    DictionarySingle {
        ids: OwnedBytes,
        bits: u8,
    },
    DictionaryMulti {
        offsets: OwnedBytes,
        ids: OwnedBytes,
        bits: u8,
    },
    Raw(RawForward),
}

/// A column of an [`ImmutableSegment`].
///
/// Each structure sits in a cell. A file opened whole fills every cell at open; a
/// segment opened from its footer ([`ImmutableSegment::open_lazy`]) fills them on first
/// use, each from one section its [`SectionSource`] fetches: the dictionary, null bitmap
/// and sorted index when the query engine first asks for the column (they answer the
/// infallible lookups), the forward index and the other indexes when first read.
pub struct ImmutableColumn {
    metadata: ColumnMetadata,
    physical: PhysicalType,
    rows: u32,
    /// Where the sections of a lazily opened column come from.
    source: Option<ColumnSource>,
    dictionary: OnceLock<Option<Dictionary>>,
    forward: OnceLock<Forward>,
    nulls: OnceLock<Option<RoaringBitmap>>,
    inverted: OnceLock<Option<InvertedIndex>>,
    sorted: OnceLock<Option<SortedIndex>>,
    range: OnceLock<Option<RangeIndex>>,
    bloom: OnceLock<Option<BloomFilter>>,
    text: OnceLock<Option<TextIndex>>,
    /// Numeric dictionaries decoded once, on first numeric read (id → value).
    f64_table: OnceLock<Vec<f64>>,
    i64_table: OnceLock<Vec<i64>>,
}

/// Numeric dictionaries up to this many entries are decoded into a plain table on first
/// use, so forward reads cost one table load per doc.
const DECODED_TABLE_MAX: usize = 1 << 22;

/// The sections of one column of a lazily opened segment, and where to fetch them.
struct ColumnSource {
    path: PathBuf,
    source: Arc<dyn SectionSource>,
    sections: Vec<SectionEntry>,
}

impl ColumnSource {
    fn fetch(&self, kind: SectionKind) -> Result<Option<OwnedBytes>> {
        let Some(entry) = self.sections.iter().find(|entry| entry.kind == kind) else {
            return Ok(None);
        };
        let bytes = self.source.read(entry)?;
        if bytes.len() as u64 != entry.length {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!(
                    "a fetched section is {} bytes, not {} column=`{}` section=`{kind:?}`",
                    bytes.len(),
                    entry.length,
                    entry.column
                ),
            });
        }
        Ok(Some(bytes))
    }
}

/// Where the sections of a segment opened from its footer come from: an object store
/// through a cache, or a local file read piece by piece.
pub trait SectionSource: Send + Sync {
    /// The bytes of one section, checked against its CRC.
    fn read(&self, section: &SectionEntry) -> Result<OwnedBytes>;
    /// A number that changes when the source dropped bytes this segment may hold (a
    /// cache evicted one of its sections): a holder reopens the segment
    /// ([`ImmutableSegment::reopen_if_stale`]) so what it maps is released.
    fn generation(&self) -> u64 {
        0
    }
}

/// A sealed segment: a file memory-mapped and checked whole, or a segment opened from its
/// footer whose sections arrive on first use.
pub struct ImmutableSegment {
    path: PathBuf,
    metadata: SegmentMetadata,
    columns: Vec<ImmutableColumn>,
    by_name: HashMap<String, usize>,
    file_len: u64,
    /// Lazy segments: the source, and its generation when this was opened.
    source: Option<(Arc<dyn SectionSource>, u64)>,
}

fn to_probe(value: &Value) -> Option<Probe> {
    Probe::from_value(value)
}

impl ImmutableSegment {
    /// Map and verify a segment file.
    pub fn open(path: &Path) -> Result<ImmutableSegment> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let data = if len == 0 {
            OwnedBytes::empty()
        } else {
            // SAFETY: the file is opened read-only and segment files are immutable once
            // renamed into place (written to a temporary name, fsynced, renamed); Tessera
            // never writes to a published segment. A concurrent external truncation could
            // still fault the mapping; that is accepted for immutable files, as in tantivy.
            #[allow(unsafe_code)]
            let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
            OwnedBytes::new(mmap)
        };
        Self::open_bytes(path, data)
    }

    /// Verify and open a segment held in memory (`path` only names it in errors).
    pub fn open_bytes(path: &Path, data: OwnedBytes) -> Result<ImmutableSegment> {
        let corrupt = |message: String| Error::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        let envelope = read_envelope(path, data.as_slice())?;
        let start = envelope.metadata_offset as usize;
        let metadata_bytes = &data.as_slice()[start..start + envelope.metadata_len as usize];
        let metadata: SegmentMetadata = serde_json::from_slice(metadata_bytes)
            .map_err(|error| corrupt(format!("metadata is not valid: {error}")))?;
        if metadata.format_version != envelope.format_version {
            return Err(corrupt(
                "metadata format version differs from the header".into(),
            ));
        }
        verify_sections(path, data.as_slice(), &envelope, &metadata.sections)?;
        let mut sections = sections_by_key(path, &metadata, |section| {
            data.slice(section.offset as usize..(section.offset + section.length) as usize)
        })?;
        let mut columns = Vec::with_capacity(metadata.columns.len());
        let mut by_name = HashMap::new();
        for column in &metadata.columns {
            let opened = open_column(column, metadata.row_count, &mut sections)
                .map_err(|message| corrupt(format!("{message} column=`{}`", column.name)))?;
            if by_name.insert(column.name.clone(), columns.len()).is_some() {
                return Err(corrupt(format!(
                    "duplicate column column=`{}`",
                    column.name
                )));
            }
            columns.push(opened);
        }
        if let Some(((column, kind), _)) = sections.into_iter().next() {
            return Err(corrupt(format!(
                "section belongs to no column column=`{column}` section=`{kind:?}`"
            )));
        }
        Ok(ImmutableSegment {
            path: path.to_path_buf(),
            metadata,
            columns,
            by_name,
            file_len: data.len() as u64,
            source: None,
        })
    }

    /// Open a segment from its footer's metadata (see [`crate::footer`]): every check that
    /// needs no section's bytes is made now (the section table, each column's sections
    /// against its declared indexes); each section is fetched from `source` on first use.
    pub fn open_lazy(
        path: &Path,
        file_len: u64,
        metadata: SegmentMetadata,
        source: Arc<dyn SectionSource>,
    ) -> Result<ImmutableSegment> {
        let corrupt = |message: String| Error::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        let mut sections = sections_by_key(path, &metadata, SectionEntry::clone)?;
        let mut columns = Vec::with_capacity(metadata.columns.len());
        let mut by_name = HashMap::new();
        for column in &metadata.columns {
            let name = column.name.as_str();
            let mut own = Vec::new();
            for kind in SectionKind::ALL {
                if let Some(entry) = sections.remove(&(name, kind)) {
                    own.push(entry);
                }
            }
            check_section_kinds(column, |kind| own.iter().any(|entry| entry.kind == kind))
                .map_err(|message| corrupt(format!("{message} column=`{name}`")))?;
            if by_name.insert(column.name.clone(), columns.len()).is_some() {
                return Err(corrupt(format!("duplicate column column=`{name}`")));
            }
            let mut opened = ImmutableColumn::empty(column, metadata.row_count);
            opened.source = Some(ColumnSource {
                path: path.to_path_buf(),
                source: source.clone(),
                sections: own,
            });
            columns.push(opened);
        }
        if let Some(((column, kind), _)) = sections.into_iter().next() {
            return Err(corrupt(format!(
                "section belongs to no column column=`{column}` section=`{kind:?}`"
            )));
        }
        let generation = source.generation();
        Ok(ImmutableSegment {
            path: path.to_path_buf(),
            metadata,
            columns,
            by_name,
            file_len,
            source: Some((source, generation)),
        })
    }

    /// When this is a lazy segment whose source has since dropped bytes it may map: the
    /// segment opened again from the same metadata and source, holding no section.
    /// `None` for a file opened whole, or a lazy segment that is current.
    pub fn reopen_if_stale(&self) -> Option<Result<ImmutableSegment>> {
        let (source, generation) = self.source.as_ref()?;
        if source.generation() == *generation {
            return None;
        }
        Some(Self::open_lazy(
            &self.path,
            self.file_len,
            self.metadata.clone(),
            source.clone(),
        ))
    }

    /// Open every section of every column now (a lazy segment fetches them all); the
    /// first error stops it.
    pub fn load_all_sections(&self) -> Result<()> {
        for column in &self.columns {
            column.ensure_open()?;
            column.forward()?;
            column.inverted()?;
            column.range()?;
            column.text()?;
            column.bloom_filter()?;
        }
        Ok(())
    }

    /// Whether sections are fetched on first use rather than mapped from a local file.
    pub fn is_lazy(&self) -> bool {
        self.source.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    pub fn columns(&self) -> impl Iterator<Item = &ImmutableColumn> {
        self.columns.iter()
    }
}

impl SegmentReader for ImmutableSegment {
    fn name(&self) -> &str {
        &self.metadata.name
    }

    fn num_docs(&self) -> u32 {
        self.metadata.row_count
    }

    fn metadata(&self) -> &SegmentMetadata {
        &self.metadata
    }

    fn column(&self, name: &str) -> Result<&dyn ColumnReader> {
        let column = self
            .by_name
            .get(name)
            .map(|index| &self.columns[*index])
            .ok_or_else(|| Error::NoSuchColumn(name.to_string()))?;
        column.ensure_open()?;
        Ok(column)
    }
}

/// Something of every section (its bytes, its entry) by (column, kind); a pair that
/// appears twice is corrupt.
fn sections_by_key<'m, T>(
    path: &Path,
    metadata: &'m SegmentMetadata,
    mut of: impl FnMut(&SectionEntry) -> T,
) -> Result<HashMap<(&'m str, SectionKind), T>> {
    let mut sections = HashMap::new();
    for section in &metadata.sections {
        if sections
            .insert((section.column.as_str(), section.kind), of(section))
            .is_some()
        {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                message: format!(
                    "duplicate section column=`{}` section=`{:?}`",
                    section.column, section.kind
                ),
            });
        }
    }
    Ok(sections)
}

/// Check which sections a column has against its metadata: the forward index always,
/// the dictionary exactly for dictionary encoding, the null bitmap when it has NULLs, and
/// each index section exactly when the column declares that index.
fn check_section_kinds(
    column: &ColumnMetadata,
    has: impl Fn(SectionKind) -> bool,
) -> Result<(), String> {
    let dictionary = column.encoding == Encoding::Dictionary;
    if dictionary && !has(SectionKind::Dictionary) {
        return Err("dictionary section is missing".into());
    }
    if !dictionary && has(SectionKind::Dictionary) {
        return Err("a raw column has a dictionary section".into());
    }
    if !has(SectionKind::Forward) {
        return Err("forward index section is missing".into());
    }
    if column.null_count > 0 && !has(SectionKind::Nulls) {
        return Err("null bitmap section is missing".into());
    }
    for kind in SectionKind::INDEXES {
        let name = kind.index_name().unwrap_or_default();
        if has(kind) != column.indexes.iter().any(|index| index == name) {
            return Err(format!(
                "{name} index section does not match the column's index list"
            ));
        }
    }
    Ok(())
}

fn open_column<'a>(
    column: &'a ColumnMetadata,
    rows: u32,
    sections: &mut HashMap<(&'a str, SectionKind), OwnedBytes>,
) -> Result<ImmutableColumn, String> {
    let name = column.name.as_str();
    check_section_kinds(column, |kind| sections.contains_key(&(name, kind)))?;
    let mut take = |kind| sections.remove(&(name, kind));
    let opened = ImmutableColumn::empty(column, rows);
    fill(
        &opened.dictionary,
        column,
        rows,
        take(SectionKind::Dictionary),
        open_dictionary,
    )?;
    fill(
        &opened.forward,
        column,
        rows,
        take(SectionKind::Forward),
        open_forward,
    )?;
    fill(
        &opened.nulls,
        column,
        rows,
        take(SectionKind::Nulls),
        open_nulls,
    )?;
    fill(
        &opened.inverted,
        column,
        rows,
        take(SectionKind::Inverted),
        open_inverted,
    )?;
    fill(
        &opened.sorted,
        column,
        rows,
        take(SectionKind::Sorted),
        open_sorted,
    )?;
    fill(
        &opened.range,
        column,
        rows,
        take(SectionKind::Range),
        open_range,
    )?;
    fill(
        &opened.bloom,
        column,
        rows,
        take(SectionKind::Bloom),
        open_bloom,
    )?;
    fill(
        &opened.text,
        column,
        rows,
        take(SectionKind::Text),
        open_text,
    )?;
    Ok(opened)
}

/// How one kind of section opens: from its column's metadata, the segment's row count
/// and the section's bytes (`None` when the column has no such section).
type Opener<T> = fn(&ColumnMetadata, u32, Option<OwnedBytes>) -> Result<T, String>;

/// Open a section into its (empty) cell.
fn fill<T>(
    cell: &OnceLock<T>,
    column: &ColumnMetadata,
    rows: u32,
    bytes: Option<OwnedBytes>,
    open: Opener<T>,
) -> Result<(), String> {
    let _ = cell.set(open(column, rows, bytes)?);
    Ok(())
}

fn cardinality_of(column: &ColumnMetadata) -> Result<usize, String> {
    usize::try_from(column.cardinality).map_err(|_| "cardinality is too large".to_string())
}

fn open_dictionary(
    column: &ColumnMetadata,
    _rows: u32,
    bytes: Option<OwnedBytes>,
) -> Result<Option<Dictionary>, String> {
    match (column.encoding, bytes) {
        (Encoding::Dictionary, Some(bytes)) => {
            if column.bits_per_id != crate::bitpack::bits_for_cardinality(column.cardinality) {
                return Err("bits per id do not match the cardinality".into());
            }
            Ok(Some(Dictionary::open(
                column.data_type,
                cardinality_of(column)?,
                bytes,
            )?))
        }
        (Encoding::Dictionary, None) => Err("dictionary section is missing".into()),
        (Encoding::Raw, _) => Ok(None),
    }
}

fn open_forward(
    column: &ColumnMetadata,
    rows: u32,
    bytes: Option<OwnedBytes>,
) -> Result<Forward, String> {
    let forward_bytes = bytes.ok_or("forward index section is missing")?;
    let physical = PhysicalType::of(column.data_type);
    Ok(match (column.encoding, column.single_value) {
        (Encoding::Dictionary, true) => {
            if forward_bytes.len() != packed_len(rows as usize, column.bits_per_id) {
                return Err("forward index has the wrong size".into());
            }
            Forward::DictionarySingle {
                ids: forward_bytes,
                bits: column.bits_per_id,
            }
        }
        (Encoding::Dictionary, false) => {
            let offsets_len = (rows as usize + 1) * 4;
            if forward_bytes.len() < offsets_len {
                return Err("multi-value offsets are truncated".into());
            }
            let offsets = forward_bytes.slice(0..offsets_len);
            let mut previous = 0u32;
            for doc in 0..=rows as usize {
                let offset = read_u32(offsets.as_slice(), doc * 4);
                if offset < previous
                    || (doc == 0 && offset != 0)
                    || offset - previous > column.max_elements
                {
                    return Err("multi-value offsets are inconsistent".into());
                }
                previous = offset;
            }
            if u64::from(previous) != column.total_elements {
                return Err("multi-value offsets do not match the element count".into());
            }
            let ids = forward_bytes.slice(offsets_len..forward_bytes.len());
            if ids.len() != packed_len(previous as usize, column.bits_per_id) {
                return Err("multi-value ids have the wrong size".into());
            }
            Forward::DictionaryMulti {
                offsets,
                ids,
                bits: column.bits_per_id,
            }
        }
        (Encoding::Raw, true) => Forward::Raw(RawForward::open(
            physical,
            rows,
            column.chunk_rows,
            forward_bytes,
        )?),
        (Encoding::Raw, false) => return Err("raw multi-value columns do not exist".into()),
    })
}

fn open_nulls(
    column: &ColumnMetadata,
    rows: u32,
    bytes: Option<OwnedBytes>,
) -> Result<Option<RoaringBitmap>, String> {
    match bytes {
        Some(bytes) => {
            let bitmap = decode_bitmap(bytes.as_slice())?;
            if bitmap.len() != column.null_count || bitmap.max().is_some_and(|max| max >= rows) {
                return Err("null bitmap does not match the null count".into());
            }
            Ok(Some(bitmap))
        }
        None if column.null_count > 0 => Err("null bitmap section is missing".into()),
        None => Ok(None),
    }
}

fn open_inverted(
    column: &ColumnMetadata,
    _rows: u32,
    bytes: Option<OwnedBytes>,
) -> Result<Option<InvertedIndex>, String> {
    let cardinality = cardinality_of(column)?;
    bytes
        .map(|bytes| InvertedIndex::open(cardinality, bytes))
        .transpose()
}

fn open_sorted(
    column: &ColumnMetadata,
    rows: u32,
    bytes: Option<OwnedBytes>,
) -> Result<Option<SortedIndex>, String> {
    let cardinality = cardinality_of(column)?;
    bytes
        .map(|bytes| SortedIndex::open(cardinality, rows, bytes))
        .transpose()
}

fn open_range(
    _column: &ColumnMetadata,
    _rows: u32,
    bytes: Option<OwnedBytes>,
) -> Result<Option<RangeIndex>, String> {
    bytes.map(RangeIndex::open).transpose()
}

fn open_bloom(
    _column: &ColumnMetadata,
    _rows: u32,
    bytes: Option<OwnedBytes>,
) -> Result<Option<BloomFilter>, String> {
    bytes.map(BloomFilter::open).transpose()
}

fn open_text(
    _column: &ColumnMetadata,
    rows: u32,
    bytes: Option<OwnedBytes>,
) -> Result<Option<TextIndex>, String> {
    bytes.map(|bytes| TextIndex::open(bytes, rows)).transpose()
}

impl ImmutableColumn {
    /// A column with no structure opened yet.
    fn empty(column: &ColumnMetadata, rows: u32) -> ImmutableColumn {
        ImmutableColumn {
            metadata: column.clone(),
            physical: PhysicalType::of(column.data_type),
            rows,
            source: None,
            dictionary: OnceLock::new(),
            forward: OnceLock::new(),
            nulls: OnceLock::new(),
            inverted: OnceLock::new(),
            sorted: OnceLock::new(),
            range: OnceLock::new(),
            bloom: OnceLock::new(),
            text: OnceLock::new(),
            f64_table: OnceLock::new(),
            i64_table: OnceLock::new(),
        }
    }

    /// The structure in `cell`, opened from its section on first use.
    fn load<'a, T>(
        &'a self,
        cell: &'a OnceLock<T>,
        kind: SectionKind,
        open: Opener<T>,
    ) -> Result<&'a T> {
        if let Some(value) = cell.get() {
            return Ok(value);
        }
        let Some(source) = &self.source else {
            return Err(self.corrupt(format!("section {kind:?} was never opened")));
        };
        let bytes = source.fetch(kind)?;
        let value = open(&self.metadata, self.rows, bytes).map_err(|message| Error::Corrupt {
            path: source.path.clone(),
            message: format!(
                "{message} column=`{}` section=`{kind:?}`",
                self.metadata.name
            ),
        })?;
        Ok(cell.get_or_init(|| value))
    }

    /// Open what the infallible lookups answer from: the dictionary, the null bitmap and
    /// the sorted index. A no-op for a file opened whole.
    fn ensure_open(&self) -> Result<()> {
        self.load(&self.dictionary, SectionKind::Dictionary, open_dictionary)?;
        self.load(&self.nulls, SectionKind::Nulls, open_nulls)?;
        self.load(&self.sorted, SectionKind::Sorted, open_sorted)?;
        Ok(())
    }

    fn dictionary(&self) -> Option<&Dictionary> {
        self.dictionary.get().and_then(Option::as_ref)
    }

    /// The dictionary of an INT, LONG or TIMESTAMP column.
    fn integer_dictionary(&self) -> Option<&Dictionary> {
        self.dictionary().filter(|dictionary| {
            matches!(
                dictionary.physical_type(),
                PhysicalType::I32 | PhysicalType::I64
            )
        })
    }

    fn nulls(&self) -> Option<&RoaringBitmap> {
        self.nulls.get().and_then(Option::as_ref)
    }

    fn sorted(&self) -> Option<&SortedIndex> {
        self.sorted.get().and_then(Option::as_ref)
    }

    fn forward(&self) -> Result<&Forward> {
        self.load(&self.forward, SectionKind::Forward, open_forward)
    }

    fn inverted(&self) -> Result<Option<&InvertedIndex>> {
        self.load(&self.inverted, SectionKind::Inverted, open_inverted)
            .map(Option::as_ref)
    }

    fn range(&self) -> Result<Option<&RangeIndex>> {
        self.load(&self.range, SectionKind::Range, open_range)
            .map(Option::as_ref)
    }

    fn text(&self) -> Result<Option<&TextIndex>> {
        self.load(&self.text, SectionKind::Text, open_text)
            .map(Option::as_ref)
    }

    fn bloom_filter(&self) -> Result<Option<&BloomFilter>> {
        self.load(&self.bloom, SectionKind::Bloom, open_bloom)
            .map(Option::as_ref)
    }

    /// The bloom filter; `None` also when it could not be fetched (it only ever prunes).
    fn bloom(&self) -> Option<&BloomFilter> {
        self.bloom_filter().ok().flatten()
    }
}

impl ImmutableColumn {
    fn f64_table(&self, dictionary: &Dictionary) -> Option<&[f64]> {
        if dictionary.len() > DECODED_TABLE_MAX {
            return None;
        }
        Some(self.f64_table.get_or_init(|| {
            (0..dictionary.len() as u32)
                .map(|id| dictionary.f64_at(id))
                .collect()
        }))
    }

    fn i64_table(&self, dictionary: &Dictionary) -> Option<&[i64]> {
        if dictionary.len() > DECODED_TABLE_MAX {
            return None;
        }
        Some(self.i64_table.get_or_init(|| {
            (0..dictionary.len() as u32)
                .map(|id| dictionary.i64_at(id))
                .collect()
        }))
    }

    /// `read_f64` of a raw fixed-width column through its decoded chunks.
    fn read_f64_fixed(&self, docs: &[u32], out: &mut Vec<f64>) -> Result<()> {
        let physical = self.physical;
        self.for_each_fixed_run(docs, |run| match physical {
            PhysicalType::F64 => out.extend(
                run.chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
            ),
            PhysicalType::I64 => out.extend(run.chunks_exact(8).map(|b| {
                i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f64
            })),
            PhysicalType::F32 => out.extend(
                run.chunks_exact(4)
                    .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            ),
            _ => out.extend(
                run.chunks_exact(4)
                    .map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            ),
        })
    }

    /// Visit fixed-width raw values of ascending docs in order: `visit(values)` gets the
    /// little-endian bytes of some of the docs, back to back (consecutive docs inside
    /// one chunk, or the few docs of a chunk that decodes them alone). Each chunk is
    /// decompressed at most once per call.
    fn for_each_fixed_run(&self, docs: &[u32], mut visit: impl FnMut(&[u8])) -> Result<()> {
        let Forward::Raw(raw) = self.forward()? else {
            return Err(Error::InvalidInput(format!(
                "column is not raw-encoded column=`{}`",
                self.metadata.name
            )));
        };
        let width = self.physical.fixed_width().unwrap_or(0);
        let chunk_rows = raw.chunk_rows();
        let mut i = 0;
        while i < docs.len() {
            let index = (docs[i] / chunk_rows) as usize;
            if index >= raw.chunk_count() {
                return Err(Error::InvalidInput(format!(
                    "doc id out of range doc=`{}`",
                    docs[i]
                )));
            }
            let first_doc = index as u32 * chunk_rows;
            // Docs of this chunk (compared, not divided: this runs per doc).
            let chunk_end = u64::from(first_doc) + u64::from(chunk_rows);
            let mut j = i;
            while j < docs.len() && docs[j] >= first_doc && u64::from(docs[j]) < chunk_end {
                j += 1;
            }
            // A few docs of a bit-packed chunk decode alone.
            let rows = docs[i..j].iter().map(|d| (d - first_doc) as usize);
            if let Some(values) = raw
                .chunk_rows_subset(index, rows)
                .map_err(|message| self.corrupt(message))?
            {
                visit(&values);
                i = j;
                continue;
            }
            let chunk = raw.chunk(index).map_err(|message| self.corrupt(message))?;
            let rows = chunk.rows();
            if docs[j - 1] - first_doc >= rows {
                return Err(Error::InvalidInput(format!(
                    "doc id out of range doc=`{}`",
                    docs[j - 1]
                )));
            }
            let data = chunk.fixed_all();
            let mut k = i;
            while k < j {
                // Extend a run of consecutive docs.
                let mut end = k + 1;
                while end < j && docs[end] == docs[end - 1] + 1 {
                    end += 1;
                }
                let start_row = (docs[k] - first_doc) as usize;
                let end_row = start_row + (end - k);
                visit(&data[start_row * width..end_row * width]);
                k = end;
            }
            i = j;
        }
        Ok(())
    }
}

impl ImmutableColumn {
    fn corrupt(&self, message: String) -> Error {
        Error::Corrupt {
            path: PathBuf::from(&self.metadata.name),
            message,
        }
    }

    fn is_null(&self, doc: u32) -> bool {
        self.nulls().is_some_and(|nulls| nulls.contains(doc))
    }

    /// Visit raw values of ascending docs, decompressing each chunk once; with a
    /// `finder` (variable-width columns), only the docs whose bytes hold its needle,
    /// found by one search over each chunk ([`DecodedChunk::rows_containing`]).
    fn for_each_raw(
        &self,
        docs: &[u32],
        finder: Option<&memchr::memmem::Finder<'_>>,
        mut visit: impl FnMut(u32, &[u8]),
    ) -> Result<()> {
        let Forward::Raw(raw) = self.forward()? else {
            return Err(Error::InvalidInput(format!(
                "column is not raw-encoded column=`{}`",
                self.metadata.name
            )));
        };
        let chunk_rows = raw.chunk_rows();
        let mut found = Vec::new();
        let mut current: Option<(usize, DecodedChunk)> = None;
        for doc in docs {
            let index = (*doc / chunk_rows) as usize;
            if index >= raw.chunk_count() {
                return Err(Error::InvalidInput(format!(
                    "doc id out of range doc=`{doc}`"
                )));
            }
            if current.as_ref().is_none_or(|(loaded, _)| *loaded != index) {
                let chunk = raw.chunk(index).map_err(|message| self.corrupt(message))?;
                if let Some(finder) = finder {
                    chunk.rows_containing(finder, &mut found);
                }
                current = Some((index, chunk));
            }
            if let Some((_, chunk)) = &current {
                let row = (*doc % chunk_rows) as usize;
                if row >= chunk.rows() as usize {
                    return Err(Error::InvalidInput(format!(
                        "doc id out of range doc=`{doc}`"
                    )));
                }
                if finder.is_some() && !found[row] {
                    continue;
                }
                let bytes = if self.physical == PhysicalType::Bytes {
                    chunk.bytes(row)
                } else {
                    chunk.fixed(row)
                };
                visit(*doc, bytes);
            }
        }
        Ok(())
    }

    fn mv_range(&self, doc: u32) -> Option<(usize, usize)> {
        match self.forward().ok()? {
            Forward::DictionaryMulti { offsets, .. } => {
                let bytes = offsets.as_slice();
                let index = doc as usize * 4;
                if index + 8 > bytes.len() {
                    return None;
                }
                Some((
                    read_u32(bytes, index) as usize,
                    read_u32(bytes, index + 4) as usize,
                ))
            }
            _ => None,
        }
    }
}

impl ColumnReader for ImmutableColumn {
    fn chunk_f64_bounds(&self) -> Option<ChunkBounds> {
        match self.forward().ok()? {
            Forward::Raw(raw) if self.metadata.single_value => {
                Some((raw.chunk_rows(), raw.chunk_f64_bounds()))
            }
            _ => None,
        }
    }

    fn visit_raw(&self, docs: &[u32], visit: &mut dyn FnMut(u32, &[u8])) -> Result<bool> {
        if !matches!(self.forward()?, Forward::Raw(_)) || !self.metadata.single_value {
            return Ok(false);
        }
        self.for_each_raw(docs, None, |doc, bytes| visit(doc, bytes))?;
        Ok(true)
    }

    fn visit_raw_containing(
        &self,
        docs: &[u32],
        needle: &[u8],
        visit: &mut dyn FnMut(u32, &[u8]),
    ) -> Result<bool> {
        if !matches!(self.forward()?, Forward::Raw(_))
            || !self.metadata.single_value
            || self.physical != PhysicalType::Bytes
        {
            return Ok(false);
        }
        let finder = memchr::memmem::Finder::new(needle);
        self.for_each_raw(docs, Some(&finder), |doc, bytes| visit(doc, bytes))?;
        Ok(true)
    }

    fn metadata(&self) -> &ColumnMetadata {
        &self.metadata
    }

    fn cardinality(&self) -> Option<u32> {
        self.dictionary().map(|d| d.len() as u32)
    }

    fn dictionary_value(&self, id: u32) -> Value {
        self.dictionary().map_or(Value::Null, |d| d.value(id))
    }

    fn dictionary_ordered(&self) -> bool {
        self.dictionary().is_some()
    }

    fn dictionary_i64_range(&self, ids: std::ops::Range<u32>, out: &mut Vec<i64>) {
        match self.integer_dictionary() {
            Some(dictionary) => dictionary.i64s_in(ids, out),
            None => out.extend(ids.map(|_| 0)),
        }
    }

    fn dictionary_i64s(&self, ids: &[u32], out: &mut Vec<i64>) {
        match self.integer_dictionary() {
            Some(dictionary) => {
                out.extend(ids.iter().map(|id| dictionary.i64_at(*id)));
            }
            _ => out.extend(ids.iter().map(|_| 0)),
        }
    }

    fn lookup(&self, value: &Value) -> Option<u32> {
        self.dictionary()?.find(&to_probe(value)?)
    }

    fn ids_in_range(&self, low: Bound<&Value>, high: Bound<&Value>) -> IdSet {
        let Some(dictionary) = self.dictionary() else {
            return IdSet::Range(0..0);
        };
        let (Some(low), Some(high)) = (map_bound(low), map_bound(high)) else {
            return IdSet::Range(0..0);
        };
        IdSet::Range(dictionary.id_range(low.as_ref(), high.as_ref()))
    }

    fn null_bitmap(&self) -> Result<Option<RoaringBitmap>> {
        Ok(self.nulls().cloned())
    }

    fn inverted_bitmap(&self, id: u32) -> Result<Option<RoaringBitmap>> {
        match self.inverted()? {
            None => Ok(None),
            Some(index) => index
                .bitmap(id)
                .map(Some)
                .map_err(|message| self.corrupt(message)),
        }
    }

    fn sorted_doc_range(&self, ids: Range<u32>) -> Option<Range<u32>> {
        self.sorted().map(|sorted| sorted.range_of_ids(ids))
    }

    fn range_lookup(&self, low: Bound<&Value>, high: Bound<&Value>) -> Result<Option<RangeMatch>> {
        let Some(index) = self.range()? else {
            return Ok(None);
        };
        let (low_key, high_key) = match self.dictionary() {
            Some(_) => match self.ids_in_range(low, high) {
                IdSet::Range(ids) if ids.is_empty() => return Ok(Some(RangeMatch::default())),
                IdSet::Range(ids) => (
                    Bound::Included(u64::from(ids.start)),
                    Bound::Excluded(u64::from(ids.end)),
                ),
                IdSet::Ids(_) => return Ok(None),
            },
            None => {
                let key = |value: &Value| -> Option<u64> {
                    match self.physical {
                        PhysicalType::I32 | PhysicalType::I64 => match value {
                            Value::Int(v) => Some(order_key_i64(i64::from(*v))),
                            Value::Long(v) | Value::Timestamp(v) => Some(order_key_i64(*v)),
                            _ => None,
                        },
                        PhysicalType::F32 | PhysicalType::F64 => match value {
                            Value::Float(v) => Some(order_key_f64(f64::from(*v))),
                            Value::Double(v) => Some(order_key_f64(*v)),
                            Value::Int(v) => Some(order_key_f64(f64::from(*v))),
                            Value::Long(v) => Some(order_key_f64(*v as f64)),
                            _ => None,
                        },
                        PhysicalType::Bytes => None,
                    }
                };
                let convert = |bound: Bound<&Value>| -> Option<Bound<u64>> {
                    Some(match bound {
                        Bound::Included(v) => Bound::Included(key(v)?),
                        Bound::Excluded(v) => Bound::Excluded(key(v)?),
                        Bound::Unbounded => Bound::Unbounded,
                    })
                };
                match (convert(low), convert(high)) {
                    (Some(low), Some(high)) => (low, high),
                    // A literal the index cannot key (e.g. a float against an integer
                    // column): let the caller scan instead.
                    _ => return Ok(None),
                }
            }
        };
        index
            .lookup(low_key, high_key)
            .map(Some)
            .map_err(|message| self.corrupt(message))
    }

    fn bloom_might_contain(&self, value: &Value) -> Option<bool> {
        self.bloom().map(|bloom| bloom.might_contain(value))
    }

    fn text_search(&self, query: &str) -> Result<Option<RoaringBitmap>> {
        match self.text()? {
            None => Ok(None),
            Some(text) => text.search(query).map(Some),
        }
    }

    fn text_contains(&self, needle: &str) -> Result<Option<RoaringBitmap>> {
        match self.text()? {
            None => Ok(None),
            Some(text) => text.docs_containing(needle),
        }
    }

    fn text_contains_at_most(&self, needle: &str) -> Result<Option<u64>> {
        match self.text()? {
            None => Ok(None),
            Some(text) => text.docs_containing_at_most(needle),
        }
    }

    fn text_starts_with(&self, prefix: &str) -> Result<Option<RoaringBitmap>> {
        match self.text()? {
            None => Ok(None),
            Some(text) => text.docs_starting_with(prefix),
        }
    }

    fn text_ends_with(&self, suffix: &str) -> Result<Option<RoaringBitmap>> {
        match self.text()? {
            None => Ok(None),
            Some(text) => text.docs_ending_with(suffix),
        }
    }

    fn read_dict_ids(&self, docs: &[u32], out: &mut Vec<u32>) -> Result<()> {
        let Forward::DictionarySingle { ids, bits } = self.forward()? else {
            return Err(Error::InvalidInput(format!(
                "column has no single-value dictionary ids column=`{}`",
                self.metadata.name
            )));
        };
        let unpacker = BitUnpacker::new(ids.as_slice(), *bits);
        // Docs ascend: the last is the largest.
        if let Some(doc) = docs.last().filter(|doc| **doc >= self.metadata_rows()) {
            return Err(Error::InvalidInput(format!(
                "doc id out of range doc=`{doc}`"
            )));
        }
        unpacker.extend_from_docs(docs, out);
        Ok(())
    }

    fn read_mv_dict_ids(&self, doc: u32, out: &mut Vec<u32>) -> Result<()> {
        let Forward::DictionaryMulti { ids, bits, .. } = self.forward()? else {
            return Err(Error::InvalidInput(format!(
                "column is not multi-value column=`{}`",
                self.metadata.name
            )));
        };
        let (start, end) = self
            .mv_range(doc)
            .ok_or_else(|| Error::InvalidInput(format!("doc id out of range doc=`{doc}`")))?;
        let unpacker = BitUnpacker::new(ids.as_slice(), *bits);
        out.extend((start..end).map(|element| unpacker.get(element)));
        Ok(())
    }

    fn read_values(&self, docs: &[u32], out: &mut Vec<Value>) -> Result<()> {
        out.reserve(docs.len());
        match self.forward()? {
            Forward::DictionarySingle { .. } => {
                let mut ids = Vec::with_capacity(docs.len());
                self.read_dict_ids(docs, &mut ids)?;
                for (doc, id) in docs.iter().zip(ids) {
                    out.push(if self.is_null(*doc) {
                        Value::Null
                    } else {
                        self.dictionary_value(id)
                    });
                }
            }
            Forward::DictionaryMulti { .. } => {
                let mut ids = Vec::new();
                for doc in docs {
                    if self.is_null(*doc) {
                        out.push(Value::Null);
                        continue;
                    }
                    ids.clear();
                    self.read_mv_dict_ids(*doc, &mut ids)?;
                    out.push(Value::Array(
                        ids.iter().map(|id| self.dictionary_value(*id)).collect(),
                    ));
                }
            }
            Forward::Raw(_) => {
                let data_type = self.metadata.data_type;
                self.for_each_raw(docs, None, |doc, bytes| {
                    out.push(if self.is_null(doc) {
                        Value::Null
                    } else {
                        raw_to_value(data_type, bytes)
                    });
                })?;
            }
        }
        Ok(())
    }

    fn read_f64(&self, docs: &[u32], out: &mut Vec<f64>) -> Result<()> {
        out.reserve(docs.len());
        match (self.forward()?, self.dictionary()) {
            (Forward::DictionarySingle { ids, bits }, Some(dictionary)) => {
                let unpacker = BitUnpacker::new(ids.as_slice(), *bits);
                let rows = self.metadata_rows();
                if docs.last().is_some_and(|last| *last >= rows) {
                    return Err(Error::InvalidInput("doc id out of range".into()));
                }
                match self.f64_table(dictionary) {
                    Some(table) => extend_through_table(&unpacker, docs, table, 0.0, out),
                    None => out.extend(
                        docs.iter()
                            .map(|doc| dictionary.f64_at(unpacker.get(*doc as usize))),
                    ),
                }
                Ok(())
            }
            (Forward::Raw(raw), _) => {
                let physical = self.physical;
                if physical == PhysicalType::Bytes {
                    return self
                        .for_each_raw(docs, None, |_, bytes| out.push(raw_f64(physical, bytes)));
                }
                if let (Some(first), Some(last)) = (docs.first(), docs.last())
                    && (last - first) as usize + 1 == docs.len()
                    && *last < raw.row_count()
                {
                    // A contiguous run (a block of a range filter): bit-packed chunks
                    // decode straight into the output. Docs never repeat (a repeated
                    // `5, 5, 7` would pass for one; debug builds check).
                    debug_assert!(crate::bitpack::distinct_ascending(docs));
                    let chunk_rows = raw.chunk_rows();
                    let mut doc = *first;
                    while doc <= *last {
                        let index = (doc / chunk_rows) as usize;
                        let chunk_first = index as u32 * chunk_rows;
                        let end = (*last + 1).min(chunk_first.saturating_add(chunk_rows));
                        let (lo, hi) = ((doc - chunk_first) as usize, (end - chunk_first) as usize);
                        let decoded = raw
                            .chunk_f64_range(index, lo, hi, out)
                            .map_err(|message| self.corrupt(message))?;
                        if !decoded {
                            // A zstd chunk: its docs are this stretch of `docs`.
                            let run = &docs[(doc - first) as usize..(end - first) as usize];
                            self.read_f64_fixed(run, out)?;
                        }
                        doc = end;
                    }
                    return Ok(());
                }
                self.read_f64_fixed(docs, out)
            }
            _ => Err(Error::InvalidInput(format!(
                "column is not a single-value numeric column column=`{}`",
                self.metadata.name
            ))),
        }
    }

    fn read_i64(&self, docs: &[u32], out: &mut Vec<i64>) -> Result<()> {
        out.reserve(docs.len());
        match (self.forward()?, self.dictionary()) {
            (Forward::DictionarySingle { ids, bits }, Some(dictionary)) => {
                let unpacker = BitUnpacker::new(ids.as_slice(), *bits);
                let rows = self.metadata_rows();
                if docs.last().is_some_and(|last| *last >= rows) {
                    return Err(Error::InvalidInput("doc id out of range".into()));
                }
                match self.i64_table(dictionary) {
                    Some(table) => extend_through_table(&unpacker, docs, table, 0, out),
                    None => out.extend(
                        docs.iter()
                            .map(|doc| dictionary.i64_at(unpacker.get(*doc as usize))),
                    ),
                }
                Ok(())
            }
            (Forward::Raw(_), _) => {
                let physical = self.physical;
                if physical == PhysicalType::Bytes {
                    return self.for_each_raw(docs, None, |_, bytes| {
                        out.push(raw_f64(physical, bytes) as i64)
                    });
                }
                // Integers exactly (an f64 detour would round beyond 2^53).
                self.for_each_fixed_run(docs, |run| match physical {
                    PhysicalType::I64 => out.extend(run.chunks_exact(8).map(|b| {
                        i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                    })),
                    PhysicalType::I32 => out.extend(
                        run.chunks_exact(4)
                            .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
                    ),
                    PhysicalType::F64 => out.extend(run.chunks_exact(8).map(|b| {
                        f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as i64
                    })),
                    _ => out.extend(
                        run.chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64),
                    ),
                })
            }
            _ => Err(Error::InvalidInput(format!(
                "column is not a single-value numeric column column=`{}`",
                self.metadata.name
            ))),
        }
    }
}

impl ImmutableColumn {
    fn metadata_rows(&self) -> u32 {
        match self.forward() {
            Ok(Forward::DictionarySingle { ids, bits }) => {
                if *bits == 0 {
                    u32::MAX
                } else {
                    (((ids.len() - 8) * 8) / usize::from(*bits)) as u32
                }
            }
            _ => u32::MAX,
        }
    }
}

/// The values of ascending docs through a decoded dictionary table (`missing` for an id
/// past the table, which an opened segment never has).
fn extend_through_table<T: Copy>(
    unpacker: &BitUnpacker<'_>,
    docs: &[u32],
    table: &[T],
    missing: T,
    out: &mut Vec<T>,
) {
    let mut ids = Vec::with_capacity(docs.len());
    unpacker.extend_from_docs(docs, &mut ids);
    out.extend(
        ids.iter()
            .map(|id| table.get(*id as usize).copied().unwrap_or(missing)),
    );
}

fn raw_f64(physical: PhysicalType, bytes: &[u8]) -> f64 {
    let mut array = [0u8; 8];
    let width = bytes.len().min(8);
    array[..width].copy_from_slice(&bytes[..width]);
    match physical {
        PhysicalType::I32 => {
            f64::from(i32::from_le_bytes([array[0], array[1], array[2], array[3]]))
        }
        PhysicalType::I64 => i64::from_le_bytes(array) as f64,
        PhysicalType::F32 => {
            f64::from(f32::from_le_bytes([array[0], array[1], array[2], array[3]]))
        }
        PhysicalType::F64 => f64::from_le_bytes(array),
        PhysicalType::Bytes => f64::NAN,
    }
}

fn map_bound(bound: Bound<&Value>) -> Option<Bound<Probe>> {
    Some(match bound {
        Bound::Included(v) => Bound::Included(to_probe(v)?),
        Bound::Excluded(v) => Bound::Excluded(to_probe(v)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// Shared handle type for segments held by servers.
pub type SegmentHandle = Arc<dyn SegmentReader>;
