//! Text index: a tantivy index stored inside the segment file and read from it in place.
//!
//! Each row becomes one tantivy document with the text in field `t` (tokenized, with
//! positions, so phrase queries work); NULL rows become empty documents. The index is
//! written as one tantivy segment by a single-segment writer on the calling thread, so
//! tantivy's doc id *is* the segment doc id and no mapping is stored.
//! The tantivy files are packed into one section:
//! `file_count u32 | per file: name_len u32, name, offset u64, length u64 | file bytes`
//! (offsets relative to the start of the file bytes). At read time a read-only tantivy
//! `Directory` serves slices of the mmap, so nothing is copied.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use roaring::RoaringBitmap;
use tantivy::collector::DocSetCollector;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, FileSlice, Lock, OwnedBytes, RamDirectory, WatchCallback,
    WatchHandle, WritePtr,
};
use tantivy::postings::TermInfo;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, IndexRecordOption, Schema, TEXT, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{SimpleTokenizer, TextAnalyzer, TokenizerManager};
use tantivy::{DocSet, InvertedIndexReader, TERMINATED};
use tantivy::{Index, IndexSettings, ReloadPolicy, SingleSegmentIndexWriter, TantivyDocument};

use crate::format::ByteCursor;
use crate::{Error, Result};

const TEXT_FIELD: &str = "t";
/// Case-preserving alphanumeric runs of the docs whose text the `t` tokenizer would
/// change (see [`is_irregular`]); docs only.
const RAW_FIELD: &str = "r";
const RAW_TOKENIZER: &str = "tessera_raw";
/// The leading alphanumeric run of each doc whose text starts with one, as it is (cut
/// to [`EDGE_RUN_LIMIT_BYTES`]): `LIKE 'word%'` exactly. Absent from segments built
/// before it (their prefixes are scanned).
const LEAD_FIELD: &str = "l";
/// The trailing alphanumeric run of each doc whose text ends with one, its characters
/// reversed (cut to [`EDGE_RUN_LIMIT_BYTES`]): `LIKE '%word'` exactly, as a prefix of
/// the reversed word.
const TAIL_FIELD: &str = "e";
/// Leading and trailing runs are indexed up to this many bytes; longer prefixes and
/// suffixes are not answered.
pub const EDGE_RUN_LIMIT_BYTES: usize = 64;
/// Initial arena of the single-segment writer; it grows as the text does.
const WRITER_MEMORY_BYTES: usize = 16 << 20;
/// Tantivy's `default` tokenizer drops tokens of this many bytes or more.
pub const DEFAULT_TOKEN_LIMIT_BYTES: usize = 40;

struct Fields {
    text: Field,
    raw: Field,
    lead: Field,
    tail: Field,
}

fn text_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = builder.add_text_field(TEXT_FIELD, TEXT);
    let raw_indexing = TextFieldIndexing::default()
        .set_tokenizer(RAW_TOKENIZER)
        .set_index_option(IndexRecordOption::Basic)
        .set_fieldnorms(false);
    let raw = builder.add_text_field(
        RAW_FIELD,
        TextOptions::default().set_indexing_options(raw_indexing),
    );
    // The edge runs: tantivy's `raw` tokenizer (the whole run is one term), doc ids
    // only. Like `r`, no field norms (a byte per doc each; nothing here is scored).
    let edge_options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    );
    let lead = builder.add_text_field(LEAD_FIELD, edge_options.clone());
    let tail = builder.add_text_field(TAIL_FIELD, edge_options);
    let fields = Fields {
        text,
        raw,
        lead,
        tail,
    };
    (builder.build(), fields)
}

/// A word the index looks up exactly as a substring ([`TextIndex::docs_containing`]):
/// non-empty and alphanumeric.
pub fn is_index_word(word: &str) -> bool {
    !word.is_empty() && word.chars().all(char::is_alphanumeric)
}

/// A prefix or suffix the edge runs answer ([`TextIndex::docs_starting_with`],
/// [`TextIndex::docs_ending_with`]): an index word within the indexed length.
pub fn is_edge_word(word: &str) -> bool {
    word.len() <= EDGE_RUN_LIMIT_BYTES && is_index_word(word)
}

