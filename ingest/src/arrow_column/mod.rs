//! Arrow arrays → [`ColumnData`], column by column with typed downcasts. This is the
//! Parquet hot path: values are read from primitive slices and written straight into
//! the output vectors; no per-value [`tessera_segment::Value`] is built.
//!
//! A converted column keeps one output row per input row, rejected rows included (with
//! a placeholder); the caller drops rejected rows from every column of the batch at once.

mod nested;
mod targets;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, OffsetSizeTrait};
use arrow_buffer::ArrowNativeType;
use arrow_schema::{DataType as ArrowType, TimeUnit};
use tessera_config::DataType;
use tessera_segment::{ColumnData, Value, VarBytes};

use crate::coerce::{Coerced, FieldCoercer, Reject, TimestampInput, reason};
use crate::column_ops::{ScalarFill, TooLarge, end_value};
use nested::{all_null, convert_list, gather, wrap_scalars};
use targets::{
    BoolTarget, DoubleTarget, Family, FloatTarget, IntTarget, JsonTarget, LongTarget,
    RawBytesTarget, StringTarget, Target, TimestampTarget,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConvertError {
    /// The Arrow type cannot become the field's type at all (a struct into LONG).
    Unsupported,
    TooLarge,
}

impl From<TooLarge> for ConvertError {
    fn from(_: TooLarge) -> Self {
        ConvertError::TooLarge
    }
}

/// A value that could not be converted, by its row (cell index) in the array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CellReject {
    pub(crate) index: usize,
    pub(crate) reason: &'static str,
    pub(crate) value: String,
}

/// One converted column: a cell per input row, NULL flags, and rejected cells in order.
#[derive(Debug)]
pub(crate) struct Converted {
    pub(crate) data: ColumnData,
    pub(crate) nulls: Option<Vec<bool>>,
    pub(crate) rejects: Vec<CellReject>,
}

/// What a NULL input becomes.
#[derive(Debug, Clone, Copy)]
enum NullMode<'a> {
    /// A NULL row: flag plus placeholder.
    Flag,
    /// The `notNull` field's replacement value.
    Fill(&'a ScalarFill),
    /// A reject (a NULL element inside a multi-value cell).
    Reject,
}

/// How one schema field is converted, prepared once per file.
#[derive(Debug, Clone)]
pub(crate) struct FieldPlan {
    data_type: DataType,
    single_value: bool,
    timestamp: TimestampInput,
    /// The scalar replacement for NULL in a `notNull` field.
    fill: Option<ScalarFill>,
}

impl FieldPlan {
    pub(crate) fn new(coercer: &FieldCoercer) -> FieldPlan {
        let fill = match coercer.null_value() {
            Value::Array(items) => items.first().and_then(ScalarFill::of),
            scalar => ScalarFill::of(scalar),
        };
        FieldPlan {
            data_type: coercer.data_type(),
            single_value: coercer.single_value(),
            timestamp: coercer.timestamp_input().clone(),
            fill,
        }
    }
}

/// Converts one Arrow column to the field's column. Works on an empty array too, which
/// is how a file's column types are checked before any data is read.
pub(crate) fn convert_column(
    array: &dyn Array,
    plan: &FieldPlan,
) -> Result<Converted, ConvertError> {
    let null_mode = plan.fill.as_ref().map_or(NullMode::Flag, NullMode::Fill);
    let is_list = matches!(
        array.data_type(),
        ArrowType::List(_) | ArrowType::LargeList(_)
    );
    if plan.single_value {
        if is_list {
            return Err(ConvertError::Unsupported);
        }
        return convert_scalar(array, plan, null_mode);
    }
    if let Some(list) = array.as_list_opt::<i32>() {
        return convert_list(list, plan, null_mode);
    }
    if let Some(list) = array.as_list_opt::<i64>() {
        return convert_list(list, plan, null_mode);
    }
    wrap_scalars(
        array.len(),
        convert_scalar(array, plan, NullMode::Flag)?,
        null_mode,
    )
}

/// A column of `rows` NULLs (a schema column missing from the file).
pub(crate) fn null_column(rows: usize, plan: &FieldPlan) -> Result<Converted, ConvertError> {
    convert_column(
        arrow_array::new_null_array(&ArrowType::Null, rows).as_ref(),
        plan,
    )
}

