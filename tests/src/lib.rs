//! Support code shared by wmpush's end-to-end and interop tests.
//!
//! Every integration test in `tests/tests/` goes through this module to
//! - find the third-party programs it drives (ffmpeg, ffprobe, gst-launch-1.0, cvlc, mpv, mplayer),
//! - get test media, generated once with ffmpeg or GStreamer into a cache under `target/` by the
//!   exact commands recorded in [`Media::recipe`],
//! - find the real-world corpus (`../shared/test-vectors/asf/real`, or `WMPUSH_VECTORS`),
//! - run a program with a time limit and read what it printed.
//!
//! When `WMPUSH_INTEROP=require` is set (CI sets it), a missing tool or corpus fails the test;
//! otherwise the test prints why it is skipped and returns.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// True when the environment demands interop tests run (`WMPUSH_INTEROP=require`).
pub fn interop_required() -> bool {
    std::env::var("WMPUSH_INTEROP")
        .map(|v| v == "require")
        .unwrap_or(false)
}

/// Called when something an interop test needs is missing: fails the test when interop is
/// required, otherwise prints a skip line. Returns `None` so callers can `let Some(x) = ... else { return }`.
pub fn missing<T>(what: &str) -> Option<T> {
    if interop_required() {
        panic!(
            "WMPUSH_INTEROP=require but {what} is missing; run .ci/run or install it (see README)"
        );
    }
    eprintln!("SKIPPED: {what} is missing (set WMPUSH_INTEROP=require to make this a failure)");
    None
}

/// Looks a program up on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A third-party program the interop tests drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `ffmpeg` (Debian package ffmpeg).
    Ffmpeg,
    /// `ffprobe` (Debian package ffmpeg).
    Ffprobe,
    /// `gst-launch-1.0` (gstreamer1.0-tools, with plugins good/bad/ugly/libav).
    GstLaunch,
    /// `cvlc` (vlc-bin, vlc-plugin-base). VLC refuses to run as root: see [`vlc_command`].
    Cvlc,
    /// `mpv`.
    Mpv,
    /// `mplayer`.
    Mplayer,
}

impl Tool {
    /// The program's file name.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Ffmpeg => "ffmpeg",
            Tool::Ffprobe => "ffprobe",
            Tool::GstLaunch => "gst-launch-1.0",
            Tool::Cvlc => "cvlc",
            Tool::Mpv => "mpv",
            Tool::Mplayer => "mplayer",
        }
    }

    /// The program's path, or `None` after [`missing`] said why (panics under `WMPUSH_INTEROP=require`).
    pub fn find(self) -> Option<PathBuf> {
        match find_on_path(self.program()) {
            Some(p) => Some(p),
            None => missing(&format!("the program `{}`", self.program())),
        }
    }
}

/// The workspace root (the folder holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Cargo's target folder (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// A fresh scratch folder for one test under `target/test-scratch/`.
pub fn scratch_dir(test_name: &str) -> PathBuf {
    let dir = target_dir()
        .join("test-scratch")
        .join(format!("{test_name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The real-world ASF corpus: `WMPUSH_VECTORS`, else `../shared/test-vectors/asf/real` beside the
/// workspace. `None` (after [`missing`]) when absent.
pub fn vectors_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("WMPUSH_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("../shared/test-vectors/asf/real"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        missing(&format!("the ASF test-vector corpus at {}", dir.display()))
    }
}

/// Every plain ASF file of the corpus (not the `mmsh-framed/` folder), sorted by name.
pub fn vector_files() -> Option<Vec<PathBuf>> {
    let dir = vectors_dir()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read vectors dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "wma" || e == "wmv" || e == "asf")
        })
        .collect();
    files.sort();
    Some(files)
}

/// Test media generated on demand by a third-party writer (ffmpeg or GStreamer asfmux) and cached
/// under `target/test-media/`. The exact commands are in [`Media::recipe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// 10 s, 640x480@25 WMV2 1 Mb/s + WMA2 128 kb/s stereo, ffmpeg `-f asf` to a file (3200-byte packets, Simple Index).
    Wmv2Wma2,
    /// 10 s WMA2 64 kb/s mono audio only.
    AudioOnlyWma,
    /// 10 s 320x240@15 MSMPEG4v3 video only.
    Msmpeg4v3VideoOnly,
    /// As [`Media::Wmv2Wma2`] with `-packet_size 1400`.
    PacketSize1400,
    /// As [`Media::Wmv2Wma2`] with `-packet_size 16000`.
    PacketSize16000,
    /// As [`Media::Wmv2Wma2`] written by `ffmpeg -f asf -` to a pipe: broadcast flag, Data Object
    /// size 50, index, then the 12-byte `$E` trailer.
    BroadcastPipe,
    /// As [`Media::Wmv2Wma2`] written by `-f asf_stream` (MMSH framing: `$H`, `$D`, `$E` chunks).
    MmshFramed,
    /// 10 s video + audio written by GStreamer `asfmux` (packet size 3200, preroll 3100).
    GstAsfmux,
}

