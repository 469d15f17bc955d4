//! The remuxer: ASF in, new packets (same or another packet size and preroll, live or file),
//! ASF out, in constant memory.
//!
//! Input is read with asf-format's streaming reader and media objects are rebuilt with its
//! reassembler; each object becomes a [`Sample`](crate::Sample) with its original
//! presentation time (minus the input preroll), so a demuxer sees the same timestamps in input
//! and output. Output goes to a callback (or an [`OutputBatch`]) as it is produced; in file
//! mode [`Remuxer::finish`] returns the header fix-up for the caller to write at the start of
//! the output (this crate does no IO).

use asf_format::Limits;
use asf_format::media_object::Reassembler;
use asf_format::stream::{Event, HeaderInfo, StreamReader};
use bytes::Bytes;

use crate::header::HeaderFixup;
use crate::packetizer::{
    Mode, Packet, Packetizer, PacketizerOptions, PacketizerStats, SampleParts,
};
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

/// What the input half of a remux produces, in input order: the header once, then the media
/// objects as samples.
#[derive(Debug)]
pub enum RemuxItem {
    /// The input's Header Object (always the first item).
    Header {
        /// The parsed object model.
        header: Box<asf_format::header::Header>,
        /// Its File Properties values (preroll, packet size).
        info: HeaderInfo,
    },
    /// A media object of the input, as a sample in the pieces it arrived in (slices of the
    /// input packets, not copied): its presentation time is the input's minus the input
    /// preroll, as [`Packetizer::push_sample_parts`] takes it.
    Sample(SampleParts),
}

/// Remux output kept until it is written: whole data packets and bytes (the header, the index
/// objects), in order. A writer takes the bytes as borrowed slices
/// ([`OutputBatch::for_each_slice`], for one `writev`), then gives the batch back
/// ([`Remuxer::recycle_batch`]) so the packets' buffers serve later packets: no [`Bytes`] is
/// made per part of a packet (what [`Packet::parts`] costs) and nothing is allocated per
/// packet. The packetizer appends its packets to the batch directly: handing packets over one at
/// a time through a callback and moving them between lists cost about 9 % of `wmpush remux`'s
/// instructions (callgrind, BENCHMARKS.md).
#[derive(Debug, Default)]
pub struct OutputBatch {
    packets: Vec<Packet>,
    /// Bytes pieces, each with the number of packets written before it.
    bytes: Vec<(usize, Bytes)>,
    len: usize,
}

impl OutputBatch {
    /// An empty batch.
    pub fn new() -> Self {
        OutputBatch::default()
    }

    /// The number of bytes the batch writes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The data packets in the batch.
    pub fn packets(&self) -> &[Packet] {
        &self.packets
    }

    /// The batch's bytes in order, as borrowed slices (a packet's header and padding, then
    /// media data as slices of the input, ...).
    pub fn for_each_slice<'a>(&'a self, mut f: impl FnMut(&'a [u8])) {
        let mut bytes = self.bytes.iter().peekable();
        for (i, p) in self.packets.iter().enumerate() {
            while let Some((_, b)) = bytes.next_if(|(at, _)| *at <= i) {
                f(b);
            }
            p.slices(&mut f);
        }
        for (_, b) in bytes {
            f(b);
        }
    }

    /// The batch's bytes in order as [`Bytes`] (see [`Packet::parts`]); leaves it empty.
    pub fn drain_parts(&mut self, out: &mut dyn FnMut(Bytes)) {
        let mut bytes = self.bytes.drain(..).peekable();
        for (i, p) in self.packets.drain(..).enumerate() {
            while let Some((_, b)) = bytes.next_if(|(at, _)| *at <= i) {
                out(b);
            }
            p.parts(out);
        }
        for (_, b) in bytes {
            out(b);
        }
        self.len = 0;
    }

