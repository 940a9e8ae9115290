//! `lakehouse`: an Apache Iceberg table as the history of a Tessera table.
//!
//! ```json
//! "lakehouse": {
//!   "catalog": {"type": "filesystem", "warehouse": "s3://bucket/warehouse"},
//!   "table": "lake.events",
//!   "timeBoundary": "auto",
//!   "refreshInterval": "30s",
//!   "export": true,
//!   "exportInterval": "5m",
//!   "dropExported": false
//! }
//! ```
//!
//! Rows whose time is below the boundary are read from the Iceberg table's current
//! snapshot, rows at or above it from the table's own segments. `timeBoundary` is `auto`
//! (the largest time value the snapshot holds, so that value and everything after it
//! comes from segments), or a fixed value of the time column (a number in the column's
//! unit, or for epoch-millisecond columns an ISO-8601 date-time). The catalog is
//! `filesystem` (a warehouse directory) or `location` (the table's root, given whole).
//! The Iceberg snapshot is looked up again every `refreshInterval` (default 30 s). With
//! `exportInterval`, sealed segments are also exported into the Iceberg table that often;
//! with `export` (implied by `exportInterval`) Tessera writes the Iceberg table, and one
//! that does not exist yet is an empty history until the first export creates it. With
//! `dropExported`, an export then trashes the exported segments wholly below the
//! boundary: their rows stay queryable from Iceberg.

use std::time::Duration;

use serde_json::Value;

use crate::error::Error;
use crate::schema::Schema;
use crate::stream::parse_duration;

/// Where the Iceberg table's metadata is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakehouseCatalog {
    FileSystem { warehouse: String },
    Location(String),
}

