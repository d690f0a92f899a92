//! The permission gate: the only way a model's tool call reaches a connector.
//!
//! For each turn it offers the model the tools of connected connectors that are not Off,
//! under names unique across connectors ([`names`]). Each call is decided by the
//! [`policy`] with the calls counted so far, in the same database transaction that logs
//! it ([`ChatStore::log_tool_call`]), before any byte goes to the server. Ask suspends the
//! call until the person answers through [`Approvals::answer`], which takes only the
//! approval's one-use id: the window can neither make up a call nor change its arguments.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_ipc::chat::{ChatEvent, ToolLabel, ToolProgress};
use switchboard_ipc::tools::{
    ApprovalAnswer, NEEDS_MORE_ACCESS, ToolApproval, ToolMode, ToolSettings,
};
use switchboard_ipc::{ConnectorId, ConnectorState, ErrorCode};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::names::ToolNames;
use super::policy::{self, Decision, Definition, Refusal};
use crate::Connectors;
use crate::chat::store::{ChatStore, NewToolCall};
use crate::chat::turn::{ToolCallRequest, ToolGate, ToolOutcome};
use crate::error::{Error, Result};
use crate::models::ToolSpec;

/// Tool calls waiting for the person, by approval id, and those running, which the person
/// may stop one by one.
#[derive(Default)]
pub struct Approvals {
    pending: Mutex<HashMap<String, Waiting>>,
    /// By (conversation, call id): its Stop, and the connector it runs on.
    running: Mutex<HashMap<(i64, String), (CancellationToken, ConnectorId)>>,
}

struct Waiting {
    conversation_id: i64,
    approval: ToolApproval,
    answer: oneshot::Sender<ApprovalAnswer>,
}

impl Approvals {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Waiting>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers a waiting call. An id that is unknown, already answered, or whose turn ended
    /// is refused: it cannot run anything.
    pub fn answer(&self, approval_id: &str, answer: ApprovalAnswer) -> Result<()> {
        let waiting = self.lock().remove(approval_id).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidSetting,
                "This tool call is no longer waiting for an answer.",
            )
            .with_detail(format!("approval {approval_id}"))
        })?;
        // The turn may have ended meanwhile; then the answer has nobody to reach.
        let _ = waiting.answer.send(answer);
        Ok(())
    }

    /// The calls waiting in a conversation, for a window that opens it.
    pub fn waiting_in(&self, conversation_id: i64) -> Vec<ToolApproval> {
        self.lock()
            .values()
            .filter(|w| w.conversation_id == conversation_id)
            .map(|w| w.approval.clone())
            .collect()
    }

    fn add(
        &self,
        conversation_id: i64,
        approval: ToolApproval,
    ) -> oneshot::Receiver<ApprovalAnswer> {
        let (answer, receiver) = oneshot::channel();
        self.lock().insert(
            approval.id.clone(),
            Waiting {
                conversation_id,
                approval,
                answer,
            },
        );
        receiver
    }

    fn forget(&self, approval_id: &str) {
        self.lock().remove(approval_id);
    }

    /// Stops one running call (the Stop on its block): the server is told, the model reads
    /// that the person stopped it. A call that is not running is refused.
    pub fn stop(&self, conversation_id: i64, call_id: &str) -> Result<()> {
        let running = self.lock_running();
        let (token, _) = running
            .get(&(conversation_id, call_id.to_owned()))
            .ok_or_else(|| {
                Error::new(ErrorCode::InvalidSetting, "This tool call is not running.")
                    .with_detail(format!("call {call_id}"))
            })?;
        token.cancel();
        Ok(())
    }

    /// The conversation whose calls are running on `connector`, when exactly one is: what a
    /// request the server makes meanwhile (for the model) belongs to.
    pub fn calling(&self, connector: &ConnectorId) -> Option<i64> {
        let running = self.lock_running();
        let mut conversations = running
            .iter()
            .filter(|(_, (_, on))| on == connector)
            .map(|((conversation, _), _)| *conversation);
        let first = conversations.next()?;
        conversations.all(|c| c == first).then_some(first)
    }

    fn lock_running(
        &self,
    ) -> MutexGuard<'_, HashMap<(i64, String), (CancellationToken, ConnectorId)>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A call in the running list for as long as it runs.
struct Running<'a> {
    approvals: &'a Approvals,
    key: (i64, String),
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.approvals.lock_running().remove(&self.key);
    }
}

/// Removes a waiting approval when the call stops waiting for any reason (an answer, the
/// person's Stop dropping the turn), and tells the window.
struct Closing<'a> {
    gate: &'a PermissionGate,
    id: String,
}

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        self.gate.approvals.forget(&self.id);
        (self.gate.emit)(ChatEvent::ToolApprovalClosed {
            conversation_id: self.gate.conversation_id,
            approval_id: self.id.clone(),
        });
    }
}

