//! The MCP project's reference "everything" server (npm), over streamable HTTP.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use crate::paths::{fixtures_dir, tools_dir};
use crate::process::ServerProcess;

/// The npm package.
pub const EVERYTHING_PACKAGE: &str = "@modelcontextprotocol/server-everything";

/// The pinned release. Every count below was read from this release's source
/// (`dist/` in the package) and checked by listing a running server, so the
/// fixture refuses to start any other installed version.
pub const EVERYTHING_VERSION: &str = "2026.8.31";

/// `serverInfo.name` in the initialize result (`dist/server/index.js`).
pub const EVERYTHING_SERVER_NAME: &str = "mcp-servers/everything";
/// `serverInfo.title` in the initialize result (`dist/server/index.js`).
pub const EVERYTHING_SERVER_TITLE: &str = "Everything Reference Server";
/// `serverInfo.version` in the initialize result (`dist/server/index.js`).
pub const EVERYTHING_SERVER_VERSION: &str = "2.0.0";

/// The newest protocol version it negotiates: `LATEST_PROTOCOL_VERSION` of the
/// TypeScript SDK it runs on (`@modelcontextprotocol/sdk` 1.32.2). It also
/// accepts 2025-06-18, 2025-03-26, 2024-11-05 and 2024-10-07, but not the
/// stateless 2026-07-28 era: clients must fall back to the initialize handshake.
pub const EVERYTHING_PROTOCOL_VERSION: &str = "2025-11-25";

/// Tools listed to a client that declares no capabilities.
///
/// From `dist/tools/index.js`: the 12 tools of `registerTools`, plus
/// `simulate-research-query`, which `registerConditionalTools` adds after
/// `notifications/initialized` whatever the client supports. List tools only
/// after sending `notifications/initialized`, or that one may be missing.
pub const EVERYTHING_TOOLS: usize = 13;

/// The [`EVERYTHING_TOOLS`] tools, in the order `tools/list` returns them.
pub const EVERYTHING_TOOL_NAMES: [&str; EVERYTHING_TOOLS] = [
    "echo",
    "get-annotated-message",
    "get-env",
    "get-resource-links",
    "get-resource-reference",
    "get-structured-content",
    "get-sum",
    "get-tiny-image",
    "gzip-file-as-resource",
    "toggle-simulated-logging",
    "toggle-subscriber-updates",
    "trigger-long-running-operation",
    "simulate-research-query",
];

/// Tools added on top of [`EVERYTHING_TOOLS`] when the client's initialize
/// request declares the capability next to each (`dist/tools/*.js`,
/// `registerConditionalTools`). Verified: a client declaring `roots`,
/// `sampling` and `elicitation: {form, url}` sees 17 tools.
pub const EVERYTHING_CONDITIONAL_TOOL_NAMES: [(&str, &str); 6] = [
    ("get-roots-list", "roots"),
    ("trigger-elicitation-request", "elicitation"),
    ("trigger-url-elicitation", "elicitation.url"),
    ("trigger-sampling-request", "sampling"),
    (
        "trigger-sampling-request-async",
        "sampling and tasks.requests.sampling.createMessage",
    ),
    (
        "trigger-elicitation-request-async",
        "elicitation and tasks.requests.elicitation.create",
    ),
];

/// Static resources: one per file in the package's `dist/docs/` folder
/// (`dist/resources/files.js`), URIs `demo://resource/static/document/<file>`.
pub const EVERYTHING_RESOURCES: usize = 7;

/// The [`EVERYTHING_RESOURCES`] resources, in the order `resources/list`
/// returns them.
pub const EVERYTHING_RESOURCE_URIS: [&str; EVERYTHING_RESOURCES] = [
    "demo://resource/static/document/architecture.md",
    "demo://resource/static/document/extension.md",
    "demo://resource/static/document/features.md",
    "demo://resource/static/document/how-it-works.md",
    "demo://resource/static/document/instructions.md",
    "demo://resource/static/document/startup.md",
    "demo://resource/static/document/structure.md",
];

/// Page size of its lists: `None`, it does not paginate. Releases up to 2025
/// served 100 resources in pages of 10; this one's `McpServer` (TypeScript SDK
/// 1.32.2, `dist/esm/server/mcp.js`) returns every list whole, without
/// `nextCursor`. Test pagination against [`crate::PythonMcp::with_page_size`].
pub const EVERYTHING_RESOURCE_PAGE_SIZE: Option<usize> = None;

/// Resource templates (`dist/resources/templates.js`).
pub const EVERYTHING_RESOURCE_TEMPLATES: usize = 2;

/// The [`EVERYTHING_RESOURCE_TEMPLATES`] URI templates, in list order; any
/// positive integer is a valid `resourceId`.
pub const EVERYTHING_RESOURCE_TEMPLATE_URIS: [&str; EVERYTHING_RESOURCE_TEMPLATES] = [
    "demo://resource/dynamic/text/{resourceId}",
    "demo://resource/dynamic/blob/{resourceId}",
];

