//! Where Switchboard's web traffic may go, and which pages it may open: the one place for
//! the rules every address a server hands out is checked against.
//!
//! A connector's server is a stranger. Its sign-in metadata names pages to open and
//! endpoints to send codes, verifiers and tokens to; its answers may redirect anywhere.
//! So:
//! - the person's browser opens only web pages: `https:`, or `http:` to a loopback IP
//!   ([`check_page`]);
//! - sign-in endpoints and metadata documents are `https:`; plain `http:` only when both
//!   the endpoint and the connector are on this computer ([`check_sign_in_address`]);
//! - sign-in requests reach no address the connector has no business naming: loopback and
//!   private addresses only for connectors on such addresses, never link-local, multicast
//!   or unspecified ones ([`SignInHttp`], after rmcp's own policy);
//! - requests to a connector follow redirects within its origin only, so a key in a custom
//!   header, a password or a token never reaches another server, and https never turns
//!   into http ([`client`]); a redirect elsewhere is reported as [`Moved`];
//! - `localhost` always means this computer: it is answered without asking DNS
//!   ([`Resolver`]), and no other name counts as local (not `*.localhost`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use rmcp::transport::auth::{
    OAuthHttpClient, OAuthHttpClientFuture, OAuthHttpRedirectPolicy, OAuthHttpRequest,
};
use switchboard_ipc::ErrorCode;
use url::{Host, Url};

use crate::error::{Error, Result};

/// The most redirects one request follows (all within the origin).
const MAX_REDIRECTS: usize = 10;

/// The most bytes a sign-in answer (metadata, registration, tokens) may have.
const MAX_SIGN_IN_BODY: usize = 1024 * 1024;

/// How long one sign-in request may take.
const SIGN_IN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `host` is this computer: `localhost`, `127.0.0.0/8` or `[::1]` (also written as
/// an IPv4-mapped address). Other names, `*.localhost` among them, may be sent to DNS by
/// the system resolver, so they are not.
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        Host::Ipv4(_) | Host::Ipv6(_) => is_loopback_ip(host),
    }
}

fn is_loopback_ip(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(_) => false,
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn url_is_loopback(url: &Url) -> bool {
    url.host().is_some_and(|host| is_loopback_host(&host))
}

/// What a refused address is shown as in "Details": scheme and host, nothing of its path
/// or query (an authorization URL's query carries the sign-in's state).
pub(crate) fn shown(url: &Url) -> String {
    match url.host_str() {
        Some(host) => format!("{}://{host}", url.scheme()),
        None => format!("{}:", url.scheme()),
    }
}

/// Checks a page before the person's browser is sent to it: only `https:`, or `http:` to a
/// loopback IP (an RFC 8252 loopback page). Anything else — `file:`, `smb:`, `javascript:`,
/// an app's own scheme, a remote `http:` page — would hand a server's text to whatever
/// program the system runs for it.
pub fn check_page(page: &str) -> Result<Url> {
    let refused = |message: &str, detail: String| {
        Err(Error::new(ErrorCode::SignInFailed, message).with_detail(detail))
    };
    let Ok(url) = Url::parse(page) else {
        return refused(
            "This server's sign-in page is not a web address, so Switchboard did not open it.",
            "The sign-in page's address could not be read.".into(),
        );
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if url.host().is_some_and(|host| is_loopback_ip(&host)) => Ok(url),
        "http" => refused(
            "This server's sign-in page is not protected by https, so Switchboard did not open it. Tell the server's owner.",
            format!("The sign-in page is at {}, over plain http.", shown(&url)),
        ),
        scheme => refused(
            "This server's sign-in page is not a web address, so Switchboard did not open it.",
            format!("The sign-in page's address uses the \"{scheme}\" scheme."),
        ),
    }
}

/// Checks a link in a reply before the person's browser opens it (on their click): web
/// pages and e-mail addresses only. The model's text, or a server's, chose it.
pub fn check_link(link: &str) -> Result<Url> {
    let refused = |detail: String| {
        Err(Error::new(
            ErrorCode::InvalidAddress,
            "This link is not a web page or an e-mail address, so Switchboard did not open it.",
        )
        .with_detail(detail))
    };
    match Url::parse(link.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        Ok(url) if url.scheme() == "mailto" => Ok(url),
        Ok(url) => refused(format!("The link uses the \"{}\" scheme.", url.scheme())),
        Err(err) => refused(err.to_string()),
    }
}

/// The parts of a server's sign-in that Switchboard talks to or opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInAddress {
    /// The page the person signs in on (opened in their browser).
    AuthorizationEndpoint,
    TokenEndpoint,
    RegistrationEndpoint,
    RevocationEndpoint,
    /// A metadata document, or any other request the sign-in makes.
    Document,
}

