//! Index objects: parse/serialize round trips, exact encoded_len, located errors, limits.

use asf_format::index::{
    Index, IndexBlock, IndexObject, IndexSpecifier, IndexType, MediaObjectIndex, SimpleIndex,
    SimpleIndexEntry, TimecodeIndex, TimecodeIndexBlock,
};
use asf_format::object::AsfObject;
use asf_format::{Error, Guid, Limits};
use proptest::prelude::*;

fn specs() -> impl Strategy<Value = Vec<IndexSpecifier>> {
    proptest::collection::vec(
        (1u16..128, 1u16..4).prop_map(|(s, t)| IndexSpecifier {
            stream_number: s,
            index_type: IndexType(t),
        }),
        0..4,
    )
}

fn blocks(ns: usize) -> impl Strategy<Value = Vec<IndexBlock>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(any::<u64>(), ns),
            0u32..20,
            any::<u32>(),
        )
            .prop_map(move |(positions, n, seed)| IndexBlock {
                entry_count: n,
                block_positions: positions,
                offsets: (0..n as usize * ns)
                    .map(|i| seed.wrapping_mul(i as u32 + 1))
                    .collect(),
            }),
        0..4,
    )
}

fn round_trip<T: AsfObject + PartialEq + std::fmt::Debug>(o: &T) -> Result<(), TestCaseError> {
    let b = o.to_bytes();
    prop_assert_eq!(b.len() as u64, o.encoded_len());
    let (back, used) = T::parse(&b, 0, &Limits::default()).expect("parses");
    prop_assert_eq!(used, b.len());
    prop_assert_eq!(&back, o);
    let (any, _) = IndexObject::parse(&b, 0, &Limits::default())
        .expect("ok")
        .expect("an index");
    prop_assert_eq!(any.encoded_len(), o.encoded_len());
    Ok(())
}

proptest! {
    #[test]
    fn simple_index(entries in proptest::collection::vec((any::<u32>(), any::<u16>()), 0..200), interval in any::<u64>()) {
        let mut s = SimpleIndex {
            file_id: Guid([3; 16]),
            entry_time_interval: interval,
            max_packet_count: 0,
            entries: entries.into_iter().map(|(n, c)| SimpleIndexEntry { packet_number: n, packet_count: c }).collect(),
        };
        s.fix();
        prop_assert_eq!(s.max_packet_count, s.entries.iter().map(|e| u32::from(e.packet_count)).max().unwrap_or(0));
        round_trip(&s)?;
    }

    #[test]
    fn index_and_media_object_index(
        (specifiers, blocks) in specs().prop_flat_map(|s| { let n = s.len(); (Just(s), blocks(n)) }),
        interval in any::<u32>(),
    ) {
        let i = Index { entry_time_interval: interval, specifiers: specifiers.clone(), blocks: blocks.clone() };
        prop_assert!(i.check().is_ok());
        round_trip(&i)?;
        let m = MediaObjectIndex { entry_count_interval: interval, specifiers, blocks };
        round_trip(&m)?;
    }

    #[test]
    fn timecode_index(specifiers in specs(), nblocks in 0usize..4, entries in 0usize..10, reserved in any::<u32>()) {
        let ns = specifiers.len();
        let t = TimecodeIndex {
            reserved,
            blocks: (0..nblocks).map(|b| TimecodeIndexBlock {
                timecode_range: b as u16,
                block_positions: vec![b as u64 * 1000; ns],
                timecodes: (0..entries as u32).collect(),
                offsets: (0..(entries * ns) as u32).collect(),
            }).collect(),
            specifiers,
        };
        prop_assert!(t.check().is_ok());
        round_trip(&t)?;
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200), which in 0usize..4) {
        let guid = [SimpleIndex::GUID, Index::GUID, MediaObjectIndex::GUID, TimecodeIndex::GUID][which];
        let mut b = guid.as_bytes().to_vec();
        b.extend_from_slice(&(24 + body.len() as u64).to_le_bytes());
        b.extend_from_slice(&body);
        if let Ok(Some((o, used))) = IndexObject::parse(&b, 0, &Limits::default()) {
            let mut out = Vec::new();
            o.write(&mut out);
            prop_assert_eq!(&out[..], &b[..used]);
        }
    }
}

