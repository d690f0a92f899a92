//! One turn of a conversation against the scripted model server: the reply streams and is
//! saved, a tool call meets the refusing gate, Stop keeps what arrived, a failure keeps the
//! person's message, and attachments reach the model where they belong.

use std::time::Duration;

use serde_json::json;
use switchboard_core::chat::store::ChatStore;
use switchboard_core::chat::turn::{NoTools, TOOLS_NOT_ENABLED, Turn, TurnEnd, TurnEvent};
use switchboard_core::chat::{
    Attachment, AttachmentContent, AttachmentKind, Message, MessageStatus, Part, Role,
};
use switchboard_core::models::{self, Endpoint, Model, ModelErrorKind, ProviderKind};
use switchboard_testkit::{ApiError, Gate, ModelReply, ModelServer};
use tokio_util::sync::CancellationToken;

const BOTH: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::OpenAiCompatible];

fn adapter(server: &ModelServer, kind: ProviderKind) -> Box<dyn Model> {
    let base = match kind {
        ProviderKind::Anthropic => server.anthropic_url(),
        ProviderKind::OpenAiCompatible => server.openai_url(),
    };
    models::connect(Endpoint {
        kind,
        base_url: base.parse().expect("a URL"),
        key: None,
    })
    .expect("an adapter")
}

/// A store with one conversation whose last message is the person's `text`.
fn conversation(text: &str, attachments: &[Attachment]) -> (ChatStore, i64) {
    let store = ChatStore::open_in_memory().expect("a store");
    let conversation = store
        .create_conversation("Test", None)
        .expect("a conversation");
    store
        .append(
            conversation.id,
            Role::User,
            &[Part::text(text)],
            attachments,
            MessageStatus::Complete,
            None,
        )
        .expect("the person's message is saved");
    (store, conversation.id)
}

async fn run(
    store: &ChatStore,
    model: &dyn Model,
    id: i64,
    cancel: CancellationToken,
) -> (TurnEnd, Vec<TurnEvent>) {
    let mut events = Vec::new();
    let end = Turn {
        store,
        model,
        model_id: "test-model",
        system: None,
        gate: &NoTools,
        conversation_id: id,
        cancel,
    }
    .run(|event| events.push(event))
    .await
    .expect("the turn can read and save");
    (end, events)
}

#[tokio::test]
async fn a_reply_streams_and_is_saved() {
    for kind in BOTH {
        let server = ModelServer::start();
        server.push(ModelReply::text("Hello **there**, how can I help?"));
        let (store, id) = conversation("Hi", &[]);
        let model = adapter(&server, kind);
        let (end, events) = run(&store, model.as_ref(), id, CancellationToken::new()).await;
        assert_eq!(end, TurnEnd::Finished, "{kind:?}");
        let streamed: String = events
            .iter()
            .filter_map(|e| match e {
                TurnEvent::TextDelta(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(streamed, "Hello **there**, how can I help?");
        let messages = store.messages(id).expect("messages");
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].role, Role::Assistant);
        assert_eq!(
            messages[1].parts,
            [Part::text("Hello **there**, how can I help?")]
        );
        assert_eq!(messages[1].status, MessageStatus::Complete);
        assert_eq!(messages[1].model.as_deref(), Some("test-model"));
        // No tools are offered while the gate refuses them all.
        let body = server.requests()[0].json();
        assert!(body.get("tools").is_none(), "{kind:?}: {body}");
    }
}

#[tokio::test]
async fn a_tool_call_is_refused_by_the_gate_and_the_model_hears_why() {
    for kind in BOTH {
        let server = ModelServer::start();
        server.push(ModelReply::text("Let me check.").tool_call(
            "call_1",
            "search",
            json!({"q": "x"}),
        ));
        server.push(ModelReply::text("I cannot use tools here."));
        let (store, id) = conversation("Search for x", &[]);
        let model = adapter(&server, kind);
        let (end, events) = run(&store, model.as_ref(), id, CancellationToken::new()).await;
        assert_eq!(end, TurnEnd::Finished, "{kind:?}");
        assert!(events.iter().any(|e| matches!(e,
            TurnEvent::ToolResult { call_id, outcome } if call_id == "call_1" && outcome.is_error
        )));
        let messages = store.messages(id).expect("messages");
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::User, Role::Assistant, Role::User, Role::Assistant],
            "{kind:?}"
        );
        assert_eq!(
            messages[2].parts,
            [Part::ToolResult {
                call_id: "call_1".into(),
                content: vec![Part::text(TOOLS_NOT_ENABLED)],
                is_error: true,
            }]
        );
        // The second request carried the refusal back to the model.
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        let second = requests[1].body.clone();
        let second = String::from_utf8_lossy(&second);
        assert!(
            second.contains(TOOLS_NOT_ENABLED) && second.contains("call_1"),
            "{kind:?}: {second}"
        );
    }
}

