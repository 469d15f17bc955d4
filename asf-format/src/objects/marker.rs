//! Marker Object (ASF 3.7): named positions (chapters).
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Reserved (`4CFEDB20-75F6-11CF-9C0F-00A0C90349CB`) |
//! | DWORD | Markers Count |
//! | WORD | Reserved |
//! | WORD | Name Length (bytes) |
//! | WCHAR[] | Name |
//! | markers | QWORD Offset; QWORD Presentation Time (100 ns); WORD Entry Length; DWORD Send Time (ms); DWORD Flags; DWORD Marker Description Length (WCHARs); description |
//!
//! Entry Length is kept as read: writers disagree about what it counts.

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::strings::WString;
use crate::{Guid, Limits, Result, guids};

/// One marker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarkerEntry {
    /// Byte offset of the marker's packet, from the first data packet.
    pub offset: u64,
    /// Presentation time, 100 ns (includes preroll).
    pub presentation_time: u64,
    /// Entry Length field as read.
    pub entry_length: u16,
    /// Send time, ms.
    pub send_time: u32,
    /// Flags (0).
    pub flags: u32,
    /// Description (length counted in WCHARs on the wire).
    pub description: WString,
}

/// Marker: a named list of markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Reserved GUID as read.
    pub reserved: Guid,
    /// Reserved WORD as read.
    pub reserved2: u16,
    /// Name of the marker list.
    pub name: WString,
    /// The markers.
    pub markers: Vec<MarkerEntry>,
    /// Bytes after the last marker.
    pub trailing: Vec<u8>,
}

impl Default for Marker {
    fn default() -> Self {
        Marker {
            reserved: guids::MARKER_RESERVED,
            reserved2: 0,
            name: WString::default(),
            markers: Vec::new(),
            trailing: Vec::new(),
        }
    }
}

impl AsfObject for Marker {
    const GUID: Guid = guids::MARKER;
    const NAME: &'static str = "Marker Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let reserved = r.guid()?;
        let count = r.u32()?;
        let reserved2 = r.u16()?;
        let name_len = r.u16()?;
        let name = WString(r.bytes(name_len.into())?.to_vec());
        let count = r.check_count(count.into(), 30, limits)?;
        let mut markers = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = r.u64()?;
            let presentation_time = r.u64()?;
            let entry_length = r.u16()?;
            let send_time = r.u32()?;
            let flags = r.u32()?;
            let desc_len = r.u32()?;
            let desc = r.bytes_limited(
                u64::from(desc_len) * 2,
                limits.max_object_size,
                "marker description length",
            )?;
            markers.push(MarkerEntry {
                offset,
                presentation_time,
                entry_length,
                send_time,
                flags,
                description: WString(desc.to_vec()),
            });
        }
        Ok(Marker {
            reserved,
            reserved2,
            name,
            markers,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        24 + self.name.len_bytes() as u64
            + self
                .markers
                .iter()
                .map(|m| 30 + m.description.len_wchars() as u64 * 2)
                .sum::<u64>()
            + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.reserved);
        out.put_u32_le(len_as(self.markers.len()));
        out.put_u16_le(self.reserved2);
        out.put_u16_le(len_as(self.name.len_bytes()));
        out.put_raw(self.name.as_bytes());
        for m in &self.markers {
            out.put_u64_le(m.offset);
            out.put_u64_le(m.presentation_time);
            out.put_u16_le(m.entry_length);
            out.put_u32_le(m.send_time);
            out.put_u32_le(m.flags);
            out.put_u32_le(len_as(m.description.len_wchars()));
            out.put_raw(m.description.as_bytes());
            if m.description.len_bytes() % 2 == 1 {
                out.put_u8_le(0);
            }
        }
        out.put_raw(&self.trailing);
    }
}
