//! Bitrate Mutual Exclusion Object (ASF 3.8): streams of which only one is sent (MBR renditions); top level of the header.
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Exclusion Type (language / bitrate / unknown, see [`crate::guids`]) |
//! | WORD | Stream Numbers Count |
//! | WORD[] | Stream Numbers |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// Bitrate Mutual Exclusion Object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BitrateMutualExclusion {
    /// Exclusion type GUID (e.g. [`guids::MUTEX_BITRATE`]).
    pub exclusion_type: Guid,
    /// The mutually exclusive stream numbers.
    pub stream_numbers: Vec<u16>,
    /// Bytes after the last stream number.
    pub trailing: Vec<u8>,
}

impl AsfObject for BitrateMutualExclusion {
    const GUID: Guid = guids::BITRATE_MUTUAL_EXCLUSION;
    const NAME: &'static str = "Bitrate Mutual Exclusion Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let (exclusion_type, stream_numbers, trailing) = parse_exclusion_list(r, limits)?;
        Ok(BitrateMutualExclusion {
            exclusion_type,
            stream_numbers,
            trailing,
        })
    }

    fn body_len(&self) -> u64 {
        exclusion_list_len(&self.stream_numbers, &self.trailing)
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        write_exclusion_list(
            out,
            &self.exclusion_type,
            &self.stream_numbers,
            &self.trailing,
        );
    }
}

/// Parses the body both mutual-exclusion objects share (Bitrate, ASF 3.8; Advanced, ASF 4.2):
/// exclusion type, WORD count, WORD stream numbers, then any trailing bytes kept as they are.
pub(crate) fn parse_exclusion_list(
    r: &mut Reader<'_>,
    limits: &Limits,
) -> Result<(Guid, Vec<u16>, Vec<u8>)> {
    let exclusion_type = r.guid()?;
    let count = r.u16()?;
    let count = r.check_count(count.into(), 2, limits)?;
    let mut stream_numbers = Vec::with_capacity(count);
    for _ in 0..count {
        stream_numbers.push(r.u16()?);
    }
    Ok((exclusion_type, stream_numbers, r.rest().to_vec()))
}

/// Exact body length of a mutual-exclusion list.
pub(crate) fn exclusion_list_len(stream_numbers: &[u16], trailing: &[u8]) -> u64 {
    18 + 2 * stream_numbers.len() as u64 + trailing.len() as u64
}

/// Writes a mutual-exclusion list body.
pub(crate) fn write_exclusion_list(
    out: &mut Vec<u8>,
    exclusion_type: &Guid,
    stream_numbers: &[u16],
    trailing: &[u8],
) {
    out.put_guid(exclusion_type);
    out.put_u16_le(len_as(stream_numbers.len()));
    for s in stream_numbers {
        out.put_u16_le(*s);
    }
    out.put_raw(trailing);
}
