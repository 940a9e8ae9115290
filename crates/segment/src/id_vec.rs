//! Provisional dictionary ids held during a build, one byte per id while the dictionary
//! is small, widening to two and then four bytes as it grows, so the build holds about
//! as much as the bit-packed forward index it will write.

pub enum IdVec {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Default for IdVec {
    fn default() -> Self {
        IdVec::U8(Vec::new())
    }
}

impl IdVec {
    #[inline]
    pub fn push(&mut self, id: u32) {
        match self {
            IdVec::U8(ids) if id <= u32::from(u8::MAX) => ids.push(id as u8),
            IdVec::U16(ids) if id <= u32::from(u16::MAX) => ids.push(id as u16),
            IdVec::U32(ids) => ids.push(id),
            _ => {
                self.widen(id);
                self.push(id);
            }
        }
    }

    fn widen(&mut self, id: u32) {
        let widened = match self {
            IdVec::U8(ids) if id <= u32::from(u16::MAX) => {
                IdVec::U16(ids.iter().map(|v| u16::from(*v)).collect())
            }
            IdVec::U8(ids) => IdVec::U32(ids.iter().map(|v| u32::from(*v)).collect()),
            IdVec::U16(ids) => IdVec::U32(ids.iter().map(|v| u32::from(*v)).collect()),
            IdVec::U32(_) => return,
        };
        *self = widened;
    }

    #[inline]
    pub fn get(&self, index: usize) -> u32 {
        match self {
            IdVec::U8(ids) => u32::from(ids[index]),
            IdVec::U16(ids) => u32::from(ids[index]),
            IdVec::U32(ids) => ids[index],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            IdVec::U8(ids) => ids.len(),
            IdVec::U16(ids) => ids.len(),
            IdVec::U32(ids) => ids.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        assert!(matches!(ids, IdVec::U32(_)));
        assert_eq!(
            (0..values.len()).map(|i| ids.get(i)).collect::<Vec<_>>(),
            values
        );
    }
}
