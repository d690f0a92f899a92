//! The sidebar's Chats: New chat, a search over titles, and the conversations, newest
//! first, each with Rename and Delete.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use switchboard_ipc::ErrorInfo;
use switchboard_ipc::chat::Conversation;

use crate::chat::use_chat_state;
use crate::components::{ConfirmDialog, Icon, focus_when_mounted, keyed, run_action};
use crate::sort;
use crate::state::{Page, use_app_state};
use crate::tauri;

#[component]
pub fn ChatsNav() -> impl IntoView {
    let chat = use_chat_state();
    let app = use_app_state();
    let search = RwSignal::new(String::new());
    let shown = Memo::new(move |_| {
        let needle = sort::fold_case(&search.get());
        chat.conversations.with(|list| {
            list.iter()
                .filter(|c| needle.is_empty() || sort::fold_case(&c.title).contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    view! {
        <nav class="nav chats-nav" aria-labelledby="nav-chats">
            <h2 class="nav-heading" id="nav-chats">
                "Chats"
            </h2>
            <button
                type="button"
                class="button new-chat"
                data-testid="new-chat"
                on:click=move |_| {
                    chat.new_chat();
                    app.page.set(Page::Chat);
                }
            >
                "+ New chat"
            </button>
            {move || {
                (chat.conversations.with(|l| l.len()) > 3)
                    .then(|| {
                        view! {
                            <input
                                class="input chats-search"
                                type="search"
                                placeholder="Search chats"
                                aria-label="Search chats"
                                data-testid="chats-search"
                                prop:value=move || search.get()
                                on:input=move |ev| search.set(event_target_value(&ev))
                            />
                        }.into_any()
                    })
            }}
            <ul class="nav-list chats-list" data-testid="chats-list">
                {keyed(
                    move || shown.get(),
                    |c| (c.id, c.title.clone()),
                    |conversation| view! { <ChatItem conversation /> }.into_any(),
                )}
            </ul>
        </nav>
    }
}

#[component]
fn ChatItem(conversation: Conversation) -> impl IntoView {
    let chat = use_chat_state();
    let app = use_app_state();
    let id = conversation.id;
    let renaming = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let title = RwSignal::new(conversation.title.clone());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ErrorInfo>);
    let is_current = move || chat.current.get() == Some(id) && app.page.get() == Page::Chat;
    let save = move || {
        let new_title = title.get_untracked();
        run_action(busy, true, false, error, async move {
            let conversation = tauri::rename_conversation(id, new_title).await?;
            renaming.set(false);
            chat.on_event(switchboard_ipc::chat::ChatEvent::ConversationChanged { conversation });
            Ok(())
        });
    };
    let name = conversation.title.clone();
    let data_title = conversation.title.clone();
    view! {
        <li class="chat-item" data-testid="chat-item" data-title=data_title>
            {move || {
                if renaming.get() {
                    let input = NodeRef::<leptos::html::Input>::new();
                    focus_when_mounted(input);
                    view! {
                        <input
                            class="input chat-rename"
                            data-testid="rename-input"
                            aria-label="Chat name"
                            node_ref=input
                            prop:value=move || title.get()
                            on:input=move |ev| title.set(event_target_value(&ev))
                            on:keydown=move |ev: KeyboardEvent| match ev.key().as_str() {
                                "Enter" => {
                                    ev.prevent_default();
                                    save();
                                }
                                "Escape" => renaming.set(false),
                                _ => {}
                            }
                            on:blur=move |_| {
                                if !busy.get_untracked() {
                                    renaming.set(false);
                                }
                            }
                        />
                    }
                        .into_any()
                } else {
                    view! {
                        <button
                            type="button"
                            class="nav-item chat-link"
                            data-testid="open-chat"
                            aria-current=move || is_current().then_some("page")
                            on:click=move |_| {
                                chat.open(id);
                                app.page.set(Page::Chat);
                            }
                        >
                            <span class="chat-link-title">{conversation.title.clone()}</span>
                        </button>
                        <span class="chat-item-actions">
                            <button
                                type="button"
                                class="icon-button"
                                data-testid="rename-chat"
                                aria-label=format!("Rename {}", conversation.title)
                                title="Rename"
                                on:click=move |_| renaming.set(true)
                            >
                                <Icon d="M3 13l.6-2.6L10.8 3.2a1.2 1.2 0 0 1 1.7 0l.3.3a1.2 1.2 0 0 1 0 1.7L5.6 12.4z" size=14 stroke_width="1.3" />
                            </button>
                            <button
                                type="button"
                                class="icon-button"
                                data-testid="delete-chat"
                                aria-label=format!("Delete {}", conversation.title)
                                title="Delete"
                                on:click=move |_| confirming.set(true)
                            >
                                <Icon d="M3.5 4.5h9M6.5 4.5V3h3v1.5M5 4.5l.6 8.5h4.8l.6-8.5" size=14 stroke_width="1.3" />
                            </button>
                        </span>
                    }
                        .into_any()
                }
            }}
            {move || {
                confirming
                    .get()
                    .then(|| {
                        let delete_busy = RwSignal::new(false);
                        let delete_error = RwSignal::new(None::<ErrorInfo>);
                        view! {
                            <ConfirmDialog
                                title=format!("Delete “{name}”?")
                                body="The conversation and everything attached to it are deleted from this computer. This cannot be undone."
                                confirm_label="Delete"
                                busy=delete_busy
                                error=delete_error
                                on_confirm=move |()| {
                                    run_action(delete_busy, true, false, delete_error, async move {
                                        tauri::delete_conversation(id).await?;
                                        confirming.set(false);
                                        chat.on_event(switchboard_ipc::chat::ChatEvent::ConversationRemoved { id });
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
