//! View state shared by every page: which page is open, the connector list as the core last
//! described it, and the notices waiting to be read. Only what the shell said is stored
//! here; nothing is decided.

use std::collections::HashMap;
use std::future::Future;

use leptos::prelude::*;
use switchboard_ipc::{
    AddConnectorRequest, ConnectorId, ConnectorSummary, EditConnectorRequest, ErrorInfo, Notice,
};

use crate::tauri;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    /// The conversation on screen is the chat state's `current`.
    Chat,
    Models,
    Activity,
    Connectors,
    Connector(ConnectorId),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ListStatus {
    Loading,
    Loaded,
    Failed(ErrorInfo),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListFocus {
    Heading,
    Row(ConnectorId),
}

/// Which field of the Edit dialog takes the keyboard first: the one the person came to fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditFocus {
    Address,
    /// The key or password field of the connector's method.
    Secret,
    /// "Use an API key instead": the key field, with API key chosen.
    ApiKeyInstead,
}

/// The connector whose Edit dialog is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditTarget {
    pub id: ConnectorId,
    pub focus: EditFocus,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ShownNotice {
    /// Local to this window, so a dismissal removes exactly the banner that was clicked even
    /// when the same message arrives twice.
    pub key: u64,
    pub notice: Notice,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub page: RwSignal<Page>,
    pub connectors: RwSignal<Vec<ConnectorSummary>>,
    pub list_status: RwSignal<ListStatus>,
    pub notices: RwSignal<Vec<ShownNotice>>,
    next_notice_key: StoredValue<u64>,
    /// Where focus goes when the list comes back from a detail page, so keyboard and
    /// screen-reader users land where they left instead of at the top of the document.
    pub list_focus: RwSignal<Option<ListFocus>>,
    /// The Edit dialog, over whichever page opened it.
    pub editing: RwSignal<Option<EditTarget>>,
    /// Where the keyboard was when the Edit dialog opened, to go back there.
    edit_opener: StoredValue<Option<web_sys::HtmlElement>, LocalStorage>,
    /// How many events have arrived for each connector. Events and command answers travel
    /// on different channels and may overtake each other, and a summary carries no
    /// revision; so when an event arrived while a command or the list was in flight, the
    /// event's version is kept. At worst that shows a state for a moment until the next
    /// event, instead of a stale "Connecting" forever.
    event_counts: StoredValue<HashMap<ConnectorId, u64>>,
}

impl AppState {
    pub fn new() -> Self {
        // The list the shell handed the page is shown at once; `refresh_connectors` then
        // brings it up to date.
        let handed = tauri::handed_connectors();
        if handed.is_some() {
            crate::timing::mark(crate::timing::FIRST_DATA);
            crate::timing::mark_next_frame(crate::timing::FIRST_FRAME);
        }
        Self {
            page: RwSignal::new(Page::Connectors),
            list_status: RwSignal::new(if handed.is_some() {
                ListStatus::Loaded
            } else {
                ListStatus::Loading
            }),
            connectors: RwSignal::new(handed.unwrap_or_default()),
            notices: RwSignal::new(Vec::new()),
            next_notice_key: StoredValue::new(0),
            list_focus: RwSignal::new(None),
            editing: RwSignal::new(None),
            edit_opener: StoredValue::new_local(None),
            event_counts: StoredValue::new(HashMap::new()),
        }
    }

    pub fn open_connector(&self, id: ConnectorId) {
        self.page.set(Page::Connector(id));
    }

