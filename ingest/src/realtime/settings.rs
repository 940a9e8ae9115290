//! A realtime table's stream settings, read from its Pinot `streamConfigs`.

use std::collections::BTreeMap;
use std::time::Duration;

pub use tessera_config::stream::{parse_bytes, parse_duration};

use crate::error::{Error, Result};

/// Where a realtime table's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    /// `POST /ingest/{table}`.
    Push,
    /// The built-in generator (quickstart, benchmarks).
    Generator,
    /// A Kafka topic, partition by partition ([`KafkaSettings`]).
    Kafka,
}

/// Where a partition with no committed position starts
/// (`stream.kafka.consumer.prop.auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// `smallest` / `earliest`: the oldest message still in the log (the default).
    Earliest,
    /// `largest` / `latest`: only messages produced from now on.
    Latest,
}

impl OffsetReset {
    pub fn librdkafka_name(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

/// A Kafka stream's settings from Pinot's `stream.kafka.*` keys.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSettings {
    /// `stream.kafka.topic.name`.
    pub topic: String,
    /// `stream.kafka.broker.list`.
    pub brokers: String,
    pub offset_reset: OffsetReset,
    /// librdkafka properties from `stream.kafka.consumer.prop.*` (security settings
    /// such as `security.protocol`, `sasl.mechanism`, `ssl.ca.location`).
    pub properties: BTreeMap<String, String>,
    /// How often the topic is checked for new partitions
    /// (`tessera.kafka.partition.discovery.interval`, default 30s).
    pub discovery_interval: Duration,
}

/// Pinot decoder classes that mean "one JSON object per message".
fn is_json_decoder(class: &str) -> bool {
    class.ends_with("KafkaJSONMessageDecoder") || class.ends_with("JSONMessageDecoder")
}

fn kafka_settings(configs: &BTreeMap<String, String>) -> Result<KafkaSettings> {
    let required = |key: &str| -> Result<String> {
        configs
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::Invalid(format!("a kafka stream needs streamConfigs.{key}")))
    };
    let topic = required("stream.kafka.topic.name")?;
    let brokers = required("stream.kafka.broker.list")?;
    if let Some(class) = configs.get("stream.kafka.decoder.class.name")
        && !is_json_decoder(class.trim())
    {
        return Err(Error::Invalid(format!(
            "streamConfigs.stream.kafka.decoder.class.name `{class}` is not supported; Tessera decodes JSON messages (org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder)"
        )));
    }
    let mut offset_reset = OffsetReset::Earliest;
    let mut properties = BTreeMap::new();
    for (key, value) in configs {
        let Some(property) = key.strip_prefix("stream.kafka.consumer.prop.") else {
            continue;
        };
        if property == "auto.offset.reset" {
            offset_reset = match value.trim().to_ascii_lowercase().as_str() {
                "smallest" | "earliest" => OffsetReset::Earliest,
                "largest" | "latest" => OffsetReset::Latest,
                other => {
                    return Err(Error::Invalid(format!(
                        "streamConfigs.{key} must be smallest, earliest, largest or latest value=`{other}`"
                    )));
                }
            };
            continue;
        }
        properties.insert(property.to_string(), value.clone());
    }
    let discovery_interval = match configs.get("tessera.kafka.partition.discovery.interval") {
        Some(value) => parse_duration(value)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "streamConfigs.tessera.kafka.partition.discovery.interval must be a duration such as 30s value=`{value}`"
                ))
            })?,
        None => Duration::from_secs(30),
    };
    Ok(KafkaSettings {
        topic,
        brokers,
        offset_reset,
        properties,
        discovery_interval,
    })
}

/// Resolved stream settings with their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSettings {
    pub stream_type: StreamType,
    pub partitions: u32,
    /// Seal a consuming segment at this many rows (`realtime.segment.flush.threshold.rows`).
    pub flush_rows: u32,
    /// ... or when it is this old and not empty (`realtime.segment.flush.threshold.time`).
    pub flush_time: Duration,
    /// ... or when it holds this many bytes in memory
    /// (`realtime.segment.flush.threshold.segment.size`).
    pub flush_bytes: Option<u64>,
    /// Sealed-but-not-committed segments may hold this many bytes before pushes get
    /// 503 (`tessera.backpressure.pending.bytes`).
    pub max_pending_seal_bytes: u64,
    /// How long an applied request's `Idempotency-Key` is remembered
    /// (`tessera.idempotency.window`, default 24 h): a retry within it is recognised, one
    /// after it is a new request.
    pub idempotency_window: Duration,
    /// Generator: rows per second per partition (`stream.generator.rows.per.second`).
    pub generator_rate: u64,
    /// Write rejected rows to `{data-dir}/deadletter/{table}.jsonl`
    /// (`tessera.deadletter.enabled`).
    pub dead_letter: bool,
    /// The topic and consumer settings of a kafka stream.
    pub kafka: Option<KafkaSettings>,
}

