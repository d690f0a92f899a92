//! The chat as the window uses it: conversations, sending, stopping, retrying, and reading
//! what the paperclip menu attaches. Each reply runs as a task owned by its conversation;
//! what it says reaches the window as [`ChatEvent`]s, at most one text event per frame.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchboard_ipc::chat::{
    Attachment, AttachmentKind, ChatEvent, CompleteRequest, CompletionTarget, Conversation,
    ConversationView, GetPromptRequest, MessageStatus, ModelChoice, Part, ReadResourceRequest,
    Role, SendRequest, StoredMessage, TurnOutcome, is_twin,
};
use switchboard_ipc::markdown::{Rendered, text_id};
use switchboard_ipc::{ConnectorId, ErrorCode};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::attachments::{self, Source};
use super::store::ChatStore;
use super::turn::{Turn, TurnEnd, TurnEvent};
use crate::connectors::Connectors;
use crate::error::{Error, Result};
use crate::markdown::{self, Streaming};
use crate::models::providers::{Providers, model_error};
use crate::tools::gate::{Approvals, PermissionGate};
use switchboard_ipc::ConnectorDetail;
use switchboard_ipc::tools::{ApprovalAnswer, ToolApproval};

/// The window repaints at most this often; text arriving faster is sent in one event.
const FRAME: Duration = Duration::from_millis(16);

/// A conversation's title, made from its first message: its first line, cut on a word.
const TITLE_LENGTH: usize = 60;

#[derive(Clone)]
pub struct Chat {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) store: ChatStore,
    pub(super) providers: Providers,
    pub(super) connectors: Connectors,
    /// Tool calls waiting for the person's answer, and running, across conversations.
    pub(super) approvals: Arc<Approvals>,
    /// The reply being written in each conversation, to stop it.
    replying: Mutex<HashMap<i64, CancellationToken>>,
    events: broadcast::Sender<ChatEvent>,
    runtime: tokio::runtime::Handle,
}

impl Chat {
    pub fn new(
        store: ChatStore,
        providers: Providers,
        connectors: Connectors,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let (events, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            store,
            providers,
            connectors,
            approvals: Arc::new(Approvals::default()),
            replying: Mutex::new(HashMap::new()),
            events,
            runtime,
        });
        // Servers' requests for the model are answered by the chat's models.
        inner
            .connectors
            .set_sampler(Arc::new(super::sampling::ChatSampler(Arc::downgrade(
                &inner,
            ))));
        Self { inner }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ChatEvent> {
        self.inner.events.subscribe()
    }

    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    /// The person's answer to a tool call that waits in a conversation.
    pub fn answer_approval(&self, approval_id: &str, answer: ApprovalAnswer) -> Result<()> {
        self.inner.approvals.answer(approval_id, answer)
    }

    /// Stops one running tool call; the turn goes on with the model told so.
    pub fn stop_tool_call(&self, conversation_id: i64, call_id: &str) -> Result<()> {
        self.inner.approvals.stop(conversation_id, call_id)
    }

    /// The newest `limit` tool calls, with their conversations' titles.
    pub fn activity(&self, limit: u32) -> Result<Vec<switchboard_ipc::tools::ActivityEntry>> {
        let titles: HashMap<i64, String> = self
            .inner
            .store
            .conversations()?
            .into_iter()
            .map(|c| (c.id, c.title))
            .collect();
        Ok(self
            .inner
            .store
            .tool_activity(limit)?
            .into_iter()
            .map(|e| switchboard_ipc::tools::ActivityEntry {
                id: e.id,
                at_ms: e.at_ms,
                conversation_title: titles.get(&e.conversation_id).cloned(),
                conversation_id: e.conversation_id,
                connector_id: ConnectorId(e.connector_id),
                connector_name: e.connector_name,
                tool: e.tool,
                arguments: e.arguments,
                ran: e.ran,
                rule: e.rule,
                outcome: e.outcome,
                is_error: e.is_error,
                duration_ms: e.duration_ms,
            })
            .collect())
    }

    /// `detail` with today's call counts beside each tool's limits.
    pub fn with_tool_counts(&self, mut detail: ConnectorDetail) -> ConnectorDetail {
        detail.tools = self.tool_counts(&detail.summary.id, detail.tools);
        detail
    }

