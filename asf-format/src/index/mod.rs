//! The index objects that follow the Data Object (ASF 3.3-3.6 / asf-format.md §1.1): Simple
//! Index, Index, Media Object Index and Timecode Index.
//!
//! Each type implements [`AsfObject`]: it parses from the whole object (24-byte header
//! included), serializes back byte for byte, and knows its exact `encoded_len`. Entry counts
//! are checked against the object size and [`Limits::max_entries`] before anything is
//! allocated.

mod index_object;
mod simple;
mod timecode;

pub use index_object::{Index, IndexBlock, IndexSpecifier, IndexType, MediaObjectIndex};
pub use simple::{SimpleIndex, SimpleIndexEntry};
pub use timecode::{TimecodeIndex, TimecodeIndexBlock};

use crate::error::Result;
use crate::guid::Guid;
use crate::limits::Limits;
use crate::object::AsfObject;

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
    /// Whether `first` is the first byte of an index object GUID (a quick test before
    /// [`IndexObject::is_index_guid`]).
    pub(crate) fn could_start_guid(first: u8) -> bool {
        [
            SimpleIndex::GUID.0[0],
            Index::GUID.0[0],
            MediaObjectIndex::GUID.0[0],
            TimecodeIndex::GUID.0[0],
        ]
        .contains(&first)
    }

    /// Whether `guid` is one of the four index GUIDs.
    pub fn is_index_guid(guid: &Guid) -> bool {
        [
            SimpleIndex::GUID,
            Index::GUID,
            MediaObjectIndex::GUID,
            TimecodeIndex::GUID,
        ]
        .contains(guid)
    }

    /// Parses the index object at the start of `input` (`base` is its absolute offset).
    /// Returns `Ok(None)` if its GUID is not an index GUID; otherwise the object and the bytes
    /// it took.
    pub fn parse(input: &[u8], base: u64, limits: &Limits) -> Result<Option<(Self, usize)>> {
        let Some(g) = input.get(..16) else {
            return Ok(None);
        };
        let guid = Guid(<[u8; 16]>::try_from(g).unwrap_or([0; 16]));
        Ok(Some(if guid == SimpleIndex::GUID {
            let (o, n) = SimpleIndex::parse(input, base, limits)?;
            (IndexObject::Simple(o), n)
        } else if guid == Index::GUID {
            let (o, n) = Index::parse(input, base, limits)?;
            (IndexObject::Index(o), n)
        } else if guid == MediaObjectIndex::GUID {
            let (o, n) = MediaObjectIndex::parse(input, base, limits)?;
            (IndexObject::MediaObject(o), n)
        } else if guid == TimecodeIndex::GUID {
            let (o, n) = TimecodeIndex::parse(input, base, limits)?;
            (IndexObject::Timecode(o), n)
        } else {
            return Ok(None);
        }))
    }

    /// Exact encoded length.
    pub fn encoded_len(&self) -> u64 {
        match self {
            IndexObject::Simple(i) => i.encoded_len(),
            IndexObject::Index(i) => i.encoded_len(),
            IndexObject::MediaObject(i) => i.encoded_len(),
            IndexObject::Timecode(i) => i.encoded_len(),
        }
    }

    /// Writes the whole object.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            IndexObject::Simple(i) => i.write(out),
            IndexObject::Index(i) => i.write(out),
            IndexObject::MediaObject(i) => i.write(out),
            IndexObject::Timecode(i) => i.write(out),
        }
    }
}
