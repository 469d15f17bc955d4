//! Property tests of FileSink's output structure: for random packet sizes, packet counts,
//! stop/start points and second headers, the finished file is header + packets + index with
//! consistent sizes and counts, the packets are exactly those written, and every Simple Index
//! entry points at a packet that begins a key frame at or before the entry's time.

use std::io::Cursor;

use proptest::prelude::*;
use push_sink::testing::SyntheticStream;
use push_sink::{DataUnit, FileSink, FileSinkConfig, WriterSink};

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4"))
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8"))
}

const SIMPLE_INDEX: [u8; 16] = [
    0x90, 0x08, 0x00, 0x33, 0xB1, 0xE5, 0xCF, 0x11, 0x89, 0xF4, 0x00, 0xA0, 0xC9, 0x03, 0x49, 0xCB,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn finished_file_is_consistent(
        packet_size in 64usize..4000,
        count in 0usize..120,
        stop in prop::option::of((0usize..120, 0usize..40)),
        second_header_at in prop::option::of(0usize..120),
        reserve in 0usize..2000,
    ) {
        let s = SyntheticStream::new(packet_size, count);
        let ps = s.packet_size;
        let mut sink = FileSink::new(Cursor::new(Vec::new()), FileSinkConfig::default().reserve(reserve));
        sink.on_header(&s.header).expect("header");
        let mut written = Vec::new();
        let mut stopped_until = None;
        for i in 0..count {
            if Some(i) == second_header_at {
                sink.on_header(&s.header).expect("same-size header always fits");
            }
            if let Some((at, len)) = stop {
                if i == at {
                    sink.stop();
                    stopped_until = Some(at + len);
                }
                if Some(i) == stopped_until {
                    sink.start();
                }
            }
            let before = sink.packet_count();
            sink.on_data_unit(DataUnit::shared(s.packets[i].clone(), s.infos[i])).expect("unit");
            if sink.packet_count() > before {
                written.push(i);
            }
        }
        sink.on_end_writing().expect("end");
        let size = sink.file_size();
        let img = sink.into_inner().expect("out").into_inner();
        prop_assert_eq!(img.len() as u64, size);
        let hsize = le_u64(&img, 16) as usize;
        let fp = 30;
        prop_assert_eq!(le_u64(&img, fp + 40), size);
        prop_assert_eq!(le_u64(&img, fp + 56), written.len() as u64);
        prop_assert_eq!(le_u64(&img, hsize + 16), 50 + (written.len() * ps) as u64);
        prop_assert_eq!(le_u64(&img, hsize + 40), written.len() as u64);
        let data = hsize + 50;
        for (n, &i) in written.iter().enumerate() {
            prop_assert_eq!(&img[data + n * ps..data + (n + 1) * ps], &s.packets[i][..]);
        }
        let after = data + written.len() * ps;
        let key_written: Vec<usize> = written.iter().enumerate()
            .filter(|(_, i)| s.infos[**i].key_frame && s.packets[**i][10] & 0x80 != 0)
            .map(|(n, _)| n)
            .collect();
        if key_written.is_empty() {
            prop_assert_eq!(img.len(), after, "nothing to index");
        } else {
            prop_assert_eq!(&img[after..after + 16], &SIMPLE_INDEX[..]);
            let interval_ms = le_u64(&img, after + 40) / 10_000;
            let entries = le_u32(&img, after + 52) as usize;
            prop_assert!(entries >= 1);
            for e in 0..entries {
                let packet = le_u32(&img, after + 56 + e * 6) as usize;
                prop_assert!(key_written.contains(&packet), "entry {} -> packet {} is a key frame", e, packet);
                let pt = le_u32(&s.packets[written[packet]], 21) as u64;
                let first_key_pt = le_u32(&s.packets[written[key_written[0]]], 21) as u64;
                prop_assert!(pt <= (e as u64 * interval_ms).max(first_key_pt));
            }
        }
    }
}
