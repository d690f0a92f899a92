//! A server asking the person for input (MCP elicitation, form and URL modes).
//!
//! What the server sends is checked and cut before it reaches the window ([`question_of`]):
//! a form only of the field kinds the spec allows, plain-text labels of bounded length, a
//! page that is a web address. What the person answers is checked against the same form
//! ([`check_answer`]) before anything goes back, and a page is opened only on the person's
//! Accept. The [`Desk`] keeps the questions waiting for the window, each answered once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rmcp::model::{ElicitRequestParams, ElicitationSchema};
use serde_json::{Map, Value};
use switchboard_ipc::ConnectorId;
use switchboard_ipc::ask::{
    Answer, Choice, Field, Input, Question, QuestionEvent, QuestionKind, SamplingLine, TextFormat,
};
use tokio::sync::oneshot;
use url::Url;

use crate::error::{Error, ErrorCode, Result};
use crate::text::{one_line, paragraphs};

const MAX_MESSAGE: usize = 2_000;
const MAX_LABEL: usize = 200;
const MAX_DESCRIPTION: usize = 1_000;
const MAX_FIELDS: usize = 50;
const MAX_OPTIONS: usize = 500;
/// A default or a value longer than this is no form a person fills in.
const MAX_TEXT: usize = 10_000;
const MAX_URL: usize = 4_096;

/// A question as the server asked it, checked: what a [`Asker`] is handed.
#[derive(Clone, Debug, PartialEq)]
pub struct Asked {
    pub message: String,
    pub kind: QuestionKind,
}

/// Whoever answers a connector's questions: the window through the [`Desk`], or a test.
pub type Asker = Arc<dyn Fn(Asked) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

/// What a server asks the person's model to answer, checked ([`sampling_of`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingRequest {
    pub system: Option<String>,
    pub messages: Vec<SamplingLine>,
    pub max_tokens: u32,
}

/// The model's answer to a server's request.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingReply {
    pub text: String,
    /// The model's id, as the server is told.
    pub model: String,
}

/// Who answers a server's requests for the model (sampling): the chat, with the person's
/// default model, counting each against the connector's limits.
#[async_trait::async_trait]
pub trait Sampler: Send + Sync + 'static {
    /// The model that would answer a request from `connector`'s server, as the person knows
    /// it; none when no model is set up.
    fn model(&self, connector: &ConnectorId) -> Option<String>;
    /// Refuses, in words, a request the connector's limits do not allow, before the
    /// person is asked.
    fn allowed(&self, connector: &ConnectorId) -> Result<()>;
    /// Has the model answer a request the person approved, and logs it.
    async fn sample(
        &self,
        connector: &ConnectorId,
        connector_name: &str,
        request: SamplingRequest,
    ) -> Result<SamplingReply>;
}

const MAX_SAMPLING_MESSAGES: usize = 50;
const MAX_SAMPLING_TEXT: usize = 20_000;
/// The longest answer a server may ask for.
const MAX_SAMPLING_TOKENS: u32 = 8_192;

