//! Data packets: arbitrary models (every flag width, single/multiple payloads, compressed
//! payloads, error correction of any length, explicit and implicit padding) write, parse back to
//! the same model, and the zero-copy view agrees with the owned model.

use asf_format::packet::{
    DataPacket, ErrorCorrection, FieldWidth, LengthTypeFlags, PacketView, Payload, PropertyFlags,
};
use bytes::Bytes;
use proptest::prelude::*;

fn width() -> impl Strategy<Value = FieldWidth> {
    prop_oneof![
        Just(FieldWidth::Absent),
        Just(FieldWidth::Byte),
        Just(FieldWidth::Word),
        Just(FieldWidth::Dword)
    ]
}

#[derive(Debug, Clone)]
enum Kind {
    NoReplicated,
    Compressed(u8, Vec<Vec<u8>>),
    Full(Vec<u8>),
}

fn payload_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::NoReplicated),
        (
            any::<u8>(),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..5)
        )
            .prop_map(|(d, s)| Kind::Compressed(d, s)),
        proptest::collection::vec(any::<u8>(), 8..24).prop_map(Kind::Full),
    ]
}

#[derive(Debug, Clone)]
struct Gen {
    ec: Option<(u8, bool, Vec<u8>)>,
    ltf_bit7: bool,
    multi: bool,
    seq_w: FieldWidth,
    seq: u32,
    pkt_len_w: FieldWidth,
    pad_w: FieldWidth,
    repl_w: FieldWidth,
    off_w: FieldWidth,
    mon_w: FieldWidth,
    sn_bits: u8,
    plen_w: FieldWidth,
    send_time: u32,
    duration: u16,
    payloads: Vec<(u8, bool, u32, u32, Kind, Vec<u8>)>,
    padding: Vec<u8>,
    implicit: usize,
    gap: usize,
}

fn arb_packet() -> impl Strategy<Value = Gen> {
    (
        (
            proptest::option::of((
                0u8..16,
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 15),
            )),
            any::<bool>(),
            any::<bool>(),
            width(),
            any::<u32>(),
            width(),
            width(),
        ),
        (
            width(),
            width(),
            width(),
            0u8..4,
            prop_oneof![
                Just(FieldWidth::Byte),
                Just(FieldWidth::Word),
                Just(FieldWidth::Dword)
            ],
        ),
        (any::<u32>(), any::<u16>()),
        proptest::collection::vec(
            (
                0u8..128,
                any::<bool>(),
                any::<u32>(),
                any::<u32>(),
                payload_kind(),
                proptest::collection::vec(any::<u8>(), 0..200),
            ),
            1..6,
        ),
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<usize>(),
        any::<usize>(),
    )
        .prop_map(|(a, b, c, payloads, padding, implicit, gap)| Gen {
            ec: a.0,
            ltf_bit7: a.1,
            multi: a.2,
            seq_w: a.3,
            seq: a.4,
            pkt_len_w: a.5,
            pad_w: a.6,
            repl_w: b.0,
            off_w: b.1,
            mon_w: b.2,
            sn_bits: b.3,
            plen_w: b.4,
            send_time: c.0,
            duration: c.1,
            payloads,
            padding,
            implicit,
            gap,
        })
}

fn mask(w: FieldWidth, v: u32) -> u32 {
    v & w.max_value()
}

