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

/// Where a prefix of `len` bytes ends, from the complete file's outline: the innermost object
/// it cuts (`"object header"` inside a child's first 24 bytes, `"Header Object"` between two
/// header children) and how many whole Header Object children precede the cut.
fn expected_cut(outline: &[asf_format::file::OutlineEntry], len: u64) -> (&'static str, usize) {
    let header_children = outline
        .iter()
        .filter(|e| e.depth == 1 && e.offset + e.len <= len)
        .count();
    let innermost = outline
        .iter()
        .filter(|e| e.depth >= 1 && e.offset < len && len < e.offset + e.len)
        .max_by_key(|e| e.depth);
    let name = match innermost {
        None => "Header Object",
        Some(e) if len - e.offset < 24 => "object header",
        Some(e) => {
            // Inside a Header Extension child's first 24 bytes, or inside the extension's
            // 46-byte fixed part (the extension itself is then the innermost cut object).
            e.name
        }
    };
    (name, header_children)
}

/// `wmpush inspect` on inputs that end inside the Header Object, one per prefix-length class
/// (between children, inside a child's object header, inside a child, inside the Header
/// Extension's fixed part and inside one of its children, inside the Header Object's own
/// first 30 bytes, before the GUID is complete): it shows the whole objects before the cut,
/// names the cut object and its offset, and carries the parser's error; only an input too
/// short to hold the Header Object GUID is refused.
#[test]
fn inspect_shows_what_precedes_a_cut_inside_the_header() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors/asf/real");
    let Ok(bytes) = std::fs::read(corpus.join("mutagen__silence-1.wma")) else {
        println!("SKIP: corpus not found at {}", corpus.display());
        return;
    };
    let full = asf_format::AsfFile::parse(&bytes, &asf_format::Limits::default()).expect("parses");
    let outline = full.outline();
    let header_len = outline[0].len;
    let ext = outline
        .iter()
        .find(|e| e.name == "Header Extension Object")
        .expect("the file has a Header Extension");
    let ext_child = outline
        .iter()
        .find(|e| e.depth == 2 && e.len > 40)
        .expect("a Header Extension child");
    let stream = outline
        .iter()
        .find(|e| e.name == "Stream Properties Object")
        .expect("a Stream Properties Object");
    let lens = [
        stream.offset,         // between two children
        stream.offset + 10,    // inside a child's object header
        stream.offset + 40,    // inside a child
        ext.offset + 30,       // inside the Header Extension's fixed part
        ext_child.offset + 12, // inside an extension child's object header
        ext_child.offset + 30, // inside an extension child
        20,                    // inside the Header Object's size field
        27,                    // inside its count / reserved bytes
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cut.wma");
    for len in lens {
        assert!(len < header_len);
        std::fs::write(&file, &bytes[..len as usize]).expect("write");
        let out = run_bounded(
            wmpush().args(["inspect", "--json"]).arg(&file),
            Duration::from_secs(20),
        );
        // What precedes the cut is printed, and the exit status says the input is broken.
        assert_eq!(
            out.status.code(),
            Some(3),
            "prefix {len}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("offset"),
            "prefix {len}: the error line names the offset"
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let (cut_name, whole) = expected_cut(&outline, len);
        let truncated = v["truncated"].as_str().unwrap_or_default();
        assert!(
            truncated.starts_with(cut_name),
            "prefix {len}: expected a cut in {cut_name}, got {truncated}"
        );
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains("offset"), "prefix {len}: error {error:?}");
        let children = v["objects"][0]["children"].as_array().expect("children");
        let shown_whole = children
            .iter()
            .filter(|c| {
                !c["fields"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("cut by")
            })
            .count();
        assert_eq!(shown_whole, whole, "prefix {len}: whole children shown");
        // The text form says the same.
        let out = run_bounded(wmpush().arg("inspect").arg(&file), Duration::from_secs(20));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Error: ") && text.contains("Truncated: "),
            "{text}"
        );
    }
    // Fewer bytes than the Header Object GUID: nothing to show, a clear error.
    std::fs::write(&file, &bytes[..10]).expect("write");
    let out = run_bounded(wmpush().arg("inspect").arg(&file), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("offset"));
}

/// The deliberately broken vectors (PROVENANCE.md) give clear errors, located, and `inspect`
/// still shows what it could read.
#[test]
fn inspect_broken_vectors_show_errors_and_what_could_be_read() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors/asf/real");
    if !corpus.is_dir() {
        println!("SKIP: corpus not found at {}", corpus.display());
        return;
    }
    for name in [
        "music-metadata__CWE-835.wma",
        "music-metadata__max-numberOfObjectHeaders.wma",
        "tinytag__invalid_object_size.wma",
        "tinytag__zero_value_properties.wma",
    ] {
        let out = run_bounded(
            wmpush().args(["inspect", "--json"]).arg(corpus.join(name)),
            Duration::from_secs(20),
        );
        assert!(out.status.success(), "{name}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(v["objects"][0]["name"], "Header Object", "{name}");
        let errors: Vec<&serde_json::Value> = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["severity"] == "error")
            .collect();
        assert!(!errors.is_empty(), "{name}: no error finding");
        for e in errors {
            assert!(
                e["offset"].as_u64().is_some_and(|o| o < 40_000),
                "{name}: {e}"
            );
            assert!(!e["message"].as_str().unwrap_or_default().is_empty());
        }
    }
}
