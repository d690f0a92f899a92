//! The window's commands: each one hands its request to the core and returns the core's
//! answer. Names match `switchboard_ipc::command`; errors are `ErrorInfo` as they come.

use switchboard_core::Connectors;
use switchboard_core::chat::Chat;
use switchboard_core::memory::AfterBursts;
use switchboard_ipc::chat::{
    AddProviderRequest, Attachment, AttachmentLimitRequest, CompleteRequest, Conversation,
    ConversationIdRequest, ConversationModelRequest, ConversationView, EditMessageRequest,
    GetPromptRequest, ModelChoiceRequest, ModelsOverview, NewConversationRequest, OpenLinkRequest,
    ProviderIdRequest, ProviderSummary, ReadResourceRequest, RenameConversationRequest,
    ReplaceProviderKeyRequest, SendRequest, StoredMessage,
};
use switchboard_ipc::tools::{
    ActivityEntry, AnswerApprovalRequest, BulkToolsRequest, ConnectorTools, SetToolLimitsRequest,
    SetToolModeRequest, SetToolOptionsRequest, StopToolCallRequest, ToolApproval,
};
use switchboard_ipc::{
    AddConnectorRequest, CheckAddressRequest, CheckedAddress, ConnectorDetail, ConnectorIdRequest,
    ConnectorSummary, EditConnectorRequest, ErrorCode, ErrorInfo, KeepStartViewRequest, Notice,
    SetEnabledRequest, ShowFileRequest,
};
use tauri::{AppHandle, State};

use switchboard_core::start_view::StartView;

use crate::{HandedList, PendingNotices};

type Reply<T> = Result<T, ErrorInfo>;

#[tauri::command]
pub async fn list_connectors(connectors: State<'_, Connectors>) -> Reply<Vec<ConnectorSummary>> {
    Ok(connectors.list())
}

#[tauri::command]
pub async fn check_keyring(connectors: State<'_, Connectors>) -> Reply<()> {
    connectors.check_keyring().await
}

#[tauri::command]
pub async fn check_address(
    connectors: State<'_, Connectors>,
    request: CheckAddressRequest,
) -> Reply<CheckedAddress> {
    connectors.check_address(&request.url, request.editing.as_ref())
}

#[tauri::command]
pub async fn add_connector(
    connectors: State<'_, Connectors>,
    request: AddConnectorRequest,
) -> Reply<ConnectorSummary> {
    connectors.add(request).await
}

#[tauri::command]
pub async fn connector_detail(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    after_bursts: State<'_, AfterBursts>,
    request: ConnectorIdRequest,
) -> Reply<ConnectorDetail> {
    // A catalog of thousands is copied into the reply.
    after_bursts.busy();
    connectors
        .detail(&request.id)
        .map(|detail| chat.with_tool_counts(detail))
}

#[tauri::command]
pub async fn reconnect(
    connectors: State<'_, Connectors>,
    request: ConnectorIdRequest,
) -> Reply<ConnectorSummary> {
    connectors.reconnect(&request.id)
}

#[tauri::command]
pub async fn set_enabled(
    connectors: State<'_, Connectors>,
    request: SetEnabledRequest,
) -> Reply<ConnectorSummary> {
    connectors.set_enabled(&request.id, request.enabled)
}

#[tauri::command]
pub async fn remove_connector(
    connectors: State<'_, Connectors>,
    request: ConnectorIdRequest,
) -> Reply<()> {
    connectors.remove(&request.id).await
}

#[tauri::command]
pub async fn take_notices(pending: State<'_, PendingNotices>) -> Reply<Vec<Notice>> {
    Ok(pending.take())
}

/// Keeps the first view the window built at this start, for the next start to show while
/// the window's code loads (`switchboard_core::start_view`).
#[tauri::command]
pub async fn keep_start_view(
    app: AppHandle,
    handed: State<'_, HandedList>,
    request: KeepStartViewRequest,
) -> Reply<()> {
    let view = StartView::new(&handed.get(), &request.build, &request.markup)?;
    let path = crate::start_view_file(&app).map_err(|err| ErrorInfo::internal(err.to_string()))?;
    tauri::async_runtime::spawn_blocking(move || view.keep(&path))
        .await
        .map_err(|err| ErrorInfo::internal(err.to_string()))?
}

