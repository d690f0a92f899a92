//! One-pass decoders for the three internally tagged enums (`{"type": "text", "text": …}`).
//!
//! serde's derived decoder for an internally tagged enum buffers the whole value as generic
//! content first, then decodes that buffer: a second decoder for the enum and everything in
//! it, which was 45 KB of the window's wasm (`serde::private::de::content`). These enums keep
//! the form, as the person's files hold it: [`SignInMethod`](crate::SignInMethod) in the
//! settings, [`Part`] and [`AttachmentContent`] in the conversation store. So they are
//! decoded here in one pass: each field into its slot as it comes, then the variant the tag
//! names. Unknown fields are skipped and optional ones may be missing or null, as with the
//! derived decoders; a field a variant does not have is still checked for its type. On the
//! wire to the window they are externally tagged (`tagged!`).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::SignInMethod;
use crate::chat::{AttachmentContent, Message, Part, ToolLabel};

/// Reads the next value into `slot`; a field given twice is refused, as serde does.
fn set<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// The value of a field the variant must have.
fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

/// Decodes a map with `fields`, whose `read` takes each key it knows (and returns false for
/// the others, which are skipped) and whose `build` makes the value from the tag.
trait Tagged: Default {
    type Output;
    const EXPECTING: &'static str;
    const TAG: &'static str;
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
    fn build<E: de::Error>(self, tag: &str) -> Result<Self::Output, E>;
}

struct TaggedVisitor<F>(std::marker::PhantomData<F>);

impl<'de, F: Tagged> Visitor<'de> for TaggedVisitor<F> {
    type Value = F::Output;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(F::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<F::Output, A::Error> {
        let mut tag: Option<String> = None;
        let mut fields = F::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == F::TAG {
                set(&mut map, &mut tag, F::TAG)?;
            } else if !fields.read(&key, &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        fields.build(&required::<_, A::Error>(tag, F::TAG)?)
    }
}

fn decode<'de, D: Deserializer<'de>, F: Tagged>(deserializer: D) -> Result<F::Output, D::Error> {
    deserializer.deserialize_map(TaggedVisitor::<F>(std::marker::PhantomData))
}

/// The enum's serde: in JSON (the core's files), the tagged map, written by the derive
/// (`#[serde(remote = "Self")]` makes it an inherent `serialize`) and read by `F` in one
/// pass; on the wire ([`crate::wire`]), externally tagged as `$wire` (a remote derive of the
/// same enum): postcard cannot read a map whose tag says what follows.
macro_rules! tagged {
    ($ty:ty, $fields:ty, $wire:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    <$ty>::serialize(self, serializer)
                } else {
                    <$wire>::serialize(self, serializer)
                }
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    decode::<D, $fields>(deserializer)
                } else {
                    <$wire>::deserialize(deserializer)
                }
            }
        }
    };
}

/// [`Part`] on the wire. The compiler checks it against `Part`: a field or variant missing
/// here does not build.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "Part")]
enum PartOnTheWire {
    Text {
        text: String,
    },
    Resource {
        uri: String,
        name: String,
        mime_type: Option<String>,
        text: String,
    },
    Image {
        media_type: String,
        data: String,
    },
    Audio {
        media_type: String,
        data: String,
    },
    Link {
        connector_id: String,
        uri: String,
        name: String,
        title: Option<String>,
        mime_type: Option<String>,
        description: Option<String>,
    },
    Structured {
        #[serde(with = "crate::wire::json")]
        value: Value,
        problem: Option<String>,
    },
    ToolCall {
        id: String,
        name: String,
        #[serde(with = "crate::wire::json")]
        arguments: Value,
        label: Option<ToolLabel>,
    },
    ToolResult {
        call_id: String,
        content: Vec<Part>,
        is_error: bool,
    },
}

/// [`AttachmentContent`] on the wire.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "AttachmentContent")]
enum AttachmentContentOnTheWire {
    Parts { parts: Vec<Part> },
    Messages { messages: Vec<Message> },
}

/// [`SignInMethod`] on the wire.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "SignInMethod")]
enum SignInMethodOnTheWire {
    Automatic {
        client_id: Option<String>,
        has_client_secret: bool,
    },
    ApiKey {
        header: String,
    },
    Basic {
        username: String,
    },
}

#[derive(Default)]
struct PartFields {
    text: Option<String>,
    uri: Option<String>,
    name: Option<String>,
    mime_type: Option<Option<String>>,
    media_type: Option<String>,
    data: Option<String>,
    connector_id: Option<String>,
    title: Option<Option<String>>,
    description: Option<Option<String>>,
    value: Option<Value>,
    problem: Option<Option<String>>,
    id: Option<String>,
    arguments: Option<Value>,
    label: Option<Option<ToolLabel>>,
    call_id: Option<String>,
    content: Option<Vec<Part>>,
    is_error: Option<bool>,
}

const PART_TYPES: &[&str] = &[
    "text",
    "resource",
    "image",
    "audio",
    "link",
    "structured",
    "tool_call",
    "tool_result",
];

