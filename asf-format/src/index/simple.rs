//! Simple Index Object (ASF 3.3).

use bytes::BufMut;

use super::{SIMPLE_INDEX_GUID, check_count, finish, open_object, put_header};
use crate::error::{Error, Result};
use crate::guid::Guid;
use crate::limits::Limits;

const NAME: &str = "Simple Index Object";

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
    /// Maximum Packet Count (the largest `packet_count`; [`fix`](SimpleIndex::fix) sets it).
    pub max_packet_count: u32,
    /// The entries.
    pub entries: Vec<SimpleIndexEntry>,
}

impl SimpleIndex {
    /// Parses the whole object in `obj`.
    pub fn parse(obj: &[u8], base: u64, limits: &Limits) -> Result<Self> {
        let mut c = open_object(obj, base, SIMPLE_INDEX_GUID, NAME)?;
        let file_id = c.guid()?;
        let entry_time_interval = c.u64()?;
        let max_packet_count = c.u32()?;
        let n = c.u32()?;
        let n = check_count(&c, u64::from(n), 6, limits, "index entries count", NAME)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(SimpleIndexEntry {
                packet_number: c.u32()?,
                packet_count: c.u16()?,
            });
        }
        finish(&c)?;
        Ok(SimpleIndex {
            file_id,
            entry_time_interval,
            max_packet_count,
            entries,
        })
    }

    /// Sets Maximum Packet Count from the entries.
    pub fn fix(&mut self) {
        self.max_packet_count = self
            .entries
            .iter()
            .map(|e| u32::from(e.packet_count))
            .max()
            .unwrap_or(0);
    }

    /// Exact encoded length: 56 + 6 × entries.
    pub fn encoded_len(&self) -> usize {
        56 + 6 * self.entries.len()
    }

    /// Writes the object.
    pub fn write_to(&self, out: &mut impl BufMut) -> Result<()> {
        let n = u32::try_from(self.entries.len())
            .map_err(|_| Error::InvalidArgument("more than 2^32-1 simple index entries"))?;
        put_header(out, &SIMPLE_INDEX_GUID, self.encoded_len());
        out.put_slice(self.file_id.as_bytes());
        out.put_u64_le(self.entry_time_interval);
        out.put_u32_le(self.max_packet_count);
        out.put_u32_le(n);
        for e in &self.entries {
            out.put_u32_le(e.packet_number);
            out.put_u16_le(e.packet_count);
        }
        Ok(())
    }

    /// The entry for presentation time `time_100ns` (which includes the preroll), if any.
    pub fn lookup(&self, time_100ns: u64) -> Option<SimpleIndexEntry> {
        if self.entry_time_interval == 0 {
            return self.entries.first().copied();
        }
        let i = usize::try_from(time_100ns / self.entry_time_interval).ok()?;
        self.entries
            .get(i.min(self.entries.len().saturating_sub(1)))
            .copied()
    }
}
