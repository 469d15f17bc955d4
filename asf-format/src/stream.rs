//! A sans-IO streaming reader for whole ASF files and live streams.
//!
//! Feed bytes as they arrive ([`StreamReader::feed`] / [`StreamReader::push`]), then call
//! [`StreamReader::poll_event`] until it returns `Ok(None)` (more input needed); at end of
//! input call [`StreamReader::finish`] and keep polling until [`Event::End`]. The events are
//! the same whatever the chunking of the input, down to one byte at a time.
//!
//! Events, in file order: [`Event::Header`] (the raw Header Object with the fields needed to
//! read packets), [`Event::DataObjectStart`], one [`Event::Packet`] per data packet,
//! [`Event::Index`] / [`Event::Other`] for the objects after the data, [`Event::Trailer`] for
//! FFmpeg's MMSH end marker, then [`Event::End`].
//!
//! Real files are not always tidy; the reader tolerates what players tolerate and says so:
//! bytes between objects that do not form an object (stale tag text, zero fill, a size field
//! below 24 or above [`Limits::max_object_size`]) come as [`Event::Junk`] (kept, with their
//! offset) and the reader resyncs at the next Data, index or Header Object GUID; a Data Object
//! size that runs past its packets into the next object, one that cuts a packet, and packets
//! after a Data Object that is too small each give one [`Event::Warning`] at the offset
//! concerned, and every packet is still delivered.
//!
//! Broadcast Data Objects (size 0 or 50, asf-format.md §1.1 / §3) have no length: their
//! packets run until the end of input or until a top-level index GUID starts where the next
//! packet would.
//!
//! Bounded buffering: the reader never waits for more than one object (bounded by
//! [`Limits::max_header_size`] / [`Limits::max_object_size`]) or one packet (bounded by
//! [`Limits::max_packet_size`]) or one [`MAX_JUNK_CHUNK`] of junk before producing an event;
//! a larger Header Object size is an error as soon as it is read. Input fed in advance is kept
//! until polled.
//!
//! ```no_run
//! use asf_format::Limits;
//! use asf_format::packet::PacketView;
//! use asf_format::stream::{Event, StreamReader};
//!
//! let file = std::fs::read("in.asf").expect("readable file");
//! let mut reader = StreamReader::new(Limits::default());
//! let mut packet_size = 0;
//! for chunk in file.chunks(4096) {
//!     reader.feed(chunk); // e.g. as bytes arrive from a socket
//!     while let Some(event) = reader.poll_event()? {
//!         match event {
//!             Event::Header { info, .. } => packet_size = info.packet_size,
//!             Event::Packet { offset, data } => {
//!                 let view = PacketView::parse(&data, packet_size, offset)?;
//!                 println!("{offset}: {} payloads", view.payload_count());
//!             }
//!             other => println!("{other:?}"),
//!         }
//!     }
//! }
//! reader.finish();
//! while let Some(event) = reader.poll_event()? {
//!     if event == Event::End {
//!         break;
//!     }
//! }
//! # Ok::<(), asf_format::Error>(())
//! ```

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::data::DataObjectHeader;
use crate::error::{Error, Result};
use crate::guid::Guid;
use crate::guids;
use crate::header::Header;
use crate::index::IndexObject;
use crate::limits::Limits;
use crate::packet::PacketView;

/// What the reader needs from the Header Object to read the data packets, read from the File
/// Properties Object (ASF 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderInfo {
    /// File ID.
    pub file_id: Guid,
    /// Data Packets Count (invalid when broadcasting).
    pub data_packets_count: u64,
    /// Preroll, ms.
    pub preroll: u64,
    /// File Properties flags (bit 0 Broadcast, bit 1 Seekable).
    pub flags: u32,
    /// The packet size (Minimum = Maximum Data Packet Size).
    pub packet_size: u32,
}

