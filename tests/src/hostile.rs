//! A server that plays the attacker: a real HTTP server whose every answer the test sets,
//! path by path, and which records every request it gets. In-process (tokio), no child.
//!
//! It stands for a connector's server that lies in its sign-in metadata, redirects where
//! it should not, or forwards the person's browser to someone else's sign-in, and tells the
//! test what reached it: a code, a key in a header, a token request.
//!
//! ```no_run
//! use switchboard_testkit::{Hostile, Reply};
//! let server = Hostile::start();
//! server.route("/mcp", |_| Reply::status(307).header("Location", "http://127.0.0.1:9/mcp"));
//! // ... point Switchboard at server.url("/mcp") ...
//! assert!(server.requests_to("/token").is_empty());
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::http::{answer_then, read_request};

/// One request the server got.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    /// Header names in lowercase, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query's parameters, decoded, in order.
    pub fn query(&self) -> Vec<(String, String)> {
        let query = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        url_pairs(query)
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        url_pairs(&String::from_utf8_lossy(&self.body))
    }
}

fn url_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// What the server answers.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    /// An empty answer with this status.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// Sent only after `delay` (the request is recorded at once): a slow server.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// JSON with this status.
    pub fn json(status: u16, value: &Value) -> Self {
        Self::status(status)
            .header("Content-Type", "application/json")
            .body(value.to_string())
    }

    /// A redirect (`302`, `307`, …) to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::status(status).header("Location", location)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

type Route = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Route>>,
    requests: Mutex<Vec<Request>>,
    /// Answers written out so far.
    answered: std::sync::atomic::AtomicUsize,
}

/// The attacker's server. Paths without a route answer `404`. Stops on drop.
pub struct Hostile {
    base: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Listens on `127.0.0.1` at a port the kernel picked.
    pub fn start() -> Self {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Listens on `ip` (see [`non_loopback_ip`]) at a port the kernel picked.
    pub fn start_on(ip: IpAddr) -> Self {
        let listener = StdTcpListener::bind(SocketAddr::new(ip, 0)).expect("bind the server");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        listener
            .set_nonblocking(true)
            .expect("tokio needs a non-blocking listener");
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("testkit-hostile".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build the hostile server's tokio runtime");
                runtime.block_on(async move {
                    let listener =
                        TcpListener::from_std(listener).expect("hand the listener to tokio");
                    serve(listener, serving, stopped).await;
                });
            })
            .expect("spawn the hostile server's thread");
        Self {
            base: format!("http://{addr}"),
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://<ip>:<port>`, no trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers requests to `path` (any method, any query) with `reply`, from now on.
    pub fn route(&self, path: &str, reply: impl Fn(&Request) -> Reply + Send + Sync + 'static) {
        self.shared
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_owned(), Arc::new(reply));
    }

    /// Answers requests to `path` with this JSON (200).
    pub fn route_json(&self, path: &str, value: Value) {
        self.route(path, move |_| Reply::json(200, &value));
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many answers it has written out so far (a [`Reply::after`] counts once sent).
    pub fn answered(&self) -> usize {
        self.shared
            .answered
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The requests so far to `path` (without query).
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }

    /// Plays an MCP server at `/mcp` that asks for OAuth sign-in: every request gets `401`
    /// with `WWW-Authenticate: Bearer resource_metadata="<base>/.well-known/oauth-protected-resource"`,
    /// whose document names this server as the authorization server
    /// (`resource` = [`url("/mcp")`](Self::url), `authorization_servers` = [`base()`](Self::base)),
    /// and `/.well-known/oauth-authorization-server` serves [`sign_in_metadata`] with
    /// `changes` merged over it. Returns the MCP URL.
    pub fn asks_for_sign_in(&self, changes: Value) -> String {
        let mcp = self.url("/mcp");
        let metadata_url = self.url("/.well-known/oauth-protected-resource");
        let challenge = format!("Bearer resource_metadata=\"{metadata_url}\"");
        self.route("/mcp", move |_| {
            Reply::json(401, &json!({"error": "invalid_token"}))
                .header("WWW-Authenticate", &challenge)
        });
        self.route_json(
            "/.well-known/oauth-protected-resource",
            json!({"resource": mcp, "authorization_servers": [self.base]}),
        );
        let mut metadata = sign_in_metadata(&self.base);
        if let (Some(metadata), Some(changes)) = (metadata.as_object_mut(), changes.as_object()) {
            for (key, value) in changes {
                if value.is_null() {
                    metadata.remove(key);
                } else {
                    metadata.insert(key.clone(), value.clone());
                }
            }
        }
        self.route_json("/.well-known/oauth-authorization-server", metadata);
        mcp
    }
}

/// RFC 8414 metadata for an authorization server at `issuer`, every endpoint under it:
/// `/authorize`, `/token`, `/register` (open dynamic registration), `/revoke`; PKCE S256.
pub fn sign_in_metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
    })
}

/// An address of this machine that is not loopback: what a request to "another host"
/// reaches in a test. The one the kernel would send from toward a documentation address
/// (no packet is sent). Panics, saying so, on a machine with no network interface up.
pub fn non_loopback_ip() -> IpAddr {
    let socket = UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
    socket
        .connect("198.51.100.1:9")
        .and_then(|()| socket.local_addr())
        .map(|addr| addr.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .expect("this test needs a network interface with a non-loopback IPv4 address")
}

impl Drop for Hostile {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(handle(stream, Arc::clone(&shared)));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn handle(mut stream: TcpStream, shared: Arc<Shared>) {
    let Ok(Some(raw)) =
        tokio::time::timeout(Duration::from_secs(10), read_request(&mut stream)).await
    else {
        return;
    };
    let mut lines = raw.head.lines();
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let request = Request {
        method: request_line.next().unwrap_or_default().to_owned(),
        target: request_line.next().unwrap_or_default().to_owned(),
        headers: lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect(),
        body: raw.body,
    };
    let route = shared
        .routes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(request.path())
        .cloned();
    let reply = match &route {
        Some(route) => route(&request),
        None => Reply::status(404).body("not found"),
    };
    shared
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(request);
    let mut response = format!("HTTP/1.1 {} Hostile\r\n", reply.status);
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(&reply.body);
    tokio::time::sleep(reply.delay).await;
    // Counted once written, before the close handshake that may linger.
    answer_then(&mut stream, &bytes, || {
        shared
            .answered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    })
    .await;
}
