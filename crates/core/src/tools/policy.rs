//! Allow · Ask · Off, limits and pins: what decides whether a model's tool call may run.
//! Pure functions over the person's [`ToolSettings`]; the gate feeds them the counts and
//! acts on the [`Decision`].
//!
//! - Every tool starts at Ask. The server's annotations are its claims: they never grant
//!   anything; only the person's choice does (a bulk "Allow tools that say they only read"
//!   is the person's choice, made once, for the tools that say so then).
//! - Allowing pins the definition (name, description, input schema, annotations). When the
//!   server changes that tool, it is back at Ask until the person decides again; only that
//!   tool.
//! - Off and a reached limit refuse without asking: the person is not bothered with a call
//!   that cannot run.

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchboard_ipc::tools::{Limits, Pin, ToolMode, ToolRule, ToolSettings};

/// A tool as the server defines it now.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Value,
    /// The server's annotations as sent (`readOnlyHint`, `destructiveHint`, …).
    pub annotations: Option<Value>,
    /// What its structured results promise to match. Not part of the pin: it says what
    /// comes back, not what the tool does with what it is given.
    pub output_schema: Option<Value>,
}

impl From<&switchboard_ipc::ToolInfo> for Definition {
    fn from(tool: &switchboard_ipc::ToolInfo) -> Self {
        Self {
            name: tool.name.clone(),
            description: tool.description.clone(),
            input_schema: tool.input_schema.clone(),
            annotations: tool.annotations.clone(),
            output_schema: tool.output_schema.clone(),
        }
    }
}

impl Definition {
    /// What the server claims: the tool only reads.
    pub fn says_read_only(&self) -> bool {
        self.annotation("readOnlyHint") == Some(true)
    }

    fn annotation(&self, key: &str) -> Option<bool> {
        self.annotations.as_ref()?.get(key)?.as_bool()
    }

    /// The pin of this definition: a hash of everything the model and the person are told
    /// about the tool, and the parts shown as "before" when it changes.
    pub fn pin(&self) -> Pin {
        Pin {
            hash: self.hash(),
            description: self.description.clone(),
            input_schema: self.input_schema.clone(),
        }
    }

    /// The pin's hash alone (canonical JSON, SHA-256): ~10 µs a tool, so it is computed only
    /// where a pin is compared, not for every tool of a list.
    fn hash(&self) -> String {
        let whole = serde_json::json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": canonical(&self.input_schema),
            "annotations": self.annotations.as_ref().map(canonical),
        });
        let digest = Sha256::digest(whole.to_string().as_bytes());
        let mut hex = String::with_capacity(2 * digest.len());
        for byte in digest {
            use std::fmt::Write as _;
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}

/// The same JSON with every object's keys in order, so a server that sends its keys in
/// another order has not changed its tool.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Where a tool stands for the person, the pin taken into account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Allowed,
    Ask,
    /// Allowed once, but the server changed it since: asked again.
    Changed,
    Off,
}

pub fn standing(settings: &ToolSettings, tool: &Definition) -> Standing {
    standing_of(settings.tools.get(&tool.name), tool)
}

/// The definition is hashed only for a tool allowed with a pin: the others' standing is
/// their rule's.
fn standing_of(rule: Option<&ToolRule>, tool: &Definition) -> Standing {
    match rule.map(|r| (r.mode, r.pin.as_ref())) {
        None | Some((ToolMode::Ask, _)) => Standing::Ask,
        Some((ToolMode::Off, _)) => Standing::Off,
        Some((ToolMode::Allow, Some(pin))) if pin.hash == tool.hash() => Standing::Allowed,
        Some((ToolMode::Allow, _)) => Standing::Changed,
    }
}

/// Calls made so far, counted where the limits apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub tool_in_conversation: u32,
    pub tool_today: u32,
    pub connector_in_conversation: u32,
    pub connector_today: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Tool,
    Connector,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Conversation,
    Day,
}

