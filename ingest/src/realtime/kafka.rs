//! The Kafka source (`"streamType": "kafka"`): one `rdkafka` consumer per partition,
//! assigned to its partition at an explicit offset — no consumer-group commits. The
//! catalog is the only record of progress: a partition resumes at the start offset of
//! its CONSUMING segment, and a sealed segment commits its end offset together with the
//! segment (DESIGN §3), so every message lands in exactly one committed segment.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, warn};

use super::settings::{KafkaSettings, OffsetReset};
use crate::error::{Error, Result};

/// How long a metadata or watermark request may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a partition refreshes its log-end offset (for lag).
const WATERMARK_INTERVAL: Duration = Duration::from_secs(1);

fn kafka_error(context: &str) -> impl FnOnce(KafkaError) -> Error + '_ {
    move |error| Error::Unavailable(format!("kafka {context}: {error}"))
}

/// The librdkafka configuration of a table's consumers.
fn client_config(settings: &KafkaSettings, table: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.brokers)
        // Required by librdkafka; never used to commit (offsets live in the catalog).
        .set("group.id", format!("tessera-{table}"))
        .set("client.id", format!("tessera-{table}"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // Brokers that hold a fetch until it times out (tansu) would add this to every
        // message's time to queryable; 100 ms costs ~10 idle fetches/s per partition.
        .set("fetch.wait.max.ms", "100")
        .set("auto.offset.reset", settings.offset_reset.librdkafka_name());
    for (key, value) in &settings.properties {
        config.set(key, value);
    }
    config
}

fn create(settings: &KafkaSettings, table: &str) -> Result<BaseConsumer> {
    client_config(settings, table)
        .create()
        .map_err(kafka_error("consumer"))
}

/// The topic's partition count (new partitions are picked up by calling it again).
pub(crate) fn partition_count(settings: &KafkaSettings, table: &str) -> Result<u32> {
    let consumer = create(settings, table)?;
    let metadata = consumer
        .fetch_metadata(Some(&settings.topic), METADATA_TIMEOUT)
        .map_err(kafka_error("metadata"))?;
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == settings.topic)
        .ok_or_else(|| Error::Invalid(format!("kafka topic `{}` not found", settings.topic)))?;
    if let Some(error) = topic.error() {
        return Err(Error::Invalid(format!(
            "kafka topic `{}`: {error:?}",
            settings.topic
        )));
    }
    Ok(topic.partitions().len() as u32)
}

/// Where a partition nobody consumed yet starts: its first or its next offset.
pub(crate) fn initial_offset(settings: &KafkaSettings, table: &str, partition: u32) -> Result<u64> {
    let consumer = create(settings, table)?;
    let (low, high) = consumer
        .fetch_watermarks(&settings.topic, partition as i32, METADATA_TIMEOUT)
        .map_err(kafka_error("watermarks"))?;
    Ok(match settings.offset_reset {
        OffsetReset::Earliest => low.max(0) as u64,
        OffsetReset::Latest => high.max(0) as u64,
    })
}

/// One consumed message.
#[derive(Debug)]
pub(crate) struct KafkaMessage {
    pub offset: u64,
    /// `None` for a message without a value (a tombstone).
    pub payload: Option<Vec<u8>>,
    pub timestamp_ms: Option<i64>,
}

/// The consumer of one partition.
pub(crate) struct PartitionConsumer {
    consumer: BaseConsumer,
    topic: String,
    partition: u32,
    high_watermark: Option<u64>,
    checked: Option<Instant>,
}

impl PartitionConsumer {
    /// Consume `partition` from `offset` on.
    pub(crate) fn open(
        settings: &KafkaSettings,
        table: &str,
        partition: u32,
        offset: u64,
    ) -> Result<PartitionConsumer> {
        let consumer = create(settings, table)?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(
                &settings.topic,
                partition as i32,
                Offset::Offset(offset as i64),
            )
            .map_err(kafka_error("assignment"))?;
        consumer
            .assign(&assignment)
            .map_err(kafka_error("assign"))?;
        Ok(PartitionConsumer {
            consumer,
            topic: settings.topic.clone(),
            partition,
            high_watermark: None,
            checked: None,
        })
    }

    /// Up to `max` messages, waiting at most `timeout` for the first. Broker outages
    /// are not errors: librdkafka reconnects and resumes at the same position.
    pub(crate) fn poll(&mut self, max: usize, timeout: Duration) -> Vec<KafkaMessage> {
        let mut out = Vec::new();
        let mut wait = timeout;
        while out.len() < max {
            match self.consumer.poll(wait) {
                None => break,
                Some(Ok(message)) => {
                    out.push(KafkaMessage {
                        offset: message.offset().max(0) as u64,
                        payload: message.payload().map(<[u8]>::to_vec),
                        timestamp_ms: message.timestamp().to_millis(),
                    });
                    wait = Duration::ZERO;
                }
                Some(Err(error)) => {
                    warn!(topic = %self.topic, partition = self.partition, %error, "kafka consumer error; retrying");
                    break;
                }
            }
        }
        out
    }

    /// The partition's log-end offset, refreshed at most every second (`None` until
    /// the broker first answers).
    pub(crate) fn high_watermark(&mut self) -> Option<u64> {
        let due = self
            .checked
            .is_none_or(|at| at.elapsed() >= WATERMARK_INTERVAL);
        if due {
            self.checked = Some(Instant::now());
            match self.consumer.fetch_watermarks(
                &self.topic,
                self.partition as i32,
                Duration::from_millis(500),
            ) {
                Ok((_, high)) => self.high_watermark = Some(high.max(0) as u64),
                Err(error) => {
                    debug!(topic = %self.topic, partition = self.partition, %error, "watermarks unavailable")
                }
            }
        }
        self.high_watermark
    }
}
