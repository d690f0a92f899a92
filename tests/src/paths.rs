//! Where the fixtures' scripts and the project's installed tools are.

use std::path::{Path, PathBuf};

/// The repository root (the parent of this crate's `tests/` folder).
///
/// Taken from this crate's `CARGO_MANIFEST_DIR` at compile time, so it is the
/// same whichever crate's tests use the kit and whatever the current directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is a folder inside the repository")
        .to_path_buf()
}

/// `tests/fixtures`: the scripts the process fixtures run.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The folder the project installs its test tools into (gitignored).
///
/// `$SWITCHBOARD_TOOLS` if set and not empty (a relative value is taken from
/// the repository root, not from the current directory, which `cargo test`
/// sets to the package being tested), else `<repo>/.tools`. It holds
/// `node/` (npm packages, `npm install --prefix <tools>/node ...`) and `venv/`
/// (a Python virtual environment).
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("SWITCHBOARD_TOOLS") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        }
        _ => repo_root().join(".tools"),
    }
}
