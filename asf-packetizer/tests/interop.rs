//! Interop with real players: remux an ffmpeg-made WMV2 + WMA2 file at several packet sizes,
//! live and file, and check ffprobe, a clean ffmpeg decode, identical `framemd5` of the
//! streams copied out, GStreamer's asfdemux, and (file mode) seeking to a key frame.
//!
//! When ffmpeg is missing the tests print a skip line and pass, unless WMPUSH_INTEROP=require.

use std::path::{Path, PathBuf};
use std::process::Command;

use asf_packetizer::{Mode, RemuxOptions, remux_to_vec};

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tools_or_skip(name: &str) -> bool {
    if have("ffmpeg") && have("ffprobe") {
        return true;
    }
    assert!(
        std::env::var("WMPUSH_INTEROP").as_deref() != Ok("require"),
        "{name}: ffmpeg/ffprobe missing and WMPUSH_INTEROP=require"
    );
    println!("skip {name}: ffmpeg/ffprobe not installed");
    false
}

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("asf-packetizer-interop");
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The input: 10 s of 640x480 testsrc as WMV2 at 1 Mbit/s and a 1 kHz sine as WMA2 at
/// 128 kbit/s (the command of the packetizer brief), made once.
fn input() -> PathBuf {
    static MADE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = MADE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let p = dir().join("test10.asf");
    if !p.exists() {
        let tmp = dir().join(format!("test10.{}.asf", std::process::id()));
        let st = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg("testsrc=size=640x480:rate=25:duration=10")
            .args([
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=1000:sample_rate=44100:duration=10",
            ])
            .args([
                "-c:v", "wmv2", "-b:v", "1M", "-c:a", "wmav2", "-b:a", "128k", "-ac", "2",
            ])
            .args(["-f", "asf"])
            .arg(&tmp)
            .status()
            .expect("ffmpeg runs");
        assert!(st.success(), "ffmpeg made the input");
        std::fs::rename(&tmp, &p).expect("rename");
    }
    p
}

fn framemd5(p: &Path) -> Vec<String> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args(["-map", "0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(o.status.success(), "framemd5 of {}", p.display());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn check(name: &str, opts: RemuxOptions) {
    if !tools_or_skip(name) {
        return;
    }
    let inp = input();
    let bytes = std::fs::read(&inp).expect("read input");
    let out = remux_to_vec(&bytes, opts.clone()).expect("remux");
    if let Some(ps) = opts.packet_size {
        // Header + Data Object header + whole packets (+ index objects in file mode).
        assert!(out.len() > ps as usize);
    } else if opts.mode == Mode::File && !opts.compressed_payloads {
        // Same packet size: packed as densely as FFmpeg packed the input (within 3 %; the
        // header differs by a few hundred bytes, the index by a few entries).
        assert!(
            out.len() * 100 <= bytes.len() * 103,
            "{name}: {} bytes out of {} in",
            out.len(),
            bytes.len()
        );
    }
    let outp = dir().join(format!("{name}.asf"));
    std::fs::write(&outp, &out).expect("write output");

    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-show_format"])
        .arg(&outp)
        .output()
        .expect("ffprobe runs");
    assert!(probe.status.success(), "{name}: ffprobe failed");
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(
        text.contains("codec_name=wmv2") && text.contains("codec_name=wmav2"),
        "{name}: {text}"
    );

    let dec = Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-i"])
        .arg(&outp)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        dec.status.success() && dec.stderr.is_empty(),
        "{name}: decode errors: {}",
        String::from_utf8_lossy(&dec.stderr)
    );

    assert_eq!(framemd5(&outp), framemd5(&inp), "{name}: framemd5 differs");

    if have("gst-launch-1.0") {
        let g = Command::new("gst-launch-1.0")
            .arg("-q")
            .arg("filesrc")
            .arg(format!("location={}", outp.display()))
            .args(["!", "asfdemux", "!", "fakesink"])
            .output()
            .expect("gst-launch runs");
        assert!(
            g.status.success(),
            "{name}: gstreamer: {}",
            String::from_utf8_lossy(&g.stderr)
        );
    }

    if opts.mode == Mode::File {
        // Seeking: the first video frame after -ss 5 is a key frame at or before 5 s.
        let o = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-read_intervals",
                "5%+#1",
                "-select_streams",
                "v:0",
            ])
            .args(["-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"])
            .arg(&outp)
            .output()
            .expect("ffprobe runs");
        let text = String::from_utf8_lossy(&o.stdout);
        let first = text.lines().next().unwrap_or_default().to_owned();
        assert!(
            first.contains('K'),
            "{name}: seek to 5 s lands on {first:?}"
        );
        let t: f64 = first
            .split(',')
            .next()
            .unwrap_or("99")
            .parse()
            .unwrap_or(99.0);
        assert!(t <= 5.0, "{name}: seek landed after 5 s: {t}");
    }
}