/// The alphanumeric run `text` starts with (as the tokenizers split: on characters
/// that are not `char::is_alphanumeric`), cut to [`EDGE_RUN_LIMIT_BYTES`] at a
/// character boundary; empty when `text` starts with anything else.
fn leading_run(text: &str) -> &str {
    let mut end = 0;
    for (at, c) in text.char_indices() {
        if !c.is_alphanumeric() || at + c.len_utf8() > EDGE_RUN_LIMIT_BYTES {
            break;
        }
        end = at + c.len_utf8();
    }
    &text[..end]
}

/// The alphanumeric run `text` ends with, its characters in reverse order, cut to
/// [`EDGE_RUN_LIMIT_BYTES`]; empty when `text` ends with anything else.
fn trailing_run_reversed(text: &str) -> String {
    let mut reversed = String::new();
    for c in text.chars().rev() {
        if !c.is_alphanumeric() || reversed.len() + c.len_utf8() > EDGE_RUN_LIMIT_BYTES {
            break;
        }
        reversed.push(c);
    }
    reversed
}

/// Append the docs of a term's postings, ascending, to `docs`.
fn push_postings(
    inverted: &InvertedIndexReader,
    info: &TermInfo,
    docs: &mut Vec<u32>,
) -> Result<()> {
    let mut postings = inverted
        .read_postings_from_terminfo(info, IndexRecordOption::Basic)
        .map_err(|e| Error::TextQuery(format!("postings: {e}")))?;
    let mut doc = postings.doc();
    while doc != TERMINATED {
        docs.push(doc);
        doc = postings.advance();
    }
    Ok(())
}

/// Tantivy's tokenizers plus `tessera_raw`: the `default` tokenizer's splitting on
/// non-alphanumeric characters, without lowercasing or a length limit.
fn tokenizers() -> TokenizerManager {
    let manager = TokenizerManager::default();
    manager.register(
        RAW_TOKENIZER,
        TextAnalyzer::from(SimpleTokenizer::default()),
    );
    manager
}

/// Whether the `default` tokenizer would change some alphanumeric run of `text`: a
/// character that lowercases to something else, or a run of 40+ bytes (dropped).
pub fn is_irregular(text: &str) -> bool {
    // ASCII text, byte by byte: irregular when it holds an uppercase letter or a run of
    // 40+ alphanumerics.
    if text.is_ascii() {
        let mut run = 0usize;
        for byte in text.bytes() {
            if byte.is_ascii_alphanumeric() {
                run += 1;
                if run >= DEFAULT_TOKEN_LIMIT_BYTES || byte.is_ascii_uppercase() {
                    return true;
                }
            } else {
                run = 0;
            }
        }
        return false;
    }
    is_irregular_by_char(text)
}