/// Why a call does not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The tool is Off.
    Off,
    Limit {
        scope: Scope,
        window: Window,
        limit: u32,
    },
    /// The person said no.
    Denied,
}

impl Refusal {
    /// What the model and the person read.
    pub fn sentence(&self) -> String {
        match self {
            Self::Off => "The person turned this tool off.".to_owned(),
            Self::Denied => "The person denied this call.".to_owned(),
            Self::Limit {
                scope,
                window,
                limit,
            } => {
                let calls = if *limit == 1 { "call" } else { "calls" };
                let whose = match scope {
                    Scope::Tool => "this tool",
                    Scope::Connector => "this connector's tools",
                };
                match window {
                    Window::Conversation => format!(
                        "The limit of {limit} {calls} per conversation for {whose} is reached."
                    ),
                    Window::Day => {
                        format!("The daily limit of {limit} {calls} for {whose} is reached.")
                    }
                }
            }
        }
    }

    /// The rule that refused, as the activity log names it.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Off => "tool off",
            Self::Denied => "denied by the person",
            Self::Limit {
                scope: Scope::Tool,
                window: Window::Conversation,
                ..
            } => "tool limit per conversation",
            Self::Limit {
                scope: Scope::Tool,
                window: Window::Day,
                ..
            } => "tool limit per day",
            Self::Limit {
                scope: Scope::Connector,
                window: Window::Conversation,
                ..
            } => "connector limit per conversation",
            Self::Limit {
                scope: Scope::Connector,
                window: Window::Day,
                ..
            } => "connector limit per day",
        }
    }
}

/// What to do with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, and the definition is the one allowed.
    Run,
    /// Ask the person first; `changed` when it was allowed before the server changed it.
    Ask {
        changed: bool,
    },
    Refuse(Refusal),
}

/// Decides on one call of `tool`, given the calls counted so far.
pub fn decide(settings: &ToolSettings, tool: &Definition, usage: Usage) -> Decision {
    let rule = settings.tools.get(&tool.name);
    let standing = standing_of(rule, tool);
    if standing == Standing::Off {
        return Decision::Refuse(Refusal::Off);
    }
    let tool_limits = rule.map(|r| r.limits).unwrap_or_default();
    if let Some(refusal) = over(
        tool_limits,
        Scope::Tool,
        usage.tool_in_conversation,
        usage.tool_today,
    )
    .or_else(|| {
        over(
            settings.limits,
            Scope::Connector,
            usage.connector_in_conversation,
            usage.connector_today,
        )
    }) {
        return Decision::Refuse(refusal);
    }
    match standing {
        Standing::Allowed => Decision::Run,
        Standing::Changed => Decision::Ask { changed: true },
        Standing::Ask | Standing::Off => Decision::Ask { changed: false },
    }
}

/// The first limit that one more call would pass.
fn over(limits: Limits, scope: Scope, in_conversation: u32, today: u32) -> Option<Refusal> {
    let reached = |limit: Option<u32>, used: u32| limit.filter(|&limit| used >= limit);
    reached(limits.per_conversation, in_conversation)
        .map(|limit| Refusal::Limit {
            scope,
            window: Window::Conversation,
            limit,
        })
        .or_else(|| {
            reached(limits.per_day, today).map(|limit| Refusal::Limit {
                scope,
                window: Window::Day,
                limit,
            })
        })
}

/// Sets one tool's mode. Allow pins the definition as it is now; Ask and Off drop the pin.
/// Its limits stay.
pub fn set_mode(settings: &mut ToolSettings, tool: &Definition, mode: ToolMode) {
    let rule = settings.tools.entry(tool.name.clone()).or_default();
    rule.mode = mode;
    rule.pin = (mode == ToolMode::Allow).then(|| tool.pin());
    forget_if_default(settings, &tool.name);
}

/// Sets one tool's limits; its mode and pin stay.
pub fn set_limits(settings: &mut ToolSettings, tool: &str, limits: Limits) {
    settings.tools.entry(tool.to_owned()).or_default().limits = limits;
    forget_if_default(settings, tool);
}

