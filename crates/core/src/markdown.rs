//! Markdown for the window: model replies, tool results and a server's instructions are read
//! here into the tree of [`switchboard_ipc::markdown`], and the window only renders the tree.
//! pulldown-cmark reads the text into events and [`Builder`] turns them into blocks. A link
//! is only marked to be opened for `http`, `https` and `mailto`; raw HTML stays text.
//!
//! While a reply streams in, only its unsettled end is read again on each change
//! ([`Streaming`]): the text is cut at the last blank line after which nothing appended can
//! change what came before ([`settled_len`]); each settled piece is read and sent once, and
//! the tail's blocks carry keys made of their position and a hash of their tree, so the window
//! renders only the growing block again. A finished reply is read whole, once.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::iter::Peekable;

use pulldown_cmark::{Alignment, CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag};
use switchboard_ipc::markdown::{
    Align, Block, BlockKey, Blocks, Cell, Inline, ListItem, Piece, Rendered, Streamed, Table,
    Target, plain_text, text_id,
};

/// How deep quotes, lists and inline markup may nest before their contents are shown as plain
/// text. Real replies stay far below; a hostile one (`>>>>>>…`) must not exhaust the stack.
const MAX_DEPTH: usize = 24;

fn target(url: String) -> Target {
    if opens(&url) {
        Target::Open(url)
    } else {
        Target::Blocked(url)
    }
}

fn align(align: Alignment) -> Align {
    match align {
        Alignment::None => Align::None,
        Alignment::Left => Align::Left,
        Alignment::Center => Align::Center,
        Alignment::Right => Align::Right,
    }
}

/// Whether `url` has a scheme the window offers to open. Only the literal scheme counts:
/// browsers strip some characters from addresses, but never in a way that turns a literal
/// `https:` into anything else.
fn opens(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && ["http", "https", "mailto"]
            .iter()
            .any(|allowed| scheme.eq_ignore_ascii_case(allowed))
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
}

/// The top-level blocks of `text`, each with its key.
pub fn parse(text: &str) -> Blocks {
    let mut builder = Builder {
        events: Parser::new_ext(text, options()).peekable(),
        task: None,
    };
    let mut blocks = Vec::new();
    // Events are balanced, so the first call reads everything; the loop only guards against
    // a stray end ending the reply early.
    while builder.events.peek().is_some() {
        blocks.extend(builder.blocks(0));
    }
    blocks
        .into_iter()
        .enumerate()
        .map(|(index, block)| {
            let mut hasher = DefaultHasher::new();
            block.hash(&mut hasher);
            let key = BlockKey {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                // The low half is enough to tell a changed block from the same one.
                hash: hasher.finish() as u32,
            };
            (key, block)
        })
        .collect()
}

/// Where `text` can be cut, scanning from `from` (a cut found before, or 0): the end of the
/// last blank line outside a code fence that is followed by a line starting a block of its
/// own — not indented (a list item's or a code block's continuation), not a list marker
/// (the list going on). Appending to `text` cannot change the blocks before such a cut.
/// One thing is lost while streaming: pieces are parsed alone, so a `[text][ref]` link or a
/// `[^1]` footnote whose definition is in another piece shows literally until the reply is
/// finished and parsed whole.
pub fn settled_len(text: &str, from: usize) -> usize {
    let mut cut = from;
    let mut fence: Option<(u8, usize)> = None;
    let mut after_blank = false;
    let mut at = from;
    for line in text[from..].split_inclusive('\n') {
        let start = at;
        at += line.len();
        if !line.ends_with('\n') {
            // The last line may still be growing.
            break;
        }
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start_matches(' ').len();
        let trimmed = content.trim_start_matches(' ');
        if let Some((marker, length)) = fence {
            if indent < 4 && closes_fence(trimmed, marker, length) {
                fence = None;
            }
            continue;
        }
        if content.trim().is_empty() {
            after_blank = true;
            continue;
        }
        if after_blank && indent == 0 && !content.starts_with('\t') && !starts_list_item(content) {
            cut = start;
        }
        after_blank = false;
        if indent < 4 {
            fence = opens_fence(trimmed);
        }
    }
    cut
}

