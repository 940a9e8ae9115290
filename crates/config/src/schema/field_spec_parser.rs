//! Reading one Pinot field spec (`dimensionFieldSpecs[i]`, `metricFieldSpecs[i]`,
//! `dateTimeFieldSpecs[i]`, or the legacy `timeFieldSpec`) into a [`FieldSpec`].

use serde_json::Value;

use super::default_value::coerce;
use super::{DataType, FieldRole, FieldSpec};
use crate::error::{Error, Result};
use crate::json_reader::{ObjectReader, Warnings, scalar_text};

const FIELD_SPEC_KEYS: &[&str] = &[
    "name",
    "dataType",
    "singleValueField",
    "notNull",
    "defaultNullValue",
    "format",
    "granularity",
    "maxLength",
    "transformFunction",
    "virtualColumnProvider",
];

const TIME_FIELD_SPEC_KEYS: &[&str] = &[
    "incomingGranularitySpec",
    "outgoingGranularitySpec",
    "name",
    "dataType",
    "singleValueField",
    "notNull",
    "defaultNullValue",
    "maxLength",
    "transformFunction",
    "virtualColumnProvider",
];

const GRANULARITY_SPEC_KEYS: &[&str] =
    &["name", "dataType", "timeType", "timeUnitSize", "timeFormat"];

/// Java `TimeUnit` names, the units Pinot's legacy time spec and retention accept.
pub(crate) const TIME_UNITS: &[&str] = &[
    "NANOSECONDS",
    "MICROSECONDS",
    "MILLISECONDS",
    "SECONDS",
    "MINUTES",
    "HOURS",
    "DAYS",
];

const DATE_TIME_TYPES: &[DataType] = &[
    DataType::Int,
    DataType::Long,
    DataType::String,
    DataType::Timestamp,
];

/// Reads the field spec at `path` (for example `dimensionFieldSpecs[2]`) with the given role.
pub(super) fn parse_field_spec(
    value: &Value,
    path: String,
    role: FieldRole,
    warnings: &mut Warnings,
) -> Result<FieldSpec> {
    let spec = ObjectReader::new(value, path)?;
    spec.warn_unknown_keys(FIELD_SPEC_KEYS, warnings);
    warn_ignored_field_settings(&spec, warnings);
    let name = spec.required_str("name")?.to_string();
    let data_type = parse_data_type(&spec, &name)?;
    let single_value = spec.optional_bool("singleValueField")?.unwrap_or(true);

    let (format, granularity) = if role == FieldRole::DateTime {
        let format = required_date_time_setting(&spec, "format", &name, "1:MILLISECONDS:EPOCH")?;
        let granularity =
            required_date_time_setting(&spec, "granularity", &name, "1:MILLISECONDS")?;
        (Some(format), Some(granularity))
    } else {
        spec.warn_ignored_keys(
            &["format", "granularity"],
            "format and granularity apply only to dateTimeFieldSpecs",
            warnings,
        );
        (None, None)
    };

    let field_spec = FieldSpec {
        name,
        data_type,
        role,
        single_value,
        not_null: spec.optional_bool("notNull")?.unwrap_or(false),
        default_null_value: spec.get("defaultNullValue").cloned(),
        format,
        granularity,
    };
    check_role_rules(&spec, &field_spec)?;
    check_default_null_value(&spec, &field_spec)?;
    Ok(field_spec)
}

/// Reads Pinot's legacy `timeFieldSpec` as a dateTime field in the same format. The
/// granularity spec's `timeType` and `timeUnitSize` become `{size}:{unit}:EPOCH`.
pub(super) fn parse_legacy_time_field_spec(
    value: &Value,
    warnings: &mut Warnings,
) -> Result<FieldSpec> {
    let spec = ObjectReader::new(value, "timeFieldSpec")?;
    spec.warn_unknown_keys(TIME_FIELD_SPEC_KEYS, warnings);
    warn_ignored_field_settings(&spec, warnings);
    let Some(incoming) = spec.object("incomingGranularitySpec")? else {
        return Err(Error::Missing {
            field: spec.field_path("incomingGranularitySpec"),
        });
    };
    let incoming_granularity = read_granularity_spec(&incoming, warnings)?;
    if let Some(outgoing) = spec.object("outgoingGranularitySpec")? {
        let outgoing_granularity = read_granularity_spec(&outgoing, warnings)?;
        if outgoing_granularity != incoming_granularity {
            return Err(Error::Unsupported {
                field: outgoing.path().to_string(),
                message: "converting time values from the incoming to the outgoing granularity \
                          is not supported; declare the column as a dateTimeFieldSpec in its \
                          stored format"
                    .to_string(),
            });
        }
    }
    let LegacyGranularity {
        name,
        data_type,
        format,
        granularity,
    } = incoming_granularity;
    let field_spec = FieldSpec {
        name,
        data_type,
        role: FieldRole::DateTime,
        single_value: spec.optional_bool("singleValueField")?.unwrap_or(true),
        not_null: spec.optional_bool("notNull")?.unwrap_or(false),
        default_null_value: spec.get("defaultNullValue").cloned(),
        format: Some(format),
        granularity: Some(granularity),
    };
    check_role_rules(&spec, &field_spec)?;
    check_default_null_value(&spec, &field_spec)?;
    Ok(field_spec)
}

