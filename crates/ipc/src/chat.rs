//! The chat's messages as the core saves them and the window shows them: provider-neutral
//! parts, what was attached from the paperclip menu, and how a message ended.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One piece of a message, as the model sees it. Decoded in one pass by `tagged`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(remote = "Self", tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text {
        text: String,
    },
    /// A connector's resource given as context: its text with where it came from.
    Resource {
        uri: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        media_type: String,
        data: String,
    },
    /// A sound a tool returned, base64-encoded: played in the window, named to the model
    /// (neither provider takes sound in a tool result).
    Audio {
        media_type: String,
        data: String,
    },
    /// A resource a tool (or a prompt) points to without sending it: named to the model, a
    /// chip in the window that reads it from its connector when opened.
    Link {
        connector_id: String,
        uri: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// A tool's `structuredContent`, shown as a tree. The model reads it from its text
    /// twin; when it does not match the tool's `outputSchema`, `problem` says how, and the
    /// model is told that instead of the data.
    Structured {
        value: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
    },
    /// The model asks to call a tool.
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
        /// Which connector's tool the name stands for, for the window (the model's name is
        /// made unique across connectors and says little to a person).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<ToolLabel>,
    },
    /// What came of a tool call (given back to the model on the next request).
    ToolResult {
        call_id: String,
        content: Vec<Part>,
        is_error: bool,
    },
}

/// Image types every provider accepts: the only ones sent to a model and shown in the window.
pub const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Sound a tool may return that the window plays (no provider takes sound in a tool result;
/// the model is told one came).
pub const AUDIO_TYPES: &[&str] = &[
    "audio/wav",
    "audio/x-wav",
    "audio/mpeg",
    "audio/mp3",
    "audio/ogg",
    "audio/webm",
    "audio/mp4",
    "audio/aac",
    "audio/flac",
];

/// Whether a text part is the JSON of a structured result (its "text twin"): the model reads
/// the data once, the window shows it once.
pub fn is_twin(text: &str, value: &Value) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|parsed| &parsed == value)
}

/// A tool as a person knows it: its connector, and its title or name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolLabel {
    pub connector_id: String,
    pub connector_name: String,
    pub tool: String,
    #[serde(default)]
    pub title: Option<String>,
}

impl ToolLabel {
    /// The title when the server gave one, else the name.
    pub fn shown(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.tool)
    }
}

impl Part {
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text { text: text.into() }
    }
}

/// A message as sent to a model: a role and its parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Message {
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            parts: vec![Part::text(text)],
        }
    }

    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            parts: vec![Part::text(text)],
        }
    }

    /// The message's text parts joined: what a person reads.
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// What kind of thing was attached from the paperclip menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Resource,
    /// A resource read from a filled-in URI template.
    Template,
    Prompt,
}

/// Something the person attached to a message, with its content as it was sent: kept with
/// the message so the chip stays clickable after a restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    pub connector_id: String,
    pub connector_name: String,
    /// The title or name shown on the chip.
    pub name: String,
    /// The resource's URI (expanded, for a template); `None` for a prompt.
    #[serde(default)]
    pub uri: Option<String>,
    /// Size in bytes of the content as read (before any cut).
    pub size: u64,
    /// The content was longer than the bound and was cut: the chip says so.
    #[serde(default)]
    pub truncated: bool,
    /// What the person should know about how it was sent (cut, or a file the model cannot
    /// read named but not sent), shown on the chip.
    #[serde(default)]
    pub note: Option<String>,
    /// What goes to the model: for a resource, its parts (appended to the person's
    /// message); for a prompt, the prompt's messages (inserted before it).
    pub content: AttachmentContent,
}

/// Decoded in one pass by `tagged`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(remote = "Self", tag = "type", rename_all = "snake_case")]
pub enum AttachmentContent {
    Parts { parts: Vec<Part> },
    Messages { messages: Vec<Message> },
}

/// How a message ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Whole.
    Complete,
    /// The reply stopped early (the person pressed Stop, or the stream was cut): what
    /// arrived is kept and marked.
    Unfinished,
    /// The person's message whose reply failed: shown with Retry.
    Failed,
}

