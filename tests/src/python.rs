//! `tests/fixtures/python_server.py`: a small MCP server on PyPI `mcp` 2.3.0.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::{fixtures_dir, tools_dir};
use crate::process::ServerProcess;

/// The pinned PyPI `mcp` release the server runs on.
pub const PYTHON_MCP_VERSION: &str = "2.3.0";

// Everything below mirrors tests/fixtures/python_server.py: change both.

/// `serverInfo.name`.
pub const PYTHON_SERVER_NAME: &str = "Python Fixture";
/// `serverInfo.version`.
pub const PYTHON_SERVER_VERSION: &str = "1.0.0";
/// `instructions` in the initialize result.
pub const PYTHON_INSTRUCTIONS: &str = "Python Fixture: a test server for Switchboard. \
     Use `add` to add two integers and `echo` to repeat a message.";

/// The protocol version it answers an `initialize` offering the newest
/// handshake version with (`LATEST_HANDSHAKE_VERSION` in `mcp_types/version.py`;
/// it also accepts 2024-11-05, 2025-03-26 and 2025-06-18).
pub const PYTHON_PROTOCOL_VERSION: &str = "2025-11-25";
/// The stateless protocol version it also serves, without `initialize`
/// (`MODERN_PROTOCOL_VERSIONS`; `server/discover` answers
/// `supportedVersions: ["2026-07-28"]`).
pub const PYTHON_MODERN_PROTOCOL_VERSION: &str = "2026-07-28";

/// Number of tools.
pub const PYTHON_TOOLS: usize = 4;
/// Tools in list order: `add(a: int, b: int) -> int` (structured output
/// `{"result": a+b}`), `echo(message: str) -> str`, `fail(reason = "on
/// purpose")` (always a result with `isError: true`, text `Error executing tool
/// fail: fixture failure: <reason>`), `sleep(seconds: float)` (waits, at most 60 s, then returns
/// `slept <seconds>`: for timeouts and cancellation).
pub const PYTHON_TOOL_NAMES: [&str; PYTHON_TOOLS] = ["add", "echo", "fail", "sleep"];

/// Number of static resources.
pub const PYTHON_RESOURCES: usize = 2;
/// Resources in list order: `fixture://readme` (text/markdown) and
/// `fixture://config.json` (application/json, `{"fixture": "python", "answer": 42}`).
pub const PYTHON_RESOURCE_URIS: [&str; PYTHON_RESOURCES] =
    ["fixture://readme", "fixture://config.json"];

/// Number of resource templates.
pub const PYTHON_RESOURCE_TEMPLATES: usize = 1;
/// The template; reading `fixture://greeting/Ann` gives `Hello, Ann!`.
pub const PYTHON_RESOURCE_TEMPLATE_URIS: [&str; PYTHON_RESOURCE_TEMPLATES] =
    ["fixture://greeting/{name}"];

/// What `completion/complete` suggests for `review_code`'s `language`, in order, filtered
/// by the prefix typed (case-insensitive).
pub const PYTHON_LANGUAGES: [&str; 4] = ["rust", "python", "typescript", "go"];
/// What it suggests for the greeting template's `name`.
pub const PYTHON_NAMES: [&str; 3] = ["Ann", "Ada", "Bob"];

/// Number of prompts.
pub const PYTHON_PROMPTS: usize = 1;
/// The prompt: `review_code`.
pub const PYTHON_PROMPT_NAMES: [&str; PYTHON_PROMPTS] = ["review_code"];
/// `review_code`'s arguments as (name, required): it renders
/// `Please review this <language> code:\n\n<code>`, language defaulting to `rust`.
pub const PYTHON_PROMPT_ARGUMENTS: [(&str, bool); 2] = [("code", true), ("language", false)];

/// With [`PythonMcp::requiring_sign_in`]: the authorization server its
/// protected-resource metadata names (`authorization_servers`). Nothing listens
/// there; no authorization server runs.
pub const PYTHON_SIGN_IN_ISSUER: &str = "http://127.0.0.1:1/";

