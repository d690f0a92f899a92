//! Turns what went wrong on the wire into one plain sentence with a stable code, so the
//! person learns which step failed and what to try — never just "couldn't connect".

use std::error::Error as StdError;
use std::time::Duration;

use rmcp::ServiceError;
use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::{HttpStatusError, StreamableHttpError};
use switchboard_ipc::ErrorCode;

use crate::error::Error;

pub(crate) fn timed_out(after: Duration) -> Error {
    Error::new(
        ErrorCode::Timeout,
        format!(
            "The server did not answer within {}. It may be busy or down; try again later.",
            match after.as_secs() {
                1 => "1 second".to_owned(),
                n => format!("{n} seconds"),
            }
        ),
    )
}

/// Why connecting and the handshake failed.
pub(crate) fn handshake(err: &ClientInitializeError) -> Error {
    // In automatic mode the legacy attempt is the one that tells what the server is.
    if let ClientInitializeError::LegacyFallbackFailed { fallback, .. } = err {
        return handshake(fallback);
    }
    if err.is_authorization_required() {
        return needs_sign_in(err.auth_challenge());
    }
    // A challenge without needing sign-in: 403, more access (scope) needed.
    if let Some(challenge) = err.auth_challenge() {
        return needs_more_access("connect", challenge);
    }
    // The transport's own error is a field, not a `source()`, of the handshake error.
    let cause: &(dyn StdError + 'static) = match err {
        ClientInitializeError::TransportError { error, .. } => error.error.as_ref(),
        other => other,
    };
    classify(cause).unwrap_or_else(|| {
        Error::new(
            ErrorCode::Protocol,
            "Something answered at this address, but not the way an MCP server does. Check the address — MCP addresses often end in /mcp.",
        )
        .with_detail(chain(err))
    })
}

/// Whether a handshake failed only because the transport's worker had quit (rmcp's
/// "Transport channel closed"): the reason is whatever made it quit.
pub(crate) fn worker_quit(err: &ClientInitializeError) -> bool {
    matches!(
        err,
        ClientInitializeError::TransportError { error, .. }
            if matches!(
                error.error.downcast_ref::<StreamableHttpError<reqwest::Error>>(),
                Some(StreamableHttpError::TransportChannelClosed)
            )
    )
}

/// Why a POST failed on the wire: a status, a refused connection, an answer that is not
/// MCP; what rmcp's worker quits on.
pub(crate) fn post_failed<E: StdError + Send + Sync + 'static>(
    err: &StreamableHttpError<E>,
) -> Error {
    classify(err).unwrap_or_else(|| {
        Error::new(
            ErrorCode::Unreachable,
            "The connection to the server broke while connecting. Switchboard tries again on its own, or choose Try again.",
        )
        .with_detail(chain(err))
    })
}

/// Why a request on an open session failed.
pub(crate) fn request(what: &str, err: &ServiceError) -> Error {
    if let ServiceError::McpError(data) = err {
        return Error::new(
            ErrorCode::Protocol,
            format!("The server could not {what}: {}", sentence(&data.message)),
        )
        .with_detail(format!("JSON-RPC error {}: {}", data.code.0, data.message));
    }
    if let ServiceError::Timeout { timeout } = err {
        return timed_out(*timeout);
    }
    if let Some(challenge) = err.auth_challenge() {
        if !err.is_authorization_required() {
            return needs_more_access(what, challenge);
        }
        return needs_sign_in(Some(challenge));
    }
    mid_session(what, err)
        .or_else(|| classify(err))
        .unwrap_or_else(|| {
            Error::new(
                ErrorCode::Protocol,
                format!("The connection to the server broke while trying to {what}. Try again."),
            )
            .with_detail(chain(err))
        })
}

/// What goes wrong with one request on a connection that worked: the answer, not the
/// address, is at fault (the address was good a moment ago), so the person is not sent to
/// check it.
fn mid_session(what: &str, err: &ServiceError) -> Option<Error> {
    let detail = chain(err);
    let lower = detail.to_ascii_lowercase();
    let mut too_large = None;
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(StreamableHttpError::ResponseBodyTooLarge { max_size }) =
            current.downcast_ref::<StreamableHttpError<reqwest::Error>>()
        {
            too_large = Some(*max_size);
        }
        source = current.source();
    }
    let error = |code, message: String| Some(Error::new(code, message).with_detail(detail.clone()));
    if too_large.is_some() || lower.contains("exceeded the maximum size") {
        let mb = too_large.unwrap_or(16 * 1024 * 1024) / (1024 * 1024);
        return error(
            ErrorCode::Protocol,
            format!(
                "The server's answer was larger than {mb} MB, so Switchboard stopped reading it. Ask for less, or tell the server's owner."
            ),
        );
    }
    if lower.contains("unexpected content type") && lower.contains("text/html") {
        return error(
            ErrorCode::NotMcpServer,
            format!(
                "The server answered with a web page while trying to {what}. Something may stand between you and the server, such as a network's sign-in page; try again."
            ),
        );
    }
    if lower.contains("unexpected server response") || lower.contains("deserialize error") {
        return error(
            ErrorCode::Protocol,
            format!(
                "The server's answer could not be read while trying to {what}. Try again; if it keeps happening, tell the server's owner."
            ),
        );
    }
    if lower.contains("session expired")
        || lower.contains("session recovery timed out")
        || lower.contains("session re-initialization failed")
    {
        return error(
            ErrorCode::ServerError,
            format!(
                "The server restarted and Switchboard could not start over with it while trying to {what}. Try again."
            ),
        );
    }
    None
}

