//! Where the real-world corpus lives: `WMPUSH_VECTORS`, else `shared/test-vectors/asf/real` beside the
//! repository (CI puts `shared/` beside its clone). A missing corpus fails the test under
//! `WMPUSH_INTEROP=require` and is a printed skip otherwise.
#![allow(dead_code)] // each test binary that includes this module uses part of it

use std::path::PathBuf;

/// The corpus folder, or `None` after saying why the test is skipped.
pub fn dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("WMPUSH_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors/asf/real")
        }
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("WMPUSH_INTEROP").as_deref() == Ok("require") {
        panic!(
            "WMPUSH_INTEROP=require but the test vectors directory {} is missing",
            dir.display()
        );
    }
    println!(
        "SKIPPED: test vectors directory {} is missing",
        dir.display()
    );
    None
}

/// `bytes` cut into chunks of 1..=`max` bytes, the sizes from a xorshift sequence seeded by
/// `seed` (deterministic, so a failure names its seed).
pub fn random_chunks(bytes: &[u8], seed: u64, max: u64) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    let mut x = seed | 1;
    let mut pos = 0;
    while pos < bytes.len() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let end = (pos + 1 + (x % max) as usize).min(bytes.len());
        chunks.push(&bytes[pos..end]);
        pos = end;
    }
    chunks
}

/// The (offset, length) of every [`Event::Junk`](asf_format::stream::Event::Junk) in `events`.
pub fn junk_spans(events: &[asf_format::stream::Event]) -> Vec<(u64, usize)> {
    events
        .iter()
        .filter_map(|e| match e {
            asf_format::stream::Event::Junk { offset, data, .. } => Some((*offset, data.len())),
            _ => None,
        })
        .collect()
}
