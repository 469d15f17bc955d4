//! The one error type of this crate.
//!
//! Every error says who is to blame (malformed input, a configured limit, an unsupported
//! feature, or the caller) and, for input errors, where: the absolute byte offset and the
//! object being read.

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not valid ASF at `offset` while reading `object`.
    #[error("malformed {object} at byte offset {offset}: {reason}")]
    Malformed {
        /// Absolute byte offset (from the start of the input) where the problem was found.
        offset: u64,
        /// The object or structure being read, e.g. "File Properties Object".
        object: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The input ended before `object` was complete.
    #[error("truncated {object} at byte offset {offset}: need {needed} more bytes")]
    Truncated {
        /// Absolute byte offset where more data was needed.
        offset: u64,
        /// The object being read.
        object: &'static str,
        /// How many more bytes were needed (at least).
        needed: u64,
    },
    /// A size read from the input exceeds a configured limit (see [`crate`]'s `Limits`).
    #[error("{object} at byte offset {offset}: {what} is {value}, over the limit of {limit}")]
    LimitExceeded {
        /// Absolute byte offset of the field.
        offset: u64,
        /// The object being read.
        object: &'static str,
        /// Which limit.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The configured limit.
        limit: u64,
    },
    /// Valid ASF that this crate does not support.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The caller asked for something impossible (e.g. serializing a value that does not fit
    /// its wire field).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

impl Error {
    /// The absolute byte offset the error refers to, when it refers to input.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Malformed { offset, .. }
            | Error::Truncated { offset, .. }
            | Error::LimitExceeded { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// Returns the same error with its offset moved by `base` (used when a sub-slice was
    /// parsed with offsets relative to its own start).
    pub fn at_base(self, base: u64) -> Self {
        match self {
            Error::Malformed {
                offset,
                object,
                reason,
            } => Error::Malformed {
                offset: offset + base,
                object,
                reason,
            },
            Error::Truncated {
                offset,
                object,
                needed,
            } => Error::Truncated {
                offset: offset + base,
                object,
                needed,
            },
            Error::LimitExceeded {
                offset,
                object,
                what,
                value,
                limit,
            } => Error::LimitExceeded {
                offset: offset + base,
                object,
                what,
                value,
                limit,
            },
            other => other,
        }
    }
}
