//! The owned data-packet model and its writer.

use bytes::{BufMut, Bytes};

use super::view::{PacketView, validate_sub_payloads};
use super::{
    ExtensionSize, Extensions, FieldWidth, LengthTypeFlags, PropertyFlags, SubPayloads, put_var,
};
use crate::error::{Error, Result};

/// Error Correction Data at the start of a packet (ASF 5.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorCorrection {
    /// The Error Correction Flags byte: bit 7 set, length type (bits 5-6) 00, data length in
    /// bits 0-3, opaque-data bit 4.
    pub flags: u8,
    /// The error-correction data (`flags & 0x0F` bytes; normally Type/Number and Cycle).
    pub data: Bytes,
}

impl ErrorCorrection {
    /// `82 00 00`: what FFmpeg, VLC and the WM SDK write (asf-format.md §2.1).
    pub fn standard() -> Self {
        ErrorCorrection {
            flags: 0x82,
            data: Bytes::from_static(&[0, 0]),
        }
    }
}

/// One payload, owned ([`Bytes`] slices of the parsed input when it came from
/// [`DataPacket::parse`]). Field meanings as in [`PayloadView`](super::PayloadView).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Payload {
    /// Stream number, 1..127.
    pub stream_number: u8,
    /// Key frame (cleanpoint) bit.
    pub key_frame: bool,
    /// Media Object Number.
    pub media_object_number: u32,
    /// Offset Into Media Object, or the Presentation Time of a compressed payload.
    pub offset_into_media_object: u32,
    /// Replicated data, raw: 0 bytes, 1 byte (compressed: the PT delta) or >= 8 bytes
    /// (media object size, presentation time, payload-extension data).
    pub replicated_data: Bytes,
    /// Payload data (for a compressed payload: the run of length-prefixed sub-payloads).
    pub data: Bytes,
}

impl Payload {
    /// An uncompressed payload carrying `data` at `offset` of a media object of
    /// `media_object_size` bytes presented at `presentation_time` ms, with 8 bytes of
    /// replicated data (no payload extensions).
    pub fn fragment(
        stream_number: u8,
        key_frame: bool,
        media_object_number: u32,
        offset: u32,
        media_object_size: u32,
        presentation_time: u32,
        data: Bytes,
    ) -> Self {
        let mut repl = Vec::with_capacity(8);
        repl.extend_from_slice(&media_object_size.to_le_bytes());
        repl.extend_from_slice(&presentation_time.to_le_bytes());
        Payload {
            stream_number,
            key_frame,
            media_object_number,
            offset_into_media_object: offset,
            replicated_data: Bytes::from(repl),
            data,
        }
    }

    /// A compressed payload (ASF 5.2.3.3) holding `objects` (each at most 255 bytes), the first
    /// presented at `presentation_time`, each next one `delta` ms later.
    pub fn compressed<'o>(
        stream_number: u8,
        key_frame: bool,
        media_object_number: u32,
        presentation_time: u32,
        delta: u8,
        objects: impl IntoIterator<Item = &'o [u8]>,
    ) -> Result<Self> {
        let mut data = Vec::new();
        for o in objects {
            let len = u8::try_from(o.len())
                .map_err(|_| Error::InvalidArgument("a sub-payload is longer than 255 bytes"))?;
            data.push(len);
            data.extend_from_slice(o);
        }
        Ok(Payload {
            stream_number,
            key_frame,
            media_object_number,
            offset_into_media_object: presentation_time,
            replicated_data: Bytes::copy_from_slice(&[delta]),
            data: Bytes::from(data),
        })
    }

    /// Replicated data length 1: compressed.
    pub fn is_compressed(&self) -> bool {
        self.replicated_data.len() == 1
    }
    /// Media Object Size from replicated data (>= 8 bytes).
    pub fn media_object_size(&self) -> Option<u32> {
        self.replicated_u32(0)
    }
    /// Presentation time, ms (replicated data, or the offset field when compressed).
    pub fn presentation_time(&self) -> Option<u32> {
        if self.is_compressed() {
            Some(self.offset_into_media_object)
        } else {
            self.replicated_u32(4)
        }
    }
    fn replicated_u32(&self, at: usize) -> Option<u32> {
        if self.replicated_data.len() < 8 {
            return None;
        }
        let b = &self.replicated_data[at..at + 4];
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Sub-payloads of a compressed payload, with the media object numbers wrapping at
    /// `media_object_number_type` (from the packet's Property Flags).
    pub fn sub_payloads(&self, media_object_number_type: FieldWidth) -> SubPayloads<'_> {
        self.as_view(media_object_number_type).sub_payloads()
    }
    /// Payload-extension data split per the stream's extension systems.
    pub fn extensions<'s>(&self, sizes: &'s [ExtensionSize]) -> Extensions<'_, 's> {
        self.as_view(FieldWidth::Dword).extensions(sizes)
    }
    fn as_view(&self, mon: FieldWidth) -> super::PayloadView<'_> {
        super::PayloadView {
            stream_number: self.stream_number,
            key_frame: self.key_frame,
            media_object_number: self.media_object_number,
            offset_into_media_object: self.offset_into_media_object,
            replicated_data: &self.replicated_data,
            data: &self.data,
            media_object_number_type: mon,
            replicated_offset: 0,
            data_offset: 0,
            packet_send_time: 0,
        }
    }
}

