//! Everything that crosses the boundary between the Switchboard window (Leptos, wasm32)
//! and its Rust core: command names and their request/response types, event names and
//! payloads, and the one error type every command returns.
//!
//! This crate depends on serde alone so it builds for both sides; a renamed field is a
//! compile error in the UI and in the shell, never a silent `undefined`.
//!
//! No type in here may carry a secret: responses are shown to the page and may be logged.
//!
//! They cross as postcard bytes ([`wire`]), which name no field: no type may leave a field
//! out when it is written (`skip_serializing_if`), and free-form JSON is marked
//! `#[serde(with = "crate::wire::json")]` (or `json_option`, `json_map`).
//!
//! Enums that only cross to the window are externally tagged (`{"variant": {…}}`, serde's
//! default), never `#[serde(tag = "…")]`: an internally tagged enum is buffered whole
//! before it is read, and that second decoder, for the enum and everything inside it, cost
//! the window's wasm 106 KB of its 1.83 MB. Three stay internally tagged because the core
//! keeps them on disk in that form: [`SignInMethod`] (settings), [`chat::Part`] and
//! [`chat::AttachmentContent`] (the conversation store); their decoders are written out in
//! `tagged`, which reads them in one pass; they cross to the window externally tagged.

use serde::{Deserialize, Serialize};

pub mod ask;
pub mod chat;
pub mod markdown;
mod tagged;
pub mod tools;
pub mod wire;

/// Names of the Tauri commands. The shell registers functions with these names and the UI
/// invokes them; both sides use the constants so neither can drift.
pub mod command {
    pub const LIST_CONNECTORS: &str = "list_connectors";
    pub const CHECK_ADDRESS: &str = "check_address";
    pub const ADD_CONNECTOR: &str = "add_connector";
    pub const CONNECTOR_DETAIL: &str = "connector_detail";
    pub const SERVER_MESSAGES: &str = "server_messages";
    pub const EXPAND_TEMPLATE: &str = "expand_template";
    pub const RECONNECT: &str = "reconnect";
    pub const SET_ENABLED: &str = "set_enabled";
    pub const REMOVE_CONNECTOR: &str = "remove_connector";
    pub const TAKE_NOTICES: &str = "take_notices";
    pub const KEEP_START_VIEW: &str = "keep_start_view";
    pub const CHECK_KEYRING: &str = "check_keyring";
    pub const SHOW_KEPT_FILE: &str = "show_kept_file";
    pub const SIGN_IN: &str = "sign_in";
    pub const CANCEL_SIGN_IN: &str = "cancel_sign_in";
    pub const OPEN_SIGN_IN_PAGE: &str = "open_sign_in_page";
    pub const SIGN_OUT: &str = "sign_out";
    pub const EDIT_CONNECTOR: &str = "edit_connector";
    pub const MODELS_OVERVIEW: &str = "models_overview";
    pub const ADD_PROVIDER: &str = "add_provider";
    pub const REMOVE_PROVIDER: &str = "remove_provider";
    pub const REPLACE_PROVIDER_KEY: &str = "replace_provider_key";
    pub const REFRESH_MODELS: &str = "refresh_models";
    pub const CHECK_MODEL: &str = "check_model";
    pub const SET_DEFAULT_MODEL: &str = "set_default_model";
    pub const SET_ATTACHMENT_LIMIT: &str = "set_attachment_limit";
    pub const SET_TOOL_MODE: &str = "set_tool_mode";
    pub const BULK_TOOLS: &str = "bulk_tools";
    pub const SET_TOOL_LIMITS: &str = "set_tool_limits";
    pub const SET_TOOL_OPTIONS: &str = "set_tool_options";
    pub const MARK_TOOLS_SEEN: &str = "mark_tools_seen";
    pub const TOOL_ACTIVITY: &str = "tool_activity";
    pub const EXPORT_ACTIVITY: &str = "export_activity";
    pub const ANSWER_TOOL_APPROVAL: &str = "answer_tool_approval";
    pub const WAITING_APPROVALS: &str = "waiting_approvals";
    pub const STOP_TOOL_CALL: &str = "stop_tool_call";
    pub const LIST_CONVERSATIONS: &str = "list_conversations";
    pub const NEW_CONVERSATION: &str = "new_conversation";
    pub const OPEN_CONVERSATION: &str = "open_conversation";
    pub const SEND_MESSAGE: &str = "send_message";
    pub const STOP_REPLY: &str = "stop_reply";
    pub const RETRY_REPLY: &str = "retry_reply";
    pub const REGENERATE_REPLY: &str = "regenerate_reply";
    pub const EDIT_MESSAGE: &str = "edit_message";
    pub const RENAME_CONVERSATION: &str = "rename_conversation";
    pub const SET_CONVERSATION_MODEL: &str = "set_conversation_model";
    pub const DELETE_CONVERSATION: &str = "delete_conversation";
    pub const ATTACHABLES: &str = "attachables";
    pub const READ_RESOURCE: &str = "read_resource";
    pub const GET_PROMPT: &str = "get_prompt";
    pub const COMPLETE_ARGUMENT: &str = "complete_argument";
    pub const OPEN_LINK: &str = "open_link";
    pub const ANSWER_QUESTION: &str = "answer_question";
    pub const WAITING_QUESTIONS: &str = "waiting_questions";
}

