//! End-to-end: the real Switchboard window on a private desktop, driven as a person would
//! drive it, against real MCP servers on 127.0.0.1. Run by `cargo xtask test`.
//!
//! Screenshots of every screen land in tests/artifacts/<test>/.

use std::collections::BTreeSet;

use switchboard_testkit as kit;
use switchboard_testkit::desktop::Desktop;
use switchboard_testkit::webdriver::{Session, keys, tid};

async fn open_add_dialog(app: &Session) {
    let add = app.wait_for(&tid("add-connector-button")).await;
    app.click(&add).await.expect("click Add custom connector");
    app.wait_for(&tid("add-dialog")).await;
}

async fn row_named(app: &Session, name: &str) -> switchboard_testkit::webdriver::Element {
    app.wait_text(
        &format!("{} {}", tid("connector-row"), tid("connector-name")),
        name,
    )
    .await
}

async fn texts(app: &Session, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in app.find_all(css).await.expect("find") {
        out.push(app.text(&element).await.expect("text").trim().to_owned());
    }
    out
}

fn settings(desktop: &Desktop) -> String {
    std::fs::read_to_string(desktop.settings_file()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn add_a_connector_see_its_tools_restart_and_remove_it() {
    let server = kit::Everything::start();
    let mut desktop = Desktop::start("connector_journey");
    let driver = desktop.driver();
    let app = driver.open_app().await;

    // First run: the Connectors page explains what a connector is.
    app.wait_for(&tid("connectors-page")).await;
    let empty = app.wait_for(&tid("connectors-empty")).await;
    assert!(
        app.text(&empty).await.expect("text").contains("connector"),
        "the empty state explains connectors"
    );
    desktop.screenshot("01-empty");

    // Add the server, typing its address with stray spaces, submitting with Enter.
    open_add_dialog(&app).await;
    assert_eq!(
        app.focused_test_id().await.expect("focus").as_deref(),
        Some("add-url-input"),
        "the address field has focus"
    );
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, &format!("  {}  ", server.url()))
        .await
        .expect("type");
    desktop.screenshot("02-add-dialog");
    app.press(keys::ENTER).await.expect("Enter");
    app.wait_gone(&tid("add-dialog")).await;

    // It connects at once and shows what the server offers.
    let name = kit::EVERYTHING_SERVER_TITLE;
    row_named(&app, name).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    let counts = app
        .wait_until(&tid("connector-counts"), |t| t.contains("tools"))
        .await;
    let counts = app.text(&counts).await.expect("counts");
    assert!(
        counts.contains(&format!("{} tools", kit::EVERYTHING_TOOLS))
            && counts.contains(&format!("{} prompts", kit::EVERYTHING_PROMPTS)),
        "{counts}"
    );
    desktop.screenshot("03-connected");
    assert!(settings(&desktop).contains(server.url()), "saved");

    // Its page lists every tool by name, with the server's details.
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open connector");
    app.wait_for(&tid("connector-detail")).await;
    app.wait_text(
        &tid("detail-server-version"),
        kit::EVERYTHING_SERVER_VERSION,
    )
    .await;
    app.wait_for(&tid("tool-item")).await;
    let tools: BTreeSet<String> =
        texts(&app, &format!("{} {}", tid("tool-item"), tid("item-name")))
            .await
            .into_iter()
            .collect();
    let expected: BTreeSet<String> = kit::EVERYTHING_TOOL_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(tools, expected);
    desktop.screenshot("04-detail-tools");

    let resources_tab = app.wait_for(&tid("tab-resources")).await;
    app.click(&resources_tab).await.expect("resources tab");
    app.wait_for(&tid("resource-item")).await;
    assert_eq!(
        app.find_all(&tid("resource-item"))
            .await
            .expect("find")
            .len(),
        kit::EVERYTHING_RESOURCES
    );
    desktop.screenshot("05-detail-resources");
    let prompts_tab = app.wait_for(&tid("tab-prompts")).await;
    app.click(&prompts_tab).await.expect("prompts tab");
    app.wait_for(&tid("prompt-item")).await;
    assert_eq!(
        app.find_all(&tid("prompt-item")).await.expect("find").len(),
        kit::EVERYTHING_PROMPTS
    );
    desktop.screenshot("06-detail-prompts");

    // Turn it off and on again from its page; the choice is saved.
    let toggle = app.wait_for(&tid("toggle-enabled-button")).await;
    assert_eq!(app.text(&toggle).await.expect("label").trim(), "Turn off");
    app.click(&toggle).await.expect("Turn off");
    app.wait_text(&tid("detail-state"), "Off").await;
    assert!(
        settings(&desktop).contains("\"enabled\": false"),
        "saved as off"
    );
    desktop.screenshot("06b-turned-off");
    let toggle = app
        .wait_text(&tid("toggle-enabled-button"), "Turn on")
        .await;
    app.click(&toggle).await.expect("Turn on");
    app.wait_text(&tid("detail-state"), "Connected").await;
    app.wait_for(&tid("tool-item")).await;

    // Restart: the connector is listed at once and connects again by itself.
    app.quit().await;
    let app = driver.open_app().await;
    row_named(&app, name).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    desktop.screenshot("07-after-restart");

    // Remove it, with confirmation.
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open connector");
    let remove = app.wait_for(&tid("remove-button")).await;
    app.click(&remove).await.expect("remove");
    app.wait_for(&tid("confirm-dialog")).await;
    desktop.screenshot("08-confirm-remove");
    let confirm = app.wait_for(&tid("confirm-remove-button")).await;
    app.click(&confirm).await.expect("confirm");
    app.wait_for(&tid("connectors-empty")).await;
    assert!(
        !settings(&desktop).contains(server.url()),
        "removed from the file"
    );

    // Still gone after another restart.
    app.quit().await;
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-empty")).await;
    assert!(
        app.find_all(&tid("connector-row"))
            .await
            .expect("find")
            .is_empty()
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_address_is_explained_and_nothing_is_saved() {
    let mut desktop = Desktop::start("invalid_address");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    open_add_dialog(&app).await;
    let input = app.wait_for(&tid("add-url-input")).await;

    for (typed, expected) in [
        ("http://example.com/mcp", "https://"),
        ("ftp://files.example.com", "web addresses"),
        ("https://me:secret@example.com/mcp", "password"),
        ("example.com/mcp", "https://"),
    ] {
        app.clear(&input).await.expect("clear");
        app.type_into(&input, typed).await.expect("type");
        let error = app
            .wait_until(&tid("add-url-error"), |t| t.contains(expected))
            .await;
        let text = app.text(&error).await.expect("text");
        assert!(text.ends_with('.'), "one sentence: {text}");
        let submit = app.wait_for(&tid("add-submit")).await;
        assert_eq!(
            app.property(&submit, "disabled").await.expect("disabled"),
            serde_json::Value::Bool(true),
            "Add is disabled for {typed}"
        );
        // Enter does not add an invalid address either.
        app.press(keys::ENTER).await.expect("Enter");
    }
    desktop.screenshot("01-invalid-address");
    assert!(app.find_all(&tid("add-dialog")).await.expect("find").len() == 1);

    // Esc closes the dialog and nothing was saved.
    app.press(keys::ESCAPE).await.expect("Esc");
    app.wait_gone(&tid("add-dialog")).await;
    app.wait_for(&tid("connectors-empty")).await;
    assert!(!settings(&desktop).contains("example.com"));
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_not_mcp_says_why_and_can_be_retried() {
    let garbage = kit::Garbage::html();
    let mut desktop = Desktop::start("not_mcp");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    open_add_dialog(&app).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, garbage.url()).await.expect("type");
    let name = app.wait_for(&tid("add-name-input")).await;
    app.type_into(&name, "Intranet").await.expect("type name");
    let submit = app.wait_for(&tid("add-submit")).await;
    app.click(&submit).await.expect("Add");
    app.wait_gone(&tid("add-dialog")).await;

    row_named(&app, "Intranet").await;
    app.wait_text(&tid("connector-state"), "Can't reach").await;
    app.wait_until(&tid("connector-problem"), |t| t.contains("web page"))
        .await;
    let details = app.wait_for(&tid("details-toggle")).await;
    app.click(&details).await.expect("Details");
    app.wait_until(&tid("problem-detail"), |t| !t.is_empty())
        .await;
    desktop.screenshot("01-cant-reach");

    let before = garbage.connections();
    let retry = app.wait_for(&tid("retry-button")).await;
    app.click(&retry).await.expect("Retry");
    app.wait_text(&tid("connector-state"), "Can't reach").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while garbage.connections() <= before && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        garbage.connections() > before,
        "Retry really connected again"
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_to_the_app_reaches_the_running_window() {
    let mut desktop = Desktop::start("deep_link");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    let link = format!(
        "{}://unknown/path?code=not-for-the-log",
        kit::desktop::APP_IDENTIFIER
    );
    let status = desktop.open_link(&link);
    assert!(
        status.success(),
        "the second launch handed over and exited: {status}"
    );
    let banner = app
        .wait_until(&tid("notice-banner"), |t| t.contains("link"))
        .await;
    let text = app.text(&banner).await.expect("text");
    assert!(
        !text.contains("not-for-the-log"),
        "the query is never shown: {text}"
    );
    desktop.screenshot("01-link-notice");
    assert!(
        !desktop.app_log().contains("not-for-the-log"),
        "the query is never logged"
    );
    // Still one window: the second launch did not open another app.
    assert_eq!(
        app.find_all(&tid("connectors-page"))
            .await
            .expect("find")
            .len(),
        1
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_settings_file_is_kept_aside_and_the_app_still_starts() {
    let mut desktop = Desktop::start("unreadable_settings");
    let file = desktop.settings_file();
    std::fs::create_dir_all(file.parent().expect("parent")).expect("data dir");
    let garbage = b"{\"schemaVersion\": 1, \"connectors\": [ {\"id\": ";
    std::fs::write(&file, garbage).expect("write garbage");

    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-empty")).await;
    app.wait_until(&tid("notice-banner"), |t| t.contains("could not be read"))
        .await;
    desktop.screenshot("01-notice");

    let kept: Vec<_> = std::fs::read_dir(file.parent().expect("parent"))
        .expect("data dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("unreadable"))
        .collect();
    assert_eq!(kept.len(), 1, "the old file is kept aside");
    assert_eq!(std::fs::read(kept[0].path()).expect("kept"), garbage);
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_wants_sign_in_shows_needs_sign_in_with_the_reason() {
    let server = kit::PythonMcp::requiring_sign_in();
    let mut desktop = Desktop::start("needs_sign_in");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    open_add_dialog(&app).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, server.url()).await.expect("type");
    app.press(keys::ENTER).await.expect("Enter");
    app.wait_gone(&tid("add-dialog")).await;

    app.wait_text(&tid("connector-state"), "Needs sign-in")
        .await;
    app.wait_until(&tid("connector-problem"), |t| t.contains("sign in"))
        .await;
    desktop.screenshot("01-needs-sign-in");
    assert!(
        settings(&desktop).contains(server.url()),
        "kept, to sign in later"
    );
    app.quit().await;
}
