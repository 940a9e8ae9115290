//! [`SlowProxy`]: a TCP proxy on loopback between Tessera and a service (the S3 server),
//! which can hold every request for a fixed delay and can go down (refuse and cut every
//! connection) and come back. It is how the cold-segment tests add latency to object
//! storage and take it away, without touching the service itself.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A running proxy; its threads end with the process.
pub struct SlowProxy {
    /// `127.0.0.1:PORT` to point clients at.
    pub address: String,
    state: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    delay_ms: AtomicU64,
    down: AtomicBool,
    /// Requests forwarded so far.
    requests: AtomicU64,
    /// Requests being held for the delay right now.
    held: AtomicU64,
}

impl SlowProxy {
    /// Listen on a free loopback port and forward to `target` (`HOST:PORT`).
    pub fn start(target: &str) -> SlowProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let address = listener.local_addr().expect("proxy address").to_string();
        let state = Arc::new(ProxyState::default());
        let target = target.to_string();
        let accept_state = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if accept_state.down.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(client_read), Ok(server_write)) = (client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                let up = accept_state.clone();
                std::thread::spawn(move || forward(client_read, server_write, &up, true));
                let down = accept_state.clone();
                std::thread::spawn(move || forward(server, client, &down, false));
            }
        });
        SlowProxy { address, state }
    }

    /// Hold every request this long before forwarding it.
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Refuse new connections and cut open ones (`true`), or serve again (`false`).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Requests forwarded so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Requests held for the delay right now.
    pub fn held(&self) -> u64 {
        self.state.held.load(Ordering::SeqCst)
    }
}

/// Copy `from` to `to` until either side closes or the proxy goes down. Client-to-server
/// chunks that start a request are held for the delay first.
fn forward(mut from: TcpStream, mut to: TcpStream, state: &ProxyState, upstream: bool) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if state.down.load(Ordering::SeqCst) {
            break;
        }
        let chunk = &buffer[..read];
        if upstream && starts_request(chunk) {
            state.requests.fetch_add(1, Ordering::SeqCst);
            let delay = state.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                state.held.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(delay));
                state.held.fetch_sub(1, Ordering::SeqCst);
            }
            if state.down.load(Ordering::SeqCst) {
                break;
            }
        }
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

fn starts_request(chunk: &[u8]) -> bool {
    [b"GET " as &[u8], b"PUT ", b"HEAD ", b"POST ", b"DELETE "]
        .iter()
        .any(|method| chunk.starts_with(method))
}
