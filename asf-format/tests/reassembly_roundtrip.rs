//! Media-object reassembly: objects fragmented across payloads and packets come back whole;
//! whole objects are zero-copy; lost fragments are dropped and counted; limits hold.

mod stream_support;

use asf_format::Limits;
use asf_format::media_object::{MediaObject, Reassembler};
use asf_format::packet::{DataPacket, FieldWidth, PacketView, Payload};
use bytes::Bytes;
use proptest::prelude::*;
use stream_support::*;

fn reassemble(packets: &[Bytes], ps: u32, limits: Limits) -> (Vec<MediaObject>, Reassembler) {
    let mut r = Reassembler::new(limits);
    let mut out = Vec::new();
    for p in packets {
        let v = PacketView::parse(p, ps, 0).expect("valid packet");
        r.push_packet(p, &v);
        while let Some(o) = r.poll_object() {
            out.push(o);
        }
    }
    r.finish();
    (out, r)
}

fn obj_strategy() -> impl Strategy<Value = Vec<Obj>> {
    proptest::collection::vec(
        (
            1u8..4,
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 1..3000),
        ),
        1..30,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (stream, key, data))| Obj {
                stream,
                number: i as u8,
                pt: 3100 + i as u32 * 10,
                key,
                data,
            })
            .collect()
    })
}

