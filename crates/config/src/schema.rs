//! Pinot-format schemas: the columns of a table, their types and roles.
//!
//! A [`Schema`] is always valid once constructed by [`Schema::from_json`] or
//! [`Schema::from_value`]: names are unique, metrics are numeric, dateTime fields carry a
//! format and granularity, and every `defaultNullValue` converts to its column's type.

mod data_type;
mod default_value;
mod field_spec_parser;

use std::collections::HashMap;

use serde_json::{Map, Value, json};

pub use data_type::DataType;
pub use default_value::DefaultValue;
pub(crate) use default_value::parse_timestamp_text;
pub(crate) use field_spec_parser::TIME_UNITS;

use crate::Parsed;
use crate::error::{Error, Result};
use crate::json_reader::{ObjectReader, ROOT_PATH, Warnings, element_path};
use crate::suggestion::closest_name;

/// Which Pinot field-spec list a column came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldRole {
    Dimension,
    Metric,
    /// A `dateTimeFieldSpecs` entry or the legacy `timeFieldSpec`.
    DateTime,
}

/// One column of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: String,
    pub data_type: DataType,
    pub role: FieldRole,
    /// Pinot `singleValueField`, default true; false makes a multi-value (array) column.
    pub single_value: bool,
    /// Pinot `notNull`, default false; NULL inputs store [`FieldSpec::null_replacement`].
    pub not_null: bool,
    /// Pinot `defaultNullValue` exactly as written in the config (validated to convert).
    pub default_null_value: Option<Value>,
    /// DateTime `format`: `1:MILLISECONDS:EPOCH`, `1:MILLISECONDS:TIMESTAMP`,
    /// `SIMPLE_DATE_FORMAT|yyyy-MM-dd`, … `None` for dimensions and metrics.
    pub format: Option<String>,
    /// DateTime `granularity`, such as `1:DAYS`. `None` for dimensions and metrics.
    pub granularity: Option<String>,
}

/// Milliseconds in one Java `TimeUnit` (sub-millisecond units as fractions).
fn unit_millis(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_uppercase().as_str() {
        "NANOSECONDS" => 1e-6,
        "MICROSECONDS" => 1e-3,
        "MILLISECONDS" => 1.0,
        "SECONDS" => 1e3,
        "MINUTES" => 60e3,
        "HOURS" => 3_600e3,
        "DAYS" => 86_400e3,
        _ => return None,
    })
}

/// Milliseconds in `value` of Java `TimeUnit` `unit` (retention: `("DAYS", "30")`).
pub fn duration_millis(unit: &str, value: &str) -> Option<i64> {
    let value: f64 = value.trim().parse().ok()?;
    Some((value * unit_millis(unit)?) as i64)
}

impl FieldSpec {
    /// A raw value of this date-time column as epoch milliseconds: TIMESTAMP columns
    /// and `N:UNIT:EPOCH` formats; `None` for other formats (`SIMPLE_DATE_FORMAT`).
    pub fn epoch_millis(&self, raw: i64) -> Option<i64> {
        if self.data_type == DataType::Timestamp {
            return Some(raw);
        }
        let format = self.format.as_deref()?;
        let mut parts = format.split(':');
        let size: f64 = parts.next()?.trim().parse().ok()?;
        let unit = unit_millis(parts.next()?)?;
        match parts.next()?.trim().to_ascii_uppercase().as_str() {
            "EPOCH" | "TIMESTAMP" => Some((raw as f64 * size * unit) as i64),
            _ => None,
        }
    }

    /// The value stored for a NULL input when the column is `notNull`: the configured
    /// `defaultNullValue` converted to the column type, else Pinot's default — numeric
    /// dimensions and dateTimes the type's minimum (`f32`/`f64` negative infinity), numeric
    /// metrics 0, STRING and JSON `"null"`, BOOLEAN false, TIMESTAMP 0, BYTES empty.
    pub fn null_replacement(&self) -> DefaultValue {
        self.default_null_value
            .as_ref()
            .and_then(|value| default_value::coerce(value, self.data_type).ok())
            .unwrap_or_else(|| default_value::pinot_default(self.data_type, self.role))
    }
}

