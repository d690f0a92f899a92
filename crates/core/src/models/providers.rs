//! Settings → Models: the providers a person set up, their keys, and the default model.
//!
//! Saved under the settings file's `models` entry (no secret in it); each key in the
//! keyring under the account `model-<provider id>/api-key`. A provider is checked before it
//! is saved: its model list is read with the key, so a wrong key or address is said at once
//! and nothing is kept.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_ipc::chat::{
    ATTACHMENT_LIMIT_KB_RANGE, AddProviderRequest, DEFAULT_ATTACHMENT_LIMIT_KB, ModelChoice,
    ModelInfo, ModelsOverview, ProviderKind, ProviderSummary,
};
use switchboard_ipc::{ConnectorId, ErrorCode};
use url::Url;

use super::{Endpoint, Model, ModelError, ModelErrorKind};
use crate::error::{Error, Result};
use crate::secrets::{Secret, SecretKind, SecretStore};
use crate::settings::{Entries, SettingsStore};

const KEY_MODELS: &str = "models";

/// One saved provider: what the person chose, and the model list last read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderRecord {
    id: String,
    name: String,
    kind: ProviderKind,
    base_url: String,
    has_key: bool,
    #[serde(default)]
    models: Vec<ModelInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    #[serde(default)]
    providers: Vec<ProviderRecord>,
    #[serde(default)]
    default: Option<ModelChoice>,
    /// KB of text per attachment; `None` is the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attachment_limit_kb: Option<u32>,
}

#[derive(Clone)]
pub struct Providers {
    inner: Arc<Inner>,
}

struct Inner {
    store: Box<dyn SettingsStore>,
    secrets: Arc<dyn SecretStore>,
    saved: Mutex<Saved>,
}

/// The keyring owner of a provider's key: beside the connectors' entries, never equal to
/// one (connector ids carry no `model-` prefix).
fn key_owner(id: &str) -> ConnectorId {
    ConnectorId(format!("model-{id}"))
}

/// 10240 → "10,240".
fn format_thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn unknown_provider(id: &str) -> Error {
    Error::new(
        ErrorCode::NoModel,
        "This model provider no longer exists; it may have been removed.",
    )
    .with_detail(format!("provider id {id}"))
}

/// A model failure as the window's error: its sentence, and a code the window can act on.
pub fn model_error(err: ModelError) -> Error {
    let code = match err.kind {
        ModelErrorKind::Offline => ErrorCode::Unreachable,
        ModelErrorKind::KeyRejected | ModelErrorKind::Forbidden => ErrorCode::CredentialsRejected,
        ModelErrorKind::RateLimited { .. } => ErrorCode::RateLimited,
        ModelErrorKind::ContextTooLong => ErrorCode::ContextTooLong,
        ModelErrorKind::ModelNotFound => ErrorCode::ModelNotFound,
        ModelErrorKind::Cut => ErrorCode::ReplyCut,
        ModelErrorKind::Overloaded
        | ModelErrorKind::WrongAddress
        | ModelErrorKind::ServerError
        | ModelErrorKind::BadAnswer
        | ModelErrorKind::Refused => ErrorCode::ModelRefused,
    };
    Error::new(code, err.message).with_detail(err.detail)
}

