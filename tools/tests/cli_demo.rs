//! `wmpush demo` through the built binary: the self-check, and real players
//! (ffmpeg over MMSH and over plain HTTP) decoding the demo stream.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn wmpush() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wmpush"))
}

fn interop_required() -> bool {
    std::env::var("WMPUSH_INTEROP").is_ok_and(|v| v == "require")
}

fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            !interop_required(),
            "{program} is required (WMPUSH_INTEROP=require) but missing"
        );
        println!("SKIP: {program} not found");
    }
    found
}

/// Kills the child on drop so a failing test never leaves a server behind.
struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `wmpush demo` with `args` and returns it with the mmsh URL it printed.
fn start_demo(args: &[&str]) -> (Running, String) {
    let mut child = wmpush()
        .arg("demo")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wmpush runs");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("mmsh://"))
        .expect("the first line names the mmsh URL")
        .to_owned();
    // Keep draining stdout so the demo never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Running(child), url)
}

fn run_bounded(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "timed out after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn demo_check_passes() {
    let out = run_bounded(
        wmpush().args(["demo", "--check", "--duration", "3"]),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("--check: OK"), "{stdout}");
    assert!(stdout.contains("ffplay mmsh://127.0.0.1:"), "{stdout}");
}

#[test]
fn demo_check_with_other_picture_size() {
    let out = run_bounded(
        wmpush().args([
            "demo",
            "--check",
            "--duration",
            "2",
            "--size",
            "320x240",
            "--fps",
            "15",
            "-q",
        ]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_rejects_bad_size_with_usage_exit_code() {
    let out = run_bounded(
        wmpush().args(["demo", "--size", "161x120"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("width 161"), "{err}");
    let out = run_bounded(
        wmpush().args(["demo", "--size", "big"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run_bounded(
        wmpush().args(["demo", "--duration", "-1"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ffmpeg_decodes_demo_over_mmsh_and_plain_http() {
    if !have("ffmpeg") {
        return;
    }
    let (_demo, url) = start_demo(&["--duration", "30", "-q"]);
    let out = run_bounded(
        Command::new("ffmpeg").args([
            "-nostdin", "-v", "error", "-xerror", "-i", &url, "-t", "3", "-f", "null", "-",
        ]),
        Duration::from_secs(40),
    );
    assert!(
        out.status.success(),
        "ffmpeg mmsh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "ffmpeg reported: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let http = format!("{}?format=asf", url.replacen("mmsh://", "http://", 1));
    let out = run_bounded(
        Command::new("ffmpeg").args([
            "-nostdin", "-v", "error", "-xerror", "-i", &http, "-t", "2", "-f", "null", "-",
        ]),
        Duration::from_secs(40),
    );
    assert!(
        out.status.success(),
        "ffmpeg http: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Both streams are found with the right codecs.
    if have("ffprobe") {
        let out = run_bounded(
            Command::new("ffprobe").args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,sample_rate",
                "-of",
                "csv=p=0",
                &url,
            ]),
            Duration::from_secs(30),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("rawvideo,160"), "{text}");
        assert!(text.contains("pcm_s16le"), "{text}");
    }
}

#[test]
fn help_and_version() {
    let out = run_bounded(wmpush().arg("--help"), Duration::from_secs(20));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit codes"), "{text}");
    for sub in ["demo", "serve", "pull"] {
        let out = run_bounded(wmpush().args([sub, "--help"]), Duration::from_secs(20));
        assert!(out.status.success(), "{sub} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Examples:"),
            "{sub} --help has examples"
        );
    }
    let out = run_bounded(wmpush().arg("--version"), Duration::from_secs(20));
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = run_bounded(wmpush().arg("frobnicate"), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
}

/// VLC (as user nobody when we are root: VLC refuses to run as root) pulls
/// the demo over MMSH and stream-copies it to a file that ffmpeg decodes.
#[test]
fn vlc_plays_demo_over_mmsh() {
    if !have("cvlc") || !have("ffmpeg") {
        return;
    }
    let (_demo, url) = start_demo(&["--duration", "30", "-q"]);
    let dir = std::env::temp_dir().join(format!("wmpush-vlc-{}", std::process::id()));
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("dirs");
    let out_file = dir.join("vlc.asf");
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    for d in [&dir, &home] {
        let _ = Command::new("chmod").arg("777").arg(d).status();
    }
    let sout = format!("#std{{access=file,mux=asf,dst={}}}", out_file.display());
    let mut cmd = if is_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--", "env"])
            .arg(format!("HOME={}", home.display()))
            .arg("cvlc");
        c
    } else {
        Command::new("cvlc")
    };
    cmd.args([
        "-q",
        "--intf",
        "dummy",
        "--run-time",
        "3",
        "--play-and-exit",
        &url,
        "--sout",
        &sout,
    ]);
    let _ = run_bounded(&mut cmd, Duration::from_secs(40));
    let size = std::fs::metadata(&out_file).map(|m| m.len()).unwrap_or(0);
    assert!(size > 50_000, "VLC wrote {size} bytes");
    let out = run_bounded(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&out_file)
            .args(["-f", "null", "-"]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// mpv (lavf's mmsh) and MPlayer (its own asf_streaming client) play the demo.
#[test]
fn mpv_and_mplayer_play_demo() {
    let (_demo, url) = start_demo(&["--duration", "30", "-q"]);
    if have("mpv") {
        let out = run_bounded(
            Command::new("mpv").args(["--no-config", "--vo=null", "--ao=null", "--length=2", &url]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "mpv: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if have("mplayer") {
        let out = run_bounded(
            Command::new("mplayer").args([
                "-really-quiet",
                "-nolirc",
                "-vo",
                "null",
                "-ao",
                "null",
                "-endpos",
                "2",
                &url,
            ]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "mplayer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("Failed"), "{text}");
    }
}
