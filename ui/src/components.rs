//! Small pieces shared by several pages: the state pill, the spinner, the problem box with
//! Retry and Details, and the modal frame with its focus handling.

use std::future::Future;

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local_scoped_with_cancellation;
use switchboard_ipc::{ConnectorState, Counts, ErrorInfo};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

/// Runs an action a button started: `busy` holds `running` meanwhile (buttons disable and
/// spin on it) and `idle` after, and what went wrong shows in `error`. Cancelled with the
/// current reactive owner, so nothing writes to a view that is gone.
pub fn run_action<B: Clone + Send + Sync + 'static>(
    busy: RwSignal<B>,
    running: B,
    idle: B,
    error: RwSignal<Option<ErrorInfo>>,
    action: impl Future<Output = Result<(), ErrorInfo>> + 'static,
) {
    busy.set(running);
    error.set(None);
    spawn_local_scoped_with_cancellation(async move {
        let result = action.await;
        busy.set(idle);
        error.set(result.err());
    });
}

#[component]
pub fn Spinner() -> impl IntoView {
    view! { <span class="spinner" aria-hidden="true"></span> }
}

fn state_class(state: ConnectorState) -> &'static str {
    match state {
        ConnectorState::Connecting => "pill pill-connecting",
        ConnectorState::Connected => "pill pill-connected",
        ConnectorState::NeedsSignIn | ConnectorState::SigningIn => "pill pill-sign-in",
        ConnectorState::CantReach => "pill pill-unreachable",
        ConnectorState::Off => "pill pill-off",
    }
}

/// The state as a coloured label. Its text is exactly the state's label: the spinner is an
/// empty, hidden element, so tests and screen readers read "Connecting", nothing more.
#[component]
pub fn StatePill(
    #[prop(into)] state: Signal<ConnectorState>,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <span class=move || state_class(state.get()) data-testid=testid>
            {move || {
                matches!(state.get(), ConnectorState::Connecting | ConnectorState::SigningIn)
                    .then(|| view! { <Spinner /> })
            }}
            {move || state.get().label()}
        </span>
    }
}

fn count(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "13 tools · 107 resources · 4 prompts". Templates count as resources: to the person
/// both are things to attach.
pub fn counts_label(counts: &Counts) -> String {
    let resources = counts.resources.saturating_add(counts.resource_templates);
    format!(
        "{} · {} · {}",
        count(counts.tools, "tool", "tools"),
        count(resources, "resource", "resources"),
        count(counts.prompts, "prompt", "prompts"),
    )
}

/// Why something is not working, the way to try again, and the technical detail folded away
/// for whoever the person asks for help.
#[component]
pub fn ProblemView(
    problem: ErrorInfo,
    /// Shown as a "Retry" button when given.
    #[prop(optional, into)]
    on_retry: Option<Callback<()>>,
    #[prop(optional, into)] retrying: Signal<bool>,
    /// Buttons that come first (say, "Sign in").
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let ErrorInfo {
        message, detail, ..
    } = problem;
    // Rows show the message on up to three lines; the tooltip holds anything longer.
    let full_message = message.clone();
    view! {
        <div class="problem">
            <p class="problem-message" data-testid="problem-message" title=full_message>
                {message}
            </p>
            // Clicks here must not reach an enclosing clickable row.
            <div class="problem-actions" on:click=|ev| ev.stop_propagation()>
                {children.map(|children| children())}
                {on_retry
                    .map(|retry| {
                        view! {
                            <button
                                type="button"
                                class="button button-small"
                                data-testid="retry-button"
                                disabled=move || retrying.get()
                                on:click=move |_| retry.run(())
                            >
                                {move || retrying.get().then(|| view! { <Spinner /> })}
                                "Retry"
                            </button>
                        }
                    })}
                {detail.map(|detail| view! { <Details detail /> })}
            </div>
        </div>
    }
}

/// A "Details" disclosure around technical text. The default test ids belong to a
/// connector's problem; other uses name their own so tests can tell them apart.
#[component]
pub fn Details(
    detail: String,
    #[prop(default = "details-toggle")] toggle_testid: &'static str,
    #[prop(default = "problem-detail")] text_testid: &'static str,
) -> impl IntoView {
    view! {
        <details class="details">
            <summary data-testid=toggle_testid>"Details"</summary>
            <pre class="details-text" data-testid=text_testid>
                {detail}
            </pre>
        </details>
    }
}

/// An error from an action the person just took (not the connector's standing problem).
#[component]
pub fn ActionError(#[prop(into)] error: Signal<Option<ErrorInfo>>) -> impl IntoView {
    move || {
        error.get().map(
            |ErrorInfo {
                 message, detail, ..
             }| {
                view! {
                    <div class="action-error" role="alert" data-testid="action-error">
                        <p>{message}</p>
                        {detail
                            .map(|detail| {
                                view! {
                                    <Details
                                        detail
                                        toggle_testid="error-details-toggle"
                                        text_testid="error-detail"
                                    />
                                }
                            })}
                    </div>
                }
            },
        )
    }
}

const FOCUSABLE: &str = "a[href], button:not([disabled]), input:not([disabled]), \
    select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])";

/// Keeps Tab and Shift+Tab cycling inside `dialog`, so keyboard users cannot wander into the
/// page hidden behind the backdrop.
fn keep_tab_inside(dialog: &Element, ev: &KeyboardEvent) {
    let Ok(nodes) = dialog.query_selector_all(FOCUSABLE) else {
        return;
    };
    let items: Vec<HtmlElement> = (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|node| node.dyn_into::<HtmlElement>().ok())
        .collect();
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        ev.prevent_default();
        return;
    };
    let active = document().active_element();
    let is_active = |el: &HtmlElement| active.as_ref() == Some(el.as_ref());
    let inside = active.as_ref().is_some_and(|a| dialog.contains(Some(a)));
    let target = if ev.shift_key() {
        (!inside || is_active(first)).then_some(last)
    } else {
        (!inside || is_active(last)).then_some(first)
    };
    if let Some(target) = target {
        ev.prevent_default();
        // Focusing can only fail for detached elements; Tab then simply does nothing.
        let _ = target.focus();
    }
}

