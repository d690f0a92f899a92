//! A server asking the person for input while a tool runs, in the real window: the switch
//! on the connector's page, a form built from the server's fields (a wrong value refused in
//! words, the dialog kept), Escape, and a page opened in the browser only on the person's
//! word. What the server received is what the model reads back.

use serde_json::json;
use switchboard_testkit as kit;
use switchboard_testkit::desktop::Desktop;
use switchboard_testkit::webdriver::{Element, Session, keys, tid};
use switchboard_testkit::{ModelReply, ModelServer};

use super::chat::{add_provider, send};
use super::tools::{shows_mode, tool_result_sent, tool_row_of};
use super::{add_by_address, texts, with_recording_browser};

const PREFIX: &str = "everything_reference_server__";

/// Allows a tool on its row, so the model's call runs without an approval card.
async fn allow(app: &Session, tool: &str) {
    let row = tool_row_of(app, Some(kit::EVERYTHING_SERVER_TITLE), tool).await;
    let allow = app
        .wait_for(&format!("{row} {}", tid("tool-mode-allow")))
        .await;
    app.click(&allow).await.expect("Allow");
    shows_mode(app, &row, "allow").await;
}

/// How far the question's dialog scrolls sideways: it should not.
async fn sideways(app: &Session) -> serde_json::Value {
    app.execute(
        "const m = document.querySelector(arguments[0]); return m.scrollWidth - m.clientWidth;",
        json!([tid("question-dialog")]),
    )
    .await
    .expect("the dialog's widths")
}

/// Turns on one of the connector's "Let this server ask…" switches (`switch` is its test
/// id) and allows `tools` (which the server offers once connected again).
async fn let_it_ask(app: &Session, switch: &str, tools: &[&str]) {
    tool_row_of(app, Some(kit::EVERYTHING_SERVER_TITLE), "echo").await;
    let options = app
        .wait_for(&format!("{} summary", tid("tool-options")))
        .await;
    app.click(&options).await.expect("open the settings");
    let switch = app.wait_for(&tid(switch)).await;
    app.click(&switch).await.expect("the switch");
    for tool in tools {
        allow(app, tool).await;
    }
}

/// The input of the question's field named `name`.
async fn field_input(app: &Session, name: &str) -> Element {
    app.wait_for(&format!(
        "{}[data-name=\"{name}\"] input",
        tid("question-field")
    ))
    .await
}

