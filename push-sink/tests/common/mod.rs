//! Small local helpers for push-sink's integration tests (push-sink must not depend on the
//! workspace's `tests` crate): external tools with timeouts, an ffmpeg-generated input file,
//! and a minimal ASF splitter (header + fixed-size packets) that does not use the code under
//! test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// True when interop tools must be present (CI sets `WMPUSH_INTEROP=require`).
pub fn interop_required() -> bool {
    std::env::var("WMPUSH_INTEROP").is_ok_and(|v| v == "require")
}

/// Whether `program` runs; when it does not, fails if interop is required, else prints a skip
/// line (the caller returns).
pub fn have_tool(program: &str, test: &str) -> bool {
    let ok = Command::new(program)
        .arg(if program.starts_with("gst-") {
            "--version"
        } else {
            "-version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !interop_required(),
            "{program} is missing and WMPUSH_INTEROP=require"
        );
        eprintln!("SKIP {test}: {program} not found");
    }
    ok
}

/// Runs a command with a time limit; Ok(stderr) on success, Err(description) otherwise.
pub fn run(cmd: &mut Command, limit: Duration) -> Result<String, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn failed: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    use std::io::Read;
                    let _ = s.read_to_string(&mut err);
                }
                return if status.success() && err.trim().is_empty() {
                    Ok(err)
                } else {
                    Err(format!("{cmd:?}: {status}: {err}"))
                };
            }
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?}: timed out after {limit:?}"));
            }
            Err(e) => return Err(format!("wait failed: {e}")),
        }
    }
}

/// `ffmpeg -v error -xerror [pre...] -i F -f null -`: decodes without any error.
pub fn ffmpeg_decodes(path: &Path, pre: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-v", "error", "-xerror"])
        .args(pre)
        .arg("-i")
        .arg(path)
        .args(["-f", "null", "-"]);
    run(&mut cmd, Duration::from_secs(60)).map(|_| ())
}

/// ffprobe's format duration in seconds.
pub fn ffprobe_duration(path: &Path) -> Option<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=nw=1:nk=1",
        ])
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Counts decoded video frames with ffprobe (`-count_frames`).
pub fn ffprobe_video_frames(path: &Path) -> Option<u64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "default=nw=1:nk=1",
        ])
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// GStreamer asfdemux + decoders read the whole file.
pub fn gstreamer_decodes(path: &Path) -> Result<(), String> {
    let mut cmd = Command::new("gst-launch-1.0");
    cmd.arg("-q")
        .arg("filesrc")
        .arg(format!("location={}", path.display()))
        .args([
            "!",
            "decodebin",
            "name=d",
            "d.",
            "!",
            "queue",
            "!",
            "fakesink",
            "d.",
            "!",
            "queue",
            "!",
            "fakesink",
        ]);
    run(&mut cmd, Duration::from_secs(60)).map(|_| ())
}

/// Generates the 10 s WMV2 + WMA2 test input of the brief into `dir` (cached per dir).
pub fn generate_input(dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("IN.asf");
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=640x480:rate=25:duration=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:sample_rate=44100:duration=10",
        "-c:v",
        "wmv2",
        "-b:v",
        "1M",
        "-c:a",
        "wmav2",
        "-b:a",
        "128k",
        "-ac",
        "2",
        "-f",
        "asf",
    ])
    .arg(&out);
    run(&mut cmd, Duration::from_secs(120))?;
    Ok(out)
}

/// Generates an audio-only WMA2 file (5 s).
pub fn generate_audio_only(dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("AUDIO.wma");
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100:duration=5",
        "-c:a",
        "wmav2",
        "-b:a",
        "64k",
        "-f",
        "asf",
    ])
    .arg(&out);
    run(&mut cmd, Duration::from_secs(60))?;
    Ok(out)
}

pub fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// File Properties Object GUID 8CABDCA1-A947-11CF-8EE4-00C00C205365 in disk order.
pub const FILE_PROPERTIES: [u8; 16] = [
    0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11, 0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65,
];
/// Simple Index Object GUID 33000890-E5B1-11CF-89F4-00A0C90349CB in disk order.
pub const SIMPLE_INDEX: [u8; 16] = [
    0x90, 0x08, 0x00, 0x33, 0xB1, 0xE5, 0xCF, 0x11, 0x89, 0xF4, 0x00, 0xA0, 0xC9, 0x03, 0x49, 0xCB,
];
/// Index Object GUID D6E229D3-35DA-11D1-9034-00A0C90349BE in disk order.
pub const INDEX: [u8; 16] = [
    0xD3, 0x29, 0xE2, 0xD6, 0xDA, 0x35, 0xD1, 0x11, 0x90, 0x34, 0x00, 0xA0, 0xC9, 0x03, 0x49, 0xBE,
];

