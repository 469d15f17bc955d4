//! Small bounded readers for the few ASF fields the server needs from pushed
//! data: which streams are video, the packet size, whether a data packet
//! starts a video key frame, and putting back padding an encoder stripped
//! (MS-WMHTTP 2.2.3.1.2: `$D` padding SHOULD be stripped).
//!
//! Written here because asf-format's object model was not in the tree yet;
//! every read is bounds-checked and returns `None` on malformed input.

const HEADER_OBJECT: [u8; 16] =
    *asf_format::Guid::from_str_const("75B22630-668E-11CF-A6D9-00AA0062CE6C").as_bytes();
const FILE_PROPERTIES: [u8; 16] =
    *asf_format::Guid::from_str_const("8CABDCA1-A947-11CF-8EE4-00C00C205365").as_bytes();
const STREAM_PROPERTIES: [u8; 16] =
    *asf_format::Guid::from_str_const("B7DC0791-A9B7-11CF-8EE6-00C00C205365").as_bytes();
const VIDEO_MEDIA: [u8; 16] =
    *asf_format::Guid::from_str_const("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B").as_bytes();

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// What the server needs from an ASF header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderFacts {
    /// File Properties Maximum Data Packet Size (ASF 3.2).
    pub packet_size: u32,
    /// Stream numbers of video streams (ASF 3.3, Stream Type = Video Media).
    pub video_streams: Vec<u8>,
    /// File Properties Maximum Bitrate.
    pub max_bitrate: u32,
    /// File Properties Preroll in ms.
    pub preroll_ms: u64,
}

/// Reads [`HeaderFacts`] from a Header Object (optionally followed by the Data Object start).
pub fn header_facts(h: &[u8]) -> Option<HeaderFacts> {
    if h.get(..16)? != HEADER_OBJECT {
        return None;
    }
    let end = usize::try_from(u64_at(h, 16)?).ok()?.min(h.len());
    let mut pos = 30;
    let mut facts = HeaderFacts::default();
    while pos + 24 <= end {
        let guid = h.get(pos..pos + 16)?;
        let size = usize::try_from(u64_at(h, pos + 16)?).ok()?;
        if size < 24 || size > end - pos {
            return None;
        }
        if guid == FILE_PROPERTIES {
            facts.packet_size = u32_at(h, pos + 96)?;
            facts.max_bitrate = u32_at(h, pos + 100)?;
            facts.preroll_ms = u64_at(h, pos + 80)?;
        } else if guid == STREAM_PROPERTIES && h.get(pos + 24..pos + 40)? == VIDEO_MEDIA {
            let flags = u16_at(h, pos + 72)?;
            facts.video_streams.push((flags & 0x7F) as u8);
        }
        pos += size;
    }
    (facts.packet_size > 0).then_some(facts)
}

fn len_of(kind: u8) -> usize {
    match kind & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    }
}

fn read_var(b: &[u8], off: usize, kind: u8) -> Option<u32> {
    match kind & 3 {
        0 => Some(0),
        1 => b.get(off).map(|v| u32::from(*v)),
        2 => u16_at(b, off).map(u32::from),
        _ => u32_at(b, off),
    }
}

fn write_var(b: &mut [u8], off: usize, kind: u8, value: u32) -> Option<()> {
    match kind & 3 {
        0 => Some(()),
        1 => {
            *b.get_mut(off)? = u8::try_from(value).ok()?;
            Some(())
        }
        2 => {
            b.get_mut(off..off + 2)?
                .copy_from_slice(&u16::try_from(value).ok()?.to_le_bytes());
            Some(())
        }
        _ => {
            b.get_mut(off..off + 4)?
                .copy_from_slice(&value.to_le_bytes());
            Some(())
        }
    }
}

/// Offsets inside the payload parsing information (ASF 5.2.1, 5.2.2).
struct ParsingInfo {
    flags_at: usize,
    packet_len_at: usize,
    padding_at: usize,
    /// Offset of the first byte after Send Time and Duration.
    end: usize,
    flags: u8,
    props: u8,
}

