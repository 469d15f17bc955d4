//! The one error type of this crate.
//!
//! Every variant says who is to blame: the caller (misuse of the `Writer`
//! call order), the media (a sample or profile the packetizer refuses), the environment (IO),
//! or a sink (broken, disconnected, or failing with its own error).

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// The error a [`WriterSink`](crate::sink::WriterSink) returns. It is the crate's [`Error`]:
/// third-party sinks wrap their own errors with [`Error::custom`].
pub type SinkError = Error;

/// Identifies a sink attached to a writer (see `Writer::add_sink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SinkId(pub(crate) u64);

impl SinkId {
    /// The raw number of this id (unique per writer, never reused).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sink #{}", self.0)
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller broke the documented call order or passed an impossible argument
    /// (e.g. `write_sample` before `begin_writing`).
    #[error("misuse: {0}")]
    Misuse(&'static str),

    /// Something this crate does not support.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),

    /// An ASF header or packet could not be parsed or built by asf-format.
    #[error("ASF format: {0}")]
    Format(#[from] asf_format::Error),

    /// asf-packetizer refused a profile or a sample (see [`crate::packetizer_mux`]).
    #[error("packetizer: {0}")]
    Packetizer(#[from] asf_packetizer::Error),
    /// An IO operation failed; `context` says which (e.g. "writing data packet").
    #[error("IO while {context}: {source}")]
    Io {
        /// What the crate was doing.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The sink is closed (after `on_end_writing`, `close`, or an earlier fatal error) and
    /// accepts nothing more.
    #[error("sink closed: {0}")]
    Closed(&'static str),

    /// The sink's peer went away or refused it (network sinks).
    #[error("disconnected: {0}")]
    Disconnected(&'static str),

    /// A sink broke the [`WriterSink`](crate::sink::WriterSink) contract (e.g. a buffer from
    /// `allocate_data_unit` with less capacity than asked for).
    #[error("sink contract violated: {0}")]
    Contract(&'static str),

    /// A sink failed; the writer removed it. Reported by the writer, which keeps writing to
    /// its other sinks.
    #[error("{id} ({name}) failed and was removed: {source}")]
    SinkFailed {
        /// The sink that failed.
        id: SinkId,
        /// The sink's [`name`](crate::sink::WriterSink::name).
        name: String,
        /// What it returned.
        #[source]
        source: Box<Error>,
    },

    /// A sink's own error (third-party sinks, protocol errors of other crates).
    #[error("{0}")]
    Custom(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// Wraps any error as [`Error::Custom`] (for third-party sinks).
    pub fn custom<E>(error: E) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        Error::Custom(error.into())
    }

    /// Builds an [`Error::Io`] with the given context.
    pub fn io(context: &'static str, source: std::io::Error) -> Self {
        Error::Io { context, source }
    }
}
