//! Removing the payloads of deselected streams from ASF data packets
//! (MS-WMSP 3.2.5.6: "The ASF payloads in the ASF MUST be filtered such that
//! only ASF payloads that belong to streams that have been selected by the
//! client are included in the ASF packets").
//!
//! A small bounded reader of the ASF 5.2 data packet layout: error
//! correction data, payload parsing information, then one payload or a
//! multiple-payloads list. Payload bytes are copied verbatim (compressed
//! payloads included); only the payload count, the packet length and the
//! padding change. Padding is always dropped (MS-WMSP 2.2.3.3: padding
//! SHOULD be removed and Padding Length set to say there is none).

use bytes::Bytes;

use super::error::PullError;

/// What to do with one payload, by stream number and key-frame bit.
pub trait PayloadSelector {
    /// True to keep a payload of `stream` (1..=127); `key_frame` is the
    /// payload's key-frame bit.
    fn keep(&self, stream: u8, key_frame: bool) -> bool;
}

impl PayloadSelector for super::StreamSelection {
    /// Thinning 0 keeps every payload, 1 only key-frame payloads
    /// (MS-WMSP 2.2.1.4.27), 2 or unselected none.
    fn keep(&self, stream: u8, key_frame: bool) -> bool {
        let stream = u16::from(stream);
        if !self.is_explicit() {
            return self.is_selected(stream);
        }
        match self.thinning(stream) {
            Some(0) => true,
            Some(1) => key_frame,
            _ => false,
        }
    }
}

impl<F: Fn(u8, bool) -> bool> PayloadSelector for F {
    fn keep(&self, stream: u8, key_frame: bool) -> bool {
        self(stream, key_frame)
    }
}

fn bad(offset: usize, what: &'static str) -> PullError {
    PullError::BadPacket { offset, what }
}