/// A part list given back serves the next object (no allocation per object in a remux).
#[test]
fn recycled_part_lists_serve_later_objects() {
    let objs: Vec<Obj> = (0..4u8)
        .map(|i| Obj {
            stream: 1,
            number: i,
            pt: 3100 + u32::from(i) * 40,
            key: true,
            data: vec![i; 2000],
        })
        .collect();
    let packets = packetize(&objs, 600);
    let mut r = Reassembler::new(Limits::default());
    r.keep_fragments(true);
    let (mut given_back, mut reused, mut got) = (Vec::new(), 0, Vec::new());
    for p in &packets {
        let v = PacketView::parse(p, 600, 0).expect("valid packet");
        r.push_packet(p, &v);
        while let Some(o) = r.poll_parts() {
            reused += usize::from(given_back.contains(&(o.parts.as_ptr() as usize)));
            got.push(o.clone().join().data);
            given_back.push(o.parts.as_ptr() as usize);
            r.recycle_parts(o.parts);
        }
    }
    assert_eq!(got, objs.iter().map(|o| o.data.clone()).collect::<Vec<_>>());
    // The next object's first fragment may share a packet with the end of the one before:
    // its list is then taken before that one's comes back.
    assert!(reused >= 2, "objects reuse lists given back: {reused} of 4");
    // Lists too large to keep, or never allocated, are dropped.
    r.recycle_parts(Vec::new());
    r.recycle_parts(Vec::with_capacity(10_000));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn fragmented_objects_come_back(objs in obj_strategy(), ps in 120u32..2000) {
        let packets = packetize(&objs, ps);
        let (out, r) = reassemble(&packets, ps, Limits::default());
        prop_assert_eq!(r.drops().total(), 0);
        prop_assert_eq!(out.len(), objs.len());
        // Objects of one stream come out in order; compare per stream.
        for s in 1..4u8 {
            let want: Vec<_> = objs.iter().filter(|o| o.stream == s).collect();
            let got: Vec<_> = out.iter().filter(|o| o.stream == s).collect();
            prop_assert_eq!(want.len(), got.len());
            for (w, g) in want.iter().zip(got) {
                prop_assert_eq!(&g.data[..], &w.data[..]);
                prop_assert_eq!(g.presentation_time, w.pt);
                prop_assert_eq!(g.keyframe, w.key);
                prop_assert_eq!(g.number, u32::from(w.number));
            }
        }
    }

    /// With fragments kept, every object comes out as slices of its packets (nothing copied)
    /// that join to exactly what the default, joining reassembler gives; part lists given back
    /// (`recycle_parts`, as the remuxer does) serve later objects without changing them.
    #[test]
    fn kept_fragments_join_to_the_same_objects(objs in obj_strategy(), ps in 120u32..2000) {
        let packets = packetize(&objs, ps);
        let (joined, _) = reassemble(&packets, ps, Limits::default());
        let mut r = Reassembler::new(Limits::default());
        r.keep_fragments(true);
        let mut kept = Vec::new();
        for p in &packets {
            let v = PacketView::parse(p, ps, 0).expect("valid packet");
            r.push_packet(p, &v);
            while let Some(o) = r.poll_parts() {
                kept.push(o.clone());
                r.recycle_parts(o.parts);
            }
        }
        r.finish();
        prop_assert_eq!(r.drops().total(), 0);
        prop_assert_eq!(kept.len(), joined.len());
        let inside = |b: &Bytes| {
            packets.iter().any(|p| {
                let (lo, hi) = (p.as_ptr() as usize, p.as_ptr() as usize + p.len());
                let at = b.as_ptr() as usize;
                at >= lo && at + b.len() <= hi
            })
        };
        for (k, j) in kept.into_iter().zip(joined) {
            prop_assert!(k.parts.iter().all(|b| !b.is_empty() && inside(b)));
            prop_assert_eq!(k.len(), j.data.len());
            prop_assert_eq!(k.clone().join(), j);
        }
    }

    /// The one-walk path (`push_packet_in`, packets as slices of one buffer) gives the same
    /// objects as parsing each packet first, as slices of that buffer.
    #[test]
    fn one_walk_over_a_shared_buffer_gives_the_same_objects(objs in obj_strategy(), ps in 120u32..2000) {
        let packets = packetize(&objs, ps);
        let (joined, _) = reassemble(&packets, ps, Limits::default());
        let whole = Bytes::from(packets.concat());
        let mut r = Reassembler::new(Limits::default());
        r.keep_fragments(true);
        let mut got = Vec::new();
        for (i, p) in whole.chunks(ps as usize).enumerate() {
            r.push_packet_in(&whole, p, ps, i as u64 * u64::from(ps)).expect("valid packet");
            while let Some(o) = r.poll_parts() {
                let (lo, hi) = (whole.as_ptr() as usize, whole.as_ptr() as usize + whole.len());
                let inside = |b: &Bytes| {
                    let at = b.as_ptr() as usize;
                    at >= lo && at + b.len() <= hi
                };
                prop_assert!(o.parts.iter().all(inside), "parts are slices of the buffer");
                got.push(o.join());
            }
        }
        prop_assert!(!r.has_ready());
        prop_assert_eq!(got, joined);
    }

    #[test]
    fn losing_a_packet_drops_and_counts(objs in obj_strategy(), ps in 120u32..600, lose in any::<usize>()) {
        let mut packets = packetize(&objs, ps);
        if packets.len() < 2 { return Ok(()); }
        let lost = packets.remove(lose % packets.len());
        // Objects wholly inside the lost packet vanish without a trace; any other object
        // missing had a fragment lost, which the reassembler counts.
        let view = PacketView::parse(&lost, ps, 0).expect("valid packet");
        let whole_in_lost = view
            .payloads()
            .filter(|p| {
                p.offset_into_media_object == 0
                    && p.media_object_size() == Some(p.data.len() as u32)
            })
            .count();
        let (out, r) = reassemble(&packets, ps, Limits::default());
        prop_assert!(out.len() < objs.len());
        if objs.len() - out.len() > whole_in_lost {
            prop_assert!(r.drops().total() >= 1);
        }
        prop_assert_eq!(r.pending(), 0);
        // Whatever came out is a real object.
        for o in &out {
            prop_assert!(objs.iter().any(|w| w.stream == o.stream && w.data[..] == o.data[..]));
        }
    }
}