/// What the shell hands the window before its code runs, as globals on `window` set by an
/// initialization script: the window then shows it without asking first.
pub mod handed {
    /// `Vec<`[`super::ConnectorSummary`]`>`: the connectors as they were when the window was
    /// made (still to be connected). The window asks for the list again once it listens to
    /// events, so nothing that changed in between is missed.
    pub const CONNECTORS: &str = "__SWITCHBOARD_CONNECTORS__";
}

/// The window's start view kept for the next start (`switchboard_core::start_view`).
pub mod start_view {
    /// The id of the element holding the kept view in the page, which the window's code
    /// removes before it shows the live view.
    pub const ELEMENT_ID: &str = "start-view";
    /// The page's link to its wasm, whose integrity hash names the build of the window's
    /// code: a kept view is shown only by the build that made it.
    pub const BUILD_LINK: &str = r#"link[rel="preload"][as="fetch"]"#;
    /// The performance mark set when the kept view is shown (`cargo xtask bench` reads it).
    pub const SHOWN_MARK: &str = "sb-start-view-shown";
    /// The performance mark set once the kept view is styled and laid out: the first layout
    /// of the page, which its first paint waits for.
    pub const LAID_OUT_MARK: &str = "sb-start-view-laid-out";
}

/// Names of the events the shell emits to the window.
pub mod event {
    /// Payload: [`super::ConnectorSummary`]. A connector was added or its state changed.
    pub const CONNECTOR_CHANGED: &str = "connector-changed";
    /// Payload: [`super::ConnectorId`]. A connector was removed.
    pub const CONNECTOR_REMOVED: &str = "connector-removed";
    /// Payload: [`super::Notice`]. Something the person should know that is not tied to
    /// one action (a settings file that had to be moved aside, a deep link that arrived).
    pub const NOTICE: &str = "notice";
    /// Payload: [`super::chat::ChatEvent`]. Conversations and replies as they happen.
    pub const CHAT: &str = "chat";
    /// Payload: [`super::ResourceUpdated`]. A server says a resource the person attached
    /// changed.
    pub const RESOURCE_UPDATED: &str = "resource-updated";
    /// Payload: [`super::ask::QuestionEvent`]. A server asks the person for input, or no
    /// longer does.
    pub const QUESTION: &str = "question";
}

/// Stable identifier of a connector, assigned when it is added.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectorId(pub String);

