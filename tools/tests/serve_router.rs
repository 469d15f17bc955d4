//! The server's router: each connection's first request head is read and parsed once, then
//! handed, with the bytes read past it, to its front-end (status, player, plain ASF,
//! encoder). Bad heads get 400, unknown methods 405, unknown `/_` pages 404; bytes that
//! arrive in the head's segment reach the front-end.

mod support;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::*;

/// Sends `bytes` in one write on a new connection and reads the response.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(bytes).expect("write");
    read_response(&mut s)
}

#[test]
fn router_answers_bad_heads_unknown_methods_and_pages() {
    let (_server, addr) = start_serve(&[]);
    assert_eq!(exchange(addr, b"\x00\x01garbage\r\n\r\n").status, 400);
    assert_eq!(exchange(addr, b"GET / HTTP/9\r\n\r\n").status, 400);
    let r = exchange(addr, b"PUT /live HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.status, 405);
    assert!(r.header("Server").is_some(), "{r:?}");
    assert_eq!(exchange(addr, b"OPTIONS * HTTP/1.1\r\n\r\n").status, 405);
    assert_eq!(http_get(addr, "/_nothing").status, 404);
    // The server keeps serving after all that.
    assert_eq!(http_get(addr, "/_status").status, 200);
}

#[test]
fn status_pages_are_served_from_one_parsed_head() {
    let (_server, addr) = start_serve(&[]);
    let r = http_get(addr, "/_status");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    assert!(
        doc["server"]["connections_total"].as_u64() >= Some(1),
        "{doc}"
    );
    let r = http_get(addr, "/_status.html");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    let r = http_get(addr, "/_metrics?x=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/plain; version=0.0.4"));
    let text = String::from_utf8_lossy(&r.body);
    assert!(
        text.contains("# TYPE wmpush_uptime_seconds gauge\nwmpush_uptime_seconds "),
        "{text}"
    );
    assert!(text.contains("\nwmpush_points 0\n"), "{text}");
    // A head ended by bare LFs (RFC 9112 2.2 allows them) is a head too.
    assert_eq!(exchange(addr, b"GET /_status HTTP/1.0\n\n").status, 200);
}

#[test]
fn bytes_in_the_heads_segment_reach_the_front_end() {
    let (_server, addr) = start_serve(&[]);
    let stream = test_stream(2);
    let mut pusher = RawPusher::new(addr, "/seg");
    // PushSetup: head and directives in one write.
    assert_eq!(pusher.setup("AutoDestroy: 0\r\n", None).status, 204);
    // PushStart: head, `$H` and the first second of `$D` in one write.
    let mut first = frame(b'H', &stream.header);
    for packet in stream.frames.iter().take(10).flatten() {
        first.extend_from_slice(&frame(b'D', packet));
    }
    pusher.start_with(None, &first);
    assert!(
        wait_until(Duration::from_secs(5), || point(&status_json(addr), "seg")
            .is_some_and(|p| p["live"] == true)),
        "the header pushed with the PushStart head made the point live"
    );
    // A player's Describe, with stray bytes after its head in the same segment.
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(
        b"GET /seg HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nPragma: no-cache\r\n\r\nstray",
    )
    .expect("write");
    let r = read_response(&mut s);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("application/vnd.ms.wms-hdr.asfv1")
    );
    assert_eq!(&r.body[..2], b"$H", "the header as $H");
    // Plain ASF: the pushed header, as is.
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /seg?format=asf HTTP/1.0\r\n\r\n")
        .expect("write");
    let r = read_response(&mut s);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("video/x-ms-asf"));
    let mut header = vec![0u8; stream.header.len()];
    s.read_exact(&mut header).expect("header");
    assert_eq!(header, stream.header);
    // A player on a point that does not exist: 404 from the player front-end.
    let r = exchange(
        addr,
        b"GET /nope HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nPragma: xPlayStrm=1\r\n\r\n",
    );
    assert_eq!(r.status, 404);
}