#[tokio::test]
async fn stop_keeps_what_arrived_and_drops_the_request() {
    for kind in BOTH {
        let server = ModelServer::start();
        let gate = Gate::new();
        server.push(
            ModelReply::text("The first half")
                .hold(&gate)
                .then_text(" and the rest"),
        );
        let (store, id) = conversation("Tell me", &[]);
        let model = adapter(&server, kind);
        let cancel = CancellationToken::new();
        // Stopped once the first half has arrived here (the server holds the rest): when
        // the server sent it is too early, it may still be on its way.
        let (stopper, mut arrived) = (cancel.clone(), String::new());
        let turn = Turn {
            store: &store,
            model: model.as_ref(),
            model_id: "test-model",
            system: None,
            gate: &NoTools,
            conversation_id: id,
            cancel,
        };
        let running = turn.run(|event| {
            if let TurnEvent::TextDelta(text) = event {
                arrived.push_str(&text);
                if arrived == "The first half" {
                    stopper.cancel();
                }
            }
        });
        let end = tokio::time::timeout(Duration::from_secs(60), running)
            .await
            .expect("stopped once the first half arrived")
            .expect("the turn can read and save");
        assert!(
            gate.reached(Duration::from_secs(60)).await,
            "the reply got to the hold"
        );
        assert_eq!(end, TurnEnd::Stopped, "{kind:?}");
        let messages = store.messages(id).expect("messages");
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[1].parts,
            [Part::text("The first half")],
            "{kind:?}"
        );
        assert_eq!(messages[1].status, MessageStatus::Unfinished);
        // The HTTP request was dropped: the server saw its client go away.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while server.disconnects() == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(server.disconnects(), 1, "{kind:?}");
    }
}

#[tokio::test]
async fn a_refusal_before_any_text_keeps_the_message_marked_failed() {
    for kind in BOTH {
        let server = ModelServer::start();
        server.push(ModelReply::error(ApiError::RateLimited {
            retry_after_secs: 20,
        }));
        let (store, id) = conversation("Hi", &[]);
        let model = adapter(&server, kind);
        let (end, _) = run(&store, model.as_ref(), id, CancellationToken::new()).await;
        let TurnEnd::Failed(error) = end else {
            panic!("{kind:?}: the turn failed");
        };
        assert_eq!(
            error.kind,
            ModelErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(20))
            }
        );
        assert!(error.message.contains("20 seconds"), "{}", error.message);
        let messages = store.messages(id).expect("messages");
        assert_eq!(messages.len(), 1, "nothing but the person's message");
        assert_eq!(messages[0].parts, [Part::text("Hi")]);
        assert_eq!(messages[0].status, MessageStatus::Failed);
    }
}