/// A rule that says nothing (Ask, no limits) is not kept: the file holds only choices.
fn forget_if_default(settings: &mut ToolSettings, tool: &str) {
    if settings.tools.get(tool) == Some(&ToolRule::default()) {
        settings.tools.remove(tool);
    }
}

/// The bulk actions of the connector's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bulk {
    /// Allow the tools that say they only read (now); the others are left as they are.
    AllowReadOnly,
    AskForAll,
    TurnAllOff,
}

pub fn bulk(settings: &mut ToolSettings, tools: &[Definition], action: Bulk) {
    for tool in tools {
        match action {
            Bulk::AllowReadOnly if tool.says_read_only() => {
                set_mode(settings, tool, ToolMode::Allow);
            }
            Bulk::AllowReadOnly => {}
            Bulk::AskForAll => set_mode(settings, tool, ToolMode::Ask),
            Bulk::TurnAllOff => set_mode(settings, tool, ToolMode::Off),
        }
    }
}

/// Every tool of the catalog as it stands for the person, in the catalog's order.
pub fn entries(
    settings: &ToolSettings,
    tools: &[Definition],
) -> Vec<switchboard_ipc::tools::ToolEntry> {
    use switchboard_ipc::tools::{ToolEntry, ToolStanding};
    tools
        .iter()
        .map(|tool| {
            let rule = settings.tools.get(&tool.name);
            let standing = standing(settings, tool);
            let before = (standing == Standing::Changed)
                .then(|| rule.and_then(|r| r.pin.clone()))
                .flatten();
            let input_changes = before
                .as_ref()
                .map(|pin| {
                    switchboard_ipc::tools::input_changes(&pin.input_schema, &tool.input_schema)
                })
                .unwrap_or_default();
            ToolEntry {
                name: tool.name.clone(),
                standing: match standing {
                    Standing::Allowed => ToolStanding::Allowed,
                    Standing::Ask => ToolStanding::Ask,
                    Standing::Changed => ToolStanding::Changed,
                    Standing::Off => ToolStanding::Off,
                },
                is_new: is_new(settings, &tool.name),
                limits: rule.map(|r| r.limits).unwrap_or_default(),
                before,
                input_changes,
                used_today: 0,
            }
        })
        .collect()
}

