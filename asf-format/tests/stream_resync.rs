//! What real files contain between and around objects: junk and zero fill between objects, a
//! Data Object size that is too small (packets after it) or too large (running into the
//! index), a size that cuts a packet. The streaming reader reports each as a warning or a
//! junk event at its byte offset, delivers every packet, and gives the same events whatever
//! the chunking; the whole-file parser keeps every byte (round trip) and `validate` reports it.

mod stream_support;
mod vectors;

use asf_format::stream::{Event, read_all, read_chunks};
use asf_format::{AsfFile, Limits, validate};
use bytes::Bytes;
use stream_support::*;

const PS: u32 = 500;

fn objs() -> Vec<Obj> {
    (0..10)
        .map(|i| Obj {
            stream: 1,
            number: i as u8,
            pt: 3100 + 40 * i as u32,
            key: i % 4 == 0,
            data: (0..(i * 131 % 900 + 10))
                .map(|b| (b * 7 + i) as u8)
                .collect(),
        })
        .collect()
}

/// Minimal header + Data Object + packets + Simple Index, and where the Data Object starts.
fn file(packets: &[Bytes]) -> (Vec<u8>, usize) {
    let f = build_file(packets, PS, false, true);
    (f, minimal_header(PS, 0, false).len())
}

fn packets_of(events: &[Event]) -> Vec<(u64, Bytes)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Packet { offset, data } => Some((*offset, data.clone())),
            _ => None,
        })
        .collect()
}

fn warnings(events: &[Event]) -> Vec<(u64, &'static str)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { offset, reason } => Some((*offset, *reason)),
            _ => None,
        })
        .collect()
}

/// Every chunking of `input` (a sample of chunk sizes, down to 1 byte) gives `events`.
fn assert_chunking_independent(input: &[u8], events: &[Event]) {
    for size in [1usize, 7, 24, 499, 500, 501, 4096] {
        let chunks: Vec<&[u8]> = input.chunks(size).collect();
        assert_eq!(
            read_chunks(chunks, Limits::default()).as_deref(),
            Ok(events),
            "chunk size {size}"
        );
    }
}

/// The whole-file parser keeps every byte.
fn assert_round_trip(input: &[u8]) -> AsfFile {
    let f = AsfFile::parse(input, &Limits::default()).expect("parses");
    assert_eq!(f.to_bytes(), input);
    f
}

#[test]
fn zero_fill_and_junk_between_objects_are_skipped_and_reported() {
    let packets = packetize(&objs(), PS);
    let (clean, data_at) = file(&packets);
    // 37 zero bytes between the Header and the Data Object, 100 bytes of text before the index.
    let index_at = data_at + 50 + packets.len() * PS as usize;
    let mut f = clean[..data_at].to_vec();
    f.extend_from_slice(&[0; 37]);
    f.extend_from_slice(&clean[data_at..index_at]);
    let junk_at = f.len();
    f.extend_from_slice(&[b'j'; 100]);
    f.extend_from_slice(&clean[index_at..]);

    let events = read_all(&f, Limits::default()).expect("reads");
    let junk = vectors::junk_spans(&events);
    assert_eq!(junk, vec![(data_at as u64, 37), (junk_at as u64, 100)]);
    assert_eq!(packets_of(&events).len(), packets.len());
    assert!(events.iter().any(|e| matches!(e, Event::Index { .. })));
    assert_chunking_independent(&f, &events);

    let parsed = assert_round_trip(&f);
    assert_eq!(
        parsed.packets().filter(Result::is_ok).count(),
        packets.len()
    );
    let found = validate(&parsed);
    assert!(
        found.iter().any(|x| x.offset == data_at as u64),
        "{found:?}"
    );
}

