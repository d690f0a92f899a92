//! The one place that talks to the Tauri shell: raw `invoke`/`listen` bindings and a typed
//! wrapper for every command and event in `switchboard_ipc`.

use leptos::logging;
use leptos::task::spawn_local;
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_ipc::chat::{
    AddProviderRequest, Attachment, CompleteRequest, Conversation, ConversationIdRequest,
    ConversationModelRequest, ConversationView, EditMessageRequest, GetPromptRequest, ModelChoice,
    ModelChoiceRequest, ModelsOverview, NewConversationRequest, OpenLinkRequest, ProviderIdRequest,
    ProviderSummary, ReadResourceRequest, RenameConversationRequest, ReplaceProviderKeyRequest,
    SendRequest, StoredMessage,
};
use switchboard_ipc::{
    AddConnectorRequest, CheckAddressRequest, CheckedAddress, ConnectorDetail, ConnectorId,
    ConnectorIdRequest, ConnectorSummary, EditConnectorRequest, ErrorInfo, ExpandTemplateRequest,
    KeepStartViewRequest, Notice, SecretInput, SetEnabledRequest, ShowFileRequest, command, wire,
};
use wasm_bindgen::prelude::*;

use std::future::Future;
use std::pin::Pin;

#[wasm_bindgen]
extern "C" {
    // `catch` turns a rejected promise, and a missing `window.__TAURI__` (the page opened in
    // a plain browser), into an `Err` instead of a panic.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn invoke_raw(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], js_name = listen, catch)]
    async fn listen_raw(
        event: &str,
        handler: &Closure<dyn FnMut(JsValue)>,
    ) -> Result<JsValue, JsValue>;
}

/// A request on its way to the core: its bytes (`switchboard_ipc::wire`), which Tauri
/// passes to the command as they are.
fn to_js<T: Serialize>(request: &T) -> Result<JsValue, ErrorInfo> {
    let bytes = wire::encode(request).map_err(ErrorInfo::internal)?;
    Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
}

/// Bytes the core sent (an `ArrayBuffer` or an array of numbers), read as a `T`.
fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    wire::decode(&js_sys::Uint8Array::new(value).to_vec())
}

fn describe(value: &JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            js_sys::JSON::stringify(value)
                .ok()
                .and_then(|s| s.as_string())
        })
        .unwrap_or_else(|| {
            let kind = value.js_typeof().as_string().unwrap_or_default();
            format!("a JavaScript {kind}")
        })
}

/// Logs a command's error as a warning: what was being done, the error's message and its
/// detail. (Written without `Debug`: its formatting code would be in the wasm for these
/// few lines alone.)
pub fn warn(doing: &str, err: &ErrorInfo) {
    let detail = err.detail.as_deref().unwrap_or_default();
    logging::warn!("{doing}: {} {detail}", err.message);
}

/// Every command answers with the bytes of its `Result`. A rejection comes from the shell
/// itself (a missing command, a request it could not read) and reaches the person as one
/// plain sentence plus the raw detail, as does an answer that does not decode.
///
/// `args` is what [`to_js`] made of the request: a request that could not be written is
/// reported the same way, without a call.
async fn call<T: DeserializeOwned>(
    cmd: &str,
    args: Result<JsValue, ErrorInfo>,
) -> Result<T, ErrorInfo> {
    let value = invoke(cmd, args).await?;
    from_js::<Result<T, ErrorInfo>>(&value)
        .map_err(|err| ErrorInfo::internal(format!("unexpected answer to {cmd}: {err}")))?
}

/// The shell's answer to `cmd`, whatever its type: boxed, so that the wait for it is in the
/// wasm once rather than once per type of answer.
fn invoke(
    cmd: &str,
    args: Result<JsValue, ErrorInfo>,
) -> Pin<Box<dyn Future<Output = Result<JsValue, ErrorInfo>> + '_>> {
    Box::pin(async move {
        invoke_raw(cmd, args?)
            .await
            .map_err(|err| ErrorInfo::internal(describe(&err)))
    })
}

/// A command with a request, which is written when the call is made (not when it is first
/// awaited), so the future borrows nothing.
fn call_with<T: DeserializeOwned, R: Serialize>(
    cmd: &'static str,
    request: &R,
) -> impl Future<Output = Result<T, ErrorInfo>> + use<T, R> {
    call(cmd, to_js(request))
}

/// The connector list the shell handed the page when it made the window
/// ([`switchboard_ipc::handed::CONNECTORS`]); `None` when there is none (a page not opened
/// by the shell) or it does not decode.
pub fn handed_connectors() -> Option<Vec<ConnectorSummary>> {
    let window = web_sys::window()?;
    let value = js_sys::Reflect::get(
        &window,
        &JsValue::from_str(switchboard_ipc::handed::CONNECTORS),
    )
    .ok()
    .filter(|value| !value.is_undefined())?;
    from_js(&value)
        .map_err(|err| logging::warn!("ignoring the handed connector list: {err}"))
        .ok()
}