/// Checks a server's request for the model: text only (an image or a sound is named, tools
/// are refused), bounded in length and count.
#[allow(deprecated)]
pub fn sampling_of(request: &rmcp::model::CreateMessageRequestParams) -> Result<SamplingRequest> {
    use rmcp::model::SamplingMessageContentBlock as Block;
    if request.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(unusable(
            "The server asked the model to use tools of its own.",
        ));
    }
    if request.messages.is_empty() || request.messages.len() > MAX_SAMPLING_MESSAGES {
        return Err(unusable(format!(
            "The request has {} messages.",
            request.messages.len()
        )));
    }
    let messages = request
        .messages
        .iter()
        .map(|message| {
            let text = message
                .content
                .clone()
                .into_vec()
                .into_iter()
                .map(|block| match block {
                    Block::Text(text) => Ok(text.text),
                    Block::Image(_) => Ok("[an image]".to_owned()),
                    Block::Audio(_) => Ok("[a sound]".to_owned()),
                    _ => Err(unusable(
                        "The server sent the model a tool's call or result.",
                    )),
                })
                .collect::<Result<Vec<_>>>()?
                .join("\n");
            Ok(SamplingLine {
                role: match message.role {
                    rmcp::model::Role::Assistant => "assistant",
                    _ => "user",
                }
                .to_owned(),
                text: paragraphs(&text, MAX_SAMPLING_TEXT),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SamplingRequest {
        system: request
            .system_prompt
            .as_deref()
            .map(|s| paragraphs(s, MAX_SAMPLING_TEXT))
            .filter(|s| !s.is_empty()),
        messages,
        max_tokens: request.max_tokens.clamp(1, MAX_SAMPLING_TOKENS),
    })
}

/// Checks what a server asks before anything of it is shown.
pub fn question_of(request: &ElicitRequestParams) -> Result<Asked> {
    match request {
        ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } => Ok(Asked {
            message: paragraphs(message, MAX_MESSAGE),
            kind: QuestionKind::Form {
                fields: form_of(requested_schema)?,
            },
        }),
        ElicitRequestParams::UrlElicitationParams { message, url, .. } => {
            let page = page_of(url)?;
            Ok(Asked {
                message: paragraphs(message, MAX_MESSAGE),
                kind: QuestionKind::Page {
                    host: page.host_str().unwrap_or_default().to_owned(),
                    url: page.to_string(),
                },
            })
        }
        _ => Err(unusable(
            "The server asked in a mode Switchboard does not know.",
        )),
    }
}

fn unusable(detail: impl Into<String>) -> Error {
    Error::new(
        ErrorCode::Protocol,
        "The server asked for information in a form Switchboard cannot show.",
    )
    .with_detail(detail.into())
}

/// A page the server wants opened: a web address (`https:`, or `http:` on this computer),
/// nothing that would hand the server's text to another program.
fn page_of(url: &str) -> Result<Url> {
    if url.len() > MAX_URL {
        return Err(unusable(format!(
            "The page's address is {} bytes long.",
            url.len()
        )));
    }
    let page = crate::web::check_page(url).map_err(|err| {
        unusable(
            err.detail
                .unwrap_or_else(|| "The page is not a web address.".to_owned()),
        )
    })?;
    if !page.username().is_empty() || page.password().is_some() {
        return Err(unusable(
            "The page's address carries a username or password.",
        ));
    }
    Ok(page)
}

/// The fields of a form, in the server's order, from the restricted schema the spec allows
/// (flat properties of text, numbers, yes/no and lists of choices).
pub fn form_of(schema: &ElicitationSchema) -> Result<Vec<Field>> {
    let order: Vec<&String> = match &schema.property_order {
        Some(order) => order.iter().collect(),
        None => schema.properties.keys().collect(),
    };
    if order.len() > MAX_FIELDS {
        return Err(unusable(format!("The form has {} fields.", order.len())));
    }
    let required = schema.required.clone().unwrap_or_default();
    order
        .into_iter()
        .filter_map(|name| Some((name, schema.properties.get(name)?)))
        .map(|(name, property)| {
            let property =
                serde_json::to_value(property).map_err(|err| unusable(err.to_string()))?;
            field_of(name, &property, required.contains(name))
        })
        .collect()
}

/// One field from its JSON schema.
pub fn field_of(name: &str, property: &Value, required: bool) -> Result<Field> {
    if name.is_empty() || name.len() > MAX_LABEL {
        return Err(unusable("A field has an empty or overlong name."));
    }
    let text = |key: &str, max: usize| {
        property
            .get(key)
            .and_then(Value::as_str)
            .map(|s| one_line(s, max))
            .filter(|s| !s.is_empty())
    };
    let label = text("title", MAX_LABEL).unwrap_or_else(|| one_line(name, MAX_LABEL));
    let description = property
        .get("description")
        .and_then(Value::as_str)
        .map(|s| paragraphs(s, MAX_DESCRIPTION))
        .filter(|s| !s.is_empty());
    let kind = property
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let input = if let Some(options) = choices(property)? {
        let default = property
            .get("default")
            .and_then(Value::as_str)
            .filter(|d| options.iter().any(|o| o.value == *d))
            .map(str::to_owned);
        Input::Choice { options, default }
    } else {
        match kind {
            "array" => {
                let items = property.get("items").unwrap_or(&Value::Null);
                let Some(options) = choices(items)? else {
                    return Err(unusable(format!(
                        "The list \"{}\" has no choices.",
                        one_line(name, 80)
                    )));
                };
                let default = property
                    .get("default")
                    .and_then(Value::as_array)
                    .map(|d| {
                        d.iter()
                            .filter_map(Value::as_str)
                            .filter(|d| options.iter().any(|o| o.value == *d))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                Input::Choices {
                    options,
                    min_items: property.get("minItems").and_then(Value::as_u64),
                    max_items: property.get("maxItems").and_then(Value::as_u64),
                    default,
                }
            }
            "string" => Input::Text {
                format: match property.get("format").and_then(Value::as_str) {
                    Some("email") => TextFormat::Email,
                    Some("uri") => TextFormat::Uri,
                    Some("date") => TextFormat::Date,
                    Some("date-time") => TextFormat::DateTime,
                    _ => TextFormat::Plain,
                },
                min_length: length(property, "minLength"),
                max_length: length(property, "maxLength"),
                default: property
                    .get("default")
                    .and_then(Value::as_str)
                    .filter(|d| d.chars().count() <= MAX_TEXT)
                    .map(str::to_owned),
            },
            "number" | "integer" => Input::Number {
                integer: kind == "integer",
                minimum: property.get("minimum").and_then(Value::as_f64),
                maximum: property.get("maximum").and_then(Value::as_f64),
                default: property.get("default").and_then(Value::as_f64),
            },
            "boolean" => Input::Boolean {
                default: property.get("default").and_then(Value::as_bool),
            },
            other => {
                return Err(unusable(format!(
                    "The field \"{}\" is of the kind \"{}\".",
                    one_line(name, 80),
                    one_line(other, 40)
                )));
            }
        }
    };
    Ok(Field {
        name: name.to_owned(),
        label,
        description,
        required,
        input,
    })
}

fn length(property: &Value, key: &str) -> Option<u32> {
    property
        .get(key)
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// The choices of a field or of a list's items: `enum` (with the legacy `enumNames` as
/// labels), or `oneOf`/`anyOf` of `{const, title}`. None when it is no choice.
fn choices(schema: &Value) -> Result<Option<Vec<Choice>>> {
    let labelled = |value: &str, label: Option<&str>| Choice {
        value: value.to_owned(),
        label: one_line(label.unwrap_or(value), MAX_LABEL),
    };
    let options: Vec<Choice> = if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let names = schema.get("enumNames").and_then(Value::as_array);
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let label = names.and_then(|n| n.get(i)).and_then(Value::as_str);
                Some(labelled(v.as_str()?, label))
            })
            .collect()
    } else if let Some(values) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        values
            .iter()
            .filter_map(|v| {
                let value = v.get("const")?.as_str()?;
                Some(labelled(value, v.get("title").and_then(Value::as_str)))
            })
            .collect()
    } else {
        return Ok(None);
    };
    if options.is_empty() || options.len() > MAX_OPTIONS {
        return Err(unusable(format!(
            "A list offers {} choices.",
            options.len()
        )));
    }
    if options.iter().any(|o| o.value.chars().count() > MAX_LABEL) {
        return Err(unusable("A choice is overlong."));
    }
    Ok(Some(options))
}

