//! `push_sink::asf_file::AsfFile` (a recorded file cut into what a writer hands its sinks) and
//! the packet helpers of `push_sink::asf_packet`, over the conformance kit's synthetic stream
//! (built in code) and asf-format as the independent reader.

use asf_format::{Header, Limits};
use bytes::{Bytes, BytesMut};
use push_sink::push_sink::asf_file::{AsfFile, header_video_streams};
use push_sink::push_sink::asf_packet::{PacketView, strip_padding, trim_before_key_frame};
use push_sink::testing::SyntheticStream;

mod common;

fn file_of(stream: &SyntheticStream, junk: &[u8]) -> Bytes {
    let header_len = stream.header.len() - 50;
    let mut f = Vec::new();
    f.extend_from_slice(&stream.header[..header_len]);
    f.extend_from_slice(junk);
    f.extend_from_slice(&stream.header[header_len..]);
    for p in &stream.packets {
        f.extend_from_slice(p);
    }
    Bytes::from(f)
}

#[test]
fn splits_header_and_packets() {
    let stream = SyntheticStream::new(700, 30);
    let file = AsfFile::parse(file_of(&stream, &[])).expect("parses");
    assert_eq!(file.header(), &stream.header);
    assert_eq!(file.packet_size(), 700);
    assert_eq!(file.packet_count(), 30);
    assert_eq!(file.video_streams(), &[1]);
    assert_eq!(header_video_streams(&stream.header), vec![1]);
    for (i, item) in file.packets().enumerate() {
        let (packet, info) = item.expect("packet parses");
        assert_eq!(packet, stream.packets[i]);
        assert_eq!(info.index, i as u64);
        assert_eq!(info.send_time_ms, stream.infos[i].send_time_ms);
        let view = PacketView::parse(&packet, |s| s == 1).expect("view");
        assert_eq!(view.key_frame, info.key_frame);
        assert_eq!(view.send_time_ms, info.send_time_ms);
        // A video packet is a join point exactly when the kit made it a key frame.
        let stream_number = asf_format::packet::PacketView::parse(&packet, 700, 0)
            .expect("asf-format reads it")
            .payloads()
            .next()
            .expect("one payload")
            .stream_number;
        if stream_number == 1 {
            assert_eq!(info.key_frame, stream.infos[i].key_frame, "packet {i}");
        }
    }
    // A trailing partial packet is not handed out.
    let mut cut = file_of(&stream, &[]).to_vec();
    cut.truncate(cut.len() - 100);
    let file = AsfFile::parse(Bytes::from(cut)).expect("parses");
    assert_eq!(file.packet_count(), 29);
}

#[test]
fn junk_between_header_and_data_is_skipped() {
    let stream = SyntheticStream::new(500, 8);
    let file = AsfFile::parse(file_of(&stream, &[0xEE; 40])).expect("parses");
    assert_eq!(file.header(), &stream.header, "header without the junk");
    assert_eq!(file.packet_count(), 8);
    let packets: Vec<Bytes> = file.packets().map(|p| p.expect("packet").0).collect();
    assert_eq!(packets, stream.packets);
}

#[test]
fn live_header_marks_a_broadcast_and_keeps_everything_else() {
    let stream = SyntheticStream::new(600, 10);
    let file = AsfFile::parse(file_of(&stream, &[])).expect("parses");
    let live = file.live_header();
    assert_eq!(live.len(), stream.header.len());
    let (orig, _) = Header::parse_header(&stream.header, 0, &Limits::default()).expect("orig");
    let (h, used) = Header::parse_header(&live, 0, &Limits::default()).expect("live parses");
    let fp = h.file_properties().expect("file properties");
    assert!(fp.is_broadcast());
    assert!(!fp.is_seekable());
    assert_eq!(
        (
            fp.file_size,
            fp.data_packets_count,
            fp.play_duration,
            fp.send_duration
        ),
        (0, 0, 0, 0)
    );
    let ofp = orig.file_properties().expect("file properties");
    assert_eq!(fp.file_id, ofp.file_id);
    assert_eq!(fp.preroll, ofp.preroll);
    assert_eq!(fp.packet_size(), ofp.packet_size());
    assert_eq!(h.stream_properties(), orig.stream_properties());
    // ASF 5.1: Data Object size and Total Data Packets are 0 (unknown) while live.
    let dh = asf_format::data::DataObjectHeader::parse(&live[used..], used as u64).expect("dh");
    assert_eq!((dh.size, dh.total_data_packets), (0, 0));
    assert_eq!(dh.file_id, ofp.file_id);
    // Idempotent.
    let again = AsfFile::parse(Bytes::from(
        [&live[..], &stream.packets.concat()[..]].concat(),
    ))
    .expect("live file parses");
    assert_eq!(again.live_header(), live);
}

