//! MS-WMSP (MMSH) pull server: one sans-IO state machine per player TCP
//! connection, non-pipelined mode.
//!
//! # Model
//!
//! One [`PullServerConnection`] per accepted TCP connection. ffmpeg opens a
//! new connection for Describe and for Play and never echoes the client id,
//! so session state that spans connections (the spec's Client-ID table) is
//! left to the application: the request event carries the `client-id` the
//! player sent, and [`PullServerConnection::accept`] takes a [`Session`]
//! saying whether the application knows it. [`PullSessions`] is a small
//! bounded table that applies the spec's session rules for the application
//! if it wants them (known id -> `Existing`, hijack check, idle expiry).
//!
//! # Call order
//!
//! 1. [`PullServerConnection::new`] when the socket is accepted.
//! 2. [`PullServerConnection::handle_input`] with every chunk read from the
//!    socket (any chunking gives the same result), or, when the caller read
//!    and parsed the request head itself (a server routing requests by their
//!    head), [`PullServerConnection::handle_request_head`] with that head and
//!    `handle_input` with the bytes after it;
//!    [`PullServerConnection::handle_timeout`] when the instant from
//!    [`PullServerConnection::poll_timeout`] passes, and
//!    [`PullServerConnection::handle_peer_closed`] on EOF.
//! 3. Drain [`PullServerConnection::poll_event`]. On
//!    [`PullServerEvent::Request`] answer with exactly one of
//!    [`PullServerConnection::accept`] (Describe, Play, or an ASX metafile
//!    for a web client), [`PullServerConnection::reject`] or
//!    [`PullServerConnection::redirect`]. [`PullServerEvent::Report`] and
//!    [`PullServerEvent::Refused`] need no answer (the response is queued).
//!    Keep feeding input until an event arrives: a player POST's body may
//!    come after its head.
//! 4. While streaming (after accepting a Play), feed
//!    [`PullServerConnection::send_packet`], [`PullServerConnection::change_header`]
//!    and [`PullServerConnection::end_of_stream`].
//! 5. Write every buffer from [`PullServerConnection::poll_transmit`] to the
//!    socket, in order. When it returns `None` and
//!    [`PullServerConnection::is_done`] is true, close the socket.
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use push_protocol::pull_server::{
//!     PullRequestKind, PullServerConfig, PullServerConnection, PullServerEvent, Session,
//! };
//!
//! // An ASF header: Header Object (30 bytes, no children here) + Data Object start.
//! let mut header = vec![0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11,
//!                       0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C];
//! header.extend_from_slice(&30u64.to_le_bytes());
//! header.extend_from_slice(&[0, 0, 0, 0, 1, 2]);
//! header.resize(80, 0);
//! let header = Bytes::from(header);
//!
//! let now = Instant::now();
//! let mut conn = PullServerConnection::new(PullServerConfig::default(), now);
//! conn.handle_input(
//!     b"GET /live HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\n\
//!       Pragma: xPlayStrm=1\r\nPragma: stream-switch-entry=ffff:1:0 \r\n\r\n",
//!     now,
//! );
//! let Some(PullServerEvent::Request(req)) = conn.poll_event() else { panic!() };
//! assert_eq!(req.kind, PullRequestKind::Play);
//! assert!(req.stream_selection().is_selected(1));
//! conn.accept(header, Session::New { client_id: 17431 })?; // id from the app's RNG
//! conn.send_packet(Bytes::from_static(&[0x82, 0, 0]))?;   // one ASF packet -> $D
//! conn.end_of_stream()?;                                  // $E(0), then close
//! let mut wire = Vec::new();
//! while let Some(buf) = conn.poll_transmit() {
//!     wire.extend_from_slice(&buf); // write to the socket
//! }
//! assert!(conn.is_done());
//! assert!(wire.starts_with(b"HTTP/1.0 200 OK\r\nServer: Rex/9.0.0.2980\r\n"));
//! assert!(wire.ends_with(&[0x24, 0x45, 4, 0, 0, 0, 0, 0]));
//! # Ok::<(), push_protocol::pull_server::PullError>(())
//! ```
//!
//! # Wire choices (MS-WMSP 3.2.5.2, 3.2.5.4, 3.2.5.6; interop notes §3.2)
//!
//! - `Server: Rex/9.0.0.2980` by default: a "Rex" (live encoder) server need
//!   not send `$M`, which ffmpeg and VLC reject as unknown chunks.
//! - Describe: `$H` packet(s) only, `Content-Length` of the body and
//!   `Connection: close`, then the server closes. VLC stops at EOF; ffmpeg
//!   reads Content-Length bytes.
//! - Play: `$H` then `$D`..., close-delimited, no chunked encoding (VLC cannot
//!   parse chunked; MS-WMSP 3.2.5.6 only says SHOULD for `version11-enabled=1`).
//! - End: `$E(0)` then close. Header change: `$C(0)`, new `$H` (with
//!   `$E(1)` first if [`PullServerConfig::end_entry_before_change`] is set).
//! - Player POSTs (KeepAlive, Log, SendEvent; MS-WMSP 2.2.2.3.1, 2.2.2.4,
//!   2.2.2.9) are answered `200` with no body by the connection itself and
//!   reported as [`PullServerEvent::Report`]; pipelined-mode requests get 501.
//! - `$D` LocationId counts this connection's packets from 0 (a "virtual"
//!   file, MS-WMSP 2.2.3.1.2); AFFlags is the $D sequence byte (0, 1, ...).

mod error;
mod filter;
mod play;
mod sessions;
pub mod wire;

pub use error::PullError;
pub use filter::{PayloadSelector, filter_packet, restore_padding};
pub use play::{FramerMark, PlayFramer};
pub use sessions::{DEFAULT_SESSION_IDLE, PullSessions, SessionRefusal};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::asx;
use crate::error::Error;
use crate::http::{self, RequestHead};
use crate::pragma::Pragmas;

/// Default `Server` header value (MS-WMSP 4.11: Windows Media Encoder's own pull server).
pub const DEFAULT_SERVER: &str = "Rex/9.0.0.2980";
/// Default `features` token for a live broadcast.
pub const DEFAULT_FEATURES: &str = "broadcast,playlist";
/// Describe response content type (MS-WMSP 2.2.1.2.2).
pub const CONTENT_TYPE_DESCRIBE: &str = "application/vnd.ms.wms-hdr.asfv1";
/// Play response content type (MS-WMSP 2.2.1.2.3).
pub const CONTENT_TYPE_PLAY: &str = "application/x-mms-framed";

/// Settings of a pull server connection.
#[derive(Debug, Clone)]
pub struct PullServerConfig {
    /// `Server` header value; must be `Rex/...` or `Cougar/...` (MS-WMSP 2.2.1.5).
    pub server: String,
    /// `features` Pragma value, without quotes.
    pub features: String,
    /// `broadcast-id` written in `$M` packets (MS-WMSP 2.2.3.6; only sent by
    /// a `Cougar` >= 9 server to clients >= 9).
    pub broadcast_id: u32,
    /// `timeout` Pragma token in ms to advertise next to `client-id`
    /// (MS-WMSP 3.2.5.2 SHOULD); `None` leaves it out.
    pub advertise_timeout: Option<u32>,
    /// Largest request head accepted, in bytes.
    pub max_head_size: usize,
    /// Largest POST body (Log, SendEvent) accepted, in bytes.
    pub max_body_size: usize,
    /// Output queue limit in bytes for [`PullServerConnection::send_packet`].
    pub max_queued_bytes: usize,
    /// Time allowed to receive the whole request head.
    pub head_timeout: Duration,
    /// Remove payloads of streams the player did not select from each packet
    /// given to [`PullServerConnection::send_packet`] (MS-WMSP 3.2.5.6 MUST;
    /// off by default because ffmpeg and VLC select every stream they play
    /// and skip payloads they do not want).
    pub filter_streams: bool,
    /// Send `$E(1)` before `$C` on a header change (MS-WMSP 3.2.4.1: when a
    /// new header follows, the server MAY send `$E`). Off by default: checked
    /// on loopback, ffmpeg 5.1 keeps every packet across `$C`+`$H` but loses
    /// one and logs "bad header" after `$E(1)`+`$C`+`$H`, and VLC 3.0 answers
    /// `$E(1)` by running Describe and Play again on new connections, while it
    /// re-reads `$H` on the same connection after a bare `$C`.
    pub end_entry_before_change: bool,
    /// Send `Content-Length` on the Describe response.
    pub describe_content_length: bool,
    /// URL schemes of the `<Ref>`s in the ASX given to web clients. Default
    /// `["mms"]`. MS-WMSP <69> says WMS points back at the URL the client
    /// used (`http://`), which works for Windows Media Player (it comes back
    /// as NSPlayer), but VLC fetches `http://` refs with its own User-Agent,
    /// gets the ASX again and loops; with `mms://` alone VLC plays (mmst
    /// fails, it rolls over to MMSH) and WMP rolls over to HTTP as well.
    pub asx_schemes: Vec<String>,
    /// Host used in the ASX when the request has no `Host` header.
    pub fallback_host: String,
}

impl Default for PullServerConfig {
    fn default() -> Self {
        PullServerConfig {
            server: DEFAULT_SERVER.to_owned(),
            features: DEFAULT_FEATURES.to_owned(),
            broadcast_id: 1,
            advertise_timeout: None,
            max_head_size: 16 * 1024,
            max_body_size: 64 * 1024,
            max_queued_bytes: 4 * 1024 * 1024,
            head_timeout: Duration::from_secs(60),
            filter_streams: false,
            end_entry_before_change: false,
            describe_content_length: true,
            asx_schemes: vec!["mms".to_owned()],
            fallback_host: "localhost".to_owned(),
        }
    }
}

/// What a request asks for (MS-WMSP 2.2.2, classified as in 3.2.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PullRequestKind {
    /// GET without `xPlayStrm=1`: the ASF header only.
    Describe,
    /// GET with `xPlayStrm=1`: header then live packets.
    Play,
    /// A web client (User-Agent not NSPlayer/NSServer/WMCacheProxy): gets an ASX metafile.
    Metafile,
}