impl Tagged for PartFields {
    type Output = Part;
    const EXPECTING: &'static str = "a message part";
    const TAG: &'static str = "type";

    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "text" => set(map, &mut self.text, "text")?,
            "uri" => set(map, &mut self.uri, "uri")?,
            "name" => set(map, &mut self.name, "name")?,
            "mime_type" => set(map, &mut self.mime_type, "mime_type")?,
            "media_type" => set(map, &mut self.media_type, "media_type")?,
            "data" => set(map, &mut self.data, "data")?,
            "connector_id" => set(map, &mut self.connector_id, "connector_id")?,
            "title" => set(map, &mut self.title, "title")?,
            "description" => set(map, &mut self.description, "description")?,
            "value" => set(map, &mut self.value, "value")?,
            "problem" => set(map, &mut self.problem, "problem")?,
            "id" => set(map, &mut self.id, "id")?,
            "arguments" => set(map, &mut self.arguments, "arguments")?,
            "label" => set(map, &mut self.label, "label")?,
            "call_id" => set(map, &mut self.call_id, "call_id")?,
            "content" => set(map, &mut self.content, "content")?,
            "is_error" => set(map, &mut self.is_error, "is_error")?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn build<E: de::Error>(self, tag: &str) -> Result<Part, E> {
        Ok(match tag {
            "text" => Part::Text {
                text: required(self.text, "text")?,
            },
            "resource" => Part::Resource {
                uri: required(self.uri, "uri")?,
                name: required(self.name, "name")?,
                mime_type: self.mime_type.flatten(),
                text: required(self.text, "text")?,
            },
            "image" => Part::Image {
                media_type: required(self.media_type, "media_type")?,
                data: required(self.data, "data")?,
            },
            "audio" => Part::Audio {
                media_type: required(self.media_type, "media_type")?,
                data: required(self.data, "data")?,
            },
            "link" => Part::Link {
                connector_id: required(self.connector_id, "connector_id")?,
                uri: required(self.uri, "uri")?,
                name: required(self.name, "name")?,
                title: self.title.flatten(),
                mime_type: self.mime_type.flatten(),
                description: self.description.flatten(),
            },
            "structured" => Part::Structured {
                value: required(self.value, "value")?,
                problem: self.problem.flatten(),
            },
            "tool_call" => Part::ToolCall {
                id: required(self.id, "id")?,
                name: required(self.name, "name")?,
                arguments: required(self.arguments, "arguments")?,
                label: self.label.flatten(),
            },
            "tool_result" => Part::ToolResult {
                call_id: required(self.call_id, "call_id")?,
                content: required(self.content, "content")?,
                is_error: required(self.is_error, "is_error")?,
            },
            other => return Err(E::unknown_variant(other, PART_TYPES)),
        })
    }
}

tagged!(Part, PartFields, PartOnTheWire);

#[derive(Default)]
struct AttachmentContentFields {
    parts: Option<Vec<Part>>,
    messages: Option<Vec<Message>>,
}

impl Tagged for AttachmentContentFields {
    type Output = AttachmentContent;
    const EXPECTING: &'static str = "an attachment's content";
    const TAG: &'static str = "type";

    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "parts" => set(map, &mut self.parts, "parts")?,
            "messages" => set(map, &mut self.messages, "messages")?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn build<E: de::Error>(self, tag: &str) -> Result<AttachmentContent, E> {
        Ok(match tag {
            "parts" => AttachmentContent::Parts {
                parts: required(self.parts, "parts")?,
            },
            "messages" => AttachmentContent::Messages {
                messages: required(self.messages, "messages")?,
            },
            other => return Err(E::unknown_variant(other, &["parts", "messages"])),
        })
    }
}

tagged!(
    AttachmentContent,
    AttachmentContentFields,
    AttachmentContentOnTheWire
);

#[derive(Default)]
struct SignInMethodFields {
    client_id: Option<Option<String>>,
    has_client_secret: Option<bool>,
    header: Option<String>,
    username: Option<String>,
}

impl Tagged for SignInMethodFields {
    type Output = SignInMethod;
    const EXPECTING: &'static str = "a sign-in method";
    const TAG: &'static str = "kind";

    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "client_id" => set(map, &mut self.client_id, "client_id")?,
            "has_client_secret" => set(map, &mut self.has_client_secret, "has_client_secret")?,
            "header" => set(map, &mut self.header, "header")?,
            "username" => set(map, &mut self.username, "username")?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn build<E: de::Error>(self, tag: &str) -> Result<SignInMethod, E> {
        Ok(match tag {
            "automatic" => SignInMethod::Automatic {
                client_id: self.client_id.flatten(),
                has_client_secret: required(self.has_client_secret, "has_client_secret")?,
            },
            "api_key" => SignInMethod::ApiKey {
                header: required(self.header, "header")?,
            },
            "basic" => SignInMethod::Basic {
                username: required(self.username, "username")?,
            },
            other => {
                return Err(E::unknown_variant(
                    other,
                    &["automatic", "api_key", "basic"],
                ));
            }
        })
    }
}

