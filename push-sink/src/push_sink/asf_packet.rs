//! What the sinks need from one ASF data packet they did not build themselves (a packet
//! read from a file, or pushed by an encoder): its send time, whether a player can start
//! decoding at it (a key frame begins in it), and its padding, which the push sink strips
//! before `$D` (MS-WMHTTP 2.2.3.3: "the Padding Data SHOULD be removed").
//!
//! Parsing and validation are asf-format's ([`asf_format::packet::PacketView`], ASF 5.2);
//! this module only adds what asf-format does not do: the key-frame rule for join points,
//! the in-place padding removal of a pooled buffer ([`strip_padding`]), and the rewrite of a
//! join packet without the tails of earlier media objects ([`trim_before_key_frame`], built
//! with asf-format's [`DataPacket`] model).

use asf_format::packet::{self, DataPacket, FieldWidth};
use bytes::{Bytes, BytesMut};

use crate::error::Error;

/// What the sinks need to know about one ASF data packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PacketView {
    /// ASF 5.2.2 Send Time, milliseconds.
    pub send_time_ms: u32,
    /// ASF 5.2.2 Duration, milliseconds.
    pub duration_ms: u16,
    /// Padding length declared by the packet (0 when the field is absent).
    pub padding: u32,
    /// Declared packet length (the buffer length when the field is absent).
    pub packet_length: u32,
    /// True when a payload of a key-frame-flagged media object starts in this packet, for a
    /// stream the caller counts as "video" (see [`PacketView::parse`]).
    pub key_frame: bool,
}

fn bad(what: &'static str) -> Error {
    Error::Custom(format!("malformed ASF data packet: {what}").into())
}

/// Parses `packet` as one whole data packet (its length is the packet size) with asf-format.
fn parse_whole<'a>(
    packet: &'a [u8],
    visit: impl FnMut(&packet::PayloadView<'a>),
) -> Result<packet::PacketView<'a>, Error> {
    let size = u32::try_from(packet.len()).map_err(|_| bad("packet longer than 4 GiB"))?;
    Ok(packet::PacketView::parse_each(packet, size, 0, visit)?)
}

/// The key-frame rule of [`PacketView::parse`], fed one payload at a time.
#[derive(Default)]
struct KeyFrameRule {
    any_video: bool,
    video_key: bool,
    other_key: bool,
}

impl KeyFrameRule {
    fn visit(&mut self, key_bit: bool, starts_object: bool, video: bool) {
        self.any_video |= video;
        let key_start = key_bit && starts_object;
        if video {
            self.video_key |= key_start;
        } else {
            self.other_key |= key_start;
        }
    }

    fn key_frame(&self) -> bool {
        self.video_key || (!self.any_video && self.other_key)
    }
}

/// ASF 5.2.3.1: a payload starts its media object at Offset Into Media Object 0; a compressed
/// payload (replicated data length 1, ASF 5.2.3.3) holds whole objects, so it always does.
fn starts_object(compressed: bool, offset: u32) -> bool {
    compressed || offset == 0
}

impl PacketView {
    /// Parses the packet (asf-format validates every field and payload) and applies the
    /// key-frame rule.
    ///
    /// `is_video(stream)` says which stream numbers carry video. A packet is a key frame
    /// when a payload with the key-frame bit (ASF 5.2.3.1 Stream Number bit 7) starts a
    /// media object (Offset Into Media Object 0) of a video stream, or, when `is_video`
    /// is false for every stream of the packet, when any payload starts a media object of an
    /// audio stream with the key-frame bit (an audio-only stream can start anywhere).
    pub fn parse(packet: &[u8], is_video: impl Fn(u8) -> bool) -> Result<PacketView, Error> {
        let mut rule = KeyFrameRule::default();
        let view = parse_whole(packet, |p| {
            rule.visit(
                p.key_frame,
                starts_object(p.is_compressed(), p.offset_into_media_object),
                is_video(p.stream_number),
            )
        })?;
        let packet_length = if view.length_type_flags().packet_length_type() == FieldWidth::Absent {
            view.as_bytes().len() as u32
        } else {
            view.packet_length()
        };
        Ok(PacketView {
            send_time_ms: view.send_time(),
            duration_ms: view.duration(),
            padding: view.padding_length(),
            packet_length,
            key_frame: rule.key_frame(),
        })
    }
}

