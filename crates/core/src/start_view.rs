//! The window's start view, kept for the next start.
//!
//! The window's code (wasm) takes a few hundred milliseconds to compile and run before it
//! can show anything, while the page around it is ready much sooner. So the first view it
//! builds at a start is kept: the page sends its markup, and at the next start, when the
//! connector list handed to the page is the same one that view was built from (so it would
//! build the same view again) and the window's code is the same build, the page shows the
//! kept markup as soon as it is parsed. The window's code replaces it with the live view it
//! builds from the same data. The kept view is a picture: it cannot be used (`inert`), it
//! carries no test ids, and it never shows anything the live view would not.
//!
//! Any change to the connectors makes the kept view stale: that start shows no kept view
//! and keeps the new one.

use std::path::Path;

use serde::{Deserialize, Serialize};

use switchboard_ipc::ConnectorSummary;
use switchboard_ipc::start_view::{BUILD_LINK, ELEMENT_ID, LAID_OUT_MARK, SHOWN_MARK};

use crate::error::{Error, ErrorCode, Result};
use crate::settings::write_bytes_atomically;

/// The kept view's file, in the app's data folder.
pub const FILE_NAME: &str = "start-view.json";

/// The largest markup kept (far above a first view with hundreds of connectors).
pub const MAX_MARKUP: usize = 1 << 20;

/// Elements and words a view of ours never holds: markup with them was not made by the
/// window, and is not shown.
const REFUSED: [&str; 8] = [
    "<script",
    "<iframe",
    "<object",
    "<embed",
    "<link",
    "<meta",
    "<base",
    "javascript:",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartView {
    /// The connector list handed to the page at the start that built the view ([`handed`]).
    pub handed: String,
    /// The build of the window's code that built it: the integrity hash of its wasm.
    pub build: String,
    /// The body's markup, without test ids.
    pub markup: String,
}

impl StartView {
    /// Checks what the page sent: a build named, markup of a sane size and none of the
    /// elements a view of ours never holds.
    pub fn new(handed: &str, build: &str, markup: &str) -> Result<Self> {
        let refused = |why: &str| {
            Error::new(ErrorCode::Internal, "The window's start view was not kept.")
                .with_detail(why.to_owned())
        };
        if build.is_empty() || build.len() > 200 {
            return Err(refused("the build is not named"));
        }
        if markup.len() > MAX_MARKUP {
            return Err(refused("the markup is too long"));
        }
        let lower = markup.to_ascii_lowercase();
        if let Some(word) = REFUSED.iter().find(|word| lower.contains(*word)) {
            return Err(refused(&format!("the markup holds {word}")));
        }
        Ok(Self {
            handed: handed.to_owned(),
            build: build.to_owned(),
            markup: markup.to_owned(),
        })
    }

    /// Keeps the view in `path`, replacing the one kept before.
    pub fn keep(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(self)
            .map_err(|err| Error::internal(format!("serializing the start view: {err}")))?;
        write_bytes_atomically(path, &bytes)
    }

    /// The view kept in `path`, when it was built from `handed`; `None` when there is none,
    /// it cannot be read, or it was built from other data (then it would show connectors
    /// that are not there, or miss some).
    pub fn kept_for(path: &Path, handed: &str) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        let kept: Self = serde_json::from_slice(&bytes).ok()?;
        // Checked again: the file is outside the app.
        let kept = Self::new(&kept.handed, &kept.build, &kept.markup).ok()?;
        (kept.handed == handed).then_some(kept)
    }
}

/// The script the window runs before its page: the system it runs on (`data-os` on the
/// root element), the connector list handed to the page
/// ([`handed`], under [`switchboard_ipc::handed::CONNECTORS`]) and, when there is a
/// kept view, what shows it once the page is parsed, if the page is of the same build and
/// the window's code has not shown the live view yet.
pub fn page_script(handed: &str, kept: Option<&StartView>) -> String {
    // The system, for what the page's styles do per system (the fonts on Linux). The script
    // runs once the page's root element exists, before any style is read.
    let mut script = format!(
        "document.documentElement.dataset.os = \"{}\";{}",
        std::env::consts::OS,
        handed_script(handed)
    );
    if let Some(kept) = kept {
        // JSON strings are JavaScript strings: markup and build stay data.
        let build = serde_json::Value::from(kept.build.as_str());
        let markup = serde_json::Value::from(kept.markup.as_str());
        let build_link = serde_json::Value::from(BUILD_LINK);
        let handed_name = switchboard_ipc::handed::CONNECTORS;
        // Shown only for the list handed with it: a list handed again after it (a page
        // loaded again, `handed_script`) is another list.
        script.push_str(&format!(
            r#"
(() => {{
const handed = window.{handed_name};
document.addEventListener("DOMContentLoaded", () => {{
  if (window.{handed_name} !== handed) return;
  const wasm = document.querySelector({build_link});
  if (!wasm || wasm.getAttribute("integrity") !== {build} || document.body.firstElementChild) return;
  const view = document.createElement("div");
  view.id = "{ELEMENT_ID}";
  view.inert = true;
  view.setAttribute("aria-hidden", "true");
  view.innerHTML = {markup};
  document.body.prepend(view);
  performance.mark("{SHOWN_MARK}");
  void view.offsetHeight;
  performance.mark("{LAID_OUT_MARK}");
}}, {{ once: true }});
}})();"#
        ));
    }
    script
}

