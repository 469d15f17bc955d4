//! Packetizer rules through the public API, checked by parsing the packets back with
//! asf-format.

mod common;

use asf_format::Limits;
use asf_format::packet::PacketView;
use asf_packetizer::{
    Mode, Packet, Packetizer, PacketizerOptions, Profile, Sample, StreamConfig, VideoCodec,
};
use bytes::{Bytes, BytesMut};

fn profile() -> Profile {
    Profile::new()
        .with_stream(StreamConfig::video(
            1,
            VideoCodec::Wmv2,
            320,
            240,
            1_000_000,
            vec![0; 4],
        ))
        .with_stream(StreamConfig::wma(
            2,
            asf_packetizer::WmaVersion::V2,
            2,
            44_100,
            128_000,
            2973,
            vec![0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        ))
}

fn sample(stream: u8, pt: u64, len: usize, key: bool) -> Sample {
    Sample {
        stream,
        presentation_time: pt,
        duration: 40,
        keyframe: key,
        data: Bytes::from(
            (0..len)
                .map(|i| (i * 7 + len + pt as usize) as u8)
                .collect::<Vec<_>>(),
        ),
    }
}

/// 5 s of 25 fps video (key frame every second, 5000-byte key frames) and WMA frames.
fn mix() -> Vec<Sample> {
    let mut v = Vec::new();
    for f in 0..125u64 {
        let key = f % 25 == 0;
        v.push(sample(
            1,
            f * 40,
            if key {
                9000
            } else {
                1 + (f as usize * 37) % 2500
            },
            key,
        ));
        if f % 2 == 0 {
            v.push(sample(2, f * 40, 2973, true));
        }
    }
    v
}

fn run(samples: &[Sample], opts: PacketizerOptions) -> Vec<Packet> {
    let mut p = Packetizer::new(profile(), opts).expect("valid");
    let mut out = Vec::new();
    for s in samples {
        p.push_sample(s.clone(), &mut out).expect("push");
    }
    p.flush(&mut out);
    out
}

#[test]
fn mix_reassembles_at_several_packet_sizes() {
    for ps in [64u32, 200, 1400, 3200, 16_000, 65_535] {
        let mut o = PacketizerOptions::new(Mode::Live);
        o.packet_size = ps;
        let samples = mix();
        let packets = run(&samples, o);
        let objs = common::reassemble(&packets, ps as usize);
        common::assert_same(&objs, &samples, 3100);
    }
}

#[test]
fn audio_is_not_split_when_it_fits() {
    let mut o = PacketizerOptions::new(Mode::Live);
    o.packet_size = 3200;
    let packets = run(&mix(), o);
    for p in &packets {
        let b = Bytes::copy_from_slice(p.bytes());
        let v = PacketView::parse(&b, 3200, 0).expect("parses");
        for pl in v.payloads() {
            if pl.stream_number == 2 {
                assert_eq!(pl.offset_into_media_object(), Some(0));
                assert_eq!(pl.data.len(), 2973);
            }
        }
    }
}

#[test]
fn small_objects_share_packets_and_big_ones_use_single_payloads() {
    let samples: Vec<_> = (0..100).map(|i| sample(1, i * 10, 50, i == 0)).collect();
    let packets = run(&samples, PacketizerOptions::new(Mode::Live));
    assert!(packets.len() < 5, "{} packets for 5 KB", packets.len());
    assert!(packets.iter().all(|p| p.payload_count > 1));
    let big = vec![sample(1, 0, 20_000, true)];
    let packets = run(&big, PacketizerOptions::new(Mode::Live));
    assert!(packets.len() >= 7);
    // Every packet but the last is filled by one fragment (single payload); the tail goes
    // into a multiple-payload packet that can take more objects.
    for p in &packets[..packets.len() - 1] {
        let b = Bytes::copy_from_slice(p.bytes());
        let v = PacketView::parse(&b, 3200, 0).expect("parses");
        assert!(
            !v.has_multiple_payloads(),
            "a full packet uses a single payload"
        );
        assert_eq!(v.padding_length(), 0);
    }
    assert!(packets[0].key_frame);
    let objs = common::reassemble(&packets, 3200);
    common::assert_same(&objs, &big, 3100);
}

#[test]
fn padding_width_edge_cases() {
    // Object sizes chosen so the space left is 0, 1, 2, 256, 257 and 258 bytes: header 11 (+1
    // payload flags) + 17-byte payload header in a multiple-payload packet.
    let ps = 1000usize;
    for left in [0usize, 1, 2, 255, 256, 257, 258, 300] {
        // one payload then flush: used = 12 + 17 + len
        let Some(len) = (ps - left).checked_sub(12 + 17) else {
            continue;
        };
        let mut o = PacketizerOptions::new(Mode::Live);
        o.packet_size = ps as u32;
        let samples = vec![sample(1, 0, len, true)];
        let packets = run(&samples, o);
        assert_eq!(packets.len(), 1, "left {left}");
        let objs = common::reassemble(&packets, ps);
        common::assert_same(&objs, &samples, 3100);
        let b = Bytes::copy_from_slice(packets[0].bytes());
        let v = PacketView::parse(&b, ps as u32, 0).expect("parses");
        let expect = match left {
            0 => 0,
            1..=256 => left - 1,
            _ => left - 2,
        };
        assert_eq!(v.padding_length() as usize, expect, "left {left}");
    }
}

#[test]
fn allocator_headroom_is_kept() {
    let mut p = Packetizer::new(profile(), PacketizerOptions::new(Mode::Live)).expect("valid");
    let mut out = Vec::new();
    let mut alloc = |n: usize| {
        let mut b = BytesMut::with_capacity(n + 4);
        b.extend_from_slice(b"$D\0\0");
        b
    };
    for s in mix() {
        p.push_sample_with(s, &mut alloc, &mut out).expect("push");
    }
    p.flush(&mut out);
    for pk in &out {
        assert_eq!(pk.headroom, 4);
        assert_eq!(&pk.buffer[..4], b"$D\0\0");
        assert_eq!(pk.buffer.len(), 3204);
    }
    let _ = Limits::default();
}

#[test]
fn span_rule_splits_packets_spanning_more_than_65535_ms() {
    let samples: Vec<_> = (0..4).map(|i| sample(2, i * 40_000, 10, true)).collect();
    let packets = run(&samples, PacketizerOptions::new(Mode::Live));
    assert!(packets.len() >= 2);
    for p in &packets {
        assert!(u64::from(p.duration) <= 65_535);
    }
    let objs = common::reassemble(&packets, 3200);
    common::assert_same(&objs, &samples, 3100);
}

#[test]
fn compressed_payloads_reassemble() {
    let mut o = PacketizerOptions::new(Mode::Live);
    o.compressed_payloads = true;
    let mut samples: Vec<_> = (0..300).map(|i| sample(2, i * 20, 100, true)).collect();
    samples.push(sample(1, 6000, 5000, true));
    samples.push(sample(2, 6000, 200, true));
    let packets = run(&samples, o);
    let objs = common::reassemble(&packets, 3200);
    common::assert_same(&objs, &samples, 3100);
}

#[test]
fn errors_are_reported() {
    let mut p = Packetizer::new(profile(), PacketizerOptions::new(Mode::Live)).expect("valid");
    let mut out = Vec::new();
    assert!(p.push_sample(sample(9, 0, 10, true), &mut out).is_err());
    assert!(p.push_sample(sample(1, 0, 0, true), &mut out).is_err());
    let mut o = PacketizerOptions::new(Mode::Live);
    o.packet_size = 10;
    assert!(Packetizer::new(profile(), o).is_err());
    assert!(Packetizer::new(Profile::new(), PacketizerOptions::new(Mode::Live)).is_err());
}

#[test]
fn times_past_32_bits_wrap_on_the_wire() {
    // Presentation times crossing 2^32 ms (49.7 days): 64-bit internally, low 32 bits on the
    // wire, objects still reassemble (times compared modulo 2^32).
    let start = (1u64 << 32) - 5_000;
    let samples: Vec<_> = (0..250u64)
        .flat_map(|f| {
            [
                sample(
                    1,
                    start + f * 40,
                    if f % 25 == 0 { 9000 } else { 1500 },
                    f % 25 == 0,
                ),
                sample(2, start + f * 40, 700, true),
            ]
        })
        .collect();
    let mut p = Packetizer::new(profile(), PacketizerOptions::new(Mode::Live)).expect("valid");
    assert!(p.ms_until_wrap() > 0);
    let mut packets = Vec::new();
    for s in &samples {
        p.push_sample(s.clone(), &mut packets).expect("push");
    }
    p.flush(&mut packets);
    assert_eq!(p.ms_until_wrap(), 0);
    assert!(packets.last().expect("packets").send_time > 1 << 32);
    let objs = common::reassemble(&packets, 3200);
    common::assert_same(&objs, &samples, 3100);
}

#[test]
fn at_most_63_payloads_per_packet() {
    let samples: Vec<_> = (0..200).map(|i| sample(1, i, 3, i == 0)).collect();
    let mut o = PacketizerOptions::new(Mode::Live);
    o.packet_size = 16_000;
    let packets = run(&samples, o);
    assert_eq!(
        packets[0].payload_count, 63,
        "a full packet holds exactly 63 payloads"
    );
    assert!(packets.iter().all(|p| p.payload_count <= 63));
    let objs = common::reassemble(&packets, 16_000);
    common::assert_same(&objs, &samples, 3100);
}

#[test]
fn audio_larger_than_a_packet_is_fragmented() {
    let samples = vec![sample(2, 0, 100, true), sample(2, 40, 5_000, true)];
    let mut o = PacketizerOptions::new(Mode::Live);
    o.packet_size = 1400;
    let packets = run(&samples, o);
    let offsets: Vec<u32> = packets
        .iter()
        .flat_map(|p| {
            let b = Bytes::copy_from_slice(p.bytes());
            let v = PacketView::parse(&b, 1400, 0).expect("parses");
            v.payloads()
                .filter(|pl| pl.media_object_number == 1)
                .map(|pl| pl.offset_into_media_object)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(offsets.len() >= 4, "{offsets:?}");
    assert_eq!(offsets[0], 0);
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    let objs = common::reassemble(&packets, 1400);
    common::assert_same(&objs, &samples, 3100);
}

#[test]
fn packets_starting_a_video_key_frame_are_flagged() {
    let packets = run(&mix(), PacketizerOptions::new(Mode::Live));
    let mut flagged = 0;
    for p in &packets {
        let b = Bytes::copy_from_slice(p.bytes());
        let v = PacketView::parse(&b, 3200, 0).expect("parses");
        let starts_key = v
            .payloads()
            .any(|pl| pl.stream_number == 1 && pl.key_frame && pl.offset_into_media_object == 0);
        assert_eq!(p.key_frame, starts_key, "packet {}", p.index);
        flagged += usize::from(p.key_frame);
    }
    assert_eq!(flagged, 5, "one per second of video");
}

#[test]
fn allocator_with_too_little_capacity_still_gets_whole_packets() {
    let mut p = Packetizer::new(profile(), PacketizerOptions::new(Mode::Live)).expect("valid");
    let mut out = Vec::new();
    // Headroom of 12 bytes (MMSH framing) and no spare capacity at all.
    let mut alloc = |_n: usize| BytesMut::from(&[0xEEu8; 12][..]);
    let samples = mix();
    for s in &samples {
        p.push_sample_with(s.clone(), &mut alloc, &mut out)
            .expect("push");
    }
    p.flush(&mut out);
    for pk in &out {
        assert_eq!(pk.headroom, 12);
        assert_eq!(&pk.buffer[..12], &[0xEE; 12]);
    }
    let objs = common::reassemble(&out, 3200);
    common::assert_same(&objs, &samples, 3100);
}

/// A stream that runs at four times its declared bitrate (as FFmpeg's WMV2 at `-b:v 4M`
/// declares 1 Mbit/s): its payloads are late wherever they go, so finishing packets early
/// would only add padding. Packets stay as full as FFmpeg makes them and the late payloads are
/// counted.
#[test]
fn input_over_its_declared_rate_is_packed_densely() {
    let mut p = Packetizer::new(profile(), PacketizerOptions::new(Mode::File)).expect("profile");
    let mut packets = Vec::new();
    for f in 0..250u64 {
        // 20,000 bytes every 40 ms: 4 Mbit/s against the declared 1 Mbit/s.
        p.push_sample(sample(1, f * 40, 20_000, f % 25 == 0), &mut packets)
            .expect("video");
        if f % 4 == 0 {
            p.push_sample(sample(2, f * 40, 2973, true), &mut packets)
                .expect("audio");
        }
    }
    packets.extend(p.finish(0).expect("finish").packets);
    let stats = p.stats();
    let bytes = stats.packets * 3200;
    assert!(stats.late_payloads > 0, "the input is over its rate");
    assert!(
        stats.padding_bytes * 100 < bytes * 5,
        "{} padding bytes in {} packets",
        stats.padding_bytes,
        stats.packets
    );
    for pk in &packets {
        PacketView::parse(pk.bytes(), 3200, 0).expect("packet parses");
    }
}