impl Providers {
    /// Reads the saved providers. An unreadable `models` entry starts empty (and is only
    /// replaced when the person saves a change), rather than costing the other settings.
    pub fn load(store: Box<dyn SettingsStore>, secrets: Arc<dyn SecretStore>) -> Result<Self> {
        let entries = store.load()?;
        let saved = match entries.get(KEY_MODELS) {
            None | Some(Value::Null) => Saved::default(),
            Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|err| {
                tracing::warn!(%err, "the saved model providers could not be read");
                Saved::default()
            }),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                secrets,
                saved: Mutex::new(saved),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Saved> {
        self.inner.saved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Saves `next` and makes it current, or changes nothing.
    fn commit(&self, next: Saved) -> Result<()> {
        let mut own = Entries::new();
        own.insert(
            KEY_MODELS.into(),
            serde_json::to_value(&next).map_err(|err| Error::internal(err.to_string()))?,
        );
        crate::settings::update(&*self.inner.store, own)?;
        *self.lock() = next;
        Ok(())
    }

    pub fn overview(&self) -> ModelsOverview {
        let saved = self.lock();
        ModelsOverview {
            providers: saved.providers.iter().map(summary).collect(),
            default: saved.default.clone(),
            attachment_limit_kb: saved
                .attachment_limit_kb
                .unwrap_or(DEFAULT_ATTACHMENT_LIMIT_KB),
        }
    }

    /// How many bytes of text one attachment may carry to the model.
    pub fn attachment_bound(&self) -> usize {
        let kb = self
            .lock()
            .attachment_limit_kb
            .unwrap_or(DEFAULT_ATTACHMENT_LIMIT_KB);
        usize::try_from(kb)
            .unwrap_or(usize::MAX)
            .saturating_mul(1024)
    }

    /// Sets how much text one attachment may carry (in KB). Outside
    /// [`ATTACHMENT_LIMIT_KB_RANGE`] it says so and changes nothing.
    pub fn set_attachment_limit(&self, kb: u32) -> Result<ModelsOverview> {
        if !ATTACHMENT_LIMIT_KB_RANGE.contains(&kb) {
            return Err(Error::new(
                ErrorCode::InvalidSetting,
                format!(
                    "Choose between {} and {} KB of text per attachment.",
                    ATTACHMENT_LIMIT_KB_RANGE.start(),
                    format_thousands(*ATTACHMENT_LIMIT_KB_RANGE.end())
                ),
            )
            .with_detail(format!("{kb} KB")));
        }
        let mut next = self.lock().clone();
        next.attachment_limit_kb = (kb != DEFAULT_ATTACHMENT_LIMIT_KB).then_some(kb);
        self.commit(next)?;
        Ok(self.overview())
    }

    /// The model a new conversation starts with: the default, or else the first model of
    /// the first provider.
    pub fn default_model(&self) -> Option<ModelChoice> {
        let saved = self.lock();
        saved.default.clone().or_else(|| {
            saved.providers.iter().find_map(|p| {
                p.models.first().map(|m| ModelChoice {
                    provider_id: p.id.clone(),
                    model: m.id.clone(),
                })
            })
        })
    }

    /// Checks the provider (its model list, read with the key) and saves it.
    pub async fn add(&self, request: AddProviderRequest) -> Result<ProviderSummary> {
        let base_url = if request.base_url.trim().is_empty() {
            request.kind.default_base_url().to_owned()
        } else {
            crate::address::check(&request.base_url)?.url
        };
        let url = Url::parse(&base_url).map_err(|err| {
            Error::new(
                ErrorCode::InvalidAddress,
                "This is not a valid web address.",
            )
            .with_detail(err.to_string())
        })?;
        let key = Some(request.key.0.trim())
            .filter(|k| !k.is_empty())
            .map(Secret::new);
        if key.is_none() && request.kind == ProviderKind::Anthropic {
            return Err(Error::new(
                ErrorCode::InvalidSignIn,
                "Enter your Anthropic API key. You can create one in the Anthropic Console.",
            ));
        }
        let model = super::connect(Endpoint {
            kind: request.kind,
            base_url: url.clone(),
            key: key.clone(),
        })?;
        let models = model.list_models().await.map_err(model_error)?;
        let name = match request.name.trim() {
            "" => match request.kind {
                ProviderKind::Anthropic => "Anthropic".to_owned(),
                ProviderKind::OpenAiCompatible => url.host_str().unwrap_or("OpenAI").to_owned(),
            },
            name => name.to_owned(),
        };
        let record = ProviderRecord {
            id: crate::settings::new_id("p"),
            name,
            kind: request.kind,
            base_url,
            has_key: key.is_some(),
            models,
        };
        if let Some(key) = &key {
            self.write_key(&record.id, key.clone()).await?;
        }
        let mut next = self.lock().clone();
        next.providers.push(record.clone());
        if next.default.is_none() {
            next.default = record.models.first().map(|m| ModelChoice {
                provider_id: record.id.clone(),
                model: m.id.clone(),
            });
        }
        if let Err(err) = self.commit(next) {
            // Nothing half-saved: the key goes with the provider that could not be kept.
            let _ = self.delete_key(&record.id).await;
            return Err(err);
        }
        Ok(summary(&record))
    }

    /// Reads the provider's model list again.
    pub async fn refresh_models(&self, id: &str) -> Result<ProviderSummary> {
        let model = self.model(id).await?;
        let models = model.list_models().await.map_err(model_error)?;
        let mut next = self.lock().clone();
        let record = next
            .providers
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| unknown_provider(id))?;
        record.models = models;
        let summary = summary(record);
        self.commit(next)?;
        Ok(summary)
    }

    /// "Check": the smallest real request to `choice`'s model.
    pub async fn check(&self, choice: &ModelChoice) -> Result<()> {
        let model = self.model(&choice.provider_id).await?;
        super::check(model.as_ref(), &choice.model)
            .await
            .map_err(model_error)
    }

    pub fn set_default(&self, choice: ModelChoice) -> Result<ModelsOverview> {
        let mut next = self.lock().clone();
        if !next.providers.iter().any(|p| p.id == choice.provider_id) {
            return Err(unknown_provider(&choice.provider_id));
        }
        next.default = Some(choice);
        self.commit(next)?;
        Ok(self.overview())
    }

    /// Replaces the key, checked first with the model list; the old key stays on failure.
    pub async fn replace_key(&self, id: &str, key: &str) -> Result<ProviderSummary> {
        let record = self.record(id)?;
        let key = Secret::new(key.trim());
        let model = super::connect(Endpoint {
            kind: record.kind,
            base_url: parse_saved(&record.base_url)?,
            key: Some(key.clone()),
        })?;
        let models = model.list_models().await.map_err(model_error)?;
        self.write_key(id, key).await?;
        let mut next = self.lock().clone();
        let saved = next
            .providers
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| unknown_provider(id))?;
        saved.has_key = true;
        saved.models = models;
        let summary = summary(saved);
        self.commit(next)?;
        Ok(summary)
    }

