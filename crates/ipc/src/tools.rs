//! Tools under the person's control: what they chose for each tool of a connector (Allow,
//! Ask, Off), the limits, and the definition they allowed (its pin).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Whether the model may use a tool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolMode {
    /// Runs without asking.
    Allow,
    /// Each call waits for the person's answer. Every tool starts here.
    #[default]
    Ask,
    /// Never offered to the model.
    Off,
}

/// At most this many calls; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    #[serde(default)]
    pub per_conversation: Option<u32>,
    #[serde(default)]
    pub per_day: Option<u32>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.per_conversation.is_none() && self.per_day.is_none()
    }
}

/// The definition of a tool as it was when the person allowed it: what a change is measured
/// against, and what is shown as "before" when it changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    /// SHA-256 over the name, description, input schema and annotations, hex.
    pub hash: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, with = "crate::wire::json")]
    pub input_schema: Value,
}

/// What the person chose for one tool.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolRule {
    #[serde(default)]
    pub mode: ToolMode,
    #[serde(default)]
    pub limits: Limits,
    /// Set when the mode is Allow: the definition that was allowed.
    #[serde(default)]
    pub pin: Option<Pin>,
}

/// How long a tool call may take before it is stopped, unless the person chose otherwise.
pub const DEFAULT_CALL_TIMEOUT_SECS: u32 = 60;

fn default_call_timeout() -> u32 {
    DEFAULT_CALL_TIMEOUT_SECS
}

/// Everything the person chose about one connector's tools. Saved with the connector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSettings {
    /// By tool name; a tool not here is at Ask.
    #[serde(default)]
    pub tools: BTreeMap<String, ToolRule>,
    /// For all the connector's tools together.
    #[serde(default)]
    pub limits: Limits,
    #[serde(default = "default_call_timeout")]
    pub call_timeout_secs: u32,
    /// The server may ask the person for input (elicitation). Off by default.
    #[serde(default)]
    pub allow_elicitation: bool,
    /// The server may ask the model for completions (sampling). Off by default.
    #[serde(default)]
    pub allow_sampling: bool,
    /// The tools the person has seen on the connector's page; others show as New. `None`
    /// until the page was first shown (then nothing is new).
    #[serde(default)]
    pub seen: Option<BTreeSet<String>>,
}

impl Default for ToolSettings {
    fn default() -> Self {
        Self {
            tools: BTreeMap::new(),
            limits: Limits::default(),
            call_timeout_secs: DEFAULT_CALL_TIMEOUT_SECS,
            allow_elicitation: false,
            allow_sampling: false,
            seen: None,
        }
    }
}

/// Where a tool stands, as its connector's page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStanding {
    Allowed,
    Ask,
    /// Allowed before the server changed it: asked again until the person decides.
    Changed,
    Off,
}

/// One tool on its connector's page: the person's choice as it stands now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolEntry {
    pub name: String,
    pub standing: ToolStanding,
    /// Appeared since the person last looked at the page.
    pub is_new: bool,
    pub limits: Limits,
    /// When Changed: the definition that was allowed, to compare with today's.
    pub before: Option<Pin>,
    /// When Changed: how its inputs changed since ([`input_changes`]), in words. Worked out
    /// by the core, which keeps the tools' schemas (the window is not sent them).
    #[serde(default)]
    pub input_changes: Vec<String>,
    /// Calls that ran today, beside the daily limit.
    #[serde(default)]
    pub used_today: u32,
}

/// A connector's tools as the person chose them, with each tool's standing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorTools {
    /// In the catalog's order; empty until the connector was listed.
    pub entries: Vec<ToolEntry>,
    pub settings: ToolSettings,
    /// Calls of all the connector's tools that ran today.
    #[serde(default)]
    pub used_today: u32,
}

/// The bulk actions of a connector's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Allow the tools that say they only read; the others stay as they are.
    AllowReadOnly,
    AskForAll,
    TurnAllOff,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetToolModeRequest {
    pub connector_id: crate::ConnectorId,
    pub tool: String,
    pub mode: ToolMode,
}

/// Limits of one tool (`tool: Some`) or of all the connector's tools together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetToolLimitsRequest {
    pub connector_id: crate::ConnectorId,
    pub tool: Option<String>,
    pub limits: Limits,
}

/// The connector's call timeout and whether its server may ask for input or completions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetToolOptionsRequest {
    pub connector_id: crate::ConnectorId,
    pub call_timeout_secs: u32,
    pub allow_elicitation: bool,
    pub allow_sampling: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkToolsRequest {
    pub connector_id: crate::ConnectorId,
    pub action: BulkAction,
}

/// The person's answer to a tool call that asks first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAnswer {
    AllowOnce,
    /// Allow this call and set the tool to Allow.
    AlwaysAllow,
    Deny,
}

/// A tool call waiting for the person: what the approval card shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolApproval {
    /// One use: answering it twice, or after the turn ended, does nothing.
    pub id: String,
    /// The model's id of the call, as on the reply's tool-call part.
    pub call_id: String,
    pub connector_id: crate::ConnectorId,
    pub connector_name: String,
    pub tool: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// As the model wrote them; server and model text, shown as text.
    #[serde(with = "crate::wire::json")]
    pub arguments: Value,
    /// It was allowed, but the server changed it since.
    pub changed: bool,
    /// Calls of this tool that ran today, and its daily limit if any.
    pub used_today: u32,
    pub limit_today: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerApprovalRequest {
    pub approval_id: String,
    pub answer: ApprovalAnswer,
}