pub fn list_connectors() -> impl Future<Output = Result<Vec<ConnectorSummary>, ErrorInfo>> {
    call_none(command::LIST_CONNECTORS)
}

pub fn take_notices() -> impl Future<Output = Result<Vec<Notice>, ErrorInfo>> {
    call_none(command::TAKE_NOTICES)
}

pub fn keep_start_view(
    request: KeepStartViewRequest,
) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_with(command::KEEP_START_VIEW, &request)
}

pub fn show_kept_file(path: String) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_with(command::SHOW_KEPT_FILE, &ShowFileRequest { path })
}

pub fn check_keyring() -> impl Future<Output = Result<(), ErrorInfo>> {
    call_none(command::CHECK_KEYRING)
}

pub fn check_address(
    url: String,
    editing: Option<ConnectorId>,
) -> impl Future<Output = Result<CheckedAddress, ErrorInfo>> {
    call_with(
        command::CHECK_ADDRESS,
        &CheckAddressRequest { url, editing },
    )
}

pub fn add_connector(
    request: AddConnectorRequest,
) -> impl Future<Output = Result<ConnectorSummary, ErrorInfo>> {
    call_with(command::ADD_CONNECTOR, &request)
}

pub fn connector_detail(
    id: ConnectorId,
) -> impl Future<Output = Result<ConnectorDetail, ErrorInfo>> {
    call_with(command::CONNECTOR_DETAIL, &ConnectorIdRequest { id })
}

pub fn set_tool_mode(
    connector_id: ConnectorId,
    tool: String,
    mode: switchboard_ipc::tools::ToolMode,
) -> impl Future<Output = Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo>> {
    call_with(
        command::SET_TOOL_MODE,
        &switchboard_ipc::tools::SetToolModeRequest {
            connector_id,
            tool,
            mode,
        },
    )
}

pub fn set_tool_limits(
    connector_id: ConnectorId,
    tool: Option<String>,
    limits: switchboard_ipc::tools::Limits,
) -> impl Future<Output = Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo>> {
    call_with(
        command::SET_TOOL_LIMITS,
        &switchboard_ipc::tools::SetToolLimitsRequest {
            connector_id,
            tool,
            limits,
        },
    )
}

pub fn tool_activity()
-> impl Future<Output = Result<Vec<switchboard_ipc::tools::ActivityEntry>, ErrorInfo>> {
    call_none(command::TOOL_ACTIVITY)
}

pub fn export_activity() -> impl Future<Output = Result<String, ErrorInfo>> {
    call_none(command::EXPORT_ACTIVITY)
}

pub fn set_tool_options(
    request: switchboard_ipc::tools::SetToolOptionsRequest,
) -> impl Future<Output = Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo>> {
    call_with(command::SET_TOOL_OPTIONS, &request)
}

pub fn mark_tools_seen(id: ConnectorId) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(command::MARK_TOOLS_SEEN, &ConnectorIdRequest { id })
}

pub fn set_connector_limits(
    connector_id: ConnectorId,
    limits: switchboard_ipc::tools::Limits,
) -> impl Future<Output = Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo>> {
    call_with(
        command::SET_TOOL_LIMITS,
        &switchboard_ipc::tools::SetToolLimitsRequest {
            connector_id,
            tool: None,
            limits,
        },
    )
}

pub fn bulk_tools(
    connector_id: ConnectorId,
    action: switchboard_ipc::tools::BulkAction,
) -> impl Future<Output = Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo>> {
    call_with(
        command::BULK_TOOLS,
        &switchboard_ipc::tools::BulkToolsRequest {
            connector_id,
            action,
        },
    )
}

pub fn answer_tool_approval(
    approval_id: String,
    answer: switchboard_ipc::tools::ApprovalAnswer,
) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(
        command::ANSWER_TOOL_APPROVAL,
        &switchboard_ipc::tools::AnswerApprovalRequest {
            approval_id,
            answer,
        },
    )
}

pub fn stop_tool_call(
    conversation_id: i64,
    call_id: String,
) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(
        command::STOP_TOOL_CALL,
        &switchboard_ipc::tools::StopToolCallRequest {
            conversation_id,
            call_id,
        },
    )
}

pub fn waiting_approvals(
    id: i64,
) -> impl Future<Output = Result<Vec<switchboard_ipc::tools::ToolApproval>, ErrorInfo>> {
    call_with(
        command::WAITING_APPROVALS,
        &switchboard_ipc::chat::ConversationIdRequest { id },
    )
}

