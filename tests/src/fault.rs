//! A fault proxy: stands between Switchboard and a real MCP server on `127.0.0.1`, passes
//! everything through, and on command misbehaves the way networks and servers do — for
//! the next requests of one JSON-RPC method, or for all of them — or goes away entirely
//! (the network gone) and comes back on the same port.
//!
//! Every request it sees is recorded (method, JSON-RPC method, session, when), so a test
//! can count what the client sent during a fault: a reconnect storm shows.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch};

use crate::http::{Raw, answer, read_request};

/// What the proxy does to a request instead of passing it on.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 404 to a request with a session id: the server restarted and forgot its sessions.
    SessionGone,
    /// 401 with a Bearer challenge: the sign-in was withdrawn.
    Unauthorized,
    /// 502 Bad Gateway, as a load balancer answers when the server behind it is gone for a
    /// moment; the request does not reach the server.
    BadGateway,
    /// 200 with an HTML page, as a captive portal or a misrouted proxy sends.
    Html,
    /// 200 `application/json` that is not JSON.
    Garbage,
    /// 200 with a JSON-RPC result for the request of this many bytes of text.
    Huge(usize),
    /// Reads the request and never answers.
    Stall,
    /// Passes the request on after this long.
    Delay(Duration),
    /// Passes the request on and cuts the answer after this many bytes of its body.
    CutAfter(usize),
    /// Passes the request on and cuts its event stream right after this many whole events
    /// (a server's priming event, say), so that a client can resume it with
    /// `Last-Event-ID`.
    CutAfterEvents(usize),
    /// Passes the request on; the answer becomes an event stream of this many
    /// `notifications/message` before the real answer.
    Flood(usize),
    /// Passes the request on and, in its answer, makes the first `description` (and the
    /// `title` beside it) this many characters long, with control and direction characters.
    LongText(usize),
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The path and query it was sent to (`/mcp?n=3`).
    pub path: String,
    /// The JSON-RPC method of a POST (`tools/call`), if its body is one request.
    pub rpc: Option<String>,
    pub session: Option<String>,
    /// The `Last-Event-ID` header: a stream being resumed.
    pub last_event_id: Option<String>,
    pub at: Instant,
    /// What the proxy did: `None` passed it on.
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct Plan {
    /// Faults for the next requests of a JSON-RPC method (`None`: any request), in order.
    once: VecDeque<(Option<String>, Fault)>,
    /// A fault for every request, until cleared.
    always: Option<Fault>,
    /// Sessions the server no longer knows (it restarted): 404 to each.
    forgotten: std::collections::HashSet<String>,
}

