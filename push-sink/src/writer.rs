//! Fan-out of ASF packets to sinks ([`SinkSet`]), and the [`Writer`] (the analog of the Windows
//! Media Format SDK's `IWMWriter` / `IWMWriterAdvanced`) built on it.
//!
//! # Buffers: zero copy with one sink, shared with several
//!
//! When exactly one sink is attached, the packet is written straight into the buffer that
//! sink supplies through [`WriterSink::allocate_data_unit`], after the headroom it asked for,
//! and handed back to it as an exclusive [`DataUnit`]: the push sink can put its `$D` framing
//! header into the headroom and send without a copy. With two or more sinks the packet is
//! written once into a pooled buffer (one allocation per 64 packets, split off a
//! [`BytesMut`] arena) and every sink gets a shared [`DataUnit`] (a [`Bytes`] clone, no copy).
//!
//! # Sinks joining and failing
//!
//! A sink added while writing gets the current header at once and then data units from the
//! next packet that begins a key frame ([`PacketInfo::key_frame`]). A sink that returns `Err`
//! is removed at once and reported as [`Error::SinkFailed`] through
//! [`SinkSet::take_failures`] / [`Writer::take_sink_failures`]; writing to the others goes on.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::clock::Pacer;
use crate::error::{Error, Result, SinkId};
use crate::sink::{DataUnit, PacketInfo, SinkStats, WriterSink};

/// Packets per pooled arena allocation when fanning out to several sinks.
const POOL_PACKETS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JoinState {
    /// Gets every packet.
    Live,
    /// Joined mid-stream: waits for a packet that begins a key frame.
    WaitingForKeyFrame,
}

struct Entry {
    id: SinkId,
    sink: Box<dyn WriterSink>,
    state: JoinState,
    /// Packets not delivered because the sink was waiting for a key frame.
    skipped: u64,
}

/// Statistics of one attached sink, as the writer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkReport {
    /// The sink's id.
    pub id: SinkId,
    /// The sink's name.
    pub name: String,
    /// What the sink reports about itself.
    pub stats: SinkStats,
    /// Packets the writer did not deliver because the sink joined mid-stream and was waiting
    /// for a key frame.
    pub skipped_waiting_for_key_frame: u64,
    /// Whether the sink asks for real-time delivery.
    pub real_time: bool,
}

/// A packet made for the current set of sinks, not yet delivered.
#[derive(Debug)]
pub(crate) struct PreparedPacket {
    unit: DataUnit,
    /// The sink whose buffer holds the packet (zero-copy case).
    owner: Option<SinkId>,
}

impl PreparedPacket {
    fn info(&self) -> PacketInfo {
        self.unit.info()
    }
}

/// A set of sinks fed the same ASF stream: header announcements, packets, the end. Used by
/// the [`Writer`], and usable alone by relays (a publishing point fanning out packets it
/// received) through [`announce_header`](Self::announce_header) and
/// [`deliver_bytes`](Self::deliver_bytes).
pub struct SinkSet {
    entries: Vec<Entry>,
    next_id: u64,
    header: Option<Bytes>,
    writing: bool,
    pool: BytesMut,
    failures: Vec<Error>,
}

impl std::fmt::Debug for SinkSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkSet")
            .field(
                "sinks",
                &self
                    .entries
                    .iter()
                    .map(|e| (e.id, e.sink.name()))
                    .collect::<Vec<_>>(),
            )
            .field("header_len", &self.header.as_ref().map(Bytes::len))
            .field("writing", &self.writing)
            .field("failures", &self.failures.len())
            .finish()
    }
}

impl Default for SinkSet {
    fn default() -> Self {
        Self::new()
    }
}

impl SinkSet {
    /// No sinks.
    pub fn new() -> Self {
        SinkSet {
            entries: Vec::new(),
            next_id: 1,
            header: None,
            writing: false,
            pool: BytesMut::new(),
            failures: Vec::new(),
        }
    }

