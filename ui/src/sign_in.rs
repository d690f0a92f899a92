//! Signing in: the sign-in part of the add dialog (automatic OAuth, an API key, or a username
//! and password), the "finish signing in in your browser" card, and the connector page's
//! sign-in section with Sign in, Sign out and Replace.
//!
//! Secrets typed here go to the core once, in the request that saves them; nothing the core
//! sends back contains them, so after saving only "•••••" can be shown.

use leptos::prelude::*;
use switchboard_ipc::{
    ConnectorId, ConnectorState, ConnectorSummary, ErrorInfo, SecretInput, SignInChoice,
    SignInMethod,
};

use crate::components::{
    ActionError, CollectAny, Fetched, Spinner, effect, run_action, shown, spawn_scoped,
};
use crate::state::{EditFocus, use_app_state};
use crate::tauri;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Automatic,
    ApiKey,
    Basic,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Automatic, Kind::ApiKey, Kind::Basic];

    fn label(self) -> &'static str {
        match self {
            Kind::Automatic => "Automatic",
            Kind::ApiKey => "API key",
            Kind::Basic => "Username and password",
        }
    }

    fn testid(self) -> &'static str {
        match self {
            Kind::Automatic => "sign-in-kind-automatic",
            Kind::ApiKey => "sign-in-kind-api-key",
            Kind::Basic => "sign-in-kind-basic",
        }
    }
}

/// What the person has typed into the sign-in fields so far.
#[derive(Clone, Copy)]
pub struct SignInDraft {
    pub kind: RwSignal<Kind>,
    header: RwSignal<String>,
    key: RwSignal<String>,
    username: RwSignal<String>,
    password: RwSignal<String>,
    client_id: RwSignal<String>,
    client_secret: RwSignal<String>,
    /// Editing a connector: its saved method, which an untouched form keeps.
    original: Option<Kind>,
    original_fields: StoredValue<[String; 3]>,
    /// Editing: a secret is saved and may stay (the address stays on the same server), so
    /// an untouched form is complete without typing it again.
    pub keeps_saved: RwSignal<bool>,
    /// Why the keyring cannot keep a secret, found as soon as a method that needs one was
    /// chosen (none while it is fine or not needed).
    pub keyring_problem: RwSignal<Option<ErrorInfo>>,
}

impl SignInDraft {
    pub fn new() -> Self {
        Self::from_method(&SignInMethod::default())
    }

    /// Starts from what is saved; secrets always start empty.
    pub fn from_method(method: &SignInMethod) -> Self {
        let (kind, header, username, client_id) = match method {
            SignInMethod::Automatic { client_id, .. } => (
                Kind::Automatic,
                String::new(),
                String::new(),
                client_id.clone().unwrap_or_default(),
            ),
            SignInMethod::ApiKey { header } => {
                (Kind::ApiKey, header.clone(), String::new(), String::new())
            }
            SignInMethod::Basic { username } => {
                (Kind::Basic, String::new(), username.clone(), String::new())
            }
        };
        Self {
            kind: RwSignal::new(kind),
            original_fields: StoredValue::new([
                header.clone(),
                username.clone(),
                client_id.clone(),
            ]),
            header: RwSignal::new(header),
            key: RwSignal::new(String::new()),
            username: RwSignal::new(username),
            password: RwSignal::new(String::new()),
            client_id: RwSignal::new(client_id),
            client_secret: RwSignal::new(String::new()),
            original: None,
            keeps_saved: RwSignal::new(false),
            keyring_problem: RwSignal::new(None),
        }
    }

    /// The sign-in of a connector being edited: its method, with nothing to type again
    /// unless something is changed (or the address moves to another server).
    pub fn editing(method: &SignInMethod, saved: bool) -> Self {
        let mut draft = Self::from_method(method);
        draft.original = Some(draft.kind.get_untracked());
        draft.keeps_saved.set(saved);
        draft
    }

