//! Settings → Connectors: every connector with its state and what it offers, and the way to
//! add another.

use leptos::html;
use leptos::prelude::*;
use switchboard_ipc::{ConnectorId, ConnectorState, ErrorInfo, Standing};
use wasm_bindgen::JsCast;

use crate::add_dialog::AddDialog;
use crate::components::{
    Icon, ProblemView, Spinner, StatePill, counts_label, effect, keyed, shown, tone_class,
};
use crate::problem::ConnectorProblem;
use crate::state::{ListFocus, ListStatus, use_app_state};

/// What the body of the page shows; coarse on purpose, so the list below is only rebuilt
/// when the page changes shape, never when a single connector changes.
#[derive(Clone, Debug, PartialEq)]
enum Body {
    Loading,
    Failed(ErrorInfo),
    Empty,
    List,
}

#[component]
pub fn ConnectorsPage() -> impl IntoView {
    let state = use_app_state();
    let dialog_open = RwSignal::new(false);
    let add_button = NodeRef::<html::Button>::new();
    let heading = NodeRef::<html::H1>::new();

    effect(move || {
        if let Some(heading) = heading.get()
            && state.list_focus.get_untracked() == Some(ListFocus::Heading)
        {
            state.list_focus.set(None);
            let _ = heading.focus();
        }
    });

    let ids = Memo::new(move |_| {
        state
            .connectors
            .with(|list| list.iter().map(|c| c.id.clone()).collect::<Vec<_>>())
    });
    let body = Memo::new(move |_| {
        let empty = ids.with(Vec::is_empty);
        match state.list_status.get() {
            // A reload keeps showing what is known rather than blanking the page.
            ListStatus::Loading if empty => Body::Loading,
            ListStatus::Failed(err) if empty => Body::Failed(err),
            _ if empty => Body::Empty,
            _ => Body::List,
        }
    });

    let close_dialog = Callback::new(move |()| {
        dialog_open.set(false);
        if let Some(button) = add_button.get_untracked() {
            let _ = button.focus();
        }
    });

    view! {
        <section class="page-section" data-testid="connectors-page" aria-labelledby="connectors-title">
            <header class="page-header">
                <h1 id="connectors-title" class="page-title" tabindex="-1" node_ref=heading>
                    "Connectors"
                </h1>
                <p class="page-lead">
                    "Connectors let Switchboard use remote MCP servers in your chats: their tools, files and prompts."
                </p>
            </header>
            {move || match body.get() {
                Body::Loading => {
                    view! {
                        <div class="loading" role="status" data-testid="connectors-loading">
                            <Spinner />
                            "Loading your connectors…"
                        </div>
                    }
                        .into_any()
                }
                Body::Failed(problem) => {
                    view! {
                        <div class="card card-problem" role="alert">
                            <h2 class="card-title">"Your connectors could not be loaded"</h2>
                            <ProblemView problem on_retry=move || state.reload_connectors() />
                        </div>
                    }
                        .into_any()
                }
                Body::Empty => view! { <EmptyState /> }.into_any(),
                Body::List => {
                    view! {
                        <ul class="connector-list">
                            {keyed(
                                move || ids.get(),
                                |id| id.clone(),
                                |id| view! { <ConnectorRow id /> }.into_any(),
                            )}
                        </ul>
                    }
                        .into_any()
                }
            }}
            <div class="page-footer">
                <button
                    type="button"
                    class="button button-primary"
                    data-testid="add-connector-button"
                    node_ref=add_button
                    on:click=move |_| dialog_open.set(true)
                >
                    <Icon d="M8 3v10M3 8h10" size=14 stroke_width="1.8" />
                    "Add custom connector"
                </button>
            </div>
            {shown(
                move || dialog_open.get(),
                move || view! { <AddDialog on_close=close_dialog /> }.into_any(),
                || ().into_any(),
            )}
        </section>
    }
}

