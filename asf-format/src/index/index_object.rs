//! Index Object (ASF 3.4) and Media Object Index Object (ASF 3.5): the same layout, the first
//! field being a time interval (ms) or a media-object count interval.

use bytes::BufMut;

use super::{INDEX_GUID, MEDIA_OBJECT_INDEX_GUID, check_count, finish, open_object, put_header};
use crate::error::{Error, Result};
use crate::guid::Guid;
use crate::limits::Limits;
use crate::packet::cursor::Cursor;

/// Index Type of an index specifier (open: unknown values survive a round trip).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IndexType(pub u16);

impl IndexType {
    /// 1: Nearest Past Data Packet.
    pub const NEAREST_PAST_DATA_PACKET: IndexType = IndexType(1);
    /// 2: Nearest Past Media Object.
    pub const NEAREST_PAST_MEDIA_OBJECT: IndexType = IndexType(2);
    /// 3: Nearest Past Cleanpoint (the usual choice).
    pub const NEAREST_PAST_CLEANPOINT: IndexType = IndexType(3);
}

/// One index specifier: which stream, and what its entries point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IndexSpecifier {
    /// Stream Number (WORD).
    pub stream_number: u16,
    /// Index Type (WORD).
    pub index_type: IndexType,
}

/// One index block: a 64-bit base per specifier and `entry_count` entries of one 32-bit offset
/// per specifier. Byte position = block position + offset, from the first data packet;
/// 0xFFFFFFFF marks an invalid entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IndexBlock {
    /// Index Entry Count.
    pub entry_count: u32,
    /// Block Positions, one per specifier.
    pub block_positions: Vec<u64>,
    /// Offsets, entry-major: entry *e* of specifier *s* is `offsets[e * specifiers + s]`.
    pub offsets: Vec<u32>,
}

impl IndexBlock {
    /// The offset of `entry` for specifier number `specifier`.
    pub fn offset(&self, entry: usize, specifier: usize) -> Option<u32> {
        let n = self.block_positions.len();
        if specifier >= n {
            return None;
        }
        self.offsets.get(entry.checked_mul(n)?.checked_add(specifier)?).copied()
    }

