//! Anthropic's Messages API (`POST /v1/messages`, `stream: true`).
//!
//! The stream is a sequence of named events: `message_start`, then per content block
//! `content_block_start` / `content_block_delta`* / `content_block_stop`, then
//! `message_delta` (stop reason, usage) and `message_stop`; `ping` anywhere, and `error`
//! when the provider fails mid-reply. Block kinds this adapter does not know (thinking,
//! server tools) are skipped, as the API's versioning policy asks of clients.

use std::collections::HashMap;

use crate::sse::Sse;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::wire::{self, Decoder};
use super::{
    Endpoint, EventStream, Model, ModelError, ModelErrorKind, ModelEvent, ModelInfo, ModelRequest,
    StopReason, resource_text,
};
use crate::chat::{Message, Part, Role};

const API_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    http: wire::Http,
}

impl Anthropic {
    pub fn new(endpoint: Endpoint) -> crate::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        let key = endpoint.key.as_ref().map(|key| ("x-api-key", key));
        Ok(Self {
            http: wire::Http::new(endpoint.base_url, key, headers)?,
        })
    }
}

#[async_trait::async_trait]
impl Model for Anthropic {
    async fn stream(&self, request: &ModelRequest) -> Result<EventStream, ModelError> {
        let sent = self.http.post("/v1/messages").json(&body(request));
        let response = wire::send(sent, classify).await?;
        Ok(wire::events(response, Events::default()))
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ModelError> {
        let response = wire::send(self.http.get("/v1/models?limit=1000"), classify).await?;
        wire::model_list(response, Some("display_name")).await
    }
}

/// The request body.
pub fn body(request: &ModelRequest) -> Value {
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_tokens,
        "stream": true,
        "messages": request.messages.iter().map(message).collect::<Vec<_>>(),
    });
    if let Some(system) = &request.system {
        body["system"] = json!(system);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
    }
    body
}

fn message(message: &Message) -> Value {
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    json!({"role": role, "content": message.parts.iter().filter_map(block).collect::<Vec<_>>()})
}

fn block(part: &Part) -> Option<Value> {
    if let Some(text) = super::described(part) {
        return Some(json!({"type": "text", "text": text}));
    }
    Some(match part {
        Part::Text { text } => json!({"type": "text", "text": text}),
        Part::Resource {
            uri,
            name,
            mime_type,
            text,
        } => json!({"type": "text", "text": resource_text(uri, name, mime_type.as_deref(), text)}),
        Part::Image { media_type, data } => json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }),
        Part::ToolCall {
            id,
            name,
            arguments,
            ..
        } => json!({"type": "tool_use", "id": id, "name": name, "input": arguments}),
        Part::ToolResult {
            call_id,
            content,
            is_error,
        } => json!({
            "type": "tool_result",
            "tool_use_id": call_id,
            "content": content.iter().filter_map(block).collect::<Vec<_>>(),
            "is_error": is_error,
        }),
        // A structured result that matched: its text twin carries it.
        Part::Audio { .. } | Part::Link { .. } | Part::Structured { .. } => return None,
    })
}

/// A refusal, read from the status and Anthropic's `{"type":"error","error":{type,message}}`.
pub fn classify(status: u16, headers: &HeaderMap, body: &Value) -> ModelError {
    let error_type = body["error"]["type"].as_str().unwrap_or_default();
    let words = body["error"]["message"].as_str().unwrap_or_default();
    let detail = format!("HTTP {status} {error_type}: {words}");
    let kind = match (status, error_type) {
        (_, "overloaded_error") => ModelErrorKind::Overloaded,
        (_, "rate_limit_error") => ModelErrorKind::RateLimited {
            retry_after: wire::retry_after(headers),
        },
        (_, "request_too_large") => ModelErrorKind::ContextTooLong,
        (400, _) if wire::says_too_long(words) => ModelErrorKind::ContextTooLong,
        (404, "not_found_error") if words.starts_with("model") => ModelErrorKind::ModelNotFound,
        (404, _) => ModelErrorKind::WrongAddress,
        _ => wire::kind_of_status(status, headers).unwrap_or(ModelErrorKind::Refused),
    };
    ModelError::new(kind, detail)
}

