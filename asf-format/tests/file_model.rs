//! Property tests over whole files: a model built from parts (header, Data Object with
//! packets, unknown objects after it, a `$E` trailer) -> bytes -> model is the identity, and
//! `encoded_len()` matches; appending arbitrary junk never breaks the round trip.

use asf_format::file::{DataSection, TopLevelObject};
use asf_format::objects::{FileProperties, HeaderExtension, HeaderObject, StreamProperties};
use asf_format::{AsfFile, AsfObject, Guid, Header, Limits, RawObject, guids};
use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

fn header(packet_size: u32, flags: u32) -> Header {
    let mut sp = StreamProperties {
        stream_type: guids::AUDIO_MEDIA,
        ..Default::default()
    };
    sp.set_stream_number(1);
    let mut h = Header {
        objects: vec![
            HeaderObject::FileProperties(FileProperties {
                min_packet_size: packet_size,
                max_packet_size: packet_size,
                flags,
                ..Default::default()
            }),
            HeaderObject::HeaderExtension(HeaderExtension::default()),
            HeaderObject::StreamProperties(sp),
        ],
        ..Default::default()
    };
    h.fix();
    h
}

fn data(packet_size: usize, packets: usize, fill: u8, size_field: Option<u64>) -> DataSection {
    let mut body = vec![0u8; 26];
    body[24] = 1;
    body[25] = 1;
    body.extend(std::iter::repeat_n(fill, packet_size * packets));
    DataSection {
        size_field: size_field.unwrap_or(24 + body.len() as u64),
        body: Bytes::from(body),
    }
}

fn unknown_guid() -> impl Strategy<Value = Guid> {
    proptest::array::uniform16(any::<u8>())
        .prop_map(Guid)
        .prop_filter("not a known GUID", |g| guids::name_of(g).is_none())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn seekable_file_model_round_trips(
        packet_size in 30usize..200, packets in 0usize..6, fill in any::<u8>(),
        others in vec((unknown_guid(), vec(any::<u8>(), 0..40)), 0..3),
        trailer in any::<bool>(),
    ) {
        let mut objects = vec![TopLevelObject::Data(data(packet_size, packets, fill, None))];
        for (guid, body) in others {
            objects.push(TopLevelObject::Other(RawObject { guid, data: Bytes::from(body) }));
        }
        if trailer {
            objects.push(TopLevelObject::Junk(Bytes::from_static(b"$E\x08\0\0\0\0\0\0\0\x08\0")));
        }
        let file = AsfFile { header: header(packet_size as u32, 2), objects, truncated: None };
        let bytes = file.to_bytes();
        prop_assert_eq!(bytes.len() as u64, file.encoded_len());
        let back = AsfFile::parse(&bytes, &Limits::default()).expect("parses");
        prop_assert_eq!(&back, &file);
    }

    #[test]
    fn broadcast_file_model_round_trips(
        packet_size in 30usize..200, packets in 1usize..6, fill in 0u8..0x20,
        zero_size in any::<bool>(), trailer in any::<bool>(),
    ) {
        let size = if zero_size { 0 } else { 50 };
        let mut objects = vec![TopLevelObject::Data(data(packet_size, packets, fill, Some(size)))];
        if trailer {
            objects.push(TopLevelObject::Junk(Bytes::from_static(b"$E\x08\0\0\0\0\0\0\0\x08\0")));
        }
        let file = AsfFile {
            header: header(packet_size as u32, FileProperties::BROADCAST),
            objects,
            truncated: None,
        };
        let bytes = file.to_bytes();
        let back = AsfFile::parse(&bytes, &Limits::default()).expect("parses");
        prop_assert_eq!(&back, &file);
        prop_assert_eq!(back.data().map(|d| d.packets().len()), Some(packet_size * packets));
    }

    #[test]
    fn appended_junk_round_trips(packets in 0usize..4, junk in vec(any::<u8>(), 0..200)) {
        let file = AsfFile {
            header: header(64, 2),
            objects: vec![TopLevelObject::Data(data(64, packets, 0x82, None))],
            truncated: None,
        };
        let mut bytes = file.to_bytes();
        bytes.extend_from_slice(&junk);
        let back = AsfFile::parse(&bytes, &Limits::default()).expect("header is intact");
        prop_assert!(back.to_bytes() == bytes);
        prop_assert_eq!(&back.header, &file.header);
    }
}
