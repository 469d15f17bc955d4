//! Shared helpers for the pull-side integration tests: a generated ASF
//! header (provenance: built here field by field from the ASF 1.20 object
//! layouts; no external file), and an in-memory link that carries bytes
//! between a `PullClient` and `PullServerConnection`s.
#![allow(dead_code)]

use std::time::Instant;

use bytes::Bytes;
use push_protocol::pull_client::{PullClient, PullClientConfig, PullClientEvent};
use push_protocol::pull_server::{
    PullRequestKind, PullServerConfig, PullServerConnection, PullServerEvent, Session,
};

pub const HEADER_OBJECT: [u8; 16] = [
    0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];
const FILE_PROPERTIES: [u8; 16] = [
    0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11, 0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65,
];
const STREAM_PROPERTIES: [u8; 16] = [
    0x91, 0x07, 0xDC, 0xB7, 0xB7, 0xA9, 0xCF, 0x11, 0x8E, 0xE6, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65,
];
const AUDIO_MEDIA: [u8; 16] = [
    0x40, 0x9E, 0x69, 0xF8, 0x4D, 0x5B, 0xCF, 0x11, 0xA8, 0xFD, 0x00, 0x80, 0x5F, 0x5C, 0x44, 0x2B,
];
const NO_ERROR_CORRECTION: [u8; 16] = [
    0x00, 0x57, 0xFB, 0x20, 0x55, 0x5B, 0xCF, 0x11, 0xA8, 0xFD, 0x00, 0x80, 0x5F, 0x5C, 0x44, 0x2B,
];
const DATA_OBJECT: [u8; 16] = [
    0x36, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];

/// An ASF header (Header Object + 50-byte Data Object start) with a File
/// Properties Object (packet size `packet_size`), one Stream Properties
/// Object per stream number, and `padding` bytes of an unknown object.
pub fn asf_header(streams: &[u16], packet_size: u32, padding: usize) -> Bytes {
    let mut objects = Vec::new();
    // File Properties Object, ASF 3.2 (104 bytes).
    let mut fp = Vec::new();
    fp.extend_from_slice(&FILE_PROPERTIES);
    fp.extend_from_slice(&104u64.to_le_bytes());
    fp.extend_from_slice(&[7u8; 16]); // file id
    fp.extend_from_slice(&0u64.to_le_bytes()); // file size
    fp.extend_from_slice(&0u64.to_le_bytes()); // creation
    fp.extend_from_slice(&0u64.to_le_bytes()); // packets
    fp.extend_from_slice(&0u64.to_le_bytes()); // play duration
    fp.extend_from_slice(&0u64.to_le_bytes()); // send duration
    fp.extend_from_slice(&3100u64.to_le_bytes()); // preroll
    fp.extend_from_slice(&1u32.to_le_bytes()); // flags: broadcast
    fp.extend_from_slice(&packet_size.to_le_bytes());
    fp.extend_from_slice(&packet_size.to_le_bytes());
    fp.extend_from_slice(&128_000u32.to_le_bytes());
    assert_eq!(fp.len(), 104);
    objects.push(fp);
    for &n in streams {
        // Stream Properties Object, ASF 3.3, with 4 bytes of type-specific data.
        let mut sp = Vec::new();
        sp.extend_from_slice(&STREAM_PROPERTIES);
        sp.extend_from_slice(&(78u64 + 4).to_le_bytes());
        sp.extend_from_slice(&AUDIO_MEDIA);
        sp.extend_from_slice(&NO_ERROR_CORRECTION);
        sp.extend_from_slice(&0u64.to_le_bytes());
        sp.extend_from_slice(&4u32.to_le_bytes());
        sp.extend_from_slice(&0u32.to_le_bytes());
        sp.extend_from_slice(&(n & 0x7f).to_le_bytes());
        sp.extend_from_slice(&0u32.to_le_bytes());
        sp.extend_from_slice(&[1, 2, 3, 4]);
        objects.push(sp);
    }
    if padding > 0 {
        let mut pad = Vec::new();
        pad.extend_from_slice(&[0xEEu8; 16]);
        pad.extend_from_slice(&((24 + padding) as u64).to_le_bytes());
        pad.resize(24 + padding, 0x5A);
        objects.push(pad);
    }
    let body: usize = objects.iter().map(Vec::len).sum();
    let mut h = Vec::new();
    h.extend_from_slice(&HEADER_OBJECT);
    h.extend_from_slice(&((30 + body) as u64).to_le_bytes());
    h.extend_from_slice(&(objects.len() as u32).to_le_bytes());
    h.extend_from_slice(&[0x01, 0x02]);
    for o in objects {
        h.extend_from_slice(&o);
    }
    // Data Object start, ASF 5.1 (50 bytes).
    h.extend_from_slice(&DATA_OBJECT);
    h.extend_from_slice(&50u64.to_le_bytes());
    h.extend_from_slice(&[7u8; 16]);
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&[0x01, 0x01]);
    Bytes::from(h)
}

