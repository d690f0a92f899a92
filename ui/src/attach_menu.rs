//! The paperclip menu: every connected connector's resources, resource templates and prompts
//! in one searchable, keyboard-driven list, the small forms that fill in a template's
//! variables or a prompt's arguments, and the chips that show what was attached.
//!
//! Everything a server sends (names, titles, descriptions, URIs, suggestions, content) is
//! untrusted: it is rendered as text nodes or attribute values, never as HTML.
//!
//! The list stays instant with tens of thousands of entries: the index (with lowercased
//! haystacks) is built once per opening, the filter is a memo over it, and only the rows in
//! view (plus a few) are in the page.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::portal::Portal;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_ipc::chat::{
    Attachment, AttachmentContent, AttachmentKind, CompleteRequest, CompletionTarget,
    GetPromptRequest, Message, Part, ReadResourceRequest,
};
use switchboard_ipc::{
    ConnectorDetail, ConnectorId, ConnectorState, ErrorInfo, ExpandTemplateRequest,
    PromptArgumentInfo, TemplateVariable,
};
use wasm_bindgen::JsCast;

use crate::components::{
    CollectAny, Icon, Modal, Spinner, effect, focus_when_mounted, format_size, json_text, keyed,
};
use crate::state::use_app_state;
use crate::tauri;
use crate::{fuzzy, letters, sort};

/// Height of one row of the list, in CSS pixels: `.attach-row` in `attach.css` must match.
/// Whole pixels, so the rows' places are written with integer formatting.
const ROW_PX: usize = 44;
#[allow(clippy::cast_precision_loss)]
const ROW_HEIGHT: f64 = ROW_PX as f64;
/// Rows rendered above and below the visible ones, so fast scrolling shows no gap.
const OVERSCAN: usize = 8;
/// The list's height before it has been measured (the menu's max height minus the search).
const DEFAULT_VIEWPORT: f64 = 360.0;
/// How long typing in a form field pauses before the server is asked for suggestions.
const COMPLETION_DELAY: Duration = Duration::from_millis(150);
/// Descriptions are searched up to this many bytes: enough for what a person remembers.
const DESCRIPTION_HAYSTACK: usize = 512;
/// Words shorter than this are not looked for in descriptions (they would match nearly all).
const DESCRIPTION_MIN_WORD: usize = 3;
/// A word found as typed (in the label, name or URI) ranks above one found fuzzily, which
/// ranks above one found only in the description.
const SUBSTRING_TIER: u32 = 1_000;
const FUZZY_MAX: u32 = 900;
const DESCRIPTION_SCORE: u32 = 50;

/// The element ids the menu's ARIA relations point at. There is one composer, so one menu.
const MENU_ID: &str = "attach-menu";
const LISTBOX_ID: &str = "attach-listbox";

// ----- What the composer gets -------------------------------------------------------------

/// What the composer shows as a chip while it is read.
#[derive(Clone, Debug)]
pub struct PendingAttachment {
    /// Unique for the window's life: the composer's list key and what `on_remove` is given.
    pub key: u64,
    pub label: String,
    pub connector_name: String,
    pub kind: AttachmentKind,
    pub state: RwSignal<ChipState>,
    /// Read again because its server said it changed (the chip says so).
    pub updated: RwSignal<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ChipState {
    Reading,
    Ready(Attachment),
    Failed(ErrorInfo),
}

impl ChipState {
    fn from_result(result: Result<Attachment, ErrorInfo>) -> Self {
        match result {
            Ok(attachment) => Self::Ready(attachment),
            Err(error) => Self::Failed(error),
        }
    }
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

fn kind_name(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Resource => "resource",
        AttachmentKind::Template => "template",
        AttachmentKind::Prompt => "prompt",
    }
}

// ----- The index ----------------------------------------------------------------------------

/// What choosing an entry does.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    Resource {
        uri: String,
    },
    Template {
        uri_template: String,
        variables: Vec<TemplateVariable>,
        /// Why it cannot be filled in, when it cannot.
        problem: Option<String>,
    },
    Prompt {
        arguments: Vec<PromptArgumentInfo>,
    },
}

#[derive(Clone, Debug, PartialEq)]
struct Item {
    /// Index into [`Index::groups`].
    group: usize,
    kind: AttachmentKind,
    /// The server's name for it (`data-name`).
    name: String,
    /// Its title, else its name: what the row and the chip show.
    label: String,
    /// The muted second line: its description, else its URI (or template).
    detail: String,
    target: Target,
}

/// A connected connector and its entries.
#[derive(Clone, Debug, PartialEq)]
struct Group {
    id: ConnectorId,
    name: String,
    /// Its entries, a contiguous run of [`Index::items`].
    items: Range<usize>,
}

/// A connector that is not connected, listed under "Not available" with a way to fix it.
#[derive(Clone, Debug, PartialEq)]
struct Unavailable {
    id: ConnectorId,
    name: String,
    /// The state in words, and the connector's problem when it has one.
    detail: String,
}

/// Everything attachable, pre-sorted: groups by connector name; in a group resources,
/// then templates, then prompts, each by label. Built once per opening of the menu.
#[derive(Debug, Default)]
struct Index {
    groups: Vec<Group>,
    items: Vec<Item>,
    /// Per item, lowercased: label, name and URI. Searched for each word as typed.
    primary: Vec<String>,
    /// Per item: where the label and name end in `primary`, the part the fuzzy matcher
    /// reads. (URIs are long and made of the same few letters: fuzzy matches in them are
    /// noise.)
    names_len: Vec<usize>,
    /// Per item: where the label ends in `primary` (a word found there counts for more).
    label_len: Vec<usize>,
    /// Per item, lowercased and cut: the description. Searched for whole words.
    descriptions: Vec<String>,
    unavailable: Vec<Unavailable>,
}

/// What an entry is, whatever its place: its connector, its kind and its URI, template or
/// name. Keeps the highlighted entry where it is when the lists are read again.
#[derive(Clone, Debug, PartialEq)]
struct EntryKey(ConnectorId, AttachmentKind, String);

impl Index {
    fn key(&self, item: usize) -> EntryKey {
        let item = &self.items[item];
        let id = match &item.target {
            Target::Resource { uri } => uri.clone(),
            Target::Template { uri_template, .. } => uri_template.clone(),
            Target::Prompt { .. } => item.name.clone(),
        };
        EntryKey(self.groups[item.group].id.clone(), item.kind, id)
    }
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// At most `max` bytes of `text`, cut on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A sort key in which digits count as numbers: "Budget 42" comes before "Budget 424", and
/// that before "Budget 4232", as a person reads them.
fn natural_key(text: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut words = String::new();
    let mut number: Option<u64> = None;
    for ch in text.chars() {
        match (ch.to_digit(10), number) {
            (Some(digit), n) => {
                number = Some(
                    n.unwrap_or(0)
                        .saturating_mul(10)
                        .saturating_add(u64::from(digit)),
                );
            }
            (None, Some(n)) => {
                key.push((std::mem::take(&mut words), n));
                number = None;
                words.push(ch);
            }
            (None, None) => words.push(ch),
        }
    }
    key.push((words, number.unwrap_or(0)));
    key
}

/// `(score, position)` pairs, best score first and ties in order of position. Both rankings
/// of a keystroke go through this one function: one copy of the sort (see `sort`), kept
/// generic as it runs over every match at every keystroke.
fn best_first(scored: &mut [(u32, usize)]) {
    scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
}

fn kind_order(kind: AttachmentKind) -> u8 {
    match kind {
        AttachmentKind::Resource => 0,
        AttachmentKind::Template => 1,
        AttachmentKind::Prompt => 2,
    }
}

impl Index {
    fn build(details: Vec<ConnectorDetail>) -> Self {
        let (mut connected, mut others): (Vec<_>, Vec<_>) = details
            .into_iter()
            .partition(|d| d.summary.state == ConnectorState::Connected);
        let by_name =
            |d: &ConnectorDetail| (sort::fold_case(&d.summary.name), d.summary.id.clone());
        sort::sort_by_cached_key(&mut connected, by_name);
        sort::sort_by_cached_key(&mut others, by_name);

        let mut index = Index::default();
        // (item, its description) before sorting; descriptions only go to the haystack.
        for detail in connected {
            let group = index.groups.len();
            let catalog = detail.catalog.unwrap_or_default();
            let mut entries: Vec<(Item, String, String)> = Vec::with_capacity(
                catalog.resources.len() + catalog.resource_templates.len() + catalog.prompts.len(),
            );
            for resource in catalog.resources {
                let label = non_empty(resource.title).unwrap_or_else(|| resource.name.clone());
                let description = non_empty(resource.description);
                entries.push((
                    Item {
                        group,
                        kind: AttachmentKind::Resource,
                        detail: description.clone().unwrap_or_else(|| resource.uri.clone()),
                        name: resource.name,
                        label,
                        target: Target::Resource {
                            uri: resource.uri.clone(),
                        },
                    },
                    resource.uri,
                    description.unwrap_or_default(),
                ));
            }
            for template in catalog.resource_templates {
                let label = non_empty(template.title).unwrap_or_else(|| template.name.clone());
                let description = non_empty(template.description);
                entries.push((
                    Item {
                        group,
                        kind: AttachmentKind::Template,
                        detail: description
                            .clone()
                            .unwrap_or_else(|| template.uri_template.clone()),
                        name: template.name,
                        label,
                        target: Target::Template {
                            uri_template: template.uri_template.clone(),
                            variables: template.variables,
                            problem: template.problem,
                        },
                    },
                    template.uri_template,
                    description.unwrap_or_default(),
                ));
            }
            for prompt in catalog.prompts {
                let label = non_empty(prompt.title).unwrap_or_else(|| prompt.name.clone());
                let description = non_empty(prompt.description);
                let detail = description.clone().unwrap_or_else(|| {
                    if prompt.arguments.is_empty() {
                        String::new()
                    } else {
                        let names: Vec<&str> =
                            prompt.arguments.iter().map(|a| a.name.as_str()).collect();
                        format!("Asks for {}", names.join(", "))
                    }
                });
                entries.push((
                    Item {
                        group,
                        kind: AttachmentKind::Prompt,
                        detail,
                        name: prompt.name,
                        label,
                        target: Target::Prompt {
                            arguments: prompt.arguments,
                        },
                    },
                    String::new(),
                    description.unwrap_or_default(),
                ));
            }
            sort::sort_by_cached_key(&mut entries, |(item, _, _)| {
                (
                    kind_order(item.kind),
                    natural_key(&sort::fold_case(&item.label)),
                    item.name.clone(),
                )
            });
            let start = index.items.len();
            for (item, uri, description) in entries {
                let mut primary = sort::fold_case(&item.label);
                index.label_len.push(primary.len());
                if item.name != item.label {
                    primary.push(' ');
                    primary.push_str(&sort::fold_case(&item.name));
                }
                index.names_len.push(primary.len());
                if !uri.is_empty() {
                    primary.push(' ');
                    primary.push_str(&sort::fold_case(&uri));
                }
                index.primary.push(primary);
                index
                    .descriptions
                    .push(sort::fold_case(cut(&description, DESCRIPTION_HAYSTACK)));
                index.items.push(item);
            }
            index.groups.push(Group {
                id: detail.summary.id,
                name: detail.summary.name,
                items: start..index.items.len(),
            });
        }
        index.unavailable = others
            .into_iter()
            .map(|d| {
                let state = d.summary.state.label().to_owned();
                let detail = match d.summary.problem {
                    Some(problem) if !problem.message.is_empty() => {
                        format!("{state} · {}", problem.message)
                    }
                    _ => state,
                };
                Unavailable {
                    id: d.summary.id,
                    name: d.summary.name,
                    detail,
                }
            })
            .collect();
        index
    }

