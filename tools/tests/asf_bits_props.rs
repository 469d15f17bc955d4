//! Property tests of the packet helpers the server applies to pushed data.

use proptest::prelude::*;
use wmpush::asf_bits::{repad, send_time, starts_key_frame, strip_padding};
use wmpush::generator::SignalConfig;

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
        let stripped = strip_padding(&p).expect("well formed");
        prop_assert!(stripped.len() <= size);
        let back = repad(&stripped, size).expect("fits");
        prop_assert_eq!(back.len(), size);
        prop_assert_eq!(send_time(&back), Some(send));
        prop_assert_eq!(starts_key_frame(&back, &[1]), starts_key_frame(&p, &[1]));
        prop_assert_eq!(starts_key_frame(&p, &[1]), stream == 1 && key && offset == 0);
        // The payload bytes survive, possibly two bytes later (explicit Packet Length).
        let at = back.windows(payload.len()).position(|w| w == payload.as_slice());
        prop_assert!(at == Some(25) || at == Some(27), "payload found at {:?}", at);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), size in 0usize..700) {
        let _ = repad(&data, size);
        let _ = strip_padding(&data);
        let _ = starts_key_frame(&data, &[1, 2]);
        let _ = send_time(&data);
        let _ = wmpush::asf_bits::header_facts(&data);
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