    /// Drops everything in the batch.
    pub fn clear(&mut self) {
        self.packets.clear();
        self.bytes.clear();
        self.len = 0;
    }

    fn push_bytes(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.bytes.push((self.packets.len(), b));
        }
    }

    /// Counts the packets appended since there were `before` (each `packet_size` bytes: the
    /// packetizer makes every packet exactly that long).
    fn count_packets_from(&mut self, before: usize, packet_size: usize) {
        self.len += (self.packets.len() - before) * packet_size;
    }
}

/// The input's counters, for [`RemuxOutput::finish`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemuxInputStats {
    /// Input packets that did not parse (skipped).
    pub bad_packets: u64,
    /// Media objects the input's reassembly dropped (incomplete or inconsistent).
    pub dropped_objects: u64,
}

/// The input half of a remux: ASF bytes in, [`RemuxItem`]s out (asf-format's streaming reader
/// and media-object reassembler).
///
/// With [`RemuxOutput`] it makes a [`Remuxer`]; the two halves exist separately so a caller can
/// run them on two threads (the input half reading and reassembling, the output half
/// packetizing), handing items over in batches, as `wmpush remux` does. Pull-based: push input,
/// then take items with [`RemuxInput::poll_item`] until it returns `None`; memory is what the
/// reader and the reassembler hold, not what was pushed before.
#[derive(Debug)]
pub struct RemuxInput {
    reader: StreamReader,
    reassembler: Reassembler,
    header_seen: bool,
    in_preroll: u64,
    in_packet_size: u32,
    bad_packets: u64,
    /// [`RemuxInput::finish`] was called.
    input_ended: bool,
    /// The reader's events are used up (after [`RemuxInput::finish`]).
    reader_done: bool,
    ended: bool,
}

impl RemuxInput {
    /// An input half reading with these limits.
    pub fn new(limits: Limits) -> Self {
        // Objects stay in the pieces they arrived in: the output half references them.
        let mut reassembler = Reassembler::new(limits);
        reassembler.keep_fragments(true);
        RemuxInput {
            reader: StreamReader::new(limits),
            reassembler,
            header_seen: false,
            in_preroll: 0,
            in_packet_size: 0,
            bad_packets: 0,
            input_ended: false,
            reader_done: false,
            ended: false,
        }
    }

    /// Appends input (copied).
    pub fn push(&mut self, input: &[u8]) {
        self.reader.feed(input);
    }

    /// Appends input given as [`Bytes`]: packets inside the chunk are read as slices of it
    /// (see [`StreamReader::push`]), and so are media objects and their fragments; only a
    /// packet straddling two chunks is copied.
    pub fn push_bytes(&mut self, input: Bytes) {
        self.reader.push(input);
    }

    /// Declares the end of input: [`RemuxInput::poll_item`] then gives what is left.
    pub fn finish(&mut self) {
        self.input_ended = true;
        self.reader.finish();
    }