impl SignInAddress {
    fn name(self) -> &'static str {
        match self {
            Self::AuthorizationEndpoint => "authorization endpoint",
            Self::TokenEndpoint => "token endpoint",
            Self::RegistrationEndpoint => "registration endpoint",
            Self::RevocationEndpoint => "revocation endpoint",
            Self::Document => "sign-in request",
        }
    }
}

/// Checks an address a server's sign-in named: `https:`, or `http:` only when both it and
/// the connector's own address are on this computer (a server under test, say). Codes,
/// PKCE verifiers, client secrets and tokens never travel in cleartext.
pub fn check_sign_in_address(address: &str, what: SignInAddress, connector: &Url) -> Result<Url> {
    let refused = |message: &str, detail: String| {
        Err(Error::new(ErrorCode::SignInFailed, message).with_detail(detail))
    };
    let not_web = |detail: String| {
        if what == SignInAddress::AuthorizationEndpoint {
            refused(
                "This server's sign-in page is not a web address, so Switchboard did not open it.",
                detail,
            )
        } else {
            refused(
                "This server's sign-in names an address that is not a web address, so Switchboard did not sign in. Tell the server's owner.",
                detail,
            )
        }
    };
    let Ok(url) = Url::parse(address) else {
        return not_web(format!("The {} is not a URL.", what.name()));
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if url_is_loopback(&url) && url_is_loopback(connector) => Ok(url),
        "http" => refused(
            "This server's sign-in is not protected by https, so Switchboard did not sign in. Tell the server's owner.",
            format!(
                "The {} is at {}, over plain http.",
                what.name(),
                shown(&url)
            ),
        ),
        scheme => not_web(format!("The {} uses the \"{scheme}\" scheme.", what.name())),
    }
}

/// A connector's server redirected a request to another origin, which Switchboard does not
/// follow: the person added one address and trusts that one.
#[derive(Debug)]
pub struct Moved {
    pub to: Url,
}

impl std::fmt::Display for Moved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server redirected to another origin: {}", self.to)
    }
}

impl std::error::Error for Moved {}

/// Two addresses of the same origin: scheme, host and port (RFC 6454).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str()
            .zip(b.host_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether a redirect from `from` to `to` may be followed: within the origin only.
fn stays_home(from: &Url, to: &Url) -> bool {
    same_origin(from, to)
}

/// How long a connection to a server is kept unused for the next request. Under the 5 s after
/// which Node's, uvicorn's and Apache's servers close an idle one: a request sent on a
/// connection at the moment its server closes it is lost, and the person would see "the
/// connection broke" for nothing (a tool call must not be sent again to make up for it, as
/// it may have run).
pub const IDLE_CONNECTION_KEPT: Duration = Duration::from_secs(4);

/// The HTTP client for talking to connectors: redirects are followed within the origin
/// only (anything else fails with [`Moved`]), `localhost` is this computer, and `headers`
/// (a key, a password) go with every request.
pub fn client(headers: HeaderMap) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls()?)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let from = attempt.previous().first().cloned();
            let mut to = attempt.url().clone();
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if from.is_some_and(|from| stays_home(&from, &to)) {
                attempt.follow()
            } else {
                // Named to the person, so without a query that might carry anything.
                to.set_query(None);
                to.set_fragment(None);
                attempt.error(Moved { to })
            }
        }))
        .dns_resolver(Arc::new(Resolver::default()))
        .pool_idle_timeout(IDLE_CONNECTION_KEPT)
        .build()
        .map_err(|err| Error::internal(err.to_string()))
}