/// Turns generated parts into a consistent packet (length fields solved), or None when the
/// combination cannot be written (e.g. a value does not fit a chosen width).
fn build(g: &Gen) -> Option<DataPacket> {
    let single = !g.multi;
    let payloads: Vec<Payload> = g
        .payloads
        .iter()
        .take(if single { 1 } else { 63 })
        .map(|(sn, key, mon, off, kind, data)| {
            let (repl, data) = match kind {
                Kind::NoReplicated => (Bytes::new(), Bytes::copy_from_slice(data)),
                Kind::Compressed(d, subs) => {
                    let mut v = Vec::new();
                    for s in subs {
                        v.push(s.len() as u8);
                        v.extend_from_slice(s);
                    }
                    (Bytes::copy_from_slice(&[*d]), Bytes::from(v))
                }
                Kind::Full(r) => (Bytes::copy_from_slice(r), Bytes::copy_from_slice(data)),
            };
            Payload {
                stream_number: *sn,
                key_frame: *key,
                media_object_number: mask(g.mon_w, *mon),
                offset_into_media_object: mask(g.off_w, *off),
                replicated_data: repl,
                data,
            }
        })
        .collect();
    let ec = g.ec.as_ref().map(|(len, opaque, bytes)| ErrorCorrection {
        flags: 0x80 | (u8::from(*opaque) << 4) | len,
        data: Bytes::copy_from_slice(&bytes[..*len as usize]),
    });
    let mut p = DataPacket {
        length_type_flags: LengthTypeFlags(
            LengthTypeFlags::new(g.multi, g.seq_w, g.pad_w, g.pkt_len_w).0
                | if ec.is_some() && g.ltf_bit7 { 0x80 } else { 0 },
        ),
        error_correction: ec,
        property_flags: PropertyFlags(
            PropertyFlags::new(g.repl_w, g.off_w, g.mon_w).0 & 0x3F | (g.sn_bits << 6),
        ),
        packet_length: 0,
        sequence: mask(g.seq_w, g.seq),
        padding_length: 0,
        send_time: g.send_time,
        duration: g.duration,
        payload_length_type: if g.multi {
            g.plen_w
        } else {
            FieldWidth::Absent
        },
        payloads,
        padding: Bytes::copy_from_slice(&g.padding),
    };
    // Solve the length fields: total = everything; the Packet Length (if present) leaves
    // `implicit` bytes of implicit padding; the Padding Length covers the rest (minus a `gap`
    // of unclaimed bytes in multiple-payload mode, which a reader also treats as padding).
    let total = p.encoded_len();
    let body = total - p.padding.len();
    let implicit = if g.pkt_len_w == FieldWidth::Absent {
        0
    } else {
        g.implicit % (p.padding.len() + 1)
    };
    let effective = total - implicit;
    p.packet_length = effective as u32;
    let explicit = effective - body;
    let gap = if g.multi { g.gap % (explicit + 1) } else { 0 };
    p.padding_length = (explicit - gap) as u32;
    if g.pad_w == FieldWidth::Absent && p.padding_length != 0 {
        return None;
    }
    p.check().ok()?;
    Some(p)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn model_bytes_model(g in arb_packet()) {
        let Some(p) = build(&g) else { return Ok(()); };
        let bytes = p.to_bytes().expect("checked");
        prop_assert_eq!(bytes.len(), p.encoded_len());
        let ps = bytes.len() as u32;
        let back = DataPacket::parse(&bytes, ps, 1000).expect("parses");
        prop_assert_eq!(&back, &p);
        let v = PacketView::parse(&bytes, ps, 1000).expect("view");
        let mut seen = Vec::new();
        let v2 = PacketView::parse_each(&bytes, ps, 1000, |p| seen.push(*p)).expect("single pass");
        prop_assert_eq!(v2, v);
        prop_assert_eq!(seen, v.payloads().collect::<Vec<_>>());
        prop_assert_eq!(v.payload_count() as usize, p.payloads.len());
        prop_assert_eq!(v.padding(), &p.padding[..]);
        for (a, b) in v.payloads().zip(&p.payloads) {
            prop_assert_eq!(a.data, &b.data[..]);
            prop_assert_eq!(a.replicated_data, &b.replicated_data[..]);
            prop_assert_eq!(a.presentation_time(), b.presentation_time());
            prop_assert_eq!(a.media_object_size(), b.media_object_size());
            if a.is_compressed() {
                let subs: Vec<_> = a.sub_payloads().collect();
                let total: usize = subs.iter().map(|s| 1 + s.data.len()).sum();
                prop_assert_eq!(total, a.data.len());
                for (n, s) in subs.iter().enumerate() {
                    let pt = a.presentation_time().expect("compressed has a PT");
                    let delta = u32::from(a.presentation_time_delta().expect("delta"));
                    prop_assert_eq!(s.presentation_time, pt.wrapping_add(n as u32 * delta));
                }
            }
        }
    }

    #[test]
    fn fix_makes_exact_size_packets(g in arb_packet(), extra in 0usize..70_000) {
        let Some(mut p) = build(&g) else { return Ok(()); };
        p.padding = Bytes::new();
        let min = p.encoded_len() + 5;
        let ps = (min + extra) as u32;
        p.fix(ps).expect("fits");
        prop_assert_eq!(p.encoded_len(), ps as usize);
        let bytes = p.to_bytes().expect("fixed packets write");
        let back = DataPacket::parse(&bytes, ps, 0).expect("parses");
        prop_assert_eq!(back, p);
    }

    #[test]
    fn arbitrary_bytes_parse_or_error_and_reserialize(
        data in proptest::collection::vec(any::<u8>(), 1..400),
        cut in any::<usize>(),
    ) {
        let ps = 1 + cut % data.len();
        let b = Bytes::from(data);
        match DataPacket::parse(&b, ps as u32, 7) {
            Ok(p) => prop_assert_eq!(&p.to_bytes().expect("parsed packets write")[..], &b[..ps]),
            Err(e) => {
                let o = e.offset().expect("input errors have an offset");
                prop_assert!(o <= 7 + ps as u64);
            }
        }
    }
}

