//! Compatibility Object (ASF 4.12), inside the Header Extension.
//!
//! | Type | Field |
//! |---|---|
//! | BYTE | Profile (= 2) |
//! | BYTE | Mode (= 1) |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe};
use crate::{Guid, Limits, Result, guids};

/// Compatibility: profile and mode bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compatibility {
    /// Profile (the spec fixes 2).
    pub profile: u8,
    /// Mode (the spec fixes 1).
    pub mode: u8,
    /// Bytes after the fixed fields.
    pub trailing: Vec<u8>,
}

impl Default for Compatibility {
    fn default() -> Self {
        Compatibility {
            profile: 2,
            mode: 1,
            trailing: Vec::new(),
        }
    }
}

impl AsfObject for Compatibility {
    const GUID: Guid = guids::COMPATIBILITY;
    const NAME: &'static str = "Compatibility Object";

    fn parse_body(r: &mut Reader<'_>, _limits: &Limits) -> Result<Self> {
        Ok(Compatibility {
            profile: r.u8()?,
            mode: r.u8()?,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        2 + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_u8_le(self.profile);
        out.put_u8_le(self.mode);
        out.put_raw(&self.trailing);
    }
}
