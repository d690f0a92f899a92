//! The person's connectors: what is saved, what is live, and every change between them.
//!
//! Each change is saved before it is shown, so a failure to save changes nothing. Connecting
//! runs in the background, one task per connector; a newer action (reconnect, turn off,
//! remove) supersedes an older task through a generation number, so a late answer from a
//! server can never overwrite a newer state.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use switchboard_ipc::{
    AddConnectorRequest, Catalog, ConnectorDetail, ConnectorId, ConnectorState, ConnectorSummary,
    ErrorCode, Notice, NoticeLevel, ServerInfo, SignInChoice, SignInMethod, SignInSummary,
};
use tokio::sync::{OnceCell, broadcast, oneshot};
use tokio::task::AbortHandle;

use crate::address;
use crate::ask::{Asker, Desk, Sampler};
use crate::error::{Error, Result};
use crate::oauth::{Browser, ClientIdentity, OAuth};
use crate::redirect::{
    Loopback, PendingSignIns, Redirect, Refused, SIGN_IN_PATIENCE, callback_path,
};
use crate::secrets::{KeyringCredentials, Secret, SecretKind, SecretStore};
use crate::session::{ConnectError, Powers, Sampling, Session, Timeouts};
use crate::settings::{ConnectorRecord, Settings, SettingsStore};
use crate::signin;
use crate::tools::policy;
use crate::web;
use switchboard_ipc::ask::{Answer, Question, QuestionEvent};
use switchboard_ipc::tools::{ConnectorTools, ToolSettings};
use switchboard_ipc::{EditConnectorRequest, ResourceUpdated, ServerMessages};

/// The app's own link scheme (RFC 8252 §7.1: the app identifier in reverse-DNS form,
/// registered by the shell), where the browser sends a sign-in back to.
pub const APP_SCHEME: &str = "io.switchboard.desktop";

/// The most a connector's long-lived task may hold inline, in bytes (see
/// `Inner::spawn_for_connection`).
const LONG_TASK_MAX: usize = 4096;

/// Where the browser sends one connector's sign-in back to:
/// `io.switchboard.desktop:/oauth/callback/<connector>` (see [`crate::redirect`]).
pub fn app_redirect_uri(connector: &ConnectorId) -> String {
    format!("{APP_SCHEME}:{}", callback_path(connector))
}

/// Opens a page in the person's own browser (the shell's opener; never a webview of ours,
/// so the person sees the real address bar and their saved passwords work). The core only
/// calls it through [`Pages`], which refuses anything but a web page.
pub trait OpenUrl: Send + Sync + 'static {
    fn open(&self, url: &str) -> Result<()>;
}

/// The person's browser, and the check every page passes before it is opened: a server's
/// sign-in page may be anything the server wrote ([`web::check_page`]).
struct Pages(Arc<dyn OpenUrl>);

impl Pages {
    fn open(&self, page: &str) -> Result<()> {
        let page = web::check_page(page)?;
        tracing::info!(page = %web::shown(&page), "opening a sign-in page in the browser");
        self.0.open(page.as_str()).map_err(|err| {
            Error::new(
                ErrorCode::SignInFailed,
                "Switchboard could not open your browser to sign in.",
            )
            .with_detail(err.detail.unwrap_or(err.message))
        })
    }
}

/// What a waiting sign-in is handed: the full redirect, or why it was stopped.
type Waiter = oneshot::Sender<Result<String>>;

/// What the window hears about.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    ConnectorChanged(ConnectorSummary),
    ConnectorRemoved(ConnectorId),
    Notice(Notice),
    /// A server asks the person for input, or no longer does.
    Question(QuestionEvent),
    /// A connector's server says a resource it follows for the person changed.
    ResourceUpdated(ResourceUpdated),
}

#[derive(Clone)]
pub struct Connectors {
    inner: Arc<Inner>,
}

struct Inner {
    /// Itself, for what a session keeps of it (the asker) without keeping it alive.
    me: Weak<Inner>,
    store: Box<dyn SettingsStore>,
    secrets: Arc<dyn SecretStore>,
    browser: Pages,
    /// Sign-ins waiting for the app link that finishes them.
    pending: Mutex<PendingSignIns<Waiter>>,
    timeouts: Timeouts,
    runtime: tokio::runtime::Handle,
    events: broadcast::Sender<Event>,
    state: Mutex<State>,
    /// Servers' questions waiting for the person.
    desk: Desk,
    /// Answers servers' requests for the model, once the chat is there.
    sampler: Mutex<Option<Arc<dyn Sampler>>>,
    /// Whether `start` has run: it runs once.
    started: AtomicBool,
}

#[derive(Default)]
struct State {
    order: Vec<ConnectorId>,
    live: HashMap<ConnectorId, Live>,
    /// Removed connectors whose keyring entries are still to be deleted.
    leftovers: Vec<ConnectorId>,
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
    /// The server's `WWW-Authenticate` challenge from its last refusal: where sign-in starts.
    challenge: Option<String>,
    /// A sign-in (tokens, key, password) is in the keyring, as of the last attempt.
    saved: bool,
    /// While signing in: the authorization page, for "Open the page again".
    sign_in_page: Option<String>,
    /// Refreshes the OAuth tokens before they expire, while connected.
    refresher: Option<AbortHandle>,
    /// Lists the server again when it says its lists changed, while connected.
    follower: Option<AbortHandle>,
    /// Goes up each time the lists are read, so the window knows to read them again.
    catalog_revision: u64,
    /// Watches a live session for the connection to end.
    watcher: Option<AbortHandle>,
    /// Passes the server's news of changed resources on to the window.
    updates: Option<AbortHandle>,
    /// Attempts in a row that could not reach the server: how long the next wait is.
    failures: u32,
    /// The next attempt of its own, after a wait.
    retry: Option<AbortHandle>,
}

/// A connection that worked.
struct Reached {
    session: Session,
    catalog: Catalog,
    saved: bool,
    /// The signed-in OAuth state, kept fresh in the background while connected.
    oauth: Option<OAuth>,
}

/// A connection that did not.
struct Missed {
    error: Error,
    challenge: Option<String>,
    saved: bool,
}

impl From<Error> for Missed {
    fn from(error: Error) -> Self {
        Self {
            error,
            challenge: None,
            saved: false,
        }
    }
}

type Attempt = std::result::Result<Reached, Missed>;

