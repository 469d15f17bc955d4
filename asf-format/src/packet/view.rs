//! Zero-copy views of data packets and payloads.

use super::read_var;
use super::{EXTENSION_SIZE_VARIABLE, ExtensionSize, FieldWidth, LengthTypeFlags, PropertyFlags};
use crate::error::{Error, Result};
use crate::reader::Reader;

const OBJ: &str = "data packet";

/// A validated data packet borrowed from its bytes (ASF 5.2). Parsing checks every field and
/// every payload once, without allocating; afterwards the accessors and
/// [`payloads`](PacketView::payloads) cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketView<'a> {
    buf: &'a [u8],
    base: u64,
    ec_len: u8,
    length_type_flags: LengthTypeFlags,
    property_flags: PropertyFlags,
    packet_length: u32,
    sequence: u32,
    padding_length: u32,
    send_time: u32,
    duration: u16,
    payload_flags: u8,
    payloads_start: u32,
    payloads_end: u32,
    region_end: u32,
}

impl<'a> PacketView<'a> {
    /// Parses the packet at the start of `buf` (which must hold at least `packet_size` bytes;
    /// only the first `packet_size` are read). `base` is the absolute offset of `buf[0]`, used
    /// in errors.
    ///
    /// ASF 5.2: the packet size comes from File Properties (Minimum = Maximum Data Packet Size).
    /// A Packet Length field smaller than the packet size makes the rest of the packet padding
    /// (as VLC and FFmpeg read it); a larger one is an error.
    #[inline]
    pub fn parse(buf: &'a [u8], packet_size: u32, base: u64) -> Result<Self> {
        Self::parse_each(buf, packet_size, base, |_| {})
    }

    /// The single-pass fast path: parses and validates exactly like [`parse`](Self::parse),
    /// handing each payload to `visit` as soon as it is validated (no second walk, no
    /// allocation). If the packet turns out to be malformed, `visit` has seen the payloads
    /// before the bad one and the error is returned.
    #[inline]
    pub fn parse_each(
        buf: &'a [u8],
        packet_size: u32,
        base: u64,
        mut visit: impl FnMut(&PayloadView<'a>),
    ) -> Result<Self> {
        if packet_size == 0 {
            return Err(Error::InvalidArgument("packet size must not be 0"));
        }
        let size = packet_size as usize;
        if buf.len() < size {
            return Err(Error::Truncated {
                offset: base + buf.len() as u64,
                object: OBJ,
                needed: (size - buf.len()) as u64,
            });
        }
        let buf = &buf[..size];
        let mut c = Reader::new(buf, base, OBJ);
        let first = c.u8()?;
        let mut ec_len = 0u8;
        let ltf_byte = if first & 0x80 != 0 {
            // ASF 5.2.1: Error Correction Length Type must be 00, and then the length is bits
            // 0-3 (2 in practice). Other length types are reserved.
            if (first >> 5) & 3 != 0 {
                return Err(Error::Malformed {
                    offset: base,
                    object: OBJ,
                    reason: "error correction length type is not 00",
                });
            }
            ec_len = first & 0x0F;
            c.bytes(ec_len as usize)?;
            c.u8()?
        } else {
            first
        };
        let ltf = LengthTypeFlags(ltf_byte);
        let pf = PropertyFlags(c.u8()?);
        let len_off = c.offset();
        let packet_length = read_var(&mut c, ltf.packet_length_type())?;
        let sequence = read_var(&mut c, ltf.sequence_type())?;
        let pad_off = c.offset();
        let padding_length = read_var(&mut c, ltf.padding_length_type())?;
        let send_time = c.u32()?;
        let duration = c.u16()?;
        // ASF 5.2.2: with the Packet Length field present it gives the packet's length; a
        // shorter value means implicit padding up to the fixed packet size.
        let declared_len = if ltf.packet_length_type() == FieldWidth::Absent {
            None
        } else {
            if packet_length > packet_size {
                return Err(Error::Malformed {
                    offset: len_off,
                    object: OBJ,
                    reason: "packet length is larger than the packet size",
                });
            }
            Some(packet_length as usize)
        };
        let payload_flags = if ltf.multiple_payloads() { c.u8()? } else { 0 };
        let payloads_start = c.position();
        let region_end = match super::payload_area_end(size, declared_len, padding_length as usize)
        {
            Some(end) if end >= payloads_start => end,
            _ => {
                return Err(Error::Malformed {
                    offset: pad_off,
                    object: OBJ,
                    reason: "packet length and padding length leave no room for the packet header",
                });
            }
        };
        let mut view = PacketView {
            buf,
            base,
            ec_len,
            length_type_flags: ltf,
            property_flags: pf,
            packet_length,
            sequence,
            padding_length,
            send_time,
            duration,
            payload_flags,
            payloads_start: payloads_start as u32,
            payloads_end: payloads_start as u32,
            region_end: region_end as u32,
        };
        // Validate every payload once; remember where they end.
        let mut it = view.raw_payloads();
        while let Some(p) = it.try_next()? {
            if p.is_compressed() {
                validate_sub_payloads(p.data, p.data_offset)?;
            }
            visit(&p);
        }
        view.payloads_end = it.pos as u32;
        Ok(view)
    }

    #[inline]
    fn raw_payloads(&self) -> Payloads<'a> {
        let multi = self.length_type_flags.multiple_payloads();
        Payloads {
            buf: self.buf,
            base: self.base,
            pos: self.payloads_start as usize,
            end: self.region_end as usize,
            remaining: if multi {
                u32::from(self.payload_flags & 0x3F)
            } else {
                1
            },
            multi,
            payload_length_type: FieldWidth::from_bits(self.payload_flags >> 6),
            property_flags: self.property_flags,
            send_time: self.send_time,
        }
    }

