//! Real-file vectors: every file in shared/test-vectors/asf/real beside the repository (override with
//! `WMPUSH_VECTORS`) parses and serializes back byte for byte through the model. Provenance
//! of each file is in that directory's PROVENANCE.md; the files are read in place.

use std::path::PathBuf;

use asf_format::objects::HeaderObject;
use asf_format::{AsfFile, Limits, Severity, validate};

mod vectors;

fn vectors_dir() -> Option<PathBuf> {
    vectors::dir()
}

fn vector_files() -> Vec<(String, Vec<u8>)> {
    let Some(dir) = vectors_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("read vectors dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("wma" | "wmv" | "asf")
                )
        })
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().expect("name").to_string_lossy().into_owned();
        out.push((name, std::fs::read(&p).expect("read vector")));
    }
    out
}

/// Names of files that are deliberately broken.
const BROKEN: [&str; 3] = [
    "music-metadata__CWE-835.wma",
    "music-metadata__max-numberOfObjectHeaders.wma",
    "tinytag__invalid_object_size.wma",
];

fn modelling_gaps(file: &AsfFile) -> Vec<String> {
    file.header
        .all_objects()
        .filter_map(|o| match o {
            HeaderObject::Invalid(i) => Some(format!("{}: {}", o.name(), i.error)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_vector_round_trips_byte_for_byte() {
    let files = vector_files();
    for (name, bytes) in &files {
        let file = AsfFile::parse(bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: does not parse: {e}"));
        let out = file.to_bytes();
        assert_eq!(out.len() as u64, file.encoded_len(), "{name}: encoded_len");
        assert!(
            out == *bytes,
            "{name}: serialized model differs from the input"
        );
        // fix() only changes what is inconsistent: a file whose header count is right is
        // unchanged by it.
        let mut fixed = file.clone();
        fixed.fix();
        if file.header.object_count as usize == file.header.objects.len() {
            assert!(
                fixed.to_bytes() == *bytes,
                "{name}: fix() changed a consistent file"
            );
        }
        if !BROKEN.contains(&name.as_str()) {
            let bad: Vec<_> = validate(&file)
                .into_iter()
                .filter(|f| f.message.contains("kept raw") || f.message.contains("does not parse"))
                .collect();
            assert!(bad.is_empty(), "{name}: {bad:?}");
            let gaps = modelling_gaps(&file);
            assert!(gaps.is_empty(), "{name}: objects kept raw: {gaps:?}");
            assert!(
                file.header.file_properties().is_some(),
                "{name}: no File Properties"
            );
            assert!(
                !file.header.stream_properties().is_empty(),
                "{name}: no streams"
            );
        }
    }
    if !files.is_empty() {
        assert!(files.len() >= 20, "expected the full vector set");
    }
}

#[test]
fn truncated_vectors_report_truncation() {
    for (name, bytes) in vector_files() {
        let file = AsfFile::parse(&bytes, &Limits::default()).expect("parses");
        let expect_cut = matches!(
            name.as_str(),
            "atldotnet__classes1_6.wma"
                | "hachoir__matrix_ping_pong.wmv"
                | "mutagen__issue_29.wma"
                | "tinytag__test2.wma"
        );
        if expect_cut {
            let t = file
                .truncated
                .unwrap_or_else(|| panic!("{name}: truncation not reported"));
            assert_eq!(t.object, "Data Object", "{name}");
            assert!(t.available < t.declared_size, "{name}");
            assert_eq!(t.offset + t.available, bytes.len() as u64, "{name}");
        }
        if name == "mutagen__silence-2.wma" || name == "taglib__lossless.wma" {
            assert!(file.truncated.is_none(), "{name}: complete file");
            assert!(file.index_objects().count() >= 1, "{name}: has an index");
        }
    }
}

#[test]
fn broken_vectors_give_findings_with_offsets() {
    for (name, bytes) in vector_files() {
        if !BROKEN.contains(&name.as_str()) {
            continue;
        }
        match AsfFile::parse(&bytes, &Limits::default()) {
            Err(e) => assert!(e.offset().is_some(), "{name}: error without offset: {e}"),
            Ok(file) => {
                let findings = validate(&file);
                let errors: Vec<_> = findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .collect();
                assert!(!errors.is_empty(), "{name}: no error findings");
                // The header region that does not form objects is located precisely.
                assert!(
                    errors
                        .iter()
                        .any(|f| f.message.contains("do not form an object")
                            && f.message.contains("at byte offset")
                            && f.offset >= 30),
                    "{name}: {errors:?}"
                );
            }
        }
    }
}

#[test]
fn accessors_on_real_files() {
    for (name, bytes) in vector_files() {
        let file = AsfFile::parse(&bytes, &Limits::default()).expect("parses");
        let h = &file.header;
        match name.as_str() {
            "taglib__lossless.wma" => {
                let sp = h.stream(1).expect("stream 1");
                let wf = sp.audio_format().expect("WAVEFORMATEX");
                assert_eq!(wf.format_tag, 0x0163, "WMA Lossless");
                assert!(h.packet_size().is_some());
            }
            "file-type__fixture.wmv.asf" | "picard__test.wmv" => {
                let video = h
                    .stream_properties()
                    .into_iter()
                    .find_map(|s| s.video_format())
                    .expect("a video stream");
                assert!(video.encoded_width > 0 && video.encoded_height > 0);
                assert!(video.fourcc().starts_with("WM") || video.fourcc().starts_with("M"));
            }
            "mutagen__silence-1.wma" => {
                let sp = h.stream_properties()[0];
                assert!(sp.is_audio());
                let spread = sp.audio_spread().expect("Audio Spread");
                assert!(spread.span >= 1);
                assert!(
                    h.content_description().is_some() || h.extended_content_description().is_some()
                );
                assert!(h.preroll_ms().is_some());
            }
            _ => {}
        }
        // Every parsed file validates without panicking.
        let _ = validate(&file);
    }
}

#[test]
fn mmsh_framed_stream_is_not_plain_asf() {
    // A live capture in MMSH framing ($H/$D chunks): a clear error at offset 0, not a panic
    // or a bogus model. (Unframing is push-protocol's job.)
    let Some(dir) = vectors_dir() else { return };
    let Ok(entries) = std::fs::read_dir(dir.join("mmsh-framed")) else {
        println!("skip: no mmsh-framed vectors");
        return;
    };
    for e in entries {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "asf") {
            let bytes = std::fs::read(&p).expect("read");
            let err = AsfFile::parse(&bytes, &Limits::default()).expect_err("framed");
            assert_eq!(err.offset(), Some(0), "{}: {err}", p.display());
            assert!(err.to_string().contains("Header Object"), "{err}");
        }
    }
}

#[test]
fn outline_offsets_tile_the_file() {
    for (name, bytes) in vector_files() {
        let file = AsfFile::parse(&bytes, &Limits::default()).expect("parses");
        let outline = file.outline();
        // Top-level entries tile the whole input; each entry's GUID is at its offset.
        let mut expect = 0u64;
        for e in outline.iter().filter(|e| e.depth == 0) {
            assert_eq!(e.offset, expect, "{name}: {e:?}");
            expect += e.len;
        }
        assert_eq!(expect, bytes.len() as u64, "{name}");
        for e in &outline {
            if let Some(g) = e.guid {
                let at = e.offset as usize;
                assert_eq!(&bytes[at..at + 16], g.as_bytes(), "{name}: {e:?}");
            }
        }
    }
}

#[test]
fn editing_a_real_file_changes_only_what_was_edited() {
    use asf_format::objects::ContentDescription;
    for (name, bytes) in vector_files() {
        if BROKEN.contains(&name.as_str()) {
            continue;
        }
        let file = AsfFile::parse(&bytes, &Limits::default()).expect("parses");
        let mut edited = file.clone();
        // Replace (or add) the Content Description with a longer title: the header grows.
        let cd = ContentDescription::new("A much longer title written by wmpush", "", "", "", "");
        let pos = edited
            .header
            .objects
            .iter()
            .position(|o| matches!(o, HeaderObject::ContentDescription(_)));
        match pos {
            Some(i) => edited.header.objects[i] = HeaderObject::ContentDescription(cd.clone()),
            None => edited
                .header
                .objects
                .push(HeaderObject::ContentDescription(cd.clone())),
        }
        edited.fix();
        let out = edited.to_bytes();
        let back = AsfFile::parse(&out, &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: edited file does not parse: {e}"));
        assert_eq!(back.header.content_description(), Some(&cd), "{name}");
        // Everything else is unchanged: the other header objects and all top-level objects.
        let others = |f: &AsfFile| -> Vec<HeaderObject> {
            f.header
                .objects
                .iter()
                .filter(|o| !matches!(o, HeaderObject::ContentDescription(_)))
                .cloned()
                .collect()
        };
        assert_eq!(others(&back), others(&file), "{name}");
        assert_eq!(back.objects, file.objects, "{name}");
        assert_eq!(back.truncated.is_some(), file.truncated.is_some(), "{name}");
    }
}