fn convert_scalar(
    array: &dyn Array,
    plan: &FieldPlan,
    mode: NullMode<'_>,
) -> Result<Converted, ConvertError> {
    if *array.data_type() == ArrowType::Null {
        return all_null(array.len(), plan, mode);
    }
    if let Some(dictionary) = array.as_any_dictionary_opt() {
        let values = convert_scalar(dictionary.values().as_ref(), plan, NullMode::Flag)?;
        let keys = if dictionary.values().is_empty() {
            vec![0; array.len()]
        } else {
            dictionary.normalized_keys()
        };
        return gather(array, &keys, &values, mode);
    }
    match plan.data_type {
        DataType::Int => fixed_column(array, &IntTarget, mode, ColumnData::I32),
        DataType::Boolean => fixed_column(array, &BoolTarget, mode, ColumnData::I32),
        DataType::Long => fixed_column(array, &LongTarget, mode, ColumnData::I64),
        DataType::Timestamp => fixed_column(
            array,
            &TimestampTarget(&plan.timestamp),
            mode,
            ColumnData::I64,
        ),
        DataType::Float => fixed_column(array, &FloatTarget, mode, ColumnData::F32),
        DataType::Double => fixed_column(array, &DoubleTarget, mode, ColumnData::F64),
        DataType::String => bytes_column(array, &StringTarget, mode),
        DataType::Json => bytes_column(array, &JsonTarget, mode),
        DataType::Bytes => bytes_column(array, &RawBytesTarget, mode),
    }
}

fn family_of(data_type: &ArrowType) -> Option<Family> {
    use ArrowType::*;
    Some(match data_type {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Family::Integer,
        Float32 | Float64 => Family::Float,
        Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => Family::Decimal,
        Boolean => Family::Boolean,
        Utf8 | LargeUtf8 | Utf8View => Family::Text,
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => Family::Binary,
        Date32 => Family::Days,
        Date64 | Timestamp(..) => Family::Instant,
        _ => return None,
    })
}

/// Epoch milliseconds of a timestamp in `unit`, rounding toward −∞.
fn timestamp_millis(value: i64, unit: TimeUnit) -> Coerced<i64> {
    match unit {
        TimeUnit::Second => value
            .checked_mul(1000)
            .ok_or(Reject(reason::OUT_OF_RANGE_TIMESTAMP)),
        TimeUnit::Millisecond => Ok(value),
        TimeUnit::Microsecond => Ok(value.div_euclid(1000)),
        TimeUnit::Nanosecond => Ok(value.div_euclid(1_000_000)),
    }
}

/// NULL flags and rejects collected while converting one array.
struct Cells<'a> {
    rejects: Vec<CellReject>,
    nulls: Option<Vec<bool>>,
    mode: NullMode<'a>,
}

impl<'a> Cells<'a> {
    fn new(array: &dyn Array, mode: NullMode<'a>) -> Cells<'a> {
        let has_nulls = array.null_count() > 0;
        let nulls = (has_nulls && matches!(mode, NullMode::Flag))
            .then(|| (0..array.len()).map(|row| array.is_null(row)).collect());
        Cells {
            rejects: Vec::new(),
            nulls,
            mode,
        }
    }

    fn reject(&mut self, index: usize, Reject(reason): Reject, value: String) {
        self.rejects.push(CellReject {
            index,
            reason,
            value,
        });
    }

    /// Records what a NULL input at `index` means beyond its stored placeholder or fill.
    fn null_at(&mut self, index: usize) {
        if let NullMode::Reject = self.mode {
            self.reject(index, Reject(reason::NULL_ELEMENT), "null".to_string());
        }
    }
}

/// Where converted values go: a typed vector or a byte buffer.
trait Runner<T: Target> {
    /// Converts every row of `array` with `convert` (NULL rows excepted); `render` gives
    /// the text of a rejected input value.
    fn run(
        &mut self,
        array: &dyn Array,
        convert: impl Fn(usize, &mut T::Buf) -> Coerced<T::Out>,
        render: impl Fn(usize) -> String,
    ) -> Result<(), TooLarge>;
}

struct FixedRunner<'a, O> {
    values: Vec<O>,
    cells: Cells<'a>,
    fill: Option<O>,
}

