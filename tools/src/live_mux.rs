//! A small live ASF multiplexer for the demo's two uncompressed streams.
//!
//! It writes a broadcast ASF header (Header Object with File Properties, two
//! Stream Properties and an empty Header Extension, plus the 50-byte start of
//! the Data Object) and fixed-size data packets with one payload each.
//!
//! The demo itself now goes through asf-packetizer's packetizer; this small,
//! predictable muxer (one payload per packet, WORD padding field) stays as the
//! generator of test streams for the raw-socket encoder tests, the benches and
//! the packet-helper tests.

use asf_format::Guid;
use bytes::{BufMut, Bytes, BytesMut};

use crate::generator::SignalConfig;

// ASF 3.1 / 10.1: top-level and header object GUIDs.
const HEADER_OBJECT: Guid = Guid::from_str_const("75B22630-668E-11CF-A6D9-00AA0062CE6C");
const DATA_OBJECT: Guid = Guid::from_str_const("75B22636-668E-11CF-A6D9-00AA0062CE6C");
const FILE_PROPERTIES: Guid = Guid::from_str_const("8CABDCA1-A947-11CF-8EE4-00C00C205365");
const STREAM_PROPERTIES: Guid = Guid::from_str_const("B7DC0791-A9B7-11CF-8EE6-00C00C205365");
const HEADER_EXTENSION: Guid = Guid::from_str_const("5FBF03B5-A92E-11CF-8EE3-00C00C205365");
const RESERVED_1: Guid = Guid::from_str_const("ABD3D211-A9BA-11CF-8EE6-00C00C205365");
const AUDIO_MEDIA: Guid = Guid::from_str_const("F8699E40-5B4D-11CF-A8FD-00805F5C442B");
const VIDEO_MEDIA: Guid = Guid::from_str_const("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B");
const NO_ERROR_CORRECTION: Guid = Guid::from_str_const("20FB5700-5B55-11CF-A8FD-00805F5C442B");

/// Stream number of the demo's video stream.
pub const VIDEO_STREAM: u8 = 1;
/// Stream number of the demo's audio stream.
pub const AUDIO_STREAM: u8 = 2;

/// Bytes before the payload data in every packet this muxer writes:
/// 10 of payload parsing information and 15 of single-payload header.
const PACKET_OVERHEAD: usize = 25;

/// Live ASF muxer for [`SignalConfig`] streams.
#[derive(Debug)]
pub struct LiveMux {
    config: SignalConfig,
    packet_size: u32,
    preroll_ms: u32,
    file_id: [u8; 16],
    video_object: u8,
    audio_object: u8,
}

/// One data packet and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxedPacket {
    /// The whole packet, exactly `packet_size` bytes (padding included).
    pub data: Bytes,
    /// Send time in ms.
    pub send_time_ms: u32,
    /// True when the packet starts a video key frame (every raw picture is one).
    pub starts_key_frame: bool,
}

impl LiveMux {
    /// A muxer; `packet_size` must leave room for the largest audio chunk and
    /// be at most 65,535 (the MMSH `$D` limit); `file_id` comes from the caller's RNG.
    pub fn new(
        config: SignalConfig,
        packet_size: u32,
        preroll_ms: u32,
        file_id: [u8; 16],
    ) -> Result<LiveMux, String> {
        config.validate()?;
        let (a, b) = config.audio_range(0);
        let audio_chunk = usize::try_from((b - a + 1) * 2).unwrap_or(usize::MAX);
        if !(256..=65_000).contains(&packet_size)
            || (packet_size as usize) < audio_chunk + PACKET_OVERHEAD
        {
            return Err(format!(
                "packet size {packet_size} must be 256..=65000 and hold {audio_chunk} bytes of audio"
            ));
        }
        Ok(LiveMux {
            config,
            packet_size,
            preroll_ms,
            file_id,
            video_object: 0,
            audio_object: 0,
        })
    }

    /// Packet size in bytes.
    pub fn packet_size(&self) -> u32 {
        self.packet_size
    }

    /// The signal settings.
    pub fn config(&self) -> &SignalConfig {
        &self.config
    }

    /// Approximate bits per second of the packet stream.
    pub fn bitrate(&self) -> u32 {
        let video_packets = self
            .config
            .frame_len()
            .div_ceil(self.packet_size as usize - PACKET_OVERHEAD);
        let per_frame = (video_packets + 1) * self.packet_size as usize;
        u32::try_from(per_frame * self.config.fps as usize * 8).unwrap_or(u32::MAX)
    }