    /// Attaches a sink (`IWMWriterAdvanced::AddSink`). While writing, it gets the current
    /// header at once and data from the next key-frame packet on.
    pub fn add(&mut self, sink: Box<dyn WriterSink>) -> SinkId {
        let id = SinkId(self.next_id);
        self.next_id += 1;
        let mut entry = Entry {
            id,
            sink,
            state: JoinState::Live,
            skipped: 0,
        };
        if self.writing {
            entry.state = JoinState::WaitingForKeyFrame;
            if let Some(header) = &self.header
                && let Err(e) = entry.sink.on_header(header)
            {
                self.report(entry.id, entry.sink.name(), e);
                return id;
            }
        }
        self.entries.push(entry);
        id
    }

    /// Detaches a sink and gives it back (`IWMWriterAdvanced::RemoveSink`); nothing more is
    /// called on it (call `on_end_writing` yourself to finish it). `None` when the id is
    /// unknown or the sink was already removed after a failure.
    pub fn remove(&mut self, id: SinkId) -> Option<Box<dyn WriterSink>> {
        let i = self.entries.iter().position(|e| e.id == id)?;
        Some(self.entries.remove(i).sink)
    }

    /// Number of attached sinks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no sink is attached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Ids of the attached sinks, in the order they were added.
    pub fn ids(&self) -> Vec<SinkId> {
        self.entries.iter().map(|e| e.id).collect()
    }

    /// True when any attached sink asks for real-time delivery.
    pub fn any_real_time(&self) -> bool {
        self.entries.iter().any(|e| e.sink.is_real_time())
    }

    /// The current header (the last one announced), if any.
    pub fn header(&self) -> Option<&Bytes> {
        self.header.as_ref()
    }

    /// Whether a stream is in progress (between the first header and [`end`](Self::end)).
    pub fn is_writing(&self) -> bool {
        self.writing
    }

    /// Every sink's statistics.
    pub fn reports(&self) -> Vec<SinkReport> {
        self.entries
            .iter()
            .map(|e| SinkReport {
                id: e.id,
                name: e.sink.name(),
                stats: e.sink.stats(),
                skipped_waiting_for_key_frame: e.skipped,
                real_time: e.sink.is_real_time(),
            })
            .collect()
    }

    /// Sink failures since the last call: each is an [`Error::SinkFailed`] naming the sink,
    /// which was removed.
    pub fn take_failures(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.failures)
    }

    fn report(&mut self, id: SinkId, name: String, source: Error) {
        tracing::warn!(%id, name = %name, error = %source, "sink failed and was removed");
        self.failures.push(Error::SinkFailed {
            id,
            name,
            source: Box::new(source),
        });
    }

    /// Calls `f` on every sink; removes and reports those that fail.
    fn each(&mut self, mut f: impl FnMut(&mut Entry) -> Result<()>) {
        let mut i = 0;
        while i < self.entries.len() {
            match f(&mut self.entries[i]) {
                Ok(()) => i += 1,
                Err(e) => {
                    let entry = self.entries.remove(i);
                    self.report(entry.id, entry.sink.name(), e);
                }
            }
        }
    }

    /// Announces a header to every sink (the first starts a stream; later ones are new
    /// profiles: IWMWriterSink "OnHeader may be delivered more than once").
    pub fn announce_header(&mut self, header: Bytes) {
        self.writing = true;
        self.each(|e| e.sink.on_header(&header));
        self.header = Some(header);
    }

    /// Delivers a prepared packet to every sink (late joiners from the next key frame on).
    pub(crate) fn deliver(&mut self, prepared: PreparedPacket) {
        let PreparedPacket { unit, owner } = prepared;
        let key = unit.is_key_frame();
        if let (Some(owner), [only]) = (owner, self.entries.as_slice())
            && only.id == owner
        {
            let mut delivered = Some(unit);
            self.each(|e| {
                if e.state == JoinState::WaitingForKeyFrame && !key {
                    e.skipped += 1;
                    return Ok(());
                }
                e.state = JoinState::Live;
                match delivered.take() {
                    Some(u) => e.sink.on_data_unit(u),
                    None => Ok(()),
                }
            });
            return;
        }
        // Shared: cut the headroom off (no copy) and hand every sink a clone.
        let info = unit.info();
        let packet = unit.into_packet();
        self.each(|e| {
            if e.state == JoinState::WaitingForKeyFrame && !key {
                e.skipped += 1;
                return Ok(());
            }
            e.state = JoinState::Live;
            e.sink.on_data_unit(DataUnit::shared(packet.clone(), info))
        });
    }

    /// Delivers an already-made packet (a relay's path): shared to every sink.
    pub fn deliver_bytes(&mut self, packet: Bytes, info: PacketInfo) {
        self.deliver(PreparedPacket {
            unit: DataUnit::shared(packet, info),
            owner: None,
        });
    }

    /// Ends the stream on every sink (`on_end_writing`); the sinks stay attached for the
    /// next stream.
    pub fn end(&mut self) {
        self.each(|e| e.sink.on_end_writing());
        for e in &mut self.entries {
            e.state = JoinState::Live;
        }
        self.writing = false;
    }
}

