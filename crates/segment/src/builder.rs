//! Building an immutable segment from columnar batches.
//!
//! Rows arrive in batches ([`ColumnBatch`]); each column accumulates compactly
//! ([`ColumnBuilder`]). At [`SegmentBuilder::finish`] the table's sort column decides
//! the output order (a stable counting sort over its dictionary ids, NULLs last, as
//! Pinot does when it seals a segment), then each column writes its sections in turn
//! and is dropped, and the metadata and trailer close the file. The file is written to
//! a temporary name and renamed into place, so a crash never leaves a half-written
//! segment under the final name.

use std::path::{Path, PathBuf};

use tessera_config::{DataType, Schema, TableConfig};

use crate::batch::ColumnBatch;
use crate::column_builder::{ColumnBuilder, RowOrder};
use crate::format::{FORMAT_VERSION, SegmentFileWriter};
use crate::metadata::SegmentMetadata;
use crate::{Error, Result};

/// Segment-level facts supplied by the caller.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Segment name; defaults to Pinot's batch naming `{table}_{minTime}_{maxTime}_{sequence}`,
    /// with the postfix before the sequence when there is one (Pinot's
    /// `segment.name.postfix`).
    pub segment_name: Option<String>,
    /// Tells apart segments of the same table and time range built by different runs
    /// (two concurrent loads of one file).
    pub name_postfix: Option<String>,
    pub sequence: u32,
    /// Creation time (epoch ms); 0 means "now".
    pub creation_time_ms: i64,
    pub stream_partition: Option<u32>,
    pub start_offset: Option<u64>,
    pub end_offset: Option<u64>,
}

/// What a finished build produced.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    pub path: PathBuf,
    pub bytes: u64,
    pub metadata: SegmentMetadata,
}

pub struct SegmentBuilder {
    schema: Schema,
    table: TableConfig,
    columns: Vec<ColumnBuilder>,
    rows: u32,
}

