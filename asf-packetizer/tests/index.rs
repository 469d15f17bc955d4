//! Index builders through the public API: a file-mode output parses with asf-format, and every
//! Simple Index and Index Object entry points at the packet where the nearest past key frame
//! of its stream starts.

use asf_format::index::IndexObject;
use asf_format::packet::PacketView;
use asf_format::{AsfFile, Limits};
use asf_packetizer::{
    Mode, Packetizer, PacketizerOptions, Profile, Sample, StreamConfig, StreamKind,
};
use bytes::Bytes;

/// (stream, presentation time with preroll) of each key frame start, per packet index.
fn key_starts(packets: &[Bytes], ps: u32) -> Vec<Vec<(u8, u64)>> {
    packets
        .iter()
        .map(|b| {
            let v = PacketView::parse(b, ps, 0).expect("parses");
            v.payloads()
                .filter(|p| p.key_frame && p.offset_into_media_object() == Some(0))
                .map(|p| {
                    (
                        p.stream_number,
                        u64::from(p.presentation_time().expect("time")),
                    )
                })
                .collect()
        })
        .collect()
}

/// The packet where the latest key frame of `stream` at or before `t` starts.
fn latest_start(starts: &[Vec<(u8, u64)>], stream: u8, t: u64) -> Option<usize> {
    starts
        .iter()
        .enumerate()
        .flat_map(|(n, v)| v.iter().map(move |&(s, pt)| (n, s, pt)))
        .filter(|&(_, s, pt)| s == stream && pt <= t)
        .max_by_key(|&(_, _, pt)| pt)
        .map(|(n, _, _)| n)
}

fn build(ps: u32, gop: u64) -> (Vec<u8>, Vec<Bytes>, Vec<Sample>) {
    let profile = Profile::new()
        .with_stream(StreamConfig::new(
            1,
            StreamKind::Video,
            vec![0; 40],
            2_000_000,
        ))
        .with_stream(StreamConfig::new(
            2,
            StreamKind::Audio,
            vec![0; 18],
            128_000,
        ))
        .with_stream(StreamConfig::new(
            3,
            StreamKind::Video,
            vec![0; 40],
            500_000,
        ));
    let mut o = PacketizerOptions::new(Mode::File);
    o.packet_size = ps;
    let mut p = Packetizer::new(profile, o).expect("valid");
    let header = p.header().expect("header");
    let mut samples = Vec::new();
    for f in 0..300u64 {
        let key = f % gop == 0;
        samples.push(Sample {
            stream: 1,
            presentation_time: f * 40,
            duration: 40,
            keyframe: key,
            data: Bytes::from(vec![
                f as u8;
                if key {
                    12_000
                } else {
                    3_000 + (f as usize % 7) * 500
                }
            ]),
        });
        samples.push(Sample {
            stream: 2,
            presentation_time: f * 40,
            duration: 40,
            keyframe: true,
            data: Bytes::from(vec![2; 640]),
        });
        if f % 3 == 0 {
            samples.push(Sample {
                stream: 3,
                presentation_time: f * 40,
                duration: 120,
                keyframe: f % 75 == 0,
                data: Bytes::from(vec![3; 1500]),
            });
        }
    }
    let mut packets = Vec::new();
    for s in &samples {
        p.push_sample(s.clone(), &mut packets).expect("push");
    }
    let end = p.finish(0).expect("finish");
    packets.extend(end.packets);
    let fixup = end.fixup.expect("file mode has a fix-up");
    assert_eq!(
        fixup.bytes.len(),
        header.len(),
        "the fix-up rewrites the header in place"
    );
    let mut out = fixup.bytes.to_vec();
    let pk: Vec<Bytes> = packets.into_iter().map(|p| p.into_bytes()).collect();
    for b in &pk {
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&end.index_objects);
    (out, pk, samples)
}

#[test]
fn simple_and_index_object_entries_point_at_key_frames() {
    for (ps, gop) in [(3200u32, 25u64), (1400, 10), (16_000, 50)] {
        let (file, packets, _) = build(ps, gop);
        let f = AsfFile::parse(&file, &Limits::default()).expect("output parses");
        let starts = key_starts(&packets, ps);
        let mut simple = 0;
        let mut index = 0;
        for o in f.index_objects() {
            match o {
                IndexObject::Simple(s) => {
                    // Simple Indexes come in profile order of the video streams.
                    let st = [1u8, 3][simple];
                    simple += 1;
                    assert_eq!(s.entry_time_interval, 10_000_000);
                    for (i, e) in s.entries.iter().enumerate() {
                        let t = (i as u64 * 1000).max(3100);
                        assert_eq!(
                            Some(e.packet_number as usize),
                            latest_start(&starts, st, t),
                            "ps {ps}: stream {st} Simple Index entry {i}"
                        );
                        assert!(e.packet_count >= 1);
                    }
                }
                IndexObject::Index(ix) => {
                    index += 1;
                    assert_eq!(ix.entry_time_interval, 1000);
                    let streams: Vec<u8> = ix
                        .specifiers
                        .iter()
                        .map(|s| s.stream_number as u8)
                        .collect();
                    assert_eq!(streams, vec![1, 3]);
                    let mut e = 0usize;
                    for b in &ix.blocks {
                        for k in 0..b.entry_count as usize {
                            for (si, &st) in streams.iter().enumerate() {
                                let pos = b.position(k, si).expect("valid entry");
                                assert_eq!(pos % u64::from(ps), 0, "entries are packet starts");
                                let pkt = (pos / u64::from(ps)) as usize;
                                let t = (e as u64 * 1000).max(3100);
                                assert_eq!(
                                    Some(pkt),
                                    latest_start(&starts, st, t),
                                    "ps {ps} stream {st} entry {e}"
                                );
                            }
                            e += 1;
                        }
                    }
                    assert!(e > 12, "entries cover the play duration");
                }
                _ => panic!("unexpected index object"),
            }
        }
        assert_eq!(simple, 2, "one Simple Index per video stream");
        assert_eq!(index, 1, "one Index Object");
    }
}
