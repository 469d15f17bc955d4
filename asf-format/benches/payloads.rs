//! Payload iteration throughput: every payload of a ~1 GB in-memory run of 3200-byte packets
//! (a realistic video + audio mix generated in code with this crate's writer, then repeated).
//!
//! `cargo bench -p asf-format --bench payloads -- --test` runs once on a small buffer.

use std::hint::black_box;

use asf_format::packet::{DataPacket, PacketView, Packets, Payload};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PACKET_SIZE: u32 = 3200;

/// About 10 s of a 1 Mbit/s video (25 fps, a 40 KB key frame every 2 s, ~4 KB otherwise)
/// and 128 kbit/s audio (~370-byte frames every 23 ms), packetized the way FFmpeg does:
/// multi-payload packets, objects fragmented, audio never split.
fn generate_packets() -> Vec<Bytes> {
    let mut packets = Vec::new();
    let mut cur = DataPacket::new(true, 0);
    let header = 14usize;
    let per_payload = 17usize;
    let mut used = header;
    let mut audio_t = 0u32;
    let mut audio_n = 0u32;
    let flush = |cur: &mut DataPacket, packets: &mut Vec<Bytes>, used: &mut usize, t: u32| {
        let mut p = std::mem::replace(cur, DataPacket::new(true, t));
        p.fix(PACKET_SIZE).expect("payloads fit the packet");
        packets.push(p.to_bytes().expect("fixed packet writes"));
        *used = header;
    };
    for frame in 0..250u32 {
        let t = frame * 40;
        let size = if frame % 50 == 0 {
            40_000
        } else {
            3_000 + (frame * 131) % 2_000
        };
        let data: Vec<u8> = (0..size).map(|i| (i ^ frame) as u8).collect();
        let mut off = 0usize;
        while off < data.len() {
            if used + per_payload + 64 > PACKET_SIZE as usize || cur.payloads.len() == 63 {
                flush(&mut cur, &mut packets, &mut used, t);
            }
            let room = PACKET_SIZE as usize - used - per_payload;
            let n = room.min(data.len() - off);
            cur.payloads.push(Payload::fragment(
                1,
                frame % 50 == 0,
                frame & 0xFF,
                off as u32,
                size,
                t + 3100,
                Bytes::copy_from_slice(&data[off..off + n]),
            ));
            used += per_payload + n;
            off += n;
            // Audio frames due by now go in whole (never split).
            while audio_t <= t {
                let a = 370usize;
                if used + per_payload + a > PACKET_SIZE as usize || cur.payloads.len() == 63 {
                    flush(&mut cur, &mut packets, &mut used, audio_t);
                }
                cur.payloads.push(Payload::fragment(
                    2,
                    false,
                    audio_n & 0xFF,
                    0,
                    a as u32,
                    audio_t + 3100,
                    Bytes::from(vec![audio_n as u8; a]),
                ));
                used += per_payload + a;
                audio_n += 1;
                audio_t += 23;
            }
        }
    }
    flush(&mut cur, &mut packets, &mut used, 10_000);
    packets
}

fn bench(c: &mut Criterion) {
    let test_mode = std::env::args().any(|a| a == "--test");
    let target: usize = if test_mode { 4 << 20 } else { 1 << 30 };
    let packets = generate_packets();
    let mut buf = Vec::with_capacity(target + PACKET_SIZE as usize * packets.len());
    'fill: loop {
        for p in &packets {
            if buf.len() >= target {
                break 'fill;
            }
            buf.extend_from_slice(p);
        }
    }
    let payloads_per_packet = packets
        .iter()
        .map(|p| PacketView::parse(p, PACKET_SIZE, 0).map_or(0, |v| v.payload_count()))
        .sum::<u32>() as f64
        / packets.len() as f64;
    eprintln!(
        "payloads bench: {} bytes, {} packets, {:.2} payloads/packet",
        buf.len(),
        buf.len() / PACKET_SIZE as usize,
        payloads_per_packet
    );
    let mut g = c.benchmark_group("payloads");
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.sample_size(10);
    g.bench_function("iterate_all_payloads", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            let mut count = 0usize;
            for v in Packets::new(&buf, PACKET_SIZE, 0) {
                let v = v.expect("generated packets are valid");
                for p in v.payloads() {
                    bytes += p.data.len();
                    count += 1;
                }
            }
            black_box((bytes, count))
        })
    });
    // The single-pass fast path: validate and visit every payload in one walk.
    g.bench_function("parse_each_payload", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            let mut count = 0usize;
            for (i, chunk) in buf.chunks_exact(PACKET_SIZE as usize).enumerate() {
                PacketView::parse_each(
                    chunk,
                    PACKET_SIZE,
                    (i * PACKET_SIZE as usize) as u64,
                    |p| {
                        bytes += p.data.len();
                        count += 1;
                    },
                )
                .expect("generated packets are valid");
            }
            black_box((bytes, count))
        })
    });
    // For comparison: validating every packet (which walks every payload header once)
    // without the second walk that hands the payloads out.
    g.bench_function("validate_packets_only", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for v in Packets::new(&buf, PACKET_SIZE, 0) {
                n = n.wrapping_add(v.expect("generated packets are valid").payload_count());
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
