//! A read-only view of one ASF data packet's header, and in-place padding removal.
//!
//! The sinks need three facts about a packet they did not build themselves (a packet read
//! from a file, or pushed by an encoder): its send time, whether a player can start decoding
//! at it (a key frame begins in it), and where its padding is, so the push sink can strip it
//! before `$D` (MS-WMHTTP 2.2.3.3: "the Padding Data SHOULD be removed").
//!
//! Layout (ASF 5.2.1 Error Correction Data, 5.2.2 Payload Parsing Information):
//!
//! | Field | Size |
//! |---|---|
//! | Error Correction Flags (+ data when bit 7 is set) | 1 + (flags & 0x0F) |
//! | Length Type Flags | 1 |
//! | Property Flags | 1 |
//! | Packet Length | 0/1/2/4 (Length Type bits 5-6) |
//! | Sequence | 0/1/2/4 (bits 1-2) |
//! | Padding Length | 0/1/2/4 (bits 3-4) |
//! | Send Time | 4 |
//! | Duration | 2 |
//! | payloads ... (ASF 5.2.3) | |

use bytes::BytesMut;

use crate::error::Error;

/// What the sinks need to know about one ASF data packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketView {
    /// ASF 5.2.2 Send Time, milliseconds.
    pub send_time_ms: u32,
    /// ASF 5.2.2 Duration, milliseconds.
    pub duration_ms: u16,
    /// Padding length declared by the packet (0 when the field is absent).
    pub padding: u32,
    /// Byte offset of the Padding Length field, if present, and its width in bytes.
    padding_field: Option<(usize, usize)>,
    /// Byte offset and width of the Packet Length field, if present.
    length_field: Option<(usize, usize)>,
    /// Declared packet length (the buffer length when the field is absent).
    pub packet_length: u32,
    /// True when a payload of a key-frame-flagged media object starts in this packet, for a
    /// stream the caller counts as "video" (see [`PacketView::parse`]).
    pub key_frame: bool,
    /// Offset of the Payload Flags byte (multiple payloads only).
    payload_flags_at: Option<usize>,
    /// End of the payload data (Packet Length minus padding).
    data_end: usize,
    /// Offset of the Length Type Flags byte.
    flags_at: usize,
    /// Offset of the Padding Length field (where it is or would be).
    padding_at: usize,
    length_flags: u8,
    property_flags: u8,
}

fn bad(what: &'static str) -> Error {
    Error::Custom(format!("malformed ASF data packet: {what}").into())
}

fn read_var(buf: &[u8], at: &mut usize, ty: u8) -> Result<u32, Error> {
    let width = match ty & 3 {
        0 => return Ok(0),
        1 => 1,
        2 => 2,
        _ => 4,
    };
    let end = at
        .checked_add(width)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| bad("field runs past the end of the packet"))?;
    let mut v = 0u32;
    for (i, b) in buf[*at..end].iter().enumerate() {
        v |= u32::from(*b) << (8 * i);
    }
    *at = end;
    Ok(v)
}

fn width(ty: u8) -> usize {
    match ty & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    }
}

