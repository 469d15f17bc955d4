//! Splits a whole ASF file in memory into what a writer hands its sinks: the ASF header
//! (Header Object + the first 50 bytes of the Data Object) and the data packets, each with
//! its [`PacketInfo`] (send time, key frame).
//!
//! Used by the `push_file` example, the tests, and anyone who wants to replay a recorded
//! file into a [`WriterSink`](crate::sink::WriterSink) without the packetizer. It reads only
//! the few fields it needs (ASF 3.1 Header Object size, 3.2 File Properties packet size,
//! 3.3 Stream Properties stream type and number, 5.1 Data Object); it is not a validator.

use bytes::Bytes;

use crate::error::Error;
use crate::push_sink::asf_packet::PacketView;
use crate::sink::PacketInfo;

const HEADER_GUID: [u8; 16] = [
    0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];
const FILE_PROPERTIES_GUID: [u8; 16] = [
    0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11, 0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65,
];
const STREAM_PROPERTIES_GUID: [u8; 16] = [
    0x91, 0x07, 0xDC, 0xB7, 0xB7, 0xA9, 0xCF, 0x11, 0x8E, 0xE6, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65,
];
const VIDEO_MEDIA_GUID: [u8; 16] = [
    0xC0, 0xEF, 0x19, 0xBC, 0x4D, 0x5B, 0xCF, 0x11, 0xA8, 0xFD, 0x00, 0x80, 0x5F, 0x5C, 0x44, 0x2B,
];
const DATA_GUID: [u8; 16] = [
    0x36, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];

/// An ASF file split into header and packets.
#[derive(Debug, Clone)]
pub struct AsfFile {
    header: Bytes,
    packet_size: usize,
    video_streams: Vec<u8>,
    data: Bytes,
}

