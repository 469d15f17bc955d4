//! A tiny bounded little-endian cursor with absolute offsets, private to the data side.
//!
//! Every read is bounds-checked and reports the absolute byte offset and the object being read
//! when the input is too short (STYLE habit 2).

use crate::error::{Error, Result};
use crate::guid::Guid;

/// Bounded reader over a byte slice; `base` is the absolute offset of `buf[0]`.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
    object: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `buf`, whose first byte is at absolute offset `base`.
    pub(crate) fn new(buf: &'a [u8], base: u64, object: &'static str) -> Self {
        Cursor {
            buf,
            pos: 0,
            base,
            object,
        }
    }

    /// Position relative to the start of `buf`.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Absolute offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A malformed-input error at the current position.
    pub(crate) fn malformed(&self, reason: &'static str) -> Error {
        Error::Malformed {
            offset: self.offset(),
            object: self.object,
            reason,
        }
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Truncated {
                offset: self.offset(),
                object: self.object,
                needed: (n - self.remaining()) as u64,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn guid(&mut self) -> Result<Guid> {
        Ok(Guid(self.array()?))
    }

    /// Reads a field of 0, 1, 2 or 4 bytes as given by a 2-bit size code.
    pub(crate) fn var(&mut self, width: crate::packet::FieldWidth) -> Result<u32> {
        use crate::packet::FieldWidth;
        match width {
            FieldWidth::Absent => Ok(0),
            FieldWidth::Byte => self.u8().map(u32::from),
            FieldWidth::Word => self.u16().map(u32::from),
            FieldWidth::Dword => self.u32(),
        }
    }
}
