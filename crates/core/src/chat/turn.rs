//! One turn of a conversation: the history (with what was attached) goes to the model, its
//! reply streams back to the window and is saved, and any tool call it makes is handed to
//! the [`ToolGate`], whose answer goes back to the model until it has finished.
//!
//! A turn can be stopped at any moment: the HTTP request is dropped and what arrived is
//! kept, marked unfinished. When the model fails before saying anything, the person's
//! message is marked failed (the window offers Retry); it is never lost.

use futures_util::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::store::{ChatStore, StoredMessage};
use super::{AttachmentContent, Message, MessageStatus, Part, Role};
use crate::models::{Model, ModelError, ModelEvent, ModelRequest, StopReason, ToolSpec};

/// How many times one turn may go back to the model with tool results: a model that keeps
/// calling tools is stopped rather than left to run up a bill.
pub const MAX_TOOL_ROUNDS: usize = 25;

/// A tool call the model made, as the gate sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCallRequest {
    pub id: String,
    /// The name the model used (as offered by the gate).
    pub name: String,
    pub arguments: Value,
}

/// What came of a tool call, for the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutcome {
    pub content: Vec<Part>,
    pub is_error: bool,
}

impl ToolOutcome {
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            content: vec![Part::text(text)],
            is_error: true,
        }
    }
}

/// The only way a model's tool call can reach a connector.
#[async_trait::async_trait]
pub trait ToolGate: Send + Sync {
    /// The tools the model is told about in this turn.
    fn offered(&self) -> Vec<ToolSpec>;

    /// Decides on one call (and runs it when allowed). Never fails: a refusal is an
    /// outcome the model reads.
    async fn call(&self, call: &ToolCallRequest) -> ToolOutcome;

    /// Which connector's tool an offered name stands for, for the window.
    fn label(&self, _name: &str) -> Option<switchboard_ipc::chat::ToolLabel> {
        None
    }
}

/// A gate that offers no tool and refuses every call: for turns tested without tools. The
/// app uses [`crate::tools::gate::PermissionGate`].
pub struct NoTools;

/// What the model is told when it calls a tool anyway.
pub const TOOLS_NOT_ENABLED: &str = "Tools are not enabled yet";

#[async_trait::async_trait]
impl ToolGate for NoTools {
    fn offered(&self) -> Vec<ToolSpec> {
        Vec::new()
    }

    async fn call(&self, _call: &ToolCallRequest) -> ToolOutcome {
        ToolOutcome::error(TOOLS_NOT_ENABLED)
    }
}

/// What the window hears while a turn runs.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnEvent {
    TextDelta(String),
    ToolCall(ToolCallRequest),
    ToolResult {
        call_id: String,
        outcome: ToolOutcome,
    },
    /// A message of the turn was saved (an assistant reply, or tool results).
    Saved(StoredMessage),
}

/// How a turn ended.
#[derive(Debug, PartialEq)]
pub enum TurnEnd {
    /// The model finished its reply.
    Finished,
    /// The person stopped it; what arrived is saved as unfinished.
    Stopped,
    /// The model failed; what arrived (if anything) is saved as unfinished, and when
    /// nothing did, the person's message is marked failed.
    Failed(ModelError),
    /// The model went back to its tools [`MAX_TOOL_ROUNDS`] times in a row: paused, with
    /// everything saved, until the person lets it go on.
    ToolRoundsReached,
}

/// Everything one turn needs.
pub struct Turn<'a> {
    pub store: &'a ChatStore,
    pub model: &'a dyn Model,
    pub model_id: &'a str,
    pub system: Option<String>,
    pub gate: &'a dyn ToolGate,
    pub conversation_id: i64,
    pub cancel: CancellationToken,
}

