//! The models the chat talks to, behind one port: a [`ModelRequest`] goes in, one stream of
//! [`ModelEvent`]s comes out, whatever the provider's wire format.
//!
//! Two adapters: [`anthropic`] (the Messages API) and [`openai`] (Chat Completions, which
//! OpenAI and the local servers — Ollama, LM Studio, vLLM, llama.cpp — all speak). Both are
//! written here on reqwest and the `sse-stream` parser rmcp already brings in, rather than
//! taken from a multi-provider crate: see `docs/models.md` for why.
//!
//! Every failure becomes a [`ModelError`] whose [`kind`](ModelError::kind) the turn can act
//! on and whose sentence a person can: what went wrong and what to do next.

pub mod anthropic;
#[cfg(test)]
mod fuzz;
pub mod openai;
pub mod providers;
mod wire;

use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use serde_json::Value;
use url::Url;

use crate::chat::{Message, Part};
use crate::secrets::Secret;
pub use switchboard_ipc::chat::{ModelInfo, ProviderKind};

/// Where a provider is and the key it wants.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub kind: ProviderKind,
    pub base_url: Url,
    pub key: Option<Secret>,
}

/// A tool the model may call, as the provider is told about it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// One request to a model: the whole conversation so far.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRequest {
    pub model: String,
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: u32,
}

impl ModelRequest {
    /// Enough for any reply a person would read; providers that need a bound get this one.
    pub const DEFAULT_MAX_TOKENS: u32 = 8192;

    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            system: None,
            messages,
            tools: Vec::new(),
            max_tokens: Self::DEFAULT_MAX_TOKENS,
        }
    }
}

/// What a model says, as it says it.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelEvent {
    TextDelta(String),
    /// A whole tool call: its arguments arrive in pieces and are handed on once complete.
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
    },
    Usage {
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
    },
    /// The reply is complete. Always the last event of a stream that did not fail.
    Stop(StopReason),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    /// The model waits for the results of the tool calls it made.
    ToolUse,
    /// The reply hit the length bound.
    MaxTokens,
    Other(String),
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<ModelEvent, ModelError>> + Send>>;

/// The port: one provider, ready to talk.
#[async_trait::async_trait]
pub trait Model: Send + Sync {
    /// Sends the request and returns the reply as it streams. Fails before the stream when
    /// the provider refuses the request; a failure after it started ends the stream with
    /// one error (what arrived before it stays valid).
    async fn stream(&self, request: &ModelRequest) -> Result<EventStream, ModelError>;

    /// The models this provider offers, in its order.
    async fn list_models(&self) -> Result<Vec<ModelInfo>, ModelError>;
}

/// The adapter for `endpoint`'s wire format.
pub fn connect(endpoint: Endpoint) -> crate::Result<Box<dyn Model>> {
    Ok(match endpoint.kind {
        ProviderKind::Anthropic => Box::new(anthropic::Anthropic::new(endpoint)?),
        ProviderKind::OpenAiCompatible => Box::new(openai::OpenAi::new(endpoint)?),
    })
}

/// "Check" in Settings → Models: the smallest real request, read until the model has said
/// something (or finished). Proves the address, the key and the model in one go.
pub async fn check(model: &dyn Model, model_id: &str) -> Result<(), ModelError> {
    use futures_util::StreamExt;
    let mut request = ModelRequest::new(model_id, vec![Message::user("Say OK.")]);
    request.max_tokens = 16;
    let mut stream = model.stream(&request).await?;
    match stream.next().await {
        Some(Err(err)) => Err(err),
        Some(Ok(_)) | None => Ok(()),
    }
}

/// What went wrong, as far as the turn needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelErrorKind {
    /// No answer at all: no network, refused, DNS, a timeout.
    Offline,
    /// 401: the key is wrong, revoked, or missing.
    KeyRejected,
    /// 403: the key may not use this model or this feature.
    Forbidden,
    /// 429, with the wait the provider asked for.
    RateLimited { retry_after: Option<Duration> },
    /// 529 / 503: the provider is busy.
    Overloaded,
    /// The conversation does not fit the model's context.
    ContextTooLong,
    /// The model named is not offered here.
    ModelNotFound,
    /// 404 for the endpoint itself: the base URL is not a model provider.
    WrongAddress,
    /// The reply stopped in the middle (connection cut, no final event).
    Cut,
    /// A 5xx the provider did not explain.
    ServerError,
    /// An answer that cannot be read as the wire format says.
    BadAnswer,
    /// Any other refusal (4xx), with the provider's words in the detail.
    Refused,
}

