//! A connector with 2,000 tools, measured in the real window next to the test server's 4
//! (`bench/in_page.js` times the clicks and keys it dispatches): its Tools tab opened from
//! the list of connectors, the filter typed a key at a time, a tool flipped between Allow
//! and Ask (the core saves each flip before the window shows it), and a message → the
//! approval card for the tool the model calls (the model offered every tool).

use serde_json::{Value, json};
use switchboard_testkit as kit;
use switchboard_testkit::desktop::Desktop;
use switchboard_testkit::webdriver::tid;
use switchboard_testkit::{ModelReply, ModelServer};

use super::chat::{add_by_address, add_provider, in_page, ms, new_chat, typed_keys};
use super::{median, ratio_line, worst};

/// Tools of the big server.
const MANY: usize = 2_000;
/// Rounds of opening the Tools tab, typing [`QUERY`] and flipping, after one not counted.
const ROUNDS: usize = 5;
/// Typed into the filter one key at a time: a topic and a number of the big server's
/// titles ("Budget tool 1992"): one tool of 2,000 left.
const QUERY: &str = "budget tool 1992";
const FLIPS: usize = 4;
/// Messages sent, each answered by a call of a tool set to Ask.
const CARDS: usize = 5;

#[derive(Default)]
struct Numbers {
    tools: usize,
    in_page: u64,
    open: Vec<f64>,
    keys: Vec<f64>,
    work: Vec<f64>,
    matched: u64,
    flips: Vec<f64>,
    cards: Vec<f64>,
}

async fn measure(name: &str, server: &kit::PythonMcp, tools: usize, tool: &str) -> Numbers {
    let models = ModelServer::start();
    models.models(&["bench-model"]);
    let mut desktop = Desktop::start(name);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, server.url()).await;
    // The page groups thousands: "2,004 tools".
    let shown = match tools {
        n if n >= 1_000 => format!("{},{:03} tools", n / 1_000, n % 1_000),
        n => format!("{n} tools"),
    };
    app.wait_until(&tid("connector-counts"), |t| t.starts_with(&shown))
        .await;
    let mut numbers = Numbers {
        tools,
        ..Numbers::default()
    };
    for round in 0..=ROUNDS {
        let r = in_page(&app, "toolsRound", json!([QUERY, FLIPS, 120_000])).await;
        if round == 0 {
            continue;
        }
        numbers.open.push(ms(&r["open"]));
        numbers.in_page = r["itemsInPage"].as_u64().unwrap_or(0);
        numbers.matched = r["matched"].as_u64().unwrap_or(0);
        typed_keys(
            &r,
            QUERY,
            &format!("{name} round {round}"),
            &mut numbers.keys,
            &mut numbers.work,
        );
        numbers.flips.extend(
            r["flips"]
                .as_array()
                .expect("flips")
                .iter()
                .filter_map(Value::as_f64),
        );
    }
    desktop.screenshot("tools-page");

    add_provider(&app, &models).await;
    new_chat(&app).await;
    for round in 0..=CARDS {
        models.push(ModelReply::new().tool_call(
            &format!("call_{round}"),
            &format!("python_fixture__{tool}"),
            json!({"q": "bench"}),
        ));
        models.push(ModelReply::text("Denied, fine."));
        let r = in_page(
            &app,
            "cardRound",
            json!([format!("Round {round}"), 120_000]),
        )
        .await;
        if round > 0 {
            numbers.cards.push(ms(&r["ms"]));
        }
    }
    let offered = models
        .requests()
        .iter()
        .rev()
        .find(|r| r.method == "POST")
        .map(|r| r.json()["tools"].as_array().map_or(0, Vec::len))
        .unwrap_or(0);
    assert_eq!(offered, tools, "{name}: every tool offered to the model");
    app.quit().await;
    numbers
}

pub async fn run() -> Vec<String> {
    let small_server = kit::PythonMcp::start();
    let mut small = measure(
        "bench-tools-small",
        &small_server,
        kit::PYTHON_TOOLS,
        "echo",
    )
    .await;
    drop(small_server);
    let big_server = kit::PythonMcp::with_many_tools(MANY);
    let mut big = measure(
        "bench-tools-big",
        &big_server,
        kit::PYTHON_TOOLS + MANY,
        "tool-01992",
    )
    .await;
    drop(big_server);
    // "what, median" and "what, worst", side by side.
    let lines = |what: &str, small: &mut [f64], big: &mut [f64]| {
        [
            ratio_line(44, &format!("{what}, median"), median(small), median(big)),
            ratio_line(44, &format!("{what}, worst"), worst(small), worst(big)),
        ]
    };
    let mut out = vec![
        String::new(),
        format!(
            "a connector's tools ({ROUNDS} rounds each after one not counted; {QUERY:?} typed a \
             key at a time; {FLIPS} flips a round; {CARDS} approval cards):"
        ),
        format!(
            "    {:<44} {:>12}  {:>12}  {:>7}",
            "", "4 tools", "2,004 tools", "ratio"
        ),
        format!(
            "    {:<44} {:>12}  {:>12}",
            "tools (rows in the page)",
            format!("{} ({})", small.tools, small.in_page),
            format!("{} ({})", big.tools, big.in_page),
        ),
    ];
    out.extend(lines(
        "click → first tool shown",
        &mut small.open,
        &mut big.open,
    ));
    out.push(ratio_line(
        44,
        "key → list updated, median",
        median(&mut small.work),
        median(&mut big.work),
    ));
    out.extend(lines(
        "key → frame showing it",
        &mut small.keys,
        &mut big.keys,
    ));
    out.push(format!(
        "    {:<44} {:>12}  {:>12}",
        "tools matching the query", small.matched, big.matched
    ));
    out.extend(lines(
        "flip Allow/Ask → shown (saved)",
        &mut small.flips,
        &mut big.flips,
    ));
    out.extend(lines(
        "Enter → approval card shown",
        &mut small.cards,
        &mut big.cards,
    ));
    out
}
