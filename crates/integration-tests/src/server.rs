//! Running the real `tessera standalone` and the real S3-compatible server (moto) in
//! tests, and talking HTTP to them with a minimal HTTP/1.1 client (no dependency).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// A free local port for a server a test starts (and may restart on the same port).
///
/// Picked below Linux's ephemeral range (32768–60999 by default), not by binding port
/// 0: a port from the ephemeral range can be taken, between a `kill -9` and the
/// restart, by an outgoing connection of the test itself, and the restart then fails
/// with "address already in use".
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, OnceLock};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Never the same port twice in one test process (a server may not have bound it yet).
    static GIVEN: OnceLock<Mutex<std::collections::HashSet<u16>>> = OnceLock::new();
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    for _ in 0..1_000 {
        let mut x = seed.wrapping_add(NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed));
        x = (x ^ (x >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 29;
        let port = 20_000 + (x % 12_000) as u16;
        let mut given = GIVEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port in 20000..32000")
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One HTTP/1.1 request (`Connection: close`); `Err` when the server cannot be reached.
pub fn http(
    method: &str,
    address: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("malformed response: {text}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {head}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// A running `tessera standalone`; killed with SIGKILL when dropped.
/// The samples of `/metrics` at `address` whose line starts with `name` (a family, or
/// a family with some of its labels), summed.
pub fn metric_at(address: &str, name: &str) -> f64 {
    let response = http("GET", address, "/metrics", &[], b"").expect("metrics answer");
    response
        .body
        .lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub struct Server {
    pub address: String,
    /// The PostgreSQL wire listener (`host:port`).
    pub pg_address: String,
    pub data_dir: PathBuf,
    deep_store: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    child: Option<Child>,
}

impl Server {
    /// Start a server on a fresh port with `data_dir`, an optional deep-store URI and
    /// extra environment.
    pub fn start(data_dir: &Path, deep_store: Option<&str>, env: &[(&str, &str)]) -> Server {
        Server::start_with_args(data_dir, deep_store, env, &[])
    }

    /// [`Server::start`] with more `tessera standalone` arguments.
    pub fn start_with_args(
        data_dir: &Path,
        deep_store: Option<&str>,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Server {
        let mut server = Server {
            address: format!("127.0.0.1:{}", free_port()),
            pg_address: format!("127.0.0.1:{}", free_port()),
            data_dir: data_dir.to_path_buf(),
            deep_store: deep_store.map(str::to_string),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        self.launch();
        self.wait_until_healthy();
    }

    /// Start the process, without waiting for it to answer.
    fn launch(&mut self) {
        let mut command = Command::new(crate::tessera_binary());
        command
            .arg("standalone")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--http")
            .arg(&self.address)
            .arg("--pg")
            .arg(&self.pg_address)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(uri) = &self.deep_store {
            command.arg("--deep-store").arg(uri);
        }
        command.args(&self.args);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        self.child = Some(command.spawn().expect("tessera standalone starts"));
    }

    fn wait_until_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // A TLS-only port answers plain HTTP with a 400 saying so: it is up.
            if let Ok(response) = http("GET", &self.address, "/health", &[], b"")
                && (response.status == 200 || response.body.contains("speaks HTTPS"))
            {
                return;
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("tessera standalone exited during start-up: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "tessera standalone did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// CPU time the process has used so far (user + system), from `/proc`.
    pub fn cpu_time(&self) -> Duration {
        let Some(pid) = self.pid() else {
            return Duration::ZERO;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The fields after the command name (which may hold spaces) in parentheses:
        // utime and stime are the 12th and 13th of them, in clock ticks.
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .map(|f| f.parse().unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default();
        let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
        // Linux reports in USER_HZ, 100 on every platform Tessera supports.
        Duration::from_millis(ticks * 10)
    }

    /// The most memory the process has held resident so far (VmHWM), from `/proc`.
    pub fn peak_memory_bytes(&self) -> u64 {
        let Some(pid) = self.pid() else {
            return 0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// Set (or with `None`, remove) an environment variable for the next start.
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != key);
        if let Some(value) = value {
            self.env.push((key.to_string(), value.to_string()));
        }
    }

    /// Wait up to `limit` for the process to end by itself (a fault's abort); its exit
    /// status. [`Server::restart`] starts it again.
    pub fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            let child = self.child.as_mut().expect("the server was running");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Crash the server at each step of a seal in turn, the way a crash test wants
    /// them: the next seal dies at its build; the restart, re-sealing the same segment
    /// from its log, dies at its upload; the next restart at its commit
    /// (`TESSERA_FAULTS=seal.<step>=abort`: the process aborts exactly there, as if
    /// killed -9, and each restart finds the previous crash's leftovers); the last
    /// restart runs without faults. Asserts each exit was the armed fault's SIGABRT.
    /// Arming the first fault restarts the server (a kill -9 at whatever moment); the
    /// caller keeps data flowing so a segment fills.
    pub fn crash_at_each_seal_step(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        let steps = ["seal.build", "seal.upload", "seal.commit"];
        self.set_env("TESSERA_FAULTS", Some(&format!("{}=abort", steps[0])));
        // An armed server may meet its fault while starting (recovery re-seals a full
        // segment): it is not waited for.
        self.kill();
        self.launch();
        for (index, step) in steps.iter().enumerate() {
            let status = self.wait_for_exit(Duration::from_secs(300));
            assert_eq!(status.signal(), Some(6), "the crash at {step}: {status}");
            eprintln!("crashed at {step}");
            match steps.get(index + 1) {
                Some(next) => {
                    self.set_env("TESSERA_FAULTS", Some(&format!("{next}=abort")));
                    self.launch();
                }
                None => {
                    self.set_env("TESSERA_FAULTS", None);
                    self.spawn();
                }
            }
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn get(&self, path: &str) -> Response {
        http("GET", &self.address, path, &[], b"").expect("GET reaches the server")
    }

    pub fn post(&self, path: &str, body: &str) -> Response {
        http(
            "POST",
            &self.address,
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .expect("POST reaches the server")
    }

    /// Rows of a SQL query (panics on a failed query).
    pub fn query(&self, sql: &str) -> Vec<Json> {
        let response = self.post("/query/sql", &serde_json::json!({ "sql": sql }).to_string());
        assert_eq!(response.status, 200, "{sql}: {}", response.body);
        response.json()["resultTable"]["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The value of one Prometheus sample (`name{labels}` as printed), 0 when absent.
    pub fn metric(&self, sample: &str) -> f64 {
        self.get("/metrics")
            .body
            .lines()
            .find_map(|line| {
                line.strip_prefix(sample)
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    }

    /// Add a schema and a table (both JSON texts), asserting success.
    pub fn create_table(&self, schema: &str, table: &str) {
        let response = self.post("/schemas", schema);
        assert_eq!(response.status, 200, "{}", response.body);
        let response = self.post("/tables", table);
        assert_eq!(response.status, 200, "{}", response.body);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running moto S3 server with one bucket; killed when dropped.
pub struct Moto {
    pub endpoint: String,
    pub bucket: String,
    port: u16,
    child: Option<Child>,
}

impl Moto {
    pub fn start(bucket: &str) -> Moto {
        let mut moto = Moto {
            endpoint: String::new(),
            bucket: bucket.to_string(),
            port: free_port(),
            child: None,
        };
        moto.endpoint = format!("http://127.0.0.1:{}", moto.port);
        moto.spawn();
        moto
    }

    fn spawn(&mut self) {
        let python = crate::python();
        let bin = python.parent().expect("venv bin dir").join("moto_server");
        assert!(
            bin.is_file(),
            "moto_server missing at `{}`: run deploy/install-test-deps.sh",
            bin.display()
        );
        self.child = Some(
            Command::new(bin)
                .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("moto starts"),
        );
        let address = format!("127.0.0.1:{}", self.port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = http("PUT", &address, &format!("/{}", self.bucket), &[], b"")
                && response.status == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the server (its in-memory objects are gone).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same port, with an empty bucket of the same name.
    pub fn start_again(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Keys under `prefix` in the bucket.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let address = format!("127.0.0.1:{}", self.port);
        let response = http(
            "GET",
            &address,
            &format!("/{}?list-type=2&prefix={prefix}", self.bucket),
            &[],
            b"",
        )
        .expect("moto answers");
        response
            .body
            .split("<Key>")
            .skip(1)
            .filter_map(|part| part.split_once("</Key>").map(|(key, _)| key.to_string()))
            .collect()
    }

    /// The object at `key`, read with a signed request (moto refuses anonymous reads
    /// of objects a signed client wrote).
    pub fn get_object(&self, key: &str) -> Vec<u8> {
        let output = self.signed_curl(key).output().expect("curl runs");
        assert!(
            output.status.success(),
            "GET {key}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// Replace the object at `key` with `bytes` (JSON), with a signed request.
    pub fn put_object(&self, key: &str, bytes: &[u8]) {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), bytes).expect("write the object's body");
        let output = self
            .signed_curl(key)
            .arg("--upload-file")
            .arg(file.path())
            .args(["-H", "Content-Type: application/json"])
            .output()
            .expect("curl runs");
        assert!(
            output.status.success(),
            "PUT {key}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn signed_curl(&self, key: &str) -> Command {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3"])
            .args(["--user", "test:test"])
            .arg(format!("{}/{}/{key}", self.endpoint, self.bucket));
        curl
    }

    /// Environment for a Tessera process that uses this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
