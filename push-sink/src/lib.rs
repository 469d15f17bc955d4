//! # push-sink
//!
//! The sink facade: the [`WriterSink`] contract (the Windows Media Format SDK's
//! `IWMWriterSink` in Rust), the `Writer` that turns media samples into ASF packets and fans
//! them out to sinks, and the sinks themselves (file, push, network).
//!
//! Start with [`sink`] for the contract every output implements, [`writer`] for the
//! [`Writer`], [`file_sink`] for the [`FileSink`], [`packetizer_mux`] for the production
//! multiplexer (asf-packetizer behind [`Writer::from_profile`]).
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use push_sink::testing::{RecordingSink, SimpleMux};
//! use push_sink::{FileSink, FileSinkConfig, Sample, Writer};
//!
//! let mut writer = Writer::new(Box::new(SimpleMux::new(1400)));
//! let file = FileSink::new(std::io::Cursor::new(Vec::new()), FileSinkConfig::default());
//! writer.add_sink(Box::new(file));
//! writer.add_sink(Box::new(RecordingSink::new(false, 4)));
//! writer.begin_writing()?;
//! for i in 0..50u64 {
//!     let data = bytes::Bytes::from(vec![0u8; 300]);
//!     writer.write_sample(Sample { stream: 2, presentation_time_ms: i * 40, duration_ms: 40, key_frame: true, data })?;
//! }
//! writer.end_writing()?;
//! assert!(writer.take_sink_failures().is_empty());
//! assert_eq!(writer.sink_reports()[0].stats.packets, writer.packets_made());
//! # }
//! # Ok::<(), push_sink::Error>(())
//! ```

pub mod clock;
pub mod error;
pub mod file_sink;
pub mod packetizer_mux;
pub mod queued;
pub mod sink;
#[cfg(feature = "testing")]
pub mod testing;
pub mod writer;

// -- F: push and network sinks --
pub mod network_sink;
pub mod push_sink;
pub mod transport;
pub use network_sink::hub;
pub use network_sink::{HubSink, NetworkSink};

pub use clock::{Clock, ManualClock, Pacer, SystemClock};
pub use error::{Error, Result, SinkError, SinkId};
pub use file_sink::{FileSink, FileSinkConfig};
pub use packetizer_mux::PacketizerMux;
pub use queued::{QueuedHandle, QueuedSink, QueuedSinkConfig, QueuedStatus};
pub use sink::{DataUnit, PacketInfo, SharedSink, SinkStats, WriterSink};
pub use writer::{
    FinishedPacket, Multiplexer, PacketAllocator, Sample, SinkReport, SinkSet, StreamStats, Writer,
    WriterConfig,
};