#[tauri::command]
pub async fn sign_in(
    connectors: State<'_, Connectors>,
    request: ConnectorIdRequest,
) -> Reply<ConnectorSummary> {
    connectors.sign_in(&request.id)
}

#[tauri::command]
pub async fn cancel_sign_in(
    connectors: State<'_, Connectors>,
    request: ConnectorIdRequest,
) -> Reply<ConnectorSummary> {
    connectors.cancel_sign_in(&request.id)
}

#[tauri::command]
pub async fn open_sign_in_page(
    connectors: State<'_, Connectors>,
    request: ConnectorIdRequest,
) -> Reply<()> {
    connectors.open_sign_in_page(&request.id)
}

#[tauri::command]
pub async fn sign_out(
    connectors: State<'_, Connectors>,
    request: ConnectorIdRequest,
) -> Reply<ConnectorSummary> {
    connectors.sign_out(&request.id).await
}

#[tauri::command]
pub async fn edit_connector(
    connectors: State<'_, Connectors>,
    request: EditConnectorRequest,
) -> Reply<ConnectorSummary> {
    connectors.edit(request).await
}

// ----- Settings → Models -----

#[tauri::command]
pub async fn models_overview(chat: State<'_, Chat>) -> Reply<ModelsOverview> {
    Ok(chat.providers().overview())
}

#[tauri::command]
pub async fn add_provider(
    chat: State<'_, Chat>,
    request: AddProviderRequest,
) -> Reply<ProviderSummary> {
    chat.providers().add(request).await
}

#[tauri::command]
pub async fn remove_provider(
    chat: State<'_, Chat>,
    request: ProviderIdRequest,
) -> Reply<ModelsOverview> {
    chat.providers().remove(&request.id).await
}

#[tauri::command]
pub async fn replace_provider_key(
    chat: State<'_, Chat>,
    request: ReplaceProviderKeyRequest,
) -> Reply<ProviderSummary> {
    chat.providers()
        .replace_key(&request.id, &request.key.0)
        .await
}

#[tauri::command]
pub async fn refresh_models(
    chat: State<'_, Chat>,
    request: ProviderIdRequest,
) -> Reply<ProviderSummary> {
    chat.providers().refresh_models(&request.id).await
}

#[tauri::command]
pub async fn check_model(chat: State<'_, Chat>, request: ModelChoiceRequest) -> Reply<()> {
    chat.providers().check(&request.choice).await
}

#[tauri::command]
pub async fn set_default_model(
    chat: State<'_, Chat>,
    request: ModelChoiceRequest,
) -> Reply<ModelsOverview> {
    chat.providers().set_default(request.choice)
}

#[tauri::command]
pub async fn set_attachment_limit(
    chat: State<'_, Chat>,
    request: AttachmentLimitRequest,
) -> Reply<ModelsOverview> {
    chat.providers().set_attachment_limit(request.kb)
}

// ----- Tools -----

#[tauri::command]
pub async fn set_tool_mode(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    request: SetToolModeRequest,
) -> Reply<ConnectorTools> {
    connectors
        .set_tool_mode(&request.connector_id, &request.tool, request.mode)
        .map(|tools| chat.tool_counts(&request.connector_id, tools))
}

#[tauri::command]
pub async fn bulk_tools(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    request: BulkToolsRequest,
) -> Reply<ConnectorTools> {
    connectors
        .bulk_tools(&request.connector_id, request.action)
        .map(|tools| chat.tool_counts(&request.connector_id, tools))
}

#[tauri::command]
pub async fn set_tool_limits(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    request: SetToolLimitsRequest,
) -> Reply<ConnectorTools> {
    connectors
        .set_tool_limits(
            &request.connector_id,
            request.tool.as_deref(),
            request.limits,
        )
        .map(|tools| chat.tool_counts(&request.connector_id, tools))
}

#[tauri::command]
pub async fn answer_tool_approval(
    chat: State<'_, Chat>,
    request: AnswerApprovalRequest,
) -> Reply<()> {
    chat.answer_approval(&request.approval_id, request.answer)
}

