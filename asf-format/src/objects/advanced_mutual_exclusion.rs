//! Advanced Mutual Exclusion Object (ASF 4.2): streams of which only one is played; inside the Header Extension.
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Exclusion Type (language / bitrate / unknown, see [`crate::guids`]) |
//! | WORD | Stream Numbers Count |
//! | WORD[] | Stream Numbers |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// Advanced Mutual Exclusion Object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdvancedMutualExclusion {
    /// Exclusion type GUID (e.g. [`guids::MUTEX_BITRATE`]).
    pub exclusion_type: Guid,
    /// The mutually exclusive stream numbers.
    pub stream_numbers: Vec<u16>,
    /// Bytes after the last stream number.
    pub trailing: Vec<u8>,
}

impl AsfObject for AdvancedMutualExclusion {
    const GUID: Guid = guids::ADVANCED_MUTUAL_EXCLUSION;
    const NAME: &'static str = "Advanced Mutual Exclusion Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let exclusion_type = r.guid()?;
        let count = r.u16()?;
        let count = r.check_count(count.into(), 2, limits)?;
        let mut stream_numbers = Vec::with_capacity(count);
        for _ in 0..count {
            stream_numbers.push(r.u16()?);
        }
        Ok(AdvancedMutualExclusion {
            exclusion_type,
            stream_numbers,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        18 + 2 * self.stream_numbers.len() as u64 + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.exclusion_type);
        out.put_u16_le(len_as(self.stream_numbers.len()));
        for s in &self.stream_numbers {
            out.put_u16_le(*s);
        }
        out.put_raw(&self.trailing);
    }
}
