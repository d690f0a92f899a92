//! Settings → Models: the model providers, their keys (never shown again), the default
//! model, and "Check" that says in words whether it all works.

use leptos::prelude::*;
use switchboard_ipc::chat::{AddProviderRequest, ModelChoice, ProviderKind, ProviderSummary};
use switchboard_ipc::{ErrorInfo, SecretInput};

use crate::chat::{ModelSelect, use_chat_state};
use crate::components::{ActionError, CollectAny, ConfirmDialog, Spinner, keyed, run_action};
use crate::tauri;

#[component]
pub fn ModelsPage() -> impl IntoView {
    let chat = use_chat_state();
    chat.reload_models();
    let adding = RwSignal::new(false);
    view! {
        <section class="models-page" data-testid="models-page" aria-labelledby="models-title">
            <header class="page-header">
                <div>
                    <h1 class="page-title" id="models-title">
                        "Models"
                    </h1>
                    <p class="page-lead">
                        "The AI models your chats talk to. Keys are kept in your system keyring and never shown again."
                    </p>
                </div>
                <button
                    type="button"
                    class="button button-primary"
                    data-testid="add-provider"
                    on:click=move |_| adding.set(true)
                >
                    "Add a model provider"
                </button>
            </header>
            {move || adding.get().then(|| view! { <AddProvider adding /> }.into_any())}
            <DefaultModel />
            <AttachmentLimit />
            <ul class="provider-list" data-testid="provider-list">
                {keyed(
                    move || chat.models.get().providers,
                    |p| (p.id.clone(), p.has_key, p.models.len()),
                    |provider| view! { <ProviderCard provider /> }.into_any(),
                )}
            </ul>
            {move || {
                (chat.models_loaded.get() && chat.models.with(|m| m.providers.is_empty()) && !adding.get())
                    .then(|| {
                        view! {
                            <p class="empty" data-testid="no-providers">
                                "No model provider yet. Add Anthropic with your API key, or any OpenAI-compatible server: OpenAI, or a local Ollama or LM Studio."
                            </p>
                        }.into_any()
                    })
            }}
        </section>
    }
}

fn kind_label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Anthropic => "Anthropic",
        ProviderKind::OpenAiCompatible => "OpenAI-compatible",
    }
}

#[component]
fn AddProvider(adding: RwSignal<bool>) -> impl IntoView {
    let chat = use_chat_state();
    let kind = RwSignal::new(ProviderKind::Anthropic);
    let name = RwSignal::new(String::new());
    let base_url = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let submit = move || {
        let request = AddProviderRequest {
            kind: kind.get_untracked(),
            name: name.get_untracked(),
            base_url: base_url.get_untracked(),
            key: SecretInput(key.get_untracked()),
        };
        run_action(busy, true, false, error, async move {
            tauri::add_provider(request).await?;
            // The key leaves the page as soon as it is saved.
            key.set(String::new());
            adding.set(false);
            chat.reload_models();
            Ok(())
        });
    };
    let key_hint = move || match kind.get() {
        ProviderKind::Anthropic => "Create a key in the Anthropic Console (console.anthropic.com).",
        ProviderKind::OpenAiCompatible => {
            "Leave it empty for a local server such as Ollama or LM Studio."
        }
    };
    view! {
        <form
            class="card provider-form"
            data-testid="provider-form"
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
        >
            <h2 class="card-title">"Add a model provider"</h2>
            <fieldset class="choice-row">
                <legend class="field-label">"Provider"</legend>
                {[ProviderKind::Anthropic, ProviderKind::OpenAiCompatible]
                    .into_iter()
                    .map(|k| {
                        let testid = match k {
                            ProviderKind::Anthropic => "provider-kind-anthropic",
                            ProviderKind::OpenAiCompatible => "provider-kind-openai",
                        };
                        view! {
                            <label class="choice">
                                <input
                                    type="radio"
                                    name="provider-kind"
                                    data-testid=testid
                                    prop:checked=move || kind.get() == k
                                    on:change=move |_| kind.set(k)
                                />
                                {kind_label(k)}
                            </label>
                        }.into_any()
                    })
                    .collect_any()}
            </fieldset>
            <label class="field">
                <span class="field-label">"Address"</span>
                <input
                    class="input"
                    type="url"
                    data-testid="provider-url"
                    placeholder=move || kind.get().default_base_url()
                    prop:value=move || base_url.get()
                    on:input=move |ev| base_url.set(event_target_value(&ev))
                />
                <span class="field-hint">
                    "Leave it empty for the provider's own address. For Ollama: http://localhost:11434/v1"
                </span>
            </label>
            <label class="field">
                <span class="field-label">"API key"</span>
                <input
                    class="input"
                    type="password"
                    autocomplete="off"
                    data-testid="provider-key"
                    prop:value=move || key.get()
                    on:input=move |ev| key.set(event_target_value(&ev))
                />
                <span class="field-hint">{key_hint}</span>
            </label>
            <label class="field">
                <span class="field-label">"Name (optional)"</span>
                <input
                    class="input"
                    type="text"
                    data-testid="provider-name"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
            </label>
            <ActionError error />
            <div class="form-actions">
                <button type="button" class="button" on:click=move |_| adding.set(false)>
                    "Cancel"
                </button>
                <button
                    type="submit"
                    class="button button-primary"
                    data-testid="provider-save"
                    disabled=move || busy.get()
                >
                    {move || busy.get().then(|| view! { <Spinner /> }.into_any())}
                    {move || if busy.get() { "Checking…" } else { "Check and add" }}
                </button>
            </div>
        </form>
    }
}

