//! Times: the 32-bit wrap, packet durations, late-payload accounting, key-frame flags, and the
//! streaming remuxer's independence from input chunking.

use asf_format::packet::PacketView;
use asf_packetizer::{
    Mode, Packet, Packetizer, PacketizerOptions, Profile, RemuxOptions, Remuxer, Sample,
    StreamConfig, StreamKind, remux_to_vec,
};
use bytes::Bytes;

fn av() -> Profile {
    Profile::new()
        .with_stream(StreamConfig::new(
            1,
            StreamKind::Video,
            vec![0; 51],
            2_000_000,
        ))
        .with_stream(StreamConfig::pcm(2, 1, 8000, 16))
}

fn s(stream: u8, t: u64, len: usize, key: bool) -> Sample {
    Sample {
        stream,
        presentation_time: t,
        duration: 40,
        keyframe: key,
        data: Bytes::from(vec![stream; len]),
    }
}

fn run(profile: Profile, o: PacketizerOptions, samples: Vec<Sample>) -> (Vec<Packet>, Packetizer) {
    let mut p = Packetizer::new(profile, o).expect("valid");
    let mut out = Vec::new();
    for x in samples {
        p.push_sample(x, &mut out).expect("push");
    }
    p.flush(&mut out);
    (out, p)
}

#[test]
fn wire_times_wrap_at_2_pow_32() {
    let base = (1u64 << 32) - 3100 - 200; // presentation times cross 2^32 after 200 ms
    let samples: Vec<_> = (0..20).map(|i| s(2, base + i * 40, 640, true)).collect();
    let mut o = PacketizerOptions::new(Mode::Live);
    o.packet_size = 1000;
    let (packets, p) = run(av(), o, samples);
    assert_eq!(p.ms_until_wrap(), 0);
    let mut last = 0;
    let mut wrapped = false;
    for pk in &packets {
        assert!(pk.send_time >= last);
        last = pk.send_time;
        let b = Bytes::copy_from_slice(pk.bytes());
        let v = PacketView::parse(&b, 1000, 0).expect("parses");
        assert_eq!(u64::from(v.send_time()), pk.send_time & 0xFFFF_FFFF);
        for pl in v.payloads() {
            let pt = pl.presentation_time().expect("time");
            wrapped |= pt < 1000;
        }
    }
    assert!(
        wrapped,
        "presentation times past 2^32 are written modulo 2^32"
    );
}

#[test]
fn packet_duration_and_key_frame_flags() {
    let samples = vec![
        s(1, 0, 200, true),
        s(2, 0, 200, true),
        s(1, 40, 200, false),
        s(2, 40, 200, true),
    ];
    let (packets, _) = run(av(), PacketizerOptions::new(Mode::Live), samples);
    assert_eq!(packets.len(), 1);
    assert_eq!(
        packets[0].duration, 80,
        "from the first presentation time to the last end"
    );
    assert!(packets[0].key_frame, "begins a video key frame");
    assert_eq!(packets[0].payload_count, 4);
    assert!(packets[0].streams.contains(1) && packets[0].streams.contains(2));
    // A packet with only a video delta frame does not begin a key frame.
    let (packets, _) = run(
        av(),
        PacketizerOptions::new(Mode::Live),
        vec![s(1, 0, 200, false)],
    );
    assert!(!packets[0].key_frame);
    // Audio only: every packet beginning an object is a starting point.
    let audio = Profile::new().with_stream(StreamConfig::pcm(1, 1, 8000, 16));
    let (packets, _) = run(
        audio,
        PacketizerOptions::new(Mode::Live),
        vec![s(1, 0, 320, false)],
    );
    assert!(packets[0].key_frame);
}

#[test]
fn key_frames_report_their_packet_span() {
    let mut o = PacketizerOptions::new(Mode::Live);
    o.packet_size = 1000;
    let (packets, _) = run(av(), o, vec![s(1, 0, 5000, true), s(1, 40, 100, false)]);
    let spans: Vec<_> = packets.iter().flat_map(|p| p.key_frames.clone()).collect();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].first_packet, 0);
    assert_eq!(
        spans[0].packet_count as usize, 6,
        "5000 bytes in ~985-byte single payloads"
    );
    assert_eq!(spans[0].presentation_time, 3100);
}

#[test]
fn input_over_its_rate_is_counted_late() {
    // 8 kbit/s declared, 100 KB pushed at once: cannot arrive in time.
    let p = Profile::new().with_stream(
        StreamConfig::new(1, StreamKind::Video, vec![0; 51], 8_000).with_buffer_window(1000),
    );
    let samples: Vec<_> = (0..10).map(|i| s(1, i * 40, 10_000, i == 0)).collect();
    let (packets, pz) = run(p, PacketizerOptions::new(Mode::Live), samples);
    assert!(pz.stats().late_payloads > 0);
    assert!(packets.windows(2).all(|w| w[0].send_time <= w[1].send_time));
}

fn sample_file() -> Vec<u8> {
    let mut p = Packetizer::new(av(), PacketizerOptions::new(Mode::File)).expect("valid");
    let mut file = p.header().expect("header").to_vec();
    let mut out = Vec::new();
    for i in 0..100u64 {
        p.push_sample(
            s(1, i * 40, if i % 25 == 0 { 9000 } else { 700 }, i % 25 == 0),
            &mut out,
        )
        .expect("push");
        p.push_sample(s(2, i * 40, 640, true), &mut out)
            .expect("push");
    }
    let end = p.finish(1).expect("finish");
    out.extend(end.packets);
    for pk in &out {
        file.extend_from_slice(pk.bytes());
    }
    file.extend_from_slice(&end.index_objects);
    let fix = end.fixup.expect("file");
    file[..fix.bytes.len()].copy_from_slice(&fix.bytes);
    file
}

#[test]
fn remux_output_does_not_depend_on_input_chunking() {
    let file = sample_file();
    let whole = remux_to_vec(&file, RemuxOptions::default()).expect("remux");
    let back = asf_format::AsfFile::parse(&whole, &asf_format::Limits::default()).expect("parses");
    assert_eq!(
        back.packets().count(),
        asf_format::AsfFile::parse(&file, &asf_format::Limits::default())
            .expect("parses")
            .packets()
            .count()
    );
    for chunk in [1usize, 7, 1000] {
        let mut r = Remuxer::new(RemuxOptions::default());
        let mut out = Vec::new();
        for c in file.chunks(chunk) {
            r.push(c, &mut |b: &[u8]| out.extend_from_slice(b))
                .expect("push");
        }
        let sum = r
            .finish(&mut |b: &[u8]| out.extend_from_slice(b))
            .expect("finish");
        let f = sum.fixup.expect("file");
        out[..f.bytes.len()].copy_from_slice(&f.bytes);
        assert!(out == whole, "chunk {chunk}: output differs");
        assert_eq!(sum.bad_packets, 0);
        assert_eq!(sum.dropped_objects, 0);
    }
    assert!(
        remux_to_vec(
            b"not asf at all, not asf at all, not asf",
            RemuxOptions::default()
        )
        .is_err()
    );
}
