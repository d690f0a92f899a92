//! A server's question to the person (MCP elicitation): a dialog over whatever page is
//! open, naming the connector that asks. A form built from the server's fields, or a page to
//! open in the browser; Send (or Open page) · Decline, and Escape closes without answering.
//! The core checks every answer; its refusal is shown and the dialog stays.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Map, Value};
use switchboard_ipc::ErrorInfo;
use switchboard_ipc::ask::{
    Answer, Field, Input, Question, QuestionEvent, QuestionKind, SamplingLine, TextFormat,
};
use switchboard_ipc::event;

use crate::components::{ActionError, CollectAny, Modal, Spinner, focus_when_mounted};
use crate::tauri;

/// Listens for questions for the life of the window and shows the oldest one waiting.
#[component]
pub fn Questions() -> impl IntoView {
    let waiting = RwSignal::new(Vec::<Question>::new());
    let add = move |question: Question| {
        waiting.update(|w| {
            if !w.iter().any(|q| q.id == question.id) {
                w.push(question);
            }
        });
    };
    tauri::listen(event::QUESTION, move |event: QuestionEvent| match event {
        QuestionEvent::Asked(question) => add(question),
        QuestionEvent::Closed { id } => waiting.update(|w| w.retain(|q| q.id != id)),
    });
    spawn_local(async move {
        match tauri::waiting_questions().await {
            Ok(questions) => questions.into_iter().for_each(add),
            Err(err) => tauri::warn("could not fetch waiting questions", &err),
        }
    });
    let first = Memo::new(move |_| waiting.with(|w| w.first().cloned()));
    move || {
        first.get().map(|question| {
            let id = question.id.clone();
            let done = Callback::new(move |()| waiting.update(|w| w.retain(|q| q.id != id)));
            view! { <QuestionDialog question done /> }.into_any()
        })
    }
}

/// A decimal number typed into a number field, read by the page's own JavaScript `Number`:
/// Rust's float parser would bring 14 KB of tables and code into the wasm for this one field.
/// `None` for what is not a number.
fn decimal(text: &str) -> Option<f64> {
    let number = js_sys::Number::from(wasm_bindgen::JsValue::from_str(text)).value_of();
    (!number.is_nan()).then_some(number)
}

/// What a field holds before the person touches it: the server's default.
fn initial(field: &Field) -> Option<Value> {
    match &field.input {
        Input::Text { default, .. } => default.clone().map(Value::from),
        Input::Number {
            default, integer, ..
        } => default.map(|n| {
            if *integer && n.fract() == 0.0 {
                // A whole number within i64 by the check above; shown without ".0".
                #[allow(clippy::cast_possible_truncation)]
                Value::from(n as i64)
            } else {
                Value::from(n)
            }
        }),
        Input::Boolean { default } => Some(Value::from(default.unwrap_or(false))),
        Input::Choice { default, .. } => default.clone().map(Value::from),
        Input::Choices { default, .. } => Some(Value::from(default.clone())),
    }
}

