//! The server's per-packet work: restoring padding and finding key-frame
//! starts on ingest, and publishing one shared packet to many players.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wmpush::asf_bits::{repad, starts_key_frame, strip_padding};
use wmpush::generator::{SignalConfig, render_audio, render_frame};
use wmpush::live_mux::LiveMux;
use wmpush::point::{PointSettings, PublishingPoint};

fn packets() -> Vec<Bytes> {
    let signal = SignalConfig::default();
    let mut mux = LiveMux::new(signal, 3600, 1000, [1; 16]).expect("valid");
    let (mut pic, mut pcm) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    for i in 0..10 {
        render_frame(&signal, i, &mut pic);
        let (a, b) = signal.audio_range(i);
        render_audio(&signal, a, b, &mut pcm);
        out.extend(
            mux.packets_for_frame(i, &pic, &pcm)
                .into_iter()
                .map(|p| p.data),
        );
    }
    out
}

fn ingest(c: &mut Criterion) {
    let packets = packets();
    let stripped: Vec<Vec<u8>> = packets
        .iter()
        .map(|p| strip_padding(p).expect("valid"))
        .collect();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Bytes(
        packets.iter().map(|p| p.len() as u64).sum(),
    ));
    g.bench_function("repad_and_key_frame", |b| {
        b.iter(|| {
            for s in &stripped {
                let full = repad(black_box(s), 3600).expect("fits");
                black_box(starts_key_frame(&full, &[1]));
            }
        })
    });
    g.finish();
}

fn fan_out(c: &mut Criterion) {
    let packets = packets();
    let mut g = c.benchmark_group("publish");
    for players in [0usize, 100] {
        let point = PublishingPoint::new("bench", PointSettings::default());
        point.set_header(Bytes::from_static(b"header"));
        let mut subs: Vec<_> = (0..players).filter_map(|_| point.subscribe()).collect();
        g.throughput(Throughput::Elements(packets.len() as u64));
        g.bench_function(format!("{players}_players"), |b| {
            b.iter(|| {
                for p in &packets {
                    point.publish(p.clone(), false);
                }
                // Players drain their queues (one shared copy each).
                for s in &mut subs {
                    while s.events.try_recv().is_ok() {}
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ingest, fan_out);
criterion_main!(benches);