#[tauri::command]
pub async fn stop_tool_call(chat: State<'_, Chat>, request: StopToolCallRequest) -> Reply<()> {
    chat.stop_tool_call(request.conversation_id, &request.call_id)
}

#[tauri::command]
pub async fn waiting_approvals(
    chat: State<'_, Chat>,
    request: ConversationIdRequest,
) -> Reply<Vec<ToolApproval>> {
    Ok(chat.waiting_approvals(request.id))
}

#[tauri::command]
pub async fn set_tool_options(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    request: SetToolOptionsRequest,
) -> Reply<ConnectorTools> {
    connectors
        .set_tool_options(
            &request.connector_id,
            request.call_timeout_secs,
            request.allow_elicitation,
            request.allow_sampling,
        )
        .map(|tools| chat.tool_counts(&request.connector_id, tools))
}

#[tauri::command]
pub async fn mark_tools_seen(
    connectors: State<'_, Connectors>,
    request: ConnectorIdRequest,
) -> Reply<()> {
    connectors.mark_tools_seen(&request.id).map(drop)
}

#[tauri::command]
pub async fn tool_activity(chat: State<'_, Chat>) -> Reply<Vec<ActivityEntry>> {
    chat.activity(ACTIVITY_SHOWN)
}

/// How many calls Settings → Activity lists (and exports), newest first.
const ACTIVITY_SHOWN: u32 = 10_000;

/// Writes the activity log as CSV into the person's Downloads folder (their home when
/// there is none) and answers with the file's path.
#[tauri::command]
pub async fn export_activity(app: AppHandle, chat: State<'_, Chat>) -> Reply<String> {
    use tauri::Manager;
    let entries = chat.activity(ACTIVITY_SHOWN)?;
    let csv = switchboard_core::tools::activity::to_csv(&entries);
    let folder = app
        .path()
        .download_dir()
        .or_else(|_| app.path().home_dir())
        .map_err(|err| {
            ErrorInfo::new(
                ErrorCode::Storage,
                "Switchboard could not find your Downloads folder.",
            )
            .with_detail(err.to_string())
        })?;
    let name = format!(
        "switchboard-activity-{}.csv",
        switchboard_core::tools::gate::today()
    );
    let path = folder.join(name);
    std::fs::create_dir_all(&folder)
        .and_then(|()| std::fs::write(&path, csv))
        .map_err(|err| {
            ErrorInfo::new(
                ErrorCode::Storage,
                "Switchboard could not save the activity file.",
            )
            .with_detail(format!("{}: {err}", path.display()))
        })?;
    Ok(path.display().to_string())
}

// ----- Chats -----

#[tauri::command]
pub async fn list_conversations(chat: State<'_, Chat>) -> Reply<Vec<Conversation>> {
    chat.conversations()
}

#[tauri::command]
pub async fn new_conversation(
    chat: State<'_, Chat>,
    request: NewConversationRequest,
) -> Reply<Conversation> {
    chat.create(&request.first_message, request.model)
}

#[tauri::command]
pub async fn open_conversation(
    chat: State<'_, Chat>,
    request: ConversationIdRequest,
) -> Reply<ConversationView> {
    chat.open(request.id)
}

#[tauri::command]
pub async fn send_message(chat: State<'_, Chat>, request: SendRequest) -> Reply<StoredMessage> {
    chat.send(request)
}

#[tauri::command]
pub async fn stop_reply(chat: State<'_, Chat>, request: ConversationIdRequest) -> Reply<()> {
    chat.stop(request.id);
    Ok(())
}

#[tauri::command]
pub async fn retry_reply(chat: State<'_, Chat>, request: ConversationIdRequest) -> Reply<()> {
    chat.retry(request.id)
}

#[tauri::command]
pub async fn regenerate_reply(chat: State<'_, Chat>, request: ConversationIdRequest) -> Reply<()> {
    chat.regenerate(request.id)
}

#[tauri::command]
pub async fn edit_message(
    chat: State<'_, Chat>,
    request: EditMessageRequest,
) -> Reply<StoredMessage> {
    chat.edit(request.conversation_id, request.message_id, &request.text)
}

