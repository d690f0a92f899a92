//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp has no client for: `GET`
//! the address for an event stream, whose first `endpoint` event names where to `POST`
//! messages; the server's answers come back as `message` events on the stream.
//!
//! Everything the server sends is checked: the endpoint must be on the same server as the
//! address (a key or password is never posted elsewhere), events that are not JSON-RPC are
//! skipped, and a stream that names no endpoint in time is given up.

use std::time::Duration;

use futures_util::{Sink, Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::sink_stream::SinkStreamTransport;

use crate::error::{Error, ErrorCode, Result};

/// How long the stream may take to name its endpoint.
const ENDPOINT_PATIENCE: Duration = Duration::from_secs(10);

/// A message could not be posted to the server.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PostFailed(String);

/// The transport, ready for rmcp's `initialize` handshake.
pub type LegacyTransport = SinkStreamTransport<
    std::pin::Pin<Box<dyn Sink<ClientJsonRpcMessage, Error = PostFailed> + Send>>,
    std::pin::Pin<Box<dyn Stream<Item = ServerJsonRpcMessage> + Send>>,
>;

/// Opens the event stream at `url` through `client` (which carries any key or password) and
/// waits for the endpoint it names.
pub async fn connect(client: reqwest::Client, url: &str) -> Result<LegacyTransport> {
    let address = url::Url::parse(url).map_err(|err| {
        Error::new(ErrorCode::InvalidAddress, "This address is not valid.")
            .with_detail(err.to_string())
    })?;
    let response = client
        .get(address.clone())
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|err| not_legacy(format!("the event stream could not be opened: {err}")))?;
    let is_stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/event-stream"));
    if !response.status().is_success() || !is_stream {
        return Err(not_legacy(format!(
            "a GET answered {} without an event stream",
            response.status()
        )));
    }
    let mut events = crate::sse::events(response.bytes_stream());
    let endpoint = tokio::time::timeout(ENDPOINT_PATIENCE, async {
        while let Some(event) = events.next().await {
            let event =
                event.map_err(|err| not_legacy(format!("the event stream broke: {err}")))?;
            if event.event.as_deref() == Some("endpoint") {
                return endpoint_of(&address, event.data.as_deref().unwrap_or_default());
            }
        }
        Err(not_legacy(
            "the event stream ended before naming an endpoint".to_owned(),
        ))
    })
    .await
    .map_err(|_| not_legacy("the event stream named no endpoint in time".to_owned()))??;
    tracing::debug!(%endpoint, "legacy HTTP+SSE transport");

    let messages = events.filter_map(|event| async move {
        let event = event.ok()?;
        // `message` is the default event type.
        if !matches!(event.event.as_deref(), None | Some("message")) {
            return None;
        }
        match serde_json::from_str::<ServerJsonRpcMessage>(event.data.as_deref()?) {
            Ok(message) => Some(message),
            Err(err) => {
                tracing::debug!(%err, "skipped an event that is not a JSON-RPC message");
                None
            }
        }
    });
    let posts = futures_util::sink::unfold(
        (client, endpoint),
        |(client, endpoint), message: ClientJsonRpcMessage| async move {
            let response = client
                .post(endpoint.clone())
                .json(&message)
                .send()
                .await
                .map_err(|err| PostFailed(err.to_string()))?;
            if !response.status().is_success() {
                return Err(PostFailed(format!(
                    "the server answered a message with HTTP status {}",
                    response.status().as_u16()
                )));
            }
            Ok((client, endpoint))
        },
    );
    Ok(SinkStreamTransport::new(
        Box::pin(posts),
        Box::pin(messages),
    ))
}

/// The endpoint an `endpoint` event names, resolved against the stream's address: only on
/// the same server (scheme, host and port), never anywhere else.
fn endpoint_of(address: &url::Url, data: &str) -> Result<url::Url> {
    let endpoint = address
        .join(data.trim())
        .map_err(|err| not_legacy(format!("the endpoint {data:?} is not an address: {err}")))?;
    if !crate::web::same_origin(address, &endpoint) {
        return Err(Error::new(
            ErrorCode::NotMcpServer,
            "The server asked to be sent messages at another server. Switchboard did not follow.",
        )
        .with_detail(format!(
            "The event stream named {endpoint} as its endpoint."
        )));
    }
    Ok(endpoint)
}

fn not_legacy(detail: String) -> Error {
    crate::diagnose::not_mcp(None, &detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_stays_on_the_same_server() {
        let address = url::Url::parse("http://127.0.0.1:3001/sse").unwrap();
        assert_eq!(
            endpoint_of(&address, "/message?sessionId=abc")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:3001/message?sessionId=abc"
        );
        assert_eq!(
            endpoint_of(&address, "http://127.0.0.1:3001/m")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:3001/m"
        );
        for elsewhere in [
            "http://attacker.example/collect",
            "//attacker.example/collect",
            "https://127.0.0.1:3001/m",
            "http://127.0.0.1:3002/m",
        ] {
            let err = endpoint_of(&address, elsewhere).unwrap_err();
            assert_eq!(err.code, ErrorCode::NotMcpServer, "{elsewhere}");
        }
    }
}
