//! The chat: conversations kept in SQLite ([`store`]), one turn of talk with a model
//! ([`turn`]), and what a message is made of (the types live in `switchboard_ipc::chat`,
//! shared with the window).
//!
//! The types are provider-neutral: the model adapters (`crate::models`) turn them into
//! each provider's wire format, and the store keeps them as JSON, so what was sent is what
//! is saved.

pub mod attachments;
mod sampling;
pub mod service;
pub mod store;
pub mod turn;

pub use service::Chat;
pub use switchboard_ipc::chat::{
    Attachment, AttachmentContent, AttachmentKind, Message, MessageStatus, ModelChoice, Part, Role,
};
