//! Payload filtering of deselected streams (MS-WMSP 3.2.5.6) on ASF data
//! packets built here field by field from ASF 1.20 §5.2 (no external file).

mod pull_support;

use bytes::Bytes;
use proptest::prelude::*;
use pull_support::*;
use push_protocol::pull_server::{
    PullError, PullServerConfig, PullServerEvent, Session, filter_packet,
};

/// One payload: stream number, key-frame bit, data.
type P = (u8, bool, Vec<u8>);

/// Builds a packet: EC data (0x82 00 00), length-type flags, property flags
/// 0x5d (replicated BYTE, offset DWORD, media object BYTE, stream BYTE),
/// optional packet length (WORD), padding length (BYTE), send time, duration,
/// then one payload or a WORD-length payload list, then `padding` zero bytes.
fn build(payloads: &[P], multiple: bool, padding: u8, with_length: bool) -> Vec<u8> {
    let mut body = Vec::new();
    if multiple {
        body.push(0x80 | payloads.len() as u8);
    }
    for (i, (stream, key, data)) in payloads.iter().enumerate() {
        body.push(stream | if *key { 0x80 } else { 0 });
        body.push(i as u8); // media object number
        body.extend_from_slice(&0u32.to_le_bytes()); // offset into media object
        body.push(8); // replicated data length
        body.extend_from_slice(&(data.len() as u32).to_le_bytes()); // media object size
        body.extend_from_slice(&1000u32.to_le_bytes()); // presentation time
        if multiple {
            body.extend_from_slice(&(data.len() as u16).to_le_bytes());
        }
        body.extend_from_slice(data);
    }
    let mut flags = 0x08; // padding length BYTE
    if multiple {
        flags |= 0x01;
    }
    if with_length {
        flags |= 0x40; // packet length WORD
    }
    let mut p = vec![0x82, 0, 0, flags, 0x5d];
    let len_at = p.len();
    if with_length {
        p.extend_from_slice(&[0, 0]);
    }
    p.push(padding);
    p.extend_from_slice(&77u32.to_le_bytes());
    p.extend_from_slice(&40u16.to_le_bytes());
    p.extend_from_slice(&body);
    p.extend(std::iter::repeat_n(0u8, padding as usize));
    if with_length {
        let n = p.len() as u16;
        p[len_at..len_at + 2].copy_from_slice(&n.to_le_bytes());
    }
    p
}

#[test]
fn single_payload_kept_or_dropped() {
    let pkt = Bytes::from(build(&[(1, true, vec![9; 50])], false, 0, false));
    let only = |s: u8| move |stream: u8, _key: bool| stream == s;
    assert_eq!(
        filter_packet(&pkt, &only(1)).expect("ok"),
        Some(pkt.clone())
    );
    assert_eq!(filter_packet(&pkt, &only(2)).expect("ok"), None);
    // With padding: kept, padding stripped and its length field zeroed.
    let padded = Bytes::from(build(&[(1, true, vec![9; 50])], false, 30, false));
    let out = filter_packet(&padded, &only(1)).expect("ok").expect("kept");
    assert_eq!(
        out,
        Bytes::from(build(&[(1, true, vec![9; 50])], false, 0, false))
    );
}

#[test]
fn multiple_payloads_are_rebuilt() {
    let all: Vec<P> = vec![
        (1, true, vec![1; 10]),
        (2, false, vec![2; 20]),
        (1, false, vec![3; 5]),
    ];
    let pkt = Bytes::from(build(&all, true, 12, true));
    let out = filter_packet(&pkt, &|s: u8, _k: bool| s == 1)
        .expect("ok")
        .expect("kept");
    let mut expect = build(&[all[0].clone(), all[2].clone()], true, 0, true);
    // The rebuilt packet keeps the media object number (2) of the third payload.
    let second_payload = 15 + 17 + 10;
    expect[second_payload + 1] = 2;
    assert_eq!(&out[..], &expect[..]);
    assert_eq!(out[14], 0x80 | 2);
    assert_eq!(u16::from_le_bytes([out[5], out[6]]) as usize, out.len());
    assert_eq!(out[7], 0, "padding length zeroed");
    assert_eq!(
        filter_packet(&pkt, &|s: u8, _k: bool| s == 9).expect("ok"),
        None
    );
}

