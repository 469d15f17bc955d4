//! Property tests of the Writer's fan-out: for random sample sequences, sink sets and join
//! points, every sink present from the start sees the same packets, a late joiner sees a
//! suffix that begins at a key frame, packets have the packet size and consecutive indices,
//! and the samples can be reassembled from the packets exactly.

use bytes::Bytes;
use proptest::prelude::*;
use push_sink::testing::{RecordingSink, SimpleMux, SinkCall};
use push_sink::{DataUnit, PacketInfo, Sample, Writer};

#[derive(Debug, Clone)]
struct Input {
    packet_size: usize,
    samples: Vec<(u16, usize, bool)>,
    headrooms: Vec<usize>,
    join_at: usize,
}

fn input() -> impl Strategy<Value = Input> {
    (
        64usize..3000,
        prop::collection::vec((1u16..=2, 1usize..6000, any::<bool>()), 1..80),
        prop::collection::vec(0usize..20, 1..4),
        0usize..80,
    )
        .prop_map(|(packet_size, samples, headrooms, join_at)| Input {
            packet_size,
            samples,
            headrooms,
            join_at,
        })
}

fn units(log: &std::sync::Arc<std::sync::Mutex<Vec<SinkCall>>>) -> Vec<(Bytes, PacketInfo)> {
    log.lock()
        .expect("log")
        .iter()
        .filter_map(|c| match c {
            SinkCall::DataUnit { packet, info, .. } => Some((packet.clone(), *info)),
            _ => None,
        })
        .collect()
}

/// Reassembles SimpleMux packets (single payload, fixed layout; see the kit).
fn reassemble(packets: &[(Bytes, PacketInfo)]) -> Vec<(u16, Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut open: Option<(u16, usize, bool, Vec<u8>)> = None;
    for (p, _) in packets {
        let ps = p.len();
        let padding = usize::from(u16::from_le_bytes([p[2], p[3]]));
        let stream = u16::from(p[10] & 0x7F);
        let key = p[10] & 0x80 != 0;
        let offset = u32::from_le_bytes(p[12..16].try_into().expect("4")) as usize;
        let size = u32::from_le_bytes(p[17..21].try_into().expect("4")) as usize;
        let data = &p[25..ps - padding];
        if offset == 0 {
            open = Some((stream, size, key, Vec::new()));
        }
        let (s, size, key, mut buf) = open.take().expect("fragment continues an open object");
        assert_eq!(buf.len(), offset);
        buf.extend_from_slice(data);
        if buf.len() == size {
            out.push((s, buf, key));
        } else {
            open = Some((s, size, key, buf));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn fan_out_is_consistent(inp in input()) {
        let mut w = Writer::new(Box::new(SimpleMux::new(inp.packet_size)));
        let packet_size = inp.packet_size.clamp(64, 65535);
        let mut logs = Vec::new();
        for &h in &inp.headrooms {
            let s = RecordingSink::new(false, h);
            logs.push(s.log());
            w.add_sink(Box::new(s));
        }
        w.begin_writing().expect("begin");
        let mut late = None;
        let mut sent = Vec::new();
        for (i, &(stream, len, key)) in inp.samples.iter().enumerate() {
            if i == inp.join_at {
                let s = RecordingSink::new(false, 4);
                late = Some(s.log());
                w.add_sink(Box::new(s));
            }
            let data = Bytes::from((0..len).map(|b| (b * 7 + i) as u8).collect::<Vec<u8>>());
            sent.push((stream, data.to_vec(), key));
            w.write_sample(Sample { stream, presentation_time_ms: i as u64 * 10, duration_ms: 10, key_frame: key, data })
                .expect("sample");
        }
        w.end_writing().expect("end");
        prop_assert!(w.take_sink_failures().is_empty());
        let first = units(&logs[0]);
        prop_assert_eq!(first.len() as u64, w.packets_made());
        for (i, (p, info)) in first.iter().enumerate() {
            prop_assert_eq!(p.len(), packet_size);
            prop_assert_eq!(info.index, i as u64);
        }
        for log in &logs[1..] {
            prop_assert_eq!(&units(log), &first);
        }
        prop_assert_eq!(reassemble(&first), sent);
        if let Some(late) = late {
            let l = units(&late);
            if let Some((_, info)) = l.first() {
                prop_assert!(info.key_frame, "late joiner starts at a key frame");
                let start = info.index as usize;
                prop_assert_eq!(&l[..], &first[start..]);
            }
        }
    }

    #[test]
    fn framing_in_place_or_copied_gives_the_same_bytes(
        packet in prop::collection::vec(any::<u8>(), 1..2000),
        headroom in 0usize..16,
        header in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut buf = bytes::BytesMut::new();
        buf.resize(headroom, 0xAA);
        buf.extend_from_slice(&packet);
        let unit = DataUnit::new(buf, headroom, PacketInfo::default()).expect("fits");
        prop_assert_eq!(unit.packet(), &packet[..]);
        let framed = unit.clone().into_framed(&header);
        let mut expected = header.clone();
        expected.extend_from_slice(&packet);
        prop_assert_eq!(&framed[..], &expected[..]);
        prop_assert_eq!(&unit.into_packet()[..], &packet[..]);
    }
}