/// An attempt made with a saved sign-in: whatever the server said, the sign-in is there.
fn with_saved_sign_in(attempt: Attempt, oauth: Option<OAuth>) -> Attempt {
    attempt
        .map(|reached| Reached {
            saved: true,
            oauth,
            ..reached
        })
        .map_err(|missed| Missed {
            saved: true,
            ..missed
        })
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
            challenge: None,
            saved: false,
            sign_in_page: None,
            refresher: None,
            follower: None,
            catalog_revision: 0,
            watcher: None,
            updates: None,
            failures: 0,
            retry: None,
        }
    }

    fn summary(&self) -> ConnectorSummary {
        ConnectorSummary {
            id: self.record.id.clone(),
            name: self.record.name.clone(),
            url: self.record.url.clone(),
            state: self.state,
            counts: self.catalog.as_ref().map(Catalog::counts),
            catalog_revision: self.catalog_revision,
            problem: self.problem.clone(),
            retrying: self.state == ConnectorState::CantReach && self.failures > 0,
            sign_in: SignInSummary {
                redirect_uri: matches!(
                    self.record.sign_in,
                    SignInMethod::Automatic {
                        client_id: Some(_),
                        ..
                    }
                )
                .then(|| app_redirect_uri(&self.record.id)),
                method: self.record.sign_in.clone(),
                saved: self.saved,
            },
        }
    }

    fn definitions(&self) -> Vec<policy::Definition> {
        self.catalog
            .as_ref()
            .map(|c| c.tools.iter().map(policy::Definition::from).collect())
            .unwrap_or_default()
    }

    fn detail(&self) -> ConnectorDetail {
        ConnectorDetail {
            summary: self.summary(),
            server: self.server.clone(),
            catalog: self.catalog.clone(),
            tools: self.tools_with(&self.definitions()),
        }
    }

    /// The person's choices for the tools listed now (`definitions`), each with its standing.
    fn tools_with(&self, definitions: &[policy::Definition]) -> ConnectorTools {
        ConnectorTools {
            entries: policy::entries(&self.record.tools, definitions),
            settings: self.record.tools.clone(),
            used_today: 0,
        }
    }

    /// Stops whatever is running for this connector; the session closes in the background.
    fn stop(&mut self, runtime: &tokio::runtime::Handle) {
        self.generation += 1;
        self.sign_in_page = None;
        for task in [
            self.task.take(),
            self.refresher.take(),
            self.follower.take(),
            self.watcher.take(),
            self.updates.take(),
            self.retry.take(),
        ]
        .into_iter()
        .flatten()
        {
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

    /// The settings to save: these connectors, and the chores the state holds.
    fn settings(&self, connectors: Vec<ConnectorRecord>) -> Settings {
        Settings {
            connectors,
            keyring_leftovers: self.leftovers.clone(),
        }
    }

    /// Refuses an address whose endpoint a connector already uses, naming that connector.
    fn refuse_duplicate(&self, url: &str, except: Option<&ConnectorId>) -> Result<()> {
        match self
            .live
            .values()
            .filter(|l| Some(&l.record.id) != except)
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
        secrets: Arc<dyn SecretStore>,
        browser: Arc<dyn OpenUrl>,
        timeouts: Timeouts,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self> {
        let settings = Settings::from_entries(&store.load()?)?;
        let mut state = State {
            leftovers: settings.keyring_leftovers,
            ..State::default()
        };
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
            inner: Arc::new_cyclic(|me| Inner {
                me: me.clone(),
                store,
                secrets,
                browser: Pages(browser),
                pending: Mutex::new(PendingSignIns::default()),
                timeouts,
                runtime,
                desk: Desk::new({
                    let events = events.clone();
                    move |question| {
                        let _ = events.send(Event::Question(question));
                    }
                }),
                events,
                state: Mutex::new(state),
                sampler: Mutex::new(None),
                started: AtomicBool::new(false),
            }),
        })
    }

    /// Connects every connector that is on, all at once, in the background. Once: later
    /// calls do nothing (the shell calls it when the window's page has loaded, and after a
    /// while in case it never does).
    pub fn start(&self) {
        if self.inner.started.swap(true, Ordering::AcqRel) {
            return;
        }
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
            let _ = self.inner.connect(&id, false);
        }
        let leftovers = self.inner.lock().leftovers.clone();
        for id in leftovers {
            let inner = Arc::clone(&self.inner);
            self.inner.runtime.spawn(async move {
                inner.forget_secrets(&id, None).await;
            });
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

    /// Whether the system keyring can be used, asked as soon as the person chooses a
    /// sign-in that keeps a secret, so that a missing keyring is said before they type it.
    pub async fn check_keyring(&self) -> Result<()> {
        let probe = ConnectorId("switchboard-keyring-check".into());
        self.inner
            .read_secret(&probe, SecretKind::ApiKey)
            .await
            .map(drop)
    }

    /// Checks an address as the person types: the address rules, then whether another
    /// connector for the same endpoint exists already. `editing`: the connector whose
    /// address this would become (its own address is no duplicate).
    pub fn check_address(
        &self,
        input: &str,
        editing: Option<&ConnectorId>,
    ) -> Result<switchboard_ipc::CheckedAddress> {
        let mut checked = address::check(input)?;
        let state = self.inner.lock();
        state.refuse_duplicate(&checked.url, editing)?;
        if let Some(id) = editing {
            checked.other_server = !address::same_server(&state.get(id)?.record.url, &checked.url);
        }
        Ok(checked)
    }

    /// Saves a new connector, with its secrets in the keyring, and starts connecting to it.
    /// When the keyring or the settings refuse, nothing of it is kept.
    pub async fn add(&self, request: AddConnectorRequest) -> Result<ConnectorSummary> {
        let checked = self.check_address(&request.url, None)?;
        let (method, secrets) = signin::prepare(request.sign_in)?;
        let custom_name = request
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let id = new_id(&self.inner.lock());
        self.inner.write_secrets(&id, secrets.clone()).await?;
        let added = {
            let mut state = self.inner.lock();
            // Checked again under the lock: two quick clicks must not add it twice.
            state.refuse_duplicate(&checked.url, None).and_then(|()| {
                let record = ConnectorRecord {
                    id: id.clone(),
                    name_is_custom: custom_name.is_some(),
                    name: custom_name.unwrap_or(checked.default_name),
                    url: checked.url,
                    enabled: true,
                    sign_in: method,
                    tools: Default::default(),
                    era: None,
                };
                let mut records = state.records();
                records.push(record.clone());
                self.inner.save(state.settings(records))?;
                state.order.push(id.clone());
                let mut live = Live::new(record);
                live.saved = !secrets.is_empty();
                state.live.insert(id.clone(), live);
                Ok(())
            })
        };
        if let Err(err) = added {
            // What cannot be taken back is logged; the entries were just written.
            let _ = self
                .inner
                .delete_secrets(&id, secrets.iter().map(|(kind, _)| *kind).collect())
                .await;
            return Err(err);
        }
        self.inner.connect(&id, true)
    }

    /// Changes how a connector signs in (a new key, a new password, another method) and
    /// connects with it. The old secrets stay until the new ones are saved.
    pub async fn set_sign_in(
        &self,
        id: &ConnectorId,
        choice: SignInChoice,
    ) -> Result<ConnectorSummary> {
        self.edit(EditConnectorRequest {
            id: id.clone(),
            url: None,
            name: None,
            sign_in: Some(choice),
        })
        .await
    }

    /// Changes a connector's address, name or sign-in, all or nothing. Within the same
    /// server its secrets and tool settings stay; on another server they start fresh (a
    /// key is never sent to a server it was not given for), so a key or password must come
    /// with the new address. A new name alone does not reconnect.
    pub async fn edit(&self, request: EditConnectorRequest) -> Result<ConnectorSummary> {
        let id = &request.id;
        let (old, server_name) = {
            let state = self.inner.lock();
            let live = state.get(id)?;
            (live.record.clone(), live.server.as_ref().and_then(own_name))
        };
        let checked = match &request.url {
            Some(url) => Some(self.check_address(url, Some(id))?),
            None => None,
        };
        let other_server = checked.as_ref().is_some_and(|c| c.other_server);
        let prepared = request.sign_in.map(signin::prepare).transpose()?;
        if other_server
            && prepared.is_none()
            && !matches!(old.sign_in, SignInMethod::Automatic { .. })
        {
            return Err(Error::new(
                ErrorCode::InvalidSignIn,
                match old.sign_in {
                    SignInMethod::Basic { .. } => {
                        "This address is on another server: enter the password for it."
                    }
                    _ => "This address is on another server: enter the key for it.",
                },
            ));
        }
        let name = request
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| *n != old.name);
        let (method, secrets) = match &prepared {
            Some((method, secrets)) => (method.clone(), secrets.clone()),
            None => (old.sign_in.clone(), Vec::new()),
        };
        let kinds: Vec<SecretKind> = secrets.iter().map(|(kind, _)| *kind).collect();
        let previous = self.inner.read_secrets(id, kinds.clone()).await?;
        self.inner.write_secrets(id, secrets).await?;
        let change = |record: &mut ConnectorRecord| {
            if let Some(checked) = &checked {
                if !record.name_is_custom && record.name == address::default_name(&old.url) {
                    record.name = checked.default_name.clone();
                }
                record.url = checked.url.clone();
            }
            match name {
                // Back to the server's own name, or the address until it gives one.
                Some("") => {
                    record.name_is_custom = false;
                    record.name = match (&checked, &server_name) {
                        (Some(checked), _) if other_server => checked.default_name.clone(),
                        (_, Some(server_name)) => server_name.clone(),
                        (Some(checked), None) => checked.default_name.clone(),
                        (None, None) => address::default_name(&old.url),
                    };
                }
                Some(name) => {
                    record.name_is_custom = true;
                    record.name = name.to_owned();
                }
                None => {}
            }
            record.sign_in = method.clone();
            if other_server {
                record.tools = Default::default();
                record.era = None;
            }
        };
        let saved = {
            let mut state = self.inner.lock();
            let records = state.records_changing(id, change);
            let record = records.iter().find(|r| &r.id == id).cloned();
            state
                .get(id)
                .and_then(|_| {
                    checked
                        .as_ref()
                        .map_or(Ok(()), |c| state.refuse_duplicate(&c.url, Some(id)))
                })
                .and_then(|()| self.inner.save(state.settings(records)))
                .and_then(|()| {
                    let live = state.get_mut(id)?;
                    if let Some(record) = record {
                        live.record = record;
                    }
                    if other_server {
                        live.challenge = None;
                    }
                    Ok(live.summary())
                })
        };
        let summary = match saved {
            Ok(summary) => summary,
            Err(err) => {
                // Put back what was there, so a failed change changes nothing.
                for (kind, secret) in previous {
                    match secret {
                        Some(secret) => {
                            let _ = self.inner.write_secrets(id, vec![(kind, secret)]).await;
                        }
                        None => {
                            let _ = self.inner.delete_secrets(id, vec![kind]).await;
                        }
                    }
                }
                return Err(err);
            }
        };
        // Secrets the new method no longer uses go; tokens belong to the old client, and
        // nothing at all follows the connector to another server.
        let mut unused: Vec<SecretKind> = [
            SecretKind::ApiKey,
            SecretKind::Password,
            SecretKind::OAuthClientSecret,
        ]
        .into_iter()
        .filter(|kind| !kinds.contains(kind) && (other_server || prepared.is_some()))
        .collect();
        if method != old.sign_in || other_server {
            unused.push(SecretKind::OAuthTokens);
        }
        let _ = self.inner.delete_secrets(id, unused).await;
        let reconnect = checked.is_some() || prepared.is_some();
        if !reconnect {
            self.inner.emit_changed(&summary);
            return Ok(summary);
        }
        if !old.enabled {
            let summary = {
                let mut state = self.inner.lock();
                let live = state.get_mut(id)?;
                if prepared.is_some() || other_server {
                    live.saved = !kinds.is_empty();
                }
                live.summary()
            };
            self.inner.emit_changed(&summary);
            return Ok(summary);
        }
        self.inner.connect(id, prepared.is_some() || other_server)
    }

    /// Starts signing in through the browser. The window shows "Finish signing in in your
    /// browser" until the redirect arrives, the person cancels, or it expires.
    pub fn sign_in(&self, id: &ConnectorId) -> Result<ConnectorSummary> {
        {
            let state = self.inner.lock();
            let live = state.get(id)?;
            if !live.record.enabled {
                return Err(Error::new(
                    ErrorCode::ConnectorOff,
                    "This connector is turned off. Turn it on to sign in.",
                ));
            }
            if !matches!(live.record.sign_in, SignInMethod::Automatic { .. }) {
                return Err(Error::new(
                    ErrorCode::InvalidSignIn,
                    "This connector signs in with a key or password. Replace it to sign in again.",
                ));
            }
        }
        let this = Arc::clone(&self.inner);
        self.inner.run(
            id,
            ConnectorState::SigningIn,
            move |id, record, challenge| this.sign_in_flow(id, record, challenge),
        )
    }

    /// A request was refused for want of access (403 `insufficient_scope`, say on a tool
    /// call): the server's challenge is kept, so that signing in again asks for the scope it
    /// named on top of those granted (a step-up).
    pub fn note_more_access(&self, id: &ConnectorId, challenge: String) {
        if let Ok(live) = self.inner.lock().get_mut(id) {
            live.challenge = Some(challenge);
        }
    }

    /// Stops a sign-in that is waiting for the browser, and connects as before.
    pub fn cancel_sign_in(&self, id: &ConnectorId) -> Result<ConnectorSummary> {
        self.inner.pending_lock().cancel(id);
        let live = self.inner.lock().get(id)?.summary();
        if live.state != ConnectorState::SigningIn {
            return Ok(live);
        }
        self.inner.connect(id, false)
    }

    /// Opens the authorization page of a waiting sign-in again (a closed tab, say).
    pub fn open_sign_in_page(&self, id: &ConnectorId) -> Result<()> {
        let page = self.inner.lock().get(id)?.sign_in_page.clone();
        match page {
            Some(page) => self.inner.browser.open(&page),
            None => Err(Error::new(
                ErrorCode::SignInFailed,
                "No sign-in is waiting for this connector. Start signing in again.",
            )),
        }
    }

    /// Forgets the sign-in: the keyring entries of the tokens, key or password go.
    pub async fn sign_out(&self, id: &ConnectorId) -> Result<ConnectorSummary> {
        let kinds = {
            let state = self.inner.lock();
            match &state.get(id)?.record.sign_in {
                SignInMethod::Automatic { .. } => vec![SecretKind::OAuthTokens],
                SignInMethod::ApiKey { .. } => vec![SecretKind::ApiKey],
                SignInMethod::Basic { .. } => vec![SecretKind::Password],
            }
        };
        self.inner.pending_lock().cancel(id);
        {
            let mut state = self.inner.lock();
            let runtime = self.inner.runtime.clone();
            let live = state.get_mut(id)?;
            live.stop(&runtime);
        }
        let (secrets, connector) = (self.inner.secrets.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            kinds
                .into_iter()
                .try_for_each(|kind| secrets.delete(&connector, kind))
        })
        .await
        .map_err(|err| Error::internal(err.to_string()))??;
        if let Ok(live) = self.inner.lock().get_mut(id) {
            live.saved = false;
        }
        if self.inner.lock().get(id)?.record.enabled {
            self.inner.connect(id, false)
        } else {
            Ok(self.inner.lock().get(id)?.summary())
        }
    }

    pub fn detail(&self, id: &ConnectorId) -> Result<ConnectorDetail> {
        let state = self.inner.lock();
        Ok(state.get(id)?.detail())
    }

    /// Sets one tool to Allow, Ask or Off. Allow pins the tool as the server defines it
    /// now, so it needs the connector listed.
    pub fn set_tool_mode(
        &self,
        id: &ConnectorId,
        tool: &str,
        mode: switchboard_ipc::tools::ToolMode,
    ) -> Result<ConnectorTools> {
        self.change_tools(id, |settings, definitions| {
            let definition = match definitions.iter().find(|d| d.name == tool) {
                Some(definition) => definition.clone(),
                None if mode == switchboard_ipc::tools::ToolMode::Allow => {
                    return Err(Error::new(
                        ErrorCode::InvalidSetting,
                        "Switchboard can only allow a tool the server lists now. Connect it first.",
                    )
                    .with_detail(format!("tool {tool}")));
                }
                None => policy::Definition {
                    name: tool.to_owned(),
                    description: None,
                    input_schema: serde_json::Value::Null,
                    annotations: None,
                    output_schema: None,
                },
            };
            policy::set_mode(settings, &definition, mode);
            Ok(())
        })
    }

    /// Allow what says it only reads, Ask for all, or Turn all off: for the tools listed now.
    pub fn bulk_tools(
        &self,
        id: &ConnectorId,
        action: switchboard_ipc::tools::BulkAction,
    ) -> Result<ConnectorTools> {
        use switchboard_ipc::tools::BulkAction;
        self.change_tools(id, |settings, definitions| {
            let action = match action {
                BulkAction::AllowReadOnly => policy::Bulk::AllowReadOnly,
                BulkAction::AskForAll => policy::Bulk::AskForAll,
                BulkAction::TurnAllOff => policy::Bulk::TurnAllOff,
            };
            policy::bulk(settings, definitions, action);
            Ok(())
        })
    }

    /// Sets the usage limits of one tool (`Some(name)`) or of all the connector's tools
    /// together (`None`). A limit of 0 is refused: turning the tool off says that.
    pub fn set_tool_limits(
        &self,
        id: &ConnectorId,
        tool: Option<&str>,
        limits: switchboard_ipc::tools::Limits,
    ) -> Result<ConnectorTools> {
        if limits.per_conversation == Some(0) || limits.per_day == Some(0) {
            return Err(Error::new(
                ErrorCode::InvalidSetting,
                "A limit is at least 1 call. To stop a tool from running, turn it off.",
            ));
        }
        self.change_tools(id, |settings, _| {
            match tool {
                Some(tool) => policy::set_limits(settings, tool, limits),
                None => settings.limits = limits,
            }
            Ok(())
        })
    }

    /// The person saw the connector's tools: the ones listed now are no longer New. Does
    /// nothing (and writes nothing) when nothing is new, or before the connector was listed.
    pub fn mark_tools_seen(&self, id: &ConnectorId) -> Result<ConnectorTools> {
        {
            let state = self.inner.lock();
            let live = state.get(id)?;
            let definitions = live.definitions();
            let names: std::collections::BTreeSet<String> =
                definitions.iter().map(|d| d.name.clone()).collect();
            if live.catalog.is_none() || live.record.tools.seen.as_ref() == Some(&names) {
                return Ok(live.tools_with(&definitions));
            }
        }
        self.change_tools(id, |settings, definitions| {
            settings.seen = Some(definitions.iter().map(|d| d.name.clone()).collect());
            Ok(())
        })
    }

    /// Sets the connector's call timeout (1 to 3,600 s) and whether its server may ask the
    /// person for input (elicitation) or ask the model for completions (sampling).
    pub fn set_tool_options(
        &self,
        id: &ConnectorId,
        call_timeout_secs: u32,
        allow_elicitation: bool,
        allow_sampling: bool,
    ) -> Result<ConnectorTools> {
        if !(1..=3600).contains(&call_timeout_secs) {
            return Err(Error::new(
                ErrorCode::InvalidSetting,
                "Choose a call timeout between 1 and 3,600 seconds.",
            )
            .with_detail(format!("{call_timeout_secs} s")));
        }
        let mut declared_differently = false;
        let (summary, tools) = self.change_tools_and_summary(id, |settings, _| {
            declared_differently = settings.allow_elicitation != allow_elicitation
                || settings.allow_sampling != allow_sampling;
            settings.call_timeout_secs = call_timeout_secs;
            settings.allow_elicitation = allow_elicitation;
            settings.allow_sampling = allow_sampling;
            Ok(())
        })?;
        // What a client can do is declared when it connects: the server learns of the change
        // on a new connection (and may offer other tools on it).
        if declared_differently && summary.state != ConnectorState::Off {
            tracing::info!(%id, allow_elicitation, allow_sampling, "connecting again to declare what the server may ask");
            self.inner.connect(id, false)?;
        }
        Ok(tools)
    }

    /// The tools' settings of a connector and its tools as listed now.
    pub fn tools_of(&self, id: &ConnectorId) -> Result<(ToolSettings, Vec<policy::Definition>)> {
        let state = self.inner.lock();
        let live = state.get(id)?;
        Ok((live.record.tools.clone(), live.definitions()))
    }

    /// Changes a connector's tool settings and saves them, or changes nothing.
    fn change_tools(
        &self,
        id: &ConnectorId,
        change: impl FnOnce(&mut ToolSettings, &[policy::Definition]) -> Result<()>,
    ) -> Result<ConnectorTools> {
        self.change_tools_and_summary(id, change)
            .map(|(_, tools)| tools)
    }

    /// [`Self::change_tools`], with the connector's summary as it is after the change. Reads
    /// the tools' definitions once: a change to one tool of thousands stays cheap.
    fn change_tools_and_summary(
        &self,
        id: &ConnectorId,
        change: impl FnOnce(&mut ToolSettings, &[policy::Definition]) -> Result<()>,
    ) -> Result<(ConnectorSummary, ConnectorTools)> {
        let mut state = self.inner.lock();
        let live = state.get(id)?;
        let definitions = live.definitions();
        let mut tools = live.record.tools.clone();
        change(&mut tools, &definitions)?;
        let records = state.records_changing(id, |r| r.tools = tools.clone());
        self.inner.save(state.settings(records))?;
        let live = state.get_mut(id)?;
        live.record.tools = tools;
        let (summary, tools) = (live.summary(), live.tools_with(&definitions));
        drop(state);
        self.inner.emit_changed(&summary);
        Ok((summary, tools))
    }

    /// Every connector with what it offers, in the list's order: the paperclip menu's
    /// source (connected ones have a catalog; the others are listed with their state).
    pub fn details(&self) -> Vec<ConnectorDetail> {
        let state = self.inner.lock();
        state
            .order
            .iter()
            .filter_map(|id| state.live.get(id))
            .map(Live::detail)
            .collect()
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
        self.inner.connect(id, false)
    }

    pub fn set_enabled(&self, id: &ConnectorId, enabled: bool) -> Result<ConnectorSummary> {
        let summary = {
            let mut state = self.inner.lock();
            if state.get(id)?.record.enabled == enabled {
                return Ok(state.get(id)?.summary());
            }
            let records = state.records_changing(id, |r| r.enabled = enabled);
            self.inner.save(state.settings(records))?;
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
            None => self.inner.connect(id, false),
        }
    }

    /// Removes the connector and its keyring entries. The entries are listed in the
    /// settings before they are deleted, so one the keyring refuses to delete (a locked
    /// keyring) is not forgotten: the person is told, and it is tried again at every start.
    pub async fn remove(&self, id: &ConnectorId) -> Result<()> {
        self.inner.pending_lock().cancel(id);
        let name = {
            let mut state = self.inner.lock();
            let name = state.get(id)?.record.name.clone();
            let records = state
                .records()
                .into_iter()
                .filter(|r| &r.id != id)
                .collect();
            let mut settings = state.settings(records);
            if !settings.keyring_leftovers.contains(id) {
                settings.keyring_leftovers.push(id.clone());
            }
            self.inner.save(settings.clone())?;
            state.leftovers = settings.keyring_leftovers;
            state.order.retain(|other| other != id);
            if let Some(mut live) = state.live.remove(id) {
                live.stop(&self.inner.runtime);
            }
            name
        };
        let _ = self.inner.events.send(Event::ConnectorRemoved(id.clone()));
        self.inner.forget_secrets(id, Some(&name)).await;
        Ok(())
    }

    /// A link to the app's own scheme arrived: the browser handing a sign-in back. It
    /// finishes the sign-in that handed out its `state`, if it came back on that sign-in's
    /// own redirect; anything else is refused plainly. Only the link's path is ever
    /// repeated: its query carries codes.
    pub fn open_link(&self, link: &str) {
        let shown = link.split(['?', '#']).next().unwrap_or_default();
        let claimed = Redirect::parse(link)
            .map_err(|error| Refused {
                error,
                stopped: None,
            })
            .and_then(|redirect| self.inner.pending_lock().claim(&redirect, Instant::now()));
        let refusal = match claimed {
            Ok((id, waiter)) => match waiter.send(Ok(link.to_owned())) {
                Ok(()) => {
                    tracing::info!(%id, "sign-in link received");
                    return;
                }
                Err(_) => Error::new(
                    ErrorCode::SignInFailed,
                    "This sign-in was already stopped. Start signing in again.",
                ),
            },
            Err(Refused { error, stopped }) => {
                if let Some((id, waiter)) = stopped {
                    tracing::warn!(%id, link = shown, "sign-in answer came back on another connector's redirect; stopped");
                    let _ = waiter.send(Err(error.clone()));
                }
                error
            }
        };
        tracing::info!(link = shown, reason = %refusal.message, "app link refused");
        self.notify(Notice {
            level: NoticeLevel::Warning,
            // A link can arrive from anywhere (another program, a web page): a person who
            // did not just sign in should know it is nothing they did.
            message: format!(
                "{} If you did not just sign in, you can ignore this.",
                refusal.message
            ),
            detail: Some(format!("Link: {shown}")),
            kept_file: None,
        });
    }

    /// Who answers servers' requests for the model (the chat). Connectors that allow it
    /// declare it from their next connection.
    pub fn set_sampler(&self, sampler: Arc<dyn Sampler>) {
        *self.inner.sampler.lock().unwrap_or_else(|e| e.into_inner()) = Some(sampler);
    }

    /// The person's answer to a server's question. A form's values are checked first; a
    /// page is opened in the person's browser on Accept, and only then.
    pub fn answer_question(&self, id: &str, answer: Answer) -> Result<()> {
        let browser = &self.inner.browser.0;
        self.inner.desk.answer(id, answer, |page| {
            tracing::info!("opening a page a server asked the person to visit");
            browser.open(page).map_err(|err| {
                Error::new(
                    ErrorCode::Internal,
                    "Switchboard could not open your browser.",
                )
                .with_detail(err.detail.unwrap_or(err.message))
            })
        })
    }

    /// The servers' questions waiting for the person, for a window that opens.
    pub fn waiting_questions(&self) -> Vec<Question> {
        self.inner.desk.waiting()
    }

    /// Connects again now and waits for the outcome: a request refused for its sign-in
    /// (401 on a connection that worked) gets fresh tokens this way, or the connector shows
    /// "Sign in again". The new session, or why there is none.
    pub async fn renew(&self, id: &ConnectorId) -> Result<Arc<Session>> {
        let mut events = self.subscribe();
        let mut state = self.inner.connect(id, false)?.state;
        while state == ConnectorState::Connecting {
            match events.recv().await {
                Ok(Event::ConnectorChanged(summary)) if &summary.id == id => state = summary.state,
                Ok(Event::ConnectorRemoved(removed)) if &removed == id => {
                    return Err(unknown(id));
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    state = self.inner.lock().get(id)?.state;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(Error::internal("the connectors are gone"));
                }
            }
        }
        self.session(id)
    }

    /// What the connector's server logged since it connected (none when it is not connected).
    pub fn server_messages(&self, id: &ConnectorId) -> Result<ServerMessages> {
        let state = self.inner.lock();
        Ok(state
            .get(id)?
            .session
            .as_ref()
            .map(|s| s.messages())
            .unwrap_or_default())
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

    /// Writes the connectors' entries; the rest of the file (the models, keys this version
    /// does not know) stays as saved.
    fn save(&self, settings: Settings) -> Result<()> {
        crate::settings::update(&*self.store, settings.to_entries())
    }

    fn emit_changed(&self, summary: &ConnectorSummary) {
        let _ = self.events.send(Event::ConnectorChanged(summary.clone()));
    }

    fn pending_lock(&self) -> MutexGuard<'_, PendingSignIns<Waiter>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts (or restarts) connecting in the background and returns the new state. With
    /// `sign_in_when_asked`, a server asking for OAuth sign-in sends the person to the
    /// browser at once (a connector just added); otherwise it waits for "Sign in".
    fn connect(
        self: &Arc<Self>,
        id: &ConnectorId,
        sign_in_when_asked: bool,
    ) -> Result<ConnectorSummary> {
        let this = Arc::clone(self);
        self.run(
            id,
            ConnectorState::Connecting,
            move |id, record, _| async move {
                let attempt = this.attempt(&id, &record).await;
                match attempt {
                    Err(missed)
                        if sign_in_when_asked
                            && missed.error.code == ErrorCode::NeedsSignIn
                            && !missed.saved
                            && matches!(record.sign_in, SignInMethod::Automatic { .. }) =>
                    {
                        this.sign_in_flow(id, record, missed.challenge).await
                    }
                    other => other,
                }
            },
        )
    }

    /// Runs `work` for a connector in the background, superseding whatever ran before, and
    /// shows `state` meanwhile. Its outcome lands through [`Inner::finish`].
    fn run<F, Fut>(
        self: &Arc<Self>,
        id: &ConnectorId,
        state: ConnectorState,
        work: F,
    ) -> Result<ConnectorSummary>
    where
        F: FnOnce(ConnectorId, ConnectorRecord, Option<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Attempt> + Send + 'static,
    {
        self.run_showing(id, Some(state), work)
    }

    /// [`Inner::run`]; with no `state`, what the window shows stays until the outcome (an
    /// attempt of the connector's own, which should not flicker).
    fn run_showing<F, Fut>(
        self: &Arc<Self>,
        id: &ConnectorId,
        state: Option<ConnectorState>,
        work: F,
    ) -> Result<ConnectorSummary>
    where
        F: FnOnce(ConnectorId, ConnectorRecord, Option<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Attempt> + Send + 'static,
    {
        let mut guard = self.lock();
        let live = guard.get_mut(id)?;
        live.stop(&self.runtime);
        if let Some(state) = state {
            live.state = state;
            live.problem = None;
        }
        let generation = live.generation;
        let (record, challenge) = (live.record.clone(), live.challenge.clone());
        let this = Arc::clone(self);
        let task_id = id.clone();
        let task = self.runtime.spawn(async move {
            let attempt = work(task_id.clone(), record, challenge).await;
            this.finish(&task_id, generation, attempt);
        });
        live.task = Some(task.abort_handle());
        let summary = live.summary();
        drop(guard);
        if state.is_some() {
            self.emit_changed(&summary);
        }
        Ok(summary)
    }

    /// After a failure to reach the server (or a connection lost), tries again on its own
    /// once the wait is over: the wait doubles with each failure in a row, up to five
    /// minutes, and is jittered so many connectors that lost the same network do not all
    /// come back in the same instant.
    fn retry_later(self: &Arc<Self>, id: &ConnectorId, live: &mut Live) {
        live.failures = live.failures.saturating_add(1);
        let wait = backoff(self.timeouts.retry_after, live.failures);
        let generation = live.generation;
        let this = Arc::clone(self);
        let id = id.clone();
        tracing::info!(%id, failures = live.failures, wait_ms = wait.as_millis() as u64, "trying again later");
        let task = self.runtime.spawn(async move {
            tokio::time::sleep(wait).await;
            if this.generation(&id) != Some(generation) {
                return;
            }
            let this2 = Arc::clone(&this);
            let _ = this.run_showing(&id, None, move |id, record, _| async move {
                this2.attempt(&id, &record).await
            });
        });
        live.retry = Some(task.abort_handle());
    }

    /// Watches a live session; when its connection ends, the connector shows it and tries
    /// again on its own.
    async fn watch_connection(
        self: Arc<Self>,
        id: ConnectorId,
        generation: u64,
        session: std::sync::Weak<Session>,
    ) {
        const EVERY: std::time::Duration = std::time::Duration::from_millis(500);
        loop {
            tokio::time::sleep(EVERY).await;
            let Some(live_session) = session.upgrade() else {
                return;
            };
            if !live_session.is_closed() {
                continue;
            }
            drop(live_session);
            let mut state = self.lock();
            let Some(live) = state.live.get_mut(&id) else {
                return;
            };
            if live.generation != generation {
                return;
            }
            tracing::info!(%id, "the connection to the server was lost");
            live.stop(&self.runtime);
            live.state = ConnectorState::CantReach;
            live.problem = Some(Error::new(
                ErrorCode::Unreachable,
                "The connection to the server was lost. Switchboard tries again on its own, or choose Try again.",
            ));
            self.retry_later(&id, live);
            let summary = live.summary();
            drop(state);
            self.emit_changed(&summary);
            return;
        }
    }

    /// Changes a connector while `generation` is still current, and tells the window.
    fn update(&self, id: &ConnectorId, generation: u64, change: impl FnOnce(&mut Live)) -> bool {
        let mut state = self.lock();
        let Some(live) = state
            .live
            .get_mut(id)
            .filter(|l| l.generation == generation)
        else {
            return false;
        };
        change(live);
        let summary = live.summary();
        drop(state);
        self.emit_changed(&summary);
        true
    }

    /// What a connector's server may ask of the person, as the connector allows: forms and
    /// pages (elicitation) and requests for the person's model (sampling, when the chat
    /// answers them), put to the person through the desk under the connector's name as it
    /// is when the question comes.
    fn powers(&self, record: &ConnectorRecord) -> Powers {
        let settings = &record.tools;
        let sampler = self
            .sampler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|_| settings.allow_sampling);
        if !settings.allow_elicitation && sampler.is_none() {
            return Powers::default();
        }
        let me = self.me.clone();
        let id = record.id.clone();
        let name = record.name.clone();
        let asker: Asker = Arc::new(move |asked| {
            let me = me.clone();
            let id = id.clone();
            let name = name.clone();
            Box::pin(async move {
                let Some(inner) = me.upgrade() else {
                    return Answer::Cancel;
                };
                let name = inner
                    .lock()
                    .live
                    .get(&id)
                    .map_or(name, |live| live.record.name.clone());
                inner.desk.ask(id, name, asked).await
            })
        });
        Powers {
            asker: Some(asker),
            elicitation: settings.allow_elicitation,
            sampling: sampler.map(|sampler| Sampling {
                sampler,
                connector: record.id.clone(),
                connector_name: record.name.clone(),
            }),
        }
    }

    fn generation(&self, id: &ConnectorId) -> Option<u64> {
        self.lock().live.get(id).map(|l| l.generation)
    }

    /// One connection with what is saved: the key or password, the OAuth tokens, or none.
    async fn attempt(&self, id: &ConnectorId, record: &ConnectorRecord) -> Attempt {
        let url = record.url.as_str();
        match &record.sign_in {
            method @ (SignInMethod::ApiKey { .. } | SignInMethod::Basic { .. }) => {
                let kind = signin::secret_kind(method).unwrap_or(SecretKind::ApiKey);
                let Some(secret) = self.read_secret(id, kind).await? else {
                    return Err(Error::new(
                        ErrorCode::NeedsSignIn,
                        match method {
                            SignInMethod::Basic { .. } => {
                                "The password for this server is missing. Enter it again."
                            }
                            _ => "The key for this server is missing. Enter it again.",
                        },
                    )
                    .into());
                };
                let client = signin::client(method, &secret)?;
                let connected = Session::connect_asking(
                    url,
                    self.timeouts,
                    client,
                    record.era,
                    self.powers(record),
                )
                .await;
                let listed = self
                    .listed(connected.map_err(|err| {
                        if matches!(
                            err.error.code,
                            ErrorCode::NeedsSignIn | ErrorCode::NeedsMoreAccess
                        ) {
                            ConnectError {
                                error: signin::rejected(method, err.error.detail),
                                challenge: None,
                            }
                        } else {
                            err
                        }
                    }))
                    .await;
                with_saved_sign_in(listed, None)
            }
            SignInMethod::Automatic { .. } => {
                // No keyring is no sign-in, not a broken connector: public servers still
                // work, and signing in says what is missing.
                let signed_in = matches!(
                    self.read_secret(id, SecretKind::OAuthTokens).await,
                    Ok(Some(_))
                );
                if !signed_in {
                    let plain = web::client(Default::default())?;
                    let connected = Session::connect_asking(
                        url,
                        self.timeouts,
                        plain,
                        record.era,
                        self.powers(record),
                    )
                    .await;
                    return self.listed(connected).await;
                }
                let oauth = match OAuth::new(url, self.credentials(id)).await {
                    Ok(oauth) => oauth,
                    Err(err) => {
                        return Err(Missed {
                            saved: true,
                            ..err.into()
                        });
                    }
                };
                let connected = Session::connect_asking(
                    url,
                    self.timeouts,
                    oauth.client(),
                    record.era,
                    self.powers(record),
                )
                .await;
                let listed = self.listed(connected.map_err(|err| {
                    if err.error.code == ErrorCode::NeedsSignIn {
                        ConnectError {
                            error: sign_in_ended(err.error.detail),
                            challenge: err.challenge,
                        }
                    } else {
                        err
                    }
                }));
                with_saved_sign_in(listed.await, Some(oauth))
            }
        }
    }

    /// Lists what a fresh session offers; a failure closes it.
    async fn listed(&self, connected: Result<Session, ConnectError>) -> Attempt {
        let session = connected.map_err(|err| Missed {
            error: err.error,
            challenge: err.challenge,
            saved: false,
        })?;
        match session.catalog().await {
            Ok(catalog) => Ok(Reached {
                session,
                catalog,
                saved: false,
                oauth: None,
            }),
            Err(error) => {
                let challenge = session.take_challenge();
                session.close().await;
                Err(Missed {
                    error,
                    challenge,
                    saved: false,
                })
            }
        }
    }

    /// OAuth in the person's browser: the app link first, the loopback page when the
    /// server refuses the app's scheme; then connect with the new tokens.
    async fn sign_in_flow(
        self: Arc<Self>,
        id: ConnectorId,
        record: ConnectorRecord,
        challenge: Option<String>,
    ) -> Attempt {
        let Some(generation) = self.generation(&id) else {
            return Err(Error::internal("connector gone").into());
        };
        self.update(&id, generation, |live| {
            live.state = ConnectorState::SigningIn;
            live.problem = None;
        });
        let url = record.url.as_str();
        let challenge = match challenge {
            Some(challenge) => challenge,
            // Asked to sign in without a refusal in hand (after a restart): ask the server.
            None => {
                match Session::connect_asking(
                    url,
                    self.timeouts,
                    web::client(Default::default())?,
                    record.era,
                    self.powers(&record),
                )
                .await
                {
                    Ok(session) => return self.listed(Ok(session)).await,
                    Err(ConnectError {
                        challenge: Some(challenge),
                        ..
                    }) => challenge,
                    Err(err) => return Err(err.error.into()),
                }
            }
        };
        // Refuse before the browser opens when the tokens could not be kept.
        self.read_secret(&id, SecretKind::OAuthTokens).await?;
        let SignInMethod::Automatic {
            client_id,
            has_client_secret,
        } = &record.sign_in
        else {
            return Err(Error::internal("not an OAuth connector").into());
        };
        let client_secret = if *has_client_secret {
            self.read_secret(&id, SecretKind::OAuthClientSecret).await?
        } else {
            None
        };
        let identity = ClientIdentity {
            client_id: client_id.clone(),
            client_secret,
        };
        let oauth = OAuth::new(url, self.credentials(&id)).await?;
        let app_link = AppLink {
            inner: Arc::clone(&self),
            id: id.clone(),
            generation,
        };
        let loopback = LoopbackPage {
            app_link: AppLink {
                inner: Arc::clone(&self),
                id: id.clone(),
                generation,
            },
            loopback: OnceCell::new(),
        };
        let signed_in = oauth
            .sign_in(&challenge, &identity, &[&app_link, &loopback])
            .await;
        self.pending_lock().cancel(&id);
        signed_in?;
        self.update(&id, generation, |live| {
            live.state = ConnectorState::Connecting;
            live.sign_in_page = None;
            live.challenge = None;
        });
        let connected = Session::connect_asking(
            url,
            self.timeouts,
            oauth.client(),
            record.era,
            self.powers(&record),
        )
        .await;
        with_saved_sign_in(self.listed(connected).await, Some(oauth))
    }

    /// Refreshes a connected connector's OAuth tokens ahead of their expiry, so a chat
    /// never waits on a refresh and a withdrawn sign-in shows as "Sign in again" at once
    /// rather than at the next use.
    /// Spawns one of a connector's tasks that live as long as its connection (following its
    /// lists, watching the connection, passing on resource updates, refreshing its sign-in).
    /// There is a set for each connector, so whatever such a task keeps across an await is
    /// kept that long, times every connector: debug builds check that it stays small (the
    /// catalog's listing, inline, once made each follower 85 KB).
    fn spawn_for_connection<F>(&self, task: F) -> tokio::task::AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        debug_assert!(
            std::mem::size_of_val(&task) <= LONG_TASK_MAX,
            "a connector's long-lived task keeps {} bytes inline: box what it awaits",
            std::mem::size_of_val(&task)
        );
        self.runtime.spawn(task).abort_handle()
    }

    async fn keep_fresh(self: Arc<Self>, id: ConnectorId, generation: u64, oauth: OAuth) {
        use rmcp::transport::CredentialStore;
        loop {
            let Ok(Some(saved)) = self.credentials(&id).load().await else {
                return;
            };
            let Some(wait) = refresh_due(&saved, now_secs()) else {
                return;
            };
            tokio::time::sleep(wait).await;
            let refreshed = oauth
                .client()
                .auth_manager
                .lock()
                .await
                .refresh_token()
                .await;
            match refreshed {
                Ok(_) => tracing::info!(%id, "sign-in refreshed"),
                Err(
                    rmcp::transport::AuthError::TokenRefreshRejected(_)
                    | rmcp::transport::AuthError::AuthorizationRequired,
                ) => {
                    tracing::info!(%id, "sign-in ended: the server refused to refresh it");
                    let runtime = self.runtime.clone();
                    self.update(&id, generation, |live| {
                        live.refresher = None;
                        live.stop(&runtime);
                        live.state = ConnectorState::NeedsSignIn;
                        live.problem = Some(sign_in_ended(None));
                    });
                    return;
                }
                Err(err) => {
                    // The sign-in service may be down for a moment; try again later.
                    tracing::warn!(%id, %err, "could not refresh the sign-in; trying again in a minute");
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                }
            }
        }
    }

    /// Lists a connected server again each time it says its tools, resources or prompts
    /// changed, so the attachment menu and the connector's page show what is there now. A
    /// burst of changes (a server adding ten things one by one) is read once; a listing
    /// that fails keeps the lists from before.
    async fn follow_lists(
        self: Arc<Self>,
        id: ConnectorId,
        generation: u64,
        session: std::sync::Weak<Session>,
        mut changes: tokio::sync::watch::Receiver<u64>,
    ) {
        const QUIET: std::time::Duration = std::time::Duration::from_millis(200);
        while changes.changed().await.is_ok() {
            loop {
                tokio::select! {
                    more = changes.changed() => if more.is_err() { return },
                    () = tokio::time::sleep(QUIET) => break,
                }
            }
            changes.mark_unchanged();
            let Some(live_session) = session.upgrade() else {
                return;
            };
            // Boxed: listing joins four paginated requests, and its state machine is ~85 KB.
            // Inline, every connector's idle follower would hold that much for its lifetime.
            let listed = Box::pin(live_session.catalog()).await;
            drop(live_session);
            match listed {
                Ok(catalog) => {
                    let counts = catalog.counts();
                    let current = self.update(&id, generation, |live| {
                        live.catalog = Some(catalog);
                        live.catalog_revision += 1;
                    });
                    if !current {
                        return;
                    }
                    tracing::info!(
                        %id,
                        tools = counts.tools,
                        resources = counts.resources,
                        templates = counts.resource_templates,
                        prompts = counts.prompts,
                        "the server's lists changed; listed again"
                    );
                }
                Err(err) => {
                    tracing::warn!(%id, code = ?err.code, "the server's lists changed but could not be listed again");
                }
            }
        }
    }

    fn credentials(&self, id: &ConnectorId) -> KeyringCredentials {
        KeyringCredentials::new(id.clone(), Arc::clone(&self.secrets))
    }

    async fn read_secret(&self, id: &ConnectorId, kind: SecretKind) -> Result<Option<Secret>> {
        let (secrets, id) = (Arc::clone(&self.secrets), id.clone());
        tokio::task::spawn_blocking(move || secrets.read(&id, kind))
            .await
            .map_err(|err| Error::internal(err.to_string()))?
    }

    async fn read_secrets(
        &self,
        id: &ConnectorId,
        kinds: Vec<SecretKind>,
    ) -> Result<Vec<(SecretKind, Option<Secret>)>> {
        let mut found = Vec::new();
        for kind in kinds {
            found.push((kind, self.read_secret(id, kind).await?));
        }
        Ok(found)
    }

    /// Keeps secrets in the keyring; all or none.
    async fn write_secrets(&self, id: &ConnectorId, secrets: signin::Secrets) -> Result<()> {
        if secrets.is_empty() {
            return Ok(());
        }
        let (store, connector) = (Arc::clone(&self.secrets), id.clone());
        tokio::task::spawn_blocking(move || {
            let mut written = Vec::new();
            for (kind, secret) in &secrets {
                if let Err(err) = store.write(&connector, *kind, secret) {
                    for kind in written {
                        let _ = store.delete(&connector, kind);
                    }
                    return Err(err);
                }
                written.push(*kind);
            }
            Ok(())
        })
        .await
        .map_err(|err| Error::internal(err.to_string()))?
    }

    /// Removes keyring entries, as far as the keyring lets it; what stays is logged, and
    /// the last refusal returned.
    async fn delete_secrets(&self, id: &ConnectorId, kinds: Vec<SecretKind>) -> Result<()> {
        let (store, connector) = (Arc::clone(&self.secrets), id.clone());
        tokio::task::spawn_blocking(move || {
            let mut outcome = Ok(());
            for kind in kinds {
                if let Err(err) = store.delete(&connector, kind) {
                    tracing::warn!(id = %connector, ?kind, code = ?err.code, "could not remove a keyring entry");
                    outcome = Err(err);
                }
            }
            outcome
        })
        .await
        .unwrap_or_else(|err| Err(Error::internal(err.to_string())))
    }

    /// Deletes every keyring entry of a removed connector and crosses it off the leftovers.
    /// When the keyring refuses, it stays listed for the next start, and the person hears
    /// of it when they just removed `name`.
    async fn forget_secrets(&self, id: &ConnectorId, name: Option<&str>) {
        let deleted = self
            .delete_secrets(
                id,
                vec![
                    SecretKind::OAuthTokens,
                    SecretKind::OAuthClientSecret,
                    SecretKind::ApiKey,
                    SecretKind::Password,
                ],
            )
            .await;
        match deleted {
            Ok(()) => {
                let mut state = self.lock();
                state.leftovers.retain(|other| other != id);
                let settings = state.settings(state.records());
                if let Err(err) = self.save(settings) {
                    // Deleting again at the next start is harmless.
                    tracing::warn!(%id, ?err, "could not save that a connector's keyring entries are gone");
                }
            }
            Err(err) => {
                tracing::info!(%id, "a removed connector's keyring entries stay listed for the next start");
                if let Some(name) = name {
                    let _ = self.events.send(Event::Notice(Notice {
                        level: NoticeLevel::Warning,
                        message: format!(
                            "\"{name}\" was removed, but its saved sign-in could not be deleted from the system keyring (it may be locked). Switchboard will try again the next time it starts."
                        ),
                        detail: err.detail.or(Some(err.message)),
                        kept_file: None,
                    }));
                }
            }
        }
    }

    fn finish(self: &Arc<Self>, id: &ConnectorId, generation: u64, outcome: Attempt) {
        let mut state = self.lock();
        let Some(live) = state.live.get_mut(id) else {
            return;
        };
        if live.generation != generation {
            // Superseded by a newer action; its own task reports.
            return;
        }
        live.task = None;
        live.sign_in_page = None;
        let mut rename = None;
        let mut era = None;
        match outcome {
            Ok(Reached {
                session,
                catalog,
                saved,
                oauth,
            }) => {
                if let Some(oauth) = oauth {
                    let refresher = Arc::clone(self).keep_fresh(id.clone(), generation, oauth);
                    live.refresher = Some(self.spawn_for_connection(refresher));
                }
                let server = session.server().clone();
                if !live.record.name_is_custom
                    && let Some(server_name) = own_name(&server)
                    && live.record.name != server_name
                {
                    rename = Some(server_name);
                }
                if live.record.era != Some(session.era()) {
                    era = Some(session.era());
                }
                live.state = ConnectorState::Connected;
                live.problem = None;
                live.challenge = None;
                live.saved = saved;
                live.server = Some(server);
                live.catalog = Some(catalog);
                live.catalog_revision += 1;
                let session = Arc::new(session);
                let follower = Arc::clone(self).follow_lists(
                    id.clone(),
                    generation,
                    Arc::downgrade(&session),
                    session.list_changes(),
                );
                let watcher = Arc::clone(self).watch_connection(
                    id.clone(),
                    generation,
                    Arc::downgrade(&session),
                );
                let mut updates = session.resource_updates();
                let events = self.events.clone();
                let connector_id = id.clone();
                let forward = async move {
                    use tokio::sync::broadcast::error::RecvError;
                    loop {
                        match updates.recv().await {
                            Ok(uri) => {
                                let _ = events.send(Event::ResourceUpdated(ResourceUpdated {
                                    connector_id: connector_id.clone(),
                                    uri,
                                }));
                            }
                            Err(RecvError::Lagged(_)) => {}
                            Err(RecvError::Closed) => return,
                        }
                    }
                };
                live.updates = Some(self.spawn_for_connection(forward));
                live.follower = Some(self.spawn_for_connection(follower));
                live.watcher = Some(self.spawn_for_connection(watcher));
                live.session = Some(session);
                live.failures = 0;
            }
            Err(Missed {
                error,
                challenge,
                saved,
            }) => {
                live.state = match error.code {
                    ErrorCode::NeedsSignIn
                    | ErrorCode::NeedsMoreAccess
                    | ErrorCode::SignInFailed
                    | ErrorCode::CredentialsRejected
                    | ErrorCode::InvalidSignIn
                    | ErrorCode::KeyringUnavailable => ConnectorState::NeedsSignIn,
                    _ => ConnectorState::CantReach,
                };
                tracing::info!(id = %id, code = ?error.code, "connector did not connect");
                if challenge.is_some() {
                    live.challenge = challenge;
                }
                live.saved = saved;
                let again = matches!(
                    error.code,
                    ErrorCode::Unreachable | ErrorCode::Timeout | ErrorCode::ServerError
                );
                live.problem = Some(error);
                if again {
                    self.retry_later(id, live);
                } else {
                    live.failures = 0;
                }
            }
        }
        if rename.is_some() || era.is_some() {
            let learned = |r: &mut ConnectorRecord| {
                if let Some(name) = &rename {
                    r.name = name.clone();
                }
                if era.is_some() {
                    r.era = era;
                }
            };
            let records = state.records_changing(id, learned);
            // The server's name and protocol are niceties: left as they were when they
            // cannot be saved (the next connect probes again).
            match self.save(state.settings(records)) {
                Ok(()) => {
                    if let Some(live) = state.live.get_mut(id) {
                        learned(&mut live.record);
                    }
                }
                Err(err) => {
                    tracing::warn!(id = %id, ?err, "could not save the server's name or protocol")
                }
            }
        }
        if let Some(live) = state.live.get(id) {
            let summary = live.summary();
            drop(state);
            self.emit_changed(&summary);
        }
    }
}