fn parsing_info(p: &[u8]) -> Option<ParsingInfo> {
    let mut i = 0;
    // ASF 5.2.1: error correction data is present when bit 7 of the first byte is set.
    if p.first()? & 0x80 != 0 {
        let ec = *p.first()?;
        if ec & 0x60 != 0 {
            return None; // error correction length type must be 00
        }
        i = 1 + usize::from(ec & 0x0F);
    }
    let flags_at = i;
    let flags = *p.get(i)?;
    let props = *p.get(i + 1)?;
    let packet_len_at = i + 2;
    let seq_at = packet_len_at + len_of(flags >> 5);
    let padding_at = seq_at + len_of(flags >> 1);
    let end = padding_at + len_of(flags >> 3) + 6;
    if end > p.len() {
        return None;
    }
    Some(ParsingInfo {
        flags_at,
        packet_len_at,
        padding_at,
        end,
        flags,
        props,
    })
}

/// True when a player can start at `packet`: it carries the start (offset 0)
/// of a key frame of one of `video_streams` (ASF 5.2.3: stream number bit 7 is
/// the key-frame bit), and no payload before it in the packet is a non-key
/// picture or the tail of an object begun in an earlier packet.
/// With no video streams every packet counts as a start.
pub fn starts_key_frame(packet: &[u8], video_streams: &[u8]) -> bool {
    if video_streams.is_empty() {
        return true;
    }
    walk_payloads(packet, video_streams).unwrap_or(false)
}

fn walk_payloads(p: &[u8], video: &[u8]) -> Option<bool> {
    let info = parsing_info(p)?;
    // ASF 5.2.2: payloads end where the padding starts (Packet Length, when
    // present, minus Padding Length); nothing past that is payload.
    let padding = usize::try_from(read_var(p, info.padding_at, info.flags >> 3)?).ok()?;
    let packet_len = if len_of(info.flags >> 5) != 0 {
        usize::try_from(read_var(p, info.packet_len_at, info.flags >> 5)?).ok()?
    } else {
        p.len()
    };
    let area_end = packet_len.min(p.len()).checked_sub(padding)?;
    let p = p.get(..area_end)?;
    let mut i = info.end;
    let props = info.props;
    let multiple = info.flags & 1 != 0;
    let (count, len_type) = if multiple {
        let b = *p.get(i)?;
        i += 1;
        (usize::from(b & 0x3F), b >> 6)
    } else {
        (1, 0)
    };
    let mut clean = true;
    for _ in 0..count {
        let stream = *p.get(i)?;
        i += 1 + len_of(props >> 4);
        let offset = read_var(p, i, props >> 2)?;
        i += len_of(props >> 2);
        let rep = usize::try_from(read_var(p, i, props)?).ok()?;
        i += len_of(props);
        let compressed = rep == 1;
        i += rep;
        if compressed {
            i += 1; // presentation time delta; the offset field is the presentation time
        }
        let starts_object = offset == 0 || compressed;
        if video.contains(&(stream & 0x7F)) {
            if stream & 0x80 != 0 && starts_object {
                return Some(clean);
            }
            // A non-key picture before the key frame in this packet: a player
            // joining here would decode it first ("first frame is no keyframe").
            clean = false;
        } else if !starts_object {
            // The tail of an object begun in an earlier packet.
            clean = false;
        }
        if multiple {
            let len = usize::try_from(read_var(p, i, len_type)?).ok()?;
            i += len_of(len_type) + len;
        }
        if i > p.len() {
            return None;
        }
    }
    Some(false)
}

/// The Send Time field of a data packet (ASF 5.2.2), in ms.
pub fn send_time(packet: &[u8]) -> Option<u32> {
    let info = parsing_info(packet)?;
    u32_at(packet, info.end - 6)
}

