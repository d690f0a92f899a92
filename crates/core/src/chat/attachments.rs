//! What a connector's resources and prompts become when attached to a message: the parts a
//! model reads, bounded, with a note on the chip for anything cut or left out.
//!
//! Server text is data here: it goes to the model inside the message, and to the window as
//! plain text (never as markup).

use base64::Engine;
use rmcp::model::{ContentBlock, GetPromptResult, ReadResourceResult, ResourceContents};
use switchboard_ipc::chat::{
    AUDIO_TYPES, Attachment, AttachmentContent, AttachmentKind, IMAGE_TYPES, Message, Part, Role,
    is_twin,
};

/// How much text one attachment may carry to the model unless the person chose otherwise
/// (Settings → Models): 200 KB.
pub const TEXT_BOUND: usize = switchboard_ipc::chat::DEFAULT_ATTACHMENT_LIMIT_KB as usize * 1024;

/// Images larger than this (5 MB, Anthropic's limit) are named but not sent; sounds larger
/// than this are named and not kept for the window either.
pub const IMAGE_BOUND: usize = 5 * 1024 * 1024;

/// Who the attachment came from and what it is called.
pub struct Source<'a> {
    pub kind: AttachmentKind,
    pub connector_id: &'a str,
    pub connector_name: &'a str,
    pub name: &'a str,
}

/// A resource read with `resources/read`, as an attachment.
pub fn resource(
    source: Source<'_>,
    uri: &str,
    read: ReadResourceResult,
    bound: usize,
) -> Attachment {
    let mut converted = Converted::from(source.connector_id);
    for contents in read.contents {
        converted.add_contents(source.name, contents, bound);
    }
    Attachment {
        kind: source.kind,
        connector_id: source.connector_id.to_owned(),
        connector_name: source.connector_name.to_owned(),
        name: source.name.to_owned(),
        uri: Some(uri.to_owned()),
        size: converted.size,
        truncated: converted.cut_at.is_some(),
        note: converted.note(),
        content: AttachmentContent::Parts {
            parts: converted.parts,
        },
    }
}

/// A prompt got with `prompts/get`: its messages, roles kept, embedded resources resolved.
pub fn prompt(source: Source<'_>, got: GetPromptResult, bound: usize) -> Attachment {
    let mut converted = Converted::from(source.connector_id);
    let mut messages: Vec<Message> = Vec::new();
    for message in got.messages {
        let role = match message.role {
            rmcp::model::Role::User => Role::User,
            rmcp::model::Role::Assistant => Role::Assistant,
        };
        let before = converted.parts.len();
        converted.add_block(source.name, message.content, bound);
        let parts = converted.parts.split_off(before);
        // Consecutive messages of one role are one message to a model.
        match messages.last_mut() {
            Some(last) if last.role == role => last.parts.extend(parts),
            _ => messages.push(Message { role, parts }),
        }
    }
    Attachment {
        kind: AttachmentKind::Prompt,
        connector_id: source.connector_id.to_owned(),
        connector_name: source.connector_name.to_owned(),
        name: source.name.to_owned(),
        uri: None,
        size: converted.size,
        truncated: converted.cut_at.is_some(),
        note: converted.note(),
        content: AttachmentContent::Messages { messages },
    }
}

#[derive(Default)]
struct Converted {
    /// Whose content it is: a link points into this connector.
    connector_id: String,
    parts: Vec<Part>,
    size: u64,
    /// The bound the text was cut at, if it was.
    cut_at: Option<usize>,
    /// Files named but not sent, by type.
    left_out: Vec<String>,
    /// Text left to send before the bound.
    used: usize,
}

impl Converted {
    fn from(connector_id: &str) -> Self {
        Self {
            connector_id: connector_id.to_owned(),
            ..Self::default()
        }
    }

    fn note(&self) -> Option<String> {
        let mut notes = Vec::new();
        if let Some(bound) = self.cut_at {
            notes.push(format!(
                "Cut to the first {} KB: the model sees only that part.",
                bound / 1024
            ));
        }
        if !self.left_out.is_empty() {
            notes.push(format!(
                "Not sent: {} (the model cannot read this kind of file).",
                self.left_out.join(", ")
            ));
        }
        (!notes.is_empty()).then(|| notes.join(" "))
    }

    fn text(&mut self, text: &str, bound: usize) -> String {
        self.size += text.len() as u64;
        let room = bound.saturating_sub(self.used);
        if text.len() <= room {
            self.used += text.len();
            return text.to_owned();
        }
        self.cut_at = Some(bound);
        let mut end = room;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.used = bound;
        text[..end].to_owned()
    }

