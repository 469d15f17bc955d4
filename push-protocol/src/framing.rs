//! MS-WMHTTP push framing: the 4-byte framing header in front of every packet of a PushStart body.
//!
//! MS-WMHTTP 2.2.3 (framing header, shared with MS-WMSP 2.2.3.1):
//!
//! | Byte(s) | Field | Push rule |
//! |---|---|---|
//! | 0 | B (bit 7) + Frame (0x24) | B MUST be 0, so the byte is `$` |
//! | 1 | PacketID | `H` `D` `E` `C` `F` |
//! | 2-3 | PacketLength (u16 LE) | bytes after this field: Reason (if any) + payload |
//! | 4-7 | Reason (u32 LE) | only in `$E` and `$C` |
//!
//! Limits (MS-WMHTTP 2.2.3.1-2.2.3.5): `$H`, `$D` and `$F` payloads at most 65,531 bytes; the `$C`
//! header at most 65,527 bytes (65,535 - 4 header - 4 Reason); `$E` is exactly 8 bytes.
//!
//! Encoders append to caller buffers; [`write_frame_header`] writes the 4-byte header into headroom
//! already reserved in front of a packet, for zero-copy sends. [`PushFrameDecoder`] is a streaming
//! decoder: feed it arbitrary chunks, it yields the same frames whatever the chunking.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::Error;

/// Size of the push framing header.
pub const FRAME_HEADER_LEN: usize = 4;
/// Largest `$H`, `$D` or `$F` payload (MS-WMHTTP 2.2.3: 65,535 minus the 4-byte header).
pub const MAX_PAYLOAD: usize = 65_531;
/// Largest ASF file header in a `$C` (MS-WMHTTP 2.2.3.4: 65,535 - 4 header - 4 Reason).
pub const MAX_CHANGE_HEADER: usize = 65_527;
/// Size of an `$E` packet (MS-WMHTTP 2.2.3.3).
pub const END_PACKET_LEN: usize = 8;
/// `$E` Reason: the session is over (S_OK).
pub const REASON_END_OF_SESSION: u32 = 0;
/// `$E` Reason: this playlist entry is over and a `$C` follows (S_FALSE).
pub const REASON_ENTRY_CHANGE: u32 = 1;

/// ASF Header Object GUID as it appears on the wire (ASF 3.1). Kept local so push-protocol only
/// needs these 16 bytes from the ASF format.
pub const ASF_HEADER_GUID: [u8; 16] = [
    0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];

/// The packet types of a push body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushFrameKind {
    /// `$H`: ASF header object plus the first 50 bytes of the Data Object.
    Header,
    /// `$D`: one ASF data packet.
    Data,
    /// `$E`: end of stream, with a Reason.
    End,
    /// `$C`: stream change, with a Reason and a new ASF file header.
    Change,
    /// `$F`: filler, ignored.
    Fill,
}

impl PushFrameKind {
    /// The PacketID byte.
    pub fn id(self) -> u8 {
        match self {
            PushFrameKind::Header => b'H',
            PushFrameKind::Data => b'D',
            PushFrameKind::End => b'E',
            PushFrameKind::Change => b'C',
            PushFrameKind::Fill => b'F',
        }
    }

    /// The kind for a PacketID byte, if it is one push uses.
    pub fn from_id(id: u8) -> Option<PushFrameKind> {
        Some(match id {
            b'H' => PushFrameKind::Header,
            b'D' => PushFrameKind::Data,
            b'E' => PushFrameKind::End,
            b'C' => PushFrameKind::Change,
            b'F' => PushFrameKind::Fill,
            _ => return None,
        })
    }
}

/// One decoded push packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushFrame {
    /// Packet type.
    pub kind: PushFrameKind,
    /// Reason of `$E` and `$C`, `None` for the others.
    pub reason: Option<u32>,
    /// Payload after the header and Reason (preheader removed when one was sniffed).
    pub payload: Bytes,
    /// Whether this frame carried the 8-byte MMS preheader some senders add.
    pub had_preheader: bool,
    /// Byte offset of the frame's first byte in the decoded stream.
    pub offset: u64,
    /// Bytes the frame occupied on the wire (header included).
    pub wire_len: usize,
}

fn put_header(out: &mut Vec<u8>, kind: PushFrameKind, packet_length: usize) {
    out.push(b'$');
    out.push(kind.id());
    out.extend_from_slice(&(packet_length as u16).to_le_bytes());
}

/// Appends `$H` + `header` (ASF header object + first 50 bytes of the Data Object).
///
/// MS-WMHTTP 2.2.3.1: at most 65,531 bytes; push cannot fragment a header.
pub fn encode_header(header: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    encode_plain(PushFrameKind::Header, header, out)
}

