//! How the browser hands a sign-in back to Switchboard (RFC 8252): a link to the app's own
//! scheme (`io.switchboard.desktop:/oauth/callback/<connector>?…`), or — when a provider
//! refuses such links — a one-shot page on 127.0.0.1 at a port the system picked.
//!
//! Either way the answer is only accepted for a sign-in Switchboard started: its `state`
//! must be one we handed out, not used before, and not older than [`SIGN_IN_PATIENCE`].
//! Anything else is "This sign-in link is not from Switchboard".
//!
//! Each connector's sign-in has a redirect of its own (RFC 9700 §4.4.2: one redirect URI
//! per authorization server), and an answer must come back on the redirect of the sign-in
//! whose `state` it carries. A server that forwards the person's browser to another
//! connector's authorization server (a mix-up attack) gets that server's answer delivered
//! to the other connector's redirect, where it is refused, and never sees its code.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use switchboard_ipc::{ConnectorId, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use url::Url;

use crate::error::{Error, Result};

/// Where every redirect's path starts, for the app link and the loopback page alike; the
/// connector's id follows ([`callback_path`]).
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// The redirect path of one connector's sign-ins: `/oauth/callback/<connector>`.
pub fn callback_path(connector: &ConnectorId) -> String {
    format!("{CALLBACK_PATH}/{connector}")
}

/// How long the loopback page waits for a browser to finish sending its request.
const REQUEST_PATIENCE: Duration = Duration::from_secs(10);

/// How long a sign-in may stay open in the browser before it is dropped.
pub const SIGN_IN_PATIENCE: Duration = Duration::from_secs(10 * 60);

/// What the authorization server sent back, parsed from the redirect's query.
#[derive(Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The connector whose redirect this came back on.
    pub connector: ConnectorId,
    pub state: String,
    pub outcome: Outcome,
    /// RFC 9207 issuer identification, when the server sends it.
    pub issuer: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Outcome {
    Code(String),
    /// The server said no (`error`, `error_description`), e.g. the person declined.
    Refused {
        error: String,
        description: Option<String>,
    },
}

// The code is a credential until exchanged, the state a key to it: keep both out of logs.
impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(_) => f.write_str("Code([REDACTED])"),
            Self::Refused { error, description } => f
                .debug_struct("Refused")
                .field("error", error)
                .field("description", description)
                .finish(),
        }
    }
}

impl std::fmt::Debug for Redirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redirect")
            .field("connector", &self.connector)
            .field("state", &"[REDACTED]")
            .field("outcome", &self.outcome)
            .field("issuer", &self.issuer)
            .finish()
    }
}

fn not_ours(detail: &str) -> Error {
    Error::new(
        ErrorCode::Protocol,
        "This sign-in link is not from Switchboard, so it was ignored.",
    )
    .with_detail(detail.to_owned())
}

/// A link that is no sign-in callback at all.
fn unrecognised() -> Error {
    Error::new(
        ErrorCode::Protocol,
        "Switchboard was opened with a link it does not recognise, so it did nothing.",
    )
}

impl Redirect {
    /// Parses a redirect: an app link or the loopback page's full URL. A link that is not a
    /// sign-in callback at all says so; a callback that cannot be ours is "not from
    /// Switchboard".
    pub fn parse(link: &str) -> Result<Self> {
        let url = Url::parse(link).map_err(|_| unrecognised())?;
        let Some(rest) = url.path().strip_prefix(CALLBACK_PATH) else {
            return Err(unrecognised());
        };
        let connector = rest
            .strip_prefix('/')
            .filter(|id| {
                !id.is_empty()
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .ok_or_else(|| not_ours("the link is not the redirect of any connector"))?;
        let connector = ConnectorId(connector.to_owned());
        let mut fields: HashMap<String, String> = HashMap::new();
        for (key, value) in url.query_pairs() {
            // A repeated parameter is a forgery or a broken server; never pick one.
            if fields.insert(key.to_string(), value.to_string()).is_some() {
                return Err(not_ours(&format!("the parameter {key} appears twice")));
            }
        }
        let state = fields
            .remove("state")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| not_ours("the link carries no state"))?;
        let issuer = fields.remove("iss");
        let outcome = match (fields.remove("code"), fields.remove("error")) {
            (Some(code), None) if !code.is_empty() => Outcome::Code(code),
            (None, Some(error)) => Outcome::Refused {
                error,
                description: fields.remove("error_description"),
            },
            _ => return Err(not_ours("the link carries neither a code nor an error")),
        };
        Ok(Self {
            connector,
            state,
            outcome,
            issuer,
        })
    }
}

/// The sign-ins waiting for their redirect, by `state`, each with `W`: whatever hands the
/// redirect to the sign-in that waits for it.
pub struct PendingSignIns<W = ()> {
    waiting: HashMap<String, (ConnectorId, Instant, W)>,
}

impl<W> Default for PendingSignIns<W> {
    fn default() -> Self {
        Self {
            waiting: HashMap::new(),
        }
    }
}

impl<W> PendingSignIns<W> {
    /// Remembers a sign-in that was just sent to the browser.
    pub fn begin(&mut self, state: String, connector: ConnectorId, now: Instant, waiter: W) {
        self.expire(now);
        self.waiting.insert(state, (connector, now, waiter));
    }