/// Types `text` into the question's field named `name`.
async fn fill(app: &Session, name: &str, text: &str) {
    let input = field_input(app, name).await;
    app.clear(&input).await.expect("clear");
    app.type_into(&input, text).await.expect("type");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_asks_the_person_for_a_form_or_a_page_only_when_allowed() {
    let models = ModelServer::start();
    models.models(&["tool-model"]);
    let everything = kit::Everything::start();
    let mut desktop = Desktop::start("questions");
    let opened = with_recording_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, everything.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;

    // Off by default; the switch connects again, and the server then offers its asking tools.
    tool_row_of(&app, Some(kit::EVERYTHING_SERVER_TITLE), "echo").await;
    assert!(
        app.find_all(&format!(
            "{}[data-name=\"trigger-elicitation-request\"]",
            tid("tool-item")
        ))
        .await
        .expect("rows")
        .is_empty(),
        "not offered before it is allowed"
    );
    let_it_ask(
        &app,
        "allow-elicitation",
        &["trigger-elicitation-request", "trigger-url-elicitation"],
    )
    .await;
    desktop.screenshot("01-switch");

    // A form: the model's call makes the server ask.
    models.push(ModelReply::new().tool_call(
        "form",
        &format!("{PREFIX}trigger-elicitation-request"),
        json!({}),
    ));
    models.push(ModelReply::text("Thanks for the details."));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    send(&app, "Ask me for my details").await;
    app.wait_text(
        &tid("question-title"),
        &format!("{} asks for information", kit::EVERYTHING_SERVER_TITLE),
    )
    .await;
    app.wait_until(&tid("question-from"), |t| {
        t.contains(kit::EVERYTHING_SERVER_TITLE) && t.contains("Nothing is sent until you choose")
    })
    .await;
    app.wait_text(
        &tid("question-message"),
        "Please provide inputs for the following fields:",
    )
    .await;
    let fields: Vec<String> = texts(&app, &tid("question-field")).await;
    assert!(fields[0].starts_with("String *"), "{fields:?}");
    // Defaults are filled in: the server's story line, its number, its choices.
    let first_line = field_input(&app, "firstLine").await;
    assert_eq!(
        app.property(&first_line, "value").await.expect("value"),
        json!("It was a dark and stormy night.")
    );
    let integer = field_input(&app, "integer").await;
    assert_eq!(
        app.property(&integer, "value").await.expect("value"),
        json!("42")
    );
    // The server's bounds reach the field, written by the page (1-100, 0-1000).
    assert_eq!(
        app.property(&integer, "min").await.expect("min"),
        json!("1")
    );
    assert_eq!(
        app.property(&integer, "max").await.expect("max"),
        json!("100")
    );
    let number = field_input(&app, "number").await;
    assert_eq!(
        app.property(&number, "max").await.expect("max"),
        json!("1000")
    );
    desktop.screenshot("02-form");
    assert_eq!(sideways(&app).await, json!(0));

    // A wrong e-mail address is refused in words, and nothing is lost.
    fill(&app, "name", "Ada Lovelace").await;
    fill(&app, "email", "ada at home").await;
    let send_button = app.wait_for(&tid("question-send")).await;
    app.click(&send_button).await.expect("Send");
    app.wait_until(&tid("action-error"), |t| {
        t.contains("“String with email format” is not an e-mail address.")
    })
    .await;
    desktop.screenshot("03-wrong-email");
    fill(&app, "email", "ada@example.com").await;
    // A decimal is read as a number (the core then names what is wrong with it).
    fill(&app, "integer", "7.5").await;
    let send_button = app.wait_for(&tid("question-send")).await;
    app.click(&send_button).await.expect("Send");
    app.wait_until(&tid("action-error"), |t| {
        t.contains("“Integer” must be a whole number.")
    })
    .await;
    fill(&app, "integer", "7").await;
    fill(&app, "number", "2.75").await;
    let agree = field_input(&app, "check").await;
    app.click(&agree).await.expect("agree");
    let send_button = app.wait_for(&tid("question-send")).await;
    app.click(&send_button).await.expect("Send");
    app.wait_gone(&tid("question-dialog")).await;
    app.wait_until(&tid("messages"), |t| t.contains("Thanks for the details."))
        .await;
    let read = tool_result_sent(&models, 2, "form").await.to_string();
    for line in [
        "- Name: Ada Lovelace",
        "- Agreed to terms: true",
        "- Email: ada@example.com",
        "- Favorite Integer: 7",
        "- Favorite Number: 2.75",
    ] {
        assert!(read.contains(line), "{line} in {read}");
    }

    // Escape closes the form without an answer: the server hears it was cancelled.
    models.push(ModelReply::new().tool_call(
        "again",
        &format!("{PREFIX}trigger-elicitation-request"),
        json!({}),
    ));
    models.push(ModelReply::text("Maybe later."));
    send(&app, "Ask me again").await;
    app.wait_for(&tid("question-dialog")).await;
    app.press(keys::ESCAPE).await.expect("Escape");
    app.wait_gone(&tid("question-dialog")).await;
    app.wait_until(&tid("messages"), |t| t.contains("Maybe later."))
        .await;
    let read = tool_result_sent(&models, 4, "again").await.to_string();
    assert!(read.contains("cancelled"), "{read}");

    // A page: its host and whole address shown; opened only on Open page.
    let page = format!("{}/pay?order=42", models.openai_url().trim_end_matches('/'));
    models.push(ModelReply::new().tool_call(
        "page",
        &format!("{PREFIX}trigger-url-elicitation"),
        json!({"url": page, "message": "Finish paying on the shop's page."}),
    ));
    models.push(ModelReply::text("The page is open."));
    send(&app, "Take me to the checkout").await;
    app.wait_text(
        &tid("question-title"),
        &format!("{} asks you to open a page", kit::EVERYTHING_SERVER_TITLE),
    )
    .await;
    app.wait_text(&tid("question-page-url"), &page).await;
    app.wait_text(&tid("question-page-host"), "127.0.0.1").await;
    desktop.screenshot("04-page");
    assert_eq!(sideways(&app).await, json!(0));
    assert!(
        std::fs::read_to_string(&opened)
            .unwrap_or_default()
            .is_empty(),
        "nothing opened before the person says so"
    );
    let open = app.wait_for(&tid("question-open-page")).await;
    app.click(&open).await.expect("Open page");
    app.wait_gone(&tid("question-dialog")).await;
    app.wait_until(&tid("messages"), |t| t.contains("The page is open."))
        .await;
    let opened = std::fs::read_to_string(&opened).expect("the browser was handed the page");
    assert_eq!(opened.trim(), page);
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_has_the_persons_model_write_only_on_their_word_and_it_shows_in_activity() {
    let models = ModelServer::start();
    // The default is the first; the conversation picks the second, which answers the server.
    models.models(&["tool-model", "chat-model"]);
    let everything = kit::Everything::start();
    let mut desktop = Desktop::start("questions_sampling");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, everything.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;
    let_it_ask(&app, "allow-sampling", &["trigger-sampling-request"]).await;

    // The chat's model calls the tool; the server asks the person's model for a haiku; the
    // chat's model reads the tool's result.
    models.push(ModelReply::new().tool_call(
        "haiku",
        &format!("{PREFIX}trigger-sampling-request"),
        json!({"prompt": "Write a haiku about autumn", "maxTokens": 60}),
    ));
    models.push(ModelReply::text("Autumn moonlight, a worm digs silently."));
    models.push(ModelReply::text("The server got its haiku."));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    let picker = app.wait_for(&tid("model-picker")).await;
    let options = app.find_all_in(&picker, "option").await.expect("options");
    let mut chosen = false;
    for option in &options {
        if app.text(option).await.expect("text").contains("chat-model") {
            app.click(option).await.expect("choose chat-model");
            chosen = true;
        }
    }
    assert!(chosen, "chat-model is offered");
    send(&app, "Get the server a haiku").await;
    app.wait_text(
        &tid("question-title"),
        &format!("{} asks your model to write", kit::EVERYTHING_SERVER_TITLE),
    )
    .await;
    // The conversation's model, not the default.
    app.wait_until(&tid("question-sampling-model"), |t| {
        t.contains("127.0.0.1 · chat-model")
    })
    .await;
    app.wait_text(
        &tid("question-sampling-system"),
        "You are a helpful test server.",
    )
    .await;
    app.wait_until(&tid("question-sampling-message"), |t| {
        t.ends_with("Write a haiku about autumn")
    })
    .await;
    desktop.screenshot("01-sampling");
    // Nothing went to the model before the person said so: only the chat's own request.
    assert_eq!(
        models
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/chat/completions"))
            .count(),
        1
    );
    let send_it = app.wait_for(&tid("question-send-to-model")).await;
    app.click(&send_it).await.expect("Send to the model");
    app.wait_gone(&tid("question-dialog")).await;
    app.wait_until(&tid("messages"), |t| {
        t.contains("The server got its haiku.")
    })
    .await;
    let read = tool_result_sent(&models, 3, "haiku").await.to_string();
    assert!(
        read.contains("Autumn moonlight, a worm digs silently."),
        "{read}"
    );
    // What the person's model was sent: the server's instructions and words, no tools.
    let sampled = super::chat::request_number(&models, 2).await;
    assert_eq!(sampled["model"], "chat-model");
    assert_eq!(
        sampled["messages"][0]["content"],
        "You are a helpful test server."
    );
    assert!(
        sampled["tools"].as_array().is_none_or(|t| t.is_empty()),
        "{sampled}"
    );

    // Activity lists it under the connector and the conversation.
    let nav = app.wait_for(&tid("nav-activity")).await;
    app.click(&nav).await.expect("Activity");
    let row = format!(
        "{}[data-tool=\"asked the model to write\"]",
        tid("activity-row")
    );
    app.wait_until(&row, |t| {
        t.contains("approved by the person") && t.contains("Autumn moonlight")
    })
    .await;
    // Under the conversation whose tool call the server was answering.
    app.wait_text(
        &format!("{row} {}", tid("activity-open-chat")),
        "Open “Get the server a haiku”",
    )
    .await;
    desktop.screenshot("02-activity");
    app.quit().await;
}
