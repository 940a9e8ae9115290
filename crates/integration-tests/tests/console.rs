//! The web console in a real browser (Debian's Chromium through ChromeDriver) against a
//! live `tessera quickstart`: the page loads fast, lists `events`, runs a GROUP BY typed
//! into the editor and shows the rows `POST /query/sql` returns, charts a time-bucketed
//! query, shows a syntax error where it is, watches segments seal, asks for credentials
//! when the server has `[auth]`, and asks nothing of any origin but its own.
//! Screenshots of each view go to `target/console-screenshots/` (docs/console.md).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tessera_integration_tests::auth::{basic, test_credentials};
use tessera_integration_tests::browser::Browser;
use tessera_integration_tests::server::{free_port, http};

const WAIT: Duration = Duration::from_secs(30);

/// A running `tessera quickstart`; killed when dropped.
struct Quickstart {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Quickstart {
    fn start(auth_toml: Option<&str>) -> Quickstart {
        let dir = tempfile::tempdir().expect("tempdir");
        let address = format!("127.0.0.1:{}", free_port());
        let mut command = Command::new(tessera_integration_tests::tessera_binary());
        command
            .args(["quickstart", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--http", &address, "--pg", "off"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(toml) = auth_toml {
            let config = dir.path().join("node.toml");
            std::fs::write(&config, toml).expect("write node config");
            command.arg("--config").arg(config);
        }
        let child = command.spawn().expect("quickstart starts");
        let deadline = Instant::now() + WAIT;
        while !http("GET", &address, "/health", &[], b"").is_ok_and(|r| r.status == 200) {
            assert!(Instant::now() < deadline, "quickstart not healthy in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Quickstart {
            child,
            address,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn query(&self, sql: &str, auth: Option<&str>) -> Json {
        let body = json!({ "sql": sql }).to_string();
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(value) = auth {
            headers.push(("Authorization", value));
        }
        let response = http(
            "POST",
            &self.address,
            "/query/sql",
            &headers,
            body.as_bytes(),
        )
        .expect("query");
        assert_eq!(response.status, 200, "{sql}: {}", response.body);
        response.json()
    }
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots")
}

/// Replace the editor's text with `sql` and run it with Ctrl+Enter, as a user would.
fn run_in_editor(browser: &Browser, sql: &str) {
    let editor = browser.wait_for("#sql-input", WAIT);
    browser.clear(&editor);
    browser.type_keys(&editor, sql);
    browser.type_keys(&editor, "\u{E009}\u{E007}\u{E000}");
}

/// The rows of the result table on the page, as the text of each cell.
fn page_rows(browser: &Browser) -> Vec<Vec<String>> {
    let rows = browser.execute(
        "return [...document.querySelectorAll('.result-table tbody tr')]
            .map(tr => [...tr.children].map(td => td.textContent));",
        json!([]),
    );
    serde_json::from_value(rows).expect("rows of strings")
}

/// Every request the page made went to its own origin, and no request of the browser
/// at all went to another web origin (Chromium's own `chrome://` pages, such as the
/// first blank tab's, are not the page's). Returns how many the page made.
fn assert_same_origin(browser: &Browser, origin: &str) -> usize {
    let requests = browser.requests();
    let mut made = 0;
    for (document, url) in &requests {
        let web = url.starts_with("http:") || url.starts_with("https:") || url.starts_with("ws");
        if document.starts_with(origin) || web {
            assert!(
                url.starts_with(&format!("{origin}/")) || url.starts_with("data:"),
                "`{document}` requested `{url}`, outside {origin}"
            );
            made += 1;
        }
    }
    made
}

#[test]
fn test_console_queries_charts_explores_and_watches_a_live_quickstart() {
    let quickstart = Quickstart::start(None);
    let origin = quickstart.url("");
    let shots = screenshot_dir();
    let browser = Browser::start(1280, 800);

    // First paint of the quickstart's page.
    browser.navigate(&quickstart.url("/"));
    let paint = browser.wait_until(
        "first contentful paint",
        "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null;",
        WAIT,
    );
    let paint_ms = paint.as_f64().unwrap_or(f64::MAX);
    eprintln!("console: first contentful paint {paint_ms:.0} ms");
    assert!(paint_ms < 1_000.0, "first paint took {paint_ms} ms");

    // The sidebar lists `events` and its columns.
    browser.wait_until(
        "the sidebar lists events",
        "const t = document.querySelector('.table-tree'); return t && t.textContent.includes('events') && t.textContent.includes('country');",
        WAIT,
    );

    // A GROUP BY typed into the editor shows the rows POST /query/sql returns. The time
    // bound is in the past, so both answers count the same rows.
    std::thread::sleep(Duration::from_millis(1_500));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let bound = now_ms - 1_000;
    std::thread::sleep(Duration::from_millis(1_000));
    let sql = format!(
        "SELECT country, COUNT(*) AS n, SUM(bytes) AS total FROM events WHERE ts < {bound} GROUP BY country ORDER BY country"
    );
    run_in_editor(&browser, &sql);
    browser.wait_for(".result-table tbody tr", WAIT);
    let shown = page_rows(&browser);
    let expected = quickstart.query(&sql, None)["resultTable"]["rows"].clone();
    let expected: Vec<Vec<String>> = expected
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("row")
                .iter()
                .map(|cell| match cell {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n
                        .as_i64()
                        .map(|i| {
                            // The page groups thousands as en-US does.
                            let digits = i.abs().to_string();
                            let mut grouped = String::new();
                            for (k, c) in digits.chars().enumerate() {
                                if k > 0 && (digits.len() - k) % 3 == 0 {
                                    grouped.push(',');
                                }
                                grouped.push(c);
                            }
                            if i < 0 {
                                format!("-{grouped}")
                            } else {
                                grouped
                            }
                        })
                        .unwrap_or_else(|| n.to_string()),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    assert!(expected.len() >= 3, "{expected:?}");
    assert_eq!(shown, expected, "the page's rows against POST /query/sql");
    let stats = browser.text(&browser.wait_for(".stats", WAIT));
    assert!(stats.contains("Docs scanned"), "{stats}");
    // Sorting by a header reorders the rows (descending counts on a second click).
    let count_header = browser.wait_for(".result-table th:nth-child(2) button", WAIT);
    browser.click(&count_header);
    browser.click(&count_header);
    let sorted = page_rows(&browser);
    let counts: Vec<i64> = sorted
        .iter()
        .map(|r| r[1].replace(',', "").parse().unwrap_or(-1))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    browser.screenshot(&shots.join("query.png"));

    // A time-bucketed query renders a line chart with data.
    run_in_editor(
        &browser,
        "SELECT DATETRUNC('SECOND', ts) AS bucket, COUNT(*) AS events FROM events GROUP BY 1 ORDER BY 1 LIMIT 1000",
    );
    let chart_tab = browser.wait_for("button[data-view='line-chart']", WAIT);
    browser.click(&chart_tab);
    let points = browser.wait_until(
        "a line chart with points",
        "const l = document.querySelector('svg.chart polyline.series'); return l ? l.getAttribute('points').trim().split(' ').length : 0;",
        WAIT,
    );
    assert!(points.as_u64().unwrap_or(0) >= 2, "{points}");
    let chart_box = browser.execute(
        "const r = document.querySelector('svg.chart').getBoundingClientRect(); return [r.width, r.height];",
        json!([]),
    );
    assert!(
        chart_box[0].as_f64().unwrap_or(0.0) > 300.0
            && chart_box[1].as_f64().unwrap_or(0.0) > 100.0,
        "{chart_box}"
    );
    browser.screenshot(&shots.join("chart.png"));

    // A syntax error shows the engine's message and marks where it is.
    run_in_editor(&browser, "SELECT country FROM events WHER x = 1");
    let error = browser.text(&browser.wait_for(".error-box", WAIT));
    assert!(
        error.contains("Expected") && error.contains("Column: 33"),
        "{error}"
    );
    let marked = browser.execute(
        "const m = document.querySelector('.error-mark'); return m ? m.textContent : null;",
        json!([]),
    );
    assert_eq!(marked, json!("x"), "the mark sits on the offending token");
    browser.screenshot(&shots.join("error.png"));

    // EXPLAIN renders as a tree.
    run_in_editor(
        &browser,
        "EXPLAIN PLAN FOR SELECT country, COUNT(*) FROM events WHERE country = 'US' GROUP BY country",
    );
    let plan = browser.text(&browser.wait_for(".plan-tree", WAIT));
    assert!(
        plan.contains("GROUP_BY") && plan.contains("FILTER"),
        "{plan}"
    );
    let nested = browser.execute(
        "return document.querySelectorAll('.plan-tree ul[role=group] li').length;",
        json!([]),
    );
    assert!(
        nested.as_u64().unwrap_or(0) >= 1,
        "the filter sits under the group-by"
    );
    browser.screenshot(&shots.join("explain.png"));

    // Completion offers the columns of the table the query names.
    let editor = browser.wait_for("#sql-input", WAIT);
    let completion = "const l = document.querySelector('#sql-completion'); return l && !l.hidden ? l.textContent : '';";
    // Chromedriver once delivered the chord's space without its Control (the editor
    // then holds "SELECT coun "): the chord is typed again, on a fresh text, up to three
    // times; the assertion below is unchanged.
    for _ in 0..3 {
        browser.clear(&editor);
        browser.type_keys(&editor, "SELECT coun");
        browser.type_keys(&editor, "\u{E009} \u{E000}");
        let shown = Instant::now() + Duration::from_secs(5);
        while Instant::now() < shown && browser.execute(completion, json!([])) == json!("") {
            std::thread::sleep(Duration::from_millis(50));
        }
        if browser.execute(completion, json!([])) != json!("") {
            break;
        }
    }
    let offered = browser.wait_until("completion offers country", completion, WAIT);
    assert!(
        offered.as_str().unwrap_or_default().contains("country"),
        "{offered}"
    );

    // The tables view, then the segments of `events` as sealed ones appear, without a
    // reload: the view refreshes itself.
    browser.navigate(&quickstart.url("/#/tables"));
    browser.wait_until(
        "the events card",
        "return [...document.querySelectorAll('.card h2')].some(h => h.textContent === 'events');",
        WAIT,
    );
    browser.screenshot(&shots.join("tables.png"));
    browser.navigate(&quickstart.url("/#/tables/events"));
    browser.wait_for("#segment-table", WAIT);
    let sealed = |b: &Browser| {
        b.execute(
            "return document.querySelectorAll('#segment-table tr[data-state=ONLINE]').length;",
            json!([]),
        )
        .as_u64()
        .unwrap_or(0)
    };
    let first = sealed(&browser);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sealed(&browser) <= first {
        assert!(
            Instant::now() < deadline,
            "no new sealed segment shown in 60 s (had {first})"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let partitions = browser.text(&browser.wait_for("#partition-table", WAIT));
    assert!(partitions.contains("CONSUMING"), "{partitions}");
    // Without [auth] everyone is an admin: the actions show.
    browser.wait_for("button.admin-action", WAIT);
    browser.screenshot(&shots.join("segments.png"));

    // The live panel: rows per second from the server's metrics.
    browser.navigate(&quickstart.url("/#/watch"));
    let rate = browser.wait_until(
        "a rows/s figure",
        "const v = document.querySelector('[data-table=events] [data-metric=rows-per-second]'); return v && /^[0-9,]+$/.test(v.textContent) ? Number(v.textContent.replace(/,/g, '')) : null;",
        WAIT,
    );
    assert!(rate.as_f64().unwrap_or(0.0) > 0.0, "{rate}");
    browser.wait_until(
        "the rows/s sparkline has three points",
        "const l = document.querySelector('[data-table=events] .sparkline polyline'); return l && l.getAttribute('points').split(' ').length >= 3;",
        WAIT,
    );
    browser.screenshot(&shots.join("watch.png"));

    // A phone's width: the query view fits without sideways scrolling.
    browser.set_window(390, 844);
    browser.navigate(&quickstart.url("/#/query"));
    browser.wait_for("#sql-input", WAIT);
    let overflow = browser.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        json!([]),
    );
    assert!(overflow.as_i64().unwrap_or(99) <= 1, "overflow {overflow}");
    browser.screenshot(&shots.join("phone.png"));

    let requests = assert_same_origin(&browser, &origin);
    assert!(requests >= 10, "{requests} requests logged");
    // Script errors and refused loads, but not the syntax error's 400, which Chromium
    // logs as a failed load.
    let errors: Vec<String> = browser
        .severe_console_messages()
        .into_iter()
        .filter(|m| {
            !m.contains(
                "/query/sql - Failed to load resource: the server responded with a status of 400",
            )
        })
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

#[test]
fn test_console_with_auth_asks_for_credentials_before_any_data() {
    let credentials = test_credentials();
    let quickstart = Quickstart::start(Some(&credentials.auth_toml));
    let origin = quickstart.url("");
    let browser = Browser::start(1280, 800);

    // Unauthenticated: the login form, and no request for data.
    browser.navigate(&quickstart.url("/#/tables/events"));
    browser.wait_for("#login-form", WAIT);
    let text = browser.page_text();
    assert!(
        !text.contains("country") && !text.contains("events__"),
        "{text}"
    );
    browser.screenshot(&screenshot_dir().join("login.png"));
    for (_, url) in browser.requests() {
        let Some(path) = url.strip_prefix(&origin) else {
            continue;
        };
        assert!(
            path == "/"
                || path.starts_with("/ui/")
                || path == "/auth/info"
                || path.starts_with("/#"),
            "before signing in the page requested `{url}`"
        );
    }

    // Wrong credentials stay on the form with a message.
    let user = browser.wait_for("#login-user", WAIT);
    browser.type_keys(&user, "reader");
    let password = browser.wait_for("#login-password", WAIT);
    browser.type_keys(&password, "wrong\u{E007}");
    browser.wait_until(
        "the refusal is shown",
        "const f = document.querySelector('#login-form'); return f && f.textContent.includes('not accepted');",
        WAIT,
    );

    // A read-only user sees the data but no admin action.
    browser.clear(&password);
    browser.type_keys(&password, "reader-pw\u{E007}");
    browser.wait_for("#segment-table", WAIT);
    browser.wait_for("#partition-table", WAIT);
    assert!(
        browser.find("button.admin-action").is_none(),
        "a read-only user sees an admin action"
    );
    let who = browser.text(&browser.wait_for("#session .who", WAIT));
    assert!(who.contains("reader") && who.contains("read"), "{who}");

    // The same page as an admin shows pause and force-commit.
    browser.execute("sessionStorage.clear();", json!([]));
    browser.navigate(&quickstart.url("/#/tables/events"));
    let user = browser.wait_for("#login-user", WAIT);
    browser.type_keys(&user, "admin");
    let password = browser.wait_for("#login-password", WAIT);
    browser.type_keys(&password, "admin-pw\u{E007}");
    browser.wait_for("button.admin-action", WAIT);

    // The server still refuses a read-only user's admin call (the UI hiding it is a
    // convenience, not the guard).
    let refused = http(
        "POST",
        &quickstart.address,
        "/tables/events/forceCommit",
        &[("Authorization", &basic("reader", "reader-pw"))],
        b"",
    )
    .expect("request");
    assert_eq!(refused.status, 403);
    // A script's 401 carries no Basic challenge (no browser dialog over the form); a
    // plain client's does.
    let scripted = http(
        "GET",
        &quickstart.address,
        "/tables",
        &[("X-Requested-With", "XMLHttpRequest")],
        b"",
    )
    .expect("request");
    assert_eq!(scripted.status, 401);
    assert!(scripted.header("www-authenticate").is_none());
    let plain = http("GET", &quickstart.address, "/tables", &[], b"").expect("request");
    assert!(plain.header("www-authenticate").is_some());
    let counted = quickstart.query(
        "SELECT COUNT(*) FROM events",
        Some(&basic("reader", "reader-pw")),
    );
    assert!(counted["resultTable"]["rows"][0][0].as_u64().unwrap_or(0) > 0);
    assert_same_origin(&browser, &origin);
}
