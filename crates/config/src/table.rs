//! Pinot-format table configs: the table's type, time column, indexes and stream.
//!
//! A [`TableConfig`] is validated against its [`Schema`]: every column it names exists,
//! and every index it asks for is one Tessera can build on that column. Pinot settings
//! that only tune Pinot's own machinery are ignored with a warning; settings whose
//! meaning Tessera cannot honor (star-trees, upserts, JSON indexes) are errors.

mod index_columns;
mod index_rules;
pub mod lakehouse;
mod segments_config;
mod stream_configs;
pub mod tiers;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::Parsed;
use crate::error::{Error, Result};
use crate::json_reader::{ObjectReader, ROOT_PATH, Warnings};
use crate::schema::{DataType, Schema};
use index_columns::{IndexColumnRefs, read_field_config_list, read_table_index_config};

/// Whether a table is loaded in batches (OFFLINE) or consumed from a stream (REALTIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TableType {
    Offline,
    Realtime,
}

impl TableType {
    /// `"OFFLINE"` or `"REALTIME"`, also the suffix of Pinot's typed table names.
    pub fn pinot_name(self) -> &'static str {
        match self {
            TableType::Offline => "OFFLINE",
            TableType::Realtime => "REALTIME",
        }
    }

    /// Parses `OFFLINE` or `REALTIME`, ignoring case.
    pub fn parse(name: &str) -> Option<TableType> {
        [TableType::Offline, TableType::Realtime]
            .into_iter()
            .find(|table_type| table_type.pinot_name().eq_ignore_ascii_case(name))
    }
}

/// The columns of each index kind, resolved from `tableIndexConfig` and `fieldConfigList`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexingConfig {
    /// `tableIndexConfig.sortedColumn` (at most one) or a `SORTED` field config.
    pub sorted_column: Option<String>,
    pub inverted_index_columns: Vec<String>,
    pub range_index_columns: Vec<String>,
    /// `bloomFilterColumns` plus the keys of `bloomFilterConfigs`.
    pub bloom_filter_columns: Vec<String>,
    /// `noDictionaryColumns` plus `fieldConfigList` entries with `encodingType: RAW`.
    pub no_dictionary_columns: Vec<String>,
    /// `fieldConfigList` entries whose index types include `TEXT`.
    pub text_index_columns: Vec<String>,
    /// `fieldConfigList` entries naming a `compressionCodec`; other raw columns take
    /// [`RawCompression::default`].
    pub compression_codecs: Vec<(String, RawCompression)>,
}

/// How a raw column's chunks are compressed (`fieldConfigList[].compressionCodec`).
/// Frame-of-reference bit-packing comes first whatever the codec: a chunk of numbers
/// that packs is stored packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawCompression {
    /// LZ4 blocks: several times faster to decompress than zstd, so scans of raw
    /// strings (LIKE, REGEXP) are bound by matching, not decompression. Pinot's
    /// default for raw columns too.
    #[default]
    Lz4,
    /// zstd frames (level 3): smaller, slower to read.
    Zstandard,
    /// Stored as written.
    PassThrough,
}

impl RawCompression {
    /// The codec a `compressionCodec` value names (`SNAPPY` is stored as LZ4, the
    /// same class of codec; the config reader warns).
    pub fn parse(name: &str) -> Option<RawCompression> {
        match name.to_ascii_uppercase().as_str() {
            "LZ4" | "SNAPPY" => Some(RawCompression::Lz4),
            "ZSTANDARD" | "ZSTD" => Some(RawCompression::Zstandard),
            "PASS_THROUGH" | "NONE" => Some(RawCompression::PassThrough),
            _ => None,
        }
    }

    /// The name `segment inspect` and the column metadata show.
    pub fn name(self) -> &'static str {
        match self {
            RawCompression::Lz4 => "LZ4",
            RawCompression::Zstandard => "ZSTANDARD",
            RawCompression::PassThrough => "PASS_THROUGH",
        }
    }
}

/// The resolved index settings of one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ColumnIndexConfig {
    /// Dictionary-encoded; false means raw (`noDictionaryColumns`).
    pub dictionary: bool,
    pub sorted: bool,
    pub inverted: bool,
    pub range: bool,
    pub bloom: bool,
    pub text: bool,
    /// Raw columns: how chunks are compressed.
    pub compression: RawCompression,
}

