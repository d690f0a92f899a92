//! OAuth sign-in to a remote MCP server (MCP authorization), on rmcp's `auth` module.
//!
//! rmcp does discovery, PKCE S256, client registration, `resource` indicators, the code
//! exchange with its `state` and `iss` checks, refresh and scope upgrades. This module
//! decides what rmcp leaves open, and says where:
//! - the client identity: the person's own client id (and secret) → dynamic registration
//!   ([`OAuth::sign_in`]). Switchboard hosts no Client ID Metadata Document, so it offers
//!   none, even to servers that support them;
//! - what a server's sign-in names is checked before it is used ([`discover`]): endpoints
//!   rmcp would guess when the server published no metadata (`/authorize`, `/token`) are
//!   refused; metadata must carry its `issuer` and list PKCE S256 (rmcp only warns); the
//!   authorization, token, registration and revocation endpoints must be https (see
//!   [`crate::web`]). Tokens saved earlier are used only with metadata that passes the same
//!   checks and names the issuer they came from;
//! - every request of the sign-in goes through [`SignInHttp`], which checks its address as
//!   it leaves, whatever metadata named it;
//! - a redirect that carries `error=` is read before rmcp sees it (rmcp would only say
//!   "missing code"), so "you declined" reads as such;
//! - scope upgrades are capped per operation ([`MAX_AUTHORIZATIONS`]).

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use rmcp::transport::auth::{
    AuthorizationCallback, AuthorizationMetadata, AuthorizationMetadataSource, OAuthClientConfig,
};
use rmcp::transport::{AuthClient, AuthError, AuthorizationManager, CredentialStore};
use switchboard_ipc::ErrorCode;
use url::Url;

use crate::error::{Error, Result};
use crate::redirect::{Outcome, Redirect};
use crate::secrets::Secret;
use crate::web::{self, SignInAddress, SignInHttp};

/// The HTTP client of a signed-in session: adds the bearer token, refreshes it.
pub type AuthorizedClient = AuthClient<reqwest::Client>;

/// How many times one operation may send the person to the browser before giving up.
pub const MAX_AUTHORIZATIONS: u32 = 3;

/// Who Switchboard is to a server's authorization server: the person's own pre-registered
/// client (Advanced settings), or, without one, whatever dynamic registration gives it.
#[derive(Clone, Debug, Default)]
pub struct ClientIdentity {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
}

/// Opens the authorization page and returns the full URL the browser was sent back to.
/// In the app that is the person's browser and a deep link (or loopback page); in the
/// conformance client it follows the authorization server's redirect itself.
#[async_trait]
pub trait Browser: Send + Sync {
    /// Where the authorization server is to send the browser back to.
    async fn redirect_uri(&self) -> Result<String>;
    async fn authorize(&self, authorization_url: &str) -> Result<String>;
}

enum AuthorizationStart {
    /// Dynamic registration refused: perhaps this redirect URI, so try another.
    RegistrationRefused(Error),
    Failed(Error),
}

pub(crate) fn sign_in_failed(err: &AuthError) -> Error {
    // A request refused on its way out says why in its own words.
    if let Some(web::Refused(refusal)) = crate::diagnose::find::<web::Refused>(err) {
        return refusal.clone();
    }
    let message = match err {
        AuthError::RegistrationFailed(_) => {
            "The server's sign-in service would not register Switchboard. It may need a client ID: add one under Advanced settings."
        }
        AuthError::TokenExchangeFailed(_) => {
            "Signing in did not finish: the server did not accept the sign-in. Try again."
        }
        AuthError::NoAuthorizationSupport => "This server does not offer a way to sign in.",
        AuthError::DiscoveryRequestFailed { .. }
        | AuthError::AuthorizationServersUnavailable { .. }
        | AuthError::HttpError(_) => {
            "Switchboard could not reach the server's sign-in service. Try again later, or tell the server's owner."
        }
        AuthError::ProtectedResourceMetadataInvalid { .. }
        | AuthError::MetadataError(_)
        | AuthError::AuthorizationServerMismatch { .. }
        | AuthError::AuthorizationServerMissingIssuer { .. } => {
            "The server's sign-in is set up in a way Switchboard cannot trust, so it did not sign in. Tell the server's owner."
        }
        _ => "Signing in did not work. Try again, or check the details.",
    };
    Error::new(ErrorCode::SignInFailed, message).with_detail(err.to_string())
}