/// The person's browser, coming back through the app's own link scheme.
struct AppLink {
    inner: Arc<Inner>,
    id: ConnectorId,
    generation: u64,
}

impl AppLink {
    /// Shows the page in the browser and remembers it for "Open the page again".
    fn open(&self, authorization_url: &str) -> Result<()> {
        self.inner
            .update(&self.id, self.generation, |live| {
                live.sign_in_page = Some(authorization_url.to_owned());
            })
            .then_some(())
            .ok_or_else(|| Error::new(ErrorCode::SignInFailed, "This sign-in was stopped."))?;
        self.inner.browser.open(authorization_url)
    }
}

/// The wait before attempt `failures` + 1: `first`, doubled for each failure in a row after
/// the first, at most five minutes, then a random part of it taken off (up to half), so
/// connectors that failed together spread out.
fn backoff(first: std::time::Duration, failures: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let doubled = first.saturating_mul(1 << failures.saturating_sub(1).min(16));
    let wait = doubled.min(std::time::Duration::from_secs(300));
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let kept = 0.5 + (random % 1000) as f64 / 2000.0;
    wait.mul_f64(kept)
}

/// The name a server gives itself: its title, else its name; none when both are blank.
fn own_name(server: &ServerInfo) -> Option<String> {
    [server.title.as_deref(), Some(server.name.as_str())]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|name| !name.is_empty())
        .map(str::to_owned)
}