#[test]
fn packets_after_a_data_object_that_is_too_small_are_delivered() {
    let packets = packetize(&objs(), PS);
    assert!(packets.len() >= 4);
    let (mut f, data_at) = file(&packets);
    // The size field covers only the first two packets.
    let short = 50 + 2 * u64::from(PS);
    f[data_at + 16..data_at + 24].copy_from_slice(&short.to_le_bytes());
    let events = read_all(&f, Limits::default()).expect("reads");
    let got = packets_of(&events);
    assert_eq!(got.len(), packets.len(), "no packet lost");
    for (i, (offset, data)) in got.iter().enumerate() {
        assert_eq!(*offset, (data_at + 50 + i * PS as usize) as u64);
        assert_eq!(data, &packets[i]);
    }
    let third = (data_at + 50 + 2 * PS as usize) as u64;
    assert_eq!(
        warnings(&events),
        vec![(
            third,
            "data packets after the end of the Data Object (its size is too small)"
        )]
    );
    assert!(events.iter().any(|e| matches!(e, Event::Index { .. })));
    assert_chunking_independent(&f, &events);
    // The whole-file model keeps them (as bytes after the Data Object) and validate names them.
    let parsed = assert_round_trip(&f);
    let stray = packets.len() - 2;
    assert!(
        validate(&parsed).iter().any(|x| x.offset == third
            && x.message
                == format!(
                    "{stray} data packets after the end of the Data Object (its size is too small)"
                )),
        "{:?}",
        validate(&parsed)
    );
}

#[test]
fn a_data_object_size_that_cuts_a_packet_reads_the_whole_packet() {
    let packets = packetize(&objs(), PS);
    let (mut f, data_at) = file(&packets);
    let cut = 50 + 3 * u64::from(PS) + 123;
    f[data_at + 16..data_at + 24].copy_from_slice(&cut.to_le_bytes());
    let events = read_all(&f, Limits::default()).expect("reads");
    assert_eq!(packets_of(&events).len(), packets.len());
    let w = warnings(&events);
    let fourth = (data_at + 50 + 3 * PS as usize) as u64;
    assert_eq!(
        w[0],
        (
            fourth,
            "Data Object size is not 50 + a whole number of packets"
        )
    );
    assert_eq!(w[1].0, fourth);
    assert_chunking_independent(&f, &events);
    assert_round_trip(&f);
}

#[test]
fn a_data_object_size_that_runs_into_the_index_stops_at_the_index() {
    let packets = packetize(&objs(), PS);
    let (mut f, data_at) = file(&packets);
    let long = 50 + (packets.len() as u64 + 5) * u64::from(PS);
    f[data_at + 16..data_at + 24].copy_from_slice(&long.to_le_bytes());
    let events = read_all(&f, Limits::default()).expect("reads");
    assert_eq!(packets_of(&events).len(), packets.len());
    let index_at = (data_at + 50 + packets.len() * PS as usize) as u64;
    assert_eq!(
        warnings(&events),
        vec![(
            index_at,
            "Data Object size runs past its packets into the next object"
        )]
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Index { offset, .. } if *offset == index_at))
    );
    assert_chunking_independent(&f, &events);
    // The whole-file model keeps the declared size, ends the Data Object at the index too,
    // and validate says so.
    let parsed = assert_round_trip(&f);
    assert!(parsed.truncated.is_none());
    assert!(parsed.index_objects().next().is_some());
    assert_eq!(
        parsed.packets().filter(Result::is_ok).count(),
        packets.len()
    );
    assert!(
        validate(&parsed)
            .iter()
            .any(|x| x.offset == data_at as u64 + 16 && x.message.contains("runs past its packets")),
        "{:?}",
        validate(&parsed)
    );
}