    /// Takes the sign-in a redirect answers. Each state works once: a second use, an
    /// unknown state or an expired one is refused. A redirect that carries one connector's
    /// state but came back on another's redirect ends that sign-in: its authorization
    /// server sent the browser to a different one ([`Refused::stopped`]).
    pub fn claim(
        &mut self,
        redirect: &Redirect,
        now: Instant,
    ) -> std::result::Result<(ConnectorId, W), Refused<W>> {
        self.expire(now);
        let Some((connector, _, waiter)) = self.waiting.remove(&redirect.state) else {
            return Err(Refused {
                error: not_ours("no sign-in is waiting for this state (unknown, used, or expired)"),
                stopped: None,
            });
        };
        if connector != redirect.connector {
            return Err(Refused {
                error: Error::new(
                    ErrorCode::SignInFailed,
                    "The sign-in came back from a different sign-in service than the one this server named, so Switchboard stopped it. Someone may be trying to intercept your sign-in.",
                )
                .with_detail(format!(
                    "The answer for this connector's sign-in arrived on the redirect of connector {}.",
                    redirect.connector
                )),
                stopped: Some((connector, waiter)),
            });
        }
        Ok((connector, waiter))
    }

    /// Drops one connector's waiting sign-in (Cancel, or a new attempt).
    pub fn cancel(&mut self, connector: &ConnectorId) {
        self.waiting
            .retain(|_, (waiting, _, _)| waiting != connector);
    }

    pub fn is_waiting(&self, connector: &ConnectorId) -> bool {
        self.waiting
            .values()
            .any(|(waiting, _, _)| waiting == connector)
    }

    fn expire(&mut self, now: Instant) {
        self.waiting.retain(|_, (_, started, _)| {
            now.saturating_duration_since(*started) < SIGN_IN_PATIENCE
        });
    }
}

/// A redirect [`PendingSignIns::claim`] did not accept.
pub struct Refused<W> {
    pub error: Error,
    /// The sign-in the redirect's state belonged to, now ended, when it came back on the
    /// wrong connector's redirect: tell it why.
    pub stopped: Option<(ConnectorId, W)>,
}

/// The page the browser shows once the redirect reached the app.
const DONE_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchboard</title>\
<style>body{font:16px system-ui,sans-serif;display:grid;place-items:center;height:90vh;margin:0;color:#1f2330}\
main{text-align:center}h1{font-size:20px}</style></head><body><main><h1>You're signed in</h1>\
<p>You can close this tab and go back to Switchboard.</p></main></body></html>";

/// A one-shot redirect page on 127.0.0.1 (RFC 8252 §7.3), for providers that refuse the
/// app's own scheme. Each connection is served on its own task and gets
/// [`REQUEST_PATIENCE`] to send its request, so another local program holding a connection
/// open cannot keep the browser's answer waiting.
pub struct Loopback {
    listener: TcpListener,
    port: u16,
    connector: ConnectorId,
}

impl Loopback {
    /// Listens on 127.0.0.1 at a port the system picks, for `connector`'s sign-in.
    pub async fn bind(connector: ConnectorId) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|err| {
            Error::new(
                ErrorCode::Internal,
                "Switchboard could not open a sign-in page on this computer.",
            )
            .with_detail(err.to_string())
        })?;
        let port = listener
            .local_addr()
            .map_err(|err| Error::internal(err.to_string()))?
            .port();
        Ok(Self {
            listener,
            port,
            connector,
        })
    }

    /// The redirect URI to register and send: `http://127.0.0.1:<port>/oauth/callback/<id>`.
    pub fn redirect_uri(&self) -> String {
        format!(
            "http://127.0.0.1:{}{}",
            self.port,
            callback_path(&self.connector)
        )
    }

    /// Waits for the browser to arrive at the callback for `state`, answers it with a "you
    /// can close this tab" page, and returns the full URL it arrived at. Other requests (a
    /// favicon, a stray tab, another state or connector) get a 404 and the wait goes on.
    pub async fn receive(&self, state: &str) -> Result<String> {
        let (arrivals, mut arrived) = mpsc::channel::<String>(1);
        let mut connections = JoinSet::new();
        loop {
            // Connections that finished leave the set.
            while connections.try_join_next().is_some() {}
            tokio::select! {
                Some(url) = arrived.recv() => return Ok(url),
                accepted = self.listener.accept() => {
                    let (stream, _) = accepted.map_err(|err| Error::internal(err.to_string()))?;
                    let page = Page {
                        port: self.port,
                        connector: self.connector.clone(),
                        state: state.to_owned(),
                    };
                    let arrivals = arrivals.clone();
                    connections.spawn(async move {
                        if let Ok(Some(url)) = tokio::time::timeout(REQUEST_PATIENCE, page.answer(stream)).await {
                            let _ = arrivals.send(url).await;
                        }
                    });
                }
            }
        }
    }
}