/// The connector list as it is handed to the page: its bytes on the wire to the window
/// (`switchboard_ipc::wire`) as a JavaScript array of numbers. Nothing a server sent can
/// be anything but a number in it.
pub fn handed(connectors: &[ConnectorSummary]) -> Result<String> {
    let bytes = switchboard_ipc::wire::encode(connectors).map_err(Error::internal)?;
    serde_json::to_string(&bytes).map_err(|err| Error::internal(err.to_string()))
}

/// The script that hands the page the connector list `handed` ([`handed`], under
/// [`switchboard_ipc::handed::CONNECTORS`]). Run after [`page_script`] when the page is
/// loaded again, it replaces the list handed at the start, and the view kept for that list
/// is not shown.
pub fn handed_script(handed: &str) -> String {
    format!("window.{} = {handed};", switchboard_ipc::handed::CONNECTORS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDED: &str = r#"[{"id":"a","name":"Docs"}]"#;
    const MARKUP: &str = r#"<div class="shell"><li class="connector-row">Docs</li></div>"#;

    #[test]
    fn a_kept_view_is_shown_only_for_the_list_it_was_built_from() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(FILE_NAME);
        assert_eq!(StartView::kept_for(&path, HANDED), None, "nothing kept yet");
        let view = StartView::new(HANDED, "sha384-abc", MARKUP).expect("a view of ours");
        view.keep(&path).expect("kept");
        assert_eq!(StartView::kept_for(&path, HANDED), Some(view));
        let other = r#"[{"id":"a","name":"Docs"},{"id":"b","name":"Mail"}]"#;
        assert_eq!(StartView::kept_for(&path, other), None, "stale");
        std::fs::write(&path, b"{not json").expect("write");
        assert_eq!(StartView::kept_for(&path, HANDED), None, "unreadable");
    }

    #[test]
    fn markup_a_view_of_ours_never_holds_is_refused_when_sent_and_when_read() {
        for bad in [
            "<div><SCRIPT>alert(1)</SCRIPT></div>",
            "<iframe src=x></iframe>",
            r#"<a href="JavaScript:alert(1)">x</a>"#,
            "<meta http-equiv=refresh content=0>",
        ] {
            let err = StartView::new(HANDED, "sha384-abc", bad).expect_err(bad);
            assert_eq!(err.code, ErrorCode::Internal);
        }
        assert!(StartView::new(HANDED, "", MARKUP).is_err(), "no build");
        assert!(StartView::new(HANDED, "b", &"x".repeat(MAX_MARKUP + 1)).is_err());

        // A file changed outside the app is checked as what the page sends.
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(FILE_NAME);
        let forged = StartView {
            handed: HANDED.into(),
            build: "sha384-abc".into(),
            markup: "<script>alert(1)</script>".into(),
        };
        std::fs::write(&path, serde_json::to_vec(&forged).expect("json")).expect("write");
        assert_eq!(StartView::kept_for(&path, HANDED), None);
    }

    #[test]
    fn the_page_script_hands_the_list_and_shows_a_kept_view_as_data() {
        let plain = page_script(HANDED, None);
        assert_eq!(
            plain,
            format!(
                "document.documentElement.dataset.os = \"{}\";window.__SWITCHBOARD_CONNECTORS__ = {HANDED};",
                std::env::consts::OS
            )
        );

        let markup = r#"<p>"quoted" </script> \ back</p>"#;
        let view = StartView::new(HANDED, "sha384-\"x\"", markup).expect("view");
        let script = page_script(HANDED, Some(&view));
        assert!(script.starts_with(&plain));
        // The markup and the build are string literals, escaped as JSON.
        assert!(script.contains(r#"view.innerHTML = "<p>\"quoted\" </script> \\ back</p>";"#));
        assert!(script.contains(r#"!== "sha384-\"x\"""#));
        assert!(script.contains(&format!(r#"view.id = "{ELEMENT_ID}""#)));
        assert!(script.contains(SHOWN_MARK) && script.contains(LAID_OUT_MARK));
        // Only for the list it was handed with.
        assert!(script.contains("if (window.__SWITCHBOARD_CONNECTORS__ !== handed) return;"));
        assert_eq!(
            handed_script("[]"),
            "window.__SWITCHBOARD_CONNECTORS__ = [];"
        );
    }
}
