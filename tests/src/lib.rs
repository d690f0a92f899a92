//! Real servers for Switchboard's integration and end-to-end tests.
//!
//! Every fixture listens on `127.0.0.1` on a port the kernel picked, exposes the
//! MCP endpoint URL through `url()`, and stops when it is dropped: child
//! processes are killed with their whole process group, in-process servers stop
//! their thread. Child processes also exit by themselves when the test process
//! dies without running `Drop` (they watch their stdin, whose other end only the
//! test process holds), so a crashed or killed test run leaks no servers.
//!
//! | fixture | what it is | needs |
//! | --- | --- | --- |
//! | [`Everything`] | npm `@modelcontextprotocol/server-everything`, streamable HTTP | Node.js, `<tools>/node` |
//! | [`PythonMcp`] | `tests/fixtures/python_server.py` on PyPI `mcp` 2.3.0 (both protocol eras; optionally requiring sign-in) | `<tools>/venv` |
//! | [`Garbage`] | in-process HTTP servers that answer wrongly, or never, or refuse | nothing |
//! | [`FaultProxy`] | in-process proxy in front of any of these that misbehaves on command: a forgotten session, 401, HTML, garbage, a huge answer, a stall, a delay, a cut stream, a flood of notifications, the network gone and back | nothing |
//! | [`Distance`] | in-process TCP proxy that delays every byte each way, as a server far away: for benchmarks of what the network's delay hides or shows | nothing |
//! | [`Hostile`] | an in-process HTTP server whose every answer the test sets, recording every request: the attacker's server (lying sign-in metadata, redirects elsewhere) | nothing |
//! | [`SelfSignedTls`] | HTTPS with a freshly made self-signed certificate | `openssl`, `python3` |
//! | [`ModelServer`] | in-process fake of the Anthropic Messages and OpenAI Chat Completions APIs: scripted replies streamed as the real ones, errors, cuts, holds; [`model_sdk`] checks it with the official SDKs | nothing (the SDK check: `<tools>/node`) |
//! | [`AuthServer`] | `tests/fixtures/oauth/server.mjs`: an OAuth 2.1 authorization server (npm `oidc-provider`) and the MCP server it protects | Node 22, `<tools>/node` |
//! | [`browser_env`] | not a server: the person's browser for sign-in (`browser.mjs`, headless Chromium via npm `playwright-core`) | `/usr/bin/chromium`, `<tools>/node` |
//!
//! `<tools>` is [`tools_dir()`]: `$SWITCHBOARD_TOOLS`, else `.tools` at the
//! repository root. A missing tool makes the fixture panic with the exact
//! command that installs it ([`Everything::install_command`],
//! [`PythonMcp::install_command`]).
//!
//! Starting a fixture blocks the calling thread until the server accepts TCP
//! connections (a second or two for the Node and Python servers, at most
//! [`STARTUP_TIMEOUT`]). That is fine at the top of a `#[tokio::test]`; the
//! fixtures never need the caller's runtime.
//!
//! ```no_run
//! let server = switchboard_testkit::Everything::start();
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! // ... connect Switchboard's MCP client to server.url() ...
//! drop(server); // the node process is gone
//! ```

pub mod desktop;
mod distance;
mod everything;
mod fault;
mod garbage;
mod hostile;
mod http;
mod models;
pub mod oauth;
mod paths;
mod process;
mod python;
mod tls;
pub mod webdriver;

pub use distance::Distance;
pub use everything::{
    EVERYTHING_CONDITIONAL_TOOL_NAMES, EVERYTHING_PACKAGE, EVERYTHING_PROMPT_NAMES,
    EVERYTHING_PROMPTS, EVERYTHING_PROTOCOL_VERSION, EVERYTHING_RESOURCE_PAGE_SIZE,
    EVERYTHING_RESOURCE_TEMPLATE_URIS, EVERYTHING_RESOURCE_TEMPLATES, EVERYTHING_RESOURCE_URIS,
    EVERYTHING_RESOURCES, EVERYTHING_SERVER_NAME, EVERYTHING_SERVER_TITLE,
    EVERYTHING_SERVER_VERSION, EVERYTHING_TOOL_NAMES, EVERYTHING_TOOLS, EVERYTHING_VERSION,
    Everything,
};
pub use fault::{Fault, FaultProxy, Seen};
pub use garbage::{Garbage, GarbageKind, HTML_BODY, NOT_FOUND_BODY, SERVER_ERROR_BODY};
pub use hostile::{Hostile, Reply, Request, non_loopback_ip, sign_in_metadata};
pub use models::{
    ANTHROPIC_SDK_VERSION, ApiError, Gate, ModelReply, ModelRequest, ModelServer,
    OPENAI_SDK_VERSION, Wire, model_sdk,
};
pub use oauth::{
    AuthServer, AuthServerBuilder, OAUTH_ADMIN_SCOPE, OAUTH_PASSWORD, OAUTH_PROTOCOL_VERSION,
    OAUTH_SCOPE, OAUTH_SERVER_NAME, OAUTH_SERVER_VERSION, OAUTH_TOOL_NAMES, OAUTH_TOOLS,
    OAUTH_USERNAME, browser_env, browser_log, browser_script,
};
pub use paths::{fixtures_dir, repo_root, tools_dir};
pub use process::STARTUP_TIMEOUT;
pub use python::{
    PYTHON_INSTRUCTIONS, PYTHON_LANGUAGES, PYTHON_MCP_VERSION, PYTHON_MODERN_PROTOCOL_VERSION,
    PYTHON_NAMES, PYTHON_PROMPT_ARGUMENTS, PYTHON_PROMPT_NAMES, PYTHON_PROMPTS,
    PYTHON_PROTOCOL_VERSION, PYTHON_RESOURCE_TEMPLATE_URIS, PYTHON_RESOURCE_TEMPLATES,
    PYTHON_RESOURCE_URIS, PYTHON_RESOURCES, PYTHON_SERVER_NAME, PYTHON_SERVER_VERSION,
    PYTHON_SIGN_IN_ISSUER, PYTHON_TOOL_NAMES, PYTHON_TOOLS, PythonMcp,
};
pub use tls::{SelfSignedTls, TLS_BODY};