impl HeaderInfo {
    /// Reads the File Properties Object out of a whole Header Object (`raw`, absolute offset
    /// `base`). ASF 3.2: Minimum and Maximum Data Packet Size must be equal; that value is the
    /// packet size.
    pub fn from_header(raw: &[u8], base: u64, limits: &Limits) -> Result<Self> {
        let mut r = crate::reader::Reader::new(raw, base, "Header Object");
        r.bytes(30)?;
        while r.remaining() > 0 {
            let at = r.offset();
            let guid = r.guid()?;
            let size = r.u64()?;
            if size < 24 || size - 24 > r.remaining() as u64 {
                return Err(Error::Malformed {
                    offset: at + 16,
                    object: "Header Object",
                    reason: "child object size runs past the Header Object",
                });
            }
            let mut body = r.sub(size - 24, "File Properties Object")?;
            if guid != guids::FILE_PROPERTIES {
                continue;
            }
            let file_id = body.guid()?;
            body.bytes(16)?; // File Size, Creation Date
            let data_packets_count = body.u64()?;
            body.bytes(16)?; // Play Duration, Send Duration
            let preroll = body.u64()?;
            let flags = body.u32()?;
            let min = body.u32()?;
            let max = body.u32()?;
            if min != max || min == 0 {
                return Err(Error::Malformed {
                    offset: at + 92,
                    object: "File Properties Object",
                    reason: "minimum and maximum data packet sizes differ or are 0",
                });
            }
            if min > limits.max_packet_size {
                return Err(Error::LimitExceeded {
                    offset: at + 92,
                    object: "File Properties Object",
                    what: "data packet size",
                    value: u64::from(min),
                    limit: u64::from(limits.max_packet_size),
                });
            }
            return Ok(HeaderInfo {
                file_id,
                data_packets_count,
                preroll,
                flags,
                packet_size: min,
            });
        }
        Err(Error::Malformed {
            offset: base,
            object: "Header Object",
            reason: "no File Properties Object",
        })
    }

    /// Broadcast flag (File Properties bit 0).
    pub fn is_broadcast(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// One event of the streaming reader. Offsets are absolute, from the start of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The Header Object.
    Header {
        /// Offset of the object (0).
        offset: u64,
        /// The whole object, as read.
        raw: Bytes,
        /// Fields read from File Properties.
        info: HeaderInfo,
        /// The parsed object model (see [`crate::header::Header`]).
        header: Box<Header>,
    },
    /// The Data Object's 50-byte header; packets follow.
    DataObjectStart {
        /// Offset of the Data Object.
        offset: u64,
        /// Its header.
        header: DataObjectHeader,
    },
    /// One data packet (`packet_size` bytes; parse it with
    /// [`PacketView::parse`](crate::packet::PacketView::parse)).
    Packet {
        /// Offset of the packet.
        offset: u64,
        /// The packet's bytes.
        data: Bytes,
    },
    /// An index object after the data.
    Index {
        /// Offset of the object.
        offset: u64,
        /// The parsed object.
        index: IndexObject,
    },
    /// Any other top-level object, raw (including its 24-byte header).
    Other {
        /// Offset of the object.
        offset: u64,
        /// Its GUID.
        guid: Guid,
        /// The whole object.
        raw: Bytes,
    },
    /// FFmpeg's MMSH end chunk (`$E`, 12 bytes) that its `asf` muxer appends when the output
    /// is not seekable (asf-format.md §3: "FFmpeg's non-seekable output gets the `$E`
    /// trailer"). Not ASF; reported so callers can see it, not an error.
    Trailer {
        /// Offset of the trailer.
        offset: u64,
        /// Its bytes.
        data: Bytes,
    },
    /// Bytes between objects that do not form an object (stale tag text left by tag editors,
    /// zero fill, a damaged object header), kept so that nothing is lost. A warning, not an
    /// error: the reader resyncs at the next Data, index or Header Object GUID so that what
    /// follows is still read. The specification has no such bytes (ASF 3.1 / 5.1: objects
    /// follow each other); players differ (ffprobe rejects beets' `empty.wma`, whose Data
    /// Object sits 3852 bytes after the Header Object).
    Junk {
        /// Offset of the first skipped byte.
        offset: u64,
        /// The skipped bytes (at most [`MAX_JUNK_CHUNK`] per event; longer runs come as
        /// several events).
        data: Bytes,
        /// Why the bytes are not an object.
        reason: &'static str,
    },
    /// Something real files do that the specification does not allow, tolerated the way
    /// players tolerate it; the reader goes on. Given once where it starts.
    Warning {
        /// Absolute offset concerned.
        offset: u64,
        /// What was tolerated.
        reason: &'static str,
    },
    /// End of input, after everything.
    End,
}

/// The largest run of junk one [`Event::Junk`] carries (the reader never buffers more than
/// this plus 15 bytes while looking for the next object GUID).
pub const MAX_JUNK_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    TopLevel,
    /// Packets of the Data Object; `Some(bytes left)` when bounded.
    Packets(Option<u64>),
    Ended,
}