/// What a tool name offered in this turn stands for.
#[derive(Clone)]
struct OfferedTool {
    connector_id: ConnectorId,
    connector_name: String,
    definition: Definition,
    title: Option<String>,
}

/// The gate of one turn in one conversation.
pub struct PermissionGate {
    connectors: Connectors,
    store: ChatStore,
    approvals: Arc<Approvals>,
    conversation_id: i64,
    emit: Arc<dyn Fn(ChatEvent) + Send + Sync>,
    offered: Mutex<(ToolNames, HashMap<String, OfferedTool>)>,
}

impl PermissionGate {
    pub fn new(
        connectors: Connectors,
        store: ChatStore,
        approvals: Arc<Approvals>,
        conversation_id: i64,
        emit: Arc<dyn Fn(ChatEvent) + Send + Sync>,
    ) -> Self {
        Self {
            connectors,
            store,
            approvals,
            conversation_id,
            emit,
            offered: Mutex::new(Default::default()),
        }
    }

    fn lock_offered(&self) -> MutexGuard<'_, (ToolNames, HashMap<String, OfferedTool>)> {
        self.offered.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The decision for a call now, logged with the counts in one transaction when it
    /// settles the call (`Run` or `Refuse`); `Ask` is only looked at, not logged.
    fn decide(
        &self,
        tool: &OfferedTool,
        settings: &ToolSettings,
        arguments: &Value,
        approved: Option<ApprovalAnswer>,
    ) -> Result<(Option<i64>, Decision)> {
        let day = today();
        let call = NewToolCall {
            conversation_id: self.conversation_id,
            connector_id: &tool.connector_id.0,
            connector_name: &tool.connector_name,
            tool: &tool.definition.name,
            arguments,
            day: &day,
        };
        let (id, decision) = self.store.log_tool_call(&call, |usage| {
            let decision = policy::decide(settings, &tool.definition, usage);
            match (decision, approved) {
                (Decision::Run, Some(ApprovalAnswer::AlwaysAllow)) => (
                    Some((true, "always allowed by the person".to_owned())),
                    decision,
                ),
                (Decision::Run, _) => (Some((true, "allowed".to_owned())), decision),
                (Decision::Ask { .. }, Some(ApprovalAnswer::AllowOnce)) => (
                    Some((true, "allowed once by the person".to_owned())),
                    Decision::Run,
                ),
                (Decision::Ask { .. }, Some(ApprovalAnswer::AlwaysAllow)) => (
                    Some((true, "always allowed by the person".to_owned())),
                    Decision::Run,
                ),
                (Decision::Ask { .. }, Some(ApprovalAnswer::Deny)) => (
                    Some((false, Refusal::Denied.rule().to_owned())),
                    Decision::Refuse(Refusal::Denied),
                ),
                (Decision::Ask { .. }, None) => (None, decision),
                (Decision::Refuse(refusal), _) => {
                    (Some((false, refusal.rule().to_owned())), decision)
                }
            }
        })?;
        Ok((id, decision))
    }

    async fn ask(
        &self,
        call: &ToolCallRequest,
        tool: &OfferedTool,
        changed: bool,
        settings: &ToolSettings,
    ) -> ApprovalAnswer {
        let day = today();
        let used_today = self
            .store
            .tool_calls_on(&tool.connector_id.0, &tool.definition.name, &day)
            .unwrap_or_default();
        let approval = ToolApproval {
            id: approval_id(),
            call_id: call.id.clone(),
            connector_id: tool.connector_id.clone(),
            connector_name: tool.connector_name.clone(),
            tool: tool.definition.name.clone(),
            title: tool.title.clone(),
            description: tool.definition.description.clone(),
            arguments: call.arguments.clone(),
            changed,
            used_today,
            limit_today: settings
                .tools
                .get(&tool.definition.name)
                .and_then(|r| r.limits.per_day),
        };
        let id = approval.id.clone();
        let answer = self.approvals.add(self.conversation_id, approval.clone());
        let _closing = Closing { gate: self, id };
        (self.emit)(ChatEvent::ToolApproval {
            conversation_id: self.conversation_id,
            approval,
        });
        // A dropped sender (never: the map holds it until answered or forgotten) denies.
        answer.await.unwrap_or(ApprovalAnswer::Deny)
    }