fn bad(at: usize, what: &str) -> Error {
    Error::Custom(format!("ASF file at byte {at}: {what}").into())
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Stream numbers whose Stream Properties Object (ASF 3.3) says video, from an ASF header
/// (Header Object first). Unreadable headers give an empty list.
pub fn header_video_streams(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if header.len() < 30 || header[..16] != HEADER_GUID {
        return out;
    }
    let end = u64_at(header, 16)
        .and_then(|s| usize::try_from(s).ok())
        .map_or(header.len(), |s| s.min(header.len()));
    let mut at = 30;
    while at + 24 <= end {
        let Some(size) = u64_at(header, at + 16)
            .and_then(|s| usize::try_from(s).ok())
            .filter(|&s| s >= 24 && at + s <= end)
        else {
            break;
        };
        if header[at..at + 16] == STREAM_PROPERTIES_GUID
            && size >= 74
            && header[at + 24..at + 40] == VIDEO_MEDIA_GUID
        {
            out.push(header[at + 72] & 0x7F);
        }
        at += size;
    }
    out
}

impl AsfFile {
    /// Reads and splits the file at `path`.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<AsfFile, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading the ASF file", e))?;
        AsfFile::parse(Bytes::from(bytes))
    }

    /// Splits a whole ASF file held in memory (no copy: the header and packets are views).
    pub fn parse(file: Bytes) -> Result<AsfFile, Error> {
        if file.len() < 30 || file[..16] != HEADER_GUID {
            return Err(bad(0, "does not start with the ASF Header Object"));
        }
        // ASF 3.1: Object Size (u64 at 16), Number of Header Objects (u32 at 24), 2 reserved.
        let header_len = u64_at(&file, 16)
            .and_then(|s| usize::try_from(s).ok())
            .filter(|&s| s >= 30 && s + 50 <= file.len())
            .ok_or_else(|| bad(16, "Header Object size is out of range"))?;
        let mut packet_size = None;
        let mut video_streams = Vec::new();
        let mut at = 30;
        while at + 24 <= header_len {
            let size = u64_at(&file, at + 16)
                .and_then(|s| usize::try_from(s).ok())
                .filter(|&s| s >= 24 && at + s <= header_len)
                .ok_or_else(|| bad(at + 16, "header object size is out of range"))?;
            let guid = &file[at..at + 16];
            if guid == FILE_PROPERTIES_GUID {
                // ASF 3.2: Minimum Data Packet Size at object offset 92, Maximum at 96.
                let min = u32_at(&file, at + 92).ok_or_else(|| bad(at, "short File Properties"))?;
                let max = u32_at(&file, at + 96).ok_or_else(|| bad(at, "short File Properties"))?;
                if min != max || min == 0 {
                    return Err(bad(
                        at + 92,
                        "minimum and maximum packet sizes differ or are 0",
                    ));
                }
                packet_size = Some(usize::try_from(min).map_err(|_| bad(at + 92, "huge"))?);
            } else if guid == STREAM_PROPERTIES_GUID && size >= 74 {
                // ASF 3.3: Stream Type GUID at 24; Flags (u16) at 72, stream number = bits 0-6.
                if file[at + 24..at + 40] == VIDEO_MEDIA_GUID {
                    video_streams.push(file[at + 72] & 0x7F);
                }
            }
            at += size;
        }
        let packet_size = packet_size.ok_or_else(|| bad(30, "no File Properties Object"))?;
        if file[header_len..header_len + 16] != DATA_GUID {
            return Err(bad(header_len, "no Data Object after the Header Object"));
        }
        let data_size = u64_at(&file, header_len + 16)
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(0);
        // A live capture may leave the Data Object size 0 or too large: use what is there.
        let data_end = if data_size >= 50 && header_len + data_size <= file.len() {
            header_len + data_size
        } else {
            file.len()
        };
        let full = (data_end - header_len - 50) / packet_size * packet_size;
        Ok(AsfFile {
            header: file.slice(..header_len + 50),
            packet_size,
            video_streams,
            data: file.slice(header_len + 50..header_len + 50 + full),
        })
    }

    /// The ASF header as a writer hands it to `on_header`: Header Object + 50 bytes of the
    /// Data Object.
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// The header rewritten as a live encoder sends it (ASF 3.2 File Properties Flags:
    /// Broadcast set, Seekable cleared; File Size, Data Packets Count, Play Duration and Send
    /// Duration zero, as they are "invalid" for a broadcast; the Data Object's size and Total
    /// Data Packets zero). Players then treat the stream as live: VLC refuses to play a late
    /// join of a header that announces a finished file.
    pub fn live_header(&self) -> Bytes {
        let mut h = bytes::BytesMut::from(&self.header[..]);
        let header_len = h.len() - 50;
        let mut at = 30;
        while at + 24 <= header_len {
            let Some(size) = u64_at(&h, at + 16)
                .and_then(|s| usize::try_from(s).ok())
                .filter(|&s| s >= 24 && at + s <= header_len)
            else {
                break;
            };
            if h[at..at + 16] == FILE_PROPERTIES_GUID && size >= 104 {
                h[at + 40..at + 48].fill(0); // File Size
                h[at + 56..at + 64].fill(0); // Data Packets Count
                h[at + 64..at + 80].fill(0); // Play Duration, Send Duration
                let flags = u32_at(&h, at + 88).unwrap_or(0);
                h[at + 88..at + 92].copy_from_slice(&((flags & !0x2) | 0x1).to_le_bytes());
            }
            at += size;
        }
        // ASF 5.1: Data Object size and Total Data Packets (unknown while live).
        h[header_len + 16..header_len + 24].fill(0);
        h[header_len + 40..header_len + 48].fill(0);
        h.freeze()
    }

    /// The fixed data packet size (File Properties minimum = maximum packet size).
    pub fn packet_size(&self) -> usize {
        self.packet_size
    }

    /// Stream numbers whose Stream Properties say video.
    pub fn video_streams(&self) -> &[u8] {
        &self.video_streams
    }

    /// Number of whole data packets.
    pub fn packet_count(&self) -> usize {
        self.data.len() / self.packet_size
    }

    /// The data packets in file order, each with its [`PacketInfo`] (`index` counts from 0).
    /// A packet whose header cannot be read is an error item (send time 0 is not guessed).
    pub fn packets(&self) -> impl Iterator<Item = Result<(Bytes, PacketInfo), Error>> + '_ {
        (0..self.packet_count()).map(move |i| {
            let packet = self
                .data
                .slice(i * self.packet_size..(i + 1) * self.packet_size);
            let view = PacketView::parse(&packet, |s| self.video_streams.contains(&s))?;
            Ok((
                packet,
                PacketInfo {
                    send_time_ms: view.send_time_ms,
                    duration_ms: view.duration_ms,
                    index: i as u64,
                    key_frame: view.key_frame,
                },
            ))
        })
    }
}
