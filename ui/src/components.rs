//! Small pieces shared by several pages: the state pill, the spinner, the problem box with
//! Try again and Details, and the modal frame with its focus handling.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local_scoped_with_cancellation;
use switchboard_ipc::{Counts, ErrorInfo, Standing, Tone};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
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
    run_boxed_action(busy, running, idle, error, Box::pin(action));
}

/// [`run_action`] for one kind of future: the task that waits on an action is compiled once
/// for each kind of `busy` value, not once for each of the 28 actions (16 KB of the
/// shipped wasm).
fn run_boxed_action<B: Clone + Send + Sync + 'static>(
    busy: RwSignal<B>,
    running: B,
    idle: B,
    error: RwSignal<Option<ErrorInfo>>,
    action: Pin<Box<dyn Future<Output = Result<(), ErrorInfo>>>>,
) {
    busy.set(running);
    error.set(None);
    spawn_scoped(async move {
        let result = action.await;
        busy.set(idle);
        error.set(result.err());
    });
}

/// Runs `task` in the page until it ends or the current reactive owner goes, so nothing it
/// does later writes to a view that is gone. Compiled once for every task that uses it,
/// where Leptos' `spawn_local_scoped_with_cancellation` is compiled once per future.
pub fn spawn_scoped(task: impl Future<Output = ()> + 'static) {
    spawn_scoped_boxed(Box::pin(task));
}

fn spawn_scoped_boxed(task: Pin<Box<dyn Future<Output = ()>>>) {
    spawn_local_scoped_with_cancellation(task);
}

/// `view` while `when` holds and `fallback` otherwise, each built again only when `when`
/// changes, as Leptos' `<Show>` does; compiled once for every use, where `<Show>` is
/// compiled once for each.
pub fn shown(
    when: impl Fn() -> bool + Send + Sync + 'static,
    view: impl Fn() -> AnyView + Send + Sync + 'static,
    fallback: impl Fn() -> AnyView + Send + Sync + 'static,
) -> AnyView {
    shown_boxed(Box::new(when), Box::new(view), Box::new(fallback))
}

type MakeView = Box<dyn Fn() -> AnyView + Send + Sync>;

fn shown_boxed(
    when: Box<dyn Fn() -> bool + Send + Sync>,
    view: MakeView,
    fallback: MakeView,
) -> AnyView {
    let on = Memo::new(move |_| when());
    (move || if on.get() { view() } else { fallback() }).into_any()
}

/// Collects views into a `Vec<AnyView>`, one type in the wasm whatever the views are. A list
/// of each element's own type (what Leptos' `collect_view` makes) compiles its own renderer,
/// about 1 KB for each kind of list.
pub trait CollectAny {
    fn collect_any(self) -> Vec<AnyView>;
}

impl<I: Iterator<Item: IntoAny>> CollectAny for I {
    fn collect_any(self) -> Vec<AnyView> {
        self.map(IntoAny::into_any).collect()
    }
}

/// Runs `f` now and again whenever a signal it read changes, as `Effect::new` does for an
/// effect that keeps no value. Leptos' effect task is compiled once for all of them here,
/// not once for each closure.
pub fn effect(f: impl FnMut() + 'static) {
    effect_boxed(Box::new(f));
}

fn effect_boxed(mut f: Box<dyn FnMut()>) {
    Effect::new(move |_| f());
}

/// A command's answer that follows what its request reads, as Leptos' `LocalResource` does:
/// `None` until the first answer, the last answer kept while a newer request is on its way,
/// and an answer to an older request dropped. `LocalResource` compiled about 7 KB of Leptos'
/// async machinery into the wasm for each kind of answer; this is a signal and one task.
pub struct Fetched<T: Send + Sync + 'static> {
    answer: RwSignal<Option<T>>,
    again: Trigger,
}

impl<T: Send + Sync + 'static> Clone for Fetched<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Fetched<T> {}

