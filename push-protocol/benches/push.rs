//! Push framing and the server's per-packet cost. Inputs are generated in code.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use push_protocol::framing::{self, PushFrameDecoder, PushFrameKind};
use push_protocol::push_server::{PushServer, PushServerConfig, ServerEvent};

const PACKET: usize = 1_400;
const PACKETS: usize = 1_000;

fn body() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..PACKETS {
        framing::encode_data(&vec![i as u8; PACKET], &mut out).expect("fits");
    }
    out
}

fn bench_framing(c: &mut Criterion) {
    let packet = vec![7u8; PACKET];
    let mut g = c.benchmark_group("push_framing");
    g.throughput(Throughput::Bytes((PACKET * PACKETS) as u64));
    g.bench_function("encode_data_1000x1400", |b| {
        let mut out = Vec::with_capacity((PACKET + 4) * PACKETS);
        b.iter(|| {
            out.clear();
            for _ in 0..PACKETS {
                framing::encode_data(black_box(&packet), &mut out).expect("fits");
            }
            black_box(out.len())
        })
    });
    g.bench_function("headroom_header_1000x1400", |b| {
        let mut buf = vec![0u8; PACKET + 4];
        b.iter(|| {
            for _ in 0..PACKETS {
                framing::write_frame_header(PushFrameKind::Data, black_box(&mut buf))
                    .expect("fits");
            }
        })
    });
    let wire = body();
    g.bench_function("decode_1000x1400_in_4k_chunks", |b| {
        b.iter(|| {
            let mut d = PushFrameDecoder::new();
            let mut n = 0;
            for chunk in wire.chunks(4096) {
                d.push(chunk);
                while let Some(f) = d.next_frame().expect("valid") {
                    n += f.payload.len();
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench_server(c: &mut Criterion) {
    let wire = body();
    let mut g = c.benchmark_group("push_server");
    g.throughput(Throughput::Elements(PACKETS as u64));
    g.bench_function("per_packet_1000x1400", |b| {
        b.iter_batched(
            || {
                let now = Instant::now();
                let mut n = 0u8;
                let mut rng = move |buf: &mut [u8]| {
                    for x in buf {
                        n = n.wrapping_add(31);
                        *x = n;
                    }
                };
                let mut server = PushServer::new(PushServerConfig::default());
                server.handle_input(1, b"POST /b HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nContent-Length: 0\r\n\r\n", now, &mut rng);
                while server.poll_event().is_some() {}
                let id = server.accept_setup(1, now, &mut rng).expect("pending");
                while server.poll_transmit().is_some() {}
                let mut start = format!("POST /b HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nContent-Length: 2147483647\r\nCookie: push-id={id}\r\n\r\n").into_bytes();
                framing::encode_header(&framing::ASF_HEADER_GUID, &mut start).expect("fits");
                server.handle_input(1, &start, now, &mut rng);
                while server.poll_event().is_some() {}
                (server, now, rng)
            },
            |(mut server, now, mut rng)| {
                let mut packets = 0;
                for chunk in wire.chunks(16 * 1024) {
                    server.handle_input(1, chunk, now, &mut rng);
                    while let Some(e) = server.poll_event() {
                        if matches!(e, ServerEvent::Packet { .. }) {
                            packets += 1;
                        }
                    }
                }
                assert_eq!(packets, PACKETS);
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_framing, bench_server);
criterion_main!(benches);
