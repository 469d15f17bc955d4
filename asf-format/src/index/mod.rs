//! The index objects that follow the Data Object (ASF 3.3-3.6 / asf-format.md §1.1): Simple
//! Index, Index, Media Object Index and Timecode Index.
//!
//! Each type parses from the whole object (24-byte common header included), serializes back
//! byte for byte, and knows its exact `encoded_len`. Entry counts are checked against the
//! object size and [`Limits::max_entries`](crate::Limits) before anything is allocated.

mod index_object;
mod simple;
mod timecode;

pub use index_object::{Index, IndexBlock, IndexSpecifier, IndexType, MediaObjectIndex};
pub use simple::{SimpleIndex, SimpleIndexEntry};
pub use timecode::{TimecodeIndex, TimecodeIndexBlock};

use bytes::BufMut;

use crate::error::{Error, Result};
use crate::guid::Guid;
use crate::limits::Limits;
use crate::packet::cursor::Cursor;

/// Simple Index Object GUID (ASF 3.3).
pub const SIMPLE_INDEX_GUID: Guid = Guid::from_str_const("33000890-E5B1-11CF-89F4-00A0C90349CB");
/// Index Object GUID (ASF 3.4).
pub const INDEX_GUID: Guid = Guid::from_str_const("D6E229D3-35DA-11D1-9034-00A0C90349BE");
/// Media Object Index Object GUID (ASF 3.5).
pub const MEDIA_OBJECT_INDEX_GUID: Guid =
    Guid::from_str_const("FEB103F8-12AD-4C64-840F-2A1D2F7AD48C");
/// Timecode Index Object GUID (ASF 3.6).
pub const TIMECODE_INDEX_GUID: Guid = Guid::from_str_const("3CB73FD0-0C4A-4803-953D-EDF7B6228F0C");

/// Any of the four index objects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexObject {
    /// Simple Index (per video stream, time → packet).
    Simple(SimpleIndex),
    /// Index (time → byte offset, per specifier, 64-bit block positions).
    Index(Index),
    /// Media Object Index (frame number → byte offset).
    MediaObject(MediaObjectIndex),
    /// Timecode Index (SMPTE timecode → byte offset).
    Timecode(TimecodeIndex),
}

impl IndexObject {
    /// Whether `guid` is one of the four index GUIDs.
    pub fn is_index_guid(guid: &Guid) -> bool {
        [
            SIMPLE_INDEX_GUID,
            INDEX_GUID,
            MEDIA_OBJECT_INDEX_GUID,
            TIMECODE_INDEX_GUID,
        ]
        .contains(guid)
    }

    /// Parses the index object in `obj` (the whole object, header included; `base` is its
    /// absolute offset). Returns `Ok(None)` if the GUID is not an index GUID.
    pub fn parse(obj: &[u8], base: u64, limits: &Limits) -> Result<Option<Self>> {
        let mut c = Cursor::new(obj, base, "index object");
        let guid = c.guid()?;
        Ok(Some(match guid {
            g if g == SIMPLE_INDEX_GUID => IndexObject::Simple(SimpleIndex::parse(obj, base, limits)?),
            g if g == INDEX_GUID => IndexObject::Index(Index::parse(obj, base, limits)?),
            g if g == MEDIA_OBJECT_INDEX_GUID => {
                IndexObject::MediaObject(MediaObjectIndex::parse(obj, base, limits)?)
            }
            g if g == TIMECODE_INDEX_GUID => {
                IndexObject::Timecode(TimecodeIndex::parse(obj, base, limits)?)
            }
            _ => return Ok(None),
        }))
    }

    /// Exact encoded length.
    pub fn encoded_len(&self) -> usize {
        match self {
            IndexObject::Simple(i) => i.encoded_len(),
            IndexObject::Index(i) => i.encoded_len(),
            IndexObject::MediaObject(i) => i.encoded_len(),
            IndexObject::Timecode(i) => i.encoded_len(),
        }
    }

    /// Writes the object.
    pub fn write_to(&self, out: &mut impl BufMut) -> Result<()> {
        match self {
            IndexObject::Simple(i) => i.write_to(out),
            IndexObject::Index(i) => i.write_to(out),
            IndexObject::MediaObject(i) => i.write_to(out),
            IndexObject::Timecode(i) => i.write_to(out),
        }
    }
}

/// Reads the common object header, checks the GUID and size, and returns a cursor over the
/// body (bounded to the object's size; trailing bytes are rejected by `finish`).
pub(crate) fn open_object<'a>(
    obj: &'a [u8],
    base: u64,
    guid: Guid,
    name: &'static str,
) -> Result<Cursor<'a>> {
    let mut c = Cursor::new(obj, base, name);
    if c.guid()? != guid {
        return Err(Error::Malformed {
            offset: base,
            object: name,
            reason: "unexpected object GUID",
        });
    }
    let size = c.u64()?;
    if size < 24 {
        return Err(Error::Malformed {
            offset: base + 16,
            object: name,
            reason: "object size is smaller than the 24-byte object header",
        });
    }
    if size > obj.len() as u64 {
        return Err(Error::Truncated {
            offset: base + obj.len() as u64,
            object: name,
            needed: size - obj.len() as u64,
        });
    }
    let mut body = Cursor::new(&obj[..size as usize], base, name);
    body.take(24)?;
    Ok(body)
}

/// Rejects bytes left in an object after its last field (STYLE habit 2).
pub(crate) fn finish(c: &Cursor<'_>) -> Result<()> {
    if c.remaining() != 0 {
        return Err(c.malformed("bytes left after the last field (object size too large)"));
    }
    Ok(())
}

/// Checks a count read from the input against the limit and the bytes left, before allocating.
pub(crate) fn check_count(
    c: &Cursor<'_>,
    count: u64,
    bytes_each: u64,
    limits: &Limits,
    what: &'static str,
    object: &'static str,
) -> Result<usize> {
    if count > u64::from(limits.max_entries) {
        return Err(Error::LimitExceeded {
            offset: c.offset(),
            object,
            what,
            value: count,
            limit: u64::from(limits.max_entries),
        });
    }
    if count.saturating_mul(bytes_each) > c.remaining() as u64 {
        return Err(c.malformed("entry count runs past the object size"));
    }
    Ok(count as usize)
}

pub(crate) fn put_header(out: &mut impl BufMut, guid: &Guid, size: usize) {
    out.put_slice(guid.as_bytes());
    out.put_u64_le(size as u64);
}