    /// A connector's tools with the calls each made today.
    pub fn tool_counts(
        &self,
        connector: &switchboard_ipc::ConnectorId,
        mut tools: switchboard_ipc::tools::ConnectorTools,
    ) -> switchboard_ipc::tools::ConnectorTools {
        let day = crate::tools::gate::today();
        match self.inner.store.tool_calls_by_tool_on(&connector.0, &day) {
            Ok(counts) => {
                for entry in &mut tools.entries {
                    entry.used_today = counts.get(&entry.name).copied().unwrap_or(0);
                }
                tools.used_today = counts.values().sum();
            }
            Err(err) => tracing::warn!(?err, "could not count today's tool calls"),
        }
        tools
    }

    /// The tool calls waiting in a conversation, for a window that opens it.
    pub fn waiting_approvals(&self, conversation_id: i64) -> Vec<ToolApproval> {
        self.inner.approvals.waiting_in(conversation_id)
    }

    /// Every conversation, the one touched last first.
    pub fn conversations(&self) -> Result<Vec<Conversation>> {
        self.inner.store.conversations()
    }

    pub fn open(&self, id: i64) -> Result<ConversationView> {
        Ok(ConversationView {
            conversation: self.inner.store.conversation(id)?,
            messages: self
                .inner
                .store
                .messages(id)?
                .into_iter()
                .map(for_window)
                .collect(),
            replying: self.inner.replying().contains_key(&id),
        })
    }

    /// Starts a conversation for a first message (titled from it), on `model` or the
    /// default. Nothing is sent yet.
    pub fn create(&self, first_message: &str, model: Option<ModelChoice>) -> Result<Conversation> {
        let choice = model
            .or_else(|| self.inner.providers.default_model())
            .ok_or_else(no_model)?;
        let conversation = self
            .inner
            .store
            .create_conversation(&title_from(first_message, &[]), Some(&choice))?;
        self.inner.emit(ChatEvent::ConversationChanged {
            conversation: conversation.clone(),
        });
        Ok(conversation)
    }

