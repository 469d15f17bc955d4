//! Header Extension Object (ASF 3.4).
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Reserved Field 1 (`ABD3D211-A9BA-11CF-8EE6-00C00C205365`) |
//! | WORD | Reserved Field 2 (= 6) |
//! | DWORD | Header Extension Data Size |
//! | BYTE[] | Header Extension Data: the extension objects (ASF 4) |
//!
//! Children are parsed by size, in order. Bytes inside the data that do not form an object
//! are kept in `unparsed`; bytes after the declared data size are kept in `trailing`.

use crate::object::AsfObject;
use crate::objects::HeaderObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::{Guid, Limits, Result, guids};

/// Header Extension: holds the extension objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderExtension {
    /// Reserved Field 1 as read.
    pub reserved1: Guid,
    /// Reserved Field 2 as read (= 6).
    pub reserved2: u16,
    /// The extension objects in file order.
    pub objects: Vec<HeaderObject>,
    /// Bytes at the end of the extension data that do not form an object (a finding).
    pub unparsed: Vec<u8>,
    /// Bytes after the declared extension data size (a finding).
    pub trailing: Vec<u8>,
}

impl Default for HeaderExtension {
    fn default() -> Self {
        HeaderExtension {
            reserved1: guids::HEADER_EXTENSION_RESERVED_1,
            reserved2: 6,
            objects: Vec::new(),
            unparsed: Vec::new(),
            trailing: Vec::new(),
        }
    }
}

impl HeaderExtension {
    /// Size of the extension data (children plus unparsed bytes).
    pub fn data_size(&self) -> u64 {
        self.objects
            .iter()
            .map(HeaderObject::encoded_len)
            .sum::<u64>()
            + self.unparsed.len() as u64
    }
}

/// Parses a run of objects filling `r` entirely; what does not form an object is returned as
/// unparsed bytes. Shared by the Header and the Header Extension.
pub(crate) fn parse_children(
    r: &mut Reader<'_>,
    limits: &Limits,
    in_extension: bool,
) -> Result<(Vec<HeaderObject>, Vec<u8>)> {
    let mut objects = Vec::new();
    while r.remaining() > 0 {
        if objects.len() >= limits.max_header_objects as usize {
            return Err(crate::Error::LimitExceeded {
                offset: r.offset(),
                object: r.object(),
                what: "number of child objects",
                value: objects.len() as u64 + 1,
                limit: limits.max_header_objects.into(),
            });
        }
        match HeaderObject::parse(r.peek_rest(), r.offset(), limits, in_extension) {
            Ok((obj, used)) => {
                r.bytes(used)?;
                objects.push(obj);
            }
            // ASF 3.1: a child whose size does not fit: keep the rest raw for validate.
            Err(_) => break,
        }
    }
    Ok((objects, r.rest().to_vec()))
}

impl AsfObject for HeaderExtension {
    const GUID: Guid = guids::HEADER_EXTENSION;
    const NAME: &'static str = "Header Extension Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let reserved1 = r.guid()?;
        let reserved2 = r.u16()?;
        let size = r.u32()?;
        // ASF 3.4: the extension data is exactly Header Extension Data Size bytes.
        let mut data = r.sub(size.into(), Self::NAME)?;
        let (objects, unparsed) = parse_children(&mut data, limits, true)?;
        Ok(HeaderExtension {
            reserved1,
            reserved2,
            objects,
            unparsed,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        22 + self.data_size() + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.reserved1);
        out.put_u16_le(self.reserved2);
        out.put_u32_le(len_as(self.data_size() as usize));
        for o in &self.objects {
            o.write(out);
        }
        out.put_raw(&self.unparsed);
        out.put_raw(&self.trailing);
    }

    fn fix(&mut self) {
        for o in &mut self.objects {
            o.fix();
        }
    }
}