/// A data packet, owned: every wire field, so that a parsed packet writes back byte for byte.
///
/// Build one by hand (or with [`DataPacket::new`]), call [`fix`](DataPacket::fix) to fill the
/// padding and the length fields for a packet size, then [`write_to`](DataPacket::write_to).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataPacket {
    /// Error Correction Data, when present.
    pub error_correction: Option<ErrorCorrection>,
    /// Length Type Flags (multiple payloads bit and the widths of the three length fields).
    pub length_type_flags: LengthTypeFlags,
    /// Property Flags (the widths of the per-payload fields).
    pub property_flags: PropertyFlags,
    /// Packet Length field value (written only when its width is not absent).
    pub packet_length: u32,
    /// Sequence field value.
    pub sequence: u32,
    /// Padding Length field value.
    pub padding_length: u32,
    /// Send Time, ms.
    pub send_time: u32,
    /// Duration, ms.
    pub duration: u16,
    /// Payload Length Type (Payload Flags bits 6-7), multiple payloads only.
    pub payload_length_type: FieldWidth,
    /// The payloads (exactly one unless multiple payloads are flagged; at most 63).
    pub payloads: Vec<Payload>,
    /// The bytes after the last payload, kept as found (even non-zero).
    pub padding: Bytes,
}

impl DataPacket {
    /// An empty packet with `82 00 00` error correction, standard property flags (0x5D), WORD
    /// payload lengths and the multiple-payloads bit set when `multiple_payloads`.
    pub fn new(multiple_payloads: bool, send_time: u32) -> Self {
        DataPacket {
            error_correction: Some(ErrorCorrection::standard()),
            length_type_flags: LengthTypeFlags::new(
                multiple_payloads,
                FieldWidth::Absent,
                FieldWidth::Absent,
                FieldWidth::Absent,
            ),
            property_flags: PropertyFlags::STANDARD,
            packet_length: 0,
            sequence: 0,
            padding_length: 0,
            send_time,
            duration: 0,
            payload_length_type: FieldWidth::Word,
            payloads: Vec::new(),
            padding: Bytes::new(),
        }
    }

    /// Parses one packet of `packet_size` bytes at the start of `packet` (see
    /// [`PacketView::parse`]); payloads and padding are zero-copy slices of `packet`.
    pub fn parse(packet: &Bytes, packet_size: u32, base: u64) -> Result<Self> {
        let v = PacketView::parse(packet, packet_size, base)?;
        Ok(Self::from_view(packet, &v))
    }

