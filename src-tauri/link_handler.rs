//! The app's link scheme on Linux desktops: whether an installed package already declares
//! it, and the handler tauri-plugin-deep-link writes when none does.

use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
use tauri::{AppHandle, Manager};

/// Whether a desktop file of the system's (`$XDG_DATA_DIRS/applications`, as a `.deb` or
/// `.rpm` installs it) declares `scheme` and runs this very binary.
#[cfg(target_os = "linux")]
pub fn installed(scheme: &str) -> bool {
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    let data_dirs = std::env::var("XDG_DATA_DIRS")
        .ok()
        .filter(|dirs| !dirs.is_empty())
        .unwrap_or_else(|| "/usr/local/share:/usr/share".to_owned());
    let path = std::env::var_os("PATH").unwrap_or_default();
    let search: Vec<PathBuf> = std::env::split_paths(&path).collect();
    std::env::split_paths(&data_dirs).any(|dir| {
        std::fs::read_dir(dir.join("applications"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "desktop"))
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .any(|text| declares(&text, scheme, &exe, &search))
    })
}

/// Whether a desktop file's text handles links to `scheme` by running `exe` (its `Exec`
/// names it by path, or by a bare name found first in `search`, as PATH would).
pub fn declares(desktop_file: &str, scheme: &str, exe: &Path, search: &[PathBuf]) -> bool {
    let wanted = format!("x-scheme-handler/{scheme}");
    let mut handles = false;
    let mut runs = false;
    for line in desktop_file.lines() {
        if let Some(types) = line.strip_prefix("MimeType=") {
            handles |= types.split(';').any(|t| t.trim() == wanted);
        } else if let Some(exec) = line.strip_prefix("Exec=") {
            let program = exec
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_matches('"');
            let program = Path::new(program);
            let found = if program.is_absolute() {
                Some(program.to_path_buf())
            } else if program.components().count() == 1 {
                search
                    .iter()
                    .map(|dir| dir.join(program))
                    .find(|candidate| candidate.is_file())
            } else {
                None
            };
            runs |= found.is_some_and(|found| same_file(&found, exe));
        }
    }
    handles && runs
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// xdg-open from xdg-utils 1.1.3 (Debian 12, Ubuntu 22.04) takes the first word of a
/// handler's `Exec` literally, quotes and all, so the handler tauri-plugin-deep-link writes
/// (`Exec="/path/to/switchboard" %u`) never runs when a browser that uses xdg-open
/// (Chromium) hands the sign-in link on. A path without spaces or shell characters needs no
/// quotes: they are dropped (the plugin writes them again at every start, and so this
/// runs at every start).
#[cfg(target_os = "linux")]
pub fn unquote(app: &AppHandle) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let Some(name) = exe.file_name() else {
        return;
    };
    let Ok(folder) = app.path().data_dir() else {
        return;
    };
    let file = folder
        .join("applications")
        .join(format!("{}-handler.desktop", name.to_string_lossy()));
    let Ok(text) = std::fs::read_to_string(&file) else {
        return;
    };
    if let Some(simpler) = unquoted_exec(&text)
        && let Err(err) = std::fs::write(&file, simpler)
    {
        tracing::warn!(%err, "could not simplify the link handler's Exec line");
    }
}

/// The desktop file with its `Exec="<path>" …` line unquoted, when the path needs no quotes;
/// `None` when there is nothing to change.
fn unquoted_exec(desktop_file: &str) -> Option<String> {
    let mut changed = false;
    let lines: Vec<String> = desktop_file
        .lines()
        .map(|line| {
            let simpler = line
                .strip_prefix("Exec=\"")
                .and_then(|rest| rest.split_once('"'))
                .filter(|(path, _)| {
                    !path.is_empty()
                        && !path.chars().any(|c| {
                            c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '$' | '`')
                        })
                })
                .map(|(path, args)| format!("Exec={path}{args}"));
            changed |= simpler.is_some();
            simpler.unwrap_or_else(|| line.to_owned())
        })
        .collect();
    changed.then(|| lines.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_exec_without_spaces_loses_its_quotes_for_old_xdg_open() {
        let written = "[Desktop Entry]\nType=Application\nExec=\"/opt/switchboard/switchboard\" %u\nMimeType=x-scheme-handler/io.switchboard.desktop\n";
        assert_eq!(
            unquoted_exec(written).as_deref(),
            Some(
                "[Desktop Entry]\nType=Application\nExec=/opt/switchboard/switchboard %u\nMimeType=x-scheme-handler/io.switchboard.desktop\n"
            )
        );
        // Already simple, or needing its quotes: left alone.
        assert_eq!(unquoted_exec("Exec=/opt/s/switchboard %u\n"), None);
        assert_eq!(
            unquoted_exec("Exec=\"/home/ada/My Apps/switchboard\" %u\n"),
            None
        );
    }

    #[test]
    fn an_installed_desktop_file_declares_the_scheme_only_for_this_binary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let exe = bin.join("switchboard");
        std::fs::write(&exe, "").expect("exe");
        let other = dir.path().join("switchboard");
        std::fs::write(&other, "").expect("other");
        let search = vec![dir.path().join("empty"), bin.clone()];
        let file = |exec: &str, types: &str| {
            format!("[Desktop Entry]\nType=Application\nExec={exec}\nMimeType={types}\n")
        };
        let scheme = "io.switchboard.desktop";
        let ours = "text/plain;x-scheme-handler/io.switchboard.desktop;";
        // By bare name on PATH, as a .deb writes it, and by its full path.
        assert!(declares(
            &file("switchboard %u", ours),
            scheme,
            &exe,
            &search
        ));
        let full = format!("\"{}\" %u", exe.display());
        assert!(declares(&file(&full, ours), scheme, &exe, &search));
        // Another scheme, another binary, a name not on PATH, a relative path: not ours.
        let theirs = "x-scheme-handler/io.switchboard.desktop.evil";
        assert!(!declares(
            &file("switchboard %u", theirs),
            scheme,
            &exe,
            &search
        ));
        let elsewhere = format!("{} %u", other.display());
        assert!(!declares(&file(&elsewhere, ours), scheme, &exe, &search));
        assert!(!declares(&file("switchboard %u", ours), scheme, &exe, &[]));
        assert!(!declares(
            &file("bin/switchboard %u", ours),
            scheme,
            &exe,
            &search
        ));
        assert!(!declares("", scheme, &exe, &search));
    }
}