tagged!(SignInMethod, SignInMethodFields, SignInMethodOnTheWire);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T>(value: T)
    where
        T: serde::Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug,
    {
        let json = serde_json::to_value(&value).unwrap();
        assert_eq!(
            serde_json::from_value::<T>(json.clone()).unwrap(),
            value,
            "{json}"
        );
        // And from text, as the store reads it (keys borrowed from the input there).
        let text = json.to_string();
        assert_eq!(serde_json::from_str::<T>(&text).unwrap(), value, "{text}");
    }

    fn label() -> ToolLabel {
        ToolLabel {
            connector_id: "c1".into(),
            connector_name: "Notes".into(),
            tool: "search".into(),
            title: Some("Search notes".into()),
        }
    }

    #[test]
    fn every_part_and_attachment_and_sign_in_method_reads_back_what_was_written() {
        let parts = vec![
            Part::text("hi"),
            Part::Resource {
                uri: "file:///a".into(),
                name: "a".into(),
                mime_type: Some("text/plain".into()),
                text: "body".into(),
            },
            Part::Resource {
                uri: "file:///b".into(),
                name: "b".into(),
                mime_type: None,
                text: String::new(),
            },
            Part::Image {
                media_type: "image/png".into(),
                data: "iVBO".into(),
            },
            Part::Audio {
                media_type: "audio/wav".into(),
                data: "UklG".into(),
            },
            Part::Link {
                connector_id: "c1".into(),
                uri: "mem://x".into(),
                name: "x".into(),
                title: Some("X".into()),
                mime_type: None,
                description: Some("the x".into()),
            },
            Part::Structured {
                value: json!({"rows": [1, 2, {"deep": null}]}),
                problem: Some("missing field".into()),
            },
            Part::ToolCall {
                id: "call_1".into(),
                name: "search".into(),
                arguments: json!({"q": "cats", "limit": 3}),
                label: Some(label()),
            },
            Part::ToolCall {
                id: "call_2".into(),
                name: "search".into(),
                arguments: json!(null),
                label: None,
            },
        ];
        for part in &parts {
            round_trip(part.clone());
        }
        round_trip(Part::ToolResult {
            call_id: "call_1".into(),
            content: parts.clone(),
            is_error: true,
        });
        round_trip(AttachmentContent::Parts {
            parts: parts.clone(),
        });
        round_trip(AttachmentContent::Messages {
            messages: vec![Message::user("hello"), Message::assistant("hi")],
        });
        round_trip(SignInMethod::default());
        round_trip(SignInMethod::Automatic {
            client_id: Some("my-app".into()),
            has_client_secret: true,
        });
        round_trip(SignInMethod::ApiKey {
            header: "X-Key".into(),
        });
        round_trip(SignInMethod::Basic {
            username: "ada".into(),
        });
    }

    #[test]
    fn tagged_values_are_read_as_the_derived_decoders_read_them() {
        let part = |value| serde_json::from_value::<Part>(value);
        // The tag anywhere; unknown fields skipped; optional fields missing or null.
        assert_eq!(
            part(json!({"text": "hi", "extra": [1], "type": "text"})).unwrap(),
            Part::text("hi")
        );
        assert_eq!(
            part(
                json!({"type": "resource", "uri": "u", "name": "n", "text": "t", "mime_type": null})
            )
            .unwrap(),
            Part::Resource {
                uri: "u".into(),
                name: "n".into(),
                mime_type: None,
                text: "t".into(),
            }
        );
        // Refused, each with serde's words for it.
        let refused = |value| part(value).unwrap_err().to_string();
        assert_eq!(refused(json!({"text": "hi"})), "missing field `type`");
        assert_eq!(
            refused(json!({"type": "image", "data": "x"})),
            "missing field `media_type`"
        );
        assert!(refused(json!({"type": "video"})).starts_with("unknown variant `video`"));
        assert_eq!(
            refused(json!({"type": "text", "text": 5})),
            "invalid type: integer `5`, expected a string"
        );
        assert!(refused(json!("text")).contains("expected a message part"));
        assert!(
            serde_json::from_str::<Part>(r#"{"type": "text", "text": "a", "text": "b"}"#)
                .unwrap_err()
                .to_string()
                .starts_with("duplicate field `text`")
        );

        let method = |value| serde_json::from_value::<SignInMethod>(value);
        // `client_id` may be left out, as the settings of older versions did.
        assert_eq!(
            method(json!({"kind": "automatic", "has_client_secret": false})).unwrap(),
            SignInMethod::default()
        );
        assert!(method(json!({"kind": "automatic"})).is_err());
        assert!(method(json!({"kind": "token", "header": "x"})).is_err());
        assert!(serde_json::from_value::<AttachmentContent>(json!({"type": "parts"})).is_err());
    }
}
