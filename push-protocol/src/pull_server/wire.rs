//! MS-WMSP pull framing: the 4-byte framing header (2.2.3.1.1) plus the
//! 8-byte MMS data packet header "AF_HEADER_TYPE0" (2.2.3.1.2) on `$H`, `$D`
//! and `$M`.
//!
//! This is the pull side's own small codec, written while the shared
//! `framing.rs` was not in the tree yet; it is `pub` so the pull client,
//! tests and tools can use it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::PullError;

/// `$H` packet id.
pub const ID_HEADER: u8 = b'H';
/// `$D` packet id.
pub const ID_DATA: u8 = b'D';
/// `$E` packet id.
pub const ID_END: u8 = b'E';
/// `$C` packet id.
pub const ID_CHANGE: u8 = b'C';
/// `$M` packet id.
pub const ID_METADATA: u8 = b'M';
/// `$P` packet id.
pub const ID_PACKET_PAIR: u8 = b'P';
/// `$T` packet id.
pub const ID_TEST: u8 = b'T';

/// MS-WMSP 2.2.3.1.2: "The maximum size of an MMS data packet is 65,535 bytes."
pub const MAX_MMS_PACKET: usize = 65_535;
/// Bytes of the AF_HEADER_TYPE0 preheader.
pub const PREHEADER_LEN: usize = 8;
/// Largest payload of one `$H`/`$D` packet.
pub const MAX_PAYLOAD: usize = MAX_MMS_PACKET - PREHEADER_LEN;

/// `$H`/`$M` AFFlags: first fragment.
pub const AF_FIRST: u8 = 0x04;
/// `$H`/`$M` AFFlags: last fragment.
pub const AF_LAST: u8 = 0x08;

/// `$E` reason S_OK: streaming finished.
pub const REASON_END: u32 = 0;
/// `$E` reason S_FALSE: entry finished, a `$C` follows.
pub const REASON_ENTRY_DONE: u32 = 1;

/// One decoded pull packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullFrame {
    /// Packet id letter (`b'H'`, `b'D'`, ...).
    pub id: u8,
    /// The B bit of the first byte (MS-WMSP 2.2.3.1.1).
    pub burst: bool,
    /// Preheader LocationId (0 for `$E`/`$C`).
    pub location_id: u32,
    /// Preheader Incarnation.
    pub incarnation: u8,
    /// Preheader AFFlags.
    pub af_flags: u8,
    /// Reason field of `$E`/`$C`/`$P`.
    pub reason: Option<u32>,
    /// Bytes after the preheader (`$H`/`$D`/`$M`) or after the reason.
    pub payload: Bytes,
}

/// Writes the 12-byte framing header + preheader of a `$H`/`$D`/`$M` packet
/// carrying `payload_len` bytes. MS-WMSP 2.2.3.1.2: PacketSize repeats the
/// total MMS packet size; 2.2.3.1.1: B = 0 (ffmpeg and VLC compare the first
/// two bytes as a u16 and reject 0xA4).
pub fn put_preheader(
    out: &mut BytesMut,
    id: u8,
    payload_len: usize,
    location_id: u32,
    incarnation: u8,
    af_flags: u8,
) -> Result<(), PullError> {
    let total = payload_len + PREHEADER_LEN;
    let len = u16::try_from(total).map_err(|_| PullError::PacketTooLarge { len: payload_len })?;
    out.reserve(12);
    out.put_u8(0x24);
    out.put_u8(id);
    out.put_u16_le(len);
    out.put_u32_le(location_id);
    out.put_u8(incarnation);
    out.put_u8(af_flags);
    out.put_u16_le(len);
    Ok(())
}

/// The 8-byte `$E` or `$C` packet: framing header with PacketLength 4 and
/// the Reason (MS-WMSP 2.2.3.2, 2.2.3.4).
pub fn reason_packet(id: u8, reason: u32) -> [u8; 8] {
    let r = reason.to_le_bytes();
    [0x24, id, 4, 0, r[0], r[1], r[2], r[3]]
}

/// Splits an ASF header (Header Object + 50-byte Data Object start) into
/// `$H` packets, appending (preheader, payload) pairs to `out`.
/// MS-WMSP 2.2.3.5 / 2.2.3.1.2: LocationId is the fragment index; AFFlags is
/// 0x0C for a single packet, 0x04 first, 0x00 middle, 0x08 last.
pub fn header_packets(header: &Bytes, scratch: &mut BytesMut, out: &mut Vec<Bytes>) {
    fragment_packets(ID_HEADER, header, scratch, out);
}