impl std::fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a connector stands, in the words the person sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    Connecting,
    Connected,
    NeedsSignIn,
    /// Waiting for the person to finish signing in in their browser.
    SigningIn,
    CantReach,
    Off,
}

impl ConnectorState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting",
            Self::Connected => "Connected",
            Self::NeedsSignIn => "Needs sign-in",
            Self::SigningIn => "Signing in",
            Self::CantReach => "Can't reach",
            Self::Off => "Off",
        }
    }
}

/// What the person sees of a connector in one word: its state, with the problem behind a
/// failed connection told apart (a wrong address is not a server that is down). The pill,
/// the message box and its fix button all follow from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Connecting,
    Connected,
    SigningIn,
    Off,
    /// The server wants the person to sign in (or a key or password it refused).
    NeedsSignIn,
    /// No keyring on this computer: nothing secret can be kept, so signing in cannot help.
    CantKeepSignIn,
    /// A web page, a 404, something that is not an MCP server, a redirect elsewhere.
    WrongAddress,
    /// The server answered with an error of its own (5xx, too many requests).
    ServerProblem,
    /// Nothing answered: refused, timed out, no such name, an untrusted certificate.
    CantReach,
}

/// How loud a standing is: the pill and the message box share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Work under way.
    Busy,
    Good,
    /// Routine, the person's move: amber.
    Attention,
    /// Something is wrong: red.
    Trouble,
    Quiet,
}

/// The one thing that fixes a problem, offered inside its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fix {
    SignIn,
    EnterNewKey,
    EnterPassword,
    EditAddress,
    TryAgain,
}

impl Fix {
    pub fn label(self) -> &'static str {
        match self {
            Self::SignIn => "Sign in",
            Self::EnterNewKey => "Enter a new key",
            Self::EnterPassword => "Enter the password",
            Self::EditAddress => "Edit address",
            Self::TryAgain => "Try again",
        }
    }
}

impl Standing {
    pub fn of(state: ConnectorState, problem: Option<&ErrorInfo>) -> Self {
        match state {
            ConnectorState::Connecting => Self::Connecting,
            ConnectorState::Connected => Self::Connected,
            ConnectorState::SigningIn => Self::SigningIn,
            ConnectorState::Off => Self::Off,
            ConnectorState::NeedsSignIn | ConnectorState::CantReach => {
                match problem.map(|p| p.code) {
                    Some(ErrorCode::KeyringUnavailable) => Self::CantKeepSignIn,
                    Some(
                        ErrorCode::NeedsSignIn
                        | ErrorCode::NeedsMoreAccess
                        | ErrorCode::SignInFailed
                        | ErrorCode::CredentialsRejected
                        | ErrorCode::InvalidSignIn,
                    ) => Self::NeedsSignIn,
                    Some(
                        ErrorCode::InvalidAddress
                        | ErrorCode::InsecureAddress
                        | ErrorCode::CredentialsInAddress
                        | ErrorCode::NotMcpServer
                        | ErrorCode::NotFound
                        | ErrorCode::Moved
                        | ErrorCode::Protocol,
                    ) => Self::WrongAddress,
                    Some(ErrorCode::ServerError) => Self::ServerProblem,
                    None if state == ConnectorState::NeedsSignIn => Self::NeedsSignIn,
                    _ => Self::CantReach,
                }
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting",
            Self::Connected => "Connected",
            Self::SigningIn => "Signing in",
            Self::Off => "Off",
            Self::NeedsSignIn => "Needs sign-in",
            Self::CantKeepSignIn => "Can't keep the sign-in",
            Self::WrongAddress => "Wrong address",
            Self::ServerProblem => "Server problem",
            Self::CantReach => "Can't reach",
        }
    }

    pub fn tone(self) -> Tone {
        match self {
            Self::Connecting | Self::SigningIn => Tone::Busy,
            Self::Connected => Tone::Good,
            Self::NeedsSignIn => Tone::Attention,
            Self::CantKeepSignIn | Self::WrongAddress | Self::ServerProblem | Self::CantReach => {
                Tone::Trouble
            }
            Self::Off => Tone::Quiet,
        }
    }

    /// The buttons that fix the problem, the main one first. A key or password the
    /// server refused is fixed by typing a new one, not by sending the same one again;
    /// "Try again" only for troubles that pass (a timeout, a server error, a keyring
    /// installed meanwhile).
    pub fn fixes(self, problem: Option<&ErrorInfo>, method: &SignInMethod) -> &'static [Fix] {
        let code = problem.map(|p| p.code);
        match self {
            Self::NeedsSignIn => match method {
                SignInMethod::Automatic { .. } => &[Fix::SignIn],
                SignInMethod::ApiKey { .. } => &[Fix::EnterNewKey],
                SignInMethod::Basic { .. } => &[Fix::EnterPassword],
            },
            Self::CantKeepSignIn | Self::ServerProblem => &[Fix::TryAgain],
            Self::WrongAddress => &[Fix::EditAddress],
            Self::CantReach => match code {
                Some(ErrorCode::Timeout) => &[Fix::TryAgain],
                _ => &[Fix::TryAgain, Fix::EditAddress],
            },
            Self::Connecting | Self::Connected | Self::SigningIn | Self::Off => &[],
        }
    }
}

