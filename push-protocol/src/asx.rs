//! ASX metafiles for web clients (MS-WMSP 3.2.5.1 and Appendix A <69>:
//! "Windows Media Services will respond to the request with HTTP status
//! code 200 and the message response of the request will contain an ASX
//! file ... that contains the same URL that the client provided").
//!
//! A browser that GETs the stream URL gets a small XML file; Windows Media
//! Player opens it and comes back with an `NSPlayer` User-Agent.

/// MIME type of an ASX metafile as Windows Media Services serves it.
pub const ASX_CONTENT_TYPE: &str = "video/x-ms-asf";

/// Builds the stream URL `<scheme>://<host><path>`. `path` is the request
/// target as received (it keeps its query string); a missing leading `/` is
/// added.
pub fn stream_url(scheme: &str, host: &str, path: &str) -> String {
    let sep = if path.starts_with('/') { "" } else { "/" };
    format!("{scheme}://{host}{sep}{path}")
}

/// Escapes `&`, `<`, `>`, `"` and `'` for an XML attribute value.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// An ASX 3.0 document with one entry whose `<Ref>`s are tried in order.
pub fn asx_document(refs: &[String]) -> String {
    let mut s = String::from("<ASX version=\"3.0\">\r\n  <Entry>\r\n");
    for r in refs {
        s.push_str("    <Ref href=\"");
        s.push_str(&xml_escape(r));
        s.push_str("\"/>\r\n");
    }
    s.push_str("  </Entry>\r\n</ASX>\r\n");
    s
}

/// The metafile pointing back at `host` + `path`, one `<Ref>` per scheme
/// (e.g. `["mms", "http"]`: WMP rolls `mms://` over to MMSH on the same port).
pub fn metafile_for(schemes: &[&str], host: &str, path: &str) -> String {
    let refs: Vec<String> = schemes.iter().map(|s| stream_url(s, host, path)).collect();
    asx_document(&refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_shape() {
        let d = metafile_for(&["mms", "http"], "example:8080", "/live?a=1&b=\"2\"");
        assert_eq!(
            d,
            "<ASX version=\"3.0\">\r\n  <Entry>\r\n    <Ref href=\"mms://example:8080/live?a=1&amp;b=&quot;2&quot;\"/>\r\n    <Ref href=\"http://example:8080/live?a=1&amp;b=&quot;2&quot;\"/>\r\n  </Entry>\r\n</ASX>\r\n"
        );
        assert_eq!(stream_url("http", "h", "x"), "http://h/x");
    }
}