    pub fn open_edit(&self, id: ConnectorId, focus: EditFocus) {
        let opener = document()
            .active_element()
            .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el).ok());
        self.edit_opener.set_value(opener);
        self.editing.set(Some(EditTarget { id, focus }));
    }

    /// Closes the Edit dialog; the keyboard goes back to the button that opened it, if it
    /// is still on the page.
    pub fn close_edit(&self) {
        self.editing.set(None);
        if let Some(opener) = self.edit_opener.get_value()
            && opener.is_connected()
        {
            let _ = opener.focus();
        }
    }

    pub fn back_to_list(&self, focus: Option<ConnectorId>) {
        self.list_focus
            .set(Some(focus.map_or(ListFocus::Heading, ListFocus::Row)));
        self.page.set(Page::Connectors);
    }

    /// Reads one connector from the list, tracking it.
    pub fn connector(&self, id: &ConnectorId) -> Option<ConnectorSummary> {
        self.connectors
            .with(|list| list.iter().find(|c| &c.id == id).cloned())
    }

    /// Reads one connector from the list, without tracking it.
    pub fn connector_untracked(&self, id: &ConnectorId) -> Option<ConnectorSummary> {
        self.connectors
            .with_untracked(|list| list.iter().find(|c| &c.id == id).cloned())
    }

    pub fn upsert(&self, summary: ConnectorSummary) {
        self.connectors
            .update(|list| match list.iter_mut().find(|c| c.id == summary.id) {
                Some(existing) => *existing = summary,
                None => list.push(summary),
            });
    }

    pub fn forget(&self, id: &ConnectorId) {
        self.connectors.update(|list| list.retain(|c| &c.id != id));
        if self
            .page
            .with_untracked(|page| page == &Page::Connector(id.clone()))
        {
            self.back_to_list(None);
        }
    }

    pub fn push_notice(&self, notice: Notice) {
        let key = self.next_notice_key.get_value();
        self.next_notice_key.set_value(key + 1);
        self.notices
            .update(|notices| notices.push(ShownNotice { key, notice }));
    }

    pub fn dismiss_notice(&self, key: u64) {
        self.notices
            .update(|notices| notices.retain(|n| n.key != key));
    }

    /// Asks the shell for the list, saying "Loading" until it is there.
    pub fn reload_connectors(&self) {
        self.list_status.set(ListStatus::Loading);
        self.refresh_connectors();
    }

    /// Asks the shell for the list; a list already shown stays until the answer replaces it.
    pub fn refresh_connectors(&self) {
        let state = *self;
        let first = state.list_status.get_untracked() == ListStatus::Loading;
        let counts_before = state.event_counts.get_value();
        leptos::task::spawn_local(async move {
            match tauri::list_connectors().await {
                Ok(list) => {
                    if first {
                        crate::timing::mark(crate::timing::FIRST_DATA);
                        crate::timing::mark_next_frame(crate::timing::FIRST_FRAME);
                    }
                    state.merge_list(list, &counts_before);
                    state.list_status.set(ListStatus::Loaded);
                }
                Err(err) => state.list_status.set(ListStatus::Failed(err)),
            }
        });
    }

    fn merge_list(&self, list: Vec<ConnectorSummary>, counts_before: &HashMap<ConnectorId, u64>) {
        let counts_now = self.event_counts.get_value();
        let touched = |id: &ConnectorId| counts_now.get(id) != counts_before.get(id);
        self.connectors
            .update(|current| *current = merge_fetched(list, current, touched));
    }

    fn event_count(&self, id: &ConnectorId) -> u64 {
        self.event_counts
            .with_value(|counts| counts.get(id).copied().unwrap_or(0))
    }

    fn count_event(&self, id: &ConnectorId) {
        self.event_counts
            .update_value(|counts| *counts.entry(id.clone()).or_default() += 1);
    }

    pub fn on_connector_changed(&self, summary: ConnectorSummary) {
        self.count_event(&summary.id);
        self.upsert(summary);
    }

    pub fn on_connector_removed(&self, id: ConnectorId) {
        self.count_event(&id);
        self.forget(&id);
    }

    /// Runs a command that answers with a summary and shows the answer, unless an event
    /// about the same connector arrived meanwhile (see `event_counts`).
    async fn apply(
        self,
        id: Option<&ConnectorId>,
        command: impl Future<Output = Result<ConnectorSummary, ErrorInfo>>,
    ) -> Result<ConnectorSummary, ErrorInfo> {
        let before = id.map(|id| self.event_count(id)).unwrap_or(0);
        let summary = command.await?;
        if self.event_count(&summary.id) == before {
            self.upsert(summary.clone());
        }
        Ok(summary)
    }

    pub async fn add(self, request: AddConnectorRequest) -> Result<ConnectorSummary, ErrorInfo> {
        // A new connector has had no events before it existed.
        self.apply(None, tauri::add_connector(request)).await
    }

    pub async fn reconnect(self, id: ConnectorId) -> Result<(), ErrorInfo> {
        self.apply(Some(&id), tauri::reconnect(id.clone()))
            .await
            .map(drop)
    }

    pub async fn set_enabled(self, id: ConnectorId, enabled: bool) -> Result<(), ErrorInfo> {
        self.apply(Some(&id), tauri::set_enabled(id.clone(), enabled))
            .await
            .map(drop)
    }

    pub async fn sign_in(self, id: ConnectorId) -> Result<(), ErrorInfo> {
        self.apply(Some(&id), tauri::sign_in(id.clone()))
            .await
            .map(drop)
    }

    pub async fn cancel_sign_in(self, id: ConnectorId) -> Result<(), ErrorInfo> {
        self.apply(Some(&id), tauri::cancel_sign_in(id.clone()))
            .await
            .map(drop)
    }

    pub async fn sign_out(self, id: ConnectorId) -> Result<(), ErrorInfo> {
        self.apply(Some(&id), tauri::sign_out(id.clone()))
            .await
            .map(drop)
    }

    pub async fn edit(self, request: EditConnectorRequest) -> Result<(), ErrorInfo> {
        let id = request.id.clone();
        self.apply(Some(&id), tauri::edit_connector(request))
            .await
            .map(drop)
    }

    pub async fn remove(self, id: ConnectorId) -> Result<(), ErrorInfo> {
        tauri::remove_connector(id.clone()).await?;
        self.forget(&id);
        Ok(())
    }
}

