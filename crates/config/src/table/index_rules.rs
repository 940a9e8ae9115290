//! Checks the index settings of a table config against its schema: every named column
//! exists, and each index is one Tessera can build on that column's type and shape.

use super::index_columns::{ColumnRef, IndexColumnRefs};
use crate::error::{Error, Result};
use crate::schema::{DataType, FieldSpec, Schema};
use crate::suggestion::closest_name;

/// The schema field `column` names, or an error naming `field` and the closest column.
pub(super) fn lookup_column<'s>(
    schema: &'s Schema,
    column: &str,
    field: &str,
) -> Result<&'s FieldSpec> {
    schema.field(column).ok_or_else(|| Error::UnknownColumn {
        field: field.to_string(),
        column: column.to_string(),
        suggestion: closest_name(column, schema.fields.iter().map(|spec| spec.name.as_str()))
            .map(str::to_string),
    })
}

/// `segmentsConfig.timeColumnName` must be a single-value INT, LONG or TIMESTAMP column:
/// retention and time pruning compare its values as numbers.
pub(super) fn check_time_column(schema: &Schema, column: &str, field: &str) -> Result<()> {
    let spec = lookup_column(schema, column, field)?;
    let is_time_type = matches!(
        spec.data_type,
        DataType::Int | DataType::Long | DataType::Timestamp
    );
    if !spec.single_value || !is_time_type {
        return Err(Error::InvalidColumn {
            field: field.to_string(),
            column: column.to_string(),
            message: format!(
                "the time column must be a single-value TIMESTAMP, LONG or INT column value=`{}`",
                describe_shape(spec)
            ),
        });
    }
    Ok(())
}

fn describe_shape(spec: &FieldSpec) -> String {
    if spec.single_value {
        spec.data_type.to_string()
    } else {
        format!("{} multi-value", spec.data_type)
    }
}

fn unsupported(column_ref: &ColumnRef, message: String) -> Error {
    Error::UnsupportedColumn {
        field: column_ref.field.clone(),
        column: column_ref.column.clone(),
        message,
    }
}

fn invalid(column_ref: &ColumnRef, message: String) -> Error {
    Error::InvalidColumn {
        field: column_ref.field.clone(),
        column: column_ref.column.clone(),
        message,
    }
}

