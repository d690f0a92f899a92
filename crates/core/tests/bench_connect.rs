//! Benchmark (`cargo xtask bench`, not part of the test run): time from "connect" to
//! "everything listed" against the npm reference server, for Switchboard's core and for
//! the official TypeScript SDK client, side by side against the same server in the same run.
//! Then Switchboard starting with 50 saved connectors (each its own address on that server)
//! against starting with one: until every one is connected and listed.
//! Prints numbers; asserts no time.

#[path = "support/registry.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use switchboard_core::session::Era;
use switchboard_core::{Session, Timeouts};
use switchboard_testkit as kit;

const ROUNDS: usize = 30;
/// Saved connectors at start, against one.
const MANY: usize = 50;
const START_ROUNDS: usize = 5;
/// Server processes behind the far connectors: a person's 50 connectors are on many
/// computers, not one Node process.
const FAR_SERVERS: usize = 5;
/// The network's delay each way, in ms: a server in the same region, and one across a
/// continent.
const FAR_ONE_WAY_MS: [u64; 2] = [10, 40];
/// Rounds of one connect and list, far away.
const FAR_ROUNDS: usize = 10;

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
    let (mut ours, listed) = connect_and_list(&runtime, server.url(), None, ROUNDS);
    let (mut remembered, _) = connect_and_list(&runtime, server.url(), Some(Era::Sessions), ROUNDS);

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
    let one_saved = runtime.block_on(saved(&addresses(server.url(), 1)));
    let many_saved = runtime.block_on(saved(&addresses(server.url(), MANY)));
    for _ in 0..START_ROUNDS {
        one.push(runtime.block_on(start(&one_saved)).0);
        let (wall, cpu) = runtime.block_on(start(&many_saved));
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
    far_away(&runtime);
}

/// Connects to `url` and lists everything, `rounds` times, each with a client of its own;
/// the milliseconds of each round, and how many tools, resources, templates and prompts.
fn connect_and_list(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    era: Option<Era>,
    rounds: usize,
) -> (Vec<f64>, (usize, usize, usize, usize)) {
    runtime.block_on(async {
        let (mut times, mut listed) = (Vec::new(), (0, 0, 0, 0));
        for _ in 0..rounds {
            let started = Instant::now();
            let client = switchboard_core::web::client(Default::default()).expect("client");
            let session = Session::connect_with(url, Timeouts::default(), client, era)
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
        (times, listed)
    })
}

/// A person's connectors are servers elsewhere, each behind the network's delay and with a
/// computer of its own. Here they are [`FAR_SERVERS`] server processes on this computer,
/// behind a [`kit::Distance`] each, and yielding the CPU to ours
/// ([`kit::Everything::yield_cpu`]): what the start costs when the wait is the network's, as
/// it is away from a test machine.
fn far_away(runtime: &tokio::runtime::Runtime) {
    let servers: Vec<kit::Everything> =
        (0..FAR_SERVERS).map(|_| kit::Everything::start()).collect();
    servers.iter().for_each(kit::Everything::yield_cpu);
    println!(
        "servers far away ({FAR_SERVERS} server processes; the connectors of a start spread over them, {START_ROUNDS} rounds):"
    );
    for one_way in FAR_ONE_WAY_MS {
        let far: Vec<kit::Distance> = servers
            .iter()
            .map(|server| kit::Distance::start(server.addr(), Duration::from_millis(one_way)))
            .collect();
        let spread = |n: usize| -> Vec<String> {
            (0..n)
                .map(|i| far[i % far.len()].url(&format!("/mcp?c={i}")))
                .collect()
        };
        let (mut ours, _) = connect_and_list(runtime, &spread(1)[0], None, FAR_ROUNDS);
        let (mut remembered, _) =
            connect_and_list(runtime, &spread(1)[0], Some(Era::Sessions), FAR_ROUNDS);
        let mut theirs = sdk(&spread(1)[0], FAR_ROUNDS, 1);
        let (ours, remembered, theirs) = (
            median(&mut ours),
            median(&mut remembered),
            median(&mut theirs),
        );
        println!(
            "  {} ms away (each way {one_way} ms): connect + list everything, {FAR_ROUNDS} rounds: first connect median {ours:7.2} ms, era remembered {remembered:7.2} ms; TypeScript SDK {theirs:7.2} ms; ratio (ours / SDK) {:.2}, era remembered {:.2}",
            2 * one_way,
            ours / theirs,
            remembered / theirs
        );
        let one_saved = runtime.block_on(saved(&spread(1)));
        let many_saved = runtime.block_on(saved(&spread(MANY)));
        let servers_cpu = || -> f64 {
            servers
                .iter()
                .map(|server| cpu_ms_of(&server.pid().to_string()))
                .sum()
        };
        let (mut one, mut many, mut many_cpu, mut their_cpu) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..START_ROUNDS {
            one.push(runtime.block_on(start(&one_saved)).0);
            let before = servers_cpu();
            let (wall, cpu) = runtime.block_on(start(&many_saved));
            their_cpu.push(servers_cpu() - before);
            many.push(wall);
            many_cpu.push(cpu);
        }
        let (one, many) = (median(&mut one), median(&mut many));
        let (many_cpu, their_cpu) = (median(&mut many_cpu), median(&mut their_cpu));
        println!(
            "    start with saved connectors: 1 connector median {one:7.2} ms   {MANY} connectors median {many:7.2} ms   ratio to one {:.2} (goal: at most 2)",
            many / one,
        );
        println!(
            "    CPU time for the {MANY}, on this computer's {} cores: ours {many_cpu:.0} ms, the server processes' {their_cpu:.0} ms (elsewhere, away from a test machine)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
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

/// Saves a connector to each of `urls` (connecting each once, as adding does) in a settings
/// file of its own.
async fn saved(urls: &[String]) -> tempfile::TempDir {
    use switchboard_ipc::ConnectorState;
    let dir = tempfile::tempdir().expect("tempdir");
    let connectors = support::open(&dir.path().join("settings.json"));
    for url in urls {
        let id = support::add(&connectors, url, None).await.id;
        assert_eq!(
            support::settled(&connectors, &id).await.state,
            ConnectorState::Connected
        );
    }
    dir
}

/// Starts the registry with the connectors saved in `dir` and waits for each to be
/// connected with its catalog listed; returns the milliseconds that took, and the CPU time
/// this process (Switchboard's side) spent meanwhile.
async fn start(dir: &tempfile::TempDir) -> (f64, f64) {
    use switchboard_ipc::ConnectorState;
    let (started, cpu) = (Instant::now(), cpu_ms());
    let connectors = support::open(&dir.path().join("settings.json"));
    connectors.start();
    for summary in connectors.list() {
        let state = support::settled(&connectors, &summary.id).await.state;
        assert_eq!(state, ConnectorState::Connected);
    }
    (started.elapsed().as_secs_f64() * 1000.0, cpu_ms() - cpu)
}

/// Each of `n` connectors on its own address of `server`.
fn addresses(server: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{server}?c={i}")).collect()
}

/// User and system CPU time of this process so far, in ms (`/proc/self/stat`, in the
/// kernel's 100 Hz ticks: 10 ms steps).
fn cpu_ms() -> f64 {
    cpu_ms_of("self")
}

/// The same for process `pid` (a number, or `self`).
fn cpu_ms_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
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
