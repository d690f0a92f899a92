//! One connector: its state, the server behind it, and everything it offers. Every piece of
//! text from the server is untrusted and is rendered as plain text nodes, never as HTML.

use std::sync::Arc;

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use switchboard_ipc::{
    Catalog, ConnectorId, ConnectorState, Counts, ErrorCode, ErrorInfo, PromptInfo, ResourceInfo,
    ResourceTemplateInfo, ServerInfo, Standing, ToolInfo,
};

use crate::components::{
    ActionError, CollectAny, ConfirmDialog, Fetched, LongList, MoreMenu, ProblemView, RowView,
    Spinner, StatePill, effect, focus_when_mounted, format_size, grouped, run_action, shown,
    tone_class,
};
use crate::markdown::Markdown;
use crate::problem::ConnectorProblem;
use crate::sign_in::{SignInSection, SigningInCard};
use crate::sort;
use crate::state::EditFocus;
use crate::state::use_app_state;
use crate::tauri;
use switchboard_ipc::tools::{
    BulkAction, ConnectorTools, Limits, ToolEntry, ToolMode, ToolStanding,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Busy {
    Reconnect,
    Toggle,
    Remove,
}

#[component]
pub fn DetailPage(id: ConnectorId) -> impl IntoView {
    let state = use_app_state();
    let summary = {
        let id = id.clone();
        Memo::new(move |_| state.connector(&id))
    };
    // Refetched whenever the connector's summary changes (a connector-changed event), so
    // the page follows the connector from Connecting to Connected without a reload.
    let detail = {
        let id = id.clone();
        Fetched::new(move || {
            summary.track();
            tauri::connector_detail(id.clone())
        })
    };
    let current = Memo::new(move |_| {
        summary.get().or_else(|| {
            detail.with(|d| match d {
                Some(Ok(d)) => Some(d.summary.clone()),
                _ => None,
            })
        })
    });
    let connector_state = Memo::new(move |_| {
        current.with(|s| s.as_ref().map_or(ConnectorState::Connecting, |s| s.state))
    });
    let standing = Memo::new(move |_| {
        current.with(|s| s.as_ref().map_or(Standing::Connecting, |s| s.standing()))
    });
    let name = Memo::new(move |_| {
        current.with(|s| s.as_ref().map(|s| s.name.clone()).unwrap_or_default())
    });
    let url = move || current.with(|s| s.as_ref().map(|s| s.url.clone()).unwrap_or_default());
    let server = Memo::new(move |_| {
        detail.with(|d| match d {
            Some(Ok(d)) => d.server.clone(),
            _ => None,
        })
    });
    let catalog = Memo::new(move |_| {
        detail.with(|d| match d {
            Some(Ok(d)) => d.catalog.clone(),
            _ => None,
        })
    });
    let page_id = StoredValue::new(id.clone());
    // What the person chose for the tools: from the page's data, then from each answer.
    let tool_choices = RwSignal::new(ConnectorTools::default());
    // Once the tools were shown, they are no longer New on the next visit (this visit keeps
    // its New badges).
    let marked_seen = StoredValue::new(false);
    effect(move || {
        detail.with(|d| {
            if let Some(Ok(d)) = d {
                tool_choices.set(d.tools.clone());
                if d.catalog.is_some() && !marked_seen.get_value() {
                    marked_seen.set_value(true);
                    let id = page_id.get_value();
                    leptos::task::spawn_local(async move {
                        let _ = tauri::mark_tools_seen(id).await;
                    });
                }
            }
        });
    });
    let load_error = Memo::new(move |_| {
        detail.with(|d| match d {
            Some(Err(err)) => Some(err.clone()),
            _ => None,
        })
    });

    let is_off = move || connector_state.get() == ConnectorState::Off;
    // While the person signs in, nothing may pull the connector from under the browser.
    let signing_in = move || connector_state.get() == ConnectorState::SigningIn;
    let more_open = RwSignal::new(false);
    let busy = RwSignal::new(None::<Busy>);
    let action_error = RwSignal::new(None::<ErrorInfo>);
    let reconnect = {
        let id = id.clone();
        Callback::new(move |()| {
            run_action(
                busy,
                Some(Busy::Reconnect),
                None,
                action_error,
                state.reconnect(id.clone()),
            );
        })
    };
    let toggle = {
        let id = id.clone();
        move |_: leptos::ev::MouseEvent| {
            let enable = connector_state.get_untracked() == ConnectorState::Off;
            run_action(
                busy,
                Some(Busy::Toggle),
                None,
                action_error,
                state.set_enabled(id.clone(), enable),
            );
        }
    };

    let confirm_open = RwSignal::new(false);
    let remove_error = RwSignal::new(None::<ErrorInfo>);
    let more_button = NodeRef::<html::Button>::new();
    let close_confirm = Callback::new(move |()| {
        confirm_open.set(false);
        remove_error.set(None);
        if let Some(button) = more_button.get_untracked() {
            let _ = button.focus();
        }
    });
    // On success the state forgets the connector and brings the list back by itself.
    let confirm_remove = {
        let id = id.clone();
        Callback::new(move |()| {
            run_action(
                busy,
                Some(Busy::Remove),
                None,
                remove_error,
                state.remove(id.clone()),
            );
        })
    };

    let heading = NodeRef::<html::H1>::new();
    focus_when_mounted(heading);
    let back = {
        let id = id.clone();
        move |_| state.back_to_list(Some(id.clone()))
    };

    view! {
        <section class="page-section" data-testid="connector-detail" aria-labelledby="detail-name">
            <button type="button" class="back-link" data-testid="back-button" on:click=back>
                <span aria-hidden="true">"← "</span>
                "Connectors"
            </button>
            <header class="detail-header">
                <div class="detail-title-row">
                    <h1
                        id="detail-name"
                        class="page-title"
                        data-testid="detail-name"
                        tabindex="-1"
                        node_ref=heading
                    >
                        {move || name.get()}
                    </h1>
                    <StatePill standing testid="detail-state" />
                </div>
                <p class="detail-url">{url}</p>
                // One main button per state: the fix in the message box below, or Turn on
                // when the connector is off. The rest is quiet, Remove behind More.
                <div class="detail-actions">
                    <button
                        type="button"
                        class=move || if is_off() { "button button-primary" } else { "button" }
                        data-testid="toggle-enabled-button"
                        disabled=move || busy.get().is_some() || signing_in()
                        title=move || signing_in().then_some("Finish or cancel the sign-in first")
                        on:click=toggle
                    >
                        {move || (busy.get() == Some(Busy::Toggle)).then(|| view! { <Spinner /> }.into_any())}
                        {move || if is_off() { "Turn on" } else { "Turn off" }}
                    </button>
                    <button
                        type="button"
                        class="button"
                        data-testid="edit-button"
                        disabled=signing_in
                        on:click={
                            let id = id.clone();
                            move |_| state.open_edit(id.clone(), EditFocus::Address)
                        }
                    >
                        "Edit"
                    </button>
                    <MoreMenu
                        open=more_open
                        trigger=more_button
                        disabled=Signal::derive(move || busy.get().is_some() || signing_in())
                    >
                        <button
                            type="button"
                            class="menu-item"
                            role="menuitem"
                            data-testid="reconnect-button"
                            disabled=is_off
                            on:click=move |_| {
                                more_open.set(false);
                                reconnect.run(());
                            }
                        >
                            "Reconnect"
                        </button>
                        <button
                            type="button"
                            class="menu-item menu-item-danger"
                            role="menuitem"
                            data-testid="remove-button"
                            on:click=move |_| {
                                more_open.set(false);
                                confirm_open.set(true);
                            }
                        >
                            "Remove…"
                        </button>
                    </MoreMenu>
                </div>
            </header>
            <ActionError error=action_error />

            {
            let id = id.clone();
            move || match connector_state.get() {
                ConnectorState::Connecting => {
                    view! {
                        <div class="card status-card" role="status">
                            <Spinner />
                            <div>
                                <p class="status-title">"Connecting…"</p>
                                <p class="status-text">"Switchboard is reaching the server and asking what it offers."</p>
                            </div>
                        </div>
                    }
                        .into_any()
                }
                ConnectorState::Off => {
                    view! {
                        <div class="card status-card">
                            <div>
                                <p class="status-title">"This connector is off"</p>
                                <p class="status-text">"Its tools, resources and prompts are not used in chats. Turn it on to connect again."</p>
                            </div>
                        </div>
                    }
                        .into_any()
                }
                ConnectorState::SigningIn => view! { <SigningInCard id=id.clone() /> }.into_any(),
                ConnectorState::NeedsSignIn | ConnectorState::CantReach => {
                    view! {
                        <div class=move || format!("card card-problem {}", tone_class(standing.get().tone()))>
                            <ConnectorProblem id=id.clone() summary=current />
                        </div>
                    }
                        .into_any()
                }
                ConnectorState::Connected => {
                    view! {
                        {move || {
                            load_error
                                .get()
                                .map(|problem| {
                                    view! {
                                        <div class="card card-problem">
                                            <ProblemView problem on_retry=move || detail.refetch() />
                                        </div>
                                    }.into_any()
                                })
                        }}
                        {shown(
                            move || server.with(Option::is_some) || catalog.with(Option::is_some),
                            move || {
                                view! { <CatalogView catalog id=page_id.get_value() tool_choices /> }
                                    .into_any()
                            },
                            move || {
                                load_error
                                    .with(Option::is_none)
                                    .then(|| {
                                        view! {
                                            <div class="loading" role="status">
                                                <Spinner />
                                                "Loading what this server offers…"
                                            </div>
                                        }.into_any()
                                    })
                                    .into_any()
                            },
                        )}
                    }
                        .into_any()
                }
            }
            }

            <SignInSection id=id.clone() summary=current />
            <AboutServer id=id.clone() server />

            {shown(
                move || confirm_open.get(),
                move || {
                    view! {
                        <ConfirmDialog
                            title=format!("Remove {}?", name.get_untracked())
                            body="Switchboard will disconnect from this server and forget it. You can add it again later with its address."
                            confirm_label="Remove"
                            busy=Signal::derive(move || busy.get() == Some(Busy::Remove))
                            error=remove_error
                            on_confirm=confirm_remove
                            on_cancel=close_confirm
                        />
                    }
                        .into_any()
                },
                || ().into_any(),
            )}
        </section>
    }
}

/// What the server says of itself, folded at the bottom of the page: its name and version,
/// its instructions (written for the model, shown as Markdown) and the protocol it speaks.
/// Facts for the curious and for whoever helps them, not the person's next step.
#[component]
fn AboutServer(id: ConnectorId, server: Memo<Option<ServerInfo>>) -> impl IntoView {
    let link_error = RwSignal::new(None::<ErrorInfo>);
    let open_link = Callback::new(move |url: String| {
        leptos::task::spawn_local(async move {
            link_error.set(tauri::open_link(url).await.err());
        });
    });
    move || {
        let id = id.clone();
        server.get().map(move |server| {
            let ServerInfo {
                name,
                title,
                version,
                instructions_markdown,
                protocol_version,
                ..
            } = server;
            let title = title.filter(|t| *t != name);
            let version = Some(version).filter(|v| !v.trim().is_empty());
            view! {
                <details class="card about-server" data-testid="about-server">
                    <summary class="about-server-summary">"About this server"</summary>
                    <div class="about-server-body">
                        <dl class="facts">
                            <div class="fact">
                                <dt>"Server"</dt>
                                <dd>
                                    <span data-testid="detail-server-name">{name}</span>
                                    {title.map(|title| view! { <span class="muted">" · " {title}</span> }.into_any())}
                                </dd>
                            </div>
                            {version
                                .map(|version| {
                                    view! {
                                        <div class="fact">
                                            <dt>"Version"</dt>
                                            <dd data-testid="detail-server-version">{version}</dd>
                                        </div>
                                    }.into_any()
                                })}
                        </dl>
                        {(!instructions_markdown.is_empty())
                            .then(|| {
                                view! {
                                    <div class="instructions">
                                        <h2 class="card-subtitle">"What the server tells the model"</h2>
                                        <div class="instructions-text" data-testid="detail-instructions">
                                            <Markdown blocks=instructions_markdown on_link=open_link />
                                        </div>
                                    </div>
                                }.into_any()
                            })}
                        <ActionError error=link_error />
                        <ServerMessagesView id=id.clone() />
                        <p class="fine-print">"MCP protocol version " {protocol_version}</p>
                    </div>
                </details>
            }.into_any()
        })
    }
}

/// What the server logged since it connected, read when the person asks (a busy server may
/// log many a second; the core keeps the latest 500).
#[component]
fn ServerMessagesView(id: ConnectorId) -> impl IntoView {
    let messages = RwSignal::new(None::<switchboard_ipc::ServerMessages>);
    let error = RwSignal::new(None::<ErrorInfo>);
    let load = move |id: ConnectorId| {
        leptos::task::spawn_local(async move {
            match tauri::server_messages(id).await {
                Ok(read) => {
                    error.set(None);
                    messages.set(Some(read));
                }
                Err(err) => error.set(Some(err)),
            }
        });
    };
    let label = move || {
        if messages.with(Option::is_some) {
            "Show the latest"
        } else {
            "Show messages"
        }
    };
    view! {
        <div class="server-messages">
            <div class="server-messages-head">
                <h2 class="card-subtitle">"Messages from the server"</h2>
                <button
                    type="button"
                    class="button button-small"
                    data-testid="server-messages-show"
                    on:click=move |_| load(id.clone())
                >
                    {label}
                </button>
            </div>
            <ActionError error />
            {move || {
                messages
                    .get()
                    .map(|read| {
                        if read.messages.is_empty() {
                            return view! {
                                <p class="field-hint" data-testid="server-messages-none">
                                    "The server has sent no messages since it connected."
                                </p>
                            }
                                .into_any();
                        }
                        let older = (read.dropped > 0)
                            .then(|| {
                                view! {
                                    <p class="field-hint" data-testid="server-messages-dropped">
                                        {format!(
                                            "{} older messages are no longer kept.",
                                            crate::components::grouped(
                                                usize::try_from(read.dropped).unwrap_or(usize::MAX),
                                            ),
                                        )}
                                    </p>
                                }.into_any()
                            });
                        let count = read.messages.len();
                        view! {
                            {older}
                            <ol class="server-messages-list" data-testid="server-messages" data-count=count>
                                {read
                                    .messages
                                    .into_iter()
                                    .rev()
                                    .map(|m| {
                                        let level_class = format!("server-message-level level-{}", m.level);
                                        view! {
                                            <li class="server-message" data-testid="server-message">
                                                <span class="server-message-at">{m.at}</span>
                                                <span class=level_class>{m.level}</span>
                                                {m.logger.map(|l| view! { <span class="server-message-logger">{l}</span> }.into_any())}
                                                <span class="server-message-text">{m.text}</span>
                                            </li>
                                        }.into_any()
                                    })
                                    .collect_any()}
                            </ol>
                        }
                            .into_any()
                    })
            }}
        </div>
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Tools,
    Resources,
    Prompts,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::Tools, Tab::Resources, Tab::Prompts];

    fn label(self) -> &'static str {
        match self {
            Tab::Tools => "Tools",
            Tab::Resources => "Resources",
            Tab::Prompts => "Prompts",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Tab::Tools => "tools",
            Tab::Resources => "resources",
            Tab::Prompts => "prompts",
        }
    }

    /// Also the element id, which is unique as only one detail page is ever shown.
    fn testid(self) -> &'static str {
        match self {
            Tab::Tools => "tab-tools",
            Tab::Resources => "tab-resources",
            Tab::Prompts => "tab-prompts",
        }
    }

    fn panel_id(self) -> &'static str {
        match self {
            Tab::Tools => "panel-tools",
            Tab::Resources => "panel-resources",
            Tab::Prompts => "panel-prompts",
        }
    }

    fn count(self, counts: &Counts) -> u32 {
        match self {
            Tab::Tools => counts.tools,
            Tab::Resources => counts.resources.saturating_add(counts.resource_templates),
            Tab::Prompts => counts.prompts,
        }
    }
}