    /// The rows to show for `query`: everything in order when it is empty; else the entries
    /// matching every word, best first within their connector, connectors by their best.
    /// Connectors that are not available always come last.
    #[cfg(test)]
    fn filter(&self, query: &str) -> Filtered {
        self.filter_within(query, None)
    }

    /// [`Index::filter`], looking only at `within` when given: the entries an earlier query
    /// matched, when the new one only adds to it (see [`narrows`]).
    fn filter_within(&self, query: &str, within: Option<&[usize]>) -> Filtered {
        let words = query_words(query);
        let mut rows = Vec::new();
        let matches = if words.is_empty() {
            for (g, group) in self.groups.iter().enumerate() {
                rows.push(Row::Header(g));
                if group.items.is_empty() {
                    rows.push(Row::Empty(g));
                }
                rows.extend(group.items.clone().map(Row::Item));
            }
            self.items.len()
        } else {
            let scored = self.score(&words, within);
            let matches = scored.len();
            // Per group: its matches, best first (ties keep the index's order).
            let mut per_group: Vec<Vec<(u32, usize)>> = vec![Vec::new(); self.groups.len()];
            for (item, score) in scored {
                per_group[self.items[item].group].push((score, item));
            }
            let mut order: Vec<(u32, usize)> = Vec::new();
            for (g, list) in per_group.iter_mut().enumerate() {
                if list.is_empty() {
                    continue;
                }
                best_first(list);
                order.push((list[0].0, g));
            }
            best_first(&mut order);
            for (_, g) in order {
                rows.push(Row::Header(g));
                rows.extend(per_group[g].iter().map(|&(_, item)| Row::Item(item)));
            }
            matches
        };
        if !self.unavailable.is_empty() {
            rows.push(Row::UnavailableHeader);
            rows.extend((0..self.unavailable.len()).map(Row::Unavailable));
        }
        Filtered {
            rows,
            matches,
            searching: !words.is_empty(),
        }
    }

    /// The items matching every word, with their summed score. A word matches an item as
    /// typed in its label, name or URI, else fuzzily in its label or name, else as typed in
    /// its description.
    fn score(&self, words: &[String], within: Option<&[usize]>) -> Vec<(usize, u32)> {
        let mut candidates: Vec<usize> =
            within.map_or_else(|| (0..self.items.len()).collect(), <[usize]>::to_vec);
        let mut total = vec![0u32; self.items.len()];
        for word in words {
            let needle: Vec<char> = word.chars().collect();
            // Both sides are case folded already. Accents still match their plain letters,
            // unless the word has accents itself.
            let plain = needle.iter().all(|&c| letters::plain(c) == c);
            let in_descriptions = word.chars().count() >= DESCRIPTION_MIN_WORD;
            candidates.retain(|&i| {
                let score = substring_score(&self.primary[i], self.label_len[i], word)
                    .or_else(|| {
                        let names = &self.primary[i][..self.names_len[i]];
                        fuzzy::score(names, &needle, plain).map(|s| s.min(FUZZY_MAX))
                    })
                    .or_else(|| {
                        (in_descriptions && self.descriptions[i].contains(word.as_str()))
                            .then_some(DESCRIPTION_SCORE)
                    });
                match score {
                    Some(score) => {
                        total[i] += score;
                        true
                    }
                    None => false,
                }
            });
        }
        candidates.into_iter().map(|i| (i, total[i])).collect()
    }
}

fn query_words(query: &str) -> Vec<String> {
    query.split_whitespace().map(sort::fold_case).collect()
}

/// Whether everything `words` matches was matched by `previous` too, so the next filter can
/// look only at what the last one found: each earlier word is still there, as it was or
/// longer (typing on). A word found as typed, or fuzzily, is found when shortened too; one
/// found in a description only from [`DESCRIPTION_MIN_WORD`] letters, so a shorter earlier
/// word counts only while the new one is short too.
fn narrows(previous: &[String], words: &[String]) -> bool {
    !previous.is_empty()
        && previous.len() <= words.len()
        && previous.iter().zip(words).all(|(before, now)| {
            now == before
                || (now.starts_with(before.as_str())
                    && (before.chars().count() >= DESCRIPTION_MIN_WORD
                        || now.chars().count() < DESCRIPTION_MIN_WORD))
        })
}

/// The entries a filter matched, to narrow a later one from.
struct LastMatch {
    words: Vec<String>,
    items: Vec<usize>,
}

/// The last few filters of one index: typing "report 12" after "report 1" narrows from what
/// "report" matched, since "1" is too short to count.
#[derive(Default)]
struct RecentMatches {
    generation: u64,
    recent: Vec<LastMatch>,
}

impl RecentMatches {
    const KEPT: usize = 8;

    /// The fewest entries a filter for `words` has to look at, if any earlier one narrows it.
    fn within(&self, generation: u64, words: &[String]) -> Option<&[usize]> {
        if self.generation != generation {
            return None;
        }
        self.recent
            .iter()
            .filter(|last| narrows(&last.words, words))
            .min_by_key(|last| last.items.len())
            .map(|last| last.items.as_slice())
    }

    fn remember(&mut self, generation: u64, words: Vec<String>, filtered: &Filtered) {
        if self.generation != generation {
            self.generation = generation;
            self.recent.clear();
        }
        if words.is_empty() {
            return;
        }
        if self.recent.len() == Self::KEPT {
            self.recent.remove(0);
        }
        let items = filtered
            .rows
            .iter()
            .filter_map(|row| match row {
                Row::Item(item) => Some(*item),
                _ => None,
            })
            .collect();
        self.recent.push(LastMatch { words, items });
    }
}

/// The score of `word` found as typed in `haystack`: more at the start, at a word's start,
/// inside the label (the most for the whole label), and the earlier the better.
fn substring_score(haystack: &str, label_len: usize, word: &str) -> Option<u32> {
    haystack
        .match_indices(word)
        .take(4)
        .map(|(at, _)| {
            let boundary = haystack[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            let mut score = SUBSTRING_TIER;
            if at == 0 {
                score += 300;
            } else if boundary {
                score += 150;
            }
            if at + word.len() <= label_len {
                score += 200;
                if at == 0 && word.len() == label_len {
                    score += 200;
                }
            }
            // At most 100 (a position), from at least 1,000: no underflow.
            score - u32::try_from(at.min(100)).unwrap_or(100)
        })
        .max()
}

/// One line of the list. Headers are rows too, so the list is one flat, fixed-height run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Row {
    /// A connected connector's name.
    Header(usize),
    /// A connected connector that offers nothing to attach.
    Empty(usize),
    Item(usize),
    UnavailableHeader,
    Unavailable(usize),
}

impl Row {
    fn is_header(self) -> bool {
        matches!(self, Row::Header(_) | Row::UnavailableHeader)
    }

    fn is_option(self) -> bool {
        matches!(self, Row::Item(_) | Row::Unavailable(_))
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Filtered {
    rows: Vec<Row>,
    /// How many entries matched (all of them without a query).
    matches: usize,
    /// A query was typed.
    searching: bool,
}

// ----- Keyboard navigation and the virtual list -----------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Nav {
    Down,
    Up,
    Home,
    End,
    NextGroup,
    PrevGroup,
}

/// The first option of every group that has one.
fn group_firsts(rows: &[Row]) -> Vec<usize> {
    let mut firsts = Vec::new();
    let mut waiting = false;
    for (i, row) in rows.iter().enumerate() {
        if row.is_header() {
            waiting = true;
        } else if waiting && row.is_option() {
            firsts.push(i);
            waiting = false;
        }
    }
    firsts
}

/// Where a new list starts: its first entry, never a connector to fix (Enter on a query
/// that matched nothing must not leave the chat).
fn first_entry(rows: &[Row]) -> Option<usize> {
    rows.iter().position(|row| matches!(row, Row::Item(_)))
}

/// Where the active row goes for a key. Headers and empty rows are never active; Up and
/// Down stop at the ends, Tab and Shift+Tab go round the groups.
fn navigate(rows: &[Row], active: Option<usize>, nav: Nav) -> Option<usize> {
    let is_option = |i: &usize| rows[*i].is_option();
    let first = || (0..rows.len()).find(is_option);
    let last = || (0..rows.len()).rev().find(is_option);
    let active = active.filter(|&a| a < rows.len());
    match nav {
        Nav::Home => first(),
        Nav::End => last(),
        Nav::Down => match active {
            None => first(),
            Some(a) => (a + 1..rows.len()).find(is_option).or(Some(a)),
        },
        Nav::Up => match active {
            None => last(),
            Some(a) => (0..a).rev().find(is_option).or(Some(a)),
        },
        Nav::NextGroup | Nav::PrevGroup => {
            let firsts = group_firsts(rows);
            if firsts.is_empty() {
                return active;
            }
            let current = active.and_then(|a| firsts.iter().rposition(|&f| f <= a));
            let n = firsts.len();
            let next = match (nav, current) {
                (Nav::NextGroup, None) => 0,
                (Nav::NextGroup, Some(k)) => (k + 1) % n,
                (_, None) => n - 1,
                (_, Some(k)) => (k + n - 1) % n,
            };
            Some(firsts[next])
        }
    }
}

/// The rows to render for a scroll position: those in view plus the overscan.
fn visible_range(scroll_top: f64, viewport: f64, len: usize) -> Range<usize> {
    // Row counts are small and positive: the float-to-int conversions cannot overflow.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (first, end) = (
        (scroll_top.max(0.0) / ROW_HEIGHT).floor() as usize,
        ((scroll_top.max(0.0) + viewport.max(ROW_HEIGHT)) / ROW_HEIGHT).ceil() as usize,
    );
    first.saturating_sub(OVERSCAN).min(len)..(end + OVERSCAN).min(len)
}

/// The scroll position that brings rows `top..=bottom` into view, or `None` if they are.
fn scroll_to_show(top: usize, bottom: usize, scroll_top: f64, viewport: f64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    let (start, end) = (top as f64 * ROW_HEIGHT, (bottom + 1) as f64 * ROW_HEIGHT);
    if start < scroll_top {
        Some(start)
    } else if end > scroll_top + viewport {
        Some((end - viewport).max(0.0))
    } else {
        None
    }
}

// ----- Forms --------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct FormField {
    name: String,
    description: Option<String>,
    required: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum FormKind {
    Template {
        uri_template: String,
        /// Why the template cannot be filled in, when it cannot.
        problem: Option<String>,
    },
    Prompt {
        name: String,
    },
}

/// A template's variables or a prompt's arguments, to fill in before attaching.
#[derive(Clone, Debug, PartialEq)]
struct FormSpec {
    connector_id: ConnectorId,
    connector_name: String,
    label: String,
    kind: FormKind,
    fields: Vec<FormField>,
}

impl FormSpec {
    /// The form an entry needs, or `None` when it is attached at once.
    fn for_item(index: &Index, item: &Item) -> Option<FormSpec> {
        let group = &index.groups[item.group];
        let (kind, fields) = match &item.target {
            Target::Resource { .. } => return None,
            Target::Prompt { arguments } if arguments.is_empty() => return None,
            Target::Prompt { arguments } => (
                FormKind::Prompt {
                    name: item.name.clone(),
                },
                arguments
                    .iter()
                    .map(|a| FormField {
                        name: a.name.clone(),
                        description: non_empty(a.description.clone()),
                        required: a.required,
                    })
                    .collect(),
            ),
            Target::Template {
                uri_template,
                variables,
                problem,
            } => (
                FormKind::Template {
                    uri_template: uri_template.clone(),
                    problem: problem.clone(),
                },
                variables
                    .iter()
                    .map(|v| FormField {
                        description: v.optional.then(|| "Optional".to_owned()),
                        required: !v.optional,
                        name: v.name.clone(),
                    })
                    .collect(),
            ),
        };
        Some(FormSpec {
            connector_id: group.id.clone(),
            connector_name: group.name.clone(),
            label: item.label.clone(),
            kind,
            fields,
        })
    }