/// Which tier serves a row, by its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBoundary {
    /// The largest time value of the current Iceberg snapshot.
    Auto,
    /// A fixed value of the time column, in its raw unit.
    Fixed(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakehouseConfig {
    pub catalog: LakehouseCatalog,
    /// `namespace.table` (for the `location` catalog, a name for messages).
    pub table: String,
    pub time_boundary: TimeBoundary,
    pub refresh_interval: Duration,
    /// Export sealed segments into the Iceberg table this often (`None`: only when asked,
    /// `POST /tables/{table}/lakehouse/export`).
    pub export_interval: Option<Duration>,
    /// Tessera writes the Iceberg table (`"export": true`, or an `exportInterval`): until
    /// the first export creates it, a missing table is an empty history, not an error.
    pub export: bool,
    /// After an export, trash the exported segments wholly below the boundary: their
    /// rows are read from Iceberg (storage tiering instead of a copy).
    pub drop_exported: bool,
}

/// Snapshots are looked up this often unless the config says otherwise.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

/// The table's lakehouse tier, `None` when it has none; an error names what is wrong.
pub fn lakehouse_config(
    raw: &Value,
    schema: &Schema,
    time_column: Option<&str>,
) -> Result<Option<LakehouseConfig>, Error> {
    let Some(config) = raw.get("lakehouse") else {
        return Ok(None);
    };
    let invalid = |field: &str, message: String| Error::Invalid {
        field: format!("lakehouse.{field}"),
        message,
    };
    if !config.is_object() {
        return Err(invalid("", "must be an object".into()));
    }
    let time_column = time_column.ok_or_else(|| {
        invalid(
            "timeBoundary",
            "a lakehouse tier needs segmentsConfig.timeColumnName: rows are split between \
             the tiers by time"
                .into(),
        )
    })?;
    let catalog = config
        .get("catalog")
        .ok_or_else(|| invalid("catalog", "is missing".into()))?;
    let kind = catalog
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("filesystem");
    let text = |key: &str| -> Result<String, Error> {
        catalog
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| invalid(&format!("catalog.{key}"), "is missing".into()))
    };
    let catalog = match kind.to_ascii_lowercase().as_str() {
        "filesystem" | "hadoop" => LakehouseCatalog::FileSystem {
            warehouse: text("warehouse")?,
        },
        "location" => LakehouseCatalog::Location(text("location")?),
        other => {
            return Err(invalid(
                "catalog.type",
                format!("`{other}` is not supported (filesystem or location)"),
            ));
        }
    };
    let table = match config.get("table").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => match &catalog {
            LakehouseCatalog::Location(location) => location.clone(),
            LakehouseCatalog::FileSystem { .. } => {
                return Err(invalid("table", "is missing (namespace.table)".into()));
            }
        },
    };
    let millis = schema.field(time_column).is_some_and(|field| {
        field.data_type == crate::DataType::Timestamp
            || field
                .format
                .as_deref()
                .is_some_and(|f| f.contains("MILLISECONDS:EPOCH"))
    });
    let time_boundary = match config.get("timeBoundary") {
        None => TimeBoundary::Auto,
        Some(Value::String(text)) if text.eq_ignore_ascii_case("auto") => TimeBoundary::Auto,
        Some(Value::Number(number)) => TimeBoundary::Fixed(
            number
                .as_i64()
                .ok_or_else(|| invalid("timeBoundary", format!("`{number}` is not an integer")))?,
        ),
        Some(Value::String(text)) => {
            let parsed = text.parse::<i64>().ok().or_else(|| {
                millis
                    .then(|| crate::schema::parse_timestamp_text(text))
                    .flatten()
            });
            TimeBoundary::Fixed(parsed.ok_or_else(|| {
                invalid(
                    "timeBoundary",
                    format!(
                        "`{text}` is not `auto`, a number, or (for a millisecond time \
                         column) an ISO-8601 date-time"
                    ),
                )
            })?)
        }
        Some(other) => {
            return Err(invalid(
                "timeBoundary",
                format!("`{other}` is not `auto` or a value"),
            ));
        }
    };
    let refresh_interval = match config.get("refreshInterval") {
        None => DEFAULT_REFRESH,
        Some(Value::String(text)) => parse_duration(text).ok_or_else(|| {
            invalid(
                "refreshInterval",
                format!("`{text}` is not a duration such as 30s or 5m"),
            )
        })?,
        Some(other) => {
            return Err(invalid(
                "refreshInterval",
                format!("`{other}` is not a duration such as 30s"),
            ));
        }
    };
    let export_interval = match config.get("exportInterval") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(
            parse_duration(text)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    invalid(
                        "exportInterval",
                        format!("`{text}` is not a duration such as 1m or 1h"),
                    )
                })?,
        ),
        Some(other) => {
            return Err(invalid(
                "exportInterval",
                format!("`{other}` is not a duration such as 1m"),
            ));
        }
    };
    let export = match config.get("export") {
        None | Some(Value::Null) => export_interval.is_some(),
        Some(Value::Bool(export)) => *export || export_interval.is_some(),
        Some(other) => {
            return Err(invalid("export", format!("`{other}` is not true or false")));
        }
    };
    let drop_exported = match config.get("dropExported") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(drop)) => *drop,
        Some(other) => {
            return Err(invalid(
                "dropExported",
                format!("`{other}` is not true or false"),
            ));
        }
    };
    if drop_exported && !export {
        return Err(invalid(
            "dropExported",
            "needs `export` (or an `exportInterval`): only segments Tessera exported are dropped"
                .into(),
        ));
    }
    Ok(Some(LakehouseConfig {
        catalog,
        table,
        time_boundary,
        refresh_interval,
        export_interval,
        export,
        drop_exported,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_json(
            r#"{"schemaName": "events",
                "dimensionFieldSpecs": [{"name": "city", "dataType": "STRING"}],
                "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP",
                    "format": "TIMESTAMP", "granularity": "1:MILLISECONDS"}]}"#,
        )
        .expect("schema")
        .value
    }

    #[test]
    fn a_full_config_reads_every_field() {
        let raw = json!({"lakehouse": {
            "catalog": {"type": "filesystem", "warehouse": "s3://b/wh"},
            "table": "lake.events", "timeBoundary": "2024-03-04T00:00:00Z",
            "refreshInterval": "2s", "exportInterval": "1m"}});
        let config = lakehouse_config(&raw, &schema(), Some("ts"))
            .expect("valid")
            .expect("present");
        assert_eq!(
            config.catalog,
            LakehouseCatalog::FileSystem {
                warehouse: "s3://b/wh".into()
            }
        );
        assert_eq!(config.time_boundary, TimeBoundary::Fixed(1_709_510_400_000));
        assert_eq!(config.refresh_interval, Duration::from_secs(2));
        assert_eq!(config.export_interval, Some(Duration::from_secs(60)));
        assert!(config.export);
        let auto = json!({"lakehouse": {"catalog": {"type": "location", "location": "/x/t"}}});
        let config = lakehouse_config(&auto, &schema(), Some("ts"))
            .expect("valid")
            .expect("present");
        assert_eq!(config.time_boundary, TimeBoundary::Auto);
        assert_eq!(config.table, "/x/t");
        assert_eq!(
            lakehouse_config(&json!({}), &schema(), Some("ts")).ok(),
            Some(None)
        );
    }

    #[test]
    fn mistakes_name_their_field() {
        for (raw, field) in [
            (json!({"lakehouse": {"table": "a.b"}}), "lakehouse.catalog"),
            (
                json!({"lakehouse": {"catalog": {"type": "rest", "uri": "http://x"}, "table": "a.b"}}),
                "lakehouse.catalog.type",
            ),
            (
                json!({"lakehouse": {"catalog": {"warehouse": "/w"}, "table": "a.b", "timeBoundary": "soon"}}),
                "lakehouse.timeBoundary",
            ),
            (
                json!({"lakehouse": {"catalog": {"warehouse": "/w"}}}),
                "lakehouse.table",
            ),
        ] {
            let error = lakehouse_config(&raw, &schema(), Some("ts")).expect_err("invalid");
            assert!(
                error.to_string().contains(field),
                "{error} should name {field}"
            );
        }
        let raw = json!({"lakehouse": {"catalog": {"warehouse": "/w"}, "table": "a.b"}});
        let error = lakehouse_config(&raw, &schema(), None).expect_err("no time column");
        assert!(error.to_string().contains("timeColumnName"), "{error}");
    }
}
