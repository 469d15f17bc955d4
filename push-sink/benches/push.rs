//! PushSink throughput, unpaced, to a loopback receiver, next to a raw loopback TCP copy of
//! exactly the bytes PushSink puts on the wire (the ceiling). Inputs are generated in code:
//!
//! - `push_sink_unpaced` / `raw_tcp_copy`: the conformance kit's synthetic stream (3,200-byte
//!   packets, mostly padding, which PushSink strips before `$D`); the raw copy writes the same
//!   stripped `$D` frames.
//! - `push_sink_unpaced_dense` / `raw_tcp_copy_dense`: 3,200-byte packets with nothing to strip
//!   (every byte goes on the wire); the raw copy writes the same 3,204-byte frames, one write
//!   each, and `raw_tcp_copy_dense_batched` in 20-frame writes (the ceiling for batched
//!   writes; PushSink writes up to 64 frames per vectored write).
//!
//! PushSink's path: `allocate_data_unit` + copy in + `on_data_unit` (padding strip, bounded
//! queue), its tokio task handing each packet to push-protocol's `PushClient` (`$D` framing)
//! and writing the client's transmits. The receiver answers PushSetup with 204 and then reads
//! and discards the PushStart body.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use push_sink::push_sink::{PushSink, PushSinkConfig};
use push_sink::testing::SyntheticStream;
use push_sink::{DataUnit, WriterSink};

const PACKET_SIZE: usize = 3200;
const PACKETS: usize = 2000;

/// A loopback receiver: 204 to every PushSetup; counts PushStart body bytes and answers 204
/// when a body's Content-Length is used up (PushSink then starts the next PushStart).
fn receiver(counter: Arc<AtomicU64>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(s) = stream else { continue };
            let counter = counter.clone();
            std::thread::spawn(move || serve_push(s, &counter));
        }
    });
    addr
}

const NO_CONTENT: &[u8] = b"HTTP/1.1 204 No Content\r\nServer: Cougar/9.01.01.3814\r\nSet-Cookie: push-id=1\r\nContent-Length: 0\r\n\r\n";

