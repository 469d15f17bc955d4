//! Language List Object (ASF 4.6), inside the Header Extension.
//!
//! | Type | Field |
//! |---|---|
//! | WORD | Language ID Records Count |
//! | records | BYTE Language ID Length (bytes); WCHAR Language ID (RFC 1766, e.g. "en-us") |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::strings::WString;
use crate::{Guid, Limits, Result, guids};

/// Language List: the languages that Extended Stream Properties and the Metadata Library
/// refer to by index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LanguageList {
    /// Language IDs in order (index = position).
    pub languages: Vec<WString>,
    /// Bytes after the last record.
    pub trailing: Vec<u8>,
}

impl AsfObject for LanguageList {
    const GUID: Guid = guids::LANGUAGE_LIST;
    const NAME: &'static str = "Language List Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let count = r.u16()?;
        let count = r.check_count(count.into(), 1, limits)?;
        let mut languages = Vec::with_capacity(count);
        for _ in 0..count {
            let len = r.u8()?;
            languages.push(WString(r.bytes(len.into())?.to_vec()));
        }
        Ok(LanguageList {
            languages,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        2 + self
            .languages
            .iter()
            .map(|l| 1 + l.len_bytes())
            .sum::<usize>() as u64
            + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_u16_le(len_as(self.languages.len()));
        for l in &self.languages {
            out.put_u8_le(len_as(l.len_bytes()));
            out.put_raw(l.as_bytes());
        }
        out.put_raw(&self.trailing);
    }
}
