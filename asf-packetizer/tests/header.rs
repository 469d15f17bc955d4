//! Header building through the public API, read back with asf-format.

use asf_format::data::DataObjectHeader;
use asf_format::objects::FileProperties;
use asf_format::{Guid, Header, HeaderObject, Limits, guids};
use asf_packetizer::{
    FileMetadata, Mode, Packetizer, PacketizerOptions, Profile, Sample, StreamConfig, VideoCodec,
    WmaVersion,
};
use bytes::Bytes;

fn profile() -> Profile {
    let mut p = Profile::new()
        .with_stream(
            StreamConfig::video(1, VideoCodec::Wmv3, 640, 480, 2_000_000, vec![1, 2, 3, 4])
                .with_language("en-us")
                .with_name("main"),
        )
        .with_stream(
            StreamConfig::wma(2, WmaVersion::V2, 2, 44_100, 128_000, 2973, vec![0; 10])
                .with_buffer_window(2500),
        );
    p.metadata = FileMetadata {
        title: "T".into(),
        author: "A".into(),
        attributes: vec![(
            "WM/AlbumTitle".into(),
            asf_format::objects::TypedValue::string("Album"),
        )],
        ..FileMetadata::default()
    };
    p
}

fn parse(bytes: &[u8]) -> (Header, DataObjectHeader) {
    let (h, n) = Header::parse_header(bytes, 0, &Limits::default()).expect("header parses");
    assert_eq!(
        n + 50,
        bytes.len(),
        "header then the 50-byte Data Object header"
    );
    let d = DataObjectHeader::parse(&bytes[n..], n as u64).expect("data object header");
    (h, d)
}

fn fp(h: &Header) -> FileProperties {
    h.file_properties().expect("file properties").clone()
}

#[test]
fn live_header_has_broadcast_values() {
    let mut o = PacketizerOptions::new(Mode::Live);
    o.packet_size = 1400;
    let p = Packetizer::new(profile(), o).expect("valid");
    let (h, d) = parse(&p.header().expect("header"));
    let f = fp(&h);
    assert!(f.is_broadcast());
    assert_eq!(
        (
            f.file_size,
            f.data_packets_count,
            f.play_duration,
            f.send_duration
        ),
        (0, 0, 0, 0)
    );
    assert_eq!((f.min_packet_size, f.max_packet_size), (1400, 1400));
    assert_eq!(f.max_bitrate, 2_128_000);
    assert_eq!(f.preroll, 3100);
    assert_eq!(d.size, 50);
    assert_eq!(d.total_data_packets, 0);
    // Audio Spread for WMA, No Error Correction for video.
    assert_eq!(
        h.stream(2).expect("audio").error_correction_type,
        guids::AUDIO_SPREAD
    );
    assert_eq!(
        h.stream(1).expect("video").error_correction_type,
        guids::NO_ERROR_CORRECTION
    );
    // Leaky bucket in Extended Stream Properties.
    let e = h.extended_stream_properties(2).expect("esp");
    assert_eq!((e.data_bitrate, e.buffer_size), (128_000, 2500));
    assert_eq!(h.codec_list().expect("codec list").entries.len(), 2);
    assert_eq!(
        h.content_description().expect("cd").title.to_string_lossy(),
        "T"
    );
    assert!(
        h.extended_content_description()
            .expect("ecd")
            .get("WM/AlbumTitle")
            .is_some()
    );
    // No index parameters and no padding in live mode.
    assert!(
        !h.all_objects()
            .any(|o| matches!(o, HeaderObject::IndexParameters(_)))
    );
    // The profile reads back from the header.
    let back = Profile::from_header(&h).expect("profile");
    assert_eq!(back.streams.len(), 2);
    assert_eq!(back.streams[0].language.as_deref(), Some("en-us"));
    assert_eq!(back.streams[0].name.as_deref(), Some("main"));
    assert_eq!(back.streams[1].bitrate, 128_000);
    assert_eq!(back.streams[1].buffer_window, 2500);
    assert_eq!(
        back.streams[1].type_specific_data,
        profile().streams[1].type_specific_data
    );
    assert_eq!(back.metadata.title, "T");
}

