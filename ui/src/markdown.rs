//! Model replies, tool results and a server's instructions as Markdown. The core reads the
//! text into a tree (`switchboard_core::markdown`, types in [`switchboard_ipc::markdown`]);
//! this module turns the tree into Leptos nodes. Nothing goes through `inner_html`: raw HTML
//! is shown as text, and a link only gets an `href` when the core marked it as one to open
//! (`http`, `https`, `mailto`); clicking it asks the app, which opens it in the system
//! browser after its own check.
//!
//! A reply still being written comes as settled pieces, each rendered once, and a tail read
//! anew with each event, whose blocks carry keys made of their position and a hash of their
//! tree: only the growing block is rendered again.

use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use switchboard_ipc::markdown::{
    Align, Block, Blocks, Inline, ListItem, Rendered, Streamed, Table, Target, find, plain_text,
};

use crate::components::{CollectAny, keyed, spawn_scoped};

/// How long the copy button says "Copied".
const COPIED_FOR: Duration = Duration::from_millis(1500);

/// A reply as it streams in: its settled pieces, by where each starts, and the rest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamedReply {
    pieces: Vec<(u32, Arc<Vec<Block>>)>,
    tail: Blocks,
}

impl StreamedReply {
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty() && self.tail.is_empty()
    }

    /// Takes in what one event (or a frame's events, merged by [`merge`]) brought.
    pub fn apply(&mut self, streamed: Streamed) {
        self.pieces.extend(
            streamed
                .settled
                .into_iter()
                .map(|piece| (piece.start, Arc::new(piece.blocks))),
        );
        self.tail = streamed.tail;
    }
}

/// `later` added to `earlier`: both events' settled pieces, the later tail.
pub fn merge(earlier: &mut Streamed, later: Streamed) {
    earlier.settled.extend(later.settled);
    earlier.tail = later.tail;
}

/// `text`'s blocks as the core read them among `rendered`. A text the core did not read (it
/// always does) is shown as it is, as one paragraph.
pub fn blocks_of(rendered: &[Rendered], text: String) -> Blocks {
    match find(rendered, &text) {
        Some(blocks) => blocks.clone(),
        None => vec![(
            Default::default(),
            Block::Paragraph(vec![Inline::Text(text)]),
        )],
    }
}

fn align_class(align: Align) -> Option<&'static str> {
    match align {
        Align::None => None,
        Align::Left => Some("md-align-left"),
        Align::Center => Some("md-align-center"),
        Align::Right => Some("md-align-right"),
    }
}

// Views ------------------------------------------------------------------------------------

/// Renders a finished text's blocks. `on_link` gets the address of an `http`, `https` or
/// `mailto` link the person clicked; the window does not navigate by itself.
#[component]
pub fn Markdown(blocks: Blocks, on_link: Callback<String>) -> impl IntoView {
    let blocks = blocks
        .into_iter()
        .map(|(_, block)| block_view(block, on_link))
        .collect::<Vec<_>>();
    view! {
        <div class="markdown" data-testid="markdown">
            {blocks}
        </div>
    }
}

/// Renders a reply as it streams in (`aria-busy`, and a class for the caret).
#[component]
pub fn StreamingMarkdown(reply: Signal<StreamedReply>, on_link: Callback<String>) -> impl IntoView {
    view! {
        <div class="markdown markdown-streaming" data-testid="markdown" aria-busy="true">
            {keyed(
                move || reply.with(|reply| reply.pieces.clone()),
                |(start, _)| *start,
                move |(_, blocks)| blocks_view(blocks.as_ref().clone(), on_link).into_any(),
            )}
            {keyed(
                move || reply.with(|reply| reply.tail.clone()),
                |(key, _)| *key,
                move |(_, block)| block_view(block, on_link),
            )}
        </div>
    }
}

fn blocks_view(blocks: Vec<Block>, on_link: Callback<String>) -> Vec<AnyView> {
    blocks
        .into_iter()
        .map(|block| block_view(block, on_link))
        .collect()
}

fn inlines_view(inlines: Vec<Inline>, on_link: Callback<String>) -> Vec<AnyView> {
    inlines
        .into_iter()
        .map(|inline| inline_view(inline, on_link))
        .collect()
}

