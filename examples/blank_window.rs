//! A blank Tauri 2 window with nothing of Switchboard in it: the baseline that
//! `cargo xtask bench` measures the app's start-up and memory against.

fn main() {
    if let Err(err) =
        tauri::Builder::default().run(tauri::generate_context!("benches/blank/tauri.conf.json"))
    {
        eprintln!("the blank window could not start: {err}");
        std::process::exit(1);
    }
}
