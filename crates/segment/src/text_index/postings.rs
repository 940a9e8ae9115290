//! The text index's own postings: per field, a sorted table of terms and each term's
//! docs (and, for the tokenized field, each doc's token positions), varint-coded.
//!
//! A field's bytes:
//! `term_count u32 | flags u8 (1: positions) | term_ends [u32] | doc_ends [u64] |
//! doc_freqs [u32] | position_ends [u64] (with positions) | term bytes | doc bytes |
//! position bytes`. Ends are exclusive offsets into their byte runs, one per term;
//! terms ascend bytewise. A term's docs are LEB128 deltas (the first from 0); its
//! positions, per doc in the same order, a count then LEB128 deltas (the first from 0).

use super::term_ids::TermIds;
use crate::format::{read_u32, read_u64};

/// LEB128 of `value` onto `out`.
#[inline]
pub(super) fn push_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads LEB128 values from a byte slice; `None` past its end or on a value longer
/// than five bytes.
pub(super) struct Varints<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Varints<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Varints<'a> {
        Varints { bytes, at: 0 }
    }

    #[inline]
    pub(super) fn next_value(&mut self) -> Option<u32> {
        // Most deltas of a frequent term fit one byte.
        let first = *self.bytes.get(self.at)?;
        if first < 0x80 {
            self.at += 1;
            return Some(u32::from(first));
        }
        let mut value = 0u32;
        for shift in [0u32, 7, 14, 21, 28] {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            value |= u32::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

/// One term's postings while they are collected.
#[derive(Default)]
struct TermPostings {
    docs: Vec<u8>,
    positions: Vec<u8>,
    /// The last doc added (meaningful once `doc_freq > 0`).
    last_doc: u32,
    doc_freq: u32,
    /// The [`FieldBuilder::generation`] of the doc that last noted this term.
    noted: u32,
    /// Whether the doc that last noted the term recorded it (a doc not after the
    /// term's last one records nothing).
    recording: bool,
    /// Where the recording doc's position count starts in `positions`, the count, and
    /// its last position.
    count_at: u32,
    count: u32,
    last_position: u32,
}

impl TermPostings {
    /// Count `doc` as the term's next doc; the delta to write, or `None` when `doc` does
    /// not come after the last one (already recorded).
    #[inline]
    fn next_doc(&mut self, doc: u32) -> Option<u32> {
        let delta = match self.doc_freq {
            0 => doc,
            _ if doc > self.last_doc => doc - self.last_doc,
            _ => return None,
        };
        self.last_doc = doc;
        self.doc_freq += 1;
        Some(delta)
    }

    /// One more position of the recording doc: the count rewritten in place (moving
    /// the doc's positions when it takes another byte), the position's delta appended.
    fn repeat(&mut self, position: u32) {
        let at = self.count_at as usize;
        let old_len = varint_len(self.count);
        self.count += 1;
        if self.count < 0x80 {
            // A one-byte count stays one byte: no buffer for its encoding.
            self.positions[at] = self.count as u8;
        } else {
            let mut count = Vec::with_capacity(5);
            push_varint(&mut count, self.count);
            self.positions.splice(at..at + old_len, count);
        }
        push_varint(&mut self.positions, position - self.last_position);
        self.last_position = position;
    }
}

/// Bytes of `value`'s LEB128.
fn varint_len(value: u32) -> usize {
    (32 - value.leading_zeros() as usize).div_ceil(7).max(1)
}

/// Collects one field's terms, doc by doc in ascending order: each term's doc and
/// positions are written to its postings as the term arrives.
pub(super) struct FieldBuilder {
    ids: TermIds,
    terms: Vec<TermPostings>,
    positions: bool,
    /// The doc being added ([`FieldBuilder::begin_doc`]).
    doc: u32,
    /// Counts docs begun, from 1: tells a term noted again in the same doc.
    generation: u32,
}

impl FieldBuilder {
    pub(super) fn new(positions: bool) -> FieldBuilder {
        FieldBuilder {
            ids: TermIds::default(),
            terms: Vec::new(),
            positions,
            doc: 0,
            generation: 0,
        }
    }

    /// The id of `term` in this field (a new one the first time).
    #[inline]
    pub(super) fn id_of(&mut self, term: &[u8]) -> u32 {
        let (id, new) = self.ids.id_of(term);
        if new {
            self.terms.push(TermPostings::default());
        }
        id
    }

    /// Start doc `doc` (docs ascend; a doc not after a term's last one adds nothing
    /// to that term).
    #[inline]
    pub(super) fn begin_doc(&mut self, doc: u32) {
        self.doc = doc;
        self.generation = self.generation.wrapping_add(1).max(1);
    }

    /// Note `term` at `position` of the current doc (positions ascend within a doc);
    /// its id.
    #[inline]
    pub(super) fn add(&mut self, term: &[u8], position: u32) -> u32 {
        let id = self.id_of(term);
        self.add_id(id, position);
        id
    }

    /// [`FieldBuilder::add`] of the term with id `id` ([`FieldBuilder::id_of`]).
    #[inline]
    pub(super) fn add_id(&mut self, id: u32, position: u32) {
        let (doc, generation, positions) = (self.doc, self.generation, self.positions);
        let term = &mut self.terms[id as usize];
        if term.noted == generation {
            if term.recording && positions {
                term.repeat(position);
            }
            return;
        }
        term.noted = generation;
        term.recording = false;
        if let Some(delta) = term.next_doc(doc) {
            term.recording = true;
            push_varint(&mut term.docs, delta);
            if positions {
                term.count_at = term.positions.len() as u32;
                term.count = 1;
                term.last_position = position;
                term.positions.push(1);
                push_varint(&mut term.positions, position);
            }
        }
    }

    /// Record `term` as doc `doc`'s only term, at position 0 (docs ascend).
    #[inline]
    pub(super) fn add_only_term(&mut self, term: &[u8], doc: u32) {
        self.begin_doc(doc);
        self.add(term, 0);
    }

    /// [`FieldBuilder::add_only_term`] of the term with id `id`.
    #[inline]
    pub(super) fn add_only_id(&mut self, id: u32, doc: u32) {
        self.begin_doc(doc);
        self.add_id(id, 0);
    }

    /// The field's bytes, terms in ascending order. Each term's buffers are freed as
    /// they are copied, so the field is not held twice.
    pub(super) fn finish(mut self) -> Vec<u8> {
        let ids = std::mem::take(&mut self.ids);
        let order = ids.sorted();
        let n = order.len();
        let mut header = Vec::with_capacity(5 + n * 24);
        header.extend_from_slice(&(n as u32).to_le_bytes());
        header.push(u8::from(self.positions));
        let (mut term_end, mut doc_end, mut position_end) = (0u32, 0u64, 0u64);
        for id in &order {
            term_end += ids.term(*id).len() as u32;
            header.extend_from_slice(&term_end.to_le_bytes());
        }
        for id in &order {
            doc_end += self.terms[*id as usize].docs.len() as u64;
            header.extend_from_slice(&doc_end.to_le_bytes());
        }
        for id in &order {
            header.extend_from_slice(&self.terms[*id as usize].doc_freq.to_le_bytes());
        }
        if self.positions {
            for id in &order {
                position_end += self.terms[*id as usize].positions.len() as u64;
                header.extend_from_slice(&position_end.to_le_bytes());
            }
        }
        let mut out = header;
        out.reserve(term_end as usize + doc_end as usize + position_end as usize);
        for id in &order {
            out.extend_from_slice(ids.term(*id));
        }
        for id in &order {
            out.extend_from_slice(&std::mem::take(&mut self.terms[*id as usize].docs));
        }
        for id in &order {
            out.extend_from_slice(&std::mem::take(&mut self.terms[*id as usize].positions));
        }
        out
    }
}

/// Where a field's parts lie in its bytes, checked once ([`Layout::check`]): term
/// `i`'s byte ranges are in bounds for every `i < len`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    len: usize,
    positions: bool,
    term_ends_at: usize,
    doc_ends_at: usize,
    doc_freqs_at: usize,
    position_ends_at: usize,
    terms_at: usize,
    docs_at: usize,
    positions_at: usize,
}

/// One field of an opened index: its bytes and their checked layout.
#[derive(Clone, Copy)]
pub(super) struct Field<'a> {
    data: &'a [u8],
    layout: Layout,
}

