//! `wmpush remux` against real players, the matrix of issue #4: every plain-ASF test medium and
//! every complete file of the real-world corpus, remuxed four ways (default, `--packet-size
//! 1400`, `--packet-size 16000`, `--live`), must
//!
//! - pass `ffprobe`,
//! - decode with `ffmpeg -v error -xerror -i OUT -f null -`,
//! - have the input's `ffmpeg -i X -map 0 -c copy -f framemd5 -` (same media objects, same
//!   timestamps),
//! - be read by GStreamer's asfdemux (`gst-launch-1.0 filesrc ! asfdemux ! fakesink`, bounded),
//! - in file mode, for files with video longer than 5 s, seek: the first video packet after a
//!   seek to 5 s (`ffprobe -read_intervals 5%+#1`, the `avformat_seek_file` call behind
//!   `ffmpeg -ss 5 -i OUT`) is a key frame at or before 5 s. (`ffmpeg -ss 5 -c copy` itself
//!   cannot show this: stream copy drops frames up to the first key frame.)
//!
//! What is left out, and why:
//! - [`Media::MmshFramed`]: MMSH chunks (`$H`/`$D`/`$E`), not an ASF file; `wmpush remux` reads
//!   ASF.
//! - corpus files that are not complete ASF files ([`INCOMPLETE`], from the corpus's
//!   PROVENANCE.md): header-only, truncated, or crafted/damaged to test parsers' errors.
//! - for a check (framemd5, decode, GStreamer) that already fails on the *input*, that check is
//!   not applied to the outputs of that file; the test prints which and why.
//!
//! The tools run at most two at a time (two worker threads), each bounded in time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use wmpush_tests::{
    Media, Tool, ffmpeg_decodes, ffprobe, framemd5, gstreamer_reads, run_with_timeout, scratch_dir,
    vector_files,
};

/// Corpus files that are not complete ASF files, with the reason (see PROVENANCE.md).
const INCOMPLETE: &[(&str, &str)] = &[
    (
        "taglib__real_example.wma",
        "header only: a 0-packet Data Object",
    ),
    ("exiftool__ASF.wmv", "header only: no Data Object"),
    ("mutagen__issue_29.wma", "the Data Object is truncated"),
    ("hachoir__matrix_ping_pong.wmv", "truncated at 100 KiB"),
    ("atldotnet__classes1_6.wma", "truncated"),
    ("tinytag__test2.wma", "truncated"),
    (
        "music-metadata__CWE-835.wma",
        "crafted: a zero-size header child",
    ),
    (
        "music-metadata__max-numberOfObjectHeaders.wma",
        "crafted: 0xFFFFFFFF header objects",
    ),
    (
        "tinytag__invalid_object_size.wma",
        "hand-damaged: an object size of 23",
    ),
    (
        "tinytag__zero_value_properties.wma",
        "hand-edited: zeroed File and Stream Properties",
    ),
];

/// One way to remux: (label, `wmpush remux` arguments, file mode).
type RemuxMode = (&'static str, &'static [&'static str], bool);

/// The four ways every input is remuxed.
const MODES: [RemuxMode; 4] = [
    ("default", &[], true),
    ("ps1400", &["--packet-size", "1400"], true),
    ("ps16000", &["--packet-size", "16000"], true),
    ("live", &["--live"], false),
];

/// One input and what holds for it.
struct Input {
    name: String,
    path: PathBuf,
    /// The input's framemd5 (None: ffmpeg cannot copy the input itself; not compared).
    md5: Option<String>,
    /// ffmpeg decodes the input without error (otherwise not required of the output).
    decodes: bool,
    /// GStreamer reads the input (otherwise not required of the output).
    gstreamer: bool,
    /// Video and longer than 5 s: the seek check applies, against these video key frame times
    /// of the input (seconds).
    seekable_video: bool,
    key_times: Vec<f64>,
}

/// The `wmpush` binary of this build (beside the test executable's `deps/` folder), built
/// first so that it is never stale.
fn wmpush_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-q", "-p", "wmpush", "--bin", "wmpush"])
        .current_dir(wmpush_tests::workspace_root())
        .env("CARGO_TARGET_DIR", wmpush_tests::target_dir());
    if release {
        cmd.arg("--release");
    }
    let built = run_with_timeout(&mut cmd, Duration::from_secs(600));
    assert!(built.success(), "cargo build -p wmpush: {}", built.stderr);
    let bin = profile_dir.join("wmpush");
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

/// Whether the file has a video stream (not an attached picture such as WM/Picture cover art,
/// which ffprobe also lists as video) and lasts longer than 5 s.
fn video_longer_than_5s(path: &Path) -> bool {
    let run = run_with_timeout(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "V"])
            .args(["-show_entries", "stream=codec_type:format=duration"])
            .args(["-of", "default=nw=1"])
            .arg(path),
        Duration::from_secs(60),
    );
    let text = run.stdout_text();
    let video = text.lines().any(|l| l == "codec_type=video");
    let duration = text
        .lines()
        .filter_map(|l| l.strip_prefix("duration="))
        .filter_map(|d| d.parse::<f64>().ok())
        .fold(0.0, f64::max);
    run.success() && video && duration > 5.0
}