impl ConnectorSummary {
    pub fn standing(&self) -> Standing {
        Standing::of(self.state, self.problem.as_ref())
    }
}

/// How many things a connected server offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub tools: u32,
    pub resources: u32,
    pub resource_templates: u32,
    pub prompts: u32,
}

/// One row of the Connectors list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSummary {
    pub id: ConnectorId,
    pub name: String,
    pub url: String,
    pub state: ConnectorState,
    /// Present once the server has been listed at least once in this run.
    pub counts: Option<Counts>,
    /// Goes up each time the server's lists are read (connecting, or the server saying they
    /// changed): a window showing them reads them again when it moves.
    #[serde(default)]
    pub catalog_revision: u64,
    /// Why the connector is not connected (for `NeedsSignIn` and `CantReach`).
    pub problem: Option<ErrorInfo>,
    /// It could not reach its server and tries again on its own, with growing waits.
    #[serde(default)]
    pub retrying: bool,
    /// How the connector signs in, and whether a sign-in is saved. Never the secret itself.
    pub sign_in: SignInSummary,
}

/// How a connector proves who the person is, as shown to them. Decoded in one pass by
/// `tagged`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(remote = "Self", tag = "kind", rename_all = "snake_case")]
pub enum SignInMethod {
    /// OAuth in the browser when the server asks for it.
    Automatic {
        /// The person's own client id (Advanced settings), if any.
        client_id: Option<String>,
        has_client_secret: bool,
    },
    /// A key sent in a header on every request.
    ApiKey { header: String },
    /// HTTP Basic.
    Basic { username: String },
}

impl Default for SignInMethod {
    fn default() -> Self {
        Self::Automatic {
            client_id: None,
            has_client_secret: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInSummary {
    pub method: SignInMethod,
    /// A sign-in (OAuth tokens, a key, a password) is saved in the keyring.
    pub saved: bool,
    /// With the person's own client ID: the redirect address their provider must know for
    /// this connector (each connector has its own).
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// A secret typed by the person, on its way from the window to the keyring. Only requests
/// carry it; `Debug` never prints it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretInput(pub String);

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretInput([REDACTED])")
    }
}

/// The sign-in the person chose in the dialog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInChoice {
    Automatic {
        client_id: Option<String>,
        client_secret: Option<SecretInput>,
    },
    ApiKey {
        /// Empty or absent: `Authorization: Bearer <key>`.
        header: Option<String>,
        key: SecretInput,
    },
    Basic {
        username: String,
        password: SecretInput,
    },
}

impl Default for SignInChoice {
    fn default() -> Self {
        Self::Automatic {
            client_id: None,
            client_secret: None,
        }
    }
}

/// Changes to a connector from the Edit dialog; what is `None` stays as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditConnectorRequest {
    pub id: ConnectorId,
    #[serde(default)]
    pub url: Option<String>,
    /// The name the person typed. Empty: the server's own name (or the address) again.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sign_in: Option<SignInChoice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub title: Option<String>,
    pub version: String,
    /// The server's own advice on how to use it, written for the model.
    pub instructions: Option<String>,
    /// `instructions` read as Markdown by the core, for the window.
    #[serde(default)]
    pub instructions_markdown: markdown::Blocks,
    /// The protocol version that was negotiated.
    pub protocol_version: String,
}

