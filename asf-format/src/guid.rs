//! [`Guid`]: a 16-byte GUID kept in ASF's on-disk (Windows mixed-endian) byte order.
//!
//! ASF 3.1 / asf-format.md §0: Data1 (u32) little-endian, Data2 (u16) LE, Data3 (u16) LE,
//! then the 8 bytes of Data4 as written. `75B22630-668E-11CF-A6D9-00AA0062CE6C` is stored as
//! `30 26 B2 75 8E 66 CF 11 A6 D9 00 AA 00 62 CE 6C`.

use core::fmt;
use core::str::FromStr;

/// A GUID in on-disk byte order. Unknown GUIDs are ordinary values: nothing rejects them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID.
    pub const ZERO: Guid = Guid([0; 16]);

    /// Builds a GUID from the fields of its canonical text form
    /// `DDDDDDDD-WWWW-WWWW-BBBB-BBBBBBBBBBBB` (`data4` holds the last 8 bytes as written).
    pub const fn from_fields(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Guid {
        let a = data1.to_le_bytes();
        let b = data2.to_le_bytes();
        let c = data3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], data4[0], data4[1], data4[2], data4[3],
            data4[4], data4[5], data4[6], data4[7],
        ])
    }

    /// Builds a GUID from its canonical text form at compile time; panics (at compile time when
    /// used in a `const`) if the text is not `8-4-4-4-12` hex digits.
    pub const fn from_str_const(s: &str) -> Guid {
        let b = s.as_bytes();
        assert!(b.len() == 36, "GUID text must be 36 characters");
        assert!(
            b[8] == b'-' && b[13] == b'-' && b[18] == b'-' && b[23] == b'-',
            "GUID dashes"
        );
        let data1 = hex_u64(b, 0, 8) as u32;
        let data2 = hex_u64(b, 9, 4) as u16;
        let data3 = hex_u64(b, 14, 4) as u16;
        let mut data4 = [0u8; 8];
        data4[0] = hex_u64(b, 19, 2) as u8;
        data4[1] = hex_u64(b, 21, 2) as u8;
        let mut i = 0;
        while i < 6 {
            data4[2 + i] = hex_u64(b, 24 + 2 * i, 2) as u8;
            i += 1;
        }
        Guid::from_fields(data1, data2, data3, data4)
    }

    /// The bytes in on-disk order.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Data1 as a number.
    pub const fn data1(&self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
}

const fn hex_digit(c: u8) -> u64 {
    match c {
        b'0'..=b'9' => (c - b'0') as u64,
        b'a'..=b'f' => (c - b'a' + 10) as u64,
        b'A'..=b'F' => (c - b'A' + 10) as u64,
        _ => panic!("not a hex digit in GUID text"),
    }
}

const fn hex_u64(b: &[u8], start: usize, len: usize) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < len {
        v = (v << 4) | hex_digit(b[start + i]);
        i += 1;
    }
    v
}

impl fmt::Display for Guid {
    /// Canonical upper-case text form, e.g. `75B22630-668E-11CF-A6D9-00AA0062CE6C`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(
            f,
            "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            self.data1(),
            u16::from_le_bytes([d[4], d[5]]),
            u16::from_le_bytes([d[6], d[7]]),
            d[8],
            d[9],
            d[10],
            d[11],
            d[12],
            d[13],
            d[14],
            d[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// Error from parsing GUID text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GUID text: expected 8-4-4-4-12 hex digits, optionally in braces")]
pub struct ParseGuidError;

impl FromStr for Guid {
    type Err = ParseGuidError;
    /// Accepts `75B22630-668E-11CF-A6D9-00AA0062CE6C`, any case, optionally in `{}`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(s);
        let b = s.as_bytes();
        if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
            return Err(ParseGuidError);
        }
        let hex: Vec<u8> = b.iter().copied().filter(|&c| c != b'-').collect();
        if hex.len() != 32 || !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(ParseGuidError);
        }
        Ok(Guid::from_str_const(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_guid_on_disk_order() {
        let g = Guid::from_str_const("75B22630-668E-11CF-A6D9-00AA0062CE6C");
        assert_eq!(
            g.0,
            [
                0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62,
                0xCE, 0x6C
            ]
        );
        assert_eq!(g.to_string(), "75B22630-668E-11CF-A6D9-00AA0062CE6C");
        assert_eq!(
            "{75b22630-668e-11cf-a6d9-00aa0062ce6c}".parse::<Guid>(),
            Ok(g)
        );
        assert!(
            "75B22630-668E-11CF-A6D9-00AA0062CE6"
                .parse::<Guid>()
                .is_err()
        );
        assert!(
            "75B22630-668E-11CF-A6D9-00AA0062CE6G"
                .parse::<Guid>()
                .is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn text_round_trip(bytes in proptest::array::uniform16(proptest::num::u8::ANY)) {
            let g = Guid(bytes);
            proptest::prop_assert_eq!(g.to_string().parse::<Guid>(), Ok(g));
        }
    }
}