    /// Saves the person's message (in a new conversation when none is given) and starts
    /// the reply. The message is saved before anything can fail, so it is never lost.
    pub fn send(&self, request: SendRequest) -> Result<StoredMessage> {
        let text = request.text.trim();
        if text.is_empty() && request.attachments.is_empty() {
            return Err(Error::new(
                ErrorCode::EmptyMessage,
                "Write a message or attach something first.",
            ));
        }
        let choice = request
            .model
            .clone()
            .or_else(|| {
                request
                    .conversation_id
                    .and_then(|id| self.inner.store.conversation(id).ok()?.model)
            })
            .or_else(|| self.inner.providers.default_model())
            .ok_or_else(no_model)?;
        let store = &self.inner.store;
        let conversation = match request.conversation_id {
            Some(id) => {
                self.inner.ensure_idle(id)?;
                let conversation = store.conversation(id)?;
                if conversation.model.as_ref() != Some(&choice) {
                    store.set_model(id, Some(&choice))?;
                }
                conversation
            }
            None => {
                store.create_conversation(&title_from(text, &request.attachments), Some(&choice))?
            }
        };
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::text(text)]
        };
        let message = store.append(
            conversation.id,
            Role::User,
            &parts,
            &request.attachments,
            MessageStatus::Complete,
            None,
        )?;
        self.inner.changed(conversation.id);
        self.inner.emit(ChatEvent::MessageSaved {
            message: message.clone(),
        });
        self.inner.start_reply(conversation.id, choice)?;
        Ok(message)
    }

    /// Stops the reply being written; what arrived is kept. Nothing to stop is fine.
    pub fn stop(&self, id: i64) {
        if let Some(token) = self.inner.replying().get(&id) {
            token.cancel();
        }
    }

    /// Asks again after a failed reply: the person's last message, as it was.
    pub fn retry(&self, id: i64) -> Result<()> {
        self.inner.ensure_idle(id)?;
        let messages = self.inner.store.messages(id)?;
        let last = messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User && m.status == MessageStatus::Failed);
        if let Some(last) = last {
            self.inner
                .store
                .set_status(last.id, MessageStatus::Complete)?;
            self.inner.emit(ChatEvent::MessageStatus {
                conversation_id: id,
                message_id: last.id,
                status: MessageStatus::Complete,
            });
        }
        self.inner.start_reply(id, self.inner.model_of(id)?)
    }

    /// Replaces the last reply with a new one.
    pub fn regenerate(&self, id: i64) -> Result<()> {
        self.inner.ensure_idle(id)?;
        let messages = self.inner.store.messages(id)?;
        let last_user = messages
            .iter()
            .rposition(|m| m.role == Role::User && !is_tool_results(m))
            .ok_or_else(|| Error::new(ErrorCode::Storage, "There is no reply to write again."))?;
        if let Some(first_reply) = messages.get(last_user + 1) {
            self.inner.store.truncate_from(id, first_reply.id)?;
        }
        self.inner.changed(id);
        self.inner.start_reply(id, self.inner.model_of(id)?)
    }

    /// Edits one of the person's messages and sends it again: it and everything after it
    /// are replaced (its attachments stay).
    pub fn edit(&self, conversation_id: i64, message_id: i64, text: &str) -> Result<StoredMessage> {
        self.inner.ensure_idle(conversation_id)?;
        let messages = self.inner.store.messages(conversation_id)?;
        let original = messages
            .iter()
            .find(|m| m.id == message_id && m.role == Role::User)
            .ok_or_else(|| Error::new(ErrorCode::Storage, "This message no longer exists."))?;
        let text = text.trim();
        if text.is_empty() && original.attachments.is_empty() {
            return Err(Error::new(
                ErrorCode::EmptyMessage,
                "Write a message or attach something first.",
            ));
        }
        let attachments = original.attachments.clone();
        let choice = self.inner.model_of(conversation_id)?;
        self.inner
            .store
            .truncate_from(conversation_id, message_id)?;
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::text(text)]
        };
        let message = self.inner.store.append(
            conversation_id,
            Role::User,
            &parts,
            &attachments,
            MessageStatus::Complete,
            None,
        )?;
        self.inner.changed(conversation_id);
        self.inner.start_reply(conversation_id, choice)?;
        Ok(message)
    }

    pub fn rename(&self, id: i64, title: &str) -> Result<Conversation> {
        self.inner.store.rename(id, title)?;
        self.inner.changed(id);
        self.inner.store.conversation(id)
    }

    pub fn set_model(&self, id: i64, choice: &ModelChoice) -> Result<Conversation> {
        self.inner.store.set_model(id, Some(choice))?;
        self.inner.changed(id);
        self.inner.store.conversation(id)
    }

    /// Deletes the conversation (stopping its reply first) with its messages and
    /// attachments.
    pub fn delete(&self, id: i64) -> Result<()> {
        self.stop(id);
        self.inner.store.delete(id)?;
        self.inner.emit(ChatEvent::ConversationRemoved { id });
        Ok(())
    }

    /// Reads a resource for a chip: its content as it will be sent.
    pub async fn read_resource(&self, request: ReadResourceRequest) -> Result<Attachment> {
        let (session, connector_name) = self.inner.session(&request.connector_id)?;
        let read = session.read_resource(&request.uri).await?;
        // Its chip is read again if the server says it changed before it is sent.
        if let Err(err) = session.subscribe(&request.uri).await {
            tracing::info!(code = ?err.code, "could not follow an attached resource");
        }
        let kind = if request.from_template {
            AttachmentKind::Template
        } else {
            AttachmentKind::Resource
        };
        Ok(attachments::resource(
            Source {
                kind,
                connector_id: &request.connector_id.0,
                connector_name: &connector_name,
                name: &request.name,
            },
            &request.uri,
            read,
            self.inner.providers.attachment_bound(),
        ))
    }

    /// Gets a prompt with its arguments for a chip: its messages as they will be sent.
    pub async fn get_prompt(&self, request: GetPromptRequest) -> Result<Attachment> {
        let (session, connector_name) = self.inner.session(&request.connector_id)?;
        let arguments = request
            .arguments
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        let got = session.get_prompt(&request.name, arguments).await?;
        Ok(attachments::prompt(
            Source {
                kind: AttachmentKind::Prompt,
                connector_id: &request.connector_id.0,
                connector_name: &connector_name,
                name: &request.title,
            },
            got,
            self.inner.providers.attachment_bound(),
        ))
    }

    /// Suggestions for a field of a prompt or template form.
    pub async fn complete(&self, request: CompleteRequest) -> Result<Vec<String>> {
        let (session, _) = self.inner.session(&request.connector_id)?;
        let reference = match request.target {
            CompletionTarget::Prompt { name } => rmcp::model::Reference::for_prompt(name),
            CompletionTarget::Template { uri_template } => {
                rmcp::model::Reference::for_resource(uri_template)
            }
        };
        let context = request
            .context
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        session
            .complete(reference, &request.argument, &request.value, context)
            .await
    }
}

