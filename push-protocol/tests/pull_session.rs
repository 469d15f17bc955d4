//! Pull client and pull server talking in memory (no sockets): Describe,
//! Play, packets in order, header change, end of stream, redirects, errors.

mod pull_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use pull_support::*;
use push_protocol::pull_client::{PullClient, PullClientConfig, PullClientEvent, stream_numbers};
use push_protocol::pull_server::{PullError, PullServerConfig};

#[test]
fn describe_play_packets_change_end() {
    let h1 = asf_header(&[1, 2], 3200, 0);
    let h2 = asf_header(&[3], 1600, 5);
    let mut script: Vec<Step> = (0..5)
        .map(|i| Step::Packet(packet(i, 3000 + i as usize)))
        .collect();
    script.push(Step::ChangeHeader(h2.clone()));
    script.extend((5..8).map(|i| Step::Packet(packet(i, 1600))));
    script.push(Step::End);
    let (events, server_out, client_out) = run_session(
        PullClientConfig::default(),
        PullServerConfig {
            end_entry_before_change: true,
            ..Default::default()
        },
        h1.clone(),
        &script,
        &[],
    );
    assert_eq!(server_out.len(), 2, "Describe and Play connections");
    let mut it = events.into_iter();
    assert_eq!(
        it.next(),
        Some(PullClientEvent::Described {
            header: h1.clone(),
            streams: vec![1, 2],
            client_id: Some(4242)
        })
    );
    assert_eq!(it.next(), Some(PullClientEvent::Playing { header: h1 }));
    for i in 0..5u32 {
        assert_eq!(
            it.next(),
            Some(PullClientEvent::Packet {
                location_id: i,
                data: packet(i, 3000 + i as usize)
            })
        );
    }
    assert_eq!(
        it.next(),
        Some(PullClientEvent::HeaderChanged {
            header: h2,
            streams: vec![3]
        })
    );
    for i in 5..8u32 {
        assert_eq!(
            it.next(),
            Some(PullClientEvent::Packet {
                location_id: i,
                data: packet(i, 1600)
            })
        );
    }
    assert_eq!(it.next(), Some(PullClientEvent::Ended { reason: 0 }));
    assert_eq!(it.next(), None);

    // The client's requests look like VLC's (interop notes §4).
    let describe = String::from_utf8(client_out[0].clone()).expect("ascii");
    assert_eq!(
        describe,
        "GET /live HTTP/1.0\r\n\
Accept: */*\r\n\
User-Agent: NSPlayer/7.10.0.3059\r\n\
Host: 127.0.0.1:8080\r\n\
Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0\r\n\
Pragma: xClientGUID={3300AD50-2C39-46c0-AE0A-70B2B2CBA2EB}\r\n\
Connection: Close\r\n\r\n"
    );
    let play = String::from_utf8(client_out[1].clone()).expect("ascii");
    assert_eq!(
        play,
        "GET /live HTTP/1.0\r\n\
Accept: */*\r\n\
User-Agent: NSPlayer/7.10.0.3059\r\n\
Host: 127.0.0.1:8080\r\n\
Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=4294967295:4294967295,request-context=2,max-duration=0\r\n\
Pragma: xClientGUID={3300AD50-2C39-46c0-AE0A-70B2B2CBA2EB}\r\n\
Pragma: xPlayStrm=1\r\n\
Pragma: client-id=4242\r\n\
Pragma: stream-switch-count=2\r\n\
Pragma: stream-switch-entry=ffff:1:0 ffff:2:0 \r\n\
Connection: Close\r\n\r\n"
    );
}