/// What the filter box looks at: names, titles and descriptions, not addresses.
trait Searchable {
    fn texts(&self) -> [Option<&str>; 3];

    /// `query` is already lowercased and trimmed.
    fn matches(&self, query: &str) -> bool {
        query.is_empty()
            || self
                .texts()
                .into_iter()
                .flatten()
                .any(|text| contains_lowercased(text, query))
    }
}

/// Whether `text`, lowercased, contains `query` (lowercase already). Run on every key for
/// each of thousands of items, so ASCII text (nearly all of it) is compared in place instead
/// of being lowercased into a new string first.
fn contains_lowercased(text: &str, query: &str) -> bool {
    if !text.is_ascii() {
        return sort::fold_case(text).contains(query);
    }
    let (text, query) = (text.as_bytes(), query.as_bytes());
    query.is_empty()
        || text
            .windows(query.len())
            .any(|window| window.eq_ignore_ascii_case(query))
}

impl Searchable for ToolInfo {
    fn texts(&self) -> [Option<&str>; 3] {
        [
            Some(&self.name),
            self.title.as_deref(),
            self.description.as_deref(),
        ]
    }
}

impl Searchable for ResourceInfo {
    fn texts(&self) -> [Option<&str>; 3] {
        [
            Some(&self.name),
            self.title.as_deref(),
            self.description.as_deref(),
        ]
    }
}