/// The product and version on a `User-Agent` header (MS-WMSP 2.2.1.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientVersion {
    /// `NSPlayer`, `NSServer`, `WMCacheProxy` or anything else.
    pub product: String,
    /// Major version (0 if unreadable).
    pub major: u32,
    /// Minor version (0 if unreadable).
    pub minor: u32,
}

impl ClientVersion {
    /// Reads `Product/major.minor...`.
    pub fn parse(user_agent: &str) -> ClientVersion {
        let first = user_agent.split_whitespace().next().unwrap_or("");
        let (product, version) = first.split_once('/').unwrap_or((first, ""));
        let mut nums = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
        ClientVersion {
            product: product.to_owned(),
            major: nums.next().unwrap_or(0),
            minor: nums.next().unwrap_or(0),
        }
    }

    /// True for the MS-WMSP client tokens (2.2.1.8).
    pub fn is_player(&self) -> bool {
        ["NSPlayer", "NSServer", "WMCacheProxy"]
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&self.product))
    }
}

/// Which streams the player asked for (MS-WMSP 2.2.1.4.27, 3.2.5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSelection {
    pragmas: Pragmas,
    all_by_default: bool,
}

impl StreamSelection {
    /// True if `stream` is to be sent (thinning 0 or 1). MS-WMSP 3.2.5.6:
    /// with no stream-switch-entry, nothing is selected, except for
    /// NSServer <= 5.0 which gets every stream.
    pub fn is_selected(&self, stream: u16) -> bool {
        if !self.pragmas.has_stream_switch() {
            return self.all_by_default;
        }
        self.pragmas.selects(stream)
    }