/// The sign-in state of one connector: rmcp's authorization manager behind a client that
/// sessions use for every request.
pub struct OAuth {
    client: AuthorizedClient,
    /// The scopes of the saved sign-in: signing in again (after a 403
    /// `insufficient_scope` named one more) asks for them too, so nothing granted is lost
    /// (SEP-2350: the union).
    granted: Vec<String>,
    /// The connector's own address: what its sign-in addresses are judged against.
    connector: Url,
}

impl OAuth {
    /// Prepares sign-in for the server at `url`, with tokens kept in `store`. Tokens saved by
    /// an earlier sign-in are loaded, so a restart needs no browser.
    ///
    /// Saved tokens are used only with metadata that passes the checks of a fresh sign-in
    /// ([`discover`]) and names the issuer the tokens came from; otherwise they are dropped
    /// and the server's refusal asks the person to sign in again.
    pub async fn new(url: &str, store: impl CredentialStore + 'static) -> Result<Self> {
        let connector = Url::parse(url).map_err(|err| Error::internal(err.to_string()))?;
        let mut manager = AuthorizationManager::new_with_oauth_http_client(
            url,
            Arc::new(SignInHttp::new(&connector)?),
        )
        .await
        .map_err(|err| sign_in_failed(&err))?;
        let saved = store.load().await.map_err(|err| sign_in_failed(&err))?;
        let mut granted = Vec::new();
        if let Some(saved) = saved.filter(|saved| saved.token_response.is_some()) {
            granted.clone_from(&saved.granted_scopes);
            let metadata = discover(&manager, None, &connector).await?;
            if saved.issuer.is_some() && saved.issuer == metadata.issuer {
                manager.set_metadata(metadata);
            } else {
                // Tokens are bound to the issuer that minted them; one that is not named
                // (or not this one) gets no refresh here and no more use.
                tracing::info!(
                    saved = ?saved.issuer,
                    now = ?metadata.issuer,
                    "the saved sign-in is not from this server's issuer; dropping it"
                );
                store.clear().await.map_err(|err| sign_in_failed(&err))?;
                granted.clear();
            }
        }
        manager.set_credential_store(store);
        manager
            .initialize_from_store()
            .await
            .map_err(|err| sign_in_failed(&err))?;
        Ok(Self {
            client: AuthClient::new(web::client(HeaderMap::new())?, manager),
            connector,
            granted,
        })
    }

    /// The client to connect sessions with.
    pub fn client(&self) -> AuthorizedClient {
        self.client.clone()
    }

    /// Signs in after the server answered 401 with `challenge`, through the first of
    /// `browsers` whose redirect the server accepts: when dynamic registration refuses one
    /// redirect URI (a provider that takes no custom-scheme links, say), the next is tried.
    pub async fn sign_in(
        &self,
        challenge: &str,
        identity: &ClientIdentity,
        browsers: &[&dyn Browser],
    ) -> Result<()> {
        let mut last_refusal = None;
        for browser in browsers {
            let redirect_uri = browser.redirect_uri().await?;
            match self
                .authorization_url(challenge, identity, &redirect_uri)
                .await
            {
                Ok(authorization_url) => {
                    return self
                        .finish(browser.authorize(&authorization_url).await?)
                        .await;
                }
                Err(AuthorizationStart::RegistrationRefused(err)) => {
                    tracing::info!(%redirect_uri, "registration refused this redirect; trying the next");
                    last_refusal = Some(err);
                }
                Err(AuthorizationStart::Failed(err)) => return Err(err),
            }
        }
        Err(last_refusal.unwrap_or_else(|| Error::internal("no way to receive the sign-in")))
    }

