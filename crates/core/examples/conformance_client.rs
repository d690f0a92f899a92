//! A headless MCP client built from Switchboard's core, for the official conformance suite
//! (`@modelcontextprotocol/conformance`): `conformance client --command <this> --suite auth`.
//!
//! It does what the app does — connect, sign in on 401 as the app would (the person's own
//! client when the scenario pre-registers one, else dynamic registration; no Client ID
//! Metadata Document, as the app hosts none), list the tools and call each with arguments
//! made up from its schema, as a model would fill them in — with the same
//! `Session` and `OAuth` code. What differs: the "browser" follows the authorization
//! server's redirect itself instead of showing a page, tokens are kept in memory instead of
//! the keyring, a server's questions are answered with the form's defaults, and a 403 `insufficient_scope` on a tool call asks for more access
//! (`OAuth::step_up`), which the app's window has no use for until the chat calls tools. Usage: `<this> <server-url>`,
//! with `MCP_CONFORMANCE_CONTEXT` (JSON) carrying a pre-registered client when a scenario
//! has one.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rmcp::transport::{AuthError, CredentialStore, StoredCredentials};
use switchboard_core::ask::{self, Asker};
use switchboard_core::oauth::{Browser, ClientIdentity, MAX_AUTHORIZATIONS, OAuth};
use switchboard_core::secrets::Secret;
use switchboard_core::session::{ConnectError, Powers};
use switchboard_core::{Error, ErrorCode, Session, Timeouts};
use switchboard_ipc::ask::{Answer, QuestionKind};

/// One connector's redirect, as the app gives each its own (`/oauth/callback/<connector>`).
const REDIRECT_URI: &str = "http://127.0.0.1:53682/oauth/callback/conformance";

#[derive(Clone, Default)]
struct MemoryCredentials(Arc<Mutex<Option<StoredCredentials>>>);

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        Ok(self.0.lock().map(|c| c.clone()).unwrap_or_default())
    }
    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(credentials);
        }
        Ok(())
    }
    async fn clear(&self) -> Result<(), AuthError> {
        if let Ok(mut slot) = self.0.lock() {
            *slot = None;
        }
        Ok(())
    }
}

/// Stands in for the person's browser: the mock authorization endpoint answers with an
/// immediate redirect that carries the code, so reading `Location` is the whole visit.
struct FollowRedirect(reqwest::Client);

#[async_trait]
impl Browser for FollowRedirect {
    async fn redirect_uri(&self) -> switchboard_core::Result<String> {
        Ok(REDIRECT_URI.to_owned())
    }

    async fn authorize(&self, authorization_url: &str) -> switchboard_core::Result<String> {
        let response = self
            .0
            .get(authorization_url)
            .send()
            .await
            .map_err(|err| Error::internal(err.to_string()))?;
        response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Error::internal("the authorization endpoint did not redirect"))
    }
}