/// The tools that appeared since the person last looked: none before the first look.
pub fn is_new(settings: &ToolSettings, name: &str) -> bool {
    settings
        .seen
        .as_ref()
        .is_some_and(|seen| !seen.contains(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, description: &str, read_only: Option<bool>) -> Definition {
        Definition {
            name: name.to_owned(),
            description: Some(description.to_owned()),
            input_schema: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
            annotations: read_only.map(|r| json!({"readOnlyHint": r, "title": name})),
            output_schema: None,
        }
    }

    fn usage(tc: u32, td: u32, cc: u32, cd: u32) -> Usage {
        Usage {
            tool_in_conversation: tc,
            tool_today: td,
            connector_in_conversation: cc,
            connector_today: cd,
        }
    }

    #[test]
    fn pins_ignore_key_order_and_see_every_part_of_the_definition() {
        let a = tool("search", "Finds things.", Some(true));
        let mut reordered = a.clone();
        reordered.input_schema =
            serde_json::from_str(r#"{"properties": {"q": {"type": "string"}}, "type": "object"}"#)
                .expect("json");
        assert_eq!(a.pin().hash, reordered.pin().hash);
        assert_eq!(a.pin().hash.len(), 64);

        let mut described = a.clone();
        described.description = Some("Finds things. Also sends them elsewhere.".into());
        let mut schema = a.clone();
        schema.input_schema["properties"]["to"] = json!({"type": "string"});
        let mut annotated = a.clone();
        annotated.annotations = Some(json!({"readOnlyHint": false, "title": "search"}));
        let mut renamed = a.clone();
        renamed.name = "search2".into();
        for changed in [described, schema, annotated, renamed] {
            assert_ne!(a.pin().hash, changed.pin().hash, "{changed:?}");
        }
    }

    /// Every standing × every limit window, as a table.
    #[test]
    fn decisions_follow_the_mode_the_pin_and_every_limit() {
        let search = tool("search", "Finds things.", Some(true));
        let mut changed_search = search.clone();
        changed_search.description = Some("Finds and deletes things.".into());

        let mut allowed = ToolSettings::default();
        set_mode(&mut allowed, &search, ToolMode::Allow);
        let mut off = ToolSettings::default();
        set_mode(&mut off, &search, ToolMode::Off);
        let ask = ToolSettings::default();
        let mut limited = allowed.clone();
        limited.tools.get_mut("search").expect("rule").limits = Limits {
            per_conversation: Some(2),
            per_day: Some(10),
        };
        let mut connector_limited = allowed.clone();
        connector_limited.limits = Limits {
            per_conversation: Some(5),
            per_day: Some(20),
        };
        let mut ask_limited = ask.clone();
        ask_limited.tools.insert(
            "search".into(),
            ToolRule {
                mode: ToolMode::Ask,
                limits: Limits {
                    per_conversation: Some(1),
                    per_day: None,
                },
                pin: None,
            },
        );

        let limit = |scope, window, limit| {
            Decision::Refuse(Refusal::Limit {
                scope,
                window,
                limit,
            })
        };
        let cases: Vec<(&str, &ToolSettings, &Definition, Usage, Decision)> = vec![
            (
                "allowed",
                &allowed,
                &search,
                usage(0, 0, 0, 0),
                Decision::Run,
            ),
            (
                "allowed, busy elsewhere",
                &allowed,
                &search,
                usage(50, 500, 99, 999),
                Decision::Run,
            ),
            (
                "new tool asks",
                &ask,
                &search,
                usage(0, 0, 0, 0),
                Decision::Ask { changed: false },
            ),
            (
                "changed asks again",
                &allowed,
                &changed_search,
                usage(0, 0, 0, 0),
                Decision::Ask { changed: true },
            ),
            (
                "off",
                &off,
                &search,
                usage(0, 0, 0, 0),
                Decision::Refuse(Refusal::Off),
            ),
            (
                "off beats limits",
                &off,
                &search,
                usage(9, 9, 9, 9),
                Decision::Refuse(Refusal::Off),
            ),
            (
                "under the tool's limits",
                &limited,
                &search,
                usage(1, 9, 1, 9),
                Decision::Run,
            ),
            (
                "tool per conversation",
                &limited,
                &search,
                usage(2, 2, 2, 2),
                limit(Scope::Tool, Window::Conversation, 2),
            ),
            (
                "tool per day",
                &limited,
                &search,
                usage(0, 10, 0, 10),
                limit(Scope::Tool, Window::Day, 10),
            ),
            (
                "under the connector's",
                &connector_limited,
                &search,
                usage(4, 19, 4, 19),
                Decision::Run,
            ),
            (
                "connector per conversation",
                &connector_limited,
                &search,
                usage(0, 0, 5, 5),
                limit(Scope::Connector, Window::Conversation, 5),
            ),
            (
                "connector per day",
                &connector_limited,
                &search,
                usage(0, 0, 0, 20),
                limit(Scope::Connector, Window::Day, 20),
            ),
            (
                "a limit refuses before asking",
                &ask_limited,
                &search,
                usage(1, 1, 1, 1),
                limit(Scope::Tool, Window::Conversation, 1),
            ),
            (
                "a changed tool still counts",
                &limited,
                &changed_search,
                usage(2, 2, 2, 2),
                limit(Scope::Tool, Window::Conversation, 2),
            ),
        ];
        for (what, settings, definition, used, expected) in cases {
            assert_eq!(decide(settings, definition, used), expected, "{what}");
        }
    }

    #[test]
    fn only_the_changed_tool_goes_back_to_ask_and_allowing_again_pins_the_new_one() {
        let a = tool("a", "A.", None);
        let b = tool("b", "B.", None);
        let mut settings = ToolSettings::default();
        set_mode(&mut settings, &a, ToolMode::Allow);
        set_mode(&mut settings, &b, ToolMode::Allow);
        let mut a2 = a.clone();
        a2.description = Some("A, changed.".into());
        assert_eq!(standing(&settings, &a2), Standing::Changed);
        assert_eq!(standing(&settings, &b), Standing::Allowed);
        let before = settings.tools["a"].pin.clone().expect("pinned");
        assert_eq!(
            before.description.as_deref(),
            Some("A."),
            "what was allowed, to compare"
        );
        set_mode(&mut settings, &a2, ToolMode::Allow);
        assert_eq!(standing(&settings, &a2), Standing::Allowed);
        assert_eq!(
            standing(&settings, &a),
            Standing::Changed,
            "the old one no longer passes"
        );
    }

    #[test]
    fn claims_never_grant_but_the_bulk_action_allows_what_says_it_only_reads() {
        let reads = tool("reads", "Reads.", Some(true));
        let writes = tool("writes", "Writes.", Some(false));
        let silent = tool("silent", "Says nothing.", None);
        let all = [reads.clone(), writes.clone(), silent.clone()];
        let mut settings = ToolSettings::default();
        for t in &all {
            assert_eq!(
                standing(&settings, t),
                Standing::Ask,
                "a claim alone grants nothing"
            );
        }
        set_mode(&mut settings, &writes, ToolMode::Off);
        bulk(&mut settings, &all, Bulk::AllowReadOnly);
        assert_eq!(standing(&settings, &reads), Standing::Allowed);
        assert_eq!(
            standing(&settings, &writes),
            Standing::Off,
            "left as it was"
        );
        assert_eq!(standing(&settings, &silent), Standing::Ask);
        bulk(&mut settings, &all, Bulk::TurnAllOff);
        assert!(all.iter().all(|t| standing(&settings, t) == Standing::Off));
        bulk(&mut settings, &all, Bulk::AskForAll);
        assert!(all.iter().all(|t| standing(&settings, t) == Standing::Ask));
        assert!(
            settings.tools.is_empty(),
            "Ask without limits is the default: nothing saved"
        );
    }

    #[test]
    fn limits_stay_when_the_mode_changes() {
        let t = tool("t", "T.", None);
        let mut settings = ToolSettings::default();
        settings.tools.insert(
            "t".into(),
            ToolRule {
                limits: Limits {
                    per_conversation: None,
                    per_day: Some(3),
                },
                ..ToolRule::default()
            },
        );
        set_mode(&mut settings, &t, ToolMode::Allow);
        set_mode(&mut settings, &t, ToolMode::Ask);
        assert_eq!(settings.tools["t"].limits.per_day, Some(3));
    }

    #[test]
    fn refusals_read_as_sentences() {
        assert_eq!(Refusal::Denied.sentence(), "The person denied this call.");
        assert_eq!(
            Refusal::Limit {
                scope: Scope::Tool,
                window: Window::Day,
                limit: 10
            }
            .sentence(),
            "The daily limit of 10 calls for this tool is reached."
        );
        assert_eq!(
            Refusal::Limit {
                scope: Scope::Connector,
                window: Window::Conversation,
                limit: 1
            }
            .sentence(),
            "The limit of 1 call per conversation for this connector's tools is reached."
        );
    }

    #[test]
    fn new_tools_are_the_ones_not_seen_since_the_first_look() {
        let mut settings = ToolSettings::default();
        assert!(
            !is_new(&settings, "x"),
            "nothing is new before the first look"
        );
        settings.seen = Some(["a".to_owned()].into());
        assert!(!is_new(&settings, "a"));
        assert!(is_new(&settings, "x"));
    }
}