/// The sans-IO streaming reader. See the module documentation for the call order.
#[derive(Debug)]
pub struct StreamReader {
    limits: Limits,
    buf: InputBuf,
    /// Input given with [`StreamReader::push`] while `buf` still held bytes, in order: moved
    /// into `buf` when the events need it (see [`StreamReader::refill`]).
    queued: VecDeque<Bytes>,
    offset: u64,
    state: State,
    packet_size: u32,
    /// [`StreamReader::finish`] was called.
    input_ended: bool,
    /// No more input: `input_ended` and nothing queued (what the event logic looks at).
    finished: bool,
    error: Option<Error>,
    /// At top level right after a Data Object's packets: data packets may still follow
    /// (a Data Object whose size is too small).
    after_packets: bool,
    /// Whether [`Event::Warning`] for stray packets was given already.
    warned_stray: bool,
    /// First byte and Property Flags of the last data packet: packets after a Data Object
    /// that is too small are recognised by these (writers keep them constant).
    packet_signature: Option<(u8, u8)>,
}

/// The reader's buffer. A chunk given with [`StreamReader::push`] is read in place (`Shared`:
/// events are slices of it) until bytes must be appended to what is left of it (a packet
/// straddling two chunks, or [`StreamReader::feed`]); it is then copied once into an `Owned`
/// buffer. Converting a shared chunk to `BytesMut` would copy it whenever it is not a
/// uniquely owned `Vec` (a memory-mapped file, say), so it is never converted.
#[derive(Debug)]
enum InputBuf {
    Owned(BytesMut),
    Shared(Bytes),
}

impl core::ops::Deref for InputBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            InputBuf::Owned(b) => b,
            InputBuf::Shared(b) => b,
        }
    }
}

impl InputBuf {
    fn extend_from_slice(&mut self, data: &[u8]) {
        match self {
            InputBuf::Owned(b) => b.extend_from_slice(data),
            InputBuf::Shared(b) => {
                let mut owned = BytesMut::with_capacity(b.len() + data.len());
                owned.extend_from_slice(b);
                owned.extend_from_slice(data);
                *self = InputBuf::Owned(owned);
            }
        }
    }

    /// The first `n` bytes, removed from the buffer (`n <= len`).
    fn split_to(&mut self, n: usize) -> Bytes {
        match self {
            InputBuf::Owned(b) => b.split_to(n).freeze(),
            InputBuf::Shared(b) => b.split_to(n),
        }
    }
}

/// MMSH chunk type `$E` (0x4524, little-endian `24 45`).
const MMSH_END: [u8; 2] = [0x24, 0x45];

impl StreamReader {
    /// A reader with these limits.
    pub fn new(limits: Limits) -> Self {
        StreamReader {
            limits,
            buf: InputBuf::Shared(Bytes::new()),
            queued: VecDeque::new(),
            offset: 0,
            state: State::Header,
            packet_size: 0,
            input_ended: false,
            finished: false,
            error: None,
            after_packets: false,
            warned_stray: false,
            packet_signature: None,
        }
    }

    /// Appends input (copied).
    pub fn feed(&mut self, data: &[u8]) {
        if self.queued.is_empty() {
            self.buf.extend_from_slice(data);
        } else {
            self.queued.push_back(Bytes::copy_from_slice(data));
        }
    }

