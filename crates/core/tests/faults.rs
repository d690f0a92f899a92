//! The fault matrix, headless: a real MCP server (npm server-everything) behind the test
//! kit's fault proxy, each fault what networks and servers do, each outcome what the person
//! would read and what the core keeps. Calls go through the permission gate, as the chat's
//! do. Each row prints how long its outcome took (`cargo test -p switchboard-core --test
//! faults -- --nocapture`); `cargo xtask test` shows them.
//!
//! Rows covered elsewhere: DNS failure, refused connection and a bad certificate each have
//! their sentence (`servers.rs`, `hostile.rs`); a settings write and a chat write killed
//! half way leave the previous state (`settings_crash.rs`, `chat_store.rs`); no keyring, or a
//! locked one, is refused in words with nothing in plain text (`no_keyring.rs`,
//! `keyring_locked.rs`, `hostile.rs`).

#[path = "support/gate.rs"]
mod gate_support;
#[path = "support/registry.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gate_support::{Fixture, text};
use serde_json::json;
use support::{MemorySecrets, NoBrowser, add, open, settled, until};
use switchboard_core::chat::turn::{ToolCallRequest, ToolGate};
use switchboard_core::settings::FileStore;
use switchboard_core::{Connectors, Event, Timeouts};
use switchboard_ipc::tools::ToolMode;
use switchboard_ipc::{
    AddConnectorRequest, ConnectorId, ConnectorState, SecretInput, SignInChoice,
};
use switchboard_testkit::{self as kit, Fault, FaultProxy};

/// A server behind a proxy, one connector to it with `echo` allowed, and a conversation.
struct Row {
    _server: kit::Everything,
    proxy: FaultProxy,
    _dir: tempfile::TempDir,
    connectors: Connectors,
    id: ConnectorId,
    fixture: Fixture,
    echo: String,
}

impl Row {
    async fn start() -> Self {
        let server = kit::Everything::start();
        let proxy = FaultProxy::start(server.url());
        let dir = tempfile::tempdir().expect("tempdir");
        let connectors = open(&dir.path().join("settings.json"));
        let id = add(&connectors, &proxy.url("/mcp"), None).await.id;
        let summary = settled(&connectors, &id).await;
        assert_eq!(summary.state, ConnectorState::Connected, "{summary:?}");
        Self::with(server, proxy, dir, connectors, id)
    }

    fn with(
        server: kit::Everything,
        proxy: FaultProxy,
        dir: tempfile::TempDir,
        connectors: Connectors,
        id: ConnectorId,
    ) -> Self {
        connectors
            .set_tool_mode(&id, "echo", ToolMode::Allow)
            .expect("allowed");
        let fixture = Fixture::new(&connectors, dir.path(), "Faults");
        let echo = fixture
            .gate()
            .offered()
            .into_iter()
            .map(|t| t.name)
            .find(|n| n.ends_with("__echo"))
            .expect("echo is offered");
        Self {
            _server: server,
            proxy,
            _dir: dir,
            connectors,
            id,
            fixture,
            echo,
        }
    }

    /// The model calls echo with `message`, through the gate.
    async fn echo(&self, message: &str) -> (bool, String) {
        let gate = self.fixture.gate();
        gate.offered();
        let outcome = gate
            .call(&ToolCallRequest {
                id: format!("call-{message}"),
                name: self.echo.clone(),
                arguments: json!({"message": message}),
            })
            .await;
        (outcome.is_error, text(&outcome))
    }

    fn state(&self) -> ConnectorState {
        self.connectors
            .list()
            .into_iter()
            .find(|c| c.id == self.id)
            .expect("listed")
            .state
    }

    /// What the proxy was sent since `since`: `METHOD rpc-method`, in order.
    fn sent_since(&self, since: Instant) -> Vec<String> {
        self.proxy
            .seen_since(since)
            .into_iter()
            .map(|s| format!("{} {}", s.method, s.rpc.unwrap_or_default()))
            .collect()
    }

    /// The connection still works: the next call runs.
    async fn recovers(&self) {
        let (failed, said) = self.echo("still there?").await;
        assert!(!failed, "{said}");
        assert_eq!(said, "Echo: still there?");
        assert_eq!(self.state(), ConnectorState::Connected);
    }
}

fn report(row: &str, started: Instant, outcome: &str) {
    println!(
        "fault row {row}: {outcome} — shown after {} ms",
        started.elapsed().as_millis()
    );
}