impl Turn<'_> {
    /// Runs the turn to its end. `events` hears every delta and saved message. Fails only
    /// when the history cannot be read or a message cannot be saved.
    pub async fn run(self, mut events: impl FnMut(TurnEvent) + Send) -> crate::Result<TurnEnd> {
        for _ in 0..MAX_TOOL_ROUNDS {
            let history = self.store.messages(self.conversation_id)?;
            let mut request = ModelRequest::new(self.model_id, model_messages(&history));
            request.system = self.system.clone();
            request.tools = self.gate.offered();

            let reply = self.stream(&request, &mut events).await;
            let (parts, end) = match reply {
                Reply::Done { parts, stop } => (parts, Ok(stop)),
                Reply::Stopped { parts } => (parts, Err(TurnEnd::Stopped)),
                Reply::Failed { parts, error } => (parts, Err(TurnEnd::Failed(error))),
            };
            let calls: Vec<ToolCallRequest> = parts
                .iter()
                .filter_map(|part| match part {
                    Part::ToolCall {
                        id,
                        name,
                        arguments,
                        ..
                    } => Some(ToolCallRequest {
                        id: id.clone(),
                        name: name.clone(),
                        arguments: arguments.clone(),
                    }),
                    _ => None,
                })
                .collect();
            match end {
                Err(end) => {
                    // Text that arrived is kept; calls the model did not finish are not.
                    let text: Vec<Part> = parts
                        .into_iter()
                        .filter(|p| matches!(p, Part::Text { .. }))
                        .collect();
                    if !text.is_empty() {
                        self.save(
                            Role::Assistant,
                            text,
                            MessageStatus::Unfinished,
                            &mut events,
                        )?;
                    } else if matches!(end, TurnEnd::Failed(_)) {
                        self.mark_last_user_failed(&history)?;
                    }
                    return Ok(end);
                }
                Ok(stop) => {
                    let status = if stop == StopReason::MaxTokens {
                        MessageStatus::Unfinished
                    } else {
                        MessageStatus::Complete
                    };
                    if !parts.is_empty() {
                        self.save(Role::Assistant, parts, status, &mut events)?;
                    }
                    if calls.is_empty() {
                        return Ok(TurnEnd::Finished);
                    }
                }
            }
            // The calls of one reply are independent of each other: they run together, and
            // those that ask are all shown at once, to be answered in any order.
            let (gate, cancel) = (self.gate, &self.cancel);
            let outcomes = futures_util::future::join_all(calls.iter().map(|call| async move {
                tokio::select! {
                    outcome = gate.call(call) => outcome,
                    () = cancel.cancelled() => ToolOutcome::error("The person stopped the reply before this tool finished."),
                }
            }))
            .await;
            let mut results = Vec::new();
            for (call, outcome) in calls.iter().zip(outcomes) {
                events(TurnEvent::ToolResult {
                    call_id: call.id.clone(),
                    outcome: outcome.clone(),
                });
                results.push(Part::ToolResult {
                    call_id: call.id.clone(),
                    content: outcome.content,
                    is_error: outcome.is_error,
                });
            }
            self.save(Role::User, results, MessageStatus::Complete, &mut events)?;
            if self.cancel.is_cancelled() {
                return Ok(TurnEnd::Stopped);
            }
        }
        Ok(TurnEnd::ToolRoundsReached)
    }

    /// One request to the model, streamed until it stops, fails, or the person stops it.
    async fn stream(&self, request: &ModelRequest, events: &mut impl FnMut(TurnEvent)) -> Reply {
        let mut parts = Vec::new();
        let started = tokio::select! {
            started = self.model.stream(request) => started,
            () = self.cancel.cancelled() => return Reply::Stopped { parts },
        };
        let mut stream = match started {
            Ok(stream) => stream,
            Err(error) => return Reply::Failed { parts, error },
        };
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                // Dropping the stream drops the HTTP request.
                () = self.cancel.cancelled() => return Reply::Stopped { parts },
            };
            match next {
                Some(Ok(ModelEvent::TextDelta(text))) => {
                    events(TurnEvent::TextDelta(text.clone()));
                    match parts.last_mut() {
                        Some(Part::Text { text: last }) => last.push_str(&text),
                        _ => parts.push(Part::Text { text }),
                    }
                }
                Some(Ok(ModelEvent::ToolCall {
                    id,
                    name,
                    arguments,
                })) => {
                    events(TurnEvent::ToolCall(ToolCallRequest {
                        id: id.clone(),
                        name: name.clone(),
                        arguments: arguments.clone(),
                    }));
                    let label = self.gate.label(&name);
                    parts.push(Part::ToolCall {
                        id,
                        name,
                        arguments,
                        label,
                    });
                }
                Some(Ok(ModelEvent::Usage { .. })) => {}
                Some(Ok(ModelEvent::Stop(stop))) => return Reply::Done { parts, stop },
                Some(Err(error)) => return Reply::Failed { parts, error },
                None => {
                    return Reply::Failed {
                        parts,
                        error: ModelError::new(
                            crate::models::ModelErrorKind::Cut,
                            "the stream ended without a stop",
                        ),
                    };
                }
            }
        }
    }

    fn save(
        &self,
        role: Role,
        parts: Vec<Part>,
        status: MessageStatus,
        events: &mut impl FnMut(TurnEvent),
    ) -> crate::Result<()> {
        let model = (role == Role::Assistant).then_some(self.model_id);
        let saved = self
            .store
            .append(self.conversation_id, role, &parts, &[], status, model)?;
        events(TurnEvent::Saved(saved));
        Ok(())
    }

    fn mark_last_user_failed(&self, history: &[StoredMessage]) -> crate::Result<()> {
        if let Some(last) = history.last().filter(|m| m.role == Role::User) {
            self.store.set_status(last.id, MessageStatus::Failed)?;
        }
        Ok(())
    }
}

enum Reply {
    Done { parts: Vec<Part>, stop: StopReason },
    Stopped { parts: Vec<Part> },
    Failed { parts: Vec<Part>, error: ModelError },
}

/// The saved history as the model gets it: a prompt's messages go before the message they
/// were attached to, a resource's parts after the person's words.
pub fn model_messages(history: &[StoredMessage]) -> Vec<Message> {
    let mut messages = Vec::new();
    for stored in history {
        let mut parts = stored.parts.clone();
        for attachment in &stored.attachments {
            match &attachment.content {
                AttachmentContent::Messages { messages: prompt } => {
                    messages.extend(prompt.iter().cloned());
                }
                AttachmentContent::Parts { parts: attached } => {
                    parts.extend(attached.iter().cloned());
                }
            }
        }
        if !parts.is_empty() {
            messages.push(Message {
                role: stored.role,
                parts,
            });
        }
    }
    messages
}
