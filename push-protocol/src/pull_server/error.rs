//! Errors of the pull side (server and client).

/// What went wrong on the MS-WMSP pull side; says who is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// The request head is not valid HTTP.
    #[error("malformed request head: {0}")]
    MalformedRequest(&'static str),
    /// The response head is not valid HTTP.
    #[error("malformed response head: {0}")]
    MalformedResponse(&'static str),
    /// The head grew past the configured limit.
    #[error("head larger than {limit} bytes")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A pull packet could not be decoded.
    #[error("bad pull packet at body offset {offset}: {what}")]
    BadFrame {
        /// Offset of the packet's first byte in the response body.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A payload does not fit one MMS packet (65,527 bytes after the preheader).
    #[error("payload of {len} bytes does not fit one MMS packet (max 65527)")]
    PacketTooLarge {
        /// Payload length.
        len: usize,
    },
    /// The connection's output queue is over its limit; the packet was not queued.
    #[error("output queue full ({queued} bytes queued, limit {limit})")]
    QueueFull {
        /// Bytes queued now.
        queued: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The caller used a command in a state that does not allow it.
    #[error("call not allowed now: {0}")]
    Misuse(&'static str),
    /// The ASF header is unusable.
    #[error("bad ASF header at byte {offset}: {what}")]
    BadHeader {
        /// Byte offset inside the header.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The ASF header does not parse (asf-format's error says what and where).
    #[error("ASF header: {0}")]
    Asf(#[from] asf_format::Error),
    /// An ASF data packet could not be read (payload filtering).
    #[error("bad ASF data packet at byte {offset}: {what}")]
    BadPacket {
        /// Byte offset inside the packet.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The peer broke the protocol.
    #[error("peer misbehaved: {0}")]
    Protocol(&'static str),
    /// The server answered with an HTTP error status.
    #[error("server answered HTTP {status}")]
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// Too many redirects.
    #[error("more than {0} redirects")]
    TooManyRedirects(u32),
}