/// An ASF file split the way a writer hands it to a sink.
pub struct Split {
    /// Header Object + the 50-byte Data Object header.
    pub header: Bytes,
    /// Fixed packet size.
    pub packet_size: usize,
    /// The data packets.
    pub packets: Vec<Bytes>,
    /// Offset of the File Properties Object in `header`.
    pub file_properties: usize,
}

/// Splits a complete ASF file (top-level objects walked by size).
pub fn split_asf(file: &[u8]) -> Split {
    let header_size = le_u64(file, 16) as usize;
    let fp = find(&file[..header_size], &FILE_PROPERTIES).expect("File Properties Object");
    let packet_size = le_u32(file, fp + 92) as usize;
    let data_size = le_u64(file, header_size + 16) as usize;
    let count = (data_size - 50) / packet_size;
    let header = Bytes::copy_from_slice(&file[..header_size + 50]);
    let mut packets = Vec::with_capacity(count);
    for i in 0..count {
        let at = header_size + 50 + i * packet_size;
        packets.push(Bytes::copy_from_slice(&file[at..at + packet_size]));
    }
    Split {
        header,
        packet_size,
        packets,
        file_properties: fp,
    }
}

/// First position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// One media object reassembled from an ASF file's packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaObject {
    pub stream: u16,
    /// Presentation time in ms as on the wire (preroll included).
    pub presentation_ms: u32,
    pub key_frame: bool,
    pub data: Vec<u8>,
}

struct Rd<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        s
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn typed(&mut self, t: u8) -> u32 {
        match t & 3 {
            0 => 0,
            1 => u32::from(self.u8()),
            2 => u32::from(u16::from_le_bytes(self.take(2).try_into().expect("2"))),
            _ => u32::from_le_bytes(self.take(4).try_into().expect("4")),
        }
    }
}

/// Reassembles the media objects of `split`'s packets (ASF 5.2; test helper, panics on
/// malformed input), in the order they complete.
pub fn reassemble(split: &Split) -> Vec<MediaObject> {
    let mut open: std::collections::HashMap<u16, (u32, MediaObject)> = Default::default();
    let mut out = Vec::new();
    for p in &split.packets {
        let mut r = Rd { b: p, at: 0 };
        let mut flags = r.u8();
        if flags & 0x80 != 0 {
            r.take(usize::from(flags & 0x0F));
            flags = r.u8();
        }
        let props = r.u8();
        let plen = r.typed(flags >> 5);
        r.typed(flags >> 1);
        let padding = r.typed(flags >> 3) as usize;
        r.take(6);
        let plen = if flags & 0x60 == 0 {
            p.len()
        } else {
            plen as usize
        };
        let end = plen - padding;
        let multiple = flags & 1 != 0;
        let (count, lt) = if multiple {
            let f = r.u8();
            (usize::from(f & 0x3F), f >> 6)
        } else {
            (1, 0)
        };
        for _ in 0..count {
            let sb = r.u8();
            let stream = u16::from(sb & 0x7F);
            let key = sb & 0x80 != 0;
            let _object = r.typed(props >> 4);
            let offset = r.typed(props >> 2);
            let rep_len = r.typed(props) as usize;
            let rep = r.take(rep_len);
            let len = if multiple {
                r.typed(lt) as usize
            } else {
                end - r.at
            };
            let data = r.take(len);
            if rep_len == 1 {
                let mut s = Rd { b: data, at: 0 };
                let mut n = 0;
                while s.at < data.len() {
                    let l = usize::from(s.u8());
                    out.push(MediaObject {
                        stream,
                        presentation_ms: offset + u32::from(rep[0]) * n,
                        key_frame: key,
                        data: s.take(l).to_vec(),
                    });
                    n += 1;
                }
                continue;
            }
            let size = le_u32(rep, 0);
            let pt = le_u32(rep, 4);
            if offset == 0 {
                open.insert(
                    stream,
                    (
                        size,
                        MediaObject {
                            stream,
                            presentation_ms: pt,
                            key_frame: key,
                            data: Vec::new(),
                        },
                    ),
                );
            }
            if let Some((size, obj)) = open.get_mut(&stream) {
                obj.data.extend_from_slice(data);
                if obj.data.len() == *size as usize {
                    let (_, done) = open.remove(&stream).expect("open");
                    out.push(done);
                }
            }
        }
    }
    out
}

/// `ffmpeg -i X -map 0 -c copy -f framemd5 -` output without comment lines.
pub fn framemd5(path: &Path) -> Result<String, String> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n"))
}