#[test]
fn whole_objects_are_zero_copy() {
    let objs = vec![Obj {
        stream: 1,
        number: 9,
        pt: 4000,
        key: true,
        data: vec![5; 100],
    }];
    let packets = packetize(&objs, 400);
    let (out, _) = reassemble(&packets, 400, Limits::default());
    assert_eq!(out.len(), 1);
    let p = &packets[0];
    let start = p.as_ptr() as usize;
    let d = out[0].data.as_ptr() as usize;
    assert!(
        d >= start && d < start + p.len(),
        "object data points into the packet"
    );
}

#[test]
fn compressed_payloads_and_missing_replicated_data() {
    let mut p = DataPacket::new(true, 777);
    let subs: [&[u8]; 3] = [b"one", b"two", b"three"];
    p.payloads
        .push(Payload::compressed(2, false, 255, 3100, 23, subs).expect("small"));
    p.payloads.push(Payload {
        stream_number: 3,
        key_frame: true,
        media_object_number: 4,
        offset_into_media_object: 0,
        replicated_data: Bytes::new(),
        data: Bytes::from_static(b"untimed"),
    });
    p.fix(200).expect("fits");
    let b = p.to_bytes().expect("writes");
    let (out, r) = reassemble(&[b], 200, Limits::default());
    assert_eq!(r.drops().total(), 0);
    let got: Vec<_> = out
        .iter()
        .map(|o| (o.stream, o.number, o.presentation_time, &o.data[..]))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, 255, 3100, &b"one"[..]),
            (2, 0, 3123, &b"two"[..]),
            (2, 1, 3146, &b"three"[..]),
            (3, 4, 777, &b"untimed"[..]),
        ]
    );
    assert_eq!(FieldWidth::Byte.max_value(), 255);
}

#[test]
fn limits_bound_reassembly() {
    let objs = vec![
        Obj {
            stream: 1,
            number: 0,
            pt: 0,
            key: true,
            data: vec![1; 5000],
        },
        Obj {
            stream: 2,
            number: 0,
            pt: 0,
            key: true,
            data: vec![2; 5000],
        },
    ];
    let packets = packetize(&objs, 500);
    let mut limits = Limits::default();
    limits.max_media_object_size = 4000;
    let (out, r) = reassemble(&packets, 500, limits);
    assert!(out.is_empty());
    // The convenience entry point parses first and reports malformed packets.
    let mut direct = Reassembler::new(Limits::default());
    for p in &packets {
        direct.push_packet_bytes(p, 500, 0).expect("valid");
    }
    assert_eq!(direct.poll_object().map(|o| o.data.len()), Some(5000));
    assert!(
        direct
            .push_packet_bytes(&Bytes::from_static(&[0x82]), 500, 9)
            .is_err()
    );
    assert_eq!(r.drops().oversized, 2);
    assert!(
        r.drops().orphan_fragments > 0,
        "later fragments of dropped objects are orphans"
    );

    // Interleave two streams' fragments so both are pending at once, with room for one.
    let mut a = DataPacket::new(true, 0);
    a.payloads.push(Payload::fragment(
        1,
        true,
        0,
        0,
        10,
        0,
        Bytes::from_static(&[1; 5]),
    ));
    a.payloads.push(Payload::fragment(
        2,
        true,
        0,
        0,
        10,
        0,
        Bytes::from_static(&[2; 5]),
    ));
    a.fix(200).expect("fits");
    let mut b = DataPacket::new(true, 0);
    b.payloads.push(Payload::fragment(
        1,
        true,
        0,
        5,
        10,
        0,
        Bytes::from_static(&[1; 5]),
    ));
    b.payloads.push(Payload::fragment(
        2,
        true,
        0,
        5,
        10,
        0,
        Bytes::from_static(&[2; 5]),
    ));
    b.fix(200).expect("fits");
    let packets = [a.to_bytes().expect("a"), b.to_bytes().expect("b")];
    let mut limits = Limits::default();
    limits.max_pending_media_objects = 1;
    let (out, r) = reassemble(&packets, 200, limits);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].data[..], &[1; 10]);
    assert_eq!(r.drops().too_many_pending, 1);
    assert_eq!(r.drops().orphan_fragments, 1);
}