/// A code fence's marker and length: three or more backticks or tildes.
fn opens_fence(line: &str) -> Option<(u8, usize)> {
    let marker = *line.as_bytes().first()?;
    if marker != b'`' && marker != b'~' {
        return None;
    }
    let length = line.bytes().take_while(|&b| b == marker).count();
    // A backtick fence's info string has no backtick.
    (length >= 3 && !(marker == b'`' && line[length..].contains('`'))).then_some((marker, length))
}

fn closes_fence(line: &str, marker: u8, length: usize) -> bool {
    let run = line.bytes().take_while(|&b| b == marker).count();
    run >= length && line[run..].trim().is_empty()
}

/// `- `, `* `, `+ `, `1. `, `1) ` (or the marker alone on its line).
fn starts_list_item(line: &str) -> bool {
    let bytes = line.as_bytes();
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let marker_end = match bytes.first() {
        Some(b'-' | b'*' | b'+') => 1,
        Some(b'0'..=b'9') if digits <= 9 && matches!(bytes.get(digits), Some(b'.' | b')')) => {
            digits + 1
        }
        _ => return false,
    };
    matches!(bytes.get(marker_end), None | Some(b' ' | b'\t'))
}

/// Turns pulldown-cmark's events into the tree. Each reader consumes events up to and
/// including the end of the element it was called for; since events are balanced, the first
/// end a reader meets is its own.
struct Builder<'a> {
    events: Peekable<Parser<'a>>,
    /// The marker of the task-list item being read, until the item takes it.
    task: Option<bool>,
}

fn is_inline(event: &Event<'_>) -> bool {
    match event {
        Event::Start(tag) => matches!(
            tag,
            Tag::Emphasis
                | Tag::Strong
                | Tag::Strikethrough
                | Tag::Superscript
                | Tag::Subscript
                | Tag::Link { .. }
                | Tag::Image { .. }
        ),
        Event::Text(_)
        | Event::Code(_)
        | Event::InlineMath(_)
        | Event::InlineHtml(_)
        | Event::FootnoteReference(_)
        | Event::SoftBreak
        | Event::HardBreak => true,
        Event::End(_)
        | Event::Html(_)
        | Event::DisplayMath(_)
        | Event::Rule
        | Event::TaskListMarker(_) => false,
    }
}

fn push_text(out: &mut Vec<Inline>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Inline::Text(last)) = out.last_mut() {
        last.push_str(text);
    } else {
        out.push(Inline::Text(text.to_owned()));
    }
}

fn without_final_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

impl<'a> Builder<'a> {
    /// Blocks up to the end of the enclosing element.
    fn blocks(&mut self, depth: usize) -> Vec<Block> {
        let mut out = Vec::new();
        while let Some(event) = self.events.peek() {
            if matches!(event, Event::End(_)) {
                self.events.next();
                break;
            }
            if is_inline(event) {
                out.push(Block::Plain(self.plain(depth)));
                continue;
            }
            if let Some(event) = self.events.next()
                && let Some(block) = self.block(event, depth)
            {
                out.push(block);
            }
        }
        out
    }

    /// Inline content that is not in a paragraph (a tight list item): up to the next block.
    fn plain(&mut self, depth: usize) -> Vec<Inline> {
        let mut out = Vec::new();
        while let Some(event) = self.events.next_if(is_inline) {
            self.inline(event, &mut out, depth);
        }
        out
    }

