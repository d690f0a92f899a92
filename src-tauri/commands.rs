//! The window's commands: each one hands its request to the core and returns the core's
//! answer. Names match `switchboard_ipc::command`; errors are `ErrorInfo` as they come.
//! Requests and answers are wire bytes (`crate::wire`); each answer's type is the one the
//! window's wrapper of the command reads (`ui/src/tauri.rs`).

use switchboard_core::Connectors;
use switchboard_core::chat::Chat;
use switchboard_core::memory::AfterBursts;
use switchboard_ipc::chat::{
    AddProviderRequest, AttachmentLimitRequest, CompleteRequest, ConversationIdRequest,
    ConversationModelRequest, EditMessageRequest, GetPromptRequest, ModelChoiceRequest,
    NewConversationRequest, OpenLinkRequest, ProviderIdRequest, ReadResourceRequest,
    RenameConversationRequest, ReplaceProviderKeyRequest, SendRequest,
};
use switchboard_ipc::tools::{
    AnswerApprovalRequest, BulkToolsRequest, SetToolLimitsRequest, SetToolModeRequest,
    SetToolOptionsRequest, StopToolCallRequest,
};
use switchboard_ipc::{
    AddConnectorRequest, CheckAddressRequest, ConnectorIdRequest, EditConnectorRequest, ErrorCode,
    ErrorInfo, ExpandTemplateRequest, KeepStartViewRequest, SetEnabledRequest, ShowFileRequest,
};
use tauri::{AppHandle, State};

use switchboard_core::start_view::StartView;

use crate::wire::{Answer, Wire, answer};
use crate::{HandedList, PendingNotices};

type Reply<T> = Result<T, ErrorInfo>;

#[tauri::command]
pub async fn list_connectors(connectors: State<'_, Connectors>) -> Answer {
    answer(Ok(connectors.list()))
}

#[tauri::command]
pub async fn check_keyring(connectors: State<'_, Connectors>) -> Answer {
    answer(connectors.check_keyring().await)
}

#[tauri::command]
pub async fn check_address(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<CheckAddressRequest>,
) -> Answer {
    answer(connectors.check_address(&request.url, request.editing.as_ref()))
}

#[tauri::command]
pub async fn add_connector(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<AddConnectorRequest>,
) -> Answer {
    answer(connectors.add(request).await)
}

#[tauri::command]
pub async fn connector_detail(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    after_bursts: State<'_, AfterBursts>,
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    // A catalog of thousands is copied into the reply.
    after_bursts.busy();
    answer(
        connectors
            .detail(&request.id)
            .map(|detail| chat.with_tool_counts(detail)),
    )
}

#[tauri::command]
pub async fn reconnect(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    answer(connectors.reconnect(&request.id))
}

#[tauri::command]
pub async fn set_enabled(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<SetEnabledRequest>,
) -> Answer {
    answer(connectors.set_enabled(&request.id, request.enabled))
}

#[tauri::command]
pub async fn remove_connector(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    answer(connectors.remove(&request.id).await)
}

#[tauri::command]
pub async fn take_notices(pending: State<'_, PendingNotices>) -> Answer {
    answer(Ok(pending.take()))
}

/// Keeps the first view the window built at this start, for the next start to show while
/// the window's code loads (`switchboard_core::start_view`).
#[tauri::command]
pub async fn keep_start_view(
    app: AppHandle,
    handed: State<'_, HandedList>,
    Wire(request): Wire<KeepStartViewRequest>,
) -> Answer {
    answer(keep_start_view_reply(app, handed, request).await)
}

async fn keep_start_view_reply(
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
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    answer(connectors.sign_in(&request.id))
}

#[tauri::command]
pub async fn cancel_sign_in(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    answer(connectors.cancel_sign_in(&request.id))
}

#[tauri::command]
pub async fn open_sign_in_page(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    answer(connectors.open_sign_in_page(&request.id))
}

#[tauri::command]
pub async fn sign_out(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    answer(connectors.sign_out(&request.id).await)
}

#[tauri::command]
pub async fn edit_connector(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<EditConnectorRequest>,
) -> Answer {
    answer(connectors.edit(request).await)
}

// ----- Settings → Models -----

#[tauri::command]
pub async fn models_overview(chat: State<'_, Chat>) -> Answer {
    answer(Ok(chat.providers().overview()))
}

#[tauri::command]
pub async fn add_provider(
    chat: State<'_, Chat>,
    Wire(request): Wire<AddProviderRequest>,
) -> Answer {
    answer(chat.providers().add(request).await)
}

