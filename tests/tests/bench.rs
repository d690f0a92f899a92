//! Benchmarks (`cargo xtask bench`; not part of the test run): start-up to first paint of
//! the Connectors page with 20 saved connectors, and idle memory of the app with its WebKit
//! processes, each next to a blank Tauri 2 window measured in the same run on the same
//! desktop; and the chat's numbers in the real window ([`chat`]): the paperclip menu over a
//! huge catalog, a long reply streaming in, and the memory of a long conversation. Prints
//! numbers; asserts no time.
//!
//! Parts can be run alone by naming them after `--` (or in `$SWITCHBOARD_BENCH`, comma
//! separated): `startup` (the first two, which need the blank window), `menu`, `stream`,
//! `memory`, or `chat` for the last three; `tools` for a connector with 2,000 tools
//! ([`tools`]); `many` for the app started with 50 connectors on servers far away
//! ([`many`]). Without names, everything runs.

#[path = "bench/chat.rs"]
mod chat;
#[path = "bench/many.rs"]
mod many;
#[path = "bench/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use switchboard_testkit as kit;
use switchboard_testkit::desktop::{Desktop, app_binary};
use switchboard_testkit::webdriver::tid;

const ROUNDS: usize = 5;
const CONNECTORS: usize = 20;
/// How long the window sits idle before its memory is read.
const IDLE: Duration = Duration::from_secs(8);

/// The blank baseline, built by `cargo xtask bench` next to the app.
fn blank_binary() -> PathBuf {
    std::env::var_os("SWITCHBOARD_BLANK")
        .map(PathBuf::from)
        .unwrap_or_else(|| app_binary().with_file_name("examples/blank_window"))
}

/// Writes 20 connectors to the app's settings file, all on one real server.
fn seed_settings(desktop: &Desktop, url: &str) {
    let connectors: Vec<serde_json::Value> = (0..CONNECTORS)
        .map(|i| {
            serde_json::json!({
                "id": format!("bench{i}"),
                "name": format!("Server {i}"),
                "nameIsCustom": true,
                "url": format!("{url}?n={i}"),
                "enabled": true,
            })
        })
        .collect();
    let file = desktop.settings_file();
    std::fs::create_dir_all(file.parent().expect("parent")).expect("data dir");
    std::fs::write(
        &file,
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 1, "connectors": connectors}))
            .expect("json"),
    )
    .expect("settings");
}