    /// The packet's payloads, in order. Never fails (the packet was validated by `parse`) and
    /// never allocates.
    #[inline]
    pub fn payloads(&self) -> Payloads<'a> {
        self.raw_payloads()
    }

    /// The whole packet (`packet_size` bytes).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// Absolute offset of the packet's first byte.
    pub fn offset(&self) -> u64 {
        self.base
    }
    /// The Error Correction Flags byte and the error-correction data after it, if present.
    pub fn error_correction(&self) -> Option<(u8, &'a [u8])> {
        if self.buf[0] & 0x80 != 0 {
            Some((self.buf[0], &self.buf[1..1 + self.ec_len as usize]))
        } else {
            None
        }
    }
    /// The Length Type Flags byte.
    pub fn length_type_flags(&self) -> LengthTypeFlags {
        self.length_type_flags
    }
    /// The Property Flags byte.
    pub fn property_flags(&self) -> PropertyFlags {
        self.property_flags
    }
    /// The Packet Length field (0 when absent).
    pub fn packet_length(&self) -> u32 {
        self.packet_length
    }
    /// The Sequence field (0 when absent).
    pub fn sequence(&self) -> u32 {
        self.sequence
    }
    /// The Padding Length field (0 when absent).
    pub fn padding_length(&self) -> u32 {
        self.padding_length
    }
    /// Send Time, ms.
    pub fn send_time(&self) -> u32 {
        self.send_time
    }
    /// Duration, ms.
    pub fn duration(&self) -> u16 {
        self.duration
    }
    /// Whether a multiple-payloads block follows the header.
    pub fn has_multiple_payloads(&self) -> bool {
        self.length_type_flags.multiple_payloads()
    }
    /// The Payload Flags byte (multiple payloads only; 0 otherwise).
    pub fn payload_flags(&self) -> u8 {
        self.payload_flags
    }
    /// Number of payloads.
    pub fn payload_count(&self) -> u32 {
        if self.has_multiple_payloads() {
            u32::from(self.payload_flags & 0x3F)
        } else {
            1
        }
    }
    /// Everything after the last payload: explicit padding plus, when the Packet Length field
    /// is smaller than the packet size, the implicit padding after it.
    pub fn padding(&self) -> &'a [u8] {
        &self.buf[self.payloads_end as usize..]
    }
    /// Offset of the first payload header within the packet (= header length).
    pub fn header_len(&self) -> usize {
        self.payloads_start as usize
    }
}