impl Inner {
    fn replying(&self) -> MutexGuard<'_, HashMap<i64, CancellationToken>> {
        self.replying.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, event: ChatEvent) {
        let _ = self.events.send(event);
    }

    fn changed(&self, id: i64) {
        if let Ok(conversation) = self.store.conversation(id) {
            self.emit(ChatEvent::ConversationChanged { conversation });
        }
    }

    fn ensure_idle(&self, id: i64) -> Result<()> {
        if self.replying().contains_key(&id) {
            return Err(reply_in_progress());
        }
        Ok(())
    }

    fn model_of(&self, id: i64) -> Result<ModelChoice> {
        self.store
            .conversation(id)?
            .model
            .or_else(|| self.providers.default_model())
            .ok_or_else(no_model)
    }

    fn session(&self, id: &ConnectorId) -> Result<(Arc<crate::Session>, String)> {
        let session = self.connectors.session(id)?;
        let name = self.connectors.detail(id)?.summary.name;
        Ok((session, name))
    }

    /// Starts the reply in `id` as a task of its own.
    fn start_reply(self: &Arc<Self>, id: i64, choice: ModelChoice) -> Result<()> {
        let token = CancellationToken::new();
        {
            let mut replying = self.replying();
            if replying.contains_key(&id) {
                return Err(reply_in_progress());
            }
            replying.insert(id, token.clone());
        }
        self.emit(ChatEvent::ReplyStarted {
            conversation_id: id,
        });
        let inner = Arc::clone(self);
        self.runtime.spawn(async move {
            let outcome = inner.reply(id, choice, token).await;
            inner.replying().remove(&id);
            inner.changed(id);
            inner.emit(ChatEvent::ReplyEnded {
                conversation_id: id,
                outcome,
            });
        });
        Ok(())
    }

    async fn reply(&self, id: i64, choice: ModelChoice, cancel: CancellationToken) -> TurnOutcome {
        let model = match self.providers.model(&choice.provider_id).await {
            Ok(model) => model,
            Err(error) => {
                self.mark_failed(id);
                return TurnOutcome::Failed { error };
            }
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        let forwarding = self
            .runtime
            .spawn(forward(receiver, self.events.clone(), id));
        let events = self.events.clone();
        let gate = PermissionGate::new(
            self.connectors.clone(),
            self.store.clone(),
            Arc::clone(&self.approvals),
            id,
            Arc::new(move |event| {
                let _ = events.send(event);
            }),
        );
        let turn = Turn {
            store: &self.store,
            model: model.as_ref(),
            model_id: &choice.model,
            system: None,
            gate: &gate,
            conversation_id: id,
            cancel,
        };
        let end = turn
            .run(move |event| {
                let _ = sender.send(event);
            })
            .await;
        let _ = forwarding.await;
        match end {
            Ok(TurnEnd::Finished) => TurnOutcome::Finished,
            Ok(TurnEnd::Stopped) => TurnOutcome::Stopped,
            Ok(TurnEnd::ToolRoundsReached) => TurnOutcome::Failed {
                error: Error::new(
                    ErrorCode::ToolRoundsReached,
                    format!(
                        "The model used tools {} times in a row, so Switchboard paused it. Go on when you want it to continue.",
                        crate::chat::turn::MAX_TOOL_ROUNDS
                    ),
                ),
            },
            Ok(TurnEnd::Failed(err)) => {
                if let Ok(messages) = self.store.messages(id)
                    && let Some(last) = messages.last()
                    && last.status == MessageStatus::Failed
                {
                    self.emit(ChatEvent::MessageStatus {
                        conversation_id: id,
                        message_id: last.id,
                        status: MessageStatus::Failed,
                    });
                }
                TurnOutcome::Failed {
                    error: model_error(err),
                }
            }
            Err(error) => TurnOutcome::Failed { error },
        }
    }

    /// The person's last message gets Retry.
    fn mark_failed(&self, id: i64) {
        let Ok(messages) = self.store.messages(id) else {
            return;
        };
        if let Some(last) = messages.last().filter(|m| m.role == Role::User)
            && self
                .store
                .set_status(last.id, MessageStatus::Failed)
                .is_ok()
        {
            self.emit(ChatEvent::MessageStatus {
                conversation_id: id,
                message_id: last.id,
                status: MessageStatus::Failed,
            });
        }
    }
}