/// The validated columns of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub name: String,
    /// In config order: `dimensionFieldSpecs`, `metricFieldSpecs`, `dateTimeFieldSpecs`,
    /// then the legacy `timeFieldSpec` if present.
    pub fields: Vec<FieldSpec>,
    pub primary_key_columns: Vec<String>,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "schemaName",
    "dimensionFieldSpecs",
    "metricFieldSpecs",
    "dateTimeFieldSpecs",
    "timeFieldSpec",
    "primaryKeyColumns",
    "enableColumnBasedNullHandling",
    "complexFieldSpecs",
    "description",
];

const FIELD_SPEC_LISTS: [(&str, FieldRole); 3] = [
    ("dimensionFieldSpecs", FieldRole::Dimension),
    ("metricFieldSpecs", FieldRole::Metric),
    ("dateTimeFieldSpecs", FieldRole::DateTime),
];

impl Schema {
    /// Parses and validates a Pinot `schema.json`.
    pub fn from_json(text: &str) -> Result<Parsed<Schema>> {
        let value: Value = serde_json::from_str(text).map_err(|source| Error::InvalidJson {
            what: "schema",
            source,
        })?;
        Schema::from_value(&value)
    }

    /// Validates a Pinot schema already parsed as JSON.
    pub fn from_value(value: &Value) -> Result<Parsed<Schema>> {
        let mut warnings = Warnings::default();
        let root = ObjectReader::new(value, ROOT_PATH)?;
        root.warn_unknown_keys(TOP_LEVEL_KEYS, &mut warnings);
        let name = root.required_str("schemaName")?.to_string();

        if root
            .get("complexFieldSpecs")
            .is_some_and(|specs| !is_empty_list(specs))
        {
            return Err(Error::Unsupported {
                field: "complexFieldSpecs".to_string(),
                message: "complex (MAP, STRUCT, LIST) columns are not supported; flatten them \
                          into dimension columns"
                    .to_string(),
            });
        }

        let mut fields = Vec::new();
        let mut field_paths = Vec::new();
        for (list_key, role) in FIELD_SPEC_LISTS {
            for (index, spec_value) in root.array(list_key)?.iter().enumerate() {
                let path = element_path(list_key, index);
                let field_spec = field_spec_parser::parse_field_spec(
                    spec_value,
                    path.clone(),
                    role,
                    &mut warnings,
                )?;
                fields.push(field_spec);
                field_paths.push(path);
            }
        }
        if let Some(time_spec_value) = root.get("timeFieldSpec") {
            let field_spec =
                field_spec_parser::parse_legacy_time_field_spec(time_spec_value, &mut warnings)?;
            fields.push(field_spec);
            field_paths.push("timeFieldSpec.incomingGranularitySpec".to_string());
        }
        check_unique_names(&fields, &field_paths)?;

        let mut primary_key_columns = Vec::new();
        for column in root.string_array("primaryKeyColumns")? {
            if !fields.iter().any(|field| field.name == column) {
                return Err(Error::UnknownColumn {
                    field: "primaryKeyColumns".to_string(),
                    column: column.to_string(),
                    suggestion: closest_name(
                        column,
                        fields.iter().map(|field| field.name.as_str()),
                    )
                    .map(str::to_string),
                });
            }
            primary_key_columns.push(column.to_string());
        }

        Ok(Parsed {
            value: Schema {
                name,
                fields,
                primary_key_columns,
            },
            warnings: warnings.into_messages(),
        })
    }