/// A failure with one plain sentence for the person and the technical detail behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError {
    pub kind: ModelErrorKind,
    pub message: String,
    pub detail: String,
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.detail)
    }
}

impl std::error::Error for ModelError {}

impl ModelError {
    pub fn new(kind: ModelErrorKind, detail: impl Into<String>) -> Self {
        let message = match &kind {
            ModelErrorKind::Offline => {
                "Switchboard could not reach the model provider. Check your internet connection and the provider's address, then try again.".to_owned()
            }
            ModelErrorKind::KeyRejected => {
                "The model provider did not accept the API key. Enter a new key in Settings → Models.".to_owned()
            }
            ModelErrorKind::Forbidden => {
                "The model provider refused: this key may not use this model. Check the key's permissions or pick another model.".to_owned()
            }
            ModelErrorKind::RateLimited { retry_after } => match retry_after {
                Some(wait) if wait.as_secs() > 0 => format!(
                    "The model provider says too many requests were sent. Try again in {}.",
                    plain_duration(*wait)
                ),
                _ => "The model provider says too many requests were sent. Try again in a minute.".to_owned(),
            },
            ModelErrorKind::Overloaded => {
                "The model provider is overloaded right now. Try again in a moment.".to_owned()
            }
            ModelErrorKind::ContextTooLong => {
                "This conversation is too long for the model. Remove an attachment or start a new chat.".to_owned()
            }
            ModelErrorKind::ModelNotFound => {
                "This model is not available from the provider. Pick another model.".to_owned()
            }
            ModelErrorKind::WrongAddress => {
                "Nothing at the provider's address answers like a model provider. Check the address in Settings → Models.".to_owned()
            }
            ModelErrorKind::Cut => {
                "The reply was cut off before it finished. What arrived is kept; try again for the rest.".to_owned()
            }
            ModelErrorKind::ServerError => {
                "The model provider had a problem answering. Try again in a moment.".to_owned()
            }
            ModelErrorKind::BadAnswer => {
                "The model provider's answer could not be read. Check the provider's address in Settings → Models.".to_owned()
            }
            ModelErrorKind::Refused => {
                "The model provider refused the request.".to_owned()
            }
        };
        Self {
            kind,
            message,
            detail: detail.into(),
        }
    }
}

/// "30 seconds", "2 minutes": how long to wait, as a person says it.
fn plain_duration(wait: Duration) -> String {
    let secs = wait.as_secs();
    match secs {
        1 => "1 second".to_owned(),
        s if s < 90 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

/// A resource as text for a model: where it came from, then its content, fenced so the
/// model can tell the attachment from the person's words.
/// Words for a part neither provider takes as it is: a sound, a link to a resource, a
/// structured result (whose text twin carries the data; only a mismatch is said).
/// `None` for the parts a provider sends natively, and for a structured result that matched.
pub(crate) fn described(part: &Part) -> Option<String> {
    match part {
        Part::Audio { media_type, data } => Some(format!(
            "[a sound ({media_type}, {}) was returned; the model cannot hear it]",
            crate::chat::attachments::plain_size(data.len() / 4 * 3)
        )),
        Part::Link {
            uri,
            name,
            description,
            ..
        } => Some(match description {
            Some(about) => format!("(A resource is referred to: \"{name}\" at {uri}: {about})"),
            None => format!("(A resource is referred to: \"{name}\" at {uri})"),
        }),
        Part::Structured { problem, .. } => problem.clone(),
        _ => None,
    }
}

pub(crate) fn resource_text(uri: &str, name: &str, mime_type: Option<&str>, text: &str) -> String {
    let kind = mime_type.map(|m| format!(" ({m})")).unwrap_or_default();
    format!(
        "Attached resource \"{name}\"{kind} from {uri}:\n<resource uri=\"{uri}\">\n{text}\n</resource>"
    )
}