    fn is_template(&self) -> bool {
        matches!(self.kind, FormKind::Template { .. })
    }

    /// Every required field is filled in (and a template can be expanded).
    fn ready(&self, values: &[String]) -> bool {
        if let FormKind::Template {
            problem: Some(_), ..
        } = self.kind
        {
            return false;
        }
        self.fields
            .iter()
            .zip(values)
            .all(|(field, value)| !field.required || !value.trim().is_empty())
    }

    /// The filled-in fields by name (empty ones left out).
    fn values(&self, values: &[String], except: Option<usize>) -> BTreeMap<String, String> {
        // Inserted one by one: collecting into a map sorts first (see `sort`).
        let mut filled = BTreeMap::new();
        for (i, (field, value)) in self.fields.iter().zip(values).enumerate() {
            if Some(i) != except && !value.is_empty() {
                filled.insert(field.name.clone(), value.clone());
            }
        }
        filled
    }

    /// What to ask the core for the URI a template's values make (for the live preview and
    /// for reading): `Err` with why when the template cannot be filled in, `None` for a prompt.
    fn expansion(&self, values: &[String]) -> Option<Result<ExpandTemplateRequest, String>> {
        match &self.kind {
            FormKind::Template {
                uri_template,
                problem,
            } => Some(match problem {
                Some(problem) => Err(problem.clone()),
                None => Ok(ExpandTemplateRequest {
                    uri_template: uri_template.clone(),
                    values: self.values(values, None),
                }),
            }),
            FormKind::Prompt { .. } => None,
        }
    }

    fn completion_target(&self) -> CompletionTarget {
        match &self.kind {
            FormKind::Template { uri_template, .. } => CompletionTarget::Template {
                uri_template: uri_template.clone(),
            },
            FormKind::Prompt { name } => CompletionTarget::Prompt { name: name.clone() },
        }
    }
}

// ----- Sizes and images -------------------------------------------------------------------------

/// A `data:` URL for an image the window may show: only PNG, JPEG, GIF and WebP, and only
/// base64 text (nothing that could end the URL or the attribute).
pub(crate) fn image_data_url(media_type: &str, data: &str) -> Option<String> {
    data_url(media_type, data, switchboard_ipc::chat::IMAGE_TYPES)
}

/// A `data:` URL for a sound the window may play, on the same terms as an image.
pub(crate) fn audio_data_url(media_type: &str, data: &str) -> Option<String> {
    data_url(media_type, data, switchboard_ipc::chat::AUDIO_TYPES)
}

fn data_url(media_type: &str, data: &str, allowed: &[&str]) -> Option<String> {
    let media_type = media_type.trim().to_ascii_lowercase();
    let base64 = !data.is_empty()
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n' | b'\r'));
    (allowed.contains(&media_type.as_str()) && base64).then(|| {
        format!(
            "data:{media_type};base64,{}",
            data.replace(['\n', '\r'], "")
        )
    })
}

#[component]
fn KindIcon(kind: AttachmentKind) -> impl IntoView {
    let path = match kind {
        // A page with a folded corner.
        AttachmentKind::Resource => "M4 1.75h5.25L12.5 5v9.25H4z M9.25 1.75V5h3.25",
        // Braces: something to fill in.
        AttachmentKind::Template => {
            "M6 2.5C4.5 2.5 4.5 3.5 4.5 5S4 7.5 3 8c1 .5 1.5 1.5 1.5 3s0 2.5 1.5 2.5 \
             M10 2.5c1.5 0 1.5 1 1.5 2.5s.5 2.5 1.5 3c-1 .5-1.5 1.5-1.5 3s0 2.5-1.5 2.5"
        }
        // A speech bubble.
        AttachmentKind::Prompt => "M2.5 3h11v7.5H8l-3.5 3v-3h-2z",
    };
    view! {
        <Icon d=path size=16 stroke_width="1.3" class="attach-icon" />
    }
}

#[component]
fn WarningIcon() -> impl IntoView {
    view! {
        <Icon d="M8 2l6.5 11.5h-13zM8 6.5v3.5M8 11.75v.25" size=14 stroke_width="1.4" class="attach-warning-icon" />
    }
}

#[component]
fn CloseIcon() -> impl IntoView {
    view! {
        <Icon d="M4 4l8 8M12 4l-8 8" size=12 stroke_width="1.6" />
    }
}

// ----- The menu -------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Load {
    Loading,
    Failed(ErrorInfo),
    Ready(Arc<Index>, u64),
}

/// Starts reading what a chip shows; the chip's signal gets the outcome. The read goes on
/// after the menu closes, and a chip removed meanwhile simply ignores it.
fn start_chip(
    owner: Option<&Owner>,
    label: String,
    connector_name: String,
    kind: AttachmentKind,
    read: impl Future<Output = Result<Attachment, ErrorInfo>> + 'static,
) -> PendingAttachment {
    // The signal belongs to the menu's owner (the composer's), not to the row that was
    // clicked, which goes when the menu closes.
    let (state, updated) = match owner {
        Some(owner) => owner.with(|| (RwSignal::new(ChipState::Reading), RwSignal::new(false))),
        None => (RwSignal::new(ChipState::Reading), RwSignal::new(false)),
    };
    spawn_local(async move {
        let outcome = ChipState::from_result(read.await);
        let _ = state.try_set(outcome);
    });
    PendingAttachment {
        key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
        label,
        connector_name,
        kind,
        state,
        updated,
    }
}

impl PendingAttachment {
    /// Reads the chip again when its server says the resource changed, keeping the chip
    /// ready (and sendable) meanwhile; a failed read keeps what was read before.
    pub fn refresh_if(&self, updated: &switchboard_ipc::ResourceUpdated) {
        let Some(attachment) = self.state.with_untracked(|s| match s {
            ChipState::Ready(a) => Some(a.clone()),
            _ => None,
        }) else {
            return;
        };
        let is_it = matches!(
            attachment.kind,
            AttachmentKind::Resource | AttachmentKind::Template
        ) && attachment.connector_id == updated.connector_id.0
            && attachment.uri.as_deref() == Some(updated.uri.as_str());
        if !is_it {
            return;
        }
        let request = switchboard_ipc::chat::ReadResourceRequest {
            connector_id: updated.connector_id.clone(),
            uri: updated.uri.clone(),
            name: attachment.name.clone(),
            from_template: attachment.kind == AttachmentKind::Template,
        };
        let (state, flag) = (self.state, self.updated);
        spawn_local(async move {
            if let Ok(read) = tauri::read_resource(request).await
                && state.try_set(ChipState::Ready(read)).is_none()
            {
                let _ = flag.try_set(true);
            }
        });
    }
}

