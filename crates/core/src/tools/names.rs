//! The names a model is given for the tools of every connector: unique across connectors,
//! within the providers' rules (Anthropic and OpenAI both take `^[a-zA-Z0-9_-]{1,64}$`), and
//! readable (`python_fixture__echo`). The gate maps a name back to its connector and tool;
//! a name it did not hand out in this turn maps to nothing.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// The longest name both providers take.
pub const MAX_NAME: usize = 64;
const SEPARATOR: &str = "__";
/// Characters of the hash that tells apart names that would otherwise be the same.
const TAG: usize = 6;

/// One tool of one connector, as the gate offers it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Offered {
    pub connector_id: String,
    pub tool: String,
}

/// The names handed out for one turn.
#[derive(Clone, Debug, Default)]
pub struct ToolNames {
    by_name: HashMap<String, Offered>,
}

impl ToolNames {
    /// Names `tools`: (connector id, the connector's name as the person sees it, tool name).
    /// Returns the names in the same order.
    pub fn assign(tools: &[(&str, &str, &str)]) -> (Self, Vec<String>) {
        let plain: Vec<String> = tools
            .iter()
            .map(|(_, connector, tool)| {
                let name = format!("{}{SEPARATOR}{}", clean(connector), clean(tool));
                fit(&name, None)
            })
            .collect();
        let mut count: HashMap<&str, usize> = HashMap::new();
        for name in &plain {
            *count.entry(name.as_str()).or_default() += 1;
        }
        let names: Vec<String> = plain
            .iter()
            .zip(tools)
            .map(|(name, (id, _, tool))| {
                if count[name.as_str()] > 1 {
                    fit(name, Some(&tag(id, tool)))
                } else {
                    name.clone()
                }
            })
            .collect();
        let by_name = names
            .iter()
            .zip(tools)
            .map(|(name, (id, _, tool))| {
                (
                    name.clone(),
                    Offered {
                        connector_id: (*id).to_owned(),
                        tool: (*tool).to_owned(),
                    },
                )
            })
            .collect();
        (Self { by_name }, names)
    }

    /// The connector and tool behind a name handed out, or `None`.
    pub fn resolve(&self, name: &str) -> Option<&Offered> {
        self.by_name.get(name)
    }
}

/// Only the characters the providers take; anything else becomes `_`. Never empty.
fn clean(text: &str) -> String {
    let cleaned: String = text
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "tool".to_owned()
    } else {
        cleaned
    }
}

/// A short hash of a connector and a tool: the same pair always gets the same tag.
fn tag(connector_id: &str, tool: &str) -> String {
    let digest = Sha256::digest(format!("{connector_id}\n{tool}").as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..TAG]
        .to_owned()
}

/// `name` within [`MAX_NAME`], with `tag` at its end when given (or when it had to be cut,
/// so two long names cut to the same start stay apart).
fn fit(name: &str, tag: Option<&str>) -> String {
    let tag = match tag {
        Some(tag) => tag.to_owned(),
        None if name.len() <= MAX_NAME => return name.to_owned(),
        None => self::tag("", name),
    };
    let room = MAX_NAME - TAG - 1;
    let start = &name[..name.len().min(room)];
    format!("{start}_{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn names_are_readable_valid_unique_and_map_back() {
        let long = "a".repeat(80);
        let tools = [
            ("c1", "Python Fixture", "echo"),
            ("c1", "Python Fixture", "get.sum"),
            ("c1", "Python Fixture", "get_sum"),
            ("c2", "Python Fixture", "echo"),
            ("c3", "Ünïcode ✓", "naïve tool"),
            ("c4", "Docs", long.as_str()),
            ("c4", "Docs", &format!("{long}b")),
            ("c5", "", ""),
        ];
        let (names, given) = ToolNames::assign(&tools);
        assert_eq!(
            given[0].len(),
            "python_fixture__echo".len() + 1 + TAG,
            "a clash is tagged"
        );
        assert!(given[0].starts_with("python_fixture__echo_"));
        assert_eq!(given[4], "_n_code____na_ve_tool");
        let unique: std::collections::HashSet<_> = given.iter().collect();
        assert_eq!(unique.len(), tools.len(), "{given:?}");
        for (name, (id, _, tool)) in given.iter().zip(&tools) {
            assert!(valid(name), "{name}");
            let back = names.resolve(name).expect("maps back");
            assert_eq!(
                (back.connector_id.as_str(), back.tool.as_str()),
                (*id, *tool)
            );
        }
        assert!(names.resolve("python_fixture__nope").is_none());

        // The same tools get the same names next turn.
        let (_, again) = ToolNames::assign(&tools);
        assert_eq!(given, again);
    }

    #[test]
    fn a_single_connector_keeps_plain_names() {
        let (_, given) =
            ToolNames::assign(&[("c1", "Everything", "echo"), ("c1", "Everything", "add")]);
        assert_eq!(given, ["everything__echo", "everything__add"]);
    }
}
