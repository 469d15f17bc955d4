//! Push client against MS-WMHTTP 4.8's exchange and scripted server responses.

use push_protocol::auth::{Credential, DigestAlgorithm, ServerAuth, ServerScheme};
use push_protocol::framing::{PushFrameDecoder, PushFrameKind};
use push_protocol::http;
use push_protocol::push_client::{ClientEvent, PushClient, PushClientConfig};
use std::time::{Duration, Instant};

fn rng() -> impl FnMut(&mut [u8]) {
    let mut n = 0u8;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(101);
            *b = n;
        }
    }
}

const SPEC_SETUP: &str = "POST /pubPoint HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nX-Accept-Authentication: Negotiate, NTLM, Digest\r\nUser-Agent: WMEncoder/11.0.5721.5145\r\nHost: MediaServer\r\nContent-Length: 16\r\nCache-Control: no-cache\r\nCookie: push-id=0\r\n\r\nAutoDestroy: 1\r\n";
const SPEC_START: &str = "POST /pubPoint HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nX-Accept-Authentication: Negotiate, NTLM, Digest\r\nUser-Agent: WMEncoder/11.0.5721.5145\r\nHost: MediaServer\r\nContent-Length: 2147483647\r\nCache-Control: no-cache\r\nCookie: push-id=4124758405\r\n\r\n";
const SPEC_204: &str = "HTTP/1.1 204 No Content\r\nServer: Cougar/9.5.5732.6324\r\nContent-Length: 0\r\nDate: Mon, 01 Jan 2007 17:45:16 GMT\r\nPragma: no-cache, timeout=60000\r\nCache-Control: no-cache\r\nSet-Cookie: push-id=4124758405\r\nSupported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm, com.microsoft.wm.fastcache, com.microsoft.wm.startupprofile\r\n\r\n";

fn spec_client() -> PushClient {
    let mut cfg = PushClientConfig::new("MediaServer", "/pubPoint");
    cfg.auto_destroy = Some(true);
    PushClient::new(cfg)
}

/// A client whose PushSetup/PushStart with header `HDR` were answered 204: streaming, the
/// transmits so far drained; with the random source it was set up with.
fn streaming_client() -> (PushClient, impl FnMut(&mut [u8])) {
    let mut r = rng();
    let mut c = spec_client();
    c.connect(b"HDR").expect("ok");
    drain(&mut c);
    c.handle_input(0, SPEC_204.as_bytes(), &mut r).expect("ok");
    drain(&mut c);
    (c, r)
}

fn drain(c: &mut PushClient) -> (Vec<ClientEvent>, Vec<(u64, Vec<u8>)>) {
    let mut ev = Vec::new();
    while let Some(e) = c.poll_event() {
        ev.push(e);
    }
    let mut tx = Vec::new();
    while let Some(t) = c.poll_transmit() {
        tx.push(t);
    }
    (ev, tx)
}

/// The bytes of transmits `from..` in order (a `$D` goes out as its 4-byte framing header and
/// the packet itself).
fn joined(tx: &[(u64, Vec<u8>)], from: usize) -> Vec<u8> {
    tx[from..]
        .iter()
        .flat_map(|(_, b)| b.iter().copied())
        .collect()
}

fn frames(bytes: &[u8]) -> Vec<(PushFrameKind, Option<u32>, Vec<u8>)> {
    let mut d = PushFrameDecoder::new();
    d.push(bytes);
    let mut out = Vec::new();
    while let Some(f) = d.next_frame().expect("valid body") {
        out.push((f.kind, f.reason, f.payload.to_vec()));
    }
    out
}

#[test]
fn spec_4_8_requests_byte_for_byte() {
    let mut r = rng();
    let mut c = spec_client();
    c.connect(b"HDR").expect("small header");
    let (ev, tx) = drain(&mut c);
    assert_eq!(
        ev,
        vec![ClientEvent::OpenConnection {
            id: 0,
            authority: "MediaServer".into()
        }]
    );
    assert_eq!(String::from_utf8_lossy(&tx[0].1), SPEC_SETUP);
    // The server side parses the spec's request.
    let (head, n) = http::parse_request(SPEC_SETUP.as_bytes(), 4096)
        .expect("ok")
        .expect("complete");
    assert_eq!(
        head.headers.media_type().as_deref(),
        Some("application/x-wms-pushsetup")
    );
    assert_eq!(head.headers.cookie("push-id"), Some("0"));
    assert_eq!(&SPEC_SETUP.as_bytes()[n..], b"AutoDestroy: 1\r\n");

    c.handle_input(0, SPEC_204.as_bytes(), &mut r)
        .expect("valid response");
    let (ev, tx) = drain(&mut c);
    assert_eq!(
        ev,
        vec![ClientEvent::SetupAccepted {
            push_id: "4124758405".into()
        }]
    );
    assert_eq!(String::from_utf8_lossy(&tx[0].1), SPEC_START);
    assert_eq!(
        frames(&tx[1].1),
        vec![(PushFrameKind::Header, None, b"HDR".to_vec())]
    );

    c.send_packet(b"p1").expect("streaming");
    c.change_stream(b"HDR2").expect("streaming");
    c.end_session().expect("streaming");
    let (ev, tx) = drain(&mut c);
    assert_eq!(
        ev,
        vec![
            ClientEvent::CloseConnection { id: 0 },
            ClientEvent::Finished
        ]
    );
    let body: Vec<u8> = tx.into_iter().flat_map(|(_, b)| b).collect();
    assert_eq!(
        frames(&body),
        vec![
            (PushFrameKind::Data, None, b"p1".to_vec()),
            (PushFrameKind::End, Some(1), vec![]),
            (PushFrameKind::Change, Some(0), b"HDR2".to_vec()),
            (PushFrameKind::End, Some(0), vec![]),
        ]
    );
}