pub const DEFAULT_FLUSH_ROWS: u32 = 500_000;
/// How long idempotency keys are remembered unless the table says otherwise.
pub const DEFAULT_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl StreamSettings {
    /// [`StreamSettings::idempotency_window`] in milliseconds, for comparing with the
    /// clock.
    pub fn idempotency_window_ms(&self) -> i64 {
        i64::try_from(self.idempotency_window.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn from_configs(configs: &BTreeMap<String, String>) -> Result<StreamSettings> {
        let invalid = |key: &str, value: &str, what: &str| {
            Error::Invalid(format!(
                "streamConfigs.{key} must be {what} value=`{value}`"
            ))
        };
        let stream_type = match configs.get("streamType").map(String::as_str) {
            Some("push") => StreamType::Push,
            Some("generator") => StreamType::Generator,
            Some("kafka") => StreamType::Kafka,
            Some(other) => {
                return Err(invalid(
                    "streamType",
                    other,
                    "one of push, generator, kafka",
                ));
            }
            None => {
                return Err(Error::Invalid(
                    "a REALTIME table needs streamConfigs.streamType (push, generator or kafka)"
                        .into(),
                ));
            }
        };
        let number = |key: &str, default: u64| -> Result<u64> {
            match configs.get(key) {
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(key, value, "a positive integer")),
                None => Ok(default),
            }
        };
        let partitions_key = match stream_type {
            StreamType::Generator => "stream.generator.partitions",
            _ => "stream.push.partitions",
        };
        let flush_rows = number(
            "realtime.segment.flush.threshold.rows",
            u64::from(DEFAULT_FLUSH_ROWS),
        )?;
        let flush_time = match configs.get("realtime.segment.flush.threshold.time") {
            Some(value) => parse_duration(value)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    invalid(
                        "realtime.segment.flush.threshold.time",
                        value,
                        "a duration such as 6h or 30s",
                    )
                })?,
            None => Duration::from_secs(6 * 3600),
        };
        let bytes = |key: &str| -> Result<Option<u64>> {
            configs
                .get(key)
                .map(|value| {
                    parse_bytes(value)
                        .filter(|b| *b > 0)
                        .ok_or_else(|| invalid(key, value, "a size such as 200M"))
                })
                .transpose()
        };
        Ok(StreamSettings {
            stream_type,
            partitions: u32::try_from(number(partitions_key, 1)?.min(1024)).unwrap_or(1),
            flush_rows: u32::try_from(flush_rows.min(u64::from(u32::MAX / 2)))
                .unwrap_or(DEFAULT_FLUSH_ROWS),
            flush_time,
            flush_bytes: bytes("realtime.segment.flush.threshold.segment.size")?,
            max_pending_seal_bytes: bytes("tessera.backpressure.pending.bytes")?.unwrap_or(1 << 30),
            idempotency_window: match configs.get("tessera.idempotency.window") {
                Some(value) => parse_duration(value)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        invalid(
                            "tessera.idempotency.window",
                            value,
                            "a duration such as 24h or 90m",
                        )
                    })?,
                None => DEFAULT_IDEMPOTENCY_WINDOW,
            },
            generator_rate: number("stream.generator.rows.per.second", 1000)?,
            dead_letter: match configs.get("tessera.deadletter.enabled").map(|v| v.trim()) {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(invalid(
                        "tessera.deadletter.enabled",
                        other,
                        "true or false",
                    ));
                }
            },
            kafka: match stream_type {
                StreamType::Kafka => Some(kafka_settings(configs)?),
                _ => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_settings_defaults_and_errors() -> Result<()> {
        let configs: BTreeMap<String, String> = [
            ("streamType", "push"),
            ("realtime.segment.flush.threshold.rows", "100000"),
            ("realtime.segment.flush.threshold.time", "30s"),
            ("stream.push.partitions", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let settings = StreamSettings::from_configs(&configs)?;
        assert_eq!(settings.stream_type, StreamType::Push);
        assert_eq!(settings.flush_rows, 100_000);
        assert_eq!(settings.flush_time, Duration::from_secs(30));
        assert_eq!(settings.partitions, 2);
        let mut bad = configs.clone();
        bad.insert(
            "realtime.segment.flush.threshold.rows".into(),
            "lots".into(),
        );
        let message = StreamSettings::from_configs(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("flush.threshold.rows"), "{message}");
        assert_eq!(parse_bytes("200M"), Some(200 << 20));
        let mut kafka = configs.clone();
        kafka.insert("streamType".into(), "kafka".into());
        assert!(
            StreamSettings::from_configs(&kafka).is_err(),
            "topic required"
        );
        kafka.insert("stream.kafka.topic.name".into(), "events".into());
        kafka.insert("stream.kafka.broker.list".into(), "127.0.0.1:9092".into());
        kafka.insert(
            "stream.kafka.consumer.prop.auto.offset.reset".into(),
            "largest".into(),
        );
        kafka.insert(
            "stream.kafka.consumer.prop.security.protocol".into(),
            "SASL_SSL".into(),
        );
        kafka.insert(
            "stream.kafka.decoder.class.name".into(),
            "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder".into(),
        );
        let parsed = StreamSettings::from_configs(&kafka)?
            .kafka
            .ok_or_else(|| Error::Invalid("kafka settings".into()))?;
        assert_eq!(parsed.topic, "events");
        assert_eq!(parsed.offset_reset, OffsetReset::Latest);
        assert_eq!(
            parsed
                .properties
                .get("security.protocol")
                .map(String::as_str),
            Some("SASL_SSL")
        );
        kafka.insert(
            "stream.kafka.decoder.class.name".into(),
            "org.apache.pinot.plugin.inputformat.avro.KafkaAvroMessageDecoder".into(),
        );
        assert!(
            StreamSettings::from_configs(&kafka).is_err(),
            "avro refused"
        );
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(21600)));
        Ok(())
    }
}
