//! Running a real etcd server (Debian's `etcd-server`, installed by
//! `deploy/install-test-deps.sh`) on free loopback ports, and a TCP proxy of our own
//! that a test can cut to partition a node from it.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::server::{free_port, http};

/// A single-member etcd with its data in a temporary directory; killed when dropped.
pub struct Etcd {
    client_port: u16,
    peer_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Etcd {
    pub fn start() -> Etcd {
        let mut etcd = Etcd {
            client_port: free_port(),
            peer_port: free_port(),
            dir: tempfile::tempdir().expect("a temporary directory"),
            child: None,
        };
        etcd.spawn();
        etcd
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    fn spawn(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.path().join("etcd.log")).expect("etcd log file");
        let binary = std::env::var_os("TESSERA_ETCD")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("etcd"));
        let child = Command::new(&binary)
            .args(["--name", "t1", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("t1={peer}")])
            .args(["--logger", "zap", "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "etcd `{}` does not start ({error}): run deploy/install-test-deps.sh",
                    binary.display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = http("GET", &self.address(), "/health", &[], b"")
                && response.status == 200
                && response.body.contains("true")
            {
                return;
            }
            assert!(Instant::now() < deadline, "etcd did not become healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kill the server (its data directory stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same ports and data.
    pub fn start_again(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Compact etcd's history up to its current revision (through etcdctl, as an
    /// operator would), so watches from older revisions are refused.
    pub fn compact_now(&self) -> i64 {
        let status = Command::new("etcdctl")
            .args([
                "--endpoints",
                &self.endpoint(),
                "endpoint",
                "status",
                "-w",
                "json",
            ])
            .env("ETCDCTL_API", "3")
            .output()
            .expect("etcdctl runs");
        let parsed: serde_json::Value =
            serde_json::from_slice(&status.stdout).expect("etcdctl prints JSON");
        let revision = parsed[0]["Status"]["header"]["revision"]
            .as_i64()
            .expect("a revision in etcdctl's status");
        let compacted = Command::new("etcdctl")
            .args([
                "--endpoints",
                &self.endpoint(),
                "compaction",
                &revision.to_string(),
            ])
            .env("ETCDCTL_API", "3")
            .output()
            .expect("etcdctl runs");
        assert!(
            compacted.status.success(),
            "etcdctl compaction failed: {}",
            String::from_utf8_lossy(&compacted.stderr)
        );
        revision
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP proxy on a free loopback port in front of `target`. [`CuttableProxy::cut`]
/// closes every connection through it at once and refuses new ones until
/// [`CuttableProxy::restore`] — a network partition between one client and the server.
pub struct CuttableProxy {
    port: u16,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl CuttableProxy {
    pub fn start(target: &str) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let target = target.to_string();
        let (accept_cut, accept_connections) = (cut.clone(), connections.clone());
        std::thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(client) = incoming else { continue };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                {
                    // Checked under the lock `cut` takes, so no connection slips past it.
                    let mut open = accept_connections.lock().unwrap_or_else(|e| e.into_inner());
                    if accept_cut.load(Ordering::Acquire) {
                        continue;
                    }
                    for stream in [&client, &server] {
                        if let Ok(clone) = stream.try_clone() {
                            open.push(clone);
                        }
                    }
                }
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    if let (Ok(mut from), Ok(mut to)) = (from, to) {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = from.shutdown(Shutdown::Both);
                            let _ = to.shutdown(Shutdown::Both);
                        });
                    }
                }
            }
        });
        CuttableProxy {
            port,
            cut,
            connections,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Close every connection now and refuse new ones.
    pub fn cut(&self) {
        let mut open = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        self.cut.store(true, Ordering::Release);
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        let _open = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        self.cut.store(false, Ordering::Release);
    }
}
