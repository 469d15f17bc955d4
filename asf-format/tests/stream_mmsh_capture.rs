//! A real live broadcast: `mmsh-framed/peercaststation__test.asf` (WMFSDK 11 live encoder,
//! WMA 9.2 + WMV3, broadcast header, two Extended Stream Properties; provenance in
//! /work/shared/test-vectors/asf/real/PROVENANCE.md). The MMSH framing is stripped here, the
//! packets zero-padded back to the packet size (MS-WMSP: servers strip trailing padding), and
//! the result fed to the streaming reader one MMSH chunk at a time.

use asf_format::Limits;
use asf_format::media_object::Reassembler;
use asf_format::packet::{DataPacket, PacketView, extension_sizes};
use asf_format::stream::{Event, StreamReader};

mod vectors;

/// (type, body) of each MMSH chunk: 4-byte basic header, 8-byte extended header, body.
fn chunks(d: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 12 <= d.len() {
        let t = u16::from_le_bytes([d[pos], d[pos + 1]]);
        let len = usize::from(u16::from_le_bytes([d[pos + 2], d[pos + 3]]));
        out.push((t, &d[pos + 12..pos + 4 + len]));
        pos += 4 + len;
    }
    assert_eq!(pos, d.len(), "whole chunks");
    out
}

#[test]
fn live_capture_reads_reassembles_and_splits_extensions() {
    let Some(dir) = vectors::dir() else { return };
    let d = std::fs::read(dir.join("mmsh-framed/peercaststation__test.asf"))
        .expect("read the live capture");
    let mut reader = StreamReader::new(Limits::default());
    let mut events = Vec::new();
    let mut packet_size = 0usize;
    for (t, body) in chunks(&d) {
        match t {
            0x4824 => reader.feed(body),
            0x4424 => {
                assert!(packet_size > 0 && body.len() <= packet_size);
                reader.feed(body);
                reader.feed(&vec![0; packet_size - body.len()]);
            }
            other => panic!("unexpected chunk {other:#x}"),
        }
        while let Some(e) = reader.poll_event().expect("valid stream") {
            if let Event::Header { info, .. } = &e {
                packet_size = info.packet_size as usize;
            }
            events.push(e);
        }
    }
    reader.finish();
    while let Some(e) = reader.poll_event().expect("clean end") {
        let end = e == Event::End;
        events.push(e);
        if end {
            break;
        }
    }
    let Some(Event::Header { info, header, .. }) = events.first() else {
        panic!("header first");
    };
    assert!(info.is_broadcast());
    assert_eq!(info.packet_size, 5400);
    let mut sizes = vec![Vec::new(); 128];
    for n in 1..128u8 {
        if let Some(esp) = header.extended_stream_properties(n) {
            sizes[n as usize] = extension_sizes(esp);
        }
    }
    assert!(
        matches!(events[1], Event::DataObjectStart { header, .. } if header.is_unbounded() || header.total_data_packets == 0xFFFF_FFFF || header.size > 50)
    );
    let mut re = Reassembler::new(Limits::default());
    let (mut packets, mut extensions, mut objects, mut keyframes) = (0, 0, 0, 0);
    for e in &events {
        if let Event::Packet { offset, data } = e {
            let v = PacketView::parse(data, 5400, *offset).expect("packet");
            for p in v.payloads() {
                if p.media_object_size().is_some() {
                    for part in p.extensions(&sizes[p.stream_number as usize]) {
                        part.expect("extension data matches the declared systems");
                        extensions += 1;
                    }
                }
            }
            let owned = DataPacket::parse(data, 5400, *offset).expect("owned");
            assert_eq!(&owned.to_bytes().expect("writes"), data);
            re.push_packet(data, &v);
            while let Some(o) = re.poll_object() {
                objects += 1;
                keyframes += usize::from(o.keyframe);
            }
            packets += 1;
        }
    }
    assert_eq!(packets, 361);
    assert!(extensions > 0, "this encoder writes payload extensions");
    assert!(
        objects > 100 && keyframes > 0,
        "{objects} objects, {keyframes} key frames"
    );
    // A capture starts and ends mid-stream: the tail fragments of the first (large WMV3)
    // frame are orphans, and the last frame may be cut off. Nothing else is lost.
    re.finish();
    let drops = re.drops();
    assert!(
        drops.incomplete <= 2
            && drops.orphan_fragments <= 8
            && drops.total() == drops.incomplete + drops.orphan_fragments,
        "{drops:?}"
    );
}