fn describe_input(name: String, path: PathBuf, skipped: &Mutex<Vec<String>>) -> Input {
    let md5 = match framemd5(&path) {
        Ok(m) if !m.is_empty() => Some(m),
        Ok(_) => {
            note(
                skipped,
                format!("{name}: framemd5 of the input is empty; not compared"),
            );
            None
        }
        Err(e) => {
            note(
                skipped,
                format!("{name}: framemd5 of the input fails, not compared: {e}"),
            );
            None
        }
    };
    let decodes = match ffmpeg_decodes(&path.to_string_lossy()) {
        Ok(()) => true,
        Err(e) => {
            note(
                skipped,
                format!(
                    "{name}: ffmpeg does not decode the input cleanly, not required of the output: {e}"
                ),
            );
            false
        }
    };
    let gstreamer = match gstreamer_reads(&path) {
        Ok(()) => true,
        Err(e) => {
            note(
                skipped,
                format!(
                    "{name}: GStreamer does not read the input, not required of the output: {e}"
                ),
            );
            false
        }
    };
    let seekable_video = video_longer_than_5s(&path);
    let key_times = if seekable_video {
        match video_packets(&path, "%") {
            Ok(p) => p.into_iter().filter(|p| p.1).map(|p| p.0).collect(),
            Err(e) => {
                note(
                    skipped,
                    format!("{name}: no video packet list of the input: {e}"),
                );
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    Input {
        name,
        path,
        md5,
        decodes,
        gstreamer,
        seekable_video: seekable_video && !key_times.is_empty(),
        key_times,
    }
}

fn note(list: &Mutex<Vec<String>>, line: String) {
    list.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(line);
}

/// `ffprobe -select_streams v:0` packets (pts in seconds, key frame) within `interval`
/// (`-read_intervals` syntax; `%` alone is the whole file).
fn video_packets(path: &Path, interval: &str) -> Result<Vec<(f64, bool)>, String> {
    let run = run_with_timeout(
        Command::new("ffprobe")
            .args(["-v", "error", "-read_intervals", interval])
            .args(["-select_streams", "v:0"])
            .args(["-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"])
            .arg(path),
        Duration::from_secs(60),
    );
    if !run.success() {
        return Err(format!(
            "ffprobe {interval}: {:?}: {}",
            run.status, run.stderr
        ));
    }
    Ok(run
        .stdout_text()
        .lines()
        .filter_map(|l| {
            let (t, flags) = l.split_once(',')?;
            Some((t.parse().ok()?, flags.starts_with('K')))
        })
        .collect())
}

/// Seeking to 5 s after the first video packet lands on the input's last video key frame at or
/// before that time. (GStreamer's asfmux starts its timestamps at 3,600,000 s, so "5 s" is
/// relative.)
fn seeks_to_key_frame(out: &Path, key_times: &[f64]) -> Result<(), String> {
    let start = key_times.first().copied().unwrap_or(0.0);
    let target = start + 5.0;
    let expected = key_times
        .iter()
        .copied()
        .filter(|&k| k <= target + 1e-6)
        .fold(f64::NEG_INFINITY, f64::max);
    let first = video_packets(out, &format!("{target}%+#1"))?;
    match first.first() {
        Some(&(t, true)) if (t - expected).abs() < 0.002 => Ok(()),
        other => Err(format!(
            "seek to {target} s lands on {other:?}, not on the key frame at {expected} s"
        )),
    }
}

/// Remuxes `input` one way and runs every check; the failures, described.
fn check(bin: &Path, dir: &Path, input: &Input, mode: RemuxMode) -> Vec<String> {
    let (label, args, file_mode) = mode;
    let case = format!("{} [{label}]", input.name);
    let started = std::time::Instant::now();
    let out = dir.join(format!("{}.{label}.asf", input.name));
    let run = run_with_timeout(
        Command::new(bin)
            .arg("remux")
            .arg(&input.path)
            .arg(&out)
            .args(args),
        Duration::from_secs(60),
    );
    if !run.success() {
        return vec![format!(
            "{case}: wmpush remux: {:?}: {}",
            run.status, run.stderr
        )];
    }
    let mut failures = Vec::new();
    if let Err(e) = ffprobe(&out) {
        failures.push(format!("{case}: {e}"));
    }
    if input.decodes
        && let Err(e) = ffmpeg_decodes(&out.to_string_lossy())
    {
        failures.push(format!("{case}: {e}"));
    }
    if let Some(md5) = &input.md5 {
        match framemd5(&out) {
            Ok(m) if &m == md5 => {}
            Ok(m) => failures.push(format!(
                "{case}: framemd5 differs from the input's ({} lines in, {} out)",
                md5.lines().count(),
                m.lines().count()
            )),
            Err(e) => failures.push(format!("{case}: {e}")),
        }
    }
    if input.gstreamer
        && let Err(e) = gstreamer_reads(&out)
    {
        failures.push(format!("{case}: {e}"));
    }
    if file_mode
        && input.seekable_video
        && let Err(e) = seeks_to_key_frame(&out, &input.key_times)
    {
        failures.push(format!("{case}: {e}"));
    }
    let _ = std::fs::remove_file(&out);
    println!("{case}: {:.1} s", started.elapsed().as_secs_f64());
    failures
}

/// Runs `f` over `items` on two threads (the machine has two cores; the tools are the load).
fn on_two_threads<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, r));
                }
            });
        }
    });
    let mut r = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    r.sort_by_key(|(i, _)| *i);
    r.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn remux_outputs_play_everywhere() {
    for tool in [Tool::Ffmpeg, Tool::Ffprobe, Tool::GstLaunch] {
        if tool.find().is_none() {
            return;
        }
    }
    let Some(corpus) = vector_files() else { return };
    let bin = wmpush_binary();
    let dir = scratch_dir("remux_matrix");
    let skipped = Mutex::new(vec![format!(
        "{:?}: MMSH-framed, not an ASF file",
        Media::MmshFramed
    )]);

    let mut sources: Vec<(String, PathBuf)> = Vec::new();
    for media in Media::PLAIN_ASF {
        let Some(path) = media.path() else { return };
        sources.push((format!("{media:?}"), path));
    }
    for path in corpus {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some((_, why)) = INCOMPLETE.iter().find(|(n, _)| *n == name) {
            note(&skipped, format!("{name}: not a complete file: {why}"));
            continue;
        }
        sources.push((name, path));
    }
    let inputs = on_two_threads(&sources, |(name, path)| {
        describe_input(name.clone(), path.clone(), &skipped)
    });
    let jobs: Vec<(&Input, RemuxMode)> = inputs
        .iter()
        .flat_map(|i| MODES.iter().map(move |m| (i, *m)))
        .collect();
    let failures: Vec<String> =
        on_two_threads(&jobs, |(input, mode)| check(&bin, &dir, input, *mode))
            .into_iter()
            .flatten()
            .collect();
    let _ = std::fs::remove_dir_all(&dir);

    let skipped = skipped
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for line in &skipped {
        println!("excluded: {line}");
    }
    let compared = inputs.iter().filter(|i| i.md5.is_some()).count();
    println!(
        "{} inputs x {} modes; framemd5 compared for {compared} inputs",
        inputs.len(),
        MODES.len()
    );
    assert!(
        compared >= Media::PLAIN_ASF.len(),
        "too few inputs compared"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