/// A modal dialog: dims the page, traps focus, and calls `on_escape` for Esc. Where focus
/// starts and where it returns belong to the caller, who knows the right places.
#[component]
pub fn Modal(
    testid: &'static str,
    labelled_by: &'static str,
    #[prop(into)] on_escape: Callback<()>,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Div>::new();
    let on_keydown = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            ev.stop_propagation();
            on_escape.run(());
        }
        "Tab" => {
            if let Some(dialog) = dialog.get() {
                keep_tab_inside(&dialog, &ev);
            }
        }
        _ => {}
    };
    view! {
        <div
            class="modal-backdrop"
            // A click on the backdrop would otherwise move focus to the page behind it.
            on:mousedown=|ev| {
                if ev.target() == ev.current_target() {
                    ev.prevent_default();
                }
            }
        >
            <div
                class="modal"
                role="dialog"
                aria-modal="true"
                aria-labelledby=labelled_by
                data-testid=testid
                node_ref=dialog
                on:keydown=on_keydown
            >
                {children()}
            </div>
        </div>
    }
}

/// Focuses the element as soon as it is in the page.
pub fn focus_when_mounted<E>(node: NodeRef<E>)
where
    E: leptos::html::ElementType,
    E::Output: JsCast + Clone + 'static,
{
    Effect::new(move |_| {
        if let Some(el) = node.get()
            && let Some(el) = el.dyn_ref::<HtmlElement>()
        {
            let _ = el.focus();
        }
    });
}

/// "Remove <name>?" and the like: one destructive choice, with Cancel focused first so a
/// stray Enter does not destroy anything.
#[component]
pub fn ConfirmDialog(
    #[prop(into)] title: String,
    #[prop(into)] body: String,
    #[prop(into)] confirm_label: String,
    #[prop(into)] busy: Signal<bool>,
    #[prop(into)] error: Signal<Option<ErrorInfo>>,
    #[prop(into)] on_confirm: Callback<()>,
    #[prop(into)] on_cancel: Callback<()>,
) -> impl IntoView {
    let cancel = NodeRef::<leptos::html::Button>::new();
    focus_when_mounted(cancel);
    view! {
        <Modal testid="confirm-dialog" labelled_by="confirm-title" on_escape=on_cancel>
            <h2 class="modal-title" id="confirm-title">
                {title}
            </h2>
            <p class="modal-text">{body}</p>
            <ActionError error />
            <div class="modal-actions">
                <button
                    type="button"
                    class="button"
                    data-testid="confirm-cancel-button"
                    node_ref=cancel
                    on:click=move |_| on_cancel.run(())
                >
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="button button-danger"
                    data-testid="confirm-remove-button"
                    disabled=move || busy.get()
                    on:click=move |_| on_confirm.run(())
                >
                    {move || busy.get().then(|| view! { <Spinner /> })}
                    {confirm_label}
                </button>
            </div>
        </Modal>
    }
}

/// A size as a file manager shows it: "512 bytes", "1.5 KB", "12 KB", "3.2 MB". Used for
/// resources in a connector's catalog and for attachments.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    // Precision does not matter for a size shown to a person.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(format_size(512), "512 bytes");
        assert_eq!(format_size(1536), "1.5 KB");
        assert_eq!(format_size(12 * 1024), "12 KB");
        assert_eq!(format_size(3 * 1024 * 1024 + 300_000), "3.3 MB");
        assert_eq!(format_size(20 * 1024 * 1024), "20 MB");
    }

    #[test]
    fn counts_read_as_plain_words_and_templates_count_as_resources() {
        let counts = Counts {
            tools: 13,
            resources: 100,
            resource_templates: 7,
            prompts: 1,
        };
        assert_eq!(counts_label(&counts), "13 tools · 107 resources · 1 prompt");
    }
}
