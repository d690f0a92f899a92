//! OpenAI's Chat Completions (`POST <base>/chat/completions`, `stream: true`), the format
//! OpenAI-compatible servers speak: Ollama, LM Studio, vLLM, llama.cpp's server.
//!
//! The stream is unnamed `data:` chunks, each a `chat.completion.chunk`, ended by
//! `data: [DONE]`. Compatible servers differ, so this reads leniently: tool-call arguments
//! in any number of pieces, a missing or empty `finish_reason`, no `usage`, unknown delta
//! fields (`reasoning_content`) skipped, and a stream that ends after its `finish_reason`
//! without `[DONE]` counted as complete.

use std::collections::BTreeMap;

use crate::sse::Sse;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde_json::{Value, json};

use super::wire::{self, Decoder};
use super::{
    Endpoint, EventStream, Model, ModelError, ModelErrorKind, ModelEvent, ModelInfo, ModelRequest,
    StopReason, anthropic::tool_call, resource_text,
};
use crate::chat::{Message, Part, Role};

pub struct OpenAi {
    http: wire::Http,
}

impl OpenAi {
    pub fn new(endpoint: Endpoint) -> crate::Result<Self> {
        // A local server may take no key at all.
        let key = endpoint
            .key
            .as_ref()
            .filter(|k| !k.expose().is_empty())
            .map(|key| (AUTHORIZATION.as_str(), key));
        Ok(Self {
            http: wire::Http::new(endpoint.base_url, key, HeaderMap::new())?,
        })
    }
}

#[async_trait::async_trait]
impl Model for OpenAi {
    async fn stream(&self, request: &ModelRequest) -> Result<EventStream, ModelError> {
        let sent = self.http.post("/chat/completions").json(&body(request));
        let response = wire::send(sent, classify).await?;
        Ok(wire::events(response, Events::default()))
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ModelError> {
        let response = wire::send(self.http.get("/models"), classify).await?;
        wire::model_list(response, None).await
    }
}

/// The request body. No length bound is sent: OpenAI's reasoning models refuse
/// `max_tokens` and older compatible servers do not know `max_completion_tokens`.
pub fn body(request: &ModelRequest) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        push_message(&mut messages, message);
    }
    let mut body = json!({
        "model": request.model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": messages,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.input_schema,
                }})
            })
            .collect();
    }
    body
}

/// One message becomes one or more: tool results are messages of their own (`role: tool`).
fn push_message(out: &mut Vec<Value>, message: &Message) {
    let mut content = Vec::new();
    let mut calls = Vec::new();
    for part in &message.parts {
        match part {
            Part::ToolCall {
                id,
                name,
                arguments,
                ..
            } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()},
            })),
            Part::ToolResult {
                call_id, content, ..
            } => out.push(json!({
                "role": "tool",
                "tool_call_id": call_id,
                "content": plain_text(content),
            })),
            other => content.extend(content_part(other)),
        }
    }
    if content.is_empty() && calls.is_empty() {
        return;
    }
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    // Text alone goes as a string: some compatible servers accept nothing else.
    let only_text = content.iter().all(|c| c["type"] == "text");
    let content = if only_text {
        let text: Vec<&str> = content.iter().filter_map(|c| c["text"].as_str()).collect();
        if text.is_empty() && !calls.is_empty() {
            Value::Null
        } else {
            json!(text.join("\n\n"))
        }
    } else {
        Value::Array(content)
    };
    let mut message = json!({"role": role, "content": content});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    out.push(message);
}

fn content_part(part: &Part) -> Option<Value> {
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
            "type": "image_url",
            "image_url": {"url": format!("data:{media_type};base64,{data}")},
        }),
        Part::Audio { .. }
        | Part::Link { .. }
        | Part::Structured { .. }
        | Part::ToolCall { .. }
        | Part::ToolResult { .. } => return None,
    })
}