/// A validated table config.
#[derive(Debug, Clone, PartialEq)]
pub struct TableConfig {
    /// The raw table name, without Pinot's `_OFFLINE`/`_REALTIME` suffix; equals the schema name.
    pub table_name: String,
    pub table_type: TableType,
    /// `segmentsConfig.timeColumnName`: a single-value INT, LONG or TIMESTAMP column.
    pub time_column: Option<String>,
    /// `segmentsConfig.replication` (or `replicasPerPartition`), default 1.
    pub replication: u32,
    /// `(retentionTimeUnit, retentionTimeValue)`, the unit uppercased (`("DAYS", "30")`).
    pub retention: Option<(String, String)>,
    pub indexing: IndexingConfig,
    /// `tableIndexConfig.streamConfigs` or `ingestionConfig.streamIngestionConfig
    /// .streamConfigMaps[0]`, every value as a string.
    pub stream_configs: BTreeMap<String, String>,
    /// The JSON as given, returned unchanged by GET requests.
    pub raw: Value,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "tableName",
    "tableType",
    "segmentsConfig",
    "tableIndexConfig",
    "fieldConfigList",
    "ingestionConfig",
    "upsertConfig",
    "dedupConfig",
    "tierConfigs",
    "lakehouse",
];

/// Pinot cluster and query-routing settings: Tessera has its own answers to these.
const IGNORED_TOP_LEVEL_KEYS: &[&str] = &[
    "tenants",
    "metadata",
    "routing",
    "query",
    "quota",
    "task",
    "instanceAssignmentConfigMap",
    "isDimTable",
];

impl TableConfig {
    /// `segmentsConfig.retentionTimeUnit`/`retentionTimeValue` in milliseconds.
    pub fn retention_millis(&self) -> Option<i64> {
        let (unit, value) = self.retention.as_ref()?;
        crate::schema::duration_millis(unit, value)
    }

    /// Parses a Pinot `table.json` and validates it against `schema`.
    pub fn from_json(text: &str, schema: &Schema) -> Result<Parsed<TableConfig>> {
        let value: Value = serde_json::from_str(text).map_err(|source| Error::InvalidJson {
            what: "table config",
            source,
        })?;
        TableConfig::from_value(&value, schema)
    }

    /// The stream configs of a Pinot table config (from `tableIndexConfig.streamConfigs`
    /// or `ingestionConfig.streamIngestionConfig.streamConfigMaps`, as
    /// [`TableConfig::from_value`] reads them), without its schema.
    pub fn stream_configs_of(value: &Value) -> Result<BTreeMap<String, String>> {
        stream_configs::read_stream_configs(&ObjectReader::new(value, ROOT_PATH)?)
    }

    /// Validates a Pinot table config already parsed as JSON against `schema`.
    pub fn from_value(value: &Value, schema: &Schema) -> Result<Parsed<TableConfig>> {
        let mut warnings = Warnings::default();
        let root = ObjectReader::new(value, ROOT_PATH)?;
        let all_known: Vec<&str> = TOP_LEVEL_KEYS
            .iter()
            .chain(IGNORED_TOP_LEVEL_KEYS)
            .copied()
            .collect();
        root.warn_unknown_keys(&all_known, &mut warnings);
        root.warn_ignored_keys(
            IGNORED_TOP_LEVEL_KEYS,
            "tessera does not use this setting",
            &mut warnings,
        );

        let table_type_name = root.required_str("tableType")?;
        let table_type = TableType::parse(table_type_name).ok_or_else(|| Error::Invalid {
            field: "tableType".to_string(),
            message: format!("must be OFFLINE or REALTIME value=`{table_type_name}`"),
        })?;
        let table_name = read_table_name(&root, table_type, schema)?;
        let segments = segments_config::read_segments_config(&root, schema, &mut warnings)?;

        let mut refs = IndexColumnRefs::default();
        if let Some(index_config) = root.object("tableIndexConfig")? {
            read_table_index_config(&index_config, &mut refs, &mut warnings)?;
        }
        read_field_config_list(&root, &mut refs, &mut warnings)?;
        let stream_configs = stream_configs::read_stream_configs(&root)?;
        reject_upsert_and_dedup(&root)?;
        tiers::cold_tier_age(value)?;
        lakehouse::lakehouse_config(value, schema, segments.time_column.as_deref())?;
        index_rules::check_index_columns(schema, &refs)?;

        Ok(Parsed {
            value: TableConfig {
                table_name,
                table_type,
                time_column: segments.time_column,
                replication: segments.replication,
                retention: segments.retention,
                indexing: refs.to_indexing_config(),
                stream_configs,
                raw: value.clone(),
            },
            warnings: warnings.into_messages(),
        })
    }

