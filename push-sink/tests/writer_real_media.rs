//! Real media through Writer + FileSink: media objects reassembled from an ffmpeg-made
//! WMV2/WMA2 file are written again through the Writer (the kit's SimpleMux over the input's
//! own header) into a FileSink; ffmpeg and GStreamer decode the result, it seeks, and the
//! stream copy matches the input frame for frame.
//!
//! When ffmpeg is missing these tests print a skip line, or fail when `WMPUSH_INTEROP=require`.

mod common;

use bytes::Bytes;
use push_sink::testing::{RecordingSink, SimpleMux};
use push_sink::{FileSink, Sample, Writer};

use common::*;

fn samples(objects: &[MediaObject], preroll_ms: u32) -> Vec<Sample> {
    objects
        .iter()
        .map(|o| Sample {
            stream: o.stream,
            presentation_time_ms: u64::from(o.presentation_ms.saturating_sub(preroll_ms)),
            duration_ms: 0,
            key_frame: o.key_frame,
            data: Bytes::from(o.data.clone()),
        })
        .collect()
}

#[test]
fn real_samples_through_writer_and_file_sink_decode_and_match() {
    if !have_tool(
        "ffmpeg",
        "real_samples_through_writer_and_file_sink_decode_and_match",
    ) {
        return;
    }
    let dir = tempdir();
    let input = generate_input(dir.path()).expect("ffmpeg makes the input");
    let bytes = std::fs::read(&input).expect("read");
    let split = split_asf(&bytes);
    let objects = reassemble(&split);
    assert!(objects.len() > 300, "{} media objects", objects.len());
    let preroll = le_u64(&split.header, split.file_properties + 80) as u32;

    let out = dir.path().join("rewritten.asf");
    let mut w = Writer::new(Box::new(
        SimpleMux::from_header(split.header.clone()).expect("mux"),
    ));
    w.add_sink(Box::new(FileSink::create(&out).expect("create")));
    // A second sink makes the writer share packets instead of writing into the file sink's buffers.
    let rec = RecordingSink::new(false, 4);
    let log = rec.log();
    w.add_sink(Box::new(rec));
    w.begin_writing().expect("begin");
    for s in samples(&objects, preroll) {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    assert!(w.take_sink_failures().is_empty());
    let stats = w.stream_stats();
    assert_eq!(
        stats.iter().map(|s| s.samples).sum::<u64>(),
        objects.len() as u64
    );
    assert_eq!(stats.iter().map(|s| s.dropped).sum::<u64>(), 0);
    assert!(log.lock().expect("log").len() as u64 >= w.packets_made());

    ffmpeg_decodes(&out, &[]).expect("ffmpeg decodes the rewritten file");
    ffmpeg_decodes(&out, &["-ss", "5"]).expect("ffmpeg seeks in the rewritten file");
    assert_eq!(ffprobe_video_frames(&input), ffprobe_video_frames(&out));
    let (a, b) = (
        framemd5(&input).expect("framemd5 in"),
        framemd5(&out).expect("framemd5 out"),
    );
    let strip = |s: &str| -> Vec<String> {
        // stream index, pts, size, md5 (dts and duration depend on the muxer's packet fields).
        s.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').map(str::trim).collect();
                format!("{} {} {} {}", f[0], f[2], f[4], f[5])
            })
            .collect()
    };
    assert!(strip(&a).len() > 300, "framemd5 lists every frame");
    assert_eq!(strip(&a), strip(&b), "same media objects, same timestamps");
    if have_tool(
        "gst-launch-1.0",
        "real_samples_through_writer_and_file_sink (gstreamer)",
    ) {
        gstreamer_decodes(&out).expect("GStreamer decodes the rewritten file");
    }
}

#[test]
fn real_samples_through_writer_one_sink_zero_copy_file() {
    if !have_tool(
        "ffmpeg",
        "real_samples_through_writer_one_sink_zero_copy_file",
    ) {
        return;
    }
    let dir = tempdir();
    let input = generate_input(dir.path()).expect("ffmpeg makes the input");
    let split = split_asf(&std::fs::read(&input).expect("read"));
    let objects = reassemble(&split);
    let preroll = le_u64(&split.header, split.file_properties + 80) as u32;
    let out = dir.path().join("single.asf");
    let mut w = Writer::new(Box::new(
        SimpleMux::from_header(split.header.clone()).expect("mux"),
    ));
    w.add_sink(Box::new(FileSink::create(&out).expect("create")));
    w.begin_writing().expect("begin");
    for s in samples(&objects, preroll) {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    assert!(w.take_sink_failures().is_empty());
    ffmpeg_decodes(&out, &[]).expect("ffmpeg decodes");
    let d = ffprobe_duration(&out).expect("duration");
    assert!((d - 10.0).abs() < 0.5, "duration {d}");
}