#[component]
fn EmptyState() -> impl IntoView {
    let state = use_app_state();
    // The settings could not be read and were kept aside: the list is empty because of
    // that, not because nothing was ever added.
    let lost = move || {
        state
            .notices
            .with(|notices| notices.iter().any(|n| n.notice.kept_file.is_some()))
    };
    view! {
        <div class="empty" data-testid="connectors-empty">
            <svg class="empty-art" viewBox="0 0 48 48" width="48" height="48" aria-hidden="true">
                <rect x="4" y="10" width="40" height="28" rx="8" fill="none" stroke="currentColor" stroke-width="2" />
                <circle cx="16" cy="24" r="4" fill="currentColor" />
                <circle cx="32" cy="24" r="4" fill="none" stroke="currentColor" stroke-width="2" />
                <path d="M20 24h8" stroke="currentColor" stroke-width="2" stroke-dasharray="2 3" />
            </svg>
            {shown(
                lost,
                || {
                    view! {
                        <h2 class="empty-title">"Add your connectors again"</h2>
                        <p class="empty-text">
                            "Your earlier connectors were in the file that could not be read (see the message above). Add your connectors again with “Add custom connector” below."
                        </p>
                    }
                        .into_any()
                },
                || {
                    view! {
                        <h2 class="empty-title">"No connectors yet"</h2>
                        <p class="empty-text">
                            "A connector lets Switchboard use a remote MCP server: its tools, files and prompts, right inside your chats. "
                            "All you need is the server's address, usually from a colleague or from the service's help page."
                        </p>
                        <p class="empty-text">"Choose “Add custom connector” below to add your first one."</p>
                    }
                        .into_any()
                },
            )}
        </div>
    }
}

#[component]
fn ConnectorRow(id: ConnectorId) -> impl IntoView {
    let state = use_app_state();
    let summary = {
        let id = id.clone();
        Memo::new(move |_| state.connector(&id))
    };
    let field = move |read: fn(&switchboard_ipc::ConnectorSummary) -> String| {
        move || summary.with(|s| s.as_ref().map(read).unwrap_or_default())
    };
    let connector_state = Signal::derive(move || {
        summary.with(|s| s.as_ref().map_or(ConnectorState::Connecting, |s| s.state))
    });
    let standing = Memo::new(move |_| {
        summary.with(|s| s.as_ref().map_or(Standing::Connecting, |s| s.standing()))
    });
    let counts = Memo::new(move |_| summary.with(|s| s.as_ref().and_then(|s| s.counts)));

    let button = NodeRef::<html::Button>::new();
    {
        let id = id.clone();
        effect(move || {
            if let Some(button) = button.get()
                && state.list_focus.get() == Some(ListFocus::Row(id.clone()))
            {
                state.list_focus.set(None);
                let _ = button.focus();
            }
        });
    }

    // The whole row opens the connector, not just its main button; clicks on the row's own
    // controls (Retry, Details) stop before they get here.
    let open = {
        let id = id.clone();
        move |ev: leptos::ev::MouseEvent| {
            let selecting_text = window()
                .get_selection()
                .ok()
                .flatten()
                .is_some_and(|s| !s.is_collapsed());
            let on_link = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|el| el.closest("a, summary, input").ok().flatten())
                .is_some();
            if !selecting_text && !on_link {
                state.open_connector(id.clone());
            }
        }
    };

    let row_id = id.0.clone();
    view! {
        <li
            class="connector-row"
            data-testid="connector-row"
            data-connector-id=row_id
            data-name=field(|s| s.name.clone())
            on:click=open
        >
            <button type="button" class="row-main" node_ref=button>
                <span class="row-text">
                    <span class="row-name" data-testid="connector-name">
                        {field(|s| s.name.clone())}
                    </span>
                    <span class="row-url" data-testid="connector-url">
                        {field(|s| s.url.clone())}
                    </span>
                </span>
                <span class="row-meta">
                    {move || {
                        counts
                            .get()
                            .map(|counts| {
                                view! {
                                    <span class="row-counts" data-testid="connector-counts">
                                        {counts_label(&counts)}
                                    </span>
                                }.into_any()
                            })
                    }}
                    <StatePill standing testid="connector-state" />
                </span>
                <Icon d="M6 3.5L10.5 8L6 12.5" size=16 stroke_width="1.6" class="row-chevron" />
            </button>
            {move || {
                (connector_state.get() == ConnectorState::SigningIn)
                    .then(|| {
                        view! {
                            <p class="row-hint" data-testid="connector-hint">
                                "Finish signing in in your browser"
                            </p>
                        }.into_any()
                    })
            }}
            {move || {
                (connector_state.get() != ConnectorState::SigningIn
                    && summary.with(|s| s.as_ref().is_some_and(|s| s.problem.is_some())))
                    .then(|| {
                        view! {
                            <div
                                class=move || format!("row-problem {}", tone_class(standing.get().tone()))
                                data-testid="connector-problem"
                            >
                                <ConnectorProblem id=id.clone() summary />
                            </div>
                        }.into_any()
                    })
            }}
        </li>
    }
}
