//! The chat in the real window: models set up in Settings → Models (keys in gnome-keyring),
//! replies streamed from the test kit's model server (the providers' wire formats byte for
//! byte) and rendered as Markdown, the paperclip menu attaching real servers' resources,
//! templates and prompts, Stop, failures in words, and everything still there after a
//! restart.

use std::time::Duration;

use serde_json::Value;
use switchboard_testkit as kit;
use switchboard_testkit::desktop::Desktop;
use switchboard_testkit::webdriver::{Session, keys, tid};
use switchboard_testkit::{ApiError, Gate, ModelReply, ModelServer};

use super::{add_by_address, assert_no_secret_leaked, record_ipc, texts};

const ANTHROPIC_KEY: &str = "sk-ant-test-7c0ffee0123";
const OPENAI_KEY: &str = "sk-openai-test-5ca1ab1e";

/// Adds a provider through Settings → Models.
pub(super) async fn add_provider(app: &Session, kind: &str, url: &str, key: &str) {
    let nav = app.wait_for(&tid("nav-models")).await;
    app.click(&nav).await.expect("open Models");
    let add = app.wait_for(&tid("add-provider")).await;
    app.click(&add).await.expect("Add a model provider");
    let kind = app.wait_for(&tid(kind)).await;
    app.click(&kind).await.expect("choose the kind");
    let address = app.wait_for(&tid("provider-url")).await;
    app.type_into(&address, url)
        .await
        .expect("type the address");
    if !key.is_empty() {
        let key_field = app.wait_for(&tid("provider-key")).await;
        app.type_into(&key_field, key).await.expect("type the key");
    }
    let save = app.wait_for(&tid("provider-save")).await;
    app.click(&save).await.expect("Check and add");
    app.wait_gone(&tid("provider-form")).await;
}

/// Types into the composer and sends with Enter.
pub(super) async fn send(app: &Session, text: &str) {
    let input = app.wait_for(&tid("composer-input")).await;
    app.type_into(&input, &format!("{text}{}", keys::ENTER))
        .await
        .expect("type and Enter");
}

/// Opens the paperclip menu, searches, and waits for an option named `name`.
async fn find_in_menu(app: &Session, search: &str, name: &str) -> kit::webdriver::Element {
    let clip = app.wait_for(&tid("paperclip")).await;
    app.click(&clip).await.expect("paperclip");
    let field = app.wait_for(&tid("attach-search")).await;
    app.type_into(&field, search).await.expect("search");
    app.wait_for(&format!("{}[data-name=\"{name}\"]", tid("attach-option")))
        .await
}

