//! Servers' requests for the person's model (MCP sampling), answered by the chat: with the
//! model of the conversation whose tool call the server is answering (when exactly one
//! conversation has a call running on that connector), else the default model; within the
//! connector's daily limit; each logged in Activity beside the tool calls (under that
//! conversation and the connector, as "asked the model to write").

use std::sync::Weak;
use std::time::Instant;

use futures_util::StreamExt;
use switchboard_ipc::ConnectorId;
use switchboard_ipc::chat::{Message, Part, Role};

use super::service::Inner;
use super::store::NewToolCall;
use crate::ask::{Sampler, SamplingReply, SamplingRequest};
use crate::error::{Error, ErrorCode, Result};
use crate::models::{ModelEvent, ModelRequest};

use switchboard_ipc::tools::SAMPLING_ACTIVITY as SAMPLING;

/// The chat, as the connectors' sampler (held weakly: the chat holds the connectors).
pub(super) struct ChatSampler(pub(super) Weak<Inner>);

impl ChatSampler {
    fn chat(&self) -> Result<std::sync::Arc<Inner>> {
        self.0
            .upgrade()
            .ok_or_else(|| Error::internal("the chat has closed"))
    }
}

/// The conversation a request from `connector`'s server belongs to (0: none known), and the
/// model that answers it.
fn routed(
    chat: &Inner,
    connector: &ConnectorId,
) -> Option<(i64, switchboard_ipc::chat::ModelChoice)> {
    match chat.approvals.calling(connector) {
        Some(conversation) => chat
            .store
            .conversation(conversation)
            .ok()
            .and_then(|c| c.model)
            .or_else(|| chat.providers.default_model())
            .map(|choice| (conversation, choice)),
        None => chat.providers.default_model().map(|choice| (0, choice)),
    }
}

#[async_trait::async_trait]
impl Sampler for ChatSampler {
    fn model(&self, connector: &ConnectorId) -> Option<String> {
        let chat = self.0.upgrade()?;
        let (_, choice) = routed(&chat, connector)?;
        let provider = chat
            .providers
            .overview()
            .providers
            .into_iter()
            .find(|p| p.id == choice.provider_id)
            .map(|p| p.name)
            .unwrap_or_default();
        Some(format!("{provider} · {}", choice.model))
    }

    fn allowed(&self, connector: &ConnectorId) -> Result<()> {
        let chat = self.chat()?;
        let (settings, _) = chat.connectors.tools_of(connector)?;
        let Some(limit) = settings.limits.per_day else {
            return Ok(());
        };
        let today: u32 = chat
            .store
            .tool_calls_by_tool_on(&connector.0, &crate::tools::gate::today())?
            .values()
            .sum();
        if today >= limit {
            return Err(Error::new(
                ErrorCode::InvalidSetting,
                format!("This connector has reached its limit of {limit} uses today."),
            ));
        }
        Ok(())
    }

    async fn sample(
        &self,
        connector: &ConnectorId,
        connector_name: &str,
        request: SamplingRequest,
    ) -> Result<SamplingReply> {
        let chat = self.chat()?;
        let (conversation_id, choice) = routed(&chat, connector).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidSetting,
                "No model is set up in Settings → Models.",
            )
        })?;
        let arguments = serde_json::json!({
            "system": request.system,
            "messages": request.messages.iter().map(|m| serde_json::json!({"role": m.role, "text": m.text})).collect::<Vec<_>>(),
            "max_tokens": request.max_tokens,
        });
        let day = crate::tools::gate::today();
        let (logged, ()) = chat.store.log_tool_call(
            &NewToolCall {
                conversation_id,
                connector_id: &connector.0,
                connector_name,
                tool: SAMPLING,
                arguments: &arguments,
                day: &day,
            },
            |_| (Some((true, "approved by the person".to_owned())), ()),
        )?;
        let started = Instant::now();
        let answered = answer(&chat, &choice.provider_id, &choice.model, request).await;
        if let Some(id) = logged {
            let (outcome, is_error) = match &answered {
                Ok(text) => (crate::text::one_line(text, 500), false),
                Err(err) => (err.message.clone(), true),
            };
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            if let Err(err) = chat.store.finish_tool_call(id, &outcome, is_error, ms) {
                tracing::warn!(%err.message, "could not log what the model answered a server");
            }
        }
        Ok(SamplingReply {
            text: answered?,
            model: choice.model,
        })
    }
}

/// The model's whole answer, as text.
async fn answer(
    chat: &Inner,
    provider: &str,
    model: &str,
    request: SamplingRequest,
) -> Result<String> {
    let adapter = chat.providers.model(provider).await?;
    let messages = request
        .messages
        .into_iter()
        .map(|m| Message {
            role: if m.role == "assistant" {
                Role::Assistant
            } else {
                Role::User
            },
            parts: vec![Part::text(m.text)],
        })
        .collect();
    let mut model_request = ModelRequest::new(model, messages);
    model_request.system = request.system;
    model_request.max_tokens = request.max_tokens;
    let mut events = adapter
        .stream(&model_request)
        .await
        .map_err(crate::models::providers::model_error)?;
    let mut text = String::new();
    while let Some(event) = events.next().await {
        match event.map_err(crate::models::providers::model_error)? {
            ModelEvent::TextDelta(delta) => text.push_str(&delta),
            ModelEvent::Stop(_) => break,
            _ => {}
        }
    }
    Ok(text)
}