/// Which model a conversation talks to: a provider set up in Settings → Models and one of
/// its models.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChoice {
    pub provider_id: String,
    pub model: String,
}

/// Which wire format a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Anthropic's Messages API; the key goes in `x-api-key`.
    Anthropic,
    /// OpenAI's Chat Completions at any base URL; the key, when there is one, goes in
    /// `Authorization: Bearer`.
    OpenAiCompatible,
}

impl ProviderKind {
    /// The base URL a person starts from.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::OpenAiCompatible => "https://api.openai.com/v1",
        }
    }
}

/// A model as described by its provider's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub display_name: Option<String>,
}

/// A model provider as the window shows it. Never its key: only whether one is saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSummary {
    pub id: String,
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub has_key: bool,
    /// The provider's model list as of the last time it was read.
    pub models: Vec<ModelInfo>,
}

/// Settings → Models: every provider, the default model, and the attachment limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelsOverview {
    pub providers: Vec<ProviderSummary>,
    pub default: Option<ModelChoice>,
    /// How much text one attachment may carry to the model, in KB (1,024 bytes); more is
    /// cut, with a note on the chip.
    #[serde(default = "default_attachment_limit_kb")]
    pub attachment_limit_kb: u32,
}

/// The attachment limit until the person changes it: enough for a long document, small
/// enough that one attachment cannot fill a model's context by itself.
pub const DEFAULT_ATTACHMENT_LIMIT_KB: u32 = 200;
/// The limits the person may choose, in KB.
pub const ATTACHMENT_LIMIT_KB_RANGE: std::ops::RangeInclusive<u32> = 1..=10_240;

fn default_attachment_limit_kb() -> u32 {
    DEFAULT_ATTACHMENT_LIMIT_KB
}

impl Default for ModelsOverview {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            default: None,
            attachment_limit_kb: DEFAULT_ATTACHMENT_LIMIT_KB,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentLimitRequest {
    pub kb: u32,
}

/// Adds a provider: checked (its model list read with the key) before anything is saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddProviderRequest {
    pub kind: ProviderKind,
    /// Empty: named after the kind ("Anthropic") or the address's host.
    pub name: String,
    /// Empty: the kind's usual address.
    pub base_url: String,
    /// Empty: no key (a local server).
    pub key: crate::SecretInput,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderIdRequest {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaceProviderKeyRequest {
    pub id: String,
    pub key: crate::SecretInput,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChoiceRequest {
    pub choice: ModelChoice,
}

/// Sends the person's message: into `conversation_id`, or a new conversation when `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendRequest {
    pub conversation_id: Option<i64>,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The model picked in the composer; `None` keeps the conversation's (or the default).
    pub model: Option<ModelChoice>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationIdRequest {
    pub id: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameConversationRequest {
    pub id: i64,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationModelRequest {
    pub id: i64,
    pub choice: ModelChoice,
}

/// Edits one of the person's messages and sends it again: the messages after it go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditMessageRequest {
    pub conversation_id: i64,
    pub message_id: i64,
    pub text: String,
}

/// Reads a resource (or a filled-in template's URI) for a chip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadResourceRequest {
    pub connector_id: crate::ConnectorId,
    pub uri: String,
    /// The name on the chip.
    pub name: String,
    /// Read from a filled-in template.
    #[serde(default)]
    pub from_template: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetPromptRequest {
    pub connector_id: crate::ConnectorId,
    pub name: String,
    /// The name on the chip (the prompt's title, or its name).
    pub title: String,
    #[serde(default)]
    pub arguments: std::collections::BTreeMap<String, String>,
}

/// What is being filled in: a prompt's argument or a template's variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionTarget {
    Prompt { name: String },
    Template { uri_template: String },
}

/// Suggestions for one field of a prompt or template form, as typed so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteRequest {
    pub connector_id: crate::ConnectorId,
    pub target: CompletionTarget,
    pub argument: String,
    pub value: String,
    /// The other fields filled in so far.
    #[serde(default)]
    pub context: std::collections::BTreeMap<String, String>,
}

/// A conversation opened in the window: its messages, and whether a reply is on its way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationView {
    pub conversation: Conversation,
    pub messages: Vec<StoredMessage>,
    pub replying: bool,
}

/// How a turn ended, for the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnOutcome {
    Finished,
    Stopped,
    Failed { error: crate::ErrorInfo },
}

