//! The connector registry end to end, headless: add, connect, persist, restart, turn off,
//! remove — against real servers and a real settings file.

use std::path::Path;
use std::time::Duration;

use switchboard_core::settings::FileStore;
use switchboard_core::{Connectors, ErrorCode, Event, Timeouts};
use switchboard_ipc::{AddConnectorRequest, ConnectorId, ConnectorState, ConnectorSummary};
use switchboard_testkit as kit;

fn open(path: &Path) -> Connectors {
    let (store, notices) = FileStore::open(path);
    assert!(notices.is_empty(), "{notices:?}");
    Connectors::load(
        Box::new(store),
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(10),
        },
        tokio::runtime::Handle::current(),
    )
    .expect("loads")
}

/// Waits for the connector to leave `Connecting`, and returns where it landed.
async fn settled(connectors: &Connectors, id: &ConnectorId) -> ConnectorSummary {
    let mut events = connectors.subscribe();
    let current = connectors
        .list()
        .into_iter()
        .find(|c| &c.id == id)
        .expect("listed");
    if current.state != ConnectorState::Connecting {
        return current;
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(Event::ConnectorChanged(summary))
                    if &summary.id == id && summary.state != ConnectorState::Connecting =>
                {
                    return summary;
                }
                Ok(_) => {}
                Err(err) => panic!("events ended: {err}"),
            }
        }
    })
    .await
    .expect("settles within 30 s")
}

fn add(connectors: &Connectors, url: &str, name: Option<&str>) -> ConnectorSummary {
    connectors
        .add(AddConnectorRequest {
            url: url.to_owned(),
            name: name.map(str::to_owned),
        })
        .expect("added")
}

#[tokio::test(flavor = "multi_thread")]
async fn added_connectors_connect_persist_and_come_back_after_a_restart() {
    let everything = kit::Everything::start();
    let python = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");

    let connectors = open(&path);
    let first = add(&connectors, &format!("  {}  ", everything.url()), None);
    assert_eq!(first.state, ConnectorState::Connecting);
    assert_eq!(first.url, everything.url(), "trimmed, otherwise as typed");
    assert_eq!(
        first.name, "127.0.0.1",
        "the host until the server names itself"
    );
    let second = add(&connectors, python.url(), Some("My tools"));

    let first = settled(&connectors, &first.id).await;
    assert_eq!(
        first.state,
        ConnectorState::Connected,
        "{:?}",
        first.problem
    );
    assert_eq!(
        first.name,
        kit::EVERYTHING_SERVER_TITLE,
        "named after the server"
    );
    let counts = first.counts.expect("counts");
    assert_eq!(counts.tools as usize, kit::EVERYTHING_TOOLS);
    assert_eq!(counts.resources as usize, kit::EVERYTHING_RESOURCES);
    assert_eq!(counts.prompts as usize, kit::EVERYTHING_PROMPTS);
    let second = settled(&connectors, &second.id).await;
    assert_eq!(second.state, ConnectorState::Connected);
    assert_eq!(second.name, "My tools", "a name the person typed stays");

    let detail = connectors.detail(&first.id).expect("detail");
    let server = detail.server.expect("server info");
    assert_eq!(server.version, kit::EVERYTHING_SERVER_VERSION);
    assert_eq!(
        detail.catalog.expect("catalog").tools.len(),
        kit::EVERYTHING_TOOLS
    );
    assert!(connectors.session(&first.id).is_ok());

    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(saved.contains(everything.url()) && saved.contains("My tools"));
    drop(connectors);

    // A restart: the list is there at once, in order, and connects in the background.
    let connectors = open(&path);
    let listed = connectors.list();
    assert_eq!(
        listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        vec![kit::EVERYTHING_SERVER_TITLE, "My tools"]
    );
    assert!(listed.iter().all(|c| c.state == ConnectorState::Connecting));
    connectors.start();
    for summary in &listed {
        assert_eq!(
            settled(&connectors, &summary.id).await.state,
            ConnectorState::Connected
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_address_or_a_duplicate_changes_nothing() {
    let python = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let connectors = open(&path);
    let added = add(&connectors, python.url(), None);
    let before = std::fs::read(&path).expect("saved");

    for bad in [
        "http://example.com/mcp",
        "ftp://example.com",
        "https://user:pw@example.com/mcp",
        "",
    ] {
        let err = connectors
            .add(AddConnectorRequest {
                url: bad.into(),
                name: None,
            })
            .expect_err(bad);
        assert_ne!(err.code, ErrorCode::Internal, "{bad}");
    }
    // The same endpoint, spelled differently.
    let duplicate = python.url().replacen("http", "HTTP", 1);
    let err = connectors
        .add(AddConnectorRequest {
            url: duplicate,
            name: Some("again".into()),
        })
        .expect_err("duplicate");
    assert_eq!(err.code, ErrorCode::DuplicateConnector);
    assert!(err.message.contains(&added.name), "{}", err.message);

    assert_eq!(
        std::fs::read(&path).expect("saved"),
        before,
        "file untouched"
    );
    assert_eq!(connectors.list().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_servers_say_why_and_can_be_retried() {
    let garbage = kit::Garbage::html();
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open(&dir.path().join("settings.json"));
    let added = add(&connectors, garbage.url(), None);
    let failed = settled(&connectors, &added.id).await;
    assert_eq!(failed.state, ConnectorState::CantReach);
    let problem = failed.problem.expect("a reason");
    assert_eq!(problem.code, ErrorCode::NotMcpServer);

    let retried = connectors.reconnect(&added.id).expect("retry");
    assert_eq!(retried.state, ConnectorState::Connecting);
    assert!(retried.problem.is_none());
    assert_eq!(
        settled(&connectors, &added.id).await.state,
        ConnectorState::CantReach
    );
    assert!(garbage.connections() >= 2, "it really tried again");
}

#[tokio::test(flavor = "multi_thread")]
async fn turning_off_and_removing_are_saved() {
    let python = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let connectors = open(&path);
    let added = add(&connectors, python.url(), None);
    settled(&connectors, &added.id).await;

    let off = connectors.set_enabled(&added.id, false).expect("off");
    assert_eq!(off.state, ConnectorState::Off);
    assert!(off.counts.is_none());
    assert_eq!(
        connectors.reconnect(&added.id).expect_err("off").code,
        ErrorCode::ConnectorOff
    );
    drop(connectors);

    let connectors = open(&path);
    assert_eq!(connectors.list()[0].state, ConnectorState::Off, "stays off");
    connectors.start();
    let on = connectors.set_enabled(&added.id, true).expect("on");
    assert_eq!(on.state, ConnectorState::Connecting);
    assert_eq!(
        settled(&connectors, &added.id).await.state,
        ConnectorState::Connected
    );

    connectors.remove(&added.id).expect("removed");
    assert!(connectors.list().is_empty());
    assert_eq!(
        connectors.detail(&added.id).expect_err("gone").code,
        ErrorCode::UnknownConnector
    );
    drop(connectors);
    assert!(open(&path).list().is_empty(), "gone after a restart");
}
