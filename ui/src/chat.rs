//! The chat: the conversation on screen, its messages as they stream in, and the composer
//! with the paperclip menu. Every decision (which model, what is sent, what is saved) is
//! the core's; this shows what it reports.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::collections::HashMap;

use switchboard_ipc::chat::{
    Attachment, AttachmentContent, AttachmentKind, ChatEvent, Conversation, MessageStatus,
    ModelChoice, ModelsOverview, Part, Role, SendRequest, StoredMessage, ToolLabel, ToolProgress,
    TurnOutcome,
};
use switchboard_ipc::{ConnectorId, ConnectorState, ErrorCode, ErrorInfo};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::attach_menu::{
    AttachMenu, AttachmentChip, ChipState, LinkChip, PendingAttachment, SentAttachmentChip,
    audio_data_url, image_data_url,
};
use crate::components::{ActionError, CollectAny, Icon, Spinner, effect, keyed, run_action};
use crate::markdown::{self, Markdown, StreamedReply, StreamingMarkdown};
use crate::sort;
use crate::state::{Page, use_app_state};
use crate::tauri;
use switchboard_ipc::markdown::{Rendered, Streamed};
use switchboard_ipc::tools::{ApprovalAnswer, ToolApproval};

/// The chat's view state: the conversation list, the models, and the conversation on
/// screen with the reply being written.
#[derive(Clone, Copy)]
pub struct ChatState {
    pub conversations: RwSignal<Vec<Conversation>>,
    pub models: RwSignal<ModelsOverview>,
    pub models_loaded: RwSignal<bool>,
    /// The conversation on screen; `None` is a new chat not yet sent.
    pub current: RwSignal<Option<i64>>,
    pub messages: RwSignal<Vec<StoredMessage>>,
    /// The reply as it streams, until it is saved.
    pub streaming: RwSignal<StreamedReply>,
    pub replying: RwSignal<bool>,
    /// Why the last reply failed, shown with the next step.
    pub reply_error: RwSignal<Option<ErrorInfo>>,
    pub open_error: RwSignal<Option<ErrorInfo>>,
    /// Tool calls of the conversation on screen waiting for the person's answer.
    pub approvals: RwSignal<Vec<ToolApproval>>,
    /// Tool calls of the conversation on screen that run now, with their progress.
    pub running: RwSignal<HashMap<String, Option<ToolProgress>>>,
    /// The last resource a server said changed (with a count, so each news is news).
    pub resource_updated: RwSignal<Option<(u64, switchboard_ipc::ResourceUpdated)>>,
    /// The reply received since the last frame: the window repaints once per frame, not
    /// once per event.
    pending_reply: StoredValue<Option<Streamed>>,
    frame_requested: StoredValue<bool>,
    /// Events about the conversation on screen so far: an answer read before one of them
    /// must not undo what it said.
    events_seen: StoredValue<u64>,
    /// The messages events said were saved, each with the count of events at that moment.
    saved: StoredValue<Vec<(u64, i64)>>,
    /// Readings of the conversation asked for so far: an answer to an older one that arrives
    /// after a newer was asked for is dropped (read before a regenerate, it would bring back
    /// the reply the regenerate removed).
    readings: StoredValue<u64>,
    /// What the person typed and did not send, per conversation (`None`: the new chat): kept
    /// while they look at another conversation or at Settings, where the composer is gone.
    drafts: StoredValue<HashMap<Option<i64>, String>>,
}

impl ChatState {
    pub fn new() -> Self {
        Self {
            conversations: RwSignal::new(Vec::new()),
            models: RwSignal::new(ModelsOverview::default()),
            models_loaded: RwSignal::new(false),
            current: RwSignal::new(None),
            messages: RwSignal::new(Vec::new()),
            streaming: RwSignal::new(StreamedReply::default()),
            replying: RwSignal::new(false),
            reply_error: RwSignal::new(None),
            open_error: RwSignal::new(None),
            approvals: RwSignal::new(Vec::new()),
            running: RwSignal::new(HashMap::new()),
            resource_updated: RwSignal::new(None),
            pending_reply: StoredValue::new(None),
            frame_requested: StoredValue::new(false),
            events_seen: StoredValue::new(0),
            saved: StoredValue::new(Vec::new()),
            readings: StoredValue::new(0),
            drafts: StoredValue::new(HashMap::new()),
        }
    }

    /// The unsent text of the conversation on screen.
    fn draft(&self) -> String {
        let current = self.current.get_untracked();
        self.drafts
            .with_value(|drafts| drafts.get(&current).cloned().unwrap_or_default())
    }

    /// Keeps `text` as the unsent text of the conversation on screen.
    fn keep_draft(&self, text: String) {
        let current = self.current.get_untracked();
        self.drafts.update_value(|drafts| {
            if text.is_empty() {
                drafts.remove(&current);
            } else {
                drafts.insert(current, text);
            }
        });
    }

    fn forget_draft(&self, id: i64) {
        self.drafts.update_value(|drafts| {
            drafts.remove(&Some(id));
        });
    }

    /// The new chat's draft becomes the draft of the conversation it started.
    fn move_new_chat_draft(&self, to: i64) {
        self.drafts.update_value(|drafts| {
            if let Some(text) = drafts.remove(&None) {
                drafts.insert(Some(to), text);
            }
        });
    }

    pub fn load(&self) {
        let state = *self;
        spawn_local(async move {
            match tauri::list_conversations().await {
                Ok(list) => state.conversations.set(list),
                Err(err) => state.open_error.set(Some(err)),
            }
        });
        self.reload_models();
    }

    pub fn reload_models(&self) {
        let state = *self;
        spawn_local(async move {
            if let Ok(models) = tauri::models_overview().await {
                state.models.set(models);
            }
            state.models_loaded.set(true);
        });
    }

    /// A new, empty chat on screen.
    pub fn new_chat(&self) {
        self.current.set(None);
        self.approvals.set(Vec::new());
        self.messages.set(Vec::new());
        self.saved.set_value(Vec::new());
        self.clear_reply();
    }

    fn clear_reply(&self) {
        self.running.set(HashMap::new());
        self.streaming.set(StreamedReply::default());
        self.pending_reply.set_value(None);
        self.replying.set(false);
        self.reply_error.set(None);
    }

    /// Shows conversation `id` with its saved messages.
    pub fn open(&self, id: i64) {
        self.current.set(Some(id));
        self.messages.set(Vec::new());
        self.saved.set_value(Vec::new());
        self.clear_reply();
        self.open_error.set(None);
        self.approvals.set(Vec::new());
        self.refresh(id, true);
        let state = *self;
        spawn_local(async move {
            if let Ok(waiting) = tauri::waiting_approvals(id).await
                && state.current.get_untracked() == Some(id)
            {
                for approval in waiting {
                    state.add_approval(approval);
                }
            }
        });
    }