    /// The next item, or `None` when more input is needed (or, after [`RemuxInput::finish`],
    /// when everything was given).
    ///
    /// A file cut inside its last packet (a common real-world state, an aborted download)
    /// ends without an error: everything before the cut is given and the packet is counted in
    /// [`RemuxInputStats::bad_packets`].
    pub fn poll_item(&mut self) -> Result<Option<RemuxItem>> {
        loop {
            if let Some(o) = self.reassembler.poll_parts() {
                if o.is_empty() {
                    continue;
                }
                return Ok(Some(RemuxItem::Sample(SampleParts {
                    stream: o.stream,
                    presentation_time: u64::from(o.presentation_time)
                        .saturating_sub(self.in_preroll),
                    duration: 0,
                    keyframe: o.keyframe,
                    parts: o.parts,
                })));
            }
            if self.header_seen && !self.reader_done {
                // The hot path: whole packets of the chunk in hand, each parsed in one walk
                // and fed straight to the reassembler (no event or `Bytes` per packet), until
                // an object is complete.
                let (reassembler, bad, ps) = (
                    &mut self.reassembler,
                    &mut self.bad_packets,
                    self.in_packet_size,
                );
                let given = self
                    .reader
                    .poll_packets(usize::MAX, |offset, chunk, packet| {
                        let fed = reassembler.push_packet_in(chunk, packet, ps, offset);
                        *bad += u64::from(fed.is_err());
                        !reassembler.has_ready()
                    });
                if given > 0 {
                    continue;
                }
            }
            if self.reader_done {
                if self.ended {
                    return Ok(None);
                }
                self.ended = true;
                self.reassembler.finish();
                continue;
            }
            let ev = match self.reader.poll_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => return Ok(None),
                Err(asf_format::Error::Truncated { .. })
                    if self.header_seen && self.input_ended =>
                {
                    self.bad_packets += 1;
                    self.reader_done = true;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match ev {
                Event::Header { info, header, .. } => {
                    if self.header_seen {
                        return Err(Error::Unsupported("a second Header Object in the input"));
                    }
                    self.header_seen = true;
                    self.in_preroll = info.preroll;
                    self.in_packet_size = info.packet_size;
                    return Ok(Some(RemuxItem::Header { header, info }));
                }
                Event::Packet { offset, data } => {
                    let fed =
                        self.reassembler
                            .push_packet_bytes(&data, self.in_packet_size, offset);
                    self.bad_packets += u64::from(fed.is_err());
                }
                Event::End => self.reader_done = true,
                _ => {}
            }
        }
    }

    /// Takes back the emptied part list of a sample (see [`RemuxOutput::take_spare_parts`]).
    pub fn recycle_parts(&mut self, parts: Vec<Bytes>) {
        self.reassembler.recycle_parts(parts);
    }

    /// The counters so far.
    pub fn stats(&self) -> RemuxInputStats {
        RemuxInputStats {
            bad_packets: self.bad_packets,
            dropped_objects: self.reassembler.drops().total(),
        }
    }
}

/// The output half of a remux: [`RemuxItem`]s in, new ASF out (the packetizer). See
/// [`RemuxInput`].
#[derive(Debug)]
pub struct RemuxOutput {
    opts: RemuxOptions,
    packetizer: Option<Packetizer>,
    creation_date: u64,
    /// Output of the [`Bytes`] methods before it is handed over.
    scratch: OutputBatch,
    /// Part lists of samples packetized, emptied, for [`RemuxOutput::take_spare_parts`].
    spare_parts: Vec<Vec<Bytes>>,
    bytes_written: u64,
}

/// Emptied part lists a [`RemuxOutput`] keeps for its input half at most.
const MAX_SPARE_PARTS: usize = 64;

impl RemuxOutput {
    /// An output half with these options (their `limits` are the input half's).
    pub fn new(opts: RemuxOptions) -> Self {
        RemuxOutput {
            opts,
            packetizer: None,
            creation_date: 0,
            scratch: OutputBatch::new(),
            spare_parts: Vec::new(),
            bytes_written: 0,
        }
    }

    /// Takes one item; writes whatever output is ready to `out`, as [`Bytes`] without copying:
    /// each packet as its parts (packet headers, then media data as slices of the input's
    /// objects, see [`PacketizerOptions::gather`]), in order.
    pub fn push_item(&mut self, item: RemuxItem, out: &mut dyn FnMut(Bytes)) -> Result<()> {
        let mut batch = core::mem::take(&mut self.scratch);
        let r = self.push_item_batch(item, &mut batch);
        batch.drain_parts(out);
        self.scratch = batch;
        r
    }

    /// As [`RemuxOutput::push_item`], with the output appended to `batch`: whole packets, for
    /// a writer that keeps them until it writes them (see [`OutputBatch`]).
    pub fn push_item_batch(&mut self, item: RemuxItem, batch: &mut OutputBatch) -> Result<()> {
        let before = batch.len();
        let r = self.push_item_inner(item, batch);
        self.bytes_written += (batch.len() - before) as u64;
        r
    }