pub fn reconnect(id: ConnectorId) -> impl Future<Output = Result<ConnectorSummary, ErrorInfo>> {
    call_with(command::RECONNECT, &ConnectorIdRequest { id })
}

pub fn set_enabled(
    id: ConnectorId,
    enabled: bool,
) -> impl Future<Output = Result<ConnectorSummary, ErrorInfo>> {
    call_with(command::SET_ENABLED, &SetEnabledRequest { id, enabled })
}

/// A command about one connector that answers nothing.
fn call_for_nothing(
    cmd: &'static str,
    id: ConnectorId,
) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(cmd, &ConnectorIdRequest { id })
}

pub fn remove_connector(id: ConnectorId) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_for_nothing(command::REMOVE_CONNECTOR, id)
}

pub fn sign_in(id: ConnectorId) -> impl Future<Output = Result<ConnectorSummary, ErrorInfo>> {
    call_with(command::SIGN_IN, &ConnectorIdRequest { id })
}

pub fn cancel_sign_in(
    id: ConnectorId,
) -> impl Future<Output = Result<ConnectorSummary, ErrorInfo>> {
    call_with(command::CANCEL_SIGN_IN, &ConnectorIdRequest { id })
}

pub fn open_sign_in_page(id: ConnectorId) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_for_nothing(command::OPEN_SIGN_IN_PAGE, id)
}

pub fn sign_out(id: ConnectorId) -> impl Future<Output = Result<ConnectorSummary, ErrorInfo>> {
    call_with(command::SIGN_OUT, &ConnectorIdRequest { id })
}

pub fn edit_connector(
    request: EditConnectorRequest,
) -> impl Future<Output = Result<ConnectorSummary, ErrorInfo>> {
    call_with(command::EDIT_CONNECTOR, &request)
}

// ----- Settings → Models -----

pub fn models_overview() -> impl Future<Output = Result<ModelsOverview, ErrorInfo>> {
    call_none(command::MODELS_OVERVIEW)
}

pub fn add_provider(
    request: AddProviderRequest,
) -> impl Future<Output = Result<ProviderSummary, ErrorInfo>> {
    call_with(command::ADD_PROVIDER, &request)
}

pub fn remove_provider(id: String) -> impl Future<Output = Result<ModelsOverview, ErrorInfo>> {
    call_with(command::REMOVE_PROVIDER, &ProviderIdRequest { id })
}

pub fn replace_provider_key(
    id: String,
    key: String,
) -> impl Future<Output = Result<ProviderSummary, ErrorInfo>> {
    let key = SecretInput(key);
    call_with(
        command::REPLACE_PROVIDER_KEY,
        &ReplaceProviderKeyRequest { id, key },
    )
}

pub fn refresh_models(id: String) -> impl Future<Output = Result<ProviderSummary, ErrorInfo>> {
    call_with(command::REFRESH_MODELS, &ProviderIdRequest { id })
}

pub fn check_model(choice: ModelChoice) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(command::CHECK_MODEL, &ModelChoiceRequest { choice })
}

pub fn set_default_model(
    choice: ModelChoice,
) -> impl Future<Output = Result<ModelsOverview, ErrorInfo>> {
    call_with(command::SET_DEFAULT_MODEL, &ModelChoiceRequest { choice })
}

pub fn set_attachment_limit(kb: u32) -> impl Future<Output = Result<ModelsOverview, ErrorInfo>> {
    call_with(
        command::SET_ATTACHMENT_LIMIT,
        &switchboard_ipc::chat::AttachmentLimitRequest { kb },
    )
}

// ----- Chats -----

pub fn list_conversations() -> impl Future<Output = Result<Vec<Conversation>, ErrorInfo>> {
    call_none(command::LIST_CONVERSATIONS)
}

pub fn new_conversation(
    first_message: String,
    model: Option<ModelChoice>,
) -> impl Future<Output = Result<Conversation, ErrorInfo>> {
    let request = NewConversationRequest {
        first_message,
        model,
    };
    call_with(command::NEW_CONVERSATION, &request)
}

pub fn open_conversation(id: i64) -> impl Future<Output = Result<ConversationView, ErrorInfo>> {
    call_with(command::OPEN_CONVERSATION, &ConversationIdRequest { id })
}

pub fn send_message(
    request: SendRequest,
) -> impl Future<Output = Result<StoredMessage, ErrorInfo>> {
    call_with(command::SEND_MESSAGE, &request)
}

pub fn stop_reply(id: i64) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(command::STOP_REPLY, &ConversationIdRequest { id })
}

pub fn retry_reply(id: i64) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(command::RETRY_REPLY, &ConversationIdRequest { id })
}

pub fn regenerate_reply(id: i64) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(command::REGENERATE_REPLY, &ConversationIdRequest { id })
}

