//! Tools under the person's control, in the real window: Allow · Ask · Off on the
//! connector's page, the approval card in the conversation (Allow once, Always allow, Deny),
//! what the model receives, and what the page shows afterwards.

use serde_json::{Value, json};
use switchboard_testkit as kit;
use switchboard_testkit::desktop::Desktop;
use switchboard_testkit::webdriver::{Session, tid};
use switchboard_testkit::{ModelReply, ModelServer};

use super::chat::{add_provider, request_number, send};
use super::{add_by_address, texts};

/// On a connector's page: opens its settings and types `secs` into the call time limit, with
/// Enter.
pub(super) async fn set_call_timeout(app: &Session, secs: u32) {
    let options = app
        .wait_for(&format!("{} summary", tid("tool-options")))
        .await;
    app.click(&options).await.expect("open the settings");
    let timeout = app.wait_for(&tid("call-timeout")).await;
    app.clear(&timeout).await.expect("clear");
    app.type_into(
        &timeout,
        &format!("{secs}{}", switchboard_testkit::webdriver::keys::ENTER),
    )
    .await
    .unwrap_or_else(|err| panic!("type {secs}: {err}"));
}

/// The connector's page, Tools tab, with the tool named `tool` found.
async fn tool_row(app: &Session, tool: &str) -> String {
    tool_row_of(app, None, tool).await
}

/// [`tool_row`] on the page of the connector named `connector` (else the first).
pub(super) async fn tool_row_of(app: &Session, connector: Option<&str>, tool: &str) -> String {
    let nav = app.wait_for(&tid("nav-connectors")).await;
    app.click(&nav).await.expect("Connectors");
    let row = match connector {
        Some(name) => format!("{}[data-name=\"{name}\"]", tid("connector-row")),
        None => tid("connector-row"),
    };
    let row = app.wait_for(&row).await;
    app.click(&row).await.expect("open the connector");
    let tab = app.wait_for(&tid("tab-tools")).await;
    app.click(&tab).await.expect("Tools tab");
    let row = format!("{}[data-name=\"{tool}\"]", tid("tool-item"));
    app.wait_for(&row).await;
    row
}

/// Whether the tool's control shows `mode` (allow, ask, off) as chosen.
pub(super) async fn shows_mode(app: &Session, row: &str, mode: &str) {
    app.wait_for(&format!(
        "{row} {}[aria-checked=\"true\"]",
        tid(&format!("tool-mode-{mode}"))
    ))
    .await;
}

