//! The person's connectors: what is saved, what is live, and every change between them.
//!
//! Each change is saved before it is shown, so a failure to save changes nothing. Connecting
//! runs in the background, one task per connector; a newer action (reconnect, turn off,
//! remove) supersedes an older task through a generation number, so a late answer from a
//! server can never overwrite a newer state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_ipc::{
    AddConnectorRequest, Catalog, ConnectorDetail, ConnectorId, ConnectorState, ConnectorSummary,
    ErrorCode, Notice, ServerInfo,
};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use crate::address;
use crate::error::{Error, Result};
use crate::session::{Session, Timeouts};
use crate::settings::{ConnectorRecord, Entries, Settings, SettingsStore};

/// What the window hears about.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    ConnectorChanged(ConnectorSummary),
    ConnectorRemoved(ConnectorId),
    Notice(Notice),
}

#[derive(Clone)]
pub struct Connectors {
    inner: Arc<Inner>,
}

struct Inner {
    store: Box<dyn SettingsStore>,
    /// Top-level settings this code does not own (kept as found, written back unchanged).
    other_entries: Entries,
    timeouts: Timeouts,
    runtime: tokio::runtime::Handle,
    events: broadcast::Sender<Event>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    order: Vec<ConnectorId>,
    live: HashMap<ConnectorId, Live>,
}

struct Live {
    record: ConnectorRecord,
    state: ConnectorState,
    problem: Option<Error>,
    server: Option<ServerInfo>,
    catalog: Option<Catalog>,
    session: Option<Arc<Session>>,
    task: Option<AbortHandle>,
    generation: u64,
}

impl Live {
    /// A saved connector before anything ran: on ones are about to connect.
    fn new(record: ConnectorRecord) -> Self {
        Self {
            state: if record.enabled {
                ConnectorState::Connecting
            } else {
                ConnectorState::Off
            },
            record,
            problem: None,
            server: None,
            catalog: None,
            session: None,
            task: None,
            generation: 0,
        }
    }

    fn summary(&self) -> ConnectorSummary {
        ConnectorSummary {
            id: self.record.id.clone(),
            name: self.record.name.clone(),
            url: self.record.url.clone(),
            state: self.state,
            counts: self.catalog.as_ref().map(Catalog::counts),
            problem: self.problem.clone(),
        }
    }

    /// Stops whatever is running for this connector; the session closes in the background.
    fn stop(&mut self, runtime: &tokio::runtime::Handle) {
        self.generation += 1;
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(session) = self.session.take() {
            runtime.spawn(async move {
                if let Ok(session) = Arc::try_unwrap(session) {
                    session.close().await;
                }
            });
        }
    }
}

impl State {
    fn records(&self) -> Vec<ConnectorRecord> {
        self.order
            .iter()
            .filter_map(|id| self.live.get(id).map(|l| l.record.clone()))
            .collect()
    }

    /// Refuses an address whose endpoint a connector already uses, naming that connector.
    fn refuse_duplicate(&self, url: &str) -> Result<()> {
        match self
            .live
            .values()
            .find(|l| address::same_endpoint(&l.record.url, url))
        {
            Some(existing) => Err(Error::new(
                ErrorCode::DuplicateConnector,
                format!(
                    "You already added this server as \"{}\".",
                    existing.record.name
                ),
            )),
            None => Ok(()),
        }
    }

    /// The records as they would be saved after changing one of them.
    fn records_changing(
        &self,
        id: &ConnectorId,
        change: impl Fn(&mut ConnectorRecord),
    ) -> Vec<ConnectorRecord> {
        let mut records = self.records();
        records.iter_mut().filter(|r| &r.id == id).for_each(change);
        records
    }

    fn get(&self, id: &ConnectorId) -> Result<&Live> {
        self.live.get(id).ok_or_else(|| unknown(id))
    }

    fn get_mut(&mut self, id: &ConnectorId) -> Result<&mut Live> {
        self.live.get_mut(id).ok_or_else(|| unknown(id))
    }
}

fn unknown(id: &ConnectorId) -> Error {
    Error::new(
        ErrorCode::UnknownConnector,
        "This connector no longer exists; it may have been removed.",
    )
    .with_detail(format!("connector id {id}"))
}