/// Waits until `path` exists (a file the app writes on its own time).
async fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Proportional set size, in MiB, of every process running `binary` on `desktop` (with its
/// display: others may run the same binary meanwhile, end-to-end tests for one) and all
/// their descendants (WebKit's web and network processes).
fn memory_mib(binary: &Path, desktop: &Desktop) -> f64 {
    let (own, webkit) = memory_split(binary, desktop);
    own + webkit
}

/// PSS in MiB of `binary`'s own process and of its WebKit processes, apart.
fn memory_split(binary: &Path, desktop: &Desktop) -> (f64, f64) {
    let binary = std::fs::canonicalize(binary).expect("binary path");
    let display = desktop
        .env()
        .into_iter()
        .find(|(key, _)| key == "DISPLAY")
        .map(|(_, value)| format!("DISPLAY={value}"))
        .expect("the desktop's display");
    let on_desktop = |pid: u32| {
        std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
            environ
                .split(|b| *b == 0)
                .any(|var| var == display.as_bytes())
        })
    };
    let mut parents = Vec::new();
    let mut roots = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        parents.push((pid, ppid));
        if std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .as_deref()
            == Some(binary.as_path())
            && on_desktop(pid)
        {
            roots.push(pid);
        }
    }
    let mut tree = roots.clone();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    let pss_mib = |pids: &[u32]| {
        pids.iter()
            .map(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix("Pss:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .sum::<u64>() as f64
            / 1024.0
    };
    (pss_mib(&roots), pss_mib(&tree[roots.len()..]))
}

/// The median; NaN for no values.
/// One row of a side-by-side table: `what` in a column `width` wide, the baseline's time,
/// the case's, and their ratio.
fn ratio_line(width: usize, what: &str, base: f64, case: f64) -> String {
    format!(
        "    {what:<width$} {base:9.1} ms  {case:9.1} ms  {:7.2}",
        case / base
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The 95th percentile (nearest rank); NaN for no values.
fn p95(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = (values.len() * 95).div_ceil(100).max(1);
    values.get(rank - 1).copied().unwrap_or(f64::NAN)
}

fn worst(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// The parts asked for on the command line or in `$SWITCHBOARD_BENCH`; empty for all.
fn parts_asked() -> Vec<String> {
    let mut parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    if let Ok(env) = std::env::var("SWITCHBOARD_BENCH") {
        parts.extend(
            env.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    parts
}

fn main() {
    let asked = parts_asked();
    let known = [
        "startup", "chat", "menu", "stream", "memory", "tools", "many",
    ];
    if let Some(unknown) = asked.iter().find(|p| !known.contains(&p.as_str())) {
        panic!("no bench part {unknown:?}; the parts are {known:?}");
    }
    let wants = |part: &str| {
        asked.is_empty()
            || asked.iter().any(|p| {
                p == part || (p == "chat" && !matches!(part, "startup" | "tools" | "many"))
            })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Every part prints its table at the end, together.
    let mut report = Vec::new();
    if wants("startup") {
        report.extend(startup(&runtime));
    }
    let chat = chat::Parts {
        menu: wants("menu"),
        stream: wants("stream"),
        memory: wants("memory"),
    };
    if chat.menu || chat.stream || chat.memory {
        report.extend(runtime.block_on(chat::run(chat)));
    }
    if wants("tools") {
        report.extend(runtime.block_on(tools::run()));
    }
    if wants("many") {
        report.extend(runtime.block_on(many::run()));
    }
    for line in report {
        println!("{line}");
    }
}

/// Reads the page's own clock: navigation, the wasm's download, and the marks the window
/// sets (`ui/src/timing.rs`), each in ms since the page's time origin (null when absent).
const MARKS: &str = r#"
const nav = performance.getEntriesByType("navigation")[0];
const wasm = performance.getEntriesByType("resource").find((e) => e.name.endsWith(".wasm"));
const mark = (n) => { const e = performance.getEntriesByName(n)[0]; return e ? e.startTime : null; };
return {
  kept: mark("sb-start-view-shown"),
  kept_layout: mark("sb-start-view-laid-out"),
  origin: performance.timeOrigin,
  html: nav ? nav.responseEnd : null,
  load: nav && nav.loadEventStart > 0 ? nav.loadEventStart : null,
  wasm: wasm ? wasm.responseEnd : null,
  started: mark("sb-wasm-started"),
  mounted: mark("sb-mounted"),
  layout: mark("sb-first-layout"),
  paint: (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime ?? null,
  data: mark("sb-first-data"),
  frame: mark("sb-first-frame"),
};
"#;

/// Milliseconds since the Unix epoch of a UTC time as the app's log writes it
/// (`2026-12-01T15:20:01.397525Z`).
fn utc_ms(stamp: &str) -> Option<f64> {
    let (date, time) = stamp.strip_suffix('Z')?.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let mut hms = time.split(':');
    let (h, min) = (
        hms.next()?.parse::<f64>().ok()?,
        hms.next()?.parse::<f64>().ok()?,
    );
    let sec = hms.next()?.parse::<f64>().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days as f64 * 24.0 + h) * 60.0 + min) * 60_000.0 + sec * 1000.0)
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}

/// Where one start-up's time went, in ms from the launch: each phase ends at its mark.
#[derive(Default)]
struct Phases {
    /// Launch (the WebDriver session asked for) → the app's process began (its `main`),
    /// Tauri's plugins and GTK up and the shell's setup began, and the setup done: read from
    /// the app's log line (`start-up: the shell is set up`); the blank window has none.
    process: Option<f64>,
    setup: Option<f64>,
    set_up: Option<f64>,
    /// The setup's own steps, each in ms: the connectors loaded, the window made, the chat
    /// opened, the app's links watched (the same log line).
    setup_steps: Option<[f64; 4]>,
    /// Launch → the webview starts loading the page.
    page: Option<f64>,
    html: Option<f64>,
    /// The start view kept at the last start shown (before the window's code runs).
    kept: Option<f64>,
    kept_layout: Option<f64>,
    /// The page's load event: when WebDriver's session opens (so when it can first look).
    load: Option<f64>,
    wasm: Option<f64>,
    started: Option<f64>,
    mounted: Option<f64>,
    layout: Option<f64>,
    data: Option<f64>,
    frame: Option<f64>,
    /// The page's first contentful paint (Paint Timing), for the app and the blank window.
    paint: Option<f64>,
}

impl Phases {
    fn read(launched: f64, marks: &serde_json::Value) -> Self {
        let origin = marks["origin"].as_f64();
        let at = |key: &str| {
            origin
                .zip(marks[key].as_f64())
                .map(|(origin, t)| origin + t - launched)
        };
        Self {
            process: None,
            setup: None,
            set_up: None,
            setup_steps: None,
            page: origin.map(|o| o - launched),
            html: at("html"),
            kept: at("kept"),
            kept_layout: at("kept_layout"),
            load: at("load"),
            wasm: at("wasm"),
            started: at("started"),
            mounted: at("mounted"),
            layout: at("layout"),
            data: at("data"),
            frame: at("frame"),
            paint: at("paint"),
        }
    }

    /// The shell's own steps, from the last `start-up` line of the app's `log`: the line's
    /// time less its `done` is when the process began.
    fn with_shell(mut self, launched: f64, log: &str) -> Self {
        let Some(line) = log
            .lines()
            .rev()
            .find(|l| l.contains("start-up: the shell is set up"))
        else {
            return self;
        };
        let field = |name: &str| log_field(line, name);
        let logged = line.split_whitespace().next().and_then(utc_ms);
        if let (Some(logged), Some(began), Some(done)) =
            (logged, field("setup_began"), field("done"))
        {
            let process = logged - done - launched;
            self.process = Some(process);
            self.setup = Some(process + began);
            self.set_up = Some(process + done);
        }
        if let [Some(a), Some(b), Some(c), Some(d)] =
            ["connectors_ms", "window_ms", "chat_ms", "links_ms"].map(field)
        {
            self.setup_steps = Some([a, b, c, d]);
        }
        self
    }

    /// The median of one mark over the rounds; `None` when no round has it.
    fn median_of(all: &[Phases], get: impl Fn(&Phases) -> Option<f64>) -> Option<f64> {
        let mut values: Vec<f64> = all.iter().filter_map(get).collect();
        (!values.is_empty()).then(|| median(&mut values))
    }

    fn report(all: &[Phases]) -> Vec<String> {
        type Step = (&'static str, fn(&Phases) -> Option<f64>);
        let steps: [Step; 15] = [
            ("the app's process began", |p| p.process),
            ("Tauri and GTK up, the shell's setup began", |p| p.setup),
            ("setup done (connectors, window, chat, links)", |p| p.set_up),
            ("webview up, page requested", |p| p.page),
            ("page (index.html) loaded", |p| p.html),
            ("the kept start view shown", |p| p.kept),
            ("the kept start view styled and laid out", |p| p.kept_layout),
            ("page's load event (WebDriver waits on it)", |p| p.load),
            ("wasm downloaded", |p| p.wasm),
            ("wasm compiled, instantiated, started", |p| p.started),
            ("first list of connectors there", |p| p.data),
            ("first view built with it", |p| p.mounted),
            ("first view styled and laid out", |p| p.layout),
            ("the frame that shows it began", |p| p.frame),
            ("first contentful paint", |p| p.paint),
        ];
        let mut out = vec![
            "  where the app's start-up goes (median ms since launch, and the step):".to_owned(),
        ];
        // In the order they came: a kept start view is painted before the wasm runs.
        let mut timed: Vec<(&str, f64)> = steps
            .iter()
            .filter_map(|(what, get)| Some((*what, Self::median_of(all, *get)?)))
            .collect();
        timed.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut previous = 0.0;
        for (what, at) in timed {
            out.push(format!("    {what:<44} {at:8.1}  (+{:.1})", at - previous));
            previous = at;
        }
        for (what, get) in steps {
            if Self::median_of(all, get).is_none() {
                out.push(format!("    {what:<44} {:>8}", "n/a"));
            }
        }
        let step = |i: usize| Self::median_of(all, |p| p.setup_steps.map(|s| s[i]));
        if let (Some(connectors), Some(window), Some(chat), Some(links)) =
            (step(0), step(1), step(2), step(3))
        {
            out.push(format!(
                "    (the setup's own steps, median ms: connectors loaded {connectors:.1}, window made {window:.1}, chat opened {chat:.1}, links watched {links:.1})"
            ));
        }
        out
    }
}

/// Start-up to first paint and idle memory, next to the blank window.
fn startup(runtime: &tokio::runtime::Runtime) -> Vec<String> {
    let server = kit::PythonMcp::start();
    let mut desktop = Desktop::start("bench");
    let driver = desktop.driver();
    let (app, blank) = (app_binary(), blank_binary());
    assert!(
        blank.exists(),
        "{} is missing: run `cargo xtask bench`",
        blank.display()
    );

    let (mut app_paint, mut app_mem, mut blank_paint, mut blank_mem) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut app_connected = Vec::new();
    let (mut phases, mut blank_phases) = (Vec::new(), Vec::new());
    let (mut app_own, mut blank_own, mut app_webkit, mut blank_webkit) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut app_live = Vec::new();
    let mut handed_back = Vec::new();
    runtime.block_on(async {
        // One start first, not measured: it keeps the start view (core's `start_view`) that
        // a person's usual start, with the connectors of the last one, shows.
        seed_settings(&desktop, server.url());
        let session = driver.open(&app).await;
        session.wait_for(&tid("connector-row")).await;
        wait_for_file(&desktop.start_view_file()).await;
        session.quit().await;
        for _ in 0..ROUNDS {
            seed_settings(&desktop, server.url());
            let started = Instant::now();
            let launched = epoch_ms();
            let session = driver.open(&app).await;
            // Asked every 5 ms (the usual waits ask every 100 ms, too coarse to time with):
            // the rows shown (the kept start view's or the live ones), then the live rows.
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut shown = None;
            loop {
                let rows = session
                    .execute(
                        r#"return [document.querySelectorAll(".connector-row").length,
                                   document.querySelectorAll('[data-testid="connector-row"]').length];"#,
                        serde_json::json!([]),
                    )
                    .await
                    .unwrap_or_default();
                let count = |i: usize| rows[i].as_u64().unwrap_or(0) as usize;
                if shown.is_none() && count(0) >= CONNECTORS {
                    shown = Some(started.elapsed().as_secs_f64() * 1000.0);
                }
                if count(1) >= CONNECTORS {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the {CONNECTORS} connectors never showed"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            app_live.push(started.elapsed().as_secs_f64() * 1000.0);
            app_paint.push(shown.unwrap_or(f64::NAN));
            let marks = session
                .execute(MARKS, serde_json::json!([]))
                .await
                .expect("the page's timing");
            // And until every row says it is connected: what the person waits for before
            // using them (the connects start with the shell's setup and share the cores with
            // WebKit's start).
            loop {
                let connected = session
                    .execute(
                        r#"return [...document.querySelectorAll('[data-testid="connector-state"]')]
                               .filter((e) => e.textContent.trim() === "Connected").length;"#,
                        serde_json::json!([]),
                    )
                    .await
                    .ok()
                    .and_then(|n| n.as_u64())
                    .unwrap_or(0);
                if connected as usize >= CONNECTORS {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the {CONNECTORS} connectors never connected"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            app_connected.push(started.elapsed().as_secs_f64() * 1000.0);
            phases.push(Phases::read(launched, &marks).with_shell(launched, &desktop.app_log()));
            tokio::time::sleep(IDLE).await;
            let (own, webkit) = memory_split(&app, &desktop);
            handed_back.push(handed_back_ms(&desktop.app_log()));
            app_mem.push(own + webkit);
            app_own.push(own);
            app_webkit.push(webkit);
            session.quit().await;

            let started = Instant::now();
            let launched = epoch_ms();
            let session = driver.open(&blank).await;
            session.wait_for("#ready").await;
            blank_paint.push(started.elapsed().as_secs_f64() * 1000.0);
            let marks = session
                .execute(MARKS, serde_json::json!([]))
                .await
                .expect("the blank page's timing");
            blank_phases.push(Phases::read(launched, &marks));
            tokio::time::sleep(IDLE).await;
            let (own, webkit) = memory_split(&blank, &desktop);
            blank_mem.push(own + webkit);
            blank_own.push(own);
            blank_webkit.push(webkit);
            session.quit().await;
        }
    });
    desktop.screenshot("bench-last");

    let (ap, bp, am, bm) = (
        median(&mut app_paint),
        median(&mut blank_paint),
        median(&mut app_mem),
        median(&mut blank_mem),
    );
    let live = median(&mut app_live);
    let mut out = Vec::new();
    out.push(format!(
        "start-up to first paint ({ROUNDS} rounds each, alternating, one desktop):"
    ));
    out.push(format!(
        "  Switchboard, Connectors page with {CONNECTORS} connectors  median {ap:8.1} ms"
    ));
    out.push(format!(
        "  blank Tauri 2 window                             median {bp:8.1} ms"
    ));
    out.push(format!(
        "  ratio                                            {:.2}",
        ap / bp
    ));
    out.push(format!(
        "  (the rows shown first are the start view kept at the last start; the live rows, with the window's code running: median {:.1} ms, ratio {:.2})",
        live,
        live / bp
    ));
    out.push(format!(
        "  launch → all {CONNECTORS} rows say Connected (WebDriver's view)  median {:8.1} ms",
        median(&mut app_connected)
    ));
    assert!(
        phases
            .iter()
            .all(|p| p.data.zip(p.mounted).is_some_and(|(d, m)| d <= m)),
        "the connector list was handed to the page, in its first view"
    );
    if let (Some(a), Some(b)) = (
        Phases::median_of(&phases, |p| p.paint),
        Phases::median_of(&blank_phases, |p| p.paint),
    ) {
        out.push(format!(
            "  by the pages' own clocks, launch → first contentful paint (the app's shows the {CONNECTORS} rows): app {a:.1} ms, blank {b:.1} ms, ratio {:.2}",
            a / b
        ));
    }
    out.extend(Phases::report(&phases));
    let blank_at =
        |get: fn(&Phases) -> Option<f64>| Phases::median_of(&blank_phases, get).unwrap_or(f64::NAN);
    out.push(format!(
        "  the blank window: page requested {:.1}, page loaded {:.1}, first contentful paint {:.1}, load event {:.1} (median ms since launch)",
        blank_at(|p| p.page),
        blank_at(|p| p.html),
        blank_at(|p| p.paint),
        blank_at(|p| p.load)
    ));
    out.push(format!(
        "idle memory after {}s, PSS of the app and its WebKit processes:",
        IDLE.as_secs()
    ));
    out.push(format!(
        "  Switchboard ({CONNECTORS} connectors connected)  median {am:8.1} MiB"
    ));
    out.push(format!(
        "  blank Tauri 2 window                   median {bm:8.1} MiB"
    ));
    out.push(format!(
        "  ratio                                  {:.2}",
        am / bm
    ));
    out.push(format!(
        "  the app's own process: Switchboard {:.1} MiB, blank {:.1} MiB; its WebKit processes: {:.1} and {:.1} MiB",
        median(&mut app_own),
        median(&mut blank_own),
        median(&mut app_webkit),
        median(&mut blank_webkit)
    ));
    let mut took: Vec<f64> = handed_back.iter().flatten().copied().collect();
    out.push(format!(
        "  freed memory handed back after the start-up burst, before the measure: {} of {ROUNDS} rounds, median {:.2} ms",
        took.len(),
        if took.is_empty() { f64::NAN } else { median(&mut took) }
    ));
    out
}

/// How long the app's last handing back of freed memory took (`core::memory`), from its log.
fn handed_back_ms(log: &str) -> Option<f64> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(switchboard_core::memory::HANDED_BACK))?;
    log_field(line, "ms")
}

/// The number a log line gives for `name` (its `name=value` field).
fn log_field(line: &str, name: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}
