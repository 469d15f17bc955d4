//! Extended Stream Properties Object (ASF 4.1), inside the Header Extension.
//!
//! | Offset | Type | Field |
//! |---|---|---|
//! | 24 | QWORD | Start Time (ms) |
//! | 32 | QWORD | End Time (ms) |
//! | 40 | DWORD | Data Bitrate (bps) |
//! | 44 | DWORD | Buffer Size (ms) |
//! | 48 | DWORD | Initial Buffer Fullness (ms) |
//! | 52 | DWORD | Alternate Data Bitrate |
//! | 56 | DWORD | Alternate Buffer Size |
//! | 60 | DWORD | Alternate Initial Buffer Fullness |
//! | 64 | DWORD | Maximum Object Size |
//! | 68 | DWORD | Flags: 0x1 Reliable, 0x2 Seekable, 0x4 No Cleanpoints, 0x8 Resend Live Cleanpoints |
//! | 72 | WORD | Stream Number |
//! | 74 | WORD | Stream Language ID Index |
//! | 76 | QWORD | Average Time Per Frame (100 ns) |
//! | 84 | WORD | Stream Name Count |
//! | 86 | WORD | Payload Extension System Count |
//! | 88 | | Stream Names (WORD Language ID Index, WORD Name Length (bytes), name) |
//! | | | Payload Extension Systems (GUID, WORD Data Size (0xFFFF variable), DWORD Info Length, info) |
//! | | | optional embedded Stream Properties Object |

use crate::object::{AsfObject, OBJECT_HEADER_LEN};
use crate::objects::stream_properties::StreamProperties;
use crate::reader::{Reader, WriteLe, len_as};
use crate::strings::WString;
use crate::{Guid, Limits, Result, guids};

/// A stream name in one language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamName {
    /// Index into the Language List.
    pub language_index: u16,
    /// The name.
    pub name: WString,
}

/// A payload extension system the stream's payloads carry in their replicated data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PayloadExtensionSystem {
    /// Extension system GUID (see `guids::PAYLOAD_EXT_*`).
    pub system_id: Guid,
    /// Bytes per payload, or 0xFFFF for variable size (WORD-prefixed in the payload).
    pub data_size: u16,
    /// Extension system info.
    pub info: Vec<u8>,
}

/// Extended Stream Properties: buffer model, flags, names, payload extensions, and
/// optionally an embedded Stream Properties Object (hidden streams).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedStreamProperties {
    /// Start time, ms.
    pub start_time: u64,
    /// End time, ms.
    pub end_time: u64,
    /// Leaky bucket data bitrate, bps.
    pub data_bitrate: u32,
    /// Leaky bucket buffer size, ms.
    pub buffer_size: u32,
    /// Initial buffer fullness, ms.
    pub initial_buffer_fullness: u32,
    /// Alternate data bitrate.
    pub alternate_data_bitrate: u32,
    /// Alternate buffer size.
    pub alternate_buffer_size: u32,
    /// Alternate initial buffer fullness.
    pub alternate_initial_buffer_fullness: u32,
    /// Maximum object size (0 = unknown).
    pub maximum_object_size: u32,
    /// Flags: 0x1 reliable, 0x2 seekable, 0x4 no cleanpoints, 0x8 resend live cleanpoints.
    pub flags: u32,
    /// Stream number.
    pub stream_number: u16,
    /// Language index into the Language List.
    pub stream_language_index: u16,
    /// Average time per frame, 100 ns.
    pub average_time_per_frame: u64,
    /// Stream names.
    pub stream_names: Vec<StreamName>,
    /// Payload extension systems, in the order their data appears in replicated data.
    pub payload_extension_systems: Vec<PayloadExtensionSystem>,
    /// The embedded Stream Properties Object, when present.
    pub stream_properties: Option<StreamProperties>,
    /// Bytes after everything understood (kept for exact round trip).
    pub trailing: Vec<u8>,
}

