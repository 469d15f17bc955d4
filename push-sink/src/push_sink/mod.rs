//! [`PushSink`]: the `IWMWriterPushSink` analog (work in progress).

pub mod asf_file;
pub mod asf_packet;