/// A connector's server says the resource at `uri` changed (`notifications/resources/updated`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceUpdated {
    pub connector_id: ConnectorId,
    pub uri: String,
}

/// One message a server logged (`notifications/message`), kept for "About this server".
/// The server's words, cut and cleaned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMessage {
    /// `debug`, `info`, `notice`, `warning`, `error`, `critical`, `alert` or `emergency`.
    pub level: String,
    pub logger: Option<String>,
    pub text: String,
    /// When it arrived, the person's local time (`14:03:07`).
    pub at: String,
}

/// The latest messages of a connector's server, oldest first, and how many older ones were
/// let go to keep the list bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMessages {
    pub messages: Vec<ServerMessage>,
    pub dropped: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The server's hint that the tool only reads. A hint from an untrusted party:
    /// shown, never used to grant anything.
    pub read_only_hint: Option<bool>,
    /// The JSON Schema of its arguments, as the server sent it. Kept by the core (the model
    /// is offered it; a pin hashes it) and not sent to the window, which shows no schema: a
    /// big server's schemas would be most of what the window reads when its page opens.
    #[serde(skip)]
    pub input_schema: serde_json::Value,
    /// The server's annotations as sent (`readOnlyHint`, `destructiveHint`,
    /// `openWorldHint`, …): claims, shown as such.
    #[serde(default, with = "crate::wire::json_option")]
    pub annotations: Option<serde_json::Value>,
    /// The JSON Schema its `structuredContent` promises to match, as the server sent it. Like
    /// `input_schema`, kept by the core and not sent to the window.
    #[serde(skip)]
    pub output_schema: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceInfo {
    pub uri: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceTemplateInfo {
    pub uri_template: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub mime_type: Option<String>,
    /// Its variables in order of first appearance, each once, as the core read the template
    /// (RFC 6570): the fields of its form in the paperclip menu.
    #[serde(default)]
    pub variables: Vec<TemplateVariable>,
    /// Why it cannot be filled in (it does not parse); then it has no variables.
    #[serde(default)]
    pub problem: Option<String>,
}

/// A variable of a resource template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateVariable {
    pub name: String,
    /// Used only in query expressions (`{?q}`, `{&page}`): leaving it empty drops it.
    pub optional: bool,
}

/// A template filled in: the URI it makes is the answer (a `String`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpandTemplateRequest {
    pub uri_template: String,
    /// By variable name; an empty value counts as not given.
    pub values: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptArgumentInfo {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptInfo {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub arguments: Vec<PromptArgumentInfo>,
}

/// Everything a connected server offers, listed to the end of every page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub tools: Vec<ToolInfo>,
    pub resources: Vec<ResourceInfo>,
    pub resource_templates: Vec<ResourceTemplateInfo>,
    pub prompts: Vec<PromptInfo>,
}

impl Catalog {
    pub fn counts(&self) -> Counts {
        let n = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        Counts {
            tools: n(self.tools.len()),
            resources: n(self.resources.len()),
            resource_templates: n(self.resource_templates.len()),
            prompts: n(self.prompts.len()),
        }
    }
}