    /// The config used when a segment is built without a table config: OFFLINE, every
    /// column dictionary-encoded, no indexes, and the time column the schema's first
    /// dateTime field that can be one (single-value INT, LONG or TIMESTAMP).
    pub fn default_for(schema: &Schema) -> TableConfig {
        let time_column = schema
            .date_time_fields()
            .find(|field| {
                field.single_value
                    && matches!(
                        field.data_type,
                        DataType::Int | DataType::Long | DataType::Timestamp
                    )
            })
            .map(|field| field.name.clone());
        let mut segments_config = json!({"replication": "1"});
        if let (Some(column), Value::Object(map)) = (&time_column, &mut segments_config) {
            map.insert("timeColumnName".to_string(), json!(column));
        }
        TableConfig {
            table_name: schema.name.clone(),
            table_type: TableType::Offline,
            time_column,
            replication: 1,
            retention: None,
            indexing: IndexingConfig::default(),
            stream_configs: BTreeMap::new(),
            raw: json!({
                "tableName": schema.name,
                "tableType": TableType::Offline.pinot_name(),
                "segmentsConfig": segments_config,
            }),
        }
    }

    /// The resolved index settings of one column (dictionary = not in noDictionaryColumns).
    pub fn column_index_config(&self, column: &str) -> ColumnIndexConfig {
        let indexing = &self.indexing;
        let lists = |list: &[String]| list.iter().any(|name| name == column);
        ColumnIndexConfig {
            dictionary: !lists(&indexing.no_dictionary_columns),
            sorted: indexing.sorted_column.as_deref() == Some(column),
            inverted: lists(&indexing.inverted_index_columns),
            range: lists(&indexing.range_index_columns),
            bloom: lists(&indexing.bloom_filter_columns),
            text: lists(&indexing.text_index_columns),
            compression: indexing
                .compression_codecs
                .iter()
                .find(|(name, _)| name == column)
                .map(|(_, codec)| *codec)
                .unwrap_or_default(),
        }
    }

    /// Pinot's typed table name, such as `lineitem_OFFLINE`.
    pub fn table_name_with_type(&self) -> String {
        format!("{}_{}", self.table_name, self.table_type.pinot_name())
    }
}

/// `tableName`, with Pinot's type suffix stripped; it must name the schema.
fn read_table_name(
    root: &ObjectReader<'_>,
    table_type: TableType,
    schema: &Schema,
) -> Result<String> {
    let written_name = root.required_str("tableName")?;
    let mut raw_name = written_name;
    for suffix_type in [TableType::Offline, TableType::Realtime] {
        let suffix = format!("_{}", suffix_type.pinot_name());
        if let Some(base_name) = written_name.strip_suffix(&suffix) {
            if suffix_type != table_type {
                return Err(Error::Invalid {
                    field: "tableName".to_string(),
                    message: format!(
                        "the name's type suffix contradicts tableType; drop the suffix \
                         value=`{written_name}` tableType=`{}`",
                        table_type.pinot_name()
                    ),
                });
            }
            raw_name = base_name;
        }
    }
    if raw_name != schema.name {
        return Err(Error::Invalid {
            field: "tableName".to_string(),
            message: format!(
                "the table name must equal the schema name; rename the table or the schema \
                 value=`{raw_name}` schemaName=`{}`",
                schema.name
            ),
        });
    }
    Ok(raw_name.to_string())
}

