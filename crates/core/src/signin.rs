//! How a connector proves who the person is: OAuth in the browser (see [`crate::oauth`]), an
//! API key in a header, or a username and password (HTTP Basic).
//!
//! The person's choice arrives as a [`SignInChoice`] with the secrets in it; [`prepare`]
//! checks it and splits it into what is saved in the settings ([`SignInMethod`], no secret)
//! and what goes to the keyring ([`Secrets`]).

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use switchboard_ipc::{ErrorCode, SignInChoice, SignInMethod};

use crate::error::{Error, Result};
use crate::secrets::{Secret, SecretKind};

/// The header an API key goes in when the person names none: `Authorization: Bearer <key>`.
pub const DEFAULT_KEY_HEADER: &str = "Authorization";

/// Headers the protocol or HTTP itself owns: a key in one of them would break the
/// connection or let the key change what the server believes about the session.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "connection",
    "content-length",
    "content-type",
    "cookie",
    "host",
    "last-event-id",
    "mcp-protocol-version",
    "mcp-session-id",
    "mcp-method",
    "mcp-name",
    "origin",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The secrets of one choice, by the keyring entry each goes to.
pub type Secrets = Vec<(SecretKind, Secret)>;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidSignIn, message)
}

/// Checks the person's choice; returns what to save and what to keep in the keyring.
pub fn prepare(choice: SignInChoice) -> Result<(SignInMethod, Secrets)> {
    match choice {
        SignInChoice::Automatic {
            client_id,
            client_secret,
        } => {
            let client_id = client_id
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty());
            let client_secret = client_secret.filter(|s| !s.0.is_empty());
            if client_secret.is_some() && client_id.is_none() {
                return Err(invalid(
                    "A client secret needs its client ID. Enter the client ID too, or leave both empty.",
                ));
            }
            let secrets = client_secret
                .map(|s| vec![(SecretKind::OAuthClientSecret, Secret::new(s.0))])
                .unwrap_or_default();
            Ok((
                SignInMethod::Automatic {
                    client_id,
                    has_client_secret: !secrets.is_empty(),
                },
                secrets,
            ))
        }
        SignInChoice::ApiKey { header, key } => {
            let header = header
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| DEFAULT_KEY_HEADER.to_owned());
            check_header_name(&header)?;
            let key = key.0.trim().to_owned();
            if key.is_empty() {
                return Err(invalid("Enter the API key."));
            }
            check_header_value(&key, "The API key")?;
            Ok((
                SignInMethod::ApiKey { header },
                vec![(SecretKind::ApiKey, Secret::new(key))],
            ))
        }
        SignInChoice::Basic { username, password } => {
            let username = username.trim().to_owned();
            if username.is_empty() {
                return Err(invalid("Enter the username."));
            }
            if username.contains(':') {
                return Err(invalid("A username cannot contain a colon (:)."));
            }
            if username.chars().any(char::is_control) {
                return Err(invalid(
                    "The username contains characters that cannot be sent.",
                ));
            }
            if password.0.is_empty() {
                return Err(invalid("Enter the password."));
            }
            if password.0.chars().any(char::is_control) {
                return Err(invalid(
                    "The password contains characters that cannot be sent.",
                ));
            }
            Ok((
                SignInMethod::Basic { username },
                vec![(SecretKind::Password, Secret::new(password.0))],
            ))
        }
    }
}

fn check_header_name(name: &str) -> Result<()> {
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(invalid(format!(
            "\"{name}\" is not a header name. Use letters, digits and dashes, like X-API-Key."
        )));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(invalid(format!(
            "{name} is used by the connection itself and cannot carry a key. Use Authorization or a header like X-API-Key."
        )));
    }
    Ok(())
}

fn check_header_value(value: &str, what: &str) -> Result<()> {
    if HeaderValue::from_str(value).is_err() || !value.is_ascii() {
        return Err(invalid(format!(
            "{what} contains characters that cannot be sent in a header."
        )));
    }
    Ok(())
}

/// The headers that carry a key or a password on every request.
pub fn headers(method: &SignInMethod, secret: &Secret) -> Result<HeaderMap> {
    let (name, value) = match method {
        SignInMethod::ApiKey { header } => {
            let value = if header.eq_ignore_ascii_case(DEFAULT_KEY_HEADER) {
                format!("Bearer {}", secret.expose())
            } else {
                secret.expose().to_owned()
            };
            (header.as_str(), value)
        }
        SignInMethod::Basic { username } => {
            let pair = format!("{username}:{}", secret.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            (DEFAULT_KEY_HEADER, format!("Basic {encoded}"))
        }
        SignInMethod::Automatic { .. } => return Ok(HeaderMap::new()),
    };
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| invalid("The saved header name cannot be used."))?;
    let mut value = HeaderValue::from_str(&value)
        .map_err(|_| invalid("The saved key cannot be sent in a header."))?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(name, value);
    Ok(headers)
}