#[derive(Debug, PartialEq)]
struct LegacyGranularity {
    name: String,
    data_type: DataType,
    format: String,
    granularity: String,
}

fn read_granularity_spec(
    spec: &ObjectReader<'_>,
    warnings: &mut Warnings,
) -> Result<LegacyGranularity> {
    spec.warn_unknown_keys(GRANULARITY_SPEC_KEYS, warnings);
    let name = spec.required_str("name")?.to_string();
    let data_type = parse_data_type(spec, &name)?;
    let time_type = spec.required_str("timeType")?.to_ascii_uppercase();
    if !TIME_UNITS.contains(&time_type.as_str()) {
        return Err(Error::InvalidColumn {
            field: spec.field_path("timeType"),
            column: name,
            message: format!("unknown time unit, use one of {}", TIME_UNITS.join(", ")),
        });
    }
    let unit_size = match spec.get("timeUnitSize") {
        None => 1,
        Some(size) => scalar_text(size)
            .and_then(|text| text.parse::<u32>().ok())
            .filter(|size| *size > 0)
            .ok_or_else(|| Error::InvalidColumn {
                field: spec.field_path("timeUnitSize"),
                column: name.clone(),
                message: "must be a positive integer".to_string(),
            })?,
    };
    let time_format = spec.optional_str("timeFormat")?.unwrap_or("EPOCH");
    let format = if time_format.eq_ignore_ascii_case("EPOCH") {
        format!("{unit_size}:{time_type}:EPOCH")
    } else if time_format.starts_with("SIMPLE_DATE_FORMAT:") {
        format!("{unit_size}:{time_type}:{time_format}")
    } else {
        return Err(Error::InvalidColumn {
            field: spec.field_path("timeFormat"),
            column: name,
            message: "must be EPOCH or SIMPLE_DATE_FORMAT:<pattern>".to_string(),
        });
    };
    Ok(LegacyGranularity {
        name,
        data_type,
        format,
        granularity: format!("{unit_size}:{time_type}"),
    })
}

fn warn_ignored_field_settings(spec: &ObjectReader<'_>, warnings: &mut Warnings) {
    spec.warn_ignored_keys(
        &["maxLength"],
        "strings are stored at full length",
        warnings,
    );
    spec.warn_ignored_keys(
        &["transformFunction"],
        "transform functions are not applied; the column is read from the input as is",
        warnings,
    );
    spec.warn_ignored_keys(
        &["virtualColumnProvider"],
        "virtual columns are not supported; the column is stored",
        warnings,
    );
}

fn parse_data_type(spec: &ObjectReader<'_>, column: &str) -> Result<DataType> {
    let type_name = spec.required_str("dataType")?;
    DataType::parse(type_name).ok_or_else(|| Error::InvalidColumn {
        field: spec.field_path("dataType"),
        column: column.to_string(),
        message: format!(
            "unknown data type, use one of {} value=`{type_name}`",
            DataType::ALL.map(DataType::pinot_name).join(", ")
        ),
    })
}

fn required_date_time_setting(
    spec: &ObjectReader<'_>,
    key: &str,
    column: &str,
    example: &str,
) -> Result<String> {
    match spec.optional_str(key)? {
        Some(text) if !text.trim().is_empty() => Ok(text.to_string()),
        _ => Err(Error::InvalidColumn {
            field: spec.field_path(key),
            column: column.to_string(),
            message: format!("a dateTime field needs a {key}, for example `{example}`"),
        }),
    }
}

fn check_role_rules(spec: &ObjectReader<'_>, field_spec: &FieldSpec) -> Result<()> {
    let invalid = |key: &str, message: String| Error::InvalidColumn {
        field: spec.field_path(key),
        column: field_spec.name.clone(),
        message,
    };
    let role_name = match field_spec.role {
        FieldRole::Dimension => return Ok(()),
        FieldRole::Metric => "metric",
        FieldRole::DateTime => "dateTime",
    };
    if !field_spec.single_value {
        return Err(invalid(
            "singleValueField",
            format!("a {role_name} field must be single-value; make it a dimension instead"),
        ));
    }
    let data_type = field_spec.data_type;
    match field_spec.role {
        FieldRole::Metric if !(data_type.is_numeric() || data_type == DataType::Bytes) => {
            Err(invalid(
                "dataType",
                format!(
                    "a metric must be INT, LONG, FLOAT, DOUBLE or BYTES; make it a dimension \
                     instead value=`{data_type}`"
                ),
            ))
        }
        FieldRole::DateTime if !DATE_TIME_TYPES.contains(&data_type) => Err(invalid(
            "dataType",
            format!("a dateTime field must be INT, LONG, STRING or TIMESTAMP value=`{data_type}`"),
        )),
        _ => Ok(()),
    }
}

fn check_default_null_value(spec: &ObjectReader<'_>, field_spec: &FieldSpec) -> Result<()> {
    let Some(default_null_value) = &field_spec.default_null_value else {
        return Ok(());
    };
    match coerce(default_null_value, field_spec.data_type) {
        Ok(_) => Ok(()),
        Err(message) => Err(Error::InvalidColumn {
            field: spec.field_path("defaultNullValue"),
            column: field_spec.name.clone(),
            message,
        }),
    }
}
