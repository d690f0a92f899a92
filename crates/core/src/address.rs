//! The rules for a connector's address: the one place that decides what may be saved.

use switchboard_ipc::{CheckedAddress, ErrorCode, SecretInQuery};
use url::{Host, Url};

use crate::error::{Error, Result};
use crate::web;

/// Checks what the person typed and returns the address exactly as it will be saved:
/// trimmed, otherwise as given (path and query are never rewritten).
pub fn check(input: &str) -> Result<CheckedAddress> {
    let text = input.trim();
    if text.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidAddress,
            "Enter the server's address, for example https://example.com/mcp.",
        ));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(Error::new(
            ErrorCode::InvalidAddress,
            "A web address cannot contain spaces.",
        ));
    }
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(Error::new(
                ErrorCode::InvalidAddress,
                "Start the address with https:// — for example https://example.com/mcp.",
            ));
        }
        Err(err) => {
            return Err(Error::new(
                ErrorCode::InvalidAddress,
                "This is not a valid web address.",
            )
            .with_detail(err.to_string()));
        }
    };
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(Error::new(
            ErrorCode::InvalidAddress,
            "Switchboard connects to web addresses only: start the address with https://.",
        )
        .with_detail(format!("The address uses the \"{scheme}\" scheme.")));
    }
    let Some(host) = url.host() else {
        return Err(Error::new(
            ErrorCode::InvalidAddress,
            "The address needs a server name after https://.",
        ));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::new(
            ErrorCode::CredentialsInAddress,
            "Remove the name and password from the address; you can sign in after adding the connector.",
        ));
    }
    if scheme == "http" && !web::is_loopback_host(&host) {
        return Err(Error::new(
            ErrorCode::InsecureAddress,
            "Use https:// — plain http:// is only allowed for servers on this computer.",
        ));
    }
    Ok(CheckedAddress {
        secret_in_query: secret_in_query(&url),
        url: text.to_owned(),
        default_name: name_of(&url, &host),
        other_server: false,
    })
}

