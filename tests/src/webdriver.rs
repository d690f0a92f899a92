//! A small W3C WebDriver client, enough to drive the real Switchboard window through
//! tauri-driver and WebKitWebDriver: find, click, type, read text, run a script.
//!
//! Waiting is explicit ([`Session::wait_for`]): the window updates asynchronously, so a test
//! waits for what a person would wait for and fails with what it saw instead.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// W3C's key for an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const TAB: &str = "\u{E004}";
    pub const ARROW_RIGHT: &str = "\u{E014}";
    pub const ARROW_DOWN: &str = "\u{E015}";
    pub const BACKSPACE: &str = "\u{E003}";
    /// Held down for the rest of one `type_into` (WebKitWebDriver ignores the release key,
    /// so end the send there).
    pub const SHIFT: &str = "\u{E008}";
}

/// How long the UI gets to show what a test waits for: a whole OAuth trip through a cold
/// Chromium takes a minute or more on a 2-core machine. Only a failure waits this long.
pub const PATIENCE: Duration = Duration::from_secs(90);

pub struct Session {
    http: reqwest::Client,
    base: String,
}

#[derive(Clone, Debug)]
pub struct Element(String);

/// Whether a command's error says the session is over: WebKitWebDriver ends it when the
/// app or the process of its page dies, and nothing can come of waiting any longer.
fn session_ended(error: &str) -> bool {
    error.contains("invalid session id")
}

