//! Codec List Object (ASF 3.5).
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Reserved (`86D15241-311D-11D0-A3A4-00A0C90348F6`) |
//! | DWORD | Codec Entries Count |
//! | entries | WORD Type (1 video, 2 audio, 0xFFFF unknown); WORD Name Length (WCHARs), name; WORD Description Length (WCHARs), description; WORD Information Length (bytes), information |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::strings::WString;
use crate::{Guid, Limits, Result, guids};

/// Codec List: the codecs used, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecList {
    /// Reserved GUID as read (should be [`guids::CODEC_LIST_RESERVED`]).
    pub reserved: Guid,
    /// The entries.
    pub entries: Vec<CodecEntry>,
    /// Bytes after the last entry.
    pub trailing: Vec<u8>,
}

impl Default for CodecList {
    fn default() -> Self {
        CodecList {
            reserved: guids::CODEC_LIST_RESERVED,
            entries: Vec::new(),
            trailing: Vec::new(),
        }
    }
}

/// One Codec List entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CodecEntry {
    /// 1 video, 2 audio, 0xFFFF unknown.
    pub codec_type: u16,
    /// Codec name (length counted in WCHARs on the wire).
    pub name: WString,
    /// Codec description (WCHARs).
    pub description: WString,
    /// Codec information: by convention wFormatTag (audio) or FourCC (video).
    pub information: Vec<u8>,
}

impl CodecEntry {
    /// An entry: `codec_type` 1 video, 2 audio; `information` by convention the FourCC
    /// (video) or wFormatTag (audio).
    pub fn new(codec_type: u16, name: &str, description: &str, information: &[u8]) -> Self {
        CodecEntry {
            codec_type,
            name: WString::new(name),
            description: WString::new(description),
            information: information.to_vec(),
        }
    }
}

fn read_wchars(r: &mut Reader<'_>) -> Result<WString> {
    let n = r.u16()?;
    Ok(WString(r.bytes(usize::from(n) * 2)?.to_vec()))
}

impl AsfObject for CodecList {
    const GUID: Guid = guids::CODEC_LIST;
    const NAME: &'static str = "Codec List Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let reserved = r.guid()?;
        let count = r.u32()?;
        let count = r.check_count(count.into(), 8, limits)?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let codec_type = r.u16()?;
            // ASF 3.5: name and description lengths count WCHARs, information counts bytes.
            let name = read_wchars(r)?;
            let description = read_wchars(r)?;
            let info_len = r.u16()?;
            let information = r.bytes(info_len.into())?.to_vec();
            entries.push(CodecEntry {
                codec_type,
                name,
                description,
                information,
            });
        }
        Ok(CodecList {
            reserved,
            entries,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        20 + self
            .entries
            .iter()
            .map(|e| {
                8 + e.name.len_wchars() * 2 + e.description.len_wchars() * 2 + e.information.len()
            })
            .sum::<usize>() as u64
            + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.reserved);
        out.put_u32_le(len_as(self.entries.len()));
        for e in &self.entries {
            out.put_u16_le(e.codec_type);
            for s in [&e.name, &e.description] {
                out.put_u16_le(len_as(s.len_wchars()));
                out.put_raw(s.as_bytes());
                if s.len_bytes() % 2 == 1 {
                    out.put_u8_le(0);
                }
            }
            out.put_u16_le(len_as(e.information.len()));
            out.put_raw(&e.information);
        }
        out.put_raw(&self.trailing);
    }
}