/// A fake ASF data packet: `len` bytes starting with its index.
pub fn packet(i: u32, len: usize) -> Bytes {
    let mut v = vec![0x82u8; len.max(4)];
    v[..4].copy_from_slice(&i.to_le_bytes());
    v.truncate(len.max(4));
    Bytes::from(v)
}

/// What the application behind the server does during a Play.
#[derive(Clone)]
pub enum Step {
    Packet(Bytes),
    ChangeHeader(Bytes),
    End,
}

/// Runs a client against fresh server connections in memory. Every server
/// Describe/Play is accepted with `header`; Play then runs `script`.
/// `chunks` gives the sizes in which bytes are delivered (cycled; 0 = all).
/// Returns the client events and the raw bytes each server connection sent.
pub fn run_session(
    client_config: PullClientConfig,
    server_config: PullServerConfig,
    header: Bytes,
    script: &[Step],
    chunks: &[usize],
) -> (Vec<PullClientEvent>, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let now = Instant::now();
    let mut client = PullClient::new(client_config, "127.0.0.1:8080", "/live", now);
    let mut events = Vec::new();
    let mut server_out: Vec<Vec<u8>> = Vec::new();
    let mut client_out: Vec<Vec<u8>> = Vec::new();
    let mut chunk_i = 0usize;
    let mut next_chunk = |len: usize| -> usize {
        if chunks.is_empty() {
            return len;
        }
        let c = chunks[chunk_i % chunks.len()];
        chunk_i += 1;
        if c == 0 { len } else { c.min(len) }
    };
    for _round in 0..16 {
        let Some(ev) = client.poll_event() else { break };
        match ev {
            PullClientEvent::Connect { .. } => {
                client.handle_connected(now);
                let mut server = PullServerConnection::new(server_config.clone(), now);
                let mut req_bytes = Vec::new();
                while let Some(b) = client.poll_transmit() {
                    req_bytes.extend_from_slice(&b);
                }
                let mut at = 0;
                while at < req_bytes.len() {
                    let n = next_chunk(req_bytes.len() - at);
                    server.handle_input(&req_bytes[at..at + n], now);
                    at += n;
                }
                client_out.push(req_bytes);
                let mut sent = Vec::new();
                while let Some(sev) = server.poll_event() {
                    if let PullServerEvent::Request(req) = sev {
                        server
                            .accept(header.clone(), Session::New { client_id: 4242 })
                            .expect("accept");
                        if req.kind == PullRequestKind::Play {
                            for step in script {
                                match step {
                                    Step::Packet(p) => server.send_packet(p.clone()).expect("send"),
                                    Step::ChangeHeader(h) => {
                                        server.change_header(h.clone()).expect("change")
                                    }
                                    Step::End => server.end_of_stream().expect("end"),
                                }
                            }
                        }
                    }
                }
                while let Some(b) = server.poll_transmit() {
                    sent.extend_from_slice(&b);
                }
                let mut at = 0;
                while at < sent.len() {
                    let n = next_chunk(sent.len() - at);
                    client.handle_input(&sent[at..at + n], now);
                    at += n;
                }
                if server.is_done() {
                    client.handle_eof(now);
                }
                server_out.push(sent);
            }
            other => events.push(other),
        }
    }
    while let Some(ev) = client.poll_event() {
        events.push(ev);
    }
    (events, server_out, client_out)
}

/// Feeds a request head to a new server connection and returns it.
pub fn server_with_request(config: PullServerConfig, request: &[u8]) -> PullServerConnection {
    let now = Instant::now();
    let mut s = PullServerConnection::new(config, now);
    s.handle_input(request, now);
    s
}

/// All bytes the server has queued.
pub fn drain(server: &mut PullServerConnection) -> Vec<u8> {
    let mut v = Vec::new();
    while let Some(b) = server.poll_transmit() {
        v.extend_from_slice(&b);
    }
    v
}

/// Splits a response into (head text, body bytes).
pub fn split_response(bytes: &[u8]) -> (String, Vec<u8>) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has a head")
        + 4;
    (
        String::from_utf8(bytes[..end].to_vec()).expect("ascii head"),
        bytes[end..].to_vec(),
    )
}
