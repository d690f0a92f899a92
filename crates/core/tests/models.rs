//! The two model adapters against the test kit's `ModelServer`, which speaks each provider's
//! wire format byte for byte (checked against the official SDKs in the kit's own tests):
//! every event type, bodies split anywhere (mid-line, mid-character), errors before and in
//! the middle of a stream, and what the adapters send.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use switchboard_core::chat::{Message, Part, Role};
use switchboard_core::models::{
    self, Endpoint, Model, ModelError, ModelErrorKind, ModelEvent, ModelRequest, ProviderKind,
    StopReason, ToolSpec,
};
use switchboard_core::secrets::Secret;
use switchboard_testkit::{ApiError, ModelReply, ModelServer};

const KEY: &str = "sk-test-models-0123456789";

fn adapter(server: &ModelServer, kind: ProviderKind) -> Box<dyn Model> {
    let base = match kind {
        ProviderKind::Anthropic => server.anthropic_url(),
        ProviderKind::OpenAiCompatible => server.openai_url(),
    };
    models::connect(Endpoint {
        kind,
        base_url: base.parse().expect("the server's URL parses"),
        key: Some(Secret::new(KEY)),
    })
    .expect("an adapter for a valid endpoint")
}

const BOTH: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::OpenAiCompatible];

fn request() -> ModelRequest {
    ModelRequest::new("test-model", vec![Message::user("Hello")])
}

/// Everything the stream said, and how it ended.
async fn collect(
    model: &dyn Model,
    request: &ModelRequest,
) -> (Vec<ModelEvent>, Option<ModelError>) {
    let mut stream = match model.stream(request).await {
        Ok(stream) => stream,
        Err(err) => return (Vec::new(), Some(err)),
    };
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(err) => return (events, Some(err)),
        }
    }
    (events, None)
}

