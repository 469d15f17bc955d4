//! Index Parameters (ASF 4.9), Media Object Index Parameters (ASF 4.10) and Timecode Index
//! Parameters (ASF 4.11) Objects, inside the Header Extension. All three share one layout:
//!
//! | Type | Field |
//! |---|---|
//! | DWORD | Index Entry Time Interval (ms) / Index Entry Count Interval (media objects) / Reserved |
//! | WORD | Index Specifiers Count |
//! | specifiers | WORD Stream Number; WORD Index Type (1 nearest past data packet, 2 nearest past media object, 3 nearest past cleanpoint) |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// One index specifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexSpecifier {
    /// Stream number.
    pub stream_number: u16,
    /// Index type: 1 nearest past data packet, 2 nearest past media object, 3 nearest past
    /// cleanpoint.
    pub index_type: u16,
}

macro_rules! index_parameters {
    ($(#[$doc:meta])* $ty:ident, $guid:expr, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $ty {
            /// The first DWORD: time interval (ms), count interval (objects) or reserved.
            pub interval: u32,
            /// The index specifiers (must match the index object).
            pub specifiers: Vec<IndexSpecifier>,
            /// Bytes after the last specifier.
            pub trailing: Vec<u8>,
        }

        impl AsfObject for $ty {
            const GUID: Guid = $guid;
            const NAME: &'static str = $name;

            fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
                let interval = r.u32()?;
                let count = r.u16()?;
                let count = r.check_count(count.into(), 4, limits)?;
                let mut specifiers = Vec::with_capacity(count);
                for _ in 0..count {
                    specifiers.push(IndexSpecifier {
                        stream_number: r.u16()?,
                        index_type: r.u16()?,
                    });
                }
                Ok($ty {
                    interval,
                    specifiers,
                    trailing: r.rest().to_vec(),
                })
            }

            fn body_len(&self) -> u64 {
                6 + 4 * self.specifiers.len() as u64 + self.trailing.len() as u64
            }

            fn write_body(&self, out: &mut Vec<u8>) {
                out.put_u32_le(self.interval);
                out.put_u16_le(len_as(self.specifiers.len()));
                for s in &self.specifiers {
                    out.put_u16_le(s.stream_number);
                    out.put_u16_le(s.index_type);
                }
                out.put_raw(&self.trailing);
            }
        }
    };
}

index_parameters!(
    /// Index Parameters: describes the Index Object (interval in ms).
    IndexParameters,
    guids::INDEX_PARAMETERS,
    "Index Parameters Object"
);
index_parameters!(
    /// Media Object Index Parameters: describes the Media Object Index (interval in objects).
    MediaObjectIndexParameters,
    guids::MEDIA_OBJECT_INDEX_PARAMETERS,
    "Media Object Index Parameters Object"
);
index_parameters!(
    /// Timecode Index Parameters: describes the Timecode Index (first DWORD reserved).
    TimecodeIndexParameters,
    guids::TIMECODE_INDEX_PARAMETERS,
    "Timecode Index Parameters Object"
);
