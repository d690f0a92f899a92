//! Servers that are not MCP servers: the addresses a person may paste by
//! mistake, or servers that are down or hang. In-process (tokio), no child.

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::http::{answer, read_request};

/// The body [`GarbageKind::Html`] answers with (200, `text/html; charset=utf-8`).
pub const HTML_BODY: &str = "<!DOCTYPE html>\n<html><head><title>Welcome</title></head>\
<body><h1>Welcome</h1><p>This is a web page, not an MCP server.</p></body></html>\n";

/// The body [`GarbageKind::NotFound`] answers with (404, `text/plain`).
pub const NOT_FOUND_BODY: &str = "404 page not found\n";

/// The body [`GarbageKind::ServerError`] answers with (500, `text/plain`): no
/// JSON, as a crashed proxy or framework would send.
pub const SERVER_ERROR_BODY: &str = "Internal Server Error\n";

/// How a [`Garbage`] server behaves, whatever the request (method, path, body).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GarbageKind {
    /// `200 OK` with an HTML page ([`HTML_BODY`]).
    Html,
    /// `404 Not Found` ([`NOT_FOUND_BODY`]).
    NotFound,
    /// `500 Internal Server Error` with a plain-text body ([`SERVER_ERROR_BODY`]).
    ServerError,
    /// Accepts the connection, reads what comes, never answers: for timeouts.
    Silent,
    /// Nothing listens: a port that was bound, then released, so connecting is
    /// refused. (Another process could take the port in between; on a test
    /// machine with the kernel's random ephemeral ports that does not happen in
    /// practice.)
    Closed,
}

/// A non-MCP server on `127.0.0.1` and a port the kernel picked, see
/// [`GarbageKind`]. Runs on its own thread and tokio runtime, so it answers
/// whatever the test's own runtime is doing; stops on drop.
///
/// Every answer carries `Connection: close` and the server reads the whole
/// request (by `Content-Length`) before answering, so clients see the status,
/// not a connection reset.
pub struct Garbage {
    kind: GarbageKind,
    addr: SocketAddr,
    url: String,
    connections: Arc<AtomicUsize>,
    /// Dropping it tells the server thread to stop.
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Garbage {
    /// Start a server of this kind (for [`GarbageKind::Closed`], reserve a
    /// refused port).
    pub fn start(kind: GarbageKind) -> Self {
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let url = format!("http://{addr}/mcp");
        let connections = Arc::new(AtomicUsize::new(0));
        if kind == GarbageKind::Closed {
            drop(listener);
            return Self {
                kind,
                addr,
                url,
                connections,
                stop: None,
                thread: None,
            };
        }
        listener
            .set_nonblocking(true)
            .expect("tokio needs a non-blocking listener");
        let (stop, stopped) = oneshot::channel();
        let counter = Arc::clone(&connections);
        let thread = std::thread::Builder::new()
            .name(format!("testkit-garbage-{kind:?}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build the garbage server's tokio runtime");
                runtime.block_on(async move {
                    let listener =
                        TcpListener::from_std(listener).expect("hand the listener to tokio");
                    serve(listener, kind, counter, stopped).await;
                });
                // Dropping the runtime here cancels the connection tasks and
                // closes their sockets (Silent's too).
            })
            .expect("spawn the garbage server's thread");
        Self {
            kind,
            addr,
            url,
            connections,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `Garbage::start(GarbageKind::Html)`.
    pub fn html() -> Self {
        Self::start(GarbageKind::Html)
    }

    /// `Garbage::start(GarbageKind::NotFound)`.
    pub fn not_found() -> Self {
        Self::start(GarbageKind::NotFound)
    }

    /// `Garbage::start(GarbageKind::ServerError)`.
    pub fn server_error() -> Self {
        Self::start(GarbageKind::ServerError)
    }

    /// `Garbage::start(GarbageKind::Silent)`.
    pub fn silent() -> Self {
        Self::start(GarbageKind::Silent)
    }

    /// `Garbage::start(GarbageKind::Closed)`.
    pub fn closed() -> Self {
        Self::start(GarbageKind::Closed)
    }

    /// Its kind.
    pub fn kind(&self) -> GarbageKind {
        self.kind
    }

    /// `http://127.0.0.1:<port>/mcp` (any path gets the same treatment).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on (for `Closed`, the refused one).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted so far, e.g. to check how often a client
    /// retried. Always 0 for `Closed`.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    kind: GarbageKind,
    connections: Arc<AtomicUsize>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(handle(stream, kind));
                }
                // E.g. out of file descriptors: back off, keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn handle(mut stream: TcpStream, kind: GarbageKind) {
    let (status, body) = match kind {
        GarbageKind::Html => ("200 OK", HTML_BODY),
        GarbageKind::NotFound => ("404 Not Found", NOT_FOUND_BODY),
        GarbageKind::ServerError => ("500 Internal Server Error", SERVER_ERROR_BODY),
        GarbageKind::Silent | GarbageKind::Closed => {
            // Read and discard so the client's writes never block, answer nothing.
            let mut buf = [0_u8; 4096];
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            return;
        }
    };
    let content_type = if kind == GarbageKind::Html {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let read = tokio::time::timeout(Duration::from_secs(10), read_request(&mut stream)).await;
    if !matches!(read, Ok(Some(_))) {
        return;
    }
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    answer(&mut stream, response.as_bytes()).await;
}
