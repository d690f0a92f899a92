//! A private desktop for end-to-end tests: a virtual display (Xvfb), a session bus of its
//! own (so single-instance and the keyring never meet the developer's), a throw-away home
//! folder (so the app's settings are the test's alone), and tauri-driver to drive the window.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::webdriver::Session;

/// The app's identifier in tauri.conf.json: its data folder and link scheme are named after it.
pub const APP_IDENTIFIER: &str = "io.switchboard.desktop";

/// The desktop's opener, which runs the handler registered for a link's scheme.
pub const XDG_OPEN: &str = "/usr/bin/xdg-open";

/// The handler the app registers for its scheme at start-up (tauri-plugin-deep-link names
/// it after the binary), in `$XDG_DATA_HOME/applications`.
pub const SCHEME_HANDLER: &str = "switchboard-handler.desktop";

/// The app's log file name in its log folder (`src-tauri/log.rs`).
pub const APP_LOG_FILE: &str = "switchboard.log";

/// A line the app logs once it runs: proof that its log is being read at all.
pub const APP_STARTED_LINE: &str = "Switchboard started";

/// What the app logs when WebKit's process behind its window ended on its own, before it
/// loads the page again (`PAGE_STOPPED_LINE` in `src-tauri/lib.rs`).
pub const PAGE_STOPPED_LINE: &str = "the window's page stopped";

/// What the app logs each time its window's page has loaded (`PAGE_LOADED_LINE` there).
pub const PAGE_LOADED_LINE: &str = "the window's page loaded";

/// What a failed window test prints when the app's page stopped under it (WebKit's web
/// process died): `cargo xtask test` runs such a test once more (`PAGE_STOPPED_MARK` there).
pub const PAGE_STOPPED_MARK: &str =
    "xtask: WebKit's process for the window's page died during this test";

pub struct Desktop {
    home: tempfile::TempDir,
    display: String,
    bus_address: String,
    children: Vec<Child>,
    artifacts: PathBuf,
    extra_env: Vec<(String, String)>,
}

/// A session bus with no service folders: nothing can be activated on it.
const BUS_WITHOUT_SERVICES: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// The password of the test keyring each desktop unlocks.
const KEYRING_PASSWORD: &str = "switchboard";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

impl Desktop {
    /// Starts the display, the bus and an unlocked keyring. `name` names the folder for
    /// screenshots.
    pub fn start(name: &str) -> Self {
        Self::start_with(name, true)
    }

    /// A desktop whose session bus offers no keyring at all (no Secret Service running,
    /// and none that D-Bus could start on demand), like a Linux machine without one.
    pub fn start_without_keyring(name: &str) -> Self {
        Self::start_with(name, false)
    }