#[component]
fn QuestionDialog(question: Question, done: Callback<()>) -> impl IntoView {
    let Question {
        id,
        connector_name,
        message,
        kind,
        ..
    } = question;
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let send = move |answer: Answer| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let id = id.clone();
        spawn_local(async move {
            match tauri::answer_question(id, answer).await {
                Ok(()) => done.run(()),
                Err(err) => {
                    error.set(Some(err));
                    busy.set(false);
                }
            }
        });
    };
    let answer = Callback::new(send);
    let title = match kind {
        QuestionKind::Page { .. } => format!("{connector_name} asks you to open a page"),
        QuestionKind::Sampling { .. } => format!("{connector_name} asks your model to write"),
        QuestionKind::Form { .. } => format!("{connector_name} asks for information"),
    };
    let from = format!(
        "From your connector “{connector_name}”. Nothing is sent until you choose; Esc closes this without answering."
    );
    let body = match kind {
        QuestionKind::Form { fields } => view! { <FormBody fields answer busy error /> }.into_any(),
        QuestionKind::Page { url, host } => {
            view! { <PageBody url host answer busy error /> }.into_any()
        }
        QuestionKind::Sampling {
            model,
            system,
            messages,
            max_tokens,
        } => {
            view! { <SamplingBody model system messages max_tokens answer busy error /> }.into_any()
        }
    };
    view! {
        <Modal
            testid="question-dialog"
            labelled_by="question-title"
            on_escape=move || answer.run(Answer::Cancel)
        >
            <h2 class="modal-title" id="question-title" data-testid="question-title">
                {title}
            </h2>
            <p class="modal-text" data-testid="question-from">{from}</p>
            {(!message.is_empty())
                .then(|| view! { <p class="question-message" data-testid="question-message">{message}</p> }.into_any())}
            {body}
        </Modal>
    }
}

#[component]
fn PageBody(
    url: String,
    host: String,
    answer: Callback<Answer>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<ErrorInfo>>,
) -> impl IntoView {
    view! {
        <div class="form">
            <div class="question-page">
                <p class="question-page-host" data-testid="question-page-host">{host}</p>
                <p class="question-page-url selectable" data-testid="question-page-url">{url}</p>
                <p class="field-hint">"The page opens in your browser. Check the address before you go on."</p>
            </div>
            // Decline first: a stray Enter must not open a server's page.
            <QuestionActions answer busy error accept_label="Open page" accept_testid="question-open-page" submits=false />
        </div>
    }
}

/// What the server would have the person's model read, and which model: sent only on the
/// person's word.
#[component]
fn SamplingBody(
    model: String,
    system: Option<String>,
    messages: Vec<SamplingLine>,
    max_tokens: u32,
    answer: Callback<Answer>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<ErrorInfo>>,
) -> impl IntoView {
    view! {
        <div class="form">
            <p class="question-sampling-model" data-testid="question-sampling-model">
                "It goes to " <strong>{model}</strong> ", and the answer goes back to the server."
            </p>
            {system
                .map(|system| {
                    view! {
                        <div class="question-sampling-part">
                            <h3 class="field-label">"Instructions for the model"</h3>
                            <p class="question-sampling-text" data-testid="question-sampling-system">{system}</p>
                        </div>
                    }.into_any()
                })}
            {messages
                .into_iter()
                .map(|line| {
                    let label = if line.role == "assistant" { "An earlier answer" } else { "What the model reads" };
                    view! {
                        <div class="question-sampling-part">
                            <h3 class="field-label">{label}</h3>
                            <p class="question-sampling-text" data-testid="question-sampling-message">{line.text}</p>
                        </div>
                    }.into_any()
                })
                .collect_any()}
            <p class="field-hint">{format!("An answer of up to {} tokens.", crate::components::grouped(max_tokens as usize))}</p>
            // Decline first: a stray Enter must not spend the person's model on a server.
            <QuestionActions answer busy error accept_label="Send to the model" accept_testid="question-send-to-model" submits=false />
        </div>
    }
}

/// Decline and the question's own Accept, with the core's refusal above them, in sight
/// however long the question. With `submits`, Accept submits the form it sits in (whose
/// fields have the keyboard first); otherwise Accept answers at once and Decline takes the
/// keyboard first, so a stray Enter answers nothing.
#[component]
fn QuestionActions(
    answer: Callback<Answer>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<ErrorInfo>>,
    accept_label: &'static str,
    accept_testid: &'static str,
    submits: bool,
) -> impl IntoView {
    let decline = NodeRef::<leptos::html::Button>::new();
    if !submits {
        focus_when_mounted(decline);
    }
    view! {
        <div class="modal-actions question-actions">
            <ActionError error />
            <div class="question-buttons">
                <button
                    type="button"
                    class="button"
                    data-testid="question-decline"
                    node_ref=decline
                    disabled=move || busy.get()
                    on:click=move |_| answer.run(Answer::Decline)
                >
                    "Decline"
                </button>
                <button
                    type=if submits { "submit" } else { "button" }
                    class="button button-primary"
                    data-testid=accept_testid
                    disabled=move || busy.get()
                    on:click=move |ev| {
                        if !submits {
                            ev.prevent_default();
                            answer.run(Answer::Accept { content: Map::new() });
                        }
                    }
                >
                    {move || busy.get().then(|| view! { <Spinner /> }.into_any())}
                    {accept_label}
                </button>
            </div>
        </div>
    }
}

