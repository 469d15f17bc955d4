//! Property tests of what the server does to pushed data: a `$D` the encoder
//! stripped of its padding (push-sink's `strip_padding`, as `wmpush push` sends it)
//! comes back at full size with the same send time and key-frame meaning
//! ([`StreamFacts`]: push-protocol's `restore_padding`, push-sink's `PacketView`).

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use push_sink::push_sink::asf_packet::strip_padding;
use wmpush::generator::SignalConfig;
use wmpush::point::StreamFacts;

fn facts(packet_size: usize) -> StreamFacts {
    StreamFacts {
        packet_size,
        max_bitrate: 0,
        preroll_ms: 0,
        video_streams: vec![1],
    }
}

/// A single-payload packet (ASF 5.2.3.1) with a WORD padding field.
fn packet(
    stream: u8,
    key: bool,
    offset: u32,
    send: u32,
    payload: &[u8],
    padding: usize,
) -> Vec<u8> {
    let mut p = vec![0x10, 0x5D];
    p.extend_from_slice(&(padding as u16).to_le_bytes());
    p.extend_from_slice(&send.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.push(stream | if key { 0x80 } else { 0 });
    p.push(0);
    p.extend_from_slice(&offset.to_le_bytes());
    p.push(8);
    p.extend_from_slice(&(payload.len() as u32 + offset).to_le_bytes());
    p.extend_from_slice(&(send + 1000).to_le_bytes());
    p.extend_from_slice(payload);
    p.extend(std::iter::repeat_n(0u8, padding));
    p
}

proptest! {
    #[test]
    fn strip_then_repad_keeps_meaning(
        stream in 1u8..4,
        key in any::<bool>(),
        offset in prop_oneof![Just(0u32), 1u32..5000],
        send in 0u32..1_000_000,
        payload in proptest::collection::vec(any::<u8>(), 1..2000),
        padding in 0usize..3000,
    ) {
        let p = packet(stream, key, offset, send, &payload, padding);
        let size = p.len();
        let f = facts(size);
        let mut stripped = BytesMut::from(&p[..]);
        strip_padding(&mut stripped).expect("well formed");
        prop_assert!(stripped.len() <= size);
        let back = f.full_size(stripped.freeze()).expect("fits");
        prop_assert_eq!(back.len(), size);
        let (send_back, key_back) = f.packet(&back).expect("parses");
        let (send_orig, key_orig) = f.packet(&p).expect("parses");
        prop_assert_eq!(send_back, send);
        prop_assert_eq!(send_orig, send);
        prop_assert_eq!(key_back, key_orig);
        // Stream 1 is video: only its key-flagged object start is a join point.
        prop_assert_eq!(key_orig, stream == 1 && key && offset == 0);
        // The payload bytes survive, possibly two bytes later (explicit Packet Length).
        let at = back.windows(payload.len()).position(|w| w == payload.as_slice());
        prop_assert!(at == Some(25) || at == Some(27), "payload found at {:?}", at);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), size in 1usize..700) {
        let f = facts(size);
        let _ = f.full_size(Bytes::from(data.clone()));
        let _ = f.packet(&data);
        let _ = StreamFacts::read(&data);
        let mut b = BytesMut::from(&data[..]);
        let _ = strip_padding(&mut b);
    }

    #[test]
    fn audio_chunks_tile_the_timeline(fps in 1u32..=60, rate in 8000u32..=48_000, frames in 1u64..500) {
        let c = SignalConfig { fps, sample_rate: rate, ..SignalConfig::default() };
        prop_assert!(c.validate().is_ok());
        let mut next = 0;
        for i in 0..frames {
            let (a, b) = c.audio_range(i);
            prop_assert_eq!(a, next);
            prop_assert!(b >= a);
            next = b;
        }
        prop_assert_eq!(next, frames * u64::from(rate) / u64::from(fps));
    }
}

/// Fuzz crashes of the `asf_bits` target stay regression tests (the target now
/// drives `StreamFacts` and push-sink's `strip_padding`; same checks as there).
#[test]
fn fuzz_regressions_replay() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions folder") {
        let path = entry.expect("entry").path();
        if !path.to_string_lossy().contains("asf_bits-") {
            continue;
        }
        let data = std::fs::read(&path).expect("read");
        let _ = StreamFacts::read(&data);
        let size = data.len() + usize::from(data.first().copied().unwrap_or(0));
        let f = StreamFacts {
            packet_size: size.max(1),
            max_bitrate: 0,
            preroll_ms: 0,
            video_streams: vec![1, 2],
        };
        let _ = f.packet(&data);
        if let Some(full) = f.full_size(Bytes::from(data.clone())) {
            assert_eq!(full.len(), f.packet_size, "{}", path.display());
            if let Some(meaning) = f.packet(&full) {
                let mut stripped = BytesMut::from(&full[..]);
                if strip_padding(&mut stripped).is_ok() {
                    let again = f.full_size(stripped.freeze()).expect("pads back");
                    assert_eq!(f.packet(&again), Some(meaning), "{}", path.display());
                }
            }
        }
        replayed += 1;
    }
    assert!(replayed >= 2, "the regression files are found");
}
