//! The text index of a consuming segment, in chunks: every [`CHUNK_ROWS`] docs become
//! one immutable text index (the sealed segment's [`TextIndexBuilder`]), built the
//! first time a text query needs them; the docs past the last full chunk form a tail
//! index rebuilt when a query sees more docs than the cached tail. A search is the
//! union of the chunks' results shifted by each chunk's first doc.

use roaring::RoaringBitmap;
use tessera_segment::text_index::{TextIndex, TextIndexBuilder};

use crate::error::{Error, Result};

/// Docs per text chunk.
pub(crate) const CHUNK_ROWS: u32 = 16384;

struct Chunk {
    base: u32,
    rows: u32,
    index: TextIndex,
}

#[derive(Default)]
pub(crate) struct TextChunks {
    chunks: Vec<Chunk>,
    tail: Option<Chunk>,
}

impl std::fmt::Debug for TextChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextChunks")
            .field("chunks", &self.chunks.len())
            .finish_non_exhaustive()
    }
}

fn build(base: u32, rows: u32, text_of: &dyn Fn(u32) -> Option<String>) -> Result<Chunk> {
    let segment_error = |source| Error::Segment {
        context: "text index of a consuming segment".into(),
        source,
    };
    let mut builder = TextIndexBuilder::new().map_err(segment_error)?;
    for doc in base..base + rows {
        if let Some(text) = text_of(doc) {
            builder.add(doc - base, &text).map_err(segment_error)?;
        }
    }
    let index = builder
        .finish(rows)
        .and_then(|packed| packed.open_in_memory(rows))
        .map_err(segment_error)?;
    Ok(Chunk { base, rows, index })
}

impl TextChunks {
    /// Make the chunks cover docs `[0, visible)`.
    fn cover(&mut self, visible: u32, text_of: &dyn Fn(u32) -> Option<String>) -> Result<()> {
        let mut covered = self.chunks.last().map_or(0, |c| c.base + c.rows);
        while visible.saturating_sub(covered) >= CHUNK_ROWS {
            self.chunks.push(build(covered, CHUNK_ROWS, text_of)?);
            covered += CHUNK_ROWS;
        }
        let tail_rows = visible.saturating_sub(covered);
        let tail_fits = self
            .tail
            .as_ref()
            .is_some_and(|tail| tail.base == covered && tail.rows == tail_rows);
        if tail_rows == 0 {
            self.tail = None;
        } else if !tail_fits {
            self.tail = Some(build(covered, tail_rows, text_of)?);
        }
        Ok(())
    }

    fn each_chunk(&self) -> impl Iterator<Item = &Chunk> {
        self.chunks.iter().chain(self.tail.as_ref())
    }

    /// Docs below `visible` matching a `TEXT_MATCH` query.
    pub(crate) fn search(
        &mut self,
        query: &str,
        visible: u32,
        text_of: &dyn Fn(u32) -> Option<String>,
    ) -> Result<RoaringBitmap> {
        self.cover(visible, text_of)?;
        self.union(visible, |index| {
            index
                .search(query)
                .map(Some)
                .map_err(|source| Error::Segment {
                    context: "text query".into(),
                    source,
                })
        })
        .map(Option::unwrap_or_default)
    }

    /// Docs below `visible` containing `needle` (see `TextIndex::docs_containing`).
    pub(crate) fn contains(
        &mut self,
        needle: &str,
        visible: u32,
        text_of: &dyn Fn(u32) -> Option<String>,
    ) -> Result<Option<RoaringBitmap>> {
        self.lookup(visible, text_of, "text search", |index| {
            index.docs_containing(needle)
        })
    }

    /// Docs below `visible` starting with `prefix` (see `TextIndex::docs_starting_with`).
    pub(crate) fn starts_with(
        &mut self,
        prefix: &str,
        visible: u32,
        text_of: &dyn Fn(u32) -> Option<String>,
    ) -> Result<Option<RoaringBitmap>> {
        self.lookup(visible, text_of, "text prefix search", |index| {
            index.docs_starting_with(prefix)
        })
    }

    /// Docs below `visible` ending with `suffix` (see `TextIndex::docs_ending_with`).
    pub(crate) fn ends_with(
        &mut self,
        suffix: &str,
        visible: u32,
        text_of: &dyn Fn(u32) -> Option<String>,
    ) -> Result<Option<RoaringBitmap>> {
        self.lookup(visible, text_of, "text suffix search", |index| {
            index.docs_ending_with(suffix)
        })
    }

    /// An exact lookup on every chunk covering `[0, visible)`, unioned; `None` when a
    /// chunk cannot answer it.
    fn lookup(
        &mut self,
        visible: u32,
        text_of: &dyn Fn(u32) -> Option<String>,
        context: &str,
        lookup: impl Fn(&TextIndex) -> tessera_segment::Result<Option<RoaringBitmap>>,
    ) -> Result<Option<RoaringBitmap>> {
        self.cover(visible, text_of)?;
        self.union(visible, |index| {
            lookup(index).map_err(|source| Error::Segment {
                context: context.into(),
                source,
            })
        })
    }

    fn union(
        &self,
        visible: u32,
        search: impl Fn(&TextIndex) -> Result<Option<RoaringBitmap>>,
    ) -> Result<Option<RoaringBitmap>> {
        let mut docs = RoaringBitmap::new();
        for chunk in self.each_chunk().filter(|chunk| chunk.base < visible) {
            let Some(local) = search(&chunk.index)? else {
                return Ok(None);
            };
            docs.extend(
                local
                    .iter()
                    .map(|doc| doc + chunk.base)
                    .filter(|doc| *doc < visible),
            );
        }
        Ok(Some(docs))
    }

    /// Rough bytes held: the chunks' doc count times a per-doc estimate.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.each_chunk()
            .map(|chunk| chunk.rows as usize * 64)
            .sum()
    }
}
