//! The publishing point URL as the push sink takes it (`http://host[:port]/path`), and the
//! `Template-URL` path it hands to push-protocol's `PushClient`.
//!
//! push-protocol's `PushClient` works on a `Host` authority and a path; splitting the
//! application's URL into those, resolving the host and validating the template are the
//! sink's job (they decide the `InvalidArgument` / `InvalidHostName` results).

use std::fmt::Write as _;

/// The parts of a publishing point URL the sink needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushUrl {
    /// Host name or address, without brackets.
    pub host: String,
    /// TCP port (80 by default).
    pub port: u16,
    /// Absolute path, e.g. `/pubPoint`.
    pub path: String,
    /// `Host` header value (host, plus `:port` unless it is 80).
    pub authority: String,
}

impl PushUrl {
    /// Parses `http://host[:port][/path]`. Returns a short reason on failure.
    pub fn parse(url: &str) -> Result<PushUrl, &'static str> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("HTTP://"))
            .ok_or("the URL must start with http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("user info in the URL is not supported; use the credentials callback");
        }
        let (host, port) = split_authority(authority)?;
        if path.bytes().any(|b| b <= b' ' || b == 0x7F) {
            return Err("the path contains spaces or control characters");
        }
        let authority = if port == 80 {
            authority.split(':').next().unwrap_or(authority).to_owned()
        } else {
            authority.to_owned()
        };
        Ok(PushUrl {
            host,
            port,
            path: path.to_owned(),
            authority,
        })
    }
}

/// Splits `host[:port]` or `[v6][:port]` (the authority `PushClient` asks a connection to)
/// into host and port (80 when absent).
pub(crate) fn split_authority(authority: &str) -> Result<(String, u16), &'static str> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or("unterminated [IPv6] host")?;
        let port = &v6[end + 1..];
        if !(port.is_empty() || port.starts_with(':')) {
            return Err("junk after the [IPv6] host");
        }
        (&v6[..end], port.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the URL has no host");
    }
    if host
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err("the host contains spaces or control characters");
    }
    let port = match port {
        None | Some("") => 80,
        Some(p) => p.parse::<u16>().map_err(|_| "the port is not a number")?,
    };
    Ok((host.to_owned(), port))
}

/// The `Template-URL` value (MS-WMHTTP 2.2.2.1.1): the absolute path of `template` (a full
/// URL or a path), with non-ASCII and unsafe bytes percent-encoded so it fits in the quoted
/// directive `PushClient` writes.
pub(crate) fn template_path(template: &str) -> Result<String, &'static str> {
    let path = if let Some(rest) = template
        .strip_prefix("http://")
        .or_else(|| template.strip_prefix("HTTP://"))
    {
        match rest.find('/') {
            Some(i) => rest[i..].to_owned(),
            None => return Err("the template URL has no path"),
        }
    } else if template.starts_with('/') {
        template.to_owned()
    } else {
        format!("/{template}")
    };
    let mut out = String::with_capacity(path.len() + 8);
    for b in path.bytes() {
        if b.is_ascii_graphic() && b != b'"' && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_urls() {
        let u = PushUrl::parse("http://MyServer:8080/MyPublishingPoint").expect("valid");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("MyServer", 8080, "/MyPublishingPoint")
        );
        assert_eq!(u.authority, "MyServer:8080");
        let u = PushUrl::parse("http://server").expect("valid");
        assert_eq!(
            (u.port, u.path.as_str(), u.authority.as_str()),
            (80, "/", "server")
        );
        let u = PushUrl::parse("http://[::1]:81/p").expect("v6");
        assert_eq!((u.host.as_str(), u.port), ("::1", 81));
        assert_eq!(u.authority, "[::1]:81");
        for bad in [
            "",
            "rtsp://x/y",
            "http://",
            "http://:80/x",
            "http://h:99999/x",
            "http://u:p@h/x",
            "http://h/a b",
            "http://[::1/x",
        ] {
            assert!(PushUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn authorities_split() {
        assert_eq!(split_authority("h"), Ok(("h".into(), 80)));
        assert_eq!(split_authority("h:8080"), Ok(("h".into(), 8080)));
        assert_eq!(split_authority("[::1]"), Ok(("::1".into(), 80)));
        assert_eq!(split_authority("[::1]:9"), Ok(("::1".into(), 9)));
        assert!(split_authority("[::1]x").is_err());
        assert!(split_authority("h:x").is_err());
    }

    #[test]
    fn template_paths() {
        assert_eq!(template_path("http://s/tpl/a").as_deref(), Ok("/tpl/a"));
        assert_eq!(template_path("tpl").as_deref(), Ok("/tpl"));
        assert_eq!(template_path("/a b\"").as_deref(), Ok("/a%20b%22"));
        assert!(template_path("http://s").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,200}") {
            let _ = PushUrl::parse(&text);
            let _ = template_path(&text);
            let _ = split_authority(&text);
        }

        #[test]
        fn urls_round_trip(host in "[a-z][a-z0-9.-]{0,20}", port in 1u16.., path in "(/[A-Za-z0-9_.~-]{0,10}){0,4}") {
            let url = format!("http://{host}:{port}{path}");
            let u = PushUrl::parse(&url).expect("valid URL");
            prop_assert_eq!(&u.host, &host);
            prop_assert_eq!(u.port, port);
            let want = if path.is_empty() { "/".to_string() } else { path.clone() };
            prop_assert_eq!(&u.path, &want);
            prop_assert_eq!(split_authority(&u.authority), Ok((host.clone(), port)));
        }
    }
}