/// Iterator over consecutive fixed-size packets in one buffer (e.g. the packets of a Data
/// Object), yielding each parsed [`PacketView`]; a trailing partial packet yields a
/// `Truncated` error and ends the iteration. Allocation-free.
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    buf: &'a [u8],
    packet_size: u32,
    base: u64,
    pos: usize,
    failed: bool,
}

impl<'a> Packets<'a> {
    /// Packets of `packet_size` bytes in `buf`, whose first byte is at absolute offset `base`.
    pub fn new(buf: &'a [u8], packet_size: u32, base: u64) -> Self {
        Packets {
            buf,
            packet_size,
            base,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<PacketView<'a>>;
    #[inline]
    fn next(&mut self) -> Option<Result<PacketView<'a>>> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = PacketView::parse(
            &self.buf[self.pos..],
            self.packet_size,
            self.base + self.pos as u64,
        );
        match &r {
            Ok(_) => self.pos += self.packet_size as usize,
            Err(_) => self.failed = true,
        }
        Some(r)
    }
}

/// Iterator over the payloads of a [`PacketView`]; allocation-free.
#[derive(Debug, Clone)]
pub struct Payloads<'a> {
    buf: &'a [u8],
    base: u64,
    pos: usize,
    end: usize,
    remaining: u32,
    multi: bool,
    payload_length_type: FieldWidth,
    property_flags: PropertyFlags,
    send_time: u32,
}

#[inline(always)]
fn rd(buf: &[u8], pos: &mut usize, w: FieldWidth) -> Option<u32> {
    let v = match w {
        FieldWidth::Absent => 0,
        FieldWidth::Byte => u32::from(*buf.get(*pos)?),
        FieldWidth::Word => {
            let s = buf.get(*pos..*pos + 2)?;
            u32::from(u16::from_le_bytes([s[0], s[1]]))
        }
        FieldWidth::Dword => {
            let s = buf.get(*pos..*pos + 4)?;
            u32::from_le_bytes([s[0], s[1], s[2], s[3]])
        }
    };
    *pos += w.size();
    Some(v)
}

impl<'a> Payloads<'a> {
    #[cold]
    #[inline(never)]
    fn truncated(&self, pos: usize) -> Error {
        Error::Truncated {
            offset: self.base + pos as u64,
            object: "payload",
            needed: 1,
        }
    }

    /// Decodes the next payload header with plain slice reads (the hot path); errors carry the
    /// absolute offset where the payload stopped making sense. Always inlined: in
    /// [`Iterator::next`] the error paths are then dead and vanish.
    #[inline(always)]
    fn try_next(&mut self) -> Result<Option<PayloadView<'a>>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        let pf = self.property_flags;
        let buf = &self.buf[..self.end];
        let mut pos = self.pos;
        let Some(&sn) = buf.get(pos) else {
            return Err(self.truncated(pos));
        };
        pos += 1;
        let (Some(media_object_number), Some(offset_into_media_object), Some(repl_len)) = (
            rd(buf, &mut pos, pf.media_object_number_type()),
            rd(buf, &mut pos, pf.offset_into_media_object_type()),
            rd(buf, &mut pos, pf.replicated_data_length_type()),
        ) else {
            return Err(self.truncated(pos));
        };
        let repl_len = repl_len as usize;
        let repl_pos = pos;
        let Some(replicated_data) = buf.get(pos..pos + repl_len) else {
            return Err(self.truncated(pos));
        };
        pos += repl_len;
        // ASF 5.2.3.1: replicated data of 2..7 bytes is invalid (VLC skips such payloads); we
        // reject it so it is never mistaken for a size and a time.
        if (2..8).contains(&repl_len) {
            return Err(Error::Malformed {
                offset: self.base + repl_pos as u64,
                object: "payload",
                reason: "replicated data length is 2..7 (neither compressed nor size+time)",
            });
        }
        let data_len = if self.multi {
            let Some(l) = rd(buf, &mut pos, self.payload_length_type) else {
                return Err(self.truncated(pos));
            };
            let l = l as usize;
            if l > buf.len() - pos {
                return Err(Error::Malformed {
                    offset: self.base + pos as u64,
                    object: "payload",
                    reason: "payload length runs past the packet's payload area",
                });
            }
            l
        } else {
            buf.len() - pos
        };
        let data = &buf[pos..pos + data_len];
        let data_pos = pos;
        self.pos = pos + data_len;
        Ok(Some(PayloadView {
            stream_number: sn & 0x7F,
            key_frame: sn & 0x80 != 0,
            media_object_number,
            offset_into_media_object,
            replicated_data,
            data,
            media_object_number_type: pf.media_object_number_type(),
            replicated_offset: self.base + repl_pos as u64,
            data_offset: self.base + data_pos as u64,
            packet_send_time: self.send_time,
        }))
    }
}