/// `tests/fixtures/python_server.py` over streamable HTTP on `127.0.0.1` and a
/// port the kernel picked, at `/mcp`. Killed on drop.
///
/// It speaks both protocol eras (the `initialize` handshake with sessions, and
/// the stateless 2026-07-28 envelope), and with [`PythonMcp::with_page_size`]
/// it paginates every list. `MCPServer` in `mcp` 2.3.0 has no page size of its
/// own; the script adds one as server middleware that slices the full list.
/// With [`PythonMcp::requiring_sign_in`] it is an OAuth protected resource that
/// refuses every MCP request without a valid bearer token.
pub struct PythonMcp {
    process: ServerProcess,
    url: String,
    page_size: Option<usize>,
    sign_in: SignIn,
}

/// Whether the server wants a bearer token, and which one it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SignIn {
    Off,
    Required { accepted_token: Option<String> },
    Header { name: String, value: String },
}

impl PythonMcp {
    /// Start it with whole lists (no pagination).
    pub fn start() -> Self {
        Self::launch(None, SignIn::Off)
    }

    /// Start it with every list (tools, resources, templates, prompts) cut into
    /// pages of `page_size` items, chained by `nextCursor`. With 2, the 4 tools
    /// come in 2 pages, the 2 resources in 1. The cursor is the decimal offset
    /// of the next page's first item; any other cursor is an invalid-params error.
    pub fn with_page_size(page_size: usize) -> Self {
        assert!(page_size > 0, "a page holds at least one item");
        Self::launch(Some(page_size), SignIn::Off)
    }

    /// Start it so that it requires sign-in, using `mcp` 2.3.0's own
    /// resource-server support (`AuthSettings` with `resource_server_url` =
    /// [`url()`](Self::url) and issuer [`PYTHON_SIGN_IN_ISSUER`], plus a
    /// `TokenVerifier`). It accepts no token at all, so it never gets past this:
    ///
    /// - every request to `/mcp` (POST `initialize` included), whether it has
    ///   no `Authorization: Bearer` header or has any token at all, is answered
    ///   `401 Unauthorized`, `content-type: application/json`, body
    ///   `{"error": "invalid_token", "error_description": "Authentication required"}`,
    ///   and the header, on one line:
    ///
    ///   ```text
    ///   WWW-Authenticate: Bearer error="invalid_token", error_description="Authentication required", resource_metadata="http://127.0.0.1:<port>/.well-known/oauth-protected-resource/mcp"
    ///   ```
    ///
    ///   (no `scope`: it requires none);
    /// - `GET http://127.0.0.1:<port>/.well-known/oauth-protected-resource/mcp`
    ///   ([`resource_metadata_url()`](Self::resource_metadata_url), RFC 9728
    ///   metadata, served without a token) answers 200 `application/json`:
    ///   `{"resource":"http://127.0.0.1:<port>/mcp","authorization_servers":["http://127.0.0.1:1/"],"bearer_methods_supported":["header"]}`.
    ///
    /// A client that follows it to the authorization server finds nothing
    /// listening on port 1: sign-in can be started but never completed.
    pub fn requiring_sign_in() -> Self {
        Self::launch(
            None,
            SignIn::Required {
                accepted_token: None,
            },
        )
    }