/// Appends `$D` + one data packet (padding preferably stripped, see [`strip_padding`]).
pub fn encode_data(packet: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    encode_plain(PushFrameKind::Data, packet, out)
}

/// Checks that a payload of `len` bytes fits one push frame of `kind` (MS-WMHTTP 2.2.3.1:
/// at most [`MAX_PAYLOAD`] bytes).
pub fn check_payload_len(kind: PushFrameKind, len: usize) -> Result<(), Error> {
    if len > MAX_PAYLOAD {
        return Err(Error::TooLarge {
            what: match kind {
                PushFrameKind::Header => "$H payload",
                PushFrameKind::Data => "$D payload",
                _ => "$F payload",
            },
            len,
            limit: MAX_PAYLOAD,
        });
    }
    Ok(())
}

fn encode_plain(kind: PushFrameKind, payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    check_payload_len(kind, payload.len())?;
    out.reserve(FRAME_HEADER_LEN + payload.len());
    put_header(out, kind, payload.len());
    out.extend_from_slice(payload);
    Ok(())
}

/// Appends the 8-byte `$E` with `reason` (0 end of session, 1 a `$C` follows, else an HRESULT).
pub fn encode_end(reason: u32, out: &mut Vec<u8>) {
    put_header(out, PushFrameKind::End, 4);
    out.extend_from_slice(&reason.to_le_bytes());
}

/// Appends `$C` with Reason 0 and the new ASF file header (MS-WMHTTP 2.2.3.4: at most 65,527 bytes).
pub fn encode_change(header: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    if header.len() > MAX_CHANGE_HEADER {
        return Err(Error::TooLarge {
            what: "$C header",
            len: header.len(),
            limit: MAX_CHANGE_HEADER,
        });
    }
    put_header(out, PushFrameKind::Change, header.len() + 4);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(header);
    Ok(())
}

/// Appends `$F` packets (zero payload) totalling exactly `total` bytes on the wire.
///
/// MS-WMHTTP 3.1.5.4: the client fills the rest of a PushStart's Content-Length with `$F`.
/// Every `$F` needs at least its 4-byte header, so `total` must be 0 or at least 4.
pub fn encode_fill(total: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    if total > 0 && total < FRAME_HEADER_LEN {
        return Err(Error::Misuse("$F fill of 1 to 3 bytes cannot be framed"));
    }
    let mut left = total;
    while left > 0 {
        let frame = left.min(FRAME_HEADER_LEN + MAX_PAYLOAD);
        // Never leave 1..3 bytes that no frame could fill.
        let frame = if left - frame > 0 && left - frame < FRAME_HEADER_LEN {
            frame - FRAME_HEADER_LEN
        } else {
            frame
        };
        put_header(out, PushFrameKind::Fill, frame - FRAME_HEADER_LEN);
        out.resize(out.len() + frame - FRAME_HEADER_LEN, 0);
        left -= frame;
    }
    Ok(())
}

/// Writes a 4-byte framing header into `buf[..4]` for the payload already in `buf[4..]`.
///
/// For zero-copy sends: the packet was written after 4 bytes of headroom. Only `$H`, `$D` and `$F`
/// (no Reason field) can be framed this way.
pub fn write_frame_header(kind: PushFrameKind, buf: &mut [u8]) -> Result<(), Error> {
    if matches!(kind, PushFrameKind::End | PushFrameKind::Change) {
        return Err(Error::Misuse(
            "$E and $C carry a Reason; use encode_end/encode_change",
        ));
    }
    if buf.len() < FRAME_HEADER_LEN {
        return Err(Error::Misuse("no 4-byte headroom in front of the packet"));
    }
    let len = buf.len() - FRAME_HEADER_LEN;
    if len > MAX_PAYLOAD {
        return Err(Error::TooLarge {
            what: "push payload",
            len,
            limit: MAX_PAYLOAD,
        });
    }
    buf[0] = b'$';
    buf[1] = kind.id();
    buf[2..4].copy_from_slice(&(len as u16).to_le_bytes());
    Ok(())
}

