//! Bandwidth Sharing Object (ASF 4.5), inside the Header Extension.
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Sharing Type (exclusive / partial) |
//! | DWORD | Data Bitrate |
//! | DWORD | Buffer Size (ms) |
//! | WORD | Stream Numbers Count |
//! | WORD[] | Stream Numbers |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// Bandwidth Sharing: streams that share one leaky bucket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BandwidthSharing {
    /// Sharing type GUID ([`guids::BANDWIDTH_SHARING_EXCLUSIVE`] / `_PARTIAL`).
    pub sharing_type: Guid,
    /// Shared data bitrate, bits per second.
    pub data_bitrate: u32,
    /// Shared buffer size, ms.
    pub buffer_size: u32,
    /// The streams sharing the bandwidth.
    pub stream_numbers: Vec<u16>,
    /// Bytes after the last stream number.
    pub trailing: Vec<u8>,
}

impl AsfObject for BandwidthSharing {
    const GUID: Guid = guids::BANDWIDTH_SHARING;
    const NAME: &'static str = "Bandwidth Sharing Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let sharing_type = r.guid()?;
        let data_bitrate = r.u32()?;
        let buffer_size = r.u32()?;
        let count = r.u16()?;
        let count = r.check_count(count.into(), 2, limits)?;
        let mut stream_numbers = Vec::with_capacity(count);
        for _ in 0..count {
            stream_numbers.push(r.u16()?);
        }
        Ok(BandwidthSharing {
            sharing_type,
            data_bitrate,
            buffer_size,
            stream_numbers,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        26 + 2 * self.stream_numbers.len() as u64 + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.sharing_type);
        out.put_u32_le(self.data_bitrate);
        out.put_u32_le(self.buffer_size);
        out.put_u16_le(len_as(self.stream_numbers.len()));
        for s in &self.stream_numbers {
            out.put_u16_le(*s);
        }
        out.put_raw(&self.trailing);
    }
}
