//! Reading text index sections written by tantivy, as segments built before the own
//! format ([`super::postings`]) hold them. Each row was one tantivy document with the
//! text in field `t` (tokenized, with positions), its case-preserving runs in `r` when
//! the tokenizer would change them, and its leading and trailing runs in `l` and `e`.
//! The tantivy files are packed into one section:
//! `file_count u32 | per file: name_len u32, name, offset u64, length u64 | file bytes`
//! (offsets relative to the start of the file bytes). A read-only tantivy `Directory`
//! serves slices of the mmap, so nothing is copied.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use roaring::RoaringBitmap;
use tantivy::collector::DocSetCollector;
#[cfg(test)]
use tantivy::directory::RamDirectory;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, FileSlice, Lock, OwnedBytes, WatchCallback, WatchHandle,
    WritePtr,
};
use tantivy::postings::TermInfo;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, IndexRecordOption};
#[cfg(test)]
use tantivy::schema::{Schema, TEXT, TextFieldIndexing, TextOptions};
#[cfg(test)]
use tantivy::tokenizer::{SimpleTokenizer, TextAnalyzer, TokenizerManager};
use tantivy::{DocSet, InvertedIndexReader, TERMINATED};
use tantivy::{Index, ReloadPolicy};
#[cfg(test)]
use tantivy::{IndexSettings, SingleSegmentIndexWriter, TantivyDocument};

use super::{is_edge_word, is_index_word, is_lowercase_fixed_point};
#[cfg(test)]
use super::{is_irregular, leading_run, trailing_run_reversed};
use crate::format::ByteCursor;
use crate::{Error, Result};

const TEXT_FIELD: &str = "t";
/// Case-preserving alphanumeric runs of the docs whose text the `t` tokenizer would
/// change (see [`super::is_irregular`]); docs only.
const RAW_FIELD: &str = "r";
#[cfg(test)]
const RAW_TOKENIZER: &str = "tessera_raw";
/// The leading alphanumeric run of each doc whose text starts with one, as it is (cut
/// to [`super::EDGE_RUN_LIMIT_BYTES`]): `LIKE 'word%'` exactly. Absent from segments
/// built before it (their prefixes are scanned).
const LEAD_FIELD: &str = "l";
/// The trailing alphanumeric run of each doc whose text ends with one, its characters
/// reversed: `LIKE '%word'` exactly, as a prefix of the reversed word.
const TAIL_FIELD: &str = "e";
/// Initial arena of the single-segment writer; it grows as the text does.
#[cfg(test)]
const WRITER_MEMORY_BYTES: usize = 16 << 20;

#[cfg(test)]
struct Fields {
    text: Field,
    raw: Field,
    lead: Field,
    tail: Field,
}

#[cfg(test)]
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

#[cfg(test)]
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

/// Builds a tantivy text index as segments written before the own format held
/// (tests read such sections through [`TantivyText`]).
#[cfg(test)]
pub(super) struct TantivyBuilder {
    directory: RamDirectory,
    writer: SingleSegmentIndexWriter<TantivyDocument>,
    fields: Fields,
    next_doc: u32,
}

#[cfg(test)]
impl TantivyBuilder {
    pub(super) fn new() -> Result<TantivyBuilder> {
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
        Ok(TantivyBuilder {
            directory,
            writer,
            fields,
            next_doc: 0,
        })
    }

    /// Index the text of doc `doc_id`; docs skipped since the last call (NULL rows)
    /// become empty documents, so tantivy's doc ids stay equal to the segment's.
    pub(super) fn add(&mut self, doc_id: u32, text: &str) -> Result<()> {
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
    pub(super) fn finish(mut self, rows: u32) -> Result<Vec<u8>> {
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
        for (_, bytes) in &files {
            table.extend_from_slice(bytes.as_slice());
        }
        Ok(table)
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

/// A text index section written by tantivy (segments built before the own format).
#[derive(Clone)]
pub(super) struct TantivyText {
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

impl TantivyText {
    /// Open the packed section of a segment with `rows` docs; `Err` holds a message
    /// for a corruption error.
    pub(super) fn open(data: OwnedBytes, rows: u32) -> Result<TantivyText, String> {
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
        Ok(TantivyText {
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
    pub(super) fn docs_containing(&self, needle: &str) -> Result<Option<RoaringBitmap>> {
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
    pub(super) fn docs_starting_with(&self, prefix: &str) -> Result<Option<RoaringBitmap>> {
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
    pub(super) fn docs_ending_with(&self, suffix: &str) -> Result<Option<RoaringBitmap>> {
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
    pub(super) fn docs_containing_at_most(&self, needle: &str) -> Result<Option<u64>> {
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
    pub(super) fn search(&self, query: &str) -> Result<RoaringBitmap> {
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
