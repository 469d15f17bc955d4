//! Real files (provenance: /work/shared/test-vectors/asf/real/PROVENANCE.md, and FFmpeg-made
//! files generated on the fly when `ffmpeg` is installed): every event, every packet, every
//! payload; packets re-serialize byte for byte.

use asf_format::Limits;
use asf_format::media_object::Reassembler;
use asf_format::packet::{DataPacket, PacketView, extension_sizes};
use asf_format::stream::{Event, read_all, read_chunks};
use std::path::{Path, PathBuf};

mod vectors;

/// Files the provenance notes call complete (plus header-only ones, and `beets__empty.wma`,
/// whose 3852 bytes of stale tag text between the Header and Data Objects are skipped as junk):
/// no error allowed.
const COMPLETE: &[&str] = &[
    "taglib__real_example.wma",
    "taglib__lossless.wma",
    "mutagen__silence-1.wma",
    "mutagen__silence-2.wma",
    "jaudiotagger__test1.wma",
    "music-metadata__elephant.asf",
    "music-metadata__issue_57.wma",
    "atldotnet__wma.wma",
    "atldotnet__xmp.wma",
    "atldotnet__Ratings_windows7_3.wma",
    "tinytag__mp3_audio.asf",
    "picard__test.wma",
    "picard__test.wmv",
    "file-type__fixture.wmv.asf",
    "taglib-sharp__sample.wma",
    "beets__empty.wma",
];

#[derive(Debug, Default)]
struct Summary {
    packets: u64,
    payloads: u64,
    objects: u64,
    indexes: u64,
    extensions: u64,
}

/// Walks a whole file; returns a summary or the first error.
fn walk(bytes: &[u8]) -> Result<Summary, asf_format::Error> {
    let events = read_all(bytes, Limits::default())?;
    let mut s = Summary::default();
    let mut ps = 0;
    let mut ext: Vec<Option<Vec<u16>>> = vec![None; 128];
    let mut re = Reassembler::new(Limits::default());
    for e in &events {
        match e {
            Event::Header { info, header, .. } => {
                ps = info.packet_size;
                for n in 1..128u8 {
                    if let Some(esp) = header.extended_stream_properties(n) {
                        ext[n as usize] = Some(extension_sizes(esp));
                    }
                }
            }
            Event::Packet { offset, data } => {
                let v = PacketView::parse(data, ps, *offset)?;
                s.packets += 1;
                s.payloads += v.payloads().count() as u64;
                for p in v.payloads() {
                    if let (Some(sizes), Some(_)) =
                        (&ext[p.stream_number as usize], p.media_object_size())
                    {
                        for part in p.extensions(sizes) {
                            part?;
                            s.extensions += 1;
                        }
                    }
                }
                assert_eq!(v.payloads().count() as u32, v.payload_count());
                let owned = DataPacket::parse(data, ps, *offset)?;
                assert_eq!(owned.encoded_len(), ps as usize);
                assert_eq!(&owned.to_bytes()?, data, "packet at {offset} re-serializes");
                // Re-padding a real packet with `fix` keeps its payloads and its size.
                let mut refit = owned.clone();
                refit.fix(ps)?;
                let again = DataPacket::parse(&refit.to_bytes()?, ps, *offset)?;
                assert_eq!(again.payloads, owned.payloads);
                assert_eq!(again.encoded_len(), ps as usize);
                re.push_packet(data, &v);
                while re.poll_object().is_some() {
                    s.objects += 1;
                }
            }
            Event::Index { index, .. } => {
                s.indexes += 1;
                let mut out = Vec::new();
                index.write(&mut out);
                assert_eq!(out.len() as u64, index.encoded_len());
            }
            _ => {}
        }
    }
    assert_eq!(events.last(), Some(&Event::End));
    Ok(s)
}

fn real_files() -> Vec<PathBuf> {
    let Some(dir) = vectors::dir() else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && p.extension().is_some_and(|e| e != "md"));
    v.sort();
    v
}

