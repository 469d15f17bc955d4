//! HTTP head parsing and writing with real players' and encoders' quirks.

use push_protocol::http::{self, Headers};

#[test]
fn keeps_every_pragma_line_and_the_glued_ffmpeg_line() {
    // ffmpeg's mmsh omits a CRLF, gluing `stream-time=0` to `Connection: Close`.
    let req = b"GET /live HTTP/1.1\r\nPragma: no-cache,rate=1.000000,stream-time=0Connection: Close\r\nPragma: xClientGUID={0x12345678-1234-1234-1234-123456789abc}\r\nPragma: stream-switch-entry=ffff:1:0 ffff:2:0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\n\r\nrest";
    let (head, n) = http::parse_request(req, 4096)
        .expect("tolerant")
        .expect("complete");
    assert_eq!(&req[n..], b"rest");
    let pragmas: Vec<&str> = head.headers.get_all("pragma").collect();
    assert_eq!(pragmas.len(), 3);
    assert!(pragmas[0].ends_with("stream-time=0Connection: Close"));
    assert_eq!(head.headers.get("user-agent"), Some("NSPlayer/7.10.0.3059"));
}

#[test]
fn partial_heads_wait_and_oversized_heads_fail() {
    let req = b"POST /x HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\n";
    assert_eq!(
        http::parse_request(req, 4096).expect("partial is fine"),
        None
    );
    assert!(http::parse_request(req, 10).is_err(), "over the head limit");
    let mut many = b"POST /x HTTP/1.1\r\n".to_vec();
    for i in 0..100 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(
        http::parse_request(&many, 1 << 20).is_err(),
        "too many headers"
    );
}

#[test]
fn writes_names_with_their_casing_and_round_trips() {
    let mut h = Headers::default();
    h.push("Server", "Cougar/9.01.01.3814");
    h.push("Set-Cookie", "push-id=42");
    h.push("WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\"");
    h.push("Content-Length", "0");
    let mut out = Vec::new();
    http::write_response(401, http::reason_phrase(401), 1, &h, &mut out);
    let text = String::from_utf8(out.clone()).expect("ascii");
    assert_eq!(
        text,
        "HTTP/1.1 401 Unauthorized\r\nServer: Cougar/9.01.01.3814\r\nSet-Cookie: push-id=42\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\nContent-Length: 0\r\n\r\n"
    );
    let (head, n) = http::parse_response(&out, 4096)
        .expect("ok")
        .expect("complete");
    assert_eq!(n, out.len());
    assert_eq!(head.status, 401);
    assert_eq!(head.headers, h);
    assert_eq!(head.headers.content_length(), Ok(Some(0)));
}

#[test]
fn media_type_and_cookie_parsing() {
    let mut h = Headers::default();
    h.push("content-type", "Application/X-WMS-PushStart; charset=UTF-8");
    h.push("Cookie", "a=b; push-id=123");
    assert_eq!(
        h.media_type().as_deref(),
        Some("application/x-wms-pushstart")
    );
    assert_eq!(h.cookie("push-id"), Some("123"));
    assert_eq!(h.cookie("nope"), None);
    h.push("Content-Length", "12x");
    assert!(h.content_length().is_err());
}

#[test]
fn request_target_path_and_query() {
    let (head, _) = http::parse_request(b"GET /live?format=asf&x&y=2 HTTP/1.0\r\n\r\n", 4096)
        .expect("valid")
        .expect("complete");
    assert_eq!(head.path(), "/live");
    assert_eq!(head.query(), Some("format=asf&x&y=2"));
    assert_eq!(head.query_param("format"), Some("asf"));
    assert_eq!(head.query_param("x"), Some(""));
    assert_eq!(head.query_param("y"), Some("2"));
    assert_eq!(head.query_param("z"), None);
    let (head, _) = http::parse_request(b"GET /_status HTTP/1.0\r\n\r\n", 4096)
        .expect("valid")
        .expect("complete");
    assert_eq!((head.path(), head.query()), ("/_status", None));
    assert_eq!(head.query_param("format"), None);
}

#[test]
fn head_end_finds_the_blank_line() {
    assert_eq!(http::head_end(b"GET / HTTP/1.0\r\n\r\nbody"), Some(18));
    assert_eq!(http::head_end(b"GET / HTTP/1.0\n\nbody"), Some(16));
    assert_eq!(http::head_end(b"GET / HTTP/1.0\r\nHost: x\r\n"), None);
    assert_eq!(http::head_end(b""), None);
    assert_eq!(http::reason_phrase(405), "Method Not Allowed");
    assert_eq!(http::reason_phrase(431), "Request Header Fields Too Large");
}
