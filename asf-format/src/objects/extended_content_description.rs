//! Extended Content Description Object (ASF 3.11), and [`TypedValue`], the typed value
//! shared with the Metadata and Metadata Library objects.
//!
//! | Type | Field |
//! |---|---|
//! | WORD | Content Descriptors Count |
//! | descriptors | WORD Name Length (bytes), name (WCHAR); WORD Value Data Type; WORD Value Length (bytes); value |
//!
//! Value types: 0 UTF-16 string, 1 byte array, 2 BOOL (4 bytes here, 2 in Metadata),
//! 3 DWORD, 4 QWORD, 5 WORD, 6 GUID (Metadata Library only).

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::strings::WString;
use crate::{Guid, Limits, Result, guids};

/// A typed value kept exactly as stored: the type code and the raw value bytes. Decode with
/// [`TypedValue::decode`]; build with the constructors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypedValue {
    /// Value data type code (0..=6 defined).
    pub value_type: u16,
    /// The value bytes as stored.
    pub data: Vec<u8>,
}

/// A decoded [`TypedValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// Type 0: UTF-16 string (decoded, terminator dropped).
    String(String),
    /// Type 1: byte array.
    Bytes(Vec<u8>),
    /// Type 2: BOOL.
    Bool(bool),
    /// Type 3: DWORD.
    Dword(u32),
    /// Type 4: QWORD.
    Qword(u64),
    /// Type 5: WORD.
    Word(u16),
    /// Type 6: GUID.
    Guid(Guid),
    /// A known type whose data has the wrong length, or an unknown type code.
    Invalid,
}

impl TypedValue {
    /// Type 0 string (NUL-terminated UTF-16LE).
    pub fn string(s: &str) -> Self {
        TypedValue {
            value_type: 0,
            data: WString::new(s).0,
        }
    }
    /// Type 1 byte array.
    pub fn bytes(b: &[u8]) -> Self {
        TypedValue {
            value_type: 1,
            data: b.to_vec(),
        }
    }
    /// Type 2 BOOL, 4 bytes wide as in the Extended Content Description (ASF 3.11).
    pub fn bool_dword(b: bool) -> Self {
        TypedValue {
            value_type: 2,
            data: u32::from(b).to_le_bytes().to_vec(),
        }
    }
    /// Type 2 BOOL, 2 bytes wide as in Metadata / Metadata Library (ASF 4.7).
    pub fn bool_word(b: bool) -> Self {
        TypedValue {
            value_type: 2,
            data: u16::from(b).to_le_bytes().to_vec(),
        }
    }
    /// Type 3 DWORD.
    pub fn dword(v: u32) -> Self {
        TypedValue {
            value_type: 3,
            data: v.to_le_bytes().to_vec(),
        }
    }
    /// Type 4 QWORD.
    pub fn qword(v: u64) -> Self {
        TypedValue {
            value_type: 4,
            data: v.to_le_bytes().to_vec(),
        }
    }
    /// Type 5 WORD.
    pub fn word(v: u16) -> Self {
        TypedValue {
            value_type: 5,
            data: v.to_le_bytes().to_vec(),
        }
    }
    /// Type 6 GUID.
    pub fn guid(g: Guid) -> Self {
        TypedValue {
            value_type: 6,
            data: g.0.to_vec(),
        }
    }

    /// Decodes the value. Integer types accept exactly their width; BOOL accepts 2 or 4 bytes
    /// (it is 4 in the Extended Content Description and 2 in Metadata objects).
    pub fn decode(&self) -> Value {
        let d = &self.data;
        match (self.value_type, d.len()) {
            (0, _) => Value::String(WString(d.clone()).to_string_lossy()),
            (1, _) => Value::Bytes(d.clone()),
            (2, 2 | 4) => Value::Bool(d.iter().any(|&b| b != 0)),
            (3, 4) => Value::Dword(u32::from_le_bytes([d[0], d[1], d[2], d[3]])),
            (4, 8) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(d);
                Value::Qword(u64::from_le_bytes(a))
            }
            (5, 2) => Value::Word(u16::from_le_bytes([d[0], d[1]])),
            (6, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(d);
                Value::Guid(Guid(a))
            }
            _ => Value::Invalid,
        }
    }
}

/// One content descriptor: a name and a typed value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentDescriptor {
    /// Descriptor name, e.g. `WM/AlbumTitle`.
    pub name: WString,
    /// The value.
    pub value: TypedValue,
}

/// Extended Content Description: name/value metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedContentDescription {
    /// The descriptors in file order.
    pub descriptors: Vec<ContentDescriptor>,
    /// Bytes after the last descriptor.
    pub trailing: Vec<u8>,
}

impl ExtendedContentDescription {
    /// The first descriptor whose name is `name`.
    pub fn get(&self, name: &str) -> Option<&TypedValue> {
        self.descriptors
            .iter()
            .find(|d| d.name.to_string_lossy() == name)
            .map(|d| &d.value)
    }
}

impl AsfObject for ExtendedContentDescription {
    const GUID: Guid = guids::EXTENDED_CONTENT_DESCRIPTION;
    const NAME: &'static str = "Extended Content Description Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let count = r.u16()?;
        let count = r.check_count(count.into(), 6, limits)?;
        let mut descriptors = Vec::with_capacity(count);
        for _ in 0..count {
            let name_len = r.u16()?;
            let name = WString(r.bytes(name_len.into())?.to_vec());
            let value_type = r.u16()?;
            let value_len = r.u16()?;
            let data = r.bytes(value_len.into())?.to_vec();
            descriptors.push(ContentDescriptor {
                name,
                value: TypedValue { value_type, data },
            });
        }
        Ok(ExtendedContentDescription {
            descriptors,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        2 + self
            .descriptors
            .iter()
            .map(|d| 6 + d.name.len_bytes() + d.value.data.len())
            .sum::<usize>() as u64
            + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_u16_le(len_as(self.descriptors.len()));
        for d in &self.descriptors {
            out.put_u16_le(len_as(d.name.len_bytes()));
            out.put_raw(d.name.as_bytes());
            out.put_u16_le(d.value.value_type);
            out.put_u16_le(len_as(d.value.data.len()));
            out.put_raw(&d.value.data);
        }
        out.put_raw(&self.trailing);
    }
}
