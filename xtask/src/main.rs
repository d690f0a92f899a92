//! The project's own tasks, so that one command sets up, runs or tests everything on a fresh
//! machine:
//!
//! - `cargo xtask run`   — install what is missing, build the window, open the app;
//! - `cargo xtask test`  — install what is missing, then formatting, lints, unit and
//!   integration tests against real servers, and end-to-end tests in the real window;
//! - `cargo xtask setup` — only the installs (`--for app` or `--for test`, default test);
//! - `cargo xtask bench` — the benchmarks, which print numbers next to a baseline;
//! - `cargo xtask bundle [--debug]` — the Linux installers (.deb, .rpm), and their sizes;
//! - `cargo xtask conformance` — only the MCP conformance suite's scenarios.
//!
//! Every install is skipped when the right version is already there.

mod setup;
mod window_run;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use setup::Purpose;

/// Features every build of the app package uses. Keeping them identical across lint,
/// build and test means the large dependency tree is compiled once, not once per task.
const APP_FEATURES: &str = "switchboard/custom-protocol";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("run") => run(),
        Some("test") => test(&args[1..]),
        Some("setup") => {
            let purpose = match args.get(1).map(String::as_str) {
                Some("--for") if args.get(2).is_some_and(|p| p == "app") => Purpose::App,
                _ => Purpose::Test,
            };
            setup::ensure(purpose)
        }
        Some("bench") => bench(),
        Some("bundle") => bundle(args.iter().any(|a| a == "--debug")).map(drop),
        Some("ui") => build_ui(),
        Some("conformance") => setup::ensure(Purpose::Test).and_then(|()| conformance()),
        _ => {
            eprintln!(
                "usage: cargo xtask <run | test [--no-e2e] | setup [--for app|test] | bench | bundle [--debug] | ui | conformance>"
            );
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (xtask lives one folder below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command in the repository root, echoing it, and fails on a non-zero exit.
pub fn sh(command: &mut Command) -> Result {
    let shown = echo(command);
    let status = command
        .current_dir_if_unset(&root())
        .status()
        .map_err(|err| format!("could not start `{shown}`: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Prints `command` as a shell line before it runs; that line, for messages about it.
fn echo(command: &Command) -> String {
    let shown = format!("{command:?}").replace('"', "");
    println!("\n$ {shown}");
    shown
}

trait CommandExt {
    fn current_dir_if_unset(&mut self, dir: &Path) -> &mut Self;
}

impl CommandExt for Command {
    fn current_dir_if_unset(&mut self, dir: &Path) -> &mut Self {
        if self.get_current_dir().is_none() {
            self.current_dir(dir);
        }
        self
    }
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.env("PATH", setup::path_with_tools());
    command
}

fn build_ui() -> Result {
    trunk_build(&[])
}

/// How the release window is compiled, on top of `ui/index.html`'s profile: the standard
/// library is compiled with it, optimised for size, and a panic stops the wasm at once
/// (`-Cpanic=immediate-abort`), without the code that formats a panic's message, which no
/// one would see in a release window anyway. The wasm is 117 KB (6.9%) smaller for it:
/// 1,694,565 -> 1,577,712 B (gzip 652,048 -> 603,627). These are unstable flags of the
/// pinned compiler (`rust-toolchain.toml`, which also brings `rust-src`), allowed by
/// `RUSTC_BOOTSTRAP`; `cargo xtask test` builds this wasm, so that a compiler that changes
/// them fails there. `RUSTFLAGS` replaces `.cargo/config.toml`'s flags for the wasm, so it
/// repeats them.
const RELEASE_WINDOW_ENV: [(&str, &str); 4] = [
    ("RUSTC_BOOTSTRAP", "1"),
    ("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort"),
    ("CARGO_UNSTABLE_BUILD_STD_FEATURES", "optimize_for_size"),
    (
        "RUSTFLAGS",
        "--cfg erase_components -Zunstable-options -Cpanic=immediate-abort",
    ),
];

/// Builds the window into `ui/dist`, where the app embeds it from (or into `--dist`).
fn trunk_build(extra: &[&str]) -> Result {
    let mut trunk = Command::new("trunk");
    trunk
        .args(["build", "--offline"])
        .args(extra)
        .current_dir(root().join("ui"))
        .env("PATH", setup::path_with_tools());
    if extra.contains(&"--release") {
        trunk.envs(RELEASE_WINDOW_ENV);
    }
    sh(&mut trunk)
}

fn build_app() -> Result {
    build_ui()?;
    sh(cargo().args(["build", "--bin", "switchboard", "--features", APP_FEATURES]))
}

fn run() -> Result {
    setup::ensure(Purpose::App)?;
    build_app()?;
    sh(cargo().args(["run", "--bin", "switchboard", "--features", APP_FEATURES]))
}

fn test(args: &[String]) -> Result {
    let e2e = !args.iter().any(|a| a == "--no-e2e");
    setup::ensure(Purpose::Test)?;
    sh(cargo().args(["fmt", "--all", "--check"]))?;
    // The window is compiled into the app, so it must exist before the app is checked.
    build_ui()?;
    sh(cargo().args([
        "clippy",
        "--all-targets",
        "--features",
        APP_FEATURES,
        "--",
        "-D",
        "warnings",
    ]))?;
    // `--all-targets` leaves out test targets that `cargo test` does not run by itself.
    sh(cargo().args([
        "clippy",
        "--package",
        "switchboard-testkit",
        "--test",
        "e2e",
        "--test",
        "bench",
        "--",
        "-D",
        "warnings",
    ]))?;
    sh(cargo().args([
        "clippy",
        "--package",
        "switchboard-core",
        "--test",
        "bench_connect",
        "--test",
        "bench_gate",
        "--test",
        "faults",
        "--test",
        "keyring_locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    sh(cargo().args([
        "clippy",
        "--package",
        "switchboard-ui",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The Windows build of the app compiles (its code paths differ: the keyring, links).
    sh(cargo().args([
        "check",
        "--target",
        setup::WINDOWS_TARGET,
        "--bin",
        "switchboard",
        "--features",
        APP_FEATURES,
    ]))?;
    // The release window builds (its flags are the compiler's unstable ones), and its size.
    let release_window = root().join("target/release-window");
    trunk_build(&["--release", "--dist", &release_window.to_string_lossy()])?;
    let wasm = release_window.join("switchboard-ui_bg.wasm");
    let size = std::fs::metadata(&wasm)
        .map_err(|err| format!("{}: {err}", wasm.display()))?
        .len();
    println!("the release window's wasm: {size} bytes");
    sh(cargo().args(["test", "--features", APP_FEATURES]))?;
    // The fault matrix, each row's outcome and how long it took to show. Named by its test
    // target alone, with the features of the run above, as every later test run is: naming
    // the package chose other features of the shared crates, and rebuilt them (2 min 28 s
    // here, and 1 min 7 s more for the window tests, on a fresh clone).
    sh(cargo().args([
        "test",
        "--features",
        APP_FEATURES,
        "--test",
        "faults",
        "--",
        "--nocapture",
        "--test-threads",
        "2",
    ]))?;
    keyring_tests()?;
    conformance()?;
    // The window's own logic (list merging, wording, filters) tested on the host.
    sh(cargo().args(["test", "--package", "switchboard-ui"]))?;
    if e2e {
        build_app()?;
        window_run::run(window_tests(
            &root().join("target/debug/switchboard"),
            &["--test-threads=1"],
        ))?;
        install_test()?;
    }
    println!("\nxtask: every check passed");
    Ok(())
}

/// Benchmarks are measured on release builds: what a person installs.
/// The secret store against a real keyring: gnome-keyring's Secret Service, unlocked, in a
/// D-Bus session of its own; then with no session bus at all.
fn keyring_tests() -> Result {
    sh(&mut in_private_keyring("keyring", ""))?;
    // A keyring the test locks, with no display, so no unlock prompt can be shown (as when
    // the person dismisses it).
    sh(in_private_keyring("keyring_locked", "-- --nocapture")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY"))?;
    sh(cargo()
        .args(["test", "--features", APP_FEATURES, "--test", "no_keyring"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"))
}

/// Runs the test target `test` (with `extra` arguments) in a D-Bus session of its own with
/// an unlocked gnome-keyring in a fresh folder: an existing keyring with another password
/// would stay locked, and the person's own keyring is none of the tests' business.
fn in_private_keyring(test: &str, extra: &str) -> Command {
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let script = format!(
        "export XDG_DATA_HOME=\"$(mktemp -d)\" \
         && echo -n switchboard | gnome-keyring-daemon --unlock --replace --components=secrets >/dev/null \
         && exec '{cargo_bin}' test --features {APP_FEATURES} --test {test} {extra}"
    );
    let mut command = Command::new("dbus-run-session");
    command
        .args(["--", "sh", "-c", &script])
        .env("PATH", setup::path_with_tools());
    command
}

/// The official MCP conformance suite's client scenarios, against a headless client built
/// from the core (`crates/core/examples/conformance_client.rs`).
///
/// Each scenario runs on its own (`--scenario`), so the suite judges the client's exit code
/// and a time-out too (its `--suite` mode counts only the checks), and every scenario's
/// `checks.json` is read back for the pass table.
fn conformance() -> Result {
    // 0.1.16 (the 2025-11-25 protocol) runs its `auth` suite, the sign-in scenarios it marks
    // as drafts, and its protocol scenarios; 0.2.0-alpha.12 (2026-07-28) every client
    // scenario it has for that version, extensions aside.
    // Left out, for a flaw of 0.1.16's mocks, not of the client:
    // `auth/2025-03-26-oauth-metadata-backcompat` serves metadata whose issuer does not match
    // (a correct client refuses it; fixed in later suites).
    // Left out on purpose: `auth/2025-03-26-oauth-endpoint-fallback` expects a client to
    // guess `<origin>/authorize` and `<origin>/token` when a server publishes no metadata
    // (the 2025-03-26 protocol's fallback, dropped since); Switchboard refuses to send a
    // person or a code to endpoints a server never named.
    //
    // The `auth` suite, the same 14 scenarios in both releases.
    const AUTH_SUITE: [&str; 14] = [
        "auth/metadata-default",
        "auth/metadata-var1",
        "auth/metadata-var2",
        "auth/metadata-var3",
        "auth/basic-cimd",
        "auth/scope-from-www-authenticate",
        "auth/scope-from-scopes-supported",
        "auth/scope-omitted-when-undefined",
        "auth/scope-step-up",
        "auth/scope-retry-limit",
        "auth/token-endpoint-auth-basic",
        "auth/token-endpoint-auth-post",
        "auth/token-endpoint-auth-none",
        "auth/pre-registration",
    ];
    // Drafts in 0.1.16, part of the 2026-07-28 protocol in 0.2.0-alpha.12.
    const LATER_SIGN_IN: [&str; 3] = [
        "auth/resource-mismatch",
        "auth/offline-access-scope",
        "auth/offline-access-not-supported",
    ];
    // 0.2.0-alpha.12 only: the rest of what it lists for 2026-07-28
    // (`conformance list --client --spec-version 2026-07-28`), extensions aside.
    const ONLY_2026: [&str; 8] = [
        "auth/authorization-server-migration",
        "auth/iss-supported",
        "auth/iss-not-advertised",
        "auth/iss-supported-missing",
        "auth/iss-wrong-issuer",
        "auth/iss-unexpected",
        "auth/iss-normalized",
        "auth/metadata-issuer-mismatch",
    ];
    // Everything else a client is judged on, sign-in aside.
    // The client answers `elicitation-sep1034-client-defaults`'s form with its defaults, as a
    // person who changes nothing would.
    const PROTOCOL_2025: [&str; 4] = [
        "initialize",
        "tools_call",
        "elicitation-sep1034-client-defaults",
        "sse-retry",
    ];
    const PROTOCOL_2026: [&str; 8] = [
        "tools_call",
        "request-metadata",
        "sep-2322-client-request-state",
        "http-standard-headers",
        "http-custom-headers",
        "http-invalid-tool-headers",
        "json-schema-ref-no-deref",
        "json-schema-2020-12-preservation",
    ];
    let scenarios_2025: Vec<&str> = [&AUTH_SUITE[..], &LATER_SIGN_IN, &PROTOCOL_2025].concat();
    let scenarios_2026: Vec<&str> =
        [&AUTH_SUITE[..], &LATER_SIGN_IN, &ONLY_2026, &PROTOCOL_2026].concat();
    sh(cargo().args([
        "build",
        "--features",
        APP_FEATURES,
        "--example",
        "conformance_client",
    ]))?;
    let client = root().join("target/debug/examples/conformance_client");
    // By its own path: `.bin/conformance` may be the alias's (npm links one of the two).
    let modules = setup::tools_dir().join("node/node_modules");
    let mut outcomes = run_scenarios(
        "0.1.16",
        &modules.join("@modelcontextprotocol/conformance/dist/index.js"),
        &client,
        &root().join("tests/artifacts/conformance"),
        &scenarios_2025,
    )?;
    outcomes.extend(run_scenarios(
        "0.2.0-alpha.12",
        &modules.join("conformance-next/dist/index.js"),
        &client,
        &root().join("tests/artifacts/conformance-next"),
        &scenarios_2026,
    )?);
    println!("\nconformance, one scenario at a time:");
    println!(
        "  {:<16} {:<40} {:>6} {:>6} {:>8}  client",
        "suite", "scenario", "passed", "failed", "warnings"
    );
    for outcome in &outcomes {
        println!(
            "  {:<16} {:<40} {:>6} {:>6} {:>8}  {}",
            outcome.suite,
            outcome.scenario,
            outcome.passed,
            outcome.failed,
            outcome.warnings,
            outcome.verdict
        );
    }
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.ok)
        .map(|o| format!("{} {}", o.suite, o.scenario))
        .collect();
    let checks: usize = outcomes.iter().map(|o| o.passed).sum();
    println!(
        "  {} scenarios, {checks} checks passed, {} scenarios failed",
        outcomes.len(),
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "conformance scenarios failed: {}",
            failed.join(", ")
        ))
    }
}

/// Warnings a scenario may raise because of a choice Switchboard made, by check id.
/// `auth/basic-cimd`: a client SHOULD use a Client ID Metadata Document where the server
/// supports them; Switchboard hosts none, so it registers instead (the README says so).
const ALLOWED_WARNINGS: &[(&str, &str)] = &[("auth/basic-cimd", "cimd-client-id-used")];

/// How one scenario went.
struct ScenarioOutcome {
    suite: &'static str,
    scenario: &'static str,
    passed: usize,
    failed: usize,
    warnings: usize,
    /// The suite's verdict on the whole run, client exit code and time-out included.
    ok: bool,
    verdict: String,
}

/// The longest one scenario may take, the client's own 30 s time-out included.
const SCENARIO_LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

/// Runs each scenario on its own, two at a time, and reads back its `checks.json`.
fn run_scenarios(
    suite: &'static str,
    suite_js: &Path,
    client: &Path,
    results: &Path,
    scenarios: &[&'static str],
) -> Result<Vec<ScenarioOutcome>> {
    // Old results would be read as new ones.
    if results.exists() {
        std::fs::remove_dir_all(results)
            .map_err(|err| format!("could not clear {}: {err}", results.display()))?;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let outcomes = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(scenario) = scenarios.get(i) else {
                        return;
                    };
                    let outcome = run_scenario(suite, suite_js, client, results, scenario);
                    outcomes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, outcome));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

fn run_scenario(
    suite: &'static str,
    suite_js: &Path,
    client: &Path,
    results: &Path,
    scenario: &'static str,
) -> Result<ScenarioOutcome> {
    let log = results.join(format!("{}.log", scenario.replace('/', "_")));
    std::fs::create_dir_all(results).map_err(|err| err.to_string())?;
    let output = std::fs::File::create(&log).map_err(|err| err.to_string())?;
    let mut child = Command::new("node")
        .arg(suite_js)
        .args(["client", "--command"])
        .arg(client)
        .args(["--scenario", scenario, "-o"])
        .arg(results)
        .env("PATH", setup::path_with_tools())
        .stdout(output.try_clone().map_err(|err| err.to_string())?)
        .stderr(output)
        .spawn()
        .map_err(|err| format!("could not start the conformance suite: {err}"))?;
    let deadline = std::time::Instant::now() + SCENARIO_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let checks = read_checks(results, scenario).unwrap_or_default();
    let count = |status: &str| checks.iter().filter(|(s, _)| s == status).count();
    let (passed, failed, warnings) = (count("SUCCESS"), count("FAILURE"), count("WARNING"));
    let allowed: Vec<&str> = checks
        .iter()
        .filter(|(status, _)| status == "WARNING")
        .map(|(_, id)| id.as_str())
        .filter(|id| ALLOWED_WARNINGS.contains(&(scenario, id)))
        .collect();
    // The suite also fails a run for the client's exit code or a time-out, which it only
    // says in its output.
    let client_trouble = std::fs::read_to_string(&log).is_ok_and(|output| {
        output.contains("Client exited with code") || output.contains("Client timed out")
    });
    let (ok, verdict) = match status {
        Some(status) if status.success() => (passed > 0, "ok".to_owned()),
        Some(_)
            if passed > 0
                && failed == 0
                && warnings > 0
                && allowed.len() == warnings
                && !client_trouble =>
        {
            (true, format!("ok, allowed warning {}", allowed.join(", ")))
        }
        Some(status) => (false, format!("FAILED ({status}), see {}", log.display())),
        None => (
            false,
            format!("TIMED OUT after {} s", SCENARIO_LIMIT.as_secs()),
        ),
    };
    Ok(ScenarioOutcome {
        suite,
        scenario,
        passed,
        failed,
        warnings,
        ok,
        verdict,
    })
}

/// Every check of the scenario's `checks.json` (`<results>/<scenario>-<time>/checks.json`)
/// as its status and id.
fn read_checks(results: &Path, scenario: &str) -> Option<Vec<(String, String)>> {
    let prefix = results.join(format!("{scenario}-"));
    let (folder, start) = (prefix.parent()?, prefix.file_name()?.to_str()?);
    let run = std::fs::read_dir(folder)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(start))
        })
        .max()?;
    let checks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("checks.json")).ok()?).ok()?;
    Some(
        checks
            .as_array()?
            .iter()
            .map(|check| {
                let text = |key: &str| check[key].as_str().unwrap_or_default().to_owned();
                (text("status"), text("id"))
            })
            .collect(),
    )
}

fn bench() -> Result {
    setup::ensure(Purpose::Test)?;
    trunk_build(&["--release"])?;
    sh(cargo().args([
        "build",
        "--release",
        "--bin",
        "switchboard",
        "--example",
        "blank_window",
        "--features",
        APP_FEATURES,
    ]))?;
    sh(cargo().args([
        "test",
        "--release",
        "--package",
        "switchboard-core",
        "--test",
        "bench_connect",
        "--test",
        "bench_gate",
    ]))?;
    sh(cargo()
        .args([
            "test",
            "--release",
            "--package",
            "switchboard-testkit",
            "--test",
            "bench",
        ])
        .env("SWITCHBOARD_APP", root().join("target/release/switchboard"))
        .env(
            "SWITCHBOARD_BLANK",
            root().join("target/release/examples/blank_window"),
        ))
}

/// Builds the Linux installers with the Tauri bundler (`.deb`, `.rpm`; an AppImage needs
/// linuxdeploy, which the bundler downloads from GitHub: not reachable from here), prints
/// their sizes and returns where they are. `debug` bundles the debug build the tests use.
fn bundle(debug: bool) -> Result<Installers> {
    setup::ensure(Purpose::App)?;
    trunk_build(if debug { &[] } else { &["--release"] })?;
    let mut tauri = Command::new("tauri");
    tauri
        .args(["build", "--bundles", "deb,rpm", "--features", APP_FEATURES])
        // The window was just built (above), for this profile.
        .args(["--config", r#"{"build":{"beforeBuildCommand":null}}"#])
        .env("PATH", setup::path_with_tools());
    if debug {
        tauri.arg("--debug");
    }
    sh(&mut tauri)?;
    let out = root()
        .join("target")
        .join(if debug { "debug" } else { "release" });
    let deb = file_with_extension(&out.join("bundle/deb"), "deb")?;
    let rpm = file_with_extension(&out.join("bundle/rpm"), "rpm")?;
    let binary = out.join("switchboard");
    let stripped = std::env::temp_dir().join("switchboard-stripped");
    sh(Command::new("strip").arg("-o").arg(&stripped).arg(&binary))?;
    let wasm = file_with_extension(&root().join("ui/dist"), "wasm")?;
    let gzipped = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(&wasm)
        .output()
        .map_err(|err| format!("gzip: {err}"))?
        .stdout
        .len() as u64;
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or_default();
    let kib = |bytes: u64| format!("{:.0} KiB", bytes as f64 / 1024.0);
    println!(
        "\ninstallers ({} build):",
        if debug { "debug" } else { "release" }
    );
    println!("  {:<40} {}", deb.display(), kib(size(&deb)));
    println!("  {:<40} {}", rpm.display(), kib(size(&rpm)));
    println!(
        "  binary {} KiB, stripped {}",
        size(&binary) / 1024,
        kib(size(&stripped))
    );
    println!("  wasm {} raw, {} gzip", kib(size(&wasm)), kib(gzipped));
    let _ = std::fs::remove_file(&stripped);
    Ok(Installers { deb, rpm })
}

/// What [`bundle`] built.
struct Installers {
    deb: PathBuf,
    rpm: PathBuf,
}

/// The first file in `dir` whose name ends in `.ext`.
fn file_with_extension(dir: &Path, ext: &str) -> Result<PathBuf> {
    std::fs::read_dir(dir)
        .map_err(|err| format!("{}: {err}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == ext))
        .ok_or_else(|| format!("no .{ext} file in {}", dir.display()))
}

/// The window tests (`tests/tests/e2e.rs`) against the app binary `app`, with these test
/// harness arguments.
fn window_tests(app: &Path, harness: &[&str]) -> Command {
    let mut command = cargo();
    command
        .args(["test", "--features", APP_FEATURES, "--test", "e2e", "--"])
        .args(harness)
        .env("SWITCHBOARD_APP", app);
    command
}

/// Installs the debug `.deb` into this machine and checks it as the system sees it
/// (`tests/tests/e2e/install.rs`), then removes it. Needs root, as installing does.
fn install_test() -> Result {
    if !setup::is_root() {
        println!(
            "\nxtask: the installer test installs a package into the system: run as root to include it"
        );
        return Ok(());
    }
    let Installers { deb, rpm } = bundle(true)?;
    // The .rpm holds the same files, as rpm itself lists them.
    let listed = Command::new("rpm")
        .arg("-qpl")
        .arg(&rpm)
        .output()
        .map_err(|err| format!("rpm -qpl: {err}"))?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    for file in [
        "/usr/bin/switchboard",
        "/usr/share/applications/Switchboard.desktop",
    ] {
        if !listed.lines().any(|line| line == file) {
            return Err(format!("{} lacks {file}:\n{listed}", rpm.display()));
        }
    }
    sh(window_tests(
        Path::new("/usr/bin/switchboard"),
        &[
            "--ignored",
            "--exact",
            "install::the_deb_installs_opens_takes_its_sign_in_link_and_removes_cleanly",
        ],
    )
    .env("SWITCHBOARD_DEB", deb))
}