/// For a player that starts at `packet`: the same packet without the payloads that come
/// before the first payload starting a key frame (they are tails of earlier media objects the
/// player never saw; VLC hands them to the decoder as a broken first frame). The removed
/// bytes become padding, so the packet keeps its length; when the packet had no Padding
/// Length field (ASF 5.2.2 Length Type Flags bits 3-4 = 00) or a byte-wide one, the field is
/// rewritten as a WORD. `None` when there is nothing to remove or the packet has a single
/// payload.
pub fn trim_before_key_frame(packet: &[u8], is_video: impl Fn(u8) -> bool) -> Option<Bytes> {
    let owned = Bytes::copy_from_slice(packet);
    let size = u32::try_from(packet.len()).ok()?;
    let mut model = DataPacket::parse(&owned, size, 0).ok()?;
    if !model.length_type_flags.multiple_payloads() {
        return None;
    }
    let any_video = model.payloads.iter().any(|p| is_video(p.stream_number));
    let first_key = model.payloads.iter().position(|p| {
        p.key_frame
            && starts_object(p.is_compressed(), p.offset_into_media_object)
            && (is_video(p.stream_number) || !any_video)
    })?;
    if first_key == 0 {
        return None;
    }
    model.payloads.drain(..first_key);
    // ASF 5.2.2: Length Type Flags bits 3-4 give the Padding Length field's width; a WORD
    // holds any padding of the packet sizes in use, a DWORD stays a DWORD.
    let width = if model.length_type_flags.padding_length_type() == FieldWidth::Dword {
        FieldWidth::Dword
    } else {
        FieldWidth::Word
    };
    model.length_type_flags = model.length_type_flags.with_padding_length_type(width);
    if model.length_type_flags.packet_length_type() != FieldWidth::Absent {
        // The rewritten packet fills the whole buffer (no implicit padding after it).
        model.packet_length = size;
    }
    model.padding_length = 0;
    model.padding = Bytes::new();
    let padding = packet.len().checked_sub(model.encoded_len())?;
    model.padding_length = u32::try_from(padding)
        .ok()
        .filter(|&p| p <= width.max_value())?;
    model.padding = Bytes::from(vec![0u8; padding]);
    let out = model.to_bytes().ok()?;
    (out.len() == packet.len()).then_some(out)
}