    /// Appends input given as [`Bytes`], without copying it where it can: packets that lie
    /// within one pushed chunk are handed out as slices of it; only a packet that straddles two
    /// chunks is copied (so a file read in large chunks is not copied at all, but for one packet
    /// per chunk). Any kind of [`Bytes`] is read in place, including one shared with other
    /// handles or backed by an owner such as a memory map ([`Bytes::from_owner`]).
    pub fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        if self.buf.is_empty() && self.queued.is_empty() {
            self.buf = InputBuf::Shared(data);
        } else {
            self.queued.push_back(data);
        }
    }

    /// Declares the end of input.
    pub fn finish(&mut self) {
        self.input_ended = true;
    }

    /// Bytes fed but not yet consumed by an event.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.queued.iter().map(Bytes::len).sum::<usize>()
    }

    /// Moves queued input into the buffer: the whole next chunk when the buffer is empty
    /// (no copy), else, between data packets, only the bytes that complete the packet in the
    /// buffer (so it empties and the rest of the chunk comes without copying), else the whole
    /// chunk (copied). Moves at least one byte when anything is queued.
    fn refill(&mut self) {
        let Some(mut next) = self.queued.pop_front() else {
            return;
        };
        if self.buf.is_empty() {
            self.buf = InputBuf::Shared(next);
            return;
        }
        let ps = self.packet_size as usize;
        let k = if matches!(self.state, State::Packets(_)) && ps > self.buf.len() {
            (ps - self.buf.len()).min(next.len())
        } else {
            next.len()
        };
        self.buf.extend_from_slice(&next[..k]);
        next.advance(k);
        if !next.is_empty() {
            self.queued.push_front(next);
        }
    }

    /// Absolute offset of the next unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The packet size, once the header was read (0 before).
    pub fn packet_size(&self) -> u32 {
        self.packet_size
    }

    fn take(&mut self, n: usize) -> Bytes {
        self.offset += n as u64;
        self.buf.split_to(n)
    }

    fn truncated(&self, object: &'static str, needed: usize) -> Error {
        Error::Truncated {
            offset: self.offset + self.buf.len() as u64,
            object,
            needed: (needed - self.buf.len()) as u64,
        }
    }

    /// The next event: `Ok(None)` when more input is needed. After an error the reader stays
    /// failed and returns the same error again.
    pub fn poll_event(&mut self) -> Result<Option<Event>> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let r = loop {
            self.finished = self.input_ended && self.queued.is_empty();
            match self.step() {
                // The buffer holds too little for the next event: take queued input.
                Ok(None) if !self.queued.is_empty() => self.refill(),
                r => break r,
            }
        };
        if let Err(e) = &r {
            self.error = Some(e.clone());
        }
        r
    }

    fn step(&mut self) -> Result<Option<Event>> {
        loop {
            match self.state {
                State::Ended => return Ok(None),
                State::Header => return self.read_header(),
                State::TopLevel => return self.read_top_level(),
                State::Packets(Some(0)) => self.end_of_packets(),
                State::Packets(Some(left)) => {
                    let ps = self.packet_size as usize;
                    if left >= 16 && self.buf.len() < 16 {
                        return self.need("data packet", ps);
                    }
                    if left >= 16 && self.starts_top_level() {
                        // ASF 5.1: the Object Size covers the packets; here it runs past them
                        // into the next object. We stop at the GUID (as for broadcast Data
                        // Objects) rather than hand out the index as packets.
                        self.end_of_packets();
                        return Ok(Some(Event::Warning {
                            offset: self.offset,
                            reason: "Data Object size runs past its packets into the next object",
                        }));
                    }
                    if left < ps as u64 {
                        // ASF 5.1: the Data Object holds whole packets. The declared end cuts a
                        // packet: read on, packet by packet (see `read_top_level`).
                        self.end_of_packets();
                        return Ok(Some(Event::Warning {
                            offset: self.offset,
                            reason: "Data Object size is not 50 + a whole number of packets",
                        }));
                    }
                    if self.buf.len() < ps {
                        return self.need("data packet", ps);
                    }
                    self.state = State::Packets(Some(left - ps as u64));
                    return Ok(Some(self.packet(ps)));
                }
                State::Packets(None) => {
                    let ps = self.packet_size as usize;
                    let look = ps.max(16);
                    if self.buf.len() < look {
                        if !self.finished {
                            return Ok(None);
                        }
                        if self.buf.is_empty() || self.starts_top_level() || self.is_trailer() {
                            self.end_of_packets();
                            continue;
                        }
                        if self.buf.len() >= ps {
                            // ps < 16: a last packet shorter than a GUID.
                            return Ok(Some(self.packet(ps)));
                        }
                        return Err(self.truncated("data packet", ps));
                    }
                    if self.starts_top_level() {
                        self.end_of_packets();
                        continue;
                    }
                    return Ok(Some(self.packet(ps)));
                }
            }
        }
    }

    /// The next `n` bytes as a data packet, remembering its signature.
    fn packet(&mut self, n: usize) -> Event {
        let offset = self.offset;
        let data = self.take(n);
        self.packet_signature = packet_signature(&data);
        Event::Packet { offset, data }
    }

    fn end_of_packets(&mut self) {
        self.state = State::TopLevel;
        self.after_packets = true;
    }

    fn need(&self, object: &'static str, n: usize) -> Result<Option<Event>> {
        if self.finished {
            Err(self.truncated(object, n))
        } else {
            Ok(None)
        }
    }

    /// Whether the buffered bytes start with a top-level object GUID that can follow the data
    /// of a broadcast Data Object (an index object, or a new Header/Data Object).
    fn starts_top_level(&self) -> bool {
        starts_top_level(&self.buf)
    }

    /// The fast path for a consumer of data packets (a remuxer): while the reader is among a
    /// Data Object's packets and its buffer holds whole packets of one pushed chunk, hands
    /// each packet to `f` as its absolute offset, that chunk, and the packet's bytes (a slice
    /// of the chunk, so a consumer can keep parts of it with [`Bytes::slice_ref`]) — exactly
    /// the packets [`StreamReader::poll_event`] would give as [`Event::Packet`], without
    /// making a [`Bytes`] and an event of each. Stops when `f` returns `false`, after `max`
    /// packets, or where anything but a whole packet comes next (the end of the Data Object,
    /// a packet straddling two chunks, a top-level object, an error): [`StreamReader::poll_event`]
    /// then goes on from there. Returns the number of packets given.
    pub fn poll_packets(
        &mut self,
        max: usize,
        mut f: impl FnMut(u64, &Bytes, &[u8]) -> bool,
    ) -> usize {
        let ps = self.packet_size as usize;
        // Packets shorter than a GUID take the careful path (`step`).
        if self.error.is_some() || ps < 16 {
            return 0;
        }
        let InputBuf::Shared(chunk) = &self.buf else {
            return 0;
        };
        let mut left = match self.state {
            State::Packets(left) => left,
            _ => return 0,
        };
        let (mut pos, mut n) = (0usize, 0usize);
        while n < max {
            // As `step`: a whole packet that is not a top-level object GUID, within the Data
            // Object's declared size when it has one.
            let Some(packet) = chunk.get(pos..pos + ps) else {
                break;
            };
            if left.is_some_and(|l| l < ps as u64) || starts_top_level(packet) {
                break;
            }
            left = left.map(|l| l - ps as u64);
            n += 1;
            let go_on = f(self.offset + pos as u64, chunk, packet);
            pos += ps;
            if !go_on {
                break;
            }
        }
        if n > 0 {
            self.packet_signature = packet_signature(&chunk[pos - ps..pos]);
            self.offset += pos as u64;
            self.state = State::Packets(left);
            if let InputBuf::Shared(b) = &mut self.buf {
                b.advance(pos);
            }
        }
        n
    }

    fn is_trailer(&self) -> bool {
        self.finished && self.buf.len() < 24 && self.buf.starts_with(&MMSH_END)
    }

    fn read_header(&mut self) -> Result<Option<Event>> {
        if self.buf.len() < 24 {
            return self.need("Header Object", 24);
        }
        let mut h = &self.buf[..24];
        let mut g = [0u8; 16];
        h.copy_to_slice(&mut g);
        let size = h.get_u64_le();
        if Guid(g) != guids::HEADER {
            return Err(Error::Malformed {
                offset: self.offset,
                object: "Header Object",
                reason: "input does not start with the Header Object GUID",
            });
        }
        if size < 30 {
            return Err(Error::Malformed {
                offset: self.offset + 16,
                object: "Header Object",
                reason: "object size is smaller than 30 bytes",
            });
        }
        if size > self.limits.max_header_size {
            return Err(Error::LimitExceeded {
                offset: self.offset + 16,
                object: "Header Object",
                what: "object size",
                value: size,
                limit: self.limits.max_header_size,
            });
        }
        let size = size as usize;
        if self.buf.len() < size {
            return self.need("Header Object", size);
        }
        let info = HeaderInfo::from_header(&self.buf[..size], self.offset, &self.limits)?;
        let (header, _) = Header::parse_header(&self.buf[..size], self.offset, &self.limits)?;
        self.packet_size = info.packet_size;
        let offset = self.offset;
        let raw = self.take(size);
        self.state = State::TopLevel;
        Ok(Some(Event::Header {
            offset,
            raw,
            info,
            header: Box::new(header),
        }))
    }

    fn read_top_level(&mut self) -> Result<Option<Event>> {
        if self.buf.len() < 24 {
            if self.finished {
                if self.buf.is_empty() {
                    self.state = State::Ended;
                    return Ok(Some(Event::End));
                }
                if self.is_trailer() {
                    let offset = self.offset;
                    let data = self.take(self.buf.len());
                    return Ok(Some(Event::Trailer { offset, data }));
                }
                // Fewer bytes than an object header after the last object: kept as junk
                // (stale bytes, or an object cut by the end of the input), as the whole-file
                // parser keeps them.
                let offset = self.offset;
                let data = self.take(self.buf.len());
                self.after_packets = false;
                return Ok(Some(Event::Junk {
                    offset,
                    data,
                    reason: "fewer bytes than an object header at the end of the input",
                }));
            }
            return self.need("object header", 24);
        }
        let mut h = &self.buf[..24];
        let mut g = [0u8; 16];
        h.copy_to_slice(&mut g);
        let guid = Guid(g);
        let size = h.get_u64_le();
        if guid == guids::DATA {
            if self.buf.len() < DataObjectHeader::LEN {
                return self.need("Data Object", DataObjectHeader::LEN);
            }
            let header = DataObjectHeader::parse(&self.buf[..DataObjectHeader::LEN], self.offset)?;
            let offset = self.offset;
            self.take(DataObjectHeader::LEN);
            self.state = State::Packets(header.packets_len());
            return Ok(Some(Event::DataObjectStart { offset, header }));
        }
        let known = guids::name_of(&guid);
        let plausible = size >= 24 && size <= self.limits.max_object_size;
        if !(plausible && known.is_some()) && self.after_packets {
            if let Some(event) = self.stray_packet()? {
                return Ok(Some(event));
            }
            if self.buf.len() < self.packet_size as usize && !self.finished {
                return Ok(None);
            }
        }
        self.after_packets = false;
        if !plausible {
            return self.junk(if size < 24 {
                "object size is smaller than the 24-byte object header"
            } else {
                "object size is larger than the object size limit"
            });
        }
        let name = known.unwrap_or("unknown object");
        let size = size as usize;
        if self.buf.len() < size {
            if self.finished && known.is_none() {
                return self.junk("unknown GUID whose object size runs past the end of the input");
            }
            return self.need(name, size);
        }
        if known.is_none() && find_resync_guid(&self.buf[1..size]).is_some() {
            return self.junk("unknown GUID whose object size covers a Data, index or Header GUID");
        }
        let offset = self.offset;
        if let Some((index, _)) = IndexObject::parse(&self.buf[..size], offset, &self.limits)? {
            self.take(size);
            return Ok(Some(Event::Index { offset, index }));
        }
        let raw = self.take(size);
        Ok(Some(Event::Other { offset, guid, raw }))
    }

    /// After a Data Object whose declared size was too small: the next `packet_size` bytes, as
    /// a packet, when they look like this file's packets (same first byte and Property Flags
    /// as the last one) and parse. FFmpeg's asfdec stops at the declared size and so loses
    /// them; we deliver them after an [`Event::Warning`] so that nothing is dropped silently
    /// and the caller decides. `None` when they do not (or are not all there yet).
    fn stray_packet(&mut self) -> Result<Option<Event>> {
        let ps = self.packet_size as usize;
        if ps == 0
            || self.buf.len() < ps
            || self.packet_signature.is_none()
            || packet_signature(&self.buf[..ps]) != self.packet_signature
            || PacketView::parse(&self.buf[..ps], self.packet_size, self.offset).is_err()
        {
            return Ok(None);
        }
        if !self.warned_stray {
            self.warned_stray = true;
            return Ok(Some(Event::Warning {
                offset: self.offset,
                reason: "data packets after the end of the Data Object (its size is too small)",
            }));
        }
        Ok(Some(self.packet(ps)))
    }

    /// Skips bytes that do not form an object up to the next Data, index or Header Object
    /// GUID (or the end of input), at most [`MAX_JUNK_CHUNK`] bytes per event. The event
    /// boundaries depend only on the bytes, never on how they were chunked.
    fn junk(&mut self, reason: &'static str) -> Result<Option<Event>> {
        let window = self.buf.len().min(MAX_JUNK_CHUNK + 15);
        let end = match find_resync_guid(&self.buf[1..window]) {
            Some(i) => 1 + i,
            None if self.buf.len() >= MAX_JUNK_CHUNK + 15 => MAX_JUNK_CHUNK,
            None if self.finished => self.buf.len(),
            None => return Ok(None),
        };
        let offset = self.offset;
        let data = self.take(end);
        Ok(Some(Event::Junk {
            offset,
            data,
            reason,
        }))
    }
}

