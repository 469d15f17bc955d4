//! Arbitrary bytes into push-sink's ASF helpers (over asf-format): `AsfFile::parse` and its
//! packets and live header, `PacketView::parse`, `strip_padding` and `trim_before_key_frame`.
//! Errors are fine; panics are not, a stripped packet must still parse at its new length,
//! and a trimmed packet keeps its length and parses.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use push_sink::push_sink::asf_file::{AsfFile, header_video_streams};
use push_sink::push_sink::asf_packet::{PacketView, strip_padding, trim_before_key_frame};

fuzz_target!(|data: &[u8]| {
    let _ = header_video_streams(data);
    if let Ok(file) = AsfFile::parse(Bytes::copy_from_slice(data)) {
        let _ = file.live_header();
        for p in file.packets().take(64) {
            let _ = p;
        }
    }
    let is_video = |s: u8| s % 2 == 1;
    if let Ok(view) = PacketView::parse(data, is_video) {
        let mut b = BytesMut::from(data);
        if let Ok(cut) = strip_padding(&mut b) {
            assert_eq!(b.len() + cut, data.len());
            let again = PacketView::parse(&b, is_video).expect("a stripped packet still parses");
            assert_eq!(again.send_time_ms, view.send_time_ms);
            assert_eq!(again.key_frame, view.key_frame);
        }
    }
    if let Some(t) = trim_before_key_frame(data, is_video) {
        assert_eq!(t.len(), data.len());
        let v = PacketView::parse(&t, is_video).expect("a trimmed packet parses");
        assert!(v.key_frame);
    }
});
