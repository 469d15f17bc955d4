//! Stream Bitrate Properties Object (ASF 3.12).
//!
//! | Type | Field |
//! |---|---|
//! | WORD | Bitrate Records Count |
//! | records | WORD Flags (bits 0-6 stream number); DWORD Average Bitrate |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// One bitrate record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BitrateRecord {
    /// Flags word: bits 0-6 the stream number, the rest reserved.
    pub flags: u16,
    /// Average bitrate in bits per second.
    pub average_bitrate: u32,
}

impl BitrateRecord {
    /// The stream number (low 7 bits of the flags).
    pub fn stream_number(&self) -> u8 {
        (self.flags & 0x7F) as u8
    }
}

/// Stream Bitrate Properties: average bitrate per stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamBitrateProperties {
    /// The records.
    pub records: Vec<BitrateRecord>,
    /// Bytes after the last record.
    pub trailing: Vec<u8>,
}

impl AsfObject for StreamBitrateProperties {
    const GUID: Guid = guids::STREAM_BITRATE_PROPERTIES;
    const NAME: &'static str = "Stream Bitrate Properties Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let count = r.u16()?;
        let count = r.check_count(count.into(), 6, limits)?;
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            records.push(BitrateRecord {
                flags: r.u16()?,
                average_bitrate: r.u32()?,
            });
        }
        Ok(StreamBitrateProperties {
            records,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        2 + 6 * self.records.len() as u64 + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_u16_le(len_as(self.records.len()));
        for rec in &self.records {
            out.put_u16_le(rec.flags);
            out.put_u32_le(rec.average_bitrate);
        }
        out.put_raw(&self.trailing);
    }
}