impl<T: Send + Sync + 'static> Fetched<T> {
    /// Asks at once, and again whenever a signal `request` reads changes (not those its
    /// future reads after it starts).
    pub fn new<F>(request: impl Fn() -> F + 'static) -> Self
    where
        F: Future<Output = T> + 'static,
    {
        Self::boxed(Box::new(move || Box::pin(request())))
    }

    /// [`Fetched::new`] compiled once per kind of answer, not once per request.
    fn boxed(request: Box<dyn Fn() -> Pin<Box<dyn Future<Output = T>>>>) -> Self {
        let answer = RwSignal::new(None);
        let again = Trigger::new();
        let latest = StoredValue::new(0u64);
        effect(move || {
            again.track();
            let pending = request();
            latest.update_value(|n| *n += 1);
            let asked = latest.get_value();
            spawn_scoped(async move {
                let value = pending.await;
                if latest.get_value() == asked {
                    answer.set(Some(value));
                }
            });
        });
        Self { answer, again }
    }

    /// Asks again, keeping the last answer meanwhile.
    pub fn refetch(&self) {
        self.again.notify();
    }

    pub fn with<R>(&self, f: impl FnOnce(&Option<T>) -> R) -> R {
        self.answer.with(f)
    }

    pub fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        self.answer.get()
    }
}

/// A keyed list of views, like Leptos' `<For>`: a row keeps its DOM nodes while its key
/// stays in the list. Each `<For>` is a copy of Leptos' diffing for its own item, key and
/// view types; here the rows of every list are one type, so it is compiled once (13 lists:
/// 81 KB less of the shipped wasm). A row's key is a 64-bit hash of `key(item)`: two
/// different keys in one list share a hash with odds of about n²/2⁶⁵ (3·10⁻¹² for 10,000
/// rows).
pub fn keyed<T, K>(
    each: impl Fn() -> Vec<T> + Send + 'static,
    key: impl Fn(&T) -> K + Send + 'static,
    row: impl Fn(T) -> AnyView + Send + Sync + 'static,
) -> AnyView
where
    T: Send + 'static,
    K: Hash,
{
    let row = Arc::new(row);
    keyed_rows(Box::new(move || {
        each()
            .into_iter()
            .map(|item| {
                let mut hasher = std::hash::DefaultHasher::new();
                key(&item).hash(&mut hasher);
                let row = Arc::clone(&row);
                KeyedRow {
                    key: hasher.finish(),
                    view: Box::new(move || row(item)),
                }
            })
            .collect()
    }))
}

/// A row of a [`keyed`] list: its key, and what draws it the first time the key appears.
struct KeyedRow {
    key: u64,
    view: Box<dyn FnOnce() -> AnyView + Send>,
}

fn keyed_rows(each: Box<dyn Fn() -> Vec<KeyedRow> + Send>) -> AnyView {
    view! { <For each=each key=|row: &KeyedRow| row.key children=|row: KeyedRow| (row.view)() /> }
        .into_any()
}

#[component]
pub fn Spinner() -> impl IntoView {
    view! { <span class="spinner" aria-hidden="true"></span> }
}

/// The class of a tone, shared by the pill and the message box so their colours agree.
/// A line icon: one path stroked in the text's colour, hidden from screen readers. `d` is
/// drawn on a `grid`-unit square (16 unless said) shown `size` pixels wide.
#[component]
pub fn Icon(
    d: &'static str,
    size: u32,
    stroke_width: &'static str,
    #[prop(default = 16)] grid: u32,
    #[prop(optional)] class: Option<&'static str>,
) -> impl IntoView {
    view! {
        <svg class=class viewBox=format!("0 0 {grid} {grid}") width=size height=size aria-hidden="true">
            <path
                d=d
                stroke="currentColor"
                stroke-width=stroke_width
                fill="none"
                stroke-linecap="round"
                stroke-linejoin="round"
            />
        </svg>
    }
}

pub fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Busy => "tone-busy",
        Tone::Good => "tone-good",
        Tone::Attention => "tone-attention",
        Tone::Trouble => "tone-trouble",
        Tone::Quiet => "tone-quiet",
    }
}

/// The standing as a coloured label. Its text is exactly the standing's label: the spinner
/// is an empty, hidden element, so tests and screen readers read "Connecting", nothing more.
#[component]
pub fn StatePill(#[prop(into)] standing: Signal<Standing>, testid: &'static str) -> impl IntoView {
    let busy = move || standing.get().tone() == Tone::Busy;
    view! {
        // A spinner or a dot, not both.
        <span
            class=move || {
                format!(
                    "pill {}{}",
                    tone_class(standing.get().tone()),
                    if busy() { " pill-busy" } else { "" },
                )
            }
            data-testid=testid
        >
            {move || busy().then(|| view! { <Spinner /> }.into_any())}
            {move || standing.get().label()}
        </span>
    }
}

