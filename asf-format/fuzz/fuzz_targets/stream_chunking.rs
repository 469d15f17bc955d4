//! Split the input at fuzzer-chosen points: the streaming reader's events (or its error) must
//! be identical to the one-shot read.
#![no_main]

use asf_format::Limits;
use asf_format::stream::{Event, StreamReader, read_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: number of cut points (0..16); then 2 bytes per cut; the rest is the input.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 16);
    if rest.len() < 2 * n {
        return;
    }
    let (cut_bytes, input) = rest.split_at(2 * n);
    let mut cuts: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (input.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    let mut limits = Limits::default();
    limits.max_object_size = 1 << 20;
    limits.max_header_size = 1 << 20;
    let whole = read_all(input, limits);

    let mut r = StreamReader::new(limits);
    let mut events = Vec::new();
    let mut pos = 0;
    let chunked = (|| {
        for c in cuts {
            r.feed(&input[pos..c]);
            pos = c;
            while let Some(e) = r.poll_event()? {
                events.push(e);
            }
        }
        r.finish();
        while let Some(e) = r.poll_event()? {
            let end = e == Event::End;
            events.push(e);
            if end {
                break;
            }
        }
        Ok(events)
    })();
    assert_eq!(chunked, whole);
});
