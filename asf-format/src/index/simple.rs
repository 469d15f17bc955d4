//! Simple Index Object (ASF 3.3).

use crate::error::Result;
use crate::guid::Guid;
use crate::guids;
use crate::limits::Limits;
use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe};

/// One Simple Index entry (6 bytes): the packet holding the start of the closest past key
/// frame, and how many packets that key frame spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SimpleIndexEntry {
    /// Packet Number (DWORD).
    pub packet_number: u32,
    /// Packet Count (WORD).
    pub packet_count: u16,
}

/// Simple Index Object (ASF 3.3), at least 56 bytes.
///
/// | Field | Type |
/// |---|---|
/// | Object ID, Object Size | GUID, QWORD |
/// | File ID | GUID (may be zero; FFmpeg writes zero) |
/// | Index Entry Time Interval | QWORD, 100 ns |
/// | Maximum Packet Count | DWORD |
/// | Index Entries Count | DWORD |
/// | Index Entries | 6 bytes each |
///
/// Entry *i* is for presentation time *i × interval* (which includes the preroll).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SimpleIndex {
    /// File ID.
    pub file_id: Guid,
    /// Index Entry Time Interval, 100 ns units.
    pub entry_time_interval: u64,
    /// Maximum Packet Count (the largest `packet_count`; [`AsfObject::fix`] sets it).
    pub max_packet_count: u32,
    /// The entries.
    pub entries: Vec<SimpleIndexEntry>,
}

impl AsfObject for SimpleIndex {
    const GUID: Guid = guids::SIMPLE_INDEX;
    const NAME: &'static str = "Simple Index Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let file_id = r.guid()?;
        let entry_time_interval = r.u64()?;
        let max_packet_count = r.u32()?;
        let n = r.u32()?;
        let n = r.check_count(u64::from(n), 6, limits)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(SimpleIndexEntry {
                packet_number: r.u32()?,
                packet_count: r.u16()?,
            });
        }
        Ok(SimpleIndex {
            file_id,
            entry_time_interval,
            max_packet_count,
            entries,
        })
    }

    /// 32 + 6 × entries (the object is 56 + 6 × entries bytes).
    fn body_len(&self) -> u64 {
        32 + 6 * self.entries.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.file_id);
        out.put_u64_le(self.entry_time_interval);
        out.put_u32_le(self.max_packet_count);
        out.put_u32_le(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        for e in &self.entries {
            out.put_u32_le(e.packet_number);
            out.put_u16_le(e.packet_count);
        }
    }

    /// Sets Maximum Packet Count to the largest entry's Packet Count.
    fn fix(&mut self) {
        self.max_packet_count = self
            .entries
            .iter()
            .map(|e| u32::from(e.packet_count))
            .max()
            .unwrap_or(0);
    }
}

impl SimpleIndex {
    /// The entry for presentation time `time_100ns` (which includes the preroll): entry
    /// `time / interval`, clamped to the last entry.
    pub fn lookup(&self, time_100ns: u64) -> Option<SimpleIndexEntry> {
        if self.entry_time_interval == 0 {
            return self.entries.first().copied();
        }
        let i = usize::try_from(time_100ns / self.entry_time_interval).unwrap_or(usize::MAX);
        self.entries
            .get(i.min(self.entries.len().saturating_sub(1)))
            .copied()
    }
}