    /// Writes the last reply again, and reads the conversation again so the reply it replaced
    /// goes from the screen. A task of the chat's own, not of the button's: the new reply can
    /// be saved before the command answers, and the button (which sits under the last reply)
    /// is then replaced, which would cancel a task of its own before the reading.
    fn regenerate(&self, id: i64, busy: RwSignal<bool>, error: RwSignal<Option<ErrorInfo>>) {
        let state = *self;
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = tauri::regenerate_reply(id).await;
            if result.is_ok() {
                state.refresh(id, false);
            }
            let _ = busy.try_set(false);
            let _ = error.try_set(result.err());
        });
    }

    /// Reads the conversation's messages again (after an edit or a regenerate removed some).
    fn refresh(&self, id: i64, with_state: bool) {
        let state = *self;
        let events_before = state.events_seen.get_value();
        state.readings.update_value(|n| *n += 1);
        let reading = state.readings.get_value();
        spawn_local(async move {
            let answer = tauri::open_conversation(id).await;
            if state.readings.get_value() != reading {
                return;
            }
            match answer {
                Ok(view) if state.current.get_untracked() == Some(id) => {
                    // Events and this answer travel separately: a message saved after the
                    // history was read (a reply that finished meanwhile) is newer than every
                    // message read, and stays; so does the reply's state an event set.
                    let last_read = view.messages.iter().map(|m| m.id).max().unwrap_or(0);
                    let saved_since: Vec<i64> = state.saved.with_value(|saved| {
                        saved
                            .iter()
                            .filter(|(seen, _)| *seen > events_before)
                            .map(|(_, id)| *id)
                            .collect()
                    });
                    let mut messages = view.messages;
                    state.messages.with_untracked(|shown| {
                        messages.extend(
                            shown
                                .iter()
                                .filter(|m| m.id > last_read && saved_since.contains(&m.id))
                                .cloned(),
                        );
                    });
                    state.messages.set(messages);
                    if with_state && state.events_seen.get_value() == events_before {
                        state.replying.set(view.replying);
                    }
                    state.upsert(view.conversation);
                }
                Ok(_) => {}
                Err(err) => state.open_error.set(Some(err)),
            }
        });
    }

    fn upsert(&self, conversation: Conversation) {
        self.conversations.update(|list| {
            list.retain(|c| c.id != conversation.id);
            list.push(conversation);
            sort::sort_by(list, |a, b| {
                b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id))
            });
        });
    }

    fn is_current(&self, id: i64) -> bool {
        self.current.get_untracked() == Some(id)
    }

    pub fn on_event(&self, event: ChatEvent) {
        let about_current = match &event {
            ChatEvent::ReplyStarted { conversation_id }
            | ChatEvent::ReplyText {
                conversation_id, ..
            }
            | ChatEvent::MessageStatus {
                conversation_id, ..
            }
            | ChatEvent::ReplyEnded {
                conversation_id, ..
            }
            | ChatEvent::ToolApproval {
                conversation_id, ..
            }
            | ChatEvent::ToolApprovalClosed {
                conversation_id, ..
            }
            | ChatEvent::ToolRunning {
                conversation_id, ..
            } => self.is_current(*conversation_id),
            ChatEvent::MessageSaved { message } => self.is_current(message.conversation_id),
            ChatEvent::ConversationChanged { .. } | ChatEvent::ConversationRemoved { .. } => false,
        };
        if about_current {
            self.events_seen.update_value(|n| *n += 1);
            if let ChatEvent::MessageSaved { message } = &event {
                let seen = self.events_seen.get_value();
                self.saved
                    .update_value(|saved| saved.push((seen, message.id)));
            }
        }
        match event {
            ChatEvent::ConversationChanged { conversation } => self.upsert(conversation),
            ChatEvent::ConversationRemoved { id } => {
                self.conversations
                    .update(|list| list.retain(|c| c.id != id));
                self.forget_draft(id);
                if self.is_current(id) {
                    self.new_chat();
                }
            }
            ChatEvent::ReplyStarted { conversation_id } if self.is_current(conversation_id) => {
                self.clear_reply();
                self.replying.set(true);
            }
            ChatEvent::ReplyText {
                conversation_id,
                markdown,
                ..
            } if self.is_current(conversation_id) => self.push_reply(markdown),
            ChatEvent::MessageSaved { message } if self.is_current(message.conversation_id) => {
                if message.role == Role::Assistant {
                    // The saved reply replaces the streamed text.
                    self.pending_reply.set_value(None);
                    self.streaming.set(StreamedReply::default());
                }
                let finished: Vec<&String> = message
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolResult { call_id, .. } => Some(call_id),
                        _ => None,
                    })
                    .collect();
                if !finished.is_empty() {
                    self.running
                        .update(|running| running.retain(|id, _| !finished.contains(&id)));
                }
                self.add_message(message);
            }
            ChatEvent::MessageStatus {
                conversation_id,
                message_id,
                status,
            } if self.is_current(conversation_id) => {
                self.messages.update(|list| {
                    if let Some(m) = list.iter_mut().find(|m| m.id == message_id) {
                        m.status = status;
                    }
                });
            }
            ChatEvent::ToolApproval {
                conversation_id,
                approval,
            } if self.is_current(conversation_id) => self.add_approval(approval),
            ChatEvent::ToolApprovalClosed {
                conversation_id,
                approval_id,
            } if self.is_current(conversation_id) => {
                self.approvals
                    .update(|shown| shown.retain(|a| a.id != approval_id));
            }
            ChatEvent::ToolRunning {
                conversation_id,
                call_id,
                progress,
            } if self.is_current(conversation_id) => {
                self.running.update(|running| {
                    running.insert(call_id, progress);
                });
            }
            ChatEvent::ReplyEnded {
                conversation_id,
                outcome,
            } if self.is_current(conversation_id) => {
                self.running.set(HashMap::new());
                self.flush_reply();
                self.replying.set(false);
                self.streaming.set(StreamedReply::default());
                if let TurnOutcome::Failed { error } = outcome {
                    self.reply_error.set(Some(error));
                }
            }
            _ => {}
        }
    }

    /// Shows a waiting tool call once, whether the event or the opening's answer brings it.
    fn add_approval(&self, approval: ToolApproval) {
        self.approvals.update(|shown| {
            if !shown.iter().any(|a| a.id == approval.id) {
                shown.push(approval);
            }
        });
    }

    fn add_message(&self, message: StoredMessage) {
        self.messages.update(|list| {
            if !list.iter().any(|m| m.id == message.id) {
                list.push(message);
            }
        });
    }

    /// Adds to the streamed reply, shown at the next animation frame.
    fn push_reply(&self, streamed: Streamed) {
        self.pending_reply.update_value(|pending| match pending {
            Some(earlier) => markdown::merge(earlier, streamed),
            None => *pending = Some(streamed),
        });
        if self.frame_requested.get_value() {
            return;
        }
        self.frame_requested.set_value(true);
        let state = *self;
        let callback = Closure::once_into_js(move || {
            state.frame_requested.set_value(false);
            state.flush_reply();
        });
        let requested = web_sys::window()
            .map(|w| w.request_animation_frame(callback.unchecked_ref()))
            .is_some_and(|r| r.is_ok());
        if !requested {
            self.frame_requested.set_value(false);
            self.flush_reply();
        }
    }

    fn flush_reply(&self) {
        if let Some(streamed) = self.pending_reply.write_value().take() {
            self.streaming.update(|s| s.apply(streamed));
        }
    }

    /// The model a message goes to: the conversation's, else the default.
    pub fn model_of_current(&self) -> Option<ModelChoice> {
        let current = self.current.get();
        current
            .and_then(|id| {
                self.conversations.with(|list| {
                    list.iter()
                        .find(|c| c.id == id)
                        .and_then(|c| c.model.clone())
                })
            })
            .or_else(|| self.models.with(|m| m.default.clone()))
            .or_else(|| {
                self.models.with(|m| {
                    m.providers.iter().find_map(|p| {
                        p.models.first().map(|model| ModelChoice {
                            provider_id: p.id.clone(),
                            model: model.id.clone(),
                        })
                    })
                })
            })
    }

    pub fn has_models(&self) -> bool {
        self.models
            .with(|m| m.providers.iter().any(|p| !p.models.is_empty()))
    }
}