impl<T: Target<Buf = ()>> Runner<T> for FixedRunner<'_, T::Out> {
    fn run(
        &mut self,
        array: &dyn Array,
        convert: impl Fn(usize, &mut ()) -> Coerced<T::Out>,
        render: impl Fn(usize) -> String,
    ) -> Result<(), TooLarge> {
        let validity = array.nulls().filter(|nulls| nulls.null_count() > 0);
        self.values.reserve(array.len());
        for index in 0..array.len() {
            if validity.is_some_and(|nulls| nulls.is_null(index)) {
                self.values.push(self.fill.unwrap_or_default());
                self.cells.null_at(index);
                continue;
            }
            match convert(index, &mut ()) {
                Ok(value) => self.values.push(value),
                Err(reject) => {
                    self.values.push(T::Out::default());
                    self.cells.reject(index, reject, render(index));
                }
            }
        }
        Ok(())
    }
}

struct BytesRunner<'a> {
    out: VarBytes,
    cells: Cells<'a>,
    fill: &'a [u8],
}

impl<T: Target<Buf = Vec<u8>, Out = ()>> Runner<T> for BytesRunner<'_> {
    fn run(
        &mut self,
        array: &dyn Array,
        convert: impl Fn(usize, &mut Vec<u8>) -> Coerced<()>,
        render: impl Fn(usize) -> String,
    ) -> Result<(), TooLarge> {
        let validity = array.nulls().filter(|nulls| nulls.null_count() > 0);
        self.out.offsets.reserve(array.len());
        for index in 0..array.len() {
            let start = self.out.data.len();
            if validity.is_some_and(|nulls| nulls.is_null(index)) {
                self.out.data.extend_from_slice(self.fill);
                self.cells.null_at(index);
            } else if let Err(reject) = convert(index, &mut self.out.data) {
                self.out.data.truncate(start);
                self.cells.reject(index, reject, render(index));
            }
            end_value(&mut self.out)?;
        }
        Ok(())
    }
}

trait FillOf: Sized {
    fn fill_of(fill: &ScalarFill) -> Option<Self>;
}

macro_rules! fill_of {
    ($native:ty, $variant:ident) => {
        impl FillOf for $native {
            fn fill_of(fill: &ScalarFill) -> Option<$native> {
                match fill {
                    ScalarFill::$variant(value) => Some(*value),
                    _ => None,
                }
            }
        }
    };
}
fill_of!(i32, I32);
fill_of!(i64, I64);
fill_of!(f32, F32);
fill_of!(f64, F64);

fn fixed_column<T: Target<Buf = ()>>(
    array: &dyn Array,
    target: &T,
    mode: NullMode<'_>,
    wrap: fn(Vec<T::Out>) -> ColumnData,
) -> Result<Converted, ConvertError>
where
    T::Out: FillOf,
{
    let fill = match mode {
        NullMode::Fill(fill) => T::Out::fill_of(fill),
        _ => None,
    };
    let mut runner = FixedRunner {
        values: Vec::new(),
        cells: Cells::new(array, mode),
        fill,
    };
    convert_values(array, target, &mut runner)?;
    Ok(Converted {
        data: wrap(runner.values),
        nulls: runner.cells.nulls,
        rejects: runner.cells.rejects,
    })
}

fn bytes_column<T: Target<Buf = Vec<u8>, Out = ()>>(
    array: &dyn Array,
    target: &T,
    mode: NullMode<'_>,
) -> Result<Converted, ConvertError> {
    if T::COPIES_UTF8
        && array.null_count() == 0
        && let Some(copied) = copy_utf8(array)?
    {
        return Ok(Converted {
            data: ColumnData::Bytes(copied),
            nulls: None,
            rejects: Vec::new(),
        });
    }
    let fill: &[u8] = match mode {
        NullMode::Fill(ScalarFill::Bytes(fill)) => fill,
        _ => &[],
    };
    let mut runner = BytesRunner {
        out: VarBytes::default(),
        cells: Cells::new(array, mode),
        fill,
    };
    convert_values(array, target, &mut runner)?;
    Ok(Converted {
        data: ColumnData::Bytes(runner.out),
        nulls: runner.cells.nulls,
        rejects: runner.cells.rejects,
    })
}

