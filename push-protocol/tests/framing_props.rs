//! Property tests of the push framing: round trips and chunking independence.

use proptest::prelude::*;
use push_protocol::framing::{self, PushFrameDecoder, PushFrameKind};

#[derive(Debug, Clone)]
enum Item {
    Header(Vec<u8>),
    Data(Vec<u8>),
    End(u32),
    Change(Vec<u8>),
    Fill(usize),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|mut h| {
            // Keep the header from looking like the preheader variant.
            if h.len() >= 24 {
                h[0] = 0;
            }
            Item::Header(h)
        }),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Item::Data),
        any::<u32>().prop_map(Item::End),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Item::Change),
        prop_oneof![Just(0usize), 4usize..70_000].prop_map(Item::Fill),
    ]
}

fn encode(items: &[Item]) -> Vec<u8> {
    let mut out = Vec::new();
    for it in items {
        match it {
            Item::Header(h) => framing::encode_header(h, &mut out).expect("small"),
            Item::Data(d) => framing::encode_data(d, &mut out).expect("small"),
            Item::End(r) => framing::encode_end(*r, &mut out),
            Item::Change(h) => framing::encode_change(h, &mut out).expect("small"),
            Item::Fill(n) => framing::encode_fill(*n, &mut out).expect("fillable"),
        }
    }
    out
}

fn decode_chunked(bytes: &[u8], cuts: &[usize]) -> Vec<framing::PushFrame> {
    let mut d = PushFrameDecoder::new();
    let mut frames = Vec::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.push(bytes.len());
    for p in points {
        d.push(&bytes[start..p.max(start)]);
        start = p.max(start);
        while let Some(f) = d.next_frame().expect("valid stream") {
            frames.push(f);
        }
    }
    assert_eq!(d.buffered(), 0);
    frames
}

proptest! {
    #[test]
    fn round_trip_and_chunking(items in proptest::collection::vec(item(), 0..12),
                               cuts in proptest::collection::vec(any::<usize>(), 0..20)) {
        let bytes = encode(&items);
        let whole = decode_chunked(&bytes, &[]);
        let chunked = decode_chunked(&bytes, &cuts);
        prop_assert_eq!(&whole, &chunked);
        let non_fill: Vec<_> = whole.iter().filter(|f| f.kind != PushFrameKind::Fill).collect();
        let expected: Vec<_> = items.iter().filter(|i| !matches!(i, Item::Fill(_))).collect();
        prop_assert_eq!(non_fill.len(), expected.len());
        for (f, it) in non_fill.iter().zip(expected) {
            match it {
                Item::Header(h) => { prop_assert_eq!(f.kind, PushFrameKind::Header); prop_assert_eq!(&f.payload[..], &h[..]); }
                Item::Data(d) => { prop_assert_eq!(f.kind, PushFrameKind::Data); prop_assert_eq!(&f.payload[..], &d[..]); }
                Item::End(r) => { prop_assert_eq!(f.kind, PushFrameKind::End); prop_assert_eq!(f.reason, Some(*r)); }
                Item::Change(h) => { prop_assert_eq!(f.kind, PushFrameKind::Change); prop_assert_eq!(f.reason, Some(0)); prop_assert_eq!(&f.payload[..], &h[..]); }
                Item::Fill(_) => unreachable!(),
            }
        }
        let total: usize = whole.iter().map(|f| f.wire_len).sum();
        prop_assert_eq!(total, bytes.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut d = PushFrameDecoder::new();
        d.push(&bytes);
        while let Ok(Some(_)) = d.next_frame() {}
    }
}

#[test]
fn sniffs_preheader_variant() {
    let mut header = framing::ASF_HEADER_GUID.to_vec();
    header.extend_from_slice(&[1, 2, 3, 4]);
    let mut pre = vec![0x24, 0x48, 0, 0, 0, 0, 0, 0];
    pre.extend_from_slice(&header);
    let mut wire = Vec::new();
    framing::encode_header(&pre, &mut wire).expect("small");
    let mut data = vec![9u8; 8];
    data.extend_from_slice(&[7, 7, 7]);
    framing::encode_data(&data, &mut wire).expect("small");
    let frames = decode_chunked(&wire, &[3, 17]);
    assert!(frames[0].had_preheader);
    assert_eq!(&frames[0].payload[..], &header[..]);
    assert_eq!(&frames[1].payload[..], &[7, 7, 7]);

    let mut plain = Vec::new();
    framing::encode_header(&header, &mut plain).expect("small");
    let frames = decode_chunked(&plain, &[]);
    assert!(!frames[0].had_preheader);
    assert_eq!(&frames[0].payload[..], &header[..]);
}

#[test]
fn limits_and_bad_bytes_are_errors() {
    assert!(framing::encode_header(&vec![0; 65_532], &mut Vec::new()).is_err());
    assert!(framing::encode_header(&vec![0; 65_531], &mut Vec::new()).is_ok());
    assert!(framing::encode_change(&vec![0; 65_528], &mut Vec::new()).is_err());
    assert!(framing::encode_change(&vec![0; 65_527], &mut Vec::new()).is_ok());
    for bad in [
        &[0xA4u8, b'D', 0, 0][..],
        &[b'$', b'M', 0, 0],
        &[b'$', b'E', 5, 0],
        &[b'$', b'D', 0xFF, 0xFF],
    ] {
        let mut d = PushFrameDecoder::new();
        d.push(bad);
        let err = d.next_frame().expect_err("bad header");
        assert!(
            err.to_string().contains("at byte 0") || err.to_string().contains("limit"),
            "{err}"
        );
        assert!(d.next_frame().is_err(), "stays failed");
    }
}

#[test]
fn headroom_header_matches_encoder() {
    let packet = [5u8; 100];
    let mut buf = vec![0u8; 4];
    buf.extend_from_slice(&packet);
    framing::write_frame_header(PushFrameKind::Data, &mut buf).expect("fits");
    let mut enc = Vec::new();
    framing::encode_data(&packet, &mut enc).expect("fits");
    assert_eq!(buf, enc);
    assert!(framing::write_frame_header(PushFrameKind::End, &mut buf).is_err());
}
