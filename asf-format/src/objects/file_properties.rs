//! File Properties Object (ASF 3.2).
//!
//! | Offset | Type | Field |
//! |---|---|---|
//! | 24 | GUID | File ID |
//! | 40 | QWORD | File Size |
//! | 48 | QWORD | Creation Date (FILETIME) |
//! | 56 | QWORD | Data Packets Count |
//! | 64 | QWORD | Play Duration (100 ns, includes preroll) |
//! | 72 | QWORD | Send Duration (100 ns) |
//! | 80 | QWORD | Preroll (ms) |
//! | 88 | DWORD | Flags: bit 0 Broadcast, bit 1 Seekable |
//! | 92 | DWORD | Minimum Data Packet Size |
//! | 96 | DWORD | Maximum Data Packet Size |
//! | 100 | DWORD | Maximum Bitrate (bps) |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe};
use crate::{Guid, Limits, Result, guids};

/// File Properties: global file attributes. The size is always 104 bytes; bytes beyond the
/// fixed fields are kept in `trailing`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileProperties {
    /// File ID; the Data Object's File ID must match.
    pub file_id: Guid,
    /// Whole file size in bytes (invalid when Broadcast).
    pub file_size: u64,
    /// Creation date, FILETIME (100 ns since 1601-01-01; invalid when Broadcast).
    pub creation_date: u64,
    /// Number of data packets (invalid when Broadcast).
    pub data_packets_count: u64,
    /// Play duration in 100 ns, including the preroll.
    pub play_duration: u64,
    /// Send duration in 100 ns.
    pub send_duration: u64,
    /// Preroll in milliseconds.
    pub preroll: u64,
    /// Flags: [`FileProperties::BROADCAST`], [`FileProperties::SEEKABLE`].
    pub flags: u32,
    /// Minimum data packet size (must equal the maximum).
    pub min_packet_size: u32,
    /// Maximum data packet size.
    pub max_packet_size: u32,
    /// Maximum instantaneous bitrate in bits per second.
    pub max_bitrate: u32,
    /// Bytes after the fixed fields (none in a valid file).
    pub trailing: Vec<u8>,
}

impl FileProperties {
    /// Flag bit 0: the file is being broadcast; sizes, counts and durations are invalid.
    pub const BROADCAST: u32 = 0x1;
    /// Flag bit 1: the file is seekable.
    pub const SEEKABLE: u32 = 0x2;

    /// True when the Broadcast flag is set.
    pub fn is_broadcast(&self) -> bool {
        self.flags & Self::BROADCAST != 0
    }

    /// True when the Seekable flag is set.
    pub fn is_seekable(&self) -> bool {
        self.flags & Self::SEEKABLE != 0
    }

    /// The data packet size if min and max agree (ASF 3.2: they must).
    pub fn packet_size(&self) -> Option<u32> {
        (self.min_packet_size == self.max_packet_size).then_some(self.max_packet_size)
    }

    /// Media duration in 100 ns: Play Duration minus Preroll (asf-format.md §5).
    pub fn duration_100ns(&self) -> u64 {
        self.play_duration
            .saturating_sub(self.preroll.saturating_mul(10_000))
    }
}

impl AsfObject for FileProperties {
    const GUID: Guid = guids::FILE_PROPERTIES;
    const NAME: &'static str = "File Properties Object";

    fn parse_body(r: &mut Reader<'_>, _limits: &Limits) -> Result<Self> {
        Ok(FileProperties {
            file_id: r.guid()?,
            file_size: r.u64()?,
            creation_date: r.u64()?,
            data_packets_count: r.u64()?,
            play_duration: r.u64()?,
            send_duration: r.u64()?,
            preroll: r.u64()?,
            flags: r.u32()?,
            min_packet_size: r.u32()?,
            max_packet_size: r.u32()?,
            max_bitrate: r.u32()?,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        80 + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.file_id);
        out.put_u64_le(self.file_size);
        out.put_u64_le(self.creation_date);
        out.put_u64_le(self.data_packets_count);
        out.put_u64_le(self.play_duration);
        out.put_u64_le(self.send_duration);
        out.put_u64_le(self.preroll);
        out.put_u32_le(self.flags);
        out.put_u32_le(self.min_packet_size);
        out.put_u32_le(self.max_packet_size);
        out.put_u32_le(self.max_bitrate);
        out.put_raw(&self.trailing);
    }
}