/// Passes a turn's events on as chat events, merging text that arrives within a frame and
/// reading it as Markdown for the window.
async fn forward(
    mut receiver: mpsc::UnboundedReceiver<TurnEvent>,
    events: broadcast::Sender<ChatEvent>,
    conversation_id: i64,
) {
    let mut reply = Streaming::default();
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = receiver.try_recv() {
            batch.push(more);
        }
        let mut text = String::new();
        for event in batch {
            match event {
                TurnEvent::TextDelta(delta) => text.push_str(&delta),
                other => {
                    flush(&events, conversation_id, &mut reply, &mut text);
                    if let TurnEvent::Saved(message) = other {
                        if message.role == Role::Assistant {
                            // The saved reply replaces the streamed one; the next is new.
                            reply = Streaming::default();
                        }
                        let _ = events.send(ChatEvent::MessageSaved {
                            message: for_window(message),
                        });
                    }
                }
            }
        }
        flush(&events, conversation_id, &mut reply, &mut text);
        tokio::time::sleep(FRAME).await;
    }
}

fn flush(
    events: &broadcast::Sender<ChatEvent>,
    conversation_id: i64,
    reply: &mut Streaming,
    text: &mut String,
) {
    if !text.is_empty() {
        let markdown = reply.push(text);
        let _ = events.send(ChatEvent::ReplyText {
            conversation_id,
            text: std::mem::take(text),
            markdown,
        });
    }
}

/// A message as the window gets it: with its Markdown read.
fn for_window(mut message: StoredMessage) -> StoredMessage {
    // A tool result's text that only repeats its structured content is read as nothing:
    // the window shows the data once, as a tree.
    let mut twins = Vec::new();
    for part in &message.parts {
        if let Part::ToolResult { content, .. } = part {
            for value in content.iter().filter_map(|part| match part {
                Part::Structured { value, .. } => Some(value),
                _ => None,
            }) {
                twins.extend(content.iter().filter_map(|part| match part {
                    Part::Text { text } if is_twin(text, value) => Some(text.clone()),
                    _ => None,
                }));
            }
        }
    }
    message.markdown = message
        .markdown_texts()
        .iter()
        .map(|text| {
            if twins.contains(text) {
                Rendered {
                    of: text_id(text),
                    blocks: Vec::new(),
                }
            } else {
                markdown::render(text)
            }
        })
        .collect();
    message
}

fn reply_in_progress() -> Error {
    Error::new(
        ErrorCode::ReplyInProgress,
        "A reply is still being written. Wait for it, or press Stop.",
    )
}

fn no_model() -> Error {
    Error::new(
        ErrorCode::NoModel,
        "Add a model in Settings → Models to start chatting.",
    )
}

fn is_tool_results(message: &StoredMessage) -> bool {
    !message.parts.is_empty()
        && message
            .parts
            .iter()
            .all(|p| matches!(p, Part::ToolResult { .. }))
}

