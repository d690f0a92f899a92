//! End-to-end: the real Switchboard window on a private desktop, driven as a person would
//! drive it, against real MCP servers on 127.0.0.1. Run by `cargo xtask test`.
//!
//! Screenshots of every screen land in tests/artifacts/<test>/.

use std::collections::BTreeSet;

use switchboard_testkit as kit;
use switchboard_testkit::desktop::Desktop;
use switchboard_testkit::webdriver::{Session, keys, tid};

#[path = "e2e/chat.rs"]
mod chat;
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/install.rs"]
mod install;
#[path = "e2e/questions.rs"]
mod questions;
#[path = "e2e/tools.rs"]
mod tools;

async fn open_add_dialog(app: &Session) {
    // Until the first list arrives the button sits higher on the page: a click aimed while
    // the list replaces "Loading your connectors…" lands where the button was. The shell
    // normally hands the list to the first view (no loading note at all); when the window
    // has to ask for it, the loading note is drawn first, and its going is the list's arrival.
    app.wait_for(&tid("connectors-page")).await;
    app.wait_gone(&tid("connectors-loading")).await;
    let add = app.wait_for(&tid("add-connector-button")).await;
    app.click(&add).await.expect("click Add custom connector");
    app.wait_for(&tid("add-dialog")).await;
}

/// Opens the add dialog, types `url` and chooses "API key" for sign-in.
async fn add_dialog_choosing_api_key(app: &Session, url: &str) {
    open_add_dialog(app).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, url).await.expect("type");
    let kind = app.wait_for(&tid("sign-in-kind-api-key")).await;
    app.click(&kind).await.expect("choose API key");
}

async fn row_named(app: &Session, name: &str) -> switchboard_testkit::webdriver::Element {
    app.wait_text(
        &format!("{} {}", tid("connector-row"), tid("connector-name")),
        name,
    )
    .await
}

/// The text of every element `css` finds, read at one moment: a list that re-renders while
/// it is read cannot leave a stale element behind.
async fn texts(app: &Session, css: &str) -> Vec<String> {
    let found = app
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText.trim());",
            serde_json::json!([css]),
        )
        .await
        .expect("read the texts");
    found
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t.as_str().unwrap_or_default().to_owned())
        .collect()
}

fn settings(desktop: &Desktop) -> String {
    std::fs::read_to_string(desktop.settings_file()).unwrap_or_default()
}