#[test]
fn digest_challenge_retried_on_new_connection() {
    let mut r = rng();
    let now = Instant::now();
    let mut server = ServerAuth::new(
        "wms",
        ServerScheme::Digest(DigestAlgorithm::Md5),
        8,
        Duration::from_secs(60),
    );
    let mut c = spec_client();
    c.connect(b"HDR").expect("ok");
    drain(&mut c);
    let challenge = server.challenge(&mut r, now);
    let resp = format!(
        "HTTP/1.1 401 Unauthorized\r\nServer: Cougar/9.01.01.3814\r\nWWW-Authenticate: {challenge}\r\nSet-Cookie: push-id=77\r\nContent-Length: 0\r\n\r\n"
    );
    c.handle_input(0, resp.as_bytes(), &mut r).expect("ok");
    let (ev, _) = drain(&mut c);
    assert_eq!(
        ev,
        vec![ClientEvent::AuthenticationNeeded {
            scheme: "Digest",
            realm: "wms".into()
        }]
    );
    c.set_credentials("enc", "secret", &mut r)
        .expect("challenge pending");
    let (ev, tx) = drain(&mut c);
    assert_eq!(
        ev,
        vec![
            ClientEvent::CloseConnection { id: 0 },
            ClientEvent::OpenConnection {
                id: 1,
                authority: "MediaServer".into()
            }
        ]
    );
    let (head, _) = http::parse_request(&tx[0].1, 4096)
        .expect("ok")
        .expect("complete");
    assert_eq!(head.headers.cookie("push-id"), Some("77"));
    let lookup = |u: &str| (u == "enc").then(|| Credential::Password("secret".into()));
    assert_eq!(
        server.verify(head.headers.get("Authorization"), "POST", &lookup, now),
        Ok("enc".into())
    );
}

#[test]
fn redirect_then_refusal() {
    let mut r = rng();
    let mut c = spec_client();
    c.connect(b"H").expect("ok");
    drain(&mut c);
    c.handle_input(
        0,
        b"HTTP/1.1 302 Found\r\nLocation: http://other:8080/pp2\r\nContent-Length: 0\r\n\r\n",
        &mut r,
    )
    .expect("ok");
    let (ev, tx) = drain(&mut c);
    assert!(ev.contains(&ClientEvent::OpenConnection {
        id: 1,
        authority: "other:8080".into()
    }));
    assert!(String::from_utf8_lossy(&tx[0].1).starts_with("POST /pp2 HTTP/1.1\r\n"));
    c.handle_input(
        1,
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        &mut r,
    )
    .expect("ok");
    let (ev, _) = drain(&mut c);
    assert!(ev.contains(&ClientEvent::Rejected {
        status: 403,
        reason: "Forbidden".into()
    }));
    // A 204 from something that is not a media server is refused too.
    let mut c = spec_client();
    c.connect(b"H").expect("ok");
    drain(&mut c);
    c.handle_input(
        0,
        b"HTTP/1.1 204 No Content\r\nServer: nginx\r\n\r\n",
        &mut r,
    )
    .expect("ok");
    assert!(matches!(
        drain(&mut c).0[..],
        [ClientEvent::Rejected { status: 204, .. }]
    ));
}

