//! UTF-16LE strings as stored in ASF, kept byte for byte.
//!
//! ASF 3.1 / asf-format.md §0: strings are UTF-16LE and usually NUL-terminated. Length
//! prefixes count bytes in some objects and WCHARs in others; the objects handle the prefix,
//! this type keeps the exact bytes (including the terminator and any odd trailing byte), so a
//! parsed string always serializes back unchanged.

use core::fmt;

/// A UTF-16LE string exactly as on the wire (terminator included when present).
#[derive(Clone, PartialEq, Eq, Default, Hash)]
pub struct WString(pub Vec<u8>);

impl WString {
    /// Encodes `s` as UTF-16LE with a NUL terminator (what writers normally produce).
    pub fn new(s: &str) -> Self {
        let mut v = Vec::with_capacity(s.len() * 2 + 2);
        for u in s.encode_utf16().chain(core::iter::once(0)) {
            v.extend_from_slice(&u.to_le_bytes());
        }
        WString(v)
    }

    /// Encodes `s` as UTF-16LE without a terminator.
    pub fn new_unterminated(s: &str) -> Self {
        let mut v = Vec::with_capacity(s.len() * 2);
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        WString(v)
    }

    /// The bytes as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len_bytes(&self) -> usize {
        self.0.len()
    }

    /// Length in WCHARs (bytes / 2, rounding up an odd trailing byte).
    pub fn len_wchars(&self) -> usize {
        self.0.len().div_ceil(2)
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Decodes the text, stopping at the first NUL; invalid UTF-16 becomes U+FFFD and an odd
    /// trailing byte is ignored.
    pub fn to_string_lossy(&self) -> String {
        let units = self
            .0
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0);
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    }
}

impl fmt::Debug for WString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

impl fmt::Display for WString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl From<&str> for WString {
    fn from(s: &str) -> Self {
        WString::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let w = WString::new("héllo €");
        assert_eq!(w.len_bytes(), 16);
        assert_eq!(w.len_wchars(), 8);
        assert_eq!(w.to_string_lossy(), "héllo €");
        assert_eq!(WString(vec![b'a', 0, b'b']).to_string_lossy(), "a");
        assert_eq!(WString(vec![0x00, 0xD8]).to_string_lossy(), "\u{FFFD}");
        assert_eq!(WString::new_unterminated("ab").0, vec![b'a', 0, b'b', 0]);
    }
}