impl<'a> Iterator for Payloads<'a> {
    type Item = PayloadView<'a>;
    #[inline]
    fn next(&mut self) -> Option<PayloadView<'a>> {
        // The packet was validated when the view was made, so this cannot fail; a failure
        // would end the iteration rather than panic.
        self.try_next().ok().flatten()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

/// One payload of a packet (ASF 5.2.3), borrowed.
///
/// | Field | Size |
/// |---|---|
/// | Stream Number | BYTE: bits 0-6 stream, bit 7 key frame |
/// | Media Object Number | per Property Flags |
/// | Offset Into Media Object (Presentation Time when compressed) | per Property Flags |
/// | Replicated Data Length | per Property Flags |
/// | Replicated Data | that many bytes |
/// | Payload Length | multiple payloads only, per Payload Flags |
/// | Payload Data | |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadView<'a> {
    /// Stream number, 1..127 (bits 0-6 of the first byte).
    pub stream_number: u8,
    /// Key frame (cleanpoint) bit, bit 7 of the first byte.
    pub key_frame: bool,
    /// Media Object Number.
    pub media_object_number: u32,
    /// Offset Into Media Object; for a compressed payload, the Presentation Time (ms).
    pub offset_into_media_object: u32,
    /// The replicated data, raw.
    pub replicated_data: &'a [u8],
    /// The payload data.
    pub data: &'a [u8],
    pub(super) media_object_number_type: FieldWidth,
    pub(super) replicated_offset: u64,
    pub(super) data_offset: u64,
    pub(super) packet_send_time: u32,
}

impl<'a> PayloadView<'a> {
    /// The Send Time of the packet the payload is in (0 for a payload not read from a
    /// packet).
    pub fn packet_send_time(&self) -> u32 {
        self.packet_send_time
    }

    /// Replicated data length 1: a compressed payload (ASF 5.2.3.3) holding whole sub-payloads.
    pub fn is_compressed(&self) -> bool {
        self.replicated_data.len() == 1
    }
    /// Media Object Size (replicated data bytes 0..4), when replicated data has at least 8 bytes.
    pub fn media_object_size(&self) -> Option<u32> {
        repl_u32(self.replicated_data, 0)
    }
    /// Presentation time in ms (includes the preroll): replicated data bytes 4..8, or the
    /// Offset Into Media Object field of a compressed payload. `None` when the replicated data
    /// is empty (a reader then uses the packet's send time, as VLC does).
    pub fn presentation_time(&self) -> Option<u32> {
        if self.is_compressed() {
            Some(self.offset_into_media_object)
        } else {
            repl_u32(self.replicated_data, 4)
        }
    }
    /// The Presentation Time Delta of a compressed payload (its one replicated byte).
    pub fn presentation_time_delta(&self) -> Option<u8> {
        if self.is_compressed() {
            Some(self.replicated_data[0])
        } else {
            None
        }
    }
    /// Offset Into Media Object, for an uncompressed payload.
    pub fn offset_into_media_object(&self) -> Option<u32> {
        (!self.is_compressed()).then_some(self.offset_into_media_object)
    }
    /// Absolute offset of the payload data in the input.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }
    /// Sub-payloads of a compressed payload (ASF 5.2.3.3): sub-payload *n* has presentation
    /// time PT + n × delta and media object number MON + n. Empty for an uncompressed payload.
    pub fn sub_payloads(&self) -> SubPayloads<'a> {
        SubPayloads {
            data: if self.is_compressed() { self.data } else { &[] },
            pos: 0,
            presentation_time: self.offset_into_media_object,
            delta: self.replicated_data.first().copied().unwrap_or(0),
            media_object_number: self.media_object_number,
            mask: self.media_object_number_type.max_value(),
        }
    }
    /// The payload-extension data after the media object size and presentation time, split per
    /// the stream's payload extension systems (`sizes` in declared order, from its Extended
    /// Stream Properties). ASF 7.3 / asf-format.md §2.3: fixed-size systems take exactly their
    /// size; variable ones (0xFFFF) are prefixed with a WORD length.
    pub fn extensions<'s>(&self, sizes: &'s [ExtensionSize]) -> Extensions<'a, 's> {
        Extensions {
            data: self.replicated_data.get(8..).unwrap_or(&[]),
            base: self.replicated_offset + 8,
            sizes,
            index: 0,
            pos: 0,
            done: self.replicated_data.len() < 8,
        }
    }
}

