//! [`PacketizerMux`]: asf-packetizer's [`Packetizer`] as the [`Writer`]'s [`Multiplexer`],
//! the production path from media samples to ASF packets.
//!
//! The packetizer writes every packet straight into a buffer from the writer's
//! [`PacketAllocator`] (so with one sink, into that sink's own buffer, zero copy). It is used
//! in either mode of asf-packetizer:
//!
//! - [`Mode::Live`]: the header announces a broadcast (Broadcast flag, sizes 0), as a live
//!   encoder sends it to push and network sinks.
//! - [`Mode::File`]: a file header (with its Padding Object). The `Writer` has no "finish"
//!   step for the multiplexer: a [`FileSink`](crate::FileSink) does the final header fix-up
//!   and writes the indexes itself, so the packetizer's own `finish` is not called.
//!
//! ```
//! use asf_packetizer::{Mode, Profile, StreamConfig};
//! use push_sink::{FileSink, FileSinkConfig, Sample, Writer};
//!
//! let profile = Profile::new().with_stream(StreamConfig::pcm(1, 1, 8000, 16));
//! let mut writer = Writer::from_profile(profile, 3200, 3100, Mode::File)?;
//! writer.add_sink(Box::new(FileSink::new(std::io::Cursor::new(Vec::new()), FileSinkConfig::default())));
//! writer.begin_writing()?;
//! for i in 0..50u64 {
//!     let data = bytes::Bytes::from(vec![0u8; 320]);
//!     writer.write_sample(Sample { stream: 1, presentation_time_ms: i * 20, duration_ms: 20, key_frame: true, data })?;
//! }
//! writer.end_writing()?;
//! assert!(writer.take_sink_failures().is_empty());
//! assert!(writer.packets_made() > 0);
//! # Ok::<(), push_sink::Error>(())
//! ```

use asf_packetizer::{Mode, Packetizer, PacketizerOptions, Profile};
use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::sink::PacketInfo;
use crate::writer::{FinishedPacket, Multiplexer, PacketAllocator, Sample, Writer};

/// asf-packetizer's [`Packetizer`] behind the [`Multiplexer`] trait. See the
/// [module docs](self).
#[derive(Debug)]
pub struct PacketizerMux {
    packetizer: Packetizer,
    header: Bytes,
    packets: Vec<asf_packetizer::Packet>,
}

/// Hands the writer's allocator to the packetizer (the two crates' allocator traits have the
/// same contract: `len()` is headroom, capacity at least headroom + packet size).
struct AllocBridge<'a>(&'a mut dyn PacketAllocator);

impl asf_packetizer::PacketAllocator for AllocBridge<'_> {
    fn allocate(&mut self, packet_size: usize) -> BytesMut {
        self.0.allocate(packet_size)
    }
}

impl PacketizerMux {
    /// A multiplexer for `profile` with the packetizer's `options` (packet size, preroll,
    /// live or file, compressed payloads, File ID). Fails when the profile or options are
    /// invalid, or the header cannot be built.
    pub fn new(profile: Profile, options: PacketizerOptions) -> Result<PacketizerMux> {
        let packetizer = Packetizer::new(profile, options)?;
        let header = packetizer.header()?;
        Ok(PacketizerMux {
            packetizer,
            header,
            packets: Vec::new(),
        })
    }

    /// A multiplexer with asf-packetizer's defaults for `mode` and the given packet size and
    /// preroll (ms).
    pub fn with_settings(
        profile: Profile,
        packet_size: u32,
        preroll_ms: u32,
        mode: Mode,
    ) -> Result<PacketizerMux> {
        let mut options = PacketizerOptions::new(mode);
        options.packet_size = packet_size;
        options.preroll = preroll_ms;
        PacketizerMux::new(profile, options)
    }

    /// The packetizer (profile, options, counters).
    pub fn packetizer(&self) -> &Packetizer {
        &self.packetizer
    }

    fn drain(&mut self, out: &mut Vec<FinishedPacket>) {
        out.extend(self.packets.drain(..).map(|p| FinishedPacket {
            buffer: p.buffer,
            headroom: p.headroom,
            info: PacketInfo {
                // ASF 5.2.2: Send Time is a DWORD on the wire (the packetizer keeps 64 bits).
                send_time_ms: p.send_time as u32,
                duration_ms: p.duration,
                index: p.index,
                key_frame: p.key_frame,
            },
        }));
    }
}

impl Multiplexer for PacketizerMux {
    fn header(&mut self) -> Result<Bytes> {
        Ok(self.header.clone())
    }

    fn packet_size(&self) -> usize {
        self.packetizer.packet_size()
    }

    fn push_sample(
        &mut self,
        sample: Sample,
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<FinishedPacket>,
    ) -> Result<()> {
        // ASF 5.2.3.1: stream numbers are 7 bits (1..=127).
        let stream = u8::try_from(sample.stream)
            .ok()
            .filter(|s| (1..=127).contains(s))
            .ok_or(Error::Misuse("stream number out of 1..=127"))?;
        let sample = asf_packetizer::Sample {
            stream,
            presentation_time: sample.presentation_time_ms,
            duration: sample.duration_ms,
            keyframe: sample.key_frame,
            data: sample.data,
        };
        let r =
            self.packetizer
                .push_sample_with(sample, &mut AllocBridge(alloc), &mut self.packets);
        // Packets finished before an error are still handed out (they hold allocated buffers).
        self.drain(out);
        Ok(r?)
    }

    fn flush(
        &mut self,
        _alloc: &mut dyn PacketAllocator,
        out: &mut Vec<FinishedPacket>,
    ) -> Result<()> {
        // The packet in progress already sits in a buffer from the writer's allocator.
        self.packetizer.flush(&mut self.packets);
        self.drain(out);
        Ok(())
    }
}

impl Writer {
    /// A writer whose multiplexer is asf-packetizer's packetizer ([`PacketizerMux`]) for
    /// `profile`, with `packet_size` bytes per packet, `preroll_ms` of preroll, live or file
    /// `mode` (`IWMWriter::SetProfile` plus the packet size and preroll of the profile).
    pub fn from_profile(
        profile: Profile,
        packet_size: u32,
        preroll_ms: u32,
        mode: Mode,
    ) -> Result<Writer> {
        Ok(Writer::new(Box::new(PacketizerMux::with_settings(
            profile,
            packet_size,
            preroll_ms,
            mode,
        )?)))
    }
}
