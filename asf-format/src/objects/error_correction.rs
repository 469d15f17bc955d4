//! Error Correction Object (ASF 3.9, top level of the header; legacy).
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Error Correction Type |
//! | DWORD | Error Correction Data Length |
//! | BYTE[] | Error Correction Data |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// Error Correction: the packet-level error correction scheme.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorCorrection {
    /// Error correction type GUID.
    pub error_correction_type: Guid,
    /// Error correction data.
    pub data: Vec<u8>,
    /// Bytes after the data.
    pub trailing: Vec<u8>,
}

impl AsfObject for ErrorCorrection {
    const GUID: Guid = guids::ERROR_CORRECTION;
    const NAME: &'static str = "Error Correction Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let error_correction_type = r.guid()?;
        let len = r.u32()?;
        let data = r
            .bytes_limited(
                len.into(),
                limits.max_object_size,
                "error correction data length",
            )?
            .to_vec();
        Ok(ErrorCorrection {
            error_correction_type,
            data,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        20 + (self.data.len() + self.trailing.len()) as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.error_correction_type);
        out.put_u32_le(len_as(self.data.len()));
        out.put_raw(&self.data);
        out.put_raw(&self.trailing);
    }
}
