//! The core against real servers on 127.0.0.1: the npm reference server, a PyPI `mcp`
//! server speaking both protocol eras, and servers that answer wrongly or not at all.

use std::collections::BTreeSet;
use std::time::Duration;

use rmcp::model::ResourceContents;
use serde_json::{Map, Value, json};
use switchboard_core::session::{ConnectError, Era};
use switchboard_core::{ErrorCode, Session, Timeouts};
use switchboard_testkit as kit;

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn names<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

fn text_of(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn everything_server_lists_all_it_offers_and_answers() {
    let server = kit::Everything::start();
    let session = Session::connect(server.url(), Timeouts::default())
        .await
        .expect("connects");

    let info = session.server();
    assert_eq!(info.name, kit::EVERYTHING_SERVER_NAME);
    assert_eq!(info.title.as_deref(), Some(kit::EVERYTHING_SERVER_TITLE));
    assert_eq!(info.version, kit::EVERYTHING_SERVER_VERSION);
    // It does not speak the stateless era: the client fell back to initialize.
    assert_eq!(info.protocol_version, kit::EVERYTHING_PROTOCOL_VERSION);

    let catalog = session.catalog().await.expect("lists");
    assert_eq!(
        names(catalog.tools.iter().map(|t| t.name.as_str())),
        names(kit::EVERYTHING_TOOL_NAMES)
    );
    assert_eq!(
        names(catalog.resources.iter().map(|r| r.uri.as_str())),
        names(kit::EVERYTHING_RESOURCE_URIS)
    );
    assert_eq!(
        names(
            catalog
                .resource_templates
                .iter()
                .map(|r| r.uri_template.as_str())
        ),
        names(kit::EVERYTHING_RESOURCE_TEMPLATE_URIS)
    );
    assert_eq!(
        names(catalog.prompts.iter().map(|p| p.name.as_str())),
        names(kit::EVERYTHING_PROMPT_NAMES)
    );
    let echo = catalog
        .tools
        .iter()
        .find(|t| t.name == "echo")
        .expect("echo");
    assert!(echo.description.as_deref().is_some_and(|d| !d.is_empty()));

    let read = session
        .read_resource(kit::EVERYTHING_RESOURCE_URIS[0])
        .await
        .expect("reads a resource");
    assert_eq!(
        serde_json::to_value(&read.contents).expect("JSON")[0]["uri"],
        kit::EVERYTHING_RESOURCE_URIS[0],
        "the resource asked for"
    );

    // `simple-prompt` takes no arguments and renders; `args-prompt` without its required
    // `city` is refused, and the server says why.
    let prompt = session
        .get_prompt("simple-prompt", Map::new())
        .await
        .expect("renders");
    assert!(!prompt.messages.is_empty());
    let refused = session
        .get_prompt("args-prompt", Map::new())
        .await
        .expect_err("a required argument is missing");
    assert_eq!(refused.code, ErrorCode::Protocol, "{refused:?}");

    let echoed = session
        .call_tool("echo", args(json!({"message": "hello from switchboard"})))
        .await
        .expect("calls a tool");
    assert!(
        text_of(&echoed).contains("hello from switchboard"),
        "{echoed:?}"
    );
    session.close().await;
}

#[tokio::test]
async fn python_server_speaks_the_stateless_era_and_everything_works() {
    let server = kit::PythonMcp::start();
    let session = Session::connect(server.url(), Timeouts::default())
        .await
        .expect("connects");
    let info = session.server();
    assert_eq!(info.name, kit::PYTHON_SERVER_NAME);
    assert_eq!(info.version, kit::PYTHON_SERVER_VERSION);
    assert_eq!(info.instructions.as_deref(), Some(kit::PYTHON_INSTRUCTIONS));
    assert_eq!(info.protocol_version, kit::PYTHON_MODERN_PROTOCOL_VERSION);

    let catalog = session.catalog().await.expect("lists");
    assert_eq!(
        names(catalog.tools.iter().map(|t| t.name.as_str())),
        names(kit::PYTHON_TOOL_NAMES)
    );
    let prompt = &catalog.prompts[0];
    assert_eq!(
        prompt
            .arguments
            .iter()
            .map(|a| (a.name.as_str(), a.required))
            .collect::<Vec<_>>(),
        kit::PYTHON_PROMPT_ARGUMENTS.to_vec()
    );

    let sum = session
        .call_tool("add", args(json!({"a": 2, "b": 40})))
        .await
        .expect("add");
    assert_eq!(text_of(&sum).trim(), "42");

    let failed = session
        .call_tool("fail", args(json!({"reason": "testing"})))
        .await
        .expect("a failing tool still answers");
    assert_eq!(failed.is_error, Some(true));

    let greeting = session
        .read_resource("fixture://greeting/Ann")
        .await
        .expect("reads a templated resource");
    let text = match &greeting.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("expected text, got {other:?}"),
    };
    assert_eq!(text, "Hello, Ann!");

    let rendered = session
        .get_prompt("review_code", args(json!({"code": "fn main() {}"})))
        .await
        .expect("gets a prompt");
    let first = rendered.messages[0]
        .content
        .as_text()
        .map(|t| t.text.clone())
        .expect("a text message");
    assert!(first.contains("Please review this rust code"), "{first}");
    assert!(first.contains("fn main() {}"), "{first}");
    session.close().await;
}

