//! Text index: per row, the words of a string column (alphanumeric runs, lowercased,
//! with their positions, as tantivy's `default` tokenizer makes them), plus what
//! `LIKE` needs to answer exactly: the case-preserving runs of rows whose words the
//! tokenizer changes, and each row's leading and trailing runs. Written in the
//! project's own format ([`postings`]); sections written by tantivy before it
//! ([`tantivy_legacy`]) are still read.
//!
//! The section: `magic u32 ("TTX1") | rows u32 | per field (t, r, l, e): offset u64,
//! length u64 (from the section's start) | the fields' bytes`, each field a sorted term
//! table ([`postings`]): `t` the words with positions; `r` the case-preserving runs of
//! the docs [`is_irregular`] names (docs only); `l` each doc's leading run and `e` its
//! trailing run reversed, cut to [`EDGE_RUN_LIMIT_BYTES`] (docs only).

mod postings;
mod query;
mod tantivy_legacy;
mod term_ids;

use std::path::PathBuf;
use std::sync::OnceLock;

use roaring::RoaringBitmap;
use tantivy::directory::OwnedBytes;

use crate::format::read_u32;
use crate::{Error, Result};
use postings::{Field, FieldBuilder, Layout};
use query::{Ast, Occur};
use tantivy_legacy::TantivyText;

/// Leading and trailing runs are indexed up to this many bytes; longer prefixes and
/// suffixes are not answered.
pub const EDGE_RUN_LIMIT_BYTES: usize = 64;
/// Tantivy's `default` tokenizer drops tokens of this many bytes or more; so does the
/// word field.
pub const DEFAULT_TOKEN_LIMIT_BYTES: usize = 40;
/// The first four bytes of an own-format section (tantivy's start with a file count).
const MAGIC: u32 = u32::from_le_bytes(*b"TTX1");
/// The fields, in section order.
const WORDS: usize = 0;
const RAW_RUNS: usize = 1;
const LEADING_RUNS: usize = 2;
const TRAILING_RUNS: usize = 3;
const FIELDS: usize = 4;
const HEADER_BYTES: usize = 8 + FIELDS * 16;

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
pub fn leading_run(text: &str) -> &str {
    let mut end = 0;
    for (at, c) in text.char_indices() {
        if !c.is_alphanumeric() || at + c.len_utf8() > EDGE_RUN_LIMIT_BYTES {
            break;
        }
        end = at + c.len_utf8();
    }
    &text[..end]
}

/// The alphanumeric run `text` ends with, cut to its last [`EDGE_RUN_LIMIT_BYTES`] at a
/// character boundary; empty when `text` ends with anything else.
pub fn trailing_run(text: &str) -> &str {
    let mut start = text.len();
    for (at, c) in text.char_indices().rev() {
        if !c.is_alphanumeric() || text.len() - at > EDGE_RUN_LIMIT_BYTES {
            break;
        }
        start = at;
    }
    &text[start..]
}

/// [`trailing_run`] with its characters in reverse order (the trailing-run field's term).
fn trailing_run_reversed(text: &str) -> String {
    trailing_run(text).chars().rev().collect()
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

/// Visit the alphanumeric runs of `text` (split on characters that are not
/// `char::is_alphanumeric`, as tantivy's `SimpleTokenizer` splits) with their
/// positions: the run's index among the runs.
fn for_each_run(text: &str, mut visit: impl FnMut(u32, &str)) {
    let mut position = 0u32;
    if text.is_ascii() {
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if !bytes[at].is_ascii_alphanumeric() {
                at += 1;
                continue;
            }
            let start = at;
            while at < bytes.len() && bytes[at].is_ascii_alphanumeric() {
                at += 1;
            }
            visit(position, &text[start..at]);
            position += 1;
        }
        return;
    }
    let mut start: Option<usize> = None;
    for (at, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                visit(position, &text[from..at]);
                position += 1;
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        visit(position, &text[from..]);
    }
}

/// The word a run becomes (tantivy's `default` tokenizer): `None` when it is too long
/// to keep, else the run lowercased character by character, into `buffer` when that
/// changes it.
fn word_of<'a>(run: &'a str, buffer: &'a mut String) -> Option<&'a str> {
    if run.len() >= DEFAULT_TOKEN_LIMIT_BYTES {
        return None;
    }
    if run.is_ascii() {
        if !run.bytes().any(|b| b.is_ascii_uppercase()) {
            return Some(run);
        }
        buffer.clear();
        buffer.push_str(run);
        buffer.make_ascii_lowercase();
        return Some(buffer);
    }
    if run.chars().all(is_lowercase_fixed_point) {
        return Some(run);
    }
    buffer.clear();
    for c in run.chars() {
        buffer.extend(c.to_lowercase());
    }
    Some(buffer)
}

