//! Parquet files, read through arrow-rs with a projection of only the schema's columns
//! and converted column-wise (see [`crate::arrow_column`]). Column types are checked
//! against the schema when the file is opened, before any data is decoded.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::ProjectionMask;
use std::sync::Arc;

use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::basic::Type as PhysicalType;
use tessera_config::Schema;
use tessera_segment::{ColumnBatch, ColumnValues};

use crate::arrow_column::{CellReject, ConvertError, FieldPlan, convert_column, null_column};
use crate::column_ops::retain_rows;
use crate::error::{Error, Result};
use crate::reject::{RejectReport, RejectedValue};
use crate::source::{
    BatchSource, ReadOptions, field_coercers, handle_reject, warn_ignored_columns,
};

pub(crate) struct ParquetSource {
    path: PathBuf,
    file_label: String,
    schema: Schema,
    options: ReadOptions,
    reader: ParquetRecordBatchReader,
    plans: Vec<FieldPlan>,
    /// Per schema field, its column in the projected record batches; `None` when the
    /// file lacks it (the column is all NULL).
    batch_column: Vec<Option<usize>>,
    /// Rows decoded so far, rejected ones included: the base of 1-based row numbers.
    rows_read: u64,
    total_rows: u64,
    total_bytes: u64,
}

/// The file's Arrow schema with its top-level decimals stored as INT32 or INT64 read as
/// Decimal32 / Decimal64 rather than the default Decimal128, so that a decimal column is
/// not widened to 16 bytes a value before conversion; `None` when no column changes.
fn narrow_decimals(metadata: &ArrowReaderMetadata) -> Option<SchemaRef> {
    let schema = metadata.schema();
    let physical_of = |name: &str| {
        metadata
            .parquet_schema()
            .columns()
            .iter()
            .find(|column| column.path().parts() == [name])
            .map(|column| column.physical_type())
    };
    let mut changed = false;
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|field| {
            let narrow = match (field.data_type(), physical_of(field.name())) {
                (ArrowType::Decimal128(precision, scale), Some(PhysicalType::INT32)) => {
                    Some(ArrowType::Decimal32(*precision, *scale))
                }
                (ArrowType::Decimal128(precision, scale), Some(PhysicalType::INT64)) => {
                    Some(ArrowType::Decimal64(*precision, *scale))
                }
                _ => None,
            };
            match narrow {
                Some(data_type) => {
                    changed = true;
                    Arc::new(field.as_ref().clone().with_data_type(data_type))
                }
                None => field.clone(),
            }
        })
        .collect();
    changed.then(|| {
        Arc::new(ArrowSchema::new_with_metadata(
            fields,
            schema.metadata().clone(),
        ))
    })
}

/// A Parquet file checked against the schema (footer read, column types convertible),
/// ready to read whole or a run of its row groups at a time.
pub(crate) struct ParquetFile {
    path: PathBuf,
    schema: Schema,
    options: ReadOptions,
    metadata: ArrowReaderMetadata,
    /// The schema's columns in the file, as root column indexes.
    projection_roots: Vec<usize>,
    plans: Vec<FieldPlan>,
    batch_column: Vec<Option<usize>>,
    total_bytes: u64,
}

impl ParquetFile {
    pub(crate) fn open(path: &Path, schema: &Schema, options: &ReadOptions) -> Result<ParquetFile> {
        let io_error = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let parquet_error = |source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let total_bytes = file.metadata().map_err(io_error)?.len();
        let metadata =
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(parquet_error)?;
        let metadata = match narrow_decimals(&metadata) {
            Some(hinted) => ArrowReaderMetadata::try_new(
                metadata.metadata().clone(),
                ArrowReaderOptions::new().with_schema(hinted),
            )
            .map_err(parquet_error)?,
            None => metadata,
        };
        let file_schema = metadata.schema().clone();
        let coercers = field_coercers(schema, path)?;
        let plans: Vec<FieldPlan> = coercers.iter().map(FieldPlan::new).collect();
        let file_position: Vec<Option<usize>> = schema
            .fields
            .iter()
            .map(|field| {
                file_schema
                    .fields()
                    .iter()
                    .position(|column| column.name() == &field.name)
            })
            .collect();
        for ((field, plan), position) in schema.fields.iter().zip(&plans).zip(&file_position) {
            let Some(position) = *position else { continue };
            let arrow_type = file_schema.field(position).data_type();
            let empty = arrow_array::new_empty_array(arrow_type);
            if convert_column(empty.as_ref(), plan).is_err() {
                let shape = if field.single_value {
                    ""
                } else {
                    "multi-value "
                };
                return Err(Error::Schema {
                    path: path.to_path_buf(),
                    message: format!(
                        "parquet column type cannot be converted to the schema type \
                         column=`{}` parquet_type=`{arrow_type}` schema_type=`{shape}{}`",
                        field.name, field.data_type
                    ),
                });
            }
        }
        let ignored: Vec<String> = file_schema
            .fields()
            .iter()
            .filter(|column| schema.field(column.name()).is_none())
            .map(|column| column.name().clone())
            .collect();
        warn_ignored_columns(path, &ignored);

        let mut roots: Vec<usize> = file_position.iter().flatten().copied().collect();
        roots.sort_unstable();
        roots.dedup();
        // Projected batches hold the selected root columns in file order.
        let batch_column = file_position
            .iter()
            .map(|position| position.and_then(|position| roots.binary_search(&position).ok()))
            .collect();
        Ok(ParquetFile {
            path: path.to_path_buf(),
            schema: schema.clone(),
            options: options.clone(),
            metadata,
            projection_roots: roots,
            plans,
            batch_column,
            total_bytes,
        })
    }

