//! A real browser for the console tests: Debian's Chromium, headless, driven through
//! ChromeDriver's W3C WebDriver protocol over this crate's minimal HTTP client (no
//! Selenium, no browser download).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::server::free_port;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in a response.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session; the browser and its driver die with it.
pub struct Browser {
    driver: Child,
    address: String,
    session: String,
    _profile: tempfile::TempDir,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// A browser with a `width`×`height` window.
    pub fn start(width: u32, height: u32) -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).exists(),
                "`{path}` is missing: deploy/install-test-deps.sh installs chromium and chromium-driver"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !exchange(&address, "GET", "/status", b"")
            .is_ok_and(|(status, body)| status == 200 && body["value"]["ready"] == true)
        {
            assert!(Instant::now() < deadline, "chromedriver not ready in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        // The flags keep Chromium off the network: this machine has none, and the test
        // checks that the page asks for nothing beyond its own origin.
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--disable-default-apps".to_string(),
            "--disable-extensions".to_string(),
            "--hide-scrollbars".to_string(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
        }}});
        let mut browser = Browser {
            driver,
            address,
            session: String::new(),
            _profile: profile,
        };
        let created = browser.command("POST", "/session", capabilities);
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id: {created}"))
            .to_string();
        browser.set_window(width, height);
        browser
    }

    /// One WebDriver command; its `value`. Panics on a WebDriver error.
    fn command(&self, method: &str, path: &str, body: Json) -> Json {
        let body = if method == "GET" || method == "DELETE" {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let (status, json) = exchange(&self.address, method, path, &body)
            .unwrap_or_else(|e| panic!("chromedriver {method} {path}: {e}"));
        assert!(
            status == 200,
            "chromedriver {method} {path}: {status} {}",
            json["value"]
        );
        json["value"].clone()
    }

    fn session_command(&self, method: &str, path: &str, body: Json) -> Json {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn set_window(&self, width: u32, height: u32) {
        self.session_command(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        );
    }

    pub fn navigate(&self, url: &str) {
        self.session_command("POST", "/url", json!({ "url": url }));
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the page.
    pub fn execute(&self, script: &str, args: Json) -> Json {
        self.session_command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// The first element matching the CSS `selector`, if any now.
    pub fn find(&self, selector: &str) -> Option<Element> {
        let found = self.session_command(
            "POST",
            "/elements",
            json!({"using": "css selector", "value": selector}),
        );
        found
            .as_array()
            .and_then(|all| all.first())
            .and_then(|e| e[ELEMENT_KEY].as_str())
            .map(|id| Element(id.to_string()))
    }

    /// The first element matching `selector`, waiting up to `timeout` for it.
    pub fn wait_for(&self, selector: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(element) = self.find(selector) {
                return element;
            }
            assert!(
                Instant::now() < deadline,
                "no `{selector}` within {timeout:?}; the page shows: {}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until `script` returns something truthy; that value.
    pub fn wait_until(&self, what: &str, script: &str, timeout: Duration) -> Json {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script, json!([]));
            let truthy = match &value {
                Json::Null => false,
                Json::Bool(b) => *b,
                Json::Number(n) => n.as_f64() != Some(0.0),
                Json::String(s) => !s.is_empty(),
                Json::Array(a) => !a.is_empty(),
                Json::Object(_) => true,
            };
            if truthy {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {timeout:?}; the page shows: {}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn page_text(&self) -> String {
        self.execute("return document.body.innerText;", json!([]))
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(2_000)
            .collect()
    }

    pub fn click(&self, element: &Element) {
        self.session_command("POST", &format!("/element/{}/click", element.0), json!({}));
    }

    pub fn clear(&self, element: &Element) {
        self.session_command("POST", &format!("/element/{}/clear", element.0), json!({}));
    }

    /// Type `text` into `element` as key presses (`\u{E009}` is Control, `\u{E007}`
    /// Enter, `\u{E000}` releases the modifiers).
    pub fn type_keys(&self, element: &Element, text: &str) {
        self.session_command(
            "POST",
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        );
    }

    pub fn text(&self, element: &Element) -> String {
        self.session_command("GET", &format!("/element/{}/text", element.0), json!({}))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page as a PNG, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.session_command("GET", "/screenshot", json!({}));
        let png = base64_decode(encoded.as_str().unwrap_or_default());
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// Every request the browser made since the last call, as (the URL of the document
    /// that made it, the URL requested), from Chromium's performance log (each
    /// `Network.requestWillBeSent`).
    pub fn requests(&self) -> Vec<(String, String)> {
        let entries = self.session_command("POST", "/se/log", json!({"type": "performance"}));
        let mut urls = Vec::new();
        for entry in entries.as_array().into_iter().flatten() {
            let Some(message) = entry["message"].as_str() else {
                continue;
            };
            let Ok(message) = serde_json::from_str::<Json>(message) else {
                continue;
            };
            let params = &message["message"]["params"];
            if message["message"]["method"] == "Network.requestWillBeSent"
                && let Some(url) = params["request"]["url"].as_str()
            {
                let document = params["documentURL"].as_str().unwrap_or_default();
                urls.push((document.to_string(), url.to_string()));
            }
        }
        urls
    }

    /// The page's console messages at level SEVERE (script errors, refused loads).
    pub fn severe_console_messages(&self) -> Vec<String> {
        let entries = self.session_command("POST", "/se/log", json!({"type": "browser"}));
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .filter_map(|e| e["message"].as_str().map(str::to_string))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = exchange(
                &self.address,
                "DELETE",
                &format!("/session/{}", self.session),
                b"",
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One request to ChromeDriver: its status and JSON body. ChromeDriver answers
/// `Connection: close` but keeps the socket open, so the body is read by its
/// `Content-Length`, not to the end of the stream.
fn exchange(address: &str, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Json)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {line}")))?;
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(std::io::Error::other)?;
        }
    }
    let mut bytes = vec![0; length];
    reader.read_exact(&mut bytes)?;
    let json = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
    Ok((status, json))
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for c in text.bytes().filter_map(value) {
        bits = ((bits << 6) | c) & 0xffff;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_base64_decode() {
        assert_eq!(super::base64_decode("aGVsbG8="), b"hello");
        assert_eq!(super::base64_decode("aGk="), b"hi");
    }
}
