//! "Add custom connector" and "Edit connector": the address (checked by the core as the
//! person types), an optional name, and how to sign in. Editing starts from what is saved;
//! an address on another server is said before saving, since its sign-in and tool settings
//! start fresh.

use leptos::html;
use leptos::prelude::*;
use switchboard_ipc::{
    AddConnectorRequest, ConnectorSummary, EditConnectorRequest, ErrorCode, ErrorInfo,
};

use crate::components::{
    ActionError, Details, Fetched, Icon, Modal, Spinner, effect, focus_when_mounted, spawn_scoped,
};
use crate::sign_in::{Kind, SignInDraft, SignInFields};
use crate::state::{EditFocus, EditTarget, use_app_state};
use crate::tauri;

#[component]
pub fn AddDialog(#[prop(into)] on_close: Callback<()>) -> impl IntoView {
    view! { <ConnectorDialog editing=None on_close /> }
}

/// The Edit dialog of the connector `target` names, over whichever page opened it.
#[component]
pub fn EditDialog(target: EditTarget, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let state = use_app_state();
    state.connector_untracked(&target.id).map(|summary| {
        view! { <ConnectorDialog editing=Some((summary, target.focus)) on_close /> }.into_any()
    })
}

#[component]
fn ConnectorDialog(
    editing: Option<(ConnectorSummary, EditFocus)>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let state = use_app_state();
    let edited = editing.as_ref().map(|(summary, _)| summary.clone());
    let editing_id = edited.as_ref().map(|s| s.id.clone());
    let (initial_url, initial_name) = edited
        .as_ref()
        .map(|s| (s.url.clone(), s.name.clone()))
        .unwrap_or_default();
    let url = RwSignal::new(initial_url.clone());
    let name = RwSignal::new(initial_name.clone());
    let adding = RwSignal::new(false);
    let sign_in = match &edited {
        Some(s) => SignInDraft::editing(&s.sign_in.method, s.sign_in.saved),
        None => SignInDraft::new(),
    };
    let add_error = RwSignal::new(None::<ErrorInfo>);
    let url_input = NodeRef::<html::Input>::new();
    match editing.as_ref().map(|(_, focus)| *focus) {
        None | Some(EditFocus::Address) => focus_when_mounted(url_input),
        Some(focus @ (EditFocus::Secret | EditFocus::ApiKeyInstead)) => {
            if focus == EditFocus::ApiKeyInstead {
                sign_in.kind.set(Kind::ApiKey);
            }
            // The field appears with the form; focus it once it is in the page.
            request_animation_frame(move || {
                for id in ["sign-in-key", "sign-in-password"] {
                    if let Some(field) = document().get_element_by_id(id)
                        && let Ok(field) =
                            wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(field)
                    {
                        let _ = field.focus();
                        break;
                    }
                }
            });
        }
    }
    let is_edit = edited.is_some();

    // An empty field is not an error yet, just not something to add; every other text goes
    // to the core, which owns the rules. The resource drops answers that arrive after a
    // newer keystroke.
    let check = Fetched::new(move || {
        let typed = url.get();
        let editing = editing_id.clone();
        async move {
            if typed.trim().is_empty() {
                return None;
            }
            let verdict = tauri::check_address(typed.clone(), editing).await;
            Some((typed, verdict))
        }
    });
    let is_empty = Memo::new(move |_| url.with(|u| u.trim().is_empty()));
    // The verdict on exactly what is in the field now; `None` while that is being checked.
    let verdict = Memo::new(move |_| {
        let current = url.get();
        check
            .get()
            .flatten()
            .filter(|(checked, _)| *checked == current)
            .map(|(_, verdict)| verdict)
    });
    let accepted =
        Memo::new(move |_| verdict.with(|v| v.as_ref().and_then(|v| v.as_ref().ok()).cloned()));
    // A refused sign-in (a reserved header, no keyring) is said next to the sign-in
    // fields; everything else is about the address.
    let about_sign_in = |err: &ErrorInfo| {
        matches!(
            err.code,
            ErrorCode::InvalidSignIn | ErrorCode::KeyringUnavailable
        )
    };
    // A missing keyring is said once, where the sign-in is chosen.
    let sign_in_error = Signal::derive(move || {
        add_error.get().filter(about_sign_in).filter(|err| {
            err.code != ErrorCode::KeyringUnavailable
                || sign_in.keyring_problem.with(Option::is_none)
        })
    });
    // The last complaint stays up while the next keystroke is checked, so the sentence
    // under the field does not flicker with every letter.
    let message = Memo::new(move |_| {
        if is_empty.get() {
            return None;
        }
        add_error
            .get()
            .filter(|err| !about_sign_in(err))
            .or_else(|| check.get().flatten().and_then(|(_, verdict)| verdict.err()))
    });
    let can_add = move || accepted.with(Option::is_some) && sign_in.is_complete() && !adding.get();
    // Enter right after pasting may come before the check of the address has answered: add
    // anyway (the core checks the address again when adding, and says what is wrong), but
    // not an address already refused.
    let can_submit = move || {
        let checking = !is_empty.get() && verdict.with(Option::is_none);
        (accepted.with(Option::is_some) || checking) && sign_in.is_complete() && !adding.get()
    };

    // Editing: a secret stays only while the address stays on the same server.
    let other_server =
        Memo::new(move |_| accepted.with(|a| a.as_ref().is_some_and(|a| a.other_server)));
    if let Some(saved) = edited.as_ref().map(|s| s.sign_in.saved) {
        effect(move || sign_in.keeps_saved.set(saved && !other_server.get()));
    }
    let edited_id = StoredValue::new(edited.as_ref().map(|s| s.id.clone()));
    let initial = StoredValue::new((initial_url.clone(), initial_name.clone()));
    let submit = move || {
        if !can_submit() {
            return;
        }
        adding.set(true);
        add_error.set(None);
        let typed_name = name.with_untracked(|n| n.trim().to_owned());
        let done: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ErrorInfo>>>> =
            match edited_id.get_value() {
                None => {
                    let request = AddConnectorRequest {
                        url: url.get_untracked(),
                        name: (!typed_name.is_empty()).then_some(typed_name),
                        sign_in: sign_in.choice(),
                    };
                    Box::pin(async move { state.add(request).await.map(drop) })
                }
                Some(id) => {
                    let typed_url = url.get_untracked();
                    let (initial_url, initial_name) = initial.get_value();
                    let request = EditConnectorRequest {
                        id,
                        url: (typed_url.trim() != initial_url.trim()).then_some(typed_url),
                        name: (typed_name != initial_name.trim()).then_some(typed_name),
                        sign_in: sign_in.edit_choice(),
                    };
                    Box::pin(state.edit(request))
                }
            };
        spawn_scoped(async move {
            match done.await {
                Ok(()) => on_close.run(()),
                Err(err) => {
                    adding.set(false);
                    let focus_address = !about_sign_in(&err);
                    add_error.set(Some(err));
                    if focus_address && let Some(input) = url_input.get_untracked() {
                        let _ = input.focus();
                    }
                }
            }
        });
    };

    view! {
        <Modal
            testid=if is_edit { "edit-dialog" } else { "add-dialog" }
            labelled_by="add-title"
            on_escape=on_close
        >
            <form
                class="form"
                novalidate
                on:submit=move |ev| {
                    ev.prevent_default();
                    submit();
                }
                // Enter in a field adds. The browser's own Enter-submits does nothing while
                // the Add button is disabled, as it is until the address has been checked,
                // so a paste followed at once by Enter would be lost.
                on:keydown=move |ev| {
                    let in_a_field = ev
                        .target()
                        .and_then(|target| {
                            wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(target).ok()
                        })
                        .is_some_and(|input| input.type_() != "radio");
                    if ev.key() == "Enter" && in_a_field {
                        ev.prevent_default();
                        submit();
                    }
                }
                // Any edit answers the last complaint; the address is checked again anyway.
                on:input=move |_| add_error.set(None)
            >
                <h2 class="modal-title" id="add-title">
                    {if is_edit { "Edit connector" } else { "Add custom connector" }}
                </h2>
                <p class="modal-text">
                    {if is_edit {
                        "Change the address, the name or how it signs in. On the same server, its sign-in and tool settings stay."
                    } else {
                        "Paste the address of a remote MCP server. Switchboard connects to it right away."
                    }}
                </p>

                <div class="field">
                    <label class="field-label" for="add-url">
                        "Server address"
                    </label>
                    <input
                        id="add-url"
                        class="input"
                        // Plain text, not type=url: the browser would trim and judge the
                        // address by its own rules, and the core's rules are the ones that count.
                        type="text"
                        inputmode="url"
                        autocomplete="off"
                        autocapitalize="off"
                        spellcheck="false"
                        required
                        autofocus
                        placeholder="https://example.com/mcp"
                        aria-describedby="add-url-message"
                        aria-invalid=move || if message.with(Option::is_some) { "true" } else { "false" }
                        data-testid="add-url-input"
                        node_ref=url_input
                        prop:value=move || url.get()
                        on:input=move |ev| {
                            add_error.set(None);
                            url.set(event_target_value(&ev));
                        }
                    />
                    <div id="add-url-message" class="field-message" aria-live="polite">
                        {move || match (message.get(), accepted.get()) {
                            (Some(ErrorInfo { message, detail, .. }), _) => {
                                view! {
                                    <p class="field-error" data-testid="add-url-error">
                                        {message}
                                    </p>
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
                                }
                                    .into_any()
                            }
                            (None, Some(checked)) => {
                                // Worth showing only when the core tidied the address up.
                                let tidied = url.with_untracked(|typed| *typed != checked.url);
                                let secret = checked.secret_in_query.clone();
                                let other_server = checked.other_server;
                                view! {
                                    {other_server
                                        .then(|| {
                                            view! {
                                                <div class="field-warning" data-testid="edit-other-server">
                                                    <p>
                                                        "This address is on another server. Its sign-in and tool settings start fresh: you sign in to it again, and every tool asks before it is used."
                                                    </p>
                                                </div>
                                            }.into_any()
                                        })}
                                    <p class="field-ok">
                                        <Icon d="M3.5 8.5l3 3 6-7" size=14 stroke_width="1.8" />
                                        {if tidied {
                                            view! {
                                                "Will be saved as "
                                                <span class="field-ok-url">{checked.url}</span>
                                            }
                                                .into_any()
                                        } else {
                                            "This looks like a server address".into_any()
                                        }}
                                    </p>
                                    {secret
                                        .map(|secret| {
                                            let name = secret.name.clone();
                                            view! {
                                                <div class="field-warning" data-testid="add-url-secret">
                                                    <p>
                                                        "The address carries what looks like a secret ("
                                                        <code>{name}</code>
                                                        "). In the address it would be kept in Switchboard's settings file; as an API key it goes to your system keyring."
                                                    </p>
                                                    <button
                                                        type="button"
                                                        class="button button-small"
                                                        data-testid="add-url-secret-move"
                                                        on:click=move |_| {
                                                            url.set(secret.address_without.clone());
                                                            sign_in.use_api_key(secret.value.clone());
                                                            // This button goes away with the
                                                            // secret: keep the keyboard in the
                                                            // form, where Enter adds.
                                                            if let Some(input) = url_input.get_untracked() {
                                                                let _ = input.focus();
                                                            }
                                                        }
                                                    >
                                                        "Move it to the API key field"
                                                    </button>
                                                </div>
                                            }.into_any()
                                        })}
                                }
                                    .into_any()
                            }
                            // The address is being checked: say so, rather than a grey
                            // button with no reason.
                            (None, None) if !is_empty.get() => {
                                view! {
                                    <p class="field-checking" data-testid="add-url-checking">
                                        <Spinner />
                                        "Checking…"
                                    </p>
                                }
                                    .into_any()
                            }
                            (None, None) => ().into_any(),
                        }}
                    </div>
                </div>

                <div class="field">
                    <label class="field-label" for="add-name">
                        "Name (optional)"
                    </label>
                    <input
                        id="add-name"
                        class="input"
                        type="text"
                        autocomplete="off"
                        aria-describedby="add-name-hint"
                        data-testid="add-name-input"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                    <p id="add-name-hint" class="field-hint">
                        "Leave empty to use the server's own name"
                    </p>
                </div>

                <SignInFields draft=sign_in />
                <ActionError error=sign_in_error />

                <div class="modal-actions">
                    <button
                        type="button"
                        class="button"
                        data-testid=if is_edit { "edit-cancel" } else { "add-cancel" }
                        on:click=move |_| on_close.run(())
                    >
                        "Cancel"
                    </button>
                    <button
                        type="submit"
                        class="button button-primary"
                        data-testid=if is_edit { "edit-save" } else { "add-submit" }
                        disabled=move || !can_add()
                        aria-busy=move || if adding.get() { "true" } else { "false" }
                    >
                        {move || adding.get().then(|| view! { <Spinner /> }.into_any())}
                        {if is_edit { "Save" } else { "Add" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}
