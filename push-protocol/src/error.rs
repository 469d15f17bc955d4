//! The push side's error type.

/// Everything the push-side codecs and state machines can report.
///
/// Each variant says who is to blame: the peer's bytes (`Malformed`, `TooLarge`, `Http`),
/// the authentication exchange (`Auth`), or the caller (`Misuse`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent bytes that break the wire format.
    #[error("malformed {what} at byte {offset}")]
    Malformed {
        /// What was being decoded and what is wrong with it.
        what: &'static str,
        /// Byte offset in the stream fed to the decoder.
        offset: u64,
    },
    /// A length is over a protocol or configured limit.
    #[error("{what} is {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// What is too large.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// An HTTP head could not be parsed or is missing a required part.
    #[error("HTTP head: {0}")]
    Http(&'static str),
    /// An authentication header could not be parsed or answered.
    #[error("authentication: {0}")]
    Auth(&'static str),
    /// The caller used the API out of order or with invalid arguments.
    #[error("caller misuse: {0}")]
    Misuse(&'static str),
}