/// Splits `object` into `$H` or `$M` packets of at most [`MAX_PAYLOAD`]
/// bytes with the fragment flags of MS-WMSP 2.2.3.1.2.
pub fn fragment_packets(id: u8, object: &Bytes, scratch: &mut BytesMut, out: &mut Vec<Bytes>) {
    let count = object.len().div_ceil(MAX_PAYLOAD).max(1);
    for i in 0..count {
        let start = i * MAX_PAYLOAD;
        let end = (start + MAX_PAYLOAD).min(object.len());
        let mut flags = 0;
        if i == 0 {
            flags |= AF_FIRST;
        }
        if i + 1 == count {
            flags |= AF_LAST;
        }
        let location = u32::try_from(i).unwrap_or(u32::MAX);
        // A fragment is at most MAX_PAYLOAD bytes, so this cannot fail.
        if put_preheader(scratch, id, end - start, location, 0, flags).is_ok() {
            out.push(scratch.split().freeze());
            out.push(object.slice(start..end));
        }
    }
}

/// Incremental decoder of a pull response body. Feed bytes with
/// [`PullFrameDecoder::push`], take frames with [`PullFrameDecoder::next_frame`];
/// any chunking of the input gives the same frames.
///
/// With [`PullFrameDecoder::discard_data`] on, well-formed `$D` packets are
/// counted ([`PullFrameDecoder::discarded`]) and skipped as they arrive, without
/// being copied: a load generator or a probe that only needs to know that
/// media flows pays for no payload copy. Every other packet is decoded as usual,
/// in order, and errors carry the same body offsets as without discarding.
#[derive(Debug, Default)]
pub struct PullFrameDecoder {
    buf: BytesMut,
    offset: u64,
    discard: Option<Discard>,
}

/// State of the `$D`-skipping walk of [`PullFrameDecoder::push`].
#[derive(Debug, Default)]
struct Discard {
    /// The first bytes (< 4) of a framing header split across pushes.
    head: Vec<u8>,
    /// PacketLength of the `$D` being skipped, and how many of its bytes are still to come.
    skipping: usize,
    skip_left: usize,
    /// Bytes of a kept packet still to be copied into `buf`.
    copy_left: usize,
    /// After a bad framing byte every later byte is kept (`next_frame` reports it).
    passthrough: bool,
    /// Bytes ever appended to `buf`, and bytes taken out of it by `next_frame`.
    appended: u64,
    taken: u64,
    /// (`appended` when a `$D` was skipped behind kept bytes, its whole length): applied
    /// to the offset once `next_frame` reaches that point. Bounded by the kept packets
    /// waiting in `buf`.
    marks: std::collections::VecDeque<(u64, u64)>,
    packets: u64,
    payload_bytes: u64,
}

impl PullFrameDecoder {
    /// A decoder at stream offset 0.
    pub fn new() -> PullFrameDecoder {
        PullFrameDecoder::default()
    }

    /// Turns `$D` discarding on for the bytes pushed from now on (see the type's
    /// docs). Bytes already pushed are decoded in full.
    pub fn discard_data(&mut self) {
        if self.discard.is_none() {
            self.discard = Some(Discard {
                appended: self.buf.len() as u64,
                ..Discard::default()
            });
        }
    }

    /// `$D` packets skipped so far and the bytes of their payloads (after the
    /// 8-byte preheader); `(0, 0)` while discarding is off.
    pub fn discarded(&self) -> (u64, u64) {
        self.discard
            .as_ref()
            .map_or((0, 0), |d| (d.packets, d.payload_bytes))
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        match self.discard.as_mut() {
            None => self.buf.extend_from_slice(data),
            Some(d) => d.walk(data, &mut self.buf, &mut self.offset),
        }
    }