/// The TLS settings every client shares, made once: what reqwest would make for each client
/// (the system's certificates through rustls-platform-verifier, TLS 1.2 and 1.3, HTTP/1.1),
/// which reads and parses the system's certificate store: 3.7 ms of CPU a time, and a connect
/// makes one to three clients.
fn tls() -> Result<rustls::ClientConfig> {
    static TLS: OnceLock<std::result::Result<rustls::ClientConfig, String>> = OnceLock::new();
    TLS.get_or_init(|| {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|err| err.to_string())?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| err.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    })
    .clone()
    .map_err(|detail| {
        Error::new(
            ErrorCode::Certificate,
            "Switchboard could not read this computer's trusted certificates.",
        )
        .with_detail(detail)
    })
}

/// Who an IP address belongs to, for deciding whether a sign-in request may go there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    Public,
    Loopback,
    Private,
    /// Link-local (cloud instance metadata among them), unspecified, broadcast, multicast
    /// and reserved addresses: never.
    Never,
}

impl Reach {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => match embedded_v4(v6) {
                Some(v4) => Self::of_v4(v4),
                None => Self::of_v6(v6),
            },
        }
    }

    fn of_v4(ip: Ipv4Addr) -> Self {
        let [a, b, ..] = ip.octets();
        if ip.is_loopback() {
            Self::Loopback
        } else if ip.is_private() || (a == 100 && (64..=127).contains(&b)) {
            Self::Private
        } else if ip.is_unspecified()
            || ip.is_link_local()
            || ip.is_broadcast()
            || ip.is_multicast()
            || a == 0
            || a >= 240
            || (a == 198 && matches!(b, 18 | 19))
        {
            Self::Never
        } else {
            Self::Public
        }
    }

    fn of_v6(ip: Ipv6Addr) -> Self {
        let segments = ip.segments();
        if ip.is_loopback() {
            Self::Loopback
        } else if segments[0] & 0xfe00 == 0xfc00 {
            Self::Private
        } else if ip.is_unspecified()
            || ip.is_multicast()
            || segments[0] & 0xffc0 == 0xfe80
            // Teredo and local-use NAT64 can reach anything.
            || segments[..2] == [0x2001, 0]
            || segments[..3] == [0x64, 0xff9b, 1]
        {
            Self::Never
        } else {
            Self::Public
        }
    }
}

/// The IPv4 address inside IPv4-mapped, IPv4-compatible, NAT64 and 6to4 addresses.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let [a, b, c, d, e, f, g, h] = ip.segments();
    let low = Ipv4Addr::from((u32::from(g) << 16) | u32::from(h));
    match [a, b, c, d, e, f] {
        [0, 0, 0, 0, 0, 0xffff] | [0x64, 0xff9b, 0, 0, 0, 0] => Some(low),
        [0, 0, 0, 0, 0, 0] if !ip.is_loopback() && !ip.is_unspecified() => Some(low),
        [0x2002, ..] => Some(Ipv4Addr::from((u32::from(b) << 16) | u32::from(c))),
        _ => None,
    }
}

/// Which addresses sign-in requests for one connector may reach: public ones always;
/// loopback or private ones only when the connector's own address names one (a loopback
/// or private IP, or `localhost`). A name's DNS answers never widen this: the server may
/// control them.
#[derive(Clone, Debug)]
struct Reachable {
    connector_ip: Option<IpAddr>,
    also: Option<Reach>,
}