/// An HTTP client that sends the key or password on every request, to the connector's
/// own origin only ([`crate::web::client`]).
pub fn client(method: &SignInMethod, secret: &Secret) -> Result<reqwest::Client> {
    crate::web::client(headers(method, secret)?)
}

/// The keyring entry a method's secret lives in, if it has one the connection needs.
pub fn secret_kind(method: &SignInMethod) -> Option<SecretKind> {
    match method {
        SignInMethod::ApiKey { .. } => Some(SecretKind::ApiKey),
        SignInMethod::Basic { .. } => Some(SecretKind::Password),
        SignInMethod::Automatic { .. } => None,
    }
}

/// What the person sees when the server turns the key or password down.
pub fn rejected(method: &SignInMethod, detail: Option<String>) -> Error {
    let message = match method {
        SignInMethod::Basic { .. } => {
            "The username or password was not accepted. Check them and enter them again."
        }
        _ => "The key was not accepted. Check it and enter it again.",
    };
    let error = Error::new(ErrorCode::CredentialsRejected, message);
    match detail {
        Some(detail) => error.with_detail(detail),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_ipc::SecretInput;

    fn key(header: Option<&str>, key: &str) -> SignInChoice {
        SignInChoice::ApiKey {
            header: header.map(str::to_owned),
            key: SecretInput(key.into()),
        }
    }

    #[test]
    fn an_api_key_defaults_to_a_bearer_authorization_header() {
        let (method, secrets) = prepare(key(Some("  "), " sk-1 ")).unwrap();
        assert_eq!(
            method,
            SignInMethod::ApiKey {
                header: "Authorization".into()
            }
        );
        let headers = headers(&method, &secrets[0].1).unwrap();
        assert_eq!(headers["authorization"], "Bearer sk-1");
        assert!(headers["authorization"].is_sensitive());
    }

    #[test]
    fn a_custom_header_carries_the_key_as_is() {
        let (method, secrets) = prepare(key(Some("X-API-Key"), "k")).unwrap();
        assert_eq!(headers(&method, &secrets[0].1).unwrap()["x-api-key"], "k");
    }

    #[test]
    fn reserved_and_malformed_headers_are_refused_without_echoing_the_key() {
        for header in [
            "Mcp-Session-Id",
            "content-type",
            "Host",
            "MCP-Protocol-Version",
        ] {
            let err = prepare(key(Some(header), "secret-value")).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidSignIn, "{header}");
            assert!(err.message.contains("used by the connection"), "{err:?}");
            assert!(!format!("{err:?}").contains("secret-value"));
        }
        assert!(prepare(key(Some("X Key"), "k")).is_err());
        assert!(prepare(key(None, "")).is_err());
        assert!(prepare(key(None, "line\nbreak")).is_err());
    }

    #[test]
    fn basic_sends_the_pair_encoded() {
        let (method, secrets) = prepare(SignInChoice::Basic {
            username: " ada ".into(),
            password: SecretInput("p:w".into()),
        })
        .unwrap();
        assert_eq!(
            method,
            SignInMethod::Basic {
                username: "ada".into()
            }
        );
        // base64("ada:p:w")
        assert_eq!(
            headers(&method, &secrets[0].1).unwrap()["authorization"],
            "Basic YWRhOnA6dw=="
        );
        assert!(
            prepare(SignInChoice::Basic {
                username: "a:b".into(),
                password: SecretInput("x".into())
            })
            .is_err()
        );
    }

    #[test]
    fn a_client_secret_needs_a_client_id() {
        assert!(
            prepare(SignInChoice::Automatic {
                client_id: None,
                client_secret: Some(SecretInput("s".into()))
            })
            .is_err()
        );
        let (method, secrets) = prepare(SignInChoice::Automatic {
            client_id: Some(" my-app ".into()),
            client_secret: Some(SecretInput("s".into())),
        })
        .unwrap();
        assert_eq!(
            method,
            SignInMethod::Automatic {
                client_id: Some("my-app".into()),
                has_client_secret: true
            }
        );
        assert_eq!(secrets[0].0, SecretKind::OAuthClientSecret);
    }
}
