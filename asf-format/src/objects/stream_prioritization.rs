//! Stream Prioritization Object (ASF 4.4), inside the Header Extension.
//!
//! | Type | Field |
//! |---|---|
//! | WORD | Priority Records Count |
//! | records | WORD Stream Number; WORD Priority Flags (bit 0 mandatory) |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// One priority record, highest priority first in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PriorityRecord {
    /// Stream number.
    pub stream_number: u16,
    /// Flags: bit 0 mandatory.
    pub flags: u16,
}

/// Stream Prioritization: the order in which streams are dropped under congestion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamPrioritization {
    /// The records in priority order.
    pub records: Vec<PriorityRecord>,
    /// Bytes after the last record.
    pub trailing: Vec<u8>,
}

impl AsfObject for StreamPrioritization {
    const GUID: Guid = guids::STREAM_PRIORITIZATION;
    const NAME: &'static str = "Stream Prioritization Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let count = r.u16()?;
        let count = r.check_count(count.into(), 4, limits)?;
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            records.push(PriorityRecord {
                stream_number: r.u16()?,
                flags: r.u16()?,
            });
        }
        Ok(StreamPrioritization {
            records,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        2 + 4 * self.records.len() as u64 + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_u16_le(len_as(self.records.len()));
        for rec in &self.records {
            out.put_u16_le(rec.stream_number);
            out.put_u16_le(rec.flags);
        }
        out.put_raw(&self.trailing);
    }
}