    async fn run(
        &self,
        call_id: &str,
        tool: &OfferedTool,
        settings: &ToolSettings,
        arguments: &Value,
    ) -> ToolOutcome {
        let session = match self.connectors.session(&tool.connector_id) {
            Ok(session) => session,
            Err(err) => return ToolOutcome::error(err.message),
        };
        let arguments = match arguments {
            Value::Object(map) => map.clone(),
            Value::Null => serde_json::Map::new(),
            _ => return ToolOutcome::error("The tool's arguments must be a JSON object."),
        };
        let within = Duration::from_secs(u64::from(settings.call_timeout_secs.max(1)));
        let stop = CancellationToken::new();
        let key = (self.conversation_id, call_id.to_owned());
        self.approvals
            .lock_running()
            .insert(key.clone(), (stop.clone(), tool.connector_id.clone()));
        let _running = Running {
            approvals: &self.approvals,
            key,
        };
        let running = |progress: Option<ToolProgress>| {
            (self.emit)(ChatEvent::ToolRunning {
                conversation_id: self.conversation_id,
                call_id: call_id.to_owned(),
                progress,
            });
        };
        running(None);
        // A server may send progress as fast as it likes: the window hears at most ten a
        // second (and always the first).
        let mut last_told: Option<Instant> = None;
        let mut session = session;
        let mut renewed = false;
        let result = loop {
            let call =
                session.call_tool_within(&tool.definition.name, arguments.clone(), within, |p| {
                    if last_told.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
                        return;
                    }
                    last_told = Some(Instant::now());
                    running(Some(ToolProgress {
                        progress: p.progress,
                        total: p.total.filter(|t| t.is_finite() && *t > 0.0),
                        message: p.message.map(|m| crate::text::one_line(&m, 200)),
                    }));
                });
            // Dropping the call on Stop tells the server (`notifications/cancelled`).
            let result = tokio::select! {
                result = call => result,
                () = stop.cancelled() => return ToolOutcome::error(STOPPED),
            };
            match result {
                // Refused for its sign-in on a connection that worked (a token that expired
                // or was withdrawn): the server did not run it, so it runs once more on a
                // connection signed in afresh. When that cannot be, the connector says
                // "Sign in again" and the model reads why.
                Err(err) if err.code == ErrorCode::NeedsSignIn && !renewed => {
                    renewed = true;
                    tracing::info!(connector = %tool.connector_id, "a call was refused for its sign-in; connecting again");
                    let fresh = tokio::select! {
                        fresh = self.connectors.renew(&tool.connector_id) => fresh,
                        () = stop.cancelled() => return ToolOutcome::error(STOPPED),
                    };
                    match fresh {
                        Ok(fresh) => session = fresh,
                        Err(err) => break Err(err),
                    }
                }
                result => break result,
            }
        };
        match result {
            Ok(result) => {
                let converted = crate::chat::attachments::tool_result(
                    result,
                    &tool.connector_id.0,
                    tool.definition.output_schema.as_ref(),
                    crate::chat::attachments::TEXT_BOUND,
                );
                let mut content = converted.parts;
                if let Some(note) = converted.note {
                    content.push(switchboard_ipc::chat::Part::text(note));
                }
                ToolOutcome {
                    content,
                    is_error: converted.is_error,
                }
            }
            Err(err) if err.code == ErrorCode::NeedsMoreAccess => {
                if let Some(challenge) = session.take_challenge() {
                    self.connectors
                        .note_more_access(&tool.connector_id, challenge);
                }
                ToolOutcome::error(NEEDS_MORE_ACCESS)
            }
            Err(err) => ToolOutcome::error(err.message),
        }
    }
}

#[async_trait::async_trait]
impl ToolGate for PermissionGate {
    fn offered(&self) -> Vec<ToolSpec> {
        let mut candidates = Vec::new();
        for detail in self.connectors.details() {
            if detail.summary.state != ConnectorState::Connected {
                continue;
            }
            let Some(catalog) = &detail.catalog else {
                continue;
            };
            let settings = &detail.tools.settings;
            for info in &catalog.tools {
                let definition = Definition::from(info);
                if policy::standing(settings, &definition) == policy::Standing::Off {
                    continue;
                }
                candidates.push(OfferedTool {
                    connector_id: detail.summary.id.clone(),
                    connector_name: detail.summary.name.clone(),
                    definition,
                    title: info.title.clone(),
                });
            }
        }
        let keys: Vec<(&str, &str, &str)> = candidates
            .iter()
            .map(|t| {
                (
                    t.connector_id.0.as_str(),
                    t.connector_name.as_str(),
                    t.definition.name.as_str(),
                )
            })
            .collect();
        let (names, given) = ToolNames::assign(&keys);
        let specs = given
            .iter()
            .zip(&candidates)
            .map(|(name, tool)| ToolSpec {
                name: name.clone(),
                description: tool.definition.description.clone().unwrap_or_default(),
                input_schema: match &tool.definition.input_schema {
                    Value::Object(_) => tool.definition.input_schema.clone(),
                    _ => serde_json::json!({"type": "object", "properties": {}}),
                },
            })
            .collect();
        let by_name = given.into_iter().zip(candidates).collect();
        *self.lock_offered() = (names, by_name);
        specs
    }

