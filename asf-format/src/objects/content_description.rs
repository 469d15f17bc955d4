//! Content Description Object (ASF 3.10).
//!
//! | Type | Field |
//! |---|---|
//! | WORD | Title Length (bytes) |
//! | WORD | Author Length |
//! | WORD | Copyright Length |
//! | WORD | Description Length |
//! | WORD | Rating Length |
//! | WCHAR[] | Title, Author, Copyright, Description, Rating |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::strings::WString;
use crate::{Guid, Limits, Result, guids};

/// Content Description: title, author, copyright, description, rating.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentDescription {
    /// Title.
    pub title: WString,
    /// Author.
    pub author: WString,
    /// Copyright.
    pub copyright: WString,
    /// Description.
    pub description: WString,
    /// Rating.
    pub rating: WString,
    /// Bytes after the five strings.
    pub trailing: Vec<u8>,
}

impl ContentDescription {
    /// Builds the object from text (each string NUL-terminated; empty strings stay empty).
    pub fn new(
        title: &str,
        author: &str,
        copyright: &str,
        description: &str,
        rating: &str,
    ) -> Self {
        let w = |s: &str| {
            if s.is_empty() {
                WString::default()
            } else {
                WString::new(s)
            }
        };
        ContentDescription {
            title: w(title),
            author: w(author),
            copyright: w(copyright),
            description: w(description),
            rating: w(rating),
            trailing: Vec::new(),
        }
    }
}

impl AsfObject for ContentDescription {
    const GUID: Guid = guids::CONTENT_DESCRIPTION;
    const NAME: &'static str = "Content Description Object";

    fn parse_body(r: &mut Reader<'_>, _limits: &Limits) -> Result<Self> {
        let mut lens = [0u16; 5];
        for l in &mut lens {
            *l = r.u16()?;
        }
        // ASF 3.10: the lengths count bytes (odd lengths are kept as read).
        let [title, author, copyright, description, rating] = lens;
        let mut text = |len: u16| -> Result<WString> { Ok(WString(r.bytes(len.into())?.to_vec())) };
        let title = text(title)?;
        let author = text(author)?;
        let copyright = text(copyright)?;
        let description = text(description)?;
        let rating = text(rating)?;
        Ok(ContentDescription {
            title,
            author,
            copyright,
            description,
            rating,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        10 + (self.title.len_bytes()
            + self.author.len_bytes()
            + self.copyright.len_bytes()
            + self.description.len_bytes()
            + self.rating.len_bytes()
            + self.trailing.len()) as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        let all = [
            &self.title,
            &self.author,
            &self.copyright,
            &self.description,
            &self.rating,
        ];
        for s in all {
            out.put_u16_le(len_as(s.len_bytes()));
        }
        for s in all {
            out.put_raw(s.as_bytes());
        }
        out.put_raw(&self.trailing);
    }
}