#[test]
fn proxy_budget_filled_exactly_then_next_push_start() {
    let mut r = rng();
    let mut cfg = PushClientConfig::new("h", "/p");
    cfg.proxy = true;
    cfg.proxy_budget = 100;
    let mut c = PushClient::new(cfg);
    c.connect(&[1; 10]).expect("ok");
    drain(&mut c);
    c.handle_input(0, SPEC_204.as_bytes(), &mut r).expect("ok");
    let (_, tx) = drain(&mut c);
    let body0: usize = tx[1..].iter().map(|(_, b)| b.len()).sum();
    assert_eq!(body0, 14);
    for _ in 0..3 {
        c.send_packet(&[2; 30]).expect("ok"); // 34 bytes each: 14 + 34 + 34 = 82, the third does not fit
    }
    let (_, tx) = drain(&mut c);
    let body: Vec<u8> = tx.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(body.len(), 86);
    let f = frames(&body);
    assert_eq!(f.last().map(|x| x.0), Some(PushFrameKind::Fill));
    assert_eq!(c.remaining(), 0);
    c.handle_input(0, SPEC_204.as_bytes(), &mut r).expect("ok");
    let (ev, tx) = drain(&mut c);
    assert_eq!(ev, vec![ClientEvent::PushStartRenewed]);
    let head = String::from_utf8_lossy(&tx[0].1);
    assert!(head.contains("Content-Length: 100\r\n"), "{head}");
    assert_eq!(
        frames(&joined(&tx, 1)),
        vec![(PushFrameKind::Data, None, vec![2; 30])],
        "no new $H"
    );
}

#[test]
fn resume_after_drop_keeps_push_id_and_sends_no_header() {
    let (mut c, mut r) = streaming_client();
    c.handle_connection_closed(0);
    c.resume(&mut r).expect("dropped session");
    c.send_packet(b"x").expect("ok");
    let (ev, tx) = drain(&mut c);
    assert_eq!(
        ev,
        vec![ClientEvent::OpenConnection {
            id: 1,
            authority: "MediaServer".into()
        }]
    );
    let (head, _) = http::parse_request(&tx[0].1, 4096)
        .expect("ok")
        .expect("complete");
    assert_eq!(head.headers.cookie("push-id"), Some("4124758405"));
    assert_eq!(
        head.headers.media_type().as_deref(),
        Some("application/x-wms-pushstart")
    );
    assert_eq!(
        frames(&joined(&tx, 1)),
        vec![(PushFrameKind::Data, None, b"x".to_vec())]
    );
    assert!(c.connect(b"H").is_err());
}

#[test]
fn send_packet_bytes_hands_out_the_callers_buffer() {
    let (mut c, _) = streaming_client();
    let packet = bytes::Bytes::from(vec![5u8; 3000]);
    let at = packet.as_ptr();
    c.send_packet_bytes(packet).expect("streaming");
    let (_, head) = c.poll_transmit_bytes().expect("framing header");
    assert_eq!(&head[..], &[b'$', b'D', 0xB8, 0x0B]);
    let (_, body) = c.poll_transmit_bytes().expect("the packet");
    assert_eq!(body.as_ptr(), at, "the same buffer, not a copy");
    assert_eq!(body.len(), 3000);
    assert!(
        c.send_packet_bytes(bytes::Bytes::from(vec![0u8; 65_532]))
            .is_err()
    );
}

#[test]
fn send_data_frame_hands_out_the_callers_frame_and_checks_it() {
    let (mut c, _) = streaming_client();
    // A frame built in the caller's buffer: $D, length 3000, the packet.
    let mut frame = vec![b'$', b'D', 0xB8, 0x0B];
    frame.extend_from_slice(&[5u8; 3000]);
    let frame = bytes::Bytes::from(frame);
    let at = frame.as_ptr();
    c.send_data_frame(frame).expect("streaming");
    let (_, out) = c.poll_transmit_bytes().expect("the frame");
    assert_eq!(out.as_ptr(), at, "the same buffer, in one piece");
    assert_eq!(out.len(), 3004);
    assert!(c.poll_transmit_bytes().is_none());
    // The same bytes as send_packet_bytes puts on the wire.
    c.send_packet_bytes(bytes::Bytes::from(vec![5u8; 3000]))
        .expect("streaming");
    let (_, head) = c.poll_transmit_bytes().expect("framing header");
    let (_, body) = c.poll_transmit_bytes().expect("the packet");
    assert_eq!([&head[..], &body[..]].concat(), out.to_vec());
    // Refused: not $D, a length that does not match, too short, over 65,531 bytes.
    let bad = |f: Vec<u8>| bytes::Bytes::from(f);
    let mut wrong_kind = out.to_vec();
    wrong_kind[1] = b'H';
    assert!(c.send_data_frame(bad(wrong_kind)).is_err());
    let mut wrong_len = out.to_vec();
    wrong_len.pop();
    assert!(c.send_data_frame(bad(wrong_len)).is_err());
    assert!(c.send_data_frame(bad(b"$D".to_vec())).is_err());
    let mut huge = vec![b'$', b'D', 0xFC, 0xFF];
    huge.resize(4 + 65_532, 0);
    assert!(c.send_data_frame(bad(huge)).is_err());
    assert!(c.poll_transmit_bytes().is_none());
}