    fn block(&mut self, event: Event<'a>, depth: usize) -> Option<Block> {
        let tag = match event {
            Event::Start(tag) => tag,
            Event::Rule => return Some(Block::Rule),
            Event::Html(html) | Event::DisplayMath(html) => {
                return Some(Block::Html(without_final_newline(html.into_string())));
            }
            Event::TaskListMarker(done) => {
                self.task = Some(done);
                return None;
            }
            Event::End(_) => return None,
            inline => {
                let mut out = Vec::new();
                self.inline(inline, &mut out, depth);
                return Some(Block::Plain(out));
            }
        };
        if depth >= MAX_DEPTH {
            return Some(Block::Paragraph(vec![Inline::Text(self.flatten())]));
        }
        let depth = depth + 1;
        Some(match tag {
            Tag::Paragraph => Block::Paragraph(self.inlines(depth)),
            Tag::Heading { level, .. } => Block::Heading {
                level: level as u8,
                content: self.inlines(depth),
            },
            Tag::BlockQuote(_) => Block::Quote(self.blocks(depth)),
            Tag::CodeBlock(kind) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
                        .next()
                        .filter(|lang| !lang.is_empty())
                        .map(str::to_owned),
                    CodeBlockKind::Indented => None,
                };
                Block::Code {
                    lang,
                    code: without_final_newline(self.flatten()),
                }
            }
            Tag::HtmlBlock => Block::Html(without_final_newline(self.flatten())),
            Tag::List(start) => Block::List {
                start,
                items: self.items(depth),
            },
            Tag::Item => Block::List {
                start: None,
                items: vec![self.item(depth)],
            },
            Tag::FootnoteDefinition(label) => Block::Footnote {
                label: label.into_string(),
                content: self.blocks(depth),
            },
            Tag::Table(align) => Block::Table(self.table(align, depth)),
            // Not enabled (metadata, definition lists) or not a block: shown as its words.
            _ => Block::Paragraph(vec![Inline::Text(self.flatten())]),
        })
    }

    fn items(&mut self, depth: usize) -> Vec<ListItem> {
        let mut items = Vec::new();
        while let Some(event) = self.events.next() {
            match event {
                Event::Start(Tag::Item) => items.push(self.item(depth)),
                Event::Start(_) => drop(self.flatten()),
                Event::End(_) => break,
                _ => {}
            }
        }
        items
    }

    fn item(&mut self, depth: usize) -> ListItem {
        // A nested item must not take the marker of the item around it, nor leave its own.
        let outer = self.task.take();
        let content = self.blocks(depth + 1);
        let task = std::mem::replace(&mut self.task, outer);
        ListItem { task, content }
    }

    fn table(&mut self, align: Vec<Alignment>, depth: usize) -> Table {
        let mut table = Table {
            align: align.into_iter().map(self::align).collect(),
            head: Vec::new(),
            rows: Vec::new(),
        };
        while let Some(event) = self.events.next() {
            match event {
                Event::Start(Tag::TableHead) => table.head = self.row(depth),
                Event::Start(Tag::TableRow) => table.rows.push(self.row(depth)),
                Event::Start(_) => drop(self.flatten()),
                Event::End(_) => break,
                _ => {}
            }
        }
        table
    }

    fn row(&mut self, depth: usize) -> Vec<Cell> {
        let mut cells = Vec::new();
        while let Some(event) = self.events.next() {
            match event {
                Event::Start(Tag::TableCell) => cells.push(self.inlines(depth)),
                Event::Start(_) => drop(self.flatten()),
                Event::End(_) => break,
                _ => {}
            }
        }
        cells
    }

    /// Inline content up to the end of the enclosing element.
    fn inlines(&mut self, depth: usize) -> Vec<Inline> {
        let mut out = Vec::new();
        while let Some(event) = self.events.next() {
            if matches!(event, Event::End(_)) {
                break;
            }
            self.inline(event, &mut out, depth);
        }
        out
    }

    fn inline(&mut self, event: Event<'a>, out: &mut Vec<Inline>, depth: usize) {
        let tag = match event {
            Event::Start(tag) => tag,
            Event::Text(text) => return push_text(out, &text),
            Event::Code(code) | Event::InlineMath(code) | Event::DisplayMath(code) => {
                return out.push(Inline::Code(code.into_string()));
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                return out.push(Inline::Html(html.into_string()));
            }
            Event::FootnoteReference(label) => {
                return out.push(Inline::FootnoteRef(label.into_string()));
            }
            Event::SoftBreak => return out.push(Inline::SoftBreak),
            Event::HardBreak => return out.push(Inline::HardBreak),
            Event::TaskListMarker(done) => {
                self.task = Some(done);
                return;
            }
            Event::End(_) | Event::Rule => return,
        };
        if depth >= MAX_DEPTH {
            return push_text(out, &self.flatten());
        }
        let depth = depth + 1;
        match tag {
            Tag::Emphasis => out.push(Inline::Emphasis(self.inlines(depth))),
            Tag::Strong => out.push(Inline::Strong(self.inlines(depth))),
            Tag::Strikethrough => out.push(Inline::Strikethrough(self.inlines(depth))),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let content = self.inlines(depth);
                out.push(Inline::Link {
                    target: target(link_url(link_type, dest_url)),
                    content,
                });
            }
            Tag::Image {
                link_type,
                dest_url,
                ..
            } => {
                let alt = plain_text(&self.inlines(depth));
                out.push(Inline::Image {
                    target: target(link_url(link_type, dest_url)),
                    alt,
                });
            }
            _ => push_text(out, &self.flatten()),
        }
    }

    /// The words of the element just started, through its end, without any structure. Reads
    /// iteratively, so any depth is fine.
    fn flatten(&mut self) -> String {
        let mut open = 1_usize;
        let mut out = String::new();
        for event in self.events.by_ref() {
            match event {
                Event::Start(_) => open += 1,
                Event::End(_) => {
                    open -= 1;
                    if open == 0 {
                        break;
                    }
                }
                Event::Text(text)
                | Event::Code(text)
                | Event::Html(text)
                | Event::InlineHtml(text)
                | Event::InlineMath(text)
                | Event::DisplayMath(text)
                | Event::FootnoteReference(text) => out.push_str(&text),
                Event::SoftBreak => out.push(' '),
                Event::HardBreak => out.push('\n'),
                Event::Rule | Event::TaskListMarker(_) => {}
            }
        }
        out
    }
}

