//! ASF data packets (ASF 5.2; asf-format.md §2): flags, zero-copy views, the owned model and
//! the writer.
//!
//! A data packet is, in order:
//!
//! | Part | Size |
//! |---|---|
//! | Error Correction Data (optional) | 1 + 0..15 bytes |
//! | Length Type Flags | BYTE |
//! | Property Flags | BYTE |
//! | Packet Length | 0/1/2/4 (Length Type Flags bits 5-6) |
//! | Sequence | 0/1/2/4 (bits 1-2) |
//! | Padding Length | 0/1/2/4 (bits 3-4) |
//! | Send Time | DWORD, ms |
//! | Duration | WORD, ms |
//! | Payload Flags (multiple payloads only) | BYTE: count (bits 0-5), length type (bits 6-7) |
//! | Payload(s) | see [`PayloadView`] |
//! | Padding | the rest of the packet |
//!
//! Three ways in:
//! - [`PacketView::parse`]: validate one packet in place (no allocation) and walk its payloads
//!   with [`PacketView::payloads`], the hot path;
//! - [`DataPacket::parse`]: the owned model, holding [`bytes::Bytes`] slices of the input;
//! - [`DataPacket::write_to`] / [`DataPacket::to_bytes`]: the writer; a parsed packet writes
//!   back byte for byte, padding bytes included (even non-zero ones).
//!
//! ```
//! use asf_format::Limits;
//! use asf_format::media_object::Reassembler;
//! use asf_format::packet::{DataPacket, PacketView, Payload};
//! use bytes::Bytes;
//!
//! // Write: one multi-payload packet holding the first 3 bytes of a 5-byte frame.
//! let mut p = DataPacket::new(true, 0);
//! p.payloads.push(Payload::fragment(1, true, 0, 0, 5, 3100, Bytes::from_static(b"abc")));
//! p.fix(64)?; // 64-byte packets: padding and length fields solved
//! let first = p.to_bytes()?;
//! let mut q = DataPacket::new(true, 40);
//! q.payloads.push(Payload::fragment(1, true, 0, 3, 5, 3100, Bytes::from_static(b"de")));
//! q.fix(64)?;
//! let second = q.to_bytes()?;
//!
//! // Read: zero-copy views, then whole media objects.
//! let mut frames = Reassembler::new(Limits::default());
//! for (i, bytes) in [first, second].iter().enumerate() {
//!     let view = PacketView::parse(bytes, 64, 64 * i as u64)?;
//!     for payload in view.payloads() {
//!         assert_eq!(payload.stream_number, 1);
//!     }
//!     frames.push_packet(bytes, &view);
//! }
//! let frame = frames.poll_object().expect("reassembled");
//! assert_eq!((&frame.data[..], frame.presentation_time), (&b"abcde"[..], 3100));
//! # Ok::<(), asf_format::Error>(())
//! ```

mod model;
mod view;

pub use model::{DataPacket, ErrorCorrection, Payload};
pub use view::{Extensions, PacketView, Packets, PayloadView, Payloads, SubPayload, SubPayloads};

/// Size code of a variable-width field (ASF 5.2.2: 00 absent, 01 BYTE, 10 WORD, 11 DWORD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum FieldWidth {
    /// The field is not present (reads as 0).
    #[default]
    Absent = 0,
    /// One byte.
    Byte = 1,
    /// Two bytes, little-endian.
    Word = 2,
    /// Four bytes, little-endian.
    Dword = 3,
}

impl FieldWidth {
    /// The width given by the two low bits of `bits`.
    pub const fn from_bits(bits: u8) -> FieldWidth {
        match bits & 3 {
            0 => FieldWidth::Absent,
            1 => FieldWidth::Byte,
            2 => FieldWidth::Word,
            _ => FieldWidth::Dword,
        }
    }

    /// The 2-bit size code.
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// Number of bytes the field takes on the wire (0, 1, 2 or 4).
    pub const fn size(self) -> usize {
        match self {
            FieldWidth::Absent => 0,
            FieldWidth::Byte => 1,
            FieldWidth::Word => 2,
            FieldWidth::Dword => 4,
        }
    }

