//! The push server gives the same events and responses for any chunking of its input.

use std::time::Instant;

use proptest::prelude::*;
use push_protocol::push_server::{PushServer, PushServerConfig, ServerEvent};
use push_protocol::{framing, http};

fn rng() -> impl FnMut(&mut [u8]) {
    let mut n = 3u8;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_mul(29).wrapping_add(11);
            *b = n;
        }
    }
}

/// How a request reaches the server.
#[derive(Debug, Clone, Copy)]
enum Feed<'a> {
    /// Its bytes, cut at these points.
    Bytes(&'a [usize]),
    /// Its head parsed by the caller (`http::parse_request`, as the publishing-point server's
    /// router does), then the bytes after it, cut once at this point.
    ParsedHead(usize),
}

/// Feeds one request to connection 1, collecting what the server says after each piece.
fn feed<R: FnMut(&mut [u8])>(
    server: &mut PushServer,
    wire: &[u8],
    how: Feed<'_>,
    r: &mut R,
    mut seen: impl FnMut(&mut PushServer),
) {
    let now = Instant::now();
    let (body_from, cuts): (usize, Vec<usize>) = match how {
        Feed::Bytes(cuts) => (0, cuts.to_vec()),
        Feed::ParsedHead(cut) => {
            let (head, n) = http::parse_request(wire, http::DEFAULT_MAX_HEAD)
                .expect("valid head")
                .expect("complete head");
            server
                .handle_request_head(1, head, now, r)
                .expect("between requests");
            seen(server);
            (n, vec![cut])
        }
    };
    let body = &wire[body_from..];
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.sort_unstable();
    points.push(body.len());
    let mut start = 0;
    for p in points {
        server.handle_input(1, &body[start..p.max(start)], now, r);
        start = p.max(start);
        seen(server);
    }
}

/// Runs PushSetup, then a PushStart carrying `packets`, both fed as `how` says.
fn run_fed(packets: &[Vec<u8>], how: Feed<'_>) -> (Vec<String>, Vec<Vec<u8>>) {
    let now = Instant::now();
    let mut r = rng();
    let mut server = PushServer::new(PushServerConfig::default());
    let mut setup_events = Vec::new();
    feed(
        &mut server,
        b"POST /p HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nContent-Length: 15\r\n\r\nAutoDestroy: 1\n",
        how,
        &mut r,
        |s| setup_events.extend(std::iter::from_fn(|| s.poll_event())),
    );
    assert!(
        matches!(
            setup_events.as_slice(),
            [ServerEvent::SetupRequested { .. }]
        ),
        "{setup_events:?}"
    );
    let id = server.accept_setup(1, now, &mut r).expect("pending setup");
    let mut body = Vec::new();
    framing::encode_header(&framing::ASF_HEADER_GUID, &mut body).expect("small");
    for p in packets {
        framing::encode_data(p, &mut body).expect("small");
    }
    framing::encode_fill(16, &mut body).expect("fill");
    let mut wire = format!(
        "POST /p HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nContent-Length: {}\r\nCookie: push-id={id}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    wire.extend_from_slice(&body);
    let mut events = Vec::new();
    let mut out = Vec::new();
    feed(&mut server, &wire, how, &mut r, |server| {
        while let Some(e) = server.poll_event() {
            events.push(format!("{e:?}").replace(&id, "ID"));
            assert!(
                !matches!(e, ServerEvent::ConnectionClose { .. }),
                "no error close"
            );
        }
        while let Some((_, b)) = server.poll_transmit() {
            out.push(b);
        }
    });
    (events, out)
}

/// Runs PushSetup, then a PushStart carrying `packets` fed in pieces cut at `cuts`.
fn run(packets: &[Vec<u8>], cuts: &[usize]) -> (Vec<String>, Vec<Vec<u8>>) {
    run_fed(packets, Feed::Bytes(cuts))
}

proptest! {
    #[test]
    fn chunking_independent(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8),
                            cuts in proptest::collection::vec(any::<usize>(), 0..24)) {
        let whole = run(&packets, &[]);
        let chunked = run(&packets, &cuts);
        prop_assert_eq!(&whole, &chunked);
        let data = whole.0.iter().filter(|e| e.starts_with("Packet")).count();
        prop_assert_eq!(data, packets.len());
        // 204 to the setup and 204 at exactly the end of the PushStart body.
        prop_assert_eq!(whole.1.len(), 2);
    }
}

proptest! {
    #[test]
    fn parsed_head_gives_the_same_events_as_bytes(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8),
        cut in any::<usize>(),
    ) {
        prop_assert_eq!(run_fed(&packets, Feed::ParsedHead(cut)), run(&packets, &[]));
    }
}

#[test]
fn a_parsed_head_in_the_middle_of_a_request_is_misuse() {
    let now = Instant::now();
    let mut r = rng();
    let mut server = PushServer::new(PushServerConfig::default());
    let wire = b"POST /p HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nContent-Length: 15\r\n\r\n";
    let (head, _) = http::parse_request(wire, 1024)
        .expect("valid")
        .expect("complete");
    server.handle_input(1, b"POST /p HT", now, &mut r);
    assert!(
        server
            .handle_request_head(1, head.clone(), now, &mut r)
            .is_err()
    );
    // A PushSetup waiting for its directives is in the middle of a request too.
    server
        .handle_request_head(2, head.clone(), now, &mut r)
        .expect("new connection");
    assert!(server.handle_request_head(2, head, now, &mut r).is_err());
}
