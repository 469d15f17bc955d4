//! # push-sink
//!
//! The sink facade on tokio: the WriterSink contract, the Writer, and the push, file and network sinks.
