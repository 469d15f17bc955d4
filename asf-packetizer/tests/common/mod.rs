//! Shared helpers: parse packets back with asf-format and reassemble media objects.
#![allow(dead_code)]

use asf_format::Limits;
use asf_format::media_object::{MediaObject, Reassembler};
use asf_format::packet::PacketView;
use asf_packetizer::{Packet, Sample};
use bytes::Bytes;

/// Parses every packet (checking size, EC data, property flags, send-time order) and returns
/// the reassembled media objects, per stream in order.
pub fn reassemble(packets: &[Packet], packet_size: usize) -> Vec<MediaObject> {
    let mut r = Reassembler::new(Limits::default());
    let mut last_send = 0u64;
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.bytes().len(), packet_size, "packet {i} size");
        assert_eq!(p.index, i as u64);
        assert!(
            p.send_time >= last_send,
            "send time decreased at packet {i}"
        );
        last_send = p.send_time;
        let b = Bytes::copy_from_slice(p.bytes());
        assert_eq!(&b[..3], &[0x82, 0, 0], "EC data");
        let v = PacketView::parse(&b, packet_size as u32, 0)
            .unwrap_or_else(|e| panic!("packet {i} does not parse: {e}"));
        assert_eq!(v.property_flags().0, 0x5D);
        assert_eq!(u64::from(v.send_time()), p.send_time & 0xFFFF_FFFF);
        assert!(v.payload_count() <= 63);
        r.push_packet(&b, &v);
        while let Some(o) = r.poll_object() {
            out.push(o);
        }
    }
    r.finish();
    while let Some(o) = r.poll_object() {
        out.push(o);
    }
    assert_eq!(r.drops().total(), 0, "dropped objects: {:?}", r.drops());
    out
}

/// Checks the objects equal the samples (per stream order, data, time + preroll, key flag).
pub fn assert_same(objects: &[MediaObject], samples: &[Sample], preroll: u64) {
    assert_eq!(objects.len(), samples.len(), "object count");
    for stream in 1..=127u8 {
        let o: Vec<_> = objects.iter().filter(|o| o.stream == stream).collect();
        let s: Vec<_> = samples.iter().filter(|s| s.stream == stream).collect();
        assert_eq!(o.len(), s.len(), "stream {stream} count");
        for (k, (o, s)) in o.iter().zip(&s).enumerate() {
            assert_eq!(o.data, s.data, "stream {stream} object {k} data");
            assert_eq!(
                u64::from(o.presentation_time),
                (s.presentation_time + preroll) & 0xFFFF_FFFF,
                "stream {stream} object {k} time"
            );
            assert_eq!(o.keyframe, s.keyframe, "stream {stream} object {k} key");
        }
    }
}