impl SegmentBuilder {
    pub fn new(schema: &Schema, table: &TableConfig) -> Result<SegmentBuilder> {
        allocator::keep_large_blocks_returnable();
        let rows_will_be_sorted = table.indexing.sorted_column.is_some();
        let columns = schema
            .fields
            .iter()
            .map(|field| {
                ColumnBuilder::new(
                    field,
                    table.column_index_config(&field.name),
                    rows_will_be_sorted,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(sorted) = &table.indexing.sorted_column {
            let config = table.column_index_config(sorted);
            let field = schema
                .field(sorted)
                .ok_or_else(|| Error::NoSuchColumn(sorted.clone()))?;
            if !config.dictionary || !field.single_value {
                return Err(Error::Unsupported(format!(
                    "the sorted column must be a single-value dictionary column column=`{sorted}`"
                )));
            }
        }
        Ok(SegmentBuilder {
            schema: schema.clone(),
            table: table.clone(),
            columns,
            rows: 0,
        })
    }

    pub fn num_rows(&self) -> u32 {
        self.rows
    }

    /// Append a batch (columns in schema order, values coerced to the schema).
    pub fn add_batch(&mut self, batch: &ColumnBatch) -> Result<()> {
        batch.validate(&self.schema)?;
        if u64::from(self.rows) + batch.num_rows as u64 > u64::from(u32::MAX - 1) {
            return Err(Error::InvalidInput(
                "a segment holds at most 4294967294 rows; split the input".into(),
            ));
        }
        for (column, values) in self.columns.iter_mut().zip(&batch.columns) {
            column.add(values, batch.num_rows)?;
        }
        self.rows += batch.num_rows as u32;
        Ok(())
    }

    /// Output order: `inverse[input_row] = output_doc` for the stable sort by the sort
    /// column (NULLs last); `None` when the rows already are in that order. A counting
    /// sort over the sort column's final ids, which it reads twice rather than hold them
    /// (the build's peak memory is here, with every column's state still held).
    fn sort_inverse(&mut self) -> Option<Vec<u32>> {
        let sorted = self.table.indexing.sorted_column.clone()?;
        let rows = self.rows;
        let column = self.columns.iter_mut().find(|c| c.name() == sorted)?;
        column.seal_dictionary();
        let cardinality = column.sealed_cardinality()?;
        let key = |id: Option<u32>| id.unwrap_or(cardinality as u32) as usize;
        let mut starts = vec![0u32; cardinality + 2];
        let mut in_order = true;
        let mut previous = 0;
        column.for_each_final_id(|id| {
            let key = key(id);
            in_order &= key >= previous;
            previous = key;
            starts[key + 1] += 1;
        });
        if in_order {
            return None;
        }
        for i in 0..=cardinality {
            starts[i + 1] += starts[i];
        }
        let mut inverse = Vec::with_capacity(rows as usize);
        column.for_each_final_id(|id| {
            let slot = &mut starts[key(id)];
            inverse.push(*slot);
            *slot += 1;
        });
        Some(inverse)
    }

    /// Write the segment file to `path`.
    pub fn finish(self, path: &Path, options: &BuildOptions) -> Result<BuildSummary> {
        let temporary = TemporaryFile(temporary_path(path));
        let writer = SegmentFileWriter::create(&temporary.0)?;
        let (bytes, metadata) = self.write_segment(writer, options)?;
        std::fs::rename(&temporary.0, path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        sync_parent_directory(path)?;
        Ok(BuildSummary {
            path: path.to_path_buf(),
            bytes,
            metadata,
        })
    }

    /// Write the segment into `stream` as its bytes are produced (`tessera ingest`
    /// uploads them so, without a file); `label` names the stream in errors. The
    /// segment's length and metadata.
    pub fn finish_into(
        self,
        stream: Box<dyn std::io::Write + Send>,
        label: &str,
        options: &BuildOptions,
    ) -> Result<(u64, SegmentMetadata)> {
        self.write_segment(SegmentFileWriter::to_stream(label, stream)?, options)
    }

    fn write_segment(
        mut self,
        mut writer: SegmentFileWriter,
        options: &BuildOptions,
    ) -> Result<(u64, SegmentMetadata)> {
        allocator::trim_eagerly();
        let inverse = self.sort_inverse();
        // Single-value columns are reordered through the inverse alone; only
        // multi-value columns read through the permutation.
        let permutation = inverse
            .as_ref()
            .filter(|_| self.columns.iter().any(ColumnBuilder::is_multi_value))
            .map(|inverse| {
                let mut permutation = vec![0u32; inverse.len()];
                for (row, doc) in inverse.iter().enumerate() {
                    permutation[*doc as usize] = row as u32;
                }
                permutation
            });
        let order = RowOrder {
            permutation: permutation.as_deref(),
            inverse: inverse.as_deref(),
        };
        // Cheap columns first: each frees its accumulated state as it is written, so the
        // costly ones (large inverted indexes, text) run with the most room. The metadata
        // keeps schema order; the section table records where each section landed.
        let mut pending: Vec<(usize, ColumnBuilder)> = std::mem::take(&mut self.columns)
            .into_iter()
            .enumerate()
            .collect();
        pending.sort_by_key(|(_, column)| column.write_cost());
        let mut written = Vec::with_capacity(pending.len());
        for (schema_index, column) in pending {
            let started = std::time::Instant::now();
            let name = column.name().to_string();
            written.push((schema_index, column.write(&mut writer, order)?));
            allocator::release_free_memory();
            tracing::debug!(
                column = %name,
                elapsed_ms = started.elapsed().as_millis() as u64,
                resident_mb = resident_memory_mb(),
                "column written"
            );
        }
        written.sort_by_key(|(schema_index, _)| *schema_index);
        let columns: Vec<_> = written.into_iter().map(|(_, metadata)| metadata).collect();
        let time_column = self
            .table
            .time_column
            .clone()
            .filter(|name| self.schema.field(name).is_some());
        let (min_time, max_time) = time_column
            .as_ref()
            .and_then(|name| columns.iter().find(|c| &c.name == name))
            .filter(|c| {
                matches!(
                    c.data_type,
                    DataType::Timestamp | DataType::Long | DataType::Int
                )
            })
            .map_or((None, None), |c| (c.min.as_i64(), c.max.as_i64()));
        let creation_time_ms = if options.creation_time_ms == 0 {
            now_ms()
        } else {
            options.creation_time_ms
        };
        let name = options.segment_name.clone().unwrap_or_else(|| {
            let postfix = options
                .name_postfix
                .as_ref()
                .map_or(String::new(), |postfix| format!("{postfix}_"));
            format!(
                "{}_{}_{}_{postfix}{}",
                self.table.table_name,
                min_time.map_or("null".to_string(), |t| t.to_string()),
                max_time.map_or("null".to_string(), |t| t.to_string()),
                options.sequence
            )
        });
        let metadata = SegmentMetadata {
            name,
            table_name: self.table.table_name.clone(),
            format_version: FORMAT_VERSION,
            row_count: self.rows,
            creation_time_ms,
            time_column,
            min_time,
            max_time,
            sorted_column: self.table.indexing.sorted_column.clone(),
            stream_partition: options.stream_partition,
            start_offset: options.start_offset,
            end_offset: options.end_offset,
            columns,
            sections: writer.sections().to_vec(),
        };
        let json = serde_json::to_vec(&metadata).map_err(|error| {
            Error::InvalidInput(format!("metadata does not serialize: {error}"))
        })?;
        let bytes = writer.finish(&json)?;
        Ok((bytes, metadata))
    }
}

/// The file being written; removed if the build fails before it is renamed into place.
struct TemporaryFile(PathBuf);

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        // After a successful rename the path no longer exists and this is a no-op.
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Make the rename durable: fsync the directory that holds the new name.
fn sync_parent_directory(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })
}

/// glibc allocator settings for builds. glibc keeps freed blocks in its heap and raises
/// its mmap threshold each time a large block is freed, so without these a build's
/// resident memory would not fall as columns are written, and each column's transient
/// buffers would come on top of the previous ones'. The setting is process-wide: every
/// allocation of 1 MiB or more gets its own mapping, returned to the OS when freed (the
/// behaviour of allocators such as jemalloc); it costs page faults on large buffers that
/// are allocated again and again (about 1 s of a 6M-row build).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub mod allocator {
    use std::sync::atomic::{AtomicBool, Ordering};

    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
        fn malloc_trim(pad: usize) -> i32;
    }