    /// The ASF header: Header Object plus the 50-byte Data Object start
    /// (MS-WMSP 2.2.3.5 / MS-WMHTTP 2.2.3.1.1 "ASF file header").
    pub fn header(&self) -> Bytes {
        let c = &self.config;
        let mut objects = BytesMut::new();
        // ASF 3.2 File Properties Object (104 bytes).
        put_guid(&mut objects, FILE_PROPERTIES);
        objects.put_u64_le(104);
        objects.put_slice(&self.file_id);
        objects.put_u64_le(0); // File Size: invalid when Broadcast is set
        objects.put_u64_le(0); // Creation Date: invalid when Broadcast is set
        objects.put_u64_le(0); // Data Packets Count: invalid when Broadcast is set
        objects.put_u64_le(0); // Play Duration
        objects.put_u64_le(0); // Send Duration
        objects.put_u64_le(u64::from(self.preroll_ms));
        objects.put_u32_le(0x1); // Flags: Broadcast
        objects.put_u32_le(self.packet_size); // Minimum Data Packet Size
        objects.put_u32_le(self.packet_size); // Maximum Data Packet Size (ASF 3.2: must equal min)
        objects.put_u32_le(self.bitrate());
        // ASF 3.3 Stream Properties: video, BITMAPINFOHEADER with FourCC I420.
        let mut video = BytesMut::new();
        video.put_u32_le(c.width); // Encoded Image Width
        video.put_u32_le(c.height); // Encoded Image Height
        video.put_u8(2); // Reserved Flags
        video.put_u16_le(40); // Format Data Size
        video.put_u32_le(40); // biSize
        video.put_u32_le(c.width);
        video.put_u32_le(c.height);
        video.put_u16_le(1); // planes
        video.put_u16_le(12); // bit count of I420
        video.put_slice(b"I420");
        video.put_u32_le(u32::try_from(c.frame_len()).unwrap_or(u32::MAX));
        video.put_u32_le(0);
        video.put_u32_le(0);
        video.put_u32_le(0);
        video.put_u32_le(0);
        put_stream_properties(&mut objects, VIDEO_MEDIA, VIDEO_STREAM, &video);
        // ASF 3.3 + 9.1: audio, WAVEFORMATEX PCM mono s16le.
        let mut audio = BytesMut::new();
        audio.put_u16_le(1); // WAVE_FORMAT_PCM
        audio.put_u16_le(1); // channels
        audio.put_u32_le(c.sample_rate);
        audio.put_u32_le(c.sample_rate * 2); // average bytes per second
        audio.put_u16_le(2); // block align
        audio.put_u16_le(16); // bits per sample
        audio.put_u16_le(0); // cbSize
        put_stream_properties(&mut objects, AUDIO_MEDIA, AUDIO_STREAM, &audio);
        // ASF 3.4: the Header Extension Object is mandatory (may be empty).
        put_guid(&mut objects, HEADER_EXTENSION);
        objects.put_u64_le(46);
        put_guid(&mut objects, RESERVED_1);
        objects.put_u16_le(6);
        objects.put_u32_le(0);

        let mut out = BytesMut::with_capacity(30 + objects.len() + 50);
        put_guid(&mut out, HEADER_OBJECT);
        out.put_u64_le(30 + objects.len() as u64);
        out.put_u32_le(4); // number of header objects
        out.put_u8(1); // Reserved1
        out.put_u8(2); // Reserved2
        out.put_slice(&objects);
        // ASF 5.1: Data Object start; size 50 and packet count 0 (broadcast, unknown).
        put_guid(&mut out, DATA_OBJECT);
        out.put_u64_le(50);
        out.put_slice(&self.file_id);
        out.put_u64_le(0);
        out.put_u16_le(0x0101);
        out.freeze()
    }

    /// Packets carrying picture `index` and its audio chunk, rendered from
    /// the generator: audio first (one packet), then the picture fragments.
    pub fn packets_for_frame(
        &mut self,
        index: u64,
        picture: &[u8],
        pcm: &[u8],
    ) -> Vec<MuxedPacket> {
        let t = u32::try_from(self.config.frame_time_ms(index)).unwrap_or(u32::MAX);
        let mut out = self.audio_packets(t, pcm);
        out.extend(self.video_packets(t, picture));
        out
    }

    /// One audio chunk (at most one packet's worth) sent at `time_ms`.
    pub fn audio_packets(&mut self, time_ms: u32, pcm: &[u8]) -> Vec<MuxedPacket> {
        let obj = self.audio_object;
        self.audio_object = self.audio_object.wrapping_add(1);
        let room = self.packet_size as usize - PACKET_OVERHEAD;
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < pcm.len() {
            let len = room.min(pcm.len() - offset);
            out.push(self.packet(AUDIO_STREAM, true, obj, time_ms, pcm, offset, len));
            offset += len;
        }
        out
    }