pub fn use_chat_state() -> ChatState {
    expect_context::<ChatState>()
}

/// Copies text to the clipboard; the browser may refuse (no focus), which changes nothing.
pub fn copy_text(text: String) {
    if let Some(window) = web_sys::window() {
        let promise = window.navigator().clipboard().write_text(&text);
        spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        });
    }
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let chat = use_chat_state();
    let app = use_app_state();
    let title = move || {
        chat.current.get().map_or_else(
            || "New chat".to_owned(),
            |id| {
                chat.conversations.with(|list| {
                    list.iter()
                        .find(|c| c.id == id)
                        .map(|c| c.title.clone())
                        .unwrap_or_default()
                })
            },
        )
    };
    view! {
        <section class="chat" data-testid="chat-page" aria-labelledby="chat-title">
            <header class="chat-header">
                <h1 class="chat-title" id="chat-title" data-testid="chat-title">
                    {title}
                </h1>
            </header>
            <ActionError error=chat.open_error />
            {move || {
                (chat.models_loaded.get() && !chat.has_models())
                    .then(|| {
                        view! {
                            <div class="chat-empty-models" data-testid="no-model">
                                <p>"Add a model to start chatting: Switchboard needs a model provider such as Anthropic, OpenAI or a local Ollama."</p>
                                <button
                                    type="button"
                                    class="button button-primary"
                                    data-testid="go-to-models"
                                    on:click=move |_| app.page.set(Page::Models)
                                >
                                    "Open Settings → Models"
                                </button>
                            </div>
                        }.into_any()
                    })
            }}
            <MessageList />
            <Composer />
        </section>
    }
}

#[component]
fn MessageList() -> impl IntoView {
    let chat = use_chat_state();
    let list = NodeRef::<leptos::html::Div>::new();
    let content = NodeRef::<leptos::html::Div>::new();
    // Follow the newest text while the person is at the end of the list; stop following
    // when they scroll up, and follow again when they scroll back down. Whether they were
    // at the end is read on their scrolls, before new text makes the list longer. Opening
    // a conversation starts at its end.
    let following = StoredValue::new(true);
    let follow = move || {
        if following.get_value()
            && let Some(el) = list.get_untracked()
        {
            el.set_scroll_top(el.scroll_height());
        }
    };
    effect(move || {
        chat.current.track();
        following.set_value(true);
        follow();
    });
    // The list grows after the data that grows it: when its views are built, when an image
    // loads, when a result is opened; and its window shrinks when the composer grows. A
    // resize observer hears each of these after layout and before the frame is painted,
    // so the end stays in view without a frame showing it elsewhere.
    let observer = StoredValue::new_local(None::<(web_sys::ResizeObserver, Closure<dyn Fn()>)>);
    let disconnect = move || {
        if let Some((observer, _callback)) = observer.try_update_value(Option::take).flatten() {
            observer.disconnect();
        }
    };
    effect(move || {
        let (Some(list), Some(content)) = (list.get(), content.get()) else {
            return;
        };
        disconnect();
        let callback = Closure::<dyn Fn()>::new(follow);
        if let Ok(watching) = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()) {
            watching.observe(&list);
            watching.observe(&content);
            observer.set_value(Some((watching, callback)));
        }
    });
    on_cleanup(disconnect);
    // Only the person scrolls up: the list's own scrolls go down, to the end. So a scroll
    // that ends up short of the end stops following only when it went up; text that grew
    // past the end before the scroll event was read does not count as leaving it.
    let last_top = StoredValue::new(0);
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            let top = el.scroll_top();
            if el.scroll_height() - top - el.client_height() < 48 {
                following.set_value(true);
            } else if top < last_top.get_value() {
                following.set_value(false);
            }
            last_top.set_value(top);
        }
    };
    let last_reply_id = Memo::new(move |_| {
        chat.messages.with(|list| {
            list.iter()
                .rev()
                .find(|m| m.role == Role::Assistant)
                .map(|m| m.id)
        })
    });
    view! {
        <div
            class="messages"
            node_ref=list
            data-testid="messages"
            aria-live="polite"
            on:scroll=on_scroll
        >
            <div class="messages-content" node_ref=content>
            {keyed(
                move || chat.messages.get(),
                |m| (m.id, m.status),
                move |message| view! { <MessageView message last_reply_id /> }.into_any(),
            )}
            {move || {
                chat.replying
                    .get()
                    .then(|| {
                        let reply = Signal::from(chat.streaming);
                        view! {
                            <article class="message message-assistant" data-testid="streaming-reply">
                                {move || {
                                    reply.with(StreamedReply::is_empty)
                                        .then(|| {
                                            view! {
                                                <p class="message-waiting">
                                                    <Spinner />
                                                    "Writing…"
                                                </p>
                                            }.into_any()
                                        })
                                }}
                                <StreamingMarkdown reply on_link=Callback::new(open_link) />
                            </article>
                        }.into_any()
                    })
            }}
            {keyed(
                move || chat.approvals.get(),
                |approval| approval.id.clone(),
                |approval| view! { <ApprovalCard approval /> }.into_any(),
            )}
            <ReplyError />
            </div>
        </div>
    }
}

fn open_link(url: String) {
    let chat = use_chat_state();
    spawn_local(async move {
        if let Err(err) = tauri::open_link(url).await {
            chat.reply_error.set(Some(err));
        }
    });
}