    fn start_with(name: &str, keyring: bool) -> Self {
        let home = tempfile::tempdir().expect("temporary home");
        let artifacts = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("artifacts")
            .join(name);
        // Only this run's pictures: names with ports in them would pile up otherwise.
        let _ = std::fs::remove_dir_all(&artifacts);
        std::fs::create_dir_all(&artifacts).expect("artifacts folder");
        let mut children = Vec::new();

        let (xvfb, display_number) = start_display(&artifacts.join("xvfb.log"));
        children.push(xvfb);
        let display = format!(":{display_number}");

        // Without a keyring, the bus gets a configuration that names no service folders,
        // so nothing (gnome-keyring's .service file) can be started on demand.
        let bus_config = if keyring {
            "--session".to_owned()
        } else {
            let path = home.path().join("session-bus.conf");
            std::fs::write(&path, BUS_WITHOUT_SERVICES).expect("bus configuration");
            format!("--config-file={}", path.display())
        };
        let mut bus = Command::new("dbus-daemon")
            .args([bus_config.as_str(), "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (apt-get install dbus-x11)");
        let bus_address = {
            use std::io::BufRead;
            let stdout = bus.stdout.take().expect("bus stdout");
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .expect("bus address");
            line.trim().to_owned()
        };
        children.push(bus);

        let mut desktop = Self {
            home,
            display,
            bus_address,
            children,
            artifacts,
            extra_env: Vec::new(),
        };
        if keyring {
            desktop.start_keyring();
        }
        desktop
    }

    /// A real Secret Service on this desktop's bus: gnome-keyring, with a fresh keyring
    /// in the temporary home, unlocked, as after logging in.
    fn start_keyring(&mut self) {
        use std::io::Write;
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (apt-get install gnome-keyring)");
        if let Some(mut stdin) = keyring.stdin.take() {
            stdin
                .write_all(KEYRING_PASSWORD.as_bytes())
                .expect("keyring password");
        }
        self.children.push(keyring);
        // Asked without activating anything: a call to the Secret Service before this
        // daemon owns the name would have D-Bus start a second, locked one.
        wait_until("the keyring on the bus", || {
            Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .envs(self.env())
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
        });
    }

    /// Everything the app keeps in the keyring: `secret-tool`'s listing (attributes and
    /// secrets) of the entries filed under the app's identifier.
    pub fn keyring_listing(&self) -> String {
        let output = Command::new("secret-tool")
            .args(["search", "--all", "--unlock", "service", APP_IDENTIFIER])
            .envs(self.env())
            .output()
            .expect("secret-tool (apt-get install libsecret-tools)");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// Adds to the environment of every process started on this desktop from now on.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_owned(), value.to_owned()));
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The environment every process on this desktop gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.home.path();
        vec![
            ("DISPLAY".into(), self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus_address.clone()),
            ("HOME".into(), home.display().to_string()),
            (
                "XDG_DATA_HOME".into(),
                home.join(".local/share").display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME".into(),
                home.join(".config").display().to_string(),
            ),
            (
                "XDG_CACHE_HOME".into(),
                home.join(".cache").display().to_string(),
            ),
            ("XDG_RUNTIME_DIR".into(), home.display().to_string()),
            ("NO_AT_BRIDGE".into(), "1".into()),
            ("WEBKIT_DISABLE_DMABUF_RENDERER".into(), "1".into()),
            ("WEBKIT_DISABLE_COMPOSITING_MODE".into(), "1".into()),
            ("LIBGL_ALWAYS_SOFTWARE".into(), "1".into()),
            // The app's own default detail (src-tauri/log.rs), whatever the shell running
            // the tests says: what a person's app writes is what the tests read.
            ("RUST_LOG".into(), String::new()),
        ]
        .into_iter()
        .chain(self.extra_env.iter().cloned())
        .collect()
    }

    /// The app's data folder on this desktop (Tauri's `app_data_dir`).
    fn data_dir(&self) -> PathBuf {
        self.home.path().join(".local/share").join(APP_IDENTIFIER)
    }

    /// The app's settings file on this desktop.
    pub fn settings_file(&self) -> PathBuf {
        self.data_dir().join("settings.json")
    }

    /// The window's start view kept for the next start, in the app's data folder.
    pub fn start_view_file(&self) -> PathBuf {
        self.data_dir().join("start-view.json")
    }

    /// A picture of the whole screen, kept under `tests/artifacts/<test>/<name>.png`.
    /// A screenshot that cannot be taken fails the test: screens are looked at.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let path = self.artifacts.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&path);
        let status = self.capture(&path);
        assert!(
            matches!(status, Ok(s) if s.success()),
            "screenshot {name} failed: {status:?}"
        );
        let png = std::fs::read(&path).unwrap_or_default();
        assert!(
            png.starts_with(b"\x89PNG"),
            "screenshot {name} is not a PNG ({} bytes)",
            png.len()
        );
        path
    }

    /// The whole screen into `path`, as a PNG.
    fn capture(&self, path: &Path) -> std::io::Result<std::process::ExitStatus> {
        Command::new("import")
            .args(["-window", "root"])
            .arg(path)
            .envs(self.env())
            .status()
    }

