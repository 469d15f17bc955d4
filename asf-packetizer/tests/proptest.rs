//! Property tests: for random profiles and sample sequences, every packet has the packet size,
//! send times never decrease, and reassembling the packets with asf-format gives back exactly
//! the samples.

mod common;

use asf_packetizer::{
    Mode, Packetizer, PacketizerOptions, Profile, Sample, SampleParts, StreamConfig, StreamKind,
};
use bytes::Bytes;
use proptest::prelude::*;

fn arb_profile() -> impl Strategy<Value = Profile> {
    // 1..=4 streams, each audio or video, random numbers (distinct) and bitrates.
    prop::collection::btree_set(1u8..=127, 1..=4).prop_flat_map(|numbers| {
        let n = numbers.len();
        (
            Just(numbers),
            prop::collection::vec((any::<bool>(), 8_000u32..8_000_000, 500u32..10_000), n),
        )
            .prop_map(|(numbers, params)| {
                let mut p = Profile::new();
                for (num, (audio, bitrate, window)) in numbers.into_iter().zip(params) {
                    let kind = if audio {
                        StreamKind::Audio
                    } else {
                        StreamKind::Video
                    };
                    p = p.with_stream(
                        StreamConfig::new(num, kind, vec![0; 18], bitrate)
                            .with_buffer_window(window),
                    );
                }
                p
            })
    })
}

