//! What the realtime tests share: a catalog holding one REALTIME table.

use tessera_meta::{Catalog, TableRecord};

/// Record schema `name` and a REALTIME table `name` with `table_json` in `catalog`.
pub fn create_realtime_table(catalog: &Catalog, name: &str, schema_json: &str, table_json: &str) {
    catalog
        .put_schema(name, schema_json)
        .expect("schema record");
    catalog
        .create_table(&TableRecord {
            name: name.into(),
            table_type: "REALTIME".into(),
            schema_name: name.into(),
            config: serde_json::from_str(table_json).expect("table json"),
            created_ms: 0,
            deleted_ms: None,
        })
        .expect("table record");
}