    /// One picture, fragmented over as many packets as it needs; the first
    /// packet starts the key frame (every raw picture is one).
    pub fn video_packets(&mut self, time_ms: u32, picture: &[u8]) -> Vec<MuxedPacket> {
        let obj = self.video_object;
        self.video_object = self.video_object.wrapping_add(1);
        let room = self.packet_size as usize - PACKET_OVERHEAD;
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < picture.len() {
            let len = room.min(picture.len() - offset);
            let mut p = self.packet(VIDEO_STREAM, true, obj, time_ms, picture, offset, len);
            p.starts_key_frame = offset == 0;
            out.push(p);
            offset += len;
        }
        out
    }

    /// One packet with a single payload: ASF 5.2.2 payload parsing information
    /// (no error correction, padding length as WORD, send time, duration),
    /// then ASF 5.2.3.1 single payload (stream, object number, offset,
    /// 8 bytes of replicated data: object size and presentation time).
    #[allow(clippy::too_many_arguments)]
    fn packet(
        &self,
        stream: u8,
        key: bool,
        object: u8,
        time_ms: u32,
        object_data: &[u8],
        offset: usize,
        len: usize,
    ) -> MuxedPacket {
        let size = self.packet_size as usize;
        let padding = size - PACKET_OVERHEAD - len;
        let mut p = BytesMut::with_capacity(size);
        p.put_u8(0x10); // Length Type Flags: padding length is a WORD
        p.put_u8(0x5D); // Property Flags: rep BYTE, offset DWORD, object BYTE, stream BYTE
        p.put_u16_le(u16::try_from(padding).unwrap_or(u16::MAX));
        p.put_u32_le(time_ms); // Send Time
        p.put_u16_le(0); // Duration
        p.put_u8(stream | if key { 0x80 } else { 0 });
        p.put_u8(object);
        p.put_u32_le(u32::try_from(offset).unwrap_or(u32::MAX));
        p.put_u8(8);
        p.put_u32_le(u32::try_from(object_data.len()).unwrap_or(u32::MAX));
        p.put_u32_le(time_ms.saturating_add(self.preroll_ms));
        p.put_slice(&object_data[offset..offset + len]);
        p.put_bytes(0, padding);
        MuxedPacket {
            data: p.freeze(),
            send_time_ms: time_ms,
            starts_key_frame: false,
        }
    }
}

fn put_guid(buf: &mut BytesMut, guid: Guid) {
    buf.put_slice(guid.as_bytes());
}

fn put_stream_properties(buf: &mut BytesMut, kind: Guid, number: u8, specific: &[u8]) {
    put_guid(buf, STREAM_PROPERTIES);
    buf.put_u64_le(78 + specific.len() as u64);
    put_guid(buf, kind);
    put_guid(buf, NO_ERROR_CORRECTION);
    buf.put_u64_le(0); // Time Offset
    buf.put_u32_le(u32::try_from(specific.len()).unwrap_or(u32::MAX));
    buf.put_u32_le(0); // Error Correction Data Length
    buf.put_u16_le(u16::from(number)); // Flags: stream number, not encrypted
    buf.put_u32_le(0); // Reserved
    buf.put_slice(specific);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{render_audio, render_frame};

    fn mux() -> LiveMux {
        LiveMux::new(SignalConfig::default(), 3600, 1000, [7; 16]).expect("valid settings")
    }

    #[test]
    fn header_sizes_add_up_and_streams_are_found() {
        let h = mux().header();
        let size = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
        assert_eq!(size as usize + 50, h.len());
        assert_eq!(&h[..16], HEADER_OBJECT.as_bytes());
        let streams = push_protocol::pull_client::stream_numbers(&h).expect("walkable");
        assert_eq!(streams, vec![1, 2]);
    }

    #[test]
    fn frame_is_split_into_fixed_size_packets() {
        let mut m = mux();
        let c = *m.config();
        let mut pic = Vec::new();
        let mut pcm = Vec::new();
        render_frame(&c, 3, &mut pic);
        let (a, b) = c.audio_range(3);
        render_audio(&c, a, b, &mut pcm);
        let packets = m.packets_for_frame(3, &pic, &pcm);
        assert!(packets.iter().all(|p| p.data.len() == 3600));
        assert_eq!(packets.len(), 1 + 28_800usize.div_ceil(3575));
        assert_eq!(packets.iter().filter(|p| p.starts_key_frame).count(), 1);
        // Reassemble the picture from the payloads.
        let mut back = Vec::new();
        for p in &packets[1..] {
            let pad = u16::from_le_bytes([p.data[2], p.data[3]]) as usize;
            back.extend_from_slice(&p.data[25..3600 - pad]);
        }
        assert_eq!(back, pic);
    }

    #[test]
    fn rejects_packet_size_too_small_for_audio() {
        assert!(LiveMux::new(SignalConfig::default(), 1000, 0, [0; 16]).is_err());
    }
}