/// The connector page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectorDetail {
    pub summary: ConnectorSummary,
    pub server: Option<ServerInfo>,
    pub catalog: Option<Catalog>,
    /// What the person chose for its tools, and where each tool stands.
    #[serde(default)]
    pub tools: tools::ConnectorTools,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddConnectorRequest {
    pub url: String,
    /// Optional; when empty the server's own name is used, else the host.
    pub name: Option<String>,
    #[serde(default)]
    pub sign_in: SignInChoice,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorIdRequest {
    pub id: ConnectorId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEnabledRequest {
    pub id: ConnectorId,
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckAddressRequest {
    pub url: String,
    /// Checking the address of this connector in its Edit dialog: its own address is no
    /// duplicate, and the answer says whether the new one is another server.
    #[serde(default)]
    pub editing: Option<ConnectorId>,
}

/// An address that passed every check, as it will be saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedAddress {
    pub url: String,
    /// The host, with the port and path when they tell servers apart ("127.0.0.1:8931
    /// /html"): the name until the server gives its own.
    pub default_name: String,
    /// In the Edit dialog: the address is on another server than the connector's own
    /// (another scheme, host or port), so its sign-in and tool settings start fresh.
    #[serde(default)]
    pub other_server: bool,
    /// The address carries what looks like a secret in its query (`?api_key=…`), which
    /// would be kept in the settings file: the window offers to move it into the API key
    /// field, where it goes to the keyring.
    #[serde(default)]
    pub secret_in_query: Option<SecretInQuery>,
}

/// A query parameter that looks like a secret, and the address without it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInQuery {
    /// The parameter's name, as typed (`api_key`).
    pub name: String,
    /// Its value: what the person typed, handed back so it can move to the key field.
    pub value: String,
    /// The address as typed, without that parameter.
    pub address_without: String,
}

/// The first view the window built at this start, kept for the next (`core::start_view`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepStartViewRequest {
    /// The integrity hash of the window's wasm, which names its build.
    pub build: String,
    /// The page body's markup, without test ids.
    pub markup: String,
}

/// "Show file" for a file a notice names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowFileRequest {
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    Info,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub level: NoticeLevel,
    pub message: String,
    pub detail: Option<String>,
    /// A file Switchboard kept aside (settings it could not read): the banner offers
    /// "Show file", and the empty list asks for the connectors again.
    #[serde(default)]
    pub kept_file: Option<String>,
}

/// Why something failed, closed so the UI can pick its wording and next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The text is not a web address at all.
    InvalidAddress,
    /// http:// for a host that is not this computer.
    InsecureAddress,
    /// user:password@ inside the address.
    CredentialsInAddress,
    /// A connector with this address exists already.
    DuplicateConnector,
    /// The connector id is unknown (removed meanwhile).
    UnknownConnector,
    /// Nothing answered at that address (DNS, refused connection).
    Unreachable,
    /// The server took too long.
    Timeout,
    /// The server's certificate is not trusted.
    Certificate,
    /// Something answered, but it is not an MCP server (HTML page, wrong content type).
    NotMcpServer,
    /// 404 at that address.
    NotFound,
    /// The address redirects to another server (another origin), which Switchboard does
    /// not follow: the person added this address, not that one.
    Moved,
    /// The server answered with 5xx or 429.
    ServerError,
    /// The server wants the person to sign in.
    NeedsSignIn,
    /// Signed in, but the server wants more access for this (403 insufficient_scope).
    NeedsMoreAccess,
    /// Signing in was attempted and did not work.
    SignInFailed,
    /// The server refused the API key or the username and password.
    CredentialsRejected,
    /// A sign-in setting that cannot be used (a reserved header, an empty key).
    InvalidSignIn,
    /// The server spoke MCP wrongly or refused a request.
    Protocol,
    /// The connector is turned off.
    ConnectorOff,
    /// Settings could not be read or written.
    Storage,
    /// The system keyring (Secret Service, Keychain, Credential Manager) is missing or
    /// locked, so no secret can be kept safely.
    KeyringUnavailable,
    /// A model provider refused or failed a request (the sentence says why and what next).
    ModelRefused,
    /// A model provider asked to wait before the next request.
    RateLimited,
    /// The conversation does not fit the model.
    ContextTooLong,
    /// The chosen model is not offered by its provider (any more).
    ModelNotFound,
    /// A model's reply stopped in the middle; what arrived is kept.
    ReplyCut,
    /// No model is set up yet.
    NoModel,
    /// A message with nothing in it.
    EmptyMessage,
    /// A reply is still being written in that conversation.
    ReplyInProgress,
    /// A setting's value is outside what it allows (the sentence says the range).
    InvalidSetting,
    /// The model used tools many times in a row and was paused; going on is the person's
    /// choice (the window offers "Go on").
    ToolRoundsReached,
    /// A bug: something that should not happen.
    Internal,
}

