//! Provisional dictionary ids held during a build, one byte per id while the dictionary
//! is small, widening to two and then four bytes as it grows, so the build holds about
//! as much as the bit-packed forward index it will write. Ids live in fixed-size blocks,
//! so growing never copies the whole vector nor leaves doubled capacity unused.

/// Ids per block: blocks of 1 MiB and more come from their own mappings (see the
/// `tessera` binary's allocator setting), so a written column returns them to the OS.
const BLOCK: usize = 1 << 20;

enum Width {
    U8,
    U16,
    U32,
}

pub struct IdVec {
    width: Width,
    blocks_u8: Vec<Vec<u8>>,
    blocks_u16: Vec<Vec<u16>>,
    blocks_u32: Vec<Vec<u32>>,
    len: usize,
}

impl Default for IdVec {
    fn default() -> Self {
        IdVec {
            width: Width::U8,
            blocks_u8: Vec::new(),
            blocks_u16: Vec::new(),
            blocks_u32: Vec::new(),
            len: 0,
        }
    }
}

fn push_into<T>(blocks: &mut Vec<Vec<T>>, value: T) {
    match blocks.last_mut() {
        Some(block) if block.len() < BLOCK => block.push(value),
        _ => {
            let mut block = Vec::with_capacity(BLOCK);
            block.push(value);
            blocks.push(block);
        }
    }
}

fn extend_blocks<T>(blocks: &mut Vec<Vec<T>>, mut ids: &[u32], narrow: impl Fn(u32) -> T) {
    while !ids.is_empty() {
        if blocks.last().is_none_or(|block| block.len() == BLOCK) {
            blocks.push(Vec::with_capacity(BLOCK));
        }
        let Some(block) = blocks.last_mut() else {
            return;
        };
        let take = (BLOCK - block.len()).min(ids.len());
        block.extend(ids[..take].iter().map(|id| narrow(*id)));
        ids = &ids[take..];
    }
}

/// Blocks of narrow ids as blocks of wider ones; each narrow block is freed as soon as
/// its wide copy exists.
fn widen_blocks<Narrow: Copy, Wide: From<Narrow>>(blocks: Vec<Vec<Narrow>>) -> Vec<Vec<Wide>> {
    blocks
        .into_iter()
        .map(|block| {
            let mut wide = Vec::with_capacity(BLOCK);
            wide.extend(block.iter().map(|v| Wide::from(*v)));
            wide
        })
        .collect()
}

impl IdVec {
    #[inline]
    pub fn push(&mut self, id: u32) {
        match self.width {
            Width::U8 if id <= u32::from(u8::MAX) => push_into(&mut self.blocks_u8, id as u8),
            Width::U16 if id <= u32::from(u16::MAX) => push_into(&mut self.blocks_u16, id as u16),
            Width::U32 => push_into(&mut self.blocks_u32, id),
            _ => {
                self.widen(id);
                return self.push(id);
            }
        }
        self.len += 1;
    }

    /// Re-encode every block at the width `id` needs, one block at a time.
    fn widen(&mut self, id: u32) {
        match self.width {
            Width::U8 if id <= u32::from(u16::MAX) => {
                self.blocks_u16 = widen_blocks(std::mem::take(&mut self.blocks_u8));
                self.width = Width::U16;
            }
            Width::U8 => {
                self.blocks_u32 = widen_blocks(std::mem::take(&mut self.blocks_u8));
                self.width = Width::U32;
            }
            Width::U16 => {
                self.blocks_u32 = widen_blocks(std::mem::take(&mut self.blocks_u16));
                self.width = Width::U32;
            }
            Width::U32 => {}
        }
    }

    /// Append a batch of ids: the width is settled once for the batch, and each block's
    /// part is one narrowing copy.
    pub fn extend_from_slice(&mut self, ids: &[u32]) {
        let Some(max) = ids.iter().copied().max() else {
            return;
        };
        let fits = match self.width {
            Width::U8 => max <= u32::from(u8::MAX),
            Width::U16 => max <= u32::from(u16::MAX),
            Width::U32 => true,
        };
        if !fits {
            self.widen(max);
        }
        match self.width {
            Width::U8 => extend_blocks(&mut self.blocks_u8, ids, |id| id as u8),
            Width::U16 => extend_blocks(&mut self.blocks_u16, ids, |id| id as u16),
            Width::U32 => extend_blocks(&mut self.blocks_u32, ids, |id| id),
        }
        self.len += ids.len();
    }

    /// Every id in order, to `visit` (one loop per width, no dispatch per id).
    pub fn for_each(&self, mut visit: impl FnMut(u32)) {
        match self.width {
            Width::U8 => self
                .blocks_u8
                .iter()
                .flatten()
                .for_each(|id| visit(u32::from(*id))),
            Width::U16 => self
                .blocks_u16
                .iter()
                .flatten()
                .for_each(|id| visit(u32::from(*id))),
            Width::U32 => self.blocks_u32.iter().flatten().for_each(|id| visit(*id)),
        }
    }

    #[inline]
    pub fn get(&self, index: usize) -> u32 {
        let (block, offset) = (index / BLOCK, index % BLOCK);
        match self.width {
            Width::U8 => u32::from(self.blocks_u8[block][offset]),
            Width::U16 => u32::from(self.blocks_u16[block][offset]),
            Width::U32 => self.blocks_u32[block][offset],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_widening_keeps_values() {
        let mut ids = IdVec::default();
        let values = [1u32, 255, 256, 3, 70_000, 0];
        for v in values {
            ids.push(v);
        }
        assert!(matches!(ids.width, Width::U32));
        assert_eq!(
            (0..values.len()).map(|i| ids.get(i)).collect::<Vec<_>>(),
            values
        );
    }

    #[test]
    fn test_batches_widen_and_cross_blocks() {
        let mut ids = IdVec::default();
        let mut expected = Vec::new();
        for batch in 0..5u32 {
            let values: Vec<u32> = (0..BLOCK as u32 / 2 + 7)
                .map(|i| (i * 31 + batch) % (1 << (6 + 5 * batch)))
                .collect();
            ids.extend_from_slice(&values);
            ids.push(batch);
            expected.extend(values);
            expected.push(batch);
        }
        assert!(matches!(ids.width, Width::U32));
        assert_eq!(ids.len(), expected.len());
        let mut seen = Vec::new();
        ids.for_each(|id| seen.push(id));
        assert_eq!(seen, expected);
        assert!((0..expected.len()).all(|i| ids.get(i) == expected[i]));
    }

    #[test]
    fn test_values_across_blocks() {
        let mut ids = IdVec::default();
        let count = 3 * BLOCK + 17;
        for i in 0..count {
            ids.push((i % 300) as u32);
        }
        assert_eq!(ids.len(), count);
        assert!((0..count).all(|i| ids.get(i) == (i % 300) as u32));
    }
}
