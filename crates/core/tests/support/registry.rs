//! What the registry's headless tests share: a keyring in memory, browsers, and waiting for
//! a connector to get where a test expects it. Included by `#[path]` from each test file.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::connectors::OpenUrl;
use switchboard_core::secrets::{Secret, SecretKind, SecretStore, account};
use switchboard_core::settings::FileStore;
use switchboard_core::{Connectors, Event, Result, Timeouts};
use switchboard_ipc::{AddConnectorRequest, ConnectorId, ConnectorState, ConnectorSummary};
use switchboard_testkit as kit;

/// The keyring for these tests (the real one is tested in `keyring.rs`). It can be made to
/// refuse deletions, as a locked keyring does.
#[derive(Default)]
pub struct MemorySecrets {
    entries: Mutex<HashMap<String, String>>,
    deletes_refused: AtomicBool,
}

impl MemorySecrets {
    /// From now on deleting fails (`true`) or works again (`false`).
    pub fn refuse_deletes(&self, refuse: bool) {
        self.deletes_refused.store(refuse, Ordering::SeqCst);
    }

    pub fn is_empty(&self) -> bool {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

impl SecretStore for MemorySecrets {
    fn read(&self, id: &ConnectorId, kind: SecretKind) -> Result<Option<Secret>> {
        Ok(self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&account(id, kind))
            .map(Secret::new))
    }
    fn write(&self, id: &ConnectorId, kind: SecretKind, secret: &Secret) -> Result<()> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account(id, kind), secret.expose().to_owned());
        Ok(())
    }
    fn delete(&self, id: &ConnectorId, kind: SecretKind) -> Result<()> {
        if self.deletes_refused.load(Ordering::SeqCst) {
            return Err(switchboard_core::Error::new(
                switchboard_core::ErrorCode::KeyringUnavailable,
                "The system keyring is locked.",
            )
            .with_detail("org.freedesktop.Secret.Error.IsLocked"));
        }
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&account(id, kind));
        Ok(())
    }
}

/// No browser in these tests: a sign-in page opened is a failure to explain.
pub struct NoBrowser;

impl OpenUrl for NoBrowser {
    fn open(&self, _: &str) -> Result<()> {
        Err(switchboard_core::Error::internal("no browser here"))
    }
}

/// A browser that opens nothing and remembers every page it was asked to open.
#[derive(Default)]
pub struct RecordingBrowser(Mutex<Vec<String>>);

impl RecordingBrowser {
    pub fn opened(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl OpenUrl for RecordingBrowser {
    fn open(&self, url: &str) -> Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(url.to_owned());
        Ok(())
    }
}

/// Short bounds: the servers here are local. A connector that cannot reach its server
/// does not try again on its own within a test (the fault tests set their own wait).
pub fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(10),
        request: Duration::from_secs(10),
        retry_after: Duration::from_secs(3600),
    }
}

pub fn open(path: &Path) -> Connectors {
    open_with(path, Arc::new(MemorySecrets::default()))
}

pub fn open_with(path: &Path, secrets: Arc<MemorySecrets>) -> Connectors {
    open_with_browser(path, secrets, Arc::new(NoBrowser))
}

pub fn open_with_browser(
    path: &Path,
    secrets: Arc<MemorySecrets>,
    browser: Arc<dyn OpenUrl>,
) -> Connectors {
    let (store, notices) = FileStore::open(path);
    assert!(notices.is_empty(), "{notices:?}");
    Connectors::load(
        Box::new(store),
        secrets,
        browser,
        timeouts(),
        tokio::runtime::Handle::current(),
    )
    .expect("loads")
}

/// Waits for the connector to leave `Connecting`, and returns where it landed.
pub async fn settled(connectors: &Connectors, id: &ConnectorId) -> ConnectorSummary {
    until_state(connectors, id, |state| state != ConnectorState::Connecting).await
}

/// Waits, event by event, until the connector's state passes `accept`; returns it.
pub async fn until_state(
    connectors: &Connectors,
    id: &ConnectorId,
    accept: impl Fn(ConnectorState) -> bool,
) -> ConnectorSummary {
    let mut events = connectors.subscribe();
    let current = connectors
        .list()
        .into_iter()
        .find(|c| &c.id == id)
        .expect("listed");
    if accept(current.state) {
        return current;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await {
                Ok(Event::ConnectorChanged(summary))
                    if &summary.id == id && accept(summary.state) =>
                {
                    return summary;
                }
                Ok(_) => {}
                Err(err) => panic!("events ended: {err}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{id} never got there; it is {:?}", connectors.list()))
}

pub async fn add(connectors: &Connectors, url: &str, name: Option<&str>) -> ConnectorSummary {
    connectors
        .add(AddConnectorRequest {
            url: url.to_owned(),
            name: name.map(str::to_owned),
            sign_in: Default::default(),
        })
        .await
        .expect("added")
}

/// The person's browser for headless tests: the test kit's Chromium script, run directly.
pub struct TestBrowser {
    pub env: Vec<(String, String)>,
}

impl OpenUrl for TestBrowser {
    fn open(&self, url: &str) -> Result<()> {
        std::process::Command::new(kit::browser_script())
            .arg(url)
            .envs(self.env.iter().cloned())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|err| switchboard_core::Error::internal(err.to_string()))
    }
}

/// What the system's scheme handler would do with the app's links, for headless tests: a
/// script that appends each link it is run with to a file, for the test to hand to the
/// registry (`Connectors::open_link`), as the shell does.
pub struct LinkCatcher {
    pub script: PathBuf,
    links: PathBuf,
}

impl LinkCatcher {
    pub fn new(dir: &Path) -> Self {
        let script = dir.join("app-link-handler");
        let links = dir.join("links.txt");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
                links.display()
            ),
        )
        .expect("handler script");
        let mut permissions = std::fs::metadata(&script).expect("script").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&script, permissions).expect("make it executable");
        Self { script, links }
    }

    /// Waits for the next link the browser hands over (the `n`th, from 0).
    pub async fn link(&self, n: usize) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&self.links).unwrap_or_default();
            if let Some(line) = text.lines().nth(n) {
                return line.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the browser never handed a link to the app"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Waits until `accept` holds for the connector, or panics with where it stands.
pub async fn until(
    connectors: &Connectors,
    id: &ConnectorId,
    what: &str,
    accept: impl Fn(&ConnectorSummary) -> bool,
) -> ConnectorSummary {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = connectors
            .list()
            .into_iter()
            .find(|c| &c.id == id)
            .expect("listed");
        if accept(&now) {
            return now;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