fn count(n: u32, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        grouped(n as usize),
        if n == 1 { one } else { many }
    )
}

/// A count with its thousands grouped, as people write it: "2,004".
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
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
    /// Shown as a "Try again" button when given.
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
                {on_retry.map(|retry| view! { <RetryButton on_retry=retry retrying /> }.into_any())}
                {detail.map(|detail| view! { <Details detail /> }.into_any())}
            </div>
        </div>
    }
}

/// "Try again", with a spinner while the new try runs; `primary` when it is the one fix.
#[component]
pub fn RetryButton(
    #[prop(into)] on_retry: Callback<()>,
    #[prop(into)] retrying: Signal<bool>,
    #[prop(optional)] primary: bool,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class=if primary { "button button-small button-primary" } else { "button button-small" }
            data-testid="retry-button"
            disabled=move || retrying.get()
            on:click=move |_| on_retry.run(())
        >
            {move || retrying.get().then(|| view! { <Spinner /> }.into_any())}
            "Try again"
        </button>
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
                                }.into_any()
                            })}
                    </div>
                }
            },
        )
    }
}

const FOCUSABLE: &str = "a[href], button:not([disabled]), input:not([disabled]), \
    select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])";

/// The elements under `root` that match `selector`, in document order.
fn elements(root: &Element, selector: &str) -> Vec<HtmlElement> {
    let Ok(nodes) = root.query_selector_all(selector) else {
        return Vec::new();
    };
    (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|node| node.dyn_into::<HtmlElement>().ok())
        .collect()
}

