//! A resource template's variables and its expansion (RFC 6570, through `iri-string`): read
//! here, so the window holds no URI-template code. The catalog carries each template's
//! variables ([`variables`]), and the window asks for an expansion ([`expand`]) for its live
//! preview and before it reads.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use iri_string::spec::UriSpec;
use iri_string::template::UriTemplateStr;
use iri_string::template::simple_context::SimpleContext;
use switchboard_ipc::TemplateVariable;

use crate::error::{Error, ErrorCode, Result};

/// The template's variables in order of first appearance, each once. A variable used only in
/// query expressions (`{?q}`, `{&page}`) is optional: leaving it empty drops it.
pub fn variables(template: &str) -> std::result::Result<Vec<TemplateVariable>, String> {
    let parsed = UriTemplateStr::new(template).map_err(|err| err.to_string())?;
    let mut in_query = HashSet::new();
    let mut elsewhere = HashSet::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let body = &rest[open + 1..open + close];
        let (query, list) = match body.chars().next() {
            Some(op @ ('?' | '&')) => (true, &body[op.len_utf8()..]),
            Some(op @ ('+' | '#' | '.' | '/' | ';')) => (false, &body[op.len_utf8()..]),
            _ => (false, body),
        };
        for spec in list.split(',') {
            let name = spec.split(':').next().unwrap_or(spec).trim_end_matches('*');
            if query {
                in_query.insert(name.to_owned());
            } else {
                elsewhere.insert(name.to_owned());
            }
        }
        rest = &rest[open + close + 1..];
    }
    let mut seen = HashSet::new();
    Ok(parsed
        .variables()
        .map(|var| var.as_str().to_owned())
        .filter(|name| seen.insert(name.clone()))
        .map(|name| TemplateVariable {
            optional: in_query.contains(&name) && !elsewhere.contains(&name),
            name,
        })
        .collect())
}

/// The template expanded with `values`; empty values count as undefined (RFC 6570). Only a
/// template that does not parse fails: the server's fault, so `Protocol`.
pub fn expand(template: &str, values: &BTreeMap<String, String>) -> Result<String> {
    let refused = |why: String| {
        Error::new(ErrorCode::Protocol, "This template can't be filled in.").with_detail(why)
    };
    let parsed = UriTemplateStr::new(template).map_err(|err| refused(err.to_string()))?;
    let mut context = SimpleContext::new();
    for (name, value) in values {
        if !value.is_empty() {
            context.insert(name.as_str(), value.as_str());
        }
    }
    let expanded = parsed
        .expand::<UriSpec, _>(&context)
        .map_err(|err| refused(err.to_string()))?;
    let mut out = String::new();
    write!(out, "{expanded}").map_err(|err| refused(err.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_come_once_in_order_with_query_ones_optional() {
        let vars = variables("file:///{owner}/{repo}/{+path}{?ref,q}{&owner}").unwrap();
        let names: Vec<_> = vars.iter().map(|v| (v.name.as_str(), v.optional)).collect();
        assert_eq!(
            names,
            [
                ("owner", false),
                ("repo", false),
                ("path", false),
                ("ref", true),
                ("q", true)
            ]
        );
        assert!(variables("file:///{unclosed").is_err());
        assert!(variables("plain://uri").unwrap().is_empty());
    }

    #[test]
    fn templates_expand_per_rfc_6570_levels_one_and_two() {
        let values = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        let v = values(&[
            ("var", "value"),
            ("hello", "Hello World!"),
            ("path", "/foo/bar"),
        ]);
        assert_eq!(expand("{var}", &v).unwrap(), "value");
        assert_eq!(expand("{hello}", &v).unwrap(), "Hello%20World%21");
        assert_eq!(expand("{+path}/here", &v).unwrap(), "/foo/bar/here");
        assert_eq!(expand("{path}", &v).unwrap(), "%2Ffoo%2Fbar");
        assert_eq!(expand("X{#var}", &v).unwrap(), "X#value");
        assert_eq!(expand("{?var,missing}", &v).unwrap(), "?var=value");
        // Empty fields are left out, not sent as empty strings.
        let v = values(&[("q", ""), ("repo", "switchboard")]);
        assert_eq!(expand("gh://{repo}{?q}", &v).unwrap(), "gh://switchboard");
        // Non-ASCII is percent-encoded: the result is a URI.
        let v = values(&[("name", "café")]);
        assert_eq!(expand("x://{name}", &v).unwrap(), "x://caf%C3%A9");
        // A template that does not parse says so, and why.
        let refused = expand("file:///{unclosed", &v).unwrap_err();
        assert_eq!(refused.code, ErrorCode::Protocol);
        assert!(refused.detail.is_some());
    }
}
