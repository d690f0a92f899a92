//! The permission gate against a real MCP server (the PyPI fixture): what is offered, Allow
//! runs, Ask waits for the person, Deny and Off refuse in words, limits count in the
//! database across a restart, and an approval cannot be forged or replayed.

#[path = "support/gate.rs"]
mod gate_support;
#[path = "support/registry.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use gate_support::{Fixture, text};
use serde_json::json;
use support::{add, open, settled};
use switchboard_core::chat::Part;
use switchboard_core::chat::store::ChatStore;
use switchboard_core::chat::turn::{ToolCallRequest, ToolGate};
use switchboard_core::{Connectors, ErrorCode};
use switchboard_ipc::ConnectorState;
use switchboard_ipc::chat::ChatEvent;
use switchboard_ipc::tools::{ApprovalAnswer, Limits, ToolMode};
use switchboard_testkit as kit;

fn echo(name: &str, message: &str) -> ToolCallRequest {
    ToolCallRequest {
        id: format!("call-{message}"),
        name: name.to_owned(),
        arguments: json!({"message": message}),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gate_runs_asks_refuses_counts_and_cannot_be_bypassed() {
    let python = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open(&dir.path().join("settings.json"));
    let id = add(&connectors, python.url(), None).await.id;
    assert_eq!(
        settled(&connectors, &id).await.state,
        ConnectorState::Connected
    );
    let history = dir.path().join("history.sqlite3");
    let mut fixture = Fixture::new(&connectors, dir.path(), "Tools");

    // Offered: every tool (all at Ask), under names unique across connectors.
    let gate = fixture.gate();
    let mut offered: Vec<String> = gate.offered().into_iter().map(|t| t.name).collect();
    offered.sort();
    assert_eq!(
        offered,
        [
            "python_fixture__add",
            "python_fixture__echo",
            "python_fixture__fail",
            "python_fixture__sleep"
        ]
    );
    let spec = gate
        .offered()
        .into_iter()
        .find(|t| t.name == "python_fixture__echo")
        .expect("echo");
    assert_eq!(spec.description, "Return the message unchanged.");
    assert_eq!(spec.input_schema["properties"]["message"]["type"], "string");

    // Off: not offered, and a call by its old name is refused.
    connectors
        .set_tool_mode(&id, "fail", ToolMode::Off)
        .expect("off");
    let gate = fixture.gate();
    assert!(
        !gate
            .offered()
            .iter()
            .any(|t| t.name == "python_fixture__fail")
    );
    let refused = gate
        .call(&ToolCallRequest {
            id: "x".into(),
            name: "python_fixture__fail".into(),
            arguments: json!({}),
        })
        .await;
    assert!(refused.is_error);
    assert_eq!(text(&refused), "There is no tool of that name.");

    // Allow runs at once.
    connectors
        .set_tool_mode(&id, "echo", ToolMode::Allow)
        .expect("allow");
    let gate = Arc::new(fixture.gate());
    gate.offered();
    let ran = gate.call(&echo("python_fixture__echo", "hello")).await;
    assert!(!ran.is_error, "{ran:?}");
    assert_eq!(text(&ran), "hello");

    // Ask waits for the person: Allow once runs it; Deny refuses in words.
    let asking = {
        let gate = Arc::clone(&gate);
        tokio::spawn(async move { gate.call(&echo("python_fixture__add", "ignored")).await })
    };
    let approval = fixture.approval().await;
    assert_eq!(approval.tool, "add");
    assert_eq!(approval.arguments, json!({"message": "ignored"}));
    assert!(!asking.is_finished(), "the call waits");
    // Not a real approval: refused, and nothing runs.
    let forged = fixture
        .approvals
        .answer("made-up", ApprovalAnswer::AllowOnce);
    assert_eq!(forged.expect_err("forged").code, ErrorCode::InvalidSetting);
    fixture
        .approvals
        .answer(&approval.id, ApprovalAnswer::Deny)
        .expect("deny");
    let denied = asking.await.expect("joined");
    assert!(denied.is_error);
    assert_eq!(text(&denied), "The person denied this call.");
    // Replayed: the id was used up.
    assert!(
        fixture
            .approvals
            .answer(&approval.id, ApprovalAnswer::AllowOnce)
            .is_err()
    );

    let asking = {
        let gate = Arc::clone(&gate);
        tokio::spawn(async move {
            gate.call(&ToolCallRequest {
                id: "sum".into(),
                name: "python_fixture__add".into(),
                arguments: json!({"a": 2, "b": 3}),
            })
            .await
        })
    };
    let approval = fixture.approval().await;
    fixture
        .approvals
        .answer(&approval.id, ApprovalAnswer::AlwaysAllow)
        .expect("always");
    let sum = asking.await.expect("joined");
    assert_eq!(text(&sum), "5");
    let detail = connectors.detail(&id).expect("detail");
    assert_eq!(
        detail.tools.settings.tools["add"].mode,
        ToolMode::Allow,
        "Always allow sets the tool to Allow"
    );
    // The next call runs without asking.
    let again = gate
        .call(&ToolCallRequest {
            id: "sum2".into(),
            name: "python_fixture__add".into(),
            arguments: json!({"a": 1, "b": 1}),
        })
        .await;
    assert_eq!(text(&again), "2");

    // A limit of 2 per conversation: echo ran once, runs once more, then is refused.
    let refused = connectors.set_tool_limits(
        &id,
        Some("echo"),
        Limits {
            per_conversation: Some(0),
            per_day: None,
        },
    );
    assert_eq!(refused.expect_err("0").code, ErrorCode::InvalidSetting);
    connectors
        .set_tool_limits(
            &id,
            Some("echo"),
            Limits {
                per_conversation: Some(2),
                per_day: None,
            },
        )
        .expect("limits");
    assert_eq!(
        text(&gate.call(&echo("python_fixture__echo", "two")).await),
        "two"
    );
    let third = gate.call(&echo("python_fixture__echo", "three")).await;
    assert!(third.is_error);
    assert_eq!(
        text(&third),
        "The limit of 2 calls per conversation for this tool is reached."
    );

    // The counts are in the database: a new store on the same file still refuses.
    let reopened = ChatStore::open(&history).expect("reopened");
    fixture.store = reopened;
    let gate = fixture.gate();
    gate.offered();
    let after_restart = gate.call(&echo("python_fixture__echo", "four")).await;
    assert_eq!(
        text(&after_restart),
        "The limit of 2 calls per conversation for this tool is reached."
    );

    // Every call is in the activity log, newest first, with the rule that decided.
    let log = fixture.store.tool_activity(100).expect("activity");
    let rules: Vec<(&str, &str, bool)> = log
        .iter()
        .rev()
        .map(|e| (e.tool.as_str(), e.rule.as_str(), e.ran))
        .collect();
    assert_eq!(
        rules,
        [
            ("echo", "allowed", true),
            ("add", "denied by the person", false),
            ("add", "always allowed by the person", true),
            ("add", "allowed", true),
            ("echo", "allowed", true),
            ("echo", "tool limit per conversation", false),
            ("echo", "tool limit per conversation", false),
        ]
    );
    assert_eq!(log.last().expect("first").outcome.as_deref(), Some("hello"));
    assert!(log.iter().all(|e| e.duration_ms.is_some()));
}

/// Two calls in one reply: both cards show at once and are answered in any order; each
/// result goes back to the model under its own call. Then Stop while a card waits: the
/// card closes and the model is not asked again.
#[tokio::test(flavor = "multi_thread")]
async fn calls_of_one_reply_ask_together_and_stop_closes_the_cards() {
    use switchboard_core::chat::turn::{Turn, TurnEnd};
    use switchboard_core::chat::{MessageStatus, Role};
    use switchboard_core::models::{self, Endpoint, ProviderKind};
    use switchboard_testkit::{ModelReply, ModelServer};
    use tokio_util::sync::CancellationToken;

    let python = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open(&dir.path().join("settings.json"));
    let id = add(&connectors, python.url(), None).await.id;
    assert_eq!(
        settled(&connectors, &id).await.state,
        ConnectorState::Connected
    );
    let mut fixture = Fixture::new(&connectors, dir.path(), "Two");
    let (store, conversation) = (fixture.store.clone(), fixture.conversation);
    store
        .append(
            conversation,
            Role::User,
            &[Part::text("Echo and add")],
            &[],
            MessageStatus::Complete,
            None,
        )
        .expect("saved");
    let server = ModelServer::start();
    server.push(
        ModelReply::new()
            .tool_call("a", "python_fixture__echo", json!({"message": "first"}))
            .tool_call("b", "python_fixture__add", json!({"a": 20, "b": 22})),
    );
    server.push(ModelReply::text("Both done."));
    let model = models::connect(Endpoint {
        kind: ProviderKind::OpenAiCompatible,
        base_url: server.openai_url().parse().expect("a URL"),
        key: None,
    })
    .expect("an adapter");
    let gate = fixture.gate();
    let turn = {
        let store = store.clone();
        tokio::spawn(async move {
            Turn {
                store: &store,
                model: model.as_ref(),
                model_id: "m",
                system: None,
                gate: &gate,
                conversation_id: conversation,
                cancel: CancellationToken::new(),
            }
            .run(|_| {})
            .await
        })
    };
    let first = fixture.approval().await;
    let second = fixture.approval().await;
    let mut tools = [first.tool.clone(), second.tool.clone()];
    tools.sort();
    assert_eq!(tools, ["add", "echo"], "both cards at once");
    let (echo, add_card) = if first.tool == "echo" {
        (first, second)
    } else {
        (second, first)
    };
    // The second card first.
    fixture
        .approvals
        .answer(&add_card.id, ApprovalAnswer::AllowOnce)
        .expect("add");
    fixture
        .approvals
        .answer(&echo.id, ApprovalAnswer::AllowOnce)
        .expect("echo");
    let end = turn.await.expect("joined").expect("ran");
    assert_eq!(end, TurnEnd::Finished);
    let sent = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .nth(1)
        .expect("a second request")
        .json();
    let results: Vec<(String, String)> = sent["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap_or_default().to_owned(),
                m["content"].to_string(),
            )
        })
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0].0, "a");
    assert!(results[0].1.contains("first"), "{results:?}");
    assert_eq!(results[1].0, "b");
    assert!(results[1].1.contains("42"), "{results:?}");

    // Stop while a card waits: the card closes, the model is not asked again.
    server.push(ModelReply::new().tool_call(
        "c",
        "python_fixture__echo",
        json!({"message": "never"}),
    ));
    store
        .append(
            conversation,
            Role::User,
            &[Part::text("Once more")],
            &[],
            MessageStatus::Complete,
            None,
        )
        .expect("saved");
    let model = models::connect(Endpoint {
        kind: ProviderKind::OpenAiCompatible,
        base_url: server.openai_url().parse().expect("a URL"),
        key: None,
    })
    .expect("an adapter");
    let cancel = CancellationToken::new();
    let gate = fixture.gate();
    let turn = {
        let (store, cancel) = (store.clone(), cancel.clone());
        tokio::spawn(async move {
            Turn {
                store: &store,
                model: model.as_ref(),
                model_id: "m",
                system: None,
                gate: &gate,
                conversation_id: conversation,
                cancel,
            }
            .run(|_| {})
            .await
        })
    };
    let waiting = fixture.approval().await;
    assert_eq!(fixture.approvals.waiting_in(conversation).len(), 1);
    cancel.cancel();
    let end = turn.await.expect("joined").expect("ran");
    assert_eq!(end, TurnEnd::Stopped);
    assert!(
        fixture.approvals.waiting_in(conversation).is_empty(),
        "the card closed"
    );
    assert!(
        fixture
            .approvals
            .answer(&waiting.id, ApprovalAnswer::AllowOnce)
            .is_err(),
        "an answer after Stop runs nothing"
    );
    let posts = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 3, "the model was not asked again");
}

