//! Frame-of-reference raw chunks: the fixed-width values of one chunk as bit-packed
//! offsets from the chunk's smallest value. Integers are stored as they are; doubles are
//! first scaled by a power of ten (prices, rates, measurements with a few decimals),
//! and only when dividing back gives the very same bits for every value of the chunk.
//! Decoding is a shift, a mask, an add and (for doubles) one division per value, several
//! times faster than zstd and usually smaller.
//!
//! Layout: `magic "TFOR" | exponent u8 | bits u8 | base i64 LE | packed offsets`, the
//! offsets in the [`crate::bitpack`] layout (`packed_len(rows, bits)` bytes, padding
//! included). Value `i` is `base + offset[i]`, divided by `10^exponent` for doubles.
//! A chunk that does not fit (a value that is not a short decimal, a range wider than
//! 32 bits, NaN, -0.0, infinities) stays a zstd frame.

use crate::bitpack::{BitPacker, BitUnpacker, bits_for_cardinality, packed_len};
use crate::value::PhysicalType;

pub const MAGIC: &[u8; 4] = b"TFOR";
const HEADER_LEN: usize = 4 + 1 + 1 + 8;

/// Largest power of ten a double is scaled by.
const MAX_EXPONENT: u8 = 12;

/// 10^0 .. 10^MAX_EXPONENT, exact in f64.
const POWERS: [f64; MAX_EXPONENT as usize + 1] = [
    1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
];

/// Integers a double may scale to (exactly representable, well inside i64).
const MAX_SCALED: f64 = 9_007_199_254_740_992.0; // 2^53

