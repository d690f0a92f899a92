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
async fn call<T: DeserializeOwned>(cmd: &str, args: JsValue) -> Result<T, ErrorInfo> {
    let value = invoke_raw(cmd, args)
        .await
        .map_err(|err| ErrorInfo::internal(describe(&err)))?;
    from_js::<Result<T, ErrorInfo>>(&value)
        .map_err(|err| ErrorInfo::internal(format!("unexpected answer to {cmd}: {err}")))?
}

async fn call_with<T: DeserializeOwned, R: Serialize>(
    cmd: &str,
    request: &R,
) -> Result<T, ErrorInfo> {
    call(cmd, to_js(request)?).await
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

pub async fn list_connectors() -> Result<Vec<ConnectorSummary>, ErrorInfo> {
    call(command::LIST_CONNECTORS, JsValue::UNDEFINED).await
}

pub async fn take_notices() -> Result<Vec<Notice>, ErrorInfo> {
    call(command::TAKE_NOTICES, JsValue::UNDEFINED).await
}

pub async fn keep_start_view(request: KeepStartViewRequest) -> Result<(), ErrorInfo> {
    call_with(command::KEEP_START_VIEW, &request).await
}

pub async fn show_kept_file(path: String) -> Result<(), ErrorInfo> {
    call_with(command::SHOW_KEPT_FILE, &ShowFileRequest { path }).await
}

pub async fn check_keyring() -> Result<(), ErrorInfo> {
    call(command::CHECK_KEYRING, JsValue::UNDEFINED).await
}

pub async fn check_address(
    url: String,
    editing: Option<ConnectorId>,
) -> Result<CheckedAddress, ErrorInfo> {
    call_with(
        command::CHECK_ADDRESS,
        &CheckAddressRequest { url, editing },
    )
    .await
}

pub async fn add_connector(request: AddConnectorRequest) -> Result<ConnectorSummary, ErrorInfo> {
    call_with(command::ADD_CONNECTOR, &request).await
}

pub async fn connector_detail(id: ConnectorId) -> Result<ConnectorDetail, ErrorInfo> {
    call_with(command::CONNECTOR_DETAIL, &ConnectorIdRequest { id }).await
}

pub async fn set_tool_mode(
    connector_id: ConnectorId,
    tool: String,
    mode: switchboard_ipc::tools::ToolMode,
) -> Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo> {
    call_with(
        command::SET_TOOL_MODE,
        &switchboard_ipc::tools::SetToolModeRequest {
            connector_id,
            tool,
            mode,
        },
    )
    .await
}

pub async fn set_tool_limits(
    connector_id: ConnectorId,
    tool: Option<String>,
    limits: switchboard_ipc::tools::Limits,
) -> Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo> {
    call_with(
        command::SET_TOOL_LIMITS,
        &switchboard_ipc::tools::SetToolLimitsRequest {
            connector_id,
            tool,
            limits,
        },
    )
    .await
}

pub async fn tool_activity() -> Result<Vec<switchboard_ipc::tools::ActivityEntry>, ErrorInfo> {
    call(command::TOOL_ACTIVITY, JsValue::UNDEFINED).await
}

pub async fn export_activity() -> Result<String, ErrorInfo> {
    call(command::EXPORT_ACTIVITY, JsValue::UNDEFINED).await
}

pub async fn set_tool_options(
    request: switchboard_ipc::tools::SetToolOptionsRequest,
) -> Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo> {
    call_with(command::SET_TOOL_OPTIONS, &request).await
}

pub async fn mark_tools_seen(id: ConnectorId) -> Result<(), ErrorInfo> {
    call_unit(command::MARK_TOOLS_SEEN, &ConnectorIdRequest { id }).await
}

pub async fn set_connector_limits(
    connector_id: ConnectorId,
    limits: switchboard_ipc::tools::Limits,
) -> Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo> {
    call_with(
        command::SET_TOOL_LIMITS,
        &switchboard_ipc::tools::SetToolLimitsRequest {
            connector_id,
            tool: None,
            limits,
        },
    )
    .await
}

pub async fn bulk_tools(
    connector_id: ConnectorId,
    action: switchboard_ipc::tools::BulkAction,
) -> Result<switchboard_ipc::tools::ConnectorTools, ErrorInfo> {
    call_with(
        command::BULK_TOOLS,
        &switchboard_ipc::tools::BulkToolsRequest {
            connector_id,
            action,
        },
    )
    .await
}

pub async fn answer_tool_approval(
    approval_id: String,
    answer: switchboard_ipc::tools::ApprovalAnswer,
) -> Result<(), ErrorInfo> {
    call_unit(
        command::ANSWER_TOOL_APPROVAL,
        &switchboard_ipc::tools::AnswerApprovalRequest {
            approval_id,
            answer,
        },
    )
    .await
}

pub async fn stop_tool_call(conversation_id: i64, call_id: String) -> Result<(), ErrorInfo> {
    call_unit(
        command::STOP_TOOL_CALL,
        &switchboard_ipc::tools::StopToolCallRequest {
            conversation_id,
            call_id,
        },
    )
    .await
}

pub async fn waiting_approvals(
    id: i64,
) -> Result<Vec<switchboard_ipc::tools::ToolApproval>, ErrorInfo> {
    call_with(
        command::WAITING_APPROVALS,
        &switchboard_ipc::chat::ConversationIdRequest { id },
    )
    .await
}

pub async fn reconnect(id: ConnectorId) -> Result<ConnectorSummary, ErrorInfo> {
    call_with(command::RECONNECT, &ConnectorIdRequest { id }).await
}

pub async fn set_enabled(id: ConnectorId, enabled: bool) -> Result<ConnectorSummary, ErrorInfo> {
    call_with(command::SET_ENABLED, &SetEnabledRequest { id, enabled }).await
}

/// A command about one connector that answers nothing.
async fn call_for_nothing(cmd: &str, id: ConnectorId) -> Result<(), ErrorInfo> {
    call_unit(cmd, &ConnectorIdRequest { id }).await
}

pub async fn remove_connector(id: ConnectorId) -> Result<(), ErrorInfo> {
    call_for_nothing(command::REMOVE_CONNECTOR, id).await
}

pub async fn sign_in(id: ConnectorId) -> Result<ConnectorSummary, ErrorInfo> {
    call_with(command::SIGN_IN, &ConnectorIdRequest { id }).await
}

pub async fn cancel_sign_in(id: ConnectorId) -> Result<ConnectorSummary, ErrorInfo> {
    call_with(command::CANCEL_SIGN_IN, &ConnectorIdRequest { id }).await
}

pub async fn open_sign_in_page(id: ConnectorId) -> Result<(), ErrorInfo> {
    call_for_nothing(command::OPEN_SIGN_IN_PAGE, id).await
}

pub async fn sign_out(id: ConnectorId) -> Result<ConnectorSummary, ErrorInfo> {
    call_with(command::SIGN_OUT, &ConnectorIdRequest { id }).await
}

pub async fn edit_connector(request: EditConnectorRequest) -> Result<ConnectorSummary, ErrorInfo> {
    call_with(command::EDIT_CONNECTOR, &request).await
}

// ----- Settings → Models -----

pub async fn models_overview() -> Result<ModelsOverview, ErrorInfo> {
    call(command::MODELS_OVERVIEW, JsValue::UNDEFINED).await
}

pub async fn add_provider(request: AddProviderRequest) -> Result<ProviderSummary, ErrorInfo> {
    call_with(command::ADD_PROVIDER, &request).await
}

pub async fn remove_provider(id: String) -> Result<ModelsOverview, ErrorInfo> {
    call_with(command::REMOVE_PROVIDER, &ProviderIdRequest { id }).await
}

pub async fn replace_provider_key(id: String, key: String) -> Result<ProviderSummary, ErrorInfo> {
    let key = SecretInput(key);
    call_with(
        command::REPLACE_PROVIDER_KEY,
        &ReplaceProviderKeyRequest { id, key },
    )
    .await
}

pub async fn refresh_models(id: String) -> Result<ProviderSummary, ErrorInfo> {
    call_with(command::REFRESH_MODELS, &ProviderIdRequest { id }).await
}

pub async fn check_model(choice: ModelChoice) -> Result<(), ErrorInfo> {
    call_unit(command::CHECK_MODEL, &ModelChoiceRequest { choice }).await
}

pub async fn set_default_model(choice: ModelChoice) -> Result<ModelsOverview, ErrorInfo> {
    call_with(command::SET_DEFAULT_MODEL, &ModelChoiceRequest { choice }).await
}

pub async fn set_attachment_limit(kb: u32) -> Result<ModelsOverview, ErrorInfo> {
    call_with(
        command::SET_ATTACHMENT_LIMIT,
        &switchboard_ipc::chat::AttachmentLimitRequest { kb },
    )
    .await
}

// ----- Chats -----

pub async fn list_conversations() -> Result<Vec<Conversation>, ErrorInfo> {
    call(command::LIST_CONVERSATIONS, JsValue::UNDEFINED).await
}

pub async fn new_conversation(
    first_message: String,
    model: Option<ModelChoice>,
) -> Result<Conversation, ErrorInfo> {
    let request = NewConversationRequest {
        first_message,
        model,
    };
    call_with(command::NEW_CONVERSATION, &request).await
}

pub async fn open_conversation(id: i64) -> Result<ConversationView, ErrorInfo> {
    call_with(command::OPEN_CONVERSATION, &ConversationIdRequest { id }).await
}

pub async fn send_message(request: SendRequest) -> Result<StoredMessage, ErrorInfo> {
    call_with(command::SEND_MESSAGE, &request).await
}

pub async fn stop_reply(id: i64) -> Result<(), ErrorInfo> {
    call_unit(command::STOP_REPLY, &ConversationIdRequest { id }).await
}

pub async fn retry_reply(id: i64) -> Result<(), ErrorInfo> {
    call_unit(command::RETRY_REPLY, &ConversationIdRequest { id }).await
}

pub async fn regenerate_reply(id: i64) -> Result<(), ErrorInfo> {
    call_unit(command::REGENERATE_REPLY, &ConversationIdRequest { id }).await
}

pub async fn edit_message(request: EditMessageRequest) -> Result<StoredMessage, ErrorInfo> {
    call_with(command::EDIT_MESSAGE, &request).await
}

pub async fn rename_conversation(id: i64, title: String) -> Result<Conversation, ErrorInfo> {
    call_with(
        command::RENAME_CONVERSATION,
        &RenameConversationRequest { id, title },
    )
    .await
}

pub async fn set_conversation_model(
    id: i64,
    choice: ModelChoice,
) -> Result<Conversation, ErrorInfo> {
    call_with(
        command::SET_CONVERSATION_MODEL,
        &ConversationModelRequest { id, choice },
    )
    .await
}

pub async fn delete_conversation(id: i64) -> Result<(), ErrorInfo> {
    call_unit(command::DELETE_CONVERSATION, &ConversationIdRequest { id }).await
}

// ----- The paperclip menu -----

pub async fn attachables() -> Result<Vec<ConnectorDetail>, ErrorInfo> {
    call(command::ATTACHABLES, JsValue::UNDEFINED).await
}

pub async fn read_resource(request: ReadResourceRequest) -> Result<Attachment, ErrorInfo> {
    call_with(command::READ_RESOURCE, &request).await
}

pub async fn get_prompt(request: GetPromptRequest) -> Result<Attachment, ErrorInfo> {
    call_with(command::GET_PROMPT, &request).await
}

/// The URI a resource template's values make, as the core expands it.
pub async fn expand_template(request: ExpandTemplateRequest) -> Result<String, ErrorInfo> {
    call_with(command::EXPAND_TEMPLATE, &request).await
}

pub async fn complete_argument(request: CompleteRequest) -> Result<Vec<String>, ErrorInfo> {
    call_with(command::COMPLETE_ARGUMENT, &request).await
}

/// Opens a reply's link in the person's browser (the core checks it first).
pub async fn open_link(url: String) -> Result<(), ErrorInfo> {
    call_unit(command::OPEN_LINK, &OpenLinkRequest { url }).await
}

/// A command that answers nothing but whether it worked.
async fn call_unit<R: Serialize>(cmd: &str, request: &R) -> Result<(), ErrorInfo> {
    call_with(cmd, request).await
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
pub async fn answer_question(
    id: String,
    answer: switchboard_ipc::ask::Answer,
) -> Result<(), ErrorInfo> {
    call_unit(
        command::ANSWER_QUESTION,
        &switchboard_ipc::ask::AnswerQuestionRequest { id, answer },
    )
    .await
}

/// The servers' questions waiting, for a window that opens.
pub async fn waiting_questions() -> Result<Vec<switchboard_ipc::ask::Question>, ErrorInfo> {
    call(command::WAITING_QUESTIONS, JsValue::UNDEFINED).await
}

/// What a connector's server logged since it connected.
pub async fn server_messages(
    id: ConnectorId,
) -> Result<switchboard_ipc::ServerMessages, ErrorInfo> {
    call_with(command::SERVER_MESSAGES, &ConnectorIdRequest { id }).await
}