fn sleep_call(id: &str, seconds: u32) -> ToolCallRequest {
    ToolCallRequest {
        id: id.to_owned(),
        name: "python_fixture__sleep".into(),
        arguments: json!({"seconds": seconds}),
    }
}

impl Fixture {
    /// Waits for the window to hear that `call_id` runs with progress from its server.
    async fn progress_of(&mut self, call_id: &str) -> switchboard_ipc::chat::ToolProgress {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(30), self.events.recv())
                .await
                .expect("progress within 30 s")
                .expect("events");
            if let ChatEvent::ToolRunning {
                call_id: id,
                progress: Some(progress),
                ..
            } = event
                && id == call_id
            {
                return progress;
            }
        }
    }
}

/// A slow tool reports its progress to the window; the Stop on its block, the person's
/// Stop of the whole reply (the call dropped) and the call timeout each tell the server,
/// which sees the call cancelled. Both protocol eras.
#[tokio::test(flavor = "multi_thread")]
async fn a_running_call_shows_progress_and_every_way_of_stopping_it_tells_the_server() {
    for python in [kit::PythonMcp::start(), kit::PythonMcp::legacy()] {
        let dir = tempfile::tempdir().expect("tempdir");
        let connectors = open(&dir.path().join("settings.json"));
        let id = add(&connectors, python.url(), None).await.id;
        assert_eq!(
            settled(&connectors, &id).await.state,
            ConnectorState::Connected
        );
        connectors
            .set_tool_mode(&id, "sleep", ToolMode::Allow)
            .expect("allow");
        let mut fixture = Fixture::new(&connectors, dir.path(), "Slow");
        let conversation = fixture.conversation;
        let gate = Arc::new(fixture.gate());
        gate.offered();

        // The Stop on the block: the model reads that the person stopped it.
        let running = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.call(&sleep_call("one", 30)).await })
        };
        let progress = fixture.progress_of("one").await;
        assert_eq!(progress.total, Some(30.0));
        assert!(progress.progress > 0.0, "{progress:?}");
        assert!(
            progress
                .message
                .as_deref()
                .is_some_and(|m| m.ends_with("of 30 s")),
            "{progress:?}"
        );
        fixture
            .approvals
            .stop(conversation, "one")
            .expect("a running call stops");
        let stopped = running.await.expect("joined");
        assert!(stopped.is_error);
        assert_eq!(text(&stopped), "The person stopped this call.");
        python.wait_cancelled("sleep 30").await;
        // Not running any more: a second Stop is refused.
        assert!(fixture.approvals.stop(conversation, "one").is_err());

        // The reply's Stop drops the call.
        let running = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.call(&sleep_call("two", 31)).await })
        };
        fixture.progress_of("two").await;
        running.abort();
        python.wait_cancelled("sleep 31").await;

        // The call timeout.
        connectors
            .set_tool_options(&id, 1, false, false)
            .expect("a timeout of 1 s");
        let timed_out = gate.call(&sleep_call("three", 32)).await;
        assert!(timed_out.is_error);
        assert!(
            text(&timed_out).contains("within 1 second."),
            "{}",
            text(&timed_out)
        );
        python.wait_cancelled("sleep 32").await;
    }
}

