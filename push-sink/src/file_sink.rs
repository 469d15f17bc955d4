//! [`FileSink`]: writes a valid, seekable ASF file; the analog of the Windows Media Format
//! SDK's `IWMWriterFileSink`, `IWMWriterFileSink2` (start, stop, duration, size, close) and
//! `IWMWriterFileSink3` (auto-indexing).
//!
//! # What goes to disk, and when
//!
//! 1. On the first header: the Header Object, with a Padding Object that reserves room
//!    ([`FileSinkConfig::reserve`]) for later headers and the index parameters, then the
//!    50-byte Data Object header. The header is written **broadcast style**: File Properties
//!    Flags Broadcast (0x1) and not Seekable, File Size, Data Packets Count, Play and Send
//!    Duration 0, Data Object size 50 and Total Data Packets 0 (asf-format.md §3: the live
//!    writer's values). ffmpeg (`asfdec_f`: with the broadcast flag the data object size is
//!    "unlimited") and GStreamer's asfdemux read such a file up to its end, so a file cut off
//!    at any moment (process killed, disk full) plays up to its last whole packet.
//! 2. Each data unit: the packet is appended with synchronous `std::io` writes (through a
//!    `BufWriter` for files). A local file write is "not long" in the sense of the
//!    [`WriterSink`] backpressure rule. While [stopped](FileSink::stop) data units are
//!    discarded; after [`start`](FileSink::start) writing resumes at the next key-frame packet.
//! 3. On `on_end_writing` (or [`close`](FileSink::close)): the Simple Index Object of every
//!    video stream and one Index Object are appended (when auto-indexing is on), then the
//!    header is rewritten in place, same size, with the final values: File Size, Creation
//!    Date (system clock), Data Packets Count, Play Duration, Send Duration, Flags Seekable
//!    (0x2, broadcast cleared), Data Object size and Total Data Packets, the Seekable flag of
//!    indexed streams' Extended Stream Properties, and an Index Parameters Object in the
//!    Header Extension (ASF 4.9: required when an Index Object is present).
//!
//! The header is rewritten last, so a process killed while the index is written leaves a
//! broadcast-style file that still plays.
//!
//! # Headers after the first
//!
//! Every header is honoured: a later header (a new profile) replaces the first one in the
//! final fix-up and is written at once in place (broadcast style) when it fits in the reserved
//! space. A header that does not fit, or that changes the packet size after packets were
//! written, is an error ([`Error::Unsupported`]) and the sink stops. A `FileSink` writes one
//! file: after the end of writing it refuses everything ([`Error::Closed`]).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use asf_format::Guid;
use bytes::Bytes;

use crate::error::{Error, Result, SinkError};
use crate::sink::{DataUnit, SinkStats, WriterSink};

// ASF 10.1 (top-level objects), 10.2 (header objects), 10.3 (header extension objects),
// 10.4 (stream types).
const HEADER_OBJECT: Guid = Guid::from_str_const("75B22630-668E-11CF-A6D9-00AA0062CE6C");
const DATA_OBJECT: Guid = Guid::from_str_const("75B22636-668E-11CF-A6D9-00AA0062CE6C");
const SIMPLE_INDEX_OBJECT: Guid = Guid::from_str_const("33000890-E5B1-11CF-89F4-00A0C90349CB");
const INDEX_OBJECT: Guid = Guid::from_str_const("D6E229D3-35DA-11D1-9034-00A0C90349BE");
const FILE_PROPERTIES_OBJECT: Guid = Guid::from_str_const("8CABDCA1-A947-11CF-8EE4-00C00C205365");
const STREAM_PROPERTIES_OBJECT: Guid = Guid::from_str_const("B7DC0791-A9B7-11CF-8EE6-00C00C205365");
const HEADER_EXTENSION_OBJECT: Guid = Guid::from_str_const("5FBF03B5-A92E-11CF-8EE3-00C00C205365");
const HEADER_EXTENSION_RESERVED_1: Guid =
    Guid::from_str_const("ABD3D211-A9BA-11CF-8EE6-00C00C205365");
const PADDING_OBJECT: Guid = Guid::from_str_const("1806D474-CADF-4509-A4BA-9AABCB96AAE8");
const EXTENDED_STREAM_PROPERTIES_OBJECT: Guid =
    Guid::from_str_const("14E6A5CB-C672-4332-8399-A96952065B5A");
const INDEX_PARAMETERS_OBJECT: Guid = Guid::from_str_const("D6E229DF-35DA-11D1-9034-00A0C90349BE");
const VIDEO_MEDIA: Guid = Guid::from_str_const("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B");

/// Size of an object header (GUID + QWORD size).
const OBJECT_HEADER_LEN: usize = 24;
/// ASF 3.1: Header Object fixed part (object header, number of header objects, two reserved bytes).
const HEADER_OBJECT_FIXED_LEN: usize = 30;
/// ASF 5.1: the Data Object header before the first packet.
const DATA_HEADER_LEN: usize = 50;
/// ASF 4.1: Header Extension Object fixed part.
const HEADER_EXTENSION_FIXED_LEN: usize = 46;

/// File Properties Object field offsets from the object's start (ASF 3.2).
mod fp {
    pub const FILE_ID: usize = 24;
    pub const FILE_SIZE: usize = 40;
    pub const CREATION_DATE: usize = 48;
    pub const DATA_PACKETS_COUNT: usize = 56;
    pub const PLAY_DURATION: usize = 64;
    pub const SEND_DURATION: usize = 72;
    pub const PREROLL: usize = 80;
    pub const FLAGS: usize = 88;
    pub const MIN_PACKET_SIZE: usize = 92;
    pub const MAX_PACKET_SIZE: usize = 96;
    pub const LEN: usize = 104;
    /// ASF 3.2 Flags: Broadcast Flag (bit 0), Seekable Flag (bit 1).
    pub const BROADCAST: u32 = 0x1;
    pub const SEEKABLE: u32 = 0x2;
}

/// Index Object index type "Nearest Past Cleanpoint" (ASF 6.2).
const INDEX_TYPE_NEAREST_PAST_CLEANPOINT: u16 = 3;
/// ASF 4.1 Extended Stream Properties Flags: Seekable (bit 1).
const ESP_FLAG_SEEKABLE: u32 = 0x2;
/// Offset of the Flags and Stream Number fields in an Extended Stream Properties Object.
const ESP_FLAGS: usize = 68;
const ESP_STREAM_NUMBER: usize = 72;
/// Seconds between 1601-01-01 (FILETIME origin) and 1970-01-01.
const FILETIME_UNIX_OFFSET_SECS: u64 = 11_644_473_600;