/// What the model and the person read when a tool call was refused for want of access
/// (403 `insufficient_scope`); the window offers to sign in again beside it.
pub const NEEDS_MORE_ACCESS: &str = "This tool needs more access. Sign in again to grant it.";

/// The Stop on a running tool call's block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopToolCallRequest {
    pub conversation_id: i64,
    pub call_id: String,
}

/// One line of Settings → Activity: a tool call the model made and what came of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEntry {
    pub id: i64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub conversation_id: i64,
    /// `None` when the conversation was deleted since.
    pub conversation_title: Option<String>,
    pub connector_id: crate::ConnectorId,
    pub connector_name: String,
    pub tool: String,
    /// The arguments as sent, JSON.
    pub arguments: String,
    /// It ran (else it was refused).
    pub ran: bool,
    /// Which rule decided: "allowed", "allowed once by the person", "tool off", …
    pub rule: String,
    /// What came of it, cut; `None` while it runs.
    pub outcome: Option<String>,
    pub is_error: Option<bool>,
    pub duration_ms: Option<i64>,
}

/// How a tool's inputs changed between two of its JSON Schemas, in words a person reads
/// beside the tool ("New input “loud” (boolean).", "Input “count”: was number, now string.").
/// Empty when they are the same; one catch-all line when they differ only in ways these
/// lines do not name.
pub fn input_changes(before: &Value, now: &Value) -> Vec<String> {
    if before == now {
        return Vec::new();
    }
    // The maps are filled one entry at a time: collecting into one sorts first, and the
    // window's wasm would carry another copy of the sort for it.
    let properties = |schema: &Value| -> BTreeMap<String, Value> {
        let mut properties = BTreeMap::new();
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            properties.insert(name.clone(), property.clone());
        }
        properties
    };
    let required = |schema: &Value| -> BTreeSet<String> {
        let mut required = BTreeSet::new();
        for name in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str() {
                required.insert(name.to_owned());
            }
        }
        required
    };
    let kind = |property: &Value| -> String {
        match &property["type"] {
            Value::String(t) => t.clone(),
            Value::Array(types) => types
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" or "),
            _ if property.get("enum").is_some() => "one of a list".to_owned(),
            _ => "any value".to_owned(),
        }
    };
    let (old, new) = (properties(before), properties(now));
    let (old_required, new_required) = (required(before), required(now));
    let mut lines = Vec::new();
    for (name, property) in &new {
        let said = lines.len();
        let Some(was) = old.get(name) else {
            let needed = if new_required.contains(name) {
                ", required"
            } else {
                ""
            };
            lines.push(format!("New input “{name}” ({}{needed}).", kind(property)));
            continue;
        };
        if kind(was) != kind(property) {
            lines.push(format!(
                "Input “{name}”: was {}, now {}.",
                kind(was),
                kind(property)
            ));
        }
        match (old_required.contains(name), new_required.contains(name)) {
            (false, true) => lines.push(format!("Input “{name}” is now required.")),
            (true, false) => lines.push(format!("Input “{name}” is no longer required.")),
            _ => {}
        }
        if was.get("description") != property.get("description") {
            lines.push(format!("Input “{name}”: its description changed."));
        }
        if lines.len() == said && was != property {
            lines.push(format!("Input “{name}”: its rules changed."));
        }
    }
    for name in old.keys().filter(|name| !new.contains_key(*name)) {
        lines.push(format!("Input “{name}” was removed."));
    }
    if lines.is_empty() {
        lines.push("The inputs' rules changed.".to_owned());
    }
    lines
}

/// The activity log's name for a server's request for the person's model (sampling), in
/// place of a tool's name; logged under the conversation whose call the server was
/// answering, or under none (id 0) when that is not known.
pub const SAMPLING_ACTIVITY: &str = "asked the model to write";

#[cfg(test)]
mod input_change_tests {
    use serde_json::json;

    use super::input_changes;

    #[test]
    fn each_kind_of_change_is_named_once() {
        let before = json!({
            "type": "object",
            "properties": {
                "q": {"type": "string", "description": "What to find"},
                "limit": {"type": "number"},
                "old": {"type": "boolean"},
            },
            "required": ["q"],
        });
        let now = json!({
            "type": "object",
            "properties": {
                "q": {"type": "string", "description": "What to find, exactly"},
                "limit": {"type": "string"},
                "loud": {"type": ["boolean", "null"]},
                "scope": {"enum": ["a", "b"]},
            },
            "required": ["limit", "scope"],
        });
        assert_eq!(
            input_changes(&before, &now),
            [
                "Input “limit”: was number, now string.",
                "Input “limit” is now required.",
                "New input “loud” (boolean or null).",
                "Input “q” is no longer required.",
                "Input “q”: its description changed.",
                "New input “scope” (one of a list, required).",
                "Input “old” was removed.",
            ]
        );
    }

    #[test]
    fn the_same_inputs_say_nothing_and_hidden_changes_say_something() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert!(input_changes(&schema, &schema).is_empty());
        let stricter = json!({
            "type": "object",
            "properties": {"a": {"type": "string", "maxLength": 3}},
        });
        assert_eq!(
            input_changes(&schema, &stricter),
            ["Input “a”: its rules changed."]
        );
        let closed = json!({
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "additionalProperties": false,
        });
        assert_eq!(
            input_changes(&schema, &closed),
            ["The inputs' rules changed."]
        );
    }
}