/// Wraps the window's `invoke` so every command's answer (or error) is kept, as text, and
/// listens to every event the app sends the window, for [`assert_no_secret_leaked`] to
/// search. Both carry the bytes of `switchboard_ipc::wire`, where a string is its UTF-8 as
/// it is.
const RECORD_IPC: &str = r#"
    // Tauri's `invoke` cannot be replaced (non-writable), but on Linux it travels over
    // `fetch` to the `ipc:` protocol: every answer is a response body there. Events reach
    // the window another way (evaluated script), so they are listened to.
    if (!window.__ipcAnswers) {
        window.__ipcAnswers = [];
        window.__ipcEvents = [];
        for (const name of ["connector-changed", "connector-removed", "notice", "chat"]) {
            window.__TAURI__.event.listen(name, (event) => {
                window.__ipcEvents.push([name, event.payload]);
            });
        }
        const fetch = window.fetch.bind(window);
        window.fetch = async (input, init) => {
            const response = await fetch(input, init);
            const url = String(input && input.url ? input.url : input);
            if (url.startsWith("ipc:") || url.startsWith("http://ipc.localhost")) {
                const body = await response.clone().text();
                window.__ipcAnswers.push(url.replace(/^.*\//, "") + " " + response.status + " " + body);
            }
            return response;
        };
    }
    return true;
"#;

/// What the app logs each time it hands a page to the system's browser.
const OPENING_A_PAGE: &str = "opening a sign-in page in the browser";

/// The events the window got since [`record_ipc`]: each one's name and payload (its bytes).
async fn recorded_events(app: &Session) -> Vec<(String, Vec<u8>)> {
    let events = app
        .execute("return window.__ipcEvents || [];", serde_json::json!([]))
        .await
        .expect("recorded events");
    serde_json::from_value(events).expect("names and bytes")
}

/// Waits until the browser has finished `n` runs (it logs a run when it ends, which may
/// be after the app already shows the outcome) and returns them.
async fn browser_runs(log: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let runs = kit::browser_log(log);
        if runs.len() >= n {
            return runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the browser finished {} of {n} runs",
            runs.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn record_ipc(app: &Session) {
    app.execute(RECORD_IPC, serde_json::json!([]))
        .await
        .expect("IPC recorder installed");
}

/// No secret in the settings file (or anything else in the app's data folder), the app's
/// log, or any IPC answer recorded since [`record_ipc`]. Returns how many answers it read.
async fn assert_no_secret_leaked(desktop: &Desktop, app: &Session, secrets: &[&str]) -> usize {
    let answers = app
        .execute("return window.__ipcAnswers || [];", serde_json::json!([]))
        .await
        .expect("IPC answers");
    let answers: Vec<String> = serde_json::from_value(answers).expect("strings");
    assert!(
        !answers.is_empty(),
        "the recorder saw the window's commands"
    );
    let events = recorded_events(app).await;
    assert!(!events.is_empty(), "the recorder saw the app's events");
    let log = desktop.app_log();
    assert!(
        log.contains(kit::desktop::APP_STARTED_LINE),
        "the app's log is read: {}",
        desktop.app_log_file().display()
    );
    let mut places = vec![
        ("the app's log".to_owned(), log),
        ("IPC answers".to_owned(), answers.join("\n")),
        (
            "events".to_owned(),
            events
                .iter()
                .map(|(name, bytes)| format!("{name} {}", String::from_utf8_lossy(bytes)))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ];
    let data = desktop.settings_file();
    for entry in std::fs::read_dir(data.parent().expect("data folder")).expect("data folder") {
        let path = entry.expect("entry").path();
        places.push((
            path.display().to_string(),
            String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned(),
        ));
    }
    for secret in secrets {
        for (place, text) in &places {
            assert!(!text.contains(secret), "a secret leaked into {place}");
        }
    }
    answers.len()
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

    // Its page lists every tool by name; the server's own details are folded at the bottom
    // (About this server), its instructions shown as Markdown.
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open connector");
    app.wait_for(&tid("connector-detail")).await;
    assert!(
        !app.text(&app.wait_for(&tid("connector-detail")).await)
            .await
            .expect("text")
            .contains("protocol version"),
        "no developer text up front"
    );
    let about = app
        .wait_for(&format!("{} summary", tid("about-server")))
        .await;
    app.click(&about).await.expect("About this server");
    app.wait_text(
        &tid("detail-server-version"),
        kit::EVERYTHING_SERVER_VERSION,
    )
    .await;
    let instructions = app
        .wait_for(&format!("{} .md-h1", tid("detail-instructions")))
        .await;
    assert!(
        app.text(&instructions)
            .await
            .expect("text")
            .starts_with("Everything Server"),
        "the instructions' heading is a heading, not \"# …\""
    );
    app.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'end'});",
        serde_json::json!([tid("about-server")]),
    )
    .await
    .expect("scroll to it");
    desktop.screenshot("03b-about-this-server");
    app.click(&about).await.expect("fold it again");
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
    // A public server: the sign-in card says so, and offers a key for servers that take one.
    app.wait_text(&tid("sign-in-summary"), "No sign-in needed")
        .await;
    app.wait_text(&tid("sign-in-replace"), "Use an API key instead")
        .await;
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
    assert!(
        app.class(&toggle).await.contains("button-primary"),
        "Turn on is the main button of a connector that is off"
    );
    app.click(&toggle).await.expect("Turn on");
    app.wait_text(&tid("detail-state"), "Connected").await;
    app.wait_for(&tid("tool-item")).await;

    // Restart: the connector is listed at once and connects again by itself.
    app.quit().await;
    desktop.wait_until_no_app();
    let app = driver.open_app().await;
    row_named(&app, name).await;
    // At once: the shell handed the list to the page with the window, so the first view
    // already had it (its data mark comes before the view was built, which a list asked
    // for by command cannot).
    let first = app
        .execute(
            r#"const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
               return { data: at("sb-first-data"), mounted: at("sb-mounted"),
                        handed: window.__SWITCHBOARD_CONNECTORS__ || [] };"#,
            serde_json::json!([]),
        )
        .await
        .expect("the page's marks");
    let handed: Vec<u8> = serde_json::from_value(first["handed"].clone()).expect("bytes");
    let handed: Vec<switchboard_ipc::ConnectorSummary> =
        switchboard_ipc::wire::decode(&handed).expect("the handed list");
    assert_eq!(
        handed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        [name],
        "{first}"
    );
    let (data, mounted) = (first["data"].as_f64(), first["mounted"].as_f64());
    assert!(
        data.zip(mounted)
            .is_some_and(|(data, mounted)| data <= mounted),
        "the list was there before the first view: {first}"
    );
    app.wait_text(&tid("connector-state"), "Connected").await;
    desktop.screenshot("07-after-restart");

    // Remove it, with confirmation.
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open connector");
    from_more_menu(&app, "remove-button").await;
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
    desktop.wait_until_no_app();
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
async fn a_server_of_the_older_event_stream_kind_connects_by_its_address_and_after_a_restart() {
    let server = kit::Everything::start_sse();
    let mut desktop = Desktop::start("legacy_sse");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    // Its `…/sse` address, as its documentation gives it: found, connected, listed.
    add_by_address(&app, server.url()).await;
    row_named(&app, kit::EVERYTHING_SERVER_TITLE).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    let counts = app
        .wait_until(&tid("connector-counts"), |t| t.contains("tools"))
        .await;
    let counts = app.text(&counts).await.expect("counts");
    assert!(
        counts.contains(&format!("{} tools", kit::EVERYTHING_TOOLS)),
        "{counts}"
    );
    desktop.screenshot("01-connected");
    assert!(
        settings(&desktop).contains("legacy_sse"),
        "its kind is remembered: {}",
        settings(&desktop)
    );

    // Its page lists its tools like any other's.
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open connector");
    app.wait_for(&tid("connector-detail")).await;
    let tools = texts(&app, &format!("{} {}", tid("tool-item"), tid("item-name"))).await;
    assert!(tools.iter().any(|t| t == "echo"), "{tools:?}");
    desktop.screenshot("02-page");

    // A restart connects it again, straight over its event stream.
    app.quit().await;
    let app = driver.open_app().await;
    row_named(&app, kit::EVERYTHING_SERVER_TITLE).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    desktop.screenshot("03-after-restart");
    app.quit().await;
}

/// The markup of the kept start view, once `accept` holds for it (the window sends it after
/// its first view is built).
async fn kept_start_view(desktop: &Desktop, accept: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + switchboard_testkit::webdriver::PATIENCE;
    loop {
        let markup = std::fs::read(desktop.start_view_file())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|kept| kept["markup"].as_str().map(str::to_owned));
        match markup {
            Some(markup) if accept(&markup) => return markup,
            _ if std::time::Instant::now() > deadline => {
                panic!("no start view kept as expected: {markup:?}")
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

/// When this start showed the kept start view and when the window's code started, in ms
/// of the page's clock (`None` for what did not happen).
async fn start_marks(app: &Session) -> (Option<f64>, Option<f64>) {
    let marks = app
        .execute(
            "const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;\
             return [at('sb-start-view-shown'), at('sb-wasm-started')];",
            serde_json::json!([]),
        )
        .await
        .expect("the page's marks");
    (marks[0].as_f64(), marks[1].as_f64())
}

/// A start keeps its first view, and the next start with the same connectors shows it while
/// the window's code loads; the live view then takes its place. A change to the connectors
/// makes the kept view stale: the next start shows none and keeps its own.
#[tokio::test(flavor = "multi_thread")]
async fn the_next_start_shows_the_kept_first_view_while_the_window_loads() {
    let server = kit::PythonMcp::start();
    let mut desktop = Desktop::start("start_view");
    let driver = desktop.driver();

    // The first start: nothing kept, nothing shown; its own first view is kept.
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-empty")).await;
    assert_eq!(start_marks(&app).await.0, None, "nothing was kept");
    kept_start_view(&desktop, |v| v.contains("No connectors yet")).await;
    add_by_address(&app, server.url()).await;
    row_named(&app, "Python Fixture").await;
    app.quit().await;

    // The next: the kept view has no connectors, so it is not shown; this one is kept.
    let app = driver.open_app().await;
    row_named(&app, "Python Fixture").await;
    assert_eq!(start_marks(&app).await.0, None, "a stale view is not shown");
    let kept = kept_start_view(&desktop, |v| v.contains("Python Fixture")).await;
    assert!(
        !kept.contains("data-testid"),
        "a picture, not the live view"
    );
    assert!(!kept.contains("No connectors yet"), "{kept}");
    app.quit().await;

    // The same connectors again: the kept view came before the window's code ran, and the
    // live view replaced it (one row, and none inert).
    let app = driver.open_app().await;
    row_named(&app, "Python Fixture").await;
    let (shown, started) = start_marks(&app).await;
    let (shown, started) = (
        shown.expect("the kept view was shown"),
        started.expect("the window's code started"),
    );
    assert!(
        shown < started,
        "shown at {shown} ms, the code at {started}"
    );
    app.wait_gone("#start-view").await;
    assert_eq!(texts(&app, ".connector-row").await.len(), 1);
    assert_eq!(texts(&app, "[inert]").await.len(), 0);

    // What the kept view looks like: shown in the window in place of the live one.
    let rows = app
        .execute(
            "const live = document.querySelector('.shell');\
             live.style.display = 'none';\
             const view = document.createElement('div');\
             view.id = 'start-view';\
             view.innerHTML = arguments[0];\
             document.body.prepend(view);\
             return [...view.querySelectorAll('.connector-row')].map(r => r.innerText);",
            serde_json::json!([kept]),
        )
        .await
        .expect("show the kept view");
    assert!(
        rows[0]
            .as_str()
            .is_some_and(|r| r.contains("Python Fixture")),
        "{rows}"
    );
    app.painted().await.expect("painted");
    desktop.screenshot("01-kept-view");
    app.quit().await;
}

/// On Linux the window's text is in the desktop's own interface font, as GTK names it
/// (`gtk-font-name`), named `sans-serif` in the page: WebKitGTK resolves `system-ui` anew
/// for every size and weight, which slowed the first view's layout.
#[tokio::test(flavor = "multi_thread")]
async fn the_window_writes_in_the_desktop_s_own_font() {
    let mut desktop = Desktop::start("desktop_font");
    // A desktop whose interface font is a serif one, unlike fontconfig's sans-serif.
    let gtk = desktop.home().join(".config/gtk-3.0");
    std::fs::create_dir_all(&gtk).expect("gtk folder");
    std::fs::write(
        gtk.join("settings.ini"),
        "[Settings]\ngtk-font-name = DejaVu Serif 11\n",
    )
    .expect("gtk settings");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-empty")).await;
    let seen = app
        .execute(
            "const width = (family) => {\
               const probe = document.createElement('span');\
               probe.textContent = 'Connectors let Switchboard use remote MCP servers';\
               probe.style.fontSize = '40px';\
               if (family) probe.style.fontFamily = family;\
               document.body.append(probe);\
               const w = probe.getBoundingClientRect().width;\
               probe.remove();\
               return w;\
             };\
             return [document.documentElement.dataset.os ?? null,\
                     getComputedStyle(document.body).fontFamily,\
                     width(null), width('\"DejaVu Serif\"'), width('\"DejaVu Sans\"')];",
            serde_json::json!([]),
        )
        .await
        .expect("the page's font");
    assert_eq!(seen[0], "linux", "{seen}");
    assert_eq!(seen[1], "sans-serif", "the family the page names: {seen}");
    let (page, serif, sans) = (
        seen[2].as_f64().expect("width"),
        seen[3].as_f64().expect("width"),
        seen[4].as_f64().expect("width"),
    );
    assert!(
        (page - serif).abs() < 0.5 && (page - sans).abs() > 5.0,
        "the page's text is {page} px wide, in the desktop's font {serif}, in fontconfig's sans-serif {sans}"
    );
    desktop.screenshot("01-desktop-font");
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
async fn a_wrong_address_is_fixed_from_its_message_and_a_server_problem_can_be_tried_again() {
    let garbage = kit::Garbage::html();
    let failing = kit::Garbage::server_error();
    let server = kit::PythonMcp::start();
    let mut desktop = Desktop::start("not_mcp");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    record_ipc(&app).await;
    open_add_dialog(&app).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, garbage.url()).await.expect("type");
    let name = app.wait_for(&tid("add-name-input")).await;
    app.type_into(&name, "Intranet").await.expect("type name");
    let submit = app.wait_for(&tid("add-submit")).await;
    app.click(&submit).await.expect("Add");
    app.wait_gone(&tid("add-dialog")).await;

    // A web page is a wrong address, said as such, and red like its message.
    row_named(&app, "Intranet").await;
    let pill = app
        .wait_text(&tid("connector-state"), "Wrong address")
        .await;
    assert!(app.class(&pill).await.contains("tone-trouble"));
    app.wait_until(&tid("connector-problem"), |t| t.contains("web page"))
        .await;
    // The sentence on the list is whole: wrapped, never cut where the advice starts.
    let cut = app
        .execute(
            "return [...document.querySelectorAll(arguments[0] + ' *')]
                 .filter(e => e.getClientRects().length > 0 && e.clientHeight > 0 && !e.closest('details:not([open])'))
                 .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
                 .map(e => e.className + ': ' + e.textContent.trim());",
            serde_json::json!([tid("connector-problem")]),
        )
        .await
        .expect("measure the problem's text");
    assert_eq!(cut, serde_json::json!([]), "text cut on the list");
    let details = app.wait_for(&tid("details-toggle")).await;
    app.click(&details).await.expect("Details");
    app.wait_until(&tid("problem-detail"), |t| t.contains("text/html"))
        .await;
    assert!(
        texts(&app, &tid("retry-button")).await.is_empty(),
        "trying a wrong address again changes nothing: no Try again"
    );
    desktop.screenshot("01-wrong-address");

    // Edit address, in the message: the dialog opens at the address, which is corrected.
    let fix = app.wait_text(&tid("fix-button"), "Edit address").await;
    app.click(&fix).await.expect("Edit address");
    app.wait_for(&tid("edit-dialog")).await;
    assert_focused(&app, "add-url-input").await;
    let input = app.wait_for(&tid("add-url-input")).await;
    assert_eq!(
        app.property(&input, "value").await.expect("value"),
        serde_json::json!(garbage.url()),
        "the dialog starts from what is saved"
    );
    app.clear(&input).await.expect("clear");
    app.type_into(&input, server.url()).await.expect("type");
    // Another server (another port): said before saving.
    app.wait_until(&tid("edit-other-server"), |t| t.contains("start fresh"))
        .await;
    desktop.screenshot("02-edit-address");
    let save = app.wait_for(&tid("edit-save")).await;
    app.click(&save).await.expect("Save");
    app.wait_gone(&tid("edit-dialog")).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    row_named(&app, "Intranet").await;
    assert!(settings(&desktop).contains(server.url()), "saved");
    assert!(
        !settings(&desktop).contains(garbage.url()),
        "the old address went"
    );

    // A server error passes: Try again, and the attempt really reaches the server again.
    add_by_address(&app, failing.url()).await;
    app.wait_until(&tid("connector-state"), |t| t == "Server problem")
        .await;
    let server_problem = || async {
        recorded_events(&app)
            .await
            .iter()
            .filter(|(name, bytes)| {
                name == switchboard_ipc::event::CONNECTOR_CHANGED
                    && switchboard_ipc::wire::decode::<switchboard_ipc::ConnectorSummary>(bytes)
                        .is_ok_and(|summary| {
                            summary.state == switchboard_ipc::ConnectorState::CantReach
                                && summary.problem.is_some_and(|problem| {
                                    problem.code == switchboard_ipc::ErrorCode::ServerError
                                })
                        })
            })
            .count()
    };
    let (connections, outcomes) = (failing.connections(), server_problem().await);
    let retry = app.wait_text(&tid("retry-button"), "Try again").await;
    app.click(&retry).await.expect("Try again");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server_problem().await <= outcomes {
        assert!(
            std::time::Instant::now() < deadline,
            "no new outcome after Try again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        failing.connections() > connections,
        "Try again really connected again"
    );
    desktop.screenshot("03-server-problem");
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
    // The app registered itself for its scheme at start-up, as the handler the desktop
    // runs for such links.
    let (handler, exec) = desktop.scheme_handler();
    assert_eq!(handler, kit::desktop::SCHEME_HANDLER);
    assert!(
        exec.contains(&kit::desktop::app_binary().display().to_string()) && exec.ends_with("%u"),
        "{exec}"
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
    let log = desktop.app_log();
    assert!(log.contains("app link refused"), "the refusal is logged");
    assert!(
        !log.contains("not-for-the-log"),
        "the query is never logged"
    );
    // Still one app: the second launch handed over and did not stay.
    assert_eq!(
        desktop.app_processes(),
        1,
        "one app process on this desktop"
    );

    // A sign-in callback with a state Switchboard never handed out: refused in words.
    let forged = format!(
        "{}:/oauth/callback/c1234?code=forged-code-1234&state=forged-state",
        kit::desktop::APP_IDENTIFIER
    );
    assert!(desktop.open_link(&forged).success());
    let forged_banner = app
        .wait_until(&tid("notice-banner"), |t| {
            t.contains("This sign-in link is not from Switchboard")
        })
        .await;
    let text = app.text(&forged_banner).await.expect("text");
    assert!(!text.contains("forged-code-1234"), "{text}");
    assert!(
        text.contains("If you did not just sign in, you can ignore this."),
        "{text}"
    );
    desktop.screenshot("02-forged-sign-in-link");
    let log = desktop.app_log();
    assert_eq!(
        log.matches("app link refused").count(),
        2,
        "both refusals logged"
    );
    assert!(!log.contains("forged-code-1234"));
    assert_eq!(log.matches("app links: handler registered").count(), 1);

    // The next start finds its handler in place and leaves it (no programs run, no files
    // rewritten); links still reach the window.
    app.quit().await;
    desktop.wait_until_no_app();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    assert!(
        desktop
            .app_log()
            .contains("app links: the handler of an earlier start is in place"),
        "the second start kept the handler"
    );
    assert_eq!(desktop.scheme_handler(), (handler, exec));
    assert!(desktop.open_link(&link).success());
    app.wait_until(&tid("notice-banner"), |t| t.contains("link"))
        .await;
    assert_eq!(
        desktop.app_log().matches("app link refused").count(),
        3,
        "the link reached the restarted app"
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
    app.wait_until(&tid("connectors-empty"), |t| {
        t.contains("Add your connectors again")
    })
    .await;
    app.wait_until(&tid("notice-banner"), |t| t.contains("could not be read"))
        .await;
    app.wait_text(&tid("notice-show-file"), "Show file").await;
    desktop.screenshot("01-notice");

    let kept: Vec<_> = std::fs::read_dir(file.parent().expect("parent"))
        .expect("data dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("unreadable"))
        .collect();
    assert_eq!(kept.len(), 1, "the old file is kept aside");
    assert_eq!(std::fs::read(kept[0].path()).expect("kept"), garbage);
    // The notice says where it is.
    let kept_at = kept[0].path().display().to_string();
    app.wait_until(&tid("notice-banner"), |t| t.contains(&kept_at))
        .await;
    // "Show file" shows only a file Switchboard kept aside, whatever the window asks.
    let elsewhere = switchboard_ipc::ShowFileRequest {
        path: file
            .parent()
            .expect("parent")
            .join("..")
            .join("x.unreadable-1")
            .display()
            .to_string(),
    };
    let answer = app
        .execute(
            "return window.__TAURI_INTERNALS__
                 .invoke('show_kept_file', new Uint8Array(arguments[0]))
                 .then(bytes => Array.from(new Uint8Array(bytes)), e => String(e));",
            serde_json::json!([switchboard_ipc::wire::encode(&elsewhere).expect("bytes")]),
        )
        .await
        .expect("asked");
    let answer: Vec<u8> = serde_json::from_value(answer).expect("an answer, not a rejection");
    let refused = switchboard_ipc::wire::decode::<Result<(), switchboard_ipc::ErrorInfo>>(&answer)
        .expect("decoded");
    assert_eq!(
        refused.map_err(|err| err.message).err().as_deref(),
        Some("That file is not one Switchboard kept aside.")
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_whose_sign_in_service_is_down_says_so() {
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
    // Adding it went straight to sign-in; its authorization server does not answer.
    app.wait_until(&tid("connector-problem"), |t| {
        t.contains("could not reach the server's sign-in service")
    })
    .await;
    desktop.screenshot("01-needs-sign-in");
    assert!(
        settings(&desktop).contains(server.url()),
        "kept, to sign in later"
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_is_entered_in_the_app_kept_in_the_keyring_and_a_wrong_one_is_named() {
    const KEY: &str = "sk-test-5fa1c0ffee";
    const WRONG: &str = "sk-test-wrong-0000";
    let server = kit::PythonMcp::requiring_header("X-API-Key", KEY);
    let mut desktop = Desktop::start("api_key");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    record_ipc(&app).await;

    add_dialog_choosing_api_key(&app, server.url()).await;
    let submit = app.wait_for(&tid("add-submit")).await;
    assert_eq!(
        app.property(&submit, "disabled").await.expect("disabled"),
        serde_json::json!(true),
        "no key, nothing to add"
    );
    // A header the connection itself uses is refused in words, and nothing is saved.
    let header = advanced_header(&app).await;
    app.type_into(&header, "Mcp-Session-Id")
        .await
        .expect("type");
    let key = app.wait_for(&tid("sign-in-key")).await;
    app.type_into(&key, KEY).await.expect("type");
    app.press(keys::ENTER).await.expect("Enter");
    app.wait_until(&tid("action-error"), |t| {
        t.contains("Mcp-Session-Id is used by the connection itself")
    })
    .await;
    desktop.screenshot("00-reserved-header-refused");
    assert!(
        !desktop.keyring_listing().contains(KEY),
        "nothing kept in the keyring"
    );
    assert!(!settings(&desktop).contains(server.url()), "nothing saved");
    app.click(&header).await.expect("back to the header");
    app.press(&keys::BACKSPACE.repeat("Mcp-Session-Id".len()))
        .await
        .expect("erase");
    app.type_into(&header, "X-API-Key").await.expect("type");
    app.wait_gone(&tid("action-error")).await;
    assert_eq!(
        app.attribute(&key, "type").await.expect("type").as_deref(),
        Some("password"),
        "the key is masked as it is typed"
    );
    desktop.screenshot("01-add-with-api-key");
    app.press(keys::ENTER).await.expect("Enter");
    app.wait_gone(&tid("add-dialog")).await;

    row_named(&app, kit::PYTHON_SERVER_NAME).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    let listing = desktop.keyring_listing();
    assert!(
        listing.contains(&format!("secret = {KEY}")) && listing.contains("/api-key"),
        "the key is in the keyring: {}",
        listing.replace(KEY, "<the key>")
    );
    assert!(
        settings(&desktop).contains("X-API-Key"),
        "the header is saved"
    );

    // The connector page shows the key only as dots, and replacing it with a wrong one
    // says so in words.
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open");
    let summary = app
        .wait_until(&tid("sign-in-summary"), |t| t.contains("saved"))
        .await;
    assert_eq!(
        app.text(&summary).await.expect("text").trim(),
        "API key (sent as X-API-Key) · saved"
    );
    app.wait_text(&tid("sign-in-replace"), "Change key").await;
    desktop.screenshot("02-connected-with-key");
    let replace = app.wait_for(&tid("sign-in-replace")).await;
    app.click(&replace).await.expect("Change key");
    app.wait_for(&tid("edit-dialog")).await;
    assert_focused(&app, "sign-in-key").await;
    let key = app.wait_for(&tid("sign-in-key")).await;
    app.type_into(&key, WRONG).await.expect("type");
    let save = app.wait_for(&tid("edit-save")).await;
    app.click(&save).await.expect("Save");
    app.wait_gone(&tid("edit-dialog")).await;
    app.wait_text(&tid("detail-state"), "Needs sign-in").await;
    app.wait_until(&tid("problem-message"), |t| {
        t.starts_with("The key was not accepted")
    })
    .await;
    // A routine "needs sign-in": the pill and the box are amber alike, not an error.
    for (what, css) in [
        ("pill", tid("detail-state")),
        ("box", ".card-problem".to_owned()),
    ] {
        let el = app.wait_for(&css).await;
        let class = app.class(&el).await;
        assert!(class.contains("tone-attention"), "{what}: {class}");
    }
    desktop.screenshot("03-key-not-accepted");
    assert!(
        desktop
            .keyring_listing()
            .contains(&format!("secret = {WRONG}")),
        "the new key replaced the old one"
    );
    assert!(
        texts(&app, &tid("retry-button")).await.is_empty(),
        "no Try again that would send the same key"
    );

    // The fix is in the message: Enter a new key → the right key → Connected.
    let fix = app.wait_text(&tid("fix-button"), "Enter a new key").await;
    app.click(&fix).await.expect("Enter a new key");
    app.wait_for(&tid("edit-dialog")).await;
    assert_focused(&app, "sign-in-key").await;
    let key = app.wait_for(&tid("sign-in-key")).await;
    app.type_into(&key, &format!("{KEY}{}", keys::ENTER))
        .await
        .expect("type and Enter");
    app.wait_gone(&tid("edit-dialog")).await;
    app.wait_text(&tid("detail-state"), "Connected").await;
    desktop.screenshot("04-new-key-connected");

    let answers = assert_no_secret_leaked(&desktop, &app, &[KEY, WRONG]).await;
    assert!(answers >= 4, "{answers} answers searched");
    // Nor is the server's own text in the log: its instructions came in its `initialize`
    // answer at each of the connects above (src-tauri/log.rs).
    assert!(
        !desktop.app_log().contains(kit::PYTHON_INSTRUCTIONS),
        "the server's instructions were copied into the app's log"
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_username_and_password_sign_in_sign_out_and_a_wrong_password_is_named() {
    const PASSWORD: &str = "correct-horse-battery";
    // "ada:correct-horse-battery" in base64.
    let server = kit::PythonMcp::requiring_header(
        "Authorization",
        "Basic YWRhOmNvcnJlY3QtaG9yc2UtYmF0dGVyeQ==",
    );
    let mut desktop = Desktop::start("basic_auth");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    record_ipc(&app).await;

    open_add_dialog(&app).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, server.url()).await.expect("type");
    let kind = app.wait_for(&tid("sign-in-kind-basic")).await;
    app.click(&kind)
        .await
        .expect("choose username and password");
    let username = app.wait_for(&tid("sign-in-username")).await;
    app.type_into(&username, "ada").await.expect("type");
    let password = app.wait_for(&tid("sign-in-password")).await;
    app.type_into(&password, PASSWORD).await.expect("type");
    desktop.screenshot("01-add-with-password");
    let submit = app.wait_for(&tid("add-submit")).await;
    app.click(&submit).await.expect("Add");
    app.wait_gone(&tid("add-dialog")).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    assert!(
        desktop
            .keyring_listing()
            .contains(&format!("secret = {PASSWORD}")),
        "the password is in the keyring"
    );

    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open");
    app.wait_text(&tid("sign-in-summary"), "Username ada · password saved")
        .await;

    // Sign out forgets the password: the keyring entry goes and the server says no.
    let sign_out = app.wait_for(&tid("sign-out-button")).await;
    app.click(&sign_out).await.expect("Sign out");
    app.wait_text(&tid("detail-state"), "Needs sign-in").await;
    app.wait_text(&tid("sign-in-summary"), "Username ada · password missing")
        .await;
    assert!(
        !desktop.keyring_listing().contains(PASSWORD),
        "signed out: the password left the keyring"
    );
    desktop.screenshot("02-signed-out");

    // A wrong password is named as such, and the fix is in the message: enter it again.
    let replace = app
        .wait_text(&tid("sign-in-replace"), "Change password")
        .await;
    app.click(&replace).await.expect("Change password");
    app.wait_for(&tid("edit-dialog")).await;
    let password = app.wait_for(&tid("sign-in-password")).await;
    assert_focused(&app, "sign-in-password").await;
    app.type_into(&password, "wrong-horse").await.expect("type");
    app.press(keys::ENTER).await.expect("Enter saves");
    app.wait_gone(&tid("edit-dialog")).await;
    app.wait_until(&tid("problem-message"), |t| {
        t.starts_with("The username or password was not accepted")
    })
    .await;
    app.wait_text(&tid("detail-state"), "Needs sign-in").await;
    desktop.screenshot("03-password-not-accepted");
    assert!(
        texts(&app, &tid("retry-button")).await.is_empty(),
        "no Try again that would send the same password"
    );

    // The right one connects again.
    let fix = app
        .wait_text(&tid("fix-button"), "Enter the password")
        .await;
    app.click(&fix).await.expect("Enter the password");
    let password = app.wait_for(&tid("sign-in-password")).await;
    assert_focused(&app, "sign-in-password").await;
    app.type_into(&password, PASSWORD).await.expect("type");
    let save = app.wait_for(&tid("edit-save")).await;
    app.click(&save).await.expect("Save");
    app.wait_gone(&tid("edit-dialog")).await;
    app.wait_text(&tid("detail-state"), "Connected").await;

    assert_no_secret_leaked(
        &desktop,
        &app,
        &[PASSWORD, "wrong-horse", "YWRhOmNvcnJlY3Q"],
    )
    .await;
    app.quit().await;
}

/// Opens the connector page's "More" menu and chooses `item`.
async fn from_more_menu(app: &Session, item: &str) {
    let more = app.wait_for(&tid("more-button")).await;
    app.click(&more).await.expect("More");
    let item = app
        .wait_for(&format!("{}:not([hidden] *)", tid(item)))
        .await;
    app.click(&item).await.expect("menu item");
}

/// Waits until the keyboard is in the element with this test id.
async fn assert_focused(app: &Session, testid: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let focused = app.focused_test_id().await.expect("focused element");
        if focused.as_deref() == Some(testid) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the keyboard is in {focused:?}, not {testid}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Points the desktop's `$BROWSER` at the test browser (headless Chromium that signs in and
/// hands the redirect back like the OS would). Returns the browser's log file.
fn with_test_browser(desktop: &mut Desktop) -> std::path::PathBuf {
    let log = desktop.home().join("browser.jsonl");
    // The browser hands the app's links to the desktop, as Chromium does: xdg-open runs
    // the handler the app registered for its scheme.
    for (key, value) in kit::browser_env(std::path::Path::new(kit::desktop::XDG_OPEN), &log) {
        desktop.set_env(&key, &value);
    }
    log
}

/// A browser that opens nothing and writes each address it is handed to a line of the
/// returned file. It takes the test browser's place (same name, earlier on PATH) for
/// xdg-open.
fn with_recording_browser(desktop: &mut Desktop) -> std::path::PathBuf {
    with_test_browser(desktop);
    let opened = desktop.home().join("opened.txt");
    let bin = desktop.home().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let walk_away = bin.join("switchboard-test-browser");
    std::fs::write(
        &walk_away,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display()),
    )
    .expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&walk_away, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    let path = desktop
        .env()
        .into_iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, path)| path)
        .unwrap_or_default();
    desktop.set_env("PATH", &format!("{}:{path}", bin.display()));
    desktop.set_env("BROWSER", &walk_away.display().to_string());
    opened
}

/// The OAuth token values the keyring holds for the app, to search for elsewhere.
fn tokens_in_keyring(desktop: &Desktop) -> Vec<String> {
    let listing = desktop.keyring_listing();
    let mut tokens = Vec::new();
    for line in listing.lines() {
        if let Some(json) = line.strip_prefix("secret = ")
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(json)
        {
            for key in ["access_token", "refresh_token"] {
                if let Some(token) = value["token_response"][key].as_str() {
                    tokens.push(token.to_owned());
                }
            }
        }
    }
    tokens
}

/// The ids of the connectors in the desktop's settings file, in order.
fn connector_ids(desktop: &Desktop) -> Vec<String> {
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(desktop.settings_file()).expect("settings file"),
    )
    .expect("settings JSON");
    settings["connectors"]
        .as_array()
        .expect("connectors")
        .iter()
        .map(|c| c["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Adds `url` as a person pasting it and pressing Enter at once would: the Enter arrives
/// with the text, before the window has heard back about the address.
/// The API-key form's header field, under "Advanced", opened.
async fn advanced_header(app: &Session) -> switchboard_testkit::webdriver::Element {
    let advanced = app.wait_for(&tid("sign-in-advanced")).await;
    app.click(&advanced).await.expect("Advanced");
    app.wait_for(&tid("sign-in-header")).await
}

async fn add_by_address(app: &Session, url: &str) {
    open_add_dialog(app).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, &format!("{url}{}", keys::ENTER))
        .await
        .expect("type and Enter");
    app.wait_gone(&tid("add-dialog")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_sign_in_in_the_browser_comes_back_by_app_link_survives_a_restart_and_a_revocation() {
    let auth = kit::AuthServer::start();
    let mut desktop = Desktop::start("oauth_app_link");
    // The most a person (or a support page) could turn on: no code or token may show.
    desktop.set_env("RUST_LOG", "debug");
    let browser = with_test_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    record_ipc(&app).await;

    // Adding the server sends the person to the browser; the browser signs in and the
    // app link brings the code back.
    add_by_address(&app, auth.mcp_url()).await;
    row_named(&app, kit::OAUTH_SERVER_NAME).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    let counts = app.wait_for(&tid("connector-counts")).await;
    assert!(
        app.text(&counts)
            .await
            .expect("text")
            .starts_with(&format!("{} tools", kit::OAUTH_TOOLS))
    );
    desktop.screenshot("01-connected-after-sign-in");
    assert!(desktop.app_log().contains(OPENING_A_PAGE));
    let visits = browser_runs(&browser, 1).await;
    assert_eq!(visits.len(), 1, "one trip to the browser: {visits:?}");
    assert_eq!(visits[0]["handed_to_app"], true, "{:?}", visits[0]);
    let stats = auth.stats().await;
    assert_eq!(
        stats["redirect_uris"],
        serde_json::json!([format!(
            "io.switchboard.desktop:/oauth/callback/{}",
            connector_ids(&desktop)[0]
        )]),
        "registered with the connector's own app link"
    );
    assert_eq!(stats["authorizations"], 1);
    assert_eq!(
        stats["resources_requested"][0],
        auth.mcp_url(),
        "RFC 8707 resource"
    );
    assert!(desktop.keyring_listing().contains("/oauth-tokens"));
    let tokens = tokens_in_keyring(&desktop);
    assert_eq!(
        tokens.len(),
        2,
        "an access and a refresh token in the keyring"
    );

    // The connector page lists the tools and says it is signed in.
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open");
    app.wait_for(&tid("tool-item")).await;
    let names: BTreeSet<String> = texts(&app, &tid("item-name")).await.into_iter().collect();
    assert_eq!(
        names,
        kit::OAUTH_TOOL_NAMES
            .iter()
            .map(|n| n.to_string())
            .collect()
    );
    app.wait_text(&tid("sign-in-summary"), "Signed in in your browser")
        .await;
    desktop.screenshot("02-signed-in-detail");
    assert_no_secret_leaked(
        &desktop,
        &app,
        &tokens.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;

    // After a restart it connects with the saved sign-in, without the browser.
    app.quit().await;
    desktop.wait_until_no_app();
    let app = driver.open_app().await;
    record_ipc(&app).await;
    row_named(&app, kit::OAUTH_SERVER_NAME).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    assert_eq!(
        auth.stats().await["authorization_requests"],
        1,
        "no browser after a restart"
    );

    // The server withdraws the sign-in: reconnecting says "Sign in again", nothing else lost.
    auth.revoke_all().await;
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open");
    from_more_menu(&app, "reconnect-button").await;
    app.wait_text(&tid("detail-state"), "Needs sign-in").await;
    app.wait_until(&tid("problem-message"), |t| t.contains("Sign in again"))
        .await;
    app.wait_text(&tid("sign-in-button"), "Sign in again").await;
    desktop.screenshot("03-sign-in-again");
    assert!(settings(&desktop).contains(auth.mcp_url()), "still saved");

    // Signing in again goes through the browser once more.
    let sign_in = app.wait_for(&tid("sign-in-button")).await;
    app.click(&sign_in).await.expect("Sign in again");
    app.wait_text(&tid("detail-state"), "Connected").await;
    assert_eq!(auth.stats().await["authorization_requests"], 2);
    assert_eq!(browser_runs(&browser, 2).await.len(), 2);
    let mut secrets = tokens.clone();
    secrets.extend(tokens_in_keyring(&desktop));

    // Sign out removes the tokens from the keyring.
    let sign_out = app.wait_for(&tid("sign-out-button")).await;
    app.click(&sign_out).await.expect("Sign out");
    app.wait_text(&tid("detail-state"), "Needs sign-in").await;
    app.wait_text(&tid("sign-in-button"), "Sign in").await;
    assert!(
        !desktop.keyring_listing().contains("/oauth-tokens"),
        "signed out: no tokens in the keyring"
    );
    desktop.screenshot("04-signed-out");
    assert_no_secret_leaked(
        &desktop,
        &app,
        &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let log = desktop.app_log();
    assert!(log.contains(" DEBUG "), "the log ran at debug");
    for line in ["start exchange code for token", "exchange token result"] {
        assert!(
            !log.contains(line),
            "rmcp's sign-in module logged its code or tokens: {line}"
        );
    }
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_refuses_the_app_link_gets_the_loopback_page() {
    let auth = kit::AuthServer::start_loopback_only();
    let mut desktop = Desktop::start("oauth_loopback");
    let browser = with_test_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    add_by_address(&app, auth.mcp_url()).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    desktop.screenshot("01-connected-by-loopback");

    let stats = auth.stats().await;
    let tried = stats["redirect_uris"].as_array().expect("registrations");
    assert_eq!(
        tried.len(),
        2,
        "the app link, refused, then loopback: {tried:?}"
    );
    let own_path = format!("/oauth/callback/{}", connector_ids(&desktop)[0]);
    assert_eq!(tried[0], format!("io.switchboard.desktop:{own_path}"));
    let loopback = tried[1].as_str().expect("a redirect URI");
    assert!(
        loopback.starts_with("http://127.0.0.1:") && loopback.ends_with(&own_path),
        "{loopback}"
    );
    let visits = browser_runs(&browser, 1).await;
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(visits[0]["handed_to_app"], false);
    assert!(
        visits[0]["page_text"]
            .as_str()
            .unwrap_or_default()
            .contains("You can close this tab"),
        "{:?}",
        visits[0]
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_left_open_can_be_reopened_and_cancelled() {
    let auth = kit::AuthServer::start();
    let mut desktop = Desktop::start("oauth_cancel");
    // A browser that shows the page and nothing more: the person walked away.
    let opened = with_recording_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    add_by_address(&app, auth.mcp_url()).await;
    app.wait_text(&tid("connector-state"), "Signing in").await;
    // A spinner or a dot on the pill, not both.
    let marks = app
        .execute(
            "const pill = document.querySelector(arguments[0]);
             return [pill.querySelectorAll('.spinner').length,
                     getComputedStyle(pill, '::before').content];",
            serde_json::json!([tid("connector-state")]),
        )
        .await
        .expect("the pill");
    assert_eq!(marks, serde_json::json!([1, "none"]), "spinner, no dot");
    app.wait_text(&tid("connector-hint"), "Finish signing in in your browser")
        .await;
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open");
    app.wait_for(&tid("signing-in")).await;
    desktop.screenshot("01-finish-in-browser");
    let pages = || {
        std::fs::read_to_string(&opened)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // The opener runs the "browser" after the app shows "Signing in": wait for it.
    let opened_pages = |n: usize| {
        let pages = &pages;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while pages().len() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{} of {n} pages opened",
                    pages().len()
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            pages()
        }
    };
    let first = opened_pages(1).await;
    assert_eq!(first.len(), 1);
    assert!(
        first[0].starts_with(&auth.issuer().to_string()),
        "{first:?}"
    );

    let again = app.wait_for(&tid("sign-in-open-again")).await;
    app.click(&again).await.expect("Open the page again");
    let both = opened_pages(2).await;
    assert_eq!(both.len(), 2, "the same page, opened again");
    assert_eq!(both[0], both[1]);

    let cancel = app.wait_for(&tid("sign-in-cancel")).await;
    app.click(&cancel).await.expect("Cancel");
    app.wait_text(&tid("detail-state"), "Needs sign-in").await;
    app.wait_text(&tid("sign-in-button"), "Sign in").await;
    desktop.screenshot("02-cancelled");

    // The cancelled sign-in's link no longer works.
    let page = url::Url::parse(&pages()[0]).expect("the sign-in page's URL");
    let param = |name: &str| {
        page.query_pairs()
            .filter(|(key, _)| key == name)
            .last()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {page}"))
    };
    let late = format!(
        "{}?code=late-code&state={}",
        param("redirect_uri"),
        param("state")
    );
    assert!(desktop.open_link(&late).success());
    app.wait_until(&tid("notice-banner"), |t| {
        t.contains("This sign-in link is not from Switchboard")
    })
    .await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_declined_in_the_browser_says_so_and_can_be_tried_again() {
    let auth = kit::AuthServer::start();
    let mut desktop = Desktop::start("oauth_declined");
    let browser = with_test_browser(&mut desktop);
    desktop.set_env("SWITCHBOARD_TEST_CONSENT", "deny");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    add_by_address(&app, auth.mcp_url()).await;
    app.wait_text(&tid("connector-state"), "Needs sign-in")
        .await;
    app.wait_until(&tid("connector-problem"), |t| {
        t.contains("Sign-in was declined in the browser.")
    })
    .await;
    desktop.screenshot("01-declined");
    let visits = browser_runs(&browser, 1).await;
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(
        visits[0]["handed_to_app"], true,
        "the refusal came back by app link"
    );
    assert_eq!(auth.stats().await["denials"], 1);
    assert!(
        !desktop.keyring_listing().contains("/oauth-tokens"),
        "nothing kept"
    );

    // "Sign in" right on the row goes back to the browser.
    let sign_in = app.wait_text(&tid("sign-in-button"), "Sign in").await;
    app.click(&sign_in).await.expect("Sign in");
    assert_eq!(browser_runs(&browser, 2).await.len(), 2, "a second trip");
    app.wait_until(&tid("connector-problem"), |t| {
        t.contains("Sign-in was declined in the browser.")
    })
    .await;
    assert_eq!(auth.stats().await["denials"], 2);
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_keyring_secrets_are_refused_in_words_and_public_servers_still_work() {
    const KEY: &str = "sk-test-nowhere-to-keep";
    let keyed = kit::PythonMcp::requiring_header("X-API-Key", KEY);
    let public = kit::PythonMcp::start();
    let auth = kit::AuthServer::start();
    let mut desktop = Desktop::start_without_keyring("no_keyring");
    // The browser is there should anything open it; the authorization server says it did not.
    with_test_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    record_ipc(&app).await;

    // An API key: the missing keyring is said as soon as "API key" is chosen, before the
    // key is typed, with what to install; and nothing is saved.
    add_dialog_choosing_api_key(&app, keyed.url()).await;
    app.wait_until(&tid("keyring-problem"), |t| {
        t.contains("Install and unlock a keyring such as GNOME Keyring or KWallet")
    })
    .await;
    let key = app.wait_for(&tid("sign-in-key")).await;
    app.type_into(&key, KEY).await.expect("type");
    app.press(keys::ENTER).await.expect("Enter");
    // The refusal is said once, where the sign-in is chosen; the dialog stays.
    app.wait_for(&tid("add-dialog")).await;
    app.wait_until(&tid("add-submit"), |_| true).await;
    desktop.screenshot("01-no-keyring-for-a-key");
    assert!(!settings(&desktop).contains(keyed.url()), "nothing saved");
    // The error did not push the dialog's buttons out of sight.
    let in_sight = app
        .execute(
            "const dialog = document.querySelector(arguments[0]).closest('.modal').getBoundingClientRect();
             return [arguments[1], arguments[2]].map(id => {
                 const r = document.querySelector(id).getBoundingClientRect();
                 return r.top >= dialog.top && r.bottom <= dialog.bottom + 1;
             });",
            serde_json::json!([tid("add-cancel"), tid("add-cancel"), tid("add-submit")]),
        )
        .await
        .expect("where the buttons are");
    assert_eq!(
        in_sight,
        serde_json::json!([true, true]),
        "Cancel and Add in sight"
    );
    let cancel = app.wait_for(&tid("add-cancel")).await;
    app.click(&cancel).await.expect("Cancel");
    app.wait_gone(&tid("add-dialog")).await;

    // A server that needs no sign-in connects as ever.
    add_by_address(&app, public.url()).await;
    app.wait_text(&tid("connector-state"), "Connected").await;

    // OAuth: refused before the browser opens, since the sign-in could not be kept.
    add_by_address(&app, auth.mcp_url()).await;
    app.wait_until(&tid("connector-problem"), |t| {
        t.contains("Install and unlock a keyring")
    })
    .await;
    // Not "Needs sign-in": signing in cannot help without a keyring.
    app.wait_until(&tid("connector-state"), |t| t == "Can't keep the sign-in")
        .await;
    assert!(
        texts(&app, &tid("sign-in-button")).await.is_empty(),
        "no Sign in that would fail again"
    );
    desktop.screenshot("02-no-keyring-for-oauth");
    assert_eq!(
        auth.stats().await["authorization_requests"],
        0,
        "no browser opened"
    );
    assert!(!desktop.app_log().contains(OPENING_A_PAGE));
    assert_no_secret_leaked(&desktop, &app, &[KEY]).await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_whose_sign_in_page_is_not_a_web_page_gets_nothing_opened() {
    let hostile = kit::Hostile::start();
    let url = hostile.asks_for_sign_in(serde_json::json!({
        "authorization_endpoint": "file:///etc/passwd",
    }));
    let mut desktop = Desktop::start("hostile_sign_in_page");
    let browser = with_test_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    // Adding it is what would have opened the browser at once.
    add_by_address(&app, &url).await;
    app.wait_text(&tid("connector-state"), "Needs sign-in")
        .await;
    app.wait_until(&tid("connector-problem"), |t| {
        t.contains(
            "This server's sign-in page is not a web address, so Switchboard did not open it.",
        )
    })
    .await;
    desktop.screenshot("01-not-a-web-page");
    assert!(
        !hostile
            .requests_to("/.well-known/oauth-authorization-server")
            .is_empty(),
        "its metadata was read"
    );
    assert!(hostile.requests_to("/register").is_empty());
    assert!(hostile.requests_to("/authorize").is_empty());
    let log = desktop.app_log();
    assert!(!log.contains(OPENING_A_PAGE), "no browser was opened");
    assert!(kit::browser_log(&browser).is_empty());
    assert!(
        desktop.app_log().contains("connector did not connect"),
        "the log says what happened"
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_that_redirects_elsewhere_is_named_and_gets_no_key() {
    const KEY: &str = "sk-stays-home-4321";
    let elsewhere = kit::Hostile::start();
    let server = kit::Hostile::start();
    let target = elsewhere.url("/mcp");
    server.route("/mcp", move |_| kit::Reply::redirect(307, &target));
    let mut desktop = Desktop::start("redirect_elsewhere");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    add_dialog_choosing_api_key(&app, &server.url("/mcp")).await;
    let header = advanced_header(&app).await;
    app.type_into(&header, "X-API-Key").await.expect("header");
    let key = app.wait_for(&tid("sign-in-key")).await;
    app.type_into(&key, KEY).await.expect("key");
    app.press(keys::ENTER).await.expect("Enter");
    app.wait_gone(&tid("add-dialog")).await;
    app.wait_text(&tid("connector-state"), "Wrong address")
        .await;
    app.wait_until(&tid("connector-problem"), |t| {
        t.contains(&format!("This address moves to {}.", elsewhere.url("/mcp")))
    })
    .await;
    desktop.screenshot("01-moves-elsewhere");
    assert_eq!(
        server.requests_to("/mcp")[0].header("x-api-key"),
        Some(KEY),
        "its own server got the key"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the other server got nothing"
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_in_the_address_can_move_to_the_keyring() {
    const KEY: &str = "sk-from-the-query-8765";
    let server = kit::PythonMcp::requiring_header("Authorization", &format!("Bearer {KEY}"));
    let mut desktop = Desktop::start("secret_in_address");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    open_add_dialog(&app).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    let typed = format!("{}?api_key={KEY}", server.url());
    app.type_into(&input, &typed).await.expect("type");
    let warning = app
        .wait_until(&tid("add-url-secret"), |t| {
            t.contains("looks like a secret (api_key)")
        })
        .await;
    assert!(
        app.text(&warning)
            .await
            .expect("text")
            .contains("settings file"),
        "says where it would end up"
    );
    desktop.screenshot("01-secret-in-address");
    let move_it = app.wait_for(&tid("add-url-secret-move")).await;
    app.click(&move_it).await.expect("Move it");
    // The address loses the key, which is now in the API key field.
    app.wait_gone(&tid("add-url-secret")).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    assert_eq!(
        app.property(&input, "value").await.expect("value"),
        serde_json::json!(server.url())
    );
    let key = app.wait_for(&tid("sign-in-key")).await;
    assert_eq!(
        app.property(&key, "value").await.expect("value"),
        serde_json::json!(KEY)
    );
    desktop.screenshot("02-moved-to-the-key-field");
    app.press(keys::ENTER).await.expect("Enter");
    app.wait_gone(&tid("add-dialog")).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    assert!(
        !settings(&desktop).contains(KEY),
        "not in the settings file"
    );
    assert!(desktop.keyring_listing().contains(KEY), "in the keyring");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_their_own_client_id_a_person_is_shown_the_redirect_to_allow() {
    let server = kit::PythonMcp::start();
    let mut desktop = Desktop::start("own_client_redirect");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;

    open_add_dialog(&app).await;
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, server.url()).await.expect("type");
    let advanced = app.wait_for(&tid("advanced-toggle")).await;
    app.click(&advanced).await.expect("Advanced settings");
    let client_id = app.wait_for(&tid("sign-in-client-id")).await;
    app.type_into(&client_id, "my-own-client")
        .await
        .expect("client id");
    app.press(keys::ENTER).await.expect("Enter");
    app.wait_gone(&tid("add-dialog")).await;
    let row = row_named(&app, kit::PYTHON_SERVER_NAME).await;
    app.click(&row).await.expect("open");
    let redirect = app
        .wait_until(&tid("sign-in-redirect"), |t| {
            t.contains("io.switchboard.desktop:")
        })
        .await;
    let id = &connector_ids(&desktop)[0];
    assert!(
        app.text(&redirect)
            .await
            .expect("text")
            .ends_with(&format!("io.switchboard.desktop:/oauth/callback/{id}")),
        "this connector's own redirect"
    );
    app.execute(
        "document.querySelector('[data-testid=\"sign-in-section\"]').scrollIntoView();",
        serde_json::json!([]),
    )
    .await
    .expect("scroll to the sign-in section");
    desktop.screenshot("01-redirect-to-allow");
    app.quit().await;
}

/// Polls the authorization server until `accept` holds for its stats.
async fn until_stats(
    auth: &kit::AuthServer,
    what: &str,
    accept: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let stats = auth.stats().await;
        if accept(&stats) {
            return stats;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {stats}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refreshed_tokens_are_kept_in_the_keyring_and_used_after_a_restart() {
    // Access tokens live 6 seconds; each refresh rotates the refresh token, and using an
    // old one would be refused (and end the grant).
    let auth = kit::AuthServer::builder()
        .access_ttl(std::time::Duration::from_secs(6))
        .start();
    let mut desktop = Desktop::start("oauth_refresh");
    with_test_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    add_by_address(&app, auth.mcp_url()).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    let signed_in = tokens_in_keyring(&desktop);
    assert_eq!(signed_in.len(), 2, "an access and a refresh token");

    // Left alone, the app refreshes in the background, and the keyring follows.
    until_stats(&auth, "two refreshes", |s| {
        s["refreshes"].as_u64().unwrap_or_default() >= 2
    })
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rotated = loop {
        let now = tokens_in_keyring(&desktop);
        if now.len() == 2 && now[1] != signed_in[1] {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the keyring kept {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_ne!(rotated[0], signed_in[0], "a new access token");
    app.wait_text(&tid("connector-state"), "Connected").await;

    // A restart uses what the keyring holds now: it connects without the browser, and
    // the rotated refresh token keeps working.
    app.quit().await;
    desktop.wait_until_no_app();
    let refreshes = auth.stats().await["refreshes"].as_u64().unwrap_or_default();
    let app = driver.open_app().await;
    row_named(&app, kit::OAUTH_SERVER_NAME).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    until_stats(&auth, "a refresh after the restart", |s| {
        s["refreshes"].as_u64().unwrap_or_default() > refreshes
    })
    .await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    let stats = auth.stats().await;
    assert_eq!(
        stats["authorization_requests"], 1,
        "no browser since: {stats}"
    );
    assert_eq!(
        stats["token_errors"],
        serde_json::json!({}),
        "no refresh was refused: {stats}"
    );
    desktop.screenshot("01-still-connected-after-refreshes-and-a-restart");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_follows_the_systems_light_or_dark_theme() {
    for (theme, dark) in [("Adwaita", false), ("Adwaita:dark", true)] {
        let mut desktop = Desktop::start(if dark { "theme_dark" } else { "theme_light" });
        desktop.set_env("GTK_THEME", theme);
        let driver = desktop.driver();
        let app = driver.open_app().await;
        app.wait_for(&tid("connectors-page")).await;
        let seen = app
            .execute(
                "return [window.matchMedia('(prefers-color-scheme: dark)').matches,
                         getComputedStyle(document.body).backgroundColor];",
                serde_json::json!([]),
            )
            .await
            .expect("the page's colours");
        assert_eq!(seen[0], dark, "{theme}: {seen}");
        // The background's lightness: rgb(r, g, b).
        let rgb: Vec<u32> = seen[1]
            .as_str()
            .expect("a colour")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        assert_eq!(rgb.len(), 3, "{seen}");
        let lightness = rgb.iter().sum::<u32>() / 3;
        assert_eq!(lightness < 128, dark, "{theme}: background {seen}");
        desktop.screenshot("01-connectors");
        app.quit().await;
    }
}

/// Keyboard focus is visible on every control of a connector's page: Tab through it, and
/// each control that takes focus shows a ring of at least 2 px (an outline, or a ring drawn
/// as a box shadow), by its computed style.
#[tokio::test(flavor = "multi_thread")]
async fn keyboard_focus_is_visible_on_every_control_of_a_connectors_page() {
    let server = kit::PythonMcp::start();
    let mut desktop = Desktop::start("focus_ring");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, server.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open");
    app.wait_for(&tid("tool-item")).await;
    let mut seen = Vec::new();
    let mut missing = Vec::new();
    for _ in 0..120 {
        app.press(keys::TAB).await.expect("Tab");
        let focused = app
            .execute(
                "const e = document.activeElement;
                 if (!e || e === document.body) { return null; }
                 const s = getComputedStyle(e);
                 const id = e.getAttribute('data-testid') || e.getAttribute('aria-label')
                     || (e.textContent || '').trim().slice(0, 40) || e.tagName;
                 return {id, tag: e.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
                         shadow: s.boxShadow};",
                serde_json::json!([]),
            )
            .await
            .expect("the focused element");
        if focused.is_null() {
            continue;
        }
        let key = format!("{}:{}", focused["tag"], focused["id"]);
        if seen.contains(&key) {
            // Round the page once.
            if seen.len() > 10 {
                break;
            }
            continue;
        }
        let ring = (focused["outline"] != "none"
            && focused["width"].as_f64().unwrap_or(0.0) >= 2.0)
            || focused["shadow"].as_str().is_some_and(|s| s != "none");
        if !ring {
            missing.push(key.clone());
        }
        seen.push(key);
    }
    assert!(seen.len() > 10, "Tab reached the page's controls: {seen:?}");
    assert!(
        missing.is_empty(),
        "no visible focus on {missing:?} (of {seen:?})"
    );
    app.quit().await;
}

/// The words a person reads: no developer text outside Details and About this server, in
/// the light and the dark theme (each page is photographed in both).
#[tokio::test(flavor = "multi_thread")]
async fn no_developer_text_outside_details_and_about_this_server() {
    let server = kit::PythonMcp::start();
    let missing = kit::Garbage::not_found();
    let failing = kit::Garbage::server_error();
    for (theme, look) in [("Adwaita", "light"), ("Adwaita:dark", "dark")] {
        let mut desktop = Desktop::start(&format!("glossary_{look}"));
        desktop.set_env("GTK_THEME", theme);
        glossary_pass(
            &mut desktop,
            &[server.url(), missing.url(), failing.url()],
            look,
        )
        .await;
    }
}

async fn glossary_pass(desktop: &mut Desktop, urls: &[&str], look: &str) {
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    for url in urls {
        add_by_address(&app, url).await;
    }
    app.wait_until(&tid("connector-state"), |t| t == "Connected")
        .await;
    app.wait_until(&tid("connector-state"), |t| t == "Wrong address")
        .await;
    app.wait_until(&tid("connector-state"), |t| t == "Server problem")
        .await;
    const VISIBLE_TEXT: &str = "
        const clone = document.body.cloneNode(true);
        clone.querySelectorAll('details, .about-server').forEach(e => e.remove());
        const box = document.createElement('div');
        box.style.position = 'absolute';
        box.style.left = '-10000px';
        box.appendChild(clone);
        document.body.appendChild(box);
        const text = box.innerText;
        box.remove();
        return text;";
    let forbidden = |text: &str| -> Vec<String> {
        let lower = text.to_lowercase();
        let mut found: Vec<String> = ["mcp handshake", "protocol version", "endpoint", "some("]
            .into_iter()
            .filter(|word| lower.contains(word))
            .map(str::to_owned)
            .collect();
        // A bare HTTP status: a three-digit 4xx or 5xx number standing alone.
        for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            if word.len() == 3
                && word.starts_with(['4', '5'])
                && word.chars().all(|c| c.is_ascii_digit())
            {
                found.push(word.to_owned());
            }
        }
        found
    };
    let mut pages = vec![("list".to_owned(), String::new())];
    for name in texts(&app, &tid("connector-name")).await {
        pages.push((name, String::new()));
    }
    for (page, _) in &mut pages {
        if page != "list" {
            let nav = app.wait_for(&tid("nav-connectors")).await;
            app.click(&nav).await.expect("Connectors");
            let row = app
                .wait_for(&format!("{}[data-name=\"{page}\"]", tid("connector-row")))
                .await;
            app.click(&row).await.expect("open");
            app.wait_for(&tid("connector-detail")).await;
            app.wait_for(&tid("sign-in-summary")).await;
        }
        let text = app
            .execute(VISIBLE_TEXT, serde_json::json!([]))
            .await
            .expect("visible text");
        let text = text.as_str().unwrap_or_default().to_owned();
        assert!(!text.trim().is_empty(), "{page}: some text");
        assert_eq!(forbidden(&text), Vec::<String>::new(), "{page}: {text}");
        let shot: String = page
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        desktop.screenshot(&format!("{look}-{shot}"));
    }
    // The quieter actions and the Edit dialog, in this theme too.
    let more = app.wait_for(&tid("more-button")).await;
    app.click(&more).await.expect("More");
    app.wait_for(&format!("{}:not([hidden])", tid("more-menu")))
        .await;
    desktop.screenshot(&format!("{look}-more-menu"));
    app.press(keys::ESCAPE).await.expect("Escape");
    app.wait_for(&format!("{}[hidden]", tid("more-menu"))).await;
    assert_focused(&app, "more-button").await;
    let edit = app.wait_for(&tid("edit-button")).await;
    app.click(&edit).await.expect("Edit");
    app.wait_for(&tid("edit-dialog")).await;
    app.wait_for(".field-ok").await;
    desktop.screenshot(&format!("{look}-edit-dialog"));
    // The key and password forms, as a person choosing them sees them (nothing is saved).
    for (kind, field) in [("api-key", "sign-in-key"), ("basic", "sign-in-password")] {
        let segment = app.wait_for(&tid(&format!("sign-in-kind-{kind}"))).await;
        app.click(&segment).await.expect("choose the kind");
        app.wait_for(&tid(field)).await;
        desktop.screenshot(&format!("{look}-edit-dialog-{kind}"));
    }
    app.press(keys::ESCAPE).await.expect("Escape");
    app.wait_gone(&tid("edit-dialog")).await;
    assert_focused(&app, "edit-button").await;
    app.quit().await;
}