/// The default model for new chats, and "Check" with the smallest real request.
#[component]
fn DefaultModel() -> impl IntoView {
    let chat = use_chat_state();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let checked = RwSignal::new(None::<String>);
    let on_choose = Callback::new(move |choice: ModelChoice| {
        checked.set(None);
        run_action(busy, true, false, error, async move {
            let overview = tauri::set_default_model(choice).await?;
            chat.models.set(overview);
            Ok(())
        });
    });
    let check = move |_| {
        let Some(choice) = chat.models.with_untracked(|m| m.default.clone()) else {
            return;
        };
        checked.set(None);
        run_action(busy, true, false, error, async move {
            tauri::check_model(choice.clone()).await?;
            checked.set(Some(format!(
                "{} answered: the key and the address work.",
                choice.model
            )));
            Ok(())
        });
    };
    move || {
        (!chat.models.with(|m| m.providers.is_empty())).then(|| {
            view! {
                <div class="card default-model" data-testid="default-model">
                    <label class="field">
                        <span class="field-label">"Default model for new chats"</span>
                        <ModelSelect
                            selected=Signal::derive(move || chat.models.with(|m| m.default.clone()))
                            on_choose
                            class="select"
                            testid="default-model-select"
                        />
                    </label>
                    <button
                        type="button"
                        class="button"
                        data-testid="check-model"
                        disabled=move || busy.get()
                        on:click=check
                    >
                        {move || busy.get().then(|| view! { <Spinner /> }.into_any())}
                        "Check"
                    </button>
                    {move || {
                        checked
                            .get()
                            .map(|text| {
                                view! {
                                    <p class="success-text" role="status" data-testid="check-result">
                                        {text}
                                    </p>
                                }.into_any()
                            })
                    }}
                    <ActionError error />
                </div>
            }.into_any()
        })
    }
}

/// How much text one attachment may carry to the model: saved when the field changes
/// (Enter or leaving it); a value out of range is said and nothing changes.
#[component]
fn AttachmentLimit() -> impl IntoView {
    let chat = use_chat_state();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let saved = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    let save = move || {
        let Some(field) = input.get_untracked() else {
            return;
        };
        let typed = field.value();
        let current = chat.models.with_untracked(|m| m.attachment_limit_kb);
        saved.set(false);
        let Ok(kb) = typed.trim().parse::<u32>() else {
            error.set(Some(ErrorInfo::new(
                switchboard_ipc::ErrorCode::InvalidSetting,
                "Type a whole number of KB, such as 200.",
            )));
            return;
        };
        if kb == current {
            error.set(None);
            return;
        }
        run_action(busy, true, false, error, async move {
            let overview = tauri::set_attachment_limit(kb).await?;
            chat.models.set(overview);
            saved.set(true);
            Ok(())
        });
    };
    view! {
        <div class="card attachment-limit" data-testid="attachment-limit">
            <label class="field">
                <span class="field-label">"Text per attachment"</span>
                <span class="input-with-unit">
                    <input
                        class="input input-number"
                        type="number"
                        inputmode="numeric"
                        min="1"
                        max="10240"
                        node_ref=input
                        data-testid="attachment-limit-input"
                        aria-describedby="attachment-limit-help"
                        prop:value=move || chat.models.with(|m| m.attachment_limit_kb.to_string())
                        on:change=move |_| save()
                        on:input=move |_| saved.set(false)
                    />
                    <span class="unit">"KB"</span>
                </span>
            </label>
            <p class="field-hint" id="attachment-limit-help">
                "Longer resources and prompts are cut to this before they go to the model, with a note on their chip."
            </p>
            {move || busy.get().then(|| view! { <Spinner /> }.into_any())}
            {move || {
                saved
                    .get()
                    .then(|| {
                        view! {
                            <p class="success-text" role="status" data-testid="attachment-limit-saved">
                                "Saved."
                            </p>
                        }.into_any()
                    })
            }}
            <ActionError error />
        </div>
    }
}