/// What a form would send if the person changed nothing: each field's default.
pub fn defaults(fields: &[Field]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|field| {
            let value = match &field.input {
                Input::Text { default, .. } => Value::from(default.clone()?),
                Input::Number {
                    default, integer, ..
                } => {
                    let n = (*default)?;
                    if *integer && n.fract() == 0.0 {
                        Value::from(n as i64)
                    } else {
                        Value::from(n)
                    }
                }
                Input::Boolean { default } => Value::from((*default)?),
                Input::Choice { default, .. } => Value::from(default.clone()?),
                Input::Choices { default, .. } if !default.is_empty() => {
                    Value::from(default.clone())
                }
                Input::Choices { .. } => return None,
            };
            Some((field.name.clone(), value))
        })
        .collect()
}

fn wrong(field: &Field, what: &str) -> Error {
    Error::new(
        ErrorCode::InvalidSetting,
        format!("“{}” {what}", field.label),
    )
    .with_detail(format!("field {}", field.name))
}

/// Checks the person's answers against the form: every required field filled, each value
/// of its field's kind and within its bounds. Empty optional fields are left out.
pub fn check_answer(fields: &[Field], content: Map<String, Value>) -> Result<Map<String, Value>> {
    if let Some(unknown) = content
        .keys()
        .find(|k| !fields.iter().any(|f| f.name == **k))
    {
        return Err(Error::new(
            ErrorCode::InvalidSetting,
            "The answer does not fit the form.",
        )
        .with_detail(format!("no field {}", one_line(unknown, 80))));
    }
    let mut checked = Map::new();
    for field in fields {
        let value = content.get(&field.name).filter(|v| {
            !v.is_null() && v.as_str() != Some("") && v.as_array().is_none_or(|a| !a.is_empty())
        });
        let Some(value) = value else {
            if field.required {
                return Err(wrong(field, "is required."));
            }
            continue;
        };
        let value = check_value(field, value)?;
        checked.insert(field.name.clone(), value);
    }
    Ok(checked)
}

