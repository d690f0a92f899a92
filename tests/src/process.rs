//! A server child process: start, wait until it listens, capture its output,
//! kill it (with its process group) on drop.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a fixture may take to start listening before the test fails.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The line a fixture prints on stderr once its socket listens. Printed by
/// `tests/fixtures/node-loopback.cjs`, `python_server.py` and `tls_server.py`,
/// which all bind port 0: the kernel picks a free port and the child tells us
/// which, so two tests can never race for the same port.
const LISTENING_PREFIX: &str = "SWITCHBOARD_TESTKIT_LISTENING ";

/// Keep at most this much of a child's output (the newest part).
const OUTPUT_LIMIT: usize = 256 * 1024;

/// The child's stdout and stderr, interleaved line by line, newest last.
#[derive(Default)]
struct OutputLog {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: bool,
}

impl OutputLog {
    fn push(&mut self, line: String) {
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.bytes > OUTPUT_LIMIT {
            match self.lines.pop_front() {
                Some(old) => {
                    self.bytes -= old.len();
                    self.dropped = true;
                }
                None => break,
            }
        }
    }

    fn text(&self) -> String {
        let mut text = String::new();
        if self.dropped {
            text.push_str("[... older output dropped ...]\n");
        }
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    fn listening_addr(&self) -> Option<Result<SocketAddr, String>> {
        self.lines.iter().find_map(|line| {
            let rest = line.split_once(LISTENING_PREFIX)?.1.trim();
            Some(
                rest.parse::<SocketAddr>()
                    .map_err(|err| format!("bad address {rest:?} in {line:?}: {err}")),
            )
        })
    }
}

type SharedLog = Arc<Mutex<OutputLog>>;

fn lock(log: &SharedLog) -> std::sync::MutexGuard<'_, OutputLog> {
    // A reader thread that panicked while holding the lock left a usable log.
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Read one of the child's pipes line by line into the log until it closes.
///
/// The pipes must be drained all the time: a child whose pipe buffer fills up
/// (64 KiB; the Node server logs every request) blocks on its next write.
fn drain(pipe: impl Read + Send + 'static, tag: &'static str, log: SharedLog) {
    let reader_log = Arc::clone(&log);
    let spawned = thread::Builder::new()
        .name(format!("testkit-{tag}"))
        .spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']);
                        lock(&reader_log).push(format!("[{tag}] {line}"));
                    }
                }
            }
        });
    if let Err(err) = spawned {
        lock(&log).push(format!("[testkit] could not start the {tag} reader: {err}"));
    }
}

/// A running server process. Killed, with its process group, on drop.
pub(crate) struct ServerProcess {
    /// Human name for messages, e.g. "server-everything".
    name: String,
    child: Child,
    /// Held open for the child's life: the fixture scripts exit when their
    /// stdin reaches EOF, which happens when this is dropped, or when the test
    /// process dies before it could run `Drop` (the kernel closes the pipe).
    stdin: Option<ChildStdin>,
    log: SharedLog,
    addr: Option<SocketAddr>,
}

impl ServerProcess {
    /// Start `command` and wait until it announced its address and accepts
    /// TCP connections there.
    ///
    /// Panics when it cannot start, exits early, or is not listening after
    /// [`STARTUP_TIMEOUT`]; the message carries its output and `install_hint`
    /// (the command that installs what it needs).
    pub(crate) fn start(name: &str, mut command: Command, install_hint: &str) -> Self {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so Drop can kill it with anything it spawned.
            .process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => panic!(
                "could not start {name} ({:?}): {err}\n{install_hint}",
                command.get_program()
            ),
        };
        let log: SharedLog = Arc::default();
        if let Some(stdout) = child.stdout.take() {
            drain(stdout, "stdout", Arc::clone(&log));
        }
        if let Some(stderr) = child.stderr.take() {
            drain(stderr, "stderr", Arc::clone(&log));
        }
        let stdin = child.stdin.take();
        // From here on a panic drops `process`, which kills the child.
        let mut process = Self {
            name: name.to_owned(),
            child,
            stdin,
            log,
            addr: None,
        };
        process.addr = Some(process.wait_listening(install_hint));
        process
    }

    fn wait_listening(&mut self, install_hint: &str) -> SocketAddr {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let addr = loop {
            let announced = lock(&self.log).listening_addr();
            match announced {
                Some(Ok(addr)) => break addr,
                Some(Err(err)) => self.fail(&err, install_hint),
                None => {}
            }
            self.fail_if_exited(install_hint);
            if Instant::now() >= deadline {
                self.fail(
                    &format!("did not announce its address within {STARTUP_TIMEOUT:?}"),
                    install_hint,
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        // The announcement comes right after listen(); still, prove it by
        // connecting, as a client will.
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return addr;
            }
            self.fail_if_exited(install_hint);
            if Instant::now() >= deadline {
                self.fail(
                    &format!(
                        "announced {addr} but refused connections there for {STARTUP_TIMEOUT:?}"
                    ),
                    install_hint,
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn fail_if_exited(&mut self, install_hint: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            // Let the reader threads catch the last lines.
            thread::sleep(Duration::from_millis(200));
            self.fail(&format!("exited early ({status})"), install_hint);
        }
    }

    fn fail(&self, what: &str, install_hint: &str) -> ! {
        panic!(
            "{} {what}.\n--- its output ---\n{}--- end of output ---\n{install_hint}",
            self.name,
            self.output()
        )
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
            .expect("ServerProcess::start only returns once the address is known")
    }

    /// Its process id (also its process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout and stderr so far, each line tagged `[stdout]` or `[stderr]`.
    pub(crate) fn output(&self) -> String {
        lock(&self.log).text()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let pid = self.child.id();
        // Kill the whole group (the child is its leader). std has no killpg and
        // this crate forbids unsafe code, so ask kill(1); if it is missing, the
        // direct kill below still stops the server, which spawns no children.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        // Reap it, so no zombie outlives the fixture.
        let _ = self.child.wait();
    }
}