/// The menu, open while `open` is true; it loads `attachables()` each time it opens.
/// `initial_query` is the initial filter text (the composer passes what follows an `@`).
/// Calls `on_attach(Pending)` for each chosen item and `on_close()` on Esc / outside click /
/// after choosing; "Fix" on a connector that is not available calls `on_fix_connector`.
///
/// Keep it mounted while the composer lives: the chips' state signals belong to the owner
/// it was created in. A click on the element with `aria-controls="attach-menu"` (the
/// paperclip) does not count as an outside click, so that button can toggle the menu.
#[component]
pub fn AttachMenu(
    open: RwSignal<bool>,
    #[prop(into)] initial_query: Signal<String>,
    on_attach: Callback<PendingAttachment>,
    on_close: Callback<()>,
    on_fix_connector: Callback<ConnectorId>,
) -> impl IntoView {
    let owner = StoredValue::new(Owner::current());
    let load = RwSignal::new(Load::Loading);
    let load_seq = StoredValue::new(0u64);
    // Set by each key, at once: the filter takes 0.5 ms (5 entries) to 3 ms (12,005) in a
    // release build, so the frame that shows the key shows its list too. (Filtering in a
    // task of its own, as this once did, put that whole frame between the key and its list.)
    let query = RwSignal::new(String::new());
    let form = RwSignal::new(None::<FormSpec>);
    let active = RwSignal::new(None::<usize>);
    let scroll_top = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(DEFAULT_VIEWPORT);
    let root = NodeRef::<html::Div>::new();
    let search = NodeRef::<html::Input>::new();
    let listbox = NodeRef::<html::Div>::new();

    // Typing on narrows what the last keystroke matched instead of searching everything.
    let recent = StoredValue::new(RecentMatches::default());
    let filtered = Memo::new(move |_| {
        load.with(|load| match load {
            Load::Ready(index, generation) => query.with(|q| {
                let words = query_words(q);
                let filtered = recent.with_value(|recent| {
                    index.filter_within(q, recent.within(*generation, &words))
                });
                recent.update_value(|recent| recent.remember(*generation, words, &filtered));
                filtered
            }),
            _ => Filtered::default(),
        })
    });
    // The highlighted entry across a quiet re-read, found again in the new lists.
    let keep = StoredValue::new(None::<EntryKey>);
    // `quiet`: the lists changed while the menu is open; the old ones stay on screen until
    // the new ones are here, and the highlighted entry stays highlighted.
    let start_load = move |quiet: bool| {
        load_seq.update_value(|seq| *seq += 1);
        let seq = load_seq.get_value();
        if !quiet {
            load.set(Load::Loading);
        }
        spawn_local(async move {
            let result = tauri::attachables().await;
            // An answer for an earlier opening, or for a menu that is gone.
            if load_seq.try_get_value() != Some(seq) {
                return;
            }
            if quiet {
                let held = load.with_untracked(|load| match load {
                    Load::Ready(index, _) => active
                        .get_untracked()
                        .and_then(|at| filtered.with_untracked(|f| f.rows.get(at).copied()))
                        .and_then(|row| match row {
                            Row::Item(item) => Some(index.key(item)),
                            _ => None,
                        }),
                    _ => None,
                });
                keep.set_value(held);
            }
            let _ = load.try_set(match result {
                Ok(details) => Load::Ready(Arc::new(Index::build(details)), seq),
                Err(error) => Load::Failed(error),
            });
        });
    };

    // Each opening: a fresh list, the composer's text as the filter, the top of the list.
    Effect::new(move |was_open: Option<bool>| {
        let is_open = open.get();
        if is_open && was_open != Some(true) {
            form.set(None);
            query.set(initial_query.get_untracked());
            active.set(None);
            scroll_top.set(0.0);
            start_load(false);
        } else if !is_open && was_open == Some(true) {
            // Closed: drop the index (it can be large) and any answer still on its way.
            load_seq.update_value(|seq| *seq += 1);
            load.set(Load::Loading);
        }
        is_open
    });
    // The composer may go on changing the text after `@` while the menu is open.
    Effect::new(move |previous: Option<String>| {
        let text = initial_query.get();
        if previous.is_some() && open.get_untracked() && previous.as_ref() != Some(&text) {
            query.set(text.clone());
        }
        text
    });

    let generation = Memo::new(move |_| {
        load.with(|load| match load {
            Load::Ready(_, generation) => *generation,
            _ => 0,
        })
    });
    // A server that says its lists changed while the menu is open: read them again.
    let state = use_app_state();
    Effect::new(
        move |previous: Option<Vec<(ConnectorId, ConnectorState, u64)>>| {
            let lists = state.connectors.with(|list| {
                list.iter()
                    .map(|c| (c.id.clone(), c.state, c.catalog_revision))
                    .collect::<Vec<_>>()
            });
            if previous.is_some_and(|previous| previous != lists) && open.get_untracked() {
                start_load(true);
            }
            lists
        },
    );

    // A new filter starts at its first entry, at the top; lists read again keep their place.
    effect(move || {
        let kept = keep
            .try_update_value(Option::take)
            .flatten()
            .and_then(|key| {
                let index = load.with_untracked(|load| match load {
                    Load::Ready(index, _) => Some(Arc::clone(index)),
                    _ => None,
                })?;
                filtered.with(|f| {
                    f.rows
                        .iter()
                        .position(|row| matches!(row, Row::Item(item) if index.key(*item) == key))
                })
            });
        if kept.is_some() {
            active.set(kept);
            return;
        }
        let first = filtered.with(|f| first_entry(&f.rows));
        active.set(first);
        if let Some(list) = listbox.get_untracked() {
            list.set_scroll_top(0);
        }
        scroll_top.set(0.0);
    });

    // A mousedown outside closes the menu.
    let outside = window_event_listener(leptos::ev::mousedown, move |ev| {
        if !open.get_untracked() {
            return;
        }
        let Some(menu) = root.get_untracked() else {
            return;
        };
        let target = ev.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok());
        if menu.contains(target.as_ref()) {
            return;
        }
        let element = target.and_then(|node| match node.dyn_into::<web_sys::Element>() {
            Ok(element) => Some(element),
            Err(node) => node.parent_element(),
        });
        let toggle = format!("[aria-controls='{MENU_ID}']");
        if element.is_some_and(|e| e.closest(&toggle).ok().flatten().is_some()) {
            return;
        }
        on_close.run(());
    });
    on_cleanup(move || outside.remove());

    let index = move || {
        load.with_untracked(|load| match load {
            Load::Ready(index, _) => Some(Arc::clone(index)),
            _ => None,
        })
    };

    let choose = Callback::new(move |position: usize| {
        let Some(index) = index() else {
            return;
        };
        let Some(row) = filtered.with_untracked(|f| f.rows.get(position).copied()) else {
            return;
        };
        match row {
            Row::Item(i) => {
                let item = &index.items[i];
                if let Some(spec) = FormSpec::for_item(&index, item) {
                    form.set(Some(spec));
                    return;
                }
                let group = &index.groups[item.group];
                let owner = owner.get_value();
                let chip = match &item.target {
                    Target::Resource { uri } => start_chip(
                        owner.as_ref(),
                        item.label.clone(),
                        group.name.clone(),
                        AttachmentKind::Resource,
                        tauri::read_resource(ReadResourceRequest {
                            connector_id: group.id.clone(),
                            uri: uri.clone(),
                            name: item.label.clone(),
                            from_template: false,
                        }),
                    ),
                    _ => start_chip(
                        owner.as_ref(),
                        item.label.clone(),
                        group.name.clone(),
                        AttachmentKind::Prompt,
                        tauri::get_prompt(GetPromptRequest {
                            connector_id: group.id.clone(),
                            name: item.name.clone(),
                            title: item.label.clone(),
                            arguments: BTreeMap::new(),
                        }),
                    ),
                };
                on_attach.run(chip);
                on_close.run(());
            }
            Row::Unavailable(u) => on_fix_connector.run(index.unavailable[u].id.clone()),
            _ => {}
        }
    });

    let submit_form = Callback::new(move |(spec, values): (FormSpec, Vec<String>)| {
        let owner = owner.get_value();
        let chip = match &spec.kind {
            FormKind::Template { .. } => {
                let Some(Ok(expansion)) = spec.expansion(&values) else {
                    return;
                };
                let (connector_id, name) = (spec.connector_id.clone(), spec.label.clone());
                start_chip(
                    owner.as_ref(),
                    spec.label.clone(),
                    spec.connector_name.clone(),
                    AttachmentKind::Template,
                    async move {
                        let uri = tauri::expand_template(expansion).await?;
                        tauri::read_resource(ReadResourceRequest {
                            connector_id,
                            uri,
                            name,
                            from_template: true,
                        })
                        .await
                    },
                )
            }
            FormKind::Prompt { name } => start_chip(
                owner.as_ref(),
                spec.label.clone(),
                spec.connector_name.clone(),
                AttachmentKind::Prompt,
                tauri::get_prompt(GetPromptRequest {
                    connector_id: spec.connector_id.clone(),
                    name: name.clone(),
                    title: spec.label.clone(),
                    arguments: spec.values(&values, None),
                }),
            ),
        };
        on_attach.run(chip);
        on_close.run(());
    });

    let scroll_into_view = move |position: usize| {
        let Some(list) = listbox.get_untracked() else {
            return;
        };
        // The first entry of a group brings its header along.
        let top = filtered.with_untracked(|f| {
            if position > 0 && f.rows[position - 1].is_header() {
                position - 1
            } else {
                position
            }
        });
        let height = f64::from(list.client_height());
        if let Some(target) = scroll_to_show(top, position, f64::from(list.scroll_top()), height) {
            // Whole pixels: rows are whole pixels high.
            #[allow(clippy::cast_possible_truncation)]
            list.set_scroll_top(target as i32);
            scroll_top.set(target);
        }
    };

    let on_search_input = move |ev: leptos::ev::Event| query.set(event_target_value(&ev));

    let on_search_key = move |ev: KeyboardEvent| {
        if ev.is_composing() {
            return;
        }
        let nav = match ev.key().as_str() {
            "ArrowDown" => Nav::Down,
            "ArrowUp" => Nav::Up,
            "Home" => Nav::Home,
            "End" => Nav::End,
            "Tab" if ev.shift_key() => Nav::PrevGroup,
            "Tab" => Nav::NextGroup,
            "Enter" => {
                ev.prevent_default();
                if let Some(position) = active.get_untracked() {
                    choose.run(position);
                }
                return;
            }
            _ => return,
        };
        let next = filtered.with_untracked(|f| navigate(&f.rows, active.get_untracked(), nav));
        if let Some(next) = next {
            ev.prevent_default();
            active.set(Some(next));
            scroll_into_view(next);
        }
    };

    let on_scroll = move |_| {
        if let Some(list) = listbox.get_untracked() {
            scroll_top.set(f64::from(list.scroll_top()));
            viewport.set(f64::from(list.client_height()));
        }
    };

    let visible = move || {
        let generation = generation.get();
        filtered.with(|f| {
            visible_range(scroll_top.get(), viewport.get(), f.rows.len())
                .map(|position| (generation, position, f.rows[position]))
                .collect::<Vec<_>>()
        })
    };

    let render_row = move |(_, position, row): (u64, usize, Row)| {
        let Some(index) = index() else {
            return ().into_any();
        };
        let top = format!("{}px", position * ROW_PX);
        let selected = move || active.get() == Some(position);
        match row {
            Row::Header(g) => view! {
                <div class="attach-row attach-group" role="presentation" data-testid="attach-group" style:top=top>
                    {index.groups[g].name.clone()}
                </div>
            }
            .into_any(),
            Row::Empty(_) => view! {
                <div class="attach-row attach-empty" role="presentation" style:top=top>
                    "Offers nothing to attach"
                </div>
            }
            .into_any(),
            Row::UnavailableHeader => view! {
                <div
                    class="attach-row attach-group"
                    role="presentation"
                    data-testid="attach-unavailable-group"
                    style:top=top
                >
                    "Not available"
                </div>
            }
            .into_any(),
            Row::Item(i) => {
                let item = &index.items[i];
                let tooltip = if item.detail.is_empty() {
                    item.label.clone()
                } else {
                    format!("{}\n{}", item.label, item.detail)
                };
                view! {
                    <div
                        id=format!("attach-option-{position}")
                        class="attach-row attach-option"
                        class:active=selected
                        role="option"
                        aria-selected=move || selected().to_string()
                        data-testid="attach-option"
                        data-kind=kind_name(item.kind)
                        data-name=item.name.clone()
                        title=tooltip
                        style:top=top
                        on:mousemove=move |_| {
                            if active.get_untracked() != Some(position) {
                                active.set(Some(position));
                            }
                        }
                        on:mousedown=|ev| ev.prevent_default()
                        on:click=move |_| choose.run(position)
                    >
                        <KindIcon kind=item.kind />
                        <span class="attach-row-text">
                            <span class="attach-row-label">{item.label.clone()}</span>
                            <span class="attach-row-detail">{item.detail.clone()}</span>
                        </span>
                    </div>
                }
                .into_any()
            }
            Row::Unavailable(u) => {
                let connector = &index.unavailable[u];
                let id = connector.id.clone();
                view! {
                    <div
                        id=format!("attach-option-{position}")
                        class="attach-row attach-option attach-unavailable"
                        class:active=selected
                        role="option"
                        aria-selected=move || selected().to_string()
                        aria-disabled="true"
                        data-testid="attach-unavailable"
                        data-name=connector.name.clone()
                        title=connector.detail.clone()
                        style:top=top
                        on:mousemove=move |_| {
                            if active.get_untracked() != Some(position) {
                                active.set(Some(position));
                            }
                        }
                        on:mousedown=|ev| ev.prevent_default()
                    >
                        <span class="attach-row-text">
                            <span class="attach-row-label">{connector.name.clone()}</span>
                            <span class="attach-row-detail">{connector.detail.clone()}</span>
                        </span>
                        <button
                            type="button"
                            class="button button-small"
                            data-testid="attach-fix"
                            tabindex="-1"
                            on:click=move |_| on_fix_connector.run(id.clone())
                        >
                            "Fix"
                        </button>
                    </div>
                }
                .into_any()
            }
        }
    };

    let active_id = move || {
        active
            .get()
            .map(|position| format!("attach-option-{position}"))
    };

    let list_view = move || {
        focus_when_mounted(search);
        // The list's real height, once it is in the page.
        effect(move || {
            if let Some(list) = listbox.get() {
                let height = f64::from(list.client_height());
                if height > 0.0 {
                    viewport.set(height);
                }
            }
        });
        view! {
            <div class="attach-search-row">
                <input
                    class="attach-search"
                    type="text"
                    data-testid="attach-search"
                    placeholder="Search resources and prompts"
                    aria-label="Search resources and prompts"
                    role="combobox"
                    aria-expanded="true"
                    aria-autocomplete="list"
                    aria-controls=LISTBOX_ID
                    aria-activedescendant=active_id
                    autocomplete="off"
                    spellcheck="false"
                    // Typing never waits for this: the browser shows the key, and the
                    // filter sets the same text afterwards. It only matters when the text
                    // is set from outside (opening with `@word`, coming back from a form).
                    prop:value=move || query.get()
                    node_ref=search
                    on:input=on_search_input
                    on:keydown=on_search_key
                />
            </div>
            {move || match load.get() {
                Load::Loading => view! {
                    <div class="attach-status" data-testid="attach-loading">
                        <Spinner />
                        "Loading what your connectors offer…"
                    </div>
                }
                .into_any(),
                Load::Failed(error) => view! {
                    <div class="attach-status attach-status-error" role="alert" data-testid="attach-error">
                        <span>{error.message}</span>
                        <button type="button" class="button button-small" on:click=move |_| start_load(false)>
                            "Retry"
                        </button>
                    </div>
                }
                .into_any(),
                Load::Ready(index, _) => {
                    let nothing = index.groups.is_empty() && index.unavailable.is_empty();
                    view! {
                        {nothing.then(|| view! {
                            <p class="attach-status">
                                "No connectors yet. Add one in Settings → Connectors to attach what it offers."
                            </p>
                        }.into_any())}
                        {move || {
                            filtered.with(|f| f.searching && f.matches == 0).then(|| view! {
                                <p class="attach-status" data-testid="attach-no-match">
                                    "Nothing matches “" {query.get()} "”."
                                </p>
                            }.into_any())
                        }}
                    }
                    .into_any()
                }
            }}
            <div
                class="attach-list"
                id=LISTBOX_ID
                role="listbox"
                aria-label="Resources and prompts"
                aria-activedescendant=active_id
                node_ref=listbox
                on:scroll=on_scroll
            >
                <div
                    class="attach-spacer"
                    role="presentation"
                    style:height=move || {
                        let height = filtered.with(|f| f.rows.len()) * ROW_PX;
                        format!("{height}px")
                    }
                >
                    {keyed(visible, |row| *row, render_row)}
                </div>
            </div>
            <p class="attach-sr-only" aria-live="polite">
                {move || {
                    filtered.with(|f| match (f.searching, f.matches) {
                        (false, _) => String::new(),
                        (true, 1) => "1 result".to_owned(),
                        (true, n) => format!("{n} results"),
                    })
                }}
            </p>
        }
    };

    let on_root_key = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" && !ev.is_composing() {
            ev.prevent_default();
            ev.stop_propagation();
            on_close.run(());
        }
    };

    move || {
        open.get().then(|| {
            view! {
                <div
                    class="attach-menu"
                    id=MENU_ID
                    role="dialog"
                    aria-label="Attach a resource or prompt"
                    data-testid="attach-menu"
                    node_ref=root
                    on:keydown=on_root_key
                >
                    {move || match form.get() {
                        None => list_view().into_any(),
                        Some(spec) => view! {
                            <AttachForm spec on_back=Callback::new(move |()| form.set(None)) on_submit=submit_form />
                        }
                        .into_any(),
                    }}
                </div>
            }.into_any()
        })
    }
}