/// Strips the padding of an ASF data packet in place and returns its new length.
///
/// MS-WMHTTP 2.2.3.2: the Padding Data of a `$D` SHOULD be removed and the Padding Length field
/// set to 0. `packet` holds the whole packet as written (its first `packet_size` bytes are the
/// packet). The packet is parsed and validated with asf-format (ASF 5.2), so the cut is where its
/// last payload ends, whichever form the length fields take (explicit padding, implicit padding
/// after a short Packet Length, or GStreamer asfmux's Packet Length + Padding Length = packet
/// size); the Padding Length field is rewritten to 0 and a Packet Length field to the new
/// length, both in place and keeping their widths. A packet with neither field cannot state a
/// shorter length and keeps its length. Anything that does not parse is an error and is left
/// unchanged.
pub fn strip_padding(packet: &mut [u8], packet_size: usize) -> Result<usize, Error> {
    let bad = |what| Error::Malformed { what, offset: 0 };
    let len = packet.len().min(packet_size);
    let size = u32::try_from(len).map_err(|_| bad("data packet longer than 4 GiB"))?;
    if size == 0 {
        return Err(bad("empty data packet"));
    }
    let (new_len, length_at, length_w, padding_at, padding_w) = {
        let view = asf_format::packet::PacketView::parse(&packet[..len], size, 0)
            .map_err(|_| bad("data packet does not parse (ASF 5.2)"))?;
        let ltf = view.length_type_flags();
        // ASF 5.2.1/5.2.2: [EC flags + data] Length Type Flags, Property Flags, Packet Length,
        // Sequence, Padding Length.
        let flags_at = view
            .error_correction()
            .map_or(0, |(_, data)| 1 + data.len());
        let length_at = flags_at + 2;
        let length_w = ltf.packet_length_type().size();
        let padding_at = length_at + length_w + ltf.sequence_type().size();
        (
            len - view.padding().len(),
            length_at,
            length_w,
            padding_at,
            ltf.padding_length_type().size(),
        )
    };
    if (padding_w == 0 && length_w == 0) || new_len == len {
        return Ok(len);
    }
    if length_w > 0 {
        if length_w < 4 && new_len >> (8 * length_w) != 0 {
            return Err(bad("new Packet Length does not fit its field"));
        }
        let bytes = (new_len as u32).to_le_bytes();
        packet[length_at..length_at + length_w].copy_from_slice(&bytes[..length_w]);
    }
    packet[padding_at..padding_at + padding_w].fill(0);
    Ok(new_len)
}

