//! A network between Switchboard and a server: a TCP proxy on `127.0.0.1` that passes every
//! byte on unchanged, each direction `one_way` later, as a server that far away would get
//! and answer them. A request and its answer take `2 × one_way` more, and a new connection
//! one round trip more for its handshake.
//!
//! It models the delay of distance only: no bandwidth limit, no loss. Bytes keep their order,
//! and a side that closes is closed on the other side after the same delay.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

pub struct Distance {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Distance {
    /// A proxy in front of `upstream` (an address on this computer).
    pub fn start(upstream: SocketAddr, one_way: Duration) -> Self {
        let (stop, stop_rx) = oneshot::channel();
        let (ready, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
                ready
                    .send(listener.local_addr().expect("its address"))
                    .expect("the caller waits");
                tokio::select! {
                    _ = stop_rx => {}
                    () = accept(listener, upstream, one_way) => {}
                }
            });
        });
        let addr = ready_rx.recv().expect("the proxy listens");
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The far address of `path` (`/mcp?n=3`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Distance {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(listener: TcpListener, upstream: SocketAddr, one_way: Duration) {
    loop {
        // A listener that fails (out of file descriptors) stops: the connects that follow
        // fail where the bench can see them, instead of this loop spinning.
        let Ok((near, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            // The handshake crosses the distance too: one round trip before the first byte.
            tokio::time::sleep(one_way * 2).await;
            let Ok(far) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = near.set_nodelay(true);
            let _ = far.set_nodelay(true);
            let (near_read, near_write) = near.into_split();
            let (far_read, far_write) = far.into_split();
            tokio::spawn(carry(near_read, far_write, one_way));
            tokio::spawn(carry(far_read, near_write, one_way));
        });
    }
}

/// Reads `from` and writes each piece to `to` `delay` after it was read; `None` is the end.
async fn carry(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (send, mut pieces) = mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    tokio::spawn(async move {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let piece = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => None,
                Ok(n) => Some(buffer[..n].to_vec()),
            };
            let end = piece.is_none();
            if send.send((Instant::now() + delay, piece)).is_err() || end {
                return;
            }
        }
    });
    while let Some((due, piece)) = pieces.recv().await {
        tokio::time::sleep_until(due).await;
        match piece {
            Some(bytes) => {
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            None => {
                let _ = to.shutdown().await;
                return;
            }
        }
    }
}