/// Suggestions from the server for one field, as of one sequence number.
#[derive(Clone, Debug, Default, PartialEq)]
struct Suggestions {
    field: usize,
    options: Vec<String>,
}

/// The form for a template's variables or a prompt's arguments.
#[component]
fn AttachForm(
    spec: FormSpec,
    on_back: Callback<()>,
    on_submit: Callback<(FormSpec, Vec<String>)>,
) -> impl IntoView {
    let spec = Arc::new(spec);
    let values = RwSignal::new(vec![String::new(); spec.fields.len()]);
    let focused = RwSignal::new(None::<usize>);
    let suggestions = RwSignal::new(Suggestions::default());
    let highlighted = RwSignal::new(None::<usize>);
    // The latest request wins: answers to earlier ones are dropped.
    let sequence = StoredValue::new(0u64);
    let cache = StoredValue::new(HashMap::<(usize, String), Vec<String>>::new());
    let first_field = NodeRef::<html::Input>::new();
    let attach_button = NodeRef::<html::Button>::new();
    if spec.fields.is_empty() {
        focus_when_mounted(attach_button);
    } else {
        focus_when_mounted(first_field);
    }

    let is_template = spec.is_template();
    let testid = if is_template {
        "template-form"
    } else {
        "prompt-form"
    };
    let field_testid = if is_template {
        "template-field"
    } else {
        "prompt-field"
    };

    let ready = {
        let spec = Arc::clone(&spec);
        Memo::new(move |_| values.with(|v| spec.ready(v)))
    };

    let show = move |field: usize, options: Vec<String>| {
        suggestions.set(Suggestions { field, options });
        highlighted.set(None);
    };

    let ask = {
        let spec = Arc::clone(&spec);
        move |field: usize| {
            sequence.update_value(|s| *s += 1);
            let seq = sequence.get_value();
            let (value, context) =
                values.with_untracked(|v| (v[field].clone(), spec.values(v, Some(field))));
            if let Some(hit) = cache.with_value(|c| c.get(&(field, value.clone())).cloned()) {
                show(field, hit);
                return;
            }
            let request = CompleteRequest {
                connector_id: spec.connector_id.clone(),
                target: spec.completion_target(),
                argument: spec.fields[field].name.clone(),
                value: value.clone(),
                context,
            };
            set_timeout(
                move || {
                    if sequence.try_get_value() != Some(seq) {
                        return;
                    }
                    spawn_local(async move {
                        // A server without completions simply offers none.
                        let Ok(options) = tauri::complete_argument(request).await else {
                            return;
                        };
                        let _ =
                            cache.try_update_value(|c| c.insert((field, value), options.clone()));
                        if sequence.try_get_value() == Some(seq) {
                            show(field, options);
                        }
                    });
                },
                COMPLETION_DELAY,
            );
        }
    };

    let submit = {
        let spec = Arc::clone(&spec);
        move || {
            if ready.get_untracked() {
                on_submit.run(((*spec).clone(), values.get_untracked()));
            }
        }
    };

    let fill = move |field: usize, value: String| {
        values.update(|v| v[field] = value);
        sequence.update_value(|s| *s += 1);
        show(field, Vec::new());
    };

    // The suggestions shown under `field`: not the value it already has.
    let shown = move |field: usize| {
        let current = values.with(|v| v[field].clone());
        suggestions.with(|s| {
            if s.field == field && focused.get() == Some(field) {
                s.options
                    .iter()
                    .filter(|o| **o != current)
                    .cloned()
                    .collect::<Vec<_>>()
            } else {
                Vec::new()
            }
        })
    };

    let fields = spec
        .fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let input_id = format!("attach-field-{i}");
            let list_id = format!("attach-suggestions-{i}");
            let ask_focus = ask.clone();
            let ask_input = ask.clone();
            let submit = submit.clone();
            let node = if i == 0 {
                first_field
            } else {
                NodeRef::new()
            };
            let on_key = move |ev: KeyboardEvent| {
                if ev.is_composing() {
                    return;
                }
                let options = shown(i);
                match ev.key().as_str() {
                    "ArrowDown" | "ArrowUp" if !options.is_empty() => {
                        ev.prevent_default();
                        let n = options.len();
                        let down = ev.key() == "ArrowDown";
                        highlighted.update(|h| {
                            *h = Some(match (*h, down) {
                                (None, true) => 0,
                                (None, false) => n - 1,
                                (Some(k), true) => (k + 1) % n,
                                (Some(k), false) => (k + n - 1) % n,
                            });
                        });
                    }
                    "Enter" => {
                        ev.prevent_default();
                        match highlighted.get_untracked().and_then(|k| options.get(k).cloned()) {
                            Some(option) => fill(i, option),
                            None => submit(),
                        }
                    }
                    "Escape" if !options.is_empty() => {
                        ev.prevent_default();
                        ev.stop_propagation();
                        show(i, Vec::new());
                    }
                    _ => {}
                }
            };
            view! {
                <div class="attach-field">
                    <label class="attach-field-label" for=input_id.clone()>
                        <span class="attach-field-name">{field.name.clone()}</span>
                        {field.required.then(|| view! { <span class="attach-required">"required"</span> }.into_any())}
                    </label>
                    {field
                        .description
                        .clone()
                        .map(|text| view! { <p class="attach-field-desc">{text}</p> }.into_any())}
                    <input
                        class="input attach-field-input"
                        type="text"
                        id=input_id
                        data-testid=field_testid
                        data-name=field.name.clone()
                        autocomplete="off"
                        spellcheck="false"
                        role="combobox"
                        aria-autocomplete="list"
                        aria-required=field.required.to_string()
                        aria-controls=list_id.clone()
                        aria-expanded=move || (!shown(i).is_empty()).to_string()
                        aria-activedescendant=move || {
                            highlighted.get().map(|k| format!("attach-suggestion-{i}-{k}"))
                        }
                        node_ref=node
                        prop:value=move || values.with(|v| v[i].clone())
                        on:input=move |ev| {
                            let value = event_target_value(&ev);
                            values.update(|v| v[i] = value);
                            ask_input(i);
                        }
                        on:focus=move |_| {
                            focused.set(Some(i));
                            ask_focus(i);
                        }
                        on:blur=move |_| focused.set(None)
                        on:keydown=on_key
                    />
                    {move || {
                        let options = shown(i);
                        (!options.is_empty()).then(|| {
                            view! {
                                <ul class="attach-suggestions" id=list_id.clone() role="listbox">
                                    {options
                                        .into_iter()
                                        .enumerate()
                                        .map(|(k, option)| {
                                            let chosen = option.clone();
                                            view! {
                                                <li
                                                    id=format!("attach-suggestion-{i}-{k}")
                                                    class="attach-suggestion"
                                                    class:active=move || highlighted.get() == Some(k)
                                                    role="option"
                                                    aria-selected=move || (highlighted.get() == Some(k)).to_string()
                                                    data-testid="completion-option"
                                                    on:mousedown=|ev| ev.prevent_default()
                                                    on:click=move |_| fill(i, chosen.clone())
                                                >
                                                    {option}
                                                </li>
                                            }.into_any()
                                        })
                                        .collect_any()}
                                </ul>
                            }.into_any()
                        })
                    }}
                </div>
            }.into_any()
        })
        .collect_any();

    // The URI the values make, as the core expands it; the latest answer wins.
    let expanded = RwSignal::new(None::<Result<String, String>>);
    let expanding = StoredValue::new(0u64);
    effect({
        let spec = Arc::clone(&spec);
        move || {
            let Some(expansion) = values.with(|v| spec.expansion(v)) else {
                return;
            };
            expanding.update_value(|n| *n += 1);
            let seq = expanding.get_value();
            spawn_local(async move {
                let uri = match expansion {
                    Ok(request) => tauri::expand_template(request)
                        .await
                        .map_err(|err| err.detail.unwrap_or(err.message)),
                    Err(problem) => Err(problem),
                };
                if expanding.try_get_value() == Some(seq) {
                    expanded.try_set(Some(uri));
                }
            });
        }
    });
    let preview = move || {
        expanded.get().map(|uri| match uri {
            Ok(uri) => view! {
                <div class="attach-uri-preview">
                    <span class="attach-uri-label">"Reads"</span>
                    <code data-testid="template-preview">{uri}</code>
                </div>
            }
            .into_any(),
            Err(problem) => view! {
                <p class="attach-status-error" role="alert">
                    "This template can't be filled in: " {problem}
                </p>
            }
            .into_any(),
        })
    };

    let submit_click = submit.clone();
    let form_kind = if is_template {
        AttachmentKind::Template
    } else {
        AttachmentKind::Prompt
    };
    view! {
        <div class="attach-form" data-testid=testid>
            <div class="attach-form-head">
                <button type="button" class="back-link" data-testid="form-back" on:click=move |_| on_back.run(())>
                    "← Back"
                </button>
                <span class="attach-form-title">
                    <KindIcon kind=form_kind />
                    <span class="attach-form-label">{spec.label.clone()}</span>
                    <span class="attach-form-connector">{spec.connector_name.clone()}</span>
                </span>
            </div>
            <div class="attach-form-body">
                {fields}
                {preview}
            </div>
            <div class="attach-form-actions">
                <button
                    type="button"
                    class="button button-primary button-small"
                    data-testid="form-attach"
                    node_ref=attach_button
                    disabled=move || !ready.get()
                    on:click=move |_| submit_click()
                >
                    "Attach"
                </button>
            </div>
        </div>
    }
}