/// What the chat tells the window (event `chat`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEvent {
    /// Created, renamed, given another model, or a message was added: the list reorders.
    ConversationChanged {
        conversation: Conversation,
    },
    ConversationRemoved {
        id: i64,
    },
    /// The model started replying.
    ReplyStarted {
        conversation_id: i64,
    },
    /// More of the reply's text (several of the model's pieces at once: at most one event
    /// per frame is sent).
    ReplyText {
        conversation_id: i64,
        text: String,
        /// The reply so far, read as Markdown by the core.
        markdown: crate::markdown::Streamed,
    },
    /// A message was saved (the person's, a reply, tool results).
    MessageSaved {
        message: StoredMessage,
    },
    /// A message's status changed (the person's message whose reply failed).
    MessageStatus {
        conversation_id: i64,
        message_id: i64,
        status: MessageStatus,
    },
    ReplyEnded {
        conversation_id: i64,
        outcome: TurnOutcome,
    },
    /// A tool call waits for the person's answer.
    ToolApproval {
        conversation_id: i64,
        approval: crate::tools::ToolApproval,
    },
    /// An approval was answered, or the turn that waited for it ended.
    ToolApprovalClosed {
        conversation_id: i64,
        approval_id: String,
    },
    /// A tool call went to its server (`progress: None`), or the server said how far it
    /// has come. Its result arrives as a saved message.
    ToolRunning {
        conversation_id: i64,
        call_id: String,
        #[serde(default)]
        progress: Option<ToolProgress>,
    },
}

/// How far a running tool call has come, as its server says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolProgress {
    pub progress: f64,
    #[serde(default)]
    pub total: Option<f64>,
    /// The server's words (cut to a line), shown as text.
    #[serde(default)]
    pub message: Option<String>,
}

/// One conversation, as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: i64,
    pub title: String,
    /// The model it talks to; `None` until one is chosen (then the app's default applies).
    pub model: Option<ModelChoice>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was created or a message was last added: the list's order. Each change
    /// stamps it later than every other conversation's, so the one touched last is first.
    pub updated_at: i64,
}

/// One message of a conversation, with what was attached to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub id: i64,
    pub conversation_id: i64,
    pub role: Role,
    pub parts: Vec<Part>,
    pub status: MessageStatus,
    /// The model that wrote an assistant message (it may differ from the conversation's
    /// current one); `None` for the person's messages.
    pub model: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// [`Self::markdown_texts`] as the core read them, filled in only on the message's way
    /// to the window.
    #[serde(default)]
    pub markdown: Vec<crate::markdown::Rendered>,
}

impl StoredMessage {
    /// An assistant's words as the window shows them: its text parts, a blank line between.
    pub fn reply_text(&self) -> String {
        self.parts.iter().fold(String::new(), |mut all, part| {
            if let Part::Text { text } = part {
                if !all.is_empty() {
                    all.push_str("\n\n");
                }
                all.push_str(text);
            }
            all
        })
    }

    /// What the window shows as Markdown: an assistant's words and the text of each tool
    /// result. (A person's own messages are shown as they typed them.)
    pub fn markdown_texts(&self) -> Vec<String> {
        let mut texts = Vec::new();
        if self.role == Role::Assistant {
            let reply = self.reply_text();
            if !reply.is_empty() {
                texts.push(reply);
            }
        }
        for part in &self.parts {
            if let Part::ToolResult { content, .. } = part {
                texts.extend(content.iter().filter_map(|part| match part {
                    Part::Text { text } if !text.is_empty() => Some(text.clone()),
                    _ => None,
                }));
            }
        }
        texts
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLinkRequest {
    pub url: String,
}

/// Starts a conversation for the person's first message, titled from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewConversationRequest {
    pub first_message: String,
    pub model: Option<ModelChoice>,
}
