//! Property tests of the pull side: Pragma round trips, chunking
//! independence of server and client, and `$H` fragmentation round trips.

mod pull_support;

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use pull_support::*;
use push_protocol::pragma::{
    Directive, Pragmas, StreamSwitchEntry, directive_text, stream_switch_line,
};
use push_protocol::pull_client::{PullClientConfig, PullClientEvent};
use push_protocol::pull_server::wire::{self, PullFrameDecoder};
use push_protocol::pull_server::{
    PullServerConfig, PullServerConnection, PullServerEvent, Session,
};

fn directive() -> impl Strategy<Value = Directive> {
    prop_oneof![
        Just(Directive::NoCache),
        (0i32..6, 0u32..1000).prop_map(|(i, f)| Directive::Rate {
            raw: format!("{i}.{f:03}"),
            milli: i * 1000 + f as i32
        }),
        any::<u32>().prop_map(Directive::StreamTime),
        (any::<u32>(), any::<u32>()).prop_map(|(high, low)| Directive::StreamOffset { high, low }),
        any::<u32>().prop_map(Directive::RequestContext),
        any::<u32>().prop_map(Directive::MaxDuration),
        any::<bool>().prop_map(Directive::PlayStream),
        any::<bool>().prop_map(Directive::PlayNextEntry),
        any::<u32>().prop_map(Directive::ClientId),
        any::<u32>().prop_map(Directive::StreamSwitchCount),
        any::<bool>().prop_map(Directive::Version11Enabled),
        any::<u32>().prop_map(Directive::PipelineRequest),
        any::<u32>().prop_map(Directive::LinkBw),
        any::<u32>().prop_map(Directive::AccelBw),
        any::<u32>().prop_map(Directive::Timeout),
        proptest::collection::vec("[a-z]{1,10}", 1..4).prop_map(Directive::Features),
        (
            "[a-z][a-z0-9]{0,12}",
            proptest::option::of("[a-z0-9.]{1,8}")
        )
            .prop_filter("not a known token", |(n, _)| !matches!(
                n.as_str(),
                "rate" | "timeout" | "features" | "linkbw" | "accelbw" | "accelduration"
            ))
            .prop_map(|(name, value)| Directive::Unknown { name, value }),
    ]
}