    /// Like [`PythonMcp::requiring_sign_in`], but `Authorization: Bearer
    /// <token>` with exactly this token is accepted: with it the server
    /// behaves as [`PythonMcp::start`]; without it, or with another token, it
    /// answers the same 401.
    pub fn requiring_sign_in_accepting(token: &str) -> Self {
        assert!(
            !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()),
            "a bearer token is printable ASCII without spaces"
        );
        Self::launch(
            None,
            SignIn::Required {
                accepted_token: Some(token.to_owned()),
            },
        )
    }

    /// Start it so that every request must carry the header `name: value`
    /// exactly (an API key, or `Authorization: Basic …` for a username and
    /// password); any other request gets `401 Unauthorized` with the body
    /// `{"error": "unauthorized"}` — and `WWW-Authenticate: Basic realm="fixture"`
    /// when `value` starts with `Basic `. With the header it behaves as
    /// [`PythonMcp::start`].
    pub fn requiring_header(name: &str, value: &str) -> Self {
        Self::launch(
            None,
            SignIn::Header {
                name: name.to_owned(),
                value: value.to_owned(),
            },
        )
    }

    /// Start it with `resources` more resources and `prompts` more prompts, generated
    /// (`big://doc/<i>` named `doc-<i:05>` and titled `<Topic> <i>`; `prompt-<i:05>`
    /// without arguments), listed in pages of 500: a catalog as big as a company's document
    /// server. Takes a few seconds longer to start.
    pub fn with_big_catalog(resources: usize, prompts: usize) -> Self {
        Self::launch_with(
            Some(500),
            SignIn::Off,
            &["--big-catalog".to_owned(), format!("{resources},{prompts}")],
        )
    }

    /// Start it with `count` more tools, generated (`tool-<i:05>`, titled `<Topic> tool
    /// <i>`, one string input `q`, every other one saying it only reads), listed in pages of
    /// 500: as many tools as the biggest servers offer.
    pub fn with_many_tools(count: usize) -> Self {
        Self::launch_with(
            Some(500),
            SignIn::Off,
            &["--many-tools".to_owned(), count.to_string()],
        )
    }

    /// Start it speaking only the initialize handshake (2025-11-25 and before), as servers
    /// older than 2026-07-28 do: `server/discover` is answered with JSON-RPC error -32601,
    /// so a client falls back to `initialize`, and list changes reach it as notifications
    /// on its standalone GET stream instead of a `subscriptions/listen` stream.
    pub fn legacy() -> Self {
        Self::launch_with(None, SignIn::Off, &["--legacy".to_owned()])
    }

    /// Start it on the legacy HTTP+SSE transport (2024-11-05), as `mcp.run(transport="sse")`
    /// serves: an event stream at `/sse` naming `/messages/?session_id=…` to post to.
    pub fn start_sse() -> Self {
        Self::launch_with(None, SignIn::Off, &["--sse".to_owned()])
    }

    /// Adds one resource (`fixture://added/<n>`, named `added-<n>`, text `Added resource
    /// <n>.`) and one prompt without arguments (`added_<n>`) to the running server, and
    /// tells every connected client that the resource and prompt lists changed
    /// (`subscriptions/listen` streams, or the standalone stream of an initialize-era
    /// client). Returns `n`, counting from 1, once the news has been sent.
    pub async fn change(&self) -> u32 {
        self.command("/test/change", "added").await
    }

    /// Changes the `echo` tool's description to `Return the message unchanged (changed
    /// <n>).` and tells every connected client the tool list changed. Returns `n`, counting
    /// from 1, once the news has been sent.
    pub async fn change_tool(&self) -> u32 {
        self.command("/test/change-tool", "changed").await
    }

    /// Adds a tool `added_tool_<n>` (no arguments; text `added tool <n>`) and tells every
    /// connected client the tool list changed. Returns `n`, counting from 1.
    pub async fn add_tool(&self) -> u32 {
        self.command("/test/add-tool", "added").await
    }

    /// Says the resource at `uri` changed, to every client that follows it (a 2026-07-28
    /// client's `subscriptions/listen` stream naming it). Returns how many updates were
    /// sent so far, counting from 1.
    pub async fn update(&self, uri: &str) -> u32 {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("uri", uri)
            .finish();
        self.command(&format!("/test/update?{query}"), "updated")
            .await
    }

    /// The tool calls the server saw cancelled, oldest first (`"sleep 30"` for a `sleep`
    /// of 30 seconds that a client cancelled).
    pub async fn cancelled_calls(&self) -> Vec<String> {
        let url = format!("http://{}/test/cancelled", self.addr());
        let answer: serde_json::Value = reqwest::get(&url)
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|err| panic!("GET {url}: {err}"))
            .json()
            .await
            .unwrap_or_else(|err| panic!("GET {url}: not JSON: {err}"));
        answer["cancelled"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the server has seen `call` cancelled (see [`Self::cancelled_calls`]);
    /// panics after a minute.
    pub async fn wait_cancelled(&self, call: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if self.cancelled_calls().await.iter().any(|c| c == call) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server never saw {call:?} cancelled: {:?}",
                self.cancelled_calls().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// POSTs to one of the fixture's test routes and returns the count it answers under
    /// `field`.
    async fn command(&self, path: &str, field: &str) -> u32 {
        let url = format!("http://{}{path}", self.addr());
        let answer: serde_json::Value = reqwest::Client::new()
            .post(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|err| panic!("POST {url}: {err}"))
            .json()
            .await
            .unwrap_or_else(|err| panic!("POST {url}: not JSON: {err}"));
        answer[field]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_else(|| panic!("POST {url}: unexpected answer {answer}"))
    }

    fn launch(page_size: Option<usize>, sign_in: SignIn) -> Self {
        Self::launch_with(page_size, sign_in, &[])
    }

    fn launch_with(page_size: Option<usize>, sign_in: SignIn, extra: &[String]) -> Self {
        let python = venv_python();
        if !python.exists() || !mcp_installed(&venv_dir()) {
            panic!(
                "PyPI mcp=={PYTHON_MCP_VERSION} is not installed in {}. Install it with:\n  {}",
                venv_dir().display(),
                Self::install_command()
            );
        }
        let mut command = Command::new(&python);
        command
            .arg(fixtures_dir().join("python_server.py"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .arg("--page-size")
            .arg(page_size.unwrap_or(0).to_string())
            .args(extra);
        match &sign_in {
            SignIn::Required { accepted_token } => {
                command.arg("--require-auth");
                if let Some(token) = accepted_token {
                    command.arg("--accept-token").arg(token);
                }
            }
            SignIn::Header { name, value } => {
                command
                    .arg("--require-header")
                    .arg(format!("{name}: {value}"));
            }
            SignIn::Off => {}
        }
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let hint = format!("It needs:\n  {}", Self::install_command());
        let process = ServerProcess::start("python_server.py", command, &hint);
        let path = if extra.iter().any(|a| a == "--sse") {
            "/sse"
        } else {
            "/mcp"
        };
        let url = format!("http://{}{path}", process.addr());
        Self {
            process,
            url,
            page_size,
            sign_in,
        }
    }

    /// The commands that make the virtual environment [`PythonMcp`] uses.
    pub fn install_command() -> String {
        let venv = venv_dir();
        format!(
            "python3 -m venv {} && {} install mcp=={PYTHON_MCP_VERSION}",
            venv.display(),
            venv.join("bin").join("pip").display()
        )
    }

    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp` (`/sse` on the legacy transport).
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

    /// The page size it was started with; `None` means whole lists.
    pub fn page_size(&self) -> Option<usize> {
        self.page_size
    }

    /// With sign-in required, the protected-resource metadata URL its 401s
    /// point to: `http://127.0.0.1:<port>/.well-known/oauth-protected-resource/mcp`.
    /// `None` when it was started without sign-in.
    pub fn resource_metadata_url(&self) -> Option<String> {
        match self.sign_in {
            SignIn::Off | SignIn::Header { .. } => None,
            SignIn::Required { .. } => Some(format!(
                "http://{}/.well-known/oauth-protected-resource/mcp",
                self.addr()
            )),
        }
    }

    /// The one bearer token it accepts: `None` without sign-in, and with
    /// [`PythonMcp::requiring_sign_in`], which accepts none.
    pub fn accepted_token(&self) -> Option<&str> {
        match &self.sign_in {
            SignIn::Required {
                accepted_token: Some(token),
            } => Some(token),
            _ => None,
        }
    }

    /// Its stdout and stderr so far, for failure messages.
    pub fn output(&self) -> String {
        self.process.output()
    }
}

fn venv_dir() -> PathBuf {
    tools_dir().join("venv")
}

fn venv_python() -> PathBuf {
    venv_dir().join("bin").join("python")
}

/// Whether `<venv>/lib/python3.*/site-packages/mcp-<pinned>.dist-info` exists.
fn mcp_installed(venv: &Path) -> bool {
    let wanted = format!("mcp-{PYTHON_MCP_VERSION}.dist-info");
    let Ok(entries) = std::fs::read_dir(venv.join("lib")) else {
        return false;
    };
    entries
        .flatten()
        .any(|entry| entry.path().join("site-packages").join(&wanted).is_dir())
}