/// A sign-in the server no longer accepts (expired, revoked, refresh refused).
fn sign_in_ended(detail: Option<String>) -> Error {
    let error = Error::new(
        ErrorCode::NeedsSignIn,
        "Your sign-in to this server has ended (it expired or was withdrawn). Sign in again to keep using it.",
    );
    match detail {
        Some(detail) => error.with_detail(detail),
        None => error,
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// How long until saved tokens should be refreshed: at three quarters of their life, or a
/// minute before they expire if that is sooner, but never before half of it. `None` when
/// they do not expire or cannot be refreshed.
fn refresh_due(
    saved: &rmcp::transport::StoredCredentials,
    now: u64,
) -> Option<std::time::Duration> {
    use oauth2::TokenResponse;
    let tokens = saved.token_response.as_ref()?;
    tokens.refresh_token()?;
    let lifetime = tokens.expires_in()?.as_secs();
    let received = saved.token_received_at?;
    let at = received
        + (lifetime * 3 / 4)
            .min(lifetime.saturating_sub(60))
            .max(lifetime / 2);
    Some(std::time::Duration::from_secs(
        at.saturating_sub(now).max(1),
    ))
}

/// The `state` of an authorization URL, read as rmcp's OAuth client wrote it: appended
/// last, after whatever the server's own endpoint address carried (a `state` there too is
/// the server's, not ours).
fn state_of(authorization_url: &str) -> Result<String> {
    url::Url::parse(authorization_url)
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .filter(|(key, _)| key == "state")
                .last()
                .map(|(_, value)| value.into_owned())
        })
        .ok_or_else(|| Error::internal("the authorization URL carries no state"))
}

