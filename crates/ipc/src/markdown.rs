//! Markdown as the core reads it for the window: a small tree of blocks and inlines. The
//! core parses model replies, tool results and server instructions
//! (`switchboard_core::markdown`); the window only turns the tree into nodes, so the parser
//! is not in its wasm. Nothing in the tree is markup to be interpreted: raw HTML is kept as
//! the literal text the model wrote, and a link's address is checked before it is offered.

use serde::{Deserialize, Serialize};

/// A block-level piece of a text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    Paragraph(Vec<Inline>),
    /// Inline content straight inside a list item (a tight list): no paragraph around it.
    Plain(Vec<Inline>),
    /// `level` is the Markdown level, 1 to 6.
    Heading {
        level: u8,
        content: Vec<Inline>,
    },
    /// A fenced or indented code block, without its final line break. `lang` is the first
    /// word of the fence's info string.
    Code {
        lang: Option<String>,
        code: String,
    },
    Quote(Vec<Block>),
    /// `start` is the first number of an ordered list, `None` for a bulleted one.
    List {
        start: Option<u64>,
        items: Vec<ListItem>,
    },
    Table(Table),
    Rule,
    /// Raw HTML, kept as the literal text the model wrote.
    Html(String),
    Footnote {
        label: String,
        content: Vec<Block>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListItem {
    /// `Some(done)` for a task-list item (`- [x] …`).
    pub task: Option<bool>,
    pub content: Vec<Block>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Table {
    /// One per column.
    pub align: Vec<Align>,
    pub head: Vec<Cell>,
    pub rows: Vec<Vec<Cell>>,
}

pub type Cell = Vec<Inline>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    None,
    Left,
    Center,
    Right,
}

/// An inline piece of a text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inline {
    Text(String),
    Code(String),
    Emphasis(Vec<Inline>),
    Strong(Vec<Inline>),
    Strikethrough(Vec<Inline>),
    Link {
        target: Target,
        content: Vec<Inline>,
    },
    /// Never loaded: shown as its alt text and its address.
    Image {
        target: Target,
        alt: String,
    },
    /// Raw inline HTML (`<b>`, `</b>`, `<!-- … -->`), kept as literal text.
    Html(String),
    FootnoteRef(String),
    SoftBreak,
    HardBreak,
}

/// Where a link or image points, and whether the window may offer to open it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// `http`, `https` or `mailto`: rendered as a link that asks the app to open it.
    Open(String),
    /// Anything else (`javascript:`, `file:`, `data:`, relative): shown, never linked.
    Blocked(String),
}

/// Identifies a top-level block across parses: the same block at the same place keeps its
/// key, so the window keeps its nodes.
///
/// `hash` is of the parsed block rather than of its source text: the two only differ when
/// something outside the block changes how it reads (a link reference definition arriving
/// later in a stream), and then the block must be rendered again. It is 32 bits because the
/// page's numbers hold 53.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockKey {
    pub index: u32,
    pub hash: u32,
}

/// A whole text's top-level blocks, each with its key.
pub type Blocks = Vec<(BlockKey, Block)>;

/// A text read as Markdown, found again by [`text_id`] of the text it was read from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rendered {
    pub of: u32,
    pub blocks: Blocks,
}

/// A short, stable fingerprint of `text` (32-bit FNV-1a), the same in the core and in the
/// window's wasm: how a message's [`Rendered`] texts are matched to its parts.
pub fn text_id(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash: u32, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The reading of `text` among `rendered`, if it is there.
pub fn find<'a>(rendered: &'a [Rendered], text: &str) -> Option<&'a Blocks> {
    let id = text_id(text);
    rendered.iter().find(|r| r.of == id).map(|r| &r.blocks)
}

/// Part of a reply still being written, read so far (each [`crate::chat::ChatEvent::ReplyText`]).
/// The text is cut where nothing appended can change what came before: the pieces before
/// such a cut are read once and sent once, and only the rest is read again each time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Streamed {
    /// Pieces that became settled with this event, each with where it starts in the reply.
    #[serde(default)]
    pub settled: Vec<Piece>,
    /// Everything after the last cut, read anew.
    pub tail: Blocks,
}

/// A settled piece of a streamed reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Piece {
    /// Where the piece starts in the reply's text, in bytes: its identity.
    pub start: u32,
    pub blocks: Vec<Block>,
}

/// The words of `inlines`, without their markup (an image's alt text, a link's label).
pub fn plain_text(inlines: &[Inline]) -> String {
    fn walk(inlines: &[Inline], out: &mut String) {
        for inline in inlines {
            match inline {
                Inline::Text(text) | Inline::Code(text) | Inline::Html(text) => {
                    out.push_str(text);
                }
                Inline::Emphasis(inner) | Inline::Strong(inner) | Inline::Strikethrough(inner) => {
                    walk(inner, out);
                }
                Inline::Link { content, .. } => walk(content, out),
                Inline::Image { alt, .. } => out.push_str(alt),
                Inline::FootnoteRef(label) => {
                    out.push('[');
                    out.push_str(label);
                    out.push(']');
                }
                Inline::SoftBreak => out.push(' '),
                Inline::HardBreak => out.push('\n'),
            }
        }
    }
    let mut out = String::new();
    walk(inlines, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_ids_are_fnv_1a() {
        // The published FNV-1a test vectors: the window and the core must agree for ever.
        assert_eq!(text_id(""), 0x811c_9dc5);
        assert_eq!(text_id("a"), 0xe40c_292c);
        assert_eq!(text_id("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn the_tree_crosses_as_snake_case() {
        let blocks: Blocks = vec![(
            BlockKey { index: 0, hash: 7 },
            Block::Paragraph(vec![
                Inline::Text("see ".into()),
                Inline::Link {
                    target: Target::Open("https://example.com".into()),
                    content: vec![Inline::Strong(vec![Inline::Text("here".into())])],
                },
                Inline::SoftBreak,
            ]),
        )];
        let json = serde_json::to_string(&blocks).unwrap();
        assert_eq!(
            json,
            r#"[[{"index":0,"hash":7},{"paragraph":[{"text":"see "},{"link":{"target":{"open":"https://example.com"},"content":[{"strong":[{"text":"here"}]}]}},"soft_break"]}]]"#
        );
        assert_eq!(serde_json::from_str::<Blocks>(&json).unwrap(), blocks);
    }
}
