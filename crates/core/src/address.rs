//! The rules for a connector's address: the one place that decides what may be saved.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use switchboard_ipc::{CheckedAddress, ErrorCode};
use url::{Host, Url};

use crate::error::{Error, Result};

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
    if scheme == "http" && !is_loopback(&host) {
        return Err(Error::new(
            ErrorCode::InsecureAddress,
            "Use https:// — plain http:// is only allowed for servers on this computer.",
        ));
    }
    let host = match host {
        Host::Domain(name) => name.to_owned(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    };
    Ok(CheckedAddress {
        url: text.to_owned(),
        host,
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

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => *ip == Ipv6Addr::LOCALHOST || is_mapped_loopback(ip),
    }
}

fn is_mapped_loopback(ip: &Ipv6Addr) -> bool {
    ip.to_ipv4_mapped()
        .is_some_and(|v4: Ipv4Addr| v4.is_loopback())
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
    fn surrounding_spaces_are_trimmed() {
        let checked = check("  https://example.com/mcp \n").expect("valid");
        assert_eq!(checked.url, "https://example.com/mcp");
        assert_eq!(checked.host, "example.com");
    }

    #[test]
    fn http_is_only_for_this_computer() {
        for ok in [
            "http://localhost:3000/mcp",
            "http://LOCALHOST/mcp",
            "http://127.0.0.1:8080/mcp",
            "http://127.5.6.7/mcp",
            "http://[::1]:9000/mcp",
            "http://app.localhost/mcp",
        ] {
            assert!(check(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "http://example.com/mcp",
            "http://192.168.1.10/mcp",
            "http://10.0.0.1/mcp",
            "http://localhost.example.com/mcp",
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