fn expired() -> Error {
    Error::new(
        ErrorCode::SignInFailed,
        format!(
            "Signing in was not finished within {} minutes, so it was stopped. Sign in again when you are ready.",
            SIGN_IN_PATIENCE.as_secs() / 60
        ),
    )
}

#[async_trait]
impl Browser for AppLink {
    async fn redirect_uri(&self) -> Result<String> {
        Ok(app_redirect_uri(&self.id))
    }

    async fn authorize(&self, authorization_url: &str) -> Result<String> {
        let state = state_of(authorization_url)?;
        let (sender, receiver) = oneshot::channel();
        self.inner
            .pending_lock()
            .begin(state, self.id.clone(), Instant::now(), sender);
        self.open(authorization_url)?;
        match tokio::time::timeout(SIGN_IN_PATIENCE, receiver).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(Error::new(
                ErrorCode::SignInFailed,
                "Signing in was cancelled.",
            )),
            Err(_) => Err(expired()),
        }
    }
}

/// The person's browser, coming back to a one-shot page on 127.0.0.1 (RFC 8252 §7.3).
struct LoopbackPage {
    app_link: AppLink,
    loopback: OnceCell<Loopback>,
}

#[async_trait]
impl Browser for LoopbackPage {
    async fn redirect_uri(&self) -> Result<String> {
        Ok(self
            .loopback
            .get_or_try_init(|| Loopback::bind(self.app_link.id.clone()))
            .await?
            .redirect_uri())
    }

