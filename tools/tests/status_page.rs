//! The HTML status page (`/_status.html`) as a person sees it: `wmpush serve`
//! takes a push, headless Chromium renders the page to a PNG, and tesseract
//! reads the point's name and a bitrate figure back from the pixels.
//! Skips without chromium or tesseract; fails without them under
//! WMPUSH_INTEROP=require.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

/// Numbers written just before "kbit/s" in the OCR text (tesseract may glue or
/// split words, so the text is searched loosely).
fn bitrates(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("kbit") {
        let before: String = rest[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if let Ok(v) = before.replace(',', ".").parse::<f64>() {
            out.push(v);
        }
        rest = &rest[at + 4..];
    }
    out
}

#[test]
fn status_page_renders_point_and_bitrate_in_chromium() {
    let (_server, addr) = start_serve(&[]);
    let mut pusher = RawPusher::new(addr, "/camera");
    assert_eq!(pusher.setup("", None).status, 204);
    pusher.start(None);
    let stream = test_stream(10);
    let push = std::thread::spawn(move || {
        let _ = pusher.push_stream(&stream, true);
    });
    // Live, with a bitrate measured (the server averages after half a second).
    assert!(
        wait_until(Duration::from_secs(10), || {
            status_json(addr)["points"]
                .as_array()
                .and_then(|a| a.iter().find(|p| p["name"] == "camera"))
                .is_some_and(|p| p["live"] == true && p["bitrate_bps"].as_u64().unwrap_or(0) > 0)
        }),
        "point live with a bitrate: {}",
        status_json(addr)
    );
    if !(have("chromium") && have("tesseract")) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("status.png");
    let profile = dir.path().join("profile");
    let url = format!("http://{addr}/_status.html");
    let out = run_bounded(
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", png.display()))
            .arg(&url),
        Duration::from_secs(90),
    );
    assert!(
        out.status.success() && png.is_file(),
        "chromium screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_bounded(
        Command::new("tesseract").arg(&png).arg("-"),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "tesseract: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("camera"), "point name on the page: {text}");
    assert!(
        bitrates(&text).iter().any(|&kbps| kbps > 0.0),
        "a bitrate figure on the page: {text}"
    );
    push.join().expect("pusher thread");
}

#[test]
fn bitrate_figures_are_found_in_ocr_text() {
    assert_eq!(bitrates("camera live yes 369.4 kbit/s 0"), vec![369.4]);
    assert_eq!(bitrates("369,4kbit/s and 0.0 kbit/s"), vec![369.4, 0.0]);
    assert!(bitrates("no figures here").is_empty());
}
