//! The run's latency as an HdrHistogram interval log (`latency.hlog`), one histogram per
//! second, readable by HdrHistogram's own tools (HistogramLogProcessor, HdrHistogramVisualizer,
//! hdrhistogram's `IntervalLogIterator`). Histograms are written in the V2 compressed
//! encoding: a header, the counts as zig-zag LEB128 with runs of zeros folded into
//! negative numbers, zlib-deflated, then base64. hdrhistogram's own serializer is not
//! used because its `serialization` feature builds flate2's default backend, which a
//! workspace build would then use for every crate above flate2.

use std::fmt::Write as _;
use std::io::Write as _;

use hdrhistogram::{Counter, Histogram};

// The cookie bases with the 8-byte word size (0x10) that writers set.
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;

/// Values are recorded in microseconds; the log's `Interval_Max` column is in ms.
const MAX_VALUE_DIVISOR: f64 = 1000.0;

fn put_zigzag(out: &mut Vec<u8>, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    // Up to 8 groups of 7 bits with a continuation bit; a 9th byte carries the last 8 bits.
    for _ in 0..8 {
        if v >> 7 == 0 {
            out.push(v as u8);
            return;
        }
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The V2 encoding (uncompressed) of a histogram.
fn encode_v2<T: Counter>(h: &Histogram<T>) -> Vec<u8> {
    let counts: Vec<u64> = h.iter_all().map(|v| v.count_at_value().as_u64()).collect();
    let last = counts.iter().rposition(|&c| c > 0).map_or(0, |i| i + 1);
    let mut payload = Vec::new();
    let mut index = 0;
    while index < last {
        let count = counts[index];
        index += 1;
        if count == 0 {
            let mut zeros = 1i64;
            while index < last && counts[index] == 0 {
                zeros += 1;
                index += 1;
            }
            put_zigzag(&mut payload, if zeros > 1 { -zeros } else { 0 });
        } else {
            put_zigzag(&mut payload, count.min(i64::MAX as u64) as i64);
        }
    }
    let mut out = Vec::with_capacity(40 + payload.len());
    out.extend_from_slice(&V2_COOKIE.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes()); // normalizing index offset
    out.extend_from_slice(&u32::from(h.sigfig()).to_be_bytes());
    out.extend_from_slice(&h.low().to_be_bytes());
    out.extend_from_slice(&h.high().to_be_bytes());
    out.extend_from_slice(&1.0f64.to_be_bytes()); // integer to double conversion ratio
    out.extend_from_slice(&payload);
    out
}

/// The V2 compressed encoding, base64: what an interval log line carries.
pub fn encode_compressed<T: Counter>(h: &Histogram<T>) -> anyhow::Result<String> {
    let mut deflater = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    deflater.write_all(&encode_v2(h))?;
    let deflated = deflater.finish()?;
    let mut out = Vec::with_capacity(8 + deflated.len());
    out.extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
    out.extend_from_slice(&(deflated.len() as u32).to_be_bytes());
    out.extend_from_slice(&deflated);
    Ok(crate::http::base64(&out))
}

/// An interval log: one line per histogram, each `(start offset s, length s, histogram)`.
pub fn interval_log<'a, T: Counter + 'a>(
    start_unix_ms: i64,
    intervals: impl Iterator<Item = (f64, f64, &'a Histogram<T>)>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let start = start_unix_ms as f64 / 1000.0;
    let _ = writeln!(
        out,
        "#[Latency from each request's intended send time, in microseconds; written by tessera-bench]"
    );
    let _ = writeln!(out, "#[Histogram log format version 1.3]");
    let _ = writeln!(out, "#[StartTime: {start:.3} (seconds since epoch)]");
    let _ = writeln!(out, "#[BaseTime: {start:.3} (seconds since epoch)]");
    let _ = writeln!(
        out,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    );
    for (offset, length, h) in intervals {
        if h.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{offset:.3},{length:.3},{:.3},{}",
            h.max() as f64 / MAX_VALUE_DIVISOR,
            encode_compressed(h)?
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_leb128() {
        let encode = |v: i64| {
            let mut out = Vec::new();
            put_zigzag(&mut out, v);
            out
        };
        assert_eq!(encode(0), [0]);
        assert_eq!(encode(-1), [1]);
        assert_eq!(encode(1), [2]);
        assert_eq!(encode(64), [0x80, 0x01]);
        assert_eq!(encode(-300), [0xd7, 0x04]);
        assert_eq!(encode(i64::MAX).len(), 9);
    }

    #[test]
    fn counts_fold_runs_of_zeros() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 1000, 2).expect("bounds");
        h.record_n(1, 3).expect("record");
        h.record_n(5, 2).expect("record");
        let encoded = encode_v2(&h);
        assert_eq!(&encoded[..4], &V2_COOKIE.to_be_bytes());
        let payload = &encoded[40..];
        // index 0: 0 (a single zero), 1: 3, 2..=4: three zeros, 5: 2.
        assert_eq!(payload, [0, 6, 5, 4]);
        assert_eq!(
            u32::from_be_bytes(encoded[4..8].try_into().expect("4")) as usize,
            payload.len()
        );
    }
}
