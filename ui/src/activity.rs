//! Settings → Activity: every tool call the model made, newest first, with the rule that
//! decided it and what came of it; filters, a way back to the conversation, and a CSV file.

use leptos::prelude::*;
use switchboard_ipc::ErrorInfo;
use switchboard_ipc::tools::ActivityEntry;

use crate::chat::use_chat_state;
use crate::components::{
    ActionError, CollectAny, Fetched, Spinner, keyed, one_decimal, run_action,
};
use crate::sort;
use crate::state::{Page, use_app_state};
use crate::tauri;

/// "All" in a filter.
const ALL: &str = "";

#[component]
pub fn ActivityPage() -> impl IntoView {
    let state = use_app_state();
    let chat = use_chat_state();
    let entries = Fetched::new(tauri::tool_activity);
    let connector = RwSignal::new(ALL.to_owned());
    let tool = RwSignal::new(ALL.to_owned());
    let outcome = RwSignal::new(ALL.to_owned());
    let export_busy = RwSignal::new(false);
    let export_error = RwSignal::new(None::<ErrorInfo>);
    let exported = RwSignal::new(None::<String>);
    let all = move || {
        entries.with(|e| match e {
            Some(Ok(list)) => list.clone(),
            _ => Vec::new(),
        })
    };
    let choices = move |pick: fn(&ActivityEntry) -> String| {
        let mut values: Vec<String> = all().iter().map(pick).collect();
        sort::sort_by(&mut values, String::cmp);
        values.dedup();
        values
    };
    let shown = move || {
        all()
            .into_iter()
            .filter(|e| connector.with(|c| c.is_empty() || *c == e.connector_name))
            .filter(|e| tool.with(|t| t.is_empty() || *t == e.tool))
            .filter(|e| {
                outcome.with(|o| match o.as_str() {
                    "ran" => e.ran && e.is_error != Some(true),
                    "failed" => e.ran && e.is_error == Some(true),
                    "refused" => !e.ran,
                    _ => true,
                })
            })
            .collect::<Vec<_>>()
    };
    let export = move |_| {
        exported.set(None);
        run_action(export_busy, true, false, export_error, async move {
            let path = tauri::export_activity().await?;
            exported.set(Some(path));
            Ok(())
        });
    };
    let open_conversation = move |id: i64| {
        chat.open(id);
        state.page.set(Page::Chat);
    };
    view! {
        <section class="activity-page" data-testid="activity-page" aria-labelledby="activity-title">
            <header class="page-header">
                <div>
                    <h1 class="page-title" id="activity-title">
                        "Activity"
                    </h1>
                    <p class="page-lead">
                        "Every tool the model used or tried to use, and what servers had your model write, newest first, with what decided it."
                    </p>
                </div>
                <button
                    type="button"
                    class="button"
                    data-testid="export-activity"
                    disabled=move || export_busy.get()
                    on:click=export
                >
                    {move || export_busy.get().then(|| view! { <Spinner /> }.into_any())}
                    "Export as CSV"
                </button>
            </header>
            {move || {
                exported
                    .get()
                    .map(|path| {
                        view! {
                            <p class="success-text" role="status" data-testid="export-done">
                                {format!("Saved to {path}")}
                            </p>
                        }.into_any()
                    })
            }}
            <ActionError error=export_error />
            <div class="activity-filters" role="group" aria-label="Filter the activity">
                <FilterSelect label="Connector" value=connector testid="filter-connector" options=Signal::derive(move || choices(|e| e.connector_name.clone())) />
                <FilterSelect label="Tool" value=tool testid="filter-tool" options=Signal::derive(move || choices(|e| e.tool.clone())) />
                <label class="field field-inline">
                    <span class="field-label">"What came of it"</span>
                    <select
                        class="select"
                        data-testid="filter-outcome"
                        on:change=move |ev| outcome.set(event_target_value(&ev))
                    >
                        <option value="">"Anything"</option>
                        <option value="ran">"Ran"</option>
                        <option value="failed">"Ran and failed"</option>
                        <option value="refused">"Did not run"</option>
                    </select>
                </label>
            </div>
            {move || match entries.get() {
                None => view! { <div class="loading" role="status"><Spinner />"Loading the activity…"</div> }.into_any(),
                Some(Err(error)) => {
                    let error = RwSignal::new(Some(error));
                    view! { <ActionError error /> }.into_any()
                }
                Some(Ok(list)) if list.is_empty() => view! {
                    <p class="empty" data-testid="activity-empty">
                        "No tool has been used yet. When the model uses a connector's tool, it is listed here."
                    </p>
                }
                .into_any(),
                Some(Ok(_)) => view! {
                    <ul class="activity-list" data-testid="activity-list">
                        {keyed(
                            shown,
                            |e| e.id,
                            move |entry| view! { <ActivityRow entry open_conversation /> }.into_any(),
                        )}
                    </ul>
                }
                .into_any(),
            }}
        </section>
    }
}

