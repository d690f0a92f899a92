//! What both adapters share: sending a request, reading its refusal, and turning a stream
//! of server-sent events into [`ModelEvent`]s through a provider's [`Decoder`].

use std::collections::VecDeque;
use std::time::Duration;

use crate::sse::{self, Sse, SseError};
use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::Value;
use switchboard_ipc::SignInMethod;
use url::Url;

use super::{EventStream, ModelError, ModelErrorKind, ModelEvent, ModelInfo};
use crate::secrets::Secret;

/// The most a refusal's body is read for its words.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// What an adapter talks through: one client that sends the key on every request (in the
/// header the provider wants, as a connector's API key is sent) and follows redirects
/// within the provider's origin only, and the base URL the paths hang off.
pub(super) struct Http {
    client: reqwest::Client,
    base: Url,
}

impl Http {
    /// `key` is the header it goes in and the key; `headers` go with every request too.
    pub(super) fn new(
        base: Url,
        key: Option<(&str, &Secret)>,
        mut headers: HeaderMap,
    ) -> crate::Result<Self> {
        if let Some((header, key)) = key {
            let method = SignInMethod::ApiKey {
                header: header.to_owned(),
            };
            let key_header = crate::signin::headers(&method, key).map_err(|_| {
                crate::Error::new(
                    crate::ErrorCode::InvalidSignIn,
                    "An API key can only contain letters, digits and punctuation.",
                )
            })?;
            headers.extend(key_header);
        }
        Ok(Self {
            client: crate::web::client(headers)?,
            base,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    pub(super) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub(super) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }
}

/// The models a provider lists under `data`, each with its `id` and, where the provider
/// has one, the field that names it for people.
pub(super) async fn model_list(
    response: reqwest::Response,
    display_name: Option<&str>,
) -> Result<Vec<ModelInfo>, ModelError> {
    let list = json(response).await?;
    let models = list["data"]
        .as_array()
        .ok_or_else(|| ModelError::new(ModelErrorKind::BadAnswer, "no `data` list"))?;
    Ok(models
        .iter()
        .filter_map(|m| {
            Some(ModelInfo {
                id: m["id"].as_str()?.to_owned(),
                display_name: display_name
                    .and_then(|field| m[field].as_str())
                    .map(str::to_owned),
            })
        })
        .collect())
}

/// One provider's reading of its events.
pub(super) trait Decoder: Send + 'static {
    /// The events one SSE message carries (often none), or the error it reports.
    fn feed(&mut self, sse: Sse) -> Result<Vec<ModelEvent>, ModelError>;

    /// The body ended without an error: the last events, or [`ModelErrorKind::Cut`] when
    /// the reply had not finished.
    fn end(&mut self) -> Result<Vec<ModelEvent>, ModelError>;

    /// The reply has finished: nothing after this is read.
    fn finished(&self) -> bool;
}

/// Sends a request built by an adapter; a refusal becomes its [`ModelError`].
pub(super) async fn send(
    request: reqwest::RequestBuilder,
    classify: fn(u16, &HeaderMap, &Value) -> ModelError,
) -> Result<reqwest::Response, ModelError> {
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = read_limited(response).await;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut err = classify(status, &headers, &json);
    if err.detail.is_empty() {
        err.detail = format!("HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    Err(err)
}

/// The request never got an answer.
pub(super) fn unreachable(err: reqwest::Error) -> ModelError {
    let detail = error_chain(&err);
    if err.is_timeout() || err.is_connect() || err.is_request() {
        ModelError::new(ModelErrorKind::Offline, detail)
    } else if err.is_redirect() {
        // A provider that moves elsewhere does not get the key there (`web::client`).
        ModelError::new(ModelErrorKind::WrongAddress, detail)
    } else {
        ModelError::new(ModelErrorKind::BadAnswer, detail)
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > ERROR_BODY_LIMIT {
            body.truncate(ERROR_BODY_LIMIT);
            break;
        }
    }
    body
}

/// Reads a JSON answer (a model list) with the same refusal handling.
async fn json(response: reqwest::Response) -> Result<Value, ModelError> {
    let body = response
        .bytes()
        .await
        .map_err(|err| ModelError::new(ModelErrorKind::Cut, error_chain(&err)))?;
    serde_json::from_slice(&body).map_err(|err| {
        ModelError::new(
            ModelErrorKind::BadAnswer,
            format!("not JSON: {err}: {}", String::from_utf8_lossy(&body)),
        )
    })
}

/// The wait a 429 asks for: `retry-after` in seconds (or an HTTP date, read as a minute),
/// or OpenAI's `retry-after-ms`.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_millis(ms.max(0.0) as u64));
    }
    let value = text("retry-after")?.trim();
    match value.parse::<f64>() {
        Ok(secs) => Some(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))),
        Err(_) => Some(Duration::from_secs(60)),
    }
}

/// The kind an HTTP status says by itself; `None` where the body must decide.
pub(super) fn kind_of_status(status: u16, headers: &HeaderMap) -> Option<ModelErrorKind> {
    Some(match status {
        401 => ModelErrorKind::KeyRejected,
        403 => ModelErrorKind::Forbidden,
        429 => ModelErrorKind::RateLimited {
            retry_after: retry_after(headers),
        },
        413 => ModelErrorKind::ContextTooLong,
        503 | 529 => ModelErrorKind::Overloaded,
        500..=599 => ModelErrorKind::ServerError,
        _ => return None,
    })
}

/// Whether a provider's own words say the input is too long (servers word it differently).
pub(super) fn says_too_long(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "too long",
        "context length",
        "context_length",
        "maximum context",
        "too many tokens",
    ]
    .iter()
    .any(|hint| message.contains(hint))
}

/// The stream of events a response body carries, through `decoder`. The body's own failure
/// (the connection dropped) is [`ModelErrorKind::Cut`]; after an error nothing follows.
pub(super) fn events(response: reqwest::Response, decoder: impl Decoder) -> EventStream {
    struct State<S, D> {
        sse: S,
        decoder: D,
        queue: VecDeque<ModelEvent>,
        ended: bool,
    }
    let state = State {
        sse: sse::events(response.bytes_stream()),
        decoder,
        queue: VecDeque::new(),
        ended: false,
    };
    let stream = futures_util::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        loop {
            if let Some(event) = state.queue.pop_front() {
                return Some((Ok(event), Some(state)));
            }
            if state.ended || state.decoder.finished() {
                return None;
            }
            let fed = match state.sse.next().await {
                Some(Ok(message)) => state.decoder.feed(message),
                Some(Err(err @ SseError::Body(_))) => {
                    Err(ModelError::new(ModelErrorKind::Cut, err.to_string()))
                }
                Some(Err(err @ SseError::TooLarge)) => {
                    Err(ModelError::new(ModelErrorKind::BadAnswer, err.to_string()))
                }
                None => {
                    state.ended = true;
                    state.decoder.end()
                }
            };
            match fed {
                Ok(events) => state.queue.extend(events),
                Err(err) => return Some((Err(err), None)),
            }
        }
    });
    Box::pin(stream)
}
