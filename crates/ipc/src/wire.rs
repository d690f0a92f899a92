//! How the types of this crate travel between the window and the core: postcard bytes.
//!
//! Commands take their request as bytes (the window invokes them with a `Uint8Array`) and
//! answer with the bytes of a `Result<T, ErrorInfo>`, so a command's error travels the way its
//! answer does. Events carry bytes too, and so does the connector list handed to the page.
//!
//! Postcard writes a struct's fields in order, without their names. The window's wasm then
//! holds no decoder of field names for every type, which is what walking JavaScript objects
//! with serde-wasm-bindgen cost it (about 100 KB of its 1.29 MB). The price is that a field
//! may not be left out when it is written (`skip_serializing_if`), since the reader counts
//! fields. So the types here never leave one out; the files the core keeps write such a
//! field as `null` or `[]`, which reads the same.
//!
//! What postcard cannot read, because it would need the data to say what it is, travels in
//! another form: free-form JSON (`serde_json::Value`, through [`json`]) as a tree whose
//! nodes say what they are, and the three internally tagged enums the core keeps on disk
//! (`tagged`) externally tagged.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The bytes of `value`. Fails only for a type postcard cannot write (a sequence of unknown
/// length), which the tests of this crate would catch.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    postcard::to_allocvec(value).map_err(|err| format!("encoding for the window: {err}"))
}

/// The value in `bytes`, all of them.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes left over after the value", rest.len())),
        Err(err) => Err(format!("decoding {} bytes: {err}", bytes.len())),
    }
}

/// Free-form JSON on the wire: a tree whose every node says what it is, which postcard
/// can read (it cannot read JSON's own form, where the data says what comes next). So the
/// window needs no JSON parser. The core's files keep JSON as JSON.
#[derive(Deserialize)]
enum Tree {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    String(String),
    Array(Vec<Tree>),
    Object(Vec<(String, Tree)>),
}

impl From<Tree> for Value {
    fn from(tree: Tree) -> Value {
        match tree {
            Tree::Null => Value::Null,
            Tree::Bool(b) => Value::Bool(b),
            Tree::U64(n) => Value::from(n),
            Tree::I64(n) => Value::from(n),
            Tree::F64(n) => Value::from(n),
            Tree::String(text) => Value::String(text),
            Tree::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Tree::Object(entries) => Value::Object(object(entries)),
        }
    }
}

fn object(entries: Vec<(String, Tree)>) -> Map<String, Value> {
    entries
        .into_iter()
        .map(|(key, tree)| (key, Value::from(tree)))
        .collect()
}

/// A [`Tree`] written straight from the `Value` it stands for.
struct Node<'a>(&'a Value);

/// An array's items, written as [`Tree::Array`] holds them.
struct Items<'a>(&'a [Value]);

/// An object's entries, written as [`Tree::Object`] holds them.
struct Entries<'a>(&'a Map<String, Value>);

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const TREE: &str = "Tree";
        match self.0 {
            Value::Null => serializer.serialize_unit_variant(TREE, 0, "Null"),
            Value::Bool(b) => serializer.serialize_newtype_variant(TREE, 1, "Bool", b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(n), _, _) => serializer.serialize_newtype_variant(TREE, 2, "U64", &n),
                (None, Some(n), _) => serializer.serialize_newtype_variant(TREE, 3, "I64", &n),
                (None, None, n) => {
                    serializer.serialize_newtype_variant(TREE, 4, "F64", &n.unwrap_or(f64::NAN))
                }
            },
            Value::String(text) => serializer.serialize_newtype_variant(TREE, 5, "String", text),
            Value::Array(items) => {
                serializer.serialize_newtype_variant(TREE, 6, "Array", &Items(items))
            }
            Value::Object(map) => {
                serializer.serialize_newtype_variant(TREE, 7, "Object", &Entries(map))
            }
        }
    }
}

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Node))
    }
}

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(key, value)| (key, Node(value))))
    }
}

/// For `#[serde(with = "crate::wire::json")]` on a `serde_json::Value`: as is in JSON (the
/// core's files), a [`Tree`] on the wire.
pub mod json {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            value.serialize(serializer)
        } else {
            Node(value).serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        if deserializer.is_human_readable() {
            Value::deserialize(deserializer)
        } else {
            Tree::deserialize(deserializer).map(Value::from)
        }
    }
}

/// [`json`] for an `Option<serde_json::Value>`.
pub mod json_option {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<Value>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            value.serialize(serializer)
        } else {
            value.as_ref().map(Node).serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Value>, D::Error> {
        if deserializer.is_human_readable() {
            Option::deserialize(deserializer)
        } else {
            Ok(Option::<Tree>::deserialize(deserializer)?.map(Value::from))
        }
    }
}