/// Prompts (`dist/prompts/index.js`).
pub const EVERYTHING_PROMPTS: usize = 4;

/// The [`EVERYTHING_PROMPTS`] prompts in list order. Arguments: `simple-prompt`
/// none; `args-prompt` `city` (required), `state`; `completable-prompt`
/// `department`, `name` (both required); `resource-prompt` `resourceType`,
/// `resourceId` (both required).
pub const EVERYTHING_PROMPT_NAMES: [&str; EVERYTHING_PROMPTS] = [
    "simple-prompt",
    "args-prompt",
    "completable-prompt",
    "resource-prompt",
];

/// `@modelcontextprotocol/server-everything` in `streamableHttp` mode, on
/// `127.0.0.1` and a port the kernel picked. Killed on drop.
///
/// The server itself has no host option: it calls `app.listen(PORT)`, which
/// binds every interface. It is therefore started through
/// `tests/fixtures/node-loopback.cjs` (`node --require`), which makes a
/// `listen()` without a host bind `127.0.0.1`, and reports the port chosen for
/// `PORT=0`. Its environment is cleared but for `PATH` (its `get-env` tool
/// returns the whole environment).
///
/// Each MCP session gets its own server instance; sessions do not share state.
pub struct Everything {
    process: ServerProcess,
    url: String,
}

impl Everything {
    /// Start it and wait until it accepts connections.
    ///
    /// Panics, with the install command, when the pinned package is missing
    /// from `<tools>/node`, or with the server's output when it fails to start.
    /// Uses `node` from `PATH`, or `$SWITCHBOARD_NODE`.
    pub fn start() -> Self {
        Self::start_in("streamableHttp", "/mcp")
    }

    /// The same server in its legacy HTTP+SSE mode (protocol 2024-11-05): an event stream at
    /// `/sse` that names where to post (`/message?sessionId=…`).
    pub fn start_sse() -> Self {
        Self::start_in("sse", "/sse")
    }

    fn start_in(mode: &str, path: &str) -> Self {
        let package_dir = package_dir();
        let installed = installed_version(&package_dir);
        if installed.as_deref() != Some(EVERYTHING_VERSION) {
            let found = installed.map_or_else(
                || format!("not installed in {}", package_dir.display()),
                |version| format!("version {version} installed, {EVERYTHING_VERSION} expected"),
            );
            panic!(
                "{EVERYTHING_PACKAGE}: {found}. Install it with:\n  {}",
                Self::install_command()
            );
        }
        let node = std::env::var_os("SWITCHBOARD_NODE").unwrap_or_else(|| OsString::from("node"));
        let mut command = Command::new(&node);
        command
            .arg("--require")
            .arg(fixtures_dir().join("node-loopback.cjs"))
            .arg(package_dir.join("dist").join("index.js"))
            .arg(mode)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", "0")
            .env("SWITCHBOARD_TESTKIT_HOST", "127.0.0.1");
        let hint = format!(
            "It needs Node.js 20 or newer as `{}` (set SWITCHBOARD_NODE to use another) and:\n  {}",
            node.to_string_lossy(),
            Self::install_command()
        );
        let process = ServerProcess::start("server-everything", command, &hint);
        let url = format!("http://{}{path}", process.addr());
        Self { process, url }
    }

    /// The command that installs the pinned package where [`Everything::start`]
    /// looks for it.
    pub fn install_command() -> String {
        format!(
            "npm install --prefix {} {EVERYTHING_PACKAGE}@{EVERYTHING_VERSION}",
            tools_dir().join("node").display()
        )
    }

    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp` (`/sse` in the legacy mode).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.process.addr()
    }

    /// The server's process id (the leader of its own process group), e.g. to
    /// check that it is gone after drop.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Runs it, and any process it starts, at the lowest priority (`renice -n 19`): it gets
    /// the CPU only when nothing else wants it. For benchmarks where it stands for a server
    /// on another computer, so that its work does not take the cores from the client's.
    pub fn yield_cpu(&self) {
        let status = Command::new("renice")
            .args(["-n", "19", "-g", &self.pid().to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("renice (util-linux) runs");
        assert!(
            status.success(),
            "renice failed for the server's process group"
        );
    }

    /// Its stdout and stderr so far (it logs each request), for failure messages.
    pub fn output(&self) -> String {
        self.process.output()
    }
}

fn package_dir() -> PathBuf {
    tools_dir()
        .join("node")
        .join("node_modules")
        .join(EVERYTHING_PACKAGE)
}

/// The `version` of the installed package's `package.json`, if it is there.
fn installed_version(package_dir: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(package_dir.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}
