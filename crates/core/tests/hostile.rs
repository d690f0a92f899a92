//! A hostile server against the registry, headless: what a connector's server can make
//! Switchboard open, send, follow or keep. Each test plays one attack with the test kit's
//! [`kit::Hostile`] server (real HTTP on this machine) and checks what reached whom.

#[path = "support/registry.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use support::{
    LinkCatcher, MemorySecrets, RecordingBrowser, TestBrowser, add, open_with, open_with_browser,
    until_state,
};
use switchboard_core::secrets::{Secret, SecretKind, SecretStore};
use switchboard_core::{Connectors, ErrorCode, Event};
use switchboard_ipc::{
    AddConnectorRequest, ConnectorId, ConnectorState, ConnectorSummary, NoticeLevel, SecretInput,
    SignInChoice,
};
use switchboard_testkit::{self as kit, Hostile, Reply};

/// The paths of a sign-in that must never be asked for when discovery is refused.
const SIGN_IN_PATHS: [&str; 4] = ["/authorize", "/token", "/register", "/revoke"];

fn registry(dir: &Path, browser: Arc<RecordingBrowser>) -> Connectors {
    open_with_browser(
        &dir.join("settings.json"),
        Arc::new(MemorySecrets::default()),
        browser,
    )
}

/// Adds `url` (signing in automatically, as a person adding it would) and waits until
/// its sign-in stopped.
async fn refused_sign_in(connectors: &Connectors, url: &str) -> ConnectorSummary {
    let added = add(connectors, url, None).await;
    let stopped = until_state(connectors, &added.id, |state| {
        !matches!(
            state,
            ConnectorState::Connecting | ConnectorState::SigningIn
        )
    })
    .await;
    assert_eq!(stopped.state, ConnectorState::NeedsSignIn, "{stopped:?}");
    stopped
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_page_that_is_not_a_web_page_is_never_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let browser = Arc::new(RecordingBrowser::default());
    let connectors = registry(dir.path(), browser.clone());
    // Every server lives to the end of the test: a dropped one frees its port, the next may
    // get it, and the same address would be refused as a duplicate connector.
    let mut servers = Vec::new();
    for (page, says) in [
        ("file:///etc/passwd", "is not a web address"),
        ("smb://attacker.example/share/x.exe", "is not a web address"),
        (
            "ms-msdt:/id PCWDiagnostic /skip force",
            "is not a web address",
        ),
        ("javascript:alert(document.cookie)", "is not a web address"),
        (
            "io.switchboard.desktop:/oauth/callback/x?code=1&state=2",
            "is not a web address",
        ),
        (
            "http://attacker.example/authorize",
            "not protected by https",
        ),
    ] {
        servers.push(Hostile::start()); // kept: see `servers` above
        let server = servers.last().expect("just started");
        let url = server.asks_for_sign_in(json!({ "authorization_endpoint": page }));
        let stopped = refused_sign_in(&connectors, &url).await;
        let problem = stopped.problem.expect("a reason");
        assert_eq!(problem.code, ErrorCode::SignInFailed, "{page}");
        assert!(problem.message.contains(says), "{page}: {problem:?}");
        assert!(
            !server
                .requests_to("/.well-known/oauth-authorization-server")
                .is_empty(),
            "{page}: the refusal came from reading the metadata"
        );
        for path in SIGN_IN_PATHS {
            assert!(
                server.requests_to(path).is_empty(),
                "{page}: {path} was asked"
            );
        }
    }
    assert_eq!(browser.opened(), Vec::<String>::new(), "nothing was opened");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_endpoints_on_plain_http_elsewhere_are_never_reached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let browser = Arc::new(RecordingBrowser::default());
    let connectors = registry(dir.path(), browser.clone());
    // Another host, as far as addresses go: this machine's own network address, where
    // a server records whatever reaches it. Plain http there carries everything in the
    // clear.
    let elsewhere = Hostile::start_on(kit::non_loopback_ip());
    elsewhere.route_json(
        "/.well-known/oauth-authorization-server",
        kit::sign_in_metadata(elsewhere.base()),
    );
    let mut servers = Vec::new(); // kept alive: a port reused makes a duplicate address
    for (what, metadata, authorization_server) in [
        (
            "token endpoint",
            json!({ "token_endpoint": elsewhere.url("/token") }),
            None,
        ),
        (
            "registration endpoint",
            json!({ "registration_endpoint": elsewhere.url("/register") }),
            None,
        ),
        (
            "revocation endpoint",
            json!({ "revocation_endpoint": elsewhere.url("/revoke") }),
            None,
        ),
        // The authorization server itself elsewhere: its metadata is not even fetched.
        ("metadata document", json!({}), Some(elsewhere.base())),
    ] {
        servers.push(Hostile::start()); // kept: see `servers` above
        let server = servers.last().expect("just started");
        let url = server.asks_for_sign_in(metadata);
        if let Some(authorization_server) = authorization_server {
            server.route_json(
                "/.well-known/oauth-protected-resource",
                json!({"resource": url, "authorization_servers": [authorization_server]}),
            );
        }
        let problem = refused_sign_in(&connectors, &url)
            .await
            .problem
            .expect("a reason");
        assert!(
            problem.message.contains("not protected by https"),
            "{what}: {problem:?}"
        );
        for path in SIGN_IN_PATHS {
            assert!(
                server.requests_to(path).is_empty(),
                "{what}: {path} was asked"
            );
        }
    }
    assert_eq!(
        elsewhere
            .requests()
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>(),
        Vec::<String>::new(),
        "nothing reached the other host"
    );
    assert!(browser.opened().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_does_not_say_where_to_sign_in_gets_no_guessed_endpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let browser = Arc::new(RecordingBrowser::default());
    let connectors = registry(dir.path(), browser.clone());
    let server = Hostile::start();
    server.route("/mcp", |_| {
        Reply::json(401, &json!({"error": "invalid_token"})).header("WWW-Authenticate", "Bearer")
    });
    let problem = refused_sign_in(&connectors, &server.url("/mcp"))
        .await
        .problem
        .expect("a reason");
    assert_eq!(
        problem.message,
        "This server asks for sign-in but does not say where, so Switchboard did not sign in. Ask the server's owner."
    );
    for path in SIGN_IN_PATHS {
        assert!(server.requests_to(path).is_empty(), "{path} was guessed");
    }
    assert!(browser.opened().is_empty());
}

/// Saved OAuth tokens for `connector`, from `issuer`, expired (so using them means
/// refreshing them at the token endpoint).
fn saved_tokens(issuer: &str) -> Secret {
    Secret::new(
        json!({
            "client_id": "switchboard",
            "token_response": {
                "access_token": "saved-access-token",
                "token_type": "Bearer",
                "expires_in": 60,
                "refresh_token": "saved-refresh-token",
            },
            "granted_scopes": [],
            "token_received_at": 1_000,
            "issuer": issuer,
        })
        .to_string(),
    )
}

/// A settings file with one connector to `url` that signs in automatically.
fn saved_connector(dir: &Path, url: &str) -> ConnectorId {
    let id = ConnectorId("c-saved".into());
    std::fs::write(
        dir.join("settings.json"),
        json!({
            "schemaVersion": 2,
            "connectors": [{
                "id": id.0, "name": "Saved", "url": url, "enabled": true,
                "signIn": {"kind": "automatic", "client_id": null, "has_client_secret": false},
            }],
        })
        .to_string(),
    )
    .expect("settings");
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_tokens_are_used_only_with_metadata_that_passes_the_same_checks() {
    let elsewhere = Hostile::start_on(kit::non_loopback_ip());
    for (case, changes, says) in [
        (
            "plain http token endpoint elsewhere",
            Some(json!({ "token_endpoint": elsewhere.url("/token") })),
            "not protected by https",
        ),
        ("no metadata at all", None, "does not say where"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Hostile::start();
        let url = match changes {
            Some(changes) => server.asks_for_sign_in(changes),
            None => {
                server.route("/mcp", |_| {
                    Reply::status(401).header("WWW-Authenticate", "Bearer")
                });
                server.url("/mcp")
            }
        };
        let id = saved_connector(dir.path(), &url);
        let secrets = Arc::new(MemorySecrets::default());
        secrets
            .write(&id, SecretKind::OAuthTokens, &saved_tokens(server.base()))
            .expect("saved tokens");
        let connectors = open_with(&dir.path().join("settings.json"), secrets.clone());
        connectors.start();
        let stopped = until_state(&connectors, &id, |s| s != ConnectorState::Connecting).await;
        assert_eq!(stopped.state, ConnectorState::NeedsSignIn, "{case}");
        let problem = stopped.problem.expect("a reason");
        assert!(problem.message.contains(says), "{case}: {problem:?}");
        assert!(server.requests_to("/token").is_empty(), "{case}: refreshed");
        for request in server.requests_to("/mcp") {
            assert_eq!(
                request.header("authorization"),
                None,
                "{case}: the saved token was sent"
            );
        }
    }
    assert!(
        elsewhere.requests().is_empty(),
        "nothing reached the other host"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_tokens_from_another_issuer_are_dropped_not_refreshed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Hostile::start();
    let url = server.asks_for_sign_in(json!({}));
    let id = saved_connector(dir.path(), &url);
    let secrets = Arc::new(MemorySecrets::default());
    secrets
        .write(
            &id,
            SecretKind::OAuthTokens,
            &saved_tokens("https://another-issuer.example"),
        )
        .expect("saved tokens");
    let connectors = open_with(&dir.path().join("settings.json"), secrets.clone());
    connectors.start();
    let stopped = until_state(&connectors, &id, |s| s != ConnectorState::Connecting).await;
    assert_eq!(stopped.state, ConnectorState::NeedsSignIn, "{stopped:?}");
    assert!(server.requests_to("/token").is_empty(), "not refreshed");
    assert_eq!(
        secrets.read(&id, SecretKind::OAuthTokens).expect("read"),
        None,
        "dropped"
    );
    for request in server.requests_to("/mcp") {
        assert_eq!(
            request.header("authorization"),
            None,
            "the old token was sent"
        );
    }
}

/// The mix-up attack (RFC 9700 §4.4): a hostile connector's "sign-in page" forwards the
/// person's browser to an honest authorization server, with a client the attacker
/// registered there. The person signs in there for real; the honest server's code must
/// never reach the hostile connector's token endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_forwards_the_browser_to_another_authorization_server_gets_no_code() {
    let honest = kit::AuthServer::start();
    let honest_metadata: Value = reqwest::get(honest.metadata_url())
        .await
        .expect("honest metadata")
        .json()
        .await
        .expect("JSON");
    let honest_authorize = honest_metadata["authorization_endpoint"]
        .as_str()
        .expect("an authorization endpoint")
        .to_owned();
    let registration = honest_metadata["registration_endpoint"]
        .as_str()
        .expect("a registration endpoint")
        .to_owned();

    let dir = tempfile::tempdir().expect("tempdir");
    let catcher = LinkCatcher::new(dir.path());
    let browser_log = dir.path().join("browser.jsonl");
    let connectors = open_with_browser(
        &dir.path().join("settings.json"),
        Arc::new(MemorySecrets::default()),
        Arc::new(TestBrowser {
            env: kit::browser_env(&catcher.script, &browser_log),
        }),
    );
    let mut events = connectors.subscribe();

    // First the hostile server looks like nothing much; the attacker learns the
    // connector's redirect when Switchboard registers with it below.
    let hostile = Hostile::start();
    hostile.route("/mcp", |_| Reply::status(404));
    let added = add(&connectors, &hostile.url("/mcp"), None).await;
    until_state(&connectors, &added.id, |s| s != ConnectorState::Connecting).await;
    let own_redirect = format!("io.switchboard.desktop:/oauth/callback/{}", added.id);

    for (attack, redirect_uri, says) in [
        // The honest server answers on another connector's redirect: refused there.
        (
            "another connector's redirect",
            "io.switchboard.desktop:/oauth/callback/c-victim".to_owned(),
            "different sign-in service",
        ),
        // The honest server answers on this connector's own redirect, with its own `iss`:
        // the issuer check refuses the code before it is exchanged.
        ("its own redirect", own_redirect.clone(), "cannot trust"),
    ] {
        let client: Value = reqwest::Client::new()
            .post(&registration)
            .json(&json!({
                "client_name": "Totally Switchboard",
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "application_type": "native",
            }))
            .send()
            .await
            .expect("attacker registers")
            .json()
            .await
            .expect("JSON");
        let attacker_client = client["client_id"].as_str().expect("client id").to_owned();
        hostile.asks_for_sign_in(json!({}));
        hostile.route("/register", |request| {
            let asked: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            Reply::json(
                201,
                &json!({"client_id": "hostile-client", "redirect_uris": asked["redirect_uris"]}),
            )
        });
        hostile.route("/token", |_| {
            Reply::json(400, &json!({"error": "invalid_grant"}))
        });
        let (forward_to, resource) = (honest_authorize.clone(), honest.mcp_url().to_owned());
        let (client_id, redirect) = (attacker_client.clone(), redirect_uri.clone());
        hostile.route("/authorize", move |request| {
            let mut to = url::Url::parse(&forward_to).expect("honest endpoint");
            {
                let mut query = to.query_pairs_mut();
                query
                    .append_pair("client_id", &client_id)
                    .append_pair("redirect_uri", &redirect)
                    .append_pair("response_type", "code")
                    .append_pair("scope", kit::OAUTH_SCOPE)
                    .append_pair("resource", &resource);
                for (name, value) in request.query() {
                    if matches!(
                        name.as_str(),
                        "state" | "code_challenge" | "code_challenge_method"
                    ) {
                        query.append_pair(&name, &value);
                    }
                }
            }
            Reply::redirect(302, to.as_str())
        });

        let n = hostile.requests_to("/authorize").len();
        connectors.sign_in(&added.id).expect("sign in");
        let link = catcher.link(n).await;
        assert!(
            link.contains("code="),
            "{attack}: the honest server gave a code"
        );
        connectors.open_link(&link);
        let stopped = until_state(&connectors, &added.id, |s| {
            !matches!(s, ConnectorState::Connecting | ConnectorState::SigningIn)
        })
        .await;
        let problem = stopped.problem.expect("a reason");
        assert!(problem.message.contains(says), "{attack}: {problem:?}");
        assert!(
            hostile.requests_to("/token").is_empty(),
            "{attack}: the honest server's code reached the hostile token endpoint"
        );
        assert_eq!(
            hostile.requests_to("/authorize")[n]
                .query()
                .iter()
                .find(|(name, _)| name == "redirect_uri")
                .map(|(_, value)| value.clone()),
            Some(own_redirect.clone()),
            "{attack}: each connector signs in on its own redirect"
        );
    }
    // The refusal on the wrong redirect was also said as a notice.
    let mut warned = false;
    while let Ok(event) = events.try_recv() {
        if let Event::Notice(notice) = event {
            warned |= notice.level == NoticeLevel::Warning
                && notice.message.contains("different sign-in service");
        }
    }
    assert!(warned, "the person was told");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_server_is_named_and_gets_no_key_or_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open_with(
        &dir.path().join("settings.json"),
        Arc::new(MemorySecrets::default()),
    );
    let elsewhere = Hostile::start();
    elsewhere.route("/mcp", |_| Reply::status(200));
    // Every server lives to the end of the test: a dropped one frees its port, the next may
    // get it, and the same address would be refused as a duplicate connector.
    let mut servers = Vec::new();
    for (how, sign_in, secret) in [
        (
            "a key in X-API-Key",
            SignInChoice::ApiKey {
                header: Some("X-API-Key".into()),
                key: SecretInput("sk-redirected-1234".into()),
            },
            "sk-redirected-1234",
        ),
        (
            "a bearer key",
            SignInChoice::ApiKey {
                header: None,
                key: SecretInput("sk-bearer-5678".into()),
            },
            "sk-bearer-5678",
        ),
        (
            "a password",
            SignInChoice::Basic {
                username: "ada".into(),
                password: SecretInput("lovelace".into()),
            },
            // "ada:lovelace" in base64.
            "YWRhOmxvdmVsYWNl",
        ),
    ] {
        servers.push(Hostile::start()); // kept: see `servers` above
        let server = servers.last().expect("just started");
        let target = elsewhere.url("/mcp?from=redirect");
        server.route("/mcp", move |_| Reply::redirect(307, &target));
        let added = connectors
            .add(AddConnectorRequest {
                url: server.url("/mcp"),
                name: None,
                sign_in,
            })
            .await
            .expect("added");
        let stopped =
            until_state(&connectors, &added.id, |s| s != ConnectorState::Connecting).await;
        assert_eq!(stopped.state, ConnectorState::CantReach, "{how}");
        let problem = stopped.problem.expect("a reason");
        assert_eq!(problem.code, ErrorCode::Moved, "{how}: {problem:?}");
        assert!(
            problem
                .message
                .starts_with(&format!("This address moves to {}.", elsewhere.url("/mcp"))),
            "{how}: {problem:?}"
        );
        // Its own server got it; the other one got nothing at all.
        assert!(
            server.requests_to("/mcp")[0]
                .headers
                .iter()
                .any(|(_, value)| value.contains(secret)),
            "{how}: sent to its own server"
        );
        assert!(elsewhere.requests().is_empty(), "{how}: followed elsewhere");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keyring_that_refuses_to_forget_is_said_and_tried_again_at_the_next_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let secrets = Arc::new(MemorySecrets::default());
    let connectors = open_with(&path, secrets.clone());
    let added = connectors
        .add(AddConnectorRequest {
            url: "https://mcp.example.invalid/mcp".into(),
            name: Some("Work tools".into()),
            sign_in: SignInChoice::ApiKey {
                header: None,
                key: SecretInput("sk-to-forget".into()),
            },
        })
        .await
        .expect("added");
    let mut events = connectors.subscribe();
    secrets.refuse_deletes(true);
    connectors.remove(&added.id).await.expect("removed anyway");
    assert!(connectors.list().is_empty());
    let notice = loop {
        match events.recv().await.expect("events") {
            Event::Notice(notice) => break notice,
            _ => continue,
        }
    };
    assert_eq!(notice.level, NoticeLevel::Warning);
    assert!(
        notice.message.starts_with("\"Work tools\" was removed, but its saved sign-in could not be deleted from the system keyring"),
        "{notice:?}"
    );
    assert!(!secrets.is_empty(), "still in the keyring");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("saved")).expect("JSON");
    assert_eq!(saved["keyringLeftovers"], json!([added.id.0]));
    drop(connectors);

    // Next start, the keyring is unlocked: the entry goes, and so does the chore.
    secrets.refuse_deletes(false);
    let connectors = open_with(&path, secrets.clone());
    connectors.start();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !secrets.is_empty()
        || std::fs::read_to_string(&path)
            .expect("saved")
            .contains(&added.id.0)
    {
        assert!(std::time::Instant::now() < deadline, "never retried");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_without_pkce_s256_is_refused_before_the_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let browser = Arc::new(RecordingBrowser::default());
    let connectors = registry(dir.path(), browser.clone());
    let mut servers = Vec::new(); // kept alive: a port reused makes a duplicate address
    for methods in [json!(["plain"]), Value::Null] {
        servers.push(Hostile::start()); // kept: see `servers` above
        let server = servers.last().expect("just started");
        let url = server.asks_for_sign_in(json!({ "code_challenge_methods_supported": methods }));
        let problem = refused_sign_in(&connectors, &url)
            .await
            .problem
            .expect("a reason");
        assert!(
            problem
                .message
                .contains("does not support the protection Switchboard requires (PKCE)"),
            "{methods}: {problem:?}"
        );
        assert!(server.requests_to("/register").is_empty(), "{methods}");
    }
    assert!(browser.opened().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_persons_own_client_id_comes_before_registering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let browser = Arc::new(RecordingBrowser::default());
    let connectors = registry(dir.path(), browser.clone());
    let server = Hostile::start();
    let url = server.asks_for_sign_in(json!({}));
    let added = connectors
        .add(AddConnectorRequest {
            url,
            name: None,
            sign_in: SignInChoice::Automatic {
                client_id: Some("my-own-client".into()),
                client_secret: None,
            },
        })
        .await
        .expect("added");
    until_state(&connectors, &added.id, |s| s == ConnectorState::SigningIn).await;
    // The page is opened right after the state shows: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while browser.opened().is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing opened");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = url::Url::parse(&browser.opened()[0]).expect("a URL");
    let param = |name: &str| {
        page.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(param("client_id").as_deref(), Some("my-own-client"));
    assert_eq!(
        param("redirect_uri"),
        Some(format!(
            "io.switchboard.desktop:/oauth/callback/{}",
            added.id
        ))
    );
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert!(
        server.requests_to("/register").is_empty(),
        "no registration"
    );
    connectors.cancel_sign_in(&added.id).expect("cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn more_access_and_unknown_names_are_said_in_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = open_with(
        &dir.path().join("settings.json"),
        Arc::new(MemorySecrets::default()),
    );
    let server = Hostile::start();
    server.route("/mcp", |_| {
        Reply::json(403, &json!({"error": "insufficient_scope"})).header(
            "WWW-Authenticate",
            r#"Bearer error="insufficient_scope", scope="admin""#,
        )
    });
    let added = add(&connectors, &server.url("/mcp"), None).await;
    let stopped = until_state(&connectors, &added.id, |s| {
        !matches!(s, ConnectorState::Connecting | ConnectorState::SigningIn)
    })
    .await;
    assert_eq!(stopped.state, ConnectorState::NeedsSignIn);
    let problem = stopped.problem.expect("a reason");
    assert_eq!(problem.code, ErrorCode::NeedsMoreAccess, "{problem:?}");
    assert_eq!(
        problem.message,
        "The server needs more access before it lets Switchboard connect."
    );
    assert!(
        problem
            .detail
            .is_some_and(|d| d.contains(r#"scope="admin""#))
    );

    let added = add(&connectors, "https://no-such-server.invalid/mcp", None).await;
    let stopped = until_state(&connectors, &added.id, |s| s != ConnectorState::Connecting).await;
    assert_eq!(stopped.state, ConnectorState::CantReach);
    let problem = stopped.problem.expect("a reason");
    assert_eq!(problem.code, ErrorCode::Unreachable);
    assert_eq!(
        problem.message,
        "No server was found with that name. Check the address for typos."
    );
}

/// Plays a 2025-11-25 MCP server that offers only tools, with `tools/list` answered by
/// `list_tools` (a slow one, say). `server/discover` (the 2026-07-28 probe) is an unknown
/// method to it.
fn tools_only_server(list_tools: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> Hostile {
    let server = Hostile::start();
    server.route("/mcp", move |request| {
        let message: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let id = message["id"].clone();
        let result = |result: Value| {
            Reply::json(200, &json!({"jsonrpc": "2.0", "id": id, "result": result}))
        };
        match message["method"].as_str() {
            Some("initialize") => result(json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "Tools Only", "version": "1.0.0"},
            })),
            Some("tools/list") => list_tools(&id),
            Some(method) if method.starts_with("notifications/") => Reply::status(202),
            _ => Reply::json(
                200,
                &json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32601, "message": "Method not found"}}),
            ),
        }
    });
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn only_what_a_server_offers_is_asked_for_and_every_request_is_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = Connectors::load(
        Box::new(switchboard_core::settings::FileStore::open(dir.path().join("settings.json")).0),
        Arc::new(MemorySecrets::default()),
        Arc::new(RecordingBrowser::default()),
        switchboard_core::Timeouts {
            connect: std::time::Duration::from_secs(10),
            request: std::time::Duration::from_secs(2),
            // Nothing tries again on its own within the test.
            retry_after: std::time::Duration::from_secs(3600),
        },
        tokio::runtime::Handle::current(),
    )
    .expect("loads");
    let list = |id: &Value| {
        Reply::json(
            200,
            &json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [
                {"name": "ping", "inputSchema": {"type": "object"}}
            ]}}),
        )
    };
    let server = tools_only_server(list);
    let added = add(&connectors, &server.url("/mcp"), None).await;
    let connected = until_state(&connectors, &added.id, |s| s != ConnectorState::Connecting).await;
    assert_eq!(connected.state, ConnectorState::Connected, "{connected:?}");
    let counts = connected.counts.expect("counts");
    assert_eq!((counts.tools, counts.resources, counts.prompts), (1, 0, 0));
    let methods: Vec<String> = server
        .requests_to("/mcp")
        .iter()
        .filter_map(|r| {
            serde_json::from_slice::<Value>(&r.body).ok()?["method"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    for never in ["resources/list", "resources/templates/list", "prompts/list"] {
        assert!(
            !methods.iter().any(|m| m == never),
            "{never} in {methods:?}"
        );
    }
    assert!(methods.iter().any(|m| m == "tools/list"), "{methods:?}");

    // A server that takes the handshake and then never lists its tools: the list is
    // bounded by the request time-out, not only the connection.
    let slow = tools_only_server(|id| {
        Reply::json(
            200,
            &json!({"jsonrpc": "2.0", "id": id, "result": {"tools": []}}),
        )
        .after(std::time::Duration::from_secs(600))
    });
    let added = add(&connectors, &slow.url("/mcp"), None).await;
    let stopped = until_state(&connectors, &added.id, |s| s != ConnectorState::Connecting).await;
    let problem = stopped.problem.expect("a reason");
    assert_eq!(problem.code, ErrorCode::Timeout, "{problem:?}");
    assert_eq!(
        problem.message,
        "The server did not answer within 2 seconds. It may be busy or down; try again later."
    );
}
