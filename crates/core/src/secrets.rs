//! Secrets — OAuth tokens, client secrets, API keys, passwords — and where they live: only in
//! the operating system's keyring (Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows). Settings hold at most a mention that a secret exists.
//!
//! A [`Secret`] cannot be printed or serialized by accident: `Debug` redacts it and it has no
//! `Serialize`, so it can never end up in a log line, the settings file or an IPC response.

use switchboard_ipc::{ConnectorId, ErrorCode};

use crate::error::{Error, Result};

/// The keyring "service" every Switchboard entry is filed under: the app identifier.
pub const KEYRING_SERVICE: &str = "io.switchboard.desktop";

/// A secret value. Read it with [`Secret::expose`], only where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// What a secret is for; one keyring entry per connector and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// The OAuth token set (access, refresh, expiry), kept compact: Windows caps an entry
    /// at 2,560 bytes.
    OAuthTokens,
    OAuthClientSecret,
    ApiKey,
    Password,
}

impl SecretKind {
    fn name(self) -> &'static str {
        match self {
            Self::OAuthTokens => "oauth-tokens",
            Self::OAuthClientSecret => "oauth-client-secret",
            Self::ApiKey => "api-key",
            Self::Password => "password",
        }
    }
}

/// Where secrets are kept. Calls may block on the platform's keyring service: call them from
/// a blocking task, never on an async worker or the UI thread.
pub trait SecretStore: Send + Sync + 'static {
    fn read(&self, connector: &ConnectorId, kind: SecretKind) -> Result<Option<Secret>>;
    fn write(&self, connector: &ConnectorId, kind: SecretKind, secret: &Secret) -> Result<()>;
    /// Removing what is not there is not an error.
    fn delete(&self, connector: &ConnectorId, kind: SecretKind) -> Result<()>;
}

/// The operating system's keyring.
pub struct Keyring;

impl Keyring {
    fn entry(connector: &ConnectorId, kind: SecretKind) -> Result<keyring::Entry> {
        keyring::Entry::new(KEYRING_SERVICE, &account(connector, kind)).map_err(unavailable)
    }
}

/// The keyring account of one secret: `<connector id>/<kind>`. Never contains the secret.
pub fn account(connector: &ConnectorId, kind: SecretKind) -> String {
    format!("{connector}/{}", kind.name())
}

fn unavailable(err: keyring::Error) -> Error {
    match err {
        keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) => Error::new(
            ErrorCode::KeyringUnavailable,
            if cfg!(target_os = "linux") {
                "Switchboard keeps passwords and sign-ins only in your system keyring, and none is available. Install and unlock a keyring such as GNOME Keyring or KWallet, then try again."
            } else {
                "Switchboard keeps passwords and sign-ins only in your system keyring, and it could not be opened. Unlock it, then try again."
            },
        )
        .with_detail(err.to_string()),
        other => Error::new(
            ErrorCode::KeyringUnavailable,
            "Your system keyring refused to keep this secret.",
        )
        .with_detail(other.to_string()),
    }
}

impl SecretStore for Keyring {
    fn read(&self, connector: &ConnectorId, kind: SecretKind) -> Result<Option<Secret>> {
        match Self::entry(connector, kind)?.get_password() {
            Ok(value) => Ok(Some(Secret(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    fn write(&self, connector: &ConnectorId, kind: SecretKind, secret: &Secret) -> Result<()> {
        Self::entry(connector, kind)?
            .set_password(secret.expose())
            .map_err(unavailable)
    }

    fn delete(&self, connector: &ConnectorId, kind: SecretKind) -> Result<()> {
        match Self::entry(connector, kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }
}

/// A connector's OAuth tokens, kept by rmcp through this store in the keyring. Keyring calls
/// block, so they run on tokio's blocking pool.
pub struct KeyringCredentials {
    connector: ConnectorId,
    store: std::sync::Arc<dyn SecretStore>,
}

impl KeyringCredentials {
    pub fn new(connector: ConnectorId, store: std::sync::Arc<dyn SecretStore>) -> Self {
        Self { connector, store }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn SecretStore, &ConnectorId) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, rmcp::transport::AuthError> {
        let (store, connector) = (self.store.clone(), self.connector.clone());
        tokio::task::spawn_blocking(move || work(store.as_ref(), &connector))
            .await
            .map_err(|err| rmcp::transport::AuthError::InternalError(err.to_string()))?
            // The message names the keyring problem; it never carries the secret.
            .map_err(|err| rmcp::transport::AuthError::InternalError(err.message))
    }
}

#[async_trait::async_trait]
impl rmcp::transport::CredentialStore for KeyringCredentials {
    async fn load(
        &self,
    ) -> std::result::Result<Option<rmcp::transport::StoredCredentials>, rmcp::transport::AuthError>
    {
        let saved = self
            .blocking(|store, connector| store.read(connector, SecretKind::OAuthTokens))
            .await?;
        // Unreadable tokens are no tokens: the person signs in again, nothing else breaks.
        Ok(saved.and_then(|secret| serde_json::from_str(secret.expose()).ok()))
    }

    async fn save(
        &self,
        credentials: rmcp::transport::StoredCredentials,
    ) -> std::result::Result<(), rmcp::transport::AuthError> {
        let json = serde_json::to_string(&credentials)
            .map_err(|err| rmcp::transport::AuthError::InternalError(err.to_string()))?;
        self.blocking(move |store, connector| {
            store.write(connector, SecretKind::OAuthTokens, &Secret::new(json))
        })
        .await
    }

    async fn clear(&self) -> std::result::Result<(), rmcp::transport::AuthError> {
        self.blocking(|store, connector| store.delete(connector, SecretKind::OAuthTokens))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("sk-live-1234");
        assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret([REDACTED]))");
        assert_eq!(secret.expose(), "sk-live-1234");
    }

    #[test]
    fn accounts_name_the_connector_and_kind_only() {
        let id = ConnectorId("c42".into());
        assert_eq!(account(&id, SecretKind::OAuthTokens), "c42/oauth-tokens");
        assert_eq!(account(&id, SecretKind::ApiKey), "c42/api-key");
    }
}