/// What one loopback connection is answered against.
struct Page {
    port: u16,
    connector: ConnectorId,
    state: String,
}

impl Page {
    /// Reads one request and answers it; the full URL when it is the awaited callback.
    async fn answer(self, mut stream: TcpStream) -> Option<String> {
        let mut buffer = vec![0u8; 8192];
        let mut read = 0;
        // The request line and headers are all we need; a browser sends no body.
        while read < buffer.len() && !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        let head = String::from_utf8_lossy(&buffer[..read]);
        let target = head
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("GET "))
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_default();
        let arrived = format!("http://127.0.0.1:{}{target}", self.port);
        let ours = Redirect::parse(&arrived).is_ok_and(|redirect| {
            redirect.state == self.state && redirect.connector == self.connector
        });
        let (status, body) = if ours {
            ("200 OK", DONE_PAGE)
        } else {
            ("404 Not Found", "Not found")
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        ours.then_some(arrived)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "io.switchboard.desktop:/oauth/callback/a";

    #[test]
    fn a_code_and_state_are_read_from_an_app_link() {
        let redirect = Redirect::parse(&format!(
            "{APP}?code=abc%2F123&state=s1&iss=https%3A%2F%2Fas.example"
        ))
        .unwrap();
        assert_eq!(redirect.connector, ConnectorId("a".into()));
        assert_eq!(redirect.state, "s1");
        assert!(matches!(&redirect.outcome, Outcome::Code(code) if code == "abc/123"));
        assert_eq!(redirect.issuer.as_deref(), Some("https://as.example"));
        let shown = format!("{redirect:?}");
        assert!(!shown.contains("abc") && !shown.contains("s1"), "{shown}");
    }

    #[test]
    fn a_refusal_is_read_with_its_reason() {
        let redirect = Redirect::parse(&format!(
            "{APP}?error=access_denied&error_description=The+user+said+no&state=s2"
        ))
        .unwrap();
        assert_eq!(
            redirect.outcome,
            Outcome::Refused {
                error: "access_denied".into(),
                description: Some("The user said no".into())
            }
        );
    }

    #[test]
    fn malformed_links_are_not_ours() {
        for link in [
            "io.switchboard.desktop:/oauth/callback?code=a&state=b",
            "io.switchboard.desktop:/oauth/callback/?code=a&state=b",
            "io.switchboard.desktop:/oauth/callback/a/b?code=a&state=b",
            "io.switchboard.desktop:/oauth/callback/a%2Fb?code=a&state=b",
            "io.switchboard.desktop:/oauth/callbacks?code=a&state=b",
            &format!("{APP}?code=a"),
            &format!("{APP}?state=b"),
            &format!("{APP}?code=a&state="),
            &format!("{APP}?code=a&code=b&state=s"),
            &format!("{APP}?code=a&state=s&state=t"),
            &format!("{APP}?code=a&error=x&state=s"),
        ] {
            let err = Redirect::parse(link).expect_err(link);
            assert!(
                err.message.contains("not from Switchboard"),
                "{link}: {}",
                err.message
            );
        }
        for link in [
            "io.switchboard.desktop:/elsewhere?code=a&state=b",
            "not a link",
        ] {
            let err = Redirect::parse(link).expect_err(link);
            assert!(err.message.contains("does not recognise"), "{link}");
        }
    }

    fn redirect(connector: &str, state: &str) -> Redirect {
        Redirect::parse(&format!(
            "io.switchboard.desktop:{}?code=c&state={state}",
            callback_path(&ConnectorId(connector.into()))
        ))
        .unwrap()
    }

    /// The connector whose sign-in the redirect of `connector` with `state` finishes.
    fn owner<W>(pending: &mut PendingSignIns<W>, connector: &str, state: &str) -> ConnectorId {
        match pending.claim(&redirect(connector, state), Instant::now()) {
            Ok((owner, _)) => owner,
            Err(refused) => panic!("refused: {}", refused.error.message),
        }
    }

    #[test]
    fn a_state_is_claimed_once_by_its_own_connector() {
        let now = Instant::now();
        let mut pending = PendingSignIns::default();
        let (a, b) = (ConnectorId("a".into()), ConnectorId("b".into()));
        pending.begin("state-a".into(), a.clone(), now, ());
        pending.begin("state-b".into(), b.clone(), now, ());
        assert!(pending.is_waiting(&a));
        // Two sign-ins at once never mix up.
        assert_eq!(owner(&mut pending, "b", "state-b"), b);
        assert_eq!(owner(&mut pending, "a", "state-a"), a);
        // Reused, or never handed out.
        assert!(pending.claim(&redirect("a", "state-a"), now).is_err());
        let forged = pending.claim(&redirect("a", "forged"), now).err().unwrap();
        assert!(forged.error.message.contains("not from Switchboard"));
        assert!(forged.stopped.is_none());
        assert!(!pending.is_waiting(&a));
    }

    #[test]
    fn a_state_that_comes_back_on_another_connectors_redirect_ends_its_sign_in() {
        let now = Instant::now();
        let mut pending = PendingSignIns::default();
        let (a, b) = (ConnectorId("a".into()), ConnectorId("b".into()));
        pending.begin("state-a".into(), a.clone(), now, "a's waiter");
        pending.begin("state-b".into(), b.clone(), now, "b's waiter");
        // a's authorization server sent the browser to b's: the answer, with a's state,
        // arrives on b's redirect.
        let refused = pending.claim(&redirect("b", "state-a"), now).err().unwrap();
        assert_eq!(refused.error.code, ErrorCode::SignInFailed);
        assert!(refused.error.message.contains("different sign-in service"));
        assert_eq!(refused.stopped, Some((a.clone(), "a's waiter")));
        // a's sign-in is over; b's goes on.
        assert!(!pending.is_waiting(&a));
        assert!(pending.claim(&redirect("a", "state-a"), now).is_err());
        assert_eq!(owner(&mut pending, "b", "state-b"), b);
    }

    #[test]
    fn an_old_sign_in_expires_and_cancel_drops_it() {
        let start = Instant::now();
        let mut pending = PendingSignIns::default();
        let a = ConnectorId("a".into());
        pending.begin("late".into(), a.clone(), start, ());
        let later = start + SIGN_IN_PATIENCE + Duration::from_secs(1);
        assert!(pending.claim(&redirect("a", "late"), later).is_err());
        pending.begin("again".into(), a.clone(), later, ());
        pending.cancel(&a);
        assert!(pending.claim(&redirect("a", "again"), later).is_err());
    }

    #[tokio::test]
    async fn the_loopback_page_answers_the_browser_and_returns_the_code() {
        let loopback = Loopback::bind(ConnectorId("c1".into())).await.unwrap();
        let uri = loopback.redirect_uri();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/oauth/callback/c1"));
        let waiting = tokio::spawn(async move { loopback.receive("st").await });
        let client = reqwest::Client::new();
        // Stray requests first: answered 404, the wait goes on.
        let base = uri.trim_end_matches("/oauth/callback/c1");
        for stray in [
            format!("{base}/favicon.ico"),
            format!("{uri}?code=forged&state=not-ours"),
            format!("{base}/oauth/callback/c2?code=other&state=st"),
        ] {
            let answer = client.get(&stray).send().await.unwrap();
            assert_eq!(answer.status(), 404, "{stray}");
        }
        let page = client
            .get(format!("{uri}?code=the-code&state=st"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("You can close this tab")
        );
        let arrived = waiting.await.unwrap().unwrap();
        let redirect = Redirect::parse(&arrived).unwrap();
        assert_eq!(redirect.state, "st");
        assert!(matches!(redirect.outcome, Outcome::Code(ref c) if c == "the-code"));
    }

    #[tokio::test]
    async fn an_idle_local_connection_does_not_hold_up_the_browser() {
        let loopback = Loopback::bind(ConnectorId("c1".into())).await.unwrap();
        let uri = loopback.redirect_uri();
        let address = uri
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let waiting = tokio::spawn(async move { loopback.receive("st").await });
        // Another program connects first, starts a request and goes quiet.
        let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
        idle.write_all(b"GET /oauth/callback/c1?code=")
            .await
            .unwrap();
        let client = reqwest::Client::new();
        // A request after it is answered while the idle one is still held open, unanswered:
        // they are served side by side, not one after the other. (The bound only turns a
        // hang into a failure.)
        let stray = tokio::time::timeout(
            Duration::from_secs(60),
            client
                .get(uri.replace("/oauth/callback/c1", "/favicon.ico"))
                .send(),
        )
        .await
        .expect("answered while another connection idles")
        .unwrap();
        assert_eq!(stray.status(), 404);
        let mut byte = [0u8; 1];
        assert!(
            matches!(idle.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the idle connection is still open and unanswered"
        );
        let page = client
            .get(format!("{uri}?code=the-code&state=st"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let arrived = waiting.await.unwrap().unwrap();
        assert!(arrived.contains("code=the-code"));
    }
}