/// The tool names the model was offered in request `n`.
async fn offered(models: &ModelServer, n: usize) -> Vec<String> {
    let body = request_number(models, n).await;
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The content the model received for tool call `id` in request `n`.
pub(super) async fn tool_result_sent(models: &ModelServer, n: usize, id: &str) -> Value {
    let body = request_number(models, n).await;
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == id)
        .map(|m| m["content"].clone())
        .unwrap_or_else(|| panic!("no result for {id} in {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_are_allowed_asked_about_or_off_as_the_person_chooses() {
    let models = ModelServer::start();
    models.models(&["tool-model"]);
    let server = kit::PythonMcp::start();
    let mut desktop = Desktop::start("tools_permissions");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, server.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;

    // Every tool starts at Ask; "fail" is turned off.
    let fail = tool_row(&app, "fail").await;
    shows_mode(&app, &fail, "ask").await;
    let off = app
        .wait_for(&format!("{fail} {}", tid("tool-mode-off")))
        .await;
    app.click(&off).await.expect("Off");
    shows_mode(&app, &fail, "off").await;
    desktop.screenshot("00-tools-page");

    // The model calls echo, which asks: the card, then Allow once.
    models.push(ModelReply::new().tool_call(
        "call_1",
        "python_fixture__echo",
        json!({"message": "hi there"}),
    ));
    models.push(ModelReply::text("Echo said hi there."));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    send(&app, "Use echo").await;
    let card = app.wait_for(&tid("approval-card")).await;
    let card_text = app.text(&card).await.expect("card");
    assert!(
        card_text.contains("Python Fixture wants to use echo"),
        "{card_text}"
    );
    assert!(card_text.contains("hi there"), "the arguments: {card_text}");
    assert!(card_text.contains("Not used today yet"), "{card_text}");
    desktop.screenshot("01-approval-card");
    let tools = offered(&models, 1).await;
    assert!(
        tools.contains(&"python_fixture__echo".to_owned()),
        "{tools:?}"
    );
    assert!(
        !tools.contains(&"python_fixture__fail".to_owned()),
        "Off is not offered: {tools:?}"
    );
    let allow = app.wait_for(&tid("approval-allow-once")).await;
    app.click(&allow).await.expect("Allow once");
    app.wait_gone(&tid("approval-card")).await;
    app.wait_until(&tid("messages"), |t| t.contains("Echo said hi there."))
        .await;
    assert!(
        tool_result_sent(&models, 2, "call_1")
            .await
            .to_string()
            .contains("hi there"),
        "the result reached the model"
    );
    // The result shows under the tool's name and connector.
    app.wait_text(&tid("tool-call-name"), "echo").await;
    app.wait_text(&tid("tool-call-connector"), "from Python Fixture")
        .await;
    app.wait_text(&tid("tool-result-title"), "Result of echo")
        .await;
    app.wait_until(&tid("tool-result-text"), |t| t.contains("hi there"))
        .await;
    desktop.screenshot("02-tool-result");

    // Always allow: this call runs, and the next one without a card.
    models.push(ModelReply::new().tool_call(
        "call_2",
        "python_fixture__echo",
        json!({"message": "second"}),
    ));
    models.push(ModelReply::text("Second done."));
    send(&app, "Again").await;
    let always = app.wait_for(&tid("approval-always")).await;
    app.click(&always).await.expect("Always allow");
    app.wait_until(&tid("messages"), |t| t.contains("Second done."))
        .await;
    models.push(ModelReply::new().tool_call(
        "call_3",
        "python_fixture__echo",
        json!({"message": "third"}),
    ));
    models.push(ModelReply::text("Third done without asking."));
    send(&app, "Once more").await;
    app.wait_until(&tid("messages"), |t| {
        t.contains("Third done without asking.")
    })
    .await;
    assert!(
        tool_result_sent(&models, 6, "call_3")
            .await
            .to_string()
            .contains("third"),
        "ran without a card"
    );
    assert!(
        app.find_all(&tid("approval-card"))
            .await
            .expect("find")
            .is_empty()
    );

    // Deny: the model reads the refusal, and so does the person.
    models.push(ModelReply::new().tool_call(
        "call_4",
        "python_fixture__add",
        json!({"a": 1, "b": 2}),
    ));
    models.push(ModelReply::text("Understood, no adding."));
    send(&app, "Add them").await;
    let deny = app.wait_for(&tid("approval-deny")).await;
    app.click(&deny).await.expect("Deny");
    app.wait_until(&tid("messages"), |t| t.contains("Understood, no adding."))
        .await;
    assert!(
        tool_result_sent(&models, 8, "call_4")
            .await
            .to_string()
            .contains("The person denied this call."),
        "the model was told"
    );
    let refused = app
        .wait_for(&format!("{}[data-error=\"true\"]", tid("tool-result")))
        .await;
    assert!(
        app.text(&refused)
            .await
            .expect("text")
            .contains("The person denied this call.")
    );
    desktop.screenshot("03-denied");

    // The page shows what Always allow set.
    let echo = tool_row(&app, "echo").await;
    shows_mode(&app, &echo, "allow").await;
    let add = format!("{}[data-name=\"add\"]", tid("tool-item"));
    shows_mode(&app, &add, "ask").await;
    let allow_add = app
        .wait_for(&format!("{add} {}", tid("tool-mode-allow")))
        .await;
    app.click(&allow_add).await.expect("Allow add");
    shows_mode(&app, &add, "allow").await;

    // The server changes echo: only echo is Changed, and its next call asks again.
    assert_eq!(server.change_tool().await, 1);
    app.wait_for(&format!("{echo} {}", tid("tool-changed")))
        .await;
    app.wait_until(&format!("{echo} {}", tid("tool-changed-detail")), |t| {
        t.starts_with("The server changed this tool since you allowed it, so Switchboard asks again before each use.")
    })
    .await;
    let description = app
        .wait_for(&format!("{echo} {}", tid("tool-changed-description")))
        .await;
    let description = app.text(&description).await.expect("text");
    assert!(
        description.contains("Return the message unchanged.")
            && description.contains("Return the message unchanged (changed 1)."),
        "old and new: {description}"
    );
    app.wait_text(
        &format!("{echo} {}", tid("tool-changed-inputs")),
        "New input “loud” (boolean).",
    )
    .await;
    shows_mode(&app, &add, "allow").await;
    assert!(
        app.find_all(&format!("{add} {}", tid("tool-changed")))
            .await
            .expect("find")
            .is_empty(),
        "its neighbour keeps Allow"
    );
    desktop.screenshot("04-changed");
    // A tool that appears while the page is open is New; the others are not.
    assert_eq!(server.add_tool().await, 1);
    app.wait_for(&format!(
        "{}[data-name=\"added_tool_1\"] {}",
        tid("tool-item"),
        tid("tool-new")
    ))
    .await;
    assert_eq!(
        texts(&app, &tid("tool-new")).await.len(),
        1,
        "only the new tool"
    );
    models.push(ModelReply::new().tool_call(
        "call_5",
        "python_fixture__echo",
        json!({"message": "changed"}),
    ));
    models.push(ModelReply::text("Changed echo ran."));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    send(&app, "Echo after the change").await;
    app.wait_for(&tid("approval-changed")).await;
    let allow = app.wait_for(&tid("approval-allow-once")).await;
    app.click(&allow).await.expect("Allow once");
    app.wait_until(&tid("messages"), |t| t.contains("Changed echo ran."))
        .await;

    // A limit of 1 call per conversation: echo ran once in this chat, so the next is
    // refused without a card, in words, to the model and to the person.
    let echo = tool_row(&app, "echo").await;
    let toggle = app
        .wait_for(&format!("{echo} {}", tid("tool-limits-toggle")))
        .await;
    app.click(&toggle).await.expect("Limits");
    app.wait_text(
        &format!("{echo} {}", tid("tool-used-today")),
        "Used 4 times today",
    )
    .await;
    let per_conversation = app
        .wait_for(&format!("{echo} {}", tid("tool-limit-conversation")))
        .await;
    app.type_into(
        &per_conversation,
        &format!("1{}", switchboard_testkit::webdriver::keys::ENTER),
    )
    .await
    .expect("type 1");
    app.wait_text(
        &format!("{echo} {}", tid("tool-limits-toggle")),
        "Limits (set)",
    )
    .await;
    desktop.screenshot("05-limits");
    // The connector's own settings: a call timeout, kept when the page is opened again.
    set_call_timeout(&app, 120).await;
    let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
    loop {
        tool_row(&app, "echo").await;
        let timeout = app.wait_for(&tid("call-timeout")).await;
        if app.property(&timeout, "value").await.expect("value") == json!("120") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the timeout was not kept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let chat_item = app
        .wait_for(&format!(
            "{}[data-title=\"Echo after the change\"] {}",
            tid("chat-item"),
            tid("open-chat")
        ))
        .await;
    app.click(&chat_item).await.expect("back to the chat");
    models.push(ModelReply::new().tool_call(
        "call_6",
        "python_fixture__echo",
        json!({"message": "over"}),
    ));
    models.push(ModelReply::text("The limit stopped it."));
    send(&app, "Echo once more").await;
    app.wait_until(&tid("messages"), |t| t.contains("The limit stopped it."))
        .await;
    assert!(
        tool_result_sent(&models, 12, "call_6")
            .await
            .to_string()
            .contains("The limit of 1 call per conversation for this tool is reached."),
        "the model was told"
    );
    assert!(
        app.find_all(&tid("approval-card"))
            .await
            .expect("find")
            .is_empty()
    );
    // Settings → Activity lists every call with what decided it, filters, exports.
    let nav = app.wait_for(&tid("nav-activity")).await;
    app.click(&nav).await.expect("Activity");
    app.wait_for(&tid("activity-list")).await;
    let rules = texts(&app, &tid("activity-rule")).await;
    let rules: Vec<String> = rules
        .iter()
        .map(|r| r.split(" · ").next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        rules,
        [
            "Decided by: tool limit per conversation",
            "Decided by: allowed once by the person",
            "Decided by: denied by the person",
            "Decided by: allowed",
            "Decided by: always allowed by the person",
            "Decided by: allowed once by the person",
        ]
        .map(str::to_owned),
        "newest first"
    );
    desktop.screenshot("06-activity");
    app.execute(
        "const s = document.querySelector(arguments[0]); s.value = 'refused'; s.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([tid("filter-outcome")]),
    )
    .await
    .expect("filter");
    let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
    while texts(&app, &tid("activity-row")).await.len() != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the filter never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let export = app.wait_for(&tid("export-activity")).await;
    app.click(&export).await.expect("Export");
    let done = app.wait_for(&tid("export-done")).await;
    let said = app.text(&done).await.expect("text");
    let path = said
        .trim()
        .strip_prefix("Saved to ")
        .expect("a path")
        .to_owned();
    let csv = std::fs::read_to_string(&path).expect("the exported file");
    assert_eq!(csv.lines().count(), 7, "a header and six calls: {csv}");
    assert!(csv.contains("denied by the person"));
    let open = app.wait_for(&tid("activity-open-chat")).await;
    app.click(&open).await.expect("open the conversation");
    app.wait_until(&tid("messages"), |t| t.contains("The limit stopped it."))
        .await;
    app.quit().await;
}

/// What tools return, shown as a person expects (server-everything: an image, links read
/// when opened, a structured result as a tree), a slow tool's progress with the Stop on its
/// block and the reply's Stop (the server sees both calls cancelled), and everything intact
/// after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn tool_results_show_as_they_are_slow_tools_stop_and_all_survives_a_restart() {
    let models = ModelServer::start();
    models.models(&["tool-model"]);
    let everything = kit::Everything::start();
    let python = kit::PythonMcp::start();
    let mut desktop = Desktop::start("tools_results");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, everything.url()).await;
    add_by_address(&app, python.url()).await;
    for name in [kit::EVERYTHING_SERVER_TITLE, "Python Fixture"] {
        app.wait_until(
            &format!("{}[data-name=\"{name}\"]", tid("connector-row")),
            |t| t.contains("Connected"),
        )
        .await;
    }
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;
    // server-everything's tools say they only read: the bulk action allows them.
    let image_row = tool_row_of(&app, Some(kit::EVERYTHING_SERVER_TITLE), "get-tiny-image").await;
    let bulk = app.wait_for(&tid("bulk-allow-read-only")).await;
    app.click(&bulk)
        .await
        .expect("Allow tools that say they only read");
    shows_mode(&app, &image_row, "allow").await;

    // One reply, three calls: they run together, each result shown as what it is.
    let tool = |name: &str| format!("everything_reference_server__{name}");
    models.push(
        ModelReply::new()
            .tool_call("img", &tool("get-tiny-image"), json!({}))
            .tool_call("links", &tool("get-resource-links"), json!({"count": 2}))
            .tool_call(
                "weather",
                &tool("get-structured-content"),
                json!({"location": "Chicago"}),
            ),
    );
    models.push(ModelReply::text("Three tools ran."));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    send(&app, "Show me what tools return").await;
    app.wait_until(&tid("messages"), |t| t.contains("Three tools ran."))
        .await;
    let image = app.wait_for(&tid("tool-result-image")).await;
    let src = app
        .attribute(&image, "src")
        .await
        .expect("src")
        .unwrap_or_default();
    assert!(src.starts_with("data:image/png;base64,"), "{src}");
    let loaded = app
        .execute(
            "return document.querySelector(arguments[0]).naturalWidth;",
            json!([tid("tool-result-image")]),
        )
        .await
        .expect("the image's width");
    assert!(
        loaded.as_u64().is_some_and(|w| w > 0),
        "the image shows: {loaded}"
    );
    let links = texts(&app, &tid("link-chip")).await;
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(links[1].starts_with("Text Resource 2"), "{links:?}");
    let tree = app.wait_for(&tid("tool-structured")).await;
    let tree = app.text(&tree).await.expect("the tree");
    for expected in [
        "temperature",
        "36",
        "conditions",
        "Light rain / drizzle",
        "humidity",
    ] {
        assert!(tree.contains(expected), "{expected} in {tree}");
    }
    // The text twin of the structured result is not shown twice.
    let shown = texts(&app, &tid("tool-result-text")).await;
    assert!(
        !shown.iter().any(|t| t.contains("\"temperature\"")),
        "{shown:?}"
    );
    desktop.screenshot("10-results");
    // What the model read: the image named (Chat Completions takes text only there), the
    // links named, the weather once.
    assert!(
        tool_result_sent(&models, 2, "img")
            .await
            .to_string()
            .contains("[an image (image/png) was returned]")
    );
    let links_sent = tool_result_sent(&models, 2, "links").await.to_string();
    assert!(
        links_sent.contains("A resource is referred to") && links_sent.contains("Text Resource 2"),
        "{links_sent}"
    );
    let weather = tool_result_sent(&models, 2, "weather").await;
    assert_eq!(
        weather.as_str().map(|w| w.matches("temperature").count()),
        Some(1),
        "{weather}"
    );
    // A link is read from its connector when opened.
    let text_link = app
        .find_all(&format!("{} button", tid("link-chip")))
        .await
        .expect("links")
        .pop()
        .expect("the second link");
    app.click(&text_link).await.expect("open the link");
    app.wait_until(&tid("preview-body"), |t| t.contains("Resource 2"))
        .await;
    desktop.screenshot("11-link-preview");
    app.press(switchboard_testkit::webdriver::keys::ESCAPE)
        .await
        .expect("Escape");
    app.wait_gone(&tid("preview-body")).await;

    // A slow tool: its progress, then the Stop on its block.
    models.push(ModelReply::new().tool_call(
        "slow",
        "python_fixture__sleep",
        json!({"seconds": 30}),
    ));
    models.push(ModelReply::text("You stopped the wait."));
    send(&app, "Wait half a minute").await;
    let allow = app.wait_for(&tid("approval-allow-once")).await;
    app.click(&allow).await.expect("Allow once");
    app.wait_until(&tid("tool-progress-message"), |t| t.ends_with("of 30 s"))
        .await;
    app.wait_until(&tid("tool-progress-percent"), |t| t.ends_with('%'))
        .await;
    // The bar is out of the server's total, 30 seconds.
    let bar = app.wait_for(&tid("tool-progress")).await;
    let max = app.property(&bar, "max").await.expect("max");
    assert_eq!(max.as_f64(), Some(30.0), "{max}");
    desktop.screenshot("12-progress");
    let stop = app.wait_for(&tid("tool-stop")).await;
    app.click(&stop).await.expect("Stop the call");
    app.wait_until(&tid("messages"), |t| t.contains("You stopped the wait."))
        .await;
    python.wait_cancelled("sleep 30").await;
    assert!(
        tool_result_sent(&models, 4, "slow")
            .await
            .to_string()
            .contains("The person stopped this call."),
        "the model was told"
    );
    app.wait_gone(&tid("tool-running")).await;

    // The reply's Stop while a tool runs: the call is cancelled too.
    models.push(ModelReply::new().tool_call(
        "slower",
        "python_fixture__sleep",
        json!({"seconds": 31}),
    ));
    send(&app, "Wait a little longer").await;
    let allow = app.wait_for(&tid("approval-allow-once")).await;
    app.click(&allow).await.expect("Allow once");
    app.wait_for(&tid("tool-running")).await;
    let stop = app.wait_for(&tid("stop-reply")).await;
    app.click(&stop).await.expect("Stop the reply");
    python.wait_cancelled("sleep 31").await;
    app.wait_gone(&tid("tool-running")).await;
    app.quit().await;

    // After a restart: the results, the page's choices and counts, the activity.
    let app = driver.open_app().await;
    let chat_item = app
        .wait_for(&format!(
            "{}[data-title=\"Show me what tools return\"] {}",
            tid("chat-item"),
            tid("open-chat")
        ))
        .await;
    app.click(&chat_item).await.expect("open the chat");
    app.wait_for(&tid("tool-result-image")).await;
    app.wait_until(&tid("tool-structured"), |t| {
        t.contains("Light rain / drizzle")
    })
    .await;
    assert_eq!(texts(&app, &tid("link-chip")).await.len(), 2);
    let links_row = tool_row_of(
        &app,
        Some(kit::EVERYTHING_SERVER_TITLE),
        "get-resource-links",
    )
    .await;
    shows_mode(&app, &links_row, "allow").await;
    let toggle = app
        .wait_for(&format!("{links_row} {}", tid("tool-limits-toggle")))
        .await;
    app.click(&toggle).await.expect("Limits");
    app.wait_text(
        &format!("{links_row} {}", tid("tool-used-today")),
        "Used once today",
    )
    .await;
    let nav = app.wait_for(&tid("nav-activity")).await;
    app.click(&nav).await.expect("Activity");
    app.wait_for(&tid("activity-list")).await;
    let rules: Vec<String> = texts(&app, &tid("activity-rule"))
        .await
        .iter()
        .map(|r| r.split(" · ").next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(rules.len(), 5, "{rules:?}");
    assert_eq!(
        rules[..2],
        [
            "Decided by: allowed once by the person".to_owned(),
            "Decided by: allowed once by the person".to_owned(),
        ],
        "newest first"
    );
    assert!(
        rules[2..].iter().all(|r| r == "Decided by: allowed"),
        "{rules:?}"
    );
    desktop.screenshot("13-activity-after-restart");
    app.quit().await;
}

/// A tool the server refuses for want of access: the block says so and offers to sign in
/// again; the browser grants the scope the server named, and the next call runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_tool_that_needs_more_access_offers_to_sign_in_again() {
    let models = ModelServer::start();
    models.models(&["tool-model"]);
    let auth = kit::AuthServer::start();
    let mut desktop = Desktop::start("tools_step_up");
    let browser = super::with_test_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, auth.mcp_url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;
    let reset = tool_row(&app, "reset").await;
    let allow = app
        .wait_for(&format!("{reset} {}", tid("tool-mode-allow")))
        .await;
    app.click(&allow).await.expect("Allow");
    shows_mode(&app, &reset, "allow").await;

    models.push(ModelReply::new().tool_call("r1", "oauth_fixture__reset", json!({})));
    models.push(ModelReply::text("It needs more access."));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    send(&app, "Reset my test data").await;
    app.wait_until(&tid("messages"), |t| t.contains("It needs more access."))
        .await;
    assert!(
        tool_result_sent(&models, 2, "r1")
            .await
            .to_string()
            .contains("This tool needs more access. Sign in again to grant it."),
        "the model was told"
    );
    let button = app.wait_for(&tid("tool-step-up-button")).await;
    desktop.screenshot("20-needs-more-access");
    app.click(&button).await.expect("Sign in again");
    app.wait_text(
        &tid("tool-step-up-status"),
        "Signed in again. Ask again to use the tool.",
    )
    .await;
    desktop.screenshot("21-signed-in-again");
    super::browser_runs(&browser, 2).await;
    let stats = auth.stats().await;
    assert_eq!(stats["authorizations"], 2, "{stats}");
    let asked = stats["scopes_requested"][1].as_str().unwrap_or_default();
    assert!(
        asked.contains(kit::OAUTH_ADMIN_SCOPE) && asked.contains(kit::OAUTH_SCOPE),
        "the scope named and the one granted: {asked}"
    );

    models.push(ModelReply::new().tool_call("r2", "oauth_fixture__reset", json!({})));
    models.push(ModelReply::text("Reset done."));
    send(&app, "Try again").await;
    app.wait_until(&tid("messages"), |t| t.contains("Reset done."))
        .await;
    assert!(
        tool_result_sent(&models, 4, "r2")
            .await
            .to_string()
            .contains(&format!("reset done for {}", kit::OAUTH_USERNAME)),
        "the call ran"
    );
    app.quit().await;
}

/// A server with 2,000 tools: the page draws only the rows near the view, scrolls to the
/// last one, and the filter finds a tool to flip.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_with_thousands_of_tools_stays_usable() {
    let server = kit::PythonMcp::with_many_tools(2_000);
    let mut desktop = Desktop::start("tools_many");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, server.url()).await;
    app.wait_until(&tid("connector-counts"), |t| t.starts_with("2,004 tools"))
        .await;
    let first = tool_row(&app, "add").await;
    shows_mode(&app, &first, "ask").await;
    let drawn = app.find_all(&tid("tool-item")).await.expect("rows").len();
    assert!(
        (5..200).contains(&drawn),
        "only the rows near the view are in the page: {drawn}"
    );
    // Scrolled to the end, the last tool is there.
    app.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'end'});",
        json!([tid("tool-list")]),
    )
    .await
    .expect("scroll to the end");
    app.wait_for(&format!("{}[data-name=\"tool-01999\"]", tid("tool-item")))
        .await;
    desktop.screenshot("30-many-tools-end");
    // A query that leaves more tools than the view holds (every eighth tool is a budget one:
    // 16, 104 to 192, 1000 to 1992) still draws only the rows near the view: a tool's row is
    // heavy, and drawing all 138 at once made that key take 160 ms.
    let filter = app.wait_for(&tid("detail-filter")).await;
    app.type_into(&filter, "budget tool 1").await.expect("type");
    app.wait_text(&tid("list-note"), "Showing 138 of 2,004 tools")
        .await;
    let drawn = app.find_all(&tid("tool-item")).await.expect("rows").len();
    assert!(
        (5..138).contains(&drawn),
        "138 tools, only the rows near the view in the page: {drawn}"
    );
    // The filter finds one, which flips like any other.
    app.type_into(&filter, "992").await.expect("type");
    let row = format!("{}[data-name=\"tool-01992\"]", tid("tool-item"));
    app.wait_for(&row).await;
    app.wait_text(&tid("list-note"), "Showing 1 of 2,004 tools")
        .await;
    let allow = app
        .wait_for(&format!("{row} {}", tid("tool-mode-allow")))
        .await;
    app.click(&allow).await.expect("Allow");
    shows_mode(&app, &row, "allow").await;
    desktop.screenshot("31-many-tools-filtered");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_keeps_the_tools_on_the_same_server_another_starts_fresh_and_a_rename_stays() {
    let first = kit::PythonMcp::start();
    let second = kit::PythonMcp::start();
    let mut desktop = Desktop::start("edit_connector");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, first.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    let fail = tool_row(&app, "fail").await;
    let off = app
        .wait_for(&format!("{fail} {}", tid("tool-mode-off")))
        .await;
    app.click(&off).await.expect("Off");
    shows_mode(&app, &fail, "off").await;

    // The same server, its address written another way, under a name of the person's own.
    let edit = app.wait_for(&tid("edit-button")).await;
    app.click(&edit).await.expect("Edit");
    app.wait_for(&tid("edit-dialog")).await;
    let name = app.wait_for(&tid("add-name-input")).await;
    assert_eq!(
        app.property(&name, "value").await.expect("value"),
        json!(kit::PYTHON_SERVER_NAME),
        "the dialog starts from what is saved"
    );
    app.clear(&name).await.expect("clear");
    app.type_into(&name, "Team tools").await.expect("type");
    let url = app.wait_for(&tid("add-url-input")).await;
    app.clear(&url).await.expect("clear");
    app.type_into(&url, &format!("{}?team=a", first.url()))
        .await
        .expect("type");
    app.wait_for(".field-ok").await;
    assert!(
        texts(&app, &tid("edit-other-server")).await.is_empty(),
        "the same server: nothing starts fresh"
    );
    desktop.screenshot("01-edit-same-server");
    let save = app.wait_for(&tid("edit-save")).await;
    app.click(&save).await.expect("Save");
    app.wait_gone(&tid("edit-dialog")).await;
    app.wait_text(&tid("detail-name"), "Team tools").await;
    app.wait_text(&tid("detail-state"), "Connected").await;
    let fail = tool_row_of(&app, Some("Team tools"), "fail").await;
    shows_mode(&app, &fail, "off").await;

    // The name is the person's: it stays after a restart, the server's own name aside.
    app.quit().await;
    desktop.wait_until_no_app();
    let app = driver.open_app().await;
    let row = format!("{}[data-name=\"Team tools\"]", tid("connector-row"));
    app.wait_until(&row, |t| t.contains("Connected")).await;
    let fail = tool_row_of(&app, Some("Team tools"), "fail").await;
    shows_mode(&app, &fail, "off").await;

    // Another server: said before saving, and its tools start at Ask.
    let edit = app.wait_for(&tid("edit-button")).await;
    app.click(&edit).await.expect("Edit");
    let url = app.wait_for(&tid("add-url-input")).await;
    app.clear(&url).await.expect("clear");
    app.type_into(&url, second.url()).await.expect("type");
    app.wait_until(&tid("edit-other-server"), |t| t.contains("start fresh"))
        .await;
    desktop.screenshot("02-edit-other-server");
    let save = app.wait_for(&tid("edit-save")).await;
    app.click(&save).await.expect("Save");
    app.wait_gone(&tid("edit-dialog")).await;
    app.wait_text(&tid("detail-state"), "Connected").await;
    let fail = tool_row_of(&app, Some("Team tools"), "fail").await;
    shows_mode(&app, &fail, "ask").await;
    desktop.screenshot("03-other-server-fresh");
    app.quit().await;
}