/// Streaming decoder of a push body: feed any chunking with [`push`](Self::push), then call
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)`.
///
/// On `$H` it sniffs the 8-byte MMS preheader some senders add (the ASF header GUID at offset 8
/// instead of 0) and, once seen, strips the preheader from later `$H`, `$D` and `$C` payloads too.
/// After an error the decoder stays failed.
#[derive(Debug, Default)]
pub struct PushFrameDecoder {
    buf: BytesMut,
    offset: u64,
    preheader: bool,
    failed: Option<Error>,
}

impl PushFrameDecoder {
    /// A decoder at stream offset 0.
    pub fn new() -> PushFrameDecoder {
        PushFrameDecoder::default()
    }

    /// Appends input bytes. The buffer never holds more than one frame plus this chunk.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Stream offset of the next undecoded byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the sender was seen to use the 8-byte preheader variant.
    pub fn uses_preheader(&self) -> bool {
        self.preheader
    }

    /// How many more bytes complete the frame being buffered (0 when one is complete or nothing
    /// is buffered and the next header is unknown; 4 - buffered while the header is incomplete).
    pub fn needed(&self) -> usize {
        if self.buf.len() < FRAME_HEADER_LEN {
            return FRAME_HEADER_LEN - self.buf.len();
        }
        let total = FRAME_HEADER_LEN + u16::from_le_bytes([self.buf[2], self.buf[3]]) as usize;
        total.saturating_sub(self.buf.len())
    }

    /// The next complete frame, `Ok(None)` if more input is needed.
    pub fn next_frame(&mut self) -> Result<Option<PushFrame>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.decode() {
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
            ok => ok,
        }
    }

    fn decode(&mut self) -> Result<Option<PushFrame>, Error> {
        if self.buf.len() < FRAME_HEADER_LEN {
            return Ok(None);
        }
        let offset = self.offset;
        let malformed = |what| Error::Malformed { what, offset };
        // MS-WMHTTP 2.2.3: B MUST be 0 in push, Frame is 0x24.
        if self.buf[0] != b'$' {
            return Err(malformed(if self.buf[0] == 0xA4 {
                "framing header with B=1 (push requires B=0)"
            } else {
                "framing header: first byte is not 0x24"
            }));
        }
        let kind = PushFrameKind::from_id(self.buf[1]).ok_or(malformed(
            "framing header: PacketID is not one of H, D, E, C, F",
        ))?;
        let length = u16::from_le_bytes([self.buf[2], self.buf[3]]) as usize;
        match kind {
            PushFrameKind::End if length != 4 => {
                return Err(malformed("$E PacketLength is not 4"));
            }
            PushFrameKind::Change if length < 4 => {
                return Err(malformed("$C PacketLength is below 4"));
            }
            PushFrameKind::Header | PushFrameKind::Data | PushFrameKind::Fill
                if length > MAX_PAYLOAD =>
            {
                return Err(Error::TooLarge {
                    what: "push payload",
                    len: length,
                    limit: MAX_PAYLOAD,
                });
            }
            _ => {}
        }
        let wire_len = FRAME_HEADER_LEN + length;
        if self.buf.len() < wire_len {
            return Ok(None);
        }
        let mut frame = self.buf.split_to(wire_len);
        self.offset += wire_len as u64;
        frame.advance(FRAME_HEADER_LEN);
        let reason = if matches!(kind, PushFrameKind::End | PushFrameKind::Change) {
            let r = frame.get_u32_le();
            Some(r)
        } else {
            None
        };
        let mut payload = frame.freeze();
        let mut had_preheader = false;
        if kind == PushFrameKind::Header {
            // Sniff: the ASF header GUID at 0 (MS-WMHTTP) or at 8 (MMS preheader, as PeerCast assumes).
            if !payload.starts_with(&ASF_HEADER_GUID)
                && payload.len() >= 8 + 16
                && payload[8..24] == ASF_HEADER_GUID
            {
                self.preheader = true;
            }
        }
        if self.preheader && matches!(kind, PushFrameKind::Header | PushFrameKind::Data) {
            if payload.len() < 8 {
                return Err(malformed("packet shorter than its 8-byte preheader"));
            }
            payload.advance(8);
            had_preheader = true;
        }
        Ok(Some(PushFrame {
            kind,
            reason,
            payload,
            had_preheader,
            offset,
            wire_len,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_hits_exact_totals() {
        for total in [
            0usize, 4, 5, 8, 65_535, 65_536, 65_538, 65_539, 131_070, 200_000,
        ] {
            let mut out = Vec::new();
            encode_fill(total, &mut out).expect("fillable");
            assert_eq!(out.len(), total, "total {total}");
            let mut d = PushFrameDecoder::new();
            d.push(&out);
            let mut seen = 0;
            while let Some(f) = d.next_frame().expect("valid") {
                assert_eq!(f.kind, PushFrameKind::Fill);
                seen += f.wire_len;
            }
            assert_eq!(seen, total);
        }
        assert!(encode_fill(3, &mut Vec::new()).is_err());
    }

    /// A single-payload packet: EC `82 00 00`, Length Type Flags `ltf`, Property Flags 0x5D
    /// (stream byte, object number byte, offset dword, replicated length byte), the given
    /// Packet Length / Padding Length fields, then one payload filling up to `used` bytes.
    fn packet(ltf: u8, fields: &[u8], used: usize, size: usize) -> Vec<u8> {
        let mut p = vec![0x82, 0, 0, ltf, 0x5D];
        p.extend_from_slice(fields);
        p.extend_from_slice(&1234u32.to_le_bytes());
        p.extend_from_slice(&40u16.to_le_bytes());
        p.extend_from_slice(&[0x82, 7, 0, 0, 0, 0, 0]);
        p.resize(used, 0xAB);
        p.resize(size, 0);
        p
    }

    #[test]
    fn strip_padding_rewrites_fields() {
        // Padding Length a byte (bits 3-4 = 01), no Packet Length: 30 bytes of padding.
        let mut p = packet(0x08, &[30], 70, 100);
        assert_eq!(strip_padding(&mut p, 100).expect("valid"), 70);
        assert_eq!(p[5], 0);
        let again = asf_format::packet::PacketView::parse(&p[..70], 70, 0).expect("parses");
        assert_eq!((again.padding_length(), again.send_time()), (0, 1234));
        // Packet Length a word (bits 5-6 = 10) + Padding Length a word: both rewritten.
        let mut q = packet(0x50, &[100, 0, 20, 0], 80, 100);
        assert_eq!(strip_padding(&mut q, 100).expect("valid"), 80);
        assert_eq!(&q[5..9], &[80, 0, 0, 0]);
        // GStreamer asfmux: Packet Length 80 + Padding Length 20 = 100, padding after 80.
        let mut g = packet(0x50, &[80, 0, 20, 0], 80, 100);
        assert_eq!(strip_padding(&mut g, 100).expect("valid"), 80);
        assert_eq!(&g[5..9], &[80, 0, 0, 0]);
        asf_format::packet::PacketView::parse(&g[..80], 80, 0).expect("parses");
        // No padding: unchanged.
        let mut n = packet(0x08, &[0], 100, 100);
        assert_eq!(strip_padding(&mut n, 100).expect("valid"), 100);
        // Padding larger than the packet: an error, the packet untouched.
        let mut r = packet(0x08, &[200], 100, 100);
        let before = r.clone();
        assert!(strip_padding(&mut r, 100).is_err());
        assert_eq!(r, before);
        assert!(strip_padding(&mut [], 0).is_err());
    }
}
