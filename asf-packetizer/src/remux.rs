//! The remuxer: ASF in, new packets (same or another packet size and preroll, live or file),
//! ASF out, in constant memory.
//!
//! Input is read with asf-format's streaming reader and media objects are rebuilt with its
//! reassembler; each object becomes a [`Sample`] with its original presentation time (minus
//! the input preroll), so a demuxer sees the same timestamps in input and output. Output goes
//! to a callback as it is produced; in file mode [`Remuxer::finish`] returns the header
//! fix-up for the caller to write at the start of the output (this crate does no IO).

use asf_format::Limits;
use asf_format::media_object::Reassembler;
use asf_format::stream::{Event, StreamReader};
use bytes::Bytes;

use crate::header::HeaderFixup;
use crate::packetizer::{Mode, Packet, Packetizer, PacketizerOptions, PacketizerStats, Sample};
use crate::profile::Profile;
use crate::{Error, Result};

/// Remux settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemuxOptions {
    /// Output packet size; `None` keeps the input's.
    pub packet_size: Option<u32>,
    /// Output preroll in ms; `None` keeps the input's.
    pub preroll: Option<u32>,
    /// Live (broadcast header, no index) or file output.
    pub mode: Mode,
    /// Use compressed payloads for runs of small objects.
    pub compressed_payloads: bool,
    /// Creation date (FILETIME) for file output; `None` keeps the input's.
    pub creation_date: Option<u64>,
    /// Limits for reading the input.
    pub limits: Limits,
    /// Whether the caller can write the file-mode fix-up over the start of the output at the
    /// end (a regular file). When `false` (a pipe, standard output, a character device) the
    /// header written first is [`Packetizer::unseekable_header`]: Broadcast flag set, as
    /// FFmpeg writes to a pipe, so players accept it without the fix-up. Default `true`.
    pub seekable_output: bool,
}

impl Default for RemuxOptions {
    fn default() -> Self {
        RemuxOptions {
            packet_size: None,
            preroll: None,
            mode: Mode::File,
            compressed_payloads: false,
            creation_date: None,
            limits: Limits::default(),
            seekable_output: true,
        }
    }
}

/// What a remux did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemuxSummary {
    /// File mode: the bytes to write over the start of the output.
    pub fixup: Option<HeaderFixup>,
    /// Bytes given to the output callback.
    pub bytes_written: u64,
    /// Input packets that did not parse (skipped).
    pub bad_packets: u64,
    /// Media objects the input's reassembly dropped (incomplete or inconsistent).
    pub dropped_objects: u64,
    /// Counters of the packetizer.
    pub stats: PacketizerStats,
}

/// The streaming remuxer. Call [`Remuxer::push`] with input chunks as they come, then
/// [`Remuxer::finish`].
#[derive(Debug)]
pub struct Remuxer {
    opts: RemuxOptions,
    reader: StreamReader,
    reassembler: Reassembler,
    packetizer: Option<Packetizer>,
    in_preroll: u64,
    in_packet_size: u32,
    creation_date: u64,
    packets: Vec<Packet>,
    bytes_written: u64,
    bad_packets: u64,
}

impl Remuxer {
    /// A remuxer with these options.
    pub fn new(opts: RemuxOptions) -> Self {
        Remuxer {
            reader: StreamReader::new(opts.limits),
            reassembler: Reassembler::new(opts.limits),
            opts,
            packetizer: None,
            in_preroll: 0,
            in_packet_size: 0,
            creation_date: 0,
            packets: Vec::new(),
            bytes_written: 0,
            bad_packets: 0,
        }
    }