#[tokio::test]
async fn a_cut_stream_keeps_its_text_unfinished() {
    for kind in BOTH {
        let server = ModelServer::start();
        server.push(ModelReply::text("Partly there").cut());
        let (store, id) = conversation("Hi", &[]);
        let model = adapter(&server, kind);
        let (end, _) = run(&store, model.as_ref(), id, CancellationToken::new()).await;
        assert!(
            matches!(&end, TurnEnd::Failed(e) if e.kind == ModelErrorKind::Cut),
            "{kind:?}: {end:?}"
        );
        let messages = store.messages(id).expect("messages");
        assert_eq!(messages[1].parts, [Part::text("Partly there")]);
        assert_eq!(messages[1].status, MessageStatus::Unfinished);
        assert_eq!(
            messages[0].status,
            MessageStatus::Complete,
            "the question was answered in part"
        );
    }
}

#[tokio::test]
async fn attachments_reach_the_model_where_they_belong() {
    let resource = Attachment {
        kind: AttachmentKind::Resource,
        connector_id: "c1".into(),
        connector_name: "Files".into(),
        name: "Readme".into(),
        uri: Some("file:///readme.md".into()),
        size: 11,
        truncated: false,
        note: None,
        content: AttachmentContent::Parts {
            parts: vec![Part::Resource {
                uri: "file:///readme.md".into(),
                name: "Readme".into(),
                mime_type: Some("text/markdown".into()),
                text: "Read me now".into(),
            }],
        },
    };
    let prompt = Attachment {
        kind: AttachmentKind::Prompt,
        connector_id: "c1".into(),
        connector_name: "Files".into(),
        name: "Review".into(),
        uri: None,
        size: 20,
        truncated: false,
        note: None,
        content: AttachmentContent::Messages {
            messages: vec![
                Message::user("You are reviewing code."),
                Message::assistant("Understood."),
            ],
        },
    };
    let server = ModelServer::start();
    server.push(ModelReply::text("ok"));
    let (store, id) = conversation("Go", &[prompt, resource]);
    let model = adapter(&server, ProviderKind::Anthropic);
    let (end, _) = run(&store, model.as_ref(), id, CancellationToken::new()).await;
    assert_eq!(end, TurnEnd::Finished);
    let body = server.requests()[0].json();
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3, "{body}");
    assert_eq!(messages[0]["content"][0]["text"], "You are reviewing code.");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[2]["content"][0]["text"], "Go");
    let attached = messages[2]["content"][1]["text"]
        .as_str()
        .expect("the resource");
    assert!(attached.contains("file:///readme.md") && attached.contains("Read me now"));
}

/// A model that keeps calling tools is paused after `MAX_TOOL_ROUNDS` rounds, with every
/// round saved; a new turn (the person's "Go on") continues from there.
#[tokio::test]
async fn a_model_that_keeps_calling_tools_is_paused_and_can_go_on() {
    use switchboard_core::chat::turn::MAX_TOOL_ROUNDS;
    let server = ModelServer::start();
    for round in 0..MAX_TOOL_ROUNDS {
        server.push(ModelReply::new().tool_call(&format!("call_{round}"), "loop", json!({})));
    }
    let model = adapter(&server, ProviderKind::OpenAiCompatible);
    let (store, id) = conversation("Keep going", &[]);
    let (end, _) = run(&store, model.as_ref(), id, CancellationToken::new()).await;
    assert_eq!(end, TurnEnd::ToolRoundsReached);
    let posts = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, MAX_TOOL_ROUNDS, "no request past the bound");
    let messages = store.messages(id).expect("messages");
    assert_eq!(
        messages.len(),
        1 + 2 * MAX_TOOL_ROUNDS,
        "every call and its result is saved"
    );

    server.push(ModelReply::text("Finally done."));
    let (end, _) = run(&store, model.as_ref(), id, CancellationToken::new()).await;
    assert_eq!(end, TurnEnd::Finished);
    let last = store.messages(id).expect("messages");
    assert_eq!(
        last.last().map(|m| m.parts.clone()),
        Some(vec![Part::text("Finally done.")])
    );
}