    const M_MMAP_THRESHOLD: i32 = -3;
    const M_TRIM_THRESHOLD: i32 = -1;

    /// Whether [`keep_freed_memory_for_reuse`] has tuned this process for queries.
    static KEEPS_FREED_MEMORY: AtomicBool = AtomicBool::new(false);

    /// For query processing: keep freed heap memory for reuse instead of returning it to
    /// the OS after every block (glibc trims a heap top over 128 KiB by default, and the
    /// next block's vectors fault the pages back in), and serve blocks up to 64 MiB from
    /// the heap. Explicit trims ([`release_free_memory`]) still return memory.
    pub fn keep_freed_memory_for_reuse() {
        KEEPS_FREED_MEMORY.store(true, Ordering::Relaxed);
        // SAFETY: mallopt takes no pointers; it changes glibc tuning values under its lock.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, 512 << 20);
            mallopt(M_MMAP_THRESHOLD, 64 << 20);
        }
    }

    /// From now on, serve allocations of 1 MiB or more from their own mappings, which
    /// go back to the OS when freed; and return what is already free. While rows are
    /// added, the heap's top is returned only past 16 MiB free (glibc's default, 128 KiB,
    /// gave back and faulted in again each input batch's buffers: 300,000 page faults, a
    /// sixth of a 6M-row build); see [`trim_eagerly`] for the writing that follows.
    pub fn keep_large_blocks_returnable() {
        // SAFETY: mallopt and malloc_trim take no pointers; they only change a glibc
        // tuning value and return free heap pages to the OS, under glibc's own locks.
        unsafe {
            if !KEEPS_FREED_MEMORY.load(Ordering::Relaxed) {
                mallopt(M_TRIM_THRESHOLD, 16 << 20);
            }
            mallopt(M_MMAP_THRESHOLD, 1 << 20);
            malloc_trim(0);
        }
    }

    /// Back to glibc's default trim threshold (unless the process keeps freed memory
    /// for queries), for writing a segment: its peak comes there, and nothing there
    /// frees and allocates again at the rate of the input batches.
    pub fn trim_eagerly() {
        if KEEPS_FREED_MEMORY.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: as above: no pointers, glibc-internal locking.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, 128 << 10);
            malloc_trim(0);
        }
    }

    /// Return the heap pages a written column freed.
    pub fn release_free_memory() {
        // SAFETY: as above: no pointers, glibc-internal locking.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub mod allocator {
    pub fn keep_freed_memory_for_reuse() {}
    pub fn keep_large_blocks_returnable() {}
    pub fn trim_eagerly() {}
    pub fn release_free_memory() {}
}

/// Resident set size of this process in MiB (Linux; 0 elsewhere), for build diagnostics.
pub fn resident_memory_mb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / (1 << 20))
}

/// Milliseconds since the Unix epoch, now (the wall clock every crate reads).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