#[test]
fn fragmented_header_is_reassembled_and_hex_streams_requested() {
    let h = asf_header(&[1, 12], 3200, 150_000);
    let (events, _, client_out) = run_session(
        PullClientConfig::default(),
        PullServerConfig::default(),
        h.clone(),
        &[Step::Packet(packet(0, 3200)), Step::End],
        &[1000, 7, 65_536],
    );
    assert!(
        matches!(&events[0], PullClientEvent::Described { header, streams, .. } if *header == h && *streams == vec![1, 12])
    );
    assert!(matches!(&events[1], PullClientEvent::Playing { header } if *header == h));
    assert!(
        String::from_utf8_lossy(&client_out[1])
            .contains("stream-switch-entry=ffff:1:0 ffff:c:0 \r\n")
    );
    assert_eq!(events.len(), 4);
}

#[test]
fn eof_without_e_ends_play_and_missing_header_fails() {
    let h = asf_header(&[1], 3200, 0);
    let (events, _, _) = run_session(
        PullClientConfig::default(),
        PullServerConfig::default(),
        h,
        &[Step::Packet(packet(0, 10))],
        &[],
    );
    // Server never closes (no End), so the client sees no Ended yet.
    assert!(matches!(
        events.last(),
        Some(PullClientEvent::Packet { .. })
    ));

    let now = Instant::now();
    let mut c = PullClient::new(PullClientConfig::default(), "h:1", "x", now);
    assert!(matches!(
        c.poll_event(),
        Some(PullClientEvent::Connect { .. })
    ));
    c.handle_connected(now);
    let req = c.poll_transmit().expect("request");
    assert!(req.starts_with(b"GET /x HTTP/1.0\r\n"));
    c.handle_input(
        b"HTTP/1.0 200 OK\r\nContent-Type: application/vnd.ms.wms-hdr.asfv1\r\n\r\n",
        now,
    );
    c.handle_eof(now);
    assert!(matches!(
        c.poll_event(),
        Some(PullClientEvent::Failed(PullError::Protocol(_)))
    ));
    assert!(c.is_done());
}

fn client_with_response(resp: &[u8]) -> (PullClient, Vec<PullClientEvent>) {
    let now = Instant::now();
    let mut c = PullClient::new(PullClientConfig::default(), "h:1", "/x", now);
    let _ = c.poll_event();
    c.handle_connected(now);
    let _ = c.poll_transmit();
    c.handle_input(resp, now);
    let mut ev = Vec::new();
    while let Some(e) = c.poll_event() {
        ev.push(e);
    }
    (c, ev)
}

#[test]
fn http_errors_and_redirects() {
    let (c, ev) = client_with_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        ev,
        vec![PullClientEvent::Failed(PullError::HttpStatus {
            status: 404
        })]
    );
    assert!(c.is_done());

    let (mut c, ev) =
        client_with_response(b"HTTP/1.0 302 Found\r\nLocation: http://other:9/y\r\n\r\n");
    assert_eq!(
        ev,
        vec![
            PullClientEvent::Redirected {
                location: "http://other:9/y".into()
            },
            PullClientEvent::Connect {
                authority: "other:9".into()
            }
        ]
    );
    let now = Instant::now();
    c.handle_connected(now);
    let req = c.poll_transmit().expect("request");
    assert!(req.starts_with(b"GET /y HTTP/1.0\r\n"));
    assert!(String::from_utf8_lossy(&req).contains("Host: other:9\r\n"));

    // Bounded: the 6th redirect fails.
    let cfg = PullClientConfig {
        max_redirects: 5,
        ..Default::default()
    };
    let mut c = PullClient::new(cfg, "h:1", "/x", now);
    let mut failed = None;
    for _ in 0..10 {
        while let Some(e) = c.poll_event() {
            if let PullClientEvent::Failed(e) = e {
                failed = Some(e);
            }
        }
        if c.is_done() {
            break;
        }
        c.handle_connected(now);
        let _ = c.poll_transmit();
        c.handle_input(b"HTTP/1.0 302 Found\r\nLocation: /again\r\n\r\n", now);
    }
    assert_eq!(failed, Some(PullError::TooManyRedirects(5)));
}