    /// Byte position (from the first data packet) of `entry` for `specifier`; `None` for an
    /// invalid (0xFFFFFFFF) or missing entry.
    pub fn position(&self, entry: usize, specifier: usize) -> Option<u64> {
        let o = self.offset(entry, specifier)?;
        if o == u32::MAX {
            return None;
        }
        self.block_positions[specifier].checked_add(u64::from(o))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
struct Body {
    interval: u32,
    specifiers: Vec<IndexSpecifier>,
    blocks: Vec<IndexBlock>,
}

fn parse_body(mut c: Cursor<'_>, limits: &Limits, name: &'static str) -> Result<Body> {
    let interval = c.u32()?;
    let ns = c.u16()?;
    let nb = c.u32()?;
    let ns = check_count(&c, u64::from(ns), 4, limits, "index specifiers count", name)?;
    let mut specifiers = Vec::with_capacity(ns);
    for _ in 0..ns {
        specifiers.push(IndexSpecifier {
            stream_number: c.u16()?,
            index_type: IndexType(c.u16()?),
        });
    }
    let nb = check_count(&c, u64::from(nb), 4, limits, "index blocks count", name)?;
    let mut blocks = Vec::with_capacity(nb);
    for _ in 0..nb {
        let entry_count = c.u32()?;
        let positions = check_count(&c, ns as u64, 8, limits, "block positions", name)?;
        let mut block_positions = Vec::with_capacity(positions);
        for _ in 0..positions {
            block_positions.push(c.u64()?);
        }
        let total = u64::from(entry_count) * ns as u64;
        let total = check_count(&c, total, 4, limits, "index entries", name)?;
        let mut offsets = Vec::with_capacity(total);
        for _ in 0..total {
            offsets.push(c.u32()?);
        }
        blocks.push(IndexBlock {
            entry_count,
            block_positions,
            offsets,
        });
    }
    finish(&c)?;
    Ok(Body {
        interval,
        specifiers,
        blocks,
    })
}

fn body_len(specifiers: &[IndexSpecifier], blocks: &[IndexBlock]) -> usize {
    24 + 4
        + 2
        + 4
        + 4 * specifiers.len()
        + blocks
            .iter()
            .map(|k| 4 + 8 * k.block_positions.len() + 4 * k.offsets.len())
            .sum::<usize>()
}

fn write_body(
    out: &mut impl BufMut,
    guid: &Guid,
    interval: u32,
    specifiers: &[IndexSpecifier],
    blocks: &[IndexBlock],
) -> Result<()> {
    let ns = u16::try_from(specifiers.len())
        .map_err(|_| Error::InvalidArgument("more than 65535 index specifiers"))?;
    let nb = u32::try_from(blocks.len())
        .map_err(|_| Error::InvalidArgument("more than 2^32-1 index blocks"))?;
    for k in blocks {
        if k.block_positions.len() != specifiers.len()
            || Some(k.offsets.len()) != (k.entry_count as usize).checked_mul(specifiers.len())
        {
            return Err(Error::InvalidArgument(
                "index block sizes do not match the specifiers and the entry count",
            ));
        }
    }
    put_header(out, guid, body_len(specifiers, blocks));
    out.put_u32_le(interval);
    out.put_u16_le(ns);
    out.put_u32_le(nb);
    for s in specifiers {
        out.put_u16_le(s.stream_number);
        out.put_u16_le(s.index_type.0);
    }
    for k in blocks {
        out.put_u32_le(k.entry_count);
        for p in &k.block_positions {
            out.put_u64_le(*p);
        }
        for o in &k.offsets {
            out.put_u32_le(*o);
        }
    }
    Ok(())
}

/// Index Object (ASF 3.4): per-specifier time index with 64-bit block positions.
///
/// | Field | Type |
/// |---|---|
/// | Index Entry Time Interval | DWORD, ms |
/// | Index Specifiers Count | WORD |
/// | Index Blocks Count | DWORD |
/// | Index Specifiers | (WORD stream, WORD type) each |
/// | Index Blocks | DWORD entry count, QWORD position per specifier, DWORD offset per specifier per entry |
///
/// Requires an Index Parameters Object with the same interval and specifiers in the Header
/// Extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Index {
    /// Index Entry Time Interval, ms.
    pub entry_time_interval: u32,
    /// The specifiers.
    pub specifiers: Vec<IndexSpecifier>,
    /// The blocks.
    pub blocks: Vec<IndexBlock>,
}

/// Media Object Index Object (ASF 3.5): the Index layout counted in media objects (frames).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MediaObjectIndex {
    /// Index Entry Count Interval, in media objects.
    pub entry_count_interval: u32,
    /// The specifiers.
    pub specifiers: Vec<IndexSpecifier>,
    /// The blocks.
    pub blocks: Vec<IndexBlock>,
}

macro_rules! index_like {
    ($ty:ident, $field:ident, $guid:ident, $name:literal) => {
        impl $ty {
            /// Parses the whole object in `obj` (header included); `base` is its absolute
            /// offset.
            pub fn parse(obj: &[u8], base: u64, limits: &Limits) -> Result<Self> {
                let c = open_object(obj, base, $guid, $name)?;
                let b = parse_body(c, limits, $name)?;
                Ok($ty {
                    $field: b.interval,
                    specifiers: b.specifiers,
                    blocks: b.blocks,
                })
            }
            /// Exact encoded length.
            pub fn encoded_len(&self) -> usize {
                body_len(&self.specifiers, &self.blocks)
            }
            /// Writes the object; fails if a block's sizes do not match the specifiers.
            pub fn write_to(&self, out: &mut impl BufMut) -> Result<()> {
                write_body(out, &$guid, self.$field, &self.specifiers, &self.blocks)
            }
        }
    };
}

index_like!(Index, entry_time_interval, INDEX_GUID, "Index Object");
index_like!(
    MediaObjectIndex,
    entry_count_interval,
    MEDIA_OBJECT_INDEX_GUID,
    "Media Object Index Object"
);
