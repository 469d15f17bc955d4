//! The server's per-packet work: restoring padding and finding key-frame
//! starts on ingest, and publishing one shared packet to many players.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wmpush::generator::{SignalConfig, render_audio, render_frame};
use wmpush::live_mux::LiveMux;
use wmpush::point::{PointSettings, PublishingPoint, StreamFacts};

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
    let stripped: Vec<Bytes> = packets
        .iter()
        .map(|p| {
            let mut b = bytes::BytesMut::from(&p[..]);
            push_sink::push_sink::asf_packet::strip_padding(&mut b).expect("valid");
            b.freeze()
        })
        .collect();
    let facts = StreamFacts {
        packet_size: 3600,
        max_bitrate: 0,
        preroll_ms: 0,
        video_streams: vec![1],
    };
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Bytes(
        packets.iter().map(|p| p.len() as u64).sum(),
    ));
    g.bench_function("repad_and_key_frame", |b| {
        b.iter(|| {
            for s in &stripped {
                let full = facts.full_size(black_box(s.clone())).expect("fits");
                black_box(facts.packet(&full));
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
        let subs: Vec<_> = (0..players)
            .filter_map(|_| point.subscribe(None, None).ok())
            .collect();
        g.throughput(Throughput::Elements(packets.len() as u64));
        g.bench_function(format!("{players}_players"), |b| {
            b.iter(|| {
                for p in &packets {
                    point.publish(p.clone(), false);
                }
                // Players drain their queues (one shared copy each).
                for s in &subs {
                    while let Some(Some(_)) = s.try_next() {}
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ingest, fan_out);
criterion_main!(benches);