/// [`json`] for a `serde_json::Map`.
pub mod json_map {
    use super::*;

    pub fn serialize<S: Serializer>(
        map: &Map<String, Value>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            map.serialize(serializer)
        } else {
            Entries(map).serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Map<String, Value>, D::Error> {
        if deserializer.is_human_readable() {
            Map::deserialize(deserializer)
        } else {
            Ok(object(Vec::deserialize(deserializer)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fmt::Debug;

    use serde_json::json;

    use super::*;
    use crate::ask::{Answer, AnswerQuestionRequest};
    use crate::chat::{
        Attachment, AttachmentContent, AttachmentKind, ChatEvent, Message, MessageStatus, Part,
        Role, StoredMessage, ToolLabel, ToolProgress,
    };
    use crate::markdown::{Block, BlockKey, Inline, Piece, Rendered, Streamed, Target};
    use crate::tools::{ConnectorTools, Limits, Pin, ToolApproval, ToolMode, ToolRule};
    use crate::{
        ConnectorId, ConnectorState, ConnectorSummary, ErrorCode, ErrorInfo, SignInMethod,
        SignInSummary, ToolInfo,
    };

    /// Through the wire and back, as the window reads what the core wrote (and the core
    /// what the window wrote); and through JSON and back, as the core's files keep it.
    fn crosses<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
        let bytes = encode(value).expect("encoded");
        assert_eq!(&decode::<T>(&bytes).expect("decoded"), value);
        let text = serde_json::to_string(value).expect("JSON");
        assert_eq!(
            &serde_json::from_str::<T>(&text).expect("from JSON"),
            value,
            "{text}"
        );
    }

    fn label() -> ToolLabel {
        ToolLabel {
            connector_id: "c1".into(),
            connector_name: "Docs".into(),
            tool: "search".into(),
            title: None,
        }
    }

    fn every_part() -> Vec<Part> {
        vec![
            Part::text("Hello"),
            Part::Resource {
                uri: "file:///a".into(),
                name: "a".into(),
                mime_type: None,
                text: "A".into(),
            },
            Part::Image {
                media_type: "image/png".into(),
                data: "iVBORw0".into(),
            },
            Part::Link {
                connector_id: "c1".into(),
                uri: "file:///b".into(),
                name: "b".into(),
                title: Some("B".into()),
                mime_type: None,
                description: Some("The b".into()),
            },
            Part::Structured {
                value: json!({"rows": [1, 2.5, null, "x", {"deep": true}]}),
                problem: None,
            },
            Part::ToolCall {
                id: "call-1".into(),
                name: "docs__search".into(),
                arguments: json!({"q": "mcp"}),
                label: Some(label()),
            },
            Part::ToolResult {
                call_id: "call-1".into(),
                content: vec![Part::text("found")],
                is_error: false,
            },
        ]
    }

    fn message() -> StoredMessage {
        let block = Block::Paragraph(vec![
            Inline::Strong(vec![Inline::Text("bold".into())]),
            Inline::Link {
                target: Target::Open("https://example.com".into()),
                content: vec![Inline::Code("x".into())],
            },
        ]);
        StoredMessage {
            id: 7,
            conversation_id: -3,
            role: Role::Assistant,
            parts: every_part(),
            status: MessageStatus::Complete,
            model: Some("m".into()),
            attachments: vec![
                Attachment {
                    kind: AttachmentKind::Resource,
                    connector_id: "c1".into(),
                    connector_name: "Docs".into(),
                    name: "a".into(),
                    uri: None,
                    size: 1 << 40,
                    truncated: true,
                    note: Some("cut".into()),
                    content: AttachmentContent::Parts {
                        parts: every_part(),
                    },
                },
                Attachment {
                    kind: AttachmentKind::Prompt,
                    connector_id: "c1".into(),
                    connector_name: "Docs".into(),
                    name: "p".into(),
                    uri: Some("file:///p".into()),
                    size: 0,
                    truncated: false,
                    note: None,
                    content: AttachmentContent::Messages {
                        messages: vec![Message {
                            role: Role::User,
                            parts: every_part(),
                        }],
                    },
                },
            ],
            created_at: 1_764_000_000_000,
            markdown: vec![Rendered {
                of: u32::MAX,
                blocks: vec![(BlockKey { index: 0, hash: 9 }, block)],
            }],
        }
    }

    #[test]
    fn messages_with_every_part_and_attachment_cross() {
        crosses(&message());
        crosses(&ChatEvent::MessageSaved { message: message() });
        crosses(&ChatEvent::ReplyText {
            conversation_id: 1,
            text: "**bold**".into(),
            markdown: Streamed {
                settled: vec![Piece {
                    start: 0,
                    blocks: vec![Block::Rule],
                }],
                tail: Vec::new(),
            },
        });
        for progress in [
            None,
            Some(ToolProgress {
                progress: 0.5,
                total: None,
                message: Some("half".into()),
            }),
        ] {
            crosses(&ChatEvent::ToolRunning {
                conversation_id: 1,
                call_id: "call-1".into(),
                progress,
            });
        }
    }

    #[test]
    fn connectors_with_every_sign_in_and_a_problem_cross() {
        for method in [
            SignInMethod::default(),
            SignInMethod::Automatic {
                client_id: Some("mine".into()),
                has_client_secret: true,
            },
            SignInMethod::ApiKey {
                header: "X-Key".into(),
            },
            SignInMethod::Basic {
                username: "ada".into(),
            },
        ] {
            let summary = ConnectorSummary {
                id: ConnectorId("c1".into()),
                name: "Docs".into(),
                url: "https://example.com/mcp".into(),
                state: ConnectorState::CantReach,
                counts: None,
                catalog_revision: 3,
                problem: Some(ErrorInfo::new(ErrorCode::Timeout, "Slow").with_detail("30 s")),
                retrying: true,
                sign_in: SignInSummary {
                    method,
                    saved: true,
                    redirect_uri: None,
                },
            };
            crosses(&summary);
            crosses(&Ok::<_, ErrorInfo>(summary));
        }
        crosses(&Err::<(), _>(ErrorInfo::internal("no")));
    }

    #[test]
    fn free_form_json_crosses_whole() {
        let value = json!({
            "null": null,
            "yes": true,
            "big": u64::MAX,
            "negative": -3,
            "float": 2.5,
            "text": "ünïcode \u{202e}",
            "nested": [[], {}, [1, {"a": [null]}]],
        });
        crosses(&Part::Structured {
            value: value.clone(),
            problem: None,
        });
        crosses(&Part::ToolCall {
            id: "1".into(),
            name: "n".into(),
            arguments: value,
            label: None,
        });
    }

    #[test]
    fn free_form_json_crosses_and_schemas_stay_in_the_core() {
        let tool = ToolInfo {
            name: "search".into(),
            title: None,
            description: Some("Searches".into()),
            read_only_hint: Some(true),
            input_schema: json!({"type": "object"}),
            annotations: Some(json!({"readOnlyHint": true, "n": 1.5})),
            output_schema: Some(json!({"type": "object"})),
        };
        let read: ToolInfo = decode(&encode(&tool).expect("encoded")).expect("decoded");
        assert_eq!(read.annotations, tool.annotations);
        assert_eq!(read.input_schema, serde_json::Value::Null, "not sent");
        assert_eq!(read.output_schema, None, "not sent");

        let pin = Pin {
            hash: "ab".into(),
            description: None,
            input_schema: json!({"properties": {"q": {"type": "string"}}}),
        };
        let mut settings = crate::tools::ToolSettings::default();
        settings.tools.insert(
            "search".into(),
            ToolRule {
                mode: ToolMode::Allow,
                limits: Limits {
                    per_conversation: None,
                    per_day: Some(5),
                },
                pin: Some(pin.clone()),
            },
        );
        settings.seen = Some(BTreeSet::from(["search".to_owned()]));
        crosses(&ConnectorTools {
            settings,
            ..ConnectorTools::default()
        });
        crosses(&ToolApproval {
            id: "a1".into(),
            call_id: "call-1".into(),
            connector_id: ConnectorId("c1".into()),
            connector_name: "Docs".into(),
            tool: "search".into(),
            title: None,
            description: None,
            arguments: json!({"q": ["a", 1, null]}),
            changed: true,
            used_today: 2,
            limit_today: Some(5),
        });
        let content = BTreeMap::from([
            ("name".to_owned(), json!("Ada")),
            ("n".to_owned(), json!(3)),
        ]);
        crosses(&AnswerQuestionRequest {
            id: "q1".into(),
            answer: Answer::Accept {
                content: content.into_iter().collect(),
            },
        });
    }

    #[test]
    fn bytes_that_are_not_a_value_are_refused() {
        let bytes = encode(&message()).expect("encoded");
        assert!(
            decode::<StoredMessage>(&bytes[..bytes.len() / 2]).is_err(),
            "cut short"
        );
        assert!(decode::<ConnectorSummary>(&[0xff; 8]).is_err(), "garbage");
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            decode::<StoredMessage>(&longer).is_err(),
            "more than the value"
        );
    }
}