/// Why the last reply failed, with the button that moves on.
#[component]
fn ReplyError() -> impl IntoView {
    let chat = use_chat_state();
    let app = use_app_state();
    let busy = RwSignal::new(false);
    move || {
        chat.reply_error.get().map(|error| {
            let to_models = matches!(
                error.code,
                ErrorCode::CredentialsRejected | ErrorCode::NoModel | ErrorCode::ModelNotFound
            );
            // A pause after many tool rounds is not a failure: going on is the choice.
            let go_on = if error.code == ErrorCode::ToolRoundsReached {
                "Go on"
            } else {
                "Retry"
            };
            // Not tied to this view: the reply that starts clears the error, and with it this
            // view, possibly before the command has answered.
            let retry = move |_| {
                let Some(id) = chat.current.get_untracked() else {
                    return;
                };
                busy.set(true);
                spawn_local(async move {
                    let result = tauri::retry_reply(id).await;
                    busy.try_set(false);
                    if let Err(err) = result {
                        chat.reply_error.set(Some(err));
                    }
                });
            };
            view! {
                <div class="reply-error" role="alert" data-testid="reply-error">
                    <p data-testid="reply-error-message">{error.message.clone()}</p>
                    <div class="reply-error-actions">
                        {to_models
                            .then(|| {
                                view! {
                                    <button
                                        type="button"
                                        class="button"
                                        data-testid="reply-error-models"
                                        on:click=move |_| app.page.set(Page::Models)
                                    >
                                        "Open Settings → Models"
                                    </button>
                                }.into_any()
                            })}
                        <button
                            type="button"
                            class="button button-primary"
                            data-testid="retry-reply"
                            disabled=move || busy.get()
                            on:click=retry
                        >
                            {go_on}
                        </button>
                    </div>
                </div>
            }
            .into_any()
        })
    }
}

#[component]
fn MessageView(message: StoredMessage, last_reply_id: Memo<Option<i64>>) -> impl IntoView {
    let text = message.reply_text();
    let tool_calls: Vec<(String, String, serde_json::Value, Option<ToolLabel>)> = message
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::ToolCall {
                id,
                name,
                arguments,
                label,
            } => Some((id.clone(), name.clone(), arguments.clone(), label.clone())),
            _ => None,
        })
        .collect();
    let is_tool_results = !message.parts.is_empty()
        && message
            .parts
            .iter()
            .all(|p| matches!(p, Part::ToolResult { .. }));
    if is_tool_results {
        return view! {
            <div class="tool-results" data-testid="tool-results">
                {message
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolResult {
                            call_id,
                            content,
                            is_error,
                        } => Some(view! { <ToolResultView call_id=call_id.clone() content=content.clone() is_error=*is_error rendered=message.markdown.clone() /> }),
                        _ => None,
                    })
                    .collect_any()}
            </div>
        }
        .into_any();
    }
    match message.role {
        Role::User => view! { <UserMessage message text /> }.into_any(),
        Role::Assistant => {
            let id = message.id;
            let unfinished = message.status == MessageStatus::Unfinished;
            let copy = text.clone();
            view! {
                <article class="message message-assistant" data-testid="assistant-message">
                    {(!text.is_empty())
                        .then(|| {
                            view! {
                                <Markdown
                                    blocks=markdown::blocks_of(&message.markdown, text.clone())
                                    on_link=Callback::new(open_link)
                                />
                            }.into_any()
                        })}
                    {tool_calls
                        .into_iter()
                        .map(|(id, name, arguments, label)| {
                            view! { <ToolCallView id name arguments label /> }.into_any()
                        })
                        .collect_any()}
                    <footer class="message-actions">
                        {unfinished
                            .then(|| {
                                view! {
                                    <span class="message-tag" data-testid="unfinished">
                                        "Unfinished"
                                    </span>
                                }.into_any()
                            })}
                        {(!copy.is_empty()).then(|| view! { <CopyButton text=copy /> }.into_any())}
                        {move || {
                            (last_reply_id.get() == Some(id)).then(|| view! { <RegenerateButton /> }.into_any())
                        }}
                    </footer>
                </article>
            }
            .into_any()
        }
    }
}

#[component]
fn UserMessage(message: StoredMessage, text: String) -> impl IntoView {
    let chat = use_chat_state();
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(text.clone());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let failed = message.status == MessageStatus::Failed;
    let id = message.id;
    let conversation_id = message.conversation_id;
    let attachments = message.attachments.clone();
    let copy = text.clone();
    let send_edit = move || {
        let text = draft.get_untracked();
        let request = switchboard_ipc::chat::EditMessageRequest {
            conversation_id,
            message_id: id,
            text,
        };
        run_action(busy, true, false, error, async move {
            tauri::edit_message(request).await?;
            editing.set(false);
            chat.reply_error.set(None);
            chat.refresh(conversation_id, false);
            Ok(())
        });
    };
    view! {
        <article class="message message-user" class:message-failed=failed data-testid="user-message">
            {(!attachments.is_empty())
                .then(|| {
                    view! {
                        <div class="chips chips-sent">
                            {attachments
                                .iter()
                                .cloned()
                                .map(|attachment: Attachment| {
                                    view! { <SentAttachmentChip attachment /> }.into_any()
                                })
                                .collect_any()}
                        </div>
                    }.into_any()
                })}
            {move || {
                if editing.get() {
                    view! {
                        <div class="message-edit">
                            <textarea
                                class="input composer-input"
                                data-testid="edit-input"
                                aria-label="Edit your message"
                                prop:value=move || draft.get()
                                on:input=move |ev| draft.set(event_target_value(&ev))
                                on:keydown=move |ev: KeyboardEvent| {
                                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                                        ev.prevent_default();
                                        send_edit();
                                    } else if ev.key() == "Escape" {
                                        editing.set(false);
                                    }
                                }
                            ></textarea>
                            <div class="message-edit-actions">
                                <button type="button" class="button" on:click=move |_| editing.set(false)>
                                    "Cancel"
                                </button>
                                <button
                                    type="button"
                                    class="button button-primary"
                                    data-testid="edit-send"
                                    disabled=move || busy.get() || chat.replying.get()
                                    on:click=move |_| send_edit()
                                >
                                    "Send"
                                </button>
                            </div>
                            <ActionError error />
                        </div>
                    }
                        .into_any()
                } else {
                    view! { <p class="message-text" data-testid="user-text">{text.clone()}</p> }
                        .into_any()
                }
            }}
            <footer class="message-actions">
                {failed
                    .then(|| {
                        view! {
                            <span class="message-tag message-tag-danger" data-testid="not-answered">
                                "Not answered"
                            </span>
                        }.into_any()
                    })}
                <CopyButton text=copy />
                <button
                    type="button"
                    class="link-button"
                    data-testid="edit-message"
                    disabled=move || chat.replying.get()
                    on:click=move |_| {
                        draft.set(message.parts.iter().filter_map(|p| match p {
                            Part::Text { text } => Some(text.clone()),
                            _ => None,
                        }).collect::<Vec<_>>().join("\n\n"));
                        editing.set(true);
                    }
                >
                    "Edit"
                </button>
            </footer>
        </article>
    }
}

