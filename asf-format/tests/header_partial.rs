//! Inputs that end inside the Header Object: `Header::parse_partial` gives the complete
//! objects before the cut and names the innermost cut object with its offset, for every
//! prefix length of real headers (each class: inside the GUID, the size, the count and
//! reserved bytes, a child's object header, a child, the Header Extension's fixed part and one
//! of its children).

mod vectors;

use asf_format::objects::HeaderObject;
use asf_format::{AsfFile, AsfObject, Header, Limits};

/// (offset, length, name) of an object.
type Span = (u64, u64, &'static str);

/// The spans of every direct child and of every Header Extension child.
fn layout(header: &Header) -> (Vec<Span>, Vec<Span>) {
    let mut top = Vec::new();
    let mut ext = Vec::new();
    let mut off = 30;
    for o in &header.objects {
        top.push((off, o.encoded_len(), o.name()));
        if let HeaderObject::HeaderExtension(he) = o {
            let mut inner = off + 46;
            for c in &he.objects {
                ext.push((inner, c.encoded_len(), c.name()));
                inner += c.encoded_len();
            }
        }
        off += o.encoded_len();
    }
    (top, ext)
}

fn check_every_prefix(
    name: &str,
    bytes: &[u8],
    classes: &mut std::collections::BTreeSet<&'static str>,
) {
    let limits = Limits::default();
    let full = AsfFile::parse(bytes, &limits).expect("complete file parses");
    let header_len = full.header.encoded_len() as usize;
    let (top, ext) = layout(&full.header);
    for len in 0..header_len {
        let prefix = &bytes[..len];
        assert!(AsfFile::parse(prefix, &limits).is_err(), "{name}[..{len}]");
        let Some(p) = Header::parse_partial(prefix, &limits) else {
            assert!(len < 16, "{name}[..{len}]: no partial model");
            classes.insert("no GUID");
            continue;
        };
        let t = p.truncated;
        assert_eq!(t.available, len as u64 - t.offset, "{name}[..{len}] {t:?}");
        // The complete children are exactly those that end at or before the cut.
        let whole: Vec<_> = top.iter().filter(|c| c.0 + c.1 <= len as u64).collect();
        assert_eq!(p.header.objects.len(), whole.len(), "{name}[..{len}]");
        for (got, want) in p.header.objects.iter().zip(&full.header.objects) {
            assert_eq!(got, want, "{name}[..{len}]");
        }
        if len < 30 {
            assert_eq!(
                (t.offset, t.object),
                (0, "Header Object"),
                "{name}[..{len}]"
            );
            classes.insert(if len < 24 { "size" } else { "count" });
            continue;
        }
        let Some(cut) = top
            .iter()
            .find(|c| c.0 < len as u64 && c.0 + c.1 > len as u64)
        else {
            // Between two children: only the Header Object itself is cut.
            assert_eq!(
                (t.offset, t.object),
                (0, "Header Object"),
                "{name}[..{len}]"
            );
            assert!(p.header.unparsed.is_empty());
            classes.insert("between children");
            continue;
        };
        if len as u64 - cut.0 < 24 {
            assert_eq!(
                (t.offset, t.object),
                (cut.0, "object header"),
                "{name}[..{len}]"
            );
            classes.insert("child object header");
            continue;
        }
        let inner = ext
            .iter()
            .find(|c| c.0 < len as u64 && c.0 + c.1 > len as u64);
        match inner {
            Some(c) if cut.2 == "Header Extension Object" && len as u64 - c.0 >= 24 => {
                assert_eq!((t.offset, t.object), (c.0, c.2), "{name}[..{len}]");
                let done = ext.iter().filter(|e| e.0 + e.1 <= len as u64).count();
                assert_eq!(p.extension_objects.len(), done, "{name}[..{len}]");
                classes.insert("extension child");
            }
            Some(c) if cut.2 == "Header Extension Object" => {
                assert_eq!(
                    (t.offset, t.object),
                    (c.0, "object header"),
                    "{name}[..{len}]"
                );
                classes.insert("extension child object header");
            }
            _ => {
                assert_eq!((t.offset, t.object), (cut.0, cut.2), "{name}[..{len}]");
                assert_eq!(t.declared_size, cut.1, "{name}[..{len}]");
                classes.insert("child");
            }
        }
    }
    // A complete header is not partial.
    assert!(Header::parse_partial(&bytes[..header_len], &limits).is_none());
}

#[test]
fn every_prefix_of_real_headers_gives_a_partial_model() {
    let Some(dir) = vectors::dir() else {
        return;
    };
    let mut classes = std::collections::BTreeSet::new();
    for name in [
        "mutagen__silence-1.wma",
        "exiftool__ASF.wmv",
        "picard__test.wmv",
        "atldotnet__wma.wma",
    ] {
        let bytes = std::fs::read(dir.join(name)).expect("read vector");
        check_every_prefix(name, &bytes, &mut classes);
    }
    // Every class was met.
    assert_eq!(classes.len(), 8, "{classes:?}");
}

#[test]
fn not_asf_gives_no_partial_model() {
    assert!(
        Header::parse_partial(b"RIFF....WAVEfmt and some more bytes", &Limits::default()).is_none()
    );
}