/// The one place that knows every supported Arrow type: downcasts `array` and feeds each
/// value to `target` through `runner`.
fn convert_values<T: Target, R: Runner<T>>(
    array: &dyn Array,
    target: &T,
    runner: &mut R,
) -> Result<(), ConvertError> {
    let family = family_of(array.data_type()).ok_or(ConvertError::Unsupported)?;
    if !target.accepts(family) {
        return Err(ConvertError::Unsupported);
    }
    macro_rules! run_primitive {
        ($arrow_type:ty, |$value:ident, $buf:ident| $convert:expr, $render:expr) => {{
            let values = primitive_values::<$arrow_type>(array)?;
            runner.run(
                array,
                |index, $buf| {
                    let $value = values[index];
                    $convert
                },
                |index| $render(values[index]),
            )?
        }};
    }
    macro_rules! run_integers {
        ($arrow_type:ty) => {
            run_primitive!(
                $arrow_type,
                |value, buf| match value.to_i64() {
                    Some(integer) => target.integer(integer, buf),
                    None => Err(Reject(T::OUT_OF_RANGE)),
                },
                |value: <$arrow_type as ArrowPrimitiveType>::Native| value.to_string()
            )
        };
    }
    macro_rules! run_timestamps {
        ($arrow_type:ty, $unit:expr) => {
            run_primitive!(
                $arrow_type,
                |value, buf| timestamp_millis(value, $unit)
                    .and_then(|millis| target.millis(millis, buf)),
                |value: i64| value.to_string()
            )
        };
    }
    match array.data_type() {
        ArrowType::Int8 => run_integers!(Int8Type),
        ArrowType::Int16 => run_integers!(Int16Type),
        ArrowType::Int32 => run_integers!(Int32Type),
        ArrowType::Int64 => run_integers!(Int64Type),
        ArrowType::UInt8 => run_integers!(UInt8Type),
        ArrowType::UInt16 => run_integers!(UInt16Type),
        ArrowType::UInt32 => run_integers!(UInt32Type),
        ArrowType::UInt64 => run_integers!(UInt64Type),
        ArrowType::Float32 => run_primitive!(
            Float32Type,
            |value, buf| target.float(f64::from(value), buf),
            |value: f32| value.to_string()
        ),
        ArrowType::Float64 => run_primitive!(
            Float64Type,
            |value, buf| target.float(value, buf),
            |value: f64| value.to_string()
        ),
        // Parquet decimals stored as INT32 / INT64 are read as these (see
        // `parquet_source::narrow_decimals`), so no i128 array is built for them.
        ArrowType::Decimal32(_, scale) => {
            let scale = *scale;
            run_primitive!(
                Decimal32Type,
                |value, buf| target.decimal(i128::from(value), scale, buf),
                |value: i32| targets::decimal_text(i128::from(value), scale)
            )
        }
        ArrowType::Decimal64(_, scale) => {
            let scale = *scale;
            run_primitive!(
                Decimal64Type,
                |value, buf| target.decimal(i128::from(value), scale, buf),
                |value: i64| targets::decimal_text(i128::from(value), scale)
            )
        }
        ArrowType::Decimal128(_, scale) => {
            let scale = *scale;
            run_primitive!(
                Decimal128Type,
                |value, buf| target.decimal(value, scale, buf),
                |value: i128| targets::decimal_text(value, scale)
            )
        }
        ArrowType::Decimal256(_, scale) => {
            let scale = *scale;
            run_primitive!(
                Decimal256Type,
                |value, buf| match value.to_i128() {
                    Some(value) => target.decimal(value, scale, buf),
                    None => Err(Reject(T::OUT_OF_RANGE)),
                },
                |value: arrow_buffer::i256| value.to_string()
            )
        }
        ArrowType::Date32 => run_primitive!(
            Date32Type,
            |value, buf| target.days(value, buf),
            targets::days_text
        ),
        ArrowType::Date64 => run_primitive!(
            Date64Type,
            |value, buf| target.millis(value, buf),
            |value: i64| value.to_string()
        ),
        ArrowType::Timestamp(TimeUnit::Second, _) => {
            run_timestamps!(TimestampSecondType, TimeUnit::Second)
        }
        ArrowType::Timestamp(TimeUnit::Millisecond, _) => {
            run_timestamps!(TimestampMillisecondType, TimeUnit::Millisecond)
        }
        ArrowType::Timestamp(TimeUnit::Microsecond, _) => {
            run_timestamps!(TimestampMicrosecondType, TimeUnit::Microsecond)
        }
        ArrowType::Timestamp(TimeUnit::Nanosecond, _) => {
            run_timestamps!(TimestampNanosecondType, TimeUnit::Nanosecond)
        }
        ArrowType::Boolean => {
            let booleans = array.as_boolean_opt().ok_or(ConvertError::Unsupported)?;
            runner.run(
                array,
                |index, buf| target.boolean(booleans.value(index), buf),
                |index| booleans.value(index).to_string(),
            )?;
        }
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => {
            let text = TextValues::of(array).ok_or(ConvertError::Unsupported)?;
            runner.run(
                array,
                |index, buf| target.text(text.value(index), buf),
                |index| text.value(index).to_string(),
            )?;
        }
        ArrowType::Binary
        | ArrowType::LargeBinary
        | ArrowType::BinaryView
        | ArrowType::FixedSizeBinary(_) => {
            let binary = BinaryValues::of(array).ok_or(ConvertError::Unsupported)?;
            runner.run(
                array,
                |index, buf| target.binary(binary.value(index), buf),
                |index| tessera_segment::value::hex(binary.value(index)),
            )?;
        }
        _ => return Err(ConvertError::Unsupported),
    }
    Ok(())
}