impl Layout {
    /// The layout of no bytes (a placeholder until a field is checked).
    pub(super) const EMPTY: Layout = Layout {
        len: 0,
        positions: false,
        term_ends_at: 0,
        doc_ends_at: 0,
        doc_freqs_at: 0,
        position_ends_at: 0,
        terms_at: 0,
        docs_at: 0,
        positions_at: 0,
    };

    /// Check a field's bytes; `Err` names what is wrong.
    pub(super) fn check(data: &[u8]) -> Result<Layout, String> {
        let truncated = || "text index field is truncated".to_string();
        if data.len() < 5 {
            return Err(truncated());
        }
        let len = read_u32(data, 0) as usize;
        let positions = match data[4] {
            0 => false,
            1 => true,
            other => return Err(format!("text index field has unknown flags {other}")),
        };
        let term_ends_at = 5usize;
        let doc_ends_at = len
            .checked_mul(4)
            .and_then(|b| term_ends_at.checked_add(b))
            .ok_or_else(truncated)?;
        let doc_freqs_at = len
            .checked_mul(8)
            .and_then(|b| doc_ends_at.checked_add(b))
            .ok_or_else(truncated)?;
        let position_ends_at = len
            .checked_mul(4)
            .and_then(|b| doc_freqs_at.checked_add(b))
            .ok_or_else(truncated)?;
        let terms_at = if positions {
            len.checked_mul(8)
                .and_then(|b| position_ends_at.checked_add(b))
                .ok_or_else(truncated)?
        } else {
            position_ends_at
        };
        if terms_at > data.len() {
            return Err(truncated());
        }
        let mut layout = Layout {
            len,
            positions,
            term_ends_at,
            doc_ends_at,
            doc_freqs_at,
            position_ends_at,
            terms_at,
            docs_at: 0,
            positions_at: 0,
        };
        // Every end ascends and the runs tile the rest of the bytes.
        let ascending = |end: &dyn Fn(usize) -> u64| (1..len).all(|i| end(i - 1) <= end(i));
        let last = |end: &dyn Fn(usize) -> u64| if len == 0 { 0 } else { end(len - 1) };
        let term_end = |i: usize| u64::from(read_u32(data, term_ends_at + 4 * i));
        let doc_end = |i: usize| read_u64(data, doc_ends_at + 8 * i);
        let position_end = |i: usize| read_u64(data, position_ends_at + 8 * i);
        if !ascending(&term_end) || !ascending(&doc_end) {
            return Err("text index field's offsets do not ascend".into());
        }
        let terms_len = last(&term_end);
        let docs_len = last(&doc_end);
        let positions_len = if positions {
            if !ascending(&position_end) {
                return Err("text index field's offsets do not ascend".into());
            }
            last(&position_end)
        } else {
            0
        };
        let total = (terms_at as u64)
            .checked_add(terms_len)
            .and_then(|t| t.checked_add(docs_len))
            .and_then(|t| t.checked_add(positions_len));
        if total != Some(data.len() as u64) {
            return Err("text index field's runs do not match its length".into());
        }
        layout.docs_at = terms_at + terms_len as usize;
        layout.positions_at = layout.docs_at + docs_len as usize;
        Ok(layout)
    }
}