/// Removes the padding from `packet` in place: sets its Padding Length to 0, rewrites its
/// Packet Length (when present) and truncates the buffer after its last payload. Returns the
/// bytes removed.
///
/// MS-WMHTTP 2.2.3.3: "the Padding Data SHOULD be removed ... and the Padding Length field
/// updated". This is push-protocol's [`strip_padding`](push_protocol::framing::strip_padding)
/// (asf-format's reading of the length fields, including GStreamer asfmux's form) applied to
/// a pooled buffer, which keeps its allocation and headroom, so the push sink frames it
/// without a copy. A packet with neither a Packet Length nor a Padding Length field keeps its
/// length.
pub fn strip_padding(packet: &mut BytesMut) -> Result<usize, Error> {
    let len = packet.len();
    let new_len = push_protocol::framing::strip_padding(packet, len)
        .map_err(|e| Error::Custom(format!("malformed ASF data packet: {e}").into()))?;
    packet.truncate(new_len);
    Ok(len - new_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A single-payload packet as ffmpeg writes them: EC present (0x82 00 00), length type
    /// flags 0x11 (padding as byte? no: 0x08 = padding byte), property 0x5D.
    fn packet(padding: u8, size: usize) -> BytesMut {
        let mut p = BytesMut::new();
        p.extend_from_slice(&[0x82, 0, 0]);
        // Length Type Flags: padding length is a byte (bits 3-4 = 01), packet length absent.
        p.extend_from_slice(&[0x08, 0x5D]);
        p.extend_from_slice(&[padding]);
        p.extend_from_slice(&1234u32.to_le_bytes());
        p.extend_from_slice(&40u16.to_le_bytes());
        // payload: stream 2 key, object 7, offset 0, replicated 8 bytes
        p.extend_from_slice(&[0x82, 7, 0, 0, 0, 0, 8]);
        p.extend_from_slice(&[0; 8]);
        let payload = size - p.len() - usize::from(padding);
        p.extend(std::iter::repeat_n(0xAB, payload));
        p.extend(std::iter::repeat_n(0, usize::from(padding)));
        p
    }

    #[test]
    fn parses_send_time_and_key_frame() {
        let p = packet(10, 100);
        let v = PacketView::parse(&p, |s| s == 2).expect("valid");
        assert_eq!(v.send_time_ms, 1234);
        assert_eq!(v.duration_ms, 40);
        assert_eq!(v.padding, 10);
        assert!(v.key_frame);
        let v = PacketView::parse(&p, |s| s == 3).expect("valid");
        assert!(
            v.key_frame,
            "audio-only packet with key bit starts an object"
        );
    }

    #[test]
    fn strips_padding_in_place() {
        let mut p = packet(10, 100);
        let base = p.as_ptr();
        assert_eq!(strip_padding(&mut p).expect("valid"), 10);
        assert_eq!(p.len(), 90);
        assert_eq!(p.as_ptr(), base);
        let v = PacketView::parse(&p, |_| true).expect("still valid");
        assert_eq!(v.padding, 0);
        assert_eq!(strip_padding(&mut p).expect("valid"), 0);
    }

    /// Found by the asf_helpers fuzz target: Packet Length 16 + Padding Length 4 = the
    /// 20-byte packet (GStreamer asfmux's form), so the padding lies after Packet Length and
    /// the payloads end at 16, not at 16 - 4.
    #[test]
    fn strips_padding_of_gstreamer_form() {
        let data = [
            85u8, 6, 16, 0, 64, 0, 4, 0, 32, 0, 2, 0, 0, 2, 64, 0, 0, 64, 0, 138,
        ];
        let before = PacketView::parse(&data, |s| s % 2 == 1).expect("valid");
        let mut p = BytesMut::from(&data[..]);
        // Its one payload ends at 15: the stray byte before Packet Length goes with the
        // padding.
        assert_eq!(strip_padding(&mut p).expect("valid"), 5);
        assert_eq!(p.len(), 15);
        let after = PacketView::parse(&p, |s| s % 2 == 1).expect("still valid");
        assert_eq!(after.padding, 0);
        assert_eq!(after.packet_length, 15);
        assert_eq!(after.send_time_ms, before.send_time_ms);
        assert_eq!(after.key_frame, before.key_frame);
    }

    #[test]
    fn rejects_truncated_and_lying_packets() {
        let p = packet(10, 100);
        for cut in [0, 1, 5, 10, 14] {
            assert!(PacketView::parse(&p[..cut], |_| true).is_err(), "cut {cut}");
        }
        let mut lying = packet(10, 100);
        lying[5] = 200; // padding larger than the packet
        assert!(PacketView::parse(&lying, |_| true).is_err());
    }

    /// Two payloads: the tail of video object 6 (offset 100), then key-frame object 7 start.
    fn multi_packet() -> Vec<u8> {
        let mut p = vec![0x82, 0, 0];
        // multiple payloads, padding length a word (bits 3-4 = 10)
        p.extend_from_slice(&[0x11, 0x5D]);
        p.extend_from_slice(&0u16.to_le_bytes()); // padding, fixed below
        p.extend_from_slice(&500u32.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        p.push(0x80 | 2); // payload flags: length as word, 2 payloads
        // payload 1: stream 2 (no key bit), object 6, offset 100, replicated 8
        p.extend_from_slice(&[0x02, 6, 100, 0, 0, 0, 8]);
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&10u16.to_le_bytes());
        p.extend_from_slice(&[0x11; 10]);
        // payload 2: stream 2 key, object 7, offset 0
        p.extend_from_slice(&[0x82, 7, 0, 0, 0, 0, 8]);
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&20u16.to_le_bytes());
        p.extend_from_slice(&[0x22; 20]);
        let pad = 200 - p.len();
        p[5..7].copy_from_slice(&(pad as u16).to_le_bytes());
        p.resize(200, 0);
        p
    }

    #[test]
    fn trims_tails_before_the_key_frame() {
        let p = multi_packet();
        let v = PacketView::parse(&p, |s| s == 2).expect("valid");
        assert!(v.key_frame);
        let t = trim_before_key_frame(&p, |s| s == 2).expect("trimmed");
        assert_eq!(t.len(), p.len());
        let tv = PacketView::parse(&t, |s| s == 2).expect("still valid");
        assert!(tv.key_frame);
        assert_eq!(tv.padding, v.padding + 1 + 6 + 8 + 2 + 10);
        assert_eq!(tv.send_time_ms, 500);
        assert_eq!(t[13] & 0x3F, 1, "one payload left");
        assert_eq!(t[14], 0x82);
        // Already starting at the key frame: nothing to do.
        assert!(trim_before_key_frame(&t, |s| s == 2).is_none());
        // ffmpeg's packets often have no Padding Length field: one is added.
        let mut full = multi_packet();
        full[3] = 0x01;
        full.drain(5..7);
        let used = 200 - 2 - usize::from(u16::from_le_bytes([p[5], p[6]]));
        full.truncate(used);
        let t = trim_before_key_frame(&full, |s| s == 2).expect("trimmed");
        assert_eq!(t.len(), full.len());
        let tv = PacketView::parse(&t, |s| s == 2).expect("valid");
        assert_eq!(tv.padding as usize, 27 - 2);
        assert!(tv.key_frame);
        assert_eq!(&t[t.len() - 25 - 20..t.len() - 25], &[0x22; 20]);
        // Audio stream 2 (no video): the key bit without offset 0 still is not a start.
        assert!(trim_before_key_frame(&packet(10, 100), |_| true).is_none());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = PacketView::parse(&bytes, |s| s % 2 == 0);
            let mut b = BytesMut::from(&bytes[..]);
            let _ = strip_padding(&mut b);
            if let Some(t) = trim_before_key_frame(&bytes, |s| s % 2 == 0) {
                proptest::prop_assert_eq!(t.len(), bytes.len());
            }
        }
    }
}
