//! Robustness on damaged real files: every prefix and random bit flips either give an error
//! or parse into a model that serializes back to the identical bytes; never a panic.
//! Bounded in count and time.

use std::time::{Duration, Instant};

use asf_format::{AsfFile, Limits, validate};

mod vectors;

fn vector(name: &str) -> Option<Vec<u8>> {
    let p = vectors::dir()?.join(name);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) if std::env::var("WMPUSH_INTEROP").as_deref() == Ok("require") => {
            panic!("missing vector {}", p.display())
        }
        Err(_) => {
            println!("skip: vector {} is missing", p.display());
            None
        }
    }
}

fn check(bytes: &[u8]) {
    if let Ok(file) = AsfFile::parse(bytes, &Limits::default()) {
        assert!(file.to_bytes() == bytes, "parsed input must round trip");
        let _ = validate(&file);
        // A truncated input is reported when it ends inside the Data Object.
        if let Some(t) = file.truncated {
            assert!(t.available < t.declared_size);
        }
    }
}

const SMALL: [&str; 3] = [
    "picard__test.wmv",
    "tinytag__mp3_audio.asf",
    "picard__test.wma",
];

#[test]
fn every_prefix_parses_or_errors() {
    let deadline = Instant::now() + Duration::from_secs(120);
    for name in SMALL {
        let Some(bytes) = vector(name) else { return };
        let header_len = AsfFile::parse(&bytes, &Limits::default())
            .expect("full file parses")
            .header
            .objects
            .iter()
            .map(|o| o.encoded_len())
            .sum::<u64>() as usize
            + 30;
        let full = AsfFile::parse(&bytes, &Limits::default()).expect("full file parses");
        let data_start = full.data_offset().expect("data object") as usize;
        let data_end = data_start + full.data().expect("data").encoded_len() as usize;
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            let r = AsfFile::parse(prefix, &Limits::default());
            if cut < header_len {
                // The header must be complete: a cut header is an error with an offset.
                let e = r.expect_err("cut header must not parse");
                assert!(e.offset().is_some(), "{name}@{cut}: {e}");
            } else {
                check(prefix);
                // A cut inside the Data Object (past its 24-byte object header) is reported
                // as truncation of the Data Object.
                if cut >= data_start + 24 && cut < data_end {
                    let f = r.expect("prefix parses");
                    let t = f.truncated.expect("truncation reported");
                    assert_eq!(t.object, "Data Object", "{name}@{cut}");
                    assert_eq!(t.offset as usize, data_start);
                    assert_eq!(t.available as usize, cut - data_start);
                }
            }
            assert!(Instant::now() < deadline, "prefix test too slow");
        }
    }
}

#[test]
fn random_bit_flips_never_panic() {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in SMALL {
        let Some(bytes) = vector(name) else { return };
        for _ in 0..1500 {
            let mut b = bytes.clone();
            // Flip bits mostly in the header, where the structure is.
            for _ in 0..(1 + next() % 4) {
                let range = if next() % 4 == 0 {
                    b.len()
                } else {
                    b.len().min(2048)
                };
                let i = (next() % range as u64) as usize;
                b[i] ^= 1 << (next() % 8);
            }
            check(&b);
            assert!(Instant::now() < deadline, "bit flip test too slow");
        }
    }
}

#[test]
fn hostile_sizes_are_bounded() {
    // A header that claims 2^63 bytes, and children with huge counts: errors, no allocation.
    let mut h = Vec::new();
    h.extend_from_slice(asf_format::guids::HEADER.as_bytes());
    h.extend_from_slice(&(1u64 << 63).to_le_bytes());
    h.extend_from_slice(&[0; 6]);
    let e = AsfFile::parse(&h, &Limits::default()).expect_err("huge header");
    assert_eq!(e.offset(), Some(16));

    let mut limits = Limits::default();
    limits.max_header_size = 1000;
    h[16..24].copy_from_slice(&1001u64.to_le_bytes());
    assert!(matches!(
        AsfFile::parse(&h, &limits),
        Err(asf_format::Error::LimitExceeded { .. })
    ));
}

#[test]
fn header_region_prefixes_of_every_vector() {
    // Cut points through the header and the first packets of every real file (stepped so
    // the test stays bounded); each prefix errors or round trips.
    let deadline = Instant::now() + Duration::from_secs(120);
    let Some(dir) = vectors::dir() else { return };
    let entries = std::fs::read_dir(&dir).expect("read vectors dir");
    for e in entries {
        let p = e.expect("entry").path();
        if !p.is_file() || p.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let bytes = std::fs::read(&p).expect("read");
        let end = bytes.len().min(24 * 1024);
        let step = (end / 1500).max(1);
        for cut in (0..end).step_by(step) {
            check(&bytes[..cut]);
        }
        assert!(Instant::now() < deadline, "prefix test too slow");
    }
}
