//! The start view (`switchboard_core::start_view`): the first view built at a start, kept so
//! the next start shows it while this code loads. Here it is taken down before the live view
//! is shown, and the live view is sent to be kept when no kept view was shown.

use leptos::task::spawn_local;
use switchboard_ipc::KeepStartViewRequest;
use switchboard_ipc::start_view::{BUILD_LINK, ELEMENT_ID};
use wasm_bindgen::JsCast;

use crate::tauri;

/// Takes the kept view down (the live view is about to be shown); whether there was one.
pub fn take_down() -> bool {
    let kept = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(ELEMENT_ID));
    kept.map(|view| view.remove()).is_some()
}

/// Sends the page as it is now (the first view, just built) to be kept, without its test ids:
/// the kept view is a picture, which nothing should find as the live one.
pub fn keep_this_view() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    // The build of this code: its wasm's integrity hash, which the kept view must match.
    let build = document
        .query_selector(BUILD_LINK)
        .ok()
        .flatten()
        .and_then(|link| link.get_attribute("integrity"));
    let (Some(build), Some(body)) = (build, document.body()) else {
        return;
    };
    // Copied now, before anything that arrives later changes the page; the rest waits until
    // after the first frame.
    let Ok(copy) = body.clone_node_with_deep(true) else {
        return;
    };
    let Ok(copy) = copy.dyn_into::<web_sys::Element>() else {
        return;
    };
    spawn_local(async move {
        if let Ok(marked) = copy.query_selector_all("[data-testid]") {
            for i in 0..marked.length() {
                if let Some(element) = marked
                    .item(i)
                    .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
                {
                    let _ = element.remove_attribute("data-testid");
                }
            }
        }
        let request = KeepStartViewRequest {
            build,
            markup: copy.inner_html(),
        };
        if let Err(err) = tauri::keep_start_view(request).await {
            tauri::warn("the start view was not kept", &err);
        }
    });
}
