//! Metadata Object (ASF 4.7) and Metadata Library Object (ASF 4.8), inside the Header
//! Extension. Both share one record layout:
//!
//! | Type | Field |
//! |---|---|
//! | WORD | Description Records Count |
//! | records | WORD Reserved (Metadata, must be 0) / Language List Index (Metadata Library); WORD Stream Number (0 = file); WORD Name Length (bytes); WORD Data Type; DWORD Data Length; name (WCHAR); data |

use crate::object::AsfObject;
use crate::objects::extended_content_description::TypedValue;
use crate::reader::{Reader, WriteLe, len_as};
use crate::strings::WString;
use crate::{Guid, Limits, Result, guids};

/// One description record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataRecord {
    /// Metadata: Reserved (must be 0). Metadata Library: Language List Index.
    pub language_index: u16,
    /// Stream number (0 = whole file).
    pub stream_number: u16,
    /// Name.
    pub name: WString,
    /// Typed value (BOOL is 2 bytes here; GUID only in the Metadata Library).
    pub value: TypedValue,
}

fn parse_records(r: &mut Reader<'_>, limits: &Limits) -> Result<Vec<MetadataRecord>> {
    let count = r.u16()?;
    let count = r.check_count(count.into(), 12, limits)?;
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let language_index = r.u16()?;
        let stream_number = r.u16()?;
        let name_len = r.u16()?;
        let value_type = r.u16()?;
        let data_len = r.u32()?;
        let name = WString(r.bytes(name_len.into())?.to_vec());
        let data = r
            .bytes_limited(data_len.into(), limits.max_object_size, "data length")?
            .to_vec();
        records.push(MetadataRecord {
            language_index,
            stream_number,
            name,
            value: TypedValue { value_type, data },
        });
    }
    Ok(records)
}

fn records_len(records: &[MetadataRecord]) -> u64 {
    2 + records
        .iter()
        .map(|m| 12 + m.name.len_bytes() + m.value.data.len())
        .sum::<usize>() as u64
}

fn write_records(records: &[MetadataRecord], out: &mut Vec<u8>) {
    out.put_u16_le(len_as(records.len()));
    for m in records {
        out.put_u16_le(m.language_index);
        out.put_u16_le(m.stream_number);
        out.put_u16_le(len_as(m.name.len_bytes()));
        out.put_u16_le(m.value.value_type);
        out.put_u32_le(len_as(m.value.data.len()));
        out.put_raw(m.name.as_bytes());
        out.put_raw(&m.value.data);
    }
}

macro_rules! metadata_object {
    ($(#[$doc:meta])* $ty:ident, $guid:expr, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $ty {
            /// The records in file order.
            pub records: Vec<MetadataRecord>,
            /// Bytes after the last record.
            pub trailing: Vec<u8>,
        }

        impl $ty {
            /// The first record named `name` for `stream_number` (0 = whole file).
            pub fn get(&self, stream_number: u16, name: &str) -> Option<&TypedValue> {
                self.records
                    .iter()
                    .find(|m| m.stream_number == stream_number && m.name.to_string_lossy() == name)
                    .map(|m| &m.value)
            }
        }

        impl AsfObject for $ty {
            const GUID: Guid = $guid;
            const NAME: &'static str = $name;

            fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
                Ok($ty {
                    records: parse_records(r, limits)?,
                    trailing: r.rest().to_vec(),
                })
            }

            fn body_len(&self) -> u64 {
                records_len(&self.records) + self.trailing.len() as u64
            }

            fn write_body(&self, out: &mut Vec<u8>) {
                write_records(&self.records, out);
                out.put_raw(&self.trailing);
            }
        }
    };
}

metadata_object!(
    /// Metadata Object: per-stream name/value records (e.g. `AspectRatioX`).
    Metadata,
    guids::METADATA,
    "Metadata Object"
);
metadata_object!(
    /// Metadata Library Object: records with language index, large values (e.g. `WM/Picture`).
    MetadataLibrary,
    guids::METADATA_LIBRARY,
    "Metadata Library Object"
);