    /// The schema as Pinot JSON; [`Schema::from_json`] reads it back unchanged. A legacy
    /// `timeFieldSpec` is written as the equivalent `dateTimeFieldSpecs` entry.
    pub fn to_pinot_json(&self) -> Value {
        let fields_of_role = |role: FieldRole| -> Vec<Value> {
            self.fields
                .iter()
                .filter(|field| field.role == role)
                .map(field_spec_json)
                .collect()
        };
        let mut root = Map::new();
        root.insert("schemaName".to_string(), json!(self.name));
        for (list_key, role) in FIELD_SPEC_LISTS {
            root.insert(list_key.to_string(), Value::Array(fields_of_role(role)));
        }
        if !self.primary_key_columns.is_empty() {
            root.insert(
                "primaryKeyColumns".to_string(),
                json!(self.primary_key_columns),
            );
        }
        Value::Object(root)
    }

    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|field| field.name == name)
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|field| field.name == name)
    }

    /// The dateTime fields (including a legacy time field) in schema order.
    pub fn date_time_fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields
            .iter()
            .filter(|field| field.role == FieldRole::DateTime)
    }
}

fn is_empty_list(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn check_unique_names(fields: &[FieldSpec], field_paths: &[String]) -> Result<()> {
    let mut first_path_by_name: HashMap<&str, &str> = HashMap::new();
    for (field, path) in fields.iter().zip(field_paths) {
        if let Some(first_path) = first_path_by_name.insert(&field.name, path) {
            return Err(Error::InvalidColumn {
                field: format!("{path}.name"),
                column: field.name.clone(),
                message: format!(
                    "duplicate column name, each column is defined once; first defined at \
                     `{first_path}`"
                ),
            });
        }
    }
    Ok(())
}

fn field_spec_json(field: &FieldSpec) -> Value {
    let mut spec = Map::new();
    spec.insert("name".to_string(), json!(field.name));
    spec.insert("dataType".to_string(), json!(field.data_type.pinot_name()));
    if !field.single_value {
        spec.insert("singleValueField".to_string(), json!(false));
    }
    if field.not_null {
        spec.insert("notNull".to_string(), json!(true));
    }
    if let Some(default_null_value) = &field.default_null_value {
        spec.insert("defaultNullValue".to_string(), default_null_value.clone());
    }
    if let Some(format) = &field.format {
        spec.insert("format".to_string(), json!(format));
    }
    if let Some(granularity) = &field.granularity {
        spec.insert("granularity".to_string(), json!(granularity));
    }
    Value::Object(spec)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lineitem_schema_text() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/datasets/lineitem/schema.json"
        );
        std::fs::read_to_string(path).expect("the shared lineitem schema")
    }

    fn parse(value: Value) -> Result<Parsed<Schema>> {
        Schema::from_value(&value)
    }

    fn parse_error(value: Value) -> String {
        parse(value)
            .expect_err("schema should be rejected")
            .to_string()
    }

    #[test]
    fn test_date_time_values_convert_to_epoch_millis() {
        let schema = parse(json!({"schemaName": "t", "dateTimeFieldSpecs": [
            {"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:TIMESTAMP", "granularity": "1:MILLISECONDS"},
            {"name": "secs", "dataType": "LONG", "format": "1:SECONDS:EPOCH", "granularity": "1:SECONDS"},
            {"name": "hours5", "dataType": "INT", "format": "5:HOURS:EPOCH", "granularity": "5:HOURS"},
            {"name": "day", "dataType": "STRING", "format": "SIMPLE_DATE_FORMAT|yyyy-MM-dd", "granularity": "1:DAYS"}
        ]}))
        .expect("schema")
        .value;
        let millis = |name: &str, raw: i64| schema.field(name).and_then(|f| f.epoch_millis(raw));
        assert_eq!(millis("ts", 1_700_000_000_123), Some(1_700_000_000_123));
        assert_eq!(millis("secs", 1_700_000_000), Some(1_700_000_000_000));
        assert_eq!(millis("hours5", 2), Some(10 * 3_600_000));
        assert_eq!(millis("day", 20240101), None);
        assert_eq!(duration_millis("DAYS", "30"), Some(30 * 86_400_000));
        assert_eq!(duration_millis("MINUTES", " 2 "), Some(120_000));
        assert_eq!(duration_millis("WEEKS", "1"), None);
    }

    #[test]
    fn test_lineitem_schema_parses_in_config_order() {
        let parsed = Schema::from_json(&lineitem_schema_text()).expect("lineitem schema");
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let schema = parsed.value;
        assert_eq!(schema.name, "lineitem");
        assert_eq!(schema.fields.len(), 16);
        assert_eq!(schema.fields[0].name, "l_orderkey");
        assert_eq!(schema.fields[0].data_type, DataType::Long);
        assert_eq!(schema.fields[11].name, "l_quantity");
        assert_eq!(schema.fields[11].role, FieldRole::Metric);
        let shipdate = schema.field("l_shipdate").expect("l_shipdate");
        assert_eq!(shipdate.role, FieldRole::DateTime);
        assert_eq!(shipdate.data_type, DataType::Timestamp);
        assert_eq!(shipdate.format.as_deref(), Some("1:MILLISECONDS:TIMESTAMP"));
        assert_eq!(shipdate.granularity.as_deref(), Some("1:DAYS"));
        assert_eq!(schema.field_index("l_shipdate"), Some(15));
        assert_eq!(schema.field_index("nope"), None);
        let date_time_names: Vec<&str> = schema
            .date_time_fields()
            .map(|field| field.name.as_str())
            .collect();
        assert_eq!(date_time_names, ["l_shipdate"]);
    }

    #[test]
    fn test_multi_value_dimension_and_null_settings() {
        let schema = parse(json!({
            "schemaName": "events",
            "dimensionFieldSpecs": [
                {"name": "tags", "dataType": "STRING", "singleValueField": false},
                {"name": "country", "dataType": "STRING", "notNull": true, "defaultNullValue": "unknown"},
                {"name": "user_id", "dataType": "LONG"}
            ],
            "metricFieldSpecs": [{"name": "clicks", "dataType": "INT"}, {"name": "sketch", "dataType": "BYTES"}]
        }))
        .expect("schema")
        .value;
        let tags = schema.field("tags").expect("tags");
        assert!(!tags.single_value);
        assert_eq!(
            tags.null_replacement(),
            DefaultValue::String("null".to_string())
        );
        let country = schema.field("country").expect("country");
        assert!(country.not_null);
        assert_eq!(
            country.null_replacement(),
            DefaultValue::String("unknown".to_string())
        );
        let user_id = schema.field("user_id").expect("user_id");
        assert_eq!(user_id.null_replacement(), DefaultValue::Long(i64::MIN));
        let clicks = schema.field("clicks").expect("clicks");
        assert_eq!(clicks.null_replacement(), DefaultValue::Int(0));
        assert_eq!(
            schema.field("sketch").expect("sketch").data_type,
            DataType::Bytes
        );
    }

    #[test]
    fn test_legacy_time_field_spec_becomes_date_time() {
        let schema = parse(json!({
            "schemaName": "legacy",
            "dimensionFieldSpecs": [{"name": "a", "dataType": "STRING"}],
            "timeFieldSpec": {
                "incomingGranularitySpec": {"name": "ts", "dataType": "LONG", "timeType": "SECONDS"}
            }
        }))
        .expect("schema")
        .value;
        let ts = schema.fields.last().expect("time field");
        assert_eq!(ts.name, "ts");
        assert_eq!(ts.role, FieldRole::DateTime);
        assert_eq!(ts.data_type, DataType::Long);
        assert_eq!(ts.format.as_deref(), Some("1:SECONDS:EPOCH"));
        assert_eq!(ts.granularity.as_deref(), Some("1:SECONDS"));
        let reparsed = Schema::from_value(&schema.to_pinot_json()).expect("round trip");
        assert_eq!(reparsed.value, schema);
    }

    #[test]
    fn test_legacy_time_conversion_is_unsupported() {
        let message = parse_error(json!({
            "schemaName": "legacy",
            "timeFieldSpec": {
                "incomingGranularitySpec": {"name": "ts", "dataType": "LONG", "timeType": "SECONDS"},
                "outgoingGranularitySpec": {"name": "ts", "dataType": "LONG", "timeType": "DAYS"}
            }
        }));
        assert!(message.starts_with("unsupported setting"), "{message}");
        assert!(
            message.contains("field=`timeFieldSpec.outgoingGranularitySpec`"),
            "{message}"
        );
    }

    #[test]
    fn test_unknown_and_ignored_fields_warn() {
        let parsed = parse(json!({
            "schemaName": "events",
            "owner": "me",
            "description": "known, no warning",
            "dimensionFieldSpecs": [
                {"name": "a", "dataType": "STRING"},
                {"name": "b", "dataType": "STRING", "maxLength": 1000},
                {"name": "c", "dataType": "STRING", "foo": 1}
            ]
        }))
        .expect("schema");
        assert_eq!(
            parsed.warnings,
            [
                "unknown field ignored field=`owner`",
                "setting ignored: strings are stored at full length field=`dimensionFieldSpecs[1].maxLength`",
                "unknown field ignored field=`dimensionFieldSpecs[2].foo`",
            ]
        );
    }

    #[test]
    fn test_structural_errors_name_the_field() {
        let missing_name = parse_error(json!({"dimensionFieldSpecs": []}));
        assert_eq!(missing_name, "missing required field field=`schemaName`");
        let empty_name = parse_error(json!({"schemaName": ""}));
        assert!(empty_name.contains("field=`schemaName`"), "{empty_name}");
        let no_column_name =
            parse_error(json!({"schemaName": "s", "dimensionFieldSpecs": [{"dataType": "INT"}]}));
        assert!(
            no_column_name.contains("field=`dimensionFieldSpecs[0].name`"),
            "{no_column_name}"
        );
        let not_object = parse_error(json!([1]));
        assert!(
            not_object.contains("expected a json object"),
            "{not_object}"
        );
        let not_json = Schema::from_json("{").expect_err("not json");
        assert!(matches!(
            not_json,
            Error::InvalidJson { what: "schema", .. }
        ));
    }

    #[test]
    fn test_duplicate_column_is_named() {
        let message = parse_error(json!({
            "schemaName": "s",
            "dimensionFieldSpecs": [{"name": "a", "dataType": "INT"}],
            "metricFieldSpecs": [{"name": "a", "dataType": "INT"}]
        }));
        assert!(message.contains("duplicate column name"), "{message}");
        assert!(
            message.contains("field=`metricFieldSpecs[0].name` column=`a`"),
            "{message}"
        );
        assert!(message.contains("`dimensionFieldSpecs[0]`"), "{message}");
    }

    #[test]
    fn test_unknown_data_type_lists_valid_names() {
        let message = parse_error(json!({
            "schemaName": "s",
            "dimensionFieldSpecs": [{"name": "price", "dataType": "BIG_DECIMAL"}]
        }));
        assert!(
            message.contains("INT, LONG, FLOAT, DOUBLE, BOOLEAN, TIMESTAMP, STRING, BYTES, JSON")
        );
        assert!(message.contains("value=`BIG_DECIMAL`"), "{message}");
        assert!(message.contains("field=`dimensionFieldSpecs[0].dataType` column=`price`"));
        let missing =
            parse_error(json!({"schemaName": "s", "dimensionFieldSpecs": [{"name": "p"}]}));
        assert!(
            missing.contains("field=`dimensionFieldSpecs[0].dataType`"),
            "{missing}"
        );
    }

    #[test]
    fn test_metric_rules() {
        let string_metric = parse_error(json!({
            "schemaName": "s", "metricFieldSpecs": [{"name": "m", "dataType": "STRING"}]
        }));
        assert!(string_metric.contains("a metric must be INT, LONG, FLOAT, DOUBLE or BYTES"));
        assert!(string_metric.contains("field=`metricFieldSpecs[0].dataType` column=`m`"));
        let multi_value_metric = parse_error(json!({
            "schemaName": "s",
            "metricFieldSpecs": [{"name": "m", "dataType": "INT", "singleValueField": false}]
        }));
        assert!(
            multi_value_metric.contains("must be single-value"),
            "{multi_value_metric}"
        );
        assert!(multi_value_metric.contains("field=`metricFieldSpecs[0].singleValueField`"));
    }

    #[test]
    fn test_date_time_rules() {
        let no_format = parse_error(json!({
            "schemaName": "s",
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "granularity": "1:DAYS"}]
        }));
        assert!(no_format.contains("field=`dateTimeFieldSpecs[0].format` column=`ts`"));
        let no_granularity = parse_error(json!({
            "schemaName": "s",
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:DAYS:EPOCH"}]
        }));
        assert!(no_granularity.contains("field=`dateTimeFieldSpecs[0].granularity` column=`ts`"));
        let boolean_time = parse_error(json!({
            "schemaName": "s",
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "BOOLEAN", "format": "x", "granularity": "y"}]
        }));
        assert!(
            boolean_time.contains("INT, LONG, STRING or TIMESTAMP"),
            "{boolean_time}"
        );
        assert!(boolean_time.contains("field=`dateTimeFieldSpecs[0].dataType` column=`ts`"));
        let multi_value_time = parse_error(json!({
            "schemaName": "s",
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "singleValueField": false,
                                    "format": "1:DAYS:EPOCH", "granularity": "1:DAYS"}]
        }));
        assert!(multi_value_time.contains("field=`dateTimeFieldSpecs[0].singleValueField`"));
    }

    #[test]
    fn test_bad_default_null_value_names_the_column() {
        let message = parse_error(json!({
            "schemaName": "s",
            "dimensionFieldSpecs": [{"name": "n", "dataType": "INT", "defaultNullValue": "abc"}]
        }));
        assert!(message.contains("a 32-bit integer"), "{message}");
        assert!(message.contains("field=`dimensionFieldSpecs[0].defaultNullValue` column=`n`"));
    }

    #[test]
    fn test_primary_key_columns_must_exist() {
        let message = parse_error(json!({
            "schemaName": "s",
            "dimensionFieldSpecs": [{"name": "order_id", "dataType": "LONG"}],
            "primaryKeyColumns": ["orderid"]
        }));
        assert!(message.contains("did you mean `order_id`?"), "{message}");
        assert!(
            message.contains("field=`primaryKeyColumns` column=`orderid`"),
            "{message}"
        );
    }

    #[test]
    fn test_complex_field_specs_are_unsupported() {
        let message = parse_error(json!({
            "schemaName": "s",
            "complexFieldSpecs": [{"name": "m", "dataType": "MAP"}]
        }));
        assert!(message.starts_with("unsupported setting"), "{message}");
        assert!(message.contains("field=`complexFieldSpecs`"), "{message}");
        parse(json!({"schemaName": "s", "complexFieldSpecs": []})).expect("empty is fine");
    }

    #[test]
    fn test_round_trip_through_pinot_json() {
        let original = parse(json!({
            "schemaName": "events",
            "dimensionFieldSpecs": [
                {"name": "tags", "dataType": "STRING", "singleValueField": false},
                {"name": "id", "dataType": "LONG", "notNull": true, "defaultNullValue": "-1"}
            ],
            "metricFieldSpecs": [{"name": "amount", "dataType": "DOUBLE", "defaultNullValue": 0.5}],
            "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP",
                                    "format": "1:MILLISECONDS:TIMESTAMP", "granularity": "1:SECONDS"}],
            "primaryKeyColumns": ["id"]
        }))
        .expect("schema")
        .value;
        let text = serde_json::to_string(&original.to_pinot_json()).expect("serialize");
        let reparsed = Schema::from_json(&text).expect("round trip");
        assert!(reparsed.warnings.is_empty(), "{:?}", reparsed.warnings);
        assert_eq!(reparsed.value, original);

        let lineitem = Schema::from_json(&lineitem_schema_text())
            .expect("lineitem")
            .value;
        let reparsed = Schema::from_value(&lineitem.to_pinot_json()).expect("round trip");
        assert_eq!(reparsed.value, lineitem);
    }
}
