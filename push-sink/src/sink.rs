//! The [`WriterSink`] contract: what a writer calls on every output (file, push, network, or
//! your own), the Rust analog of the Windows Media Format SDK's `IWMWriterSink`.
//!
//! # Call order (written contract)
//!
//! The [`Writer`](crate::writer) calls a sink in this order, and a sink may rely on it:
//!
//! 1. [`on_header`](WriterSink::on_header) once before anything else. It may be called again
//!    later (a new profile mid-stream, `Writer::set_profile`): every header must be honoured,
//!    and the data units after it belong to the new header.
//! 2. any number of [`allocate_data_unit`](WriterSink::allocate_data_unit) /
//!    [`on_data_unit`](WriterSink::on_data_unit) pairs, one per ASF data packet, in send order;
//!    `allocate_data_unit` is only called when the sink is the writer's only sink (zero copy),
//!    so a sink must not assume every data unit came from its own allocator.
//! 3. [`on_end_writing`](WriterSink::on_end_writing) once at the end. After it a new
//!    `on_header` may start the next session (the writer began writing again).
//!
//! [`is_real_time`](WriterSink::is_real_time), [`stats`](WriterSink::stats) and
//! [`name`](WriterSink::name) may be called at any time.
//!
//! (Windows Media Format SDK, `IWMWriterSink`: "OnHeader ... always comes before any data unit,
//! and may be delivered more than once"; `AllocateDataUnit` "supplies a buffer of at least
//! cbDataUnit bytes"; `OnEndWriting` "the sink finishes up".)
//!
//! # Backpressure
//!
//! The methods are plain synchronous calls on the writer's thread (runtime-agnostic: a tokio
//! caller may call the writer from a task, a thread caller from a thread). **`on_data_unit`
//! must not block for long**: a sink that does network IO hands the unit to its own task
//! through a bounded queue; when the queue is full it drops by its own documented policy
//! (for example: drop the oldest non-key-frame packets, or everything until the next key
//! frame) and counts each dropped packet in [`SinkStats::drops`]. Sync file IO inside
//! `on_data_unit` is acceptable (a local disk is "not long"), see `FileSink`.
//!
//! # Errors
//!
//! Returning `Err` from any method means **the sink is broken**: the writer removes it at once,
//! calls nothing more on it (not even `on_end_writing`), and reports
//! [`Error::SinkFailed`](crate::Error::SinkFailed) with the sink's error, while it keeps writing
//! to its other sinks. A sink that can recover (a network sink reconnecting) must not return
//! `Err` for a transient failure; it counts [`SinkStats::reconnects`] and
//! [`SinkStats::drops`] instead.

use bytes::{Bytes, BytesMut};

use crate::error::SinkError;

/// One ASF data packet on its way to a sink, in a buffer that may carry headroom for the
/// sink's own framing in front of the packet.
///
/// The buffer is either exclusive (a [`BytesMut`], from the sink's own
/// [`allocate_data_unit`](WriterSink::allocate_data_unit) when it is the writer's only sink)
/// or shared (a [`Bytes`] clone, when the writer fans one packet out to several sinks). Use
/// [`packet`](DataUnit::packet) to read it, [`into_packet`](DataUnit::into_packet) to keep it
/// without copying, and [`into_framed`](DataUnit::into_framed) to put a framing header in
/// front of it (in place when the headroom fits, else with one copy).
#[derive(Clone)]
pub struct DataUnit {
    storage: Storage,
    headroom: usize,
    info: PacketInfo,
}

impl std::fmt::Debug for DataUnit {
    /// Sizes and packet information only (not the packet's bytes).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataUnit")
            .field("len", &self.len())
            .field("headroom", &self.headroom)
            .field("exclusive", &self.is_exclusive())
            .field("info", &self.info)
            .finish()
    }
}

#[derive(Clone)]
enum Storage {
    Exclusive(BytesMut),
    Shared(Bytes),
}