/// Waits until every chip above the composer is read.
async fn chips_ready(app: &Session, n: usize) {
    let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
    loop {
        let chips = app
            .find_all(&format!(
                "{} {}",
                tid("composer-chips"),
                tid("attachment-chip")
            ))
            .await
            .expect("chips");
        let mut ready = 0;
        for chip in &chips {
            if app
                .attribute(chip, "data-state")
                .await
                .expect("state")
                .as_deref()
                == Some("ready")
            {
                ready += 1;
            }
        }
        if ready == n && chips.len() == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{ready} of {n} chips ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last request the model server got, once it has got `n`.
pub(super) async fn request_number(server: &ModelServer, n: usize) -> Value {
    let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
    loop {
        let requests: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect();
        if requests.len() >= n {
            return requests[n - 1].json();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} requests",
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const MARKDOWN_REPLY: &str = "## Plan\n\nHere is **bold** text and a table:\n\n| Step | Owner |\n| --- | --- |\n| Draft | Ada |\n| Review | Bob |\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n\nSee [the docs](https://example.com/docs).";

#[tokio::test(flavor = "multi_thread")]
async fn chat_with_two_providers_attachments_stop_failures_and_a_restart() {
    let anthropic = ModelServer::with_key(ANTHROPIC_KEY);
    anthropic.models(&["claude-test-1", "claude-test-2"]);
    let openai = ModelServer::with_key(OPENAI_KEY);
    openai.models(&["gpt-test"]);
    let everything = kit::Everything::start();
    let python = kit::PythonMcp::start();
    let mut desktop = Desktop::start("chat");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    record_ipc(&app).await;

    // No model yet: the chat says so and leads to Settings → Models.
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    app.wait_until(&tid("no-model"), |t| t.contains("Add a model"))
        .await;
    desktop.screenshot("00-no-model");
    let go = app.wait_for(&tid("go-to-models")).await;
    app.click(&go).await.expect("to Models");
    app.wait_for(&tid("models-page")).await;

    // A wrong key is refused in words and nothing is kept.
    let add = app.wait_for(&tid("add-provider")).await;
    app.click(&add).await.expect("Add a model provider");
    let address = app.wait_for(&tid("provider-url")).await;
    app.type_into(&address, &anthropic.anthropic_url())
        .await
        .expect("type");
    let key = app.wait_for(&tid("provider-key")).await;
    app.type_into(&key, "sk-wrong").await.expect("type");
    let save = app.wait_for(&tid("provider-save")).await;
    app.click(&save).await.expect("Check and add");
    app.wait_until(&tid("action-error"), |t| {
        t.contains("did not accept the API key")
    })
    .await;
    desktop.screenshot("01-wrong-key");
    assert!(
        !desktop.keyring_listing().contains("sk-wrong"),
        "a refused key is not kept"
    );
    let cancel = app
        .wait_for(&format!(
            "{} .button:not(.button-primary)",
            tid("provider-form")
        ))
        .await;
    app.click(&cancel).await.expect("Cancel");
    app.wait_gone(&tid("provider-form")).await;

    add_provider(
        &app,
        "provider-kind-anthropic",
        &anthropic.anthropic_url(),
        ANTHROPIC_KEY,
    )
    .await;
    add_provider(
        &app,
        "provider-kind-openai",
        &openai.openai_url(),
        OPENAI_KEY,
    )
    .await;
    app.wait_until(&tid("provider-list"), |t| {
        t.contains("2 models") && t.contains("1 model")
    })
    .await;
    let listing = desktop.keyring_listing();
    assert!(
        listing.contains(&format!("secret = {ANTHROPIC_KEY}"))
            && listing.contains(&format!("secret = {OPENAI_KEY}")),
        "both keys are in the keyring"
    );
    assert!(
        texts(&app, &tid("provider-key-state"))
            .await
            .iter()
            .all(|t| t.starts_with("API key •••••")),
        "keys are never shown again"
    );
    // Check sends the smallest real request to the default model.
    anthropic.push(ModelReply::text("OK"));
    let check = app.wait_for(&tid("check-model")).await;
    app.click(&check).await.expect("Check");
    app.wait_until(&tid("check-result"), |t| {
        t.contains("claude-test-1 answered")
    })
    .await;
    desktop.screenshot("02-models");

    // Connectors whose resources and prompts the chat can attach.
    let nav = app.wait_for(&tid("nav-connectors")).await;
    app.click(&nav).await.expect("Connectors");
    add_by_address(&app, everything.url()).await;
    add_by_address(&app, python.url()).await;
    app.wait_until(&tid("connectors-page"), |t| {
        t.matches("Connected").count() >= 2
    })
    .await;

    // A chat: the reply streams and renders as Markdown.
    anthropic.push(ModelReply::text(MARKDOWN_REPLY).deltas_of(7));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    send(&app, "Make a plan").await;
    let reply = app
        .wait_until(&tid("assistant-message"), |t| t.contains("See the docs"))
        .await;
    let table = app
        .find_all_in(&reply, &tid("md-table"))
        .await
        .expect("find");
    assert_eq!(table.len(), 1, "the table is a table");
    let table_text = app.text(&table[0]).await.expect("text");
    assert!(table_text.contains("Draft") && table_text.contains("Bob"));
    let code = app
        .find_all_in(&reply, &tid("code-block"))
        .await
        .expect("find");
    assert_eq!(code.len(), 1, "the code is a code block");
    assert!(app.text(&code[0]).await.expect("text").contains("println!"));
    assert_eq!(
        app.find_all_in(&reply, &tid("code-copy"))
            .await
            .expect("find")
            .len(),
        1
    );
    app.wait_text(&tid("chat-item"), "Make a plan").await;
    desktop.screenshot("03-markdown-reply");

    // Attach a resource (server-everything), a prompt with arguments and a filled-in
    // template (the PyPI server, with completions as you type).
    let option = find_in_menu(&app, "architecture", "architecture.md").await;
    app.click(&option).await.expect("choose architecture.md");
    desktop.screenshot("04-menu");
    let option = find_in_menu(&app, "review", "review_code").await;
    app.click(&option).await.expect("choose the prompt");
    let code_field = app
        .wait_for(&format!("{}[data-name=\"code\"]", tid("prompt-field")))
        .await;
    app.type_into(&code_field, "fn answer() -> u8 { 42 }")
        .await
        .expect("type");
    let language = app
        .wait_for(&format!("{}[data-name=\"language\"]", tid("prompt-field")))
        .await;
    app.type_into(&language, "py").await.expect("type");
    let suggestion = app.wait_text(&tid("completion-option"), "python").await;
    desktop.screenshot("05-prompt-form-completion");
    app.click(&suggestion).await.expect("choose python");
    let attach = app.wait_for(&tid("form-attach")).await;
    app.click(&attach).await.expect("Attach");
    let option = find_in_menu(&app, "greeting", "greeting").await;
    app.click(&option).await.expect("choose the template");
    let name = app
        .wait_for(&format!("{}[data-name=\"name\"]", tid("template-field")))
        .await;
    app.type_into(&name, "A").await.expect("type");
    let ada = app.wait_text(&tid("completion-option"), "Ada").await;
    app.click(&ada).await.expect("choose Ada");
    app.wait_text(&tid("template-preview"), "fixture://greeting/Ada")
        .await;
    desktop.screenshot("05b-template-preview");
    let attach = app.wait_for(&tid("form-attach")).await;
    app.click(&attach).await.expect("Attach");
    chips_ready(&app, 3).await;
    desktop.screenshot("06-chips");

    anthropic.push(ModelReply::text("Reviewed."));
    send(&app, "Use these").await;
    app.wait_until(&tid("messages"), |t| t.contains("Reviewed."))
        .await;
    let body = request_number(&anthropic, 3).await;
    let messages = body["messages"].as_array().expect("messages");
    let text = |m: &Value| m["content"].to_string();
    let prompt_at = messages
        .iter()
        .position(|m| text(m).contains("Please review this python code"))
        .expect("the prompt's message was sent");
    let question_at = messages
        .iter()
        .position(|m| text(m).contains("Use these"))
        .expect("the person's message was sent");
    assert!(
        prompt_at < question_at,
        "the prompt comes before the message it was attached to"
    );
    let question = text(&messages[question_at]);
    assert!(
        question.contains("demo://resource/static/document/architecture.md"),
        "the resource's address: {question}"
    );
    assert!(question.contains("fixture://greeting/Ada") && question.contains("Hello, Ada!"));
    assert!(text(&messages[prompt_at]).contains("fn answer() -> u8 { 42 }"));
    let sent_chips = app
        .find_all(&format!(
            "{} {}",
            tid("user-message"),
            tid("attachment-chip")
        ))
        .await
        .expect("chips");
    assert_eq!(
        sent_chips.len(),
        3,
        "the sent message keeps its attachments"
    );

    // A reply is Markdown while it streams too: a settled piece (the strong words) and the
    // tail still read again (the list). Stop in the middle keeps what arrived.
    let gate = Gate::new();
    anthropic.push(
        ModelReply::text("The **first** part.\n\nA list:\n\n- one\n- two\n")
            .hold(&gate)
            .then_text(" and the rest"),
    );
    send(&app, "Tell me more").await;
    let streaming = app
        .wait_until(&tid("streaming-reply"), |t| {
            t.contains("The first part") && t.contains("two")
        })
        .await;
    let strong = app.find_all_in(&streaming, "strong").await.expect("find");
    assert_eq!(
        strong.len(),
        1,
        "**first** is strong while the reply streams"
    );
    assert_eq!(app.text(&strong[0]).await.expect("text"), "first");
    let items = app.find_all_in(&streaming, "li").await.expect("find");
    assert_eq!(items.len(), 2, "the list is a list while the reply streams");
    let stop = app.wait_for(&tid("stop-reply")).await;
    app.click(&stop).await.expect("Stop");
    app.wait_for(&tid("unfinished")).await;
    let replies = texts(&app, &tid("assistant-message")).await;
    assert!(
        replies
            .last()
            .is_some_and(|t| t.contains("The first part") && !t.contains("the rest"))
    );
    gate.release();
    desktop.screenshot("07-stopped");

    // Failures say what to do, and the message stays.
    anthropic.push(ModelReply::error(ApiError::RateLimited {
        retry_after_secs: 20,
    }));
    send(&app, "Are you there?").await;
    app.wait_until(&tid("reply-error-message"), |t| {
        t.contains("Try again in 20 seconds")
    })
    .await;
    app.wait_for(&tid("not-answered")).await;
    assert!(
        texts(&app, &tid("user-text"))
            .await
            .contains(&"Are you there?".to_owned())
    );
    desktop.screenshot("08-rate-limited");
    anthropic.push(ModelReply::text("Yes, here."));
    let retry = app.wait_for(&tid("retry-reply")).await;
    app.click(&retry).await.expect("Retry");
    app.wait_until(&tid("messages"), |t| t.contains("Yes, here."))
        .await;
    app.wait_gone(&tid("not-answered")).await;

    anthropic.push(ModelReply::error(ApiError::KeyRejected));
    send(&app, "Once more").await;
    app.wait_until(&tid("reply-error-message"), |t| {
        t.contains("did not accept the API key")
    })
    .await;
    app.wait_for(&tid("reply-error-models")).await;
    anthropic.push(ModelReply::text("This answer was cut in the mid").cut());
    let retry = app.wait_for(&tid("retry-reply")).await;
    app.click(&retry).await.expect("Retry");
    app.wait_until(&tid("reply-error-message"), |t| t.contains("cut off"))
        .await;
    app.wait_until(&tid("messages"), |t| {
        t.contains("This answer was cut in the mid")
    })
    .await;
    desktop.screenshot("09-cut");

    // Another conversation on the other provider, picked in the composer.
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    let picker = app.wait_for(&tid("model-picker")).await;
    let options = app.find_all_in(&picker, "option").await.expect("options");
    assert_eq!(options.len(), 3, "every provider's models");
    let gpt = &options[2];
    assert!(app.text(gpt).await.expect("text").contains("gpt-test"));
    app.click(gpt).await.expect("choose gpt-test");
    openai.push(ModelReply::text("Hello from the other side."));
    send(&app, "Second chat").await;
    app.wait_until(&tid("messages"), |t| {
        t.contains("Hello from the other side.")
    })
    .await;
    assert_eq!(request_number(&openai, 1).await["model"], "gpt-test");

    let answers = assert_no_secret_leaked(&desktop, &app, &[ANTHROPIC_KEY, OPENAI_KEY]).await;
    assert!(answers >= 10, "{answers} answers searched");
    let events = super::recorded_events(&app).await;
    assert!(
        events
            .iter()
            .any(|(name, _)| name == switchboard_ipc::event::CHAT),
        "chat events were recorded"
    );
    app.quit().await;

    // After a restart: both conversations, the first with its attachments and its model.
    desktop.wait_until_no_app();
    let app = driver.open_app().await;
    let new_chat = app.wait_for(&tid("new-chat")).await;
    let _ = new_chat;
    let items = texts(&app, &tid("chat-item")).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], "Second chat", "newest first");
    let first = app
        .wait_for(&format!(
            "{}[data-title=\"Make a plan\"] {}",
            tid("chat-item"),
            tid("open-chat")
        ))
        .await;
    app.click(&first).await.expect("open the first chat");
    app.wait_until(&tid("messages"), |t| {
        t.contains("Reviewed.") && t.contains("Use these")
    })
    .await;
    let sent_chips = app
        .find_all(&format!(
            "{} {}",
            tid("user-message"),
            tid("attachment-chip")
        ))
        .await
        .expect("chips");
    assert_eq!(sent_chips.len(), 3, "attachments survive a restart");
    let picker = app.wait_for(&tid("model-picker")).await;
    let chosen = app.property(&picker, "value").await.expect("value");
    assert!(
        chosen
            .as_str()
            .is_some_and(|v| v.ends_with("claude-test-1")),
        "{chosen}"
    );
    desktop.screenshot("10-after-restart");

    // Delete the second chat: gone, and still gone after another restart.
    let delete = app
        .wait_for(&format!(
            "{}[data-title=\"Second chat\"] {}",
            tid("chat-item"),
            tid("delete-chat")
        ))
        .await;
    app.click(&delete).await.expect("Delete");
    let confirm = app.wait_for(&tid("confirm-remove-button")).await;
    app.click(&confirm).await.expect("confirm");
    app.wait_gone(&format!("{}[data-title=\"Second chat\"]", tid("chat-item")))
        .await;
    app.quit().await;
    desktop.wait_until_no_app();
    let app = driver.open_app().await;
    app.wait_text(&tid("chat-item"), "Make a plan").await;
    assert_eq!(texts(&app, &tid("chat-item")).await, ["Make a plan"]);
    app.quit().await;
}

/// The paperclip menu over 10,000 resources and 2,000 prompts: opens, filters, and is
/// driven by the keyboard.
#[tokio::test(flavor = "multi_thread")]
async fn the_attachment_menu_stays_usable_with_a_huge_catalog() {
    let models = ModelServer::start();
    models.models(&["big-model"]);
    let server = kit::PythonMcp::with_big_catalog(10_000, 2_000);
    let mut desktop = Desktop::start("chat_big_catalog");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, server.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");

    let clip = app.wait_for(&tid("paperclip")).await;
    app.click(&clip).await.expect("paperclip");
    app.wait_for(&tid("attach-option")).await;
    let rendered = app
        .find_all(&tid("attach-option"))
        .await
        .expect("rows")
        .len();
    assert!(
        rendered < 200,
        "only the visible rows are in the page: {rendered}"
    );
    desktop.screenshot("00-menu-open");
    let field = app.wait_for(&tid("attach-search")).await;
    app.type_into(&field, "contract 9998")
        .await
        .expect("search");
    let first = app
        .wait_for(&format!(
            "{}[data-name=\"doc-09998\"]",
            tid("attach-option")
        ))
        .await;
    let _ = first;
    desktop.screenshot("01-filtered");
    // Keyboard: the first match is active; Enter attaches it.
    app.press(keys::ENTER).await.expect("Enter");
    app.wait_gone(&tid("attach-menu")).await;
    chips_ready(&app, 1).await;
    let chip = app.wait_for(&tid("attachment-chip")).await;
    assert!(
        app.text(&chip)
            .await
            .expect("text")
            .contains("Contract 9998")
    );
    app.quit().await;
}

/// The smaller moves: `@` opens the menu filtered, a chip previews what is sent, Shift+Enter
/// starts a new line, a message is edited and sent again, the last reply written again, a
/// chat renamed, searched for, and a provider that stopped answering named.
#[tokio::test(flavor = "multi_thread")]
async fn mentions_previews_edits_regenerations_renames_and_an_unreachable_provider() {
    let models = ModelServer::start();
    models.models(&["local-model"]);
    let python = kit::PythonMcp::start();
    let mut desktop = Desktop::start("chat_edits");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, python.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");

    // `@` at the start of a word opens the menu filtered by what follows.
    let input = app.wait_for(&tid("composer-input")).await;
    app.type_into(&input, "Look at @read").await.expect("type");
    let option = app
        .wait_for(&format!("{}[data-name=\"readme\"]", tid("attach-option")))
        .await;
    app.click(&option).await.expect("choose readme");
    chips_ready(&app, 1).await;
    let draft = app.property(&input, "value").await.expect("value");
    assert_eq!(draft, "Look at ", "the @word became the chip");
    // The chip shows what will be sent.
    let chip = app
        .wait_for(&format!("{} .attach-chip-main", tid("attachment-chip")))
        .await;
    app.click(&chip).await.expect("preview");
    app.wait_until(&tid("preview-body"), |t| t.contains("# Python Fixture"))
        .await;
    desktop.screenshot("00-preview");
    let close = app.wait_for(&tid("preview-close")).await;
    app.click(&close).await.expect("close the preview");
    app.wait_gone(&tid("preview-body")).await;

    // Shift+Enter is a new line, Enter sends.
    models.push(ModelReply::text("First answer."));
    let input = app.wait_for(&tid("composer-input")).await;
    // Each send of keys lets go of Shift at its end (WebKitWebDriver ignores the release key).
    app.type_into(&input, "this").await.expect("type");
    let shift_enter = format!("{}{}", keys::SHIFT, keys::ENTER);
    app.type_into(&input, &shift_enter)
        .await
        .expect("Shift+Enter");
    app.type_into(&input, "and that").await.expect("type");
    let draft = app.property(&input, "value").await.expect("value");
    assert_eq!(
        draft, "Look at this\nand that",
        "Shift+Enter is a new line, nothing sent"
    );
    assert!(
        app.find_all(&tid("user-message"))
            .await
            .expect("find")
            .is_empty()
    );
    app.type_into(&input, keys::ENTER).await.expect("Enter");
    app.wait_until(&tid("messages"), |t| t.contains("First answer."))
        .await;
    let sent = request_number(&models, 1).await;
    let question = sent["messages"][0]["content"].to_string();
    assert!(question.contains("Look at this\\nand that"), "{question}");
    assert!(question.contains("fixture://readme"));

    // Write the reply again.
    models.push(ModelReply::text("Second answer."));
    let again = app.wait_for(&tid("regenerate")).await;
    app.click(&again).await.expect("Write again");
    app.wait_until(&tid("messages"), |t| {
        t.contains("Second answer.") && !t.contains("First answer.")
    })
    .await;

    // Edit the question and send it again: what followed it goes.
    models.push(ModelReply::text("Third answer."));
    let edit = app.wait_for(&tid("edit-message")).await;
    app.click(&edit).await.expect("Edit");
    let field = app.wait_for(&tid("edit-input")).await;
    app.clear(&field).await.expect("clear");
    app.type_into(&field, &format!("Only this{}", keys::ENTER))
        .await
        .expect("type");
    app.wait_until(&tid("messages"), |t| {
        t.contains("Only this") && t.contains("Third answer.") && !t.contains("Second answer.")
    })
    .await;
    let edited = request_number(&models, 3).await;
    assert_eq!(
        edited["messages"].as_array().map(Vec::len),
        Some(1),
        "{edited}"
    );
    assert_eq!(
        texts(
            &app,
            &format!("{} {}", tid("user-message"), tid("attachment-chip"))
        )
        .await
        .len(),
        1,
        "the edited message keeps its attachment"
    );

    // Rename, and find it by searching once there are several.
    let rename = app.wait_for(&tid("rename-chat")).await;
    app.click(&rename).await.expect("Rename");
    let name = app.wait_for(&tid("rename-input")).await;
    // Not `clear`: it leaves the field, and leaving it cancels the rename.
    let retype = format!("{}Fixture notes{}", keys::BACKSPACE.repeat(40), keys::ENTER);
    app.type_into(&name, &retype).await.expect("type");
    app.wait_text(&tid("chat-item"), "Fixture notes").await;
    for title in ["Second", "Third", "Fourth"] {
        models.push(ModelReply::text("ok"));
        let new_chat = app.wait_for(&tid("new-chat")).await;
        app.click(&new_chat).await.expect("New chat");
        send(&app, title).await;
        app.wait_text(&tid("chat-item"), title).await;
        app.wait_until(&tid("messages"), |t| t.contains("ok")).await;
    }
    let search = app.wait_for(&tid("chats-search")).await;
    app.type_into(&search, "fixture").await.expect("search");
    app.wait_until(&tid("chats-list"), |t| t.trim() == "Fixture notes")
        .await;
    desktop.screenshot("01-searched");

    // The provider stops answering: said in words, the message kept with Retry.
    drop(models);
    send(&app, "Still there?").await;
    app.wait_until(&tid("reply-error-message"), |t| {
        t.contains("could not reach the model provider")
    })
    .await;
    app.wait_for(&tid("not-answered")).await;
    desktop.screenshot("02-unreachable");
    app.quit().await;
}

/// A server that adds a resource and a prompt while the paperclip menu is open: the new
/// entries appear in the open menu, the highlighted entry stays highlighted, and the
/// connector's page lists them too.
#[tokio::test(flavor = "multi_thread")]
async fn the_attachment_menu_and_the_connector_page_follow_a_server_whose_lists_change() {
    let models = ModelServer::start();
    models.models(&["small-model"]);
    let server = kit::PythonMcp::start();
    let mut desktop = Desktop::start("chat_lists_change");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, server.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");

    let clip = app.wait_for(&tid("paperclip")).await;
    app.click(&clip).await.expect("paperclip");
    let option = |name: &str| format!("{}[data-name=\"{name}\"]", tid("attach-option"));
    let highlighted = format!("{}[aria-selected=\"true\"]", tid("attach-option"));
    app.wait_for(&option("readme")).await;
    app.wait_for(&option("config")).await;
    assert!(
        app.find_all(&option("added-1"))
            .await
            .expect("find")
            .is_empty()
    );
    // "config" is the first entry; one step down is "readme".
    app.press(keys::ARROW_DOWN).await.expect("ArrowDown");
    let active = app.wait_for(&highlighted).await;
    assert_eq!(
        app.attribute(&active, "data-name").await.expect("name"),
        Some("readme".to_owned())
    );

    assert_eq!(server.change().await, 1);
    app.wait_for(&option("added-1")).await;
    app.wait_for(&option("added_1")).await;
    desktop.screenshot("00-menu-listed-again");
    let active = app.wait_for(&highlighted).await;
    assert_eq!(
        app.attribute(&active, "data-name").await.expect("name"),
        Some("readme".to_owned()),
        "the highlighted entry stays where the person left it"
    );
    app.wait_for(&tid("attach-menu")).await;
    app.press(keys::ESCAPE).await.expect("Esc");
    app.wait_gone(&tid("attach-menu")).await;

    // The connector's page follows too, while it is open.
    let nav = app.wait_for(&tid("nav-connectors")).await;
    app.click(&nav).await.expect("Connectors");
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open connector");
    let resources_tab = app.wait_for(&tid("tab-resources")).await;
    app.click(&resources_tab).await.expect("resources tab");
    let names = format!("{} {}", tid("resource-item"), tid("item-name"));
    let listed = async |name: &str| {
        let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
        while !texts(&app, &names).await.iter().any(|n| n == name) {
            assert!(std::time::Instant::now() < deadline, "{name} never listed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    listed("added-1").await;
    assert_eq!(server.change().await, 2);
    listed("added-2").await;
    desktop.screenshot("01-page-listed-again");
    app.quit().await;
}

/// Settings → Models → "Text per attachment": a wrong value is said and changes nothing, a
/// good one is kept across a restart, and a longer attachment is cut to it — on its chip and
/// in what the model receives.
#[tokio::test(flavor = "multi_thread")]
async fn the_attachment_limit_is_chosen_in_settings_and_cuts_a_long_attachment() {
    let models = ModelServer::start();
    models.models(&["small-model"]);
    let server = kit::PythonMcp::start();
    let mut desktop = Desktop::start("chat_attachment_limit");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, server.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;

    let field = app.wait_for(&tid("attachment-limit-input")).await;
    assert_eq!(
        app.property(&field, "value").await.expect("value"),
        Value::String("200".into())
    );
    app.clear(&field).await.expect("clear");
    app.type_into(&field, &format!("0{}", keys::ENTER))
        .await
        .expect("type 0");
    app.wait_until(&tid("action-error"), |t| {
        t.starts_with("Choose between 1 and 10,240 KB of text per attachment.")
    })
    .await;
    app.clear(&field).await.expect("clear");
    app.type_into(&field, &format!("1{}", keys::ENTER))
        .await
        .expect("type 1");
    app.wait_text(&tid("attachment-limit-saved"), "Saved.")
        .await;
    assert!(
        app.find_all(&tid("action-error"))
            .await
            .expect("find")
            .is_empty(),
        "the error is gone"
    );
    desktop.screenshot("00-limit-saved");

    // A greeting for a 1,100-letter name is 1,108 bytes: over 1 KB.
    let long_name = "a".repeat(1100);
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    let option = find_in_menu(&app, "greeting", "greeting").await;
    app.click(&option).await.expect("choose the template");
    let name = app
        .wait_for(&format!("{}[data-name=\"name\"]", tid("template-field")))
        .await;
    app.type_into(&name, &long_name)
        .await
        .expect("type the name");
    let attach = app.wait_for(&tid("form-attach")).await;
    app.click(&attach).await.expect("Attach");
    chips_ready(&app, 1).await;
    app.wait_text(
        &tid("chip-note"),
        "Cut to the first 1 KB: the model sees only that part.",
    )
    .await;
    desktop.screenshot("01-chip-cut");

    models.push(ModelReply::text("Hello back."));
    send(&app, "Greet them").await;
    app.wait_until(&tid("messages"), |t| t.contains("Hello back."))
        .await;
    let sent = request_number(&models, 1).await.to_string();
    let kept = format!("Hello, {}", "a".repeat(1024 - "Hello, ".len()));
    assert!(sent.contains(&kept), "the first 1 KB was sent");
    assert!(
        !sent.contains(&format!("{kept}a")),
        "nothing past 1 KB was sent"
    );
    app.quit().await;

    desktop.wait_until_no_app();
    let app = driver.open_app().await;
    let nav = app.wait_for(&tid("nav-models")).await;
    app.click(&nav).await.expect("open Models");
    let field = app.wait_for(&tid("attachment-limit-input")).await;
    assert_eq!(
        app.property(&field, "value").await.expect("value"),
        Value::String("1".into()),
        "kept across a restart"
    );
    app.quit().await;
}

/// A resource waiting in the composer is followed: when its server says it changed, the chip
/// is read again (and says so) before it is sent.
#[tokio::test(flavor = "multi_thread")]
async fn an_attached_resource_the_server_changes_is_read_again_before_it_is_sent() {
    let models = ModelServer::start();
    models.models(&["tool-model"]);
    let everything = kit::Everything::start();
    let mut desktop = Desktop::start("chat_resource_updated");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, everything.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;
    // server-everything sends news of the resources a session follows once this tool ran.
    let row = super::tools::tool_row_of(
        &app,
        Some(kit::EVERYTHING_SERVER_TITLE),
        "toggle-subscriber-updates",
    )
    .await;
    let allow = app
        .wait_for(&format!("{row} {}", tid("tool-mode-allow")))
        .await;
    app.click(&allow).await.expect("Allow");
    super::tools::shows_mode(&app, &row, "allow").await;
    models.push(ModelReply::new().tool_call(
        "updates",
        "everything_reference_server__toggle-subscriber-updates",
        serde_json::json!({}),
    ));
    models.push(ModelReply::text("Updates are on."));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    send(&app, "Turn on resource updates").await;
    app.wait_until(&tid("messages"), |t| t.contains("Updates are on."))
        .await;

    let option = find_in_menu(&app, "architecture", "architecture.md").await;
    app.click(&option).await.expect("choose architecture.md");
    chips_ready(&app, 1).await;
    app.wait_for(&format!(
        "{} {}",
        tid("attachment-chip"),
        tid("chip-updated")
    ))
    .await;
    chips_ready(&app, 1).await;
    desktop.screenshot("01-chip-updated");
    app.quit().await;
}

/// What the person typed and did not send stays with its conversation: while they look at
/// Settings (where the composer is gone) or at another conversation, and while they send
/// something else from another chat.
#[tokio::test(flavor = "multi_thread")]
async fn an_unsent_message_stays_with_its_conversation_while_the_person_looks_elsewhere() {
    let models = ModelServer::start();
    models.models(&["local-model"]);
    let mut desktop = Desktop::start("chat_drafts");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    models.push(ModelReply::text("First answer."));
    send(&app, "The first question").await;
    app.wait_until(&tid("messages"), |t| t.contains("First answer."))
        .await;
    composer_shows(&app, "").await;
    let input = app.wait_for(&tid("composer-input")).await;
    app.type_into(&input, "half a thought").await.expect("type");

    // Settings and back: the composer was gone meanwhile, the text was not.
    let nav = app.wait_for(&tid("nav-models")).await;
    app.click(&nav).await.expect("open Models");
    app.wait_for(&tid("models-page")).await;
    let first = format!(
        "{}[data-title*=\"first question\"] {}",
        tid("chat-item"),
        tid("open-chat")
    );
    let open_first = app.wait_for(&first).await;
    app.click(&open_first).await.expect("open the first chat");
    app.wait_until(&tid("messages"), |t| t.contains("First answer."))
        .await;
    composer_shows(&app, "half a thought").await;

    // A new chat has a draft of its own; each comes back with its conversation.
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    composer_shows(&app, "").await;
    let input = app.wait_for(&tid("composer-input")).await;
    app.type_into(&input, "another idea").await.expect("type");
    let open_first = app.wait_for(&first).await;
    app.click(&open_first).await.expect("open the first chat");
    composer_shows(&app, "half a thought").await;
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    composer_shows(&app, "another idea").await;
    desktop.screenshot("01-new-chat-draft");

    // Sent, a draft is gone from its chat, and only from its chat.
    models.push(ModelReply::text("Second answer."));
    let input = app.wait_for(&tid("composer-input")).await;
    app.type_into(&input, keys::ENTER).await.expect("Enter");
    app.wait_until(&tid("messages"), |t| t.contains("Second answer."))
        .await;
    composer_shows(&app, "").await;
    let open_first = app.wait_for(&first).await;
    app.click(&open_first).await.expect("open the first chat");
    composer_shows(&app, "half a thought").await;
    desktop.screenshot("02-first-chat-draft");
    app.quit().await;
}

/// Waits until the composer holds `text`.
async fn composer_shows(app: &Session, text: &str) {
    let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
    loop {
        let shown = match app.find_all(&tid("composer-input")).await {
            Ok(found) => match found.first() {
                Some(input) => app.property(input, "value").await.ok(),
                None => None,
            },
            Err(_) => None,
        };
        if shown.as_ref().and_then(Value::as_str) == Some(text) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the composer holds {shown:?}, not {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