/// A tool result's content as text: Chat Completions takes nothing else there.
fn plain_text(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|part| {
            if let Some(text) = super::described(part) {
                return Some(text);
            }
            Some(match part {
                Part::Text { text } => text.clone(),
                Part::Resource {
                    uri,
                    name,
                    mime_type,
                    text,
                } => resource_text(uri, name, mime_type.as_deref(), text),
                Part::Image { media_type, .. } => format!("[an image ({media_type}) was returned]"),
                Part::Audio { .. }
                | Part::Link { .. }
                | Part::Structured { .. }
                | Part::ToolCall { .. }
                | Part::ToolResult { .. } => return None,
            })
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A refusal, from the status and OpenAI's `{"error":{message,type,code}}` (or a plain
/// `{"error":"…"}`, as some compatible servers send).
pub fn classify(status: u16, headers: &HeaderMap, body: &Value) -> ModelError {
    let error = &body["error"];
    let words = error["message"]
        .as_str()
        .or(error.as_str())
        .unwrap_or_default();
    let code = error["code"].as_str().unwrap_or_default();
    let error_type = error["type"].as_str().unwrap_or_default();
    let detail = format!("HTTP {status} {error_type} {code}: {words}");
    let kind = match (status, code) {
        (_, "context_length_exceeded") => ModelErrorKind::ContextTooLong,
        (_, "model_not_found") => ModelErrorKind::ModelNotFound,
        (_, "invalid_api_key") => ModelErrorKind::KeyRejected,
        (_, "rate_limit_exceeded") => ModelErrorKind::RateLimited {
            retry_after: wire::retry_after(headers),
        },
        (400, _) if wire::says_too_long(words) => ModelErrorKind::ContextTooLong,
        // An error inside a stream comes with status 200: its type and words tell.
        (200, _) if words.to_ascii_lowercase().contains("overloaded") => ModelErrorKind::Overloaded,
        (200, _) if error_type == "server_error" => ModelErrorKind::ServerError,
        (404, _) if words.to_ascii_lowercase().contains("model") => ModelErrorKind::ModelNotFound,
        (404, _) => ModelErrorKind::WrongAddress,
        _ => wire::kind_of_status(status, headers).unwrap_or(ModelErrorKind::Refused),
    };
    ModelError::new(kind, detail)
}

/// A tool call being streamed: its pieces by `index`.
#[derive(Default)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Default)]
pub(super) struct Events {
    calls: BTreeMap<u64, PendingCall>,
    finish: Option<StopReason>,
    done: bool,
}

impl Events {
    /// The end of the reply: the tool calls gathered so far, then the stop.
    fn finish(&mut self) -> Vec<ModelEvent> {
        self.done = true;
        let mut events: Vec<ModelEvent> = std::mem::take(&mut self.calls)
            .into_values()
            .map(|call| tool_call(call.id, call.name, &call.arguments))
            .collect();
        let stop = self.finish.take().unwrap_or(if events.is_empty() {
            StopReason::EndTurn
        } else {
            StopReason::ToolUse
        });
        events.push(ModelEvent::Stop(stop));
        events
    }
}

impl Decoder for Events {
    fn feed(&mut self, sse: Sse) -> Result<Vec<ModelEvent>, ModelError> {
        let Some(data) = sse.data.as_deref() else {
            return Ok(Vec::new());
        };
        if data.trim() == "[DONE]" {
            return Ok(self.finish());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|err| {
            ModelError::new(
                ModelErrorKind::BadAnswer,
                format!("chunk not JSON: {err}: {data}"),
            )
        })?;
        if !chunk["error"].is_null() {
            return Err(classify(200, &HeaderMap::new(), &chunk));
        }
        let mut events = Vec::new();
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            // One reply is asked for; a server that sends more choices gets its first read.
            if choice["index"].as_u64().unwrap_or(0) != 0 {
                continue;
            }
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                events.push(ModelEvent::TextDelta(text.to_owned()));
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().unwrap_or(0);
                let pending = self.calls.entry(index).or_default();
                if let Some(id) = call["id"].as_str() {
                    pending.id = id.to_owned();
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    pending.name.push_str(name);
                }
                if let Some(arguments) = call["function"]["arguments"].as_str() {
                    pending.arguments.push_str(arguments);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str().filter(|r| !r.is_empty()) {
                self.finish = Some(match reason {
                    "stop" => StopReason::EndTurn,
                    "tool_calls" | "function_call" => StopReason::ToolUse,
                    "length" => StopReason::MaxTokens,
                    other => StopReason::Other(other.to_owned()),
                });
            }
        }
        let usage = &chunk["usage"];
        if usage.is_object() {
            events.push(ModelEvent::Usage {
                input_tokens: usage["prompt_tokens"].as_u64(),
                output_tokens: usage["completion_tokens"].as_u64(),
            });
        }
        Ok(events)
    }

    fn end(&mut self) -> Result<Vec<ModelEvent>, ModelError> {
        if self.finish.is_some() {
            Ok(self.finish())
        } else {
            Err(ModelError::new(
                ModelErrorKind::Cut,
                "the stream ended before a finish_reason or [DONE]",
            ))
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}
