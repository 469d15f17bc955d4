#![no_main]
//! Pushed packets and headers are untrusted: what the server reads from them
//! (`wmpush::point::StreamFacts`: asf-format's header parse, push-protocol's
//! `restore_padding`, push-sink's `PacketView`) must never panic, and a packet
//! padded back and stripped again (push-sink's `strip_padding`) must say the same.
//! The target keeps its old name so the corpus and regressions stay valid.

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use push_sink::push_sink::asf_packet::strip_padding;
use wmpush::point::StreamFacts;

fuzz_target!(|data: &[u8]| {
    let _ = StreamFacts::read(data);
    let size = data.len() + (data.first().copied().unwrap_or(0) as usize);
    let facts = StreamFacts {
        packet_size: size.max(1),
        max_bitrate: 0,
        preroll_ms: 0,
        video_streams: vec![1, 2],
    };
    let _ = facts.packet(data);
    if let Some(full) = facts.full_size(Bytes::copy_from_slice(data)) {
        assert_eq!(full.len(), facts.packet_size);
        if let Some(meaning) = facts.packet(&full) {
            let mut stripped = BytesMut::from(&full[..]);
            if strip_padding(&mut stripped).is_ok() {
                assert!(stripped.len() <= full.len());
                let again = facts
                    .full_size(stripped.freeze())
                    .expect("a stripped packet pads back");
                assert_eq!(again.len(), facts.packet_size);
                assert_eq!(facts.packet(&again), Some(meaning));
            }
        }
    }
});
