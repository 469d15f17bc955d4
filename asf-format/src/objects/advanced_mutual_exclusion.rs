//! Advanced Mutual Exclusion Object (ASF 4.2): streams of which only one is played; inside the Header Extension.
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Exclusion Type (language / bitrate / unknown, see [`crate::guids`]) |
//! | WORD | Stream Numbers Count |
//! | WORD[] | Stream Numbers |

use super::bitrate_mutual_exclusion::{
    exclusion_list_len, parse_exclusion_list, write_exclusion_list,
};
use crate::object::AsfObject;
use crate::reader::Reader;
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
        let (exclusion_type, stream_numbers, trailing) = parse_exclusion_list(r, limits)?;
        Ok(AdvancedMutualExclusion {
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
