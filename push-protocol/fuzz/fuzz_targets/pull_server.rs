//! Arbitrary bytes as a player's request to the pull server, as a server's
//! response to the pull client, or as an ASF data packet to the payload
//! filter (chosen by the low bits of the first byte). Checks: no panic,
//! bounded memory, the same result whether the input arrives in one
//! piece or split at a fuzzer-chosen offset, and the same result whether the
//! request head arrives as bytes or parsed by the caller (`handle_request_head`).
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use push_protocol::pull_client::{PullClient, PullClientConfig, PullClientEvent};
use push_protocol::pull_server::{
    PullServerConfig, PullServerConnection, PullServerEvent, Session, filter_packet,
    restore_padding,
};

fn header() -> Vec<u8> {
    let mut h = vec![
        0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE,
        0x6C,
    ];
    h.extend_from_slice(&30u64.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&[1, 2]);
    h.resize(80, 0);
    h
}

fn run_server(data: &[u8], split: usize) -> (Vec<PullServerEvent>, Vec<u8>) {
    let now = Instant::now();
    let cfg = PullServerConfig {
        max_head_size: 4096,
        ..Default::default()
    };
    let mut s = PullServerConnection::new(cfg, now);
    let (a, b) = data.split_at(split.min(data.len()));
    s.handle_input(a, now);
    s.handle_input(b, now);
    answer(s)
}

/// As [`run_server`] with the head parsed by the caller, when it parses within the limit.
fn run_server_parsed(data: &[u8]) -> Option<(Vec<PullServerEvent>, Vec<u8>)> {
    let now = Instant::now();
    let cfg = PullServerConfig {
        max_head_size: 4096,
        ..Default::default()
    };
    let (head, n) = push_protocol::http::parse_request(data, 4096).ok()??;
    let mut s = PullServerConnection::new(cfg, now);
    s.handle_request_head(&head, now).expect("new connection");
    s.handle_input(&data[n..], now);
    Some(answer(s))
}

/// Accepts every request (one packet and the end for a Play) and collects what the
/// connection says and sends.
fn answer(mut s: PullServerConnection) -> (Vec<PullServerEvent>, Vec<u8>) {
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        if let PullServerEvent::Request(_) = &e {
            s.accept(header().into(), Session::New { client_id: 1 })
                .expect("pending request");
            if s.is_streaming() {
                s.send_packet(vec![0x82u8; 100].into()).expect("room");
                s.end_of_stream().expect("streaming");
            }
        }
        events.push(e);
    }
    let mut out = Vec::new();
    while let Some(b) = s.poll_transmit() {
        out.extend_from_slice(&b);
    }
    // Bounded: head limit + ASX/header + one packet.
    assert!(out.len() < 16 * 1024, "output {} bytes", out.len());
    (events, out)
}

fn run_client(data: &[u8], split: usize) -> Vec<PullClientEvent> {
    let now = Instant::now();
    let cfg = PullClientConfig {
        max_header_size: 256 * 1024,
        ..Default::default()
    };
    let mut c = PullClient::new(cfg, "h:1", "/x", now);
    // Only the first connection is opened: later `Connect`s are recorded, and
    // bytes after them are dropped by the client whatever the chunking.
    let mut events = vec![c.poll_event().expect("first event is Connect")];
    c.handle_connected(now);
    while c.poll_transmit().is_some() {}
    let (a, b) = data.split_at(split.min(data.len()));
    for part in [a, b] {
        c.handle_input(part, now);
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
    }
    c.handle_eof(now);
    while let Some(e) = c.poll_event() {
        events.push(e);
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(mode >> 2) * 11;
    match mode & 3 {
        0 => assert_eq!(run_server(rest, split), run_server(rest, rest.len())),
        3 => {
            if let Some(parsed) = run_server_parsed(rest) {
                assert_eq!(parsed, run_server(rest, rest.len()));
            }
        }
        1 => assert_eq!(run_client(rest, split), run_client(rest, rest.len())),
        _ => {
            let packet = rest.to_vec().into();
            let keep = |stream: u8, key: bool| stream % 2 == 1 || key;
            if let Ok(Some(out)) = filter_packet(&packet, &keep) {
                assert!(out.len() <= packet.len());
                // Filtering is idempotent.
                let again = filter_packet(&out, &keep).expect("filtered packet parses");
                assert_eq!(again.as_ref(), Some(&out));
                // Padding can be put back to any larger size the fields allow.
                let size = out.len() + split;
                if let Ok(padded) = restore_padding(&out, size) {
                    assert_eq!(padded.len(), size);
                }
            }
        }
    }
});