#[component]
fn CopyButton(text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <button
            type="button"
            class="link-button"
            data-testid="copy-message"
            on:click=move |_| {
                copy_text(text.clone());
                copied.set(true);
                set_timeout(move || copied.set(false), std::time::Duration::from_millis(1500));
            }
        >
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

#[component]
fn RegenerateButton() -> impl IntoView {
    let chat = use_chat_state();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    view! {
        <button
            type="button"
            class="link-button"
            data-testid="regenerate"
            disabled=move || busy.get() || chat.replying.get()
            on:click=move |_| {
                if let Some(id) = chat.current.get_untracked() {
                    chat.regenerate(id, busy, error);
                }
            }
        >
            "Write again"
        </button>
        <ActionError error />
    }
}

/// The `@word` being typed at the caret, if any: the menu opens filtered by it.
pub fn mention_at(text: &str, caret: usize) -> Option<(usize, String)> {
    let before = text.get(..caret)?;
    let start = before.rfind('@')?;
    let word = &before[start + 1..];
    let at_word_start = start == 0
        || before[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_whitespace);
    (at_word_start && !word.chars().any(char::is_whitespace)).then(|| (start, word.to_owned()))
}

#[component]
fn Composer() -> impl IntoView {
    let chat = use_chat_state();
    let app = use_app_state();
    // Each conversation keeps its own unsent text; the composer shows the one on screen.
    let draft = RwSignal::new(chat.draft());
    Effect::watch(
        move || chat.current.get(),
        move |_, _, _| draft.set(chat.draft()),
        false,
    );
    effect(move || chat.keep_draft(draft.get()));
    let chips = RwSignal::new(Vec::<PendingAttachment>::new());
    // A chip not yet sent follows its resource: read again when the server says it changed.
    effect(move || {
        if let Some((_, updated)) = chat.resource_updated.get() {
            chips.with_untracked(|list| list.iter().for_each(|chip| chip.refresh_if(&updated)));
        }
    });
    let menu_open = RwSignal::new(false);
    let menu_query = RwSignal::new(String::new());
    let mention_start = StoredValue::new(None::<usize>);
    let error = RwSignal::new(None::<ErrorInfo>);
    let sending = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Textarea>::new();

    let chips_ready = move || {
        chips.with(|list| {
            list.iter()
                .all(|c| matches!(c.state.get(), ChipState::Ready(_)))
        })
    };
    let can_send = move || {
        !sending.get()
            && !chat.replying.get()
            && chips_ready()
            && (!draft.with(|d| d.trim().is_empty()) || !chips.with(Vec::is_empty))
    };

    let send = move || {
        if !can_send() {
            return;
        }
        let text = draft.get_untracked();
        let attachments: Vec<Attachment> = chips.with_untracked(|list| {
            list.iter()
                .filter_map(|c| match c.state.get_untracked() {
                    ChipState::Ready(a) => Some(a),
                    _ => None,
                })
                .collect()
        });
        let model = chat.model_of_current();
        run_action(sending, true, false, error, async move {
            let id = match chat.current.get_untracked() {
                Some(id) => id,
                None => {
                    let conversation = tauri::new_conversation(text.clone(), model.clone()).await?;
                    chat.upsert(conversation.clone());
                    // Still unsent: if sending fails, the text stays in this conversation.
                    chat.move_new_chat_draft(conversation.id);
                    chat.current.set(Some(conversation.id));
                    conversation.id
                }
            };
            chat.reply_error.set(None);
            let message = tauri::send_message(SendRequest {
                conversation_id: Some(id),
                text,
                attachments,
                model,
            })
            .await?;
            // Only now is the message safe in the history: the draft can go (the person may
            // have gone to another conversation meanwhile, whose draft stays).
            if chat.current.get_untracked() == Some(id) {
                draft.set(String::new());
            } else {
                chat.forget_draft(id);
            }
            chips.set(Vec::new());
            chat.add_message(message);
            Ok(())
        });
    };

    let on_input = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        draft.set(value.clone());
        let caret = input
            .get_untracked()
            .and_then(|el| el.selection_start().ok().flatten())
            .map(|c| utf16_to_byte(&value, c as usize))
            .unwrap_or(value.len());
        match mention_at(&value, caret) {
            Some((start, word)) => {
                mention_start.set_value(Some(start));
                menu_query.set(word);
                menu_open.set(true);
            }
            None if mention_start.get_value().is_some() => {
                mention_start.set_value(None);
                menu_open.set(false);
            }
            None => {}
        }
    };

    let on_attach = Callback::new(move |chip: PendingAttachment| {
        // The `@word` that opened the menu is replaced by the chip.
        if let Some(start) = mention_start.get_value() {
            draft.update(|d| {
                let end = d[start..]
                    .find(char::is_whitespace)
                    .map_or(d.len(), |n| start + n);
                d.replace_range(start..end, "");
            });
            mention_start.set_value(None);
        }
        chips.update(|list| list.push(chip));
    });
    let on_close = Callback::new(move |()| {
        menu_open.set(false);
        mention_start.set_value(None);
        if let Some(el) = input.get_untracked() {
            let _ = el.focus();
        }
    });
    let on_fix = Callback::new(move |id: ConnectorId| {
        menu_open.set(false);
        app.open_connector(id);
    });
    let remove_chip =
        Callback::new(move |key: u64| chips.update(|list| list.retain(|c| c.key != key)));

    let stop = move |_| {
        if let Some(id) = chat.current.get_untracked() {
            spawn_local(async move {
                let _ = tauri::stop_reply(id).await;
            });
        }
    };

    view! {
        <div class="composer" data-testid="composer">
            <AttachMenu
                open=menu_open
                initial_query=Signal::derive(move || menu_query.get())
                on_attach
                on_close
                on_fix_connector=on_fix
            />
            {move || {
                (!chips.with(Vec::is_empty))
                    .then(|| {
                        view! {
                            <div class="chips" data-testid="composer-chips">
                                {keyed(
                                    move || chips.get(),
                                    |c| c.key,
                                    move |chip| {
                                        view! { <AttachmentChip chip on_remove=remove_chip /> }
                                            .into_any()
                                    },
                                )}
                            </div>
                        }.into_any()
                    })
            }}
            <textarea
                class="composer-input"
                data-testid="composer-input"
                aria-label="Message"
                placeholder="Write a message. Type @ or use the paperclip to attach a connector's resources and prompts."
                rows="3"
                node_ref=input
                prop:value=move || draft.get()
                on:input=on_input
                on:keydown=move |ev: KeyboardEvent| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && !menu_open.get_untracked() {
                        ev.prevent_default();
                        send();
                    }
                }
            ></textarea>
            <div class="composer-bar">
                <button
                    type="button"
                    class="icon-button composer-attach"
                    data-testid="paperclip"
                    aria-label="Attach resources and prompts"
                    title="Attach resources and prompts"
                    aria-controls="attach-menu"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| {
                        menu_query.set(String::new());
                        mention_start.set_value(None);
                        menu_open.update(|open| *open = !*open);
                    }
                >
                    <PaperclipIcon />
                </button>
                {move || chat.has_models().then(|| view! { <ModelPicker /> }.into_any())}
                <span class="composer-hint">"Enter sends · Shift+Enter starts a new line"</span>
                {move || {
                    if chat.replying.get() {
                        view! {
                            <button
                                type="button"
                                class="button"
                                data-testid="stop-reply"
                                on:click=stop
                            >
                                "Stop"
                            </button>
                        }
                            .into_any()
                    } else {
                        view! {
                            <button
                                type="button"
                                class="button button-primary"
                                data-testid="send"
                                disabled=move || !can_send()
                                on:click=move |_| send()
                            >
                                {move || sending.get().then(|| view! { <Spinner /> }.into_any())}
                                "Send"
                            </button>
                        }
                            .into_any()
                    }
                }}
            </div>
            {move || {
                (!chips_ready())
                    .then(|| {
                        view! {
                            <p class="composer-note">
                                "Sending waits until every attachment is read; remove any that could not be."
                            </p>
                        }.into_any()
                    })
            }}
            <ActionError error />
        </div>
    }
}