/// What the writer knows about a packet besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketInfo {
    /// The packet's send time in milliseconds (the Send Time field of its payload parsing
    /// information, ASF 5.2.2: when the packet should be sent, preroll included).
    pub send_time_ms: u32,
    /// The packet's Duration field in milliseconds (0 when the writer does not set it).
    pub duration_ms: u16,
    /// Index of the packet since `begin_writing` (0-based), counted by the writer over every
    /// packet it made, so a sink that joined late sees a first index above 0.
    pub index: u64,
    /// True when the packet begins a key frame of a video stream, or the stream carries no
    /// video at all and the packet begins an audio media object: a player can start decoding
    /// from here. Late joiners start at such a packet, indexes point at them.
    pub key_frame: bool,
}

impl DataUnit {
    /// A data unit over an exclusive buffer: `buffer[..headroom]` is the sink's headroom,
    /// `buffer[headroom..]` the packet.
    ///
    /// Returns [`Error::Contract`](crate::Error::Contract) when `headroom > buffer.len()`.
    pub fn new(buffer: BytesMut, headroom: usize, info: PacketInfo) -> Result<Self, SinkError> {
        if headroom > buffer.len() {
            return Err(SinkError::Contract(
                "data unit headroom is longer than its buffer",
            ));
        }
        Ok(DataUnit {
            storage: Storage::Exclusive(buffer),
            headroom,
            info,
        })
    }

    /// A data unit over a shared packet (no headroom).
    pub fn shared(packet: Bytes, info: PacketInfo) -> Self {
        DataUnit {
            storage: Storage::Shared(packet),
            headroom: 0,
            info,
        }
    }

    /// The packet's bytes (without headroom).
    pub fn packet(&self) -> &[u8] {
        match &self.storage {
            Storage::Exclusive(b) => &b[self.headroom..],
            Storage::Shared(b) => &b[self.headroom..],
        }
    }

    /// Length of the packet in bytes (the writer's packet size).
    pub fn len(&self) -> usize {
        self.packet().len()
    }

    /// True when the packet is empty (never for units made by the writer).
    pub fn is_empty(&self) -> bool {
        self.packet().is_empty()
    }

    /// The headroom in front of the packet, in bytes.
    pub fn headroom(&self) -> usize {
        self.headroom
    }

    /// True when the buffer is this unit's alone (it came from the sink's allocator), so the
    /// headroom can be written in place.
    pub fn is_exclusive(&self) -> bool {
        matches!(self.storage, Storage::Exclusive(_))
    }

    /// The headroom bytes, writable, when the buffer is exclusive; `None` when shared.
    pub fn headroom_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.storage {
            Storage::Exclusive(b) => Some(&mut b[..self.headroom]),
            Storage::Shared(_) => None,
        }
    }

    /// Everything the writer knows about this packet.
    pub fn info(&self) -> PacketInfo {
        self.info
    }

    /// Send time in milliseconds (see [`PacketInfo::send_time_ms`]).
    pub fn send_time_ms(&self) -> u32 {
        self.info.send_time_ms
    }

    /// Packet index since `begin_writing` (see [`PacketInfo::index`]).
    pub fn index(&self) -> u64 {
        self.info.index
    }

    /// Whether a player can start here (see [`PacketInfo::key_frame`]).
    pub fn is_key_frame(&self) -> bool {
        self.info.key_frame
    }

    /// The packet alone, as [`Bytes`], without copying.
    pub fn into_packet(self) -> Bytes {
        let headroom = self.headroom;
        match self.storage {
            Storage::Exclusive(mut b) => b.split_off(headroom).freeze(),
            Storage::Shared(b) => b.slice(headroom..),
        }
    }

    /// The whole buffer, writable, and the offset of the packet in it, with at least
    /// `headroom` bytes in front of the packet: the unit's own buffer when it is exclusive and
    /// its headroom is large enough (no copy), else a new buffer holding `headroom` zero bytes
    /// and then a copy of the packet. For a sink that edits the packet in place and then
    /// writes its framing into the headroom (the push sink strips the padding, then writes
    /// `$D` and the new length in front).
    pub fn into_writable(self, headroom: usize) -> (BytesMut, usize) {
        match self.storage {
            Storage::Exclusive(b) if self.headroom >= headroom => (b, self.headroom),
            storage => {
                let packet = match &storage {
                    Storage::Exclusive(b) => &b[self.headroom..],
                    Storage::Shared(b) => &b[self.headroom..],
                };
                let mut out = BytesMut::with_capacity(headroom + packet.len());
                out.resize(headroom, 0);
                out.extend_from_slice(packet);
                (out, headroom)
            }
        }
    }

    /// The packet with `header` in front of it, as one contiguous [`Bytes`].
    ///
    /// Zero copy when the buffer is exclusive and its headroom ends with room for `header`
    /// (the header is written into the last `header.len()` bytes of the headroom); otherwise
    /// one copy into a new buffer.
    pub fn into_framed(self, header: &[u8]) -> Bytes {
        let headroom = self.headroom;
        match self.storage {
            Storage::Exclusive(mut b) if header.len() <= headroom => {
                let start = headroom - header.len();
                b[start..headroom].copy_from_slice(header);
                b.split_off(start).freeze()
            }
            storage => {
                let packet = match &storage {
                    Storage::Exclusive(b) => &b[headroom..],
                    Storage::Shared(b) => &b[headroom..],
                };
                let mut out = BytesMut::with_capacity(header.len() + packet.len());
                out.extend_from_slice(header);
                out.extend_from_slice(packet);
                out.freeze()
            }
        }
    }
}

