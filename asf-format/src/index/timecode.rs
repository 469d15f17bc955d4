//! Timecode Index Object (ASF 3.6).

use bytes::BufMut;

use super::{IndexSpecifier, IndexType, TIMECODE_INDEX_GUID, check_count, finish, open_object, put_header};
use crate::error::{Error, Result};
use crate::limits::Limits;

const NAME: &str = "Timecode Index Object";

/// One Timecode Index block.
///
/// | Field | Type |
/// |---|---|
/// | Index Entry Count | DWORD |
/// | Timecode Range | WORD |
/// | Block Positions | QWORD per specifier |
/// | Index Entries | DWORD Timecode, then DWORD Offset per specifier |
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TimecodeIndexBlock {
    /// Timecode Range.
    pub timecode_range: u16,
    /// Block Positions, one per specifier.
    pub block_positions: Vec<u64>,
    /// The entry timecodes (SMPTE, one per entry).
    pub timecodes: Vec<u32>,
    /// Offsets, entry-major: entry *e* of specifier *s* is `offsets[e * specifiers + s]`.
    pub offsets: Vec<u32>,
}

/// Timecode Index Object (ASF 3.6): SMPTE timecode → byte offset, used with the timecode
/// payload extension. Requires a Timecode Index Parameters Object.
///
/// | Field | Type |
/// |---|---|
/// | Reserved | DWORD |
/// | Index Specifiers Count | WORD |
/// | Index Blocks Count | DWORD |
/// | Index Specifiers | (WORD stream, WORD type) each |
/// | Index Blocks | see [`TimecodeIndexBlock`] |
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TimecodeIndex {
    /// Reserved DWORD, kept as read.
    pub reserved: u32,
    /// The specifiers.
    pub specifiers: Vec<IndexSpecifier>,
    /// The blocks.
    pub blocks: Vec<TimecodeIndexBlock>,
}

impl TimecodeIndex {
    /// Parses the whole object in `obj` (header included).
    pub fn parse(obj: &[u8], base: u64, limits: &Limits) -> Result<Self> {
        let mut c = open_object(obj, base, TIMECODE_INDEX_GUID, NAME)?;
        let reserved = c.u32()?;
        let ns = c.u16()?;
        let nb = c.u32()?;
        let ns = check_count(&c, u64::from(ns), 4, limits, "index specifiers count", NAME)?;
        let mut specifiers = Vec::with_capacity(ns);
        for _ in 0..ns {
            specifiers.push(IndexSpecifier {
                stream_number: c.u16()?,
                index_type: IndexType(c.u16()?),
            });
        }
        let nb = check_count(&c, u64::from(nb), 6, limits, "index blocks count", NAME)?;
        let mut blocks = Vec::with_capacity(nb);
        for _ in 0..nb {
            let entries = c.u32()?;
            let timecode_range = c.u16()?;
            let mut block_positions = Vec::with_capacity(ns);
            for _ in 0..ns {
                block_positions.push(c.u64()?);
            }
            let per_entry = 4 + 4 * ns as u64;
            let n = check_count(&c, u64::from(entries), per_entry, limits, "index entries", NAME)?;
            let mut timecodes = Vec::with_capacity(n);
            let mut offsets = Vec::with_capacity(n * ns);
            for _ in 0..n {
                timecodes.push(c.u32()?);
                for _ in 0..ns {
                    offsets.push(c.u32()?);
                }
            }
            blocks.push(TimecodeIndexBlock {
                timecode_range,
                block_positions,
                timecodes,
                offsets,
            });
        }
        finish(&c)?;
        Ok(TimecodeIndex {
            reserved,
            specifiers,
            blocks,
        })
    }

    /// Exact encoded length.
    pub fn encoded_len(&self) -> usize {
        24 + 10
            + 4 * self.specifiers.len()
            + self
                .blocks
                .iter()
                .map(|b| 6 + 8 * b.block_positions.len() + 4 * b.timecodes.len() + 4 * b.offsets.len())
                .sum::<usize>()
    }

    /// Writes the object; fails if a block's sizes do not match the specifiers.
    pub fn write_to(&self, out: &mut impl BufMut) -> Result<()> {
        let ns = self.specifiers.len();
        let ns16 = u16::try_from(ns)
            .map_err(|_| Error::InvalidArgument("more than 65535 index specifiers"))?;
        let nb = u32::try_from(self.blocks.len())
            .map_err(|_| Error::InvalidArgument("more than 2^32-1 index blocks"))?;
        for b in &self.blocks {
            if b.block_positions.len() != ns
                || Some(b.offsets.len()) != b.timecodes.len().checked_mul(ns)
                || u32::try_from(b.timecodes.len()).is_err()
            {
                return Err(Error::InvalidArgument(
                    "timecode index block sizes do not match the specifiers",
                ));
            }
        }
        put_header(out, &TIMECODE_INDEX_GUID, self.encoded_len());
        out.put_u32_le(self.reserved);
        out.put_u16_le(ns16);
        out.put_u32_le(nb);
        for s in &self.specifiers {
            out.put_u16_le(s.stream_number);
            out.put_u16_le(s.index_type.0);
        }
        for b in &self.blocks {
            out.put_u32_le(b.timecodes.len() as u32);
            out.put_u16_le(b.timecode_range);
            for p in &b.block_positions {
                out.put_u64_le(*p);
            }
            for (e, t) in b.timecodes.iter().enumerate() {
                out.put_u32_le(*t);
                for o in &b.offsets[e * ns..(e + 1) * ns] {
                    out.put_u32_le(*o);
                }
            }
        }
        Ok(())
    }
}
