//! The app started with 50 saved connectors against started with one, in the real window,
//! with the servers far away as a person's are: launch → every row says Connected, and the
//! window's longest wait between two frames meanwhile (a window blocked by the connects
//! would show it there). The servers are [`SERVERS`] server-everything processes, each
//! behind a [`kit::Distance`] of [`ONE_WAY`] each way, and each yielding the CPU to the app
//! ([`kit::Everything::yield_cpu`]): they stand for computers elsewhere. The connectors are
//! spread over them.

use std::time::{Duration, Instant};

use switchboard_testkit as kit;
use switchboard_testkit::desktop::{Desktop, Driver};

use super::{median, worst};

const MANY: usize = 50;
const SERVERS: usize = 5;
/// Each way: a server 80 ms away in round trips.
const ONE_WAY: Duration = Duration::from_millis(40);
const ROUNDS: usize = 3;

/// Writes `n` connectors to the app's settings, spread over `far`, each with the protocol
/// era it spoke last time (server-everything's), as at every start but the first.
fn seed(desktop: &Desktop, far: &[kit::Distance], n: usize) {
    let connectors: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "id": format!("many{i}"),
                "name": format!("Far server {i}"),
                "nameIsCustom": true,
                "url": far[i % far.len()].url(&format!("/mcp?n={i}")),
                "enabled": true,
                "era": "sessions",
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

/// Counts the rows that say Connected. From the first call that finds the window's live rows
/// (its code running, every row drawn), keeps the longest time between two frames
/// (`requestAnimationFrame`), and how many came later than two frames (33 ms): what the
/// connects that are still under way cost the window.
const CONNECTED_AND_FRAMES: &str = r#"
const live = document.querySelectorAll('[data-testid="connector-row"]').length;
if (!window.__sbFrames && live >= arguments[0]) {
  const tracked = { longest: 0, last: performance.now(), count: 0, late: 0 };
  window.__sbFrames = tracked;
  const tick = (now) => {
    tracked.longest = Math.max(tracked.longest, now - tracked.last);
    tracked.late += now - tracked.last > 33.4 ? 1 : 0;
    tracked.last = now;
    tracked.count += 1;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
const connected = [...document.querySelectorAll('[data-testid="connector-state"]')]
  .filter((e) => e.textContent.trim() === "Connected").length;
const frames = window.__sbFrames || { longest: null, count: 0, late: 0 };
return [connected, frames.longest, frames.count, frames.late];
"#;

struct Start {
    /// Launch → every row says Connected.
    connected: f64,
    /// The longest time between two frames from the live rows until then.
    longest_frame: f64,
    frames: u64,
    /// Frames that came more than 33 ms after the one before.
    late: u64,
}

/// Starts the app with the `n` connectors seeded and waits until all are connected; given
/// the `desktop`, takes a screenshot of the window then, before it closes.
async fn start(driver: &Driver, n: usize, screenshot_on: Option<&Desktop>) -> Start {
    let started = Instant::now();
    let session = driver.open_app().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (longest_frame, frames, late) = loop {
        let seen = session
            .execute(CONNECTED_AND_FRAMES, serde_json::json!([n]))
            .await
            .unwrap_or_default();
        let number = |i: usize| seen[i].as_f64().unwrap_or(0.0);
        if number(0) as usize >= n {
            // No frame tracked: every connector was connected before the live rows were
            // drawn, and the connects cost the live window nothing.
            break (number(1), number(2) as u64, number(3) as u64);
        }
        assert!(
            Instant::now() < deadline,
            "{} of the {n} connectors connected",
            number(0)
        );
        // Asked every 10 ms: WebDriver's questions go through the app's main thread too.
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let connected = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(desktop) = screenshot_on {
        desktop.screenshot("bench-many");
    }
    session.quit().await;
    Start {
        connected,
        longest_frame,
        frames,
        late,
    }
}

pub async fn run() -> Vec<String> {
    let servers: Vec<kit::Everything> = (0..SERVERS).map(|_| kit::Everything::start()).collect();
    servers.iter().for_each(kit::Everything::yield_cpu);
    let far: Vec<kit::Distance> = servers
        .iter()
        .map(|server| kit::Distance::start(server.addr(), ONE_WAY))
        .collect();
    let mut desktop = Desktop::start("bench-many");
    let driver = desktop.driver();
    let (mut one, mut many, mut frames_one, mut frames_many) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut frame_counts, mut late_counts) = (Vec::new(), Vec::new());
    // One start of each, not counted: WebKit's and the binary's first load.
    for n in [1, MANY] {
        seed(&desktop, &far, n);
        start(&driver, n, None).await;
    }
    for round in 0..ROUNDS {
        seed(&desktop, &far, 1);
        let single = start(&driver, 1, None).await;
        one.push(single.connected);
        frames_one.push(single.longest_frame);
        seed(&desktop, &far, MANY);
        let last = round + 1 == ROUNDS;
        let all = start(&driver, MANY, last.then_some(&desktop)).await;
        many.push(all.connected);
        frames_many.push(all.longest_frame);
        frame_counts.push(all.frames as f64);
        late_counts.push(all.late as f64);
    }
    let (one, many) = (median(&mut one), median(&mut many));
    vec![
        format!(
            "the app started with saved connectors on servers {} ms away ({SERVERS} server processes; {ROUNDS} rounds, alternating):",
            2 * ONE_WAY.as_millis()
        ),
        format!("  launch → the 1 row says Connected        median {one:8.1} ms"),
        format!(
            "  launch → all {MANY} rows say Connected      median {many:8.1} ms   ratio to one {:.2} (goal: at most 2)",
            many / one
        ),
        format!(
            "  the window's longest time between two frames, from the live rows until all connected: {MANY} connectors median {:.1} ms (worst {:.1}; {:.0} frames, {:.0} of them more than 33 ms after the last); 1 connector median {:.1} ms",
            median(&mut frames_many.clone()),
            worst(&frames_many),
            median(&mut frame_counts),
            median(&mut late_counts),
            median(&mut frames_one),
        ),
    ]
}