#[test]
fn lookups_and_positions() {
    let s = SimpleIndex {
        file_id: Guid::ZERO,
        entry_time_interval: 10_000_000,
        max_packet_count: 1,
        entries: vec![
            SimpleIndexEntry {
                packet_number: 0,
                packet_count: 1,
            },
            SimpleIndexEntry {
                packet_number: 7,
                packet_count: 2,
            },
        ],
    };
    assert_eq!(s.lookup(15_000_000).map(|e| e.packet_number), Some(7));
    assert_eq!(
        s.lookup(99_000_000).map(|e| e.packet_number),
        Some(7),
        "clamped to the last"
    );
    let b = IndexBlock {
        entry_count: 2,
        block_positions: vec![1 << 33, 0],
        offsets: vec![5, 6, u32::MAX, 8],
    };
    assert_eq!(
        b.position(0, 0),
        Some((1 << 33) + 5),
        "64-bit block positions"
    );
    assert_eq!(b.position(1, 0), None, "0xFFFFFFFF is an invalid entry");
    assert_eq!(b.position(1, 1), Some(8));
    assert_eq!(b.position(0, 2), None);
}

#[test]
fn located_errors_and_limits() {
    let s = SimpleIndex {
        file_id: Guid::ZERO,
        entry_time_interval: 1,
        max_packet_count: 0,
        entries: vec![SimpleIndexEntry::default(); 10],
    };
    let mut b = s.to_bytes();
    // Entry count larger than the object: an error at the entries, not an allocation.
    b[52..56].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = SimpleIndex::parse(&b, 1000, &Limits::default()).unwrap_err();
    assert!(
        matches!(e, Error::LimitExceeded { .. } | Error::Truncated { .. }),
        "{e}"
    );
    assert!(e.offset().is_some_and(|o| o >= 1000 + 56));
    let mut limits = Limits::default();
    limits.max_entries = 5;
    let e = SimpleIndex::parse(&s.to_bytes(), 0, &limits).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LimitExceeded {
                value: 10,
                limit: 5,
                ..
            }
        ),
        "{e}"
    );
    // Trailing bytes inside the object are rejected.
    let mut t = s.to_bytes();
    t.push(0);
    let size = t.len() as u64;
    t[16..24].copy_from_slice(&size.to_le_bytes());
    assert!(matches!(
        SimpleIndex::parse(&t, 0, &Limits::default()),
        Err(Error::Malformed { .. })
    ));
    // An inconsistent model is reported by check().
    let bad = Index {
        entry_time_interval: 1,
        specifiers: vec![IndexSpecifier::default()],
        blocks: vec![IndexBlock {
            entry_count: 3,
            block_positions: vec![0],
            offsets: vec![1],
        }],
    };
    assert!(bad.check().is_err());
    let mut fixed = bad.clone();
    fixed.fix();
    assert_eq!(fixed.blocks[0].entry_count, 1);
    assert!(fixed.check().is_ok());
}

