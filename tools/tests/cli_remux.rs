//! `wmpush remux` through the built binary (asf-packetizer's remuxer).

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

fn inspect_json(path: &std::path::Path) -> serde_json::Value {
    let out = run_bounded(
        wmpush().args(["inspect", "--json"]).arg(path),
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn remux_packet_size_preroll_and_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.asf");
    write_demo_asf(&input, 2);
    let out_file = dir.path().join("out.asf");
    let out = run_bounded(
        wmpush().arg("remux").arg(&input).arg(&out_file).args([
            "--packet-size",
            "8000",
            "--preroll",
            "2000",
        ]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = inspect_json(&out_file);
    assert_eq!(v["file_properties"]["packet_size"], 8000);
    assert_eq!(v["file_properties"]["preroll_ms"], 2000);
    assert_eq!(v["file_properties"]["broadcast"], false);
    assert_eq!(v["streams"].as_array().map(Vec::len), Some(2));
    if have("ffmpeg") {
        let out = run_bounded(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-xerror", "-i"])
                .arg(&out_file)
                .args(["-f", "null", "-"]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Live output to standard output.
    let out = run_bounded(
        wmpush().arg("remux").arg(&input).args(["-", "--live"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success());
    let live = dir.path().join("live.asf");
    std::fs::write(&live, &out.stdout).expect("write");
    assert_eq!(inspect_json(&live)["file_properties"]["broadcast"], true);
}

#[test]
fn remux_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let code = |args: &[&str]| {
        run_bounded(wmpush().args(args), Duration::from_secs(20))
            .status
            .code()
    };
    assert_eq!(code(&["remux", "/nonexistent.asf", "-"]), Some(3));
    let input = dir.path().join("in.asf");
    write_demo_asf(&input, 1);
    let i = input.to_str().expect("utf-8");
    assert_eq!(code(&["remux", i, "-", "--packet-size", "10"]), Some(2));
    let junk = dir.path().join("junk.asf");
    std::fs::write(&junk, [0x11u8; 300]).expect("write");
    assert_eq!(
        code(&["remux", junk.to_str().expect("utf-8"), "-"]),
        Some(3)
    );
    assert_eq!(code(&["remux", i, "/nonexistent-dir/out.asf"]), Some(3));
}