    /// Largest value the field can hold (0 when absent).
    pub const fn max_value(self) -> u32 {
        match self {
            FieldWidth::Absent => 0,
            FieldWidth::Byte => 0xFF,
            FieldWidth::Word => 0xFFFF,
            FieldWidth::Dword => u32::MAX,
        }
    }

    /// The narrowest width that holds `value` (0 gives [`FieldWidth::Absent`]).
    pub const fn smallest_for(value: u32) -> FieldWidth {
        if value == 0 {
            FieldWidth::Absent
        } else if value <= 0xFF {
            FieldWidth::Byte
        } else if value <= 0xFFFF {
            FieldWidth::Word
        } else {
            FieldWidth::Dword
        }
    }
}

/// A zero-copy [`bytes::Bytes`] of `part` when it lies inside `whole`, else a copy (so a
/// caller passing a view of other memory gets correct bytes, never a panic).
pub(crate) fn slice_of(whole: &bytes::Bytes, part: &[u8]) -> bytes::Bytes {
    if part.is_empty() {
        return bytes::Bytes::new();
    }
    let w = whole.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    if p >= w && p + part.len() <= w + whole.len() {
        whole.slice(p - w..p - w + part.len())
    } else {
        bytes::Bytes::copy_from_slice(part)
    }
}

/// Reads a field of the given width (0 when absent).
#[inline]
/// Where the payload area of a packet ends (the offset of the first padding byte), or `None`
/// when the length fields cannot describe a packet of `size` bytes.
///
/// ASF 5.2.2: "Packet Length" is the length of the packet and "Padding Length" the length of
/// the padding at its end; a Packet Length smaller than the fixed packet size leaves implicit
/// padding after it (FFmpeg asfdec and VLC read it that way, and so does this function).
/// GStreamer `asfmux` instead writes Packet Length = the bytes actually used and Padding Length
/// = the rest of the fixed-size packet, so Packet Length + Padding Length = packet size (seen in
/// the last packet of its files). GStreamer's asfdemux subtracts the explicit padding from the
/// fixed packet size, which reads that form correctly; FFmpeg's asfdec rejects it ("invalid
/// padsize") and drops the packet. We accept it: when the two fields add up to exactly the
/// packet size, the payloads end at Packet Length.
pub(crate) fn payload_area_end(
    size: usize,
    packet_length: Option<usize>,
    padding: usize,
) -> Option<usize> {
    match packet_length {
        None => size.checked_sub(padding),
        Some(len) if len > size => None,
        Some(len) if len < size && padding > 0 && len + padding == size => Some(len),
        Some(len) => len.checked_sub(padding),
    }
}

#[inline]
pub(crate) fn read_var(r: &mut crate::reader::Reader<'_>, width: FieldWidth) -> crate::Result<u32> {
    match width {
        FieldWidth::Absent => Ok(0),
        FieldWidth::Byte => r.u8().map(u32::from),
        FieldWidth::Word => r.u16().map(u32::from),
        FieldWidth::Dword => r.u32(),
    }
}

pub(crate) fn put_var(out: &mut impl bytes::BufMut, width: FieldWidth, value: u32) {
    match width {
        FieldWidth::Absent => {}
        FieldWidth::Byte => out.put_u8(value as u8),
        FieldWidth::Word => out.put_u16_le(value as u16),
        FieldWidth::Dword => out.put_u32_le(value),
    }
}

/// The Length Type Flags byte (ASF 5.2.2), kept whole so reserved bits survive a round trip.
///
/// | Bits | Field |
/// |---|---|
/// | 0 | Multiple Payloads Present |
/// | 1-2 | Sequence Type |
/// | 3-4 | Padding Length Type |
/// | 5-6 | Packet Length Type |
/// | 7 | Error Correction Present (only meaningful as the first packet byte; 0 otherwise) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LengthTypeFlags(pub u8);

