//! One live MCP session with a remote server, over Streamable HTTP (rmcp).

use std::time::Duration;

use rmcp::handler::client::progress::ProgressDispatcher;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, ElicitationCapability, FormElicitationCapability,
    GetPromptRequestParams, GetPromptResult, Implementation, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResult, UrlElicitationCapability,
};
use rmcp::service::{
    ClientInitializeError, ClientLifecycleMode, ClientServiceExt, NotificationContext,
    RunningService,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig,
};
use rmcp::{ClientHandler, RoleClient, ServiceError};
use serde_json::Value;
use switchboard_ipc::ask::Answer;
use switchboard_ipc::{
    Catalog, PromptArgumentInfo, PromptInfo, ResourceInfo, ResourceTemplateInfo, ServerInfo,
    ToolInfo,
};
use tokio::sync::watch;

use crate::ask::{self, Asker};
use crate::diagnose;
use crate::error::{ErrorCode, Result};
use crate::text;

/// How long a step may take before the person is told the server is too slow.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Connecting and the handshake.
    pub connect: Duration,
    /// Any one request after that (a list page, a read, a call).
    pub request: Duration,
    /// The first wait before a connector that could not reach its server (or lost it) tries
    /// again on its own; each next wait doubles, up to five minutes, each with jitter.
    pub retry_after: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            request: Duration::from_secs(30),
            retry_after: Duration::from_secs(2),
        }
    }
}

/// Which protocol a server speaks, remembered per connector so the next connect starts with
/// it instead of probing again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Era {
    /// 2026-07-28 and later: stateless, found with `server/discover`.
    Stateless,
    /// 2025-11-25 and before: the `initialize` handshake and a session id.
    Sessions,
    /// 2024-11-05's HTTP+SSE transport: an event stream and an address to post to.
    LegacySse,
}

impl Era {
    fn of(version: &ProtocolVersion) -> Self {
        if *version >= ProtocolVersion::V_2026_07_28 {
            Self::Stateless
        } else {
            Self::Sessions
        }
    }
}

/// An HTTP client a session can connect through, and its twin for the legacy HTTP+SSE
/// transport (a plain reqwest client carrying the same key, password or, signed in with
/// OAuth, the current access token).
pub trait McpHttpClient: StreamableHttpClient + Clone + Send + Sync + 'static {
    fn for_legacy_sse(&self) -> impl Future<Output = Option<reqwest::Client>> + Send;
}

impl McpHttpClient for reqwest::Client {
    async fn for_legacy_sse(&self) -> Option<reqwest::Client> {
        Some(self.clone())
    }
}

impl McpHttpClient for crate::oauth::AuthorizedClient {
    /// A client that sends the access token as the OAuth client would (refreshed first when
    /// it is about to expire); none without one. A token that expires while the stream is
    /// open is renewed by connecting again.
    async fn for_legacy_sse(&self) -> Option<reqwest::Client> {
        let token = self
            .auth_manager
            .lock()
            .await
            .get_access_token()
            .await
            .ok()?;
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        crate::web::client(headers).ok()
    }
}

/// Where a session's own event stream (the standalone GET a 2025-11-25 session opens right
/// after its handshake) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standalone {
    /// No session id yet: no such stream will be opened.
    NoSession,
    /// The server gave a session id: the stream is about to be opened.
    Coming,
    /// Opened, or refused: requests may go now.
    Tried,
}

/// A Streamable HTTP client watched for one thing: whether the session's own event stream
/// has been tried. rmcp opens it in a task of its own after the handshake, so a first
/// request could overtake it, and a server that sends a request of its own on that stream
/// (a question, during the call that caused it) would find nowhere to send it: the call
/// would wait for ever. [`Session::started`] waits for it, briefly.
///
/// It also keeps why the last POST failed: when one fails after the `initialize` answer (the
/// `initialized` notification), rmcp's worker quits and the handshake only learns that its
/// channel closed; [`Failed::cause`] says what the wire said.
#[derive(Clone)]
struct Watched<C> {
    inner: C,
    standalone: std::sync::Arc<watch::Sender<Standalone>>,
    failed: Failed,
}

/// Why a transport's last POST failed, in words ([`diagnose::post_failed`]).
#[derive(Clone, Default)]
struct Failed(std::sync::Arc<std::sync::Mutex<Option<crate::error::Error>>>);

impl Failed {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<crate::error::Error>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What to tell of a failed handshake: the failed POST's cause when rmcp only knows
    /// that its worker quit, else what the handshake's own error says.
    fn cause(&self, err: &ClientInitializeError) -> crate::error::Error {
        match self.slot().take() {
            Some(cause) if diagnose::worker_quit(err) => cause,
            _ => diagnose::handshake(err),
        }
    }
}

impl<C> Watched<C> {
    /// A POST's answer, passed on; one that gives a session id means the stream is coming.
    fn saw<E: std::error::Error + Send + Sync + 'static>(
        &self,
        response: PostResult<E>,
    ) -> PostResult<E> {
        use rmcp::transport::streamable_http_client::StreamableHttpPostResponse as Response;
        let has_session = matches!(
            &response,
            Ok(Response::Json(_, Some(_)) | Response::Sse(_, Some(_)))
        );
        if let Err(err) = &response {
            *self.failed.slot() = Some(diagnose::post_failed(err));
        }
        if has_session {
            self.standalone.send_if_modified(|s| {
                let first = *s == Standalone::NoSession;
                if first {
                    *s = Standalone::Coming;
                }
                first
            });
        }
        response
    }

    /// The stream's first try, passed on, whatever came of it.
    fn tried<E: std::error::Error + Send + Sync + 'static>(
        &self,
        stream: StreamResult<E>,
    ) -> StreamResult<E> {
        self.standalone.send_replace(Standalone::Tried);
        stream
    }
}

type Headers = std::collections::HashMap<reqwest::header::HeaderName, reqwest::header::HeaderValue>;
type PostResult<E> = Result<
    rmcp::transport::streamable_http_client::StreamableHttpPostResponse,
    rmcp::transport::streamable_http_client::StreamableHttpError<E>,
