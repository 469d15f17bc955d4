//! Group Mutual Exclusion Object (ASF 4.3), inside the Header Extension.
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Exclusion Type |
//! | WORD | Record Count |
//! | records | WORD Stream Count; WORD[] Stream Numbers |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// Group Mutual Exclusion: groups of streams of which only one group is played.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMutualExclusion {
    /// Exclusion type GUID.
    pub exclusion_type: Guid,
    /// The groups (each a list of stream numbers).
    pub records: Vec<Vec<u16>>,
    /// Bytes after the last record.
    pub trailing: Vec<u8>,
}

impl AsfObject for GroupMutualExclusion {
    const GUID: Guid = guids::GROUP_MUTUAL_EXCLUSION;
    const NAME: &'static str = "Group Mutual Exclusion Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let exclusion_type = r.guid()?;
        let count = r.u16()?;
        let count = r.check_count(count.into(), 2, limits)?;
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            let n = r.u16()?;
            let n = r.check_count(n.into(), 2, limits)?;
            let mut streams = Vec::with_capacity(n);
            for _ in 0..n {
                streams.push(r.u16()?);
            }
            records.push(streams);
        }
        Ok(GroupMutualExclusion {
            exclusion_type,
            records,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        18 + self
            .records
            .iter()
            .map(|g| 2 + 2 * g.len() as u64)
            .sum::<u64>()
            + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.exclusion_type);
        out.put_u16_le(len_as(self.records.len()));
        for g in &self.records {
            out.put_u16_le(len_as(g.len()));
            for s in g {
                out.put_u16_le(*s);
            }
        }
        out.put_raw(&self.trailing);
    }
}
