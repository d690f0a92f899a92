//! The chat's numbers, measured inside the real window: `bench/in_page.js`, installed through
//! WebDriver, dispatches the clicks and keys itself and times them with `performance.now()`,
//! `requestAnimationFrame` and MutationObservers, so WebDriver's own round trips count for
//! nothing.
//!
//! - The paperclip menu over 10,000 resources and 2,000 prompts (a PyPI `mcp` server added by
//!   address) next to the same menu over the plain test server: click → first option
//!   shown, and each key of a query → its filtered list in the page, and → the frame that
//!   paints it.
//! - A ~20,000-word Markdown reply streamed by the test kit's model server as fast as it
//!   writes, and paced at 6,000 characters a second: characters rendered per second, and
//!   the frame times while it streams.
//! - Memory with a 500-message conversation on screen (written to the history file with a
//!   `ChatStore` before the app starts) next to an empty chat, and the time to open it.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_core::chat::store::{ChatStore, FILE_NAME};
use switchboard_core::chat::{MessageStatus, Part, Role};
use switchboard_testkit as kit;
use switchboard_testkit::desktop::{Desktop, app_binary};
use switchboard_testkit::webdriver::{Session, keys, tid};
use switchboard_testkit::{ModelReply, ModelServer};

use super::{IDLE, median, memory_mib, p95, worst};

/// What runs: `bench.rs` picks from its arguments.
#[derive(Clone, Copy, Debug)]
pub struct Parts {
    pub menu: bool,
    pub stream: bool,
    pub memory: bool,
}

const BIG_RESOURCES: usize = 10_000;
const BIG_PROMPTS: usize = 2_000;
/// Rounds of opening the menu and typing [`QUERY`], after one that is not counted.
const MENU_ROUNDS: usize = 5;
/// Typed one key at a time: a topic of the big catalog's titles and a number.
const QUERY: &str = "budget 42";
/// Typed into the connector page's filter: one resource's title ("Budget 4792").
const TAB_QUERY: &str = "budget 4792";
/// The goal for a keystroke: within the frame.
const KEY_GOAL_MS: f64 = 16.0;

/// Words in the streamed reply (at least).
const REPLY_WORDS: usize = 20_000;
/// Characters per streamed delta: a few words, as the real APIs send.
const DELTA_CHARS: usize = 24;
const STREAM_ROUNDS: usize = 3;
/// The paced run: one delta every 4 ms, 6,000 characters a second — about ten times the
/// fastest hosted models, so the frames measure the window keeping up with a real stream.
const PACE: Duration = Duration::from_millis(4);
const PACED_ROUNDS: usize = 2;

/// Messages in the long conversation: half the person's, half the model's.
const HISTORY_MESSAGES: usize = 500;
const HISTORY_TITLE: &str = "Bench: 500 messages";
/// In the last message only: it is rendered once this is in the page.
const HISTORY_END: &str = "sbhistoryend";
const MEMORY_ROUNDS: usize = 3;

/// How long one in-page measurement may take: a debug build over a big catalog is slow.
const IN_PAGE_LIMIT: Duration = Duration::from_secs(600);

const IN_PAGE: &str = include_str!("in_page.js");

// ----- driving the window -------------------------------------------------------------------

/// Installs `in_page.js` (once per window) and starts `name(args…)` in the page.
async fn start(app: &Session, name: &str, args: Value) {
    app.execute(IN_PAGE, json!([]))
        .await
        .expect("install the in-page bench");
    app.execute(
        "return window.__sbBench.start(arguments[0], arguments[1]);",
        json!([name, args]),
    )
    .await
    .expect("start an in-page measurement");
}

