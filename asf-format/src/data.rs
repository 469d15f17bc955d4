//! The Data Object header (ASF 3.2 / asf-format.md §1.1): the 50 bytes before the packets.
//!
//! | Offset | Type | Field |
//! |---|---|---|
//! | 0 | GUID | Object ID `75B22636-668E-11CF-A6D9-00AA0062CE6C` |
//! | 16 | QWORD | Object Size (50 + packets; 0 allowed when broadcasting) |
//! | 24 | GUID | File ID (= File Properties File ID) |
//! | 40 | QWORD | Total Data Packets (invalid when broadcasting) |
//! | 48 | WORD | Reserved, 0x0101 |

use bytes::BufMut;

use crate::error::{Error, Result};
use crate::guid::Guid;
use crate::reader::Reader;

/// The Data Object's GUID.
pub const DATA_OBJECT_GUID: Guid = crate::guids::DATA;

/// The Data Object header: everything before the first data packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataObjectHeader {
    /// Object Size in bytes, counting these 50 bytes and all packets; 0 (or 50) for a broadcast
    /// stream of unknown length.
    pub size: u64,
    /// File ID; must equal the File Properties File ID.
    pub file_id: Guid,
    /// Total Data Packets; must equal File Properties Data Packets Count (invalid when
    /// broadcasting).
    pub total_data_packets: u64,
    /// Reserved; ASF 3.2 requires 0x0101. Kept as read so that a round trip is exact.
    pub reserved: u16,
}

impl DataObjectHeader {
    /// Bytes of the header (ASF 3.2: 50).
    pub const LEN: usize = 50;
    /// The required Reserved value (ASF 3.2).
    pub const RESERVED: u16 = 0x0101;

    /// A header for `packets` packets of `packet_size` bytes (size = 50 + packets × size).
    pub fn new(file_id: Guid, packets: u64, packet_size: u32) -> Self {
        DataObjectHeader {
            size: Self::LEN as u64 + packets.saturating_mul(u64::from(packet_size)),
            file_id,
            total_data_packets: packets,
            reserved: Self::RESERVED,
        }
    }

    /// A broadcast header: size 50 (the spec allows 0, but WMP over WMSP rejects it; see
    /// asf-format.md §3) and 0 packets.
    pub fn broadcast(file_id: Guid) -> Self {
        DataObjectHeader {
            size: Self::LEN as u64,
            file_id,
            total_data_packets: 0,
            reserved: Self::RESERVED,
        }
    }

    /// Parses the 50-byte header at the start of `buf`; `base` is its absolute offset.
    pub fn parse(buf: &[u8], base: u64) -> Result<Self> {
        let mut c = Reader::new(buf, base, "Data Object");
        let guid = c.guid()?;
        if guid != DATA_OBJECT_GUID {
            return Err(Error::Malformed {
                offset: base,
                object: "Data Object",
                reason: "not the Data Object GUID",
            });
        }
        let size = c.u64()?;
        let file_id = c.guid()?;
        let total_data_packets = c.u64()?;
        let reserved = c.u16()?;
        // ASF 3.2: the size may be 0 when broadcasting; otherwise it counts these 50 bytes.
        if size != 0 && size < Self::LEN as u64 {
            return Err(Error::Malformed {
                offset: base + 16,
                object: "Data Object",
                reason: "object size is smaller than the 50-byte Data Object header",
            });
        }
        Ok(DataObjectHeader {
            size,
            file_id,
            total_data_packets,
            reserved,
        })
    }

    /// True when the size does not bound the packets (0 or exactly 50): a broadcast stream
    /// whose packets run until the end of input or the next top-level object (FFmpeg's
    /// `asfdec_f` treats sizes below 100 the same way).
    pub fn is_unbounded(&self) -> bool {
        self.size == 0 || self.size == Self::LEN as u64
    }

    /// Bytes of packets this object declares (`size - 50`), `None` when unbounded.
    pub fn packets_len(&self) -> Option<u64> {
        (!self.is_unbounded()).then(|| self.size - Self::LEN as u64)
    }

    /// Exact encoded length (50).
    pub fn encoded_len(&self) -> usize {
        Self::LEN
    }

    /// Writes the 50 bytes.
    pub fn write_to(&self, out: &mut impl BufMut) {
        out.put_slice(DATA_OBJECT_GUID.as_bytes());
        out.put_u64_le(self.size);
        out.put_slice(self.file_id.as_bytes());
        out.put_u64_le(self.total_data_packets);
        out.put_u16_le(self.reserved);
    }

    /// The 50 bytes.
    pub fn to_bytes(&self) -> [u8; 50] {
        let mut v = Vec::with_capacity(50);
        self.write_to(&mut v);
        let mut a = [0u8; 50];
        a.copy_from_slice(&v);
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let h = DataObjectHeader::new(Guid([7; 16]), 3, 3200);
        let b = h.to_bytes();
        assert_eq!(&b[..16], DATA_OBJECT_GUID.as_bytes());
        assert_eq!(DataObjectHeader::parse(&b, 0), Ok(h));
        assert_eq!(h.packets_len(), Some(9600));
        assert!(DataObjectHeader::broadcast(Guid::ZERO).is_unbounded());
        let e = DataObjectHeader::parse(&b[..49], 100).unwrap_err();
        assert_eq!(e.offset(), Some(148));
        let mut bad = b;
        bad[16..24].copy_from_slice(&20u64.to_le_bytes());
        assert_eq!(
            DataObjectHeader::parse(&bad, 0).unwrap_err().offset(),
            Some(16)
        );
        bad[0] ^= 1;
        assert!(DataObjectHeader::parse(&bad, 0).is_err());
    }
}