impl Searchable for ResourceTemplateInfo {
    fn texts(&self) -> [Option<&str>; 3] {
        [
            Some(&self.name),
            self.title.as_deref(),
            self.description.as_deref(),
        ]
    }
}

impl Searchable for PromptInfo {
    fn texts(&self) -> [Option<&str>; 3] {
        [
            Some(&self.name),
            self.title.as_deref(),
            self.description.as_deref(),
        ]
    }
}

/// A list entry: (catalog generation, position in the catalog). Stable while the filter
/// changes, so only the rows that appear or disappear are touched, and all new when the
/// server's catalog itself changed, so no row keeps showing an old description. A row reads
/// its item from the catalog when it is drawn: a key copies no item.
type Keyed = (u32, usize);

fn keep_matching<T: Searchable>(items: &[T], query: &str, generation: u32) -> Vec<Keyed> {
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.matches(query))
        .map(|(index, _)| (generation, index))
        .collect()
}

/// The item a row shows, from the catalog it was listed from.
fn item_at<T: Clone>(
    catalog: Memo<Option<Catalog>>,
    list: fn(&Catalog) -> &Vec<T>,
    index: usize,
) -> Option<T> {
    catalog.with_untracked(|c| c.as_ref().and_then(|c| list(c).get(index).cloned()))
}