pub fn use_app_state() -> AppState {
    expect_context::<AppState>()
}

/// Takes a fetched list as the truth, except for connectors an event spoke about while it
/// was being fetched (`touched`): for those the current entry, or its absence, stands.
fn merge_fetched(
    fetched: Vec<ConnectorSummary>,
    current: &[ConnectorSummary],
    touched: impl Fn(&ConnectorId) -> bool,
) -> Vec<ConnectorSummary> {
    let mut merged: Vec<ConnectorSummary> = fetched
        .into_iter()
        .filter_map(|fetched| {
            if touched(&fetched.id) {
                current.iter().find(|c| c.id == fetched.id).cloned()
            } else {
                Some(fetched)
            }
        })
        .collect();
    for newer in current.iter().filter(|c| touched(&c.id)) {
        if !merged.iter().any(|c| c.id == newer.id) {
            merged.push(newer.clone());
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_ipc::ConnectorState;

    fn summary(id: &str, state: ConnectorState) -> ConnectorSummary {
        ConnectorSummary {
            id: ConnectorId(id.into()),
            name: id.into(),
            url: format!("https://{id}.example/mcp"),
            state,
            counts: None,
            catalog_revision: 0,
            problem: None,
            retrying: false,
            sign_in: Default::default(),
        }
    }

    #[test]
    fn an_event_during_the_fetch_beats_the_fetched_list() {
        let fetched = vec![
            summary("a", ConnectorState::Connecting),
            summary("b", ConnectorState::Connecting),
            summary("gone", ConnectorState::Connected),
        ];
        // Events said: a connected, "gone" was removed, "new" was added.
        let current = vec![
            summary("a", ConnectorState::Connected),
            summary("new", ConnectorState::Connecting),
        ];
        let touched = |id: &ConnectorId| ["a", "gone", "new"].contains(&id.0.as_str());
        let merged = merge_fetched(fetched, &current, touched);
        assert_eq!(
            merged,
            vec![
                summary("a", ConnectorState::Connected),
                summary("b", ConnectorState::Connecting),
                summary("new", ConnectorState::Connecting),
            ]
        );
    }

    #[test]
    fn without_events_the_fetched_list_wins() {
        let fetched = vec![summary("a", ConnectorState::Off)];
        let current = vec![
            summary("a", ConnectorState::Connected),
            summary("b", ConnectorState::Off),
        ];
        let merged = merge_fetched(fetched.clone(), &current, |_| false);
        assert_eq!(merged, fetched);
    }
}
