//! FileSink output against real players: ffmpeg and GStreamer decode it, seek in it, and
//! still decode a copy cut off at a packet boundary before the end of writing.
//!
//! Input: made by ffmpeg in a temp dir with the command of the brief (see
//! `common::generate_input`). When ffmpeg is missing these tests print a skip line, or fail
//! when `WMPUSH_INTEROP=require`.

mod common;

use std::io::Cursor;

use push_sink::{DataUnit, FileSink, FileSinkConfig, PacketInfo, WriterSink};

use common::*;

fn feed<S: WriterSink>(sink: &mut S, split: &Split, packets: std::ops::Range<usize>) {
    for i in packets {
        let info = PacketInfo {
            index: i as u64,
            ..PacketInfo::default()
        };
        sink.on_data_unit(DataUnit::shared(split.packets[i].clone(), info))
            .expect("data unit accepted");
    }
}

#[test]
fn file_sink_output_decodes_seeks_and_is_indexed() {
    if !have_tool("ffmpeg", "file_sink_output_decodes_seeks_and_is_indexed") {
        return;
    }
    let dir = tempdir();
    let input = generate_input(dir.path()).expect("ffmpeg makes the input");
    let bytes = std::fs::read(&input).expect("read input");
    let split = split_asf(&bytes);
    assert!(split.packets.len() > 50, "input has packets");

    let out = dir.path().join("out.asf");
    let mut sink = FileSink::create(&out).expect("create");
    sink.on_header(&split.header).expect("header");
    feed(&mut sink, &split, 0..split.packets.len());
    assert_eq!(sink.packet_count(), split.packets.len() as u64);
    sink.on_end_writing().expect("end");
    assert!(sink.is_closed());
    let secs = sink.duration().as_secs_f64();
    assert!((9.5..=10.5).contains(&secs), "duration {secs}");
    drop(sink);

    let written = std::fs::read(&out).expect("read output");
    // Final header values (ASF 3.2).
    let fp =
        find(&written[..written.len().min(1 << 16)], &FILE_PROPERTIES).expect("file properties");
    assert_eq!(le_u64(&written, fp + 40), written.len() as u64, "File Size");
    assert_eq!(
        le_u64(&written, fp + 56),
        split.packets.len() as u64,
        "Data Packets Count"
    );
    assert_eq!(le_u32(&written, fp + 88) & 3, 2, "Seekable, not Broadcast");
    assert_ne!(le_u64(&written, fp + 48), 0, "Creation Date");
    let play = le_u64(&written, fp + 64) as f64 / 1e7;
    let preroll = le_u64(&written, fp + 80) as f64 / 1e3;
    assert!(
        (play - preroll - 10.0).abs() < 0.5,
        "play duration {play} preroll {preroll}"
    );
    assert!(
        find(&written, &SIMPLE_INDEX).is_some(),
        "Simple Index written"
    );
    assert!(find(&written, &INDEX).is_some(), "Index Object written");

    ffmpeg_decodes(&out, &[]).expect("ffmpeg decodes the output");
    ffmpeg_decodes(&out, &["-ss", "5"]).expect("ffmpeg seeks to 5 s");
    let frames_in = ffprobe_video_frames(&input).expect("frames in");
    let frames_out = ffprobe_video_frames(&out).expect("frames out");
    assert_eq!(frames_in, frames_out);
    let d = ffprobe_duration(&out).expect("duration");
    assert!((d - 10.0).abs() < 0.5, "ffprobe duration {d}");
    if have_tool(
        "gst-launch-1.0",
        "file_sink_output_decodes_seeks_and_is_indexed (gstreamer)",
    ) {
        gstreamer_decodes(&out).expect("GStreamer decodes the output");
    }
}

