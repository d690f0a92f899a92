//! Saves settings over and over, for the test that kills a writer mid-write
//! (`tests/settings_crash.rs`): `settings-writer <file> <padding bytes>`.
//!
//! It alternates two settings files, serialized once up front so that its time goes to
//! writing: an even one (`"parity": 0`, a padding of `<padding>` bytes) and an odd one
//! (`"parity": 1`, a third of that), so each file says what it must contain. After each
//! save it prints the save's number on a line of its own. It stops only when killed.

use std::io::Write;

use serde_json::json;
use switchboard_core::settings::write_bytes_atomically;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(padding)) = (args.next(), args.next()) else {
        eprintln!("usage: settings-writer <file> <padding bytes>");
        std::process::exit(2);
    };
    let padding: usize = padding.parse().expect("a number of bytes");
    let files: Vec<Vec<u8>> = [padding, padding / 3]
        .iter()
        .enumerate()
        .map(|(parity, size)| {
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "connectors": [],
                "parity": parity,
                "padding": "x".repeat(*size),
            }))
            .expect("JSON")
        })
        .collect();
    let mut stdout = std::io::stdout();
    for save in 0usize.. {
        write_bytes_atomically(std::path::Path::new(&path), &files[save % 2]).expect("saved");
        writeln!(stdout, "{save}").expect("stdout");
        stdout.flush().expect("stdout");
    }
}