fn is_irregular_by_char(text: &str) -> bool {
    let mut run = 0usize;
    for c in text.chars() {
        if c.is_alphanumeric() {
            run += c.len_utf8();
            if run >= DEFAULT_TOKEN_LIMIT_BYTES || !is_lowercase_fixed_point(c) {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// `c` lowercases to itself.
pub fn is_lowercase_fixed_point(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_uppercase();
    }
    let mut lower = c.to_lowercase();
    lower.next() == Some(c) && lower.next().is_none()
}

/// Builds a text index from rows given in segment doc order.
pub struct TextIndexBuilder {
    directory: RamDirectory,
    writer: SingleSegmentIndexWriter<TantivyDocument>,
    fields: Fields,
    next_doc: u32,
}

impl TextIndexBuilder {
    pub fn new() -> Result<TextIndexBuilder> {
        let (schema, fields) = text_schema();
        let directory = RamDirectory::create();
        // Tantivy's single-segment writer indexes on the calling thread (no channel, no
        // merges) and yields exactly one segment whose doc ids are the add order.
        let writer = Index::builder()
            .schema(schema)
            .tokenizers(tokenizers())
            .settings(IndexSettings::default())
            .single_segment_index_writer(directory.clone(), WRITER_MEMORY_BYTES)
            .map_err(Error::TextIndex)?;
        Ok(TextIndexBuilder {
            directory,
            writer,
            fields,
            next_doc: 0,
        })
    }

    /// Index the text of doc `doc_id`; docs skipped since the last call (NULL rows)
    /// become empty documents, so tantivy's doc ids stay equal to the segment's.
    pub fn add(&mut self, doc_id: u32, text: &str) -> Result<()> {
        if doc_id < self.next_doc {
            return Err(Error::InvalidInput(
                "text index docs must arrive in ascending order".into(),
            ));
        }
        while self.next_doc < doc_id {
            self.add_document(TantivyDocument::default())?;
        }
        let mut document = TantivyDocument::default();
        document.add_text(self.fields.text, text);
        if is_irregular(text) {
            document.add_text(self.fields.raw, text);
        }
        let lead = leading_run(text);
        if !lead.is_empty() {
            document.add_text(self.fields.lead, lead);
        }
        let tail = trailing_run_reversed(text);
        if !tail.is_empty() {
            document.add_text(self.fields.tail, tail);
        }
        self.add_document(document)
    }

    fn add_document(&mut self, document: TantivyDocument) -> Result<()> {
        self.writer
            .add_document(document)
            .map_err(Error::TextIndex)?;
        self.next_doc += 1;
        Ok(())
    }

    /// Pad to `rows` docs, finalize the one tantivy segment, and pack its files.
    pub fn finish(mut self, rows: u32) -> Result<PackedTextIndex> {
        while self.next_doc < rows {
            self.add_document(TantivyDocument::default())?;
        }
        let index = self.writer.finalize().map_err(Error::TextIndex)?;
        let metas = index.load_metas().map_err(Error::TextIndex)?;
        let mut names: Vec<PathBuf> = metas.list_segment_files().into_iter().collect();
        names.push(PathBuf::from("meta.json"));
        names.sort();
        let mut files = Vec::new();
        for name in names {
            let exists = self
                .directory
                .exists(&name)
                .map_err(|error| Error::TextIndex(tantivy::TantivyError::from(error)))?;
            if !exists {
                continue;
            }
            let bytes = self
                .directory
                .open_read(&name)
                .and_then(|slice| {
                    slice
                        .read_bytes()
                        .map_err(|io_error| OpenReadError::IoError {
                            io_error: Arc::new(io_error),
                            filepath: name.clone(),
                        })
                })
                .map_err(|error| Error::TextIndex(tantivy::TantivyError::from(error)))?;
            files.push((name.to_string_lossy().into_owned(), bytes));
        }
        let mut table = Vec::new();
        table.extend_from_slice(&(files.len() as u32).to_le_bytes());
        let mut offset = 0u64;
        for (name, bytes) in &files {
            table.extend_from_slice(&(name.len() as u32).to_le_bytes());
            table.extend_from_slice(name.as_bytes());
            table.extend_from_slice(&offset.to_le_bytes());
            table.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            offset += bytes.len() as u64;
        }
        Ok(PackedTextIndex {
            table,
            files: files.into_iter().map(|(_, bytes)| bytes).collect(),
        })
    }
}

/// A finished text index: the file table and the files, written as one section
/// without joining them into one buffer first.
pub struct PackedTextIndex {
    table: Vec<u8>,
    files: Vec<OwnedBytes>,
}

impl PackedTextIndex {
    pub fn parts(&self) -> Vec<&[u8]> {
        std::iter::once(self.table.as_slice())
            .chain(self.files.iter().map(|file| file.as_slice()))
            .collect()
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.parts().concat()
    }

    /// Open the finished index in memory (consuming segments search their text this
    /// way, without writing a file).
    pub fn open_in_memory(&self, rows: u32) -> Result<TextIndex> {
        TextIndex::open(OwnedBytes::new(self.to_vec()), rows).map_err(|message| Error::Corrupt {
            path: PathBuf::from("<in-memory text index>"),
            message,
        })
    }
}

/// A read-only tantivy directory over slices of the segment file.
#[derive(Clone, Debug)]
struct SectionDirectory {
    files: Arc<HashMap<PathBuf, FileSlice>>,
}

fn read_only_error(path: &Path) -> io::Error {
    io::Error::other(format!(
        "text index inside a segment is read-only path=`{}`",
        path.display()
    ))
}

impl Directory for SectionDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let slice = self.open_read(path)?;
        Ok(Arc::new(slice))
    }

    fn open_read(&self, path: &Path) -> Result<FileSlice, OpenReadError> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| OpenReadError::FileDoesNotExist(path.to_path_buf()))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        Err(DeleteError::IoError {
            io_error: Arc::new(read_only_error(path)),
            filepath: path.to_path_buf(),
        })
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        Ok(self.files.contains_key(path))
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        Err(OpenWriteError::IoError {
            io_error: Arc::new(read_only_error(path)),
            filepath: path.to_path_buf(),
        })
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        let slice = self.open_read(path)?;
        let bytes = slice
            .read_bytes()
            .map_err(|io_error| OpenReadError::IoError {
                io_error: Arc::new(io_error),
                filepath: path.to_path_buf(),
            })?;
        Ok(bytes.as_slice().to_vec())
    }

    fn atomic_write(&self, path: &Path, _data: &[u8]) -> io::Result<()> {
        Err(read_only_error(path))
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }

    /// Readers take tantivy's meta lock; nothing can write here, so the lock is a no-op.
    fn acquire_lock(&self, _lock: &Lock) -> Result<DirectoryLock, LockError> {
        Ok(DirectoryLock::from(Box::new(())))
    }

    fn watch(&self, _callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        Ok(WatchHandle::empty())
    }
}