fn switch_entry() -> impl Strategy<Value = StreamSwitchEntry> {
    (1u16..128, 0u8..3).prop_map(|(n, t)| {
        StreamSwitchEntry::parse(&format!("ffff:{n:x}:{t}")).expect("valid entry")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn pragma_lines_round_trip(
        lines in proptest::collection::vec(proptest::collection::vec(directive(), 1..6), 1..4),
        entries in proptest::collection::vec(switch_entry(), 0..5),
    ) {
        let mut texts: Vec<String> = lines
            .iter()
            .map(|l| l.iter().filter_map(directive_text).collect::<Vec<_>>().join(","))
            .collect();
        if !entries.is_empty() {
            texts.push(stream_switch_line(&entries));
        }
        let p = Pragmas::parse_all(texts.iter().map(String::as_str));
        let mut expect: Vec<Directive> = lines.into_iter().flatten().collect();
        if !entries.is_empty() {
            expect.push(Directive::StreamSwitchEntries(entries.clone()));
        }
        prop_assert_eq!(p.directives(), expect.as_slice());
        for e in &entries {
            let n = e.to_hex.expect("hex");
            let last = entries.iter().rev().find(|x| x.names(n)).expect("named");
            prop_assert_eq!(p.selects(n), last.thinning != 2);
        }
    }

    #[test]
    fn pragma_parse_never_panics(line in ".{0,300}") {
        let p = Pragmas::parse_all([line.as_str()]);
        prop_assert!(p.directives().len() <= push_protocol::pragma::MAX_DIRECTIVES);
    }

    #[test]
    fn server_output_independent_of_input_chunking(
        cuts in proptest::collection::vec(1usize..40, 1..20),
        packets in proptest::collection::vec(1usize..5000, 0..8),
    ) {
        let request: &[u8] = b"GET /live HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nHost: h:1\r\n\
Pragma: no-cache,rate=1.000000,stream-time=0,request-context=2\r\nPragma: xPlayStrm=1\r\n\
Pragma: stream-switch-count=1\r\nPragma: stream-switch-entry=ffff:1:0 \r\n\r\n";
        let header = asf_header(&[1], 5000, 0);
        let run = |chunked: bool| {
            let now = Instant::now();
            let mut s = PullServerConnection::new(PullServerConfig::default(), now);
            if chunked {
                let mut at = 0;
                let mut i = 0;
                while at < request.len() {
                    let n = cuts[i % cuts.len()].min(request.len() - at);
                    s.handle_input(&request[at..at + n], now);
                    at += n;
                    i += 1;
                }
            } else {
                s.handle_input(request, now);
            }
            let mut events = Vec::new();
            while let Some(e) = s.poll_event() {
                events.push(e);
            }
            s.accept(header.clone(), Session::New { client_id: 9 }).expect("accept");
            for (i, len) in packets.iter().enumerate() {
                s.send_packet(packet(i as u32, *len)).expect("send");
            }
            s.end_of_stream().expect("end");
            (events, drain(&mut s))
        };
        prop_assert_eq!(run(true), run(false));
    }

    #[test]
    fn post_body_reading_independent_of_chunking(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(1usize..50, 1..10),
        trailing in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut req = format!(
            "POST /live HTTP/1.1\r\nUser-Agent: NSPlayer/10.0\r\n\
Content-Type: application/x-wms-LogStats\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        req.extend_from_slice(&trailing);
        let run = |chunked: bool| {
            let now = Instant::now();
            let mut s = PullServerConnection::new(PullServerConfig::default(), now);
            if chunked {
                let (mut at, mut i) = (0, 0);
                while at < req.len() {
                    let n = cuts[i % cuts.len()].min(req.len() - at);
                    s.handle_input(&req[at..at + n], now);
                    at += n;
                    i += 1;
                }
            } else {
                s.handle_input(&req, now);
            }
            let mut events = Vec::new();
            while let Some(e) = s.poll_event() {
                events.push(e);
            }
            (events, drain(&mut s))
        };
        let whole = run(false);
        prop_assert_eq!(&whole, &run(true));
        let expected = push_protocol::pull_server::PullServerEvent::Report {
            kind: push_protocol::pull_server::ReportKind::Log,
            client_id: None,
            body: Bytes::from(body.clone()),
        };
        prop_assert_eq!(whole.0, vec![expected]);
    }

    #[test]
    fn client_events_independent_of_chunking(
        cuts in proptest::collection::vec(1usize..3000, 1..20),
        padding in 0usize..140_000,
        packets in proptest::collection::vec(1usize..5000, 0..6),
        change in any::<bool>(),
    ) {
        let h = asf_header(&[1, 2], 5000, padding);
        let mut script: Vec<Step> = packets
            .iter()
            .enumerate()
            .map(|(i, l)| Step::Packet(packet(i as u32, *l)))
            .collect();
        if change {
            script.push(Step::ChangeHeader(asf_header(&[5], 100, 3)));
            script.push(Step::Packet(packet(99, 100)));
        }
        script.push(Step::End);
        let whole = run_session(PullClientConfig::default(), PullServerConfig::default(), h.clone(), &script, &[]);
        let cut = run_session(PullClientConfig::default(), PullServerConfig::default(), h, &script, &cuts);
        prop_assert_eq!(&whole.0, &cut.0);
        prop_assert_eq!(whole.1, cut.1);
        prop_assert_eq!(whole.0.len(), 2 + packets.len() + if change { 2 } else { 0 } + 1);
        // Counting only: the same events without the packets, for any chunking.
        let counting = PullClientConfig { deliver_packets: false, ..PullClientConfig::default() };
        let counted = run_session(counting, PullServerConfig::default(), asf_header(&[1, 2], 5000, padding), &script, &cuts);
        let without: Vec<_> = whole.0.iter().filter(|e| !matches!(e, PullClientEvent::Packet { .. })).cloned().collect();
        prop_assert_eq!(counted.0, without);
    }

    #[test]
    fn header_fragmentation_round_trip(len in 0usize..200_000, cuts in proptest::collection::vec(1usize..70_000, 1..8)) {
        let header = Bytes::from((0..len).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>());
        let mut scratch = BytesMut::new();
        let mut parts = Vec::new();
        wire::header_packets(&header, &mut scratch, &mut parts);
        let wire_bytes: Vec<u8> = parts.iter().flat_map(|b| b.iter().copied()).collect();
        let mut dec = PullFrameDecoder::new();
        let mut at = 0;
        let mut i = 0;
        let mut frames = Vec::new();
        while at < wire_bytes.len() {
            let n = cuts[i % cuts.len()].min(wire_bytes.len() - at);
            dec.push(&wire_bytes[at..at + n]);
            at += n;
            i += 1;
            while let Some(f) = dec.next_frame().expect("valid") {
                frames.push(f);
            }
        }
        prop_assert_eq!(dec.buffered(), 0);
        let expected_count = len.div_ceil(wire::MAX_PAYLOAD).max(1);
        prop_assert_eq!(frames.len(), expected_count);
        let mut joined = Vec::new();
        for (k, f) in frames.iter().enumerate() {
            prop_assert_eq!(f.id, wire::ID_HEADER);
            prop_assert_eq!(f.location_id as usize, k);
            let mut flags = 0;
            if k == 0 { flags |= wire::AF_FIRST; }
            if k + 1 == expected_count { flags |= wire::AF_LAST; }
            prop_assert_eq!(f.af_flags, flags);
            prop_assert!(f.payload.len() <= wire::MAX_PAYLOAD);
            joined.extend_from_slice(&f.payload);
        }
        prop_assert_eq!(joined, header.to_vec());
    }
}

proptest! {
    #[test]
    fn vectored_transmit_gives_the_same_bytes(
        packets in proptest::collection::vec(1usize..4000, 0..10),
        writes in proptest::collection::vec(1usize..9000, 1..30),
    ) {
        let request: &[u8] = b"GET /live HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nPragma: xPlayStrm=1\r\n\r\n";
        let setup = || {
            let now = Instant::now();
            let mut s = PullServerConnection::new(PullServerConfig::default(), now);
            s.handle_input(request, now);
            while s.poll_event().is_some() {}
            s.accept(asf_header(&[1], 4000, 0), Session::New { client_id: 1 }).expect("accept");
            for (i, len) in packets.iter().enumerate() {
                s.send_packet(packet(i as u32, *len)).expect("send");
            }
            s.end_of_stream().expect("end");
            s
        };
        let expected = drain(&mut setup());
        // Emulate vectored writes that accept at most `w` bytes each.
        let mut s = setup();
        let mut got = Vec::new();
        let mut i = 0;
        while s.queued_bytes() > 0 {
            let limit = writes[i % writes.len()];
            i += 1;
            let mut written = 0;
            for slice in s.transmit_slices() {
                let n = slice.len().min(limit - written);
                got.extend_from_slice(&slice[..n]);
                written += n;
                if written == limit {
                    break;
                }
            }
            s.consume_transmit(written);
        }
        prop_assert!(s.is_done());
        prop_assert_eq!(got, expected);
    }
}

/// A player request head from parts (method, user agent, pragmas, a POST body), as bytes.
fn player_request(method: &str, agent: &str, pragmas: &[String], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} /live?x=1 HTTP/1.1\r\nHost: h:8080\r\n");
    if !agent.is_empty() {
        head.push_str(&format!("User-Agent: {agent}\r\n"));
    }
    for p in pragmas {
        head.push_str(&format!("Pragma: {p}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/x-wms-LogStats\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Events and output of a connection fed `request` as bytes, or as a head parsed by
/// push-protocol's `http::parse_request` then the bytes after it; answered like a server would
/// (accept, a few packets, end).
fn serve_request(request: &[u8], parsed_head: bool) -> (Vec<PullServerEvent>, Vec<u8>) {
    let now = Instant::now();
    let mut s = PullServerConnection::new(PullServerConfig::default(), now);
    if parsed_head {
        match push_protocol::http::parse_request(request, 16 * 1024) {
            Ok(Some((head, n))) => {
                s.handle_request_head(&head, now)
                    .expect("a new connection takes a head");
                s.handle_input(&request[n..], now);
            }
            // The router answers what it cannot parse itself; the byte path must refuse too.
            _ => return (Vec::new(), Vec::new()),
        }
    } else {
        s.handle_input(request, now);
    }
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        if matches!(e, PullServerEvent::Request(_)) {
            s.accept(asf_header(&[1], 3000, 0), Session::New { client_id: 5 })
                .expect("accept");
            if s.is_streaming() {
                s.send_packet(packet(0, 3000)).expect("send");
                s.end_of_stream().expect("end");
            }
        }
        events.push(e);
    }
    (events, drain(&mut s))
}

proptest! {
    #[test]
    fn parsed_head_gives_the_same_events_as_bytes(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT")],
        agent in prop_oneof![
            Just("NSPlayer/7.10.0.3059"), Just("NSPlayer/12.0"), Just("NSServer/5.0"),
            Just("Mozilla/5.0"), Just(""),
        ],
        pragmas in proptest::collection::vec(prop_oneof![
            Just("xPlayStrm=1".to_owned()),
            Just("no-cache,rate=1.000000,stream-time=0,request-context=2".to_owned()),
            Just("client-id=1234".to_owned()),
            Just("stream-switch-entry=ffff:1:0 ".to_owned()),
            Just("xPlayNextEntry=1".to_owned()),
            Just("log-line=x".to_owned()),
            "[a-z]{1,8}=[0-9]{1,4}",
        ], 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        trailing in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut request = player_request(method, agent, &pragmas, &body);
        request.extend_from_slice(&trailing);
        let from_bytes = serve_request(&request, false);
        let from_head = serve_request(&request, true);
        prop_assert!(!from_bytes.0.is_empty(), "every complete head gets an event");
        prop_assert_eq!(from_head, from_bytes);
    }
}

#[test]
fn a_head_after_head_bytes_is_misuse() {
    let now = Instant::now();
    let (head, _) = push_protocol::http::parse_request(b"GET / HTTP/1.0\r\n\r\n", 1024)
        .expect("valid")
        .expect("complete");
    let mut s = PullServerConnection::new(PullServerConfig::default(), now);
    s.handle_input(b"GET / HT", now);
    assert!(s.handle_request_head(&head, now).is_err());
    let mut s = PullServerConnection::new(PullServerConfig::default(), now);
    s.handle_request_head(&head, now).expect("first head");
    assert!(
        s.handle_request_head(&head, now).is_err(),
        "one request per connection"
    );
}

#[test]
fn blank_lines_before_the_request_line_are_skipped() {
    // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line.
    let request = b"\r\nGET /live HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\n\r\n";
    let (events, _) = serve_request(request, false);
    assert!(
        matches!(events.as_slice(), [PullServerEvent::Request(r)] if r.path == "/live"),
        "{events:?}"
    );
    assert_eq!(serve_request(request, true).0, events);
}

/// One pull packet for the discard property: id letter, payload length, or raw garbage.
fn pull_packet() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0usize..3000).prop_map(|n| {
            let mut b = BytesMut::new();
            wire::put_preheader(&mut b, wire::ID_DATA, n, 7, 0, 0).expect("small");
            b.extend((0..n).map(|i| (i % 251) as u8));
            b.to_vec()
        }),
        1 => (0usize..200, prop::sample::select(vec![wire::ID_HEADER, wire::ID_METADATA])).prop_map(|(n, id)| {
            let mut b = BytesMut::new();
            wire::put_preheader(&mut b, id, n, 0, 0, wire::AF_FIRST | wire::AF_LAST).expect("small");
            b.extend(std::iter::repeat_n(0x5a, n));
            b.to_vec()
        }),
        1 => any::<u32>().prop_map(|r| wire::reason_packet(wire::ID_END, r).to_vec()),
        1 => any::<u32>().prop_map(|r| wire::reason_packet(wire::ID_CHANGE, r).to_vec()),
        // A `$D` too short for its preheader (an error either way).
        1 => Just(vec![0x24, wire::ID_DATA, 3, 0, 1, 2, 3]),
        // Bytes that are not a packet boundary.
        1 => proptest::collection::vec(any::<u8>(), 1..20),
    ]
}

/// What a decoder yielded: frames, the first error, `discarded()`, and at the end
/// (`buffered()`, `offset()`).
type Decoded = (
    Vec<wire::PullFrame>,
    Option<String>,
    (u64, u64),
    (usize, u64),
);

/// Every frame (or the first error) a decoder yields for `bytes` pushed in `cuts`.
fn decode_all(bytes: &[u8], cuts: &[usize], discard: bool) -> Decoded {
    let mut dec = PullFrameDecoder::new();
    if discard {
        dec.discard_data();
    }
    let (mut frames, mut at, mut i) = (Vec::new(), 0, 0);
    while at < bytes.len() {
        let n = cuts[i % cuts.len()].min(bytes.len() - at);
        dec.push(&bytes[at..at + n]);
        at += n;
        i += 1;
        loop {
            match dec.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(e.to_string()), dec.discarded(), (0, 0)),
            }
        }
    }
    (
        frames,
        None,
        dec.discarded(),
        (dec.buffered(), dec.offset()),
    )
}

proptest! {
    #[test]
    fn discarding_data_keeps_every_other_frame_and_error(
        packets in proptest::collection::vec(pull_packet(), 0..30),
        cuts in proptest::collection::vec(1usize..5000, 1..10),
    ) {
        let bytes: Vec<u8> = packets.concat();
        let (all, all_err, none, all_at) = decode_all(&bytes, &cuts, false);
        let (kept, kept_err, (n, payload), kept_at) = decode_all(&bytes, &cuts, true);
        prop_assert_eq!(none, (0, 0));
        // Up to the first error the discarding decoder sees the same stream.
        let data: Vec<&wire::PullFrame> = all.iter().filter(|f| f.id == wire::ID_DATA).collect();
        let others: Vec<&wire::PullFrame> = all.iter().filter(|f| f.id != wire::ID_DATA).collect();
        prop_assert_eq!(kept.iter().collect::<Vec<_>>(), others);
        prop_assert_eq!(&kept_err, &all_err);
        if all_err.is_none() {
            prop_assert_eq!(n, data.len() as u64);
            prop_assert_eq!(payload, data.iter().map(|f| f.payload.len() as u64).sum::<u64>());
            // Bytes held of an unfinished packet, and the offset of the next one, agree too.
            prop_assert_eq!(kept_at, all_at);
        }
    }
}