#[test]
fn server_filters_by_player_selection() {
    let req = b"GET /live HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nPragma: xPlayStrm=1\r\n\
Pragma: stream-switch-entry=ffff:1:1 ffff:2:2 \r\n\r\n";
    let cfg = PullServerConfig {
        filter_streams: true,
        ..Default::default()
    };
    let mut s = server_with_request(cfg, req);
    assert!(matches!(s.poll_event(), Some(PullServerEvent::Request(_))));
    s.accept(asf_header(&[1, 2], 3200, 0), Session::New { client_id: 3 })
        .expect("accept");
    drain(&mut s);
    // Stream 1 thinned to key frames, stream 2 off.
    let mixed = Bytes::from(build(
        &[
            (1, true, vec![1; 10]),
            (1, false, vec![2; 10]),
            (2, true, vec![3; 10]),
        ],
        true,
        0,
        false,
    ));
    s.send_packet(mixed).expect("send");
    s.send_packet(Bytes::from(build(
        &[(2, true, vec![4; 10])],
        false,
        0,
        false,
    )))
    .expect("skipped");
    s.send_packet(Bytes::from(build(
        &[(1, true, vec![5; 10])],
        false,
        0,
        false,
    )))
    .expect("send");
    assert_eq!(s.packets_filtered_out(), 1);
    assert_eq!(s.packets_sent(), 2);
    let out = drain(&mut s);
    let first_len = u16::from_le_bytes([out[2], out[3]]) as usize - 8;
    let first = &out[12..12 + first_len];
    assert_eq!(first, &build(&[(1, true, vec![1; 10])], true, 0, false)[..]);
    let second = &out[12 + first_len..];
    // LocationId 2 (packet 1 was skipped), sequence 1.
    assert_eq!(&second[4..10], &[2, 0, 0, 0, 0, 1]);
    assert!(matches!(
        s.send_packet(Bytes::from_static(&[0x82, 0, 0, 0x08])),
        Err(PullError::BadPacket { .. })
    ));
}