struct Shared {
    /// Bytes of [`Fault::Huge`] answers the client took.
    huge_sent: std::sync::atomic::AtomicUsize,
    upstream: String,
    plan: Mutex<Plan>,
    seen: Mutex<Vec<Seen>>,
    client: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// `true` while the network is up: the listener exists.
    up: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy in front of `upstream` (an MCP server's address: its origin is what requests
    /// go to, with the path they came with).
    pub fn start(upstream: &str) -> Self {
        let origin = url::Url::parse(upstream).expect("an upstream address");
        let upstream = origin.origin().ascii_serialization();
        let shared = Arc::new(Shared {
            huge_sent: Default::default(),
            upstream,
            plan: Mutex::default(),
            seen: Mutex::default(),
            // A connection of its own for each request: a pooled one the server closed
            // while idle (Node closes them after 5 s) can be reused at the instant it goes,
            // and the request would fail with a reset the test did not ask for.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
        });
        let (up, up_rx) = watch::channel(true);
        let (stop, stop_rx) = oneshot::channel();
        let (ready, ready_rx) = std::sync::mpsc::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(serve(serving, up_rx, stop_rx, ready));
        });
        let addr = ready_rx.recv().expect("the proxy listens");
        Self {
            addr,
            shared,
            up,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The proxied address of `path` (`/mcp`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request of JSON-RPC `method` (any request when `None`) meets `fault`;
    /// several calls queue their faults in order.
    pub fn next(&self, method: Option<&str>, fault: Fault) {
        lock(&self.shared.plan)
            .once
            .push_back((method.map(str::to_owned), fault));
    }

    /// Every request meets `fault` (or none again with `None`).
    pub fn always(&self, fault: Option<Fault>) {
        lock(&self.shared.plan).always = fault;
    }

    /// The server restarts: every session it had is forgotten (404 to requests that carry
    /// one), a new one works.
    pub fn forget_sessions(&self) {
        let seen: Vec<String> = self.seen().into_iter().filter_map(|s| s.session).collect();
        lock(&self.shared.plan).forgotten.extend(seen);
    }

    /// The network goes away: nothing listens on the port, connecting is refused.
    pub fn down(&self) {
        self.up.send_replace(false);
    }

    /// The network comes back on the same port.
    pub fn up(&self) {
        self.up.send_replace(true);
    }

    /// How much of its [`Fault::Huge`] answers the client read before it stopped.
    pub fn huge_sent(&self) -> usize {
        self.shared
            .huge_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// The requests seen since `since`.
    pub fn seen_since(&self, since: Instant) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.at >= since).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn listener(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn serve(
    shared: Arc<Shared>,
    mut up: watch::Receiver<bool>,
    mut stop: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<SocketAddr>,
) {
    let first = listener("127.0.0.1:0".parse().expect("an address")).expect("bound");
    let addr = first.local_addr().expect("its address");
    let _ = ready.send(addr);
    let mut listening = Some(first);
    loop {
        match &listening {
            Some(l) => {
                tokio::select! {
                    _ = &mut stop => return,
                    _ = up.changed() => {
                        if !*up.borrow() {
                            listening = None;
                        }
                    }
                    accepted = l.accept() => {
                        if let Ok((stream, _)) = accepted {
                            tokio::spawn(connection(Arc::clone(&shared), stream, up.clone()));
                        }
                    }
                }
            }
            None => {
                tokio::select! {
                    _ = &mut stop => return,
                    _ = up.changed() => {
                        if *up.borrow() {
                            // The port is ours again after a moment (TIME_WAIT aside, which
                            // SO_REUSEADDR lets us past).
                            for _ in 0..50 {
                                if let Ok(l) = listener(addr) {
                                    listening = Some(l);
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The fault for a request, taken from the plan.
fn fault_for(shared: &Shared, rpc: Option<&str>) -> Option<Fault> {
    let mut plan = lock(&shared.plan);
    let position = plan
        .once
        .iter()
        .position(|(method, _)| method.is_none() || method.as_deref() == rpc);
    if let Some(i) = position {
        return plan.once.remove(i).map(|(_, f)| f);
    }
    plan.always.clone()
}

async fn connection(shared: Arc<Shared>, mut stream: TcpStream, mut up: watch::Receiver<bool>) {
    let Some(raw) = read_request(&mut stream).await else {
        return;
    };
    let mut request_line = raw.head.lines().next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or("/").to_owned();
    let body: Option<serde_json::Value> = serde_json::from_slice(&raw.body).ok();
    let rpc = body
        .as_ref()
        .and_then(|b| b["method"].as_str())
        .map(str::to_owned);
    let id = body.as_ref().map(|b| b["id"].clone()).unwrap_or_default();
    let session = header(&raw.head, "mcp-session-id").map(str::to_owned);
    let forgotten = session
        .as_ref()
        .is_some_and(|s| lock(&shared.plan).forgotten.contains(s));
    let fault = if forgotten {
        Some(Fault::SessionGone)
    } else if method == "POST" {
        // Only what the client sends carries a method; GETs and DELETEs pass.
        fault_for(&shared, rpc.as_deref())
    } else {
        None
    };
    lock(&shared.seen).push(Seen {
        method: method.clone(),
        path: path.clone(),
        rpc,
        session: session.clone(),
        last_event_id: header(&raw.head, "last-event-id").map(str::to_owned),
        at: Instant::now(),
        fault: fault.clone(),
    });
    let reply = |status: &str, content_type: &str, extra: &str, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    match fault {
        Some(Fault::SessionGone) if session.is_some() => {
            let body = br#"{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}"#;
            answer(
                &mut stream,
                &reply("404 Not Found", "application/json", "", body),
            )
            .await;
            return;
        }
        Some(Fault::Unauthorized) => {
            answer(
                &mut stream,
                &reply(
                    "401 Unauthorized",
                    "application/json",
                    "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
                    br#"{"error":"invalid_token"}"#,
                ),
            )
            .await;
            return;
        }
        Some(Fault::BadGateway) => {
            answer(
                &mut stream,
                &reply(
                    "502 Bad Gateway",
                    "text/plain",
                    "",
                    b"upstream connect error",
                ),
            )
            .await;
            return;
        }
        Some(Fault::Html) => {
            answer(
                &mut stream,
                &reply(
                    "200 OK",
                    "text/html; charset=utf-8",
                    "",
                    crate::HTML_BODY.as_bytes(),
                ),
            )
            .await;
            return;
        }
        Some(Fault::Garbage) => {
            answer(
                &mut stream,
                &reply(
                    "200 OK",
                    "application/json",
                    "",
                    b"{\"jsonrpc\": \"2.0\", \"resu",
                ),
            )
            .await;
            return;
        }
        Some(Fault::Huge(size)) => {
            // Written as it goes: the proxy holds 64 KB of it at a time, so what the test
            // process's memory shows of it is the client's.
            let opening = format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":\""
            );
            let closing = "\"}]}}";
            // No length said beforehand (as a server streaming its answer): the client
            // finds out how big it is by reading.
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err()
                || stream.write_all(opening.as_bytes()).await.is_err()
            {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len());
                if stream.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
                shared
                    .huge_sent
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                left -= n;
            }
            answer(&mut stream, closing.as_bytes()).await;
            return;
        }
        Some(Fault::Stall) => {
            // Holds the connection until the network goes down or the client leaves.
            let _ = up.wait_for(|up| !*up).await;
            return;
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        _ => {}
    }
    let cut = match fault {
        Some(Fault::CutAfter(n)) => Some(Cut::Bytes(n)),
        Some(Fault::CutAfterEvents(n)) => Some(Cut::Events(n)),
        _ => None,
    };
    let flood = match fault {
        Some(Fault::Flood(n)) => n,
        _ => 0,
    };
    if let Some(Fault::LongText(n)) = fault {
        rewrite(&shared, &mut stream, &method, &path, &raw, n).await;
        return;
    }
    pass(&shared, &mut stream, &method, &path, &raw, cut, flood, &id).await;
}

/// The request as the server gets it: the same method, path, headers (less those of this
/// hop) and body.
fn upstream(shared: &Shared, method: &str, path: &str, raw: &Raw) -> reqwest::RequestBuilder {
    let url = format!("{}{path}", shared.upstream);
    let mut request = shared
        .client
        .request(method.parse().unwrap_or(reqwest::Method::GET), &url)
        .body(raw.body.clone());
    for line in raw.head.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && !["host", "connection", "content-length", "accept-encoding"]
                .iter()
                .any(|hop| name.trim().eq_ignore_ascii_case(hop))
        {
            request = request.header(name.trim(), value.trim());
        }
    }
    request
}

/// Passes the request to the server and its answer back, as it arrives (event streams
/// included), cut after `cut` bytes of the body, with `flood` log notifications first.
/// Where [`pass`] cuts an answer.
#[derive(Clone, Copy)]
enum Cut {
    Bytes(usize),
    Events(usize),
}

/// Counts the ends of events (a blank line) in an event stream read chunk by chunk.
#[derive(Default)]
struct Events {
    ended: usize,
    /// Line ends in a row so far (`\r` aside): two end an event.
    newlines: u8,
}

impl Events {
    /// Where in `chunk` the `n`th event ends (just past it), if it does in this chunk.
    fn end_of(&mut self, n: usize, chunk: &[u8]) -> Option<usize> {
        for (at, byte) in chunk.iter().enumerate() {
            match byte {
                b'\r' => {}
                b'\n' => {
                    self.newlines += 1;
                    if self.newlines == 2 {
                        self.newlines = 0;
                        self.ended += 1;
                        if self.ended == n {
                            return Some(at + 1);
                        }
                    }
                }
                _ => self.newlines = 0,
            }
        }
        None
    }
}

#[allow(clippy::too_many_arguments)]
async fn pass(
    shared: &Shared,
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    raw: &Raw,
    cut: Option<Cut>,
    flood: usize,
    id: &serde_json::Value,
) {
    let sent = upstream(shared, method, path, raw).send().await;
    if let Err(err) = &sent {
        // Not a fault asked for: the test's own wire failed; say so beside its outcome.
        eprintln!("fault proxy: {method} {path} did not reach the server, answered 502: {err:?}");
    }
    let Ok(mut response) = sent else {
        answer(
            stream,
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
        return;
    };
    let mut head = format!("HTTP/1.1 {}\r\n", response.status());
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    for (name, value) in response.headers() {
        if ["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|n| name.as_str().eq_ignore_ascii_case(n))
        {
            continue;
        }
        if flood > 0 && name.as_str().eq_ignore_ascii_case("content-type") {
            continue;
        }
        head.push_str(&format!(
            "{}: {}\r\n",
            name,
            value.to_str().unwrap_or_default()
        ));
    }
    if flood > 0 {
        head.push_str("Content-Type: text/event-stream\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut written = 0usize;
    if flood > 0 {
        let one = format!(
            "event: message\ndata: {}\n\n",
            serde_json::json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "flood"}})
        );
        let mut batch = String::new();
        for i in 0..flood {
            batch.push_str(&one);
            if i % 1000 == 999 {
                if stream.write_all(batch.as_bytes()).await.is_err() {
                    return;
                }
                batch.clear();
            }
        }
        if stream.write_all(batch.as_bytes()).await.is_err() {
            return;
        }
    }
    let mut json_body = Vec::new();
    let mut events = Events::default();
    while let Ok(Some(chunk)) = response.chunk().await {
        let mut chunk = &chunk[..];
        let mut done = false;
        match cut {
            Some(Cut::Bytes(cut)) => {
                let left = cut.saturating_sub(written);
                if chunk.len() >= left {
                    chunk = &chunk[..left];
                    done = true;
                }
            }
            Some(Cut::Events(n)) => {
                if let Some(end) = events.end_of(n, chunk) {
                    chunk = &chunk[..end];
                    done = true;
                }
            }
            None => {}
        }
        if flood > 0 && is_json {
            json_body.extend_from_slice(chunk);
        } else if stream.write_all(chunk).await.is_err() {
            return;
        }
        written += chunk.len();
        if done {
            // The connection drops mid-answer: no clean close.
            let _ = stream.set_zero_linger();
            return;
        }
    }
    if flood > 0 && is_json {
        let _ = id;
        let event = format!(
            "event: message\ndata: {}\n\n",
            String::from_utf8_lossy(&json_body)
        );
        let _ = stream.write_all(event.as_bytes()).await;
    }
    let _ = stream.shutdown().await;
}

/// The request passed on, its whole answer read and every text a person would be shown
/// made `n` characters long, hostile characters included.
async fn rewrite(
    shared: &Shared,
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    raw: &Raw,
    n: usize,
) {
    /// Lengthens the first object's texts that has a description; true once done.
    fn lengthen(value: &mut serde_json::Value, n: usize) -> bool {
        match value {
            serde_json::Value::Object(map)
                if map.get("description").is_some_and(|d| d.is_string()) =>
            {
                let seed = "Line one\u{7}\n\u{202e}reversed\u{1b}[31m ";
                let long =
                    serde_json::Value::from(seed.chars().cycle().take(n).collect::<String>());
                map.insert("description".to_owned(), long.clone());
                map.insert("title".to_owned(), long);
                true
            }
            serde_json::Value::Object(map) => map.values_mut().any(|v| lengthen(v, n)),
            serde_json::Value::Array(items) => items.iter_mut().any(|v| lengthen(v, n)),
            _ => false,
        }
    }
    let Ok(response) = upstream(shared, method, path, raw).send().await else {
        return;
    };
    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| {
            !["content-length", "transfer-encoding", "connection"]
                .iter()
                .any(|h| name.as_str().eq_ignore_ascii_case(h))
        })
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    // JSON, or an event stream whose `data:` lines are JSON.
    let rewritten = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(mut value) => {
            lengthen(&mut value, n);
            value.to_string()
        }
        Err(_) => {
            text.lines()
                .map(|line| {
                    match line
                        .strip_prefix("data: ")
                        .or_else(|| line.strip_prefix("data:"))
                    {
                        Some(data) => match serde_json::from_str::<serde_json::Value>(data) {
                            Ok(mut value) => {
                                lengthen(&mut value, n);
                                format!("data: {value}")
                            }
                            Err(_) => line.to_owned(),
                        },
                        None => line.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        }
    };
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        rewritten.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(rewritten.as_bytes());
    answer(stream, &bytes).await;
}