#[tokio::test]
async fn pagination_is_followed_to_the_last_page() {
    let server = kit::PythonMcp::with_page_size(1);
    let session = Session::connect(server.url(), Timeouts::default())
        .await
        .expect("connects");
    let catalog = session.catalog().await.expect("lists");
    assert_eq!(catalog.tools.len(), kit::PYTHON_TOOLS);
    assert_eq!(catalog.resources.len(), kit::PYTHON_RESOURCES);
    assert_eq!(
        catalog.resource_templates.len(),
        kit::PYTHON_RESOURCE_TEMPLATES
    );
    assert_eq!(catalog.prompts.len(), kit::PYTHON_PROMPTS);
    assert_eq!(
        names(catalog.resources.iter().map(|r| r.uri.as_str())),
        names(kit::PYTHON_RESOURCE_URIS)
    );
}

async fn failure(url: &str, timeouts: Timeouts) -> switchboard_core::Error {
    match Session::connect(url, timeouts).await {
        Ok(session) => panic!("connected to {url}: {:?}", session.server()),
        Err(err) => err,
    }
}

fn assert_plain(err: &switchboard_core::Error) {
    assert!(err.message.ends_with('.'), "a sentence: {}", err.message);
    assert!(
        !err.message.contains("Error") && !err.message.contains("::"),
        "no jargon up front: {}",
        err.message
    );
    assert!(
        err.detail.is_some(),
        "the technical detail is kept: {err:?}"
    );
}

#[tokio::test]
async fn a_web_page_is_not_an_mcp_server() {
    let server = kit::Garbage::html();
    let err = failure(server.url(), Timeouts::default()).await;
    assert_eq!(err.code, ErrorCode::NotMcpServer, "{err:?}");
    assert!(err.message.contains("web page"), "{}", err.message);
    assert_plain(&err);
}

#[tokio::test]
async fn a_404_says_the_path_is_wrong() {
    let server = kit::Garbage::not_found();
    let err = failure(server.url(), Timeouts::default()).await;
    assert_eq!(err.code, ErrorCode::NotFound, "{err:?}");
    assert_plain(&err);
}

#[tokio::test]
async fn a_500_is_the_servers_own_problem() {
    let server = kit::Garbage::server_error();
    let err = failure(server.url(), Timeouts::default()).await;
    assert_eq!(err.code, ErrorCode::ServerError, "{err:?}");
    // The status is for whoever helps, in Details; the sentence is plain.
    assert!(!err.message.contains("500"), "{}", err.message);
    assert!(
        err.detail
            .as_deref()
            .is_some_and(|d| d.contains("HTTP status 500")),
        "{err:?}"
    );
    assert_plain(&err);
}

