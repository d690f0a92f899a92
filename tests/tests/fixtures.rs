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
    assert!(text.contains('5'), "get-sum: {sum}");
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
    assert!(tools_dir().is_absolute());
}