>;
type StreamResult<E> = Result<
    futures_util::stream::BoxStream<
        'static,
        Result<sse_stream::Sse, rmcp::transport::streamable_http_client::SseError>,
    >,
    rmcp::transport::streamable_http_client::StreamableHttpError<E>,
>;

impl<C: StreamableHttpClient + Sync> StreamableHttpClient for Watched<C> {
    type Error = C::Error;

    async fn post_message(
        &self,
        uri: std::sync::Arc<str>,
        message: rmcp::model::ClientJsonRpcMessage,
        session_id: Option<std::sync::Arc<str>>,
        auth_header: Option<String>,
        custom_headers: Headers,
    ) -> PostResult<Self::Error> {
        self.saw(
            self.inner
                .post_message(uri, message, session_id, auth_header, custom_headers)
                .await,
        )
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: std::sync::Arc<str>,
        message: rmcp::model::ClientJsonRpcMessage,
        session_id: Option<std::sync::Arc<str>>,
        auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> PostResult<Self::Error> {
        self.saw(
            self.inner
                .post_message_with_max_sse_event_size(
                    uri,
                    message,
                    session_id,
                    auth_header,
                    custom_headers,
                    max_sse_event_size,
                )
                .await,
        )
    }

    async fn post_message_with_response_limits(
        &self,
        uri: std::sync::Arc<str>,
        message: rmcp::model::ClientJsonRpcMessage,
        session_id: Option<std::sync::Arc<str>>,
        auth_header: Option<String>,
        custom_headers: Headers,
        limits: rmcp::transport::streamable_http_client::StreamableHttpResponseLimits,
    ) -> PostResult<Self::Error> {
        self.saw(
            self.inner
                .post_message_with_response_limits(
                    uri,
                    message,
                    session_id,
                    auth_header,
                    custom_headers,
                    limits,
                )
                .await,
        )
    }

    async fn delete_session(
        &self,
        uri: std::sync::Arc<str>,
        session_id: std::sync::Arc<str>,
        auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Result<(), rmcp::transport::streamable_http_client::StreamableHttpError<Self::Error>> {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: std::sync::Arc<str>,
        session_id: Option<std::sync::Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: Headers,
    ) -> StreamResult<Self::Error> {
        self.tried(
            self.inner
                .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
                .await,
        )
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: std::sync::Arc<str>,
        session_id: Option<std::sync::Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> StreamResult<Self::Error> {
        self.tried(
            self.inner
                .get_stream_with_max_sse_event_size(
                    uri,
                    session_id,
                    last_event_id,
                    auth_header,
                    custom_headers,
                    max_sse_event_size,
                )
                .await,
        )
    }
}

/// How long a session waits for its own event stream to be tried before its first request.
const STANDALONE_PATIENCE: Duration = Duration::from_secs(3);

/// How long a first `server/discover` probe may go unanswered before the server is taken for
/// one of the session era. rmcp's own automatic mode waits 10 s; a server that swallows the
/// probe would cost that on every connect. Only a server not yet remembered is probed.
pub const DISCOVER_PATIENCE: Duration = Duration::from_secs(4);

/// A title or a name that is only shown: one line of at most this many characters.
const MAX_SHOWN_NAME: usize = 200;
/// A description: this many characters at most (it goes to the model with every turn too).
const MAX_DESCRIPTION: usize = 8_000;
/// An identifier (a tool's name, a resource's address) longer than this is nothing a
/// person or a model could use: the entry is left out.
const MAX_IDENTIFIER: usize = 2_048;

fn shown_title(title: Option<String>) -> Option<String> {
    title
        .map(|t| text::one_line(&t, MAX_SHOWN_NAME))
        .filter(|t| !t.is_empty())
}

fn shown_description(description: Option<String>) -> Option<String> {
    description
        .map(|d| text::paragraphs(&d, MAX_DESCRIPTION))
        .filter(|d| !d.is_empty())
}

/// Whether an identifier the server sent can be used; one that cannot is logged and left out.
fn usable(what: &'static str, identifier: &str) -> bool {
    let fits = identifier.len() <= MAX_IDENTIFIER;
    if !fits {
        tracing::warn!(
            what,
            bytes = identifier.len(),
            "left out an entry whose identifier is too long to use"
        );
    }
    fits
}

/// How many rounds of questions one 2026-07-28 call may ask before Switchboard gives up.
const MAX_INPUT_ROUNDS: usize = 10;

pub struct Session {
    service: RunningService<RoleClient, Handler>,
    era: Era,
    server: ServerInfo,
    timeouts: Timeouts,
    /// The `WWW-Authenticate` challenge of the last request the server refused with 401/403.
    challenge: std::sync::Mutex<Option<String>>,
    changes: watch::Receiver<u64>,
    /// The 2026-07-28 `subscriptions/listen` stream: what it asks for, and its reader.
    listening: tokio::sync::Mutex<Listening>,
    /// Where the session's own event stream stands: a call waits for it to be tried.
    standalone: Option<watch::Receiver<Standalone>>,
}

/// What the client does with what the server sends unasked: it counts list changes, and
/// puts the server's questions to the person when the connector allows it.
struct Handler {
    config: ClientConfig,
    changes: watch::Sender<u64>,
    /// Progress of requests in flight, to whoever waits on their token.
    progress: ProgressDispatcher,
    /// Who answers the server's questions; none when the connector does not allow them
    /// (and then none are declared).
    asker: Option<Asker>,
    /// Whether forms and pages may be asked for (elicitation).
    elicitation: bool,
    /// Who has the person's model answer the server (sampling), for which connector.
    sampling: Option<Sampling>,
    /// How many questions are before the person now: a request's time bound waits for them.
    asking: watch::Sender<usize>,
    /// The latest messages the server logged, bounded.
    messages: std::sync::Mutex<MessageLog>,
    /// Resources the server says changed (`notifications/resources/updated`), by URI.
    updated: tokio::sync::broadcast::Sender<String>,
}

/// The last [`MAX_MESSAGES`] messages a server logged; older ones are counted, not kept.
#[derive(Default)]
struct MessageLog {
    kept: std::collections::VecDeque<switchboard_ipc::ServerMessage>,
    dropped: u64,
}

/// How many of a server's log messages are kept, and how long each may be.
const MAX_MESSAGES: usize = 500;
const MAX_MESSAGE_TEXT: usize = 2_000;

impl Handler {
    fn changed(&self, what: &'static str) {
        tracing::debug!(what, "the server's list changed");
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A server's question (an `elicitation/create` request, or one round of a 2026-07-28
    /// call's `input_required`), put to the person when allowed, declined otherwise.
    async fn elicit(&self, request: ElicitRequestParams) -> Result<ElicitResult, rmcp::ErrorData> {
        let Some(asker) = self.asker.as_ref().filter(|_| self.elicitation) else {
            tracing::info!("a server asked for input, which its connector does not allow");
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        let asked = ask::question_of(&request).map_err(|err| {
            tracing::info!(detail = ?err.detail, "a server's question could not be shown");
            rmcp::ErrorData::invalid_params(err.message, None)
        })?;
        Ok(match self.put(asker, asked).await {
            Answer::Accept { content } => {
                ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content))
            }
            Answer::Decline => ElicitResult::new(ElicitationAction::Decline),
            Answer::Cancel => ElicitResult::new(ElicitationAction::Cancel),
        })
    }
}

/// What the person lets a connector's server ask of them, and who answers: declared to the
/// server at the handshake, so a change needs a new connection.
#[derive(Clone, Default)]
pub struct Powers {
    /// Puts a question to the person (both kinds below go through it).
    pub asker: Option<Asker>,
    /// Forms and pages (elicitation).
    pub elicitation: bool,
    /// Requests for the person's model (sampling).
    pub sampling: Option<Sampling>,
}

/// Who answers a connector's requests for the model.
#[derive(Clone)]
pub struct Sampling {
    pub sampler: std::sync::Arc<dyn ask::Sampler>,
    pub connector: switchboard_ipc::ConnectorId,
    pub connector_name: String,
}

impl Powers {
    fn elicits(&self) -> bool {
        self.elicitation && self.asker.is_some()
    }

    fn samples(&self) -> bool {
        self.sampling.is_some() && self.asker.is_some()
    }
}

impl Handler {
    /// A server's request for the person's model (`sampling/createMessage`): within the
    /// connector's limits, shown to the person, sent to their default model only on their
    /// word. A refusal is the spec's "user rejected" error (-1).
    #[allow(deprecated)]
    async fn sample(
        &self,
        request: rmcp::model::CreateMessageRequestParams,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        let (Some(asker), Some(sampling)) = (&self.asker, &self.sampling) else {
            tracing::info!("a server asked for the model, which its connector does not allow");
            return Err(rmcp::ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                "This client does not take requests for the model from this server.",
                None,
            ));
        };
        let refused =
            |message: String| rmcp::ErrorData::new(rmcp::model::ErrorCode(-1), message, None);
        let Some(model) = sampling.sampler.model(&sampling.connector) else {
            return Err(refused(
                "The person has no model set up to answer.".to_owned(),
            ));
        };
        sampling
            .sampler
            .allowed(&sampling.connector)
            .map_err(|err| refused(err.message))?;
        let checked = ask::sampling_of(&request).map_err(|err| {
            tracing::info!(detail = ?err.detail, "a server's request for the model could not be shown");
            rmcp::ErrorData::invalid_params(err.message, None)
        })?;
        let asked = ask::Asked {
            message: String::new(),
            kind: switchboard_ipc::ask::QuestionKind::Sampling {
                model,
                system: checked.system.clone(),
                messages: checked.messages.clone(),
                max_tokens: checked.max_tokens,
            },
        };
        let answer = self.put(asker, asked).await;
        if !matches!(answer, Answer::Accept { .. }) {
            return Err(refused("The person declined the request.".to_owned()));
        }
        let reply = sampling
            .sampler
            .sample(&sampling.connector, &sampling.connector_name, checked)
            .await
            .map_err(|err| rmcp::ErrorData::internal_error(err.message, None))?;
        let mut result = rmcp::model::CreateMessageResult::new(
            rmcp::model::SamplingMessage::assistant_text(reply.text),
            reply.model,
        );
        result.stop_reason = Some("endTurn".to_owned());
        Ok(result)
    }
}

impl Handler {
    /// Puts a question to the person; while it is before them, a request's time bound
    /// waits ([`Session::patiently`]).
    async fn put(&self, asker: &Asker, asked: ask::Asked) -> Answer {
        self.asking.send_modify(|n| *n += 1);
        let _answered = Answered(&self.asking);
        asker(asked).await
    }
}

/// One question fewer before the person, however the wait for its answer ended.
struct Answered<'a>(&'a watch::Sender<usize>);

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        self.config.clone()
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.changed("resources");
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.changed("prompts");
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.changed("tools");
    }

    #[allow(deprecated)]
    async fn create_message(
        &self,
        request: rmcp::model::CreateMessageRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        self.sample(request).await
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        self.elicit(request).await
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        // Nobody listening (no chip holds it) is no error.
        let _ = self.updated.send(params.uri);
    }

    // Logging leaves the protocol in 2026-07-28 (SEP-2577), but servers of the 2025-11-25
    // era log, and their messages help whoever helps the person.
    #[allow(deprecated)]
    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        let text = match &params.data {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let message = switchboard_ipc::ServerMessage {
            level: serde_json::to_value(params.level)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            logger: params
                .logger
                .map(|l| text::one_line(&l, MAX_SHOWN_NAME))
                .filter(|l| !l.is_empty()),
            text: text::paragraphs(&text, MAX_MESSAGE_TEXT),
            at: chrono::Local::now().format("%H:%M:%S").to_string(),
        };
        let mut log = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if log.kept.len() == MAX_MESSAGES {
            log.kept.pop_front();
            log.dropped += 1;
        }
        log.kept.push_back(message);
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        // A token nobody waits for (made up, or of a request that has ended) is dropped.
        self.progress.handle_notification(params).await;
    }
}

