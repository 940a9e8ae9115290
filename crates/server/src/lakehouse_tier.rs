//! The lakehouse tier of a table: the rows of an Apache Iceberg table below the time
//! boundary, queried beside the table's own segments as one table.
//!
//! - **Snapshot view**: the Iceberg table's current metadata, data files and the time
//!   boundary, looked up again every `refreshInterval`. A refresh that fails keeps the
//!   last good view (and reports the error in the tier's status and log); with no good
//!   view, queries of the table fail with the error, which names the table and file.
//! - **Boundary**: rows with time `< boundary` come from Iceberg, rows `>= boundary`
//!   from segments (see [`Split`] for the boundary instant itself). Each side runs the
//!   query with its [`TimeBound`] (segments wholly on its side run it unbounded).
//! - **Pruning**: each data file's manifest statistics (per-column lower/upper bounds
//!   and null counts) stand in for segment metadata, and the engine's own
//!   [`may_match_by_statistics`] decides with the query's filter and the boundary
//!   whether the file is read at all.
//! - **Reading**: a data file is read once, on the first query that needs it, into a
//!   Tessera segment built with the table's schema and indexes (kept under the server's
//!   data directory, named by the file's path and size: Iceberg data files never
//!   change). Every SQL feature and every index then works on the lakehouse rows, and
//!   later queries run at segment speed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_json::{Value as Json, json};
use tessera_config::table::lakehouse::{LakehouseCatalog, LakehouseConfig, TimeBoundary};
use tessera_config::{DataType, Schema, TableConfig};
use tessera_ingest::{ReadOptions, RejectReport};
use tessera_lakehouse::metadata::IcebergSchema;
use tessera_lakehouse::table::{self as iceberg_table, Catalog};
use tessera_lakehouse::{DataFile, Datum, FileIo, IcebergType, ManifestCache, TableMetadata};
use tessera_query::QueryError;
use tessera_query::error::ErrorCode;
use tessera_query::expr::CmpOp;

use crate::time_bound::TimeBound;
use tessera_query::filter::may_match_by_statistics;
use tessera_query::plan::QueryPlan;
use tessera_segment::metadata::{ColumnMetadata, SegmentMetadata};
use tessera_segment::{BuildOptions, ImmutableSegment, SegmentBuilder};
use tracing::{info, warn};

/// One data file of the current snapshot, with its statistics as segment metadata.
struct LakeFile {
    file: DataFile,
    stats: SegmentMetadata,
}

/// The last refresh's failure: its message and kind.
type LastError = (String, tessera_status::Status);

/// A data file's segments once read; its lock makes one query read the file while
/// others wait for it.
type FileSlot = Arc<Mutex<Option<FileSegments>>>;

/// The segments one data file was read into.
type FileSegments = Arc<Vec<Arc<ImmutableSegment>>>;

/// Rows per segment a data file is read into (a large file makes several, so queries
/// run on every core and a build's memory stays bounded).
const ROWS_PER_SEGMENT: u32 = 2_000_000;

/// The snapshot summary key listing the segments an export wrote.
pub const SEGMENTS_SUMMARY_KEY: &str = "tessera.segments";

/// The tier as of its last good refresh.
struct View {
    metadata_file: String,
    snapshot_id: Option<i64>,
    files: Vec<Arc<LakeFile>>,
    /// The configured boundary, or (`auto`) the largest time the snapshot holds; `None`:
    /// the snapshot holds no rows (segments serve every row).
    boundary: Option<i64>,
    /// Segments the snapshot holds, exported by Tessera.
    exported: Arc<HashSet<String>>,
}

impl View {
    /// The files a bounded plan reads: those whose statistics may match its filter.
    fn files_for<'a>(&'a self, plan: &'a QueryPlan) -> impl Iterator<Item = &'a Arc<LakeFile>> {
        self.files.iter().filter(|file| {
            file.file.record_count > 0
                && plan
                    .filter
                    .as_ref()
                    .is_none_or(|filter| may_match_by_statistics(&file.stats, filter))
        })
    }
}

#[derive(Default)]
struct Counters {
    refreshes: AtomicU64,
    refresh_errors: AtomicU64,
    files_read: AtomicU64,
    files_pruned: AtomicU64,
    files_scanned: AtomicU64,
    rows_read: AtomicU64,
    rows_rejected: AtomicU64,
    bytes_read: AtomicU64,
}