#[tauri::command]
pub async fn rename_conversation(
    chat: State<'_, Chat>,
    request: RenameConversationRequest,
) -> Reply<Conversation> {
    chat.rename(request.id, &request.title)
}

#[tauri::command]
pub async fn set_conversation_model(
    chat: State<'_, Chat>,
    request: ConversationModelRequest,
) -> Reply<Conversation> {
    chat.set_model(request.id, &request.choice)
}

#[tauri::command]
pub async fn delete_conversation(
    chat: State<'_, Chat>,
    request: ConversationIdRequest,
) -> Reply<()> {
    chat.delete(request.id)
}

// ----- The paperclip menu -----

#[tauri::command]
pub async fn attachables(
    connectors: State<'_, Connectors>,
    after_bursts: State<'_, AfterBursts>,
) -> Reply<Vec<ConnectorDetail>> {
    after_bursts.busy();
    Ok(connectors.details())
}

#[tauri::command]
pub async fn read_resource(
    chat: State<'_, Chat>,
    after_bursts: State<'_, AfterBursts>,
    request: ReadResourceRequest,
) -> Reply<Attachment> {
    after_bursts.busy();
    chat.read_resource(request).await
}

#[tauri::command]
pub async fn get_prompt(chat: State<'_, Chat>, request: GetPromptRequest) -> Reply<Attachment> {
    chat.get_prompt(request).await
}

#[tauri::command]
pub async fn complete_argument(
    chat: State<'_, Chat>,
    request: CompleteRequest,
) -> Reply<Vec<String>> {
    chat.complete(request).await
}

/// "Show file" on the notice about settings kept aside: the file manager, at that file.
/// Only such a file: the window names it, the core judges it.
#[tauri::command]
pub async fn show_kept_file(app: tauri::AppHandle, request: ShowFileRequest) -> Reply<()> {
    use tauri::Manager;
    use tauri_plugin_opener::OpenerExt;
    let settings = app
        .path()
        .app_data_dir()
        .map_err(|err| ErrorInfo::internal(err.to_string()))?
        .join(switchboard_core::settings::FILE_NAME);
    let file = std::path::PathBuf::from(&request.path);
    if !switchboard_core::settings::is_kept_aside(&settings, &file) {
        return Err(ErrorInfo::new(
            switchboard_ipc::ErrorCode::Storage,
            "That file is not one Switchboard kept aside.",
        ));
    }
    app.opener().reveal_item_in_dir(&file).map_err(|err| {
        ErrorInfo::new(
            switchboard_ipc::ErrorCode::Storage,
            format!(
                "Switchboard could not open your file manager. The file is at {}.",
                file.display()
            ),
        )
        .with_detail(err.to_string())
    })
}

/// A link in a reply, clicked: opened in the person's browser when it is a web page or an
/// e-mail address.
#[tauri::command]
pub async fn open_link(app: tauri::AppHandle, request: OpenLinkRequest) -> Reply<()> {
    use tauri_plugin_opener::OpenerExt;
    let url = switchboard_core::web::check_link(&request.url)?;
    app.opener()
        .open_url(url.as_str(), None::<&str>)
        .map_err(|err| {
            ErrorInfo::new(
                switchboard_ipc::ErrorCode::Internal,
                "Switchboard could not open your browser.",
            )
            .with_detail(err.to_string())
        })
}

#[tauri::command]
pub async fn answer_question(
    connectors: State<'_, Connectors>,
    request: switchboard_ipc::ask::AnswerQuestionRequest,
) -> Reply<()> {
    connectors.answer_question(&request.id, request.answer)
}

#[tauri::command]
pub async fn waiting_questions(
    connectors: State<'_, Connectors>,
) -> Reply<Vec<switchboard_ipc::ask::Question>> {
    Ok(connectors.waiting_questions())
}

#[tauri::command]
pub async fn server_messages(
    connectors: State<'_, Connectors>,
    request: ConnectorIdRequest,
) -> Reply<switchboard_ipc::ServerMessages> {
    connectors.server_messages(&request.id)
}
