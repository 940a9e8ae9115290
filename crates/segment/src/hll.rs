//! A small HyperLogLog for the cardinality estimate of raw (no-dictionary) columns,
//! whose distinct values are never materialized at build time.

const PRECISION: u32 = 12;
const REGISTERS: usize = 1 << PRECISION;

/// splitmix64 finalizer: spreads a weak hash over all 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of a byte string for [`HyperLogLog::insert_hash`].
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(bytes);
    hasher.write_usize(bytes.len());
    mix64(hasher.finish())
}

#[derive(Debug, Clone, PartialEq)]
pub struct HyperLogLog {
    registers: Vec<u8>,
}

impl Default for HyperLogLog {
    fn default() -> Self {
        HyperLogLog {
            registers: vec![0; REGISTERS],
        }
    }
}

impl HyperLogLog {
    /// Insert an already well-mixed 64-bit hash.
    #[inline]
    pub fn insert_hash(&mut self, hash: u64) {
        let index = (hash >> (64 - PRECISION)) as usize;
        let rank = ((hash << PRECISION) | (1 << (PRECISION - 1))).leading_zeros() as u8 + 1;
        if self.registers[index] < rank {
            self.registers[index] = rank;
        }
    }

    /// Union with another sketch (register-wise maximum).
    pub fn merge(&mut self, other: &HyperLogLog) {
        for (mine, theirs) in self.registers.iter_mut().zip(&other.registers) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// The registers, for shipping a sketch between nodes.
    pub fn registers(&self) -> &[u8] {
        &self.registers
    }

    /// Rebuild a sketch from [`HyperLogLog::registers`]; `None` if the length is wrong.
    pub fn from_registers(registers: Vec<u8>) -> Option<HyperLogLog> {
        (registers.len() == REGISTERS).then_some(HyperLogLog { registers })
    }

    pub fn estimate(&self) -> u64 {
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = self
            .registers
            .iter()
            .map(|r| 2f64.powi(-i32::from(*r)))
            .sum();
        let raw = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|r| **r == 0).count();
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_hll_estimate_within_five_percent() {
        for n in [0u64, 10, 1000, 100_000] {
            let mut hll = HyperLogLog::default();
            for i in 0..n {
                hll.insert_hash(mix64(i));
                hll.insert_hash(mix64(i));
            }
            let estimate = hll.estimate() as f64;
            assert!(
                (estimate - n as f64).abs() <= n as f64 * 0.05 + 1.0,
                "n={n} estimate={estimate}"
            );
        }
    }
}