/// Pads a data packet whose padding was stripped back to `packet_size`
/// (MS-WMHTTP 2.2.3.1.2 strips it; a plain ASF file needs fixed-size packets,
/// ASF 5.2). Rewrites the Padding Length (adding a WORD field if the packet
/// had none) and Packet Length fields. `None` when the packet is malformed
/// or larger than `packet_size`.
pub fn repad(packet: &[u8], packet_size: usize) -> Option<Vec<u8>> {
    if packet.len() == packet_size {
        return Some(packet.to_vec());
    }
    if packet.len() > packet_size {
        return None;
    }
    let info = parsing_info(packet)?;
    let mut out;
    let mut flags = info.flags;
    if len_of(flags >> 3) == 0 {
        // Insert a WORD padding-length field where it belongs (after Sequence).
        out = Vec::with_capacity(packet_size);
        out.extend_from_slice(packet.get(..info.padding_at)?);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(packet.get(info.padding_at..)?);
        flags = (flags & !0x18) | 0x10;
        *out.get_mut(info.flags_at)? = flags;
    } else {
        out = packet.to_vec();
    }
    if out.len() > packet_size {
        return None;
    }
    let old_pad = read_var(&out, info.padding_at, flags >> 3)?;
    let added = u32::try_from(packet_size - out.len()).ok()?;
    write_var(
        &mut out,
        info.padding_at,
        flags >> 3,
        old_pad.checked_add(added)?,
    )?;
    if len_of(flags >> 5) != 0 {
        write_var(
            &mut out,
            info.packet_len_at,
            flags >> 5,
            u32::try_from(packet_size).ok()?,
        )?;
    }
    out.resize(packet_size, 0);
    Some(out)
}

