//! The push server gives the same events and responses for any chunking of its input.

use std::time::Instant;

use proptest::prelude::*;
use push_protocol::framing;
use push_protocol::push_server::{PushServer, PushServerConfig, ServerEvent};

fn rng() -> impl FnMut(&mut [u8]) {
    let mut n = 3u8;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_mul(29).wrapping_add(11);
            *b = n;
        }
    }
}

/// Runs PushSetup, then a PushStart carrying `body` fed in pieces cut at `cuts`.
fn run(packets: &[Vec<u8>], cuts: &[usize]) -> (Vec<String>, Vec<Vec<u8>>) {
    let now = Instant::now();
    let mut r = rng();
    let mut server = PushServer::new(PushServerConfig::default());
    server.handle_input(
        1,
        b"POST /p HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nContent-Length: 15\r\n\r\nAutoDestroy: 1\n",
        now,
        &mut r,
    );
    while server.poll_event().is_some() {}
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
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.sort_unstable();
    points.push(wire.len());
    let mut start = 0;
    let mut events = Vec::new();
    let mut out = Vec::new();
    for p in points {
        server.handle_input(1, &wire[start..p.max(start)], now, &mut r);
        start = p.max(start);
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
    }
    (events, out)
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
