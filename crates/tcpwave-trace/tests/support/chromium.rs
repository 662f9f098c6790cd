//! A headless Debian chromium driven over the DevTools protocol (CDP) through a
//! WebSocket: open a page, press keys, click, read the DOM, take screenshots.
//!
//! Only what the page tests need. Protocol: https://chromedevtools.github.io/devtools-protocol/

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long any one wait may take before the test fails.
const WAIT_MAX: Duration = Duration::from_secs(30);

/// A running headless chromium with one page attached.
pub struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: String,
    /// Every event received so far (method and params).
    pub events: Vec<Value>,
    _profile: TempDir,
}

/// A folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    /// Starts chromium with a fresh profile and a blank page of `width` x `height`.
    pub fn start(width: u32, height: u32) -> Browser {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "tcpwave-chromium-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).expect("profile folder");
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                &format!("--window-size={width},{height}"),
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let url = devtools_url(&mut child);
        let (mut socket, _) = tungstenite::connect(url.as_str()).expect("connect to DevTools");
        if let MaybeTlsStream::Plain(stream) = socket.get_mut() {
            stream
                .set_read_timeout(Some(WAIT_MAX))
                .expect("read timeout");
        }
        let mut browser = Browser {
            child,
            socket,
            next_id: 1,
            session: String::new(),
            events: Vec::new(),
            _profile: TempDir(profile),
        };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        for domain in ["Page.enable", "Runtime.enable", "Network.enable"] {
            browser.page(domain, json!({}));
        }
        browser.page(
            "Emulation.setFocusEmulationEnabled",
            json!({ "enabled": true }),
        );
        browser.page(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        browser
    }

    /// Sends a browser-level command and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// Sends a command to the page and returns its result.
    pub fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .expect("send to DevTools");
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            assert!(Instant::now() < deadline, "no answer to {method}");
            let value = self.receive();
            if value["id"] == json!(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method} failed: {error}");
                }
                return value["result"].clone();
            }
        }
    }

    /// Reads one message; events are kept in `self.events`.
    fn receive(&mut self) -> Value {
        loop {
            match self.socket.read().expect("read from DevTools") {
                Message::Text(text) => {
                    let value: Value =
                        serde_json::from_str(text.as_str()).expect("JSON from DevTools");
                    if value.get("method").is_some() {
                        self.events.push(value.clone());
                    }
                    return value;
                }
                Message::Close(_) => panic!("DevTools closed the connection"),
                _ => continue,
            }
        }
    }

    /// Waits for an event `method` that arrives after the first `seen` events.
    fn wait_event(&mut self, method: &str, seen: usize) {
        let deadline = Instant::now() + WAIT_MAX;
        while !self.events[seen.min(self.events.len())..]
            .iter()
            .any(|e| e["method"] == method)
        {
            assert!(Instant::now() < deadline, "no {method} event");
            self.receive();
        }
    }

    /// Opens a file and waits until it has loaded.
    pub fn open(&mut self, file: &Path) {
        let url = format!(
            "file://{}",
            file.canonicalize().expect("file exists").display()
        );
        let seen = self.events.len();
        self.page("Page.navigate", json!({ "url": url }));
        self.wait_event("Page.loadEventFired", seen);
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.page(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Presses and releases a key (`ArrowRight`, `ArrowLeft`, `Home`, `End`).
    pub fn press(&mut self, key: &str) {
        let code = match key {
            "ArrowLeft" => 37,
            "ArrowRight" => 39,
            "Home" => 36,
            "End" => 35,
            other => panic!("no key code for {other}"),
        };
        for kind in ["rawKeyDown", "keyUp"] {
            self.page(
                "Input.dispatchKeyEvent",
                json!({ "type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code }),
            );
        }
    }

    /// Clicks the middle of the element `selector` with the mouse.
    pub fn click(&mut self, selector: &str) {
        let rect = self.eval(&format!(
            "(() => {{ const r = document.querySelector({selector:?}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = (rect[0].as_f64().expect("x"), rect[1].as_f64().expect("y"));
        for kind in ["mousePressed", "mouseReleased"] {
            self.page(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// A PNG of what the page shows.
    pub fn screenshot(&mut self, file: &Path) {
        let shot = self.page("Page.captureScreenshot", json!({ "format": "png" }));
        let data = shot["data"].as_str().expect("screenshot data");
        std::fs::write(file, decode_base64(data)).expect("write screenshot");
    }

    /// URLs the page asked for, and exceptions it threw, since it was opened.
    pub fn requests_and_exceptions(&self) -> (Vec<String>, Vec<String>) {
        let mut requests = Vec::new();
        let mut exceptions = Vec::new();
        for e in &self.events {
            match e["method"].as_str() {
                Some("Network.requestWillBeSent") => requests.push(
                    e["params"]["request"]["url"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                ),
                Some("Runtime.exceptionThrown") => {
                    exceptions.push(e["params"]["exceptionDetails"].to_string())
                }
                _ => {}
            }
        }
        (requests, exceptions)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let id = self.next_id;
        let _ = self.socket.send(Message::text(
            json!({ "id": id, "method": "Browser.close" }).to_string(),
        ));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads chromium's stderr until it says where DevTools listens; keeps draining it after.
fn devtools_url(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_string());
                    sent = true;
                }
            }
        }
    });
    rx.recv_timeout(WAIT_MAX)
        .expect("chromium did not print its DevTools address")
}

/// Standard base64 (RFC 4648 §4), as CDP sends screenshots.
fn decode_base64(text: &str) -> Vec<u8> {
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
        bits = bits << 6 | c;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}