/// Metadata Library records (where WM writers put a `WM/Picture` cover) are written to the
/// Header Extension and read back, so a remux keeps them.
#[test]
fn metadata_library_records_round_trip() {
    let mut p = profile();
    let picture = asf_format::objects::MetadataRecord {
        language_index: 0,
        stream_number: 0,
        name: asf_format::strings::WString::new("WM/Picture"),
        value: asf_format::objects::TypedValue::bytes(&[0x89, b'P', b'N', b'G', 1, 2, 3]),
    };
    p.metadata.library_records = vec![picture.clone()];
    let mut packetizer = Packetizer::new(p, PacketizerOptions::new(Mode::File)).expect("profile");
    let bytes = packetizer.header().expect("header");
    let (h, _) = parse(&bytes);
    let library = h
        .all_objects()
        .find_map(|o| match o {
            HeaderObject::MetadataLibrary(m) => Some(m.records.clone()),
            _ => None,
        })
        .expect("a Metadata Library Object");
    assert_eq!(library, vec![picture.clone()]);
    let back = Profile::from_header(&h).expect("profile");
    assert_eq!(back.metadata.library_records, vec![picture]);
    // The fix-up keeps the header's length with the library in it.
    let end = packetizer.finish(0).expect("finish");
    assert_eq!(end.fixup.expect("file mode").bytes.len(), bytes.len());
}

#[test]
fn file_fixup_rewrites_in_place() {
    let mut o = PacketizerOptions::new(Mode::File);
    o.file_id = Guid([7; 16]);
    let mut p = Packetizer::new(profile(), o).expect("valid");
    let first = p.header().expect("header");
    let mut packets = Vec::new();
    for i in 0..250u64 {
        let key = i % 25 == 0;
        p.push_sample(
            Sample {
                stream: 1,
                presentation_time: i * 40,
                duration: 40,
                keyframe: key,
                data: Bytes::from(vec![i as u8; if key { 8000 } else { 900 }]),
            },
            &mut packets,
        )
        .expect("push");
        if i % 2 == 0 {
            p.push_sample(
                Sample {
                    stream: 2,
                    presentation_time: i * 40,
                    duration: 80,
                    keyframe: true,
                    data: Bytes::from(vec![1; 1300]),
                },
                &mut packets,
            )
            .expect("push");
        }
    }
    let end = p.finish(132_000_000_000_000_000).expect("finish");
    packets.extend(end.packets);
    let fix = end.fixup.expect("file mode has a fix-up");
    assert_eq!(fix.offset, 0);
    assert_eq!(
        fix.bytes.len(),
        first.len(),
        "the fix-up has the header's length"
    );
    let (h, d) = parse(&fix.bytes);
    let f = fp(&h);
    let n = packets.len() as u64;
    assert!(!f.is_broadcast());
    assert!(f.is_seekable());
    assert_eq!(f.data_packets_count, n);
    assert_eq!(d.total_data_packets, n);
    assert_eq!(d.size, 50 + n * 3200);
    assert_eq!(
        f.file_size,
        first.len() as u64 + n * 3200 + end.index_objects.len() as u64
    );
    assert_eq!(f.creation_date, 132_000_000_000_000_000);
    assert_eq!(f.file_id, Guid([7; 16]));
    // 250 frames of 40 ms + 3100 ms preroll.
    assert_eq!(f.play_duration, (250 * 40 + 3100) * 10_000);
    assert!(f.send_duration > 0);
    assert!(
        h.all_objects()
            .any(|o| matches!(o, HeaderObject::IndexParameters(_)))
    );
    assert!(
        h.all_objects()
            .any(|o| matches!(o, HeaderObject::Padding(_)))
    );
    assert_eq!(
        h.extended_stream_properties(1)
            .expect("esp")
            .maximum_object_size,
        8000
    );
    // The whole file parses, with its indexes.
    let mut file = fix.bytes.to_vec();
    for pk in &packets {
        file.extend_from_slice(pk.bytes());
    }
    file.extend_from_slice(&end.index_objects);
    let af = asf_format::AsfFile::parse(&file, &Limits::default()).expect("file parses");
    assert!(af.truncated.is_none());
    assert_eq!(af.packets().count() as u64, n);
    assert!(af.packets().all(|p| p.is_ok()));
    assert!(
        af.index_objects().count() >= 2,
        "a Simple Index and an Index Object"
    );
    // Deterministic: the same input gives the same bytes.
    let again = Packetizer::new(profile(), p.options().clone()).expect("valid");
    assert_eq!(again.header().expect("header"), first);
    assert!(p.finish(0).is_err(), "finish twice");
}