#[test]
fn bad_frames_and_limits_fail_cleanly() {
    let (_, ev) = client_with_response(b"HTTP/1.0 200 OK\r\n\r\n\x24\x5A\x00\x00");
    assert!(matches!(
        ev[0],
        PullClientEvent::Failed(PullError::BadFrame { offset: 0, .. })
    ));
    let (_, ev) = client_with_response(b"HTTP/1.0 200 OK\r\n\r\n\x24\x48\x04\x00abcd");
    assert!(matches!(
        ev[0],
        PullClientEvent::Failed(PullError::BadFrame { .. })
    ));
    let mut big = b"HTTP/1.0 200 OK\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20_000));
    let (_, ev) = client_with_response(&big);
    assert!(matches!(
        ev[0],
        PullClientEvent::Failed(PullError::HeadTooLarge { .. })
    ));
    // A $H that is not an ASF header.
    let mut bad = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    bad.extend_from_slice(&[0x24, 0x48, 12, 0, 0, 0, 0, 0, 0, 0x0C, 12, 0, 1, 2, 3, 4]);
    let (_, ev) = client_with_response(&bad);
    assert!(matches!(ev[0], PullClientEvent::Failed(PullError::Asf(_))));
}

#[test]
fn idle_timeout_fails_the_client() {
    let now = Instant::now();
    let mut c = PullClient::new(PullClientConfig::default(), "h:1", "/x", now);
    let _ = c.poll_event();
    assert_eq!(c.poll_timeout(), None);
    c.handle_connected(now);
    let t = c.poll_timeout().expect("armed");
    assert_eq!(t, now + Duration::from_secs(30));
    c.handle_timeout(t);
    assert!(matches!(
        c.poll_event(),
        Some(PullClientEvent::Failed(PullError::Protocol(_)))
    ));
}

#[test]
fn stream_numbers_walk() {
    assert_eq!(
        stream_numbers(&asf_header(&[2, 1, 2], 100, 0)).expect("ok"),
        vec![2, 1]
    );
    assert!(stream_numbers(&[0u8; 10]).is_err());
    let mut h = asf_header(&[1], 100, 0).to_vec();
    // Corrupt the File Properties size.
    h[30 + 16] = 0xFF;
    h[30 + 23] = 0x7F;
    // asf-format keeps the unwalkable objects raw; no stream is left.
    assert!(matches!(
        stream_numbers(&h),
        Err(PullError::BadHeader { offset: 30, .. })
    ));
    // A header object that is cut short is asf-format's error, with its offset.
    let short = asf_header(&[1], 100, 0);
    match stream_numbers(&short[..40]) {
        Err(PullError::Asf(e)) => assert!(e.offset().is_some(), "{e}"),
        other => panic!("expected an asf-format error, got {other:?}"),
    }
    assert!(stream_numbers(&Bytes::new()).is_err());
}

#[test]
fn client_skips_m_packets_from_a_cougar_server() {
    let h = asf_header(&[1, 2], 3200, 0);
    let client = PullClientConfig {
        user_agent: "NSPlayer/12.0.7601.17514".into(),
        ..Default::default()
    };
    let server = PullServerConfig {
        server: "Cougar/9.01.01.3814".into(),
        ..Default::default()
    };
    let h2 = asf_header(&[2], 3200, 1);
    let (events, server_out, _) = run_session(
        client,
        server,
        h.clone(),
        &[
            Step::Packet(packet(0, 100)),
            Step::ChangeHeader(h2.clone()),
            Step::End,
        ],
        &[5],
    );
    let (_, body) = split_response(&server_out[0]);
    assert_eq!(&body[..2], &[0x24, 0x4D], "Describe starts with $M");
    assert!(matches!(&events[0], PullClientEvent::Described { header, .. } if *header == h));
    assert!(matches!(&events[1], PullClientEvent::Playing { header } if *header == h));
    assert!(
        matches!(&events[3], PullClientEvent::HeaderChanged { header, streams } if *header == h2 && *streams == vec![2])
    );
    assert_eq!(events[4], PullClientEvent::Ended { reason: 0 });
}

