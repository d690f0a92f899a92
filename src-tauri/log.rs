//! The app's log: to stderr, and to `switchboard.log` in the app's log folder (where a
//! person can find it for a bug report, and the tests read it).
//!
//! `RUST_LOG` picks the detail (default [`DEFAULT_DETAIL`]), with one cap whatever it says:
//! rmcp's sign-in module logs the raw authorization code and token responses at `debug`, so
//! it is never let past `info`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// The log file's name inside the app's log folder.
pub const FILE_NAME: &str = "switchboard.log";

/// A log file larger than this at start is kept as `switchboard.log.1` and a new one begun.
const ROTATE_AT: u64 = 5 * 1024 * 1024;

/// Our own lines from `info` up, rmcp's only from `warn`: at `info` rmcp copies into the log
/// everything a server sends, each notification whole (its log messages, its progress, any
/// text it likes, at any rate and length) and its whole `initialize` answer with its
/// instructions. That is a server's text on the person's disk, unchecked: 10,345 of the
/// 11,055 lines (3.7 of 3.8 MB) the apps wrote in one run of the end-to-end tests and one
/// of the `many` bench.
/// `RUST_LOG=info` brings them back for a developer who wants them.
const DEFAULT_DETAIL: &str = "info,rmcp=warn";

/// Targets whose `debug` and `trace` lines may carry codes or tokens.
const CAPPED_AT_INFO: &[&str] = &["rmcp::transport::auth"];

/// Where lines go besides stderr, once the log folder is known.
static FILE: OnceLock<Arc<Mutex<File>>> = OnceLock::new();

/// Starts logging to stderr. Call once, first thing.
pub fn init() {
    // An empty or unreadable `RUST_LOG` is the default, not "errors only".
    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|detail| !detail.trim().is_empty())
        .and_then(|detail| EnvFilter::try_new(detail).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_DETAIL));
    let cap = filter_fn(|meta| {
        *meta.level() <= tracing::Level::INFO
            || !CAPPED_AT_INFO
                .iter()
                .any(|target| meta.target().starts_with(target))
    });
    tracing_subscriber::registry()
        .with(env)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(Lines)
                .with_filter(cap),
        )
        .init();
}

/// From now on, lines go to `switchboard.log` in `folder` too.
pub fn to_folder(folder: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let path = folder.join(FILE_NAME);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > ROTATE_AT) {
        std::fs::rename(&path, folder.join(format!("{FILE_NAME}.1")))?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let _ = FILE.set(Arc::new(Mutex::new(file)));
    Ok(())
}

/// Writes each line to stderr and, when there is one, to the log file.
struct Lines;

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Line;

    fn make_writer(&'a self) -> Self::Writer {
        Line(Vec::new())
    }
}

/// One formatted line, written out whole when dropped.
struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let _ = std::io::stderr().write_all(&self.0);
        if let Some(file) = FILE.get() {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            let _ = file.write_all(&self.0);
        }
    }
}
