//! The packetizer: media samples in, fixed-size ASF data packets out.
//!
//! # Packet layout written (ASF 5.2, asf-format.md §2)
//!
//! | Bytes | Field |
//! |---|---|
//! | 3 | Error correction data `82 00 00` (as FFmpeg, VLC and WM writers emit) |
//! | 1 | Length Type Flags: multiple payloads bit, padding length type; no packet length, no sequence |
//! | 1 | Property Flags `0x5D`: replicated length BYTE, offset DWORD, object number BYTE, stream BYTE |
//! | 0/1/2 | Padding Length, width solved when the packet is finished (§2.6) |
//! | 4 | Send Time, ms |
//! | 2 | Duration, ms |
//! | 1 | Payload Flags (multiple payloads only): count, WORD payload lengths |
//!
//! then one payload (single-payload mode: for objects that fill a packet) or up to 63
//! payloads (multiple-payload mode), then zero padding.
//!
//! # Send times: the leaky bucket
//!
//! Each stream has a leaky bucket: it drains at the stream's bitrate and holds at most the
//! stream's buffer window worth of data. A packet's send time is the earliest time at which
//! (a) send times have not decreased, (b) every stream's bucket can take this packet's bytes of
//! that stream without overflowing, and (c) no payload is sent more than its stream's buffer
//! window before its presentation time. A packet is finished early rather than hold a payload
//! past its presentation time. For input that keeps to its declared bitrates every payload is
//! sent no later than its presentation time; payloads that cannot be are counted in
//! [`PacketizerStats::late_payloads`]. The bucket counts payload data bytes (the media rate the
//! profile declares), not packet overhead.
//!
//! # 32-bit times
//!
//! Send times and presentation times are 32-bit milliseconds on the wire (ASF 5.2.2), so they
//! wrap after 2^32 ms (about 49.7 days). The packetizer keeps every time as a 64-bit value and
//! writes the low 32 bits: the wire values wrap modulo 2^32 and stay monotonic modulo 2^32,
//! which readers that unwrap (the push sink's players re-sync on a new header) can follow.
//! Streams that must run longer than 49.7 days without such readers should start a new
//! presentation (a new header) before [`Packetizer::ms_until_wrap`] reaches 0.

use bytes::{BufMut, Bytes, BytesMut};

use crate::alloc::{PacketAllocator, PoolAllocator};
use crate::header::{FinalValues, HeaderFixup, build_header};
use crate::index::{IndexBuilder, KeyFrameSpan};
use crate::profile::{Profile, StreamKind};
use crate::{Error, Result};
use asf_format::object::AsfObject;

/// One media sample (one media object, a codec frame) to packetize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Stream number (declared in the profile).
    pub stream: u8,
    /// Presentation time in ms on the media timeline, *without* the preroll (the packetizer
    /// adds it: ASF 5.2.3.1 presentation times are shifted by the preroll).
    pub presentation_time: u64,
    /// Duration in ms (0 when unknown). Used for the packet Duration field and the play
    /// duration; never written per payload.
    pub duration: u32,
    /// A key frame (clean point): the payload key-frame bit (ASF 5.2.3.1).
    pub keyframe: bool,
    /// The media object. Must not be empty; at most 2^32 - 1 bytes.
    pub data: Bytes,
}

/// A sample whose media object is given as several pieces, in order (what a remuxer gets from
/// asf-format's reassembler with fragments kept): packetized exactly as the [`Sample`] holding
/// their concatenation, without joining them (with [`PacketizerOptions::gather`], pieces are
/// referenced, not copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleParts {
    /// Stream number (declared in the profile).
    pub stream: u8,
    /// Presentation time in ms, without the preroll (as [`Sample::presentation_time`]).
    pub presentation_time: u64,
    /// Duration in ms (0 when unknown).
    pub duration: u32,
    /// A key frame (clean point).
    pub keyframe: bool,
    /// The media object's bytes, in order. Together not empty; at most 2^32 - 1 bytes.
    pub parts: Vec<Bytes>,
}

/// Takes the first `len` bytes of `parts` (a media object in pieces, the bytes before them
/// already taken), calling `f` with each piece in order: a whole part is moved out (left
/// empty), the last one split (no copy either way).
fn take_front(parts: &mut [Bytes], mut len: usize, mut f: impl FnMut(Bytes)) {
    for part in parts.iter_mut() {
        if len == 0 {
            break;
        }
        if part.is_empty() {
            continue;
        }
        let piece = if part.len() <= len {
            core::mem::take(part)
        } else {
            part.split_to(len)
        };
        len -= piece.len();
        f(piece);
    }
}

/// Zero bytes that gathered packets take their padding from (the largest padding a packet of
/// [`MAX_PACKET_SIZE`] bytes can have).
static ZEROS: [u8; MAX_PACKET_SIZE as usize] = [0; MAX_PACKET_SIZE as usize];

/// Initial capacity of a gathered packet's buffer: its headers, and the media pieces too
/// small to gather (it grows when they need more).
const GATHER_BUFFER: usize = 256;

/// 2^52: every `f64` at least this large is a whole number.
const WHOLE_F64: f64 = 4_503_599_627_370_496.0;

/// `x.ceil()`, inlined. Without SSE4.1 (not in the x86-64 baseline) `f64::ceil` is a call into
/// libm, and the send-time schedule takes several per payload.
#[inline]
fn ceil(x: f64) -> f64 {
    // Infinities, NaN and anything this large are their own ceiling.
    if x.is_nan() || x.abs() >= WHOLE_F64 {
        return x;
    }
    let t = x as i64 as f64;
    if t < x { t + 1.0 } else { t }
}

/// `x.floor()`, inlined (see [`ceil`]).
#[inline]
fn floor(x: f64) -> f64 {
    if x.is_nan() || x.abs() >= WHOLE_F64 {
        return x;
    }
    let t = x as i64 as f64;
    if t > x { t - 1.0 } else { t }
}

/// Gathered-part lists a [`Packetizer`] keeps from recycled packets at most.
const MAX_SPARE_LISTS: usize = 1024;

/// Live (broadcast) or file output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A broadcast: header with the Broadcast flag and zero sizes, no index, never rewritten.
    Live,
    /// A file: header rewritten at the end ([`crate::HeaderFixup`]), indexes appended.
    File,
}