#[component]
fn FormBody(
    fields: Vec<Field>,
    answer: Callback<Answer>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<ErrorInfo>>,
) -> impl IntoView {
    // Inserted one by one: collecting into a map sorts first, another copy of the sort in
    // the wasm (see `sort`).
    let mut initial_values = Map::new();
    for field in &fields {
        if let Some(value) = initial(field) {
            initial_values.insert(field.name.clone(), value);
        }
    }
    let values = RwSignal::new(initial_values);
    let any_required = fields.iter().any(|f| f.required);
    let submit = move || {
        answer.run(Answer::Accept {
            content: values.get_untracked(),
        })
    };
    view! {
        <form
            class="form question-form"
            novalidate
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
            on:input=move |_| error.set(None)
        >
            {fields
                .into_iter()
                .enumerate()
                .map(|(i, field)| view! { <FieldView field values first=i == 0 /> }.into_any())
                .collect_any()}
            {any_required
                .then(|| view! { <p class="field-hint">"Fields marked * are required."</p> }.into_any())}
            // Send submits the form (Enter in a field does too).
            <QuestionActions answer busy error accept_label="Send" accept_testid="question-send" submits=true />
        </form>
    }
}

#[component]
fn FieldView(field: Field, values: RwSignal<Map<String, Value>>, first: bool) -> impl IntoView {
    let Field {
        name,
        label,
        description,
        required,
        input,
    } = field;
    let dom_id = format!(
        "question-field-{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    let hint_id = format!("{dom_id}-hint");
    let set = {
        let name = name.clone();
        move |value: Option<Value>| {
            values.update(|v| {
                match value {
                    Some(value) => v.insert(name.clone(), value),
                    None => v.remove(&name),
                };
            })
        }
    };
    let current = {
        let name = name.clone();
        move || values.with(|v| v.get(&name).cloned())
    };
    let focus = NodeRef::<leptos::html::Input>::new();
    if first {
        focus_when_mounted(focus);
    }
    let mark = required
        .then(|| view! { <span class="required-mark" aria-hidden="true">" *"</span> }.into_any());
    let described = description.is_some().then(|| hint_id.clone());
    let hint =
        description.map(|d| view! { <p class="field-hint" id=hint_id.clone()>{d}</p> }.into_any());
    let control = match input {
        Input::Boolean { .. } => {
            return view! {
                <div class="field" data-testid="question-field" data-name=name.clone()>
                    <label class="choice">
                        <input
                            type="checkbox"
                            id=dom_id
                            node_ref=focus
                            aria-describedby=described
                            prop:checked=move || current().and_then(|v| v.as_bool()).unwrap_or(false)
                            on:change=move |ev| set(Some(Value::from(event_target_checked(&ev))))
                        />
                        <span class="field-label">{label}</span>
                        {mark}
                    </label>
                    {hint}
                </div>
            }
            .into_any();
        }
        Input::Text { format, .. } => {
            let (mode, placeholder) = match format {
                TextFormat::Plain => ("text", ""),
                // Plain text with the keyboard hint only: the browser's own checks (and
                // its caret rules for these types) would stand before the core's.
                TextFormat::Email => ("email", "name@example.com"),
                TextFormat::Uri => ("url", "https://example.com"),
                TextFormat::Date => ("text", "2026-12-01"),
                TextFormat::DateTime => ("text", "2026-12-01T09:30:00Z"),
            };
            view! {
                <input
                    class="input"
                    type="text"
                    inputmode=mode
                    id=dom_id.clone()
                    node_ref=focus
                    placeholder=placeholder
                    autocomplete="off"
                    aria-required=required.then_some("true")
                    aria-describedby=described
                    prop:value=move || current().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        set((!text.is_empty()).then(|| Value::from(text)));
                    }
                />
            }
            .into_any()
        }
        Input::Number {
            integer,
            minimum,
            maximum,
            ..
        } => {
            // Written once, so what is typed stays as typed: written back after each key
            // (a number read from "7." is shown as "7.0"), typing "7.5" sent 57.
            let shown = current()
                .map(|v| crate::components::json_text(&v))
                .unwrap_or_default();
            view! {
                <input
                    class="input"
                    type="number"
                    id=dom_id.clone()
                    node_ref=focus
                    step=if integer { "1" } else { "any" }
                    // Set as properties, so the page writes the numbers (see `decimal`).
                    prop:min=minimum
                    prop:max=maximum
                    aria-required=required.then_some("true")
                    aria-describedby=described
                    prop:value=shown
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        // What is not a number is sent as typed, and the core names the field.
                        let value = match text.trim() {
                            "" => None,
                            t => Some(
                                t.parse::<i64>()
                                    .map(Value::from)
                                    .or_else(|_| decimal(t).map(Value::from).ok_or(()))
                                    .unwrap_or_else(|()| Value::from(t)),
                            ),
                        };
                        set(value);
                    }
                />
            }
            .into_any()
        }
        Input::Choice { options, default } => {
            let blank = default.is_none();
            view! {
                <select
                    class="input"
                    id=dom_id.clone()
                    aria-required=required.then_some("true")
                    aria-describedby=described
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        set((!value.is_empty()).then(|| Value::from(value)));
                    }
                >
                    {blank.then(|| view! { <option value="">"Choose…"</option> }.into_any())}
                    {options
                        .into_iter()
                        .map(|o| {
                            let chosen = default.as_deref() == Some(o.value.as_str());
                            view! { <option value=o.value selected=chosen>{o.label}</option> }.into_any()
                        })
                        .collect_any()}
                </select>
            }
            .into_any()
        }
        Input::Choices { options, .. } => {
            return view! {
                <fieldset class="field question-choices" data-testid="question-field" data-name=name.clone()>
                    <legend class="field-label">{label}{mark}</legend>
                    {hint}
                    {options
                        .into_iter()
                        .map(|o| {
                            let value = o.value.clone();
                            let is_chosen = {
                                let value = value.clone();
                                let current = current.clone();
                                move || current().and_then(|v| v.as_array().cloned()).unwrap_or_default().iter().any(|v| v.as_str() == Some(value.as_str()))
                            };
                            let set = set.clone();
                            let current = current.clone();
                            view! {
                                <label class="choice">
                                    <input
                                        type="checkbox"
                                        prop:checked=is_chosen
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            let mut chosen: Vec<Value> = current()
                                                .and_then(|v| v.as_array().cloned())
                                                .unwrap_or_default();
                                            chosen.retain(|v| v.as_str() != Some(value.as_str()));
                                            if on {
                                                chosen.push(Value::from(value.clone()));
                                            }
                                            set(Some(Value::from(chosen)));
                                        }
                                    />
                                    {o.label}
                                </label>
                            }.into_any()
                        })
                        .collect_any()}
                </fieldset>
            }
            .into_any();
        }
    };
    view! {
        <div class="field" data-testid="question-field" data-name=name>
            <label class="field-label" for=dom_id>
                {label}
                {mark}
            </label>
            {control}
            {hint}
        </div>
    }
    .into_any()
}