/// The part of a query the lakehouse answers: its plan and the segments that hold the
/// files it reads.
pub struct LakehouseScan {
    /// `None`: nothing to read (an empty snapshot).
    pub bound: Option<TimeBound>,
    pub segments: Vec<Arc<dyn tessera_segment::SegmentReader>>,
}

impl LakehouseScan {
    /// The leaf half of `plan` over the files' segments, bounded to the Iceberg side.
    pub fn execute(&self, plan: &QueryPlan) -> Result<tessera_query::leaf::Partial, QueryError> {
        match &self.bound {
            Some(bound) => bound.execute(plan, &self.segments),
            None => tessera_query::engine::execute_leaf(plan, &[]),
        }
    }
}

/// One query's view of the tier: the snapshot it reads and where it splits. The broker
/// takes it once per query, and both sides of the split and EXPLAIN read the same one.
pub struct LakehouseQuery {
    view: Arc<View>,
    /// `None`: the Iceberg table holds no rows, segments serve everything.
    pub split: Option<Split>,
}

/// Where one query splits the time axis between the tiers.
///
/// Rows before the boundary come from Iceberg, rows after it from segments. The instant
/// of the boundary itself (the largest time the Iceberg snapshot holds, with `auto`)
/// comes from segments once they hold a row at or after it: the stream then has that
/// instant whole, while the snapshot may hold only part of it. Until then (a stream that
/// has not reached the boundary, or a table without one) it comes from Iceberg. The
/// segments are looked at once per query, in the state the query reads them, so every
/// row is counted exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub boundary: i64,
    /// Whether segments serve the boundary instant.
    pub segments_hold_boundary: bool,
}

impl Split {
    /// The split for a boundary, given the largest time the query's segments hold.
    pub fn at(boundary: i64, segments_largest_time: Option<i64>) -> Split {
        Split {
            boundary,
            segments_hold_boundary: segments_largest_time.is_some_and(|t| t >= boundary),
        }
    }

    /// The comparison of the time column with the boundary that the Iceberg side runs.
    pub fn lakehouse_op(self) -> CmpOp {
        if self.segments_hold_boundary {
            CmpOp::Lt
        } else {
            CmpOp::LtEq
        }
    }

    /// The comparison the segment side runs.
    pub fn segments_op(self) -> CmpOp {
        if self.segments_hold_boundary {
            CmpOp::GtEq
        } else {
            CmpOp::Gt
        }
    }
}

/// A table's lakehouse tier.
pub struct LakehouseTier {
    table: String,
    config: LakehouseConfig,
    schema: Schema,
    table_config: TableConfig,
    time_column: String,
    io: FileIo,
    manifests: ManifestCache,
    directory: PathBuf,
    view: RwLock<Option<Arc<View>>>,
    /// When the view was last refreshed (or tried), and the last refresh's error.
    refreshed: Mutex<(Option<Instant>, Option<LastError>)>,
    /// Files being read, one reader each.
    reading: Mutex<HashMap<String, FileSlot>>,
    /// One export at a time.
    exporting: Mutex<()>,
    counters: Counters,
}

/// A lakehouse failure as a query error: a store that cannot be reached (or a file not
/// there yet) is retryable; damaged or mismatched files are not.
fn failure(status: tessera_status::Status, message: String) -> QueryError {
    use tessera_status::Status;
    let code = match status {
        Status::Unavailable | Status::NotFound | Status::Timeout => ErrorCode::Unavailable,
        _ => ErrorCode::QueryExecution,
    };
    QueryError { code, message }
}

impl LakehouseTier {
    /// The tier of `table_config`'s table, `None` without a `lakehouse` section. Nothing
    /// is read until the first refresh.
    pub fn of(
        schema: &Schema,
        table_config: &TableConfig,
        runtime: tokio::runtime::Handle,
        data_dir: &Path,
    ) -> anyhow::Result<Option<Arc<LakehouseTier>>> {
        let Some(config) = tessera_config::table::lakehouse::lakehouse_config(
            &table_config.raw,
            schema,
            table_config.time_column.as_deref(),
        )?
        else {
            return Ok(None);
        };
        let time_column = table_config
            .time_column
            .clone()
            .ok_or_else(|| anyhow::anyhow!("a lakehouse tier needs a time column"))?;
        Ok(Some(Arc::new(LakehouseTier {
            table: table_config.table_name.clone(),
            directory: data_dir.join("lakehouse").join(&table_config.table_name),
            config,
            schema: schema.clone(),
            table_config: table_config.clone(),
            time_column,
            io: FileIo::new(runtime),
            manifests: ManifestCache::default(),
            view: RwLock::new(None),
            refreshed: Mutex::new((None, None)),
            reading: Mutex::default(),
            exporting: Mutex::default(),
            counters: Counters::default(),
        })))
    }