// ---------------------------------------------------------------------------------------------

/// A packet waiting for its send time (real-time delivery).
#[derive(Debug)]
struct Queued {
    prepared: PreparedPacket,
}

/// Delivery order and pacing of a [`Writer`]: packets go out at once when no sink is
/// real-time, else they wait in a queue until their send time (see [`Pacer`]). The queue is
/// bounded (see [`WriterConfig::pacing_backlog`]): past the bound its oldest packets go out
/// early.
#[derive(Debug)]
pub(crate) struct Delivery {
    queue: VecDeque<Queued>,
    pacer: Pacer,
    bytes: usize,
    max_bytes: usize,
    max_span_ms: u32,
    early: u64,
}

impl Delivery {
    pub(crate) fn new(config: &WriterConfig) -> Self {
        Delivery {
            queue: VecDeque::new(),
            pacer: Pacer::new(config.pacing_lead),
            bytes: 0,
            max_bytes: config.pacing_max_bytes,
            max_span_ms: u32::try_from(config.pacing_backlog.as_millis()).unwrap_or(u32::MAX),
            early: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.pacer.reset();
    }

    /// Queues a packet for its send time; when the queue is over its bounds (bytes, or stream
    /// time from its oldest to its newest packet), the oldest packets go to `sinks` at once.
    pub(crate) fn push(&mut self, prepared: PreparedPacket, sinks: &mut SinkSet) {
        self.bytes += prepared.unit.len();
        self.queue.push_back(Queued { prepared });
        let newest = self
            .queue
            .back()
            .map_or(0, |q| q.prepared.info().send_time_ms);
        while let Some(front) = self.queue.front() {
            let span = newest.saturating_sub(front.prepared.info().send_time_ms);
            if self.bytes <= self.max_bytes && span <= self.max_span_ms {
                break;
            }
            if let Some(q) = self.queue.pop_front() {
                self.bytes -= q.prepared.unit.len();
                self.early += 1;
                sinks.deliver(q.prepared);
            }
        }
    }

    /// Packets delivered before their send time because the queue was over its bounds.
    pub(crate) fn early(&self) -> u64 {
        self.early
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Delivers every queued packet that is due at `now`; returns how long until the next one
    /// is due (`None` when the queue is empty).
    pub(crate) fn deliver_due(&mut self, sinks: &mut SinkSet, now: Duration) -> Option<Duration> {
        while let Some(front) = self.queue.front() {
            let wait = self.pacer.delay(front.prepared.info().send_time_ms, now);
            if !wait.is_zero() {
                return Some(wait);
            }
            if let Some(q) = self.queue.pop_front() {
                self.bytes -= q.prepared.unit.len();
                sinks.deliver(q.prepared);
            }
        }
        None
    }

    pub(crate) fn flush(&mut self, sinks: &mut SinkSet) {
        while let Some(q) = self.queue.pop_front() {
            self.bytes -= q.prepared.unit.len();
            sinks.deliver(q.prepared);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The multiplexer the writer drives.

/// One media sample (one whole media object) for the writer: the analog of an `INSSBuffer`
/// passed to `IWMWriter::WriteSample`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Stream number (1..=127, ASF 5.2.3).
    pub stream: u16,
    /// Presentation time in milliseconds, without the preroll (the multiplexer adds it).
    pub presentation_time_ms: u64,
    /// Duration in milliseconds (0 when unknown).
    pub duration_ms: u32,
    /// True for a key frame (a clean point); every audio sample is one.
    pub key_frame: bool,
    /// The compressed media object.
    pub data: Bytes,
}

/// Supplies packet buffers to a [`Multiplexer`] (headroom already in `len()`, like
/// [`WriterSink::allocate_data_unit`]).
pub trait PacketAllocator {
    /// A buffer for one packet: `len()` is headroom, capacity >= headroom + `packet_size`.
    fn allocate(&mut self, packet_size: usize) -> BytesMut;
}

/// A packet finished by a [`Multiplexer`], in a buffer from its [`PacketAllocator`].
#[derive(Debug)]
pub struct FinishedPacket {
    /// Headroom followed by exactly `packet_size` packet bytes.
    pub buffer: BytesMut,
    /// Headroom length (the `len()` the allocator returned).
    pub headroom: usize,
    /// Send time, index and key-frame flag of the packet.
    pub info: PacketInfo,
}

/// What the [`Writer`] needs from a packetizer: the header, and samples turned into
/// fixed-size packets written into allocator-supplied buffers. asf-packetizer's packetizer
/// is the production implementation; `testing::SimpleMux` a small one for tests.
pub trait Multiplexer: Send {
    /// The header to announce: Header Object + the 50-byte Data Object header.
    fn header(&mut self) -> Result<Bytes>;
    /// The fixed packet size.
    fn packet_size(&self) -> usize;
    /// Packetizes one sample; appends every packet it finishes to `out`.
    fn push_sample(
        &mut self,
        sample: Sample,
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<FinishedPacket>,
    ) -> Result<()>;
    /// Finishes the packet in progress (if any) and appends it to `out`.
    fn flush(
        &mut self,
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<FinishedPacket>,
    ) -> Result<()>;
}

/// Allocator over a [`SinkSet`]: the only sink's buffers, else the pool. Records which sink
/// supplied each buffer (in order), so delivery knows when the unit is exclusive.
struct SetAllocator<'a> {
    sinks: &'a mut SinkSet,
    owners: &'a mut VecDeque<Option<SinkId>>,
}

impl PacketAllocator for SetAllocator<'_> {
    fn allocate(&mut self, packet_size: usize) -> BytesMut {
        if let [only] = self.sinks.entries.as_mut_slice() {
            let buf = only.sink.allocate_data_unit(packet_size);
            if buf.capacity() - buf.len() >= packet_size {
                self.owners.push_back(Some(only.id));
                return buf;
            }
            let (id, name) = (only.id, only.sink.name());
            self.sinks.entries.clear();
            self.sinks.report(
                id,
                name,
                Error::Contract("allocate_data_unit returned less capacity than asked for"),
            );
        }
        self.owners.push_back(None);
        // Several sinks (or none): cut the buffer from the pooled arena; one allocation
        // serves POOL_PACKETS packets (bytes reuses it once every packet cut from it is gone).
        let pool = &mut self.sinks.pool;
        if pool.capacity() < packet_size {
            pool.reserve(packet_size * POOL_PACKETS);
        }
        pool.resize(packet_size, 0);
        let mut buf = pool.split_to(packet_size);
        buf.clear();
        buf
    }
}

// ---------------------------------------------------------------------------------------------

/// Per-stream counters of a [`Writer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamStats {
    /// Stream number.
    pub stream: u16,
    /// Samples accepted.
    pub samples: u64,
    /// Bytes of samples accepted.
    pub bytes: u64,
    /// Samples refused (the multiplexer returned an error for them).
    pub dropped: u64,
}

/// Settings of a [`Writer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterConfig {
    /// How far ahead of its send time a packet may go to a real-time sink (see [`Pacer`]).
    /// Default 500 ms.
    pub pacing_lead: Duration,
    /// Most stream time the pacing queue holds (send time of its newest packet minus its
    /// oldest). Default 10 s. A caller that writes faster than real time and neither awaits
    /// the paced methods nor calls [`Writer::deliver_due`] would grow the queue without
    /// bound; past this bound its oldest packets go to the sinks at once, where real-time
    /// sinks apply their own bounded queues and drop policies (a push sink's
    /// `queue_max_duration`, for one). [`Writer::early_packets`] counts them.
    pub pacing_backlog: Duration,
    /// Most bytes of packets the pacing queue holds (default 16 MiB); past it, the oldest go
    /// out early as for [`pacing_backlog`](Self::pacing_backlog).
    pub pacing_max_bytes: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            pacing_lead: Duration::from_millis(500),
            pacing_backlog: Duration::from_secs(10),
            pacing_max_bytes: 16 << 20,
        }
    }
}