    async fn authorize(&self, authorization_url: &str) -> Result<String> {
        let state = state_of(authorization_url)?;
        let loopback = self
            .loopback
            .get_or_try_init(|| Loopback::bind(self.app_link.id.clone()))
            .await?;
        self.app_link.open(authorization_url)?;
        tokio::time::timeout(SIGN_IN_PATIENCE, loopback.receive(&state))
            .await
            .map_err(|_| expired())?
    }
}

fn new_id(state: &State) -> ConnectorId {
    loop {
        let id = ConnectorId(crate::settings::new_id("c"));
        if !state.live.contains_key(&id) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(expires_in: Option<u64>, refresh: bool) -> rmcp::transport::StoredCredentials {
        let mut token = serde_json::json!({"access_token": "a", "token_type": "Bearer"});
        if let Some(seconds) = expires_in {
            token["expires_in"] = seconds.into();
        }
        if refresh {
            token["refresh_token"] = "r".into();
        }
        rmcp::transport::StoredCredentials::new(
            "client".into(),
            Some(serde_json::from_value(token).unwrap()),
            vec![],
            Some(1_000),
        )
    }

    #[test]
    fn the_state_is_the_one_the_oauth_client_appended_last() {
        // An authorization endpoint whose own address already carries a `state`: ours is
        // appended after it, as rmcp's OAuth client writes it.
        assert_eq!(
            state_of("https://as.example/authorize?state=theirs&client_id=c&state=ours").unwrap(),
            "ours"
        );
        assert_eq!(
            state_of("https://as.example/authorize?client_id=c&state=only").unwrap(),
            "only"
        );
        assert!(state_of("https://as.example/authorize?client_id=c").is_err());
    }

    #[test]
    fn each_connector_signs_in_on_its_own_app_link() {
        assert_eq!(
            app_redirect_uri(&ConnectorId("c1f".into())),
            "io.switchboard.desktop:/oauth/callback/c1f"
        );
    }

    #[test]
    fn tokens_refresh_at_three_quarters_of_their_life_and_a_minute_early_at_most() {
        let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs());
        // An hour: at 45 minutes.
        assert_eq!(
            secs(refresh_due(&saved(Some(3600), true), 1_000)),
            Some(2700)
        );
        // Two minutes: a minute before expiry, which is also half-way.
        assert_eq!(secs(refresh_due(&saved(Some(120), true), 1_000)), Some(60));
        // Five minutes: three quarters comes first.
        assert_eq!(secs(refresh_due(&saved(Some(300), true), 1_000)), Some(225));
        // Ten seconds: a minute early is impossible, so never before half-way; overdue
        // ones run at once.
        assert_eq!(secs(refresh_due(&saved(Some(10), true), 1_000)), Some(5));
        assert_eq!(secs(refresh_due(&saved(Some(10), true), 5_000)), Some(1));
        // Nothing to do without an expiry or a refresh token.
        assert_eq!(refresh_due(&saved(None, true), 1_000), None);
        assert_eq!(refresh_due(&saved(Some(3600), false), 1_000), None);
    }
}