/// Settings of a [`FileSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileSinkConfig {
    /// Bytes reserved in the header (a Padding Object) for later, larger headers and the
    /// Index Parameters Object added at the end. Default 4096.
    pub reserve: usize,
    /// Write a Simple Index per video stream and an Index Object at the end
    /// (`IWMWriterFileSink3::SetAutoIndexing`). Default on.
    pub auto_index: bool,
    /// Time between index entries in milliseconds. Default 1000 (what the SDK and ffmpeg use).
    pub index_interval_ms: u32,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        FileSinkConfig {
            reserve: 4096,
            auto_index: true,
            index_interval_ms: 1000,
        }
    }
}

impl FileSinkConfig {
    /// The defaults (see the fields).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`reserve`](Self::reserve).
    pub fn reserve(mut self, bytes: usize) -> Self {
        self.reserve = bytes;
        self
    }

    /// Sets [`auto_index`](Self::auto_index).
    pub fn auto_index(mut self, on: bool) -> Self {
        self.auto_index = on;
        self
    }

    /// Sets [`index_interval_ms`](Self::index_interval_ms) (at least 1).
    pub fn index_interval_ms(mut self, ms: u32) -> Self {
        self.index_interval_ms = ms.max(1);
        self
    }
}

/// Writes the stream to a seekable ASF file (or any `Write + Seek`, e.g. a
/// `std::io::Cursor<Vec<u8>>` in memory). See the [module documentation](self).
#[derive(Debug)]
pub struct FileSink<W: Write + Seek + Send = BufWriter<File>> {
    out: Option<W>,
    name: String,
    config: FileSinkConfig,
    header: Option<HeaderModel>,
    /// Total bytes the header occupies on disk (Header Object incl. padding + Data Object header).
    header_len: usize,
    stopped: bool,
    wait_key_frame: bool,
    closed: bool,
    failed: bool,
    stats: SinkStats,
    /// Data packets written to the file.
    packets: u64,
    /// Bytes in the file so far.
    file_size: u64,
    last_send_ms: u32,
    first_send_ms: Option<u32>,
    last_packet_duration_ms: u16,
    timeline: Timeline,
    unscannable_packets: u64,
}