    /// Bytes held that do not yet form a whole packet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
            + self.discard.as_ref().map_or(0, |d| {
                let skipped = if d.skipping > 0 {
                    4 + d.skipping - d.skip_left
                } else {
                    0
                };
                d.head.len() + skipped
            })
    }

    /// Body offset of the next undecoded byte.
    pub fn offset(&self) -> u64 {
        match &self.discard {
            None => self.offset,
            Some(d) => {
                self.offset
                    + d.marks
                        .iter()
                        .take_while(|(at, _)| *at <= d.taken)
                        .map(|(_, n)| n)
                        .sum::<u64>()
            }
        }
    }

    /// Applies the skipped `$D`s that lie before the next kept byte to `offset`.
    fn settle_marks(&mut self) {
        if let Some(d) = self.discard.as_mut() {
            while let Some(&(at, n)) = d.marks.front() {
                if at > d.taken {
                    break;
                }
                self.offset += n;
                d.marks.pop_front();
            }
        }
    }

    /// Records that `n` bytes of `buf` were consumed by `next_frame`.
    fn took(&mut self, n: usize) {
        if let Some(d) = self.discard.as_mut() {
            d.taken += n as u64;
        }
    }

    /// Decodes the next whole packet, `Ok(None)` if more bytes are needed.
    /// Memory is bounded: one packet is at most 4 + 65,535 bytes.
    pub fn next_frame(&mut self) -> Result<Option<PullFrame>, PullError> {
        self.settle_marks();
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let first = self.buf[0];
        // MS-WMSP 2.2.3.1.1: Frame (low 7 bits) MUST be 0x24.
        if first & 0x7f != 0x24 {
            return Err(PullError::BadFrame {
                offset: self.offset,
                what: "framing byte is not 0x24/0xA4",
            });
        }
        let id = self.buf[1];
        let len = usize::from(u16::from_le_bytes([self.buf[2], self.buf[3]]));
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let mut packet = self.buf.split_to(4 + len).freeze();
        let at = self.offset;
        self.offset += (4 + len) as u64;
        self.took(4 + len);
        packet.advance(4);
        let burst = first & 0x80 != 0;
        match id {
            ID_HEADER | ID_DATA | ID_METADATA => {
                if len < PREHEADER_LEN {
                    return Err(PullError::BadFrame {
                        offset: at,
                        what: "PacketLength smaller than the 8-byte preheader",
                    });
                }
                let location_id = packet.get_u32_le();
                let incarnation = packet.get_u8();
                let af_flags = packet.get_u8();
                let _packet_size = packet.get_u16_le();
                Ok(Some(PullFrame {
                    id,
                    burst,
                    location_id,
                    incarnation,
                    af_flags,
                    reason: None,
                    payload: packet,
                }))
            }
            ID_END | ID_CHANGE if len == 8 && u16::from_le_bytes([packet[6], packet[7]]) == 8 => {
                // ffmpeg's `asf_stream` muxer writes `$E` with an 8-byte
                // preheader (PacketSize 8) instead of a 4-byte Reason
                // (MS-WMSP 2.2.3.4 says PacketLength MUST be 4). Read it as
                // a preheader with no Reason.
                let location_id = packet.get_u32_le();
                let incarnation = packet.get_u8();
                let af_flags = packet.get_u8();
                packet.advance(2);
                Ok(Some(PullFrame {
                    id,
                    burst,
                    location_id,
                    incarnation,
                    af_flags,
                    reason: None,
                    payload: packet,
                }))
            }
            ID_END | ID_CHANGE | ID_PACKET_PAIR | ID_TEST => {
                let reason = if packet.len() >= 4 {
                    Some(packet.get_u32_le())
                } else {
                    None
                };
                Ok(Some(PullFrame {
                    id,
                    burst,
                    location_id: 0,
                    incarnation: 0,
                    af_flags: 0,
                    reason,
                    payload: packet,
                }))
            }
            _ => Err(PullError::BadFrame {
                offset: at,
                what: "unknown packet id",
            }),
        }
    }
}

impl Discard {
    /// Walks `data` frame by frame: skipped `$D` payloads are counted, every other
    /// byte goes to `buf` for `next_frame`, in order.
    fn walk(&mut self, mut data: &[u8], buf: &mut BytesMut, offset: &mut u64) {
        while !data.is_empty() {
            if self.passthrough {
                self.keep(data, buf);
                return;
            }
            if self.skip_left > 0 {
                let n = self.skip_left.min(data.len());
                self.skip_left -= n;
                data = &data[n..];
                if self.skip_left == 0 {
                    self.skipped(offset);
                }
                continue;
            }
            if self.copy_left > 0 {
                let n = self.copy_left.min(data.len());
                self.copy_left -= n;
                self.keep(&data[..n], buf);
                data = &data[n..];
                continue;
            }
            // At a packet boundary: gather the 4-byte framing header (2.2.3.1.1).
            let n = (4 - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.head.len() < 4 {
                return;
            }
            let head = std::mem::take(&mut self.head);
            let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
            if head[0] & 0x7f != 0x24 {
                // Not a packet boundary: keep everything, `next_frame` reports where.
                self.passthrough = true;
                self.keep(&head, buf);
            } else if head[1] == ID_DATA && len >= PREHEADER_LEN {
                // Counted once its last byte is skipped, as `next_frame` would return it.
                self.skipping = len;
                self.skip_left = len;
            } else {
                self.keep(&head, buf);
                self.copy_left = len;
            }
        }
    }

    /// The `$D` being skipped is complete: count it and move the offset past it.
    fn skipped(&mut self, offset: &mut u64) {
        let len = std::mem::take(&mut self.skipping);
        self.packets += 1;
        self.payload_bytes += (len - PREHEADER_LEN) as u64;
        if self.appended == self.taken {
            // Nothing kept is waiting for `next_frame`: the offset moves on now.
            *offset += (4 + len) as u64;
        } else {
            self.marks.push_back((self.appended, (4 + len) as u64));
        }
    }

    fn keep(&mut self, bytes: &[u8], buf: &mut BytesMut) {
        buf.extend_from_slice(bytes);
        self.appended += bytes.len() as u64;
    }
}