    pub(crate) fn catalog(&self) -> Catalog {
        match &self.config.catalog {
            LakehouseCatalog::FileSystem { warehouse } => Catalog::FileSystem {
                warehouse: warehouse.clone(),
            },
            LakehouseCatalog::Location(location) => Catalog::Location(location.clone()),
        }
    }

    /// Look up the current snapshot now. On failure the last good view stays.
    pub fn refresh(&self) -> Result<(), tessera_lakehouse::Error> {
        self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
        let result = self.load_view();
        let mut refreshed = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
        refreshed.0 = Some(Instant::now());
        match result {
            Ok(view) => {
                refreshed.1 = None;
                let changed = self
                    .view
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .is_none_or(|old| old.metadata_file != view.metadata_file);
                if changed {
                    info!(table = %self.table, metadata = %view.metadata_file,
                        files = view.files.len(), boundary = ?view.boundary,
                        "lakehouse snapshot loaded");
                }
                *self.view.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(view));
                Ok(())
            }
            Err(error) => {
                self.counters.refresh_errors.fetch_add(1, Ordering::Relaxed);
                warn!(table = %self.table, error = %error, "lakehouse refresh failed; the last good snapshot stays");
                refreshed.1 = Some((error.to_string(), error.status()));
                Err(error)
            }
        }
    }

    fn load_view(&self) -> Result<View, tessera_lakehouse::Error> {
        let metadata_file =
            match iceberg_table::locate(&self.io, &self.catalog(), &self.config.table) {
                Ok(file) => file,
                // Tessera creates the table on its first export: until then, no history.
                Err(tessera_lakehouse::Error::NotFound { .. }) if self.config.export => {
                    return Ok(View {
                        metadata_file: String::new(),
                        snapshot_id: None,
                        files: Vec::new(),
                        boundary: None,
                        exported: Arc::default(),
                    });
                }
                Err(error) => return Err(error),
            };
        if let Some(view) = self.view.read().unwrap_or_else(|e| e.into_inner()).as_ref()
            && view.metadata_file == metadata_file
        {
            return Ok(View {
                metadata_file,
                snapshot_id: view.snapshot_id,
                files: view.files.clone(),
                boundary: view.boundary,
                exported: view.exported.clone(),
            });
        }
        let metadata = iceberg_table::load_metadata(&self.io, &metadata_file)?;
        let iceberg_schema = self.check_schema(&metadata, &metadata_file)?;
        let files = iceberg_table::current_data_files(&self.io, &metadata, &self.manifests)?;
        let mut lake_files = Vec::with_capacity(files.len());
        let mut largest: Option<i64> = None;
        for file in files {
            let stats = self.statistics(&file, iceberg_schema);
            if file.record_count > 0 {
                // The time column's upper bound, in the table's unit (see `statistics`).
                match (stats.max_time, self.config.time_boundary) {
                    (Some(upper), _) => largest = Some(largest.map_or(upper, |l| l.max(upper))),
                    (None, TimeBoundary::Auto) => {
                        return Err(tessera_lakehouse::Error::Metadata {
                            file: file.path.clone(),
                            message: format!(
                                "the data file has no upper bound for `{}`, so the time boundary \
                                 cannot be found; set lakehouse.timeBoundary",
                                self.time_column
                            ),
                        });
                    }
                    (None, TimeBoundary::Fixed(_)) => {}
                }
            }
            lake_files.push(Arc::new(LakeFile { file, stats }));
        }
        let boundary = match self.config.time_boundary {
            TimeBoundary::Fixed(value) => Some(value),
            TimeBoundary::Auto => largest,
        };
        Ok(View {
            metadata_file,
            snapshot_id: metadata.current_snapshot_id,
            files: lake_files,
            boundary,
            exported: Arc::new(crate::lakehouse_export::exported_segments(&metadata)),
        })
    }

    /// The current schema, checked against the table's: each column both have must be of
    /// a type the Tessera column can hold.
    fn check_schema<'a>(
        &self,
        metadata: &'a TableMetadata,
        file: &str,
    ) -> Result<&'a IcebergSchema, tessera_lakehouse::Error> {
        let mismatch = |message: String| tessera_lakehouse::Error::Metadata {
            file: file.to_string(),
            message: format!(
                "the Iceberg schema does not match table `{}`: {message}",
                self.table
            ),
        };
        let schema = metadata
            .schema()
            .ok_or_else(|| mismatch("no current schema".into()))?;
        for field in &self.schema.fields {
            let Some(iceberg) = schema.field(&field.name) else {
                continue;
            };
            if !compatible(field.data_type, field.single_value, &iceberg.ty) {
                return Err(mismatch(format!(
                    "column `{}` is {:?} in Tessera and `{}` in Iceberg",
                    field.name,
                    field.data_type,
                    iceberg.ty.to_json()
                )));
            }
        }
        if schema.field(&self.time_column).is_none() {
            return Err(mismatch(format!(
                "the time column `{}` is missing",
                self.time_column
            )));
        }
        Ok(schema)
    }

    /// A time value of the Iceberg column, in the Tessera time column's unit.
    fn time_value(&self, ty: &IcebergType, datum: &Datum) -> Option<i64> {
        let millis = self
            .schema
            .field(&self.time_column)
            .is_some_and(|f| f.epoch_millis(1) == Some(1));
        match (datum, ty) {
            (Datum::TimestampMicros(micros), _) if millis => Some(micros.div_euclid(1000)),
            (Datum::Integer(days), IcebergType::Date) if millis => Some(days * 86_400_000),
            (Datum::Integer(value), IcebergType::Int | IcebergType::Long) => Some(*value),
            _ => None,
        }
    }

    /// A data file's manifest statistics as segment metadata, for pruning.
    fn statistics(&self, file: &DataFile, iceberg: &IcebergSchema) -> SegmentMetadata {
        let rows = u32::try_from(file.record_count).unwrap_or(u32::MAX);
        let mut columns = Vec::new();
        let (mut min_time, mut max_time) = (None, None);
        for field in &self.schema.fields {
            let Some(source) = iceberg.field(&field.name) else {
                continue;
            };
            let bound = |bounds: &HashMap<i32, Vec<u8>>| {
                let datum = Datum::decode(&source.ty, bounds.get(&source.id)?)?;
                self.stat_json(
                    field.data_type,
                    &source.ty,
                    &datum,
                    field.name == self.time_column,
                )
            };
            // Float bounds leave NaN out: usable only when the file counts no NaN.
            let floating = matches!(source.ty, IcebergType::Float | IcebergType::Double);
            let (min, max) = if floating {
                (Json::Null, Json::Null)
            } else {
                (
                    bound(&file.lower_bounds).unwrap_or(Json::Null),
                    bound(&file.upper_bounds).unwrap_or(Json::Null),
                )
            };
            if field.name == self.time_column {
                min_time = min.as_i64();
                max_time = max.as_i64();
            }
            let nulls = file.null_value_counts.get(&source.id).copied().unwrap_or(0);
            columns.push(ColumnMetadata::from_statistics(
                &field.name,
                field.data_type,
                field.single_value,
                (min, max),
                nulls.max(0) as u64,
            ));
        }
        SegmentMetadata {
            name: file.path.clone(),
            table_name: self.table.clone(),
            format_version: 0,
            row_count: rows,
            creation_time_ms: 0,
            time_column: Some(self.time_column.clone()),
            min_time,
            max_time,
            sorted_column: None,
            stream_partition: None,
            start_offset: None,
            end_offset: None,
            columns,
            sections: Vec::new(),
        }
    }

    /// A bound as the JSON segment statistics use for a column of `data_type`.
    fn stat_json(
        &self,
        data_type: DataType,
        ty: &IcebergType,
        datum: &Datum,
        is_time: bool,
    ) -> Option<Json> {
        if is_time {
            return self.time_value(ty, datum).map(Json::from);
        }
        match (data_type, datum) {
            (DataType::Int | DataType::Long, Datum::Integer(v))
                if !matches!(ty, IcebergType::Date) =>
            {
                Some(Json::from(*v))
            }
            (DataType::Timestamp, Datum::TimestampMicros(micros)) => {
                Some(Json::from(micros.div_euclid(1000)))
            }
            (DataType::Timestamp, Datum::Integer(v)) if matches!(ty, IcebergType::Long) => {
                Some(Json::from(*v))
            }
            (DataType::String, Datum::String(s)) => Some(Json::from(s.clone())),
            _ => None,
        }
    }

    /// The current view, refreshed first when it is older than the refresh interval (a
    /// failed refresh keeps the last good view; with none, the query fails).
    fn view(&self) -> Result<Arc<View>, QueryError> {
        let due = {
            let refreshed = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
            refreshed
                .0
                .is_none_or(|at| at.elapsed() >= self.config.refresh_interval)
        };
        if due {
            // A failure is kept in `refreshed` (and logged): the last good view stays.
            let _ = self.refresh();
        }
        if let Some(view) = self.view.read().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(view);
        }
        let (message, status) = self
            .refreshed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
            .unwrap_or_else(|| ("not loaded yet".into(), tessera_status::Status::Unavailable));
        Err(failure(
            status,
            format!(
                "table `{}`: its lakehouse tier (Iceberg table `{}`) cannot be read: {message}",
                self.table, self.config.table
            ),
        ))
    }

    /// The snapshot a query over `segments` reads, and where it splits between the tiers
    /// (see [`Split`]).
    ///
    /// When the Iceberg table holds exported segments, the boundary is also kept at or
    /// below the earliest time of every segment not exported yet: rows below it are all
    /// in Iceberg (whatever order partitions sealed in), rows at or after it all in
    /// segments, exported ones included.
    pub fn split(
        &self,
        segments: &[Arc<dyn tessera_segment::SegmentReader>],
    ) -> Result<LakehouseQuery, QueryError> {
        let view = self.view()?;
        let split = self.split_of(&view, segments);
        Ok(LakehouseQuery { view, split })
    }

    fn split_of(
        &self,
        view: &View,
        segments: &[Arc<dyn tessera_segment::SegmentReader>],
    ) -> Option<Split> {
        let largest = segments.iter().filter_map(|s| s.metadata().max_time).max();
        if view.exported.is_empty() || self.config.time_boundary != TimeBoundary::Auto {
            return view.boundary.map(|boundary| Split::at(boundary, largest));
        }
        let pending = segments
            .iter()
            .filter(|s| !view.exported.contains(s.name()))
            .filter_map(|s| s.metadata().min_time)
            .min();
        let after_iceberg = view.boundary.map(|b| b.saturating_add(1));
        let boundary = match (after_iceberg, pending) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Rows of exported segments no longer served (dropped, or past retention) are
        // in Iceberg only: the boundary never falls below them. A late row below it
        // waits, unseen, for its segment's export (Pinot's hybrid tables do the same).
        let served: HashSet<&str> = segments.iter().map(|s| s.name()).collect();
        let floor = view
            .files
            .iter()
            .filter_map(|file| {
                let segment = crate::lakehouse_export::segment_of_data_file(&file.file.path)?;
                (view.exported.contains(segment) && !served.contains(segment))
                    .then_some(file.stats.max_time?.saturating_add(1))
            })
            .max();
        let boundary = match (boundary, floor) {
            (Some(b), Some(f)) => Some(b.max(f)),
            (b, f) => b.or(f),
        };
        boundary.map(|boundary| Split {
            boundary,
            segments_hold_boundary: true,
        })
    }

    /// The exported segments among `segments` whose rows all lie below the boundary a
    /// query over `segments` would use: with `dropExported`, they leave the table's
    /// segments and their rows are read from Iceberg.
    pub fn droppable(
        &self,
        segments: &[Arc<dyn tessera_segment::SegmentReader>],
    ) -> Result<Vec<String>, QueryError> {
        if !self.config.drop_exported {
            return Ok(Vec::new());
        }
        let query = self.split(segments)?;
        let Some(split) = query.split else {
            return Ok(Vec::new());
        };
        let below = self.lakehouse_bound(split);
        Ok(segments
            .iter()
            .filter(|s| query.view.exported.contains(s.name()))
            .filter(|s| below.coverage(s.metadata()) == crate::time_bound::Coverage::All)
            .map(|s| s.name().to_string())
            .collect())
    }

    pub(crate) fn io(&self) -> &FileIo {
        &self.io
    }

    pub(crate) fn iceberg_table(&self) -> &str {
        &self.config.table
    }

    pub(crate) fn table_name(&self) -> &str {
        &self.table
    }

    pub(crate) fn export_lock(&self) -> &Mutex<()> {
        &self.exporting
    }

    /// How often sealed segments are exported (`None`: only when asked).
    pub fn export_interval(&self) -> Option<Duration> {
        self.config.export_interval
    }

    /// The Iceberg side of a query: the plan bounded at the split, and the data files
    /// that may match read as segments (each read on first use).
    pub fn scan(
        &self,
        plan: &QueryPlan,
        query: &LakehouseQuery,
    ) -> Result<LakehouseScan, QueryError> {
        let view = &query.view;
        let Some(split) = query.split else {
            return Ok(LakehouseScan {
                bound: None,
                segments: Vec::new(),
            });
        };
        let bound = self.lakehouse_bound(split);
        let bounded = bound.plan(plan);
        let wanted: Vec<&Arc<LakeFile>> = view.files_for(&bounded).collect();
        self.counters
            .files_pruned
            .fetch_add((view.files.len() - wanted.len()) as u64, Ordering::Relaxed);
        self.counters
            .files_scanned
            .fetch_add(wanted.len() as u64, Ordering::Relaxed);
        let per_file = wanted
            .par_iter()
            .with_max_len(1)
            .map(|file| self.segments(&file.file))
            .collect::<Result<Vec<_>, QueryError>>()?;
        let segments = per_file
            .iter()
            .flat_map(|segments| segments.iter())
            .map(|segment| segment.clone() as Arc<dyn tessera_segment::SegmentReader>)
            .collect();
        Ok(LakehouseScan {
            bound: Some(bound),
            segments,
        })
    }

    /// The segments holding a data file's rows, read from the file on first use.
    fn segments(&self, file: &DataFile) -> Result<FileSegments, QueryError> {
        let slot = self
            .reading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(file.path.clone())
            .or_default()
            .clone();
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(segments) = slot.as_ref() {
            return Ok(segments.clone());
        }
        let segments = Arc::new(self.read_file(file).map_err(|error| {
            let status = error.downcast_ref::<tessera_lakehouse::Error>().map_or(
                tessera_status::Status::Corrupt,
                tessera_lakehouse::Error::status,
            );
            failure(
                status,
                format!(
                    "table `{}`: lakehouse data file `{}` cannot be read: {error:#}",
                    self.table, file.path
                ),
            )
        })?);
        *slot = Some(segments.clone());
        Ok(segments)
    }

    /// A data file's segments: those built before (listed in the file's `done`
    /// marker, each checked as it opens), else built now from a downloaded copy.
    fn read_file(&self, file: &DataFile) -> anyhow::Result<Vec<Arc<ImmutableSegment>>> {
        let key = file_key(file);
        let directory = self.directory.join(&key);
        let done = directory.join("done");
        if let Ok(text) = std::fs::read_to_string(&done) {
            let parts: usize = text.trim().parse().unwrap_or(0);
            let opened: Result<Vec<_>, _> = (0..parts)
                .map(|part| {
                    ImmutableSegment::open(&directory.join(format!("part-{part}.tseg")))
                        .map(Arc::new)
                })
                .collect();
            match opened {
                Ok(segments) if parts > 0 => return Ok(segments),
                Ok(_) => {}
                Err(error) => {
                    warn!(file = %file.path, error = %error, "a lakehouse segment is damaged; reading its data file again");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory)?;
        let download = directory.join("data.download.parquet");
        self.io.download(&file.path, &download)?;
        let result = self.build(file, &download, &directory, &key);
        let _ = std::fs::remove_file(&download);
        let segments = result?;
        std::fs::write(&done, segments.len().to_string())?;
        Ok(segments)
    }

    /// Read a downloaded data file into segments of at most [`ROWS_PER_SEGMENT`] rows
    /// (one batch more), built with the table's schema and indexes.
    fn build(
        &self,
        file: &DataFile,
        parquet: &Path,
        directory: &Path,
        key: &str,
    ) -> anyhow::Result<Vec<Arc<ImmutableSegment>>> {
        let bytes = std::fs::metadata(parquet).map(|m| m.len()).unwrap_or(0);
        let mut source = tessera_ingest::open_file(parquet, &self.schema, &ReadOptions::default())?;
        let mut report = RejectReport::default();
        let mut segments = Vec::new();
        let mut rows = 0u64;
        let mut builder: Option<SegmentBuilder> = None;
        let finish =
            |builder: SegmentBuilder, part: usize| -> anyhow::Result<Arc<ImmutableSegment>> {
                let path = directory.join(format!("part-{part}.tseg"));
                let temporary = path.with_extension("building");
                builder.finish(
                    &temporary,
                    &BuildOptions {
                        segment_name: Some(format!("{}__iceberg__{key}__{part}", self.table)),
                        ..BuildOptions::default()
                    },
                )?;
                std::fs::rename(&temporary, &path)?;
                Ok(Arc::new(ImmutableSegment::open(&path)?))
            };
        while let Some(batch) = source.next_batch(&mut report)? {
            let current = match builder.as_mut() {
                Some(current) => current,
                None => builder.insert(SegmentBuilder::new(&self.schema, &self.table_config)?),
            };
            current.add_batch(&batch)?;
            rows += batch.num_rows as u64;
            if current.num_rows() >= ROWS_PER_SEGMENT
                && let Some(full) = builder.take()
            {
                segments.push(finish(full, segments.len())?);
            }
        }
        drop(source);
        if let Some(last) = builder.take() {
            segments.push(finish(last, segments.len())?);
        }
        let rejected = report.rejected_rows;
        if rejected > 0 {
            warn!(table = %self.table, file = %file.path, rejected, "lakehouse rows could not be read as the table's schema and were skipped");
            self.counters
                .rows_rejected
                .fetch_add(rejected, Ordering::Relaxed);
        }
        self.counters.files_read.fetch_add(1, Ordering::Relaxed);
        self.counters.rows_read.fetch_add(rows, Ordering::Relaxed);
        self.counters.bytes_read.fetch_add(bytes, Ordering::Relaxed);
        info!(table = %self.table, file = %file.path, rows, segments = segments.len(), "lakehouse data file read");
        Ok(segments)
    }

    /// The tier's state for `GET /tables/{table}/lakehouse` and the metrics.
    pub fn status(&self) -> Json {
        let view = self.view.read().unwrap_or_else(|e| e.into_inner()).clone();
        let (refreshed, error) = self
            .refreshed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let read = self.reading.lock().unwrap_or_else(|e| e.into_inner()).len();
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "table": self.table,
            "icebergTable": self.config.table,
            "metadataFile": view.as_ref().map(|v| v.metadata_file.clone()),
            "snapshotId": view.as_ref().and_then(|v| v.snapshot_id),
            "timeBoundary": view.as_ref().and_then(|v| v.boundary),
            "timeColumn": self.time_column,
            "dataFiles": view.as_ref().map_or(0, |v| v.files.len()),
            "rows": view.as_ref().map_or(0, |v| v.files.iter().map(|f| f.file.record_count).sum::<i64>()),
            "filesRead": count(&self.counters.files_read),
            "filesTouched": read,
            "filesScanned": count(&self.counters.files_scanned),
            "filesPruned": count(&self.counters.files_pruned),
            "rowsRead": count(&self.counters.rows_read),
            "rowsRejected": count(&self.counters.rows_rejected),
            "bytesRead": count(&self.counters.bytes_read),
            "refreshes": count(&self.counters.refreshes),
            "refreshErrors": count(&self.counters.refresh_errors),
            "secondsSinceRefresh": refreshed.map(|at| at.elapsed().as_secs_f64()),
            "lastError": error.map(|(message, _)| message),
        })
    }

    /// Counters for Prometheus: (name, help, value).
    pub fn metrics(&self) -> Vec<(&'static str, &'static str, u64)> {
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            (
                "tessera_lakehouse_files_read_total",
                "Iceberg data files read into segments",
                count(&self.counters.files_read),
            ),
            (
                "tessera_lakehouse_files_scanned_total",
                "Iceberg data files queries read (after pruning)",
                count(&self.counters.files_scanned),
            ),
            (
                "tessera_lakehouse_files_pruned_total",
                "Iceberg data files queries skipped by manifest statistics",
                count(&self.counters.files_pruned),
            ),
            (
                "tessera_lakehouse_rows_rejected_total",
                "Iceberg rows that did not fit the table schema",
                count(&self.counters.rows_rejected),
            ),
            (
                "tessera_lakehouse_refresh_errors_total",
                "Iceberg snapshot lookups that failed",
                count(&self.counters.refresh_errors),
            ),
        ]
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn time_column(&self) -> &str {
        &self.time_column
    }

    /// The bound the Iceberg side of `split` runs.
    pub fn lakehouse_bound(&self, split: Split) -> TimeBound {
        TimeBound::new(
            &self.schema,
            &self.time_column,
            split.lakehouse_op(),
            split.boundary,
        )
    }

    /// The bound the segment side of `split` runs.
    pub fn segments_bound(&self, split: Split) -> TimeBound {
        TimeBound::new(
            &self.schema,
            &self.time_column,
            split.segments_op(),
            split.boundary,
        )
    }

    /// The EXPLAIN line of the Iceberg side: the boundary and the files the query reads.
    pub fn describe(&self, plan: &QueryPlan, query: &LakehouseQuery) -> String {
        let view = &query.view;
        let Some(split) = query.split else {
            return format!(
                "LAKEHOUSE(iceberg={}, empty snapshot: segments serve every row)",
                self.config.table
            );
        };
        let bound = self.lakehouse_bound(split);
        let read = view.files_for(&bound.plan(plan)).count();
        format!(
            "LAKEHOUSE(iceberg={}, snapshot={}, boundary={}{}{}, files={read} of {})",
            self.config.table,
            view.snapshot_id.unwrap_or(-1),
            self.time_column,
            bound.op.symbol(),
            split.boundary,
            view.files.len()
        )
    }

    /// How often the snapshot is looked up.
    pub fn refresh_interval(&self) -> Duration {
        self.config.refresh_interval
    }
}