/// A sample without its data (what [`Sample`] and [`SampleParts`] share).
#[derive(Debug, Clone, Copy)]
struct SampleMeta {
    stream: u8,
    presentation_time: u64,
    duration: u32,
    keyframe: bool,
}

impl SampleMeta {
    fn new(stream: u8, presentation_time: u64, duration: u32, keyframe: bool) -> Self {
        SampleMeta {
            stream,
            presentation_time,
            duration,
            keyframe,
        }
    }
}

/// Packetizer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketizerOptions {
    /// Packet size in bytes, [`MIN_PACKET_SIZE`]..=[`MAX_PACKET_SIZE`].
    pub packet_size: u32,
    /// Preroll in ms: added to every presentation time (ASF 3.2).
    pub preroll: u32,
    /// Live or file.
    pub mode: Mode,
    /// Put runs of small objects (at most 255 bytes, same stream, evenly spaced times) into
    /// compressed payloads (ASF 5.2.3.3, asf-format.md §2.5).
    pub compressed_payloads: bool,
    /// File ID written to the header, Data Object and Simple Index (zero for deterministic
    /// output, as FFmpeg does).
    pub file_id: asf_format::Guid,
    /// Bytes of Padding Object reserved in the header (file mode writes one so metadata can be
    /// edited in place later; 0 writes none).
    pub header_padding: u32,
    /// Gather instead of copy: pieces of media objects of at least [`GATHER_MIN`] bytes are not
    /// copied into the packet buffer but kept as slices of the sample's [`Bytes`], and a packet
    /// is then a sequence of parts ([`Packet::parts`]) for a vectored write. For callers that
    /// write packets out with `writev` (a remux to a file or pipe); sinks that need each packet
    /// in one buffer leave it off (the default).
    pub gather: bool,
}

impl PacketizerOptions {
    /// Options for `mode` with FFmpeg's defaults: 3200-byte packets, 3100 ms preroll, no
    /// compressed payloads, zero File ID, 1 KiB of header padding in file mode.
    pub fn new(mode: Mode) -> Self {
        PacketizerOptions {
            packet_size: 3200,
            preroll: 3100,
            mode,
            compressed_payloads: false,
            file_id: asf_format::Guid([0; 16]),
            header_padding: if mode == Mode::File { 1024 } else { 0 },
            gather: false,
        }
    }
}

/// Smallest packet size accepted: a packet header, one single-payload header and some data.
pub const MIN_PACKET_SIZE: u32 = 64;
/// Largest packet size accepted: payload and padding lengths stay WORD-sized, which players
/// over WMSP require (asf-format.md §2.8, GStreamer's note on DWORD fields).
pub const MAX_PACKET_SIZE: u32 = 65_535;
/// With [`PacketizerOptions::gather`], pieces of media objects at least this large are referenced
/// instead of copied (smaller ones cost less to copy than an extra slice of a vectored write).
pub const GATHER_MIN: usize = 512;
/// At most 63 payloads per packet (ASF 5.2.2: 6-bit payload count).
pub const MAX_PAYLOADS: u8 = 63;

/// Packet header before the padding length field: EC data (3), length type flags, property
/// flags.
const HEAD: usize = 5;
/// Send time + duration.
const TIMES: usize = 6;
/// Single payload header: stream, object number, offset (DWORD), replicated length, 8 bytes
/// of replicated data.
const SINGLE_PAYLOAD_HEADER: usize = 15;
/// Multiple payload header: the single header plus a WORD payload length.
const MULTI_PAYLOAD_HEADER: usize = 17;
/// Compressed payload header: stream, object number, presentation time (DWORD), replicated
/// length (1), time delta, WORD payload length.
const COMPRESSED_PAYLOAD_HEADER: usize = 10;
/// ASF 5.2.2: the Property Flags every muxer writes (replicated data length BYTE, offset into
/// media object DWORD, media object number BYTE, stream number BYTE).
pub const PROPERTY_FLAGS: u8 = 0x5D;
/// The packet Duration field is a WORD: a packet never spans more (asf-format.md §2.7).
pub const MAX_PACKET_SPAN_MS: u64 = 65_535;

/// A set of stream numbers (1..=127).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamSet(pub u128);

impl StreamSet {
    /// Adds a stream.
    pub fn insert(&mut self, stream: u8) {
        self.0 |= 1u128 << (stream & 0x7F);
    }
    /// Whether the stream is in the set.
    pub fn contains(&self, stream: u8) -> bool {
        self.0 & (1u128 << (stream & 0x7F)) != 0
    }
    /// The streams, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0u8..128).filter(|&s| self.contains(s))
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// A finished data packet.
#[derive(Debug)]
pub struct Packet {
    /// The buffer from the allocator: `headroom` bytes, then exactly the packet (unless the
    /// packetizer gathers: then the packet without its gathered parts, see [`Packet::parts`]).
    pub buffer: BytesMut,
    /// Headroom in front of the packet.
    pub headroom: usize,
    /// Send time in ms (64-bit; the wire holds the low 32 bits).
    pub send_time: u64,
    /// The packet Duration field, ms.
    pub duration: u16,
    /// Index of the packet (0-based) since the packetizer was created.
    pub index: u64,
    /// True when the packet begins a key frame of a video stream, or the profile has no video
    /// and the packet begins a media object: a late joiner can start here.
    pub key_frame: bool,
    /// The streams with a payload in the packet.
    pub streams: StreamSet,
    /// Number of payloads.
    pub payload_count: u8,
    /// Video key frames whose last byte is in this packet, with the packets they span (what
    /// the index builders take).
    pub key_frames: Vec<KeyFrameSpan>,
    /// With [`PacketizerOptions::gather`]: media data left out of `buffer`, each part with the
    /// index in `buffer` before which it belongs, in order. Empty otherwise.
    gathered: Vec<(usize, Bytes)>,
}

impl Packet {
    /// The packet bytes (after the headroom), when the packet is in one buffer: always, unless
    /// the packetizer gathers ([`PacketizerOptions::gather`]); then see [`Packet::is_contiguous`]
    /// and [`Packet::parts`] (or [`Packet::into_bytes`], which joins the parts).
    pub fn bytes(&self) -> &[u8] {
        &self.buffer[self.headroom..]
    }