/// The error every command returns: a stable code, one plain sentence, and the technical
/// detail that the UI hides behind "Details".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<String>,
}

impl ErrorInfo {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// A failure that should never happen; the detail says where.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::Internal,
            "Something went wrong inside Switchboard.",
        )
        .with_detail(detail)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl std::fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ErrorInfo {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tool_reaches_the_window_without_its_schemas() {
        let tool = ToolInfo {
            name: "search".into(),
            title: None,
            description: Some("Searches".into()),
            read_only_hint: Some(true),
            input_schema: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
            annotations: Some(json!({"readOnlyHint": true})),
            output_schema: Some(json!({"type": "object"})),
        };
        let sent = serde_json::to_value(&tool).unwrap();
        assert_eq!(
            sent,
            json!({
                "name": "search",
                "title": null,
                "description": "Searches",
                "read_only_hint": true,
                "annotations": {"readOnlyHint": true},
            })
        );
        let read: ToolInfo = serde_json::from_value(sent).unwrap();
        assert_eq!(read.input_schema, serde_json::Value::Null);
        assert_eq!(read.output_schema, None);
    }

    /// See the crate's docs: an internally tagged enum costs the window's wasm a second
    /// decoder, so those that only cross to the window are externally tagged. The three the
    /// core keeps on disk keep the tag their files were written with.
    #[test]
    fn enums_for_the_window_carry_no_tag_field_and_those_on_disk_keep_theirs() {
        fn to<T: Serialize>(value: &T) -> serde_json::Value {
            serde_json::to_value(value).unwrap()
        }
        assert_eq!(
            to(&chat::ChatEvent::ReplyStarted { conversation_id: 7 }),
            json!({"reply_started": {"conversation_id": 7}})
        );
        assert_eq!(to(&ask::Answer::Decline), json!("decline"));
        assert_eq!(
            to(&SignInChoice::Basic {
                username: "ada".into(),
                password: SecretInput("pw".into()),
            }),
            json!({"basic": {"username": "ada", "password": "pw"}})
        );

        assert_eq!(
            to(&SignInMethod::ApiKey {
                header: "X-Key".into()
            }),
            json!({"kind": "api_key", "header": "X-Key"})
        );
        assert_eq!(
            to(&chat::Part::text("hi")),
            json!({"type": "text", "text": "hi"})
        );
        assert_eq!(
            to(&chat::AttachmentContent::Parts { parts: vec![] }),
            json!({"type": "parts", "parts": []})
        );
    }

    #[test]
    fn error_codes_serialize_as_snake_case_strings() {
        let json = serde_json::to_string(&ErrorCode::NeedsSignIn).unwrap();
        assert_eq!(json, "\"needs_sign_in\"");
        let back: ErrorCode = serde_json::from_str("\"not_mcp_server\"").unwrap();
        assert_eq!(back, ErrorCode::NotMcpServer);
    }

    #[test]
    fn each_problem_has_its_own_standing_colour_and_fix() {
        let problem = |code| ErrorInfo::new(code, "x");
        let key = SignInMethod::ApiKey {
            header: "Authorization".into(),
        };
        let password = SignInMethod::Basic {
            username: "ada".into(),
        };
        let oauth = SignInMethod::default();
        let cases = [
            (
                ConnectorState::CantReach,
                ErrorCode::NotMcpServer,
                &oauth,
                Standing::WrongAddress,
                &[Fix::EditAddress][..],
            ),
            (
                ConnectorState::CantReach,
                ErrorCode::NotFound,
                &oauth,
                Standing::WrongAddress,
                &[Fix::EditAddress],
            ),
            (
                ConnectorState::CantReach,
                ErrorCode::Moved,
                &oauth,
                Standing::WrongAddress,
                &[Fix::EditAddress],
            ),
            (
                ConnectorState::CantReach,
                ErrorCode::ServerError,
                &oauth,
                Standing::ServerProblem,
                &[Fix::TryAgain],
            ),
            (
                ConnectorState::CantReach,
                ErrorCode::Timeout,
                &oauth,
                Standing::CantReach,
                &[Fix::TryAgain],
            ),
            (
                ConnectorState::CantReach,
                ErrorCode::Unreachable,
                &oauth,
                Standing::CantReach,
                &[Fix::TryAgain, Fix::EditAddress],
            ),
            (
                ConnectorState::CantReach,
                ErrorCode::Certificate,
                &oauth,
                Standing::CantReach,
                &[Fix::TryAgain, Fix::EditAddress],
            ),
            (
                ConnectorState::NeedsSignIn,
                ErrorCode::NeedsSignIn,
                &oauth,
                Standing::NeedsSignIn,
                &[Fix::SignIn],
            ),
            (
                ConnectorState::NeedsSignIn,
                ErrorCode::CredentialsRejected,
                &key,
                Standing::NeedsSignIn,
                &[Fix::EnterNewKey],
            ),
            (
                ConnectorState::NeedsSignIn,
                ErrorCode::CredentialsRejected,
                &password,
                Standing::NeedsSignIn,
                &[Fix::EnterPassword],
            ),
            (
                ConnectorState::NeedsSignIn,
                ErrorCode::KeyringUnavailable,
                &key,
                Standing::CantKeepSignIn,
                &[Fix::TryAgain],
            ),
        ];
        for (state, code, method, standing, fixes) in cases {
            let problem = problem(code);
            let found = Standing::of(state, Some(&problem));
            assert_eq!(found, standing, "{code:?}");
            assert_eq!(found.fixes(Some(&problem), method), fixes, "{code:?}");
        }
        assert_eq!(
            Standing::NeedsSignIn.tone(),
            Tone::Attention,
            "routine, amber"
        );
        assert_eq!(Standing::WrongAddress.tone(), Tone::Trouble);
        assert_eq!(
            Standing::of(ConnectorState::Connected, None).fixes(None, &oauth),
            &[]
        );
        assert_eq!(Fix::TryAgain.label(), "Try again");
    }

    #[test]
    fn catalog_counts_every_kind() {
        let catalog = Catalog {
            tools: vec![ToolInfo {
                name: "t".into(),
                title: None,
                description: None,
                read_only_hint: None,
                input_schema: serde_json::Value::Null,
                annotations: None,
                output_schema: None,
            }],
            prompts: vec![],
            resources: vec![],
            resource_templates: vec![ResourceTemplateInfo {
                uri_template: "x://{a}".into(),
                name: "x".into(),
                title: None,
                description: None,
                mime_type: None,
                variables: vec![TemplateVariable {
                    name: "a".into(),
                    optional: false,
                }],
                problem: None,
            }],
        };
        assert_eq!(
            catalog.counts(),
            Counts {
                tools: 1,
                resources: 0,
                resource_templates: 1,
                prompts: 0
            }
        );
    }
}