#[test]
fn ffmpeg_style_packet_and_field_errors() {
    // 82 00 00 | 0x11 (multi, padding BYTE) | 0x5D | pad=2 | send | dur | flags 0x81 (1 payload, WORD)
    let mut p = DataPacket::new(true, 1234);
    p.payloads.push(Payload::fragment(
        1,
        true,
        7,
        0,
        5,
        3100,
        Bytes::from_static(b"hello"),
    ));
    p.fix(64).expect("fits");
    let b = p.to_bytes().expect("writes");
    assert_eq!(&b[..3], &[0x82, 0, 0]);
    assert_eq!(b[3], 0x09, "multiple payloads + BYTE padding length");
    assert_eq!(b[4], 0x5D);
    let v = PacketView::parse(&b, 64, 0).expect("parses");
    assert_eq!(v.send_time(), 1234);
    let pl = v.payloads().next().expect("one payload");
    assert_eq!(
        (pl.stream_number, pl.key_frame, pl.media_object_number),
        (1, true, 7)
    );
    assert_eq!(pl.presentation_time(), Some(3100));
    assert_eq!(pl.media_object_size(), Some(5));
    assert_eq!(pl.data, b"hello");
    assert_eq!(pl.data_offset(), 64 - 5 - u64::from(v.padding_length()));

    // Truncated input, packet size 0, and a too-long packet length all give located errors.
    assert!(matches!(
        PacketView::parse(&b[..10], 64, 100),
        Err(asf_format::Error::Truncated { offset: 110, .. })
    ));
    assert!(PacketView::parse(&b, 0, 0).is_err());
    let mut q = p.clone();
    q.length_type_flags = q
        .length_type_flags
        .with_packet_length_type(FieldWidth::Word);
    q.packet_length = 64;
    q.fix(64).expect("fits");
    let mut bad = q.to_bytes().expect("writes").to_vec();
    bad[5..7].copy_from_slice(&65u16.to_le_bytes());
    let e = PacketView::parse(&bad, 64, 0).unwrap_err();
    assert_eq!(e.offset(), Some(5), "{e}");
    // Packet Length smaller than the packet size: the rest is padding (VLC/FFmpeg).
    let mut short = q.to_bytes().expect("writes").to_vec();
    let pad = u16::from(short[7]);
    short[5..7].copy_from_slice(&(64 - pad).to_le_bytes());
    short[7] = 0;
    let v = PacketView::parse(&short, 64, 0).expect("short packet length is padding");
    assert_eq!(v.padding().len(), usize::from(pad));
    let back = DataPacket::parse(&Bytes::from(short.clone()), 64, 0).expect("parses");
    assert_eq!(back.to_bytes().expect("writes"), short);
}

#[test]
fn payload_extensions_split_by_declared_sizes() {
    // size, PT, then a 2-byte fixed system, a variable one (WORD length 3), a 1-byte one.
    let mut repl = Vec::new();
    repl.extend_from_slice(&10u32.to_le_bytes());
    repl.extend_from_slice(&3100u32.to_le_bytes());
    repl.extend_from_slice(&[0xAA, 0xBB, 3, 0, 1, 2, 3, 0x77]);
    let p = Payload {
        stream_number: 2,
        key_frame: false,
        media_object_number: 0,
        offset_into_media_object: 0,
        replicated_data: Bytes::from(repl),
        data: Bytes::from_static(&[0; 10]),
    };
    let parts: Vec<_> = p
        .extensions(&[2, 0xFFFF, 1])
        .collect::<Result<_, _>>()
        .expect("splits");
    assert_eq!(parts, vec![&[0xAA, 0xBB][..], &[1, 2, 3][..], &[0x77][..]]);
    // Declared systems that do not match the bytes are an error, not a panic.
    assert!(p.extensions(&[2, 0xFFFF]).any(|r| r.is_err()));
    assert!(p.extensions(&[2, 0xFFFF, 4]).any(|r| r.is_err()));
    assert_eq!(p.extensions(&[]).count(), 1, "leftover bytes reported");
}