/// A stable local name for a data file: its path's hash and size, and its file name.
fn file_key(file: &DataFile) -> String {
    let name = file.path.rsplit('/').next().unwrap_or_default();
    let stem: String = name
        .trim_end_matches(".parquet")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(48)
        .collect();
    format!(
        "{:08x}-{}-{stem}",
        crc32fast_hash(file.path.as_bytes()),
        file.file_size
    )
}

fn crc32fast_hash(bytes: &[u8]) -> u32 {
    tessera_storage::file_crc32(bytes)
}

/// Whether an Iceberg column of type `ty` can fill a Tessera column.
fn compatible(data_type: DataType, single_value: bool, ty: &IcebergType) -> bool {
    use IcebergType as I;
    if !single_value {
        return matches!(ty, I::Nested(json) if json.get("type").and_then(Json::as_str) == Some("list"));
    }
    match data_type {
        DataType::Int => matches!(ty, I::Int),
        DataType::Long => matches!(ty, I::Int | I::Long),
        DataType::Float | DataType::Double => {
            matches!(
                ty,
                I::Int | I::Long | I::Float | I::Double | I::Decimal { .. }
            )
        }
        DataType::Boolean => matches!(ty, I::Boolean),
        DataType::Timestamp => matches!(
            ty,
            I::Timestamp | I::TimestampTz | I::TimestampNs | I::TimestampTzNs | I::Long | I::Date
        ),
        DataType::String | DataType::Json => matches!(ty, I::String | I::Uuid),
        DataType::Bytes => matches!(ty, I::Binary | I::Fixed(_) | I::Uuid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_instant_goes_to_segments_once_they_reach_it() {
        let split = Split::at(100, Some(100));
        assert_eq!(
            (split.lakehouse_op(), split.segments_op()),
            (CmpOp::Lt, CmpOp::GtEq)
        );
        let split = Split::at(100, Some(99));
        assert_eq!(
            (split.lakehouse_op(), split.segments_op()),
            (CmpOp::LtEq, CmpOp::Gt)
        );
        assert!(!Split::at(100, None).segments_hold_boundary);
    }

    #[test]
    fn types_map_onto_the_columns_that_can_hold_them() {
        assert!(compatible(
            DataType::Timestamp,
            true,
            &IcebergType::Timestamp
        ));
        assert!(compatible(DataType::Long, true, &IcebergType::Int));
        assert!(!compatible(DataType::Int, true, &IcebergType::Long));
        assert!(!compatible(DataType::String, true, &IcebergType::Long));
        assert!(compatible(DataType::Double, true, &IcebergType::Float));
        assert!(!compatible(DataType::Long, false, &IcebergType::Long));
    }

    #[test]
    fn keys_differ_by_path_and_size() {
        let file = |path: &str, size| DataFile {
            path: path.into(),
            format: "PARQUET".into(),
            content: tessera_lakehouse::manifest::Content::Data,
            partition_spec_id: 0,
            partition: Vec::new(),
            record_count: 1,
            file_size: size,
            value_counts: HashMap::new(),
            null_value_counts: HashMap::new(),
            lower_bounds: HashMap::new(),
            upper_bounds: HashMap::new(),
        };
        let a = file_key(&file("s3://b/t/data/day=1/00000-0-abc.parquet", 10));
        assert!(a.ends_with("-10-00000-0-abc"), "{a}");
        assert_ne!(
            a,
            file_key(&file("s3://b/t/data/day=2/00000-0-abc.parquet", 10))
        );
        assert_ne!(
            a,
            file_key(&file("s3://b/t/data/day=1/00000-0-abc.parquet", 11))
        );
    }
}