    /// The packet's length on the wire (the packet size), gathered parts included.
    pub fn wire_len(&self) -> usize {
        self.buffer.len() - self.headroom
            + self.gathered.iter().map(|(_, b)| b.len()).sum::<usize>()
    }

    /// Whether the whole packet is in `buffer` (no gathered parts).
    pub fn is_contiguous(&self) -> bool {
        self.gathered.is_empty()
    }

    /// The packet as a sequence of [`Bytes`] in wire order (one part for a contiguous packet),
    /// without copying: what a vectored write takes.
    pub fn parts(mut self, out: &mut dyn FnMut(Bytes)) {
        let mut rest = self.buffer.split_off(self.headroom).freeze();
        let mut at = self.headroom;
        for (before, part) in self.gathered.drain(..) {
            let head = rest.split_to(before - at);
            at = before;
            if !head.is_empty() {
                out(head);
            }
            out(part);
        }
        if !rest.is_empty() {
            out(rest);
        }
    }

    /// The packet's bytes in wire order as borrowed slices (one for a contiguous packet): what
    /// [`Packet::parts`] gives, without making a [`Bytes`] of each part. A writer that keeps
    /// the packets until they are written builds its `writev` list from these.
    pub fn for_each_slice<'a>(&'a self, f: &mut dyn FnMut(&'a [u8])) {
        self.slices(f);
    }

    /// [`Packet::for_each_slice`], monomorphised for the remuxer's hot path.
    pub(crate) fn slices<'a>(&'a self, mut f: impl FnMut(&'a [u8])) {
        let buf = &self.buffer[..];
        let mut at = self.headroom;
        for (before, part) in &self.gathered {
            if *before > at {
                f(&buf[at..*before]);
            }
            at = *before;
            f(part);
        }
        if buf.len() > at {
            f(&buf[at..]);
        }
    }

    /// The packet bytes as [`Bytes`] (the headroom dropped): without copying when the packet
    /// is contiguous, else its parts joined into a new buffer.
    pub fn into_bytes(mut self) -> Bytes {
        if self.gathered.is_empty() {
            return self.buffer.split_off(self.headroom).freeze();
        }
        let len = self.buffer.len() - self.headroom
            + self.gathered.iter().map(|(_, b)| b.len()).sum::<usize>();
        let mut joined = BytesMut::with_capacity(len);
        self.parts(&mut |b| joined.extend_from_slice(&b));
        joined.freeze()
    }
}

/// What [`Packetizer::finish`] returns.
#[derive(Debug)]
pub struct FileEnd {
    /// The last packet(s), to write after the others.
    pub packets: Vec<Packet>,
    /// File mode: bytes to write over the start of the output (the header with its final
    /// values). `None` in live mode.
    pub fixup: Option<HeaderFixup>,
    /// File mode: the index objects, to write right after the last packet.
    pub index_objects: Bytes,
}

/// Counters of a [`Packetizer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PacketizerStats {
    /// Samples taken.
    pub samples: u64,
    /// Packets emitted.
    pub packets: u64,
    /// Media bytes packetized.
    pub media_bytes: u64,
    /// Padding bytes written.
    pub padding_bytes: u64,
    /// Payloads sent after their presentation time (input exceeding its declared rate, or
    /// samples pushed far out of order).
    pub late_payloads: u64,
}

#[derive(Debug, Clone)]
struct StreamState {
    number: u8,
    audio: bool,
    video: bool,
    /// Media object number of the next object (BYTE on the wire: wraps at 256).
    next_object: u8,
    /// Bitrate in bits per ms.
    bits_per_ms: f64,
    /// Buffer window, ms.
    window: f64,
    /// Time (ms) at which the bucket is empty, given the packets sent so far.
    bucket_empty_at: f64,
    /// Key frame in progress: (presentation time, first packet).
    key_frame_start: Option<(u64, u64)>,
    /// Last presentation time and the one before, for the play duration.
    last_pt: Option<u64>,
    /// Largest media object, bytes.
    max_object: u32,
}

#[derive(Debug, Clone, Copy)]
struct CompressedRun {
    stream: u8,
    key: bool,
    first_pt: u64,
    count: u32,
    delta: u8,
    /// Offset (in the packet) of the WORD payload length.
    length_at: usize,
}

#[derive(Debug)]
struct OpenPacket {
    buf: BytesMut,
    headroom: usize,
    /// Gathered media data: (index in `buf` before which it belongs, the slice).
    gathered: Vec<(usize, Bytes)>,
    /// Bytes in `gathered`.
    gathered_len: usize,
    multiple: bool,
    count: u8,
    /// Header bytes before the first payload (without a padding length field).
    head_len: usize,
    min_pt: u64,
    max_end: u64,
    /// min over payloads of presentation time minus the stream's window.
    earliest_by_window: f64,
    /// min presentation time over payloads (the deadline).
    deadline: u64,
    /// max over streams of the bucket's earliest acceptable send time for this packet.
    earliest_by_bucket: f64,
    /// (stream index, media bytes) in this packet.
    stream_bytes: Vec<(usize, u32)>,
    streams: StreamSet,
    key_frame: bool,
    run: Option<CompressedRun>,
    key_frames: Vec<KeyFrameSpan>,
    payloads: u32,
}

impl OpenPacket {
    fn used(&self) -> usize {
        self.buf.len() - self.headroom + self.gathered_len
    }

    /// The packet's send time as it stands, ms: never before the previous packet
    /// (`last_send`), every stream's bucket has room, no payload earlier than its window
    /// before its presentation time.
    fn send_time(&self, last_send: u64) -> f64 {
        let mut send = last_send as f64;
        if self.earliest_by_bucket.is_finite() {
            send = send.max(ceil(self.earliest_by_bucket));
        }
        if self.earliest_by_window.is_finite() {
            send = send.max(floor(self.earliest_by_window));
        }
        send
    }
}