#[test]
fn file_cut_off_before_the_end_still_decodes() {
    if !have_tool("ffmpeg", "file_cut_off_before_the_end_still_decodes") {
        return;
    }
    let dir = tempdir();
    let input = generate_input(dir.path()).expect("ffmpeg makes the input");
    let split = split_asf(&std::fs::read(&input).expect("read input"));
    let n = split.packets.len();
    let mut sink = FileSink::new(Cursor::new(Vec::new()), FileSinkConfig::default());
    sink.on_header(&split.header).expect("header");
    feed(&mut sink, &split, 0..n);
    // The process "dies" here: no on_end_writing. What is on disk is the broadcast-style file.
    let image = sink.get_ref().expect("output").get_ref().clone();
    let header_len = image.len() - n * split.packet_size;
    let random = 1 + (std::process::id() as usize * 7919) % (n - 1);
    for cut in [1, 2, n / 3, n / 2, n - 1, n, random] {
        let path = dir.path().join(format!("cut{cut}.asf"));
        std::fs::write(&path, &image[..header_len + cut * split.packet_size]).expect("write cut");
        ffmpeg_decodes(&path, &[]).unwrap_or_else(|e| panic!("cut at packet {cut} of {n}: {e}"));
    }
    if have_tool(
        "gst-launch-1.0",
        "file_cut_off_before_the_end_still_decodes (gstreamer)",
    ) {
        let path = dir.path().join(format!("cut{}.asf", n / 2));
        gstreamer_decodes(&path).expect("GStreamer decodes a cut file");
    }
}

#[test]
fn audio_only_file_is_seekable_without_index() {
    if !have_tool("ffmpeg", "audio_only_file_is_seekable_without_index") {
        return;
    }
    let dir = tempdir();
    let input = generate_audio_only(dir.path()).expect("ffmpeg makes the input");
    let split = split_asf(&std::fs::read(&input).expect("read input"));
    let mut sink = FileSink::new(Cursor::new(Vec::new()), FileSinkConfig::default());
    sink.on_header(&split.header).expect("header");
    feed(&mut sink, &split, 0..split.packets.len());
    sink.on_end_writing().expect("end");
    let written = sink.into_inner().expect("output").into_inner();
    let fp = find(&written, &FILE_PROPERTIES).expect("file properties");
    assert_eq!(le_u32(&written, fp + 88) & 3, 2, "audio-only: Seekable");
    assert!(
        find(&written, &SIMPLE_INDEX).is_none(),
        "no video, no Simple Index"
    );
    let path = dir.path().join("out.wma");
    std::fs::write(&path, &written).expect("write");
    ffmpeg_decodes(&path, &[]).expect("ffmpeg decodes");
    ffmpeg_decodes(&path, &["-ss", "2"]).expect("ffmpeg seeks");
}

#[test]
fn stopped_sink_skips_packets_and_resumes_at_a_key_frame() {
    if !have_tool(
        "ffmpeg",
        "stopped_sink_skips_packets_and_resumes_at_a_key_frame",
    ) {
        return;
    }
    let dir = tempdir();
    let input = generate_input(dir.path()).expect("ffmpeg makes the input");
    let split = split_asf(&std::fs::read(&input).expect("read input"));
    let n = split.packets.len();
    let out = dir.path().join("out.asf");
    let mut sink = FileSink::create(&out).expect("create");
    sink.on_header(&split.header).expect("header");
    feed(&mut sink, &split, 0..n / 4);
    sink.stop();
    assert!(sink.is_stopped());
    feed(&mut sink, &split, n / 4..n / 2);
    assert_eq!(sink.packet_count(), (n / 4) as u64);
    sink.start();
    // Not a key frame: still skipped.
    feed(&mut sink, &split, n / 2..n / 2 + 1);
    assert_eq!(sink.packet_count(), (n / 4) as u64);
    for i in n / 2 + 1..n {
        let info = PacketInfo {
            index: i as u64,
            key_frame: i == n / 2 + 1,
            ..PacketInfo::default()
        };
        sink.on_data_unit(DataUnit::shared(split.packets[i].clone(), info))
            .expect("unit");
    }
    assert_eq!(sink.packet_count(), (n / 4 + n - (n / 2 + 1)) as u64);
    assert_eq!(sink.stats().drops, (n / 2 - n / 4 + 1) as u64);
    sink.close().expect("close");
    let size = sink.file_size();
    assert_eq!(std::fs::metadata(&out).expect("meta").len(), size);
    // ffmpeg reads the whole file (the cut in the middle may make the decoder complain about
    // references, so no -xerror here: only that it demuxes to the end).
    let d = ffprobe_duration(&out).expect("duration");
    assert!(d > 5.0, "duration {d}");
}

