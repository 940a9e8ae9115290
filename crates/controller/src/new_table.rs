//! `POST /tables`, as every wiring reads it: the body checked against the schema of the
//! table's name, and the catalog record to create.

use serde_json::Value as Json;
use tessera_config::{Schema, TableConfig, TableType};
use tessera_ingest::realtime::StreamSettings;
use tessera_meta::{Catalog, TableRecord};

use tessera_api::http::{ApiError, ApiResult};
use tessera_api::strip_type_suffix;

/// A table config that passed every check, ready to be created.
pub struct NewTable {
    pub record: TableRecord,
    pub config: TableConfig,
    pub warnings: Vec<String>,
}

/// Parse a table config body (Pinot's JSON, kept as written in the record) against the
/// schema of the table's name in `catalog`; a REALTIME table's stream settings are
/// checked too. Reads the catalog: call it where blocking is allowed.
pub fn new_table(catalog: &Catalog, text: &str, created_ms: i64) -> ApiResult<NewTable> {
    let raw: Json = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("table config is not JSON: {e}")))?;
    let written_name = raw
        .get("tableName")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::bad_request("table config needs `tableName`"))?;
    let name = strip_type_suffix(written_name).to_string();
    let schema_json = catalog
        .schema(&name)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::bad_request(format!("schema `{name}` does not exist; POST /schemas first (a table's schema has the table's name)")))?;
    let schema = Schema::from_json(&schema_json)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .value;
    let parsed =
        TableConfig::from_json(text, &schema).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let config = parsed.value;
    if config.table_type == TableType::Realtime {
        StreamSettings::from_configs(&config.stream_configs)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let record = TableRecord {
        name: name.clone(),
        table_type: config.table_type.pinot_name().to_string(),
        schema_name: name,
        config: raw,
        created_ms,
        deleted_ms: None,
    };
    Ok(NewTable {
        record,
        config,
        warnings: parsed.warnings,
    })
}