#[test]
fn bad_files_are_located_errors() {
    let stream = SyntheticStream::new(500, 2);
    assert!(AsfFile::parse(Bytes::from_static(b"not an asf file at all, nope")).is_err());
    assert!(AsfFile::parse(Bytes::new()).is_err());
    // Header Object only: no Data Object.
    let header_only = stream.header.slice(..stream.header.len() - 50);
    let e = AsfFile::parse(header_only).expect_err("no data object");
    assert!(e.to_string().contains("byte"), "{e}");
    // A Data Object cut inside its 50-byte header.
    let short = stream.header.slice(..stream.header.len() - 10);
    assert!(AsfFile::parse(short).is_err());
    assert!(header_video_streams(b"garbage").is_empty());
}

#[test]
fn strip_padding_and_trim_agree_with_asf_format() {
    let stream = SyntheticStream::new(900, 12);
    for packet in &stream.packets {
        let before = asf_format::packet::PacketView::parse(packet, 900, 0).expect("kit packet");
        let mut b = BytesMut::from(&packet[..]);
        let cut = strip_padding(&mut b).expect("strips");
        assert_eq!(b.len() + cut, packet.len());
        // The stripped packet is a valid packet of its new length with the same payloads.
        let after = asf_format::packet::PacketView::parse(&b, b.len() as u32, 0).expect("valid");
        assert_eq!(after.padding_length(), 0);
        assert_eq!(after.send_time(), before.send_time());
        let a: Vec<_> = after
            .payloads()
            .map(|p| (p.stream_number, p.data))
            .collect();
        let o: Vec<_> = before
            .payloads()
            .map(|p| (p.stream_number, p.data))
            .collect();
        assert_eq!(a, o);
        // Single-payload packets are never trimmed.
        assert!(trim_before_key_frame(packet, |s| s == 1).is_none());
    }
}

#[test]
fn real_wmv2_packets_through_the_helpers() {
    if !common::have_tool("ffmpeg", "real_wmv2_packets_through_the_helpers") {
        return;
    }
    let dir = common::tempdir();
    let input = common::generate_input(dir.path()).expect("ffmpeg makes the input");
    let file = AsfFile::open(&input).expect("input splits");
    assert!(file.packet_count() > 100);
    let video = file.video_streams().to_vec();
    assert_eq!(video.len(), 1);
    let size = file.packet_size() as u32;
    let (mut keys, mut trimmed) = (0, 0);
    for item in file.packets() {
        let (packet, info) = item.expect("packet");
        let view = asf_format::packet::PacketView::parse(&packet, size, 0).expect("asf-format");
        // The key-frame rule, computed here from asf-format's payload walk.
        let key = view.payloads().any(|p| {
            video.contains(&p.stream_number)
                && p.key_frame
                && p.offset_into_media_object().is_none_or(|o| o == 0)
        });
        assert_eq!(info.key_frame, key);
        keys += usize::from(key);
        let mut b = BytesMut::from(&packet[..]);
        strip_padding(&mut b).expect("strips");
        let after = asf_format::packet::PacketView::parse(&b, b.len() as u32, 0).expect("valid");
        assert_eq!(after.padding_length(), 0);
        let a: Vec<_> = after.payloads().map(|p| p.data).collect();
        let o: Vec<_> = view.payloads().map(|p| p.data).collect();
        assert_eq!(a, o, "same payloads after stripping");
        if let Some(t) = trim_before_key_frame(&packet, |s| video.contains(&s)) {
            trimmed += 1;
            let tv = asf_format::packet::PacketView::parse(&t, size, 0).expect("trimmed parses");
            let first = tv.payloads().next().expect("a payload");
            assert!(first.key_frame && video.contains(&first.stream_number));
            assert_eq!(first.offset_into_media_object(), Some(0));
            assert_eq!(tv.send_time(), view.send_time());
            // Everything from the key frame on is kept byte for byte.
            let from_key: Vec<_> = view
                .payloads()
                .skip_while(|p| {
                    !(p.key_frame
                        && video.contains(&p.stream_number)
                        && p.offset_into_media_object() == Some(0))
                })
                .map(|p| p.data)
                .collect();
            assert_eq!(tv.payloads().map(|p| p.data).collect::<Vec<_>>(), from_key);
        }
    }
    assert!(
        keys >= 10,
        "{keys} key frames in 10 s at one per second or more"
    );
    eprintln!("{keys} join points, {trimmed} trimmed");
}