fn repl_u32(r: &[u8], at: usize) -> Option<u32> {
    let b = r.get(at..at + 4)?;
    if r.len() < 8 {
        return None;
    }
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn validate_sub_payloads(data: &[u8], base: u64) -> Result<()> {
    let mut pos = 0usize;
    while pos < data.len() {
        let len = data[pos] as usize;
        if len > data.len() - pos - 1 {
            return Err(Error::Malformed {
                offset: base + pos as u64,
                object: "compressed payload",
                reason: "sub-payload length runs past the payload",
            });
        }
        pos += 1 + len;
    }
    Ok(())
}

/// One sub-payload of a compressed payload: a complete media object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubPayload<'a> {
    /// Presentation time, ms: the payload's PT + n × delta.
    pub presentation_time: u32,
    /// Media object number: the payload's number + n (wrapping at the field's width).
    pub media_object_number: u32,
    /// The media object's bytes.
    pub data: &'a [u8],
}

/// Iterator over the sub-payloads of a compressed payload.
#[derive(Debug, Clone)]
pub struct SubPayloads<'a> {
    data: &'a [u8],
    pos: usize,
    presentation_time: u32,
    delta: u8,
    media_object_number: u32,
    mask: u32,
}

impl<'a> Iterator for SubPayloads<'a> {
    type Item = SubPayload<'a>;
    fn next(&mut self) -> Option<SubPayload<'a>> {
        let len = *self.data.get(self.pos)? as usize;
        let data = self.data.get(self.pos + 1..self.pos + 1 + len)?;
        self.pos += 1 + len;
        let item = SubPayload {
            presentation_time: self.presentation_time,
            media_object_number: self.media_object_number & self.mask,
            data,
        };
        self.presentation_time = self.presentation_time.wrapping_add(u32::from(self.delta));
        self.media_object_number = self.media_object_number.wrapping_add(1);
        Some(item)
    }
}

/// Iterator over the payload-extension data of one payload, one item per declared system.
#[derive(Debug, Clone)]
pub struct Extensions<'a, 's> {
    data: &'a [u8],
    base: u64,
    sizes: &'s [ExtensionSize],
    index: usize,
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Extensions<'a, '_> {
    type Item = Result<&'a [u8]>;
    fn next(&mut self) -> Option<Result<&'a [u8]>> {
        if self.done {
            return None;
        }
        let Some(&size) = self.sizes.get(self.index) else {
            self.done = true;
            if self.pos != self.data.len() {
                return Some(Err(Error::Malformed {
                    offset: self.base + self.pos as u64,
                    object: "replicated data",
                    reason: "bytes left after the declared payload extension systems",
                }));
            }
            return None;
        };
        self.index += 1;
        let mut c = Reader::new(
            &self.data[self.pos..],
            self.base + self.pos as u64,
            "replicated data",
        );
        let r = (|| {
            let len = if size == EXTENSION_SIZE_VARIABLE {
                c.u16()? as usize
            } else {
                size as usize
            };
            c.bytes(len)
        })();
        match r {
            Ok(s) => {
                self.pos += c.position();
                Some(Ok(s))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