/// What a tool's row is assumed to take before it is drawn and measured (name, a line or
/// two of description, the control).
const TOOL_ROW_ESTIMATE: f64 = 110.0;
/// A tool's row is heavy (its modes, badges, and a changed definition's diff): about 1.3 ms
/// to build in the release window while its limits form was built with it, ~0.7 ms since
/// that form waits to be opened. Drawn whole below 150 rows (the limit for all lists then),
/// the key that left 138 tools of 2,004 took 155 to 166 ms to show (`cargo xtask bench`,
/// tools). So tool lists are drawn in part from about what the view and its margins hold.
const TOOLS_DRAWN_WHOLE_BELOW: usize = 30;
/// A resource's or template's row: name, address, a line of description.
const RESOURCE_ROW_ESTIMATE: f64 = 80.0;
/// A prompt's row: name, a line of description, what it asks for.
const PROMPT_ROW_ESTIMATE: f64 = 90.0;

fn row_key(row: &Keyed) -> Keyed {
    *row
}

fn matching<T>(
    catalog: Memo<Option<Catalog>>,
    query: Memo<String>,
    generation: Memo<u32>,
    list: fn(&Catalog) -> &Vec<T>,
) -> Memo<Vec<Keyed>>
where
    T: Searchable + Send + Sync + 'static,
{
    Memo::new(move |_| {
        let query = query.get();
        let generation = generation.get();
        catalog.with(|c| {
            c.as_ref()
                .map(|c| keep_matching(list(c), &query, generation))
                .unwrap_or_default()
        })
    })
}