    fn add_contents(&mut self, name: &str, contents: ResourceContents, bound: usize) {
        match contents {
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            } => {
                let text = self.text(&text, bound);
                let name = if name.is_empty() {
                    uri_tail(&uri).to_owned()
                } else {
                    name.to_owned()
                };
                self.parts.push(Part::Resource {
                    uri,
                    name,
                    mime_type,
                    text,
                });
            }
            ResourceContents::BlobResourceContents {
                mime_type, blob, ..
            } => {
                let mime = mime_type.unwrap_or_else(|| "application/octet-stream".to_owned());
                self.binary(mime, blob);
            }
            _ => self
                .left_out
                .push("content of a kind Switchboard does not know".to_owned()),
        }
    }

    fn binary(&mut self, mime: String, base64: String) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(base64.trim())
            .map(|b| b.len())
            .unwrap_or(base64.len() * 3 / 4);
        self.size += bytes as u64;
        if IMAGE_TYPES.contains(&mime.as_str()) && bytes <= IMAGE_BOUND {
            self.parts.push(Part::Image {
                media_type: mime,
                data: base64,
            });
        } else if AUDIO_TYPES.contains(&mime.as_str()) && bytes <= IMAGE_BOUND {
            self.parts.push(Part::Audio {
                media_type: mime,
                data: base64,
            });
        } else {
            self.left_out
                .push(format!("a {mime} file of {}", plain_size(bytes)));
        }
    }

    fn add_block(&mut self, name: &str, block: ContentBlock, bound: usize) {
        match block {
            ContentBlock::Text(text) => {
                let text = self.text(&text.text, bound);
                self.parts.push(Part::Text { text });
            }
            ContentBlock::Image(image) => self.binary(image.mime_type, image.data),
            ContentBlock::Audio(audio) => self.binary(audio.mime_type, audio.data),
            ContentBlock::Resource(embedded) => self.add_contents(name, embedded.resource, bound),
            ContentBlock::ResourceLink(link) => {
                // A link is named to the model; reading it is the person's choice.
                self.parts.push(Part::Link {
                    connector_id: self.connector_id.clone(),
                    uri: link.uri.clone(),
                    name: link.name.clone(),
                    title: link.title.clone(),
                    mime_type: link.mime_type.clone(),
                    description: link.description.clone(),
                });
            }
            _ => self
                .left_out
                .push("content of a kind Switchboard does not know".to_owned()),
        }
    }
}

/// What a tool call returned, for the model and the window.
pub struct ToolResultParts {
    pub parts: Vec<Part>,
    /// What was cut or left out, for the person and the model.
    pub note: Option<String>,
    /// The tool said it failed, or its structured result broke the promise of its
    /// `outputSchema`.
    pub is_error: bool,
}

/// What a tool call returned, as parts: text, images, sounds, embedded resources, links
/// into the connector, and its `structuredContent` as a tree. A structured result is
/// checked against the tool's `outputSchema` when it has one: one that does not match is
/// reported (to the person and the model) and its data is not passed on. Without a text
/// twin, the model reads a structured result as JSON. Text is bounded like an attachment's.
pub fn tool_result(
    result: rmcp::model::CallToolResult,
    connector_id: &str,
    output_schema: Option<&serde_json::Value>,
    bound: usize,
) -> ToolResultParts {
    let mut converted = Converted::from(connector_id);
    let had_content = !result.content.is_empty();
    for block in result.content {
        // An embedded resource is named by its address.
        converted.add_block("", block, bound);
    }
    let mut is_error = result.is_error == Some(true);
    if let Some(value) = result.structured_content {
        let problem = output_schema.and_then(|schema| schema_problem(schema, &value));
        if problem.is_some() {
            // Its text twin carries the same data: not passed on either.
            converted
                .parts
                .retain(|part| !matches!(part, Part::Text { text } if is_twin(text, &value)));
            is_error = true;
        } else if !had_content {
            let text = converted.text(&value.to_string(), bound);
            converted.parts.push(Part::Text { text });
        }
        converted.parts.push(Part::Structured { value, problem });
    }
    let note = converted.note();
    ToolResultParts {
        parts: converted.parts,
        note,
        is_error,
    }
}

/// The last segment of a URI's path (`notes.md` of `file:///a/notes.md?x`), or the URI.
fn uri_tail(uri: &str) -> &str {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    path.rsplit('/')
        .find(|segment| !segment.is_empty())
        .filter(|segment| !segment.ends_with(':'))
        .unwrap_or(uri)
}