#[tauri::command]
pub async fn remove_provider(
    chat: State<'_, Chat>,
    Wire(request): Wire<ProviderIdRequest>,
) -> Answer {
    answer(chat.providers().remove(&request.id).await)
}

#[tauri::command]
pub async fn replace_provider_key(
    chat: State<'_, Chat>,
    Wire(request): Wire<ReplaceProviderKeyRequest>,
) -> Answer {
    answer(
        chat.providers()
            .replace_key(&request.id, &request.key.0)
            .await,
    )
}

#[tauri::command]
pub async fn refresh_models(
    chat: State<'_, Chat>,
    Wire(request): Wire<ProviderIdRequest>,
) -> Answer {
    answer(chat.providers().refresh_models(&request.id).await)
}

#[tauri::command]
pub async fn check_model(chat: State<'_, Chat>, Wire(request): Wire<ModelChoiceRequest>) -> Answer {
    answer(chat.providers().check(&request.choice).await)
}

#[tauri::command]
pub async fn set_default_model(
    chat: State<'_, Chat>,
    Wire(request): Wire<ModelChoiceRequest>,
) -> Answer {
    answer(chat.providers().set_default(request.choice))
}

#[tauri::command]
pub async fn set_attachment_limit(
    chat: State<'_, Chat>,
    Wire(request): Wire<AttachmentLimitRequest>,
) -> Answer {
    answer(chat.providers().set_attachment_limit(request.kb))
}

// ----- Tools -----

#[tauri::command]
pub async fn set_tool_mode(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    Wire(request): Wire<SetToolModeRequest>,
) -> Answer {
    answer(
        connectors
            .set_tool_mode(&request.connector_id, &request.tool, request.mode)
            .map(|tools| chat.tool_counts(&request.connector_id, tools)),
    )
}

#[tauri::command]
pub async fn bulk_tools(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    Wire(request): Wire<BulkToolsRequest>,
) -> Answer {
    answer(
        connectors
            .bulk_tools(&request.connector_id, request.action)
            .map(|tools| chat.tool_counts(&request.connector_id, tools)),
    )
}

#[tauri::command]
pub async fn set_tool_limits(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    Wire(request): Wire<SetToolLimitsRequest>,
) -> Answer {
    answer(
        connectors
            .set_tool_limits(
                &request.connector_id,
                request.tool.as_deref(),
                request.limits,
            )
            .map(|tools| chat.tool_counts(&request.connector_id, tools)),
    )
}

#[tauri::command]
pub async fn answer_tool_approval(
    chat: State<'_, Chat>,
    Wire(request): Wire<AnswerApprovalRequest>,
) -> Answer {
    answer(chat.answer_approval(&request.approval_id, request.answer))
}

#[tauri::command]
pub async fn stop_tool_call(
    chat: State<'_, Chat>,
    Wire(request): Wire<StopToolCallRequest>,
) -> Answer {
    answer(chat.stop_tool_call(request.conversation_id, &request.call_id))
}

#[tauri::command]
pub async fn waiting_approvals(
    chat: State<'_, Chat>,
    Wire(request): Wire<ConversationIdRequest>,
) -> Answer {
    answer(Ok(chat.waiting_approvals(request.id)))
}

#[tauri::command]
pub async fn set_tool_options(
    connectors: State<'_, Connectors>,
    chat: State<'_, Chat>,
    Wire(request): Wire<SetToolOptionsRequest>,
) -> Answer {
    answer(
        connectors
            .set_tool_options(
                &request.connector_id,
                request.call_timeout_secs,
                request.allow_elicitation,
                request.allow_sampling,
            )
            .map(|tools| chat.tool_counts(&request.connector_id, tools)),
    )
}

#[tauri::command]
pub async fn mark_tools_seen(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    answer(connectors.mark_tools_seen(&request.id).map(drop))
}

#[tauri::command]
pub async fn tool_activity(chat: State<'_, Chat>) -> Answer {
    answer(chat.activity(ACTIVITY_SHOWN))
}

/// How many calls Settings → Activity lists (and exports), newest first.
const ACTIVITY_SHOWN: u32 = 10_000;

/// Writes the activity log as CSV into the person's Downloads folder (their home when
/// there is none) and answers with the file's path.
#[tauri::command]
pub async fn export_activity(app: AppHandle, chat: State<'_, Chat>) -> Answer {
    answer(export_activity_reply(app, chat).await)
}

