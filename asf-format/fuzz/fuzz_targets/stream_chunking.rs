//! Split the input at fuzzer-chosen points: the streaming reader's events (or its error) must
//! be identical to the one-shot read, whether the chunks are fed (copied) and read event by
//! event, or pushed as `Bytes` and their packets taken through the fast path (`poll_packets`,
//! stopped every 1-4 packets by the consumer).
#![no_main]

use asf_format::Limits;
use asf_format::stream::{Event, StreamReader, read_all};
use libfuzzer_sys::fuzz_target;

/// A minimal Header Object (File Properties only) with the given packet size, so the fuzzer
/// spends its time on the Data Object, packets and index objects.
fn header(packet_size: u32, broadcast: bool) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(asf_format::guids::HEADER.as_bytes());
    h.extend_from_slice(&134u64.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&[1, 2]);
    h.extend_from_slice(asf_format::guids::FILE_PROPERTIES.as_bytes());
    h.extend_from_slice(&104u64.to_le_bytes());
    h.extend_from_slice(&[0; 48]);
    h.extend_from_slice(&3100u64.to_le_bytes());
    h.extend_from_slice(&(if broadcast { 1u32 } else { 2 }).to_le_bytes());
    h.extend_from_slice(&packet_size.to_le_bytes());
    h.extend_from_slice(&packet_size.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h
}

fuzz_target!(|data: &[u8]| {
    // Byte 0: number of cut points (bits 0-3) and a prefix mode (bits 4-5: none, header,
    // header + broadcast Data Object header); byte 1: packet size for the prefix; then 2 bytes
    // per cut; the rest is the input.
    let [n, ps, rest @ ..] = data else {
        return;
    };
    let mode = (n >> 4) & 3;
    let n = usize::from(n % 16);
    if rest.len() < 2 * n {
        return;
    }
    let (cut_bytes, body) = rest.split_at(2 * n);
    let mut owned = Vec::new();
    if mode >= 1 {
        owned = header(u32::from(*ps) + 1, mode >= 2);
    }
    if mode >= 2 {
        asf_format::data::DataObjectHeader::broadcast(asf_format::Guid::ZERO).write_to(&mut owned);
    }
    owned.extend_from_slice(body);
    let input = &owned[..];
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

    assert_eq!(read_cut(input, &cuts, limits, None), whole);
    let stop_every = 1 + usize::from(*ps >> 6);
    assert_eq!(read_cut(input, &cuts, limits, Some(stop_every)), whole);
});

/// Reads `input` cut at `cuts`: fed and read event by event, or (`fast`) pushed, with packets
/// taken through `poll_packets` where it gives them.
fn read_cut(
    input: &[u8],
    cuts: &[usize],
    limits: Limits,
    fast: Option<usize>,
) -> asf_format::Result<Vec<Event>> {
    let mut r = StreamReader::new(limits);
    let mut events = Vec::new();
    let mut pos = 0;
    let mut drain = |r: &mut StreamReader| -> asf_format::Result<()> {
        loop {
            if let Some(stop_every) = fast {
                let mut k = 0;
                let n = r.poll_packets(usize::MAX, |offset, chunk, packet| {
                    let at = packet.as_ptr() as usize - chunk.as_ptr() as usize;
                    events.push(Event::Packet {
                        offset,
                        data: chunk.slice(at..at + packet.len()),
                    });
                    k += 1;
                    k % stop_every != 0
                });
                if n > 0 {
                    continue;
                }
            }
            match r.poll_event()? {
                Some(e) => {
                    let end = e == Event::End;
                    events.push(e);
                    if end {
                        return Ok(());
                    }
                }
                None => return Ok(()),
            }
        }
    };
    for &c in cuts {
        if fast.is_some() {
            r.push(bytes::Bytes::copy_from_slice(&input[pos..c]));
        } else {
            r.feed(&input[pos..c]);
        }
        pos = c;
        drain(&mut r)?;
    }
    r.finish();
    drain(&mut r)?;
    Ok(events)
}
