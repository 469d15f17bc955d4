//! Content Branding Object (ASF 3.13).
//!
//! | Type | Field |
//! |---|---|
//! | DWORD | Banner Image Type (0 none, 1 BMP, 2 JPEG, 3 GIF) |
//! | DWORD | Banner Image Data Size |
//! | BYTE[] | Banner Image Data |
//! | DWORD | Banner Image URL Length |
//! | CHAR[] | Banner Image URL (ASCII) |
//! | DWORD | Copyright URL Length |
//! | CHAR[] | Copyright URL (ASCII) |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// Content Branding: banner image and URLs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentBranding {
    /// Banner image type (0 none, 1 BMP, 2 JPEG, 3 GIF).
    pub banner_image_type: u32,
    /// Banner image bytes.
    pub banner_image: Vec<u8>,
    /// Banner URL (ASCII bytes as stored).
    pub banner_url: Vec<u8>,
    /// Copyright URL (ASCII bytes as stored).
    pub copyright_url: Vec<u8>,
    /// Bytes after the last field.
    pub trailing: Vec<u8>,
}

impl AsfObject for ContentBranding {
    const GUID: Guid = guids::CONTENT_BRANDING;
    const NAME: &'static str = "Content Branding Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let banner_image_type = r.u32()?;
        let max = limits.max_object_size;
        let n = r.u32()?;
        let banner_image = r
            .bytes_limited(n.into(), max, "banner image size")?
            .to_vec();
        let n = r.u32()?;
        let banner_url = r
            .bytes_limited(n.into(), max, "banner URL length")?
            .to_vec();
        let n = r.u32()?;
        let copyright_url = r
            .bytes_limited(n.into(), max, "copyright URL length")?
            .to_vec();
        Ok(ContentBranding {
            banner_image_type,
            banner_image,
            banner_url,
            copyright_url,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        16 + (self.banner_image.len()
            + self.banner_url.len()
            + self.copyright_url.len()
            + self.trailing.len()) as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.banner_image_type);
        for b in [&self.banner_image, &self.banner_url, &self.copyright_url] {
            out.put_u32_le(len_as(b.len()));
            out.put_raw(b);
        }
        out.put_raw(&self.trailing);
    }
}