/// Whether `b` starts with a top-level object GUID that can follow the data of a broadcast
/// Data Object (an index object, or a new Header/Data Object).
fn starts_top_level(b: &[u8]) -> bool {
    let Some(g) = b.get(..16) else {
        return false;
    };
    // Checked before every data packet: most packets are told apart by their first byte.
    if !IndexObject::could_start_guid(g[0])
        && g[0] != guids::HEADER.0[0]
        && g[0] != guids::DATA.0[0]
    {
        return false;
    }
    let mut a = [0u8; 16];
    a.copy_from_slice(g);
    let g = Guid(a);
    IndexObject::is_index_guid(&g) || g == guids::HEADER || g == guids::DATA
}

/// The first byte (Error Correction Flags, or Length Type Flags without error correction) and
/// the Property Flags byte of a data packet (ASF 5.2.1 / 5.2.2).
pub(crate) fn packet_signature(packet: &[u8]) -> Option<(u8, u8)> {
    let first = *packet.first()?;
    let at = if first & 0x80 != 0 {
        2 + usize::from(first & 0x0F)
    } else {
        1
    };
    Some((first, *packet.get(at)?))
}

/// Offset of the first Data, index or Header Object GUID in `b`: where a reader resyncs after
/// junk.
pub(crate) fn find_resync_guid(b: &[u8]) -> Option<usize> {
    b.windows(16).position(|w| {
        let mut a = [0u8; 16];
        a.copy_from_slice(w);
        let g = Guid(a);
        g == guids::DATA || g == guids::HEADER || IndexObject::is_index_guid(&g)
    })
}

/// Reads a whole input in one go: every event up to and including [`Event::End`].
pub fn read_all(input: &[u8], limits: Limits) -> Result<Vec<Event>> {
    read_chunks([input], limits)
}

/// Reads an input that arrives in `chunks` (polling after each, as a socket reader would):
/// every event up to and including [`Event::End`]. Gives the same events as [`read_all`] on
/// the concatenation, whatever the chunk boundaries.
pub fn read_chunks<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    limits: Limits,
) -> Result<Vec<Event>> {
    let mut r = StreamReader::new(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        r.feed(chunk);
        while let Some(e) = r.poll_event()? {
            out.push(e);
        }
    }
    r.finish();
    while let Some(e) = r.poll_event()? {
        let end = e == Event::End;
        out.push(e);
        if end {
            break;
        }
    }
    Ok(out)
}