async fn export_activity_reply(app: AppHandle, chat: State<'_, Chat>) -> Reply<String> {
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
pub async fn list_conversations(chat: State<'_, Chat>) -> Answer {
    answer(chat.conversations())
}

#[tauri::command]
pub async fn new_conversation(
    chat: State<'_, Chat>,
    Wire(request): Wire<NewConversationRequest>,
) -> Answer {
    answer(chat.create(&request.first_message, request.model))
}

#[tauri::command]
pub async fn open_conversation(
    chat: State<'_, Chat>,
    Wire(request): Wire<ConversationIdRequest>,
) -> Answer {
    answer(chat.open(request.id))
}

#[tauri::command]
pub async fn send_message(chat: State<'_, Chat>, Wire(request): Wire<SendRequest>) -> Answer {
    answer(chat.send(request))
}

#[tauri::command]
pub async fn stop_reply(
    chat: State<'_, Chat>,
    Wire(request): Wire<ConversationIdRequest>,
) -> Answer {
    chat.stop(request.id);
    answer(Ok(()))
}

#[tauri::command]
pub async fn retry_reply(
    chat: State<'_, Chat>,
    Wire(request): Wire<ConversationIdRequest>,
) -> Answer {
    answer(chat.retry(request.id))
}

#[tauri::command]
pub async fn regenerate_reply(
    chat: State<'_, Chat>,
    Wire(request): Wire<ConversationIdRequest>,
) -> Answer {
    answer(chat.regenerate(request.id))
}

#[tauri::command]
pub async fn edit_message(
    chat: State<'_, Chat>,
    Wire(request): Wire<EditMessageRequest>,
) -> Answer {
    answer(chat.edit(request.conversation_id, request.message_id, &request.text))
}

#[tauri::command]
pub async fn rename_conversation(
    chat: State<'_, Chat>,
    Wire(request): Wire<RenameConversationRequest>,
) -> Answer {
    answer(chat.rename(request.id, &request.title))
}

#[tauri::command]
pub async fn set_conversation_model(
    chat: State<'_, Chat>,
    Wire(request): Wire<ConversationModelRequest>,
) -> Answer {
    answer(chat.set_model(request.id, &request.choice))
}

#[tauri::command]
pub async fn delete_conversation(
    chat: State<'_, Chat>,
    Wire(request): Wire<ConversationIdRequest>,
) -> Answer {
    answer(chat.delete(request.id))
}

// ----- The paperclip menu -----

#[tauri::command]
pub async fn attachables(
    connectors: State<'_, Connectors>,
    after_bursts: State<'_, AfterBursts>,
) -> Answer {
    after_bursts.busy();
    answer(Ok(connectors.details()))
}

#[tauri::command]
pub async fn read_resource(
    chat: State<'_, Chat>,
    after_bursts: State<'_, AfterBursts>,
    Wire(request): Wire<ReadResourceRequest>,
) -> Answer {
    after_bursts.busy();
    answer(chat.read_resource(request).await)
}

#[tauri::command]
pub async fn get_prompt(chat: State<'_, Chat>, Wire(request): Wire<GetPromptRequest>) -> Answer {
    answer(chat.get_prompt(request).await)
}

/// A resource template filled in, for the paperclip menu's preview and before it reads.
#[tauri::command]
pub async fn expand_template(Wire(request): Wire<ExpandTemplateRequest>) -> Answer {
    answer(switchboard_core::uri_template::expand(
        &request.uri_template,
        &request.values,
    ))
}

#[tauri::command]
pub async fn complete_argument(
    chat: State<'_, Chat>,
    Wire(request): Wire<CompleteRequest>,
) -> Answer {
    answer(chat.complete(request).await)
}

/// "Show file" on the notice about settings kept aside: the file manager, at that file.
/// Only such a file: the window names it, the core judges it.
#[tauri::command]
pub async fn show_kept_file(app: tauri::AppHandle, Wire(request): Wire<ShowFileRequest>) -> Answer {
    answer(show_kept_file_reply(app, request).await)
}

async fn show_kept_file_reply(app: tauri::AppHandle, request: ShowFileRequest) -> Reply<()> {
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
pub async fn open_link(app: tauri::AppHandle, Wire(request): Wire<OpenLinkRequest>) -> Answer {
    answer(open_link_reply(app, request).await)
}

async fn open_link_reply(app: tauri::AppHandle, request: OpenLinkRequest) -> Reply<()> {
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
    Wire(request): Wire<switchboard_ipc::ask::AnswerQuestionRequest>,
) -> Answer {
    answer(connectors.answer_question(&request.id, request.answer))
}

#[tauri::command]
pub async fn waiting_questions(connectors: State<'_, Connectors>) -> Answer {
    answer(Ok(connectors.waiting_questions()))
}

#[tauri::command]
pub async fn server_messages(
    connectors: State<'_, Connectors>,
    Wire(request): Wire<ConnectorIdRequest>,
) -> Answer {
    answer(connectors.server_messages(&request.id))
}
