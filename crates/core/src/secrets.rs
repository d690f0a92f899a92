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
///
/// Windows' Credential Manager holds at most 2,560 bytes per entry (UTF-16, so 1,280
/// characters), less than a token set with a JWT access token. A secret longer than the
/// platform's limit is split: the entry holds [`CHUNKED`] and the count, and the pieces go
/// to entries `<account>#1`, `#2`, …. Other platforms have room, so there it never splits.
pub struct Keyring {
    /// The most UTF-16 code units one entry takes.
    limit: usize,
}

/// The start of an entry whose secret is split over numbered entries.
const CHUNKED: &str = "\u{1}switchboard-chunks:";

/// Credential Manager's cap (`CRED_MAX_CREDENTIAL_BLOB_SIZE`, 2,560 bytes) in UTF-16 units,
/// with room to spare.
const WINDOWS_LIMIT: usize = 1_200;

impl Default for Keyring {
    fn default() -> Self {
        Self {
            limit: if cfg!(windows) {
                WINDOWS_LIMIT
            } else {
                usize::MAX
            },
        }
    }
}

impl Keyring {
    /// A keyring that splits secrets longer than `limit` UTF-16 units (tests use this to
    /// check splitting where the platform would not need it).
    pub fn with_limit(limit: usize) -> Self {
        Self {
            limit: limit.max(CHUNKED.len() + 8),
        }
    }

    fn entry(account: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(KEYRING_SERVICE, account).map_err(unavailable)
    }

    fn get(account: &str) -> Result<Option<String>> {
        match Self::entry(account)?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    fn set(account: &str, value: &str) -> Result<()> {
        Self::entry(account)?
            .set_password(value)
            .map_err(unavailable)
    }

    fn remove(account: &str) -> Result<()> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// How many pieces the entry at `account` was split into (0: not split).
    fn pieces(value: &str) -> usize {
        value
            .strip_prefix(CHUNKED)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    fn remove_pieces(account: &str, from: usize, to: usize) -> Result<()> {
        (from..=to).try_for_each(|n| Self::remove(&format!("{account}#{n}")))
    }
}

/// Cuts `value` into pieces of at most `limit` UTF-16 units, never inside a character.
fn split(value: &str, limit: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut start, mut units) = (0, 0);
    for (at, c) in value.char_indices() {
        if units + c.len_utf16() > limit {
            pieces.push(&value[start..at]);
            (start, units) = (at, 0);
        }
        units += c.len_utf16();
    }
    pieces.push(&value[start..]);
    pieces
}

/// The keyring account of one secret: `<connector id>/<kind>`. Never contains the secret.
pub fn account(connector: &ConnectorId, kind: SecretKind) -> String {
    format!("{connector}/{}", kind.name())
}

fn unavailable(err: keyring::Error) -> Error {
    let said = err.to_string().to_ascii_lowercase();
    if matches!(err, keyring::Error::NoStorageAccess(_))
        && (said.contains("prompt dismissed") || said.contains("locked"))
    {
        // The keyring is there but stayed locked: its unlock prompt was dismissed, or none
        // could be shown.
        return Error::new(
            ErrorCode::KeyringUnavailable,
            "Your system keyring is locked, so Switchboard kept nothing. Unlock it when your system asks (or sign in to your computer again), then try again.",
        )
        .with_detail(err.to_string());
    }
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
        let account = account(connector, kind);
        let Some(value) = Self::get(&account)? else {
            return Ok(None);
        };
        let pieces = Self::pieces(&value);
        if pieces == 0 {
            return Ok(Some(Secret(value)));
        }
        let mut whole = String::new();
        for n in 1..=pieces {
            match Self::get(&format!("{account}#{n}"))? {
                Some(piece) => whole.push_str(&piece),
                // A piece went missing: the secret is unusable, as if it were not there.
                None => return Ok(None),
            }
        }
        Ok(Some(Secret(whole)))
    }

    fn write(&self, connector: &ConnectorId, kind: SecretKind, secret: &Secret) -> Result<()> {
        let account = account(connector, kind);
        let before = Self::get(&account)?.map_or(0, |v| Self::pieces(&v));
        let value = secret.expose();
        let pieces = if value.encode_utf16().count() <= self.limit && !value.starts_with(CHUNKED) {
            Self::set(&account, value)?;
            0
        } else {
            let pieces = split(value, self.limit);
            for (n, piece) in pieces.iter().enumerate() {
                Self::set(&format!("{account}#{}", n + 1), piece)?;
            }
            Self::set(&account, &format!("{CHUNKED}{}", pieces.len()))?;
            pieces.len()
        };
        // Pieces of a longer secret written before are stale now.
        Self::remove_pieces(&account, pieces + 1, before)
    }

    fn delete(&self, connector: &ConnectorId, kind: SecretKind) -> Result<()> {
        let account = account(connector, kind);
        let pieces = Self::get(&account)?.map_or(0, |v| Self::pieces(&v));
        Self::remove(&account)?;
        Self::remove_pieces(&account, 1, pieces)
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
    fn long_secrets_split_on_character_boundaries_within_the_limit() {
        let value = "ab€𝄞".repeat(100);
        for limit in [3, 7, 64] {
            let pieces = split(&value, limit);
            assert_eq!(pieces.concat(), value);
            assert!(
                pieces
                    .iter()
                    .all(|p| !p.is_empty() && p.encode_utf16().count() <= limit)
            );
        }
        assert_eq!(split("short", 64), vec!["short"]);
    }

    #[test]
    fn accounts_name_the_connector_and_kind_only() {
        let id = ConnectorId("c42".into());
        assert_eq!(account(&id, SecretKind::OAuthTokens), "c42/oauth-tokens");
        assert_eq!(account(&id, SecretKind::ApiKey), "c42/api-key");
    }
}