/// Signs the connector in through the test browser: the `n`th link the browser hands back.
async fn sign_in_through_browser(
    connectors: &Connectors,
    id: &switchboard_ipc::ConnectorId,
    catcher: &support::LinkCatcher,
    n: usize,
) {
    let now = support::until_state(connectors, id, |s| s != ConnectorState::Connecting).await;
    if now.state != ConnectorState::SigningIn {
        connectors.sign_in(id).expect("sign in");
    }
    let link = catcher.link(n).await;
    assert!(
        link.contains("code="),
        "the browser came back with a code: {link}"
    );
    connectors.open_link(&link);
    let landed = support::until_state(connectors, id, |s| {
        !matches!(s, ConnectorState::Connecting | ConnectorState::SigningIn)
    })
    .await;
    assert_eq!(landed.state, ConnectorState::Connected, "{landed:?}");
}

/// A tool the server refuses for want of access (403 `insufficient_scope`): the model and
/// the person read that it needs more access, and signing in again asks for the scope the
/// server named on top of those granted; then the call runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_tool_that_needs_more_access_is_granted_by_signing_in_again() {
    let auth = kit::AuthServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let catcher = support::LinkCatcher::new(dir.path());
    let connectors = support::open_with_browser(
        &dir.path().join("settings.json"),
        Arc::new(support::MemorySecrets::default()),
        Arc::new(support::TestBrowser {
            env: kit::browser_env(&catcher.script, &dir.path().join("browser.jsonl")),
        }),
    );
    // Adding it opens the browser to sign in.
    let id = add(&connectors, auth.mcp_url(), None).await.id;
    sign_in_through_browser(&connectors, &id, &catcher, 0).await;
    connectors
        .set_tool_mode(&id, "reset", ToolMode::Allow)
        .expect("allow");
    let fixture = Fixture::new(&connectors, dir.path(), "Step up");
    let reset = ToolCallRequest {
        id: "reset".into(),
        name: "oauth_fixture__reset".into(),
        arguments: json!({}),
    };
    let gate = fixture.gate();
    gate.offered();
    let refused = gate.call(&reset).await;
    assert!(refused.is_error);
    assert_eq!(
        text(&refused),
        switchboard_ipc::tools::NEEDS_MORE_ACCESS,
        "{refused:?}"
    );
    assert_eq!(auth.stats().await["mcp_forbidden"], 1);

    sign_in_through_browser(&connectors, &id, &catcher, 1).await;
    let asked = auth.stats().await["scopes_requested"].clone();
    let asked: Vec<&str> = asked
        .as_array()
        .expect("scopes asked for")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    let mut second: Vec<&str> = asked[1].split(' ').collect();
    second.sort_unstable();
    assert_eq!(
        second,
        [kit::OAUTH_ADMIN_SCOPE, kit::OAUTH_SCOPE, "offline_access"],
        "the scope named, and those granted before"
    );
    let gate = fixture.gate();
    gate.offered();
    let ran = gate.call(&reset).await;
    assert!(!ran.is_error, "{ran:?}");
    assert_eq!(
        text(&ran),
        format!("reset done for {}", kit::OAUTH_USERNAME)
    );
}