    /// The requested thinning level of `stream` (0 all, 1 key frames, 2 off),
    /// `None` if no entry names it.
    pub fn thinning(&self, stream: u16) -> Option<u8> {
        self.pragmas.thinning_for(stream)
    }

    /// True if the request had any stream-switch entry.
    pub fn is_explicit(&self) -> bool {
        self.pragmas.has_stream_switch()
    }
}

/// A parsed player request, given to the application to decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Describe, Play or Metafile.
    pub kind: PullRequestKind,
    /// The request target as sent (path and query).
    pub path: String,
    /// HTTP minor version (0 or 1).
    pub http_minor: u8,
    /// `Host` header, if any.
    pub host: Option<String>,
    /// `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// Product and version from `User-Agent`.
    pub client: ClientVersion,
    /// Every Pragma directive of the request.
    pub pragmas: Pragmas,
    /// The client asked to close after the response (`Connection: close`,
    /// possibly glued into a Pragma line by ffmpeg).
    pub connection_close: bool,
    /// Every header line as (name, value), in order, names as sent (for
    /// `Authorization`, `Via`, `Supported`, `X-Accept-Authentication`...).
    pub headers: Vec<(String, String)>,
}

impl PullRequest {
    /// The player's stream selection.
    pub fn stream_selection(&self) -> StreamSelection {
        StreamSelection {
            pragmas: self.pragmas.clone(),
            all_by_default: self.client.product.eq_ignore_ascii_case("NSServer")
                && (self.client.major, self.client.minor) <= (5, 0),
        }
    }

    /// The `client-id` the player echoed, if any.
    pub fn client_id(&self) -> Option<u32> {
        self.pragmas.client_id()
    }

    /// The first header named `name` (any case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How [`PullServerConnection::accept`] assigns the session (MS-WMSP 3.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// A new session with this id, drawn by the caller from its RNG
    /// (MS-WMSP 3.2.3: "SHOULD be assigned to a random number"). If the
    /// request carried a client-id, the response adds `xResetStrm=1`.
    New {
        /// The new Client-ID.
        client_id: u32,
    },
    /// The request's client-id names a session the application knows.
    Existing {
        /// The known Client-ID.
        client_id: u32,
    },
}

/// A player POST the connection answers by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportKind {
    /// KeepAlive in non-pipelined mode (MS-WMSP 2.2.2.3.1: `xKeepAliveInPause`).
    KeepAlive,
    /// Log (MS-WMSP 2.2.2.4: `application/x-wms-LogStats` body or `log-line` token).
    Log,
    /// SendEvent (MS-WMSP 2.2.2.9: `application/x-wms-sendevent`).
    SendEvent,
}

/// Something the application must look at.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PullServerEvent {
    /// A complete request head; answer with `accept`, `reject` or `redirect`.
    Request(PullRequest),
    /// A player's POST was answered (200, no body) by the connection
    /// itself; the body is handed up (e.g. MS-WMLOG XML for a Log).
    Report {
        /// Which POST it was.
        kind: ReportKind,
        /// The `client-id` it carried, if any.
        client_id: Option<u32>,
        /// The request body (at most `max_body_size` bytes).
        body: Bytes,
    },
    /// The request was refused by the connection itself (bad head, head too
    /// large or too slow, unsupported method); an error response is queued.
    Refused {
        /// The status sent.
        status: u16,
        /// Why.
        reason: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    ReadingHead,
    /// Reading the body of a player's POST (KeepAlive, Log, SendEvent).
    ReadingBody,
    AwaitingDecision,
    Streaming,
    /// Everything queued is the last output; close after it.
    Closing,
    Closed,
}

