//! Pull server cost per ASF packet fanned out to N player connections
//! (inputs generated in code: a 2-stream header and 3,200-byte packets).

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use push_protocol::pragma::Pragmas;
use push_protocol::pull_server::{
    PullServerConfig, PullServerConnection, PullServerEvent, Session, filter_packet,
};

const PLAY: &[u8] = b"GET /live HTTP/1.0\r\nAccept: */*\r\nUser-Agent: NSPlayer/7.10.0.3059\r\n\
Host: 127.0.0.1:8080\r\n\
Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=2,max-duration=0\r\n\
Pragma: xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}\r\nPragma: xPlayStrm=1\r\n\
Pragma: stream-switch-count=2\r\nPragma: stream-switch-entry=ffff:1:0 ffff:2:0 \r\n\
Connection: Close\r\n\r\n";

fn header() -> Bytes {
    let mut h = vec![
        0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE,
        0x6C,
    ];
    h.extend_from_slice(&30u64.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&[1, 2]);
    h.resize(30 + 50, 0);
    Bytes::from(h)
}

fn streaming_connections(n: usize) -> Vec<PullServerConnection> {
    let now = Instant::now();
    (0..n)
        .map(|i| {
            let cfg = PullServerConfig {
                max_queued_bytes: usize::MAX,
                ..Default::default()
            };
            let mut c = PullServerConnection::new(cfg, now);
            c.handle_input(PLAY, now);
            while let Some(e) = c.poll_event() {
                if let PullServerEvent::Request(_) = e {
                    c.accept(
                        header(),
                        Session::New {
                            client_id: i as u32,
                        },
                    )
                    .expect("accept");
                }
            }
            while c.poll_transmit().is_some() {}
            c
        })
        .collect()
}

fn fan_out(c: &mut Criterion) {
    let packet = Bytes::from(vec![0x82u8; 3200]);
    let mut group = c.benchmark_group("pull_fan_out_per_packet");
    for n in [1usize, 10, 100] {
        let mut conns = streaming_connections(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                for conn in conns.iter_mut() {
                    conn.send_packet(black_box(packet.clone())).expect("send");
                    while let Some(buf) = conn.poll_transmit() {
                        black_box(buf);
                    }
                }
            })
        });
    }
    group.finish();
}

fn request_parse(c: &mut Criterion) {
    c.bench_function("pull_play_request_head", |b| {
        b.iter(|| {
            let now = Instant::now();
            let mut conn = PullServerConnection::new(PullServerConfig::default(), now);
            conn.handle_input(black_box(PLAY), now);
            black_box(conn.poll_event())
        })
    });
    c.bench_function("pragma_ffmpeg_line", |b| {
        b.iter(|| {
            Pragmas::parse_all(black_box([
                "no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0",
                "stream-switch-entry=ffff:1:0 ffff:2:0 ",
            ]))
        })
    });
}

/// A 3,200-byte packet with 4 payloads of streams 1 and 2 and padding, in
/// the layout ffmpeg writes (EC 0x82, property flags 0x5d, WORD lengths).
fn multi_payload_packet() -> Bytes {
    let mut p = vec![0x82, 0, 0, 0x09, 0x5d, 0];
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&40u16.to_le_bytes());
    p.push(0x80 | 4);
    for i in 0..4u8 {
        p.push(1 + i % 2);
        p.push(i);
        p.extend_from_slice(&0u32.to_le_bytes());
        p.push(8);
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&600u16.to_le_bytes());
        p.extend(std::iter::repeat_n(i, 600));
    }
    let padding = 3200 - p.len();
    p[5] = padding as u8;
    p.resize(3200, 0);
    Bytes::from(p)
}

fn filter(c: &mut Criterion) {
    let packet = multi_payload_packet();
    c.bench_function("pull_filter_drop_one_stream", |b| {
        b.iter(|| filter_packet(black_box(&packet), &|s: u8, _k: bool| s == 1))
    });
}

criterion_group!(benches, fan_out, request_parse, filter);
criterion_main!(benches);
