//! Index Object (ASF 3.4) and Media Object Index Object (ASF 3.5): the same layout, the first
//! field being a time interval (ms) or a media-object count interval.

use crate::error::{Error, Result};
use crate::guid::Guid;
use crate::guids;
use crate::limits::Limits;
use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe};

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
        self.offsets
            .get(entry.checked_mul(n)?.checked_add(specifier)?)
            .copied()
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

fn parse_body(
    r: &mut Reader<'_>,
    limits: &Limits,
) -> Result<(u32, Vec<IndexSpecifier>, Vec<IndexBlock>)> {
    let interval = r.u32()?;
    let ns = r.u16()?;
    let nb = r.u32()?;
    let ns = r.check_count(u64::from(ns), 4, limits)?;
    let mut specifiers = Vec::with_capacity(ns);
    for _ in 0..ns {
        specifiers.push(IndexSpecifier {
            stream_number: r.u16()?,
            index_type: IndexType(r.u16()?),
        });
    }
    let nb = r.check_count(u64::from(nb), 4, limits)?;
    let mut blocks = Vec::with_capacity(nb);
    for _ in 0..nb {
        let entry_count = r.u32()?;
        let np = r.check_count(ns as u64, 8, limits)?;
        let mut block_positions = Vec::with_capacity(np);
        for _ in 0..np {
            block_positions.push(r.u64()?);
        }
        // The offsets are read as one flat run so that a block with no specifiers and a huge
        // entry count costs nothing.
        let total = r.check_count(u64::from(entry_count) * ns as u64, 4, limits)?;
        let mut offsets = Vec::with_capacity(total);
        for _ in 0..total {
            offsets.push(r.u32()?);
        }
        blocks.push(IndexBlock {
            entry_count,
            block_positions,
            offsets,
        });
    }
    Ok((interval, specifiers, blocks))
}

fn body_len(specifiers: &[IndexSpecifier], blocks: &[IndexBlock]) -> u64 {
    10 + 4 * specifiers.len() as u64
        + blocks
            .iter()
            .map(|k| 4 + 8 * k.block_positions.len() as u64 + 4 * k.offsets.len() as u64)
            .sum::<u64>()
}

fn write_body(
    out: &mut Vec<u8>,
    interval: u32,
    specifiers: &[IndexSpecifier],
    blocks: &[IndexBlock],
) {
    out.put_u32_le(interval);
    out.put_u16_le(u16::try_from(specifiers.len()).unwrap_or(u16::MAX));
    out.put_u32_le(u32::try_from(blocks.len()).unwrap_or(u32::MAX));
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
}

fn check_blocks(ns: usize, blocks: &[IndexBlock]) -> Result<()> {
    for k in blocks {
        if k.block_positions.len() != ns
            || Some(k.offsets.len()) != (k.entry_count as usize).checked_mul(ns)
        {
            return Err(Error::InvalidArgument(
                "index block sizes do not match the specifiers and the entry count",
            ));
        }
    }
    Ok(())
}

/// Sets each block's entry count from its offsets (offsets / specifiers).
fn fix_blocks(specifiers: usize, blocks: &mut [IndexBlock]) {
    if specifiers == 0 {
        return;
    }
    for k in blocks {
        k.entry_count = u32::try_from(k.offsets.len() / specifiers).unwrap_or(u32::MAX);
    }
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
    ($ty:ident, $field:ident, $guid:expr, $name:literal) => {
        impl AsfObject for $ty {
            const GUID: Guid = $guid;
            const NAME: &'static str = $name;

            fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
                let (interval, specifiers, blocks) = parse_body(r, limits)?;
                Ok($ty {
                    $field: interval,
                    specifiers,
                    blocks,
                })
            }
            fn body_len(&self) -> u64 {
                body_len(&self.specifiers, &self.blocks)
            }
            fn write_body(&self, out: &mut Vec<u8>) {
                write_body(out, self.$field, &self.specifiers, &self.blocks)
            }
            /// Sets each block's Index Entry Count from its offsets.
            fn fix(&mut self) {
                fix_blocks(self.specifiers.len(), &mut self.blocks)
            }
        }

        impl $ty {
            /// Checks that every block has one position per specifier and `entry_count`
            /// offsets per specifier (what a parsed object always has).
            pub fn check(&self) -> Result<()> {
                check_blocks(self.specifiers.len(), &self.blocks)
            }
        }
    };
}

index_like!(Index, entry_time_interval, guids::INDEX, "Index Object");
index_like!(
    MediaObjectIndex,
    entry_count_interval,
    guids::MEDIA_OBJECT_INDEX,
    "Media Object Index Object"
);