// ----- Chips ----------------------------------------------------------------------------------

/// A chip above the composer input: icon by kind, name, connector, size, a spinner while it
/// is read, the error when it failed, and the attachment's note as a warning. Click → a
/// preview of the content; × calls `on_remove` with the chip's key.
#[component]
pub fn AttachmentChip(
    chip: PendingAttachment,
    #[prop(optional)] on_remove: Option<Callback<u64>>,
) -> impl IntoView {
    let PendingAttachment {
        key,
        label,
        connector_name,
        kind,
        state,
        updated,
    } = chip;
    let on_remove = on_remove.map(|remove| Callback::new(move |()| remove.run(key)));
    let state = Signal::derive(move || Some(state.get()));
    view! { <ChipView label connector_name kind state on_remove updated=updated /> }
}

/// The chip on a sent message: the same look, without ×.
#[component]
pub fn SentAttachmentChip(attachment: Attachment) -> impl IntoView {
    let label = attachment.name.clone();
    let connector_name = attachment.connector_name.clone();
    let kind = attachment.kind;
    let state = Signal::stored(Some(ChipState::Ready(attachment)));
    view! { <ChipView label connector_name kind state on_remove=None /> }
}

/// A resource a tool's result points to: read from its connector when the person opens
/// it, then previewed like an attachment.
#[component]
pub fn LinkChip(
    connector_id: String,
    connector_name: String,
    uri: String,
    name: String,
    #[prop(optional)] description: Option<String>,
) -> impl IntoView {
    let state = RwSignal::new(None::<ChipState>);
    let hint = description
        .map(|d| format!("{d} ({uri})"))
        .unwrap_or_else(|| format!("{uri}: click to read it from {connector_name}"));
    let read = {
        let name = name.clone();
        Callback::new(move |()| {
            state.set(Some(ChipState::Reading));
            let request = switchboard_ipc::chat::ReadResourceRequest {
                connector_id: ConnectorId(connector_id.clone()),
                uri: uri.clone(),
                name: name.clone(),
                from_template: false,
            };
            spawn_local(async move {
                state.set(Some(ChipState::from_result(
                    tauri::read_resource(request).await,
                )));
            });
        })
    };
    view! {
        <ChipView
            label=name
            connector_name
            kind=AttachmentKind::Resource
            state=state.into()
            on_remove=None
            read=(read, hint)
            testid="link-chip"
        />
    }
}

#[component]
fn ChipView(
    label: String,
    connector_name: String,
    kind: AttachmentKind,
    /// `None` until a chip read on demand (`read`) is first opened.
    state: Signal<Option<ChipState>>,
    on_remove: Option<Callback<()>>,
    /// A chip read when it is opened: how to read it, and its tooltip until then. Opening
    /// it reads it (again, after a failure) and shows the preview once it is there.
    #[prop(optional)]
    read: Option<(Callback<()>, String)>,
    #[prop(default = "attachment-chip")] testid: &'static str,
    /// The server changed it since it was attached, and it was read again.
    #[prop(optional, into)]
    updated: Option<Signal<bool>>,
) -> impl IntoView {
    let preview_open = RwSignal::new(false);
    let open_when_read = RwSignal::new(false);
    let main = NodeRef::<html::Button>::new();
    let status = move || {
        state.with(|s| match s {
            None => "link",
            Some(ChipState::Reading) => "reading",
            Some(ChipState::Ready(_)) => "ready",
            Some(ChipState::Failed(_)) => "failed",
        })
    };
    effect(move || {
        if open_when_read.get() && status() == "ready" {
            open_when_read.set(false);
            preview_open.set(true);
        }
    });
    let state = Signal::derive(move || state.get().unwrap_or(ChipState::Reading));
    let size = move || {
        state.with(|s| match s {
            ChipState::Ready(a) => Some(format_size(a.size)),
            _ => None,
        })
    };
    let note = move || {
        state.with(|s| match s {
            ChipState::Ready(a) => a.note.clone().filter(|n| !n.is_empty()),
            _ => None,
        })
    };
    let failure = move || {
        state.with(|s| match s {
            ChipState::Failed(e) => Some(e.clone()),
            _ => None,
        })
    };
    let close_preview = Callback::new(move |()| {
        preview_open.set(false);
        if let Some(button) = main.get_untracked() {
            let _ = button.focus();
        }
    });
    let remove_label = format!("Remove {label}");
    let hint = read.as_ref().map(|(_, hint)| hint.clone());
    let read = read.map(|(read, _)| read);
    let tooltip = {
        let label = label.clone();
        let connector_name = connector_name.clone();
        move || match status() {
            "link" => hint.clone().unwrap_or_default(),
            "reading" => format!("{label} from {connector_name}: reading…"),
            "failed" => format!("{label} from {connector_name}: could not be read"),
            _ => format!("{label} from {connector_name}: click to preview what is sent"),
        }
    };
    view! {
        <span
            class="attach-chip"
            class:attach-chip-failed=move || status() == "failed"
            data-testid=testid
            data-state=status
            data-kind=kind_name(kind)
        >
            <button
                type="button"
                class="attach-chip-main"
                node_ref=main
                title=tooltip
                aria-disabled=move || {
                    let opens = match status() {
                        "ready" => true,
                        "link" | "failed" => read.is_some(),
                        _ => false,
                    };
                    (!opens).to_string()
                }
                on:click=move |_| match (status(), read) {
                    ("ready", _) => preview_open.set(true),
                    ("link" | "failed", Some(read)) => {
                        open_when_read.set(true);
                        read.run(());
                    }
                    _ => {}
                }
            >
                <KindIcon kind />
                <span class="attach-chip-name">{label}</span>
                <span class="attach-chip-connector">{connector_name}</span>
                {move || size().map(|size| view! { <span class="attach-chip-size">{size}</span> }.into_any())}
                {move || {
                    updated
                        .is_some_and(|u| u.get())
                        .then(|| {
                            view! {
                                <span class="attach-chip-updated" data-testid="chip-updated">
                                    "updated"
                                </span>
                            }.into_any()
                        })
                }}
                {move || (status() == "reading").then(|| view! { <Spinner /> }.into_any())}
            </button>
            {move || {
                note()
                    .map(|note| {
                        let title = note.clone();
                        view! {
                            <span class="attach-chip-note" data-testid="chip-note" title=title>
                                <WarningIcon />
                                <span class="attach-chip-note-text">{note}</span>
                            </span>
                        }.into_any()
                    })
            }}
            {move || {
                failure()
                    .map(|error| {
                        view! {
                            <span
                                class="attach-chip-error"
                                role="alert"
                                data-testid="chip-error"
                                title=error.detail.clone().unwrap_or_default()
                            >
                                {error.message}
                            </span>
                        }.into_any()
                    })
            }}
            {on_remove
                .map(|remove| {
                    view! {
                        <button
                            type="button"
                            class="attach-chip-remove"
                            aria-label=remove_label.clone()
                            title=remove_label
                            data-testid="chip-remove"
                            on:click=move |_| remove.run(())
                        >
                            <CloseIcon />
                        </button>
                    }.into_any()
                })}
        </span>
        {move || {
            if !preview_open.get() {
                return None;
            }
            state
                .with(|s| match s {
                    ChipState::Ready(attachment) => Some(attachment.clone()),
                    _ => None,
                })
                .map(|attachment| {
                    view! {
                        <Portal>
                            <PreviewDialog attachment=attachment.clone() on_close=close_preview />
                        </Portal>
                    }.into_any()
                })
        }}
    }
}