#[component]
fn FilterSelect(
    label: &'static str,
    value: RwSignal<String>,
    testid: &'static str,
    options: Signal<Vec<String>>,
) -> impl IntoView {
    view! {
        <label class="field field-inline">
            <span class="field-label">{label}</span>
            <select class="select" data-testid=testid on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="">"All"</option>
                {move || {
                    options
                        .get()
                        .into_iter()
                        .map(|o| view! { <option value=o.clone()>{o.clone()}</option> }.into_any())
                        .collect_any()
                }}
            </select>
        </label>
    }
}

#[component]
fn ActivityRow(
    entry: ActivityEntry,
    open_conversation: impl Fn(i64) + Copy + 'static,
) -> impl IntoView {
    let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(entry.at_ms as f64))
        .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
        .as_string()
        .unwrap_or_default();
    let (state, class) = match (entry.ran, entry.is_error) {
        (false, _) => ("Did not run", "activity-refused"),
        (true, Some(true)) => ("Failed", "activity-failed"),
        (true, None) => ("Running", "activity-running"),
        (true, _) => ("Ran", "activity-ran"),
    };
    let conversation_id = entry.conversation_id;
    let duration = entry.duration_ms.map(|ms| {
        if ms < 1000 {
            format!("{ms} ms")
        } else {
            // Here `ms` is at least 1000.
            format!(
                "{} s",
                one_decimal(u64::try_from((ms + 50) / 100).unwrap_or_default())
            )
        }
    });
    view! {
        <li class=format!("activity-row {class}") data-testid="activity-row" data-tool=entry.tool.clone() data-ran=entry.ran.to_string()>
            <div class="activity-head">
                <span class="activity-state">{state}</span>
                <span class="activity-tool">
                    {entry.connector_name.clone()}
                    " · "
                    {if entry.tool == switchboard_ipc::tools::SAMPLING_ACTIVITY {
                        view! { <span>{entry.tool.clone()}</span> }.into_any()
                    } else {
                        view! { <code>{entry.tool.clone()}</code> }.into_any()
                    }}
                </span>
                <span class="activity-when">{when}</span>
            </div>
            <p class="activity-rule" data-testid="activity-rule">
                {format!("Decided by: {}", entry.rule)}
                {duration.map(|d| format!(" · took {d}"))}
            </p>
            <p class="activity-detail">
                <span class="field-label">"Arguments: "</span>
                <code class="activity-arguments">{entry.arguments.clone()}</code>
            </p>
            {entry
                .outcome
                .clone()
                .filter(|o| !o.is_empty())
                .map(|o| view! { <p class="activity-detail"><span class="field-label">"Result: "</span>{o}</p> }.into_any())}
            {match entry.conversation_title.clone() {
                Some(title) => view! {
                    <button
                        type="button"
                        class="link-button"
                        data-testid="activity-open-chat"
                        on:click=move |_| open_conversation(conversation_id)
                    >
                        {format!("Open “{title}”")}
                    </button>
                }
                .into_any(),
                None if conversation_id == 0 => view! {
                    <span class="activity-gone">"Asked by the server, outside any conversation."</span>
                }
                .into_any(),
                None => view! { <span class="activity-gone">"The conversation was deleted."</span> }.into_any(),
            }}
        </li>
    }
}
