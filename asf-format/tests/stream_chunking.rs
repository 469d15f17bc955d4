//! The streaming reader gives identical events whatever the chunking of the input.

mod stream_support;

use asf_format::Limits;
use asf_format::stream::{Event, StreamReader, read_all};
use bytes::Bytes;
use proptest::prelude::*;
use stream_support::*;

fn objs(n: usize) -> Vec<Obj> {
    (0..n)
        .map(|i| Obj {
            stream: 1 + (i % 2) as u8,
            number: i as u8,
            pt: 3100 + 40 * i as u32,
            key: i % 5 == 0,
            data: (0..(i * 97 % 1500 + 1)).map(|b| (b ^ i) as u8).collect(),
        })
        .collect()
}

fn chunked(input: &[u8], cuts: &[usize]) -> Result<Vec<Event>, asf_format::Error> {
    chunked_with(input, cuts, None)
}

/// As `chunked`, taking packets through the fast path (`poll_packets`, stopping after every
/// `stop_every` packets) wherever it gives them: the events must be the same.
fn chunked_fast(
    input: &[u8],
    cuts: &[usize],
    stop_every: usize,
) -> Result<Vec<Event>, asf_format::Error> {
    chunked_with(input, cuts, Some(stop_every))
}

/// Reads `input` cut at `cuts` (fed or pushed, alternately), every event up to `End`; with
/// `fast`, packets come through `poll_packets` where it gives them.
fn chunked_with(
    input: &[u8],
    cuts: &[usize],
    fast: Option<usize>,
) -> Result<Vec<Event>, asf_format::Error> {
    let mut r = StreamReader::new(Limits::default());
    let mut out = Vec::new();
    let mut pos = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    let drain = |r: &mut StreamReader, out: &mut Vec<Event>| -> Result<(), asf_format::Error> {
        loop {
            if let Some(stop_every) = fast {
                let mut k = 0;
                let n = r.poll_packets(usize::MAX, |offset, chunk, packet| {
                    // The packet is a slice of the chunk it is handed with.
                    let at = packet.as_ptr() as usize - chunk.as_ptr() as usize;
                    assert!(at + packet.len() <= chunk.len());
                    out.push(Event::Packet {
                        offset,
                        data: chunk.slice(at..at + packet.len()),
                    });
                    k += 1;
                    k % stop_every != 0
                });
                assert_eq!(n, k);
                if n > 0 {
                    continue;
                }
            }
            match r.poll_event()? {
                Some(e) => {
                    let end = e == Event::End;
                    out.push(e);
                    if end {
                        return Ok(());
                    }
                }
                None => return Ok(()),
            }
        }
    };
    for c in cuts {
        if c < pos {
            continue;
        }
        if c % 2 == 0 {
            r.feed(&input[pos..c]);
        } else {
            r.push(Bytes::copy_from_slice(&input[pos..c]));
        }
        pos = c;
        drain(&mut r, &mut out)?;
    }
    r.finish();
    drain(&mut r, &mut out)?;
    Ok(out)
}

/// A file pushed as one chunk: every packet comes through the fast path, as a slice of the
/// chunk (no copy), and `poll_event` then gives what follows the packets.
#[test]
fn a_pushed_file_gives_every_packet_on_the_fast_path() {
    for broadcast in [false, true] {
        let packets = packetize(&objs(20), 600);
        let file = Bytes::from(build_file(&packets, 600, broadcast, true));
        let mut r = StreamReader::new(Limits::default());
        r.push(file.clone());
        r.finish();
        assert!(matches!(r.poll_event(), Ok(Some(Event::Header { .. }))));
        assert!(matches!(
            r.poll_event(),
            Ok(Some(Event::DataObjectStart { .. }))
        ));
        let mut given = Vec::new();
        let n = r.poll_packets(usize::MAX, |offset, chunk, packet| {
            // What is left of the pushed chunk: the same memory, not a copy.
            let (lo, hi) = (file.as_ptr() as usize, file.as_ptr() as usize + file.len());
            let at = chunk.as_ptr() as usize;
            assert!(
                at >= lo && at + chunk.len() <= hi,
                "a slice of the pushed chunk"
            );
            assert!(packet.as_ptr() as usize >= at);
            given.push((offset, packet.to_vec()));
            true
        });
        assert_eq!(n, packets.len());
        for ((offset, got), want) in given.iter().zip(&packets) {
            assert_eq!(&got[..], &want[..]);
            assert_eq!(&file[*offset as usize..*offset as usize + 600], &want[..]);
        }
        assert_eq!(
            r.poll_packets(usize::MAX, |_, _, _| true),
            0,
            "no packet left"
        );
        assert!(matches!(r.poll_event(), Ok(Some(Event::Index { .. }))));
    }
}