#[test]
fn long_junk_comes_in_bounded_events_and_nothing_is_lost() {
    use asf_format::stream::MAX_JUNK_CHUNK;
    let packets = packetize(&objs(), PS);
    let (clean, data_at) = file(&packets);
    let mut f = clean[..data_at].to_vec();
    let junk_len = 2 * MAX_JUNK_CHUNK + 1000;
    f.extend((0..junk_len).map(|i| (i % 251) as u8 | 1));
    f.extend_from_slice(&clean[data_at..]);
    let events = read_all(&f, Limits::default()).expect("reads");
    let junk: Vec<usize> = vectors::junk_spans(&events).iter().map(|j| j.1).collect();
    assert_eq!(junk, vec![MAX_JUNK_CHUNK, MAX_JUNK_CHUNK, 1000]);
    assert_eq!(packets_of(&events).len(), packets.len());
    for size in [4096usize, 65_551] {
        let chunks: Vec<&[u8]> = f.chunks(size).collect();
        assert_eq!(
            read_chunks(chunks, Limits::default()).as_deref(),
            Ok(&events[..])
        );
    }
    assert_round_trip(&f);
}

/// Junk whose size field happens to be plausible (here 2000, past the Data Object's start) is
/// not taken for an object: both readers resync at the Data Object GUID inside it.
#[test]
fn junk_with_a_plausible_size_still_resyncs_at_the_data_object() {
    let packets = packetize(&objs(), PS);
    let (clean, data_at) = file(&packets);
    let mut f = clean[..data_at].to_vec();
    f.extend_from_slice(&[0x5A; 16]);
    f.extend_from_slice(&2000u64.to_le_bytes());
    f.extend_from_slice(&[0x5A; 60]);
    f.extend_from_slice(&clean[data_at..]);
    let events = read_all(&f, Limits::default()).expect("reads");
    assert!(events.iter().any(
        |e| matches!(e, Event::Junk { offset, data, .. } if *offset == data_at as u64 && data.len() == 84)
    ));
    assert_eq!(packets_of(&events).len(), packets.len());
    assert_chunking_independent(&f, &events);
    let parsed = assert_round_trip(&f);
    assert_eq!(
        parsed.packets().filter(Result::is_ok).count(),
        packets.len()
    );
}

mod random_junk {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Arbitrary bytes inserted at any top-level boundary (after the header, after the
        /// packets, after the index) come back as junk at that offset with that length (or,
        /// when they happen to start with a plausible object, as that object), every packet is
        /// delivered, chunking does not matter, and the whole-file parser round trips.
        #[test]
        fn junk_anywhere_between_objects_is_skipped(
            junk in proptest::collection::vec(any::<u8>(), 1..600),
            at in 0usize..3,
            chunk in 1usize..700,
        ) {
            let packets = packetize(&objs(), PS);
            let (clean, data_at) = file(&packets);
            let index_at = data_at + 50 + packets.len() * PS as usize;
            let cut = [data_at, index_at, clean.len()][at];
            let mut f = clean[..cut].to_vec();
            f.extend_from_slice(&junk);
            f.extend_from_slice(&clean[cut..]);
            let events = read_all(&f, Limits::default()).expect("reads");
            // Every packet comes, at its offset (junk that happens to look like one more packet
            // of this file would come too, with a warning).
            let got = packets_of(&events);
            for (i, p) in packets.iter().enumerate() {
                let at = (data_at + 50 + i * PS as usize + if at == 0 { junk.len() } else { 0 }) as u64;
                prop_assert!(got.contains(&(at, p.clone())), "packet {} missing", i);
            }
            let spans = vectors::junk_spans(&events);
            let skipped: usize = spans.iter().map(|s| s.1).sum();
            let other = events
                .iter()
                .any(|e| matches!(e, Event::Other { .. } | Event::Warning { .. }));
            prop_assert!(other || (spans.first().map(|s| s.0) == Some(cut as u64) && skipped == junk.len()),
                "{spans:?}");
            let chunks: Vec<&[u8]> = f.chunks(chunk).collect();
            let chunked = read_chunks(chunks, Limits::default());
            prop_assert_eq!(chunked.as_ref(), Ok(&events));
            let parsed = AsfFile::parse(&f, &Limits::default()).expect("parses");
            prop_assert_eq!(parsed.to_bytes(), f);
        }
    }
}