#[test]
fn every_real_file_walks() {
    let files = real_files();
    if files.is_empty() {
        eprintln!("no test vectors; skipping");
        return;
    }
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let bytes = std::fs::read(&f).expect("read test vector");
        match walk(&bytes) {
            Ok(s) => eprintln!("{name}: ok {s:?}"),
            Err(e) => {
                eprintln!("{name}: error {e}");
                assert!(
                    !COMPLETE.contains(&name.as_str()),
                    "{name} must read without error: {e}"
                );
                // Errors carry a position inside (or at the end of) the file.
                if let Some(o) = e.offset() {
                    assert!(o <= bytes.len() as u64, "{name}: offset {o} past the end");
                }
            }
        }
    }
}

fn ffmpeg(out: &Path, args: &[&str]) -> bool {
    std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn ffmpeg_files_walk_including_the_pipe_form() {
    let dir = std::env::temp_dir().join(format!("asf-format-b-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("file.asf");
    let common = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:sample_rate=44100:duration=3",
        "-c:v",
        "wmv2",
        "-b:v",
        "500k",
        "-c:a",
        "wmav2",
        "-b:a",
        "64k",
        "-ac",
        "2",
        "-f",
        "asf",
    ];
    if !ffmpeg(&file, &common) {
        eprintln!("ffmpeg not available; skipping");
        return;
    }
    let s = walk(&std::fs::read(&file).expect("read")).expect("ffmpeg file");
    assert!(s.packets > 10 && s.objects > 100 && s.indexes == 1, "{s:?}");
    // The broadcast pipe form: `ffmpeg ... -f asf - > pipe.asf` (Data Object size 50, packets
    // until the Simple Index, then FFmpeg's 12-byte `$E`).
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ffmpeg -hide_banner -loglevel error -y {} - > {}",
            common.join(" "),
            dir.join("pipe.asf").display()
        ))
        .status();
    assert!(out.is_ok_and(|s| s.success()));
    let pipe = std::fs::read(dir.join("pipe.asf")).expect("read pipe");
    let events = read_all(&pipe, Limits::default()).expect("pipe form");
    let data = events.iter().find_map(|e| match e {
        Event::DataObjectStart { header, .. } => Some(*header),
        _ => None,
    });
    assert!(data.is_some_and(|h| h.is_unbounded()));
    assert!(events.iter().any(|e| matches!(e, Event::Index { .. })));
    assert!(events.iter().any(|e| matches!(e, Event::Trailer { .. })));
    let p = walk(&pipe).expect("pipe walk");
    assert_eq!(p.packets, s.packets, "same packets as the seekable file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_real_file_reads_the_same_in_chunks() {
    for f in real_files() {
        let bytes = std::fs::read(&f).expect("read test vector");
        let whole = read_all(&bytes, Limits::default());
        for seed in [1, 2, 3] {
            assert_eq!(
                read_chunks(
                    vectors::random_chunks(&bytes, seed, 9000),
                    Limits::default()
                ),
                whole,
                "{}",
                f.display()
            );
        }
    }
}

/// beets' empty.wma (PROVENANCE.md): the Header Object was shrunk to 506 bytes by a tag
/// stripper, leaving 3852 bytes of stale tag text before the Data Object at 4358. The reader
/// reports them as one junk event at 506 and then reads all 6 packets.
#[test]
fn beets_junk_between_header_and_data_is_skipped_with_its_offset() {
    let Some(dir) = vectors::dir() else {
        return;
    };
    let bytes = std::fs::read(dir.join("beets__empty.wma")).expect("read beets__empty.wma");
    let events = read_all(&bytes, Limits::default()).expect("reads");
    let junk = vectors::junk_spans(&events);
    assert_eq!(junk, vec![(506, 3852)]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::DataObjectStart { offset: 4358, .. }))
    );
    let packets = events
        .iter()
        .filter(|e| matches!(e, Event::Packet { .. }))
        .count();
    assert_eq!(packets, 6);
    assert_eq!(walk(&bytes).expect("walks").packets, 6);
}