/// The packetizer. See the module documentation for the rules it applies.
///
/// Call order: [`Packetizer::new`], [`Packetizer::header`] (send it first), then
/// [`Packetizer::push_sample`] for each sample in presentation order per stream (streams
/// interleaved by time), then [`Packetizer::flush`] once at the end. In file mode
/// [`Packetizer::finish`] then gives the header fix-up and the index objects.
#[derive(Debug)]
pub struct Packetizer {
    profile: Profile,
    opts: PacketizerOptions,
    streams: Vec<StreamState>,
    /// stream number -> index into `streams` (+1; 0 = undeclared).
    lookup: [u8; 128],
    has_video: bool,
    open: Option<OpenPacket>,
    last_send: u64,
    next_index: u64,
    pool: PoolAllocator,
    /// The per-stream byte counts of the last finished packet, kept for the next one's (no
    /// allocation per packet).
    spare_stream_bytes: Vec<(usize, u32)>,
    /// Gathered-part lists of recycled packets ([`Packetizer::recycle`]), for the next ones.
    spare_gathered: Vec<Vec<(usize, Bytes)>>,
    stats: PacketizerStats,
    index: Option<IndexBuilder>,
    finished: bool,
    /// Largest presentation end seen (ms, with preroll).
    max_end: u64,
}

