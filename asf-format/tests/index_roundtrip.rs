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