fn serve_push(mut s: TcpStream, counter: &AtomicU64) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    // Bytes of the current PushStart body still to come (None: reading a head).
    let mut body: Option<u64> = None;
    loop {
        let Ok(n) = s.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        let mut data = &buf[..n];
        while !data.is_empty() {
            if let Some(left) = body.as_mut() {
                let take = (*left).min(data.len() as u64);
                counter.fetch_add(take, Ordering::Relaxed);
                *left -= take;
                data = &data[take as usize..];
                if *left == 0 {
                    body = None;
                    if s.write_all(NO_CONTENT).is_err() {
                        return;
                    }
                }
                continue;
            }
            head.extend_from_slice(data);
            data = &[];
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let text = String::from_utf8_lossy(&head[..end]).into_owned();
            let len: u64 = text
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let rest = head.split_off(end + 4);
            head.clear();
            if text.contains("x-wms-pushsetup") {
                // Directives: skip them (they arrive with the head in practice).
                let skip = (len as usize).min(rest.len());
                head.extend_from_slice(&rest[skip..]);
                if s.write_all(NO_CONTENT).is_err() {
                    return;
                }
            } else {
                // Count what came with the head.
                let mut left = len;
                let take = left.min(rest.len() as u64);
                counter.fetch_add(take, Ordering::Relaxed);
                left -= take;
                body = Some(left);
                if left == 0 {
                    body = None;
                    head.extend_from_slice(&rest[take as usize..]);
                    if s.write_all(NO_CONTENT).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn wait_for(counter: &AtomicU64, target: u64) {
    let start = Instant::now();
    while counter.load(Ordering::Relaxed) < target {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "receiver stalled"
        );
        // Sleep, not spin: on a 2-core machine a spinning waiter starves the threads it waits for.
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn bench_push(c: &mut Criterion) {
    let stream = SyntheticStream::new(PACKET_SIZE, 64);
    let rounds = PACKETS / stream.len();
    // The $D frames PushSink writes for the synthetic stream: padding stripped.
    let frames: Vec<Vec<u8>> = (0..stream.len())
        .map(|i| {
            let mut b = bytes::BytesMut::from(&stream.packets[i][..]);
            let _ = push_sink::push_sink::asf_packet::strip_padding(&mut b);
            let mut f = Vec::with_capacity(4 + b.len());
            f.extend_from_slice(b"$D");
            f.extend_from_slice(&(b.len() as u16).to_le_bytes());
            f.extend_from_slice(&b);
            f
        })
        .collect();
    let sparse_bytes: u64 = frames.iter().map(|f| f.len() as u64).sum::<u64>() * rounds as u64;
    let dense_frame = {
        let mut f = b"$D".to_vec();
        f.extend_from_slice(&(PACKET_SIZE as u16).to_le_bytes());
        f.resize(4 + PACKET_SIZE, 0xFF);
        f
    };
    let dense_bytes = (PACKETS * dense_frame.len()) as u64;

    let counter = Arc::new(AtomicU64::new(0));
    let addr = receiver(counter.clone());
    let config = PushSinkConfig::default().queue_limits(1 << 30, Duration::from_secs(3600));
    let mut sink = PushSink::new(config).expect("sink");
    // Header first: connect returns once the session is accepted.
    sink.on_header(&stream.header).expect("header");
    sink.connect(&format!("http://{addr}/bench"), None, false)
        .expect("connect");
    wait_for(&counter, 4 + stream.header.len() as u64);

    let mut group = c.benchmark_group("push_loopback");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(sparse_bytes));
    group.bench_function("push_sink_unpaced", |b| {
        b.iter(|| {
            let start = counter.load(Ordering::Relaxed);
            for i in 0..rounds * stream.len() {
                let buf = sink.allocate_data_unit(PACKET_SIZE);
                let unit = stream.unit_in(buf, i % stream.len()).expect("unit");
                sink.on_data_unit(unit).expect("on_data_unit");
            }
            wait_for(&counter, start + sparse_bytes);
        })
    });
    let (mut raw, raw_counter) = raw_socket();
    group.bench_function("raw_tcp_copy", |b| {
        b.iter(|| {
            let start = raw_counter.load(Ordering::Relaxed);
            for i in 0..rounds * frames.len() {
                raw.write_all(black_box(&frames[i % frames.len()]))
                    .expect("write");
            }
            wait_for(&raw_counter, start + sparse_bytes);
        })
    });

    group.throughput(Throughput::Bytes(dense_bytes));
    let info = stream.infos[0];
    group.bench_function("push_sink_unpaced_dense", |b| {
        b.iter(|| {
            let start = counter.load(Ordering::Relaxed);
            for _ in 0..PACKETS {
                let mut buf = sink.allocate_data_unit(PACKET_SIZE);
                let headroom = buf.len();
                // Not an ASF packet: nothing to strip, every byte is sent.
                buf.resize(headroom + PACKET_SIZE, 0xFF);
                let unit = DataUnit::new(buf, headroom, info).expect("unit");
                sink.on_data_unit(unit).expect("on_data_unit");
            }
            wait_for(&counter, start + dense_bytes);
        })
    });
    group.bench_function("raw_tcp_copy_dense", |b| {
        b.iter(|| {
            let start = raw_counter.load(Ordering::Relaxed);
            for _ in 0..PACKETS {
                raw.write_all(black_box(&dense_frame)).expect("write");
            }
            wait_for(&raw_counter, start + dense_bytes);
        })
    });
    // The same dense bytes in 20-frame (64,080-byte) writes: what batching writes can reach.
    let batch: Vec<u8> = dense_frame.repeat(20);
    group.bench_function("raw_tcp_copy_dense_batched", |b| {
        b.iter(|| {
            let start = raw_counter.load(Ordering::Relaxed);
            for _ in 0..PACKETS / 20 {
                raw.write_all(black_box(&batch)).expect("write");
            }
            wait_for(&raw_counter, start + dense_bytes);
        })
    });
    group.finish();
    assert_eq!(
        sink.stats().drops,
        0,
        "the bench queue is large enough for no drops"
    );
}

/// A loopback socket to a reader that counts what it receives.
fn raw_socket() -> (TcpStream, Arc<AtomicU64>) {
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
    let raw = TcpStream::connect(raw_addr).expect("connect raw");
    raw.set_nodelay(true).expect("nodelay");
    (raw, raw_counter)
}

criterion_group!(benches, bench_push);
criterion_main!(benches);
