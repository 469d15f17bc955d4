#![no_main]
//! Arbitrary bytes into the push frame decoder in two chunkings: same frames, no panic;
//! every decoded frame re-encodes to the bytes it came from.

use libfuzzer_sys::fuzz_target;
use push_protocol::framing::{self, PushFrameDecoder, PushFrameKind};

fn decode(data: &[u8], step: usize) -> Vec<framing::PushFrame> {
    let mut d = PushFrameDecoder::new();
    let mut out = Vec::new();
    for chunk in data.chunks(step.max(1)) {
        d.push(chunk);
        while let Ok(Some(f)) = d.next_frame() {
            out.push(f);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let step = data.first().copied().unwrap_or(1) as usize;
    let whole = decode(data, data.len().max(1));
    let chunked = decode(data, step);
    assert_eq!(whole, chunked);
    let mut pos = 0;
    for f in whole {
        let mut enc = Vec::new();
        match f.kind {
            PushFrameKind::Header if !f.had_preheader => {
                framing::encode_header(&f.payload, &mut enc).expect("decoded")
            }
            PushFrameKind::Data if !f.had_preheader => {
                framing::encode_data(&f.payload, &mut enc).expect("decoded")
            }
            PushFrameKind::End => framing::encode_end(f.reason.expect("reason"), &mut enc),
            _ => {
                pos += f.wire_len;
                continue;
            }
        }
        assert_eq!(&enc[..], &data[pos..pos + f.wire_len]);
        pos += f.wire_len;
    }
});