/// Validates every index setting; the first problem found is returned.
pub(super) fn check_index_columns(schema: &Schema, refs: &IndexColumnRefs) -> Result<()> {
    for column_ref in refs.all() {
        lookup_column(schema, &column_ref.column, &column_ref.field)?;
    }
    // Every column exists from here on; `spec_of` cannot miss.
    let spec_of =
        |column_ref: &ColumnRef| lookup_column(schema, &column_ref.column, &column_ref.field);
    let raw_ref_of = |column: &str| {
        refs.no_dictionary
            .iter()
            .find(|raw_ref| raw_ref.column == column)
    };

    for dictionary_ref in &refs.dictionary {
        if let Some(raw_ref) = raw_ref_of(&dictionary_ref.column) {
            return Err(invalid(
                dictionary_ref,
                format!(
                    "the column is DICTIONARY here but raw in `{}`; choose one encoding",
                    raw_ref.field
                ),
            ));
        }
    }
    for raw_ref in &refs.no_dictionary {
        if !spec_of(raw_ref)?.single_value {
            return Err(unsupported(
                raw_ref,
                "raw encoding of multi-value columns is not supported; remove the column from \
                 noDictionaryColumns"
                    .to_string(),
            ));
        }
    }

    if let [first_sorted, second_sorted, ..] = refs.sorted.as_slice() {
        return Err(unsupported(
            second_sorted,
            format!(
                "a table has at most one sorted column and `{}` is already sorted",
                first_sorted.column
            ),
        ));
    }
    for sorted_ref in &refs.sorted {
        if !spec_of(sorted_ref)?.single_value {
            return Err(invalid(
                sorted_ref,
                "a sorted column must be single-value".to_string(),
            ));
        }
        if raw_ref_of(&sorted_ref.column).is_some() {
            return Err(unsupported(
                sorted_ref,
                "a sorted column requires a dictionary; remove the column from \
                 noDictionaryColumns"
                    .to_string(),
            ));
        }
    }

    for inverted_ref in &refs.inverted {
        if raw_ref_of(&inverted_ref.column).is_some() {
            return Err(unsupported(
                inverted_ref,
                "inverted index requires a dictionary; remove the column from noDictionaryColumns"
                    .to_string(),
            ));
        }
    }

    for text_ref in &refs.text {
        let spec = spec_of(text_ref)?;
        if !matches!(spec.data_type, DataType::String | DataType::Json) {
            return Err(invalid(
                text_ref,
                format!(
                    "a text index needs a STRING or JSON column value=`{}`",
                    spec.data_type
                ),
            ));
        }
        if !spec.single_value {
            return Err(unsupported(
                text_ref,
                "text index on multi-value columns is not supported".to_string(),
            ));
        }
    }

    for range_ref in &refs.range {
        let spec = spec_of(range_ref)?;
        if !spec.single_value {
            return Err(unsupported(
                range_ref,
                "range index on multi-value columns is not supported".to_string(),
            ));
        }
        if matches!(
            spec.data_type,
            DataType::Boolean | DataType::Bytes | DataType::Json
        ) {
            return Err(unsupported(
                range_ref,
                format!(
                    "range index is not supported on BOOLEAN, BYTES or JSON columns value=`{}`",
                    spec.data_type
                ),
            ));
        }
    }

    for bloom_ref in &refs.bloom {
        if !spec_of(bloom_ref)?.single_value {
            return Err(unsupported(
                bloom_ref,
                "bloom filter on multi-value columns is not supported".to_string(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::{Schema, TableConfig};

    fn schema() -> Schema {
        Schema::from_value(&json!({
            "schemaName": "orders",
            "dimensionFieldSpecs": [
                {"name": "order_id", "dataType": "LONG"},
                {"name": "ship_mode", "dataType": "STRING"},
                {"name": "comment", "dataType": "STRING"},
                {"name": "tags", "dataType": "STRING", "singleValueField": false},
                {"name": "flag", "dataType": "BOOLEAN"},
                {"name": "payload", "dataType": "BYTES"},
                {"name": "doc", "dataType": "JSON"},
                {"name": "day", "dataType": "STRING"}
            ],
            "metricFieldSpecs": [{"name": "price", "dataType": "DOUBLE"}],
            "dateTimeFieldSpecs": [
                {"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:TIMESTAMP", "granularity": "1:SECONDS"},
                {"name": "day_text", "dataType": "STRING", "format": "SIMPLE_DATE_FORMAT|yyyy-MM-dd", "granularity": "1:DAYS"}
            ]
        }))
        .expect("test schema")
        .value
    }

    fn table(extra: Value) -> Value {
        let mut table = json!({"tableName": "orders", "tableType": "OFFLINE"});
        if let (Value::Object(table_map), Value::Object(extra_map)) = (&mut table, extra) {
            table_map.extend(extra_map);
        }
        table
    }

    /// The error message for a table config with `extra` settings.
    fn error_for(extra: Value) -> String {
        TableConfig::from_value(&table(extra), &schema())
            .expect_err("table config should be rejected")
            .to_string()
    }

    fn assert_names(message: &str, field: &str, column: &str) {
        let expected = format!("field=`{field}` column=`{column}`");
        assert!(
            message.contains(&expected),
            "{message}\nexpected: {expected}"
        );
    }

    #[test]
    fn test_unknown_index_column_suggests_closest() {
        let message =
            error_for(json!({"tableIndexConfig": {"invertedIndexColumns": ["ship_mod"]}}));
        assert!(message.starts_with("unknown column"), "{message}");
        assert!(message.contains("did you mean `ship_mode`?"), "{message}");
        assert_names(
            &message,
            "tableIndexConfig.invertedIndexColumns",
            "ship_mod",
        );

        let far =
            error_for(json!({"fieldConfigList": [{"name": "zzzzzz", "indexTypes": ["TEXT"]}]}));
        assert!(!far.contains("did you mean"), "{far}");
        assert_names(&far, "fieldConfigList[0].indexTypes", "zzzzzz");

        let bloom_config =
            error_for(json!({"tableIndexConfig": {"bloomFilterConfigs": {"orderid": {}}}}));
        assert!(
            bloom_config.contains("did you mean `order_id`?"),
            "{bloom_config}"
        );
        assert_names(
            &bloom_config,
            "tableIndexConfig.bloomFilterConfigs",
            "orderid",
        );
    }

    #[test]
    fn test_unknown_time_column() {
        let message = error_for(json!({"segmentsConfig": {"timeColumnName": "tss"}}));
        assert!(message.contains("did you mean `ts`?"), "{message}");
        assert_names(&message, "segmentsConfig.timeColumnName", "tss");
    }

    #[test]
    fn test_time_column_type_and_shape() {
        let string_time = error_for(json!({"segmentsConfig": {"timeColumnName": "day_text"}}));
        assert!(
            string_time.contains("single-value TIMESTAMP, LONG or INT"),
            "{string_time}"
        );
        assert_names(&string_time, "segmentsConfig.timeColumnName", "day_text");
        let multi_value_time = error_for(json!({"segmentsConfig": {"timeColumnName": "tags"}}));
        assert!(
            multi_value_time.contains("value=`STRING multi-value`"),
            "{multi_value_time}"
        );
    }

    #[test]
    fn test_inverted_index_on_raw_column_is_unsupported() {
        let message = error_for(json!({"tableIndexConfig": {
            "invertedIndexColumns": ["comment"], "noDictionaryColumns": ["comment"]}}));
        assert_eq!(
            message,
            "unsupported setting: inverted index requires a dictionary; remove the column from \
             noDictionaryColumns field=`tableIndexConfig.invertedIndexColumns` column=`comment`"
        );
        let via_field_config = error_for(json!({
            "tableIndexConfig": {"invertedIndexColumns": ["comment"]},
            "fieldConfigList": [{"name": "comment", "encodingType": "RAW"}]}));
        assert_names(
            &via_field_config,
            "tableIndexConfig.invertedIndexColumns",
            "comment",
        );
    }

    #[test]
    fn test_sorted_column_rules() {
        let two = error_for(json!({"tableIndexConfig": {"sortedColumn": ["ts", "order_id"]}}));
        assert!(two.starts_with("unsupported setting"), "{two}");
        assert!(
            two.contains("field=`tableIndexConfig.sortedColumn`"),
            "{two}"
        );
        let multi_value = error_for(json!({"tableIndexConfig": {"sortedColumn": ["tags"]}}));
        assert!(
            multi_value.contains("must be single-value"),
            "{multi_value}"
        );
        assert_names(&multi_value, "tableIndexConfig.sortedColumn", "tags");
        let raw = error_for(json!({"tableIndexConfig": {
            "sortedColumn": ["order_id"], "noDictionaryColumns": ["order_id"]}}));
        assert!(raw.contains("requires a dictionary"), "{raw}");
        assert_names(&raw, "tableIndexConfig.sortedColumn", "order_id");
        let second_via_field_config = error_for(json!({
            "tableIndexConfig": {"sortedColumn": ["ts"]},
            "fieldConfigList": [{"name": "order_id", "indexTypes": ["SORTED"]}]}));
        assert!(second_via_field_config.contains("`ts` is already sorted"));
        assert_names(
            &second_via_field_config,
            "fieldConfigList[0].indexTypes",
            "order_id",
        );
    }

    #[test]
    fn test_text_index_needs_single_value_string() {
        let long_text =
            error_for(json!({"fieldConfigList": [{"name": "order_id", "indexTypes": ["TEXT"]}]}));
        assert!(
            long_text.contains("STRING or JSON column value=`LONG`"),
            "{long_text}"
        );
        assert_names(&long_text, "fieldConfigList[0].indexTypes", "order_id");
        let multi_value =
            error_for(json!({"fieldConfigList": [{"name": "tags", "indexType": "TEXT"}]}));
        assert!(
            multi_value.starts_with("unsupported setting"),
            "{multi_value}"
        );
        assert_names(&multi_value, "fieldConfigList[0].indexType", "tags");
    }

    #[test]
    fn test_range_and_bloom_rules() {
        let multi_value_range =
            error_for(json!({"tableIndexConfig": {"rangeIndexColumns": ["tags"]}}));
        assert!(
            multi_value_range.contains("multi-value"),
            "{multi_value_range}"
        );
        assert_names(
            &multi_value_range,
            "tableIndexConfig.rangeIndexColumns",
            "tags",
        );
        for column in ["flag", "payload", "doc"] {
            let message = error_for(json!({"tableIndexConfig": {"rangeIndexColumns": [column]}}));
            assert!(message.contains("BOOLEAN, BYTES or JSON"), "{message}");
            assert_names(&message, "tableIndexConfig.rangeIndexColumns", column);
        }
        let multi_value_bloom =
            error_for(json!({"tableIndexConfig": {"bloomFilterColumns": ["tags"]}}));
        assert!(
            multi_value_bloom.contains("bloom filter on multi-value"),
            "{multi_value_bloom}"
        );
        assert_names(
            &multi_value_bloom,
            "tableIndexConfig.bloomFilterColumns",
            "tags",
        );

        let raw_range_and_bloom = TableConfig::from_value(
            &table(json!({"tableIndexConfig": {
                "rangeIndexColumns": ["price"], "bloomFilterColumns": ["price"],
                "noDictionaryColumns": ["price"]}})),
            &schema(),
        );
        assert!(raw_range_and_bloom.is_ok(), "{raw_range_and_bloom:?}");
    }

    #[test]
    fn test_multi_value_raw_column_is_unsupported() {
        let message = error_for(json!({"tableIndexConfig": {"noDictionaryColumns": ["tags"]}}));
        assert!(
            message.contains("raw encoding of multi-value columns is not supported"),
            "{message}"
        );
        assert_names(&message, "tableIndexConfig.noDictionaryColumns", "tags");
        let via_field_config =
            error_for(json!({"fieldConfigList": [{"name": "tags", "encodingType": "RAW"}]}));
        assert_names(&via_field_config, "fieldConfigList[0].encodingType", "tags");
    }

    #[test]
    fn test_conflicting_encodings_are_invalid() {
        let message = error_for(json!({
            "tableIndexConfig": {"noDictionaryColumns": ["comment"]},
            "fieldConfigList": [{"name": "comment", "encodingType": "DICTIONARY"}]}));
        assert!(message.contains("choose one encoding"), "{message}");
        assert_names(&message, "fieldConfigList[0].encodingType", "comment");
    }
}