#[component]
fn ProviderCard(provider: ProviderSummary) -> impl IntoView {
    let chat = use_chat_state();
    let replacing = RwSignal::new(false);
    let new_key = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let confirming = RwSignal::new(false);
    let remove_busy = RwSignal::new(false);
    let remove_error = RwSignal::new(None::<ErrorInfo>);
    let id = StoredValue::new(provider.id.clone());
    let name = provider.name.clone();
    let count = provider.models.len();
    let save_key = move || {
        let key = new_key.get_untracked();
        run_action(busy, true, false, error, async move {
            tauri::replace_provider_key(id.get_value(), key).await?;
            new_key.set(String::new());
            replacing.set(false);
            chat.reload_models();
            Ok(())
        });
    };
    view! {
        <li class="card provider" data-testid="provider" data-name=provider.name.clone()>
            <div class="provider-head">
                <div>
                    <h2 class="provider-name">{provider.name.clone()}</h2>
                    <p class="provider-meta">
                        {format!(
                            "{} · {} · {}",
                            kind_label(provider.kind),
                            provider.base_url,
                            if count == 1 { "1 model".to_owned() } else { format!("{count} models") },
                        )}
                    </p>
                </div>
                <div class="provider-actions">
                <button
                    type="button"
                    class="button"
                    data-testid="refresh-models"
                    disabled=move || busy.get()
                    on:click=move |_| {
                        run_action(busy, true, false, error, async move {
                            tauri::refresh_models(id.get_value()).await?;
                            chat.reload_models();
                            Ok(())
                        });
                    }
                >
                    "Refresh models"
                </button>
                <button
                    type="button"
                    class="button button-danger-quiet"
                    data-testid="remove-provider"
                    on:click=move |_| confirming.set(true)
                >
                    "Remove"
                </button>
                </div>
            </div>
            <p class="provider-key" data-testid="provider-key-state">
                {if provider.has_key { "API key •••••" } else { "No API key" }}
                " · "
                <button
                    type="button"
                    class="link-button"
                    data-testid="replace-key"
                    on:click=move |_| replacing.set(true)
                >
                    {if provider.has_key { "Replace" } else { "Add a key" }}
                </button>
            </p>
            {move || {
                replacing
                    .get()
                    .then(|| {
                        view! {
                            <form
                                class="inline-form"
                                on:submit=move |ev| {
                                    ev.prevent_default();
                                    save_key();
                                }
                            >
                                <input
                                    class="input"
                                    type="password"
                                    autocomplete="off"
                                    aria-label="New API key"
                                    data-testid="new-key"
                                    prop:value=move || new_key.get()
                                    on:input=move |ev| new_key.set(event_target_value(&ev))
                                />
                                <button type="button" class="button" on:click=move |_| replacing.set(false)>
                                    "Cancel"
                                </button>
                                <button
                                    type="submit"
                                    class="button button-primary"
                                    data-testid="save-key"
                                    disabled=move || busy.get()
                                >
                                    {move || busy.get().then(|| view! { <Spinner /> }.into_any())}
                                    "Check and save"
                                </button>
                            </form>
                        }.into_any()
                    })
            }}
            <ActionError error />
            {move || {
                confirming
                    .get()
                    .then(|| {
                        let name = name.clone();
                        view! {
                            <ConfirmDialog
                                title=format!("Remove {name}?")
                                body="Its key is deleted from your keyring. Chats that used its models ask for another model."
                                confirm_label="Remove"
                                busy=remove_busy
                                error=remove_error
                                on_confirm=move |()| {
                                    run_action(remove_busy, true, false, remove_error, async move {
                                        let overview = tauri::remove_provider(id.get_value()).await?;
                                        chat.models.set(overview);
                                        confirming.set(false);
                                        Ok(())
                                    });
                                }
                                on_cancel=move |()| confirming.set(false)
                            />
                        }.into_any()
                    })
            }}
        </li>
    }
}