    /// The owned model of a view over `bytes`: zero-copy slices when the view borrows from
    /// `bytes`, copies otherwise.
    pub fn from_view(bytes: &Bytes, v: &PacketView<'_>) -> Self {
        let slice = |s: &[u8]| super::slice_of(bytes, s);
        DataPacket {
            error_correction: v.error_correction().map(|(flags, data)| ErrorCorrection {
                flags,
                data: slice(data),
            }),
            length_type_flags: v.length_type_flags(),
            property_flags: v.property_flags(),
            packet_length: v.packet_length(),
            sequence: v.sequence(),
            padding_length: v.padding_length(),
            send_time: v.send_time(),
            duration: v.duration(),
            payload_length_type: if v.has_multiple_payloads() {
                FieldWidth::from_bits(v.payload_flags() >> 6)
            } else {
                FieldWidth::Absent
            },
            payloads: v
                .payloads()
                .map(|p| Payload {
                    stream_number: p.stream_number,
                    key_frame: p.key_frame,
                    media_object_number: p.media_object_number,
                    offset_into_media_object: p.offset_into_media_object,
                    replicated_data: slice(p.replicated_data),
                    data: slice(p.data),
                })
                .collect(),
            padding: slice(v.padding()),
        }
    }

    /// Bytes of everything but the padding.
    fn header_and_payloads_len(&self) -> usize {
        let ltf = self.length_type_flags;
        let pf = self.property_flags;
        let mut n = self
            .error_correction
            .as_ref()
            .map_or(0, |e| 1 + e.data.len());
        n += 2
            + ltf.packet_length_type().size()
            + ltf.sequence_type().size()
            + ltf.padding_length_type().size()
            + 6;
        let multi = ltf.multiple_payloads();
        if multi {
            n += 1;
        }
        let per = 1
            + pf.media_object_number_type().size()
            + pf.offset_into_media_object_type().size()
            + pf.replicated_data_length_type().size()
            + if multi {
                self.payload_length_type.size()
            } else {
                0
            };
        for p in &self.payloads {
            n += per + p.replicated_data.len() + p.data.len();
        }
        n
    }

    /// Exact number of bytes [`write_to`](DataPacket::write_to) writes.
    pub fn encoded_len(&self) -> usize {
        self.header_and_payloads_len() + self.padding.len()
    }

    /// Checks that every field fits its wire width and the structure is writable.
    pub fn check(&self) -> Result<()> {
        let ltf = self.length_type_flags;
        let pf = self.property_flags;
        match &self.error_correction {
            Some(ec) => {
                if ec.flags & 0x80 == 0 || (ec.flags >> 5) & 3 != 0 {
                    return Err(Error::InvalidArgument(
                        "error correction flags need bit 7 set and length type 00",
                    ));
                }
                if usize::from(ec.flags & 0x0F) != ec.data.len() {
                    return Err(Error::InvalidArgument(
                        "error correction data length differs from its flags",
                    ));
                }
            }
            None => {
                if ltf.0 & 0x80 != 0 {
                    return Err(Error::InvalidArgument(
                        "length type flags bit 7 set without error correction data",
                    ));
                }
            }
        }
        let fits = |w: FieldWidth, v: u32| v <= w.max_value();
        if !fits(ltf.packet_length_type(), self.packet_length)
            || !fits(ltf.sequence_type(), self.sequence)
            || !fits(ltf.padding_length_type(), self.padding_length)
        {
            return Err(Error::InvalidArgument(
                "packet length, sequence or padding length does not fit its field",
            ));
        }
        let multi = ltf.multiple_payloads();
        if multi {
            if self.payloads.len() > 63 {
                return Err(Error::InvalidArgument("more than 63 payloads in a packet"));
            }
        } else if self.payloads.len() != 1 {
            return Err(Error::InvalidArgument(
                "a single-payload packet needs exactly one payload",
            ));
        }
        for p in &self.payloads {
            if p.stream_number > 0x7F {
                return Err(Error::InvalidArgument("stream number over 127"));
            }
            if !fits(pf.media_object_number_type(), p.media_object_number)
                || !fits(
                    pf.offset_into_media_object_type(),
                    p.offset_into_media_object,
                )
                || p.replicated_data.len() > pf.replicated_data_length_type().max_value() as usize
                || (multi && p.data.len() > self.payload_length_type.max_value() as usize)
            {
                return Err(Error::InvalidArgument(
                    "a payload field does not fit the width its flags give",
                ));
            }
            if (2..8).contains(&p.replicated_data.len()) {
                return Err(Error::InvalidArgument("replicated data of 2..7 bytes"));
            }
            if p.is_compressed() {
                validate_sub_payloads(&p.data, 0)
                    .map_err(|_| Error::InvalidArgument("malformed compressed payload data"))?;
            }
        }
        // What a reader will consider the payload area must match what we write.
        let body = self.header_and_payloads_len();
        let packet_len = body + self.padding.len();
        let declared = if ltf.packet_length_type() == FieldWidth::Absent {
            None
        } else {
            Some(self.packet_length as usize)
        };
        if declared.is_some_and(|len| len > packet_len) {
            return Err(Error::InvalidArgument(
                "packet length field is larger than the packet",
            ));
        }
        let region_end =
            super::payload_area_end(packet_len, declared, self.padding_length as usize);
        let ok = match region_end {
            None => false,
            Some(end) if multi => end >= body,
            Some(end) => end == body,
        };
        if !ok {
            return Err(Error::InvalidArgument(
                "padding length and packet length disagree with the payloads",
            ));
        }
        Ok(())
    }