    /// Rows in each row group, in file order.
    pub(crate) fn row_group_rows(&self) -> Vec<u64> {
        self.metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|group| u64::try_from(group.num_rows()).unwrap_or(0))
            .collect()
    }

    /// A reader of the whole file (`None`), or of `row_groups` whose first row is row
    /// `first_row` of the file (0-based; rejected rows are numbered from it).
    pub(crate) fn source(&self, row_groups: Option<(Vec<usize>, u64)>) -> Result<ParquetSource> {
        let parquet_error = |source| Error::Parquet {
            path: self.path.clone(),
            source,
        };
        let file = File::open(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        let builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone());
        let total_rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let projection = ProjectionMask::roots(
            builder.parquet_schema(),
            self.projection_roots.iter().copied(),
        );
        let builder = builder
            .with_projection(projection)
            .with_batch_size(self.options.rows_per_batch());
        let (builder, rows_read) = match row_groups {
            Some((groups, first_row)) => (builder.with_row_groups(groups), first_row),
            None => (builder, 0),
        };
        let reader = builder.build().map_err(parquet_error)?;
        Ok(ParquetSource {
            path: self.path.clone(),
            file_label: self.path.display().to_string(),
            schema: self.schema.clone(),
            options: self.options.clone(),
            reader,
            plans: self.plans.clone(),
            batch_column: self.batch_column.clone(),
            rows_read,
            total_rows,
            total_bytes: self.total_bytes,
        })
    }
}

impl ParquetSource {
    pub(crate) fn open(
        path: &Path,
        schema: &Schema,
        options: &ReadOptions,
    ) -> Result<ParquetSource> {
        ParquetFile::open(path, schema, options)?.source(None)
    }

    fn convert_error(&self, field_index: usize, error: ConvertError) -> Error {
        let column = &self.schema.fields[field_index].name;
        match error {
            ConvertError::Unsupported => Error::Schema {
                path: self.path.clone(),
                message: format!("parquet column changed type within the file column=`{column}`"),
            },
            ConvertError::TooLarge => Error::Batch {
                path: self.path.clone(),
                source: tessera_segment::Error::InvalidInput(format!(
                    "a batch holds more than 4 GiB of bytes in one column; use smaller batches \
                     column=`{column}`"
                )),
            },
        }
    }

    /// Converts one record batch; rejected rows are recorded and dropped.
    fn convert_batch(
        &mut self,
        batch: &arrow_array::RecordBatch,
        report: &mut RejectReport,
    ) -> Result<ColumnBatch> {
        let num_rows = batch.num_rows();
        let first_row = self.rows_read;
        self.rows_read += num_rows as u64;
        let mut columns = Vec::with_capacity(self.plans.len());
        let mut rejects: Vec<(usize, CellReject)> = Vec::new();
        for (field_index, (plan, column)) in self.plans.iter().zip(&self.batch_column).enumerate() {
            let converted = match column {
                Some(column) => convert_column(batch.column(*column).as_ref(), plan),
                None => null_column(num_rows, plan),
            }
            .map_err(|error| self.convert_error(field_index, error))?;
            rejects.extend(
                converted
                    .rejects
                    .into_iter()
                    .map(|reject| (field_index, reject)),
            );
            columns.push(ColumnValues {
                nulls: converted.nulls,
                data: converted.data,
            });
        }
        let mut column_batch = ColumnBatch { num_rows, columns };
        if rejects.is_empty() {
            return Ok(column_batch);
        }
        // One record per row: its first bad value in schema order.
        rejects.sort_by_key(|(field_index, reject)| (reject.index, *field_index));
        rejects.dedup_by_key(|(_, reject)| reject.index);
        let mut keep = vec![true; num_rows];
        for (field_index, reject) in rejects {
            keep[reject.index] = false;
            let rejected = RejectedValue::new(
                &self.file_label,
                first_row + reject.index as u64 + 1,
                &self.schema.fields[field_index].name,
                &reject.value,
                reject.reason,
            );
            handle_reject(self.options.strict, report, rejected)?;
        }
        for (field_index, column) in column_batch.columns.iter_mut().enumerate() {
            retain_rows(column, &keep)
                .map_err(|_| self.convert_error(field_index, ConvertError::TooLarge))?;
        }
        column_batch.num_rows = keep.iter().filter(|kept| **kept).count();
        Ok(column_batch)
    }
}

impl BatchSource for ParquetSource {
    fn next_batch(&mut self, report: &mut RejectReport) -> Result<Option<ColumnBatch>> {
        loop {
            let Some(batch) = self.reader.next() else {
                return Ok(None);
            };
            let batch = batch.map_err(|source| Error::Arrow {
                path: self.path.clone(),
                source,
            })?;
            let column_batch = self.convert_batch(&batch, report)?;
            if column_batch.num_rows > 0 {
                return Ok(Some(column_batch));
            }
        }
    }

    fn progress(&self) -> (u64, u64) {
        if self.total_rows == 0 {
            return (self.total_bytes, self.total_bytes);
        }
        let consumed = u128::from(self.total_bytes)
            * u128::from(self.rows_read.min(self.total_rows))
            / u128::from(self.total_rows);
        (
            u64::try_from(consumed).unwrap_or(self.total_bytes),
            self.total_bytes,
        )
    }
}
