//! Opening a segment from its tail: the trailer, the metadata JSON and the section table,
//! read from the last bytes of a file that may live on object storage.
//!
//! A remote open reads [`FOOTER_PROBE`] bytes from the end of the object (one range
//! GET). When the metadata is longer than that tail, the trailer says where it starts
//! and a second read fetches exactly `[metadata_offset, file_len)`. No section is read:
//! the metadata holds every column's statistics, the section table and the CRCs each
//! fetched section is checked against.

use std::path::Path;

use crate::format::{TRAILER_LEN, read_trailer, verify_tiling};
use crate::metadata::SegmentMetadata;
use crate::{Error, Result};

/// Bytes read from the end of a segment object on the first try: enough for the
/// metadata of a table of a few hundred columns, so one GET opens nearly every segment.
pub const FOOTER_PROBE: u64 = 256 * 1024;

/// What the last bytes of a segment told.
#[derive(Debug)]
pub enum FooterRead {
    /// The metadata, checked: its CRC, its version against the trailer's, and that its
    /// sections tile the file.
    Complete(Box<SegmentMetadata>),
    /// The metadata starts before the bytes given: read `[offset, file_len)` and parse
    /// again.
    NeedsFrom(u64),
}

/// Parse the footer of a segment file of `file_len` bytes from `tail`, its last
/// `tail.len()` bytes.
pub fn read_footer(path: &Path, file_len: u64, tail: &[u8]) -> Result<FooterRead> {
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let tail_len = tail.len() as u64;
    if tail_len < TRAILER_LEN || tail_len > file_len {
        return Err(corrupt(format!(
            "the footer read is {tail_len} bytes of a {file_len}-byte file; it cannot hold the trailer"
        )));
    }
    let trailer = read_trailer(path, file_len, &tail[(tail_len - TRAILER_LEN) as usize..])?;
    let envelope = trailer.envelope;
    let tail_start = file_len - tail_len;
    if envelope.metadata_offset < tail_start {
        return Ok(FooterRead::NeedsFrom(envelope.metadata_offset));
    }
    let start = (envelope.metadata_offset - tail_start) as usize;
    let metadata_bytes = &tail[start..start + envelope.metadata_len as usize];
    if crc32fast::hash(metadata_bytes) != trailer.metadata_crc {
        return Err(corrupt("metadata checksum mismatch".into()));
    }
    let metadata: SegmentMetadata = serde_json::from_slice(metadata_bytes)
        .map_err(|error| corrupt(format!("metadata is not valid: {error}")))?;
    if metadata.format_version != envelope.format_version {
        return Err(corrupt(
            "metadata format version differs from the trailer".into(),
        ));
    }
    verify_tiling(path, &envelope, &metadata.sections)?;
    Ok(FooterRead::Complete(Box::new(metadata)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden() -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-data/v2/golden.tseg");
        std::fs::read(path).expect("golden file")
    }

    #[test]
    fn a_whole_tail_gives_the_metadata_and_a_short_one_says_where_to_read() {
        let bytes = golden();
        let len = bytes.len() as u64;
        let path = Path::new("golden");
        let FooterRead::Complete(metadata) = read_footer(path, len, &bytes).expect("footer") else {
            panic!("the whole file holds its metadata");
        };
        assert_eq!(metadata.sections.len(), 21);
        let short = &bytes[bytes.len() - 64..];
        let FooterRead::NeedsFrom(offset) = read_footer(path, len, short).expect("footer") else {
            panic!("64 bytes cannot hold the metadata");
        };
        let FooterRead::Complete(again) =
            read_footer(path, len, &bytes[offset as usize..]).expect("footer")
        else {
            panic!("the metadata starts at the offset the trailer named");
        };
        assert_eq!(again.name, metadata.name);
    }

    #[test]
    fn every_damaged_tail_byte_is_caught() {
        let bytes = golden();
        let len = bytes.len() as u64;
        let FooterRead::Complete(metadata) =
            read_footer(Path::new("golden"), len, &bytes).expect("footer")
        else {
            panic!("complete");
        };
        let first = metadata.sections.last().map_or(0, |s| s.offset + s.length) as usize;
        for index in first..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[index] ^= 1;
            let tail = &damaged[first..];
            let result = read_footer(Path::new("golden"), len, tail);
            assert!(
                matches!(
                    result,
                    Err(Error::Corrupt { .. } | Error::UnsupportedVersion { .. })
                ),
                "a flipped bit at {index} went unnoticed: {result:?}"
            );
        }
        // A wrong length (an object replaced under the same name, a truncated upload).
        assert!(read_footer(Path::new("golden"), len + 1, &bytes).is_err());
        assert!(read_footer(Path::new("golden"), len, &bytes[..10]).is_err());
    }
}