#[test]
fn truncated_packets_are_errors_not_panics() {
    let pkt = build(
        &[(1, true, vec![1; 10]), (2, false, vec![2; 20])],
        true,
        4,
        true,
    );
    for cut in 0..pkt.len() {
        let _ = filter_packet(&Bytes::copy_from_slice(&pkt[..cut]), &|_s: u8, _k: bool| {
            true
        });
    }
    assert!(matches!(
        filter_packet(&Bytes::new(), &|_s: u8, _k: bool| true),
        Err(PullError::BadPacket { offset: 0, .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn filtering_keeps_exactly_the_selected_payloads(
        payloads in proptest::collection::vec((1u8..6, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)), 1..8),
        keep in proptest::collection::vec(any::<bool>(), 6),
        key_only in any::<bool>(),
        padding in 0u8..50,
        with_length in any::<bool>(),
    ) {
        let pkt = Bytes::from(build(&payloads, true, padding, with_length));
        let sel = |s: u8, k: bool| keep[s as usize] && (!key_only || k);
        let kept: Vec<P> = payloads.iter().filter(|(s, k, _)| sel(*s, *k)).cloned().collect();
        let out = filter_packet(&pkt, &sel).expect("valid packet");
        if kept.is_empty() {
            prop_assert_eq!(out, None);
        } else {
            let out = out.expect("kept");
            // Same as building the kept payloads directly, except media object numbers.
            let mut expect = build(&kept, true, 0, with_length);
            let mut got = out.to_vec();
            // Zero the media object numbers (index-based in `build`) before comparing.
            let hdr = if with_length { 14 } else { 12 };
            let mut at = hdr + 1;
            for (_, _, d) in &kept {
                expect[at + 1] = 0;
                got[at + 1] = 0;
                at += 1 + 1 + 4 + 1 + 8 + 2 + d.len();
            }
            prop_assert_eq!(got, expect);
        }
    }
}

#[test]
fn restore_padding_adds_or_widens_the_padding_field() {
    use push_protocol::pull_server::restore_padding;
    let payloads: Vec<P> = vec![(1, true, vec![7; 100])];
    // Stripped packet with a BYTE Padding Length of 0: 3,200 needs a WORD.
    let stripped = Bytes::from(build(&payloads, false, 0, false));
    let out = restore_padding(&stripped, 3200).expect("padded");
    assert_eq!(out.len(), 3200);
    assert_eq!(out[3] & 0x18, 0x10, "padding length type is now WORD");
    let padding = u16::from_le_bytes([out[5], out[6]]) as usize;
    assert_eq!(padding, 3200 - stripped.len() - 1);
    // Filtering it again strips back to the same payload bytes.
    let again = filter_packet(&out, &|_s: u8, _k: bool| true)
        .expect("ok")
        .expect("kept");
    assert_eq!(&again[again.len() - 100..], &[7u8; 100][..]);
    assert_eq!(again.len(), stripped.len() + 1);
    // Small gap: BYTE field holds it; exact size: unchanged; too big: error.
    let out = restore_padding(&stripped, stripped.len() + 10).expect("padded");
    assert_eq!((out[3] & 0x18, out[5]), (0x08, 10));
    assert_eq!(
        restore_padding(&stripped, stripped.len()).expect("same"),
        stripped
    );
    assert!(matches!(
        restore_padding(&stripped, 10),
        Err(PullError::BadPacket { .. })
    ));
    // No Padding Length field at all (flags bits 3-4 = 0): one is inserted.
    let mut no_field = build(&payloads, false, 0, false);
    no_field[3] &= !0x18;
    no_field.remove(5);
    let no_field = Bytes::from(no_field);
    let out = restore_padding(&no_field, 200).expect("padded");
    assert_eq!(out.len(), 200);
    assert_eq!(
        (out[3] & 0x18, out[5] as usize),
        (0x08, 200 - no_field.len() - 1)
    );
    // A coded Packet Length is updated.
    let with_len = Bytes::from(build(&payloads, true, 0, true));
    let out = restore_padding(&with_len, 1000).expect("padded");
    assert_eq!(u16::from_le_bytes([out[5], out[6]]), 1000);
}

proptest! {
    #[test]
    fn strip_then_restore_keeps_payloads(
        payloads in proptest::collection::vec((1u8..6, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..60)), 1..6),
        padding in 0u8..=255,
        with_length in any::<bool>(),
        extra in 0usize..70_000,
    ) {
        use push_protocol::pull_server::restore_padding;
        let original = Bytes::from(build(&payloads, true, padding, with_length));
        let size = (original.len() + extra).min(65_535);
        let all = |_s: u8, _k: bool| true;
        let stripped = filter_packet(&original, &all).expect("ok").expect("kept");
        let restored = restore_padding(&stripped, size).expect("fits");
        prop_assert_eq!(restored.len(), size);
        let body_len = build(&payloads, true, 0, false).len() - 12;
        let again = filter_packet(&restored, &all).expect("ok").expect("kept");
        prop_assert_eq!(&again[again.len() - body_len..], &stripped[stripped.len() - body_len..]);
        if with_length {
            prop_assert_eq!(u16::from_le_bytes([restored[5], restored[6]]) as usize, size);
        }
    }
}

mod crosscheck {
    //! `filter_packet` and `restore_padding` against asf-format's independent
    //! packet writer and parser.
    use asf_format::packet::{DataPacket, FieldWidth, PacketView, Payload};
    use bytes::Bytes;
    use proptest::prelude::*;
    use push_protocol::pull_server::{filter_packet, restore_padding};

    fn payloads_of(packet: &[u8], packet_size: u32) -> Vec<(u8, bool, Vec<u8>)> {
        let view = PacketView::parse(packet, packet_size, 0).expect("asf-format parses it");
        view.payloads()
            .map(|p| (p.stream_number, p.key_frame, p.data.to_vec()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn agrees_with_asf_format(
            list in proptest::collection::vec(
                (1u8..6, any::<bool>(), proptest::collection::vec(any::<u8>(), 1..80)), 1..6),
            multiple in any::<bool>(),
            with_length in any::<bool>(),
            extra in 0usize..600,
            keep in proptest::collection::vec(any::<bool>(), 6),
        ) {
            let list = if multiple { list } else { list[..1].to_vec() };
            let mut dp = DataPacket::new(multiple, 1000);
            if with_length {
                dp.length_type_flags = dp.length_type_flags.with_packet_length_type(FieldWidth::Word);
            }
            let mut expected = Vec::new();
            let mut base = 11 + usize::from(with_length) * 2 + usize::from(multiple);
            for (i, (s, k, d)) in list.iter().enumerate() {
                // Every third payload is compressed (ASF 5.2.3.3: replicated
                // data length 1, sub-payloads), which the filter keeps opaque.
                let p = if i % 3 == 2 {
                    Payload::compressed(*s, *k, i as u32, 100, 10, d.chunks(7)).expect("small objects")
                } else {
                    Payload::fragment(*s, *k, i as u32, 0, d.len() as u32, 100, Bytes::from(d.clone()))
                };
                // Stream, media object number, offset, replicated length + data,
                // payload length (multiple payloads only), payload data.
                base += 1 + 1 + 4 + 1 + p.replicated_data.len() + 2 * usize::from(multiple) + p.data.len();
                expected.push((*s, *k, p.data.to_vec()));
                dp.payloads.push(p);
            }
            let size = (base + extra) as u32;
            dp.fix(size).expect("fits");
            let packet = dp.to_bytes().expect("writes");
            prop_assert_eq!(packet.len(), size as usize);
            let sel = |s: u8, _k: bool| keep[s as usize];
            let kept: Vec<(u8, bool, Vec<u8>)> =
                expected.into_iter().filter(|(s, _, _)| keep[*s as usize]).collect();
            match filter_packet(&packet, &sel).expect("our reader parses it") {
                None => prop_assert!(kept.is_empty()),
                Some(out) => {
                    prop_assert!(!kept.is_empty());
                    // Stripped: no padding, so the packet size is its length.
                    prop_assert_eq!(payloads_of(&out, out.len() as u32), kept.clone());
                    // Re-padded to the file's packet size: asf-format reads the same payloads.
                    let padded = restore_padding(&out, size as usize).expect("fits");
                    prop_assert_eq!(padded.len(), size as usize);
                    prop_assert_eq!(payloads_of(&padded, size), kept.clone());
                    let model = DataPacket::parse(&padded, size, 0).expect("parses");
                    prop_assert!(model.check().is_ok());
                }
            }
        }
    }
}

/// Found by wmpush's packet proptest: a Packet Length (BYTE, 0) that ends inside the
/// packet's own header used to panic with a subtraction overflow.
#[test]
fn restore_padding_refuses_a_packet_length_inside_the_header() {
    use push_protocol::pull_server::restore_padding;
    let mut bytes = vec![0x36u8];
    bytes.extend_from_slice(&[0; 60]);
    assert!(matches!(
        restore_padding(&Bytes::from(bytes), 282),
        Err(PullError::BadPacket { .. })
    ));
}

proptest! {
    #[test]
    fn restore_padding_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..120),
        size in 0usize..400,
    ) {
        let bytes = Bytes::from(bytes);
        if let Ok(out) = push_protocol::pull_server::restore_padding(&bytes, size) {
            prop_assert_eq!(out.len(), size);
        }
    }
}