#[test]
fn compressed_payload_sub_payloads() {
    let objs: [&[u8]; 3] = [b"ab", b"", b"cde"];
    let p = Payload::compressed(3, true, 254, 5000, 20, objs).expect("small objects");
    let subs: Vec<_> = p.sub_payloads(FieldWidth::Byte).collect();
    assert_eq!(subs.len(), 3);
    assert_eq!(subs[2].presentation_time, 5040);
    assert_eq!(subs[2].media_object_number, 0, "BYTE numbers wrap at 256");
    assert_eq!(subs[2].data, b"cde");
    assert!(Payload::compressed(3, true, 0, 0, 0, [&[0u8; 256][..]]).is_err());
}

#[test]
fn packets_iterator_walks_a_buffer_and_stops_at_a_partial_packet() {
    let mut buf = Vec::new();
    for t in 0..5u32 {
        let mut p = DataPacket::new(false, t);
        p.payloads.push(Payload::fragment(
            1,
            false,
            t,
            0,
            3,
            t,
            Bytes::from_static(b"xyz"),
        ));
        p.fix(100).expect("fits");
        p.write_to(&mut buf).expect("writes");
    }
    let times: Vec<u32> = asf_format::packet::Packets::new(&buf, 100, 50)
        .map(|p| p.expect("valid").send_time())
        .collect();
    assert_eq!(times, vec![0, 1, 2, 3, 4]);
    buf.truncate(450);
    let r: Vec<_> = asf_format::packet::Packets::new(&buf, 100, 50).collect();
    assert_eq!(r.len(), 5);
    assert!(matches!(
        r[4],
        Err(asf_format::Error::Truncated { offset: 500, .. })
    ));
}

/// GStreamer asfmux's short packet: Packet Length = the bytes used, Padding Length = the rest
/// of the fixed-size packet (Packet Length + Padding Length = packet size). The single payload
/// ends at Packet Length; the view, the model and the writer agree, byte for byte.
#[test]
fn asfmux_packet_length_plus_padding_equals_packet_size() {
    let size = 64u32;
    let mut b = vec![
        0x50, // packet length WORD, padding length WORD, single payload, no EC
        0x5d, // replicated BYTE, offset DWORD, media object number BYTE, stream number BYTE
        32, 0, // Packet Length: the 32 bytes used
        32, 0, // Padding Length: the other 32
        0x10, 0x27, 0, 0, // send time 10000
        0x28, 0,    // duration 40
        0x81, // stream 1, key frame
        7,    // media object number
        0, 0, 0, 0, // offset into media object
        8, // replicated data length
        5, 0, 0, 0, 0x10, 0x27, 0, 0, // media object size 5, presentation time 10000
    ];
    b.extend_from_slice(b"hello");
    assert_eq!(b.len(), 32);
    b.resize(size as usize, 0);
    let bytes = Bytes::from(b);
    let view = PacketView::parse(&bytes, size, 1000).expect("asfmux form parses");
    let payloads: Vec<_> = view.payloads().collect();
    assert_eq!(payloads.len(), 1);
    assert_eq!(payloads[0].data, b"hello");
    assert_eq!(payloads[0].data_offset(), 1000 + 27);
    let model = DataPacket::parse(&bytes, size, 1000).expect("model");
    assert_eq!(model.payloads[0].data, Bytes::from_static(b"hello"));
    assert_eq!(model.to_bytes().expect("writes"), bytes);

    // Spec form for comparison: the same fields but Packet Length + Padding Length != size
    // means explicit padding inside Packet Length; 32 - 31 leaves 1 byte, no room.
    let mut spec = bytes.to_vec();
    spec[4] = 31;
    assert!(PacketView::parse(&spec, size, 0).is_err());
}
