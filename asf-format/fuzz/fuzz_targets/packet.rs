//! Parse arbitrary bytes as one data packet (packet size from the first two input bytes);
//! whatever parses must re-serialize to exactly the same bytes, and the zero-copy view must
//! agree with the owned model.
#![no_main]

use asf_format::packet::{DataPacket, PacketView};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let size = u32::from(u16::from_le_bytes([data[0], data[1]]));
    let body = Bytes::copy_from_slice(&data[2..]);
    let Ok(view) = PacketView::parse(&body, size, 2) else {
        return;
    };
    let n = view.payloads().count();
    assert_eq!(n as u32, view.payload_count());
    for p in view.payloads() {
        let _ = p.sub_payloads().count();
        let _ = p.extensions(&[2, 0xFFFF]).count();
    }
    let owned = DataPacket::parse(&body, size, 2).expect("the view parsed");
    assert_eq!(owned.payloads.len(), n);
    let out = owned.to_bytes().expect("a parsed packet writes");
    assert_eq!(&out[..], &body[..size as usize]);
    assert_eq!(owned.encoded_len(), size as usize);

    // Reassembly never panics and never holds more than one object per stream.
    let mut re = asf_format::media_object::Reassembler::new(asf_format::Limits::default());
    re.push_packet(&body, &view);
    while re.poll_object().is_some() {}
    assert!(re.pending() <= 127);

    // Re-padding with `fix` keeps the payloads, whenever the packet can be re-padded.
    let mut refit = owned.clone();
    if refit.fix(size).is_ok() {
        let bytes = refit.to_bytes().expect("fixed packets write");
        assert_eq!(bytes.len(), size as usize);
        let again = DataPacket::parse(&bytes, size, 0).expect("fixed packets parse");
        assert_eq!(again.payloads, owned.payloads);
    }
});
