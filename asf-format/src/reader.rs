//! A small bounded byte cursor used by every parser in this crate, and the matching writer
//! helpers.
//!
//! A [`Reader`] knows the absolute offset of its first byte, so every error it produces
//! carries an absolute byte offset and the name of the object being read. Length-prefixed
//! structures are read through [`Reader::sub`], which yields a reader bounded to exactly that
//! many bytes (STYLE habit 2, rustls `Reader::sub`).

use crate::{Error, Guid, Limits, Result};

/// A bounded little-endian cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    object: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `data`, whose first byte is at absolute offset `base`, reading `object`.
    pub fn new(data: &'a [u8], base: u64, object: &'static str) -> Self {
        Reader {
            data,
            pos: 0,
            base,
            object,
        }
    }

    /// The object name used in errors.
    pub fn object(&self) -> &'static str {
        self.object
    }

    /// Changes the object name used in errors.
    pub fn set_object(&mut self, object: &'static str) {
        self.object = object;
    }

    /// Absolute offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// True when no bytes are left.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// A `Malformed` error at the current offset.
    pub fn malformed(&self, reason: &'static str) -> Error {
        Error::Malformed {
            offset: self.offset(),
            object: self.object,
            reason,
        }
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self, needed: usize) -> Error {
        Error::Truncated {
            offset: self.offset(),
            object: self.object,
            needed: (needed - self.remaining()) as u64,
        }
    }

    /// The next `n` bytes, borrowed.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated(n));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next `n` bytes where `n` came from the input: refused when over `limit`.
    pub fn bytes_limited(&mut self, n: u64, limit: u64, what: &'static str) -> Result<&'a [u8]> {
        if n > limit {
            return Err(Error::LimitExceeded {
                offset: self.offset(),
                object: self.object,
                what,
                value: n,
                limit,
            });
        }
        let n = usize::try_from(n).map_err(|_| self.malformed("length does not fit in memory"))?;
        self.bytes(n)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A BYTE.
    #[inline]
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian WORD.
    #[inline]
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// A little-endian DWORD.
    #[inline]
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian QWORD.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A GUID in on-disk order.
    pub fn guid(&mut self) -> Result<Guid> {
        Ok(Guid(self.array()?))
    }

    /// Everything left, borrowed; the reader is then empty.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.data[self.pos..];
        self.pos = self.data.len();
        s
    }

    /// The bytes left, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// A reader bounded to exactly the next `len` bytes (consumed from this reader), reading
    /// `object`. Fails with `Truncated` if fewer bytes are left.
    pub fn sub(&mut self, len: u64, object: &'static str) -> Result<Reader<'a>> {
        let base = self.offset();
        if len > self.remaining() as u64 {
            return Err(Error::Truncated {
                offset: base,
                object,
                needed: len - self.remaining() as u64,
            });
        }
        let s = self.bytes(len as usize)?;
        Ok(Reader::new(s, base, object))
    }

    /// Fails with `Malformed` ("trailing bytes") unless the reader is empty. Used where the
    /// object's rule forbids trailing bytes; objects that tolerate them keep them instead.
    pub fn expect_end(&self, object: &'static str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed {
                offset: self.offset(),
                object,
                reason: "trailing bytes after the last field",
            })
        }
    }

    /// Checks an entry count read from the input against `limits.max_entries` and against the
    /// bytes left (each entry needs at least `min_entry_size` bytes), so a hostile count can
    /// never drive an allocation.
    pub fn check_count(&self, count: u64, min_entry_size: usize, limits: &Limits) -> Result<usize> {
        if count > u64::from(limits.max_entries) {
            return Err(Error::LimitExceeded {
                offset: self.offset(),
                object: self.object,
                what: "entry count",
                value: count,
                limit: u64::from(limits.max_entries),
            });
        }
        if count.saturating_mul(min_entry_size as u64) > self.remaining() as u64 {
            return Err(Error::Truncated {
                offset: self.offset(),
                object: self.object,
                needed: count.saturating_mul(min_entry_size as u64) - self.remaining() as u64,
            });
        }
        Ok(count as usize)
    }
}

/// Little-endian writer helpers for the serializers (on `Vec<u8>`).
pub trait WriteLe {
    /// Appends a BYTE.
    fn put_u8_le(&mut self, v: u8);
    /// Appends a WORD.
    fn put_u16_le(&mut self, v: u16);
    /// Appends a DWORD.
    fn put_u32_le(&mut self, v: u32);
    /// Appends a QWORD.
    fn put_u64_le(&mut self, v: u64);
    /// Appends a GUID in on-disk order.
    fn put_guid(&mut self, g: &Guid);
    /// Appends raw bytes.
    fn put_raw(&mut self, b: &[u8]);
}

impl WriteLe for Vec<u8> {
    fn put_u8_le(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16_le(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32_le(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64_le(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_guid(&mut self, g: &Guid) {
        self.extend_from_slice(g.as_bytes());
    }
    fn put_raw(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

/// Converts a length to a wire field of type `T`, saturating: the model is expected to be
/// `fix()`ed (or validated) before writing, and a saturated length is visible to `validate`.
pub(crate) fn len_as<T: TryFrom<usize> + Bounded>(len: usize) -> T {
    T::try_from(len).unwrap_or(T::MAX)
}

/// Integer types with a maximum, for [`len_as`].
pub(crate) trait Bounded {
    const MAX: Self;
}
impl Bounded for u8 {
    const MAX: Self = u8::MAX;
}
impl Bounded for u16 {
    const MAX: Self = u16::MAX;
}
impl Bounded for u32 {
    const MAX: Self = u32::MAX;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_reads_and_offsets() {
        let data = [1u8, 2, 0, 3, 0, 0, 0, 9, 9];
        let mut r = Reader::new(&data, 100, "Test");
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 2);
        let mut s = r.sub(4, "Inner").unwrap();
        assert_eq!(s.offset(), 103);
        assert_eq!(s.u32().unwrap(), 3);
        assert!(s.expect_end("Inner").is_ok());
        assert_eq!(r.remaining(), 2);
        let e = r.u32().unwrap_err();
        assert_eq!(
            e,
            Error::Truncated {
                offset: 107,
                object: "Test",
                needed: 2
            }
        );
        assert!(r.sub(3, "X").is_err());
        let e = r.expect_end("Test").unwrap_err();
        assert_eq!(e.offset(), Some(107));
        assert!(r.check_count(1 << 30, 1, &Limits::default()).is_err());
        assert!(r.check_count(3, 1, &Limits::default()).is_err());
        assert_eq!(r.check_count(2, 1, &Limits::default()).unwrap(), 2);
    }

    #[test]
    fn writer_is_little_endian() {
        let mut v = Vec::new();
        v.put_u16_le(0x0102);
        v.put_u32_le(0x03040506);
        v.put_u64_le(7);
        assert_eq!(&v[..6], &[2, 1, 6, 5, 4, 3]);
        assert_eq!(v.len(), 14);
        assert_eq!(len_as::<u8>(300), 255);
    }
}