/// Keeps Tab and Shift+Tab cycling inside `dialog`, so keyboard users cannot wander into the
/// page hidden behind the backdrop.
fn keep_tab_inside(dialog: &Element, ev: &KeyboardEvent) {
    let items = elements(dialog, FOCUSABLE);
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

/// "More ▾": quieter actions (Reconnect, Remove…) folded into a menu. Arrow keys move
/// between its items, Escape closes it and gives the keyboard back to its button, and
/// leaving it (a click or Tab elsewhere) closes it. The items stay in the page while
/// hidden, so a caller can focus one of them later.
#[component]
pub fn MoreMenu(
    open: RwSignal<bool>,
    #[prop(into)] disabled: Signal<bool>,
    #[prop(optional)] trigger: NodeRef<leptos::html::Button>,
    children: Children,
) -> impl IntoView {
    let menu = NodeRef::<leptos::html::Div>::new();
    let items = move || -> Vec<HtmlElement> {
        menu.get_untracked()
            .map(|menu| elements(&menu, "[role=menuitem]:not([disabled])"))
            .unwrap_or_default()
    };
    let focus_item = move |step: i32| {
        let items = items();
        if items.is_empty() {
            return;
        }
        let active = document().active_element();
        let at = items
            .iter()
            .position(|item| active.as_ref() == Some(item.as_ref()));
        let next = match at {
            Some(at) => (at as i32 + step).rem_euclid(items.len() as i32) as usize,
            None if step < 0 => items.len() - 1,
            None => 0,
        };
        let _ = items[next].focus();
    };
    let close_to_button = move || {
        open.set(false);
        if let Some(button) = trigger.get_untracked() {
            let _ = button.focus();
        }
    };
    effect(move || {
        if open.get() {
            request_animation_frame(move || focus_item(0));
        }
    });
    view! {
        <div
            class="more"
            on:keydown=move |ev: KeyboardEvent| match ev.key().as_str() {
                "Escape" if open.get_untracked() => {
                    ev.prevent_default();
                    ev.stop_propagation();
                    close_to_button();
                }
                "ArrowDown" if open.get_untracked() => {
                    ev.prevent_default();
                    focus_item(1);
                }
                "ArrowUp" if open.get_untracked() => {
                    ev.prevent_default();
                    focus_item(-1);
                }
                _ => {}
            }
            on:focusout=move |ev: leptos::ev::FocusEvent| {
                let inside = ev
                    .related_target()
                    .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
                    .zip(ev.current_target().and_then(|t| t.dyn_into::<web_sys::Node>().ok()))
                    .is_some_and(|(to, more)| more.contains(Some(&to)));
                if !inside {
                    open.set(false);
                }
            }
        >
            <button
                type="button"
                class="button"
                data-testid="more-button"
                aria-haspopup="menu"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                disabled=move || disabled.get()
                node_ref=trigger
                on:click=move |_| open.update(|open| *open = !*open)
            >
                "More"
                <Icon d="M4 6l4 4 4-4" size=12 stroke_width="1.6" />
            </button>
            <div class="menu" role="menu" data-testid="more-menu" node_ref=menu hidden=move || !open.get()>
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
    effect(move || {
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
                    {move || busy.get().then(|| view! { <Spinner /> }.into_any())}
                    {confirm_label}
                </button>
            </div>
        </Modal>
    }
}

/// JSON as text to read: indented two spaces a level, as `JSON.stringify(value, null, 2)`
/// writes it. Written here rather than by serde_json, whose writer the window does not
/// otherwise need.
pub fn json_text(value: &serde_json::Value) -> String {
    fn quoted(out: &mut String, text: &str) {
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    fn write(out: &mut String, value: &serde_json::Value, depth: usize) {
        let indent = |out: &mut String, depth: usize| {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        };
        match value {
            serde_json::Value::Null => out.push_str("null"),
            serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            serde_json::Value::Number(n) => out.push_str(&n.to_string()),
            serde_json::Value::String(text) => quoted(out, text),
            serde_json::Value::Array(items) if items.is_empty() => out.push_str("[]"),
            serde_json::Value::Object(map) if map.is_empty() => out.push_str("{}"),
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    write(out, item, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            serde_json::Value::Object(map) => {
                out.push('{');
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    quoted(out, key);
                    out.push_str(": ");
                    write(out, item, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    write(&mut out, value, 0);
    out
}

/// A CSS length in pixels, the number written by the page (`Number.prototype.toString`):
/// Rust's float formatting would bring about 6 KB of code into the wasm for it.
pub fn px(pixels: f64) -> String {
    #[cfg(target_arch = "wasm32")]
    let number = String::from(
        js_sys::Number::from(pixels)
            .to_string_with_radix(10)
            .unwrap_or_default(),
    );
    #[cfg(not(target_arch = "wasm32"))]
    let number = pixels.to_string();
    number + "px"
}

/// A size as a file manager shows it: "512 bytes", "1.5 KB", "12 KB", "3.2 MB". Used for
/// resources in a connector's catalog and for attachments.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let bytes = u128::from(bytes);
    let mut per_unit: u128 = 1024;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if bytes / per_unit < 1024 {
            break;
        }
        per_unit *= 1024;
        unit = next;
    }
    // Rounded to the nearest tenth below 10, else to the nearest whole.
    // Both fit a u64 (at most `u64::MAX / 1024`), which is written with less code than a u128.
    let tenths = (bytes * 10 + per_unit / 2) / per_unit;
    match u64::try_from(tenths) {
        Ok(tenths) if tenths < 100 => format!("{} {unit}", one_decimal(tenths)),
        _ => {
            let whole = u64::try_from((bytes + per_unit / 2) / per_unit).unwrap_or(u64::MAX);
            format!("{whole} {unit}")
        }
    }
}

/// A count of tenths written with one decimal: 15 is "1.5".
pub fn one_decimal(tenths: impl Into<u64>) -> String {
    let tenths = tenths.into();
    format!("{}.{}", tenths / 10, tenths % 10)
}

// ----- Long lists ------------------------------------------------------------------------------

/// Lists shorter than this are drawn whole: every row in the page, for find-in-page and
/// screen readers. A light row (a resource: its head, address and description, ~9 nodes)
/// takes ~0.11 ms to build in the release window: the key that left 111 resources of 10,000
/// drew all 111 with the limit at 150 (966 elements) and took 12–29 ms. 50 rows is ~6 ms.
pub const DRAWN_WHOLE_BELOW: usize = 50;
/// Pixels drawn above and below the view, so a scroll meets rows already there (a row comes
/// in the frame after the scroll that reaches it; a wheel step is about 100 px). Every row
/// drawn is built again on each key of a filter that replaces them.
const OVERSCAN_PX: f64 = 400.0;

/// Which rows of a list of `heights` (in order) to draw for a view from `view_top` over
/// `view_height` pixels (in the list's coordinates): the range, and the space above and
/// below it that stands for the rows not drawn.
pub fn drawn_rows(heights: &[f64], view_top: f64, view_height: f64) -> (Range<usize>, f64, f64) {
    let (from, to) = (view_top - OVERSCAN_PX, view_top + view_height + OVERSCAN_PX);
    let mut top = 0.0;
    let mut start = heights.len();
    let mut end = heights.len();
    let mut above = 0.0;
    for (i, height) in heights.iter().enumerate() {
        if start == heights.len() && top + height > from {
            start = i;
            above = top;
        }
        if top >= to {
            end = i;
            break;
        }
        top += height;
    }
    let total: f64 = heights.iter().sum();
    if start == heights.len() {
        // The list is all above the view.
        above = total;
    }
    let below_start: f64 = above + heights[start.min(end)..end].iter().sum::<f64>();
    (start.min(end)..end, above, (total - below_start).max(0.0))
}

/// What draws a row of a [`LongList`]: one type for every list, so the list is compiled once
/// for each kind of item rather than once for each list.
pub type RowView<T> = Arc<dyn Fn(T) -> AnyView + Send + Sync>;

/// A long list drawn in part: only the rows near the view are in the page, the rest stand
/// as space (each row's height measured once drawn, `estimate` before). Short lists are
/// drawn whole: below `drawn_whole_below` rows, [`DRAWN_WHOLE_BELOW`] unless a list of heavy
/// rows says less. The page scrolls as if every row were there.
#[component]
pub fn LongList<T, K>(
    items: Signal<Vec<T>>,
    key: fn(&T) -> K,
    row: RowView<T>,
    estimate: f64,
    #[prop(default = DRAWN_WHOLE_BELOW)] drawn_whole_below: usize,
    #[prop(optional)] class: &'static str,
    #[prop(optional)] testid: &'static str,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    K: Eq + Hash + Clone + Send + Sync + 'static,
{
    let list = NodeRef::<leptos::html::Ul>::new();
    let view = RwSignal::new((0.0_f64, 1000.0_f64));
    let heights: StoredValue<std::collections::HashMap<K, f64>> =
        StoredValue::new(Default::default());
    let measured = RwSignal::new(0_u64);

    // Where the view is, in the list's coordinates: whatever scrolls (scroll events do not
    // bubble; a listener on the document that captures hears every one).
    let place = move || {
        let (Some(list), Some(window)) = (list.get_untracked(), web_sys::window()) else {
            return;
        };
        let rect = list.get_bounding_client_rect();
        let height = window
            .inner_height()
            .ok()
            .and_then(|h| h.as_f64())
            .unwrap_or(1000.0);
        // The part of the list inside the window: a list that starts low on the page
        // shows less of itself.
        let now = (
            (-rect.top()).max(0.0),
            (height - rect.top().max(0.0)).max(0.0),
        );
        if (now.0 - view.get_untracked().0).abs() > 1.0 || now.1 != view.get_untracked().1 {
            view.set(now);
        }
    };
    let listener = Closure::<dyn Fn()>::new(place);
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        let options = web_sys::AddEventListenerOptions::new();
        options.set_capture(true);
        options.set_passive(true);
        let _ = document.add_event_listener_with_callback_and_add_event_listener_options(
            "scroll",
            listener.as_ref().unchecked_ref(),
            &options,
        );
        let _ = web_sys::window().map(|w| {
            w.add_event_listener_with_callback("resize", listener.as_ref().unchecked_ref())
        });
    }
    let listener = StoredValue::new_local(Some(listener));
    on_cleanup(move || {
        if let Some(listener) = listener.try_update_value(Option::take).flatten() {
            if let Some(document) = web_sys::window().and_then(|w| w.document()) {
                let _ = document.remove_event_listener_with_callback_and_bool(
                    "scroll",
                    listener.as_ref().unchecked_ref(),
                    true,
                );
            }
            if let Some(window) = web_sys::window() {
                let _ = window.remove_event_listener_with_callback(
                    "resize",
                    listener.as_ref().unchecked_ref(),
                );
            }
        }
    });

    let drawn = Memo::new(move |_| {
        measured.track();
        let (top, height) = view.get();
        items.with(|items| {
            if items.len() < drawn_whole_below {
                return (0..items.len(), 0.0, 0.0);
            }
            let known: Vec<f64> = heights.with_value(|h| {
                items
                    .iter()
                    .map(|item| h.get(&key(item)).copied().unwrap_or(estimate))
                    .collect()
            });
            drawn_rows(&known, top, height)
        })
    });

    // Once drawn, rows are measured; a height that differs from what was assumed redraws.
    effect(move || {
        let (range, _, _) = drawn.get();
        let Some(list) = list.get() else {
            return;
        };
        let keys: Vec<K> = items.with_untracked(|items| {
            items
                .get(range.clone())
                .map(|rows| rows.iter().map(key).collect())
                .unwrap_or_default()
        });
        let rows = list.children();
        let tops: Vec<f64> = (0..rows.length())
            .filter_map(|i| rows.item(i))
            .filter_map(|row| row.dyn_into::<HtmlElement>().ok())
            .map(|row| f64::from(row.offset_top()))
            .collect();
        if tops.len() != keys.len() || tops.len() < 2 {
            return;
        }
        let mut changed = false;
        heights.update_value(|known| {
            for (i, key) in keys.iter().enumerate().take(tops.len() - 1) {
                let height = tops[i + 1] - tops[i];
                let old = known.insert(key.clone(), height).unwrap_or(estimate);
                changed |= (old - height).abs() > 1.0;
            }
        });
        if changed {
            measured.update(|n| *n += 1);
        }
        place();
    });

    view! {
        <ul
            class=class
            data-testid=testid
            node_ref=list
            style:padding-top=move || px(drawn.with(|d| d.1))
            style:padding-bottom=move || px(drawn.with(|d| d.2))
        >
            {keyed(
                move || {
                    let (range, _, _) = drawn.get();
                    items.with(|items| items.get(range).map(<[T]>::to_vec).unwrap_or_default())
                },
                key,
                move |item| row(item),
            )}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_as_serde_json_writes_it_pretty() {
        let value = serde_json::json!({
            "text": "quote \" backslash \\ line\nbreak tab\t bell\u{7} ünï",
            "numbers": [0, -3, 2.5, u64::MAX],
            "empty": {"list": [], "map": {}},
            "flags": [true, false, null],
        });
        assert_eq!(
            json_text(&value),
            serde_json::to_string_pretty(&value).unwrap()
        );
        assert_eq!(json_text(&serde_json::json!([])), "[]");
        assert_eq!(json_text(&serde_json::json!(7)), "7");
    }

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(format_size(512), "512 bytes");
        assert_eq!(format_size(1536), "1.5 KB");
        assert_eq!(format_size(12 * 1024), "12 KB");
        assert_eq!(format_size(3 * 1024 * 1024 + 300_000), "3.3 MB");
        assert_eq!(format_size(20 * 1024 * 1024), "20 MB");
        assert_eq!(format_size(1023), "1023 bytes");
        assert_eq!(format_size(10 * 1024 - 40), "10 KB");
        assert_eq!(format_size(1024 * 1024 - 1), "1024 KB");
        assert_eq!(format_size(5 * 1024 * 1024 * 1024), "5.0 GB");
        assert_eq!(format_size(u64::MAX), "16777216 TB");
        assert_eq!(one_decimal(7u8), "0.7");
        assert_eq!(px(12.5), "12.5px");
        assert_eq!(px(440.0), "440px");
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

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(2_004), "2,004");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn only_the_rows_near_the_view_are_drawn_and_the_rest_is_space() {
        let heights = vec![100.0; 2_000];
        // At the top: the view and the overscan below it.
        let (range, above, below) = drawn_rows(&heights, 0.0, 700.0);
        assert_eq!(range, 0..11);
        assert_eq!(above, 0.0);
        assert_eq!(below, 198_900.0);
        // In the middle: overscan on both sides, and the space adds up.
        let (range, above, below) = drawn_rows(&heights, 50_000.0, 700.0);
        assert_eq!(range, 496..511);
        assert_eq!(above + 100.0 * range.len() as f64 + below, 200_000.0);
        // Past the end: the last rows.
        let (range, _, below) = drawn_rows(&heights, 250_000.0, 700.0);
        assert_eq!(range, 2_000..2_000);
        assert_eq!(below, 0.0);
        // Rows of different heights.
        let mixed: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 50.0 } else { 150.0 })
            .collect();
        let (range, above, _) = drawn_rows(&mixed, 2_000.0, 100.0);
        assert_eq!(above, 1_600.0);
        assert_eq!(range.start, 16);
    }
}
