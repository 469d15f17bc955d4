//! GStreamer as a live encoder: `gst-launch-1.0` with live test sources muxed by
//! `asfmux streamable=true`, piped into `wmpush push -`, served by `wmpush serve`
//! and played by ffmpeg over MMSH from the point, joining late.
//!
//! GStreamer's live ASF is unusual in two ways this covers: its send times jump
//! from the audio clock to the pipeline's running time (about 1000 hours) at the
//! first picture, which `wmpush push` must neither wait for (pacing) nor hand to
//! the push sink raw (its queue is bounded by the span of send times and would
//! drop the key frame queued before the jump); and its key frames start after
//! audio payloads in the same packet, so late joiners need the hub's join trim.
//! Skips without gst-launch-1.0 or ffmpeg; fails without them under
//! WMPUSH_INTEROP=require.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn point_live(addr: std::net::SocketAddr, name: &str) -> Option<bool> {
    let s = status_json(addr);
    s["points"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| p["live"] == true)
}

#[test]
fn gstreamer_live_asf_pushes_through_serve_and_plays() {
    if !(have("gst-launch-1.0") && have("ffmpeg")) {
        return;
    }
    let (_server, addr) = start_serve(&[]);
    // About 10 s of 320x240 WMV2 at 15 fps (a key frame a second) and WMA2.
    let mut gst = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "is-live=true",
            "num-buffers=150",
            "!",
            "video/x-raw,width=320,height=240,framerate=15/1",
            "!",
            "avenc_wmv2",
            "gop-size=15",
            "!",
            "m.video_%u",
            "asfmux",
            "name=m",
            "streamable=true",
            "!",
            "fdsink",
            "fd=1",
            "audiotestsrc",
            "is-live=true",
            "num-buffers=430",
            "!",
            "audioconvert",
            "!",
            "avenc_wmav2",
            "!",
            "m.audio_%u",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0 runs");
    let gst_out = gst.stdout.take().expect("piped");
    let _gst = Running(gst);
    let push = wmpush()
        .args(["push", "-q", "-", &format!("http://{addr}/gstlive")])
        .stdin(Stdio::from(gst_out))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wmpush push runs");
    let mut push = Running(push);
    assert!(
        wait_until(Duration::from_secs(15), || point_live(addr, "gstlive")
            == Some(true)),
        "the point goes live: {}",
        status_json(addr)
    );
    // Join late, after the first video key frame: asfmux sends about 20 packets of
    // audio before the first picture (packet 21 of the same pipeline written to a
    // file), so 25 packets in the point means pictures are flowing.
    assert!(
        wait_until(Duration::from_secs(15), || {
            status_json(addr)["points"]
                .as_array()
                .and_then(|a| a.iter().find(|p| p["name"] == "gstlive"))
                .is_some_and(|p| p["packets_in"].as_u64().unwrap_or(0) >= 25)
        }),
        "pictures reach the point: {}",
        status_json(addr)
    );
    assert_ffmpeg_plays(
        &format!("mmsh://{addr}/gstlive"),
        3,
        "GStreamer's live stream from the point",
    );
    // The pipeline ends after its buffers: `wmpush push` sends $E(0) and exits 0.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = push.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "wmpush push did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "wmpush push exits 0: {status:?}");
    assert!(
        wait_until(Duration::from_secs(5), || point_live(addr, "gstlive")
            == Some(false)),
        "$E(0) ended the point: {}",
        status_json(addr)
    );
}