    /// Editing, and something in the sign-in was touched (tracked).
    fn changed(&self) -> bool {
        let Some(original) = self.original else {
            return true;
        };
        let fields = self.original_fields.get_value();
        self.kind.get() != original
            || self.key.with(|k| !k.is_empty())
            || self.password.with(|p| !p.is_empty())
            || self.client_secret.with(|s| !s.is_empty())
            || self.header.with(|h| h.trim() != fields[0].trim())
            || self.username.with(|u| u.trim() != fields[1].trim())
            || self.client_id.with(|c| c.trim() != fields[2].trim())
    }

    /// An untouched edit that keeps what is saved (tracked).
    fn keeps(&self) -> bool {
        self.original == Some(Kind::Automatic) && !self.changed()
            || self.keeps_saved.get() && !self.changed()
    }

    /// What an edit changes: nothing when the form was left as it was and may stay.
    pub fn edit_choice(&self) -> Option<SignInChoice> {
        (!self.keeps()).then(|| self.choice())
    }

    /// Switches to "API key" with `key` in the key field (sent as `Authorization: Bearer`
    /// unless the person names another header).
    pub fn use_api_key(&self, key: String) {
        self.kind.set(Kind::ApiKey);
        self.key.set(key);
    }

    /// Whether everything the chosen kind needs is filled in (tracked).
    pub fn is_complete(&self) -> bool {
        if self.original.is_some() && self.keeps() {
            return true;
        }
        match self.kind.get() {
            Kind::Automatic => true,
            Kind::ApiKey => self.key.with(|k| !k.trim().is_empty()),
            Kind::Basic => {
                self.username.with(|u| !u.trim().is_empty())
                    && self.password.with(|p| !p.is_empty())
            }
        }
    }

    pub fn choice(&self) -> SignInChoice {
        let optional = |text: String| {
            let text = text.trim().to_owned();
            (!text.is_empty()).then_some(text)
        };
        match self.kind.get_untracked() {
            Kind::Automatic => SignInChoice::Automatic {
                client_id: optional(self.client_id.get_untracked()),
                client_secret: optional(self.client_secret.get_untracked()).map(SecretInput),
            },
            Kind::ApiKey => SignInChoice::ApiKey {
                header: optional(self.header.get_untracked()),
                key: SecretInput(self.key.get_untracked()),
            },
            Kind::Basic => SignInChoice::Basic {
                username: self.username.get_untracked(),
                password: SecretInput(self.password.get_untracked()),
            },
        }
    }
}

/// One labelled text field bound to a signal.
#[component]
fn Field(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    testid: &'static str,
    #[prop(optional)] secret: bool,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] hint: &'static str,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    view! {
        <div class="field">
            <label class="field-label" for=id>
                {label}
            </label>
            <input
                id=id
                class="input"
                type=if secret { "password" } else { "text" }
                autocomplete=if secret { "new-password" } else { "off" }
                autocapitalize="off"
                spellcheck="false"
                placeholder=placeholder
                aria-describedby=(!hint.is_empty()).then(|| hint_id.clone())
                data-testid=testid
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            {(!hint.is_empty()).then(|| view! { <p id=hint_id class="field-hint">{hint}</p> }.into_any())}
        </div>
    }
}

