//! A whole local cluster for system tests, started and stopped by the operators' own
//! script (`deploy/cluster/local.sh`): etcd, the S3 server holding the deep store, two
//! controllers, two brokers and four servers as real processes on loopback. Nodes are stopped, frozen and restarted by
//! name through the pid files the script writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;

use crate::server::http;

/// A running local cluster; stopped when dropped.
pub struct LocalCluster {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/cluster/local.sh")
}

fn address(url: &str) -> &str {
    url.trim_start_matches("http://")
}

impl LocalCluster {
    /// `local.sh up` with leases of `lease_ttl_s` seconds.
    pub fn up(lease_ttl_s: u64) -> LocalCluster {
        LocalCluster::up_with(lease_ttl_s, &[])
    }

    /// `local.sh up` with more environment (`AUTH_TOML`, `AUTH_HEADER`).
    pub fn up_with(lease_ttl_s: u64, env: &[(&str, &str)]) -> LocalCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cluster = LocalCluster {
            dir,
            env: HashMap::new(),
        };
        // The deep store is the S3 server (moto) local.sh starts, from the test venv.
        let moto = crate::python()
            .parent()
            .expect("venv bin dir")
            .join("moto_server");
        let lease = lease_ttl_s.to_string();
        let moto = moto.display().to_string();
        let mut script_env = vec![
            ("LEASE_TTL_S", lease.as_str()),
            ("RETENTION_CHECK_INTERVAL", "2s"),
            ("MOTO_SERVER", moto.as_str()),
        ];
        script_env.extend_from_slice(env);
        cluster.script(&["up"], &script_env);
        let text = std::fs::read_to_string(cluster.dir.path().join("cluster.env"))
            .expect("local.sh writes cluster.env");
        cluster.env = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        cluster
    }

    fn script(&self, args: &[&str], env: &[(&str, &str)]) {
        let (command, rest) = args.split_first().expect("a command");
        let output = Command::new("bash")
            .arg(script())
            .arg(command)
            .arg(self.dir.path())
            .args(rest)
            .env("TESSERA_BIN", crate::tessera_binary())
            .envs(env.iter().copied())
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "local.sh {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `cluster.env` variable.
    pub fn var(&self, name: &str) -> &str {
        self.env.get(name).map_or("", String::as_str)
    }

    pub fn broker_urls(&self) -> Vec<String> {
        self.var("BROKER_URLS")
            .split(',')
            .map(str::to_string)
            .collect()
    }

    pub fn controller_urls(&self) -> Vec<String> {
        self.var("CONTROLLER_URLS")
            .split(',')
            .map(str::to_string)
            .collect()
    }

    fn pid(&self, node: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("pids").join(format!("{node}.pid")))
            .unwrap_or_else(|_| panic!("no pid file for `{node}`"))
            .trim()
            .to_string()
    }

    /// Send `signal` (`KILL`, `STOP`, `CONT`) to a node by name.
    pub fn signal(&self, node: &str, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid(node)])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {node}");
    }

    /// Start a stopped node (or etcd) again.
    pub fn start(&self, node: &str) {
        self.script(&["start", node], &[]);
    }

    pub fn add_server(&self, node: &str, tags: &[&str]) {
        let mut args = vec!["add-server", node];
        args.extend_from_slice(tags);
        self.script(&args, &[]);
    }

    /// `POST /query/sql` on `broker`: the response JSON (errors included).
    pub fn query(&self, broker: &str, sql: &str) -> Json {
        let body = serde_json::json!({ "sql": sql }).to_string();
        match http("POST", address(broker), "/query/sql", &[], body.as_bytes()) {
            Ok(response) => serde_json::from_str(&response.body)
                .unwrap_or_else(|_| serde_json::json!({"unparsable": response.body})),
            Err(error) => serde_json::json!({"unreachable": error.to_string()}),
        }
    }

    /// `POST path` with `body` to a node at `url`, asserting 200.
    pub fn post(url: &str, path: &str, body: &str) {
        let response = http("POST", address(url), path, &[], body.as_bytes())
            .unwrap_or_else(|error| panic!("POST {path} reaches {url}: {error}"));
        assert_eq!(response.status, 200, "POST {path}: {}", response.body);
    }

    /// `GET path` on the node at `url`, which must answer 200: its JSON body.
    pub fn get(url: &str, path: &str) -> Json {
        let response = http("GET", address(url), path, &[], b"")
            .unwrap_or_else(|error| panic!("GET {path} reaches {url}: {error}"));
        assert_eq!(response.status, 200, "GET {path}: {}", response.body);
        response.json()
    }

    /// `(COUNT(*), SUM(id))` of `table` through `broker` when the answer is exact
    /// (complete, no exception); `None` when it is flagged partial or failed.
    pub fn exact_count_and_sum(&self, broker: &str, table: &str) -> Option<(u64, u64)> {
        let response = self.query(broker, &format!("SELECT COUNT(*), SUM(id) FROM {table}"));
        if response["partialResult"].as_bool().unwrap_or(true)
            || response["exceptions"]
                .as_array()
                .is_none_or(|e| !e.is_empty())
        {
            return None;
        }
        let row = &response["resultTable"]["rows"][0];
        Some((row[0].as_u64()?, row[1].as_f64().unwrap_or(0.0) as u64))
    }

    /// `GET /cluster` of the first controller that answers.
    pub fn cluster_view(&self) -> Json {
        for url in self.controller_urls() {
            if let Ok(response) = http("GET", address(&url), "/cluster", &[], b"")
                && response.status == 200
            {
                return response.json();
            }
        }
        Json::Null
    }

    /// The node id of the controller leader, if one holds the leader key and says it
    /// leads (a key left from a lost term does not count).
    pub fn leader(&self) -> Option<String> {
        let view = self.cluster_view();
        let node = view["leader"]["nodeId"].as_str()?;
        let address = view["leader"]["httpAddress"].as_str()?;
        let health = http("GET", address, "/health", &[], b"").ok()?;
        (health.json()["leader"] == true).then(|| node.to_string())
    }

    /// Wait until `done` holds, polling; the time it took.
    pub fn wait_until(what: &str, limit: Duration, done: impl FnMut() -> bool) -> Duration {
        crate::wait_until(what, limit, done)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("down")
            .arg(self.dir.path())
            .output();
        // etcd is left to `down`'s SIGKILL pass over every pid file.
    }
}