#[component]
fn CatalogView(
    catalog: Memo<Option<Catalog>>,
    id: ConnectorId,
    tool_choices: RwSignal<ConnectorTools>,
) -> impl IntoView {
    let tab = RwSignal::new(Tab::Tools);
    let id = StoredValue::new(id);
    let tool_busy = RwSignal::new(false);
    let tool_error = RwSignal::new(None::<ErrorInfo>);
    let choose_mode = Callback::new(move |(tool, mode): (String, ToolMode)| {
        run_action(tool_busy, true, false, tool_error, async move {
            let tools = tauri::set_tool_mode(id.get_value(), tool, mode).await?;
            tool_choices.set(tools);
            Ok(())
        });
    });
    let set_limits = Callback::new(move |(tool, limits): (String, Limits)| {
        run_action(tool_busy, true, false, tool_error, async move {
            let tools = tauri::set_tool_limits(id.get_value(), Some(tool), limits).await?;
            tool_choices.set(tools);
            Ok(())
        });
    });
    let bulk = move |action: BulkAction| {
        run_action(tool_busy, true, false, tool_error, async move {
            let tools = tauri::bulk_tools(id.get_value(), action).await?;
            tool_choices.set(tools);
            Ok(())
        });
    };
    let filter = RwSignal::new(String::new());
    let query = Memo::new(move |_| filter.with(|f| sort::fold_case(f.trim())));
    let generation = Memo::new(move |previous: Option<&u32>| {
        catalog.track();
        previous.map_or(0, |g| g.wrapping_add(1))
    });
    let counts =
        Memo::new(move |_| catalog.with(|c| c.as_ref().map(Catalog::counts).unwrap_or_default()));

    let tools = matching(catalog, query, generation, |c| &c.tools);
    // Each tool's choices by name: one pass per change, not one search per row.
    let entries = Memo::new(move |_| {
        tool_choices.with(|t| {
            t.entries
                .iter()
                .map(|e| (e.name.clone(), e.clone()))
                .collect::<std::collections::HashMap<_, _>>()
        })
    });
    let tool_row: RowView<Keyed> = Arc::new(move |(_, index)| {
        item_at(catalog, |c| &c.tools, index)
            .map(|tool| {
                let name = tool.name.clone();
                // A memo: a flip changes one tool's entry, and only that row redraws.
                let entry = Memo::new(move |_| entries.with(|e| e.get(&name).cloned()));
                view! { <ToolItem tool entry=entry.into() choose_mode set_limits busy=tool_busy error=tool_error /> }.into_any()
            })
            .into_any()
    });
    let resources = matching(catalog, query, generation, |c| &c.resources);
    let templates = matching(catalog, query, generation, |c| &c.resource_templates);
    let prompts = matching(catalog, query, generation, |c| &c.prompts);

    let tab_buttons = Tab::ALL.map(|_| NodeRef::<html::Button>::new());
    // Arrow keys move between tabs and select them at once (the WAI-ARIA "automatic
    // activation" pattern); Tab leaves the tab list for the filter and the panel.
    let on_tab_key = move |ev: KeyboardEvent| {
        let current = Tab::ALL
            .iter()
            .position(|t| *t == tab.get_untracked())
            .unwrap_or(0);
        let last = Tab::ALL.len() - 1;
        let next = match ev.key().as_str() {
            "ArrowRight" => {
                if current == last {
                    0
                } else {
                    current + 1
                }
            }
            "ArrowLeft" => {
                if current == 0 {
                    last
                } else {
                    current - 1
                }
            }
            "Home" => 0,
            "End" => last,
            _ => return,
        };
        ev.prevent_default();
        tab.set(Tab::ALL[next]);
        if let Some(button) = tab_buttons[next].get_untracked() {
            let _ = button.focus();
        }
    };

    let tabs = Tab::ALL
        .into_iter()
        .zip(tab_buttons)
        .map(|(this, node)| {
            let selected = move || tab.get() == this;
            view! {
                <button
                    type="button"
                    role="tab"
                    class="tab"
                    id=this.testid()
                    data-testid=this.testid()
                    aria-selected=move || if selected() { "true" } else { "false" }
                    aria-controls=move || selected().then_some(this.panel_id())
                    tabindex=move || if selected() { "0" } else { "-1" }
                    node_ref=node
                    on:click=move |_| tab.set(this)
                >
                    {this.label()}
                    " "
                    <span class="tab-count">{move || counts.with(|c| this.count(c))}</span>
                </button>
            }
            .into_any()
        })
        .collect_any();

    view! {
        <div class="catalog">
            <div class="catalog-toolbar">
                <div class="tabs" role="tablist" aria-label="What this server offers" on:keydown=on_tab_key>
                    {tabs}
                </div>
                <input
                    type="search"
                    class="input input-search"
                    data-testid="detail-filter"
                    aria-label=move || format!("Filter {} by name or description", tab.get().noun())
                    placeholder=move || format!("Filter {}", tab.get().noun())
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </div>
            <div
                class="tabpanel"
                role="tabpanel"
                id=move || tab.get().panel_id()
                aria-labelledby=move || tab.get().testid()
                tabindex="0"
            >
                {move || match tab.get() {
                    Tab::Tools => {
                        view! {
                            <ListNote
                                tab=Tab::Tools
                                counts
                                shown=Signal::derive(move || tools.with(Vec::len))
                                query
                            />
                            <div class="tool-bulk" role="group" aria-label="All tools">
                                {[
                                    (BulkAction::AllowReadOnly, "bulk-allow-read-only", "Allow tools that say they only read"),
                                    (BulkAction::AskForAll, "bulk-ask", "Ask for all"),
                                    (BulkAction::TurnAllOff, "bulk-off", "Turn all off"),
                                ]
                                    .into_iter()
                                    .map(|(action, testid, text)| {
                                        view! {
                                            <button
                                                type="button"
                                                class="button button-small"
                                                data-testid=testid
                                                disabled=move || tool_busy.get()
                                                on:click=move |_| bulk(action)
                                            >
                                                {text}
                                            </button>
                                        }.into_any()
                                    })
                                    .collect_any()}
                            </div>
                            <ToolOptions id=id.get_value() tool_choices busy=tool_busy error=tool_error />
                            <ActionError error=tool_error />
                            <LongList
                                items=Signal::from(tools)
                                key=row_key
                                estimate=TOOL_ROW_ESTIMATE
                                drawn_whole_below=TOOLS_DRAWN_WHOLE_BELOW
                                class="items"
                                testid="tool-list"
                                row=Arc::clone(&tool_row)
                            />
                        }
                            .into_any()
                    }
                    Tab::Resources => {
                        view! {
                            <ListNote
                                tab=Tab::Resources
                                counts
                                shown=Signal::derive(move || resources.with(Vec::len) + templates.with(Vec::len))
                                query
                            />
                            <LongList
                                items=Signal::from(resources)
                                key=row_key
                                estimate=RESOURCE_ROW_ESTIMATE
                                class="items"
                                testid="resource-list"
                                row=Arc::new(move |(_, index)| {
                                    item_at(catalog, |c| &c.resources, index)
                                        .map(|resource| view! { <ResourceItem resource /> }.into_any())
                                        .into_any()
                                })
                            />
                            {shown(
                                move || templates.with(|t| !t.is_empty()),
                                move || {
                                    view! {
                                        <h3 class="subheading">"Templates"</h3>
                                        <p class="subheading-hint">
                                            "Addresses with blanks to fill in, such as a file name or an ID."
                                        </p>
                                        <LongList
                                            items=Signal::from(templates)
                                            key=row_key
                                            estimate=RESOURCE_ROW_ESTIMATE
                                            class="items"
                                            testid="template-list"
                                            row=Arc::new(move |(_, index)| {
                                                item_at(catalog, |c| &c.resource_templates, index)
                                                    .map(|template| view! { <TemplateItem template /> }.into_any())
                                                    .into_any()
                                            })
                                        />
                                    }
                                        .into_any()
                                },
                                || ().into_any(),
                            )}
                        }
                            .into_any()
                    }
                    Tab::Prompts => {
                        view! {
                            <ListNote
                                tab=Tab::Prompts
                                counts
                                shown=Signal::derive(move || prompts.with(Vec::len))
                                query
                            />
                            <LongList
                                items=Signal::from(prompts)
                                key=row_key
                                estimate=PROMPT_ROW_ESTIMATE
                                class="items"
                                testid="prompt-list"
                                row=Arc::new(move |(_, index)| {
                                    item_at(catalog, |c| &c.prompts, index)
                                        .map(|prompt| view! { <PromptItem prompt /> }.into_any())
                                        .into_any()
                                })
                            />
                        }
                            .into_any()
                    }
                }}
            </div>
        </div>
    }
}

