//! Faults in the real window, through the test kit's fault proxy in front of a real server:
//! a call whose answer is garbage fails in words on its own block while the chat goes on, a
//! restarted server and a stream cut mid-answer go unseen (a new session; the stream
//! resumed), a 50 MB answer is refused in words, a stalled call ends at the connector's time
//! limit with the server told to stop, a
//! server whose texts are a megabyte long with hidden characters shows them cut and clean,
//! and a connector that cannot reach its server comes back by itself when the network does.
//! And a fault under the window: WebKit's process for its page dying.

use serde_json::json;
use switchboard_testkit as kit;
use switchboard_testkit::desktop::Desktop;
use switchboard_testkit::webdriver::tid;
use switchboard_testkit::{Fault, FaultProxy, ModelReply, ModelServer};

use super::chat::{add_provider, send};
use super::tools::{set_call_timeout, shows_mode, tool_row_of};
use super::{add_by_address, from_more_menu};

#[tokio::test(flavor = "multi_thread")]
async fn a_misbehaving_server_fails_one_call_in_words_shows_clean_text_and_comes_back_by_itself() {
    let models = ModelServer::start();
    models.models(&["tool-model"]);
    let everything = kit::Everything::start();
    let proxy = FaultProxy::start(everything.url());
    let mut desktop = Desktop::start("faults");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    // Its first list of tools comes back with a megabyte of text in one description.
    proxy.next(Some("tools/list"), Fault::LongText(1024 * 1024));
    add_by_address(&app, &proxy.url("/mcp")).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    add_provider(&app, "provider-kind-openai", &models.openai_url(), "").await;

    // Cut to a readable length, without the hidden characters.
    let row = tool_row_of(&app, Some(kit::EVERYTHING_SERVER_TITLE), "echo").await;
    // Their whole text, shown or folded under "Show more".
    let descriptions: Vec<String> = serde_json::from_value(
        app.execute(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent);",
            json!([format!("{} .item-desc", tid("tool-item"))]),
        )
        .await
        .expect("the descriptions"),
    )
    .expect("texts");
    let long = descriptions
        .iter()
        .find(|d| d.starts_with("Line one"))
        .unwrap_or_else(|| panic!("the long description is shown: {descriptions:?}"));
    assert!(long.chars().count() <= 8_000, "{}", long.chars().count());
    assert!(
        !long
            .chars()
            .any(|c| c == '\u{202e}' || c == '\u{7}' || c == '\u{1b}'),
        "no hidden characters"
    );
    desktop.screenshot("01-long-text");
    let allow = app
        .wait_for(&format!("{row} {}", tid("tool-mode-allow")))
        .await;
    app.click(&allow).await.expect("Allow echo");
    shows_mode(&app, &row, "allow").await;

    // The answer to the call is garbage: that call fails in words, the reply goes on.
    proxy.next(Some("tools/call"), Fault::Garbage);
    models.push(ModelReply::new().tool_call(
        "garbled",
        "everything_reference_server__echo",
        json!({"message": "hello"}),
    ));
    models.push(ModelReply::text("That call failed; carrying on."));
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    send(&app, "Echo hello").await;
    app.wait_until(&tid("messages"), |t| {
        t.contains("That call failed; carrying on.")
    })
    .await;
    let failed = app
        .wait_for(&format!("{}[data-error=\"true\"]", tid("tool-result")))
        .await;
    let said = app.text(&failed).await.expect("the block's text");
    assert!(
        said.contains("The server's answer could not be read while trying to call the tool."),
        "{said}"
    );
    desktop.screenshot("02-garbage");

    // The server restarts (it forgets the session) and, on another call, cuts the answer's
    // stream right after its first event: both calls go through, unseen by the person.
    for (fault, message) in [
        (None, "after a restart"),
        (Some(Fault::CutAfterEvents(1)), "resumed"),
    ] {
        match fault {
            None => proxy.forget_sessions(),
            Some(fault) => proxy.next(Some("tools/call"), fault),
        }
        models.push(ModelReply::new().tool_call(
            &format!("call-{}", message.replace(' ', "-")),
            "everything_reference_server__echo",
            json!({"message": message}),
        ));
        let done = format!("Done: {message}.");
        models.push(ModelReply::text(&done));
        send(&app, &format!("Echo {message}")).await;
        app.wait_until(&tid("messages"), |t| t.contains(&done))
            .await;
        let results = super::texts(&app, &tid("tool-result")).await;
        assert!(
            results
                .iter()
                .any(|r| r.contains(&format!("Echo: {message}"))),
            "{results:?}"
        );
    }
    let resumed = proxy
        .seen()
        .into_iter()
        .filter(|s| s.method == "GET" && s.last_event_id.is_some())
        .count();
    assert!(
        resumed >= 1,
        "the cut stream was resumed with Last-Event-ID"
    );

    // A 50 MB answer: that call stops reading at 16 MB and says so; the window goes on.
    proxy.next(Some("tools/call"), Fault::Huge(50 * 1024 * 1024));
    models.push(ModelReply::new().tool_call(
        "huge",
        "everything_reference_server__echo",
        json!({"message": "huge"}),
    ));
    models.push(ModelReply::text("Too big, moving on."));
    send(&app, "Echo something huge").await;
    app.wait_until(&tid("messages"), |t| t.contains("Too big, moving on."))
        .await;
    let refused = super::texts(
        &app,
        &format!("{}[data-error=\"true\"]", tid("tool-result")),
    )
    .await;
    assert!(
        refused
            .iter()
            .any(|r| r.contains("The server's answer was larger than 16 MB")),
        "{refused:?}"
    );
    desktop.screenshot("02b-restart-resume-huge");

    // A call that comes with 10,000 log messages: the reply goes on, and the latest 500 are
    // under "About this server".
    proxy.next(Some("tools/call"), Fault::Flood(10_000));
    models.push(ModelReply::new().tool_call(
        "flooded",
        "everything_reference_server__echo",
        json!({"message": "through the flood"}),
    ));
    models.push(ModelReply::text("The flood is over."));
    send(&app, "Echo through the flood").await;
    app.wait_until(&tid("messages"), |t| t.contains("The flood is over."))
        .await;
    let nav = app.wait_for(&tid("nav-connectors")).await;
    app.click(&nav).await.expect("Connectors");
    let row = app.wait_for(&tid("connector-row")).await;
    app.click(&row).await.expect("open the connector");
    let about = app
        .wait_for(&format!("{} summary", tid("about-server")))
        .await;
    app.click(&about).await.expect("About this server");
    let show = app.wait_for(&tid("server-messages-show")).await;
    app.click(&show).await.expect("Show messages");
    app.wait_text(
        &tid("server-messages-dropped"),
        "9,500 older messages are no longer kept.",
    )
    .await;
    let list = app.wait_for(&tid("server-messages")).await;
    assert_eq!(
        app.attribute(&list, "data-count").await.expect("count"),
        Some("500".to_owned())
    );
    app.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center', behavior: 'instant'});",
        json!([tid("server-messages")]),
    )
    .await
    .expect("scrolled");
    app.painted().await.expect("drawn");
    desktop.screenshot("03-server-messages");

    // The network goes: connecting again says nothing answers; when it is back, the
    // connector connects by itself, with no click.
    proxy.down();
    from_more_menu(&app, "reconnect-button").await;
    app.wait_text(&tid("detail-state"), "Can't reach").await;
    app.wait_text(
        &tid("problem-retrying"),
        "Switchboard keeps trying on its own, less often as time goes by.",
    )
    .await;
    desktop.screenshot("04-network-gone");
    proxy.up();
    app.wait_text(&tid("detail-state"), "Connected").await;
    desktop.screenshot("05-back");

    // A server that stalls: with the connector's time limit at 2 seconds, the call ends in
    // words when it runs out, the server is told to stop, and the reply goes on.
    set_call_timeout(&app, 2).await;
    let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
    loop {
        let timeout = app.wait_for(&tid("call-timeout")).await;
        if app.property(&timeout, "value").await.expect("value") == json!("2") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the time limit was not kept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let chat = app
        .wait_for(&format!(
            "{}[data-title=\"Echo hello\"] {}",
            tid("chat-item"),
            tid("open-chat")
        ))
        .await;
    app.click(&chat).await.expect("back to the chat");
    proxy.next(Some("tools/call"), Fault::Stall);
    let stalled_at = std::time::Instant::now();
    models.push(ModelReply::new().tool_call(
        "stalled",
        "everything_reference_server__echo",
        json!({"message": "stalled"}),
    ));
    models.push(ModelReply::text("It timed out; carrying on."));
    send(&app, "Echo stalled").await;
    // Connected again, the server's tool reads as it really is, not as the megabyte the
    // first listing made of it: the changed tool is asked about before it runs.
    let card = app.wait_for(&tid("approval-card")).await;
    assert!(
        app.text(&card)
            .await
            .expect("the card")
            .contains("The server changed this tool since you allowed it."),
    );
    let once = app.wait_for(&tid("approval-allow-once")).await;
    app.click(&once).await.expect("Allow once");
    app.wait_until(&tid("messages"), |t| {
        t.contains("It timed out; carrying on.")
    })
    .await;
    let failed = super::texts(
        &app,
        &format!("{}[data-error=\"true\"]", tid("tool-result")),
    )
    .await;
    assert!(
        failed.iter().any(|r| r.contains(
            "The server did not answer within 2 seconds. It may be busy or down; try again later."
        )),
        "{failed:?}"
    );
    // The server is told the call is off (sent as the call gives up; waited for, not assumed).
    let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
    while !proxy
        .seen_since(stalled_at)
        .iter()
        .any(|s| s.rpc.as_deref() == Some("notifications/cancelled"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the server was not told to stop"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    desktop.screenshot("06-stalled");
    app.quit().await;
}

/// WebKit runs the window's page in a process of its own. When that process dies (a crash
/// in WebKit or a library under it, or the system reclaiming its memory), the window loads
/// its page again by itself, with everything the person had: their connectors live in the
/// core, not in the page. A page that dies at every load is not loaded forever: the window
/// says so, and loads it again when the person chooses "Try again".
#[tokio::test(flavor = "multi_thread")]
async fn the_window_comes_back_by_itself_when_its_page_crashes() {
    let everything = kit::Everything::start();
    let mut desktop = Desktop::start("page_crash");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    // The first view, kept for the next start, was built before there was a connector.
    super::kept_start_view(&desktop, |v| v.contains("No connectors yet")).await;
    add_by_address(&app, everything.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    let name = super::texts(&app, &tid("connector-name")).await;
    assert_eq!(name.len(), 1, "{name:?}");
    let before = kill_pages(&desktop);
    assert_eq!(before.len(), 1, "one page, in one web process: {before:?}");

    // WebKitWebDriver's session ends with the process it drove, so from here on the window
    // is seen as the desktop sees it: the app's log, its processes, its files, the screen.
    logged(&desktop, kit::desktop::PAGE_STOPPED_LINE, 1).await;
    logged(&desktop, kit::desktop::PAGE_LOADED_LINE, 2).await;
    // The reloaded page's code ran, and its first view showed the connector at once: it was
    // handed the list as it is now, not the empty one handed at the start.
    super::kept_start_view(&desktop, |v| {
        v.contains(&name[0]) && v.contains("Connected")
    })
    .await;
    let after = desktop.web_processes();
    assert!(
        !after.is_empty() && !after.contains(&before[0]),
        "{before:?} {after:?}"
    );
    desktop.screenshot("01-back");

    // Stopped three more times in a row: after three reloads, the window says what happened
    // and what to do instead of loading the page again.
    for stops in 2..=4 {
        logged(&desktop, kit::desktop::PAGE_LOADED_LINE, stops).await;
        kill_pages(&desktop);
        logged(&desktop, kit::desktop::PAGE_STOPPED_LINE, stops).await;
    }
    let log = desktop.app_log();
    assert!(log.contains("not loading it any more"), "{log}");
    logged(&desktop, kit::desktop::PAGE_LOADED_LINE, 5).await;
    desktop.screenshot("02-gave-up");

    // "Try again", focused, is one key away: the window's page loads once more, and its code
    // runs (it keeps the view it built anew, the kept one being gone).
    std::fs::remove_file(desktop.start_view_file()).expect("the kept start view");
    desktop.press_key("Return");
    logged(&desktop, kit::desktop::PAGE_LOADED_LINE, 6).await;
    super::kept_start_view(&desktop, |v| {
        v.contains(&name[0]) && v.contains("Connected")
    })
    .await;
    desktop.screenshot("03-tried-again");
}

/// Kills WebKit's web processes on the desktop (the window's page), as a crash would end
/// them; their ids.
fn kill_pages(desktop: &Desktop) -> Vec<u32> {
    let pages = desktop.web_processes();
    for page in &pages {
        // One that ended in between is as good as killed: what the app logs is checked.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &page.to_string()])
            .status();
    }
    pages
}

/// Waits until the app has logged `line` `times` times.
async fn logged(desktop: &Desktop, line: &str, times: usize) {
    let deadline = std::time::Instant::now() + kit::webdriver::PATIENCE;
    while desktop.app_log().matches(line).count() < times {
        assert!(
            std::time::Instant::now() < deadline,
            "{line:?} logged fewer than {times} times:\n{}",
            desktop.app_log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
