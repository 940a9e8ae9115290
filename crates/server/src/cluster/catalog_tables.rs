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