/// A content block being streamed.
enum Block {
    Text,
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// The decoder: blocks by index, the stop reason once `message_delta` says it.
#[derive(Default)]
pub(super) struct Events {
    blocks: HashMap<u64, Block>,
    stop: Option<StopReason>,
    done: bool,
}

impl Decoder for Events {
    fn feed(&mut self, sse: Sse) -> Result<Vec<ModelEvent>, ModelError> {
        let Some(data) = sse.data.as_deref() else {
            return Ok(Vec::new());
        };
        let event: Value = serde_json::from_str(data).map_err(|err| {
            ModelError::new(
                ModelErrorKind::BadAnswer,
                format!("event not JSON: {err}: {data}"),
            )
        })?;
        // The `type` inside the data names the event; the `event:` line says the same.
        let name = event["type"]
            .as_str()
            .or(sse.event.as_deref())
            .unwrap_or_default();
        let index = event["index"].as_u64().unwrap_or_default();
        Ok(match name {
            "message_start" => usage(&event["message"]["usage"]).into_iter().collect(),
            "content_block_start" => {
                let block = &event["content_block"];
                let started = match block["type"].as_str() {
                    Some("text") => Block::Text,
                    Some("tool_use") => Block::ToolUse {
                        id: block["id"].as_str().unwrap_or_default().to_owned(),
                        name: block["name"].as_str().unwrap_or_default().to_owned(),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                // A text block may start with text already in it.
                let text = block["text"].as_str().unwrap_or_default();
                self.blocks.insert(index, started);
                text_event(text)
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                match (delta["type"].as_str(), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), Some(Block::Text)) => {
                        text_event(delta["text"].as_str().unwrap_or_default())
                    }
                    (Some("input_json_delta"), Some(Block::ToolUse { json, .. })) => {
                        json.push_str(delta["partial_json"].as_str().unwrap_or_default());
                        Vec::new()
                    }
                    _ => Vec::new(),
                }
            }
            "content_block_stop" => match self.blocks.remove(&index) {
                Some(Block::ToolUse { id, name, json }) => vec![tool_call(id, name, &json)],
                _ => Vec::new(),
            },
            "message_delta" => {
                self.stop = event["delta"]["stop_reason"].as_str().map(stop_reason);
                usage(&event["usage"]).into_iter().collect()
            }
            "message_stop" => {
                self.done = true;
                vec![ModelEvent::Stop(
                    self.stop.take().unwrap_or(StopReason::EndTurn),
                )]
            }
            "error" => return Err(classify(200, &HeaderMap::new(), &event)),
            // `ping`, and events newer than this adapter.
            _ => Vec::new(),
        })
    }

    fn end(&mut self) -> Result<Vec<ModelEvent>, ModelError> {
        Err(ModelError::new(
            ModelErrorKind::Cut,
            "the stream ended before message_stop",
        ))
    }

    fn finished(&self) -> bool {
        self.done
    }
}

fn text_event(text: &str) -> Vec<ModelEvent> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![ModelEvent::TextDelta(text.to_owned())]
    }
}

/// A finished tool call. Arguments that are not a JSON object are passed on as the text
/// they were, for the tool gate to refuse in words.
pub(super) fn tool_call(id: String, name: String, json: &str) -> ModelEvent {
    let arguments = if json.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(json).unwrap_or_else(|_| Value::String(json.to_owned()))
    };
    ModelEvent::ToolCall {
        id,
        name,
        arguments,
    }
}

fn usage(usage: &Value) -> Option<ModelEvent> {
    let input_tokens = usage["input_tokens"].as_u64();
    let output_tokens = usage["output_tokens"].as_u64();
    (input_tokens.is_some() || output_tokens.is_some()).then_some(ModelEvent::Usage {
        input_tokens,
        output_tokens,
    })
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" | "stop_sequence" => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        other => StopReason::Other(other.to_owned()),
    }
}