/// Counters a sink reports through [`WriterSink::stats`]. All counters only grow (the
/// conformance kit checks it), except `queue_depth`, which is a gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SinkStats {
    /// Headers received (`on_header` calls honoured).
    pub headers: u64,
    /// Data units delivered (written, sent or queued).
    pub packets: u64,
    /// Bytes of packets delivered (without the sink's framing).
    pub bytes: u64,
    /// Data units currently queued inside the sink, not yet written or sent (a gauge).
    pub queue_depth: u64,
    /// Data units the sink dropped by its own policy (queue full, peer too slow).
    pub drops: u64,
    /// Times the sink reconnected to its peer.
    pub reconnects: u64,
}

impl SinkStats {
    /// All zero.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The contract between a writer and one of its outputs (file, push, network or your own);
/// the analog of the Windows Media Format SDK's `IWMWriterSink`.
///
/// Object safe and `Send`: the writer holds its sinks as `Box<dyn WriterSink>`. See the
/// [module documentation](self) for the call order, backpressure and error semantics.
pub trait WriterSink: Send {
    /// The ASF header is ready: the Header Object followed by the first 50 bytes of the Data
    /// Object (its GUID, size, File ID, packet count and reserved field).
    ///
    /// Called before any data unit, and again whenever the header changes (a new profile);
    /// every header must be honoured (`IWMWriterSink::OnHeader`).
    fn on_header(&mut self, header: &Bytes) -> Result<(), SinkError>;

    /// Whether the sink needs delivery in real time (network sinks: yes; files: no). When any
    /// sink says yes the writer paces delivery by send time (`IWMWriterSink::IsRealTime`).
    fn is_real_time(&self) -> bool;

    /// Supplies the buffer for the next data unit (`IWMWriterSink::AllocateDataUnit`).
    ///
    /// Returns a `BytesMut` whose current `len()` is the headroom the sink wants in front of
    /// the packet (e.g. 4 bytes for the push `$D` framing header, 12 for MMSH) and whose
    /// capacity is at least headroom + `packet_size`; the writer appends the packet after the
    /// headroom and hands the buffer back in [`on_data_unit`](WriterSink::on_data_unit).
    /// Pooling is recommended. The default allocates a fresh buffer with no headroom.
    ///
    /// Only called when this sink is the writer's only sink.
    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        BytesMut::with_capacity(packet_size)
    }