/// An opened text index.
#[derive(Clone)]
pub struct TextIndex {
    index: Index,
    reader: tantivy::IndexReader,
    text_field: Field,
    /// `None` in segments written before the field existed.
    raw_field: Option<Field>,
    /// Absent in indexes built before leading and trailing runs were indexed.
    lead_field: Option<Field>,
    tail_field: Option<Field>,
    /// Docs with `r` tokens, computed on first use.
    irregular: OnceLock<RoaringBitmap>,
}

impl TextIndex {
    /// Open the packed section of a segment with `rows` docs; `Err` holds a message
    /// for a corruption error.
    pub fn open(data: OwnedBytes, rows: u32) -> Result<TextIndex, String> {
        let mut cursor = ByteCursor::new(data.as_slice());
        let truncated = || "text index file table is truncated".to_string();
        let count = cursor.u32().ok_or_else(truncated)?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let name_len = cursor.u32().ok_or_else(truncated)? as usize;
            let name = cursor.take(name_len).ok_or_else(truncated)?;
            let name =
                std::str::from_utf8(name).map_err(|_| "text index file name is not UTF-8")?;
            let offset = cursor.u64().ok_or_else(truncated)?;
            let length = cursor.u64().ok_or_else(truncated)?;
            entries.push((PathBuf::from(name), offset, length));
        }
        let data_start = data.len() - cursor.remaining();
        let data_len = cursor.remaining() as u64;
        let mut files = HashMap::new();
        for (name, offset, length) in entries {
            let end = offset
                .checked_add(length)
                .filter(|end| *end <= data_len)
                .ok_or("text index file runs past its section")?;
            let start = data_start + offset as usize;
            let slice = FileSlice::new(Arc::new(data.slice(start..data_start + end as usize)));
            files.insert(name, slice);
        }
        let directory = SectionDirectory {
            files: Arc::new(files),
        };
        let index = Index::open(directory).map_err(|error| format!("text index: {error}"))?;
        let text_field = index
            .schema()
            .get_field(TEXT_FIELD)
            .map_err(|error| format!("text index: {error}"))?;
        let reader: tantivy::IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|error: tantivy::TantivyError| format!("text index: {error}"))?;
        let segments = reader.searcher().segment_readers().len();
        let docs = reader.searcher().num_docs();
        if segments > 1 || docs != u64::from(rows) {
            return Err(format!(
                "text index has {segments} tantivy segments and {docs} docs; expected one segment with {rows}"
            ));
        }
        let raw_field = index.schema().get_field(RAW_FIELD).ok();
        let lead_field = index.schema().get_field(LEAD_FIELD).ok();
        let tail_field = index.schema().get_field(TAIL_FIELD).ok();
        Ok(TextIndex {
            index,
            reader,
            text_field,
            raw_field,
            lead_field,
            tail_field,
            irregular: OnceLock::new(),
        })
    }

    /// Docs whose text contains `needle` (case-sensitive), exactly, when `needle` is
    /// alphanumeric; `None` otherwise (or for an index without the `r` field).
    ///
    /// An occurrence of an alphanumeric needle lies inside one maximal alphanumeric
    /// run. For a *regular* doc (not [`is_irregular`]) every run is a `t` term as it
    /// is; for an irregular doc every run is an `r` term as it is. So the matches are
    /// the regular docs with a `t` term containing the needle (none when the needle
    /// itself changes under lowercasing) plus the docs with an `r` term containing it.
    pub fn docs_containing(&self, needle: &str) -> Result<Option<RoaringBitmap>> {
        let Some((raw_field, text_field)) = self.fields_containing(needle) else {
            return Ok(None);
        };
        let irregular = match self.irregular.get() {
            Some(docs) => docs,
            None => {
                let docs = self.docs_with_term(raw_field, |_| true)?;
                self.irregular.get_or_init(|| docs)
            }
        };
        let mut docs = self.docs_with_term(raw_field, |term| term.contains(needle))?;
        if let Some(text_field) = text_field {
            let mut regular = self.docs_with_term(text_field, |term| term.contains(needle))?;
            regular -= irregular;
            docs |= regular;
        }
        Ok(Some(docs))
    }

    /// Docs whose text starts with `prefix` (case-sensitive), exactly, when `prefix` is
    /// alphanumeric and at most [`EDGE_RUN_LIMIT_BYTES`] long; `None` otherwise (or for
    /// an index without leading runs).
    ///
    /// An alphanumeric prefix of a text lies inside the text's leading alphanumeric run,
    /// which the `l` field holds as one term (cut to the limit, which a prefix within
    /// the limit does not reach past). So the matches are the docs with an `l` term
    /// starting with `prefix`: a range of the term dictionary, no text read.
    pub fn docs_starting_with(&self, prefix: &str) -> Result<Option<RoaringBitmap>> {
        match self.lead_field {
            Some(lead_field) if is_edge_word(prefix) => {
                self.docs_with_term_prefix(lead_field, prefix).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Docs whose text ends with `suffix` (case-sensitive), exactly, under the same
    /// conditions as [`TextIndex::docs_starting_with`]: an alphanumeric suffix lies
    /// inside the trailing run, which the `e` field holds reversed, so the matches are
    /// the docs with an `e` term starting with the reversed suffix.
    pub fn docs_ending_with(&self, suffix: &str) -> Result<Option<RoaringBitmap>> {
        match self.tail_field {
            Some(tail_field) if is_edge_word(suffix) => {
                let reversed: String = suffix.chars().rev().collect();
                self.docs_with_term_prefix(tail_field, &reversed).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Union of the postings of the terms of `field` (one term per doc at most, so the
    /// postings are disjoint) that start with `prefix`: a range of the term dictionary.
    fn docs_with_term_prefix(&self, field: Field, prefix: &str) -> Result<RoaringBitmap> {
        let mut docs = Vec::new();
        let searcher = self.reader.searcher();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(field).map_err(Error::TextIndex)?;
            let mut terms = inverted
                .terms()
                .range()
                .ge(prefix.as_bytes())
                .into_stream()
                .map_err(|e| Error::TextQuery(format!("term dictionary: {e}")))?;
            // Terms ascend bytewise: those starting with the prefix are consecutive.
            while terms.advance() && terms.key().starts_with(prefix.as_bytes()) {
                push_postings(&inverted, terms.value(), &mut docs)?;
            }
        }
        docs.sort_unstable();
        RoaringBitmap::from_sorted_iter(docs)
            .map_err(|e| Error::TextQuery(format!("postings out of order: {e}")))
    }

    /// The fields whose terms [`TextIndex::docs_containing`] searches for `needle`: the
    /// case-preserving `r`, and `t` unless the needle changes under lowercasing. `None`
    /// when the index cannot answer (no `r` field, or a needle that is not alphanumeric).
    fn fields_containing(&self, needle: &str) -> Option<(Field, Option<Field>)> {
        let raw_field = self.raw_field?;
        if !is_index_word(needle) {
            return None;
        }
        let text_field = needle
            .chars()
            .all(is_lowercase_fixed_point)
            .then_some(self.text_field);
        Some((raw_field, text_field))
    }

    /// An upper bound of [`TextIndex::docs_containing`]'s count, from the term
    /// dictionary alone (the summed document frequencies of the terms that contain the
    /// needle; no postings are read). `None` when `docs_containing` cannot answer.
    pub fn docs_containing_at_most(&self, needle: &str) -> Result<Option<u64>> {
        let Some((raw_field, text_field)) = self.fields_containing(needle) else {
            return Ok(None);
        };
        let mut count = self.term_doc_frequency(raw_field, |term| term.contains(needle))?;
        if let Some(text_field) = text_field {
            count += self.term_doc_frequency(text_field, |term| term.contains(needle))?;
        }
        Ok(Some(count))
    }

    /// Summed document frequencies of the terms of `field` that pass `keep`.
    fn term_doc_frequency(&self, field: Field, keep: impl Fn(&str) -> bool) -> Result<u64> {
        let mut count = 0u64;
        self.for_each_term(field, keep, |_, info| {
            count += u64::from(info.doc_freq);
            Ok(())
        })?;
        Ok(count)
    }

    /// Union of the postings of the terms of `field` that pass `keep` (the term
    /// dictionary is scanned; it holds each distinct token once).
    fn docs_with_term(&self, field: Field, keep: impl Fn(&str) -> bool) -> Result<RoaringBitmap> {
        let mut docs = RoaringBitmap::new();
        self.for_each_term(field, keep, |inverted, info| {
            // Postings ascend: a term's docs are appended in bulk, not inserted one by
            // one, and unioned once.
            let mut term_docs = Vec::with_capacity(info.doc_freq as usize);
            push_postings(inverted, info, &mut term_docs)?;
            let term_docs = RoaringBitmap::from_sorted_iter(term_docs)
                .map_err(|e| Error::TextQuery(format!("postings out of order: {e}")))?;
            if docs.is_empty() {
                docs = term_docs;
            } else {
                docs |= term_docs;
            }
            Ok(())
        })?;
        Ok(docs)
    }

    /// Visit the terms of `field` that pass `keep`, with their segment's inverted index.
    fn for_each_term(
        &self,
        field: Field,
        keep: impl Fn(&str) -> bool,
        mut visit: impl FnMut(&InvertedIndexReader, &TermInfo) -> Result<()>,
    ) -> Result<()> {
        let searcher = self.reader.searcher();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(field).map_err(Error::TextIndex)?;
            let mut terms = inverted
                .terms()
                .stream()
                .map_err(|e| Error::TextQuery(format!("term dictionary: {e}")))?;
            while terms.advance() {
                if std::str::from_utf8(terms.key()).is_ok_and(&keep) {
                    visit(&inverted, terms.value())?;
                }
            }
        }
        Ok(())
    }

    /// Docs matching a tantivy query string (`foo AND bar`, `"a phrase"`, `pre*`).
    pub fn search(&self, query: &str) -> Result<RoaringBitmap> {
        let parser = QueryParser::for_index(&self.index, vec![self.text_field]);
        let parsed = parser
            .parse_query(query)
            .map_err(|error| Error::TextQuery(format!("{error} query=`{query}`")))?;
        let searcher = self.reader.searcher();
        let addresses = searcher
            .search(&parsed, &DocSetCollector)
            .map_err(Error::TextIndex)?;
        // One tantivy segment whose doc ids are the segment's doc ids.
        let docs: RoaringBitmap = addresses
            .into_iter()
            .map(|address| address.doc_id)
            .collect();
        Ok(docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_text_index_roundtrip_in_place() {
        let mut builder = TextIndexBuilder::new().expect("builder");
        let texts = [
            "quick brown fox",
            "lazy dog",
            "the quick dog",
            "special requests",
        ];
        for (doc, text) in texts.iter().enumerate() {
            builder.add(doc as u32 * 2, text).expect("add");
        }
        let packed = builder.finish(8).expect("finish").to_vec();
        let index = TextIndex::open(OwnedBytes::new(packed), 8).expect("open");
        let hits: Vec<u32> = index.search("quick").expect("search").iter().collect();
        assert_eq!(hits, vec![0, 4]);
        let phrase: Vec<u32> = index
            .search("\"quick dog\"")
            .expect("search")
            .iter()
            .collect();
        assert_eq!(phrase, vec![4]);
        assert!(index.search("AND (").is_err());
    }

    #[test]
    fn test_prefix_and_suffix_docs_are_exact_and_case_sensitive() {
        let long = "a".repeat(EDGE_RUN_LIMIT_BYTES + 10);
        let texts = [
            "carefully final deposits",
            "Carefully final",
            " carefully leading space",
            "carefullyx run on",
            "careful",
            "-carefully dash",
            "日本語のテキスト",
            "",
            long.as_str(),
            "ca",
            "quickly carefully",
            "trailing dash-",
            "Dash",
        ];
        let mut builder = TextIndexBuilder::new().expect("builder");
        // Doc 1 is NULL: no text at all.
        for (doc, text) in texts.iter().enumerate() {
            builder.add(doc as u32 + 2, text).expect("add");
        }
        let rows = texts.len() as u32 + 2;
        let packed = builder.finish(rows).expect("finish");
        let index = TextIndex::open(OwnedBytes::new(packed.to_vec()), rows).expect("open");
        let at_limit = "a".repeat(EDGE_RUN_LIMIT_BYTES);
        // Doc ids of the texts that pass `test`, and of an answerable lookup.
        let matching = |test: &dyn Fn(&str) -> bool| -> Vec<u32> {
            (0..texts.len() as u32)
                .filter(|d| test(texts[*d as usize]))
                .map(|d| d + 2)
                .collect()
        };
        let answer = |found: Result<Option<RoaringBitmap>>| -> Vec<u32> {
            found.expect("lookup").expect("answerable").iter().collect()
        };
        for prefix in [
            "carefully",
            "careful",
            "Careful",
            "c",
            "ca",
            "car",
            "carefullyx",
            "quick",
            "日本",
            "日本語のテキスト",
            "zzz",
            at_limit.as_str(),
        ] {
            let expected = matching(&|text: &str| text.starts_with(prefix));
            let docs = answer(index.docs_starting_with(prefix));
            assert_eq!(docs, expected, "prefix {prefix}");
        }
        // Prefixes with separators, or past the indexed length, are not answered.
        for prefix in [
            "carefully final",
            " carefully",
            "",
            &long[..EDGE_RUN_LIMIT_BYTES + 1],
        ] {
            assert!(index.docs_starting_with(prefix).expect("lookup").is_none());
            assert!(index.docs_ending_with(prefix).expect("lookup").is_none());
        }
        for suffix in [
            "dash",
            "h",
            "ash",
            "Dash",
            "final",
            "inal",
            "テキスト",
            "on",
            "carefully",
            "ca",
            "deposits",
            at_limit.as_str(),
        ] {
            let expected = matching(&|text: &str| text.ends_with(suffix));
            let docs = answer(index.docs_ending_with(suffix));
            assert_eq!(docs, expected, "suffix {suffix}");
        }
    }

    #[test]
    fn test_substring_docs_are_exact_and_case_sensitive() {
        let long = format!("x{}y", "special".repeat(8));
        let texts = [
            "especially requests",
            "SPECIAL deals and special ones",
            "nothing here",
            "un-special-ized",
            "日本語のspecialテキスト",
            "Tiresias sleeps",
            long.as_str(),
            "Special",
        ];
        let mut builder = TextIndexBuilder::new().expect("builder");
        for (doc, text) in texts.iter().enumerate() {
            builder.add(doc as u32, text).expect("add");
        }
        let packed = builder.finish(8).expect("finish");
        let index = TextIndex::open(OwnedBytes::new(packed.to_vec()), 8).expect("open");
        for needle in [
            "special", "pecia", "SPECIAL", "Special", "Tires", "tires", "日本", "xspec",
        ] {
            let expected: Vec<u32> = (0..8u32)
                .filter(|d| texts[*d as usize].contains(needle))
                .collect();
            let docs: Vec<u32> = index
                .docs_containing(needle)
                .expect("lookup")
                .expect("answerable")
                .iter()
                .collect();
            assert_eq!(docs, expected, "needle {needle}");
        }
        // Needles with separators cannot be answered from single tokens.
        assert!(
            index
                .docs_containing("special deals")
                .expect("lookup")
                .is_none()
        );
        assert!(index.docs_containing("").expect("lookup").is_none());
        assert!(is_irregular("Tiresias") && is_irregular(&long) && !is_irregular("ab-cd é"));
        // The ASCII fast path agrees with the character scan.
        let ascii = [
            "",
            "plain words, 42 of them",
            "x-Y",
            "Z",
            &"a".repeat(39),
            &"a".repeat(40),
            &format!("{}-{}", "b".repeat(39), "c".repeat(39)),
            "tabs\tand~symbols!@#",
        ];
        for text in ascii {
            assert_eq!(is_irregular(text), is_irregular_by_char(text), "{text:?}");
        }
    }
}