fn block_view(block: Block, on_link: Callback<String>) -> AnyView {
    match block {
        Block::Paragraph(content) => view! { <p>{inlines_view(content, on_link)}</p> }.into_any(),
        Block::Plain(content) => inlines_view(content, on_link).into_any(),
        Block::Heading { level, content } => heading_view(level, inlines_view(content, on_link)),
        Block::Code { lang, code } => view! { <CodeBlock lang code /> }.into_any(),
        Block::Quote(blocks) => {
            view! { <blockquote>{blocks_view(blocks, on_link)}</blockquote> }.into_any()
        }
        Block::List { start, items } => {
            let items = items
                .into_iter()
                .map(|item| item_view(item, on_link))
                .collect::<Vec<_>>();
            match start {
                Some(start) => {
                    let start = (start != 1).then(|| start.to_string());
                    view! { <ol start=start>{items}</ol> }.into_any()
                }
                None => view! { <ul>{items}</ul> }.into_any(),
            }
        }
        Block::Table(table) => table_view(table, on_link),
        Block::Rule => view! { <hr /> }.into_any(),
        Block::Html(html) => view! {
            <pre class="md-html">
                <code>{html}</code>
            </pre>
        }
        .into_any(),
        Block::Footnote { label, content } => view! {
            <div class="md-footnote">
                <span class="md-footnote-label">{format!("[{label}]")}</span>
                {blocks_view(content, on_link)}
            </div>
        }
        .into_any(),
    }
}

/// Replies are not documents: a `#` heading is a section title inside a message, so levels
/// start at `h3` in the page and sizes stay modest.
fn heading_view(level: u8, content: Vec<AnyView>) -> AnyView {
    match level {
        1 => view! { <h3 class="md-heading md-h1">{content}</h3> }.into_any(),
        2 => view! { <h4 class="md-heading md-h2">{content}</h4> }.into_any(),
        3 => view! { <h5 class="md-heading md-h3">{content}</h5> }.into_any(),
        4 => view! { <h6 class="md-heading md-h4">{content}</h6> }.into_any(),
        5 => view! { <h6 class="md-heading md-h5">{content}</h6> }.into_any(),
        _ => view! { <h6 class="md-heading md-h6">{content}</h6> }.into_any(),
    }
}

fn item_view(item: ListItem, on_link: Callback<String>) -> AnyView {
    let content = blocks_view(item.content, on_link);
    match item.task {
        Some(done) => view! {
            <li class="md-task">
                <input type="checkbox" class="md-task-box" disabled=true checked=done />
                {content}
            </li>
        }
        .into_any(),
        None => view! { <li>{content}</li> }.into_any(),
    }
}

