//! The production path: media objects reassembled from an ffmpeg-made WMV2/WMA2 file go
//! through `Writer::from_profile` (asf-packetizer's Packetizer behind `PacketizerMux`) into a
//! FileSink; ffmpeg decodes the result without an error (`-xerror`), seeks in it, and its
//! stream copy matches the input frame for frame. Also a live-mode writer sharing packets
//! between two sinks, and the adapter's error paths.
//!
//! When ffmpeg is missing the interop tests print a skip line, or fail when
//! `WMPUSH_INTEROP=require`.

mod common;

use asf_format::{AsfFile, Limits};
use asf_packetizer::{Mode, Profile, StreamConfig};
use bytes::Bytes;
use push_sink::testing::RecordingSink;
use push_sink::{Error, FileSink, FileSinkConfig, PacketizerMux, Sample, Writer};

use common::*;

/// The input's profile, preroll and media objects (asf-format parse + `Reassembler`), in
/// presentation order (streams interleaved by time, as the packetizer wants them).
fn input_samples(bytes: &[u8]) -> (Profile, u32, Vec<Sample>) {
    use asf_format::media_object::Reassembler;
    let file = AsfFile::parse(bytes, &Limits::default()).expect("asf-format parses the input");
    let profile = Profile::from_header(&file.header).expect("profile from the input's header");
    let preroll = file.header.preroll_ms().expect("preroll") as u32;
    let mut r = Reassembler::new(Limits::default());
    let mut objects = Vec::new();
    let size = file.header.packet_size().expect("packet size") as usize;
    let body = file.data().expect("data object").packets();
    for i in 0..body.len() / size {
        let p = body.slice(i * size..(i + 1) * size);
        let view = asf_format::packet::PacketView::parse(&p, size as u32, 0).expect("packet");
        r.push_packet(&p, &view);
        while let Some(o) = r.poll_object() {
            objects.push(o);
        }
    }
    r.finish();
    while let Some(o) = r.poll_object() {
        objects.push(o);
    }
    assert_eq!(r.drops().total(), 0, "nothing dropped");
    objects.sort_by_key(|o| o.presentation_time);
    let samples = objects
        .into_iter()
        .map(|o| Sample {
            stream: u16::from(o.stream),
            presentation_time_ms: u64::from(o.presentation_time.saturating_sub(preroll)),
            duration_ms: 0,
            key_frame: o.keyframe,
            data: Bytes::from(o.data.to_vec()),
        })
        .collect();
    (profile, preroll, samples)
}

/// framemd5 lines without dts and duration (those depend on the muxer's packet fields).
fn frames(path: &std::path::Path) -> Vec<String> {
    framemd5(path)
        .expect("framemd5")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            format!("{} {} {} {}", f[0], f[2], f[4], f[5])
        })
        .collect()
}

#[test]
fn real_media_through_packetizer_writer_and_file_sink_decodes() {
    if !have_tool(
        "ffmpeg",
        "real_media_through_packetizer_writer_and_file_sink_decodes",
    ) {
        return;
    }
    let dir = tempdir();
    let input = generate_input(dir.path()).expect("ffmpeg makes the input");
    let (profile, preroll, samples) = input_samples(&std::fs::read(&input).expect("read"));
    assert!(samples.len() > 300, "{} media objects", samples.len());
    let out = dir.path().join("packetized.asf");
    let mut w = Writer::from_profile(profile, 3200, preroll, Mode::File).expect("writer");
    // One sink: packets are written straight into the FileSink's buffers.
    w.add_sink(Box::new(FileSink::create(&out).expect("create")));
    w.begin_writing().expect("begin");
    let count = samples.len() as u64;
    for s in samples {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    assert!(w.take_sink_failures().is_empty());
    let stats = w.stream_stats();
    assert_eq!(stats.iter().map(|s| s.samples).sum::<u64>(), count);
    assert_eq!(w.sink_reports()[0].stats.packets, w.packets_made());

    let written = std::fs::read(&out).expect("read output");
    let parsed = AsfFile::parse(&written, &Limits::default()).expect("output parses");
    assert_eq!(parsed.header.packet_size(), Some(3200));
    assert_eq!(parsed.packets().count() as u64, w.packets_made());
    ffmpeg_decodes(&out, &[]).expect("ffmpeg decodes the packetized file");
    ffmpeg_decodes(&out, &["-ss", "5"]).expect("ffmpeg seeks in the packetized file");
    assert_eq!(ffprobe_video_frames(&input), ffprobe_video_frames(&out));
    let (a, b) = (frames(&input), frames(&out));
    assert!(a.len() > 300, "framemd5 lists every frame");
    assert_eq!(a, b, "same media objects, same timestamps");
}

#[test]
fn live_packetizer_writer_shares_packets_between_sinks() {
    if !have_tool(
        "ffmpeg",
        "live_packetizer_writer_shares_packets_between_sinks",
    ) {
        return;
    }
    let dir = tempdir();
    let input = generate_input(dir.path()).expect("ffmpeg makes the input");
    let (profile, preroll, samples) = input_samples(&std::fs::read(&input).expect("read"));
    let out = dir.path().join("live.asf");
    let mut w = Writer::from_profile(profile, 1400, preroll, Mode::Live).expect("writer");
    w.add_sink(Box::new(FileSink::create(&out).expect("create")));
    let rec = RecordingSink::new(false, 4);
    let log = rec.log();
    w.add_sink(Box::new(rec));
    w.begin_writing().expect("begin");
    for s in samples {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    assert!(w.take_sink_failures().is_empty());
    assert!(log.lock().expect("log").len() as u64 >= w.packets_made());
    let reports = w.sink_reports();
    assert_eq!(reports[0].stats.packets, reports[1].stats.packets);
    ffmpeg_decodes(&out, &[]).expect("ffmpeg decodes the live-mode recording");
    assert_eq!(frames(&input), frames(&out));
}

#[test]
fn packetizer_mux_errors_are_values() {
    let profile = || Profile::new().with_stream(StreamConfig::pcm(1, 1, 8000, 16));
    // Packet size out of asf-packetizer's range.
    assert!(matches!(
        Writer::from_profile(profile(), 10, 0, Mode::Live),
        Err(Error::Packetizer(_))
    ));
    let mut w = Writer::new(Box::new(
        PacketizerMux::with_settings(profile(), 1000, 500, Mode::Live).expect("mux"),
    ));
    w.add_sink(Box::new(FileSink::new(
        std::io::Cursor::new(Vec::new()),
        FileSinkConfig::default(),
    )));
    w.begin_writing().expect("begin");
    let sample = |stream: u16, data: &'static [u8]| Sample {
        stream,
        presentation_time_ms: 0,
        duration_ms: 20,
        key_frame: true,
        data: Bytes::from_static(data),
    };
    assert!(matches!(
        w.write_sample(sample(2, b"undeclared")),
        Err(Error::Packetizer(_))
    ));
    assert!(matches!(
        w.write_sample(sample(300, b"x")),
        Err(Error::Misuse(_))
    ));
    assert!(w.write_sample(sample(1, b"")).is_err(), "empty sample");
    w.write_sample(sample(1, &[0u8; 320]))
        .expect("a good sample still goes");
    w.end_writing().expect("end");
    assert_eq!(w.packets_made(), 1);
    assert!(w.take_sink_failures().is_empty());
}