/// Whether a chunk's bytes are a frame-of-reference chunk (zstd frames start otherwise).
pub fn is_for_chunk(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Encode `data` (the chunk's little-endian values of `physical`) if it fits; `None`
/// leaves the chunk to zstd.
pub fn encode(physical: PhysicalType, data: &[u8]) -> Option<Vec<u8>> {
    let (exponent, integers) = match physical {
        PhysicalType::I64 => (
            0,
            data.chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                .collect::<Vec<i64>>(),
        ),
        PhysicalType::I32 => (
            0,
            data.chunks_exact(4)
                .map(|b| i64::from(i32::from_le_bytes(b.try_into().unwrap_or([0; 4]))))
                .collect(),
        ),
        PhysicalType::F64 => {
            let values: Vec<f64> = data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                .collect();
            scale_doubles(&values)?
        }
        PhysicalType::F32 | PhysicalType::Bytes => return None,
    };
    let min = *integers.iter().min()?;
    let max = *integers.iter().max()?;
    let range = u64::try_from(i128::from(max) - i128::from(min)).ok()?;
    if range > u64::from(u32::MAX) {
        return None;
    }
    let bits = bits_for_cardinality(range + 1);
    let mut packer = BitPacker::new(bits, integers.len());
    for value in &integers {
        packer.push((value - min) as u32);
    }
    let packed = packer.finish();
    let mut out = Vec::with_capacity(HEADER_LEN + packed.len());
    out.extend_from_slice(MAGIC);
    out.push(exponent);
    out.push(bits);
    out.extend_from_slice(&min.to_le_bytes());
    out.extend_from_slice(&packed);
    Some(out)
}

/// The smallest power of ten that turns every value into an integer that divides back
/// to the same bits, and those integers.
fn scale_doubles(values: &[f64]) -> Option<(u8, Vec<i64>)> {
    let mut exponent = 0u8;
    for value in values {
        // Each value needs at least its own smallest exponent.
        while !round_trips(*value, exponent) {
            exponent += 1;
            if exponent > MAX_EXPONENT {
                return None;
            }
        }
    }
    let power = POWERS[usize::from(exponent)];
    let mut integers = Vec::with_capacity(values.len());
    for value in values {
        // A value that round-trips at a smaller exponent may not at this one.
        if !round_trips(*value, exponent) {
            return None;
        }
        integers.push((value * power).round() as i64);
    }
    Some((exponent, integers))
}

fn round_trips(value: f64, exponent: u8) -> bool {
    let power = POWERS[usize::from(exponent)];
    let scaled = (value * power).round();
    if !scaled.is_finite() || scaled.abs() >= MAX_SCALED {
        return false;
    }
    ((scaled as i64) as f64 / power).to_bits() == value.to_bits()
}

/// Decode only the values at `rows_wanted` (ascending row numbers inside the chunk) of a
/// chunk of `rows` values, appending their little-endian bytes to `out`.
pub fn decode_rows(
    physical: PhysicalType,
    bytes: &[u8],
    rows: usize,
    rows_wanted: impl Iterator<Item = usize>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let (exponent, bits, base) = header(physical, bytes, rows)?;
    let unpacker = BitUnpacker::new(&bytes[HEADER_LEN..], bits);
    for row in rows_wanted {
        if row >= rows {
            return Err(format!("row {row} is past the chunk's {rows} rows"));
        }
        let n = base.wrapping_add(i64::from(unpacker.get(row)));
        match physical {
            PhysicalType::I64 => out.extend_from_slice(&n.to_le_bytes()),
            PhysicalType::I32 => out.extend_from_slice(&(n as i32).to_le_bytes()),
            _ => out.extend_from_slice(&(n as f64 / POWERS[usize::from(exponent)]).to_le_bytes()),
        }
    }
    Ok(())
}

/// Append rows `first..end` of a chunk of `rows` values to `out` as f64 (what
/// `read_f64` returns for the column: doubles as they are, integers converted), without
/// going through the values' bytes.
pub fn decode_f64_range(
    physical: PhysicalType,
    bytes: &[u8],
    rows: usize,
    first: usize,
    end: usize,
    out: &mut Vec<f64>,
) -> Result<(), String> {
    let (exponent, bits, base) = header(physical, bytes, rows)?;
    if first > end || end > rows {
        return Err(format!(
            "rows {first}..{end} are outside the chunk's {rows} rows"
        ));
    }
    let unpacker = BitUnpacker::new(&bytes[HEADER_LEN..], bits);
    let power = POWERS[usize::from(exponent)];
    let mut offsets = [0u32; 256];
    let mut row = first;
    while row < end {
        let n = (end - row).min(offsets.len());
        unpacker.get_range(row, &mut offsets[..n]);
        let values = offsets[..n]
            .iter()
            .map(|o| base.wrapping_add(i64::from(*o)));
        match physical {
            // `base + offset` is a scaled value below 2^53 (the encoder keeps no other),
            // so it is exact as an f64 sum too: the unsigned offsets convert and add as
            // vectors, where an i64 to f64 conversion per value would not.
            PhysicalType::F64 => {
                let base = base as f64;
                out.extend(offsets[..n].iter().map(|o| (base + f64::from(*o)) / power));
            }
            PhysicalType::I32 => out.extend(values.map(|v| f64::from(v as i32))),
            _ => out.extend(values.map(|v| v as f64)),
        }
        row += n;
    }
    Ok(())
}

/// Bounds of the values of a DOUBLE frame-of-reference chunk of `rows` values, from its
/// header alone: the smallest value exactly (the base, divided as decoding divides it)
/// and an upper bound (the largest offset its bit width can hold). `None` for another
/// kind of chunk or a bad header.
pub fn f64_bounds(physical: PhysicalType, bytes: &[u8], rows: usize) -> Option<(f64, f64)> {
    if physical != PhysicalType::F64 {
        return None;
    }
    let (exponent, bits, base) = header(physical, bytes, rows).ok()?;
    let power = POWERS[usize::from(exponent)];
    let widest = base.saturating_add(((1u64 << bits) - 1) as i64);
    Some((base as f64 / power, widest as f64 / power))
}

/// Check a chunk's header against its column and row count: (exponent, bits, base).
fn header(physical: PhysicalType, bytes: &[u8], rows: usize) -> Result<(u8, u8, i64), String> {
    if bytes.len() < HEADER_LEN || !is_for_chunk(bytes) {
        return Err("frame-of-reference chunk header is truncated".into());
    }
    let exponent = bytes[4];
    let bits = bytes[5];
    let mut base = [0u8; 8];
    base.copy_from_slice(&bytes[6..14]);
    if bits > 32 || exponent > MAX_EXPONENT {
        return Err(format!(
            "frame-of-reference chunk has bits={bits} exponent={exponent}"
        ));
    }
    let fits = match physical {
        PhysicalType::I64 | PhysicalType::I32 => exponent == 0,
        PhysicalType::F64 => true,
        PhysicalType::F32 | PhysicalType::Bytes => false,
    };
    if !fits {
        return Err(format!(
            "frame-of-reference chunk in a {physical:?} column with exponent {exponent}"
        ));
    }
    if bytes.len() - HEADER_LEN != packed_len(rows, bits) {
        return Err("frame-of-reference chunk has the wrong size for its rows".into());
    }
    Ok((exponent, bits, i64::from_le_bytes(base)))
}

/// Decode a chunk of `rows` values into their little-endian bytes.
pub fn decode(physical: PhysicalType, bytes: &[u8], rows: usize) -> Result<Vec<u8>, String> {
    let (exponent, bits, base) = header(physical, bytes, rows)?;
    let packed = &bytes[HEADER_LEN..];
    let unpacker = BitUnpacker::new(packed, bits);
    let mut offsets = vec![0u32; rows];
    unpacker.get_range(0, &mut offsets);
    let value = |offset: u32| base.wrapping_add(i64::from(offset));
    let mut out = vec![0u8; rows * physical.fixed_width().unwrap_or(0)];
    match physical {
        PhysicalType::I64 if exponent == 0 => {
            for (slot, offset) in out.chunks_exact_mut(8).zip(&offsets) {
                slot.copy_from_slice(&value(*offset).to_le_bytes());
            }
        }
        PhysicalType::I32 if exponent == 0 => {
            for (slot, offset) in out.chunks_exact_mut(4).zip(&offsets) {
                slot.copy_from_slice(&(value(*offset) as i32).to_le_bytes());
            }
        }
        PhysicalType::F64 => {
            let power = POWERS[usize::from(exponent)];
            for (slot, offset) in out.chunks_exact_mut(8).zip(&offsets) {
                slot.copy_from_slice(&(value(*offset) as f64 / power).to_le_bytes());
            }
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The header's bounds: the smallest value exactly, and a bound above the largest.
    #[test]
    fn test_f64_bounds_hold_the_chunk_values() {
        for values in [
            vec![901.0, 1000.25, 104_949.5, 3.5],
            vec![-12.5, -3.25, 7.0],
            vec![42.0; 16],
        ] {
            let data: Vec<u8> = values.iter().flat_map(|v: &f64| v.to_le_bytes()).collect();
            let bytes = encode(PhysicalType::F64, &data).expect("short decimals encode");
            let (low, high) = f64_bounds(PhysicalType::F64, &bytes, values.len()).expect("bounds");
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(low.to_bits(), min.to_bits(), "{values:?}");
            assert!(high >= max, "{high} < {max} for {values:?}");
        }
        let longs: Vec<u8> = [1i64, 5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = encode(PhysicalType::I64, &longs).expect("longs encode");
        assert!(f64_bounds(PhysicalType::I64, &bytes, 2).is_none());
    }

    fn f64_bytes(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn prices_scale_by_a_hundred() {
        let values = [901.0, 1234.56, 0.07, 104_949.5, 55.1].repeat(20);
        let data = f64_bytes(&values);
        let encoded = encode(PhysicalType::F64, &data).expect("short decimals fit");
        assert_eq!(encoded[4], 2, "exponent");
        assert!(encoded.len() < data.len() / 2);
        assert_eq!(
            decode(PhysicalType::F64, &encoded, values.len()).expect("decodes"),
            data
        );
    }

    #[test]
    fn what_does_not_fit_stays_zstd() {
        for bad in [
            f64::NAN,
            f64::INFINITY,
            -0.0,
            0.1 + 0.2,
            1e300,
            f64::MIN_POSITIVE,
        ] {
            assert!(
                encode(PhysicalType::F64, &f64_bytes(&[1.0, bad])).is_none(),
                "{bad}"
            );
        }
        let wide: Vec<u8> = [0i64, 1 << 40]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert!(encode(PhysicalType::I64, &wide).is_none());
        assert!(encode(PhysicalType::F32, &[0; 8]).is_none());
    }

    #[test]
    fn corrupt_headers_are_errors() {
        let data: Vec<u8> = [5i64, 9, -3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let encoded = encode(PhysicalType::I64, &data).expect("fits");
        assert!(decode(PhysicalType::I64, &encoded[..10], 3).is_err());
        assert!(decode(PhysicalType::I64, &encoded, 40).is_err());
        let mut bad_bits = encoded.clone();
        bad_bits[5] = 40;
        assert!(decode(PhysicalType::I64, &bad_bits, 3).is_err());
        let mut bad_exponent = encoded.clone();
        bad_exponent[4] = 2;
        assert!(decode(PhysicalType::I64, &bad_exponent, 3).is_err());
    }

    #[test]
    fn row_ranges_decode_straight_to_f64() {
        let values: Vec<f64> = (0..1000).map(|i| f64::from(i) * 1.25 - 300.0).collect();
        let encoded = encode(PhysicalType::F64, &f64_bytes(&values)).expect("fits");
        for (first, end) in [(0, 1000), (3, 517), (999, 1000), (256, 256), (1, 300)] {
            let mut out = vec![7.0];
            decode_f64_range(PhysicalType::F64, &encoded, 1000, first, end, &mut out)
                .expect("decodes");
            assert_eq!(out[1..], values[first..end], "{first}..{end}");
        }
        let mut out = Vec::new();
        assert!(decode_f64_range(PhysicalType::F64, &encoded, 1000, 10, 1001, &mut out).is_err());
        assert!(decode_f64_range(PhysicalType::F64, &encoded, 1000, 20, 10, &mut out).is_err());

        let integers: Vec<u8> = [-5i32, 70_000, 3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let encoded = encode(PhysicalType::I32, &integers).expect("fits");
        let mut out = Vec::new();
        decode_f64_range(PhysicalType::I32, &encoded, 3, 0, 3, &mut out).expect("decodes");
        assert_eq!(out, [-5.0, 70_000.0, 3.0]);
    }

    #[test]
    fn selected_rows_decode_alone() {
        let values: Vec<f64> = (0..1000).map(|i| f64::from(i) * 1.25 - 300.0).collect();
        let data = f64_bytes(&values);
        let encoded = encode(PhysicalType::F64, &data).expect("fits");
        let mut out = Vec::new();
        decode_rows(
            PhysicalType::F64,
            &encoded,
            1000,
            [3usize, 500, 999].into_iter(),
            &mut out,
        )
        .expect("decodes");
        assert_eq!(out, f64_bytes(&[values[3], values[500], values[999]]));
        assert!(
            decode_rows(
                PhysicalType::F64,
                &encoded,
                1000,
                [1000usize].into_iter(),
                &mut out
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn integers_round_trip(values in proptest::collection::vec(any::<i64>(), 1..300), narrow in any::<bool>()) {
            let values: Vec<i64> = if narrow { values.iter().map(|v| v % 100_000).collect() } else { values };
            let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            if let Some(encoded) = encode(PhysicalType::I64, &data) {
                prop_assert_eq!(decode(PhysicalType::I64, &encoded, values.len()).expect("decodes"), data);
            } else {
                prop_assert!(!narrow);
            }
            let ints: Vec<u8> = values.iter().flat_map(|v| (*v as i32).to_le_bytes()).collect();
            if let Some(encoded) = encode(PhysicalType::I32, &ints) {
                prop_assert_eq!(decode(PhysicalType::I32, &encoded, values.len()).expect("decodes"), ints);
            }
        }

        #[test]
        fn double_ranges_decode_as_the_bytes_do(
            scaled in proptest::collection::vec(-(1i64 << 53) + 1..(1i64 << 53), 1..200),
            spread in 0u32..33,
            exponent in 0u32..5,
        ) {
            // Values of one chunk within `spread` bits of each other, anywhere below 2^53.
            let first = scaled[0];
            let width = if spread == 0 { 1 } else { 1i64 << (spread - 1) };
            let values: Vec<f64> = scaled
                .iter()
                .map(|s| (first.saturating_add(s.rem_euclid(width))).clamp(-(1i64 << 53) + 1, (1i64 << 53) - 1) as f64
                    / 10f64.powi(exponent as i32))
                .collect();
            let data = f64_bytes(&values);
            if let Some(encoded) = encode(PhysicalType::F64, &data) {
                let bytes = decode(PhysicalType::F64, &encoded, values.len()).expect("decodes");
                let mut out = Vec::new();
                decode_f64_range(PhysicalType::F64, &encoded, values.len(), 0, values.len(), &mut out)
                    .expect("decodes");
                prop_assert_eq!(f64_bytes(&out), bytes);
            }
        }

        #[test]
        fn doubles_round_trip_bit_exactly(
            cents in proptest::collection::vec(-10_000_000i64..10_000_000, 1..300),
            exponent in 0u32..5,
            raw in proptest::collection::vec(any::<f64>(), 0..3),
        ) {
            let mut values: Vec<f64> = cents.iter().map(|c| *c as f64 / 10f64.powi(exponent as i32)).collect();
            values.extend(raw);
            let data = f64_bytes(&values);
            if let Some(encoded) = encode(PhysicalType::F64, &data) {
                prop_assert_eq!(decode(PhysicalType::F64, &encoded, values.len()).expect("decodes"), data);
            }
        }
    }
}