const FFMPEG_AV_INPUTS: &str = "-hide_banner -loglevel error -y -f lavfi -i testsrc=size=640x480:rate=25:duration=10 -f lavfi -i sine=frequency=1000:sample_rate=44100:duration=10 -c:v wmv2 -b:v 1M -c:a wmav2 -b:a 128k -ac 2";

impl Media {
    /// Every kind, for tests that run a whole matrix.
    pub const ALL: [Media; 8] = [
        Media::Wmv2Wma2,
        Media::AudioOnlyWma,
        Media::Msmpeg4v3VideoOnly,
        Media::PacketSize1400,
        Media::PacketSize16000,
        Media::BroadcastPipe,
        Media::MmshFramed,
        Media::GstAsfmux,
    ];

    /// The plain-ASF kinds (everything but [`Media::MmshFramed`]).
    pub const PLAIN_ASF: [Media; 7] = [
        Media::Wmv2Wma2,
        Media::AudioOnlyWma,
        Media::Msmpeg4v3VideoOnly,
        Media::PacketSize1400,
        Media::PacketSize16000,
        Media::BroadcastPipe,
        Media::GstAsfmux,
    ];

    /// The cache file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Media::Wmv2Wma2 => "wmv2_wma2_10s.asf",
            Media::AudioOnlyWma => "wma2_audio_10s.wma",
            Media::Msmpeg4v3VideoOnly => "msmpeg4v3_video_10s.asf",
            Media::PacketSize1400 => "wmv2_wma2_10s_ps1400.asf",
            Media::PacketSize16000 => "wmv2_wma2_10s_ps16000.asf",
            Media::BroadcastPipe => "wmv2_wma2_10s_pipe.asf",
            Media::MmshFramed => "wmv2_wma2_10s_asf_stream.mmsh",
            Media::GstAsfmux => "gst_asfmux_10s.asf",
        }
    }

    /// Whether the file holds video.
    pub fn has_video(self) -> bool {
        self != Media::AudioOnlyWma
    }

    /// The exact shell command that makes the file, with `$OUT` for the output path.
    pub fn recipe(self) -> String {
        match self {
            Media::Wmv2Wma2 => format!("ffmpeg {FFMPEG_AV_INPUTS} -f asf \"$OUT\""),
            Media::AudioOnlyWma => "ffmpeg -hide_banner -loglevel error -y -f lavfi -i sine=frequency=440:sample_rate=44100:duration=10 -c:a wmav2 -b:a 64k -ac 1 -f asf \"$OUT\"".to_string(),
            Media::Msmpeg4v3VideoOnly => "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=15:duration=10 -c:v msmpeg4 -b:v 300k -an -f asf \"$OUT\"".to_string(),
            Media::PacketSize1400 => format!("ffmpeg {FFMPEG_AV_INPUTS} -packet_size 1400 -f asf \"$OUT\""),
            Media::PacketSize16000 => format!("ffmpeg {FFMPEG_AV_INPUTS} -packet_size 16000 -f asf \"$OUT\""),
            Media::BroadcastPipe => format!("ffmpeg {FFMPEG_AV_INPUTS} -f asf - > \"$OUT\""),
            Media::MmshFramed => format!("ffmpeg {FFMPEG_AV_INPUTS} -f asf_stream \"$OUT\""),
            Media::GstAsfmux => "gst-launch-1.0 -q asfmux name=m packet-size=3200 preroll=3100 ! filesink location=\"$OUT\" \
                videotestsrc num-buffers=250 ! video/x-raw,width=640,height=480,framerate=25/1 ! videoconvert ! avenc_wmv2 bitrate=1000000 ! queue ! m. \
                audiotestsrc num-buffers=431 ! audio/x-raw,rate=44100,channels=2 ! audioconvert ! avenc_wmav2 bitrate=128000 ! queue ! m."
                .to_string(),
        }
    }

    fn tool(self) -> Tool {
        if self == Media::GstAsfmux {
            Tool::GstLaunch
        } else {
            Tool::Ffmpeg
        }
    }

    /// The cached file, generated on first use. `None` (after [`missing`]) when the writer program
    /// is not installed. Safe to call from concurrent tests: each generation writes a private temp
    /// file and renames it into place.
    pub fn path(self) -> Option<PathBuf> {
        let dir = target_dir().join("test-media");
        let out = dir.join(self.file_name());
        if out.is_file() {
            return Some(out);
        }
        self.tool().find()?;
        std::fs::create_dir_all(&dir).expect("create test-media dir");
        let tmp = dir.join(format!(".{}.{}.tmp", self.file_name(), std::process::id()));
        let script = self.recipe().replace("$OUT", &tmp.to_string_lossy());
        let run = run_with_timeout(
            Command::new("sh").arg("-c").arg(&script),
            Duration::from_secs(120),
        );
        assert!(
            run.success(),
            "generating {} failed: {script}\n{}",
            self.file_name(),
            run.stderr
        );
        std::fs::rename(&tmp, &out).expect("rename generated media");
        Some(out)
    }

    /// The generated file's bytes.
    pub fn bytes(self) -> Option<Vec<u8>> {
        self.path()
            .map(|p| std::fs::read(p).expect("read generated media"))
    }
}

