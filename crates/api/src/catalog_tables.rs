//! A catalog table as the cluster roles read it from their mirrors: its schema JSON,
//! and the parsed schema, table config and query schema (one parser for the server,
//! the realtime consumer, the broker's routing and the controller).

use anyhow::Context;
use tessera_config::{Schema, TableConfig};
use tessera_coordination::MirrorSnapshot;
use tessera_meta::TableRecord;
use tessera_query::planner::TableSchema;

/// The query schema of a catalog table.
pub fn table_schema(record: &TableRecord, schemas: &MirrorSnapshot) -> anyhow::Result<TableSchema> {
    Ok(parse_table(record, schema_json(record, schemas)?)?.2)
}

/// The JSON of a catalog table's schema, from a mirror of `schemas/`.
pub fn schema_json<'a>(
    record: &TableRecord,
    schemas: &'a MirrorSnapshot,
) -> anyhow::Result<&'a str> {
    schemas
        .entries
        .get(&format!("schemas/{}", record.schema_name))
        .map(|stored| stored.value.as_str())
        .with_context(|| format!("schema `{}` is missing", record.schema_name))
}

/// A catalog table's schema, table config and query schema, parsed from `schema_json`.
pub fn parse_table(
    record: &TableRecord,
    schema_json: &str,
) -> anyhow::Result<(Schema, TableConfig, TableSchema)> {
    let schema = Schema::from_json(schema_json)?.value;
    let config = TableConfig::from_json(&record.config.to_string(), &schema)?.value;
    let query_schema =
        TableSchema::from_config(&record.name, &schema, config.time_column.as_deref());
    Ok((schema, config, query_schema))
}

/// A catalog table's schema, table config and query schema, its schema read from
/// `catalog`.
pub fn read_table(
    catalog: &tessera_meta::Catalog,
    record: &TableRecord,
) -> anyhow::Result<(Schema, TableConfig, TableSchema)> {
    let schema_json = catalog
        .schema(&record.schema_name)?
        .with_context(|| format!("schema `{}` is missing", record.schema_name))?;
    parse_table(record, &schema_json)
}

/// Whether a table takes pushes (`streamType` push), wherever its config writes its
/// stream configs.
pub fn takes_pushes(record: &TableRecord) -> bool {
    TableConfig::stream_configs_of(&record.config)
        .is_ok_and(|configs| tessera_config::stream::is_push_stream(&configs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(config: serde_json::Value) -> TableRecord {
        TableRecord {
            name: "t".into(),
            table_type: "REALTIME".into(),
            schema_name: "t".into(),
            config,
            created_ms: 0,
            deleted_ms: None,
        }
    }

    #[test]
    fn test_push_tables_are_recognised_wherever_their_stream_configs_are() {
        let index = serde_json::json!({"tableName": "t", "tableIndexConfig": {
            "streamConfigs": {"streamType": "push"}}});
        let ingestion = serde_json::json!({"tableName": "t", "ingestionConfig": {
            "streamIngestionConfig": {"streamConfigMaps": [{"streamType": "push"}]}}});
        let kafka = serde_json::json!({"tableName": "t", "tableIndexConfig": {
            "streamConfigs": {"streamType": "kafka", "stream.kafka.topic.name": "t",
                "stream.kafka.broker.list": "localhost:9092"}}});
        assert!(takes_pushes(&record(index)));
        assert!(takes_pushes(&record(ingestion)));
        assert!(!takes_pushes(&record(kafka)));
        assert!(!takes_pushes(&record(
            serde_json::json!({"tableName": "t"})
        )));
    }
}
