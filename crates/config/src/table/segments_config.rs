//! Reading `segmentsConfig`: the time column, replication and retention.

use serde_json::Value;

use super::index_rules::check_time_column;
use crate::error::{Error, Result};
use crate::json_reader::{ObjectReader, Warnings, scalar_text};
use crate::schema::{Schema, TIME_UNITS};

const SEGMENTS_CONFIG_KEYS: &[&str] = &[
    "timeColumnName",
    "replication",
    "replicasPerPartition",
    "retentionTimeUnit",
    "retentionTimeValue",
    "schemaName",
];

/// Pinot settings for segment push and assignment, which Tessera's controller decides itself.
const IGNORED_SEGMENTS_CONFIG_KEYS: &[&str] = &[
    "timeType",
    "segmentPushType",
    "segmentPushFrequency",
    "segmentAssignmentStrategy",
    "replicaGroupStrategyConfig",
    "minimizeDataMovement",
    "deletedSegmentsRetentionPeriod",
    "completionConfig",
    "peerSegmentDownloadScheme",
    "crypterClassName",
];

/// What `segmentsConfig` sets.
#[derive(Debug, Default, PartialEq)]
pub(super) struct SegmentsSettings {
    pub(super) time_column: Option<String>,
    pub(super) replication: u32,
    pub(super) retention: Option<(String, String)>,
}

/// Reads `segmentsConfig` (absent means defaults: no time column, replication 1).
pub(super) fn read_segments_config(
    root: &ObjectReader<'_>,
    schema: &Schema,
    warnings: &mut Warnings,
) -> Result<SegmentsSettings> {
    let Some(segments) = root.object("segmentsConfig")? else {
        return Ok(SegmentsSettings {
            replication: 1,
            ..SegmentsSettings::default()
        });
    };
    let all_known: Vec<&str> = SEGMENTS_CONFIG_KEYS
        .iter()
        .chain(IGNORED_SEGMENTS_CONFIG_KEYS)
        .copied()
        .collect();
    segments.warn_unknown_keys(&all_known, warnings);
    segments.warn_ignored_keys(
        IGNORED_SEGMENTS_CONFIG_KEYS,
        "tessera does not use this setting",
        warnings,
    );

    if let Some(schema_name) = segments.optional_str("schemaName")?
        && schema_name != schema.name
    {
        return Err(Error::Invalid {
            field: segments.field_path("schemaName"),
            message: format!(
                "must name the table's schema; remove it or set it to `{}` value=`{schema_name}`",
                schema.name
            ),
        });
    }

    let time_column = segments.optional_str("timeColumnName")?;
    if let Some(column) = time_column {
        check_time_column(schema, column, &segments.field_path("timeColumnName"))?;
    }

    // Pinot's realtime tables replicate by `replicasPerPartition`; the larger one wins.
    let replication = [
        read_replication(&segments, "replication")?,
        read_replication(&segments, "replicasPerPartition")?,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(1);

    Ok(SegmentsSettings {
        time_column: time_column.map(str::to_string),
        replication,
        retention: read_retention(&segments)?,
    })
}

fn read_replication(segments: &ObjectReader<'_>, key: &str) -> Result<Option<u32>> {
    let Some(value) = segments.get(key) else {
        return Ok(None);
    };
    positive_integer(value)
        .and_then(|count| u32::try_from(count).ok())
        .map(Some)
        .ok_or_else(|| Error::Invalid {
            field: segments.field_path(key),
            message: format!("must be a positive integer value=`{}`", display(value)),
        })
}

fn read_retention(segments: &ObjectReader<'_>) -> Result<Option<(String, String)>> {
    let unit = segments.optional_str("retentionTimeUnit")?;
    let value = segments.get("retentionTimeValue");
    let (unit, value) = match (unit, value) {
        (None, None) => return Ok(None),
        (Some(unit), Some(value)) => (unit, value),
        (Some(_), None) => {
            return Err(Error::Missing {
                field: segments.field_path("retentionTimeValue"),
            });
        }
        (None, Some(_)) => {
            return Err(Error::Missing {
                field: segments.field_path("retentionTimeUnit"),
            });
        }
    };
    let unit = unit.to_ascii_uppercase();
    if !TIME_UNITS.contains(&unit.as_str()) {
        return Err(Error::Invalid {
            field: segments.field_path("retentionTimeUnit"),
            message: format!("use one of {} value=`{unit}`", TIME_UNITS.join(", ")),
        });
    }
    if positive_integer(value).is_none() {
        return Err(Error::Invalid {
            field: segments.field_path("retentionTimeValue"),
            message: format!("must be a positive integer value=`{}`", display(value)),
        });
    }
    let value_text = scalar_text(value).unwrap_or_default().trim().to_string();
    Ok(Some((unit, value_text)))
}

/// A positive integer written as a JSON number or a string (`1`, `"1"`).
fn positive_integer(value: &Value) -> Option<u64> {
    scalar_text(value)?
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|number| *number > 0)
}