#[tokio::test]
async fn a_refused_connection_is_unreachable() {
    let server = kit::Garbage::closed();
    let err = failure(server.url(), Timeouts::default()).await;
    assert_eq!(err.code, ErrorCode::Unreachable, "{err:?}");
    assert_plain(&err);
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_bound() {
    let server = kit::Garbage::silent();
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(2),
        ..Timeouts::default()
    };
    let started = std::time::Instant::now();
    let err = failure(server.url(), timeouts).await;
    assert_eq!(err.code, ErrorCode::Timeout, "{err:?}");
    assert!(err.message.contains("2 seconds"), "{}", err.message);
    // Bounded: it gave up at the limit instead of hanging (generous margin for a busy CI).
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn an_untrusted_certificate_is_named() {
    let server = kit::SelfSignedTls::start();
    let err = failure(server.url(), Timeouts::default()).await;
    assert_eq!(err.code, ErrorCode::Certificate, "{err:?}");
    assert_plain(&err);
}

#[tokio::test]
async fn a_server_that_wants_sign_in_says_so() {
    let server = kit::PythonMcp::requiring_sign_in();
    let err = failure(server.url(), Timeouts::default()).await;
    assert_eq!(err.code, ErrorCode::NeedsSignIn, "{err:?}");
    assert!(err.message.contains("sign in"), "{}", err.message);
    let detail = err.detail.expect("the challenge is kept for Details");
    assert!(detail.contains("resource_metadata="), "{detail}");
}

/// Connects as a saved connector would, starting with the protocol `era` it remembers.
async fn connect_in(url: &str, era: Option<Era>) -> Result<Session, ConnectError> {
    let client = switchboard_core::web::client(Default::default()).expect("client");
    Session::connect_with(url, Timeouts::default(), client, era).await
}

/// The JSON-RPC method of a request the server got.
fn rpc_method(request: &kit::Request) -> String {
    serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|v| v["method"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A session-era server that never answers the stateless era's `server/discover` probe:
/// seen in the wild, and what cost every connect rmcp's 10 s before the era was remembered.
fn swallows_discovery() -> kit::Hostile {
    let server = kit::Hostile::start();
    server.route("/mcp", |request| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        match body["method"].as_str() {
            // Held far longer than any test: the probe is never answered.
            Some("server/discover") => kit::Reply::status(200).after(Duration::from_secs(600)),
            Some("initialize") => kit::Reply::json(
                200,
                &json!({
                    "jsonrpc": "2.0",
                    "id": body["id"],
                    "result": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "serverInfo": {"name": "quiet", "version": "1.0.0"}
                    }
                }),
            )
            .header("Mcp-Session-Id", "quiet-session"),
            _ => kit::Reply::status(202),
        }
    });
    server
}

#[tokio::test]
async fn a_server_that_swallows_discovery_is_probed_once_and_remembered() {
    let server = swallows_discovery();
    let url = server.url("/mcp");

    // Not remembered: one probe, unanswered, then the initialize handshake.
    let session = connect_in(&url, None)
        .await
        .expect("connects after the probe");
    assert_eq!(session.era(), Era::Sessions);
    assert_eq!(session.server().protocol_version, "2025-11-25");
    session.close().await;
    let methods = |server: &kit::Hostile| {
        server
            .requests_to("/mcp")
            .iter()
            .map(rpc_method)
            .collect::<Vec<_>>()
    };
    let first = methods(&server);
    assert_eq!(
        first.iter().filter(|m| *m == "server/discover").count(),
        1,
        "{first:?}"
    );
    assert!(first.iter().any(|m| m == "initialize"), "{first:?}");

    // Remembered: straight to initialize, no probe at all.
    let session = connect_in(&url, Some(Era::Sessions))
        .await
        .expect("connects in its era");
    assert_eq!(session.era(), Era::Sessions);
    session.close().await;
    let second = methods(&server);
    assert_eq!(
        second.iter().filter(|m| *m == "server/discover").count(),
        1,
        "no second probe: {second:?}"
    );
    assert_eq!(
        second.iter().filter(|m| *m == "initialize").count(),
        2,
        "{second:?}"
    );
}

#[tokio::test]
async fn a_remembered_era_that_no_longer_holds_is_probed_again() {
    // The reference server speaks 2025-11-25; remembered (wrongly) as stateless.
    let everything = kit::Everything::start();
    let session = connect_in(everything.url(), Some(Era::Stateless))
        .await
        .expect("connects after probing again");
    assert_eq!(session.era(), Era::Sessions);
    assert_eq!(
        session.server().protocol_version,
        kit::EVERYTHING_PROTOCOL_VERSION
    );
    session.close().await;
    // The PyPI server speaks 2026-07-28: found by the probe, remembered as stateless.
    let python = kit::PythonMcp::start();
    let session = connect_in(python.url(), None).await.expect("connects");
    assert_eq!(session.era(), Era::Stateless);
    session.close().await;
    let session = connect_in(python.url(), Some(Era::Stateless))
        .await
        .expect("connects in its era");
    assert_eq!(session.era(), Era::Stateless);
    assert_eq!(session.server().protocol_version, "2026-07-28");
    session.close().await;
}

#[tokio::test]
async fn a_legacy_sse_server_is_found_used_and_remembered() {
    let server = kit::Everything::start_sse();

    // Its `/sse` refuses a Streamable HTTP POST; the event stream is tried next.
    let session = connect_in(server.url(), None)
        .await
        .expect("connects over HTTP+SSE");
    assert_eq!(session.era(), Era::LegacySse);
    assert_eq!(session.server().name, kit::EVERYTHING_SERVER_NAME);
    let catalog = session.catalog().await.expect("lists");
    assert_eq!(
        names(catalog.tools.iter().map(|t| t.name.as_str())),
        names(kit::EVERYTHING_TOOL_NAMES)
    );
    let echoed = session
        .call_tool("echo", args(json!({"message": "over the old transport"})))
        .await
        .expect("calls a tool");
    assert!(
        text_of(&echoed).contains("over the old transport"),
        "{echoed:?}"
    );
    session.close().await;

    // Remembered: straight to the event stream.
    let session = connect_in(server.url(), Some(Era::LegacySse))
        .await
        .expect("connects in its era");
    assert_eq!(session.era(), Era::LegacySse);
    assert_eq!(
        session.catalog().await.expect("lists").tools.len(),
        kit::EVERYTHING_TOOLS
    );
    session.close().await;
}

#[tokio::test]
async fn a_legacy_endpoint_on_another_server_is_refused_and_gets_nothing() {
    let elsewhere = kit::Hostile::start();
    let server = kit::Hostile::start();
    let endpoint = elsewhere.url("/collect");
    server.route("/sse", move |request| {
        if request.method == "GET" {
            kit::Reply::status(200)
                .header("Content-Type", "text/event-stream")
                .body(format!("event: endpoint\ndata: {endpoint}\n\n"))
        } else {
            kit::Reply::status(405)
        }
    });
    let key = switchboard_core::signin::client(
        &switchboard_ipc::SignInMethod::ApiKey {
            header: "X-API-Key".into(),
        },
        &switchboard_core::secrets::Secret::new("sk-legacy-secret"),
    )
    .expect("a client with a key");
    let err = match Session::connect_with(&server.url("/sse"), Timeouts::default(), key, None).await
    {
        Ok(session) => panic!("connected: {:?}", session.server()),
        Err(err) => err.error,
    };
    // The first answer stands: the POST was refused (405).
    assert_eq!(err.code, ErrorCode::Protocol, "{err:?}");
    assert!(err.detail.unwrap_or_default().contains("405"));
    assert!(
        elsewhere.requests().is_empty(),
        "nothing, and no key, went to the other server"
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path() == "/sse"),
        "the event stream was tried"
    );
}

#[tokio::test]
async fn a_pypi_server_on_the_legacy_transport_works_too() {
    let server = kit::PythonMcp::start_sse();
    let session = connect_in(server.url(), None)
        .await
        .expect("connects over HTTP+SSE");
    assert_eq!(session.era(), Era::LegacySse);
    let catalog = session.catalog().await.expect("lists");
    assert_eq!(catalog.tools.len(), kit::PYTHON_TOOLS);
    assert_eq!(catalog.resources.len(), kit::PYTHON_RESOURCES);
    assert_eq!(catalog.prompts.len(), kit::PYTHON_PROMPTS);
    session.close().await;
}