impl Reachable {
    fn for_connector(connector: &Url) -> Self {
        let connector_ip = literal_ip(connector);
        let also = match connector.host() {
            Some(host) if is_loopback_host(&host) => Some(Reach::Loopback),
            _ => connector_ip
                .map(Reach::of)
                .filter(|reach| *reach == Reach::Private),
        };
        Self { connector_ip, also }
    }

    fn allows(&self, ip: IpAddr) -> bool {
        match Reach::of(ip) {
            Reach::Public => true,
            Reach::Never => false,
            reach => self.also == Some(reach) || self.connector_ip == Some(ip),
        }
    }
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// Resolves names for Switchboard's HTTP clients: `localhost` is answered with the loopback
/// addresses without asking anyone (RFC 6761); other names go to the system resolver, and
/// for sign-in requests only the addresses the connector may reach are kept.
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    reachable: Option<Reachable>,
}

const LOOPBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

impl Resolver {
    /// The addresses `host` stands for, as the clients will connect to them.
    pub async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let found: Vec<IpAddr> = if host == "localhost" {
            LOOPBACK.to_vec()
        } else {
            let name = host.clone();
            tokio::task::spawn_blocking(move || (name.as_str(), 0).to_socket_addrs())
                .await
                .map_err(std::io::Error::other)??
                .map(|addr| addr.ip())
                .collect()
        };
        let Some(reachable) = &self.reachable else {
            return Ok(found);
        };
        let allowed: Vec<IpAddr> = found
            .into_iter()
            .filter(|ip| reachable.allows(*ip))
            .collect();
        if allowed.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("no address of {host} may be reached for this server's sign-in"),
            ));
        }
        Ok(allowed)
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let found = this.lookup(name.as_str()).await?;
            let addrs: Addrs = Box::new(
                found
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// Every request of one connector's sign-in — metadata, registration, the code exchange,
/// refreshes — goes through here, and each is checked as it leaves: [`check_sign_in_address`]
/// for its URL (whatever metadata named it, saved or fresh), the connector's reachable
/// addresses for where it connects, and redirects stay within the origin.
pub struct SignInHttp {
    connector: Url,
    reachable: Reachable,
    follow: reqwest::Client,
    stop: reqwest::Client,
}

impl SignInHttp {
    pub fn new(connector: &Url) -> Result<Self> {
        let reachable = Reachable::for_connector(connector);
        let resolver = Arc::new(Resolver {
            reachable: Some(reachable.clone()),
        });
        let tls = tls()?;
        let build = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls.clone())
                .timeout(SIGN_IN_REQUEST_TIMEOUT)
                .redirect(redirects)
                .dns_resolver(resolver.clone())
                .build()
                .map_err(|err| Error::internal(err.to_string()))
        };
        let within_origin = reqwest::redirect::Policy::custom(|attempt| {
            let home = attempt.previous().first().cloned();
            let to = attempt.url().clone();
            if attempt.previous().len() <= MAX_REDIRECTS
                && home.is_some_and(|home| stays_home(&home, &to))
            {
                attempt.follow()
            } else {
                // Handed back as it is: for discovery, a document that is not here.
                attempt.stop()
            }
        });
        Ok(Self {
            connector: connector.clone(),
            follow: build(within_origin)?,
            stop: build(reqwest::redirect::Policy::none())?,
            reachable,
        })
    }

    /// Refuses a request before it leaves: an address that is not https (or local), or an
    /// IP the connector may not reach.
    fn admit(&self, url: &Url) -> Result<()> {
        check_sign_in_address(url.as_str(), SignInAddress::Document, &self.connector)?;
        if let Some(ip) = literal_ip(url)
            && !self.reachable.allows(ip)
        {
            return Err(Error::new(
                ErrorCode::SignInFailed,
                "This server's sign-in points at an address Switchboard will not reach for it, so Switchboard did not sign in. Tell the server's owner.",
            )
            .with_detail(format!("{} is not an address this server may name.", shown(url))));
        }
        Ok(())
    }
}