/// The words of a query's text with their positions.
fn query_words(text: &str) -> Vec<(u32, String)> {
    let mut words = Vec::new();
    let mut buffer = String::new();
    for_each_run(text, |position, run| {
        if let Some(word) = word_of(run, &mut buffer) {
            words.push((position, word.to_string()));
        }
    });
    words
}

/// [`ASCII_CLASS`] of an alphanumeric byte.
const ASCII_ALPHANUMERIC: u8 = 1;
/// [`ASCII_CLASS`] bit of an uppercase letter.
const ASCII_UPPER: u8 = 2;
/// What the ASCII pass needs of a byte, by byte: 0 outside a run.
const ASCII_CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut byte = 0usize;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() {
            class[byte] = ASCII_ALPHANUMERIC;
        }
        if b.is_ascii_uppercase() {
            class[byte] |= ASCII_UPPER;
        }
        byte += 1;
    }
    class
};

/// Builds a text index from rows given in segment doc order.
pub struct TextIndexBuilder {
    fields: [FieldBuilder; FIELDS],
    next_doc: u32,
    buffer: String,
    /// Bytes of a lowercased or reversed run (the ASCII pass).
    scratch: Vec<u8>,
    /// By word id: the id of the same bytes in the leading-run field, and of their
    /// reverse in the trailing-run field ([`NO_ID`] until seen).
    leading_by_word: Vec<u32>,
    trailing_by_word: Vec<u32>,
}

/// No id yet, in [`TextIndexBuilder`]'s by-word tables.
const NO_ID: u32 = u32::MAX;

/// The id in `field` of an edge run: when the run is word `word` (the same bytes, or
/// their reverse), the id remembered for the word in `by_word`; else, and the first
/// time, the id of the run's bytes, which `term` makes.
fn edge_id<'a>(
    field: &mut FieldBuilder,
    by_word: &mut Vec<u32>,
    word: Option<u32>,
    term: impl FnOnce() -> &'a [u8],
) -> u32 {
    if let Some(id) = word
        .and_then(|word| by_word.get(word as usize).copied())
        .filter(|id| *id != NO_ID)
    {
        return id;
    }
    let id = field.id_of(term());
    if let Some(word) = word {
        let word = word as usize;
        if by_word.len() <= word {
            by_word.resize(word + 1, NO_ID);
        }
        by_word[word] = id;
    }
    id
}

impl TextIndexBuilder {
    pub fn new() -> Result<TextIndexBuilder> {
        Ok(TextIndexBuilder {
            fields: [
                FieldBuilder::new(true),
                FieldBuilder::new(false),
                FieldBuilder::new(false),
                FieldBuilder::new(false),
            ],
            next_doc: 0,
            buffer: String::new(),
            scratch: Vec::new(),
            leading_by_word: Vec::new(),
            trailing_by_word: Vec::new(),
        })
    }

    /// Index the text of doc `doc_id` (docs ascend; docs never added have no text).
    pub fn add(&mut self, doc_id: u32, text: &str) -> Result<()> {
        self.add_bytes(doc_id, text.as_bytes())
    }

    /// [`TextIndexBuilder::add`] of text as stored bytes: ASCII is indexed as it is,
    /// anything else as its UTF-8 reading (an invalid sequence reads as U+FFFD).
    pub fn add_bytes(&mut self, doc_id: u32, bytes: &[u8]) -> Result<()> {
        if doc_id < self.next_doc {
            return Err(Error::InvalidInput(
                "text index docs must arrive in ascending order".into(),
            ));
        }
        if bytes.is_ascii() {
            self.add_ascii(doc_id, bytes);
        } else {
            self.add_any(doc_id, &String::from_utf8_lossy(bytes));
        }
        self.next_doc = doc_id.saturating_add(1);
        Ok(())
    }