    async fn call(&self, call: &ToolCallRequest) -> ToolOutcome {
        let Some(offered) = self.lock_offered().1.get(&call.name).cloned() else {
            return ToolOutcome::error("There is no tool of that name.");
        };
        // Today's settings and definition, not the ones the turn started with.
        let (settings, definitions) = match self.connectors.tools_of(&offered.connector_id) {
            Ok(found) => found,
            Err(err) => return ToolOutcome::error(err.message),
        };
        let Some(definition) = definitions
            .into_iter()
            .find(|d| d.name == offered.definition.name)
        else {
            return ToolOutcome::error("The connector does not offer this tool any more.");
        };
        let tool = OfferedTool {
            definition,
            ..offered
        };
        let mut decided = self.decide(&tool, &settings, &call.arguments, None);
        if let Ok((None, Decision::Ask { changed })) = decided {
            let answer = self.ask(call, &tool, changed, &settings).await;
            let settings = if answer == ApprovalAnswer::AlwaysAllow {
                match self.connectors.set_tool_mode(
                    &tool.connector_id,
                    &tool.definition.name,
                    ToolMode::Allow,
                ) {
                    Ok(tools) => tools.settings,
                    Err(err) => return ToolOutcome::error(err.message),
                }
            } else {
                // The person may have changed the tool's page while the card waited.
                match self.connectors.tools_of(&tool.connector_id) {
                    Ok((settings, _)) => settings,
                    Err(err) => return ToolOutcome::error(err.message),
                }
            };
            decided = self.decide(&tool, &settings, &call.arguments, Some(answer));
        }
        let (log_id, decision) = match decided {
            Ok((Some(id), decision)) => (id, decision),
            Ok((None, _)) => return ToolOutcome::error("The tool call could not be decided."),
            Err(err) => return ToolOutcome::error(err.message),
        };
        // How long the call took, not how long the person took to answer its card.
        let started = Instant::now();
        let outcome = match decision {
            Decision::Run => self.run(&call.id, &tool, &settings, &call.arguments).await,
            Decision::Refuse(refusal) => ToolOutcome::error(refusal.sentence()),
            Decision::Ask { .. } => ToolOutcome::error("The tool call could not be decided."),
        };
        let summary = outcome_summary(&outcome);
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Err(err) = self
            .store
            .finish_tool_call(log_id, &summary, outcome.is_error, elapsed)
        {
            tracing::warn!(?err, "could not log what came of a tool call");
        }
        outcome
    }

    fn label(&self, name: &str) -> Option<ToolLabel> {
        self.lock_offered().1.get(name).map(|tool| ToolLabel {
            connector_id: tool.connector_id.0.clone(),
            connector_name: tool.connector_name.clone(),
            tool: tool.definition.name.clone(),
            title: tool.title.clone(),
        })
    }
}

/// What the model (and the block) says of a call the person stopped.
pub const STOPPED: &str = "The person stopped this call.";

/// What the activity log keeps of an outcome: its text, cut.
fn outcome_summary(outcome: &ToolOutcome) -> String {
    let mut text = String::new();
    for part in &outcome.content {
        match part {
            switchboard_ipc::chat::Part::Text { text: t } => text.push_str(t),
            switchboard_ipc::chat::Part::Image { media_type, .. } => {
                text.push_str(&format!("[image {media_type}]"));
            }
            switchboard_ipc::chat::Part::Resource { uri, .. } => {
                text.push_str(&format!("[resource {uri}]"));
            }
            switchboard_ipc::chat::Part::Audio { media_type, .. } => {
                text.push_str(&format!("[sound {media_type}]"));
            }
            switchboard_ipc::chat::Part::Link { uri, .. } => {
                text.push_str(&format!("[link {uri}]"));
            }
            switchboard_ipc::chat::Part::Structured {
                problem: Some(problem),
                ..
            } => text.push_str(problem),
            _ => {}
        }
        if text.len() > 500 {
            break;
        }
    }
    if text.len() > 500 {
        let mut end = 500;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// The person's calendar day, which "per day" limits count.
pub fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

/// A one-use id nobody can guess.
fn approval_id() -> String {
    oauth2::CsrfToken::new_random().secret().clone()
}
