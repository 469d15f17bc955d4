#![no_main]
//! Pushed packets and headers are untrusted: the server's helpers must never
//! panic, and strip/repad must agree with each other.

use libfuzzer_sys::fuzz_target;
use wmpush::asf_bits::{header_facts, repad, send_time, starts_key_frame, strip_padding};

fuzz_target!(|data: &[u8]| {
    let _ = header_facts(data);
    let _ = send_time(data);
    let _ = starts_key_frame(data, &[1, 2]);
    let size = data.len() + (data.first().copied().unwrap_or(0) as usize);
    if let Some(full) = repad(data, size) {
        assert_eq!(full.len(), size);
        // A packet we padded strips and pads back to a packet that says the same.
        if data.len() < size
            && let Some(stripped) = strip_padding(&full)
        {
            assert!(stripped.len() <= full.len());
            // Stripping may add an explicit Packet Length field, so the bytes can
            // differ; what the packet says must not.
            let again = repad(&stripped, size).expect("a stripped packet pads back");
            assert_eq!(again.len(), size);
            assert_eq!(send_time(&again), send_time(&full));
            assert_eq!(starts_key_frame(&again, &[1, 2]), starts_key_frame(&full, &[1, 2]));
        }
    }
});
