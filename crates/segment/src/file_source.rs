//! [`FileSectionSource`]: the sections of a local segment file read one by one, as a
//! remote object's would be (`pread` of each section, checked by CRC on arrival). It
//! opens a file the way a server opens an object in the deep store, which makes the lazy
//! path testable without a network, and it lets a tool read a few columns of a huge file.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tantivy::directory::OwnedBytes;

use crate::footer::{FOOTER_PROBE, FooterRead, read_footer};
use crate::format::SectionEntry;
use crate::reader::{ImmutableSegment, SectionSource};
use crate::{Error, Result};

/// Reads sections of one local file on demand.
pub struct FileSectionSource {
    path: PathBuf,
    file: File,
    reads: AtomicU64,
}

impl FileSectionSource {
    /// Reads made so far (footer reads included).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut bytes = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(bytes)
    }

    /// Open `path` from its footer (at most two reads); sections are read on first use.
    pub fn open(path: &Path) -> Result<(ImmutableSegment, Arc<FileSectionSource>)> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let source = Arc::new(FileSectionSource {
            path: path.to_path_buf(),
            file,
            reads: AtomicU64::new(0),
        });
        let probe = FOOTER_PROBE.min(file_len);
        let tail = source.read_at(file_len - probe, probe)?;
        let metadata = match read_footer(path, file_len, &tail)? {
            FooterRead::Complete(metadata) => metadata,
            FooterRead::NeedsFrom(offset) => {
                let tail = source.read_at(offset, file_len - offset)?;
                match read_footer(path, file_len, &tail)? {
                    FooterRead::Complete(metadata) => metadata,
                    FooterRead::NeedsFrom(_) => {
                        return Err(Error::Corrupt {
                            path: path.to_path_buf(),
                            message: "the trailer points at metadata it then disowns".into(),
                        });
                    }
                }
            }
        };
        let segment = ImmutableSegment::open_lazy(path, file_len, *metadata, source.clone())?;
        Ok((segment, source))
    }
}

impl SectionSource for FileSectionSource {
    fn read(&self, section: &SectionEntry) -> Result<OwnedBytes> {
        let bytes = self.read_at(section.offset, section.length)?;
        if crc32fast::hash(&bytes) != section.crc32 {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!(
                    "section checksum mismatch column=`{}` section=`{:?}`",
                    section.column, section.kind
                ),
            });
        }
        Ok(OwnedBytes::new(bytes))
    }
}