/// The first line of the first message, cut on a word; an attachment's name when there
/// is no text.
pub fn title_from(text: &str, attachments: &[Attachment]) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(line) = line else {
        return attachments
            .first()
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "New chat".to_owned());
    };
    if line.chars().count() <= TITLE_LENGTH {
        return line.to_owned();
    }
    let cut: String = line.chars().take(TITLE_LENGTH).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > TITLE_LENGTH / 2 => &cut[..space],
        _ => &cut,
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line_cut_on_a_word() {
        assert_eq!(title_from("  Hello there\nmore", &[]), "Hello there");
        let long =
            "Please summarise the quarterly report and list every risk it names for the board";
        let title = title_from(long, &[]);
        assert_eq!(
            title,
            "Please summarise the quarterly report and list every risk…"
        );
        assert!(title.chars().count() <= TITLE_LENGTH + 1);
        assert_eq!(title_from("", &[]), "New chat");
    }

    fn saved(role: Role, parts: Vec<Part>) -> StoredMessage {
        StoredMessage {
            id: 1,
            conversation_id: 7,
            role,
            parts,
            status: MessageStatus::Complete,
            model: None,
            attachments: Vec::new(),
            created_at: 0,
            markdown: Vec::new(),
        }
    }

    /// The window gets each reply read as Markdown: streamed pieces that follow each other,
    /// saved messages with their texts read, and a new reply read from its own start.
    #[tokio::test]
    async fn replies_reach_the_window_read_as_markdown() {
        use switchboard_ipc::markdown::{Block, Inline, find};
        let (sender, receiver) = mpsc::unbounded_channel();
        let (events, mut window) = broadcast::channel(64);
        let forwarding = tokio::spawn(forward(receiver, events, 7));
        let mut next = async || window.recv().await.unwrap();

        sender
            .send(TurnEvent::TextDelta("# Plan\n\nFirst".into()))
            .unwrap();
        let ChatEvent::ReplyText { text, markdown, .. } = next().await else {
            panic!("not the reply's text");
        };
        assert_eq!(text, "# Plan\n\nFirst");
        assert!(
            markdown.settled.is_empty(),
            "no whole line after the blank one yet"
        );
        assert_eq!(markdown.tail.len(), 2);

        sender
            .send(TurnEvent::TextDelta(" step.\n\nSecond".into()))
            .unwrap();
        let ChatEvent::ReplyText { markdown, .. } = next().await else {
            panic!("not the reply's text");
        };
        assert_eq!(markdown.settled.len(), 1);
        assert_eq!(markdown.settled[0].start, 0);
        assert!(matches!(
            markdown.settled[0].blocks[0],
            Block::Heading { level: 1, .. }
        ));
        assert_eq!(
            markdown
                .tail
                .iter()
                .map(|(_, b)| b.clone())
                .collect::<Vec<_>>(),
            vec![
                Block::Paragraph(vec![Inline::Text("First step.".into())]),
                Block::Paragraph(vec![Inline::Text("Second".into())]),
            ]
        );

        let reply = saved(
            Role::Assistant,
            vec![Part::text("# Plan\n\nFirst step.\n\nSecond")],
        );
        sender.send(TurnEvent::Saved(reply)).unwrap();
        let ChatEvent::MessageSaved { message } = next().await else {
            panic!("not the saved reply");
        };
        let blocks = find(&message.markdown, &message.reply_text()).expect("read");
        assert_eq!(blocks.len(), 3);

        sender
            .send(TurnEvent::TextDelta("Next\n\nreply\n".into()))
            .unwrap();
        let ChatEvent::ReplyText { markdown, .. } = next().await else {
            panic!("not the reply's text");
        };
        assert_eq!(markdown.settled.len(), 1);
        assert_eq!(
            markdown.settled[0].start, 0,
            "a new reply is read from its start"
        );

        drop(sender);
        forwarding.await.unwrap();
    }

    #[test]
    fn tool_results_reach_the_window_read_and_the_persons_words_as_typed() {
        use switchboard_ipc::markdown::find;
        let results = for_window(saved(
            Role::User,
            vec![Part::ToolResult {
                call_id: "c".into(),
                content: vec![Part::text("**done**"), Part::text("")],
                is_error: false,
            }],
        ));
        assert_eq!(results.markdown.len(), 1);
        assert!(find(&results.markdown, "**done**").is_some());
        // A text that only repeats the structured content is read as nothing (the window
        // shows the data once); one that says more is read.
        let twin = for_window(saved(
            Role::User,
            vec![Part::ToolResult {
                call_id: "c".into(),
                content: vec![
                    Part::text(r#"{"rows": [1, 2]}"#),
                    Part::text("Two rows."),
                    Part::Structured {
                        value: serde_json::json!({"rows": [1, 2]}),
                        problem: None,
                    },
                ],
                is_error: false,
            }],
        ));
        assert_eq!(
            find(&twin.markdown, r#"{"rows": [1, 2]}"#).map(Vec::len),
            Some(0)
        );
        assert!(find(&twin.markdown, "Two rows.").is_some_and(|blocks| !blocks.is_empty()));
        let typed = for_window(saved(Role::User, vec![Part::text("*as typed*")]));
        assert!(typed.markdown.is_empty());
        assert!(find(&typed.markdown, "*as typed*").is_none());
    }
}