/// ASF 6.4 Timecode Index Object, bytes written field by field from the specification's
/// field table (not through the crate's writer):
///
/// | Field | Type |
/// |---|---|
/// | Object ID | GUID `3CB73FD0-0C4A-4803-953D-EDF7B6228F0C` |
/// | Object Size | QWORD |
/// | Reserved | DWORD |
/// | Index Specifiers Count | WORD |
/// | Index Blocks Count | DWORD |
/// | Index Specifiers | WORD Stream Number, WORD Index Type (2 or 3), each |
/// | Index Blocks | DWORD Index Entry Count, WORD Timecode Range, QWORD Block Position per specifier, then the entries: DWORD Timecode, DWORD Offset per specifier |
#[test]
fn timecode_index_matches_the_specification_field_table() {
    let mut body = Vec::new();
    body.extend_from_slice(&0u32.to_le_bytes()); // Reserved
    body.extend_from_slice(&2u16.to_le_bytes()); // Index Specifiers Count
    body.extend_from_slice(&2u32.to_le_bytes()); // Index Blocks Count
    for (stream, kind) in [(1u16, 3u16), (2, 2)] {
        body.extend_from_slice(&stream.to_le_bytes());
        body.extend_from_slice(&kind.to_le_bytes());
    }
    // Block 0: two entries, timecode range 0, both specifiers from the first data packet.
    body.extend_from_slice(&2u32.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&0u64.to_le_bytes());
    for (timecode, offsets) in [
        (0x0100_0000u32, [0u32, 3200]),
        (0x0100_0100, [6400, u32::MAX]),
    ] {
        body.extend_from_slice(&timecode.to_le_bytes());
        for o in offsets {
            body.extend_from_slice(&o.to_le_bytes());
        }
    }
    // Block 1 (past 4 GiB): one entry, timecode range 1.
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&(1u64 << 32).to_le_bytes());
    body.extend_from_slice(&((1u64 << 32) + 3200).to_le_bytes());
    body.extend_from_slice(&0x0200_0000u32.to_le_bytes());
    body.extend_from_slice(&96u32.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    let mut bytes = Vec::new();
    bytes.extend_from_slice(
        &[
            0xD0, 0x3F, 0xB7, 0x3C, 0x4A, 0x0C, 0x03, 0x48, 0x95, 0x3D, 0xED, 0xF7, 0xB6, 0x22,
            0x8F, 0x0C,
        ], // 3CB73FD0-0C4A-4803-953D-EDF7B6228F0C in on-disk order
    );
    bytes.extend_from_slice(&(24 + body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&body);
    // 24 + 10 + 2*4 + (6 + 2*8 + 2*(4 + 2*4)) + (6 + 2*8 + (4 + 2*4))
    assert_eq!(bytes.len(), 24 + 10 + 8 + 46 + 34);

    let (t, used) = TimecodeIndex::parse(&bytes, 1000, &Limits::default()).expect("parses");
    assert_eq!(used, bytes.len());
    assert_eq!(t.reserved, 0);
    assert_eq!(
        t.specifiers,
        vec![
            IndexSpecifier {
                stream_number: 1,
                index_type: IndexType::NEAREST_PAST_CLEANPOINT
            },
            IndexSpecifier {
                stream_number: 2,
                index_type: IndexType(2)
            },
        ]
    );
    assert_eq!(
        t.blocks,
        vec![
            TimecodeIndexBlock {
                timecode_range: 0,
                block_positions: vec![0, 0],
                timecodes: vec![0x0100_0000, 0x0100_0100],
                offsets: vec![0, 3200, 6400, u32::MAX],
            },
            TimecodeIndexBlock {
                timecode_range: 1,
                block_positions: vec![1 << 32, (1 << 32) + 3200],
                timecodes: vec![0x0200_0000],
                offsets: vec![96, 0],
            },
        ]
    );
    t.check().expect("consistent");
    assert_eq!(t.encoded_len(), bytes.len() as u64);
    assert_eq!(t.to_bytes(), bytes, "the writer follows the same table");
    // The top-level dispatch recognises it too.
    let (any, _) = IndexObject::parse(&bytes, 0, &Limits::default())
        .expect("parses")
        .expect("an index object");
    assert_eq!(any, IndexObject::Timecode(t));
    // One byte short of the last offset: a located error, not a panic.
    let mut short = bytes.clone();
    short.truncate(bytes.len() - 1);
    short[16..24].copy_from_slice(&(bytes.len() as u64 - 1).to_le_bytes());
    let e = TimecodeIndex::parse(&short, 1000, &Limits::default()).expect_err("short");
    assert!(e.offset().is_some_and(|o| o >= 1000), "{e}");
}

/// `validate` holds a Timecode Index to ASF 6.4 / 4.11: index types 2 or 3, non-decreasing
/// Timecode Range, specifiers equal to the Timecode Index Parameters Object's.
#[test]
fn validate_checks_timecode_index_rules() {
    use asf_format::file::{DataSection, TopLevelObject};
    use asf_format::objects::{HeaderExtension, HeaderObject, TimecodeIndexParameters};
    use asf_format::{AsfFile, Header, validate};
    let block = |range: u16| TimecodeIndexBlock {
        timecode_range: range,
        block_positions: vec![0],
        timecodes: vec![0],
        offsets: vec![0],
    };
    let index = TimecodeIndex {
        reserved: 0,
        specifiers: vec![IndexSpecifier {
            stream_number: 1,
            index_type: IndexType(1),
        }],
        blocks: vec![block(5), block(4)],
    };
    let params = TimecodeIndexParameters {
        interval: 1,
        specifiers: vec![asf_format::objects::IndexSpecifier {
            stream_number: 1,
            index_type: 3,
        }],
        trailing: Vec::new(),
    };
    let mut ext = HeaderExtension::default();
    ext.objects
        .push(HeaderObject::TimecodeIndexParameters(params));
    let file = AsfFile {
        header: Header {
            objects: vec![HeaderObject::HeaderExtension(ext)],
            ..Default::default()
        },
        objects: vec![
            TopLevelObject::Data(DataSection {
                size_field: 50,
                body: bytes::Bytes::from_static(&[0; 26]),
            }),
            TopLevelObject::Index(IndexObject::Timecode(index)),
        ],
        truncated: None,
    };
    let found: Vec<String> = validate(&file)
        .iter()
        .filter(|f| f.object == "Timecode Index Object")
        .map(|f| f.message.clone())
        .collect();
    assert!(
        found.iter().any(|m| m.contains("index type 1")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|m| m.contains("Timecode Range")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|m| m.contains("specifiers differ")),
        "{found:?}"
    );
}
