//! The window's commands: each one hands its request to the core and returns the core's
//! answer. Names match `switchboard_ipc::command`; errors are `ErrorInfo` as they come.

use switchboard_core::Connectors;
use switchboard_ipc::{
    AddConnectorRequest, CheckAddressRequest, CheckedAddress, ConnectorDetail, ConnectorIdRequest,
    ConnectorSummary, ErrorInfo, Notice, SetEnabledRequest, SetSignInRequest,
};
use tauri::State;

use crate::PendingNotices;

type Reply<T> = Result<T, ErrorInfo>;

#[tauri::command]
pub async fn list_connectors(connectors: State<'_, Connectors>) -> Reply<Vec<ConnectorSummary>> {
    Ok(connectors.list())
}

#[tauri::command]
pub async fn check_address(
    connectors: State<'_, Connectors>,
    request: CheckAddressRequest,
) -> Reply<CheckedAddress> {
    connectors.check_address(&request.url)
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
    request: ConnectorIdRequest,
) -> Reply<ConnectorDetail> {
    connectors.detail(&request.id)
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
pub async fn set_sign_in(
    connectors: State<'_, Connectors>,
    request: SetSignInRequest,
) -> Reply<ConnectorSummary> {
    connectors.set_sign_in(&request.id, request.sign_in).await
}