/// A header without a Header Extension (the kit's synthetic stream): the FileSink adds one
/// for the Index Parameters Object; ffprobe and GStreamer's asfdemux parse the result and
/// ffmpeg seeks in it (stream copy: the payloads are placeholders, not codec data).
#[test]
fn synthetic_file_with_added_header_extension_parses_and_seeks() {
    if !have_tool(
        "ffmpeg",
        "synthetic_file_with_added_header_extension_parses_and_seeks",
    ) {
        return;
    }
    use push_sink::testing::SimpleMux;
    use push_sink::{Sample, Writer};
    let dir = tempdir();
    let out = dir.path().join("syn.asf");
    let mut w = Writer::new(Box::new(SimpleMux::new(1400)));
    w.add_sink(Box::new(FileSink::create(&out).expect("create")));
    w.begin_writing().expect("begin");
    for i in 0..250u64 {
        let v = vec![0u8; 2000];
        w.write_sample(Sample {
            stream: 1,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: i.is_multiple_of(25),
            data: v.into(),
        })
        .expect("video");
        let a = vec![0u8; 400];
        w.write_sample(Sample {
            stream: 2,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: true,
            data: a.into(),
        })
        .expect("audio");
    }
    w.end_writing().expect("end");
    let d = ffprobe_duration(&out).expect("ffprobe reads it");
    assert!((d - 10.0).abs() < 0.1, "duration {d}");
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-v", "error", "-ss", "5", "-i"])
        .arg(&out)
        .args(["-map", "0", "-c", "copy", "-f", "null", "-"]);
    run(&mut cmd, std::time::Duration::from_secs(60)).expect("ffmpeg seeks with stream copy");
    if have_tool(
        "gst-launch-1.0",
        "synthetic_file_with_added_header_extension_parses_and_seeks (gstreamer)",
    ) {
        let mut cmd = std::process::Command::new("gst-launch-1.0");
        cmd.arg("-q")
            .arg("filesrc")
            .arg(format!("location={}", out.display()))
            .args([
                "!",
                "asfdemux",
                "name=d",
                "d.video_0",
                "!",
                "queue",
                "!",
                "fakesink",
                "d.audio_0",
                "!",
                "queue",
                "!",
                "fakesink",
            ]);
        run(&mut cmd, std::time::Duration::from_secs(60)).expect("asfdemux reads it");
    }
}

/// What is on disk while a `FileSink::create` file is being written (the state a `kill -9`
/// leaves): whole packets only (the buffered writer flushes whole writes), broadcast header,
/// and ffmpeg decodes it.
#[test]
fn on_disk_file_mid_write_is_whole_packets_and_decodes() {
    if !have_tool(
        "ffmpeg",
        "on_disk_file_mid_write_is_whole_packets_and_decodes",
    ) {
        return;
    }
    let dir = tempdir();
    let input = generate_input(dir.path()).expect("ffmpeg makes the input");
    let split = split_asf(&std::fs::read(&input).expect("read input"));
    let out = dir.path().join("live.asf");
    let mut sink = FileSink::create(&out).expect("create");
    sink.on_header(&split.header).expect("header");
    let n = split.packets.len();
    feed(&mut sink, &split, 0..n * 2 / 3);
    let on_disk = std::fs::read(&out).expect("read while writing");
    let header_len = le_u64(&on_disk, 16) as usize + 50;
    assert!(on_disk.len() > header_len, "something was flushed");
    assert_eq!(
        (on_disk.len() - header_len) % split.packet_size,
        0,
        "whole packets only"
    );
    let copy = dir.path().join("killed.asf");
    std::fs::write(&copy, &on_disk).expect("copy");
    ffmpeg_decodes(&copy, &[]).expect("ffmpeg decodes what a kill leaves");
    drop(sink);
}