impl WriterConfig {
    /// Sets [`pacing_lead`](Self::pacing_lead).
    pub fn pacing_lead(mut self, lead: Duration) -> Self {
        self.pacing_lead = lead;
        self
    }

    /// Sets the pacing queue bounds ([`pacing_backlog`](Self::pacing_backlog) and
    /// [`pacing_max_bytes`](Self::pacing_max_bytes)).
    pub fn pacing_bounds(mut self, backlog: Duration, max_bytes: usize) -> Self {
        self.pacing_backlog = backlog;
        self.pacing_max_bytes = max_bytes;
        self
    }
}

/// The writer: samples in, ASF packets out to every sink; the analog of `IWMWriter` +
/// `IWMWriterAdvanced`.
///
/// # Call order
///
/// [`add_sink`](Self::add_sink) / [`remove_sink`](Self::remove_sink) at any time;
/// [`begin_writing`](Self::begin_writing), then [`write_sample`](Self::write_sample) (or the
/// async [`write_sample_paced`](Self::write_sample_paced)) any number of times, then
/// [`end_writing`](Self::end_writing); [`set_profile`](Self::set_profile) between samples
/// re-announces the header. Calls out of order give [`Error::Misuse`].
///
/// # Pacing
///
/// When no attached sink is real-time, every packet is delivered as soon as it is made. When
/// one is, packets wait in a queue until their send time: the sync core never reads a clock;
/// call [`deliver_due`](Self::deliver_due) with the time from your [`Clock`](crate::Clock), or use
/// [`write_sample_paced`](Self::write_sample_paced) / [`end_writing_paced`](Self::end_writing_paced)
/// on tokio, which sleep until packets are due. `write_sample` itself never waits: a caller
/// faster than real time (reading a file, say) that neither awaits the paced methods nor calls
/// `deliver_due` fills the queue up to its bounds ([`WriterConfig::pacing_backlog`],
/// [`WriterConfig::pacing_max_bytes`]); past them the oldest packets go to the sinks early
/// ([`early_packets`](Self::early_packets)), so memory stays bounded;
/// [`queued_packets`](Self::queued_packets) shows the queue's depth.
pub struct Writer {
    mux: Box<dyn Multiplexer>,
    sinks: SinkSet,
    delivery: Delivery,
    writing: bool,
    next_index: u64,
    streams: Vec<StreamStats>,
    finished: Vec<FinishedPacket>,
    owners: VecDeque<Option<SinkId>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("sinks", &self.sinks)
            .field("writing", &self.writing)
            .field("packets", &self.next_index)
            .field("queued", &self.delivery.len())
            .finish()
    }
}