impl Session {
    /// Starts the app through tauri-driver listening on `port`.
    pub async fn start(port: u16, application: &std::path::Path) -> Result<Self, String> {
        let http = reqwest::Client::new();
        let body = json!({
            "capabilities": {
                "alwaysMatch": {
                    "tauri:options": { "application": application.to_string_lossy() }
                }
            }
        });
        let url = format!("http://127.0.0.1:{port}/session");
        let mut last_error = String::new();
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            // Bounded too: WebKitWebDriver never answers for an app that died as it started.
            let request = http
                .post(&url)
                .json(&body)
                .timeout(deadline.saturating_duration_since(Instant::now()));
            match request.send().await {
                Ok(response) => {
                    let value: Value = response.json().await.map_err(|e| e.to_string())?;
                    let id = value["value"]["sessionId"]
                        .as_str()
                        .or_else(|| value["sessionId"].as_str())
                        .ok_or_else(|| format!("no session id in {value}"))?;
                    return Ok(Self {
                        http,
                        base: format!("http://127.0.0.1:{port}/session/{id}"),
                    });
                }
                Err(err) => last_error = err.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "tauri-driver did not start a session: {last_error}"
        ))
    }

    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{}", self.base, path);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let value: Value = response.json().await.map_err(|e| format!("{path}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{path}: {} — {}",
                value["value"]["error"].as_str().unwrap_or("error"),
                value["value"]["message"].as_str().unwrap_or_default()
            ));
        }
        Ok(value["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        self.command(reqwest::Method::GET, path, None).await
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, String> {
        self.find_under("", css).await
    }

    pub async fn find_all_in(&self, parent: &Element, css: &str) -> Result<Vec<Element>, String> {
        self.find_under(&format!("/element/{}", parent.0), css)
            .await
    }

    async fn find_under(&self, scope: &str, css: &str) -> Result<Vec<Element>, String> {
        let found = self
            .post(
                &format!("{scope}/elements"),
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        Ok(found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits until `css` matches at least one element, and returns the first.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_until(css, |_| true).await
    }

    /// Waits until `css` matches nothing.
    pub async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.find_all(css).await {
                Ok(found) if found.is_empty() => return,
                Err(err) if session_ended(&err) => panic!("waiting for {css} to go: {err}"),
                _ if Instant::now() > deadline => {
                    let page = self.page_text().await;
                    panic!("{css} was still shown after {PATIENCE:?}\n{page}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until an element matching `css` has text for which `accept` holds.
    pub async fn wait_until(&self, css: &str, accept: impl Fn(&str) -> bool) -> Element {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let found = self.find_all(css).await;
            if let Err(err) = &found
                && session_ended(err)
            {
                panic!("waiting for {css}: {err}");
            }
            if let Ok(found) = found {
                seen.clear();
                for element in found {
                    let text = self.text(&element).await.unwrap_or_default();
                    if accept(&text) {
                        return element;
                    }
                    seen.push(text);
                }
            }
            if Instant::now() > deadline {
                let page = self.page_text().await;
                panic!("waited {PATIENCE:?} for {css}; saw {seen:?}\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the window shows, for a failed wait's message: the text a person would read
    /// and the test ids present, so a failure in CI says what was on screen instead.
    async fn page_text(&self) -> String {
        let script = "const ids = [...document.querySelectorAll('[data-testid]')]\
            .map(e => e.dataset.testid);\
            return 'The window showed:\\n' + document.body.innerText.slice(0, 3000)\
            + '\\nTest ids: ' + [...new Set(ids)].join(' ');";
        self.execute(script, json!([]))
            .await
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|e| format!("(the window could not be read: {e})"))
    }

    /// Waits until `css` shows exactly `expected`.
    pub async fn wait_text(&self, css: &str, expected: &str) -> Element {
        self.wait_until(css, |text| text.trim() == expected).await
    }

    /// The text as rendered (`innerText`). WebKitWebDriver's own "element text" reports
    /// nothing for text inside a `<button>` it wrongly deems hidden, so ask the page.
    pub async fn text(&self, element: &Element) -> Result<String, String> {
        Ok(self
            .execute(
                "return arguments[0].innerText;",
                json!([{ ELEMENT_KEY: element.0 }]),
            )
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>, String> {
        Ok(self
            .get(&format!("/element/{}/attribute/{name}", element.0))
            .await?
            .as_str()
            .map(str::to_owned))
    }

    /// The element's `class` attribute, empty when it has none.
    pub async fn class(&self, element: &Element) -> String {
        self.attribute(element, "class")
            .await
            .expect("class")
            .unwrap_or_default()
    }

    pub async fn property(&self, element: &Element, name: &str) -> Result<Value, String> {
        self.get(&format!("/element/{}/property/{name}", element.0))
            .await
    }

    pub async fn click(&self, element: &Element) -> Result<(), String> {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await
            .map(drop)
    }

    pub async fn type_into(&self, element: &Element, text: &str) -> Result<(), String> {
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await
        .map(drop)
    }

    pub async fn clear(&self, element: &Element) -> Result<(), String> {
        self.post(&format!("/element/{}/clear", element.0), json!({}))
            .await
            .map(drop)
    }

    /// Keys sent to whatever has focus, as a person pressing them.
    pub async fn press(&self, keys: &str) -> Result<(), String> {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.post(
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        )
        .await?;
        self.command(reqwest::Method::DELETE, "/actions", None)
            .await
            .map(drop)
    }

    pub async fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Returns once the page has drawn what changed (two animation frames): a screenshot
    /// taken right after a change made by script (a scroll) may otherwise show the frame
    /// before it.
    pub async fn painted(&self) -> Result<(), String> {
        self.post(
            "/execute/async",
            json!({
                "script": "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                "args": [],
            }),
        )
        .await
        .map(drop)
    }

    /// The `data-testid` of the focused element, if it has one.
    pub async fn focused_test_id(&self) -> Result<Option<String>, String> {
        let value = self
            .execute(
                "return document.activeElement && document.activeElement.getAttribute('data-testid');",
                json!([]),
            )
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// Ends the session; tauri-driver closes the app. A relaunch on the same desktop must
    /// wait for the old process to be gone ([`crate::desktop::Desktop::wait_until_no_app`]):
    /// single-instance would hand the new launch to the dying one.
    pub async fn quit(self) {
        self.command(reqwest::Method::DELETE, "", None)
            .await
            .expect("the WebDriver session ends");
    }
}

/// `[data-testid="name"]`
pub fn tid(name: &str) -> String {
    format!("[data-testid=\"{name}\"]")
}
