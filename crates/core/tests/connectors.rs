//! The connector registry end to end, headless: add, connect, persist, restart, turn off,
//! remove — against real servers and a real settings file.

#[path = "support/registry.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use support::{MemorySecrets, TestBrowser, add, open, open_with, settled, until};
use switchboard_core::secrets::{Secret, SecretKind, SecretStore};
use switchboard_core::settings::{Entries, FileStore, SettingsStore};
use switchboard_core::{Connectors, ErrorCode, Timeouts};
use switchboard_ipc::tools::ToolMode;
use switchboard_ipc::{
    AddConnectorRequest, ConnectorState, EditConnectorRequest, SecretInput, SignInChoice,
};
use switchboard_testkit as kit;

#[tokio::test(flavor = "multi_thread")]
async fn added_connectors_connect_persist_and_come_back_after_a_restart() {
    let everything = kit::Everything::start();
    let python = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");

    let connectors = open(&path);
    let first = add(&connectors, &format!("  {}  ", everything.url()), None).await;
    assert_eq!(first.state, ConnectorState::Connecting);
    assert_eq!(first.url, everything.url(), "trimmed, otherwise as typed");
    assert_eq!(
        first.name,
        everything
            .url()
            .trim_start_matches("http://")
            .replacen('/', " /", 1),
        "host, port and path until the server names itself"
    );
    let second = add(&connectors, python.url(), Some("My tools")).await;

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
    // Each server's protocol is remembered, so the next connect does not probe for it.
    let file: serde_json::Value = serde_json::from_str(&saved).expect("json");
    let eras: Vec<_> = file["connectors"]
        .as_array()
        .expect("the connectors")
        .iter()
        .map(|c| c["era"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(eras, ["sessions", "stateless"], "{saved}");
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
    // Once a run: the shell starts them when the window's page has loaded, or after a
    // while if it never does, and the second call must not connect them again.
    connectors.start();
    assert!(
        connectors
            .list()
            .iter()
            .all(|c| c.state == ConnectorState::Connected),
        "a second start left them as they were"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_address_or_a_duplicate_changes_nothing() {
    let python = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let connectors = open(&path);
    let added = add(&connectors, python.url(), None).await;
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
                sign_in: Default::default(),
            })
            .await
            .expect_err(bad);
        assert_ne!(err.code, ErrorCode::Internal, "{bad}");
    }
    // The same endpoint, spelled differently.
    let duplicate = python.url().replacen("http", "HTTP", 1);
    let err = connectors
        .add(AddConnectorRequest {
            url: duplicate,
            name: Some("again".into()),
            sign_in: Default::default(),
        })
        .await
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
    let added = add(&connectors, garbage.url(), None).await;
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
    let added = add(&connectors, python.url(), None).await;
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

    connectors.remove(&added.id).await.expect("removed");
    assert!(connectors.list().is_empty());
    assert_eq!(
        connectors.detail(&added.id).expect_err("gone").code,
        ErrorCode::UnknownConnector
    );
    drop(connectors);
    assert!(open(&path).list().is_empty(), "gone after a restart");
}

fn key(header: Option<&str>, key: &str) -> SignInChoice {
    SignInChoice::ApiKey {
        header: header.map(str::to_owned),
        key: SecretInput(key.to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_connects_lives_only_in_the_keyring_and_a_wrong_one_is_named() {
    let server = kit::PythonMcp::requiring_header("X-API-Key", "sk-right-1234");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let secrets = Arc::new(MemorySecrets::default());
    let connectors = open_with(&path, secrets.clone());

    let added = connectors
        .add(AddConnectorRequest {
            url: server.url().to_owned(),
            name: None,
            sign_in: key(Some("X-API-Key"), " sk-right-1234 "),
        })
        .await
        .expect("added");
    assert!(added.sign_in.saved);
    let connected = settled(&connectors, &added.id).await;
    assert_eq!(connected.state, ConnectorState::Connected, "{connected:?}");
    assert_eq!(
        secrets.read(&added.id, SecretKind::ApiKey).unwrap(),
        Some(Secret::new("sk-right-1234"))
    );
    let file = std::fs::read_to_string(&path).expect("saved");
    assert!(!file.contains("sk-right"), "{file}");
    assert!(file.contains("X-API-Key"), "{file}");

    let replaced = connectors
        .set_sign_in(&added.id, key(Some("X-API-Key"), "sk-wrong-9999"))
        .await
        .expect("replaced");
    let refused = settled(&connectors, &replaced.id).await;
    assert_eq!(refused.state, ConnectorState::NeedsSignIn, "{refused:?}");
    let problem = refused.problem.expect("a reason");
    assert_eq!(problem.code, ErrorCode::CredentialsRejected, "{problem:?}");
    assert!(problem.message.starts_with("The key was not accepted"));
    assert!(!format!("{problem:?}").contains("sk-wrong"));

    // The bearer default does not fit this server either.
    connectors
        .set_sign_in(&added.id, key(None, "sk-right-1234"))
        .await
        .expect("replaced");
    let refused = settled(&connectors, &added.id).await;
    assert_eq!(refused.state, ConnectorState::NeedsSignIn);

    // Removing it removes the key.
    connectors.remove(&added.id).await.expect("removed");
    assert_eq!(secrets.read(&added.id, SecretKind::ApiKey).unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_on_the_same_server_keeps_the_key_and_tools_and_another_server_starts_fresh() {
    let first = kit::PythonMcp::requiring_header("X-API-Key", "sk-first-1111");
    let second = kit::PythonMcp::requiring_header("X-API-Key", "sk-second-2222");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let secrets = Arc::new(MemorySecrets::default());
    let connectors = open_with(&path, secrets.clone());
    let added = connectors
        .add(AddConnectorRequest {
            url: first.url().to_owned(),
            name: None,
            sign_in: key(Some("X-API-Key"), "sk-first-1111"),
        })
        .await
        .expect("added");
    let id = added.id.clone();
    assert_eq!(
        settled(&connectors, &id).await.state,
        ConnectorState::Connected
    );
    connectors
        .set_tool_mode(&id, "echo", ToolMode::Allow)
        .expect("allowed");
    let edit = |url: Option<&str>, name: Option<&str>, sign_in: Option<SignInChoice>| {
        EditConnectorRequest {
            id: id.clone(),
            url: url.map(str::to_owned),
            name: name.map(str::to_owned),
            sign_in,
        }
    };
    let tool_rules = |connectors: &Connectors| {
        connectors
            .detail(&id)
            .expect("detail")
            .tools
            .settings
            .tools
            .len()
    };

    // A name alone: saved, no reconnect, and it outlives the server's own name.
    let renamed = connectors
        .edit(edit(None, Some("  Team tools "), None))
        .await
        .expect("renamed");
    assert_eq!(renamed.name, "Team tools");
    assert_eq!(renamed.state, ConnectorState::Connected, "not reconnected");
    // Empty: the server's own name again.
    let unnamed = connectors
        .edit(edit(None, Some(""), None))
        .await
        .expect("reset");
    assert_eq!(unnamed.name, kit::PYTHON_SERVER_NAME);

    // The same server at an address written another way: the key and the tools stay.
    let same = format!("{}?team=a", first.url());
    let check = connectors.check_address(&same, Some(&id)).expect("checked");
    assert!(!check.other_server);
    connectors
        .check_address(first.url(), Some(&id))
        .expect("its own address is no duplicate");
    connectors
        .edit(edit(Some(&same), None, None))
        .await
        .expect("moved");
    let moved = settled(&connectors, &id).await;
    assert_eq!(moved.state, ConnectorState::Connected, "{moved:?}");
    assert_eq!(moved.url, same);
    assert_eq!(tool_rules(&connectors), 1, "the tool's setting stays");
    assert_eq!(
        secrets.read(&id, SecretKind::ApiKey).unwrap(),
        Some(Secret::new("sk-first-1111"))
    );

    // Another server: said by the check, refused without a key for it, changing nothing.
    let check = connectors
        .check_address(second.url(), Some(&id))
        .expect("checked");
    assert!(check.other_server);
    let refused = connectors
        .edit(edit(Some(second.url()), None, None))
        .await
        .expect_err("a key for the other server is needed");
    assert_eq!(refused.code, ErrorCode::InvalidSignIn);
    assert_eq!(connectors.detail(&id).unwrap().summary.url, same);
    assert!(std::fs::read_to_string(&path).unwrap().contains(&same));
    // With its key: connected there, the tools start fresh, the old key is gone.
    connectors
        .edit(edit(
            Some(second.url()),
            None,
            Some(key(Some("X-API-Key"), "sk-second-2222")),
        ))
        .await
        .expect("moved");
    let there = settled(&connectors, &id).await;
    assert_eq!(there.state, ConnectorState::Connected, "{there:?}");
    assert_eq!(tool_rules(&connectors), 0, "tool settings start fresh");
    assert_eq!(
        secrets.read(&id, SecretKind::ApiKey).unwrap(),
        Some(Secret::new("sk-second-2222"))
    );
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(
        file.contains(second.url()) && !file.contains("sk-second"),
        "{file}"
    );

    // An address another connector has is refused by name.
    let other = add(&connectors, first.url(), Some("Other")).await;
    let taken = connectors
        .edit(edit(
            Some(first.url()),
            None,
            Some(key(Some("X-API-Key"), "sk-first-1111")),
        ))
        .await
        .expect_err("a duplicate");
    assert_eq!(taken.code, ErrorCode::DuplicateConnector);
    assert!(taken.message.contains("\"Other\""), "{taken:?}");
    assert_eq!(
        secrets.read(&id, SecretKind::ApiKey).unwrap(),
        Some(Secret::new("sk-second-2222")),
        "a refused edit changes nothing"
    );
    let _ = other;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_username_and_password_connect_and_a_wrong_password_is_named() {
    // "ada:lovelace" in base64.
    let server = kit::PythonMcp::requiring_header("Authorization", "Basic YWRhOmxvdmVsYWNl");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let connectors = open(&path);
    let basic = |password: &str| SignInChoice::Basic {
        username: "ada".into(),
        password: SecretInput(password.into()),
    };
    let added = connectors
        .add(AddConnectorRequest {
            url: server.url().to_owned(),
            name: None,
            sign_in: basic("lovelace"),
        })
        .await
        .expect("added");
    assert_eq!(
        settled(&connectors, &added.id).await.state,
        ConnectorState::Connected
    );
    connectors
        .set_sign_in(&added.id, basic("babbage"))
        .await
        .expect("replaced");
    let refused = settled(&connectors, &added.id).await;
    let problem = refused.problem.expect("a reason");
    assert_eq!(problem.code, ErrorCode::CredentialsRejected, "{problem:?}");
    assert!(
        problem
            .message
            .starts_with("The username or password was not accepted")
    );
    let file = std::fs::read_to_string(&path).expect("saved");
    assert!(!file.contains("lovelace") && !file.contains("babbage"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_sign_in_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let secrets = Arc::new(MemorySecrets::default());
    let connectors = open_with(&path, secrets.clone());
    for (choice, why) in [
        (key(Some("Mcp-Session-Id"), "k"), "reserved header"),
        (key(Some("Content-Type"), "k"), "reserved header"),
        (key(None, "   "), "empty key"),
        (
            SignInChoice::Basic {
                username: String::new(),
                password: SecretInput("p".into()),
            },
            "no username",
        ),
    ] {
        let err = connectors
            .add(AddConnectorRequest {
                url: "https://mcp.example.com/mcp".into(),
                name: None,
                sign_in: choice,
            })
            .await
            .expect_err(why);
        assert_eq!(err.code, ErrorCode::InvalidSignIn, "{why}");
    }
    assert!(!path.exists(), "nothing saved");
    assert!(secrets.is_empty(), "nothing in the keyring");
    assert!(connectors.list().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_tokens_refresh_in_the_background_and_a_refused_refresh_asks_to_sign_in_again() {
    // Loopback redirects need no app to hand a link to; access tokens live 6 seconds.
    let auth = kit::AuthServer::builder()
        .loopback_only()
        .access_ttl(Duration::from_secs(6))
        .start();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("browser.jsonl");
    let (store, _) = FileStore::open(dir.path().join("settings.json"));
    let connectors = Connectors::load(
        Box::new(store),
        Arc::new(MemorySecrets::default()),
        Arc::new(TestBrowser {
            env: kit::browser_env(Path::new("/bin/false"), &log),
        }),
        Timeouts::default(),
        tokio::runtime::Handle::current(),
    )
    .expect("loads");

    let added = add(&connectors, auth.mcp_url(), None).await;
    let connected = until(&connectors, &added.id, "signed in", |c| {
        c.state == ConnectorState::Connected
    })
    .await;
    assert!(connected.sign_in.saved);
    // The authorization server saw one trip to its sign-in page (the browser's own log is
    // only written when its run ends, which may be after the app is connected).
    assert_eq!(auth.stats().await["authorization_requests"], 1);

    // Left alone, it refreshes before the 6-second tokens run out (at 3 s), again and again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = auth.stats().await;
        if stats["refreshes"].as_u64().unwrap_or_default() >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "refreshed in the background: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        connectors.list()[0].state,
        ConnectorState::Connected,
        "and stayed connected"
    );

    // The server withdraws everything: the next refresh is refused and it says so without
    // anyone touching it.
    auth.revoke_all().await;
    let ended = until(&connectors, &added.id, "sign-in ended", |c| {
        c.state == ConnectorState::NeedsSignIn
    })
    .await;
    let problem = ended.problem.expect("a reason");
    assert_eq!(problem.code, ErrorCode::NeedsSignIn);
    assert!(problem.message.contains("Sign in again"), "{problem:?}");
    assert_eq!(
        auth.stats().await["authorization_requests"],
        1,
        "no browser opened by itself"
    );
}

/// Settings that cannot be saved: a full disk, a read-only folder.
struct CannotSave;

impl SettingsStore for CannotSave {
    fn load(&self) -> switchboard_core::Result<Entries> {
        Ok(Entries::new())
    }

    fn save(&self, _: &Entries) -> switchboard_core::Result<()> {
        Err(switchboard_core::Error::new(
            ErrorCode::Storage,
            "Your settings could not be saved.",
        ))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_save_changes_nothing_and_takes_back_the_secrets_it_wrote() {
    let secrets = Arc::new(MemorySecrets::default());
    let connectors = Connectors::load(
        Box::new(CannotSave),
        secrets.clone(),
        Arc::new(support::NoBrowser),
        support::timeouts(),
        tokio::runtime::Handle::current(),
    )
    .expect("loads");
    let err = connectors
        .add(AddConnectorRequest {
            url: "https://mcp.example.com/mcp".into(),
            name: None,
            sign_in: key(None, "sk-written-then-taken-back"),
        })
        .await
        .expect_err("not saved");
    assert_eq!(err.code, ErrorCode::Storage);
    assert!(connectors.list().is_empty(), "not shown");
    assert!(
        secrets.is_empty(),
        "the key was taken back out of the keyring"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_answer_never_overwrites_a_newer_action() {
    let server = kit::Hostile::start();
    // The server answers, wrongly, but only after the person has moved on.
    server.route("/mcp", |_| {
        kit::Reply::status(500).after(Duration::from_secs(2))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open(&dir.path().join("settings.json"));
    let added = add(&connectors, &server.url("/mcp"), None).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.requests_to("/mcp").is_empty() {
        assert!(std::time::Instant::now() < deadline, "never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let off = connectors.set_enabled(&added.id, false).expect("off");
    assert_eq!(off.state, ConnectorState::Off);
    let mut events = connectors.subscribe();
    // The slow answer goes out…
    while server.answered() == 0 {
        assert!(std::time::Instant::now() < deadline, "never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // …and whatever the client made of it, the connector stays off, saying nothing new.
    // A turn on afterwards is the next event it sends: nothing came in between.
    let on = connectors.set_enabled(&added.id, true).expect("on");
    assert_eq!(on.state, ConnectorState::Connecting);
    match events.recv().await.expect("an event") {
        switchboard_core::Event::ConnectorChanged(summary) => {
            assert_eq!(summary.state, ConnectorState::Connecting, "{summary:?}")
        }
        other => panic!("{other:?}"),
    }
}

/// A server that adds a resource and a prompt while connected is listed again: the 2026-07-28
/// server on its `subscriptions/listen` stream, the handshake-era one on its standalone stream.
#[tokio::test(flavor = "multi_thread")]
async fn lists_that_change_on_the_server_are_listed_again() {
    let modern = kit::PythonMcp::start();
    let legacy = kit::PythonMcp::legacy();
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open(&dir.path().join("settings.json"));

    for (server, era) in [(&modern, "2026-07-28"), (&legacy, "2025-11-25")] {
        let added = add(&connectors, server.url(), None).await;
        let before = settled(&connectors, &added.id).await;
        assert_eq!(before.state, ConnectorState::Connected, "{before:?}");
        let detail = connectors.detail(&added.id).expect("detail");
        assert_eq!(
            detail.server.as_ref().map(|s| s.protocol_version.as_str()),
            Some(era),
            "the fixture speaks the era this case is for"
        );
        let counts = before.counts.expect("listed");

        let n = server.change().await;
        let after = until(&connectors, &added.id, "listed again after a change", |s| {
            s.counts.is_some_and(|c| {
                c.resources == counts.resources + 1 && c.prompts == counts.prompts + 1
            })
        })
        .await;
        assert!(after.catalog_revision > before.catalog_revision, "{era}");
        assert_eq!(after.state, ConnectorState::Connected);
        let catalog = connectors
            .detail(&added.id)
            .expect("detail")
            .catalog
            .expect("catalog");
        assert!(
            catalog
                .resources
                .iter()
                .any(|r| r.uri == format!("fixture://added/{n}") && r.name == format!("added-{n}")),
            "{era}: {:?}",
            catalog.resources
        );
        assert!(
            catalog
                .prompts
                .iter()
                .any(|p| p.name == format!("added_{n}")),
            "{era}: {:?}",
            catalog.prompts
        );

        // A burst of changes ends with everything listed.
        for _ in 0..3 {
            server.change().await;
        }
        until(&connectors, &added.id, "listed again after a burst", |s| {
            s.counts
                .is_some_and(|c| c.resources == counts.resources + 4)
        })
        .await;
    }
}

/// Allow · Ask · Off are saved with the connector, survive a restart, and a tool the server
/// changes goes back to Ask — only that one — with what was allowed kept to compare.
#[tokio::test(flavor = "multi_thread")]
async fn tool_choices_are_saved_and_a_changed_tool_is_asked_about_again() {
    use switchboard_ipc::tools::{BulkAction, ToolMode, ToolStanding};
    let python = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let connectors = open(&path);
    let added = add(&connectors, python.url(), None).await;
    let id = added.id.clone();
    assert_eq!(
        settled(&connectors, &id).await.state,
        ConnectorState::Connected
    );
    let standing = |connectors: &Connectors, tool: &str| {
        let detail = connectors.detail(&id).expect("detail");
        detail
            .tools
            .entries
            .iter()
            .find(|e| e.name == tool)
            .cloned()
            .unwrap_or_else(|| panic!("{tool} listed: {:?}", detail.tools.entries))
    };
    for tool in ["add", "echo", "fail", "sleep"] {
        assert_eq!(
            standing(&connectors, tool).standing,
            ToolStanding::Ask,
            "{tool} starts at Ask"
        );
    }
    connectors
        .set_tool_mode(&id, "echo", ToolMode::Allow)
        .expect("allow echo");
    connectors
        .set_tool_mode(&id, "add", ToolMode::Allow)
        .expect("allow add");
    connectors
        .set_tool_mode(&id, "fail", ToolMode::Off)
        .expect("fail off");

    // A tool the server does not list cannot be allowed; nothing changes.
    let before = std::fs::read(&path).expect("saved");
    let err = connectors
        .set_tool_mode(&id, "nope", ToolMode::Allow)
        .expect_err("not listed");
    assert_eq!(err.code, ErrorCode::InvalidSetting);
    assert_eq!(
        std::fs::read(&path).expect("saved"),
        before,
        "nothing written"
    );

    // After a restart.
    drop(connectors);
    let connectors = open(&path);
    connectors.start();
    assert_eq!(
        settled(&connectors, &id).await.state,
        ConnectorState::Connected
    );
    assert_eq!(
        standing(&connectors, "echo").standing,
        ToolStanding::Allowed
    );
    assert_eq!(standing(&connectors, "add").standing, ToolStanding::Allowed);
    assert_eq!(standing(&connectors, "fail").standing, ToolStanding::Off);
    assert_eq!(standing(&connectors, "sleep").standing, ToolStanding::Ask);

    // The server changes echo: only echo is asked about again.
    python.change_tool().await;
    until(&connectors, &id, "echo changed", |_| {
        standing(&connectors, "echo").standing == ToolStanding::Changed
    })
    .await;
    let echo = standing(&connectors, "echo");
    assert_eq!(
        echo.before.as_ref().and_then(|p| p.description.as_deref()),
        Some("Return the message unchanged."),
        "what was allowed, to compare"
    );
    let now = connectors
        .detail(&id)
        .expect("detail")
        .catalog
        .and_then(|c| c.tools.into_iter().find(|t| t.name == "echo"))
        .expect("echo listed");
    assert_eq!(
        switchboard_ipc::tools::input_changes(
            &echo.before.as_ref().expect("a pin").input_schema,
            &now.input_schema
        ),
        ["New input “loud” (boolean)."],
        "the inputs, old against new"
    );
    assert_eq!(
        echo.input_changes,
        ["New input “loud” (boolean)."],
        "the same words, worked out for the window (which is not sent the schemas)"
    );
    assert_eq!(standing(&connectors, "add").standing, ToolStanding::Allowed);
    connectors
        .set_tool_mode(&id, "echo", ToolMode::Allow)
        .expect("allow again");
    assert_eq!(
        standing(&connectors, "echo").standing,
        ToolStanding::Allowed
    );

    // Seen: the tools listed now are no longer New; a second look writes nothing.
    assert!(
        connectors
            .detail(&id)
            .expect("detail")
            .tools
            .entries
            .iter()
            .all(|e| !e.is_new)
    );
    connectors.mark_tools_seen(&id).expect("seen");
    let seen = std::fs::read(&path).expect("saved");
    connectors.mark_tools_seen(&id).expect("seen again");
    assert_eq!(
        std::fs::read(&path).expect("saved"),
        seen,
        "nothing new, nothing written"
    );
    let saved: serde_json::Value = serde_json::from_slice(&seen).expect("json");
    assert_eq!(
        saved["connectors"][0]["tools"]["seen"],
        serde_json::json!(["add", "echo", "fail", "sleep"])
    );

    // The call timeout and the two switches: checked, saved.
    let err = connectors
        .set_tool_options(&id, 0, false, false)
        .expect_err("0 s");
    assert_eq!(err.code, ErrorCode::InvalidSetting);
    let tools = connectors
        .set_tool_options(&id, 120, true, false)
        .expect("options");
    assert_eq!(tools.settings.call_timeout_secs, 120);
    assert!(tools.settings.allow_elicitation);
    assert!(!tools.settings.allow_sampling);

    connectors
        .bulk_tools(&id, BulkAction::TurnAllOff)
        .expect("all off");
    for tool in ["add", "echo", "fail", "sleep"] {
        assert_eq!(standing(&connectors, tool).standing, ToolStanding::Off);
    }
    connectors
        .bulk_tools(&id, BulkAction::AskForAll)
        .expect("ask for all");
    assert_eq!(standing(&connectors, "echo").standing, ToolStanding::Ask);
}

/// A server of the older HTTP+SSE kind behind OAuth (as early remote servers were): signing
/// in works as for any other, and the event stream and every message carry the token.
#[tokio::test(flavor = "multi_thread")]
async fn an_older_event_stream_server_behind_oauth_signs_in_and_connects() {
    let auth = kit::AuthServer::builder()
        .loopback_only()
        .legacy_sse()
        .start();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("browser.jsonl");
    let path = dir.path().join("settings.json");
    let (store, _) = FileStore::open(&path);
    let connectors = Connectors::load(
        Box::new(store),
        Arc::new(MemorySecrets::default()),
        Arc::new(TestBrowser {
            env: kit::browser_env(Path::new("/bin/false"), &log),
        }),
        support::timeouts(),
        tokio::runtime::Handle::current(),
    )
    .expect("loads");
    let added = add(&connectors, auth.mcp_url(), None).await;
    let connected = until(&connectors, &added.id, "signed in", |c| {
        c.state == ConnectorState::Connected
    })
    .await;
    assert!(connected.sign_in.saved);
    let catalog = connectors
        .detail(&added.id)
        .expect("detail")
        .catalog
        .expect("listed");
    assert!(!catalog.tools.is_empty());
    let stats = auth.stats().await;
    let methods: Vec<String> =
        serde_json::from_value(stats["mcp_methods"].clone()).expect("methods");
    assert!(
        methods.contains(&"GET event stream".to_owned())
            && methods.contains(&"tools/list".to_owned()),
        "{methods:?}"
    );
    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(saved.contains("\"legacy_sse\""), "{saved}");
    // A tool call goes through the stream too.
    let session = connectors.session(&added.id).expect("session");
    let tool = &catalog.tools[0].name;
    let called = session
        .call_tool_within(
            tool,
            serde_json::Map::new(),
            Duration::from_secs(30),
            |_| {},
        )
        .await;
    assert!(called.is_ok(), "{called:?}");
}

/// A resource the person attached is followed (`resources/subscribe`, where the server can):
/// the server's news that it changed reaches the window as an event naming it.
#[tokio::test(flavor = "multi_thread")]
async fn an_attached_resource_is_followed_and_its_changes_reach_the_window() {
    let everything = kit::Everything::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open(&dir.path().join("settings.json"));
    let mut events = connectors.subscribe();
    let added = add(&connectors, everything.url(), None).await;
    assert_eq!(
        settled(&connectors, &added.id).await.state,
        ConnectorState::Connected
    );
    let session = connectors.session(&added.id).expect("session");
    let uri = kit::EVERYTHING_RESOURCE_URIS[0];
    session.subscribe(uri).await.expect("followed");
    // server-everything tells its subscribers every 5 s once this is on.
    session
        .call_tool_within(
            "toggle-subscriber-updates",
            serde_json::Map::new(),
            Duration::from_secs(30),
            |_| {},
        )
        .await
        .expect("updates on");
    let updated = next_resource_update(&mut events).await;
    assert_eq!(updated.connector_id, added.id);
    assert_eq!(updated.uri, uri);
}

/// The next news of a changed resource among the registry's events (at most a minute).
async fn next_resource_update(
    events: &mut tokio::sync::broadcast::Receiver<switchboard_core::Event>,
) -> switchboard_ipc::ResourceUpdated {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Ok(switchboard_core::Event::ResourceUpdated(updated))) => return updated,
            Ok(Ok(_)) => {}
            other => panic!("no news of the resource: {other:?}"),
        }
    }
}

/// With a 2026-07-28 server, following a resource opens the `subscriptions/listen` stream
/// again with the resource added: its news arrives, a resource not followed stays quiet,
/// and the lists' own news still comes.
#[tokio::test(flavor = "multi_thread")]
async fn a_resource_of_a_2026_server_is_followed_on_its_listen_stream() {
    let server = kit::PythonMcp::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open(&dir.path().join("settings.json"));
    let mut events = connectors.subscribe();
    let added = add(&connectors, server.url(), None).await;
    assert_eq!(
        settled(&connectors, &added.id).await.state,
        ConnectorState::Connected
    );
    let session = connectors.session(&added.id).expect("session");
    assert_eq!(session.server().protocol_version, "2026-07-28");
    let [followed, other] = kit::PYTHON_RESOURCE_URIS;
    session.subscribe(followed).await.expect("followed");
    // Followed twice is followed once (no third stream).
    session.subscribe(followed).await.expect("still followed");
    let mut lists = session.list_changes();
    lists.mark_unchanged();

    server.update(other).await;
    server.update(followed).await;
    let updated = next_resource_update(&mut events).await;
    assert_eq!(updated.connector_id, added.id);
    assert_eq!(updated.uri, followed, "only the followed resource's news");
    // The reopened stream still carries the lists' news.
    server.change().await;
    tokio::time::timeout(Duration::from_secs(60), lists.changed())
        .await
        .expect("the lists' news in time")
        .expect("the session is open");
}
