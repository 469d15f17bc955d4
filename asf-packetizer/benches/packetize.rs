//! Packetizer throughput: a 4 Mbit/s-like mix of video (25 fps, a key frame per second) and
//! audio (WMA-sized frames) into 3200-byte packets, with buffers from the default pool.

use std::hint::black_box;

use asf_packetizer::{
    Mode, Packetizer, PacketizerOptions, Profile, Sample, StreamConfig, StreamKind,
};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// 10 s of samples: video 25 fps at ~3.87 Mbit/s (key frames 4x), audio 128 kbit/s frames.
fn samples() -> Vec<Sample> {
    let key = Bytes::from(vec![0x55u8; 60_000]);
    let delta = Bytes::from(vec![0xAAu8; 17_000]);
    let audio = Bytes::from(vec![0x11u8; 2973]);
    let mut v = Vec::new();
    for f in 0..250u64 {
        let k = f % 25 == 0;
        v.push(Sample {
            stream: 1,
            presentation_time: f * 40,
            duration: 40,
            keyframe: k,
            data: if k { key.clone() } else { delta.clone() },
        });
        if f % 5 == 0 {
            v.push(Sample {
                stream: 2,
                presentation_time: f * 40,
                duration: 186,
                keyframe: true,
                data: audio.clone(),
            });
        }
    }
    v
}

fn profile() -> Profile {
    Profile::new()
        .with_stream(StreamConfig::new(
            1,
            StreamKind::Video,
            vec![0; 40],
            3_900_000,
        ))
        .with_stream(StreamConfig::new(
            2,
            StreamKind::Audio,
            vec![0; 18],
            128_000,
        ))
}

fn bench(c: &mut Criterion) {
    let input = samples();
    let bytes: u64 = input.iter().map(|s| s.data.len() as u64).sum();
    let mut g = c.benchmark_group("packetize");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("4mbit_mix_3200", |b| {
        let mut out = Vec::with_capacity(20_000);
        b.iter(|| {
            let mut p = Packetizer::new(profile(), PacketizerOptions::new(Mode::Live))
                .expect("valid profile");
            out.clear();
            for s in &input {
                p.push_sample(s.clone(), &mut out).expect("declared stream");
            }
            p.flush(&mut out);
            black_box(out.len())
        })
    });
    // As a sink uses it: each packet is handed on (dropped here) as soon as it is emitted, so
    // the pool reuses its chunks instead of allocating.
    g.bench_function("4mbit_mix_3200_streaming", |b| {
        let mut out = Vec::with_capacity(64);
        b.iter(|| {
            let mut p = Packetizer::new(profile(), PacketizerOptions::new(Mode::Live))
                .expect("valid profile");
            let mut n = 0usize;
            for s in &input {
                p.push_sample(s.clone(), &mut out).expect("declared stream");
                n += out.len();
                out.clear();
            }
            p.flush(&mut out);
            n += out.len();
            out.clear();
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