    /// Removes the provider and its key. A conversation that used it asks for another model.
    pub async fn remove(&self, id: &str) -> Result<ModelsOverview> {
        let mut next = self.lock().clone();
        next.providers.retain(|p| p.id != id);
        if next.default.as_ref().is_some_and(|d| d.provider_id == id) {
            next.default = None;
        }
        self.commit(next)?;
        if let Err(err) = self.delete_key(id).await {
            tracing::warn!(provider = id, %err.message, "the provider's key could not be deleted");
        }
        Ok(self.overview())
    }

    /// The adapter for a saved provider, with its key from the keyring.
    pub async fn model(&self, id: &str) -> Result<Box<dyn Model>> {
        let record = self.record(id)?;
        let key = if record.has_key {
            let secrets = self.inner.secrets.clone();
            let owner = key_owner(id);
            tokio::task::spawn_blocking(move || secrets.read(&owner, SecretKind::ApiKey))
                .await
                .map_err(|err| Error::internal(err.to_string()))??
        } else {
            None
        };
        if record.has_key && key.is_none() {
            return Err(Error::new(
                ErrorCode::CredentialsRejected,
                "The key for this model provider is missing from your system keyring. Enter it again in Settings → Models.",
            ));
        }
        super::connect(Endpoint {
            kind: record.kind,
            base_url: parse_saved(&record.base_url)?,
            key,
        })
    }

    fn record(&self, id: &str) -> Result<ProviderRecord> {
        self.lock()
            .providers
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or_else(|| unknown_provider(id))
    }

    async fn write_key(&self, id: &str, key: Secret) -> Result<()> {
        let secrets = self.inner.secrets.clone();
        let owner = key_owner(id);
        tokio::task::spawn_blocking(move || secrets.write(&owner, SecretKind::ApiKey, &key))
            .await
            .map_err(|err| Error::internal(err.to_string()))?
    }

    async fn delete_key(&self, id: &str) -> Result<()> {
        let secrets = self.inner.secrets.clone();
        let owner = key_owner(id);
        tokio::task::spawn_blocking(move || secrets.delete(&owner, SecretKind::ApiKey))
            .await
            .map_err(|err| Error::internal(err.to_string()))?
    }
}

fn summary(record: &ProviderRecord) -> ProviderSummary {
    ProviderSummary {
        id: record.id.clone(),
        name: record.name.clone(),
        kind: record.kind,
        base_url: record.base_url.clone(),
        has_key: record.has_key,
        models: record.models.clone(),
    }
}

fn parse_saved(base_url: &str) -> Result<Url> {
    Url::parse(base_url).map_err(|err| {
        Error::new(
            ErrorCode::Storage,
            "The saved address of this model provider could not be read.",
        )
        .with_detail(err.to_string())
    })
}