fn check_value(field: &Field, value: &Value) -> Result<Value> {
    match &field.input {
        Input::Text {
            format,
            min_length,
            max_length,
            ..
        } => {
            let text = value
                .as_str()
                .ok_or_else(|| wrong(field, "must be text."))?;
            let length = text.chars().count();
            if length > MAX_TEXT {
                return Err(wrong(field, "is too long."));
            }
            if let Some(min) = min_length
                && length < *min as usize
            {
                return Err(wrong(field, &format!("needs at least {min} characters.")));
            }
            if let Some(max) = max_length
                && length > *max as usize
            {
                return Err(wrong(field, &format!("takes at most {max} characters.")));
            }
            let fits = match format {
                TextFormat::Plain => true,
                TextFormat::Email => is_email(text),
                TextFormat::Uri => Url::parse(text).is_ok(),
                TextFormat::Date => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                TextFormat::DateTime => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            };
            if !fits {
                return Err(wrong(
                    field,
                    match format {
                        TextFormat::Email => "is not an e-mail address.",
                        TextFormat::Uri => "is not a web address (like https://example.com).",
                        TextFormat::Date => "is not a date (like 2026-12-01).",
                        _ => "is not a date and time (like 2026-12-01T09:30:00Z).",
                    },
                ));
            }
            Ok(Value::from(text))
        }
        Input::Number {
            integer,
            minimum,
            maximum,
            ..
        } => {
            let n = value
                .as_f64()
                .filter(|n| n.is_finite())
                .ok_or_else(|| wrong(field, "must be a number."))?;
            if *integer && n.fract() != 0.0 {
                return Err(wrong(field, "must be a whole number."));
            }
            if let Some(min) = minimum
                && n < *min
            {
                return Err(wrong(field, &format!("must be at least {min}.")));
            }
            if let Some(max) = maximum
                && n > *max
            {
                return Err(wrong(field, &format!("must be at most {max}.")));
            }
            Ok(if *integer {
                Value::from(n as i64)
            } else {
                Value::from(n)
            })
        }
        Input::Boolean { .. } => value
            .as_bool()
            .map(Value::from)
            .ok_or_else(|| wrong(field, "must be yes or no.")),
        Input::Choice { options, .. } => value
            .as_str()
            .filter(|v| options.iter().any(|o| o.value == *v))
            .map(Value::from)
            .ok_or_else(|| wrong(field, "must be one of its choices.")),
        Input::Choices {
            options,
            min_items,
            max_items,
            ..
        } => {
            let chosen: Vec<&str> = value
                .as_array()
                .ok_or_else(|| wrong(field, "must be a list of its choices."))?
                .iter()
                .map(|v| v.as_str().filter(|v| options.iter().any(|o| o.value == *v)))
                .collect::<Option<_>>()
                .ok_or_else(|| wrong(field, "must be a list of its choices."))?;
            let mut unique = chosen.clone();
            unique.sort_unstable();
            unique.dedup();
            if unique.len() != chosen.len() {
                return Err(wrong(field, "lists a choice twice."));
            }
            if let Some(min) = min_items
                && (chosen.len() as u64) < *min
            {
                return Err(wrong(field, &format!("needs at least {min} chosen.")));
            }
            if let Some(max) = max_items
                && chosen.len() as u64 > *max
            {
                return Err(wrong(field, &format!("takes at most {max} chosen.")));
            }
            Ok(Value::from(chosen))
        }
    }
}

/// An address of the form `name@host.domain`, no spaces: what a person means by one.
fn is_email(text: &str) -> bool {
    let Some((name, host)) = text.split_once('@') else {
        return false;
    };
    !name.is_empty()
        && host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && !host.contains('@')
        && !text.chars().any(char::is_whitespace)
}

