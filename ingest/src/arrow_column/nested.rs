//! Dictionary, list and all-NULL columns: cells assembled from values converted by the
//! scalar path, with NULL handling per [`NullMode`].

use arrow_array::{Array, OffsetSizeTrait};
use tessera_segment::{ColumnData, PhysicalType};

use super::{CellReject, ConvertError, Converted, FieldPlan, NullMode, convert_scalar};
use crate::coerce::reason;
use crate::column_ops::{TooLarge, empty_like, extend_cells, push_fill, push_placeholder};

/// Appends a NULL cell according to `mode`.
fn push_null(
    data: &mut ColumnData,
    mode: NullMode<'_>,
    row: usize,
    nulls: &mut Vec<bool>,
    rejects: &mut Vec<CellReject>,
) -> Result<(), TooLarge> {
    match mode {
        NullMode::Flag => {
            push_placeholder(data)?;
            nulls.push(true);
        }
        NullMode::Fill(fill) => {
            push_fill(data, fill)?;
            nulls.push(false);
        }
        NullMode::Reject => {
            push_placeholder(data)?;
            nulls.push(false);
            rejects.push(CellReject {
                index: row,
                reason: reason::NULL_ELEMENT,
                value: "null".to_string(),
            });
        }
    }
    Ok(())
}

fn flags_if_any(nulls: Vec<bool>) -> Option<Vec<bool>> {
    nulls.iter().any(|null| *null).then_some(nulls)
}

/// `len` NULL scalars of the field's type.
pub(super) fn all_null(
    len: usize,
    plan: &FieldPlan,
    mode: NullMode<'_>,
) -> Result<Converted, ConvertError> {
    let mut data = ColumnData::new_scalar(PhysicalType::of(plan.data_type));
    let mut nulls = Vec::with_capacity(len);
    let mut rejects = Vec::new();
    for row in 0..len {
        push_null(&mut data, mode, row, &mut nulls, &mut rejects)?;
    }
    Ok(Converted {
        data,
        nulls: flags_if_any(nulls),
        rejects,
    })
}

/// Expands a dictionary column: each row takes its key's converted value (or reject).
pub(super) fn gather(
    array: &dyn Array,
    keys: &[usize],
    values: &Converted,
    mode: NullMode<'_>,
) -> Result<Converted, ConvertError> {
    let mut reject_of_value: Vec<Option<&CellReject>> = vec![None; values.data.len()];
    for reject in &values.rejects {
        reject_of_value[reject.index] = Some(reject);
    }
    let mut data = empty_like(&values.data);
    let mut nulls = Vec::with_capacity(array.len());
    let mut rejects = Vec::new();
    for (row, &key) in keys.iter().enumerate().take(array.len()) {
        let value_is_null =
            key >= values.data.len() || values.nulls.as_ref().is_some_and(|flags| flags[key]);
        if array.is_null(row) || value_is_null {
            push_null(&mut data, mode, row, &mut nulls, &mut rejects)?;
            continue;
        }
        nulls.push(false);
        if let Some(reject) = reject_of_value[key] {
            push_placeholder(&mut data)?;
            rejects.push(CellReject {
                index: row,
                ..reject.clone()
            });
            continue;
        }
        extend_cells(&mut data, &values.data, key..key + 1)?;
    }
    Ok(Converted {
        data,
        nulls: flags_if_any(nulls),
        rejects,
    })
}

fn multi(offsets: Vec<u32>, values: ColumnData) -> ColumnData {
    ColumnData::Multi {
        offsets,
        values: Box::new(values),
    }
}

/// A List column into a multi-value field: elements converted in one pass, then cells
/// assembled. A NULL element rejects its row; a NULL list is a NULL cell.
pub(super) fn convert_list<O: OffsetSizeTrait>(
    list: &arrow_array::GenericListArray<O>,
    plan: &FieldPlan,
    mode: NullMode<'_>,
) -> Result<Converted, ConvertError> {
    let offsets = list.value_offsets();
    let first = offsets.first().map_or(0, |offset| offset.as_usize());
    let last = offsets.last().map_or(0, |offset| offset.as_usize());
    let child = list.values().slice(first, last - first);
    let elements = convert_scalar(child.as_ref(), plan, NullMode::Reject)?;

    let mut values = empty_like(&elements.data);
    let mut cell_offsets = Vec::with_capacity(list.len() + 1);
    cell_offsets.push(0u32);
    let mut nulls = Vec::with_capacity(list.len());
    let mut rejects = Vec::new();
    let mut element_rejects = elements.rejects.iter().peekable();
    for row in 0..list.len() {
        let range = offsets[row].as_usize() - first..offsets[row + 1].as_usize() - first;
        let mut first_reject = None;
        while let Some(reject) = element_rejects.next_if(|reject| reject.index < range.end) {
            if reject.index >= range.start && first_reject.is_none() {
                first_reject = Some(reject);
            }
        }
        if list.is_null(row) {
            nulls.push(matches!(mode, NullMode::Flag));
            if let NullMode::Fill(fill) = mode {
                push_fill(&mut values, fill)?;
            }
        } else {
            nulls.push(false);
            if let Some(reject) = first_reject {
                rejects.push(CellReject {
                    index: row,
                    ..reject.clone()
                });
            }
            extend_cells(&mut values, &elements.data, range)?;
        }
        cell_offsets.push(u32::try_from(values.len()).map_err(|_| ConvertError::TooLarge)?);
    }
    Ok(Converted {
        data: multi(cell_offsets, values),
        nulls: flags_if_any(nulls),
        rejects,
    })
}

/// A scalar column into a multi-value field: each value becomes a one-element cell.
pub(super) fn wrap_scalars(
    len: usize,
    scalars: Converted,
    mode: NullMode<'_>,
) -> Result<Converted, ConvertError> {
    let Some(null_flags) = scalars.nulls else {
        let end = u32::try_from(len).map_err(|_| ConvertError::TooLarge)?;
        return Ok(Converted {
            data: multi((0..=end).collect(), scalars.data),
            nulls: None,
            rejects: scalars.rejects,
        });
    };
    let mut values = empty_like(&scalars.data);
    let mut cell_offsets = Vec::with_capacity(len + 1);
    cell_offsets.push(0u32);
    let mut nulls = Vec::with_capacity(len);
    for (row, is_null) in null_flags.iter().enumerate() {
        if *is_null {
            nulls.push(matches!(mode, NullMode::Flag));
            if let NullMode::Fill(fill) = mode {
                push_fill(&mut values, fill)?;
            }
        } else {
            nulls.push(false);
            extend_cells(&mut values, &scalars.data, row..row + 1)?;
        }
        cell_offsets.push(u32::try_from(values.len()).map_err(|_| ConvertError::TooLarge)?);
    }
    Ok(Converted {
        data: multi(cell_offsets, values),
        nulls: flags_if_any(nulls),
        rejects: scalars.rejects,
    })
}
