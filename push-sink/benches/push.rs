//! PushSink throughput, unpaced, to a loopback receiver, next to a raw loopback TCP copy of
//! the same bytes (the ceiling). Inputs are generated in code (the conformance kit's
//! synthetic stream: 3,200-byte packets).
//!
//! The receiver answers PushSetup with 204 and then reads and discards the PushStart body.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use push_sink::WriterSink;
use push_sink::push_sink::{PushSink, PushSinkConfig};
use push_sink::testing::SyntheticStream;

const PACKET_SIZE: usize = 3200;
const PACKETS: usize = 2000;

/// A loopback receiver: 204 to every PushSetup, then counts body bytes until EOF.
fn receiver(counter: Arc<AtomicU64>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                let mut head = Vec::new();
                // Answer heads until the PushStart head, then count body bytes.
                loop {
                    let Ok(n) = s.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let text = String::from_utf8_lossy(&head[..end]).into_owned();
                    if text.contains("x-wms-pushsetup") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        head.drain(..(end + 4 + len).min(head.len()));
                        let _ = s.write_all(
                            b"HTTP/1.1 204 No Content\r\nServer: Cougar/9.01.01.3814\r\nSet-Cookie: push-id=1\r\nContent-Length: 0\r\n\r\n",
                        );
                        continue;
                    }
                    counter.fetch_add((head.len() - end - 4) as u64, Ordering::Relaxed);
                    break;
                }
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    addr
}

fn wait_for(counter: &AtomicU64, target: u64) {
    let start = Instant::now();
    while counter.load(Ordering::Relaxed) < target {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "receiver stalled"
        );
        std::thread::yield_now();
    }
}

fn bench_push(c: &mut Criterion) {
    let stream = SyntheticStream::new(PACKET_SIZE, 64);
    let mut group = c.benchmark_group("push_loopback");
    group.throughput(Throughput::Bytes((PACKETS * PACKET_SIZE) as u64));
    group.sample_size(10);

    // PushSink: allocate_data_unit + copy + on_data_unit (padding strip, framing, queue,
    // network task), until the receiver has every byte.
    let counter = Arc::new(AtomicU64::new(0));
    let addr = receiver(counter.clone());
    let config = PushSinkConfig::default().queue_limits(1 << 30, Duration::from_secs(3600));
    let mut sink = PushSink::new(config).expect("sink");
    sink.connect(&format!("http://{addr}/bench"), None, false)
        .expect("connect");
    sink.on_header(&stream.header).expect("header");
    // Framed, stripped size of each packet, measured once.
    let before = counter.load(Ordering::Relaxed);
    let header_bytes = 4 + stream.header.len() as u64;
    let mut framed_total = 0u64;
    for i in 0..stream.len() {
        let mut b = bytes::BytesMut::from(&stream.packets[i][..]);
        let _ = push_sink::push_sink::asf_packet::strip_padding(&mut b);
        framed_total += 4 + b.len() as u64;
    }
    let per_round = framed_total * (PACKETS / stream.len()) as u64;
    wait_for(&counter, before + header_bytes);
    group.bench_function("push_sink_unpaced", |b| {
        b.iter(|| {
            let start = counter.load(Ordering::Relaxed);
            for i in 0..PACKETS - PACKETS % stream.len() {
                let buf = sink.allocate_data_unit(PACKET_SIZE);
                let unit = stream.unit_in(buf, i % stream.len()).expect("unit");
                sink.on_data_unit(unit).expect("on_data_unit");
            }
            wait_for(&counter, start + per_round);
        })
    });
    assert_eq!(
        sink.stats().drops,
        0,
        "the bench queue is large enough for no drops"
    );

    // The ceiling: the same number of bytes written to a loopback socket.
    let raw_counter = Arc::new(AtomicU64::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let raw_addr = listener.local_addr().expect("addr");
    let rc = raw_counter.clone();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = vec![0u8; 256 * 1024];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                rc.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    });
    let mut raw = TcpStream::connect(raw_addr).expect("connect raw");
    raw.set_nodelay(true).expect("nodelay");
    let packet = stream.packets[0].clone();
    group.bench_function("raw_tcp_copy", |b| {
        b.iter(|| {
            let start = raw_counter.load(Ordering::Relaxed);
            for _ in 0..PACKETS {
                raw.write_all(black_box(&packet)).expect("write");
            }
            wait_for(&raw_counter, start + (PACKETS * packet.len()) as u64);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_push);
criterion_main!(benches);