fn needs_more_access(what: &str, challenge: &str) -> Error {
    Error::new(
        ErrorCode::NeedsMoreAccess,
        format!("The server needs more access before it lets Switchboard {what}."),
    )
    .with_detail(format!("The server answered 403 with: {challenge}"))
}

fn needs_sign_in(challenge: Option<&str>) -> Error {
    let error = Error::new(
        ErrorCode::NeedsSignIn,
        "This server asks you to sign in before it can be used.",
    );
    match challenge {
        Some(challenge) if !challenge.is_empty() => {
            error.with_detail(format!("The server answered 401 with: {challenge}"))
        }
        _ => error.with_detail("The server answered 401 Unauthorized."),
    }
}

/// Finds the step that failed by walking the error's causes.
fn classify(err: &(dyn StdError + 'static)) -> Option<Error> {
    let detail = chain(err);
    if let Some(moved) = find::<crate::web::Moved>(err) {
        return Some(
            Error::new(
                ErrorCode::Moved,
                format!(
                    "This address moves to {}. Switchboard does not follow it to another server: if you trust that address, add it instead.",
                    moved.to
                ),
            )
            .with_detail(detail),
        );
    }
    let lower = detail.to_ascii_lowercase();
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(status) = current.downcast_ref::<HttpStatusError>() {
            return Some(http_status(status.status, &detail));
        }
        if let Some(transport) = current.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
            match transport {
                StreamableHttpError::HttpStatus(status) => {
                    return Some(http_status(status.status, &detail));
                }
                StreamableHttpError::UnexpectedContentType(content_type) => {
                    return Some(not_mcp(content_type.as_deref(), &detail));
                }
                StreamableHttpError::Client(http) => {
                    if let Some(found) = classify_http(http) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        if let Some(http) = current.downcast_ref::<reqwest::Error>()
            && let Some(found) = classify_http(http)
        {
            return Some(found);
        }
        source = current.source();
    }
    for status in [401, 403, 404] {
        if lower.contains(&format!("http {status}")) {
            return Some(http_status(status, &detail));
        }
    }
    if lower.contains("404 not found") {
        return Some(http_status(404, &detail));
    }
    if lower.contains("text/html") {
        return Some(not_mcp(Some("text/html"), &detail));
    }
    if lower.contains("certificate") || lower.contains("connection refused") {
        return Some(connect_failure(&lower, detail));
    }
    None
}

/// The HTTP client's error, with its own causes (connect, TLS, DNS) in the detail.
fn classify_http(http: &reqwest::Error) -> Option<Error> {
    let detail = &chain(http);
    let lower = &detail.to_ascii_lowercase();
    if let Some(status) = http.status() {
        return Some(http_status(status.as_u16(), detail));
    }
    if http.is_timeout() {
        return Some(timed_out(Duration::from_secs(30)).with_detail(detail.to_owned()));
    }
    if http.is_connect() || http.is_request() {
        return Some(connect_failure(lower, detail.to_owned()));
    }
    None
}

fn connect_failure(lower: &str, detail: String) -> Error {
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        return Error::new(
            ErrorCode::Certificate,
            "The server's security certificate is not trusted, so Switchboard did not connect. Check the address, or ask the server's owner to fix the certificate.",
        )
        .with_detail(detail);
    }
    if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service")
    {
        return Error::new(
            ErrorCode::Unreachable,
            "No server was found with that name. Check the address for typos.",
        )
        .with_detail(detail);
    }
    Error::new(
        ErrorCode::Unreachable,
        "Nothing answered at this address. Check the address, or whether the server is running.",
    )
    .with_detail(detail)
}

fn http_status(status: u16, detail: &str) -> Error {
    let (code, message) = match status {
        401 => (
            ErrorCode::NeedsSignIn,
            "This server asks you to sign in before it can be used.".to_owned(),
        ),
        403 => (
            ErrorCode::NeedsMoreAccess,
            "The server refused access for this sign-in.".to_owned(),
        ),
        404 => (
            ErrorCode::NotFound,
            "The server answered, but there is no MCP server at this address. Check the part after the server name.".to_owned(),
        ),
        429 => (
            ErrorCode::ServerError,
            "The server is receiving too many requests right now. Try again in a few minutes.".to_owned(),
        ),
        500..=599 => (
            ErrorCode::ServerError,
            "The server had a problem of its own. Try again later, or tell the server's owner.".to_owned(),
        ),
        _ => (
            ErrorCode::NotMcpServer,
            "The server refused to connect. Check that the address points at an MCP server.".to_owned(),
        ),
    };
    Error::new(code, message).with_detail(format!(
        "The server answered with HTTP status {status}. {detail}"
    ))
}

pub(crate) fn not_mcp(content_type: Option<&str>, detail: &str) -> Error {
    let message = match content_type {
        Some(ct) if ct.to_ascii_lowercase().contains("html") => {
            "This address shows a web page, not an MCP server. Check the address — MCP addresses often end in /mcp."
        }
        _ => "Something answered at this address, but it is not an MCP server.",
    };
    Error::new(ErrorCode::NotMcpServer, message).with_detail(detail.to_owned())
}

/// The first cause of type `T` in the error's chain.
pub(crate) fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        // rmcp's transport error holds the HTTP client's error as a field, not a source.
        source = match current.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
            Some(StreamableHttpError::Client(http)) => Some(http),
            _ => current.source(),
        };
    }
    None
}

/// The error and all its causes, for the "Details" disclosure.
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = source {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    parts.join(": ")
}

fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}
