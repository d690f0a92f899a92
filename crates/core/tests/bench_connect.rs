//! Benchmark (`cargo xtask bench`, not part of the test run): time from "connect" to
//! "everything listed" against the npm reference server, for Switchboard's core and for
//! the official TypeScript SDK client, side by side against the same server in the same run.
//! Then Switchboard starting with 50 saved connectors (each its own address on that server)
//! against starting with one: until every one is connected and listed.
//! Prints numbers; asserts no time.

#[path = "support/registry.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use switchboard_core::session::Era;
use switchboard_core::{Session, Timeouts};
use switchboard_testkit as kit;

const ROUNDS: usize = 30;
/// Saved connectors at start, against one.
const MANY: usize = 50;
const START_ROUNDS: usize = 5;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let server = kit::Everything::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // A first connect (the server's protocol probed for), and a connect as every later one
    // of a saved connector (its protocol remembered: no probe).
    let mut listed = (0, 0, 0, 0);
    let mut rounds = |era: Option<Era>| {
        runtime.block_on(async {
            let mut times = Vec::new();
            for _ in 0..ROUNDS {
                let started = Instant::now();
                let client = switchboard_core::web::client(Default::default()).expect("client");
                let session = Session::connect_with(server.url(), Timeouts::default(), client, era)
                    .await
                    .expect("connects");
                let catalog = session.catalog().await.expect("lists");
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                listed = (
                    catalog.tools.len(),
                    catalog.resources.len(),
                    catalog.resource_templates.len(),
                    catalog.prompts.len(),
                );
                session.close().await;
            }
            times
        })
    };
    let mut ours = rounds(None);
    let mut remembered = rounds(Some(Era::Sessions));

    let mut theirs = sdk(server.url(), ROUNDS, 1);

    let (min_ours, min_theirs) = (
        ours.iter().copied().fold(f64::MAX, f64::min),
        theirs.iter().copied().fold(f64::MAX, f64::min),
    );
    let min_remembered = remembered.iter().copied().fold(f64::MAX, f64::min);
    let med_remembered = median(&mut remembered);
    let (med_ours, med_theirs) = (median(&mut ours), median(&mut theirs));
    println!(
        "connect + list everything ({} tools, {} resources, {} templates, {} prompts), {ROUNDS} rounds, same server:",
        listed.0, listed.1, listed.2, listed.3
    );
    println!(
        "  switchboard-core, first connect   median {med_ours:7.2} ms   min {min_ours:7.2} ms"
    );
    println!(
        "  switchboard-core, era remembered  median {med_remembered:7.2} ms   min {min_remembered:7.2} ms"
    );
    println!(
        "  TypeScript SDK                    median {med_theirs:7.2} ms   min {min_theirs:7.2} ms"
    );
    println!(
        "  ratio (ours / SDK) median {:.2}   min {:.2}   era remembered: median {:.2}   min {:.2}",
        med_ours / med_theirs,
        min_ours / min_theirs,
        med_remembered / med_theirs,
        min_remembered / min_theirs
    );
    let (mut one, mut many, mut many_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..START_ROUNDS {
        one.push(runtime.block_on(start_with(&server, 1)).0);
        let (wall, cpu) = runtime.block_on(start_with(&server, MANY));
        many.push(wall);
        many_cpu.push(cpu);
    }
    let many_cpu = median(&mut many_cpu);
    let (built, cpu) = (Instant::now(), cpu_ms());
    for _ in 0..MANY {
        drop(switchboard_core::web::client(Default::default()).expect("client"));
    }
    let (client_wall, client_cpu) = (
        built.elapsed().as_secs_f64() * 1000.0 / MANY as f64,
        (cpu_ms() - cpu) / MANY as f64,
    );
    let mut sdk_many = sdk(server.url(), START_ROUNDS, MANY);
    let (one, many, sdk_many) = (median(&mut one), median(&mut many), median(&mut sdk_many));
    println!(
        "start-up with saved connectors, until every one is connected and listed ({START_ROUNDS} rounds):"
    );
    println!("  1 connector     median {one:7.2} ms");
    println!(
        "  {MANY} connectors   median {many:7.2} ms   ratio to one {:.2} (goal: at most 2)",
        many / one
    );
    println!(
        "  TypeScript SDK, {MANY} clients at once on the same server  median {sdk_many:7.2} ms   ratio (ours / SDK) {:.2}",
        many / sdk_many
    );
    println!(
        "  Switchboard's own CPU time for the {MANY}: median {many_cpu:.0} ms ({:.1} ms a connector); the rest of the wait is the one server process",
        many_cpu / MANY as f64
    );
    println!(
        "  of which building an HTTP client (one or more a connect): {client_wall:.2} ms, CPU {client_cpu:.1} ms"
    );
}

/// The official TypeScript SDK doing the same (`fixtures/sdk_list_all.cjs`): `rounds` times,
/// `clients` at once; the milliseconds of each round.
fn sdk(url: &str, rounds: usize, clients: usize) -> Vec<f64> {
    let script = kit::fixtures_dir().join("sdk_list_all.cjs");
    let output = Command::new("node")
        .arg(&script)
        .arg(url)
        .arg(rounds.to_string())
        .arg(clients.to_string())
        .env("NODE_PATH", kit::tools_dir().join("node/node_modules"))
        .output()
        .expect("node runs the SDK baseline");
    assert!(
        output.status.success(),
        "SDK baseline failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let times: Vec<f64> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|v| v["ms"].as_f64())
        .collect();
    assert_eq!(times.len(), rounds, "one line per round");
    times
}

/// Starts the registry with `n` saved connectors to `server` and waits for each to be
/// connected with its catalog listed; returns the milliseconds that took, and the CPU time
/// this process (Switchboard's side) spent meanwhile.
async fn start_with(server: &kit::Everything, n: usize) -> (f64, f64) {
    use switchboard_ipc::ConnectorState;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    {
        let connectors = support::open(&path);
        for i in 0..n {
            let id = support::add(&connectors, &format!("{}?c={i}", server.url()), None)
                .await
                .id;
            assert_eq!(
                support::settled(&connectors, &id).await.state,
                ConnectorState::Connected
            );
        }
    }
    let (started, cpu) = (Instant::now(), cpu_ms());
    let connectors = support::open(&path);
    connectors.start();
    for summary in connectors.list() {
        let state = support::settled(&connectors, &summary.id).await.state;
        assert_eq!(state, ConnectorState::Connected);
    }
    (started.elapsed().as_secs_f64() * 1000.0, cpu_ms() - cpu)
}

/// User and system CPU time of this process so far, in ms (`/proc/self/stat`, in the
/// kernel's 100 Hz ticks: 10 ms steps).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    // After the name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    let ticks = |i: usize| fields[i - 3].parse::<f64>().expect("ticks");
    (ticks(14) + ticks(15)) * 10.0
}
