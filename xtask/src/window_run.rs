//! The window tests' run, and its one kind of second chance.
//!
//! WebKitGTK runs the window's page in a process of its own, and that process can die under
//! a test for reasons outside the app: on this machine, GLib 2.74 aborts it now and then
//! with `getauxval () failed: Interrupted system call` (a signal that WebKit's garbage
//! collector sends lands between GLib's two reads of `errno`). The app loads its page again
//! (`reload_when_the_page_stops` in `src-tauri/lib.rs`, tested by
//! `the_window_comes_back_by_itself_when_its_page_crashes`), but WebKitWebDriver ends its
//! session with the process it drove, so the test cannot go on. Such a test prints
//! [`PAGE_STOPPED_MARK`] with its failure, and when every failed test did, they are run once
//! more. Any other failure fails the run as it is.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::{CommandExt, Result, echo, root};

/// What `switchboard_testkit::desktop::PAGE_STOPPED_MARK` prints.
const PAGE_STOPPED_MARK: &str =
    "xtask: WebKit's process for the window's page died during this test";

/// Runs `command` (the window tests, `--test-threads=1`), and once more the tests that
/// failed only because the page's process died under them.
pub fn run(mut command: Command) -> Result {
    let (ok, output) = tee(&mut command)?;
    if ok {
        return Ok(());
    }
    let failed = failed_tests(&output);
    let died = died_under(&output);
    if failed.is_empty() || failed.iter().any(|name| !died.contains(name)) {
        return Err("the window tests failed".to_owned());
    }
    println!(
        "\nxtask: WebKit's process for the page died under {} (not a fault of the test or the \
         app, which reloads the page): running {} once more",
        failed.join(", "),
        if failed.len() == 1 { "it" } else { "them" }
    );
    command.arg("--exact").args(&failed);
    let (ok, _) = tee(&mut command)?;
    if ok {
        Ok(())
    } else {
        Err("the window tests failed again".to_owned())
    }
}

/// Runs `command`, showing its standard output as it comes and keeping it.
fn tee(command: &mut Command) -> Result<(bool, String)> {
    let shown = echo(command);
    let mut child = command
        .current_dir_if_unset(&root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| format!("could not start `{shown}`: {err}"))?;
    let mut kept = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|err| format!("reading `{shown}`: {err}"))?;
            println!("{line}");
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    let status = child
        .wait()
        .map_err(|err| format!("waiting for `{shown}`: {err}"))?;
    Ok((status.success(), kept))
}

/// The failed tests' names, from the list libtest prints last (`failures:` then one
/// indented name a line).
fn failed_tests(output: &str) -> Vec<String> {
    let Some((_, list)) = output.rsplit_once("\nfailures:\n") else {
        return Vec::new();
    };
    list.lines()
        .skip_while(|line| line.trim().is_empty())
        .take_while(|line| line.starts_with("    "))
        .map(|line| line.trim().to_owned())
        .collect()
}

/// The tests whose own output (libtest's `---- <name> stdout ----` section) has the mark.
fn died_under(output: &str) -> Vec<String> {
    let mut died = Vec::new();
    let mut current: Option<&str> = None;
    for line in output.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            current = Some(name);
        } else if line == "failures:" {
            current = None;
        } else if line.trim() == PAGE_STOPPED_MARK
            && let Some(name) = current
            && !died.iter().any(|d| d == name)
        {
            died.push(name.to_owned());
        }
    }
    died
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_output(sections: &[(&str, bool)]) -> String {
        let mut out = String::from("running 3 tests\ntest a ... ok\n\nfailures:\n\n");
        for (name, died) in sections {
            out.push_str(&format!(
                "---- {name} stdout ----\n\nthread '{name}' panicked\n"
            ));
            if *died {
                out.push_str(&format!("{PAGE_STOPPED_MARK}\n"));
            }
            out.push('\n');
        }
        out.push_str("\nfailures:\n");
        for (name, _) in sections {
            out.push_str(&format!("    {name}\n"));
        }
        out.push_str("\ntest result: FAILED. 1 passed; 2 failed\n");
        out
    }

    #[test]
    fn the_failed_tests_and_those_the_page_died_under_are_read_from_libtest_s_output() {
        let out = run_output(&[("chat::one", true), ("tools::two", false)]);
        assert_eq!(failed_tests(&out), ["chat::one", "tools::two"]);
        assert_eq!(died_under(&out), ["chat::one"]);

        let out = run_output(&[("chat::one", true), ("tools::two", true)]);
        assert_eq!(died_under(&out), ["chat::one", "tools::two"]);

        // A run that failed before any test did (it did not build) names none.
        assert!(failed_tests("error[E0425]: cannot find value\n").is_empty());
        // The mark counts only inside a failed test's own output.
        assert!(died_under(&format!("{PAGE_STOPPED_MARK}\n")).is_empty());
    }
}