#[test]
fn remux_default_file() {
    check("default", RemuxOptions::default());
}

#[test]
fn remux_1400_file() {
    check(
        "ps1400",
        RemuxOptions {
            packet_size: Some(1400),
            ..RemuxOptions::default()
        },
    );
}

#[test]
fn remux_16000_file() {
    check(
        "ps16000",
        RemuxOptions {
            packet_size: Some(16_000),
            preroll: Some(5000),
            ..RemuxOptions::default()
        },
    );
}

#[test]
fn remux_live() {
    check(
        "live",
        RemuxOptions {
            mode: Mode::Live,
            ..RemuxOptions::default()
        },
    );
}

#[test]
fn remux_compressed_payloads() {
    check(
        "compressed",
        RemuxOptions {
            compressed_payloads: true,
            packet_size: Some(1400),
            ..RemuxOptions::default()
        },
    );
}

/// Compressed payloads (runs of 160-byte, 20 ms PCM frames): the packets really use them, and
/// ffmpeg demuxes every frame with its own time and decodes without error.
#[test]
fn compressed_payloads_play_in_ffmpeg() {
    use asf_packetizer::{Packetizer, PacketizerOptions, Profile, Sample, StreamConfig};
    if !tools_or_skip("compressed_pcm") {
        return;
    }
    let profile = Profile::new().with_stream(StreamConfig::pcm(1, 1, 8000, 8));
    let mut o = PacketizerOptions::new(Mode::File);
    o.compressed_payloads = true;
    o.packet_size = 1400;
    let mut p = Packetizer::new(profile, o).expect("valid");
    let mut file = p.header().expect("header").to_vec();
    let mut packets = Vec::new();
    for i in 0..250u64 {
        let data: Vec<u8> = (0..160)
            .map(|k| (128.0 + 60.0 * ((i * 160 + k) as f64 * 0.3).sin()) as u8)
            .collect();
        p.push_sample(
            Sample {
                stream: 1,
                presentation_time: i * 20,
                duration: 20,
                keyframe: true,
                data: bytes::Bytes::from(data),
            },
            &mut packets,
        )
        .expect("push");
    }
    let end = p.finish(0).expect("finish");
    packets.extend(end.packets);
    let mut compressed = 0;
    for pk in &packets {
        let b = bytes::Bytes::copy_from_slice(pk.bytes());
        let v = asf_format::packet::PacketView::parse(&b, 1400, 0).expect("parses");
        compressed += v.payloads().filter(|pl| pl.is_compressed()).count();
        file.extend_from_slice(pk.bytes());
    }
    assert!(
        compressed > 0 && packets.len() < 40,
        "{compressed} compressed payloads in {} packets",
        packets.len()
    );
    file.extend_from_slice(&end.index_objects);
    let fix = end.fixup.expect("file mode");
    file[..fix.bytes.len()].copy_from_slice(&fix.bytes);
    let outp = dir().join("compressed_pcm.asf");
    std::fs::write(&outp, &file).expect("write");
    let dec = Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-i"])
        .arg(&outp)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        dec.status.success() && dec.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    let lines = framemd5(&outp);
    assert_eq!(lines.len(), 250, "every sub-payload is a frame");
    for (i, l) in lines.iter().enumerate() {
        let pts: i64 = l
            .split(',')
            .nth(2)
            .unwrap_or("")
            .trim()
            .parse()
            .expect("pts");
        assert_eq!(pts, i as i64 * 20, "frame {i}: {l}");
    }
}
