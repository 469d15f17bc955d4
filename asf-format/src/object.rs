//! The trait every ASF object implements, and [`RawObject`] for unknown or opaque objects.
//!
//! ASF 3.1 / asf-format.md §0: every object starts with a 24-byte header, a 16-byte GUID and a
//! QWORD object size that counts those 24 bytes. An object's model holds only its body; the
//! size is always derived (`encoded_len() = 24 + body_len()`), so a parsed object serializes
//! back to exactly the bytes it was read from (the parser bounds the body to the declared
//! size, and every object keeps whatever it cannot interpret, e.g. trailing bytes).
//!
//! Serialization is two steps (STYLE habit 4): [`AsfObject::fix`] recomputes counts that the
//! model keeps as read, then [`AsfObject::write`] writes fields as they are.

use bytes::Bytes;

use crate::reader::{Reader, WriteLe};
use crate::{Error, Guid, Limits, Result};

/// Size of the common object header (GUID + QWORD size).
pub const OBJECT_HEADER_LEN: u64 = 24;

/// One ASF object type: its GUID, name, body parser and body writer.
pub trait AsfObject: Sized {
    /// The object's GUID.
    const GUID: Guid;
    /// The object's name as in the specification, used in errors.
    const NAME: &'static str;

    /// Parses the body (everything after the 24-byte header). `r` is bounded to exactly the
    /// body; the implementation must consume all of it (keeping what it cannot interpret) or
    /// return an error.
    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self>;

    /// Exact length of the body that [`AsfObject::write_body`] writes.
    fn body_len(&self) -> u64;

    /// Writes the body, fields as they are.
    fn write_body(&self, out: &mut Vec<u8>);

    /// Recomputes counts and derived fields that the model keeps as read (default: nothing).
    fn fix(&mut self) {}

    /// Exact encoded length including the 24-byte header.
    fn encoded_len(&self) -> u64 {
        OBJECT_HEADER_LEN + self.body_len()
    }

    /// Writes the whole object (header and body).
    fn write(&self, out: &mut Vec<u8>) {
        out.put_guid(&Self::GUID);
        out.put_u64_le(self.encoded_len());
        self.write_body(out);
    }

    /// The whole object as bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.encoded_len()).unwrap_or(0));
        self.write(&mut v);
        v
    }

    /// Serializes and checks that the bytes parse back to the same model. Fails with
    /// `InvalidArgument` when a field of a hand-built model does not fit its wire field
    /// (e.g. a string longer than a WORD length prefix can express, which [`AsfObject::write`]
    /// saturates) or when the model is otherwise not what the bytes say (e.g. trailing bytes
    /// that would parse as an embedded object).
    fn to_bytes_checked(&self) -> Result<Vec<u8>>
    where
        Self: PartialEq,
    {
        let bytes = self.to_bytes();
        let limits = Limits {
            max_object_size: u64::MAX,
            max_header_size: u64::MAX,
            max_entries: u32::MAX,
            max_header_objects: u32::MAX,
            ..Limits::default()
        };
        match Self::parse(&bytes, 0, &limits) {
            Ok((back, used)) if used == bytes.len() && back == *self => Ok(bytes),
            _ => Err(Error::InvalidArgument(
                "the model does not serialize to bytes that parse back to it (a length or count does not fit its field)",
            )),
        }
    }

    /// Parses one whole object (header and body) from the start of `input`, whose first byte
    /// is at absolute offset `base`. Returns the object and the bytes consumed.
    fn parse(input: &[u8], base: u64, limits: &Limits) -> Result<(Self, usize)> {
        let mut r = Reader::new(input, base, Self::NAME);
        let (guid, size) = read_object_header(&mut r)?;
        if guid != Self::GUID {
            return Err(Error::Malformed {
                offset: base,
                object: Self::NAME,
                reason: "unexpected GUID",
            });
        }
        check_object_size(size, base, Self::NAME, limits.max_object_size)?;
        let mut body = r.sub(size - OBJECT_HEADER_LEN, Self::NAME)?;
        let obj = Self::parse_body(&mut body, limits)?;
        body.expect_end(Self::NAME)?;
        Ok((obj, size as usize))
    }
}

/// Reads the 24-byte object header: GUID and declared size.
pub fn read_object_header(r: &mut Reader<'_>) -> Result<(Guid, u64)> {
    let guid = r.guid()?;
    let size = r.u64()?;
    Ok((guid, size))
}

/// ASF 3.1: the size counts the 24-byte header, so anything smaller is malformed; and no
/// object is accepted over `max` bytes.
pub fn check_object_size(size: u64, offset: u64, object: &'static str, max: u64) -> Result<()> {
    if size < OBJECT_HEADER_LEN {
        return Err(Error::Malformed {
            offset: offset + 16,
            object,
            reason: "object size smaller than the 24-byte object header",
        });
    }
    if size > max {
        return Err(Error::LimitExceeded {
            offset: offset + 16,
            object,
            what: "object size",
            value: size,
            limit: max,
        });
    }
    Ok(())
}

/// An object kept as opaque bytes: unknown GUIDs, encryption and signature objects, and
/// objects this crate keeps but does not interpret. Round trips exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    /// The object's GUID.
    pub guid: Guid,
    /// The body (everything after the 24-byte header).
    pub data: Bytes,
}

impl RawObject {
    /// Exact encoded length including the 24-byte header.
    pub fn encoded_len(&self) -> u64 {
        OBJECT_HEADER_LEN + self.data.len() as u64
    }

    /// Writes the whole object.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.guid);
        out.put_u64_le(self.encoded_len());
        out.put_raw(&self.data);
    }

    /// The human name of the GUID if it is known.
    pub fn name(&self) -> Option<&'static str> {
        crate::guids::name_of(&self.guid)
    }

    /// Parses one object of any GUID as raw bytes from the start of `input` (absolute offset
    /// `base`). Returns the object and the bytes consumed.
    pub fn parse(input: &[u8], base: u64, limits: &Limits) -> Result<(Self, usize)> {
        let mut r = Reader::new(input, base, "object");
        let (guid, size) = read_object_header(&mut r)?;
        let name = crate::guids::name_of(&guid).unwrap_or("unknown object");
        check_object_size(size, base, name, limits.max_object_size)?;
        let body = r.sub(size - OBJECT_HEADER_LEN, name)?;
        Ok((
            RawObject {
                guid,
                data: Bytes::copy_from_slice(body.peek_rest()),
            },
            size as usize,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_object_round_trip_and_errors() {
        let raw = RawObject {
            guid: Guid([7; 16]),
            data: Bytes::from_static(b"hello"),
        };
        let mut v = Vec::new();
        raw.write(&mut v);
        assert_eq!(v.len() as u64, raw.encoded_len());
        let (back, used) = RawObject::parse(&v, 0, &Limits::default()).unwrap();
        assert_eq!(back, raw);
        assert_eq!(used, v.len());
        // size smaller than header
        let mut bad = v.clone();
        bad[16..24].copy_from_slice(&3u64.to_le_bytes());
        assert!(matches!(
            RawObject::parse(&bad, 10, &Limits::default()),
            Err(Error::Malformed { offset: 26, .. })
        ));
        // size beyond input
        assert!(matches!(
            RawObject::parse(&v[..v.len() - 1], 0, &Limits::default()),
            Err(Error::Truncated { .. })
        ));
    }
}