fn table_view(table: Table, on_link: Callback<String>) -> AnyView {
    let Table { align, head, rows } = table;
    let class_of = move |column: usize| align.get(column).copied().and_then(align_class);
    let head = head
        .into_iter()
        .enumerate()
        .map(|(column, cell)| {
            view! { <th class=class_of(column)>{inlines_view(cell, on_link)}</th> }.into_any()
        })
        .collect_any();
    let rows = rows
        .into_iter()
        .map(|row| {
            let cells = row
                .into_iter()
                .enumerate()
                .map(|(column, cell)| {
                    view! { <td class=class_of(column)>{inlines_view(cell, on_link)}</td> }
                        .into_any()
                })
                .collect_any();
            view! { <tr>{cells}</tr> }.into_any()
        })
        .collect_any();
    view! {
        <div class="md-table-scroll">
            <table class="md-table" data-testid="md-table">
                <thead>
                    <tr>{head}</tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

fn inline_view(inline: Inline, on_link: Callback<String>) -> AnyView {
    match inline {
        Inline::Text(text) => text.into_any(),
        Inline::Code(code) => view! { <code class="md-code">{code}</code> }.into_any(),
        Inline::Emphasis(content) => view! { <em>{inlines_view(content, on_link)}</em> }.into_any(),
        Inline::Strong(content) => {
            view! { <strong>{inlines_view(content, on_link)}</strong> }.into_any()
        }
        Inline::Strikethrough(content) => {
            view! { <del>{inlines_view(content, on_link)}</del> }.into_any()
        }
        Inline::Link {
            target: Target::Open(url),
            content,
        } => link_view(url, inlines_view(content, on_link), on_link),
        Inline::Link {
            target: Target::Blocked(url),
            content,
        } => {
            // An autolink's label is its address: show it once.
            let label = (plain_text(&content) != url).then(|| {
                view! {
                    {inlines_view(content, on_link)}
                    " "
                }
                .into_any()
            });
            view! {
                <span class="md-link-blocked">
                    {label}
                    <span class="md-url">{url}</span>
                </span>
            }
            .into_any()
        }
        Inline::Image { target, alt } => {
            let alt = if alt.is_empty() {
                "Image ".to_owned()
            } else {
                format!("Image: {alt} ")
            };
            let address = match target {
                Target::Open(url) => link_view(url.clone(), url, on_link),
                Target::Blocked(url) => view! { <span class="md-url">{url}</span> }.into_any(),
            };
            view! {
                <span class="md-image">
                    <span class="md-image-alt">{alt}</span>
                    {address}
                </span>
            }
            .into_any()
        }
        Inline::Html(html) => view! { <code class="md-html">{html}</code> }.into_any(),
        Inline::FootnoteRef(label) => {
            view! { <sup class="md-footnote-ref">{format!("[{label}]")}</sup> }.into_any()
        }
        Inline::SoftBreak => "\n".into_any(),
        Inline::HardBreak => view! { <br /> }.into_any(),
    }
}

/// A link the app may open. The click never navigates the window: it hands the address to
/// `on_link`, and the app decides.
fn link_view(url: String, content: impl IntoView + 'static, on_link: Callback<String>) -> AnyView {
    let href = url.clone();
    view! {
        <a
            class="md-link"
            href=href.clone()
            title=href
            data-testid="md-link"
            on:click=move |ev| {
                ev.prevent_default();
                on_link.run(url.clone());
            }
        >
            {content}
        </a>
    }
    .into_any()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CopyState {
    Idle,
    Copied,
    Failed,
}

/// A code block with its language and a Copy button in a small header.
#[component]
fn CodeBlock(lang: Option<String>, code: String) -> impl IntoView {
    let state = RwSignal::new(CopyState::Idle);
    let reset = StoredValue::new(None::<TimeoutHandle>);
    on_cleanup(move || {
        if let Some(handle) = reset.try_get_value().flatten() {
            handle.clear();
        }
    });
    let to_copy = code.clone();
    let copy = move |_| {
        let text = to_copy.clone();
        spawn_scoped(async move {
            let copied = write_clipboard(&text).await;
            state.set(if copied {
                CopyState::Copied
            } else {
                CopyState::Failed
            });
            let handle =
                set_timeout_with_handle(move || state.set(CopyState::Idle), COPIED_FOR).ok();
            if let Some(previous) = reset
                .try_update_value(|reset| std::mem::replace(reset, handle))
                .flatten()
            {
                previous.clear();
            }
        });
    };
    view! {
        <div class="md-code-block" data-testid="code-block">
            <div class="md-code-header">
                <span class="md-code-lang">{lang}</span>
                <button
                    type="button"
                    class="md-code-copy"
                    aria-label="Copy code"
                    data-testid="code-copy"
                    on:click=copy
                >
                    {move || match state.get() {
                        CopyState::Idle => "Copy",
                        CopyState::Copied => "Copied",
                        CopyState::Failed => "Couldn't copy",
                    }}
                </button>
                // The button's label stays "Copy code"; this tells screen readers it worked.
                <span class="md-sr-only" role="status">
                    {move || match state.get() {
                        CopyState::Idle => "",
                        CopyState::Copied => "Code copied",
                        CopyState::Failed => "Couldn't copy the code",
                    }}
                </span>
            </div>
            <pre class="md-pre">
                <code>{code}</code>
            </pre>
        </div>
    }
}

/// Puts `text` on the clipboard; false when the webview has no clipboard or refuses.
async fn write_clipboard(text: &str) -> bool {
    let navigator = window().navigator();
    // `navigator.clipboard` is undefined outside secure contexts; calling through it throws.
    let available = js_sys::Reflect::get(&navigator, &"clipboard".into())
        .is_ok_and(|clipboard| !clipboard.is_undefined() && !clipboard.is_null());
    if !available {
        return false;
    }
    let promise = navigator.clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}