impl FileSink<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` with the default configuration.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::create_with(path, FileSinkConfig::default())
    }

    /// Creates (or truncates) the file at `path` (`IWMWriterFileSink::Open`).
    pub fn create_with(path: impl AsRef<Path>, config: FileSinkConfig) -> Result<Self> {
        let path: PathBuf = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| Error::io("creating the output file", e))?;
        let mut sink = FileSink::new(BufWriter::with_capacity(256 * 1024, file), config);
        sink.name = path.display().to_string();
        Ok(sink)
    }
}

impl<W: Write + Seek + Send> FileSink<W> {
    /// A file sink writing to `out` from its current position 0 (the caller gives an empty,
    /// seekable output).
    pub fn new(out: W, config: FileSinkConfig) -> Self {
        FileSink {
            out: Some(out),
            name: String::from("file sink"),
            config,
            header: None,
            header_len: 0,
            stopped: false,
            wait_key_frame: false,
            closed: false,
            failed: false,
            stats: SinkStats::default(),
            packets: 0,
            file_size: 0,
            last_send_ms: 0,
            first_send_ms: None,
            last_packet_duration_ms: 0,
            timeline: Timeline::default(),
            unscannable_packets: 0,
        }
    }

    /// Sets the name reported by [`WriterSink::name`].
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Resumes writing after [`stop`](Self::stop), at the next packet that begins a key frame
    /// (`IWMWriterFileSink2::Start`).
    pub fn start(&mut self) {
        if self.stopped {
            self.stopped = false;
            self.wait_key_frame = true;
        }
    }

    /// Pauses writing: data units are discarded until [`start`](Self::start)
    /// (`IWMWriterFileSink2::Stop`).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether writing is paused (`IWMWriterFileSink2::IsStopped`).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Whether the file is finished (`IWMWriterFileSink2::IsClosed`).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Turns auto-indexing on or off; takes effect at the end of writing
    /// (`IWMWriterFileSink3::SetAutoIndexing`).
    pub fn set_auto_indexing(&mut self, on: bool) {
        self.config.auto_index = on;
    }

    /// Whether auto-indexing is on (`IWMWriterFileSink3::GetAutoIndexing`).
    pub fn auto_indexing(&self) -> bool {
        self.config.auto_index
    }

    /// Bytes in the file so far (`IWMWriterFileSink2::GetFileSize`).
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Data packets written so far.
    pub fn packet_count(&self) -> u64 {
        self.packets
    }

    /// Media duration written so far: from the first presentation time in the file to the
    /// end of the last (`IWMWriterFileSink2::GetFileDuration`). For a file that starts at the
    /// beginning of the stream this is the end of the last presentation minus the preroll.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.timeline.span_ms())
    }

    /// Packets written that the sink could not parse (written anyway, not indexed).
    pub fn unscannable_packets(&self) -> u64 {
        self.unscannable_packets
    }

    /// The output, while the sink holds it.
    pub fn get_ref(&self) -> Option<&W> {
        self.out.as_ref()
    }

    /// Finishes the file like `on_end_writing` (if not done yet) and returns the output
    /// (`IWMWriterFileSink2::Close`).
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.finish()
    }

    /// Gives the output back (finish the file first with [`close`](Self::close)).
    pub fn into_inner(mut self) -> Option<W> {
        self.out.take()
    }

    fn out(&mut self) -> Result<&mut W> {
        self.out
            .as_mut()
            .ok_or(Error::Closed("file sink output was taken"))
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::Closed("file sink failed earlier"));
        }
        if self.closed {
            return Err(Error::Closed("file sink already finished its file"));
        }
        Ok(())
    }

    fn write_at(&mut self, pos: u64, bytes: &[u8], context: &'static str) -> Result<()> {
        let out = self.out()?;
        out.seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io(context, e))?;
        out.write_all(bytes).map_err(|e| Error::io(context, e))
    }

    fn handle_header(&mut self, header: &Bytes) -> Result<()> {
        self.check_usable()?;
        let model = HeaderModel::parse(header)?;
        if let Some(old) = &self.header
            && self.packets > 0
            && old.packet_size != model.packet_size
        {
            return Err(Error::Unsupported(
                "a new header changes the packet size after packets were written",
            ));
        }
        let target = if self.header.is_none() || self.packets == 0 {
            // Nothing after the header yet: lay it out afresh with the full reserve.
            let target = model.bare_len() + self.config.reserve.max(PADDING_MIN);
            if self.header.is_some() && target < self.header_len {
                // Keep the old size so no stale bytes of a longer header stay between.
                self.header_len
            } else {
                target
            }
        } else {
            self.header_len
        };
        let bytes = model.compose(target, &Fixup::broadcast(), &[])?;
        self.write_at(0, &bytes, "writing the ASF header")?;
        self.header_len = target;
        self.file_size = self.file_size.max(target as u64);
        let end = self.file_size;
        self.out()?
            .seek(SeekFrom::Start(end))
            .map_err(|e| Error::io("seeking to the end", e))?;
        self.header = Some(model);
        self.stats.headers += 1;
        Ok(())
    }

    fn handle_data_unit(&mut self, unit: DataUnit) -> Result<()> {
        self.check_usable()?;
        let Some(header) = &self.header else {
            return Err(Error::Misuse("data unit before the first header"));
        };
        let packet_size = header.packet_size as usize;
        let packet = unit.packet();
        if packet.len() != packet_size {
            // ASF 5.2: every data packet of a file has the header's fixed packet size.
            return Err(Error::Contract(
                "data unit length differs from the header's packet size",
            ));
        }
        if self.stopped {
            self.stats.drops += 1;
            return Ok(());
        }
        if self.wait_key_frame {
            if !unit.is_key_frame() {
                self.stats.drops += 1;
                return Ok(());
            }
            self.wait_key_frame = false;
        }
        let number = u32::try_from(self.packets)
            .map_err(|_| Error::Unsupported("more than 4294967295 data packets in one file"))?;
        match scan_packet(packet, packet_size) {
            Ok(scan) => {
                self.last_send_ms = scan.send_time_ms;
                self.first_send_ms.get_or_insert(scan.send_time_ms);
                self.last_packet_duration_ms = scan.duration_ms;
                for p in &scan.payloads {
                    let video = header.video_streams.contains(&u16::from(p.stream));
                    self.timeline.payload(p, number, video);
                }
            }
            Err(_) => {
                self.unscannable_packets += 1;
                self.last_send_ms = unit.send_time_ms();
            }
        }
        // The output is positioned at the end (every header rewrite seeks back there).
        let out = self.out()?;
        out.write_all(packet)
            .map_err(|e| Error::io("writing a data packet", e))?;
        self.packets += 1;
        self.file_size += packet.len() as u64;
        self.stats.packets += 1;
        self.stats.bytes += packet.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.check_usable()?;
        let Some(header) = self.header.take() else {
            // Nothing was ever written: an empty file is all we can leave.
            self.closed = true;
            self.out()?
                .flush()
                .map_err(|e| Error::io("flushing the output", e))?;
            return Ok(());
        };
        let data_len = self.packets * u64::from(header.packet_size);
        let mut indexed: Vec<u16> = Vec::new();
        let mut index_params = Vec::new();
        let mut end = self.file_size;
        if self.config.auto_index && self.packets > 0 {
            // asf-format.md §1.1: Simple Index objects sorted by stream number.
            let mut streams: Vec<u16> = header
                .video_streams
                .iter()
                .copied()
                .filter(|s| self.timeline.has_key_frames(*s))
                .collect();
            streams.sort_unstable();
            streams.dedup();
            if !streams.is_empty() {
                let interval =
                    index_interval(self.config.index_interval_ms, self.timeline.play_end_ms());
                let mut objects = Vec::new();
                for &s in &streams {
                    objects.extend(self.timeline.simple_index(s, interval, header.file_id));
                }
                objects.extend(
                    self.timeline
                        .index_object(&streams, interval, header.packet_size),
                );
                index_params = index_parameters_object(&streams, interval);
                let out = self.out()?;
                out.write_all(&objects)
                    .map_err(|e| Error::io("writing the index", e))?;
                end += objects.len() as u64;
                indexed = streams;
            }
        }
        // ASF 3.2 / asf-format.md §3: seekable when indexed or audio-only.
        let seekable = !indexed.is_empty() || header.video_streams.is_empty();
        let fix = Fixup {
            broadcast: false,
            seekable,
            file_size: end,
            creation_date: filetime_now(),
            packets: self.packets,
            // ASF 3.2 Play Duration includes the preroll; measured from the file's first
            // presentation time, so a recording that joined mid-stream (its times start late)
            // does not claim the time before it.
            play_duration_ms: self.timeline.span_ms().saturating_add(header.preroll_ms),
            send_duration_ms: (u64::from(self.last_send_ms)
                + u64::from(self.last_packet_duration_ms))
            .saturating_sub(u64::from(self.first_send_ms.unwrap_or(0))),
            data_object_size: DATA_HEADER_LEN as u64 + data_len,
            seekable_streams: indexed,
        };
        let bytes = match header.compose(self.header_len, &fix, &index_params) {
            Ok(b) => b,
            // No room for the Index Parameters Object: leave it out rather than fail.
            Err(_) => header.compose(self.header_len, &fix, &[])?,
        };
        self.out()?
            .flush()
            .map_err(|e| Error::io("flushing the index", e))?;
        self.write_at(0, &bytes, "rewriting the final header")?;
        let out = self.out()?;
        out.seek(SeekFrom::Start(end))
            .map_err(|e| Error::io("seeking to the end", e))?;
        out.flush()
            .map_err(|e| Error::io("flushing the final header", e))?;
        self.file_size = end;
        self.header = Some(header);
        self.closed = true;
        Ok(())
    }

    fn fail<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r
            && !matches!(e, Error::Closed(_))
        {
            self.failed = true;
        }
        r
    }
}

impl<W: Write + Seek + Send> WriterSink for FileSink<W> {
    fn on_header(&mut self, header: &Bytes) -> Result<(), SinkError> {
        let r = self.handle_header(header);
        self.fail(r)
    }

    /// A file needs no real-time delivery.
    fn is_real_time(&self) -> bool {
        false
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), SinkError> {
        let r = self.handle_data_unit(unit);
        self.fail(r)
    }

    fn on_end_writing(&mut self) -> Result<(), SinkError> {
        let r = self.finish();
        self.fail(r)
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Header model: the top-level objects of the Header Object, laid out again on demand.

/// Smallest Padding Object (its object header alone).
const PADDING_MIN: usize = OBJECT_HEADER_LEN;

#[derive(Debug, Clone)]
struct HeaderModel {
    /// Top-level header objects except Padding, in order.
    children: Vec<Bytes>,
    reserved: [u8; 2],
    file_properties: usize,
    header_extension: Option<usize>,
    data_header: [u8; DATA_HEADER_LEN],
    packet_size: u32,
    preroll_ms: u64,
    file_id: [u8; 16],
    video_streams: Vec<u16>,
    /// Every stream declared by a top-level Stream Properties Object (read by the test
    /// multiplexer only).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    streams: Vec<u16>,
}

/// What the test multiplexer needs to know about an existing header.
#[cfg(feature = "testing")]
#[derive(Debug, Clone)]
pub(crate) struct HeaderSummary {
    pub(crate) packet_size: u32,
    pub(crate) preroll_ms: u64,
    pub(crate) streams: Vec<u16>,
    pub(crate) video_streams: Vec<u16>,
}

/// Packet size, preroll and streams of a header (Header Object + Data Object header).
#[cfg(feature = "testing")]
pub(crate) fn header_summary(header: &Bytes) -> Result<HeaderSummary> {
    let m = HeaderModel::parse(header)?;
    Ok(HeaderSummary {
        packet_size: m.packet_size,
        preroll_ms: m.preroll_ms,
        streams: m.streams,
        video_streams: m.video_streams,
    })
}

/// Final (or broadcast) values the header is composed with.
#[derive(Debug, Clone, Default)]
struct Fixup {
    broadcast: bool,
    seekable: bool,
    file_size: u64,
    creation_date: u64,
    packets: u64,
    play_duration_ms: u64,
    send_duration_ms: u64,
    data_object_size: u64,
    seekable_streams: Vec<u16>,
}

impl Fixup {
    /// asf-format.md §3, live/broadcast column; Data Object size 50 (0 is allowed by the spec
    /// but WMP over MS-WMSP rejects it, per a GStreamer comment).
    fn broadcast() -> Self {
        Fixup {
            broadcast: true,
            data_object_size: DATA_HEADER_LEN as u64,
            ..Fixup::default()
        }
    }
}

fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn rd_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
fn guid_at(b: &[u8], at: usize) -> Guid {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Guid(a)
}

fn malformed(offset: usize, object: &'static str, reason: &'static str) -> Error {
    Error::Format(asf_format::Error::Malformed {
        offset: offset as u64,
        object,
        reason,
    })
}

/// Splits `b[start..end]` into objects (GUID, whole object bytes range).
fn objects_in(
    b: &[u8],
    start: usize,
    end: usize,
    what: &'static str,
) -> Result<Vec<(Guid, usize, usize)>> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        if end - at < OBJECT_HEADER_LEN {
            return Err(malformed(
                at,
                what,
                "trailing bytes shorter than an object header",
            ));
        }
        let size = rd_u64(b, at + 16);
        let size =
            usize::try_from(size).map_err(|_| malformed(at, what, "object size too large"))?;
        if size < OBJECT_HEADER_LEN || size > end - at {
            return Err(malformed(at, what, "object size out of bounds"));
        }
        out.push((guid_at(b, at), at, at + size));
        at += size;
    }
    Ok(out)
}

impl HeaderModel {
    fn parse(header: &Bytes) -> Result<Self> {
        let b = &header[..];
        if b.len() < HEADER_OBJECT_FIXED_LEN + DATA_HEADER_LEN || guid_at(b, 0) != HEADER_OBJECT {
            return Err(malformed(
                0,
                "Header Object",
                "header does not start with a Header Object",
            ));
        }
        let size = usize::try_from(rd_u64(b, 16))
            .map_err(|_| malformed(16, "Header Object", "size too large"))?;
        // WriterSink::on_header: Header Object followed by the 50-byte Data Object header.
        if size < HEADER_OBJECT_FIXED_LEN || size.checked_add(DATA_HEADER_LEN) != Some(b.len()) {
            return Err(malformed(
                16,
                "Header Object",
                "header is not a Header Object followed by exactly the 50-byte Data Object header",
            ));
        }
        if guid_at(b, size) != DATA_OBJECT {
            return Err(malformed(
                size,
                "Data Object",
                "no Data Object after the Header Object",
            ));
        }
        let mut data_header = [0u8; DATA_HEADER_LEN];
        data_header.copy_from_slice(&b[size..]);
        let mut children = Vec::new();
        let mut file_properties = None;
        let mut header_extension = None;
        let mut video_streams = Vec::new();
        let mut streams = Vec::new();
        for (guid, start, end) in objects_in(b, HEADER_OBJECT_FIXED_LEN, size, "Header Object")? {
            if guid == PADDING_OBJECT {
                continue;
            }
            if guid == FILE_PROPERTIES_OBJECT {
                if end - start < fp::LEN {
                    return Err(malformed(
                        start,
                        "File Properties Object",
                        "shorter than 104 bytes",
                    ));
                }
                file_properties = Some(children.len());
            } else if guid == HEADER_EXTENSION_OBJECT {
                if end - start < HEADER_EXTENSION_FIXED_LEN {
                    return Err(malformed(
                        start,
                        "Header Extension Object",
                        "shorter than 46 bytes",
                    ));
                }
                header_extension = Some(children.len());
            } else if guid == STREAM_PROPERTIES_OBJECT {
                if end - start < 78 {
                    return Err(malformed(
                        start,
                        "Stream Properties Object",
                        "shorter than 78 bytes",
                    ));
                }
                let number = rd_u16(b, start + 72) & 0x7F;
                streams.push(number);
                if guid_at(b, start + 24) == VIDEO_MEDIA {
                    video_streams.push(number);
                }
            }
            children.push(header.slice(start..end));
        }
        let fpi = file_properties.ok_or_else(|| {
            malformed(
                HEADER_OBJECT_FIXED_LEN,
                "Header Object",
                "no File Properties Object",
            )
        })?;
        let fpo = &children[fpi];
        let min = rd_u32(fpo, fp::MIN_PACKET_SIZE);
        let max = rd_u32(fpo, fp::MAX_PACKET_SIZE);
        // ASF 3.2: "Minimum Data Packet Size ... must be the same value as Maximum".
        if min != max || min == 0 {
            return Err(Error::Unsupported(
                "packet sizes that are not fixed (minimum and maximum differ or are 0)",
            ));
        }
        let mut file_id = [0u8; 16];
        file_id.copy_from_slice(&fpo[fp::FILE_ID..fp::FILE_ID + 16]);
        Ok(HeaderModel {
            reserved: [b[28], b[29]],
            preroll_ms: rd_u64(fpo, fp::PREROLL),
            packet_size: min,
            file_id,
            children,
            file_properties: fpi,
            header_extension,
            data_header,
            video_streams,
            streams,
        })
    }

    /// Length of header + data header with no padding at all.
    fn bare_len(&self) -> usize {
        HEADER_OBJECT_FIXED_LEN
            + self.children.iter().map(Bytes::len).sum::<usize>()
            + DATA_HEADER_LEN
    }

    /// Lays the header out in exactly `target` bytes (Header Object with a Padding Object
    /// filling the rest, then the Data Object header), with `fix` applied and `ext_extra`
    /// appended to the Header Extension's data (one is created when missing).
    fn compose(&self, target: usize, fix: &Fixup, ext_extra: &[u8]) -> Result<Vec<u8>> {
        let mut extra_len = ext_extra.len();
        if !ext_extra.is_empty() && self.header_extension.is_none() {
            extra_len += HEADER_EXTENSION_FIXED_LEN;
        }
        let bare = self.bare_len() + extra_len;
        let padding = target
            .checked_sub(bare)
            .filter(|p| *p == 0 || *p >= PADDING_MIN)
            .ok_or(Error::Unsupported(
                "the header does not fit in the space reserved at the start of the file",
            ))?;
        let header_object_len = target - DATA_HEADER_LEN;
        let mut count = self.children.len() + usize::from(padding > 0);
        if !ext_extra.is_empty() && self.header_extension.is_none() {
            count += 1;
        }
        let mut out = Vec::with_capacity(target);
        out.extend_from_slice(HEADER_OBJECT.as_bytes());
        out.extend_from_slice(&(header_object_len as u64).to_le_bytes());
        out.extend_from_slice(&(count as u32).to_le_bytes());
        out.extend_from_slice(&self.reserved);
        for (i, child) in self.children.iter().enumerate() {
            let start = out.len();
            out.extend_from_slice(child);
            if i == self.file_properties {
                patch_file_properties(&mut out[start..], fix);
            } else if Some(i) == self.header_extension {
                patch_extended_stream_flags(&mut out[start..], fix);
                if !ext_extra.is_empty() {
                    out.extend_from_slice(ext_extra);
                    let obj = &mut out[start..];
                    let size = rd_u64(obj, 16) + ext_extra.len() as u64;
                    obj[16..24].copy_from_slice(&size.to_le_bytes());
                    let data = rd_u32(obj, 42) + ext_extra.len() as u32;
                    obj[42..46].copy_from_slice(&data.to_le_bytes());
                }
            }
        }
        if !ext_extra.is_empty() && self.header_extension.is_none() {
            out.extend_from_slice(HEADER_EXTENSION_OBJECT.as_bytes());
            out.extend_from_slice(
                &((HEADER_EXTENSION_FIXED_LEN + ext_extra.len()) as u64).to_le_bytes(),
            );
            out.extend_from_slice(HEADER_EXTENSION_RESERVED_1.as_bytes());
            out.extend_from_slice(&6u16.to_le_bytes());
            out.extend_from_slice(&(ext_extra.len() as u32).to_le_bytes());
            out.extend_from_slice(ext_extra);
        }
        if padding > 0 {
            out.extend_from_slice(PADDING_OBJECT.as_bytes());
            out.extend_from_slice(&(padding as u64).to_le_bytes());
            out.resize(out.len() + padding - PADDING_MIN, 0);
        }
        let mut data = self.data_header;
        data[16..24].copy_from_slice(&fix.data_object_size.to_le_bytes());
        // ASF 5.1: the Data Object's File ID equals the File Properties Object's.
        data[24..40].copy_from_slice(&self.file_id);
        let total = if fix.broadcast { 0 } else { fix.packets };
        data[40..48].copy_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&data);
        debug_assert_eq!(out.len(), target);
        Ok(out)
    }
}

/// ASF 3.2 File Properties Object, fields rewritten at the fix-up.
fn patch_file_properties(obj: &mut [u8], fix: &Fixup) {
    let preroll = rd_u64(obj, fp::PREROLL);
    let mut flags = rd_u32(obj, fp::FLAGS);
    if fix.broadcast {
        // ASF 3.2: with the Broadcast Flag set, File Size, Creation Date, Data Packets Count,
        // Play Duration and Send Duration are invalid; write 0.
        flags = (flags | fp::BROADCAST) & !fp::SEEKABLE;
        obj[fp::FILE_SIZE..fp::FILE_SIZE + 8].copy_from_slice(&0u64.to_le_bytes());
        obj[fp::CREATION_DATE..fp::CREATION_DATE + 8].copy_from_slice(&0u64.to_le_bytes());
        obj[fp::DATA_PACKETS_COUNT..fp::DATA_PACKETS_COUNT + 8]
            .copy_from_slice(&0u64.to_le_bytes());
        obj[fp::PLAY_DURATION..fp::PLAY_DURATION + 8].copy_from_slice(&0u64.to_le_bytes());
        obj[fp::SEND_DURATION..fp::SEND_DURATION + 8].copy_from_slice(&0u64.to_le_bytes());
    } else {
        flags &= !fp::BROADCAST;
        if fix.seekable {
            flags |= fp::SEEKABLE;
        } else {
            flags &= !fp::SEEKABLE;
        }
        obj[fp::FILE_SIZE..fp::FILE_SIZE + 8].copy_from_slice(&fix.file_size.to_le_bytes());
        obj[fp::CREATION_DATE..fp::CREATION_DATE + 8]
            .copy_from_slice(&fix.creation_date.to_le_bytes());
        obj[fp::DATA_PACKETS_COUNT..fp::DATA_PACKETS_COUNT + 8]
            .copy_from_slice(&fix.packets.to_le_bytes());
        // ASF 3.2: Play Duration in 100-ns units, preroll included; Send Duration likewise.
        let play = fix.play_duration_ms.max(preroll).saturating_mul(10_000);
        obj[fp::PLAY_DURATION..fp::PLAY_DURATION + 8].copy_from_slice(&play.to_le_bytes());
        let send = fix.send_duration_ms.saturating_mul(10_000);
        obj[fp::SEND_DURATION..fp::SEND_DURATION + 8].copy_from_slice(&send.to_le_bytes());
    }
    obj[fp::FLAGS..fp::FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
}

/// ASF 4.1: sets the Seekable flag of the Extended Stream Properties of indexed streams (and
/// clears it on others) inside a Header Extension Object.
fn patch_extended_stream_flags(ext: &mut [u8], fix: &Fixup) {
    let end = ext.len();
    let Ok(objects) = objects_in(
        ext,
        HEADER_EXTENSION_FIXED_LEN,
        end,
        "Header Extension Object",
    ) else {
        return;
    };
    for (guid, start, obj_end) in objects {
        if guid != EXTENDED_STREAM_PROPERTIES_OBJECT || obj_end - start < ESP_STREAM_NUMBER + 2 {
            continue;
        }
        let stream = rd_u16(ext, start + ESP_STREAM_NUMBER) & 0x7F;
        let mut flags = rd_u32(ext, start + ESP_FLAGS);
        if !fix.broadcast && fix.seekable_streams.contains(&stream) {
            flags |= ESP_FLAG_SEEKABLE;
        } else {
            flags &= !ESP_FLAG_SEEKABLE;
        }
        ext[start + ESP_FLAGS..start + ESP_FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
    }
}

/// ASF 4.9 Index Parameters Object: the interval and specifiers of the Index Object.
fn index_parameters_object(streams: &[u16], interval_ms: u32) -> Vec<u8> {
    let size = OBJECT_HEADER_LEN + 4 + 2 + 4 * streams.len();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(INDEX_PARAMETERS_OBJECT.as_bytes());
    out.extend_from_slice(&(size as u64).to_le_bytes());
    out.extend_from_slice(&interval_ms.to_le_bytes());
    out.extend_from_slice(&(streams.len() as u16).to_le_bytes());
    for &s in streams {
        out.extend_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&INDEX_TYPE_NEAREST_PAST_CLEANPOINT.to_le_bytes());
    }
    out
}

/// Most entries an index gets (about 12 days at the default 1 s interval); a longer timeline
/// gets a longer interval, so memory and the index objects stay bounded (about 6 MB per
/// Simple Index) whatever send times the packets claim: a live source whose clock jumps 1,000
/// hours ahead (GStreamer's live asfmux does) gets a 3.4 s interval, not 3.6 million entries.
const MAX_INDEX_ENTRIES: u64 = 1 << 20;

/// The configured interval, widened so that `play_end_ms` needs at most `MAX_INDEX_ENTRIES`.
fn index_interval(configured_ms: u32, play_end_ms: u64) -> u32 {
    let needed = play_end_ms / MAX_INDEX_ENTRIES + 1;
    u32::try_from(needed)
        .unwrap_or(u32::MAX)
        .max(configured_ms)
        .max(1)
}

fn filetime_now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    (since.as_secs() + FILETIME_UNIX_OFFSET_SECS) * 10_000_000
        + u64::from(since.subsec_nanos() / 100)
}

// ---------------------------------------------------------------------------------------------
// Packet scanning: asf-format's zero-copy packet views (ASF 5.2), reduced to what the index
// and the durations need.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PayloadSummary {
    stream: u8,
    key_frame: bool,
    object: u32,
    offset: u32,
    presentation_ms: u32,
}

#[derive(Debug, Default)]
struct PacketScan {
    send_time_ms: u32,
    duration_ms: u16,
    payloads: Vec<PayloadSummary>,
}

fn scan_packet(p: &[u8], packet_size: usize) -> Result<PacketScan, asf_format::Error> {
    let size = u32::try_from(packet_size)
        .map_err(|_| asf_format::Error::InvalidArgument("packet size over 4 GiB"))?;
    let mut payloads = Vec::new();
    // One pass: asf-format validates the packet and hands over each payload.
    let view = asf_format::packet::PacketView::parse_each(p, size, 0, |payload| {
        let stream = payload.stream_number & 0x7F;
        let key_frame = payload.key_frame;
        if payload.is_compressed() {
            // ASF 5.2.3.2: every sub-payload is a whole media object.
            for sub in payload.sub_payloads() {
                payloads.push(PayloadSummary {
                    stream,
                    key_frame,
                    object: sub.media_object_number,
                    offset: 0,
                    presentation_ms: sub.presentation_time,
                });
            }
        } else {
            payloads.push(PayloadSummary {
                stream,
                key_frame,
                object: payload.media_object_number,
                offset: payload.offset_into_media_object,
                presentation_ms: payload.presentation_time().unwrap_or(0),
            });
        }
    })?;
    Ok(PacketScan {
        send_time_ms: view.send_time(),
        duration_ms: view.duration(),
        payloads,
    })
}

// ---------------------------------------------------------------------------------------------
// Timeline and index building.

#[derive(Debug, Clone, Copy)]
struct KeyFrame {
    presentation_ms: u32,
    first_packet: u32,
    last_packet: u32,
}

#[derive(Debug, Default)]
struct StreamTimeline {
    stream: u8,
    last_pt: Option<u32>,
    frame_ms: u32,
    key_frames: Vec<KeyFrame>,
    /// Media object number of the key frame being written (to extend its packet span).
    open_key_object: Option<u32>,
}

#[derive(Debug, Default)]
struct Timeline {
    streams: Vec<StreamTimeline>,
    /// Earliest presentation time of an object start (ms, preroll included).
    first_pt: Option<u32>,
}

impl Timeline {
    fn stream(&mut self, stream: u8) -> &mut StreamTimeline {
        let i = match self.streams.iter().position(|s| s.stream == stream) {
            Some(i) => i,
            None => {
                self.streams.push(StreamTimeline {
                    stream,
                    ..StreamTimeline::default()
                });
                self.streams.len() - 1
            }
        };
        &mut self.streams[i]
    }

    fn payload(&mut self, p: &PayloadSummary, packet: u32, video: bool) {
        if p.offset == 0 {
            self.first_pt = Some(
                self.first_pt
                    .map_or(p.presentation_ms, |f| f.min(p.presentation_ms)),
            );
        }
        let s = self.stream(p.stream);
        if p.offset == 0 {
            if let Some(last) = s.last_pt
                && p.presentation_ms > last
            {
                s.frame_ms = p.presentation_ms - last;
            }
            s.last_pt = Some(
                s.last_pt
                    .map_or(p.presentation_ms, |l| l.max(p.presentation_ms)),
            );
        }
        if !video {
            return;
        }
        if p.key_frame && p.offset == 0 {
            s.key_frames.push(KeyFrame {
                presentation_ms: p.presentation_ms,
                first_packet: packet,
                last_packet: packet,
            });
            s.open_key_object = Some(p.object);
        } else if s.open_key_object == Some(p.object) {
            if let Some(k) = s.key_frames.last_mut() {
                k.last_packet = packet;
            }
        } else {
            s.open_key_object = None;
        }
    }

    /// End of the last presentation (ms, preroll included): last presentation time plus one
    /// frame, over all streams.
    fn play_end_ms(&self) -> u64 {
        self.streams
            .iter()
            .filter_map(|s| s.last_pt.map(|pt| u64::from(pt) + u64::from(s.frame_ms)))
            .max()
            .unwrap_or(0)
    }

    /// From the first presentation time to the end of the last (ms).
    fn span_ms(&self) -> u64 {
        self.play_end_ms()
            .saturating_sub(u64::from(self.first_pt.unwrap_or(0)))
    }

    fn has_key_frames(&self, stream: u16) -> bool {
        self.streams
            .iter()
            .any(|s| u16::from(s.stream) == stream && !s.key_frames.is_empty())
    }

    /// For each index time `i * interval` (ms, on the presentation axis that includes the
    /// preroll), the nearest past key frame (or the first one before it exists).
    fn entries(&self, stream: u16, interval_ms: u32) -> Vec<KeyFrame> {
        let Some(s) = self.streams.iter().find(|s| u16::from(s.stream) == stream) else {
            return Vec::new();
        };
        let Some(&first) = s.key_frames.first() else {
            return Vec::new();
        };
        let end = self.play_end_ms();
        let count = end / u64::from(interval_ms) + 1;
        let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut k = 0usize;
        let mut current = first;
        for i in 0..count {
            let t = i * u64::from(interval_ms);
            while k < s.key_frames.len() && u64::from(s.key_frames[k].presentation_ms) <= t {
                current = s.key_frames[k];
                k += 1;
            }
            out.push(current);
        }
        out
    }

    /// ASF 6.1 Simple Index Object for one video stream.
    fn simple_index(&self, stream: u16, interval_ms: u32, file_id: [u8; 16]) -> Vec<u8> {
        let entries = self.entries(stream, interval_ms);
        let spans: Vec<u16> = entries
            .iter()
            .map(|k| u16::try_from(k.last_packet - k.first_packet + 1).unwrap_or(u16::MAX))
            .collect();
        let size = 56 + 6 * entries.len();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(SIMPLE_INDEX_OBJECT.as_bytes());
        out.extend_from_slice(&(size as u64).to_le_bytes());
        out.extend_from_slice(&file_id);
        out.extend_from_slice(&(u64::from(interval_ms) * 10_000).to_le_bytes());
        out.extend_from_slice(&u32::from(spans.iter().copied().max().unwrap_or(0)).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (k, span) in entries.iter().zip(spans) {
            out.extend_from_slice(&k.first_packet.to_le_bytes());
            out.extend_from_slice(&span.to_le_bytes());
        }
        out
    }

    /// ASF 6.2 Index Object over `streams` (Nearest Past Cleanpoint), one block per 4 GiB of
    /// data (offsets are DWORDs relative to the block position).
    fn index_object(&self, streams: &[u16], interval_ms: u32, packet_size: u32) -> Vec<u8> {
        let per_stream: Vec<Vec<KeyFrame>> = streams
            .iter()
            .map(|&s| self.entries(s, interval_ms))
            .collect();
        let rows = per_stream.iter().map(Vec::len).min().unwrap_or(0);
        let offset_of = |k: &KeyFrame| u64::from(k.first_packet) * u64::from(packet_size);
        // Split rows into blocks whose offsets fit in a DWORD above the block position.
        let mut blocks: Vec<(usize, usize, u64)> = Vec::new();
        let mut start = 0;
        while start < rows {
            let base = per_stream
                .iter()
                .map(|e| offset_of(&e[start]))
                .min()
                .unwrap_or(0);
            let mut end = start;
            while end < rows
                && per_stream
                    .iter()
                    .all(|e| offset_of(&e[end]).saturating_sub(base) <= u64::from(u32::MAX))
            {
                end += 1;
            }
            let end = end.max(start + 1);
            blocks.push((start, end, base));
            start = end;
        }
        let s = streams.len();
        let mut out = Vec::new();
        out.extend_from_slice(INDEX_OBJECT.as_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // size, set below
        out.extend_from_slice(&interval_ms.to_le_bytes());
        out.extend_from_slice(&(s as u16).to_le_bytes());
        out.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
        for &stream in streams {
            out.extend_from_slice(&stream.to_le_bytes());
            out.extend_from_slice(&INDEX_TYPE_NEAREST_PAST_CLEANPOINT.to_le_bytes());
        }
        for (start, end, base) in blocks {
            out.extend_from_slice(&((end - start) as u32).to_le_bytes());
            for _ in 0..s {
                out.extend_from_slice(&base.to_le_bytes());
            }
            for row in start..end {
                for e in &per_stream {
                    let off = offset_of(&e[row]).saturating_sub(base);
                    out.extend_from_slice(&u32::try_from(off).unwrap_or(u32::MAX).to_le_bytes());
                }
            }
        }
        let size = out.len() as u64;
        out[16..24].copy_from_slice(&size.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_constants_are_in_disk_order() {
        assert_eq!(
            HEADER_OBJECT.as_bytes(),
            &[
                0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62,
                0xCE, 0x6C
            ]
        );
    }

    #[test]
    fn scan_single_payload_packet() {
        // flags: no EC, single payload, padding length BYTE (0x08), packet length absent.
        // props 0x5D: replicated DWORD... use BYTE rep len (0x01), offset DWORD (0x0C), obj BYTE (0x10), stream BYTE (0x40).
        let mut p = vec![0x08, 0x5D, 10, 0x20, 0x0C, 0, 0, 0x28, 0];
        p.extend_from_slice(&[0x81, 3, 0, 0, 0, 0, 8]);
        p.extend_from_slice(&100u32.to_le_bytes());
        p.extend_from_slice(&3200u32.to_le_bytes());
        p.extend_from_slice(&[0xAA; 5]);
        let size = p.len() + 10;
        p.resize(size, 0);
        let scan = scan_packet(&p, size).expect("valid packet");
        assert_eq!(scan.send_time_ms, 3104);
        assert_eq!(scan.duration_ms, 40);
        assert_eq!(
            scan.payloads,
            vec![PayloadSummary {
                stream: 1,
                key_frame: true,
                object: 3,
                offset: 0,
                presentation_ms: 3200
            }]
        );
    }

    #[test]
    fn scan_rejects_truncated_packet() {
        assert!(scan_packet(&[0x08], 100).is_err());
        assert!(scan_packet(&[], 100).is_err());
    }

    fn timeline_with_key_frames(stream: u8, packets: &[u32], step_ms: u32) -> Timeline {
        let mut t = Timeline::default();
        for (n, &packet) in packets.iter().enumerate() {
            let p = PayloadSummary {
                stream,
                key_frame: true,
                object: n as u32,
                offset: 0,
                presentation_ms: n as u32 * step_ms,
            };
            t.payload(&p, packet, true);
        }
        t
    }

    #[test]
    fn index_object_splits_blocks_beyond_4_gib() {
        // Key frames every second, at packets whose byte offsets pass 4 GiB (packet size 64 KiB).
        let packets: Vec<u32> = (0..10).map(|i| i * 20_000).collect();
        let t = timeline_with_key_frames(1, &packets, 1000);
        let obj = t.index_object(&[1], 1000, 65_535);
        assert_eq!(guid_at(&obj, 0), INDEX_OBJECT);
        assert_eq!(rd_u64(&obj, 16), obj.len() as u64);
        assert_eq!(rd_u32(&obj, 24), 1000);
        assert_eq!(rd_u16(&obj, 28), 1);
        let blocks = rd_u32(&obj, 30) as usize;
        assert!(
            blocks >= 2,
            "offsets over 4 GiB need a second block, got {blocks}"
        );
        // Walk the blocks: every position = block position + offset is a key frame's packet.
        let mut at = 34 + 4;
        let mut seen = 0;
        for _ in 0..blocks {
            let entries = rd_u32(&obj, at) as usize;
            let base = rd_u64(&obj, at + 4);
            at += 12;
            for _ in 0..entries {
                let pos = base + u64::from(rd_u32(&obj, at));
                assert_eq!(pos % 65_535, 0);
                assert!(packets.contains(&((pos / 65_535) as u32)));
                at += 4;
                seen += 1;
            }
        }
        assert_eq!(at, obj.len());
        assert_eq!(seen, t.entries(1, 1000).len());
    }

    #[test]
    fn simple_index_entries_point_at_nearest_past_key_frame() {
        let t = timeline_with_key_frames(1, &[0, 5, 9], 2500);
        let obj = t.simple_index(1, 1000, [7; 16]);
        assert_eq!(guid_at(&obj, 0), SIMPLE_INDEX_OBJECT);
        assert_eq!(&obj[24..40], &[7; 16]);
        assert_eq!(rd_u64(&obj, 40), 10_000_000);
        let n = rd_u32(&obj, 52) as usize;
        let entries: Vec<u32> = (0..n).map(|i| rd_u32(&obj, 56 + 6 * i)).collect();
        // Key frames at 0, 2500, 5000 ms; play end 5000 + 2500.
        assert_eq!(entries, vec![0, 0, 0, 5, 5, 9, 9, 9]);
    }

    #[test]
    fn extended_stream_properties_seekable_flag_is_patched() {
        // Header Extension with one Extended Stream Properties Object for stream 3.
        let mut esp = Vec::new();
        esp.extend_from_slice(EXTENDED_STREAM_PROPERTIES_OBJECT.as_bytes());
        esp.extend_from_slice(&88u64.to_le_bytes());
        esp.resize(88, 0);
        esp[ESP_STREAM_NUMBER..ESP_STREAM_NUMBER + 2].copy_from_slice(&3u16.to_le_bytes());
        let mut ext = Vec::new();
        ext.extend_from_slice(HEADER_EXTENSION_OBJECT.as_bytes());
        ext.extend_from_slice(&((HEADER_EXTENSION_FIXED_LEN + esp.len()) as u64).to_le_bytes());
        ext.extend_from_slice(HEADER_EXTENSION_RESERVED_1.as_bytes());
        ext.extend_from_slice(&6u16.to_le_bytes());
        ext.extend_from_slice(&(esp.len() as u32).to_le_bytes());
        ext.extend_from_slice(&esp);
        let mut fix = Fixup {
            seekable_streams: vec![3],
            ..Fixup::default()
        };
        patch_extended_stream_flags(&mut ext, &fix);
        let flags_at = HEADER_EXTENSION_FIXED_LEN + ESP_FLAGS;
        assert_eq!(
            rd_u32(&ext, flags_at) & ESP_FLAG_SEEKABLE,
            ESP_FLAG_SEEKABLE
        );
        fix.broadcast = true;
        patch_extended_stream_flags(&mut ext, &fix);
        assert_eq!(rd_u32(&ext, flags_at) & ESP_FLAG_SEEKABLE, 0);
    }

    #[test]
    fn index_interval_widens_for_long_timelines() {
        assert_eq!(index_interval(1000, 10_000), 1000);
        assert_eq!(index_interval(0, 0), 1);
        assert!(
            u64::from(index_interval(1, u64::from(u32::MAX))) * MAX_INDEX_ENTRIES
                >= u64::from(u32::MAX)
        );
    }
}