/// A caret position from the browser (UTF-16 units) as a byte index into `text`.
fn utf16_to_byte(text: &str, utf16: usize) -> usize {
    let mut units = 0;
    for (index, ch) in text.char_indices() {
        if units >= utf16 {
            return index;
        }
        units += ch.len_utf16();
    }
    text.len()
}

/// The model this conversation talks to, from every provider's list.
#[component]
fn ModelPicker() -> impl IntoView {
    let chat = use_chat_state();
    let on_choose = Callback::new(
        move |choice: ModelChoice| match chat.current.get_untracked() {
            Some(id) => spawn_local(async move {
                match tauri::set_conversation_model(id, choice).await {
                    Ok(conversation) => chat.upsert(conversation),
                    Err(err) => chat.reply_error.set(Some(err)),
                }
            }),
            // A new chat: remember it as the model of the next conversation.
            None => chat.models.update(|m| m.default = Some(choice)),
        },
    );
    view! {
        <ModelSelect
            selected=Signal::derive(move || chat.model_of_current())
            on_choose
            class="select composer-model"
            testid="model-picker"
            label="Model"
        />
    }
}

/// A choice among every provider's models ("Anthropic · claude-…"): the composer's picker
/// and the default in Settings → Models.
#[component]
pub fn ModelSelect(
    #[prop(into)] selected: Signal<Option<ModelChoice>>,
    on_choose: Callback<ModelChoice>,
    class: &'static str,
    testid: &'static str,
    #[prop(optional)] label: Option<&'static str>,
) -> impl IntoView {
    let chat = use_chat_state();
    // An option's value: provider id and model id, split by a character neither contains.
    let value_of = |provider_id: &str, model: &str| format!("{provider_id}\u{1f}{model}");
    let selected_value = move || {
        selected
            .get()
            .map(|c| value_of(&c.provider_id, &c.model))
            .unwrap_or_default()
    };
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if let Some((provider_id, model)) = value.split_once('\u{1f}') {
            on_choose.run(ModelChoice {
                provider_id: provider_id.to_owned(),
                model: model.to_owned(),
            });
        }
    };
    view! {
        <select
            class=class
            data-testid=testid
            aria-label=label
            prop:value=selected_value
            on:change=on_change
        >
            {move || {
                let selected = &selected_value();
                chat.models
                    .with(|m| {
                        m.providers
                            .iter()
                            .flat_map(|p| {
                                p.models.iter().map(move |model| {
                                    let value = value_of(&p.id, &model.id);
                                    let is = value == *selected;
                                    let name = model.display_name.as_deref().unwrap_or(&model.id);
                                    let label = format!("{} · {name}", p.name);
                                    view! {
                                        <option value=value selected=is>
                                            {label}
                                        </option>
                                    }.into_any()
                                })
                            })
                            .collect_any()
                    })
            }}
        </select>
    }
}