impl Packetizer {
    /// A packetizer for `profile` with `opts`. Fails if the profile is invalid
    /// ([`Profile::validate`]) or the packet size is out of range.
    pub fn new(profile: Profile, opts: PacketizerOptions) -> Result<Self> {
        profile.validate()?;
        if !(MIN_PACKET_SIZE..=MAX_PACKET_SIZE).contains(&opts.packet_size) {
            return Err(Error::InvalidArgument(
                "packet size must be 64..=65535 bytes",
            ));
        }
        let mut lookup = [0u8; 128];
        let mut streams = Vec::with_capacity(profile.streams.len());
        for (i, s) in profile.streams.iter().enumerate() {
            lookup[usize::from(s.number)] =
                u8::try_from(i + 1).expect("at most 127 streams: numbers are 1..=127 and distinct");
            streams.push(StreamState {
                number: s.number,
                audio: s.kind == StreamKind::Audio,
                video: s.kind == StreamKind::Video,
                next_object: 0,
                bits_per_ms: f64::from(s.bitrate) / 1000.0,
                window: f64::from(s.buffer_window),
                bucket_empty_at: 0.0,
                key_frame_start: None,
                last_pt: None,
                max_object: 0,
            });
        }
        let has_video = streams.iter().any(|s| s.video);
        let index = (opts.mode == Mode::File && has_video).then(|| {
            IndexBuilder::new(
                profile
                    .streams
                    .iter()
                    .filter(|s| s.is_video())
                    .map(|s| s.number)
                    .collect(),
                opts.packet_size,
            )
        });
        Ok(Packetizer {
            profile,
            opts,
            streams,
            lookup,
            has_video,
            open: None,
            last_send: 0,
            next_index: 0,
            pool: PoolAllocator::default(),
            spare_gathered: Vec::new(),
            spare_stream_bytes: Vec::new(),
            stats: PacketizerStats::default(),
            index,
            finished: false,
            max_end: 0,
        })
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The options.
    pub fn options(&self) -> &PacketizerOptions {
        &self.opts
    }

    /// The packet size.
    pub fn packet_size(&self) -> usize {
        self.opts.packet_size as usize
    }

    /// Counters.
    pub fn stats(&self) -> PacketizerStats {
        self.stats
    }

    /// Send time of the last emitted packet (ms).
    pub fn last_send_time(&self) -> u64 {
        self.last_send
    }

    /// The largest presentation time plus duration seen so far (ms, preroll included).
    pub fn presentation_end(&self) -> u64 {
        self.max_end
    }

    /// Milliseconds of presentation time left before the 32-bit wire times wrap (see the
    /// module documentation).
    pub fn ms_until_wrap(&self) -> u64 {
        (1u64 << 32).saturating_sub(self.max_end.max(self.last_send))
    }

    /// The index builder (file mode with video streams).
    pub fn index_builder(&self) -> Option<&IndexBuilder> {
        self.index.as_ref()
    }

    fn stream_index(&self, stream: u8) -> Result<usize> {
        match self.lookup.get(usize::from(stream)) {
            Some(&i) if i > 0 => Ok(usize::from(i - 1)),
            _ => Err(Error::UnknownStream(stream)),
        }
    }

    /// Packetizes one sample with buffers from the internal pool; appends every packet it
    /// finishes to `out`.
    pub fn push_sample(&mut self, sample: Sample, out: &mut Vec<Packet>) -> Result<()> {
        self.with_own_pool(|p, pool| p.push_sample_with(sample, pool, out))
    }

    /// Runs `f` with the internal pool as the allocator.
    fn with_own_pool<T>(&mut self, f: impl FnOnce(&mut Self, &mut PoolAllocator) -> T) -> T {
        let mut pool = core::mem::take(&mut self.pool);
        let r = f(self, &mut pool);
        self.pool = pool;
        r
    }

    /// Packetizes one sample with buffers from `alloc`; appends every packet it finishes to
    /// `out`.
    pub fn push_sample_with(
        &mut self,
        mut sample: Sample,
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<Packet>,
    ) -> Result<()> {
        let meta = SampleMeta::new(
            sample.stream,
            sample.presentation_time,
            sample.duration,
            sample.keyframe,
        );
        self.push_pieces(meta, core::slice::from_mut(&mut sample.data), alloc, out)
    }

    /// Packetizes one sample given in pieces ([`SampleParts`]) with buffers from the internal
    /// pool: the same packets as for the [`Sample`] of the pieces joined.
    pub fn push_sample_parts(&mut self, sample: SampleParts, out: &mut Vec<Packet>) -> Result<()> {
        self.with_own_pool(|p, pool| p.push_sample_parts_with(sample, pool, out))
    }

    /// As [`Packetizer::push_sample_parts`], with buffers from `alloc`.
    pub fn push_sample_parts_with(
        &mut self,
        mut sample: SampleParts,
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<Packet>,
    ) -> Result<()> {
        self.push_parts_taking(&mut sample, alloc, out)
    }

    /// As [`Packetizer::push_sample_parts`], leaving `sample.parts` with its parts taken (empty
    /// [`Bytes`]) so the caller can reuse the list.
    pub(crate) fn push_sample_parts_in_place(
        &mut self,
        sample: &mut SampleParts,
        out: &mut Vec<Packet>,
    ) -> Result<()> {
        self.with_own_pool(|p, pool| p.push_parts_taking(sample, pool, out))
    }

    /// Packetizes `sample`, taking its parts (see [`take_front`]).
    fn push_parts_taking(
        &mut self,
        sample: &mut SampleParts,
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<Packet>,
    ) -> Result<()> {
        let meta = SampleMeta::new(
            sample.stream,
            sample.presentation_time,
            sample.duration,
            sample.keyframe,
        );
        self.push_pieces(meta, &mut sample.parts, alloc, out)
    }

    /// Packetizes a sample given as `parts`, taking them as it goes (see [`take_front`]).
    fn push_pieces(
        &mut self,
        sample: SampleMeta,
        parts: &mut [Bytes],
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<Packet>,
    ) -> Result<()> {
        if self.finished {
            return Err(Error::Finished);
        }
        let si = self.stream_index(sample.stream)?;
        let len: usize = parts.iter().map(Bytes::len).sum();
        if len == 0 {
            return Err(Error::InvalidArgument("a sample must not be empty"));
        }
        let total = u32::try_from(len).map_err(|_| {
            Error::InvalidArgument("a sample is larger than 2^32 - 1 bytes (ASF 5.2.3.1)")
        })?;
        let pt = sample
            .presentation_time
            .checked_add(u64::from(self.opts.preroll))
            .ok_or(Error::InvalidArgument("presentation time overflows"))?;
        let end = pt.saturating_add(u64::from(sample.duration));
        self.stats.samples += 1;
        self.stats.media_bytes += u64::from(total);
        {
            // Play duration: a sample without a duration is taken to last as long as the
            // interval before it on its stream (capped at 10 s).
            let st = &mut self.streams[si];
            let estimated = if sample.duration > 0 {
                end
            } else {
                pt + st.last_pt.map_or(0, |l| pt.saturating_sub(l).min(10_000))
            };
            self.max_end = self.max_end.max(estimated);
            st.last_pt = Some(pt);
            st.max_object = st.max_object.max(total);
        }
        let object = self.streams[si].next_object;
        self.streams[si].next_object = object.wrapping_add(1);
        let key = sample.keyframe;
        let ps = self.packet_size();
        let multi_capacity = ps - HEAD - TIMES - 1 - MULTI_PAYLOAD_HEADER;
        let single_capacity = ps - HEAD - TIMES - SINGLE_PAYLOAD_HEADER;
        let audio = self.streams[si].audio;
        let mut offset = 0usize;
        let total = total as usize;

        // Compressed payloads: extend the run at the end of the open packet, or start one.
        let fresh_room = ps - HEAD - TIMES - 1;
        if self.opts.compressed_payloads
            && total <= 255
            && total + COMPRESSED_PAYLOAD_HEADER < fresh_room
        {
            // At most 255 bytes: pieces are joined on the stack.
            let mut joined = [0u8; 255];
            let mut n = 0;
            for p in parts.iter() {
                joined[n..n + p.len()].copy_from_slice(p);
                n += p.len();
            }
            let data = &joined[..n];
            if self.try_extend_run(si, pt, end, key, data) {
                return Ok(());
            }
            if self.open.as_ref().is_some_and(|o| !o.multiple) {
                self.finish_packet(out);
            }
            if self.open.is_none() {
                self.open_packet(alloc, true);
            }
            if !self.fits_compressed(si, pt, total) {
                self.finish_packet(out);
                self.open_packet(alloc, true);
            }
            // A fresh packet has room (checked above) and nothing to be late against.
            self.write_compressed(si, object, pt, end, key, data);
            return Ok(());
        }

        loop {
            let remaining = total - offset;
            let Some(open) = &self.open else {
                if remaining > multi_capacity {
                    // FFmpeg's rule (asf-format.md §2.6): an object that does not fit a
                    // multiple-payload packet goes in single-payload packets, each flushed.
                    let n = remaining.min(single_capacity);
                    self.open_packet(alloc, false);
                    self.write_payload(si, object, pt, end, key, offset, total, parts, n);
                    offset += n;
                    self.finish_packet(out);
                    if offset == total {
                        return Ok(());
                    }
                } else {
                    self.open_packet(alloc, true);
                }
                continue;
            };
            let space = (ps - open.used()).saturating_sub(MULTI_PAYLOAD_HEADER);
            let piece = remaining.min(space);
            if open.count >= MAX_PAYLOADS
                || space == 0
                || self.breaks_span(pt, end)
                || self.would_be_late(si, pt, piece)
            {
                if open.count == 0 {
                    // Nothing to flush: place it anyway (a late payload is counted).
                } else {
                    self.finish_packet(out);
                    continue;
                }
            }
            if remaining <= space {
                self.write_payload(si, object, pt, end, key, offset, total, parts, remaining);
                return Ok(());
            }
            // Does not fit. ASF players dislike split audio frames (VLC: "WMP doesn't like
            // split WMA packets"; FFmpeg flushes for all audio): start a new packet unless the
            // frame is larger than a packet anyway.
            if audio && offset == 0 && total <= multi_capacity && open.count > 0 {
                self.finish_packet(out);
                continue;
            }
            self.write_payload(si, object, pt, end, key, offset, total, parts, space);
            offset += space;
            self.finish_packet(out);
        }
    }

    /// Whether adding a payload at `pt`..`end` to the open packet would make it span more than
    /// the WORD Duration field holds (asf-format.md §2.7, FFmpeg's 65535 ms rule).
    fn breaks_span(&self, pt: u64, end: u64) -> bool {
        let Some(open) = &self.open else { return false };
        if open.count == 0 {
            return false;
        }
        let lo = open.min_pt.min(pt);
        let hi = open.max_end.max(end);
        hi - lo > MAX_PACKET_SPAN_MS
    }

    /// Whether adding `bytes` of stream `si` at presentation time `pt` to the open packet would
    /// push its send time past a payload's presentation time.
    fn would_be_late(&self, si: usize, pt: u64, bytes: usize) -> bool {
        let Some(open) = &self.open else { return false };
        if open.count == 0 {
            return false;
        }
        let st = &self.streams[si];
        let already = open
            .stream_bytes
            .iter()
            .find(|(i, _)| *i == si)
            .map_or(0, |(_, b)| *b);
        // One packet never carries more of a stream than its buffer window holds: no send
        // time makes that fit (the bucket cannot drain below empty), so the piece goes to the
        // next packet. (Found by the `schedule` proptest: a 16 kb/s stream with a 500 ms
        // window, 1,000 bytes, in 13,102-byte packets.)
        if (f64::from(already) + bytes as f64) * 8.0 / st.bits_per_ms > st.window {
            return true;
        }
        let bucket = st.bucket_empty_at
            + (f64::from(already) + bytes as f64) * 8.0 / st.bits_per_ms
            - st.window;
        let earliest = ceil(open.earliest_by_bucket.max(bucket));
        let by_window = floor(open.earliest_by_window.min(pt as f64 - st.window));
        let send = (self.last_send as f64).max(earliest).max(by_window);
        if send <= open.deadline.min(pt) as f64 {
            return false;
        }
        // Finishing the packet early only helps if the piece is on time in the next packet.
        // When the input exceeds its declared rate (FFmpeg declares the codec's nominal
        // bitrate; real streams run over it) the bucket is behind and the piece is late
        // wherever it goes: finishing early would then only add padding (one payload per
        // packet, 17 % more bytes on a 4 Mb/s WMV2 file) without making anything on time.
        // Pack it, as FFmpeg does; the late payloads are counted.
        let open_send = open.send_time(self.last_send);
        let drained = st.bucket_empty_at.max(open_send) + f64::from(already) * 8.0 / st.bits_per_ms;
        let fresh = open_send
            .max(ceil(
                drained + bytes as f64 * 8.0 / st.bits_per_ms - st.window,
            ))
            .max(floor(pt as f64 - st.window));
        fresh <= pt as f64
    }

    fn open_packet(&mut self, alloc: &mut dyn PacketAllocator, multiple: bool) {
        let ps = self.packet_size();
        let capacity = if self.opts.gather {
            GATHER_BUFFER.min(ps)
        } else {
            ps
        };
        let mut buf = alloc.allocate(capacity);
        let headroom = buf.len();
        buf.reserve(capacity);
        let head_len = HEAD + TIMES + usize::from(multiple);
        // Placeholder header, written for real by `finish_packet`.
        buf.put_bytes(0, head_len);
        self.open = Some(OpenPacket {
            buf,
            headroom,
            // Typically a piece or two of media data and the padding.
            gathered: if self.opts.gather {
                self.spare_gathered
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(4))
            } else {
                Vec::new()
            },
            gathered_len: 0,
            multiple,
            count: 0,
            head_len,
            min_pt: u64::MAX,
            max_end: 0,
            earliest_by_window: f64::INFINITY,
            deadline: u64::MAX,
            earliest_by_bucket: f64::NEG_INFINITY,
            stream_bytes: core::mem::take(&mut self.spare_stream_bytes),
            streams: StreamSet::default(),
            key_frame: false,
            run: None,
            key_frames: Vec::new(),
            payloads: 0,
        });
    }