fn arb_case() -> impl Strategy<Value = (Profile, Vec<Sample>, u32, u32, bool)> {
    arb_profile().prop_flat_map(|profile| {
        let numbers: Vec<u8> = profile.streams.iter().map(|s| s.number).collect();
        let samples = prop::collection::vec(
            (
                0..numbers.len(),
                0u64..200,
                1usize..6000,
                any::<bool>(),
                any::<u8>(),
            ),
            1..60,
        )
        .prop_map(move |raw| {
            // Presentation times rise per stream; streams interleave by time.
            let mut t = vec![0u64; numbers.len()];
            let mut v: Vec<Sample> = raw
                .into_iter()
                .map(|(si, dt, len, key, fill)| {
                    t[si] += dt;
                    Sample {
                        stream: numbers[si],
                        presentation_time: t[si],
                        duration: dt as u32,
                        keyframe: key,
                        data: Bytes::from(vec![fill; len]),
                    }
                })
                .collect();
            v.sort_by_key(|s| s.presentation_time);
            v
        });
        (
            Just(profile),
            samples,
            prop_oneof![Just(64u32), 100u32..2000, Just(3200), 3200u32..65_536],
            0u32..5000,
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn packets_reassemble_to_the_samples((profile, samples, ps, preroll, compressed) in arb_case()) {
        let mut o = PacketizerOptions::new(Mode::Live);
        o.packet_size = ps;
        o.preroll = preroll;
        o.compressed_payloads = compressed;
        let mut p = Packetizer::new(profile, o).expect("valid profile");
        let mut packets = Vec::new();
        for s in &samples {
            p.push_sample(s.clone(), &mut packets).expect("push");
        }
        p.flush(&mut packets);
        // common::reassemble checks: exact size, indexes, non-decreasing send times, EC data,
        // property flags, at most 63 payloads, no dropped objects.
        let objs = common::reassemble(&packets, ps as usize);
        common::assert_same(&objs, &samples, u64::from(preroll));
        for pk in &packets {
            prop_assert!(u64::from(pk.duration) <= 65_535);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Samples given in pieces, and packets gathered (media data referenced, not copied), give
    /// byte for byte the packets of whole samples copied into one buffer each.
    #[test]
    fn pieces_and_gathering_give_the_same_packets(
        (profile, samples, ps, preroll, compressed) in arb_case(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        gather in any::<bool>(),
    ) {
        let options = |gather: bool| {
            let mut o = PacketizerOptions::new(Mode::File);
            o.packet_size = ps;
            o.preroll = preroll;
            o.compressed_payloads = compressed;
            o.gather = gather;
            o
        };
        // Bytes that differ along each sample and between samples, so a piece out of place
        // shows.
        let samples: Vec<Sample> = samples
            .into_iter()
            .enumerate()
            .map(|(k, mut s)| {
                let data: Vec<u8> =
                    (0..s.data.len()).map(|i| ((i * 131 + k * 7) >> 2) as u8).collect();
                s.data = data.into();
                s
            })
            .collect();
        let mut plain = Packetizer::new(profile.clone(), options(false)).expect("valid profile");
        let mut pieces = Packetizer::new(profile, options(gather)).expect("valid profile");
        let (mut want, mut got) = (Vec::new(), Vec::new());
        for s in &samples {
            plain.push_sample(s.clone(), &mut want).expect("push");
            // The sample cut at a few random points (empty pieces included).
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(s.data.len() + 1)).collect();
            at.push(0);
            at.push(s.data.len());
            at.sort_unstable();
            let parts = at.windows(2).map(|w| s.data.slice(w[0]..w[1])).collect();
            let sp = SampleParts {
                stream: s.stream,
                presentation_time: s.presentation_time,
                duration: s.duration,
                keyframe: s.keyframe,
                parts,
            };
            pieces.push_sample_parts(sp, &mut got).expect("push parts");
        }
        plain.flush(&mut want);
        pieces.flush(&mut got);
        prop_assert_eq!(want.len(), got.len());
        for (w, g) in want.into_iter().zip(got) {
            prop_assert!(w.is_contiguous());
            prop_assert!(gather || g.is_contiguous());
            let (index, gathered) = (g.index, !g.is_contiguous());
            let expected = w.into_bytes();
            let mut slices = Vec::new();
            g.for_each_slice(&mut |s| slices.extend_from_slice(s));
            prop_assert_eq!(&slices[..], &expected[..], "packet {} as slices", index);
            prop_assert_eq!(g.wire_len(), expected.len());
            let mut parts = Vec::new();
            g.parts(&mut |b| parts.push(b));
            prop_assert!(!gathered || parts.len() > 1);
            prop_assert_eq!(parts.concat(), expected.to_vec(), "packet {}", index);
        }
    }
}

/// Input that keeps to its declared rate: every payload arrives (send time) no later than its
/// presentation time, and no packet is sent more than the stream's buffer window early.
#[test]
fn rate_conforming_input_arrives_in_time() {
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
        ));
    let mut p = Packetizer::new(profile, PacketizerOptions::new(Mode::Live)).expect("valid");
    let mut packets = Vec::new();
    let mut samples = Vec::new();
    for f in 0..250u64 {
        // 2 Mbit/s = 10 kB per 40 ms frame on average; key frames twice the size.
        let len = if f % 25 == 0 { 16_000 } else { 9_000 };
        samples.push(Sample {
            stream: 1,
            presentation_time: f * 40,
            duration: 40,
            keyframe: f % 25 == 0,
            data: Bytes::from(vec![1; len]),
        });
        samples.push(Sample {
            stream: 2,
            presentation_time: f * 40,
            duration: 40,
            keyframe: true,
            data: Bytes::from(vec![2; 640]),
        });
    }
    for s in &samples {
        p.push_sample(s.clone(), &mut packets).expect("push");
    }
    p.flush(&mut packets);
    assert_eq!(p.stats().late_payloads, 0, "{:?}", p.stats());
    let objs = common::reassemble(&packets, 3200);
    common::assert_same(&objs, &samples, 3100);
    for pk in &packets {
        let b = Bytes::copy_from_slice(pk.bytes());
        let v = asf_format::packet::PacketView::parse(&b, 3200, 0).expect("parses");
        for pl in v.payloads() {
            let pt = u64::from(pl.presentation_time().expect("replicated data"));
            assert!(
                pk.send_time <= pt,
                "payload at {pt} sent at {}",
                pk.send_time
            );
            assert!(pt - pk.send_time <= 3000 + 3100, "sent too early");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// File mode end to end: header, packets, fix-up and indexes make a file asf-format reads
    /// back, whose File Properties and Data Object count the packets, whose media objects are
    /// the samples, and whose Simple Index entries all point at packets where a key frame of
    /// the stream starts.
    #[test]
    fn file_mode_output_reads_back((profile, samples, ps, preroll, _c) in arb_case()) {
        use asf_format::index::IndexObject;
        use asf_format::packet::PacketView;
        use asf_format::{AsfFile, Limits};

        let mut o = PacketizerOptions::new(Mode::File);
        o.packet_size = ps;
        o.preroll = preroll;
        let video: Vec<u8> = profile.streams.iter().filter(|s| s.is_video()).map(|s| s.number).collect();
        let mut p = Packetizer::new(profile, o).expect("valid profile");
        let header = p.header().expect("header");
        let mut packets = Vec::new();
        for s in &samples {
            p.push_sample(s.clone(), &mut packets).expect("push");
        }
        let end = p.finish(0x01D0_0000_0000_0000).expect("finish");
        packets.extend(end.packets);
        let fixup = end.fixup.expect("file mode");
        prop_assert_eq!(fixup.offset, 0);
        prop_assert_eq!(fixup.bytes.len(), header.len());
        let mut file = fixup.bytes.to_vec();
        for pk in &packets {
            file.extend_from_slice(pk.bytes());
        }
        file.extend_from_slice(&end.index_objects);
        let f = AsfFile::parse(&file, &Limits::default()).expect("output parses");
        let fp = f.header.file_properties().expect("File Properties");
        prop_assert_eq!(fp.data_packets_count, packets.len() as u64);
        prop_assert_eq!(fp.file_size, file.len() as u64);
        prop_assert!(!fp.is_broadcast());
        prop_assert!(fp.max_bitrate > 0);
        prop_assert_eq!(f.data().and_then(|d| d.total_data_packets()), Some(packets.len() as u64));
        let objs = common::reassemble(&packets, ps as usize);
        common::assert_same(&objs, &samples, u64::from(preroll));
        let mut simple = 0usize;
        for ix in f.index_objects() {
            if let IndexObject::Simple(s) = ix {
                let stream = video[simple..]
                    .iter()
                    .copied()
                    .find(|v| samples.iter().any(|x| x.stream == *v && x.keyframe))
                    .expect("a Simple Index is for a video stream with key frames");
                simple = video.iter().position(|v| *v == stream).expect("listed") + 1;
                for e in &s.entries {
                    let pk = packets.get(e.packet_number as usize).expect("entry within the file");
                    let b = Bytes::copy_from_slice(pk.bytes());
                    let v = PacketView::parse(&b, ps, 0).expect("parses");
                    prop_assert!(v.payloads().any(|pl| pl.stream_number == stream
                        && pl.key_frame
                        && pl.offset_into_media_object == 0));
                }
            }
        }
    }
}