    /// [`TextIndexBuilder::add`] of any text, run by run and character by character.
    fn add_any(&mut self, doc_id: u32, text: &str) {
        let [words, raw, leading, trailing] = &mut self.fields;
        let buffer = &mut self.buffer;
        words.begin_doc(doc_id);
        for_each_run(text, |position, run| {
            if let Some(word) = word_of(run, buffer) {
                words.add(word.as_bytes(), position);
            }
        });
        if is_irregular(text) {
            raw.begin_doc(doc_id);
            for_each_run(text, |_, run| {
                raw.add(run.as_bytes(), 0);
            });
        }
        let lead = leading_run(text);
        if !lead.is_empty() {
            leading.add_only_term(lead.as_bytes(), doc_id);
        }
        let tail = trailing_run_reversed(text);
        if !tail.is_empty() {
            trailing.add_only_term(tail.as_bytes(), doc_id);
        }
    }

    /// [`TextIndexBuilder::add`] of ASCII text in one pass over its bytes: the runs give
    /// the words, tell whether the doc is irregular (an uppercase letter, or a run of
    /// 40+ bytes) and which runs the text starts and ends with.
    fn add_ascii(&mut self, doc_id: u32, bytes: &[u8]) {
        let [words, raw, leading, trailing] = &mut self.fields;
        words.begin_doc(doc_id);
        let (mut at, mut position) = (0usize, 0u32);
        let mut irregular = false;
        let (mut first, mut last) = (None, None);
        // The word ids of the first and last runs when the word is the run's bytes as
        // they are (no uppercase, short enough to keep).
        let (mut first_word, mut last_word) = (None, None);
        while at < bytes.len() {
            if ASCII_CLASS[usize::from(bytes[at])] == 0 {
                at += 1;
                continue;
            }
            let start = at;
            let mut class = 0u8;
            while let Some(&byte) = bytes.get(at) {
                let byte_class = ASCII_CLASS[usize::from(byte)];
                if byte_class == 0 {
                    break;
                }
                class |= byte_class;
                at += 1;
            }
            let run = &bytes[start..at];
            let upper = class & ASCII_UPPER != 0;
            irregular |= upper || run.len() >= DEFAULT_TOKEN_LIMIT_BYTES;
            let mut same_word = None;
            if run.len() < DEFAULT_TOKEN_LIMIT_BYTES {
                if upper {
                    self.scratch.clear();
                    self.scratch.extend(run.iter().map(u8::to_ascii_lowercase));
                    words.add(&self.scratch, position);
                } else {
                    same_word = Some(words.add(run, position));
                }
            }
            if first.is_none() {
                first = Some(start..at);
                first_word = same_word;
            }
            last = Some(start..at);
            last_word = same_word;
            position += 1;
        }
        if irregular && let Ok(text) = std::str::from_utf8(bytes) {
            raw.begin_doc(doc_id);
            for_each_run(text, |_, run| {
                raw.add(run.as_bytes(), 0);
            });
        }
        // An edge run that is a word has the word's bytes (reversed, trailing): its id
        // is looked up once per word, then found by the word's id.
        if let Some(run) = first.filter(|run| run.start == 0) {
            let end = run.end.min(EDGE_RUN_LIMIT_BYTES);
            let id = edge_id(leading, &mut self.leading_by_word, first_word, || {
                &bytes[..end]
            });
            leading.add_only_id(id, doc_id);
        }
        if let Some(run) = last.filter(|run| run.end == bytes.len()) {
            let scratch = &mut self.scratch;
            let id = edge_id(trailing, &mut self.trailing_by_word, last_word, || {
                let start = run.start.max(run.end.saturating_sub(EDGE_RUN_LIMIT_BYTES));
                scratch.clear();
                scratch.extend(bytes[start..run.end].iter().rev());
                scratch.as_slice()
            });
            trailing.add_only_id(id, doc_id);
        }
    }

    /// The finished index of a segment with `rows` docs.
    pub fn finish(self, rows: u32) -> Result<PackedTextIndex> {
        if self.next_doc > rows {
            return Err(Error::InvalidInput(format!(
                "text index holds doc {} of a segment with {rows} rows",
                self.next_doc - 1
            )));
        }
        let fields: Vec<Vec<u8>> = self.fields.into_iter().map(FieldBuilder::finish).collect();
        let mut header = Vec::with_capacity(HEADER_BYTES);
        header.extend_from_slice(&MAGIC.to_le_bytes());
        header.extend_from_slice(&rows.to_le_bytes());
        let mut offset = HEADER_BYTES as u64;
        for field in &fields {
            header.extend_from_slice(&offset.to_le_bytes());
            header.extend_from_slice(&(field.len() as u64).to_le_bytes());
            offset += field.len() as u64;
        }
        let mut parts = vec![header];
        parts.extend(fields);
        Ok(PackedTextIndex { parts })
    }
}