#[test]
fn one_byte_at_a_time_bounded_and_broadcast() {
    for (broadcast, index) in [(false, true), (true, true), (true, false), (false, false)] {
        let packets = packetize(&objs(40), 1000);
        let mut file = build_file(&packets, 1000, broadcast, index);
        if broadcast && index {
            // FFmpeg's `$E` trailer after the index (asf-format.md §3).
            file.extend_from_slice(&[0x24, 0x45, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0]);
        }
        let whole = read_all(&file, Limits::default()).expect("one shot");
        let n_packets = whole
            .iter()
            .filter(|e| matches!(e, Event::Packet { .. }))
            .count();
        assert_eq!(n_packets, packets.len());
        assert_eq!(
            whole
                .iter()
                .filter(|e| matches!(e, Event::Index { .. }))
                .count(),
            index as usize
        );
        let cuts: Vec<usize> = (0..file.len()).collect();
        assert_eq!(chunked(&file, &cuts).expect("bytewise"), whole);
    }
}

#[test]
fn buffers_at_most_one_packet_in_the_data() {
    let packets = packetize(&objs(20), 700);
    let file = build_file(&packets, 700, true, false);
    let mut r = StreamReader::new(Limits::default());
    let mut max = 0;
    let mut past_header = false;
    for b in &file {
        r.feed(std::slice::from_ref(b));
        while let Some(e) = r.poll_event().expect("valid") {
            past_header |= matches!(e, Event::DataObjectStart { .. });
        }
        if past_header {
            max = max.max(r.buffered());
        }
    }
    assert!(max < 700, "buffered {max} bytes");
}

#[test]
fn errors_are_sticky_and_located() {
    let packets = packetize(&objs(5), 800);
    let mut file = build_file(&packets, 800, false, false);
    file.truncate(file.len() - 10);
    let e = read_all(&file, Limits::default()).unwrap_err();
    assert!(matches!(e, asf_format::Error::Truncated { .. }), "{e}");
    // Not a header first.
    let e = read_all(&file[1..], Limits::default()).unwrap_err();
    assert_eq!(e.offset(), Some(0));
    // A header bigger than the limit is refused before it is buffered.
    let mut limits = Limits::default();
    limits.max_header_size = 64;
    let mut r = StreamReader::new(limits);
    r.feed(&file[..24]);
    let e = r.poll_event().unwrap_err();
    assert!(matches!(
        e,
        asf_format::Error::LimitExceeded { offset: 16, .. }
    ));
    assert_eq!(r.poll_event().unwrap_err(), e);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_chunkings_give_identical_events(
        n in 1usize..30,
        ps in 200u32..1500,
        broadcast in any::<bool>(),
        index in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let packets = packetize(&objs(n), ps);
        let file = build_file(&packets, ps, broadcast, index);
        let whole = read_all(&file, Limits::default()).expect("one shot");
        prop_assert_eq!(chunked(&file, &cuts).expect("chunked"), whole);
    }

    /// The packet fast path (`poll_packets`) gives exactly the packets `poll_event` gives,
    /// with the same offsets, whatever the chunking and wherever the consumer stops it.
    #[test]
    fn the_packet_fast_path_gives_identical_events(
        n in 1usize..30,
        ps in 120u32..1500,
        broadcast in any::<bool>(),
        index in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        stop_every in 1usize..5,
    ) {
        let packets = packetize(&objs(n), ps);
        let file = build_file(&packets, ps, broadcast, index);
        let whole = read_all(&file, Limits::default()).expect("one shot");
        prop_assert_eq!(chunked_fast(&file, &cuts, stop_every).expect("fast path"), whole);
    }

    #[test]
    fn arbitrary_bytes_agree_on_the_packet_fast_path(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
        stop_every in 1usize..3,
    ) {
        let mut file = minimal_header(64, 0, true);
        file.extend_from_slice(&data);
        let whole = read_all(&file, Limits::default());
        prop_assert_eq!(chunked_fast(&file, &cuts, stop_every), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_chunking_agrees(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        // Put a valid header in front so the reader gets past the first object.
        let mut file = minimal_header(64, 0, true);
        file.extend_from_slice(&data);
        let whole = read_all(&file, Limits::default());
        prop_assert_eq!(chunked(&file, &cuts), whole);
    }
}

#[test]
fn data_object_of_size_zero_is_unbounded_too() {
    let packets = packetize(&objs(12), 600);
    let mut file = build_file(&packets, 600, true, true);
    // ASF 3.2: Object Size may be 0 when broadcasting. Patch the Data Object's size field.
    let data_at = 30 + 104;
    file[data_at + 16..data_at + 24].copy_from_slice(&0u64.to_le_bytes());
    let events = read_all(&file, Limits::default()).expect("reads");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Packet { .. }))
            .count(),
        packets.len()
    );
    assert!(matches!(events[events.len() - 2], Event::Index { .. }));
    let cuts: Vec<usize> = (0..file.len()).step_by(7).collect();
    assert_eq!(chunked(&file, &cuts).expect("chunked"), events);
}