/// What a finished program did.
#[derive(Debug)]
pub struct RunOutput {
    /// Exit status, `None` when the program was killed at the time limit.
    pub status: Option<ExitStatus>,
    /// Everything written to standard output.
    pub stdout: Vec<u8>,
    /// Everything written to standard error, lossily decoded.
    pub stderr: String,
}

impl RunOutput {
    /// True when the program exited by itself with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Standard output as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs a command to completion or until `limit`, then kills it. Output is collected on threads so
/// a chatty program cannot block on a full pipe.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> RunOutput {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("wait on child") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned();
    RunOutput {
        status,
        stdout,
        stderr,
    }
}

/// `ffprobe -v error -show_format -show_streams FILE`: `Ok(output)` when it exits 0 and says nothing on
/// standard error, `Err(why)` otherwise.
pub fn ffprobe(path: &Path) -> Result<String, String> {
    let Some(ffprobe) = Tool::Ffprobe.find() else {
        return Ok(String::new());
    };
    let run = run_with_timeout(
        Command::new(ffprobe)
            .args(["-v", "error", "-show_format", "-show_streams"])
            .arg(path),
        Duration::from_secs(60),
    );
    if run.success() && run.stderr.trim().is_empty() {
        Ok(run.stdout_text())
    } else {
        Err(format!(
            "ffprobe {}: status {:?}\n{}",
            path.display(),
            run.status,
            run.stderr
        ))
    }
}

/// `ffmpeg -v error -xerror -i INPUT -f null -`: a full decode that fails on the first error.
pub fn ffmpeg_decodes(input: &str) -> Result<(), String> {
    let Some(ffmpeg) = Tool::Ffmpeg.find() else {
        return Ok(());
    };
    let run = run_with_timeout(
        Command::new(ffmpeg).args([
            "-nostdin", "-v", "error", "-xerror", "-i", input, "-f", "null", "-",
        ]),
        Duration::from_secs(120),
    );
    if run.success() && run.stderr.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "ffmpeg decode of {input}: status {:?}\n{}",
            run.status, run.stderr
        ))
    }
}

/// `ffmpeg -i INPUT -map 0 -c copy -f framemd5 -`, without the comment lines: the media objects and
/// their timestamps, to compare two files' content.
pub fn framemd5(input: &Path) -> Result<String, String> {
    let Some(ffmpeg) = Tool::Ffmpeg.find() else {
        return Ok(String::new());
    };
    let run = run_with_timeout(
        Command::new(ffmpeg)
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(input)
            .args(["-map", "0", "-c", "copy", "-f", "framemd5", "-"]),
        Duration::from_secs(120),
    );
    if !run.success() {
        return Err(format!(
            "framemd5 of {}: status {:?}\n{}",
            input.display(),
            run.status,
            run.stderr
        ));
    }
    Ok(run
        .stdout_text()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect())
}

/// GStreamer's asfdemux reads the whole file: `gst-launch-1.0 -q filesrc location=F ! asfdemux
/// ! fakesink` exits 0 within 30 s without an ERROR. An error when gst-launch-1.0 is missing
/// (check [`Tool::GstLaunch`] first to skip).
pub fn gstreamer_reads(path: &Path) -> Result<(), String> {
    let Some(gst) = Tool::GstLaunch.find() else {
        return Err("gst-launch-1.0 is not installed".to_string());
    };
    // One branch: asfdemux links the first stream's pad and pulls the whole file; the other
    // streams' unlinked pads are not an error (two `d.` branches wait forever on a
    // single-stream file).
    let run = run_with_timeout(
        Command::new(gst)
            .args(["-q", "filesrc"])
            .arg(format!("location={}", path.display()))
            .args(["!", "asfdemux", "!", "fakesink"]),
        Duration::from_secs(30),
    );
    if run.success() && !run.stderr.contains("ERROR") {
        Ok(())
    } else {
        Err(format!(
            "gst-launch asfdemux {}: status {:?}\n{}",
            path.display(),
            run.status,
            run.stderr
        ))
    }
}

/// A command that runs VLC (`cvlc`) as the unprivileged user `nobody` when we are root (VLC refuses
/// to run as root), with a writable HOME.
pub fn vlc_command() -> Option<Command> {
    let cvlc = Tool::Cvlc.find()?;
    let home = std::env::temp_dir().join("wmpush-vlc-home");
    std::fs::create_dir_all(&home).expect("create VLC home");
    set_world_writable(&home);
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    if is_root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "nobody", "--", "env"])
            .arg(format!("HOME={}", home.display()))
            .arg(cvlc);
        Some(cmd)
    } else {
        let mut cmd = Command::new(cvlc);
        cmd.env("HOME", &home);
        Some(cmd)
    }
}

/// Makes a folder writable by everyone (so a player running as `nobody` can write into it).
pub fn set_world_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
}

/// Reads a little-endian u32 at `off` (for tests that check header fields directly).
pub fn le_u32(bytes: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4 bytes"))
}

/// Reads a little-endian u64 at `off`.
pub fn le_u64(bytes: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(bytes[off..off + 8].try_into().expect("8 bytes"))
}