impl PacketView {
    /// Parses the packet header and walks its payloads.
    ///
    /// `is_video(stream)` says which stream numbers carry video. A packet is a key frame
    /// when a payload with the key-frame bit (ASF 5.2.3.1 Stream Number bit 7) starts a
    /// media object (Offset Into Media Object 0) of a video stream, or, when `is_video`
    /// is false for every stream of the packet, when any payload starts a media object of an
    /// audio stream with the key-frame bit (an audio-only stream can start anywhere).
    pub fn parse(packet: &[u8], is_video: impl Fn(u8) -> bool) -> Result<PacketView, Error> {
        let mut at = 0usize;
        let first = *packet.first().ok_or_else(|| bad("empty packet"))?;
        // ASF 5.2.1: bit 7 = Error Correction Present; bits 0-3 = data length, and bits 5-6
        // (length type) must be 00 when present.
        let flags = if first & 0x80 != 0 {
            let len = usize::from(first & 0x0F);
            at = 1 + len;
            *packet
                .get(at)
                .ok_or_else(|| bad("error correction data runs past the end"))?
        } else {
            first
        };
        at += 1;
        let property = *packet
            .get(at)
            .ok_or_else(|| bad("no Property Flags byte"))?;
        at += 1;
        let length_at = at;
        let packet_length = read_var(packet, &mut at, flags >> 5)?;
        let _sequence = read_var(packet, &mut at, flags >> 1)?;
        let padding_at = at;
        let padding = read_var(packet, &mut at, flags >> 3)?;
        if at + 6 > packet.len() {
            return Err(bad("Send Time/Duration run past the end"));
        }
        let send_time_ms =
            u32::from_le_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]]);
        let duration_ms = u16::from_le_bytes([packet[at + 4], packet[at + 5]]);
        at += 6;
        let length_w = width(flags >> 5);
        let padding_w = width(flags >> 3);
        let packet_length = if length_w == 0 {
            u32::try_from(packet.len()).map_err(|_| bad("packet longer than 4 GiB"))?
        } else {
            packet_length
        };
        let end = usize::try_from(packet_length)
            .ok()
            .filter(|&l| l <= packet.len())
            .ok_or_else(|| bad("Packet Length is larger than the packet"))?;
        let data_end = end
            .checked_sub(usize::try_from(padding).unwrap_or(usize::MAX))
            .filter(|&e| e >= at)
            .ok_or_else(|| bad("Padding Length is larger than the packet's room"))?;
        let (_, key_frame) = walk_payloads(&packet[..data_end], at, flags, property, &is_video)?;
        Ok(PacketView {
            send_time_ms,
            duration_ms,
            padding,
            padding_field: (padding_w > 0).then_some((padding_at, padding_w)),
            length_field: (length_w > 0).then_some((length_at, length_w)),
            packet_length,
            key_frame,
            payload_flags_at: (flags & 1 != 0).then_some(at),
            flags_at: if first & 0x80 != 0 {
                1 + usize::from(first & 0x0F)
            } else {
                0
            },
            padding_at,
            data_end,
            length_flags: flags,
            property_flags: property,
        })
    }
}

/// One payload's place in a packet.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    video: bool,
    key_start: bool,
}

/// Walks the payloads (ASF 5.2.3): their spans, and whether a key frame begins in the packet.
fn walk_payloads(
    data: &[u8],
    mut at: usize,
    flags: u8,
    property: u8,
    is_video: &impl Fn(u8) -> bool,
) -> Result<(Vec<Span>, bool), Error> {
    let multiple = flags & 1 != 0;
    let (count, len_type) = if multiple {
        let b = *data.get(at).ok_or_else(|| bad("no Payload Flags byte"))?;
        at += 1;
        (usize::from(b & 0x3F), b >> 6)
    } else {
        (1, 0)
    };
    let mut spans = Vec::with_capacity(count);
    for _ in 0..count {
        let start = at;
        let sn = *data
            .get(at)
            .ok_or_else(|| bad("payload runs past the end"))?;
        at += 1;
        let _object = read_var(data, &mut at, property >> 4)?;
        let offset = read_var(data, &mut at, property >> 2)?;
        let rep_len = read_var(data, &mut at, property)?;
        let rep_len = usize::try_from(rep_len).map_err(|_| bad("replicated data too long"))?;
        at = at
            .checked_add(rep_len)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| bad("replicated data runs past the end"))?;
        // ASF 5.2.3.1: replicated data length 1 means compressed payloads, where the
        // "offset" field is the presentation time and every sub-payload starts an object.
        let starts_object = rep_len == 1 || offset == 0;
        let stream = sn & 0x7F;
        let key = sn & 0x80 != 0;
        let len = if multiple {
            usize::try_from(read_var(data, &mut at, len_type)?).unwrap_or(usize::MAX)
        } else {
            data.len().saturating_sub(at)
        };
        at = at
            .checked_add(len)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| bad("payload data runs past the end"))?;
        spans.push(Span {
            start,
            video: is_video(stream),
            key_start: key && starts_object,
        });
    }
    let any_video = spans.iter().any(|s| s.video);
    let key = spans.iter().any(|s| s.key_start && (s.video || !any_video));
    Ok((spans, key))
}