fn reject_upsert_and_dedup(root: &ObjectReader<'_>) -> Result<()> {
    if let Some(upsert) = root.object("upsertConfig")?
        && !upsert.map().is_empty()
    {
        // Pinot defaults an upsert config without a mode to FULL.
        let mode = upsert.optional_str("mode")?.unwrap_or("FULL");
        if !mode.eq_ignore_ascii_case("NONE") {
            return Err(Error::Unsupported {
                field: upsert.field_path("mode"),
                message: format!(
                    "upserts are not supported; rows are append-only, remove upsertConfig \
                     value=`{mode}`"
                ),
            });
        }
    }
    if let Some(dedup) = root.object("dedupConfig")?
        && dedup.optional_bool("dedupEnabled")? == Some(true)
    {
        return Err(Error::Unsupported {
            field: dedup.field_path("dedupEnabled"),
            message: "deduplication is not supported; rows are append-only, remove dedupConfig"
                .to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_dataset_file(name: &str) -> String {
        let path = format!(
            "{}/../../../shared/datasets/lineitem/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).expect("the shared lineitem dataset")
    }

    fn lineitem_schema() -> Schema {
        Schema::from_json(&shared_dataset_file("schema.json"))
            .expect("lineitem schema")
            .value
    }

    fn parse(value: Value) -> Result<Parsed<TableConfig>> {
        TableConfig::from_value(&value, &lineitem_schema())
    }

    /// A minimal lineitem table config with `extra` top-level settings merged in.
    fn lineitem_table(extra: Value) -> Value {
        let mut table = json!({"tableName": "lineitem", "tableType": "OFFLINE"});
        if let (Value::Object(table_map), Value::Object(extra_map)) = (&mut table, extra) {
            table_map.extend(extra_map);
        }
        table
    }

    fn error_for(extra: Value) -> String {
        parse(lineitem_table(extra))
            .expect_err("table config should be rejected")
            .to_string()
    }

    fn warnings_for(extra: Value) -> Vec<String> {
        parse(lineitem_table(extra))
            .expect("table config should be accepted")
            .warnings
    }

    #[test]
    fn test_lineitem_table_config_resolves_indexes() {
        let text = shared_dataset_file("table.json");
        let parsed = TableConfig::from_json(&text, &lineitem_schema()).expect("lineitem table");
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let table = parsed.value;
        assert_eq!(table.table_name, "lineitem");
        assert_eq!(table.table_type, TableType::Offline);
        assert_eq!(table.table_name_with_type(), "lineitem_OFFLINE");
        assert_eq!(table.time_column.as_deref(), Some("l_shipdate"));
        assert_eq!(table.replication, 1);
        assert_eq!(table.retention, None);
        assert!(table.stream_configs.is_empty());
        assert_eq!(
            table.raw,
            serde_json::from_str::<Value>(&text).expect("json")
        );

        let comment = table.column_index_config("l_comment");
        assert!(!comment.dictionary && comment.text && !comment.inverted);
        let shipdate = table.column_index_config("l_shipdate");
        assert!(shipdate.sorted && shipdate.dictionary);
        let orderkey = table.column_index_config("l_orderkey");
        assert!(orderkey.inverted && orderkey.bloom && orderkey.dictionary && !orderkey.sorted);
        let quantity = table.column_index_config("l_quantity");
        assert!(quantity.range && quantity.dictionary);
        assert!(!table.column_index_config("l_extendedprice").dictionary);
        assert_eq!(
            table.column_index_config("not_a_column"),
            ColumnIndexConfig {
                dictionary: true,
                ..ColumnIndexConfig::default()
            }
        );
        assert_eq!(
            table.indexing.no_dictionary_columns,
            ["l_extendedprice", "l_comment"]
        );
        assert_eq!(table.indexing.text_index_columns, ["l_comment"]);
    }

    #[test]
    fn test_default_for_uses_first_date_time_field() {
        let schema = lineitem_schema();
        let table = TableConfig::default_for(&schema);
        assert_eq!(table.table_name, "lineitem");
        assert_eq!(table.table_type, TableType::Offline);
        assert_eq!(table.time_column.as_deref(), Some("l_shipdate"));
        assert_eq!(table.indexing, IndexingConfig::default());
        assert!(schema.fields.iter().all(|field| {
            table.column_index_config(&field.name)
                == ColumnIndexConfig {
                    dictionary: true,
                    ..ColumnIndexConfig::default()
                }
        }));
        let reparsed = TableConfig::from_value(&table.raw, &schema).expect("raw parses");
        assert_eq!(reparsed.value, table);
    }

    #[test]
    fn test_pinot_table_name_suffix_is_stripped() {
        let offline = parse(json!({"tableName": "lineitem_OFFLINE", "tableType": "offline"}))
            .expect("suffixed name")
            .value;
        assert_eq!(offline.table_name, "lineitem");
        let realtime = parse(json!({"tableName": "lineitem_REALTIME", "tableType": "REALTIME"}))
            .expect("realtime")
            .value;
        assert_eq!(realtime.table_type, TableType::Realtime);
        assert_eq!(realtime.table_name, "lineitem");
        assert_eq!(realtime.table_name_with_type(), "lineitem_REALTIME");
        let contradiction =
            parse(json!({"tableName": "lineitem_REALTIME", "tableType": "OFFLINE"}))
                .expect_err("suffix contradicts type")
                .to_string();
        assert!(
            contradiction.contains("field=`tableName`"),
            "{contradiction}"
        );
    }

    #[test]
    fn test_table_name_and_type_are_required() {
        let other_name = parse(json!({"tableName": "orders", "tableType": "OFFLINE"}))
            .expect_err("name mismatch")
            .to_string();
        assert!(
            other_name.contains("must equal the schema name"),
            "{other_name}"
        );
        assert!(
            other_name.contains("schemaName=`lineitem` field=`tableName`"),
            "{other_name}"
        );
        let no_name = parse(json!({"tableType": "OFFLINE"}))
            .expect_err("no name")
            .to_string();
        assert_eq!(no_name, "missing required field field=`tableName`");
        let no_type = parse(json!({"tableName": "lineitem"}))
            .expect_err("no type")
            .to_string();
        assert_eq!(no_type, "missing required field field=`tableType`");
        let bad_type = parse(json!({"tableName": "lineitem", "tableType": "HYBRID"}))
            .expect_err("bad type")
            .to_string();
        assert!(
            bad_type.contains("value=`HYBRID` field=`tableType`"),
            "{bad_type}"
        );
        let not_json = TableConfig::from_json("{", &lineitem_schema()).expect_err("not json");
        assert!(matches!(
            not_json,
            Error::InvalidJson {
                what: "table config",
                ..
            }
        ));
    }

    #[test]
    fn test_realtime_table_reads_ingestion_stream_without_warnings() {
        let parsed = parse(json!({
            "tableName": "lineitem",
            "tableType": "REALTIME",
            "segmentsConfig": {"timeColumnName": "l_shipdate", "replicasPerPartition": "2"},
            "ingestionConfig": {
                "streamIngestionConfig": {"streamConfigMaps": [{"streamType": "push"}]},
                "transformConfigs": [{"columnName": "x", "transformFunction": "y"}]
            }
        }))
        .expect("realtime table");
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(parsed.value.replication, 2);
        assert_eq!(parsed.value.stream_configs["streamType"], "push");
    }

    #[test]
    fn test_unhonorable_settings_are_unsupported() {
        let cases = [
            (
                json!({"tableIndexConfig": {"starTreeIndexConfigs": [{"dimensionsSplitOrder": ["l_shipmode"]}]}}),
                "tableIndexConfig.starTreeIndexConfigs",
            ),
            (
                json!({"tableIndexConfig": {"enableDefaultStarTree": true}}),
                "tableIndexConfig.enableDefaultStarTree",
            ),
            (
                json!({"tableIndexConfig": {"jsonIndexColumns": ["l_comment"]}}),
                "tableIndexConfig.jsonIndexColumns",
            ),
            (
                json!({"upsertConfig": {"mode": "PARTIAL"}}),
                "upsertConfig.mode",
            ),
            (
                json!({"upsertConfig": {"comparisonColumn": "l_shipdate"}}),
                "upsertConfig.mode",
            ),
            (
                json!({"dedupConfig": {"dedupEnabled": true}}),
                "dedupConfig.dedupEnabled",
            ),
        ];
        for (extra, field) in cases {
            let message = error_for(extra);
            assert!(message.starts_with("unsupported setting"), "{message}");
            assert!(message.contains(&format!("field=`{field}`")), "{message}");
        }
        let fst = error_for(
            json!({"fieldConfigList": [{"name": "l_comment", "indexTypes": ["TEXT", "FST"]}]}),
        );
        assert!(
            fst.contains("value=`FST` field=`fieldConfigList[0].indexTypes` column=`l_comment`")
        );
        let vector = error_for(
            json!({"fieldConfigList": [{"name": "l_comment", "indexes": {"vector": {}}}]}),
        );
        assert!(vector.contains("field=`fieldConfigList[0].indexes.vector` column=`l_comment`"));

        let harmless = parse(lineitem_table(json!({
            "upsertConfig": {"mode": "NONE"}, "dedupConfig": {"dedupEnabled": false},
            "tableIndexConfig": {"enableDefaultStarTree": false, "starTreeIndexConfigs": []}})));
        assert!(harmless.is_ok(), "{harmless:?}");
    }

    #[test]
    fn test_field_config_index_types_and_indexes_object() {
        let table = parse(lineitem_table(json!({"fieldConfigList": [
            {"name": "l_shipmode", "indexTypes": ["inverted", "RANGE"]},
            {"name": "l_partkey", "indexType": "BLOOM_FILTER", "encodingType": "DICTIONARY"},
            {"name": "l_comment", "encodingType": "RAW", "indexType": "TEXT", "compressionCodec": "ZSTANDARD"},
            {"name": "l_shipdate", "indexes": {"inverted": {"disabled": true}, "range": {}}},
            {"name": "l_tax", "indexes": {"dictionary": {"disabled": true}, "bloom": {"fpp": 0.01}}}
        ]})))
        .expect("field configs")
        .value;
        let shipmode = table.column_index_config("l_shipmode");
        assert!(shipmode.inverted && shipmode.range);
        assert!(table.column_index_config("l_partkey").bloom);
        let comment = table.column_index_config("l_comment");
        assert!(comment.text && !comment.dictionary);
        let shipdate = table.column_index_config("l_shipdate");
        assert!(shipdate.range && !shipdate.inverted);
        let tax = table.column_index_config("l_tax");
        assert!(tax.bloom && !tax.dictionary);
    }

    #[test]
    fn test_compression_codecs_are_read_per_column() {
        let table = parse(lineitem_table(json!({"fieldConfigList": [
            {"name": "l_comment", "encodingType": "RAW", "compressionCodec": "ZSTANDARD"},
            {"name": "l_extendedprice", "compressionCodec": "pass_through"}]})))
        .expect("codecs")
        .value;
        let codec = |column: &str| table.column_index_config(column).compression;
        assert_eq!(codec("l_comment"), RawCompression::Zstandard);
        assert_eq!(codec("l_extendedprice"), RawCompression::PassThrough);
        assert_eq!(codec("l_tax"), RawCompression::Lz4, "the default");
    }

    #[test]
    fn test_snappy_and_unknown_compression_codecs_warn() {
        let warnings = warnings_for(json!({"fieldConfigList": [
            {"name": "l_comment", "encodingType": "RAW", "compressionCodec": "SNAPPY"},
            {"name": "l_extendedprice", "compressionCodec": "GORILLA"}]}));
        assert_eq!(
            warnings,
            [
                "stored as LZ4, the same class of codec codec=`SNAPPY` \
              field=`fieldConfigList[0].compressionCodec` column=`l_comment`",
                "setting ignored: supported codecs are LZ4, ZSTANDARD and PASS_THROUGH; \
              the column keeps LZ4 codec=`GORILLA` \
              field=`fieldConfigList[1].compressionCodec` column=`l_extendedprice`"
            ]
        );
    }

    #[test]
    fn test_unknown_and_ignored_settings_warn() {
        let warnings = warnings_for(json!({
            "tenants": {"broker": "DefaultTenant"},
            "metadata": {},
            "isDimTable": false,
            "owner": "me",
            "tableIndexConfig": {"loadMode": "MMAP", "segmentPartitionConfig": {"columnPartitionMap": {}},
                                 "aggregateMetrics": false, "mystery": 1},
            "fieldConfigList": [{"name": "l_comment", "encodingType": "RAW", "colour": "red"}]
        }));
        assert_eq!(
            warnings,
            [
                "unknown field ignored field=`owner`",
                "setting ignored: tessera does not use this setting field=`tenants`",
                "unknown field ignored field=`tableIndexConfig.mystery`",
                "setting ignored: tessera does not use this setting field=`tableIndexConfig.loadMode`",
                "setting ignored: segments are not pruned by partition \
                 field=`tableIndexConfig.segmentPartitionConfig`",
                "unknown field ignored field=`fieldConfigList[0].colour`",
            ]
        );
    }

    #[test]
    fn test_table_type_parses_ignoring_case() {
        assert_eq!(TableType::parse("realtime"), Some(TableType::Realtime));
        assert_eq!(TableType::parse("OFFLINE"), Some(TableType::Offline));
        assert_eq!(TableType::parse("hybrid"), None);
        let serialized = serde_json::to_value(TableType::Realtime).expect("serialize");
        assert_eq!(serialized, json!("REALTIME"));
    }
}
