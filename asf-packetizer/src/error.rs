//! The one error type of this crate.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong while packetizing, building headers or remuxing. Each variant
/// says who is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller passed a value that cannot be used (a profile, an option or a sample).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// A sample names a stream the profile does not declare.
    #[error("sample for stream {0}, which the profile does not declare")]
    UnknownStream(u8),
    /// The packetizer was used after [`crate::Packetizer::flush`] ended it.
    #[error("the packetizer has already been finished")]
    Finished,
    /// Something the input asks for that this crate cannot do.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The ASF input (when remuxing) or a header built from the profile is malformed; the
    /// underlying asf-format error says where.
    #[error("ASF: {0}")]
    Format(#[from] asf_format::Error),
}
