//! The `.deb` as a person's system sees it: installed with apt, opened, handed a sign-in
//! link by the system's own scheme handler, and removed. It installs into this machine, so
//! it runs only when asked (`--ignored`): `cargo xtask test`, as root, builds the debug
//! `.deb` (`cargo xtask bundle --debug`) and runs it with `SWITCHBOARD_DEB` and
//! `SWITCHBOARD_APP=/usr/bin/switchboard`.

use std::path::PathBuf;
use std::process::Command;

use switchboard_testkit as kit;
use switchboard_testkit::desktop::{APP_IDENTIFIER, Desktop};
use switchboard_testkit::webdriver::tid;

use super::{add_by_address, browser_runs, row_named, with_test_browser};

const PACKAGE: &str = "switchboard";
const INSTALLED_APP: &str = "/usr/bin/switchboard";

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|err| panic!("{program}: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The files (not folders) the package put on the system.
fn package_files() -> Vec<PathBuf> {
    run("dpkg", &["-L", PACKAGE])
        .lines()
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "installs a package into the system: cargo xtask test runs it as root"]
async fn the_deb_installs_opens_takes_its_sign_in_link_and_removes_cleanly() {
    let deb = std::env::var("SWITCHBOARD_DEB").expect("SWITCHBOARD_DEB: the .deb to install");
    assert_eq!(
        std::env::var("SWITCHBOARD_APP").ok().as_deref(),
        Some(INSTALLED_APP),
        "SWITCHBOARD_APP names the binary the package installs"
    );
    // A leftover from an earlier run would hide what this install does.
    let _ = Command::new("apt-get")
        .args(["remove", "-y", PACKAGE])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output();
    run(
        "apt-get",
        &["install", "-y", "--no-install-recommends", &deb],
    );
    let files = package_files();
    assert!(files.contains(&PathBuf::from(INSTALLED_APP)), "{files:?}");
    let entry = files
        .iter()
        .find(|path| path.extension().is_some_and(|e| e == "desktop"))
        .unwrap_or_else(|| panic!("a desktop file among {files:?}"));
    let text = std::fs::read_to_string(entry).expect("the desktop file");
    assert!(
        text.lines().any(|line| line.starts_with("MimeType=")
            && line.contains(&format!("x-scheme-handler/{APP_IDENTIFIER}"))),
        "the desktop file declares the app's links:\n{text}"
    );
    // The link is handed over as the argument (`%u`): a desktop that launches by the Desktop
    // Entry rules passes nothing without it.
    assert!(
        text.lines()
            .any(|line| line == format!("Exec={PACKAGE} %u")),
        "{text}"
    );
    let entry_name = entry
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();

    // A person's fresh desktop, before the app ever ran: the system already names the
    // package's desktop file as the handler of the app's links.
    let mut desktop = Desktop::start("install");
    assert_eq!(
        desktop.default_link_handler(),
        entry_name,
        "xdg-mime names the installed handler"
    );

    // The installed app opens its window; a sign-in in the browser comes back through
    // xdg-open and the installed handler (a second launch that hands the link over).
    let auth = kit::AuthServer::start();
    let browser = with_test_browser(&mut desktop);
    let driver = desktop.driver();
    let app = driver.open_app().await;
    app.wait_for(&tid("connectors-page")).await;
    desktop.screenshot("01-installed-app");
    add_by_address(&app, auth.mcp_url()).await;
    row_named(&app, kit::OAUTH_SERVER_NAME).await;
    app.wait_text(&tid("connector-state"), "Connected").await;
    desktop.screenshot("02-signed-in-through-the-installed-handler");
    let runs = browser_runs(&browser, 1).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        runs[0]["handed_to_app"], true,
        "the browser handed the link to the system: {runs:?}"
    );
    // A link straight from the desktop reaches the running window too.
    let forged = format!("{APP_IDENTIFIER}:/oauth/callback/c1234?code=c0de&state=forged");
    assert!(desktop.open_link(&forged).success());
    app.wait_until(&tid("notice-banner"), |t| {
        t.contains("This sign-in link is not from Switchboard")
    })
    .await;
    assert_eq!(desktop.app_processes(), 1, "one app, the link handed over");
    // The installed app wrote no handler of its own into the person's profile: it would
    // outlive the package.
    let own = desktop
        .home()
        .join(".local/share/applications")
        .join(kit::desktop::SCHEME_HANDLER);
    assert!(!own.exists(), "{} was written", own.display());
    app.quit().await;
    desktop.wait_until_no_app();

    // Removed, it leaves none of its files; the person's settings stay theirs.
    let settings = desktop.settings_file();
    assert!(settings.exists(), "the connector was saved");
    run("apt-get", &["remove", "-y", PACKAGE]);
    let left: Vec<&PathBuf> = files.iter().filter(|path| path.exists()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(settings.exists(), "the person's data stays");
    assert_eq!(
        desktop.default_link_handler(),
        "",
        "no handler named after removal"
    );
}