/// The sign-in part of a form: how to sign in, and the fields that way needs.
#[component]
pub fn SignInFields(draft: SignInDraft) -> impl IntoView {
    // A key or a password goes to the keyring: ask it now, not after they are typed.
    let keyring = Fetched::new(move || {
        let needs_keyring = draft.kind.get() != Kind::Automatic;
        async move {
            if needs_keyring {
                tauri::check_keyring().await.err()
            } else {
                None
            }
        }
    });
    effect(move || draft.keyring_problem.set(keyring.get().flatten()));
    view! {
        <fieldset class="sign-in-fields">
            <legend class="field-label">"Sign-in"</legend>
            <div class="segmented" role="radiogroup" aria-label="How to sign in">
                {Kind::ALL
                    .into_iter()
                    .map(|kind| {
                        view! {
                            <label class="segment" class:segment-on=move || draft.kind.get() == kind>
                                <input
                                    type="radio"
                                    name="sign-in-kind"
                                    data-testid=kind.testid()
                                    prop:checked=move || draft.kind.get() == kind
                                    on:change=move |_| draft.kind.set(kind)
                                />
                                {kind.label()}
                            </label>
                        }.into_any()
                    })
                    .collect_any()}
            </div>
            {move || {
                draft
                    .keyring_problem
                    .get()
                    .map(|problem| {
                        view! {
                            <div class="field-warning" role="alert" data-testid="keyring-problem">
                                <p>{problem.message}</p>
                            </div>
                        }.into_any()
                    })
            }}
            {move || match draft.kind.get() {
                Kind::Automatic => {
                    view! {
                        <p class="field-hint">
                            "If the server asks you to sign in, Switchboard opens its sign-in page in your browser."
                        </p>
                        <details class="advanced">
                            <summary data-testid="advanced-toggle">"Advanced settings"</summary>
                            <Field
                                id="sign-in-client-id"
                                label="Client ID (optional)"
                                value=draft.client_id
                                testid="sign-in-client-id"
                                hint="Only if the server's owner gave you one. Otherwise Switchboard registers itself. The connector's page shows the redirect address to allow for it."
                            />
                            <Field
                                id="sign-in-client-secret"
                                label="Client secret (optional)"
                                value=draft.client_secret
                                testid="sign-in-client-secret"
                                secret=true
                            />
                        </details>
                    }
                        .into_any()
                }
                Kind::ApiKey => {
                    // A header someone chose before is shown, not folded away.
                    let header_set = !draft.header.get_untracked().trim().is_empty();
                    view! {
                        <Field
                            id="sign-in-key"
                            label="API key"
                            value=draft.key
                            testid="sign-in-key"
                            secret=true
                            hint="You find it in the service's settings, usually under API keys. Kept in your system keyring, never in Switchboard's files."
                        />
                        <details class="sign-in-advanced" open=header_set>
                            <summary data-testid="sign-in-advanced">
                                "Advanced (only if the service's help says so)"
                            </summary>
                            <Field
                                id="sign-in-header"
                                label="Send the key in the header"
                                value=draft.header
                                testid="sign-in-header"
                                placeholder="Authorization"
                                hint="Empty sends it the usual way (Authorization: Bearer). Some services name another header, such as X-API-Key."
                            />
                        </details>
                    }
                        .into_any()
                }
                Kind::Basic => {
                    view! {
                        <Field
                            id="sign-in-username"
                            label="Username"
                            value=draft.username
                            testid="sign-in-username"
                        />
                        <Field
                            id="sign-in-password"
                            label="Password"
                            value=draft.password
                            testid="sign-in-password"
                            secret=true
                            hint="Kept in your system keyring, never in Switchboard's files."
                        />
                    }
                        .into_any()
                }
            }}
        </fieldset>
    }
}

/// "Finish signing in in your browser", while the core waits for the redirect.
#[component]
pub fn SigningInCard(id: ConnectorId) -> impl IntoView {
    let state = use_app_state();
    let error = RwSignal::new(None::<ErrorInfo>);
    let cancelling = RwSignal::new(false);
    let open_again = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            spawn_scoped(async move {
                error.set(tauri::open_sign_in_page(id).await.err());
            });
        }
    };
    let cancel = move |_| {
        run_action(
            cancelling,
            true,
            false,
            error,
            state.cancel_sign_in(id.clone()),
        );
    };
    view! {
        <div class="card status-card" role="status" data-testid="signing-in">
            <Spinner />
            <div class="status-body">
                <p class="status-title">"Finish signing in in your browser"</p>
                <p class="status-text">
                    "Switchboard opened the server's sign-in page in your browser. Switchboard comes back to the front by itself when you are done."
                </p>
                <div class="status-actions">
                    <button
                        type="button"
                        class="button button-small"
                        data-testid="sign-in-open-again"
                        on:click=open_again
                    >
                        "Open the page again"
                    </button>
                    <button
                        type="button"
                        class="button button-small"
                        data-testid="sign-in-cancel"
                        disabled=move || cancelling.get()
                        on:click=cancel
                    >
                        "Cancel"
                    </button>
                </div>
                <ActionError error />
            </div>
        </div>
    }
}

/// The label of the button that starts OAuth sign-in.
pub fn sign_in_label(summary: &ConnectorSummary) -> &'static str {
    if summary.sign_in.saved {
        "Sign in again"
    } else {
        "Sign in"
    }
}