/// Bytes of a field coded with a 2-bit length type (ASF 5.2.2: 0, 1, 2 or 4 bytes).
fn width(code: u8) -> usize {
    match code & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<usize, PullError> {
        let start = self.pos;
        let end = start
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(bad(start, what))?;
        self.pos = end;
        Ok(start)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, PullError> {
        let at = self.take(1, what)?;
        Ok(self.buf[at])
    }

    fn var(&mut self, code: u8, what: &'static str) -> Result<u32, PullError> {
        let n = width(code);
        let at = self.take(n, what)?;
        let b = &self.buf[at..at + n];
        Ok(match n {
            0 => 0,
            1 => u32::from(b[0]),
            2 => u32::from(u16::from_le_bytes([b[0], b[1]])),
            _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        })
    }
}

/// One payload's byte range and stream.
struct Payload {
    start: usize,
    end: usize,
    stream: u8,
    key_frame: bool,
}

/// Filters `packet` with `selector`. Returns `Ok(None)` if no payload is
/// kept, `Ok(Some(packet))` unchanged (same `Bytes`) if every payload is kept
/// and there is no padding, otherwise a rebuilt packet.
pub fn filter_packet(
    packet: &Bytes,
    selector: &impl PayloadSelector,
) -> Result<Option<Bytes>, PullError> {
    let buf = &packet[..];
    let mut r = Reader { buf, pos: 0 };
    // ASF 5.2.1: error correction data, present when bit 7 of the first byte is set.
    let first = r.u8("empty packet")?;
    let flags = if first & 0x80 != 0 {
        if first & 0x60 != 0 {
            return Err(bad(0, "error correction length type is not 00"));
        }
        r.take(usize::from(first & 0x0f), "error correction data truncated")?;
        r.u8("length type flags missing")?
    } else {
        first
    };
    // ASF 5.2.2: payload parsing information.
    let property = r.u8("property flags missing")?;
    if (property >> 6) & 3 != 1 {
        return Err(bad(r.pos - 1, "stream number length type is not BYTE"));
    }
    let packet_length_at = r.pos;
    let packet_length_code = (flags >> 5) & 3;
    let declared_len = r.var(packet_length_code, "packet length truncated")?;
    r.var((flags >> 1) & 3, "sequence truncated")?;
    let padding_at = r.pos;
    let padding_code = (flags >> 3) & 3;
    let padding = r.var(padding_code, "padding length truncated")?;
    r.take(6, "send time / duration truncated")?;
    let header_end = r.pos;
    // The payload area ends before any padding; with a coded packet length,
    // bytes past it are not part of the packet.
    let mut end = buf.len();
    if packet_length_code != 0 {
        end = end.min(usize::try_from(declared_len).unwrap_or(usize::MAX));
    }
    end = end
        .checked_sub(usize::try_from(padding).unwrap_or(usize::MAX))
        .filter(|e| *e >= header_end)
        .ok_or(bad(padding_at, "padding longer than the packet"))?;
    let rep_code = property & 3;
    let offset_code = (property >> 2) & 3;
    let mon_code = (property >> 4) & 3;
    let multiple = flags & 1 != 0;
    let mut payloads = Vec::new();
    let mut list_flags = 0u8;
    let mut r = Reader {
        buf: &buf[..end],
        pos: header_end,
    };
    if multiple {
        // ASF 5.2.3.3: payload flags = count (bits 0-5) + payload length type (bits 6-7).
        list_flags = r.u8("payload flags missing")?;
        let count = list_flags & 0x3f;
        for _ in 0..count {
            let start = r.pos;
            let sn = r.u8("payload stream number missing")?;
            r.var(mon_code, "media object number truncated")?;
            r.var(offset_code, "offset into media object truncated")?;
            let rep = r.var(rep_code, "replicated data length truncated")?;
            r.take(rep as usize, "replicated data truncated")?;
            let len = r.var(list_flags >> 6, "payload length truncated")?;
            r.take(len as usize, "payload data truncated")?;
            payloads.push(Payload {
                start,
                end: r.pos,
                stream: sn & 0x7f,
                key_frame: sn & 0x80 != 0,
            });
        }
    } else {
        // ASF 5.2.3.1: a single payload runs to the end of the packet.
        let start = r.pos;
        let sn = r.u8("payload stream number missing")?;
        r.var(mon_code, "media object number truncated")?;
        r.var(offset_code, "offset into media object truncated")?;
        let rep = r.var(rep_code, "replicated data length truncated")?;
        r.take(rep as usize, "replicated data truncated")?;
        payloads.push(Payload {
            start,
            end,
            stream: sn & 0x7f,
            key_frame: sn & 0x80 != 0,
        });
    }
    let kept: Vec<&Payload> = payloads
        .iter()
        .filter(|p| selector.keep(p.stream, p.key_frame))
        .collect();
    if kept.is_empty() {
        return Ok(None);
    }
    let trailing = end != buf.len();
    if kept.len() == payloads.len() && padding == 0 && !trailing {
        return Ok(Some(packet.clone()));
    }
    let mut out = Vec::with_capacity(end);
    out.extend_from_slice(&buf[..header_end]);
    if multiple {
        out.push((list_flags & 0xc0) | (kept.len() as u8));
    }
    for p in &kept {
        out.extend_from_slice(&buf[p.start..p.end]);
    }
    // Padding is gone: write 0 in its field (its width stays, so offsets hold).
    let pw = width(padding_code);
    out[padding_at..padding_at + pw].fill(0);
    if packet_length_code != 0 {
        let w = width(packet_length_code);
        let new_len = out.len() as u32;
        let bytes = new_len.to_le_bytes();
        if w < 4 && new_len >= 1u32 << (8 * w) {
            return Err(bad(
                packet_length_at,
                "packet length does not fit its field",
            ));
        }
        out[packet_length_at..packet_length_at + w].copy_from_slice(&bytes[..w]);
    }
    Ok(Some(Bytes::from(out)))
}

/// Puts back the padding a pull (or push) sender stripped, so `packet`
/// becomes exactly `packet_size` bytes (the File Properties packet size), as
/// an ASF file needs (ASF 5.2: all data packets have the same size).
///
/// MS-WMSP 2.2.3.3 has senders strip Padding Data and set Padding Length to
/// say there is none; players pad again themselves (ffmpeg appends zeros).
/// This does it properly: the Padding Length field is widened or added when
/// it is missing or too small (later fields shift; payload bytes are copied
/// unchanged) and a coded Packet Length is updated.
pub fn restore_padding(packet: &Bytes, packet_size: usize) -> Result<Bytes, PullError> {
    let buf = &packet[..];
    let mut r = Reader { buf, pos: 0 };
    let first = r.u8("empty packet")?;
    let flags = if first & 0x80 != 0 {
        if first & 0x60 != 0 {
            return Err(bad(0, "error correction length type is not 00"));
        }
        r.take(usize::from(first & 0x0f), "error correction data truncated")?;
        r.u8("length type flags missing")?
    } else {
        first
    };
    let flags_at = r.pos - 1;
    r.u8("property flags missing")?;
    let packet_length_at = r.pos;
    let packet_length_code = (flags >> 5) & 3;
    let declared = r.var(packet_length_code, "packet length truncated")?;
    r.var((flags >> 1) & 3, "sequence truncated")?;
    let padding_at = r.pos;
    let padding_code = (flags >> 3) & 3;
    let old_padding = r.var(padding_code, "padding length truncated")?;
    r.take(6, "send time / duration truncated")?;
    let mut len = buf.len();
    if packet_length_code != 0 {
        len = len.min(usize::try_from(declared).unwrap_or(usize::MAX));
    }
    if len == packet_size {
        return Ok(packet.slice(..len));
    }
    if len > packet_size {
        return Err(bad(0, "packet larger than the packet size"));
    }
    // A Packet Length that ends inside the fields read so far describes no packet.
    if len < r.pos {
        return Err(bad(
            packet_length_at,
            "packet length shorter than the packet's own header",
        ));
    }
    let old_width = width(padding_code);
    let old_padding = usize::try_from(old_padding).unwrap_or(usize::MAX);
    if old_padding > len - r.pos {
        return Err(bad(padding_at, "padding longer than the packet"));
    }
    let grow = packet_size - len;
    // Pick the narrowest Padding Length width (ASF 5.2.2: BYTE, WORD, DWORD)
    // that holds the new padding once the field itself is paid for.
    let mut choice = None;
    for (code, w) in [(1u8, 1usize), (2, 2), (3, 4)] {
        if w < old_width {
            continue;
        }
        let extra = w - old_width;
        if extra > grow {
            continue;
        }
        let padding = old_padding + grow - extra;
        let fits = match w {
            1 => padding <= 0xff,
            2 => padding <= 0xffff,
            _ => padding <= 0xffff_ffff,
        };
        if fits {
            choice = Some((code, w, padding));
            break;
        }
    }
    let Some((code, new_width, padding)) = choice else {
        return Err(bad(
            padding_at,
            "no Padding Length width fits the missing bytes",
        ));
    };
    let mut out = Vec::with_capacity(packet_size);
    out.extend_from_slice(&buf[..padding_at]);
    out[flags_at] = (flags & !0x18) | (code << 3);
    out.extend_from_slice(&(padding as u32).to_le_bytes()[..new_width]);
    out.extend_from_slice(&buf[padding_at + old_width..len]);
    out.resize(packet_size, 0);
    if packet_length_code != 0 {
        let w = width(packet_length_code);
        if w < 4 && packet_size >= 1usize << (8 * w) {
            return Err(bad(
                packet_length_at,
                "packet size does not fit the Packet Length field",
            ));
        }
        out[packet_length_at..packet_length_at + w]
            .copy_from_slice(&(packet_size as u32).to_le_bytes()[..w]);
    }
    Ok(Bytes::from(out))
}