impl<'a> Field<'a> {
    /// `data` must be the bytes `layout` was checked on.
    pub(super) fn new(data: &'a [u8], layout: Layout) -> Field<'a> {
        Field { data, layout }
    }

    /// Check and open a field's bytes.
    #[cfg(test)]
    pub(super) fn open(data: &'a [u8]) -> Result<Field<'a>, String> {
        Ok(Field::new(data, Layout::check(data)?))
    }

    pub(super) fn len(&self) -> usize {
        self.layout.len
    }

    fn start_end(&self, ends_at: usize, i: usize, wide: bool) -> (usize, usize) {
        let end = |i: usize| {
            if wide {
                read_u64(self.data, ends_at + 8 * i) as usize
            } else {
                read_u32(self.data, ends_at + 4 * i) as usize
            }
        };
        let start = if i == 0 { 0 } else { end(i - 1) };
        (start, end(i))
    }

    /// Term `i`'s bytes.
    pub(super) fn term(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.start_end(self.layout.term_ends_at, i, false);
        &self.data[self.layout.terms_at + start..self.layout.terms_at + end]
    }

    pub(super) fn doc_freq(&self, i: usize) -> u32 {
        read_u32(self.data, self.layout.doc_freqs_at + 4 * i)
    }

    /// The index of `term`, if the field holds it.
    pub(super) fn find(&self, term: &[u8]) -> Option<usize> {
        let at = self.lower_bound(term);
        (at < self.layout.len && self.term(at) == term).then_some(at)
    }

    /// The first term index whose term is not below `key`.
    pub(super) fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut low, mut high) = (0usize, self.layout.len);
        while low < high {
            let middle = (low + high) / 2;
            if self.term(middle) < key {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// The term indexes whose terms start with `prefix` (consecutive: terms ascend).
    pub(super) fn prefix_range(&self, prefix: &[u8]) -> std::ops::Range<usize> {
        let start = self.lower_bound(prefix);
        let mut end = start;
        while end < self.layout.len && self.term(end).starts_with(prefix) {
            end += 1;
        }
        start..end
    }

    /// Append term `i`'s docs (ascending) to `out`; `Err` when its bytes are corrupt.
    pub(super) fn push_docs(&self, i: usize, out: &mut Vec<u32>) -> Result<(), String> {
        let (start, end) = self.start_end(self.layout.doc_ends_at, i, true);
        let mut values =
            Varints::new(&self.data[self.layout.docs_at + start..self.layout.docs_at + end]);
        let mut doc = 0u32;
        for k in 0..self.doc_freq(i) {
            let delta = values.next_value().ok_or_else(corrupt_postings)?;
            doc = if k == 0 {
                delta
            } else {
                doc.checked_add(delta)
                    .filter(|_| delta > 0)
                    .ok_or_else(corrupt_postings)?
            };
            out.push(doc);
        }
        Ok(())
    }

    /// Term `i`'s docs and, per doc, its positions: `visit(doc, positions)`.
    pub(super) fn for_each_position_list(
        &self,
        i: usize,
        mut visit: impl FnMut(u32, &[u32]),
    ) -> Result<(), String> {
        if !self.layout.positions {
            return Err("text index field has no positions".into());
        }
        let mut docs = Vec::with_capacity(self.doc_freq(i) as usize);
        self.push_docs(i, &mut docs)?;
        let (start, end) = self.start_end(self.layout.position_ends_at, i, true);
        let mut values = Varints::new(
            &self.data[self.layout.positions_at + start..self.layout.positions_at + end],
        );
        let mut positions = Vec::new();
        for doc in docs {
            let count = values.next_value().ok_or_else(corrupt_postings)?;
            positions.clear();
            let mut position = 0u32;
            for _ in 0..count {
                let delta = values.next_value().ok_or_else(corrupt_postings)?;
                position = position.checked_add(delta).ok_or_else(corrupt_postings)?;
                positions.push(position);
            }
            visit(doc, &positions);
        }
        Ok(())
    }
}

fn corrupt_postings() -> String {
    "text index postings are corrupt".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_roundtrip_and_refuse_overlong_values() {
        let values = [0u32, 1, 127, 128, 16_383, 16_384, u32::MAX];
        let mut bytes = Vec::new();
        for v in values {
            push_varint(&mut bytes, v);
        }
        let mut read = Varints::new(&bytes);
        for v in values {
            assert_eq!(read.next_value(), Some(v));
        }
        assert_eq!(read.next_value(), None);
        assert_eq!(Varints::new(&[0xff; 6]).next_value(), None);
    }

    #[test]
    fn a_field_keeps_terms_docs_and_positions() {
        let mut builder = FieldBuilder::new(true);
        let docs: [&[&str]; 4] = [&["b", "a", "b"], &[], &["a"], &["c", "b"]];
        for (doc, terms) in docs.iter().enumerate() {
            builder.begin_doc(doc as u32);
            for (position, term) in terms.iter().enumerate() {
                builder.add(term.as_bytes(), position as u32);
            }
        }
        let bytes = builder.finish();
        let field = Field::open(&bytes).expect("opens");
        assert_eq!(field.len(), 3);
        assert_eq!(field.term(0), b"a");
        assert_eq!(field.find(b"b"), Some(1));
        assert_eq!(field.find(b"bb"), None);
        assert_eq!(field.prefix_range(b"b"), 1..2);
        let mut b_docs = Vec::new();
        field
            .for_each_position_list(1, |doc, positions| b_docs.push((doc, positions.to_vec())))
            .expect("decodes");
        assert_eq!(b_docs, vec![(0, vec![0, 2]), (3, vec![1])]);
        let mut a_docs = Vec::new();
        field.push_docs(0, &mut a_docs).expect("decodes");
        assert_eq!(a_docs, vec![0, 2]);
        // Every cut of the bytes is refused, not read out of bounds.
        for cut in 0..bytes.len() {
            assert!(Field::open(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn many_positions_of_a_term_in_one_doc_and_a_doc_begun_again() {
        let mut builder = FieldBuilder::new(true);
        // Doc 0: "a" at the even positions up to 400 (a count of two LEB128 bytes,
        // grown in place), "b" between them.
        builder.begin_doc(0);
        for position in 0..401u32 {
            builder.add(if position % 2 == 0 { b"a" } else { b"b" }, position);
        }
        // Doc 1 twice: the second time adds nothing to "a", which it holds already,
        // but "c" is new to it.
        builder.begin_doc(1);
        builder.add(b"a", 3);
        builder.begin_doc(1);
        builder.add(b"a", 0);
        builder.add(b"a", 5);
        builder.add(b"c", 9);
        let bytes = builder.finish();
        let field = Field::open(&bytes).expect("opens");
        let lists = |id: usize| {
            let mut lists = Vec::new();
            field
                .for_each_position_list(id, |doc, positions| lists.push((doc, positions.to_vec())))
                .expect("decodes");
            lists
        };
        let evens: Vec<u32> = (0..401).step_by(2).collect();
        let odds: Vec<u32> = (1..401).step_by(2).collect();
        assert_eq!(lists(0), vec![(0, evens), (1, vec![3])]);
        assert_eq!(lists(1), vec![(0, odds)]);
        assert_eq!(lists(2), vec![(1, vec![9])]);
    }

    #[test]
    fn only_terms_write_what_begin_doc_and_add_write() {
        for positions in [false, true] {
            let (mut general, mut only) =
                (FieldBuilder::new(positions), FieldBuilder::new(positions));
            for (doc, term) in [(0u32, "x"), (2, "y"), (3, "x"), (3, "x"), (7, "x")] {
                general.begin_doc(doc);
                general.add(term.as_bytes(), 0);
                only.add_only_term(term.as_bytes(), doc);
            }
            assert_eq!(general.finish(), only.finish(), "positions {positions}");
        }
    }
}