/// Waits for the in-page measurement started last and returns its value.
async fn outcome(app: &Session, what: &str) -> Value {
    let deadline = Instant::now() + IN_PAGE_LIMIT;
    loop {
        let state = app
            .execute("return window.__sbBench.poll();", json!([]))
            .await
            .expect("poll the in-page bench");
        if let Some(error) = state.get("error") {
            panic!("{what}: {}", error.as_str().unwrap_or_default());
        }
        if let Some(value) = state.get("value") {
            return value.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no outcome in {IN_PAGE_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(super) async fn in_page(app: &Session, name: &str, args: Value) -> Value {
    start(app, name, args).await;
    outcome(app, name).await
}

/// A round's keys, typed from `query` (`typeKey` in `in_page.js`): each key's time to the
/// frame that shows it onto `keys`, its work onto `work`. With `SWITCHBOARD_BENCH_KEYS` set,
/// each key's whole timeline is printed after `label`, to find where a slow one goes.
pub(super) fn typed_keys(
    round: &Value,
    query: &str,
    label: &str,
    keys: &mut Vec<f64>,
    work: &mut Vec<f64>,
) {
    let print = std::env::var_os("SWITCHBOARD_BENCH_KEYS").is_some();
    for (key, typed) in round["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .zip(query.chars())
    {
        if print {
            eprintln!("{label} key {typed:?}: {key}");
        }
        keys.push(ms(&key["ms"]));
        work.push(ms(&key["work"]));
    }
}

pub(super) fn ms(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// Adds `url` in the add dialog, as a person pasting it and pressing Enter.
pub(super) async fn add_by_address(app: &Session, url: &str) {
    let add = app.wait_for(&tid("add-connector-button")).await;
    app.click(&add).await.expect("Add custom connector");
    let input = app.wait_for(&tid("add-url-input")).await;
    app.type_into(&input, &format!("{url}{}", keys::ENTER))
        .await
        .expect("type and Enter");
    app.wait_gone(&tid("add-dialog")).await;
}

/// Adds an OpenAI-compatible provider without a key through Settings → Models.
pub(super) async fn add_provider(app: &Session, models: &ModelServer) {
    let nav = app.wait_for(&tid("nav-models")).await;
    app.click(&nav).await.expect("open Models");
    let add = app.wait_for(&tid("add-provider")).await;
    app.click(&add).await.expect("Add a model provider");
    let kind = app.wait_for(&tid("provider-kind-openai")).await;
    app.click(&kind).await.expect("choose OpenAI-compatible");
    let address = app.wait_for(&tid("provider-url")).await;
    app.type_into(&address, &models.openai_url())
        .await
        .expect("type the address");
    let save = app.wait_for(&tid("provider-save")).await;
    app.click(&save).await.expect("Check and add");
    app.wait_gone(&tid("provider-form")).await;
}

pub(super) async fn new_chat(app: &Session) {
    let new_chat = app.wait_for(&tid("new-chat")).await;
    app.click(&new_chat).await.expect("New chat");
    app.wait_for(&tid("composer-input")).await;
}

// ----- the paperclip menu -------------------------------------------------------------------

struct Menu {
    /// Click → first option shown, per round.
    open: Vec<f64>,
    /// Key → its filtered list shown (the frame that paints it), every key of every round.
    keys: Vec<f64>,
    /// Key → the list changed (the window's work, without waiting for the frame).
    work: Vec<f64>,
    /// The time between frames of the idle window, before typing.
    idle_frames: Vec<f64>,
    /// Keys after which the list did not change at all (the space: the same words).
    unchanged: usize,
    /// Where each key's time went.
    traces: Vec<KeyTrace>,
    /// A bare `setTimeout(0)` in the window, before typing: how long it took to run.
    timers: Vec<f64>,
    /// The same timer queued after a key typed into an input of the page's own that no
    /// handler listens to: unfocused, focused, and focused with the search's markup.
    plain_timers: [Vec<f64>; 3],
    /// Rows of the unfiltered list, and of them the options in the page.
    rows: u64,
    in_page: u64,
    /// The connector page's Resources tab: click → first resource shown, per round.
    tab_open: Vec<f64>,
    /// Its filter: key → the list updated, and → the frame showing it.
    tab_work: Vec<f64>,
    tab_keys: Vec<f64>,
    /// Resources in the page once the tab settled, and after the query.
    tab_in_page: u64,
    tab_matched: u64,
    /// The screen reader's count after the query ("N results").
    results: String,
}

#[derive(Default)]
struct Tab {
    open: Vec<f64>,
    keys: Vec<f64>,
    work: Vec<f64>,
    in_page: u64,
    matched: u64,
}

async fn menu(name: &str, server: &kit::PythonMcp, min_rows: u64) -> Menu {
    let models = ModelServer::start();
    models.models(&["bench-model"]);
    let mut desktop = Desktop::start(name);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_by_address(&app, server.url()).await;
    app.wait_until(&tid("connector-row"), |t| t.contains("Connected"))
        .await;
    let mut tab = Tab::default();
    for round in 0..=MENU_ROUNDS {
        let r = in_page(&app, "resourcesRound", json!([TAB_QUERY, 120_000])).await;
        if round == 0 {
            continue;
        }
        tab.open.push(ms(&r["open"]));
        typed_keys(
            &r,
            TAB_QUERY,
            &format!("{name} resources round {round}"),
            &mut tab.keys,
            &mut tab.work,
        );
        tab.in_page = r["itemsInPage"].as_u64().unwrap_or(0);
        tab.matched = r["matched"].as_u64().unwrap_or(0);
    }
    desktop.screenshot("resources-tab-filtered");
    add_provider(&app, &models).await;
    new_chat(&app).await;
    app.wait_for(&tid("paperclip")).await;

    // Not counted: the first opening, until the whole catalog is listed.
    let deadline = Instant::now() + kit::webdriver::PATIENCE;
    loop {
        let round = in_page(&app, "menuRound", json!([QUERY, 120_000])).await;
        let rows = round["rows"].as_u64().unwrap_or(0);
        if rows >= min_rows {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the menu lists {rows} rows, not {min_rows}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut numbers = Menu {
        open: Vec::new(),
        keys: Vec::new(),
        work: Vec::new(),
        idle_frames: Vec::new(),
        unchanged: 0,
        traces: Vec::new(),
        timers: Vec::new(),
        plain_timers: Default::default(),
        rows: 0,
        in_page: 0,
        results: String::new(),
        tab_open: tab.open,
        tab_work: tab.work,
        tab_keys: tab.keys,
        tab_in_page: tab.in_page,
        tab_matched: tab.matched,
    };
    for _ in 0..MENU_ROUNDS {
        let round = in_page(&app, "menuRound", json!([QUERY, 120_000])).await;
        assert_eq!(round["typed"], QUERY, "{name}: {round}");
        numbers.open.push(ms(&round["open"]));
        numbers.idle_frames.extend(floats(&round["idleFrames"]));
        numbers.timers.extend(floats(&round["timers"]));
        for (kind, times) in PLAIN_INPUTS.iter().zip(&mut numbers.plain_timers) {
            times.extend(floats(&round["plainTimers"][kind]));
        }
        for key in round["keys"].as_array().expect("keys") {
            numbers.keys.push(ms(&key["ms"]));
            numbers.work.push(ms(&key["work"]));
            numbers.traces.push(KeyTrace {
                work: ms(&key["work"]),
                handled: ms(&key["handled"]),
                timer_after: ms(&key["timerAfter"]),
                changes: key["trace"].clone(),
                timer_runs: key["timerRuns"].clone(),
                microtasks_done: key["microtasksDone"].as_f64(),
                frame_began: key["frameBegan"].as_f64(),
            });
            if key["changed"] != true {
                numbers.unchanged += 1;
            }
        }
        numbers.rows = round["rows"].as_u64().unwrap_or(0);
        numbers.in_page = round["optionsInPage"].as_u64().unwrap_or(0);
        numbers.results = round["results"].as_str().unwrap_or_default().to_owned();
    }
    desktop.screenshot("menu-filtered");
    in_page(&app, "closeMenu", json!([])).await;
    app.quit().await;
    numbers
}

fn menu_report(small: &mut Menu, big: &mut Menu) -> Vec<String> {
    let keys_per_catalog = MENU_ROUNDS * QUERY.chars().count();
    let line = |what: &str, small: f64, big: f64| super::ratio_line(40, what, small, big);
    let (big_work, big_work_worst) = (median(&mut big.work), worst(&big.work));
    let big_key = median(&mut big.keys);
    let frame = median(&mut big.idle_frames);
    vec![
        format!(
            "paperclip menu ({MENU_ROUNDS} rounds each after one not counted; {QUERY:?} typed a \
             key at a time, {keys_per_catalog} keys):"
        ),
        format!(
            "    {:<40} {:>12}  {:>12}  {:>7}",
            "", "small catalog", "big catalog", "ratio"
        ),
        format!(
            "    {:<40} {:>12}  {:>12}",
            "rows listed (options in the page)",
            format!("{} ({})", small.rows, small.in_page),
            format!("{} ({})", big.rows, big.in_page),
        ),
        line(
            "click → first option shown, median",
            median(&mut small.open),
            median(&mut big.open),
        ),
        line(
            "click → first option shown, worst",
            worst(&small.open),
            worst(&big.open),
        ),
        line(
            "key → list updated, median",
            median(&mut small.work),
            big_work,
        ),
        line(
            "key → list updated, worst",
            worst(&small.work),
            big_work_worst,
        ),
        line(
            "key → frame showing it, median",
            median(&mut small.keys),
            big_key,
        ),
        line(
            "key → frame showing it, worst",
            worst(&small.keys),
            worst(&big.keys),
        ),
        line(
            "idle window, time between frames, median",
            median(&mut small.idle_frames),
            frame,
        ),
        format!(
            "    {:<40} {:>12}  {:>12}",
            "after the query", small.results, big.results
        ),
        format!(
            "    keys that changed nothing in the list: {} small, {} big (same matches on view, \
             or the space)",
            small.unchanged, big.unchanged
        ),
        format!(
            "    goal: under {KEY_GOAL_MS:.0} ms a keystroke with {BIG_RESOURCES} resources and \
             {BIG_PROMPTS} prompts: {} (the list updated in {big_work:.1} ms median, \
             {big_work_worst:.1} ms worst; painted {big_key:.1} ms after the key, the window \
             painting every {frame:.1} ms)",
            if big_work_worst < KEY_GOAL_MS {
                "met"
            } else if big_work < KEY_GOAL_MS {
                "met at the median, NOT at worst"
            } else {
                "NOT met"
            }
        ),
        typical_key("small", small),
        typical_key("big", big),
        format!(
            "the connector page's Resources tab (the same catalogs; {TAB_QUERY:?} typed a key at \
             a time):"
        ),
        format!(
            "    {:<40} {:>12}  {:>12}",
            "resources in the page (after the query)",
            format!("{} ({})", small.tab_in_page, small.tab_matched),
            format!("{} ({})", big.tab_in_page, big.tab_matched),
        ),
        line(
            "click → first resource shown, median",
            median(&mut small.tab_open),
            median(&mut big.tab_open),
        ),
        line(
            "click → first resource shown, worst",
            worst(&small.tab_open),
            worst(&big.tab_open),
        ),
        line(
            "key → list updated, median",
            median(&mut small.tab_work),
            median(&mut big.tab_work),
        ),
        line(
            "key → list updated, worst",
            worst(&small.tab_work),
            worst(&big.tab_work),
        ),
        line(
            "key → frame showing it, median",
            median(&mut small.tab_keys),
            median(&mut big.tab_keys),
        ),
    ]
}

/// The inputs the menu bench types into besides the search (`in_page.js`, `plainTimers`).
const PLAIN_INPUTS: [&str; 3] = ["unfocused", "focused", "combobox"];

/// One key in the menu, in ms since it was typed.
struct KeyTrace {
    /// The last change to the page.
    work: f64,
    /// Its handlers done.
    handled: f64,
    /// A timer queued after the key's handlers ran (after any timer they queued, and
    /// whatever the window did before it: a frame, for one).
    timer_after: f64,
    /// `[ms, where]` for each batch of changes to the page.
    changes: Value,
    /// `[began, returned]` of each timer callback the key's handlers started.
    timer_runs: Value,
    /// The microtasks queued by the key's handlers done.
    microtasks_done: Option<f64>,
    /// The next frame began (its `requestAnimationFrame` callbacks).
    frame_began: Option<f64>,
}

/// Where a key's time went in one catalog's menu: the key whose last change was the
/// median's, its timers, microtasks and frames, and each batch of changes to the page after it.
fn typical_key(catalog: &str, menu: &Menu) -> String {
    let mut traces: Vec<&KeyTrace> = menu.traces.iter().collect();
    traces.sort_by(|a, b| a.work.total_cmp(&b.work));
    let timer = median(&mut menu.timers.clone());
    let plain: Vec<String> = PLAIN_INPUTS
        .iter()
        .zip(&menu.plain_timers)
        .map(|(kind, times)| format!("{kind} {:.1} ms", median(&mut times.clone())))
        .collect();
    let Some(key) = traces.get(traces.len() / 2) else {
        return format!("    a typical key, {catalog} catalog: none measured");
    };
    let list = |value: &Value, show: &dyn Fn(&Value) -> String| -> Vec<String> {
        value
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(show)
            .collect()
    };
    let changes = list(&key.changes, &|c| {
        format!("+{} {}", c[0], c[1].as_str().unwrap_or("?"))
    });
    let at = |ms: Option<f64>| ms.map_or_else(|| "?".to_owned(), |ms| format!("+{ms:.1}"));
    let runs = list(&key.timer_runs, &|r| format!("+{}…+{}", r[0], r[1]));
    format!(
        "    a typical key, {catalog} catalog (last change +{work:.1} ms): its handlers done \
         +{handled:.1}, the microtasks they queued done {microtasks}, the next frame began \
         {frame}, the timers they started ran {runs} (their own code), a timer queued after \
         the key ran +{timer_after:.1} (a bare timer task takes {timer:.1} ms here; after a key typed \
         into an input no handler listens to: {plain}); the page changed {changes}",
        work = key.work,
        handled = key.handled,
        timer_after = key.timer_after,
        runs = if runs.is_empty() {
            "none".to_owned()
        } else {
            runs.join(", ")
        },
        plain = plain.join(", "),
        microtasks = at(key.microtasks_done),
        frame = at(key.frame_began),
        changes = if changes.is_empty() {
            "nowhere".to_owned()
        } else {
            changes.join("; ")
        }
    )
}

// ----- streaming ----------------------------------------------------------------------------

/// Deterministic words: a small generator, so every run streams the same reply.
struct Words(u64);

const VOCABULARY: &[&str] = &[
    "the",
    "server",
    "connector",
    "returns",
    "a",
    "list",
    "of",
    "resources",
    "and",
    "prompts",
    "which",
    "model",
    "reads",
    "before",
    "it",
    "answers",
    "with",
    "budget",
    "roadmap",
    "team",
    "quarter",
    "release",
    "review",
    "notes",
    "in",
    "each",
    "request",
    "is",
    "sent",
    "to",
    "our",
    "client",
    "when",
    "people",
    "ask",
    "for",
    "more",
    "detail",
    "about",
    "that",
    "design",
    "meeting",
    "incident",
    "follow-up",
    "owner",
    "deadline",
    "draft",
    "plan",
    "should",
    "include",
    "clear",
    "steps",
    "so",
    "everyone",
    "knows",
    "what",
    "happens",
    "next",
    "after",
    "we",
    "ship",
];

impl Words {
    fn next(&mut self) -> &'static str {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let at = (self.0 >> 33) as usize % VOCABULARY.len();
        VOCABULARY[at]
    }

    /// `n` words as a sentence or more, some marked up.
    fn sentences(&mut self, n: usize) -> String {
        let mut out = String::new();
        for i in 0..n {
            let word = self.next();
            let piece = match (i % 23, i % 37) {
                (7, _) => format!("**{word}**"),
                (_, 11) => format!("`{word}`"),
                _ if i == 0 => {
                    let mut chars = word.chars();
                    chars.next().map_or_else(String::new, |c| {
                        c.to_uppercase().chain(chars).collect::<String>()
                    })
                }
                _ => word.to_owned(),
            };
            out.push_str(&piece);
            out.push_str(if i + 1 == n {
                "."
            } else if i % 12 == 11 {
                ", "
            } else {
                " "
            });
        }
        out
    }
}

/// A long Markdown reply: sections of paragraphs, every third with a list, every fourth
/// with a code block, ending with `sentinel`.
fn long_reply(round: usize, sentinel: &str) -> String {
    let mut words = Words(round as u64 + 7);
    let mut out = String::new();
    let mut section = 0_usize;
    while out.split_whitespace().count() < REPLY_WORDS {
        section += 1;
        out.push_str(&format!("## Section {section}\n\n"));
        for length in [70, 55] {
            out.push_str(&words.sentences(length));
            out.push_str("\n\n");
        }
        if section.is_multiple_of(3) {
            for _ in 0..5 {
                out.push_str(&format!("- {}\n", words.sentences(10)));
            }
            out.push('\n');
        }
        if section.is_multiple_of(4) {
            out.push_str("```rust\n");
            for line in 0..8 {
                out.push_str(&format!(
                    "let {}_{line} = {}({line});\n",
                    words.next().replace('-', "_"),
                    words.next().replace('-', "_")
                ));
            }
            out.push_str("```\n\n");
        }
    }
    out.push_str(&format!("That is the whole report: {sentinel}.\n"));
    out
}

struct Stream {
    words: usize,
    source_chars: usize,
    rendered_chars: u64,
    /// Enter → the first text shown, and how much of it there was then, per round.
    to_first: Vec<f64>,
    first_chars: Vec<f64>,
    /// First text → last text in the page, per round.
    seconds: Vec<f64>,
    /// Characters rendered per second over that time, per round.
    rate: Vec<f64>,
    /// Every frame's duration from the first text through the frame that paints the last,
    /// all rounds.
    frames: Vec<f64>,
    /// The frame that paints the last text, per round.
    last_frames: Vec<f64>,
    /// DOM updates of the streaming reply, per round.
    updates: Vec<f64>,
    /// Rounds whose last text showed in the streaming reply itself, not only once saved.
    ended_streaming: usize,
    /// Rounds after which the list was scrolled to the reply's end.
    followed: usize,
    rounds: usize,
    /// The pause after each delta, when paced.
    pace: Option<Duration>,
}

/// Streams the long reply `rounds` times: as fast as the server writes, or paced.
async fn stream(pace: Option<Duration>, rounds: usize) -> Stream {
    let models = ModelServer::start();
    models.models(&["bench-model"]);
    let mut desktop = Desktop::start("bench-chat-stream");
    let driver = desktop.driver();
    let app = driver.open_app().await;
    add_provider(&app, &models).await;
    let mut numbers = Stream {
        words: 0,
        source_chars: 0,
        rendered_chars: 0,
        to_first: Vec::new(),
        first_chars: Vec::new(),
        seconds: Vec::new(),
        rate: Vec::new(),
        frames: Vec::new(),
        last_frames: Vec::new(),
        updates: Vec::new(),
        ended_streaming: 0,
        followed: 0,
        rounds,
        pace,
    };
    for round in 0..rounds {
        let sentinel = format!("sbbenchend{round}z");
        let reply = long_reply(round, &sentinel);
        numbers.words = reply.split_whitespace().count();
        numbers.source_chars = reply.chars().count();
        let scripted = ModelReply::text(&reply).deltas_of(DELTA_CHARS);
        models.push(match pace {
            Some(pause) => scripted.paced(pause),
            None => scripted,
        });
        new_chat(&app).await;
        start(
            &app,
            "stream",
            json!([sentinel, IN_PAGE_LIMIT.as_millis() as u64]),
        )
        .await;
        let input = app.wait_for(&tid("composer-input")).await;
        app.type_into(&input, &format!("Write the long report{}", keys::ENTER))
            .await
            .expect("type and Enter");
        let result = outcome(&app, "the streamed reply").await;
        let first = ms(&result["first"]);
        let end = match result["streamedEnd"].as_f64() {
            Some(end) => {
                numbers.ended_streaming += 1;
                end
            }
            None => ms(&result["savedEnd"]),
        };
        let chars = result["chars"].as_u64().unwrap_or(0);
        numbers.rendered_chars = chars;
        numbers.to_first.push(first - ms(&result["sent"]));
        numbers.first_chars.push(ms(&result["firstChars"]));
        let seconds = (end - first) / 1000.0;
        numbers.seconds.push(seconds);
        numbers.rate.push(chars as f64 / seconds);
        numbers.frames.extend(floats(&result["during"]));
        numbers.last_frames.push(ms(&result["lastFrame"]));
        numbers.updates.push(ms(&result["updates"]));
        if result["atEnd"] == true {
            numbers.followed += 1;
        }
        if round == 0 && pace.is_none() {
            desktop.screenshot("stream-done");
        }
    }
    app.quit().await;
    numbers
}

fn stream_report(s: &mut Stream) -> Vec<String> {
    let frames = s.frames.len();
    let rounds = s.rounds;
    let speed = match s.pace {
        Some(pause) => format!(
            "one every {} ms, {:.0} characters a second",
            pause.as_millis(),
            DELTA_CHARS as f64 / pause.as_secs_f64()
        ),
        None => "written as fast as the server can".to_owned(),
    };
    vec![
        format!(
            "streaming a Markdown reply of {} words ({} characters in deltas of {DELTA_CHARS}, \
             {speed}; {rounds} rounds, each in a new chat):",
            s.words, s.source_chars
        ),
        format!(
            "    Enter → first text shown                 median {:9.1} ms  ({:.0} characters \
             at once)",
            median(&mut s.to_first),
            median(&mut s.first_chars)
        ),
        format!(
            "    first text → last text in the page       median {:9.1} ms",
            median(&mut s.seconds) * 1000.0
        ),
        format!(
            "    rendered                                 median {:9.0} chars/s  ({} characters \
             as text)",
            median(&mut s.rate),
            s.rendered_chars
        ),
        format!(
            "    frames, first text through the last ({frames:>3})  median {:6.1} ms  p95 {:6.1} \
             ms  worst {:6.1} ms",
            median(&mut s.frames),
            p95(&mut s.frames),
            worst(&s.frames)
        ),
        format!(
            "    the frame that paints the last text      median {:9.1} ms  worst {:.1} ms",
            median(&mut s.last_frames),
            worst(&s.last_frames)
        ),
        format!(
            "    updates of the streaming reply           median {:9.0} a reply",
            median(&mut s.updates)
        ),
        format!(
            "    the last text showed in the streaming reply in {} of {rounds} rounds \
             (else only in the saved reply that replaces it)",
            s.ended_streaming
        ),
        format!(
            "    the list was scrolled to the reply's end afterwards in {} of {rounds} rounds",
            s.followed
        ),
    ]
}

// ----- memory ---------------------------------------------------------------------------------

/// What a person asks: a line or two.
fn question(i: usize, words: &mut Words) -> String {
    format!("Question {i}: {}", words.sentences(24))
}

/// What the model answers: about 200 words of Markdown, a list, sometimes code.
fn answer(i: usize, words: &mut Words) -> String {
    let mut out = format!("Here is what I suggest for **item {i}**.\n\n");
    out.push_str(&words.sentences(80));
    out.push_str("\n\n");
    for _ in 0..4 {
        out.push_str(&format!("- {}\n", words.sentences(12)));
    }
    out.push('\n');
    if i.is_multiple_of(5) {
        out.push_str("```python\n");
        for line in 0..6 {
            out.push_str(&format!("step_{line} = plan('{}')\n", words.next()));
        }
        out.push_str("```\n\n");
    }
    out.push_str(&words.sentences(60));
    out
}

/// Writes the long conversation into the app's history file, as the app would have.
fn seed_history(file: &Path) {
    let store = ChatStore::open(file).expect("open the history");
    let conversation = store
        .create_conversation(HISTORY_TITLE, None)
        .expect("a conversation");
    let mut words = Words(42);
    for pair in 0..HISTORY_MESSAGES / 2 {
        let ask = question(pair, &mut words);
        let mut reply = answer(pair, &mut words);
        if pair + 1 == HISTORY_MESSAGES / 2 {
            reply.push_str(&format!("\n\nThe end: {HISTORY_END}."));
        }
        for (role, text, model) in [
            (Role::User, ask, None),
            (Role::Assistant, reply, Some("bench-model")),
        ] {
            store
                .append(
                    conversation.id,
                    role,
                    &[Part::text(text)],
                    &[],
                    MessageStatus::Complete,
                    model,
                )
                .expect("append a message");
        }
    }
}

fn remove_history(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

struct Memory {
    empty: Vec<f64>,
    long: Vec<f64>,
    /// Click in the sidebar → the last of the 500 messages shown.
    open: Vec<f64>,
    /// Rounds in which the opened conversation was scrolled to its end.
    at_end: usize,
}

async fn memory() -> Memory {
    let mut desktop = Desktop::start("bench-chat-memory");
    let driver = desktop.driver();
    let binary = app_binary();
    let history = desktop
        .settings_file()
        .parent()
        .expect("the data folder")
        .join(FILE_NAME);
    let mut numbers = Memory {
        empty: Vec::new(),
        long: Vec::new(),
        open: Vec::new(),
        at_end: 0,
    };
    for round in 0..MEMORY_ROUNDS {
        remove_history(&history);
        let app = driver.open_app().await;
        new_chat(&app).await;
        tokio::time::sleep(IDLE).await;
        numbers.empty.push(memory_mib(&binary, &desktop));
        app.quit().await;
        desktop.wait_until_no_app();

        remove_history(&history);
        seed_history(&history);
        let app = driver.open_app().await;
        app.wait_for(&format!(
            "{}[data-title=\"{HISTORY_TITLE}\"] {}",
            tid("chat-item"),
            tid("open-chat")
        ))
        .await;
        let opened = in_page(
            &app,
            "openChat",
            json!([
                HISTORY_TITLE,
                HISTORY_MESSAGES,
                HISTORY_END,
                IN_PAGE_LIMIT.as_millis() as u64
            ]),
        )
        .await;
        assert_eq!(
            opened["messages"].as_u64(),
            Some(HISTORY_MESSAGES as u64),
            "{opened}"
        );
        numbers.open.push(ms(&opened["ms"]));
        if opened["atEnd"] == true {
            numbers.at_end += 1;
        }
        tokio::time::sleep(IDLE).await;
        numbers.long.push(memory_mib(&binary, &desktop));
        if round == 0 {
            desktop.screenshot("memory-500-messages");
        }
        app.quit().await;
        desktop.wait_until_no_app();
    }
    numbers
}

fn memory_report(m: &mut Memory) -> Vec<String> {
    let (empty, long) = (median(&mut m.empty), median(&mut m.long));
    vec![
        format!(
            "chat memory after {}s idle, PSS of the app and its WebKit processes ({MEMORY_ROUNDS} \
             rounds, alternating):",
            IDLE.as_secs()
        ),
        format!("    an empty chat                            median {empty:9.1} MiB"),
        format!(
            "    a {HISTORY_MESSAGES}-message conversation               median {long:9.1} MiB  \
             (+{:.1} MiB, ratio {:.2})",
            long - empty,
            long / empty
        ),
        format!(
            "    click in the sidebar → last message shown median {:9.1} ms  worst {:.1} ms",
            median(&mut m.open),
            worst(&m.open)
        ),
        format!(
            "    the opened conversation was scrolled to its end in {} of {MEMORY_ROUNDS} rounds",
            m.at_end
        ),
    ]
}

// ----- all of it ------------------------------------------------------------------------------

pub async fn run(parts: Parts) -> Vec<String> {
    let mut out = vec![
        String::new(),
        "the chat, measured in the window:".to_owned(),
    ];
    if parts.menu {
        let small_server = kit::PythonMcp::start();
        let mut small = menu("bench-chat-menu-small", &small_server, 1).await;
        drop(small_server);
        let big_server = kit::PythonMcp::with_big_catalog(BIG_RESOURCES, BIG_PROMPTS);
        let mut big = menu(
            "bench-chat-menu-big",
            &big_server,
            (BIG_RESOURCES + BIG_PROMPTS) as u64,
        )
        .await;
        drop(big_server);
        out.extend(menu_report(&mut small, &mut big));
    }
    if parts.stream {
        out.extend(stream_report(&mut stream(None, STREAM_ROUNDS).await));
        out.extend(stream_report(&mut stream(Some(PACE), PACED_ROUNDS).await));
    }
    if parts.memory {
        out.extend(memory_report(&mut memory().await));
    }
    out
}