/// A request [`SignInHttp`] refused to send, as rmcp sees it.
#[derive(Debug)]
pub struct Refused(pub Error);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0.detail {
            Some(detail) => write!(f, "refused: {detail}"),
            None => write!(f, "refused: {}", self.0.message),
        }
    }
}

impl std::error::Error for Refused {}

impl OAuthHttpClient for SignInHttp {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        Box::pin(async move {
            let redirects = request.redirect_policy;
            let request = reqwest::Request::try_from(request.request)?;
            self.admit(request.url()).map_err(Refused)?;
            let client = if redirects == OAuthHttpRedirectPolicy::Follow {
                &self.follow
            } else {
                &self.stop
            };
            let mut response = client.execute(request).await?;
            let mut answer = oauth2::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_SIGN_IN_BODY {
                    return Err(format!(
                        "the sign-in answer is larger than {MAX_SIGN_IN_BODY} bytes"
                    )
                    .into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(answer.body(body)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn only_localhost_and_loopback_ips_are_this_computer() {
        for local in [
            "http://localhost/",
            "http://LOCALHOST./",
            "http://127.0.0.1/",
            "http://127.9.8.7/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(url_is_loopback(&url(local)), "{local}");
        }
        for remote in [
            "http://app.localhost/",
            "http://localhost.example.com/",
            "http://0.0.0.0/",
            "http://10.0.0.1/",
            "http://[::]/",
            "http://example.com/",
        ] {
            assert!(!url_is_loopback(&url(remote)), "{remote}");
        }
    }

    #[test]
    fn the_browser_opens_web_pages_only() {
        for page in [
            "https://auth.example.com/authorize?x=1",
            "http://127.0.0.1:8123/authorize",
            "http://[::1]:8123/authorize",
        ] {
            assert!(check_page(page).is_ok(), "{page}");
        }
        for page in [
            "file:///etc/passwd",
            "smb://host/share/x.exe",
            "ms-msdt:/id PCWDiagnostic",
            "javascript:alert(1)",
            "io.switchboard.desktop:/oauth/callback/c1?code=x",
            "data:text/html,<h1>hi</h1>",
            "vbscript:msgbox",
            "not a url",
        ] {
            let err = check_page(page).expect_err(page);
            assert_eq!(
                err.message,
                "This server's sign-in page is not a web address, so Switchboard did not open it.",
                "{page}"
            );
        }
        for page in [
            "http://auth.example.com/authorize",
            "http://localhost:8123/authorize",
            "http://192.168.1.2/authorize",
        ] {
            let err = check_page(page).expect_err(page);
            assert!(err.message.contains("not protected by https"), "{page}");
        }
        // What is shown of a refused page names scheme and host, never its query.
        let err = check_page("http://auth.example.com/authorize?state=s3cret").unwrap_err();
        let detail = err.detail.expect("a detail");
        assert!(detail.contains("http://auth.example.com"), "{detail}");
        assert!(!detail.contains("s3cret"), "{detail}");
    }

    #[test]
    fn sign_in_endpoints_are_https_or_local_for_a_local_server() {
        let remote = url("https://mcp.example.com/mcp");
        let local = url("http://127.0.0.1:4000/mcp");
        let token = SignInAddress::TokenEndpoint;
        assert!(check_sign_in_address("https://as.example.com/token", token, &remote).is_ok());
        assert!(check_sign_in_address("https://as.example.com/token", token, &local).is_ok());
        assert!(check_sign_in_address("http://127.0.0.1:4001/token", token, &local).is_ok());
        assert!(check_sign_in_address("http://localhost:4001/token", token, &local).is_ok());
        for (address, connector) in [
            ("http://as.example.com/token", &remote),
            ("http://as.example.com/token", &local),
            ("http://127.0.0.1:4001/token", &remote),
            ("http://app.localhost:4001/token", &local),
            ("http://192.0.2.2:4001/token", &local),
        ] {
            let err = check_sign_in_address(address, token, connector).expect_err(address);
            assert!(err.message.contains("not protected by https"), "{address}");
            assert!(
                !err.detail.unwrap().contains("/token"),
                "only scheme and host"
            );
        }
        for address in ["file:///etc/passwd", "javascript:alert(1)", "smb://h/s"] {
            let err = check_sign_in_address(address, SignInAddress::AuthorizationEndpoint, &remote)
                .expect_err(address);
            assert!(err.message.contains("not a web address"), "{address}");
            let err = check_sign_in_address(address, token, &remote).expect_err(address);
            assert!(err.message.contains("not a web address"), "{address}");
        }
    }

    #[test]
    fn redirects_stay_within_the_origin() {
        let from = url("https://mcp.example.com/mcp");
        assert!(stays_home(
            &from,
            &url("https://MCP.example.com:443/v2/mcp")
        ));
        for elsewhere in [
            "http://mcp.example.com/mcp",
            "https://mcp.example.com:8443/mcp",
            "https://other.example/mcp",
            "https://example.com/mcp",
        ] {
            assert!(!stays_home(&from, &url(elsewhere)), "{elsewhere}");
        }
    }

    #[test]
    fn sign_in_requests_reach_what_the_connector_may_name() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let remote = Reachable::for_connector(&url("https://mcp.example.com/mcp"));
        assert!(remote.allows(ip("93.184.216.34")));
        assert!(remote.allows(ip("2606:4700::1111")));
        for internal in [
            "127.0.0.1",
            "::1",
            "::ffff:127.0.0.1",
            "10.0.0.5",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!remote.allows(ip(internal)), "{internal}");
        }
        let local = Reachable::for_connector(&url("http://localhost:4000/mcp"));
        assert!(local.allows(ip("127.0.0.1")) && local.allows(ip("::1")));
        assert!(!local.allows(ip("10.0.0.5")) && !local.allows(ip("169.254.169.254")));
        let private = Reachable::for_connector(&url("https://10.0.0.5/mcp"));
        assert!(private.allows(ip("10.0.0.9")));
        assert!(!private.allows(ip("127.0.0.1")));
    }

    /// A server that answers every request on a connection with "ok", and counts the
    /// connections it was opened.
    async fn counting_server() -> (Url, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let opened = Arc::new(AtomicUsize::new(0));
        let count = opened.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while let Ok(read) = stream.read(&mut buffer).await {
                        if read == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buffer[..read]);
                        // Bodiless requests: each ends with an empty line.
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url(&format!("http://{address}/")), opened)
    }

    #[tokio::test]
    async fn a_connection_is_reused_but_not_after_the_idle_time_servers_close_it_after() {
        use std::sync::atomic::Ordering;
        let (address, opened) = counting_server().await;
        let client = client(HeaderMap::new()).unwrap();
        let get = || async {
            let answer = client.get(address.clone()).send().await.unwrap();
            assert_eq!(answer.text().await.unwrap(), "ok");
        };
        get().await;
        get().await;
        assert_eq!(
            opened.load(Ordering::SeqCst),
            1,
            "the second request reuses the connection"
        );
        // Idle past the time kept (and still under the 5 s a Node server waits): a fresh one.
        tokio::time::sleep(IDLE_CONNECTION_KEPT + Duration::from_millis(300)).await;
        get().await;
        assert_eq!(
            opened.load(Ordering::SeqCst),
            2,
            "a connection idle too long is not reused"
        );
    }

    #[tokio::test]
    async fn localhost_is_this_computer_without_asking_dns() {
        let found = Resolver::default().lookup("LocalHost.").await.unwrap();
        assert!(!found.is_empty());
        assert!(found.iter().all(IpAddr::is_loopback), "{found:?}");
        // For a remote connector's sign-in, nothing of this computer is reachable.
        let sign_in = Resolver {
            reachable: Some(Reachable::for_connector(&url("https://mcp.example.com/"))),
        };
        assert!(sign_in.lookup("localhost").await.is_err());
    }
}