    /// Bookkeeping shared by every payload written into the open packet.
    #[allow(clippy::too_many_arguments)]
    fn account(
        &mut self,
        si: usize,
        pt: u64,
        end: u64,
        bytes: usize,
        starts_object: bool,
        key: bool,
        ends_object: bool,
    ) {
        let index = self.next_index;
        let has_video = self.has_video;
        let st = &mut self.streams[si];
        let open = self
            .open
            .as_mut()
            .expect("a payload is written into an open packet");
        open.count += 1;
        open.payloads += 1;
        open.min_pt = open.min_pt.min(pt);
        open.max_end = open.max_end.max(end);
        open.deadline = open.deadline.min(pt);
        open.earliest_by_window = open.earliest_by_window.min(pt as f64 - st.window);
        let b = u32::try_from(bytes).unwrap_or(u32::MAX);
        let total = match open.stream_bytes.iter_mut().find(|(i, _)| *i == si) {
            Some(e) => {
                e.1 += b;
                e.1
            }
            None => {
                open.stream_bytes.push((si, b));
                b
            }
        };
        let bucket = st.bucket_empty_at + f64::from(total) * 8.0 / st.bits_per_ms - st.window;
        open.earliest_by_bucket = open.earliest_by_bucket.max(bucket);
        open.streams.insert(st.number);
        if starts_object && ((st.video && key) || (!has_video && !st.video)) {
            open.key_frame = true;
        }
        if st.video && key {
            if starts_object {
                st.key_frame_start = Some((pt, index));
            }
            if ends_object && let Some((kpt, first)) = st.key_frame_start.take() {
                open.key_frames.push(KeyFrameSpan {
                    stream: st.number,
                    presentation_time: kpt,
                    first_packet: first,
                    packet_count: u32::try_from(index - first + 1).unwrap_or(u32::MAX),
                });
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn write_payload(
        &mut self,
        si: usize,
        object: u8,
        pt: u64,
        end: u64,
        key: bool,
        offset: usize,
        total: usize,
        parts: &mut [Bytes],
        len: usize,
    ) {
        let number = self.streams[si].number;
        let gather = self.opts.gather && len >= GATHER_MIN;
        let open = self
            .open
            .as_mut()
            .expect("a payload is written into an open packet");
        open.run = None;
        let buf = &mut open.buf;
        // ASF 5.2.3.1: stream number with the key-frame bit, media object number, offset into
        // the media object, replicated data (object size, presentation time).
        buf.put_u8(number | if key { 0x80 } else { 0 });
        buf.put_u8(object);
        buf.put_u32_le(offset as u32);
        buf.put_u8(8);
        buf.put_u32_le(total as u32);
        buf.put_u32_le(pt as u32);
        if open.multiple {
            buf.put_u16_le(len as u16);
        }
        // The object's bytes before `offset` were taken by the payloads before this one.
        if gather {
            let at = buf.len();
            take_front(parts, len, |p| open.gathered.push((at, p)));
            open.gathered_len += len;
        } else {
            take_front(parts, len, |p| buf.put_slice(&p));
        }
        let starts = offset == 0;
        let ends = offset + len == total;
        self.account(si, pt, end, len, starts, key, ends);
    }

    fn fits_compressed(&self, si: usize, pt: u64, len: usize) -> bool {
        let Some(open) = &self.open else { return false };
        let ps = self.packet_size();
        open.count < MAX_PAYLOADS
            && ps - open.used() >= COMPRESSED_PAYLOAD_HEADER + 1 + len
            && !self.breaks_span(pt, pt)
            && !self.would_be_late(si, pt, len)
    }

    fn write_compressed(
        &mut self,
        si: usize,
        object: u8,
        pt: u64,
        end: u64,
        key: bool,
        data: &[u8],
    ) {
        let number = self.streams[si].number;
        let open = self
            .open
            .as_mut()
            .expect("a payload is written into an open packet");
        let buf = &mut open.buf;
        // ASF 5.2.3.3: replicated data length 1; the offset field holds the presentation time
        // of the first sub-payload, the one replicated byte the time delta.
        buf.put_u8(number | if key { 0x80 } else { 0 });
        buf.put_u8(object);
        buf.put_u32_le(pt as u32);
        buf.put_u8(1);
        let delta_at = buf.len() - open.headroom;
        buf.put_u8(0);
        let length_at = buf.len() - open.headroom;
        buf.put_u16_le((1 + data.len()) as u16);
        buf.put_u8(data.len() as u8);
        buf.put_slice(data);
        debug_assert_eq!(delta_at + 1, length_at);
        self.account(si, pt, end, data.len(), true, key, true);
        let open = self.open.as_mut().expect("still open");
        open.run = Some(CompressedRun {
            stream: number,
            key,
            first_pt: pt,
            count: 1,
            delta: 0,
            length_at,
        });
    }

    /// Appends a sub-payload to the compressed run that ends the open packet, if it continues
    /// it (same stream and key flag, time = first + count × delta with delta ≤ 255 ms).
    fn try_extend_run(&mut self, si: usize, pt: u64, end: u64, key: bool, data: &[u8]) -> bool {
        let ps = self.packet_size();
        let number = self.streams[si].number;
        let Some(open) = &self.open else { return false };
        let Some(run) = open.run else { return false };
        if run.stream != number || run.key != key || pt < run.first_pt {
            return false;
        }
        let delta = if run.count == 1 {
            match u8::try_from(pt - run.first_pt) {
                Ok(d) => d,
                Err(_) => return false,
            }
        } else {
            run.delta
        };
        if run.first_pt + u64::from(run.count) * u64::from(delta) != pt {
            return false;
        }
        if ps - open.used() < 1 + data.len()
            || self.breaks_span(pt, end)
            || self.would_be_late(si, pt, data.len())
        {
            return false;
        }
        let open = self.open.as_mut().expect("checked above");
        let at = open.headroom + run.length_at;
        let len = u16::from_le_bytes([open.buf[at], open.buf[at + 1]]) as usize + 1 + data.len();
        let Ok(len) = u16::try_from(len) else {
            return false;
        };
        open.buf[at..at + 2].copy_from_slice(&len.to_le_bytes());
        open.buf[at - 1] = delta;
        open.buf.put_u8(data.len() as u8);
        open.buf.put_slice(data);
        open.run = Some(CompressedRun {
            count: run.count + 1,
            delta,
            ..run
        });
        open.count -= 1; // `account` counts a payload; a sub-payload is not one.
        self.account(si, pt, end, data.len(), true, key, true);
        true
    }

    /// Finishes the open packet: solves the padding length field, writes the header, updates
    /// the leaky buckets and emits it.
    fn finish_packet(&mut self, out: &mut Vec<Packet>) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        let ps = self.packet_size();
        let used = open.used();
        let left = ps - used;
        // ASF 5.2.2 / asf-format.md §2.6: the Padding Length field's width depends on its
        // value. With L bytes left: L = 0 -> no field; 1..=256 -> BYTE holding L - 1;
        // more -> WORD holding L - 2. Payloads were written as if there were no field, so a
        // field of w bytes moves them w bytes on.
        let (width_bits, width, padding) = match left {
            0 => (0u8, 0usize, 0usize),
            1..=256 => (1, 1, left - 1),
            _ => (2, 2, left - 2),
        };
        let hr = open.headroom;
        let in_buf = open.buf.len();
        if self.opts.gather {
            // Room for the field only; the padding is a gathered run of zeros.
            open.buf.resize(in_buf + width, 0);
        } else {
            open.buf.resize(hr + ps - open.gathered_len, 0);
        }
        if width > 0 {
            let from = hr + HEAD;
            open.buf.copy_within(from..in_buf, from + width);
            for (before, _) in &mut open.gathered {
                *before += width;
            }
        }
        if self.opts.gather && padding > 0 {
            open.gathered
                .push((in_buf + width, Bytes::from_static(&ZEROS[..padding])));
            open.gathered_len += padding;
        }
        let send = open.send_time(self.last_send).max(0.0) as u64;
        if open.deadline != u64::MAX && send > open.deadline {
            self.stats.late_payloads += u64::from(open.payloads);
        }
        for &(si, bytes) in &open.stream_bytes {
            let st = &mut self.streams[si];
            st.bucket_empty_at =
                st.bucket_empty_at.max(send as f64) + f64::from(bytes) * 8.0 / st.bits_per_ms;
        }
        open.stream_bytes.clear();
        self.spare_stream_bytes = core::mem::take(&mut open.stream_bytes);
        let duration = if open.count == 0 {
            0
        } else {
            (open.max_end - open.min_pt).min(MAX_PACKET_SPAN_MS) as u16
        };
        let b = &mut open.buf[hr..];
        b[0] = 0x82; // ASF 5.2.1: error correction present, 2 bytes of data, type 0.
        b[1] = 0;
        b[2] = 0;
        // Length Type Flags: bit 0 multiple payloads, bits 3-4 padding length type.
        b[3] = u8::from(open.multiple) | (width_bits << 3);
        b[4] = PROPERTY_FLAGS;
        let mut at = HEAD;
        match width {
            1 => b[at] = padding as u8,
            2 => b[at..at + 2].copy_from_slice(&(padding as u16).to_le_bytes()),
            _ => {}
        }
        at += width;
        b[at..at + 4].copy_from_slice(&(send as u32).to_le_bytes());
        b[at + 4..at + 6].copy_from_slice(&duration.to_le_bytes());
        at += TIMES;
        if open.multiple {
            // Payload Flags: count in bits 0-5, WORD payload lengths (bits 6-7 = 10).
            b[at] = 0x80 | open.count;
        }
        debug_assert_eq!(at + usize::from(open.multiple), open.head_len + width);
        self.stats.padding_bytes += padding as u64;
        self.stats.packets += 1;
        self.last_send = send;
        let index = self.next_index;
        self.next_index += 1;
        if let Some(ix) = &mut self.index {
            ix.push(index, &open.key_frames);
        }
        out.push(Packet {
            buffer: open.buf,
            headroom: hr,
            send_time: send,
            duration,
            index,
            key_frame: open.key_frame,
            streams: open.streams,
            payload_count: open.count,
            key_frames: open.key_frames,
            gathered: open.gathered,
        });
    }

    /// Finishes the packet in progress (if any), with buffers from the pool. The packetizer
    /// can take more samples afterwards (a live writer flushes at a pause).
    pub fn flush(&mut self, out: &mut Vec<Packet>) {
        self.finish_packet(out);
    }

    /// Takes back a packet that has been written out, so its buffer and its list of gathered
    /// parts serve a later packet instead of being allocated again: buffers go to the internal
    /// pool (used by [`Packetizer::push_sample`] and [`Packetizer::push_sample_parts`], not by
    /// a caller's allocator), within its bounds ([`PoolAllocator::recycle`]). The packet's
    /// gathered parts are dropped here. Optional: a packet simply dropped is freed.
    pub fn recycle(&mut self, mut packet: Packet) {
        if packet.gathered.capacity() > 0 && self.spare_gathered.len() < MAX_SPARE_LISTS {
            packet.gathered.clear();
            self.spare_gathered.push(packet.gathered);
        }
        if packet.headroom == self.pool.headroom() {
            self.pool.recycle(packet.buffer);
        }
    }

    /// Number of packets emitted so far.
    pub fn packets_emitted(&self) -> u64 {
        self.next_index
    }

    /// The header to send or write first: the Header Object and the 50-byte Data Object
    /// header (see [`build_header`]). In file mode its variable fields are zero until
    /// [`Packetizer::finish`] gives the fix-up.
    pub fn header(&self) -> Result<Bytes> {
        build_header(&self.profile, &self.opts, &FinalValues::default())
    }

    /// The header for file mode when the output cannot be rewritten at the end (a pipe or
    /// standard output): as [`Packetizer::header`], with the Broadcast flag set in File
    /// Properties so that readers ignore its zero sizes, counts and durations (what FFmpeg
    /// writes to a pipe; the Data Object size is 50). The packets and index objects that
    /// follow are the same; the fix-up of [`Packetizer::finish`] is then not applied. In
    /// live mode it is [`Packetizer::header`].
    pub fn unseekable_header(&self) -> Result<Bytes> {
        build_header(
            &self.profile,
            &self.opts,
            &FinalValues {
                broadcast: true,
                ..FinalValues::default()
            },
        )
    }

    /// Ends the presentation: finishes the packet in progress and, in file mode, builds the
    /// index objects (a Simple Index per video stream and an Index Object, to write after the
    /// packets) and the header fix-up (File Size, Creation Date = `creation_date` (FILETIME,
    /// from the caller), packet counts, play and send durations, Seekable flag, Data Object
    /// size and count), which has exactly the length of [`Packetizer::header`]. Later calls
    /// fail with [`Error::Finished`].
    pub fn finish(&mut self, creation_date: u64) -> Result<FileEnd> {
        if self.finished {
            return Err(Error::Finished);
        }
        let mut packets = Vec::new();
        self.finish_packet(&mut packets);
        self.finished = true;
        if self.opts.mode == Mode::Live {
            return Ok(FileEnd {
                packets,
                fixup: None,
                index_objects: Bytes::new(),
            });
        }
        let mut trailer = Vec::new();
        let mut indexed = Vec::new();
        let mut omit_index_parameters = false;
        if let Some(ix) = &mut self.index {
            ix.finish(self.max_end);
            for si in ix.simple_indexes(self.opts.file_id) {
                si.write(&mut trailer);
            }
            indexed = ix.streams();
            // The Index Object must match the header's Index Parameters (every video stream);
            // without a key frame on some video stream it is left out (the Simple Indexes of
            // the others remain) and the fix-up pads the Index Parameters away.
            if indexed.len() == self.streams.iter().filter(|s| s.video).count() {
                ix.index_object().write(&mut trailer);
            } else {
                omit_index_parameters = true;
            }
        }
        let fin = FinalValues {
            packets: self.next_index,
            play_duration: self.max_end.saturating_mul(10_000),
            send_duration: self.last_send.saturating_mul(10_000),
            creation_date,
            trailer_len: trailer.len() as u64,
            // Seekable: indexed, or no video (audio by packet arithmetic, asf-format.md §1.1).
            seekable: !self.has_video || !indexed.is_empty(),
            indexed_streams: indexed,
            max_object_sizes: self
                .streams
                .iter()
                .map(|s| (s.number, s.max_object))
                .collect(),
            omit_index_parameters,
            broadcast: false,
        };
        let bytes = build_header(&self.profile, &self.opts, &fin)?;
        Ok(FileEnd {
            packets,
            fixup: Some(HeaderFixup { offset: 0, bytes }),
            index_objects: Bytes::from(trailer),
        })
    }

    /// Whether [`Packetizer::finish`] has been called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::{ceil, floor};
    use proptest::prelude::*;

    #[test]
    fn ceil_and_floor_match_std_at_the_edges() {
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.5,
            -2.5,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9.3e18,
            -9.3e18,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(ceil(x), x.ceil(), "ceil {x}");
            assert_eq!(floor(x), x.floor(), "floor {x}");
        }
        assert!(ceil(f64::NAN).is_nan() && floor(f64::NAN).is_nan());
    }

    proptest! {
        #[test]
        fn ceil_and_floor_match_std(x in any::<f64>(), ms in -1e12f64..1e12) {
            for v in [x, ms] {
                prop_assert!(ceil(v) == v.ceil() || (v.is_nan() && ceil(v).is_nan()));
                prop_assert!(floor(v) == v.floor() || (v.is_nan() && floor(v).is_nan()));
            }
        }
    }
}
