//! Minimal synchronous W3C WebDriver client for driving Debian's headless
//! Chromium through chromedriver from integration tests.
//!
//! Only `std`, `serde_json` and `base64` are used. Methods panic with a message
//! naming the failed step, except `available`, `exists` and the `try_*` variants.
#![allow(dead_code)]

use base64::Engine as _;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Key under which W3C WebDriver returns element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
type Value = serde_json::Value;
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A chromedriver process with one open session on a headless Chromium.
pub struct Browser {
    child: Child,
    port: u16,
    session: String,
    chrome_pid: Option<u64>,
    user_data_dir: PathBuf,
    size: (u32, u32),
}

impl Browser {
    /// Reports whether both chromedriver and chromium are installed.
    pub fn available() -> bool {
        Path::new(CHROMEDRIVER).is_file() && Path::new(CHROMIUM).is_file()
    }

    /// Starts a browser with a 1280x900 viewport.
    pub fn start() -> Browser {
        Self::start_with_size(1280, 900)
    }

    /// Starts chromedriver on a free local port, waits up to 20 s until it
    /// reports ready and opens a headless Chromium session with browser console
    /// logging and a viewport of exactly `width` x `height` CSS pixels.
    ///
    /// The viewport is set through device metrics emulation, because a headless
    /// window is at least 500 px wide and `--window-size` includes about 143 px
    /// of simulated browser UI. Each session uses its own profile directory.
    pub fn start_with_size(width: u32, height: u32) -> Browser {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("browser-test-{}-{n}", std::process::id()));
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("browser: find a free port")
            .port();
        // Chromium's own temporary files also go under the profile directory.
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("browser: create {dir:?}: {e}"));
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .env("TMPDIR", &dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("browser: spawn {CHROMEDRIVER}: {e}"));
        // From here on, a panic drops `b`, which kills chromedriver and Chromium.
        let mut b = Browser {
            child,
            port,
            session: String::new(),
            chrome_pid: None,
            user_data_dir: dir,
            size: (width, height),
        };
        b.wait_ready(Duration::from_secs(20));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "timeouts": {"implicit": 0, "pageLoad": 30000, "script": 30000},
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", b.user_data_dir.display()),
            ]},
        }}});
        let v = b.request("POST", "/session", Some(caps));
        let v = v.unwrap_or_else(|e| panic!("browser: new session failed: {e}"));
        b.session = v["sessionId"].as_str().unwrap_or_default().to_string();
        b.chrome_pid = v["capabilities"]["goog:processID"].as_u64();
        b.set_viewport(width, height);
        b
    }

    /// Polls chromedriver's `/status` until it reports ready.
    fn wait_ready(&mut self, timeout: Duration) {
        let (deadline, port) = (Instant::now() + timeout, self.port);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("browser: chromedriver on port {port} exited with {status}");
            }
            let reply = http(port, "GET", "/status", None);
            if matches!(&reply, Ok((_, v)) if v["value"]["ready"] == true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "browser: chromedriver not ready: {reply:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends one command and returns its `value`, or a description of the failure.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let (status, v) = http(self.port, method, path, body.as_ref())?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if status != 200 || value.get("error").is_some() {
            let err = value["error"].as_str().unwrap_or("?");
            let msg = value["message"].as_str().unwrap_or("");
            return Err(format!("HTTP {status}: {err}: {msg}"));
        }
        Ok(value)
    }

    /// Sends a command relative to the session URL; panics naming `step` on failure.
    fn cmd(&self, step: &str, method: &str, rest: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{rest}", self.session);
        let result = self.request(method, &path, body);
        result.unwrap_or_else(|e| panic!("browser: {step} failed: {e}"))
    }

    fn get(&self, step: &str, rest: &str) -> Value {
        self.cmd(step, "GET", rest, None)
    }

    fn post(&self, step: &str, rest: &str, body: Value) -> Value {
        self.cmd(step, "POST", rest, Some(body))
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let body = json!({"using": "css selector", "value": css});
        let v = self.post(&format!("find `{css}`"), "/elements", body);
        let ids = v.as_array().into_iter().flatten();
        ids.filter_map(|e| e[ELEMENT_KEY].as_str().map(String::from))
            .collect()
    }

    /// Path of the first element matching `css`; panics naming the selector when absent.
    fn element(&self, css: &str) -> String {
        match self.find_all(css).into_iter().next() {
            Some(id) => format!("/element/{id}"),
            None => panic!("browser: no element matches CSS selector `{css}`"),
        }
    }

    /// Navigates to `url` and waits for the page load.
    pub fn goto(&self, url: &str) {
        self.post(&format!("goto {url}"), "/url", json!({ "url": url }));
    }

    /// Current page URL.
    pub fn url(&self) -> String {
        string(self.get("get url", "/url"))
    }

    /// Current document title.
    pub fn title(&self) -> String {
        string(self.get("get title", "/title"))
    }

    /// Rendered text of the first element matching a CSS selector; panics naming
    /// the selector when absent.
    pub fn text(&self, css: &str) -> String {
        let path = format!("{}/text", self.element(css));
        string(self.get(&format!("text of `{css}`"), &path))
    }

    /// Rendered text of the first element matching a CSS selector, or `None` when absent.
    pub fn try_text(&self, css: &str) -> Option<String> {
        self.exists(css).then(|| self.text(css))
    }

    /// Rendered texts of all elements matching a CSS selector.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let step = format!("text of `{css}`");
        let ids = self.find_all(css).into_iter();
        ids.map(|id| string(self.get(&step, &format!("/element/{id}/text"))))
            .collect()
    }

    /// Attribute of the first matching element, `None` when the attribute is absent.
    /// Panics when no element matches.
    pub fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let path = format!("{}/attribute/{name}", self.element(css));
        let v = self.get(&format!("attribute {name} of `{css}`"), &path);
        v.as_str().map(String::from)
    }

    /// Whether at least one element matches the CSS selector.
    pub fn exists(&self, css: &str) -> bool {
        !self.find_all(css).is_empty()
    }

    /// Polls until an element matches the selector; panics after `timeout`.
    pub fn wait_for(&self, css: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.exists(css) {
            if Instant::now() > deadline {
                panic!("browser: no `{css}` after {timeout:?} at {}", self.url());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks the first matching element.
    pub fn click(&self, css: &str) {
        let path = format!("{}/click", self.element(css));
        self.post(&format!("click `{css}`"), &path, json!({}));
    }

    /// Clears the first matching input, then types `value` into it.
    pub fn fill(&self, css: &str, value: &str) {
        let el = self.element(css);
        self.post(&format!("clear `{css}`"), &format!("{el}/clear"), json!({}));
        let text = json!({ "text": value });
        self.post(&format!("type into `{css}`"), &format!("{el}/value"), text);
    }

    /// Runs a synchronous script body (using `return` and `arguments`) and returns its JSON value.
    pub fn script(&self, js: &str, args: Vec<Value>) -> Value {
        let body = json!({"script": js, "args": args});
        self.post("execute script", "/execute/sync", body)
    }

    /// Browser console entries since the previous read, as (level, message);
    /// levels are SEVERE, WARNING, INFO or DEBUG.
    pub fn console(&self) -> Vec<(String, String)> {
        let body = json!({"type": "browser"});
        let base = format!("/session/{}", self.session);
        let v = self
            .request("POST", &format!("{base}/se/log"), Some(body.clone()))
            .or_else(|_| self.request("POST", &format!("{base}/log"), Some(body)))
            .unwrap_or_else(|e| panic!("browser: read console log failed: {e}"));
        let entries = v.as_array().into_iter().flatten();
        entries
            .map(|e| (string(e["level"].clone()), string(e["message"].clone())))
            .collect()
    }

    /// Messages of SEVERE console entries since the previous read
    /// (other entries read by this call are discarded).
    pub fn console_errors(&self) -> Vec<String> {
        let entries = self.console().into_iter();
        entries
            .filter_map(|(l, m)| (l == "SEVERE").then_some(m))
            .collect()
    }

    /// Writes a PNG screenshot of the viewport to `path`, creating parent directories.
    pub fn screenshot(&self, path: &Path) {
        let v = self.get("screenshot", "/screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("browser: screenshot is not base64: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("browser: create {}: {e}", dir.display()));
        }
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("browser: write {}: {e}", path.display()));
    }

    /// Writes a PNG of the whole page by temporarily growing the viewport to
    /// the document height (capped at 10000 px), then restoring it.
    pub fn screenshot_full(&self, path: &Path) {
        let js = "return Math.max(document.documentElement.scrollHeight, \
                  document.body ? document.body.scrollHeight : 0)";
        let page = self.script(js, vec![]).as_u64().unwrap_or(0).min(10_000) as u32;
        let (width, height) = self.size;
        if page > height {
            self.set_viewport(width, page);
        }
        self.screenshot(path);
        if page > height {
            self.set_viewport(width, height);
        }
    }

    /// Sets the viewport of the current tab to `width` x `height` CSS pixels at scale 1.
    fn set_viewport(&self, width: u32, height: u32) {
        let params =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false});
        let body = json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": params});
        self.post("set viewport", "/goog/cdp/execute", body);
    }

    /// Cookies visible to the current page, as WebDriver cookie objects
    /// (`name`, `value`, `httpOnly`, `sameSite`, `domain`, `path`, ...).
    pub fn cookies(&self) -> Vec<Value> {
        match self.get("get cookies", "/cookie") {
            Value::Array(a) => a,
            _ => Vec::new(),
        }
    }

    /// Deletes all cookies visible to the current page.
    pub fn delete_cookies(&self) {
        self.cmd("delete cookies", "DELETE", "/cookie", None);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            // chromedriver closes Chromium on DELETE; kill it directly when that fails.
            if let (Err(_), Some(pid)) = (http(self.port, "DELETE", &path, None), self.chrome_pid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.user_data_dir);
    }
}

fn string(v: Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Performs one HTTP/1.1 request to chromedriver and returns the status code and JSON body.
/// chromedriver answers `Connection: close` yet keeps the socket open, so the body
/// ends by Content-Length or chunked framing rather than by end of stream.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
    let io = |e: std::io::Error| format!("{method} {path}: {e}");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let len = body.len();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json; charset=utf-8\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n{body}"
    );
    stream.write_all(req.as_bytes()).map_err(io)?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).map_err(io)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{method} {path}: bad status line {line:?}"))?;
    let (mut chunked, mut length) = (false, None);
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(io)? == 0 || line.trim().is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap_or((&line, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "content-length" => length = v.trim().parse::<usize>().ok(),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).map_err(io)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(size, 16).map_err(|e| format!("chunk size {line:?}: {e}"))?;
            if size == 0 {
                break; // Trailers, if any, are ignored.
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).map_err(io)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body).map_err(io)?;
    } else {
        r.read_to_end(&mut body).map_err(io)?;
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((status, Value::Null));
    }
    let text = String::from_utf8_lossy(&body);
    let v = serde_json::from_str(&text).map_err(|e| format!("HTTP {status}: {e}: {text}"))?;
    Ok((status, v))
}