#[test]
fn a_new_object_number_drops_the_unfinished_one() {
    let mut a = DataPacket::new(true, 0);
    a.payloads.push(Payload::fragment(
        1,
        true,
        0,
        0,
        10,
        0,
        Bytes::from_static(&[1; 5]),
    ));
    a.payloads.push(Payload::fragment(
        1,
        false,
        1,
        0,
        3,
        40,
        Bytes::from_static(&[9; 3]),
    ));
    a.fix(200).expect("fits");
    let (out, r) = reassemble(&[a.to_bytes().expect("a")], 200, Limits::default());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].number, 1);
    assert_eq!(r.drops().incomplete, 1);
}

/// Packets mixing compressed runs of small objects (stream 3) with fragments of large ones
/// (stream 1): every object comes back, in order per stream, with PT + n × delta timing.
fn mixed_packets(
    large: &[Vec<u8>],
    small: &[Vec<Vec<u8>>],
    ps: u32,
) -> (Vec<Bytes>, Vec<MediaObject>) {
    let mut want = Vec::new();
    let mut packets = Vec::new();
    let mut mon_small = 0u32;
    for (i, (big, run)) in large.iter().zip(small).enumerate() {
        let pt = 3100 + 100 * i as u32;
        // The compressed run first, in its own payload of a fresh packet.
        let mut p = DataPacket::new(true, pt);
        let objs: Vec<&[u8]> = run.iter().map(Vec::as_slice).collect();
        p.payloads.push(
            Payload::compressed(3, false, mon_small & 0xFF, pt, 7, objs.iter().copied())
                .expect("small objects"),
        );
        for (n, o) in run.iter().enumerate() {
            want.push(MediaObject {
                stream: 3,
                number: (mon_small + n as u32) & 0xFF,
                presentation_time: pt + 7 * n as u32,
                keyframe: false,
                data: Bytes::copy_from_slice(o),
            });
        }
        mon_small += run.len() as u32;
        // Then the large object, fragmented over this and following packets.
        let mut off = 0usize;
        loop {
            let used = p.encoded_len() + 17 + 3;
            let room = (ps as usize).saturating_sub(used);
            if room == 0 || p.payloads.len() == 63 {
                p.fix(ps).expect("fits");
                packets.push(p.to_bytes().expect("writes"));
                p = DataPacket::new(true, pt);
                continue;
            }
            let n = room.min(big.len() - off);
            p.payloads.push(Payload::fragment(
                1,
                i % 3 == 0,
                i as u32 & 0xFF,
                off as u32,
                big.len() as u32,
                pt,
                Bytes::copy_from_slice(&big[off..off + n]),
            ));
            off += n;
            if off == big.len() {
                break;
            }
        }
        p.fix(ps).expect("fits");
        packets.push(p.to_bytes().expect("writes"));
        want.push(MediaObject {
            stream: 1,
            number: i as u32 & 0xFF,
            presentation_time: pt,
            keyframe: i % 3 == 0,
            data: Bytes::copy_from_slice(big),
        });
    }
    (packets, want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn compressed_runs_and_fragments_mix(
        large in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..4000), 1..8),
        small in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 0..8), 8),
        ps in 700u32..3000,
    ) {
        let (packets, want) = mixed_packets(&large, &small, ps);
        let (got, r) = reassemble(&packets, ps, Limits::default());
        prop_assert_eq!(r.drops().total(), 0);
        for s in [1u8, 3] {
            let w: Vec<_> = want.iter().filter(|o| o.stream == s).collect();
            let g: Vec<_> = got.iter().filter(|o| o.stream == s).collect();
            prop_assert_eq!(w, g);
        }
    }
}