impl AsfObject for ExtendedStreamProperties {
    const GUID: Guid = guids::EXTENDED_STREAM_PROPERTIES;
    const NAME: &'static str = "Extended Stream Properties Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let mut e = ExtendedStreamProperties {
            start_time: r.u64()?,
            end_time: r.u64()?,
            data_bitrate: r.u32()?,
            buffer_size: r.u32()?,
            initial_buffer_fullness: r.u32()?,
            alternate_data_bitrate: r.u32()?,
            alternate_buffer_size: r.u32()?,
            alternate_initial_buffer_fullness: r.u32()?,
            maximum_object_size: r.u32()?,
            flags: r.u32()?,
            stream_number: r.u16()?,
            stream_language_index: r.u16()?,
            average_time_per_frame: r.u64()?,
            ..Default::default()
        };
        let name_count = r.u16()?;
        let system_count = r.u16()?;
        let name_count = r.check_count(name_count.into(), 4, limits)?;
        for _ in 0..name_count {
            let language_index = r.u16()?;
            let len = r.u16()?;
            e.stream_names.push(StreamName {
                language_index,
                name: WString(r.bytes(len.into())?.to_vec()),
            });
        }
        let system_count = r.check_count(system_count.into(), 22, limits)?;
        for _ in 0..system_count {
            let system_id = r.guid()?;
            let data_size = r.u16()?;
            let info_len = r.u32()?;
            let info = r
                .bytes_limited(
                    info_len.into(),
                    limits.max_object_size,
                    "extension system info length",
                )?
                .to_vec();
            e.payload_extension_systems.push(PayloadExtensionSystem {
                system_id,
                data_size,
                info,
            });
        }
        // ASF 4.1: an optional Stream Properties Object may follow (hidden streams). If the
        // bytes left are not exactly one valid Stream Properties Object they are kept raw.
        let rest = r.peek_rest();
        if rest.len() as u64 >= OBJECT_HEADER_LEN
            && rest[..16] == *guids::STREAM_PROPERTIES.as_bytes()
            && let Ok((sp, used)) = StreamProperties::parse(rest, r.offset(), limits)
        {
            r.bytes(used)?;
            e.stream_properties = Some(sp);
        }
        e.trailing = r.rest().to_vec();
        Ok(e)
    }

    fn body_len(&self) -> u64 {
        64 + self
            .stream_names
            .iter()
            .map(|n| 4 + n.name.len_bytes() as u64)
            .sum::<u64>()
            + self
                .payload_extension_systems
                .iter()
                .map(|s| 22 + s.info.len() as u64)
                .sum::<u64>()
            + self
                .stream_properties
                .as_ref()
                .map_or(0, |sp| sp.encoded_len())
            + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_u64_le(self.start_time);
        out.put_u64_le(self.end_time);
        out.put_u32_le(self.data_bitrate);
        out.put_u32_le(self.buffer_size);
        out.put_u32_le(self.initial_buffer_fullness);
        out.put_u32_le(self.alternate_data_bitrate);
        out.put_u32_le(self.alternate_buffer_size);
        out.put_u32_le(self.alternate_initial_buffer_fullness);
        out.put_u32_le(self.maximum_object_size);
        out.put_u32_le(self.flags);
        out.put_u16_le(self.stream_number);
        out.put_u16_le(self.stream_language_index);
        out.put_u64_le(self.average_time_per_frame);
        out.put_u16_le(len_as(self.stream_names.len()));
        out.put_u16_le(len_as(self.payload_extension_systems.len()));
        for n in &self.stream_names {
            out.put_u16_le(n.language_index);
            out.put_u16_le(len_as(n.name.len_bytes()));
            out.put_raw(n.name.as_bytes());
        }
        for s in &self.payload_extension_systems {
            out.put_guid(&s.system_id);
            out.put_u16_le(s.data_size);
            out.put_u32_le(len_as(s.info.len()));
            out.put_raw(&s.info);
        }
        if let Some(sp) = &self.stream_properties {
            sp.write(out);
        }
        out.put_raw(&self.trailing);
    }

    fn fix(&mut self) {
        if let Some(sp) = &mut self.stream_properties {
            sp.fix();
        }
    }
}