fn display(value: &Value) -> String {
    scalar_text(value).unwrap_or_else(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::json_reader::ROOT_PATH;

    fn schema() -> Schema {
        Schema::from_value(&json!({
            "schemaName": "events",
            "dimensionFieldSpecs": [{"name": "user", "dataType": "STRING"}],
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]
        }))
        .expect("schema")
        .value
    }

    fn read(segments_config: Value) -> Result<(SegmentsSettings, Vec<String>)> {
        let root_value = json!({"segmentsConfig": segments_config});
        let root = ObjectReader::new(&root_value, ROOT_PATH).expect("object");
        let mut warnings = Warnings::default();
        let settings = read_segments_config(&root, &schema(), &mut warnings)?;
        Ok((settings, warnings.into_messages()))
    }

    #[test]
    fn test_replication_accepts_strings_and_numbers() {
        assert_eq!(read(json!({})).expect("empty").0.replication, 1);
        assert_eq!(
            read(json!({"replication": "3"}))
                .expect("string")
                .0
                .replication,
            3
        );
        assert_eq!(
            read(json!({"replication": 2}))
                .expect("number")
                .0
                .replication,
            2
        );
        let realtime =
            read(json!({"replication": "1", "replicasPerPartition": "2"})).expect("both");
        assert_eq!(realtime.0.replication, 2);
        let zero = read(json!({"replication": "0"}))
            .expect_err("zero")
            .to_string();
        assert!(
            zero.contains("field=`segmentsConfig.replication`"),
            "{zero}"
        );
        assert!(zero.contains("value=`0`"), "{zero}");
        assert!(read(json!({"replication": "two"})).is_err());
    }

    #[test]
    fn test_retention_needs_unit_and_value() {
        let (settings, _) = read(json!({"retentionTimeUnit": "days", "retentionTimeValue": 30}))
            .expect("retention");
        assert_eq!(
            settings.retention,
            Some(("DAYS".to_string(), "30".to_string()))
        );
        let bad_unit = read(json!({"retentionTimeUnit": "WEEKS", "retentionTimeValue": "2"}))
            .expect_err("weeks")
            .to_string();
        assert!(
            bad_unit.contains("field=`segmentsConfig.retentionTimeUnit`"),
            "{bad_unit}"
        );
        let bad_value = read(json!({"retentionTimeUnit": "DAYS", "retentionTimeValue": "-1"}))
            .expect_err("negative")
            .to_string();
        assert!(
            bad_value.contains("field=`segmentsConfig.retentionTimeValue`"),
            "{bad_value}"
        );
        let no_value = read(json!({"retentionTimeUnit": "DAYS"}))
            .expect_err("no value")
            .to_string();
        assert_eq!(
            no_value,
            "missing required field field=`segmentsConfig.retentionTimeValue`"
        );
    }

    #[test]
    fn test_time_column_and_warnings() {
        let (settings, warnings) = read(json!({
            "timeColumnName": "ts", "segmentPushType": "APPEND", "schemaName": "events", "bogus": 1
        }))
        .expect("segments config");
        assert_eq!(settings.time_column.as_deref(), Some("ts"));
        assert_eq!(
            warnings,
            [
                "unknown field ignored field=`segmentsConfig.bogus`",
                "setting ignored: tessera does not use this setting field=`segmentsConfig.segmentPushType`",
            ]
        );
        let wrong_schema = read(json!({"schemaName": "other"}))
            .expect_err("other schema")
            .to_string();
        assert!(
            wrong_schema.contains("field=`segmentsConfig.schemaName`"),
            "{wrong_schema}"
        );
    }
}