/// "Sign in" for OAuth connectors; key and password connectors are fixed in the sign-in
/// section instead.
#[component]
pub fn SignInButton(id: ConnectorId, summary: Memo<Option<ConnectorSummary>>) -> impl IntoView {
    let state = use_app_state();
    let error = RwSignal::new(None::<ErrorInfo>);
    let starting = RwSignal::new(false);
    let start = move |_| run_action(starting, true, false, error, state.sign_in(id.clone()));
    let oauth = move || {
        summary.with(|s| {
            s.as_ref()
                .is_some_and(|s| matches!(s.sign_in.method, SignInMethod::Automatic { .. }))
        })
    };
    view! {
        {shown(
            oauth,
            move || {
                view! {
                    <button
                        type="button"
                        class="button button-small button-primary"
                        data-testid="sign-in-button"
                        disabled=move || starting.get()
                        on:click=start.clone()
                    >
                        {move || starting.get().then(|| view! { <Spinner /> }.into_any())}
                        {move || summary.with(|s| s.as_ref().map(sign_in_label).unwrap_or("Sign in"))}
                    </button>
                }
                    .into_any()
            },
            || ().into_any(),
        )}
        <ActionError error />
    }
}

/// What is true of the connector's sign-in, in a line: no secret, ever.
fn describe(method: &SignInMethod, saved: bool, state: ConnectorState) -> String {
    match method {
        SignInMethod::Automatic { client_id, .. } => {
            let status = match (saved, state) {
                (_, ConnectorState::SigningIn) => "Signing in in your browser…",
                (false, ConnectorState::Connected) => "No sign-in needed",
                (false, ConnectorState::NeedsSignIn) => "Not signed in",
                // Not answering (or off): whether it wants a sign-in is not known yet.
                (false, _) => "In your browser, if the server asks",
                (true, ConnectorState::NeedsSignIn) => "Your sign-in ended",
                (true, _) => "Signed in in your browser",
            };
            match client_id {
                Some(id) => format!("{status} · as client {id}"),
                None => status.to_owned(),
            }
        }
        SignInMethod::ApiKey { header } => {
            let sent = if header.eq_ignore_ascii_case("authorization") {
                String::new()
            } else {
                format!(" (sent as {header})")
            };
            format!(
                "API key{sent} · {}",
                if saved { "saved" } else { "missing" }
            )
        }
        SignInMethod::Basic { username } => format!(
            "Username {username} · password {}",
            if saved { "saved" } else { "missing" }
        ),
    }
}

/// The button that changes how the connector signs in, named for what it does.
fn change_label(method: &SignInMethod, saved: bool, state: ConnectorState) -> &'static str {
    match method {
        SignInMethod::Automatic { .. } if !saved && state == ConnectorState::Connected => {
            "Use an API key instead"
        }
        SignInMethod::Automatic { .. } => "Change how it signs in",
        SignInMethod::ApiKey { .. } => "Change key",
        SignInMethod::Basic { .. } => "Change password",
    }
}