/// `<someone@example.org>` arrives without its scheme.
fn link_url(link_type: LinkType, dest: CowStr<'_>) -> String {
    if link_type == LinkType::Email {
        format!("mailto:{dest}")
    } else {
        dest.into_string()
    }
}

/// `text` read whole, to be found again by its [`text_id`].
pub fn render(text: &str) -> Rendered {
    Rendered {
        of: text_id(text),
        blocks: parse(text),
    }
}

/// A reply being written: its text so far and where it was last cut.
#[derive(Debug, Default)]
pub struct Streaming {
    text: String,
    settled: usize,
}

impl Streaming {
    /// Adds `delta` to the reply; returns the pieces it settled and the rest read anew.
    pub fn push(&mut self, delta: &str) -> Streamed {
        self.text.push_str(delta);
        let mut streamed = Streamed::default();
        let cut = settled_len(&self.text, self.settled);
        if cut > self.settled {
            streamed.settled.push(Piece {
                start: u32::try_from(self.settled).unwrap_or(u32::MAX),
                blocks: parse(&self.text[self.settled..cut])
                    .into_iter()
                    .map(|(_, block)| block)
                    .collect(),
            });
            self.settled = cut;
        }
        streamed.tail = parse(&self.text[self.settled..]);
        streamed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(text: &str) -> Vec<Block> {
        parse(text).into_iter().map(|(_, block)| block).collect()
    }

    fn text(text: &str) -> Inline {
        Inline::Text(text.to_owned())
    }

    fn para(inlines: Vec<Inline>) -> Block {
        Block::Paragraph(inlines)
    }

    fn plain(text_: &str) -> Vec<Block> {
        vec![Block::Plain(vec![text(text_)])]
    }

    fn item(task: Option<bool>, content: Vec<Block>) -> ListItem {
        ListItem { task, content }
    }

    #[test]
    fn every_construct_becomes_its_block() {
        let sample = "\
# Title
###### Small

Some *em*, **strong**, ~~gone~~, `code`, [site](https://example.com), <https://auto.example>,
<me@example.org> and ![a cat](https://example.com/cat.png).\\
Next line[^1].

> quoted
>
> - nested

1. one
2. two
   - [x] done
   - [ ] open

3) three

- tight

```rust title
fn main() {}
```

    indented

| a | b |
|---|---|
| 1 | 2 |

---

<div>hi</div>

Inline <b>bold</b>.

[^1]: The note.
";
        let expected = vec![
            Block::Heading {
                level: 1,
                content: vec![text("Title")],
            },
            Block::Heading {
                level: 6,
                content: vec![text("Small")],
            },
            para(vec![
                text("Some "),
                Inline::Emphasis(vec![text("em")]),
                text(", "),
                Inline::Strong(vec![text("strong")]),
                text(", "),
                Inline::Strikethrough(vec![text("gone")]),
                text(", "),
                Inline::Code("code".into()),
                text(", "),
                Inline::Link {
                    target: Target::Open("https://example.com".into()),
                    content: vec![text("site")],
                },
                text(", "),
                Inline::Link {
                    target: Target::Open("https://auto.example".into()),
                    content: vec![text("https://auto.example")],
                },
                text(","),
                Inline::SoftBreak,
                Inline::Link {
                    target: Target::Open("mailto:me@example.org".into()),
                    content: vec![text("me@example.org")],
                },
                text(" and "),
                Inline::Image {
                    target: Target::Open("https://example.com/cat.png".into()),
                    alt: "a cat".into(),
                },
                text("."),
                Inline::HardBreak,
                text("Next line"),
                Inline::FootnoteRef("1".into()),
                text("."),
            ]),
            Block::Quote(vec![
                para(vec![text("quoted")]),
                Block::List {
                    start: None,
                    items: vec![item(None, plain("nested"))],
                },
            ]),
            Block::List {
                start: Some(1),
                items: vec![
                    item(None, plain("one")),
                    item(
                        None,
                        vec![
                            Block::Plain(vec![text("two")]),
                            Block::List {
                                start: None,
                                items: vec![
                                    item(Some(true), plain("done")),
                                    item(Some(false), plain("open")),
                                ],
                            },
                        ],
                    ),
                ],
            },
            Block::List {
                start: Some(3),
                items: vec![item(None, plain("three"))],
            },
            Block::List {
                start: None,
                items: vec![item(None, plain("tight"))],
            },
            Block::Code {
                lang: Some("rust".into()),
                code: "fn main() {}".into(),
            },
            Block::Code {
                lang: None,
                code: "indented".into(),
            },
            Block::Table(Table {
                align: vec![Align::None, Align::None],
                head: vec![vec![text("a")], vec![text("b")]],
                rows: vec![vec![vec![text("1")], vec![text("2")]]],
            }),
            Block::Rule,
            Block::Html("<div>hi</div>".into()),
            para(vec![
                text("Inline "),
                Inline::Html("<b>".into()),
                text("bold"),
                Inline::Html("</b>".into()),
                text("."),
            ]),
            Block::Footnote {
                label: "1".into(),
                content: vec![para(vec![text("The note.")])],
            },
        ];
        assert_eq!(blocks(sample), expected);
    }

    #[test]
    fn raw_html_stays_text() {
        assert_eq!(
            blocks("<script>alert(1)</script>"),
            vec![Block::Html("<script>alert(1)</script>".into())]
        );
        assert_eq!(
            blocks("Hi <script>alert(1)</script>"),
            vec![para(vec![
                text("Hi "),
                Inline::Html("<script>".into()),
                text("alert(1)"),
                Inline::Html("</script>".into()),
            ])]
        );
        assert_eq!(
            blocks("<img src=x onerror=alert(1)>\n\nafter"),
            vec![
                Block::Html("<img src=x onerror=alert(1)>".into()),
                para(vec![text("after")]),
            ]
        );
    }

    #[test]
    fn only_web_and_mail_links_open() {
        assert_eq!(
            blocks("[x](javascript:alert(1))"),
            vec![para(vec![Inline::Link {
                target: Target::Blocked("javascript:alert(1)".into()),
                content: vec![text("x")],
            }])]
        );
        for blocked in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,hi",
            "relative/page",
            "/absolute",
            "#anchor",
            "//example.com",
            "vbscript:x",
            "http:",
            "",
        ] {
            assert!(!opens(blocked), "{blocked:?} must not open");
        }
        for open in [
            "http://example.com",
            "HTTPS://example.com/a?b#c",
            "mailto:someone@example.org",
        ] {
            assert!(opens(open), "{open:?} should open");
        }
        assert_eq!(
            blocks("![pic](file:///x.png) <data:text/html,hi>"),
            vec![para(vec![
                Inline::Image {
                    target: Target::Blocked("file:///x.png".into()),
                    alt: "pic".into(),
                },
                text(" "),
                Inline::Link {
                    target: Target::Blocked("data:text/html,hi".into()),
                    content: vec![text("data:text/html,hi")],
                },
            ])]
        );
    }

    #[test]
    fn tables_keep_alignment_and_cells() {
        let table = "\
| Left | Center | Right | None |
|:-----|:------:|------:|------|
| a | **b** | `c` | |
| d | e |
";
        assert_eq!(
            blocks(table),
            vec![Block::Table(Table {
                align: vec![Align::Left, Align::Center, Align::Right, Align::None],
                head: vec![
                    vec![text("Left")],
                    vec![text("Center")],
                    vec![text("Right")],
                    vec![text("None")],
                ],
                rows: vec![
                    vec![
                        vec![text("a")],
                        vec![Inline::Strong(vec![text("b")])],
                        vec![Inline::Code("c".into())],
                        vec![],
                    ],
                    vec![vec![text("d")], vec![text("e")], vec![], vec![]],
                ],
            })]
        );
    }

    #[test]
    fn unicode_survives() {
        assert_eq!(
            blocks("## Grüße 👋🏽\n\n日本語の*強調*と «citation» — ok\n\n```\nλ → ∀\n```"),
            vec![
                Block::Heading {
                    level: 2,
                    content: vec![text("Grüße 👋🏽")],
                },
                para(vec![
                    text("日本語の"),
                    Inline::Emphasis(vec![text("強調")]),
                    text("と «citation» — ok"),
                ]),
                Block::Code {
                    lang: None,
                    code: "λ → ∀".into(),
                },
            ]
        );
    }

    #[test]
    fn an_unfinished_fence_is_already_a_code_block() {
        assert_eq!(
            blocks("Here:\n\n```python\ndef f():\n    ret"),
            vec![
                para(vec![text("Here:")]),
                Block::Code {
                    lang: Some("python".into()),
                    code: "def f():\n    ret".into(),
                },
            ]
        );
        assert_eq!(
            blocks("```"),
            vec![Block::Code {
                lang: None,
                code: String::new(),
            }]
        );
    }

    #[test]
    fn finished_blocks_keep_their_keys_while_text_grows() {
        let before = parse("a\n\nb");
        let after = parse("a\n\nbc");
        assert_eq!(before.len(), 2);
        assert_eq!(after.len(), 2);
        assert_eq!(before[0].0, after[0].0);
        assert_ne!(before[1].0, after[1].0);
        // Same text at another place is another block.
        let repeated = parse("a\n\na");
        assert_ne!(repeated[0].0, repeated[1].0);
        // A reference definition arriving later changes how an earlier block reads.
        let unresolved = parse("see [docs]\n\n");
        let resolved = parse("see [docs]\n\n[docs]: https://example.com");
        assert_ne!(unresolved[0].0, resolved[0].0);
    }

    #[test]
    fn deep_nesting_is_cut_short_instead_of_overflowing() {
        let quotes = format!("{}deep", ">".repeat(10_000));
        let parsed = blocks(&quotes);
        assert_eq!(parsed.len(), 1);
        let mut depth = 0;
        let mut block = &parsed[0];
        while let Block::Quote(inner) = block {
            depth += 1;
            block = &inner[0];
        }
        assert!(depth <= MAX_DEPTH);
        assert_eq!(block, &para(vec![text("deep")]));

        let emphasis = format!("{}x{}", "*a _a ".repeat(5_000), " a_ a*".repeat(5_000));
        let parsed = blocks(&emphasis);
        let [Block::Paragraph(inlines)] = parsed.as_slice() else {
            panic!("expected one paragraph");
        };
        assert!(inline_depth(inlines) < MAX_DEPTH);
        assert!(plain_text(inlines).contains("a x a"));
    }

    fn inline_depth(inlines: &[Inline]) -> usize {
        inlines
            .iter()
            .map(|inline| match inline {
                Inline::Emphasis(inner) | Inline::Strong(inner) | Inline::Strikethrough(inner) => {
                    1 + inline_depth(inner)
                }
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// What the window shows for `text` arriving in pieces of `step` bytes: the settled
    /// pieces [`Streaming`] sent, then its last tail. Checks every moment on the way.
    fn streamed(text: &str, step: usize) -> Vec<Block> {
        let mut streaming = Streaming::default();
        let mut settled = Vec::new();
        let mut shown = Vec::new();
        let mut cut = 0;
        let mut end = 0;
        while end < text.len() {
            let from = end;
            end = (end + step).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            let update = streaming.push(&text[from..end]);
            assert!(update.settled.len() <= 1);
            for piece in update.settled {
                assert_eq!(piece.start as usize, cut, "pieces follow each other");
                cut = settled_len(&text[..end], cut);
                settled.extend(piece.blocks);
            }
            // Every moment on screen is what the text so far means.
            shown = settled.clone();
            shown.extend(update.tail.into_iter().map(|(_, block)| block));
            assert_eq!(shown, blocks(&text[..end]), "after {end} bytes of {text:?}");
        }
        shown
    }

    #[test]
    fn a_streaming_reply_settles_only_where_nothing_appended_can_change_it() {
        let samples = [
            "# Plan\n\nFirst *point*.\n\nSecond point\nstill going.\n\n---\n\nEnd.\n",
            // Lists that go on after a blank line turn loose; an indented paragraph belongs
            // to the item above.
            "- one\n- two\n\n- three\n\n  more of three\n\n1. a\n\n2) b\n\nAfter.\n",
            // Blank lines inside fences, a fence that looks closed but is not, tildes.
            "```rust\nfn a() {}\n\n\nfn b() {}\n``` not closed\n\nstill code\n```\n\n~~~~\nx\n\n~~~\n~~~~\n\nDone.\n",
            // Indented code, quotes, tables, footnotes, setext headings.
            "    code\n\n    more code\n\n> quote\n\n> another\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\nTitle\n=====\n\nNote[^1].\n[^1]: A note.\n\n    Its second paragraph.\n\nÜnïcödé ✓ text.\n",
        ];
        for sample in samples {
            for step in [1, 3, 17] {
                assert_eq!(
                    streamed(sample, step),
                    blocks(sample),
                    "{sample:?} by {step}"
                );
            }
        }
    }

    #[test]
    fn settling_never_cuts_inside_an_open_fence_or_before_a_continuation() {
        assert_eq!(settled_len("a\n\nb\n", 0), 3);
        assert_eq!(settled_len("```\na\n\nb\n", 0), 0);
        assert_eq!(settled_len("- a\n\n- b\n", 0), 0);
        assert_eq!(settled_len("- a\n\n  b\n", 0), 0);
        assert_eq!(settled_len("a\n\nb", 0), 0, "the last line may still grow");
        assert_eq!(
            settled_len("a\n\nb\n\nc\n", 3),
            6,
            "scans on from an earlier cut"
        );
    }
}