    /// One data unit (one ASF data packet) is ready (`IWMWriterSink::OnDataUnit`). Must not
    /// block for long; see the module documentation on backpressure.
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), SinkError>;

    /// Writing is complete; the sink finishes up (a file sink fixes up its header and writes
    /// the index, a push sink ends the entry) (`IWMWriterSink::OnEndWriting`).
    fn on_end_writing(&mut self) -> Result<(), SinkError>;

    /// The sink's counters. The default reports all zero.
    fn stats(&self) -> SinkStats {
        SinkStats::default()
    }

    /// A short human-readable name for logs and error reports (e.g. the file path or URL).
    fn name(&self) -> String {
        String::from("sink")
    }
}

impl<S: WriterSink + ?Sized> WriterSink for Box<S> {
    fn on_header(&mut self, header: &Bytes) -> Result<(), SinkError> {
        (**self).on_header(header)
    }
    fn is_real_time(&self) -> bool {
        (**self).is_real_time()
    }
    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        (**self).allocate_data_unit(packet_size)
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), SinkError> {
        (**self).on_data_unit(unit)
    }
    fn on_end_writing(&mut self) -> Result<(), SinkError> {
        (**self).on_end_writing()
    }
    fn stats(&self) -> SinkStats {
        (**self).stats()
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

/// A sink shared between the writer and the application: the writer holds one clone (as a
/// `Box<dyn WriterSink>`), the application another, to call the sink's own methods while
/// writing (`FileSink::stop`, `file_size`, ...). Every call locks a mutex; a poisoned mutex
/// (a panic while another holder had it) makes the sink report
/// [`Error::Closed`](crate::Error::Closed), `is_real_time` false and zero stats.
///
/// Do not hold the guard from [`lock`](SharedSink::lock) while calling the writer (its calls
/// lock the same mutex: `std::sync::Mutex` is not reentrant, that would deadlock).
#[derive(Debug, Default)]
pub struct SharedSink<S> {
    inner: std::sync::Arc<std::sync::Mutex<S>>,
}

impl<S> Clone for SharedSink<S> {
    fn clone(&self) -> Self {
        SharedSink {
            inner: std::sync::Arc::clone(&self.inner),
        }
    }
}

impl<S: WriterSink> SharedSink<S> {
    /// Wraps `sink`.
    pub fn new(sink: S) -> Self {
        SharedSink {
            inner: std::sync::Arc::new(std::sync::Mutex::new(sink)),
        }
    }

    /// Locks the sink for the application's own calls. Recovers from a poisoned mutex (the
    /// sink's state is whatever the panicking holder left).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, S> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<S: WriterSink> WriterSink for SharedSink<S> {
    fn on_header(&mut self, header: &Bytes) -> Result<(), SinkError> {
        self.inner
            .lock()
            .map_err(|_| SinkError::Closed("shared sink mutex poisoned"))?
            .on_header(header)
    }
    fn is_real_time(&self) -> bool {
        self.inner.lock().map(|s| s.is_real_time()).unwrap_or(false)
    }
    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        match self.inner.lock() {
            Ok(mut s) => s.allocate_data_unit(packet_size),
            Err(_) => BytesMut::with_capacity(packet_size),
        }
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), SinkError> {
        self.inner
            .lock()
            .map_err(|_| SinkError::Closed("shared sink mutex poisoned"))?
            .on_data_unit(unit)
    }
    fn on_end_writing(&mut self) -> Result<(), SinkError> {
        self.inner
            .lock()
            .map_err(|_| SinkError::Closed("shared sink mutex poisoned"))?
            .on_end_writing()
    }
    fn stats(&self) -> SinkStats {
        self.inner.lock().map(|s| s.stats()).unwrap_or_default()
    }
    fn name(&self) -> String {
        self.inner
            .lock()
            .map(|s| s.name())
            .unwrap_or_else(|_| String::from("shared sink (poisoned)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PacketInfo {
        PacketInfo {
            send_time_ms: 3100,
            duration_ms: 0,
            index: 7,
            key_frame: true,
        }
    }

    #[test]
    fn framed_in_place_when_headroom_fits() {
        let mut buf = BytesMut::with_capacity(4 + 8);
        buf.extend_from_slice(&[0; 4]);
        let base = buf.as_ptr();
        buf.extend_from_slice(b"PACKET!!");
        let unit = DataUnit::new(buf, 4, info()).expect("headroom fits");
        assert_eq!(unit.packet(), b"PACKET!!");
        assert!(unit.is_exclusive());
        let framed = unit.into_framed(b"$D");
        assert_eq!(&framed[..], b"$DPACKET!!");
        // Same allocation: the header went into the headroom.
        assert_eq!(framed.as_ptr(), base.wrapping_add(2));
    }

    #[test]
    fn framed_copies_when_shared_or_short() {
        let unit = DataUnit::shared(Bytes::from_static(b"abc"), info());
        assert_eq!(unit.headroom(), 0);
        assert_eq!(&unit.clone().into_framed(b"HDR")[..], b"HDRabc");
        assert_eq!(&unit.into_packet()[..], b"abc");

        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"xabc");
        let unit = DataUnit::new(buf, 1, info()).expect("headroom fits");
        assert_eq!(&unit.into_framed(b"HDR")[..], b"HDRabc");
    }

    #[test]
    fn writable_in_place_or_copied_with_the_headroom_asked() {
        let mut buf = BytesMut::with_capacity(6 + 3);
        buf.extend_from_slice(b"hhhhhh");
        let base = buf.as_ptr();
        buf.extend_from_slice(b"abc");
        let unit = DataUnit::new(buf, 6, info()).expect("headroom fits");
        let (b, at) = unit.into_writable(4);
        assert_eq!((b.as_ptr(), at, &b[at..]), (base, 6, &b"abc"[..]));
        // Shared, or too little headroom: a copy behind zero bytes.
        for unit in [
            DataUnit::shared(Bytes::from_static(b"abc"), info()),
            DataUnit::new(BytesMut::from(&b"habc"[..]), 1, info()).expect("fits"),
        ] {
            let (b, at) = unit.into_writable(4);
            assert_eq!((at, &b[..]), (4, &b"\0\0\0\0abc"[..]));
        }
    }

    #[test]
    fn debug_shows_sizes_not_bytes() {
        let unit = DataUnit::shared(Bytes::from(vec![0xAB; 3000]), info());
        let text = format!("{unit:?}");
        assert!(text.contains("len: 3000"), "{text}");
        assert!(text.len() < 200, "{text}");
    }

    #[test]
    fn headroom_longer_than_buffer_is_contract_error() {
        let err = DataUnit::new(BytesMut::from(&b"ab"[..]), 3, info()).expect_err("too long");
        assert!(matches!(err, SinkError::Contract(_)));
    }

    #[test]
    fn headroom_mut_only_when_exclusive() {
        let mut unit = DataUnit::new(BytesMut::from(&b"hhpp"[..]), 2, info()).expect("fits");
        unit.headroom_mut()
            .expect("exclusive")
            .copy_from_slice(b"HH");
        assert_eq!(unit.index(), 7);
        assert!(unit.is_key_frame());
        assert_eq!(unit.send_time_ms(), 3100);
        assert_eq!(&unit.into_framed(b"")[..], b"pp");
        let mut shared = DataUnit::shared(Bytes::from_static(b"pp"), info());
        assert!(shared.headroom_mut().is_none());
    }

    #[test]
    fn boxed_sink_is_a_sink() {
        struct Nop;
        impl WriterSink for Nop {
            fn on_header(&mut self, _: &Bytes) -> Result<(), SinkError> {
                Ok(())
            }
            fn is_real_time(&self) -> bool {
                true
            }
            fn on_data_unit(&mut self, _: DataUnit) -> Result<(), SinkError> {
                Ok(())
            }
            fn on_end_writing(&mut self) -> Result<(), SinkError> {
                Ok(())
            }
        }
        let mut b: Box<dyn WriterSink> = Box::new(Nop);
        assert!(b.is_real_time());
        assert_eq!(b.allocate_data_unit(100).capacity(), 100);
        assert_eq!(b.stats(), SinkStats::default());
        assert_eq!(b.name(), "sink");
    }
}