/// Says why a list is empty (the server offers nothing of the kind, or the filter hides
/// it), or, while a filter is on, how much of the list it shows ("Showing 1 of 2,004 tools").
#[component]
fn ListNote(
    tab: Tab,
    counts: Memo<Counts>,
    shown: Signal<usize>,
    query: Memo<String>,
) -> impl IntoView {
    move || {
        let total = counts.with(|c| tab.count(c));
        if total == 0 {
            Some(format!("This server offers no {}.", tab.noun()))
        } else if shown.get() == 0 {
            Some(format!("No {} match “{}”.", tab.noun(), query.get()))
        } else if !query.with(String::is_empty) {
            Some(format!(
                "Showing {} of {} {}",
                grouped(shown.get()),
                grouped(total as usize),
                tab.noun()
            ))
        } else {
            None
        }
        .map(|text| view! { <p class="list-empty" data-testid="list-note">{text}</p> }.into_any())
    }
}

#[component]
fn ItemHead(
    name: String,
    title: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let title = title.filter(|t| !t.trim().is_empty() && *t != name);
    let name_class = if title.is_some() {
        "item-name"
    } else {
        "item-name item-name-primary"
    };
    view! {
        <div class="item-head">
            {title.map(|title| view! { <span class="item-title">{title}</span> }.into_any())}
            <code class=name_class data-testid="item-name">
                {name}
            </code>
            {children.map(|children| children())}
        </div>
    }
}

/// Server descriptions can run to pages; the first lines are usually enough.
#[component]
fn Description(text: String) -> impl IntoView {
    let long = text.chars().count() > 240 || text.lines().count() > 3;
    let expanded = RwSignal::new(false);
    view! {
        <p class="item-desc" class:clamped=move || long && !expanded.get()>
            {text}
        </p>
        {long
            .then(|| {
                view! {
                    <button
                        type="button"
                        class="link-button"
                        aria-expanded=move || if expanded.get() { "true" } else { "false" }
                        on:click=move |_| expanded.update(|e| *e = !*e)
                    >
                        {move || if expanded.get() { "Show less" } else { "Show more" }}
                    </button>
                }.into_any()
            })}
    }
}

/// What the server claims about a tool, in words; claims grant nothing.
fn claims(annotations: Option<&serde_json::Value>) -> Vec<&'static str> {
    let says = |key: &str| {
        annotations
            .and_then(|a| a.get(key))
            .and_then(serde_json::Value::as_bool)
    };
    let mut out = Vec::new();
    if says("readOnlyHint") == Some(true) {
        out.push("Says it only reads");
    } else if says("destructiveHint") != Some(false) && annotations.is_some() {
        out.push("Says it may delete or change things");
    }
    if says("openWorldHint") == Some(true) {
        out.push("Says it reaches outside");
    }
    out
}

#[component]
fn ToolItem(
    tool: ToolInfo,
    entry: Signal<Option<ToolEntry>>,
    choose_mode: Callback<(String, ToolMode)>,
    set_limits: Callback<(String, Limits)>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<ErrorInfo>>,
) -> impl IntoView {
    let ToolInfo {
        name,
        title,
        description,
        annotations,
        ..
    } = tool;
    let now_description = description.clone();
    let said = claims(annotations.as_ref());
    let standing = move || entry.with(|e| e.as_ref().map(|e| e.standing));
    let mode_of = move || match standing() {
        Some(ToolStanding::Allowed) => ToolMode::Allow,
        Some(ToolStanding::Off) => ToolMode::Off,
        _ => ToolMode::Ask,
    };
    let label = title.clone().unwrap_or_else(|| name.clone());
    let control_name = name.clone();
    let limits_name = StoredValue::new(name.clone());
    let limits =
        Signal::derive(move || entry.with(|e| e.as_ref().map(|e| e.limits).unwrap_or_default()));
    let save_limits =
        Callback::new(move |limits: Limits| set_limits.run((limits_name.get_value(), limits)));
    let used_today = move || entry.with(|e| e.as_ref().map_or(0, |e| e.used_today));
    let limits_opened = RwSignal::new(false);
    view! {
        <li class="item tool-item" data-testid="tool-item" data-name=name.clone()>
            <div class="tool-item-row">
                <div class="tool-item-text">
                    <ItemHead name=name.clone() title>
                        {said
                            .into_iter()
                            .map(|claim| {
                                view! {
                                    <span class="badge badge-claim" title="What the server says about this tool. It allows nothing by itself.">
                                        {claim}
                                    </span>
                                }.into_any()
                            })
                            .collect_any()}
                        {move || {
                            (standing() == Some(ToolStanding::Changed))
                                .then(|| view! { <span class="badge badge-warning" data-testid="tool-changed">"Changed"</span> }.into_any())
                        }}
                        {move || {
                            entry
                                .with(|e| e.as_ref().is_some_and(|e| e.is_new))
                                .then(|| view! { <span class="badge badge-new" data-testid="tool-new">"New"</span> }.into_any())
                        }}
                    </ItemHead>
                    {description.clone().map(|text| view! { <Description text /> }.into_any())}
                    // The form is built the first time the person opens it, not with every
                    // row: a list of thousands redraws the rows in view on each key.
                    <details
                        class="tool-limits"
                        on:toggle=move |ev| {
                            if event_target::<web_sys::Element>(&ev).has_attribute("open") {
                                limits_opened.set(true);
                            }
                        }
                    >
                        <summary data-testid="tool-limits-toggle">
                            {move || {
                                let has = entry.with(|e| e.as_ref().is_some_and(|e| !e.limits.is_empty()));
                                if has { "Limits (set)" } else { "Limits" }
                            }}
                        </summary>
                        {move || {
                            limits_opened
                                .get()
                                .then(|| {
                                    view! {
                                        <div class="tool-limits-fields">
                                            <LimitFields limits on_save=save_limits error testid="tool" />
                                            <span class="tool-used" data-testid="tool-used-today">
                                                {move || match used_today() {
                                                    0 => "Not used today".to_owned(),
                                                    1 => "Used once today".to_owned(),
                                                    n => format!("Used {n} times today"),
                                                }}
                                            </span>
                                        </div>
                                    }.into_any()
                                })
                        }}
                    </details>
                    {move || {
                        entry
                            .with(|e| {
                                e.as_ref()
                                    .and_then(|e| Some((e.before.clone()?, e.input_changes.clone())))
                            })
                            .map(|(before, inputs)| {
                                let described = |d: Option<String>| {
                                    d.unwrap_or_else(|| "(no description)".into())
                                };
                                let description_changed = before.description != now_description;
                                let other = !description_changed && inputs.is_empty();
                                view! {
                                    <div class="tool-changed" data-testid="tool-changed-detail">
                                        <p>
                                            "The server changed this tool since you allowed it, so Switchboard asks again before each use."
                                        </p>
                                        {description_changed
                                            .then(|| {
                                                view! {
                                                    <dl class="tool-diff" data-testid="tool-changed-description">
                                                        <dt>"Description when you allowed it"</dt>
                                                        <dd class="tool-diff-before">{described(before.description.clone())}</dd>
                                                        <dt>"Description now"</dt>
                                                        <dd class="tool-diff-now">{described(now_description.clone())}</dd>
                                                    </dl>
                                                }.into_any()
                                            })}
                                        {(!inputs.is_empty())
                                            .then(|| {
                                                view! {
                                                    <ul class="tool-diff-inputs" data-testid="tool-changed-inputs">
                                                        {inputs.into_iter().map(|line| view! { <li>{line}</li> }.into_any()).collect_any()}
                                                    </ul>
                                                }.into_any()
                                            })}
                                        {other
                                            .then(|| {
                                                view! {
                                                    <p class="tool-diff-other">
                                                        "What the server says about how the tool behaves changed."
                                                    </p>
                                                }.into_any()
                                            })}
                                    </div>
                                }.into_any()
                            })
                    }}
                </div>
                // A fieldset: one `disabled` for its three buttons, one update per row.
                <fieldset
                    class="segmented"
                    role="radiogroup"
                    aria-label=format!("Whether the model may use {label}")
                    data-testid="tool-mode"
                    disabled=move || busy.get()
                >
                    {[(ToolMode::Allow, "Allow"), (ToolMode::Ask, "Ask"), (ToolMode::Off, "Off")]
                        .into_iter()
                        .map(|(mode, text)| {
                            let name = control_name.clone();
                            let testid = match mode {
                                ToolMode::Allow => "tool-mode-allow",
                                ToolMode::Ask => "tool-mode-ask",
                                ToolMode::Off => "tool-mode-off",
                            };
                            view! {
                                <button
                                    type="button"
                                    role="radio"
                                    class="segment"
                                    data-testid=testid
                                    aria-checked=move || (mode_of() == mode).to_string()
                                    on:click=move |_| {
                                        if mode_of() != mode || standing() == Some(ToolStanding::Changed) {
                                            choose_mode.run((name.clone(), mode));
                                        }
                                    }
                                >
                                    {text}
                                </button>
                            }.into_any()
                        })
                        .collect_any()}
                </fieldset>
            </div>
        </li>
    }
}