#[component]
fn PaperclipIcon() -> impl IntoView {
    view! {
        <Icon d="M14.5 9.5l-5.3 5.3a3.2 3.2 0 0 1-4.5-4.5l5.6-5.6a2.1 2.1 0 0 1 3 3l-5.5 5.5a1 1 0 0 1-1.5-1.5l5-5" size=18 stroke_width="1.6" grid=20 />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_is_an_at_at_the_start_of_a_word() {
        assert_eq!(mention_at("@rea", 4), Some((0, "rea".to_owned())));
        assert_eq!(mention_at("look at @doc", 12), Some((8, "doc".to_owned())));
        assert_eq!(mention_at("mail ada@example.com", 20), None);
        assert_eq!(mention_at("@doc and more", 13), None);
        assert_eq!(mention_at("@", 1), Some((0, String::new())));
    }

    #[test]
    fn carets_count_utf16_units() {
        assert_eq!(utf16_to_byte("aé👋b", 1), 1);
        assert_eq!(utf16_to_byte("aé👋b", 2), 3);
        assert_eq!(utf16_to_byte("aé👋b", 4), 7);
        assert_eq!(utf16_to_byte("aé👋b", 9), 8);
    }
}

/// A tool call the model made: which connector's tool, its arguments (folded), and while
/// it runs, its progress and a Stop.
#[component]
fn ToolCallView(
    id: String,
    name: String,
    arguments: serde_json::Value,
    label: Option<ToolLabel>,
) -> impl IntoView {
    let chat = use_chat_state();
    let call = id.clone();
    let running = move || chat.running.with(|running| running.get(&call).cloned());
    let (shown, connector) = match &label {
        Some(label) => (label.shown().to_owned(), Some(label.connector_name.clone())),
        None => (name.clone(), None),
    };
    let shown_for_stop = shown.clone();
    let stop = {
        let call = id.clone();
        move |_| {
            let Some(conversation) = chat.current.get_untracked() else {
                return;
            };
            let call = call.clone();
            spawn_local(async move {
                // A call that ended meanwhile has nothing to stop.
                let _ = tauri::stop_tool_call(conversation, call).await;
            });
        }
    };
    view! {
        <div class="tool-call" data-testid="tool-call" data-call=id data-tool=name.clone()>
            <details class="tool-block">
                <summary title=format!("The model calls it {name}")>
                    <span class="tool-block-label">"Used "</span>
                    <span class="tool-block-tool" data-testid="tool-call-name">{shown}</span>
                    {connector
                        .map(|c| {
                            view! {
                                <span class="tool-block-connector" data-testid="tool-call-connector">
                                    " from " {c}
                                </span>
                            }.into_any()
                        })}
                </summary>
                <ArgumentsView value=arguments />
            </details>
            {move || {
                running()
                    .map(|progress| {
                        let (value, total, message) = match progress {
                            Some(p) => (Some(p.progress), p.total, p.message),
                            None => (None, None, None),
                        };
                        let percent = value
                            .zip(total)
                            .map(|(v, t)| {
                                // Whole percents: `as` saturates, and a NaN (a total of 0) is 0.
                                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                                let percent = (v / t * 100.0).clamp(0.0, 100.0).round() as u8;
                                format!("{percent}%")
                            });
                        view! {
                            <div class="tool-running" data-testid="tool-running" role="status">
                                <Spinner />
                                <span class="tool-running-label">"Running…"</span>
                                {match (value, total) {
                                    (Some(v), Some(t)) => {
                                        view! {
                                            <progress
                                                class="tool-progress"
                                                data-testid="tool-progress"
                                                // Numbers set as properties, written by the
                                                // page: Rust's float formatting is not in the wasm.
                                                prop:max=t
                                                prop:value=v
                                            ></progress>
                                        }
                                            .into_any()
                                    }
                                    _ => {
                                        view! {
                                            <progress class="tool-progress" data-testid="tool-progress"></progress>
                                        }
                                            .into_any()
                                    }
                                }}
                                {percent
                                    .map(|p| {
                                        view! {
                                            <span class="tool-progress-percent" data-testid="tool-progress-percent">
                                                {p}
                                            </span>
                                        }.into_any()
                                    })}
                                {message
                                    .map(|m| {
                                        view! {
                                            <span class="tool-progress-message" data-testid="tool-progress-message">
                                                {m}
                                            </span>
                                        }.into_any()
                                    })}
                                <button
                                    type="button"
                                    class="button button-secondary tool-stop"
                                    aria-label=format!("Stop {shown_for_stop}")
                                    data-testid="tool-stop"
                                    on:click=stop.clone()
                                >
                                    "Stop"
                                </button>
                            </div>
                        }.into_any()
                    })
            }}
        </div>
    }
}

/// "Sign in again" beside a tool refused for want of access: the connector's sign-in, which
/// asks for what the server named on top of what was granted. Then it says how it went.
#[component]
fn StepUpButton(connector_id: String) -> impl IntoView {
    let app = use_app_state();
    let id = ConnectorId(connector_id);
    let started = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let state = {
        let id = id.clone();
        move || {
            app.connectors
                .with(|list| list.iter().find(|c| c.id == id).map(|c| c.state))
        }
    };
    // Only a sign-in seen under way can have finished: until then the connector still
    // shows its state from before.
    let under_way = RwSignal::new(false);
    effect({
        let state = state.clone();
        move || {
            if started.get() && state() == Some(ConnectorState::SigningIn) {
                under_way.set(true);
            }
        }
    });
    let sign_in = move |_| {
        let id = id.clone();
        under_way.set(false);
        started.set(true);
        error.set(None);
        spawn_local(async move {
            if let Err(err) = tauri::sign_in(id).await {
                error.set(Some(err));
                started.set(false);
            }
        });
    };
    view! {
        <div class="tool-step-up" data-testid="tool-step-up">
            {move || match (started.get(), under_way.get(), state()) {
                (true, _, Some(ConnectorState::SigningIn)) => {
                    view! {
                        <span class="tool-step-up-status" data-testid="tool-step-up-status">
                            <Spinner />
                            " Continue in your browser…"
                        </span>
                    }
                        .into_any()
                }
                (true, false, _) => {
                    view! {
                        <span class="tool-step-up-status" data-testid="tool-step-up-status">
                            <Spinner />
                            " Opening your browser…"
                        </span>
                    }
                        .into_any()
                }
                (true, true, Some(ConnectorState::Connected)) => {
                    view! {
                        <span class="tool-step-up-status" data-testid="tool-step-up-status">
                            "Signed in again. Ask again to use the tool."
                        </span>
                    }
                        .into_any()
                }
                (started, _, _) => {
                    view! {
                        {started
                            .then(|| {
                                view! {
                                    <span class="tool-step-up-status" data-testid="tool-step-up-status">
                                        "Signing in did not finish. "
                                    </span>
                                }.into_any()
                            })}
                        <button
                            type="button"
                            class="button button-secondary"
                            data-testid="tool-step-up-button"
                            on:click=sign_in.clone()
                        >
                            "Sign in again"
                        </button>
                    }
                        .into_any()
                }
            }}
            <ActionError error />
        </div>
    }
}

/// What came of a tool call: text as Markdown, images shown, sounds playable, resources as
/// chips (embedded ones previewed, links read when opened), a structured result as a tree
/// (with the problem when it broke its promised form), failures in words.
#[component]
fn ToolResultView(
    call_id: String,
    content: Vec<Part>,
    is_error: bool,
    /// The message's texts as the core read them.
    rendered: Vec<Rendered>,
) -> impl IntoView {
    let chat = use_chat_state();
    let label = chat.messages.with_untracked(|messages| {
        messages.iter().rev().find_map(|m| {
            m.parts.iter().find_map(|p| match p {
                Part::ToolCall { id, label, .. } if *id == call_id => label.clone(),
                _ => None,
            })
        })
    });
    let connector_name = label
        .as_ref()
        .map(|l| l.connector_name.clone())
        .unwrap_or_default();
    // Refused for want of access: signing in again asks for it (a step-up).
    let step_up = (is_error
        && content.iter().any(
            |p| matches!(p, Part::Text { text } if text == switchboard_ipc::tools::NEEDS_MORE_ACCESS),
        ))
    .then(|| label.as_ref().map(|l| l.connector_id.clone()))
    .flatten();
    let title = match (&label, is_error) {
        (Some(label), false) => format!("Result of {}", label.shown()),
        (Some(label), true) => format!("{} did not run or failed", label.shown()),
        (None, false) => "The tool's result".to_owned(),
        (None, true) => "The tool did not run or failed".to_owned(),
    };
    let body = content
        .into_iter()
        .filter_map(|part| {
            Some(match part {
                Part::Text { text } => {
                    // Read as nothing: it only repeats the structured content shown below.
                    let blocks = markdown::blocks_of(&rendered, text);
                    if blocks.is_empty() {
                        return None;
                    }
                    view! {
                        <div class="tool-result-text" data-testid="tool-result-text">
                            <Markdown blocks on_link=Callback::new(open_link) />
                        </div>
                    }
                    .into_any()
                }
                Part::Image { media_type, data } => match image_data_url(&media_type, &data) {
                    Some(src) => view! {
                        <img
                            class="tool-result-image"
                            data-testid="tool-result-image"
                            src=src
                            alt="An image the tool returned"
                        />
                    }
                    .into_any(),
                    None => view! {
                        <p class="tool-result-muted">"An image (" {media_type} ") that can't be shown."</p>
                    }
                    .into_any(),
                },
                Part::Audio { media_type, data } => {
                    let size = crate::components::format_size((data.len() / 4 * 3) as u64);
                    let src = audio_data_url(&media_type, &data);
                    view! {
                        <figure class="tool-result-audio" data-testid="tool-result-audio">
                            {src.map(|src| view! { <audio controls=true src=src></audio> }.into_any())}
                            <figcaption>"A sound (" {media_type} ", " {size} ")"</figcaption>
                        </figure>
                    }
                    .into_any()
                }
                Part::Link {
                    connector_id,
                    uri,
                    name,
                    title,
                    description,
                    ..
                } => view! {
                    <LinkChip
                        connector_id
                        connector_name=connector_name.clone()
                        uri
                        name=title.unwrap_or(name)
                        description=description.unwrap_or_default()
                    />
                }
                .into_any(),
                Part::Resource {
                    uri,
                    name,
                    mime_type,
                    text,
                } => {
                    let attachment = Attachment {
                        kind: AttachmentKind::Resource,
                        connector_id: String::new(),
                        connector_name: connector_name.clone(),
                        name: name.clone(),
                        uri: Some(uri.clone()),
                        size: text.len() as u64,
                        truncated: false,
                        note: None,
                        content: AttachmentContent::Parts {
                            parts: vec![Part::Resource {
                                uri,
                                name,
                                mime_type,
                                text,
                            }],
                        },
                    };
                    view! { <SentAttachmentChip attachment /> }.into_any()
                }
                Part::Structured { value, problem } => view! {
                    {problem
                        .map(|problem| {
                            view! {
                                <p class="tool-result-problem" role="alert" data-testid="tool-result-problem">
                                    {problem}
                                </p>
                            }.into_any()
                        })}
                    <div class="tool-structured" data-testid="tool-structured">
                        <ArgumentsView value />
                    </div>
                }
                .into_any(),
                Part::ToolCall { .. } | Part::ToolResult { .. } => return None,
            })
        })
        .collect_any();
    view! {
        <details
            class="tool-block tool-result"
            class:tool-result-error=is_error
            data-testid="tool-result"
            data-call=call_id
            data-error=is_error.to_string()
            open=true
        >
            <summary data-testid="tool-result-title">{title}</summary>
            <div class="tool-result-body">
                {body}
                {step_up.map(|connector_id| view! { <StepUpButton connector_id /> }.into_any())}
            </div>
        </details>
    }
}

/// Arguments as a readable form: one row per field, nested objects and lists inside, long
/// values folded. Model text, shown as text.
#[component]
fn ArgumentsView(value: serde_json::Value) -> impl IntoView {
    fn row(key: Option<String>, value: &serde_json::Value) -> AnyView {
        let label = key.map(|k| view! { <dt class="argument-name">{k}</dt> }.into_any());
        match value {
            serde_json::Value::Object(map) if !map.is_empty() => view! {
                {label}
                <dd class="argument-value">
                    <dl class="arguments">
                        {map.iter().map(|(k, v)| row(Some(k.clone()), v)).collect_any()}
                    </dl>
                </dd>
            }
            .into_any(),
            serde_json::Value::Array(items) if !items.is_empty() => view! {
                {label}
                <dd class="argument-value">
                    <dl class="arguments">
                        {items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| row(Some(format!("{}", i + 1)), v))
                            .collect_any()}
                    </dl>
                </dd>
            }
            .into_any(),
            other => {
                let text = match other {
                    serde_json::Value::String(s) => s.clone(),
                    other => crate::components::json_text(other),
                };
                let long = text.chars().count() > 200;
                view! {
                    {label}
                    <dd class="argument-value">
                        {if long {
                            let short: String = text.chars().take(200).collect();
                            view! {
                                <details class="argument-long">
                                    <summary>{format!("{short}…")}</summary>
                                    <span class="argument-text">{text}</span>
                                </details>
                            }
                                .into_any()
                        } else {
                            view! { <span class="argument-text">{text}</span> }.into_any()
                        }}
                    </dd>
                }
                .into_any()
            }
        }
    }
    let empty = match &value {
        serde_json::Value::Object(map) => map.is_empty(),
        serde_json::Value::Null => true,
        _ => false,
    };
    if empty {
        return view! { <p class="arguments-none">"No arguments."</p> }.into_any();
    }
    let rows = match &value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| row(Some(k.clone()), v))
            .collect_any()
            .into_any(),
        other => row(None, other),
    };
    view! { <dl class="arguments" data-testid="tool-arguments">{rows}</dl> }.into_any()
}