/// The process's memory now and at its peak, in MiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::test(flavor = "multi_thread")]
async fn row_1_a_restarted_server_gets_a_new_session_and_the_call_goes_through() {
    let row = Row::start().await;
    row.proxy.forget_sessions();
    let started = Instant::now();
    let (failed, said) = row.echo("after the restart").await;
    report("1 (server restarted)", started, "the call went through");
    assert!(!failed, "{said}");
    assert_eq!(said, "Echo: after the restart");
    let sent = row.sent_since(started);
    assert_eq!(
        sent[..2],
        ["POST tools/call", "POST initialize"],
        "refused for its session, then a new one: {sent:?}"
    );
    assert!(
        sent.iter().filter(|s| *s == "POST tools/call").count() == 2,
        "retried once: {sent:?}"
    );
    row.recovers().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn row_2_a_stream_cut_during_a_call_is_resumed_or_fails_that_call_only() {
    let row = Row::start().await;
    // The server numbers its events (it keeps them for resumption) and opens the call's
    // stream with an empty event: cut right after it, the stream is picked up again with
    // `Last-Event-ID` and the call's answer arrives on the resumed stream.
    row.proxy.next(Some("tools/call"), Fault::CutAfterEvents(1));
    let started = Instant::now();
    let (failed, said) = row.echo("resumed").await;
    report("2 (stream cut, resumed)", started, "the call went through");
    assert!(!failed, "{said}");
    assert_eq!(said, "Echo: resumed");
    let resumed: Vec<_> = row
        .proxy
        .seen_since(started)
        .into_iter()
        .filter(|s| s.method == "GET" && s.last_event_id.is_some())
        .collect();
    assert!(
        !resumed.is_empty(),
        "resumed with Last-Event-ID: {:?}",
        row.sent_since(started)
    );
    row.recovers().await;

    // Cut before the first event is whole, there is nothing to resume from: that call
    // fails in words, and the next one runs.
    row.proxy.next(Some("tools/call"), Fault::CutAfter(10));
    let started = Instant::now();
    let (failed, said) = row.echo("cut").await;
    report("2 (stream cut)", started, &said);
    assert!(failed);
    assert_eq!(
        said,
        "The connection to the server broke while trying to call the tool. Try again."
    );
    row.recovers().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn row_3_a_sign_in_refused_mid_session_is_renewed_once_or_asks_to_sign_in_again() {
    // A server that stops taking the connection's sign-in once: Switchboard connects again
    // (fresh tokens, where there are any) and the call runs.
    let row = Row::start().await;
    row.proxy.next(Some("tools/call"), Fault::Unauthorized);
    let started = Instant::now();
    let (failed, said) = row.echo("renewed").await;
    report(
        "3 (401 mid-session, renewed)",
        started,
        "the call went through",
    );
    assert!(!failed, "{said}");
    assert_eq!(said, "Echo: renewed");
    let sent = row.sent_since(started);
    assert_eq!(sent.first().map(String::as_str), Some("POST tools/call"));
    assert!(sent.contains(&"POST initialize".to_owned()), "{sent:?}");
    row.recovers().await;

    // A key the server no longer takes at all: the connector asks for it again, the
    // conversation stays, and the model reads why.
    let server = kit::Everything::start();
    let proxy = FaultProxy::start(server.url());
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open(&dir.path().join("settings.json"));
    let id = connectors
        .add(AddConnectorRequest {
            url: proxy.url("/mcp"),
            name: None,
            sign_in: SignInChoice::ApiKey {
                header: None,
                key: SecretInput("key-1".to_owned()),
            },
        })
        .await
        .expect("added")
        .id;
    assert_eq!(
        settled(&connectors, &id).await.state,
        ConnectorState::Connected
    );
    let row = Row::with(server, proxy, dir, connectors, id);
    row.proxy.always(Some(Fault::Unauthorized));
    let started = Instant::now();
    let (failed, said) = row.echo("refused").await;
    report("3 (401 mid-session, key refused)", started, &said);
    assert!(failed);
    assert!(said.contains("key"), "{said}");
    assert_eq!(row.state(), ConnectorState::NeedsSignIn);
    assert_eq!(
        row.fixture
            .store
            .conversations()
            .expect("conversations")
            .len(),
        1,
        "the conversation is intact"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn row_3_an_oauth_token_refused_mid_session_is_refreshed_silently_and_the_call_runs() {
    // Signed in through the real authorization server (tokens live an hour: no background
    // refresh here). The server then forgets its access tokens, as one that kept them in
    // memory and restarted would, while its refresh tokens still hold.
    let auth = kit::AuthServer::builder().loopback_only().start();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("browser.jsonl");
    let connectors = support::open_with_browser(
        &dir.path().join("settings.json"),
        Arc::new(MemorySecrets::default()),
        Arc::new(support::TestBrowser {
            env: kit::browser_env(std::path::Path::new("/bin/false"), &log),
        }),
    );
    let id = add(&connectors, auth.mcp_url(), None).await.id;
    let connected = until(&connectors, &id, "signed in", |c| {
        c.state == ConnectorState::Connected
    })
    .await;
    assert!(connected.sign_in.saved);
    connectors
        .set_tool_mode(&id, "add", ToolMode::Allow)
        .expect("allowed");
    let fixture = Fixture::new(&connectors, dir.path(), "Faults");
    let gate = fixture.gate();
    let name = gate
        .offered()
        .into_iter()
        .map(|t| t.name)
        .find(|n| n.ends_with("__add"))
        .expect("add is offered");
    let before = auth.stats().await;
    assert_eq!(before["refreshes"], 0, "{before}");
    assert!(auth.forget_access_tokens().await >= 1);

    let started = Instant::now();
    let outcome = gate
        .call(&ToolCallRequest {
            id: "call-add".to_owned(),
            name,
            arguments: json!({"a": 2, "b": 3}),
        })
        .await;
    report(
        "3 (401 mid-session, OAuth refreshed)",
        started,
        "the call went through",
    );
    assert!(!outcome.is_error, "{}", text(&outcome));
    assert_eq!(text(&outcome), "5");
    let after = auth.stats().await;
    assert_eq!(after["refreshes"], 1, "refreshed once: {after}");
    assert!(
        after["mcp_unauthorized"].as_u64() > before["mcp_unauthorized"].as_u64(),
        "the old token was refused first: {after}"
    );
    assert_eq!(
        after["authorization_requests"], 1,
        "no browser opened again: {after}"
    );
    assert_eq!(
        connectors.list()[0].state,
        ConnectorState::Connected,
        "{:?}",
        connectors.list()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn row_4_a_server_that_stalls_times_the_call_out_and_is_told_to_stop() {
    let row = Row::start().await;
    let settings = row
        .connectors
        .detail(&row.id)
        .expect("detail")
        .tools
        .settings;
    row.connectors
        .set_tool_options(
            &row.id,
            2,
            settings.allow_elicitation,
            settings.allow_sampling,
        )
        .expect("a 2 s timeout");
    row.proxy.next(Some("tools/call"), Fault::Stall);
    let started = Instant::now();
    let (failed, said) = row.echo("stalled").await;
    report("4 (server stalls, 2 s timeout)", started, &said);
    assert!(failed);
    assert_eq!(
        said,
        "The server did not answer within 2 seconds. It may be busy or down; try again later."
    );
    // The server is told the call is off.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !row
        .sent_since(started)
        .contains(&"POST notifications/cancelled".to_owned())
    {
        assert!(Instant::now() < deadline, "{:?}", row.sent_since(started));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    row.recovers().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn row_5_garbage_or_a_web_page_mid_session_fails_that_call_in_words() {
    let row = Row::start().await;
    for (fault, expected) in [
        (
            Fault::Garbage,
            "The server's answer could not be read while trying to call the tool. Try again; if it keeps happening, tell the server's owner.",
        ),
        (
            Fault::Html,
            "The server answered with a web page while trying to call the tool. Something may stand between you and the server, such as a network's sign-in page; try again.",
        ),
    ] {
        row.proxy.next(Some("tools/call"), fault.clone());
        let started = Instant::now();
        let (failed, said) = row.echo("garbled").await;
        report(&format!("5 ({fault:?})"), started, &said);
        assert!(failed);
        assert_eq!(said, expected);
        row.recovers().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn row_6_a_50_mb_answer_is_refused_in_words_with_memory_bounded() {
    let row = Row::start().await;
    row.proxy
        .next(Some("tools/call"), Fault::Huge(50 * 1024 * 1024));
    let started = Instant::now();
    let (failed, said) = row.echo("huge").await;
    let read = row.proxy.huge_sent() / (1024 * 1024);
    let (now, peak) = memory();
    report(
        "6 (50 MB answer, no length given)",
        started,
        &format!(
            "{said} (read {read} MB of 50; the test process's memory now {now} MiB, peak {peak} MiB)"
        ),
    );
    assert!(failed);
    assert_eq!(
        said,
        "The server's answer was larger than 16 MB, so Switchboard stopped reading it. Ask for less, or tell the server's owner."
    );
    // Read up to the limit (and what the sockets hold) and no further.
    assert!(read < 40, "{read} MB read");
    row.recovers().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn row_10_the_network_gone_and_back_brings_50_connectors_back_without_a_storm() {
    const CONNECTORS: usize = 50;
    let server = kit::Everything::start();
    let proxy = FaultProxy::start(server.url());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let timeouts = Timeouts {
        connect: Duration::from_secs(10),
        request: Duration::from_secs(10),
        retry_after: Duration::from_millis(500),
    };
    let load = || {
        Connectors::load(
            Box::new(FileStore::open(&path).0),
            Arc::new(MemorySecrets::default()),
            Arc::new(NoBrowser),
            timeouts,
            tokio::runtime::Handle::current(),
        )
        .expect("loads")
    };
    {
        // 50 connectors to one server, each on an address of its own.
        let connectors = load();
        let mut ids = Vec::new();
        for n in 0..CONNECTORS {
            ids.push(
                add(&connectors, &proxy.url(&format!("/mcp?n={n}")), None)
                    .await
                    .id,
            );
        }
        for id in &ids {
            assert_eq!(
                settled(&connectors, id).await.state,
                ConnectorState::Connected
            );
        }
    }
    // What one connect costs: the handshake, the event stream, the lists.
    let first_session = proxy.seen().iter().find_map(|s| s.session.clone());
    let per_connect = 1 + proxy
        .seen()
        .iter()
        .filter(|s| s.session.is_some() && s.session == first_session)
        .count();
    // Switchboard starts while the network is gone: every connector says so.
    proxy.down();
    let connectors = load();
    connectors.start();
    let ids: Vec<ConnectorId> = connectors.list().into_iter().map(|c| c.id).collect();
    for id in &ids {
        let summary = until(&connectors, id, "can't reach", |s| {
            s.state == ConnectorState::CantReach
        })
        .await;
        assert!(summary.retrying, "it says it keeps trying");
        assert_eq!(
            summary.problem.map(|p| p.message).as_deref(),
            Some(
                "Nothing answered at this address. Check the address, or whether the server is running."
            )
        );
    }
    // They try again on their own, spread out, waiting longer each time.
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.up();
    let back = Instant::now();
    for id in &ids {
        until(&connectors, id, "connected again", |s| {
            s.state == ConnectorState::Connected
        })
        .await;
    }
    let all_back = back.elapsed();
    let seen = proxy.seen_since(back);
    let initializes = seen
        .iter()
        .filter(|s| s.rpc.as_deref() == Some("initialize"))
        .count();
    println!(
        "fault row 10 (network gone and back): {CONNECTORS} connectors connected again {} ms after the network came back; {} requests in all ({:.1} a connector; one connect is {per_connect}), {initializes} handshakes",
        all_back.as_millis(),
        seen.len(),
        seen.len() as f64 / CONNECTORS as f64,
    );
    if initializes != CONNECTORS {
        // Who shook hands more than once, and what each of its requests was.
        let mut told = String::new();
        for s in &seen {
            if s.rpc.as_deref() != Some("initialize") {
                continue;
            }
            let again = seen
                .iter()
                .filter(|o| o.path == s.path && o.rpc.as_deref() == Some("initialize"))
                .count();
            if again > 1 {
                for o in seen.iter().filter(|o| o.path == s.path) {
                    told += &format!(
                        "\n  {} +{} ms {} {:?} session {:?} fault {:?}",
                        o.path,
                        o.at.duration_since(back).as_millis(),
                        o.method,
                        o.rpc,
                        o.session,
                        o.fault
                    );
                }
                break;
            }
        }
        panic!("{initializes} handshakes for {CONNECTORS} connectors:{told}");
    }
    assert!(
        seen.len() <= CONNECTORS * per_connect,
        "one connect's requests each, no more: {} (one connect is {per_connect})",
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn row_13_a_gateway_failing_after_the_handshake_is_answered_is_tried_again_on_its_own() {
    let server = kit::Everything::start();
    let proxy = FaultProxy::start(server.url());
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = Connectors::load(
        Box::new(FileStore::open(dir.path().join("settings.json")).0),
        Arc::new(MemorySecrets::default()),
        Arc::new(NoBrowser),
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(10),
            retry_after: Duration::from_millis(200),
        },
        tokio::runtime::Handle::current(),
    )
    .expect("loads");
    // The server answers `initialize`; the gateway in front of it fails the notification
    // that follows, so rmcp's transport quits before the handshake is done.
    proxy.next(Some("notifications/initialized"), Fault::BadGateway);
    let mut events = connectors.subscribe();
    let started = Instant::now();
    let id = add(&connectors, &proxy.url("/mcp"), None).await.id;
    let mut failed = None;
    let connected = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await {
                Ok(Event::ConnectorChanged(summary)) if summary.id == id => match summary.state {
                    ConnectorState::CantReach if !summary.retrying => {
                        panic!("it gave up: {summary:?}")
                    }
                    ConnectorState::CantReach => failed = Some(summary),
                    ConnectorState::Connected => return summary,
                    _ => {}
                },
                Ok(_) => {}
                Err(err) => panic!("events ended: {err}"),
            }
        }
    })
    .await
    .expect("connected within a minute");
    let failed = failed.expect("the first attempt failed and said so");
    let problem = failed.problem.expect("a problem shown");
    report(
        "13 (502 from a gateway during the handshake)",
        started,
        &format!("{}; connected on its own", problem.message),
    );
    assert!(failed.retrying, "it says it keeps trying");
    assert_eq!(problem.code, switchboard_ipc::ErrorCode::ServerError);
    assert_eq!(
        problem.message,
        "The server had a problem of its own. Try again later, or tell the server's owner."
    );
    assert!(
        problem
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("502"),
        "{problem:?}"
    );
    assert!(connected.counts.is_some(), "{connected:?}");
    let handshakes = proxy
        .seen()
        .iter()
        .filter(|s| s.rpc.as_deref() == Some("initialize"))
        .count();
    assert_eq!(handshakes, 2, "one handshake failed, one more went through");
}

#[tokio::test(flavor = "multi_thread")]
async fn row_11_a_flood_of_notifications_leaves_the_call_and_memory_alone() {
    let row = Row::start().await;
    row.proxy.next(Some("tools/call"), Fault::Flood(10_000));
    let started = Instant::now();
    let (failed, said) = row.echo("through the flood").await;
    report(
        "11 (10,000 notifications in one answer)",
        started,
        "the call went through",
    );
    assert!(!failed, "{said}");
    assert_eq!(said, "Echo: through the flood");
    // The messages are kept for "About this server", the latest 500 of them.
    let deadline = Instant::now() + Duration::from_secs(30);
    let kept = loop {
        let kept = row.connectors.server_messages(&row.id).expect("messages");
        if kept.messages.len() as u64 + kept.dropped >= 10_000 {
            break kept;
        }
        assert!(
            Instant::now() < deadline,
            "{} kept, {} dropped",
            kept.messages.len(),
            kept.dropped
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((kept.messages.len(), kept.dropped), (500, 9_500));
    assert_eq!(kept.messages[0].level, "info");
    assert_eq!(kept.messages[0].text, "flood");
    row.recovers().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn row_12_megabyte_texts_with_hidden_characters_are_cut_and_cleaned() {
    let row = Row::start().await;
    row.proxy
        .next(Some("tools/list"), Fault::LongText(1024 * 1024));
    let started = Instant::now();
    row.connectors.reconnect(&row.id).expect("reconnect");
    let summary = settled(&row.connectors, &row.id).await;
    assert_eq!(summary.state, ConnectorState::Connected, "{summary:?}");
    let catalog = row
        .connectors
        .detail(&row.id)
        .expect("detail")
        .catalog
        .expect("listed");
    report(
        "12 (1 MB descriptions)",
        started,
        &format!("{} tools listed, each text cut", catalog.tools.len()),
    );
    assert_eq!(catalog.tools.len(), kit::EVERYTHING_TOOLS);
    let long = catalog
        .tools
        .iter()
        .find(|t| {
            t.description
                .as_deref()
                .is_some_and(|d| d.starts_with("Line one"))
        })
        .expect("the lengthened tool");
    // Cut to length (less what trimming the cut end takes).
    let length = |t: &Option<String>| t.as_deref().map_or(0, |t| t.chars().count());
    assert!((7_990..=8_000).contains(&length(&long.description)));
    assert!((190..=200).contains(&length(&long.title)));
    for tool in &catalog.tools {
        let description = tool.description.as_deref().unwrap_or_default();
        assert!(description.chars().count() <= 8_000, "{}", tool.name);
        assert!(
            !description
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{}",
            tool.name
        );
        if let Some(title) = &tool.title {
            assert!(title.chars().count() <= 200 && !title.contains('\n'));
        }
    }
    // The lengthened tool is a changed tool: it asks again before it runs (`tool_gate.rs`),
    // so no call is made here.
    assert_eq!(row.state(), ConnectorState::Connected);
}