/// Strips the padding of a data packet as an encoder does for `$D`
/// (MS-WMHTTP 2.2.3.1.2): Padding Length becomes 0 and the packet gets an
/// explicit Packet Length field (inserted as a WORD when absent), so the
/// shortened packet still says where its single payload ends (ASF 5.2.2).
pub fn strip_padding(packet: &[u8]) -> Option<Vec<u8>> {
    let info = parsing_info(packet)?;
    let pad = usize::try_from(read_var(packet, info.padding_at, info.flags >> 3)?).ok()?;
    let keep = packet.len().checked_sub(pad)?;
    if keep < info.end {
        return None;
    }
    if len_of(info.flags >> 5) == 0 && pad < 2 {
        // Adding the length field would make the packet longer than it is.
        return Some(packet.to_vec());
    }
    let mut out = packet.get(..keep)?.to_vec();
    write_var(&mut out, info.padding_at, info.flags >> 3, 0)?;
    let mut flags = info.flags;
    if len_of(flags >> 5) == 0 {
        out.splice(info.packet_len_at..info.packet_len_at, [0u8, 0]);
        flags = (flags & !0x60) | 0x40;
        *out.get_mut(info.flags_at)? = flags;
    }
    let total = u32::try_from(out.len()).ok()?;
    write_var(&mut out, info.packet_len_at, flags >> 5, total)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{SignalConfig, render_audio, render_frame};
    use crate::live_mux::LiveMux;

    fn demo_packets() -> (Vec<u8>, Vec<crate::live_mux::MuxedPacket>) {
        let mut m = LiveMux::new(SignalConfig::default(), 3600, 0, [1; 16]).expect("valid");
        let c = *m.config();
        let (mut pic, mut pcm) = (Vec::new(), Vec::new());
        render_frame(&c, 0, &mut pic);
        let (a, b) = c.audio_range(0);
        render_audio(&c, a, b, &mut pcm);
        (m.header().to_vec(), m.packets_for_frame(0, &pic, &pcm))
    }

    #[test]
    fn header_facts_of_demo_header() {
        let (h, _) = demo_packets();
        let f = header_facts(&h).expect("parsable");
        assert_eq!(f.packet_size, 3600);
        assert_eq!(f.video_streams, vec![1]);
    }

    #[test]
    fn key_frame_start_found_only_in_first_video_packet() {
        let (h, packets) = demo_packets();
        let f = header_facts(&h).expect("parsable");
        let keys: Vec<bool> = packets
            .iter()
            .map(|p| starts_key_frame(&p.data, &f.video_streams))
            .collect();
        let expected: Vec<bool> = packets.iter().map(|p| p.starts_key_frame).collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn strip_then_repad_round_trips() {
        let (_, packets) = demo_packets();
        for p in &packets {
            let stripped = strip_padding(&p.data).expect("well formed");
            assert!(stripped.len() <= p.data.len());
            let back = repad(&stripped, 3600).expect("fits");
            assert_eq!(back.len(), 3600);
            if stripped.len() == 3600 {
                assert_eq!(back, p.data.to_vec(), "full packets are left alone");
                continue;
            }
            assert_eq!(starts_key_frame(&back, &[1]), p.starts_key_frame);
            // The payload bytes are unchanged, two bytes further on (explicit Packet Length).
            let pad = u16::from_le_bytes([p.data[2], p.data[3]]) as usize;
            assert_eq!(&back[27..27 + 3575 - pad], &p.data[25..3600 - pad]);
            assert_eq!(u16::from_le_bytes([back[2], back[3]]) as usize, 3600);
            assert_eq!(strip_padding(&back).expect("again"), stripped);
        }
    }

    /// A multiple-payload packet (ASF 5.2.3.3) with `(stream byte, offset)` payloads of 3 bytes.
    fn multi(payloads: &[(u8, u32)]) -> Vec<u8> {
        let mut p = vec![0x01, 0x5D, 0, 0, 0, 0, 0, 0];
        p.push(0x80 | payloads.len() as u8);
        for (i, (stream, offset)) in payloads.iter().enumerate() {
            p.push(*stream);
            p.push(i as u8);
            p.extend_from_slice(&offset.to_le_bytes());
            p.push(8);
            p.extend_from_slice(&[100, 0, 0, 0, 0, 0, 0, 0]);
            p.extend_from_slice(&3u16.to_le_bytes());
            p.extend_from_slice(b"abc");
        }
        p
    }

    #[test]
    fn key_frame_start_must_be_clean() {
        // Audio (stream 2) object start, then a video key frame start: clean.
        assert!(starts_key_frame(&multi(&[(0x82, 0), (0x81, 0)]), &[1]));
        // A whole non-key picture before the key frame: not a clean start.
        assert!(!starts_key_frame(&multi(&[(0x01, 0), (0x81, 0)]), &[1]));
        // The tail of an audio object before it: not clean either.
        assert!(!starts_key_frame(&multi(&[(0x82, 50), (0x81, 0)]), &[1]));
        // A key frame continuing (offset > 0) is no start.
        assert!(!starts_key_frame(&multi(&[(0x81, 3)]), &[1]));
        // No video streams: every packet is a start.
        assert!(starts_key_frame(&multi(&[(0x02, 7)]), &[]));
    }

    #[test]
    fn repad_inserts_a_padding_field_when_absent() {
        // flags 0x00: no padding field; props 0x5D; send time, duration; one payload.
        let mut p = vec![0x00, 0x5D, 1, 0, 0, 0, 0, 0];
        p.extend_from_slice(&[
            0x81, 0, 0, 0, 0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, b'a', b'b', b'c',
        ]);
        let out = repad(&p, 64).expect("fits");
        assert_eq!(out.len(), 64);
        assert_eq!(out[0], 0x10);
        let pad = u16::from_le_bytes([out[2], out[3]]) as usize;
        assert_eq!(pad, 64 - p.len() - 2);
        assert!(starts_key_frame(&out, &[1]));
    }

    /// Inputs the `asf_bits` fuzz target found (tools/fuzz): stripping and
    /// re-padding must keep what the packet says.
    #[test]
    fn fuzz_regressions_keep_packet_meaning() {
        for data in [
            &include_bytes!("../tests/fuzz_regressions/asf_bits-strip-adds-length.bin")[..],
            &include_bytes!("../tests/fuzz_regressions/asf_bits-multi-payload-in-padding.bin")[..],
        ] {
            let size = data.len() + usize::from(data[0]);
            let full = repad(data, size).expect("pads");
            let stripped = strip_padding(&full).expect("strips");
            let again = repad(&stripped, size).expect("pads back");
            assert_eq!(send_time(&again), send_time(&full));
            assert_eq!(
                starts_key_frame(&again, &[1, 2]),
                starts_key_frame(&full, &[1, 2])
            );
        }
    }

    #[test]
    fn malformed_input_gives_none_not_panic() {
        for len in 0..40 {
            let junk = vec![0xFF; len];
            let _ = repad(&junk, 64);
            let _ = strip_padding(&junk);
            let _ = starts_key_frame(&junk, &[1]);
            let _ = header_facts(&junk);
        }
        assert!(repad(&[0u8; 100], 50).is_none());
    }
}