/// The connector page's sign-in section: what is true of the sign-in, and the one thing to
/// do about it (Sign out, Change key, Change password; Sign in is in the problem's box,
/// where the page says why). Changing opens the Edit dialog at its sign-in.
#[component]
pub fn SignInSection(id: ConnectorId, summary: Memo<Option<ConnectorSummary>>) -> impl IntoView {
    let state = use_app_state();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let method =
        Memo::new(move |_| summary.with(|s| s.as_ref().map(|s| (s.sign_in.clone(), s.state))));
    let is_off =
        move || summary.with(|s| s.as_ref().is_some_and(|s| s.state == ConnectorState::Off));
    // Signing out hides its own button: the work belongs to the section, not to the view
    // that started it.
    let owner = Owner::current().expect("a reactive owner");
    let sign_out = {
        let id = id.clone();
        move |_| {
            let action = state.sign_out(id.clone());
            owner.with(|| run_action(busy, true, false, error, action));
        }
    };
    let change = move |_| {
        let focus = method.with_untracked(|m| match m {
            Some((m, state))
                if change_label(&m.method, m.saved, *state) == "Use an API key instead" =>
            {
                EditFocus::ApiKeyInstead
            }
            _ => EditFocus::Secret,
        });
        state.open_edit(id.clone(), focus);
    };
    view! {
        <section class="card sign-in-section" aria-labelledby="sign-in-title" data-testid="sign-in-section">
            <div class="sign-in-row">
                <div>
                    <h2 class="card-subtitle" id="sign-in-title">"Sign-in"</h2>
                    <p class="sign-in-summary" data-testid="sign-in-summary">
                        {move || method.get().map(|(m, state)| describe(&m.method, m.saved, state))}
                    </p>
                    {move || {
                        method
                            .with(|m| m.as_ref().and_then(|(m, _)| m.redirect_uri.clone()))
                            .map(|uri| {
                                view! {
                                    <p class="field-hint" data-testid="sign-in-redirect">
                                        "Your client ID must allow this redirect address: "
                                        <code class="selectable">{uri}</code>
                                    </p>
                                }.into_any()
                            })
                    }}
                </div>
                <div class="sign-in-actions">
                    {shown(
                        move || {
                            method
                                .with(|m| {
                                    m.as_ref()
                                        .is_some_and(|(m, state)| {
                                            m.saved && *state != ConnectorState::SigningIn
                                        })
                                })
                        },
                        move || {
                            view! {
                                <button
                                    type="button"
                                    class="button button-small"
                                    data-testid="sign-out-button"
                                    disabled=move || busy.get() || is_off()
                                    on:click=sign_out.clone()
                                >
                                    "Sign out"
                                </button>
                            }
                                .into_any()
                        },
                        || ().into_any(),
                    )}
                    <button
                        type="button"
                        class="button button-small"
                        data-testid="sign-in-replace"
                        disabled=move || {
                            busy.get()
                                || method.with(|m| m.as_ref().is_some_and(|(_, s)| *s == ConnectorState::SigningIn))
                        }
                        on:click=change
                    >
                        {move || {
                            method
                                .with(|m| {
                                    m.as_ref().map(|(m, state)| change_label(&m.method, m.saved, *state))
                                })
                                .unwrap_or("Change how it signs in")
                        }}
                    </button>
                </div>
            </div>
            <ActionError error />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_never_shows_a_secret_and_says_what_is_true() {
        let oauth = SignInMethod::default();
        assert_eq!(
            describe(&oauth, false, ConnectorState::Connected),
            "No sign-in needed"
        );
        assert_eq!(
            change_label(&oauth, false, ConnectorState::Connected),
            "Use an API key instead"
        );
        assert_eq!(
            describe(&oauth, true, ConnectorState::Connected),
            "Signed in in your browser"
        );
        assert_eq!(
            describe(&oauth, true, ConnectorState::NeedsSignIn),
            "Your sign-in ended"
        );
        assert_eq!(
            describe(&oauth, false, ConnectorState::NeedsSignIn),
            "Not signed in"
        );
        assert_eq!(
            describe(&oauth, false, ConnectorState::CantReach),
            "In your browser, if the server asks"
        );
        assert_eq!(
            describe(&oauth, false, ConnectorState::Off),
            "In your browser, if the server asks"
        );
        assert_eq!(
            describe(&oauth, false, ConnectorState::SigningIn),
            "Signing in in your browser…"
        );
        let key = SignInMethod::ApiKey {
            header: "X-API-Key".into(),
        };
        assert_eq!(
            describe(&key, true, ConnectorState::Connected),
            "API key (sent as X-API-Key) · saved"
        );
        assert_eq!(
            describe(&key, false, ConnectorState::NeedsSignIn),
            "API key (sent as X-API-Key) · missing"
        );
        assert_eq!(
            change_label(&key, true, ConnectorState::Connected),
            "Change key"
        );
        let bearer = SignInMethod::ApiKey {
            header: "Authorization".into(),
        };
        assert_eq!(
            describe(&bearer, true, ConnectorState::Connected),
            "API key · saved"
        );
        let basic = SignInMethod::Basic {
            username: "ada".into(),
        };
        assert_eq!(
            describe(&basic, true, ConnectorState::Connected),
            "Username ada · password saved"
        );
        assert_eq!(
            change_label(&basic, true, ConnectorState::Connected),
            "Change password"
        );
    }
}