    /// Makes the packet exactly `packet_size` bytes: zero padding to fill, the Padding Length
    /// field sized per asf-format.md §2.6 (absent when 0, else the smallest width that holds
    /// it), the Packet Length field (when its width is not absent) set to `packet_size`.
    pub fn fix(&mut self, packet_size: u32) -> Result<()> {
        let ps = packet_size as usize;
        let mut ltf = self
            .length_type_flags
            .with_padding_length_type(FieldWidth::Absent);
        if ltf.packet_length_type() != FieldWidth::Absent {
            ltf = ltf.with_packet_length_type(
                ltf.packet_length_type()
                    .max(FieldWidth::smallest_for(packet_size)),
            );
            self.packet_length = packet_size;
        }
        self.length_type_flags = ltf;
        self.padding_length = 0;
        self.padding = Bytes::new();
        let base = self.header_and_payloads_len();
        if base > ps {
            return Err(Error::InvalidArgument(
                "payloads do not fit the packet size",
            ));
        }
        let mut left = ps - base;
        if left > 0 {
            // The padding field's own bytes come out of the padding.
            let mut w = FieldWidth::Byte;
            loop {
                let Some(pad) = left.checked_sub(w.size()) else {
                    return Err(Error::InvalidArgument(
                        "no room for the padding length field",
                    ));
                };
                if pad as u64 <= u64::from(w.max_value()) {
                    left = pad;
                    break;
                }
                w = match w {
                    FieldWidth::Byte => FieldWidth::Word,
                    _ => FieldWidth::Dword,
                };
            }
            self.length_type_flags = self.length_type_flags.with_padding_length_type(w);
            self.padding_length = left as u32;
            self.padding = Bytes::from(vec![0u8; left]);
        }
        self.check()
    }

    /// Writes the packet as its fields say (after [`check`](DataPacket::check)).
    pub fn write_to(&self, out: &mut impl BufMut) -> Result<()> {
        self.check()?;
        let ltf = self.length_type_flags;
        let pf = self.property_flags;
        if let Some(ec) = &self.error_correction {
            out.put_u8(ec.flags);
            out.put_slice(&ec.data);
        }
        out.put_u8(ltf.0);
        out.put_u8(pf.0);
        put_var(out, ltf.packet_length_type(), self.packet_length);
        put_var(out, ltf.sequence_type(), self.sequence);
        put_var(out, ltf.padding_length_type(), self.padding_length);
        out.put_u32_le(self.send_time);
        out.put_u16_le(self.duration);
        let multi = ltf.multiple_payloads();
        if multi {
            out.put_u8(self.payloads.len() as u8 | (self.payload_length_type.bits() << 6));
        }
        for p in &self.payloads {
            out.put_u8(p.stream_number | if p.key_frame { 0x80 } else { 0 });
            put_var(out, pf.media_object_number_type(), p.media_object_number);
            put_var(
                out,
                pf.offset_into_media_object_type(),
                p.offset_into_media_object,
            );
            put_var(
                out,
                pf.replicated_data_length_type(),
                p.replicated_data.len() as u32,
            );
            out.put_slice(&p.replicated_data);
            if multi {
                put_var(out, self.payload_length_type, p.data.len() as u32);
            }
            out.put_slice(&p.data);
        }
        out.put_slice(&self.padding);
        Ok(())
    }

    /// The packet's bytes.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut v)?;
        Ok(Bytes::from(v))
    }
}