/// A finished text index: its header and fields, written as one section without
/// joining them into one buffer first.
pub struct PackedTextIndex {
    parts: Vec<Vec<u8>>,
}

impl PackedTextIndex {
    pub fn parts(&self) -> Vec<&[u8]> {
        self.parts.iter().map(Vec::as_slice).collect()
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.parts.concat()
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

/// An opened text index.
#[derive(Clone)]
pub struct TextIndex {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Own(Box<OwnText>),
    Tantivy(Box<TantivyText>),
}

/// An own-format section: its bytes and each field's checked layout.
#[derive(Clone)]
struct OwnText {
    data: OwnedBytes,
    rows: u32,
    fields: [(usize, usize, Layout); FIELDS],
    /// Docs with raw runs (the irregular docs), computed on first use.
    irregular: OnceLock<RoaringBitmap>,
}

impl TextIndex {
    /// Open the section of a segment with `rows` docs; `Err` holds a message for a
    /// corruption error.
    pub fn open(data: OwnedBytes, rows: u32) -> Result<TextIndex, String> {
        let bytes = data.as_slice();
        if bytes.len() < 4 || read_u32(bytes, 0) != MAGIC {
            return TantivyText::open(data, rows).map(|text| TextIndex {
                inner: Inner::Tantivy(Box::new(text)),
            });
        }
        OwnText::open(data, rows).map(|text| TextIndex {
            inner: Inner::Own(Box::new(text)),
        })
    }

    /// Docs whose text contains `needle` (case-sensitive), exactly, when `needle` is
    /// alphanumeric; `None` otherwise (or for an index without raw runs).
    ///
    /// An occurrence of an alphanumeric needle lies inside one maximal alphanumeric
    /// run. For a *regular* doc (not [`is_irregular`]) every run is a word as it is;
    /// for an irregular doc every run is a raw run as it is. So the matches are the
    /// regular docs with a word containing the needle (none when the needle itself
    /// changes under lowercasing) plus the docs with a raw run containing it.
    pub fn docs_containing(&self, needle: &str) -> Result<Option<RoaringBitmap>> {
        match &self.inner {
            Inner::Own(text) => text.docs_containing(needle),
            Inner::Tantivy(text) => text.docs_containing(needle),
        }
    }

    /// Docs whose text starts with `prefix` (case-sensitive), exactly, when `prefix` is
    /// alphanumeric and at most [`EDGE_RUN_LIMIT_BYTES`] long; `None` otherwise (or for
    /// an index without leading runs).
    ///
    /// An alphanumeric prefix of a text lies inside the text's leading alphanumeric run,
    /// which the index holds as one term (cut to the limit, which a prefix within the
    /// limit does not reach past). So the matches are the docs with a leading run
    /// starting with `prefix`: a range of the term table, no text read.
    pub fn docs_starting_with(&self, prefix: &str) -> Result<Option<RoaringBitmap>> {
        match &self.inner {
            Inner::Own(text) if is_edge_word(prefix) => text
                .docs_with_prefix(LEADING_RUNS, prefix.as_bytes())
                .map(Some),
            Inner::Own(_) => Ok(None),
            Inner::Tantivy(text) => text.docs_starting_with(prefix),
        }
    }

    /// Docs whose text ends with `suffix` (case-sensitive), under the same conditions
    /// as [`TextIndex::docs_starting_with`]: an alphanumeric suffix lies inside the
    /// trailing run, held reversed, so the matches are the docs whose reversed trailing
    /// run starts with the reversed suffix.
    pub fn docs_ending_with(&self, suffix: &str) -> Result<Option<RoaringBitmap>> {
        match &self.inner {
            Inner::Own(text) if is_edge_word(suffix) => {
                let reversed: String = suffix.chars().rev().collect();
                text.docs_with_prefix(TRAILING_RUNS, reversed.as_bytes())
                    .map(Some)
            }
            Inner::Own(_) => Ok(None),
            Inner::Tantivy(text) => text.docs_ending_with(suffix),
        }
    }

    /// An upper bound of [`TextIndex::docs_containing`]'s count, from the term table
    /// alone (the summed doc counts of the terms that contain the needle; no postings
    /// are read). `None` when `docs_containing` cannot answer.
    pub fn docs_containing_at_most(&self, needle: &str) -> Result<Option<u64>> {
        match &self.inner {
            Inner::Own(text) => Ok(text.docs_containing_at_most(needle)),
            Inner::Tantivy(text) => text.docs_containing_at_most(needle),
        }
    }

    /// Docs matching a `TEXT_MATCH` query string (`foo AND bar`, `"a phrase"`, `pre*`;
    /// see [`query`]).
    pub fn search(&self, query: &str) -> Result<RoaringBitmap> {
        match &self.inner {
            Inner::Own(text) => text.search(query),
            Inner::Tantivy(text) => text.search(query),
        }
    }
}

fn corrupt(message: String) -> Error {
    Error::TextQuery(format!("text index: {message}"))
}

impl OwnText {
    fn open(data: OwnedBytes, rows: u32) -> Result<OwnText, String> {
        let bytes = data.as_slice();
        if bytes.len() < HEADER_BYTES {
            return Err("text index header is truncated".into());
        }
        let section_rows = read_u32(bytes, 4);
        if section_rows != rows {
            return Err(format!(
                "text index holds {section_rows} docs; its segment has {rows}"
            ));
        }
        let mut fields = [(0usize, 0usize, Layout::EMPTY); FIELDS];
        for (index, field) in fields.iter_mut().enumerate() {
            let at = 8 + index * 16;
            let offset = crate::format::read_u64(bytes, at);
            let length = crate::format::read_u64(bytes, at + 8);
            let end = offset
                .checked_add(length)
                .filter(|end| *end <= bytes.len() as u64 && offset >= HEADER_BYTES as u64)
                .ok_or("text index field runs past its section")?;
            let (start, end) = (offset as usize, end as usize);
            *field = (start, end, Layout::check(&bytes[start..end])?);
        }
        Ok(OwnText {
            data,
            rows,
            fields,
            irregular: OnceLock::new(),
        })
    }

    fn field(&self, index: usize) -> Field<'_> {
        let (start, end, layout) = self.fields[index];
        Field::new(&self.data.as_slice()[start..end], layout)
    }

    /// The union of the docs of `field`'s terms `terms` (ascending indexes).
    fn docs_of_terms(
        &self,
        field: Field<'_>,
        terms: impl Iterator<Item = usize>,
    ) -> Result<RoaringBitmap> {
        let mut docs = RoaringBitmap::new();
        let mut term_docs = Vec::new();
        for term in terms {
            term_docs.clear();
            field.push_docs(term, &mut term_docs).map_err(corrupt)?;
            // A term's docs ascend: appended in bulk, unioned once.
            let bitmap = RoaringBitmap::from_sorted_iter(term_docs.iter().copied())
                .map_err(|e| corrupt(format!("postings out of order: {e}")))?;
            if docs.is_empty() {
                docs = bitmap;
            } else {
                docs |= bitmap;
            }
        }
        if docs.max().is_some_and(|max| max >= self.rows) {
            return Err(corrupt(format!(
                "a doc past the segment's {} rows",
                self.rows
            )));
        }
        Ok(docs)
    }

    fn docs_with_prefix(&self, field: usize, prefix: &[u8]) -> Result<RoaringBitmap> {
        let field = self.field(field);
        self.docs_of_terms(field, field.prefix_range(prefix))
    }

    /// Terms of `field` that contain `needle`.
    fn terms_containing<'a>(
        &'a self,
        field: Field<'a>,
        needle: &'a str,
    ) -> impl Iterator<Item = usize> + 'a {
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        (0..field.len()).filter(move |term| finder.find(field.term(*term)).is_some())
    }

    /// The word field too, unless the needle changes under lowercasing (then only
    /// irregular docs can hold it).
    fn searches_words(needle: &str) -> Option<bool> {
        is_index_word(needle).then(|| needle.chars().all(is_lowercase_fixed_point))
    }

    fn docs_containing(&self, needle: &str) -> Result<Option<RoaringBitmap>> {
        let Some(words_too) = Self::searches_words(needle) else {
            return Ok(None);
        };
        let raw = self.field(RAW_RUNS);
        let irregular = match self.irregular.get() {
            Some(docs) => docs,
            None => {
                let docs = self.docs_of_terms(raw, 0..raw.len())?;
                self.irregular.get_or_init(|| docs)
            }
        };
        let mut docs = self.docs_of_terms(raw, self.terms_containing(raw, needle))?;
        if words_too {
            let words = self.field(WORDS);
            let mut regular = self.docs_of_terms(words, self.terms_containing(words, needle))?;
            regular -= irregular;
            docs |= regular;
        }
        Ok(Some(docs))
    }

    fn docs_containing_at_most(&self, needle: &str) -> Option<u64> {
        let words_too = Self::searches_words(needle)?;
        let count = |field: Field<'_>| -> u64 {
            self.terms_containing(field, needle)
                .map(|term| u64::from(field.doc_freq(term)))
                .sum()
        };
        let raw = count(self.field(RAW_RUNS));
        Some(
            raw + if words_too {
                count(self.field(WORDS))
            } else {
                0
            },
        )
    }

    fn search(&self, text: &str) -> Result<RoaringBitmap> {
        let ast = query::parse(text)?;
        self.evaluate(&ast, text)
    }

    fn evaluate(&self, ast: &Ast, query: &str) -> Result<RoaringBitmap> {
        match ast {
            Ast::All => {
                let mut all = RoaringBitmap::new();
                all.insert_range(0..self.rows);
                Ok(all)
            }
            Ast::Text(text) => self.docs_with_words(&query_words(text)),
            Ast::Prefix(text) => {
                let words = query_words(text);
                match words.as_slice() {
                    [] => Ok(RoaringBitmap::new()),
                    [(_, word)] => self.docs_with_prefix(WORDS, word.as_bytes()),
                    _ => Err(Error::TextQuery(format!(
                        "a prefix of several words (`{text}*`) is not supported in TEXT_MATCH query=`{query}`"
                    ))),
                }
            }
            Ast::Clause(children) => {
                let (mut must, mut should, mut must_not) = (None, None, RoaringBitmap::new());
                for (occur, child) in children {
                    let docs = self.evaluate(child, query)?;
                    match occur.unwrap_or(Occur::Should) {
                        Occur::Must => {
                            must = Some(match must {
                                None => docs,
                                Some(kept) => kept & docs,
                            })
                        }
                        Occur::Should => {
                            should = Some(match should {
                                None => docs,
                                Some(any) => any | docs,
                            })
                        }
                        Occur::MustNot => must_not |= docs,
                    }
                }
                // Optional clauses only matter when nothing is required.
                let mut docs = must.or(should).unwrap_or_default();
                docs -= must_not;
                Ok(docs)
            }
        }
    }

    /// Docs holding the words at their relative positions: one word is a term lookup;
    /// several are a phrase (every word in the doc, at positions that keep the query's
    /// offsets).
    fn docs_with_words(&self, words: &[(u32, String)]) -> Result<RoaringBitmap> {
        let field = self.field(WORDS);
        let mut terms = Vec::with_capacity(words.len());
        for (_, word) in words {
            match field.find(word.as_bytes()) {
                Some(term) => terms.push(term),
                None => return Ok(RoaringBitmap::new()),
            }
        }
        let Some(first) = terms.first() else {
            return Ok(RoaringBitmap::new());
        };
        let mut candidates = self.docs_of_terms(field, std::iter::once(*first))?;
        if terms.len() == 1 {
            return Ok(candidates);
        }
        for term in &terms[1..] {
            candidates &= self.docs_of_terms(field, std::iter::once(*term))?;
        }
        let candidates: Vec<u32> = candidates.iter().collect();
        // Each word's positions in each candidate doc.
        let mut positions: Vec<Vec<Vec<u32>>> = Vec::with_capacity(terms.len());
        for term in &terms {
            let mut per_doc: Vec<Vec<u32>> = vec![Vec::new(); candidates.len()];
            let mut next = 0usize;
            field
                .for_each_position_list(*term, |doc, list| {
                    while next < candidates.len() && candidates[next] < doc {
                        next += 1;
                    }
                    if candidates.get(next) == Some(&doc) {
                        per_doc[next] = list.to_vec();
                    }
                })
                .map_err(corrupt)?;
            positions.push(per_doc);
        }
        let base = words[0].0;
        let mut docs = RoaringBitmap::new();
        for (rank, doc) in candidates.iter().enumerate() {
            let found = positions[0][rank].iter().any(|start| {
                words
                    .iter()
                    .zip(&positions)
                    .skip(1)
                    .all(|((offset, _), lists)| {
                        start
                            .checked_add(offset.saturating_sub(base))
                            .is_some_and(|at| lists[rank].binary_search(&at).is_ok())
                    })
            });
            if found {
                docs.insert(*doc);
            }
        }
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

    /// Texts for the comparisons with tantivy: mixed case, punctuation, repeated and
    /// long words, non-ASCII, empty and NULL rows.
    fn corpus() -> Vec<Option<String>> {
        let words = [
            "quick",
            "brown",
            "fox",
            "lazy",
            "dog",
            "Quick",
            "special",
            "requests",
            "deposits",
            "carefully",
            "final",
            "pending",
            "日本語",
            "ÉTÉ",
            "été",
            "x9",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut texts = Vec::new();
        for row in 0..600 {
            if row % 37 == 5 {
                texts.push(None);
                continue;
            }
            let count = next(9);
            let mut text = String::new();
            for k in 0..count {
                if k > 0 {
                    text.push_str([" ", " ", "-", ", ", "  ", "\n"][next(6)]);
                }
                if next(40) == 0 {
                    text.push_str(&"long".repeat(11));
                } else {
                    text.push_str(words[next(words.len())]);
                }
            }
            if next(10) == 0 {
                text.push('.');
            }
            texts.push(Some(text));
        }
        texts
    }

    /// The docs whose text passes `test` (NULL rows never do).
    fn docs_where(texts: &[Option<String>], test: impl Fn(&str) -> bool) -> Vec<u32> {
        (0..texts.len() as u32)
            .filter(|d| texts[*d as usize].as_deref().is_some_and(&test))
            .collect()
    }

    /// The same rows indexed by tantivy (as older segments hold them) and in the own
    /// format.
    fn both_indexes(texts: &[Option<String>]) -> (TextIndex, TextIndex) {
        let rows = texts.len() as u32;
        let mut own = TextIndexBuilder::new().expect("builder");
        let mut legacy = tantivy_legacy::TantivyBuilder::new().expect("builder");
        for (doc, text) in texts.iter().enumerate() {
            if let Some(text) = text {
                own.add(doc as u32, text).expect("add");
                legacy.add(doc as u32, text).expect("add");
            }
        }
        let own = TextIndex::open(
            OwnedBytes::new(own.finish(rows).expect("finish").to_vec()),
            rows,
        )
        .expect("opens");
        let legacy = TextIndex::open(OwnedBytes::new(legacy.finish(rows).expect("finish")), rows)
            .expect("opens");
        assert!(matches!(own.inner, Inner::Own(_)) && matches!(legacy.inner, Inner::Tantivy(_)));
        (own, legacy)
    }

    #[test]
    fn queries_match_the_docs_tantivy_matches() {
        let texts = corpus();
        let (own, legacy) = both_indexes(&texts);
        let queries = [
            "quick",
            "QUICK",
            "été",
            "ÉTÉ",
            "日本語",
            "quick fox",
            "quick AND fox",
            "quick OR fox",
            "quick AND -fox",
            "+quick -fox dog",
            "+quick fox",
            "-quick",
            "NOT quick",
            "quick AND fox OR dog",
            "quick OR fox AND dog",
            "quick OR -fox",
            "(quick OR fox) AND (dog OR lazy)",
            "\"quick brown\"",
            "\"brown quick\"",
            "\"quick quick\"",
            "\"special requests deposits\"",
            "\"quick, brown\"",
            "quick-brown",
            "nothing",
            "\"nothing here\"",
            "*",
            "* AND -dog",
            "x9",
            "long",
            "longlonglonglonglonglonglonglonglonglonglong",
            "\"quick longlonglonglonglonglonglonglonglonglonglong brown\"",
            "",
            "   ",
            "-",
        ];
        for query in queries {
            let expected = legacy.search(query);
            let got = own.search(query);
            match (expected, got) {
                (Ok(expected), Ok(got)) => assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    expected.iter().collect::<Vec<_>>(),
                    "query {query:?}"
                ),
                (Err(_), Err(_)) => {}
                (expected, got) => panic!("query {query:?}: tantivy {expected:?}, own {got:?}"),
            }
        }
        // A match count that is not trivial: the comparison can fail.
        assert!(own.search("quick AND fox").expect("searches").len() > 10);
        // `prefix*`: every doc with a word starting with the lowercased prefix (tantivy
        // 0.27's parser answers such queries with no docs at all).
        for (query, prefix) in [("qui*", "qui"), ("sp*", "sp"), ("ÉT*", "ét"), ("日*", "日")] {
            let expected: Vec<u32> = docs_where(&texts, |t| {
                query_words(t).iter().any(|(_, w)| w.starts_with(prefix))
            });
            let got = own.search(query).expect("searches");
            assert_eq!(got.iter().collect::<Vec<_>>(), expected, "query {query}");
            assert!(!expected.is_empty(), "{query}");
        }
        // `a AND NOT b` excludes b (as Lucene does); tantivy 0.27 parses `NOT b` after an
        // operator as a clause of exclusions alone, which matches nothing.
        let excluded = own.search("quick AND NOT fox").expect("searches");
        assert_eq!(excluded, own.search("+quick -fox").expect("searches"));
        assert!(!excluded.is_empty());
        assert!(
            legacy
                .search("quick AND NOT fox")
                .expect("searches")
                .is_empty()
        );
        for needle in [
            "quick", "uic", "Quick", "Q", "été", "ÉTÉ", "日本", "x", "9", "ong",
        ] {
            let expected: Vec<u32> = docs_where(&texts, |t| t.contains(needle));
            for index in [&own, &legacy] {
                let docs = index
                    .docs_containing(needle)
                    .expect("lookup")
                    .expect("answers");
                assert_eq!(docs.iter().collect::<Vec<_>>(), expected, "needle {needle}");
                let at_most = index.docs_containing_at_most(needle).expect("lookup");
                assert!(at_most.expect("answers") >= expected.len() as u64);
            }
        }
        for edge in ["quick", "Quick", "q", "日本", "été", "x9", "s"] {
            let starting: Vec<u32> = docs_where(&texts, |t| t.starts_with(edge));
            let ending: Vec<u32> = docs_where(&texts, |t| t.ends_with(edge));
            for index in [&own, &legacy] {
                let docs = index
                    .docs_starting_with(edge)
                    .expect("lookup")
                    .expect("answers");
                assert_eq!(docs.iter().collect::<Vec<_>>(), starting, "prefix {edge}");
                let docs = index
                    .docs_ending_with(edge)
                    .expect("lookup")
                    .expect("answers");
                assert_eq!(docs.iter().collect::<Vec<_>>(), ending, "suffix {edge}");
            }
        }
    }

    #[test]
    fn the_ascii_pass_indexes_as_the_character_pass_does() {
        let long = "x".repeat(70);
        let texts = [
            "quick brown fox",
            "  Quick, BROWN-fox.",
            long.as_str(),
            &format!("{long} tail"),
            &format!("head {long}"),
            "",
            "...",
            "a",
            "Tiresias sleeps",
            &"w".repeat(39),
            &"w".repeat(40),
        ];
        let (mut fast, mut slow) = (
            TextIndexBuilder::new().expect("builder"),
            TextIndexBuilder::new().expect("builder"),
        );
        for (doc, text) in texts.iter().enumerate() {
            fast.add(doc as u32, text).expect("add");
            slow.add_any(doc as u32, text);
            slow.next_doc = doc as u32 + 1;
        }
        let rows = texts.len() as u32;
        assert_eq!(
            fast.finish(rows).expect("finish").to_vec(),
            slow.finish(rows).expect("finish").to_vec()
        );
    }

    #[test]
    fn a_corrupt_section_is_an_error_not_a_panic() {
        let texts = corpus();
        let rows = texts.len() as u32;
        let mut builder = TextIndexBuilder::new().expect("builder");
        for (doc, text) in texts.iter().enumerate() {
            if let Some(text) = text {
                builder.add(doc as u32, text).expect("add");
            }
        }
        let bytes = builder.finish(rows).expect("finish").to_vec();
        assert!(TextIndex::open(OwnedBytes::new(bytes.clone()), rows + 1).is_err());
        for cut in [
            5,
            HEADER_BYTES - 1,
            HEADER_BYTES + 3,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            assert!(TextIndex::open(OwnedBytes::new(bytes[..cut].to_vec()), rows).is_err());
        }
        // Flipped bytes in the postings: opening or searching may fail, never panic.
        let mut seed = 99u64;
        for _ in 0..200 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut damaged = bytes.clone();
            let at = HEADER_BYTES + (seed >> 33) as usize % (bytes.len() - HEADER_BYTES);
            damaged[at] ^= 0x5a;
            if let Ok(index) = TextIndex::open(OwnedBytes::new(damaged), rows) {
                let _ = index.search("quick AND \"brown fox\"");
                let _ = index.search("qu*");
                let _ = index.docs_containing("uic");
                let _ = index.docs_starting_with("q");
            }
        }
    }
}