    /// Discovery, the client identity and the authorization URL for one redirect URI.
    async fn authorization_url(
        &self,
        challenge: &str,
        identity: &ClientIdentity,
        redirect_uri: &str,
    ) -> std::result::Result<String, AuthorizationStart> {
        let failed = |err: AuthError| AuthorizationStart::Failed(sign_in_failed(&err));
        let mut manager = self.client.auth_manager.lock().await;
        let metadata = discover(&manager, Some(challenge), &self.connector)
            .await
            .map_err(AuthorizationStart::Failed)?;
        manager.set_metadata(metadata);
        let mut scopes = manager.select_initial_scopes(&[]).await;
        for scope in &self.granted {
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
        if let Some(client_id) = &identity.client_id {
            let mut config = OAuthClientConfig::new(client_id, redirect_uri);
            if let Some(secret) = &identity.client_secret {
                config = config.with_client_secret(secret.expose());
            }
            manager.configure_client(config).map_err(failed)?;
        } else {
            // rmcp reports a refused redirect URI only as registration failure text, so any
            // refused registration counts: the next redirect may still be accepted.
            manager
                .register_client("Switchboard", redirect_uri, &scopes)
                .await
                .map_err(|err| match err {
                    AuthError::RegistrationFailed(_) => {
                        AuthorizationStart::RegistrationRefused(sign_in_failed(&err))
                    }
                    other => failed(other),
                })?;
        }
        manager.get_authorization_url(&scopes).await.map_err(failed)
    }

    /// Asks for more access after a 403 `insufficient_scope` naming `required_scope`.
    pub async fn step_up(&self, required_scope: &str, browser: &dyn Browser) -> Result<()> {
        let authorization_url = self
            .client
            .auth_manager
            .lock()
            .await
            .request_scope_upgrade(required_scope)
            .await
            .map_err(|err| sign_in_failed(&err))?;
        self.finish(browser.authorize(&authorization_url).await?)
            .await
    }

    /// Exchanges the code the browser brought back; rmcp checks `state` and `iss`.
    async fn finish(&self, returned_to: String) -> Result<()> {
        if let Ok(redirect) = Redirect::parse(&returned_to)
            && let Outcome::Refused { error, description } = redirect.outcome
        {
            return Err(Error::new(
                ErrorCode::SignInFailed,
                if error == "access_denied" {
                    "Sign-in was declined in the browser.".to_owned()
                } else {
                    "The server's sign-in page refused the sign-in.".to_owned()
                },
            )
            .with_detail(match description {
                Some(description) => format!("{error}: {description}"),
                None => error,
            }));
        }
        let callback = AuthorizationCallback::from_redirect_url(&returned_to)
            .map_err(|err| sign_in_failed(&err))?;
        self.client
            .auth_manager
            .lock()
            .await
            .exchange_code_for_token_with_issuer(
                &callback.code,
                &callback.csrf_token,
                callback.issuer.as_deref(),
            )
            .await
            .map_err(|err| sign_in_failed(&err))?;
        Ok(())
    }
}

/// Finds where the server signs people in, and refuses what cannot be trusted: endpoints
/// guessed because the server published no metadata, metadata without its `issuer` or
/// without PKCE S256, and endpoints that are not https ([`web::check_sign_in_address`]).
async fn discover(
    manager: &AuthorizationManager,
    challenge: Option<&str>,
    connector: &Url,
) -> Result<AuthorizationMetadata> {
    let resolved = manager
        .resolve_metadata_from_challenge(challenge)
        .await
        .map_err(|err| sign_in_failed(&err))?;
    if resolved.source == AuthorizationMetadataSource::LegacyEndpointFallback {
        return Err(Error::new(
            ErrorCode::SignInFailed,
            "This server asks for sign-in but does not say where, so Switchboard did not sign in. Ask the server's owner.",
        )
        .with_detail("The server publishes no authorization server metadata (RFC 9728, RFC 8414 or OpenID Connect discovery); Switchboard does not guess its endpoints."));
    }
    let metadata = resolved.metadata;
    let untrusted = |detail: &str| {
        Error::new(
            ErrorCode::SignInFailed,
            "The server's sign-in is set up in a way Switchboard cannot trust, so it did not sign in. Tell the server's owner.",
        )
        .with_detail(detail.to_owned())
    };
    if metadata.issuer.as_deref().is_none_or(str::is_empty) {
        return Err(untrusted(
            "The authorization server metadata does not name its issuer.",
        ));
    }
    let lists_s256 = metadata
        .code_challenge_methods_supported
        .as_ref()
        .is_some_and(|methods| methods.iter().any(|m| m == "S256"));
    if !lists_s256 {
        return Err(Error::new(
            ErrorCode::SignInFailed,
            "This server's sign-in does not support the protection Switchboard requires (PKCE), so Switchboard did not sign in.",
        )
        .with_detail("The authorization server metadata does not list S256 in code_challenge_methods_supported."));
    }
    let revocation = metadata
        .additional_fields
        .get("revocation_endpoint")
        .map(|value| value.as_str().unwrap_or_default());
    for (address, what) in [
        (
            Some(metadata.authorization_endpoint.as_str()),
            SignInAddress::AuthorizationEndpoint,
        ),
        (
            Some(metadata.token_endpoint.as_str()),
            SignInAddress::TokenEndpoint,
        ),
        (
            metadata.registration_endpoint.as_deref(),
            SignInAddress::RegistrationEndpoint,
        ),
        (revocation, SignInAddress::RevocationEndpoint),
    ] {
        if let Some(address) = address {
            web::check_sign_in_address(address, what, connector)?;
        }
    }
    Ok(metadata)
}
