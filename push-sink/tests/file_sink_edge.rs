//! FileSink edge cases and fuzz regressions, through the public API with the kit's synthetic
//! stream (no external tools).

use std::io::Cursor;

use bytes::Bytes;
use push_sink::testing::SyntheticStream;
use push_sink::{DataUnit, Error, FileSink, FileSinkConfig, PacketInfo, WriterSink};

fn memory_sink() -> FileSink<Cursor<Vec<u8>>> {
    FileSink::new(Cursor::new(Vec::new()), FileSinkConfig::default())
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Offset of the File Properties Object in the synthetic header (first child).
const FP: usize = 30;

fn written(sink: FileSink<Cursor<Vec<u8>>>) -> Vec<u8> {
    sink.into_inner().expect("output").into_inner()
}

fn feed(sink: &mut impl WriterSink, s: &SyntheticStream, range: std::ops::Range<usize>) {
    for i in range {
        sink.on_data_unit(DataUnit::shared(s.packets[i].clone(), s.infos[i]))
            .expect("unit");
    }
}

/// Fuzz regression (file_sink_input, crash-926a1cf2): a header whose preroll is huge made the
/// Play Duration multiplication overflow at the fix-up.
#[test]
fn huge_preroll_does_not_overflow() {
    let s = SyntheticStream::new(200, 4);
    let mut h = s.header.to_vec();
    h[FP + 80..FP + 88].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut sink = memory_sink();
    sink.on_header(&Bytes::from(h)).expect("header");
    feed(&mut sink, &s, 0..4);
    sink.on_end_writing().expect("end");
    let out = written(sink);
    assert_eq!(le_u64(&out, FP + 64), u64::MAX, "play duration saturates");
}

/// A packet claiming presentation time u32::MAX with a 1 ms index interval: the index stays
/// bounded (the interval widens) instead of allocating billions of entries.
#[test]
fn far_presentation_time_keeps_the_index_bounded() {
    let s = SyntheticStream::new(200, 2);
    let mut p = s.packets[0].to_vec();
    // Presentation time lives at bytes 21..25 of a synthetic packet (see the kit).
    p[21..25].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut sink = FileSink::new(
        Cursor::new(Vec::new()),
        FileSinkConfig::default().index_interval_ms(1),
    );
    sink.on_header(&s.header).expect("header");
    let info = PacketInfo {
        key_frame: true,
        ..PacketInfo::default()
    };
    sink.on_data_unit(DataUnit::shared(Bytes::from(p), info))
        .expect("unit");
    sink.on_end_writing().expect("end");
    let out = written(sink);
    assert!(out.len() < 64 << 20, "index of {} bytes", out.len());
}

#[test]
fn header_must_be_header_object_plus_data_object_header() {
    let s = SyntheticStream::default();
    let mut sink = memory_sink();
    // Without the 50 Data Object bytes.
    let short = s.header.slice(..s.header.len() - 50);
    let e = sink.on_header(&short).expect_err("short header refused");
    assert!(matches!(e, Error::Format(_)), "{e}");
    // The sink is broken after an error: it refuses further calls.
    assert!(matches!(sink.on_header(&s.header), Err(Error::Closed(_))));
}

#[test]
fn data_before_header_and_wrong_packet_size_are_errors() {
    let s = SyntheticStream::default();
    let mut sink = memory_sink();
    let unit = DataUnit::shared(s.packets[0].clone(), s.infos[0]);
    assert!(matches!(sink.on_data_unit(unit), Err(Error::Misuse(_))));
    let mut sink = memory_sink();
    sink.on_header(&s.header).expect("header");
    let unit = DataUnit::shared(s.packets[0].slice(..10), s.infos[0]);
    assert!(matches!(sink.on_data_unit(unit), Err(Error::Contract(_))));
}

#[test]
fn broadcast_header_while_writing_final_header_after() {
    let s = SyntheticStream::new(300, 10);
    let mut sink = memory_sink();
    sink.on_header(&s.header).expect("header");
    feed(&mut sink, &s, 0..10);
    {
        let img = sink.get_ref().expect("out").get_ref();
        let flags = u32::from_le_bytes(img[FP + 88..FP + 92].try_into().expect("4"));
        assert_eq!(flags & 3, 1, "broadcast while writing");
        assert_eq!(le_u64(img, FP + 40), 0, "file size 0 while writing");
        let hlen = le_u64(img, 16) as usize;
        assert_eq!(
            le_u64(img, hlen + 16),
            50,
            "data object size 50 while writing"
        );
    }
    assert_eq!(
        sink.file_size(),
        sink.get_ref().expect("out").get_ref().len() as u64
    );
    sink.on_end_writing().expect("end");
    let size = sink.file_size();
    let img = written(sink);
    assert_eq!(img.len() as u64, size);
    let flags = u32::from_le_bytes(img[FP + 88..FP + 92].try_into().expect("4"));
    assert_eq!(flags & 3, 2, "seekable, not broadcast");
    assert_eq!(le_u64(&img, FP + 40), size);
    assert_eq!(le_u64(&img, FP + 56), 10);
    let hlen = le_u64(&img, 16) as usize;
    assert_eq!(le_u64(&img, hlen + 16), 50 + 10 * 300);
    assert_eq!(le_u64(&img, hlen + 40), 10, "Total Data Packets");
}

#[test]
fn second_header_mid_file_replaces_the_first_in_place() {
    let s = SyntheticStream::new(300, 10);
    let mut sink = memory_sink();
    sink.on_header(&s.header).expect("header");
    feed(&mut sink, &s, 0..5);
    let before = sink.file_size();
    let mut h2 = s.header.to_vec();
    // Change the preroll: a "new profile" with the same packet size.
    h2[FP + 80..FP + 88].copy_from_slice(&2000u64.to_le_bytes());
    sink.on_header(&Bytes::from(h2))
        .expect("second header fits");
    assert_eq!(sink.file_size(), before, "header rewritten in place");
    feed(&mut sink, &s, 5..10);
    assert_eq!(sink.stats().headers, 2);
    sink.on_end_writing().expect("end");
    let img = written(sink);
    assert_eq!(le_u64(&img, FP + 80), 2000, "final header is the latest");
    // Packets are where they were written: the last one is intact before the index.
    let hlen = le_u64(&img, 16) as usize + 50;
    assert_eq!(&img[hlen + 9 * 300..hlen + 10 * 300], &s.packets[9][..]);
}

#[test]
fn header_changing_packet_size_after_data_is_refused() {
    let a = SyntheticStream::new(300, 3);
    let b = SyntheticStream::new(400, 3);
    let mut sink = memory_sink();
    sink.on_header(&a.header).expect("header");
    feed(&mut sink, &a, 0..3);
    assert!(matches!(
        sink.on_header(&b.header),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn header_larger_than_the_reserve_is_refused_after_data() {
    let s = SyntheticStream::new(300, 3);
    let mut sink = FileSink::new(
        Cursor::new(Vec::new()),
        FileSinkConfig::default().reserve(0),
    );
    sink.on_header(&s.header).expect("header");
    feed(&mut sink, &s, 0..3);
    // Grow the header by a 100-byte unknown object.
    let mut h = s.header.to_vec();
    let hsize = le_u64(&h, 16) as usize;
    let mut obj = vec![0xEEu8; 16];
    obj.extend_from_slice(&100u64.to_le_bytes());
    obj.resize(100, 0);
    h.splice(hsize..hsize, obj);
    h[16..24].copy_from_slice(&((hsize + 100) as u64).to_le_bytes());
    let count = u32::from_le_bytes(h[24..28].try_into().expect("4")) + 1;
    h[24..28].copy_from_slice(&count.to_le_bytes());
    assert!(matches!(
        sink.on_header(&Bytes::from(h)),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn close_twice_and_getters() {
    let s = SyntheticStream::new(300, 10);
    let mut sink = memory_sink().with_name("memory");
    assert_eq!(sink.name(), "memory");
    assert!(sink.auto_indexing());
    sink.set_auto_indexing(false);
    assert!(!sink.auto_indexing());
    assert!(!sink.is_real_time());
    sink.on_header(&s.header).expect("header");
    feed(&mut sink, &s, 0..10);
    assert_eq!(sink.packet_count(), 10);
    assert!(sink.duration().as_millis() > 0);
    sink.close().expect("close");
    sink.close().expect("close again is a no-op");
    assert!(sink.is_closed());
    assert!(matches!(
        sink.on_data_unit(DataUnit::shared(s.packets[0].clone(), s.infos[0])),
        Err(Error::Closed(_))
    ));
    let img = written(sink);
    // No auto-index: no Simple Index after the data, and not seekable (it has video).
    let hlen = le_u64(&img, 16) as usize + 50;
    assert_eq!(img.len(), hlen + 10 * 300);
    let flags = u32::from_le_bytes(img[FP + 88..FP + 92].try_into().expect("4"));
    assert_eq!(flags & 3, 0);
}

#[test]
fn empty_file_when_nothing_was_written() {
    let mut sink = memory_sink();
    sink.on_end_writing().expect("end with nothing");
    assert_eq!(sink.file_size(), 0);
    assert!(written(sink).is_empty());
}

#[test]
fn exclusive_units_with_headroom_are_written_without_it() {
    let s = SyntheticStream::new(300, 3);
    let mut sink = memory_sink();
    sink.on_header(&s.header).expect("header");
    for i in 0..3 {
        let mut buf = bytes::BytesMut::new();
        buf.extend_from_slice(b"HEAD");
        let unit = s.unit_in(buf, i).expect("unit");
        assert_eq!(unit.headroom(), 4);
        sink.on_data_unit(unit).expect("unit");
    }
    sink.on_end_writing().expect("end");
    let img = written(sink);
    let hlen = le_u64(&img, 16) as usize + 50;
    assert_eq!(&img[hlen..hlen + 300], &s.packets[0][..]);
}

/// A recording that starts mid-stream: durations count from its own first presentation
/// time, not from the stream's start.
#[test]
fn durations_count_from_the_first_presentation_in_the_file() {
    let s = SyntheticStream::new(300, 40);
    let mut sink = memory_sink();
    sink.on_header(&s.header).expect("header");
    feed(&mut sink, &s, 20..40);
    // Synthetic packet i has presentation time 1000 + 40 i; each stream's last object is
    // followed by one frame (80 ms per stream).
    let expected_ms = (1000 + 39 * 40 + 80) - (1000 + 20 * 40);
    assert_eq!(sink.duration().as_millis(), expected_ms as u128);
    sink.on_end_writing().expect("end");
    let img = written(sink);
    let play_ms = le_u64(&img, FP + 64) / 10_000;
    let preroll = le_u64(&img, FP + 80);
    assert_eq!(
        play_ms,
        expected_ms + preroll,
        "Play Duration = span + preroll"
    );
    let send_ms = le_u64(&img, FP + 72) / 10_000;
    assert_eq!(
        send_ms,
        39 * 40 + 40 - 20 * 40,
        "Send Duration from the first packet sent"
    );
}