/// One player connection of the pull server. See the module docs for the call order.
#[derive(Debug)]
pub struct PullServerConnection {
    config: PullServerConfig,
    state: State,
    head: Vec<u8>,
    head_deadline: Option<Instant>,
    request: Option<PullRequest>,
    events: VecDeque<PullServerEvent>,
    out: VecDeque<Bytes>,
    queued_bytes: usize,
    scratch: BytesMut,
    client_id: Option<u32>,
    http_minor: u8,
    post: Option<PendingPost>,
    /// The `$D` counters, stream selection and `$M` numbering of a Play.
    play: PlayFramer,
}

#[derive(Debug)]
struct PendingPost {
    kind: ReportKind,
    client_id: Option<u32>,
    left: usize,
    body: Vec<u8>,
}

impl PullServerConnection {
    /// A connection that was just accepted at `now`.
    pub fn new(config: PullServerConfig, now: Instant) -> PullServerConnection {
        let deadline = now.checked_add(config.head_timeout);
        PullServerConnection {
            config,
            state: State::ReadingHead,
            head: Vec::new(),
            head_deadline: deadline,
            request: None,
            events: VecDeque::new(),
            out: VecDeque::new(),
            queued_bytes: 0,
            scratch: BytesMut::new(),
            client_id: None,
            http_minor: 0,
            post: None,
            play: PlayFramer::default(),
        }
    }

    // ---- getters ----

    /// The request being served, once its head is complete.
    pub fn request(&self) -> Option<&PullRequest> {
        self.request.as_ref()
    }

    /// True while Play packets may be fed.
    pub fn is_streaming(&self) -> bool {
        self.state == State::Streaming
    }