/// How far a long request has come, as the server says (`notifications/progress`).
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub progress: f64,
    pub total: Option<f64>,
    /// The server's words, untrusted: shown as text.
    pub message: Option<String>,
}

/// Sends `notifications/cancelled` for a request whose caller stopped waiting (the person's
/// Stop, the call timeout), unless it is disarmed once the answer came.
struct CancelOnDrop {
    peer: rmcp::service::Peer<RoleClient>,
    id: Option<rmcp::model::RequestId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let peer = self.peer.clone();
        runtime.spawn(async move {
            let notification = rmcp::model::CancelledNotification::new(
                rmcp::model::CancelledNotificationParam::new(
                    Some(id),
                    Some("stopped by the person or timed out".to_owned()),
                ),
            );
            if let Err(err) = peer.send_notification(notification.into()).await {
                tracing::debug!(%err, "could not tell the server a request was cancelled");
            }
        });
    }
}

/// The `subscriptions/listen` stream of a 2026-07-28 session: the filter it was opened
/// with and the task reading it, closed with the session (or when a wider one replaces it).
#[derive(Default)]
struct Listening {
    filter: Option<rmcp::model::SubscriptionFilter>,
    task: Option<tokio::task::AbortHandle>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Counts each list change a 2026-07-28 server sends on its `subscriptions/listen` stream
/// into `changes`, and passes on the resources it says changed to `updated`. A stream that
/// ends is opened again (the server keeps nothing for a dropped stream, so the lists are
/// read again too); a server that then refuses is left alone.
async fn listen(
    peer: rmcp::service::Peer<RoleClient>,
    filter: rmcp::model::SubscriptionFilter,
    mut subscription: rmcp::service::Subscription,
    changes: watch::Sender<u64>,
    updated: tokio::sync::broadcast::Sender<String>,
) {
    let mut pause = Duration::from_secs(1);
    loop {
        loop {
            match subscription.next().await {
                Ok(Some(
                    rmcp::model::ServerNotification::ResourceListChangedNotification(_)
                    | rmcp::model::ServerNotification::PromptListChangedNotification(_)
                    | rmcp::model::ServerNotification::ToolListChangedNotification(_),
                )) => {
                    tracing::debug!("the server's list changed");
                    pause = Duration::from_secs(1);
                    changes.send_modify(|n| *n = n.wrapping_add(1));
                }
                Ok(Some(rmcp::model::ServerNotification::ResourceUpdatedNotification(n))) => {
                    // Nobody listening (no chip holds it) is no error.
                    let _ = updated.send(n.params.uri);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        subscription = loop {
            if peer.is_transport_closed() {
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(60));
            match peer.listen(filter.clone()).await {
                Ok(subscription) => break subscription,
                Err(ServiceError::McpError(err)) => {
                    tracing::info!(code = err.code.0, "the server stopped sending list changes");
                    return;
                }
                Err(err) => {
                    tracing::debug!(%err, "could not listen for list changes; trying again")
                }
            }
        };
        // Whatever changed while no stream was open is only found by listing again.
        changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A handshake that failed because the server speaks another protocol era, rather than
/// because it is unreachable or refused: a JSON-RPC error other than the stateless era's own
/// refusals (an older server's "method not found"), or a result of the wrong kind.
fn wrong_era(err: &ClientInitializeError) -> bool {
    match err {
        ClientInitializeError::JsonRpcError(error) => !matches!(
            error.code,
            rmcp::model::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
                | rmcp::model::ErrorCode::HEADER_MISMATCH
        ),
        ClientInitializeError::ExpectedInitResult(_)
        | ClientInitializeError::ExpectedInitResponse(_)
        | ClientInitializeError::NoCompatibleProtocolVersion { .. } => true,
        _ => false,
    }
}

/// Why connecting failed, with the server's `WWW-Authenticate` challenge when it asked for
/// sign-in (401) or more access (403): what sign-in starts from.
#[derive(Debug)]
pub struct ConnectError {
    pub error: crate::Error,
    pub challenge: Option<String>,
}

impl From<ConnectError> for crate::Error {
    fn from(err: ConnectError) -> Self {
        err.error
    }
}

/// What Switchboard declares it can do: elicitation (forms and pages) and sampling only
/// when the connector allows them and someone answers.
#[allow(deprecated)]
fn client_config(powers: &Powers) -> ClientConfig {
    let mut capabilities = ClientCapabilities::default();
    if powers.samples() {
        capabilities.sampling = Some(rmcp::model::SamplingCapability::default());
    }
    if powers.elicits() {
        capabilities.elicitation = Some(
            ElicitationCapability::new()
                .with_form(FormElicitationCapability::new().with_schema_validation(true))
                .with_url(UrlElicitationCapability::new()),
        );
    }
    ClientConfig::new(
        capabilities,
        Implementation::new("Switchboard", env!("CARGO_PKG_VERSION")),
    )
}

/// The client for one handshake: `initialize` offers the session era's newest version
/// (the stateless era's is negotiated by `server/discover` instead).
fn handler(
    changes: &watch::Sender<u64>,
    lifecycle: &ClientLifecycleMode,
    powers: &Powers,
) -> Handler {
    let config = client_config(powers);
    let config = match lifecycle {
        ClientLifecycleMode::Initialize => {
            config.with_protocol_version(ProtocolVersion::V_2025_11_25)
        }
        _ => config,
    };
    Handler {
        config,
        changes: changes.clone(),
        progress: ProgressDispatcher::new(),
        asker: powers.asker.clone(),
        elicitation: powers.elicits(),
        sampling: powers.sampling.clone().filter(|_| powers.samples()),
        asking: watch::Sender::new(0),
        messages: std::sync::Mutex::default(),
        updated: tokio::sync::broadcast::Sender::new(64),
    }
}

/// What to ask a 2026-07-28 server to send on a `subscriptions/listen` stream: the lists it
/// says change. Earlier servers send list changes unasked, to the [`Handler`].
fn listen_filter(
    service: &RunningService<RoleClient, Handler>,
) -> Option<rmcp::model::SubscriptionFilter> {
    let info = service.peer_info()?;
    if info.protocol_version < ProtocolVersion::V_2026_07_28 {
        return None;
    }
    let capabilities = &info.capabilities;
    let mut filter = rmcp::model::SubscriptionFilter::builder();
    let mut any = false;
    if capabilities
        .tools
        .as_ref()
        .is_some_and(|t| t.list_changed == Some(true))
    {
        filter = filter.tools_list_changed();
        any = true;
    }
    if capabilities
        .resources
        .as_ref()
        .is_some_and(|r| r.list_changed == Some(true))
    {
        filter = filter.resources_list_changed();
        any = true;
    }
    if capabilities
        .prompts
        .as_ref()
        .is_some_and(|p| p.list_changed == Some(true))
    {
        filter = filter.prompts_list_changed();
        any = true;
    }
    any.then(|| filter.build())
}

/// Opens a `subscriptions/listen` stream with `filter` and starts reading it; the reader
/// task's handle, or why the server would not (in time).
async fn open_listen(
    service: &RunningService<RoleClient, Handler>,
    filter: rmcp::model::SubscriptionFilter,
    within: Duration,
) -> Result<tokio::task::AbortHandle> {
    let peer = service.peer().clone();
    let subscription = tokio::time::timeout(within, peer.listen(filter.clone()))
        .await
        .map_err(|_| diagnose::timed_out(within))?
        .map_err(|err| crate::Error::internal(err.to_string()))?;
    let handler = service.service();
    let task = tokio::spawn(listen(
        peer,
        filter,
        subscription,
        handler.changes.clone(),
        handler.updated.clone(),
    ));
    Ok(task.abort_handle())
}

impl Session {
    /// Connects and completes the handshake: the stateless 2026-07-28 protocol when the
    /// server speaks it, the 2025-11-25 initialize handshake otherwise.
    pub async fn connect(url: &str, timeouts: Timeouts) -> Result<Self> {
        let client = crate::web::client(Default::default())?;
        Ok(Self::connect_with(url, timeouts, client, None).await?)
    }

    /// Connects through `client` (a signed-in one, say), starting with the protocol `era`
    /// the server spoke last time when it is known; a refusal keeps its challenge.
    pub async fn connect_with<C>(
        url: &str,
        timeouts: Timeouts,
        client: C,
        era: Option<Era>,
    ) -> Result<Self, ConnectError>
    where
        C: McpHttpClient,
    {
        Self::connect_asking(url, timeouts, client, era, Powers::default()).await
    }

    /// [`Self::connect_with`], declaring what the server may ask of the person (`powers`).
    pub async fn connect_asking<C>(
        url: &str,
        timeouts: Timeouts,
        client: C,
        era: Option<Era>,
        powers: Powers,
    ) -> Result<Self, ConnectError>
    where
        C: McpHttpClient,
    {
        let legacy = || client.for_legacy_sse();
        let standalone = std::sync::Arc::new(watch::Sender::new(Standalone::NoSession));
        let failed = Failed::default();
        let transport = || {
            // Each handshake on a transport of its own; what counts is the last one's.
            standalone.send_replace(Standalone::NoSession);
            failed.slot().take();
            StreamableHttpClientTransport::with_client(
                Watched {
                    inner: client.clone(),
                    standalone: standalone.clone(),
                    failed: failed.clone(),
                },
                StreamableHttpClientTransportConfig::with_uri(url),
            )
        };
        let (changed, changes) = watch::channel(0u64);
        let handshake = async {
            // Remembered as a legacy server: its event stream first.
            if era == Some(Era::LegacySse)
                && let Some(plain) = legacy().await
            {
                match Self::legacy_handshake(plain, url, &changed, &powers).await {
                    Ok(started) => return Ok((started, Era::LegacySse)),
                    Err(err) => tracing::info!(
                        code = ?err.code,
                        "the server no longer speaks the legacy transport; probing"
                    ),
                }
            }
            let streamable_era = era.filter(|e| *e != Era::LegacySse);
            match Self::handshake(transport, streamable_era, &changed, &powers).await {
                Ok(started) => {
                    let era = started
                        .peer_info()
                        .map_or(Era::Sessions, |info| Era::of(&info.protocol_version));
                    Ok((started, era))
                }
                Err(err) => {
                    let error = failed.cause(&err);
                    let challenge = err.auth_challenge().map(str::to_owned);
                    // The spec's backwards compatibility: a POST refused (404, 405, an answer
                    // that is not MCP) may be a server of the HTTP+SSE era. If it is not, the
                    // first answer stands.
                    if matches!(
                        error.code,
                        ErrorCode::NotFound | ErrorCode::NotMcpServer | ErrorCode::Protocol
                    ) && era != Some(Era::LegacySse)
                        && let Some(plain) = legacy().await
                        && let Ok(started) =
                            Self::legacy_handshake(plain, url, &changed, &powers).await
                    {
                        return Ok((started, Era::LegacySse));
                    }
                    Err(ConnectError { error, challenge })
                }
            }
        };
        let (started, era) = tokio::time::timeout(timeouts.connect, handshake)
            .await
            .map_err(|_| ConnectError {
                error: diagnose::timed_out(timeouts.connect),
                challenge: None,
            })??;
        let mut session = Self::started(started, era, timeouts, changes).await?;
        session.standalone = Some(standalone.subscribe());
        Ok(session)
    }

    /// The `initialize` handshake over the legacy HTTP+SSE transport.
    async fn legacy_handshake(
        client: reqwest::Client,
        url: &str,
        changed: &watch::Sender<u64>,
        powers: &Powers,
    ) -> Result<RunningService<RoleClient, Handler>> {
        let transport = crate::legacy_sse::connect(client, url).await?;
        let lifecycle = ClientLifecycleMode::Initialize;
        handler(changed, &lifecycle, powers)
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .map_err(|err| diagnose::handshake(&err))
    }

    /// The Streamable HTTP handshake. A remembered era is tried first, alone; a
    /// server not remembered, or no longer speaking its era, is probed with
    /// `server/discover` (within [`DISCOVER_PATIENCE`]) and, when it answers as a server of
    /// the session era, or with something else entirely (an empty result, seen in the wild),
    /// or not at all, gets the `initialize` handshake on a fresh transport.
    async fn handshake<C>(
        transport: impl Fn() -> StreamableHttpClientTransport<C>,
        era: Option<Era>,
        changed: &watch::Sender<u64>,
        powers: &Powers,
    ) -> Result<RunningService<RoleClient, Handler>, ClientInitializeError>
    where
        C: StreamableHttpClient + Send + Sync + 'static,
    {
        let discover = || ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        let shake = |lifecycle: ClientLifecycleMode| {
            handler(changed, &lifecycle, powers).serve_with_lifecycle(transport(), lifecycle)
        };
        let remembered = match era {
            Some(Era::Sessions) => Some(shake(ClientLifecycleMode::Initialize).await),
            Some(Era::Stateless) => Some(shake(discover()).await),
            Some(Era::LegacySse) | None => None,
        };
        match remembered {
            Some(Err(err)) if wrong_era(&err) => {
                tracing::info!(
                    ?era,
                    "the server no longer speaks its remembered protocol; probing"
                );
            }
            Some(done) => return done,
            None => {}
        }
        match tokio::time::timeout(DISCOVER_PATIENCE, shake(discover())).await {
            Ok(Err(err)) if !wrong_era(&err) => Err(err),
            Ok(Ok(started)) => Ok(started),
            Ok(Err(_)) | Err(_) => shake(ClientLifecycleMode::Initialize).await,
        }
    }

    /// A session whose handshake is done: what the server said of itself, and list changes
    /// followed from here on.
    async fn started(
        started: RunningService<RoleClient, Handler>,
        era: Era,
        timeouts: Timeouts,
        changes: watch::Receiver<u64>,
    ) -> Result<Self, ConnectError> {
        let peer = started.peer_info();
        let server = match peer.as_deref() {
            Some(peer) => {
                let implementation = peer.server_info.clone();
                let instructions = shown_description(peer.instructions.clone());
                ServerInfo {
                    name: implementation
                        .as_ref()
                        .map(|i| i.name.clone())
                        .unwrap_or_default(),
                    title: shown_title(implementation.as_ref().and_then(|i| i.title.clone())),
                    version: implementation
                        .as_ref()
                        .map(|i| i.version.clone())
                        .unwrap_or_default(),
                    instructions_markdown: instructions
                        .as_deref()
                        .map(crate::markdown::parse)
                        .unwrap_or_default(),
                    instructions,
                    protocol_version: peer.protocol_version.to_string(),
                }
            }
            None => ServerInfo {
                name: String::new(),
                title: None,
                version: String::new(),
                instructions: None,
                instructions_markdown: Vec::new(),
                protocol_version: String::new(),
            },
        };
        // Subscribed before anything is listed, so no change falls between the two. A server
        // that does not answer within the request bound, or refuses, sends no changes.
        let mut listening = Listening::default();
        if let Some(filter) = listen_filter(&started) {
            match open_listen(&started, filter.clone(), timeouts.request).await {
                Ok(task) => {
                    listening = Listening {
                        filter: Some(filter),
                        task: Some(task),
                    };
                }
                Err(err) => tracing::info!(%err, "the server does not send list changes"),
            }
        }
        Ok(Self {
            service: started,
            era,
            server,
            timeouts,
            challenge: std::sync::Mutex::new(None),
            changes,
            listening: tokio::sync::Mutex::new(listening),
            standalone: None,
        })
    }

    /// The connection is gone for good (the transport ended: a legacy event stream that
    /// closed, a server that hung up): a new session is needed.
    pub fn is_closed(&self) -> bool {
        self.service.peer().is_transport_closed()
    }

    /// Asks the server to say when the resource at `uri` changes, if it can (it declares
    /// resource subscriptions): `resources/subscribe` with a server of 2025-11-25 or before;
    /// with a 2026-07-28 server, its `subscriptions/listen` stream opened again with the
    /// resource added (the stream's filter is fixed when it opens; the new one is open before
    /// the old one closes). The news arrives on [`Session::resource_updates`].
    #[allow(deprecated)]
    pub async fn subscribe(&self, uri: &str) -> Result<()> {
        let Some(info) = self.service.peer_info() else {
            return Ok(());
        };
        let subscribes = info
            .capabilities
            .resources
            .as_ref()
            .and_then(|r| r.subscribe)
            .unwrap_or(false);
        if !subscribes {
            return Ok(());
        }
        if info.protocol_version < ProtocolVersion::V_2026_07_28 {
            return self
                .bounded(
                    "follow the resource",
                    self.service
                        .subscribe(rmcp::model::SubscribeRequestParams::new(uri.to_owned())),
                )
                .await;
        }
        let mut listening = self.listening.lock().await;
        let mut filter = listening.filter.clone().unwrap_or_default();
        let uris = filter.resource_subscriptions.get_or_insert_with(Vec::new);
        if uris.iter().any(|u| u == uri) {
            return Ok(());
        }
        uris.push(uri.to_owned());
        let task = open_listen(&self.service, filter.clone(), self.timeouts.request).await?;
        // The replaced stream closes (its reader is aborted) now the new one is open.
        *listening = Listening {
            filter: Some(filter),
            task: Some(task),
        };
        Ok(())
    }

    /// The URIs of resources the server says changed, as it says so.
    pub fn resource_updates(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.service.service().updated.subscribe()
    }

    /// The latest messages the server logged, oldest first.
    pub fn messages(&self) -> switchboard_ipc::ServerMessages {
        let log = self
            .service
            .service()
            .messages
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        switchboard_ipc::ServerMessages {
            messages: log.kept.iter().cloned().collect(),
            dropped: log.dropped,
        }
    }

    /// The protocol era this session speaks: what to remember for the next connect.
    pub fn era(&self) -> Era {
        self.era
    }

    /// A counter that goes up each time the server says its tools, resources or prompts
    /// changed: wait on it (`changed()`) and list again.
    pub fn list_changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    pub fn server(&self) -> &ServerInfo {
        &self.server
    }

    async fn bounded<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T> {
        self.bounded_by(self.timeouts.request, what, call).await
    }

    /// A request that may take at most `within`; a refusal keeps its challenge.
    async fn bounded_by<T>(
        &self,
        within: Duration,
        what: &'static str,
        call: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T> {
        self.patiently(within, call)
            .await
            .ok_or_else(|| diagnose::timed_out(within))?
            .map_err(|err| {
                if let Some(challenge) = err.auth_challenge() {
                    *self.challenge.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(challenge.to_owned());
                }
                diagnose::request(what, &err)
            })
    }

    /// Waits at most `within` for `work`, not counting the time the person spends on a
    /// question the server asked meanwhile: that is the person's time, not the server's.
    async fn patiently<T>(&self, within: Duration, work: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(work);
        let mut asking = self.service.service().asking.subscribe();
        loop {
            match tokio::time::timeout(within, &mut work).await {
                Ok(done) => return Some(done),
                Err(_) if *asking.borrow_and_update() == 0 => return None,
                Err(_) => {
                    tokio::select! {
                        done = &mut work => return Some(done),
                        _ = asking.wait_for(|n| *n == 0) => {}
                    }
                }
            }
        }
    }

    /// Waits (briefly, once) for the session's own event stream to be tried: a call may make
    /// the server ask something of its own there, and must not overtake the stream. Lists
    /// need not wait.
    async fn stream_tried(&self) {
        let Some(mut standalone) = self.standalone.clone() else {
            return;
        };
        if tokio::time::timeout(
            STANDALONE_PATIENCE,
            standalone.wait_for(|s| *s != Standalone::Coming),
        )
        .await
        .is_err()
        {
            tracing::info!("the session's event stream was not opened in time; going on");
        }
    }

    /// The challenge of the last request refused for sign-in or access, taken once.
    pub fn take_challenge(&self) -> Option<String> {
        self.challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Lists everything the server offers, following every page to the end. Kinds the
    /// server does not declare are empty rather than asked for. What is only shown (titles,
    /// descriptions, a resource's name) is cut to a readable length and cleaned of hidden
    /// characters; an entry whose identifier is absurdly long is left out, as nobody could
    /// use it.
    pub async fn catalog(&self) -> Result<Catalog> {
        let capabilities = self
            .service
            .peer_info()
            .map(|info| info.capabilities.clone())
            .unwrap_or_default();
        // The four lists are independent: asked for at once, they cost one round trip.
        let (tools, resources, templates, prompts) = tokio::try_join!(
            self.listed(
                capabilities.tools.is_some(),
                "list the tools",
                self.service.list_all_tools()
            ),
            self.listed(
                capabilities.resources.is_some(),
                "list the resources",
                self.service.list_all_resources()
            ),
            self.listed(
                capabilities.resources.is_some(),
                "list the resource templates",
                self.service.list_all_resource_templates()
            ),
            self.listed(
                capabilities.prompts.is_some(),
                "list the prompts",
                self.service.list_all_prompts()
            ),
        )?;
        let tools = tools
            .into_iter()
            .filter(|tool| usable("tool", &tool.name))
            .map(|tool| ToolInfo {
                read_only_hint: tool.annotations.as_ref().and_then(|a| a.read_only_hint),
                title: shown_title(
                    tool.title
                        .clone()
                        .or_else(|| tool.annotations.as_ref().and_then(|a| a.title.clone())),
                ),
                description: shown_description(tool.description.map(|d| d.into_owned())),
                input_schema: serde_json::Value::Object((*tool.input_schema).clone()),
                output_schema: tool
                    .output_schema
                    .as_ref()
                    .map(|schema| serde_json::Value::Object((**schema).clone())),
                annotations: tool
                    .annotations
                    .as_ref()
                    .and_then(|a| serde_json::to_value(a).ok()),
                name: tool.name.into_owned(),
            })
            .collect();
        let resources = resources
            .into_iter()
            .filter(|r| usable("resource", &r.uri))
            .map(|r| ResourceInfo {
                uri: r.uri.clone(),
                name: text::one_line(&r.name, MAX_SHOWN_NAME),
                title: shown_title(r.title.clone()),
                description: shown_description(r.description.clone()),
                mime_type: r
                    .mime_type
                    .clone()
                    .map(|m| text::one_line(&m, MAX_SHOWN_NAME)),
                size: r.size,
            })
            .collect();
        let resource_templates = templates
            .into_iter()
            .filter(|t| usable("resource template", &t.uri_template))
            .map(|t| {
                let (variables, problem) = match crate::uri_template::variables(&t.uri_template) {
                    Ok(variables) => (variables, None),
                    Err(why) => (Vec::new(), Some(text::one_line(&why, MAX_SHOWN_NAME))),
                };
                ResourceTemplateInfo {
                    uri_template: t.uri_template.clone(),
                    variables,
                    problem,
                    name: text::one_line(&t.name, MAX_SHOWN_NAME),
                    title: shown_title(t.title.clone()),
                    description: shown_description(t.description.clone()),
                    mime_type: t
                        .mime_type
                        .clone()
                        .map(|m| text::one_line(&m, MAX_SHOWN_NAME)),
                }
            })
            .collect();
        let prompts = prompts
            .into_iter()
            .filter(|p| {
                usable("prompt", &p.name)
                    && p.arguments
                        .iter()
                        .flatten()
                        .all(|a| usable("prompt argument", &a.name))
            })
            .map(|p| PromptInfo {
                name: p.name,
                title: shown_title(p.title),
                description: shown_description(p.description),
                arguments: p
                    .arguments
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| PromptArgumentInfo {
                        name: a.name,
                        description: shown_description(a.description),
                        required: a.required.unwrap_or(false),
                    })
                    .collect(),
            })
            .collect();
        Ok(Catalog {
            tools,
            resources,
            resource_templates,
            prompts,
        })
    }

    /// A whole list, when the server says it has one (else none, unasked).
    async fn listed<T>(
        &self,
        offered: bool,
        what: &'static str,
        list: impl Future<Output = Result<Vec<T>, ServiceError>>,
    ) -> Result<Vec<T>> {
        if offered {
            self.bounded(what, list).await
        } else {
            Ok(Vec::new())
        }
    }

    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult> {
        self.stream_tried().await;
        self.bounded(
            "read the resource",
            self.service
                .read_resource(ReadResourceRequestParams::new(uri.to_owned())),
        )
        .await
    }

    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<GetPromptResult> {
        self.stream_tried().await;
        self.bounded(
            "get the prompt",
            self.service
                .get_prompt(GetPromptRequestParams::new(name.to_owned()).with_arguments(arguments)),
        )
        .await
    }

    pub async fn call_tool(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<CallToolResult> {
        self.stream_tried().await;
        self.bounded(
            "call the tool",
            self.service
                .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(arguments)),
        )
        .await
    }

    /// Calls a tool, waiting at most `within` (the connector's call timeout) rather than the
    /// session's request bound, and handing each progress report the server sends to
    /// `progress`. When the caller stops waiting (the future is dropped) or the time is up,
    /// the server is sent `notifications/cancelled` for the request.
    pub async fn call_tool_within(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        within: Duration,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<CallToolResult> {
        use futures_util::StreamExt;
        use rmcp::model::{ClientRequest, ServerResult};

        self.stream_tried().await;
        let call = async {
            let mut params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
            for round in 0..MAX_INPUT_ROUNDS {
                let request = ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(
                    params.clone(),
                ));
                let handle = self
                    .service
                    .peer()
                    .send_request_with_option(
                        request,
                        rmcp::service::PeerRequestOptions::no_options(),
                    )
                    .await?;
                let mut reports = self
                    .service
                    .service()
                    .progress
                    .subscribe(handle.progress_token.clone())
                    .await;
                let mut cancel = CancelOnDrop {
                    peer: handle.peer.clone(),
                    id: Some(handle.id.clone()),
                };
                let response = handle.await_response();
                tokio::pin!(response);
                let response = loop {
                    tokio::select! {
                        response = &mut response => break response,
                        Some(report) = reports.next() => progress(Progress {
                            progress: report.progress,
                            total: report.total,
                            message: report.message,
                        }),
                    }
                };
                cancel.id = None;
                match response? {
                    ServerResult::CallToolResult(result) => return Ok(result),
                    // 2026-07-28: the server wants input before it goes on; the call is
                    // sent again with the answers and the state it handed out.
                    ServerResult::InputRequiredResult(needed) => {
                        let Some((answers, state)) = self.answer_input(needed, round).await? else {
                            return Ok(CallToolResult::error(vec![
                                rmcp::model::ContentBlock::text(
                                    "The tool asked for something Switchboard cannot give yet (a model's completion or the computer's folders).",
                                ),
                            ]));
                        };
                        params.input_responses = answers;
                        params.request_state = state;
                    }
                    ServerResult::CreateTaskResult(_) => {
                        return Ok(CallToolResult::error(vec![
                            rmcp::model::ContentBlock::text(
                                "The tool started a long-running task, which Switchboard cannot follow yet.",
                            ),
                        ]));
                    }
                    _ => return Err(ServiceError::UnexpectedResponse),
                }
            }
            Ok(CallToolResult::error(vec![
                rmcp::model::ContentBlock::text(format!(
                    "The tool kept asking for more input; Switchboard stopped after {MAX_INPUT_ROUNDS} rounds."
                )),
            ]))
        };
        self.bounded_by(within, "call the tool", call).await
    }

    /// Answers one `input_required` round of a 2026-07-28 call: each question put to the
    /// person (or declined, as the connector allows). None when the server asks for
    /// something other than the person's input. A round that only hands back state waits a
    /// little longer each time before the call is sent again.
    async fn answer_input(
        &self,
        needed: rmcp::model::InputRequiredResult,
        round: usize,
    ) -> Result<Option<(Option<rmcp::model::InputResponses>, Option<String>)>, ServiceError> {
        let requests = needed.input_requests.unwrap_or_default();
        if requests.is_empty() {
            if needed.request_state.is_none() {
                return Err(ServiceError::UnexpectedResponse);
            }
            tokio::time::sleep(Duration::from_millis(100) * (round as u32 + 1)).await;
            return Ok(Some((None, needed.request_state)));
        }
        let mut answers = rmcp::model::InputResponses::new();
        let to_value = |value: Result<Value, serde_json::Error>| {
            value.map_err(|err| {
                ServiceError::McpError(rmcp::ErrorData::internal_error(err.to_string(), None))
            })
        };
        for (key, request) in requests {
            let handler = self.service.service();
            let answer = match request {
                rmcp::model::InputRequest::Elicitation(request) => to_value(serde_json::to_value(
                    handler
                        .elicit(request.params)
                        .await
                        .map_err(ServiceError::McpError)?,
                ))?,
                rmcp::model::InputRequest::CreateMessage(request) => {
                    to_value(serde_json::to_value(
                        handler
                            .sample(request.params)
                            .await
                            .map_err(ServiceError::McpError)?,
                    ))?
                }
                _ => return Ok(None),
            };
            answers.insert(key, answer);
        }
        Ok(Some((Some(answers), needed.request_state)))
    }

    /// Suggestions for one argument of a prompt or a resource template, as typed so far
    /// (`completion/complete`). A server without completions answers with none.
    pub async fn complete(
        &self,
        reference: rmcp::model::Reference,
        argument: &str,
        value: &str,
        context: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<String>> {
        let completes = self
            .service
            .peer_info()
            .is_some_and(|info| info.capabilities.completions.is_some());
        if !completes {
            return Ok(Vec::new());
        }
        let arguments = context
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect();
        let mut params = rmcp::model::CompleteRequestParams::new(
            reference,
            rmcp::model::ArgumentInfo::new(argument, value),
        );
        params.context = Some(rmcp::model::CompletionContext::with_arguments(arguments));
        let result = self
            .bounded("complete the argument", self.service.complete(params))
            .await?;
        Ok(result.completion.values)
    }

    /// Ends the session politely (DELETE for servers with sessions); failures are moot.
    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}
