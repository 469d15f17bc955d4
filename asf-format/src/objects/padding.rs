//! Padding Object (ASF 3.17): reserves space in the header; the body is normally zeros.
//! Non-zero padding is kept as read.

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe};
use crate::{Guid, Limits, Result, guids};

/// Padding: `data` holds the padding bytes exactly as read (zeros when written by us).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Padding {
    /// The padding bytes.
    pub data: Vec<u8>,
}

impl Padding {
    /// A padding object whose whole encoded size (24-byte header included) is `total_len`
    /// bytes; `None` if `total_len < 24`.
    pub fn with_total_len(total_len: usize) -> Option<Self> {
        Some(Padding {
            data: vec![0; total_len.checked_sub(24)?],
        })
    }
}

impl AsfObject for Padding {
    const GUID: Guid = guids::PADDING;
    const NAME: &'static str = "Padding Object";

    fn parse_body(r: &mut Reader<'_>, _limits: &Limits) -> Result<Self> {
        Ok(Padding {
            data: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        self.data.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_raw(&self.data);
    }
}