/// How a structured result breaks the schema its tool promised, in words (where, and which
/// rule; never the data itself); `None` when it matches. A schema that cannot be compiled (the server's mistake) is a problem too.
/// References outside the schema are not fetched.
fn schema_problem(schema: &serde_json::Value, value: &serde_json::Value) -> Option<String> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(validator) => validator,
        Err(err) => {
            return Some(format!(
                "The tool's result could not be checked: its promised form is not valid ({}).",
                cut(&err.to_string(), 200)
            ));
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(3)
        .map(|err| {
            let at = err.instance_path().to_string();
            let at = if at.is_empty() {
                "the result".to_owned()
            } else {
                format!("at {at}")
            };
            // Not the error's own words: they quote the data, which is not passed on.
            format!("{at}: its rule \"{}\" is not met", err.kind().keyword())
        })
        .collect();
    (!errors.is_empty()).then(|| {
        format!(
            "The tool's result does not have the form it promised, so it was not passed on ({}).",
            errors.join("; ")
        )
    })
}

/// At most `max` bytes of `text`, cut on a character, with "…" when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// "12 KB", "3.4 MB".
pub fn plain_size(bytes: usize) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{} KB", b.div_ceil(1024)),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{PromptMessage, ResourceContents};

    use super::*;

    fn source(name: &str) -> Source<'_> {
        Source {
            kind: AttachmentKind::Resource,
            connector_id: "c1",
            connector_name: "Files",
            name,
        }
    }

    fn text_contents(uri: &str, text: &str) -> ResourceContents {
        ResourceContents::TextResourceContents {
            uri: uri.into(),
            mime_type: Some("text/plain".into()),
            text: text.into(),
            meta: None,
        }
    }

    #[test]
    fn text_over_the_bound_is_cut_on_a_character_and_said() {
        let read = ReadResourceResult::new(vec![text_contents("file:///a", "ééééé")]);
        let attachment = resource(source("a"), "file:///a", read, 5);
        assert!(attachment.truncated);
        assert_eq!(attachment.size, 10);
        let AttachmentContent::Parts { parts } = &attachment.content else {
            panic!("a resource has parts");
        };
        assert_eq!(
            parts,
            &[Part::Resource {
                uri: "file:///a".into(),
                name: "a".into(),
                mime_type: Some("text/plain".into()),
                text: "éé".into(),
            }]
        );
        assert!(
            attachment
                .note
                .is_some_and(|n| n.starts_with("Cut to the first"))
        );
    }

    #[test]
    fn images_are_sent_and_other_files_named() {
        let blob = |mime: &str| ResourceContents::BlobResourceContents {
            uri: "file:///b".into(),
            mime_type: Some(mime.into()),
            blob: "AAAA".into(),
            meta: None,
        };
        let read = ReadResourceResult::new(vec![blob("image/png"), blob("application/zip")]);
        let attachment = resource(source("b"), "file:///b", read, TEXT_BOUND);
        let AttachmentContent::Parts { parts } = &attachment.content else {
            panic!("a resource has parts");
        };
        assert_eq!(
            parts,
            &[Part::Image {
                media_type: "image/png".into(),
                data: "AAAA".into()
            }]
        );
        assert_eq!(attachment.size, 6);
        assert_eq!(
            attachment.note.as_deref(),
            Some(
                "Not sent: a application/zip file of 3 bytes (the model cannot read this kind of file)."
            )
        );
    }

    #[test]
    fn a_promised_form_that_points_elsewhere_is_not_fetched_and_says_so() {
        let result: rmcp::model::CallToolResult = serde_json::from_value(serde_json::json!({
            "content": [], "structuredContent": {"a": 1},
        }))
        .expect("a result");
        let schema = serde_json::json!({"$ref": "http://127.0.0.1:9/schema.json"});
        let converted = tool_result(result, "c1", Some(&schema), TEXT_BOUND);
        assert!(converted.is_error);
        assert!(
            matches!(
                converted.parts.as_slice(),
                [Part::Structured { problem: Some(p), .. }] if p.starts_with("The tool's result could not be checked")
            ),
            "{:?}",
            converted.parts
        );
    }

    #[test]
    fn a_prompt_keeps_roles_and_resolves_embedded_resources() {
        let got = GetPromptResult::new(vec![
            PromptMessage::new_text(rmcp::model::Role::User, "Summarise this:"),
            PromptMessage::new(
                rmcp::model::Role::User,
                ContentBlock::Resource(rmcp::model::EmbeddedResource::new(text_contents(
                    "file:///doc",
                    "the document",
                ))),
            ),
            PromptMessage::new_text(rmcp::model::Role::Assistant, "Sure."),
        ]);
        let attachment = prompt(source("summarise"), got, TEXT_BOUND);
        let AttachmentContent::Messages { messages } = attachment.content else {
            panic!("a prompt has messages");
        };
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].role, Role::User);
        assert_eq!(messages[0].parts.len(), 2);
        assert!(
            matches!(&messages[0].parts[1], Part::Resource { text, .. } if text == "the document")
        );
        assert_eq!(messages[1], Message::assistant("Sure."));
    }
}
