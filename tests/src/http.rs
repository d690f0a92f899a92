//! The little HTTP the in-process servers speak: read one request, write one answer and
//! close. Enough for clients that send `Content-Length` bodies (every client under test).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request as read off the wire.
pub(crate) struct Raw {
    /// The request line and headers, up to and without the blank line.
    pub head: String,
    pub body: Vec<u8>,
}

/// Reads one request: the head, then a `Content-Length` body. `None` when the peer closed
/// first or sent too much.
pub(crate) async fn read_request(stream: &mut TcpStream) -> Option<Raw> {
    const HEAD_LIMIT: usize = 64 * 1024;
    const BODY_LIMIT: usize = 16 * 1024 * 1024;
    let mut data = Vec::new();
    let mut buf = [0_u8; 4096];
    let head_end = loop {
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if data.len() > HEAD_LIMIT {
            return None;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end - 4]).into_owned();
    let content_length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if content_length > BODY_LIMIT {
        return None;
    }
    let mut body = data[head_end..].to_vec();
    while body.len() < content_length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(content_length);
    Some(Raw { head, body })
}

/// Writes the whole answer, closes our side, then lets the client close: closing with
/// unread bytes in the socket would make the kernel send a reset instead of the answer.
pub(crate) async fn answer(stream: &mut TcpStream, response: &[u8]) {
    answer_then(stream, response, || {}).await;
}

/// [`answer`], calling `written` once the whole answer is out.
pub(crate) async fn answer_then(stream: &mut TcpStream, response: &[u8], written: impl FnOnce()) {
    if stream.write_all(response).await.is_err() {
        return;
    }
    written();
    let _ = stream.shutdown().await;
    let mut buf = [0_u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
}
