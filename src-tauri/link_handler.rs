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
        candidates(&dir.join("applications"), scheme)
            .iter()
            .filter_map(|file| std::fs::read_to_string(file).ok())
            .any(|text| declares(&text, scheme, &exe, &search))
    })
}

/// The desktop files of `folder` that may declare `scheme`: those its `mimeinfo.cache` names
/// for it (kept by `update-desktop-database`, which package installs run), or every one
/// when there is no cache to ask.
#[cfg(target_os = "linux")]
fn candidates(folder: &Path, scheme: &str) -> Vec<PathBuf> {
    if let Ok(cache) = std::fs::read_to_string(folder.join("mimeinfo.cache")) {
        let wanted = format!("x-scheme-handler/{scheme}");
        return entries(&cache, "MIME Cache", &wanted)
            .map(|name| folder.join(name))
            .collect();
    }
    std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "desktop"))
        .collect()
}

/// The desktop file names listed for `mime` in `section` of a `mimeinfo.cache` or
/// `mimeapps.list` (`mime=a.desktop;b.desktop;`), in their order.
fn entries<'a>(text: &'a str, section: &str, mime: &str) -> impl Iterator<Item = &'a str> {
    let mut inside = false;
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name == section;
        } else if inside
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == mime
        {
            found = Some(value);
            break;
        }
    }
    found
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

/// Whether an earlier start left this binary's handler in place: the desktop file
/// tauri-plugin-deep-link writes declares `scheme` and runs this binary, and the person's
/// `mimeapps.list` names it first for the scheme. Registering again would run two programs
/// and rewrite two files at every start.
#[cfg(target_os = "linux")]
pub fn still_registered(app: &AppHandle, scheme: &str) -> bool {
    let (Ok(exe), Some(file)) = (std::env::current_exe(), handler_file(app)) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return false;
    };
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let wanted = format!("x-scheme-handler/{scheme}");
    declares(&text, scheme, &exe, &[])
        && app.path().config_dir().is_ok_and(|config| {
            std::fs::read_to_string(config.join("mimeapps.list")).is_ok_and(|list| {
                entries(&list, "Default Applications", &wanted).next() == Some(name.as_ref())
            })
        })
}

/// Where tauri-plugin-deep-link writes this binary's handler: `<name>-handler.desktop` in
/// the person's applications folder.
#[cfg(target_os = "linux")]
fn handler_file(app: &AppHandle) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    let folder = app.path().data_dir().ok()?;
    Some(
        folder
            .join("applications")
            .join(format!("{name}-handler.desktop")),
    )
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
    let Some(file) = handler_file(app) else {
        return;
    };
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

    #[test]
    fn the_handlers_of_a_scheme_are_read_from_their_section_only() {
        let cache = "[MIME Cache]\ntext/plain=editor.desktop;\nx-scheme-handler/io.switchboard.desktop=Switchboard.desktop;other.desktop;\n";
        let wanted = "x-scheme-handler/io.switchboard.desktop";
        assert_eq!(
            entries(cache, "MIME Cache", wanted).collect::<Vec<_>>(),
            ["Switchboard.desktop", "other.desktop"]
        );
        assert_eq!(
            entries(cache, "MIME Cache", "x-scheme-handler/io.switchboard").count(),
            0
        );
        let list = "[Added Associations]\nx-scheme-handler/io.switchboard.desktop=evil.desktop;\n\n[Default Applications]\nx-scheme-handler/io.switchboard.desktop=switchboard-handler.desktop\n";
        assert_eq!(
            entries(list, "Default Applications", wanted).next(),
            Some("switchboard-handler.desktop")
        );
        assert_eq!(
            entries(list, "Added Associations", wanted).next(),
            Some("evil.desktop")
        );
        // No section, no line, a name that is a path: nothing.
        assert_eq!(
            entries(
                &list.replace("[Default Applications]", ""),
                "Default Applications",
                wanted
            )
            .count(),
            0
        );
        assert_eq!(entries("", "MIME Cache", wanted).count(), 0);
        assert_eq!(
            entries(
                "[MIME Cache]\nx-scheme-handler/io.switchboard.desktop=../x.desktop;",
                "MIME Cache",
                wanted
            )
            .count(),
            0
        );
    }
}