impl Writer {
    /// A writer over `mux` with default settings.
    pub fn new(mux: Box<dyn Multiplexer>) -> Self {
        Self::with_config(mux, WriterConfig::default())
    }

    /// A writer over `mux`.
    pub fn with_config(mux: Box<dyn Multiplexer>, config: WriterConfig) -> Self {
        Writer {
            mux,
            sinks: SinkSet::new(),
            delivery: Delivery::new(&config),
            writing: false,
            next_index: 0,
            streams: Vec::new(),
            finished: Vec::new(),
            owners: VecDeque::new(),
        }
    }

    /// Attaches a sink (`IWMWriterAdvanced::AddSink`); see [`SinkSet::add`].
    pub fn add_sink(&mut self, sink: Box<dyn WriterSink>) -> SinkId {
        self.sinks.add(sink)
    }

    /// Detaches a sink and gives it back (`IWMWriterAdvanced::RemoveSink`); see
    /// [`SinkSet::remove`].
    pub fn remove_sink(&mut self, id: SinkId) -> Option<Box<dyn WriterSink>> {
        self.sinks.remove(id)
    }

    /// The attached sinks.
    pub fn sinks(&self) -> &SinkSet {
        &self.sinks
    }

    /// Every sink's statistics.
    pub fn sink_reports(&self) -> Vec<SinkReport> {
        self.sinks.reports()
    }

