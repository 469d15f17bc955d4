//! NetworkSink played by real players over loopback: ffmpeg (`mmsh://`, stream copy to ASF,
//! then a strict decode) and VLC (run as user nobody), including players that join late.
//! Skipped with a message when a tool is missing, unless `WMPUSH_INTEROP=require`.

mod network_sink_support;

use std::process::Command;
use std::time::Duration;

use network_sink_support as support;
use push_sink::WriterSink;
use push_sink::network_sink::{NetworkSink, NetworkSinkConfig};
use push_sink::push_sink::asf_file::AsfFile;

/// Starts a NetworkSink on 127.0.0.1:0 and a thread that feeds `input` at `speed` x real
/// time; returns the URL and the feeder thread (which ends the stream and returns the sink).
fn serve(input: &AsfFile, speed: f64) -> (String, std::thread::JoinHandle<NetworkSink>) {
    let mut sink = NetworkSink::new(NetworkSinkConfig::default()).expect("sink");
    let addr = sink.open(0).expect("open");
    let url = format!("mmsh://{addr}/");
    let file = input.clone();
    let feeder = std::thread::spawn(move || {
        support::feed_file(&mut sink, &file, speed, Duration::from_millis(500));
        // Give players a moment to drain before the end of stream.
        std::thread::sleep(Duration::from_millis(300));
        sink.on_end_writing().expect("end");
        sink
    });
    (url, feeder)
}

fn ffmpeg_pull(url: &str, out: &std::path::Path) -> (bool, String) {
    let ffmpeg = support::tool("ffmpeg").expect("checked by caller");
    support::run_bounded(
        Command::new(ffmpeg)
            .args([
                "-nostdin", "-v", "error", "-y", "-i", url, "-t", "3", "-c", "copy",
            ])
            .args(["-f", "asf"])
            .arg(out),
        Duration::from_secs(30),
    )
}

#[test]
fn ffmpeg_plays_from_start_and_late() {
    let Some(input) = support::wmv2_input() else {
        return;
    };
    let file = AsfFile::open(&input).expect("input parses");
    assert!(!file.video_streams().is_empty(), "input has a video stream");
    let dir = support::scratch("ffmpeg_plays");
    let (url, feeder) = serve(&file, 2.0);
    let early = dir.join("early.asf");
    let late = dir.join("late.asf");
    let url2 = url.clone();
    let late2 = late.clone();
    let late_player = std::thread::spawn(move || {
        // Joins about 2 s of stream time after the start: must start at a key frame.
        std::thread::sleep(Duration::from_millis(1000));
        ffmpeg_pull(&url2, &late2)
    });
    let (ok, err) = ffmpeg_pull(&url, &early);
    assert!(
        ok && err.trim().is_empty(),
        "ffmpeg failed from the start: {err}"
    );
    let (ok, err) = late_player.join().expect("late player");
    assert!(
        ok && err.trim().is_empty(),
        "ffmpeg failed joining late: {err}"
    );
    let sink = feeder.join().expect("feeder");
    support::ffmpeg_decodes(&early).expect("early output decodes");
    support::ffmpeg_decodes(&late).expect("late output decodes");
    assert!(std::fs::metadata(&early).expect("early").len() > 100_000);
    assert!(std::fs::metadata(&late).expect("late").len() > 100_000);
    // ffmpeg opens two connections (Describe, Play) per run.
    assert!(
        sink.connections_served() >= 4,
        "served {}",
        sink.connections_served()
    );
    assert_eq!(sink.stats().drops, 0);
}

#[test]
fn vlc_plays_as_nobody_including_late() {
    let Some(input) = support::wmv2_input() else {
        return;
    };
    let Some(cvlc) = support::tool("cvlc") else {
        return;
    };
    let file = AsfFile::open(&input).expect("input parses");
    let dir = support::scratch("vlc_plays");
    let home = dir.join("vlchome");
    std::fs::create_dir_all(&home).expect("vlc home");
    // VLC refuses to run as root; run it as nobody with a writable HOME and output dir.
    for d in [&dir, &home] {
        let _ = Command::new("chmod").arg("777").arg(d).status();
    }
    // 0.6 x real time: the stream lasts ~16 s, long enough for two VLC runs in a row.
    let (url, feeder) = serve(&file, 0.6);
    let run_vlc = |name: &str, delay: Duration| {
        let out = dir.join(name);
        let _ = std::fs::remove_file(&out);
        let url = url.clone();
        let cvlc = cvlc.clone();
        let home = home.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut cmd = if nix_is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "nobody", "--", "env"])
                    .arg(format!("HOME={}", home.display()))
                    .arg(cvlc);
                c
            } else {
                Command::new(cvlc)
            };
            cmd.args(["-q", "--intf", "dummy", "--run-time", "3"])
                .arg(&url)
                .arg("--sout")
                .arg(format!("#std{{access=file,mux=asf,dst={}}}", out.display()))
                .arg("vlc://quit");
            let (ok, err) = support::run_bounded(&mut cmd, Duration::from_secs(30));
            (ok, err, out)
        })
    };
    // One after the other (VLC's start-up is slow on a loaded machine): the second player
    // joins about 4-5 s into the stream and must start at a key frame.
    for (name, delay) in [
        ("early", Duration::ZERO),
        ("late", Duration::from_millis(500)),
    ] {
        let (ok, err, out) = run_vlc(&format!("vlc_{name}.asf"), delay)
            .join()
            .expect("vlc thread");
        assert!(ok, "VLC ({name}) failed: {err}");
        let len = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        assert!(len > 20_000, "VLC ({name}) wrote only {len} bytes: {err}");
        support::ffmpeg_decodes(&out).unwrap_or_else(|e| panic!("VLC ({name}) output: {e}"));
    }
    let sink = feeder.join().expect("feeder");
    assert_eq!(sink.stats().drops, 0);
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}
