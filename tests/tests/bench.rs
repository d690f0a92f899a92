//! Benchmarks (`cargo xtask bench`; not part of the test run): start-up to first paint of
//! the Connectors page with 20 saved connectors, and idle memory of the app with its WebKit
//! processes, each next to a blank Tauri 2 window measured in the same run on the same
//! desktop. Prints numbers; asserts no time.

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

/// Proportional set size, in MiB, of every process running `binary` and all their
/// descendants (WebKit's web and network processes).
fn memory_mib(binary: &Path) -> f64 {
    let binary = std::fs::canonicalize(binary).expect("binary path");
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
    let kib: u64 = tree
        .iter()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    kib as f64 / 1024.0
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let server = kit::PythonMcp::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
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
    runtime.block_on(async {
        for _ in 0..ROUNDS {
            seed_settings(&desktop, server.url());
            let started = Instant::now();
            let session = driver.open(&app).await;
            session.wait_for(&tid("connectors-page")).await;
            while session
                .find_all(&tid("connector-row"))
                .await
                .map(|r| r.len())
                .unwrap_or(0)
                < CONNECTORS
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            app_paint.push(started.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(IDLE).await;
            app_mem.push(memory_mib(&app));
            session.quit().await;

            let started = Instant::now();
            let session = driver.open(&blank).await;
            session.wait_for("#ready").await;
            blank_paint.push(started.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(IDLE).await;
            blank_mem.push(memory_mib(&blank));
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
    println!("start-up to first paint ({ROUNDS} rounds each, alternating, one desktop):");
    println!("  Switchboard, Connectors page with {CONNECTORS} connectors  median {ap:8.1} ms");
    println!("  blank Tauri 2 window                             median {bp:8.1} ms");
    println!(
        "  ratio                                            {:.2}",
        ap / bp
    );
    println!(
        "idle memory after {}s, PSS of the app and its WebKit processes:",
        IDLE.as_secs()
    );
    println!("  Switchboard ({CONNECTORS} connectors connected)  median {am:8.1} MiB");
    println!("  blank Tauri 2 window                   median {bm:8.1} MiB");
    println!("  ratio                                  {:.2}", am / bm);
}
