//! Shared helpers for the push and network sink tests (`mod network_sink_support;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use push_sink::push_sink::asf_file::AsfFile;
use push_sink::{DataUnit, PacketInfo, WriterSink};

/// True when `WMPUSH_INTEROP=require`.
pub fn interop_required() -> bool {
    std::env::var("WMPUSH_INTEROP").is_ok_and(|v| v == "require")
}

/// Finds a program on PATH; fails under `WMPUSH_INTEROP=require`, else prints a skip line.
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !interop_required(),
            "WMPUSH_INTEROP=require but `{name}` is missing"
        );
        eprintln!("SKIPPED: `{name}` is missing (set WMPUSH_INTEROP=require to fail instead)");
    }
    found
}

/// A scratch directory for one test under the target tmp dir.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("push-sink-f")
        .join(test);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Real WMV2 + WMA2 test input (10 s, 640x480@25, 1 Mbit/s video, 128 kbit/s stereo audio),
/// made by ffmpeg once per target dir with the command in the task brief.
pub fn wmv2_input() -> Option<PathBuf> {
    let ffmpeg = tool("ffmpeg")?;
    let dir = scratch("media");
    let out = dir.join("in_wmv2_wma2_10s.asf");
    if !out.exists() {
        let tmp = dir.join(format!(
            "in.{}.{:?}.tmp.asf",
            std::process::id(),
            std::thread::current().id()
        ));
        let st = Command::new(ffmpeg)
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
            .expect("run ffmpeg");
        assert!(st.success(), "ffmpeg could not make the test input");
        if std::fs::rename(&tmp, &out).is_err() {
            assert!(out.exists(), "test input was not made");
        }
    }
    Some(out)
}

/// Waits for `child` up to `limit`, killing it after that. Returns its status (None = killed).
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command to completion within `limit`, returning (success, stderr).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let dir = scratch("logs");
    let log = dir.join(format!(
        "run-{}-{:?}.log",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::File::create(&log).expect("log file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn");
    let st = wait_bounded(&mut child, limit);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    (st.is_some_and(|s| s.success()), text)
}

/// Feeds a whole ASF file through a sink's WriterSink methods, paced at `speed` x real time
/// by send time (after the first `lead` of stream time, which goes out at once).
pub fn feed_file(sink: &mut dyn WriterSink, file: &AsfFile, speed: f64, lead: Duration) {
    sink.on_header(&file.live_header()).expect("on_header");
    let start = Instant::now();
    let mut first: Option<u32> = None;
    for p in file.packets() {
        let (packet, info): (Bytes, PacketInfo) = p.expect("packet parses");
        let t0 = *first.get_or_insert(info.send_time_ms);
        let due = Duration::from_millis(u64::from(info.send_time_ms.saturating_sub(t0)))
            .saturating_sub(lead)
            .div_f64(speed);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        sink.on_data_unit(DataUnit::shared(packet, info))
            .expect("on_data_unit");
    }
}

/// True when ffmpeg decodes `path` without any error (`-xerror`).
pub fn ffmpeg_decodes(path: &Path) -> Result<(), String> {
    let Some(ffmpeg) = tool("ffmpeg") else {
        return Ok(());
    };
    let (ok, err) = run_bounded(
        Command::new(ffmpeg)
            .args(["-nostdin", "-v", "error", "-xerror", "-i"])
            .arg(path)
            .args(["-f", "null", "-"]),
        Duration::from_secs(60),
    );
    if ok && err.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("ffmpeg could not decode {}: {err}", path.display()))
    }
}