    /// Presses `key` (an X key name: `Return`, `Tab`) in the app's window, as a person at the
    /// keyboard would, for a page that WebDriver cannot reach (it ends its session when the
    /// page's process ends). This desktop has no window manager, so the window is given the
    /// keyboard focus first; `xdotool` then types through the X server's test extension, so
    /// the window takes the key as one a person typed.
    pub fn press_key(&self, key: &str) {
        let xdotool = |args: &[&str]| {
            let output = Command::new("xdotool")
                .args(args)
                .envs(self.env())
                .output()
                .expect("xdotool (`cargo xtask setup` installs it)");
            assert!(
                output.status.success(),
                "xdotool {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        xdotool(&[
            "search",
            "--sync",
            "--onlyvisible",
            "--name",
            "^Switchboard$",
            "windowfocus",
            "--sync",
        ]);
        xdotool(&["key", key]);
    }

    /// Starts tauri-driver on this desktop, ready to open the app. Its ports are picked by
    /// binding and releasing them, so another process may take one meanwhile: when
    /// tauri-driver exits instead of listening, it is started again on other ports.
    pub fn driver(&mut self) -> Driver {
        for _ in 0..5 {
            let port = free_port();
            let native_port = free_port();
            let log = std::fs::File::create(self.artifacts.join("driver.log")).expect("log file");
            let mut child = Command::new(tool("tauri-driver"))
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
                .envs(self.env())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("tauri-driver (`cargo xtask setup` installs it)");
            let mut exited = false;
            wait_until("tauri-driver to listen", || {
                exited = matches!(child.try_wait(), Ok(Some(_)));
                exited || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if exited {
                continue;
            }
            self.children.push(child);
            return Driver { port };
        }
        panic!("tauri-driver would not start; see driver.log");
    }

    /// Opens a link to the app's scheme as the desktop does: `xdg-open <link>`, which runs
    /// the handler the app registered for its scheme at start-up (a second launch of the
    /// app, which hands the link to the running one and exits).
    pub fn open_link(&self, link: &str) -> std::process::ExitStatus {
        let mut child = Command::new(XDG_OPEN)
            .arg(link)
            .envs(self.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("second instance");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("xdg-open and the second instance did not hand over and exit");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The desktop file `xdg-mime` names as the default handler of links to the app's
    /// scheme on this desktop (empty when there is none).
    pub fn default_link_handler(&self) -> String {
        let output = Command::new("xdg-mime")
            .args([
                "query",
                "default",
                &format!("x-scheme-handler/{APP_IDENTIFIER}"),
            ])
            .envs(self.env())
            .output()
            .expect("xdg-mime (apt-get install xdg-utils)");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// What the desktop would run for a link to the app's scheme: `xdg-mime`'s default
    /// handler for `x-scheme-handler/<scheme>`, and that handler's `Exec` line.
    pub fn scheme_handler(&self) -> (String, String) {
        let handler = self.default_link_handler();
        let file = self
            .home
            .path()
            .join(".local/share/applications")
            .join(&handler);
        let exec = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("Exec="))
            .unwrap_or_default()
            .to_owned();
        (handler, exec)
    }

    /// How many app processes run on this desktop: processes of the app binary with this
    /// desktop's display in their environment.
    pub fn app_processes(&self) -> usize {
        let binary = app_binary().canonicalize().unwrap_or_else(|_| app_binary());
        self.processes_on_this_display(|exe| exe == binary).len()
    }

    /// The process ids of WebKit's web processes on this desktop: the pages of its windows,
    /// which WebKit runs apart from the app.
    pub fn web_processes(&self) -> Vec<u32> {
        self.processes_on_this_display(|exe| exe.file_name() == Some("WebKitWebProcess".as_ref()))
    }

    /// Processes whose executable `is` accepts, with this desktop's display in their
    /// environment.
    fn processes_on_this_display(&self, is: impl Fn(&Path) -> bool) -> Vec<u32> {
        let display = format!("DISPLAY={}", self.display);
        std::fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|entry| {
                        let proc = entry.path();
                        std::fs::read_link(proc.join("exe")).is_ok_and(|exe| is(&exe))
                            && std::fs::read(proc.join("environ")).is_ok_and(|environ| {
                                environ
                                    .split(|b| *b == 0)
                                    .any(|var| var == display.as_bytes())
                            })
                    })
                    .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until no app process runs on this desktop (after `quit`, before a relaunch).
    pub fn wait_until_no_app(&self) {
        wait_until("the app to exit", || self.app_processes() == 0);
    }

    /// The app's own log file on this desktop, in its log folder (Tauri's `app_log_dir`).
    /// tauri-driver drops the app's standard output, so this is where its lines are.
    pub fn app_log_file(&self) -> PathBuf {
        self.data_dir().join("logs").join(APP_LOG_FILE)
    }

    /// The app's log so far.
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(self.app_log_file()).unwrap_or_default()
    }
}

/// The last `n` lines of `text`, each cut to 300 characters (the app logs whole server
/// replies on one line).
fn last_lines(text: &str, n: usize) -> impl Iterator<Item = String> + '_ {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines
        .into_iter()
        .skip(start)
        .map(|line| match line.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_owned(),
        })
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // A failed test leaves a picture of the screen it failed on.
        if std::thread::panicking() {
            let path = self.artifacts.join("failed.png");
            let _ = self.capture(&path);
            eprintln!("the screen at the failure: {}", path.display());
            // CI keeps only what a test prints: the end of what the app, WebKit and
            // tauri-driver wrote says whether the window crashed, hung or was fine.
            let log =
                std::fs::read_to_string(self.artifacts.join("driver.log")).unwrap_or_default();
            eprintln!("the end of driver.log (the app's and WebKit's own output):");
            for line in last_lines(&log, 40) {
                eprintln!("  {line}");
            }
            // The app reloads its page when WebKit's process for it dies, but WebKitWebDriver
            // ends its session with that process: a test cannot go on from there.
            if self.app_log().contains(PAGE_STOPPED_LINE) {
                eprintln!("{PAGE_STOPPED_MARK}");
            }
        }
        // Kept beside the screenshots, for reading after the run.
        let _ = std::fs::copy(self.app_log_file(), self.artifacts.join("app.log"));
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub struct Driver {
    port: u16,
}

impl Driver {
    /// Opens the app (a fresh process) and a WebDriver session on its window.
    pub async fn open_app(&self) -> Session {
        self.open(&app_binary()).await
    }

    /// Opens any Tauri binary (the benchmarks' blank baseline window, for one).
    pub async fn open(&self, application: &Path) -> Session {
        Session::start(self.port, application)
            .await
            .expect("a WebDriver session on the app")
    }
}

/// The app binary under test, built with its window inside (`cargo xtask test` sets this).
pub fn app_binary() -> PathBuf {
    let path = std::env::var_os("SWITCHBOARD_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/switchboard")
        });
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask test`, which builds the app with its window first",
        path.display()
    );
    path
}

fn tool(name: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|p| p.join("bin").join(name));
    match cargo_bin {
        Some(path) if path.exists() => path,
        _ => PathBuf::from(name),
    }
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts Xvfb on a display number it picks itself (`-displayfd`: it binds the first free
/// one, so two desktops can never race for a number) and waits for the number, which Xvfb
/// writes only once it accepts connections. Its own messages go to `log`, and are shown if it
/// fails to start.
fn start_display(log: &Path) -> (Child, u32) {
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x860x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("Xvfb's log file"))
        .spawn()
        .expect("Xvfb (apt-get install xvfb; `cargo xtask setup` does this)");
    let stdout = xvfb.stdout.take().expect("Xvfb's stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let _ = tx.send(read.map(|_| line));
        // Kept open for its life: a closed pipe would kill it if it ever wrote again.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    // Generous: a loaded machine can be slow to start it, and a number arrives as soon as
    // Xvfb is ready, so this only bounds a hang.
    let answer = rx.recv_timeout(Duration::from_secs(60));
    if let Ok(Ok(line)) = &answer
        && let Ok(number) = line.trim().parse()
    {
        return (xvfb, number);
    }
    let _ = xvfb.kill();
    let status = xvfb.wait();
    panic!(
        "Xvfb did not start ({}; {status:?}). Its messages:\n{}",
        match answer {
            Err(_) => "no display number within 60 s".to_owned(),
            Ok(Err(e)) => format!("reading its display number failed: {e}"),
            Ok(Ok(line)) => format!("it wrote {line:?} instead of a display number"),
        },
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