#[test]
fn objects_after_the_data_are_index_or_other_events() {
    use asf_format::index::{IndexBlock, IndexObject, IndexSpecifier, IndexType, MediaObjectIndex};
    use asf_format::object::AsfObject;
    let packets = packetize(&objs(6), 500);
    let mut file = build_file(&packets, 500, false, false);
    // An unknown top-level object (kept raw) and a Media Object Index.
    let unknown = asf_format::Guid([0xAB; 16]);
    file.extend_from_slice(unknown.as_bytes());
    file.extend_from_slice(&27u64.to_le_bytes());
    file.extend_from_slice(b"xyz");
    let moi = MediaObjectIndex {
        entry_count_interval: 1,
        specifiers: vec![IndexSpecifier {
            stream_number: 1,
            index_type: IndexType::NEAREST_PAST_CLEANPOINT,
        }],
        blocks: vec![IndexBlock {
            entry_count: 2,
            block_positions: vec![0],
            offsets: vec![0, 500],
        }],
    };
    moi.write(&mut file);
    let events = read_all(&file, Limits::default()).expect("reads");
    let tail: Vec<_> = events.iter().rev().take(3).collect();
    assert_eq!(tail[0], &Event::End);
    assert_eq!(
        tail[1],
        &Event::Index {
            offset: (file.len() - moi.to_bytes().len()) as u64,
            index: IndexObject::MediaObject(moi.clone())
        }
    );
    assert!(
        matches!(tail[2], Event::Other { guid, raw, .. } if *guid == unknown && raw.len() == 27)
    );
    // A broken index object is an error located inside it.
    let at = file.len() - moi.to_bytes().len();
    let mut bad = file.clone();
    bad[at + 24 + 6..at + 24 + 10].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = read_all(&bad, Limits::default()).unwrap_err();
    assert!(e.offset().is_some_and(|o| o > at as u64), "{e}");
}

/// Chunks pushed ahead of polling are queued and give the same events; packets that lie inside
/// one pushed chunk are slices of it (not copied), only packets straddling two chunks are
/// copied.
#[test]
fn pushed_chunks_are_read_without_copying() {
    let packets = packetize(&objs(60), 1000);
    let file = build_file(&packets, 1000, false, true);
    let whole = read_all(&file, Limits::default()).expect("one shot");
    // Chunks of three kinds, all read in place: uniquely owned, shared with another handle (a
    // clone kept here), and backed by an owner that is not a `Vec` (as a memory map is).
    struct Owner(Vec<u8>);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    let chunks: Vec<Bytes> = file
        .chunks(4096 + 333)
        .enumerate()
        .map(|(i, c)| match i % 3 {
            0 => Bytes::copy_from_slice(c),
            1 => Bytes::from(c.to_vec()),
            _ => Bytes::from_owner(Owner(c.to_vec())),
        })
        .collect();
    let ranges: Vec<(usize, usize)> = chunks
        .iter()
        .map(|c| (c.as_ptr() as usize, c.as_ptr() as usize + c.len()))
        .collect();
    let n_chunks = chunks.len();
    let mut r = StreamReader::new(Limits::default());
    let kept: Vec<Bytes> = chunks
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 1)
        .map(|(_, c)| c.clone())
        .collect();
    for c in chunks {
        r.push(c);
    }
    assert_eq!(r.buffered(), file.len());
    r.finish();
    let mut events = Vec::new();
    while let Some(e) = r.poll_event().expect("reads") {
        let end = e == Event::End;
        events.push(e);
        if end {
            break;
        }
    }
    assert_eq!(events, whole);
    // Which packets are slices of a pushed chunk: compare addresses.
    let inside = |data: &Bytes| {
        let p = data.as_ptr() as usize;
        ranges
            .iter()
            .any(|&(lo, hi)| p >= lo && p + data.len() <= hi)
    };
    let (mut shared, mut copied) = (0, 0);
    for e in &events {
        if let Event::Packet { data, .. } = e {
            if inside(data) {
                shared += 1;
            } else {
                copied += 1;
            }
        }
    }
    // A packet of 1000 bytes straddles a boundary of 4429-byte chunks at most once per chunk.
    assert!(copied <= n_chunks, "{copied} copied, {shared} shared");
    assert!(shared > copied, "{copied} copied, {shared} shared");
    drop(kept);
}
