//! Files written on the fly by the two independent third-party muxers, FFmpeg (`-f asf`) and
//! GStreamer (`asfmux`, plain and `streamable=true`), go through the `roundtrip` example's code
//! path byte for byte, validate without errors, walk every packet, and give the same
//! streaming-reader events whatever the chunking. Each writer is skipped (with a note) when it
//! is not installed. The exact commands are in [`WRITERS`].

use asf_format::Limits;
use asf_format::packet::PacketView;
use asf_format::stream::{Event, read_all, read_chunks};
use std::path::{Path, PathBuf};
use std::process::Command;

mod vectors;

#[path = "../examples/roundtrip.rs"]
mod roundtrip_example;

/// (file name, shell command with `$OUT`, program that must be installed).
const WRITERS: &[(&str, &str, &str)] = &[
    (
        "gst_asfmux_default.asf",
        "gst-launch-1.0 -q videotestsrc num-buffers=150 ! avenc_wmv2 ! asfmux name=m ! filesink location=\"$OUT\" \
         audiotestsrc num-buffers=200 ! avenc_wmav2 ! m.",
        "gst-launch-1.0",
    ),
    (
        "gst_asfmux_streamable.asf",
        "gst-launch-1.0 -q videotestsrc num-buffers=150 ! avenc_wmv2 ! asfmux name=m streamable=true ! filesink location=\"$OUT\" \
         audiotestsrc num-buffers=200 ! avenc_wmav2 ! m.",
        "gst-launch-1.0",
    ),
    (
        "gst_asfmux_3200.asf",
        "gst-launch-1.0 -q asfmux name=m packet-size=3200 preroll=3100 ! filesink location=\"$OUT\" \
         videotestsrc num-buffers=100 ! video/x-raw,width=320,height=240,framerate=25/1 ! videoconvert ! avenc_wmv2 bitrate=500000 ! queue ! m. \
         audiotestsrc num-buffers=172 ! audio/x-raw,rate=44100,channels=2 ! audioconvert ! avenc_wmav2 bitrate=128000 ! queue ! m.",
        "gst-launch-1.0",
    ),
    (
        "gst_asfmux_audio_only.asf",
        "gst-launch-1.0 -q audiotestsrc num-buffers=100 ! avenc_wmav2 ! asfmux ! filesink location=\"$OUT\"",
        "gst-launch-1.0",
    ),
    (
        "ffmpeg_asf.asf",
        "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25:duration=3 \
         -f lavfi -i sine=frequency=1000:sample_rate=44100:duration=3 -c:v wmv2 -b:v 500k -c:a wmav2 \
         -b:a 64k -ac 2 -f asf \"$OUT\"",
        "ffmpeg",
    ),
];

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Generates every writer's file that can be made here (in a directory private to `test`);
/// returns (name, bytes).
fn generated(test: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("asf-format-gen-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut out = Vec::new();
    for (name, recipe, program) in WRITERS {
        if !installed(program) {
            eprintln!("{program} not installed; skipping {name}");
            continue;
        }
        let path: PathBuf = dir.join(name);
        let script = recipe.replace("$OUT", &path.to_string_lossy());
        let status = Command::new("sh").arg("-c").arg(&script).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "generating {name} failed: {script}"
        );
        out.push((
            name.to_string(),
            std::fs::read(&path).expect("read generated"),
        ));
    }
    let _ = std::fs::remove_dir_all(Path::new(&dir));
    out
}

#[test]
fn generated_files_round_trip_byte_for_byte_and_stream_in_any_chunking() {
    let files = generated("roundtrip");
    for (name, bytes) in &files {
        // The example's code path: parse into the model, serialize the model.
        let done = roundtrip_example::round_trip(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            done.output == *bytes,
            "{name}: model bytes differ from the input"
        );
        let errors: Vec<&String> = done
            .notes
            .iter()
            .filter(|n| !n.starts_with("warning"))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");

        // Every packet parses as a view, and the streaming reader agrees with itself across
        // chunkings.
        let whole = read_all(bytes, Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut packet_size = 0;
        let mut packets = 0;
        for e in &whole {
            match e {
                Event::Header { info, .. } => packet_size = info.packet_size,
                Event::Packet { offset, data } => {
                    PacketView::parse(data, packet_size, *offset)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    packets += 1;
                }
                _ => {}
            }
        }
        assert!(packets > 3, "{name}: {packets} packets");
        for seed in [1u64, 7, 99] {
            assert_eq!(
                read_chunks(vectors::random_chunks(bytes, seed, 7000), Limits::default()).as_ref(),
                Ok(&whole),
                "{name} seed {seed}"
            );
        }
    }
}

/// GStreamer asfmux writes the last packet of a file with Packet Length = bytes used and
/// Padding Length = the rest of the packet (the two add up to the packet size). That packet
/// used to be rejected; its payload must now be read, and end exactly at Packet Length.
#[test]
fn gstreamer_short_last_packet_is_read() {
    let files = generated("short");
    let mut seen = 0;
    for (name, bytes) in files.iter().filter(|(n, _)| n.starts_with("gst_")) {
        let events = read_all(bytes, Limits::default()).expect("reads");
        let mut packet_size = 0;
        for e in &events {
            match e {
                Event::Header { info, .. } => packet_size = info.packet_size,
                Event::Packet { offset, data } => {
                    let v = PacketView::parse(data, packet_size, *offset)
                        .unwrap_or_else(|e| panic!("{name} packet at {offset}: {e}"));
                    let len = v.packet_length();
                    if len != 0 && len < packet_size && v.padding_length() > 0 {
                        assert_eq!(len + v.padding_length(), packet_size, "{name}");
                        let last = v.payloads().last().expect("a payload");
                        let end = last.data_offset() - offset + last.data.len() as u64;
                        assert_eq!(end, u64::from(len), "{name}: payloads end at Packet Length");
                        seen += 1;
                    }
                }
                _ => {}
            }
        }
    }
    if installed("gst-launch-1.0") {
        assert!(seen > 0, "no short asfmux packet seen");
    }
}