#[test]
fn codec_helpers_make_valid_type_specific_data() {
    use asf_format::objects::{VideoFormat, WaveFormatEx};
    let pcm = StreamConfig::pcm(1, 2, 48_000, 16);
    let w = WaveFormatEx::parse(&pcm.type_specific_data).expect("waveformatex");
    assert_eq!(
        (w.format_tag, w.block_align, w.avg_bytes_per_sec),
        (1, 4, 192_000)
    );
    assert_eq!(pcm.bitrate, 1_536_000);
    let mp3 = StreamConfig::mp3(1, 2, 44_100, 128_000);
    let w = WaveFormatEx::parse(&mp3.type_specific_data).expect("waveformatex");
    assert_eq!(
        (w.format_tag, w.codec_data.map(|c| c.len())),
        (0x55, Some(12))
    );
    let i420 = StreamConfig::video_i420(1, 320, 240, 25);
    let v = VideoFormat::parse(&i420.type_specific_data).expect("video format");
    assert_eq!(
        (&v.compression, v.bit_count, v.size_image),
        (b"I420", 12, 320 * 240 * 3 / 2)
    );
    let rgb = StreamConfig::video_rgb(1, 16, 16, 24, 10);
    let v = VideoFormat::parse(&rgb.type_specific_data).expect("video format");
    assert_eq!((v.compression, v.size_image), ([0; 4], 16 * 16 * 3));
    for c in [
        VideoCodec::Wmv1,
        VideoCodec::Wmv2,
        VideoCodec::Wmv3,
        VideoCodec::Msmpeg4v3,
    ] {
        let s = StreamConfig::video(1, c, 176, 144, 300_000, vec![9; 4]);
        let v = VideoFormat::parse(&s.type_specific_data).expect("video format");
        assert_eq!(v.compression, c.fourcc());
        assert_eq!(v.codec_data, vec![9; 4]);
    }
    let wma1 = StreamConfig::wma(1, WmaVersion::V1, 1, 22_050, 32_000, 743, vec![0; 4]);
    assert!(wma1.audio_spread.is_some());
}

#[test]
fn invalid_profiles_are_rejected() {
    let mut p = profile();
    p.streams[1].number = 1;
    assert!(Packetizer::new(p, PacketizerOptions::new(Mode::Live)).is_err());
    let mut p = profile();
    p.streams[0].bitrate = 0;
    assert!(Packetizer::new(p, PacketizerOptions::new(Mode::Live)).is_err());
    let mut p = profile();
    p.streams[0].number = 200;
    assert!(Packetizer::new(p, PacketizerOptions::new(Mode::Live)).is_err());
}

#[test]
fn video_without_key_frames_gets_no_index_object() {
    let mut p = Packetizer::new(profile(), PacketizerOptions::new(Mode::File)).expect("valid");
    let first = p.header().expect("header");
    let mut packets = Vec::new();
    for i in 0..30u64 {
        p.push_sample(
            Sample {
                stream: 1,
                presentation_time: i * 40,
                duration: 40,
                keyframe: false,
                data: Bytes::from(vec![3; 500]),
            },
            &mut packets,
        )
        .expect("push");
    }
    let end = p.finish(0).expect("finish");
    let fix = end.fixup.expect("file mode");
    assert_eq!(fix.bytes.len(), first.len());
    let (h, _) = parse(&fix.bytes);
    assert!(
        !h.all_objects()
            .any(|o| matches!(o, HeaderObject::IndexParameters(_)))
    );
    assert!(!fp(&h).is_seekable());
    assert!(end.index_objects.is_empty());
}