/// The questions waiting for the person, by their one-use id.
pub struct Desk {
    waiting: Mutex<HashMap<String, Waiting>>,
    tell: Box<dyn Fn(QuestionEvent) + Send + Sync>,
}

struct Waiting {
    question: Question,
    answer: oneshot::Sender<Answer>,
}

/// Takes a question off the desk when its asker stops waiting (answered, or the server's
/// request ended), and tells the window.
struct Closing<'a> {
    desk: &'a Desk,
    id: String,
}

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        self.desk.lock().remove(&self.id);
        (self.desk.tell)(QuestionEvent::Closed {
            id: self.id.clone(),
        });
    }
}

impl Desk {
    pub fn new(tell: impl Fn(QuestionEvent) + Send + Sync + 'static) -> Self {
        Self {
            waiting: Mutex::default(),
            tell: Box::new(tell),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a question before the person and waits for the answer; a question nobody can
    /// answer any more (the app closing) is cancelled.
    pub async fn ask(
        &self,
        connector_id: ConnectorId,
        connector_name: String,
        asked: Asked,
    ) -> Answer {
        let question = Question {
            id: oauth2::CsrfToken::new_random().secret().clone(),
            connector_id,
            connector_name,
            message: asked.message,
            kind: asked.kind,
        };
        let (answer, answered) = oneshot::channel();
        let _closing = Closing {
            desk: self,
            id: question.id.clone(),
        };
        self.lock().insert(
            question.id.clone(),
            Waiting {
                question: question.clone(),
                answer,
            },
        );
        tracing::info!(connector = %question.connector_id, "a server asks the person for input");
        (self.tell)(QuestionEvent::Asked(question));
        answered.await.unwrap_or(Answer::Cancel)
    }

    /// The person's answer. A form's values are checked first (a wrong one is refused in
    /// words and the question stays open); a page is opened with `open` on Accept. An id
    /// that is unknown or already answered is refused.
    pub fn answer(
        &self,
        id: &str,
        answer: Answer,
        open: impl FnOnce(&str) -> Result<()>,
    ) -> Result<()> {
        let mut waiting = self.lock();
        let question = &waiting
            .get(id)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidSetting,
                    "This question is no longer waiting for an answer.",
                )
                .with_detail(format!("question {id}"))
            })?
            .question;
        let answer = match (&question.kind, answer) {
            (QuestionKind::Form { fields }, Answer::Accept { content }) => Answer::Accept {
                content: check_answer(fields, content)?,
            },
            (QuestionKind::Page { url, .. }, Answer::Accept { .. }) => {
                open(url)?;
                Answer::Accept {
                    content: Map::new(),
                }
            }
            (_, other) => other,
        };
        if let Some(waiting) = waiting.remove(id) {
            // The asker may have stopped waiting meanwhile; then nobody hears it.
            let _ = waiting.answer.send(answer);
        }
        Ok(())
    }

    /// The questions waiting, for a window that opens (or reloads).
    pub fn waiting(&self) -> Vec<Question> {
        self.lock().values().map(|w| w.question.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(schema: Value) -> Result<Vec<Field>> {
        let schema: ElicitationSchema = serde_json::from_value(schema).expect("a schema");
        form_of(&schema)
    }

    /// From the wire's text, as rmcp reads it, so the properties keep their order.
    fn everything_form() -> Vec<Field> {
        let schema: ElicitationSchema = serde_json::from_str(
            r#"{
            "type": "object",
            "properties": {
                "name": {"type": "string", "title": "Name", "minLength": 2},
                "email": {"type": "string", "format": "email"},
                "when": {"type": "string", "format": "date"},
                "age": {"type": "integer", "minimum": 1, "maximum": 120, "default": 42},
                "ratio": {"type": "number", "default": 2.5},
                "agree": {"type": "boolean", "default": false},
                "hero": {"type": "string", "oneOf": [{"const": "h1", "title": "Superman"}, {"const": "h2", "title": "Wonder Woman"}], "default": "h2"},
                "color": {"type": "string", "enum": ["red", "blue"], "enumNames": ["Red", "Blue"]},
                "fish": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"anyOf": [{"const": "f1", "title": "Tuna"}, {"const": "f2", "title": "Trout"}, {"const": "f3", "title": "Cod"}]}, "default": ["f1"]}
            },
            "required": ["name", "agree"]
        }"#,
        )
        .expect("a schema");
        form_of(&schema).expect("the form")
    }

    #[test]
    fn a_form_keeps_the_servers_order_labels_and_defaults() {
        let form = everything_form();
        let names: Vec<_> = form.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "name", "email", "when", "age", "ratio", "agree", "hero", "color", "fish"
            ]
        );
        assert_eq!(form[0].label, "Name");
        assert!(form[0].required && !form[1].required);
        let Input::Choice { options, default } = &form[6].input else {
            panic!("{:?}", form[6]);
        };
        assert_eq!(options[0].label, "Superman");
        assert_eq!(default.as_deref(), Some("h2"));
        let Input::Choice { options, .. } = &form[7].input else {
            panic!("{:?}", form[7]);
        };
        assert_eq!(options[1].label, "Blue");
        assert_eq!(
            Value::Object(defaults(&form)),
            json!({"age": 42, "ratio": 2.5, "agree": false, "hero": "h2", "fish": ["f1"]})
        );
    }

    #[test]
    fn answers_are_checked_against_the_form() {
        let form = everything_form();
        let ok = |content: Value| check_answer(&form, content.as_object().cloned().unwrap());
        let base = json!({"name": "Ada", "agree": true});
        assert_eq!(Value::Object(ok(base.clone()).unwrap()), base);
        let refused = |content: Value| ok(content).unwrap_err().message;
        assert_eq!(refused(json!({"agree": true})), "“Name” is required.");
        assert_eq!(
            refused(json!({"name": "A", "agree": true})),
            "“Name” needs at least 2 characters."
        );
        assert_eq!(
            refused(json!({"name": "Ada", "agree": true, "email": "ada at home"})),
            "“email” is not an e-mail address."
        );
        assert_eq!(
            refused(json!({"name": "Ada", "agree": true, "when": "1 Dec"})),
            "“when” is not a date (like 2026-12-01)."
        );
        assert_eq!(
            refused(json!({"name": "Ada", "agree": true, "age": 1.5})),
            "“age” must be a whole number."
        );
        assert_eq!(
            refused(json!({"name": "Ada", "agree": true, "age": 130})),
            "“age” must be at most 120."
        );
        assert_eq!(
            refused(json!({"name": "Ada", "agree": "yes"})),
            "“agree” must be yes or no."
        );
        assert_eq!(
            refused(json!({"name": "Ada", "agree": true, "hero": "h9"})),
            "“hero” must be one of its choices."
        );
        assert_eq!(
            refused(json!({"name": "Ada", "agree": true, "fish": ["f1", "f2", "f3"]})),
            "“fish” takes at most 2 chosen."
        );
        assert_eq!(
            refused(json!({"name": "Ada", "agree": true, "extra": 1})),
            "The answer does not fit the form."
        );
        // Empty optional fields are left out rather than sent empty.
        assert_eq!(
            Value::Object(
                ok(json!({"name": "Ada", "agree": true, "email": "", "fish": []})).unwrap()
            ),
            base
        );
    }

    #[test]
    fn a_servers_words_are_cut_and_cleaned_and_odd_forms_refused() {
        let form = fields(json!({
            "type": "object",
            "properties": {"x": {"type": "string", "title": format!("a\u{202e}b\n{}", "c".repeat(5000))}}
        }))
        .unwrap();
        assert!(form[0].label.starts_with("a b c"));
        assert_eq!(form[0].label.chars().count(), MAX_LABEL);
        let many: Map<String, Value> = (0..=MAX_FIELDS)
            .map(|i| (format!("f{i}"), json!({"type": "boolean"})))
            .collect();
        assert!(fields(json!({"type": "object", "properties": many})).is_err());
    }

    #[test]
    fn a_page_must_be_a_web_address() {
        let asked = |url: &str| {
            question_of(&ElicitRequestParams::UrlElicitationParams {
                meta: None,
                message: "Pay here".into(),
                url: url.into(),
                elicitation_id: "e1".into(),
            })
        };
        let Asked { kind, .. } = asked("https://pay.example.com/checkout?x=1").unwrap();
        assert_eq!(
            kind,
            QuestionKind::Page {
                url: "https://pay.example.com/checkout?x=1".into(),
                host: "pay.example.com".into()
            }
        );
        for refused in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "http://pay.example.com/",
            "https://user:pw@pay.example.com/",
            "io.switchboard.desktop:/oauth/callback",
        ] {
            assert!(asked(refused).is_err(), "{refused}");
        }
    }
}