pub fn edit_message(
    request: EditMessageRequest,
) -> impl Future<Output = Result<StoredMessage, ErrorInfo>> {
    call_with(command::EDIT_MESSAGE, &request)
}

pub fn rename_conversation(
    id: i64,
    title: String,
) -> impl Future<Output = Result<Conversation, ErrorInfo>> {
    call_with(
        command::RENAME_CONVERSATION,
        &RenameConversationRequest { id, title },
    )
}

pub fn set_conversation_model(
    id: i64,
    choice: ModelChoice,
) -> impl Future<Output = Result<Conversation, ErrorInfo>> {
    call_with(
        command::SET_CONVERSATION_MODEL,
        &ConversationModelRequest { id, choice },
    )
}

pub fn delete_conversation(id: i64) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(command::DELETE_CONVERSATION, &ConversationIdRequest { id })
}

// ----- The paperclip menu -----

pub fn attachables() -> impl Future<Output = Result<Vec<ConnectorDetail>, ErrorInfo>> {
    call_none(command::ATTACHABLES)
}

pub fn read_resource(
    request: ReadResourceRequest,
) -> impl Future<Output = Result<Attachment, ErrorInfo>> {
    call_with(command::READ_RESOURCE, &request)
}

pub fn get_prompt(
    request: GetPromptRequest,
) -> impl Future<Output = Result<Attachment, ErrorInfo>> {
    call_with(command::GET_PROMPT, &request)
}

/// The URI a resource template's values make, as the core expands it.
pub fn expand_template(
    request: ExpandTemplateRequest,
) -> impl Future<Output = Result<String, ErrorInfo>> {
    call_with(command::EXPAND_TEMPLATE, &request)
}

pub fn complete_argument(
    request: CompleteRequest,
) -> impl Future<Output = Result<Vec<String>, ErrorInfo>> {
    call_with(command::COMPLETE_ARGUMENT, &request)
}

/// Opens a reply's link in the person's browser (the core checks it first).
pub fn open_link(url: String) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(command::OPEN_LINK, &OpenLinkRequest { url })
}

/// A command that answers nothing but whether it worked.
fn call_unit<R: Serialize>(
    cmd: &'static str,
    request: &R,
) -> impl Future<Output = Result<(), ErrorInfo>> + use<R> {
    call_with(cmd, request)
}

/// A command that takes no request.
fn call_none<T: DeserializeOwned>(cmd: &'static str) -> impl Future<Output = Result<T, ErrorInfo>> {
    call(cmd, Ok(JsValue::UNDEFINED))
}

/// Calls `handler` with the payload of every `event` for the rest of the window's life.
///
/// A payload that does not decode is logged and dropped: one malformed event must not take
/// the window down, and the next list refresh repairs whatever it would have changed.
pub fn listen<T: DeserializeOwned + 'static>(event: &'static str, handler: impl Fn(T) + 'static) {
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |raw: JsValue| {
        let payload =
            js_sys::Reflect::get(&raw, &JsValue::from_str("payload")).unwrap_or(JsValue::UNDEFINED);
        match from_js::<T>(&payload) {
            Ok(payload) => handler(payload),
            Err(err) => logging::warn!("ignoring malformed `{event}` event: {err}"),
        }
    });
    subscribe(event, closure);
}

/// Hands `closure` to the shell for `event`: once in the wasm, whatever the payload's type.
fn subscribe(event: &'static str, closure: Closure<dyn FnMut(JsValue)>) {
    spawn_local(async move {
        match listen_raw(event, &closure).await {
            // The window subscribes once at start and never unsubscribes, so the unlisten
            // function is dropped and the closure deliberately lives as long as the page.
            Ok(_unlisten) => closure.forget(),
            Err(err) => logging::warn!("could not listen to `{event}`: {}", describe(&err)),
        }
    });
}

/// The person's answer to a server's question (the core checks a form's values first).
pub fn answer_question(
    id: String,
    answer: switchboard_ipc::ask::Answer,
) -> impl Future<Output = Result<(), ErrorInfo>> {
    call_unit(
        command::ANSWER_QUESTION,
        &switchboard_ipc::ask::AnswerQuestionRequest { id, answer },
    )
}

/// The servers' questions waiting, for a window that opens.
pub fn waiting_questions()
-> impl Future<Output = Result<Vec<switchboard_ipc::ask::Question>, ErrorInfo>> {
    call_none(command::WAITING_QUESTIONS)
}

/// What a connector's server logged since it connected.
pub fn server_messages(
    id: ConnectorId,
) -> impl Future<Output = Result<switchboard_ipc::ServerMessages, ErrorInfo>> {
    call_with(command::SERVER_MESSAGES, &ConnectorIdRequest { id })
}