#[component]
fn ResourceItem(resource: ResourceInfo) -> impl IntoView {
    let ResourceInfo {
        uri,
        name,
        title,
        description,
        mime_type,
        size,
    } = resource;
    view! {
        <li class="item" data-testid="resource-item">
            <ItemHead name title>
                {mime_type.map(|mime| view! { <span class="badge">{mime}</span> }.into_any())}
                {size.map(|size| view! { <span class="item-size">{format_size(size)}</span> }.into_any())}
            </ItemHead>
            <code class="item-uri">{uri}</code>
            {description.map(|text| view! { <Description text /> }.into_any())}
        </li>
    }
}

#[component]
fn TemplateItem(template: ResourceTemplateInfo) -> impl IntoView {
    let ResourceTemplateInfo {
        uri_template,
        name,
        title,
        description,
        mime_type,
        ..
    } = template;
    view! {
        <li class="item" data-testid="resource-template-item">
            <ItemHead name title>
                {mime_type.map(|mime| view! { <span class="badge">{mime}</span> }.into_any())}
            </ItemHead>
            <code class="item-uri">{uri_template}</code>
            {description.map(|text| view! { <Description text /> }.into_any())}
        </li>
    }
}

#[component]
fn PromptItem(prompt: PromptInfo) -> impl IntoView {
    let PromptInfo {
        name,
        title,
        description,
        arguments,
    } = prompt;
    let arguments = (!arguments.is_empty()).then(|| {
        view! {
            <div class="args">
                <span class="args-label">"Asks for"</span>
                <ul class="args-list">
                    {arguments
                        .into_iter()
                        .map(|arg| {
                            view! {
                                <li class="arg" title=arg.description.clone().unwrap_or_default()>
                                    <code>{arg.name}</code>
                                    {arg.required.then(|| view! { <span class="arg-required">"required"</span> }.into_any())}
                                </li>
                            }.into_any()
                        })
                        .collect_any()}
                </ul>
            </div>
        }.into_any()
    });
    view! {
        <li class="item" data-testid="prompt-item">
            <ItemHead name title />
            {description.map(|text| view! { <Description text /> }.into_any())}
            {arguments}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_matches_name_title_and_description_ignoring_case() {
        let tool = ToolInfo {
            name: "search_issues".into(),
            title: Some("Search issues".into()),
            description: Some("Finds GitHub issues".into()),
            read_only_hint: None,
            input_schema: Default::default(),
            annotations: None,
            output_schema: None,
        };
        assert!(tool.matches(""));
        assert!(tool.matches("issues"));
        assert!(tool.matches("github"));
        assert!(!tool.matches("pull request"));
    }

    #[test]
    fn the_in_place_match_agrees_with_lowercasing_first() {
        for (text, query) in [
            ("Budget 2024 Report", "budget 20"),
            ("Budget 2024 Report", "report"),
            ("Budget 2024 Report", "reports"),
            ("ÉTÉ Plan", "été"),
            ("Straße", "straße"),
            ("abc", ""),
            ("", "a"),
            ("ab", "abc"),
        ] {
            assert_eq!(
                contains_lowercased(text, query),
                sort::fold_case(text).contains(query),
                "{text:?} {query:?}"
            );
        }
    }
}

/// The connector's own tool settings: limits for all its tools together, how long a call
/// may take, and whether its server may ask the person for input or the model for text.
#[component]
fn ToolOptions(
    id: ConnectorId,
    tool_choices: RwSignal<ConnectorTools>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<ErrorInfo>>,
) -> impl IntoView {
    let id = StoredValue::new(id);
    let timeout = NodeRef::<html::Input>::new();
    let limits = Signal::derive(move || tool_choices.with(|t| t.settings.limits));
    let save_limits = Callback::new(move |limits: Limits| {
        run_action(busy, true, false, error, async move {
            let tools = tauri::set_connector_limits(id.get_value(), limits).await?;
            tool_choices.set(tools);
            Ok(())
        });
    });
    let save_options = move |elicitation: Option<bool>, sampling: Option<bool>| {
        let Ok(Some(secs)) = read_number(timeout) else {
            error.set(Some(ErrorInfo::new(
                ErrorCode::InvalidSetting,
                "Type a whole number of seconds.",
            )));
            return;
        };
        let settings = tool_choices.with_untracked(|t| t.settings.clone());
        let request = switchboard_ipc::tools::SetToolOptionsRequest {
            connector_id: id.get_value(),
            call_timeout_secs: secs,
            allow_elicitation: elicitation.unwrap_or(settings.allow_elicitation),
            allow_sampling: sampling.unwrap_or(settings.allow_sampling),
        };
        run_action(busy, true, false, error, async move {
            let tools = tauri::set_tool_options(request).await?;
            tool_choices.set(tools);
            Ok(())
        });
    };
    let value = move |pick: fn(&ConnectorTools) -> Option<u32>| {
        tool_choices.with(|t| pick(t).map(|n| n.to_string()).unwrap_or_default())
    };
    view! {
        <details class="tool-options" data-testid="tool-options">
            <summary>"Settings for all of this connector's tools"</summary>
            <div class="tool-limits-fields">
                <LimitFields limits on_save=save_limits error testid="connector" />
                <span class="tool-used" data-testid="connector-used-today">
                    {move || match tool_choices.with(|t| t.used_today) {
                        0 => "No calls today".to_owned(),
                        1 => "1 call today".to_owned(),
                        n => format!("{n} calls today"),
                    }}
                </span>
            </div>
            <div class="tool-limits-fields">
                <label class="field field-inline">
                    <span class="field-label">"Stop a call after (seconds)"</span>
                    <input
                        class="input input-number"
                        type="number"
                        min="1"
                        max="3600"
                        data-testid="call-timeout"
                        node_ref=timeout
                        prop:value=move || value(|t| Some(t.settings.call_timeout_secs))
                        on:change=move |_| save_options(None, None)
                    />
                </label>
            </div>
            <label class="choice">
                <input
                    type="checkbox"
                    data-testid="allow-elicitation"
                    prop:checked=move || tool_choices.with(|t| t.settings.allow_elicitation)
                    on:change=move |ev| save_options(Some(event_target_checked(&ev)), None)
                />
                "Let this server ask me questions while a tool runs"
            </label>
            <label class="choice">
                <input
                    type="checkbox"
                    data-testid="allow-sampling"
                    prop:checked=move || tool_choices.with(|t| t.settings.allow_sampling)
                    on:change=move |ev| save_options(None, Some(event_target_checked(&ev)))
                />
                "Let this server ask the model to write text"
            </label>
            <p class="field-hint">
                "A server's questions, and what it would have your model write, open in a window that names this connector; nothing is sent until you answer. What your model writes for a server counts toward this connector's daily limit and shows in Activity."
            </p>
        </details>
    }
}

/// A number field as typed: empty is `None`; anything but a whole number is an error.
fn read_number(field: NodeRef<html::Input>) -> Result<Option<u32>, ()> {
    let text = field.get_untracked().map(|f| f.value()).unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u32>().map(Some).map_err(|_| ())
}

/// "Calls per conversation" and "Calls per day" (empty is no limit), read and saved together
/// when either changes. `testid` names them `<testid>-limit-conversation` and
/// `<testid>-limit-day`.
#[component]
fn LimitFields(
    limits: Signal<Limits>,
    on_save: Callback<Limits>,
    error: RwSignal<Option<ErrorInfo>>,
    testid: &'static str,
) -> impl IntoView {
    let per_conversation = NodeRef::<html::Input>::new();
    let per_day = NodeRef::<html::Input>::new();
    let save = move || match (read_number(per_conversation), read_number(per_day)) {
        (Ok(per_conversation), Ok(per_day)) => on_save.run(Limits {
            per_conversation,
            per_day,
        }),
        _ => error.set(Some(ErrorInfo::new(
            ErrorCode::InvalidSetting,
            "Type a whole number of calls, or leave it empty for no limit.",
        ))),
    };
    let shown = move |pick: fn(&Limits) -> Option<u32>| {
        limits.with(|l| pick(l).map(|n| n.to_string()).unwrap_or_default())
    };
    view! {
        <label class="field field-inline">
            <span class="field-label">"Calls per conversation"</span>
            <input
                class="input input-number"
                type="number"
                min="1"
                placeholder="No limit"
                data-testid=format!("{testid}-limit-conversation")
                node_ref=per_conversation
                prop:value=move || shown(|l| l.per_conversation)
                on:change=move |_| save()
            />
        </label>
        <label class="field field-inline">
            <span class="field-label">"Calls per day"</span>
            <input
                class="input input-number"
                type="number"
                min="1"
                placeholder="No limit"
                data-testid=format!("{testid}-limit-day")
                node_ref=per_day
                prop:value=move || shown(|l| l.per_day)
                on:change=move |_| save()
            />
        </label>
    }
}
