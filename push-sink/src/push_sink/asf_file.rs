//! Splits a whole ASF file in memory into what a writer hands its sinks: the ASF header
//! (Header Object + the first 50 bytes of the Data Object) and the data packets, each with
//! its [`PacketInfo`] (send time, key frame).
//!
//! Used by the `push_file` example, the tests, `wmpush push`, and anyone who wants to replay
//! a recorded file into a [`WriterSink`](crate::sink::WriterSink) without the packetizer.
//! The parsing is asf-format's ([`asf_format::AsfFile`]: ASF 3.1 Header Object, 3.2 File
//! Properties, 3.3 Stream Properties, 5.1 Data Object); this module only cuts the file into
//! sink-sized pieces and rewrites the header for live use.

use asf_format::data::DataObjectHeader;
use asf_format::{AsfObject, Header, Limits};
use bytes::Bytes;

use crate::error::Error;
use crate::push_sink::asf_packet::PacketView;
use crate::sink::PacketInfo;

/// ASF 5.1: the fixed part of the Data Object (object header, File ID, Total Data Packets,
/// Reserved) that a writer sends with the Header Object.
const DATA_OBJECT_HEADER_LEN: usize = 50;

/// An ASF file split into header and packets.
#[derive(Debug, Clone)]
pub struct AsfFile {
    header: Bytes,
    model: Header,
    packet_size: usize,
    video_streams: Vec<u8>,
    data: Bytes,
}

fn bad(at: u64, what: &str) -> Error {
    Error::Custom(format!("ASF file at byte {at}: {what}").into())
}

/// Stream numbers whose Stream Properties Object (ASF 3.3, top-level, in the Header
/// Extension, or embedded in Extended Stream Properties) says video, in header order.
fn video_streams_of(header: &Header) -> Vec<u8> {
    let mut out = Vec::new();
    for sp in header.stream_properties() {
        if sp.is_video() && !out.contains(&sp.stream_number()) {
            out.push(sp.stream_number());
        }
    }
    out
}

/// Stream numbers whose Stream Properties Object (ASF 3.3) says video, from an ASF header
/// (Header Object first, parsed by asf-format). Unreadable headers give an empty list.
pub fn header_video_streams(header: &[u8]) -> Vec<u8> {
    Header::parse_header(header, 0, &Limits::default())
        .map(|(h, _)| video_streams_of(&h))
        .unwrap_or_default()
}

impl AsfFile {
    /// Reads and splits the file at `path`.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<AsfFile, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading the ASF file", e))?;
        AsfFile::parse(Bytes::from(bytes))
    }

    /// Splits a whole ASF file held in memory (the packets are views of `file`, no copy; so
    /// is the header when the Data Object follows the Header Object directly).
    pub fn parse(file: Bytes) -> Result<AsfFile, Error> {
        let parsed = asf_format::AsfFile::parse_bytes(&file, &Limits::default())?;
        let fp = parsed
            .header
            .file_properties()
            .ok_or_else(|| bad(30, "no File Properties Object"))?;
        // ASF 3.2: Minimum and Maximum Data Packet Size are equal (fixed-size packets).
        let packet_size = fp
            .packet_size()
            .filter(|&s| s > 0)
            .ok_or_else(|| bad(30, "minimum and maximum packet sizes differ or are 0"))?
            as usize;
        let header_len = parsed.header.encoded_len();
        let (Some(data), Some(data_at)) = (parsed.data(), parsed.data_offset()) else {
            return Err(bad(header_len, "no Data Object after the Header Object"));
        };
        let data_at = usize::try_from(data_at).map_err(|_| bad(header_len, "huge"))?;
        let data_header = file
            .get(data_at..data_at + DATA_OBJECT_HEADER_LEN)
            .ok_or_else(|| bad(data_at as u64, "Data Object shorter than 50 bytes"))?;
        let header = if data_at as u64 == header_len {
            file.slice(..data_at + DATA_OBJECT_HEADER_LEN)
        } else {
            // Junk between the Header and the Data Object (tag editors): skip it.
            let mut h = parsed.header.to_bytes();
            h.extend_from_slice(data_header);
            Bytes::from(h)
        };
        // A live capture may leave the Data Object size 0 or too large: asf-format then
        // runs the packets to the end of the input. Only whole packets are kept.
        let packets = data.packets();
        let full = packets.len() / packet_size * packet_size;
        Ok(AsfFile {
            header,
            video_streams: video_streams_of(&parsed.header),
            model: parsed.header,
            packet_size,
            data: packets.slice(..full),
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
        let mut model = self.model.clone();
        if let Some(fp) = model.file_properties_mut() {
            fp.file_size = 0;
            fp.data_packets_count = 0;
            fp.play_duration = 0;
            fp.send_duration = 0;
            fp.flags = (fp.flags & !0x2) | 0x1;
        }
        let mut out = model.to_bytes();
        let data_header = &self.header[self.header.len() - DATA_OBJECT_HEADER_LEN..];
        match DataObjectHeader::parse(data_header, 0) {
            // ASF 5.1: Data Object size and Total Data Packets (unknown while live).
            Ok(mut dh) => {
                dh.size = 0;
                dh.total_data_packets = 0;
                out.extend_from_slice(&dh.to_bytes());
            }
            Err(_) => out.extend_from_slice(data_header),
        }
        Bytes::from(out)
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