fn primitive_values<T: ArrowPrimitiveType>(
    array: &dyn Array,
) -> Result<&[T::Native], ConvertError> {
    array
        .as_primitive_opt::<T>()
        .map(|primitive| primitive.values().as_ref())
        .ok_or(ConvertError::Unsupported)
}

/// Uniform access to the three Arrow string layouts.
enum TextValues<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl<'a> TextValues<'a> {
    fn of(array: &'a dyn Array) -> Option<TextValues<'a>> {
        if let Some(strings) = array.as_string_opt::<i32>() {
            return Some(TextValues::Utf8(strings));
        }
        if let Some(strings) = array.as_string_opt::<i64>() {
            return Some(TextValues::LargeUtf8(strings));
        }
        array.as_string_view_opt().map(TextValues::View)
    }

    fn value(&self, index: usize) -> &'a str {
        match self {
            TextValues::Utf8(strings) => strings.value(index),
            TextValues::LargeUtf8(strings) => strings.value(index),
            TextValues::View(strings) => strings.value(index),
        }
    }
}

/// Uniform access to the Arrow binary layouts.
enum BinaryValues<'a> {
    Binary(&'a arrow_array::BinaryArray),
    LargeBinary(&'a arrow_array::LargeBinaryArray),
    View(&'a arrow_array::BinaryViewArray),
    Fixed(&'a arrow_array::FixedSizeBinaryArray),
}

impl<'a> BinaryValues<'a> {
    fn of(array: &'a dyn Array) -> Option<BinaryValues<'a>> {
        if let Some(binary) = array.as_binary_opt::<i32>() {
            return Some(BinaryValues::Binary(binary));
        }
        if let Some(binary) = array.as_binary_opt::<i64>() {
            return Some(BinaryValues::LargeBinary(binary));
        }
        if let Some(binary) = array.as_binary_view_opt() {
            return Some(BinaryValues::View(binary));
        }
        array.as_fixed_size_binary_opt().map(BinaryValues::Fixed)
    }

    fn value(&self, index: usize) -> &'a [u8] {
        match self {
            BinaryValues::Binary(binary) => binary.value(index),
            BinaryValues::LargeBinary(binary) => binary.value(index),
            BinaryValues::View(binary) => binary.value(index),
            BinaryValues::Fixed(binary) => binary.value(index),
        }
    }
}

/// Copies a Utf8/LargeUtf8 array without NULLs: one memcpy of the bytes and rebased
/// offsets. `None` for other layouts.
fn copy_utf8(array: &dyn Array) -> Result<Option<VarBytes>, ConvertError> {
    fn copy<O: OffsetSizeTrait>(
        strings: &arrow_array::GenericStringArray<O>,
    ) -> Result<VarBytes, ConvertError> {
        let offsets = strings.value_offsets();
        let first = offsets.first().map_or(0, |offset| offset.as_usize());
        let last = offsets.last().map_or(0, |offset| offset.as_usize());
        let mut rebased = Vec::with_capacity(offsets.len());
        for offset in offsets {
            let relative = offset.as_usize() - first;
            rebased.push(u32::try_from(relative).map_err(|_| ConvertError::TooLarge)?);
        }
        Ok(VarBytes {
            offsets: rebased,
            data: strings.value_data()[first..last].to_vec(),
        })
    }
    if let Some(strings) = array.as_string_opt::<i32>() {
        return copy(strings).map(Some);
    }
    if let Some(strings) = array.as_string_opt::<i64>() {
        return copy(strings).map(Some);
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
