//! # push-sink
//!
//! The sink facade: the [`WriterSink`] contract (the Windows Media Format SDK's
//! `IWMWriterSink` in Rust), the `Writer` that turns media samples into ASF packets and fans
//! them out to sinks, and the sinks themselves (file, push, network).
//!
//! Start with [`sink`] for the contract every output implements.

pub mod clock;
pub mod error;
pub mod file_sink;
pub mod sink;
#[cfg(feature = "testing")]
pub mod testing;
pub mod writer;

// -- F: push and network sinks --
pub mod network_sink;
pub mod push_sink;
pub mod transport;
pub use network_sink::NetworkSink;
pub use network_sink::hub;

pub use clock::{Clock, ManualClock, Pacer, SystemClock};
pub use error::{Error, Result, SinkError, SinkId};
pub use file_sink::{FileSink, FileSinkConfig};
pub use sink::{DataUnit, PacketInfo, SinkStats, WriterSink};
pub use writer::{
    FinishedPacket, Multiplexer, PacketAllocator, Sample, SinkReport, SinkSet, StreamStats, Writer,
    WriterConfig,
};