/// `scope="…"` from a `WWW-Authenticate` challenge.
fn required_scope(challenge: &str) -> String {
    challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

struct Client {
    oauth: OAuth,
    identity: ClientIdentity,
    browser: FollowRedirect,
    authorizations: u32,
}

impl Client {
    /// Answers a refusal: sign in, or ask for more access. Fails past the cap.
    async fn authorize(
        &mut self,
        code: ErrorCode,
        challenge: &str,
    ) -> switchboard_core::Result<()> {
        self.authorizations += 1;
        if self.authorizations > MAX_AUTHORIZATIONS {
            return Err(Error::new(
                ErrorCode::SignInFailed,
                "The server kept asking to sign in; Switchboard stopped trying.",
            ));
        }
        if code == ErrorCode::NeedsMoreAccess {
            self.oauth
                .step_up(&required_scope(challenge), &self.browser)
                .await
        } else {
            self.oauth
                .sign_in(challenge, &self.identity, &[&self.browser])
                .await
        }
    }
}

/// What a model would pass a tool, here made up from its input schema: each required
/// argument gets its default, its first allowed value, or a value of its type (text with
/// accents and spaces, which a header cannot carry as it is). A
/// `schema` object argument gets the input schema of the tool its description names, as
/// received (how the suite sees what a client kept of a schema it was sent).
fn arguments(
    schema: &serde_json::Value,
    tools: &[switchboard_ipc::ToolInfo],
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{Value, json};
    let named_schema = |property: &Value| {
        let description = property["description"].as_str().unwrap_or_default();
        tools
            .iter()
            .find(|tool| description.contains(tool.name.as_str()))
            .map_or_else(|| schema.clone(), |tool| tool.input_schema.clone())
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return serde_json::Map::new();
    };
    properties
        .iter()
        .filter(|(name, _)| required.contains(&name.as_str()))
        .map(|(name, property)| {
            let value = if let Some(default) = property.get("default") {
                default.clone()
            } else if let Some(first) = property["enum"].as_array().and_then(|e| e.first()) {
                first.clone()
            } else {
                match property["type"].as_str() {
                    Some("object") if name == "schema" => named_schema(property),
                    Some("object") => json!({}),
                    Some("array") => json!([]),
                    Some("integer") => json!(2),
                    Some("number") => json!(1.5),
                    Some("boolean") => json!(true),
                    // Not plain ASCII, so every text a header carries needs encoding.
                    _ => json!("Grüße aus Zürich"),
                }
            };
            (name.clone(), value)
        })
        .collect()
}

/// A person who accepts each form the server sends as it came filled in (its defaults, what
/// the suite's `elicitation-sep1034-client-defaults` checks), and opens no page.
fn accept_defaults() -> Asker {
    Arc::new(|asked| {
        Box::pin(async move {
            match asked.kind {
                QuestionKind::Form { fields } => Answer::Accept {
                    content: ask::defaults(&fields),
                },
                QuestionKind::Page { .. } | QuestionKind::Sampling { .. } => Answer::Decline,
            }
        })
    })
}

async fn run(url: &str) -> switchboard_core::Result<()> {
    let context: serde_json::Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let identity = ClientIdentity {
        client_id: context["client_id"].as_str().map(str::to_owned),
        client_secret: context["client_secret"].as_str().map(Secret::new),
    };
    let browser = FollowRedirect(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| Error::internal(err.to_string()))?,
    );
    let oauth = OAuth::new(url, MemoryCredentials::default()).await?;
    let mut client = Client {
        oauth,
        identity,
        browser,
        authorizations: 0,
    };

    let session = loop {
        match Session::connect_asking(
            url,
            Timeouts::default(),
            client.oauth.client(),
            None,
            Powers {
                asker: Some(accept_defaults()),
                elicitation: true,
                sampling: None,
            },
        )
        .await
        {
            Ok(session) => break session,
            Err(ConnectError {
                error,
                challenge: Some(challenge),
            }) => client.authorize(error.code, &challenge).await?,
            Err(ConnectError { error, .. }) => return Err(error),
        }
    };
    let catalog = loop {
        match session.catalog().await {
            Ok(catalog) => break catalog,
            Err(error) => match session.take_challenge() {
                Some(challenge) => client.authorize(error.code, &challenge).await?,
                None => return Err(error),
            },
        }
    };
    for tool in &catalog.tools {
        loop {
            match session
                .call_tool(&tool.name, arguments(&tool.input_schema, &catalog.tools))
                .await
            {
                Ok(_) => break,
                Err(error) => match session.take_challenge() {
                    Some(challenge) => client.authorize(error.code, &challenge).await?,
                    // A tool that fails for its own reasons is the tool's business.
                    None => break,
                },
            }
        }
    }
    session.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Some(url) = std::env::args().skip(1).last() else {
        eprintln!("usage: conformance_client <server-url>");
        return std::process::ExitCode::from(2);
    };
    match run(&url).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{:?}: {}", err.code, err.message);
            if let Some(detail) = err.detail {
                eprintln!("  {detail}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
