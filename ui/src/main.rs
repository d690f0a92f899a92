//! Switchboard's window. It shows what the Rust core reports and sends what the person
//! chooses; every rule (address checks, connection state, permissions) lives in the core.

mod activity;
mod add_dialog;
mod app;
mod attach_menu;
mod chat;
mod chats_nav;
mod components;
mod connectors;
mod detail;
mod fuzzy;
mod letters;
mod markdown;
mod models;
mod problem;
mod question;
mod sign_in;
mod sort;
mod start_view;
mod state;
mod tauri;
mod timing;

fn main() {
    timing::mark(timing::STARTED);
    console_error_panic_hook::set_once();
    let kept_view_shown = start_view::take_down();
    leptos::mount::mount_to_body(app::App);
    timing::mark(timing::MOUNTED);
    timing::first_layout();
    if !kept_view_shown {
        start_view::keep_this_view();
    }
}