    /// True when the socket should be closed (after draining `poll_transmit`).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Closing | State::Closed) && self.out.is_empty()
    }

    /// Bytes queued for the socket.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The client id given in the response, once accepted.
    pub fn client_id(&self) -> Option<u32> {
        self.client_id
    }

    /// `$D` packets queued so far on this connection.
    pub fn packets_sent(&self) -> u64 {
        self.play.packets_sent()
    }

    /// Packets skipped because no payload in them was selected
    /// ([`PullServerConfig::filter_streams`]).
    pub fn packets_filtered_out(&self) -> u64 {
        self.play.packets_filtered_out()
    }

    /// LocationId the next `$D` will carry.
    pub fn next_location_id(&self) -> u32 {
        self.play.next_location_id()
    }

    /// Takes the streaming state of an accepted Play out of the connection,
    /// once its response head and `$H` have been drained with
    /// [`poll_transmit`](PullServerConnection::poll_transmit): a fan-out
    /// engine then frames this player's packets itself (see [`PlayFramer`]),
    /// and the connection is done. `None` unless the connection is streaming
    /// with nothing left to transmit.
    pub fn take_play_framer(&mut self) -> Option<PlayFramer> {
        if self.state != State::Streaming || !self.out.is_empty() {
            return None;
        }
        self.state = State::Closed;
        Some(std::mem::take(&mut self.play))
    }

    // ---- input ----

    /// Feeds bytes read from the socket. Bytes after the request head are
    /// ignored (non-pipelined mode: players send nothing more), but for the
    /// body of a player's POST.
    pub fn handle_input(&mut self, data: &[u8], _now: Instant) {
        if self.state == State::ReadingBody {
            self.consume_body(data);
            return;
        }
        if self.state != State::ReadingHead {
            return;
        }
        let before = self.head.len();
        let room = self.config.max_head_size.saturating_sub(before);
        let take = data.len().min(room.saturating_add(4));
        self.head.extend_from_slice(&data[..take]);
        // Only look for a blank line from just before the new bytes, past any blank lines
        // before the request line (RFC 9112 2.2); parse once one is there.
        if http::request_head_end(&self.head, before).is_some() {
            match http::parse_request(&self.head, self.config.max_head_size) {
                Ok(Some((parsed, n))) => {
                    let tail = self.head.split_off(n);
                    self.head.clear();
                    self.classify(&parsed);
                    if self.state == State::ReadingBody {
                        self.consume_body(&tail);
                        self.consume_body(&data[take..]);
                    }
                    return;
                }
                Ok(None) => {}
                Err(Error::TooLarge { .. }) => {
                    return self.refuse(431, "request head too large or too many header lines");
                }
                Err(_) => return self.refuse(400, "request head is not valid HTTP"),
            }
        }
        if self.head.len() > self.config.max_head_size {
            self.refuse(431, "request head too large");
        }
    }

    /// Feeds a request head the caller already read and parsed (with
    /// [`http::parse_request`], e.g. a server that routes each request by its
    /// head before choosing a protocol), instead of its bytes: the same
    /// events and responses as [`handle_input`](PullServerConnection::handle_input)
    /// with those bytes, through the same classification. Bytes the caller
    /// read past the head (a player POST's body) follow with `handle_input`.
    /// The caller bounded the head's size; [`PullServerConfig::max_head_size`]
    /// is not checked again.
    ///
    /// Fails with [`PullError::Misuse`] unless the connection is still waiting
    /// for its head and no byte of one was fed.
    pub fn handle_request_head(
        &mut self,
        head: &RequestHead,
        _now: Instant,
    ) -> Result<(), PullError> {
        if self.state != State::ReadingHead || !self.head.is_empty() {
            return Err(PullError::Misuse(
                "handle_request_head after a request head or part of one",
            ));
        }
        self.classify(head);
        Ok(())
    }

    /// The peer closed its side: nothing more will be sent.
    pub fn handle_peer_closed(&mut self) {
        self.state = State::Closed;
        self.out.clear();
        self.queued_bytes = 0;
    }

    /// The earliest instant at which [`PullServerConnection::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::ReadingHead | State::ReadingBody) {
            self.head_deadline
        } else {
            None
        }
    }

    /// Runs timers. A request head not complete by the deadline gets 408
    /// (or a silent close if nothing was received).
    pub fn handle_timeout(&mut self, now: Instant) {
        if !matches!(self.state, State::ReadingHead | State::ReadingBody) {
            return;
        }
        if let Some(deadline) = self.head_deadline
            && now >= deadline
        {
            if self.head.is_empty() && self.state == State::ReadingHead {
                self.state = State::Closed;
            } else {
                self.refuse(408, "request head not received in time");
            }
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<PullServerEvent> {
        self.events.pop_front()
    }

    /// The next buffer to write to the socket.
    ///
    /// Each `$D` is two buffers (its 12-byte preheader, then the shared
    /// packet bytes, not copied); to write them in one system call (and one
    /// TCP segment with `TCP_NODELAY`), use [`PullServerConnection::transmit_slices`]
    /// with a vectored write and [`PullServerConnection::consume_transmit`].
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let b = self.out.pop_front()?;
        self.queued_bytes -= b.len();
        Some(b)
    }

    /// The queued buffers, in order, for a vectored write (`writev`,
    /// `write_vectored`): take as many as the write accepts, then report the
    /// bytes written with [`PullServerConnection::consume_transmit`].
    pub fn transmit_slices(&self) -> impl Iterator<Item = &[u8]> {
        self.out.iter().map(|b| &b[..])
    }

    /// Drops the first `n` queued bytes (written by a vectored write; may end
    /// inside a buffer). `n` larger than what is queued drops everything.
    pub fn consume_transmit(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.out.front_mut() else {
                break;
            };
            if n >= front.len() {
                n -= front.len();
                self.queued_bytes -= front.len();
                self.out.pop_front();
            } else {
                bytes::Buf::advance(front, n);
                self.queued_bytes -= n;
                n = 0;
            }
        }
    }

    // ---- commands ----

    /// Answers the pending request with success.
    ///
    /// - Describe: the response head and `header` as `$H` packet(s), then close.
    /// - Play: the response head and `header` as `$H`; then feed packets.
    /// - Metafile: an ASX pointing back at this URL (`header` is not used).
    ///
    /// `header` is the ASF header: Header Object + the 50-byte Data Object
    /// start (MS-WMSP 2.2.3.5).
    pub fn accept(&mut self, header: Bytes, session: Session) -> Result<(), PullError> {
        if self.state != State::AwaitingDecision {
            return Err(PullError::Misuse("accept without a pending request"));
        }
        let Some(req) = self.request.clone() else {
            return Err(PullError::Misuse("accept without a pending request"));
        };
        if req.kind == PullRequestKind::Metafile {
            self.send_metafile(&req);
            return Ok(());
        }
        check_asf_header(&header)?;
        let (client_id, reset) = match session {
            Session::New { client_id } => (client_id, req.client_id().is_some()),
            Session::Existing { client_id } => (client_id, false),
        };
        self.client_id = Some(client_id);
        let metadata = self.sends_metadata(&req).then(|| play::MetadataSettings {
            broadcast_id: self.config.broadcast_id,
            features: self.config.features.clone(),
        });
        let selection = (req.kind == PullRequestKind::Play && self.config.filter_streams)
            .then(|| req.stream_selection());
        self.play
            .configure(selection, metadata, self.config.end_entry_before_change);
        let mut packets = Vec::new();
        self.play.first_metadata(&mut self.scratch, &mut packets);
        wire::header_packets(&header, &mut self.scratch, &mut packets);
        if req.kind == PullRequestKind::Play && reset && needs_reset_sequence(&req) {
            // MS-WMSP 3.2.5.6: after xResetStrm, NSPlayer < 7.0 with
            // request-context=2 (NSServer with 3) MUST get $E(1), $C(0) and
            // the header again as $H.
            packets.push(Bytes::copy_from_slice(&wire::reason_packet(
                wire::ID_END,
                wire::REASON_ENTRY_DONE,
            )));
            packets.push(Bytes::copy_from_slice(&wire::reason_packet(
                wire::ID_CHANGE,
                0,
            )));
            wire::header_packets(&header, &mut self.scratch, &mut packets);
        }
        let body_len: usize = packets.iter().map(Bytes::len).sum();
        let (content_type, length) = match req.kind {
            PullRequestKind::Describe => (
                CONTENT_TYPE_DESCRIBE,
                self.config.describe_content_length.then_some(body_len),
            ),
            _ => (CONTENT_TYPE_PLAY, None),
        };
        let head = self.response_head(&req, client_id, reset, content_type, length);
        self.queue(Bytes::from(head));
        for p in packets {
            self.queue(p);
        }
        self.state = if req.kind == PullRequestKind::Play {
            State::Streaming
        } else {
            State::Closing
        };
        Ok(())
    }

    /// Answers the pending request with an error status (e.g. 404 for an
    /// unknown publishing point) and closes.
    pub fn reject(&mut self, status: u16) -> Result<(), PullError> {
        if self.state != State::AwaitingDecision {
            return Err(PullError::Misuse("reject without a pending request"));
        }
        let minor = self.request.as_ref().map_or(0, |r| r.http_minor);
        let head = self.simple_head(minor, status, &[]);
        self.queue(Bytes::from(head));
        self.state = State::Closing;
        Ok(())
    }

    /// Answers the pending request with an error status and extra header
    /// lines (e.g. 401 with `WWW-Authenticate`, MS-WMSP 3.2.5.1), then closes.
    /// Names and values must not contain CR or LF.
    pub fn reject_with_headers(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
    ) -> Result<(), PullError> {
        if self.state != State::AwaitingDecision {
            return Err(PullError::Misuse("reject without a pending request"));
        }
        let bad = |t: &str| t.bytes().any(|b| b == b'\r' || b == b'\n');
        if headers
            .iter()
            .any(|(n, v)| bad(n) || bad(v) || n.contains(':'))
        {
            return Err(PullError::Misuse(
                "header name or value contains CR, LF or ':'",
            ));
        }
        let minor = self.request.as_ref().map_or(0, |r| r.http_minor);
        let head = self.simple_head(minor, status, headers);
        self.queue(Bytes::from(head));
        self.state = State::Closing;
        Ok(())
    }

    /// Answers the pending request with `302 Found` to `location` and closes
    /// (MS-WMSP 3.2.5.4: clients >= 7.0).
    pub fn redirect(&mut self, location: &str) -> Result<(), PullError> {
        if self.state != State::AwaitingDecision {
            return Err(PullError::Misuse("redirect without a pending request"));
        }
        if location.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(PullError::Misuse("redirect location contains CR or LF"));
        }
        let minor = self.request.as_ref().map_or(0, |r| r.http_minor);
        let head = self.simple_head(minor, 302, &[("Location", location)]);
        self.queue(Bytes::from(head));
        self.state = State::Closing;
        Ok(())
    }

    /// Queues one ASF data packet as `$D` (padding stripped or not: it is sent
    /// as is, unless [`PullServerConfig::filter_streams`] is on). Fails with [`PullError::QueueFull`] (packet not queued, counters
    /// unchanged) when the queue is over its limit, so the application can
    /// drop packets or the client.
    pub fn send_packet(&mut self, packet: Bytes) -> Result<(), PullError> {
        if self.state != State::Streaming {
            return Err(PullError::Misuse("send_packet while not streaming"));
        }
        if self.queued_bytes >= self.config.max_queued_bytes {
            return Err(PullError::QueueFull {
                queued: self.queued_bytes,
                limit: self.config.max_queued_bytes,
            });
        }
        let Some(packet) = self.play.select(&packet)? else {
            return Ok(());
        };
        let head = self.play.data_head(packet.len())?;
        // Preheaders are carved from one shared block (one allocation per
        // 256 packets instead of one per packet).
        if self.scratch.capacity() < 12 {
            self.scratch.reserve(12 * 256);
        }
        self.scratch.extend_from_slice(&head);
        let pre = self.scratch.split().freeze();
        self.queue(pre);
        self.queue(packet);
        Ok(())
    }

    /// The stream continues with a new ASF header: `$E(1)` (unless
    /// [`PullServerConfig::end_entry_before_change`] is off), `$C(0)`, then
    /// the header as `$H` (MS-WMSP 3.2.4.1, 3.2.4.2; no `$M` from a "Rex"
    /// server).
    pub fn change_header(&mut self, header: Bytes) -> Result<(), PullError> {
        if self.state != State::Streaming {
            return Err(PullError::Misuse("change_header while not streaming"));
        }
        for p in self.play.change_header(&header)? {
            self.queue(p);
        }
        Ok(())
    }

    /// MS-WMSP 3.2.5.4/3.2.5.6: a server calling itself `Cougar` >= 9 MUST
    /// send `$M` to clients >= 9, and MUST NOT send it to clients below 9.
    /// A `Rex` server (the default) never sends it.
    fn sends_metadata(&self, req: &PullRequest) -> bool {
        let server = ClientVersion::parse(&self.config.server);
        server.product.eq_ignore_ascii_case("Cougar") && server.major >= 9 && req.client.major >= 9
    }

    /// The stream ended: `$E(0)` then close (MS-WMSP 3.2.4.1; we close rather
    /// than send 511 more `$E`).
    pub fn end_of_stream(&mut self) -> Result<(), PullError> {
        if self.state != State::Streaming {
            return Err(PullError::Misuse("end_of_stream while not streaming"));
        }
        let end = self.play.end_of_stream();
        self.queue(Bytes::copy_from_slice(&end));
        self.state = State::Closing;
        Ok(())
    }

    // ---- internals ----

    fn queue(&mut self, b: Bytes) {
        if b.is_empty() || self.state == State::Closed {
            return;
        }
        self.queued_bytes += b.len();
        self.out.push_back(b);
    }

    fn refuse(&mut self, status: u16, reason: &'static str) {
        let head = self.simple_head(self.http_minor, status, &[]);
        self.head = Vec::new();
        self.queue(Bytes::from(head));
        self.state = State::Closing;
        self.events
            .push_back(PullServerEvent::Refused { status, reason });
    }

    /// Classifies a complete request head (MS-WMSP 3.2.5.1): the one path
    /// of both [`handle_input`](Self::handle_input) and
    /// [`handle_request_head`](Self::handle_request_head).
    fn classify(&mut self, head: &RequestHead) {
        let method = head.method.as_str();
        let path = head.target.clone();
        let http_minor = head.version;
        self.http_minor = http_minor;
        let mut host = None;
        let mut user_agent = None;
        let mut pragma_lines = Vec::new();
        let mut connection_close = http_minor == 0;
        let mut content_type = None;
        let mut content_length = None;
        for (name, value) in &head.headers.0 {
            let value = value.trim();
            if name.eq_ignore_ascii_case("host") {
                host = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("user-agent") {
                user_agent = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("pragma") {
                pragma_lines.push(value);
            } else if name.eq_ignore_ascii_case("connection") {
                connection_close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value);
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.parse::<usize>().ok());
            }
        }
        let headers = head.headers.0.clone();
        let pragmas = Pragmas::parse_all(pragma_lines);
        for (name, value) in pragmas.glued_headers() {
            if name.eq_ignore_ascii_case("connection") {
                connection_close = value.eq_ignore_ascii_case("close");
            }
        }
        let client = ClientVersion::parse(user_agent.as_deref().unwrap_or(""));
        if method == "POST" && client.is_player() {
            self.start_post(&pragmas, content_type, content_length);
            return;
        }
        if method != "GET" {
            self.refuse(405, "only GET is served by the pull server");
            return;
        }
        // MS-WMSP 3.2.5.1: a User-Agent that is not a protocol client token
        // is a web client; WMS answers 200 with an ASX (<69>).
        let kind = if !client.is_player() {
            PullRequestKind::Metafile
        } else if pragmas.play_stream() {
            // MS-WMSP 2.2.1.4.36: xPlayStrm=1 asks the server to start streaming.
            PullRequestKind::Play
        } else if pragmas.play_next_entry() || pragmas.pipeline_request().is_some() {
            self.refuse(501, "pipelined-mode requests are not supported");
            return;
        } else {
            PullRequestKind::Describe
        };
        let request = PullRequest {
            kind,
            path,
            http_minor,
            host,
            user_agent,
            client,
            pragmas,
            connection_close,
            headers,
        };
        self.request = Some(request.clone());
        self.state = State::AwaitingDecision;
        self.events.push_back(PullServerEvent::Request(request));
    }

    /// A player's POST (MS-WMSP 2.2.2.3.1 KeepAlive, 2.2.2.4 Log, 2.2.2.9
    /// SendEvent): read the body, answer 200 with no body, report it.
    fn start_post(
        &mut self,
        pragmas: &Pragmas,
        content_type: Option<&str>,
        content_length: Option<Option<usize>>,
    ) {
        let media_type = content_type.map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let kind = match media_type.as_deref() {
            Some("application/x-wms-logstats") => ReportKind::Log,
            Some("application/x-wms-sendevent") => ReportKind::SendEvent,
            None | Some("text/plain") if pragmas.has_token("log-line") => ReportKind::Log,
            None if pragmas.has_token("xKeepAliveInPause") => ReportKind::KeepAlive,
            _ => {
                // Pipelined-mode POSTs (xStopStrm, pipeline-request,
                // SelectStream) and GetContentInfo are not implemented.
                self.refuse(501, "this POST request type is not supported");
                return;
            }
        };
        let left = match content_length {
            None => 0,
            Some(Some(n)) if n <= self.config.max_body_size => n,
            Some(Some(_)) => {
                self.refuse(413, "POST body larger than the configured limit");
                return;
            }
            Some(None) => {
                self.refuse(400, "Content-Length is not a number");
                return;
            }
        };
        self.post = Some(PendingPost {
            kind,
            client_id: pragmas.client_id(),
            left,
            body: Vec::new(),
        });
        self.state = State::ReadingBody;
        if left == 0 {
            self.finish_post();
        }
    }

    fn consume_body(&mut self, data: &[u8]) {
        let Some(post) = self.post.as_mut() else {
            return;
        };
        let n = post.left.min(data.len());
        if n == 0 {
            return;
        }
        post.body.extend_from_slice(&data[..n]);
        post.left -= n;
        if post.left == 0 {
            self.finish_post();
        }
    }

    fn finish_post(&mut self) {
        let Some(post) = self.post.take() else {
            return;
        };
        use std::fmt::Write as _;
        let mut s = String::with_capacity(200);
        let _ = write!(s, "HTTP/1.{} 200 OK\r\n", self.http_minor.min(1));
        let _ = write!(s, "Server: {}\r\n", self.config.server);
        s.push_str("Cache-Control: no-cache\r\n");
        s.push_str("Pragma: no-cache\r\n");
        if let Some(id) = post.client_id {
            let _ = write!(s, "Pragma: client-id={id}\r\n");
        }
        s.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
        self.queue(Bytes::from(s.into_bytes()));
        self.state = State::Closing;
        self.events.push_back(PullServerEvent::Report {
            kind: post.kind,
            client_id: post.client_id,
            body: Bytes::from(post.body),
        });
    }

    fn send_metafile(&mut self, req: &PullRequest) {
        let host = req
            .host
            .clone()
            .unwrap_or_else(|| self.config.fallback_host.clone());
        let schemes: Vec<&str> = self.config.asx_schemes.iter().map(String::as_str).collect();
        let body = asx::metafile_for(&schemes, &host, &req.path);
        let len = body.len().to_string();
        let mut head = self.simple_head(
            req.http_minor,
            200,
            &[
                ("Content-Type", asx::ASX_CONTENT_TYPE),
                ("Content-Length", &len),
            ],
        );
        head.extend_from_slice(body.as_bytes());
        self.queue(Bytes::from(head));
        self.state = State::Closing;
    }

    fn response_head(
        &self,
        req: &PullRequest,
        client_id: u32,
        reset: bool,
        content_type: &str,
        content_length: Option<usize>,
    ) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(320);
        // Header lines as in the notes §3.2 (Describe/Play response), exact casing.
        let _ = write!(s, "HTTP/1.{} 200 OK\r\n", req.http_minor.min(1));
        let _ = write!(s, "Server: {}\r\n", self.config.server);
        s.push_str("Cache-Control: no-cache\r\n");
        s.push_str("Pragma: no-cache\r\n");
        let _ = write!(s, "Pragma: client-id={client_id}\r\n");
        if let Some(t) = self.config.advertise_timeout {
            let _ = write!(s, "Pragma: timeout={t}\r\n");
        }
        if reset {
            // MS-WMSP 3.2.5.4/3.2.5.6: unknown client-id -> new state + xResetStrm=1.
            s.push_str("Pragma: xResetStrm=1\r\n");
        }
        if self.play.playlist_gen_id() != 0 {
            // MS-WMSP 3.2.5.2: nonzero Playlist-gen-id goes on a Pragma.
            let _ = write!(
                s,
                "Pragma: playlist-gen-id={}\r\n",
                self.play.playlist_gen_id()
            );
        }
        let _ = write!(s, "Pragma: features=\"{}\"\r\n", self.config.features);
        let _ = write!(s, "Content-Type: {content_type}\r\n");
        if let Some(len) = content_length {
            let _ = write!(s, "Content-Length: {len}\r\n");
        }
        s.push_str("Connection: close\r\n\r\n");
        s.into_bytes()
    }

    fn simple_head(&self, minor: u8, status: u16, extra: &[(&str, &str)]) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(200);
        let _ = write!(
            s,
            "HTTP/1.{} {} {}\r\n",
            minor.min(1),
            status,
            http::reason_phrase(status)
        );
        let _ = write!(s, "Server: {}\r\n", self.config.server);
        s.push_str("Cache-Control: no-cache\r\n");
        let mut has_length = false;
        for (name, value) in extra {
            has_length |= name.eq_ignore_ascii_case("content-length");
            let _ = write!(s, "{name}: {value}\r\n");
        }
        if !has_length {
            s.push_str("Content-Length: 0\r\n");
        }
        s.push_str("Connection: close\r\n\r\n");
        s.into_bytes()
    }
}

/// MS-WMSP 3.2.5.6: the old clients that need `$E(1)`, `$C`, `$H` after an
/// `xResetStrm` Play response.
fn needs_reset_sequence(req: &PullRequest) -> bool {
    let context = req.pragmas.request_context();
    let product = req.client.product.as_str();
    req.client.major < 7
        && ((product.eq_ignore_ascii_case("NSPlayer") && context == Some(2))
            || (product.eq_ignore_ascii_case("NSServer") && context == Some(3)))
}

/// ffmpeg (libavformat/mms.c) needs the header to start with the ASF Header
/// Object GUID and be at least 54 bytes; check that before sending it.
pub(crate) fn check_asf_header(header: &[u8]) -> Result<(), PullError> {
    const HEADER_GUID: [u8; 16] = [
        0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE,
        0x6C,
    ];
    if header.len() < 30 + 24 {
        return Err(PullError::BadHeader {
            offset: header.len(),
            what: "ASF header shorter than 54 bytes",
        });
    }
    if header[..16] != HEADER_GUID {
        return Err(PullError::BadHeader {
            offset: 0,
            what: "does not start with the ASF Header Object GUID",
        });
    }
    Ok(())
}