    /// Feeds input; writes whatever output is ready to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<()> {
        self.reader.feed(input);
        self.drain(&mut |b: Bytes| out(&b))
    }

    /// As [`Remuxer::push`], with the output handed over as [`Bytes`] (the packets without
    /// copying), so a caller can gather many and write them at once (`writev`) instead of
    /// copying each into a write buffer.
    pub fn push_owned(&mut self, input: &[u8], out: &mut dyn FnMut(Bytes)) -> Result<()> {
        self.reader.feed(input);
        self.drain(out)
    }

    /// As [`Remuxer::push_owned`] with the input taken as [`Bytes`]: packets inside the chunk
    /// are read as slices of it (see [`StreamReader::push`]); only a packet straddling two
    /// chunks is copied. Worth it for buffers the caller owns anyway (a network receive
    /// buffer); a chunk shared with other handles is copied once.
    pub fn push_bytes(&mut self, input: Bytes, out: &mut dyn FnMut(Bytes)) -> Result<()> {
        self.reader.push(input);
        self.drain(out)
    }

    fn write(&mut self, bytes: Bytes, out: &mut dyn FnMut(Bytes)) {
        self.bytes_written += bytes.len() as u64;
        out(bytes);
    }

    fn drain(&mut self, out: &mut dyn FnMut(Bytes)) -> Result<()> {
        while let Some(ev) = self.reader.poll_event()? {
            match ev {
                Event::Header { info, header, .. } => {
                    if self.packetizer.is_some() {
                        return Err(Error::Unsupported("a second Header Object in the input"));
                    }
                    let profile = Profile::from_header(&header)?;
                    self.in_preroll = info.preroll;
                    self.in_packet_size = info.packet_size;
                    self.creation_date = header.file_properties().map_or(0, |f| f.creation_date);
                    let mut po = PacketizerOptions::new(self.opts.mode);
                    po.packet_size = self.opts.packet_size.unwrap_or(info.packet_size);
                    po.preroll = match self.opts.preroll {
                        Some(p) => p,
                        None => u32::try_from(info.preroll)
                            .map_err(|_| Error::Unsupported("input preroll over 2^32 ms"))?,
                    };
                    po.compressed_payloads = self.opts.compressed_payloads;
                    let p = Packetizer::new(profile, po)?;
                    let h = if self.opts.mode == Mode::File && !self.opts.seekable_output {
                        p.unseekable_header()?
                    } else {
                        p.header()?
                    };
                    self.packetizer = Some(p);
                    self.write(h, out);
                }
                Event::Packet { offset, data } => {
                    if self
                        .reassembler
                        .push_packet_bytes(&data, self.in_packet_size, offset)
                        .is_err()
                    {
                        self.bad_packets += 1;
                    }
                    self.pump(out)?;
                }
                Event::End => break,
                _ => {}
            }
        }
        Ok(())
    }

    /// Moves reassembled objects into the packetizer and packets to the output.
    fn pump(&mut self, out: &mut dyn FnMut(Bytes)) -> Result<()> {
        let Some(p) = &mut self.packetizer else {
            return Err(Error::Format(asf_format::Error::Malformed {
                offset: 0,
                object: "Data Object",
                reason: "data packets before the Header Object",
            }));
        };
        while let Some(o) = self.reassembler.poll_object() {
            if o.data.is_empty() {
                continue;
            }
            let s = Sample {
                stream: o.stream,
                presentation_time: u64::from(o.presentation_time).saturating_sub(self.in_preroll),
                duration: 0,
                keyframe: o.keyframe,
                data: o.data,
            };
            match p.push_sample(s, &mut self.packets) {
                Ok(()) => {}
                // Objects of streams the header does not declare are dropped, as players do.
                Err(Error::UnknownStream(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let mut packets = core::mem::take(&mut self.packets);
        for pk in packets.drain(..) {
            self.write(pk.into_bytes(), out);
        }
        self.packets = packets;
        Ok(())
    }

    /// Ends the input: writes the last packets and (file mode) the index objects, and returns
    /// the summary with the header fix-up.
    pub fn finish(&mut self, out: &mut dyn FnMut(&[u8])) -> Result<RemuxSummary> {
        self.finish_owned(&mut |b: Bytes| out(&b))
    }

    /// As [`Remuxer::finish`], with the output handed over as [`Bytes`] (see
    /// [`Remuxer::push_owned`]).
    pub fn finish_owned(&mut self, out: &mut dyn FnMut(Bytes)) -> Result<RemuxSummary> {
        self.reader.finish();
        match self.drain(out) {
            Ok(()) => {}
            // A file cut inside its last packet (a common real-world state, e.g. an aborted
            // download): keep everything before it, as players do, and count the packet.
            Err(Error::Format(asf_format::Error::Truncated { .. }))
                if self.packetizer.is_some() =>
            {
                self.bad_packets += 1;
            }
            Err(e) => return Err(e),
        }
        self.reassembler.finish();
        self.pump(out)?;
        let creation = self.opts.creation_date.unwrap_or(self.creation_date);
        let p = self
            .packetizer
            .as_mut()
            .ok_or(Error::InvalidArgument("the input has no Header Object"))?;
        let end = p.finish(creation)?;
        let stats = p.stats();
        for pk in end.packets {
            self.write(pk.into_bytes(), out);
        }
        self.write(end.index_objects, out);
        Ok(RemuxSummary {
            fixup: end.fixup,
            bytes_written: self.bytes_written,
            bad_packets: self.bad_packets,
            dropped_objects: self.reassembler.drops().total(),
            stats,
        })
    }
}

/// Remuxes a whole input file held in memory; output goes to `out` as it is produced and the
/// file-mode fix-up is in the summary.
pub fn remux(input: &[u8], opts: RemuxOptions, out: &mut dyn FnMut(&[u8])) -> Result<RemuxSummary> {
    let mut r = Remuxer::new(opts);
    for chunk in input.chunks(64 * 1024) {
        r.push(chunk, out)?;
    }
    r.finish(out)
}

/// Remuxes a whole input file into a new buffer, the fix-up applied: the complete output file.
pub fn remux_to_vec(input: &[u8], opts: RemuxOptions) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    let s = remux(input, opts, &mut |b: &[u8]| v.extend_from_slice(b))?;
    if let Some(f) = s.fixup {
        let at = usize::try_from(f.offset).map_err(|_| Error::InvalidArgument("fix-up offset"))?;
        v[at..at + f.bytes.len()].copy_from_slice(&f.bytes);
    }
    Ok(v)
}