/// What an attachment sends, shown before it goes: text as text, allowed images as images,
/// a prompt's messages with who says them.
#[component]
fn PreviewDialog(attachment: Attachment, on_close: Callback<()>) -> impl IntoView {
    let close = NodeRef::<html::Button>::new();
    focus_when_mounted(close);
    let Attachment {
        kind,
        connector_name,
        name,
        uri,
        size,
        note,
        content,
        ..
    } = attachment;
    let mut facts = vec![connector_name, format_size(size)];
    if let Some(uri) = uri {
        facts.push(uri);
    }
    let body = match content {
        AttachmentContent::Parts { parts } => parts_view(&parts, &name).into_any(),
        AttachmentContent::Messages { messages } => messages
            .iter()
            .map(|message: &Message| {
                view! {
                    <div class="attach-preview-message" data-role=message.role.as_str()>
                        <div class="attach-preview-role">
                            {match message.role.as_str() {
                                "user" => "User",
                                _ => "Assistant",
                            }}
                        </div>
                        {parts_view(&message.parts, &name)}
                    </div>
                }
                .into_any()
            })
            .collect_any()
            .into_any(),
    };
    view! {
        <Modal testid="attachment-preview" labelled_by="attachment-preview-title" on_escape=on_close>
            <div class="attach-preview">
                <div class="attach-preview-head">
                    <KindIcon kind />
                    <h2 class="modal-title attach-preview-title" id="attachment-preview-title">
                        {name.clone()}
                    </h2>
                    <button
                        type="button"
                        class="icon-button"
                        aria-label="Close"
                        title="Close"
                        data-testid="preview-close"
                        node_ref=close
                        on:click=move |_| on_close.run(())
                    >
                        <CloseIcon />
                    </button>
                </div>
                <p class="attach-preview-facts">{facts.join(" · ")}</p>
                {note
                    .filter(|n| !n.is_empty())
                    .map(|note| {
                        view! {
                            <p class="attach-preview-note" data-testid="preview-note">
                                <WarningIcon />
                                <span>{note}</span>
                            </p>
                        }.into_any()
                    })}
                <div class="attach-preview-body" data-testid="preview-body">{body}</div>
            </div>
        </Modal>
    }
}