/// A tool call waiting for the person: who asks for what, the arguments, today's count,
/// and three answers of equal weight (none is the default).
#[component]
fn ApprovalCard(approval: ToolApproval) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let id = StoredValue::new(approval.id.clone());
    let answer = move |answer: ApprovalAnswer| {
        run_action(busy, true, false, error, async move {
            tauri::answer_tool_approval(id.get_value(), answer).await
        });
    };
    let tool_label = approval
        .title
        .clone()
        .unwrap_or_else(|| approval.tool.clone());
    let count = match approval.limit_today {
        Some(limit) => format!("{} of {limit} today", approval.used_today),
        None if approval.used_today == 0 => "Not used today yet".to_owned(),
        None if approval.used_today == 1 => "Used once today".to_owned(),
        None => format!("Used {} times today", approval.used_today),
    };
    let heading_id = format!("approval-{}", approval.id);
    let labelled_by = heading_id.clone();
    view! {
        <section
            class="approval-card"
            data-testid="approval-card"
            data-tool=approval.tool.clone()
            role="group"
            aria-labelledby=labelled_by
        >
            <h3 class="approval-title" id=heading_id>
                {format!("{} wants to use ", approval.connector_name)}
                <span class="approval-tool">{tool_label}</span>
            </h3>
            {approval
                .changed
                .then(|| {
                    view! {
                        <p class="approval-changed" data-testid="approval-changed">
                            "The server changed this tool since you allowed it."
                        </p>
                    }.into_any()
                })}
            {approval
                .description
                .clone()
                .map(|text| view! { <p class="approval-description">{text}</p> }.into_any())}
            <ArgumentsView value=approval.arguments.clone() />
            <p class="approval-count" data-testid="approval-count">{count}</p>
            <div class="approval-actions">
                <button
                    type="button"
                    class="button"
                    data-testid="approval-allow-once"
                    disabled=move || busy.get()
                    on:click=move |_| answer(ApprovalAnswer::AllowOnce)
                >
                    "Allow once"
                </button>
                <button
                    type="button"
                    class="button"
                    data-testid="approval-always"
                    disabled=move || busy.get()
                    on:click=move |_| answer(ApprovalAnswer::AlwaysAllow)
                >
                    "Always allow"
                </button>
                <button
                    type="button"
                    class="button"
                    data-testid="approval-deny"
                    disabled=move || busy.get()
                    on:click=move |_| answer(ApprovalAnswer::Deny)
                >
                    "Deny"
                </button>
            </div>
            <ActionError error />
        </section>
    }
}
