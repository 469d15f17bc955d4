//! Conformance kit (cargo feature `testing`): checks any [`WriterSink`] can run against itself,
//! plus small sinks for tests (a recorder and a sink that fails on demand).
//!
//! ```
//! use push_sink::testing;
//! use push_sink::{FileSink, FileSinkConfig};
//!
//! let report = testing::run_all(&mut || {
//!     Box::new(FileSink::new(std::io::Cursor::new(Vec::new()), FileSinkConfig::default()))
//! });
//! report.assert_ok();
//! ```
//!
//! The input is a [`SyntheticStream`]: a small but valid ASF header (File Properties, one
//! video and one audio Stream Properties Object) and fixed-size data packets with one payload
//! each, built in code, so sinks that parse what they get (like `FileSink`) accept it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::{Bytes, BytesMut};

use crate::error::SinkError;
use crate::sink::{DataUnit, PacketInfo, SinkStats, WriterSink};
use crate::writer::{FinishedPacket, Multiplexer, PacketAllocator, Sample};

/// Makes a fresh sink for each check.
pub type SinkFactory<'a> = dyn FnMut() -> Box<dyn WriterSink> + 'a;

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check's name (e.g. "header_before_data").
    pub check: &'static str,
    /// What went wrong.
    pub detail: String,
}

/// The result of [`run_all`]: every check by name, passed or failed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// (check name, outcome), in the order run.
    pub outcomes: Vec<(&'static str, Result<(), Failure>)>,
}

impl Report {
    /// The failures only.
    pub fn failures(&self) -> Vec<&Failure> {
        self.outcomes
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .collect()
    }

    /// True when every check passed.
    pub fn is_ok(&self) -> bool {
        self.failures().is_empty()
    }

