//! Switchboard's behaviour, with no Tauri in it: connectors and their saved settings, live
//! MCP sessions, and the plain-language diagnosis of what went wrong. The desktop shell
//! wires this to the window; tests drive it headless against real servers.

pub mod address;
pub mod ask;
pub mod chat;
pub mod connectors;
mod diagnose;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod legacy_sse;
pub mod markdown;
pub mod memory;
pub mod models;
pub mod oauth;
pub mod redirect;
pub mod secrets;
pub mod session;
pub mod settings;
pub mod signin;
pub mod sse;
pub mod start_view;
pub mod text;
pub mod tools;
pub mod uri_template;
pub mod web;

pub use connectors::{Connectors, Event};
pub use error::{Error, ErrorCode, Result};
pub use session::{Session, Timeouts};
