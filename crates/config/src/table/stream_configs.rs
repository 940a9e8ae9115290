//! Reading a table's stream settings, from either place Pinot allows them:
//! `tableIndexConfig.streamConfigs` (older) or
//! `ingestionConfig.streamIngestionConfig.streamConfigMaps` (newer).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::json_reader::{ObjectReader, element_path};

/// The table's stream settings with every value as a string, the way Pinot's
/// `Map<String, String>` holds them; empty when the table sets none. The rest of
/// `ingestionConfig` (transforms, filters) is accepted without comment for now.
pub(super) fn read_stream_configs(root: &ObjectReader<'_>) -> Result<BTreeMap<String, String>> {
    let table_index_streams = match root.object("tableIndexConfig")? {
        Some(index_config) => match index_config.object("streamConfigs")? {
            Some(stream_configs) => stringify_map(&stream_configs),
            None => BTreeMap::new(),
        },
        None => BTreeMap::new(),
    };
    match read_ingestion_stream_configs(root)? {
        Some((maps_field, _)) if !table_index_streams.is_empty() => Err(Error::Invalid {
            field: maps_field,
            message: "stream configs are set twice; keep either these or \
                      tableIndexConfig.streamConfigs"
                .to_string(),
        }),
        Some((_, ingestion_streams)) => Ok(ingestion_streams),
        None => Ok(table_index_streams),
    }
}

/// `ingestionConfig.streamIngestionConfig.streamConfigMaps[0]` and the list's path, if set.
fn read_ingestion_stream_configs(
    root: &ObjectReader<'_>,
) -> Result<Option<(String, BTreeMap<String, String>)>> {
    let Some(ingestion) = root.object("ingestionConfig")? else {
        return Ok(None);
    };
    let Some(stream_ingestion) = ingestion.object("streamIngestionConfig")? else {
        return Ok(None);
    };
    let maps_field = stream_ingestion.field_path("streamConfigMaps");
    match stream_ingestion.array("streamConfigMaps")? {
        [] => Ok(None),
        [only_map] => {
            let stream_configs = ObjectReader::new(only_map, element_path(&maps_field, 0))?;
            Ok(Some((maps_field, stringify_map(&stream_configs))))
        }
        _ => Err(Error::Unsupported {
            field: maps_field,
            message: "a table consumes a single stream; keep one entry".to_string(),
        }),
    }
}

/// Non-null values as strings: strings as they are, anything else as JSON text.
fn stringify_map(object: &ObjectReader<'_>) -> BTreeMap<String, String> {
    object
        .map()
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (key.clone(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::json_reader::ROOT_PATH;

    fn read(table: Value) -> Result<BTreeMap<String, String>> {
        let root = ObjectReader::new(&table, ROOT_PATH).expect("object");
        read_stream_configs(&root)
    }

    fn error_for(table: Value) -> String {
        read(table)
            .expect_err("stream configs should be rejected")
            .to_string()
    }

    #[test]
    fn test_stream_configs_from_either_location() {
        let from_index_config = read(json!({"tableIndexConfig": {"streamConfigs": {
            "streamType": "kafka", "stream.kafka.topic.name": "lineitem",
            "realtime.segment.flush.threshold.rows": 100000, "enabled": true, "none": null}}}))
        .expect("streams");
        let expected: BTreeMap<String, String> = [
            ("enabled", "true"),
            ("realtime.segment.flush.threshold.rows", "100000"),
            ("stream.kafka.topic.name", "lineitem"),
            ("streamType", "kafka"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        assert_eq!(from_index_config, expected);

        let from_ingestion = read(json!({"ingestionConfig": {
            "streamIngestionConfig": {"streamConfigMaps": [{"streamType": "push"}]},
            "transformConfigs": [{"columnName": "x", "transformFunction": "y"}]}}))
        .expect("ingestion streams");
        assert_eq!(from_ingestion["streamType"], "push");
        assert!(
            read(json!({"tableIndexConfig": {}}))
                .expect("none")
                .is_empty()
        );

        let twice = error_for(json!({
            "tableIndexConfig": {"streamConfigs": {"streamType": "kafka"}},
            "ingestionConfig": {"streamIngestionConfig": {"streamConfigMaps": [{"streamType": "push"}]}}}));
        assert!(twice.contains("field=`ingestionConfig.streamIngestionConfig.streamConfigMaps`"));
        let two_streams = error_for(json!({"ingestionConfig": {"streamIngestionConfig": {
            "streamConfigMaps": [{"streamType": "push"}, {"streamType": "kafka"}]}}}));
        assert!(
            two_streams.starts_with("unsupported setting"),
            "{two_streams}"
        );
    }
}