    /// Panics with every failure listed, unless all checks passed (for tests).
    #[track_caller]
    pub fn assert_ok(&self) {
        let failures = self.failures();
        assert!(
            failures.is_empty(),
            "WriterSink conformance failed:\n{}",
            failures
                .iter()
                .map(|f| format!("  {}: {}", f.check, f.detail))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Runs every check of the kit, each on a fresh sink from `make`.
pub fn run_all(make: &mut SinkFactory<'_>) -> Report {
    type Check = fn(&mut SinkFactory<'_>) -> Result<(), Failure>;
    let checks: [(&'static str, Check); 10] = [
        ("header_before_data", check_header_before_data),
        ("allocate_data_unit", check_allocate_data_unit),
        ("multiple_headers", check_multiple_headers),
        ("end_after_data", check_end_after_data),
        ("object_safety", check_object_safety),
        ("stats_monotonic", check_stats_monotonic),
        ("errors_are_values", check_errors_are_values),
        ("is_real_time_stable", check_is_real_time_stable),
        ("shared_units", check_shared_units),
        ("under_writer", check_under_writer),
    ];
    let mut report = Report::default();
    for (name, check) in checks {
        let outcome = match catch_unwind(AssertUnwindSafe(|| check(make))) {
            Ok(r) => r,
            Err(panic) => Err(fail(name, format!("panicked: {}", panic_text(&panic)))),
        };
        report.outcomes.push((name, outcome));
    }
    report
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| String::from("(non-string panic)"))
}

fn fail(check: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        check,
        detail: detail.into(),
    }
}

fn ok_or_fail(check: &'static str, what: &str, r: Result<(), SinkError>) -> Result<(), Failure> {
    r.map_err(|e| fail(check, format!("{what} returned Err: {e}")))
}

/// Feeds `stream`'s packets `range` through `allocate_data_unit` (as the writer does when
/// the sink is alone) and `on_data_unit`.
fn feed(
    check: &'static str,
    sink: &mut dyn WriterSink,
    stream: &SyntheticStream,
    range: std::ops::Range<usize>,
) -> Result<(), Failure> {
    for i in range {
        let unit = stream.unit_for(sink, i).map_err(|e| fail(check, e))?;
        ok_or_fail(check, "on_data_unit", sink.on_data_unit(unit))?;
    }
    Ok(())
}

/// IWMWriterSink: the header comes before any data unit; a sink accepts the header, then data
/// units, then the end. Counters, when the sink reports them, match what it was given.
pub fn check_header_before_data(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "header_before_data";
    let stream = SyntheticStream::default();
    let mut sink = make();
    ok_or_fail(C, "on_header", sink.on_header(&stream.header))?;
    feed(C, sink.as_mut(), &stream, 0..stream.len())?;
    let s = sink.stats();
    if s.headers != 0 && s.headers != 1 {
        return Err(fail(
            C,
            format!("stats.headers is {} after one header", s.headers),
        ));
    }
    let handled = s.packets + s.drops + s.queue_depth;
    if s.packets != 0 && handled != stream.len() as u64 {
        return Err(fail(
            C,
            format!(
                "packets + drops + queue_depth = {handled}, sent {}",
                stream.len()
            ),
        ));
    }
    ok_or_fail(C, "on_end_writing", sink.on_end_writing())
}

/// `allocate_data_unit` gives a buffer whose `len()` is the headroom and whose capacity holds
/// headroom + packet size, and the sink accepts the unit built in it.
pub fn check_allocate_data_unit(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "allocate_data_unit";
    for size in [SyntheticStream::MIN_PACKET_SIZE, 1500, 8192, 64 * 1024 - 1] {
        let stream = SyntheticStream::new(size, 3);
        let mut sink = make();
        ok_or_fail(C, "on_header", sink.on_header(&stream.header))?;
        for i in 0..stream.len() {
            let buf = sink.allocate_data_unit(size);
            let headroom = buf.len();
            if headroom > 64 * 1024 {
                return Err(fail(
                    C,
                    format!("headroom of {headroom} bytes is unreasonable"),
                ));
            }
            if buf.capacity() < headroom + size {
                return Err(fail(
                    C,
                    format!(
                        "capacity {} < headroom {headroom} + packet size {size}",
                        buf.capacity()
                    ),
                ));
            }
            let unit = stream.unit_in(buf, i).map_err(|e| fail(C, e))?;
            if unit.packet() != &stream.packets[i][..] {
                return Err(fail(C, "packet bytes changed in the sink's buffer"));
            }
            ok_or_fail(C, "on_data_unit", sink.on_data_unit(unit))?;
        }
        ok_or_fail(C, "on_end_writing", sink.on_end_writing())?;
    }
    Ok(())
}

/// IWMWriterSink: "may be delivered more than once"; every header is honoured.
pub fn check_multiple_headers(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "multiple_headers";
    let stream = SyntheticStream::default();
    let mut sink = make();
    ok_or_fail(C, "first on_header", sink.on_header(&stream.header))?;
    feed(C, sink.as_mut(), &stream, 0..stream.len() / 2)?;
    let before = sink.stats().headers;
    ok_or_fail(C, "second on_header", sink.on_header(&stream.header))?;
    let after = sink.stats().headers;
    if before != 0 && after != before + 1 {
        return Err(fail(
            C,
            format!("stats.headers went {before} -> {after} on a second header"),
        ));
    }
    feed(C, sink.as_mut(), &stream, stream.len() / 2..stream.len())?;
    ok_or_fail(C, "on_end_writing", sink.on_end_writing())
}

/// `on_end_writing` after data units, and also after a header with no data at all.
pub fn check_end_after_data(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "end_after_data";
    let stream = SyntheticStream::default();
    let mut sink = make();
    ok_or_fail(C, "on_header", sink.on_header(&stream.header))?;
    ok_or_fail(C, "on_end_writing with no data", sink.on_end_writing())?;
    let mut sink = make();
    ok_or_fail(C, "on_header", sink.on_header(&stream.header))?;
    feed(C, sink.as_mut(), &stream, 0..1)?;
    ok_or_fail(C, "on_end_writing after one unit", sink.on_end_writing())
}

/// The sink works behind `Box<dyn WriterSink>` and can move to another thread (`Send`).
pub fn check_object_safety(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "object_safety";
    let stream = SyntheticStream::default();
    let sink: Box<dyn WriterSink> = make();
    let handle = std::thread::spawn(move || {
        let mut sink = sink;
        let r = sink.on_header(&stream.header).map_err(|e| e.to_string());
        let name = sink.name();
        (r, name)
    });
    match handle.join() {
        Ok((Ok(()), name)) if !name.is_empty() => Ok(()),
        Ok((Ok(()), _)) => Err(fail(C, "name() is empty")),
        Ok((Err(e), _)) => Err(fail(C, format!("on_header on another thread: {e}"))),
        Err(p) => Err(fail(
            C,
            format!("panicked on another thread: {}", panic_text(&p)),
        )),
    }
}

/// Counters only grow (queue depth excepted: it is a gauge).
pub fn check_stats_monotonic(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "stats_monotonic";
    let stream = SyntheticStream::default();
    let mut sink = make();
    let mut last = sink.stats();
    let mut step = |sink: &dyn WriterSink, when: &str| -> Result<(), Failure> {
        let now = sink.stats();
        let pairs = [
            ("headers", last.headers, now.headers),
            ("packets", last.packets, now.packets),
            ("bytes", last.bytes, now.bytes),
            ("drops", last.drops, now.drops),
            ("reconnects", last.reconnects, now.reconnects),
        ];
        for (field, a, b) in pairs {
            if b < a {
                return Err(fail(
                    C,
                    format!("stats.{field} went down from {a} to {b} after {when}"),
                ));
            }
        }
        last = now;
        Ok(())
    };
    ok_or_fail(C, "on_header", sink.on_header(&stream.header))?;
    step(sink.as_ref(), "on_header")?;
    for i in 0..stream.len() {
        let unit = stream.unit_for(sink.as_mut(), i).map_err(|e| fail(C, e))?;
        ok_or_fail(C, "on_data_unit", sink.on_data_unit(unit))?;
        step(sink.as_ref(), "on_data_unit")?;
    }
    ok_or_fail(C, "on_end_writing", sink.on_end_writing())?;
    step(sink.as_ref(), "on_end_writing")
}

/// Misuse and bad input give `Err` values (or are tolerated), never a panic: a data unit
/// before any header, a header that is not ASF, calls after the end.
pub fn check_errors_are_values(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "errors_are_values";
    let stream = SyntheticStream::default();
    type Probe<'p> = (&'static str, &'p dyn Fn(&mut dyn WriterSink));
    let probes: [Probe<'_>; 3] = [
        ("on_data_unit before on_header", &|s| {
            let _ = s.on_data_unit(DataUnit::shared(
                stream.packets[0].clone(),
                PacketInfo::default(),
            ));
        }),
        ("on_header with garbage", &|s| {
            let _ = s.on_header(&Bytes::from_static(b"not an ASF header"));
            let _ = s.on_end_writing();
        }),
        ("calls after on_end_writing", &|s| {
            let _ = s.on_header(&stream.header);
            let _ = s.on_end_writing();
            let _ = s.on_data_unit(DataUnit::shared(
                stream.packets[0].clone(),
                PacketInfo::default(),
            ));
            let _ = s.on_end_writing();
            let _ = s.stats();
        }),
    ];
    for (what, probe) in probes {
        let mut sink = make();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| probe(sink.as_mut()))) {
            return Err(fail(C, format!("{what}: panicked: {}", panic_text(&p))));
        }
    }
    Ok(())
}

/// Shared data units (the writer's fan-out to several sinks: no headroom, a `Bytes` clone
/// also held by others) are accepted like exclusive ones.
pub fn check_shared_units(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "shared_units";
    let stream = SyntheticStream::default();
    let mut sink = make();
    ok_or_fail(C, "on_header", sink.on_header(&stream.header))?;
    for i in 0..stream.len() {
        let unit = DataUnit::shared(stream.packets[i].clone(), stream.infos[i]);
        ok_or_fail(C, "on_data_unit (shared)", sink.on_data_unit(unit))?;
    }
    ok_or_fail(C, "on_end_writing", sink.on_end_writing())
}

/// The sink under a real [`Writer`](crate::Writer) (with [`SimpleMux`]), joining mid-stream
/// beside another sink: the writer reports no failure of it, and the packets it counts (if it
/// counts) are the writer's packets minus those skipped before its first key frame.
pub fn check_under_writer(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "under_writer";
    let mut writer = crate::Writer::new(Box::new(SimpleMux::new(1200)));
    writer.add_sink(Box::new(RecordingSink::new(false, 4)));
    writer
        .begin_writing()
        .map_err(|e| fail(C, format!("begin_writing: {e}")))?;
    let sample = |i: u64, stream: u16| Sample {
        stream,
        presentation_time_ms: i * 40,
        duration_ms: 40,
        key_frame: stream == 2 || i.is_multiple_of(10),
        data: Bytes::from(vec![i as u8; if stream == 1 { 3000 } else { 200 }]),
    };
    let mut id = None;
    for i in 0..60u64 {
        if i == 15 {
            id = Some(writer.add_sink(make()));
        }
        for stream in [1, 2] {
            writer
                .write_sample(sample(i, stream))
                .map_err(|e| fail(C, format!("write_sample: {e}")))?;
        }
    }
    let report = id.and_then(|id| writer.sink_reports().into_iter().find(|r| r.id == id));
    writer
        .end_writing()
        .map_err(|e| fail(C, format!("end_writing: {e}")))?;
    if let Some(f) = writer.take_sink_failures().into_iter().next() {
        return Err(fail(C, format!("the writer removed the sink: {f}")));
    }
    let Some(report) = report else {
        return Err(fail(C, "the sink is not attached any more"));
    };
    let s = report.stats;
    if s.packets != 0 {
        let offered = writer.packets_made() - report.skipped_waiting_for_key_frame;
        // Packets made before the sink joined were never offered to it.
        if s.packets + s.drops + s.queue_depth > offered {
            return Err(fail(
                C,
                format!(
                    "counts {} packets, was offered at most {offered}",
                    s.packets
                ),
            ));
        }
    }
    Ok(())
}

/// `is_real_time` answers the same every time (the writer decides pacing from it).
pub fn check_is_real_time_stable(make: &mut SinkFactory<'_>) -> Result<(), Failure> {
    const C: &str = "is_real_time_stable";
    let stream = SyntheticStream::default();
    let mut sink = make();
    let first = sink.is_real_time();
    ok_or_fail(C, "on_header", sink.on_header(&stream.header))?;
    if sink.is_real_time() != first {
        return Err(fail(C, "is_real_time changed after on_header"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

/// A small valid ASF stream built in code: header (Header Object + 50-byte Data Object header)
/// and fixed-size packets, each with one payload (a whole media object of stream 1, video,
/// key frame every 5th packet, or stream 2, audio).
#[derive(Debug, Clone)]
pub struct SyntheticStream {
    /// Header Object + Data Object header, as `on_header` receives it.
    pub header: Bytes,
    /// Packet size of every packet.
    pub packet_size: usize,
    /// The packets.
    pub packets: Vec<Bytes>,
    /// Per-packet information (send time, index, key frame). Audio packets are flagged
    /// `key_frame` too although the stream has video (loose on purpose, as some encoders are).
    pub infos: Vec<PacketInfo>,
}

impl Default for SyntheticStream {
    /// 20 packets of 1000 bytes.
    fn default() -> Self {
        SyntheticStream::new(1000, 20)
    }
}

// GUIDs in disk order (ASF 10.1, 10.2, 10.4).
const G_HEADER: [u8; 16] = guid(
    0x75B22630,
    0x668E,
    0x11CF,
    [0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C],
);
const G_DATA: [u8; 16] = guid(
    0x75B22636,
    0x668E,
    0x11CF,
    [0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C],
);
const G_FILE_PROPS: [u8; 16] = guid(
    0x8CABDCA1,
    0xA947,
    0x11CF,
    [0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65],
);
const G_STREAM_PROPS: [u8; 16] = guid(
    0xB7DC0791,
    0xA9B7,
    0x11CF,
    [0x8E, 0xE6, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65],
);
const G_VIDEO: [u8; 16] = guid(
    0xBC19EFC0,
    0x5B4D,
    0x11CF,
    [0xA8, 0xFD, 0x00, 0x80, 0x5F, 0x5C, 0x44, 0x2B],
);
const G_AUDIO: [u8; 16] = guid(
    0xF8699E40,
    0x5B4D,
    0x11CF,
    [0xA8, 0xFD, 0x00, 0x80, 0x5F, 0x5C, 0x44, 0x2B],
);
const G_NO_EC: [u8; 16] = guid(
    0x20FB5700,
    0x5B55,
    0x11CF,
    [0xA8, 0xFD, 0x00, 0x80, 0x5F, 0x5C, 0x44, 0x2B],
);

const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    asf_format::Guid::from_fields(d1, d2, d3, d4).0
}

impl SyntheticStream {
    /// Smallest packet size accepted by [`new`](Self::new).
    pub const MIN_PACKET_SIZE: usize = 64;

    /// A stream of `count` packets of `packet_size` bytes (at least
    /// [`MIN_PACKET_SIZE`](Self::MIN_PACKET_SIZE), at most 65535), one packet every 40 ms,
    /// preroll 1000 ms.
    pub fn new(packet_size: usize, count: usize) -> Self {
        let packet_size = packet_size.clamp(Self::MIN_PACKET_SIZE, 65535);
        let header = synthetic_header(packet_size as u32, true);
        let mut packets = Vec::with_capacity(count);
        let mut infos = Vec::with_capacity(count);
        for i in 0..count {
            let video = i.is_multiple_of(2);
            let key = video && i.is_multiple_of(10);
            let send = (i as u32) * 40;
            packets.push(synthetic_packet(packet_size, i, video, key, send));
            infos.push(PacketInfo {
                send_time_ms: send,
                duration_ms: 40,
                index: i as u64,
                // Deliberately loose, like many encoders: audio packets are flagged key too
                // (sinks that pick join points must also check the packet; the packets'
                // own key bits are exact).
                key_frame: key || !video,
            });
        }
        SyntheticStream {
            header,
            packet_size,
            packets,
            infos,
        }
    }

    /// Number of packets.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True when there are no packets.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Packet `i` in a buffer from `sink.allocate_data_unit`, as the writer builds it.
    pub fn unit_for(&self, sink: &mut dyn WriterSink, i: usize) -> Result<DataUnit, String> {
        let buf = sink.allocate_data_unit(self.packet_size);
        self.unit_in(buf, i)
    }

    /// Packet `i` appended after the headroom already in `buf`.
    pub fn unit_in(&self, mut buf: BytesMut, i: usize) -> Result<DataUnit, String> {
        let headroom = buf.len();
        buf.extend_from_slice(&self.packets[i]);
        DataUnit::new(buf, headroom, self.infos[i]).map_err(|e| e.to_string())
    }
}

fn synthetic_header(packet_size: u32, with_video: bool) -> Bytes {
    let mut children = Vec::new();
    // ASF 3.2 File Properties Object (broadcast: sizes and durations 0).
    let mut fp = Vec::with_capacity(104);
    fp.extend_from_slice(&G_FILE_PROPS);
    fp.extend_from_slice(&104u64.to_le_bytes());
    fp.extend_from_slice(&[0x42; 16]); // File ID
    fp.extend_from_slice(&[0; 40]); // file size, creation date, packets, play, send duration
    fp.extend_from_slice(&1000u64.to_le_bytes()); // preroll
    fp.extend_from_slice(&1u32.to_le_bytes()); // flags: broadcast
    fp.extend_from_slice(&packet_size.to_le_bytes());
    fp.extend_from_slice(&packet_size.to_le_bytes());
    fp.extend_from_slice(&1_000_000u32.to_le_bytes());
    children.push(fp);
    // ASF 3.3 Stream Properties Objects: stream 1 video (BITMAPINFOHEADER-shaped data),
    // stream 2 audio (WAVEFORMATEX-shaped data).
    if with_video {
        children.push(stream_properties(1, &G_VIDEO, &video_type_data()));
    }
    children.push(stream_properties(2, &G_AUDIO, &audio_type_data()));
    let body: usize = children.iter().map(Vec::len).sum();
    let header_len = 30 + body;
    let mut out = Vec::with_capacity(header_len + 50);
    out.extend_from_slice(&G_HEADER);
    out.extend_from_slice(&(header_len as u64).to_le_bytes());
    out.extend_from_slice(&(children.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0x01, 0x02]);
    for c in &children {
        out.extend_from_slice(c);
    }
    // ASF 5.1 Data Object header: size 50 and 0 packets (live).
    out.extend_from_slice(&G_DATA);
    out.extend_from_slice(&50u64.to_le_bytes());
    out.extend_from_slice(&[0x42; 16]);
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&[0x01, 0x01]);
    Bytes::from(out)
}

fn stream_properties(number: u16, kind: &[u8; 16], type_data: &[u8]) -> Vec<u8> {
    let size = 78 + type_data.len();
    let mut o = Vec::with_capacity(size);
    o.extend_from_slice(&G_STREAM_PROPS);
    o.extend_from_slice(&(size as u64).to_le_bytes());
    o.extend_from_slice(kind);
    o.extend_from_slice(&G_NO_EC);
    o.extend_from_slice(&0u64.to_le_bytes()); // time offset
    o.extend_from_slice(&(type_data.len() as u32).to_le_bytes());
    o.extend_from_slice(&0u32.to_le_bytes()); // error correction data length
    o.extend_from_slice(&number.to_le_bytes()); // flags: stream number
    o.extend_from_slice(&0u32.to_le_bytes()); // reserved
    o.extend_from_slice(type_data);
    o
}

fn video_type_data() -> Vec<u8> {
    let mut d = Vec::with_capacity(51);
    d.extend_from_slice(&320u32.to_le_bytes());
    d.extend_from_slice(&240u32.to_le_bytes());
    d.push(2);
    d.extend_from_slice(&40u16.to_le_bytes());
    // BITMAPINFOHEADER
    d.extend_from_slice(&40u32.to_le_bytes());
    d.extend_from_slice(&320u32.to_le_bytes());
    d.extend_from_slice(&240u32.to_le_bytes());
    d.extend_from_slice(&1u16.to_le_bytes());
    d.extend_from_slice(&24u16.to_le_bytes());
    d.extend_from_slice(b"WMV2");
    d.extend_from_slice(&[0; 20]);
    d
}

fn audio_type_data() -> Vec<u8> {
    let mut d = Vec::with_capacity(18);
    d.extend_from_slice(&0x0161u16.to_le_bytes()); // WMA2
    d.extend_from_slice(&2u16.to_le_bytes());
    d.extend_from_slice(&44_100u32.to_le_bytes());
    d.extend_from_slice(&16_000u32.to_le_bytes());
    d.extend_from_slice(&4096u16.to_le_bytes());
    d.extend_from_slice(&16u16.to_le_bytes());
    d.extend_from_slice(&0u16.to_le_bytes());
    d
}

fn synthetic_packet(packet_size: usize, i: usize, video: bool, key: bool, send_ms: u32) -> Bytes {
    let payload_len = (packet_size - SINGLE_PAYLOAD_OVERHEAD).min(16);
    let payload = vec![i as u8; payload_len];
    let mut p = Vec::with_capacity(packet_size);
    let fragment = Fragment {
        stream: if video { 1 } else { 2 },
        key_frame: key,
        object: (i / 2) as u8,
        offset: 0,
        object_size: payload_len as u32,
        presentation_ms: send_ms + 1000,
        send_ms,
        data: &payload,
    };
    write_single_payload_packet(&mut p, packet_size, &fragment);
    Bytes::from(p)
}

/// Bytes of a single-payload packet before its payload data (see
/// [`write_single_payload_packet`]).
const SINGLE_PAYLOAD_OVERHEAD: usize = 25;

struct Fragment<'a> {
    stream: u8,
    key_frame: bool,
    object: u8,
    offset: u32,
    object_size: u32,
    presentation_ms: u32,
    send_ms: u32,
    data: &'a [u8],
}

/// Appends an ASF 5.2 packet with a single payload to `out`: length type flags 0x10 (no
/// error correction, padding length WORD, single payload), property flags 0x5D (replicated
/// data length BYTE, offset DWORD, media object number BYTE, stream number BYTE), 8 bytes of
/// replicated data (media object size, presentation time), then padding to `packet_size`.
fn write_single_payload_packet<B: Extend<u8> + AsMut<[u8]> + AsRef<[u8]>>(
    out: &mut B,
    packet_size: usize,
    f: &Fragment<'_>,
) {
    let start = out.as_ref().len();
    let padding = packet_size - SINGLE_PAYLOAD_OVERHEAD - f.data.len();
    let mut head = [0u8; SINGLE_PAYLOAD_OVERHEAD];
    head[0] = 0x10;
    head[1] = 0x5D;
    head[2..4].copy_from_slice(&(padding as u16).to_le_bytes());
    head[4..8].copy_from_slice(&f.send_ms.to_le_bytes());
    head[8..10].copy_from_slice(&40u16.to_le_bytes());
    head[10] = f.stream | if f.key_frame { 0x80 } else { 0 };
    head[11] = f.object;
    head[12..16].copy_from_slice(&f.offset.to_le_bytes());
    head[16] = 8;
    head[17..21].copy_from_slice(&f.object_size.to_le_bytes());
    head[21..25].copy_from_slice(&f.presentation_ms.to_le_bytes());
    out.extend(head);
    out.extend(f.data.iter().copied());
    out.extend(std::iter::repeat_n(0u8, padding));
    debug_assert_eq!(out.as_ref().len() - start, packet_size);
}

/// A small [`Multiplexer`] for tests: every packet holds one payload (a whole sample or a
/// fragment of one), send time = presentation time. Either over a synthetic header (stream 1
/// video, stream 2 audio, preroll 1000 ms) or over an existing ASF header
/// ([`from_header`](Self::from_header), so real media decodes in real players). Not a
/// packetizer for production (no multiple payloads, no leaky bucket): use asf-packetizer.
#[derive(Debug, Clone)]
pub struct SimpleMux {
    packet_size: usize,
    header: Bytes,
    preroll_ms: u32,
    streams: Vec<u16>,
    video_streams: Vec<u16>,
    object_numbers: [u8; 128],
}

impl SimpleMux {
    /// Preroll of the synthetic streams, in milliseconds.
    pub const PREROLL_MS: u32 = 1000;

    /// Video (stream 1) and audio (stream 2), `packet_size` clamped to 64..=65535.
    pub fn new(packet_size: usize) -> Self {
        let packet_size = packet_size.clamp(64, 65535);
        SimpleMux {
            packet_size,
            header: synthetic_header(packet_size as u32, true),
            preroll_ms: Self::PREROLL_MS,
            streams: vec![1, 2],
            video_streams: vec![1],
            object_numbers: [0; 128],
        }
    }

    /// Audio only (stream 2).
    pub fn audio_only(packet_size: usize) -> Self {
        let packet_size = packet_size.clamp(64, 65535);
        SimpleMux {
            header: synthetic_header(packet_size as u32, false),
            streams: vec![2],
            video_streams: Vec::new(),
            ..Self::new(packet_size)
        }
    }

    /// Over an existing header (Header Object + 50-byte Data Object header): its packet size,
    /// preroll and streams.
    pub fn from_header(header: Bytes) -> crate::Result<Self> {
        let h = crate::file_sink::header_summary(&header)?;
        if (h.packet_size as usize) < 64 {
            return Err(crate::Error::Unsupported(
                "SimpleMux needs packets of at least 64 bytes",
            ));
        }
        Ok(SimpleMux {
            packet_size: h.packet_size as usize,
            header,
            preroll_ms: u32::try_from(h.preroll_ms)
                .map_err(|_| crate::Error::Unsupported("preroll over 49 days"))?,
            streams: h.streams,
            video_streams: h.video_streams,
            object_numbers: [0; 128],
        })
    }
}

impl Multiplexer for SimpleMux {
    fn header(&mut self) -> crate::Result<Bytes> {
        Ok(self.header.clone())
    }

    fn packet_size(&self) -> usize {
        self.packet_size
    }

    fn push_sample(
        &mut self,
        sample: Sample,
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<FinishedPacket>,
    ) -> crate::Result<()> {
        if !self.streams.contains(&sample.stream) {
            return Err(crate::Error::Misuse(
                "sample for a stream the header does not declare",
            ));
        }
        let video = self.video_streams.contains(&sample.stream);
        if sample.data.is_empty() {
            return Err(crate::Error::Misuse("empty sample"));
        }
        let size = u32::try_from(sample.data.len())
            .map_err(|_| crate::Error::Unsupported("sample over 4 GiB"))?;
        let pt = u32::try_from(sample.presentation_time_ms)
            .ok()
            .and_then(|t| t.checked_add(self.preroll_ms))
            .ok_or(crate::Error::Unsupported(
                "presentation time past the 32-bit millisecond range",
            ))?;
        let object = self.object_numbers[usize::from(sample.stream)];
        self.object_numbers[usize::from(sample.stream)] = object.wrapping_add(1);
        let room = self.packet_size - SINGLE_PAYLOAD_OVERHEAD;
        for (n, chunk) in sample.data.chunks(room).enumerate() {
            let mut buffer = alloc.allocate(self.packet_size);
            let headroom = buffer.len();
            let offset = (n * room) as u32;
            let fragment = Fragment {
                stream: sample.stream as u8,
                key_frame: sample.key_frame,
                object,
                offset,
                object_size: size,
                presentation_ms: pt,
                send_ms: pt - self.preroll_ms,
                data: chunk,
            };
            write_single_payload_packet(&mut buffer, self.packet_size, &fragment);
            // PacketInfo::key_frame: begins a video key frame, or any object when there is no video.
            let key_frame =
                offset == 0 && sample.key_frame && (video || self.video_streams.is_empty());
            let info = PacketInfo {
                send_time_ms: fragment.send_ms,
                duration_ms: 40,
                index: 0,
                key_frame,
            };
            out.push(FinishedPacket {
                buffer,
                headroom,
                info,
            });
        }
        Ok(())
    }

    fn flush(
        &mut self,
        _: &mut dyn PacketAllocator,
        _: &mut Vec<FinishedPacket>,
    ) -> crate::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

/// One call a [`RecordingSink`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkCall {
    /// `on_header` with these bytes.
    Header(Bytes),
    /// `on_data_unit`: the packet bytes, their info, and the unit's headroom.
    DataUnit {
        /// Packet bytes (without headroom).
        packet: Bytes,
        /// The writer's packet information.
        info: PacketInfo,
        /// Headroom in front of the packet.
        headroom: usize,
        /// Whether the buffer was exclusive (from this sink's allocator).
        exclusive: bool,
    },
    /// `on_end_writing`.
    End,
}

/// Records every call in a log shared with clones of its [`RecordingSink::log`] handle.
#[derive(Debug, Clone)]
pub struct RecordingSink {
    log: std::sync::Arc<std::sync::Mutex<Vec<SinkCall>>>,
    real_time: bool,
    headroom: usize,
    stats: SinkStats,
}

impl RecordingSink {
    /// A recorder; `real_time` is what `is_real_time` answers, `headroom` what
    /// `allocate_data_unit` reserves.
    pub fn new(real_time: bool, headroom: usize) -> Self {
        RecordingSink {
            log: Default::default(),
            real_time,
            headroom,
            stats: SinkStats::default(),
        }
    }

    /// A handle on the log that stays valid after the sink moved into a writer.
    pub fn log(&self) -> std::sync::Arc<std::sync::Mutex<Vec<SinkCall>>> {
        self.log.clone()
    }

    fn push(&self, call: SinkCall) {
        match self.log.lock() {
            Ok(mut l) => l.push(call),
            Err(poisoned) => poisoned.into_inner().push(call),
        }
    }
}

impl WriterSink for RecordingSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), SinkError> {
        self.stats.headers += 1;
        self.push(SinkCall::Header(header.clone()));
        Ok(())
    }
    fn is_real_time(&self) -> bool {
        self.real_time
    }
    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        let mut b = BytesMut::with_capacity(self.headroom + packet_size);
        b.resize(self.headroom, 0);
        b
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), SinkError> {
        self.stats.packets += 1;
        self.stats.bytes += unit.len() as u64;
        let headroom = unit.headroom();
        let exclusive = unit.is_exclusive();
        let info = unit.info();
        self.push(SinkCall::DataUnit {
            packet: unit.into_packet(),
            info,
            headroom,
            exclusive,
        });
        Ok(())
    }
    fn on_end_writing(&mut self) -> Result<(), SinkError> {
        self.push(SinkCall::End);
        Ok(())
    }
    fn stats(&self) -> SinkStats {
        self.stats
    }
    fn name(&self) -> String {
        String::from("recording sink")
    }
}

/// A sink that returns `Err` from the `fail_at`-th call (0-based, counting every
/// `on_header`, `on_data_unit` and `on_end_writing`), and accepts everything else.
#[derive(Debug, Clone)]
pub struct FailingSink {
    calls: u64,
    fail_at: u64,
}

impl FailingSink {
    /// Fails at call number `fail_at`.
    pub fn new(fail_at: u64) -> Self {
        FailingSink { calls: 0, fail_at }
    }

    fn call(&mut self) -> Result<(), SinkError> {
        let n = self.calls;
        self.calls += 1;
        if n == self.fail_at {
            Err(SinkError::Disconnected("failing sink failed on purpose"))
        } else {
            Ok(())
        }
    }
}

impl WriterSink for FailingSink {
    fn on_header(&mut self, _: &Bytes) -> Result<(), SinkError> {
        self.call()
    }
    fn is_real_time(&self) -> bool {
        false
    }
    fn on_data_unit(&mut self, _: DataUnit) -> Result<(), SinkError> {
        self.call()
    }
    fn on_end_writing(&mut self) -> Result<(), SinkError> {
        self.call()
    }
    fn name(&self) -> String {
        String::from("failing sink")
    }
}