    /// Sinks that failed (and were removed) since the last call, as [`Error::SinkFailed`].
    pub fn take_sink_failures(&mut self) -> Vec<Error> {
        self.sinks.take_failures()
    }

    /// Per-stream counters, by stream number.
    pub fn stream_stats(&self) -> Vec<StreamStats> {
        self.streams.clone()
    }

    /// Packets made since `begin_writing`.
    pub fn packets_made(&self) -> u64 {
        self.next_index
    }

    /// Packets made but waiting for their send time (real-time sinks attached).
    pub fn queued_packets(&self) -> usize {
        self.delivery.len()
    }

    /// Packets delivered before their send time because the pacing queue was over its bounds
    /// (see [`WriterConfig::pacing_backlog`]).
    pub fn early_packets(&self) -> u64 {
        self.delivery.early()
    }

    /// True when any attached sink asks for real-time delivery.
    pub fn is_real_time(&self) -> bool {
        self.sinks.any_real_time()
    }

    /// Whether writing is in progress.
    pub fn is_writing(&self) -> bool {
        self.writing
    }

    /// Starts writing: announces the header to every sink (`IWMWriter::BeginWriting`).
    pub fn begin_writing(&mut self) -> Result<()> {
        if self.writing {
            return Err(Error::Misuse("begin_writing while already writing"));
        }
        let header = self.mux.header()?;
        self.next_index = 0;
        self.delivery.reset();
        self.sinks.announce_header(header);
        self.writing = true;
        Ok(())
    }

    /// Writes one sample (`IWMWriter::WriteSample`): packets it completes are delivered at
    /// once, or queued for pacing when a sink is real-time (then call
    /// [`deliver_due`](Self::deliver_due)).
    pub fn write_sample(&mut self, sample: Sample) -> Result<()> {
        if !self.writing {
            return Err(Error::Misuse("write_sample before begin_writing"));
        }
        let stream = sample.stream;
        let len = sample.data.len() as u64;
        let mut alloc = SetAllocator {
            sinks: &mut self.sinks,
            owners: &mut self.owners,
        };
        let r = self.mux.push_sample(sample, &mut alloc, &mut self.finished);
        let stats = match self.streams.iter().position(|s| s.stream == stream) {
            Some(i) => &mut self.streams[i],
            None => {
                self.streams.push(StreamStats {
                    stream,
                    ..StreamStats::default()
                });
                self.streams.sort_by_key(|s| s.stream);
                let i = self
                    .streams
                    .iter()
                    .position(|s| s.stream == stream)
                    .unwrap_or(0);
                &mut self.streams[i]
            }
        };
        match r {
            Ok(()) => {
                stats.samples += 1;
                stats.bytes += len;
            }
            Err(e) => {
                stats.dropped += 1;
                self.route_finished()?;
                return Err(e);
            }
        }
        self.route_finished()
    }

