//! `wmpush inspect` through the built binary, on generated files and the real-world corpus.

mod support;

use std::time::Duration;

use support::*;

#[test]
fn inspect_text_json_and_packets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("demo.asf");
    write_demo_asf(&file, 1);
    let out = run_bounded(wmpush().arg("inspect").arg(&file), Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("File Properties"), "{text}");
    assert!(text.contains("Stream 1: video, 160x120"), "{text}");
    assert!(
        text.contains("Stream 2: audio, format 0x0001, 1 ch, 16000 Hz, 16 bit"),
        "{text}"
    );

    let out = run_bounded(
        wmpush().args(["inspect", "--json", "--packets"]).arg(&file),
        Duration::from_secs(20),
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["streams"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["packets"].as_array().map(Vec::len), Some(100));
    assert_eq!(
        v["packets"][1]["key_frame_start"], true,
        "packet 1 starts the first picture"
    );
    assert_eq!(v["objects"][0]["name"], "Header Object");
    assert!(v["findings"].is_array());
}

#[test]
fn inspect_errors() {
    let out = run_bounded(
        wmpush().args(["inspect", "/nonexistent/x.asf"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(3));
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.asf");
    std::fs::write(&junk, b"this is not an ASF file at all, not even close").expect("write");
    let out = run_bounded(wmpush().arg("inspect").arg(&junk), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("offset") || err.contains("byte"),
        "names where: {err}"
    );
    // A truncated file still inspects (parse is not validate).
    let file = dir.path().join("demo.asf");
    write_demo_asf(&file, 1);
    let mut bytes = std::fs::read(&file).expect("read");
    bytes.truncate(bytes.len() - 1000);
    std::fs::write(&file, bytes).expect("write");
    let out = run_bounded(
        wmpush().args(["inspect", "--json"]).arg(&file),
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn inspect_real_world_corpus_never_panics() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors/asf/real");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("SKIP: corpus not found at {}", dir.display());
        return;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let p = e.path();
        if !p.is_file() || p.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let out = run_bounded(
            wmpush().args(["inspect", "--json", "--packets"]).arg(&p),
            Duration::from_secs(30),
        );
        let code = out.status.code();
        assert!(
            code == Some(0) || code == Some(3),
            "{}: exit {code:?} {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        if code == Some(0) {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert!(v["objects"].is_array(), "{}", p.display());
        }
        n += 1;
    }
    assert!(n > 5, "corpus files inspected: {n}");
}