    fn push_item_inner(&mut self, item: RemuxItem, batch: &mut OutputBatch) -> Result<()> {
        match item {
            RemuxItem::Header { header, info } => {
                if self.packetizer.is_some() {
                    return Err(Error::Unsupported("a second Header Object in the input"));
                }
                let profile = Profile::from_header(&header)?;
                self.creation_date = header.file_properties().map_or(0, |f| f.creation_date);
                let mut po = PacketizerOptions::new(self.opts.mode);
                po.packet_size = self.opts.packet_size.unwrap_or(info.packet_size);
                po.preroll = match self.opts.preroll {
                    Some(p) => p,
                    None => u32::try_from(info.preroll)
                        .map_err(|_| Error::Unsupported("input preroll over 2^32 ms"))?,
                };
                po.compressed_payloads = self.opts.compressed_payloads;
                // Packets go out as parts (see `OutputBatch`): media data is not copied.
                po.gather = true;
                let p = Packetizer::new(profile, po)?;
                let h = if self.opts.mode == Mode::File && !self.opts.seekable_output {
                    p.unseekable_header()?
                } else {
                    p.header()?
                };
                self.packetizer = Some(p);
                batch.push_bytes(h);
            }
            RemuxItem::Sample(mut s) => {
                let Some(p) = &mut self.packetizer else {
                    return Err(Error::Format(asf_format::Error::Malformed {
                        offset: 0,
                        object: "Data Object",
                        reason: "data packets before the Header Object",
                    }));
                };
                let before = batch.packets.len();
                let r = p.push_sample_parts_in_place(&mut s, &mut batch.packets);
                batch.count_packets_from(before, p.packet_size());
                if self.spare_parts.len() < MAX_SPARE_PARTS {
                    let mut parts = s.parts;
                    parts.clear();
                    self.spare_parts.push(parts);
                }
                match r {
                    Ok(()) => {}
                    // Objects of streams the header does not declare are dropped, as players do.
                    Err(Error::UnknownStream(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// An emptied part list of a sample packetized, if any: give it to the input half
    /// ([`RemuxInput::recycle_parts`]) and later media objects reuse it instead of allocating
    /// one. Optional.
    pub fn take_spare_parts(&mut self) -> Option<Vec<Bytes>> {
        self.spare_parts.pop()
    }

    /// Takes back a batch that has been written out, leaving it empty: the packets' buffers
    /// serve later packets ([`Packetizer::recycle`]). Optional (a batch may simply be
    /// cleared).
    pub fn recycle_batch(&mut self, batch: &mut OutputBatch) {
        if let Some(pz) = &mut self.packetizer {
            for p in batch.packets.drain(..) {
                pz.recycle(p);
            }
        }
        batch.clear();
    }

    /// Ends the output: writes the last packets and (file mode) the index objects, and returns
    /// the summary (with `input`'s counters) and the header fix-up.
    pub fn finish(
        &mut self,
        input: RemuxInputStats,
        out: &mut dyn FnMut(Bytes),
    ) -> Result<RemuxSummary> {
        let mut batch = core::mem::take(&mut self.scratch);
        let r = self.finish_batch(input, &mut batch);
        batch.drain_parts(out);
        self.scratch = batch;
        r
    }

    /// As [`RemuxOutput::finish`], with the output appended to `batch`.
    pub fn finish_batch(
        &mut self,
        input: RemuxInputStats,
        batch: &mut OutputBatch,
    ) -> Result<RemuxSummary> {
        let creation = self.opts.creation_date.unwrap_or(self.creation_date);
        let p = self
            .packetizer
            .as_mut()
            .ok_or(Error::InvalidArgument("the input has no Header Object"))?;
        let end = p.finish(creation)?;
        let stats = p.stats();
        let before = batch.len();
        let count_from = batch.packets.len();
        batch.packets.extend(end.packets);
        batch.count_packets_from(count_from, p.packet_size());
        batch.push_bytes(end.index_objects);
        self.bytes_written += (batch.len() - before) as u64;
        Ok(RemuxSummary {
            fixup: end.fixup,
            bytes_written: self.bytes_written,
            bad_packets: input.bad_packets,
            dropped_objects: input.dropped_objects,
            stats,
        })
    }
}

/// The streaming remuxer: a [`RemuxInput`] and a [`RemuxOutput`] run in turn. Call
/// [`Remuxer::push`] with input chunks as they come, then [`Remuxer::finish`].
#[derive(Debug)]
pub struct Remuxer {
    input: RemuxInput,
    output: RemuxOutput,
}

impl Remuxer {
    /// A remuxer with these options.
    pub fn new(opts: RemuxOptions) -> Self {
        Remuxer {
            input: RemuxInput::new(opts.limits),
            output: RemuxOutput::new(opts),
        }
    }

    /// Feeds input; writes whatever output is ready to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<()> {
        self.input.push(input);
        self.drain(&mut |b: Bytes| out(&b))
    }

    /// As [`Remuxer::push`], with the output handed over as [`Bytes`] (the packets without
    /// copying), so a caller can gather many and write them at once (`writev`) instead of
    /// copying each into a write buffer.
    pub fn push_owned(&mut self, input: &[u8], out: &mut dyn FnMut(Bytes)) -> Result<()> {
        self.input.push(input);
        self.drain(out)
    }

    /// As [`Remuxer::push_owned`] with the input taken as [`Bytes`]: packets inside the chunk
    /// are read as slices of it (see [`RemuxInput::push_bytes`]); only a packet straddling two
    /// chunks is copied.
    pub fn push_bytes(&mut self, input: Bytes, out: &mut dyn FnMut(Bytes)) -> Result<()> {
        self.input.push_bytes(input);
        self.drain(out)
    }

    /// As [`Remuxer::push_bytes`], with the output appended to `batch`: whole packets, for a
    /// writer that keeps them until it writes them, then gives them back
    /// ([`Remuxer::recycle_batch`]; see [`OutputBatch`]).
    pub fn push_bytes_batch(&mut self, input: Bytes, batch: &mut OutputBatch) -> Result<()> {
        self.input.push_bytes(input);
        self.drain_batch(batch)
    }

    /// Takes back a batch of output that has been written out, leaving it empty (see
    /// [`RemuxOutput::recycle_batch`]): the packetizer then allocates nothing per packet.
    pub fn recycle_batch(&mut self, batch: &mut OutputBatch) {
        self.output.recycle_batch(batch);
    }

    fn drain(&mut self, out: &mut dyn FnMut(Bytes)) -> Result<()> {
        while let Some(item) = self.input.poll_item()? {
            self.output.push_item(item, out)?;
            if let Some(parts) = self.output.take_spare_parts() {
                self.input.recycle_parts(parts);
            }
        }
        Ok(())
    }

    fn drain_batch(&mut self, batch: &mut OutputBatch) -> Result<()> {
        while let Some(item) = self.input.poll_item()? {
            self.output.push_item_batch(item, batch)?;
            if let Some(parts) = self.output.take_spare_parts() {
                self.input.recycle_parts(parts);
            }
        }
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
        self.input.finish();
        self.drain(out)?;
        self.output.finish(self.input.stats(), out)
    }

    /// As [`Remuxer::finish`], with the output appended to `batch` (see
    /// [`Remuxer::push_bytes_batch`]).
    pub fn finish_batch(&mut self, batch: &mut OutputBatch) -> Result<RemuxSummary> {
        self.input.finish();
        self.drain_batch(batch)?;
        self.output.finish_batch(self.input.stats(), batch)
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
