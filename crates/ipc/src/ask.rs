//! A server asking the person for input (MCP elicitation): the form or the page it asks
//! for, as the window shows it, and the person's answer.
//!
//! Everything here came from a server, checked and cut by the core first: labels and
//! messages are plain text of bounded length, a page's address is a web address.

use serde::{Deserialize, Serialize};

use crate::ConnectorId;

/// One question waiting for the person. Its id is used once, to answer it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub connector_id: ConnectorId,
    /// The connector's name as the person knows it (not what the server calls itself).
    pub connector_name: String,
    /// The server's words, plain text.
    pub message: String,
    pub kind: QuestionKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// A form to fill in, built from the schema the server sent.
    Form { fields: Vec<Field> },
    /// A page to open in the person's browser (sign-in elsewhere, a payment): opened only
    /// when the person says so.
    Page {
        /// The whole address, as it will be opened.
        url: String,
        /// Its host, which the person should recognise.
        host: String,
    },
    /// Text for the person's model to answer (sampling): sent to `model` only when the
    /// person says so, its answer going back to the server.
    Sampling {
        /// The model that would answer, as the person knows it ("Anthropic · claude-…").
        model: String,
        /// The server's instructions to the model.
        system: Option<String>,
        messages: Vec<SamplingLine>,
        /// The longest answer the server asks for, in tokens.
        max_tokens: u32,
    },
}

/// One message of a server's request to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingLine {
    /// `user` (the server's words) or `assistant` (an earlier answer it quotes).
    pub role: String,
    pub text: String,
}

/// One field of a form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The key the answer is sent under.
    pub name: String,
    /// What the person reads: the schema's title, else the key.
    pub label: String,
    pub description: Option<String>,
    pub required: bool,
    pub input: Input,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    Text {
        format: TextFormat,
        min_length: Option<u32>,
        max_length: Option<u32>,
        default: Option<String>,
    },
    Number {
        integer: bool,
        minimum: Option<f64>,
        maximum: Option<f64>,
        default: Option<f64>,
    },
    Boolean {
        default: Option<bool>,
    },
    /// One of a list.
    Choice {
        options: Vec<Choice>,
        default: Option<String>,
    },
    /// Any number of a list.
    Choices {
        options: Vec<Choice>,
        min_items: Option<u64>,
        max_items: Option<u64>,
        default: Vec<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    Plain,
    Email,
    /// A web address.
    Uri,
    /// A day, `2026-12-01`.
    Date,
    /// A moment, `2026-12-01T09:30:00Z`.
    DateTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// What is sent.
    pub value: String,
    /// What the person reads.
    pub label: String,
}

/// The person's answer. Accept carries the form's values by field name (a page's Accept
/// carries nothing: it means "open it").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Accept {
        #[serde(default, with = "crate::wire::json_map")]
        content: serde_json::Map<String, serde_json::Value>,
    },
    /// "No": the server hears the person refused.
    Decline,
    /// Closed without a choice (Escape, the close button).
    Cancel,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnswerQuestionRequest {
    pub id: String,
    pub answer: Answer,
}

/// Payload of [`crate::event::QUESTION`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionEvent {
    Asked(Question),
    /// Answered, or no longer wanted (the server's call ended, the connector went away).
    Closed {
        id: String,
    },
}