#[test]
fn ffmpeg_asf_stream_style_e_with_preheader_is_a_clean_end() {
    use push_protocol::pull_server::wire::{ID_END, PullFrameDecoder};
    // interop-tools.md §2: ffmpeg -f asf_stream ends with `24 45 08 00` +
    // LocationId 287 + Incarnation 0 + AFFlags 0 + PacketSize 8.
    let mut d = PullFrameDecoder::new();
    d.push(&[0x24, 0x45, 8, 0, 0x1F, 0x01, 0, 0, 0, 0, 8, 0]);
    let f = d.next_frame().expect("valid").expect("frame");
    assert_eq!((f.id, f.location_id, f.reason), (ID_END, 287, None));
    // The spec form: Reason 0x80004005 (an error HRESULT).
    d.push(&[0x24, 0x45, 4, 0, 0x05, 0x40, 0x00, 0x80]);
    let f = d.next_frame().expect("valid").expect("frame");
    assert_eq!(f.reason, Some(0x8000_4005));
    assert_eq!(d.offset(), 20);
}

#[test]
fn describe_only_and_stream_subset() {
    let h = asf_header(&[1, 2, 3], 3200, 0);
    let (events, server_out, _) = run_session(
        PullClientConfig {
            describe_only: true,
            ..Default::default()
        },
        PullServerConfig::default(),
        h.clone(),
        &[],
        &[],
    );
    assert_eq!(server_out.len(), 1, "no Play connection");
    assert!(
        matches!(&events[0], PullClientEvent::Described { streams, .. } if *streams == vec![1, 2, 3])
    );
    assert_eq!(events[1], PullClientEvent::Ended { reason: 0 });

    let (_, _, client_out) = run_session(
        PullClientConfig {
            streams: Some(vec![3, 9]),
            ..Default::default()
        },
        PullServerConfig::default(),
        h,
        &[Step::End],
        &[],
    );
    let play = String::from_utf8_lossy(&client_out[1]);
    assert!(
        play.contains("Pragma: stream-switch-count=1\r\nPragma: stream-switch-entry=ffff:3:0 \r\n"),
        "{play}"
    );
}

#[test]
fn fuzz_regression_redirect_location_with_multibyte_text() {
    // From the pull_server fuzz target: a 302 whose Location holds bytes that
    // are not UTF-8 (read as U+FFFD) used to panic on a str slice.
    let (c, ev) = client_with_response(b"HTTP/1.0 302 Found\r\nLocation: yx\x84\x84\x84\r\n\r\n");
    assert_eq!(
        ev,
        vec![PullClientEvent::Failed(PullError::Protocol(
            "unusable redirect Location"
        ))]
    );
    assert!(c.is_done());
}

#[test]
fn authorization_is_sent_and_challenges_are_kept() {
    let now = Instant::now();
    let cfg = PullClientConfig {
        authorization: Some("Basic dXNlcjpwYXNz".into()),
        ..Default::default()
    };
    let mut c = PullClient::new(cfg, "h:1", "/x", now);
    let _ = c.poll_event();
    c.handle_connected(now);
    let req = c.poll_transmit().expect("request");
    assert!(String::from_utf8_lossy(&req).contains("\r\nAuthorization: Basic dXNlcjpwYXNz\r\n"));
    c.handle_input(
        b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"wms\", nonce=\"abc\", qop=\"auth\"\r\nWWW-Authenticate: Basic realm=\"wms\"\r\n\r\n",
        now,
    );
    assert_eq!(
        c.poll_event(),
        Some(PullClientEvent::Failed(PullError::HttpStatus {
            status: 401
        }))
    );
    assert_eq!(
        c.challenges(),
        &[
            "Digest realm=\"wms\", nonce=\"abc\", qop=\"auth\"".to_owned(),
            "Basic realm=\"wms\"".to_owned()
        ]
    );
}