/// For a player that starts at `packet`: the same packet without the payloads that come
/// before the first payload starting a key frame (they are tails of earlier media objects the
/// player never saw; VLC hands them to the decoder as a broken first frame). The removed
/// bytes become padding, so the packet keeps its length; when the packet had no Padding
/// Length field (ASF 5.2.2 Length Type Flags bits 3-4 = 00) or a byte-wide one, the field is
/// rewritten as a WORD. `None` when there is nothing to remove or the packet has a single
/// payload.
pub fn trim_before_key_frame(packet: &[u8], is_video: impl Fn(u8) -> bool) -> Option<bytes::Bytes> {
    let view = PacketView::parse(packet, &is_video).ok()?;
    let flags_at = view.payload_flags_at?;
    let (spans, _) = walk_payloads(
        &packet[..view.data_end],
        flags_at,
        view.length_flags,
        view.property_flags,
        &is_video,
    )
    .ok()?;
    let any_video = spans.iter().any(|s| s.video);
    let first_key = spans
        .iter()
        .position(|s| s.key_start && (s.video || !any_video))?;
    if first_key == 0 {
        return None;
    }
    let (pad_at, old_w) = (view.padding_at, width(view.length_flags >> 3));
    let (new_w, type_bits) = if old_w == 4 { (4, 3u8) } else { (2, 2u8) };
    let mut out = BytesMut::with_capacity(packet.len());
    out.extend_from_slice(&packet[..pad_at]);
    // ASF 5.2.2: Length Type Flags bits 3-4 give the Padding Length field's width.
    out[view.flags_at] = (view.length_flags & !0x18) | (type_bits << 3);
    let pad_field = out.len();
    out.resize(pad_field + new_w, 0);
    out.extend_from_slice(&packet[pad_at + old_w..flags_at]);
    let count = u8::try_from(spans.len() - first_key).ok()?;
    out.extend_from_slice(&[(packet[flags_at] & 0xC0) | count]);
    out.extend_from_slice(&packet[spans[first_key].start..view.data_end]);
    let padding = packet.len().checked_sub(out.len())?;
    out.resize(packet.len(), 0);
    let pad = u32::try_from(padding).ok()?.to_le_bytes();
    if new_w == 2 && padding > 0xFFFF {
        return None;
    }
    out[pad_field..pad_field + new_w].copy_from_slice(&pad[..new_w]);
    Some(out.freeze())
}

/// Removes the padding from `packet` in place: sets its Padding Length to 0, rewrites its
/// Packet Length (when present) and truncates the buffer. Returns the bytes removed.
///
/// MS-WMHTTP 2.2.3.3: "the Padding Data SHOULD be removed ... and the Padding Length field
/// updated". A packet whose Padding Length field is absent has no padding to remove.
pub fn strip_padding(packet: &mut BytesMut) -> Result<usize, Error> {
    let view = PacketView::parse(packet, |_| false)?;
    let Some((pad_at, pad_w)) = view.padding_field else {
        return Ok(0);
    };
    if view.padding == 0 {
        // Trailing bytes past Packet Length (none in practice) are cut too.
        let len = usize::try_from(view.packet_length).unwrap_or(packet.len());
        let cut = packet.len() - len.min(packet.len());
        packet.truncate(len);
        return Ok(cut);
    }
    let padding = usize::try_from(view.padding).unwrap_or(usize::MAX);
    let len = usize::try_from(view.packet_length).unwrap_or(usize::MAX);
    let new_len = len - padding; // parse() checked padding <= length
    packet[pad_at..pad_at + pad_w].fill(0);
    if let Some((len_at, len_w)) = view.length_field {
        let bytes = u32::try_from(new_len)
            .map_err(|_| bad("packet longer than 4 GiB"))?
            .to_le_bytes();
        if len_w < 4 && new_len >> (8 * len_w) != 0 {
            return Err(bad("new Packet Length does not fit its field"));
        }
        packet[len_at..len_at + len_w].copy_from_slice(&bytes[..len_w]);
    }
    let cut = packet.len() - new_len;
    packet.truncate(new_len);
    Ok(cut)
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