fn parts_view(parts: &[Part], name: &str) -> impl IntoView + use<> {
    parts
        .iter()
        .map(|part| match part {
            Part::Text { text } => {
                view! { <pre class="attach-preview-text">{text.clone()}</pre> }.into_any()
            }
            Part::Resource { uri, text, .. } => view! {
                <div class="attach-preview-resource">
                    <code class="attach-preview-uri">{uri.clone()}</code>
                    <pre class="attach-preview-text">{text.clone()}</pre>
                </div>
            }
            .into_any(),
            Part::Image { media_type, data } => match image_data_url(media_type, data) {
                Some(src) => {
                    view! { <img class="attach-preview-image" src=src alt=name.to_owned() /> }
                        .into_any()
                }
                None => view! {
                    <p class="attach-preview-muted">
                        "An image (" {media_type.clone()} ") that can't be shown here."
                    </p>
                }
                .into_any(),
            },
            Part::Audio { media_type, .. } => view! {
                <p class="attach-preview-muted">"A sound (" {media_type.clone()} ")."</p>
            }
            .into_any(),
            Part::Link { name, uri, .. } => view! {
                <p class="attach-preview-muted">
                    "A link to " {name.clone()} " (" <code>{uri.clone()}</code> ")."
                </p>
            }
            .into_any(),
            Part::Structured { value, .. } => view! {
                <pre class="attach-preview-text">
                    {json_text(value)}
                </pre>
            }
            .into_any(),
            Part::ToolCall { name, .. } => view! {
                <p class="attach-preview-muted">"A call of the tool " {name.clone()} "."</p>
            }
            .into_any(),
            Part::ToolResult { .. } => view! {
                <p class="attach-preview-muted">"A tool's result."</p>
            }
            .into_any(),
        })
        .collect_any()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use switchboard_ipc::{
        Catalog, ConnectorSummary, PromptInfo, ResourceInfo, ResourceTemplateInfo, SignInSummary,
    };

    use super::*;

    fn summary(id: &str, name: &str, state: ConnectorState) -> ConnectorSummary {
        ConnectorSummary {
            id: ConnectorId(id.into()),
            name: name.into(),
            url: format!("https://{id}.example/mcp"),
            state,
            counts: None,
            catalog_revision: 0,
            problem: None,
            retrying: false,
            sign_in: SignInSummary::default(),
        }
    }

    fn resource(
        name: &str,
        title: Option<&str>,
        uri: &str,
        description: Option<&str>,
    ) -> ResourceInfo {
        ResourceInfo {
            uri: uri.into(),
            name: name.into(),
            title: title.map(Into::into),
            description: description.map(Into::into),
            mime_type: None,
            size: None,
        }
    }

    fn prompt(name: &str, arguments: &[(&str, bool)]) -> PromptInfo {
        PromptInfo {
            name: name.into(),
            title: None,
            description: None,
            arguments: arguments
                .iter()
                .map(|(n, required)| PromptArgumentInfo {
                    name: (*n).into(),
                    description: Some(format!("The {n}")),
                    required: *required,
                })
                .collect(),
        }
    }

    fn connected(id: &str, name: &str, catalog: Catalog) -> ConnectorDetail {
        ConnectorDetail {
            summary: summary(id, name, ConnectorState::Connected),
            server: None,
            catalog: Some(catalog),
            tools: Default::default(),
        }
    }

    fn sample() -> Index {
        let docs = Catalog {
            resources: vec![
                resource(
                    "readme",
                    Some("Read me"),
                    "file:///repo/README.md",
                    Some("The project's front page"),
                ),
                resource("changelog", None, "file:///repo/CHANGELOG.md", None),
            ],
            resource_templates: vec![ResourceTemplateInfo {
                uri_template: "file:///repo/{path}".into(),
                name: "file".into(),
                title: Some("Any file".into()),
                description: None,
                mime_type: None,
                variables: vec![TemplateVariable {
                    name: "path".into(),
                    optional: false,
                }],
                problem: None,
            }],
            prompts: vec![prompt("summarize", &[("topic", true), ("tone", false)])],
            ..Catalog::default()
        };
        let tickets = Catalog {
            resources: vec![resource(
                "open-bugs",
                Some("Open bugs"),
                "jira://bugs/open",
                Some("Every open ticket"),
            )],
            prompts: vec![prompt("triage", &[])],
            ..Catalog::default()
        };
        Index::build(vec![
            connected("t", "tickets", tickets),
            ConnectorDetail {
                summary: summary("o", "Offline thing", ConnectorState::CantReach),
                server: None,
                catalog: None,
                tools: Default::default(),
            },
            connected("d", "Docs", docs),
            connected("e", "Empty", Catalog::default()),
            ConnectorDetail {
                summary: summary("s", "Signing", ConnectorState::NeedsSignIn),
                server: None,
                catalog: None,
                tools: Default::default(),
            },
        ])
    }

    fn labels(index: &Index, filtered: &Filtered) -> Vec<String> {
        filtered
            .rows
            .iter()
            .map(|row| match *row {
                Row::Header(g) => format!("# {}", index.groups[g].name),
                Row::Empty(_) => "(empty)".into(),
                Row::Item(i) => index.items[i].label.clone(),
                Row::UnavailableHeader => "# Not available".into(),
                Row::Unavailable(u) => format!("! {}", index.unavailable[u].name),
            })
            .collect()
    }

    #[test]
    fn attach_labels_sort_with_numbers_as_numbers() {
        let mut labels = vec![
            "Budget 4232",
            "Budget 424",
            "Budget 42",
            "Audit",
            "Budget 5",
        ];
        sort::sort_by_cached_key(&mut labels, |l| natural_key(&sort::fold_case(l)));
        assert_eq!(
            labels,
            [
                "Audit",
                "Budget 5",
                "Budget 42",
                "Budget 424",
                "Budget 4232"
            ]
        );
    }

    #[test]
    fn attach_index_groups_connected_connectors_sorted_and_lists_the_others_last() {
        let index = sample();
        assert_eq!(
            labels(&index, &index.filter("")),
            [
                "# Docs",
                "changelog",
                "Read me",
                "Any file",
                "summarize",
                "# Empty",
                "(empty)",
                "# tickets",
                "Open bugs",
                "triage",
                "# Not available",
                "! Offline thing",
                "! Signing",
            ]
        );
        assert_eq!(index.unavailable[0].detail, "Can't reach");
        assert_eq!(index.unavailable[1].detail, "Needs sign-in");
        let summarize = index.items.iter().find(|i| i.name == "summarize").unwrap();
        assert_eq!(summarize.detail, "Asks for topic, tone");
        let changelog = index.items.iter().find(|i| i.name == "changelog").unwrap();
        assert_eq!(changelog.detail, "file:///repo/CHANGELOG.md");
    }

    #[test]
    fn attach_filter_matches_names_titles_uris_and_description_words() {
        let index = sample();
        let found = |q: &str| {
            let f = index.filter(q);
            labels(&index, &f)
                .into_iter()
                .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
                .collect::<Vec<_>>()
        };
        // Fuzzy on the title and name.
        assert_eq!(found("rdme"), ["Read me"]);
        // Case does not matter; the URI counts.
        assert_eq!(found("CHANGELOG.md"), ["changelog"]);
        assert_eq!(found("jira"), ["Open bugs"]);
        // A whole word of the description.
        assert_eq!(found("ticket"), ["Open bugs"]);
        // Every word must match, each anywhere.
        assert_eq!(found("open ticket"), ["Open bugs"]);
        assert!(found("open zebra").is_empty());
        let none = index.filter("zzzz");
        assert_eq!(none.matches, 0);
        assert!(none.searching);
        // The connectors that are not available stay listed.
        assert!(none.rows.contains(&Row::UnavailableHeader));
    }

    #[test]
    fn attach_filter_matches_accented_letters_from_plain_ones_but_not_the_other_way() {
        let menu = Catalog {
            resources: vec![
                resource("dessert", Some("Crème brûlée"), "menu://1", None),
                resource("drinks", Some("Cafe list"), "menu://2", None),
            ],
            ..Catalog::default()
        };
        let index = Index::build(vec![connected("m", "Menu", menu)]);
        let found = |q: &str| {
            let f = index.filter(q);
            labels(&index, &f)
                .into_iter()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
        };
        assert_eq!(found("brulee"), ["Crème brûlée"]);
        assert_eq!(found("BRÛLÉE"), ["Crème brûlée"]);
        assert_eq!(found("cafe"), ["Cafe list"]);
        assert!(found("café").is_empty());
    }

    #[test]
    fn attach_filter_puts_the_best_group_and_the_best_match_first() {
        let index = sample();
        let f = index.filter("bugs");
        let rows = labels(&index, &f);
        assert_eq!(rows[0], "# tickets");
        assert_eq!(rows[1], "Open bugs");
        // Empty groups disappear while searching.
        assert!(!rows.contains(&"# Empty".to_owned()));
    }

    fn big_index(resources: usize, prompts: usize) -> Index {
        let connectors = 10;
        let details = (0..connectors)
            .map(|c| {
                let catalog = Catalog {
                    resources: (0..resources / connectors)
                        .map(|i| {
                            resource(
                                &format!("doc-{c}-{i}.md"),
                                Some(&format!("Quarterly report {i} for team {c}")),
                                &format!("https://drive.example/teams/{c}/reports/{i}/doc-{i}.md"),
                                Some(&format!(
                                    "A long description of report number {i}, written by team {c} about revenue, \
                                     hiring, roadmap and the weather in the office that quarter."
                                )),
                            )
                        })
                        .collect(),
                    prompts: (0..prompts / connectors)
                        .map(|i| prompt(&format!("prompt_{c}_{i}"), &[("subject", true)]))
                        .collect(),
                    ..Catalog::default()
                };
                connected(&format!("c{c}"), &format!("Connector {c}"), catalog)
            })
            .collect();
        Index::build(details)
    }

    #[test]
    fn attach_filter_of_ten_thousand_resources_finds_what_it_should() {
        let started = Instant::now();
        let index = big_index(10_000, 2_000);
        let built = started.elapsed();
        assert_eq!(index.items.len(), 12_000);
        println!(
            "building the index of 12,000 entries: {:.2} ms",
            built.as_secs_f64() * 1000.0
        );

        // The times printed are for reading (`cargo xtask bench` measures the menu in the
        // window); the counts are the test.
        let mut worst = 0.0f64;
        for (query, expected) in [
            ("r", 12_000),
            ("rep", 10_000),
            ("report 42", 974),
            ("doc-3-77", 28),
            ("teams/4", 1_000),
            ("revenue", 10_000),
            ("prmpt 5", 542),
            ("zzz", 0),
        ] {
            // Best of three: the first run pays for allocations a person's typing reuses.
            let mut best = f64::MAX;
            let mut matches = 0;
            for _ in 0..3 {
                let started = Instant::now();
                let filtered = index.filter(query);
                best = best.min(started.elapsed().as_secs_f64() * 1000.0);
                matches = filtered.matches;
            }
            println!("filter {query:>10?}: {matches:>6} matches in {best:.2} ms");
            assert_eq!(matches, expected, "{query:?}");
            worst = worst.max(best);
        }
        println!("worst filter over 12,000 entries: {worst:.2} ms");
    }

    #[test]
    fn attach_navigation_skips_headers_and_jumps_between_groups() {
        let index = sample();
        let rows = index.filter("").rows;
        // 0 # Docs, 1-4 items, 5 # Empty, 6 (empty), 7 # tickets, 8-9 items,
        // 10 # Not available, 11-12 unavailable.
        assert_eq!(navigate(&rows, None, Nav::Home), Some(1));
        assert_eq!(navigate(&rows, None, Nav::End), Some(12));
        assert_eq!(navigate(&rows, Some(1), Nav::Up), Some(1));
        assert_eq!(navigate(&rows, Some(4), Nav::Down), Some(8));
        assert_eq!(navigate(&rows, Some(8), Nav::Up), Some(4));
        assert_eq!(navigate(&rows, Some(12), Nav::Down), Some(12));
        assert_eq!(navigate(&rows, Some(3), Nav::NextGroup), Some(8));
        assert_eq!(navigate(&rows, Some(9), Nav::NextGroup), Some(11));
        assert_eq!(navigate(&rows, Some(11), Nav::NextGroup), Some(1));
        assert_eq!(navigate(&rows, Some(3), Nav::PrevGroup), Some(11));
        assert_eq!(navigate(&rows, Some(9), Nav::PrevGroup), Some(1));
        assert_eq!(first_entry(&rows), Some(1));
        assert_eq!(first_entry(&index.filter("zzzz").rows), None);
        assert_eq!(navigate(&[], None, Nav::Down), None);
        assert_eq!(
            navigate(&[Row::Header(0), Row::Empty(0)], None, Nav::NextGroup),
            None
        );
    }

    #[test]
    fn attach_virtual_list_renders_the_visible_slice_and_scrolls_rows_into_view() {
        assert_eq!(visible_range(0.0, 440.0, 12_000), 0..(10 + OVERSCAN));
        let r = visible_range(44.0 * 1000.0, 440.0, 12_000);
        assert_eq!(r, (1000 - OVERSCAN)..(1010 + OVERSCAN));
        assert_eq!(visible_range(0.0, 440.0, 3), 0..3);
        assert_eq!(visible_range(1e9, 440.0, 3), 3..3);
        // In view: nothing to do.
        assert_eq!(scroll_to_show(2, 2, 0.0, 440.0), None);
        // Below: its bottom at the bottom.
        assert_eq!(
            scroll_to_show(20, 20, 0.0, 440.0),
            Some(21.0 * 44.0 - 440.0)
        );
        // Above: its top (with the header) at the top.
        assert_eq!(scroll_to_show(4, 5, 440.0, 440.0), Some(4.0 * 44.0));
    }

    #[test]
    fn attach_forms_need_their_required_fields_and_give_the_others_as_context() {
        let index = sample();
        let item = |name: &str| index.items.iter().find(|i| i.name == name).unwrap();
        assert!(FormSpec::for_item(&index, item("readme")).is_none());
        assert!(FormSpec::for_item(&index, item("triage")).is_none());

        let form = FormSpec::for_item(&index, item("summarize")).unwrap();
        assert_eq!(form.connector_id, ConnectorId("d".into()));
        assert_eq!(form.fields.len(), 2);
        assert!(form.fields[0].required && !form.fields[1].required);
        assert_eq!(form.fields[0].description.as_deref(), Some("The topic"));
        assert!(!form.ready(&["".into(), "dry".into()]));
        assert!(!form.ready(&["  ".into(), String::new()]));
        assert!(form.ready(&["rust".into(), String::new()]));
        let args = form.values(&["rust".into(), String::new()], None);
        assert_eq!(
            args,
            BTreeMap::from([("topic".to_owned(), "rust".to_owned())])
        );
        let context = form.values(&["rust".into(), "dry".into()], Some(1));
        assert_eq!(
            context,
            BTreeMap::from([("topic".to_owned(), "rust".to_owned())])
        );
        assert_eq!(
            form.completion_target(),
            CompletionTarget::Prompt {
                name: "summarize".into()
            }
        );

        let template = FormSpec::for_item(&index, item("file")).unwrap();
        assert!(template.is_template());
        assert!(!template.ready(&[String::new()]));
        assert!(template.ready(&["src/main.rs".into()]));
        assert_eq!(
            template.expansion(&["src/main.rs".into()]),
            Some(Ok(ExpandTemplateRequest {
                uri_template: "file:///repo/{path}".into(),
                values: BTreeMap::from([("path".to_owned(), "src/main.rs".to_owned())]),
            }))
        );
        assert_eq!(form.expansion(&["rust".into(), String::new()]), None);
    }

    #[test]
    fn attach_previews_show_only_safe_image_types_from_base64() {
        assert_eq!(
            image_data_url("image/png", "iVBORw0K\nGgo="),
            Some("data:image/png;base64,iVBORw0KGgo=".into())
        );
        assert!(image_data_url("IMAGE/JPEG", "abc=").is_some());
        assert!(image_data_url("image/svg+xml", "PHN2Zz4=").is_none());
        assert!(image_data_url("image/png", "abc\" onerror=\"x").is_none());
        assert!(image_data_url("image/png", "").is_none());
    }

    #[test]
    fn attach_typing_on_narrows_to_what_the_last_query_matched_with_the_same_result() {
        let index = big_index(2_000, 400);
        let typed = [
            "r",
            "re",
            "rep",
            "repo",
            "report",
            "report ",
            "report 1",
            "report 12",
            "report 12 t",
            "report 12 team",
            "report 12 team 3",
            "report 12 tea",
            "rev",
            "reve",
            "revenue",
            "revenue q",
            "hir",
            "hiring",
            "weathe",
            "weather",
        ];
        let mut recent = RecentMatches::default();
        let mut narrowed = 0;
        for query in typed {
            let words = query_words(query);
            let within = recent.within(1, &words).map(<[usize]>::to_vec);
            narrowed += usize::from(within.is_some());
            let filtered = index.filter_within(query, within.as_deref());
            assert_eq!(filtered, index.filter(query), "{query:?}");
            recent.remember(1, words, &filtered);
        }
        assert!(narrowed >= 15, "most keys narrowed: {narrowed}");
        assert!(
            recent.within(2, &query_words("report")).is_none(),
            "another index"
        );
        assert!(
            !narrows(&query_words("re"), &query_words("rev")),
            "short words do not narrow"
        );
        assert!(
            !narrows(&query_words("report"), &query_words("repo")),
            "deleting widens"
        );
        assert!(!narrows(&query_words("a b"), &query_words("b a")));
    }
}
