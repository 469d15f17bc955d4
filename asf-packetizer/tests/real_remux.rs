//! Real files (shared/test-vectors/asf/real beside the repository, or `WMPUSH_VECTORS`; see
//! that directory's PROVENANCE.md): every file remuxes without a panic; when the remux
//! succeeds the output parses packet by packet and carries exactly the input's media objects
//! (stream, presentation time, key flag, bytes), per stream in order.

use std::path::PathBuf;

use asf_format::media_object::{MediaObject, Reassembler};
use asf_format::{AsfFile, Limits};
use asf_packetizer::{RemuxOptions, Remuxer, remux, remux_to_vec};

fn dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("WMPUSH_VECTORS") {
        return Some(PathBuf::from(d));
    }
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors/asf/real");
    d.is_dir().then_some(d)
}

/// (stream, presentation time, key frame, bytes): the media object number is renumbered by
/// the packetizer (it counts from 0 per stream, ASF 5.2.3.1 only asks it to change per object).
type Obj = (u8, u32, bool, bytes::Bytes);

fn objects(file: &[u8]) -> Option<Vec<Obj>> {
    let f = AsfFile::parse(file, &Limits::default()).ok()?;
    let ps = f.header.packet_size()?;
    let mut r = Reassembler::new(Limits::default());
    for p in f.packets() {
        let p = p.ok()?;
        let b = bytes::Bytes::copy_from_slice(p.as_bytes());
        r.push_packet_bytes(&b, ps, 0).ok()?;
    }
    r.finish();
    let mut v = Vec::new();
    while let Some(o) = r.poll_object() {
        let o: MediaObject = o;
        v.push((o.stream, o.presentation_time, o.keyframe, o.data));
    }
    v.sort_by_key(|o| o.0); // stable: keeps each stream's order
    Some(v)
}

/// Bytes of data packets in a file (packet size × packets read).
fn packet_bytes(file: &[u8]) -> u64 {
    let f = AsfFile::parse(file, &Limits::default()).expect("parses");
    let ps = u64::from(f.header.packet_size().expect("packet size"));
    ps * f.packets().count() as u64
}

/// The default remux keeps the input's packet size and packs at least as densely as the
/// input's writer did: the data packets take no more than 3 % more bytes than the input's
/// (plus one packet: a short file's last packet may split differently).
fn check_density(name: &str, input: &[u8], output: &[u8]) {
    let a = packet_bytes(input);
    let b = packet_bytes(output);
    let ps = u64::from(
        AsfFile::parse(input, &Limits::default())
            .expect("parses")
            .header
            .packet_size()
            .expect("packet size"),
    );
    println!("{name}: input {a} packet bytes, output {b}");
    assert!(
        b <= a + a * 3 / 100 + ps,
        "{name}: output packets take {b} bytes, input {a}"
    );
}

/// Input given as `Bytes` chunks (`Remuxer::push_bytes`, read without copying) and output taken
/// as `Bytes` give exactly the output of `remux` on the whole input.
fn check_bytes_input(name: &str, input: &[u8]) {
    let mut expected = Vec::new();
    let s1 = remux(input, RemuxOptions::default(), &mut |b: &[u8]| {
        expected.extend_from_slice(b)
    })
    .expect("remuxed once already");
    let mut r = Remuxer::new(RemuxOptions::default());
    let mut got = Vec::new();
    for chunk in input.chunks(1777) {
        r.push_bytes(bytes::Bytes::copy_from_slice(chunk), &mut |b| {
            got.extend_from_slice(&b)
        })
        .expect("same input");
    }
    let s2 = r
        .finish_owned(&mut |b| got.extend_from_slice(&b))
        .expect("finish");
    assert!(got == expected, "{name}: push_bytes output differs");
    assert_eq!(s1, s2, "{name}");

    // Output as batches, written late (as `wmpush remux` does: up to 64 KiB kept, then their
    // borrowed slices copied out) and recycled: a recycled buffer must never show up in a
    // batch still waiting, nor change what was written.
    let mut r = Remuxer::new(RemuxOptions::default());
    let mut batch = asf_packetizer::OutputBatch::new();
    let mut written = Vec::new();
    for chunk in input.chunks(4099) {
        r.push_bytes_batch(bytes::Bytes::copy_from_slice(chunk), &mut batch)
            .expect("same input");
        if batch.len() >= 64 * 1024 {
            let before = written.len();
            batch.for_each_slice(|s| written.extend_from_slice(s));
            assert_eq!(written.len() - before, batch.len(), "{name}: batch length");
            r.recycle_batch(&mut batch);
            assert!(batch.is_empty());
        }
    }
    let s3 = r.finish_batch(&mut batch).expect("finish");
    batch.for_each_slice(|s| written.extend_from_slice(s));
    assert!(written == expected, "{name}: batch output differs");
    assert_eq!(s1, s3, "{name}");
}

#[test]
fn real_files_remux_to_the_same_media_objects() {
    let Some(dir) = dir() else {
        println!("skip: no test vectors directory");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("vectors dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("wma" | "wmv" | "asf")
            )
        })
        .collect();
    files.sort();
    let mut same = 0;
    for p in &files {
        let name = p.display().to_string();
        let input = std::fs::read(p).expect("read");
        let mut bad = 0;
        let ok =
            remux(&input, RemuxOptions::default(), &mut |_: &[u8]| {}).map(|s| bad = s.bad_packets);
        let Ok(()) = ok else { continue };
        let out = remux_to_vec(&input, RemuxOptions::default()).expect("remuxed once already");
        check_bytes_input(&name, &input);
        let back = AsfFile::parse(&out, &Limits::default()).expect("output parses");
        assert!(
            back.packets().all(|p| p.is_ok()),
            "{name}: an output packet does not parse"
        );
        if bad == 0
            && let Some(a) = objects(&input)
        {
            check_density(&name, &input, &out);
            let b = objects(&out).expect("output reassembles");
            assert!(
                a == b,
                "{name}: media objects differ ({} in, {} out)",
                a.len(),
                b.len()
            );
            same += 1;
        }
    }
    assert!(files.is_empty() || same > 0, "no vector compared");
}
