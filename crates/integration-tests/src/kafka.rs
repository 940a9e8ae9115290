//! The Kafka-protocol broker of the Kafka tests: tansu (../shared/COMPONENTS.md), built
//! by deploy/install-test-deps.sh into `$TESSERA_TANSU`, started per test on a free
//! port — in memory, or durable on an S3-compatible server (moto) so it can restart
//! without losing the log. Messages are produced by `clients/kafka_produce.py`
//! (confluent-kafka).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::server::{Moto, free_port};

/// The tansu binary (`$TESSERA_TANSU`).
pub fn tansu_binary() -> PathBuf {
    let path = std::env::var_os("TESSERA_TANSU")
        .map(PathBuf::from)
        .expect("TESSERA_TANSU is not set: run the tests through deploy/test.sh");
    assert!(
        path.is_file(),
        "tansu missing at `{}`: run deploy/install-test-deps.sh",
        path.display()
    );
    path
}

/// A running tansu broker; killed when dropped.
pub struct Tansu {
    pub port: u16,
    storage: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Tansu {
    /// A broker keeping its log in memory.
    pub fn start_in_memory() -> Tansu {
        Tansu::start("memory://tansu/".into(), Vec::new())
    }

    /// A broker keeping its log in `moto`'s bucket: it survives a restart.
    pub fn start_durable(moto: &Moto) -> Tansu {
        let mut env: Vec<(String, String)> = moto
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        env.push(("AWS_DEFAULT_REGION".into(), "us-east-1".into()));
        Tansu::start(format!("s3://{}/", moto.bucket), env)
    }

    fn start(storage: String, env: Vec<(String, String)>) -> Tansu {
        let mut tansu = Tansu {
            port: free_port(),
            storage,
            env,
            child: None,
        };
        tansu.spawn();
        tansu
    }

    /// `127.0.0.1:PORT`, for `stream.kafka.broker.list`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let mut command = Command::new(tansu_binary());
        command
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        self.child = Some(command.spawn().expect("tansu starts"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(self.address()).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the broker (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Grow `topic` to `partitions` partitions, on a broker started by
    /// [`Tansu::start_durable`] on `moto`.
    ///
    /// tansu 0.6 does not offer the Kafka API's CreatePartitions (librdkafka's admin
    /// client says "CreatePartitions (KIP-195) not supported by broker"), so this changes the record tansu keeps of the topic in its store
    /// (`clusters/tansu_cluster/meta.json`, the topic's `num_partitions`). tansu reads
    /// that record again on each request once its 5 s object cache lapses; from then
    /// on its Metadata responses list the new partitions and it takes produce and fetch
    /// requests for them, which is what a Kafka broker shows clients after
    /// CreatePartitions.
    pub fn add_partitions(&self, moto: &Moto, topic: &str, partitions: u32) {
        const META: &str = "clusters/tansu_cluster/meta.json";
        let mut meta: Json =
            serde_json::from_slice(&moto.get_object(META)).expect("tansu's meta.json is JSON");
        let count = &mut meta["topics"][topic]["topic"]["num_partitions"];
        let before = count.as_u64().expect("the topic is in tansu's meta.json");
        assert!(
            u64::from(partitions) > before,
            "{topic} has {before} partitions already"
        );
        *count = Json::from(partitions);
        moto.put_object(META, meta.to_string().as_bytes());
    }

    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let output = Command::new(tansu_binary())
            .args([
                "topic",
                "create",
                topic,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://{}", self.address())])
            .output()
            .expect("tansu topic create runs");
        assert!(
            output.status.success(),
            "topic create: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What `kafka_produce.py` produced.
#[derive(Debug, Clone, Default)]
pub struct Produced {
    /// Good messages (one row each).
    pub rows: u64,
    /// Sum of the good messages' `id`.
    pub sum_id: u64,
    /// Bad messages by the reason Tessera should count them under.
    pub bad: Json,
}

/// Produce `count` JSON events with ids `first_id..` spread over `partitions`
/// partitions; `extra` are more `kafka_produce.py` flags (`--single`, `--bad N`).
pub fn produce(
    brokers: &str,
    topic: &str,
    first_id: u64,
    count: u64,
    partitions: u32,
    extra: &[&str],
) -> Produced {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/kafka_produce.py");
    let output = Command::new(crate::python())
        .arg(script)
        .args(["--brokers", brokers, "--topic", topic])
        .args([
            "--first-id",
            &first_id.to_string(),
            "--count",
            &count.to_string(),
        ])
        .args(["--partitions", &partitions.to_string()])
        .args(extra)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "kafka_produce.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "kafka_produce.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    Produced {
        rows: summary["rows"].as_u64().unwrap_or(0),
        sum_id: summary["sum_id"].as_u64().unwrap_or(0),
        bad: summary["bad"].clone(),
    }
}

/// The `events` schema the Kafka tests consume into.
pub const EVENTS_SCHEMA: &str = r#"{"schemaName": "events",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "k", "dataType": "STRING"}],
  "metricFieldSpecs": [{"name": "v", "dataType": "DOUBLE"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

/// The `events` schema under another name (a table's name is its schema's).
pub fn events_schema_named(name: &str) -> String {
    EVENTS_SCHEMA.replacen(
        r#""schemaName": "events""#,
        &format!(r#""schemaName": "{name}""#),
        1,
    )
}

/// A REALTIME `events` table over the topic `events` at `brokers`, sealing every
/// `flush_rows` rows.
pub fn events_table_config(brokers: &str, flush_rows: u64) -> String {
    realtime_table_config("events", "events", brokers, flush_rows)
}

/// A REALTIME table `table` (its schema: `events_schema_named(table)`) over the topic
/// `topic` at `brokers`, sealing every `flush_rows` rows.
pub fn realtime_table_config(table: &str, topic: &str, brokers: &str, flush_rows: u64) -> String {
    format!(
        r#"{{"tableName": "{table}", "tableType": "REALTIME", "segmentsConfig": {{"timeColumnName": "ts"}},
  "tableIndexConfig": {{"invertedIndexColumns": ["k"], "streamConfigs": {{
    "streamType": "kafka",
    "stream.kafka.topic.name": "{topic}",
    "stream.kafka.broker.list": "{brokers}",
    "stream.kafka.consumer.type": "lowlevel",
    "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
    "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
    "tessera.kafka.partition.discovery.interval": "2s",
    "realtime.segment.flush.threshold.rows": "{flush_rows}"}}}}}}"#
    )
}
