//! The window's frame: sidebar, notice banners, and whichever page is open. Also where the
//! shell's events are wired to the shared state, once, for the life of the window.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_ipc::chat::ChatEvent;
use switchboard_ipc::{ConnectorId, ConnectorSummary, ErrorInfo, Notice, NoticeLevel, event};

use crate::add_dialog::EditDialog;
use crate::chat::{ChatPage, ChatState};
use crate::chats_nav::ChatsNav;
use crate::components::{ActionError, Details, Icon, keyed};
use crate::connectors::ConnectorsPage;
use crate::detail::DetailPage;
use crate::models::ModelsPage;
use crate::state::{AppState, Page, ShownNotice, use_app_state};
use crate::tauri;

#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    let chat = ChatState::new();
    provide_context(chat);
    tauri::listen(event::CHAT, move |event: ChatEvent| chat.on_event(event));
    tauri::listen(
        event::RESOURCE_UPDATED,
        move |updated: switchboard_ipc::ResourceUpdated| {
            chat.resource_updated
                .update(|last| *last = Some((last.as_ref().map_or(1, |(n, _)| n + 1), updated)));
        },
    );
    chat.load();

    // Subscribe before the first fetch so nothing that happens in between is missed.
    tauri::listen(
        event::CONNECTOR_CHANGED,
        move |summary: ConnectorSummary| state.on_connector_changed(summary),
    );
    tauri::listen(event::CONNECTOR_REMOVED, move |id: ConnectorId| {
        state.on_connector_removed(id)
    });
    tauri::listen(event::NOTICE, move |notice: Notice| {
        state.push_notice(notice)
    });
    state.refresh_connectors();
    spawn_local(async move {
        match tauri::take_notices().await {
            Ok(notices) => notices.into_iter().for_each(|n| state.push_notice(n)),
            // Notices are informative only; the page itself reports a core that is missing.
            Err(err) => tauri::warn("could not fetch notices", &err),
        }
    });

    let page = Memo::new(move |_| state.page.get());

    view! {
        <div class="shell">
            <aside class="sidebar">
                <div class="brand">
                    <BrandMark />
                    <span class="brand-name">"Switchboard"</span>
                </div>
                <ChatsNav />
                <nav class="nav" aria-labelledby="nav-settings">
                    <h2 class="nav-heading" id="nav-settings">
                        "Settings"
                    </h2>
                    <ul class="nav-list">
                        <li>
                            <button
                                type="button"
                                class="nav-item"
                                data-testid="nav-connectors"
                                aria-current=move || {
                                    matches!(page.get(), Page::Connectors | Page::Connector(_))
                                        .then_some("page")
                                }
                                on:click=move |_| state.page.set(Page::Connectors)
                            >
                                <PlugIcon />
                                "Connectors"
                            </button>
                        </li>
                        <li>
                            <button
                                type="button"
                                class="nav-item"
                                data-testid="nav-models"
                                aria-current=move || (page.get() == Page::Models).then_some("page")
                                on:click=move |_| state.page.set(Page::Models)
                            >
                                <ModelIcon />
                                "Models"
                            </button>
                        </li>
                        <li>
                            <button
                                type="button"
                                class="nav-item"
                                data-testid="nav-activity"
                                aria-current=move || (page.get() == Page::Activity).then_some("page")
                                on:click=move |_| state.page.set(Page::Activity)
                            >
                                <ActivityIcon />
                                "Activity"
                            </button>
                        </li>
                    </ul>
                </nav>
            </aside>
            <main class="main">
                <NoticeArea />
                <div class="page">
                    {move || match page.get() {
                        Page::Chat => view! { <ChatPage /> }.into_any(),
                        Page::Models => view! { <ModelsPage /> }.into_any(),
                        Page::Activity => view! { <crate::activity::ActivityPage /> }.into_any(),
                        Page::Connectors => view! { <ConnectorsPage /> }.into_any(),
                        Page::Connector(id) => view! { <DetailPage id /> }.into_any(),
                    }}
                </div>
            </main>
            {move || {
                state
                    .editing
                    .get()
                    .map(|target| view! { <EditDialog target on_close=move || state.close_edit() /> }.into_any())
            }}
            <crate::question::Questions />
        </div>
    }
}

#[component]
fn NoticeArea() -> impl IntoView {
    let state = use_app_state();
    view! {
        <div class="notices">
            {keyed(
                move || state.notices.get(),
                |shown| shown.key,
                |shown| view! { <NoticeBanner shown /> }.into_any(),
            )}
        </div>
    }
}

#[component]
fn NoticeBanner(shown: ShownNotice) -> impl IntoView {
    let state = use_app_state();
    let ShownNotice { key, notice } = shown;
    let (class, role) = match notice.level {
        NoticeLevel::Info => ("notice notice-info", "status"),
        NoticeLevel::Warning => ("notice notice-warning", "alert"),
    };
    let show_error = RwSignal::new(None::<ErrorInfo>);
    let kept_file = notice.kept_file.clone();
    view! {
        <div class=class role=role data-testid="notice-banner">
            <div class="notice-body">
                <p class="notice-message">{notice.message}</p>
                {kept_file
                    .map(|path| {
                        view! {
                            <button
                                type="button"
                                class="button button-small"
                                data-testid="notice-show-file"
                                on:click=move |_| {
                                    let path = path.clone();
                                    leptos::task::spawn_local(async move {
                                        show_error.set(tauri::show_kept_file(path).await.err());
                                    });
                                }
                            >
                                "Show file"
                            </button>
                        }.into_any()
                    })}
                <ActionError error=show_error />
                {notice
                    .detail
                    .map(|detail| {
                        view! {
                            <Details
                                detail
                                toggle_testid="notice-details-toggle"
                                text_testid="notice-detail"
                            />
                        }.into_any()
                    })}
            </div>
            <button
                type="button"
                class="icon-button"
                aria-label="Dismiss"
                title="Dismiss"
                on:click=move |_| state.dismiss_notice(key)
            >
                <Icon d="M4 4l8 8M12 4l-8 8" size=14 stroke_width="1.6" />
            </button>
        </div>
    }
}

#[component]
fn BrandMark() -> impl IntoView {
    view! {
        <svg class="brand-mark" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
            <rect width="24" height="24" rx="6" fill="currentColor" />
            <circle cx="7.5" cy="8" r="2" fill="var(--brand-ink)" />
            <circle cx="16.5" cy="16" r="2" fill="var(--brand-ink)" />
            <path
                d="M7.5 10v2.5a3.5 3.5 0 0 0 3.5 3.5h3.5"
                stroke="var(--brand-ink)"
                stroke-width="1.8"
                fill="none"
                stroke-linecap="round"
            />
        </svg>
    }
}

#[component]
fn ActivityIcon() -> impl IntoView {
    view! {
        <Icon d="M2.5 10h3.5l2-5 4 10 2-5h3.5" size=18 stroke_width="1.5" grid=20 class="nav-icon" />
    }
}

#[component]
fn ModelIcon() -> impl IntoView {
    view! {
        <Icon d="M10 2.5l1.6 4.2 4.4.3-3.4 2.8 1.1 4.3L10 11.7l-3.7 2.4 1.1-4.3L4 7l4.4-.3z" size=18 stroke_width="1.5" grid=20 class="nav-icon" />
    }
}

#[component]
fn PlugIcon() -> impl IntoView {
    view! {
        <Icon d="M7 2.5v4M13 2.5v4M5 6.5h10v3a5 5 0 0 1-10 0zM10 14.5v3" size=18 stroke_width="1.6" grid=20 class="nav-icon" />
    }
}