impl Connectors {
    /// Loads the saved connectors. Nothing connects until [`Connectors::start`].
    pub fn load(
        store: Box<dyn SettingsStore>,
        timeouts: Timeouts,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self> {
        let mut other_entries = store.load()?;
        let settings = Settings::from_entries(&other_entries)?;
        for key in Settings::default().to_entries().keys() {
            other_entries.remove(key);
        }
        let mut state = State::default();
        for record in settings.connectors {
            if state.live.contains_key(&record.id) {
                tracing::warn!(id = %record.id, "duplicate connector id in settings; keeping the first");
                continue;
            }
            state.order.push(record.id.clone());
            state.live.insert(record.id.clone(), Live::new(record));
        }
        let (events, _) = broadcast::channel(256);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                other_entries,
                timeouts,
                runtime,
                events,
                state: Mutex::new(state),
            }),
        })
    }

    /// Connects every connector that is on, all at once, in the background.
    pub fn start(&self) {
        let ids: Vec<ConnectorId> = {
            let state = self.inner.lock();
            state
                .order
                .iter()
                .filter(|id| state.live.get(*id).is_some_and(|l| l.record.enabled))
                .cloned()
                .collect()
        };
        for id in ids {
            // The ids were read under the lock just now; one removed meanwhile is moot.
            let _ = self.inner.connect(&id);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Tells the window something that is not tied to one action.
    pub fn notify(&self, notice: Notice) {
        let _ = self.inner.events.send(Event::Notice(notice));
    }

    pub fn list(&self) -> Vec<ConnectorSummary> {
        let state = self.inner.lock();
        state
            .order
            .iter()
            .filter_map(|id| state.live.get(id).map(Live::summary))
            .collect()
    }

    /// Checks an address as the person types: the address rules, then whether a connector
    /// for the same endpoint exists already.
    pub fn check_address(&self, input: &str) -> Result<switchboard_ipc::CheckedAddress> {
        let checked = address::check(input)?;
        let state = self.inner.lock();
        state.refuse_duplicate(&checked.url)?;
        Ok(checked)
    }

    /// Saves a new connector and starts connecting to it.
    pub fn add(&self, request: AddConnectorRequest) -> Result<ConnectorSummary> {
        let checked = self.check_address(&request.url)?;
        let custom_name = request
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let summary = {
            let mut state = self.inner.lock();
            // Checked again under the lock: two quick clicks must not add it twice.
            state.refuse_duplicate(&checked.url)?;
            let id = new_id(&state);
            let record = ConnectorRecord {
                id: id.clone(),
                name_is_custom: custom_name.is_some(),
                name: custom_name.unwrap_or(checked.host),
                url: checked.url,
                enabled: true,
            };
            let mut records = state.records();
            records.push(record.clone());
            self.inner.save(records)?;
            state.order.push(id.clone());
            let live = Live::new(record);
            let summary = live.summary();
            state.live.insert(id, live);
            summary
        };
        self.inner.connect(&summary.id)
    }

    pub fn detail(&self, id: &ConnectorId) -> Result<ConnectorDetail> {
        let state = self.inner.lock();
        let live = state.get(id)?;
        Ok(ConnectorDetail {
            summary: live.summary(),
            server: live.server.clone(),
            catalog: live.catalog.clone(),
        })
    }

    /// Drops the session and connects again from scratch.
    pub fn reconnect(&self, id: &ConnectorId) -> Result<ConnectorSummary> {
        {
            let state = self.inner.lock();
            if !state.get(id)?.record.enabled {
                return Err(Error::new(
                    ErrorCode::ConnectorOff,
                    "This connector is turned off. Turn it on to connect.",
                ));
            }
        }
        self.inner.connect(id)
    }

    pub fn set_enabled(&self, id: &ConnectorId, enabled: bool) -> Result<ConnectorSummary> {
        let summary = {
            let mut state = self.inner.lock();
            if state.get(id)?.record.enabled == enabled {
                return Ok(state.get(id)?.summary());
            }
            let records = state.records_changing(id, |r| r.enabled = enabled);
            self.inner.save(records)?;
            let runtime = self.inner.runtime.clone();
            let live = state.get_mut(id)?;
            live.record.enabled = enabled;
            if enabled {
                None
            } else {
                live.stop(&runtime);
                live.state = ConnectorState::Off;
                live.problem = None;
                live.catalog = None;
                live.server = None;
                Some(live.summary())
            }
        };
        match summary {
            Some(summary) => {
                self.inner.emit_changed(&summary);
                Ok(summary)
            }
            None => self.inner.connect(id),
        }
    }

    pub fn remove(&self, id: &ConnectorId) -> Result<()> {
        {
            let mut state = self.inner.lock();
            state.get(id)?;
            let records = state
                .records()
                .into_iter()
                .filter(|r| &r.id != id)
                .collect();
            self.inner.save(records)?;
            state.order.retain(|other| other != id);
            if let Some(mut live) = state.live.remove(id) {
                live.stop(&self.inner.runtime);
            }
        }
        let _ = self.inner.events.send(Event::ConnectorRemoved(id.clone()));
        Ok(())
    }

    /// A link to the app's own scheme arrived (the browser handing something back). No
    /// link is understood yet — sign-in will claim its redirects here — so each one is
    /// refused plainly. Only the link's path is repeated: its query may carry codes.
    pub fn open_link(&self, link: &str) {
        let shown = link.split(['?', '#']).next().unwrap_or_default();
        tracing::info!(link = shown, "app link refused");
        self.notify(Notice {
            level: switchboard_ipc::NoticeLevel::Warning,
            message: "Switchboard was opened with a link it does not recognise, so it did nothing."
                .into(),
            detail: Some(format!("Link: {shown}")),
        });
    }

    /// The live session of a connected connector, for reading and calling.
    pub fn session(&self, id: &ConnectorId) -> Result<Arc<Session>> {
        let state = self.inner.lock();
        let live = state.get(id)?;
        live.session.clone().ok_or_else(|| {
            live.problem.clone().unwrap_or_else(|| {
                Error::new(
                    ErrorCode::ConnectorOff,
                    format!("{} is not connected.", live.record.name),
                )
            })
        })
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, connectors: Vec<ConnectorRecord>) -> Result<()> {
        let mut entries = self.other_entries.clone();
        entries.extend(Settings { connectors }.to_entries());
        self.store.save(&entries)
    }

    fn emit_changed(&self, summary: &ConnectorSummary) {
        let _ = self.events.send(Event::ConnectorChanged(summary.clone()));
    }

    /// Starts (or restarts) connecting in the background and returns the new state.
    fn connect(self: &Arc<Self>, id: &ConnectorId) -> Result<ConnectorSummary> {
        let mut state = self.lock();
        let live = state.get_mut(id)?;
        live.stop(&self.runtime);
        live.state = ConnectorState::Connecting;
        live.problem = None;
        let generation = live.generation;
        let url = live.record.url.clone();
        let this = Arc::clone(self);
        let task_id = id.clone();
        let task = self.runtime.spawn(async move {
            let outcome = async {
                let session = Session::connect(&url, this.timeouts).await?;
                match session.catalog().await {
                    Ok(catalog) => Ok((session, catalog)),
                    Err(err) => {
                        session.close().await;
                        Err(err)
                    }
                }
            }
            .await;
            this.finish(&task_id, generation, outcome);
        });
        live.task = Some(task.abort_handle());
        let summary = live.summary();
        drop(state);
        self.emit_changed(&summary);
        Ok(summary)
    }

    fn finish(&self, id: &ConnectorId, generation: u64, outcome: Result<(Session, Catalog)>) {
        let mut state = self.lock();
        let Some(live) = state.live.get_mut(id) else {
            return;
        };
        if live.generation != generation {
            // Superseded by a newer action; its own task reports.
            return;
        }
        live.task = None;
        let mut rename = None;
        match outcome {
            Ok((session, catalog)) => {
                let server = session.server().clone();
                let server_name = server
                    .title
                    .clone()
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| server.name.clone());
                if !live.record.name_is_custom
                    && !server_name.trim().is_empty()
                    && live.record.name != server_name
                {
                    rename = Some(server_name.trim().to_owned());
                }
                live.state = ConnectorState::Connected;
                live.problem = None;
                live.server = Some(server);
                live.catalog = Some(catalog);
                live.session = Some(Arc::new(session));
            }
            Err(err) => {
                live.state = if err.code == ErrorCode::NeedsSignIn {
                    ConnectorState::NeedsSignIn
                } else {
                    ConnectorState::CantReach
                };
                tracing::info!(id = %id, code = ?err.code, "connector did not connect");
                live.problem = Some(err);
            }
        }
        if let Some(name) = rename {
            let records = state.records_changing(id, |r| r.name = name.clone());
            // The server's name is a nicety; keep the old name if it cannot be saved.
            match self.save(records) {
                Ok(()) => {
                    if let Some(live) = state.live.get_mut(id) {
                        live.record.name = name;
                    }
                }
                Err(err) => tracing::warn!(id = %id, ?err, "could not save the server's name"),
            }
        }
        if let Some(live) = state.live.get(id) {
            let summary = live.summary();
            drop(state);
            self.emit_changed(&summary);
        }
    }
}

fn new_id(state: &State) -> ConnectorId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = ConnectorId(format!("c{:x}{:x}", nanos & 0xffff_ffff_ffff, n));
        if !state.live.contains_key(&id) {
            return id;
        }
    }
}