    /// Moves finished packets to delivery: at once, or into the pacing queue.
    fn route_finished(&mut self) -> Result<()> {
        let real_time = self.sinks.any_real_time();
        for p in std::mem::take(&mut self.finished) {
            let owner = self.owners.pop_front().flatten();
            let mut info = p.info;
            info.index = self.next_index;
            self.next_index += 1;
            let unit = DataUnit::new(p.buffer, p.headroom, info)?;
            if unit.len() != self.mux.packet_size() {
                return Err(Error::Contract(
                    "multiplexer made a packet of another size than its packet size",
                ));
            }
            let prepared = PreparedPacket { unit, owner };
            if real_time {
                self.delivery.push(prepared, &mut self.sinks);
            } else {
                self.delivery.flush(&mut self.sinks);
                self.sinks.deliver(prepared);
            }
        }
        Ok(())
    }

    /// Delivers every queued packet due at `now` (time from a monotonic [`Clock`](crate::Clock));
    /// returns how long until the next one is due, `None` when nothing is queued.
    pub fn deliver_due(&mut self, now: Duration) -> Option<Duration> {
        self.delivery.deliver_due(&mut self.sinks, now)
    }

    /// [`write_sample`](Self::write_sample), then waits (tokio timer) until every packet made
    /// so far has been delivered at its send time.
    pub async fn write_sample_paced(
        &mut self,
        sample: Sample,
        clock: &dyn crate::clock::Clock,
    ) -> Result<()> {
        self.write_sample(sample)?;
        self.drain_paced(clock).await;
        Ok(())
    }

    async fn drain_paced(&mut self, clock: &dyn crate::clock::Clock) {
        while let Some(wait) = self.deliver_due(clock.now()) {
            tokio::time::sleep(wait).await;
        }
    }

    /// Starts a new profile mid-stream: flushes the packet in progress, delivers what is
    /// queued, and announces the new multiplexer's header to every sink.
    pub fn set_profile(&mut self, mux: Box<dyn Multiplexer>) -> Result<()> {
        if self.writing {
            self.flush_mux()?;
            self.delivery.flush(&mut self.sinks);
            self.mux = mux;
            let header = self.mux.header()?;
            self.sinks.announce_header(header);
        } else {
            self.mux = mux;
        }
        Ok(())
    }

    fn flush_mux(&mut self) -> Result<()> {
        let mut alloc = SetAllocator {
            sinks: &mut self.sinks,
            owners: &mut self.owners,
        };
        self.mux.flush(&mut alloc, &mut self.finished)?;
        self.route_finished()
    }

    /// Ends writing (`IWMWriter::EndWriting`): flushes the last packet, delivers every queued
    /// packet at once (no pacing; see [`end_writing_paced`](Self::end_writing_paced)), and
    /// calls `on_end_writing` on every sink.
    pub fn end_writing(&mut self) -> Result<()> {
        if !self.writing {
            return Err(Error::Misuse("end_writing without begin_writing"));
        }
        let r = self.flush_mux();
        self.delivery.flush(&mut self.sinks);
        self.sinks.end();
        self.writing = false;
        r
    }

    /// [`end_writing`](Self::end_writing), delivering the queued packets at their send times
    /// first.
    pub async fn end_writing_paced(&mut self, clock: &dyn crate::clock::Clock) -> Result<()> {
        if !self.writing {
            return Err(Error::Misuse("end_writing without begin_writing"));
        }
        self.flush_mux()?;
        self.drain_paced(clock).await;
        self.end_writing()
    }
}