impl LengthTypeFlags {
    /// Builds the byte from its fields (bit 7 clear).
    pub const fn new(
        multiple_payloads: bool,
        sequence: FieldWidth,
        padding_length: FieldWidth,
        packet_length: FieldWidth,
    ) -> Self {
        LengthTypeFlags(
            multiple_payloads as u8
                | (sequence.bits() << 1)
                | (padding_length.bits() << 3)
                | (packet_length.bits() << 5),
        )
    }
    /// Bit 0: a multiple-payloads block follows.
    pub const fn multiple_payloads(self) -> bool {
        self.0 & 1 != 0
    }
    /// Bits 1-2: width of the Sequence field.
    pub const fn sequence_type(self) -> FieldWidth {
        FieldWidth::from_bits(self.0 >> 1)
    }
    /// Bits 3-4: width of the Padding Length field.
    pub const fn padding_length_type(self) -> FieldWidth {
        FieldWidth::from_bits(self.0 >> 3)
    }
    /// Bits 5-6: width of the Packet Length field.
    pub const fn packet_length_type(self) -> FieldWidth {
        FieldWidth::from_bits(self.0 >> 5)
    }
    /// The same flags with another Padding Length width.
    pub const fn with_padding_length_type(self, w: FieldWidth) -> Self {
        LengthTypeFlags((self.0 & !(3 << 3)) | (w.bits() << 3))
    }
    /// The same flags with another Packet Length width.
    pub const fn with_packet_length_type(self, w: FieldWidth) -> Self {
        LengthTypeFlags((self.0 & !(3 << 5)) | (w.bits() << 5))
    }
}

/// The Property Flags byte (ASF 5.2.2), kept whole.
///
/// | Bits | Field |
/// |---|---|
/// | 0-1 | Replicated Data Length Type |
/// | 2-3 | Offset Into Media Object Length Type |
/// | 4-5 | Media Object Number Length Type |
/// | 6-7 | Stream Number Length Type (must be 01; the stream number is always one byte) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PropertyFlags(pub u8);

impl Default for PropertyFlags {
    fn default() -> Self {
        PropertyFlags::STANDARD
    }
}

impl PropertyFlags {
    /// `0x5D`, what every open-source muxer writes: replicated length BYTE, offset DWORD,
    /// media object number BYTE, stream number BYTE (asf-format.md §2.2).
    pub const STANDARD: PropertyFlags = PropertyFlags(0x5D);

    /// Builds the byte from its fields, with the stream number type 01 (BYTE).
    pub const fn new(
        replicated_data_length: FieldWidth,
        offset_into_media_object: FieldWidth,
        media_object_number: FieldWidth,
    ) -> Self {
        PropertyFlags(
            replicated_data_length.bits()
                | (offset_into_media_object.bits() << 2)
                | (media_object_number.bits() << 4)
                | (1 << 6),
        )
    }
    /// Bits 0-1: width of the Replicated Data Length field.
    pub const fn replicated_data_length_type(self) -> FieldWidth {
        FieldWidth::from_bits(self.0)
    }
    /// Bits 2-3: width of the Offset Into Media Object field.
    pub const fn offset_into_media_object_type(self) -> FieldWidth {
        FieldWidth::from_bits(self.0 >> 2)
    }
    /// Bits 4-5: width of the Media Object Number field.
    pub const fn media_object_number_type(self) -> FieldWidth {
        FieldWidth::from_bits(self.0 >> 4)
    }
    /// Bits 6-7: the declared Stream Number width. ASF 5.2.2 requires 01; the stream number is
    /// read as one byte whatever this says (as FFmpeg and VLC do).
    pub const fn stream_number_type(self) -> FieldWidth {
        FieldWidth::from_bits(self.0 >> 6)
    }
}

/// Size of a payload-extension system's data in replicated data, as declared in the stream's
/// Extended Stream Properties (ASF 4.1 / asf-format.md §1.3): a fixed size, or
/// [`EXTENSION_SIZE_VARIABLE`] when each instance is prefixed with a WORD length.
pub type ExtensionSize = u16;

/// The payload-extension sizes of a stream, in declared order, from its Extended Stream
/// Properties Object: the argument [`PayloadView::extensions`] takes.
pub fn extension_sizes(esp: &crate::objects::ExtendedStreamProperties) -> Vec<ExtensionSize> {
    esp.payload_extension_systems
        .iter()
        .map(|s| s.data_size)
        .collect()
}

/// The Extension Data Size value that marks a variable-size payload extension (ASF 4.1:
/// 0xFFFF; each instance then starts with a WORD length).
pub const EXTENSION_SIZE_VARIABLE: ExtensionSize = 0xFFFF;
