//! HTTP/1.x heads for the push protocol: parsed with httparse, written from ordered
//! (name, value) lists so the header-name casing real encoders expect survives.
//!
//! `http::HeaderMap` lowercases names; WMEncoder does not cope with re-cased `Content-Length`,
//! `Set-Cookie` or `WWW-Authenticate` (Flumotion's note), so heads here keep names as written.
//! Every `Pragma:` line is kept. Push never uses chunked bodies (MS-WMHTTP 2.2.1).

use crate::error::Error;

/// Default limit on the size of a request or response head.
pub const DEFAULT_MAX_HEAD: usize = 16 * 1024;
/// Most header lines a head may carry.
pub const MAX_HEADERS: usize = 64;

/// An ordered header list that keeps names exactly as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// First value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` in order (e.g. all `Pragma` lines).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Appends a header line.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_string(), value.into()));
    }

    /// The value of cookie `name` from every `Cookie` line.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.get_all("Cookie")
            .flat_map(|line| line.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// `Content-Length` as a number; an error if present but not a decimal number.
    pub fn content_length(&self) -> Result<Option<u64>, Error> {
        match self.get("Content-Length") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| Error::Http("Content-Length is not a decimal number")),
        }
    }

    /// The media type of `Content-Type`, lowercased, without parameters such as `;charset=UTF-8`.
    pub fn media_type(&self) -> Option<String> {
        self.get("Content-Type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Request target as sent, e.g. `/pubPoint`.
    pub target: String,
    /// Minor HTTP version (0 or 1).
    pub version: u8,
    /// Header lines in order.
    pub headers: Headers,
}

impl RequestHead {
    /// The target's path: everything before the first `?` (not percent-decoded).
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The target's query: everything after the first `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The value of the first `name=value` pair of the query named `name` (exact case, not
    /// percent-decoded); `Some("")` for a bare `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()?
            .split('&')
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Minor HTTP version (0 or 1).
    pub version: u8,
    /// Header lines in order.
    pub headers: Headers,
}

fn collect(headers: &[httparse::Header<'_>]) -> Headers {
    Headers(
        headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect(),
    )
}

fn check_size(buf: &[u8], max_head: usize) -> Result<(), Error> {
    if buf.len() > max_head {
        Err(Error::TooLarge {
            what: "HTTP head",
            len: buf.len(),
            limit: max_head,
        })
    } else {
        Ok(())
    }
}

/// The index just past the blank line (CRLF CRLF, or a bare LF LF) that ends a head in `buf`,
/// if there is one: a cheap scan, so a reader fed one small read at a time calls
/// [`parse_request`] once the blank line is there instead of after every read. Scanning may
/// resume 3 bytes before the end of what was scanned before.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Where the request head at the start of `buf` ends, as [`head_end`] finds it, with the
/// blank lines RFC 9112 2.2 lets a client send before the request line skipped (they do not
/// end the head). `scanned` is how many bytes earlier calls already looked at: scanning
/// resumes 3 bytes before it, so a reader fed one read at a time stays linear, and any
/// chunking of the same bytes finds the same end.
pub fn request_head_end(buf: &[u8], scanned: usize) -> Option<usize> {
    let leading = buf
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    let from = scanned.saturating_sub(3).max(leading);
    head_end(&buf[from..]).map(|end| end + from)
}

/// Parses a request head from the start of `buf`: `Ok(None)` if incomplete, else the head and
/// its length in bytes (the body starts there). Heads over `max_head` bytes are an error.
pub fn parse_request(buf: &[u8], max_head: usize) -> Result<Option<(RequestHead, usize)>, Error> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage);
    // Tolerate real players' quirks: invalid header lines are skipped, not fatal.
    let status = httparse::ParserConfig::default()
        .ignore_invalid_headers_in_requests(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .parse_request(&mut req, buf);
    match status {
        Ok(httparse::Status::Partial) => check_size(buf, max_head).map(|()| None),
        Ok(httparse::Status::Complete(n)) => {
            check_size(&buf[..n], max_head)?;
            Ok(Some((
                RequestHead {
                    method: req.method.unwrap_or_default().to_string(),
                    target: req.path.unwrap_or_default().to_string(),
                    version: req.version.unwrap_or(1),
                    headers: collect(req.headers),
                },
                n,
            )))
        }
        Err(httparse::Error::TooManyHeaders) => Err(Error::TooLarge {
            what: "HTTP header count",
            len: MAX_HEADERS + 1,
            limit: MAX_HEADERS,
        }),
        Err(_) => Err(Error::Http("malformed request head")),
    }
}

/// Parses a response head from the start of `buf` (see [`parse_request`]).
pub fn parse_response(buf: &[u8], max_head: usize) -> Result<Option<(ResponseHead, usize)>, Error> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut storage);
    let status = httparse::ParserConfig::default()
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .parse_response(&mut res, buf);
    match status {
        Ok(httparse::Status::Partial) => check_size(buf, max_head).map(|()| None),
        Ok(httparse::Status::Complete(n)) => {
            check_size(&buf[..n], max_head)?;
            Ok(Some((
                ResponseHead {
                    status: res.code.unwrap_or_default(),
                    reason: res.reason.unwrap_or_default().to_string(),
                    version: res.version.unwrap_or(1),
                    headers: collect(res.headers),
                },
                n,
            )))
        }
        Err(httparse::Error::TooManyHeaders) => Err(Error::TooLarge {
            what: "HTTP header count",
            len: MAX_HEADERS + 1,
            limit: MAX_HEADERS,
        }),
        Err(_) => Err(Error::Http("malformed response head")),
    }
}

/// Writes `METHOD target HTTP/1.x`, the headers in order with their casing, and the blank line.
pub fn write_request(
    method: &str,
    target: &str,
    version: u8,
    headers: &Headers,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(format!("{method} {target} HTTP/1.{version}\r\n").as_bytes());
    write_headers(headers, out);
}

/// Writes `HTTP/1.x status reason`, the headers in order with their casing, and the blank line.
pub fn write_response(
    status: u16,
    reason: &str,
    version: u8,
    headers: &Headers,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(format!("HTTP/1.{version} {status} {reason}\r\n").as_bytes());
    write_headers(headers, out);
}

fn write_headers(headers: &Headers, out: &mut Vec<u8>) {
    for (n, v) in &headers.0 {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The standard reason phrase of an HTTP status (RFC 9110 15) for the statuses push, pull and
/// the publishing-point server send; `"Unknown"` for others.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}
