//! Start-up marks for the benchmark's breakdown (`cargo xtask bench` reads them with
//! `performance.getEntriesByName`): when the window's code started, when its first view was
//! built and laid out, when the first list of connectors arrived, and the frame that showed
//! it.

use leptos::prelude::request_animation_frame;

pub const STARTED: &str = "sb-wasm-started";
pub const MOUNTED: &str = "sb-mounted";
pub const FIRST_LAYOUT: &str = "sb-first-layout";
pub const FIRST_DATA: &str = "sb-first-data";
pub const FIRST_FRAME: &str = "sb-first-frame";

pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

/// Marks `name` at the start of the next frame: the one that paints what just changed.
pub fn mark_next_frame(name: &'static str) {
    request_animation_frame(move || mark(name));
}

/// Lays the first view out now (style and layout, which the first frame would do anyway)
/// and marks when that is done: the step that font lookups once made slow.
pub fn first_layout() {
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.offset_height();
    }
    mark(FIRST_LAYOUT);
}
