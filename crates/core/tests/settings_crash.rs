//! A writer killed at any moment leaves a settings file that is whole: the one before the
//! interrupted save, or the one after it — never a truncated mix. A real process
//! (`settings-writer`, saving through `write_bytes_atomically` in a loop) is killed with
//! SIGKILL at points spread over the whole of a save, a different one each round.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

/// Big enough that a save takes a while, so kills land inside writes.
const PADDING: usize = 4 * 1024 * 1024;
const ROUNDS: u32 = 40;

#[test]
fn a_writer_killed_mid_write_leaves_the_old_or_the_new_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let mut sizes_seen = std::collections::BTreeSet::new();
    for round in 0..ROUNDS {
        let mut writer = Command::new(env!("CARGO_BIN_EXE_settings-writer"))
            .arg(&path)
            .arg(PADDING.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the writer starts");
        let mut lines = BufReader::new(writer.stdout.take().expect("stdout")).lines();
        let mut saved = || {
            lines.next().expect("a line per save").expect("readable");
            Instant::now()
        };
        // How long one save takes here, from two saves in a row; then the kill lands
        // `round / ROUNDS` of a save after the next one finished.
        let first = saved();
        let second = saved();
        let save_time = second - first;
        saved();
        std::thread::sleep(save_time.mul_f64(f64::from(round) / f64::from(ROUNDS)));
        writer.kill().expect("killed");
        writer.wait().expect("reaped");

        let bytes = std::fs::read(&path).expect("the file is there");
        let file: Value = serde_json::from_slice(&bytes).unwrap_or_else(|err| {
            panic!(
                "round {round}: the file is not whole JSON ({err}), {} bytes",
                bytes.len()
            )
        });
        let expected = match file["parity"].as_u64() {
            Some(0) => PADDING,
            Some(1) => PADDING / 3,
            other => panic!("round {round}: parity {other:?}"),
        };
        assert_eq!(
            file["padding"].as_str().map(str::len),
            Some(expected),
            "round {round}: the save is complete"
        );
        sizes_seen.insert(expected);
    }
    println!("kills left both kinds of file: {}", sizes_seen.len() == 2);
}
