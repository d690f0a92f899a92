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

/// The connector's page, Tools tab, with the tool named `tool` found.
async fn tool_row(app: &Session, tool: &str) -> String {
    let nav = app.wait_for(&tid("nav-connectors")).await;
    app.click(&nav).await.expect("Connectors");
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open the connector");
    let tab = app.wait_for(&tid("tab-tools")).await;
    app.click(&tab).await.expect("Tools tab");
    let row = format!("{}[data-name=\"{tool}\"]", tid("tool-item"));
    app.wait_for(&row).await;
    row
}

/// Whether the tool's control shows `mode` (allow, ask, off) as chosen.
async fn shows_mode(app: &Session, row: &str, mode: &str) {
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
async fn tool_result_sent(models: &ModelServer, n: usize, id: &str) -> Value {
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
    // The result is folded; a click on its summary shows it.
    let result = app
        .wait_for(&format!("{} summary", tid("tool-result")))
        .await;
    app.click(&result).await.expect("open the result");
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
    app.wait_text(
        &format!("{echo} {}", tid("tool-changed-detail")),
        "The server changed this tool since you allowed it, so Switchboard asks again before each use.\nWhen you allowed it: Return the message unchanged.",
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
    let options = app
        .wait_for(&format!("{} summary", tid("tool-options")))
        .await;
    app.click(&options).await.expect("open the settings");
    let timeout = app.wait_for(&tid("call-timeout")).await;
    app.clear(&timeout).await.expect("clear");
    app.type_into(
        &timeout,
        &format!("120{}", switchboard_testkit::webdriver::keys::ENTER),
    )
    .await
    .expect("type 120");
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