fn name_of(url: &Url, host: &Host<&str>) -> String {
    let mut name = match host {
        Host::Domain(name) => (*name).to_owned(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => format!("[{ip}]"),
    };
    if let Some(port) = url.port() {
        name.push_str(&format!(":{port}"));
    }
    let path = url.path().trim_end_matches('/');
    if !path.is_empty() {
        name.push(' ');
        name.push_str(path);
    }
    name
}

/// What a connector at this saved address is called until its server names itself.
pub fn default_name(address: &str) -> String {
    match Url::parse(address.trim()) {
        Ok(url) => match url.host() {
            Some(host) => name_of(&url, &host),
            None => address.to_owned(),
        },
        Err(_) => address.to_owned(),
    }
}

/// Two addresses on the same server: the same scheme, host and port. Secrets and tool
/// settings belong to a server, so they follow an address only within it.
pub fn same_server(a: &str, b: &str) -> bool {
    match (Url::parse(a.trim()), Url::parse(b.trim())) {
        (Ok(a), Ok(b)) => web::same_origin(&a, &b),
        _ => false,
    }
}

/// Query parameter names that carry a secret, compared without case, `-` or `_`: as the
/// whole name, or (the first row) at its end (`x_api_key`, `accessToken`).
const SECRET_PARAM_ENDINGS: &[&str] = &[
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "authkey",
    "token",
    "secret",
    "password",
    "passwd",
];
const SECRET_PARAM_NAMES: &[&str] = &[
    "key",
    "pwd",
    "pass",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "sig",
    "signature",
];

/// The first query parameter that looks like a secret and has a value.
fn secret_in_query(url: &Url) -> Option<SecretInQuery> {
    let (name, value) = url.query_pairs().find(|(name, value)| {
        let name: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        !value.is_empty()
            && (SECRET_PARAM_NAMES.contains(&name.as_str())
                || SECRET_PARAM_ENDINGS.iter().any(|end| name.ends_with(end)))
    })?;
    let mut without = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(other, _)| *other != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        without.set_query(None);
    } else {
        without.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(SecretInQuery {
        name: name.into_owned(),
        value: value.into_owned(),
        address_without: without.to_string(),
    })
}

/// Two addresses that reach the same endpoint: scheme and host compare without case, a
/// default port equals no port, an empty path equals "/". Path and query compare exactly.
pub fn same_endpoint(a: &str, b: &str) -> bool {
    match (Url::parse(a.trim()), Url::parse(b.trim())) {
        (Ok(a), Ok(b)) => endpoint_key(&a) == endpoint_key(&b),
        _ => a.trim() == b.trim(),
    }
}

fn endpoint_key(url: &Url) -> (String, Option<String>, Option<u16>, String, Option<String>) {
    (
        url.scheme().to_owned(),
        url.host_str().map(str::to_ascii_lowercase),
        url.port_or_known_default(),
        url.path().to_owned(),
        url.query().map(str::to_owned),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str) -> ErrorCode {
        match check(input) {
            Ok(ok) => panic!("{input:?} was accepted as {ok:?}"),
            Err(err) => err.code,
        }
    }

    #[test]
    fn https_addresses_are_kept_exactly_as_typed() {
        let kept = [
            "https://example.com/mcp",
            "https://Example.com:8443/a/../B/?x=1&y=%20z",
            "https://mcp.example.org/v1/sse?team=alpha&token=",
            "https://[2001:db8::1]/mcp",
        ];
        for url in kept {
            assert_eq!(check(url).map(|c| c.url), Ok(url.to_owned()), "{url}");
        }
    }

    #[test]
    fn a_secret_in_the_query_is_pointed_out_with_the_address_without_it() {
        for (address, name, without) in [
            (
                "https://mcp.example.com/mcp?api_key=sk-123",
                "api_key",
                "https://mcp.example.com/mcp",
            ),
            (
                "https://mcp.example.com/mcp?team=a&token=t0k&x=1",
                "token",
                "https://mcp.example.com/mcp?team=a&x=1",
            ),
            (
                "https://mcp.example.com/mcp?apiKey=k",
                "apiKey",
                "https://mcp.example.com/mcp",
            ),
            (
                "https://mcp.example.com/mcp?access-token=k",
                "access-token",
                "https://mcp.example.com/mcp",
            ),
        ] {
            let found = check(address)
                .expect(address)
                .secret_in_query
                .expect(address);
            assert_eq!(found.name, name, "{address}");
            assert_eq!(found.address_without, without, "{address}");
            // The address itself is still kept exactly as typed until the person moves it.
            assert_eq!(check(address).unwrap().url, address);
        }
        assert_eq!(
            check("https://mcp.example.com/mcp?api_key=sk-123")
                .unwrap()
                .secret_in_query
                .unwrap()
                .value,
            "sk-123"
        );
        for plain in [
            "https://mcp.example.com/mcp",
            "https://mcp.example.com/mcp?team=alpha&token=",
            "https://mcp.example.com/mcp?monkey=1&author=me&keyboard=2",
        ] {
            assert_eq!(check(plain).unwrap().secret_in_query, None, "{plain}");
        }
    }

    #[test]
    fn surrounding_spaces_are_trimmed() {
        let checked = check("  https://example.com/mcp \n").expect("valid");
        assert_eq!(checked.url, "https://example.com/mcp");
        assert_eq!(checked.default_name, "example.com /mcp");
    }

    #[test]
    fn until_a_server_names_itself_it_is_called_by_host_port_and_path() {
        for (address, name) in [
            ("https://example.com/", "example.com"),
            ("https://example.com", "example.com"),
            ("https://example.com:443/mcp", "example.com /mcp"),
            ("http://127.0.0.1:8931/html", "127.0.0.1:8931 /html"),
            ("http://[::1]:9000/a/b/?q=1", "[::1]:9000 /a/b"),
        ] {
            assert_eq!(check(address).unwrap().default_name, name, "{address}");
        }
    }

    #[test]
    fn the_same_server_is_the_same_scheme_host_and_port() {
        assert!(same_server(
            "https://Example.com/mcp",
            "https://example.com:443/other?x=1"
        ));
        assert!(!same_server(
            "https://example.com/mcp",
            "http://example.com/mcp"
        ));
        assert!(!same_server(
            "https://example.com/mcp",
            "https://example.org/mcp"
        ));
        assert!(!same_server(
            "http://127.0.0.1:1/mcp",
            "http://127.0.0.1:2/mcp"
        ));
        assert!(!same_server("not an address", "not an address"));
    }

    #[test]
    fn http_is_only_for_this_computer() {
        for ok in [
            "http://localhost:3000/mcp",
            "http://LOCALHOST/mcp",
            "http://127.0.0.1:8080/mcp",
            "http://127.5.6.7/mcp",
            "http://[::1]:9000/mcp",
            "http://[::ffff:127.0.0.1]:9000/mcp",
        ] {
            assert!(check(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "http://example.com/mcp",
            "http://192.168.1.10/mcp",
            "http://10.0.0.1/mcp",
            "http://localhost.example.com/mcp",
            // The system resolver may ask DNS for these.
            "http://app.localhost/mcp",
            "http://0.0.0.0/mcp",
        ] {
            assert_eq!(code(bad), ErrorCode::InsecureAddress, "{bad}");
        }
    }

    #[test]
    fn credentials_in_the_address_are_refused() {
        assert_eq!(
            code("https://user:secret@example.com/mcp"),
            ErrorCode::CredentialsInAddress
        );
        assert_eq!(
            code("https://user@example.com/mcp"),
            ErrorCode::CredentialsInAddress
        );
    }

    #[test]
    fn things_that_are_not_web_addresses_are_refused_with_a_reason() {
        for bad in [
            "",
            "   ",
            "example.com/mcp",
            "ftp://example.com/mcp",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "mailto:a@example.com",
            "https://exa mple.com",
            "https://",
            "not an address",
        ] {
            let err = check(bad).expect_err(bad);
            assert_eq!(err.code, ErrorCode::InvalidAddress, "{bad}");
            assert!(err.message.ends_with('.'), "one sentence: {}", err.message);
        }
    }

    #[test]
    fn same_endpoint_ignores_case_default_port_and_empty_path() {
        assert!(same_endpoint(
            "https://EXAMPLE.com/mcp",
            "https://example.com:443/mcp"
        ));
        assert!(same_endpoint("https://example.com", "https://example.com/"));
        assert!(!same_endpoint(
            "https://example.com/mcp",
            "https://example.com/MCP"
        ));
        assert!(!same_endpoint(
            "https://example.com/mcp?a=1",
            "https://example.com/mcp?a=2"
        ));
        assert!(!same_endpoint(
            "http://localhost/mcp",
            "https://localhost/mcp"
        ));
    }
}
