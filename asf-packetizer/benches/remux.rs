//! Remux throughput: a 10 s, ~4 Mbit/s video+audio ASF file (generated in code with the
//! packetizer, 3200-byte packets) remuxed to 1400-byte packets in file mode, output counted
//! by the callback.

use std::hint::black_box;

use asf_packetizer::{
    Mode, OutputBatch, Packetizer, PacketizerOptions, Profile, RemuxOptions, Remuxer, Sample,
    StreamConfig, StreamKind, remux,
};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn input() -> Vec<u8> {
    let profile = Profile::new()
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
        ));
    let mut p =
        Packetizer::new(profile, PacketizerOptions::new(Mode::File)).expect("valid profile");
    let mut packets = Vec::new();
    for f in 0..250u64 {
        let key = f % 25 == 0;
        let s = Sample {
            stream: 1,
            presentation_time: f * 40,
            duration: 40,
            keyframe: key,
            data: Bytes::from(vec![f as u8; if key { 60_000 } else { 17_000 }]),
        };
        p.push_sample(s, &mut packets).expect("declared stream");
        if f % 5 == 0 {
            let a = Sample {
                stream: 2,
                presentation_time: f * 40,
                duration: 186,
                keyframe: true,
                data: Bytes::from(vec![0x11; 2973]),
            };
            p.push_sample(a, &mut packets).expect("declared stream");
        }
    }
    let end = p.finish(0).expect("first finish");
    packets.extend(end.packets);
    let mut out = end.fixup.expect("file mode").bytes.to_vec();
    for pk in &packets {
        out.extend_from_slice(pk.bytes());
    }
    out.extend_from_slice(&end.index_objects);
    out
}

fn bench(c: &mut Criterion) {
    let file = input();
    // Sanity: the output parses, has the new packet size and carries the media.
    let out = asf_packetizer::remux_to_vec(
        &file,
        RemuxOptions {
            packet_size: Some(1400),
            ..RemuxOptions::default()
        },
    )
    .expect("remux");
    let f = asf_format::AsfFile::parse(&out, &asf_format::Limits::default()).expect("parses");
    assert_eq!(f.header.packet_size(), Some(1400));
    assert!(
        out.len() > file.len() * 9 / 10,
        "{} -> {}",
        file.len(),
        out.len()
    );
    let mut g = c.benchmark_group("remux");
    g.throughput(Throughput::Bytes(file.len() as u64));
    g.bench_function("4mbit_3200_to_1400_file", |b| {
        b.iter(|| {
            let opts = RemuxOptions {
                packet_size: Some(1400),
                ..RemuxOptions::default()
            };
            let mut n = 0usize;
            let s = remux(&file, opts, &mut |b: &[u8]| n += b.len()).expect("remux");
            black_box((n, s.bytes_written))
        })
    });
    // As `wmpush remux` runs it: the input as shared chunks (read in place), the output as
    // whole packets written late (up to 1 MiB kept, then their slices taken as for a `writev`)
    // and recycled, so the remuxer allocates nothing per packet.
    let shared = Bytes::from(file.clone());
    g.bench_function("4mbit_3200_to_1400_file_pieces", |b| {
        b.iter(|| {
            let opts = RemuxOptions {
                packet_size: Some(1400),
                ..RemuxOptions::default()
            };
            let mut r = Remuxer::new(opts);
            let mut batch = OutputBatch::new();
            let mut slices = 0usize;
            for at in (0..shared.len()).step_by(256 * 1024) {
                let chunk = shared.slice(at..(at + 256 * 1024).min(shared.len()));
                r.push_bytes_batch(chunk, &mut batch).expect("remux");
                if batch.len() >= 1 << 20 {
                    batch.for_each_slice(|s| slices += black_box(s.len()));
                    r.recycle_batch(&mut batch);
                }
            }
            let s = r.finish_batch(&mut batch).expect("finish");
            batch.for_each_slice(|s| slices += black_box(s.len()));
            black_box((slices, s.bytes_written))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