fn text_of(events: &[ModelEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            ModelEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn text_split_anywhere_arrives_whole_with_usage_and_stop() {
    let text = "Grüße 👋 — ok. 日本語のテキストも。 Done.";
    for kind in BOTH {
        for pieces in [1, 7, 97] {
            let server = ModelServer::with_key(KEY);
            server.push(
                ModelReply::text(text)
                    .deltas_of(3)
                    .usage(12, 34)
                    .in_pieces(pieces),
            );
            let (events, error) = collect(adapter(&server, kind).as_ref(), &request()).await;
            assert_eq!(error, None, "{kind:?} in {pieces} pieces");
            assert_eq!(text_of(&events), text, "{kind:?} in {pieces} pieces");
            assert!(
                events
                    .iter()
                    .filter(|e| matches!(e, ModelEvent::TextDelta(_)))
                    .count()
                    > 3,
                "{kind:?}: the text streamed in several deltas"
            );
            assert!(
                events.iter().any(|e| matches!(
                    e,
                    ModelEvent::Usage {
                        output_tokens: Some(34),
                        ..
                    }
                )),
                "{kind:?}: usage {events:?}"
            );
            assert_eq!(
                events.last(),
                Some(&ModelEvent::Stop(StopReason::EndTurn)),
                "{kind:?}"
            );
        }
    }
}

#[tokio::test]
async fn tool_calls_arrive_whole_with_their_arguments() {
    let arguments = json!({"city": "Zürich", "days": [1, 2, 3], "units": {"temp": "C"}});
    for kind in BOTH {
        let server = ModelServer::start();
        server.push(
            ModelReply::text("Let me look.")
                .tool_call("call_1", "weather", arguments.clone())
                .in_pieces(13),
        );
        let (events, error) = collect(adapter(&server, kind).as_ref(), &request()).await;
        assert_eq!(error, None, "{kind:?}");
        assert_eq!(text_of(&events), "Let me look.", "{kind:?}");
        assert!(
            events.contains(&ModelEvent::ToolCall {
                id: "call_1".into(),
                name: "weather".into(),
                arguments: arguments.clone(),
            }),
            "{kind:?}: {events:?}"
        );
        assert_eq!(
            events.last(),
            Some(&ModelEvent::Stop(StopReason::ToolUse)),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn a_reply_cut_at_the_length_bound_says_so() {
    for kind in BOTH {
        let server = ModelServer::start();
        server.push(ModelReply::text("partial").stop_reason_max_tokens());
        let (events, error) = collect(adapter(&server, kind).as_ref(), &request()).await;
        assert_eq!(error, None);
        assert_eq!(
            events.last(),
            Some(&ModelEvent::Stop(StopReason::MaxTokens)),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn an_error_in_the_middle_keeps_what_came_before() {
    for kind in BOTH {
        let server = ModelServer::start();
        server.push(ModelReply::text("Half a th").error_event(ApiError::Overloaded));
        let (events, error) = collect(adapter(&server, kind).as_ref(), &request()).await;
        assert_eq!(text_of(&events), "Half a th", "{kind:?}");
        let error = error.expect("the stream ends with the error");
        assert_eq!(error.kind, ModelErrorKind::Overloaded, "{kind:?}: {error}");
        assert!(!events.iter().any(|e| matches!(e, ModelEvent::Stop(_))));
    }
}

#[tokio::test]
async fn a_cut_stream_is_cut_not_finished() {
    for kind in BOTH {
        let server = ModelServer::start();
        server.push(ModelReply::text("This reply stops in the mid").cut());
        let (events, error) = collect(adapter(&server, kind).as_ref(), &request()).await;
        assert_eq!(text_of(&events), "This reply stops in the mid", "{kind:?}");
        let error = error.expect("a cut stream ends with an error");
        assert_eq!(error.kind, ModelErrorKind::Cut, "{kind:?}: {error}");
        assert!(error.message.contains("cut off"), "{}", error.message);
    }
}

#[tokio::test]
async fn refusals_become_kinds_and_sentences() {
    let cases = [
        (
            ApiError::KeyRejected,
            ModelErrorKind::KeyRejected,
            "Settings → Models",
        ),
        (
            ApiError::Forbidden,
            ModelErrorKind::Forbidden,
            "another model",
        ),
        (
            ApiError::RateLimited {
                retry_after_secs: 7,
            },
            ModelErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
            },
            "Try again in 7 seconds.",
        ),
        (
            ApiError::Overloaded,
            ModelErrorKind::Overloaded,
            "overloaded",
        ),
        (
            ApiError::Unavailable,
            ModelErrorKind::Overloaded,
            "overloaded",
        ),
        (
            ApiError::ContextTooLong,
            ModelErrorKind::ContextTooLong,
            "too long",
        ),
        (
            ApiError::ModelNotFound,
            ModelErrorKind::ModelNotFound,
            "Pick another model",
        ),
        (
            ApiError::ServerError,
            ModelErrorKind::ServerError,
            "Try again",
        ),
    ];
    for kind in BOTH {
        for (api_error, expected, words) in cases.clone() {
            let server = ModelServer::start();
            server.push(ModelReply::error(api_error));
            let (events, error) = collect(adapter(&server, kind).as_ref(), &request()).await;
            assert!(events.is_empty());
            let error = error.expect("a refusal is an error");
            assert_eq!(
                error.kind, expected,
                "{kind:?} {api_error:?}: {}",
                error.detail
            );
            assert!(
                error.message.contains(words),
                "{kind:?} {api_error:?}: {}",
                error.message
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_key_is_rejected_by_the_server_itself() {
    for kind in BOTH {
        let server = ModelServer::with_key("the-right-key");
        let (_, error) = collect(adapter(&server, kind).as_ref(), &request()).await;
        assert_eq!(
            error.map(|e| e.kind),
            Some(ModelErrorKind::KeyRejected),
            "{kind:?}"
        );
        let listed = adapter(&server, kind).list_models().await;
        assert_eq!(listed.map_err(|e| e.kind), Err(ModelErrorKind::KeyRejected));
    }
}

#[tokio::test]
async fn model_lists_are_read() {
    for kind in BOTH {
        let server = ModelServer::with_key(KEY);
        server.models(&["model-a", "model-b"]);
        let models = adapter(&server, kind)
            .list_models()
            .await
            .expect("the list is read");
        let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["model-a", "model-b"], "{kind:?}");
    }
}

#[tokio::test]
async fn nothing_answering_is_offline() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", closed.local_addr().expect("an address"));
    drop(closed);
    for kind in BOTH {
        let model = models::connect(Endpoint {
            kind,
            base_url: url.parse().expect("a URL"),
            key: None,
        })
        .expect("an adapter");
        let (_, error) = collect(model.as_ref(), &request()).await;
        assert_eq!(
            error.map(|e| e.kind),
            Some(ModelErrorKind::Offline),
            "{kind:?}"
        );
    }
}

/// What the adapters send: the key where the provider wants it, the history with its roles,
/// resources as text with their address, images, tool calls and results, tools.
#[tokio::test]
async fn requests_carry_the_conversation_as_each_provider_expects() {
    let messages = vec![
        Message {
            role: Role::User,
            parts: vec![
                Part::text("Summarise this"),
                Part::Resource {
                    uri: "file:///notes.md".into(),
                    name: "Notes".into(),
                    mime_type: Some("text/markdown".into()),
                    text: "# Notes\nbuy milk".into(),
                },
                Part::Image {
                    media_type: "image/png".into(),
                    data: "iVBORw0KGgo=".into(),
                },
            ],
        },
        Message {
            role: Role::Assistant,
            parts: vec![
                Part::text("Checking."),
                Part::ToolCall {
                    id: "call_9".into(),
                    name: "search".into(),
                    arguments: json!({"q": "milk"}),
                    label: None,
                },
            ],
        },
        Message {
            role: Role::User,
            parts: vec![Part::ToolResult {
                call_id: "call_9".into(),
                content: vec![Part::text("Tools are not enabled yet")],
                is_error: true,
            }],
        },
    ];
    let mut request = ModelRequest::new("model-x", messages);
    request.system = Some("Be brief.".into());
    request.tools = vec![ToolSpec {
        name: "search".into(),
        description: "Searches".into(),
        input_schema: json!({"type": "object"}),
    }];

    let server = ModelServer::start();
    server.push(ModelReply::text("ok"));
    server.push(ModelReply::text("ok"));
    for kind in BOTH {
        let (_, error) = collect(adapter(&server, kind).as_ref(), &request).await;
        assert_eq!(error, None);
    }
    let sent = server.requests();
    assert_eq!(sent.len(), 2);

    let anthropic = &sent[0];
    assert_eq!(anthropic.path, "/v1/messages");
    assert_eq!(anthropic.header("x-api-key"), Some(KEY));
    assert_eq!(anthropic.header("anthropic-version"), Some("2023-06-01"));
    let body = anthropic.json();
    assert_eq!(body["model"], "model-x");
    assert_eq!(body["stream"], true);
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
    let first = &body["messages"][0]["content"];
    assert_eq!(first[0], json!({"type": "text", "text": "Summarise this"}));
    let resource = first[1]["text"].as_str().expect("a resource is text");
    assert!(
        resource.contains("file:///notes.md")
            && resource.contains("Notes")
            && resource.contains("buy milk")
    );
    assert_eq!(first[2]["source"]["media_type"], "image/png");
    assert_eq!(body["messages"][1]["content"][1]["type"], "tool_use");
    assert_eq!(
        body["messages"][1]["content"][1]["input"],
        json!({"q": "milk"})
    );
    let result = &body["messages"][2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "call_9");
    assert_eq!(result["is_error"], true);

    let openai = &sent[1];
    assert_eq!(openai.path, "/v1/chat/completions");
    assert_eq!(
        openai.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = openai.json();
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    let user = &body["messages"][1]["content"];
    assert_eq!(user[0]["text"], "Summarise this");
    assert!(
        user[1]["text"]
            .as_str()
            .is_some_and(|t| t.contains("buy milk"))
    );
    assert_eq!(
        user[2]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
    let assistant = &body["messages"][2];
    assert_eq!(assistant["content"], "Checking.");
    assert_eq!(
        assistant["tool_calls"][0]["function"]["arguments"],
        r#"{"q":"milk"}"#
    );
    assert_eq!(
        body["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_9", "content": "Tools are not enabled yet"})
    );
    assert_eq!(body["tools"][0]["function"]["name"], "search");
}

/// What a tool returned, of every content type, as each provider takes it in a tool result:
/// Anthropic gets text and images as blocks, Chat Completions gets text only; a sound and a
/// link are named; a structured result reaches the model once (through its text twin), and
/// one that breaks its `outputSchema` reaches it only as the problem.
#[tokio::test]
async fn tool_results_of_every_content_type_reach_each_provider() {
    use switchboard_core::chat::attachments::{TEXT_BOUND, tool_result};

    let schema = json!({
        "type": "object",
        "properties": {"temperature": {"type": "number"}},
        "required": ["temperature"],
    });
    let wire = |value: serde_json::Value| -> rmcp::model::CallToolResult {
        serde_json::from_value(value).expect("a tools/call result")
    };
    let good = tool_result(
        wire(json!({
            "content": [
                {"type": "text", "text": "{\"temperature\":21}"},
                {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
                {"type": "audio", "data": "UklGRgAAAAA=", "mimeType": "audio/wav"},
                {"type": "resource_link", "uri": "file:///report.pdf", "name": "report.pdf",
                 "description": "The full report"},
                {"type": "resource", "resource": {"uri": "file:///notes.md",
                 "mimeType": "text/markdown", "text": "buy milk"}},
            ],
            "structuredContent": {"temperature": 21},
        })),
        "c1",
        Some(&schema),
        TEXT_BOUND,
    );
    assert!(!good.is_error);
    assert_eq!(good.note, None);
    assert_eq!(
        good.parts,
        vec![
            Part::text("{\"temperature\":21}"),
            Part::Image {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into()
            },
            Part::Audio {
                media_type: "audio/wav".into(),
                data: "UklGRgAAAAA=".into()
            },
            Part::Link {
                connector_id: "c1".into(),
                uri: "file:///report.pdf".into(),
                name: "report.pdf".into(),
                title: None,
                mime_type: None,
                description: Some("The full report".into()),
            },
            Part::Resource {
                uri: "file:///notes.md".into(),
                name: "notes.md".into(),
                mime_type: Some("text/markdown".into()),
                text: "buy milk".into(),
            },
            Part::Structured {
                value: json!({"temperature": 21}),
                problem: None
            },
        ]
    );
    // Structured only: the model reads its JSON.
    let bare = tool_result(
        wire(json!({"content": [], "structuredContent": {"temperature": 3}})),
        "c1",
        Some(&schema),
        TEXT_BOUND,
    );
    assert_eq!(bare.parts[0], Part::text("{\"temperature\":3}"));
    // Breaks its promise: the twin goes, the problem says where.
    let bad = tool_result(
        wire(json!({
            "content": [{"type": "text", "text": "{\"temperature\":\"warm\"}"}],
            "structuredContent": {"temperature": "warm"},
        })),
        "c1",
        Some(&schema),
        TEXT_BOUND,
    );
    assert!(bad.is_error);
    let [
        Part::Structured {
            problem: Some(problem),
            ..
        },
    ] = bad.parts.as_slice()
    else {
        panic!(
            "only the structured part, with its problem: {:?}",
            bad.parts
        );
    };
    assert!(
        problem.starts_with("The tool's result does not have the form it promised")
            && problem.contains("/temperature"),
        "{problem}"
    );

    let request = ModelRequest::new(
        "model-x",
        vec![
            Message {
                role: Role::Assistant,
                parts: vec![
                    Part::ToolCall {
                        id: "good".into(),
                        name: "weather".into(),
                        arguments: json!({}),
                        label: None,
                    },
                    Part::ToolCall {
                        id: "bad".into(),
                        name: "weather".into(),
                        arguments: json!({}),
                        label: None,
                    },
                ],
            },
            Message {
                role: Role::User,
                parts: vec![
                    Part::ToolResult {
                        call_id: "good".into(),
                        content: good.parts,
                        is_error: false,
                    },
                    Part::ToolResult {
                        call_id: "bad".into(),
                        content: bad.parts,
                        is_error: true,
                    },
                ],
            },
        ],
    );
    let server = ModelServer::start();
    server.push(ModelReply::text("ok"));
    server.push(ModelReply::text("ok"));
    for kind in BOTH {
        let (_, error) = collect(adapter(&server, kind).as_ref(), &request).await;
        assert_eq!(error, None);
    }
    let sent = server.requests();

    let anthropic = sent[0].json();
    let results = &anthropic["messages"][1]["content"];
    let good = results[0]["content"].as_array().expect("blocks");
    assert_eq!(good.len(), 5, "the structured part adds nothing: {good:?}");
    assert_eq!(good[0]["text"], "{\"temperature\":21}");
    assert_eq!(good[1]["type"], "image");
    assert_eq!(good[1]["source"]["data"], "iVBORw0KGgo=");
    let sound = good[2]["text"].as_str().expect("a sound is named");
    assert!(sound.contains("a sound (audio/wav"), "{sound}");
    let link = good[3]["text"].as_str().expect("a link is named");
    assert!(
        link.contains("report.pdf") && link.contains("file:///report.pdf"),
        "{link}"
    );
    assert!(
        good[4]["text"]
            .as_str()
            .is_some_and(|t| t.contains("buy milk"))
    );
    let bad = &results[1];
    assert_eq!(bad["is_error"], true);
    assert_eq!(bad["content"].as_array().map(Vec::len), Some(1));
    let said = bad["content"][0]["text"].as_str().expect("the problem");
    assert!(said.contains("does not have the form") && !said.contains("warm"));

    let openai = sent[1].json();
    let good = openai["messages"][1]["content"]
        .as_str()
        .expect("text only");
    assert_eq!(good.matches("temperature").count(), 1, "{good}");
    for expected in [
        "[an image (image/png) was returned]",
        "a sound (audio/wav",
        "file:///report.pdf",
        "buy milk",
    ] {
        assert!(good.contains(expected), "{expected} in {good}");
    }
    assert_eq!(openai["messages"][1]["tool_call_id"], "good");
    let bad = openai["messages"][2]["content"]
        .as_str()
        .expect("text only");
    assert!(bad.contains("does not have the form") && !bad.contains("warm"));
}
